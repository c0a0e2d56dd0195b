/*
 * test_authz.c - the hmacd-v1 Authorization parser (proto/authz.c) against the shared vectors
 * (proto/vectors/hmacd-v1.json, "authorization" and every positive vector's header), the ones
 * every middleware in client/ passes too.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/authz.h"
#include "proto/json.h"

#ifndef VECTORS_JSON
#define VECTORS_JSON "proto/vectors/hmacd-v1.json"
#endif

static struct jm_value *load(void)
{
	struct jm_value *root = NULL;
	char err[128];
	char *text;
	FILE *f;
	long n;

	f = fopen(VECTORS_JSON, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	text = malloc((size_t)n);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	if (jm_parse(text, (size_t)n, &root, err, sizeof(err)) != HM_OK)
		fail_msg("%s: %s", VECTORS_JSON, err);
	free(text);
	return root;
}

static void hex(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

static bool str_is(struct hm_str s, const char *want)
{
	return s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

/* One valid header and what it must parse to. */
static void check_parsed(const char *name, const struct jm_value *header,
			 const struct jm_value *tenant, const struct jm_value *epoch,
			 const struct jm_value *ts, const struct jm_value *nonce,
			 const struct jm_value *headers, const char *sig_hex)
{
	struct hm_authz a;
	const char *why = NULL;
	char got[2 * HM_MAC_LEN + 1];

	if (hm_authz_parse((const uint8_t *)header->s, header->len, &a, &why) != HM_OK)
		fail_msg("%s: refused (%s)", name, why);
	assert_true(str_is(a.tenant, tenant->s));
	assert_int_equal(a.epoch, epoch->mag);
	assert_int_equal(a.ts, ts->mag);
	if (nonce == NULL || nonce->type == JM_NULL || nonce->len == 0)
		assert_int_equal(a.nonce.len, 0);
	else
		assert_true(str_is(a.nonce, nonce->s));
	assert_int_equal(a.nheaders, headers->len);
	for (size_t i = 0; i < headers->len; i++) {
		const struct jm_value *h = jm_at(headers, i);

		/* positive vectors list [name, value] pairs, the parser's vectors names only */
		if (h->type == JM_ARR)
			h = jm_at(h, 0);
		if (!str_is(a.headers[i], h->s))
			fail_msg("%s: signed header %zu", name, i);
	}
	hex(a.sig, HM_MAC_LEN, got);
	assert_string_equal(got, sig_hex);
}

static void test_valid(void **state)
{
	struct jm_value *root = load();
	const struct jm_value *valid = jm_get(jm_get(root, "authorization"), "valid");
	size_t n = 0;

	(void)state;
	assert_non_null(valid);
	for (size_t i = 0; i < valid->len; i++) {
		const struct jm_value *v = jm_at(valid, i), *p = jm_get(v, "parsed");

		check_parsed(jm_get(v, "name")->s, jm_get(v, "header"), jm_get(p, "tenant"),
			     jm_get(p, "epoch"), jm_get(p, "ts"), jm_get(p, "nonce"),
			     jm_get(p, "signed_headers"), jm_get(p, "sig_hex")->s);
		n++;
	}
	assert_true(n >= 10);
	jm_free(root);
}

static void test_positive_vectors(void **state)
{
	struct jm_value *root = load();
	const struct jm_value *pos = jm_get(root, "positive");
	size_t n = 0;

	(void)state;
	for (size_t i = 0; i < pos->len; i++) {
		const struct jm_value *v = jm_at(pos, i), *h = jm_get(v, "authorization");

		if (h == NULL || h->type != JM_STR)
			continue;
		check_parsed(jm_get(v, "name")->s, h, jm_get(v, "tenant"), jm_get(v, "epoch"),
			     jm_get(v, "ts"), jm_get(v, "nonce"), jm_get(v, "headers"),
			     jm_get(v, "sig_hex")->s);
		n++;
	}
	assert_true(n >= 1);
	jm_free(root);
}

static void test_invalid(void **state)
{
	struct jm_value *root = load();
	const struct jm_value *bad = jm_get(jm_get(root, "authorization"), "invalid");
	static const uint8_t zero[HM_MAC_LEN];

	(void)state;
	assert_non_null(bad);
	assert_true(bad->len >= 40);
	for (size_t i = 0; i < bad->len; i++) {
		const struct jm_value *v = jm_at(bad, i), *h = jm_get(v, "header");
		struct hm_authz a;
		const char *why = NULL;

		if (hm_authz_parse((const uint8_t *)h->s, h->len, &a, &why) != HM_EMALFORMED)
			fail_msg("%s: accepted", jm_get(v, "name")->s);
		assert_non_null(why);
		/* nothing of a refused header is left behind */
		assert_memory_equal(a.sig, zero, HM_MAC_LEN);
		assert_int_equal(a.nheaders, 0);
	}
	jm_free(root);
}

/* Cases the vectors leave out: 65 signed headers, a space inside a value, a NUL. */
static void test_edges(void **state)
{
	char buf[2048];
	struct hm_authz a;
	size_t n;
	const char *sig = "g7VZN/tBCjvL5TIEvyuqTR8GLPhQmRSxdrpW9QkGnas=";

	(void)state;
	n = (size_t)snprintf(buf, sizeof(buf), "HMACD-V1 Tenant=a, Epoch=1, Timestamp=1, "
					       "SignedHeaders=");
	for (int i = 0; i < HM_MAX_HEADERS; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%sx", i ? ";" : "");
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, ", Signature=%s", sig);
	assert_int_equal(hm_authz_parse((const uint8_t *)buf, n, &a, NULL), HM_OK);
	assert_int_equal(a.nheaders, HM_MAX_HEADERS);
	n = (size_t)snprintf(buf, sizeof(buf), "HMACD-V1 Tenant=a, Epoch=1, Timestamp=1, "
					       "SignedHeaders=");
	for (int i = 0; i <= HM_MAX_HEADERS; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%sx", i ? ";" : "");
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, ", Signature=%s", sig);
	assert_int_equal(hm_authz_parse((const uint8_t *)buf, n, &a, NULL), HM_EMALFORMED);
	n = (size_t)snprintf(buf, sizeof(buf), "HMACD-V1 Tenant=a b, Epoch=1, Timestamp=1, "
					       "Signature=%s", sig);
	assert_int_equal(hm_authz_parse((const uint8_t *)buf, n, &a, NULL), HM_EMALFORMED);
	n = (size_t)snprintf(buf, sizeof(buf), "HMACD-V1 Tenant=a, Epoch=1, Timestamp=1, "
					       "Signature=%s", sig);
	buf[17] = '\0'; /* Tenant=a\0 */
	assert_int_equal(hm_authz_parse((const uint8_t *)buf, n, &a, NULL), HM_EMALFORMED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_positive_vectors),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
