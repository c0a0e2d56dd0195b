/*
 * test_fleet_admin.c - hmacctl's writes and reads of a fleet (daemon/fleet/admin.h, fleet.h)
 * against a real redis-server (tests/lib/redis.h), one for the whole run, emptied before each
 * test.
 *
 * The rules are the local store's (store/keystore.h), so most tests run the same calls on a
 * local store and on the fleet and compare the outcomes and listings field by field: create
 * (HM_EEXIST for an existing scope), rotate (HM_ENOTFOUND without the scope; the current epoch
 * superseded with deadline now + grace), import (a new scope or the next epoch; secret
 * lengths), revoke (HM_ENOTFOUND, HM_ESTATE when revoked already, the secret gone), key ids
 * unique fleet-wide even after a revoke, policies (set, unset, the effective one and where it
 * comes from) and the order of both listings. Then the fleet's own parts: the meta (init twice,
 * another seal key, none), two processes rotating one scope at once (no change lost: the
 * WATCH/EXEC retry), one stream entry per write and its trimming, nothing readable in Redis,
 * import-store (kept, written, forced, key id conflicts and the gaps they leave in a scope,
 * versions above the store's, a meta re-created with the mirror's fleet id, another fleet
 * refused), and Redis down (HM_ECONN with a one-line reason). Without redis-server the tests
 * are skipped, saying so.
 */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/crypto.h>

#include "fleet/admin.h"
#include "fleet/fleet.h"
#include "fleet/record.h"
#include "fleet/seal.h"
#include "proto/b64.h"
#include "proto/policy.h"
#include "store/keystore.h"
#include "tests/lib/redis.h"

#define NOW 1700000000
#define GRACE 3600
#define TIMEOUT_MS 5000
#define MAXKEYS 256

static bool have_redis;

struct fx {
	char dir[64];
	struct tl_redis r;
	bool up;               /* the group's redis-server runs */
	struct hm_seal seal;   /* the fleet's seal key */
	struct hm_seal other;  /* another seal key */
	struct hm_fleet f;     /* the test's connection, fleet initialised */
	char store[96];        /* a local store of the test's (not created until used) */
	struct hm_keystore *ks;
};

/* ---- fixture ---- */

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= b[i];
	return acc == 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void init_seal(struct hm_seal *s, uint8_t fill)
{
	uint8_t key[HM_SEAL_KEY_LEN];

	memset(key, fill, sizeof(key));
	assert_int_equal(hm_seal_init(s, key), HM_OK);
	OPENSSL_cleanse(key, sizeof(key));
}

static int group_setup(void **state)
{
	struct fx *g = calloc(1, sizeof(*g));
	char err[512];

	if (g == NULL)
		return -1;
	snprintf(g->dir, sizeof(g->dir), "/tmp/hm-fadmin-XXXXXX");
	if (mkdtemp(g->dir) == NULL) {
		free(g);
		return -1;
	}
	init_seal(&g->seal, 0x11);
	init_seal(&g->other, 0x22);
	if (have_redis) {
		if (tl_redis_start(&g->r, g->dir, false, err, sizeof(err)) != HM_OK) {
			fprintf(stderr, "test_fleet_admin: redis-server: %s\n", err);
			(void)nftw(g->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
			free(g);
			return -1;
		}
		g->up = true;
	}
	*state = g;
	return 0;
}

static int group_teardown(void **state)
{
	struct fx *g = *state;

	tl_redis_kill(&g->r);
	hm_seal_wipe(&g->seal);
	hm_seal_wipe(&g->other);
	(void)nftw(g->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(g);
	return 0;
}

static int fleet_connect(struct fx *g, const struct hm_seal *seal, const char *prefix,
			 size_t stream_max, struct hm_fleet *f)
{
	const struct hm_fleet_cfg cfg = {
		.url = g->r.unix_url,
		.prefix = prefix,
		.timeout_ms = TIMEOUT_MS,
		.seal = seal,
		.stream_max = stream_max,
	};

	return hm_fleet_open(f, &cfg);
}

static redisReply *cmd(struct hm_fleet *f, const char *fmt, ...)
{
	va_list ap;
	redisReply *r;

	va_start(ap, fmt);
	r = redisvCommand(f->c, fmt, ap);
	va_end(ap);
	if (r == NULL)
		fail_msg("redis: %s", f->c->errstr);
	return r;
}

static void cmd_ok(struct hm_fleet *f, const char *what)
{
	redisReply *r = cmd(f, what);

	if (r->type == REDIS_REPLY_ERROR)
		fail_msg("%s: %s", what, r->str);
	freeReplyObject(r);
}

static long long cmd_int(struct hm_fleet *f, const char *fmt, const char *arg)
{
	redisReply *r = cmd(f, fmt, arg);
	long long v;

	assert_int_equal(r->type, REDIS_REPLY_INTEGER);
	v = r->integer;
	freeReplyObject(r);
	return v;
}

/* Before each test: an empty Redis, then a fleet initialised with g->seal; no local store. */
static int setup(void **state)
{
	struct fx *g = *state;
	struct hm_fleet_meta m;

	g->ks = NULL;
	if (!g->up)
		return 0;
	if (g->r.pid < 0) {
		char err[512];

		if (tl_redis_restart(&g->r, err, sizeof(err)) != HM_OK) {
			fprintf(stderr, "test_fleet_admin: redis-server: %s\n", err);
			return -1;
		}
	}
	if (fleet_connect(g, &g->seal, NULL, 0, &g->f) != HM_OK) {
		fprintf(stderr, "test_fleet_admin: %s\n", g->f.err);
		return -1;
	}
	cmd_ok(&g->f, "FLUSHALL");
	cmd_ok(&g->f, "CONFIG SET stream-node-max-entries 100");
	if (hm_fleet_meta_create(&g->f, NULL, &m) != HM_OK) {
		fprintf(stderr, "test_fleet_admin: init: %s\n", g->f.err);
		return -1;
	}
	snprintf(g->store, sizeof(g->store), "%s/db", g->dir);
	return 0;
}

static int teardown(void **state)
{
	struct fx *g = *state;

	hm_fleet_close(&g->f);
	hm_ks_close(g->ks);
	g->ks = NULL;
	if (g->store[0] != '\0')
		(void)nftw(g->store, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static void need_redis(void)
{
	if (!have_redis)
		skip();
}

/* The test's local store, created on first use. */
static struct hm_keystore *local(struct fx *g)
{
	if (g->ks == NULL)
		assert_int_equal(hm_ks_open(g->store, HM_KS_CREATE, &g->ks, NULL, 0), HM_OK);
	return g->ks;
}

/* ---- listings ---- */

struct keys {
	struct hm_key_info k[MAXKEYS];
	size_t n;
};

struct pols {
	struct hm_policy_info p[64];
	size_t n;
};

static int key_cb(const struct hm_key_info *info, void *arg)
{
	struct keys *k = arg;

	assert_true(k->n < MAXKEYS);
	k->k[k->n++] = *info;
	return 0;
}

static int pol_cb(const struct hm_policy_info *info, void *arg)
{
	struct pols *p = arg;

	assert_true(p->n < 64);
	p->p[p->n++] = *info;
	return 0;
}

static void fleet_keys(struct hm_fleet *f, const char *tenant, struct keys *k)
{
	size_t refused = 0;

	k->n = 0;
	assert_int_equal(hm_fleet_list(f, tenant, key_cb, k, &refused), HM_OK);
	assert_int_equal(refused, 0);
}

static void local_keys(struct hm_keystore *ks, const char *tenant, struct keys *k)
{
	k->n = 0;
	assert_int_equal(hm_ks_list(ks, tenant, key_cb, k), HM_OK);
}

/* Same epochs in the same order; key ids compared too unless they were generated. */
static void keys_equal(const struct keys *a, const struct keys *b, bool keyids)
{
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		const struct hm_key_info *x = &a->k[i], *y = &b->k[i];

		assert_string_equal(x->tenant, y->tenant);
		assert_string_equal(x->container, y->container);
		assert_int_equal(x->epoch, y->epoch);
		assert_int_equal(x->state, y->state);
		assert_int_equal(x->created, y->created);
		assert_int_equal(x->deadline, y->deadline);
		if (keyids)
			assert_string_equal(x->keyid, y->keyid);
	}
}

static bool policy_same(const struct hm_policy *a, const struct hm_policy *b)
{
	uint8_t ea[HM_POLICY_ENC_MAX], eb[HM_POLICY_ENC_MAX];
	size_t la = 0, lb = 0;

	assert_int_equal(hm_policy_encode(a, ea, sizeof(ea), &la), HM_OK);
	assert_int_equal(hm_policy_encode(b, eb, sizeof(eb), &lb), HM_OK);
	return la == lb && memcmp(ea, eb, la) == 0;
}

static void pols_equal(const struct pols *a, const struct pols *b)
{
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		assert_string_equal(a->p[i].tenant, b->p[i].tenant);
		assert_string_equal(a->p[i].container, b->p[i].container);
		assert_int_equal(a->p[i].source, b->p[i].source);
		assert_true(policy_same(&a->p[i].policy, &b->p[i].policy));
	}
}

/* The fleet's record of one epoch (secret included), opened: found or not. */
struct find {
	const char *tenant, *container;
	uint32_t epoch;
	bool found;
	struct hm_ks_mirror_rec rec;
};

static int find_cb(struct hm_ks_mirror_rec *recs, size_t n, void *arg)
{
	struct find *w = arg;

	for (size_t i = 0; i < n; i++)
		if (recs[i].kind == HM_KS_MIRROR_EPOCH && strcmp(recs[i].tenant, w->tenant) == 0 &&
		    strcmp(recs[i].container, w->container) == 0 && recs[i].epoch == w->epoch) {
			w->rec = recs[i];
			w->found = true;
		}
	return 0;
}

static void fleet_epoch(struct hm_fleet *f, const char *tenant, const char *container,
			uint32_t epoch, struct hm_ks_mirror_rec *out)
{
	struct find w = {.tenant = tenant, .container = container, .epoch = epoch};
	size_t refused = 0;

	assert_int_equal(hm_fleet_scan(f, 7, find_cb, &w, &refused), HM_OK);
	assert_int_equal(refused, 0);
	assert_true(w.found);
	*out = w.rec;
	OPENSSL_cleanse(&w.rec, sizeof(w.rec));
}

/* Every record's version. */
struct versions {
	uint64_t min, max;
	size_t n;
};

static int version_cb(struct hm_ks_mirror_rec *recs, size_t n, void *arg)
{
	struct versions *v = arg;

	for (size_t i = 0; i < n; i++) {
		if (v->n == 0 || recs[i].version < v->min)
			v->min = recs[i].version;
		if (recs[i].version > v->max)
			v->max = recs[i].version;
		v->n++;
	}
	return 0;
}

static struct versions fleet_versions(struct hm_fleet *f)
{
	struct versions v = {0, 0, 0};

	assert_int_equal(hm_fleet_scan(f, 64, version_cb, &v, NULL), HM_OK);
	return v;
}

static long long stream_len(struct hm_fleet *f)
{
	return cmd_int(f, "XLEN %s", "hmacd:changes");
}

static long long seq_of(struct hm_fleet *f)
{
	redisReply *r = cmd(f, "GET hmacd:seq");
	long long v;

	assert_int_equal(r->type, REDIS_REPLY_STRING);
	v = strtoll(r->str, NULL, 10);
	freeReplyObject(r);
	return v;
}

/* ---- the same calls on a local store and on the fleet ---- */

/* What a new-epoch call reported: the same from both, and all zero after a failure. */
static void added_same(struct hm_ks_added *a1, struct hm_ks_added *a2, int rc, bool keyids)
{
	assert_int_equal(a1->epoch, a2->epoch);
	if (keyids || rc != HM_OK)
		assert_string_equal(a1->keyid, a2->keyid);
	if (rc != HM_OK) {
		assert_true(all_zero(a1, sizeof(*a1)));
		assert_true(all_zero(a2, sizeof(*a2)));
	}
}

static void both_create(struct fx *g, const char *t, const char *c, const char *keyid, int want)
{
	uint8_t s1[HM_KEY_LEN], s2[HM_KEY_LEN];
	struct hm_ks_added a1, a2;

	memset(&a1, 0xa5, sizeof(a1));
	memset(&a2, 0xa5, sizeof(a2));
	assert_int_equal(hm_ks_create(local(g), t, c, NOW, keyid, s1, &a1), want);
	assert_int_equal(hm_fleet_create(&g->f, t, c, NOW, keyid, s2, &a2), want);
	added_same(&a1, &a2, want, keyid != NULL);
	OPENSSL_cleanse(s1, sizeof(s1));
	OPENSSL_cleanse(s2, sizeof(s2));
}

static void both_rotate(struct fx *g, const char *t, const char *c, int64_t now, int64_t grace,
			const char *keyid, int want)
{
	uint8_t s1[HM_KEY_LEN], s2[HM_KEY_LEN];
	struct hm_ks_added a1, a2;

	memset(&a1, 0xa5, sizeof(a1));
	memset(&a2, 0xa5, sizeof(a2));
	assert_int_equal(hm_ks_rotate(local(g), t, c, now, grace, keyid, s1, &a1), want);
	assert_int_equal(hm_fleet_rotate(&g->f, t, c, now, grace, keyid, s2, &a2), want);
	added_same(&a1, &a2, want, keyid != NULL);
	OPENSSL_cleanse(s1, sizeof(s1));
	OPENSSL_cleanse(s2, sizeof(s2));
}

static void both_import(struct fx *g, const char *t, const char *c, int64_t now,
			const char *keyid, size_t len, int want)
{
	uint8_t secret[HM_KEY_MAX + 1];
	struct hm_ks_added a1, a2;

	memset(secret, 0x3c, sizeof(secret));
	memset(&a1, 0xa5, sizeof(a1));
	memset(&a2, 0xa5, sizeof(a2));
	assert_int_equal(hm_ks_import(local(g), t, c, now, GRACE, keyid, secret, len, &a1), want);
	assert_int_equal(hm_fleet_import(&g->f, t, c, now, GRACE, keyid, secret, len, &a2), want);
	added_same(&a1, &a2, want, keyid != NULL);
}

static void both_revoke(struct fx *g, const char *t, const char *c, uint32_t epoch, int want)
{
	assert_int_equal(hm_ks_revoke(local(g), t, c, epoch), want);
	assert_int_equal(hm_fleet_revoke(&g->f, t, c, epoch), want);
}

static void both_same(struct fx *g, bool keyids)
{
	struct keys *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));

	assert_non_null(a);
	assert_non_null(b);
	local_keys(local(g), NULL, a);
	fleet_keys(&g->f, NULL, b);
	keys_equal(a, b, keyids);
	free(a);
	free(b);
}

/* ---- meta ---- */

static void test_meta(void **state)
{
	struct fx *g = *state;
	struct hm_fleet_meta m, m2;
	struct hm_fleet o;
	char sid[HM_SEAL_ID_HEX], oid[HM_SEAL_ID_HEX];
	uint8_t secret[HM_KEY_LEN];

	need_redis();
	/* the fleet setup() made: this seal key's id, a random fleet id, format 1 */
	assert_int_equal(hm_fleet_meta_check(&g->f, &m), HM_OK);
	hm_seal_id_hex(&g->seal, sid);
	assert_string_equal(m.seal_key_id, sid);
	assert_int_equal(strlen(m.fleet_id), 32);
	assert_int_equal(m.format, 1);
	assert_true(m.created > 0);
	/* init again: nothing changes */
	assert_int_equal(hm_fleet_meta_create(&g->f, NULL, &m2), HM_EEXIST);
	assert_string_equal(m2.fleet_id, m.fleet_id);
	assert_int_equal(hm_fleet_meta_check(&g->f, &m2), HM_OK);
	assert_string_equal(m2.fleet_id, m.fleet_id);

	/* another seal key: refused, and told which ids */
	assert_int_equal(fleet_connect(g, &g->other, NULL, 0, &o), HM_OK);
	assert_int_equal(hm_fleet_meta_create(&o, NULL, &m2), HM_EEXIST);
	assert_int_equal(hm_fleet_meta_check(&o, &m2), HM_ESTATE);
	hm_seal_id_hex(&g->other, oid);
	assert_non_null(strstr(o.err, sid));
	assert_non_null(strstr(o.err, oid));
	assert_non_null(strstr(o.err, "seal key"));
	/* to a command, a set-up error (exit 1), not the store's "wrong state" (admin.c meta_ok) */
	assert_int_equal(hm_fleet_create(&o, "acme", "web", NOW, NULL, secret, NULL), HM_EPROTO);
	assert_true(CRYPTO_memcmp(secret, (uint8_t[HM_KEY_LEN]){0}, HM_KEY_LEN) == 0);
	assert_int_equal(hm_fleet_policy_unset(&o, "acme", NULL), HM_EPROTO);
	assert_int_equal(hm_fleet_list(&o, NULL, key_cb, &(struct keys){.n = 0}, NULL), HM_EPROTO);
	hm_fleet_close(&o);

	/* another prefix: no fleet there */
	assert_int_equal(fleet_connect(g, &g->seal, "other:", 0, &o), HM_OK);
	assert_int_equal(hm_fleet_meta_check(&o, &m2), HM_ENOTFOUND);
	assert_non_null(strstr(o.err, "init"));
	/* to a command, no fleet is a set-up error (run init), not "no such scope" */
	assert_int_equal(hm_fleet_create(&o, "acme", "web", NOW, NULL, secret, NULL), HM_EPROTO);
	assert_int_equal(hm_fleet_revoke(&o, "acme", "web", 1), HM_EPROTO);
	/* a fleet id given (import-store's re-seed), and a bad one */
	assert_int_equal(hm_fleet_meta_create(&o, "0123456789abcdef0123456789abcdef", &m2), HM_OK);
	assert_string_equal(m2.fleet_id, "0123456789abcdef0123456789abcdef");
	cmd_ok(&o, "DEL other:meta");
	assert_int_equal(hm_fleet_meta_create(&o, "0123456789ABCDEF0123456789abcdef", &m2),
			 HM_EINVAL);
	/* a meta this build cannot read */
	cmd_ok(&o, "HSET other:meta fleet_id 0123456789abcdef0123456789abcdef");
	assert_int_equal(hm_fleet_meta_check(&o, &m2), HM_EPROTO);
	assert_non_null(strstr(o.err, "lacks"));
	cmd_ok(&o, "DEL other:meta");
	assert_int_equal(hm_fleet_meta_create(&o, NULL, &m2), HM_OK);
	cmd_ok(&o, "HSET other:meta format 2");
	assert_int_equal(hm_fleet_meta_check(&o, &m2), HM_EPROTO);
	assert_non_null(strstr(o.err, "format"));
	hm_fleet_close(&o);
	/* the first fleet did not move */
	assert_int_equal(hm_fleet_meta_check(&g->f, &m2), HM_OK);
	assert_string_equal(m2.fleet_id, m.fleet_id);
}

/* ---- new epochs ---- */

static void test_create(void **state)
{
	struct fx *g = *state;
	uint8_t secret[HM_KEY_LEN], zero[HM_KEY_LEN] = {0};
	struct hm_ks_mirror_rec rec;
	struct hm_ks_added a;
	struct keys k;

	need_redis();
	assert_int_equal(hm_fleet_create(&g->f, "acme", "web", NOW, NULL, secret, &a), HM_OK);
	assert_int_equal(a.epoch, 1);
	assert_int_equal(strlen(a.keyid), HM_KEYID_GEN_LEN);
	assert_memory_equal(a.keyid, "hk_", 3);
	assert_true(CRYPTO_memcmp(secret, zero, sizeof(secret)) != 0);
	fleet_epoch(&g->f, "acme", "web", 1, &rec);
	assert_int_equal(rec.secret_len, HM_KEY_LEN);
	assert_memory_equal(rec.secret, secret, HM_KEY_LEN);
	assert_string_equal(rec.keyid, a.keyid);
	assert_int_equal(rec.state, HM_KEY_CURRENT);
	assert_int_equal(rec.created, NOW);
	assert_int_equal(rec.deadline, 0);
	OPENSSL_cleanse(&rec, sizeof(rec));
	fleet_keys(&g->f, NULL, &k);
	assert_int_equal(k.n, 1);

	/* again: the scope exists (whatever the key id), the secret buffer wiped */
	assert_int_equal(hm_fleet_create(&g->f, "acme", "web", NOW, NULL, secret, &a), HM_EEXIST);
	assert_memory_equal(secret, zero, sizeof(secret));
	assert_int_equal(a.epoch, 0);
	assert_int_equal(hm_fleet_create(&g->f, "acme", "web", NOW, "new-id", secret, NULL),
			 HM_EEXIST);
	/* arguments the store refuses */
	assert_int_equal(hm_fleet_create(&g->f, "a b", "web", NOW, NULL, secret, NULL), HM_EINVAL);
	assert_int_equal(hm_fleet_create(&g->f, "acme", "", NOW, NULL, secret, NULL), HM_EINVAL);
	assert_int_equal(hm_fleet_create(&g->f, "acme", NULL, NOW, NULL, secret, NULL), HM_EINVAL);
	assert_int_equal(hm_fleet_create(&g->f, "acme", "api", NOW, "a b", secret, NULL),
			 HM_EINVAL);
	assert_int_equal(hm_fleet_create(&g->f, "acme", "api", -1, NULL, secret, NULL), HM_EINVAL);
	fleet_keys(&g->f, NULL, &k);
	assert_int_equal(k.n, 1);
	/* the same on a local store */
	both_create(g, "t", "c", "kc", HM_OK);
	both_create(g, "t", "c", NULL, HM_EEXIST);
	both_create(g, "t", "d", NULL, HM_OK);
	{
		struct keys *a1 = malloc(sizeof(*a1)), *b1 = malloc(sizeof(*b1));

		assert_non_null(a1);
		assert_non_null(b1);
		local_keys(local(g), NULL, a1);
		fleet_keys(&g->f, "t", b1);
		keys_equal(a1, b1, false);
		free(a1);
		free(b1);
	}
}

static void test_rotate(void **state)
{
	struct fx *g = *state;
	struct keys k;

	need_redis();
	both_rotate(g, "acme", "web", NOW, GRACE, NULL, HM_ENOTFOUND);
	both_create(g, "acme", "web", "k1", HM_OK);
	both_rotate(g, "acme", "web", NOW + 10, GRACE, "k2", HM_OK);
	both_rotate(g, "acme", "web", NOW + 20, 0, "k3", HM_OK); /* grace 0: invalid at once */
	both_rotate(g, "acme", "web", NOW + 30, GRACE, "k4", HM_OK);
	both_rotate(g, "acme", "web", NOW + 40, -1, NULL, HM_EINVAL);
	both_rotate(g, "acme", "web", NOW + 40, INT64_MAX, NULL, HM_EINVAL);
	both_rotate(g, "acme", "web", -1, GRACE, NULL, HM_EINVAL);
	both_rotate(g, "acme", "api", NOW, GRACE, NULL, HM_ENOTFOUND);
	both_same(g, true);
	fleet_keys(&g->f, NULL, &k);
	assert_int_equal(k.n, 4);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(k.k[i].epoch, i + 1);
		assert_int_equal(k.k[i].state, HM_KEY_SUPERSEDED);
	}
	assert_int_equal(k.k[0].deadline, NOW + 10 + GRACE);
	assert_int_equal(k.k[1].deadline, NOW + 20);
	assert_int_equal(k.k[2].deadline, NOW + 30 + GRACE);
	assert_int_equal(k.k[3].state, HM_KEY_CURRENT);
	assert_int_equal(k.k[3].deadline, 0);
	assert_int_equal(k.k[3].created, NOW + 30);
	/* the current one revoked: a rotation adds the next epoch, supersedes nothing */
	both_revoke(g, "acme", "web", 4, HM_OK);
	both_rotate(g, "acme", "web", NOW + 50, GRACE, NULL, HM_OK);
	both_same(g, false);
	fleet_keys(&g->f, NULL, &k);
	assert_int_equal(k.n, 5);
	assert_int_equal(k.k[3].state, HM_KEY_REVOKED);
	assert_int_equal(k.k[4].state, HM_KEY_CURRENT);
}

static void test_import(void **state)
{
	struct fx *g = *state;
	struct hm_ks_mirror_rec rec;
	uint8_t secret[HM_KEY_MAX];
	struct keys k;

	need_redis();
	both_import(g, "acme", "web", NOW, "i1", HM_KEY_MIN - 1, HM_EINVAL);
	both_import(g, "acme", "web", NOW, "i1", HM_KEY_MAX + 1, HM_EINVAL);
	both_import(g, "acme", "web", NOW, "i1", 0, HM_EINVAL);
	both_import(g, "acme", "web", NOW, "i1", HM_KEY_MIN, HM_OK); /* a new scope: epoch 1 */
	both_import(g, "acme", "web", NOW + 5, "i2", HM_KEY_MAX, HM_OK); /* the next epoch */
	both_import(g, "acme", "web", -1, NULL, 32, HM_EINVAL);
	both_same(g, true);
	fleet_keys(&g->f, NULL, &k);
	assert_int_equal(k.n, 2);
	assert_int_equal(k.k[0].state, HM_KEY_SUPERSEDED);
	assert_int_equal(k.k[0].deadline, NOW + 5 + GRACE);
	assert_int_equal(k.k[1].state, HM_KEY_CURRENT);
	memset(secret, 0x3c, sizeof(secret));
	fleet_epoch(&g->f, "acme", "web", 1, &rec);
	assert_int_equal(rec.secret_len, HM_KEY_MIN);
	assert_memory_equal(rec.secret, secret, HM_KEY_MIN);
	fleet_epoch(&g->f, "acme", "web", 2, &rec);
	assert_int_equal(rec.secret_len, HM_KEY_MAX);
	assert_memory_equal(rec.secret, secret, HM_KEY_MAX);
	OPENSSL_cleanse(&rec, sizeof(rec));
	assert_int_equal(hm_fleet_import(&g->f, "acme", "web", NOW, GRACE, NULL, NULL, 32, NULL),
			 HM_EINVAL);
	/* an import after a create and a rotate: the next epoch, like a rotation */
	both_create(g, "acme", "api", NULL, HM_OK);
	both_rotate(g, "acme", "api", NOW + 1, GRACE, NULL, HM_OK);
	both_import(g, "acme", "api", NOW + 2, NULL, 20, HM_OK);
	both_same(g, false);
}

static void test_revoke(void **state)
{
	struct fx *g = *state;
	struct hm_ks_mirror_rec rec;
	uint8_t zero[HM_KEY_MAX] = {0};
	long long entries;

	need_redis();
	both_revoke(g, "acme", "web", 1, HM_ENOTFOUND);
	both_create(g, "acme", "web", "r1", HM_OK);
	both_rotate(g, "acme", "web", NOW + 1, GRACE, "r2", HM_OK);
	both_revoke(g, "acme", "web", 0, HM_ENOTFOUND);
	both_revoke(g, "acme", "web", 3, HM_ENOTFOUND);
	both_revoke(g, "acme", "api", 1, HM_ENOTFOUND);
	both_revoke(g, "acme", "web", 1, HM_OK); /* the superseded one */
	entries = stream_len(&g->f);
	both_revoke(g, "acme", "web", 1, HM_ESTATE);
	assert_int_equal(stream_len(&g->f), entries); /* a refused write writes nothing */
	assert_non_null(strstr(g->f.err, "revoked"));
	both_revoke(g, "acme", "web", 2, HM_OK); /* the current one */
	both_revoke(g, "acme", "web", 2, HM_ESTATE);
	both_revoke(g, "ac me", "web", 1, HM_EINVAL);
	both_same(g, true);
	/* the secret is gone from the record; the key id stays */
	fleet_epoch(&g->f, "acme", "web", 1, &rec);
	assert_int_equal(rec.state, HM_KEY_REVOKED);
	assert_int_equal(rec.secret_len, 0);
	assert_memory_equal(rec.secret, zero, sizeof(zero));
	assert_int_equal(rec.deadline, 0);
	assert_string_equal(rec.keyid, "r1");
	fleet_epoch(&g->f, "acme", "web", 2, &rec);
	assert_int_equal(rec.state, HM_KEY_REVOKED);
	assert_int_equal(rec.secret_len, 0);
	OPENSSL_cleanse(&rec, sizeof(rec));
}

static void test_keyid_unique(void **state)
{
	struct fx *g = *state;
	uint8_t secret[HM_KEY_LEN];

	need_redis();
	both_create(g, "acme", "web", "shared-id", HM_OK);
	/* in use by any epoch of any scope, for the store and the fleet alike */
	both_create(g, "other", "web", "shared-id", HM_EEXIST);
	assert_non_null(strstr(g->f.err, "key id"));
	both_rotate(g, "acme", "web", NOW, GRACE, "shared-id", HM_EEXIST);
	both_import(g, "third", "x", NOW, "shared-id", 32, HM_EEXIST);
	/* a revoked epoch keeps its id forever */
	both_revoke(g, "acme", "web", 1, HM_OK);
	both_create(g, "other", "web", "shared-id", HM_EEXIST);
	both_rotate(g, "acme", "web", NOW, GRACE, "shared-id", HM_EEXIST);
	/* a refused write changed nothing: the next one takes epoch 2 */
	both_rotate(g, "acme", "web", NOW, GRACE, "id-2", HM_OK);
	both_create(g, "other", "web", "id-3", HM_OK);
	both_create(g, "fourth", "web", "id-2", HM_EEXIST);
	both_same(g, true);
	/* generated ids are unique too */
	for (int i = 0; i < 5; i++)
		assert_int_equal(hm_fleet_rotate(&g->f, "other", "web", NOW, GRACE, NULL, secret,
						 NULL),
				 HM_OK);
	{
		struct keys k;

		fleet_keys(&g->f, NULL, &k);
		for (size_t i = 0; i < k.n; i++)
			for (size_t j = i + 1; j < k.n; j++)
				assert_string_not_equal(k.k[i].keyid, k.k[j].keyid);
	}
	OPENSSL_cleanse(secret, sizeof(secret));
}

/* ---- listings: the store's order ---- */

static void test_list_order(void **state)
{
	static const char *const scopes[][2] = {
		{"b", "x"}, {"aa", "x"}, {"a", "yy"}, {"a", "z"}, {"B", "x"}, {"ab", "x"},
		{"a", "x"}, {"aa", "a"}, {"b", "xx"}, {"a", "A"},
	};
	struct fx *g = *state;
	struct keys *a, *b;

	need_redis();
	a = malloc(sizeof(*a));
	b = malloc(sizeof(*b));
	assert_non_null(a);
	assert_non_null(b);
	for (size_t i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++) {
		char id[32];

		snprintf(id, sizeof(id), "id-%zu", i);
		both_create(g, scopes[i][0], scopes[i][1], id, HM_OK);
		snprintf(id, sizeof(id), "id-%zu-2", i);
		if (i % 3 == 0)
			both_rotate(g, scopes[i][0], scopes[i][1], NOW + 1, GRACE, id, HM_OK);
	}
	both_same(g, true);
	local_keys(local(g), "a", a);
	fleet_keys(&g->f, "a", b);
	keys_equal(a, b, true);
	assert_int_equal(b->n, 7); /* 4 scopes, 3 of them rotated */
	local_keys(local(g), "zz", a);
	fleet_keys(&g->f, "zz", b);
	assert_int_equal(b->n, 0);
	assert_int_equal(hm_fleet_list(&g->f, "a b", key_cb, b, NULL), HM_EINVAL);
	free(a);
	free(b);
}

/* ---- policies ---- */

static void make_policy(struct hm_policy *p, const char *component)
{
	hm_policy_default(p);
	assert_int_equal(hm_policy_require(p, component), HM_OK);
}

static void policy_both(struct fx *g, const char *t, const char *c, enum hm_policy_source want,
			const char *component)
{
	struct hm_policy p1, p2;
	enum hm_policy_source s1, s2;

	assert_int_equal(hm_ks_policy_get(local(g), t, c, &p1, &s1), HM_OK);
	assert_int_equal(hm_fleet_policy_get(&g->f, t, c, &p2, &s2), HM_OK);
	assert_int_equal(s1, want);
	assert_int_equal(s2, want);
	assert_true(policy_same(&p1, &p2));
	if (component != NULL)
		assert_true(hm_policy_has(&p2, component));
}

static void set_both(struct fx *g, const char *t, const char *c, const struct hm_policy *p,
		     int want)
{
	assert_int_equal(hm_ks_policy_set(local(g), t, c, p), want);
	assert_int_equal(hm_fleet_policy_set(&g->f, t, c, p), want);
}

static void unset_both(struct fx *g, const char *t, const char *c, int want)
{
	assert_int_equal(hm_ks_policy_unset(local(g), t, c), want);
	assert_int_equal(hm_fleet_policy_unset(&g->f, t, c), want);
}

static void test_policy(void **state)
{
	struct fx *g = *state;
	struct hm_policy pt, ps, empty;
	struct pols a, b;
	long long entries;

	need_redis();
	make_policy(&pt, "x-tenant");
	make_policy(&ps, "x-scope");
	memset(&empty, 0, sizeof(empty));
	policy_both(g, "acme", "web", HM_POLICY_DEFAULT, NULL);
	policy_both(g, "acme", NULL, HM_POLICY_DEFAULT, NULL);
	unset_both(g, "acme", NULL, HM_ENOTFOUND);
	unset_both(g, "acme", "web", HM_ENOTFOUND);
	set_both(g, "acme", NULL, &pt, HM_OK);
	policy_both(g, "acme", "web", HM_POLICY_TENANT, "\"x-tenant\"");
	policy_both(g, "acme", NULL, HM_POLICY_TENANT, "\"x-tenant\"");
	set_both(g, "acme", "web", &ps, HM_OK);
	policy_both(g, "acme", "web", HM_POLICY_SCOPE, "\"x-scope\"");
	policy_both(g, "acme", "api", HM_POLICY_TENANT, "\"x-tenant\"");
	policy_both(g, "other", "web", HM_POLICY_DEFAULT, NULL);
	/* replaced */
	set_both(g, "acme", "web", &pt, HM_OK);
	policy_both(g, "acme", "web", HM_POLICY_SCOPE, "\"x-tenant\"");
	set_both(g, "acme", "web", &ps, HM_OK);
	/* refused: no component, names */
	entries = stream_len(&g->f);
	set_both(g, "acme", "web", &empty, HM_EINVAL);
	set_both(g, "ac me", "web", &ps, HM_EINVAL);
	set_both(g, "acme", "w b", &ps, HM_EINVAL);
	assert_int_equal(stream_len(&g->f), entries);
	/* unset: the scope's falls back to the tenant's, then to the default */
	unset_both(g, "acme", "web", HM_OK);
	policy_both(g, "acme", "web", HM_POLICY_TENANT, "\"x-tenant\"");
	unset_both(g, "acme", "web", HM_ENOTFOUND);
	unset_both(g, "acme", NULL, HM_OK);
	policy_both(g, "acme", "web", HM_POLICY_DEFAULT, NULL);
	unset_both(g, "acme", NULL, HM_ENOTFOUND);
	/* set again after an unset */
	set_both(g, "acme", "web", &ps, HM_OK);
	policy_both(g, "acme", "web", HM_POLICY_SCOPE, "\"x-scope\"");

	/* the listing's order: tenant by length then bytes, its own policy first */
	set_both(g, "b", "x", &ps, HM_OK);
	set_both(g, "aa", NULL, &pt, HM_OK);
	set_both(g, "a", "yy", &ps, HM_OK);
	set_both(g, "a", "z", &pt, HM_OK);
	set_both(g, "a", NULL, &ps, HM_OK);
	set_both(g, "B", NULL, &ps, HM_OK);
	set_both(g, "aa", "b", &ps, HM_OK);
	unset_both(g, "aa", "b", HM_OK); /* an unset policy is not listed */
	a.n = b.n = 0;
	assert_int_equal(hm_ks_policy_list(local(g), NULL, pol_cb, &a), HM_OK);
	assert_int_equal(hm_fleet_policy_list(&g->f, NULL, pol_cb, &b, NULL), HM_OK);
	pols_equal(&a, &b);
	assert_int_equal(b.n, 7);
	a.n = b.n = 0;
	assert_int_equal(hm_ks_policy_list(local(g), "a", pol_cb, &a), HM_OK);
	assert_int_equal(hm_fleet_policy_list(&g->f, "a", pol_cb, &b, NULL), HM_OK);
	pols_equal(&a, &b);
	assert_int_equal(b.n, 3);
	assert_int_equal(b.p[0].source, HM_POLICY_TENANT);
}

/* ---- two writers at once ---- */

#define ROTATIONS 15

/*
 * A child: its own connection, ROTATIONS rotations; 0 when every one returned HM_OK. The
 * parent's connection is closed here, unused (and, under valgrind, not reported as lost).
 */
static int rotator(struct fx *g, int go)
{
	uint8_t secret[HM_KEY_LEN];
	struct hm_fleet f;
	char c;
	int again = 0;

	hm_fleet_close(&g->f);
	if (read(go, &c, 1) < 0)
		return 2;
	if (fleet_connect(g, &g->seal, NULL, 0, &f) != HM_OK)
		return 3;
	for (int i = 0; i < ROTATIONS; i++) {
		int rc = hm_fleet_rotate(&f, "acme", "web", NOW + i, GRACE, NULL, secret, NULL);

		/* HM_EAGAIN after 16 lost races in a row is hmacctl's "try again": do so */
		if (rc == HM_EAGAIN && again++ < 10) {
			i--;
			continue;
		}
		if (rc != HM_OK) {
			fprintf(stderr, "rotator: %s: %s\n", hm_strerror(rc), f.err);
			hm_fleet_close(&f);
			return 4;
		}
	}
	OPENSSL_cleanse(secret, sizeof(secret));
	hm_fleet_close(&f);
	return 0;
}

static long long stat_calls(struct hm_fleet *f, const char *name)
{
	redisReply *r = cmd(f, "INFO commandstats");
	char key[64];
	const char *p;
	long long v = 0;

	assert_int_equal(r->type, REDIS_REPLY_STRING);
	snprintf(key, sizeof(key), "cmdstat_%s:calls=", name);
	p = strstr(r->str, key);
	if (p != NULL)
		v = strtoll(p + strlen(key), NULL, 10);
	freeReplyObject(r);
	return v;
}

static void test_concurrent_rotations(void **state)
{
	struct fx *g = *state;
	pid_t pid[2] = {-1, -1};
	int go[2] = {-1, -1};
	struct keys k;
	long long multis;
	size_t current = 0;

	int status[2] = {-1, -1};
	uint8_t secret[HM_KEY_LEN];

	need_redis();
	/* no local store: a child must not inherit an LMDB environment */
	assert_int_equal(hm_fleet_create(&g->f, "acme", "web", NOW, NULL, secret, NULL), HM_OK);
	OPENSSL_cleanse(secret, sizeof(secret));
	cmd_ok(&g->f, "CONFIG RESETSTAT");
	assert_int_equal(pipe(go), 0);
	for (int i = 0; i < 2; i++) {
		pid[i] = fork();
		if (pid[i] == 0) {
			close(go[1]);
			_exit(rotator(g, go[0]));
		}
	}
	close(go[0]);
	close(go[1]); /* both start now */
	/* both reaped before anything is judged: no child outlives the test */
	for (int i = 0; i < 2; i++)
		if (pid[i] > 0 && waitpid(pid[i], &status[i], 0) != pid[i])
			status[i] = -1;
	for (int i = 0; i < 2; i++) {
		assert_true(pid[i] > 0);
		assert_true(WIFEXITED(status[i]));
		assert_int_equal(WEXITSTATUS(status[i]), 0);
	}
	/* no rotation lost: 1 + 2N epochs, 1..2N+1, one current (the last), one write each */
	fleet_keys(&g->f, NULL, &k);
	assert_int_equal(k.n, 1 + 2 * ROTATIONS);
	for (size_t i = 0; i < k.n; i++) {
		assert_int_equal(k.k[i].epoch, i + 1);
		if (k.k[i].state == HM_KEY_CURRENT) {
			current++;
			assert_int_equal(i, k.n - 1);
		} else {
			assert_int_equal(k.k[i].state, HM_KEY_SUPERSEDED);
			assert_true(k.k[i].deadline >= NOW + GRACE);
		}
		for (size_t j = i + 1; j < k.n; j++)
			assert_string_not_equal(k.k[i].keyid, k.k[j].keyid);
	}
	assert_int_equal(current, 1);
	/* versions follow the clock (admin.c next_version): seq is the last write's, not a count */
	assert_true(seq_of(&g->f) > 0);
	assert_int_equal(stream_len(&g->f), 1 + 2 * ROTATIONS);
	multis = stat_calls(&g->f, "multi");
	assert_true(multis >= 2 * ROTATIONS);
	print_message("two writers, %d rotations each: %lld transactions redone\n", ROTATIONS,
		      multis - 2 * ROTATIONS);
}

/* ---- the change stream ---- */

/* The newest entry's fields: pairs of (name, blob), each blob what P r:<name> holds. */
static size_t last_entry_records(struct hm_fleet *f)
{
	redisReply *r = cmd(f, "XREVRANGE hmacd:changes + - COUNT 1"), *fields;
	size_t n;

	assert_int_equal(r->type, REDIS_REPLY_ARRAY);
	assert_int_equal(r->elements, 1);
	fields = r->element[0]->element[1];
	assert_int_equal(fields->elements % 2, 0);
	n = fields->elements / 2;
	for (size_t i = 0; i < n; i++) {
		const redisReply *name = fields->element[2 * i], *blob = fields->element[2 * i + 1];
		redisReply *v;

		assert_int_equal(name->len, 64);
		v = cmd(f, "GET hmacd:r:%b", name->str, name->len);
		assert_int_equal(v->type, REDIS_REPLY_STRING);
		assert_int_equal(v->len, blob->len);
		assert_memory_equal(v->str, blob->str, blob->len);
		freeReplyObject(v);
	}
	freeReplyObject(r);
	return n;
}

static void test_stream(void **state)
{
	struct fx *g = *state;
	uint8_t secret[HM_KEY_LEN], imp[HM_KEY_MIN];
	struct hm_policy p;
	struct hm_fleet f;
	long long n, seq;

	need_redis();
	memset(imp, 7, sizeof(imp));
	make_policy(&p, "x-one");
	assert_int_equal(stream_len(&g->f), 0);
	assert_int_equal(hm_fleet_create(&g->f, "acme", "web", NOW, NULL, secret, NULL), HM_OK);
	assert_int_equal(stream_len(&g->f), 1);
	assert_int_equal(last_entry_records(&g->f), 1);
	assert_int_equal(hm_fleet_rotate(&g->f, "acme", "web", NOW, GRACE, NULL, secret, NULL),
			 HM_OK);
	assert_int_equal(stream_len(&g->f), 2);
	assert_int_equal(last_entry_records(&g->f), 2); /* the superseded epoch and the new one */
	assert_int_equal(hm_fleet_import(&g->f, "acme", "web", NOW, GRACE, NULL, imp, sizeof(imp),
					 NULL),
			 HM_OK);
	assert_int_equal(stream_len(&g->f), 3);
	assert_int_equal(last_entry_records(&g->f), 2);
	assert_int_equal(hm_fleet_revoke(&g->f, "acme", "web", 1), HM_OK);
	assert_int_equal(stream_len(&g->f), 4);
	assert_int_equal(last_entry_records(&g->f), 1);
	assert_int_equal(hm_fleet_policy_set(&g->f, "acme", NULL, &p), HM_OK);
	assert_int_equal(stream_len(&g->f), 5);
	assert_int_equal(last_entry_records(&g->f), 1);
	assert_int_equal(hm_fleet_policy_unset(&g->f, "acme", NULL), HM_OK);
	assert_int_equal(stream_len(&g->f), 6);
	assert_int_equal(last_entry_records(&g->f), 1);
	seq = seq_of(&g->f);
	assert_true(seq > 0);
	/* refused writes add nothing */
	assert_int_equal(hm_fleet_create(&g->f, "acme", "web", NOW, NULL, secret, NULL), HM_EEXIST);
	assert_int_equal(hm_fleet_revoke(&g->f, "acme", "web", 1), HM_ESTATE);
	assert_int_equal(hm_fleet_policy_unset(&g->f, "acme", NULL), HM_ENOTFOUND);
	assert_int_equal(stream_len(&g->f), 6);
	assert_int_equal(seq_of(&g->f), seq);

	/* trimmed to about stream_max (MAXLEN ~: whole nodes of the stream, 4 entries here) */
	cmd_ok(&g->f, "CONFIG SET stream-node-max-entries 4");
	assert_int_equal(fleet_connect(g, &g->seal, NULL, 8, &f), HM_OK);
	for (int i = 0; i < 40; i++)
		assert_int_equal(hm_fleet_rotate(&f, "acme", "web", NOW, GRACE, NULL, secret, NULL),
				 HM_OK);
	n = stream_len(&f);
	assert_true(n >= 8);
	assert_true(n <= 8 + 6); /* the oldest node was made before the change: 6 entries */
	{
		struct keys *k = calloc(1, sizeof(*k));

		assert_non_null(k);
		fleet_keys(&f, "acme", k);
		assert_int_equal(k->n, 3 + 40); /* the records are all there */
		free(k);
	}
	hm_fleet_close(&f);
	OPENSSL_cleanse(secret, sizeof(secret));
}

/* ---- what Redis sees ---- */

struct blobs {
	uint8_t *p;
	size_t n, cap;
};

static void add_bytes(struct blobs *b, const void *p, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		b->cap = 2 * (b->n + n + 1);
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
	b->p[b->n++] = '\n';
}

static void add_reply(struct blobs *b, const redisReply *r)
{
	if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
		add_bytes(b, r->str, r->len);
	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
		add_reply(b, r->element[i]);
}

/* Every key of Redis and everything it holds, in one buffer. */
static void dump_redis(struct hm_fleet *f, struct blobs *b)
{
	redisReply *keys = cmd(f, "KEYS *");

	assert_int_equal(keys->type, REDIS_REPLY_ARRAY);
	for (size_t i = 0; i < keys->elements; i++) {
		const redisReply *k = keys->element[i];
		redisReply *t = cmd(f, "TYPE %b", k->str, k->len), *v = NULL;

		add_bytes(b, k->str, k->len);
		if (strcmp(t->str, "string") == 0)
			v = cmd(f, "GET %b", k->str, k->len);
		else if (strcmp(t->str, "hash") == 0)
			v = cmd(f, "HGETALL %b", k->str, k->len);
		else if (strcmp(t->str, "stream") == 0)
			v = cmd(f, "XRANGE %b - +", k->str, k->len);
		else
			fail_msg("unexpected key type %s", t->str);
		assert_non_null(v);
		add_reply(b, v);
		freeReplyObject(v);
		freeReplyObject(t);
	}
	freeReplyObject(keys);
}

static void absent(const struct blobs *b, const void *needle, size_t n, const char *what)
{
	if (memmem(b->p, b->n, needle, n) != NULL)
		fail_msg("Redis holds %s", what);
}

/* The secret, raw, in hex (both cases) and in base64, is nowhere in Redis; nor the names. */
static void test_nothing_readable(void **state)
{
	static const char hexd[] = "0123456789abcdef", hexu[] = "0123456789ABCDEF";
	struct fx *g = *state;
	uint8_t secret[HM_KEY_LEN], imp[HM_KEY_MAX];
	char hl[2 * HM_KEY_MAX + 1], hu[2 * HM_KEY_MAX + 1], b64[HM_B64_LEN(HM_KEY_MAX) + 1];
	struct blobs b = {NULL, 0, 0};
	struct hm_policy p;

	need_redis();
	for (size_t i = 0; i < sizeof(imp); i++)
		imp[i] = (uint8_t)(0x80 + i);
	make_policy(&p, "x-policy-header");
	assert_int_equal(hm_fleet_create(&g->f, "tenant-alpha", "container-beta", NOW,
					 "keyid-gamma", secret, NULL),
			 HM_OK);
	assert_int_equal(hm_fleet_import(&g->f, "tenant-delta", "container-eps", NOW, GRACE,
					 "keyid-zeta", imp, sizeof(imp), NULL),
			 HM_OK);
	assert_int_equal(hm_fleet_policy_set(&g->f, "tenant-theta", "container-iota", &p), HM_OK);
	dump_redis(&g->f, &b);
	for (int k = 0; k < 2; k++) {
		const uint8_t *s = k == 0 ? secret : imp;
		size_t n = k == 0 ? sizeof(secret) : sizeof(imp);

		absent(&b, s, n, "a secret");
		absent(&b, s, 12, "a secret's first bytes");
		for (size_t i = 0; i < n; i++) {
			hl[2 * i] = hexd[s[i] >> 4];
			hl[2 * i + 1] = hexd[s[i] & 15];
			hu[2 * i] = hexu[s[i] >> 4];
			hu[2 * i + 1] = hexu[s[i] & 15];
		}
		absent(&b, hl, 2 * n, "a secret in hex");
		absent(&b, hu, 2 * n, "a secret in HEX");
		absent(&b, b64, hm_b64_encode_ct(s, n, b64), "a secret in base64");
	}
	absent(&b, "tenant-", 7, "a tenant");
	absent(&b, "container-", 10, "a container");
	absent(&b, "keyid-", 6, "a key id");
	absent(&b, "x-policy-header", 15, "a policy");
	free(b.p);
	OPENSSL_cleanse(secret, sizeof(secret));
}

/* ---- import-store ---- */

/* A local store with scopes in each state, imported and generated key ids, two policies. */
static void fill_local(struct fx *g)
{
	struct hm_keystore *ks = local(g);
	uint8_t secret[HM_KEY_LEN], imp[HM_KEY_MIN];
	struct hm_policy p;

	memset(imp, 0x5e, sizeof(imp));
	make_policy(&p, "x-local");
	assert_int_equal(hm_ks_create(ks, "t1", "c1", NOW, "l-1", secret, NULL), HM_OK);
	assert_int_equal(hm_ks_rotate(ks, "t1", "c1", NOW + 1, GRACE, NULL, secret, NULL), HM_OK);
	assert_int_equal(hm_ks_rotate(ks, "t1", "c1", NOW + 2, GRACE, "l-3", secret, NULL), HM_OK);
	assert_int_equal(hm_ks_revoke(ks, "t1", "c1", 1), HM_OK);
	assert_int_equal(hm_ks_import(ks, "t2", "c2", NOW, GRACE, "l-imp", imp, sizeof(imp), NULL),
			 HM_OK);
	assert_int_equal(hm_ks_policy_set(ks, "t1", NULL, &p), HM_OK);
	assert_int_equal(hm_ks_policy_set(ks, "t2", "c2", &p), HM_OK);
	OPENSSL_cleanse(secret, sizeof(secret));
}

struct secrets {
	struct hm_ks_mirror_rec r[16];
	size_t n;
};

static int export_cb(const struct hm_ks_mirror_rec *rec, void *arg)
{
	struct secrets *s = arg;

	if (rec->kind == HM_KS_MIRROR_EPOCH) {
		assert_true(s->n < 16);
		s->r[s->n++] = *rec;
	}
	return 0;
}

/* The fleet holds what the store holds: listings, key ids, policies and every secret. */
static void fleet_has_store(struct fx *g)
{
	struct secrets s = {.n = 0};
	struct pols a, b;

	both_same(g, true);
	a.n = b.n = 0;
	assert_int_equal(hm_ks_policy_list(local(g), NULL, pol_cb, &a), HM_OK);
	assert_int_equal(hm_fleet_policy_list(&g->f, NULL, pol_cb, &b, NULL), HM_OK);
	pols_equal(&a, &b);
	assert_int_equal(hm_ks_export(local(g), export_cb, &s), HM_OK);
	for (size_t i = 0; i < s.n; i++) {
		struct hm_ks_mirror_rec rec;

		fleet_epoch(&g->f, s.r[i].tenant, s.r[i].container, s.r[i].epoch, &rec);
		assert_int_equal(rec.secret_len, s.r[i].secret_len);
		assert_memory_equal(rec.secret, s.r[i].secret, sizeof(rec.secret));
		OPENSSL_cleanse(&rec, sizeof(rec));
	}
	OPENSSL_cleanse(&s, sizeof(s));
}

static void test_import_store(void **state)
{
	struct fx *g = *state;
	struct hm_fleet_imported res;
	struct hm_fleet_meta m;
	struct versions v1, v2;
	long long entries;

	need_redis();
	fill_local(g);
	assert_int_equal(hm_fleet_import_store(&g->f, local(g), false, &res), HM_OK);
	assert_false(res.created);
	assert_int_equal(res.written, 6); /* 4 epochs, 2 policies */
	assert_int_equal(res.kept, 0);
	assert_int_equal(res.conflicts, 0);
	assert_int_equal(hm_fleet_meta_check(&g->f, &m), HM_OK);
	assert_string_equal(res.fleet_id, m.fleet_id);
	fleet_has_store(g);
	v1 = fleet_versions(&g->f);
	assert_int_equal(v1.n, 6);
	entries = stream_len(&g->f);

	/* again: the fleet's records win, nothing written */
	assert_int_equal(hm_fleet_import_store(&g->f, local(g), false, &res), HM_OK);
	assert_int_equal(res.written, 0);
	assert_int_equal(res.kept, 6);
	assert_int_equal(stream_len(&g->f), entries);
	v2 = fleet_versions(&g->f);
	assert_int_equal(v2.max, v1.max);

	/* forced: every record written again, at newer versions */
	assert_int_equal(hm_fleet_import_store(&g->f, local(g), true, &res), HM_OK);
	assert_int_equal(res.written, 6);
	assert_int_equal(res.kept, 0);
	assert_int_equal(res.conflicts, 0);
	v2 = fleet_versions(&g->f);
	assert_int_equal(v2.n, 6);
	assert_true(v2.min > v1.max);
	assert_true(stream_len(&g->f) > entries);
	fleet_has_store(g);
}

static void test_import_store_conflicts(void **state)
{
	struct fx *g = *state;
	struct hm_fleet_imported res;
	uint8_t secret[HM_KEY_LEN];
	struct keys k;

	need_redis();
	fill_local(g);
	/* the fleet has another scope with the key id of the store's t1/c1 epoch 3 */
	assert_int_equal(hm_fleet_create(&g->f, "fleet", "own", NOW, "l-3", secret, NULL), HM_OK);
	/* and the store's t2/c2 epoch 1 already */
	assert_int_equal(hm_fleet_import(&g->f, "t2", "c2", NOW, GRACE, "f-1", secret, 32, NULL),
			 HM_OK);
	assert_int_equal(hm_fleet_import_store(&g->f, local(g), false, &res), HM_OK);
	assert_int_equal(res.conflicts, 1);
	assert_int_equal(res.kept, 1);
	assert_int_equal(res.written, 4); /* t1/c1 epochs 1 and 2, two policies */
	fleet_keys(&g->f, NULL, &k);
	assert_int_equal(k.n, 4); /* fleet/own 1, t1/c1 1 and 2, t2/c2 1 */
	assert_string_equal(k.k[0].tenant, "t1");
	assert_int_equal(k.k[1].epoch, 2);
	assert_string_equal(k.k[2].keyid, "f-1"); /* kept */
	assert_string_equal(k.k[3].keyid, "l-3"); /* the fleet's own scope keeps its id */
	assert_string_equal(k.k[3].tenant, "fleet");
	/* forced: t2/c2 is overwritten with the store's; the conflict stays skipped */
	assert_int_equal(hm_fleet_import_store(&g->f, local(g), true, &res), HM_OK);
	assert_int_equal(res.conflicts, 1);
	assert_int_equal(res.written, 5);
	fleet_keys(&g->f, "t2", &k);
	assert_int_equal(k.n, 1);
	assert_string_equal(k.k[0].keyid, "l-imp");
	OPENSSL_cleanse(secret, sizeof(secret));
}

/*
 * An epoch skipped for its key id leaves a gap in the fleet's scope: the next epoch is still
 * max + 1, every current epoch is superseded, and the scope exists even when epoch 1 is the
 * one missing.
 */
static void test_import_store_gap(void **state)
{
	struct fx *g = *state;
	struct hm_keystore *ks;
	struct hm_fleet_imported res;
	uint8_t secret[HM_KEY_LEN];
	struct hm_ks_added a;
	struct keys k;
	size_t current = 0;

	need_redis();
	ks = local(g);
	assert_int_equal(hm_ks_create(ks, "g", "c", NOW, "g-1", secret, NULL), HM_OK);
	assert_int_equal(hm_ks_rotate(ks, "g", "c", NOW, GRACE, "g-2", secret, NULL), HM_OK);
	assert_int_equal(hm_ks_rotate(ks, "g", "c", NOW, GRACE, "g-3", secret, NULL), HM_OK);
	assert_int_equal(hm_ks_create(ks, "h", "c", NOW, "h-1", secret, NULL), HM_OK);
	assert_int_equal(hm_ks_rotate(ks, "h", "c", NOW, GRACE, "h-2", secret, NULL), HM_OK);
	/* the fleet holds g/c epoch 2's and h/c epoch 1's key ids elsewhere */
	assert_int_equal(hm_fleet_create(&g->f, "other", "x", NOW, "g-2", secret, NULL), HM_OK);
	assert_int_equal(hm_fleet_create(&g->f, "other", "y", NOW, "h-1", secret, NULL), HM_OK);
	assert_int_equal(hm_fleet_import_store(&g->f, ks, false, &res), HM_OK);
	assert_int_equal(res.conflicts, 2);
	assert_int_equal(res.written, 3); /* g/c 1 and 3, h/c 2 */

	/* g/c holds 1 (superseded) and 3 (current): a rotation adds 4 and supersedes 3 */
	assert_int_equal(hm_fleet_rotate(&g->f, "g", "c", NOW + 1, GRACE, NULL, secret, &a), HM_OK);
	assert_int_equal(a.epoch, 4);
	fleet_keys(&g->f, "g", &k);
	assert_int_equal(k.n, 3);
	for (size_t i = 0; i < k.n; i++)
		current += k.k[i].state == HM_KEY_CURRENT;
	assert_int_equal(current, 1);
	assert_int_equal(k.k[2].epoch, 4);
	assert_int_equal(k.k[2].state, HM_KEY_CURRENT);
	assert_int_equal(k.k[1].state, HM_KEY_SUPERSEDED);
	assert_int_equal(k.k[1].deadline, NOW + 1 + GRACE);
	/* h/c holds only epoch 2: it exists, and rotates to 3 */
	assert_int_equal(hm_fleet_create(&g->f, "h", "c", NOW, NULL, secret, NULL), HM_EEXIST);
	assert_int_equal(hm_fleet_rotate(&g->f, "h", "c", NOW, GRACE, NULL, secret, &a), HM_OK);
	assert_int_equal(a.epoch, 3);
	assert_int_equal(hm_fleet_revoke(&g->f, "h", "c", 1), HM_ENOTFOUND);
	fleet_keys(&g->f, "h", &k);
	assert_int_equal(k.n, 2);
	assert_int_equal(k.k[0].state, HM_KEY_SUPERSEDED);
	assert_int_equal(k.k[1].state, HM_KEY_CURRENT);
	OPENSSL_cleanse(secret, sizeof(secret));
}

/* A mirror re-seeds an emptied Redis: its fleet id, versions above any it holds. */
static void test_import_store_reseed(void **state)
{
	static const struct hm_ks_mirror fleet = {
		.fleet_id = "00112233445566778899aabbccddeeff",
		.seal_key_id = "",
		.pos = "1700000000000-0",
	};
	struct fx *g = *state;
	struct hm_ks_mirror_rec recs[3];
	struct hm_ks_mirror_result ar;
	struct hm_fleet_imported res;
	struct hm_ks_mirror mirror = fleet;
	struct hm_fleet_meta m;
	struct versions v;
	char sid[HM_SEAL_ID_HEX];

	need_redis();
	hm_seal_id_hex(&g->seal, sid);
	snprintf(mirror.seal_key_id, sizeof(mirror.seal_key_id), "%s", sid);
	memset(recs, 0, sizeof(recs));
	for (int i = 0; i < 2; i++) {
		recs[i].kind = HM_KS_MIRROR_EPOCH;
		recs[i].version = 1000 + (uint64_t)i;
		snprintf(recs[i].tenant, sizeof(recs[i].tenant), "m");
		snprintf(recs[i].container, sizeof(recs[i].container), "c");
		recs[i].epoch = (uint32_t)i + 1;
		recs[i].state = i == 0 ? HM_KEY_SUPERSEDED : HM_KEY_CURRENT;
		recs[i].created = NOW;
		recs[i].deadline = i == 0 ? NOW + GRACE : 0;
		snprintf(recs[i].keyid, sizeof(recs[i].keyid), "m-%d", i + 1);
		recs[i].secret_len = 32;
		memset(recs[i].secret, 0x42 + i, 32);
		assert_int_equal(hm_frec_name(&g->seal, &recs[i], (char[HM_SEAL_NAME_HEX]){0}),
				 HM_OK);
	}
	recs[2].kind = HM_KS_MIRROR_POLICY;
	recs[2].version = 2000;
	snprintf(recs[2].tenant, sizeof(recs[2].tenant), "m");
	recs[2].present = true;
	make_policy(&recs[2].policy, "x-mirror");
	assert_int_equal(hm_frec_name(&g->seal, &recs[2], (char[HM_SEAL_NAME_HEX]){0}), HM_OK);
	assert_int_equal(hm_ks_mirror_apply(local(g), &mirror, recs, 3, &ar), HM_OK);
	assert_int_equal(ar.applied, 3);

	/* Redis back empty */
	cmd_ok(&g->f, "FLUSHALL");
	assert_int_equal(hm_fleet_import_store(&g->f, local(g), false, &res), HM_OK);
	assert_true(res.created);
	assert_string_equal(res.fleet_id, fleet.fleet_id);
	assert_int_equal(res.written, 3);
	assert_int_equal(hm_fleet_meta_check(&g->f, &m), HM_OK);
	assert_string_equal(m.fleet_id, fleet.fleet_id);
	assert_string_equal(m.seal_key_id, sid);
	v = fleet_versions(&g->f);
	assert_int_equal(v.n, 3);
	assert_true(v.min > 2000); /* every host takes them as new */
	fleet_has_store(g);

	/* Redis holding another fleet: refused */
	cmd_ok(&g->f, "FLUSHALL");
	assert_int_equal(hm_fleet_meta_create(&g->f, NULL, &m), HM_OK);
	assert_int_equal(hm_fleet_import_store(&g->f, local(g), false, &res), HM_ESTATE);
	assert_non_null(strstr(g->f.err, fleet.fleet_id));
	assert_non_null(strstr(g->f.err, m.fleet_id));
	OPENSSL_cleanse(recs, sizeof(recs));
}

/* ---- Redis down ---- */

static void one_line(const char *err)
{
	assert_true(err[0] != '\0');
	assert_null(strchr(err, '\n'));
}

static void test_redis_down(void **state)
{
	struct fx *g = *state;
	struct hm_fleet_cfg cfg = {.timeout_ms = 1000, .seal = &g->seal};
	uint8_t secret[HM_KEY_LEN];
	struct hm_fleet f;
	char err[256];
	struct keys k;

	need_redis();
	/* nothing listening */
	assert_int_equal(hm_fleet_url_parse("unix:///nonexistent/hm/redis.sock", &cfg.url, err,
					    sizeof(err)),
			 HM_OK);
	assert_int_equal(hm_fleet_open(&f, &cfg), HM_ECONN);
	one_line(f.err);
	assert_int_equal(hm_fleet_create(&f, "acme", "web", NOW, NULL, secret, NULL), HM_ECONN);
	one_line(f.err);
	hm_fleet_close(&f);

	/* killed under an open connection: every call says so */
	tl_redis_kill(&g->r);
	assert_int_equal(hm_fleet_create(&g->f, "acme", "web", NOW, NULL, secret, NULL), HM_ECONN);
	one_line(g->f.err);
	assert_non_null(strstr(g->f.err, "redis"));
	assert_int_equal(hm_fleet_rotate(&g->f, "acme", "web", NOW, GRACE, NULL, secret, NULL),
			 HM_ECONN);
	one_line(g->f.err);
	assert_int_equal(hm_fleet_revoke(&g->f, "acme", "web", 1), HM_ECONN);
	assert_int_equal(hm_fleet_list(&g->f, NULL, key_cb, &k, NULL), HM_ECONN);
	one_line(g->f.err);
	assert_int_equal(hm_fleet_reconnect(&g->f), HM_ECONN);
	one_line(g->f.err);
	/* back (empty): the next setup() restarts it */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_meta, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoke, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keyid_unique, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_rotations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nothing_readable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_store, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_store_conflicts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_store_gap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_store_reseed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redis_down, setup, teardown),
	};

	/* a write to a connection the server closed must fail, not kill the process */
	signal(SIGPIPE, SIG_IGN);
	alarm(120);
	have_redis = tl_redis_available();
	if (!have_redis)
		fprintf(stderr, "test_fleet_admin: redis-server is not on PATH (Debian: apt-get "
				"install redis-server): every test is SKIPPED\n");
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
