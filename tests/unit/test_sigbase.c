/*
 * test_sigbase.c - unit tests of the RFC 9421 signature base builder (proto/sigbase.c).
 *
 * The anchor is RFC 9421 Appendix B.2.5 (hmac-sha256, key "test-shared-secret"): the base is
 * built from the B.2 test request and the RFC's Signature-Input, compared byte for byte with
 * the RFC's text, and its HMAC-SHA256 under the RFC's shared secret must be the RFC's
 * signature. B.2.6 and B.4 (Ed25519) are checked the same way with the RFC's public key, which
 * proves @method, @path, content-length and the joining of repeated fields. Everything else is
 * one expected line per derived component and field form, written by hand, and the failures.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "proto/sfv.h"
#include "proto/sigbase.h"
#include "proto/sign.h"

#include "tests/lib/rfc9421_example.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static struct hm_str S(const char *s)
{
	struct hm_str r = {(const uint8_t *)s, strlen(s)};

	return r;
}

/* ---- the RFC 9421 B.2 test request ---- */

#define B2_HEADER(n, v) \
	{{(const uint8_t *)(n), sizeof(n) - 1}, {(const uint8_t *)(v), sizeof(v) - 1}},
static const struct hm_header b2_headers[] = {B2_HEADERS_X(B2_HEADER)};

static struct hm_sb_request b2_request(void)
{
	struct hm_sb_request r = {S("POST"), S("example.com"), S("/foo?param=Value&Pet=dog"),
				  S("https"), ARRAY_LEN(b2_headers), b2_headers};

	return r;
}

/* Builds the base of `input`'s only member; returns the code, the base in out. */
static int build(const struct hm_sb_request *r, const char *input, uint8_t *out, size_t cap,
		 size_t *len, enum hm_sb_reason *why)
{
	struct hm_sf_field *f = malloc(sizeof(*f));
	const struct hm_sf_member *m;
	struct hm_sb_sigparams sp;
	int rc;

	assert_non_null(f);
	assert_int_equal(hm_sf_parse((const uint8_t *)input, strlen(input), HM_SF_KIND_DICT, f),
			 HM_OK);
	assert_int_equal(hm_sb_select(f, S(""), &m, why), HM_OK);
	rc = hm_sb_build(r, f, m, out, cap, len, &sp, why);
	free(f);
	return rc;
}

static void expect_base(const struct hm_sb_request *r, const char *input, const char *want)
{
	uint8_t out[2048];
	size_t len = 0;
	enum hm_sb_reason why;
	int rc = build(r, input, out, sizeof(out), &len, &why);

	if (rc != HM_OK)
		fail_msg("%s: rc %d reason %s", input, rc, hm_sb_reason_text(why));
	if (len != strlen(want) || memcmp(out, want, len) != 0)
		fail_msg("%s:\n got: %.*s\nwant: %s", input, (int)len, (const char *)out, want);
}

/* One covered component: its line must be exactly `line` (identifier, ": ", value). */
static void expect_line(const struct hm_sb_request *r, const char *component, const char *line)
{
	char input[512], want[1024];

	snprintf(input, sizeof(input), "s=(%s)", component);
	snprintf(want, sizeof(want), "%s\n\"@signature-params\": (%s)", line, component);
	expect_base(r, input, want);
}

static void expect_fail(const struct hm_sb_request *r, const char *input, enum hm_sb_reason want)
{
	uint8_t out[2048];
	size_t len = 7;
	enum hm_sb_reason why = HM_SB_OK;
	int rc = build(r, input, out, sizeof(out), &len, &why);

	if (rc != HM_EMALFORMED || why != want)
		fail_msg("%s: rc %d reason %s, want %s", input, rc, hm_sb_reason_text(why),
			 hm_sb_reason_text(want));
	assert_int_equal(len, 0);
}

/*
 * A table of steps over one request, taken in order: each request field that is not NULL
 * replaces the request's (the ones before stay), then the line of the covered component must
 * be `line`, or when line is NULL, the base of "s=(component)" must fail with `why`.
 */
struct step {
	const char *method, *authority, *path, *scheme;
	const char *component;
	const char *line;
	enum hm_sb_reason why;
};

static void run_steps(struct hm_sb_request *r, const struct step *st, size_t n)
{
	char input[512];

	for (size_t i = 0; i < n; i++) {
		if (st[i].method != NULL)
			r->method = S(st[i].method);
		if (st[i].authority != NULL)
			r->authority = S(st[i].authority);
		if (st[i].path != NULL)
			r->path = S(st[i].path);
		if (st[i].scheme != NULL)
			r->scheme = S(st[i].scheme);
		if (st[i].line != NULL) {
			expect_line(r, st[i].component, st[i].line);
			continue;
		}
		snprintf(input, sizeof(input), "s=(%s)", st[i].component);
		expect_fail(r, input, st[i].why);
	}
}

#define RUN_STEPS(r, steps) run_steps((r), (steps), ARRAY_LEN(steps))

static void test_rfc_b25_hmac(void **state)
{
	struct hm_sb_request r = b2_request();
	struct hm_sf_field sig, in;
	const struct hm_sf_member *m;
	struct hm_sb_sigparams sp;
	enum hm_sb_reason why;
	uint8_t base[512], key[96], mac[EVP_MAX_MD_SIZE], want[64];
	unsigned int maclen = 0;
	size_t len = 0, wantlen = 0;
	int keylen;

	(void)state;
	assert_int_equal(hm_sf_parse((const uint8_t *)B25_INPUT, strlen(B25_INPUT),
				     HM_SF_KIND_DICT, &in),
			 HM_OK);
	assert_int_equal(hm_sb_select(&in, S("sig-b25"), &m, &why), HM_OK);
	assert_int_equal(hm_sb_build(&r, &in, m, base, sizeof(base), &len, &sp, &why), HM_OK);
	assert_int_equal(why, HM_SB_OK);
	assert_int_equal(len, strlen(B25_BASE));
	assert_memory_equal(base, B25_BASE, len);

	/* the signature parameters the verifier will use */
	assert_non_null(sp.created);
	assert_int_equal(sp.created->num, 1618884473);
	assert_true(hm_sf_string_eq(sp.keyid, "test-shared-secret", 18));
	assert_null(sp.expires);
	assert_null(sp.nonce);
	assert_null(sp.alg);
	assert_null(sp.tag);

	/* HMAC-SHA256 with the RFC's 64-byte shared secret gives the RFC's signature */
	keylen = EVP_DecodeBlock(key, (const unsigned char *)SHARED_SECRET_B64,
				 (int)strlen(SHARED_SECRET_B64));
	assert_int_equal(keylen, 66); /* EVP_DecodeBlock counts the two padding bytes */
	keylen -= 2;
	assert_non_null(HMAC(EVP_sha256(), key, keylen, base, len, mac, &maclen));
	OPENSSL_cleanse(key, sizeof(key));
	assert_int_equal(maclen, 32);
	assert_int_equal(hm_sf_parse((const uint8_t *)B25_SIGNATURE, strlen(B25_SIGNATURE),
				     HM_SF_KIND_DICT, &sig),
			 HM_OK);
	m = hm_sf_dict_get(&sig, "sig-b25", 7);
	assert_non_null(m);
	assert_int_equal(hm_sf_bytes_decode(&m->bare, want, sizeof(want), &wantlen), HM_OK);
	assert_int_equal(wantlen, 32);
	assert_int_equal(CRYPTO_memcmp(mac, want, 32), 0);

	/* every capacity short of the base is refused, never overrun */
	for (size_t cap = 0; cap < len; cap++) {
		uint8_t *small = malloc(cap ? cap : 1);

		assert_non_null(small);
		assert_int_equal(hm_sb_build(&r, &in, hm_sf_dict_get(&in, "sig-b25", 7), small, cap,
					     &wantlen, NULL, &why),
				 HM_ETOOBIG);
		assert_int_equal(wantlen, 0);
		free(small);
	}
}

/* Verifies an RFC Ed25519 signature (test-key-ed25519 of B.1.4) over a base we built. */
static void expect_ed25519(const struct hm_sb_request *r, const char *input, const char *sig_b64)
{
	static const uint8_t pub[32] = {
		0x26, 0xb4, 0x0b, 0x8f, 0x93, 0xff, 0xf3, 0xd8, 0x97, 0x11, 0x2f,
		0x7e, 0xbc, 0x58, 0x2b, 0x23, 0x2d, 0xbd, 0x72, 0x51, 0x7d, 0x08,
		0x2f, 0xe8, 0x3c, 0xfb, 0x30, 0xdd, 0xce, 0x43, 0xd1, 0xbb};
	uint8_t base[1024], sig[96];
	size_t len = 0;
	enum hm_sb_reason why;
	EVP_PKEY *pk;
	EVP_MD_CTX *ctx;
	int n;

	assert_int_equal(build(r, input, base, sizeof(base), &len, &why), HM_OK);
	n = EVP_DecodeBlock(sig, (const unsigned char *)sig_b64, (int)strlen(sig_b64));
	assert_int_equal(n, 66);
	pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, sizeof(pub));
	assert_non_null(pk);
	ctx = EVP_MD_CTX_new();
	assert_non_null(ctx);
	assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk), 1);
	if (EVP_DigestVerify(ctx, sig, 64, base, len) != 1)
		fail_msg("Ed25519 signature does not verify over:\n%.*s", (int)len,
			 (const char *)base);
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pk);
}

/* The one-shot signer of sign.h (what clients, the bench and the ct tools sign with) on B.2.5. */
static void test_sign_rfc9421(void **state)
{
	struct hm_item it;
	struct hm_sb_request r = b2_request();
	enum hm_sb_reason why = HM_SB_NO_LABEL;
	uint8_t key[96], mac[HM_MAC_LEN], want[64], *base = NULL;
	struct hm_sf_field sig;
	size_t len = 0, wantlen = 0;

	(void)state;
	memset(&it, 0, sizeof(it));
	it.scheme = HM_SCHEME_RFC9421;
	it.method = r.method;
	it.rfc.authority = r.authority;
	it.path = r.path;
	it.rfc.uri_scheme = r.scheme;
	it.nheaders = r.nheaders;
	memcpy(it.headers, r.headers, r.nheaders * sizeof(r.headers[0]));
	it.rfc.signature_input = S(B25_INPUT);
	/* the base, exactly the RFC's, with a spare byte after it */
	assert_int_equal(hm_rfc9421_base_alloc(&it, &base, &len, &why), HM_OK);
	assert_int_equal(why, HM_SB_OK);
	assert_int_equal(len, strlen(B25_BASE));
	assert_memory_equal(base, B25_BASE, len);
	free(base);
	/* the MAC under the RFC's secret is the RFC's signature */
	assert_int_equal(EVP_DecodeBlock(key, (const unsigned char *)SHARED_SECRET_B64,
					 (int)strlen(SHARED_SECRET_B64)),
			 66);
	assert_int_equal(hm_sign_rfc9421(key, 64, &it, mac), HM_OK);
	assert_int_equal(hm_sf_parse((const uint8_t *)B25_SIGNATURE, strlen(B25_SIGNATURE),
				     HM_SF_KIND_DICT, &sig),
			 HM_OK);
	assert_int_equal(hm_sf_bytes_decode(&sig.members[0].bare, want, sizeof(want), &wantlen),
			 HM_OK);
	assert_int_equal(wantlen, HM_MAC_LEN);
	assert_memory_equal(mac, want, HM_MAC_LEN);
	/* refusals: secret length, a label that is not there, a field that does not parse */
	assert_int_equal(hm_sign_rfc9421(key, 15, &it, mac), HM_EINVAL);
	assert_int_equal(hm_sign_rfc9421(key, 65, &it, mac), HM_EINVAL);
	it.rfc.label = S("other");
	assert_int_equal(hm_rfc9421_base_alloc(&it, &base, &len, &why), HM_EMALFORMED);
	assert_int_equal(why, HM_SB_NO_LABEL);
	assert_null(base);
	assert_int_equal(hm_sign_rfc9421(key, 64, &it, mac), HM_EMALFORMED);
	it.rfc.label = S("");
	it.rfc.signature_input = S("sig-b25=(\"date\"");
	assert_int_equal(hm_rfc9421_base_alloc(&it, &base, &len, &why), HM_EMALFORMED);
	assert_null(base);
	/* a covered field the request lacks */
	it.rfc.signature_input = S("s=(\"x-missing\")");
	assert_int_equal(hm_rfc9421_base_alloc(&it, &base, &len, &why), HM_EMALFORMED);
	assert_int_equal(why, HM_SB_MISSING_FIELD);
	OPENSSL_cleanse(key, sizeof(key));
}

static void test_rfc_b26_b4_ed25519(void **state)
{
	struct hm_sb_request r = b2_request();
	static const struct hm_header b4_headers[] = {
		{{(const uint8_t *)"host", 4}, {(const uint8_t *)"example.org", 11}},
		{{(const uint8_t *)"date", 4}, {(const uint8_t *)"Fri, 15 Jul 2022 14:24:55 GMT", 29}},
		{{(const uint8_t *)"accept", 6}, {(const uint8_t *)"application/json", 16}},
		{{(const uint8_t *)"accept", 6}, {(const uint8_t *)"*/*", 3}},
	};
	struct hm_sb_request b4 = {S("GET"), S("example.org"), S("/demo?name1=Value1&Name2=value2"),
				   S("https"), ARRAY_LEN(b4_headers), b4_headers};

	(void)state;
	expect_ed25519(&r,
		       "sig-b26=(\"date\" \"@method\" \"@path\" \"@authority\" \"content-type\" "
		       "\"content-length\");created=1618884473;keyid=\"test-key-ed25519\"",
		       "wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lI"
		       "p5WPpBKRCw==");
	expect_ed25519(&b4,
		       "transform=(\"@method\" \"@path\" \"@authority\" \"accept\");"
		       "created=1618884473;keyid=\"test-key-ed25519\"",
		       "ZT1kooQsEHpZ0I1IjCqtQppOmIqlJPeo7DHR3SoMn0s5JZ1eRGS0A+vyYP9t/LXlh5QMFFQ6cpLt"
		       "2m0pmj3NDA==");
}

#define METHOD "\"@method\""
#define SCHEME "\"@scheme\""
#define TARGET_URI "\"@target-uri\""
#define AUTHORITY "\"@authority\""
#define QUERY "\"@query\""
#define PATH "\"@path\""
#define QUERY_PARAM(name) "\"@query-param\";name=\"" name "\""

static void test_derived(void **state)
{
	static const struct step steps[] = {
		/* the B.2 request */
		{.component = METHOD, .line = METHOD ": POST"},
		{.component = TARGET_URI,
		 .line = TARGET_URI ": https://example.com/foo?param=Value&Pet=dog"},
		{.component = AUTHORITY, .line = AUTHORITY ": example.com"},
		{.component = SCHEME, .line = SCHEME ": https"},
		{.component = "\"@request-target\"",
		 .line = "\"@request-target\": /foo?param=Value&Pet=dog"},
		{.component = PATH, .line = PATH ": /foo"},
		{.component = QUERY, .line = QUERY ": ?param=Value&Pet=dog"},
		{.component = QUERY_PARAM("Pet"), .line = QUERY_PARAM("Pet") ": dog"},
		{.component = QUERY_PARAM("param"), .line = QUERY_PARAM("param") ": Value"},
		/* method case is kept; scheme defaults to https; http is lower-cased */
		{.method = "get", .scheme = "", .component = METHOD, .line = METHOD ": get"},
		{.component = SCHEME, .line = SCHEME ": https"},
		{.scheme = "HTTP", .component = SCHEME, .line = SCHEME ": http"},
		/* @authority normalisation: case, default and empty ports, IPv6 literals */
		{.authority = "Example.COM:80", .component = AUTHORITY,
		 .line = AUTHORITY ": example.com"},
		{.component = TARGET_URI,
		 .line = TARGET_URI ": http://example.com/foo?param=Value&Pet=dog"},
		{.authority = "example.com:443", .component = AUTHORITY,
		 .line = AUTHORITY ": example.com:443"},
		{.scheme = "https", .component = AUTHORITY, .line = AUTHORITY ": example.com"},
		{.authority = "example.com:", .component = AUTHORITY, .line = AUTHORITY ": example.com"},
		{.authority = "example.com:8443", .component = AUTHORITY,
		 .line = AUTHORITY ": example.com:8443"},
		{.authority = "[::1]:443", .component = AUTHORITY, .line = AUTHORITY ": [::1]"},
		{.authority = "[::1]", .component = AUTHORITY, .line = AUTHORITY ": [::1]"},
		/* no query: @query is "?" alone; @path is kept encoded; empty query */
		{.path = "/a%2Fb/c", .component = QUERY, .line = QUERY ": ?"},
		{.component = PATH, .line = PATH ": /a%2Fb/c"},
		{.path = "/x?", .component = QUERY, .line = QUERY ": ?"},
		{.component = PATH, .line = PATH ": /x"},
	};
	struct hm_sb_request r = b2_request();

	(void)state;
	RUN_STEPS(&r, steps);
}

/* RFC 9421 2.2.8 and its example, plus the decoding corners */
static void test_query_param(void **state)
{
	static const struct step steps[] = {
		{.path = "/parameters?var=this%20is%20a%20big%0Avalue&bar=with+plus+whitespace"
			 "&fa%C3%A7ade%22%3A%20=something",
		 .component = QUERY_PARAM("var"),
		 .line = QUERY_PARAM("var") ": this%20is%20a%20big%0Avalue"},
		{.component = QUERY_PARAM("bar"), .line = QUERY_PARAM("bar") ": with%20plus%20whitespace"},
		{.component = QUERY_PARAM("fa%C3%A7ade%22%3A%20"),
		 .line = QUERY_PARAM("fa%C3%A7ade%22%3A%20") ": something"},
		/* empty values, lone names, empty sequences, unreserved set, lower-case hex in */
		{.path = "/p?&a=&b&&c=x%2a%7e-._!'()~%zz%4", .component = QUERY_PARAM("a"),
		 .line = QUERY_PARAM("a") ": "},
		{.component = QUERY_PARAM("b"), .line = QUERY_PARAM("b") ": "},
		{.component = QUERY_PARAM("c"),
		 .line = QUERY_PARAM("c") ": x*%7E-._%21%27%28%29%7E%25zz%254"},
		/* a value holding '=' keeps it */
		{.path = "/p?k=a=b", .component = QUERY_PARAM("k"), .line = QUERY_PARAM("k") ": a%3Db"},

		{.path = "/p?a=1&a=2", .component = QUERY_PARAM("a"),
		 .why = HM_SB_AMBIGUOUS_QUERY_PARAM},
		{.path = "/p?a=1&A=2", .component = QUERY_PARAM("a"), .line = QUERY_PARAM("a") ": 1"},
		{.path = "/p?a=1", .component = QUERY_PARAM("b"), .why = HM_SB_MISSING_QUERY_PARAM},
		{.component = QUERY_PARAM("a%3D"), .why = HM_SB_MISSING_QUERY_PARAM},
		{.path = "/p", .component = QUERY_PARAM("a"), .why = HM_SB_MISSING_QUERY_PARAM},
		{.path = "/p?a=%FF", .component = QUERY_PARAM("a"), .why = HM_SB_QUERY_NOT_UTF8},
		/* a UTF-16 surrogate is not UTF-8 */
		{.path = "/p?a=%C3%A7%ED%A0%80", .component = QUERY_PARAM("a"),
		 .why = HM_SB_QUERY_NOT_UTF8},
		{.path = "/p?a=%F0%9F%98%80", .component = QUERY_PARAM("a"),
		 .line = QUERY_PARAM("a") ": %F0%9F%98%80"},
		{.component = "\"@query-param\"", .why = HM_SB_BAD_PARAM},
		{.component = "\"@query-param\";name=a", .why = HM_SB_BAD_PARAM},
	};
	struct hm_sb_request r = b2_request();

	(void)state;
	RUN_STEPS(&r, steps);
}

static void test_fields(void **state)
{
	static const struct hm_header h[] = {
		{{(const uint8_t *)"accept", 6}, {(const uint8_t *)"  application/json \t", 20}},
		{{(const uint8_t *)"x-empty", 7}, {(const uint8_t *)"", 0}},
		{{(const uint8_t *)"Accept", 6}, {(const uint8_t *)"*/*", 3}},
		{{(const uint8_t *)"example-header", 14}, {(const uint8_t *)"value, with, lots", 17}},
		{{(const uint8_t *)"example-header", 14}, {(const uint8_t *)"of, commas", 10}},
		{{(const uint8_t *)"example-dict", 12},
		 {(const uint8_t *)" a=1, b=2;x=1;y=2, c=(a   b    c), d", 36}},
		{{(const uint8_t *)"signature-input", 15},
		 {(const uint8_t *)"a=( \"x\"  \"y\" );created=1", 24}},
		{{(const uint8_t *)"priority", 8}, {(const uint8_t *)"u=1", 3}},
		{{(const uint8_t *)"priority", 8}, {(const uint8_t *)" i , u=2", 8}},
	};
	struct hm_sb_request r = {S("GET"), S("example.com"), S("/"), S("https"), ARRAY_LEN(h), h};

	(void)state;
	expect_line(&r, "\"accept\"", "\"accept\": application/json, */*");
	expect_line(&r, "\"x-empty\"", "\"x-empty\": ");
	expect_line(&r, "\"example-header\"", "\"example-header\": value, with, lots, of, commas");
	expect_line(&r, "\"example-header\";bs",
		    "\"example-header\";bs: :dmFsdWUsIHdpdGgsIGxvdHM=:, :b2YsIGNvbW1hcw==:");
	expect_line(&r, "\"x-empty\";bs", "\"x-empty\";bs: ::");
	expect_line(&r, "\"example-dict\";key=\"a\"", "\"example-dict\";key=\"a\": 1");
	expect_line(&r, "\"example-dict\";key=\"d\"", "\"example-dict\";key=\"d\": ?1");
	expect_line(&r, "\"example-dict\";key=\"b\"", "\"example-dict\";key=\"b\": 2;x=1;y=2");
	expect_line(&r, "\"example-dict\";key=\"c\"", "\"example-dict\";key=\"c\": (a b c)");
	expect_line(&r, "\"signature-input\";sf",
		    "\"signature-input\";sf: a=(\"x\" \"y\");created=1");
	/* two instances: joined, then parsed as one dictionary (i overwrites nothing, u twice) */
	expect_line(&r, "\"priority\";sf", "\"priority\";sf: u=2, i");
	expect_line(&r, "\"priority\";key=\"u\"", "\"priority\";key=\"u\": 2");
	expect_line(&r, "\"priority\";key=\"i\"", "\"priority\";key=\"i\": ?1");
	/* the same field under two identifiers is fine: they are different components */
	expect_base(&r, "s=(\"accept\" \"accept\";bs)",
		    "\"accept\": application/json, */*\n"
		    "\"accept\";bs: :YXBwbGljYXRpb24vanNvbg==:, :Ki8q:\n"
		    "\"@signature-params\": (\"accept\" \"accept\";bs)");

	expect_fail(&r, "s=(\"example-dict\";sf)", HM_SB_SF_UNKNOWN_TYPE);
	expect_fail(&r, "s=(\"example-dict\";key=\"z\")", HM_SB_KEY_NOT_FOUND);
	expect_fail(&r, "s=(\"accept\";key=\"a\")", HM_SB_SF_PARSE);
	expect_fail(&r, "s=(\"example-header\";key=\"a\")", HM_SB_KEY_NOT_FOUND);
	expect_fail(&r, "s=(\"example-dict\";key=\"a\";bs)", HM_SB_INCOMPATIBLE_PARAMS);
	expect_fail(&r, "s=(\"signature-input\";sf;bs)", HM_SB_INCOMPATIBLE_PARAMS);
	expect_fail(&r, "s=(\"x-missing\")", HM_SB_MISSING_FIELD);
	expect_fail(&r, "s=(\"x-missing\";bs)", HM_SB_MISSING_FIELD);
	expect_fail(&r, "s=(\"content-digest\";sf)", HM_SB_MISSING_FIELD);
	expect_fail(&r, "s=(\"accept\";name=\"a\")", HM_SB_BAD_PARAM);
	expect_fail(&r, "s=(\"accept\";req)", HM_SB_BAD_PARAM);
	expect_fail(&r, "s=(\"accept\";tr)", HM_SB_BAD_PARAM);
	expect_fail(&r, "s=(\"accept\";sf=?0)", HM_SB_BAD_PARAM);
	expect_fail(&r, "s=(\"accept\";key=a)", HM_SB_BAD_PARAM);
	expect_fail(&r, "s=(\"Accept\")", HM_SB_BAD_COMPONENT);
	expect_fail(&r, "s=(\"acc ept\")", HM_SB_BAD_COMPONENT);
	expect_fail(&r, "s=(accept)", HM_SB_BAD_COMPONENT);
	expect_fail(&r, "s=(\"\")", HM_SB_BAD_COMPONENT);
}

static void test_failures(void **state)
{
	struct hm_sb_request r = b2_request();
	static const struct hm_header lf[] = {
		{{(const uint8_t *)"date", 4}, {(const uint8_t *)"a\nb", 3}},
	};
	struct hm_sf_field f;
	const struct hm_sf_member *m;
	enum hm_sb_reason why;
	uint8_t out[256];
	size_t len;
	const char *two = "a=(\"@method\"), b=(\"@path\")";

	(void)state;
	expect_fail(&r, "s=(\"@method\" \"@method\")", HM_SB_DUPLICATE_COMPONENT);
	expect_fail(&r, "s=(\"date\" \"@path\" \"date\")", HM_SB_DUPLICATE_COMPONENT);
	expect_fail(&r, "s=(\"@query-param\";name=\"Pet\" \"@query-param\";name=\"Pet\")",
		    HM_SB_DUPLICATE_COMPONENT);
	expect_fail(&r, "s=(\"@foo\")", HM_SB_UNKNOWN_DERIVED);
	expect_fail(&r, "s=(\"@Method\")", HM_SB_UNKNOWN_DERIVED);
	expect_fail(&r, "s=(\"@status\")", HM_SB_RESPONSE_ONLY);
	expect_fail(&r, "s=(\"@signature-params\")", HM_SB_BAD_COMPONENT);
	expect_fail(&r, "s=(\"@method\";sf)", HM_SB_BAD_PARAM);
	expect_fail(&r, "s=(\"@method\";bs)", HM_SB_BAD_PARAM);
	expect_fail(&r, "s=(\"@path\";name=\"x\")", HM_SB_BAD_PARAM);
	expect_fail(&r, "s=(\"@method\");created=\"1\"", HM_SB_BAD_SIG_PARAM);
	expect_fail(&r, "s=(\"@method\");keyid=k", HM_SB_BAD_SIG_PARAM);
	expect_fail(&r, "s=(\"@method\");nonce=1", HM_SB_BAD_SIG_PARAM);
	expect_fail(&r, "s=\"@method\"", HM_SB_NOT_INNER_LIST);
	/* an empty inner list is legal: the base is the params line alone */
	expect_base(&r, "s=();created=1;alg=\"hmac-sha256\";x=?0",
		    "\"@signature-params\": ();created=1;alg=\"hmac-sha256\";x=?0");

	r.headers = lf;
	r.nheaders = 1;
	expect_fail(&r, "s=(\"@method\")", HM_SB_FIELD_VALUE);
	r = b2_request();
	r.path = S("foo");
	expect_fail(&r, "s=(\"@method\")", HM_SB_BAD_REQUEST);
	r = b2_request();
	r.method = S("");
	expect_fail(&r, "s=(\"@method\")", HM_SB_BAD_REQUEST);
	r = b2_request();
	r.scheme = S("ftp");
	expect_fail(&r, "s=(\"@method\")", HM_SB_BAD_REQUEST);

	/* label selection */
	assert_int_equal(hm_sf_parse((const uint8_t *)two, strlen(two), HM_SF_KIND_DICT, &f), HM_OK);
	assert_int_equal(hm_sb_select(&f, S(""), &m, &why), HM_EMALFORMED);
	assert_int_equal(why, HM_SB_AMBIGUOUS_LABEL);
	assert_int_equal(hm_sb_select(&f, S("c"), &m, &why), HM_EMALFORMED);
	assert_int_equal(why, HM_SB_NO_LABEL);
	assert_int_equal(hm_sb_select(&f, S("b"), &m, &why), HM_OK);
	r = b2_request();
	assert_int_equal(hm_sb_build(&r, &f, m, out, sizeof(out), &len, NULL, &why), HM_OK);
	assert_int_equal(len, strlen("\"@path\": /foo\n\"@signature-params\": (\"@path\")"));
	assert_int_equal(hm_sf_parse((const uint8_t *)"", 0, HM_SF_KIND_DICT, &f), HM_OK);
	assert_int_equal(hm_sb_select(&f, S(""), &m, &why), HM_EMALFORMED);
	assert_int_equal(why, HM_SB_NO_LABEL);

	/* reason texts */
	assert_string_equal(hm_sb_reason_text(HM_SB_OK), "ok");
	assert_string_equal(hm_sb_reason_text(HM_SB_REASON__MAX), "unknown reason");
}

/* ;sf over two field lines: every short buffer fails cleanly, the exact size works */
static void test_sf_capacity(void **state)
{
	static const struct hm_header h[] = {
		{{(const uint8_t *)"priority", 8}, {(const uint8_t *)"u=1", 3}},
		{{(const uint8_t *)"priority", 8}, {(const uint8_t *)"i", 1}},
	};
	struct hm_sb_request r = {S("GET"), S("example.com"), S("/"), S("https"), ARRAY_LEN(h), h};
	const char *in = "s=(\"priority\";sf \"priority\";bs)";
	const char *want = "\"priority\";sf: u=1, i\n\"priority\";bs: :dT0x:, :aQ==:\n"
			   "\"@signature-params\": (\"priority\";sf \"priority\";bs)";
	uint8_t out[256];
	size_t len, full = strlen(want);
	enum hm_sb_reason why;

	(void)state;
	expect_base(&r, in, want);
	for (size_t cap = 0; cap < full; cap++) {
		uint8_t *small = malloc(cap ? cap : 1);

		assert_non_null(small);
		assert_int_equal(build(&r, in, small, cap, &len, &why), HM_ETOOBIG);
		free(small);
	}
	assert_int_equal(build(&r, in, out, full, &len, &why), HM_OK);
	assert_int_equal(len, full);
	assert_memory_equal(out, want, full);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_b25_hmac),
		cmocka_unit_test(test_sign_rfc9421),
		cmocka_unit_test(test_rfc_b26_b4_ed25519),
		cmocka_unit_test(test_derived),
		cmocka_unit_test(test_query_param),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_sf_capacity),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
