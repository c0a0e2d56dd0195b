/*
 * test_digest.c - unit tests of the RFC 9530 Content-Digest check (proto/digest.c).
 *
 * The digests are RFC 9530's own (section 2: the body {"hello": "world"}, sha-256 and sha-512;
 * RFC 9421's Appendix B.2 test request carries the same sha-512), written out here as the RFCs
 * print them, not computed by the code under test; the others (the same JSON with a trailing
 * LF, the empty body) were computed with Python's hashlib. Every case runs twice: with a
 * context (fetched digests, the daemon's way) and without (EVP_Digest per call).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>

#include "proto/digest.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* RFC 9530 section 2 */
#define BODY "{\"hello\": \"world\"}"
#define SHA256 "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
#define SHA512                                                                                \
	"sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmT" \
	"HWXvJwew==:"
/* the same with the first base64 character changed (the first byte differs) */
#define SHA256_BAD "sha-256=:Y48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
#define SHA512_BAD                                                                            \
	"sha-512=:XZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmT" \
	"HWXvJwew==:"
/* the same JSON with a trailing LF */
#define BODY_LF "{\"hello\": \"world\"}\n"
#define SHA512_LF                                                                    \
	"sha-512=:YMAam51Jz/jOATT6/zvHrLVgOYTGFy1d6GJiOHTohq4yP+pgk4vf2aCsyRZOtw8MjkM7iw7y" \
	"Z/WkppmM44T3qg==:"
/* the empty body */
#define SHA256_EMPTY "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"

struct dcase {
	const char *what;
	const char *body;
	const char *lines[4]; /* content-digest values; NULL ends */
	enum hm_cd_result want;
};

static const struct dcase cases[] = {
	/* matches */
	{"rfc9530 sha-256", BODY, {SHA256}, HM_CD_MATCH},
	{"rfc9530 sha-512", BODY, {SHA512}, HM_CD_MATCH},
	{"both, one line", BODY, {SHA256 ", " SHA512}, HM_CD_MATCH},
	{"both, reversed", BODY, {SHA512 "," SHA256}, HM_CD_MATCH},
	{"both, two lines", BODY, {SHA256, SHA512}, HM_CD_MATCH},
	{"body with LF, sha-512", BODY_LF, {SHA512_LF}, HM_CD_MATCH},
	{"empty body", "", {SHA256_EMPTY}, HM_CD_MATCH},
	{"unpadded base64", BODY, {"sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE:"},
	 HM_CD_MATCH},
	{"parameters ignored", BODY, {SHA256 ";a=1;b"}, HM_CD_MATCH},
	{"unknown algorithms ignored", BODY, {"md5=:XrY7u+Ae7tCTyyK7j1rNww==:, " SHA256},
	 HM_CD_MATCH},
	{"unknown algorithm of any type", BODY, {"unixsum=30637, crc32c=(a b), " SHA512},
	 HM_CD_MATCH},
	{"spaces and tabs around", BODY, {" \t" SHA256 " \t"}, HM_CD_MATCH},
	{"last value of a repeated key", BODY, {SHA256_BAD, SHA256}, HM_CD_MATCH},
	{"repeated key in one line", BODY, {SHA256_BAD ", " SHA256}, HM_CD_MATCH},
	/* mismatches */
	{"sha-256 tampered", BODY, {SHA256_BAD}, HM_CD_MISMATCH},
	{"sha-512 tampered", BODY, {SHA512_BAD}, HM_CD_MISMATCH},
	{"body tampered", "{\"hello\": \"World\"}", {SHA256}, HM_CD_MISMATCH},
	{"body with LF vs rfc9530 digest", BODY_LF, {SHA256}, HM_CD_MISMATCH},
	{"body without LF vs the digest with", BODY, {SHA512_LF}, HM_CD_MISMATCH},
	{"sha-256 right, sha-512 wrong", BODY, {SHA256 ", " SHA512_BAD}, HM_CD_MISMATCH},
	{"sha-512 right, sha-256 wrong", BODY, {SHA512, SHA256_BAD}, HM_CD_MISMATCH},
	{"repeated key, last wrong", BODY, {SHA256, SHA256_BAD}, HM_CD_MISMATCH},
	{"empty body, non-empty digest", "", {SHA256}, HM_CD_MISMATCH},
	/* nothing to check */
	{"no content-digest", BODY, {NULL}, HM_CD_NO_SUPPORTED_ALG},
	{"md5 only", BODY, {"md5=:XrY7u+Ae7tCTyyK7j1rNww==:"}, HM_CD_NO_SUPPORTED_ALG},
	{"unixsum only", BODY, {"unixsum=30637"}, HM_CD_NO_SUPPORTED_ALG},
	{"a longer key", BODY, {"sha-2560=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"},
	 HM_CD_NO_SUPPORTED_ALG},
	{"sha256 is not sha-256", BODY, {"sha256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"},
	 HM_CD_NO_SUPPORTED_ALG},
	{"empty dictionary", BODY, {""}, HM_CD_NO_SUPPORTED_ALG},
	{"only spaces", BODY, {"   "}, HM_CD_NO_SUPPORTED_ALG},
	/* malformed */
	{"upper-case key does not parse", BODY,
	 {"SHA-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"}, HM_CD_MALFORMED},
	{"unterminated byte sequence", BODY,
	 {"sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE="}, HM_CD_MALFORMED},
	{"garbage", BODY, {"sha-256=:::"}, HM_CD_MALFORMED},
	{"trailing comma", BODY, {SHA256 ","}, HM_CD_MALFORMED},
	{"empty second line", BODY, {SHA256, ""}, HM_CD_MALFORMED},
	{"empty first line then a member", BODY, {"", SHA256}, HM_CD_MALFORMED},
	{"string split across lines", BODY, {"x=\"a", "b\", " SHA256}, HM_CD_MALFORMED},
	{"sha-256 as a string", BODY, {"sha-256=\"X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=\""},
	 HM_CD_MALFORMED},
	{"sha-256 as a token", BODY, {"sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE"},
	 HM_CD_MALFORMED},
	{"sha-256 as a boolean", BODY, {"sha-256"}, HM_CD_MALFORMED},
	{"sha-256 as an integer", BODY, {"sha-256=1"}, HM_CD_MALFORMED},
	{"sha-256 as an inner list", BODY,
	 {"sha-256=(:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:)"}, HM_CD_MALFORMED},
	{"sha-256 of 31 bytes", BODY, {"sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBA==:"},
	 HM_CD_MALFORMED},
	{"sha-256 of 33 bytes", BODY, {"sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPEA:"},
	 HM_CD_MALFORMED},
	{"sha-256 of 0 bytes", BODY, {"sha-256=::"}, HM_CD_MALFORMED},
	{"sha-512 holding a sha-256", BODY,
	 {"sha-512=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"}, HM_CD_MALFORMED},
	{"sha-256 holding a sha-512", BODY,
	 {"sha-256=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmT"
	  "HWXvJwew==:"},
	 HM_CD_MALFORMED},
	{"malformed sha-512 beside a good sha-256", BODY, {SHA256 ", sha-512=:AAAA:"},
	 HM_CD_MALFORMED},
	{"malformed sha-256 beside a wrong sha-512", BODY, {"sha-256=?1", SHA512_BAD},
	 HM_CD_MALFORMED},
	{"non-zero pad bits", BODY, {"sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPF=:"},
	 HM_CD_MALFORMED},
};

static void run_case(struct hm_digest_ctx *ctx, const struct dcase *c)
{
	struct hm_header h[8];
	size_t n = 0;
	enum hm_cd_result got = HM_CD_MATCH;
	int rc;

	/* the digest lines among other headers, which must not matter */
	h[n].name.ptr = (const uint8_t *)"content-type";
	h[n].name.len = 12;
	h[n].value.ptr = (const uint8_t *)"application/json";
	h[n].value.len = 16;
	n++;
	for (size_t i = 0; i < ARRAY_LEN(c->lines) && c->lines[i] != NULL; i++) {
		h[n].name.ptr = (const uint8_t *)"content-digest";
		h[n].name.len = 14;
		h[n].value.ptr = (const uint8_t *)c->lines[i];
		h[n].value.len = strlen(c->lines[i]);
		n++;
		h[n].name.ptr = (const uint8_t *)"repr-digest"; /* another digest field: ignored */
		h[n].name.len = 11;
		h[n].value.ptr = (const uint8_t *)"sha-256=:AAAA:";
		h[n].value.len = 14;
		n++;
	}
	rc = hm_content_digest_check(ctx, h, n, (const uint8_t *)c->body, strlen(c->body), &got);
	if (rc != HM_OK)
		fail_msg("%s: %s", c->what, hm_strerror(rc));
	if (got != c->want)
		fail_msg("%s (%s): got %s, want %s", c->what, ctx ? "ctx" : "no ctx",
			 hm_cd_result_name(got), hm_cd_result_name(c->want));
	/* the body known by its digests (hmacctl explain) judges alike */
	if (ctx == NULL) {
		uint8_t d256[HM_SHA256_LEN], d512[HM_SHA512_LEN];

		assert_int_equal(EVP_Digest(c->body, strlen(c->body), d256, NULL, EVP_sha256(),
					    NULL), 1);
		assert_int_equal(EVP_Digest(c->body, strlen(c->body), d512, NULL, EVP_sha512(),
					    NULL), 1);
		got = HM_CD_MATCH;
		rc = hm_content_digest_check_known(h, n, d256, d512, &got);
		if (rc != HM_OK || got != c->want)
			fail_msg("%s (known digests): %s, got %s, want %s", c->what,
				 hm_strerror(rc), hm_cd_result_name(got), hm_cd_result_name(c->want));
	}
}

static void test_cases(void **state)
{
	struct hm_digest_ctx *ctx = NULL;

	(void)state;
	assert_int_equal(hm_digest_ctx_new(&ctx), HM_OK);
	assert_non_null(ctx);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		run_case(ctx, &cases[i]);
		run_case(NULL, &cases[i]);
	}
	/* the context is reused across calls and algorithms: run everything once more */
	for (size_t i = ARRAY_LEN(cases); i-- > 0;)
		run_case(ctx, &cases[i]);
	hm_digest_ctx_free(ctx);
	hm_digest_ctx_free(NULL);
}

/* Header names are matched ASCII-case-insensitively, as sigbase.c does. */
static void test_name_case(void **state)
{
	struct hm_header h = {{(const uint8_t *)"Content-Digest", 14},
			      {(const uint8_t *)SHA256, sizeof(SHA256) - 1}};
	enum hm_cd_result got;

	(void)state;
	assert_int_equal(hm_content_digest_check(NULL, &h, 1, (const uint8_t *)BODY,
						 sizeof(BODY) - 1, &got), HM_OK);
	assert_int_equal(got, HM_CD_MATCH);
	/* a name that only starts like it */
	h.name.len = 13;
	assert_int_equal(hm_content_digest_check(NULL, &h, 1, (const uint8_t *)BODY,
						 sizeof(BODY) - 1, &got), HM_OK);
	assert_int_equal(got, HM_CD_NO_SUPPORTED_ALG);
}

/* No headers at all, and a NULL body of length 0. */
static void test_empty_inputs(void **state)
{
	struct hm_header h = {{(const uint8_t *)"content-digest", 14},
			      {(const uint8_t *)SHA256_EMPTY, sizeof(SHA256_EMPTY) - 1}};
	enum hm_cd_result got = HM_CD_MATCH;

	(void)state;
	assert_int_equal(hm_content_digest_check(NULL, NULL, 0, NULL, 0, &got), HM_OK);
	assert_int_equal(got, HM_CD_NO_SUPPORTED_ALG);
	assert_int_equal(hm_content_digest_check(NULL, &h, 1, NULL, 0, &got), HM_OK);
	assert_int_equal(got, HM_CD_MATCH);
}

/* A big body through the reusable context, against the value of the one-shot path. */
static void test_big_body(void **state)
{
	static uint8_t body[1 << 20];
	static const char line[] = "sha-256=:bGFyZ2VfYm9keV9kaWdlc3Rfbm90X2EuLi4uLi4uLi4=:";
	struct hm_digest_ctx *ctx = NULL;
	struct hm_header h = {{(const uint8_t *)"content-digest", 14},
			      {(const uint8_t *)line, sizeof(line) - 1}};
	enum hm_cd_result a, b;

	(void)state;
	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)(i * 31 + 7);
	assert_int_equal(hm_digest_ctx_new(&ctx), HM_OK);
	assert_int_equal(hm_content_digest_check(ctx, &h, 1, body, sizeof(body), &a), HM_OK);
	assert_int_equal(hm_content_digest_check(NULL, &h, 1, body, sizeof(body), &b), HM_OK);
	assert_int_equal(a, HM_CD_MISMATCH);
	assert_int_equal(b, HM_CD_MISMATCH);
	hm_digest_ctx_free(ctx);
}

/* A sha-512 member with the body's sha-512 unknown cannot be checked: never a match. */
static void test_known_without_sha512(void **state)
{
	static const struct {
		const char *line;
		int rc;
		enum hm_cd_result want;
	} k[] = {
		{SHA256, HM_OK, HM_CD_MATCH},
		{SHA256_BAD, HM_OK, HM_CD_MISMATCH},
		{SHA512, HM_ENOTFOUND, HM_CD_MALFORMED},
		{SHA256 ", " SHA512, HM_ENOTFOUND, HM_CD_MALFORMED},
		{SHA256 ", sha-512=:AAAA:", HM_OK, HM_CD_MALFORMED},
		{"md5=:XrY7u+Ae7tCTyyK7j1rNww==:", HM_OK, HM_CD_NO_SUPPORTED_ALG},
	};
	uint8_t d256[HM_SHA256_LEN];

	(void)state;
	assert_int_equal(EVP_Digest(BODY, strlen(BODY), d256, NULL, EVP_sha256(), NULL), 1);
	for (size_t i = 0; i < ARRAY_LEN(k); i++) {
		struct hm_header h = {{(const uint8_t *)"content-digest", 14},
				      {(const uint8_t *)k[i].line, strlen(k[i].line)}};
		enum hm_cd_result got = HM_CD_MATCH;

		assert_int_equal(hm_content_digest_check_known(&h, 1, d256, NULL, &got), k[i].rc);
		if (got != k[i].want)
			fail_msg("%s: got %s", k[i].line, hm_cd_result_name(got));
	}
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(hm_cd_result_name(HM_CD_MATCH), "MATCH");
	assert_string_equal(hm_cd_result_name(HM_CD_MISMATCH), "MISMATCH");
	assert_string_equal(hm_cd_result_name(HM_CD_NO_SUPPORTED_ALG), "NO_SUPPORTED_ALG");
	assert_string_equal(hm_cd_result_name(HM_CD_MALFORMED), "MALFORMED");
	assert_string_equal(hm_cd_result_name((enum hm_cd_result)42), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_name_case),
		cmocka_unit_test(test_empty_inputs),
		cmocka_unit_test(test_big_body),
		cmocka_unit_test(test_known_without_sha512),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
