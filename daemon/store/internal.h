/*
 * internal.h - what the files of the key store share, and nothing outside daemon/store/ may
 * include (tests/layers.sh): the handle, the arguments of a write transaction, and the ks_
 * functions one file of the store calls in another. The contract for everyone else is
 * keystore.h; the bytes on disk are record.h's.
 */
#ifndef HM_KS_INTERNAL_H
#define HM_KS_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "proto/errors.h"
#include "proto/policy.h"
#include "store/keystore.h"
#include "store/record.h"

#define KS_ERRLEN 256

struct hm_keystore {
	MDB_env *env;
	MDB_dbi meta, keys, keyids, policies;
	bool reader_env; /* opened with the large map; MDB_RDONLY unless mirror_env */
	bool mirror_env; /* a fleet host's daemon: writes hm_ks_mirror_apply() and nothing else */
	bool old_schema; /* ks_attach() found a schema 1 store (HM_ESCHEMA): upgradable */
	size_t map_size; /* the map size asked for at open */
	bool map_full;   /* the last failed LMDB call of a write said MDB_MAP_FULL */
	/*
	 * Read batches open on a writable handle. Changing the map size with a transaction open
	 * in this process is undefined in LMDB, so ks_grow() refuses while this is non-zero.
	 * Only counted for writable handles, so hmacd's workers never touch it.
	 */
	atomic_uint open_batches;
	char err[KS_ERRLEN];
	struct hm_ks_actor actor; /* recorded by every change (hm_ks_actor_self at open) */
	/* the audit record of the transaction running, kept when it commits (ks_write) */
	struct hm_audit_rec audit_pending, audit_last;
	bool audit_pending_set, audit_last_set;
};

/* Arguments and results of one write transaction body. */
struct ks_op {
	uint8_t prefix[KS_KEY_MAX]; /* scope key prefix, room for the epoch after it */
	size_t plen;
	int64_t now;
	int64_t deadline; /* rotate/import: deadline given to the epoch it supersedes */
	uint32_t epoch;   /* revoke: in; create/rotate/import: out */
	uint8_t *secret;  /* create/rotate: the caller's output buffer (HM_KEY_LEN) */
	const uint8_t *import; /* import: the caller's secret, import_len bytes */
	size_t import_len;
	const char *want_keyid; /* requested key id, NULL: generate */
	size_t want_keyid_len;
	char keyid[HM_KEYID_MAX + 1]; /* out: the new epoch's key id */
	const uint8_t *pval; /* policy set: encoded policy */
	size_t pval_len;
	const char *tenant, *container; /* the scope's names, for the audit record */
	void *arg;   /* bodies that need more (the mirror) */
	bool mirror; /* hm_ks_mirror_apply(): the one write a mirror environment does */
};

typedef int (*ks_body_fn)(struct hm_keystore *ks, MDB_txn *txn, struct ks_op *op);

/* ---- errors ---- */

/* vsnprintf into buf[0..len) (nothing if buf is NULL or len 0); truncation is acceptable. */
void ks_set_msg(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Records an LMDB failure on the handle and returns HM_ESTORE. */
int ks_mdb_fail(struct hm_keystore *ks, const char *call, int mrc) HM_MUSTCHECK;

/* Records "corrupt key store: what (size bytes)" on the handle and returns HM_ESTORE. */
int ks_corrupt(struct hm_keystore *ks, const char *what, size_t size) HM_MUSTCHECK;

/* ---- the environment ---- */

/*
 * Checks the schema record: HM_OK for this build's version. A schema 1 store is HM_ESCHEMA with
 * *old set (the open may upgrade it); anything else is HM_ESCHEMA.
 */
int ks_schema_check(struct hm_keystore *ks, const MDB_val *v, bool *old) HM_MUSTCHECK;

/* Opens named database `name` (which schema 2 must have) without creating it. */
int ks_dbi_need(struct hm_keystore *ks, MDB_txn *txn, const char *name,
		MDB_dbi *dbi) HM_MUSTCHECK;

/*
 * Opens the single-file store `file` (a backup) read-only without a lock file and attaches to
 * it (schema and databases checked). The handle cannot write. HM_OK, HM_ENOTFOUND, HM_ESCHEMA,
 * HM_ESTORE, HM_ENOMEM; the reason in err.
 */
int ks_open_file(const char *file, struct hm_keystore **out, char *err,
		 size_t errlen) HM_MUSTCHECK;

/* ---- transactions ---- */

/*
 * Runs body in one write transaction and commits it, or aborts it if anything failed: an
 * LMDB transaction that hit an error is never committed. MDB_MAP_FULL (from a put or from the
 * commit) grows the map and reruns the whole transaction from the start, at most
 * KS_WRITE_RETRIES times.
 */
int ks_write(struct hm_keystore *ks, ks_body_fn body, struct ks_op *op) HM_MUSTCHECK;

/* Begins a read transaction on an admin or reader handle. */
int ks_read_begin(struct hm_keystore *ks, MDB_txn **txn) HM_MUSTCHECK;

/* ---- writes ---- */

/*
 * Gives the epoch whose "keys" key is skey[0..sklen) a key id in the "keyids" index: the
 * requested op->want_keyid (HM_EEXIST if any epoch has it), or a generated one. The id is left
 * in op->keyid. HM_OK, HM_EEXIST, HM_ECRYPTO, HM_ESTORE.
 */
int ks_put_keyid(struct hm_keystore *ks, MDB_txn *txn, struct ks_op *op, const uint8_t *skey,
		 size_t sklen) HM_MUSTCHECK;

/*
 * Schema 1 -> 2, in the one write transaction ks_write() gives it: creates "keyids" and
 * "policies", rewrites every format 1 record as format 2 with a generated key id, and writes
 * schema 2 last. Any error aborts all of it, so a store is never half upgraded. If another
 * process upgraded the store since ks_attach() looked, there is nothing to do.
 */
int ks_body_upgrade(struct hm_keystore *ks, MDB_txn *txn, struct ks_op *unused) HM_MUSTCHECK;

/* Called by ks_walk() on each record; cur is positioned on it, for mdb_cursor_put(MDB_CURRENT). */
typedef int (*ks_row_fn)(struct hm_keystore *ks, MDB_cursor *cur, MDB_val *k, MDB_val *v,
			 void *arg);

/*
 * Calls row on each record of dbi in txn whose key starts with prefix[0..plen) (every record if
 * plen is 0), in key order. A non-zero return from row ends the walk and is returned. HM_OK,
 * HM_ESTORE, or row's value.
 */
int ks_walk(struct hm_keystore *ks, MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix,
	    size_t plen, ks_row_fn row, void *arg) HM_MUSTCHECK;

/*
 * HM_ESTATE (with the reason on the handle) if the store mirrors a fleet: its keys and
 * policies change only through hm_ks_mirror_apply(). HM_OK otherwise; HM_ESTORE.
 */
int ks_refuse_mirror(struct hm_keystore *ks, MDB_txn *txn) HM_MUSTCHECK;

/* ---- the audit trail (auditlog.c) ---- */

/*
 * Opens the "audit" database in txn; create only in a write transaction. HM_OK, HM_ENOTFOUND
 * (none yet and not create), HM_ESTORE.
 */
int ks_audit_dbi(struct hm_keystore *ks, MDB_txn *txn, bool create, MDB_dbi *dbi) HM_MUSTCHECK;

/* Zeroes *r and sets its operation and scope names (NULL: ""). */
void ks_audit_scope(struct hm_audit_rec *r, enum hm_audit_op op, const char *tenant,
		    const char *container);

/* src into *dst, its strings cleaned as hm_ks_actor_self() cleans them (a fleet record's). */
void ks_audit_actor(struct hm_ks_actor *dst, const struct hm_ks_actor *src);

/*
 * Appends r (operation, scope, epoch, key id, detail set by the caller) to the audit trail in
 * the write transaction txn: sets its sequence number, time and actor; for fleet-epoch and
 * fleet-policy the actor (or operator_unknown) and fleet fields are the caller's, and the
 * applying host is set to the handle's host. Called by the body of every change, so the record
 * commits or aborts with it. HM_OK, HM_EINVAL, HM_ESTORE.
 */
int ks_audit_append(struct hm_keystore *ks, MDB_txn *txn, struct hm_audit_rec *r) HM_MUSTCHECK;

/* Writes r under its r->seq as it is (restore copies a backup's records). */
int ks_audit_put(struct hm_keystore *ks, MDB_txn *txn, MDB_dbi dbi,
		 struct hm_audit_rec *r) HM_MUSTCHECK;

/* The pid of a process other than this one with a reader slot in the store (hmacd), or 0. */
pid_t ks_other_reader(struct hm_keystore *ks);

/* ---- reads ---- */

/*
 * The scope's policy, else the tenant's; container_len 0 asks for the tenant's only. *found
 * says which; HM_ENOTFOUND if neither is stored (*out untouched). HM_ESTORE with err set.
 */
int ks_policy_find(MDB_txn *txn, MDB_dbi dbi, const uint8_t *tenant, size_t tenant_len,
		   const uint8_t *container, size_t container_len, struct hm_policy *out,
		   enum hm_policy_source *found, char *err, size_t errlen) HM_MUSTCHECK;

#endif
