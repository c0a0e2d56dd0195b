/*
 * test_traps.c - the msgpack-c traps, end to end through the request decoder, with memory
 * measured.
 *
 * msgpack-c's unpacker believes length headers: "dd ff 00 00 00" (an array32 of 4278190080
 * elements) makes it reserve about 100 GB of msgpack_object before reading one element, and it
 * nests as deep as its stack allows. hmacd's reader (proto/mpack.c) must refuse each of these
 * with a clean error, using no memory beyond the frame it was given. test_mpack.c checks the
 * reader's primitives; this file checks what the daemon runs on a frame (hm_frame_parse,
 * hm_request_decode, hm_item_next) with every trap placed where a hostile client would put
 * it: at the top, as the value of id/op/items, inside an item, and nested past the limit,
 * each in a payload of exactly the default --max-frame (1 MiB) so that a "32-bit length larger
 * than the frame" is literally that.
 *
 * Memory: the decoder's allocations are counted (malloc, calloc and realloc are wrapped at link
 * time: -Wl,--wrap=...) and must be zero, and the peak RSS (getrusage) must not grow by 2x the
 * max frame while every trap is decoded; the payloads themselves are allocated and touched
 * before the baseline is taken. An ASan build (--enable-sanitizers) runs the same decodes with
 * every byte outside the payload poisoned.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "proto/frame.h"
#include "proto/mpack.h"
#include "proto/msg.h"

#define L HM_FRAME_DEFAULT_MAX /* every payload is exactly this long, unless it says otherwise */

/* ---- allocation counting (link-time wrappers) ---- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);

/*
 * Link-time wrappers take no context: the count is the one piece of file-level state. volatile:
 * GCC assumes malloc() touches no global of the caller, and would reuse a stale value.
 */
static volatile size_t g_allocs;

void *__wrap_malloc(size_t n)
{
	g_allocs++;
	return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
	g_allocs++;
	return __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
	g_allocs++;
	return __real_realloc(p, n);
}

/* ---- payload writer ---- */

struct w {
	uint8_t *p;
	size_t len;
};

static void put(struct w *w, const void *b, size_t n)
{
	assert_true(w->len + n <= L);
	memcpy(w->p + w->len, b, n);
	w->len += n;
}

#define PUT(w, ...) put((w), (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__}))

static void put_fixstr(struct w *w, const char *s)
{
	uint8_t h = (uint8_t)(0xa0 | strlen(s));

	put(w, &h, 1);
	put(w, s, strlen(s));
}

static void put_be32(struct w *w, uint8_t type, uint32_t n)
{
	PUT(w, type, (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n);
}

/* {"id": 1, "op": "verify", "items": — the caller writes the items value */
static void put_verify_head(struct w *w)
{
	PUT(w, 0x83);
	put_fixstr(w, "id");
	PUT(w, 0x01);
	put_fixstr(w, "op");
	put_fixstr(w, "verify");
	put_fixstr(w, "items");
}

/* An item map of 9 fields whose last field the caller writes ("sig" or "headers" or ...). */
static void put_item_head(struct w *w, const char *last_key)
{
	static const uint8_t sig[32];

	PUT(w, 0x89);
	put_fixstr(w, "tenant");
	put_fixstr(w, "t1");
	put_fixstr(w, "container");
	put_fixstr(w, "c1");
	put_fixstr(w, "epoch");
	PUT(w, 0x01);
	put_fixstr(w, "method");
	put_fixstr(w, "GET");
	put_fixstr(w, "path");
	put_fixstr(w, "/");
	put_fixstr(w, "ts");
	PUT(w, 0xce, 0x65, 0x53, 0xf1, 0x00);
	put_fixstr(w, "body_sha256");
	PUT(w, 0xc4, 0x20);
	put(w, sig, sizeof(sig));
	if (strcmp(last_key, "sig") != 0) {
		put_fixstr(w, "sig");
		PUT(w, 0xc4, 0x20);
		put(w, sig, sizeof(sig));
	} else {
		put_fixstr(w, "headers");
		PUT(w, 0x90);
	}
	put_fixstr(w, last_key);
}

/* Fills the rest of the payload with one-byte elements (positive fixint 0). */
static void pad(struct w *w)
{
	memset(w->p + w->len, 0, L - w->len);
	w->len = L;
}

/* `levels` nested one-element arrays (maps if `maps`) */
static void nest(struct w *w, size_t levels, bool maps)
{
	for (size_t i = 0; i < levels; i++) {
		if (maps) {
			PUT(w, 0x81);
			put_fixstr(w, "k");
		} else {
			PUT(w, 0x91);
		}
	}
	PUT(w, 0x07);
}

struct trap {
	const char *name;
	void (*make)(struct w *w);
	bool has_id; /* the error response can still echo id 1 */
};

static void t_array32_top(struct w *w)
{
	PUT(w, 0xdd, 0xff, 0x00, 0x00, 0x00);
	pad(w);
}

static void t_map32_top(struct w *w)
{
	PUT(w, 0xdf, 0xff, 0xff, 0xff, 0xff);
	pad(w);
}

/* 2^19 + 1 pairs need 2^20 + 2 bytes: one pair more than the frame could hold */
static void t_map32_one_over(struct w *w)
{
	put_be32(w, 0xdf, (1u << 19) + 1);
	pad(w);
}

static void t_items_array32(struct w *w)
{
	put_verify_head(w);
	PUT(w, 0xdd, 0xff, 0x00, 0x00, 0x00);
	pad(w);
}

/* one element more than the bytes left after the header */
static void t_items_one_over(struct w *w)
{
	put_verify_head(w);
	put_be32(w, 0xdd, (uint32_t)(L - w->len - 5 + 1));
	pad(w);
}

static void t_op_str32_over(struct w *w)
{
	PUT(w, 0x83);
	put_fixstr(w, "id");
	PUT(w, 0x01);
	put_fixstr(w, "op");
	put_be32(w, 0xdb, L); /* a string as long as the whole frame */
	pad(w);
}

static void t_id_bin32_huge(struct w *w)
{
	PUT(w, 0x83);
	put_fixstr(w, "id");
	put_be32(w, 0xc6, 0xffffffffu);
	pad(w);
}

static void t_item_sig_bin32(struct w *w)
{
	put_verify_head(w);
	PUT(w, 0x91);
	put_item_head(w, "sig");
	put_be32(w, 0xc6, 0xffffffffu);
	pad(w);
}

static void t_item_headers_array32(struct w *w)
{
	put_verify_head(w);
	PUT(w, 0x91);
	put_item_head(w, "headers");
	PUT(w, 0xdd, 0xff, 0x00, 0x00, 0x00);
	pad(w);
}

static void t_item_body_bin32_over(struct w *w)
{
	put_verify_head(w);
	PUT(w, 0x91);
	put_item_head(w, "body");
	put_be32(w, 0xc6, L);
	pad(w);
}

static void t_item_ext32(struct w *w)
{
	put_verify_head(w);
	PUT(w, 0x91);
	put_item_head(w, "nonce");
	put_be32(w, 0xc9, 0xfffffff0u);
	PUT(w, 0x01); /* ext type */
	pad(w);
}

static void t_nest_top_one_over(struct w *w)
{
	nest(w, HM_MP_MAX_DEPTH + 1, true);
}

static void t_nest_items_one_over(struct w *w)
{
	put_verify_head(w);
	nest(w, HM_MP_MAX_DEPTH - 1 + 1, false); /* with the request map: one level too many */
}

static void t_nest_item_maps(struct w *w)
{
	put_verify_head(w);
	PUT(w, 0x91);
	put_item_head(w, "headers");
	nest(w, HM_MP_MAX_DEPTH, true);
}

static void t_bomb_arrays(struct w *w)
{
	put_verify_head(w);
	memset(w->p + w->len, 0x91, L - w->len);
	w->len = L;
}

static void t_bomb_maps(struct w *w)
{
	put_verify_head(w);
	while (L - w->len >= 3)
		PUT(w, 0x81, 0xa1, 'k');
	pad(w);
}

static const struct trap traps[] = {
	{"array32 dd ff 00 00 00 at the top", t_array32_top, false},
	{"map32 of 2^32-1 pairs at the top", t_map32_top, false},
	{"map32 one pair over the frame", t_map32_one_over, false},
	{"items: array32 dd ff 00 00 00", t_items_array32, true},
	{"items: array32 one element over the frame", t_items_one_over, true},
	{"op: str32 as long as the frame", t_op_str32_over, true},
	{"id: bin32 of 4 GiB", t_id_bin32_huge, false},
	{"item sig: bin32 of 4 GiB", t_item_sig_bin32, true},
	{"item headers: array32 dd ff 00 00 00", t_item_headers_array32, true},
	{"item body: bin32 as long as the frame", t_item_body_bin32_over, true},
	{"item nonce: ext32 of 4 GiB", t_item_ext32, true},
	{"nesting one level over, at the top", t_nest_top_one_over, false},
	{"nesting one level over, in items", t_nest_items_one_over, true},
	{"nested maps in an item's headers", t_nest_item_maps, true},
	{"1 MiB of nested arrays in items", t_bomb_arrays, true},
	{"1 MiB of nested maps in items", t_bomb_maps, true},
};

#define NTRAPS (sizeof(traps) / sizeof(traps[0]))

struct fx {
	uint8_t *payload[NTRAPS];
	size_t len[NTRAPS];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	for (size_t i = 0; i < NTRAPS; i++) {
		struct w w;

		w.p = malloc(L);
		w.len = 0;
		assert_non_null(w.p);
		memset(w.p, 0, L); /* touched: part of the baseline RSS */
		traps[i].make(&w);
		f->payload[i] = w.p;
		f->len[i] = w.len;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	for (size_t i = 0; i < NTRAPS; i++)
		free(f->payload[i]);
	free(f);
	return 0;
}

static long peak_rss_kib(void)
{
	struct rusage ru;

	assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
	return ru.ru_maxrss;
}

/* Every trap: a clean "malformed" error response, no allocation, no RSS growth. */
static void test_traps_refused(void **state)
{
	struct fx *f = *state;
	size_t allocs;
	long before, after;
	int rc[NTRAPS];
	struct hm_request req[NTRAPS];
	void *volatile probe;

	/* the counter is live (else a zero below would prove nothing) */
	g_allocs = 0;
	probe = malloc(16);
	free(probe);
	assert_int_equal(g_allocs, 1);

	before = peak_rss_kib();
	g_allocs = 0;
	for (int round = 0; round < 3; round++)
		for (size_t i = 0; i < NTRAPS; i++)
			rc[i] = hm_request_decode(f->payload[i], f->len[i], HM_DEFAULT_MAX_BATCH,
						  &req[i]);
	allocs = g_allocs;
	after = peak_rss_kib();

	for (size_t i = 0; i < NTRAPS; i++) {
		print_message("%-44s %7zu bytes: %s (%s)\n", traps[i].name, f->len[i],
			      req[i].err != NULL ? req[i].err : "ok",
			      req[i].err_text != NULL ? req[i].err_text : "");
		assert_int_equal(rc[i], HM_EMALFORMED);
		assert_non_null(req[i].err);
		assert_string_equal(req[i].err, HM_RERR_MALFORMED);
		assert_non_null(req[i].err_text);
		assert_int_equal(req[i].has_id, traps[i].has_id);
		if (traps[i].has_id)
			assert_int_equal(req[i].id, 1);
	}
	print_message("decoder allocations: %zu; peak RSS %ld KiB -> %ld KiB (limit +%u KiB)\n",
		      allocs, before, after, 2 * L / 1024);
	assert_int_equal(allocs, 0);
	assert_true(after - before < (long)(2 * L / 1024));
}

/*
 * The same bytes behind a frame header: the frame layer passes a payload of exactly --max-frame
 * and refuses one byte more, or a header claiming 4 GiB, before a payload byte is buffered.
 */
static void test_frame_layer(void **state)
{
	struct fx *f = *state;
	uint8_t hdr[HM_FRAME_HEADER];
	uint32_t plen;
	size_t flen;

	(void)f;
	hm_frame_put_header(hdr, L);
	assert_int_equal(hm_frame_parse(hdr, sizeof(hdr), L, &plen, &flen), HM_EAGAIN);
	assert_int_equal(plen, L); /* the caller learns the size it must be ready to buffer */
	hm_frame_put_header(hdr, L + 1);
	assert_int_equal(hm_frame_parse(hdr, sizeof(hdr), L, &plen, &flen), HM_ETOOBIG);
	memset(hdr, 0xff, sizeof(hdr));
	assert_int_equal(hm_frame_parse(hdr, sizeof(hdr), L, &plen, &flen), HM_ETOOBIG);
	assert_int_equal(hm_frame_parse(hdr, sizeof(hdr), HM_FRAME_MAX_MAX, &plen, &flen),
			 HM_ETOOBIG);
}

/*
 * A batch whose second item hides a trap in a field the request pass cannot see as wrong
 * (an honest bin32 of 4 bytes as sig): that item alone is MALFORMED, its neighbours decode.
 */
static void test_item_level_trap_is_per_item(void **state)
{
	struct w w;
	struct hm_request req;
	struct hm_item *it = malloc(sizeof(*it));
	static const uint8_t sig[32];
	int want[3] = {HM_OK, HM_EMALFORMED, HM_OK};

	(void)state;
	assert_non_null(it);
	w.p = malloc(L);
	w.len = 0;
	assert_non_null(w.p);
	put_verify_head(&w);
	PUT(&w, 0x93);
	for (int i = 0; i < 3; i++) {
		put_item_head(&w, "sig");
		if (i == 1) {
			put_be32(&w, 0xc6, 4);
			PUT(&w, 1, 2, 3, 4);
		} else {
			PUT(&w, 0xc4, 0x20);
			put(&w, sig, sizeof(sig));
		}
	}
	assert_int_equal(hm_request_decode(w.p, w.len, HM_DEFAULT_MAX_BATCH, &req), HM_OK);
	assert_int_equal(req.nitems, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(hm_item_next(&req.items, it), want[i]);
	assert_int_equal(hm_mp_left(&req.items), 0);
	free(w.p);
	free(it);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_traps_refused),
		cmocka_unit_test(test_frame_layer),
		cmocka_unit_test(test_item_level_trap_is_per_item),
	};

	return cmocka_run_group_tests_name("traps", tests, setup, teardown);
}
