/*
 * e2e_verify.c - the real daemon, driven by hmacctl and the C client: every verdict code,
 * the container binding, rotation / grace / revocation seen live, pipelining, many
 * connections, and the stats / ping calls of hmacctl.
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

struct fx {
	struct hd d;
	struct hmacd_client *c;
	uint8_t s11[32]; /* t1/c1 epoch 1 */
	uint8_t s12[32]; /* t1/c2 epoch 1 */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	hd_start(&f->d, "--threads 2 --skew 300");
	assert_int_equal(hd_key_create(&f->d, "t1", "c1", f->s11), 1);
	assert_int_equal(hd_key_create(&f->d, "t1", "c2", f->s12), 1);
	f->c = hd_client(&f->d);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	hmacd_close(f->c);
	hd_stop(&f->d);
	hd_cleanup(&f->d);
	free(f);
	return 0;
}

static uint64_t now(void)
{
	return (uint64_t)time(NULL);
}

static unsigned verify1(struct fx *f, const struct hd_req *r)
{
	uint8_t v = 0xff;

	assert_int_equal(hmacd_verify(f->c, &r->item, 1, &v), HMACD_OK);
	return v;
}

static void test_every_verdict(void **state)
{
	struct fx *f = *state;
	struct hd_req r[8];
	uint8_t v[8], s2[32];

	hd_req_init(&r[0], "t1", "c1", 1, now(), NULL, f->s11);             /* OK */
	hd_req_init(&r[1], "t1", "c1", 1, now(), NULL, f->s12);             /* BAD_SIGNATURE */
	hd_req_init(&r[2], "t9", "c1", 1, now(), NULL, f->s11);             /* UNKNOWN_KEY */
	hd_req_init(&r[3], "t1", "c1", 1, now() - 1000, NULL, f->s11);      /* STALE */
	hd_req_init(&r[4], "t1", "c1", 1, now(), "n-1", f->s11);            /* OK, then REPLAY */
	hd_req_init(&r[5], "t1", "c1", 1, now(), "n-1", f->s11);            /* REPLAY */
	hd_req_init(&r[6], "t1 bad", "c1", 1, now(), NULL, NULL);           /* MALFORMED */
	hd_req_init(&r[7], "t1", "c1", 7, now(), NULL, f->s11);             /* UNKNOWN_KEY */
	for (int i = 0; i < 8; i++)
		memcpy(&v[i], "\xff", 1);
	{
		struct hmacd_item items[8];

		for (int i = 0; i < 8; i++)
			items[i] = r[i].item;
		assert_int_equal(hmacd_verify(f->c, items, 8, v), HMACD_OK);
	}
	assert_int_equal(v[0], HMACD_V_OK);
	assert_int_equal(v[1], HMACD_V_BAD_SIGNATURE);
	assert_int_equal(v[2], HMACD_V_UNKNOWN_KEY);
	assert_int_equal(v[3], HMACD_V_STALE_TIMESTAMP);
	assert_int_equal(v[4], HMACD_V_OK);
	assert_int_equal(v[5], HMACD_V_REPLAY);
	assert_int_equal(v[6], HMACD_V_MALFORMED);
	assert_int_equal(v[7], HMACD_V_UNKNOWN_KEY);

	/* KEY_EXPIRED: rotate with no grace, live, then the old epoch is dead at once */
	assert_int_equal(hd_key_rotate(&f->d, "t1", "c1", 0, s2), 2);
	hd_req_init(&r[0], "t1", "c1", 1, now(), NULL, f->s11);
	assert_int_equal(verify1(f, &r[0]), HMACD_V_KEY_EXPIRED);
	hd_req_init(&r[0], "t1", "c1", 2, now(), NULL, s2);
	assert_int_equal(verify1(f, &r[0]), HMACD_V_OK);
	/* KEY_REVOKED, live */
	assert_int_equal(hd_ctl(&f->d, NULL, 0, "key revoke --tenant t1 --container c1 --epoch 2"), 0);
	assert_int_equal(verify1(f, &r[0]), HMACD_V_KEY_REVOKED);
}

/* The seed's bug: a signature for container c1 replayed against c2 must fail. */
static void test_container_escape_refused(void **state)
{
	struct fx *f = *state;
	struct hd_req r;

	hd_req_init(&r, "t1", "c1", 1, now(), NULL, f->s11);
	assert_int_equal(verify1(f, &r), HMACD_V_OK);
	/* the app server takes the container from the route: c2 */
	r.item.container = "c2";
	r.item.container_len = 2;
	assert_int_equal(verify1(f, &r), HMACD_V_BAD_SIGNATURE);
	/* and the path too */
	r.item.container = "c1";
	r.item.container_len = 2;
	r.item.path = "/containers/c2/exec";
	assert_int_equal(verify1(f, &r), HMACD_V_BAD_SIGNATURE);
}

static void test_rotation_with_grace_live(void **state)
{
	struct fx *f = *state;
	struct hd_req old, cur;
	uint8_t s2[32];

	assert_int_equal(hd_key_rotate(&f->d, "t1", "c1", 2, s2), 2);
	hd_req_init(&old, "t1", "c1", 1, now(), NULL, f->s11);
	hd_req_init(&cur, "t1", "c1", 2, now(), NULL, s2);
	assert_int_equal(verify1(f, &old), HMACD_V_OK); /* inside its grace window */
	assert_int_equal(verify1(f, &cur), HMACD_V_OK);
	sleep(3);
	hd_req_init(&old, "t1", "c1", 1, now(), NULL, f->s11);
	hd_req_init(&cur, "t1", "c1", 2, now(), NULL, s2);
	assert_int_equal(verify1(f, &old), HMACD_V_KEY_EXPIRED);
	assert_int_equal(verify1(f, &cur), HMACD_V_OK);
	/* keys made after the daemon started are served without restart */
	{
		uint8_t s3[32];
		struct hd_req r;

		assert_int_equal(hd_key_create(&f->d, "t2", "web-01", s3), 1);
		hd_req_init(&r, "t2", "web-01", 1, now(), NULL, s3);
		assert_int_equal(verify1(f, &r), HMACD_V_OK);
	}
}

static void test_pipelining_in_order(void **state)
{
	struct fx *f = *state;
	struct hd_req good, bad;
	uint64_t ids[40], id;
	uint8_t v[4];
	size_t n;

	hd_req_init(&good, "t1", "c1", 1, now(), NULL, f->s11);
	hd_req_init(&bad, "t1", "c1", 1, now(), NULL, f->s12);
	for (int i = 0; i < 40; i++) {
		struct hmacd_item items[2] = {good.item, i % 2 ? bad.item : good.item};

		assert_int_equal(hmacd_send_verify(f->c, items, 2, &ids[i]), HMACD_OK);
	}
	assert_int_equal(hmacd_in_flight(f->c), 40);
	assert_int_equal(hmacd_flush(f->c), HMACD_OK);
	for (int i = 0; i < 40; i++) {
		assert_int_equal(hmacd_recv_verify(f->c, &id, v, 4, &n), HMACD_OK);
		assert_int_equal(id, ids[i]);
		assert_int_equal(n, 2);
		assert_int_equal(v[0], HMACD_V_OK);
		assert_int_equal(v[1], i % 2 ? HMACD_V_BAD_SIGNATURE : HMACD_V_OK);
	}
	assert_int_equal(hmacd_in_flight(f->c), 0);
}

static void test_many_connections(void **state)
{
	struct fx *f = *state;
	struct hmacd_client *cs[200];
	struct hd_req r;
	uint64_t id;
	uint8_t v;
	size_t n;

	hd_req_init(&r, "t1", "c2", 1, now(), NULL, f->s12);
	for (int i = 0; i < 200; i++) {
		cs[i] = hd_client(&f->d);
		assert_int_equal(hmacd_send_verify(cs[i], &r.item, 1, &id), HMACD_OK);
		assert_int_equal(hmacd_flush(cs[i]), HMACD_OK);
	}
	for (int i = 199; i >= 0; i--) {
		assert_int_equal(hmacd_recv_verify(cs[i], &id, &v, 1, &n), HMACD_OK);
		assert_int_equal(v, HMACD_V_OK);
		hmacd_close(cs[i]);
	}
}

static void test_ping_and_stats(void **state)
{
	struct fx *f = *state;
	char out[8192], args[256];
	struct hd_req r;

	assert_int_equal(hmacd_ping(f->c), HMACD_OK);
	hd_req_init(&r, "t1", "c1", 1, now(), NULL, f->s12);
	assert_int_equal(verify1(f, &r), HMACD_V_BAD_SIGNATURE);
	snprintf(args, sizeof(args), "--socket %s ping", f->d.sock);
	assert_int_equal(hd_ctl(&f->d, out, sizeof(out), args), 0);
	assert_non_null(strstr(out, "pong"));
	snprintf(args, sizeof(args), "--socket %s stats", f->d.sock);
	assert_int_equal(hd_ctl(&f->d, out, sizeof(out), args), 0);
	assert_non_null(strstr(out, "verdict_bad_signature 1"));
	/* a row for every verdict, 9 (fleet mode only) included */
	assert_non_null(strstr(out, "verdict_unavailable 0"));
	assert_non_null(strstr(out, "connections_current"));
	snprintf(args, sizeof(args), "--socket %s stats --json", f->d.sock);
	assert_int_equal(hd_ctl(&f->d, out, sizeof(out), args), 0);
	assert_non_null(strstr(out, "\"verdict_bad_signature\":1"));
}

/* Not a timing assertion: prints a rough figure for the notes, checks every verdict. */
static void test_quick_throughput(void **state)
{
	struct fx *f = *state;
	struct hmacd_item items[64];
	struct hd_req r;
	uint8_t v[64];
	struct timespec a, b;
	const int rounds = 300;
	double secs;

	hd_req_init(&r, "t1", "c1", 1, now(), NULL, f->s11);
	for (int i = 0; i < 64; i++)
		items[i] = r.item;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < rounds; i++) {
		assert_int_equal(hmacd_verify(f->c, items, 64, v), HMACD_OK);
		for (int k = 0; k < 64; k++)
			assert_int_equal(v[k], HMACD_V_OK);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	printf("# quick run: %d verifies in %.3f s = %.0f verifies/s (1 connection, sync, 64/batch)\n",
	       rounds * 64, secs, rounds * 64 / secs);
}

/* `hmacctl <args>` (split on spaces) must exit with want; its stdout into out when not NULL. */
static void ctl_expect(struct fx *f, int want, char *out, size_t cap, const char *args)
{
	int got = hd_ctl(&f->d, out, cap, args);

	if (got != want)
		fail_msg("hmacctl %s: exit %d, want %d", args, got, want);
}

/*
 * Issue 10, finding 5 (hmacd-v1 side): a scope's policy can require hmacd-v1 signatures to carry
 * a nonce and to sign given headers; items that do not are INSUFFICIENT_COVERAGE, decided
 * before any key is looked at.
 */
static void test_v1_policy(void **state)
{
	struct fx *f = *state;
	struct hd_req r;
	char out[4096];

	ctl_expect(f, 0, NULL, 0,
		   "policy set --tenant t1 --container c1 --require @method @path @authority "
		   "--v1-nonce --v1-require content-type host");
	/* no nonce */
	hd_req_init(&r, "t1", "c1", 1, now(), NULL, f->s11);
	assert_int_equal(verify1(f, &r), HMACD_V_INSUFFICIENT_COVERAGE);
	/* a nonce, but host is not among the signed headers */
	hd_req_init(&r, "t1", "c1", 1, now(), "v1-policy-1", f->s11);
	assert_int_equal(verify1(f, &r), HMACD_V_INSUFFICIENT_COVERAGE);
	/* ... whatever the key: an unknown epoch is judged the same way, before the key */
	hd_req_init(&r, "t1", "c1", 9, now(), "v1-policy-1", f->s11);
	assert_int_equal(verify1(f, &r), HMACD_V_INSUFFICIENT_COVERAGE);
	/* host signed too: OK, and its nonce is now used */
	hd_req_init(&r, "t1", "c1", 1, now(), "v1-policy-1", NULL);
	r.headers[1] = (struct hmacd_header){"host", 4, "api.example.com", 15};
	hd_req_sign(&r, f->s11);
	assert_int_equal(verify1(f, &r), HMACD_V_OK);
	assert_int_equal(verify1(f, &r), HMACD_V_REPLAY);
	/* the other scope has no such policy */
	hd_req_init(&r, "t1", "c2", 1, now(), NULL, f->s12);
	assert_int_equal(verify1(f, &r), HMACD_V_OK);
	/* policy show says so */
	ctl_expect(f, 0, out, sizeof(out), "policy show --tenant t1 --container c1 --json");
	assert_non_null(strstr(out, "\"v1_nonce\":true,\"v1_require\":[\"content-type\",\"host\"]"));
	ctl_expect(f, 0, out, sizeof(out), "policy show --tenant t1 --container c1");
	assert_non_null(strstr(out, "hmacd-v1:    nonce required; signed headers required: "
				    "content-type host\n"));
	/* a tenant-wide one applies to its scopes */
	ctl_expect(f, 0, NULL, 0, "policy unset --tenant t1 --container c1");
	ctl_expect(f, 0, NULL, 0, "policy set --tenant t1 --require @method --v1-nonce");
	hd_req_init(&r, "t1", "c2", 1, now(), NULL, f->s12);
	assert_int_equal(verify1(f, &r), HMACD_V_INSUFFICIENT_COVERAGE);
	hd_req_init(&r, "t1", "c2", 1, now(), "v1-policy-2", f->s12);
	assert_int_equal(verify1(f, &r), HMACD_V_OK);
	ctl_expect(f, 0, NULL, 0, "policy unset --tenant t1");
	/* names that are not lower-case header names are refused, the store unchanged */
	ctl_expect(f, 2, NULL, 0, "policy set --tenant t1 --require @method --v1-require Host");
	ctl_expect(f, 0, out, sizeof(out), "policy list --tenant t1 --json");
	assert_string_equal(out, "[]\n");
}

/*
 * Issue 10, finding 4: a policy that requires a nonce but not `created` (or not the age check)
 * promised replay protection it could not give: the nonce is forgotten after --skew while the
 * signature stays valid. hmacctl and hmacd refuse such a policy; `policy show` describes the
 * replay protection that is really in force.
 */
static void test_nonce_needs_created(void **state)
{
	struct fx *f = *state;
	char out[4096], cmd[512];
	int rc;

	ctl_expect(f, 2, NULL, 0, "policy set --tenant t1 --require @method --no-created");
	ctl_expect(f, 2, NULL, 0, "policy set --tenant t1 --require @method --no-age-check");
	ctl_expect(f, 0, out, sizeof(out), "policy list --tenant t1 --json");
	assert_string_equal(out, "[]\n"); /* nothing stored */
	/* allowed when nothing is promised, and described as what it is */
	ctl_expect(f, 0, NULL, 0,
		   "policy set --tenant t1 --require @method --no-created --no-nonce");
	ctl_expect(f, 0, out, sizeof(out), "policy show --tenant t1 --json");
	assert_non_null(strstr(out, "\"replay_protection\":\"weak\""));
	ctl_expect(f, 0, out, sizeof(out), "policy show --tenant t1");
	assert_non_null(strstr(out, "replays:     weak: a signature without a nonce, or without "
				    "a created checked against the clock, can be replayed\n"));
	ctl_expect(f, 0, NULL, 0, "policy set --tenant t1 --require @method --no-nonce");
	ctl_expect(f, 0, out, sizeof(out), "policy show --tenant t1 --json");
	assert_non_null(strstr(out, "\"replay_protection\":\"with_nonce\""));
	ctl_expect(f, 0, NULL, 0, "policy unset --tenant t1");
	ctl_expect(f, 0, out, sizeof(out), "policy show --tenant t1 --json");
	assert_non_null(strstr(out, "\"replay_protection\":\"all\""));
	/* the daemon refuses such a default at start (a usage error) */
	snprintf(cmd, sizeof(cmd), "%s --socket %s/x.sock --db %s/db --policy-no-created "
		 "--check-config >/dev/null 2>&1",
		 getenv("HMACD") != NULL ? getenv("HMACD") : "daemon/hmacd", f->d.dir, f->d.dir);
	rc = system(cmd);
	assert_true(WIFEXITED(rc));
	assert_int_equal(WEXITSTATUS(rc), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_every_verdict, setup, teardown),
		cmocka_unit_test_setup_teardown(test_container_escape_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v1_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nonce_needs_created, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation_with_grace_live, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipelining_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_connections, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ping_and_stats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quick_throughput, setup, teardown),
	};

	alarm(120);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
