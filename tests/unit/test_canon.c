/*
 * test_canon.c - unit tests of the hmacd-v1 canonical string (proto/canon.c) and of signing
 * (proto/sign.c).
 *
 * The expected strings are written out byte for byte: a test that rebuilt them with the same
 * logic as canon.c would prove nothing. The example item is the worked example of
 * proto/PROTOCOL.md, so the spec and the code cannot drift apart silently. Injectivity is checked
 * twice: a table of tricky pairs that differ in one field, and an exhaustive-ish search over
 * many random items drawn from tiny alphabets, where a non-injective encoding would collide.
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
#include <openssl/hmac.h>

#include "proto/canon.h"
#include "proto/msg.h"
#include "proto/sign.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static struct hm_str S(const char *s)
{
	struct hm_str r = {(const uint8_t *)s, strlen(s)};

	return r;
}

static void unhex(const char *hex, uint8_t *out, size_t n)
{
	assert_int_equal(strlen(hex), 2 * n);
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

/* ---- the worked example of PROTOCOL.md ---- */

/* its canonical string in parts (the lines up to ts, the nonce's, the headers', the digest) */
#define EX_HEAD                                  \
	"hmacd-v1\n"                             \
	"acme\n"                                 \
	"web-01\n"                               \
	"3\n"                                    \
	"POST\n"                                 \
	"/containers/web-01/exec?tty=1\n"        \
	"1700000000\n"
#define EX_NONCE "8f14e45fceea167a\n"
#define EX_HEADERS                               \
	"content-type:application/json\n"        \
	"x-request-id:req-42\n"
#define EX_DIGEST "f1d08736d9b5ae2812bd7c1d5b4657616d57ade382095f44e9a914cbc8e30f61"

static const char EXAMPLE_BODY[] = "{\"cmd\":[\"ls\",\"-l\"]}";
static const char EXAMPLE_BODY_SHA256[] = EX_DIGEST;
static const char EXAMPLE_CANON[] = EX_HEAD EX_NONCE EX_HEADERS EX_DIGEST;
static const char EXAMPLE_SECRET[] =
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
static const char EXAMPLE_SIG[] =
	"83b55937fb410a3bcbe53204bf2baa4d1f062cf8509914b176ba56f509069dab";

static const uint8_t NOSIG[HM_MAC_LEN];

static void example_item(struct hm_item *it)
{
	memset(it, 0, sizeof(*it));
	it->tenant = S("acme");
	it->container = S("web-01");
	it->v1.epoch = 3;
	it->method = S("POST");
	it->path = S("/containers/web-01/exec?tty=1");
	it->v1.ts = 1700000000;
	it->v1.nonce = S("8f14e45fceea167a");
	it->nheaders = 2;
	it->headers[0].name = S("content-type");
	it->headers[0].value = S("application/json");
	it->headers[1].name = S("x-request-id");
	it->headers[1].value = S("req-42");
	it->has_body = true;
	it->body = S(EXAMPLE_BODY);
	it->v1.sig = NOSIG;
}

/* Builds the canonical string of `it` into a fresh buffer, checking hm_canon_len on the way. */
static uint8_t *build(const struct hm_item *it, size_t *len)
{
	uint8_t digest[HM_SHA256_LEN], *out;
	size_t cap = hm_canon_len(it);

	if (it->has_body)
		assert_int_equal(hm_sha256(it->body.ptr, it->body.len, digest), HM_OK);
	else
		memcpy(digest, it->v1.body_sha256, HM_SHA256_LEN);
	out = malloc(cap + 1);
	assert_non_null(out);
	assert_int_equal(hm_canon_build(it, digest, out, cap, len), HM_OK);
	assert_int_equal(*len, cap);
	return out;
}

static void assert_canon(const struct hm_item *it, const char *want)
{
	uint8_t *got, *alloc = NULL;
	size_t len, alen = 0;

	got = build(it, &len);
	if (len != strlen(want) || memcmp(got, want, len) != 0)
		fail_msg("canonical string differs:\n got: %.*s\nwant: %s", (int)len, got, want);
	/* the allocating variant used by signers gives the same bytes */
	assert_int_equal(hm_canon_alloc(it, &alloc, &alen), HM_OK);
	assert_int_equal(alen, len);
	assert_memory_equal(alloc, got, len);
	free(alloc);
	free(got);
}

static void test_sha256(void **state)
{
	uint8_t d[HM_SHA256_LEN], want[HM_SHA256_LEN];

	(void)state;
	assert_int_equal(hm_sha256(NULL, 0, d), HM_OK);
	unhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want, 32);
	assert_memory_equal(d, want, 32);
	assert_int_equal(hm_sha256((const uint8_t *)"abc", 3, d), HM_OK);
	unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want, 32);
	assert_memory_equal(d, want, 32);
	assert_int_equal(hm_sha256((const uint8_t *)EXAMPLE_BODY, strlen(EXAMPLE_BODY), d), HM_OK);
	unhex(EXAMPLE_BODY_SHA256, want, 32);
	assert_memory_equal(d, want, 32);
}

static void test_example(void **state)
{
	struct hm_item it;

	(void)state;
	example_item(&it);
	assert_int_equal(hm_item_check(&it), HM_OK);
	assert_int_equal(hm_canon_len(&it), strlen(EXAMPLE_CANON));
	assert_int_equal(strlen(EXAMPLE_CANON), 200);
	assert_canon(&it, EXAMPLE_CANON);
}

/* body and body_sha256 = SHA-256(body) give the same string: the signer may send either. */
static void test_body_vs_digest(void **state)
{
	uint8_t digest[HM_SHA256_LEN];
	struct hm_item it;

	(void)state;
	unhex(EXAMPLE_BODY_SHA256, digest, sizeof(digest));
	example_item(&it);
	it.has_body = false;
	it.body = S("");
	it.v1.has_body_sha256 = true;
	it.v1.body_sha256 = digest;
	assert_canon(&it, EXAMPLE_CANON);
}

static void test_empty_nonce_no_headers_empty_body(void **state)
{
	struct hm_item it;

	(void)state;
	example_item(&it);
	it.v1.nonce = S("");
	assert_canon(&it, EX_HEAD "\n" EX_HEADERS EX_DIGEST); /* the nonce line is empty */

	example_item(&it);
	it.nheaders = 0;
	assert_canon(&it, EX_HEAD EX_NONCE EX_DIGEST); /* no header lines */

	/* the smallest item: 1-byte fields, no nonce, no headers, empty body, ts 0 */
	memset(&it, 0, sizeof(it));
	it.tenant = S("t");
	it.container = S("c");
	it.v1.epoch = 1;
	it.method = S("GET");
	it.path = S("/");
	it.has_body = true;
	it.body = S("");
	it.v1.sig = NOSIG;
	assert_canon(&it, "hmacd-v1\n"
			  "t\n"
			  "c\n"
			  "1\n"
			  "GET\n"
			  "/\n"
			  "0\n"
			  "\n"
			  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

	/* the largest integers, empty header values, a value holding ':' and high bytes */
	it.v1.epoch = UINT64_MAX;
	it.v1.ts = 10000000000000000000ull;
	it.nheaders = 3;
	it.headers[0].name = S("x-empty");
	it.headers[0].value = S("");
	it.headers[1].name = S("x-colon");
	it.headers[1].value = S("a:b: c");
	it.headers[2].name = S("x-utf8");
	it.headers[2].value = S("caf\xc3\xa9");
	assert_canon(&it, "hmacd-v1\n"
			  "t\n"
			  "c\n"
			  "18446744073709551615\n"
			  "GET\n"
			  "/\n"
			  "10000000000000000000\n"
			  "\n"
			  "x-empty:\n"
			  "x-colon:a:b: c\n"
			  "x-utf8:caf\xc3\xa9\n"
			  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* Every decimal width of epoch and ts, against snprintf. */
static void test_decimal_widths(void **state)
{
	struct hm_item it;
	uint64_t v = 1;

	(void)state;
	example_item(&it);
	for (int i = 0; i < 20; i++) {
		uint64_t vals[] = {v, v - 1 > 0 ? v - 1 : 1, v + 1};

		for (size_t k = 0; k < ARRAY_LEN(vals); k++) {
			char want[512];
			int n;

			it.v1.epoch = vals[k];
			it.v1.ts = vals[k] - 1;
			n = snprintf(want, sizeof(want),
				     "hmacd-v1\nacme\nweb-01\n%llu\nPOST\n"
				     "/containers/web-01/exec?tty=1\n%llu\n8f14e45fceea167a\n"
				     "content-type:application/json\nx-request-id:req-42\n%s",
				     (unsigned long long)it.v1.epoch, (unsigned long long)it.v1.ts,
				     EXAMPLE_BODY_SHA256);
			assert_true(n > 0 && (size_t)n < sizeof(want));
			assert_canon(&it, want);
		}
		v *= 10;
	}
}

/* The cap is checked before a byte is written. */
static void test_cap(void **state)
{
	uint8_t digest[HM_SHA256_LEN], buf[512];
	struct hm_item it;
	size_t need, len = 12345;

	(void)state;
	example_item(&it);
	unhex(EXAMPLE_BODY_SHA256, digest, sizeof(digest));
	need = hm_canon_len(&it);
	assert_true(need < sizeof(buf));
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(hm_canon_build(&it, digest, buf, need - 1, &len), HM_ETOOBIG);
	assert_int_equal(len, 12345);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0xee);
	assert_int_equal(hm_canon_build(&it, digest, buf, 0, &len), HM_ETOOBIG);
	assert_int_equal(hm_canon_build(&it, digest, buf, need, &len), HM_OK);
	assert_int_equal(len, need);
	assert_int_equal(buf[need], 0xee); /* not NUL-terminated, nothing past the end */
	assert_memory_equal(buf, EXAMPLE_CANON, need);
	assert_int_equal(hm_canon_build(&it, digest, buf, sizeof(buf), &len), HM_OK);
	assert_int_equal(len, need);
}

/* ---- injectivity ---- */

struct pair_case {
	const char *what;
	void (*a)(struct hm_item *);
	void (*b)(struct hm_item *);
};

static uint8_t ZERO_DIGEST[HM_SHA256_LEN];

/* each mutator starts from the example item */
#define MUT(name, body)                              \
	static void name(struct hm_item *it)         \
	{                                            \
		example_item(it);                    \
		body;                                \
	}

MUT(base, (void)0)
MUT(tenant_ab_c, (it->tenant = S("ab"), it->container = S("c")))
MUT(tenant_a_bc, (it->tenant = S("a"), it->container = S("bc")))
MUT(tenant_xa_b, (it->tenant = S("x/a"), it->container = S("b")))
MUT(tenant_x_ab, (it->tenant = S("x"), it->container = S("a/b")))
MUT(swap_scope, (it->tenant = S("web-01"), it->container = S("acme")))
MUT(tenant_upper, it->tenant = S("ACME"))
MUT(container_2, it->container = S("web-02"))
MUT(epoch_1, it->v1.epoch = 1)
MUT(epoch_10, it->v1.epoch = 10)
MUT(epoch_1_ts_10, (it->v1.epoch = 1, it->v1.ts = 10))
MUT(epoch_10_ts_1, (it->v1.epoch = 10, it->v1.ts = 1))
MUT(swap_epoch_ts, (it->v1.epoch = 1700000000, it->v1.ts = 3))
MUT(ts_plus_1, it->v1.ts = 1700000001)
MUT(method_lower, it->method = S("post"))
MUT(method_put, it->method = S("PUT"))
MUT(path_query, it->path = S("/containers/web-01/exec?tty=0"))
MUT(path_escaped, it->path = S("/containers/web-01/exec%3Ftty=1"))
MUT(path_trailing_slash, it->path = S("/containers/web-01/exec/?tty=1"))
MUT(nonce_empty, it->v1.nonce = S(""))
MUT(nonce_other, it->v1.nonce = S("8f14e45fceea167b"))
/* a header line vs a nonce holding the same text */
MUT(nonce_empty_hdr_x1, (it->v1.nonce = S(""), it->nheaders = 1, it->headers[0].name = S("x"),
			 it->headers[0].value = S("1")))
MUT(nonce_x1_no_hdr, (it->v1.nonce = S("x:1"), it->nheaders = 0))
/* header name/value boundary: "a:b" split differently is impossible (':' is not a tchar) */
MUT(hdr_a_bc, (it->nheaders = 1, it->headers[0].name = S("a"), it->headers[0].value = S("b:c")))
MUT(hdr_ab_c, (it->nheaders = 1, it->headers[0].name = S("ab"), it->headers[0].value = S("c")))
MUT(hdr_a_b, (it->nheaders = 1, it->headers[0].name = S("a"), it->headers[0].value = S("b")))
MUT(hdr_a_empty, (it->nheaders = 1, it->headers[0].name = S("a"), it->headers[0].value = S("")))
MUT(hdr_none, it->nheaders = 0)
MUT(hdr_swapped, (it->headers[0].name = S("x-request-id"), it->headers[0].value = S("req-42"),
		  it->headers[1].name = S("content-type"),
		  it->headers[1].value = S("application/json")))
MUT(hdr_one, it->nheaders = 1)
MUT(hdr_value_case, it->headers[0].value = S("Application/json"))
/* a header whose value looks like the body digest line */
MUT(hdr_digest_like, (it->nheaders = 3, it->headers[2].name = S("x-d"),
		      it->headers[2].value = S(EXAMPLE_BODY_SHA256)))
MUT(body_other, it->body = S("{\"cmd\":[\"ls\"]}"))
MUT(body_empty, it->body = S(""))
MUT(body_zero_digest, (it->has_body = false, it->v1.has_body_sha256 = true,
		       it->v1.body_sha256 = ZERO_DIGEST))

static const struct pair_case pairs[] = {
	{"char moved from tenant to container", tenant_ab_c, tenant_a_bc},
	{"'/' moved between tenant and container", tenant_xa_b, tenant_x_ab},
	{"tenant and container swapped", base, swap_scope},
	{"tenant case", base, tenant_upper},
	{"container", base, container_2},
	{"epoch 1 vs 10", epoch_1, epoch_10},
	{"digit moved from ts to epoch", epoch_1_ts_10, epoch_10_ts_1},
	{"epoch and ts swapped", base, swap_epoch_ts},
	{"ts + 1", base, ts_plus_1},
	{"method case", base, method_lower},
	{"method", base, method_put},
	{"query", base, path_query},
	{"'?' vs %3F", base, path_escaped},
	{"trailing slash", base, path_trailing_slash},
	{"empty nonce vs nonce", base, nonce_empty},
	{"nonce last byte", base, nonce_other},
	{"header line vs nonce of the same text", nonce_empty_hdr_x1, nonce_x1_no_hdr},
	{"header a:b:c split differently", hdr_a_bc, hdr_ab_c},
	{"header value b vs b:c", hdr_a_b, hdr_a_bc},
	{"empty header value vs no header", hdr_a_empty, hdr_none},
	{"header order", base, hdr_swapped},
	{"one header fewer", base, hdr_one},
	{"header value case", base, hdr_value_case},
	{"header that looks like the digest", base, hdr_digest_like},
	{"body", base, body_other},
	{"empty body", base, body_empty},
	{"empty body vs zero digest", body_empty, body_zero_digest},
};

static void test_injective_pairs(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(pairs); i++) {
		struct hm_item a, b;
		uint8_t *ca, *cb;
		size_t la, lb;

		pairs[i].a(&a);
		pairs[i].b(&b);
		assert_int_equal(hm_item_check(&a), HM_OK);
		assert_int_equal(hm_item_check(&b), HM_OK);
		ca = build(&a, &la);
		cb = build(&b, &lb);
		if (la == lb && memcmp(ca, cb, la) == 0)
			fail_msg("%s: same canonical string", pairs[i].what);
		free(ca);
		free(cb);
	}
}

/* The splits that would collide are exactly the ones the item rules refuse. */
static void test_colliding_forms_are_malformed(void **state)
{
	struct hm_item it;
	uint8_t *c = NULL;
	size_t len;

	(void)state;
	example_item(&it);
	it.nheaders = 1;
	it.headers[0].name = S("a:b"); /* would read as a:b:c = a + "b:c" */
	it.headers[0].value = S("c");
	assert_int_equal(hm_item_check(&it), HM_EMALFORMED);
	assert_int_equal(hm_canon_alloc(&it, &c, &len), HM_EMALFORMED);
	assert_null(c);

	example_item(&it);
	it.tenant = S("acme\nweb"); /* would shift a line into the container */
	it.container = S("01");
	assert_int_equal(hm_item_check(&it), HM_EMALFORMED);

	example_item(&it);
	it.v1.nonce = S("n\nx:1"); /* would forge a header line */
	assert_int_equal(hm_item_check(&it), HM_EMALFORMED);

	example_item(&it);
	it.headers[1].value = S("req-42\nx-admin:1");
	assert_int_equal(hm_item_check(&it), HM_EMALFORMED);

	example_item(&it);
	it.path = S("/x\r\n");
	assert_int_equal(hm_item_check(&it), HM_EMALFORMED);

	example_item(&it);
	it.headers[0].name = S("");
	assert_int_equal(hm_item_check(&it), HM_EMALFORMED);
}

/*
 * Many random valid items from tiny alphabets full of separators. Two items may share a
 * canonical string only if they are the same item (the body counted as its digest).
 */
struct sample {
	uint8_t *canon;
	size_t canon_len;
	char key[512]; /* an obviously injective encoding of the item: length-prefixed fields */
};

/* a small LCG: deterministic, so a failure reproduces */
static size_t rnd(uint64_t *s, size_t n)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (size_t)((*s >> 33) % n);
}

#define PICK(s, set) S((set)[rnd((s), ARRAY_LEN(set))])

static int cmp_sample(const void *pa, const void *pb)
{
	const struct sample *a = pa, *b = pb;
	size_t n = a->canon_len < b->canon_len ? a->canon_len : b->canon_len;
	int c = memcmp(a->canon, b->canon, n);

	if (c != 0)
		return c;
	return (a->canon_len > b->canon_len) - (a->canon_len < b->canon_len);
}

static void keyput(char *key, size_t cap, const char *tag, const void *p, size_t n)
{
	size_t l = strlen(key);
	int w = snprintf(key + l, cap - l, "%s%zu:", tag, n);

	assert_true(w > 0 && (size_t)w < cap - l);
	l += (size_t)w;
	assert_true(l + n < cap);
	memcpy(key + l, p, n);
	key[l + n] = '\0';
}

static void test_injective_random(void **state)
{
	static const char *const scopes[] = {"a", "ab", "a:b", "b", "a/"};
	static const uint64_t nums[] = {1, 11, 2, 12};
	static const char *const methods[] = {"G", "GE"};
	static const char *const paths[] = {"/", "/a", "/a:"};
	static const char *const nonces[] = {"", "a", "a:", ":"};
	static const char *const hnames[] = {"a", "ab"};
	static const char *const hvalues[] = {"", "a", ":", "b:a"};
	static const char *const bodies[] = {"", "a", "1"};
	enum { N = 30000 };
	uint8_t digests[2][HM_SHA256_LEN];
	struct sample *smp = calloc(N, sizeof(*smp));
	size_t dup_canon = 0;
	uint64_t s = 42;

	(void)state;
	assert_non_null(smp);
	memset(digests[0], 0, HM_SHA256_LEN);
	/* the digest of "" as a body_sha256: equal strings for different wire forms */
	assert_int_equal(hm_sha256(NULL, 0, digests[1]), HM_OK);
	for (size_t i = 0; i < N; i++) {
		struct hm_item it;
		uint8_t digest[HM_SHA256_LEN];
		char *key = smp[i].key;

		memset(&it, 0, sizeof(it));
		it.tenant = PICK(&s, scopes);
		it.container = PICK(&s, scopes);
		it.v1.epoch = nums[rnd(&s, ARRAY_LEN(nums))];
		it.method = PICK(&s, methods);
		it.path = PICK(&s, paths);
		it.v1.ts = nums[rnd(&s, ARRAY_LEN(nums))];
		it.v1.nonce = PICK(&s, nonces);
		it.nheaders = rnd(&s, 2) == 0 ? 0 : 1 + rnd(&s, 2);
		for (size_t h = 0; h < it.nheaders; h++) {
			it.headers[h].name = PICK(&s, hnames);
			it.headers[h].value = PICK(&s, hvalues);
		}
		if (rnd(&s, 2) == 0) {
			it.has_body = true;
			it.body = PICK(&s, bodies);
			assert_int_equal(hm_sha256(it.body.ptr, it.body.len, digest), HM_OK);
		} else {
			it.v1.has_body_sha256 = true;
			it.v1.body_sha256 = digests[rnd(&s, 2)];
			memcpy(digest, it.v1.body_sha256, HM_SHA256_LEN);
		}
		it.v1.sig = NOSIG;
		assert_int_equal(hm_item_check(&it), HM_OK);
		smp[i].canon = build(&it, &smp[i].canon_len);

		key[0] = '\0';
		keyput(key, sizeof(smp[i].key), "t", it.tenant.ptr, it.tenant.len);
		keyput(key, sizeof(smp[i].key), "c", it.container.ptr, it.container.len);
		keyput(key, sizeof(smp[i].key), "e", &it.v1.epoch, sizeof(it.v1.epoch));
		keyput(key, sizeof(smp[i].key), "m", it.method.ptr, it.method.len);
		keyput(key, sizeof(smp[i].key), "p", it.path.ptr, it.path.len);
		keyput(key, sizeof(smp[i].key), "s", &it.v1.ts, sizeof(it.v1.ts));
		keyput(key, sizeof(smp[i].key), "n", it.v1.nonce.ptr, it.v1.nonce.len);
		for (size_t h = 0; h < it.nheaders; h++) {
			keyput(key, sizeof(smp[i].key), "H", it.headers[h].name.ptr,
			       it.headers[h].name.len);
			keyput(key, sizeof(smp[i].key), "V", it.headers[h].value.ptr,
			       it.headers[h].value.len);
		}
		keyput(key, sizeof(smp[i].key), "d", digest, sizeof(digest));
	}
	qsort(smp, N, sizeof(*smp), cmp_sample);
	for (size_t i = 1; i < N; i++) {
		if (cmp_sample(&smp[i - 1], &smp[i]) != 0)
			continue;
		dup_canon++;
		if (strcmp(smp[i - 1].key, smp[i].key) != 0)
			fail_msg("two different items share the canonical string %.*s",
				 (int)smp[i].canon_len, smp[i].canon);
	}
	/* the alphabets are small enough that equal strings were drawn: the check had teeth */
	assert_true(dup_canon > 100);
	for (size_t i = 0; i < N; i++)
		free(smp[i].canon);
	free(smp);
}

/* ---- HMAC-SHA256: RFC 4231 through the same OpenSSL call as hm_sign_item ---- */

static void rep(uint8_t *out, uint8_t byte, size_t n)
{
	memset(out, byte, n);
}

static void test_rfc4231(void **state)
{
	static const struct {
		int tc;
		const char *data; /* NULL: `dlen` bytes of `dbyte` */
		uint8_t dbyte;
		size_t dlen;
		const char *mac;
	} tcs[] = {
		{1, "Hi There", 0, 0,
		 "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
		{2, "what do ya want for nothing?", 0, 0,
		 "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
		{3, NULL, 0xdd, 50,
		 "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
		{4, NULL, 0xcd, 50,
		 "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
		{6, "Test Using Larger Than Block-Size Key - Hash Key First", 0, 0,
		 "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
		{7, "This is a test using a larger than block-size key and a larger than "
		    "block-size data. The key needs to be hashed before being used by the HMAC "
		    "algorithm.", 0, 0,
		 "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(tcs); i++) {
		uint8_t key[131], data[64], want[32], got[EVP_MAX_MD_SIZE];
		const uint8_t *d;
		unsigned int glen = 0;
		size_t klen, dlen;

		switch (tcs[i].tc) {
		case 1:
			rep(key, 0x0b, klen = 20);
			break;
		case 2:
			memcpy(key, "Jefe", klen = 4);
			break;
		case 3:
			rep(key, 0xaa, klen = 20);
			break;
		case 4:
			klen = 25;
			for (size_t k = 0; k < klen; k++)
				key[k] = (uint8_t)(k + 1);
			break;
		default:
			rep(key, 0xaa, klen = 131);
			break;
		}
		if (tcs[i].data != NULL) {
			d = (const uint8_t *)tcs[i].data;
			dlen = strlen(tcs[i].data);
		} else {
			rep(data, tcs[i].dbyte, dlen = tcs[i].dlen);
			d = data;
		}
		unhex(tcs[i].mac, want, sizeof(want));
		assert_non_null(HMAC(EVP_sha256(), key, (int)klen, d, dlen, got, &glen));
		assert_int_equal(glen, 32);
		if (memcmp(got, want, 32) != 0)
			fail_msg("RFC 4231 test case %d: wrong MAC", tcs[i].tc);
	}
}

/* ---- hm_sign_item ---- */

static void test_sign_example(void **state)
{
	uint8_t secret[32], sig[HM_MAC_LEN], want[HM_MAC_LEN], direct[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	struct hm_item it;

	(void)state;
	unhex(EXAMPLE_SECRET, secret, sizeof(secret));
	unhex(EXAMPLE_SIG, want, sizeof(want));
	/* HMAC over the literal canonical string ... */
	assert_non_null(HMAC(EVP_sha256(), secret, sizeof(secret), (const uint8_t *)EXAMPLE_CANON,
			     strlen(EXAMPLE_CANON), direct, &dlen));
	assert_int_equal(dlen, 32);
	assert_memory_equal(direct, want, 32);
	/* ... equals hm_sign_item on the item, with the body or with its digest */
	example_item(&it);
	assert_int_equal(hm_sign_item(secret, sizeof(secret), &it, sig), HM_OK);
	assert_memory_equal(sig, want, HM_MAC_LEN);
	{
		uint8_t digest[HM_SHA256_LEN];

		unhex(EXAMPLE_BODY_SHA256, digest, sizeof(digest));
		it.has_body = false;
		it.v1.has_body_sha256 = true;
		it.v1.body_sha256 = digest;
		memset(sig, 0, sizeof(sig));
		assert_int_equal(hm_sign_item(secret, sizeof(secret), &it, sig), HM_OK);
		assert_memory_equal(sig, want, HM_MAC_LEN);
	}
	/* the item's own sig is ignored (even absent) */
	example_item(&it);
	it.v1.sig = NULL;
	assert_int_equal(hm_sign_item(secret, sizeof(secret), &it, sig), HM_OK);
	assert_memory_equal(sig, want, HM_MAC_LEN);
	/* one changed field changes the signature */
	it.v1.epoch = 4;
	assert_int_equal(hm_sign_item(secret, sizeof(secret), &it, sig), HM_OK);
	assert_memory_not_equal(sig, want, HM_MAC_LEN);
	/* and so does one changed secret bit */
	example_item(&it);
	secret[31] ^= 1;
	assert_int_equal(hm_sign_item(secret, sizeof(secret), &it, sig), HM_OK);
	assert_memory_not_equal(sig, want, HM_MAC_LEN);
}

static void test_sign_errors(void **state)
{
	uint8_t secret[HM_SECRET_MAX + 1], sig[HM_MAC_LEN];
	struct hm_item it;

	(void)state;
	memset(secret, 7, sizeof(secret));
	example_item(&it);
	assert_int_equal(hm_sign_item(secret, HM_SECRET_MIN - 1, &it, sig), HM_EINVAL);
	assert_int_equal(hm_sign_item(secret, HM_SECRET_MAX + 1, &it, sig), HM_EINVAL);
	assert_int_equal(hm_sign_item(secret, 0, &it, sig), HM_EINVAL);
	assert_int_equal(hm_sign_item(secret, HM_SECRET_MIN, &it, sig), HM_OK);
	assert_int_equal(hm_sign_item(secret, HM_SECRET_MAX, &it, sig), HM_OK);
	it.path = S("no-slash");
	assert_int_equal(hm_sign_item(secret, 32, &it, sig), HM_EMALFORMED);
	example_item(&it);
	it.v1.has_body_sha256 = true; /* both body forms */
	it.v1.body_sha256 = ZERO_DIGEST;
	assert_int_equal(hm_sign_item(secret, 32, &it, sig), HM_EMALFORMED);
	example_item(&it);
	it.v1.epoch = 0;
	assert_int_equal(hm_sign_item(secret, 32, &it, sig), HM_EMALFORMED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_body_vs_digest),
		cmocka_unit_test(test_empty_nonce_no_headers_empty_body),
		cmocka_unit_test(test_decimal_widths),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_injective_pairs),
		cmocka_unit_test(test_colliding_forms_are_malformed),
		cmocka_unit_test(test_injective_random),
		cmocka_unit_test(test_rfc4231),
		cmocka_unit_test(test_sign_example),
		cmocka_unit_test(test_sign_errors),
	};

	return cmocka_run_group_tests_name("canon", tests, NULL, NULL);
}
