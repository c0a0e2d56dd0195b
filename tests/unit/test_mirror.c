/*
 * test_mirror.c - unit tests of the store as a fleet's mirror (daemon/store/mirror.c): which
 * records hm_ks_mirror_apply() writes and which it refuses (same, older, invalid), that a mirror
 * refuses hmacctl's local writes, that a store with keys of its own cannot start mirroring, the
 * HM_KS_MIRROR handle the daemon uses, and hm_ks_export() for import-store.
 *
 * Every test gets its own store in a fresh mkdtemp() directory; LMDB allows one environment per
 * store per process, so a test closes one handle before it opens another.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "proto/errors.h"
#include "proto/policy.h"
#include "store/keystore.h"

#define NOW 1700000000

struct fx {
	char dir[64];
	char store[96];
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

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/hm-mirror-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->store, sizeof(f->store), "%s/db", f->dir);
	if (hm_ks_open(f->store, HM_KS_CREATE, &f->ks, NULL, 0) != HM_OK) {
		(void)nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	hm_ks_close(f->ks);
	(void)nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static const struct hm_ks_mirror FLEET = {
	.fleet_id = "0123456789abcdef0123456789abcdef",
	.seal_key_id = "fedcba9876543210fedcba9876543210",
	.pos = "1700000000000-0",
};

static void epoch_rec(struct hm_ks_mirror_rec *r, uint8_t name, uint64_t version,
		      const char *tenant, const char *container, uint32_t epoch,
		      enum hm_key_state state, const char *keyid, uint8_t fill)
{
	memset(r, 0, sizeof(*r));
	r->kind = HM_KS_MIRROR_EPOCH;
	memset(r->name, name, sizeof(r->name));
	r->version = version;
	snprintf(r->tenant, sizeof(r->tenant), "%s", tenant);
	snprintf(r->container, sizeof(r->container), "%s", container);
	r->epoch = epoch;
	r->state = state;
	r->created = NOW;
	r->deadline = state == HM_KEY_SUPERSEDED ? NOW + 60 : 0;
	snprintf(r->keyid, sizeof(r->keyid), "%s", keyid);
	if (state != HM_KEY_REVOKED) {
		r->secret_len = 32;
		memset(r->secret, fill, r->secret_len);
	}
}

static void policy_rec(struct hm_ks_mirror_rec *r, uint8_t name, uint64_t version,
		       const char *tenant, bool present)
{
	memset(r, 0, sizeof(*r));
	r->kind = HM_KS_MIRROR_POLICY;
	memset(r->name, name, sizeof(r->name));
	r->version = version;
	snprintf(r->tenant, sizeof(r->tenant), "%s", tenant);
	r->present = present;
	hm_policy_default(&r->policy);
	r->policy.v1_nonce = true;
}

/* The epoch as the daemon's read path sees it. */
static int lookup(struct hm_keystore *ks, const char *tenant, const char *container,
		  uint32_t epoch, struct hm_key_rec *rec)
{
	struct hm_ks_reader *rd = NULL;
	uint64_t txnid = 0;
	int rc;

	assert_int_equal(hm_ks_reader_new(ks, &rd), HM_OK);
	assert_int_equal(hm_ks_reader_begin(rd, &txnid), HM_OK);
	rc = hm_ks_lookup(rd, (const uint8_t *)tenant, strlen(tenant),
			  (const uint8_t *)container, strlen(container), epoch, rec);
	hm_ks_reader_end(rd);
	hm_ks_reader_free(rd);
	return rc;
}

static void apply_expect(struct hm_keystore *ks, const struct hm_ks_mirror_rec *recs, size_t n,
			 size_t applied, size_t same, size_t older, size_t invalid)
{
	struct hm_ks_mirror_result res;

	assert_int_equal(hm_ks_mirror_apply(ks, &FLEET, recs, n, &res), HM_OK);
	assert_int_equal(res.applied, applied);
	assert_int_equal(res.same, same);
	assert_int_equal(res.older, older);
	assert_int_equal(res.invalid, invalid);
}

static void test_apply_versions(void **state)
{
	struct fx *f = *state;
	struct hm_ks_mirror_rec r[2];
	struct hm_ks_mirror m;
	struct hm_key_rec rec;
	struct hm_policy p;
	enum hm_policy_source src;
	uint8_t want[32];

	assert_int_equal(hm_ks_mirror_get(f->ks, &m), HM_OK);
	assert_string_equal(m.fleet_id, "");

	epoch_rec(&r[0], 1, 5, "acme", "web", 1, HM_KEY_CURRENT, "hk-acme-web-1", 0xa1);
	policy_rec(&r[1], 2, 7, "acme", true);
	apply_expect(f->ks, r, 2, 2, 0, 0, 0);
	assert_int_equal(hm_ks_mirror_get(f->ks, &m), HM_OK);
	assert_string_equal(m.fleet_id, FLEET.fleet_id);
	assert_string_equal(m.seal_key_id, FLEET.seal_key_id);
	assert_string_equal(m.pos, FLEET.pos);
	assert_int_equal(lookup(f->ks, "acme", "web", 1, &rec), HM_OK);
	memset(want, 0xa1, sizeof(want));
	assert_int_equal(rec.state, HM_KEY_CURRENT);
	assert_int_equal(rec.secret_len, 32);
	assert_memory_equal(rec.secret, want, 32);
	assert_int_equal(hm_ks_policy_get(f->ks, "acme", "web", &p, &src), HM_OK);
	assert_int_equal(src, HM_POLICY_TENANT);
	assert_true(p.v1_nonce);

	/* the same versions again (a resync): nothing to do */
	apply_expect(f->ks, r, 2, 0, 2, 0, 0);

	/* an older version of the epoch, with another secret: a rollback, refused */
	epoch_rec(&r[0], 1, 4, "acme", "web", 1, HM_KEY_CURRENT, "hk-acme-web-1", 0xee);
	apply_expect(f->ks, r, 1, 0, 0, 1, 0);
	assert_int_equal(lookup(f->ks, "acme", "web", 1, &rec), HM_OK);
	assert_memory_equal(rec.secret, want, 32);

	/* newer: the epoch is revoked, the policy removed */
	epoch_rec(&r[0], 1, 6, "acme", "web", 1, HM_KEY_REVOKED, "hk-acme-web-1", 0);
	policy_rec(&r[1], 2, 8, "acme", false);
	apply_expect(f->ks, r, 2, 2, 0, 0, 0);
	assert_int_equal(lookup(f->ks, "acme", "web", 1, &rec), HM_OK);
	assert_int_equal(rec.state, HM_KEY_REVOKED);
	assert_int_equal(rec.secret_len, 0);
	assert_int_equal(hm_ks_policy_get(f->ks, "acme", "web", &p, &src), HM_OK);
	assert_int_equal(src, HM_POLICY_DEFAULT);
	assert_int_equal(hm_ks_mirror_get(f->ks, &m), HM_OK);
	assert_int_equal(m.max_version, 8);
}

static void test_apply_invalid(void **state)
{
	struct fx *f = *state;
	struct hm_ks_mirror_rec r;
	struct hm_key_rec rec;

	epoch_rec(&r, 1, 1, "acme", "web", 1, HM_KEY_CURRENT, "hk-one", 0x11);
	apply_expect(f->ks, &r, 1, 1, 0, 0, 0);

	/* a key id that names another epoch already */
	epoch_rec(&r, 2, 1, "acme", "db", 1, HM_KEY_CURRENT, "hk-one", 0x22);
	apply_expect(f->ks, &r, 1, 0, 0, 0, 1);
	assert_int_equal(lookup(f->ks, "acme", "db", 1, &rec), HM_ENOTFOUND);

	epoch_rec(&r, 3, 1, "Acme!", "web", 1, HM_KEY_CURRENT, "hk-three", 0x33);
	apply_expect(f->ks, &r, 1, 0, 0, 0, 1);
	epoch_rec(&r, 3, 1, "acme", "web", 0, HM_KEY_CURRENT, "hk-three", 0x33);
	apply_expect(f->ks, &r, 1, 0, 0, 0, 1);
	epoch_rec(&r, 3, 1, "acme", "", 2, HM_KEY_CURRENT, "hk-three", 0x33);
	apply_expect(f->ks, &r, 1, 0, 0, 0, 1);
	epoch_rec(&r, 3, 0, "acme", "web", 2, HM_KEY_CURRENT, "hk-three", 0x33);
	apply_expect(f->ks, &r, 1, 0, 0, 0, 1);
	epoch_rec(&r, 3, 1, "acme", "web", 2, HM_KEY_CURRENT, "hk-three", 0x33);
	r.secret_len = 8; /* shorter than any key */
	apply_expect(f->ks, &r, 1, 0, 0, 0, 1);
	epoch_rec(&r, 3, 1, "acme", "web", 2, HM_KEY_REVOKED, "hk-three", 0);
	r.secret_len = 32; /* a revoked epoch with a secret */
	apply_expect(f->ks, &r, 1, 0, 0, 0, 1);
	epoch_rec(&r, 3, 1, "acme", "web", 2, HM_KEY_CURRENT, "hk three", 0x33);
	apply_expect(f->ks, &r, 1, 0, 0, 0, 1);
	epoch_rec(&r, 3, 1, "acme", "web", 2, HM_KEY_CURRENT, "hk-three", 0x33);
	r.state = (enum hm_key_state)9;
	apply_expect(f->ks, &r, 1, 0, 0, 0, 1);
	assert_int_equal(lookup(f->ks, "acme", "web", 2, &rec), HM_ENOTFOUND);
}

static void test_bad_mirror_state(void **state)
{
	struct fx *f = *state;
	struct hm_ks_mirror m = FLEET;
	struct hm_ks_mirror_result res;

	m.fleet_id[0] = '\0';
	assert_int_equal(hm_ks_mirror_apply(f->ks, &m, NULL, 0, &res), HM_EINVAL);
	m = FLEET;
	m.pos[3] = '/';
	assert_int_equal(hm_ks_mirror_apply(f->ks, &m, NULL, 0, &res), HM_EINVAL);
	assert_int_equal(hm_ks_mirror_get(f->ks, &m), HM_OK);
	assert_string_equal(m.fleet_id, "");
}

/* One source of truth: a mirror's keys and policies change only through the fleet. */
static void test_local_writes_refused(void **state)
{
	struct fx *f = *state;
	struct hm_ks_mirror_rec r;
	struct hm_ks_added out;
	struct hm_policy p;
	uint8_t secret[HM_KEY_LEN];

	epoch_rec(&r, 1, 1, "acme", "web", 1, HM_KEY_CURRENT, "hk-one", 0x11);
	apply_expect(f->ks, &r, 1, 1, 0, 0, 0);
	hm_policy_default(&p);
	assert_int_equal(hm_ks_create(f->ks, "acme", "db", NOW, NULL, secret, &out), HM_ESTATE);
	assert_non_null(strstr(hm_ks_errmsg(f->ks), "--fleet"));
	assert_int_equal(hm_ks_rotate(f->ks, "acme", "web", NOW, 60, NULL, secret, &out),
			 HM_ESTATE);
	assert_int_equal(hm_ks_revoke(f->ks, "acme", "web", 1), HM_ESTATE);
	assert_int_equal(hm_ks_policy_set(f->ks, "acme", NULL, &p), HM_ESTATE);
	assert_int_equal(hm_ks_policy_unset(f->ks, "acme", NULL), HM_ESTATE);
}

/* Keys of its own would mix with the fleet's: such a store is refused, and left as it was. */
static void test_own_keys_refused(void **state)
{
	struct fx *f = *state;
	struct hm_ks_mirror_rec r;
	struct hm_ks_mirror_result res;
	struct hm_ks_mirror m;
	struct hm_ks_added out;
	uint8_t secret[HM_KEY_LEN];

	assert_int_equal(hm_ks_create(f->ks, "acme", "web", NOW, NULL, secret, &out), HM_OK);
	epoch_rec(&r, 1, 1, "acme", "db", 1, HM_KEY_CURRENT, "hk-one", 0x11);
	assert_int_equal(hm_ks_mirror_apply(f->ks, &FLEET, &r, 1, &res), HM_ESTATE);
	assert_non_null(strstr(hm_ks_errmsg(f->ks), "import-store"));
	assert_int_equal(hm_ks_mirror_get(f->ks, &m), HM_OK);
	assert_string_equal(m.fleet_id, "");
}

/* The daemon's handles: a reader never writes; a mirror reader applies and nothing else. */
static void test_daemon_handles(void **state)
{
	struct fx *f = *state;
	struct hm_ks_mirror_rec r;
	struct hm_ks_mirror_result res;
	struct hm_ks_added out;
	struct hm_key_rec rec;
	uint8_t secret[HM_KEY_LEN];

	hm_ks_close(f->ks);
	f->ks = NULL;
	assert_int_equal(hm_ks_open(f->store, HM_KS_MIRROR, &f->ks, NULL, 0), HM_EINVAL);
	assert_int_equal(hm_ks_open(f->store, HM_KS_READER, &f->ks, NULL, 0), HM_OK);
	epoch_rec(&r, 1, 1, "acme", "web", 1, HM_KEY_CURRENT, "hk-one", 0x11);
	assert_int_equal(hm_ks_mirror_apply(f->ks, &FLEET, &r, 1, &res), HM_ESTORE);
	hm_ks_close(f->ks);
	f->ks = NULL;

	assert_int_equal(hm_ks_open(f->store, HM_KS_READER | HM_KS_MIRROR, &f->ks, NULL, 0),
			 HM_OK);
	/* before it mirrors anything, a mirror handle still writes nothing of its own */
	assert_int_equal(hm_ks_create(f->ks, "acme", "db", NOW, NULL, secret, &out), HM_ESTORE);
	apply_expect(f->ks, &r, 1, 1, 0, 0, 0);
	assert_int_equal(lookup(f->ks, "acme", "web", 1, &rec), HM_OK);
	assert_int_equal(rec.secret[0], 0x11);
}

struct collected {
	struct hm_ks_mirror_rec recs[4];
	size_t n;
};

static int collect(const struct hm_ks_mirror_rec *rec, void *arg)
{
	struct collected *c = arg;

	if (c->n == 4)
		return -1;
	c->recs[c->n++] = *rec;
	return 0;
}

static int stop_at_first(const struct hm_ks_mirror_rec *rec, void *arg)
{
	(void)rec;
	(*(int *)arg)++;
	return 42;
}

/* What import-store reads: every epoch with its secret, then every policy; then re-applied. */
static void test_export_round_trip(void **state)
{
	struct fx *f = *state;
	struct collected c = {.n = 0};
	struct hm_ks_added out;
	struct hm_key_rec rec;
	struct hm_policy p;
	enum hm_policy_source src;
	uint8_t s1[HM_KEY_LEN], s2[HM_KEY_LEN];
	int calls = 0;

	assert_int_equal(hm_ks_create(f->ks, "acme", "web", NOW, "hk-a1", s1, &out), HM_OK);
	assert_int_equal(hm_ks_rotate(f->ks, "acme", "web", NOW, 60, "hk-a2", s2, &out), HM_OK);
	hm_policy_default(&p);
	p.v1_nonce = true;
	assert_int_equal(hm_ks_policy_set(f->ks, "acme", "web", &p), HM_OK);
	assert_int_equal(hm_ks_export(f->ks, collect, &c), HM_OK);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.recs[0].kind, HM_KS_MIRROR_EPOCH);
	assert_int_equal(c.recs[0].epoch, 1);
	assert_int_equal(c.recs[0].state, HM_KEY_SUPERSEDED);
	assert_int_equal(c.recs[0].deadline, NOW + 60);
	assert_string_equal(c.recs[0].keyid, "hk-a1");
	assert_int_equal(c.recs[0].secret_len, HM_KEY_LEN);
	assert_memory_equal(c.recs[0].secret, s1, HM_KEY_LEN);
	assert_int_equal(c.recs[1].epoch, 2);
	assert_int_equal(c.recs[1].state, HM_KEY_CURRENT);
	assert_memory_equal(c.recs[1].secret, s2, HM_KEY_LEN);
	assert_int_equal(c.recs[2].kind, HM_KS_MIRROR_POLICY);
	assert_string_equal(c.recs[2].container, "web");
	assert_true(c.recs[2].present);
	assert_true(c.recs[2].policy.v1_nonce);
	assert_int_equal(hm_ks_export(f->ks, stop_at_first, &calls), 42);
	assert_int_equal(calls, 1);

	/* into a fresh store, as a fleet host would receive them */
	hm_ks_close(f->ks);
	f->ks = NULL;
	snprintf(f->store, sizeof(f->store), "%s/db2", f->dir);
	assert_int_equal(hm_ks_open(f->store, HM_KS_CREATE, &f->ks, NULL, 0), HM_OK);
	for (size_t i = 0; i < c.n; i++) {
		memset(c.recs[i].name, (int)i + 1, sizeof(c.recs[i].name));
		c.recs[i].version = 1;
	}
	apply_expect(f->ks, c.recs, c.n, 3, 0, 0, 0);
	assert_int_equal(lookup(f->ks, "acme", "web", 1, &rec), HM_OK);
	assert_int_equal(rec.state, HM_KEY_SUPERSEDED);
	assert_int_equal(rec.deadline, NOW + 60);
	assert_memory_equal(rec.secret, s1, HM_KEY_LEN);
	assert_int_equal(lookup(f->ks, "acme", "web", 2, &rec), HM_OK);
	assert_memory_equal(rec.secret, s2, HM_KEY_LEN);
	assert_int_equal(hm_ks_policy_get(f->ks, "acme", "web", &p, &src), HM_OK);
	assert_int_equal(src, HM_POLICY_SCOPE);
	assert_true(p.v1_nonce);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_apply_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_mirror_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_local_writes_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_keys_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_daemon_handles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_export_round_trip, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
