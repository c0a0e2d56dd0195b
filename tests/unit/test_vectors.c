/*
 * test_vectors.c - the C code against the shared test vectors, proto/vectors/hmacd-v1.json.
 *
 * Every client of hmacd checks itself against that file; this is the C side. The file is
 * written by proto/vectors/generate.py, which implements the canonical string on its own, so a
 * bug in proto/canon.c or proto/sign.c cannot hide behind the same bug in the expected values.
 *
 * - positive: hm_item_check() accepts the item; hm_canon_alloc() gives `canonical` byte for
 *   byte, with the body and with its digest; hm_sign_item() gives `sig_hex`/`sig_b64`; the item
 *   packed as msgpack and decoded by hm_request_decode()/hm_item_next() gives the same string.
 * - tampered: the changed item's canonical string is `canonical`, and its signature is not the
 *   base vector's.
 * - malformed: `content` vectors are refused by hm_item_check(); every vector, packed as the
 *   README describes, is refused by hm_item_next() while a good item after it still decodes.
 *
 * The file comes from -DVECTORS_JSON or the HMACD_VECTORS_JSON environment variable.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>
#include <openssl/evp.h>

#include "proto/json.h"
#include "proto/msg.h"
#include "proto/sign.h"
#include "proto/verdict.h"

#ifndef VECTORS_JSON
#define VECTORS_JSON "proto/vectors/hmacd-v1.json"
#endif

/* The signature printed in PROTOCOL.md section 8 (the worked example). */
static const char WORKED_EXAMPLE_SIG[] =
	"83b55937fb410a3bcbe53204bf2baa4d1f062cf8509914b176ba56f509069dab";

/* A decoded binary field (body, sig, secret). */
struct bin {
	uint8_t *p;
	size_t len;
};

/* An item built from a vector: strings point into the JSON tree, binaries are owned here. */
struct vitem {
	struct hm_item it;
	struct bin body, sig;
};

/* ---- JSON access that fails the test with the vector's name ---- */

static const char *vname(const struct jm_value *v)
{
	const struct jm_value *n = jm_get(v, "name");

	return n != NULL && n->type == JM_STR ? n->s : "?";
}

static const struct jm_value *need(const struct jm_value *obj, const char *key, enum jm_type t)
{
	const struct jm_value *v = jm_get(obj, key);

	if (v == NULL || v->type != t)
		fail_msg("%s: key \"%s\" missing or of the wrong type", vname(obj), key);
	return v;
}

static struct hm_str jstr(const struct jm_value *obj, const char *key)
{
	const struct jm_value *v = need(obj, key, JM_STR);
	struct hm_str s = {(const uint8_t *)v->s, v->len};

	return s;
}

static uint64_t juint(const struct jm_value *obj, const char *key)
{
	const struct jm_value *v = need(obj, key, JM_INT);

	if (v->neg)
		fail_msg("%s: \"%s\" is negative", vname(obj), key);
	return v->mag;
}

static struct bin jb64(const struct jm_value *obj, const char *key)
{
	const struct jm_value *v = need(obj, key, JM_STR);
	struct bin b = {NULL, 0};
	size_t pad = 0;
	int n;

	if (v->len % 4 != 0)
		fail_msg("%s: \"%s\" is not padded base64", vname(obj), key);
	b.p = malloc(v->len / 4 * 3 + 1);
	assert_non_null(b.p);
	n = EVP_DecodeBlock(b.p, (const unsigned char *)v->s, (int)v->len);
	if (n < 0)
		fail_msg("%s: \"%s\" is not base64", vname(obj), key);
	if (v->len >= 1 && v->s[v->len - 1] == '=')
		pad++;
	if (v->len >= 2 && v->s[v->len - 2] == '=')
		pad++;
	b.len = (size_t)n - pad;
	return b;
}

static void hex(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static void expect_str(const struct jm_value *vec, const char *key, const char *got)
{
	const struct jm_value *want = need(vec, key, JM_STR);

	if (strlen(got) != want->len || memcmp(got, want->s, want->len) != 0)
		fail_msg("%s: %s is %s, want %s", vname(vec), key, got, want->s);
}

/* ---- building items ---- */

static void vitem_build(const struct jm_value *vec, struct vitem *vi)
{
	const struct jm_value *hdrs = need(vec, "headers", JM_ARR);

	memset(vi, 0, sizeof(*vi));
	vi->it.tenant = jstr(vec, "tenant");
	vi->it.container = jstr(vec, "container");
	vi->it.v1.epoch = juint(vec, "epoch");
	vi->it.method = jstr(vec, "method");
	vi->it.path = jstr(vec, "path");
	vi->it.v1.ts = juint(vec, "ts");
	vi->it.v1.nonce = jstr(vec, "nonce");
	if (hdrs->len > HM_MAX_HEADERS)
		fail_msg("%s: more headers than an item holds", vname(vec));
	for (size_t i = 0; i < hdrs->len; i++) {
		const struct jm_value *pair = hdrs->items[i];

		if (pair->type != JM_ARR || pair->len != 2 || pair->items[0]->type != JM_STR ||
		    pair->items[1]->type != JM_STR)
			fail_msg("%s: header %zu is not a [name, value] pair", vname(vec), i);
		vi->it.headers[i].name.ptr = (const uint8_t *)pair->items[0]->s;
		vi->it.headers[i].name.len = pair->items[0]->len;
		vi->it.headers[i].value.ptr = (const uint8_t *)pair->items[1]->s;
		vi->it.headers[i].value.len = pair->items[1]->len;
	}
	vi->it.nheaders = hdrs->len;
	vi->body = jb64(vec, "body_b64");
	vi->it.has_body = true;
	vi->it.body.ptr = vi->body.p;
	vi->it.body.len = vi->body.len;
	vi->sig = jb64(vec, "sig_b64");
	vi->it.v1.sig = vi->sig.p;
}

static void vitem_free(struct vitem *vi)
{
	free(vi->body.p);
	free(vi->sig.p);
}

/* Checks that `it` has the canonical string canon[0..len) and returns nothing. */
static void expect_canon(const struct jm_value *vec, const struct hm_item *it, const char *what)
{
	const struct jm_value *want = need(vec, "canonical", JM_STR);
	uint8_t *got = NULL;
	size_t len = 0;
	int rc;

	rc = hm_canon_alloc(it, &got, &len);
	if (rc != HM_OK)
		fail_msg("%s (%s): hm_canon_alloc: %s", vname(vec), what, hm_strerror(rc));
	if (len != want->len || memcmp(got, want->s, len) != 0)
		fail_msg("%s (%s): canonical string differs:\n got: %.*s\nwant: %s", vname(vec),
			 what, (int)len, (const char *)got, want->s);
	free(got);
}

/* ---- msgpack: the wire form of a vector (proto/vectors/README.md) ---- */

static void pk_ok(int rc)
{
	assert_int_equal(rc, 0);
}

static void pack_str(msgpack_packer *pk, const void *p, size_t n)
{
	pk_ok(msgpack_pack_str(pk, n));
	pk_ok(msgpack_pack_str_body(pk, p, n));
}

static void pack_bin(msgpack_packer *pk, const void *p, size_t n)
{
	pk_ok(msgpack_pack_bin(pk, n));
	pk_ok(msgpack_pack_bin_body(pk, p, n));
}

/* A JSON value as its natural msgpack type. */
static void pack_json(msgpack_packer *pk, const struct jm_value *v)
{
	switch (v->type) {
	case JM_NULL:
		pk_ok(msgpack_pack_nil(pk));
		break;
	case JM_BOOL:
		pk_ok(v->b ? msgpack_pack_true(pk) : msgpack_pack_false(pk));
		break;
	case JM_INT:
		if (v->neg) {
			assert_true(v->mag <= (uint64_t)INT64_MAX);
			pk_ok(msgpack_pack_int64(pk, -(int64_t)v->mag));
		} else {
			pk_ok(msgpack_pack_uint64(pk, v->mag));
		}
		break;
	case JM_STR:
		pack_str(pk, v->s, v->len);
		break;
	case JM_ARR:
		pk_ok(msgpack_pack_array(pk, v->len));
		for (size_t i = 0; i < v->len; i++)
			pack_json(pk, v->items[i]);
		break;
	case JM_OBJ:
		pk_ok(msgpack_pack_map(pk, v->len));
		for (size_t i = 0; i < v->len; i++) {
			pack_str(pk, v->members[i].key, v->members[i].key_len);
			pack_json(pk, v->members[i].value);
		}
		break;
	}
}

static const char *const ITEM_KEYS[] = {
	"tenant", "container", "epoch", "method", "path", "headers", "body", "ts", "nonce", "sig",
};
#define N_ITEM_KEYS (sizeof(ITEM_KEYS) / sizeof(ITEM_KEYS[0]))

static bool in_list(const struct jm_value *arr, const char *key)
{
	for (size_t i = 0; arr != NULL && i < arr->len; i++)
		if (arr->items[i]->type == JM_STR && strcmp(arr->items[i]->s, key) == 0)
			return true;
	return false;
}

/* The item field `key` of the vector, packed as a well-formed item holds it. */
static void pack_field(msgpack_packer *pk, const struct jm_value *vec, const struct vitem *vi,
		       const char *key)
{
	if (strcmp(key, "epoch") == 0 || strcmp(key, "ts") == 0) {
		pk_ok(msgpack_pack_uint64(pk, juint(vec, key)));
	} else if (strcmp(key, "body") == 0) {
		pack_bin(pk, vi->body.p, vi->body.len);
	} else if (strcmp(key, "sig") == 0) {
		pack_bin(pk, vi->sig.p, vi->sig.len);
	} else if (strcmp(key, "headers") == 0) {
		pack_json(pk, need(vec, "headers", JM_ARR));
	} else {
		struct hm_str s = jstr(vec, key);

		pack_str(pk, s.ptr, s.len);
	}
}

/* One key of the packed item and where its value comes from. */
struct wire_entry {
	const char *key;
	size_t key_len;
	const struct jm_value *json; /* "set": packed as its natural type */
	const struct jm_value *bin;  /* "set_bin": base64 of a bin */
};

static bool has_entry(const struct wire_entry *e, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(e[i].key, key) == 0)
			return true;
	return false;
}

static void pack_item(msgpack_packer *pk, const struct jm_value *vec, const struct vitem *vi)
{
	const struct jm_value *wire = jm_get(vec, "wire");
	const struct jm_value *rm = jm_get(wire, "remove");
	const struct jm_value *set = jm_get(wire, "set");
	const struct jm_value *set_bin = jm_get(wire, "set_bin");
	struct wire_entry e[64];
	size_t n = 0;

	/* the item's own keys in order, minus "remove", values replaced in place */
	for (size_t i = 0; i < N_ITEM_KEYS; i++) {
		if (in_list(rm, ITEM_KEYS[i]))
			continue;
		e[n].key = ITEM_KEYS[i];
		e[n].key_len = strlen(ITEM_KEYS[i]);
		e[n].bin = jm_get(set_bin, ITEM_KEYS[i]);
		e[n].json = e[n].bin == NULL ? jm_get(set, ITEM_KEYS[i]) : NULL;
		n++;
	}
	/* then the keys "set" and "set_bin" add */
	for (size_t j = 0; set != NULL && j < set->len; j++) {
		if (has_entry(e, n, set->members[j].key))
			continue;
		assert_true(n < sizeof(e) / sizeof(e[0]));
		e[n].key = set->members[j].key;
		e[n].key_len = set->members[j].key_len;
		e[n].json = set->members[j].value;
		e[n].bin = NULL;
		n++;
	}
	for (size_t j = 0; set_bin != NULL && j < set_bin->len; j++) {
		if (has_entry(e, n, set_bin->members[j].key))
			continue;
		assert_true(n < sizeof(e) / sizeof(e[0]));
		e[n].key = set_bin->members[j].key;
		e[n].key_len = set_bin->members[j].key_len;
		e[n].json = NULL;
		e[n].bin = set_bin->members[j].value;
		n++;
	}
	pk_ok(msgpack_pack_map(pk, n));
	for (size_t i = 0; i < n; i++) {
		pack_str(pk, e[i].key, e[i].key_len);
		if (e[i].bin != NULL) {
			struct bin b = jb64(set_bin, e[i].key);

			pack_bin(pk, b.p, b.len);
			free(b.p);
		} else if (e[i].json != NULL) {
			pack_json(pk, e[i].json);
		} else {
			pack_field(pk, vec, vi, e[i].key);
		}
	}
}

/*
 * Packs {"id": 1, "op": "verify", "items": [vector's item, good item]} and decodes it: returns
 * what hm_item_next() said of the vector's item, *decoded holding it when HM_OK. The good item
 * after it (`good`, a positive vector) must still decode: a broken item is skipped cleanly.
 */
static int wire_decode(const struct jm_value *vec, const struct vitem *vi,
		       const struct jm_value *good, const struct vitem *gvi, msgpack_sbuffer *sb,
		       struct hm_item *decoded)
{
	struct hm_request req;
	struct hm_item second;
	msgpack_packer pk;
	int rc, rc2;

	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	pk_ok(msgpack_pack_map(&pk, 3));
	pack_str(&pk, "id", 2);
	pk_ok(msgpack_pack_uint64(&pk, 1));
	pack_str(&pk, "op", 2);
	pack_str(&pk, "verify", 6);
	pack_str(&pk, "items", 5);
	pk_ok(msgpack_pack_array(&pk, 2));
	pack_item(&pk, vec, vi);
	pack_item(&pk, good, gvi);
	rc = hm_request_decode((const uint8_t *)sb->data, sb->size, HM_DEFAULT_MAX_BATCH, &req);
	if (rc != HM_OK)
		fail_msg("%s: the request around the item was refused: %s", vname(vec),
			 req.err_text != NULL ? req.err_text : hm_strerror(rc));
	assert_int_equal(req.op, HM_OP_VERIFY);
	assert_int_equal(req.nitems, 2);
	rc = hm_item_next(&req.items, decoded);
	rc2 = hm_item_next(&req.items, &second);
	if (rc2 != HM_OK)
		fail_msg("%s: the good item after it did not decode", vname(vec));
	return rc;
}

/* ---- fixture ---- */

struct fixture {
	struct jm_value *root;
	char *text;
};

static int setup(void **state)
{
	const char *path = getenv("HMACD_VECTORS_JSON");
	struct fixture *fx = calloc(1, sizeof(*fx));
	char err[256];
	FILE *f = NULL;
	long size;
	int rc = -1;

	if (fx == NULL)
		return -1;
	if (path == NULL || path[0] == '\0')
		path = VECTORS_JSON;
	f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "test_vectors: cannot open %s\n", path);
		goto out;
	}
	if (fseek(f, 0, SEEK_END) != 0)
		goto out;
	size = ftell(f);
	if (size < 0 || fseek(f, 0, SEEK_SET) != 0)
		goto out;
	fx->text = malloc((size_t)size + 1);
	if (fx->text == NULL)
		goto out;
	if (fread(fx->text, 1, (size_t)size, f) != (size_t)size)
		goto out;
	if (jm_parse(fx->text, (size_t)size, &fx->root, err, sizeof(err)) != HM_OK) {
		fprintf(stderr, "test_vectors: %s: %s\n", path, err);
		goto out;
	}
	*state = fx;
	fx = NULL;
	rc = 0;
out:
	if (f != NULL)
		(void)fclose(f);
	if (fx != NULL) {
		free(fx->text);
		free(fx);
	}
	return rc;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	jm_free(fx->root);
	free(fx->text);
	free(fx);
	return 0;
}

static const struct jm_value *list(void **state, const char *key)
{
	const struct fixture *fx = *state;
	const struct jm_value *v = jm_get(fx->root, key);

	assert_non_null(v);
	assert_int_equal(v->type, JM_ARR);
	assert_true(v->len > 0);
	return v;
}

/* ---- tests ---- */

static void test_format(void **state)
{
	const struct fixture *fx = *state;
	const struct jm_value *pos = list(state, "positive"), *first = jm_at(pos, 0);
	const struct jm_value *verdicts = need(fx->root, "verdicts", JM_OBJ);

	assert_int_equal(juint(fx->root, "version"), 1);
	assert_string_equal(vname(first), "protocol-worked-example");
	expect_str(first, "sig_hex", WORKED_EXAMPLE_SIG);
	/* the file's table is proto/verdict.h's, name for name, 9 UNAVAILABLE included */
	assert_int_equal(verdicts->len, HM_V__COUNT);
	for (size_t i = 0; i < verdicts->len; i++) {
		const struct jm_member *m = &verdicts->members[i];
		uint64_t code = juint(verdicts, m->key);

		assert_true(code < HM_V__COUNT);
		assert_string_equal(m->key, hm_verdict_name((unsigned)code));
	}
	assert_int_equal(juint(verdicts, "UNAVAILABLE"), HM_V_UNAVAILABLE);
	(void)list(state, "tampered");
	(void)list(state, "malformed");
}

static void test_positive(void **state)
{
	const struct jm_value *pos = list(state, "positive");

	for (size_t i = 0; i < pos->len; i++) {
		const struct jm_value *vec = pos->items[i];
		struct bin secret = jb64(vec, "secret_b64");
		uint8_t digest[HM_SHA256_LEN], sig[HM_MAC_LEN];
		char sig_b64[48], h[2 * HM_SHA256_LEN + 1];
		struct hm_item alt, decoded;
		msgpack_sbuffer sb;
		struct vitem vi;
		int rc;

		vitem_build(vec, &vi);
		if (vi.sig.len != HM_MAC_LEN)
			fail_msg("%s: sig is not 32 bytes", vname(vec));
		rc = hm_item_check(&vi.it);
		if (rc != HM_OK)
			fail_msg("%s: hm_item_check: %s", vname(vec), hm_strerror(rc));
		expect_canon(vec, &vi.it, "body");

		assert_int_equal(hm_sha256(vi.body.p, vi.body.len, digest), HM_OK);
		hex(digest, sizeof(digest), h);
		expect_str(vec, "body_sha256", h);
		alt = vi.it; /* the same request with body_sha256: the same string */
		alt.has_body = false;
		alt.body.ptr = NULL;
		alt.body.len = 0;
		alt.v1.has_body_sha256 = true;
		alt.v1.body_sha256 = digest;
		expect_canon(vec, &alt, "body_sha256");

		rc = hm_sign_item(secret.p, secret.len, &vi.it, sig);
		if (rc != HM_OK)
			fail_msg("%s: hm_sign_item: %s", vname(vec), hm_strerror(rc));
		hex(sig, sizeof(sig), h);
		expect_str(vec, "sig_hex", h);
		assert_int_equal(EVP_EncodeBlock((unsigned char *)sig_b64, sig, HM_MAC_LEN), 44);
		expect_str(vec, "sig_b64", sig_b64);

		rc = wire_decode(vec, &vi, vec, &vi, &sb, &decoded);
		if (rc != HM_OK)
			fail_msg("%s: hm_item_next: %s", vname(vec), hm_strerror(rc));
		expect_canon(vec, &decoded, "decoded from msgpack");
		assert_memory_equal(decoded.v1.sig, vi.sig.p, HM_MAC_LEN);
		msgpack_sbuffer_destroy(&sb);

		free(secret.p);
		vitem_free(&vi);
	}
}

static const struct jm_value *find(const struct jm_value *arr, const char *name)
{
	for (size_t i = 0; i < arr->len; i++)
		if (strcmp(vname(arr->items[i]), name) == 0)
			return arr->items[i];
	return NULL;
}

static void test_tampered(void **state)
{
	const struct jm_value *pos = list(state, "positive"), *tam = list(state, "tampered");

	for (size_t i = 0; i < tam->len; i++) {
		const struct jm_value *vec = tam->items[i], *base;
		struct bin secret = jb64(vec, "secret_b64");
		uint8_t sig[HM_MAC_LEN];
		struct vitem vi;
		int rc;

		base = find(pos, need(vec, "base", JM_STR)->s);
		if (base == NULL)
			fail_msg("%s: no positive vector named by \"base\"", vname(vec));
		expect_str(vec, "expected", "BAD_SIGNATURE");
		expect_str(vec, "sig_hex", need(base, "sig_hex", JM_STR)->s);
		vitem_build(vec, &vi);
		assert_int_equal(hm_item_check(&vi.it), HM_OK);
		expect_canon(vec, &vi.it, "tampered");
		rc = hm_sign_item(secret.p, secret.len, &vi.it, sig);
		assert_int_equal(rc, HM_OK);
		if (vi.sig.len != HM_MAC_LEN || memcmp(sig, vi.sig.p, HM_MAC_LEN) == 0)
			fail_msg("%s: the change kept the base signature valid", vname(vec));
		free(secret.p);
		vitem_free(&vi);
	}
}

static void test_malformed(void **state)
{
	const struct jm_value *mal = list(state, "malformed");
	const struct jm_value *good = jm_at(list(state, "positive"), 0);
	struct vitem gvi;

	vitem_build(good, &gvi);
	for (size_t i = 0; i < mal->len; i++) {
		const struct jm_value *vec = mal->items[i];
		const struct jm_value *kind = need(vec, "kind", JM_STR);
		struct hm_item decoded;
		msgpack_sbuffer sb;
		struct vitem vi;
		int rc;

		expect_str(vec, "expected", "MALFORMED");
		vitem_build(vec, &vi);
		if (strcmp(kind->s, "content") == 0) {
			assert_int_equal(vi.sig.len, HM_MAC_LEN);
			rc = hm_item_check(&vi.it);
			if (rc != HM_EMALFORMED)
				fail_msg("%s: hm_item_check accepted it", vname(vec));
		} else if (strcmp(kind->s, "wire") != 0) {
			fail_msg("%s: unknown kind %s", vname(vec), kind->s);
		}
		rc = wire_decode(vec, &vi, good, &gvi, &sb, &decoded);
		if (rc != HM_EMALFORMED)
			fail_msg("%s: hm_item_next gave %s, want malformed", vname(vec),
				 hm_strerror(rc));
		msgpack_sbuffer_destroy(&sb);
		vitem_free(&vi);
	}
	vitem_free(&gvi);
}

/* The reader refuses what the vectors file must never contain. */
static void test_jsonmin_strict(void **state)
{
	static const char *const bad[] = {
		"", "[1,]", "{\"a\":1,\"a\":2}", "1.5", "1e3", "01", "-", "\"\\ud800\"",
		"\"\\udc00\"", "\"a\nb\"", "\"\\x\"", "[1] 2", "{\"a\" 1}", "tru", "\"\xff\"",
		"\"\xc0\xaf\"", "18446744073709551616", "{1:2}",
	};
	static const char good[] = "{\"s\":\"a\\u0000\\n\\u00e9\\ud83d\\ude00\\\"\",\"n\":"
				   "[-1,0,18446744073709551615,true,false,null],\"o\":{}}";
	struct jm_value *v = NULL;
	const struct jm_value *s, *n;
	char err[128];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (jm_parse(bad[i], strlen(bad[i]), &v, err, sizeof(err)) != HM_EMALFORMED)
			fail_msg("jm_parse accepted %s", bad[i]);
		assert_null(v);
		assert_true(strncmp(err, "line ", 5) == 0);
	}
	assert_int_equal(jm_parse(good, strlen(good), &v, err, sizeof(err)), HM_OK);
	s = jm_get(v, "s");
	assert_non_null(s);
	assert_int_equal(s->len, 1 + 1 + 1 + 2 + 4 + 1);
	assert_memory_equal(s->s, "a\0\n\xc3\xa9\xf0\x9f\x98\x80\"", s->len);
	n = jm_get(v, "n");
	assert_int_equal(n->len, 6);
	assert_true(jm_at(n, 0)->neg && jm_at(n, 0)->mag == 1);
	assert_true(jm_at(n, 2)->mag == UINT64_MAX);
	assert_int_equal(jm_at(n, 3)->type, JM_BOOL);
	assert_int_equal(jm_at(n, 5)->type, JM_NULL);
	assert_null(jm_at(n, 6));
	assert_int_equal(jm_get(v, "o")->type, JM_OBJ);
	jm_free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_positive),
		cmocka_unit_test(test_tampered),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_jsonmin_strict),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
