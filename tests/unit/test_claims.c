/*
 * test_claims.c - fleet-wide nonce claims (daemon/server/claims.h) against a real redis-server
 * (tests/lib/redis.h), on a libevent base the test runs itself:
 *   - a set answered OK, then REPLAY for a nonce claimed before; the digest names the claim
 *     (tenant, container and nonce all count; none of them in Redis), with its ttl; done never
 *     called from inside hm_claims_send(); nothing opens before the connection is up
 *   - Redis stalled (SIGSTOP): the set answered UNAVAILABLE at its deadline; the claims stay
 *     out until Redis answers (a small pool runs dry), then come back: the pool is whole again,
 *     and the late SETs were made (REPLAY)
 *   - an error reply (Redis out of memory): UNAVAILABLE, and nothing claimed
 *   - pools: sets and claims run out (hm_claims_open NULL, hm_claims_add false), and come back
 *     when released, sent or not; a claimer without a pool or a deadline is refused
 *   - the connection dropped mid-set: UNAVAILABLE at once, not at the deadline; nothing opens
 *     while down; reconnection after a restart (killed, then stopped cleanly)
 *   - a set abandoned before its answer: done never called, its claims back when Redis answers
 *   - --fleet-wait 1: no replica, UNAVAILABLE (the claim made all the same); a replica, OK;
 *     no claim left in the pool for the WAIT: UNAVAILABLE at once, nothing sent
 *   - AUTH and SELECT over TCP: the claim in the right DB; a wrong password never gives OK,
 *     and is retried with the backoff (a lower bound on the time four retries take)
 *   - the claimer freed while claims are out (Redis stalled): nothing leaks (valgrind)
 * Waits are bounded (hang guards), and measure nothing. Skipped without redis-server.
 */
#include <errno.h>
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
#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "fleet/conn.h"
#include "fleet/seal.h"
#include "server/claims.h"
#include "server/log.h"
#include "tests/lib/redis.h"

#define PREFIX "hmacd-test:"
#define GUARD_MS 20000 /* a hang guard for each wait */
#define TTL_MS 600000
#define MAX_ANSWERS 16

static bool have_redis;

struct fx {
	char dir[64];
	char rdir[96], r2dir[96];
	struct tl_redis r, r2; /* the claimers' Redis; a replica or a server with a password */
	struct hm_seal seal;
	struct event_base *base;
	struct event *guard;
	bool expired;
	struct hm_claimer *cl;
	struct hm_claims_cfg cfg;
	unsigned seq;
};

/* What a set's done callback saw. */
struct answer {
	unsigned calls;
	size_t n;
	size_t at[MAX_ANSWERS];
	enum hm_verdict v[MAX_ANSWERS];
};

/* ---- fixture ---- */

static void on_guard(evutil_socket_t fd, short what, void *arg)
{
	struct fx *f = arg;

	(void)fd;
	(void)what;
	f->expired = true;
	(void)event_base_loopbreak(f->base);
}

static int setup(void **state)
{
	const struct tl_redis_opts o = {.tcp = true}; /* a replica reaches it over TCP */
	uint8_t key[HM_SEAL_KEY_LEN];
	struct fx *f;
	char err[512];

	if (!have_redis)
		skip();
	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->r.pid = f->r2.pid = -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/hmacd-test-claims-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->rdir, sizeof(f->rdir), "%s/r", f->dir);
	snprintf(f->r2dir, sizeof(f->r2dir), "%s/r2", f->dir);
	assert_int_equal(mkdir(f->rdir, 0700), 0);
	assert_int_equal(mkdir(f->r2dir, 0700), 0);
	if (tl_redis_start_opts(&f->r, f->rdir, &o, err, sizeof(err)) != HM_OK)
		fail_msg("redis-server: %s", err);
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 29 + 7);
	assert_int_equal(hm_seal_init(&f->seal, key), HM_OK);
	f->base = event_base_new();
	assert_non_null(f->base);
	f->guard = evtimer_new(f->base, on_guard, f);
	assert_non_null(f->guard);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	hm_claimer_free(f->cl);
	if (f->r.pid > 0)
		(void)kill(f->r.pid, SIGCONT); /* a test that failed with it stopped */
	tl_redis_kill(&f->r);
	tl_redis_kill(&f->r2);
	event_free(f->guard);
	event_base_free(f->base);
	hm_seal_wipe(&f->seal);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* ---- running the loop ---- */

/* Runs the loop until cond(arg), failing after ms. */
static void run_until(struct fx *f, bool (*cond)(void *), void *arg, int ms, const char *what)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	f->expired = false;
	assert_int_equal(evtimer_add(f->guard, &tv), 0);
	while (!cond(arg) && !f->expired)
		assert_true(event_base_loop(f->base, EVLOOP_ONCE) >= 0);
	assert_int_equal(evtimer_del(f->guard), 0);
	if (!cond(arg))
		fail_msg("%s: not within %d ms", what, ms);
}

/* Lets the loop run for ms (whatever happens meanwhile). */
static void run_for(struct fx *f, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	f->expired = false;
	assert_int_equal(evtimer_add(f->guard, &tv), 0);
	while (!f->expired)
		assert_true(event_base_loop(f->base, EVLOOP_ONCE) >= 0);
}

static bool answered(void *arg)
{
	return ((struct answer *)arg)->calls > 0;
}

static const struct hm_claims_stats *st(struct fx *f)
{
	return hm_claimer_stats(f->cl);
}

static bool connected(void *arg)
{
	struct fx *f = arg;

	return hm_counter_get(&st(f)->connected) == 1;
}

static bool disconnected(void *arg)
{
	return !connected(arg);
}

/* A claimer on url: deadline timeout_ms, WAIT wait, pools of the sizes. */
static struct hm_claimer *claimer_on(struct fx *f, const struct hm_fleet_url *url,
				     const char *password, unsigned timeout_ms, unsigned wait,
				     size_t claims, size_t sets)
{
	struct hm_claimer *cl = NULL;

	f->cfg = (struct hm_claims_cfg){
		.url = url,
		.password = password,
		.prefix = PREFIX,
		.seal = &f->seal,
		.timeout_ms = timeout_ms,
		.wait = wait,
		.max_claims = claims,
		.max_sets = sets,
	};
	assert_int_equal(hm_claimer_new(f->base, &f->cfg, &cl), HM_OK);
	assert_non_null(cl);
	return cl;
}

/* f's claimer on f's Redis (Unix socket), connected. */
static void claimer(struct fx *f, unsigned timeout_ms, unsigned wait, size_t claims, size_t sets)
{
	f->cl = claimer_on(f, &f->r.unix_url, NULL, timeout_ms, wait, claims, sets);
	/* asynchronous: nothing opens before the connection is up */
	assert_null(hm_claims_open(f->cl));
	run_until(f, connected, f, GUARD_MS, "connected");
}

/* ---- claims ---- */

static struct hm_nonce_claim claim_of(const char *tenant, const char *container,
				      const char *nonce)
{
	return (struct hm_nonce_claim){
		.tenant = {(const uint8_t *)tenant, strlen(tenant)},
		.container = {(const uint8_t *)container, strlen(container)},
		.nonce = {(const uint8_t *)nonce, strlen(nonce)},
		.ttl_ms = TTL_MS,
	};
}

static void fresh(struct fx *f, char nonce[32])
{
	snprintf(nonce, 32, "nonce-%u", ++f->seq);
}

static void collect(void *arg, size_t at, enum hm_verdict v)
{
	struct answer *a = arg;

	assert_true(a->n < MAX_ANSWERS);
	a->at[a->n] = at;
	a->v[a->n] = v;
	a->n++;
}

static void on_done(void *arg, struct hm_claim_set *set)
{
	struct answer *a = arg;

	a->calls++;
	hm_claims_each(set, collect, a);
	hm_claims_release(set);
}

/*
 * Sends a set of n claims (tenant t, container c, nonces[i], verdict byte at 100 + i) and
 * returns it sent (done not called yet).
 */
static struct hm_claim_set *send_set(struct hm_claimer *cl, const char *t, const char *c,
				     char (*nonces)[32], size_t n, struct answer *a)
{
	struct hm_claim_set *set = hm_claims_open(cl);

	assert_non_null(set);
	for (size_t i = 0; i < n; i++) {
		struct hm_nonce_claim k = claim_of(t, c, nonces[i]);

		assert_true(hm_claims_add(set, &k, 100 + i));
	}
	assert_int_equal(hm_claims_size(set), n);
	memset(a, 0, sizeof(*a));
	hm_claims_send(set, on_done, a);
	assert_int_equal(a->calls, 0); /* from the loop, never from hm_claims_send */
	return set;
}

/* Sends nonces[0..n) for T1/C1 on f's claimer and waits for the answer. */
static void claim_now(struct fx *f, char (*nonces)[32], size_t n, struct answer *a)
{
	(void)send_set(f->cl, "T1", "C1", nonces, n, a);
	run_until(f, answered, a, GUARD_MS, "the set's answer");
	assert_int_equal(a->calls, 1);
	assert_int_equal(a->n, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(a->at[i], 100 + i); /* in the order added */
}

static void expect_all(const struct answer *a, enum hm_verdict v)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i] != v)
			fail_msg("claim %zu: %s, want %s", i, hm_verdict_name(a->v[i]),
				 hm_verdict_name(v));
}

/* ---- Redis, directly ---- */

static redisContext *redis_connect(const struct tl_redis *r, const struct hm_fleet_url *url)
{
	redisContext *c = NULL;
	char err[256];

	if (hm_fleet_connect(url != NULL ? url : &r->unix_url,
			     r->password[0] != '\0' ? r->password : NULL, 5000, &c, err,
			     sizeof(err)) != HM_OK)
		fail_msg("connecting to the test's redis: %s", err);
	return c;
}

static redisReply *redis_cmd(redisContext *c, const char *fmt, ...)
{
	redisReply *r;
	va_list ap;

	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	if (r == NULL)
		fail_msg("redis: %s", c->errstr);
	if (r->type == REDIS_REPLY_ERROR)
		fail_msg("redis: %s", r->str);
	return r;
}

/* The key a claim of (t, c, nonce) is made under: PREFIX "n:" and the digest in hex. */
static void claim_key(struct fx *f, const char *t, const char *c, const char *nonce,
		      char key[sizeof(PREFIX) + 2 + 64])
{
	uint8_t d[32];
	size_t n = strlen(PREFIX);

	assert_int_equal(hm_seal_nonce_digest(&f->seal, (const uint8_t *)t, strlen(t),
					      (const uint8_t *)c, strlen(c),
					      (const uint8_t *)nonce, strlen(nonce), d),
			 HM_OK);
	memcpy(key, PREFIX "n:", n + 2);
	for (size_t i = 0; i < 32; i++)
		snprintf(key + n + 2 + 2 * i, 3, "%02x", d[i]);
}

static void redis_signal(struct fx *f, int sig)
{
	assert_true(f->r.pid > 0);
	assert_int_equal(kill(f->r.pid, sig), 0);
}

/* ---- 1. OK, then REPLAY ---- */

static void test_ok_replay(void **state)
{
	struct fx *f = *state;
	char n[3][32] = {"nonce-a", "nonce-b", "nonce-c"};
	char again[2][32] = {"nonce-a", "nonce-c"};
	char key[sizeof(PREFIX) + 2 + 64];
	struct answer a;
	redisContext *c;
	redisReply *r;

	claimer(f, 10000, 0, 16, 4);
	claim_now(f, n, 2, &a);
	expect_all(&a, HM_V_OK);
	/* a claimed again, c new */
	claim_now(f, again, 2, &a);
	assert_int_equal(a.v[0], HM_V_REPLAY);
	assert_int_equal(a.v[1], HM_V_OK);
	/* the same nonce in another container or tenant is another claim */
	(void)send_set(f->cl, "T1", "C2", n, 1, &a);
	run_until(f, answered, &a, GUARD_MS, "another container");
	expect_all(&a, HM_V_OK);
	(void)send_set(f->cl, "T2", "C1", n, 1, &a);
	run_until(f, answered, &a, GUARD_MS, "another tenant");
	expect_all(&a, HM_V_OK);
	assert_int_equal(hm_counter_get(&st(f)->sent), 6);
	assert_int_equal(hm_counter_get(&st(f)->ok), 5);
	assert_int_equal(hm_counter_get(&st(f)->taken), 1);
	assert_int_equal(hm_counter_get(&st(f)->unavailable), 0);
	assert_int_equal(hm_counter_get(&st(f)->timeouts), 0);

	/* in Redis: PREFIX n:<digest>, with the claim's ttl; no tenant, container or nonce */
	c = redis_connect(&f->r, NULL);
	claim_key(f, "T1", "C1", "nonce-a", key);
	r = redis_cmd(c, "GET %s", key);
	assert_int_equal(r->type, REDIS_REPLY_STRING);
	assert_string_equal(r->str, "1");
	freeReplyObject(r);
	r = redis_cmd(c, "PTTL %s", key);
	assert_int_equal(r->type, REDIS_REPLY_INTEGER);
	assert_true(r->integer > 0 && r->integer <= TTL_MS);
	freeReplyObject(r);
	r = redis_cmd(c, "KEYS *");
	assert_int_equal(r->type, REDIS_REPLY_ARRAY);
	assert_int_equal(r->elements, 5);
	for (size_t i = 0; i < r->elements; i++) {
		assert_int_equal(strncmp(r->element[i]->str, PREFIX "n:", strlen(PREFIX) + 2), 0);
		assert_int_equal(r->element[i]->len, strlen(PREFIX) + 2 + 64);
		assert_null(strstr(r->element[i]->str, "nonce"));
	}
	freeReplyObject(r);
	redisFree(c);
}

/* ---- 2. the deadline, and claims out until Redis answers ---- */

static void test_deadline_pool(void **state)
{
	struct fx *f = *state;
	char n[6][32], m[6][32];
	struct hm_claim_set *set;
	struct hm_nonce_claim k;
	struct answer a;
	int64_t polls = 0;
	size_t added;

	claimer(f, 100, 0, 6, 4);
	for (int i = 0; i < 6; i++)
		fresh(f, n[i]);
	redis_signal(f, SIGSTOP);
	for (int round = 0; round < 3; round++) {
		claim_now(f, &n[2 * round], 2, &a);
		expect_all(&a, HM_V_UNAVAILABLE);
		assert_int_equal(hm_counter_get(&st(f)->timeouts), (uint64_t)round + 1);
	}
	assert_int_equal(hm_counter_get(&st(f)->sent), 6);
	assert_int_equal(hm_counter_get(&st(f)->unavailable), 6);
	assert_int_equal(hm_counter_get(&st(f)->ok), 0);
	/* every claim is out with Redis: a set opens, no claim joins it */
	set = hm_claims_open(f->cl);
	assert_non_null(set);
	fresh(f, m[0]);
	k = claim_of("T1", "C1", m[0]);
	assert_false(hm_claims_add(set, &k, 0));
	hm_claims_release(set);

	/* Redis answers the late claims: the pool is whole again (polled: no signal for it) */
	redis_signal(f, SIGCONT);
	for (;;) {
		set = hm_claims_open(f->cl);
		assert_non_null(set);
		for (added = 0; added < 6; added++) {
			fresh(f, m[added]);
			k = claim_of("T1", "C1", m[added]);
			if (!hm_claims_add(set, &k, 100 + added))
				break;
		}
		if (added == 6)
			break;
		hm_claims_release(set);
		assert_true(++polls < GUARD_MS / 10);
		run_for(f, 10);
	}
	memset(&a, 0, sizeof(a));
	hm_claims_send(set, on_done, &a);
	run_until(f, answered, &a, GUARD_MS, "after SIGCONT");
	assert_int_equal(a.n, 6);
	expect_all(&a, HM_V_OK);
	/* the late SETs were made: the nonces of the 9s are taken */
	claim_now(f, n, 2, &a);
	expect_all(&a, HM_V_REPLAY);
	assert_int_equal(hm_counter_get(&st(f)->timeouts), 3);
}

/*
 * An error reply is neither "OK" nor nil: UNAVAILABLE. Redis out of memory refuses every SET
 * (maxmemory 1 byte, noeviction); then it takes them again.
 */
static void test_error_reply(void **state)
{
	struct fx *f = *state;
	char n[2][32];
	struct answer a;
	redisContext *c;
	redisReply *r;

	claimer(f, 10000, 0, 8, 4);
	fresh(f, n[0]);
	fresh(f, n[1]);
	c = redis_connect(&f->r, NULL);
	r = redis_cmd(c, "CONFIG SET maxmemory-policy noeviction");
	freeReplyObject(r);
	r = redis_cmd(c, "CONFIG SET maxmemory 1");
	freeReplyObject(r);
	claim_now(f, n, 2, &a);
	expect_all(&a, HM_V_UNAVAILABLE);
	assert_int_equal(hm_counter_get(&st(f)->unavailable), 2);
	assert_int_equal(hm_counter_get(&st(f)->timeouts), 0);
	r = redis_cmd(c, "CONFIG SET maxmemory 0");
	freeReplyObject(r);
	redisFree(c);
	claim_now(f, n, 2, &a);
	expect_all(&a, HM_V_OK); /* nothing was claimed */
}

/* ---- 3. pools run out, and come back ---- */

static void test_pools(void **state)
{
	struct fx *f = *state;
	struct hm_claim_set *s1, *s2;
	char n[4][32];
	struct hm_nonce_claim k;
	struct answer a;

	/* no pool, or no deadline: refused */
	{
		struct hm_claims_cfg bad = {.url = &f->r.unix_url, .prefix = PREFIX,
					    .seal = &f->seal, .timeout_ms = 100, .max_claims = 1,
					    .max_sets = 1};
		struct hm_claimer *cl = (struct hm_claimer *)&bad; /* not NULL: *out is cleared */

		bad.max_claims = 0;
		assert_int_equal(hm_claimer_new(f->base, &bad, &cl), HM_EINVAL);
		assert_null(cl);
		bad.max_claims = 1;
		bad.max_sets = 0;
		assert_int_equal(hm_claimer_new(f->base, &bad, &cl), HM_EINVAL);
		bad.max_sets = 1;
		bad.timeout_ms = 0;
		assert_int_equal(hm_claimer_new(f->base, &bad, &cl), HM_EINVAL);
		assert_null(cl);
	}
	claimer(f, 10000, 0, 3, 2);
	for (int i = 0; i < 4; i++)
		fresh(f, n[i]);
	s1 = hm_claims_open(f->cl);
	s2 = hm_claims_open(f->cl);
	assert_non_null(s1);
	assert_non_null(s2);
	assert_null(hm_claims_open(f->cl)); /* two sets at most */
	for (int i = 0; i < 3; i++) {
		k = claim_of("T1", "C1", n[i]);
		assert_true(hm_claims_add(s1, &k, (size_t)i));
	}
	k = claim_of("T1", "C1", n[3]);
	assert_false(hm_claims_add(s2, &k, 0)); /* three claims at most */
	assert_int_equal(hm_claims_size(s1), 3);
	assert_int_equal(hm_claims_size(s2), 0);
	/* released unsent: its claims and itself back */
	hm_claims_release(s1);
	hm_claims_release(s2);
	claim_now(f, n, 3, &a);
	expect_all(&a, HM_V_OK);
	claim_now(f, &n[1], 3, &a); /* n[1], n[2] taken; n[3] new */
	assert_int_equal(a.v[0], HM_V_REPLAY);
	assert_int_equal(a.v[1], HM_V_REPLAY);
	assert_int_equal(a.v[2], HM_V_OK);
	/* items answered UNAVAILABLE without a claim are counted */
	hm_claims_count_unavailable(f->cl, 2);
	assert_int_equal(hm_counter_get(&st(f)->unavailable), 2);
}

/* ---- 4. the connection dropped mid-set, and reconnection ---- */

static void test_disconnect(void **state)
{
	struct fx *f = *state;
	char n[3][32];
	struct answer a;
	uint64_t reconnects;
	char err[512];

	/* a deadline far away: an answer before it comes from the dropped connection */
	claimer(f, 600000, 0, 8, 4);
	for (int i = 0; i < 3; i++)
		fresh(f, n[i]);
	redis_signal(f, SIGSTOP);
	(void)send_set(f->cl, "T1", "C1", n, 2, &a);
	run_for(f, 20); /* sent */
	tl_redis_kill(&f->r); /* SIGKILL ends a stopped process too */
	run_until(f, answered, &a, GUARD_MS, "the answer of a dropped connection");
	assert_int_equal(a.n, 2);
	expect_all(&a, HM_V_UNAVAILABLE);
	assert_int_equal(hm_counter_get(&st(f)->timeouts), 0);
	assert_int_equal(hm_counter_get(&st(f)->unavailable), 2);
	run_until(f, disconnected, f, GUARD_MS, "disconnected");
	assert_null(hm_claims_open(f->cl)); /* down: nothing opens */

	/* back (empty: not persistent): reconnected by itself */
	if (tl_redis_restart(&f->r, err, sizeof(err)) != HM_OK)
		fail_msg("redis restart: %s", err);
	run_until(f, connected, f, GUARD_MS, "reconnected");
	assert_true(hm_counter_get(&st(f)->reconnects) >= 1);
	claim_now(f, &n[2], 1, &a);
	expect_all(&a, HM_V_OK);

	/* stopped cleanly and started again: the same */
	reconnects = hm_counter_get(&st(f)->reconnects);
	if (tl_redis_restart(&f->r, err, sizeof(err)) != HM_OK)
		fail_msg("redis restart: %s", err);
	while (hm_counter_get(&st(f)->reconnects) == reconnects)
		run_for(f, 10); /* the alarm is the guard */
	run_until(f, connected, f, GUARD_MS, "reconnected after a clean restart");
	/* a Redis back empty forgot the claim (why the docs ask for its append-only file) */
	claim_now(f, &n[2], 1, &a);
	expect_all(&a, HM_V_OK);
}

/* ---- 5. abandoned before the answer ---- */

static void test_abandon(void **state)
{
	struct fx *f = *state;
	struct hm_claim_set *set;
	struct hm_nonce_claim k;
	char n[2][32], m[2][32];
	struct answer a;
	int polls = 0;

	claimer(f, 100, 0, 2, 2);
	fresh(f, n[0]);
	fresh(f, n[1]);
	redis_signal(f, SIGSTOP);
	set = send_set(f->cl, "T1", "C1", n, 2, &a);
	hm_claims_abandon(set);
	run_for(f, 300); /* past the deadline: done is never called */
	assert_int_equal(a.calls, 0);
	assert_int_equal(hm_counter_get(&st(f)->timeouts), 0);
	/* its claims are out with Redis */
	set = hm_claims_open(f->cl);
	assert_non_null(set);
	fresh(f, m[0]);
	k = claim_of("T1", "C1", m[0]);
	assert_false(hm_claims_add(set, &k, 0));
	hm_claims_release(set);
	redis_signal(f, SIGCONT);
	for (;;) {
		size_t added = 0;

		set = hm_claims_open(f->cl);
		assert_non_null(set);
		for (; added < 2; added++) {
			fresh(f, m[added]);
			k = claim_of("T1", "C1", m[added]);
			if (!hm_claims_add(set, &k, added))
				break;
		}
		hm_claims_release(set); /* sent or not, a set can be given back */
		if (added == 2)
			break;
		assert_true(++polls < GUARD_MS / 10);
		run_for(f, 10);
	}
	assert_int_equal(a.calls, 0);
	/* the abandoned claims were made all the same */
	claim_now(f, n, 2, &a);
	expect_all(&a, HM_V_REPLAY);
}

/* ---- 6. --fleet-wait ---- */

static void test_wait_no_replica(void **state)
{
	struct fx *f = *state;
	struct hm_claimer *plain;
	char n[1][32];
	struct answer a;

	claimer(f, 200, 1, 8, 4);
	fresh(f, n[0]);
	claim_now(f, n, 1, &a); /* WAIT 1 200 answers 0: no replica holds it */
	expect_all(&a, HM_V_UNAVAILABLE);
	assert_int_equal(hm_counter_get(&st(f)->unavailable), 1);
	assert_int_equal(hm_counter_get(&st(f)->ok), 0);
	/* the claim was made: a claimer without WAIT finds it taken */
	plain = claimer_on(f, &f->r.unix_url, NULL, 10000, 0, 8, 4);
	while (hm_counter_get(&hm_claimer_stats(plain)->connected) == 0)
		run_for(f, 10); /* the alarm is the guard */
	(void)send_set(plain, "T1", "C1", n, 1, &a);
	run_until(f, answered, &a, GUARD_MS, "a claimer without WAIT");
	expect_all(&a, HM_V_REPLAY);
	/* the WAIT's late reply comes back to the pool (valgrind: nothing leaks) */
	hm_claimer_free(plain);
}

/*
 * --fleet-wait with every claim of the pool in the set: no claim left for the WAIT. The
 * pools are empty, so (claims.h) the items are UNAVAILABLE at once: nothing claimed in Redis
 * (a retry of the same request could pass later), and no deadline passed (no timeout counted:
 * an operator reading fleet_nonce_timeouts must not tune --fleet-timeout for it).
 */
static void test_wait_pool_empty(void **state)
{
	struct fx *f = *state;
	char n[2][32], key[sizeof(PREFIX) + 2 + 64];
	struct answer a;
	redisContext *c;
	redisReply *r;

	claimer(f, 1000, 1, 2, 4);
	fresh(f, n[0]);
	fresh(f, n[1]);
	claim_now(f, n, 2, &a);
	expect_all(&a, HM_V_UNAVAILABLE);
	assert_int_equal(hm_counter_get(&st(f)->unavailable), 2);
	assert_int_equal(hm_counter_get(&st(f)->timeouts), 0);
	c = redis_connect(&f->r, NULL);
	for (int i = 0; i < 2; i++) {
		claim_key(f, "T1", "C1", n[i], key);
		r = redis_cmd(c, "EXISTS %s", key);
		assert_int_equal(r->integer, 0);
		freeReplyObject(r);
	}
	redisFree(c);
	/* the pool is whole: one claim and its WAIT fit (no replica: WAIT answers 0) */
	claim_now(f, n, 1, &a);
	assert_int_equal(a.v[0], HM_V_UNAVAILABLE);
	assert_int_equal(hm_counter_get(&st(f)->sent), 1);
}

/* A replica of f->r started in r2dir, caught up. */
static void start_replica(struct fx *f)
{
	redisContext *c;
	redisReply *r;
	char err[512];
	int tries = 0;

	if (tl_redis_start(&f->r2, f->r2dir, false, err, sizeof(err)) != HM_OK)
		fail_msg("replica: %s", err);
	c = redis_connect(&f->r2, NULL);
	r = redis_cmd(c, "REPLICAOF 127.0.0.1 %u", (unsigned)f->r.port);
	freeReplyObject(r);
	redisFree(c);
	c = redis_connect(&f->r, NULL);
	for (;;) {
		bool online;

		r = redis_cmd(c, "INFO replication");
		online = strstr(r->str, "connected_slaves:1") != NULL &&
			 strstr(r->str, "state=online") != NULL;
		freeReplyObject(r);
		if (online)
			break;
		assert_true(++tries < GUARD_MS / 20);
		usleep(20000);
	}
	redisFree(c);
}

static void test_wait_replica(void **state)
{
	struct fx *f = *state;
	char n[2][32], key[sizeof(PREFIX) + 2 + 64];
	struct answer a;
	redisContext *c;
	redisReply *r;

	start_replica(f);
	claimer(f, 10000, 1, 8, 4);
	fresh(f, n[0]);
	fresh(f, n[1]);
	claim_now(f, n, 2, &a);
	expect_all(&a, HM_V_OK);
	assert_int_equal(hm_counter_get(&st(f)->ok), 2);
	/* acknowledged by the replica: there */
	c = redis_connect(&f->r2, NULL);
	claim_key(f, "T1", "C1", n[1], key);
	r = redis_cmd(c, "EXISTS %s", key);
	assert_int_equal(r->integer, 1);
	freeReplyObject(r);
	redisFree(c);
	claim_now(f, n, 2, &a);
	expect_all(&a, HM_V_REPLAY);
}

/* ---- 7. AUTH and SELECT, over TCP ---- */

static void test_auth_select(void **state)
{
	struct fx *f = *state;
	const struct tl_redis_opts o = {.tcp = true, .password = "claims pass#1"};
	struct hm_fleet_url url;
	char u[128], err[512], n[1][32], key[sizeof(PREFIX) + 2 + 64];
	struct hm_claimer *bad;
	struct answer a;
	redisContext *c;
	redisReply *r;
	int tries = 0;

	if (tl_redis_start_opts(&f->r2, f->r2dir, &o, err, sizeof(err)) != HM_OK)
		fail_msg("redis-server with a password: %s", err);
	snprintf(u, sizeof(u), "redis://127.0.0.1:%u/3", (unsigned)f->r2.port);
	assert_int_equal(hm_fleet_url_parse(u, &url, err, sizeof(err)), HM_OK);
	f->cl = claimer_on(f, &url, "claims pass#1", 10000, 0, 8, 4);
	run_until(f, connected, f, GUARD_MS, "connected over TCP");
	fresh(f, n[0]);
	claim_now(f, n, 1, &a);
	expect_all(&a, HM_V_OK);
	c = redis_connect(&f->r2, &url);
	claim_key(f, "T1", "C1", n[0], key);
	r = redis_cmd(c, "EXISTS %s", key); /* in DB 3 */
	assert_int_equal(r->integer, 1);
	freeReplyObject(r);
	r = redis_cmd(c, "SELECT 0");
	freeReplyObject(r);
	r = redis_cmd(c, "EXISTS %s", key);
	assert_int_equal(r->integer, 0);
	freeReplyObject(r);
	redisFree(c);

	/* a wrong password: refused at every (re)connection, and never an OK */
	bad = claimer_on(f, &url, "claims pass#2", 10000, 0, 8, 4);
	while (hm_counter_get(&hm_claimer_stats(bad)->reconnects) < 2) {
		struct hm_claim_set *set = hm_claims_open(bad);

		if (set != NULL) {
			struct hm_nonce_claim k;

			fresh(f, n[0]);
			k = claim_of("T1", "C1", n[0]);
			assert_true(hm_claims_add(set, &k, 0));
			memset(&a, 0, sizeof(a));
			hm_claims_send(set, on_done, &a);
			run_until(f, answered, &a, GUARD_MS, "a claim with a wrong password");
			expect_all(&a, HM_V_UNAVAILABLE);
		}
		assert_true(++tries < GUARD_MS / 10);
		run_for(f, 10);
	}
	assert_int_equal(hm_counter_get(&hm_claimer_stats(bad)->ok), 0);
	hm_claimer_free(bad);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * A Redis that takes the connection and refuses it at once (a wrong password) is retried with
 * the backoff (100 ms, doubling, up to 5 s), like one that refuses the connection itself: the
 * 5th retry comes 100 + 200 + 400 + 800 ms after the first failure at the soonest. A lower
 * bound only: a slow machine can make it later, never sooner.
 */
static void test_backoff_refused_setup(void **state)
{
	struct fx *f = *state;
	const struct tl_redis_opts o = {.password = "claims pass#3"};
	char err[512];
	int64_t t0;

	if (tl_redis_start_opts(&f->r2, f->r2dir, &o, err, sizeof(err)) != HM_OK)
		fail_msg("redis-server with a password: %s", err);
	f->cl = claimer_on(f, &f->r2.unix_url, "claims pass#4", 1000, 0, 8, 4);
	while (hm_counter_get(&st(f)->reconnects) == 0)
		run_for(f, 5); /* the alarm is the guard */
	t0 = mono_ms();
	while (hm_counter_get(&st(f)->reconnects) < 5)
		run_for(f, 5);
	if (mono_ms() - t0 < 1200)
		fail_msg("4 retries within %lld ms of the first: no backoff",
			 (long long)(mono_ms() - t0));
}

/* ---- 8. freed with claims out ---- */

static void test_free_with_claims_out(void **state)
{
	struct fx *f = *state;
	struct hm_claim_set *set;
	struct hm_nonce_claim k;
	char n[4][32];
	struct answer a, b;

	claimer(f, 100, 1, 8, 4);
	for (int i = 0; i < 4; i++)
		fresh(f, n[i]);
	redis_signal(f, SIGSTOP);
	/* one answered at its deadline (its claims and WAIT out), one abandoned, one unsent */
	claim_now(f, n, 2, &a);
	expect_all(&a, HM_V_UNAVAILABLE);
	set = send_set(f->cl, "T1", "C1", &n[2], 1, &b);
	hm_claims_abandon(set);
	set = hm_claims_open(f->cl);
	assert_non_null(set);
	k = claim_of("T1", "C1", n[3]);
	assert_true(hm_claims_add(set, &k, 0));
	hm_claims_release(set);
	hm_claimer_free(f->cl);
	f->cl = NULL;
	assert_int_equal(b.calls, 0);
	redis_signal(f, SIGCONT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ok_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deadline_pool, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pools, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disconnect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abandon, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_no_replica, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_pool_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_replica, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth_select, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backoff_refused_setup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_with_claims_out, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	alarm(300);
	hm_log_init(HM_LOG_WARN);
	have_redis = tl_redis_available();
	if (!have_redis)
		fprintf(stderr, "test_claims: redis-server is not on PATH (Debian: apt-get install "
				"redis-server): SKIPPED\n");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
