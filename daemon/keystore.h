/*
 * keystore.h - the LMDB key store: scopes (tenant, container) with numbered key epochs.
 *
 * Knows nothing of msgpack, sockets or libevent. Layout, schema and caveats: doc/keystore.md.
 *
 * Two kinds of users:
 *  - the admin side (hmacctl, tests): hm_ks_create/rotate/revoke/list, each one LMDB write
 *    transaction that commits whole or aborts whole (never a half-written epoch, even after
 *    kill -9). On MDB_MAP_FULL the map is doubled and the transaction retried.
 *  - the daemon: one struct hm_ks_reader per worker thread, a read transaction reset between
 *    batches and renewed at the start of the next (no allocation). The reader reports LMDB's
 *    snapshot txn id so callers can drop caches when an admin commit happened.
 *
 * Many processes may open the same store at once (LMDB's own locking); within one process open
 * it once. Times are unix seconds passed in by the caller, so tests can choose the clock.
 * Secrets are copied out into caller buffers, which the caller must wipe (OPENSSL_cleanse).
 */
#ifndef HM_KEYSTORE_H
#define HM_KEYSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"

#define HM_KEY_LEN 32
#define HM_KS_SCHEMA_VERSION 1u
#define HM_KS_DEFAULT_GRACE 86400

enum hm_key_state {
	HM_KEY_CURRENT = 1,    /**< the epoch signers should use */
	HM_KEY_SUPERSEDED = 2, /**< replaced by a rotation; valid until its deadline */
	HM_KEY_REVOKED = 3,    /**< ended at once; its secret is wiped from the store */
};

/* "current", "superseded", "revoked" */
const char *hm_key_state_name(enum hm_key_state s);

/* Metadata of one epoch (never the secret). Strings are NUL-terminated copies. */
struct hm_key_info {
	char tenant[129];
	char container[129];
	uint32_t epoch;
	enum hm_key_state state;
	int64_t created;  /* unix seconds */
	int64_t deadline; /* superseded: valid while now < deadline; 0 otherwise */
};

/* What the daemon needs for one epoch. */
struct hm_key_rec {
	enum hm_key_state state;
	int64_t deadline;
	uint8_t secret[HM_KEY_LEN]; /* all zero when revoked */
};

struct hm_keystore;
struct hm_ks_reader;

enum hm_ks_open_flags {
	HM_KS_CREATE = 1 << 0, /* create the directory and an empty store if missing */
	HM_KS_READER = 1 << 1, /* the daemon: map the file large so other processes' growth never
				  forces a remap here (see doc/keystore.md) */
};

/*
 * Opens (and with HM_KS_CREATE creates, mode 0700 dir / 0600 files) the store in directory
 * `dir`, checks or writes the schema version record, and clears stale reader slots left by
 * killed processes (mdb_reader_check).
 * Returns HM_OK, HM_ENOTFOUND (no store and no HM_KS_CREATE), HM_ESCHEMA, HM_ESTORE, HM_ENOMEM,
 * HM_EINVAL (dir NULL or empty, unknown flag).
 * On failure, a one-line reason without secrets is written to err[0..errlen) if err != NULL.
 */
int hm_ks_open(const char *dir, unsigned flags, struct hm_keystore **out, char *err,
	       size_t errlen) HM_MUSTCHECK;
/* Closes the store (NULL is fine). Free every reader of the handle first. */
void hm_ks_close(struct hm_keystore *ks);

/*
 * A one-line description of the last HM_ESTORE / HM_ECRYPTO failure on this handle, naming the
 * call and the LMDB reason, e.g. "mdb_txn_commit: MDB_MAP_FULL: ...". Never holds a secret.
 * Valid until the next call on the handle. "" if none.
 */
const char *hm_ks_errmsg(const struct hm_keystore *ks);

/* True if tenant / container obey the scope rule: 1..128 bytes of [A-Za-z0-9._:/-]. */
bool hm_scope_name_ok(const char *s, size_t len);

/*
 * Creates scope (tenant, container) with epoch 1, state current, a fresh 32-byte random secret
 * (RAND_bytes) copied to `secret`. HM_OK, HM_EEXIST (scope has epochs), HM_EINVAL (names),
 * HM_ECRYPTO, HM_ESTORE.
 */
int hm_ks_create(struct hm_keystore *ks, const char *tenant, const char *container, int64_t now,
		 uint32_t *epoch, uint8_t secret[static HM_KEY_LEN]) HM_MUSTCHECK;

/*
 * Adds epoch max+1 as current with a fresh secret. The epoch that was current becomes superseded
 * with deadline now + grace_seconds (0: invalid at once); older epochs keep their own state.
 * HM_OK, HM_ENOTFOUND (no such scope), HM_EINVAL (names, now < 0, grace < 0 or overflowing),
 * HM_ESTATE (epoch UINT32_MAX exists: epochs exhausted), HM_ECRYPTO, HM_ESTORE.
 */
int hm_ks_rotate(struct hm_keystore *ks, const char *tenant, const char *container, int64_t now,
		 int64_t grace_seconds, uint32_t *epoch,
		 uint8_t secret[static HM_KEY_LEN]) HM_MUSTCHECK;

/*
 * Revokes one epoch at once and wipes its secret in the store.
 * HM_OK, HM_ENOTFOUND (no such scope/epoch), HM_ESTATE (already revoked), HM_EINVAL, HM_ESTORE.
 */
int hm_ks_revoke(struct hm_keystore *ks, const char *tenant, const char *container,
		 uint32_t epoch) HM_MUSTCHECK;

/*
 * Calls fn once per epoch, ordered by tenant, container, epoch; tenant == NULL lists all.
 * Names order by length first, then bytes (the key layout, doc/keystore.md). The walk is one read
 * snapshot; fn must not call back into the store. fn returning non-zero stops the walk and that
 * value is returned. HM_OK, HM_EINVAL (bad tenant name), HM_ESTORE, or fn's value.
 */
int hm_ks_list(struct hm_keystore *ks, const char *tenant,
	       int (*fn)(const struct hm_key_info *info, void *arg), void *arg) HM_MUSTCHECK;

/* ---- the daemon's read path ---- */

/*
 * A reader for one thread at a time (MDB_NOTLS: it may be handed to another thread between
 * batches). HM_OK, HM_ENOMEM, HM_ESTORE; the reason of an HM_ESTORE is in hm_ks_errmsg(ks), so
 * create readers from one thread at a time (e.g. before starting the workers).
 */
int hm_ks_reader_new(struct hm_keystore *ks, struct hm_ks_reader **out) HM_MUSTCHECK;
void hm_ks_reader_free(struct hm_ks_reader *rd);

/*
 * Starts a batch: renews the read transaction and sets *txnid to the snapshot's txn id, which
 * changes whenever an admin transaction committed since. HM_OK or HM_ESTORE (logged by caller).
 */
int hm_ks_reader_begin(struct hm_ks_reader *rd, uint64_t *txnid) HM_MUSTCHECK;
/* Like hm_ks_errmsg(), for the last failure of this reader. */
const char *hm_ks_reader_errmsg(const struct hm_ks_reader *rd);
/* Ends the batch: resets the read transaction (keeps its reader slot). */
void hm_ks_reader_end(struct hm_ks_reader *rd);

/*
 * Looks up one epoch inside a begun batch and copies it to *rec.
 * HM_OK, HM_ENOTFOUND (no such scope or epoch, or epoch > UINT32_MAX), HM_ESTORE.
 */
int hm_ks_lookup(struct hm_ks_reader *rd, const uint8_t *tenant, size_t tenant_len,
		 const uint8_t *container, size_t container_len, uint64_t epoch,
		 struct hm_key_rec *rec) HM_MUSTCHECK;

#endif
