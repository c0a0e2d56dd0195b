/*
 * test_siginput.c - unit tests of the Signature-Input writer (proto/siginput.c).
 *
 * The anchor is RFC 9421 Appendix B.2.5: its components and parameters give the RFC's
 * Signature-Input byte for byte, and hm_sign_rfc9421 over the item carrying it gives the RFC's
 * signature. Then the default set (with @query and content-digest as the request asks), the
 * component forms, every parameter in order with escaping, the fresh nonce through the random
 * seam, the refusals and the buffer bounds. Every text written parses back (RFC 8941) to the
 * same bytes: the writer writes the serialized form the daemon's parse gives.
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

#include "proto/b64.h"
#include "proto/sfv.h"
#include "proto/siginput.h"
#include "proto/sign.h"

#include "tests/lib/rfc9421_example.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static struct hm_str S(const char *s)
{
	struct hm_str r = {(const uint8_t *)s, strlen(s)};

	return r;
}

#define B2_HEADER(n, v) \
	{{(const uint8_t *)(n), sizeof(n) - 1}, {(const uint8_t *)(v), sizeof(v) - 1}},
static const struct hm_header b2_headers[] = {B2_HEADERS_X(B2_HEADER)};

/* The B.2 request as an rfc9421 item, its first nheaders headers only. */
static void b2_item(struct hm_item *it, size_t nheaders)
{
	memset(it, 0, sizeof(*it));
	it->scheme = HM_SCHEME_RFC9421;
	it->tenant = S("t1");
	it->container = S("c1");
	it->method = S("POST");
	it->rfc.authority = S("example.com");
	it->path = S("/foo?param=Value&Pet=dog");
	it->nheaders = nheaders;
	memcpy(it->headers, b2_headers, nheaders * sizeof(b2_headers[0]));
	it->has_body = true;
	it->body = S(B2_BODY);
}

/* Writes si for it, expects HM_OK and that the text parses back to itself; returns it. */
static const char *write_ok(const struct hm_item *it, const struct hm_siginput *si)
{
	static char out[HM_SIGFIELD_MAX + 1];
	struct hm_sf_field *f = malloc(sizeof(*f));
	uint8_t again[HM_SIGFIELD_MAX];
	size_t len = 99, n = 0;

	assert_non_null(f);
	assert_int_equal(hm_siginput_write(it, si, out, sizeof(out), &len), HM_OK);
	assert_int_equal(len, strlen(out));
	assert_int_equal(hm_sf_parse((const uint8_t *)out, len, HM_SF_KIND_DICT, f), HM_OK);
	assert_int_equal(f->nmembers, 1);
	assert_int_equal(hm_sf_serialize(f, again, sizeof(again), &n), HM_OK);
	assert_int_equal(n, len);
	assert_memory_equal(again, out, len);
	free(f);
	return out;
}

static int fixed_random(uint8_t *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)(0xa0 + i);
	return HM_OK;
}

static int failing_random(uint8_t *buf, size_t n)
{
	(void)buf;
	(void)n;
	return HM_EIO;
}

static void test_rfc_b25(void **state)
{
	static const char *const comps[] = {"date", "@authority", "content-type"};
	const struct hm_siginput si = {
		.label = "sig-b25",
		.components = comps,
		.ncomponents = ARRAY_LEN(comps),
		.has_created = true,
		.created = 1618884473,
		.nonce = "",
		.keyid = "test-shared-secret",
	};
	struct hm_item *it = malloc(sizeof(*it));
	uint8_t secret[66], mac[HM_MAC_LEN];
	char b64[HM_B64_LEN(HM_MAC_LEN) + 1], sig[128];
	const char *in;

	(void)state;
	assert_non_null(it);
	b2_item(it, ARRAY_LEN(b2_headers));
	in = write_ok(it, &si);
	assert_string_equal(in, B25_INPUT);
	/* signed as the daemon rebuilds it: the RFC's signature */
	assert_int_equal(EVP_DecodeBlock(secret, (const unsigned char *)SHARED_SECRET_B64,
					 (int)strlen(SHARED_SECRET_B64)),
			 66); /* 64 bytes plus the two padding zeros */
	it->rfc.signature_input = S(in);
	it->rfc.label = S("sig-b25");
	assert_int_equal(hm_sign_rfc9421(secret, 64, it, mac), HM_OK);
	(void)hm_b64_encode_ct(mac, sizeof(mac), b64);
	snprintf(sig, sizeof(sig), "sig-b25=:%s:", b64);
	assert_string_equal(sig, B25_SIGNATURE);
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(mac, sizeof(mac));
	free(it);
}

/* No components given: @method @authority @path, @query with a query, content-digest if sent. */
static void test_default_set(void **state)
{
	struct hm_siginput si = {.label = "sig1", .nonce = "", .keyid = "k1"};
	struct hm_item *it = malloc(sizeof(*it));

	(void)state;
	assert_non_null(it);
	b2_item(it, ARRAY_LEN(b2_headers));
	assert_string_equal(write_ok(it, &si), "sig1=(\"@method\" \"@authority\" \"@path\" "
					       "\"@query\" \"content-digest\");keyid=\"k1\"");
	b2_item(it, 3); /* host, date, content-type: no content-digest */
	assert_string_equal(write_ok(it, &si),
			    "sig1=(\"@method\" \"@authority\" \"@path\" \"@query\");keyid=\"k1\"");
	it->path = S("/foo");
	assert_string_equal(write_ok(it, &si),
			    "sig1=(\"@method\" \"@authority\" \"@path\");keyid=\"k1\"");
	it->path = S("/foo?"); /* an empty query is still one */
	assert_string_equal(write_ok(it, &si),
			    "sig1=(\"@method\" \"@authority\" \"@path\" \"@query\");keyid=\"k1\"");
	/* components given: exactly those, whatever the request holds */
	{
		static const char *const one[] = {"@method"};

		b2_item(it, ARRAY_LEN(b2_headers));
		si.components = one;
		si.ncomponents = 1;
		assert_string_equal(write_ok(it, &si), "sig1=(\"@method\");keyid=\"k1\"");
	}
	free(it);
}

/* The component forms, every parameter in the RFC's order, strings escaped. */
static void test_forms_and_params(void **state)
{
	static const char *const qp[] = {"@query-param;name=Pet", "\"@query-param\";name=\"param\"",
					 "content-digest;sf", "content-digest;key=sha-512",
					 "date;bs", "@target-uri"};
	const struct hm_siginput si = {
		.label = "a*b",
		.components = qp,
		.ncomponents = ARRAY_LEN(qp),
		.has_expires = true,
		.expires = 1700000000,
		.nonce = "n\"1\\",
		.keyid = "key/1",
		.tag = "app",
		.alg = true,
	};
	struct hm_siginput all = {
		.label = "sig1",
		.components = qp,
		.ncomponents = 1,
		.has_created = true,
		.created = 0,
		.has_expires = true,
		.expires = 0,
		.nonce = "n",
		.keyid = "k",
		.tag = "",
		.alg = true,
	};
	struct hm_item *it = malloc(sizeof(*it));

	(void)state;
	assert_non_null(it);
	b2_item(it, ARRAY_LEN(b2_headers));
	assert_string_equal(write_ok(it, &si),
			    "a*b=(\"@query-param\";name=\"Pet\" \"@query-param\";name=\"param\" "
			    "\"content-digest\";sf \"content-digest\";key=\"sha-512\" \"date\";bs "
			    "\"@target-uri\");expires=1700000000;nonce=\"n\\\"1\\\\\""
			    ";alg=\"hmac-sha256\";keyid=\"key/1\";tag=\"app\"");
	/* zero is a time like any other; an empty tag is still a tag */
	assert_string_equal(write_ok(it, &all),
			    "sig1=(\"@query-param\";name=\"Pet\");created=0;expires=0;nonce=\"n\""
			    ";alg=\"hmac-sha256\";keyid=\"k\";tag=\"\"");
	free(it);
}

/* nonce NULL: HM_SI_NONCE_BYTES from the caller's source, in hex; its failure is returned. */
static void test_fresh_nonce(void **state)
{
	struct hm_siginput si = {.label = "sig1", .keyid = "k1", .random = fixed_random};
	struct hm_item *it = malloc(sizeof(*it));
	char out[256];
	size_t len;

	(void)state;
	assert_non_null(it);
	b2_item(it, 3);
	it->path = S("/foo");
	assert_string_equal(write_ok(it, &si),
			    "sig1=(\"@method\" \"@authority\" \"@path\")"
			    ";nonce=\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\";keyid=\"k1\"");
	si.random = failing_random;
	assert_int_equal(hm_siginput_write(it, &si, out, sizeof(out), &len), HM_EIO);
	assert_string_equal(out, "");
	si.random = NULL;
	assert_int_equal(hm_siginput_write(it, &si, out, sizeof(out), &len), HM_EINVAL);
	/* an argument refused before the source is asked */
	si.random = failing_random;
	si.has_created = true;
	si.created = -1;
	assert_int_equal(hm_siginput_write(it, &si, out, sizeof(out), &len), HM_EINVAL);
	free(it);
}

static void test_refusals(void **state)
{
	static const char *const empty[] = {""};
	static const char *const null[] = {NULL};
	const struct hm_siginput good = {.label = "sig1", .nonce = "", .keyid = "k1"};
	struct hm_siginput si;
	struct hm_item *it = malloc(sizeof(*it));
	char out[256], big[HM_LABEL_MAX + 2];
	size_t len;

	(void)state;
	assert_non_null(it);
	b2_item(it, ARRAY_LEN(b2_headers));
	memset(big, 'a', HM_LABEL_MAX + 1);
	big[HM_LABEL_MAX + 1] = '\0';
#define REFUSED(field, value)                                                                  \
	do {                                                                                   \
		si = good;                                                                     \
		si.field = value;                                                              \
		memcpy(out, "junk", 5);                                                        \
		len = 99;                                                                      \
		assert_int_equal(hm_siginput_write(it, &si, out, sizeof(out), &len), HM_EINVAL); \
		assert_string_equal(out, "");                                                  \
		assert_int_equal(len, 0);                                                      \
	} while (0)
	REFUSED(label, NULL);
	REFUSED(label, "");
	REFUSED(label, "Sig");
	REFUSED(label, "1sig");
	REFUSED(label, big); /* HM_LABEL_MAX + 1 bytes */
	REFUSED(keyid, NULL);
	REFUSED(keyid, "");
	REFUSED(keyid, "k\n1");
	REFUSED(nonce, "caf\xc3\xa9");
	REFUSED(tag, "t\x7f");
	REFUSED(ncomponents, 1); /* components NULL */
	si = good;
	si.components = empty;
	si.ncomponents = 1;
	assert_int_equal(hm_siginput_write(it, &si, out, sizeof(out), &len), HM_EINVAL);
	si = good;
	si.components = null;
	si.ncomponents = 1;
	assert_int_equal(hm_siginput_write(it, &si, out, sizeof(out), &len), HM_EINVAL);
	si = good;
	si.has_created = true;
	si.created = -5;
	assert_int_equal(hm_siginput_write(it, &si, out, sizeof(out), &len), HM_EINVAL);
	si = good;
	si.has_expires = true;
	si.expires = -1;
	assert_int_equal(hm_siginput_write(it, &si, out, sizeof(out), &len), HM_EINVAL);
	/* the largest label is fine */
	big[HM_LABEL_MAX] = '\0';
	si = good;
	si.label = big;
	(void)write_ok(it, &si);
#undef REFUSED
	free(it);
}

/* The text and its NUL fit exactly, or HM_ETOOBIG with an empty string. */
static void test_bounds(void **state)
{
	const struct hm_siginput si = {.label = "sig1", .nonce = "", .keyid = "k1"};
	static const char want[] = "sig1=(\"@method\" \"@authority\" \"@path\" \"@query\" "
				   "\"content-digest\");keyid=\"k1\"";
	struct hm_item *it = malloc(sizeof(*it));
	char out[sizeof(want) + 8];
	size_t len = 0;

	(void)state;
	assert_non_null(it);
	b2_item(it, ARRAY_LEN(b2_headers));
	assert_int_equal(hm_siginput_write(it, &si, out, sizeof(want), &len), HM_OK);
	assert_string_equal(out, want);
	assert_int_equal(len, sizeof(want) - 1);
	memset(out, 'x', sizeof(out));
	assert_int_equal(hm_siginput_write(it, &si, out, sizeof(want) - 1, &len), HM_ETOOBIG);
	assert_string_equal(out, "");
	assert_int_equal(out[sizeof(want) - 1], 'x'); /* nothing written past cap */
	assert_int_equal(len, 0);
	assert_int_equal(hm_siginput_write(it, &si, out, 1, &len), HM_ETOOBIG);
	assert_string_equal(out, "");
	out[0] = 'x';
	assert_int_equal(hm_siginput_write(it, &si, out, 0, &len), HM_ETOOBIG);
	assert_int_equal(out[0], 'x');
	free(it);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_b25),
		cmocka_unit_test(test_default_set),
		cmocka_unit_test(test_forms_and_params),
		cmocka_unit_test(test_fresh_nonce),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
