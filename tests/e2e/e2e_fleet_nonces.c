/*
 * e2e_fleet_nonces.c - fleet-wide nonce claims (issue 13, fleet mode part 2) end to end: one
 * real redis-server, three real hmacd following it with --fleet (Redis nonces, the default),
 * two worker threads each, so two claimers per host. What an attacker who captured a signed
 * request can do with it, and what a Redis that dies or stalls does to the answers:
 *   across hosts    a nonce item (hmacd-v1 with a nonce, rfc9421 with a nonce parameter) OK on
 *                   one host is REPLAY on the other two, whichever host was first; items
 *                   without a nonce verify everywhere, every time, and claim nothing
 *   race            the same nonce item sent to the three hosts at the same instant (three
 *                   threads released by a barrier), 200 rounds with fresh nonces, both schemes:
 *                   exactly one OK each round, the other two REPLAY
 *   batches         one frame mixing new nonces, duplicates inside the frame, nonces claimed
 *                   elsewhere, items without a nonce and failing items: every verdict right and
 *                   in its place; a failing item never consumes its nonce, here or fleet-wide;
 *                   40 pipelined frames on one connection (more than a connection may hold while
 *                   their claims are out): answers in order, each with its verdicts; ping,
 *                   stats and an error answer keep their place behind a held answer
 *   redis down      killed: nonce items 9 UNAVAILABLE, items without a nonce OK, failing items
 *                   their own verdict (9 is decided last), a nonce seen here before REPLAY; the
 *                   nonce of a 9 is spent on that host (a retry needs a new nonce); a host
 *                   restarted meanwhile starts, and answers the same; Redis back from its
 *                   append-only file: nonce items OK again without restarting hmacd, and a
 *                   claim made before the kill still holds
 *   redis slow      SIGSTOP: nonce items answer, and answer 9, pipelined frames in order, also
 *                   a backlog of large frames (more held than a connection may hold, the rest
 *                   waiting in the socket); SIGCONT: OK again; the claim of a 9 reached Redis
 *                   all the same; frames held longer than --read-timeout, with complete frames
 *                   waiting behind them, are answered (not closed as a stalled client)
 *   fleet wait      --fleet-wait 1 with no replica: nonce items 9, the claim made all the same
 *   local nonces    --fleet-nonces local: a replay on another host is accepted (the documented
 *                   risk), never 9 even with Redis stopped, no fleet_nonce_* rows
 *   client gone     a client that closes (or resets) its connection while its frames' claims
 *                   are pending, and a daemon stopped while claims are pending: no crash, no
 *                   leak (the valgrind run: HMACD_TEST_VALGRIND=1)
 * and in each case the stats rows fleet_nonce_* and verdict_* move as they should.
 *
 * --fleet-timeout is 1 s here (5 s under valgrind), not the default 100 ms, so that a loaded
 * test machine (a make -j check beside other jobs) never turns an OK into a 9; no case measures
 * time. Deadlines are hang guards.
 * Skipped (77) without redis-server, or against a daemon of HMACD_TEST_SOCKET.
 */
#include <errno.h>
#include <poll.h>
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/crypto.h>

#include "fleetfx.h"
#include "proto/buf.h"
#include "proto/frame.h"
#include "proto/msg.h"

#define NHOSTS 3
#define THREADS 2                /* per host: one claimer each */
#define FLEET_TIMEOUT_MS 1000    /* 5000 under valgrind; see above */
#define WAIT_MS 15000            /* a reconnection: the claimers back off up to 5 s */
#define ROUNDS 200               /* of the race */
#define PIPELINED 40             /* frames in flight on one connection: over HM_CONN_MAX_HELD */
#define BACKLOG 24               /* frames of BIG_BODY bytes: more than the daemon reads at once */
#define BIG_BODY 8192
#define LOCAL0 3                 /* hosts 3 and 4: --fleet-nonces local */
#define SPARE 5                  /* host 5: started and stopped by one case */

#define T "tenant-nonce-5b1e"
#define C "container-nonce-c07a"
#define KID "kid-nonce-rfc-81f3"

/* ---- the stats rows of this feature ---- */

enum {
	S_CLAIMS,
	S_CLAIMED,
	S_TAKEN,
	S_UNAVAIL,
	S_TIMEOUTS,
	S_CONNS,
	S_RECONNECTS,
	S_V_OK,
	S_V_REPLAY,
	S_V_UNAVAIL,
	S_V_BAD_SIG,
	S__N
};

static const char *const STAT_NAMES[S__N] = {
	[S_CLAIMS] = "fleet_nonce_claims",
	[S_CLAIMED] = "fleet_nonce_claimed",
	[S_TAKEN] = "fleet_nonce_taken",
	[S_UNAVAIL] = "fleet_nonce_unavailable",
	[S_TIMEOUTS] = "fleet_nonce_timeouts",
	[S_CONNS] = "fleet_nonce_connections",
	[S_RECONNECTS] = "fleet_nonce_reconnects",
	[S_V_OK] = "verdict_ok",
	[S_V_REPLAY] = "verdict_replay",
	[S_V_UNAVAIL] = "verdict_unavailable",
	[S_V_BAD_SIG] = "verdict_bad_signature",
};

struct nst {
	uint64_t v[S__N];
};

/* ---- requests ---- */

/* An rfc9421 request: GET https://api.example.com/containers/<c>/logs, host signed. */
struct rq {
	char path[128];
	struct hmacd_header headers[1];
	char input[HMACD_RFC9421_FIELD_MAX + 1];
	char sig[HMACD_RFC9421_SIGNATURE_CAP];
	struct hmacd_rfc9421_item it;
};

/* One item of either scheme, owning its strings. */
struct item {
	bool rfc;
	struct hd_req v1;
	struct rq r;
};

struct fx {
	struct ff f;
	uint8_t secret[32]; /* T/C epoch 1, key id KID: both schemes */
	unsigned seq;       /* nonces: "nc-<pid>-<seq>" */
	char host_args[256];
};

static void next_nonce(struct fx *fx, char out[32])
{
	snprintf(out, 32, "nc-%u-%u", (unsigned)getpid(), ++fx->seq);
}

static void rq_point(struct rq *r)
{
	struct hmacd_rfc9421_item *it = &r->it;

	memset(it, 0, sizeof(*it));
	it->tenant = T;
	it->tenant_len = strlen(T);
	it->container = C;
	it->container_len = strlen(C);
	it->method = "GET";
	it->method_len = 3;
	it->authority = "api.example.com";
	it->authority_len = strlen(it->authority);
	it->path = r->path;
	it->path_len = strlen(r->path);
	it->uri_scheme = "https";
	it->uri_scheme_len = 5;
	it->headers = r->headers;
	it->nheaders = 1;
	it->signature_input = r->input;
	it->signature_input_len = strlen(r->input);
	it->signature = r->sig;
	it->signature_len = strlen(r->sig);
}

/* nonce "" : none (the hosts run with --policy-no-nonce, so such an item can pass) */
static void rq_make(struct fx *fx, struct rq *r, const char *nonce)
{
	struct hmacd_rfc9421_params p = {.keyid = KID, .nonce = nonce};
	int rc;

	memset(r, 0, sizeof(*r));
	snprintf(r->path, sizeof(r->path), "/containers/%s/logs", C);
	r->headers[0] = (struct hmacd_header){"host", 4, "api.example.com", 15};
	rq_point(r);
	rc = hmacd_rfc9421_sign(fx->secret, sizeof(fx->secret), &r->it, &p, r->input,
				sizeof(r->input), r->sig, sizeof(r->sig));
	if (rc != HMACD_OK)
		fail_msg("hmacd_rfc9421_sign: %s", hmacd_strerror(rc));
	rq_point(r);
}

/* A valid item signed now: rfc or hmacd-v1, with nonce (NULL or "": none). */
static void item_make(struct fx *fx, struct item *it, bool rfc, const char *nonce)
{
	memset(it, 0, sizeof(*it));
	it->rfc = rfc;
	if (rfc)
		rq_make(fx, &it->r, nonce != NULL ? nonce : "");
	else
		hd_req_init(&it->v1, T, C, 1, (uint64_t)time(NULL), nonce, fx->secret);
}

/* A valid item with a fresh nonce; the nonce in nonce_out when not NULL. */
static void item_fresh(struct fx *fx, struct item *it, bool rfc, char nonce_out[32])
{
	char n[32];

	next_nonce(fx, n);
	item_make(fx, it, rfc, n);
	if (nonce_out != NULL)
		memcpy(nonce_out, n, sizeof(n));
}

/* hmacd-v1 items that fail on their own, each with a fresh nonce */
static void item_bad_sig(struct fx *fx, struct item *it)
{
	item_fresh(fx, it, false, NULL);
	it->v1.item.sig[7] ^= 0x20;
}

static void item_stale(struct fx *fx, struct item *it)
{
	char n[32];

	memset(it, 0, sizeof(*it));
	next_nonce(fx, n);
	hd_req_init(&it->v1, T, C, 1, (uint64_t)time(NULL) - 3600, n, fx->secret);
}

static void item_unknown_key(struct fx *fx, struct item *it)
{
	char n[32];

	memset(it, 0, sizeof(*it));
	next_nonce(fx, n);
	hd_req_init(&it->v1, T, C, 99, (uint64_t)time(NULL), n, fx->secret);
}

static void item_malformed(struct fx *fx, struct item *it)
{
	item_fresh(fx, it, false, NULL);
	snprintf(it->v1.path, sizeof(it->v1.path), "no-slash"); /* a path starts with '/' */
	it->v1.item.path_len = strlen(it->v1.path);
}

/* The same item, its pointers into its own copy. */
static void item_copy(struct item *dst, const struct item *src)
{
	*dst = *src;
	if (dst->rfc) {
		rq_point(&dst->r);
		return;
	}
	dst->v1.item.tenant = dst->v1.tenant;
	dst->v1.item.container = dst->v1.container;
	dst->v1.item.path = dst->v1.path;
	dst->v1.item.nonce = dst->v1.nonce;
	dst->v1.item.headers = dst->v1.headers;
	dst->v1.item.body = dst->v1.body;
}

static struct hmacd_any_item any(const struct item *it)
{
	struct hmacd_any_item a;

	if (it->rfc) {
		a.scheme = HMACD_SCHEME_RFC9421;
		a.u.rfc9421 = &it->r.it;
	} else {
		a.scheme = HMACD_SCHEME_HMACD_V1;
		a.u.v1 = &it->v1.item;
	}
	return a;
}

/* Verifies items[0..n) as one frame on c; verdicts in v. */
static void verify_on(struct hmacd_client *c, const struct item *items, size_t n, uint8_t *v)
{
	struct hmacd_any_item a[32];
	int rc;

	assert_true(n <= 32);
	for (size_t i = 0; i < n; i++)
		a[i] = any(&items[i]);
	rc = hmacd_verify_any(c, a, n, v);
	if (rc != HMACD_OK)
		fail_msg("hmacd_verify_any: %s", hmacd_strerror(rc));
}

static uint8_t verdict(struct fx *fx, int host, const struct item *it)
{
	uint8_t v = 0xff;

	verify_on(fx->f.h[host].c, it, 1, &v);
	return v;
}

#define expect_verdict(fx, host, it, want)                                                  \
	do {                                                                                \
		uint8_t got_ = verdict((fx), (host), (it));                                 \
		if (got_ != (want))                                                         \
			fail_msg("%s:%d: host %d: verdict %s, want %s", __FILE__, __LINE__, \
				 (host), hmacd_verdict_name(got_), hmacd_verdict_name(want)); \
	} while (0)

/* got[0..n) must be want[0..n) */
static void expect_verdicts(const uint8_t *got, const uint8_t *want, size_t n, const char *what)
{
	for (size_t i = 0; i < n; i++)
		if (got[i] != want[i])
			fail_msg("%s: item %zu: verdict %s, want %s", what, i,
				 hmacd_verdict_name(got[i]), hmacd_verdict_name(want[i]));
}

/* ---- stats ---- */

static void nst_get(struct fx *fx, int host, struct nst *s)
{
	ff_stats(&fx->f.h[host], STAT_NAMES, s->v, S__N);
}

static void nst_all(struct fx *fx, struct nst s[NHOSTS])
{
	for (int i = 0; i < NHOSTS; i++)
		nst_get(fx, i, &s[i]);
}

/* after.v[row] - before.v[row] must be delta */
#define expect_delta(host, before, after, row, delta)                                        \
	do {                                                                                 \
		uint64_t d_ = (after).v[row] - (before).v[row];                              \
		if (d_ != (uint64_t)(delta))                                                 \
			fail_msg("%s:%d: host %d: %s moved by %llu, want %llu", __FILE__,   \
				 __LINE__, (host), STAT_NAMES[row], (unsigned long long)d_, \
				 (unsigned long long)(delta));                               \
	} while (0)

/* Waits until every claimer of host i reports connected (want = THREADS) or not (0). */
static void wait_connections(struct fx *fx, int i, uint64_t want)
{
	int64_t deadline = ff_deadline(&fx->f, WAIT_MS);
	uint64_t got;

	while ((got = ff_stat(&fx->f.h[i], "fleet_nonce_connections")) != want)
		ff_wait_or_fail(deadline, "host %d: fleet_nonce_connections %llu, want %llu", i,
				(unsigned long long)got, (unsigned long long)want);
}

/*
 * Polls host i with fresh nonce items until one is OK (Redis back, the claimers reconnected):
 * every try has its own nonce, since a 9 spends a nonce on its host.
 */
static void wait_nonces_ok(struct fx *fx, int i)
{
	int64_t deadline = ff_deadline(&fx->f, WAIT_MS);
	struct item it;
	uint8_t v;

	for (;;) {
		item_fresh(fx, &it, false, NULL);
		v = verdict(fx, i, &it);
		if (v == HMACD_V_OK)
			return;
		if (v != HMACD_V_UNAVAILABLE)
			fail_msg("host %d: a fresh nonce item got %s while redis came back", i,
				 hmacd_verdict_name(v));
		ff_wait_or_fail(deadline, "host %d: nonce items still UNAVAILABLE", i);
		ff_nap_ms(20);
	}
}

/* ---- fixture ---- */

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	struct ff_run res;

	assert_non_null(fx);
	*state = fx;
	/* persistent: claims made before Redis is killed must be there when it comes back */
	ff_setup(&fx->f, true);
	ff_fctl_ok(&fx->f, &res, "key create --tenant %s --container %s --keyid %s --json", T, C,
		   KID);
	ff_json_secret(res.out, fx->secret);
	assert_int_equal(ff_json_epoch(res.out), 1);
	snprintf(fx->host_args, sizeof(fx->host_args),
		 "--threads %d --policy-no-nonce --fleet-timeout %d", THREADS,
		 ff_valgrind() ? 5 * FLEET_TIMEOUT_MS : FLEET_TIMEOUT_MS);
	for (int i = 0; i < NHOSTS; i++)
		ff_host_start(&fx->f, i, fx->host_args);
	/* the claimers connect asynchronously: an early frame would find them connecting */
	for (int i = 0; i < NHOSTS; i++)
		wait_connections(fx, i, THREADS);
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	if (fx == NULL)
		return 0;
	ff_teardown(&fx->f);
	OPENSSL_cleanse(fx, sizeof(*fx));
	free(fx);
	return 0;
}

/* ---- 1. OK on one host, REPLAY on the other two ---- */

static void test_replay_across_hosts(void **state)
{
	struct fx *fx = *state;
	struct nst before[NHOSTS], after[NHOSTS];
	struct item it;

	for (int rfc = 0; rfc <= 1; rfc++) {
		for (int first = 0; first < NHOSTS; first++) {
			nst_all(fx, before);
			item_fresh(fx, &it, rfc, NULL);
			expect_verdict(fx, first, &it, HMACD_V_OK);
			for (int i = 0; i < NHOSTS; i++)
				if (i != first)
					expect_verdict(fx, i, &it, HMACD_V_REPLAY);
			/* and again where it passed: the local cache, in front of Redis */
			expect_verdict(fx, first, &it, HMACD_V_REPLAY);
			nst_all(fx, after);
			for (int i = 0; i < NHOSTS; i++) {
				expect_delta(i, before[i], after[i], S_CLAIMS, 1);
				expect_delta(i, before[i], after[i], S_CLAIMED, i == first);
				expect_delta(i, before[i], after[i], S_TAKEN, i != first);
				expect_delta(i, before[i], after[i], S_UNAVAIL, 0);
				expect_delta(i, before[i], after[i], S_V_OK, i == first);
				expect_delta(i, before[i], after[i], S_V_REPLAY, 1);
				expect_delta(i, before[i], after[i], S_V_UNAVAIL, 0);
			}
		}
	}

	/* without a nonce: no replay protection, nothing claimed, OK every time everywhere */
	nst_all(fx, before);
	for (int rfc = 0; rfc <= 1; rfc++) {
		item_make(fx, &it, rfc, NULL);
		for (int k = 0; k < 2; k++)
			for (int i = 0; i < NHOSTS; i++)
				expect_verdict(fx, i, &it, HMACD_V_OK);
	}
	nst_all(fx, after);
	for (int i = 0; i < NHOSTS; i++) {
		expect_delta(i, before[i], after[i], S_CLAIMS, 0);
		expect_delta(i, before[i], after[i], S_V_OK, 4);
	}
}

/* ---- 2. the same item at the same instant on the three hosts ---- */

struct racer {
	struct fx *fx;
	struct hmacd_client *c;
	pthread_barrier_t *start, *end;
	const struct item *cur; /* set by the main thread before the start barrier */
	uint8_t v;              /* this round's verdict */
	int rc;                 /* the first error, if any */
};

static void *racer_main(void *arg)
{
	struct racer *r = arg;

	for (int round = 0; round < ROUNDS; round++) {
		struct hmacd_any_item a;
		int rc;

		(void)pthread_barrier_wait(r->start);
		a = any(r->cur);
		r->v = 0xff;
		rc = hmacd_verify_any(r->c, &a, 1, &r->v);
		if (rc != HMACD_OK && r->rc == HMACD_OK)
			r->rc = rc;
		(void)pthread_barrier_wait(r->end);
	}
	return NULL;
}

static void test_race(void **state)
{
	struct fx *fx = *state;
	pthread_barrier_t start, end;
	struct racer rc[NHOSTS];
	pthread_t th[NHOSTS];
	struct nst before[NHOSTS], after[NHOSTS];
	unsigned wins[NHOSTS] = {0};
	uint64_t claims = 0, claimed = 0, taken = 0;
	struct item *it = calloc(1, sizeof(*it));
	char bad[256] = "";

	assert_non_null(it);
	nst_all(fx, before);
	assert_int_equal(pthread_barrier_init(&start, NULL, NHOSTS + 1), 0);
	assert_int_equal(pthread_barrier_init(&end, NULL, NHOSTS + 1), 0);
	for (int i = 0; i < NHOSTS; i++) {
		rc[i] = (struct racer){.fx = fx, .c = hd_client(&fx->f.h[i].d), .start = &start,
				       .end = &end, .cur = it, .rc = HMACD_OK};
		assert_int_equal(pthread_create(&th[i], NULL, racer_main, &rc[i]), 0);
	}
	/* every round runs, so that the threads end; the first wrong round fails the case after */
	for (int round = 0; round < ROUNDS; round++) {
		unsigned ok = 0, replay = 0;

		item_fresh(fx, it, round % 2 == 1, NULL);
		(void)pthread_barrier_wait(&start); /* all three send now */
		(void)pthread_barrier_wait(&end);
		for (int i = 0; i < NHOSTS; i++) {
			if (rc[i].rc != HMACD_OK && bad[0] == '\0')
				snprintf(bad, sizeof(bad), "round %d: host %d: %s", round, i,
					 hmacd_strerror(rc[i].rc));
			if (rc[i].v == HMACD_V_OK) {
				ok++;
				wins[i]++;
			} else if (rc[i].v == HMACD_V_REPLAY) {
				replay++;
			}
		}
		if ((ok != 1 || replay != NHOSTS - 1) && bad[0] == '\0')
			snprintf(bad, sizeof(bad),
				 "round %d (%s): %u OK and %u REPLAY (and %u other), want exactly "
				 "one OK and the others REPLAY",
				 round, round % 2 ? "rfc9421" : "hmacd-v1", ok, replay,
				 NHOSTS - ok - replay);
	}
	for (int i = 0; i < NHOSTS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		hmacd_close(rc[i].c);
	}
	assert_int_equal(pthread_barrier_destroy(&start), 0);
	assert_int_equal(pthread_barrier_destroy(&end), 0);
	if (bad[0] != '\0')
		fail_msg("%s", bad);
	/* who won is the scheduler's business: only printed */
	fprintf(stderr, "race: %d rounds won by host 0: %u, host 1: %u, host 2: %u\n", ROUNDS,
		wins[0], wins[1], wins[2]);
	/* every host claimed every round; together, one claim won per round */
	nst_all(fx, after);
	for (int i = 0; i < NHOSTS; i++) {
		expect_delta(i, before[i], after[i], S_CLAIMS, ROUNDS);
		expect_delta(i, before[i], after[i], S_CLAIMED, wins[i]);
		expect_delta(i, before[i], after[i], S_V_OK, wins[i]);
		expect_delta(i, before[i], after[i], S_UNAVAIL, 0);
		claims += after[i].v[S_CLAIMS] - before[i].v[S_CLAIMS];
		claimed += after[i].v[S_CLAIMED] - before[i].v[S_CLAIMED];
		taken += after[i].v[S_TAKEN] - before[i].v[S_TAKEN];
	}
	assert_int_equal(claims, NHOSTS * ROUNDS);
	assert_int_equal(claimed, ROUNDS);
	assert_int_equal(taken, (NHOSTS - 1) * ROUNDS);
	free(it);
}

/* ---- 3. a batch, and pipelined frames ---- */

static void test_batch(void **state)
{
	struct fx *fx = *state;
	struct item *b = calloc(16, sizeof(*b)), *fix = calloc(3, sizeof(*fix));
	struct nst before, after;
	uint8_t v[16];
	size_t n = 0;
	char nc[65], nd[65], ne[65];

	assert_non_null(b);
	assert_non_null(fix);
	/* a nonce host 2 claimed already */
	item_fresh(fx, &b[11], false, NULL);
	expect_verdict(fx, 2, &b[11], HMACD_V_OK);

	item_fresh(fx, &b[n++], false, NULL);         /* 0: new */
	item_fresh(fx, &b[n++], true, NULL);          /* 1: new, rfc9421 */
	item_make(fx, &b[n++], false, NULL);          /* 2: no nonce */
	item_copy(&b[n++], &b[0]);                    /* 3: item 0 again, in the same frame */
	item_bad_sig(fx, &b[n++]);                    /* 4: a bad signature with a nonce */
	item_copy(&b[n++], &b[1]);                    /* 5: item 1 again */
	item_stale(fx, &b[n++]);                      /* 6: stale, with a nonce */
	item_unknown_key(fx, &b[n++]);                /* 7: no such epoch, with a nonce */
	item_fresh(fx, &b[n++], false, NULL);         /* 8: new */
	item_make(fx, &b[n++], true, NULL);           /* 9: rfc9421 without a nonce */
	item_malformed(fx, &b[n++]);                  /* 10: malformed, with a nonce */
	n++;                                          /* 11: claimed by host 2 */
	item_copy(&b[n++], &b[8]);                    /* 12: item 8 again */
	snprintf(nc, sizeof(nc), "%s", b[4].v1.nonce);
	snprintf(nd, sizeof(nd), "%s", b[6].v1.nonce);
	snprintf(ne, sizeof(ne), "%s", b[7].v1.nonce);
	{
		const uint8_t want0[] = {
			HMACD_V_OK,          HMACD_V_OK,           HMACD_V_OK,
			HMACD_V_REPLAY,      HMACD_V_BAD_SIGNATURE, HMACD_V_REPLAY,
			HMACD_V_STALE_TIMESTAMP, HMACD_V_UNKNOWN_KEY, HMACD_V_OK,
			HMACD_V_OK,          HMACD_V_MALFORMED,    HMACD_V_REPLAY,
			HMACD_V_REPLAY,
		};
		/* the same frame on another host: every nonce that passed on host 0 is taken */
		const uint8_t want1[] = {
			HMACD_V_REPLAY,      HMACD_V_REPLAY,       HMACD_V_OK,
			HMACD_V_REPLAY,      HMACD_V_BAD_SIGNATURE, HMACD_V_REPLAY,
			HMACD_V_STALE_TIMESTAMP, HMACD_V_UNKNOWN_KEY, HMACD_V_REPLAY,
			HMACD_V_OK,          HMACD_V_MALFORMED,    HMACD_V_REPLAY,
			HMACD_V_REPLAY,
		};

		assert_int_equal(n, sizeof(want0));
		nst_get(fx, 0, &before);
		verify_on(fx->f.h[0].c, b, n, v);
		expect_verdicts(v, want0, n, "the batch on host 0");
		nst_get(fx, 0, &after);
		/* claimed: items 0, 1, 8 and 11 (the duplicates stop at the local cache) */
		expect_delta(0, before, after, S_CLAIMS, 4);
		expect_delta(0, before, after, S_CLAIMED, 3);
		expect_delta(0, before, after, S_TAKEN, 1);
		expect_delta(0, before, after, S_V_OK, 5);
		expect_delta(0, before, after, S_V_REPLAY, 4);
		expect_delta(0, before, after, S_V_BAD_SIG, 1);
		verify_on(fx->f.h[1].c, b, n, v);
		expect_verdicts(v, want1, n, "the batch on host 1");
	}
	/* the failing items consumed no nonce: signed right, each is OK where it was refused */
	memset(fix, 0, 3 * sizeof(*fix));
	item_make(fx, &fix[0], false, nc);
	item_make(fx, &fix[1], false, nd);
	item_make(fx, &fix[2], false, ne);
	for (int k = 0; k < 3; k++)
		expect_verdict(fx, k, &fix[k], HMACD_V_OK);
	free(fix);
	free(b);
}

/*
 * PIPELINED frames sent at once on one connection, answered in order: frame k carries a new
 * nonce, no nonce, the new nonce again, and every fifth frame a nonce host 1 claimed before
 * (REPLAY from Redis, patched into a held answer); every third frame has no nonce at all (its
 * answer is ready at once, and must wait for the held ones before it).
 */
static void test_pipelined(void **state)
{
	struct fx *fx = *state;
	struct item *its = calloc(PIPELINED * 4, sizeof(*its));
	uint8_t want[PIPELINED][4], v[8];
	size_t nit[PIPELINED];
	uint64_t ids[PIPELINED], id;
	struct hmacd_client *c = fx->f.h[0].c;
	struct hmacd_any_item a[4];
	struct nst before, after;
	unsigned nclaims = 0, nclaimed = 0;
	size_t n;

	assert_non_null(its);
	nst_get(fx, 0, &before);
	for (int k = 0; k < PIPELINED; k++) {
		struct item *f = &its[k * 4];

		if (k % 3 == 2) {
			item_make(fx, &f[0], false, NULL);
			item_make(fx, &f[1], true, NULL);
			want[k][0] = want[k][1] = HMACD_V_OK;
			nit[k] = 2;
		} else {
			item_fresh(fx, &f[0], k % 2 == 1, NULL);
			item_make(fx, &f[1], false, NULL);
			item_copy(&f[2], &f[0]);
			want[k][0] = want[k][1] = HMACD_V_OK;
			want[k][2] = HMACD_V_REPLAY;
			nit[k] = 3;
			nclaims++;
			nclaimed++;
			if (k % 5 == 0) {
				item_fresh(fx, &f[3], false, NULL);
				expect_verdict(fx, 1, &f[3], HMACD_V_OK);
				want[k][3] = HMACD_V_REPLAY;
				nit[k] = 4;
				nclaims++;
			}
		}
	}
	for (int k = 0; k < PIPELINED; k++) {
		for (size_t i = 0; i < nit[k]; i++)
			a[i] = any(&its[k * 4 + i]);
		assert_int_equal(hmacd_send_verify_any(c, a, nit[k], &ids[k]), HMACD_OK);
	}
	assert_int_equal(hmacd_flush(c), HMACD_OK);
	for (int k = 0; k < PIPELINED; k++) {
		char what[64];
		int rc = hmacd_recv_verify(c, &id, v, sizeof(v), &n);

		if (rc != HMACD_OK)
			fail_msg("frame %d: %s", k, hmacd_strerror(rc));
		assert_int_equal(id, ids[k]);
		assert_int_equal(n, nit[k]);
		snprintf(what, sizeof(what), "pipelined frame %d", k);
		expect_verdicts(v, want[k], n, what);
	}
	nst_get(fx, 0, &after);
	expect_delta(0, before, after, S_CLAIMS, nclaims);
	expect_delta(0, before, after, S_CLAIMED, nclaimed);
	expect_delta(0, before, after, S_TAKEN, nclaims - nclaimed);
	expect_delta(0, before, after, S_UNAVAIL, 0);
	/* every nonce that passed on host 0 is taken on host 2 */
	for (int k = 0; k < PIPELINED; k++)
		if (k % 3 != 2)
			expect_verdict(fx, 2, &its[k * 4], HMACD_V_REPLAY);
	free(its);
}

/* The hmacd-v1 item of r in proto's form, for a raw frame. */
static void to_hm(const struct hd_req *r, struct hm_item *it)
{
	const struct hmacd_item *c = &r->item;

	memset(it, 0, sizeof(*it));
	it->tenant = (struct hm_str){(const uint8_t *)c->tenant, c->tenant_len};
	it->container = (struct hm_str){(const uint8_t *)c->container, c->container_len};
	it->method = (struct hm_str){(const uint8_t *)c->method, c->method_len};
	it->path = (struct hm_str){(const uint8_t *)c->path, c->path_len};
	it->nheaders = c->nheaders;
	for (size_t i = 0; i < c->nheaders; i++) {
		it->headers[i].name = (struct hm_str){(const uint8_t *)c->headers[i].name,
						       c->headers[i].name_len};
		it->headers[i].value = (struct hm_str){(const uint8_t *)c->headers[i].value,
							c->headers[i].value_len};
	}
	it->has_body = true;
	it->body = (struct hm_str){c->body, c->body_len};
	it->v1.epoch = c->epoch;
	it->v1.ts = c->ts;
	it->v1.nonce = (struct hm_str){(const uint8_t *)c->nonce, c->nonce_len};
	it->v1.sig = c->sig;
}

static void raw_verify(struct hm_buf *b, uint64_t id, const struct hd_req *r, struct hm_item *it)
{
	size_t start = hm_encode_verify_begin(b, id, 1);

	to_hm(r, it);
	hm_encode_item(b, it);
	hm_frame_end(b, start);
}

/* The next answer on fd: its kind, its id (NO_ID for nil), its first verdict (results). */
#define NO_ID UINT64_MAX
static void raw_expect(struct fx *fx, int fd, enum hm_resp_kind kind, uint64_t id,
		       uint8_t verdict)
{
	uint8_t buf[8192];
	struct hm_response resp;
	uint64_t code;
	long n = hd_raw_recv(fd, buf, sizeof(buf), 10000 * fx->f.scale);

	if (n < 0)
		fail_msg("answer %llu: %s", (unsigned long long)id, n == -2 ? "timeout" : "closed");
	assert_int_equal(hm_response_decode(buf, (size_t)n, &resp), HM_OK);
	assert_int_equal(resp.kind, kind);
	assert_int_equal(resp.has_id ? resp.id : NO_ID, id);
	if (kind != HM_RESP_RESULTS)
		return;
	assert_int_equal(resp.nresults, 1);
	assert_int_equal(hm_mp_read_uint(&resp.results, &code), HM_OK);
	if (code != verdict)
		fail_msg("answer %llu: %s, want %s", (unsigned long long)id,
			 hmacd_verdict_name((unsigned)code), hmacd_verdict_name(verdict));
}

/*
 * Answers of every kind keep their place behind a held one: on one connection, in one write,
 * a nonce item (held), ping, stats, a payload that is not a request (an error answer with a
 * nil id), an item without a nonce, the first nonce again, a new nonce (held).
 */
static void test_mixed_frames_in_order(void **state)
{
	struct fx *fx = *state;
	static const uint8_t not_a_map[] = {0, 0, 0, 1, 0xc0};
	struct item *a = calloc(3, sizeof(*a));
	struct hm_item *it = calloc(1, sizeof(*it));
	struct hm_buf b;
	int fd;

	assert_non_null(a);
	assert_non_null(it);
	item_fresh(fx, &a[0], false, NULL);
	item_make(fx, &a[1], false, NULL);
	item_fresh(fx, &a[2], false, NULL);
	hm_buf_init(&b, 1 << 20);
	raw_verify(&b, 1, &a[0].v1, it);
	hm_encode_simple_request(&b, 2, HM_OP_PING);
	hm_encode_simple_request(&b, 3, HM_OP_STATS);
	hm_buf_append(&b, not_a_map, sizeof(not_a_map));
	raw_verify(&b, 5, &a[1].v1, it);
	raw_verify(&b, 6, &a[0].v1, it);
	raw_verify(&b, 7, &a[2].v1, it);
	assert_false(b.failed);
	fd = hd_raw_connect(&fx->f.h[0].d);
	assert_true(hd_raw_send(fd, b.data, b.len));
	raw_expect(fx, fd, HM_RESP_RESULTS, 1, HMACD_V_OK);
	raw_expect(fx, fd, HM_RESP_PONG, 2, 0);
	raw_expect(fx, fd, HM_RESP_STATS, 3, 0);
	raw_expect(fx, fd, HM_RESP_ERROR, NO_ID, 0);
	raw_expect(fx, fd, HM_RESP_RESULTS, 5, HMACD_V_OK);
	raw_expect(fx, fd, HM_RESP_RESULTS, 6, HMACD_V_REPLAY);
	raw_expect(fx, fd, HM_RESP_RESULTS, 7, HMACD_V_OK);
	close(fd);
	hm_buf_free(&b);
	/* both claimed fleet-wide */
	expect_verdict(fx, 1, &a[0], HMACD_V_REPLAY);
	expect_verdict(fx, 2, &a[2], HMACD_V_REPLAY);
	free(it);
	free(a);
}

/* ---- 4. Redis killed, and back from its append-only file ---- */

/*
 * One frame: what a host answers with no Redis. spent: an item OK on this host before (a
 * nonce its local cache holds).
 */
static void down_batch(struct fx *fx, int host, const struct item *spent, struct item *b)
{
	const uint8_t want[] = {
		HMACD_V_UNAVAILABLE, HMACD_V_UNAVAILABLE, HMACD_V_OK, HMACD_V_OK,
		HMACD_V_BAD_SIGNATURE, HMACD_V_STALE_TIMESTAMP, HMACD_V_UNKNOWN_KEY,
		HMACD_V_REPLAY, HMACD_V_MALFORMED,
	};
	struct nst before, after;
	uint8_t v[sizeof(want)];
	char what[64];

	item_fresh(fx, &b[0], false, NULL);
	item_fresh(fx, &b[1], true, NULL);
	item_make(fx, &b[2], false, NULL);
	item_make(fx, &b[3], true, NULL);
	item_bad_sig(fx, &b[4]);
	item_stale(fx, &b[5]);
	item_unknown_key(fx, &b[6]);
	item_copy(&b[7], spent);
	item_malformed(fx, &b[8]);
	nst_get(fx, host, &before);
	verify_on(fx->f.h[host].c, b, sizeof(want), v);
	snprintf(what, sizeof(what), "host %d with redis down", host);
	expect_verdicts(v, want, sizeof(want), what);
	nst_get(fx, host, &after);
	expect_delta(host, before, after, S_CLAIMS, 0); /* nothing sent: not connected */
	expect_delta(host, before, after, S_UNAVAIL, 2);
	expect_delta(host, before, after, S_V_UNAVAIL, 2);
	expect_delta(host, before, after, S_V_OK, 2);
	expect_delta(host, before, after, S_V_BAD_SIG, 1);
	/* the nonce of a 9 is spent here: a retry must be signed with a new one */
	expect_verdict(fx, host, &b[0], HMACD_V_REPLAY);
}

static void test_redis_down(void **state)
{
	struct fx *fx = *state;
	struct item *spent = calloc(NHOSTS, sizeof(*spent)), *b = calloc(9, sizeof(*b));
	struct item held;
	struct nst before[NHOSTS], after[NHOSTS];
	char err[512];

	assert_non_null(spent);
	assert_non_null(b);
	for (int i = 0; i < NHOSTS; i++) {
		item_fresh(fx, &spent[i], false, NULL);
		expect_verdict(fx, i, &spent[i], HMACD_V_OK);
	}
	/* a claim made before the kill, by host 0, for host 1 to meet after it */
	item_fresh(fx, &held, true, NULL);
	expect_verdict(fx, 0, &held, HMACD_V_OK);
	nst_all(fx, before);

	tl_redis_kill(&fx->f.r);
	for (int i = 0; i < NHOSTS; i++)
		wait_connections(fx, i, 0);
	for (int i = 0; i < NHOSTS; i++)
		down_batch(fx, i, &spent[i], b);
	/*
	 * a host restarted meanwhile starts from its mirror, its claimers unable to connect:
	 * 9 for a new nonce, REPLAY for one it saw before the restart (its nonce file)
	 */
	ff_host_disconnect(&fx->f.h[2]);
	hd_stop(&fx->f.h[2].d);
	hd_restart(&fx->f.h[2].d);
	ff_host_connect(&fx->f.h[2]);
	item_fresh(fx, &b[0], true, NULL);
	expect_verdict(fx, 2, &b[0], HMACD_V_UNAVAILABLE);
	expect_verdict(fx, 2, &spent[2], HMACD_V_REPLAY);
	item_make(fx, &b[0], false, NULL);
	expect_verdict(fx, 2, &b[0], HMACD_V_OK);
	assert_int_equal(ff_stat(&fx->f.h[2], "fleet_nonce_connections"), 0);

	if (tl_redis_restart(&fx->f.r, err, sizeof(err)) != HM_OK)
		fail_msg("redis restart: %s", err);
	for (int i = 0; i < NHOSTS; i++) {
		wait_nonces_ok(fx, i);
		/* each claimer of the host on its own backoff */
		wait_connections(fx, i, THREADS);
	}
	nst_all(fx, after);
	/* host 2 counts from its restart, where its first connection failed */
	for (int i = 0; i < NHOSTS; i++)
		assert_true(after[i].v[S_RECONNECTS] > (i == 2 ? 0 : before[i].v[S_RECONNECTS]));
	/* the append-only file kept the claim: still taken */
	expect_verdict(fx, 1, &held, HMACD_V_REPLAY);
	/* and the hosts go on as before */
	{
		struct item it;

		item_fresh(fx, &it, true, NULL);
		expect_verdict(fx, 2, &it, HMACD_V_OK);
		expect_verdict(fx, 0, &it, HMACD_V_REPLAY);
		expect_verdict(fx, 1, &it, HMACD_V_REPLAY);
	}
	free(b);
	free(spent);
}

/* ---- 5. Redis stalled (SIGSTOP), then going on (SIGCONT) ---- */

static void redis_signal(struct fx *fx, int sig)
{
	assert_true(fx->f.r.pid > 0);
	assert_int_equal(kill(fx->f.r.pid, sig), 0);
}

/*
 * BACKLOG frames on a new client of host i, each one nonce item with a body of BIG_BODY
 * bytes: with Redis stalled, HM_CONN_MAX_HELD of them are held and the rest wait, partly in
 * the socket. ids: the request ids.
 */
static struct hmacd_client *send_backlog(struct fx *fx, int i, uint64_t ids[BACKLOG])
{
	static uint8_t body[BIG_BODY];
	struct hmacd_client *c = hd_client(&fx->f.h[i].d);
	struct item *it = calloc(1, sizeof(*it));
	struct hmacd_any_item a;

	assert_non_null(it);
	memset(body, 'b', sizeof(body));
	for (int k = 0; k < BACKLOG; k++) {
		item_fresh(fx, it, false, NULL);
		it->v1.item.body = body;
		it->v1.item.body_len = sizeof(body);
		hd_req_sign(&it->v1, fx->secret);
		a = any(it);
		assert_int_equal(hmacd_send_verify_any(c, &a, 1, &ids[k]), HMACD_OK);
	}
	assert_int_equal(hmacd_flush(c), HMACD_OK);
	free(it);
	return c;
}

static void test_redis_slow(void **state)
{
	struct fx *fx = *state;
	struct item *its = calloc(NHOSTS * 4, sizeof(*its));
	struct nst before[NHOSTS], after[NHOSTS];
	uint64_t ids[NHOSTS][2], id, bids[BACKLOG];
	struct hmacd_client *bc;
	uint8_t v[4];
	size_t n;

	assert_non_null(its);
	nst_all(fx, before);
	redis_signal(fx, SIGSTOP);
	bc = send_backlog(fx, 0, bids);
	/*
	 * On each host, two frames pipelined: a new nonce (hmacd-v1) and an item without one;
	 * a new nonce (rfc9421). All sent first, then read: the hosts wait together.
	 */
	for (int i = 0; i < NHOSTS; i++) {
		struct item *f = &its[i * 4];
		struct hmacd_any_item a[2];

		item_fresh(fx, &f[0], false, NULL);
		item_make(fx, &f[1], false, NULL);
		item_fresh(fx, &f[2], true, NULL);
		a[0] = any(&f[0]);
		a[1] = any(&f[1]);
		assert_int_equal(hmacd_send_verify_any(fx->f.h[i].c, a, 2, &ids[i][0]), HMACD_OK);
		a[0] = any(&f[2]);
		assert_int_equal(hmacd_send_verify_any(fx->f.h[i].c, a, 1, &ids[i][1]), HMACD_OK);
		assert_int_equal(hmacd_flush(fx->f.h[i].c), HMACD_OK);
	}
	for (int i = 0; i < NHOSTS; i++) {
		/* the client's timeout is the hang guard: an answer must come, and be 9 */
		assert_int_equal(hmacd_recv_verify(fx->f.h[i].c, &id, v, sizeof(v), &n), HMACD_OK);
		assert_int_equal(id, ids[i][0]);
		assert_int_equal(n, 2);
		assert_int_equal(v[0], HMACD_V_UNAVAILABLE);
		assert_int_equal(v[1], HMACD_V_OK);
		assert_int_equal(hmacd_recv_verify(fx->f.h[i].c, &id, v, sizeof(v), &n), HMACD_OK);
		assert_int_equal(id, ids[i][1]);
		assert_int_equal(n, 1);
		assert_int_equal(v[0], HMACD_V_UNAVAILABLE);
	}
	/* the backlog: every frame answered, in order, 9 */
	for (int k = 0; k < BACKLOG; k++) {
		assert_int_equal(hmacd_recv_verify(bc, &id, v, sizeof(v), &n), HMACD_OK);
		assert_int_equal(id, bids[k]);
		assert_int_equal(n, 1);
		assert_int_equal(v[0], HMACD_V_UNAVAILABLE);
	}
	hmacd_close(bc);
	nst_all(fx, after);
	for (int i = 0; i < NHOSTS; i++) {
		unsigned more = i == 0 ? BACKLOG : 0;

		expect_delta(i, before[i], after[i], S_CLAIMS, 2 + more);
		expect_delta(i, before[i], after[i], S_UNAVAIL, 2 + more);
		expect_delta(i, before[i], after[i], S_V_UNAVAIL, 2 + more);
		expect_delta(i, before[i], after[i], S_TIMEOUTS, 2 + more);
		/* stalled is not disconnected */
		assert_int_equal(after[i].v[S_CONNS], THREADS);
	}
	redis_signal(fx, SIGCONT);
	for (int i = 0; i < NHOSTS; i++)
		wait_nonces_ok(fx, i);
	/*
	 * The claims of the 9s were sent: Redis, going on, made them. So each such nonce is
	 * taken now (PROTOCOL.md: a 9 may leave the claim; a retry needs a new nonce).
	 */
	for (int i = 0; i < NHOSTS; i++) {
		expect_verdict(fx, (i + 1) % NHOSTS, &its[i * 4], HMACD_V_REPLAY);
		expect_verdict(fx, (i + 1) % NHOSTS, &its[i * 4 + 2], HMACD_V_REPLAY);
	}
	free(its);
}

/*
 * Frames held longer than --read-timeout: the frames after HM_CONN_MAX_HELD held ones are
 * complete, they wait for the daemon, not for the client, so the connection is not closed for
 * a stalled frame (the read timeout is for a client that trickles bytes). Redis stalled, a
 * --fleet-timeout (1.5 s) longer than --read-timeout (1 s): every frame answered, 9, in order.
 */
static void test_held_past_read_timeout(void **state)
{
	struct fx *fx = *state;
	struct hmacd_client *c;
	struct hmacd_any_item a;
	struct item *it = calloc(1, sizeof(*it));
	uint64_t ids[20], id;
	uint8_t v[2];
	size_t n;

	assert_non_null(it);
	ff_host_start(&fx->f, SPARE, "--threads 1 --read-timeout 1 --fleet-timeout 1500");
	wait_connections(fx, SPARE, 1);
	redis_signal(fx, SIGSTOP);
	c = hd_client(&fx->f.h[SPARE].d);
	for (int k = 0; k < 20; k++) {
		item_fresh(fx, it, false, NULL);
		a = any(it);
		assert_int_equal(hmacd_send_verify_any(c, &a, 1, &ids[k]), HMACD_OK);
	}
	assert_int_equal(hmacd_flush(c), HMACD_OK);
	for (int k = 0; k < 20; k++) {
		int rc = hmacd_recv_verify(c, &id, v, sizeof(v), &n);

		if (rc != HMACD_OK)
			fail_msg("frame %d: %s", k, hmacd_strerror(rc));
		assert_int_equal(id, ids[k]);
		assert_int_equal(n, 1);
		assert_int_equal(v[0], HMACD_V_UNAVAILABLE);
	}
	hmacd_close(c);
	redis_signal(fx, SIGCONT);
	assert_int_equal(ff_stat(&fx->f.h[SPARE], "read_timeouts"), 0);
	ff_host_stop(&fx->f, SPARE);
	free(it);
}

/*
 * --fleet-wait 1 and no replica: WAIT answers 0, so no nonce item is OK (fail closed), the
 * others are judged as usual; the claim itself was made (REPLAY elsewhere).
 */
static void test_fleet_wait_no_replica(void **state)
{
	struct fx *fx = *state;
	char args[256];
	struct item *b = calloc(4, sizeof(*b));
	const uint8_t want[] = {HMACD_V_UNAVAILABLE, HMACD_V_OK, HMACD_V_UNAVAILABLE,
				HMACD_V_BAD_SIGNATURE};
	uint8_t v[4];

	assert_non_null(b);
	snprintf(args, sizeof(args), "--threads 1 --policy-no-nonce --fleet-wait 1 "
		 "--fleet-timeout %d", 200 * fx->f.scale);
	ff_host_start(&fx->f, SPARE, args);
	wait_connections(fx, SPARE, 1);
	item_fresh(fx, &b[0], false, NULL);
	item_make(fx, &b[1], true, NULL);
	item_fresh(fx, &b[2], true, NULL);
	item_bad_sig(fx, &b[3]);
	verify_on(fx->f.h[SPARE].c, b, 4, v);
	expect_verdicts(v, want, 4, "--fleet-wait 1 without a replica");
	expect_verdict(fx, 0, &b[0], HMACD_V_REPLAY);
	expect_verdict(fx, 1, &b[2], HMACD_V_REPLAY);
	assert_int_equal(ff_stat(&fx->f.h[SPARE], "fleet_nonce_claimed"), 0);
	assert_int_equal(ff_stat(&fx->f.h[SPARE], "fleet_nonce_unavailable"), 2);
	ff_host_stop(&fx->f, SPARE);
	free(b);
}

/* ---- 6. --fleet-nonces local: the replay on another host is accepted ---- */

static void test_local_nonces(void **state)
{
	struct fx *fx = *state;
	char args[300];
	struct item it;
	int a = LOCAL0, b = LOCAL0 + 1;

	snprintf(args, sizeof(args), "%s --fleet-nonces local", fx->host_args);
	ff_host_start(&fx->f, a, args);
	ff_host_start(&fx->f, b, args);
	for (int rfc = 0; rfc <= 1; rfc++) {
		item_fresh(fx, &it, rfc, NULL);
		/* the documented risk: once per host */
		expect_verdict(fx, a, &it, HMACD_V_OK);
		expect_verdict(fx, b, &it, HMACD_V_OK);
		expect_verdict(fx, a, &it, HMACD_V_REPLAY);
		expect_verdict(fx, b, &it, HMACD_V_REPLAY);
		/* a local host claims nothing: the first Redis host to see it takes it */
		expect_verdict(fx, 0, &it, HMACD_V_OK);
		expect_verdict(fx, 1, &it, HMACD_V_REPLAY);
	}
	assert_false(ff_has_stat(&fx->f.h[a], "fleet_nonce_claims"));
	assert_false(ff_has_stat(&fx->f.h[a], "fleet_nonce_connections"));
	/* never 9, not even with Redis stalled */
	redis_signal(fx, SIGSTOP);
	item_fresh(fx, &it, false, NULL);
	expect_verdict(fx, a, &it, HMACD_V_OK);
	item_fresh(fx, &it, true, NULL);
	expect_verdict(fx, b, &it, HMACD_V_OK);
	redis_signal(fx, SIGCONT);
	assert_int_equal(ff_stat(&fx->f.h[a], "verdict_unavailable"), 0);
	assert_int_equal(ff_stat(&fx->f.h[b], "verdict_unavailable"), 0);
	ff_host_stop(&fx->f, a);
	ff_host_stop(&fx->f, b);
}

/* ---- 7. a client gone while its claims are pending ---- */

/* A client of host i with PIPELINED frames sent, each holding a new nonce item. */
static struct hmacd_client *send_nonce_frames(struct fx *fx, int i, int frames)
{
	struct hmacd_client *c = hd_client(&fx->f.h[i].d);
	struct hmacd_any_item a[2];
	struct item *it = calloc(2, sizeof(*it));
	uint64_t id;

	assert_non_null(it);
	for (int k = 0; k < frames; k++) {
		item_fresh(fx, &it[0], k % 2 == 1, NULL);
		item_make(fx, &it[1], false, NULL);
		a[0] = any(&it[0]);
		a[1] = any(&it[1]);
		assert_int_equal(hmacd_send_verify_any(c, a, 2, &id), HMACD_OK);
	}
	assert_int_equal(hmacd_flush(c), HMACD_OK);
	free(it);
	return c;
}

static void test_client_gone(void **state)
{
	struct fx *fx = *state;
	struct hmacd_client *c[8];
	struct item it;
	uint64_t id;
	int nc = 0;

	/* started while Redis runs: a host with a new mirror needs the fleet to start */
	ff_host_start(&fx->f, SPARE, fx->host_args);
	wait_connections(fx, SPARE, THREADS);
	redis_signal(fx, SIGSTOP);
	/* closed with frames held (the daemon reads the end of stream, then answers into it) */
	for (int i = 0; i < NHOSTS; i++)
		c[nc++] = send_nonce_frames(fx, i, 1 + 8 * i);
	for (int k = 0; k < nc; k++)
		hmacd_close(c[k]);
	/*
	 * reset: an answer the client never read makes the close a reset for the daemon
	 * (ECONNRESET), which frees the connection with its frames' claims still out
	 */
	for (int i = 0; i < NHOSTS; i++) {
		struct hmacd_client *cl = hd_client(&fx->f.h[i].d);
		struct hmacd_any_item a;
		struct pollfd pfd;

		item_make(fx, &it, false, NULL);
		a = any(&it);
		assert_int_equal(hmacd_send_verify_any(cl, &a, 1, &id), HMACD_OK);
		item_fresh(fx, &it, false, NULL);
		a = any(&it);
		assert_int_equal(hmacd_send_verify_any(cl, &a, 1, &id), HMACD_OK);
		assert_int_equal(hmacd_flush(cl), HMACD_OK);
		pfd = (struct pollfd){.fd = hmacd_fd(cl), .events = POLLIN};
		assert_int_equal(poll(&pfd, 1, 10000 * fx->f.scale), 1); /* the first answer */
		hmacd_close(cl);
	}
	/* a daemon stopped while claims are pending: it drains, answers, exits 0 */
	c[0] = send_nonce_frames(fx, SPARE, 4);
	ff_host_stop(&fx->f, SPARE); /* SIGTERM while Redis is stopped */
	hmacd_close(c[0]);
	redis_signal(fx, SIGCONT);
	/* every host still up, and claiming */
	for (int i = 0; i < NHOSTS; i++) {
		assert_int_equal(hmacd_ping(fx->f.h[i].c), HMACD_OK);
		wait_nonces_ok(fx, i);
	}
	item_fresh(fx, &it, false, NULL);
	expect_verdict(fx, 1, &it, HMACD_V_OK);
	expect_verdict(fx, 2, &it, HMACD_V_REPLAY);
}

/* After each case: Redis running, and no extra host left, whatever the case did. */
static int case_teardown(void **state)
{
	struct fx *fx = *state;
	char err[512];

	if (fx->f.r.pid > 0)
		(void)kill(fx->f.r.pid, SIGCONT);
	else if (tl_redis_restart(&fx->f.r, err, sizeof(err)) != HM_OK)
		fail_msg("redis restart: %s", err);
	for (int i = LOCAL0; i < FF_MAX_HOSTS; i++)
		if (fx->f.h[i].d.dir[0] != '\0')
			ff_host_stop(&fx->f, i);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_replay_across_hosts, case_teardown),
		cmocka_unit_test_teardown(test_race, case_teardown),
		cmocka_unit_test_teardown(test_batch, case_teardown),
		cmocka_unit_test_teardown(test_pipelined, case_teardown),
		cmocka_unit_test_teardown(test_mixed_frames_in_order, case_teardown),
		cmocka_unit_test_teardown(test_redis_down, case_teardown),
		cmocka_unit_test_teardown(test_redis_slow, case_teardown),
		cmocka_unit_test_teardown(test_held_past_read_timeout, case_teardown),
		cmocka_unit_test_teardown(test_fleet_wait_no_replica, case_teardown),
		cmocka_unit_test_teardown(test_local_nonces, case_teardown),
		cmocka_unit_test_teardown(test_client_gone, case_teardown),
	};
	int rc = ff_skip_reason("e2e_fleet_nonces");

	if (rc != 0)
		return rc;
	signal(SIGPIPE, SIG_IGN);
	alarm(ff_valgrind() ? 1200 : 180);
	return cmocka_run_group_tests(tests, setup, teardown);
}
