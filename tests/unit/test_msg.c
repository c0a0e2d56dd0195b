/*
 * test_msg.c - unit tests of request/item decoding and request/response encoding (proto/msg.c).
 *
 * Item rules are checked in batches of three: a good item, the item under test, a good item.
 * A broken item must come back HM_EMALFORMED while the item after it still decodes, because
 * the daemon answers every item of a batch. Items under test are described as a list of
 * (key, value) fields that the cases edit (drop, replace, repeat), then packed with msgpack-c,
 * so a case can say exactly which msgpack format goes on the wire.
 *
 * The malformed frames of tests/vectors/frames/ are data (expected.txt says what each must give);
 * their directory comes from -DVECTORS_DIR or the HMACD_VECTORS_DIR environment variable.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "proto/buf.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "proto/scheme.h"

#include "tests/lib/rfc9421_example.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define BUF_LIMIT (8u << 20)

/* ---- helpers: strings, frames ---- */

static struct hm_str S(const char *s)
{
	struct hm_str r = {(const uint8_t *)s, strlen(s)};

	return r;
}

static void assert_hm_str(struct hm_str got, const void *want, size_t len)
{
	assert_int_equal(got.len, len);
	if (len > 0)
		assert_memory_equal(got.ptr, want, len);
}

#define assert_str_is(got, cstr) assert_hm_str((got), (cstr), strlen(cstr))

/* The single frame at the start of b: returns its payload, checks it fills b exactly. */
static const uint8_t *frame_payload(const struct hm_buf *b, uint32_t *plen)
{
	size_t flen;

	assert_false(b->failed);
	assert_int_equal(hm_frame_parse(b->data, b->len, HM_FRAME_MAX_MAX, plen, &flen), HM_OK);
	assert_int_equal(flen, b->len);
	return b->data + HM_FRAME_HEADER;
}

static msgpack_packer *pk_init(msgpack_packer *pk, msgpack_sbuffer *sb)
{
	msgpack_sbuffer_init(sb);
	msgpack_packer_init(pk, sb, msgpack_sbuffer_write);
	return pk;
}

static void pk_str(msgpack_packer *pk, const void *p, size_t n)
{
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, p, n);
}

static void pk_cstr(msgpack_packer *pk, const char *s)
{
	pk_str(pk, s, strlen(s));
}

static void pk_bin(msgpack_packer *pk, const void *p, size_t n)
{
	msgpack_pack_bin(pk, n);
	msgpack_pack_bin_body(pk, p, n);
}

/* Appends bytes that already are msgpack. */
static void pk_raw(msgpack_packer *pk, const void *p, size_t n)
{
	assert_int_equal(pk->callback(pk->data, p, n), 0);
}

/* ---- the good item, as a struct (for the encoder) ---- */

static const uint8_t SIG[HM_MAC_LEN] = {
	0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
	0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
};
static const uint8_t DIGEST[HM_SHA256_LEN] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};

static void good_item(struct hm_item *it)
{
	memset(it, 0, sizeof(*it));
	it->tenant = S("t1");
	it->container = S("c1");
	it->v1.epoch = 1;
	it->method = S("POST");
	it->path = S("/containers/c1/exec");
	it->nheaders = 2;
	it->headers[0].name = S("content-type");
	it->headers[0].value = S("application/json");
	it->headers[1].name = S("x-trace");
	it->headers[1].value = S("abc");
	it->has_body = true;
	it->body = S("{}");
	it->v1.ts = 1700000000;
	it->v1.nonce = S("n1");
	it->v1.sig = SIG;
}

/* RFC 9421 Appendix B.2 (rfc9421_example.h): the test request, its B.2.5 signature, a body */
#define B2_NAME(n, v) n,
#define B2_VALUE(n, v) v,
static const char *const rfc_hnames[] = {B2_HEADERS_X(B2_NAME)};
static const char *const rfc_hvalues[] = {B2_HEADERS_X(B2_VALUE)};

/* A good rfc9421 item with every optional key set (cases drop them). */
static void good_rfc_item(struct hm_item *it)
{
	memset(it, 0, sizeof(*it));
	it->scheme = HM_SCHEME_RFC9421;
	it->tenant = S("t1");
	it->container = S("c1");
	it->method = S("POST");
	it->rfc.authority = S("example.com");
	it->path = S("/foo?param=Value&Pet=dog");
	it->rfc.uri_scheme = S("https");
	it->nheaders = ARRAY_LEN(rfc_hnames);
	for (size_t i = 0; i < ARRAY_LEN(rfc_hnames); i++) {
		it->headers[i].name = S(rfc_hnames[i]);
		it->headers[i].value = S(rfc_hvalues[i]);
	}
	it->rfc.signature_input = S(B25_INPUT);
	it->rfc.signature = S(B25_SIGNATURE);
	it->rfc.label = S("sig-b25");
	it->has_body = true;
	it->body = S(B2_BODY);
}

static void assert_ptr_or_null(const uint8_t *got, const uint8_t *want, size_t len)
{
	if (want == NULL) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	assert_memory_equal(got, want, len);
}

/*
 * Every field of a decoded item against the struct it was encoded from, the other scheme's
 * fields included (the decoder leaves them zero, as the struct made by good_*item() has them).
 */
static void assert_item_equal(const struct hm_item *got, const struct hm_item *want)
{
	assert_int_equal(got->scheme, want->scheme);
	assert_hm_str(got->tenant, want->tenant.ptr, want->tenant.len);
	assert_hm_str(got->container, want->container.ptr, want->container.len);
	assert_true(got->v1.epoch == want->v1.epoch);
	assert_hm_str(got->method, want->method.ptr, want->method.len);
	assert_hm_str(got->path, want->path.ptr, want->path.len);
	assert_true(got->v1.ts == want->v1.ts);
	assert_hm_str(got->v1.nonce, want->v1.nonce.ptr, want->v1.nonce.len);
	assert_int_equal(got->nheaders, want->nheaders);
	for (size_t i = 0; i < want->nheaders; i++) {
		assert_hm_str(got->headers[i].name, want->headers[i].name.ptr,
			      want->headers[i].name.len);
		assert_hm_str(got->headers[i].value, want->headers[i].value.ptr,
			      want->headers[i].value.len);
	}
	assert_int_equal(got->has_body, want->has_body);
	assert_int_equal(got->v1.has_body_sha256, want->v1.has_body_sha256);
	if (want->has_body)
		assert_hm_str(got->body, want->body.ptr, want->body.len);
	else
		assert_int_equal(got->body.len, 0);
	if (want->v1.has_body_sha256)
		assert_ptr_or_null(got->v1.body_sha256, want->v1.body_sha256, HM_SHA256_LEN);
	else
		assert_null(got->v1.body_sha256);
	assert_ptr_or_null(got->v1.sig, want->v1.sig, HM_MAC_LEN);
	assert_hm_str(got->rfc.authority, want->rfc.authority.ptr, want->rfc.authority.len);
	assert_hm_str(got->rfc.uri_scheme, want->rfc.uri_scheme.ptr, want->rfc.uri_scheme.len);
	assert_hm_str(got->rfc.signature_input, want->rfc.signature_input.ptr,
		      want->rfc.signature_input.len);
	assert_hm_str(got->rfc.signature, want->rfc.signature.ptr, want->rfc.signature.len);
	assert_hm_str(got->rfc.label, want->rfc.label.ptr, want->rfc.label.len);
}

/* ---- items as editable field lists (for the malformed cases) ---- */

/* F_DROP is no value: in a set_case, it drops the key */
enum fkind { F_STR, F_BIN, F_UINT, F_RAW, F_DROP };

struct field {
	const char *key;       /* a str key; NULL: key_raw is the key's msgpack bytes */
	const uint8_t *key_raw;
	size_t key_raw_len;
	enum fkind kind;
	const void *p; /* F_STR, F_BIN: bytes; F_RAW: the value's msgpack bytes */
	size_t len;
	uint64_t u; /* F_UINT */
};

struct desc {
	struct field f[24];
	size_t n;
	/* storage for raw values built by the cases */
	msgpack_sbuffer raw[4];
	size_t nraw;
};

/* Appends a copy of *f, whatever its key. */
static void d_append(struct desc *d, const struct field *f)
{
	assert_true(d->n < ARRAY_LEN(d->f));
	d->f[d->n++] = *f;
}

static void d_add(struct desc *d, const char *key, enum fkind kind, const void *p, size_t len,
		  uint64_t u)
{
	const struct field f = {key, NULL, 0, kind, p, len, u};

	d_append(d, &f);
}

static struct field *d_find(struct desc *d, const char *key)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->f[i].key != NULL && strcmp(d->f[i].key, key) == 0)
			return &d->f[i];
	return NULL;
}

static void d_drop(struct desc *d, const char *key)
{
	struct field *f = d_find(d, key);
	size_t i;

	assert_non_null(f);
	i = (size_t)(f - d->f);
	memmove(&d->f[i], &d->f[i + 1], (d->n - i - 1) * sizeof(d->f[0]));
	d->n--;
}

static void d_set(struct desc *d, const char *key, enum fkind kind, const void *p, size_t len,
		  uint64_t u)
{
	struct field *f = d_find(d, key);

	if (f == NULL) {
		d_add(d, key, kind, p, len, u);
		return;
	}
	f->kind = kind;
	f->p = p;
	f->len = len;
	f->u = u;
}

#define d_set_str(d, k, s) d_set((d), (k), F_STR, (s), strlen(s), 0)
#define d_set_raw(d, k, b) d_set((d), (k), F_RAW, (b), sizeof(b), 0)

static void d_swap(struct desc *d, size_t i, size_t j)
{
	struct field tmp = d->f[i];

	d->f[i] = d->f[j];
	d->f[j] = tmp;
}

/* A packer whose bytes live as long as the desc; the case fills it, then calls d_set_sb. */
static msgpack_packer *d_raw(struct desc *d, msgpack_packer *pk)
{
	assert_true(d->nraw < ARRAY_LEN(d->raw));
	return pk_init(pk, &d->raw[d->nraw++]);
}

static void d_set_last_raw(struct desc *d, const char *key)
{
	msgpack_sbuffer *sb = &d->raw[d->nraw - 1];

	d_set(d, key, F_RAW, sb->data, sb->size, 0);
}

static void d_free(struct desc *d)
{
	for (size_t i = 0; i < d->nraw; i++)
		msgpack_sbuffer_destroy(&d->raw[i]);
	d->nraw = 0;
}

/* Headers value: n pairs named h<i> (or names[i]), each an array of `pairlen` strs. */
static void pack_headers(msgpack_packer *pk, size_t n, const char *const *names,
			 const char *const *values, size_t pairlen)
{
	char name[32];

	msgpack_pack_array(pk, n);
	for (size_t i = 0; i < n; i++) {
		msgpack_pack_array(pk, pairlen);
		snprintf(name, sizeof(name), "h%zu", i);
		for (size_t k = 0; k < pairlen; k++) {
			if (k == 0)
				pk_cstr(pk, names ? names[i] : name);
			else
				pk_cstr(pk, values ? values[i] : "v");
		}
	}
}

/* The good item as fields: the same content as good_item(). */
static void good_desc(struct desc *d)
{
	msgpack_packer pk;
	static const char *const names[] = {"content-type", "x-trace"};
	static const char *const values[] = {"application/json", "abc"};

	memset(d, 0, sizeof(*d));
	d_add(d, "tenant", F_STR, "t1", 2, 0);
	d_add(d, "container", F_STR, "c1", 2, 0);
	d_add(d, "epoch", F_UINT, NULL, 0, 1);
	d_add(d, "method", F_STR, "POST", 4, 0);
	d_add(d, "path", F_STR, "/containers/c1/exec", 19, 0);
	pack_headers(d_raw(d, &pk), 2, names, values, 2);
	d_add(d, "headers", F_RAW, NULL, 0, 0);
	d_set_last_raw(d, "headers");
	d_add(d, "body", F_BIN, "{}", 2, 0);
	d_add(d, "ts", F_UINT, NULL, 0, 1700000000);
	d_add(d, "nonce", F_STR, "n1", 2, 0);
	d_add(d, "sig", F_BIN, SIG, sizeof(SIG), 0);
}

/* The good rfc9421 item as fields: the same content as good_rfc_item(), in the table's order. */
static void good_rfc_desc(struct desc *d)
{
	msgpack_packer pk;

	memset(d, 0, sizeof(*d));
	d_add(d, "scheme", F_STR, "rfc9421", 7, 0);
	d_add(d, "tenant", F_STR, "t1", 2, 0);
	d_add(d, "container", F_STR, "c1", 2, 0);
	d_add(d, "method", F_STR, "POST", 4, 0);
	d_add(d, "authority", F_STR, "example.com", 11, 0);
	d_add(d, "path", F_STR, "/foo?param=Value&Pet=dog", 24, 0);
	d_add(d, "uri_scheme", F_STR, "https", 5, 0);
	pack_headers(d_raw(d, &pk), ARRAY_LEN(rfc_hnames), rfc_hnames, rfc_hvalues, 2);
	d_add(d, "headers", F_RAW, NULL, 0, 0);
	d_set_last_raw(d, "headers");
	d_add(d, "signature_input", F_STR, B25_INPUT, strlen(B25_INPUT), 0);
	d_add(d, "signature", F_STR, B25_SIGNATURE, strlen(B25_SIGNATURE), 0);
	d_add(d, "label", F_STR, "sig-b25", 7, 0);
	d_add(d, "body", F_BIN, B2_BODY, strlen(B2_BODY), 0);
}

/* good_desc() with "scheme": "hmacd-v1" added last */
static void good_v1_explicit_desc(struct desc *d)
{
	good_desc(d);
	d_add(d, "scheme", F_STR, "hmacd-v1", 8, 0);
}

/* good_desc() signing the body's digest: "body" dropped, "body_sha256" added last */
static void good_sha256_desc(struct desc *d)
{
	good_desc(d);
	d_drop(d, "body");
	d_add(d, "body_sha256", F_BIN, DIGEST, sizeof(DIGEST), 0);
}

/* good_desc() without "headers": a case that sets them puts them last */
static void good_desc_headers_last(struct desc *d)
{
	good_desc(d);
	d_drop(d, "headers");
}

/* good_desc() with its ts (1700000000) as an int64 */
static void good_desc_ts_int64(struct desc *d)
{
	static const uint8_t ts_i64[] = {0xd3, 0, 0, 0, 0, 0x65, 0x53, 0xf1, 0x00};

	good_desc(d);
	d_set_raw(d, "ts", ts_i64);
}

static void pack_desc(msgpack_packer *pk, const struct desc *d)
{
	msgpack_pack_map(pk, d->n);
	for (size_t i = 0; i < d->n; i++) {
		const struct field *f = &d->f[i];

		if (f->key != NULL)
			pk_cstr(pk, f->key);
		else
			pk_raw(pk, f->key_raw, f->key_raw_len);
		switch (f->kind) {
		case F_STR:
			pk_str(pk, f->p, f->len);
			break;
		case F_BIN:
			pk_bin(pk, f->p, f->len);
			break;
		case F_UINT:
			msgpack_pack_uint64(pk, f->u);
			break;
		case F_RAW:
			pk_raw(pk, f->p, f->len);
			break;
		case F_DROP:
			fail_msg("%s: F_DROP is not a value", f->key ? f->key : "raw key");
			break;
		}
	}
}

/* Appends d, packed, to b (an item of a request being built). */
static void append_desc(struct hm_buf *b, const struct desc *d)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;

	pk_init(&pk, &sb);
	pack_desc(&pk, d);
	hm_buf_append(b, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
}

/*
 * Encodes [good item, d, good item (from fields)] as one verify request, decodes it, checks
 * both neighbours decode to the good item, and returns the middle item's code. The neighbours
 * are hmacd-v1 or rfc9421 items (nb). The middle item is left in *mid; its pointers are into
 * *b, which the caller frees.
 */
static int batch_around(const struct desc *d, enum hm_scheme nb, struct hm_buf *b,
			struct hm_item *mid)
{
	struct hm_item good, got;
	struct hm_request req;
	struct desc gd;
	const uint8_t *payload;
	uint32_t plen;
	size_t start;
	int rc;

	if (nb == HM_SCHEME_RFC9421)
		good_rfc_item(&good);
	else
		good_item(&good);
	hm_buf_init(b, BUF_LIMIT);
	start = hm_encode_verify_begin(b, 77, 3);
	hm_encode_item(b, &good);
	append_desc(b, d);
	if (nb == HM_SCHEME_RFC9421)
		good_rfc_desc(&gd);
	else
		good_desc(&gd);
	append_desc(b, &gd);
	d_free(&gd);
	hm_frame_end(b, start);

	payload = frame_payload(b, &plen);
	assert_int_equal(hm_request_decode(payload, plen, HM_DEFAULT_MAX_BATCH, &req), HM_OK);
	assert_int_equal(req.op, HM_OP_VERIFY);
	assert_true(req.has_id);
	assert_int_equal(req.id, 77);
	assert_int_equal(req.nitems, 3);

	assert_int_equal(hm_item_next(&req.items, &got), HM_OK);
	assert_item_equal(&got, &good);
	rc = hm_item_next(&req.items, mid);
	assert_int_equal(hm_item_next(&req.items, &got), HM_OK);
	assert_item_equal(&got, &good);
	assert_int_equal(hm_mp_left(&req.items), 0);
	return rc;
}

/*
 * The middle item's code must be `want`, between hmacd-v1 and between rfc9421 neighbours, and
 * when want_item is not NULL the item must decode to *want_item. Frees d.
 */
static void check_middle(struct desc *d, int want, const struct hm_item *want_item,
			 const char *what)
{
	static const enum hm_scheme nbs[] = {HM_SCHEME_HMACD_V1, HM_SCHEME_RFC9421};
	struct hm_item mid;
	struct hm_buf b;
	int rc;

	for (size_t i = 0; i < ARRAY_LEN(nbs); i++) {
		rc = batch_around(d, nbs[i], &b, &mid);
		if (rc == HM_OK && want_item != NULL)
			assert_item_equal(&mid, want_item);
		hm_buf_free(&b);
		if (rc != want)
			fail_msg("%s: item gave %s, expected %s (%s neighbours)", what,
				 hm_strerror(rc), hm_strerror(want),
				 nbs[i] == HM_SCHEME_RFC9421 ? "rfc9421" : "hmacd-v1");
	}
	d_free(d);
}

static void expect_item(struct desc *d, int want, const char *what)
{
	check_middle(d, want, NULL, what);
}

#define expect_bad(d, what) expect_item((d), HM_EMALFORMED, (what))
#define expect_ok(d, what) expect_item((d), HM_OK, (what))

/* d decodes, and to exactly *want. */
static void expect_decoded(struct desc *d, const struct hm_item *want, const char *what)
{
	check_middle(d, HM_OK, want, what);
}

/* ---- case tables: a good item (good_desc, good_rfc_desc) edited one way, and its code ---- */

/* msgpack values of the wrong type for most keys */
static const uint8_t MP_NIL[] = {0xc0};
static const uint8_t MP_ONE[] = {0x01};
static const uint8_t MP_EMPTY_MAP[] = {0x80};
static const uint8_t MP_EMPTY_ARRAY[] = {0x90};

typedef void good_fn(struct desc *d);

/* key set to a value (d_set: added at the end when the good item has no such key) */
struct set_case {
	const char *key;
	enum fkind kind;
	const void *p; /* F_STR, F_BIN: the bytes; F_RAW: the value's msgpack bytes */
	size_t len;
	uint64_t u; /* F_UINT */
	int want;
	const char *what;
};

#define CASE_STR(key, lit, want, what) {(key), F_STR, (lit), sizeof(lit) - 1, 0, (want), (what)}
#define CASE_STRN(key, p, n, want, what) {(key), F_STR, (p), (n), 0, (want), (what)}
#define CASE_BIN(key, p, n, want, what) {(key), F_BIN, (p), (n), 0, (want), (what)}
#define CASE_UINT(key, u, want, what) {(key), F_UINT, NULL, 0, (u), (want), (what)}
#define CASE_RAW(key, mp, want, what) {(key), F_RAW, (mp), sizeof(mp), 0, (want), (what)}
#define CASE_DROP(key, want, what) {(key), F_DROP, NULL, 0, 0, (want), (what)}

/* Each case on its own good item; when want_item is not NULL, a fine item must decode to it. */
static void expect_cases(good_fn *good, const struct set_case *c, size_t n,
			 const struct hm_item *want_item)
{
	struct desc d;

	for (size_t i = 0; i < n; i++) {
		good(&d);
		if (c[i].kind == F_DROP)
			d_drop(&d, c[i].key);
		else
			d_set(&d, c[i].key, c[i].kind, c[i].p, c[i].len, c[i].u);
		check_middle(&d, c[i].want, want_item, c[i].what);
	}
}

#define EXPECT_CASES(good, cases) expect_cases((good), (cases), ARRAY_LEN(cases), NULL)
#define EXPECT_DECODED(good, cases, item) expect_cases((good), (cases), ARRAY_LEN(cases), (item))

/* key set to each str of vals[0..n) in turn: each must give want. */
static void expect_strs(good_fn *good, const char *key, const char *const *vals, size_t n,
			int want)
{
	struct desc d;

	for (size_t i = 0; i < n; i++) {
		good(&d);
		d_set_str(&d, key, vals[i]);
		expect_item(&d, want, vals[i]);
	}
}

/* key set to max bytes of c (fine) and to max + 1 (malformed). */
static void expect_max_len(good_fn *good, const char *key, char c, size_t max)
{
	char *v = malloc(max + 1);
	char what[64];
	struct desc d;

	assert_non_null(v);
	memset(v, c, max + 1);
	for (size_t n = max; n <= max + 1; n++) {
		snprintf(what, sizeof(what), "%zu-byte %s", n, key);
		good(&d);
		d_set(&d, key, F_STR, v, n, 0);
		expect_item(&d, n == max ? HM_OK : HM_EMALFORMED, what);
	}
	free(v);
}

/* key set to tmpl with tmpl[at] replaced by each of the 256 bytes; ok(c) says which pass. */
static void expect_each_byte(good_fn *good, const char *key, const char *tmpl, size_t at,
			     bool (*ok)(unsigned c))
{
	size_t len = strlen(tmpl);
	char v[8], what[48];
	struct desc d;

	assert_true(at < len && len <= sizeof(v));
	memcpy(v, tmpl, len);
	for (unsigned c = 0; c < 256; c++) {
		v[at] = (char)c;
		snprintf(what, sizeof(what), "%s byte 0x%02x", key, c);
		good(&d);
		d_set(&d, key, F_STR, v, len, 0);
		expect_item(&d, ok(c) ? HM_OK : HM_EMALFORMED, what);
	}
}

/* key set to n zero bytes as a bin, for every n up to max: only n == len is fine. */
static void expect_bin_sizes(good_fn *good, const char *key, size_t len, size_t max)
{
	static const uint8_t zeros[64];
	char what[64];
	struct desc d;

	assert_true(max <= sizeof(zeros));
	for (size_t n = 0; n <= max; n++) {
		snprintf(what, sizeof(what), "%s of %zu bytes", key, n);
		good(&d);
		d_set(&d, key, F_BIN, zeros, n, 0);
		expect_item(&d, n == len ? HM_OK : HM_EMALFORMED, what);
	}
}

/* The headers replaced by n pairs as pack_headers() makes them. */
static void expect_headers(good_fn *good, size_t n, const char *const *names,
			   const char *const *values, size_t pairlen, int want, const char *what)
{
	msgpack_packer pk;
	struct desc d;

	good(&d);
	pack_headers(d_raw(&d, &pk), n, names, values, pairlen);
	d_set_last_raw(&d, "headers");
	expect_item(&d, want, what);
}

/* The good item with key: val appended, even when it has that key already: malformed. */
static void expect_bad_added(good_fn *good, const char *key, const char *val, const char *what)
{
	struct desc d;

	good(&d);
	d_add(&d, key, F_STR, val, strlen(val), 0);
	expect_bad(&d, what);
}

/* Each of keys[0..n) dropped in turn: each item is malformed. */
static void expect_each_dropped(good_fn *good, const char *const *keys, size_t n)
{
	struct desc d;

	for (size_t i = 0; i < n; i++) {
		good(&d);
		d_drop(&d, keys[i]);
		expect_bad(&d, keys[i]);
	}
}

/* Each of keys[0..n) repeated once, with the same value: each item is malformed. */
static void expect_each_repeated(good_fn *good, const char *const *keys, size_t n)
{
	struct desc d;

	for (size_t i = 0; i < n; i++) {
		const struct field *f;

		good(&d);
		f = d_find(&d, keys[i]);
		assert_non_null(f);
		d_append(&d, f);
		expect_bad(&d, keys[i]);
	}
}

/* ---- full round trip ---- */

static void test_verify_round_trip(void **state)
{
	struct hm_item items[3], got;
	struct hm_request req;
	struct hm_buf b;
	const uint8_t *payload;
	uint32_t plen;
	size_t start;

	(void)state;
	/* 0: body, nonce, two headers */
	good_item(&items[0]);
	/* 1: body_sha256, no nonce, no headers, big numbers */
	good_item(&items[1]);
	items[1].tenant = S("Tenant_A.b:c/d-9");
	items[1].container = S("x");
	items[1].v1.epoch = UINT64_MAX;
	items[1].v1.ts = UINT64_MAX - 1;
	items[1].method = S("PATCH");
	items[1].path = S("/a?b=c&d=%20e");
	items[1].v1.nonce = S("");
	items[1].nheaders = 0;
	items[1].has_body = false;
	items[1].body = S("");
	items[1].v1.has_body_sha256 = true;
	items[1].v1.body_sha256 = DIGEST;
	/* 2: an empty body, 64 headers, a 64-byte nonce, a big body elsewhere */
	good_item(&items[2]);
	items[2].body = S("");
	items[2].v1.nonce = S("0123456789012345678901234567890123456789012345678901234567890123");
	items[2].nheaders = HM_MAX_HEADERS;
	for (size_t i = 0; i < HM_MAX_HEADERS; i++) {
		items[2].headers[i].name = S("x-h");
		items[2].headers[i].value = S(i % 2 ? "" : "v: with colon");
	}

	hm_buf_init(&b, BUF_LIMIT);
	start = hm_encode_verify_begin(&b, 123456789012ull, 3);
	for (int i = 0; i < 3; i++)
		hm_encode_item(&b, &items[i]);
	hm_frame_end(&b, start);
	assert_int_equal(start, 0);

	payload = frame_payload(&b, &plen);
	assert_int_equal(hm_request_decode(payload, plen, 3, &req), HM_OK);
	assert_null(req.err);
	assert_true(req.has_id);
	assert_true(req.id == 123456789012ull);
	assert_int_equal(req.op, HM_OP_VERIFY);
	assert_int_equal(req.nitems, 3);
	for (int i = 0; i < 3; i++) {
		memset(&got, 0xa5, sizeof(got)); /* hm_item_next must overwrite everything used */
		assert_int_equal(hm_item_next(&req.items, &got), HM_OK);
		assert_item_equal(&got, &items[i]);
		/* zero-copy: strings point into the payload */
		assert_true(got.tenant.ptr > payload && got.tenant.ptr < payload + plen);
		if (i == 1)
			assert_int_equal(got.v1.nonce.len, 0);
	}
	assert_int_equal(hm_mp_left(&req.items), 0);
	hm_buf_free(&b);
}

/* An item with a big body, and two requests in one buffer (frame after frame). */
static void test_verify_big_body_and_pipelining(void **state)
{
	static uint8_t body[200000];
	struct hm_item it, got;
	struct hm_request req;
	struct hm_buf b;
	uint32_t plen;
	size_t start, flen, off = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)i;
	good_item(&it);
	it.body.ptr = body;
	it.body.len = sizeof(body);

	hm_buf_init(&b, BUF_LIMIT);
	start = hm_encode_verify_begin(&b, 1, 1);
	hm_encode_item(&b, &it);
	hm_frame_end(&b, start);
	hm_encode_simple_request(&b, 2, HM_OP_PING);
	start = hm_encode_verify_begin(&b, 3, 0);
	hm_frame_end(&b, start);
	assert_false(b.failed);

	assert_int_equal(hm_frame_parse(b.data + off, b.len - off, HM_FRAME_DEFAULT_MAX, &plen,
					&flen), HM_OK);
	assert_int_equal(hm_request_decode(b.data + off + 4, plen, 1, &req), HM_OK);
	assert_int_equal(req.id, 1);
	assert_int_equal(hm_item_next(&req.items, &got), HM_OK);
	assert_item_equal(&got, &it);
	off += flen;

	assert_int_equal(hm_frame_parse(b.data + off, b.len - off, HM_FRAME_DEFAULT_MAX, &plen,
					&flen), HM_OK);
	assert_int_equal(hm_request_decode(b.data + off + 4, plen, 1, &req), HM_OK);
	assert_int_equal(req.id, 2);
	assert_int_equal(req.op, HM_OP_PING);
	assert_int_equal(req.nitems, 0);
	off += flen;

	assert_int_equal(hm_frame_parse(b.data + off, b.len - off, HM_FRAME_DEFAULT_MAX, &plen,
					&flen), HM_OK);
	assert_int_equal(hm_request_decode(b.data + off + 4, plen, 0, &req), HM_OK);
	assert_int_equal(req.id, 3);
	assert_int_equal(req.op, HM_OP_VERIFY);
	assert_int_equal(req.nitems, 0);
	off += flen;
	assert_int_equal(off, b.len);

	/* the first frame is over a small --max-frame, from its header alone */
	assert_int_equal(hm_frame_parse(b.data, 4, HM_FRAME_MIN_MAX, &plen, &flen), HM_ETOOBIG);
	hm_buf_free(&b);
}

static void test_simple_requests(void **state)
{
	static const enum hm_op ops[] = {HM_OP_PING, HM_OP_STATS};
	struct hm_request req;
	struct hm_buf b;
	uint32_t plen;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(ops); i++) {
		static const uint64_t ids[] = {0, 1, 127, 128, 65535, UINT32_MAX, UINT64_MAX};

		for (size_t k = 0; k < ARRAY_LEN(ids); k++) {
			const uint8_t *payload;

			hm_buf_init(&b, BUF_LIMIT);
			hm_encode_simple_request(&b, ids[k], ops[i]);
			payload = frame_payload(&b, &plen);
			assert_int_equal(hm_request_decode(payload, plen, 0, &req), HM_OK);
			assert_int_equal(req.op, ops[i]);
			assert_true(req.has_id);
			assert_true(req.id == ids[k]);
			assert_int_equal(req.nitems, 0);
			hm_buf_free(&b);
		}
	}
}

/* ---- request-level errors ---- */

struct req_expect {
	const char *err; /* NULL: HM_OK */
	bool has_id;
	uint64_t id;
};

static void check_request(const uint8_t *p, size_t n, uint32_t max_items, struct req_expect e,
			  const char *what)
{
	struct hm_request req;
	int rc;

	rc = hm_request_decode(p, n, max_items, &req);
	if (e.err == NULL) {
		if (rc != HM_OK)
			fail_msg("%s: refused (%s: %s)", what, req.err ? req.err : "?",
				 req.err_text ? req.err_text : "?");
		return;
	}
	if (rc != HM_EMALFORMED)
		fail_msg("%s: accepted", what);
	assert_non_null(req.err);
	assert_non_null(req.err_text);
	assert_true(strlen(req.err_text) > 0);
	if (strcmp(req.err, e.err) != 0)
		fail_msg("%s: error %s, expected %s", what, req.err, e.err);
	if (req.has_id != e.has_id)
		fail_msg("%s: has_id %d, expected %d", what, req.has_id, e.has_id);
	if (e.has_id && req.id != e.id)
		fail_msg("%s: id %llu, expected %llu", what, (unsigned long long)req.id,
			 (unsigned long long)e.id);
}

#define REQ_OK ((struct req_expect){NULL, false, 0})
#define REQ_ERR(code) ((struct req_expect){(code), false, 0})
#define REQ_ERR_ID(code, i) ((struct req_expect){(code), true, (i)})

static void check_sb(msgpack_sbuffer *sb, uint32_t max_items, struct req_expect e,
		     const char *what)
{
	check_request((const uint8_t *)sb->data, sb->size, max_items, e, what);
	msgpack_sbuffer_destroy(sb);
}

static void test_request_not_a_map(void **state)
{
	static const uint8_t arr[] = {0x92, 0x01, 0x02};
	static const uint8_t num[] = {0x07};
	static const uint8_t str[] = {0xa2, 'i', 'd'};
	static const uint8_t nil[] = {0xc0};
	static const uint8_t invalid[] = {0xc1};
	static const uint8_t empty[] = {0};

	(void)state;
	check_request(arr, sizeof(arr), 10, REQ_ERR(HM_RERR_MALFORMED), "array");
	check_request(num, sizeof(num), 10, REQ_ERR(HM_RERR_MALFORMED), "int");
	check_request(str, sizeof(str), 10, REQ_ERR(HM_RERR_MALFORMED), "str");
	check_request(nil, sizeof(nil), 10, REQ_ERR(HM_RERR_MALFORMED), "nil");
	check_request(invalid, sizeof(invalid), 10, REQ_ERR(HM_RERR_MALFORMED), "0xc1");
	check_request(empty, 0, 10, REQ_ERR(HM_RERR_MALFORMED), "empty payload");
}

static void test_request_trailing_bytes(void **state)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;

	(void)state;
	pk_init(&pk, &sb);
	msgpack_pack_map(&pk, 2);
	pk_cstr(&pk, "id");
	msgpack_pack_uint64(&pk, 5);
	pk_cstr(&pk, "op");
	pk_cstr(&pk, "ping");
	check_request((const uint8_t *)sb.data, sb.size, 0, REQ_OK, "ping");
	msgpack_pack_nil(&pk); /* one more value after the map */
	check_sb(&sb, 0, REQ_ERR_ID(HM_RERR_MALFORMED, 5), "trailing nil");

	/* two whole requests in one payload */
	pk_init(&pk, &sb);
	for (int i = 0; i < 2; i++) {
		msgpack_pack_map(&pk, 2);
		pk_cstr(&pk, "id");
		msgpack_pack_uint64(&pk, 5);
		pk_cstr(&pk, "op");
		pk_cstr(&pk, "ping");
	}
	check_sb(&sb, 0, REQ_ERR_ID(HM_RERR_MALFORMED, 5), "two maps");
}

/* Packs {"id": id?, "op": op, [items of n nils], extra key?} in the given key order. */
static void simple_map(msgpack_sbuffer *sb, const char *const *keys, size_t nkeys, uint64_t id,
		       const char *op, uint32_t nitems)
{
	msgpack_packer pk;

	pk_init(&pk, sb);
	msgpack_pack_map(&pk, nkeys);
	for (size_t i = 0; i < nkeys; i++) {
		pk_cstr(&pk, keys[i]);
		if (strcmp(keys[i], "id") == 0) {
			msgpack_pack_uint64(&pk, id);
		} else if (strcmp(keys[i], "op") == 0) {
			pk_cstr(&pk, op);
		} else if (strcmp(keys[i], "items") == 0) {
			msgpack_pack_array(&pk, nitems);
			for (uint32_t k = 0; k < nitems; k++)
				msgpack_pack_nil(&pk);
		} else {
			msgpack_pack_true(&pk);
		}
	}
}

/* a key list literal and its length */
#define KEYS(...)                                    \
	(const char *const[]){__VA_ARGS__},          \
		ARRAY_LEN(((const char *const[]){__VA_ARGS__}))

static void test_request_ops(void **state)
{
	msgpack_sbuffer sb;

	(void)state;
	simple_map(&sb, KEYS("id", "op"), 9, "ping", 0);
	check_sb(&sb, 10, REQ_OK, "ping");
	simple_map(&sb, KEYS("op", "id"), 9, "stats", 0);
	check_sb(&sb, 10, REQ_OK, "stats, op first");
	simple_map(&sb, KEYS("items", "op", "id"), 9, "verify", 2);
	check_sb(&sb, 10, REQ_OK, "verify, items first");
	simple_map(&sb, KEYS("id", "op"), 9, "reboot", 0);
	check_sb(&sb, 10, REQ_ERR_ID(HM_RERR_UNKNOWN_OP, 9), "unknown op");
	simple_map(&sb, KEYS("id", "op"), 10, "PING", 0);
	check_sb(&sb, 10, REQ_ERR_ID(HM_RERR_UNKNOWN_OP, 10), "op is case-sensitive");
	simple_map(&sb, KEYS("id", "op"), 11, "", 0);
	check_sb(&sb, 10, REQ_ERR_ID(HM_RERR_UNKNOWN_OP, 11), "empty op");
	simple_map(&sb, KEYS("id", "op"), 12, "pingx", 0);
	check_sb(&sb, 10, REQ_ERR_ID(HM_RERR_UNKNOWN_OP, 12), "op with a suffix");
	simple_map(&sb, KEYS("id", "op"), 13, "ver", 0);
	check_sb(&sb, 10, REQ_ERR_ID(HM_RERR_UNKNOWN_OP, 13), "op prefix");
	simple_map(&sb, KEYS("id"), 14, NULL, 0);
	check_sb(&sb, 10, REQ_ERR_ID(HM_RERR_MALFORMED, 14), "no op");
	simple_map(&sb, KEYS("op"), 0, "ping", 0);
	check_sb(&sb, 10, REQ_ERR(HM_RERR_MALFORMED), "missing id");
	simple_map(&sb, KEYS("op", "items"), 0, "verify", 1);
	check_sb(&sb, 10, REQ_ERR(HM_RERR_MALFORMED), "verify without id");
	simple_map(&sb, KEYS("id", "op", "items"), 15, "ping", 1);
	check_sb(&sb, 10, REQ_ERR_ID(HM_RERR_MALFORMED, 15), "items with ping");
	simple_map(&sb, KEYS("id", "op", "items"), 16, "stats", 0);
	check_sb(&sb, 10, REQ_ERR_ID(HM_RERR_MALFORMED, 16), "items (even empty) with stats");
	simple_map(&sb, KEYS("id", "op"), 17, "verify", 0);
	check_sb(&sb, 10, REQ_ERR_ID(HM_RERR_MALFORMED, 17), "verify without items");
	simple_map(&sb, KEYS("id", "op", "items"), 18, "verify", 0);
	check_sb(&sb, 10, REQ_OK, "verify with no items");
	check_request((const uint8_t[]){0x80}, 1, 10, REQ_ERR(HM_RERR_MALFORMED), "empty map");
}

static void test_request_batch_limit(void **state)
{
	msgpack_sbuffer sb;

	(void)state;
	simple_map(&sb, KEYS("id", "op", "items"), 20, "verify", 10);
	check_sb(&sb, 10, REQ_OK, "items == max");
	simple_map(&sb, KEYS("id", "op", "items"), 21, "verify", 11);
	check_sb(&sb, 10, REQ_ERR_ID(HM_RERR_TOO_MANY_ITEMS, 21), "items == max + 1");
	simple_map(&sb, KEYS("id", "op", "items"), 22, "verify", 1);
	check_sb(&sb, 0, REQ_ERR_ID(HM_RERR_TOO_MANY_ITEMS, 22), "max 0");
	simple_map(&sb, KEYS("id", "op", "items"), 23, "verify", 0);
	check_sb(&sb, 0, REQ_OK, "max 0, no items");
	simple_map(&sb, KEYS("id", "op", "items"), 24, "verify", 1025);
	check_sb(&sb, HM_DEFAULT_MAX_BATCH, REQ_ERR_ID(HM_RERR_TOO_MANY_ITEMS, 24),
		 "default batch + 1");
	simple_map(&sb, KEYS("id", "op", "items"), 25, "verify", 1024);
	check_sb(&sb, HM_DEFAULT_MAX_BATCH, REQ_OK, "default batch");
	/* a malformed key wins over the batch size: the first error found is reported */
	simple_map(&sb, KEYS("id", "op", "items", "x"), 26, "verify", 11);
	check_sb(&sb, 10, REQ_ERR_ID(HM_RERR_MALFORMED, 26), "unknown key and too many");
}

static void test_request_keys(void **state)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;

	(void)state;
	/* the id is echoed when a later (or earlier) key is bad */
	simple_map(&sb, KEYS("id", "op", "extra"), 30, "ping", 0);
	check_sb(&sb, 10, REQ_ERR_ID(HM_RERR_MALFORMED, 30), "unknown key after id");
	simple_map(&sb, KEYS("extra", "op", "id"), 31, "ping", 0);
	check_sb(&sb, 10, REQ_ERR_ID(HM_RERR_MALFORMED, 31), "unknown key before id");
	simple_map(&sb, KEYS("id", "op", "Id"), 32, "ping", 0);
	check_sb(&sb, 10, REQ_ERR_ID(HM_RERR_MALFORMED, 32), "key case matters");
	simple_map(&sb, KEYS("id", "op", "op"), 33, "ping", 0);
	check_sb(&sb, 10, REQ_ERR_ID(HM_RERR_MALFORMED, 33), "repeated op");
	simple_map(&sb, KEYS("id", "op", "items", "items"), 34, "verify", 1);
	check_sb(&sb, 10, REQ_ERR_ID(HM_RERR_MALFORMED, 34), "repeated items");
	simple_map(&sb, KEYS("id", "op", "id"), 35, "ping", 0);
	check_sb(&sb, 10, REQ_ERR(HM_RERR_MALFORMED), "repeated id");

	/* non-string keys: int, bin "id", nil */
	pk_init(&pk, &sb);
	msgpack_pack_map(&pk, 3);
	pk_cstr(&pk, "id");
	msgpack_pack_uint64(&pk, 36);
	pk_cstr(&pk, "op");
	pk_cstr(&pk, "ping");
	msgpack_pack_uint64(&pk, 1);
	msgpack_pack_uint64(&pk, 2);
	check_sb(&sb, 10, REQ_ERR_ID(HM_RERR_MALFORMED, 36), "int key");

	pk_init(&pk, &sb);
	msgpack_pack_map(&pk, 2);
	pk_bin(&pk, "id", 2);
	msgpack_pack_uint64(&pk, 37);
	pk_cstr(&pk, "op");
	pk_cstr(&pk, "ping");
	check_sb(&sb, 10, REQ_ERR(HM_RERR_MALFORMED), "bin key id");

	pk_init(&pk, &sb);
	msgpack_pack_map(&pk, 3);
	msgpack_pack_nil(&pk);
	msgpack_pack_map(&pk, 1); /* a container as a value of a bad key is skipped whole */
	pk_cstr(&pk, "id");
	msgpack_pack_uint64(&pk, 99);
	pk_cstr(&pk, "op");
	pk_cstr(&pk, "ping");
	pk_cstr(&pk, "id");
	msgpack_pack_uint64(&pk, 38);
	check_sb(&sb, 10, REQ_ERR_ID(HM_RERR_MALFORMED, 38), "nil key with a map value");
}

static void test_request_value_types(void **state)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	static const uint8_t signed_id[] = {0x82, 0xa2, 'i', 'd', 0xd3, 0, 0, 0, 0, 0, 0, 0, 40,
					    0xa2, 'o', 'p', 0xa4, 'p', 'i', 'n', 'g'};
	static const uint8_t neg_id[] = {0x82, 0xa2, 'i', 'd', 0xff, 0xa2, 'o', 'p', 0xa4, 'p',
					 'i', 'n', 'g'};
	static const uint8_t map16[] = {0xde, 0x00, 0x02, 0xa2, 'i', 'd', 0x29, 0xa2, 'o', 'p',
					0xd9, 0x04, 'p', 'i', 'n', 'g'};

	(void)state;
	check_request(signed_id, sizeof(signed_id), 0, REQ_OK, "id as int64 format");
	check_request(neg_id, sizeof(neg_id), 0, REQ_ERR(HM_RERR_MALFORMED), "negative id");
	check_request(map16, sizeof(map16), 0, REQ_OK, "map16 and str8 forms");

	pk_init(&pk, &sb);
	msgpack_pack_map(&pk, 2);
	pk_cstr(&pk, "id");
	pk_cstr(&pk, "42");
	pk_cstr(&pk, "op");
	pk_cstr(&pk, "ping");
	check_sb(&sb, 10, REQ_ERR(HM_RERR_MALFORMED), "id as str");

	pk_init(&pk, &sb);
	msgpack_pack_map(&pk, 2);
	pk_cstr(&pk, "id");
	msgpack_pack_nil(&pk);
	pk_cstr(&pk, "op");
	pk_cstr(&pk, "ping");
	check_sb(&sb, 10, REQ_ERR(HM_RERR_MALFORMED), "id nil");

	pk_init(&pk, &sb);
	msgpack_pack_map(&pk, 2);
	pk_cstr(&pk, "id");
	msgpack_pack_double(&pk, 1.0);
	pk_cstr(&pk, "op");
	pk_cstr(&pk, "ping");
	check_sb(&sb, 10, REQ_ERR(HM_RERR_MALFORMED), "id float");

	pk_init(&pk, &sb);
	msgpack_pack_map(&pk, 2);
	pk_cstr(&pk, "id");
	msgpack_pack_uint64(&pk, 43);
	pk_cstr(&pk, "op");
	pk_bin(&pk, "ping", 4);
	check_sb(&sb, 10, REQ_ERR_ID(HM_RERR_MALFORMED, 43), "op as bin");

	pk_init(&pk, &sb);
	msgpack_pack_map(&pk, 2);
	pk_cstr(&pk, "id");
	msgpack_pack_uint64(&pk, 44);
	pk_cstr(&pk, "op");
	msgpack_pack_uint64(&pk, 1);
	check_sb(&sb, 10, REQ_ERR_ID(HM_RERR_MALFORMED, 44), "op as int");

	pk_init(&pk, &sb);
	msgpack_pack_map(&pk, 3);
	pk_cstr(&pk, "id");
	msgpack_pack_uint64(&pk, 45);
	pk_cstr(&pk, "op");
	pk_cstr(&pk, "verify");
	pk_cstr(&pk, "items");
	msgpack_pack_map(&pk, 0);
	check_sb(&sb, 10, REQ_ERR_ID(HM_RERR_MALFORMED, 45), "items as map");

	pk_init(&pk, &sb);
	msgpack_pack_map(&pk, 3);
	pk_cstr(&pk, "id");
	msgpack_pack_uint64(&pk, 46);
	pk_cstr(&pk, "op");
	pk_cstr(&pk, "verify");
	pk_cstr(&pk, "items");
	msgpack_pack_nil(&pk);
	check_sb(&sb, 10, REQ_ERR_ID(HM_RERR_MALFORMED, 46), "items nil");
}

/* Depth is counted from the request map: 8 levels pass, 9 make the whole frame malformed. */
static void test_request_depth(void **state)
{
	(void)state;
	for (unsigned extra = 4; extra <= 7; extra++) {
		msgpack_sbuffer sb;
		msgpack_packer pk;
		struct hm_request req;
		struct hm_item it;
		int rc;

		/* {"id":50,"op":"verify","items":[{"x": [[...[1]...]]}]}: 3 + extra levels */
		pk_init(&pk, &sb);
		msgpack_pack_map(&pk, 3);
		pk_cstr(&pk, "id");
		msgpack_pack_uint64(&pk, 50);
		pk_cstr(&pk, "op");
		pk_cstr(&pk, "verify");
		pk_cstr(&pk, "items");
		msgpack_pack_array(&pk, 1);
		msgpack_pack_map(&pk, 1);
		pk_cstr(&pk, "x");
		for (unsigned i = 0; i < extra; i++)
			msgpack_pack_array(&pk, 1);
		msgpack_pack_uint64(&pk, 1);
		rc = hm_request_decode((const uint8_t *)sb.data, sb.size, 10, &req);
		if (3 + extra <= HM_MP_MAX_DEPTH) {
			assert_int_equal(rc, HM_OK);
			/* the item itself is malformed (unknown key), but it is skipped cleanly */
			assert_int_equal(hm_item_next(&req.items, &it), HM_EMALFORMED);
			assert_int_equal(hm_mp_left(&req.items), 0);
		} else {
			assert_int_equal(rc, HM_EMALFORMED);
			assert_string_equal(req.err, HM_RERR_MALFORMED);
			/* the id came before the broken part, so the error can echo it */
			assert_true(req.has_id);
			assert_int_equal(req.id, 50);
		}
		msgpack_sbuffer_destroy(&sb);
	}
}

/* Every strict prefix of a valid verify request is refused as malformed. */
static void test_request_truncated(void **state)
{
	struct hm_item it;
	struct hm_request req;
	struct hm_buf b;
	const uint8_t *payload;
	uint32_t plen;
	size_t start;

	(void)state;
	good_item(&it);
	hm_buf_init(&b, BUF_LIMIT);
	start = hm_encode_verify_begin(&b, 60, 2);
	hm_encode_item(&b, &it);
	it.has_body = false;
	it.v1.has_body_sha256 = true;
	it.v1.body_sha256 = DIGEST;
	hm_encode_item(&b, &it);
	hm_frame_end(&b, start);
	payload = frame_payload(&b, &plen);
	assert_int_equal(hm_request_decode(payload, plen, 2, &req), HM_OK);
	for (uint32_t cut = 0; cut < plen; cut++) {
		assert_int_equal(hm_request_decode(payload, cut, 2, &req), HM_EMALFORMED);
		assert_string_equal(req.err, HM_RERR_MALFORMED);
		/* an id is echoed only if it was read whole before the cut */
		if (req.has_id)
			assert_int_equal(req.id, 60);
	}
	hm_buf_free(&b);
}

/* Items that are not maps are malformed one by one; the request stays fine. */
static void test_items_not_maps(void **state)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct hm_request req;
	struct hm_item it;

	(void)state;
	pk_init(&pk, &sb);
	msgpack_pack_map(&pk, 3);
	pk_cstr(&pk, "id");
	msgpack_pack_uint64(&pk, 70);
	pk_cstr(&pk, "op");
	pk_cstr(&pk, "verify");
	pk_cstr(&pk, "items");
	msgpack_pack_array(&pk, 6);
	msgpack_pack_nil(&pk);
	msgpack_pack_uint64(&pk, 3);
	pk_cstr(&pk, "item");
	msgpack_pack_array(&pk, 2);
	msgpack_pack_true(&pk);
	msgpack_pack_false(&pk);
	msgpack_pack_map(&pk, 0);
	msgpack_pack_map(&pk, 1);
	pk_cstr(&pk, "tenant");
	pk_cstr(&pk, "t1");
	assert_int_equal(hm_request_decode((const uint8_t *)sb.data, sb.size, 10, &req), HM_OK);
	assert_int_equal(req.nitems, 6);
	for (int i = 0; i < 6; i++)
		assert_int_equal(hm_item_next(&req.items, &it), HM_EMALFORMED);
	assert_int_equal(hm_mp_left(&req.items), 0);
	msgpack_sbuffer_destroy(&sb);
}

/* ---- item rules: every one breaks the middle item of a batch ---- */

static void test_item_good_desc(void **state)
{
	static const struct set_case cases[] = {
		CASE_DROP("nonce", HM_OK, "no nonce"),
		CASE_STR("nonce", "", HM_OK, "empty nonce"),
	};
	struct desc d;

	(void)state;
	good_desc(&d);
	expect_ok(&d, "the good item as fields");
	/* key order does not matter */
	good_desc(&d);
	d_swap(&d, 0, d.n - 1);
	expect_ok(&d, "keys reordered");
	EXPECT_CASES(good_desc, cases);
}

static void test_item_missing_keys(void **state)
{
	static const char *const required[] = {"tenant", "container", "epoch", "method",
					       "path",   "headers",   "ts",    "sig"};
	static const struct set_case cases[] = {
		CASE_DROP("body", HM_EMALFORMED, "neither body nor body_sha256"),
		CASE_BIN("body_sha256", DIGEST, sizeof(DIGEST), HM_EMALFORMED,
			 "both body and body_sha256"),
	};
	struct desc d;

	(void)state;
	expect_each_dropped(good_desc, required, ARRAY_LEN(required));
	EXPECT_CASES(good_desc, cases);
	good_sha256_desc(&d);
	expect_ok(&d, "body_sha256 alone");

	/* an empty map */
	memset(&d, 0, sizeof(d));
	expect_bad(&d, "empty item map");
}

static void test_item_unknown_and_repeated_keys(void **state)
{
	static const char *const keys[] = {"tenant", "container", "epoch", "method", "path",
					   "headers", "body", "ts", "nonce", "sig"};
	static const struct set_case added[] = {
		CASE_STR("extra", "x", HM_EMALFORMED, "unknown key"),
		CASE_STR("Tenant", "t1", HM_EMALFORMED, "key differing in case"),
		CASE_STR("", "x", HM_EMALFORMED, "empty key"),
		CASE_STR("tenan", "t1", HM_EMALFORMED, "prefix of a key"),
		CASE_STR("body_sha", "x", HM_EMALFORMED, "prefix of body_sha256"),
	};
	static const uint8_t int_key[] = {0x01};
	static const uint8_t bin_key[] = {0xc4, 0x03, 'e', 'x', 't'};
	static const uint8_t nil_key[] = {0xc0};
	/* keys that are not strs (their msgpack bytes), appended after dropping a key or none */
	static const struct {
		const char *drop;
		struct field f;
		const char *what;
	} raw_keys[] = {
		{NULL, {NULL, int_key, sizeof(int_key), F_UINT, NULL, 0, 1}, "int key"},
		{"tenant", {NULL, bin_key, sizeof(bin_key), F_STR, "t1", 2, 0}, "bin key"},
		{NULL, {NULL, nil_key, sizeof(nil_key), F_STR, "x", 1, 0}, "nil key"},
	};
	struct desc d;

	(void)state;
	EXPECT_CASES(good_desc, added);

	/* every key repeated once, with the same value */
	expect_each_repeated(good_desc, keys, ARRAY_LEN(keys));

	for (size_t i = 0; i < ARRAY_LEN(raw_keys); i++) {
		good_desc(&d);
		if (raw_keys[i].drop != NULL)
			d_drop(&d, raw_keys[i].drop);
		d_append(&d, &raw_keys[i].f);
		expect_bad(&d, raw_keys[i].what);
	}
}

static void test_item_wrong_types(void **state)
{
	static const uint8_t tru[] = {0xc3};
	static const uint8_t flt[] = {0xca, 0x3f, 0x80, 0x00, 0x00};
	static const uint8_t ext[] = {0xd4, 0x01, 0x00};
	static const struct set_case cases[] = {
		CASE_BIN("tenant", "t1", 2, HM_EMALFORMED, "tenant as bin"),
		CASE_BIN("container", "c1", 2, HM_EMALFORMED, "container as bin"),
		CASE_BIN("method", "POST", 4, HM_EMALFORMED, "method as bin"),
		CASE_UINT("path", 1, HM_EMALFORMED, "path as int"),
		CASE_UINT("tenant", 1, HM_EMALFORMED, "tenant as int"),
		CASE_BIN("nonce", "n1", 2, HM_EMALFORMED, "nonce as bin"),
		CASE_RAW("nonce", MP_NIL, HM_EMALFORMED, "nonce nil"),
		CASE_STR("epoch", "1", HM_EMALFORMED, "epoch as str"),
		CASE_RAW("epoch", MP_NIL, HM_EMALFORMED, "epoch nil"),
		CASE_RAW("epoch", tru, HM_EMALFORMED, "epoch bool"),
		CASE_RAW("epoch", flt, HM_EMALFORMED, "epoch float"),
		CASE_STR("ts", "1700000000", HM_EMALFORMED, "ts as str"),
		CASE_RAW("ts", ext, HM_EMALFORMED, "ts as ext"),
		CASE_STRN("sig", SIG, sizeof(SIG), HM_EMALFORMED, "sig as str(32)"),
		CASE_STR("body", "{}", HM_EMALFORMED, "body as str"),
		CASE_RAW("body", MP_NIL, HM_EMALFORMED, "body nil"),
		CASE_RAW("headers", MP_EMPTY_MAP, HM_EMALFORMED, "headers as map"),
		CASE_RAW("headers", MP_NIL, HM_EMALFORMED, "headers nil"),
		CASE_RAW("headers", MP_ONE, HM_EMALFORMED, "headers int"),
	};
	static const struct set_case digest_cases[] = {
		CASE_STRN("body_sha256", DIGEST, sizeof(DIGEST), HM_EMALFORMED,
			  "body_sha256 as str(32)"),
	};

	(void)state;
	EXPECT_CASES(good_desc, cases);
	EXPECT_CASES(good_sha256_desc, digest_cases);
}

static void test_item_fixed_bins(void **state)
{
	(void)state;
	expect_bin_sizes(good_desc, "sig", HM_MAC_LEN, 40);
	expect_bin_sizes(good_sha256_desc, "body_sha256", HM_SHA256_LEN, 40);
}

static void test_item_scope(void **state)
{
	static const char *const keys[] = {"tenant", "container"};
	static const char allowed[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				      "0123456789._:/-";
	static char s128[HM_SCOPE_MAX + 2];

	(void)state;
	memset(s128, 'a', sizeof(s128));
	for (size_t k = 0; k < ARRAY_LEN(keys); k++) {
		const struct set_case sizes[] = {
			CASE_STRN(keys[k], s128, 0, HM_EMALFORMED, "empty scope"),
			CASE_STRN(keys[k], s128, 1, HM_OK, "1-byte scope"),
			CASE_STRN(keys[k], s128, HM_SCOPE_MAX, HM_OK, "128-byte scope"),
			CASE_STRN(keys[k], s128, HM_SCOPE_MAX + 1, HM_EMALFORMED, "129-byte scope"),
			CASE_STR(keys[k], allowed, HM_OK, "every allowed byte"),
		};

		EXPECT_CASES(good_desc, sizes);
		/* every byte outside the set, alone and inside an otherwise good value */
		for (unsigned c = 0; c < 256; c++) {
			char v[4] = {'a', (char)c, 'b', 0};
			char what[64];
			const struct set_case bytes[] = {
				CASE_STRN(keys[k], v, 3, HM_EMALFORMED, what),
				CASE_STRN(keys[k], v + 1, 1, HM_EMALFORMED, what),
			};

			if (c != 0 && strchr(allowed, (int)c) != NULL)
				continue;
			snprintf(what, sizeof(what), "%s with byte 0x%02x", keys[k], c);
			EXPECT_CASES(good_desc, bytes);
		}
	}
}

static void test_item_control_bytes(void **state)
{
	static const uint8_t ctl[] = {0x00, 0x01, 0x09, 0x0a, 0x0d, 0x1f, 0x7f};
	static const struct set_case high[] = {
		CASE_STR("path", "/caf\xc3\xa9?q=\xe2\x82\xac", HM_OK, "UTF-8 path"),
		CASE_STR("nonce", "\xff\x80", HM_OK, "high bytes in nonce"),
	};
	static const char *const hname[] = {"x-name"};
	static const char *const hvalue[] = {"J\xc3\xbcrgen ~ {}|\\^`"};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(ctl); i++) {
		const char m[] = {'P', 'O', (char)ctl[i], 'T'};
		const char p[] = {'/', 'a', (char)ctl[i], 'b'};
		const char n[] = {'n', (char)ctl[i], '1'};
		/* [["x-h", "v?1"]]: the control byte inside a header value (NUL-safe) */
		const uint8_t h[] = {0x91, 0x92, 0xa3, 'x', '-', 'h', 0xa3, 'v', ctl[i], '1'};
		char what[64];
		const struct set_case cases[] = {
			CASE_STRN("method", m, 4, HM_EMALFORMED, what),
			CASE_STRN("path", p, 4, HM_EMALFORMED, what),
			CASE_STRN("nonce", n, 3, HM_EMALFORMED, what),
			/* at the end of the value too */
			CASE_STRN("path", p, 3, HM_EMALFORMED, what),
			CASE_RAW("headers", h, HM_EMALFORMED, what),
		};

		snprintf(what, sizeof(what), "control byte 0x%02x", ctl[i]);
		EXPECT_CASES(good_desc, cases);
	}
	/* bytes from 0x80 up are not control bytes: UTF-8 in path, nonce and header values */
	EXPECT_CASES(good_desc, high);
	expect_headers(good_desc, 1, hname, hvalue, 2, HM_OK,
		       "printable and high bytes in a header value");
}

static void test_item_method_path_nonce(void **state)
{
	static const struct set_case cases[] = {
		CASE_STR("method", "", HM_EMALFORMED, "empty method"),
		CASE_STR("method", "get", HM_OK, "lower-case method, as sent"),
		CASE_STR("method", "M-SEARCH", HM_OK, "token method with '-'"),
		CASE_STR("method", "GET ", HM_EMALFORMED, "method with a space"),
		CASE_STR("method", "GE/T", HM_EMALFORMED, "method with '/'"),
		CASE_STR("method", "GE:T", HM_EMALFORMED, "method with ':'"),
		CASE_STR("method", "G\xc3\x89T", HM_EMALFORMED, "method with a high byte"),
		CASE_STR("path", "containers/c1", HM_EMALFORMED, "path without a leading slash"),
		CASE_STR("path", "", HM_EMALFORMED, "empty path"),
		CASE_STR("path", "*", HM_EMALFORMED, "asterisk path"),
		CASE_STR("path", "http://h/x", HM_EMALFORMED, "absolute-form path"),
		CASE_STR("path", " /x", HM_EMALFORMED, "path with a leading space"),
		CASE_STR("path", "/", HM_OK, "path /"),
		CASE_STR("path", "/a b?c=d e#f", HM_OK, "path with spaces and '#', as sent"),
		CASE_STR("nonce", "a:b c/d", HM_OK, "nonce with ':' and ' '"),
	};

	(void)state;
	expect_max_len(good_desc, "method", 'A', HM_METHOD_MAX);
	expect_max_len(good_desc, "nonce", 'n', HM_NONCE_MAX);
	EXPECT_CASES(good_desc, cases);
}

static void test_item_headers(void **state)
{
	static const char *const bad_names[] = {"Host", "content-Type", "a:b", "", "x y", "x\"y",
						"x/y", "x(y", "x@y", "x,y", "x;y", "x=y",
						"\xc3\xa9", "x\x7f"};
	static const char *const good_names[] = {"host", "x-a_b.c", "!#$%&'*+-.^_`|~0", "a",
						 "0123"};
	static const char *const abc[] = {"a", "b", "C"};
	static const char *const x[] = {"x"};
	static const char *const xx[] = {"x", "x"};
	static const char *const empty[] = {""};
	/* a pair that is not an array, a bin name, a bin value, an int value, a map */
	static const uint8_t pair_str[] = {0x91, 0xa3, 'x', ':', 'y'};
	static const uint8_t bin_name[] = {0x91, 0x92, 0xc4, 0x01, 'x', 0xa1, 'y'};
	static const uint8_t bin_value[] = {0x91, 0x92, 0xa1, 'x', 0xc4, 0x01, 'y'};
	static const uint8_t int_value[] = {0x91, 0x92, 0xa1, 'x', 0x05};
	static const uint8_t pair_map[] = {0x91, 0x81, 0xa1, 'x', 0xa1, 'y'};
	static const struct set_case raw[] = {
		CASE_RAW("headers", pair_str, HM_EMALFORMED, "pair as str"),
		CASE_RAW("headers", bin_name, HM_EMALFORMED, "bin name"),
		CASE_RAW("headers", bin_value, HM_EMALFORMED, "bin value"),
		CASE_RAW("headers", int_value, HM_EMALFORMED, "int value"),
		CASE_RAW("headers", pair_map, HM_EMALFORMED, "pair as map"),
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad_names); i++)
		expect_headers(good_desc, 1, &bad_names[i], NULL, 2, HM_EMALFORMED, bad_names[i]);
	for (size_t i = 0; i < ARRAY_LEN(good_names); i++)
		expect_headers(good_desc, 1, &good_names[i], NULL, 2, HM_OK, good_names[i]);
	/* a bad name after good ones */
	expect_headers(good_desc, 3, abc, NULL, 2, HM_EMALFORMED, "third header upper-case");

	expect_headers(good_desc, 0, NULL, NULL, 2, HM_OK, "no headers");
	expect_headers(good_desc, HM_MAX_HEADERS, NULL, NULL, 2, HM_OK, "64 headers");
	expect_headers(good_desc, HM_MAX_HEADERS + 1, NULL, NULL, 2, HM_EMALFORMED, "65 headers");
	expect_headers(good_desc, 2, NULL, NULL, 3, HM_EMALFORMED, "pair of 3");
	/* as the last key of the item, a third element would be the only thing left unread */
	expect_headers(good_desc_headers_last, 1, NULL, NULL, 3, HM_EMALFORMED,
		       "pair of 3, headers last");
	expect_headers(good_desc, 2, NULL, NULL, 1, HM_EMALFORMED, "pair of 1");
	expect_headers(good_desc, 1, NULL, NULL, 0, HM_EMALFORMED, "pair of 0");
	expect_headers(good_desc, 1, x, empty, 2, HM_OK, "empty header value");
	/* the same name twice is allowed: signed order is what the signer chose */
	expect_headers(good_desc, 2, xx, NULL, 2, HM_OK, "repeated header name");
	EXPECT_CASES(good_desc, raw);
}

static void test_item_integers(void **state)
{
	static const uint8_t neg_fix[] = {0xff};
	static const uint8_t neg8[] = {0xd0, 0xff};
	static const uint8_t neg64[] = {0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t zero[] = {0x00};
	static const uint8_t one_i8[] = {0xd0, 0x01};
	static const uint8_t one_i16[] = {0xd1, 0x00, 0x01};
	static const uint8_t one_i32[] = {0xd2, 0x00, 0x00, 0x00, 0x01};
	static const uint8_t one_u64[] = {0xcf, 0, 0, 0, 0, 0, 0, 0, 1};
	static const uint8_t ts_u32[] = {0xce, 0x65, 0x53, 0xf1, 0x00};
	static const struct set_case cases[] = {
		CASE_RAW("epoch", neg_fix, HM_EMALFORMED, "negative epoch"),
		CASE_RAW("epoch", neg8, HM_EMALFORMED, "negative epoch"),
		CASE_RAW("epoch", neg64, HM_EMALFORMED, "negative epoch"),
		CASE_RAW("ts", neg_fix, HM_EMALFORMED, "negative ts"),
		CASE_RAW("ts", neg8, HM_EMALFORMED, "negative ts"),
		CASE_RAW("ts", neg64, HM_EMALFORMED, "negative ts"),
		CASE_RAW("epoch", zero, HM_EMALFORMED, "epoch 0"),
		CASE_RAW("ts", zero, HM_OK, "ts 0"),
	};
	/* signed formats holding non-negative values are accepted, with their value */
	static const struct set_case ones[] = {
		CASE_RAW("epoch", one_i8, HM_OK, "signed epoch, int64 ts"),
		CASE_RAW("epoch", one_i16, HM_OK, "signed epoch, int64 ts"),
		CASE_RAW("epoch", one_i32, HM_OK, "signed epoch, int64 ts"),
		CASE_RAW("epoch", one_u64, HM_OK, "signed epoch, int64 ts"),
	};
	static const struct set_case u32[] = {
		CASE_RAW("ts", ts_u32, HM_OK, "uint32 ts"),
	};
	struct hm_item want;
	struct desc d;

	(void)state;
	EXPECT_CASES(good_desc, cases);
	good_item(&want); /* epoch 1, ts 1700000000 */
	EXPECT_DECODED(good_desc_ts_int64, ones, &want);
	EXPECT_DECODED(good_desc, u32, &want);

	want.v1.epoch = UINT64_MAX;
	want.v1.ts = UINT64_MAX;
	good_desc(&d);
	d_set(&d, "epoch", F_UINT, NULL, 0, UINT64_MAX);
	d_set(&d, "ts", F_UINT, NULL, 0, UINT64_MAX);
	expect_decoded(&d, &want, "largest epoch and ts");
}

/* hm_item_check on structs (what signers call before signing). */
static void test_item_check_direct(void **state)
{
	struct hm_item it;

	(void)state;
	good_item(&it);
	assert_int_equal(hm_item_check(&it), HM_OK);
	it.v1.sig = NULL;
	assert_int_equal(hm_item_check(&it), HM_EMALFORMED);
	good_item(&it);
	it.has_body = false;
	it.v1.has_body_sha256 = true;
	it.v1.body_sha256 = NULL;
	assert_int_equal(hm_item_check(&it), HM_EMALFORMED);
	it.v1.body_sha256 = DIGEST;
	assert_int_equal(hm_item_check(&it), HM_OK);
	it.has_body = true;
	assert_int_equal(hm_item_check(&it), HM_EMALFORMED);
	good_item(&it);
	it.nheaders = HM_MAX_HEADERS + 1;
	assert_int_equal(hm_item_check(&it), HM_EMALFORMED);
	good_item(&it);
	it.v1.epoch = 0;
	assert_int_equal(hm_item_check(&it), HM_EMALFORMED);
}

/* ---- rfc9421 items (PROTOCOL.md 7.2) ---- */

/* hm_encode_item(it) writes one map whose keys are want (space-separated), in that order. */
static void expect_item_keys(const struct hm_item *it, const char *want)
{
	struct hm_buf b;
	struct hm_mp r;
	char keys[256];
	uint32_t nk;
	size_t o = 0;

	hm_buf_init(&b, BUF_LIMIT);
	hm_encode_item(&b, it);
	assert_false(b.failed);
	hm_mp_init(&r, b.data, b.len);
	assert_int_equal(hm_mp_read_map(&r, &nk), HM_OK);
	for (uint32_t i = 0; i < nk; i++) {
		const uint8_t *k;
		size_t kl;

		assert_int_equal(hm_mp_read_str(&r, &k, &kl), HM_OK);
		assert_true(o + kl + 2 <= sizeof(keys));
		memcpy(keys + o, k, kl);
		o += kl;
		keys[o++] = ' ';
		assert_int_equal(hm_mp_skip(&r, 4), HM_OK);
	}
	assert_int_equal(hm_mp_left(&r), 0);
	if (o > 0)
		o--;
	keys[o] = '\0';
	assert_string_equal(keys, want);
	hm_buf_free(&b);
}

static void test_rfc_encode_key_order(void **state)
{
	struct hm_item it;

	(void)state;
	good_rfc_item(&it);
	expect_item_keys(&it, "scheme tenant container method authority path uri_scheme headers "
			      "signature_input signature label body");
	/* optional keys only when set */
	it.rfc.uri_scheme = S("");
	it.rfc.label = S("");
	it.has_body = false;
	expect_item_keys(&it, "scheme tenant container method authority path headers "
			      "signature_input signature");
	/* an empty body is a body */
	it.has_body = true;
	it.body = S("");
	expect_item_keys(&it, "scheme tenant container method authority path headers "
			      "signature_input signature body");
	/* hmacd-v1 items carry no scheme key, as before */
	good_item(&it);
	expect_item_keys(&it, "tenant container epoch method path headers body ts nonce sig");
}

/* Mixed batches of both schemes; each decoded item equals the one encoded, whatever came before. */
static void test_rfc_round_trip(void **state)
{
	static struct hm_item items[6];
	struct hm_item got;
	struct hm_request req;
	struct hm_buf b;
	const uint8_t *payload;
	uint32_t plen;
	size_t start;
	char names[HM_RFC_MAX_HEADERS][8];

	(void)state;
	good_rfc_item(&items[0]);
	good_item(&items[1]);
	/* 2: the minimum: no optional key, no header */
	good_rfc_item(&items[2]);
	items[2].rfc.uri_scheme = S("");
	items[2].rfc.label = S("");
	items[2].has_body = false;
	items[2].body = S("");
	items[2].nheaders = 0;
	/* 3: http, an empty body, 128 headers with tabs inside and around values */
	good_rfc_item(&items[3]);
	items[3].rfc.uri_scheme = S("http");
	items[3].body = S("");
	items[3].method = S("get");
	items[3].rfc.authority = S("[2001:db8::1]:8080");
	items[3].path = S("/");
	items[3].nheaders = HM_RFC_MAX_HEADERS;
	for (size_t i = 0; i < HM_RFC_MAX_HEADERS; i++) {
		snprintf(names[i], sizeof(names[i]), "x-%zu", i);
		items[3].headers[i].name = S(names[i]);
		items[3].headers[i].value = S(i % 3 == 0 ? "" : i % 3 == 1 ? "\ta\tb " : "v");
	}
	/* 4: a v1 item after a 128-header rfc item: nothing of it leaks */
	good_item(&items[4]);
	items[4].nheaders = 0;
	items[4].v1.nonce = S("");
	/* 5: the largest signature fields and label */
	good_rfc_item(&items[5]);
	{
		static char si[HM_SIGFIELD_MAX], label[HM_LABEL_MAX];

		memset(si, 'x', sizeof(si));
		memset(label, 'l', sizeof(label));
		items[5].rfc.signature_input.ptr = (const uint8_t *)si;
		items[5].rfc.signature_input.len = sizeof(si);
		items[5].rfc.signature.ptr = (const uint8_t *)si;
		items[5].rfc.signature.len = sizeof(si);
		items[5].rfc.label.ptr = (const uint8_t *)label;
		items[5].rfc.label.len = sizeof(label);
	}
	for (size_t i = 0; i < ARRAY_LEN(items); i++)
		assert_int_equal(hm_item_check(&items[i]), HM_OK);

	hm_buf_init(&b, BUF_LIMIT);
	start = hm_encode_verify_begin(&b, 9, ARRAY_LEN(items));
	for (size_t i = 0; i < ARRAY_LEN(items); i++)
		hm_encode_item(&b, &items[i]);
	hm_frame_end(&b, start);
	payload = frame_payload(&b, &plen);
	assert_int_equal(hm_request_decode(payload, plen, HM_DEFAULT_MAX_BATCH, &req), HM_OK);
	assert_int_equal(req.nitems, ARRAY_LEN(items));
	for (size_t i = 0; i < ARRAY_LEN(items); i++) {
		memset(&got, 0xa5, sizeof(got)); /* hm_item_next must overwrite everything used */
		assert_int_equal(hm_item_next(&req.items, &got), HM_OK);
		assert_item_equal(&got, &items[i]);
	}
	assert_int_equal(hm_mp_left(&req.items), 0);

	/* the same items decoded into one struct, one after the other (the daemon's way) */
	assert_int_equal(hm_request_decode(payload, plen, HM_DEFAULT_MAX_BATCH, &req), HM_OK);
	memset(&got, 0xa5, sizeof(got));
	for (size_t i = 0; i < ARRAY_LEN(items); i++) {
		assert_int_equal(hm_item_next(&req.items, &got), HM_OK);
		assert_item_equal(&got, &items[i]);
	}
	hm_buf_free(&b);
}

static void test_rfc_good_desc(void **state)
{
	struct hm_item want;
	struct desc d;

	(void)state;
	good_rfc_item(&want);
	good_rfc_desc(&d);
	expect_decoded(&d, &want, "the good rfc9421 item as fields");

	/* "scheme" may come anywhere: last, in the middle */
	good_rfc_desc(&d);
	d_drop(&d, "scheme");
	d_add(&d, "scheme", F_STR, "rfc9421", 7, 0);
	expect_decoded(&d, &want, "scheme last");
	good_rfc_desc(&d);
	d_swap(&d, 0, 6);
	expect_ok(&d, "scheme in the middle");

	/* optional keys */
	good_rfc_desc(&d);
	d_drop(&d, "uri_scheme");
	d_drop(&d, "label");
	d_drop(&d, "body");
	want.rfc.uri_scheme = S("");
	want.rfc.label = S("");
	want.has_body = false;
	expect_decoded(&d, &want, "no optional key");
	good_rfc_item(&want);
	want.body = S("");
	good_rfc_desc(&d);
	d_set(&d, "body", F_BIN, "", 0, 0);
	expect_decoded(&d, &want, "empty body");
	expect_headers(good_rfc_desc, 0, NULL, NULL, 2, HM_OK, "no headers");

	/* "scheme": "hmacd-v1" is a v1 item, anywhere in the map */
	good_item(&want);
	good_v1_explicit_desc(&d);
	expect_decoded(&d, &want, "explicit hmacd-v1 last");
	good_v1_explicit_desc(&d);
	d_swap(&d, 0, d.n - 1);
	expect_ok(&d, "explicit hmacd-v1 first");
}

static void test_rfc_missing_keys(void **state)
{
	static const char *const required[] = {"scheme",    "tenant",          "container",
					       "method",    "authority",       "path",
					       "headers",   "signature_input", "signature"};
	struct desc d;

	(void)state;
	expect_each_dropped(good_rfc_desc, required, ARRAY_LEN(required));
	/* only the scheme */
	memset(&d, 0, sizeof(d));
	d_add(&d, "scheme", F_STR, "rfc9421", 7, 0);
	expect_bad(&d, "scheme alone");
}

static void test_rfc_unknown_and_repeated_keys(void **state)
{
	static const char *const rfc_keys[] = {
		"scheme", "tenant", "container", "method", "authority", "path", "uri_scheme",
		"headers", "signature_input", "signature", "label", "body"};
	static const char *const rfc_only[] = {"authority", "uri_scheme", "signature_input",
					       "signature", "label"};
	/* hmacd-v1 keys in an rfc9421 item are unknown keys, as are near misses */
	static const struct set_case added[] = {
		CASE_UINT("epoch", 1, HM_EMALFORMED, "rfc9421 with epoch"),
		CASE_UINT("ts", 1700000000, HM_EMALFORMED, "rfc9421 with ts"),
		CASE_STR("nonce", "n1", HM_EMALFORMED, "rfc9421 with nonce"),
		CASE_STR("nonce", "", HM_EMALFORMED, "rfc9421 with an empty nonce"),
		CASE_BIN("sig", SIG, sizeof(SIG), HM_EMALFORMED, "rfc9421 with sig"),
		CASE_BIN("body_sha256", DIGEST, sizeof(DIGEST), HM_EMALFORMED,
			 "rfc9421 with body_sha256"),
		CASE_STR("extra", "x", HM_EMALFORMED, "rfc9421 with an unknown key"),
		CASE_STR("Label", "sig-b25", HM_EMALFORMED, "key differing in case"),
		CASE_STR("signature_inpu", "x", HM_EMALFORMED, "prefix of signature_input"),
		CASE_STR("signatures", "x", HM_EMALFORMED, "signature plus a byte"),
		/* a whole rfc9421 item that says hmacd-v1 */
		CASE_STR("scheme", "hmacd-v1", HM_EMALFORMED, "rfc9421 keys under scheme hmacd-v1"),
	};
	struct desc d;

	(void)state;
	EXPECT_CASES(good_rfc_desc, added);
	good_rfc_desc(&d);
	d_drop(&d, "body");
	d_add(&d, "body_sha256", F_BIN, DIGEST, sizeof(DIGEST), 0);
	expect_bad(&d, "rfc9421 with body_sha256 instead of body");

	/* and rfc9421 keys in an hmacd-v1 item, with or without "scheme": "hmacd-v1" */
	for (size_t i = 0; i < ARRAY_LEN(rfc_only); i++) {
		expect_bad_added(good_desc, rfc_only[i], "https", rfc_only[i]);
		expect_bad_added(good_v1_explicit_desc, rfc_only[i], "https", rfc_only[i]);
	}
	expect_bad_added(good_desc, "scheme", "rfc9421", "v1 keys under scheme rfc9421");

	/* every key repeated once, with the same value; "scheme" twice with different values */
	expect_each_repeated(good_rfc_desc, rfc_keys, ARRAY_LEN(rfc_keys));
	expect_bad_added(good_rfc_desc, "scheme", "hmacd-v1", "scheme rfc9421 then hmacd-v1");
	expect_bad_added(good_v1_explicit_desc, "scheme", "hmacd-v1", "scheme hmacd-v1 twice");
}

static void test_rfc_scheme_values(void **state)
{
	static const char *const bad[] = {"", "RFC9421", "rfc9421 ", " rfc9421", "rfc 9421",
					  "rfc9421\n", "rfc942", "rfc94210", "hmacd-v2",
					  "HMACD-V1", "hmacd", "v1", "rfc9421\0"};
	static const struct set_case types[] = {
		CASE_BIN("scheme", "rfc9421", 7, HM_EMALFORMED, "scheme as bin"),
		CASE_RAW("scheme", MP_NIL, HM_EMALFORMED, "scheme nil"),
		CASE_RAW("scheme", MP_ONE, HM_EMALFORMED, "scheme 1"),
	};
	struct desc d;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		size_t len = strlen(bad[i]) + (i == ARRAY_LEN(bad) - 1); /* the last has its NUL */

		good_rfc_desc(&d);
		d_set(&d, "scheme", F_STR, bad[i], len, 0);
		expect_bad(&d, bad[i]);
		/* on a v1 item too */
		good_desc(&d);
		d_add(&d, "scheme", F_STR, bad[i], len, 0);
		expect_bad(&d, bad[i]);
	}
	EXPECT_CASES(good_rfc_desc, types);
	good_desc(&d);
	d_add(&d, "scheme", F_UINT, NULL, 0, 0);
	expect_bad(&d, "scheme 0 on a v1 item");
}

static void test_rfc_wrong_types(void **state)
{
	static const char *const strs[] = {"tenant", "container", "method", "authority", "path",
					   "uri_scheme", "signature_input", "signature", "label"};
	static const struct set_case others[] = {
		CASE_STR("body", B2_BODY, HM_EMALFORMED, "body as str"),
		CASE_RAW("body", MP_NIL, HM_EMALFORMED, "body nil"),
		CASE_RAW("headers", MP_EMPTY_MAP, HM_EMALFORMED, "headers as map"),
		CASE_RAW("headers", MP_NIL, HM_EMALFORMED, "headers nil"),
		CASE_STR("headers", "host: example.com", HM_EMALFORMED, "headers as str"),
		/* optional strs present and empty are malformed (absent is the way to say none) */
		CASE_STR("uri_scheme", "", HM_EMALFORMED, "empty uri_scheme"),
		CASE_STR("label", "", HM_EMALFORMED, "empty label"),
	};
	struct desc d;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(strs); i++) {
		const struct set_case wrong[] = {
			CASE_RAW(strs[i], MP_NIL, HM_EMALFORMED, strs[i]),
			CASE_RAW(strs[i], MP_ONE, HM_EMALFORMED, strs[i]),
			CASE_RAW(strs[i], MP_EMPTY_ARRAY, HM_EMALFORMED, strs[i]),
		};
		const struct field *f;

		/* its own bytes as a bin */
		good_rfc_desc(&d);
		f = d_find(&d, strs[i]);
		assert_non_null(f);
		d_set(&d, strs[i], F_BIN, f->p, f->len, 0);
		expect_bad(&d, strs[i]);
		EXPECT_CASES(good_rfc_desc, wrong);
	}
	EXPECT_CASES(good_rfc_desc, others);
}

static bool label_byte_ok(unsigned c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
	       c == '.' || c == '*';
}

static void test_rfc_label(void **state)
{
	static const char *const good[] = {"sig1", "sig-b25", "a", "*", "*x", "a.b_c-d*9",
					   "x", "zz"};
	static const char *const bad[] = {"Sig1", "1sig", "-a", "_a", ".a", "a b", "a=b",
					  "a,b", "a;b", "a:b", "a\"b", "\xc3\xa9t\xc3\xa9", "a\x7f",
					  "a\tb", "A", "sig-B25", "a/b"};

	(void)state;
	expect_strs(good_rfc_desc, "label", good, ARRAY_LEN(good), HM_OK);
	expect_strs(good_rfc_desc, "label", bad, ARRAY_LEN(bad), HM_EMALFORMED);
	expect_max_len(good_rfc_desc, "label", 'x', HM_LABEL_MAX);
	/* every byte as the second byte of a label */
	expect_each_byte(good_rfc_desc, "label", "a?", 1, label_byte_ok);
}

/* refused in an authority: < 0x21, 0x7f and / ? # @ */
static bool authority_byte_ok(unsigned c)
{
	return c >= 0x21 && c != 0x7f && c != '/' && c != '?' && c != '#' && c != '@';
}

static void test_rfc_authority(void **state)
{
	static const char *const good[] = {"example.com", "example.com:8443", "EXAMPLE.COM",
					   "[2001:db8::1]:443", "127.0.0.1", "a", "h:",
					   "xn--bcher-kva.example", "caf\xc3\xa9.example",
					   "a!$&'()*+,;=~%20"};
	static const char *const bad[] = {"", " example.com", "example.com ", "exa mple.com",
					  "example.com/", "/path", "example.com?q", "example.com#f",
					  "user@example.com", "@", "a\tb", "a\x7f", "a\x01",
					  "example.com\r\n"};
	static const struct set_case nul[] = {
		CASE_STR("authority", "a\0b", HM_EMALFORMED, "authority with NUL"),
	};

	(void)state;
	expect_strs(good_rfc_desc, "authority", good, ARRAY_LEN(good), HM_OK);
	expect_strs(good_rfc_desc, "authority", bad, ARRAY_LEN(bad), HM_EMALFORMED);
	EXPECT_CASES(good_rfc_desc, nul);
	expect_max_len(good_rfc_desc, "authority", 'h', HM_AUTHORITY_MAX);
	expect_each_byte(good_rfc_desc, "authority", "h?x", 1, authority_byte_ok);
}

static void test_rfc_uri_scheme(void **state)
{
	static const char *const bad[] = {"HTTP", "HTTPS", "Https", "ftp", "ws", "wss", "https ",
					  " http", "http:", "https://", "htt", "httpss"};
	struct hm_item want;
	struct desc d;

	(void)state;
	good_rfc_item(&want);
	want.rfc.uri_scheme = S("http");
	good_rfc_desc(&d);
	d_set_str(&d, "uri_scheme", "http");
	expect_decoded(&d, &want, "http");
	good_rfc_desc(&d);
	d_set_str(&d, "uri_scheme", "https");
	expect_ok(&d, "https");
	good_rfc_desc(&d);
	d_drop(&d, "uri_scheme");
	expect_ok(&d, "absent");
	expect_strs(good_rfc_desc, "uri_scheme", bad, ARRAY_LEN(bad), HM_EMALFORMED);
}

/* Headers: 128 for rfc9421 (v1 stays 64), lower-case names, HTAB allowed in rfc9421 values. */
static void test_rfc_headers(void **state)
{
	static const uint8_t ctl[] = {0x00, 0x01, 0x0a, 0x0d, 0x1f, 0x7f};
	static const char *const bad_names[] = {"Host", "content-Type", "a:b", "", "x y",
						"\xc3\xa9", ":authority"};
	static const char *const tab_name[] = {"x-tab"};
	static const char *const tabbed[] = {"\ta\tb\t", "\t", "a\tb"};
	static char names[HM_RFC_MAX_HEADERS][8];
	msgpack_packer pk;
	struct hm_item want;
	struct desc d;

	(void)state;
	good_rfc_item(&want);
	want.nheaders = HM_RFC_MAX_HEADERS;
	for (size_t i = 0; i < HM_RFC_MAX_HEADERS; i++) {
		snprintf(names[i], sizeof(names[i]), "h%zu", i);
		want.headers[i].name = S(names[i]);
		want.headers[i].value = S("v");
	}
	good_rfc_desc(&d);
	pack_headers(d_raw(&d, &pk), HM_RFC_MAX_HEADERS, NULL, NULL, 2);
	d_set_last_raw(&d, "headers");
	expect_decoded(&d, &want, "128 headers");
	expect_headers(good_rfc_desc, HM_RFC_MAX_HEADERS + 1, NULL, NULL, 2, HM_EMALFORMED,
		       "129 headers");
	expect_headers(good_rfc_desc, 1000, NULL, NULL, 2, HM_EMALFORMED, "1000 headers");
	/* hmacd-v1 keeps its 64 */
	expect_headers(good_desc, HM_MAX_HEADERS, NULL, NULL, 2, HM_OK, "v1: 64 headers");
	expect_headers(good_desc, HM_MAX_HEADERS + 1, NULL, NULL, 2, HM_EMALFORMED,
		       "v1: 65 headers");
	expect_headers(good_desc, HM_RFC_MAX_HEADERS, NULL, NULL, 2, HM_EMALFORMED,
		       "v1: 128 headers");
	expect_headers(good_v1_explicit_desc, HM_MAX_HEADERS + 1, NULL, NULL, 2, HM_EMALFORMED,
		       "explicit v1: 65 headers");

	for (size_t i = 0; i < ARRAY_LEN(bad_names); i++)
		expect_headers(good_rfc_desc, 1, &bad_names[i], NULL, 2, HM_EMALFORMED,
			       bad_names[i]);
	expect_headers(good_rfc_desc, 2, NULL, NULL, 3, HM_EMALFORMED, "pair of 3");

	/* HTAB: inside and around rfc9421 values, never in v1 values */
	for (size_t i = 0; i < ARRAY_LEN(tabbed); i++) {
		expect_headers(good_rfc_desc, 1, tab_name, &tabbed[i], 2, HM_OK,
			       "rfc9421 value with HTAB");
		expect_headers(good_desc, 1, tab_name, &tabbed[i], 2, HM_EMALFORMED,
			       "v1 value with HTAB");
	}
	for (size_t i = 0; i < ARRAY_LEN(ctl); i++) {
		/* [["x-h", "v?1"]] (NUL-safe) */
		const uint8_t h[] = {0x91, 0x92, 0xa3, 'x', '-', 'h', 0xa3, 'v', ctl[i], '1'};
		char what[48];
		const struct set_case cases[] = {CASE_RAW("headers", h, HM_EMALFORMED, what)};

		snprintf(what, sizeof(what), "rfc9421 value with 0x%02x", ctl[i]);
		EXPECT_CASES(good_rfc_desc, cases);
	}
}

/* signature_input and signature: any byte but the controls */
static bool sigfield_byte_ok(unsigned c)
{
	return c >= 0x20 && c != 0x7f;
}

/* method, path, tenant/container: the v1 rules; signature_input/signature: 1..8192, no ctl. */
static void test_rfc_fields(void **state)
{
	static const char *const sigkeys[] = {"signature_input", "signature"};
	static char big[HM_SIGFIELD_MAX + 1];
	static const struct set_case cases[] = {
		CASE_STR("method", "", HM_EMALFORMED, "empty method"),
		CASE_STR("method", "GE T", HM_EMALFORMED, "method with a space"),
		CASE_STR("path", "foo", HM_EMALFORMED, "path without a leading slash"),
		CASE_STR("path", "", HM_EMALFORMED, "empty path"),
		CASE_STR("path", "/a\nb", HM_EMALFORMED, "path with LF"),
		CASE_STR("path", "/caf\xc3\xa9?q=a b", HM_OK, "path as sent"),
		CASE_STR("tenant", "bad tenant", HM_EMALFORMED, "tenant with a space"),
		CASE_STR("container", "", HM_EMALFORMED, "empty container"),
		CASE_STRN("tenant", big, HM_SCOPE_MAX + 1, HM_EMALFORMED, "129-byte tenant"),
	};

	(void)state;
	memset(big, 'A', sizeof(big));
	expect_max_len(good_rfc_desc, "method", 'A', HM_METHOD_MAX);
	EXPECT_CASES(good_rfc_desc, cases);

	for (size_t k = 0; k < ARRAY_LEN(sigkeys); k++) {
		const struct set_case sizes[] = {
			CASE_STRN(sigkeys[k], big, 0, HM_EMALFORMED, "empty"),
			CASE_STRN(sigkeys[k], big, 1, HM_OK, "1 byte"),
			CASE_STR(sigkeys[k], "sig1=:\xc3\xa9:, sig2=(\"@method\")", HM_OK,
				 "high bytes and spaces (the daemon's parser judges them)"),
		};

		EXPECT_CASES(good_rfc_desc, sizes);
		expect_max_len(good_rfc_desc, sigkeys[k], 'A', HM_SIGFIELD_MAX);
		expect_each_byte(good_rfc_desc, sigkeys[k], "a?b", 1, sigfield_byte_ok);
	}
}

/* hm_item_check() of the good rfc9421 item with the hm_str at offset off set to val */
static int check_rfc_str(size_t off, const char *val)
{
	struct hm_str v = S(val);
	struct hm_item it;

	good_rfc_item(&it);
	memcpy((uint8_t *)&it + off, &v, sizeof(v));
	return hm_item_check(&it);
}

/* hm_item_check on rfc9421 structs; each scheme ignores the other's fields. */
static void test_rfc_check_direct(void **state)
{
	static const struct {
		size_t off;
		const char *val;
	} bad[] = {
		{offsetof(struct hm_item, rfc.authority), ""},
		{offsetof(struct hm_item, rfc.signature_input), ""},
		{offsetof(struct hm_item, rfc.signature), ""},
		{offsetof(struct hm_item, rfc.label), "Sig"},
		{offsetof(struct hm_item, method), ""},
		{offsetof(struct hm_item, path), "x"},
		{offsetof(struct hm_item, container), ""},
		{offsetof(struct hm_item, headers[0].name), "Host"},
	};
	struct hm_item it;

	(void)state;
	good_rfc_item(&it);
	assert_int_equal(hm_item_check(&it), HM_OK);
	/* v1 fields do not matter in an rfc9421 item */
	it.v1.epoch = 0;
	it.v1.sig = NULL;
	it.v1.has_body_sha256 = true;
	it.v1.body_sha256 = NULL;
	it.v1.nonce = S("\n");
	assert_int_equal(hm_item_check(&it), HM_OK);
	/* nor rfc9421 fields in a v1 item */
	good_item(&it);
	it.rfc.authority = S("bad authority/");
	it.rfc.uri_scheme = S("ftp");
	it.rfc.label = S("BAD");
	it.rfc.signature = S("");
	assert_int_equal(hm_item_check(&it), HM_OK);

	good_rfc_item(&it);
	it.nheaders = HM_RFC_MAX_HEADERS;
	for (size_t i = 0; i < HM_RFC_MAX_HEADERS; i++) {
		it.headers[i].name = S("x");
		it.headers[i].value = S("");
	}
	assert_int_equal(hm_item_check(&it), HM_OK);
	it.nheaders = HM_RFC_MAX_HEADERS + 1;
	assert_int_equal(hm_item_check(&it), HM_EMALFORMED);
	it.scheme = HM_SCHEME_HMACD_V1; /* the same array as a v1 item: 64 at most */
	it.v1.epoch = 1;
	it.v1.sig = SIG;
	it.has_body = true;
	it.nheaders = HM_MAX_HEADERS;
	assert_int_equal(hm_item_check(&it), HM_OK);
	it.nheaders = HM_MAX_HEADERS + 1;
	assert_int_equal(hm_item_check(&it), HM_EMALFORMED);

	good_rfc_item(&it);
	it.scheme = (enum hm_scheme)2;
	assert_int_equal(hm_item_check(&it), HM_EMALFORMED);
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		assert_int_equal(check_rfc_str(bad[i].off, bad[i].val), HM_EMALFORMED);
	good_rfc_item(&it);
	it.rfc.uri_scheme = S("");
	it.rfc.label = S("");
	it.has_body = false;
	assert_int_equal(hm_item_check(&it), HM_OK); /* in a struct, empty = absent */
	it.rfc.uri_scheme = S("HTTPS");
	assert_int_equal(hm_item_check(&it), HM_EMALFORMED);
}

/* Broken rfc9421 items among good items of both schemes: only they are refused. */
static void test_rfc_batch_neighbours(void **state)
{
	struct hm_item items[7], got;
	struct hm_request req;
	struct hm_buf b;
	msgpack_packer pk;
	struct desc d;
	const uint8_t *payload;
	uint32_t plen;
	size_t start;
	static const int want[7] = {HM_OK, HM_EMALFORMED, HM_OK, HM_EMALFORMED,
				    HM_OK, HM_EMALFORMED, HM_OK};

	(void)state;
	good_rfc_item(&items[0]);
	good_item(&items[2]);
	good_rfc_item(&items[4]);
	items[4].rfc.label = S("");
	good_item(&items[6]);
	/* build the batch in order: good, bad, good, bad, good, bad, good */
	hm_buf_init(&b, BUF_LIMIT);
	start = hm_encode_verify_begin(&b, 5, 7);
	for (int i = 0; i < 7; i++) {
		if (want[i] == HM_OK) {
			hm_encode_item(&b, &items[i]);
			continue;
		}
		good_rfc_desc(&d);
		if (i == 1) {
			d_add(&d, "sig", F_BIN, SIG, sizeof(SIG), 0);
		} else if (i == 3) {
			/* 129 headers, the last one bad too */
			pack_headers(d_raw(&d, &pk), HM_RFC_MAX_HEADERS + 1, NULL, NULL, 2);
			d_set_last_raw(&d, "headers");
		} else {
			/* scheme last and wrong: everything was read as rfc9421 keys before */
			d_drop(&d, "scheme");
			d_add(&d, "scheme", F_STR, "rfc9422", 7, 0);
		}
		append_desc(&b, &d);
		d_free(&d);
	}
	hm_frame_end(&b, start);
	payload = frame_payload(&b, &plen);
	assert_int_equal(hm_request_decode(payload, plen, HM_DEFAULT_MAX_BATCH, &req), HM_OK);
	assert_int_equal(req.nitems, 7);
	for (int i = 0; i < 7; i++) {
		int rc = hm_item_next(&req.items, &got);

		assert_int_equal(rc, want[i]);
		if (rc == HM_OK)
			assert_item_equal(&got, &items[i]);
	}
	assert_int_equal(hm_mp_left(&req.items), 0);
	hm_buf_free(&b);
}

/* ---- responses ---- */

static void test_response_results(void **state)
{
	static const uint32_t counts[] = {0, 1, 8, 15, 16, 1024};
	struct hm_response resp;
	struct hm_buf b;
	uint32_t plen;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(counts); i++) {
		const uint8_t *payload;
		size_t start;

		hm_buf_init(&b, BUF_LIMIT);
		start = hm_encode_results_begin(&b, 1000 + i, counts[i]);
		for (uint32_t k = 0; k < counts[i]; k++)
			hm_encode_result(&b, k % 8);
		hm_frame_end(&b, start);
		payload = frame_payload(&b, &plen);
		assert_int_equal(hm_response_decode(payload, plen, &resp), HM_OK);
		assert_int_equal(resp.kind, HM_RESP_RESULTS);
		assert_true(resp.has_id);
		assert_int_equal(resp.id, 1000 + i);
		assert_int_equal(resp.nresults, counts[i]);
		for (uint32_t k = 0; k < counts[i]; k++) {
			uint64_t v;

			assert_int_equal(hm_mp_read_uint(&resp.results, &v), HM_OK);
			assert_int_equal(v, k % 8);
		}
		hm_buf_free(&b);
	}
}

static void test_response_pong_stats(void **state)
{
	static const char *const names[] = {"connections", "verify_ok", "bad_signature", "x"};
	static const uint64_t values[] = {0, 127, 1ull << 40, UINT64_MAX};
	struct hm_response resp;
	struct hm_buf b;
	const uint8_t *payload;
	uint32_t plen;
	size_t start;

	(void)state;
	hm_buf_init(&b, BUF_LIMIT);
	hm_encode_pong(&b, UINT64_MAX);
	payload = frame_payload(&b, &plen);
	assert_int_equal(hm_response_decode(payload, plen, &resp), HM_OK);
	assert_int_equal(resp.kind, HM_RESP_PONG);
	assert_true(resp.has_id);
	assert_true(resp.id == UINT64_MAX);
	hm_buf_free(&b);

	hm_buf_init(&b, BUF_LIMIT);
	start = hm_encode_stats_begin(&b, 5, ARRAY_LEN(names));
	for (size_t i = 0; i < ARRAY_LEN(names); i++)
		hm_encode_stat(&b, names[i], values[i]);
	hm_frame_end(&b, start);
	payload = frame_payload(&b, &plen);
	assert_int_equal(hm_response_decode(payload, plen, &resp), HM_OK);
	assert_int_equal(resp.kind, HM_RESP_STATS);
	assert_int_equal(resp.id, 5);
	assert_int_equal(resp.nstats, ARRAY_LEN(names));
	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		struct hm_str name;
		uint64_t v;

		assert_int_equal(hm_mp_read_str(&resp.stats, &name.ptr, &name.len), HM_OK);
		assert_str_is(name, names[i]);
		assert_int_equal(hm_mp_read_uint(&resp.stats, &v), HM_OK);
		assert_true(v == values[i]);
	}
	hm_buf_free(&b);

	/* no counters at all */
	hm_buf_init(&b, BUF_LIMIT);
	start = hm_encode_stats_begin(&b, 6, 0);
	hm_frame_end(&b, start);
	payload = frame_payload(&b, &plen);
	assert_int_equal(hm_response_decode(payload, plen, &resp), HM_OK);
	assert_int_equal(resp.kind, HM_RESP_STATS);
	assert_int_equal(resp.nstats, 0);
	hm_buf_free(&b);
}

static void test_response_error(void **state)
{
	struct hm_response resp;
	struct hm_buf b;
	const uint8_t *payload;
	uint32_t plen;

	(void)state;
	hm_buf_init(&b, BUF_LIMIT);
	hm_encode_error(&b, true, 42, HM_RERR_UNKNOWN_OP, "op is not verify, ping or stats");
	payload = frame_payload(&b, &plen);
	assert_int_equal(hm_response_decode(payload, plen, &resp), HM_OK);
	assert_int_equal(resp.kind, HM_RESP_ERROR);
	assert_true(resp.has_id);
	assert_int_equal(resp.id, 42);
	assert_str_is(resp.err, "unknown_op");
	assert_str_is(resp.err_text, "op is not verify, ping or stats");
	hm_buf_free(&b);

	hm_buf_init(&b, BUF_LIMIT);
	hm_encode_error(&b, false, 42, HM_RERR_MALFORMED, "request is not a map");
	payload = frame_payload(&b, &plen);
	/* "id": nil is on the wire */
	assert_int_equal(payload[0], 0x83);
	assert_memory_equal(payload + 1, "\xa2id\xc0", 4);
	assert_int_equal(hm_response_decode(payload, plen, &resp), HM_OK);
	assert_int_equal(resp.kind, HM_RESP_ERROR);
	assert_false(resp.has_id);
	assert_str_is(resp.err, "malformed");
	assert_str_is(resp.err_text, "request is not a map");
	hm_buf_free(&b);

	/* every error code of the protocol round-trips */
	{
		static const char *const codes[] = {HM_RERR_MALFORMED, HM_RERR_UNKNOWN_OP,
						    HM_RERR_TOO_MANY_ITEMS, HM_RERR_INTERNAL};

		for (size_t i = 0; i < ARRAY_LEN(codes); i++) {
			hm_buf_init(&b, BUF_LIMIT);
			hm_encode_error(&b, true, i, codes[i], "");
			payload = frame_payload(&b, &plen);
			assert_int_equal(hm_response_decode(payload, plen, &resp), HM_OK);
			assert_str_is(resp.err, codes[i]);
			assert_int_equal(resp.err_text.len, 0);
			hm_buf_free(&b);
		}
	}
}

/* Builds a response-like map from raw pieces and expects HM_EPROTO. */
static void test_response_garbage(void **state)
{
	static const struct {
		uint8_t b[6];
		size_t len;
	} junk[] = {
		{{0xc1}, 1}, {{0x90}, 1}, {{0x07}, 1}, {{0xc0}, 1}, {{0xa2, 'i', 'd'}, 3},
		{{0xdf, 0xff, 0xff, 0xff, 0xff}, 5}, {{0x81, 0xa2, 'i', 'd'}, 4},
	};
	/* each one malformed response, as msgpack bytes */
#define M(lit, what) {(const uint8_t *)(lit), sizeof(lit) - 1, (what)}
	static const struct {
		const uint8_t *b;
		size_t len;
		const char *what;
	} bad[] = {
		M("\x80", "empty map"),
		M("\x81\xa2id\x01", "id only"),
		M("\x81\xa4pong\xc3", "pong without id"),
		M("\x82\xa2id\xc0\xa4pong\xc3", "pong with nil id"),
		M("\x82\xa2id\x01\xa4pong\xc2", "pong false"),
		M("\x82\xa2id\x01\xa4pong\x01", "pong 1"),
		M("\x83\xa2id\x01\xa4pong\xc3\xa7results\x90", "two kinds"),
		M("\x82\xa2id\x01\xa7results\x92\x00\xff", "negative result"),
		M("\x82\xa2id\x01\xa7results\x91\xa2OK", "str result"),
		M("\x82\xa2id\x01\xa7results\x80", "results as map"),
		M("\x82\xa2id\x01\xa5stats\x81\xa1x\xa1" "1", "stat value str"),
		M("\x82\xa2id\x01\xa5stats\x81\x01\x01", "stat name int"),
		M("\x82\xa2id\x01\xa5" "error\x01", "error int"),
		M("\x82\xa2id\xa1" "1\xa4pong\xc3", "id str"),
		M("\x83\xa2id\x01\xa4pong\xc3\xa5" "extra\xc3", "unknown key"),
		M("\x83\xa2id\x01\xa5" "error\xa1x\xa7message\xc0", "message nil"),
	};
#undef M
	struct hm_response resp;
	struct hm_buf b;
	const uint8_t *payload;
	uint32_t plen;
	size_t start;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(junk); i++)
		assert_int_equal(hm_response_decode(junk[i].b, junk[i].len, &resp), HM_EPROTO);
	assert_int_equal(hm_response_decode(junk[0].b, 0, &resp), HM_EPROTO);

	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		if (hm_response_decode(bad[i].b, bad[i].len, &resp) != HM_EPROTO)
			fail_msg("%s: response accepted", bad[i].what);

	/* a good pong followed by a trailing byte, and every truncation of a good pong */
	hm_buf_init(&b, BUF_LIMIT);
	hm_encode_pong(&b, 3);
	payload = frame_payload(&b, &plen);
	assert_int_equal(hm_response_decode(payload, plen, &resp), HM_OK);
	for (uint32_t cut = 0; cut < plen; cut++)
		assert_int_equal(hm_response_decode(payload, cut, &resp), HM_EPROTO);
	hm_buf_append_byte(&b, 0xc0);
	assert_int_equal(hm_response_decode(payload, plen + 1, &resp), HM_EPROTO);
	hm_buf_free(&b);

	/* every truncation of a results response */
	hm_buf_init(&b, BUF_LIMIT);
	start = hm_encode_results_begin(&b, 9, 20);
	for (int k = 0; k < 20; k++)
		hm_encode_result(&b, 7);
	hm_frame_end(&b, start);
	payload = frame_payload(&b, &plen);
	for (uint32_t cut = 0; cut < plen; cut++)
		assert_int_equal(hm_response_decode(payload, cut, &resp), HM_EPROTO);
	hm_buf_free(&b);
}

/* The encoder's sticky error: a buffer too small for the frame fails once, at the end. */
static void test_encode_buffer_limit(void **state)
{
	struct hm_item it;
	struct hm_buf b;
	size_t start;

	(void)state;
	good_item(&it);
	hm_buf_init(&b, 64);
	start = hm_encode_verify_begin(&b, 1, 1);
	hm_encode_item(&b, &it);
	hm_frame_end(&b, start);
	assert_true(b.failed);
	hm_buf_free(&b);

	hm_buf_init(&b, 64);
	hm_encode_pong(&b, 1);
	assert_false(b.failed);
	hm_buf_free(&b);
}

/* ---- data-driven: tests/vectors/frames ---- */

#ifndef VECTORS_DIR
#define VECTORS_DIR "tests/vectors"
#endif

static const char *vectors_dir(void)
{
	const char *env = getenv("HMACD_VECTORS_DIR");

	return env != NULL && env[0] != '\0' ? env : VECTORS_DIR;
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	long n;

	if (f == NULL)
		fail_msg("cannot open %s", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	assert_int_equal(fseek(f, 0, SEEK_SET), 0);
	data = malloc((size_t)n + 1);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return data;
}

static int parse_frame_code(const char *s)
{
	if (strcmp(s, "OK") == 0)
		return HM_OK;
	if (strcmp(s, "EAGAIN") == 0)
		return HM_EAGAIN;
	if (strcmp(s, "ETOOBIG") == 0)
		return HM_ETOOBIG;
	fail_msg("expected.txt: bad frame code %s", s);
	return 1;
}

/* Runs one vector; `line` names it in failure messages. */
static void run_vector(const char *dir, const char *file, const char *frame, const char *reqerr,
		       const char *id, const char *items, int line)
{
	char path[1024];
	struct hm_request req;
	struct hm_item it;
	uint8_t *data;
	size_t len, flen;
	uint32_t plen;
	int rc, want;

	assert_true((size_t)snprintf(path, sizeof(path), "%s/frames/%s", dir, file) <
		    sizeof(path));
	data = slurp(path, &len);
	want = parse_frame_code(frame);
	rc = hm_frame_parse(data, len, HM_FRAME_DEFAULT_MAX, &plen, &flen);
	if (rc != want)
		fail_msg("%s (line %d): frame %s, expected %s", file, line, hm_strerror(rc), frame);
	if (rc != HM_OK)
		goto out;
	if (flen != len)
		fail_msg("%s: the file must hold exactly one frame", file);
	rc = hm_request_decode(data + HM_FRAME_HEADER, plen, HM_DEFAULT_MAX_BATCH, &req);
	if (strcmp(reqerr, "ok") == 0) {
		if (rc != HM_OK)
			fail_msg("%s: refused: %s", file, req.err_text);
	} else {
		if (rc != HM_EMALFORMED || strcmp(req.err, reqerr) != 0)
			fail_msg("%s: got %s, expected %s", file, rc == HM_OK ? "ok" : req.err,
				 reqerr);
	}
	if (strcmp(id, "nil") == 0) {
		if (req.has_id)
			fail_msg("%s: id read, expected none", file);
	} else {
		if (!req.has_id || req.id != strtoull(id, NULL, 10))
			fail_msg("%s: id not %s", file, id);
	}
	if (strcmp(items, "-") != 0) {
		if (rc != HM_OK || req.nitems != strlen(items))
			fail_msg("%s: %u items, expected %zu", file, req.nitems, strlen(items));
		for (size_t i = 0; i < strlen(items); i++) {
			rc = hm_item_next(&req.items, &it);
			if (rc != (items[i] == 'O' ? HM_OK : HM_EMALFORMED))
				fail_msg("%s: item %zu gave %s", file, i, hm_strerror(rc));
		}
		assert_int_equal(hm_mp_left(&req.items), 0);
	}
out:
	free(data);
}

static void test_vectors_frames(void **state)
{
	char path[1024], line[512], listed[64][64];
	const char *dir = vectors_dir();
	struct dirent *de;
	size_t nlisted = 0;
	int lineno = 0;
	FILE *f;
	DIR *dh;

	(void)state;
	assert_true((size_t)snprintf(path, sizeof(path), "%s/frames/expected.txt", dir) <
		    sizeof(path));
	f = fopen(path, "r");
	if (f == NULL)
		fail_msg("cannot open %s (set HMACD_VECTORS_DIR)", path);
	while (fgets(line, sizeof(line), f) != NULL) {
		char file[64], frame[16], reqerr[32], id[32], items[64];
		int n;

		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		n = sscanf(line, "%63s %15s %31s %31s %63s", file, frame, reqerr, id, items);
		if (n != 5)
			fail_msg("expected.txt line %d: want 5 columns", lineno);
		run_vector(dir, file, frame, reqerr, id, items, lineno);
		assert_true(nlisted < ARRAY_LEN(listed));
		strcpy(listed[nlisted++], file);
	}
	fclose(f);
	assert_true(nlisted >= 10);

	/* every .bin file in the folder is listed: a vector without an expectation is a bug */
	assert_true((size_t)snprintf(path, sizeof(path), "%s/frames", dir) < sizeof(path));
	dh = opendir(path);
	assert_non_null(dh);
	while ((de = readdir(dh)) != NULL) {
		size_t l = strlen(de->d_name);
		bool found = false;

		if (l < 4 || strcmp(de->d_name + l - 4, ".bin") != 0)
			continue;
		for (size_t i = 0; i < nlisted; i++)
			found = found || strcmp(listed[i], de->d_name) == 0;
		if (!found)
			fail_msg("%s is not in expected.txt", de->d_name);
	}
	closedir(dh);
}

/* hm_rule_no_ctl (eight bytes a step, then one at a time): every byte, at every place. */
static void test_rule_no_ctl(void **state)
{
	uint8_t s[20];

	(void)state;
	for (size_t len = 1; len <= sizeof(s); len++)
		for (size_t at = 0; at < len; at++)
			for (unsigned b = 0; b < 256; b++) {
				memset(s, 'a', sizeof(s));
				s[at] = (uint8_t)b;
				if (hm_rule_no_ctl((struct hm_str){s, len}) != (b >= 0x20 && b != 0x7f))
					fail_msg("byte 0x%02x at %zu of %zu", b, at, len);
			}
	memset(s, 0xff, sizeof(s));
	assert_true(hm_rule_no_ctl((struct hm_str){s, sizeof(s)}));
	s[sizeof(s) - 1] = 0x7f;
	assert_false(hm_rule_no_ctl((struct hm_str){s, sizeof(s)}));
	assert_true(hm_rule_no_ctl((struct hm_str){NULL, 0}));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rule_no_ctl),
		cmocka_unit_test(test_verify_round_trip),
		cmocka_unit_test(test_verify_big_body_and_pipelining),
		cmocka_unit_test(test_simple_requests),
		cmocka_unit_test(test_request_not_a_map),
		cmocka_unit_test(test_request_trailing_bytes),
		cmocka_unit_test(test_request_ops),
		cmocka_unit_test(test_request_batch_limit),
		cmocka_unit_test(test_request_keys),
		cmocka_unit_test(test_request_value_types),
		cmocka_unit_test(test_request_depth),
		cmocka_unit_test(test_request_truncated),
		cmocka_unit_test(test_items_not_maps),
		cmocka_unit_test(test_item_good_desc),
		cmocka_unit_test(test_item_missing_keys),
		cmocka_unit_test(test_item_unknown_and_repeated_keys),
		cmocka_unit_test(test_item_wrong_types),
		cmocka_unit_test(test_item_fixed_bins),
		cmocka_unit_test(test_item_scope),
		cmocka_unit_test(test_item_control_bytes),
		cmocka_unit_test(test_item_method_path_nonce),
		cmocka_unit_test(test_item_headers),
		cmocka_unit_test(test_item_integers),
		cmocka_unit_test(test_item_check_direct),
		cmocka_unit_test(test_rfc_encode_key_order),
		cmocka_unit_test(test_rfc_round_trip),
		cmocka_unit_test(test_rfc_good_desc),
		cmocka_unit_test(test_rfc_missing_keys),
		cmocka_unit_test(test_rfc_unknown_and_repeated_keys),
		cmocka_unit_test(test_rfc_scheme_values),
		cmocka_unit_test(test_rfc_wrong_types),
		cmocka_unit_test(test_rfc_label),
		cmocka_unit_test(test_rfc_authority),
		cmocka_unit_test(test_rfc_uri_scheme),
		cmocka_unit_test(test_rfc_headers),
		cmocka_unit_test(test_rfc_fields),
		cmocka_unit_test(test_rfc_check_direct),
		cmocka_unit_test(test_rfc_batch_neighbours),
		cmocka_unit_test(test_response_results),
		cmocka_unit_test(test_response_pong_stats),
		cmocka_unit_test(test_response_error),
		cmocka_unit_test(test_response_garbage),
		cmocka_unit_test(test_encode_buffer_limit),
		cmocka_unit_test(test_vectors_frames),
	};

	return cmocka_run_group_tests_name("msg", tests, NULL, NULL);
}
