/*
 * keystore.h - the LMDB key store: scopes (tenant, container) with numbered key epochs, a key id
 * per epoch, and RFC 9421 coverage policies per scope or tenant.
 *
 * Knows nothing of msgpack, sockets or libevent. Layout, schema and caveats: doc/keystore.md.
 *
 * Two kinds of users:
 *  - the admin side (hmacctl, tests): hm_ks_create/rotate/import/revoke/list and
 *    hm_ks_policy_set/unset/get/list, each change one LMDB write transaction that commits whole
 *    or aborts whole (never a half-written epoch, even after kill -9). On MDB_MAP_FULL the map
 *    is doubled and the transaction retried.
 *  - the daemon: one struct hm_ks_reader per worker thread, a read transaction reset between
 *    batches and renewed at the start of the next (no allocation). The reader reports LMDB's
 *    snapshot txn id so callers can drop caches when an admin commit happened.
 *
 * Many processes may open the same store at once (LMDB's own locking); within one process open
 * it once. Times are unix seconds passed in by the caller, so tests can choose the clock.
 * Secrets are copied out into caller buffers, which the caller must wipe (OPENSSL_cleanse).
 *
 * Schema 2 (this build): secrets of 16..64 bytes, and a key id per epoch that is unique in the
 * whole store forever. A schema 1 store (fixed 32-byte secrets, no key ids) is upgraded in one
 * write transaction by the first open that may write (see hm_ks_open).
 */
#ifndef HM_KEYSTORE_H
#define HM_KEYSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/errors.h"
#include "proto/lex.h" /* HM_SCOPE_MAX, HM_KEYID_MAX, hm_lex_scope(), hm_lex_keyid() */
#include "proto/policy.h"

#define HM_KEY_LEN 32 /* generated secrets */
#define HM_KEY_MIN 16 /* imported secrets: HM_KEY_MIN..HM_KEY_MAX bytes */
#define HM_KEY_MAX 64
#define HM_KEYID_GEN_LEN 35 /* "hk_" + 32 lower-case hex */
#define HM_KS_SCHEMA_VERSION 2u
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
	char tenant[HM_SCOPE_MAX + 1];
	char container[HM_SCOPE_MAX + 1];
	uint32_t epoch;
	char keyid[HM_KEYID_MAX + 1];
	enum hm_key_state state;
	int64_t created;  /* unix seconds */
	int64_t deadline; /* superseded: valid while now < deadline; 0 otherwise */
};

/* What the daemon needs for one epoch. */
struct hm_key_rec {
	enum hm_key_state state;
	int64_t deadline;
	size_t secret_len;           /* HM_KEY_MIN..HM_KEY_MAX; 0 when revoked */
	uint8_t secret[HM_KEY_MAX];  /* secret_len bytes, then zeros; all zero when revoked */
};

/* Where a key id points: its scope and epoch (lengths, not NULs, delimit the names). */
struct hm_key_ref {
	uint8_t tenant[HM_SCOPE_MAX];
	size_t tenant_len;
	uint8_t container[HM_SCOPE_MAX];
	size_t container_len;
	uint32_t epoch;
};

/* What hm_ks_create / rotate / import added. */
struct hm_ks_added {
	uint32_t epoch;
	char keyid[HM_KEYID_MAX + 1]; /* the requested one, or the generated "hk_..." */
};

/* A stored policy, as hm_ks_policy_list() reports it. */
struct hm_policy_info {
	char tenant[HM_SCOPE_MAX + 1];
	char container[HM_SCOPE_MAX + 1]; /* "" for a tenant's policy */
	enum hm_policy_source source;     /* HM_POLICY_SCOPE or HM_POLICY_TENANT */
	struct hm_policy policy;
};

struct hm_keystore;
struct hm_ks_reader;

enum hm_ks_open_flags {
	HM_KS_CREATE = 1 << 0, /* create the directory and an empty store if missing */
	HM_KS_READER = 1 << 1, /* the daemon: map the file large so other processes' growth never
				  forces a remap here (see doc/keystore.md) */
	HM_KS_MIRROR = 1 << 2, /* with HM_KS_READER: the daemon of a fleet host, whose environment
				  may write, for hm_ks_mirror_apply() only */
};

/*
 * Opens (and with HM_KS_CREATE creates, mode 0700 dir / 0600 files) the store in directory
 * `dir`, checks or writes the schema version record, and clears stale reader slots left by
 * killed processes (mdb_reader_check).
 * A schema 1 store is upgraded to schema 2 in one write transaction (every epoch gets a
 * generated key id) when the open may write: without HM_KS_READER, or with
 * HM_KS_CREATE | HM_KS_READER (through a short-lived writable environment, as for creation).
 * HM_KS_READER alone refuses it with HM_ESCHEMA and a message saying to run hmacctl once.
 * Returns HM_OK, HM_ENOTFOUND (no store and no HM_KS_CREATE), HM_ESCHEMA, HM_ESTORE, HM_ENOMEM,
 * HM_ECRYPTO (upgrade: no random bytes), HM_EINVAL (dir NULL or empty, unknown flag).
 * On failure, a one-line reason without secrets is written to err[0..errlen) if err != NULL.
 */
int hm_ks_open(const char *dir, unsigned flags, struct hm_keystore **out, char *err,
	       size_t errlen) HM_MUSTCHECK;
/* Closes the store (NULL is fine). Free every reader of the handle first. */
void hm_ks_close(struct hm_keystore *ks);

/* How full the store is, from LMDB's meta page (metrics). */
struct hm_ks_usage {
	uint64_t used_bytes; /* pages in use (the high-water mark of the file, free pages included) */
	uint64_t map_bytes;  /* this handle's map: the store cannot grow past it while it is open */
};
/*
 * Fills *out; any thread, any time the handle is open (it writes nothing to the handle, not
 * even its error message). HM_OK or HM_ESTORE (LMDB refused: nothing to log but the code).
 */
int hm_ks_usage(struct hm_keystore *ks, struct hm_ks_usage *out) HM_MUSTCHECK;

/*
 * A one-line description of the last HM_ESTORE / HM_ECRYPTO failure on this handle, naming the
 * call and the LMDB reason, e.g. "mdb_txn_commit: MDB_MAP_FULL: ...". Never holds a secret.
 * Valid until the next call on the handle. "" if none.
 */
const char *hm_ks_errmsg(const struct hm_keystore *ks);

/*
 * The new-epoch functions below share these rules:
 *  - keyid: the key id to give the new epoch, NULL for a generated one ("hk_" + 32 lower-case
 *    hex of 16 random bytes). A key id is unique in the whole store, forever (a revoked epoch
 *    keeps its id): a requested id that any epoch of any scope has is HM_EEXIST.
 *  - out (may be NULL) gets the new epoch and its key id; zeroed on failure. It is written
 *    last, so keyid may point into it.
 *  - errors abort the one write transaction: nothing is stored.
 */

/*
 * Creates scope (tenant, container) with epoch 1, state current, a fresh 32-byte random secret
 * (RAND_bytes) copied to `secret` (wiped on failure). HM_OK, HM_EEXIST (scope has epochs, or
 * keyid taken), HM_EINVAL (names, keyid, now < 0), HM_ECRYPTO, HM_ESTORE.
 */
int hm_ks_create(struct hm_keystore *ks, const char *tenant, const char *container, int64_t now,
		 const char *keyid, uint8_t secret[static HM_KEY_LEN],
		 struct hm_ks_added *out) HM_MUSTCHECK;

/*
 * Adds epoch max+1 as current with a fresh 32-byte secret. The epoch that was current becomes
 * superseded with deadline now + grace_seconds (0: invalid at once); older epochs keep their own
 * state. HM_OK, HM_ENOTFOUND (no such scope), HM_EEXIST (keyid taken), HM_EINVAL (names, keyid,
 * now < 0, grace < 0 or overflowing), HM_ESTATE (epoch UINT32_MAX exists: epochs exhausted),
 * HM_ECRYPTO, HM_ESTORE.
 */
int hm_ks_rotate(struct hm_keystore *ks, const char *tenant, const char *container, int64_t now,
		 int64_t grace_seconds, const char *keyid, uint8_t secret[static HM_KEY_LEN],
		 struct hm_ks_added *out) HM_MUSTCHECK;

/*
 * Adds an epoch with a secret the caller already has (migrating keys signers hold): epoch 1 of
 * a new scope, or, if the scope exists, epoch max+1 exactly as hm_ks_rotate (the current epoch
 * superseded with deadline now + grace_seconds). The secret is copied into the store only;
 * the caller keeps and wipes its buffer. HM_OK, HM_EINVAL (names, keyid, secret_len outside
 * HM_KEY_MIN..HM_KEY_MAX, times), HM_EEXIST (keyid taken), HM_ESTATE (epochs exhausted),
 * HM_ECRYPTO (generating the key id), HM_ESTORE.
 */
int hm_ks_import(struct hm_keystore *ks, const char *tenant, const char *container, int64_t now,
		 int64_t grace_seconds, const char *keyid, const uint8_t *secret,
		 size_t secret_len, struct hm_ks_added *out) HM_MUSTCHECK;

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

/* ---- the audit trail (doc/keystore.md, "Audit trail") ----
 *
 * Every change of keys and policies appends one record to the store's "audit" database in the
 * same write transaction as the change: a change committed has its record, a change aborted has
 * none. Records are numbered 1, 2, ... in commit order (never by time: clocks jump), name the
 * operator and the host, and never hold a secret.
 */

#define HM_AUDIT_NAME_MAX 64    /* a user name or SUDO_USER, truncated to this */
#define HM_AUDIT_HOST_MAX 255   /* gethostname() */
#define HM_AUDIT_DETAIL_MAX 128 /* e.g. "grace=86400", a fleet position */

enum hm_audit_op {
	HM_AUDIT_CREATE = 1,         /**< key create: epoch 1 of a new scope */
	HM_AUDIT_ROTATE = 2,         /**< key rotate: a new current epoch */
	HM_AUDIT_IMPORT = 3,         /**< key import: an epoch with a secret signers hold */
	HM_AUDIT_REVOKE = 4,         /**< key revoke */
	HM_AUDIT_POLICY_SET = 5,     /**< policy set (container "": the tenant's) */
	HM_AUDIT_POLICY_UNSET = 6,   /**< policy unset */
	HM_AUDIT_PRUNE = 7,          /**< audit prune: records before a time removed */
	HM_AUDIT_RESTORE = 8,        /**< restore: keys and policies replaced from a backup */
	HM_AUDIT_FLEET_EPOCH = 9,    /**< a fleet host applied an epoch record of the fleet */
	HM_AUDIT_FLEET_POLICY = 10,  /**< a fleet host applied a policy record (set or unset) */
	HM_AUDIT_OP__MAX
};

/* "create", "rotate", "import", "revoke", "policy-set", "policy-unset", "audit-prune",
 * "restore", "fleet-epoch", "fleet-policy"; "unknown" for anything else. */
const char *hm_audit_op_name(enum hm_audit_op op);

/* Who makes a change, as recorded (strings are printable ASCII, "" when unknown). */
struct hm_ks_actor {
	uint32_t uid;                              /* getuid(): the real uid */
	char user[HM_AUDIT_NAME_MAX + 1];          /* its name (getpwuid_r), "" if none */
	char sudo_user[HM_AUDIT_NAME_MAX + 1];     /* $SUDO_USER: a claim of the environment */
	bool has_sudo_uid;
	uint32_t sudo_uid;                         /* $SUDO_UID, if a number */
	char host[HM_AUDIT_HOST_MAX + 1];          /* gethostname() */
};

/* One audit record. */
struct hm_audit_rec {
	uint64_t seq;     /* 1, 2, ... in commit order */
	int64_t time_ms;  /* unix milliseconds, the writer's clock at the change */
	enum hm_audit_op op;
	char tenant[HM_SCOPE_MAX + 1];    /* "" for a store-wide operation */
	char container[HM_SCOPE_MAX + 1]; /* "" for a tenant's policy or none */
	uint32_t epoch;                   /* 0 when the operation has none */
	char keyid[HM_KEYID_MAX + 1];     /* "" when the operation has none */
	struct hm_ks_actor actor;
	char detail[HM_AUDIT_DETAIL_MAX + 1];
	/*
	 * A fleet change applied (fleet-epoch, fleet-policy), written by this build: actor is the
	 * operator who ran hmacctl on the admin host, as the fleet record carries it, and these say
	 * more. All zero/empty otherwise (and in records written before them: audit format 1).
	 */
	bool operator_unknown;       /* the fleet record did not say who made it: actor empty */
	enum hm_audit_op fleet_op;   /* what the operator ran (create ... policy-unset); 0 unknown */
	int64_t fleet_time_ms;       /* the admin host's clock at the change; 0 unknown */
	char applied_host[HM_AUDIT_HOST_MAX + 1]; /* the host whose hmacd applied it */
};

/* ---- the fleet mirror (fleet mode, daemon/fleet/) ----
 *
 * A host of a fleet keeps its store as the fleet's mirror: hmacd applies the fleet's changes
 * with hm_ks_mirror_apply(), and the store remembers which fleet it mirrors, with which seal
 * key, up to which change, and the version of every record it holds. hmacctl's local writes
 * (create, rotate, import, revoke, policy set/unset) refuse a mirror with HM_ESTATE: one
 * source of truth.
 */

#define HM_KS_FLEET_ID_MAX 32  /* hex digits of a fleet id or a seal key id */
#define HM_KS_FLEET_POS_MAX 40 /* a Redis stream entry id: "<ms>-<seq>" */
#define HM_KS_MIRROR_NAME_LEN 32

struct hm_ks_mirror {
	char fleet_id[HM_KS_FLEET_ID_MAX + 1];    /* "": the store mirrors no fleet */
	char seal_key_id[HM_KS_FLEET_ID_MAX + 1];
	char pos[HM_KS_FLEET_POS_MAX + 1];        /* the last change applied; "": none yet */
	uint64_t max_version; /* hm_ks_mirror_get(): the newest version of any record held */
};

enum hm_ks_mirror_kind { HM_KS_MIRROR_EPOCH = 1, HM_KS_MIRROR_POLICY = 2 };

/*
 * Who made a fleet change and how, as its fleet record carries it (record format 2). A record
 * written by an older hmacctl (format 1) does not say: known false, the rest zero.
 */
struct hm_ks_origin {
	bool known;
	enum hm_audit_op op;      /* create, rotate, import, revoke, policy-set or policy-unset */
	int64_t time_ms;          /* the admin host's clock, unix milliseconds (>= 0) */
	struct hm_ks_actor actor; /* the operator (uid, user, sudo user and uid) and the admin host */
};

/* One record of the fleet, as hm_ks_mirror_apply() writes it. */
struct hm_ks_mirror_rec {
	enum hm_ks_mirror_kind kind;
	uint8_t name[HM_KS_MIRROR_NAME_LEN]; /* the record's name in the fleet */
	uint64_t version;                    /* only ever grows for one name */
	char tenant[HM_SCOPE_MAX + 1];
	char container[HM_SCOPE_MAX + 1];    /* "": a tenant's policy */
	/* HM_KS_MIRROR_EPOCH */
	uint32_t epoch;
	enum hm_key_state state;
	int64_t created, deadline;
	char keyid[HM_KEYID_MAX + 1];
	uint8_t secret[HM_KEY_MAX];
	size_t secret_len;                   /* 0: revoked */
	/* HM_KS_MIRROR_POLICY */
	bool present;                        /* false: the policy was unset */
	struct hm_policy policy;
	/* who made the change, for the audit record of the hosts that apply it */
	struct hm_ks_origin origin;
};

/* What one hm_ks_mirror_apply() did with its records. */
struct hm_ks_mirror_result {
	size_t applied; /* newer than what the store held: written */
	size_t same;    /* the version the store holds already (a resync): nothing to do */
	size_t older;   /* older than what the store holds: refused (a rollback attempt) */
	size_t invalid; /* not a record this store can hold (a name, a key id taken): refused */
};

/* The fleet the store mirrors (fleet_id "" when none), max_version set. HM_OK or HM_ESTORE. */
int hm_ks_mirror_get(struct hm_keystore *ks, struct hm_ks_mirror *m) HM_MUSTCHECK;

/*
 * In one write transaction: each record whose version is newer than the one the store holds
 * under its name is written (an epoch record with its key id; a policy set or removed) and its
 * version kept; then m (fleet id, seal key id, position) becomes the store's mirror state.
 * Nothing is written if anything fails. A store that mirrors no fleet yet but holds keys or
 * policies of its own is refused (HM_ESTATE: they would mix with the fleet's; move them with
 * `hmacctl --fleet ... import-store` and start on an empty store). HM_OK with *res; HM_EINVAL;
 * HM_ESTATE; HM_ESTORE.
 */
int hm_ks_mirror_apply(struct hm_keystore *ks, const struct hm_ks_mirror *m,
		       const struct hm_ks_mirror_rec *recs, size_t n,
		       struct hm_ks_mirror_result *res) HM_MUSTCHECK;

/*
 * Every epoch of the store with its secret, for `hmacctl import-store`: fn(rec, arg) once per
 * epoch (kind, names, epoch, state, times, key id, secret; name and version zero), then once
 * per policy. fn returns 0 to go on. The records are wiped after each call. HM_OK, HM_ESTORE,
 * or what fn returned.
 */
int hm_ks_export(struct hm_keystore *ks, int (*fn)(const struct hm_ks_mirror_rec *rec, void *arg),
		 void *arg) HM_MUSTCHECK;

/* ---- compaction ---- */

struct hm_ks_compacted {
	uint64_t bytes_before, bytes_after; /* size of data.mdb */
};

/*
 * Rewrites the store in DIR without its free pages (mdb_env_copy2 with MDB_CP_COMPACT), so that
 * secrets of revoked epochs, which LMDB leaves in freed pages, are gone from the file: the copy
 * is made in DIR/.compact, checked (it opens and holds as many keys, key ids and policies),
 * flushed, renamed over data.mdb, and the replaced file is overwritten with zeros and removed.
 * An interrupted run leaves a valid store; the next run wipes what it left. Refused while
 * another process (hmacd) has the store open: it would keep reading the old file.
 * Caveat: on copy-on-write filesystems and on SSDs, overwritten blocks may survive on the
 * medium; full-disk encryption covers that.
 * HM_OK; HM_ENOTFOUND (no store); HM_ESTATE (in use); HM_ESTORE; HM_EIO; HM_EINVAL.
 */
int hm_ks_compact(const char *dir, struct hm_ks_compacted *out, char *err,
		  size_t errlen) HM_MUSTCHECK;

/* ---- the audit trail: writing and reading it (its records are declared above) ---- */

/*
 * This process as an operator: real uid and its name, $SUDO_USER and $SUDO_UID when set, the
 * host name. Bytes outside printable ASCII become '?', long values are truncated. hm_ks_open()
 * gives every handle this actor.
 */
void hm_ks_actor_self(struct hm_ks_actor *a);

/* Replaces the actor recorded by the handle's next changes (e.g. in tests). */
void hm_ks_set_actor(struct hm_keystore *ks, const struct hm_ks_actor *a);

/*
 * Calls fn once per audit record, oldest first, whose tenant is `tenant` (NULL: all) and whose
 * time is >= since_ms (INT64_MIN: all). One read snapshot; fn must not call back into the store;
 * a non-zero return from fn ends the walk and is returned. A store older than the audit trail
 * has no records. HM_OK, HM_EINVAL (bad tenant name), HM_ESTORE (a record that does not decode),
 * or fn's value.
 */
int hm_ks_audit_list(struct hm_keystore *ks, const char *tenant, int64_t since_ms,
		     int (*fn)(const struct hm_audit_rec *rec, void *arg), void *arg) HM_MUSTCHECK;

/*
 * Removes every audit record older than before_ms and appends an HM_AUDIT_PRUNE record saying
 * so, in one write transaction; *removed (may be NULL) gets the count. The numbering goes on
 * from where it was. HM_OK, HM_EINVAL (before_ms < 0), HM_ESTORE.
 */
int hm_ks_audit_prune(struct hm_keystore *ks, int64_t before_ms, uint64_t *removed) HM_MUSTCHECK;

/*
 * The last audit record written by a transaction of this handle that committed (for syslog,
 * after the commit). HM_OK, or HM_ENOTFOUND when the handle has committed no change.
 */
int hm_ks_audit_last(const struct hm_keystore *ks, struct hm_audit_rec *out) HM_MUSTCHECK;

/* ---- backup and restore (doc/keystore.md, "Backup and restore") ---- */

/* What a backup file holds (hm_ks_backup_check). */
struct hm_ks_backup_info {
	uint64_t bytes;                            /* size of the file */
	size_t keys, keyids, policies, audit;      /* records */
	bool mirror;                               /* a fleet host's store */
};

/*
 * A consistent copy of the store in dir, taken while others (hmacd, hmacctl) use it: one LMDB
 * read snapshot written compacted (mdb_env_copyfd2 with MDB_CP_COMPACT, so freed pages with
 * revoked secrets are not copied) to a new file created 0600 with O_EXCL | O_NOFOLLOW next to
 * `out`, flushed, checked (hm_ks_backup_check), and renamed to `out`. An existing `out` is
 * refused (HM_EEXIST) unless force. The temporary file is removed on any failure.
 * HM_OK with *info; HM_ENOTFOUND (no store), HM_EEXIST, HM_EIO, HM_ESTORE, HM_ESCHEMA,
 * HM_EINVAL; the reason in err.
 */
int hm_ks_backup(const char *dir, const char *out, bool force, struct hm_ks_backup_info *info,
		 char *err, size_t errlen) HM_MUSTCHECK;

/*
 * Checks a backup file without changing it (read-only, no lock file): it opens as an LMDB
 * environment, its schema is this build's, every key record, key id, policy and audit record
 * decodes, and every key id names a stored epoch and every epoch's id is indexed.
 * HM_OK with *info; HM_ENOTFOUND, HM_ESCHEMA, HM_ESTORE, HM_EIO; the reason in err.
 */
int hm_ks_backup_check(const char *file, struct hm_ks_backup_info *info, char *err,
		       size_t errlen) HM_MUSTCHECK;

/* Flags of hm_ks_restore(). */
enum hm_ks_restore_flags {
	HM_KS_RESTORE_FORCE = 1 << 0, /* replace a store that holds keys or policies, or that
					 another process (hmacd) has open */
};

/* What hm_ks_restore() found and did. */
struct hm_ks_restore_info {
	struct hm_ks_backup_info backup;
	bool replaced; /* the store held keys or policies before */
	pid_t in_use;  /* a process (hmacd) that had the store open, 0 if none */
};

/*
 * Replaces the keys, key ids and policies of the store of ks with those of the backup file, in
 * one write transaction (readers see the old store or the new one, never a mix), after checking
 * the file (hm_ks_backup_check). The audit trail is kept and a HM_AUDIT_RESTORE record appended;
 * a store without audit records takes the backup's first. A running hmacd sees the new
 * contents at its next batch (its key cache is emptied when the snapshot changes). Refused
 * without HM_KS_RESTORE_FORCE when the store holds keys or policies or another process has it
 * open (HM_ESTATE); refused always when either side mirrors a fleet (HM_ESTATE: a fleet host
 * gets its keys from the fleet). Secrets of replaced epochs stay in freed pages until
 * hm_ks_compact(). HM_OK with *info; HM_ESTATE, HM_ESCHEMA, HM_ESTORE, HM_ENOMEM, HM_EIO (the
 * file is missing or cannot be read).
 */
int hm_ks_restore(struct hm_keystore *ks, const char *file, unsigned flags,
		  struct hm_ks_restore_info *info) HM_MUSTCHECK;

/* ---- coverage policies (policy.h) ---- */

/*
 * Stores p as the policy of scope (tenant, container), or of the whole tenant when container
 * is NULL, replacing the one there was. p must hold 1..HM_POLICY_MAX_COMPONENTS canonical
 * components. HM_OK, HM_EINVAL (names, policy), HM_ESTORE.
 */
int hm_ks_policy_set(struct hm_keystore *ks, const char *tenant, const char *container,
		     const struct hm_policy *p) HM_MUSTCHECK;

/* Removes the policy of the scope (container NULL: of the tenant). HM_OK, HM_ENOTFOUND (none
 * stored), HM_EINVAL, HM_ESTORE. */
int hm_ks_policy_unset(struct hm_keystore *ks, const char *tenant,
		       const char *container) HM_MUSTCHECK;

/*
 * The effective policy, as the daemon applies it: the scope's own (container != NULL), else the
 * tenant's, else hm_policy_default(); *src says which. HM_OK, HM_EINVAL (names), HM_ESTORE.
 */
int hm_ks_policy_get(struct hm_keystore *ks, const char *tenant, const char *container,
		     struct hm_policy *out, enum hm_policy_source *src) HM_MUSTCHECK;

/*
 * Calls fn once per stored policy, in key order: by tenant (length, then bytes), the tenant's
 * own policy first, then its containers. tenant == NULL lists all. One read snapshot; fn must
 * not call back into the store; a non-zero return from fn stops the walk and is returned.
 * HM_OK, HM_EINVAL (bad tenant name), HM_ESTORE, or fn's value.
 */
int hm_ks_policy_list(struct hm_keystore *ks, const char *tenant,
		      int (*fn)(const struct hm_policy_info *info, void *arg),
		      void *arg) HM_MUSTCHECK;

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

/*
 * Looks up the scope and epoch a key id belongs to, inside a begun batch. Revoked epochs keep
 * their id, so they are found too (hm_ks_lookup then says revoked). A key id that could never
 * have been stored (length, characters) is simply not found.
 * HM_OK, HM_ENOTFOUND (ref zeroed), HM_ESTORE (outside a batch, corrupt index).
 */
int hm_ks_lookup_keyid(struct hm_ks_reader *rd, const uint8_t *keyid, size_t len,
		       struct hm_key_ref *ref) HM_MUSTCHECK;

/*
 * Whether the snapshot of the begun batch holds any policy at all (*any), so that a verifier
 * can skip looking each scope up while none is stored. HM_OK or HM_ESTORE (*any true).
 */
int hm_ks_reader_has_policies(struct hm_ks_reader *rd, bool *any) HM_MUSTCHECK;

/*
 * The policy for a scope, inside a begun batch: the scope's own, else the tenant's, else *out
 * untouched and *found = HM_POLICY_DEFAULT (the caller fills *out with its default first).
 * Names that could never have been stored get the default. HM_OK or HM_ESTORE (outside a batch,
 * corrupt policy record; *out untouched, *found = HM_POLICY_DEFAULT).
 */
int hm_ks_policy_lookup(struct hm_ks_reader *rd, const uint8_t *tenant, size_t tenant_len,
			const uint8_t *container, size_t container_len, struct hm_policy *out,
			enum hm_policy_source *found) HM_MUSTCHECK;

#endif
