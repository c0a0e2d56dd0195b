/*
 * test_keystore.c - unit tests of the LMDB key store (daemon/store/). Stored bytes are built and
 * read with store/record.h; the format itself is pinned byte by byte in test_record.c.
 *
 * Every test gets its own store in a fresh mkdtemp() directory that teardown removes. LMDB allows
 * one environment per store per process, so where a test needs a second view of the store (raw
 * LMDB to plant bad records or read stored bytes, or an admin writer beside hmacd's reader) it
 * either closes the first handle before opening the second or runs the second in a fork()ed
 * child that opens its own environment and never touches the parent's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <lmdb.h>

#include "store/keystore.h"
#include "store/record.h"

#define NOW 1700000000
#define MIB ((size_t)1 << 20)

struct fx {
	char dir[64];   /* the temp directory, removed at teardown */
	char store[96]; /* dir/db: a path that does not exist yet */
	struct hm_keystore *ks;
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup_in(void **state, const char *base)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/hm-ks-XXXXXX", base);
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->store, sizeof(f->store), "%s/db", f->dir);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_in(state, "/tmp");
}

/*
 * The map-growth test makes ~30k durable commits; on a tmpfs that is a fraction of a second,
 * on a disk with real fsync it can take longer than the whole suite should.
 */
static int setup_fast(void **state)
{
	struct stat st;

	if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0)
		return setup_in(state, "/dev/shm");
	return setup_in(state, "/tmp");
}

static int teardown(void **state)
{
	struct fx *f = *state;

	hm_ks_close(f->ks);
	(void)nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static struct hm_keystore *open_admin(struct fx *f)
{
	char err[256];
	int rc;

	rc = hm_ks_open(f->store, HM_KS_CREATE, &f->ks, err, sizeof(err));
	if (rc != HM_OK)
		fail_msg("hm_ks_open: %s: %s", hm_strerror(rc), err);
	return f->ks;
}

static void reopen_none(struct fx *f)
{
	hm_ks_close(f->ks);
	f->ks = NULL;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/*
 * The positional form of the tests written before key ids: the epoch out, a generated key id.
 * The key-id tests below call hm_ks_create/rotate/import directly.
 */
static int create1(struct hm_keystore *ks, const char *t, const char *c, int64_t now,
		   uint32_t *epoch, uint8_t secret[HM_KEY_LEN])
{
	struct hm_ks_added a;
	int rc = hm_ks_create(ks, t, c, now, NULL, secret, &a);

	*epoch = a.epoch;
	return rc;
}

static int rotate1(struct hm_keystore *ks, const char *t, const char *c, int64_t now,
		   int64_t grace, uint32_t *epoch, uint8_t secret[HM_KEY_LEN])
{
	struct hm_ks_added a;
	int rc = hm_ks_rotate(ks, t, c, now, grace, NULL, secret, &a);

	*epoch = a.epoch;
	return rc;
}

/* ---- list collection ---- */

#define MAXINFO 16

struct infos {
	size_t n;
	size_t total; /* all calls, also past MAXINFO */
	int stop_at;  /* return 99 on this call (1-based), 0: never */
	struct hm_key_info v[MAXINFO];
};

static int collect(const struct hm_key_info *info, void *arg)
{
	struct infos *in = arg;

	in->total++;
	if (in->n < MAXINFO)
		in->v[in->n++] = *info;
	if (in->stop_at != 0 && (int)in->total == in->stop_at)
		return 99;
	return 0;
}

static void list_all(struct hm_keystore *ks, const char *tenant, struct infos *in)
{
	memset(in, 0, sizeof(*in));
	assert_int_equal(hm_ks_list(ks, tenant, collect, in), HM_OK);
}

/* ---- raw LMDB access, for planting and inspecting records ---- */

static MDB_env *raw_open(const char *dir, MDB_txn **txn, MDB_dbi *dbi, const char *db)
{
	MDB_env *env = NULL;

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 4), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, txn), 0);
	if (db != NULL)
		assert_int_equal(mdb_dbi_open(*txn, db, MDB_CREATE, dbi), 0);
	return env;
}

/* Writes key -> val into db of the store in dir, in one committed transaction. */
static void raw_put(const char *dir, const char *db, const void *key, size_t klen,
		   const void *val, size_t vlen)
{
	MDB_val k = { .mv_size = klen, .mv_data = (void *)key };
	MDB_val v = { .mv_size = vlen, .mv_data = (void *)val };
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;

	env = raw_open(dir, &txn, &dbi, db);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

/* The "keys" key of epoch `epoch` of scope (t, c). */
static size_t key_of(uint8_t out[static KS_KEY_MAX], const char *t, const char *c,
		     uint32_t epoch)
{
	size_t n = ks_key_prefix(out, (const uint8_t *)t, strlen(t), (const uint8_t *)c,
				 strlen(c));

	ks_put_be32(out + n, epoch);
	return n + 4;
}

/* ---- tests ---- */

static void test_key_state_names(void **state)
{
	(void)state;
	assert_string_equal(hm_key_state_name(HM_KEY_CURRENT), "current");
	assert_string_equal(hm_key_state_name(HM_KEY_SUPERSEDED), "superseded");
	assert_string_equal(hm_key_state_name(HM_KEY_REVOKED), "revoked");
}

static void test_open_missing_and_modes(void **state)
{
	struct fx *f = *state;
	struct hm_keystore *ks = (void *)1;
	char err[256], path[160];
	struct stat st;

	assert_int_equal(hm_ks_open(f->store, 0, &ks, err, sizeof(err)), HM_ENOTFOUND);
	assert_null(ks);
	assert_true(strlen(err) > 0);
	assert_int_equal(hm_ks_open(f->store, HM_KS_READER, &ks, err, sizeof(err)), HM_ENOTFOUND);
	/* an existing directory with no store in it is not a store either */
	assert_int_equal(hm_ks_open(f->dir, 0, &ks, err, sizeof(err)), HM_ENOTFOUND);
	assert_int_equal(hm_ks_open("", HM_KS_CREATE, &ks, err, sizeof(err)), HM_EINVAL);

	open_admin(f);
	assert_int_equal(stat(f->store, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/data.mdb", f->store);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0077, 0);
	snprintf(path, sizeof(path), "%s/lock.mdb", f->store);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0077, 0);
	reopen_none(f);

	/* now it exists: plain opens work, for both kinds of handle */
	assert_int_equal(hm_ks_open(f->store, 0, &f->ks, err, sizeof(err)), HM_OK);
	assert_string_equal(hm_ks_errmsg(f->ks), "");
	reopen_none(f);
	assert_int_equal(hm_ks_open(f->store, HM_KS_READER, &f->ks, err, sizeof(err)), HM_OK);
}

static void test_create(void **state)
{
	struct fx *f = *state;
	struct hm_keystore *ks = open_admin(f);
	uint8_t s1[HM_KEY_LEN], s2[HM_KEY_LEN];
	uint32_t epoch = 7;
	struct infos in;

	assert_int_equal(create1(ks, "t1", "c1", NOW, &epoch, s1), HM_OK);
	assert_int_equal(epoch, 1);
	assert_false(all_zero(s1, sizeof(s1)));

	/* a second create of the scope fails and leaves no secret behind */
	memset(s2, 0xaa, sizeof(s2));
	assert_int_equal(create1(ks, "t1", "c1", NOW + 1, &epoch, s2), HM_EEXIST);
	assert_int_equal(epoch, 0);
	assert_true(all_zero(s2, sizeof(s2)));

	/* the length bytes keep prefixes apart: c10 and t10 are other scopes */
	assert_int_equal(create1(ks, "t1", "c10", NOW, &epoch, s2), HM_OK);
	assert_int_equal(epoch, 1);
	assert_int_equal(memcmp(s1, s2, sizeof(s1)) != 0, 1);
	assert_int_equal(create1(ks, "t10", "c1", NOW, &epoch, s2), HM_OK);

	/* names */
	memset(s2, 0xaa, sizeof(s2));
	assert_int_equal(create1(ks, "t 1", "c1", NOW, &epoch, s2), HM_EINVAL);
	assert_true(all_zero(s2, sizeof(s2)));
	assert_true(strlen(hm_ks_errmsg(ks)) > 0);
	assert_int_equal(create1(ks, "t1", "", NOW, &epoch, s2), HM_EINVAL);
	assert_int_equal(create1(ks, NULL, "c1", NOW, &epoch, s2), HM_EINVAL);
	assert_int_equal(create1(ks, "t1", "c2", -1, &epoch, s2), HM_EINVAL);

	list_all(ks, NULL, &in);
	assert_int_equal(in.n, 3);
	/* key order: (length, bytes) of tenant, then of container, then epoch */
	assert_string_equal(in.v[0].tenant, "t1");
	assert_string_equal(in.v[0].container, "c1");
	assert_int_equal(in.v[0].epoch, 1);
	assert_int_equal(in.v[0].state, HM_KEY_CURRENT);
	assert_int_equal(in.v[0].created, NOW);
	assert_int_equal(in.v[0].deadline, 0);
	assert_string_equal(in.v[1].container, "c10");
	assert_string_equal(in.v[2].tenant, "t10");
}

static void test_rotate_grace(void **state)
{
	struct fx *f = *state;
	struct hm_keystore *ks = open_admin(f);
	uint8_t s1[HM_KEY_LEN], s2[HM_KEY_LEN], s3[HM_KEY_LEN];
	uint32_t epoch = 0;
	struct infos in;

	assert_int_equal(rotate1(ks, "t", "c", NOW, 10, &epoch, s1), HM_ENOTFOUND);
	assert_int_equal(create1(ks, "t", "c", 1000, &epoch, s1), HM_OK);
	assert_int_equal(rotate1(ks, "t", "c", 2000, 300, &epoch, s2), HM_OK);
	assert_int_equal(epoch, 2);
	assert_int_equal(rotate1(ks, "t", "c", 3000, 0, &epoch, s3), HM_OK);
	assert_int_equal(epoch, 3);
	assert_int_equal(memcmp(s1, s2, HM_KEY_LEN) != 0 && memcmp(s2, s3, HM_KEY_LEN) != 0, 1);

	list_all(ks, "t", &in);
	assert_int_equal(in.n, 3);
	/* epoch 1 keeps the deadline of the rotation that superseded it */
	assert_int_equal(in.v[0].epoch, 1);
	assert_int_equal(in.v[0].state, HM_KEY_SUPERSEDED);
	assert_int_equal(in.v[0].created, 1000);
	assert_int_equal(in.v[0].deadline, 2300);
	/* grace 0: invalid at once, deadline == now */
	assert_int_equal(in.v[1].epoch, 2);
	assert_int_equal(in.v[1].state, HM_KEY_SUPERSEDED);
	assert_int_equal(in.v[1].created, 2000);
	assert_int_equal(in.v[1].deadline, 3000);
	assert_int_equal(in.v[2].epoch, 3);
	assert_int_equal(in.v[2].state, HM_KEY_CURRENT);
	assert_int_equal(in.v[2].created, 3000);
	assert_int_equal(in.v[2].deadline, 0);

	/* bad grace values are refused before any write */
	memset(s1, 0xaa, sizeof(s1));
	assert_int_equal(rotate1(ks, "t", "c", NOW, -1, &epoch, s1), HM_EINVAL);
	assert_true(all_zero(s1, sizeof(s1)));
	assert_int_equal(rotate1(ks, "t", "c", NOW, INT64_MAX, &epoch, s1), HM_EINVAL);
	assert_int_equal(rotate1(ks, "t", "c!", NOW, 1, &epoch, s1), HM_EINVAL);
	list_all(ks, "t", &in);
	assert_int_equal(in.n, 3);
}

static void test_revoke(void **state)
{
	struct fx *f = *state;
	struct hm_keystore *ks = open_admin(f);
	uint8_t s[HM_KEY_LEN], key[KS_KEY_MAX];
	uint32_t epoch = 0;
	struct infos in;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k, v;

	assert_int_equal(hm_ks_revoke(ks, "t", "c", 1), HM_ENOTFOUND);
	assert_int_equal(create1(ks, "t", "c", 1000, &epoch, s), HM_OK);
	assert_int_equal(rotate1(ks, "t", "c", 2000, 500, &epoch, s), HM_OK);
	assert_int_equal(hm_ks_revoke(ks, "t", "c", 2), HM_OK);
	assert_int_equal(hm_ks_revoke(ks, "t", "c", 2), HM_ESTATE);
	assert_int_equal(hm_ks_revoke(ks, "t", "c", 99), HM_ENOTFOUND);
	assert_int_equal(hm_ks_revoke(ks, "t", "c", 0), HM_ENOTFOUND);
	assert_int_equal(hm_ks_revoke(ks, "t", "x", 1), HM_ENOTFOUND);
	assert_int_equal(hm_ks_revoke(ks, "t\n", "c", 1), HM_EINVAL);
	assert_int_equal(hm_ks_revoke(ks, "t", "c", 1), HM_OK);

	list_all(ks, NULL, &in);
	assert_int_equal(in.n, 2);
	assert_int_equal(in.v[0].state, HM_KEY_REVOKED);
	assert_int_equal(in.v[0].deadline, 0);
	assert_int_equal(in.v[0].created, 1000);
	assert_int_equal(in.v[1].state, HM_KEY_REVOKED);

	/* all revoked: rotate still makes a new current epoch after the highest */
	assert_int_equal(rotate1(ks, "t", "c", 3000, 60, &epoch, s), HM_OK);
	assert_int_equal(epoch, 3);
	list_all(ks, NULL, &in);
	assert_int_equal(in.n, 3);
	assert_int_equal(in.v[0].state, HM_KEY_REVOKED); /* revoked epochs stay revoked */
	assert_int_equal(in.v[1].state, HM_KEY_REVOKED);
	assert_int_equal(in.v[2].state, HM_KEY_CURRENT);
	reopen_none(f);

	/* the stored bytes of a revoked epoch hold no secret, not even its length */
	env = raw_open(f->store, &txn, &dbi, "keys");
	k.mv_data = key;
	k.mv_size = key_of(key, "t", "c", 2);
	assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
	assert_int_equal(v.mv_size, KS_REC_FIXED + HM_KEYID_GEN_LEN);
	assert_int_equal(((const uint8_t *)v.mv_data)[KS_REC_OFF_SECRET_LEN], 0);
	assert_true(all_zero((const uint8_t *)v.mv_data + KS_REC_OFF_SECRET, HM_KEY_MAX));
	/* the id stays */
	assert_memory_equal((const uint8_t *)v.mv_data + KS_REC_OFF_KEYID, "hk_", 3);
	k.mv_size = key_of(key, "t", "c", 3);
	assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
	assert_int_equal(((const uint8_t *)v.mv_data)[KS_REC_OFF_SECRET_LEN], HM_KEY_LEN);
	assert_false(all_zero((const uint8_t *)v.mv_data + KS_REC_OFF_SECRET, HM_KEY_LEN));
	mdb_txn_abort(txn);
	mdb_env_close(env);
}

static void test_list_filter_and_stop(void **state)
{
	struct fx *f = *state;
	struct hm_keystore *ks = open_admin(f);
	uint8_t s[HM_KEY_LEN];
	uint32_t epoch;
	struct infos in;

	assert_int_equal(create1(ks, "b", "c1", NOW, &epoch, s), HM_OK);
	assert_int_equal(create1(ks, "b", "c2", NOW, &epoch, s), HM_OK);
	assert_int_equal(create1(ks, "bb", "c1", NOW, &epoch, s), HM_OK);
	assert_int_equal(create1(ks, "a", "c1", NOW, &epoch, s), HM_OK);

	list_all(ks, "b", &in);
	assert_int_equal(in.n, 2);
	assert_string_equal(in.v[0].tenant, "b");
	assert_string_equal(in.v[1].tenant, "b");
	list_all(ks, "bb", &in);
	assert_int_equal(in.n, 1);
	list_all(ks, "zz", &in);
	assert_int_equal(in.n, 0);
	list_all(ks, NULL, &in);
	assert_int_equal(in.n, 4);

	memset(&in, 0, sizeof(in));
	in.stop_at = 2;
	assert_int_equal(hm_ks_list(ks, NULL, collect, &in), 99);
	assert_int_equal(in.total, 2);
	assert_int_equal(hm_ks_list(ks, "b b", collect, &in), HM_EINVAL);
}

static void test_reader_in_process(void **state)
{
	struct fx *f = *state;
	struct hm_keystore *ks = open_admin(f);
	struct hm_ks_reader *rd = NULL;
	uint8_t s1[HM_KEY_LEN], s2[HM_KEY_LEN];
	struct hm_key_rec rec;
	uint64_t id1 = 0, id2 = 0, id3 = 0;
	uint32_t epoch;

	assert_int_equal(create1(ks, "t", "c", NOW, &epoch, s1), HM_OK);
	assert_int_equal(hm_ks_reader_new(ks, &rd), HM_OK);

	/* outside a batch */
	assert_int_equal(hm_ks_lookup(rd, (const uint8_t *)"t", 1, (const uint8_t *)"c", 1, 1,
				      &rec), HM_ESTORE);
	assert_true(strlen(hm_ks_reader_errmsg(rd)) > 0);

	assert_int_equal(hm_ks_reader_begin(rd, &id1), HM_OK);
	assert_int_equal(hm_ks_lookup(rd, (const uint8_t *)"t", 1, (const uint8_t *)"c", 1, 1,
				      &rec), HM_OK);
	assert_int_equal(rec.state, HM_KEY_CURRENT);
	assert_int_equal(rec.deadline, 0);
	assert_int_equal(rec.secret_len, HM_KEY_LEN);
	assert_memory_equal(rec.secret, s1, HM_KEY_LEN);
	assert_true(all_zero(rec.secret + HM_KEY_LEN, HM_KEY_MAX - HM_KEY_LEN));
	assert_int_equal(hm_ks_lookup(rd, (const uint8_t *)"t", 1, (const uint8_t *)"c", 1, 2,
				      &rec), HM_ENOTFOUND);
	assert_true(all_zero(rec.secret, HM_KEY_LEN));
	assert_int_equal(hm_ks_lookup(rd, (const uint8_t *)"t", 1, (const uint8_t *)"c", 1, 0,
				      &rec), HM_ENOTFOUND);
	assert_int_equal(hm_ks_lookup(rd, (const uint8_t *)"t", 1, (const uint8_t *)"c", 1,
				      (uint64_t)UINT32_MAX + 2, &rec), HM_ENOTFOUND);
	assert_int_equal(hm_ks_lookup(rd, (const uint8_t *)"t", 0, (const uint8_t *)"c", 1, 1,
				      &rec), HM_ENOTFOUND);
	assert_int_equal(hm_ks_lookup(rd, (const uint8_t *)"tc", 1, (const uint8_t *)"c", 1, 1,
				      &rec), HM_OK); /* lengths, not NULs, delimit the names */
	hm_ks_reader_end(rd);

	/* an admin commit shows up in the next batch, with a new txn id */
	assert_int_equal(rotate1(ks, "t", "c", NOW + 10, 60, &epoch, s2), HM_OK);
	assert_int_equal(hm_ks_reader_begin(rd, &id2), HM_OK);
	assert_true(id2 > id1);
	assert_int_equal(hm_ks_lookup(rd, (const uint8_t *)"t", 1, (const uint8_t *)"c", 1, 2,
				      &rec), HM_OK);
	assert_memory_equal(rec.secret, s2, HM_KEY_LEN);
	assert_int_equal(hm_ks_lookup(rd, (const uint8_t *)"t", 1, (const uint8_t *)"c", 1, 1,
				      &rec), HM_OK);
	assert_int_equal(rec.state, HM_KEY_SUPERSEDED);
	assert_int_equal(rec.deadline, NOW + 70);
	hm_ks_reader_end(rd);

	/* no commit in between: same txn id (caches stay valid) */
	assert_int_equal(hm_ks_reader_begin(rd, &id3), HM_OK);
	assert_true(id3 == id2);
	/* begin on an open batch ends it first */
	assert_int_equal(hm_ks_reader_begin(rd, &id3), HM_OK);
	hm_ks_reader_end(rd);
	hm_ks_reader_end(rd); /* harmless */

	assert_int_equal(hm_ks_revoke(ks, "t", "c", 1), HM_OK);
	assert_int_equal(hm_ks_reader_begin(rd, &id3), HM_OK);
	assert_true(id3 > id2);
	memset(&rec, 0xaa, sizeof(rec));
	assert_int_equal(hm_ks_lookup(rd, (const uint8_t *)"t", 1, (const uint8_t *)"c", 1, 1,
				      &rec), HM_OK);
	assert_int_equal(rec.state, HM_KEY_REVOKED);
	assert_int_equal(rec.deadline, 0);
	assert_int_equal(rec.secret_len, 0);
	assert_true(all_zero(rec.secret, HM_KEY_MAX));
	hm_ks_reader_end(rd);
	hm_ks_reader_free(rd);
}

static void write_all(int fd, const void *p, size_t n)
{
	if (write(fd, p, n) != (ssize_t)n)
		_exit(3);
}

/*
 * Child: a separate admin process (hmacctl's role). It opens its own environment and never
 * uses the parent's; it reports the new secret through the pipe.
 */
static void child_write(const char *store, int op, int fd)
{
	struct hm_keystore *ks = NULL;
	uint8_t s[HM_KEY_LEN] = { 0 };
	uint32_t epoch = 0;
	char err[256];
	int rc;

	rc = hm_ks_open(store, 0, &ks, err, sizeof(err));
	if (rc != HM_OK)
		_exit(2);
	if (op == 0)
		rc = create1(ks, "t", "c", NOW, &epoch, s);
	else if (op == 1)
		rc = rotate1(ks, "t", "c", NOW + 5, 100, &epoch, s);
	else
		rc = hm_ks_revoke(ks, "t", "c", 1);
	hm_ks_close(ks);
	if (rc != HM_OK)
		_exit(1);
	write_all(fd, &epoch, sizeof(epoch));
	write_all(fd, s, sizeof(s));
	_exit(0);
}

static void run_child(const char *store, int op, uint32_t *epoch, uint8_t s[HM_KEY_LEN])
{
	int fds[2], status = -1;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		child_write(store, op, fds[1]);
	}
	close(fds[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(read(fds[0], epoch, sizeof(*epoch)), (ssize_t)sizeof(*epoch));
	assert_int_equal(read(fds[0], s, HM_KEY_LEN), HM_KEY_LEN);
	close(fds[0]);
}

/* hmacd's situation: a reader handle here, hmacctl writing from another process. */
static void test_cross_process(void **state)
{
	struct fx *f = *state;
	struct hm_ks_reader *rd = NULL;
	uint8_t s1[HM_KEY_LEN], s2[HM_KEY_LEN], s[HM_KEY_LEN];
	struct hm_key_rec rec;
	uint64_t id0 = 0, id1 = 0, id2 = 0;
	uint32_t epoch = 0;
	char err[256];

	/* hmacd creates the store itself */
	assert_int_equal(hm_ks_open(f->store, HM_KS_CREATE | HM_KS_READER, &f->ks, err,
				    sizeof(err)), HM_OK);
	/* a reader handle never writes */
	assert_int_equal(create1(f->ks, "x", "y", NOW, &epoch, s), HM_ESTORE);
	assert_true(all_zero(s, HM_KEY_LEN));
	assert_int_equal(hm_ks_reader_new(f->ks, &rd), HM_OK);

	assert_int_equal(hm_ks_reader_begin(rd, &id0), HM_OK);
	assert_int_equal(hm_ks_lookup(rd, (const uint8_t *)"t", 1, (const uint8_t *)"c", 1, 1,
				      &rec), HM_ENOTFOUND);
	run_child(f->store, 0, &epoch, s1);
	assert_int_equal(epoch, 1);
	/* the open batch is a snapshot: it does not see the commit yet */
	assert_int_equal(hm_ks_lookup(rd, (const uint8_t *)"t", 1, (const uint8_t *)"c", 1, 1,
				      &rec), HM_ENOTFOUND);
	hm_ks_reader_end(rd);

	assert_int_equal(hm_ks_reader_begin(rd, &id1), HM_OK);
	assert_true(id1 != id0);
	assert_int_equal(hm_ks_lookup(rd, (const uint8_t *)"t", 1, (const uint8_t *)"c", 1, 1,
				      &rec), HM_OK);
	assert_int_equal(rec.state, HM_KEY_CURRENT);
	assert_memory_equal(rec.secret, s1, HM_KEY_LEN);
	hm_ks_reader_end(rd);

	run_child(f->store, 1, &epoch, s2);
	assert_int_equal(epoch, 2);
	run_child(f->store, 2, &epoch, s);
	assert_int_equal(hm_ks_reader_begin(rd, &id2), HM_OK);
	assert_true(id2 != id1);
	assert_int_equal(hm_ks_lookup(rd, (const uint8_t *)"t", 1, (const uint8_t *)"c", 1, 2,
				      &rec), HM_OK);
	assert_int_equal(rec.state, HM_KEY_CURRENT);
	assert_memory_equal(rec.secret, s2, HM_KEY_LEN);
	assert_int_equal(hm_ks_lookup(rd, (const uint8_t *)"t", 1, (const uint8_t *)"c", 1, 1,
				      &rec), HM_OK);
	assert_int_equal(rec.state, HM_KEY_REVOKED);
	assert_true(all_zero(rec.secret, HM_KEY_LEN));
	hm_ks_reader_end(rd);
	hm_ks_reader_free(rd);
}

/* hmacd's 64 GiB read map is never recorded in the store, and the file stays small. */
static void test_reader_create_stays_small(void **state)
{
	struct fx *f = *state;
	MDB_env *env = NULL;
	MDB_envinfo info;
	struct stat st;
	char err[256], path[160];

	assert_int_equal(hm_ks_open(f->store, HM_KS_CREATE | HM_KS_READER, &f->ks, err,
				    sizeof(err)), HM_OK);
	reopen_none(f);
	snprintf(path, sizeof(path), "%s/data.mdb", f->store);
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size < (off_t)MIB);

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_open(env, f->store, MDB_RDONLY, 0600), 0);
	assert_int_equal(mdb_env_info(env, &info), 0);
	assert_true(info.me_mapsize <= 8 * MIB);
	mdb_env_close(env);
}

/* An environment with no databases (creation interrupted before its first commit). */
static void test_empty_env(void **state)
{
	struct fx *f = *state;
	MDB_env *env = NULL;
	uint8_t s[HM_KEY_LEN];
	uint32_t epoch;
	char err[256];

	assert_int_equal(mkdir(f->store, 0700), 0);
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_open(env, f->store, 0, 0600), 0);
	mdb_env_close(env);

	assert_int_equal(hm_ks_open(f->store, 0, &f->ks, err, sizeof(err)), HM_ENOTFOUND);
	assert_non_null(strstr(err, "not initialised"));
	assert_int_equal(hm_ks_open(f->store, HM_KS_READER, &f->ks, err, sizeof(err)),
			 HM_ENOTFOUND);
	/* hmacd (create + reader) finishes the creation */
	assert_int_equal(hm_ks_open(f->store, HM_KS_CREATE | HM_KS_READER, &f->ks, err,
				    sizeof(err)), HM_OK);
	reopen_none(f);
	assert_int_equal(hm_ks_open(f->store, 0, &f->ks, err, sizeof(err)), HM_OK);
	assert_int_equal(create1(f->ks, "t", "c", NOW, &epoch, s), HM_OK);
}

static void test_schema_mismatch(void **state)
{
	struct fx *f = *state;
	uint8_t ver[4] = { 3, 0, 0, 0 };
	char err[256];

	open_admin(f);
	reopen_none(f);
	raw_put(f->store, "meta", "schema", 6, ver, sizeof(ver));

	assert_int_equal(hm_ks_open(f->store, 0, &f->ks, err, sizeof(err)), HM_ESCHEMA);
	assert_non_null(strstr(err, "version 3"));
	assert_int_equal(hm_ks_open(f->store, HM_KS_CREATE | HM_KS_READER, &f->ks, err,
				    sizeof(err)), HM_ESCHEMA);
	assert_null(f->ks);

	/* a record of the wrong size is a schema error too, not a crash */
	raw_put(f->store, "meta", "schema", 6, ver, 2);
	assert_int_equal(hm_ks_open(f->store, 0, &f->ks, err, sizeof(err)), HM_ESCHEMA);
}

/* An LMDB environment that some other program made is not taken over. */
static void test_foreign_env(void **state)
{
	struct fx *f = *state;
	char err[256];

	assert_int_equal(mkdir(f->store, 0700), 0);
	raw_put(f->store, "other", "k", 1, "v", 1);
	assert_int_equal(hm_ks_open(f->store, HM_KS_CREATE, &f->ks, err, sizeof(err)),
			 HM_ESCHEMA);
	assert_int_equal(hm_ks_open(f->store, 0, &f->ks, err, sizeof(err)), HM_ESCHEMA);
}

static void test_corrupt_record(void **state)
{
	struct fx *f = *state;
	struct hm_ks_reader *rd = NULL;
	uint8_t key[KS_KEY_MAX], val[60] = { 1 };
	struct hm_key_rec rec;
	struct infos in;
	uint64_t id;

	open_admin(f);
	reopen_none(f);
	raw_put(f->store, "keys", key, key_of(key, "t", "c", 1), val, sizeof(val));

	open_admin(f);
	memset(&in, 0, sizeof(in));
	assert_int_equal(hm_ks_list(f->ks, NULL, collect, &in), HM_ESTORE);
	assert_non_null(strstr(hm_ks_errmsg(f->ks), "60 bytes"));
	assert_int_equal(hm_ks_revoke(f->ks, "t", "c", 1), HM_ESTORE);
	assert_int_equal(hm_ks_reader_new(f->ks, &rd), HM_OK);
	assert_int_equal(hm_ks_reader_begin(rd, &id), HM_OK);
	assert_int_equal(hm_ks_lookup(rd, (const uint8_t *)"t", 1, (const uint8_t *)"c", 1, 1,
				      &rec), HM_ESTORE);
	assert_non_null(strstr(hm_ks_reader_errmsg(rd), "60 bytes"));
	hm_ks_reader_end(rd);
	hm_ks_reader_free(rd);
}

static int count_cb(const struct hm_key_info *info, void *arg)
{
	size_t *n = arg;

	if (info->epoch != 1 || info->state != HM_KEY_CURRENT)
		return -100;
	(*n)++;
	return 0;
}

/*
 * Enough long-named scopes (~330 bytes a record) to pass the 8 MiB initial map: the writes
 * must grow the map instead of failing, and every scope must still be there.
 */
static void test_map_growth(void **state)
{
	enum { N = 30000 };
	struct fx *f = *state;
	struct hm_keystore *ks = open_admin(f);
	char tenant[129], container[129];
	uint8_t s[HM_KEY_LEN];
	MDB_env *env = NULL;
	MDB_envinfo info;
	uint32_t epoch;
	size_t n = 0;
	int rc;

	memset(tenant, 't', 128);
	tenant[128] = '\0';
	for (int i = 0; i < N; i++) {
		snprintf(container, sizeof(container), "%0128d", i);
		rc = create1(ks, tenant, container, NOW, &epoch, s);
		if (rc != HM_OK)
			fail_msg("create %d: %s: %s", i, hm_strerror(rc), hm_ks_errmsg(ks));
	}
	assert_int_equal(hm_ks_list(ks, NULL, count_cb, &n), HM_OK);
	assert_int_equal(n, N);
	reopen_none(f);

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_open(env, f->store, MDB_RDONLY, 0600), 0);
	assert_int_equal(mdb_env_info(env, &info), 0);
	assert_true(info.me_mapsize > 8 * MIB);
	mdb_env_close(env);
}

/* ---- key ids ---- */

static bool generated_id(const char *id)
{
	size_t i;

	if (strlen(id) != HM_KEYID_GEN_LEN || memcmp(id, "hk_", 3) != 0)
		return false;
	for (i = 3; i < HM_KEYID_GEN_LEN; i++) {
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	}
	return true;
}

static void test_keyid_generated(void **state)
{
	struct fx *f = *state;
	struct hm_keystore *ks = open_admin(f);
	uint8_t s[HM_KEY_LEN];
	struct hm_ks_added a1, a2, a3;
	struct infos in;

	assert_int_equal(hm_ks_create(ks, "t", "c", NOW, NULL, s, &a1), HM_OK);
	assert_int_equal(a1.epoch, 1);
	assert_true(generated_id(a1.keyid));
	assert_int_equal(hm_ks_rotate(ks, "t", "c", NOW + 1, 10, NULL, s, &a2), HM_OK);
	assert_int_equal(a2.epoch, 2);
	assert_true(generated_id(a2.keyid));
	assert_string_not_equal(a1.keyid, a2.keyid);
	assert_int_equal(hm_ks_create(ks, "t", "c2", NOW, NULL, s, &a3), HM_OK);
	assert_string_not_equal(a3.keyid, a1.keyid);
	assert_string_not_equal(a3.keyid, a2.keyid);
	/* out may be NULL */
	assert_int_equal(hm_ks_create(ks, "t", "c3", NOW, NULL, s, NULL), HM_OK);

	list_all(ks, "t", &in);
	assert_int_equal(in.n, 4);
	assert_string_equal(in.v[0].keyid, a1.keyid);
	assert_string_equal(in.v[1].keyid, a2.keyid);
	assert_string_equal(in.v[2].keyid, a3.keyid);
	assert_true(generated_id(in.v[3].keyid));
}

/* A key id is unique in the whole store, forever: every new-epoch call, every scope. */
static void test_keyid_unique(void **state)
{
	struct fx *f = *state;
	struct hm_keystore *ks = open_admin(f);
	uint8_t s[HM_KEY_LEN], imp[HM_KEY_MIN];
	struct hm_ks_added a;
	char big[HM_KEYID_MAX + 2];
	struct infos in;

	memset(imp, 7, sizeof(imp));
	assert_int_equal(hm_ks_create(ks, "t1", "c1", NOW, "k1", s, &a), HM_OK);
	assert_int_equal(a.epoch, 1);
	assert_string_equal(a.keyid, "k1");

	/* another scope, another tenant: taken; nothing is stored, and the secret is wiped */
	memset(s, 0xaa, sizeof(s));
	assert_int_equal(hm_ks_create(ks, "t1", "c2", NOW, "k1", s, &a), HM_EEXIST);
	assert_true(all_zero(s, sizeof(s)));
	assert_int_equal(a.epoch, 0);
	assert_string_equal(a.keyid, "");
	assert_non_null(strstr(hm_ks_errmsg(ks), "key id"));
	assert_int_equal(hm_ks_create(ks, "t2", "c1", NOW, "k1", s, &a), HM_EEXIST);
	/* the same scope: rotate and import are refused as a whole (no new epoch, old current) */
	assert_int_equal(hm_ks_rotate(ks, "t1", "c1", NOW + 5, 60, "k1", s, &a), HM_EEXIST);
	assert_int_equal(hm_ks_import(ks, "t1", "c1", NOW + 5, 60, "k1", imp, sizeof(imp), &a),
			 HM_EEXIST);
	assert_int_equal(hm_ks_import(ks, "t9", "c9", NOW + 5, 60, "k1", imp, sizeof(imp), &a),
			 HM_EEXIST);
	list_all(ks, NULL, &in);
	assert_int_equal(in.n, 1);
	assert_int_equal(in.v[0].state, HM_KEY_CURRENT);
	assert_int_equal(in.v[0].deadline, 0);

	/* ids are case-sensitive bytes */
	assert_int_equal(hm_ks_create(ks, "t1", "c2", NOW, "K1", s, &a), HM_OK);
	/* revoked: the id stays reserved */
	assert_int_equal(hm_ks_revoke(ks, "t1", "c1", 1), HM_OK);
	assert_int_equal(hm_ks_create(ks, "t3", "c1", NOW, "k1", s, &a), HM_EEXIST);
	assert_int_equal(hm_ks_rotate(ks, "t1", "c1", NOW + 9, 0, "k2", s, &a), HM_OK);
	assert_int_equal(a.epoch, 2);
	assert_string_equal(a.keyid, "k2");
	/* a generated id can be requested afterwards only if unused */
	assert_int_equal(hm_ks_create(ks, "t4", "c1", NOW, NULL, s, &a), HM_OK);
	assert_int_equal(hm_ks_create(ks, "t5", "c1", NOW, a.keyid, s, &a), HM_EEXIST);

	/* bad ids are refused before any write */
	assert_int_equal(hm_ks_create(ks, "t6", "c1", NOW, "", s, &a), HM_EINVAL);
	assert_int_equal(hm_ks_create(ks, "t6", "c1", NOW, "a b", s, &a), HM_EINVAL);
	assert_int_equal(hm_ks_rotate(ks, "t1", "c1", NOW, 0, "a\"b", s, &a), HM_EINVAL);
	memset(big, 'k', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(hm_ks_create(ks, "t6", "c1", NOW, big, s, &a), HM_EINVAL);
	big[HM_KEYID_MAX] = '\0';
	assert_int_equal(hm_ks_create(ks, "t6", "c1", NOW, big, s, &a), HM_OK);
	assert_string_equal(a.keyid, big);
	list_all(ks, "t6", &in);
	assert_int_equal(in.n, 1);
	assert_string_equal(in.v[0].keyid, big);
}

static void lookup_secret(struct hm_keystore *ks, const char *t, const char *c, uint32_t epoch,
			  struct hm_key_rec *rec)
{
	struct hm_ks_reader *rd = NULL;
	uint64_t id;

	assert_int_equal(hm_ks_reader_new(ks, &rd), HM_OK);
	assert_int_equal(hm_ks_reader_begin(rd, &id), HM_OK);
	assert_int_equal(hm_ks_lookup(rd, (const uint8_t *)t, strlen(t), (const uint8_t *)c,
				      strlen(c), epoch, rec), HM_OK);
	hm_ks_reader_end(rd);
	hm_ks_reader_free(rd);
}

static void test_import(void **state)
{
	struct fx *f = *state;
	struct hm_keystore *ks = open_admin(f);
	uint8_t sec[HM_KEY_MAX + 1], s[HM_KEY_LEN];
	struct hm_ks_added a;
	struct hm_key_rec rec;
	struct infos in;
	size_t i;

	for (i = 0; i < sizeof(sec); i++)
		sec[i] = (uint8_t)(i * 7 + 1);
	/* lengths: 15 and 65 refused, 16 and 64 kept exactly */
	assert_int_equal(hm_ks_import(ks, "t", "a", NOW, 0, NULL, sec, 15, &a), HM_EINVAL);
	assert_non_null(strstr(hm_ks_errmsg(ks), "16 to 64"));
	assert_int_equal(hm_ks_import(ks, "t", "a", NOW, 0, NULL, sec, 65, &a), HM_EINVAL);
	assert_int_equal(hm_ks_import(ks, "t", "a", NOW, 0, NULL, NULL, 32, &a), HM_EINVAL);
	assert_int_equal(hm_ks_import(ks, "t", "a", -1, 0, NULL, sec, 32, &a), HM_EINVAL);
	assert_int_equal(hm_ks_import(ks, "t", "a", NOW, -1, NULL, sec, 32, &a), HM_EINVAL);
	assert_int_equal(hm_ks_import(ks, "t ", "a", NOW, 0, NULL, sec, 32, &a), HM_EINVAL);
	list_all(ks, NULL, &in);
	assert_int_equal(in.n, 0);

	assert_int_equal(hm_ks_import(ks, "t", "a", NOW, 0, "imp-16", sec, 16, &a), HM_OK);
	assert_int_equal(a.epoch, 1);
	assert_string_equal(a.keyid, "imp-16");
	assert_int_equal(hm_ks_import(ks, "t", "b", NOW, 0, NULL, sec, 64, &a), HM_OK);
	assert_int_equal(a.epoch, 1);
	assert_true(generated_id(a.keyid));
	lookup_secret(ks, "t", "a", 1, &rec);
	assert_int_equal(rec.state, HM_KEY_CURRENT);
	assert_int_equal(rec.secret_len, 16);
	assert_memory_equal(rec.secret, sec, 16);
	assert_true(all_zero(rec.secret + 16, HM_KEY_MAX - 16));
	lookup_secret(ks, "t", "b", 1, &rec);
	assert_int_equal(rec.secret_len, 64);
	assert_memory_equal(rec.secret, sec, 64);

	/* into an existing scope: the next epoch, the current one superseded with the grace */
	assert_int_equal(hm_ks_create(ks, "t", "c", 1000, NULL, s, &a), HM_OK);
	assert_int_equal(hm_ks_import(ks, "t", "c", 2000, 300, "imp-c2", sec + 1, 40, &a), HM_OK);
	assert_int_equal(a.epoch, 2);
	assert_int_equal(hm_ks_import(ks, "t", "c", 3000, 0, NULL, sec + 2, 33, &a), HM_OK);
	assert_int_equal(a.epoch, 3);
	list_all(ks, "t", &in);
	assert_int_equal(in.n, 5);
	assert_string_equal(in.v[2].container, "c");
	assert_int_equal(in.v[2].state, HM_KEY_SUPERSEDED);
	assert_int_equal(in.v[2].deadline, 2300);
	assert_int_equal(in.v[3].state, HM_KEY_SUPERSEDED);
	assert_int_equal(in.v[3].deadline, 3000);
	assert_string_equal(in.v[3].keyid, "imp-c2");
	assert_int_equal(in.v[4].state, HM_KEY_CURRENT);
	assert_int_equal(in.v[4].created, 3000);
	lookup_secret(ks, "t", "c", 2, &rec);
	assert_int_equal(rec.secret_len, 40);
	assert_memory_equal(rec.secret, sec + 1, 40);
	lookup_secret(ks, "t", "c", 1, &rec);
	assert_int_equal(rec.secret_len, HM_KEY_LEN);
	assert_memory_equal(rec.secret, s, HM_KEY_LEN);

	/* revoking an imported epoch wipes it like any other */
	assert_int_equal(hm_ks_revoke(ks, "t", "c", 2), HM_OK);
	lookup_secret(ks, "t", "c", 2, &rec);
	assert_int_equal(rec.state, HM_KEY_REVOKED);
	assert_int_equal(rec.secret_len, 0);
	assert_true(all_zero(rec.secret, HM_KEY_MAX));
}

static void test_lookup_keyid(void **state)
{
	struct fx *f = *state;
	struct hm_keystore *ks = open_admin(f);
	struct hm_ks_reader *rd = NULL;
	uint8_t s[HM_KEY_LEN];
	struct hm_ks_added a, gen;
	struct hm_key_ref ref;
	uint64_t id;

	assert_int_equal(hm_ks_create(ks, "tenant-1", "web-01", NOW, "kid-a", s, &a), HM_OK);
	assert_int_equal(hm_ks_rotate(ks, "tenant-1", "web-01", NOW, 60, NULL, s, &gen), HM_OK);
	assert_int_equal(hm_ks_create(ks, "t2", "c", NOW, "kid-b", s, &a), HM_OK);
	assert_int_equal(hm_ks_revoke(ks, "t2", "c", 1), HM_OK);
	assert_int_equal(hm_ks_reader_new(ks, &rd), HM_OK);

	assert_int_equal(hm_ks_lookup_keyid(rd, (const uint8_t *)"kid-a", 5, &ref), HM_ESTORE);
	assert_int_equal(hm_ks_reader_begin(rd, &id), HM_OK);
	assert_int_equal(hm_ks_lookup_keyid(rd, (const uint8_t *)"kid-a", 5, &ref), HM_OK);
	assert_int_equal(ref.tenant_len, 8);
	assert_memory_equal(ref.tenant, "tenant-1", 8);
	assert_int_equal(ref.container_len, 6);
	assert_memory_equal(ref.container, "web-01", 6);
	assert_int_equal(ref.epoch, 1);
	assert_int_equal(hm_ks_lookup_keyid(rd, (const uint8_t *)gen.keyid, strlen(gen.keyid),
					    &ref), HM_OK);
	assert_int_equal(ref.epoch, 2);
	/* revoked epochs keep their id: found, and hm_ks_lookup says revoked */
	assert_int_equal(hm_ks_lookup_keyid(rd, (const uint8_t *)"kid-b", 5, &ref), HM_OK);
	assert_int_equal(ref.tenant_len, 2);
	assert_memory_equal(ref.tenant, "t2", 2);
	assert_int_equal(ref.epoch, 1);
	/* unknown, prefix, longer, case, and ids that could never be stored */
	memset(&ref, 0xaa, sizeof(ref));
	assert_int_equal(hm_ks_lookup_keyid(rd, (const uint8_t *)"kid-c", 5, &ref), HM_ENOTFOUND);
	assert_int_equal(ref.tenant_len, 0);
	assert_int_equal(ref.epoch, 0);
	assert_int_equal(hm_ks_lookup_keyid(rd, (const uint8_t *)"kid-a", 4, &ref), HM_ENOTFOUND);
	assert_int_equal(hm_ks_lookup_keyid(rd, (const uint8_t *)"kid-aa", 6, &ref),
			 HM_ENOTFOUND);
	assert_int_equal(hm_ks_lookup_keyid(rd, (const uint8_t *)"KID-A", 5, &ref), HM_ENOTFOUND);
	assert_int_equal(hm_ks_lookup_keyid(rd, (const uint8_t *)"kid a", 5, &ref), HM_ENOTFOUND);
	assert_int_equal(hm_ks_lookup_keyid(rd, (const uint8_t *)"", 0, &ref), HM_ENOTFOUND);
	assert_int_equal(hm_ks_lookup_keyid(rd, NULL, 3, &ref), HM_ENOTFOUND);
	hm_ks_reader_end(rd);
	hm_ks_reader_free(rd);
}

/* ---- policies ---- */

static void policy_of(struct hm_policy *p, const char *a, const char *b, bool nonce)
{
	memset(p, 0, sizeof(*p));
	assert_int_equal(hm_policy_require(p, a), HM_OK);
	if (b != NULL)
		assert_int_equal(hm_policy_require(p, b), HM_OK);
	p->require_created = true;
	p->require_nonce = nonce;
	p->check_age = true;
	p->digest_when_body = false;
}

#define MAXPOL 8

struct pinfos {
	size_t n;
	struct hm_policy_info v[MAXPOL];
};

static int collect_policy(const struct hm_policy_info *info, void *arg)
{
	struct pinfos *in = arg;

	if (in->n < MAXPOL)
		in->v[in->n++] = *info;
	return 0;
}

/* hm_ks_policy_get of t/c finds want_src, and *want unless want is NULL. */
static void expect_get(struct hm_keystore *ks, const char *t, const char *c,
		       enum hm_policy_source want_src, const struct hm_policy *want)
{
	enum hm_policy_source src;
	struct hm_policy got;

	assert_int_equal(hm_ks_policy_get(ks, t, c, &got, &src), HM_OK);
	assert_int_equal(src, want_src);
	if (want != NULL)
		assert_memory_equal(&got, want, sizeof(got));
}

/*
 * hm_ks_policy_lookup of t/c (inside a batch) finds want_src, and *want unless want is NULL;
 * for the default it leaves *out alone.
 */
static void expect_lookup(struct hm_ks_reader *rd, const char *t, const char *c,
			  enum hm_policy_source want_src, const struct hm_policy *want)
{
	enum hm_policy_source src;
	struct hm_policy got, marker;

	memset(&marker, 0x5a, sizeof(marker));
	got = marker;
	assert_int_equal(hm_ks_policy_lookup(rd, (const uint8_t *)t, strlen(t),
					     (const uint8_t *)c, c != NULL ? strlen(c) : 0, &got,
					     &src),
			 HM_OK);
	assert_int_equal(src, want_src);
	if (want_src == HM_POLICY_DEFAULT)
		want = &marker;
	if (want != NULL)
		assert_memory_equal(&got, want, sizeof(got));
}

static void test_policy_precedence(void **state)
{
	struct fx *f = *state;
	struct hm_keystore *ks = open_admin(f);
	struct hm_ks_reader *rd = NULL;
	struct hm_policy pt, ps, got, dflt;
	enum hm_policy_source src;
	struct pinfos pl;
	uint64_t id;

	hm_policy_default(&dflt);
	policy_of(&pt, "@method", "@target-uri", true);
	policy_of(&ps, "@method", "@query-param;name=id", false);

	/* nothing stored: the default, and the reader leaves *out alone */
	expect_get(ks, "t1", "c1", HM_POLICY_DEFAULT, &dflt);
	assert_int_equal(hm_ks_reader_new(ks, &rd), HM_OK);
	assert_int_equal(hm_ks_policy_lookup(rd, (const uint8_t *)"t1", 2, (const uint8_t *)"c1",
					     2, &got, &src), HM_ESTORE); /* outside a batch */
	assert_int_equal(hm_ks_reader_begin(rd, &id), HM_OK);
	expect_lookup(rd, "t1", "c1", HM_POLICY_DEFAULT, NULL);
	hm_ks_reader_end(rd);

	/* the tenant's policy covers every container of the tenant */
	assert_int_equal(hm_ks_policy_set(ks, "t1", NULL, &pt), HM_OK);
	expect_get(ks, "t1", "c1", HM_POLICY_TENANT, &pt);
	expect_get(ks, "t1", NULL, HM_POLICY_TENANT, NULL);
	expect_get(ks, "t10", "c1", HM_POLICY_DEFAULT, NULL); /* t1 is no prefix of t10 */

	/* the scope's own policy wins over the tenant's */
	assert_int_equal(hm_ks_policy_set(ks, "t1", "c1", &ps), HM_OK);
	assert_int_equal(hm_ks_reader_begin(rd, &id), HM_OK);
	expect_lookup(rd, "t1", "c1", HM_POLICY_SCOPE, &ps);
	expect_lookup(rd, "t1", "c2", HM_POLICY_TENANT, &pt);
	expect_lookup(rd, "t2", "c1", HM_POLICY_DEFAULT, NULL);
	/* names that could never be stored: the default, or the tenant's for a bad container */
	expect_lookup(rd, "t 1", "c1", HM_POLICY_DEFAULT, NULL);
	expect_lookup(rd, "t1", "c 1", HM_POLICY_TENANT, &pt);
	hm_ks_reader_end(rd);

	/* replace, then unset: back to the tenant's, then the default */
	assert_int_equal(hm_ks_policy_set(ks, "t1", "c1", &pt), HM_OK);
	expect_get(ks, "t1", "c1", HM_POLICY_SCOPE, &pt);
	assert_int_equal(hm_ks_policy_set(ks, "t1", "c1", &ps), HM_OK);
	memset(&pl, 0, sizeof(pl));
	assert_int_equal(hm_ks_policy_set(ks, "t0", "z", &ps), HM_OK);
	assert_int_equal(hm_ks_policy_list(ks, NULL, collect_policy, &pl), HM_OK);
	assert_int_equal(pl.n, 3);
	assert_string_equal(pl.v[0].tenant, "t0");
	assert_string_equal(pl.v[0].container, "z");
	assert_string_equal(pl.v[1].tenant, "t1"); /* the tenant's own first */
	assert_string_equal(pl.v[1].container, "");
	assert_int_equal(pl.v[1].source, HM_POLICY_TENANT);
	assert_memory_equal(&pl.v[1].policy, &pt, sizeof(pt));
	assert_string_equal(pl.v[2].container, "c1");
	assert_int_equal(pl.v[2].source, HM_POLICY_SCOPE);
	assert_memory_equal(&pl.v[2].policy, &ps, sizeof(ps));
	memset(&pl, 0, sizeof(pl));
	assert_int_equal(hm_ks_policy_list(ks, "t1", collect_policy, &pl), HM_OK);
	assert_int_equal(pl.n, 2);
	assert_int_equal(hm_ks_policy_list(ks, "t 1", collect_policy, &pl), HM_EINVAL);

	assert_int_equal(hm_ks_policy_unset(ks, "t1", "c1"), HM_OK);
	assert_int_equal(hm_ks_policy_unset(ks, "t1", "c1"), HM_ENOTFOUND);
	expect_get(ks, "t1", "c1", HM_POLICY_TENANT, &pt);
	assert_int_equal(hm_ks_policy_unset(ks, "t1", NULL), HM_OK);
	assert_int_equal(hm_ks_policy_unset(ks, "t1", NULL), HM_ENOTFOUND);
	expect_get(ks, "t1", "c1", HM_POLICY_DEFAULT, &dflt);

	/* refused: names, no component, a component that is not canonical */
	assert_int_equal(hm_ks_policy_set(ks, NULL, "c", &pt), HM_EINVAL);
	assert_int_equal(hm_ks_policy_set(ks, "t1", "c;1", &pt), HM_EINVAL);
	assert_int_equal(hm_ks_policy_get(ks, "t1 ", NULL, &got, &src), HM_EINVAL);
	assert_int_equal(hm_ks_policy_unset(ks, "", NULL), HM_EINVAL);
	memset(&got, 0, sizeof(got));
	assert_int_equal(hm_ks_policy_set(ks, "t1", NULL, &got), HM_EINVAL);
	got = pt;
	strcpy(got.components[0], "@method");
	assert_int_equal(hm_ks_policy_set(ks, "t1", NULL, &got), HM_EINVAL);
	hm_ks_reader_free(rd);
}

/* A policy record that does not decode is a store error, never a silent default. */
static void test_policy_corrupt(void **state)
{
	struct fx *f = *state;
	struct hm_ks_reader *rd = NULL;
	uint8_t key[KS_KEY_MAX], val[4] = { 1, 0x0f, 5, 0 };
	struct hm_policy got, marker;
	enum hm_policy_source src = HM_POLICY_SCOPE;
	struct pinfos pl;
	uint64_t id;

	open_admin(f);
	reopen_none(f);
	/* [1]t[1]c: a scope's policy key */
	raw_put(f->store, "policies", key,
		ks_key_prefix(key, (const uint8_t *)"t", 1, (const uint8_t *)"c", 1), val,
		sizeof(val));

	open_admin(f);
	assert_int_equal(hm_ks_policy_get(f->ks, "t", "c", &got, &src), HM_ESTORE);
	assert_non_null(strstr(hm_ks_errmsg(f->ks), "policy"));
	memset(&pl, 0, sizeof(pl));
	assert_int_equal(hm_ks_policy_list(f->ks, NULL, collect_policy, &pl), HM_ESTORE);
	assert_int_equal(hm_ks_reader_new(f->ks, &rd), HM_OK);
	assert_int_equal(hm_ks_reader_begin(rd, &id), HM_OK);
	memset(&marker, 0x5a, sizeof(marker));
	got = marker;
	assert_int_equal(hm_ks_policy_lookup(rd, (const uint8_t *)"t", 1, (const uint8_t *)"c", 1,
					     &got, &src), HM_ESTORE);
	assert_int_equal(src, HM_POLICY_DEFAULT);
	assert_memory_equal(&got, &marker, sizeof(got));
	assert_non_null(strstr(hm_ks_reader_errmsg(rd), "policy"));
	hm_ks_reader_end(rd);
	hm_ks_reader_free(rd);
	/* overwriting it with a good policy repairs the scope */
	hm_policy_default(&got);
	assert_int_equal(hm_ks_policy_set(f->ks, "t", "c", &got), HM_OK);
	assert_int_equal(hm_ks_policy_get(f->ks, "t", "c", &got, &src), HM_OK);
	assert_int_equal(src, HM_POLICY_SCOPE);
}

/* ---- schema 1 -> 2 ---- */

/* One record as the schema 1 build wrote it (format 1 in record.h; no encoder in the store). */
static void v1_record(uint8_t out[static KS_REC1_LEN], uint32_t state, int64_t created,
		      int64_t deadline, uint8_t fill)
{
	memset(out, 0, KS_REC1_LEN);
	ks_put_le32(out + KS_REC_OFF_FORMAT, KS_REC1_FORMAT);
	ks_put_le32(out + KS_REC_OFF_STATE, state);
	ks_put_le64(out + KS_REC_OFF_CREATED, created);
	ks_put_le64(out + KS_REC_OFF_DEADLINE, deadline);
	if (state != HM_KEY_REVOKED)
		memset(out + KS_REC1_OFF_SECRET, fill, KS_REC1_SECRET_LEN);
}

#define V1_SCOPES 300 /* enough to split pages while the upgrade rewrites in place */

/*
 * Writes a schema 1 store by hand, with raw LMDB, as the old code did: "meta" with schema 1
 * and "keys" with format 1 records; no "keyids", no "policies". t/c has epochs 1 (superseded,
 * deadline 2300), 2 (revoked) and 3 (current); bulk/NNN epoch 1 each. If corrupt_last, the
 * last record (in key order) is 60 bytes.
 */
static void make_v1_store(const char *dir, bool corrupt_last)
{
	uint8_t key[KS_KEY_MAX], rec[KS_REC1_LEN], ver[4] = { 1, 0, 0, 0 };
	MDB_val k = { .mv_data = key }, v = { .mv_size = sizeof(rec), .mv_data = rec };
	MDB_val sk = { .mv_size = 6, .mv_data = "schema" };
	MDB_val sv = { .mv_size = 4, .mv_data = ver };
	char c[16];
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta, keys;

	assert_int_equal(mkdir(dir, 0700), 0);
	env = raw_open(dir, &txn, &meta, "meta");
	assert_int_equal(mdb_put(txn, meta, &sk, &sv, 0), 0);
	assert_int_equal(mdb_dbi_open(txn, "keys", MDB_CREATE, &keys), 0);
	k.mv_size = key_of(key, "t", "c", 1);
	v1_record(rec, HM_KEY_SUPERSEDED, 1000, 2300, 0x11);
	assert_int_equal(mdb_put(txn, keys, &k, &v, 0), 0);
	k.mv_size = key_of(key, "t", "c", 2);
	v1_record(rec, HM_KEY_REVOKED, 2000, 0, 0);
	assert_int_equal(mdb_put(txn, keys, &k, &v, 0), 0);
	k.mv_size = key_of(key, "t", "c", 3);
	v1_record(rec, HM_KEY_CURRENT, 3000, 0, 0x33);
	assert_int_equal(mdb_put(txn, keys, &k, &v, 0), 0);
	for (int i = 0; i < V1_SCOPES; i++) {
		snprintf(c, sizeof(c), "b%03d", i);
		k.mv_size = key_of(key, "bulk", c, 1);
		v1_record(rec, HM_KEY_CURRENT, 5000 + i, 0, (uint8_t)i);
		if (corrupt_last && i == V1_SCOPES - 1)
			v.mv_size = 60;
		assert_int_equal(mdb_put(txn, keys, &k, &v, 0), 0);
	}
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

/* The schema record and the number of key ids, read with raw LMDB. */
static void raw_schema(const char *dir, uint32_t *version, size_t *nkeyids)
{
	MDB_val sk = { .mv_size = 6, .mv_data = "schema" }, v;
	MDB_env *env = NULL;
	MDB_txn *txn;
	MDB_dbi meta, ids;
	MDB_stat st;
	int mrc;

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 4), 0);
	assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	assert_int_equal(mdb_get(txn, meta, &sk, &v), 0);
	assert_int_equal(v.mv_size, 4);
	*version = ((const uint8_t *)v.mv_data)[0];
	*nkeyids = 0;
	mrc = mdb_dbi_open(txn, "keyids", 0, &ids);
	if (mrc == 0) {
		assert_int_equal(mdb_stat(txn, ids, &st), 0);
		*nkeyids = st.ms_entries;
	} else {
		assert_int_equal(mrc, MDB_NOTFOUND);
	}
	mdb_txn_abort(txn);
	mdb_env_close(env);
}

static int count_all(const struct hm_key_info *info, void *arg)
{
	size_t *n = arg;

	(void)info;
	(*n)++;
	return 0;
}

static void check_upgraded(struct fx *f)
{
	struct hm_ks_reader *rd = NULL;
	struct hm_key_rec rec;
	struct hm_key_ref ref;
	struct infos in;
	uint8_t want[HM_KEY_LEN];
	uint32_t version = 0;
	size_t n = 0, nids = 0;
	uint64_t id;

	list_all(f->ks, "t", &in);
	assert_int_equal(in.n, 3);
	assert_int_equal(in.v[0].state, HM_KEY_SUPERSEDED);
	assert_int_equal(in.v[0].created, 1000);
	assert_int_equal(in.v[0].deadline, 2300);
	assert_int_equal(in.v[1].state, HM_KEY_REVOKED);
	assert_int_equal(in.v[2].state, HM_KEY_CURRENT);
	assert_int_equal(in.v[2].created, 3000);
	for (size_t i = 0; i < 3; i++)
		assert_true(generated_id(in.v[i].keyid));
	assert_string_not_equal(in.v[0].keyid, in.v[1].keyid);
	assert_string_not_equal(in.v[1].keyid, in.v[2].keyid);
	assert_int_equal(hm_ks_list(f->ks, NULL, count_all, &n), HM_OK);
	assert_int_equal(n, 3 + V1_SCOPES);

	assert_int_equal(hm_ks_reader_new(f->ks, &rd), HM_OK);
	assert_int_equal(hm_ks_reader_begin(rd, &id), HM_OK);
	assert_int_equal(hm_ks_lookup(rd, (const uint8_t *)"t", 1, (const uint8_t *)"c", 1, 1,
				      &rec), HM_OK);
	memset(want, 0x11, sizeof(want));
	assert_int_equal(rec.secret_len, HM_KEY_LEN);
	assert_memory_equal(rec.secret, want, HM_KEY_LEN);
	assert_int_equal(hm_ks_lookup(rd, (const uint8_t *)"t", 1, (const uint8_t *)"c", 1, 2,
				      &rec), HM_OK);
	assert_int_equal(rec.state, HM_KEY_REVOKED);
	assert_int_equal(rec.secret_len, 0);
	assert_int_equal(hm_ks_lookup(rd, (const uint8_t *)"bulk", 4, (const uint8_t *)"b299", 4,
				      1, &rec), HM_OK);
	memset(want, 299 & 0xff, sizeof(want));
	assert_memory_equal(rec.secret, want, HM_KEY_LEN);
	/* every generated id is in the index and points back at its epoch */
	assert_int_equal(hm_ks_lookup_keyid(rd, (const uint8_t *)in.v[2].keyid,
					    strlen(in.v[2].keyid), &ref), HM_OK);
	assert_int_equal(ref.epoch, 3);
	assert_int_equal(ref.tenant_len, 1);
	assert_int_equal(hm_ks_lookup_keyid(rd, (const uint8_t *)in.v[1].keyid,
					    strlen(in.v[1].keyid), &ref), HM_OK);
	assert_int_equal(ref.epoch, 2);
	/* the new policies database exists (and is empty) */
	expect_lookup(rd, "t", "c", HM_POLICY_DEFAULT, NULL);
	hm_ks_reader_end(rd);
	hm_ks_reader_free(rd);
	reopen_none(f);
	raw_schema(f->store, &version, &nids);
	assert_int_equal(version, 2);
	assert_int_equal(nids, 3 + V1_SCOPES);
}

static void test_upgrade_v1(void **state)
{
	struct fx *f = *state;
	uint8_t s[HM_KEY_LEN];
	struct hm_ks_added a;
	uint32_t version = 0;
	size_t nids = 99;
	char err[256];

	make_v1_store(f->store, false);
	/* hmacd's reader-only open cannot upgrade: refused, and it says what to do */
	assert_int_equal(hm_ks_open(f->store, HM_KS_READER, &f->ks, err, sizeof(err)),
			 HM_ESCHEMA);
	assert_null(f->ks);
	assert_non_null(strstr(err, "schema 1"));
	assert_non_null(strstr(err, "hmacctl"));
	raw_schema(f->store, &version, &nids);
	assert_int_equal(version, 1);
	assert_int_equal(nids, 0);

	/* the first write-capable open upgrades, in one transaction */
	open_admin(f);
	check_upgraded(f);
	/* and from now on it is an ordinary schema 2 store, for every kind of open */
	assert_int_equal(hm_ks_open(f->store, HM_KS_READER, &f->ks, err, sizeof(err)), HM_OK);
	reopen_none(f);
	assert_int_equal(hm_ks_open(f->store, 0, &f->ks, err, sizeof(err)), HM_OK);
	assert_int_equal(hm_ks_rotate(f->ks, "t", "c", 4000, 0, "after-upgrade", s, &a), HM_OK);
	assert_int_equal(a.epoch, 4);
}

/* hmacd (HM_KS_CREATE | HM_KS_READER) may upgrade too, through a writable environment. */
static void test_upgrade_v1_by_daemon(void **state)
{
	struct fx *f = *state;
	char err[256];

	make_v1_store(f->store, false);
	assert_int_equal(hm_ks_open(f->store, HM_KS_CREATE | HM_KS_READER, &f->ks, err,
				    sizeof(err)), HM_OK);
	reopen_none(f);
	assert_int_equal(hm_ks_open(f->store, 0, &f->ks, err, sizeof(err)), HM_OK);
	check_upgraded(f);
}

/* An upgrade that meets a bad record aborts whole: the store stays schema 1, untouched. */
static void test_upgrade_v1_aborts(void **state)
{
	struct fx *f = *state;
	uint8_t key[KS_KEY_MAX];
	MDB_val k = { .mv_data = key }, v;
	uint32_t version = 0;
	size_t nids = 99;
	char err[256];
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;

	make_v1_store(f->store, true);
	assert_int_equal(hm_ks_open(f->store, 0, &f->ks, err, sizeof(err)), HM_ESTORE);
	assert_null(f->ks);
	assert_non_null(strstr(err, "schema 1 key record"));
	raw_schema(f->store, &version, &nids);
	assert_int_equal(version, 1);
	assert_int_equal(nids, 0);
	/* the records before the bad one are still format 1 */
	env = raw_open(f->store, &txn, &dbi, "keys");
	k.mv_size = key_of(key, "t", "c", 3);
	assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
	assert_int_equal(v.mv_size, KS_REC1_LEN);
	assert_int_equal(ks_get_le32(v.mv_data), KS_REC1_FORMAT);
	mdb_txn_abort(txn);
	mdb_env_close(env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_state_names),
		cmocka_unit_test_setup_teardown(test_open_missing_and_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotate_grace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoke, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_filter_and_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader_in_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cross_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader_create_stays_small, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_env, setup, teardown),
		cmocka_unit_test_setup_teardown(test_schema_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_env, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_growth, setup_fast, teardown),
		cmocka_unit_test_setup_teardown(test_keyid_generated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keyid_unique, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookup_keyid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_precedence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_corrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upgrade_v1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upgrade_v1_by_daemon, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upgrade_v1_aborts, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
