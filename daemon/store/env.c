/*
 * env.c - the key store's LMDB environment (keystore.h; layout and caveats in doc/keystore.md):
 * hm_ks_open and hm_ks_close, the schema check, and the transactions the other files run in.
 *
 * One LMDB environment per handle with four named databases (schema 2); their keys and values
 * are written and checked by record.c (format in record.h). Every admin change (writer.c, and
 * the schema 1 -> 2 upgrade in migrate.c) is one write transaction run by ks_write(), which
 * aborts on any error, and on MDB_MAP_FULL doubles the map and runs the whole transaction again.
 * Secrets only exist in the caller's buffers and in stack buffers that are wiped with
 * OPENSSL_cleanse as soon as LMDB has copied them.
 */
#include "store/internal.h"
#include "store/keystore.h"
#include "store/record.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <lmdb.h>

#define KS_MAXDBS 6 /* "meta", "keys", "keyids", "policies", "audit"; "fleet" for a mirror */
#define KS_MAXREADERS 1024 /* hmacd workers + concurrent hmacctl runs; 64 bytes each */
#define KS_FILE_MODE 0600
#define KS_DIR_MODE 0700
#define KS_MAP_INITIAL ((size_t)8 << 20)
#if SIZE_MAX > 0xffffffffu
#define KS_MAP_READER ((size_t)64 << 30)
#else
#define KS_MAP_READER ((size_t)1 << 30) /* a 32-bit address space cannot reserve more */
#endif
/*
 * Where the address space is limited (ulimit -v, valgrind refuses a 64 GiB mapping) a reader
 * halves its map down to this before giving up.
 */
#define KS_MAP_READER_MIN ((size_t)256 << 20)
/*
 * Writers never grow the store past what a reader maps, so hmacd never meets MDB_MAP_RESIZED
 * (it could not remap safely while worker threads hold read transactions).
 */
#define KS_MAP_MAX KS_MAP_READER
#define KS_WRITE_RETRIES 8 /* map doublings / remaps per write transaction */

/* ---- errors ---- */

void ks_set_msg(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (buf == NULL || len == 0)
		return;
	va_start(ap, fmt);
	/* Truncation is acceptable for a diagnostic; the buffer is always terminated. */
	(void)vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

int ks_mdb_fail(struct hm_keystore *ks, const char *call, int mrc)
{
	if (mrc == MDB_MAP_FULL)
		ks->map_full = true;
	ks_set_msg(ks->err, sizeof(ks->err), "%s: %s", call, mdb_strerror(mrc));
	return HM_ESTORE;
}

int ks_corrupt(struct hm_keystore *ks, const char *what, size_t size)
{
	ks_set_msg(ks->err, sizeof(ks->err), "corrupt key store: %s (%zu bytes)", what, size);
	return HM_ESTORE;
}

/* ---- environment ---- */

static int ks_stat_dir(const char *dir, bool create, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;
	size_t len, i;

	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			ks_set_msg(err, errlen, "%s: not a directory", dir);
			return HM_ESTORE;
		}
		return HM_OK;
	}
	if (errno != ENOENT) {
		ks_set_msg(err, errlen, "stat %s: %s", dir, strerror(errno));
		return HM_ESTORE;
	}
	if (!create) {
		ks_set_msg(err, errlen, "no key store at %s", dir);
		return HM_ENOTFOUND;
	}
	len = strlen(dir);
	if (len >= sizeof(path)) {
		ks_set_msg(err, errlen, "store path too long (%zu bytes)", len);
		return HM_ESTORE;
	}
	memcpy(path, dir, len + 1);
	/* mkdir -p: every directory we create is private to the owner. */
	for (i = 1; i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, KS_DIR_MODE) != 0 && errno != EEXIST) {
			ks_set_msg(err, errlen, "mkdir %s: %s", path, strerror(errno));
			return HM_ESTORE;
		}
		path[i] = dir[i];
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		ks_set_msg(err, errlen, "%s: not a directory", dir);
		return HM_ESTORE;
	}
	return HM_OK;
}

/* *exists = whether DIR/data.mdb exists. */
static int ks_data_exists(const char *dir, bool *exists, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;
	int n;

	*exists = false;
	n = snprintf(path, sizeof(path), "%s/data.mdb", dir);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		ks_set_msg(err, errlen, "store path too long");
		return HM_ESTORE;
	}
	if (stat(path, &st) == 0) {
		*exists = true;
		return HM_OK;
	}
	if (errno == ENOENT)
		return HM_OK;
	ks_set_msg(err, errlen, "stat %s: %s", path, strerror(errno));
	return HM_ESTORE;
}

/* *open_rc is mdb_env_open's code, so the caller can retry a reader with a smaller map. */
static int ks_env_open(struct hm_keystore *ks, const char *dir, int *open_rc)
{
	unsigned int flags = MDB_NOTLS;
	int mrc, dead = 0;

	*open_rc = 0;
	mrc = mdb_env_create(&ks->env);
	if (mrc != 0) {
		ks->env = NULL;
		return ks_mdb_fail(ks, "mdb_env_create", mrc);
	}
	mrc = mdb_env_set_maxdbs(ks->env, KS_MAXDBS);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_env_set_maxdbs", mrc);
	mrc = mdb_env_set_maxreaders(ks->env, KS_MAXREADERS);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_env_set_maxreaders", mrc);
	/* LMDB keeps the larger of this and the size recorded in the store. */
	mrc = mdb_env_set_mapsize(ks->env, ks->map_size);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_env_set_mapsize", mrc);
	/*
	 * MDB_NOTLS: reader slots belong to transactions, not threads, so hmacd's workers can
	 * reset/renew their own. No MDB_NOSYNC/MDB_NOMETASYNC/MDB_WRITEMAP: a commit is on disk
	 * when it returns, and kill -9 of any process loses nothing committed.
	 */
	if (ks->reader_env && !ks->mirror_env)
		flags |= MDB_RDONLY;
	mrc = mdb_env_open(ks->env, dir, flags, KS_FILE_MODE);
	*open_rc = mrc;
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_env_open", mrc);
	/* Free reader slots held by processes that died (kill -9) so they cannot pin old pages. */
	mrc = mdb_reader_check(ks->env, &dead);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_reader_check", mrc);
	return HM_OK;
}

int ks_schema_check(struct hm_keystore *ks, const MDB_val *v, bool *old)
{
	uint32_t version;

	*old = false;
	if (v->mv_size != 4) {
		ks_set_msg(ks->err, sizeof(ks->err), "schema record of %zu bytes, want 4",
			   v->mv_size);
		return HM_ESCHEMA;
	}
	version = ks_get_le32(v->mv_data);
	if (version == KS_SCHEMA_V1) {
		*old = true;
		ks_set_msg(ks->err, sizeof(ks->err),
			   "store schema version 1 must be upgraded to %u by a writer "
			   "(run hmacctl once)", HM_KS_SCHEMA_VERSION);
		return HM_ESCHEMA;
	}
	if (version != HM_KS_SCHEMA_VERSION) {
		ks_set_msg(ks->err, sizeof(ks->err),
			   "store schema version %u, this build supports %u", version,
			   HM_KS_SCHEMA_VERSION);
		return HM_ESCHEMA;
	}
	return HM_OK;
}

int ks_dbi_need(struct hm_keystore *ks, MDB_txn *txn, const char *name, MDB_dbi *dbi)
{
	char call[40];
	int mrc;

	mrc = mdb_dbi_open(txn, name, 0, dbi);
	if (mrc == MDB_NOTFOUND) {
		ks_set_msg(ks->err, sizeof(ks->err), "key store has no %s database", name);
		return HM_ESCHEMA;
	}
	if (mrc != 0) {
		snprintf(call, sizeof(call), "mdb_dbi_open(%s)", name);
		return ks_mdb_fail(ks, call, mrc);
	}
	return HM_OK;
}

/* Number of records in the unnamed main database (one per named database). */
static int ks_main_entries(struct hm_keystore *ks, MDB_txn *txn, size_t *n)
{
	MDB_dbi main_db;
	MDB_stat st;
	int mrc;

	mrc = mdb_dbi_open(txn, NULL, 0, &main_db);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_dbi_open(main)", mrc);
	mrc = mdb_stat(txn, main_db, &st);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_stat(main)", mrc);
	*n = st.ms_entries;
	return HM_OK;
}

/*
 * Read-only check of an open environment: opens the named databases (kept by committing the
 * read transaction) and checks the schema. HM_OK, HM_ENOTFOUND (empty environment: not
 * initialised yet), HM_ESCHEMA, HM_ESTORE.
 */
static int ks_attach(struct hm_keystore *ks)
{
	MDB_txn *txn = NULL;
	MDB_dbi meta, keys, keyids, policies;
	MDB_val k = { .mv_size = sizeof(KS_SCHEMA_KEY) - 1, .mv_data = (void *)KS_SCHEMA_KEY };
	MDB_val v;
	size_t n = 0;
	int rc, mrc;

	ks->old_schema = false;
	mrc = mdb_txn_begin(ks->env, NULL, MDB_RDONLY, &txn);
	if (mrc != 0) {
		txn = NULL;
		rc = ks_mdb_fail(ks, "mdb_txn_begin", mrc);
		goto out;
	}
	mrc = mdb_dbi_open(txn, KS_DB_META, 0, &meta);
	if (mrc == MDB_NOTFOUND) {
		rc = ks_main_entries(ks, txn, &n);
		if (rc != HM_OK)
			goto out;
		if (n != 0) {
			ks_set_msg(ks->err, sizeof(ks->err),
				   "not an hmacd key store (no meta database)");
			rc = HM_ESCHEMA;
			goto out;
		}
		ks_set_msg(ks->err, sizeof(ks->err), "key store not initialised");
		rc = HM_ENOTFOUND;
		goto out;
	}
	if (mrc != 0) {
		rc = ks_mdb_fail(ks, "mdb_dbi_open(meta)", mrc);
		goto out;
	}
	mrc = mdb_get(txn, meta, &k, &v);
	if (mrc == MDB_NOTFOUND) {
		ks_set_msg(ks->err, sizeof(ks->err), "key store has no schema record");
		rc = HM_ESCHEMA;
		goto out;
	}
	if (mrc != 0) {
		rc = ks_mdb_fail(ks, "mdb_get(schema)", mrc);
		goto out;
	}
	rc = ks_schema_check(ks, &v, &ks->old_schema);
	if (rc != HM_OK)
		goto out;
	rc = ks_dbi_need(ks, txn, KS_DB_KEYS, &keys);
	if (rc != HM_OK)
		goto out;
	rc = ks_dbi_need(ks, txn, KS_DB_KEYIDS, &keyids);
	if (rc != HM_OK)
		goto out;
	rc = ks_dbi_need(ks, txn, KS_DB_POLICIES, &policies);
	if (rc != HM_OK)
		goto out;
	/* Committing a read transaction is what keeps the database handles open. */
	mrc = mdb_txn_commit(txn);
	txn = NULL;
	if (mrc != 0) {
		rc = ks_mdb_fail(ks, "mdb_txn_commit", mrc);
		goto out;
	}
	ks->meta = meta;
	ks->keys = keys;
	ks->keyids = keyids;
	ks->policies = policies;
	rc = HM_OK;
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	return rc;
}

/* ---- transactions ---- */

/* Map size change: only legal with no transaction open in this process. */
static int ks_may_remap(struct hm_keystore *ks)
{
	if (atomic_load(&ks->open_batches) != 0) {
		ks_set_msg(ks->err, sizeof(ks->err),
			   "cannot resize the map while a read batch is open on this handle");
		return HM_ESTORE;
	}
	return HM_OK;
}

static int ks_grow(struct hm_keystore *ks)
{
	MDB_envinfo info;
	size_t size;
	int rc, mrc;

	rc = ks_may_remap(ks);
	if (rc != HM_OK)
		return rc;
	if (ks->reader_env) {
		/* the daemon's workers never count their batches: the large map is all there is */
		ks_set_msg(ks->err, sizeof(ks->err), "key store full: the daemon's %zu MiB map",
			   ks->map_size >> 20);
		return HM_ESTORE;
	}
	mrc = mdb_env_info(ks->env, &info);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_env_info", mrc);
	if (info.me_mapsize >= KS_MAP_MAX) {
		ks_set_msg(ks->err, sizeof(ks->err),
			   "key store full: map reached the %zu MiB limit", KS_MAP_MAX >> 20);
		return HM_ESTORE;
	}
	size = info.me_mapsize > KS_MAP_MAX / 2 ? KS_MAP_MAX : info.me_mapsize * 2;
	mrc = mdb_env_set_mapsize(ks->env, size);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_env_set_mapsize", mrc);
	return HM_OK;
}

/* Another process grew the store past our map: adopt the size recorded in the store. */
static int ks_adopt_mapsize(struct hm_keystore *ks)
{
	int rc, mrc;

	rc = ks_may_remap(ks);
	if (rc != HM_OK)
		return rc;
	mrc = mdb_env_set_mapsize(ks->env, 0);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_env_set_mapsize", mrc);
	return HM_OK;
}

int ks_write(struct hm_keystore *ks, ks_body_fn body, struct ks_op *op)
{
	MDB_txn *txn = NULL;
	unsigned attempt;
	int rc, mrc;

	if (ks->reader_env && !(ks->mirror_env && op != NULL && op->mirror)) {
		ks_set_msg(ks->err, sizeof(ks->err), "store opened read-only (HM_KS_READER)");
		return HM_ESTORE;
	}
	for (attempt = 0;; attempt++) {
		ks->map_full = false;
		ks->audit_pending_set = false;
		mrc = mdb_txn_begin(ks->env, NULL, 0, &txn);
		if (mrc == MDB_MAP_RESIZED && attempt < KS_WRITE_RETRIES) {
			rc = ks_adopt_mapsize(ks);
			if (rc != HM_OK)
				return rc;
			continue;
		}
		if (mrc != 0)
			return ks_mdb_fail(ks, "mdb_txn_begin", mrc);
		rc = body(ks, txn, op);
		if (rc != HM_OK) {
			mdb_txn_abort(txn);
			txn = NULL;
			if (!ks->map_full || attempt >= KS_WRITE_RETRIES)
				return rc;
		} else {
			/* mdb_txn_commit frees the transaction whether or not it succeeds. */
			mrc = mdb_txn_commit(txn);
			txn = NULL;
			if (mrc == 0) {
				if (ks->audit_pending_set) {
					ks->audit_last = ks->audit_pending;
					ks->audit_last_set = true;
				}
				return HM_OK;
			}
			rc = ks_mdb_fail(ks, "mdb_txn_commit", mrc);
			if (mrc != MDB_MAP_FULL || attempt >= KS_WRITE_RETRIES)
				return rc;
		}
		rc = ks_grow(ks);
		if (rc != HM_OK)
			return rc;
	}
}

int ks_read_begin(struct hm_keystore *ks, MDB_txn **txn)
{
	unsigned attempt;
	int rc, mrc;

	for (attempt = 0;; attempt++) {
		mrc = mdb_txn_begin(ks->env, NULL, MDB_RDONLY, txn);
		if (mrc == 0)
			return HM_OK;
		*txn = NULL;
		if (mrc != MDB_MAP_RESIZED || ks->reader_env || attempt >= KS_WRITE_RETRIES)
			return ks_mdb_fail(ks, "mdb_txn_begin", mrc);
		rc = ks_adopt_mapsize(ks);
		if (rc != HM_OK)
			return rc;
	}
}

/* Creates the databases and the schema record of an empty environment. */
static int ks_body_init(struct hm_keystore *ks, MDB_txn *txn, struct ks_op *op)
{
	MDB_val k = { .mv_size = sizeof(KS_SCHEMA_KEY) - 1, .mv_data = (void *)KS_SCHEMA_KEY };
	uint8_t ver[4];
	MDB_val v = { .mv_size = sizeof(ver), .mv_data = ver };
	MDB_dbi meta, keys, keyids, policies, audit;
	size_t n = 0;
	int rc, mrc;

	(void)op;
	mrc = mdb_dbi_open(txn, KS_DB_META, 0, &meta);
	if (mrc == 0) {
		/* Someone initialised it since we looked; ks_attach() will judge it. */
		return HM_OK;
	}
	if (mrc != MDB_NOTFOUND)
		return ks_mdb_fail(ks, "mdb_dbi_open(meta)", mrc);
	rc = ks_main_entries(ks, txn, &n);
	if (rc != HM_OK)
		return rc;
	if (n != 0) {
		ks_set_msg(ks->err, sizeof(ks->err), "not an hmacd key store (no meta database)");
		return HM_ESCHEMA;
	}
	mrc = mdb_dbi_open(txn, KS_DB_META, MDB_CREATE, &meta);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_dbi_open(meta)", mrc);
	mrc = mdb_dbi_open(txn, KS_DB_KEYS, MDB_CREATE, &keys);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_dbi_open(keys)", mrc);
	mrc = mdb_dbi_open(txn, KS_DB_KEYIDS, MDB_CREATE, &keyids);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_dbi_open(keyids)", mrc);
	mrc = mdb_dbi_open(txn, KS_DB_POLICIES, MDB_CREATE, &policies);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_dbi_open(policies)", mrc);
	rc = ks_audit_dbi(ks, txn, true, &audit);
	if (rc != HM_OK)
		return rc;
	ks_put_le32(ver, HM_KS_SCHEMA_VERSION);
	mrc = mdb_put(txn, meta, &k, &v, MDB_NOOVERWRITE);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_put(schema)", mrc);
	return HM_OK;
}

int ks_open_file(const char *file, struct hm_keystore **out, char *err, size_t errlen)
{
	struct hm_keystore *ks;
	int rc, mrc;

	*out = NULL;
	ks = calloc(1, sizeof(*ks));
	if (ks == NULL) {
		ks_set_msg(err, errlen, "out of memory");
		return HM_ENOMEM;
	}
	ks->reader_env = true; /* ks_write() refuses it */
	atomic_init(&ks->open_batches, 0);
	mrc = mdb_env_create(&ks->env);
	if (mrc != 0) {
		ks->env = NULL;
		rc = ks_mdb_fail(ks, "mdb_env_create", mrc);
		goto out;
	}
	mrc = mdb_env_set_maxdbs(ks->env, KS_MAXDBS);
	if (mrc != 0) {
		rc = ks_mdb_fail(ks, "mdb_env_set_maxdbs", mrc);
		goto out;
	}
	/* one file, read only, no lock file: a backup is checked without being changed */
	mrc = mdb_env_open(ks->env, file, MDB_NOSUBDIR | MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS,
			   KS_FILE_MODE);
	if (mrc != 0) {
		rc = mrc == ENOENT ? HM_ENOTFOUND : ks_mdb_fail(ks, "mdb_env_open", mrc);
		if (mrc == ENOENT)
			ks_set_msg(ks->err, sizeof(ks->err), "no such file");
		goto out;
	}
	rc = ks_attach(ks);
	if (rc == HM_ENOTFOUND)
		rc = HM_ESCHEMA; /* an empty environment is not a backup of a store */
	if (rc != HM_OK)
		goto out;
	*out = ks;
	ks = NULL;
out:
	if (ks != NULL) {
		ks_set_msg(err, errlen, "%s", ks->err);
		hm_ks_close(ks);
	}
	return rc;
}

/* ---- public API: open/close ---- */

/*
 * Opens an environment in the existing directory dir and attaches to the store in it; an admin
 * handle with `create` initialises an empty environment. On failure the reason goes to err.
 */
static int ks_open_handle(const char *dir, bool reader, bool mirror, bool create,
			  struct hm_keystore **out, char *err, size_t errlen, bool *old_schema)
{
	struct hm_keystore *ks;
	int rc, open_rc = 0;

	*out = NULL;
	*old_schema = false;
	ks = calloc(1, sizeof(*ks));
	if (ks == NULL) {
		ks_set_msg(err, errlen, "out of memory");
		return HM_ENOMEM;
	}
	ks->reader_env = reader;
	ks->mirror_env = reader && mirror;
	hm_ks_actor_self(&ks->actor);
	ks->map_size = reader ? KS_MAP_READER : KS_MAP_INITIAL;
	atomic_init(&ks->open_batches, 0);
	for (;;) {
		rc = ks_env_open(ks, dir, &open_rc);
		if (rc == HM_OK)
			break;
		/* mmap refused the size: a smaller reader map still works for smaller stores */
		if (!reader || (open_rc != ENOMEM && open_rc != EINVAL) ||
		    ks->map_size / 2 < KS_MAP_READER_MIN)
			goto out;
		/* A failed mdb_env_open() leaves an env that can only be closed. */
		mdb_env_close(ks->env);
		ks->env = NULL;
		ks->map_size /= 2;
	}
	rc = ks_attach(ks);
	if (rc == HM_ENOTFOUND && create && !reader) {
		rc = ks_write(ks, ks_body_init, NULL);
		if (rc != HM_OK)
			goto out;
		rc = ks_attach(ks);
	}
	if (rc == HM_ESCHEMA && ks->old_schema && !reader) {
		/* the first open that may write upgrades schema 1, all in one transaction */
		rc = ks_write(ks, ks_body_upgrade, NULL);
		if (rc == HM_OK)
			rc = ks_attach(ks);
	} else if (rc == HM_ESCHEMA && ks->old_schema) {
		*old_schema = true;
		ks_set_msg(ks->err, sizeof(ks->err),
			   "key store in %s has schema 1, this build reads %u: run hmacctl once "
			   "(e.g. 'hmacctl --db %s key list') to upgrade it",
			   dir, HM_KS_SCHEMA_VERSION, dir);
	}
	if (rc == HM_ENOTFOUND)
		ks_set_msg(ks->err, sizeof(ks->err), "key store in %s not initialised", dir);
	if (rc != HM_OK)
		goto out;
	ks->err[0] = '\0';
	*out = ks;
	ks = NULL;
out:
	if (ks != NULL) {
		ks_set_msg(err, errlen, "%s", ks->err);
		hm_ks_close(ks);
	}
	return rc;
}

/*
 * A reader environment is MDB_RDONLY, so it cannot write the schema record: the store is
 * created and initialised (or upgraded from schema 1) with a short-lived ordinary environment,
 * closed before the reader opens its own (one environment per process at a time). This also
 * keeps the store's recorded map size at 8 MiB: LMDB records the map size of whoever commits,
 * never a reader's 64 GiB.
 */
static int ks_init_store(const char *dir, char *err, size_t errlen)
{
	struct hm_keystore *tmp = NULL;
	bool old = false;
	int rc;

	rc = ks_open_handle(dir, false, false, true, &tmp, err, errlen, &old);
	hm_ks_close(tmp);
	return rc;
}

int hm_ks_open(const char *dir, unsigned flags, struct hm_keystore **out, char *err,
	       size_t errlen)
{
	bool create = (flags & HM_KS_CREATE) != 0;
	bool reader = (flags & HM_KS_READER) != 0;
	bool mirror = (flags & HM_KS_MIRROR) != 0;
	bool exists = false, old = false;
	int rc;

	*out = NULL;
	ks_set_msg(err, errlen, "%s", "");
	if (dir == NULL || dir[0] == '\0' || (flags & ~(unsigned)(HM_KS_CREATE | HM_KS_READER | HM_KS_MIRROR)) ||
	    (mirror && !reader)) {
		ks_set_msg(err, errlen, "bad arguments to hm_ks_open");
		return HM_EINVAL;
	}
	rc = ks_stat_dir(dir, create, err, errlen);
	if (rc != HM_OK)
		return rc;
	rc = ks_data_exists(dir, &exists, err, errlen);
	if (rc != HM_OK)
		return rc;
	if (!exists && !create) {
		ks_set_msg(err, errlen, "no key store in %s", dir);
		return HM_ENOTFOUND;
	}
	if (reader && create && !exists) {
		rc = ks_init_store(dir, err, errlen);
		if (rc != HM_OK)
			return rc;
	}
	rc = ks_open_handle(dir, reader, mirror, create, out, err, errlen, &old);
	/*
	 * data.mdb without databases (an earlier creation was interrupted), or a schema 1 store:
	 * hmacd may create, so it may also finish the creation or upgrade, as a writer would.
	 */
	if (reader && create && (rc == HM_ENOTFOUND || (rc == HM_ESCHEMA && old))) {
		rc = ks_init_store(dir, err, errlen);
		if (rc == HM_OK)
			rc = ks_open_handle(dir, reader, mirror, create, out, err, errlen, &old);
	}
	return rc;
}

void hm_ks_close(struct hm_keystore *ks)
{
	if (ks == NULL)
		return;
	if (ks->env != NULL)
		mdb_env_close(ks->env);
	free(ks);
}

const char *hm_ks_errmsg(const struct hm_keystore *ks)
{
	return ks->err;
}

int hm_ks_usage(struct hm_keystore *ks, struct hm_ks_usage *out)
{
	MDB_envinfo info;
	MDB_stat st;

	memset(out, 0, sizeof(*out));
	if (mdb_env_info(ks->env, &info) != 0 || mdb_env_stat(ks->env, &st) != 0)
		return HM_ESTORE;
	out->used_bytes = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
	out->map_bytes = info.me_mapsize;
	return HM_OK;
}
