/*
 * e2e_metrics_fleet.c - the fleet's metrics against real daemons and a real redis-server: two
 * hosts of one fleet with --metrics-listen; the follower's state and connection, and a nonce
 * item OK on one host and REPLAY on the other, whose claim was answered "taken": the second
 * host counted the item OK, then moved it to REPLAY when Redis answered, under its scheme and
 * its tenant alike (the claim's tag, tally.h).
 *
 * Skipped (77) without redis-server (fleetfx.h) or prometheus_client (metricsfx.h).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fleetfx.h"
#include "metricsfx.h"

#define T "tenant-metrics-7c21"
#define C "container-metrics-0d4e"
#define THREADS 2
#define WAIT_MS 15000

struct fx {
	struct ff f;
	uint8_t secret[32];
	char url[2][96];
	char log[2][160];
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	struct ff_run res;
	char args[512];

	assert_non_null(fx);
	*state = fx;
	ff_setup(&fx->f, false);
	ff_fctl_ok(&fx->f, &res, "key create --tenant %s --container %s --json", T, C);
	ff_json_secret(res.out, fx->secret);
	for (int i = 0; i < 2; i++) {
		snprintf(fx->log[i], sizeof(fx->log[i]), "%s/metrics-host%d.log", fx->f.dir, i);
		snprintf(args, sizeof(args),
			 "--threads %d --fleet-timeout %d --metrics-listen 127.0.0.1:0 "
			 "--metrics-tenants 4 --log-level info --log-file %s",
			 THREADS, ff_valgrind() ? 5000 : 1000, fx->log[i]);
		ff_host_start(&fx->f, i, args);
		mfx_find_url(fx->log[i], fx->url[i], sizeof(fx->url[i]));
	}
	/* the claimers connect asynchronously: an early frame would find them connecting */
	for (int i = 0; i < 2; i++) {
		int64_t deadline = ff_deadline(&fx->f, WAIT_MS);

		while (ff_stat(&fx->f.h[i], "fleet_nonce_connections") != THREADS)
			ff_wait_or_fail(deadline, "host %d: claimers not connected", i);
	}
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	if (fx == NULL)
		return 0;
	for (int i = 0; i < 2; i++)
		(void)unlink(fx->log[i]);
	ff_teardown(&fx->f);
	free(fx);
	return 0;
}

static uint8_t verify(struct fx *fx, int host, const struct hd_req *r)
{
	uint8_t v = 0xff;

	assert_int_equal(hmacd_verify(fx->f.h[host].c, &r->item, 1, &v), HMACD_OK);
	return v;
}

#define V(verdict) "hmacd_verdicts_total{scheme=\"hmacd-v1\",verdict=\"" verdict "\"}"
#define TV(verdict) "hmacd_tenant_verdicts_total{tenant=\"" T "\",verdict=\"" verdict "\"}"

static void test_fleet_metrics(void **state)
{
	struct fx *fx = *state;
	struct hd_req r;
	char *s0 = NULL, *s1 = NULL;

	hd_req_init(&r, T, C, 1, (uint64_t)time(NULL), "metrics-nonce-1", fx->secret);
	assert_int_equal(verify(fx, 0, &r), HMACD_V_OK);
	assert_int_equal(verify(fx, 1, &r), HMACD_V_REPLAY); /* claimed by host 0 already */
	mfx_scrape(fx->url[0], &s0);
	mfx_scrape(fx->url[1], &s1);
	for (int i = 0; i < 2; i++) {
		const char *s = i == 0 ? s0 : s1;

		mfx_expect(s, "hmacd_fleet_state{state=\"following\"}", 1);
		mfx_expect(s, "hmacd_fleet_state{state=\"down\"}", 0);
		mfx_expect(s, "hmacd_fleet_connected{}", 1);
		mfx_expect(s, "hmacd_fleet_nonce_connections{}", THREADS);
		mfx_expect(s, "hmacd_fleet_nonce_claims_total{result=\"unavailable\"}", 0);
		mfx_expect(s, V("UNAVAILABLE"), 0);
	}
	mfx_expect(s0, "hmacd_fleet_nonce_claims_total{result=\"claimed\"}", 1);
	mfx_expect(s0, "hmacd_fleet_nonce_claims_total{result=\"taken\"}", 0);
	mfx_expect(s0, V("OK"), 1);
	mfx_expect(s0, V("REPLAY"), 0);
	mfx_expect(s0, TV("OK"), 1);
	/* host 1: counted OK when judged, moved to REPLAY when Redis answered "taken" */
	mfx_expect(s1, "hmacd_fleet_nonce_claims_total{result=\"claimed\"}", 0);
	mfx_expect(s1, "hmacd_fleet_nonce_claims_total{result=\"taken\"}", 1);
	mfx_expect(s1, V("OK"), 0);
	mfx_expect(s1, V("REPLAY"), 1);
	mfx_expect(s1, TV("REPLAY"), 1);
	if (strstr(s1, TV("OK")) != NULL)
		mfx_expect(s1, TV("OK"), 0);
	free(s0);
	free(s1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fleet_metrics),
	};
	int rc = ff_skip_reason("e2e_metrics_fleet");

	if (rc != 0)
		return rc;
	rc = mfx_skip_reason();
	if (rc != 0)
		return rc;
	signal(SIGPIPE, SIG_IGN);
	alarm(ff_valgrind() ? 600 : 120);
	return cmocka_run_group_tests(tests, setup, teardown);
}
