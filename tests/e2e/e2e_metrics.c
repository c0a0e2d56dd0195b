/*
 * e2e_metrics.c - --metrics-listen against the real daemon: known traffic (every kind of
 * verdict, both schemes, several frames), then a scrape read by a real Prometheus parser
 * (tests/e2e/metrics_scrape.py, Python's prometheus_client) whose counts must be exactly what
 * was sent: verdicts by scheme and by tenant (--metrics-tenants 2: two rows, the rest
 * __other__), frames, items, the two histograms, connections, a read timeout, a refused peer.
 * Also 404 / 405 / HEAD, scrapes running while a client verifies (every verdict still right),
 * and a bad --metrics-listen refused at start.
 *
 * Skipped (77) when prometheus_client is not installed (Debian: python3-prometheus-client;
 * metricsfx.h). e2e_metrics_fleet checks the fleet's metrics.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "metricsfx.h"

struct fx {
	struct hd d;
	char logdir[64];
	char url[96]; /* http://127.0.0.1:PORT */
	uint8_t s1[32], s3[32];
	uint8_t s2[32]; /* rfc9421 key of t2/c1, key id k-t2 */
	char *scrape; /* the last scrape's lines */
};

static void start(struct fx *f, const char *extra)
{
	char args[512];

	snprintf(f->logdir, sizeof(f->logdir), "/tmp/hmacd-metrics-XXXXXX");
	assert_non_null(mkdtemp(f->logdir));
	snprintf(args, sizeof(args),
		 "--threads 2 --skew 300 --metrics-listen 127.0.0.1:0 --log-level info "
		 "--log-file %s/log %s",
		 f->logdir, extra);
	hd_start(&f->d, args);
	if (f->d.external)
		skip(); /* the port is found in the log of a daemon we started */
	snprintf(args, sizeof(args), "%s/log", f->logdir);
	mfx_find_url(args, f->url, sizeof(f->url));
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	for (size_t i = 0; i < sizeof(f->s2); i++)
		f->s2[i] = (uint8_t)(i * 7 + 1);
	start(f, "--metrics-tenants 2 --read-timeout 1");
	assert_int_equal(hd_key_create(&f->d, "t1", "c1", f->s1), 1);
	assert_int_equal(hd_key_import(&f->d, "t2", "c1", "k-t2", f->s2, sizeof(f->s2), 0), 1);
	assert_int_equal(hd_key_create(&f->d, "t3", "c1", f->s3), 1);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char path[128];

	hd_stop(&f->d);
	hd_cleanup(&f->d);
	snprintf(path, sizeof(path), "%s/log", f->logdir);
	(void)unlink(path);
	(void)rmdir(f->logdir);
	free(f->scrape);
	free(f);
	return 0;
}

static void scrape(struct fx *f)
{
	free(f->scrape);
	f->scrape = NULL;
	mfx_scrape(f->url, &f->scrape);
}

static uint64_t value(const struct fx *f, const char *series)
{
	return mfx_value(f->scrape, series);
}

static bool has_series(const struct fx *f, const char *prefix)
{
	return strstr(f->scrape, prefix) != NULL;
}

static void expect(const struct fx *f, const char *series, uint64_t want)
{
	mfx_expect(f->scrape, series, want);
}

static uint64_t now(void)
{
	return (uint64_t)time(NULL);
}

static void verify_v1(struct hmacd_client *c, struct hd_req *r, size_t n, const uint8_t *want)
{
	struct hmacd_item items[8];
	uint8_t v[8];

	assert_true(n <= 8);
	for (size_t i = 0; i < n; i++)
		items[i] = r[i].item;
	memset(v, 0xff, sizeof(v));
	assert_int_equal(hmacd_verify(c, items, n, v), HMACD_OK);
	for (size_t i = 0; i < n; i++)
		if (v[i] != want[i])
			fail_msg("item %zu: %s, want %s", i, hmacd_verdict_name(v[i]),
				 hmacd_verdict_name(want[i]));
}

/* An rfc9421 item of t2/c1: GET /x on api.example.com, signed with secret (32 bytes). */
struct rq {
	struct hmacd_header host;
	char input[HMACD_RFC9421_FIELD_MAX + 1];
	char sig[HMACD_RFC9421_SIGNATURE_CAP];
	struct hmacd_rfc9421_item it;
};

static void rq_sign(struct rq *r, const uint8_t *secret)
{
	struct hmacd_rfc9421_params p = {.keyid = "k-t2"};

	memset(r, 0, sizeof(*r));
	r->host = (struct hmacd_header){"host", 4, "api.example.com", 15};
	r->it.tenant = "t2";
	r->it.tenant_len = 2;
	r->it.container = "c1";
	r->it.container_len = 2;
	r->it.method = "GET";
	r->it.method_len = 3;
	r->it.authority = "api.example.com";
	r->it.authority_len = 15;
	r->it.path = "/x";
	r->it.path_len = 2;
	r->it.headers = &r->host;
	r->it.nheaders = 1;
	assert_int_equal(hmacd_rfc9421_sign(secret, 32, &r->it, &p, r->input, sizeof(r->input),
					    r->sig, sizeof(r->sig)),
			 HMACD_OK);
	r->it.signature_input = r->input;
	r->it.signature_input_len = strlen(r->input);
	r->it.signature = r->sig;
	r->it.signature_len = strlen(r->sig);
}

#define V(scheme, verdict) "hmacd_verdicts_total{scheme=\"" scheme "\",verdict=\"" verdict "\"}"
#define TV(tenant, verdict) \
	"hmacd_tenant_verdicts_total{tenant=\"" tenant "\",verdict=\"" verdict "\"}"

static void test_counts(void **state)
{
	struct fx *f = *state;
	struct hmacd_client *c = hd_client(&f->d);
	struct hd_req r[5];
	struct rq q[2];
	uint8_t wrong[32], buf[64];
	struct hmacd_any_item any[2];
	uint8_t v[2];
	uint64_t conns;
	int fd;

	/* the harness's probe for "started" and the client connected already */
	scrape(f);
	conns = value(f, "hmacd_connections_total{}");
	memset(wrong, 0x5a, sizeof(wrong));
	/* frame 1: five hmacd-v1 items */
	hd_req_init(&r[0], "t1", "c1", 1, now(), NULL, f->s1);     /* OK */
	hd_req_init(&r[1], "t1", "c1", 1, now(), NULL, wrong);     /* BAD_SIGNATURE */
	hd_req_init(&r[2], "t9", "c1", 1, now(), NULL, f->s1);     /* UNKNOWN_KEY */
	hd_req_init(&r[3], "t1 bad", "c1", 1, now(), NULL, NULL);  /* MALFORMED */
	hd_req_init(&r[4], "t1", "c1", 1, now(), "n-1", f->s1);    /* OK, nonce recorded */
	verify_v1(c, r, 5,
		  (const uint8_t[]){HMACD_V_OK, HMACD_V_BAD_SIGNATURE, HMACD_V_UNKNOWN_KEY,
				    HMACD_V_MALFORMED, HMACD_V_OK});
	/* frame 2: the nonce again */
	verify_v1(c, &r[4], 1, (const uint8_t[]){HMACD_V_REPLAY});
	/* frame 3: two rfc9421 items of t2 */
	rq_sign(&q[0], f->s2);
	rq_sign(&q[1], wrong);
	any[0] = (struct hmacd_any_item){HMACD_SCHEME_RFC9421, {.rfc9421 = &q[0].it}};
	any[1] = (struct hmacd_any_item){HMACD_SCHEME_RFC9421, {.rfc9421 = &q[1].it}};
	assert_int_equal(hmacd_verify_any(c, any, 2, v), HMACD_OK);
	assert_int_equal(v[0], HMACD_V_OK);
	assert_int_equal(v[1], HMACD_V_BAD_SIGNATURE);
	/* frame 4: a third tenant, past --metrics-tenants 2 */
	hd_req_init(&r[0], "t3", "c1", 1, now(), NULL, f->s3);
	verify_v1(c, r, 1, (const uint8_t[]){HMACD_V_OK});
	/* a started frame left unfinished: closed after --read-timeout 1 */
	fd = hd_raw_connect(&f->d);
	assert_true(hd_raw_send(fd, "\0\0", 2));
	assert_int_equal(hd_raw_recv(fd, buf, sizeof(buf), 30000), -1);
	close(fd);

	scrape(f);
	expect(f, V("hmacd-v1", "OK"), 3);
	expect(f, V("hmacd-v1", "BAD_SIGNATURE"), 1);
	expect(f, V("hmacd-v1", "UNKNOWN_KEY"), 1);
	expect(f, V("hmacd-v1", "REPLAY"), 1);
	/* "t1 bad" breaks a content rule: judged MALFORMED, or refused at decoding */
	assert_int_equal(value(f, V("hmacd-v1", "MALFORMED")) + value(f, V("unknown", "MALFORMED")),
			 1);
	expect(f, V("hmacd-v1", "STALE_TIMESTAMP"), 0);
	expect(f, V("rfc9421", "OK"), 1);
	expect(f, V("rfc9421", "BAD_SIGNATURE"), 1);
	expect(f, V("rfc9421", "UNKNOWN_KEY"), 0);
	expect(f, "hmacd_frames_total{}", 4);
	expect(f, "hmacd_frame_errors_total{}", 0);
	expect(f, "hmacd_items_total{}", 9);
	/* items per frame: 5, 1, 2, 1 */
	expect(f, "hmacd_frame_items_bucket{le=\"1\"}", 2);
	expect(f, "hmacd_frame_items_bucket{le=\"2\"}", 3);
	expect(f, "hmacd_frame_items_bucket{le=\"4\"}", 3);
	expect(f, "hmacd_frame_items_bucket{le=\"8\"}", 4);
	expect(f, "hmacd_frame_items_bucket{le=\"+Inf\"}", 4);
	expect(f, "hmacd_frame_items_count{}", 4);
	expect(f, "hmacd_frame_items_sum{}", 9);
	expect(f, "hmacd_frame_duration_seconds_count{}", 4);
	expect(f, "hmacd_frame_duration_seconds_bucket{le=\"+Inf\"}", 4);
	/* tenants: t1 and t2 have rows (their keys exist); t9 (no key), "t1 bad" and t3 do not */
	expect(f, TV("t1", "OK"), 2);
	expect(f, TV("t1", "BAD_SIGNATURE"), 1);
	expect(f, TV("t1", "REPLAY"), 1);
	expect(f, TV("t2", "OK"), 1);
	expect(f, TV("t2", "BAD_SIGNATURE"), 1);
	expect(f, TV("__other__", "OK"), 1);
	expect(f, TV("__other__", "UNKNOWN_KEY"), 1);
	expect(f, TV("__other__", "MALFORMED"), 1);
	assert_false(has_series(f, "tenant=\"t3\""));
	assert_false(has_series(f, "tenant=\"t9\""));
	/* connections: the raw one since; the client's still open */
	expect(f, "hmacd_connections_total{}", conns + 1);
	expect(f, "hmacd_connections{}", 1);
	expect(f, "hmacd_read_timeouts_total{}", 1);
	expect(f, "hmacd_connections_refused_total{reason=\"peer\"}", 0);
	expect(f, "hmacd_connections_refused_total{reason=\"max_conns\"}", 0);
	/* caches and the store */
	expect(f, "hmacd_nonce_cache_entries{}", 2); /* n-1 and the rfc9421 item's own nonce */
	assert_true(value(f, "hmacd_nonce_cache_capacity{}") >= 1024);
	assert_true(value(f, "hmacd_key_cache_entries{}") >= 3);
	assert_true(value(f, "hmacd_key_cache_capacity{}") >= value(f, "hmacd_key_cache_entries{}"));
	assert_true(value(f, "hmacd_store_used_bytes{}") > 0);
	assert_true(value(f, "hmacd_store_map_bytes{}") >= value(f, "hmacd_store_used_bytes{}"));
	expect(f, "hmacd_store_errors_total{}", 0);
	expect(f, "hmacd_workers{}", 2);
	assert_false(has_series(f, "hmacd_fleet_"));
	hmacd_close(c);
}

static void test_http(void **state)
{
	struct fx *f = *state;
	char args[160];

	snprintf(args, sizeof(args), "http %s", f->url);
	assert_int_equal(mfx_run_script(args, NULL), 0);
	/* a scrape counts nothing as a frame */
	scrape(f);
	expect(f, "hmacd_frames_total{}", 0);
}

/* A client verifies while another process scrapes again and again: nothing is lost. */
static void test_scrape_under_load(void **state)
{
	struct fx *f = *state;
	struct hmacd_client *c = hd_client(&f->d);
	struct hd_req r[4];
	char args[160];
	pid_t pid;
	int st;

	snprintf(args, sizeof(args), "loop %s/metrics 20", f->url);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(mfx_run_script(args, NULL));
	for (int i = 0; i < 200; i++) {
		for (int k = 0; k < 4; k++)
			hd_req_init(&r[k], "t1", "c1", 1, now(), NULL, k == 3 ? f->s3 : f->s1);
		verify_v1(c, r, 4,
			  (const uint8_t[]){HMACD_V_OK, HMACD_V_OK, HMACD_V_OK,
					    HMACD_V_BAD_SIGNATURE});
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	scrape(f);
	expect(f, V("hmacd-v1", "OK"), 600);
	expect(f, V("hmacd-v1", "BAD_SIGNATURE"), 200);
	expect(f, "hmacd_frames_total{}", 200);
	expect(f, "hmacd_frame_items_bucket{le=\"4\"}", 200);
	expect(f, "hmacd_frame_items_bucket{le=\"2\"}", 0);
	expect(f, "hmacd_frame_duration_seconds_count{}", 200);
	expect(f, TV("t1", "OK"), 600);
	hmacd_close(c);
}

/* Its own daemon: a peer outside --allow-uid is counted, and never served. */
static int setup_refusing(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	start(f, getuid() == 4242 ? "--allow-uid 4243" : "--allow-uid 4242");
	*state = f;
	return 0;
}

static void test_refused_peer(void **state)
{
	struct fx *f = *state;
	uint8_t buf[16];
	uint64_t before;
	int fd;

	/* the harness's own probe for "started" was refused already */
	scrape(f);
	before = value(f, "hmacd_connections_refused_total{reason=\"peer\"}");
	fd = hd_raw_connect(&f->d);
	assert_int_equal(hd_raw_recv(fd, buf, sizeof(buf), 30000), -1);
	close(fd);
	scrape(f);
	expect(f, "hmacd_connections_refused_total{reason=\"peer\"}", before + 1);
	expect(f, "hmacd_connections_total{}", 0);
	assert_false(has_series(f, "hmacd_tenant_verdicts_total")); /* no --metrics-tenants */
}

/* A bad --metrics-listen stops the daemon at start (2: usage), --check-config too. */
static void test_bad_listen(void **state)
{
	static const char *const bad[] = {"nope", "127.0.0.1:", "65536", "[::1]", "host:80"};
	const char *hmacd = getenv("HMACD");
	char cmd[512];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (int check = 0; check < 2; check++) {
			int st;

			snprintf(cmd, sizeof(cmd),
				 "%s --socket /nonexistent/s --db /nonexistent/db "
				 "--metrics-listen '%s'%s 2>/dev/null >/dev/null",
				 hmacd != NULL ? hmacd : "daemon/hmacd", bad[i],
				 check ? " --check-config" : "");
			st = system(cmd);
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 2)
				fail_msg("--metrics-listen '%s'%s: status %d, want exit 2", bad[i],
					 check ? " --check-config" : "", st);
		}
	}
	snprintf(cmd, sizeof(cmd),
		 "%s --socket /nonexistent/s --db /nonexistent/db --metrics-tenants 3 "
		 "2>/dev/null >/dev/null", hmacd != NULL ? hmacd : "daemon/hmacd");
	assert_int_equal(WEXITSTATUS(system(cmd)), 2); /* needs --metrics-listen */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scrape_under_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_peer, setup_refusing, teardown),
		cmocka_unit_test(test_bad_listen),
	};
	int rc = mfx_skip_reason();

	if (rc != 0)
		return rc;
	alarm(300);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
