/*
 * test_follow.c - hmacd's follower (daemon/fleet/follow.h) keeping a store as the mirror of a
 * fleet in a real redis-server (tests/lib/redis.h), the changes made with admin.h.
 *
 * hm_follow_start(): a full sync of an empty store (records applied, position saved), a second
 * start resuming from the saved position without a resync, a stream trimmed past the position
 * (a full resync) or only before it (none); refusals: another seal key than the fleet's or than
 * the store was synced with, a store with keys of its own (HM_ESTATE, a reason given), Redis
 * down with a never-synced store (HM_ECONN, no follower) or a synced one (a follower, "down",
 * that follows once Redis is back). hm_follow_run(): admin changes reach the daemon's read
 * path; a flipped, swapped or older blob on the stream is refused and counted, and the changes
 * after it still apply; the meta deleted: "lost", logged once, nothing read from the stream
 * meanwhile, and "following" again after a re-seed with hm_fleet_import_store(); stop returns
 * while following and while Redis is down. Waits poll with a deadline; no timing is asserted.
 * Without redis-server the tests are skipped, saying so.
 */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/crypto.h>

#include "fleet/admin.h"
#include "fleet/fleet.h"
#include "fleet/follow.h"
#include "fleet/seal.h"
#include "proto/policy.h"
#include "store/keystore.h"
#include "tests/lib/redis.h"

#define NOW 1700000000
#define GRACE 3600
#define TIMEOUT_MS 5000
#define DEADLINE_MS 15000 /* polls give up after this: a failure, never a measurement */

static bool have_redis;

/* What the follower logged (from its thread). */
struct logbook {
	pthread_mutex_t mu;
	char text[16384];
	size_t len;
};

struct fx {
	char dir[64];
	struct tl_redis r;
	bool up;
	struct hm_seal seal, other;
	struct hm_fleet a;         /* the admin's connection; the fleet initialised */
	char store[96], store2[96];
	struct hm_keystore *ks;    /* the mirror under test (opened as hmacd opens it) */
	struct hm_follower *fo;
	struct logbook log;
};

/* ---- fixture ---- */

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

static void log_fn(void *arg, enum hm_follow_level level, const char *msg)
{
	struct logbook *lb = arg;
	int n;

	(void)level;
	pthread_mutex_lock(&lb->mu);
	n = snprintf(lb->text + lb->len, sizeof(lb->text) - lb->len, "%s\n", msg);
	if (n > 0 && (size_t)n < sizeof(lb->text) - lb->len)
		lb->len += (size_t)n;
	pthread_mutex_unlock(&lb->mu);
}

/* How many lines the follower logged that contain s. */
static int logged(struct fx *g, const char *s)
{
	const char *p;
	int n = 0;

	pthread_mutex_lock(&g->log.mu);
	for (p = g->log.text; (p = strstr(p, s)) != NULL; p += strlen(s))
		n++;
	pthread_mutex_unlock(&g->log.mu);
	return n;
}

static int group_setup(void **state)
{
	struct fx *g = calloc(1, sizeof(*g));
	char err[512];

	if (g == NULL)
		return -1;
	snprintf(g->dir, sizeof(g->dir), "/tmp/hm-follow-XXXXXX");
	if (mkdtemp(g->dir) == NULL) {
		free(g);
		return -1;
	}
	pthread_mutex_init(&g->log.mu, NULL);
	init_seal(&g->seal, 0x33);
	init_seal(&g->other, 0x44);
	snprintf(g->store, sizeof(g->store), "%s/db", g->dir);
	snprintf(g->store2, sizeof(g->store2), "%s/db2", g->dir);
	if (have_redis) {
		/* persistent: a test kills it and wants the fleet back as it was */
		if (tl_redis_start(&g->r, g->dir, true, err, sizeof(err)) != HM_OK) {
			fprintf(stderr, "test_follow: redis-server: %s\n", err);
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
	pthread_mutex_destroy(&g->log.mu);
	(void)nftw(g->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(g);
	return 0;
}

static struct hm_fleet_cfg cfg_of(struct fx *g, const struct hm_seal *seal)
{
	return (struct hm_fleet_cfg){
		.url = g->r.unix_url,
		.timeout_ms = TIMEOUT_MS,
		.seal = seal,
	};
}

static redisReply *cmd(struct fx *g, const char *fmt, ...)
{
	va_list ap;
	redisReply *r;

	va_start(ap, fmt);
	r = redisvCommand(g->a.c, fmt, ap);
	va_end(ap);
	if (r == NULL)
		fail_msg("redis: %s", g->a.c->errstr);
	if (r->type == REDIS_REPLY_ERROR)
		fail_msg("redis: %s: %s", fmt, r->str);
	return r;
}

static void cmd_ok(struct fx *g, const char *what)
{
	freeReplyObject(cmd(g, what));
}

/* Before each test: an empty Redis with a fleet initialised; no store, no follower. */
static int setup(void **state)
{
	struct fx *g = *state;
	struct hm_fleet_cfg cfg = cfg_of(g, &g->seal);
	struct hm_fleet_meta m;

	g->ks = NULL;
	g->fo = NULL;
	g->log.len = 0;
	g->log.text[0] = '\0';
	if (!g->up)
		return 0;
	if (g->r.pid < 0) {
		char err[512];

		if (tl_redis_restart(&g->r, err, sizeof(err)) != HM_OK) {
			fprintf(stderr, "test_follow: redis-server: %s\n", err);
			return -1;
		}
	}
	if (hm_fleet_open(&g->a, &cfg) != HM_OK) {
		fprintf(stderr, "test_follow: %s\n", g->a.err);
		return -1;
	}
	cmd_ok(g, "FLUSHALL");
	if (hm_fleet_meta_create(&g->a, NULL, &m) != HM_OK) {
		fprintf(stderr, "test_follow: init: %s\n", g->a.err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	struct fx *g = *state;

	hm_follow_stop(g->fo);
	g->fo = NULL;
	hm_ks_close(g->ks);
	g->ks = NULL;
	hm_fleet_close(&g->a);
	(void)nftw(g->store, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	(void)nftw(g->store2, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static void need_redis(void)
{
	if (!have_redis)
		skip();
}

/* The store as hmacd opens it in fleet mode. */
static struct hm_keystore *open_mirror(const char *dir)
{
	struct hm_keystore *ks = NULL;
	char err[256];

	if (hm_ks_open(dir, HM_KS_CREATE | HM_KS_READER | HM_KS_MIRROR, &ks, err, sizeof(err)) !=
	    HM_OK)
		fail_msg("hm_ks_open %s: %s", dir, err);
	return ks;
}

static int start_with(struct fx *g, const struct hm_seal *seal, struct hm_keystore *ks,
		      struct hm_follower **fo, char *err, size_t cap)
{
	struct hm_fleet_cfg cfg = cfg_of(g, seal);

	err[0] = '\0';
	return hm_follow_start(&cfg, ks, log_fn, &g->log, fo, err, cap);
}

/* Starts the follower of g->ks (opened if needed): HM_OK expected. */
static void start(struct fx *g)
{
	char err[512];
	int rc;

	if (g->ks == NULL)
		g->ks = open_mirror(g->store);
	rc = start_with(g, &g->seal, g->ks, &g->fo, err, sizeof(err));
	if (rc != HM_OK)
		fail_msg("hm_follow_start: %s: %s", hm_strerror(rc), err);
	assert_non_null(g->fo);
}

static void stop(struct fx *g)
{
	hm_follow_stop(g->fo);
	g->fo = NULL;
}

static uint64_t st(struct fx *g, int which)
{
	const struct hm_follow_stats *s = hm_follow_stats(g->fo);

	switch (which) {
	case 0:
		return atomic_load(&s->state);
	case 1:
		return atomic_load(&s->connected);
	case 2:
		return atomic_load(&s->changes_applied);
	case 3:
		return atomic_load(&s->records_refused);
	default:
		return atomic_load(&s->resyncs);
	}
}

#define STATE 0
#define CONNECTED 1
#define APPLIED 2
#define REFUSED 3
#define RESYNCS 4

static int64_t mono_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap_ms(long ms)
{
	struct timespec ts = {0, ms * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Polls cond until it holds; fails (saying what) at the deadline. */
#define WAIT_FOR(cond, what)                                                               \
	do {                                                                               \
		int64_t until_ = mono_ms() + DEADLINE_MS;                                  \
		while (!(cond)) {                                                          \
			if (mono_ms() > until_)                                            \
				fail_msg("gave up waiting for %s", what);                  \
			nap_ms(20);                                                        \
		}                                                                          \
	} while (0)

/* ---- the store, as the daemon's workers read it ---- */

/* hm_ks_lookup in a batch of its own: the code, rec set when found. */
static int lookup(struct hm_ks_reader *rd, const char *t, const char *c, uint32_t epoch,
		  struct hm_key_rec *rec)
{
	uint64_t txnid;
	int rc;

	assert_int_equal(hm_ks_reader_begin(rd, &txnid), HM_OK);
	rc = hm_ks_lookup(rd, (const uint8_t *)t, strlen(t), (const uint8_t *)c, strlen(c), epoch,
			  rec);
	hm_ks_reader_end(rd);
	return rc;
}

static bool has_epoch(struct hm_ks_reader *rd, const char *t, const char *c, uint32_t epoch,
		      enum hm_key_state state)
{
	struct hm_key_rec rec;
	bool yes;

	yes = lookup(rd, t, c, epoch, &rec) == HM_OK && rec.state == state;
	OPENSSL_cleanse(&rec, sizeof(rec));
	return yes;
}

static bool has_keyid(struct hm_ks_reader *rd, const char *keyid)
{
	struct hm_key_ref ref;
	uint64_t txnid;
	int rc;

	assert_int_equal(hm_ks_reader_begin(rd, &txnid), HM_OK);
	rc = hm_ks_lookup_keyid(rd, (const uint8_t *)keyid, strlen(keyid), &ref);
	hm_ks_reader_end(rd);
	return rc == HM_OK;
}

static enum hm_policy_source policy_of(struct hm_ks_reader *rd, const char *t, const char *c)
{
	enum hm_policy_source src = HM_POLICY_DEFAULT;
	struct hm_policy p;
	uint64_t txnid;

	hm_policy_default(&p);
	assert_int_equal(hm_ks_reader_begin(rd, &txnid), HM_OK);
	assert_int_equal(hm_ks_policy_lookup(rd, (const uint8_t *)t, strlen(t),
					     (const uint8_t *)c, strlen(c), &p, &src),
			 HM_OK);
	hm_ks_reader_end(rd);
	return src;
}

static int count_cb(const struct hm_key_info *info, void *arg)
{
	(void)info;
	(*(size_t *)arg)++;
	return 0;
}

/* Epochs in the store (no follower thread running). */
static size_t epochs(struct hm_keystore *ks)
{
	size_t n = 0;

	assert_int_equal(hm_ks_list(ks, NULL, count_cb, &n), HM_OK);
	return n;
}

/* The id of the newest entry of the change stream. */
static void stream_last(struct fx *g, char *out, size_t cap)
{
	redisReply *r = cmd(g, "XREVRANGE hmacd:changes + - COUNT 1");

	assert_int_equal(r->type, REDIS_REPLY_ARRAY);
	assert_int_equal(r->elements, 1);
	snprintf(out, cap, "%s", r->element[0]->element[0]->str);
	freeReplyObject(r);
}

static void rotate(struct fx *g, const char *t, const char *c, const char *keyid)
{
	uint8_t secret[HM_KEY_LEN];

	if (hm_fleet_rotate(&g->a, t, c, NOW, GRACE, keyid, secret, NULL) != HM_OK)
		fail_msg("rotate: %s", g->a.err);
	OPENSSL_cleanse(secret, sizeof(secret));
}

static void create(struct fx *g, const char *t, const char *c, const char *keyid,
		   uint8_t secret[static HM_KEY_LEN])
{
	if (hm_fleet_create(&g->a, t, c, NOW, keyid, secret, NULL) != HM_OK)
		fail_msg("create: %s", g->a.err);
}

/* ---- start ---- */

static void test_full_sync_then_resume(void **state)
{
	struct fx *g = *state;
	uint8_t secret[HM_KEY_LEN], s2[HM_KEY_LEN];
	struct hm_ks_reader *rd = NULL;
	struct hm_fleet_meta m;
	struct hm_ks_mirror held;
	struct hm_key_rec rec;
	struct hm_policy p;
	char last[64], sid[HM_SEAL_ID_HEX];

	need_redis();
	create(g, "acme", "web", "f-1", secret);
	assert_int_equal(hm_fleet_rotate(&g->a, "acme", "web", NOW + 1, GRACE, "f-2", s2, NULL),
			 HM_OK);
	hm_policy_default(&p);
	assert_int_equal(hm_policy_require(&p, "x-follow"), HM_OK);
	assert_int_equal(hm_fleet_policy_set(&g->a, "acme", NULL, &p), HM_OK);
	create(g, "beta", "api", NULL, secret);

	/* an empty store: everything is read */
	start(g);
	assert_int_equal(st(g, STATE), HM_FOLLOW_FOLLOWING);
	assert_int_equal(st(g, CONNECTED), 1);
	assert_int_equal(st(g, RESYNCS), 1);
	assert_int_equal(st(g, APPLIED), 4); /* acme/web 1 and 2, beta/api 1, the policy */
	assert_int_equal(st(g, REFUSED), 0);
	assert_int_equal(logged(g, "full sync done"), 1);
	stop(g);
	assert_int_equal(epochs(g->ks), 3);
	assert_int_equal(hm_ks_mirror_get(g->ks, &held), HM_OK);
	assert_int_equal(hm_fleet_meta_check(&g->a, &m), HM_OK);
	assert_string_equal(held.fleet_id, m.fleet_id);
	hm_seal_id_hex(&g->seal, sid);
	assert_string_equal(held.seal_key_id, sid);
	stream_last(g, last, sizeof(last));
	assert_string_equal(held.pos, last);
	assert_int_equal(hm_ks_reader_new(g->ks, &rd), HM_OK);
	assert_true(has_epoch(rd, "acme", "web", 1, HM_KEY_SUPERSEDED));
	assert_int_equal(lookup(rd, "acme", "web", 2, &rec), HM_OK);
	assert_int_equal(rec.state, HM_KEY_CURRENT);
	assert_int_equal(rec.secret_len, HM_KEY_LEN);
	assert_memory_equal(rec.secret, s2, HM_KEY_LEN);
	OPENSSL_cleanse(&rec, sizeof(rec));
	assert_true(has_keyid(rd, "f-1"));
	assert_true(has_keyid(rd, "f-2"));
	assert_int_equal(policy_of(rd, "acme", "web"), HM_POLICY_TENANT);
	hm_ks_reader_free(rd);
	rd = NULL;

	/* started again: from the saved position, nothing to do */
	start(g);
	assert_int_equal(st(g, RESYNCS), 0);
	assert_int_equal(st(g, APPLIED), 0);
	assert_int_equal(st(g, STATE), HM_FOLLOW_FOLLOWING);
	stop(g);

	/* a change while no follower ran: read from the stream at the next start */
	rotate(g, "acme", "web", "f-3");
	start(g);
	assert_int_equal(st(g, RESYNCS), 0);
	assert_int_equal(st(g, APPLIED), 0); /* start catches up the fleet, the thread the stream */
	assert_int_equal(hm_follow_run(g->fo), HM_OK);
	WAIT_FOR(st(g, APPLIED) == 2, "the rotation's two records");
	stop(g);
	assert_int_equal(epochs(g->ks), 4);
	assert_int_equal(hm_ks_mirror_get(g->ks, &held), HM_OK);
	stream_last(g, last, sizeof(last));
	assert_string_equal(held.pos, last);
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(s2, sizeof(s2));
}

static void test_trimmed_stream(void **state)
{
	struct fx *g = *state;
	uint8_t secret[HM_KEY_LEN];
	struct hm_ks_mirror held;

	need_redis();
	create(g, "acme", "web", NULL, secret);
	rotate(g, "acme", "web", NULL);
	start(g);
	stop(g);
	assert_int_equal(hm_ks_mirror_get(g->ks, &held), HM_OK);

	/* trimmed only before the position: no resync */
	cmd_ok(g, "XTRIM hmacd:changes MAXLEN 1");
	rotate(g, "acme", "web", NULL);
	start(g);
	assert_int_equal(st(g, RESYNCS), 0);
	stop(g);

	/* trimmed past it: what the lost entries wrote is read from the records */
	rotate(g, "acme", "web", NULL);
	rotate(g, "acme", "web", NULL);
	cmd_ok(g, "XTRIM hmacd:changes MAXLEN 1");
	start(g);
	assert_int_equal(st(g, RESYNCS), 1);
	assert_true(logged(g, "trimmed past") == 1);
	stop(g);
	assert_int_equal(epochs(g->ks), 5);
	{
		struct hm_ks_reader *rd = NULL;

		assert_int_equal(hm_ks_reader_new(g->ks, &rd), HM_OK);
		for (uint32_t e = 1; e <= 4; e++)
			assert_true(has_epoch(rd, "acme", "web", e, HM_KEY_SUPERSEDED));
		assert_true(has_epoch(rd, "acme", "web", 5, HM_KEY_CURRENT));
		hm_ks_reader_free(rd);
	}
	/* the whole stream gone (deleted): a resync as well */
	cmd_ok(g, "DEL hmacd:changes");
	rotate(g, "acme", "web", NULL);
	cmd_ok(g, "DEL hmacd:changes");
	start(g);
	assert_int_equal(st(g, RESYNCS), 1);
	stop(g);
	assert_int_equal(epochs(g->ks), 6);
	OPENSSL_cleanse(secret, sizeof(secret));
}

static void test_seal_key_mismatch(void **state)
{
	struct fx *g = *state;
	struct hm_follower *fo = NULL;
	uint8_t secret[HM_KEY_LEN];
	struct hm_fleet_meta m;
	char err[512], sid[HM_SEAL_ID_HEX], oid[HM_SEAL_ID_HEX];

	need_redis();
	hm_seal_id_hex(&g->seal, sid);
	hm_seal_id_hex(&g->other, oid);
	create(g, "acme", "web", NULL, secret);
	g->ks = open_mirror(g->store);
	/* another key than the fleet's */
	assert_int_equal(start_with(g, &g->other, g->ks, &fo, err, sizeof(err)), HM_ESTATE);
	assert_null(fo);
	assert_non_null(strstr(err, sid));
	assert_non_null(strstr(err, oid));
	assert_int_equal(epochs(g->ks), 0);

	/* synced with one key; the fleet made again with another: the store's key is checked */
	start(g);
	stop(g);
	cmd_ok(g, "FLUSHALL");
	hm_fleet_close(&g->a);
	{
		struct hm_fleet_cfg cfg = cfg_of(g, &g->other);

		assert_int_equal(hm_fleet_open(&g->a, &cfg), HM_OK);
	}
	assert_int_equal(hm_fleet_meta_create(&g->a, NULL, &m), HM_OK);
	assert_int_equal(start_with(g, &g->other, g->ks, &fo, err, sizeof(err)), HM_ESTATE);
	assert_null(fo);
	assert_non_null(strstr(err, "synced with seal key"));
	assert_int_equal(epochs(g->ks), 1);
	OPENSSL_cleanse(secret, sizeof(secret));
}

static void test_store_with_own_keys(void **state)
{
	struct fx *g = *state;
	struct hm_follower *fo = NULL;
	struct hm_keystore *ks = NULL;
	uint8_t secret[HM_KEY_LEN];
	struct hm_ks_mirror held;
	char err[512];

	need_redis();
	create(g, "acme", "web", NULL, secret);
	assert_int_equal(hm_ks_open(g->store, HM_KS_CREATE, &ks, NULL, 0), HM_OK);
	assert_int_equal(hm_ks_create(ks, "local", "own", NOW, NULL, secret, NULL), HM_OK);
	hm_ks_close(ks);
	g->ks = open_mirror(g->store);
	assert_int_equal(start_with(g, &g->seal, g->ks, &fo, err, sizeof(err)), HM_ESTATE);
	assert_null(fo);
	/* hmacd stops with this as its reason: it must say what to do */
	assert_non_null(strstr(err, "import-store"));
	assert_int_equal(hm_ks_mirror_get(g->ks, &held), HM_OK);
	assert_string_equal(held.fleet_id, "");
	assert_int_equal(epochs(g->ks), 1);
	OPENSSL_cleanse(secret, sizeof(secret));
}

static void test_no_fleet(void **state)
{
	struct fx *g = *state;
	struct hm_follower *fo = NULL;
	struct hm_fleet_meta m;
	uint8_t secret[HM_KEY_LEN];
	char err[512];

	need_redis();
	/* never synced, no fleet: nothing to serve */
	cmd_ok(g, "FLUSHALL");
	g->ks = open_mirror(g->store);
	assert_int_equal(start_with(g, &g->seal, g->ks, &fo, err, sizeof(err)), HM_ENOTFOUND);
	assert_null(fo);
	assert_non_null(strstr(err, "hmacd:"));

	/* synced, then the fleet gone: served as last synced, "lost" */
	assert_int_equal(hm_fleet_meta_create(&g->a, NULL, &m), HM_OK);
	create(g, "acme", "web", NULL, secret);
	start(g);
	stop(g);
	cmd_ok(g, "FLUSHALL");
	assert_int_equal(start_with(g, &g->seal, g->ks, &g->fo, err, sizeof(err)), HM_ENOTFOUND);
	assert_non_null(g->fo);
	assert_int_equal(st(g, STATE), HM_FOLLOW_LOST);
	assert_non_null(strstr(err, "import-store"));
	stop(g);
	/* another fleet under the prefix: lost as well */
	assert_int_equal(hm_fleet_meta_create(&g->a, NULL, &m), HM_OK);
	assert_int_equal(start_with(g, &g->seal, g->ks, &g->fo, err, sizeof(err)), HM_ENOTFOUND);
	assert_non_null(g->fo);
	assert_int_equal(st(g, STATE), HM_FOLLOW_LOST);
	assert_non_null(strstr(err, "mirrors fleet"));
	stop(g);
	assert_int_equal(epochs(g->ks), 1);
	OPENSSL_cleanse(secret, sizeof(secret));
}

static void test_redis_down_at_start(void **state)
{
	struct fx *g = *state;
	struct hm_follower *fo = NULL;
	struct hm_ks_reader *rd = NULL;
	uint8_t secret[HM_KEY_LEN];
	char err[512];

	need_redis();
	create(g, "acme", "web", "d-1", secret);
	/* never synced: no follower, hmacd cannot start */
	tl_redis_kill(&g->r);
	g->ks = open_mirror(g->store);
	assert_int_equal(start_with(g, &g->seal, g->ks, &fo, err, sizeof(err)), HM_ECONN);
	assert_null(fo);
	assert_true(err[0] != '\0');
	assert_null(strchr(err, '\n'));
	assert_int_equal(epochs(g->ks), 0);

	/* synced before: a follower, down, serving the store; following once Redis is back */
	{
		char why[512];

		assert_int_equal(tl_redis_restart(&g->r, why, sizeof(why)), HM_OK);
	}
	assert_int_equal(hm_fleet_reconnect(&g->a), HM_OK);
	start(g);
	stop(g);
	tl_redis_kill(&g->r);
	assert_int_equal(start_with(g, &g->seal, g->ks, &g->fo, err, sizeof(err)), HM_ECONN);
	assert_non_null(g->fo);
	assert_int_equal(st(g, STATE), HM_FOLLOW_DOWN);
	assert_int_equal(st(g, CONNECTED), 0);
	assert_int_equal(hm_ks_reader_new(g->ks, &rd), HM_OK);
	assert_true(has_keyid(rd, "d-1"));
	assert_int_equal(hm_follow_run(g->fo), HM_OK);
	{
		char why[512];

		assert_int_equal(tl_redis_restart(&g->r, why, sizeof(why)), HM_OK);
	}
	WAIT_FOR(st(g, STATE) == HM_FOLLOW_FOLLOWING, "following after Redis came back");
	assert_int_equal(st(g, CONNECTED), 1);
	assert_int_equal(hm_fleet_reconnect(&g->a), HM_OK);
	rotate(g, "acme", "web", "d-2");
	WAIT_FOR(has_keyid(rd, "d-2"), "the rotation made after Redis came back");
	assert_true(has_epoch(rd, "acme", "web", 1, HM_KEY_SUPERSEDED));
	stop(g);
	hm_ks_reader_free(rd);
	OPENSSL_cleanse(secret, sizeof(secret));
}

/* ---- following ---- */

static void test_changes_reach_the_store(void **state)
{
	struct fx *g = *state;
	struct hm_ks_reader *rd = NULL;
	uint8_t secret[HM_KEY_LEN], imp[HM_KEY_MIN];
	struct hm_key_rec rec;
	struct hm_policy p;

	need_redis();
	create(g, "other", "web", NULL, secret);
	start(g);
	assert_int_equal(hm_ks_reader_new(g->ks, &rd), HM_OK);
	assert_int_equal(hm_follow_run(g->fo), HM_OK);
	create(g, "acme", "web", "c-1", secret);
	WAIT_FOR(has_epoch(rd, "acme", "web", 1, HM_KEY_CURRENT), "create");
	assert_int_equal(lookup(rd, "acme", "web", 1, &rec), HM_OK);
	assert_memory_equal(rec.secret, secret, HM_KEY_LEN);
	rotate(g, "acme", "web", "c-2");
	WAIT_FOR(has_epoch(rd, "acme", "web", 2, HM_KEY_CURRENT), "rotate");
	assert_true(has_epoch(rd, "acme", "web", 1, HM_KEY_SUPERSEDED));
	memset(imp, 0x61, sizeof(imp));
	assert_int_equal(hm_fleet_import(&g->a, "acme", "web", NOW, GRACE, "c-3", imp, sizeof(imp),
					 NULL),
			 HM_OK);
	WAIT_FOR(has_keyid(rd, "c-3"), "import");
	assert_int_equal(lookup(rd, "acme", "web", 3, &rec), HM_OK);
	assert_int_equal(rec.secret_len, sizeof(imp));
	assert_int_equal(hm_fleet_revoke(&g->a, "acme", "web", 2), HM_OK);
	WAIT_FOR(has_epoch(rd, "acme", "web", 2, HM_KEY_REVOKED), "revoke");
	assert_int_equal(lookup(rd, "acme", "web", 2, &rec), HM_OK);
	assert_int_equal(rec.secret_len, 0);
	hm_policy_default(&p);
	assert_int_equal(hm_policy_require(&p, "x-scope"), HM_OK);
	assert_int_equal(hm_fleet_policy_set(&g->a, "acme", "web", &p), HM_OK);
	WAIT_FOR(policy_of(rd, "acme", "web") == HM_POLICY_SCOPE, "policy set");
	assert_int_equal(hm_fleet_policy_unset(&g->a, "acme", "web"), HM_OK);
	WAIT_FOR(policy_of(rd, "acme", "web") == HM_POLICY_DEFAULT, "policy unset");
	assert_int_equal(st(g, REFUSED), 0);
	assert_int_equal(st(g, STATE), HM_FOLLOW_FOLLOWING);
	assert_int_equal(st(g, RESYNCS), 1); /* the first start's, only */
	stop(g);
	hm_ks_reader_free(rd);
	OPENSSL_cleanse(&rec, sizeof(rec));
	OPENSSL_cleanse(secret, sizeof(secret));
}

/* A blob of P r:<hex name> as Redis holds it. */
static redisReply *blob_of(struct fx *g, const char *name)
{
	redisReply *r = cmd(g, "GET hmacd:r:%s", name);

	assert_int_equal(r->type, REDIS_REPLY_STRING);
	return r;
}

static void test_refused_records(void **state)
{
	struct fx *g = *state;
	struct hm_ks_reader *rd = NULL;
	struct hm_ks_mirror_rec r1, r2;
	uint8_t secret[HM_KEY_LEN], *bad;
	char n1[HM_SEAL_NAME_HEX], n2[HM_SEAL_NAME_HEX], last[64];
	struct hm_ks_mirror held;
	redisReply *b1, *b2, *old;

	need_redis();
	create(g, "acme", "web", "x-1", secret);
	create(g, "acme", "api", "x-2", secret);
	memset(&r1, 0, sizeof(r1));
	r1.kind = HM_KS_MIRROR_EPOCH;
	snprintf(r1.tenant, sizeof(r1.tenant), "acme");
	snprintf(r1.container, sizeof(r1.container), "web");
	r1.epoch = 1;
	r2 = r1;
	snprintf(r2.container, sizeof(r2.container), "api");
	assert_int_equal(hm_frec_name(&g->seal, &r1, n1), HM_OK);
	assert_int_equal(hm_frec_name(&g->seal, &r2, n2), HM_OK);
	old = blob_of(g, n1); /* acme/web epoch 1 as created: current */
	start(g);
	assert_int_equal(hm_ks_reader_new(g->ks, &rd), HM_OK);
	assert_int_equal(hm_follow_run(g->fo), HM_OK);

	/* a flipped blob */
	b1 = blob_of(g, n1);
	bad = malloc(b1->len);
	assert_non_null(bad);
	memcpy(bad, b1->str, b1->len);
	bad[b1->len / 2] ^= 0x01;
	freeReplyObject(cmd(g, "XADD hmacd:changes * %s %b", n1, bad, b1->len));
	WAIT_FOR(st(g, REFUSED) == 1, "the flipped blob refused");
	/* a blob swapped to another scope's name */
	b2 = blob_of(g, n2);
	freeReplyObject(cmd(g, "XADD hmacd:changes * %s %b", n1, b2->str, b2->len));
	WAIT_FOR(st(g, REFUSED) == 2, "the swapped blob refused");
	/* an older version of a record the store holds a newer one of */
	rotate(g, "acme", "web", "x-3"); /* acme/web epoch 1 superseded, at a new version */
	WAIT_FOR(has_epoch(rd, "acme", "web", 1, HM_KEY_SUPERSEDED), "the rotation");
	freeReplyObject(cmd(g, "XADD hmacd:changes * %s %b", n1, old->str, old->len));
	WAIT_FOR(st(g, REFUSED) == 3, "the older blob refused");
	assert_true(has_epoch(rd, "acme", "web", 1, HM_KEY_SUPERSEDED)); /* not rolled back */
	/* and what comes after still applies */
	rotate(g, "acme", "api", "x-4");
	WAIT_FOR(has_keyid(rd, "x-4"), "a change after the refused ones");
	assert_true(logged(g, "refused") >= 3);
	stop(g);
	assert_int_equal(hm_ks_mirror_get(g->ks, &held), HM_OK);
	stream_last(g, last, sizeof(last));
	assert_string_equal(held.pos, last);
	hm_ks_reader_free(rd);
	free(bad);
	freeReplyObject(b1);
	freeReplyObject(b2);
	freeReplyObject(old);
	OPENSSL_cleanse(secret, sizeof(secret));
}

static long long stat_calls(struct fx *g, const char *name)
{
	redisReply *r = cmd(g, "INFO commandstats");
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

static void test_lost_and_reseeded(void **state)
{
	struct fx *g = *state;
	struct hm_follower *fo2 = NULL;
	struct hm_keystore *ks2 = NULL;
	struct hm_ks_reader *rd = NULL;
	struct hm_fleet_imported res;
	uint8_t secret[HM_KEY_LEN];
	long long xreads, checks;
	uint64_t resyncs;
	char err[512];

	need_redis();
	create(g, "acme", "web", "l-1", secret);
	/* a second host's mirror, to re-seed from */
	ks2 = open_mirror(g->store2);
	assert_int_equal(start_with(g, &g->seal, ks2, &fo2, err, sizeof(err)), HM_OK);
	hm_follow_stop(fo2);
	start(g);
	assert_int_equal(hm_ks_reader_new(g->ks, &rd), HM_OK);
	assert_int_equal(hm_follow_run(g->fo), HM_OK);
	rotate(g, "acme", "web", "l-2");
	WAIT_FOR(has_keyid(rd, "l-2"), "a change: the thread follows the stream");

	/* Redis loses the fleet: lost, the store kept */
	cmd_ok(g, "DEL hmacd:meta");
	WAIT_FOR(st(g, STATE) == HM_FOLLOW_LOST, "the state lost");
	assert_true(has_keyid(rd, "l-1"));
	/*
	 * while lost, the follower checks the meta and reads nothing of the stream (it used to go
	 * back to XREAD between two checks: the next check is after those reads)
	 */
	xreads = stat_calls(g, "xread");
	checks = stat_calls(g, "hgetall");
	WAIT_FOR(stat_calls(g, "hgetall") > checks, "one more check of the fleet");
	assert_int_equal(stat_calls(g, "xread"), xreads);
	assert_int_equal(st(g, STATE), HM_FOLLOW_LOST);
	assert_int_equal(logged(g, "fleet: lost"), 1); /* each change of state logged once */

	/* re-seeded from the other host: following again, after a full read */
	resyncs = st(g, RESYNCS);
	assert_int_equal(hm_fleet_import_store(&g->a, ks2, false, &res), HM_OK);
	assert_true(res.created);
	WAIT_FOR(st(g, STATE) == HM_FOLLOW_FOLLOWING, "following after the re-seed");
	assert_true(st(g, RESYNCS) > resyncs);
	rotate(g, "acme", "web", "l-3");
	WAIT_FOR(has_keyid(rd, "l-3"), "a change after the re-seed");
	stop(g);
	hm_ks_reader_free(rd);
	hm_ks_close(ks2);
	OPENSSL_cleanse(secret, sizeof(secret));
}

static void test_stop(void **state)
{
	struct fx *g = *state;

	need_redis();
	hm_follow_stop(NULL);
	/* while following (inside a blocking XREAD) */
	start(g);
	assert_int_equal(hm_follow_run(g->fo), HM_OK);
	stop(g);
	/* while Redis is down (inside the backoff) */
	start(g);
	assert_int_equal(hm_follow_run(g->fo), HM_OK);
	tl_redis_kill(&g->r);
	WAIT_FOR(st(g, STATE) == HM_FOLLOW_DOWN, "the state down");
	assert_int_equal(st(g, CONNECTED), 0);
	assert_int_equal(logged(g, "fleet: down"), 1);
	stop(g);
	/* never run */
	{
		char why[512];

		assert_int_equal(tl_redis_restart(&g->r, why, sizeof(why)), HM_OK);
	}
	assert_int_equal(hm_fleet_reconnect(&g->a), HM_OK);
	start(g);
	stop(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_full_sync_then_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trimmed_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seal_key_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_with_own_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_fleet, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redis_down_at_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changes_reach_the_store, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_and_reseeded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	alarm(180);
	have_redis = tl_redis_available();
	if (!have_redis)
		fprintf(stderr, "test_follow: redis-server is not on PATH (Debian: apt-get install "
				"redis-server): every test is SKIPPED\n");
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
