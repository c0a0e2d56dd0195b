/*
 * test_sfv.c - unit tests of the RFC 8941 structured field parser and serializer (proto/sfv.c).
 *
 * Table driven: each accepted input is written with the serialization RFC 8941 section 4.1
 * gives for it (so parse + serialize is checked against hand-written bytes, not against the
 * code's own idea), and each refused input names the rule of section 4.2 it breaks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/sfv.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct ok_case {
	enum hm_sf_kind kind;
	const char *in;
	const char *out; /* the canonical serialization */
};

static const struct ok_case ok_cases[] = {
	/* dictionaries: spacing, booleans, parameters, inner lists */
	{HM_SF_KIND_DICT, "", ""},
	{HM_SF_KIND_DICT, "   ", ""},
	{HM_SF_KIND_DICT, "a=1", "a=1"},
	{HM_SF_KIND_DICT, "  a=1 ,\tb=2  ", "a=1, b=2"},
	{HM_SF_KIND_DICT, "a=1,b=2", "a=1, b=2"},
	{HM_SF_KIND_DICT, "a, b;x=1, c=?1, d=?0", "a, b;x=1, c, d=?0"},
	{HM_SF_KIND_DICT, "a=1, b=2;x=1;y=2, c=(a   b    c), d", "a=1, b=2;x=1;y=2, c=(a b c), d"},
	{HM_SF_KIND_DICT, "sig1=( \"@method\"  \"@path\" );created=1;keyid=\"k\"",
	 "sig1=(\"@method\" \"@path\");created=1;keyid=\"k\""},
	{HM_SF_KIND_DICT, "a=();x", "a=();x"},
	{HM_SF_KIND_DICT, "a=1, a=2", "a=2"},                /* overwrite, first position */
	{HM_SF_KIND_DICT, "a=1, b=2, a=(x)", "a=(x), b=2"},
	{HM_SF_KIND_DICT, "a;x=1;x=2", "a;x=2"},             /* parameter overwrite */
	{HM_SF_KIND_DICT, "*a.b-c_d*=1", "*a.b-c_d*=1"},
	{HM_SF_KIND_DICT, "a=1;  k=2", "a=1;k=2"},           /* SP after ';' */
	{HM_SF_KIND_DICT, "a=?1;p", "a;p"},
	{HM_SF_KIND_DICT, "a=1\t", "a=1"}, /* OWS after the last member is discarded */
	/* bare items */
	{HM_SF_KIND_ITEM, "42", "42"},
	{HM_SF_KIND_ITEM, "-42", "-42"},
	{HM_SF_KIND_ITEM, "-0", "0"},
	{HM_SF_KIND_ITEM, "999999999999999", "999999999999999"},
	{HM_SF_KIND_ITEM, "-999999999999999", "-999999999999999"},
	{HM_SF_KIND_ITEM, "007", "7"},
	{HM_SF_KIND_ITEM, "1.5", "1.5"},
	{HM_SF_KIND_ITEM, "1.50", "1.5"},
	{HM_SF_KIND_ITEM, "1.000", "1.0"},
	{HM_SF_KIND_ITEM, "-0.125", "-0.125"},
	{HM_SF_KIND_ITEM, "123456789012.123", "123456789012.123"},
	{HM_SF_KIND_ITEM, "\"\"", "\"\""},
	{HM_SF_KIND_ITEM, "\"a \\\"q\\\" \\\\ b\"", "\"a \\\"q\\\" \\\\ b\""},
	{HM_SF_KIND_ITEM, "tok", "tok"},
	{HM_SF_KIND_ITEM, "*t:o/k!#$%&'*+-.^_`|~", "*t:o/k!#$%&'*+-.^_`|~"},
	{HM_SF_KIND_ITEM, "Tok", "Tok"},
	{HM_SF_KIND_ITEM, ":aGVsbG8=:", ":aGVsbG8=:"},
	{HM_SF_KIND_ITEM, ":aGVsbG8:", ":aGVsbG8=:"},       /* missing padding is added */
	{HM_SF_KIND_ITEM, "::", "::"},
	{HM_SF_KIND_ITEM, "?0", "?0"},
	{HM_SF_KIND_ITEM, "?1;a=1;b", "?1;a=1;b"},
	{HM_SF_KIND_ITEM, "  1  ", "1"},
	/* lists */
	{HM_SF_KIND_LIST, "a, b, c", "a, b, c"},
	{HM_SF_KIND_LIST, "a, a", "a, a"},
	{HM_SF_KIND_LIST, "(1 2);p, \"x\";q=?0", "(1 2);p, \"x\";q=?0"},
	{HM_SF_KIND_LIST, "()", "()"},
	{HM_SF_KIND_LIST, "( )", "()"},
};

struct bad_case {
	enum hm_sf_kind kind;
	const char *in;
	const char *why;
};

static const struct bad_case bad_cases[] = {
	{HM_SF_KIND_DICT, "a=1,", "trailing comma"},
	{HM_SF_KIND_DICT, "a=1, ", "trailing comma and space"},
	{HM_SF_KIND_DICT, ",a=1", "leading comma"},
	{HM_SF_KIND_DICT, "a=1,,b=2", "empty member"},
	{HM_SF_KIND_DICT, "\ta=1", "leading HTAB is not SP"},
	{HM_SF_KIND_DICT, "A=1", "upper-case key"},
	{HM_SF_KIND_DICT, "1a=1", "key starts with a digit"},
	{HM_SF_KIND_DICT, "a =1", "space before '='"},
	{HM_SF_KIND_DICT, "a= 1", "space after '='"},
	{HM_SF_KIND_DICT, "a=1 b=2", "missing comma"},
	{HM_SF_KIND_DICT, "a=1;", "empty parameter key"},
	{HM_SF_KIND_DICT, "a=1;K=2", "upper-case parameter key"},
	{HM_SF_KIND_DICT, "a=1 ;k=2", "space before ';'"},
	{HM_SF_KIND_DICT, "a=(1 2", "inner list not closed"},
	{HM_SF_KIND_DICT, "a=(1,2)", "comma in an inner list"},
	{HM_SF_KIND_DICT, "a=(1)(2)", "two inner lists"},
	{HM_SF_KIND_DICT, "a=((1))", "nested inner list"},
	{HM_SF_KIND_DICT, "a=(1\t2)", "HTAB inside an inner list"},
	{HM_SF_KIND_DICT, "a=1;k=(1)", "inner list as a parameter value"},
	{HM_SF_KIND_ITEM, "", "empty item"},
	{HM_SF_KIND_ITEM, "(1)", "inner list as an item field"},
	{HM_SF_KIND_ITEM, "1 2", "two items"},
	{HM_SF_KIND_ITEM, "-", "sign alone"},
	{HM_SF_KIND_ITEM, "--1", "double sign"},
	{HM_SF_KIND_ITEM, "1000000000000000", "16-digit integer"},
	{HM_SF_KIND_ITEM, "1.", "decimal ending in '.'"},
	{HM_SF_KIND_ITEM, "1.1234", "4 fractional digits"},
	{HM_SF_KIND_ITEM, "1234567890123.1", "13 integer digits in a decimal"},
	{HM_SF_KIND_ITEM, "1.2.3", "two dots"},
	{HM_SF_KIND_ITEM, ".5", "leading dot"},
	{HM_SF_KIND_ITEM, "\"abc", "unterminated string"},
	{HM_SF_KIND_ITEM, "\"a\\nb\"", "escape other than \\\" and \\\\"},
	{HM_SF_KIND_ITEM, "\"a\\", "backslash at the end"},
	{HM_SF_KIND_ITEM, "\"a\tb\"", "HTAB in a string"},
	{HM_SF_KIND_ITEM, "\"\xc3\xa9\"", "non-ASCII in a string"},
	{HM_SF_KIND_ITEM, "\"a\x7f\"", "DEL in a string"},
	{HM_SF_KIND_ITEM, "t\"", "quote after a token"},
	{HM_SF_KIND_ITEM, "_tok", "token starting with '_'"},
	{HM_SF_KIND_ITEM, ":aGVsbG8=", "byte sequence not closed"},
	{HM_SF_KIND_ITEM, ":aGV sbG8=:", "space in a byte sequence"},
	{HM_SF_KIND_ITEM, ":aGVs-bG8=:", "base64url character"},
	{HM_SF_KIND_ITEM, ":a:", "one base64 character"},
	{HM_SF_KIND_ITEM, ":aGVsbG9=:", "non-zero pad bits"},
	{HM_SF_KIND_ITEM, ":aG=VsbG8=:", "padding in the middle"},
	{HM_SF_KIND_ITEM, ":aGVsbG8==:", "too much padding"},
	{HM_SF_KIND_ITEM, "?", "boolean without a value"},
	{HM_SF_KIND_ITEM, "?2", "boolean 2"},
	{HM_SF_KIND_ITEM, "?true", "boolean word"},
	{HM_SF_KIND_ITEM, "@x", "no bare item starts with '@'"},
	{HM_SF_KIND_LIST, "a,", "trailing comma in a list"},
	{HM_SF_KIND_LIST, "a b", "missing comma in a list"},
	{HM_SF_KIND_LIST, "a=1", "dictionary syntax in a list"},
};

static void check_ok(const struct ok_case *c)
{
	struct hm_sf_field *f = malloc(sizeof(*f));
	size_t inlen = strlen(c->in), outlen = strlen(c->out), len = 99;
	uint8_t *in = malloc(inlen + 1), out[256];

	assert_non_null(f);
	assert_non_null(in);
	memcpy(in, c->in, inlen); /* exact-size copy so a read past the end is an ASan error */
	if (hm_sf_parse(in, inlen, c->kind, f) != HM_OK)
		fail_msg("refused: %s", c->in);
	assert_int_equal(hm_sf_serialize(f, out, sizeof(out), &len), HM_OK);
	if (len != outlen || memcmp(out, c->out, len) != 0)
		fail_msg("%s -> %.*s, want %s", c->in, (int)len, (const char *)out, c->out);
	/* exactly the right capacity works, one byte less does not */
	assert_int_equal(hm_sf_serialize(f, out, outlen, &len), HM_OK);
	if (outlen > 0) {
		assert_int_equal(hm_sf_serialize(f, out, outlen - 1, &len), HM_ETOOBIG);
		assert_int_equal(len, 0);
	}
	/* the canonical form is a fixed point */
	assert_int_equal(hm_sf_parse((const uint8_t *)c->out, outlen, c->kind, f), HM_OK);
	assert_int_equal(hm_sf_serialize(f, out, sizeof(out), &len), HM_OK);
	assert_memory_equal(out, c->out, outlen);
	free(in);
	free(f);
}

static void test_ok_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(ok_cases); i++)
		check_ok(&ok_cases[i]);
}

static void test_bad_cases(void **state)
{
	struct hm_sf_field *f = malloc(sizeof(*f));

	(void)state;
	assert_non_null(f);
	for (size_t i = 0; i < ARRAY_LEN(bad_cases); i++) {
		size_t n = strlen(bad_cases[i].in);
		uint8_t *in = malloc(n + 1);

		assert_non_null(in);
		memcpy(in, bad_cases[i].in, n);
		if (hm_sf_parse(in, n, bad_cases[i].kind, f) != HM_EMALFORMED)
			fail_msg("accepted (%s): %s", bad_cases[i].why, bad_cases[i].in);
		free(in);
	}
	free(f);
}

static void test_values(void **state)
{
	struct hm_sf_field f;
	const char *in = "sig=(\"@method\" \"a\\\"b\");created=1618884473;keyid=\"k\\\\1\";n=-1.5;"
			 "b=:aGVsbG8:";
	const struct hm_sf_member *m;
	const struct hm_sf_bare *v;
	uint8_t buf[8];
	size_t n;

	(void)state;
	assert_int_equal(hm_sf_parse((const uint8_t *)in, strlen(in), HM_SF_KIND_DICT, &f), HM_OK);
	m = hm_sf_dict_get(&f, "sig", 3);
	assert_non_null(m);
	assert_null(hm_sf_dict_get(&f, "si", 2));
	assert_true(m->is_inner);
	assert_int_equal(m->nitems, 2);
	assert_true(hm_sf_string_eq(&f.items[m->first_item].bare, "@method", 7));
	assert_true(hm_sf_string_eq(&f.items[m->first_item + 1].bare, "a\"b", 3));
	assert_false(hm_sf_string_eq(&f.items[m->first_item + 1].bare, "a\\\"b", 4));
	assert_int_equal(hm_sf_string_len(&f.items[m->first_item + 1].bare), 3);
	v = hm_sf_param_get(&f, m->first_param, m->nparams, "created");
	assert_non_null(v);
	assert_int_equal(v->type, HM_SF_INTEGER);
	assert_int_equal(v->num, 1618884473);
	v = hm_sf_param_get(&f, m->first_param, m->nparams, "keyid");
	assert_true(hm_sf_string_eq(v, "k\\1", 3));
	v = hm_sf_param_get(&f, m->first_param, m->nparams, "n");
	assert_int_equal(v->type, HM_SF_DECIMAL);
	assert_int_equal(v->num, -1500);
	assert_null(hm_sf_param_get(&f, m->first_param, m->nparams, "nonce"));
	v = hm_sf_param_get(&f, m->first_param, m->nparams, "b");
	assert_int_equal(hm_sf_bytes_decode(v, buf, sizeof(buf), &n), HM_OK);
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(hm_sf_bytes_decode(v, buf, 4, &n), HM_ETOOBIG);
	assert_int_equal(hm_sf_bytes_decode(&f.items[m->first_item].bare, buf, 8, &n), HM_EINVAL);
}

/* the RFC 9421 B.2.5 Signature value decodes to the 32-byte MAC */
static void test_signature_bytes(void **state)
{
	static const uint8_t want[32] = {
		0xa7, 0x17, 0x10, 0xc3, 0xa1, 0xb7, 0x02, 0x3b, 0x4c, 0x05, 0x08,
		0xf0, 0xa3, 0xc5, 0xf3, 0x91, 0x97, 0xff, 0x6f, 0x0b, 0x39, 0x2d,
		0xe9, 0x5b, 0x68, 0xc9, 0x39, 0xac, 0x62, 0x06, 0xb4, 0x4f};
	const char *in = "sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:";
	struct hm_sf_field f;
	uint8_t mac[64];
	size_t n;

	(void)state;
	assert_int_equal(hm_sf_parse((const uint8_t *)in, strlen(in), HM_SF_KIND_DICT, &f), HM_OK);
	assert_int_equal(f.nmembers, 1);
	assert_int_equal(hm_sf_bytes_decode(&f.members[0].bare, mac, sizeof(mac), &n), HM_OK);
	assert_int_equal(n, 32);
	assert_memory_equal(mac, want, 32);
}

/* several field lines parse as their ", " join would */
static void test_parse_more(void **state)
{
	struct hm_sf_field f;
	uint8_t out[128];
	size_t len;

	(void)state;
	assert_int_equal(hm_sf_parse((const uint8_t *)"a=1, b", 6, HM_SF_KIND_DICT, &f), HM_OK);
	assert_int_equal(hm_sf_parse_more((const uint8_t *)"  c=(x y);p, a=3", 16, &f), HM_OK);
	assert_int_equal(hm_sf_serialize(&f, out, sizeof(out), &len), HM_OK);
	assert_int_equal(len, strlen("a=3, b, c=(x y);p"));
	assert_memory_equal(out, "a=3, b, c=(x y);p", len);
	/* an empty line on either side, a trailing comma, a string split across lines */
	assert_int_equal(hm_sf_parse_more((const uint8_t *)"  ", 2, &f), HM_EMALFORMED);
	assert_int_equal(hm_sf_parse((const uint8_t *)"a=1", 3, HM_SF_KIND_DICT, &f), HM_OK);
	assert_int_equal(hm_sf_parse_more((const uint8_t *)"b,", 2, &f), HM_EMALFORMED);
	assert_int_equal(hm_sf_parse((const uint8_t *)"a=\"x", 4, HM_SF_KIND_DICT, &f),
			 HM_EMALFORMED);
	assert_int_equal(hm_sf_parse((const uint8_t *)"", 0, HM_SF_KIND_LIST, &f), HM_OK);
	assert_int_equal(hm_sf_parse_more((const uint8_t *)"a", 1, &f), HM_EMALFORMED);
	/* lists append; items take one line only */
	assert_int_equal(hm_sf_parse((const uint8_t *)"a, a", 4, HM_SF_KIND_LIST, &f), HM_OK);
	assert_int_equal(hm_sf_parse_more((const uint8_t *)"(a)", 3, &f), HM_OK);
	assert_int_equal(f.nmembers, 3);
	assert_int_equal(hm_sf_parse((const uint8_t *)"1", 1, HM_SF_KIND_ITEM, &f), HM_OK);
	assert_int_equal(hm_sf_parse_more((const uint8_t *)"2", 1, &f), HM_EMALFORMED);
}

/* each capacity limit: at the limit parses, one past it is malformed */
static void test_limits(void **state)
{
	struct hm_sf_field f;
	char buf[2048];
	size_t n = 0;

	(void)state;
	/* HM_SF_MAX_MEMBERS members */
	for (int i = 0; i < HM_SF_MAX_MEMBERS; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%sk%d=%d", i ? ", " : "", i, i);
	assert_int_equal(hm_sf_parse((const uint8_t *)buf, n, HM_SF_KIND_DICT, &f), HM_OK);
	assert_int_equal(f.nmembers, HM_SF_MAX_MEMBERS);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, ", x=1");
	assert_int_equal(hm_sf_parse((const uint8_t *)buf, n, HM_SF_KIND_DICT, &f), HM_EMALFORMED);
	/* ... but a repeated key does not count twice */
	n = 0;
	for (int i = 0; i < HM_SF_MAX_MEMBERS + 4; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%sk%d=1", i ? ", " : "",
				      i % HM_SF_MAX_MEMBERS);
	assert_int_equal(hm_sf_parse((const uint8_t *)buf, n, HM_SF_KIND_DICT, &f), HM_OK);

	/* HM_SF_MAX_INNER items in one inner list */
	n = (size_t)snprintf(buf, sizeof(buf), "a=(");
	for (int i = 0; i < HM_SF_MAX_INNER; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%d", i ? " " : "", i);
	buf[n++] = ')';
	assert_int_equal(hm_sf_parse((const uint8_t *)buf, n, HM_SF_KIND_DICT, &f), HM_OK);
	buf[n - 1] = ' ';
	buf[n++] = '9';
	buf[n++] = ')';
	assert_int_equal(hm_sf_parse((const uint8_t *)buf, n, HM_SF_KIND_DICT, &f), HM_EMALFORMED);

	/* HM_SF_MAX_PARAMS parameters */
	n = (size_t)snprintf(buf, sizeof(buf), "a");
	for (int i = 0; i < HM_SF_MAX_PARAMS; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, ";p%d", i);
	assert_int_equal(hm_sf_parse((const uint8_t *)buf, n, HM_SF_KIND_DICT, &f), HM_OK);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, ";q");
	assert_int_equal(hm_sf_parse((const uint8_t *)buf, n, HM_SF_KIND_DICT, &f), HM_EMALFORMED);

	/* the item pool: 3 inner lists of 32 items exceed HM_SF_MAX_ITEMS */
	n = 0;
	for (int l = 0; l < 3; l++) {
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%sl%d=(", l ? ", " : "", l);
		for (int i = 0; i < HM_SF_MAX_INNER; i++)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s1", i ? " " : "");
		buf[n++] = ')';
	}
	assert_int_equal(hm_sf_parse((const uint8_t *)buf, n, HM_SF_KIND_DICT, &f), HM_EMALFORMED);

	/* NULL with a length is refused, NULL empty is an empty dictionary */
	assert_int_equal(hm_sf_parse(NULL, 1, HM_SF_KIND_DICT, &f), HM_EMALFORMED);
	assert_int_equal(hm_sf_parse(NULL, 0, HM_SF_KIND_DICT, &f), HM_OK);
	assert_int_equal(f.nmembers, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok_cases),
		cmocka_unit_test(test_bad_cases),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_signature_bytes),
		cmocka_unit_test(test_parse_more),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
