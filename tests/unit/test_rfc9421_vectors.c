/*
 * test_rfc9421_vectors.c - libhmacd (client/c/client.c) against the shared RFC 9421 vectors,
 * proto/vectors/rfc9421.json (format: proto/vectors/README.md).
 *
 * The file's answers are the daemon's own: tests/vectors/gen_rfc9421 computes them with
 * proto/ (hm_item_check, hm_sf_parse, hm_sb_select, hm_sb_build), and fails make check when the
 * committed file is out of date. What is left to check is the client library:
 * - hmacd_rfc9421_base() gives every expected base byte for byte and refuses (EMALFORMED)
 *   every case the daemon refuses;
 * - a signed case's Signature is HMAC-SHA256 of that base under key_b64, and
 *   hmacd_rfc9421_sign(), given the case's "sign" inputs, writes exactly its Signature-Input
 *   and Signature;
 * - hmacd_rfc9421_sign() refuses to sign a request the daemon refuses as an item or as a
 *   request (reason "item" or "bad-request"): a signer must never produce what the verifier
 *   cannot accept.
 *
 * The file comes from -DVECTORS_JSON or the HMACD_RFC9421_VECTORS environment variable.
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

#include "hmacd/client.h"

#include "proto/json.h"

#ifndef VECTORS_JSON
#define VECTORS_JSON "proto/vectors/rfc9421.json"
#endif

#define MAX_COMPONENTS HMACD_RFC9421_MAX_COMPONENTS

/* One case as libhmacd sees it: strings point into the JSON tree. */
struct vcase {
	const struct jm_value *json;
	struct hmacd_rfc9421_item it;
	struct hmacd_header headers[HMACD_RFC9421_MAX_HEADERS];
};

static struct jm_value *doc;

/* ---- JSON access that fails the test with the case's name ---- */

static const char *cname(const struct jm_value *c)
{
	const struct jm_value *n = jm_get(c, "name");

	return n != NULL && n->type == JM_STR ? n->s : "?";
}

static const struct jm_value *need(const struct jm_value *c, const struct jm_value *obj,
				   const char *key, enum jm_type t)
{
	const struct jm_value *v = jm_get(obj, key);

	if (v == NULL || v->type != t)
		fail_msg("%s: \"%s\" missing or of the wrong type", cname(c), key);
	return v;
}

/* a string member, or NULL when it is absent */
static const struct jm_value *opt_str(const struct jm_value *c, const struct jm_value *obj,
				      const char *key)
{
	return jm_get(obj, key) == NULL ? NULL : need(c, obj, key, JM_STR);
}

/* obj's string member key into (*p, *len); an absent optional one leaves them alone */
static void set_str(const struct jm_value *c, const struct jm_value *obj, const char *key,
		    bool required, const char **p, size_t *len)
{
	const struct jm_value *s = required ? need(c, obj, key, JM_STR) : opt_str(c, obj, key);

	if (s != NULL) {
		*p = s->s;
		*len = s->len;
	}
}

static void load_case(const struct jm_value *c, struct vcase *v)
{
	const struct jm_value *r = need(c, c, "request", JM_OBJ), *h;

	memset(v, 0, sizeof(*v));
	v->json = c;
	v->it.tenant = "t";
	v->it.tenant_len = 1;
	v->it.container = "c";
	v->it.container_len = 1;
	set_str(c, r, "method", true, &v->it.method, &v->it.method_len);
	set_str(c, r, "authority", true, &v->it.authority, &v->it.authority_len);
	set_str(c, r, "path", true, &v->it.path, &v->it.path_len);
	set_str(c, r, "uri_scheme", false, &v->it.uri_scheme, &v->it.uri_scheme_len);
	set_str(c, c, "signature_input", true, &v->it.signature_input,
		&v->it.signature_input_len);
	set_str(c, c, "label", false, &v->it.label, &v->it.label_len);
	h = need(c, r, "headers", JM_ARR);
	assert_true(h->len <= HMACD_RFC9421_MAX_HEADERS);
	for (size_t i = 0; i < h->len; i++) {
		const struct jm_value *pair = jm_at(h, i);

		if (pair == NULL || pair->type != JM_ARR || pair->len != 2 ||
		    jm_at(pair, 0)->type != JM_STR || jm_at(pair, 1)->type != JM_STR)
			fail_msg("%s: header %zu is not a pair of strings", cname(c), i);
		v->headers[i].name = jm_at(pair, 0)->s;
		v->headers[i].name_len = jm_at(pair, 0)->len;
		v->headers[i].value = jm_at(pair, 1)->s;
		v->headers[i].value_len = jm_at(pair, 1)->len;
	}
	v->it.headers = v->headers;
	v->it.nheaders = h->len;
}

static size_t key_of(const struct vcase *v, uint8_t key[static 66])
{
	const struct jm_value *k = need(v->json, v->json, "key_b64", JM_STR);
	int n;

	assert_true(k->len <= 88 && k->len % 4 == 0);
	n = EVP_DecodeBlock(key, (const unsigned char *)k->s, (int)k->len);
	assert_true(n > 0);
	/* EVP_DecodeBlock counts the padding as zero bytes */
	if (k->len >= 1 && k->s[k->len - 1] == '=')
		n--;
	if (k->len >= 2 && k->s[k->len - 2] == '=')
		n--;
	return (size_t)n;
}

/* ---- the checks ---- */

static void check_signed(const struct vcase *v, const char *base, size_t len)
{
	const struct jm_value *c = v->json, *exp = jm_get(c, "expect");
	const char *want = need(c, exp, "signature", JM_STR)->s;
	const char *si = v->it.signature_input;
	size_t label_len = strcspn(si, "=");
	uint8_t key[66], mac[EVP_MAX_MD_SIZE];
	char b64[64], got[160];
	unsigned maclen = 0;
	size_t keylen = key_of(v, key);

	assert_non_null(HMAC(EVP_sha256(), key, (int)keylen, (const uint8_t *)base, len, mac,
			     &maclen));
	assert_int_equal(maclen, 32);
	assert_int_equal(EVP_EncodeBlock((unsigned char *)b64, mac, 32), 44);
	snprintf(got, sizeof(got), "%.*s=:%s:", (int)label_len, si, b64);
	if (strcmp(got, want) != 0)
		fail_msg("%s: signature %s, want %s", cname(c), got, want);
	OPENSSL_cleanse(key, sizeof(key));
}

/* hmacd_rfc9421_sign() with the case's "sign" inputs writes its two fields exactly. */
static void check_signer(const struct vcase *v)
{
	const struct jm_value *c = v->json, *s = jm_get(c, "sign"), *comps, *x;
	const char *names[MAX_COMPONENTS];
	struct hmacd_rfc9421_params p;
	char input[HMACD_RFC9421_FIELD_MAX + 1], sig[HMACD_RFC9421_SIGNATURE_CAP];
	uint8_t key[66];
	size_t keylen;
	int rc;

	if (s == NULL)
		return;
	memset(&p, 0, sizeof(p));
	comps = need(c, s, "components", JM_ARR);
	assert_true(comps->len >= 1 && comps->len <= MAX_COMPONENTS);
	for (size_t i = 0; i < comps->len; i++) {
		assert_int_equal(jm_at(comps, i)->type, JM_STR);
		names[i] = jm_at(comps, i)->s;
	}
	p.components = names;
	p.ncomponents = comps->len;
	p.label = need(c, s, "label", JM_STR)->s;
	p.keyid = need(c, s, "keyid", JM_STR)->s;
	x = jm_get(s, "created");
	p.created = x == NULL ? HMACD_RFC9421_OMIT : (int64_t)need(c, s, "created", JM_INT)->mag;
	x = jm_get(s, "expires");
	p.expires = x == NULL ? HMACD_RFC9421_OMIT : (int64_t)need(c, s, "expires", JM_INT)->mag;
	x = opt_str(c, s, "nonce");
	p.nonce = x == NULL ? "" : x->s;
	x = opt_str(c, s, "tag");
	p.tag = x == NULL ? NULL : x->s;
	p.alg = jm_get(s, "alg") != NULL && need(c, s, "alg", JM_BOOL)->b;
	keylen = key_of(v, key);
	rc = hmacd_rfc9421_sign(key, keylen, &v->it, &p, input, sizeof(input), sig, sizeof(sig));
	OPENSSL_cleanse(key, sizeof(key));
	if (rc != HMACD_OK)
		fail_msg("%s: hmacd_rfc9421_sign: %s", cname(c), hmacd_strerror(rc));
	if (strcmp(input, v->it.signature_input) != 0)
		fail_msg("%s: signer's Signature-Input %s\nwant %s", cname(c), input,
			 v->it.signature_input);
	if (strcmp(sig, need(c, jm_get(c, "expect"), "signature", JM_STR)->s) != 0)
		fail_msg("%s: signer's Signature %s", cname(c), sig);
}

/* A request the daemon refuses (as an item or as a request) is never signed. */
static void check_signer_refuses(const struct vcase *v)
{
	static const char *const comps[] = {"@method"};
	const struct hmacd_rfc9421_params p = {
		.components = comps, .ncomponents = 1, .created = 1700000000, .nonce = "",
		.keyid = "k1",
	};
	static const uint8_t key[32];
	char input[HMACD_RFC9421_FIELD_MAX + 1], sig[HMACD_RFC9421_SIGNATURE_CAP];
	int rc;

	rc = hmacd_rfc9421_sign(key, sizeof(key), &v->it, &p, input, sizeof(input), sig,
				sizeof(sig));
	if (rc == HMACD_OK)
		fail_msg("%s: the daemon refuses this request, hmacd_rfc9421_sign signs it: %s",
			 cname(v->json), input);
	assert_string_equal(input, "");
	assert_string_equal(sig, "");
}

static void test_cases(void **state)
{
	const struct jm_value *cases = jm_get(doc, "cases");
	size_t bases = 0, refusals = 0, signed_ = 0, unsignable = 0;
	struct vcase *v = malloc(sizeof(*v));

	(void)state;
	assert_non_null(v);
	assert_non_null(cases);
	assert_int_equal(cases->type, JM_ARR);
	assert_true(cases->len > 0);
	for (size_t i = 0; i < cases->len; i++) {
		const struct jm_value *c = jm_at(cases, i);
		const struct jm_value *exp = need(c, c, "expect", JM_OBJ);
		const struct jm_value *want = jm_get(exp, "base");
		char *base = NULL;
		size_t len = 0;
		int rc;

		load_case(c, v);
		rc = hmacd_rfc9421_base(&v->it, &base, &len);
		if (want == NULL) {
			const char *reason = need(c, exp, "reason", JM_STR)->s;

			assert_true(need(c, exp, "error", JM_BOOL)->b);
			if (rc != HMACD_EMALFORMED)
				fail_msg("%s: the daemon refuses this (%s), hmacd_rfc9421_base: %s%s%s",
					 cname(c), reason, hmacd_strerror(rc), base ? "\n" : "",
					 base ? base : "");
			assert_null(base);
			if (strcmp(reason, "item") == 0 || strcmp(reason, "bad-request") == 0) {
				check_signer_refuses(v);
				unsignable++;
			}
			refusals++;
			continue;
		}
		assert_int_equal(want->type, JM_STR);
		if (rc != HMACD_OK)
			fail_msg("%s: hmacd_rfc9421_base: %s", cname(c), hmacd_strerror(rc));
		if (len != want->len || memcmp(base, want->s, len) != 0)
			fail_msg("%s: base\n%s\nwant\n%s", cname(c), base, want->s);
		bases++;
		if (jm_get(c, "key_b64") != NULL) {
			check_signed(v, base, len);
			check_signer(v);
			signed_++;
		}
		free(base);
	}
	print_message("%zu bases (%zu signed), %zu refusals (%zu requests no signer may sign)\n",
		      bases, signed_, refusals, unsignable);
	assert_true(signed_ > 0 && refusals >= 15 && unsignable > 0);
	free(v);
}

static int load(void **state)
{
	const char *path = getenv("HMACD_RFC9421_VECTORS");
	char err[160], *text = NULL;
	size_t len = 0;
	long n;
	FILE *f;

	(void)state;
	if (path == NULL || path[0] == '\0')
		path = VECTORS_JSON;
	f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "%s: cannot open\n", path);
		return -1;
	}
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
		text = malloc((size_t)n);
		if (text != NULL)
			len = fread(text, 1, (size_t)n, f);
	}
	fclose(f);
	if (text == NULL || len == 0 || jm_parse(text, len, &doc, err, sizeof(err)) != HM_OK) {
		fprintf(stderr, "%s: %s\n", path, text == NULL ? "cannot read" : err);
		free(text);
		return -1;
	}
	free(text);
	if (jm_get(doc, "format") == NULL || jm_get(doc, "format")->type != JM_STR ||
	    strcmp(jm_get(doc, "format")->s, "hmacd rfc9421 signature base vectors") != 0 ||
	    jm_get(doc, "version") == NULL || jm_get(doc, "version")->mag != 1) {
		fprintf(stderr, "%s: unknown format or version\n", path);
		return -1;
	}
	return 0;
}

static int unload(void **state)
{
	(void)state;
	jm_free(doc);
	doc = NULL;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
	};

	return cmocka_run_group_tests(tests, load, unload);
}
