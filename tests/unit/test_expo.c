/*
 * test_expo.c - the Prometheus text writer (server/expo.h): HELP/TYPE lines, label values
 * escaped (backslash, quote, line feed) and HELP text escaped (backslash, line feed), scaled
 * integers written exactly, and a histogram's buckets cumulative with le="+Inf", _sum and a
 * _count equal to the +Inf bucket. Also --metrics-listen's parser (server/metrics.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "server/expo.h"
#include "server/metrics.h"

/* The buffer as a NUL-terminated string (asserts it did not fail). */
static const char *text(struct hm_buf *b)
{
	assert_false(b->failed);
	hm_buf_append_byte(b, '\0');
	assert_false(b->failed);
	b->len--;
	return (const char *)b->data;
}

static void test_family_and_sample(void **state)
{
	struct hm_buf b;

	(void)state;
	hm_buf_init(&b, 4096);
	hm_expo_family(&b, "hmacd_x_total", "counter", "Things\\done\nwell \"so\"");
	hm_expo_sample(&b, "hmacd_x_total", NULL, 0, 42, 0);
	assert_string_equal(text(&b), "# HELP hmacd_x_total Things\\\\done\\nwell \"so\"\n"
				      "# TYPE hmacd_x_total counter\n"
				      "hmacd_x_total 42\n");
	hm_buf_free(&b);
}

static void test_label_escaping(void **state)
{
	static const char raw[] = "a\\b\"c\nd";
	struct hm_expo_label l[2] = {HM_EXPO_LABEL("tenant", raw), HM_EXPO_LABEL("verdict", "OK")};
	struct hm_buf b;

	(void)state;
	hm_buf_init(&b, 4096);
	hm_expo_sample(&b, "m", l, 2, 0, 0);
	assert_string_equal(text(&b), "m{tenant=\"a\\\\b\\\"c\\nd\",verdict=\"OK\"} 0\n");
	hm_buf_reset(&b);
	/* a value is a byte range: what follows it is not written, an embedded NUL is */
	l[0].value = "abcdef";
	l[0].value_len = 3;
	hm_expo_sample(&b, "m", l, 1, 7, 0);
	assert_string_equal(text(&b), "m{tenant=\"abc\"} 7\n");
	hm_buf_free(&b);
}

static void test_scaled(void **state)
{
	static const struct {
		uint64_t v;
		unsigned dec;
		const char *want;
	} cases[] = {
		{0, 0, "0"},
		{0, 9, "0"},
		{250000, 9, "0.00025"},
		{1000000000, 9, "1"},
		{1500000000, 9, "1.5"},
		{123456789012, 9, "123.456789012"},
		{5, 3, "0.005"},
		{18446744073709551615ull, 0, "18446744073709551615"},
		{18446744073709551615ull, 18, "18.446744073709551615"},
		{1, 18, "0.000000000000000001"},
	};
	struct hm_buf b;
	char want[96];

	(void)state;
	hm_buf_init(&b, 4096);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		hm_buf_reset(&b);
		hm_expo_sample(&b, "g", NULL, 0, cases[i].v, cases[i].dec);
		snprintf(want, sizeof(want), "g %s\n", cases[i].want);
		assert_string_equal(text(&b), want);
	}
	hm_buf_free(&b);
}

static void test_histogram(void **state)
{
	static const uint64_t bounds[3] = {5000, 250000, 1000000000};
	/* per bucket: 2 at or under 5 us, 0 up to 250 us, 3 up to 1 s, 1 above */
	static const uint64_t counts[4] = {2, 0, 3, 1};
	struct hm_expo_label l = HM_EXPO_LABEL("w", "x");
	struct hm_buf b;

	(void)state;
	hm_buf_init(&b, 4096);
	hm_expo_histogram(&b, "h_seconds", NULL, 0, bounds, counts, 3, 2500000000u, 9);
	assert_string_equal(text(&b), "h_seconds_bucket{le=\"0.000005\"} 2\n"
				      "h_seconds_bucket{le=\"0.00025\"} 2\n"
				      "h_seconds_bucket{le=\"1\"} 5\n"
				      "h_seconds_bucket{le=\"+Inf\"} 6\n"
				      "h_seconds_sum 2.5\n"
				      "h_seconds_count 6\n");
	hm_buf_reset(&b);
	hm_expo_histogram(&b, "h", &l, 1, bounds, counts, 1, 9, 0);
	assert_string_equal(text(&b), "h_bucket{w=\"x\",le=\"5000\"} 2\n"
				      "h_bucket{w=\"x\",le=\"+Inf\"} 2\n"
				      "h_sum{w=\"x\"} 9\n"
				      "h_count{w=\"x\"} 2\n");
	hm_buf_free(&b);
}

static void test_sticky_failure(void **state)
{
	struct hm_buf b;

	(void)state;
	hm_buf_init(&b, 16);
	hm_expo_family(&b, "a_long_metric_name", "gauge", "more than sixteen bytes");
	assert_true(b.failed);
	hm_buf_free(&b);
}

static void test_parse_listen(void **state)
{
	static const char *const bad[] = {
		"", ":", "x", "-1", "65536", "99999", "1.2.3.4", "1.2.3.4:", ":80", "1.2.3:80",
		"example.com:80", "[::1]", "[::1]80", "[::1]:", "[1.2.3.4]:80", "127.0.0.1:80x",
		" 80", "80 ", "+80", "[::1]:123456",
	};
	struct hm_metrics_addr a;
	const struct sockaddr_in *a4 = (const struct sockaddr_in *)&a.ss;
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&a.ss;
	struct in6_addr lo6 = IN6ADDR_LOOPBACK_INIT;

	(void)state;
	assert_int_equal(hm_metrics_parse_listen("9464", &a), HM_OK);
	assert_int_equal(a4->sin_family, AF_INET);
	assert_int_equal(ntohs(a4->sin_port), 9464);
	assert_int_equal(ntohl(a4->sin_addr.s_addr), INADDR_LOOPBACK); /* loopback by default */
	assert_int_equal(hm_metrics_parse_listen("0.0.0.0:0", &a), HM_OK);
	assert_int_equal(ntohl(a4->sin_addr.s_addr), INADDR_ANY);
	assert_int_equal(ntohs(a4->sin_port), 0);
	assert_int_equal(hm_metrics_parse_listen("localhost:65535", &a), HM_OK);
	assert_int_equal(ntohl(a4->sin_addr.s_addr), INADDR_LOOPBACK);
	assert_int_equal(ntohs(a4->sin_port), 65535);
	assert_int_equal(hm_metrics_parse_listen("[::1]:9464", &a), HM_OK);
	assert_int_equal(a6->sin6_family, AF_INET6);
	assert_memory_equal(&a6->sin6_addr, &lo6, sizeof(lo6));
	assert_int_equal(ntohs(a6->sin6_port), 9464);
	assert_int_equal(a.len, sizeof(struct sockaddr_in6));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (hm_metrics_parse_listen(bad[i], &a) != HM_EINVAL)
			fail_msg("--metrics-listen '%s' accepted", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_family_and_sample),
		cmocka_unit_test(test_label_escaping),
		cmocka_unit_test(test_scaled),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_sticky_failure),
		cmocka_unit_test(test_parse_listen),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
