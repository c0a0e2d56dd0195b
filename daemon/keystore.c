/*
 * keystore.c - the LMDB key store (see keystore.h, layout and caveats in doc/keystore.md).
 *
 * One LMDB environment per handle with two named databases:
 *   "meta": "schema" -> u32 little-endian HM_KS_SCHEMA_VERSION
 *   "keys": [u8 tenant_len][tenant][u8 container_len][container][u32 big-endian epoch]
 *           -> a fixed 64-byte little-endian record (KS_REC_*), never a C struct image.
 * The length bytes make a scope's key prefix unique (tenant "t1" never matches "t10"), and the
 * big-endian epoch makes LMDB's memcmp order walk a scope's epochs ascending.
 *
 * Every admin change is one write transaction run by ks_write(), which aborts on any error,
 * and on MDB_MAP_FULL doubles the map and runs the whole transaction again. Secrets only exist in
 * the caller's output buffer and in stack buffers that are wiped with OPENSSL_cleanse as soon as
 * LMDB has copied them.
 */
#include "keystore.h"

#include "msg.h"

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

#define KS_ERRLEN 256
#define KS_NAME_MAX 128
#define KS_KEY_MAX (1 + KS_NAME_MAX + 1 + KS_NAME_MAX + 4)
#define KS_MAXDBS 2 /* "meta" and "keys" */
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

/* The value record of "keys", format 1: all integers little-endian. */
#define KS_REC_FORMAT 1u
#define KS_REC_LEN 64
#define KS_REC_OFF_FORMAT 0    /* u32 */
#define KS_REC_OFF_STATE 4     /* u32 enum hm_key_state */
#define KS_REC_OFF_CREATED 8   /* i64 unix seconds */
#define KS_REC_OFF_DEADLINE 16 /* i64 unix seconds, 0 unless superseded */
#define KS_REC_OFF_SECRET 24   /* HM_KEY_LEN bytes, zero when revoked */
#define KS_REC_OFF_RESERVED 56 /* 8 bytes, zero */

static const char ks_db_meta[] = "meta";
static const char ks_db_keys[] = "keys";
static const char ks_schema_key[] = "schema";

struct hm_keystore {
	MDB_env *env;
	MDB_dbi keys;
	bool reader_env; /* opened MDB_RDONLY with the large map: never writes */
	size_t map_size; /* the map size asked for at open */
	bool map_full;   /* the last failed LMDB call of a write said MDB_MAP_FULL */
	/*
	 * Read batches open on a writable handle. Changing the map size with a transaction open
	 * in this process is undefined in LMDB, so ks_grow() refuses while this is non-zero.
	 * Only counted for writable handles, so hmacd's workers never touch it.
	 */
	atomic_uint open_batches;
	char err[KS_ERRLEN];
};

struct hm_ks_reader {
	struct hm_keystore *ks;
	MDB_txn *txn; /* MDB_RDONLY, begun once; reset between batches, renewed per batch */
	bool active;
	char err[KS_ERRLEN];
};

/* Decoded record fields other than the secret. */
struct ks_meta {
	uint32_t state;
	int64_t created;
	int64_t deadline;
};

/* Arguments and results of one write transaction body. */
struct ks_op {
	uint8_t prefix[KS_KEY_MAX]; /* scope key prefix, room for the epoch after it */
	size_t plen;
	int64_t now;
	int64_t deadline; /* rotate: deadline given to the epoch it supersedes */
	uint32_t epoch;   /* revoke: in; create/rotate: out */
	uint8_t *secret;  /* create/rotate: the caller's output buffer */
};

typedef int (*ks_body_fn)(struct hm_keystore *ks, MDB_txn *txn, struct ks_op *op);

/* ---- small helpers ---- */

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le64(uint8_t *p, int64_t v)
{
	uint64_t u = (uint64_t)v; /* two's complement by definition of the conversion */

	put_le32(p, (uint32_t)u);
	put_le32(p + 4, (uint32_t)(u >> 32));
}

static int64_t get_le64(const uint8_t *p)
{
	uint64_t u = (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;

	/* Portable inverse of put_le64(): no implementation-defined narrowing. */
	if (u <= (uint64_t)INT64_MAX)
		return (int64_t)u;
	return -(int64_t)(UINT64_MAX - u) - 1;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void set_msg(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_msg(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (buf == NULL || len == 0)
		return;
	va_start(ap, fmt);
	/* Truncation is acceptable for a diagnostic; the buffer is always terminated. */
	(void)vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* Records an LMDB failure on the handle and returns HM_ESTORE. */
static int ks_mdb_fail(struct hm_keystore *ks, const char *call, int mrc)
{
	if (mrc == MDB_MAP_FULL)
		ks->map_full = true;
	set_msg(ks->err, sizeof(ks->err), "%s: %s", call, mdb_strerror(mrc));
	return HM_ESTORE;
}

static int ks_corrupt(struct hm_keystore *ks, const char *what, size_t size)
{
	set_msg(ks->err, sizeof(ks->err), "corrupt key store: %s (%zu bytes)", what, size);
	return HM_ESTORE;
}

const char *hm_key_state_name(enum hm_key_state s)
{
	switch (s) {
	case HM_KEY_CURRENT:
		return "current";
	case HM_KEY_SUPERSEDED:
		return "superseded";
	case HM_KEY_REVOKED:
		return "revoked";
	}
	return "unknown";
}

bool hm_scope_name_ok(const char *s, size_t len)
{
	/* the one rule, shared with the wire decoder */
	return len <= KS_NAME_MAX && hm_scope_ok((const uint8_t *)s, len);
}

/* ---- keys and records ---- */

/* Writes the scope prefix [tl][tenant][cl][container]; lengths must be 1..KS_NAME_MAX. */
static size_t key_prefix(uint8_t out[static KS_KEY_MAX], const uint8_t *t, size_t tl,
			 const uint8_t *c, size_t cl)
{
	size_t n = 0;

	out[n++] = (uint8_t)tl;
	memcpy(out + n, t, tl);
	n += tl;
	out[n++] = (uint8_t)cl;
	memcpy(out + n, c, cl);
	n += cl;
	return n;
}

/* Splits a stored key into info->tenant, container, epoch. HM_OK or HM_ESTORE. */
static int key_decode(struct hm_keystore *ks, const MDB_val *k, struct hm_key_info *info)
{
	const uint8_t *p = k->mv_data;
	size_t tl, cl;

	if (k->mv_size < 1 + 1 + 1 + 1 + 4)
		return ks_corrupt(ks, "short key", k->mv_size);
	tl = p[0];
	if (tl < 1 || tl > KS_NAME_MAX || k->mv_size < 1 + tl + 1 + 1 + 4)
		return ks_corrupt(ks, "bad tenant length in key", k->mv_size);
	cl = p[1 + tl];
	if (cl < 1 || cl > KS_NAME_MAX || k->mv_size != 1 + tl + 1 + cl + 4)
		return ks_corrupt(ks, "bad container length in key", k->mv_size);
	if (!hm_scope_name_ok((const char *)p + 1, tl) ||
	    !hm_scope_name_ok((const char *)p + 2 + tl, cl))
		return ks_corrupt(ks, "bad scope name in key", k->mv_size);
	memcpy(info->tenant, p + 1, tl);
	info->tenant[tl] = '\0';
	memcpy(info->container, p + 2 + tl, cl);
	info->container[cl] = '\0';
	info->epoch = get_be32(p + 2 + tl + cl);
	if (info->epoch == 0)
		return ks_corrupt(ks, "epoch 0 in key", k->mv_size);
	return HM_OK;
}

/* Encodes a record. secret == NULL stores zeros (a revoked epoch). */
static void rec_encode(uint8_t out[static KS_REC_LEN], const struct ks_meta *m,
		       const uint8_t *secret)
{
	memset(out, 0, KS_REC_LEN);
	put_le32(out + KS_REC_OFF_FORMAT, KS_REC_FORMAT);
	put_le32(out + KS_REC_OFF_STATE, m->state);
	put_le64(out + KS_REC_OFF_CREATED, m->created);
	put_le64(out + KS_REC_OFF_DEADLINE, m->deadline);
	if (secret != NULL)
		memcpy(out + KS_REC_OFF_SECRET, secret, HM_KEY_LEN);
}

/*
 * Checks a stored record and decodes everything but the secret. Writes a reason to
 * err[0..errlen) and returns HM_ESTORE if the record is not one this build wrote.
 */
static int rec_check(const MDB_val *v, struct ks_meta *m, char *err, size_t errlen)
{
	const uint8_t *p = v->mv_data;
	uint32_t format;
	size_t i;

	if (v->mv_size != KS_REC_LEN) {
		set_msg(err, errlen, "corrupt key store: record of %zu bytes, want %d", v->mv_size,
			KS_REC_LEN);
		return HM_ESTORE;
	}
	format = get_le32(p + KS_REC_OFF_FORMAT);
	if (format != KS_REC_FORMAT) {
		set_msg(err, errlen, "key record format %u, this build reads %u", format,
			KS_REC_FORMAT);
		return HM_ESTORE;
	}
	m->state = get_le32(p + KS_REC_OFF_STATE);
	m->created = get_le64(p + KS_REC_OFF_CREATED);
	m->deadline = get_le64(p + KS_REC_OFF_DEADLINE);
	if (m->state < HM_KEY_CURRENT || m->state > HM_KEY_REVOKED || m->created < 0 ||
	    m->deadline < 0) {
		set_msg(err, errlen, "corrupt key store: bad state or times in a key record");
		return HM_ESTORE;
	}
	for (i = KS_REC_OFF_RESERVED; i < KS_REC_LEN; i++) {
		if (p[i] != 0) {
			set_msg(err, errlen,
				"corrupt key store: reserved bytes set in a key record");
			return HM_ESTORE;
		}
	}
	return HM_OK;
}

/* ---- environment ---- */

static int ks_stat_dir(const char *dir, bool create, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;
	size_t len, i;

	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			set_msg(err, errlen, "%s: not a directory", dir);
			return HM_ESTORE;
		}
		return HM_OK;
	}
	if (errno != ENOENT) {
		set_msg(err, errlen, "stat %s: %s", dir, strerror(errno));
		return HM_ESTORE;
	}
	if (!create) {
		set_msg(err, errlen, "no key store at %s", dir);
		return HM_ENOTFOUND;
	}
	len = strlen(dir);
	if (len >= sizeof(path)) {
		set_msg(err, errlen, "store path too long (%zu bytes)", len);
		return HM_ESTORE;
	}
	memcpy(path, dir, len + 1);
	/* mkdir -p: every directory we create is private to the owner. */
	for (i = 1; i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, KS_DIR_MODE) != 0 && errno != EEXIST) {
			set_msg(err, errlen, "mkdir %s: %s", path, strerror(errno));
			return HM_ESTORE;
		}
		path[i] = dir[i];
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		set_msg(err, errlen, "%s: not a directory", dir);
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
		set_msg(err, errlen, "store path too long");
		return HM_ESTORE;
	}
	if (stat(path, &st) == 0) {
		*exists = true;
		return HM_OK;
	}
	if (errno == ENOENT)
		return HM_OK;
	set_msg(err, errlen, "stat %s: %s", path, strerror(errno));
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

static int ks_schema_check(struct hm_keystore *ks, const MDB_val *v)
{
	uint32_t version;

	if (v->mv_size != 4) {
		set_msg(ks->err, sizeof(ks->err), "schema record of %zu bytes, want 4", v->mv_size);
		return HM_ESCHEMA;
	}
	version = get_le32(v->mv_data);
	if (version != HM_KS_SCHEMA_VERSION) {
		set_msg(ks->err, sizeof(ks->err), "store schema version %u, this build supports %u",
			version, HM_KS_SCHEMA_VERSION);
		return HM_ESCHEMA;
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
	MDB_dbi meta, keys;
	MDB_val k = { .mv_size = sizeof(ks_schema_key) - 1, .mv_data = (void *)ks_schema_key };
	MDB_val v;
	size_t n = 0;
	int rc, mrc;

	mrc = mdb_txn_begin(ks->env, NULL, MDB_RDONLY, &txn);
	if (mrc != 0) {
		txn = NULL;
		rc = ks_mdb_fail(ks, "mdb_txn_begin", mrc);
		goto out;
	}
	mrc = mdb_dbi_open(txn, ks_db_meta, 0, &meta);
	if (mrc == MDB_NOTFOUND) {
		rc = ks_main_entries(ks, txn, &n);
		if (rc != HM_OK)
			goto out;
		if (n != 0) {
			set_msg(ks->err, sizeof(ks->err),
				"not an hmacd key store (no meta database)");
			rc = HM_ESCHEMA;
			goto out;
		}
		set_msg(ks->err, sizeof(ks->err), "key store not initialised");
		rc = HM_ENOTFOUND;
		goto out;
	}
	if (mrc != 0) {
		rc = ks_mdb_fail(ks, "mdb_dbi_open(meta)", mrc);
		goto out;
	}
	mrc = mdb_get(txn, meta, &k, &v);
	if (mrc == MDB_NOTFOUND) {
		set_msg(ks->err, sizeof(ks->err), "key store has no schema record");
		rc = HM_ESCHEMA;
		goto out;
	}
	if (mrc != 0) {
		rc = ks_mdb_fail(ks, "mdb_get(schema)", mrc);
		goto out;
	}
	rc = ks_schema_check(ks, &v);
	if (rc != HM_OK)
		goto out;
	mrc = mdb_dbi_open(txn, ks_db_keys, 0, &keys);
	if (mrc == MDB_NOTFOUND) {
		set_msg(ks->err, sizeof(ks->err), "key store has no keys database");
		rc = HM_ESCHEMA;
		goto out;
	}
	if (mrc != 0) {
		rc = ks_mdb_fail(ks, "mdb_dbi_open(keys)", mrc);
		goto out;
	}
	/* Committing a read transaction is what keeps the database handles open. */
	mrc = mdb_txn_commit(txn);
	txn = NULL;
	if (mrc != 0) {
		rc = ks_mdb_fail(ks, "mdb_txn_commit", mrc);
		goto out;
	}
	ks->keys = keys;
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
		set_msg(ks->err, sizeof(ks->err),
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
		set_msg(ks->err, sizeof(ks->err), "key store full: map reached the %zu MiB limit",
			KS_MAP_MAX >> 20);
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

/*
 * Runs body in one write transaction and commits it, or aborts it if anything failed: an
 * LMDB transaction that hit an error is never committed. MDB_MAP_FULL (from a put or from the
 * commit) grows the map and reruns the whole transaction from the start, at most
 * KS_WRITE_RETRIES times.
 */
static int ks_write(struct hm_keystore *ks, ks_body_fn body, struct ks_op *op)
{
	MDB_txn *txn = NULL;
	unsigned attempt;
	int rc, mrc;

	if (ks->reader_env) {
		set_msg(ks->err, sizeof(ks->err), "store opened read-only (HM_KS_READER)");
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
	MDB_val k = { .mv_size = sizeof(ks_schema_key) - 1, .mv_data = (void *)ks_schema_key };
	uint8_t ver[4];
	MDB_val v = { .mv_size = sizeof(ver), .mv_data = ver };
	MDB_dbi meta, keys;
	size_t n = 0;
	int rc, mrc;

	(void)op;
	mrc = mdb_dbi_open(txn, ks_db_meta, 0, &meta);
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
		set_msg(ks->err, sizeof(ks->err), "not an hmacd key store (no meta database)");
		return HM_ESCHEMA;
	}
	mrc = mdb_dbi_open(txn, ks_db_meta, MDB_CREATE, &meta);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_dbi_open(meta)", mrc);
	mrc = mdb_dbi_open(txn, ks_db_keys, MDB_CREATE, &keys);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_dbi_open(keys)", mrc);
	put_le32(ver, HM_KS_SCHEMA_VERSION);
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
	put_be32(probe + op->plen, UINT32_MAX);
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
	*last = get_be32((const uint8_t *)k.mv_data + op->plen);
	if (*last == 0) {
		rc = ks_corrupt(ks, "epoch 0 in key", k.mv_size);
		goto out;
	}
	rc = HM_OK;
out:
	mdb_cursor_close(cur);
	return rc;
}

/* Stores epoch op->epoch of the scope as current with a fresh secret in op->secret. */
static int ks_put_new_epoch(struct hm_keystore *ks, MDB_txn *txn, struct ks_op *op)
{
	uint8_t key[KS_KEY_MAX], rec[KS_REC_LEN];
	struct ks_meta m = { .state = HM_KEY_CURRENT, .created = op->now, .deadline = 0 };
	MDB_val k = { .mv_size = op->plen + 4, .mv_data = key };
	MDB_val v = { .mv_size = sizeof(rec), .mv_data = rec };
	const char *why = NULL;
	unsigned long e;
	int mrc;

	if (RAND_bytes(op->secret, HM_KEY_LEN) != 1) {
		e = ERR_get_error();
		if (e != 0)
			why = ERR_reason_error_string(e);
		set_msg(ks->err, sizeof(ks->err), "RAND_bytes: %s", why != NULL ? why : "failed");
		return HM_ECRYPTO;
	}
	memcpy(key, op->prefix, op->plen);
	put_be32(key + op->plen, op->epoch);
	rec_encode(rec, &m, op->secret);
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
	if (rc == HM_OK)
		return HM_EEXIST;
	if (rc != HM_ENOTFOUND)
		return rc;
	op->epoch = 1;
	return ks_put_new_epoch(ks, txn, op);
}

/* Marks every current epoch of the scope superseded with deadline op->deadline. */
static int ks_supersede(struct hm_keystore *ks, MDB_txn *txn, struct ks_op *op)
{
	uint8_t rec[KS_REC_LEN];
	MDB_cursor *cur = NULL;
	MDB_val k = { .mv_size = op->plen, .mv_data = op->prefix };
	MDB_val v, nv = { .mv_size = sizeof(rec), .mv_data = rec };
	struct ks_meta m;
	int rc, mrc;

	mrc = mdb_cursor_open(txn, ks->keys, &cur);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_cursor_open", mrc);
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); mrc == 0;
	     mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < op->plen || memcmp(k.mv_data, op->prefix, op->plen) != 0)
			break;
		rc = rec_check(&v, &m, ks->err, sizeof(ks->err));
		if (rc != HM_OK)
			goto out;
		if (m.state != HM_KEY_CURRENT)
			continue;
		/* Rewrite state and deadline only; the secret bytes are carried over. */
		memcpy(rec, v.mv_data, sizeof(rec));
		put_le32(rec + KS_REC_OFF_STATE, HM_KEY_SUPERSEDED);
		put_le64(rec + KS_REC_OFF_DEADLINE, op->deadline);
		mrc = mdb_cursor_put(cur, &k, &nv, MDB_CURRENT);
		OPENSSL_cleanse(rec, sizeof(rec));
		if (mrc != 0) {
			rc = ks_mdb_fail(ks, "mdb_cursor_put", mrc);
			goto out;
		}
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

static int ks_body_rotate(struct hm_keystore *ks, MDB_txn *txn, struct ks_op *op)
{
	uint32_t last = 0;
	int rc;

	rc = ks_last_epoch(ks, txn, op, &last);
	if (rc != HM_OK)
		return rc;
	if (last == UINT32_MAX) {
		set_msg(ks->err, sizeof(ks->err), "epoch numbers of this scope are exhausted");
		return HM_ESTATE;
	}
	rc = ks_supersede(ks, txn, op);
	if (rc != HM_OK)
		return rc;
	op->epoch = last + 1;
	return ks_put_new_epoch(ks, txn, op);
}

static int ks_body_revoke(struct hm_keystore *ks, MDB_txn *txn, struct ks_op *op)
{
	uint8_t key[KS_KEY_MAX], rec[KS_REC_LEN];
	MDB_val k = { .mv_size = op->plen + 4, .mv_data = key };
	MDB_val v, nv = { .mv_size = sizeof(rec), .mv_data = rec };
	struct ks_meta m;
	int rc, mrc;

	memcpy(key, op->prefix, op->plen);
	put_be32(key + op->plen, op->epoch);
	mrc = mdb_get(txn, ks->keys, &k, &v);
	if (mrc == MDB_NOTFOUND)
		return HM_ENOTFOUND;
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_get", mrc);
	rc = rec_check(&v, &m, ks->err, sizeof(ks->err));
	if (rc != HM_OK)
		return rc;
	if (m.state == HM_KEY_REVOKED)
		return HM_ESTATE;
	/* Re-encode without the secret: the stored bytes become zeros, no copy is made. */
	m.state = HM_KEY_REVOKED;
	m.deadline = 0;
	rec_encode(rec, &m, NULL);
	mrc = mdb_put(txn, ks->keys, &k, &nv, 0);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_put", mrc);
	return HM_OK;
}

/* Validates the scope names and fills op->prefix. HM_OK or HM_EINVAL. */
static int ks_op_scope(struct hm_keystore *ks, struct ks_op *op, const char *tenant,
		       const char *container)
{
	size_t tl, cl;

	if (tenant == NULL || container == NULL) {
		set_msg(ks->err, sizeof(ks->err), "tenant and container are required");
		return HM_EINVAL;
	}
	tl = strnlen(tenant, KS_NAME_MAX + 1);
	cl = strnlen(container, KS_NAME_MAX + 1);
	if (!hm_scope_name_ok(tenant, tl) || !hm_scope_name_ok(container, cl)) {
		set_msg(ks->err, sizeof(ks->err),
			"tenant and container must be 1..%d bytes of [A-Za-z0-9._:/-]",
			KS_NAME_MAX);
		return HM_EINVAL;
	}
	op->plen = key_prefix(op->prefix, (const uint8_t *)tenant, tl,
			      (const uint8_t *)container, cl);
	return HM_OK;
}

/* ---- public API: open/close ---- */

/*
 * Opens an environment in the existing directory dir and attaches to the store in it; an admin
 * handle with `create` initialises an empty environment. On failure the reason goes to err.
 */
static int ks_open_handle(const char *dir, bool reader, bool create, struct hm_keystore **out,
			  char *err, size_t errlen)
{
	struct hm_keystore *ks;
	int rc, open_rc = 0;

	*out = NULL;
	ks = calloc(1, sizeof(*ks));
	if (ks == NULL) {
		set_msg(err, errlen, "out of memory");
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
	if (rc == HM_ENOTFOUND)
		set_msg(ks->err, sizeof(ks->err), "key store in %s not initialised", dir);
	if (rc != HM_OK)
		goto out;
	ks->err[0] = '\0';
	*out = ks;
	ks = NULL;
out:
	if (ks != NULL) {
		set_msg(err, errlen, "%s", ks->err);
		hm_ks_close(ks);
	}
	return rc;
}

/*
 * A reader environment is MDB_RDONLY, so it cannot write the schema record: the store is
 * created and initialised with a short-lived ordinary environment, closed before the reader
 * opens its own (one environment per process at a time). This also keeps the store's recorded
 * map size at 8 MiB: LMDB records the map size of whoever commits, never a reader's 64 GiB.
 */
static int ks_init_store(const char *dir, char *err, size_t errlen)
{
	struct hm_keystore *tmp = NULL;
	int rc;

	rc = ks_open_handle(dir, false, true, &tmp, err, errlen);
	hm_ks_close(tmp);
	return rc;
}

int hm_ks_open(const char *dir, unsigned flags, struct hm_keystore **out, char *err,
	       size_t errlen)
{
	bool create = (flags & HM_KS_CREATE) != 0;
	bool reader = (flags & HM_KS_READER) != 0;
	bool exists = false;
	int rc;

	*out = NULL;
	set_msg(err, errlen, "%s", "");
	if (dir == NULL || dir[0] == '\0' || (flags & ~(unsigned)(HM_KS_CREATE | HM_KS_READER))) {
		set_msg(err, errlen, "bad arguments to hm_ks_open");
		return HM_EINVAL;
	}
	rc = ks_stat_dir(dir, create, err, errlen);
	if (rc != HM_OK)
		return rc;
	rc = ks_data_exists(dir, &exists, err, errlen);
	if (rc != HM_OK)
		return rc;
	if (!exists && !create) {
		set_msg(err, errlen, "no key store in %s", dir);
		return HM_ENOTFOUND;
	}
	if (reader && create && !exists) {
		rc = ks_init_store(dir, err, errlen);
		if (rc != HM_OK)
			return rc;
	}
	rc = ks_open_handle(dir, reader, create, out, err, errlen);
	if (rc == HM_ENOTFOUND && reader && create) {
		/* data.mdb without databases: an earlier creation was interrupted */
		rc = ks_init_store(dir, err, errlen);
		if (rc == HM_OK)
			rc = ks_open_handle(dir, reader, create, out, err, errlen);
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

int hm_ks_create(struct hm_keystore *ks, const char *tenant, const char *container, int64_t now,
		 uint32_t *epoch, uint8_t secret[static HM_KEY_LEN])
{
	struct ks_op op = { .now = now, .secret = secret };
	int rc;

	ks->err[0] = '\0';
	*epoch = 0;
	rc = ks_op_scope(ks, &op, tenant, container);
	if (rc != HM_OK)
		goto out;
	if (now < 0) {
		set_msg(ks->err, sizeof(ks->err), "negative time");
		rc = HM_EINVAL;
		goto out;
	}
	rc = ks_write(ks, ks_body_create, &op);
	if (rc != HM_OK)
		goto out;
	*epoch = op.epoch;
out:
	if (rc != HM_OK)
		OPENSSL_cleanse(secret, HM_KEY_LEN);
	return rc;
}

int hm_ks_rotate(struct hm_keystore *ks, const char *tenant, const char *container, int64_t now,
		 int64_t grace_seconds, uint32_t *epoch, uint8_t secret[static HM_KEY_LEN])
{
	struct ks_op op = { .now = now, .secret = secret };
	int rc;

	ks->err[0] = '\0';
	*epoch = 0;
	rc = ks_op_scope(ks, &op, tenant, container);
	if (rc != HM_OK)
		goto out;
	if (now < 0 || grace_seconds < 0 || grace_seconds > INT64_MAX - now) {
		set_msg(ks->err, sizeof(ks->err), "time or grace out of range");
		rc = HM_EINVAL;
		goto out;
	}
	op.deadline = now + grace_seconds;
	rc = ks_write(ks, ks_body_rotate, &op);
	if (rc != HM_OK)
		goto out;
	*epoch = op.epoch;
out:
	if (rc != HM_OK)
		OPENSSL_cleanse(secret, HM_KEY_LEN);
	return rc;
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

/* Begins a read transaction on an admin or reader handle. */
static int ks_read_begin(struct hm_keystore *ks, MDB_txn **txn)
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

int hm_ks_list(struct hm_keystore *ks, const char *tenant,
	       int (*fn)(const struct hm_key_info *info, void *arg), void *arg)
{
	uint8_t prefix[KS_KEY_MAX];
	struct hm_key_info info;
	struct ks_meta m;
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k = { 0 }, v;
	size_t plen = 0, tl;
	int rc, mrc;

	ks->err[0] = '\0';
	if (tenant != NULL) {
		tl = strnlen(tenant, KS_NAME_MAX + 1);
		if (!hm_scope_name_ok(tenant, tl)) {
			set_msg(ks->err, sizeof(ks->err), "bad tenant name");
			return HM_EINVAL;
		}
		prefix[0] = (uint8_t)tl;
		memcpy(prefix + 1, tenant, tl);
		plen = 1 + tl;
		k.mv_data = prefix;
		k.mv_size = plen;
	}
	rc = ks_read_begin(ks, &txn);
	if (rc != HM_OK)
		return rc;
	mrc = mdb_cursor_open(txn, ks->keys, &cur);
	if (mrc != 0) {
		cur = NULL;
		rc = ks_mdb_fail(ks, "mdb_cursor_open", mrc);
		goto out;
	}
	mrc = mdb_cursor_get(cur, &k, &v, tenant != NULL ? MDB_SET_RANGE : MDB_FIRST);
	for (; mrc == 0; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
			break;
		rc = key_decode(ks, &k, &info);
		if (rc != HM_OK)
			goto out;
		rc = rec_check(&v, &m, ks->err, sizeof(ks->err));
		if (rc != HM_OK)
			goto out;
		info.state = (enum hm_key_state)m.state;
		info.created = m.created;
		info.deadline = m.deadline;
		rc = fn(&info, arg);
		if (rc != 0)
			goto out;
	}
	if (mrc != 0 && mrc != MDB_NOTFOUND) {
		rc = ks_mdb_fail(ks, "mdb_cursor_get", mrc);
		goto out;
	}
	rc = HM_OK;
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rc;
}

/* ---- public API: the daemon's read path ---- */

static int rd_fail(struct hm_ks_reader *rd, const char *call, int mrc)
{
	set_msg(rd->err, sizeof(rd->err), "%s: %s", call, mdb_strerror(mrc));
	return HM_ESTORE;
}

int hm_ks_reader_new(struct hm_keystore *ks, struct hm_ks_reader **out)
{
	struct hm_ks_reader *rd;
	int mrc;

	*out = NULL;
	rd = calloc(1, sizeof(*rd));
	if (rd == NULL)
		return HM_ENOMEM;
	rd->ks = ks;
	/* Begun once to claim a reader slot; reset at once so it pins no snapshot while idle. */
	mrc = mdb_txn_begin(ks->env, NULL, MDB_RDONLY, &rd->txn);
	if (mrc != 0) {
		set_msg(ks->err, sizeof(ks->err), "mdb_txn_begin: %s", mdb_strerror(mrc));
		free(rd);
		return HM_ESTORE;
	}
	mdb_txn_reset(rd->txn);
	*out = rd;
	return HM_OK;
}

void hm_ks_reader_free(struct hm_ks_reader *rd)
{
	if (rd == NULL)
		return;
	hm_ks_reader_end(rd);
	mdb_txn_abort(rd->txn); /* releases the reader slot */
	free(rd);
}

int hm_ks_reader_begin(struct hm_ks_reader *rd, uint64_t *txnid)
{
	int mrc;

	*txnid = 0;
	if (rd->active)
		hm_ks_reader_end(rd);
	mrc = mdb_txn_renew(rd->txn);
	if (mrc == MDB_MAP_RESIZED) {
		/*
		 * Adopting the new size needs mdb_env_set_mapsize() with no transaction open
		 * in the process, which other workers' batches make impossible. Writers stop
		 * at the reader map size, so this takes a store grown by another tool.
		 */
		set_msg(rd->err, sizeof(rd->err),
			"mdb_txn_renew: the store outgrew this process's %zu MiB map; restart it",
			rd->ks->map_size >> 20);
		return HM_ESTORE;
	}
	if (mrc != 0)
		return rd_fail(rd, "mdb_txn_renew", mrc);
	rd->active = true;
	if (!rd->ks->reader_env)
		atomic_fetch_add(&rd->ks->open_batches, 1);
	*txnid = (uint64_t)mdb_txn_id(rd->txn);
	return HM_OK;
}

const char *hm_ks_reader_errmsg(const struct hm_ks_reader *rd)
{
	return rd->err;
}

void hm_ks_reader_end(struct hm_ks_reader *rd)
{
	if (!rd->active)
		return;
	mdb_txn_reset(rd->txn);
	rd->active = false;
	if (!rd->ks->reader_env)
		atomic_fetch_sub(&rd->ks->open_batches, 1);
}

int hm_ks_lookup(struct hm_ks_reader *rd, const uint8_t *tenant, size_t tenant_len,
		 const uint8_t *container, size_t container_len, uint64_t epoch,
		 struct hm_key_rec *rec)
{
	uint8_t key[KS_KEY_MAX];
	MDB_val k, v;
	struct ks_meta m;
	int rc, mrc;

	if (!rd->active) {
		set_msg(rd->err, sizeof(rd->err), "hm_ks_lookup outside a batch");
		rc = HM_ESTORE;
		goto fail;
	}
	/* Names that could never have been stored are simply unknown. */
	if (tenant == NULL || container == NULL || tenant_len < 1 || tenant_len > KS_NAME_MAX ||
	    container_len < 1 || container_len > KS_NAME_MAX || epoch < 1 || epoch > UINT32_MAX) {
		rc = HM_ENOTFOUND;
		goto fail;
	}
	k.mv_size = key_prefix(key, tenant, tenant_len, container, container_len);
	put_be32(key + k.mv_size, (uint32_t)epoch);
	k.mv_size += 4;
	k.mv_data = key;
	mrc = mdb_get(rd->txn, rd->ks->keys, &k, &v);
	if (mrc == MDB_NOTFOUND) {
		rc = HM_ENOTFOUND;
		goto fail;
	}
	if (mrc != 0) {
		rc = rd_fail(rd, "mdb_get", mrc);
		goto fail;
	}
	rc = rec_check(&v, &m, rd->err, sizeof(rd->err));
	if (rc != HM_OK)
		goto fail;
	/* Copy out now: v points into the map and is only valid while the txn lives. */
	rec->state = (enum hm_key_state)m.state;
	rec->deadline = m.deadline;
	if (m.state == HM_KEY_REVOKED)
		memset(rec->secret, 0, HM_KEY_LEN);
	else
		memcpy(rec->secret, (const uint8_t *)v.mv_data + KS_REC_OFF_SECRET, HM_KEY_LEN);
	return HM_OK;
fail:
	OPENSSL_cleanse(rec, sizeof(*rec));
	return rc;
}
