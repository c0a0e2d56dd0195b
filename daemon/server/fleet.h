/*
 * fleet.h - hmacd in fleet mode (--fleet): the seal key, the Redis password and the follower
 * that keeps the store as the fleet's mirror (fleet/follow.h), with its log lines and stats.
 * Built as a stub that refuses --fleet when configure found no hiredis.
 */
#ifndef HM_SERVER_FLEET_H
#define HM_SERVER_FLEET_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/errors.h"
#include "server/options.h"
#include "store/keystore.h"

struct hm_srv_fleet;

/* Whether this hmacd was built with fleet mode. */
bool hm_srv_fleet_built(void);
/* A valid --fleet-prefix (false when built without fleet mode). */
bool hm_srv_fleet_prefix_ok(const char *prefix);

/*
 * Reads the seal key and password files of cfg and brings ks (opened HM_KS_READER |
 * HM_KS_MIRROR) up to date with the fleet, logging what it does. HM_OK with *out, also when
 * Redis is down or lost the fleet but the store was synced before (hmacd serves it as last
 * synced); any other code: hmacd must not start (logged).
 */
int hm_srv_fleet_start(const struct hm_config *cfg, struct hm_keystore *ks,
		       struct hm_srv_fleet **out) HM_MUSTCHECK;
/*
 * The workers' claims configuration (claims.h) for fleet-wide nonces, valid until
 * hm_srv_fleet_stop(): the fleet's URL, password, prefix, seal key, and cfg's --fleet-timeout
 * and --fleet-wait.
 */
const struct hm_claims_cfg *hm_srv_fleet_claims(struct hm_srv_fleet *sf,
						const struct hm_config *cfg);

/* Starts following the change stream on a thread of its own. */
int hm_srv_fleet_run(struct hm_srv_fleet *sf) HM_MUSTCHECK;
/* Stops following and frees (NULL is fine). */
void hm_srv_fleet_stop(struct hm_srv_fleet *sf);

/* The fleet's stats rows, in order: fleet_connected ... fleet_lag_ms. */
#define HM_SRV_FLEET_NSTATS 6
void hm_srv_fleet_stats(const struct hm_srv_fleet *sf, const char *names[HM_SRV_FLEET_NSTATS],
			uint64_t values[HM_SRV_FLEET_NSTATS]);

/*
 * --check-config: the seal key and password files read, the URL parsed. Prints one line per
 * problem; 0 if all is well, 1 if not.
 */
int hm_srv_fleet_check(const struct hm_config *cfg);

#endif
