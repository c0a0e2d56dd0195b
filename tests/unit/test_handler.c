/*
 * test_handler.c - the protocol handler between frames and the verify engine: a real verifier
 * over a key store in a temporary directory; request frames built with the proto/ encoders (and
 * msgpack-c's packer for the ill-formed ones), hm_handle_frame(), and the one response frame it
 * appends decoded with hm_response_decode().
 *
 * Covered: ping; stats through a stub stats_fn; verify with good, bad and malformed items mixed
 * (each keeps its own verdict, in order); every error response code (malformed, unknown_op,
 * too_many_items, internal) with the id echoed or nil; an output buffer too small for the
 * response (HM_ETOOBIG, out->failed); the handler's counters.
 *
 * The "internal" error needs a key store that cannot be read. Breaking a real LMDB file is
 * neither quick nor deterministic, so the link wraps hm_ks_reader_begin (ld --wrap, see
 * Makefile.am) and this file decides when it fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>
#include <openssl/crypto.h>

#include "tests/lib/engine.h"
#include "proto/buf.h"
#include "proto/frame.h"
#include "server/handler.h"
#include "store/keystore.h"
#include "proto/msg.h"
#include "proto/sign.h"
#include "engine/verify.h"

#define NOW 1700000000
#define SKEW 300
#define MAX_BATCH 8

/* ---- the wrapped store call ---- */

static bool store_fails; /* set by a test: the next batches cannot read the store */

int __real_hm_ks_reader_begin(struct hm_ks_reader *rd, uint64_t *txnid);
int __wrap_hm_ks_reader_begin(struct hm_ks_reader *rd, uint64_t *txnid);

int __wrap_hm_ks_reader_begin(struct hm_ks_reader *rd, uint64_t *txnid)
{
	if (store_fails) {
		*txnid = 0;
		return HM_ESTORE;
	}
	return __real_hm_ks_reader_begin(rd, txnid);
}

static bool lookup_fails; /* set by a test: store lookups fail (a corrupt record, say) */

int __real_hm_ks_lookup(struct hm_ks_reader *rd, const uint8_t *tenant, size_t tenant_len,
			const uint8_t *container, size_t container_len, uint64_t epoch,
			struct hm_key_rec *rec);
int __wrap_hm_ks_lookup(struct hm_ks_reader *rd, const uint8_t *tenant, size_t tenant_len,
			const uint8_t *container, size_t container_len, uint64_t epoch,
			struct hm_key_rec *rec);

int __wrap_hm_ks_lookup(struct hm_ks_reader *rd, const uint8_t *tenant, size_t tenant_len,
			const uint8_t *container, size_t container_len, uint64_t epoch,
			struct hm_key_rec *rec)
{
	if (lookup_fails)
		return HM_ESTORE;
	return __real_hm_ks_lookup(rd, tenant, tenant_len, container, container_len, epoch, rec);
}

/* ---- fixture ---- */

struct stats_stub {
	unsigned calls;
	uint64_t last_id;
};

struct fx {
	struct tl_engine e;
	struct hm_verifier *v; /* e.v */
	struct hm_handler h;
	struct stats_stub stub;
	uint8_t secret[HM_KEY_LEN];
	struct hm_buf req;  /* request frame being built */
	struct hm_buf out;  /* response frames */
	struct hm_response resp;
	struct hm_item it;
	uint8_t sig[HM_MAC_LEN];
};

static void stub_stats(void *arg, struct hm_buf *out, uint64_t id)
{
	struct stats_stub *s = arg;
	size_t start;

	s->calls++;
	s->last_id = id;
	start = hm_encode_stats_begin(out, id, 2);
	hm_encode_stat(out, "calls", s->calls);
	hm_encode_stat(out, "answer", 42);
	hm_frame_end(out, start);
}

static void str(struct hm_str *s, const char *v)
{
	tl_str(s, v);
}

/* A valid, signed item for t1/c1 epoch 1 with an optional nonce. */
static void make_item(struct fx *f, const char *nonce)
{
	tl_v1_item(&f->it, f->sig, "t1", "c1", 1, "/containers/c1/exec", NOW, nonce, NULL);
	assert_int_equal(hm_sign_item(f->secret, HM_KEY_LEN, &f->it, f->sig), HM_OK);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256];

	assert_non_null(f);
	store_fails = false;
	if (tl_engine_open(&f->e, "test-handler", NULL, 4096, err, sizeof(err)) != HM_OK)
		fail_msg("%s", err);
	f->v = f->e.v;
	assert_int_equal(hm_ks_create(f->e.ks, "t1", "c1", NOW - 1000, NULL, f->secret, NULL),
			 HM_OK);
	f->h.verifier = f->v;
	f->h.max_batch = MAX_BATCH;
	f->h.stats_fn = stub_stats;
	f->h.stats_arg = &f->stub;
	hm_buf_init(&f->req, 1u << 20);
	hm_buf_init(&f->out, 1u << 20);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	store_fails = false;
	hm_buf_free(&f->req);
	hm_buf_free(&f->out);
	tl_engine_close(&f->e);
	OPENSSL_cleanse(f, sizeof(*f));
	free(f);
	return 0;
}

/* ---- building requests, reading responses ---- */

static void pk_init(msgpack_packer *pk, struct hm_buf *b)
{
	msgpack_packer_init(pk, b, hm_buf_msgpack_write);
}

static void pk_cstr(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str(pk, strlen(s));
	msgpack_pack_str_body(pk, s, strlen(s));
}

/*
 * Hands the request frame in f->req to the handler (payload only, as conn.c does) and checks
 * that exactly one complete frame was appended to f->out, which it decodes into f->resp.
 */
static void handle(struct fx *f)
{
	uint32_t plen = 0;
	size_t flen = 0;
	int rc;

	assert_false(f->req.failed);
	assert_int_equal(hm_frame_parse(f->req.data, f->req.len, UINT32_MAX, &plen, &flen), HM_OK);
	assert_int_equal(flen, f->req.len);
	hm_buf_reset(&f->out);
	rc = hm_handle_frame(&f->h, f->req.data + HM_FRAME_HEADER, plen, NOW, &f->out);
	assert_int_equal(rc, HM_OK);
	assert_false(f->out.failed);
	assert_int_equal(hm_frame_parse(f->out.data, f->out.len, UINT32_MAX, &plen, &flen), HM_OK);
	assert_int_equal(flen, f->out.len);
	assert_int_equal(hm_response_decode(f->out.data + HM_FRAME_HEADER, plen, &f->resp), HM_OK);
	hm_buf_reset(&f->req);
}

/* Handles a raw payload (not framed) of n bytes. */
static void handle_payload(struct fx *f, const void *p, size_t n)
{
	uint8_t hdr[HM_FRAME_HEADER];

	hm_buf_reset(&f->req);
	hm_frame_put_header(hdr, (uint32_t)n);
	hm_buf_append(&f->req, hdr, sizeof(hdr));
	hm_buf_append(&f->req, p, n);
	handle(f);
}

static void expect_error(struct fx *f, bool has_id, uint64_t id, const char *code)
{
	assert_int_equal(f->resp.kind, HM_RESP_ERROR);
	assert_int_equal(f->resp.has_id, has_id);
	if (has_id)
		assert_int_equal(f->resp.id, id);
	assert_int_equal(f->resp.err.len, strlen(code));
	assert_memory_equal(f->resp.err.ptr, code, strlen(code));
	assert_true(f->resp.err_text.len > 0); /* a human-readable message comes along */
}

/* The verdicts of a results response, checked against want[0..n). */
static void expect_results(struct fx *f, uint64_t id, const unsigned *want, uint32_t n)
{
	struct hm_mp r = f->resp.results;

	assert_int_equal(f->resp.kind, HM_RESP_RESULTS);
	assert_true(f->resp.has_id);
	assert_int_equal(f->resp.id, id);
	assert_int_equal(f->resp.nresults, n);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t v = 99;

		assert_int_equal(hm_mp_read_uint(&r, &v), HM_OK);
		if (v != want[i])
			fail_msg("item %u: verdict %s, want %s", i, hm_verdict_name((unsigned)v),
				 hm_verdict_name(want[i]));
	}
}

/* ---- tests ---- */

static void test_ping(void **state)
{
	struct fx *f = *state;

	hm_encode_simple_request(&f->req, 77, HM_OP_PING);
	handle(f);
	assert_int_equal(f->resp.kind, HM_RESP_PONG);
	assert_true(f->resp.has_id);
	assert_int_equal(f->resp.id, 77);
	/* the largest id comes back intact */
	hm_encode_simple_request(&f->req, UINT64_MAX, HM_OP_PING);
	handle(f);
	assert_int_equal(f->resp.id, UINT64_MAX);
	assert_int_equal(hm_counter_get(&f->h.stats.requests), 2);
	assert_int_equal(hm_counter_get(&f->h.stats.request_errors), 0);
	assert_int_equal(f->stub.calls, 0);
}

static void test_stats_calls_stats_fn(void **state)
{
	struct fx *f = *state;
	struct hm_mp r;
	struct hm_str name;
	uint64_t v;

	hm_encode_simple_request(&f->req, 9, HM_OP_STATS);
	handle(f);
	assert_int_equal(f->stub.calls, 1);
	assert_int_equal(f->stub.last_id, 9);
	assert_int_equal(f->resp.kind, HM_RESP_STATS);
	assert_int_equal(f->resp.id, 9);
	assert_int_equal(f->resp.nstats, 2);
	r = f->resp.stats;
	assert_int_equal(hm_mp_read_str(&r, &name.ptr, &name.len), HM_OK);
	assert_memory_equal(name.ptr, "calls", 5);
	assert_int_equal(hm_mp_read_uint(&r, &v), HM_OK);
	assert_int_equal(v, 1);
	assert_int_equal(hm_mp_read_str(&r, &name.ptr, &name.len), HM_OK);
	assert_memory_equal(name.ptr, "answer", 6);
	assert_int_equal(hm_mp_read_uint(&r, &v), HM_OK);
	assert_int_equal(v, 42);
}

static void test_verify_mixed(void **state)
{
	struct fx *f = *state;
	msgpack_packer pk;
	uint8_t digest[HM_SHA256_LEN];
	size_t start;
	static const unsigned want[] = {
		HM_V_OK,              /* good */
		HM_V_MALFORMED,       /* not a map */
		HM_V_BAD_SIGNATURE,   /* one bit of the sig flipped */
		HM_V_MALFORMED,       /* tenant with a space */
		HM_V_UNKNOWN_KEY,     /* epoch 2 does not exist */
		HM_V_STALE_TIMESTAMP, /* signed long ago */
		HM_V_OK,              /* nonce, first time */
		HM_V_REPLAY,          /* the same nonce again, in the same batch */
	};

	start = hm_encode_verify_begin(&f->req, 5, 8);
	make_item(f, "");
	hm_encode_item(&f->req, &f->it);
	pk_init(&pk, &f->req);
	msgpack_pack_uint32(&pk, 12345);
	f->sig[7] ^= 0x10;
	hm_encode_item(&f->req, &f->it);
	make_item(f, "");
	str(&f->it.tenant, "t 1");
	hm_encode_item(&f->req, &f->it);
	make_item(f, "");
	f->it.v1.epoch = 2;
	hm_encode_item(&f->req, &f->it);
	make_item(f, "");
	f->it.v1.ts = NOW - SKEW - 1;
	assert_int_equal(hm_sign_item(f->secret, HM_KEY_LEN, &f->it, f->sig), HM_OK);
	hm_encode_item(&f->req, &f->it);
	make_item(f, "nonce-1");
	/* the digest form, to go through both body encodings */
	assert_int_equal(hm_sha256(tl_body, tl_body_len, digest), HM_OK);
	f->it.has_body = false;
	f->it.v1.has_body_sha256 = true;
	f->it.v1.body_sha256 = digest;
	hm_encode_item(&f->req, &f->it);
	hm_encode_item(&f->req, &f->it);
	hm_frame_end(&f->req, start);
	handle(f);
	expect_results(f, 5, want, 8);
	assert_int_equal(hm_counter_get(&f->h.stats.items), 8);
	assert_int_equal(hm_counter_get(&f->h.stats.requests), 1);
	assert_int_equal(hm_counter_get(&f->h.stats.request_errors), 0);
	assert_int_equal(hm_counter_get(&hm_verify_stats(f->v)->verdicts[HM_V_MALFORMED]), 2);
	assert_int_equal(hm_counter_get(&hm_verify_stats(f->v)->verdicts[HM_V_OK]), 2);
}

/* An item whose structure differs from the contract (missing sig, sig of 31 bytes, extra key). */
static void test_verify_malformed_items_keep_neighbours(void **state)
{
	struct fx *f = *state;
	msgpack_packer pk;
	size_t start;
	static const unsigned want[] = {HM_V_MALFORMED, HM_V_OK, HM_V_MALFORMED, HM_V_OK,
					HM_V_MALFORMED};

	start = hm_encode_verify_begin(&f->req, 6, 5);
	pk_init(&pk, &f->req);
	/* {"tenant": "t1"}: most keys missing */
	msgpack_pack_map(&pk, 1);
	pk_cstr(&pk, "tenant");
	pk_cstr(&pk, "t1");
	make_item(f, "");
	hm_encode_item(&f->req, &f->it);
	/* a nested empty array */
	msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 0);
	hm_encode_item(&f->req, &f->it);
	/* a nil */
	msgpack_pack_nil(&pk);
	hm_frame_end(&f->req, start);
	handle(f);
	expect_results(f, 6, want, 5);
}

static void test_verify_empty_and_full_batch(void **state)
{
	struct fx *f = *state;
	unsigned want[MAX_BATCH] = {0};
	size_t start;

	start = hm_encode_verify_begin(&f->req, 1, 0);
	hm_frame_end(&f->req, start);
	handle(f);
	expect_results(f, 1, want, 0);

	/* 1 to 4 items: shorter, as long as and longer than the handler's look-ahead */
	for (unsigned n = 1; n <= 4; n++) {
		start = hm_encode_verify_begin(&f->req, 10 + n, n);
		for (unsigned i = 0; i < n; i++) {
			make_item(f, "");
			f->sig[0] ^= (uint8_t)(i & 1); /* odd items tampered */
			hm_encode_item(&f->req, &f->it);
			want[i] = i & 1 ? HM_V_BAD_SIGNATURE : HM_V_OK;
		}
		hm_frame_end(&f->req, start);
		handle(f);
		expect_results(f, 10 + n, want, n);
	}

	make_item(f, "");
	start = hm_encode_verify_begin(&f->req, 2, MAX_BATCH);
	for (unsigned i = 0; i < MAX_BATCH; i++) {
		hm_encode_item(&f->req, &f->it);
		want[i] = HM_V_OK;
	}
	hm_frame_end(&f->req, start);
	handle(f);
	expect_results(f, 2, want, MAX_BATCH);
}

static void test_error_too_many_items(void **state)
{
	struct fx *f = *state;
	size_t start;

	make_item(f, "");
	start = hm_encode_verify_begin(&f->req, 3, MAX_BATCH + 1);
	for (unsigned i = 0; i < MAX_BATCH + 1; i++)
		hm_encode_item(&f->req, &f->it);
	hm_frame_end(&f->req, start);
	handle(f);
	expect_error(f, true, 3, HM_RERR_TOO_MANY_ITEMS);
	assert_int_equal(hm_counter_get(&f->h.stats.request_errors), 1);
	assert_int_equal(hm_counter_get(&f->h.stats.items), 0);
	/* nothing was judged */
	assert_int_equal(hm_counter_get(&hm_verify_stats(f->v)->verdicts[HM_V_OK]), 0);
}

static void test_error_unknown_op(void **state)
{
	struct fx *f = *state;
	msgpack_packer pk;
	size_t start;

	start = hm_frame_begin(&f->req);
	pk_init(&pk, &f->req);
	msgpack_pack_map(&pk, 2);
	pk_cstr(&pk, "id");
	msgpack_pack_uint64(&pk, 11);
	pk_cstr(&pk, "op");
	pk_cstr(&pk, "frobnicate");
	hm_frame_end(&f->req, start);
	handle(f);
	expect_error(f, true, 11, HM_RERR_UNKNOWN_OP);
}

/* Requests refused as a whole (malformed): msgpack bytes, and the id the error echoes. */
#define MP(...) {__VA_ARGS__}, sizeof((uint8_t[]){__VA_ARGS__})
#define ID 0xa2, 'i', 'd'
#define OP 0xa2, 'o', 'p'
#define PING 0xa4, 'p', 'i', 'n', 'g'
static const struct malformed_case {
	const char *what;
	uint8_t bytes[32];
	size_t len;
	bool has_id;
	uint64_t id;
} malformed_cases[] = {
	{"not a map: [1, 2, 3]", MP(0x93, 0x01, 0x02, 0x03), false, 0},
	{"truncated: {\"id\": <missing>", MP(0x82, ID), false, 0},
	{"an invalid byte", MP(0xc1), false, 0},
	{"empty", {0}, 0, false, 0},
	/* a readable id is echoed even though the request is refused */
	{"an unknown key", MP(0x83, ID, 21, OP, PING, 0xa5, 'e', 'x', 't', 'r', 'a', 0xc3), true, 21},
	{"items on stats", MP(0x83, ID, 22, OP, 0xa5, 's', 't', 'a', 't', 's', 0xa5, 'i', 't', 'e',
			      'm', 's', 0x90), true, 22},
	{"verify without items", MP(0x82, ID, 23, OP, 0xa6, 'v', 'e', 'r', 'i', 'f', 'y'), true, 23},
	{"a negative id (none to echo)", MP(0x82, ID, 0xff, OP, PING), false, 0},
	{"no id", MP(0x81, OP, PING), false, 0},
};
#undef MP
#undef ID
#undef OP
#undef PING

static void test_error_malformed(void **state)
{
	struct fx *f = *state;
	const size_t n = sizeof(malformed_cases) / sizeof(malformed_cases[0]);

	for (size_t i = 0; i < n; i++) {
		const struct malformed_case *c = &malformed_cases[i];

		handle_payload(f, c->bytes, c->len);
		if (f->resp.kind != HM_RESP_ERROR)
			fail_msg("%s: not answered with an error", c->what);
		expect_error(f, c->has_id, c->id, HM_RERR_MALFORMED);
	}
	assert_int_equal(f->stub.calls, 0); /* the refused stats request was not served */
	assert_int_equal(hm_counter_get(&f->h.stats.request_errors), n);
	assert_int_equal(hm_counter_get(&f->h.stats.requests), n);
	/* and the handler still serves a good request afterwards */
	hm_encode_simple_request(&f->req, 24, HM_OP_PING);
	handle(f);
	assert_int_equal(f->resp.kind, HM_RESP_PONG);
}

/* The store cannot be read: the whole batch is refused (fail closed), then service resumes. */
static void test_error_internal(void **state)
{
	struct fx *f = *state;
	static const unsigned ok[] = {HM_V_OK};
	size_t start;

	make_item(f, "");
	store_fails = true;
	start = hm_encode_verify_begin(&f->req, 31, 1);
	hm_encode_item(&f->req, &f->it);
	hm_frame_end(&f->req, start);
	handle(f);
	expect_error(f, true, 31, HM_RERR_INTERNAL);
	assert_int_equal(hm_counter_get(&f->h.stats.request_errors), 1);
	assert_int_equal(hm_counter_get(&hm_verify_stats(f->v)->store_errors), 1);
	assert_int_equal(hm_counter_get(&hm_verify_stats(f->v)->verdicts[HM_V_OK]), 0);
	/* ping does not touch the store */
	hm_encode_simple_request(&f->req, 32, HM_OP_PING);
	handle(f);
	assert_int_equal(f->resp.kind, HM_RESP_PONG);

	store_fails = false;
	start = hm_encode_verify_begin(&f->req, 33, 1);
	hm_encode_item(&f->req, &f->it);
	hm_frame_end(&f->req, start);
	handle(f);
	expect_results(f, 33, ok, 1);
}

/*
 * A store failure in the middle of a batch (a lookup, after a good item was judged): the
 * verdicts already judged are taken back and the whole request is answered "internal", so no
 * item of it can pass on a server fault.
 */
static void test_lookup_fault_fails_whole_batch(void **state)
{
	static const unsigned ok[] = {HM_V_OK};
	struct fx *f = *state;
	struct hm_item other;
	size_t start;

	make_item(f, "");
	/* warm the key cache, so the first and last items below are judged from it */
	start = hm_encode_verify_begin(&f->req, 34, 1);
	hm_encode_item(&f->req, &f->it);
	hm_frame_end(&f->req, start);
	handle(f);
	expect_results(f, 34, ok, 1);
	other = f->it;
	other.v1.epoch = 7; /* not cached: needs a store lookup */
	lookup_fails = true;
	start = hm_encode_verify_begin(&f->req, 35, 3);
	hm_encode_item(&f->req, &f->it);
	hm_encode_item(&f->req, &other);
	hm_encode_item(&f->req, &f->it);
	hm_frame_end(&f->req, start);
	handle(f);
	lookup_fails = false;
	expect_error(f, true, 35, HM_RERR_INTERNAL);
	assert_int_equal(hm_counter_get(&hm_verify_stats(f->v)->store_errors), 1);
}

/* A response that does not fit the output buffer: HM_ETOOBIG and out->failed, for each op. */
static void test_output_too_small(void **state)
{
	struct fx *f = *state;
	static const unsigned ok[] = {HM_V_OK};
	uint32_t plen = 0;
	size_t flen = 0, start;
	struct hm_buf small;
	int rc;

	make_item(f, "");
	start = hm_encode_verify_begin(&f->req, 41, 1);
	hm_encode_item(&f->req, &f->it);
	hm_frame_end(&f->req, start);
	assert_int_equal(hm_frame_parse(f->req.data, f->req.len, UINT32_MAX, &plen, &flen), HM_OK);

	/* too small for the results header */
	hm_buf_init(&small, 8);
	rc = hm_handle_frame(&f->h, f->req.data + HM_FRAME_HEADER, plen, NOW, &small);
	assert_int_equal(rc, HM_ETOOBIG);
	assert_true(small.failed);
	hm_buf_free(&small);

	/* enough for the header but not for the verdict byte */
	hm_buf_init(&small, HM_FRAME_HEADER + 1 + 3 + 1 + 8 + 1);
	rc = hm_handle_frame(&f->h, f->req.data + HM_FRAME_HEADER, plen, NOW, &small);
	assert_int_equal(rc, HM_ETOOBIG);
	assert_true(small.failed);
	hm_buf_free(&small);

	/* the batch was ended: the next request with room is served */
	handle(f);
	expect_results(f, 41, ok, 1);

	/* pong, stats and error responses too */
	hm_encode_simple_request(&f->req, 42, HM_OP_PING);
	assert_int_equal(hm_frame_parse(f->req.data, f->req.len, UINT32_MAX, &plen, &flen), HM_OK);
	hm_buf_init(&small, 8);
	assert_int_equal(hm_handle_frame(&f->h, f->req.data + HM_FRAME_HEADER, plen, NOW, &small),
			 HM_ETOOBIG);
	assert_true(small.failed);
	hm_buf_free(&small);
	hm_buf_reset(&f->req);
	hm_encode_simple_request(&f->req, 43, HM_OP_STATS);
	hm_buf_init(&small, 16);
	assert_int_equal(hm_handle_frame(&f->h, f->req.data + HM_FRAME_HEADER,
					 f->req.len - HM_FRAME_HEADER, NOW, &small),
			 HM_ETOOBIG);
	assert_true(small.failed);
	hm_buf_free(&small);
	hm_buf_init(&small, 16);
	assert_int_equal(hm_handle_frame(&f->h, (const uint8_t *)"\x01", 1, NOW, &small),
			 HM_ETOOBIG);
	assert_true(small.failed);
	hm_buf_free(&small);
	hm_buf_reset(&f->req);
}

/* Responses are appended: what is already in the output buffer stays in front, untouched. */
static void test_appends_after_pending_output(void **state)
{
	struct fx *f = *state;
	uint32_t plen = 0;
	size_t flen = 0, first;

	hm_encode_pong(&f->out, 1);
	first = f->out.len;
	hm_encode_simple_request(&f->req, 2, HM_OP_PING);
	assert_int_equal(hm_handle_frame(&f->h, f->req.data + HM_FRAME_HEADER,
					 f->req.len - HM_FRAME_HEADER, NOW, &f->out),
			 HM_OK);
	assert_int_equal(hm_frame_parse(f->out.data, f->out.len, UINT32_MAX, &plen, &flen), HM_OK);
	assert_int_equal(flen, first);
	assert_int_equal(hm_frame_parse(f->out.data + first, f->out.len - first, UINT32_MAX, &plen,
					&flen),
			 HM_OK);
	assert_int_equal(first + flen, f->out.len);
	assert_int_equal(hm_response_decode(f->out.data + first + HM_FRAME_HEADER, plen, &f->resp),
			 HM_OK);
	assert_int_equal(f->resp.id, 2);
	hm_buf_reset(&f->req);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_calls_stats_fn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_mixed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_malformed_items_keep_neighbours, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_verify_empty_and_full_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_too_many_items, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_unknown_op, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_internal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookup_fault_fails_whole_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_too_small, setup, teardown),
		cmocka_unit_test_setup_teardown(test_appends_after_pending_output, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
