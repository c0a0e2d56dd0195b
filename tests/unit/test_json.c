/*
 * test_json.c - the strict JSON reader (proto/json.c): what it accepts, and that it refuses
 * everything it promises to refuse, with a line and column.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/json.h"

static struct jm_value *ok(const char *text)
{
	struct jm_value *v = NULL;
	char err[128] = "";

	if (jm_parse(text, strlen(text), &v, err, sizeof(err)) != HM_OK)
		fail_msg("refused %s: %s", text, err);
	return v;
}

static void refused(const char *text, size_t len)
{
	struct jm_value *v = NULL;
	char err[128] = "";

	if (jm_parse(text, len, &v, err, sizeof(err)) != HM_EMALFORMED)
		fail_msg("accepted %s", text);
	assert_null(v);
	assert_non_null(strstr(err, "line "));
}

static void test_values(void **state)
{
	struct jm_value *v;
	const struct jm_value *m;

	(void)state;
	v = ok(" {\"a\": [1, -2, true, false, null, \"x\\u00e9\\ud83d\\ude00\\n\"], \"b\": {}}\n");
	assert_int_equal(v->type, JM_OBJ);
	assert_int_equal(v->len, 2);
	m = jm_get(v, "a");
	assert_non_null(m);
	assert_int_equal(m->type, JM_ARR);
	assert_int_equal(m->len, 6);
	assert_int_equal(jm_at(m, 0)->mag, 1);
	assert_true(jm_at(m, 1)->neg);
	assert_true(jm_at(m, 2)->b);
	assert_int_equal(jm_at(m, 4)->type, JM_NULL);
	assert_string_equal(jm_at(m, 5)->s, "x\xc3\xa9\xf0\x9f\x98\x80\n");
	assert_null(jm_at(m, 6));
	assert_null(jm_get(v, "c"));
	jm_free(v);
	v = ok("18446744073709551615");
	assert_int_equal(v->mag, UINT64_MAX);
	jm_free(v);
	v = ok("\"a\\u0000b\"");
	assert_int_equal(v->len, 3);
	jm_free(v);
}

static void test_refused(void **state)
{
	static const char *const bad[] = {
		"",		     "{",		  "{\"a\":1,}",	       "[1,]",
		"{\"a\":1,\"a\":2}", "1.5",		  "1e3",	       "01",
		"-",		     "18446744073709551616", "\"\\ud800\"",	       "\"\\x\"",
		"\"a\tb\"",	     "\"\xff\"",	  "\"\xc0\xaf\"",       "tru",
		"{} x",		     "{a:1}",		  "'a'",	       "[1 2]",
		"NaN",		     "\"\\u12\"",	  "{\"a\" 1}",
	};
	char deep[200];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused(bad[i], strlen(bad[i]));
	refused("\"a\0b\"", 5); /* a raw NUL */
	memset(deep, '[', sizeof(deep));
	refused(deep, sizeof(deep)); /* nesting deeper than 64 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
