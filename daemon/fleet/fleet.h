/*
 * fleet.h - a fleet in Redis: where its keys are, its meta, its records and its change stream
 * (doc/fleet.md). Used by hmacctl (admin.h: the writes) and by hmacd (follow.h: the mirror).
 *
 * Redis keys, all under the fleet prefix P (default "hmacd:"):
 *   P meta         hash: fleet_id (32 hex), seal_key_id (32 hex), format ("1"), created (unix s)
 *   P seq          the last version given to a record (every write takes the next one)
 *   P r:<name>     one sealed record (record.h); name = 64 hex digits, keyed hash of its identity
 *   P i:<name>     a key id in use (name = keyed hash of "k" | key id): ids are unique fleet-wide
 *   P changes      stream: one entry {r <name>, v <blob>} per record written, trimmed to about
 *                  --fleet-stream-max entries; followers read it from where they left off
 * Redis sees names, versions and sealed blobs: never a tenant, a container, a key id or a
 * secret (the key id index holds keyed hashes too).
 *
 * A struct hm_fleet is one blocking connection; use it from one thread at a time.
 */
#ifndef HM_FLEET_FLEET_H
#define HM_FLEET_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fleet/conn.h"
#include "fleet/record.h"
#include "fleet/seal.h"
#include "proto/errors.h"

#define HM_FLEET_FORMAT 1u
#define HM_FLEET_DEFAULT_STREAM_MAX 10000
#define HM_FLEET_ERRLEN 256

/* Where a fleet is and how to reach it. */
struct hm_fleet_cfg {
	struct hm_fleet_url url;
	const char *password;      /* NULL: no AUTH */
	const char *prefix;        /* HM_FLEET_DEFAULT_PREFIX when NULL */
	int timeout_ms;            /* connect and every command */
	const struct hm_seal *seal;
	size_t stream_max;         /* 0: HM_FLEET_DEFAULT_STREAM_MAX */
};

struct hm_fleet_meta {
	char fleet_id[HM_SEAL_ID_HEX];
	char seal_key_id[HM_SEAL_ID_HEX];
	unsigned format;
	int64_t created;
};

struct hm_fleet {
	redisContext *c; /* NULL while disconnected */
	struct hm_fleet_url url;
	char password[HM_FLEET_PASSWORD_MAX + 1]; /* "" when none; wiped at close */
	char prefix[HM_FLEET_PREFIX_MAX + 1];
	int timeout_ms;
	const struct hm_seal *seal;
	size_t stream_max;
	/* the fleet's id from its meta, set by hm_fleet_meta_get(): records are bound to it */
	char fleet_id[HM_SEAL_ID_HEX];
	char err[HM_FLEET_ERRLEN];
};

/* ---- the connection ---- */

/*
 * Sets f up from cfg (copies the password) and connects. HM_OK; HM_EINVAL (prefix); HM_ECONN
 * (f is set up all the same: hm_fleet_reconnect() may be tried later); HM_ENOMEM. The reason
 * is in f->err.
 */
int hm_fleet_open(struct hm_fleet *f, const struct hm_fleet_cfg *cfg) HM_MUSTCHECK;
/* Drops the connection, if any, and connects again. HM_OK or HM_ECONN. */
int hm_fleet_reconnect(struct hm_fleet *f) HM_MUSTCHECK;
/*
 * sentinel:// only (else HM_OK at once): is the server still the master? A failover may have
 * made it a replica under a live connection. HM_OK; HM_ECONN with the connection dropped
 * (not the master any more, or the connection failed: hm_fleet_reconnect() asks the sentinels
 * again), the reason in f->err.
 */
int hm_fleet_check_master(struct hm_fleet *f) HM_MUSTCHECK;
/* Drops the connection (hm_fleet_reconnect() makes a new one). */
void hm_fleet_disconnect(struct hm_fleet *f);
/* Drops the connection; wipes the password. */
void hm_fleet_close(struct hm_fleet *f);

/* The Redis key P<tail> (tail NUL-terminated, or hex of a name after "r:" or "i:"). */
size_t hm_fleet_key(const struct hm_fleet *f, const char *tail, char *out, size_t cap);

/*
 * One command (binary-safe arguments). NULL when the connection failed: f->err says why and
 * the connection is dropped. Error replies are returned: hm_fleet_reply_ok() judges them.
 */
redisReply *hm_fleet_cmdv(struct hm_fleet *f, int argc, const char **argv, const size_t *lens);
/* Formatted command (hiredis' %s / %b), same rules. */
redisReply *hm_fleet_cmdf(struct hm_fleet *f, const char *fmt, ...);

/* ---- meta ---- */

/*
 * Reads P meta. HM_OK with *m; HM_ENOTFOUND (no fleet under this prefix); HM_EPROTO (a meta
 * this build cannot read: another format, missing fields); HM_ECONN.
 */
int hm_fleet_meta_get(struct hm_fleet *f, struct hm_fleet_meta *m) HM_MUSTCHECK;

/*
 * Creates the fleet's meta with fleet_id (NULL: a fresh random one) and this seal key's id,
 * unless a meta exists. HM_OK (created, *m set); HM_EEXIST (*m is the existing meta);
 * HM_ECONN; HM_ECRYPTO.
 */
int hm_fleet_meta_create(struct hm_fleet *f, const char *fleet_id,
			 struct hm_fleet_meta *m) HM_MUSTCHECK;

/*
 * The fleet's meta, checked for use with this seal key: HM_OK; HM_ENOTFOUND (run `hmacctl
 * --fleet ... init`); HM_ESTATE (another seal key: f->err says which ids); HM_EPROTO; HM_ECONN.
 */
int hm_fleet_meta_check(struct hm_fleet *f, struct hm_fleet_meta *m) HM_MUSTCHECK;

/* ---- records ---- */

/*
 * Calls fn with every record of the fleet that opens, in batches of up to `batch` records (the
 * records live only during the call). Records that do not open are counted in *refused (may be
 * NULL). One SCAN of P r:*, MGET per batch: records written meanwhile may or may not be seen.
 * HM_OK; HM_ECONN; HM_ENOMEM; HM_ECRYPTO; or what fn returned (non-zero stops the scan).
 */
int hm_fleet_scan(struct hm_fleet *f, size_t batch,
		  int (*fn)(struct hm_ks_mirror_rec *recs, size_t n, void *arg), void *arg,
		  size_t *refused) HM_MUSTCHECK;

#endif
