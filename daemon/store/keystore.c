/*
 * keystore.c - the LMDB key store (see keystore.h, layout and caveats in doc/keystore.md).
 *
 * One LMDB environment per handle with four named databases (schema 2); their keys and
 * values are written and checked by record.c (format in record.h).
 *
 * Every admin change is one write transaction run by ks_write(), which aborts on any error,
 * and on MDB_MAP_FULL doubles the map and runs the whole transaction again. Secrets only exist in
 * the caller's buffers and in stack buffers that are wiped with OPENSSL_cleanse as soon as
 * LMDB has copied them. The schema 1 -> 2 upgrade is such a transaction too.
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
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#define KS_MAXDBS 4 /* "meta", "keys", "keyids", "policies" */
#define KS_KEYID_TRIES 8 /* generated key ids: fresh random ones after a (2^-128) collision */
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

/* ---- small helpers ---- */

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

/* Splits a stored key into info->tenant, container, epoch. HM_OK or HM_ESTORE. */
static int key_decode(struct hm_keystore *ks, const MDB_val *k, struct hm_key_info *info)
{
	const uint8_t *p = k->mv_data;
	const char *why;
	size_t tl = 0, cl = 0;

	why = ks_scope_split(p, k->mv_size, 4, false, &tl, &cl);
	if (why != NULL)
		return ks_corrupt(ks, why, k->mv_size);
	memcpy(info->tenant, p + 1, tl);
	info->tenant[tl] = '\0';
	memcpy(info->container, p + 2 + tl, cl);
	info->container[cl] = '\0';
	info->epoch = ks_get_be32(p + 2 + tl + cl);
	return HM_OK;
}

/* Called by ks_walk() on each record; cur is positioned on it, for mdb_cursor_put(MDB_CURRENT). */
typedef int (*ks_row_fn)(struct hm_keystore *ks, MDB_cursor *cur, MDB_val *k, MDB_val *v,
			 void *arg);

/*
 * Calls row on each record of dbi in txn whose key starts with prefix[0..plen) (every record if
 * plen is 0), in key order. A non-zero return from row ends the walk and is returned. HM_OK,
 * HM_ESTORE, or row's value.
 */
static int ks_walk(struct hm_keystore *ks, MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix,
		   size_t plen, ks_row_fn row, void *arg)
{
	MDB_cursor *cur = NULL;
	MDB_val k = { .mv_size = plen, .mv_data = (void *)prefix }, v;
	int rc, mrc;

	mrc = mdb_cursor_open(txn, dbi, &cur);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_cursor_open", mrc);
	for (mrc = mdb_cursor_get(cur, &k, &v, plen > 0 ? MDB_SET_RANGE : MDB_FIRST); mrc == 0;
	     mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
			break;
		rc = row(ks, cur, &k, &v, arg);
		if (rc != 0)
			goto out;
	}
	if (mrc != 0 && mrc != MDB_NOTFOUND) {
		rc = ks_mdb_fail(ks, "mdb_cursor_get", mrc);
		goto out;
	}
	rc = HM_OK;
out:
	mdb_cursor_close(cur);
	return rc;
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
	if (ks->reader_env)
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
	ks->keys = keys;
	ks->keyids = keyids;
	ks->policies = policies;
	rc = HM_OK;
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	return rc;
}

/* ---- write transactions ---- */

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

	if (ks->reader_env) {
		ks_set_msg(ks->err, sizeof(ks->err), "store opened read-only (HM_KS_READER)");
		return HM_ESTORE;
	}
	for (attempt = 0;; attempt++) {
		ks->map_full = false;
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
			if (mrc == 0)
				return HM_OK;
			rc = ks_mdb_fail(ks, "mdb_txn_commit", mrc);
			if (mrc != MDB_MAP_FULL || attempt >= KS_WRITE_RETRIES)
				return rc;
		}
		rc = ks_grow(ks);
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
	MDB_dbi meta, keys, keyids, policies;
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
	ks_put_le32(ver, HM_KS_SCHEMA_VERSION);
	mrc = mdb_put(txn, meta, &k, &v, MDB_NOOVERWRITE);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_put(schema)", mrc);
	return HM_OK;
}

/*
 * Finds the highest epoch of the scope whose key prefix is op->prefix: seeks to the first key
 * >= prefix||0xffffffff and steps back one. HM_OK, HM_ENOTFOUND (no epoch), HM_ESTORE.
 */
static int ks_last_epoch(struct hm_keystore *ks, MDB_txn *txn, const struct ks_op *op,
			 uint32_t *last)
{
	uint8_t probe[KS_KEY_MAX];
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int rc, mrc;

	*last = 0;
	memcpy(probe, op->prefix, op->plen);
	ks_put_be32(probe + op->plen, UINT32_MAX);
	k.mv_data = probe;
	k.mv_size = op->plen + 4;
	mrc = mdb_cursor_open(txn, ks->keys, &cur);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_cursor_open", mrc);
	mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (mrc == 0 && k.mv_size == op->plen + 4 && memcmp(k.mv_data, probe, k.mv_size) == 0) {
		*last = UINT32_MAX;
		rc = HM_OK;
		goto out;
	}
	if (mrc == MDB_NOTFOUND)
		mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	else if (mrc == 0)
		mrc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
	if (mrc == MDB_NOTFOUND) {
		rc = HM_ENOTFOUND;
		goto out;
	}
	if (mrc != 0) {
		rc = ks_mdb_fail(ks, "mdb_cursor_get", mrc);
		goto out;
	}
	if (k.mv_size < op->plen || memcmp(k.mv_data, op->prefix, op->plen) != 0) {
		rc = HM_ENOTFOUND;
		goto out;
	}
	if (k.mv_size != op->plen + 4) {
		rc = ks_corrupt(ks, "key longer than its scope", k.mv_size);
		goto out;
	}
	*last = ks_get_be32((const uint8_t *)k.mv_data + op->plen);
	if (*last == 0) {
		rc = ks_corrupt(ks, "epoch 0 in key", k.mv_size);
		goto out;
	}
	rc = HM_OK;
out:
	mdb_cursor_close(cur);
	return rc;
}

/* RAND_bytes with the reason of a failure recorded on the handle. HM_OK or HM_ECRYPTO. */
static int ks_random(struct hm_keystore *ks, uint8_t *out, size_t n)
{
	const char *why = NULL;
	unsigned long e;

	if (n <= INT_MAX && RAND_bytes(out, (int)n) == 1)
		return HM_OK;
	e = ERR_get_error();
	if (e != 0)
		why = ERR_reason_error_string(e);
	ks_set_msg(ks->err, sizeof(ks->err), "RAND_bytes: %s", why != NULL ? why : "failed");
	return HM_ECRYPTO;
}

int ks_put_keyid(struct hm_keystore *ks, MDB_txn *txn, struct ks_op *op, const uint8_t *skey,
		 size_t sklen)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t rnd[16];
	MDB_val k, v = { .mv_size = sklen, .mv_data = (void *)skey };
	unsigned attempt;
	size_t i;
	int rc, mrc;

	for (attempt = 0; attempt < KS_KEYID_TRIES; attempt++) {
		if (op->want_keyid != NULL) {
			memcpy(op->keyid, op->want_keyid, op->want_keyid_len);
			op->keyid[op->want_keyid_len] = '\0';
		} else {
			/* A key id is public (it travels in every Signature-Input): plain hex. */
			rc = ks_random(ks, rnd, sizeof(rnd));
			if (rc != HM_OK)
				return rc;
			memcpy(op->keyid, "hk_", 3);
			for (i = 0; i < sizeof(rnd); i++) {
				op->keyid[3 + 2 * i] = hex[rnd[i] >> 4];
				op->keyid[4 + 2 * i] = hex[rnd[i] & 15];
			}
			op->keyid[HM_KEYID_GEN_LEN] = '\0';
		}
		k.mv_data = op->keyid;
		k.mv_size = strlen(op->keyid);
		mrc = mdb_put(txn, ks->keyids, &k, &v, MDB_NOOVERWRITE);
		if (mrc == 0)
			return HM_OK;
		if (mrc != MDB_KEYEXIST)
			return ks_mdb_fail(ks, "mdb_put(keyids)", mrc);
		if (op->want_keyid != NULL) {
			ks_set_msg(ks->err, sizeof(ks->err), "key id already in use");
			return HM_EEXIST;
		}
	}
	ks_set_msg(ks->err, sizeof(ks->err), "no unused key id after %d random tries",
		   KS_KEYID_TRIES);
	return HM_ECRYPTO;
}

/*
 * Stores epoch op->epoch of the scope as current, with op->import as its secret, or else a
 * fresh random one written to op->secret; indexes its key id.
 */
static int ks_put_new_epoch(struct hm_keystore *ks, MDB_txn *txn, struct ks_op *op)
{
	uint8_t key[KS_KEY_MAX], rec[KS_REC_MAX];
	struct ks_meta m = { .state = HM_KEY_CURRENT, .created = op->now, .deadline = 0 };
	MDB_val k = { .mv_size = op->plen + 4, .mv_data = key };
	MDB_val v = { .mv_data = rec };
	const uint8_t *secret;
	int rc, mrc;

	if (op->import != NULL) {
		secret = op->import;
		m.secret_len = op->import_len;
	} else {
		rc = ks_random(ks, op->secret, HM_KEY_LEN);
		if (rc != HM_OK)
			return rc;
		secret = op->secret;
		m.secret_len = HM_KEY_LEN;
	}
	memcpy(key, op->prefix, op->plen);
	ks_put_be32(key + op->plen, op->epoch);
	rc = ks_put_keyid(ks, txn, op, key, op->plen + 4);
	if (rc != HM_OK)
		return rc;
	m.keyid = (const uint8_t *)op->keyid;
	m.keyid_len = strlen(op->keyid);
	v.mv_size = ks_rec_encode(rec, &m, secret);
	mrc = mdb_put(txn, ks->keys, &k, &v, MDB_NOOVERWRITE);
	OPENSSL_cleanse(rec, sizeof(rec));
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_put", mrc);
	return HM_OK;
}

static int ks_body_create(struct hm_keystore *ks, MDB_txn *txn, struct ks_op *op)
{
	uint32_t last = 0;
	int rc;

	rc = ks_last_epoch(ks, txn, op, &last);
	if (rc == HM_OK) {
		ks_set_msg(ks->err, sizeof(ks->err), "scope already exists");
		return HM_EEXIST;
	}
	if (rc != HM_ENOTFOUND)
		return rc;
	op->epoch = 1;
	return ks_put_new_epoch(ks, txn, op);
}

/* One record for ks_supersede(): a current epoch becomes superseded. */
static int ks_supersede_row(struct hm_keystore *ks, MDB_cursor *cur, MDB_val *k, MDB_val *v,
			    void *arg)
{
	const struct ks_op *op = arg;
	uint8_t rec[KS_REC_MAX];
	MDB_val nv = { .mv_size = v->mv_size, .mv_data = rec };
	struct ks_meta m;
	int rc, mrc;

	rc = ks_rec_check(v->mv_data, v->mv_size, &m, ks->err, sizeof(ks->err));
	if (rc != HM_OK || m.state != HM_KEY_CURRENT)
		return rc;
	/* Rewrite state and deadline only (same size); the other bytes are carried over. */
	memcpy(rec, v->mv_data, v->mv_size);
	ks_put_le32(rec + KS_REC_OFF_STATE, HM_KEY_SUPERSEDED);
	ks_put_le64(rec + KS_REC_OFF_DEADLINE, op->deadline);
	mrc = mdb_cursor_put(cur, k, &nv, MDB_CURRENT);
	OPENSSL_cleanse(rec, sizeof(rec));
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_cursor_put", mrc);
	return HM_OK;
}

/* Marks every current epoch of the scope superseded with deadline op->deadline. */
static int ks_supersede(struct hm_keystore *ks, MDB_txn *txn, struct ks_op *op)
{
	return ks_walk(ks, txn, ks->keys, op->prefix, op->plen, ks_supersede_row, op);
}

/* The next epoch of an existing scope: supersedes the current one, adds max+1. */
static int ks_next_epoch(struct hm_keystore *ks, MDB_txn *txn, struct ks_op *op, uint32_t last)
{
	int rc;

	if (last == UINT32_MAX) {
		ks_set_msg(ks->err, sizeof(ks->err), "epoch numbers of this scope are exhausted");
		return HM_ESTATE;
	}
	rc = ks_supersede(ks, txn, op);
	if (rc != HM_OK)
		return rc;
	op->epoch = last + 1;
	return ks_put_new_epoch(ks, txn, op);
}

static int ks_body_rotate(struct hm_keystore *ks, MDB_txn *txn, struct ks_op *op)
{
	uint32_t last = 0;
	int rc;

	rc = ks_last_epoch(ks, txn, op, &last);
	if (rc != HM_OK)
		return rc;
	return ks_next_epoch(ks, txn, op, last);
}

/* Import: epoch 1 of a new scope, or the next epoch of an existing one (like rotate). */
static int ks_body_import(struct hm_keystore *ks, MDB_txn *txn, struct ks_op *op)
{
	uint32_t last = 0;
	int rc;

	rc = ks_last_epoch(ks, txn, op, &last);
	if (rc == HM_OK)
		return ks_next_epoch(ks, txn, op, last);
	if (rc != HM_ENOTFOUND)
		return rc;
	op->epoch = 1;
	return ks_put_new_epoch(ks, txn, op);
}

static int ks_body_revoke(struct hm_keystore *ks, MDB_txn *txn, struct ks_op *op)
{
	uint8_t key[KS_KEY_MAX], rec[KS_REC_MAX], keyid[HM_KEYID_MAX];
	MDB_val k = { .mv_size = op->plen + 4, .mv_data = key };
	MDB_val v, nv = { .mv_data = rec };
	struct ks_meta m;
	int rc, mrc;

	memcpy(key, op->prefix, op->plen);
	ks_put_be32(key + op->plen, op->epoch);
	mrc = mdb_get(txn, ks->keys, &k, &v);
	if (mrc == MDB_NOTFOUND)
		return HM_ENOTFOUND;
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_get", mrc);
	rc = ks_rec_check(v.mv_data, v.mv_size, &m, ks->err, sizeof(ks->err));
	if (rc != HM_OK)
		return rc;
	if (m.state == HM_KEY_REVOKED)
		return HM_ESTATE;
	/*
	 * Re-encode without the secret: the stored bytes and length become zeros, no copy is
	 * made. The key id stays, and so does its index entry: an id is never given out twice.
	 */
	memcpy(keyid, m.keyid, m.keyid_len);
	m.keyid = keyid;
	m.state = HM_KEY_REVOKED;
	m.deadline = 0;
	m.secret_len = 0;
	nv.mv_size = ks_rec_encode(rec, &m, NULL);
	mrc = mdb_put(txn, ks->keys, &k, &nv, 0);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_put", mrc);
	return HM_OK;
}

/*
 * Validates the scope names and fills op->prefix. container NULL is allowed only if
 * tenant_only (a tenant's policy: the prefix then ends with a zero container length).
 * HM_OK or HM_EINVAL.
 */
static int ks_op_names(struct hm_keystore *ks, struct ks_op *op, const char *tenant,
		       const char *container, bool tenant_only)
{
	size_t tl, cl = 0;

	if (tenant == NULL || (container == NULL && !tenant_only)) {
		ks_set_msg(ks->err, sizeof(ks->err), "tenant and container are required");
		return HM_EINVAL;
	}
	tl = strnlen(tenant, KS_NAME_MAX + 1);
	if (container != NULL)
		cl = strnlen(container, KS_NAME_MAX + 1);
	if (!ks_scope_name_ok(tenant, tl) ||
	    (container != NULL && !ks_scope_name_ok(container, cl))) {
		ks_set_msg(ks->err, sizeof(ks->err),
			   "tenant and container must be 1..%d bytes of [A-Za-z0-9._:/-]",
			   KS_NAME_MAX);
		return HM_EINVAL;
	}
	op->plen = ks_key_prefix(op->prefix, (const uint8_t *)tenant, tl,
				 (const uint8_t *)(container != NULL ? container : ""), cl);
	return HM_OK;
}

static int ks_op_scope(struct hm_keystore *ks, struct ks_op *op, const char *tenant,
		       const char *container)
{
	return ks_op_names(ks, op, tenant, container, false);
}

/* Checks the requested key id (NULL: generate one) into op. HM_OK or HM_EINVAL. */
static int ks_op_keyid(struct hm_keystore *ks, struct ks_op *op, const char *keyid)
{
	size_t len;

	op->want_keyid = NULL;
	if (keyid == NULL)
		return HM_OK;
	len = strnlen(keyid, HM_KEYID_MAX + 1);
	if (!ks_keyid_ok(keyid, len)) {
		ks_set_msg(ks->err, sizeof(ks->err),
			   "key id must be 1..%d bytes of [A-Za-z0-9._:/+=@~-]", HM_KEYID_MAX);
		return HM_EINVAL;
	}
	op->want_keyid = keyid;
	op->want_keyid_len = len;
	return HM_OK;
}

/* ---- public API: open/close ---- */

/*
 * Opens an environment in the existing directory dir and attaches to the store in it; an admin
 * handle with `create` initialises an empty environment. On failure the reason goes to err.
 */
static int ks_open_handle(const char *dir, bool reader, bool create, struct hm_keystore **out,
			  char *err, size_t errlen, bool *old_schema)
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

	rc = ks_open_handle(dir, false, true, &tmp, err, errlen, &old);
	hm_ks_close(tmp);
	return rc;
}

int hm_ks_open(const char *dir, unsigned flags, struct hm_keystore **out, char *err,
	       size_t errlen)
{
	bool create = (flags & HM_KS_CREATE) != 0;
	bool reader = (flags & HM_KS_READER) != 0;
	bool exists = false, old = false;
	int rc;

	*out = NULL;
	ks_set_msg(err, errlen, "%s", "");
	if (dir == NULL || dir[0] == '\0' || (flags & ~(unsigned)(HM_KS_CREATE | HM_KS_READER))) {
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
	rc = ks_open_handle(dir, reader, create, out, err, errlen, &old);
	/*
	 * data.mdb without databases (an earlier creation was interrupted), or a schema 1 store:
	 * hmacd may create, so it may also finish the creation or upgrade, as a writer would.
	 */
	if (reader && create && (rc == HM_ENOTFOUND || (rc == HM_ESCHEMA && old))) {
		rc = ks_init_store(dir, err, errlen);
		if (rc == HM_OK)
			rc = ks_open_handle(dir, reader, create, out, err, errlen, &old);
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

/* ---- public API: admin ---- */

/*
 * Runs a new-epoch body (create, rotate, import) and reports the epoch and key id. *out is
 * written only at the end, so keyid may point into it (a caller reusing its result struct).
 */
static int ks_add(struct hm_keystore *ks, ks_body_fn body, struct ks_op *op, const char *tenant,
		  const char *container, const char *keyid, struct hm_ks_added *out)
{
	int rc;

	rc = ks_op_scope(ks, op, tenant, container);
	if (rc == HM_OK)
		rc = ks_op_keyid(ks, op, keyid);
	if (rc == HM_OK && op->now < 0) {
		ks_set_msg(ks->err, sizeof(ks->err), "negative time");
		rc = HM_EINVAL;
	}
	if (rc == HM_OK)
		rc = ks_write(ks, body, op);
	if (out == NULL)
		return rc;
	memset(out, 0, sizeof(*out));
	if (rc == HM_OK) {
		out->epoch = op->epoch;
		memcpy(out->keyid, op->keyid, sizeof(out->keyid));
	}
	return rc;
}

/* Sets op->deadline = now + grace for the epoch a new one supersedes. HM_OK or HM_EINVAL. */
static int ks_op_grace(struct hm_keystore *ks, struct ks_op *op, int64_t grace_seconds)
{
	if (op->now < 0 || grace_seconds < 0 || grace_seconds > INT64_MAX - op->now) {
		ks_set_msg(ks->err, sizeof(ks->err), "time or grace out of range");
		return HM_EINVAL;
	}
	op->deadline = op->now + grace_seconds;
	return HM_OK;
}

int hm_ks_create(struct hm_keystore *ks, const char *tenant, const char *container, int64_t now,
		 const char *keyid, uint8_t secret[static HM_KEY_LEN], struct hm_ks_added *out)
{
	struct ks_op op = { .now = now, .secret = secret };
	int rc;

	ks->err[0] = '\0';
	rc = ks_add(ks, ks_body_create, &op, tenant, container, keyid, out);
	if (rc != HM_OK)
		OPENSSL_cleanse(secret, HM_KEY_LEN);
	return rc;
}

int hm_ks_rotate(struct hm_keystore *ks, const char *tenant, const char *container, int64_t now,
		 int64_t grace_seconds, const char *keyid, uint8_t secret[static HM_KEY_LEN],
		 struct hm_ks_added *out)
{
	struct ks_op op = { .now = now, .secret = secret };
	int rc;

	ks->err[0] = '\0';
	rc = ks_op_grace(ks, &op, grace_seconds);
	if (rc == HM_OK)
		rc = ks_add(ks, ks_body_rotate, &op, tenant, container, keyid, out);
	else if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (rc != HM_OK)
		OPENSSL_cleanse(secret, HM_KEY_LEN);
	return rc;
}

int hm_ks_import(struct hm_keystore *ks, const char *tenant, const char *container, int64_t now,
		 int64_t grace_seconds, const char *keyid, const uint8_t *secret,
		 size_t secret_len, struct hm_ks_added *out)
{
	struct ks_op op = { .now = now, .import = secret, .import_len = secret_len };
	int rc;

	ks->err[0] = '\0';
	if (secret == NULL || secret_len < HM_KEY_MIN || secret_len > HM_KEY_MAX) {
		ks_set_msg(ks->err, sizeof(ks->err), "secret must be %d to %d bytes", HM_KEY_MIN,
			   HM_KEY_MAX);
		rc = HM_EINVAL;
	} else {
		rc = ks_op_grace(ks, &op, grace_seconds);
	}
	if (rc != HM_OK) {
		if (out != NULL)
			memset(out, 0, sizeof(*out));
		return rc;
	}
	return ks_add(ks, ks_body_import, &op, tenant, container, keyid, out);
}

int hm_ks_revoke(struct hm_keystore *ks, const char *tenant, const char *container,
		 uint32_t epoch)
{
	struct ks_op op = { .epoch = epoch };
	int rc;

	ks->err[0] = '\0';
	rc = ks_op_scope(ks, &op, tenant, container);
	if (rc != HM_OK)
		return rc;
	if (epoch == 0)
		return HM_ENOTFOUND; /* epochs start at 1 */
	return ks_write(ks, ks_body_revoke, &op);
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

/*
 * hm_ks_list and hm_ks_policy_list: checks tenant (NULL: every tenant), then walks its keys in
 * dbi in one read transaction. HM_OK, HM_EINVAL (bad tenant name), HM_ESTORE, or row's value.
 */
static int ks_list(struct hm_keystore *ks, MDB_dbi dbi, const char *tenant, ks_row_fn row,
		   void *arg)
{
	uint8_t prefix[1 + KS_NAME_MAX];
	MDB_txn *txn = NULL;
	size_t plen = 0, tl;
	int rc;

	ks->err[0] = '\0';
	if (tenant != NULL) {
		tl = strnlen(tenant, KS_NAME_MAX + 1);
		if (!ks_scope_name_ok(tenant, tl)) {
			ks_set_msg(ks->err, sizeof(ks->err), "bad tenant name");
			return HM_EINVAL;
		}
		prefix[0] = (uint8_t)tl;
		memcpy(prefix + 1, tenant, tl);
		plen = 1 + tl;
	}
	rc = ks_read_begin(ks, &txn);
	if (rc != HM_OK)
		return rc;
	rc = ks_walk(ks, txn, dbi, prefix, plen, row, arg);
	mdb_txn_abort(txn);
	return rc;
}

/* The caller's callback of hm_ks_list or hm_ks_policy_list, for the row functions. */
struct ks_list_cb {
	int (*key)(const struct hm_key_info *info, void *arg);
	int (*policy)(const struct hm_policy_info *info, void *arg);
	void *arg;
};

static int ks_key_row(struct hm_keystore *ks, MDB_cursor *cur, MDB_val *k, MDB_val *v,
		      void *arg)
{
	const struct ks_list_cb *cb = arg;
	struct hm_key_info info;
	struct ks_meta m;
	int rc;

	rc = key_decode(ks, k, &info);
	if (rc != HM_OK)
		return rc;
	rc = ks_rec_check(v->mv_data, v->mv_size, &m, ks->err, sizeof(ks->err));
	if (rc != HM_OK)
		return rc;
	info.state = (enum hm_key_state)m.state;
	info.created = m.created;
	info.deadline = m.deadline;
	memcpy(info.keyid, m.keyid, m.keyid_len);
	info.keyid[m.keyid_len] = '\0';
	return cb->key(&info, cb->arg);
}

int hm_ks_list(struct hm_keystore *ks, const char *tenant,
	       int (*fn)(const struct hm_key_info *info, void *arg), void *arg)
{
	struct ks_list_cb cb = { .key = fn, .arg = arg };

	return ks_list(ks, ks->keys, tenant, ks_key_row, &cb);
}

/* ---- coverage policies ---- */

static int ks_body_policy_set(struct hm_keystore *ks, MDB_txn *txn, struct ks_op *op)
{
	MDB_val k = { .mv_size = op->plen, .mv_data = op->prefix };
	MDB_val v = { .mv_size = op->pval_len, .mv_data = (void *)op->pval };
	int mrc;

	mrc = mdb_put(txn, ks->policies, &k, &v, 0);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_put(policies)", mrc);
	return HM_OK;
}

static int ks_body_policy_unset(struct hm_keystore *ks, MDB_txn *txn, struct ks_op *op)
{
	MDB_val k = { .mv_size = op->plen, .mv_data = op->prefix };
	int mrc;

	mrc = mdb_del(txn, ks->policies, &k, NULL);
	if (mrc == MDB_NOTFOUND) {
		ks_set_msg(ks->err, sizeof(ks->err), "no policy stored");
		return HM_ENOTFOUND;
	}
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_del(policies)", mrc);
	return HM_OK;
}

int hm_ks_policy_set(struct hm_keystore *ks, const char *tenant, const char *container,
		     const struct hm_policy *p)
{
	uint8_t enc[HM_POLICY_ENC_MAX];
	struct ks_op op = { .now = 0 };
	size_t len = 0;
	int rc;

	ks->err[0] = '\0';
	rc = ks_op_names(ks, &op, tenant, container, true);
	if (rc != HM_OK)
		return rc;
	if (p->ncomponents < 1 || hm_policy_encode(p, enc, sizeof(enc), &len) != HM_OK) {
		ks_set_msg(ks->err, sizeof(ks->err),
			   "a policy needs 1..%d canonical components", HM_POLICY_MAX_COMPONENTS);
		return HM_EINVAL;
	}
	op.pval = enc;
	op.pval_len = len;
	return ks_write(ks, ks_body_policy_set, &op);
}

int hm_ks_policy_unset(struct hm_keystore *ks, const char *tenant, const char *container)
{
	struct ks_op op = { .now = 0 };
	int rc;

	ks->err[0] = '\0';
	rc = ks_op_names(ks, &op, tenant, container, true);
	if (rc != HM_OK)
		return rc;
	return ks_write(ks, ks_body_policy_unset, &op);
}

int hm_ks_policy_get(struct hm_keystore *ks, const char *tenant, const char *container,
		     struct hm_policy *out, enum hm_policy_source *src)
{
	struct ks_op op = { .now = 0 };
	size_t tl, cl;
	MDB_txn *txn = NULL;
	int rc;

	ks->err[0] = '\0';
	*src = HM_POLICY_DEFAULT;
	rc = ks_op_names(ks, &op, tenant, container, true);
	if (rc != HM_OK)
		return rc;
	tl = strlen(tenant);
	cl = container != NULL ? strlen(container) : 0;
	rc = ks_read_begin(ks, &txn);
	if (rc != HM_OK)
		return rc;
	rc = ks_policy_find(txn, ks->policies, (const uint8_t *)tenant, tl,
			    (const uint8_t *)(container != NULL ? container : ""), cl, out, src,
			    ks->err, sizeof(ks->err));
	mdb_txn_abort(txn);
	if (rc == HM_ENOTFOUND) {
		hm_policy_default(out);
		*src = HM_POLICY_DEFAULT;
		return HM_OK;
	}
	return rc;
}

static int ks_policy_row(struct hm_keystore *ks, MDB_cursor *cur, MDB_val *k, MDB_val *v,
			 void *arg)
{
	const struct ks_list_cb *cb = arg;
	struct hm_policy_info info;
	const uint8_t *p = k->mv_data;
	size_t tl = 0, cl = 0;
	const char *why;

	why = ks_scope_split(p, k->mv_size, 0, true, &tl, &cl);
	if (why != NULL)
		return ks_corrupt(ks, why, k->mv_size);
	memset(&info, 0, sizeof(info));
	memcpy(info.tenant, p + 1, tl);
	memcpy(info.container, p + 2 + tl, cl);
	info.source = cl > 0 ? HM_POLICY_SCOPE : HM_POLICY_TENANT;
	if (hm_policy_decode(v->mv_data, v->mv_size, &info.policy) != HM_OK)
		return ks_corrupt(ks, "bad policy record", v->mv_size);
	return cb->policy(&info, cb->arg);
}

int hm_ks_policy_list(struct hm_keystore *ks, const char *tenant,
		      int (*fn)(const struct hm_policy_info *info, void *arg), void *arg)
{
	struct ks_list_cb cb = { .policy = fn, .arg = arg };

	return ks_list(ks, ks->policies, tenant, ks_policy_row, &cb);
}
