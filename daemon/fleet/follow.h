/*
 * follow.h - hmacd's side of a fleet: the host's store kept as the fleet's mirror
 * (doc/fleet.md, "Following").
 *
 * At start, hm_follow_start() brings the store up to date (every record the first time, or
 * after the stream was trimmed past the store's position; else the stream from there), then a
 * thread of its own follows the change stream with a blocking XREAD on its own connection and
 * applies each batch of changes to the store in one write transaction, together with the new
 * position (hm_ks_mirror_apply). The workers see a change at their next batch, as they see
 * hmacctl's writes.
 *
 * What can go wrong, and what the follower does:
 *   - a record that does not open, or is not newer than the store's: not applied, counted
 *     (records_refused), logged;
 *   - Redis unreachable: the store stays as last synced; reconnect with backoff (100 ms
 *     doubling to 5 s), state "down", then a check of the fleet and a resync if needed;
 *   - the fleet gone from Redis (no meta, another fleet id, another seal key): never taken for
 *     "every key deleted": the store is kept, state "lost", and the follower waits for the
 *     fleet to be re-seeded (hmacctl ... import-store), then resyncs.
 * Each change of state is logged once.
 */
#ifndef HM_FLEET_FOLLOW_H
#define HM_FLEET_FOLLOW_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "fleet/fleet.h"
#include "fleet/state.h"
#include "proto/errors.h"
#include "store/keystore.h"

/* What the follower says for the log: the level and one line, never a secret. */
enum hm_follow_level { HM_FOLLOW_ERROR, HM_FOLLOW_WARN, HM_FOLLOW_INFO };
typedef void (*hm_follow_log_fn)(void *arg, enum hm_follow_level level, const char *msg);

/* Counters for stats, written by the follower's thread, read by anyone. */
struct hm_follow_stats {
	atomic_uint_fast64_t connected; /* 0/1 */
	atomic_uint_fast64_t state;     /* enum hm_follow_state */
	atomic_uint_fast64_t changes_applied;
	atomic_uint_fast64_t records_refused;
	atomic_uint_fast64_t resyncs;
	atomic_uint_fast64_t lag_ms; /* age of the newest applied change when it was applied */
};

struct hm_follower;

/*
 * Connects, checks the fleet (meta, seal key, the fleet the store mirrors) and brings ks (a
 * HM_KS_READER | HM_KS_MIRROR handle, which must outlive the follower) up to date. The
 * follower keeps cfg's values (the password copied). HM_OK with *out, the thread not started
 * yet. Failures, with err saying why:
 *   HM_ESTATE    another seal key than the fleet's or than the store was synced with, or the
 *                store holds keys of its own: hmacd must not start;
 *   HM_ENOTFOUND no fleet under the prefix (run `hmacctl --fleet ... init`), or another fleet
 *                than the store mirrors;
 *   HM_ECONN     Redis cannot be reached;
 *   for HM_ENOTFOUND and HM_ECONN, *out is set all the same when the store was synced before:
 *   it serves as last synced (state lost or down) and the thread keeps trying;
 *   HM_ESTORE, HM_ENOMEM, HM_EPROTO.
 */
int hm_follow_start(const struct hm_fleet_cfg *cfg, struct hm_keystore *ks,
		    hm_follow_log_fn log, void *log_arg, struct hm_follower **out, char *err,
		    size_t cap) HM_MUSTCHECK;

/* Starts the following thread. HM_OK or HM_ENOMEM. */
int hm_follow_run(struct hm_follower *fo) HM_MUSTCHECK;

/* Stops the thread (within about half a second) and frees the follower. NULL is fine. */
void hm_follow_stop(struct hm_follower *fo);

/* The follower's counters (valid until hm_follow_stop). */
const struct hm_follow_stats *hm_follow_stats(const struct hm_follower *fo);

#endif
