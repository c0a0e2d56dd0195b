/*
 * test_audit.c - the audit trail and backup/restore of the key store (daemon/store/audit.c,
 * auditlog.c, backup.c): the record's bytes pinned at the offsets audit.h gives, a decoder that
 * refuses whatever the encoder would not write, one record per change in the change's own
 * transaction (none for a change that fails), listing filters, pruning, the fleet mirror's
 * records (the operator the fleet record names, or unknown; the host that applied it), format
 * 2's bytes pinned and refused as format 1's are, and backup, check and restore on real stores
 * in fresh temporary directories.
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

#include <cmocka.h>
#include <lmdb.h>

#include "store/audit.h"
#include "store/keystore.h"
#include "store/record.h"

#define NOW 1700000000

/* ---- the record's bytes ---- */

static void fill(struct hm_audit_rec *r)
{
	memset(r, 0, sizeof(*r));
	r->op = HM_AUDIT_ROTATE;
	r->time_ms = 1796551427011;
	strcpy(r->tenant, "t1");
	strcpy(r->container, "c");
	r->epoch = 7;
	strcpy(r->keyid, "kid");
	r->actor.uid = 1000;
	strcpy(r->actor.user, "bob");
	strcpy(r->actor.sudo_user, "alice");
	r->actor.has_sudo_uid = true;
	r->actor.sudo_uid = 1001;
	strcpy(r->actor.host, "h");
	strcpy(r->detail, "grace=5");
}

static void test_bytes(void **state)
{
	static const uint8_t want[] = {
		1, 2, 1, 0,                             /* format, op rotate, sudo uid, reserved */
		0xc3, 0x43, 0xcf, 0x4a, 0xa2, 0x1, 0, 0, /* 1796551427011 ms, little-endian */
		7, 0, 0, 0,                             /* epoch */
		0xe8, 0x03, 0, 0,                       /* uid 1000 */
		0xe9, 0x03, 0, 0,                       /* sudo uid 1001 */
		2, 1, 3, 3, 5, 1, 7, 0,                 /* string lengths, reserved */
		't', '1', 'c', 'k', 'i', 'd', 'b', 'o', 'b', 'a', 'l', 'i', 'c', 'e', 'h',
		'g', 'r', 'a', 'c', 'e', '=', '5',
	};
	struct hm_audit_rec r, back;
	uint8_t out[HM_AUDIT_MAX];
	size_t n;

	(void)state;
	fill(&r);
	n = hm_audit_encode(&r, out);
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(out, want, n);
	back.seq = 42;
	assert_int_equal(hm_audit_decode(out, n, &back), HM_OK);
	assert_int_equal(back.seq, 42); /* the key's, not the value's */
	r.seq = 42;
	assert_memory_equal(&back, &r, sizeof(r));
	assert_string_equal(hm_audit_op_name(back.op), "rotate");
	assert_string_equal(hm_audit_op_name((enum hm_audit_op)0), "unknown");
	assert_string_equal(hm_audit_op_name(HM_AUDIT_OP__MAX), "unknown");
}

static void test_encode_refused(void **state)
{
	struct hm_audit_rec r;
	uint8_t out[HM_AUDIT_MAX];

	(void)state;
	fill(&r);
	r.op = HM_AUDIT_OP__MAX;
	assert_int_equal(hm_audit_encode(&r, out), 0);
	fill(&r);
	r.time_ms = -1;
	assert_int_equal(hm_audit_encode(&r, out), 0);
	fill(&r);
	r.detail[0] = '\n';
	assert_int_equal(hm_audit_encode(&r, out), 0);
	/* the longest record fits HM_AUDIT_MAX */
	fill(&r);
	memset(r.tenant, 'a', HM_SCOPE_MAX);
	memset(r.container, 'a', HM_SCOPE_MAX);
	memset(r.keyid, 'a', HM_KEYID_MAX);
	memset(r.actor.user, 'a', HM_AUDIT_NAME_MAX);
	memset(r.actor.sudo_user, 'a', HM_AUDIT_NAME_MAX);
	memset(r.actor.host, 'a', HM_AUDIT_HOST_MAX);
	memset(r.detail, 'a', HM_AUDIT_DETAIL_MAX);
	assert_int_equal(hm_audit_encode(&r, out), HM_AUDIT_MAX - 8 - HM_AUDIT_HOST_MAX);
	/* and with a fleet change's fields, the longest there is */
	r.op = HM_AUDIT_FLEET_EPOCH;
	r.fleet_op = HM_AUDIT_ROTATE;
	r.fleet_time_ms = INT64_MAX;
	memset(r.applied_host, 'a', HM_AUDIT_HOST_MAX);
	assert_int_equal(hm_audit_encode(&r, out), HM_AUDIT_MAX);
	r.applied_host[0] = '\t';
	assert_int_equal(hm_audit_encode(&r, out), 0);
}

/* A fleet change applied: the operator from the fleet record, the host that applied it. */
static void fill_fleet(struct hm_audit_rec *r)
{
	fill(r);
	r->op = HM_AUDIT_FLEET_EPOCH;
	memset(r->detail, 0, sizeof(r->detail)); /* compared whole after a round trip */
	strcpy(r->detail, "v=9");
	r->fleet_op = HM_AUDIT_ROTATE;
	r->fleet_time_ms = 1796551427000;
	strcpy(r->applied_host, "web-7");
}

static void test_bytes_fleet(void **state)
{
	static const uint8_t want[] = {
		2, 9, 1, 2,                             /* format 2, fleet-epoch, sudo uid, rotate */
		0xc3, 0x43, 0xcf, 0x4a, 0xa2, 0x1, 0, 0, /* 1796551427011 ms, little-endian */
		7, 0, 0, 0,                             /* epoch */
		0xe8, 0x03, 0, 0,                       /* uid 1000 */
		0xe9, 0x03, 0, 0,                       /* sudo uid 1001 */
		2, 1, 3, 3, 5, 1, 3, 5,                 /* string lengths, the applying host's */
		0xb8, 0x43, 0xcf, 0x4a, 0xa2, 0x1, 0, 0, /* the operator's time, 1796551427000 */
		't', '1', 'c', 'k', 'i', 'd', 'b', 'o', 'b', 'a', 'l', 'i', 'c', 'e', 'h',
		'v', '=', '9', 'w', 'e', 'b', '-', '7',
	};
	static const uint8_t unknown[] = {
		2, 10, 2, 0,                            /* fleet-policy, operator unknown, no op */
		0xc3, 0x43, 0xcf, 0x4a, 0xa2, 0x1, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,     /* epoch, uid, sudo uid: none */
		2, 0, 0, 0, 0, 0, 0, 1,                 /* tenant, the applying host */
		0, 0, 0, 0, 0, 0, 0, 0,                 /* the operator's time: unknown */
		't', '1', 'h',
	};
	struct hm_audit_rec r, back;
	uint8_t out[HM_AUDIT_MAX];
	size_t n;

	(void)state;
	fill_fleet(&r);
	n = hm_audit_encode(&r, out);
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(out, want, n);
	back.seq = 0;
	assert_int_equal(hm_audit_decode(out, n, &back), HM_OK);
	assert_memory_equal(&back, &r, sizeof(r));
	/* the operator unknown: a format 1 fleet record (from an older hmacctl) applied */
	memset(&r, 0, sizeof(r));
	r.op = HM_AUDIT_FLEET_POLICY;
	r.time_ms = 1796551427011;
	strcpy(r.tenant, "t1");
	r.operator_unknown = true;
	strcpy(r.applied_host, "h");
	n = hm_audit_encode(&r, out);
	assert_int_equal(n, sizeof(unknown));
	assert_memory_equal(out, unknown, n);
	assert_int_equal(hm_audit_decode(out, n, &back), HM_OK);
	assert_memory_equal(&back, &r, sizeof(r));
}

static void test_fleet_refused(void **state)
{
	struct hm_audit_rec r;
	uint8_t good[HM_AUDIT_MAX], bad[HM_AUDIT_MAX + 1];
	size_t n, i;
	unsigned bit;

	(void)state;
	/* the encoder: fleet fields only on a fleet change, an operator's op, no unknown's name */
	fill_fleet(&r);
	r.op = HM_AUDIT_ROTATE;
	assert_int_equal(hm_audit_encode(&r, good), 0);
	fill_fleet(&r);
	r.fleet_op = HM_AUDIT_PRUNE;
	assert_int_equal(hm_audit_encode(&r, good), 0);
	fill_fleet(&r);
	r.fleet_op = HM_AUDIT_FLEET_EPOCH;
	assert_int_equal(hm_audit_encode(&r, good), 0);
	fill_fleet(&r);
	r.fleet_time_ms = -1;
	assert_int_equal(hm_audit_encode(&r, good), 0);
	fill_fleet(&r);
	r.operator_unknown = true; /* with bob's uid and name */
	assert_int_equal(hm_audit_encode(&r, good), 0);
	/* the decoder */
	fill_fleet(&r);
	n = hm_audit_encode(&r, good);
	assert_true(n > HM_AUDIT_FIXED_FLEET);
	for (i = 0; i < n; i++)
		assert_int_equal(hm_audit_decode(good, i, &r), HM_EMALFORMED);
	memcpy(bad, good, n);
	bad[n] = 'x';
	assert_int_equal(hm_audit_decode(bad, n + 1, &r), HM_EMALFORMED);
	const struct {
		size_t off;
		uint8_t v;
	} cases[] = {
		{ 0, 1 },     /* format 1: the fixed part is shorter, nothing lines up */
		{ 0, 3 },
		{ 1, HM_AUDIT_ROTATE }, /* fleet fields on another operation */
		{ 2, 4 },     /* an unknown flag */
		{ 2, 3 },     /* operator unknown, with a uid and names */
		{ 3, HM_AUDIT_PRUNE }, { 3, HM_AUDIT_FLEET_POLICY }, { 3, 0xff },
		{ 39, 0x80 }, /* the operator's time negative */
		{ 31, 6 },    /* the applying host's length off by one */
		{ n - 1, '\n' },
	};
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(bad, good, n);
		bad[cases[i].off] = cases[i].v;
		assert_int_equal(hm_audit_decode(bad, n, &r), HM_EMALFORMED);
		assert_int_equal(r.op, 0);
	}
	/* format 2 holding only what format 1 holds: not what the encoder writes */
	fill(&r);
	r.op = HM_AUDIT_FLEET_EPOCH;
	n = hm_audit_encode(&r, good);
	assert_int_equal(good[0], HM_AUDIT_FORMAT);
	memset(bad, 0, sizeof(bad));
	memcpy(bad, good, HM_AUDIT_FIXED);
	bad[0] = HM_AUDIT_FORMAT_FLEET;
	memcpy(bad + HM_AUDIT_FIXED_FLEET, good + HM_AUDIT_FIXED, n - HM_AUDIT_FIXED);
	assert_int_equal(hm_audit_decode(bad, n + 8, &r), HM_EMALFORMED);
	/* any single bit flipped: refused, or a record that encodes back to the same bytes */
	fill_fleet(&r);
	n = hm_audit_encode(&r, good);
	for (i = 0; i < n; i++) {
		for (bit = 0; bit < 8; bit++) {
			uint8_t again[HM_AUDIT_MAX];

			memcpy(bad, good, n);
			bad[i] ^= (uint8_t)(1u << bit);
			if (hm_audit_decode(bad, n, &r) != HM_OK)
				continue;
			assert_int_equal(hm_audit_encode(&r, again), n);
			assert_memory_equal(again, bad, n);
		}
	}
}

static void test_decode_refused(void **state)
{
	struct hm_audit_rec r;
	uint8_t good[HM_AUDIT_MAX], bad[HM_AUDIT_MAX + 1];
	size_t n, i;
	unsigned bit;

	(void)state;
	fill(&r);
	n = hm_audit_encode(&r, good);
	/* every truncation and one byte too many */
	for (i = 0; i < n; i++)
		assert_int_equal(hm_audit_decode(good, i, &r), HM_EMALFORMED);
	memcpy(bad, good, n);
	bad[n] = 'x';
	assert_int_equal(hm_audit_decode(bad, n + 1, &r), HM_EMALFORMED);
	/* named fields */
	static const struct {
		size_t off;
		uint8_t v;
	} cases[] = {
		{ 0, 2 }, { 1, 0 }, { 1, HM_AUDIT_OP__MAX }, { 2, 2 }, { 3, 1 }, { 31, 1 },
		{ 11, 0x80 },  /* negative time */
		{ 24, 3 },     /* tenant length off by one: the record no longer ends right */
		{ 32, '\t' },  /* not printable */
		{ 32, 0x80 },
	};
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(bad, good, n);
		bad[cases[i].off] = cases[i].v;
		assert_int_equal(hm_audit_decode(bad, n, &r), HM_EMALFORMED);
		assert_int_equal(r.op, 0); /* zeroed on failure */
	}
	/* no sudo uid flag but a sudo uid */
	memcpy(bad, good, n);
	bad[2] = 0;
	assert_int_equal(hm_audit_decode(bad, n, &r), HM_EMALFORMED);
	/* any single bit flipped: refused, or a record that encodes back to the same bytes */
	for (i = 0; i < n; i++) {
		for (bit = 0; bit < 8; bit++) {
			uint8_t again[HM_AUDIT_MAX];

			memcpy(bad, good, n);
			bad[i] ^= (uint8_t)(1u << bit);
			if (hm_audit_decode(bad, n, &r) != HM_OK)
				continue;
			assert_int_equal(hm_audit_encode(&r, again), n);
			assert_memory_equal(again, bad, n);
		}
	}
}

/* ---- the trail in a store ---- */

struct fx {
	char dir[64];
	char store[96];
	char file[96];
	struct hm_keystore *ks;
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256];

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/hm-audit-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->store, sizeof(f->store), "%s/db", f->dir);
	snprintf(f->file, sizeof(f->file), "%s/backup.mdb", f->dir);
	*state = f;
	return hm_ks_open(f->store, HM_KS_CREATE, &f->ks, err, sizeof(err)) == HM_OK ? 0 : -1;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	hm_ks_close(f->ks);
	(void)nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

#define MAX_RECS 16

struct got {
	size_t n;
	struct hm_audit_rec r[MAX_RECS];
};

static int collect(const struct hm_audit_rec *rec, void *arg)
{
	struct got *g = arg;

	if (g->n < MAX_RECS)
		g->r[g->n] = *rec;
	g->n++;
	return 0;
}

static void list(struct hm_keystore *ks, const char *tenant, int64_t since, struct got *g)
{
	memset(g, 0, sizeof(*g));
	assert_int_equal(hm_ks_audit_list(ks, tenant, since, collect, g), HM_OK);
}

static const struct hm_ks_actor actor = {
	.uid = 4242, .user = "op", .sudo_user = "alice", .has_sudo_uid = true,
	.sudo_uid = 1001, .host = "host-a",
};

/* Every change, in commit order, with its operator; failed changes leave nothing. */
static void test_changes(void **state)
{
	struct fx *f = *state;
	uint8_t secret[HM_KEY_LEN], imp[20];
	struct hm_ks_added a1, a2;
	struct hm_policy p;
	struct hm_audit_rec last;
	struct got g;

	hm_ks_set_actor(f->ks, &actor);
	assert_int_equal(hm_ks_audit_last(f->ks, &last), HM_ENOTFOUND);
	assert_int_equal(hm_ks_create(f->ks, "t1", "c", NOW, NULL, secret, &a1), HM_OK);
	assert_int_equal(hm_ks_rotate(f->ks, "t1", "c", NOW, 60, "kid-2", secret, &a2), HM_OK);
	memset(imp, 7, sizeof(imp));
	assert_int_equal(hm_ks_import(f->ks, "t2", "c", NOW, 0, "kid-i", imp, sizeof(imp), NULL),
			 HM_OK);
	assert_int_equal(hm_ks_revoke(f->ks, "t1", "c", 1), HM_OK);
	hm_policy_default(&p);
	assert_int_equal(hm_ks_policy_set(f->ks, "t1", NULL, &p), HM_OK);
	assert_int_equal(hm_ks_policy_unset(f->ks, "t1", NULL), HM_OK);
	/* failures: nothing committed, nothing audited */
	assert_int_equal(hm_ks_create(f->ks, "t1", "c", NOW, NULL, secret, NULL), HM_EEXIST);
	assert_int_equal(hm_ks_revoke(f->ks, "t1", "c", 1), HM_ESTATE);
	assert_int_equal(hm_ks_revoke(f->ks, "t1", "c", 9), HM_ENOTFOUND);
	assert_int_equal(hm_ks_rotate(f->ks, "t1", "c", NOW, 0, "kid-2", secret, NULL), HM_EEXIST);
	assert_int_equal(hm_ks_policy_unset(f->ks, "t1", NULL), HM_ENOTFOUND);

	list(f->ks, NULL, INT64_MIN, &g);
	assert_int_equal(g.n, 6);
	static const enum hm_audit_op ops[] = { HM_AUDIT_CREATE, HM_AUDIT_ROTATE, HM_AUDIT_IMPORT,
						HM_AUDIT_REVOKE, HM_AUDIT_POLICY_SET,
						HM_AUDIT_POLICY_UNSET };
	for (size_t i = 0; i < g.n; i++) {
		assert_int_equal(g.r[i].seq, i + 1);
		assert_int_equal(g.r[i].op, ops[i]);
		assert_memory_equal(&g.r[i].actor, &actor, sizeof(actor));
		assert_true(g.r[i].time_ms > (int64_t)NOW * 1000);
	}
	assert_string_equal(g.r[0].tenant, "t1");
	assert_string_equal(g.r[0].container, "c");
	assert_int_equal(g.r[0].epoch, 1);
	assert_string_equal(g.r[0].keyid, a1.keyid);
	assert_int_equal(g.r[1].epoch, 2);
	assert_string_equal(g.r[1].keyid, "kid-2");
	assert_string_equal(g.r[1].detail, "grace=60");
	assert_string_equal(g.r[2].keyid, "kid-i");
	assert_string_equal(g.r[3].keyid, a1.keyid); /* revoke names the epoch's key id */
	assert_int_equal(g.r[3].epoch, 1);
	assert_string_equal(g.r[4].container, "");
	assert_int_equal(g.r[4].epoch, 0);
	assert_int_equal(hm_ks_audit_last(f->ks, &last), HM_OK);
	assert_int_equal(last.seq, 6);
	assert_int_equal(last.op, HM_AUDIT_POLICY_UNSET);

	/* filters */
	list(f->ks, "t2", INT64_MIN, &g);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.r[0].op, HM_AUDIT_IMPORT);
	list(f->ks, NULL, INT64_MAX, &g);
	assert_int_equal(g.n, 0);
	assert_int_equal(hm_ks_audit_list(f->ks, "bad name", 0, collect, &g), HM_EINVAL);
}

static void test_prune(void **state)
{
	struct fx *f = *state;
	uint8_t secret[HM_KEY_LEN];
	uint64_t removed = 99;
	struct got g;

	assert_int_equal(hm_ks_create(f->ks, "t1", "c", NOW, NULL, secret, NULL), HM_OK);
	assert_int_equal(hm_ks_create(f->ks, "t1", "d", NOW, NULL, secret, NULL), HM_OK);
	assert_int_equal(hm_ks_audit_prune(f->ks, -1, &removed), HM_EINVAL);
	assert_int_equal(hm_ks_audit_prune(f->ks, 0, &removed), HM_OK);
	assert_int_equal(removed, 0);
	assert_int_equal(hm_ks_audit_prune(f->ks, INT64_MAX, &removed), HM_OK);
	assert_int_equal(removed, 3); /* both creates and the first prune */
	list(f->ks, NULL, INT64_MIN, &g);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.r[0].op, HM_AUDIT_PRUNE);
	assert_int_equal(g.r[0].seq, 4); /* numbering never goes back */
	assert_non_null(strstr(g.r[0].detail, "removed=3"));
	assert_int_equal(hm_ks_create(f->ks, "t1", "e", NOW, NULL, secret, NULL), HM_OK);
	list(f->ks, NULL, INT64_MIN, &g);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.r[1].seq, 5);
}

/* A store made before the audit trail: no records, and the next change starts it. */
static void test_old_store(void **state)
{
	struct fx *f = *state;
	uint8_t secret[HM_KEY_LEN];
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	struct got g;
	char err[256];

	hm_ks_close(f->ks);
	f->ks = NULL;
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
	assert_int_equal(mdb_env_open(env, f->store, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, KS_DB_AUDIT, 0, &dbi), 0);
	assert_int_equal(mdb_drop(txn, dbi, 1), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	assert_int_equal(hm_ks_open(f->store, 0, &f->ks, err, sizeof(err)), HM_OK);
	list(f->ks, NULL, INT64_MIN, &g);
	assert_int_equal(g.n, 0);
	assert_int_equal(hm_ks_create(f->ks, "t1", "c", NOW, NULL, secret, NULL), HM_OK);
	list(f->ks, NULL, INT64_MIN, &g);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.r[0].seq, 1);
}

/* The fleet mirror records each record it applied, not those it held already. */
static void test_mirror(void **state)
{
	struct fx *f = *state;
	struct hm_ks_mirror m = { .fleet_id = "0123456789abcdef0123456789abcdef",
				  .seal_key_id = "fedcba9876543210fedcba9876543210",
				  .pos = "1700000000000-0" };
	struct hm_ks_mirror_rec r[2];
	struct hm_ks_mirror_result res;
	struct hm_keystore *mk = NULL;
	struct got g;
	char err[256];

	hm_ks_close(f->ks);
	f->ks = NULL;
	assert_int_equal(hm_ks_open(f->store, HM_KS_READER | HM_KS_MIRROR, &mk, err, sizeof(err)),
			 HM_OK);
	memset(r, 0, sizeof(r));
	r[0].kind = HM_KS_MIRROR_EPOCH;
	memset(r[0].name, 1, sizeof(r[0].name));
	r[0].version = 3;
	strcpy(r[0].tenant, "t1");
	strcpy(r[0].container, "c");
	r[0].epoch = 1;
	r[0].state = HM_KEY_CURRENT;
	r[0].created = NOW;
	strcpy(r[0].keyid, "fk-1");
	memset(r[0].secret, 0x5a, 32);
	r[0].secret_len = 32;
	/* made by bob, by sudo from alice, on admin-1 (a format 2 fleet record) */
	r[0].origin.known = true;
	r[0].origin.op = HM_AUDIT_ROTATE;
	r[0].origin.time_ms = 1796551427000;
	r[0].origin.actor.uid = 1000;
	strcpy(r[0].origin.actor.user, "bob");
	strcpy(r[0].origin.actor.sudo_user, "alice");
	r[0].origin.actor.has_sudo_uid = true;
	r[0].origin.actor.sudo_uid = 1001;
	strcpy(r[0].origin.actor.host, "admin-1");
	/* by whom, unknown (a format 1 record, from an older hmacctl) */
	r[1].kind = HM_KS_MIRROR_POLICY;
	memset(r[1].name, 2, sizeof(r[1].name));
	r[1].version = 4;
	strcpy(r[1].tenant, "t1");
	r[1].present = false;
	/* the applying hmacd: recorded as the host that applied, never as the operator */
	hm_ks_set_actor(mk, &(struct hm_ks_actor){ .uid = 998, .user = "hmacd",
						   .host = "follower-9" });
	assert_int_equal(hm_ks_mirror_apply(mk, &m, r, 2, &res), HM_OK);
	assert_int_equal(res.applied, 2);
	assert_int_equal(hm_ks_mirror_apply(mk, &m, r, 2, &res), HM_OK);
	assert_int_equal(res.same, 2);
	list(mk, NULL, INT64_MIN, &g);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.r[0].op, HM_AUDIT_FLEET_EPOCH);
	assert_string_equal(g.r[0].keyid, "fk-1");
	assert_int_equal(g.r[0].epoch, 1);
	assert_non_null(strstr(g.r[0].detail, "state=current"));
	assert_non_null(strstr(g.r[0].detail, "pos=1700000000000-0"));
	assert_int_equal(g.r[0].actor.uid, 1000);
	assert_string_equal(g.r[0].actor.user, "bob");
	assert_string_equal(g.r[0].actor.sudo_user, "alice");
	assert_true(g.r[0].actor.has_sudo_uid);
	assert_int_equal(g.r[0].actor.sudo_uid, 1001);
	assert_string_equal(g.r[0].actor.host, "admin-1");
	assert_false(g.r[0].operator_unknown);
	assert_int_equal(g.r[0].fleet_op, HM_AUDIT_ROTATE);
	assert_int_equal(g.r[0].fleet_time_ms, 1796551427000);
	assert_string_equal(g.r[0].applied_host, "follower-9");
	assert_int_equal(g.r[1].op, HM_AUDIT_FLEET_POLICY);
	assert_non_null(strstr(g.r[1].detail, "unset"));
	assert_true(g.r[1].operator_unknown);
	assert_int_equal(g.r[1].actor.uid, 0);
	assert_string_equal(g.r[1].actor.user, "");
	assert_string_equal(g.r[1].actor.host, "");
	assert_int_equal(g.r[1].fleet_op, 0);
	assert_int_equal(g.r[1].fleet_time_ms, 0);
	assert_string_equal(g.r[1].applied_host, "follower-9");
	/* the secret in no record */
	for (size_t i = 0; i < g.n; i++)
		assert_null(memmem(&g.r[i], sizeof(g.r[i]), r[0].secret, 32));
	hm_ks_close(mk);
}

/* ---- backup and restore ---- */

struct kc {
	size_t n;
	char keyid[8][HM_KEYID_MAX + 1];
};

static int key_cb(const struct hm_key_info *info, void *arg)
{
	struct kc *k = arg;

	if (k->n < 8)
		strcpy(k->keyid[k->n], info->keyid);
	k->n++;
	return 0;
}

static void keys_of(struct hm_keystore *ks, struct kc *k)
{
	memset(k, 0, sizeof(*k));
	assert_int_equal(hm_ks_list(ks, NULL, key_cb, k), HM_OK);
}

/* A change whose audit record cannot be written is not made: the two commit or neither does. */
static void test_no_change_without_record(void **state)
{
	struct fx *f = *state;
	uint8_t secret[HM_KEY_LEN], bad_key[7] = { 0 };
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	MDB_val k = { .mv_size = sizeof(bad_key), .mv_data = bad_key }, v = { 0, NULL };
	enum hm_policy_source src = HM_POLICY_SCOPE;
	struct hm_policy p;
	struct kc keys;
	char err[256];

	hm_ks_close(f->ks);
	f->ks = NULL;
	/* a last audit key that is not 8 bytes: the next number cannot be found */
	memset(bad_key, 0xff, sizeof(bad_key));
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
	assert_int_equal(mdb_env_open(env, f->store, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, KS_DB_AUDIT, 0, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	assert_int_equal(hm_ks_open(f->store, 0, &f->ks, err, sizeof(err)), HM_OK);
	assert_int_equal(hm_ks_create(f->ks, "t1", "c", NOW, NULL, secret, NULL), HM_ESTORE);
	assert_non_null(strstr(hm_ks_errmsg(f->ks), "audit"));
	hm_policy_default(&p);
	assert_int_equal(hm_ks_policy_set(f->ks, "t1", NULL, &p), HM_ESTORE);
	keys_of(f->ks, &keys);
	assert_int_equal(keys.n, 0);
	assert_int_equal(hm_ks_policy_get(f->ks, "t1", NULL, &p, &src), HM_OK);
	assert_int_equal(src, HM_POLICY_DEFAULT);
}

static void test_backup_restore(void **state)
{
	struct fx *f = *state;
	uint8_t secret[HM_KEY_LEN];
	struct hm_ks_backup_info info;
	struct hm_ks_restore_info ri;
	struct hm_keystore *nk = NULL;
	struct hm_policy p;
	char err[512], fresh[128];
	struct stat st;
	struct kc k;
	struct got g;

	assert_int_equal(hm_ks_create(f->ks, "t1", "c", NOW, "before", secret, NULL), HM_OK);
	hm_policy_default(&p);
	assert_int_equal(hm_ks_policy_set(f->ks, "t1", NULL, &p), HM_OK);
	assert_int_equal(hm_ks_backup(f->store, f->file, false, &info, err, sizeof(err)), HM_OK);
	assert_int_equal(info.keys, 1);
	assert_int_equal(info.keyids, 1);
	assert_int_equal(info.policies, 1);
	assert_int_equal(info.audit, 2);
	assert_false(info.mirror);
	assert_int_equal(stat(f->file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal((uint64_t)st.st_size, info.bytes);
	/* an existing file: refused, and left alone */
	assert_int_equal(hm_ks_backup(f->store, f->file, false, &info, err, sizeof(err)),
			 HM_EEXIST);
	assert_int_equal(hm_ks_backup(f->store, f->file, true, &info, err, sizeof(err)), HM_OK);
	assert_int_equal(hm_ks_backup_check(f->file, &info, err, sizeof(err)), HM_OK);

	/* a change after the backup */
	assert_int_equal(hm_ks_create(f->ks, "t1", "d", NOW, "after", secret, NULL), HM_OK);

	/* restore into a new store: the backup's keys and its history, then the restore */
	snprintf(fresh, sizeof(fresh), "%s/fresh", f->dir);
	assert_int_equal(hm_ks_open(fresh, HM_KS_CREATE, &nk, err, sizeof(err)), HM_OK);
	assert_int_equal(hm_ks_restore(nk, f->file, 0, &ri), HM_OK);
	assert_false(ri.replaced);
	keys_of(nk, &k);
	assert_int_equal(k.n, 1);
	assert_string_equal(k.keyid[0], "before");
	list(nk, NULL, INT64_MIN, &g);
	assert_int_equal(g.n, 3);
	assert_int_equal(g.r[2].op, HM_AUDIT_RESTORE);
	assert_int_equal(g.r[2].seq, 3);
	hm_ks_close(nk);

	/* over a store with keys: refused without force, nothing changed */
	assert_int_equal(hm_ks_restore(f->ks, f->file, 0, &ri), HM_ESTATE);
	keys_of(f->ks, &k);
	assert_int_equal(k.n, 2);
	list(f->ks, NULL, INT64_MIN, &g);
	assert_int_equal(g.n, 3);
	/* with force: the key made after the backup is gone, the history kept and extended */
	assert_int_equal(hm_ks_restore(f->ks, f->file, HM_KS_RESTORE_FORCE, &ri), HM_OK);
	assert_true(ri.replaced);
	keys_of(f->ks, &k);
	assert_int_equal(k.n, 1);
	assert_string_equal(k.keyid[0], "before");
	list(f->ks, NULL, INT64_MIN, &g);
	assert_int_equal(g.n, 4);
	assert_int_equal(g.r[3].op, HM_AUDIT_RESTORE);
	assert_non_null(strstr(g.r[3].detail, "replaced=2/1"));
	/* key id "after" is free again: it never existed in the restored store */
	assert_int_equal(hm_ks_create(f->ks, "t1", "d", NOW, "after", secret, NULL), HM_OK);
}

static void test_backup_bad(void **state)
{
	struct fx *f = *state;
	struct hm_ks_backup_info info;
	struct hm_ks_restore_info ri;
	char err[512], path[128];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/junk", f->dir);
	assert_int_equal(hm_ks_backup_check(path, &info, err, sizeof(err)), HM_ENOTFOUND);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("not a store at all, not even close to one", fp);
	fclose(fp);
	assert_int_not_equal(hm_ks_backup_check(path, &info, err, sizeof(err)), HM_OK);
	assert_int_not_equal(hm_ks_restore(f->ks, path, HM_KS_RESTORE_FORCE, &ri), HM_OK);
	/* a directory is not a backup */
	assert_int_not_equal(hm_ks_backup_check(f->dir, &info, err, sizeof(err)), HM_OK);
	/* no store */
	snprintf(path, sizeof(path), "%s/none", f->dir);
	assert_int_equal(hm_ks_backup(path, f->file, false, &info, err, sizeof(err)),
			 HM_ENOTFOUND);
	assert_int_not_equal(access(f->file, F_OK), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bytes),
		cmocka_unit_test(test_encode_refused),
		cmocka_unit_test(test_decode_refused),
		cmocka_unit_test(test_bytes_fleet),
		cmocka_unit_test(test_fleet_refused),
		cmocka_unit_test_setup_teardown(test_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_store, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mirror, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_change_without_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backup_restore, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backup_bad, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
