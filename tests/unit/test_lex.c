/*
 * test_lex.c - the lexical rules (proto/lex.c): tokens, RFC 8941 keys, scope names, key ids and
 * literals, each input of a table run through every rule, so that a change to one rule shows
 * which answers moved.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proto/lex.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* One input and what each rule answers for it. */
static const struct lex_case {
	const char *s;
	size_t len;
	bool scope, keyid, token, lc_token, sf_key;
} CASES[] = {
	/* s, len: scope keyid token lc_token sf_key */
	{"t1", 2, true, true, true, true, true},
	{"A-z_0.9:/x", 10, true, true, false, false, false},
	{"A-Za-z0-9._:/+=@~-", 18, false, true, false, false, false},
	{"test-key-sha256", 15, true, true, true, true, true}, /* RFC 9421 B.1.5's key id */
	{"content-type", 12, true, true, true, true, true},
	{"Content-Type", 12, true, true, true, false, false},
	{"*", 1, false, false, true, true, true},
	{"*a.b_c-1", 8, false, false, true, true, true},
	{"1abc", 4, true, true, true, true, false},
	{"!#$%&'*+-.^_`|~", 15, false, false, true, true, false},
	{"", 0, false, false, false, false, false},
	{NULL, 1, false, false, false, false, false},
	{NULL, 3, false, false, false, false, false},
	{"a b", 3, false, false, false, false, false},
	{"a\nb", 3, false, false, false, false, false},
	{"a\"b", 3, false, false, false, false, false},
	{"a\\b", 3, false, false, false, false, false},
	{"a,b", 3, false, false, false, false, false},
	{"a;b", 3, false, false, false, false, false},
	{"a\0b", 3, false, false, false, false, false},
	{"a/b", 3, true, true, false, false, false},
	{"a@b", 3, false, true, false, false, false},
	{"caf\xc3\xa9", 5, false, false, false, false, false},
};

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(CASES); i++) {
		const struct lex_case *c = &CASES[i];
		const uint8_t *p = (const uint8_t *)c->s;
		bool got[5] = {
			hm_lex_scope(p, c->len),
			hm_lex_keyid(p, c->len),
			hm_lex_token(p, c->len, SIZE_MAX, false),
			hm_lex_token(p, c->len, SIZE_MAX, true),
			hm_lex_sf_key(p, c->len, HM_SF_KEY_MAX),
		};
		bool want[5] = {c->scope, c->keyid, c->token, c->lc_token, c->sf_key};
		static const char *const rule[5] = {"scope", "keyid", "token", "lc_token", "sf_key"};

		for (int r = 0; r < 5; r++)
			if (got[r] != want[r])
				fail_msg("case %zu (%zu bytes): %s %s it", i, c->len, rule[r],
					 got[r] ? "accepts" : "refuses");
	}
}

static void test_lengths(void **state)
{
	uint8_t big[300];

	(void)state;
	memset(big, 'x', sizeof(big));
	assert_true(hm_lex_scope(big, HM_SCOPE_MAX));
	assert_false(hm_lex_scope(big, HM_SCOPE_MAX + 1));
	assert_true(hm_lex_keyid(big, HM_KEYID_MAX));
	assert_false(hm_lex_keyid(big, HM_KEYID_MAX + 1));
	assert_true(hm_lex_token(big, 32, 32, true));
	assert_false(hm_lex_token(big, 33, 32, true));
	assert_true(hm_lex_sf_key(big, HM_SF_KEY_MAX, HM_SF_KEY_MAX));
	assert_false(hm_lex_sf_key(big, HM_SF_KEY_MAX + 1, HM_SF_KEY_MAX));
	/* the byte rules agree with the span rule */
	for (unsigned c = 0; c < 256; c++) {
		uint8_t one = (uint8_t)c, two[2] = {'a', (uint8_t)c};

		assert_int_equal(hm_lex_sf_key(&one, 1, 8), hm_lex_sf_key_first(one));
		assert_int_equal(hm_lex_sf_key(two, 2, 8), hm_lex_sf_key_char(two[1]));
		assert_int_equal(hm_lex_token(&one, 1, 1, false), hm_lex_tchar(one));
	}
}

/* Each rule on every single byte, against the character sets as lex.h spells them. */
static void test_every_byte(void **state)
{
	static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	static const char *const extra[4] = {"._:/-", "._:/+=@~-", "!#$%&'*+-.^_`|~",
					     "!#$%&'*+-.^_`|~"};

	(void)state;
	for (unsigned c = 0; c < 256; c++) {
		const uint8_t one = (uint8_t)c;
		const bool upper = c >= 'A' && c <= 'Z';
		const bool in_alnum = c != 0 && strchr(alnum, (int)c) != NULL;
		bool want[4], got[4] = {
			hm_lex_scope(&one, 1),
			hm_lex_keyid(&one, 1),
			hm_lex_token(&one, 1, 1, false),
			hm_lex_token(&one, 1, 1, true),
		};

		for (int r = 0; r < 4; r++)
			want[r] = in_alnum || (c != 0 && strchr(extra[r], (int)c) != NULL);
		want[3] = want[3] && !upper;
		for (int r = 0; r < 4; r++)
			if (got[r] != want[r])
				fail_msg("byte 0x%02x: rule %d %s it", c, r,
					 got[r] ? "accepts" : "refuses");
		assert_int_equal(hm_lex_tchar(one), want[2]);
	}
}

static void test_is(void **state)
{
	(void)state;
	assert_true(hm_lex_is((const uint8_t *)"@path", 5, "@path"));
	assert_false(hm_lex_is((const uint8_t *)"@path", 4, "@path"));
	assert_false(hm_lex_is((const uint8_t *)"@pathx", 6, "@path"));
	assert_false(hm_lex_is((const uint8_t *)"@PATH", 5, "@path"));
	assert_true(hm_lex_is(NULL, 0, ""));
	assert_false(hm_lex_is(NULL, 0, "x"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_every_byte),
		cmocka_unit_test(test_is),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
