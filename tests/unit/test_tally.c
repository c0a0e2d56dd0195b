/*
 * test_tally.c - a worker's tally (server/tally.h): verdicts by scheme, recounts of a fleet
 * claim's answer, histogram buckets (a value on a bound falls in that bound's bucket), and the
 * tenant table: at most N rows, given only to tenants whose key exists (a verdict past
 * UNKNOWN_KEY), the rest counted in the __other__ row, rows shared by every worker.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "server/tally.h"

#define T(s) ((const uint8_t *)(s)), strlen(s)

static uint64_t tv(const struct hm_tally *t, unsigned row, enum hm_verdict v)
{
	return hm_counter_get(&t->tenant_verdicts[row * HM_V__COUNT + v]);
}

static void test_schemes_and_recount(void **state)
{
	struct hm_tally t;
	uint32_t tag;

	(void)state;
	assert_int_equal(hm_tally_init(&t, NULL), HM_OK);
	(void)hm_tally_item(&t, HM_TALLY_V1, T("a"), HM_V_OK);
	(void)hm_tally_item(&t, HM_TALLY_V1, T("a"), HM_V_BAD_SIGNATURE);
	tag = hm_tally_item(&t, HM_TALLY_RFC9421, T("a"), HM_V_OK);
	(void)hm_tally_item(&t, HM_TALLY_UNKNOWN, NULL, 0, HM_V_MALFORMED);
	hm_tally_recount(&t, tag, HM_V_OK, HM_V_REPLAY);
	assert_int_equal(hm_counter_get(&t.verdicts[HM_TALLY_V1][HM_V_OK]), 1);
	assert_int_equal(hm_counter_get(&t.verdicts[HM_TALLY_V1][HM_V_BAD_SIGNATURE]), 1);
	assert_int_equal(hm_counter_get(&t.verdicts[HM_TALLY_RFC9421][HM_V_OK]), 0);
	assert_int_equal(hm_counter_get(&t.verdicts[HM_TALLY_RFC9421][HM_V_REPLAY]), 1);
	assert_int_equal(hm_counter_get(&t.verdicts[HM_TALLY_UNKNOWN][HM_V_MALFORMED]), 1);
	assert_string_equal(hm_tally_scheme_name(HM_TALLY_V1), "hmacd-v1");
	assert_string_equal(hm_tally_scheme_name(HM_TALLY_RFC9421), "rfc9421");
	assert_string_equal(hm_tally_scheme_name(99), "unknown");
	hm_tally_destroy(&t);
}

static void test_histograms(void **state)
{
	struct hm_tally t;

	(void)state;
	assert_int_equal(hm_tally_init(&t, NULL), HM_OK);
	hm_tally_frame_time(&t, 0);
	hm_tally_frame_time(&t, hm_tally_time_bounds_ns[0]);     /* on the bound: its bucket */
	hm_tally_frame_time(&t, hm_tally_time_bounds_ns[0] + 1); /* the next one */
	hm_tally_frame_time(&t, UINT64_C(5000000000));           /* 5 s: above every bound */
	assert_int_equal(hm_counter_get(&t.time_buckets[0]), 2);
	assert_int_equal(hm_counter_get(&t.time_buckets[1]), 1);
	assert_int_equal(hm_counter_get(&t.time_buckets[HM_TALLY_TIME_BOUNDS]), 1);
	assert_int_equal(hm_counter_get(&t.time_sum_ns),
			 2 * hm_tally_time_bounds_ns[0] + 1 + UINT64_C(5000000000));
	hm_tally_frame_items(&t, 1);
	hm_tally_frame_items(&t, 3);
	hm_tally_frame_items(&t, 100000);
	assert_int_equal(hm_counter_get(&t.item_buckets[0]), 1);
	assert_int_equal(hm_counter_get(&t.item_buckets[2]), 1); /* le 4 */
	assert_int_equal(hm_counter_get(&t.item_buckets[HM_TALLY_ITEM_BOUNDS]), 1);
	assert_int_equal(hm_counter_get(&t.item_sum), 100004);
	for (size_t i = 1; i < HM_TALLY_TIME_BOUNDS; i++)
		assert_true(hm_tally_time_bounds_ns[i] > hm_tally_time_bounds_ns[i - 1]);
	for (size_t i = 1; i < HM_TALLY_ITEM_BOUNDS; i++)
		assert_true(hm_tally_item_bounds[i] > hm_tally_item_bounds[i - 1]);
	hm_tally_destroy(&t);
}

static void test_tenants(void **state)
{
	struct hm_tenants *tn = NULL;
	struct hm_tally w0, w1;
	const char *name;
	size_t len;
	uint32_t tag;

	(void)state;
	assert_int_equal(hm_tenants_new(0, &tn), HM_EINVAL);
	assert_int_equal(hm_tenants_new(HM_TALLY_TENANTS_MAX + 1, &tn), HM_EINVAL);
	assert_int_equal(hm_tenants_new(2, &tn), HM_OK);
	assert_int_equal(hm_tally_init(&w0, tn), HM_OK);
	assert_int_equal(hm_tally_init(&w1, tn), HM_OK);
	/* a tenant whose key does not exist never takes a row */
	(void)hm_tally_item(&w0, HM_TALLY_V1, T("ghost"), HM_V_UNKNOWN_KEY);
	(void)hm_tally_item(&w0, HM_TALLY_V1, T("ghost"), HM_V_MALFORMED);
	(void)hm_tally_item(&w0, HM_TALLY_V1, T("ghost"), HM_V_INSUFFICIENT_COVERAGE);
	assert_int_equal(hm_tenants_used(tn), 0);
	assert_int_equal(tv(&w0, 2, HM_V_UNKNOWN_KEY), 1);
	/* the first two real ones do, whichever worker saw them */
	(void)hm_tally_item(&w0, HM_TALLY_V1, T("t1"), HM_V_BAD_SIGNATURE);
	(void)hm_tally_item(&w1, HM_TALLY_V1, T("t2"), HM_V_OK);
	(void)hm_tally_item(&w1, HM_TALLY_V1, T("t1"), HM_V_OK);
	(void)hm_tally_item(&w0, HM_TALLY_V1, T("t1"), HM_V_UNKNOWN_KEY); /* has a row now */
	assert_int_equal(hm_tenants_used(tn), 2);
	name = hm_tenants_name(tn, 0, &len);
	assert_int_equal(len, 2);
	assert_memory_equal(name, "t1", 2);
	name = hm_tenants_name(tn, 1, &len);
	assert_memory_equal(name, "t2", 2);
	assert_int_equal(tv(&w0, 0, HM_V_BAD_SIGNATURE), 1);
	assert_int_equal(tv(&w0, 0, HM_V_UNKNOWN_KEY), 1);
	assert_int_equal(tv(&w1, 0, HM_V_OK), 1);
	assert_int_equal(tv(&w1, 1, HM_V_OK), 1);
	/* the table is full: a third tenant is __other__, and a recount follows it there */
	tag = hm_tally_item(&w1, HM_TALLY_RFC9421, T("t3"), HM_V_OK);
	assert_int_equal(hm_tenants_used(tn), 2);
	assert_int_equal(tv(&w1, 2, HM_V_OK), 1);
	hm_tally_recount(&w1, tag, HM_V_OK, HM_V_UNAVAILABLE);
	assert_int_equal(tv(&w1, 2, HM_V_OK), 0);
	assert_int_equal(tv(&w1, 2, HM_V_UNAVAILABLE), 1);
	assert_int_equal(hm_counter_get(&w1.verdicts[HM_TALLY_RFC9421][HM_V_UNAVAILABLE]), 1);
	/* no tenant (an item that did not decode): __other__ */
	(void)hm_tally_item(&w0, HM_TALLY_UNKNOWN, NULL, 0, HM_V_MALFORMED);
	assert_int_equal(tv(&w0, 2, HM_V_MALFORMED), 2);
	hm_tally_destroy(&w0);
	hm_tally_destroy(&w1);
	hm_tenants_free(tn);
}

/* Many tenants through a larger table: every name finds its own row again. */
static void test_tenants_many(void **state)
{
	struct hm_tenants *tn = NULL;
	struct hm_tally w;
	char name[32];

	(void)state;
	assert_int_equal(hm_tenants_new(HM_TALLY_TENANTS_MAX, &tn), HM_OK);
	assert_int_equal(hm_tally_init(&w, tn), HM_OK);
	for (int round = 0; round < 2; round++)
		for (unsigned i = 0; i < HM_TALLY_TENANTS_MAX + 50; i++) {
			snprintf(name, sizeof(name), "tenant-%u", i);
			(void)hm_tally_item(&w, HM_TALLY_V1, T(name), HM_V_OK);
		}
	assert_int_equal(hm_tenants_used(tn), HM_TALLY_TENANTS_MAX);
	for (unsigned i = 0; i < HM_TALLY_TENANTS_MAX; i++)
		assert_int_equal(tv(&w, i, HM_V_OK), 2);
	assert_int_equal(tv(&w, HM_TALLY_TENANTS_MAX, HM_V_OK), 100);
	hm_tally_destroy(&w);
	hm_tenants_free(tn);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schemes_and_recount),
		cmocka_unit_test(test_histograms),
		cmocka_unit_test(test_tenants),
		cmocka_unit_test(test_tenants_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
