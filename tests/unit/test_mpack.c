/*
 * test_mpack.c - unit tests of the bounded msgpack reader (proto/mpack.c).
 *
 * Three kinds of case: every msgpack format read from hand-written bytes (tables below); every
 * truncation of sample values, which must fail without moving the cursor; hostile headers that
 * make msgpack-c's own unpacker reserve gigabytes, which must be refused by a comparison. Last, a
 * cross-check against msgpack-c's packer: random trees are packed with it and read back with the
 * reader, value by value, from the same pseudo-random sequence.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "proto/mpack.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
/* a byte array literal and its length, for the case tables */
#define BYTES(...) (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})

struct bytes_case {
	const uint8_t *b;
	size_t len;
};

struct uint_case {
	const uint8_t *b;
	size_t len;
	uint64_t want;
};

/* ---- integers ---- */

static const struct uint_case uints[] = {
	{BYTES(0x00), 0},
	{BYTES(0x01), 1},
	{BYTES(0x7f), 127},
	{BYTES(0xcc, 0x00), 0},
	{BYTES(0xcc, 0x80), 128},
	{BYTES(0xcc, 0xff), 255},
	{BYTES(0xcd, 0x00, 0x00), 0},
	{BYTES(0xcd, 0x01, 0x00), 256},
	{BYTES(0xcd, 0xff, 0xff), 65535},
	{BYTES(0xce, 0x00, 0x01, 0x00, 0x00), 65536},
	{BYTES(0xce, 0xff, 0xff, 0xff, 0xff), UINT32_MAX},
	{BYTES(0xcf, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00), 1ull << 32},
	{BYTES(0xcf, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08), 0x0102030405060708ull},
	{BYTES(0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), UINT64_MAX},
	/* signed formats holding non-negative values are accepted as uint */
	{BYTES(0xd0, 0x00), 0},
	{BYTES(0xd0, 0x7f), 127},
	{BYTES(0xd1, 0x00, 0x01), 1},
	{BYTES(0xd1, 0x7f, 0xff), 32767},
	{BYTES(0xd2, 0x00, 0x00, 0x00, 0x00), 0},
	{BYTES(0xd2, 0x7f, 0xff, 0xff, 0xff), INT32_MAX},
	{BYTES(0xd3, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05), 5},
	{BYTES(0xd3, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), INT64_MAX},
};

static void test_uint_formats(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(uints); i++) {
		struct hm_mp r;
		uint64_t v = 0xdead;
		bool b;

		hm_mp_init(&r, uints[i].b, uints[i].len);
		assert_int_equal(hm_mp_peek(&r), HM_MP_UINT);
		/* other readers refuse it and leave the cursor alone */
		assert_int_equal(hm_mp_read_bool(&r, &b), HM_EMALFORMED);
		assert_int_equal(hm_mp_read_nil(&r), HM_EMALFORMED);
		assert_ptr_equal(r.p, uints[i].b);
		assert_int_equal(hm_mp_read_uint(&r, &v), HM_OK);
		assert_true(v == uints[i].want);
		assert_ptr_equal(r.p, uints[i].b + uints[i].len);
		assert_int_equal(hm_mp_left(&r), 0);

		hm_mp_init(&r, uints[i].b, uints[i].len);
		assert_int_equal(hm_mp_skip(&r, 0), HM_OK);
		assert_int_equal(hm_mp_left(&r), 0);
	}
}

static const struct bytes_case nints[] = {
	{BYTES(0xff)},                                                   /* -1 */
	{BYTES(0xe0)},                                                   /* -32 */
	{BYTES(0xd0, 0x80)},                                             /* -128 */
	{BYTES(0xd0, 0xff)},                                             /* -1 */
	{BYTES(0xd1, 0x80, 0x00)},                                       /* -32768 */
	{BYTES(0xd1, 0xff, 0xff)},                                       /* -1 */
	{BYTES(0xd2, 0x80, 0x00, 0x00, 0x00)},                           /* INT32_MIN */
	{BYTES(0xd2, 0xff, 0xff, 0xff, 0xfe)},                           /* -2 */
	{BYTES(0xd3, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00)},   /* INT64_MIN */
	{BYTES(0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)},   /* -1 */
};

static void test_negative_rejected(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(nints); i++) {
		struct hm_mp r;
		uint64_t v = 42;

		hm_mp_init(&r, nints[i].b, nints[i].len);
		assert_int_equal(hm_mp_peek(&r), HM_MP_NINT);
		assert_int_equal(hm_mp_read_uint(&r, &v), HM_EMALFORMED);
		assert_true(v == 42);
		assert_ptr_equal(r.p, nints[i].b);
		/* but a negative int is a well-formed value, so it can be skipped */
		assert_int_equal(hm_mp_skip(&r, 0), HM_OK);
		assert_int_equal(hm_mp_left(&r), 0);
	}
}

/* ---- strings and binaries ---- */

/* Builds "<header><n bytes of pattern>" into a fresh buffer. */
static uint8_t *blob(const uint8_t *hdr, size_t hlen, size_t n, size_t *total)
{
	uint8_t *b = malloc(hlen + n + 1);

	assert_non_null(b);
	memcpy(b, hdr, hlen);
	for (size_t i = 0; i < n; i++)
		b[hlen + i] = (uint8_t)('a' + i % 26);
	*total = hlen + n;
	return b;
}

struct blob_case {
	const uint8_t *hdr;
	size_t hlen;
	size_t n;
};

static const struct blob_case strs[] = {
	{BYTES(0xa0), 0},
	{BYTES(0xa1), 1},
	{BYTES(0xa3), 3},
	{BYTES(0xbf), 31},
	{BYTES(0xd9, 0x00), 0},
	{BYTES(0xd9, 0x05), 5}, /* a non-minimal form is still a str */
	{BYTES(0xd9, 0x20), 32},
	{BYTES(0xd9, 0xff), 255},
	{BYTES(0xda, 0x00, 0x00), 0},
	{BYTES(0xda, 0x01, 0x00), 256},
	{BYTES(0xda, 0xff, 0xff), 65535},
	{BYTES(0xdb, 0x00, 0x00, 0x00, 0x00), 0},
	{BYTES(0xdb, 0x00, 0x00, 0x00, 0x07), 7},
	{BYTES(0xdb, 0x00, 0x01, 0x00, 0x00), 65536},
};

static const struct blob_case bins[] = {
	{BYTES(0xc4, 0x00), 0},
	{BYTES(0xc4, 0x20), 32},
	{BYTES(0xc4, 0xff), 255},
	{BYTES(0xc5, 0x00, 0x00), 0},
	{BYTES(0xc5, 0x01, 0x00), 256},
	{BYTES(0xc5, 0xff, 0xff), 65535},
	{BYTES(0xc6, 0x00, 0x00, 0x00, 0x00), 0},
	{BYTES(0xc6, 0x00, 0x00, 0x00, 0x20), 32},
	{BYTES(0xc6, 0x00, 0x01, 0x00, 0x01), 65537},
};

static void check_blob(const struct blob_case *c, bool is_str)
{
	const uint8_t *s = NULL;
	size_t total, len = 0;
	uint8_t *b = blob(c->hdr, c->hlen, c->n, &total);
	struct hm_mp r;

	hm_mp_init(&r, b, total);
	assert_int_equal(hm_mp_peek(&r), is_str ? HM_MP_STR : HM_MP_BIN);
	/* the other of str/bin is refused, cursor unmoved */
	if (is_str)
		assert_int_equal(hm_mp_read_bin(&r, &s, &len), HM_EMALFORMED);
	else
		assert_int_equal(hm_mp_read_str(&r, &s, &len), HM_EMALFORMED);
	assert_ptr_equal(r.p, b);
	if (is_str)
		assert_int_equal(hm_mp_read_str(&r, &s, &len), HM_OK);
	else
		assert_int_equal(hm_mp_read_bin(&r, &s, &len), HM_OK);
	/* in place: the pointer is into the buffer, just past the header */
	assert_ptr_equal(s, b + c->hlen);
	assert_int_equal(len, c->n);
	assert_int_equal(hm_mp_left(&r), 0);

	hm_mp_init(&r, b, total);
	assert_int_equal(hm_mp_skip(&r, 0), HM_OK);
	assert_int_equal(hm_mp_left(&r), 0);

	/* one byte short of the payload: refused, cursor unmoved */
	if (c->n > 0) {
		hm_mp_init(&r, b, total - 1);
		if (is_str)
			assert_int_equal(hm_mp_read_str(&r, &s, &len), HM_EMALFORMED);
		else
			assert_int_equal(hm_mp_read_bin(&r, &s, &len), HM_EMALFORMED);
		assert_int_equal(hm_mp_skip(&r, HM_MP_MAX_DEPTH), HM_EMALFORMED);
		assert_ptr_equal(r.p, b);
	}
	free(b);
}

static void test_str_formats(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(strs); i++)
		check_blob(&strs[i], true);
}

static void test_bin_formats(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bins); i++)
		check_blob(&bins[i], false);
}

/* ---- containers ---- */

struct container_case {
	const uint8_t *hdr;
	size_t hlen;
	uint32_t n;
	bool is_map;
};

static const struct container_case containers[] = {
	{BYTES(0x90), 0, false},
	{BYTES(0x91), 1, false},
	{BYTES(0x9f), 15, false},
	{BYTES(0xdc, 0x00, 0x00), 0, false},
	{BYTES(0xdc, 0x00, 0x03), 3, false},
	{BYTES(0xdc, 0x00, 0x10), 16, false},
	{BYTES(0xdc, 0x01, 0x00), 256, false},
	{BYTES(0xdd, 0x00, 0x00, 0x00, 0x00), 0, false},
	{BYTES(0xdd, 0x00, 0x00, 0x00, 0x02), 2, false},
	{BYTES(0xdd, 0x00, 0x01, 0x00, 0x00), 65536, false},
	{BYTES(0x80), 0, true},
	{BYTES(0x81), 1, true},
	{BYTES(0x8f), 15, true},
	{BYTES(0xde, 0x00, 0x00), 0, true},
	{BYTES(0xde, 0x00, 0x10), 16, true},
	{BYTES(0xde, 0x01, 0x00), 256, true},
	{BYTES(0xdf, 0x00, 0x00, 0x00, 0x00), 0, true},
	{BYTES(0xdf, 0x00, 0x00, 0x00, 0x02), 2, true},
	{BYTES(0xdf, 0x00, 0x01, 0x00, 0x00), 65536, true},
};

static void test_container_formats(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(containers); i++) {
		const struct container_case *c = &containers[i];
		size_t elems = (size_t)c->n * (c->is_map ? 2 : 1);
		size_t total = c->hlen + elems;
		uint8_t *b = calloc(1, total + 1);
		struct hm_mp r;
		uint32_t n = 0xdead;

		assert_non_null(b);
		memcpy(b, c->hdr, c->hlen);
		/* elements: fixints 0..127 (keys and values alike) */
		for (size_t k = 0; k < elems; k++)
			b[c->hlen + k] = (uint8_t)(k & 0x7f);

		hm_mp_init(&r, b, total);
		assert_int_equal(hm_mp_peek(&r), c->is_map ? HM_MP_MAP : HM_MP_ARRAY);
		/* the other container reader refuses */
		if (c->is_map)
			assert_int_equal(hm_mp_read_array(&r, &n), HM_EMALFORMED);
		else
			assert_int_equal(hm_mp_read_map(&r, &n), HM_EMALFORMED);
		assert_ptr_equal(r.p, b);
		if (c->is_map)
			assert_int_equal(hm_mp_read_map(&r, &n), HM_OK);
		else
			assert_int_equal(hm_mp_read_array(&r, &n), HM_OK);
		assert_int_equal(n, c->n);
		assert_ptr_equal(r.p, b + c->hlen); /* header only */
		for (size_t k = 0; k < elems; k++) {
			uint64_t v;

			assert_int_equal(hm_mp_read_uint(&r, &v), HM_OK);
			assert_int_equal(v, k & 0x7f);
		}
		assert_int_equal(hm_mp_left(&r), 0);

		hm_mp_init(&r, b, total);
		assert_int_equal(hm_mp_skip(&r, 1), HM_OK);
		assert_int_equal(hm_mp_left(&r), 0);

		/* a count that needs more bytes than are left is refused at the header */
		if (elems > 0) {
			hm_mp_init(&r, b, total - 1);
			if (c->is_map)
				assert_int_equal(hm_mp_read_map(&r, &n), HM_EMALFORMED);
			else
				assert_int_equal(hm_mp_read_array(&r, &n), HM_EMALFORMED);
			assert_int_equal(hm_mp_skip(&r, 1), HM_EMALFORMED);
			assert_ptr_equal(r.p, b);
		}
		free(b);
	}
}

/* ---- nil, bool, float, ext, invalid ---- */

static void test_nil_bool(void **state)
{
	static const uint8_t b[] = {0xc0, 0xc2, 0xc3};
	struct hm_mp r;
	uint64_t u;
	bool v = true;

	(void)state;
	hm_mp_init(&r, b, sizeof(b));
	assert_int_equal(hm_mp_peek(&r), HM_MP_NIL);
	assert_int_equal(hm_mp_read_bool(&r, &v), HM_EMALFORMED);
	assert_int_equal(hm_mp_read_uint(&r, &u), HM_EMALFORMED);
	assert_int_equal(hm_mp_read_nil(&r), HM_OK);
	assert_int_equal(hm_mp_peek(&r), HM_MP_BOOL);
	assert_int_equal(hm_mp_read_nil(&r), HM_EMALFORMED);
	assert_int_equal(hm_mp_read_bool(&r, &v), HM_OK);
	assert_false(v);
	assert_int_equal(hm_mp_peek(&r), HM_MP_BOOL);
	assert_int_equal(hm_mp_read_bool(&r, &v), HM_OK);
	assert_true(v);
	assert_int_equal(hm_mp_left(&r), 0);
	/* nothing left: every reader refuses */
	assert_int_equal(hm_mp_peek(&r), HM_MP_INVALID);
	assert_int_equal(hm_mp_read_nil(&r), HM_EMALFORMED);
	assert_int_equal(hm_mp_read_bool(&r, &v), HM_EMALFORMED);

	hm_mp_init(&r, b, sizeof(b));
	for (int i = 0; i < 3; i++)
		assert_int_equal(hm_mp_skip(&r, 0), HM_OK);
	assert_int_equal(hm_mp_left(&r), 0);
	assert_int_equal(hm_mp_skip(&r, 0), HM_EMALFORMED);
}

struct skip_case {
	const uint8_t *b;
	size_t len;
	enum hm_mp_type type;
};

static const struct skip_case skips[] = {
	{BYTES(0xca, 0x3f, 0x80, 0x00, 0x00), HM_MP_FLOAT},                         /* 1.0f */
	{BYTES(0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0), HM_MP_FLOAT},                   /* 1.0 */
	{BYTES(0xd4, 0x01, 0xaa), HM_MP_EXT},                                       /* fixext1 */
	{BYTES(0xd5, 0x01, 0xaa, 0xbb), HM_MP_EXT},                                 /* fixext2 */
	{BYTES(0xd6, 0xff, 1, 2, 3, 4), HM_MP_EXT},                                 /* fixext4 */
	{BYTES(0xd7, 0xff, 1, 2, 3, 4, 5, 6, 7, 8), HM_MP_EXT},                     /* fixext8 */
	{BYTES(0xd8, 0x05, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16), HM_MP_EXT},
	{BYTES(0xc7, 0x00, 0x01), HM_MP_EXT},                                       /* ext8, empty */
	{BYTES(0xc7, 0x03, 0x01, 'a', 'b', 'c'), HM_MP_EXT},                        /* ext8 */
	{BYTES(0xc8, 0x00, 0x02, 0x01, 'a', 'b'), HM_MP_EXT},                       /* ext16 */
	{BYTES(0xc9, 0x00, 0x00, 0x00, 0x01, 0x01, 'a'), HM_MP_EXT},                /* ext32 */
};

static void test_float_ext_skip(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(skips); i++) {
		const struct skip_case *c = &skips[i];
		const uint8_t *s;
		struct hm_mp r;
		size_t len;
		uint64_t u;

		hm_mp_init(&r, c->b, c->len);
		assert_int_equal(hm_mp_peek(&r), c->type);
		/* no typed reader accepts them */
		assert_int_equal(hm_mp_read_uint(&r, &u), HM_EMALFORMED);
		assert_int_equal(hm_mp_read_str(&r, &s, &len), HM_EMALFORMED);
		assert_int_equal(hm_mp_read_bin(&r, &s, &len), HM_EMALFORMED);
		assert_ptr_equal(r.p, c->b);
		assert_int_equal(hm_mp_skip(&r, 0), HM_OK);
		assert_int_equal(hm_mp_left(&r), 0);
		/* every truncation of them fails, cursor unmoved */
		for (size_t cut = 0; cut < c->len; cut++) {
			hm_mp_init(&r, c->b, cut);
			assert_int_equal(hm_mp_skip(&r, HM_MP_MAX_DEPTH), HM_EMALFORMED);
			assert_ptr_equal(r.p, c->b);
		}
	}
}

static void test_invalid_byte(void **state)
{
	static const uint8_t b[] = {0xc1};
	const uint8_t *s;
	struct hm_mp r;
	uint32_t n;
	size_t len;
	uint64_t u;
	bool v;

	(void)state;
	hm_mp_init(&r, b, sizeof(b));
	assert_int_equal(hm_mp_peek(&r), HM_MP_INVALID);
	assert_int_equal(hm_mp_read_nil(&r), HM_EMALFORMED);
	assert_int_equal(hm_mp_read_bool(&r, &v), HM_EMALFORMED);
	assert_int_equal(hm_mp_read_uint(&r, &u), HM_EMALFORMED);
	assert_int_equal(hm_mp_read_str(&r, &s, &len), HM_EMALFORMED);
	assert_int_equal(hm_mp_read_bin(&r, &s, &len), HM_EMALFORMED);
	assert_int_equal(hm_mp_read_array(&r, &n), HM_EMALFORMED);
	assert_int_equal(hm_mp_read_map(&r, &n), HM_EMALFORMED);
	assert_int_equal(hm_mp_skip(&r, HM_MP_MAX_DEPTH), HM_EMALFORMED);
	assert_false(hm_mp_match_str(&r, ""));
	assert_ptr_equal(r.p, b);

	/* a signed-int type byte with no payload cannot even be classified */
	static const uint8_t d0[] = {0xd0};
	hm_mp_init(&r, d0, sizeof(d0));
	assert_int_equal(hm_mp_peek(&r), HM_MP_INVALID);
	assert_int_equal(hm_mp_skip(&r, 0), HM_EMALFORMED);

	/* an empty buffer */
	hm_mp_init(&r, b, 0);
	assert_int_equal(hm_mp_peek(&r), HM_MP_INVALID);
	assert_int_equal(hm_mp_read_uint(&r, &u), HM_EMALFORMED);
	assert_int_equal(hm_mp_read_str(&r, &s, &len), HM_EMALFORMED);
	assert_int_equal(hm_mp_read_array(&r, &n), HM_EMALFORMED);
	assert_int_equal(hm_mp_skip(&r, 0), HM_EMALFORMED);
}

/* ---- truncation at every byte offset ---- */

/*
 * The reader that matches the first byte of the sample; for containers only the header is read
 * by read_array/read_map, so those are checked with hm_mp_skip (below) on whole samples.
 */
static int read_any(struct hm_mp *r)
{
	const uint8_t *s;
	size_t len;
	uint64_t u;
	uint32_t n;
	bool v;

	switch (hm_mp_peek(r)) {
	case HM_MP_NIL:
		return hm_mp_read_nil(r);
	case HM_MP_BOOL:
		return hm_mp_read_bool(r, &v);
	case HM_MP_UINT:
		return hm_mp_read_uint(r, &u);
	case HM_MP_STR:
		return hm_mp_read_str(r, &s, &len);
	case HM_MP_BIN:
		return hm_mp_read_bin(r, &s, &len);
	case HM_MP_ARRAY:
		return hm_mp_read_array(r, &n);
	case HM_MP_MAP:
		return hm_mp_read_map(r, &n);
	default:
		return hm_mp_skip(r, HM_MP_MAX_DEPTH);
	}
}

static const struct bytes_case samples[] = {
	{BYTES(0xcd, 0x12, 0x34)},
	{BYTES(0xce, 0x12, 0x34, 0x56, 0x78)},
	{BYTES(0xcf, 1, 2, 3, 4, 5, 6, 7, 8)},
	{BYTES(0xd1, 0x01, 0x02)},
	{BYTES(0xd3, 0, 0, 0, 0, 0, 0, 0, 9)},
	{BYTES(0xd2, 0xff, 0xff, 0xff, 0xff)},
	{BYTES(0xa5, 'h', 'e', 'l', 'l', 'o')},
	{BYTES(0xd9, 0x03, 'a', 'b', 'c')},
	{BYTES(0xda, 0x00, 0x03, 'a', 'b', 'c')},
	{BYTES(0xdb, 0x00, 0x00, 0x00, 0x03, 'a', 'b', 'c')},
	{BYTES(0xc4, 0x02, 0x00, 0xff)},
	{BYTES(0xc5, 0x00, 0x02, 0x00, 0xff)},
	{BYTES(0xc6, 0x00, 0x00, 0x00, 0x02, 0x00, 0xff)},
	{BYTES(0x92, 0x01, 0x02)},
	{BYTES(0xdc, 0x00, 0x02, 0x01, 0x02)},
	{BYTES(0xdd, 0x00, 0x00, 0x00, 0x02, 0x01, 0x02)},
	{BYTES(0x81, 0xa1, 'k', 0x01)},
	{BYTES(0xde, 0x00, 0x01, 0xa1, 'k', 0x01)},
	{BYTES(0xdf, 0x00, 0x00, 0x00, 0x01, 0xa1, 'k', 0x01)},
	/* a nested sample: {"a": [1, "xyz", bin(2), {"b": nil}, 1.0f], "c": true} */
	{BYTES(0x82, 0xa1, 'a', 0x95, 0x01, 0xa3, 'x', 'y', 'z', 0xc4, 0x02, 0xde, 0xad, 0x81,
	       0xa1, 'b', 0xc0, 0xca, 0x3f, 0x80, 0, 0, 0xa1, 'c', 0xc3)},
};

static void test_truncation_every_offset(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(samples); i++) {
		const struct bytes_case *c = &samples[i];
		struct hm_mp r;

		/* whole: readable and skippable to the end */
		hm_mp_init(&r, c->b, c->len);
		assert_int_equal(hm_mp_skip(&r, HM_MP_MAX_DEPTH), HM_OK);
		assert_int_equal(hm_mp_left(&r), 0);
		for (size_t cut = 0; cut < c->len; cut++) {
			hm_mp_init(&r, c->b, cut);
			assert_int_equal(hm_mp_skip(&r, HM_MP_MAX_DEPTH), HM_EMALFORMED);
			assert_ptr_equal(r.p, c->b);
			if (hm_mp_peek(&r) != HM_MP_ARRAY && hm_mp_peek(&r) != HM_MP_MAP) {
				assert_int_equal(read_any(&r), HM_EMALFORMED);
				assert_ptr_equal(r.p, c->b);
			}
		}
	}
}

/* Every typed reader except the one for the value's own type refuses it and leaves the cursor. */
static void check_other_readers_refuse(const uint8_t *b, size_t len)
{
	enum hm_mp_type t;
	const uint8_t *s;
	struct hm_mp r;
	size_t slen;
	uint64_t u;
	uint32_t n;
	bool v;

	hm_mp_init(&r, b, len);
	t = hm_mp_peek(&r);
	if (t != HM_MP_NIL)
		assert_int_equal(hm_mp_read_nil(&r), HM_EMALFORMED);
	if (t != HM_MP_BOOL)
		assert_int_equal(hm_mp_read_bool(&r, &v), HM_EMALFORMED);
	if (t != HM_MP_UINT)
		assert_int_equal(hm_mp_read_uint(&r, &u), HM_EMALFORMED);
	if (t != HM_MP_STR)
		assert_int_equal(hm_mp_read_str(&r, &s, &slen), HM_EMALFORMED);
	if (t != HM_MP_BIN)
		assert_int_equal(hm_mp_read_bin(&r, &s, &slen), HM_EMALFORMED);
	if (t != HM_MP_ARRAY)
		assert_int_equal(hm_mp_read_array(&r, &n), HM_EMALFORMED);
	if (t != HM_MP_MAP)
		assert_int_equal(hm_mp_read_map(&r, &n), HM_EMALFORMED);
	if (t != HM_MP_STR)
		assert_false(hm_mp_match_str(&r, ""));
	assert_ptr_equal(r.p, b);
	/* and the value's own reader (or skip) takes it whole */
	assert_int_equal(hm_mp_skip(&r, HM_MP_MAX_DEPTH), HM_OK);
	assert_int_equal(hm_mp_left(&r), 0);
}

static const struct bytes_case more[] = {
	{BYTES(0xc0)}, {BYTES(0xc2)}, {BYTES(0xc3)}, {BYTES(0x90)}, {BYTES(0x80)},
	{BYTES(0xdc, 0x00, 0x00)}, {BYTES(0xdd, 0x00, 0x00, 0x00, 0x00)},
	{BYTES(0xde, 0x00, 0x00)}, {BYTES(0xdf, 0x00, 0x00, 0x00, 0x00)},
	{BYTES(0xdc, 0x00, 0x02, 0x01, 0x02)}, {BYTES(0xa0)}, {BYTES(0xc4, 0x00)},
};

static void test_readers_refuse_other_types(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(uints); i++)
		check_other_readers_refuse(uints[i].b, uints[i].len);
	for (size_t i = 0; i < ARRAY_LEN(nints); i++)
		check_other_readers_refuse(nints[i].b, nints[i].len);
	for (size_t i = 0; i < ARRAY_LEN(skips); i++)
		check_other_readers_refuse(skips[i].b, skips[i].len);
	for (size_t i = 0; i < ARRAY_LEN(samples); i++)
		check_other_readers_refuse(samples[i].b, samples[i].len);
	for (size_t i = 0; i < ARRAY_LEN(more); i++)
		check_other_readers_refuse(more[i].b, more[i].len);
}

/*
 * Every one of the 256 type bytes, followed by zeros (so every length and count is 0 and every
 * fixed payload is there): its type, which reader takes it, and how many bytes it spans.
 */
static enum hm_mp_type type_of(unsigned c)
{
	if (c <= 0x7f || (c >= 0xcc && c <= 0xd3))
		return HM_MP_UINT;
	if (c <= 0x8f || c == 0xde || c == 0xdf)
		return HM_MP_MAP;
	if (c <= 0x9f || c == 0xdc || c == 0xdd)
		return HM_MP_ARRAY;
	if (c <= 0xbf || (c >= 0xd9 && c <= 0xdb))
		return HM_MP_STR;
	if (c >= 0xe0)
		return HM_MP_NINT;
	if (c == 0xc0)
		return HM_MP_NIL;
	if (c == 0xc2 || c == 0xc3)
		return HM_MP_BOOL;
	if (c >= 0xc4 && c <= 0xc6)
		return HM_MP_BIN;
	if (c == 0xca || c == 0xcb)
		return HM_MP_FLOAT;
	if ((c >= 0xc7 && c <= 0xc9) || (c >= 0xd4 && c <= 0xd8))
		return HM_MP_EXT;
	return HM_MP_INVALID; /* 0xc1 */
}

static size_t span_of(unsigned c)
{
	static const struct {
		uint8_t c;
		uint8_t span;
	} spans[] = {
		{0xc4, 2}, {0xc5, 3}, {0xc6, 5}, {0xc7, 3}, {0xc8, 4}, {0xc9, 6}, {0xca, 5},
		{0xcb, 9}, {0xcc, 2}, {0xcd, 3}, {0xce, 5}, {0xcf, 9}, {0xd0, 2}, {0xd1, 3},
		{0xd2, 5}, {0xd3, 9}, {0xd4, 3}, {0xd5, 4}, {0xd6, 6}, {0xd7, 10}, {0xd8, 18},
		{0xd9, 2}, {0xda, 3}, {0xdb, 5}, {0xdc, 3}, {0xdd, 5}, {0xde, 3}, {0xdf, 5},
	};

	if (c >= 0x80 && c <= 0x8f)
		return 1 + 2 * (c & 0x0f);
	if (c >= 0x90 && c <= 0xbf)
		return 1 + (c & (c >= 0xa0 ? 0x1f : 0x0f));
	for (size_t i = 0; i < ARRAY_LEN(spans); i++)
		if (spans[i].c == c)
			return spans[i].span;
	return 1;
}

static void test_every_type_byte(void **state)
{
	uint8_t b[64];

	(void)state;
	for (unsigned c = 0; c < 256; c++) {
		enum hm_mp_type t = type_of(c);
		const uint8_t *s;
		struct hm_mp r;
		size_t len;
		uint64_t u;
		uint32_t n;
		bool v;

		memset(b, 0, sizeof(b));
		b[0] = (uint8_t)c;
		hm_mp_init(&r, b, sizeof(b));
		if (hm_mp_peek(&r) != t)
			fail_msg("type byte 0x%02x: peek %d, expected %d", c, hm_mp_peek(&r), t);
		assert_int_equal(hm_mp_read_nil(&r) == HM_OK, t == HM_MP_NIL);
		hm_mp_init(&r, b, sizeof(b));
		assert_int_equal(hm_mp_read_bool(&r, &v) == HM_OK, t == HM_MP_BOOL);
		hm_mp_init(&r, b, sizeof(b));
		assert_int_equal(hm_mp_read_uint(&r, &u) == HM_OK, t == HM_MP_UINT);
		if (t == HM_MP_UINT)
			assert_true(u == (c <= 0x7f ? c : 0));
		hm_mp_init(&r, b, sizeof(b));
		assert_int_equal(hm_mp_read_str(&r, &s, &len) == HM_OK, t == HM_MP_STR);
		hm_mp_init(&r, b, sizeof(b));
		assert_int_equal(hm_mp_read_bin(&r, &s, &len) == HM_OK, t == HM_MP_BIN);
		hm_mp_init(&r, b, sizeof(b));
		assert_int_equal(hm_mp_read_array(&r, &n) == HM_OK, t == HM_MP_ARRAY);
		hm_mp_init(&r, b, sizeof(b));
		assert_int_equal(hm_mp_read_map(&r, &n) == HM_OK, t == HM_MP_MAP);
		hm_mp_init(&r, b, sizeof(b));
		if (t == HM_MP_INVALID) {
			assert_int_equal(hm_mp_skip(&r, 1), HM_EMALFORMED);
			continue;
		}
		assert_int_equal(hm_mp_skip(&r, 1), HM_OK);
		if ((size_t)(r.p - b) != span_of(c))
			fail_msg("type byte 0x%02x: skip spans %zu, expected %zu", c,
				 (size_t)(r.p - b), span_of(c));
	}
}

/* ---- hostile lengths ---- */

static const struct bytes_case traps[] = {
	{BYTES(0xdd, 0xff, 0x00, 0x00, 0x00)}, /* array32 of ~4.3e9: msgpack-c reserves ~69 GB */
	{BYTES(0xdd, 0xff, 0xff, 0xff, 0xff)},
	{BYTES(0xdf, 0xff, 0xff, 0xff, 0xff)}, /* map32 of 2^32-1 pairs */
	{BYTES(0xdb, 0xff, 0xff, 0xff, 0xff)}, /* str32 of 4 GiB */
	{BYTES(0xc6, 0xff, 0xff, 0xff, 0xff)}, /* bin32 of 4 GiB */
	{BYTES(0xc9, 0xff, 0xff, 0xff, 0xff, 0x01)}, /* ext32 of 4 GiB */
	{BYTES(0xdc, 0xff, 0xff)},             /* array16 of 65535 */
	{BYTES(0xde, 0xff, 0xff)},             /* map16 of 65535 */
	{BYTES(0xda, 0xff, 0xff)},             /* str16 of 65535 */
	{BYTES(0xc5, 0xff, 0xff)},             /* bin16 of 65535 */
	{BYTES(0xd9, 0xff)},                   /* str8 of 255 */
	{BYTES(0x9f)},                         /* fixarray of 15 with nothing */
	{BYTES(0x8f)},                         /* fixmap of 15 with nothing */
};

/* the same one level down: the outer header is honest, so only hm_mp_skip sees the lie */
static const struct bytes_case nested_traps[] = {
	{BYTES(0x91, 0xdd, 0xff, 0x00, 0x00, 0x00)},
	{BYTES(0x91, 0xdf, 0xff, 0xff, 0xff, 0xff)},
	{BYTES(0x81, 0xa1, 'k', 0xdb, 0xff, 0xff, 0xff, 0xff)},
	{BYTES(0x92, 0x01, 0xc6, 0xff, 0xff, 0xff, 0xff)},
};

static void test_hostile_lengths(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(traps); i++) {
		struct hm_mp r;

		hm_mp_init(&r, traps[i].b, traps[i].len);
		assert_int_equal(read_any(&r), HM_EMALFORMED);
		assert_ptr_equal(r.p, traps[i].b);
		assert_int_equal(hm_mp_skip(&r, HM_MP_MAX_DEPTH), HM_EMALFORMED);
		assert_ptr_equal(r.p, traps[i].b);
	}
	for (size_t i = 0; i < ARRAY_LEN(nested_traps); i++) {
		struct hm_mp r;

		hm_mp_init(&r, nested_traps[i].b, nested_traps[i].len);
		assert_int_equal(hm_mp_skip(&r, HM_MP_MAX_DEPTH), HM_EMALFORMED);
		assert_ptr_equal(r.p, nested_traps[i].b);
	}
}

/*
 * The same headers followed by 1 MiB of one-byte elements: the count is still far larger than
 * what is left, so it is refused by comparison, not by running out of bytes element by element.
 */
static void test_hostile_lengths_with_padding(void **state)
{
	size_t pad = 1u << 20, total = 5 + pad;
	uint8_t *b = calloc(1, total);
	struct hm_mp r;
	uint32_t n;

	(void)state;
	assert_non_null(b);
	memcpy(b, (const uint8_t[]){0xdd, 0xff, 0x00, 0x00, 0x00}, 5);
	hm_mp_init(&r, b, total);
	assert_int_equal(hm_mp_read_array(&r, &n), HM_EMALFORMED);
	assert_int_equal(hm_mp_skip(&r, HM_MP_MAX_DEPTH), HM_EMALFORMED);
	assert_ptr_equal(r.p, b);

	b[0] = 0xdf;
	assert_int_equal(hm_mp_read_map(&r, &n), HM_EMALFORMED);
	assert_int_equal(hm_mp_skip(&r, HM_MP_MAX_DEPTH), HM_EMALFORMED);

	/* a map of 2^19 + 1 pairs needs 2^20 + 2 bytes: one pair too many */
	memcpy(b, (const uint8_t[]){0xdf, 0x00, 0x08, 0x00, 0x01}, 5);
	assert_int_equal(hm_mp_read_map(&r, &n), HM_EMALFORMED);

	/* and the honest array of 2^20 zeros is read and skipped in full */
	memcpy(b, (const uint8_t[]){0xdd, 0x00, 0x10, 0x00, 0x00}, 5);
	assert_int_equal(hm_mp_read_array(&r, &n), HM_OK);
	assert_int_equal(n, 1u << 20);
	hm_mp_init(&r, b, total);
	assert_int_equal(hm_mp_skip(&r, 1), HM_OK);
	assert_int_equal(hm_mp_left(&r), 0);

	/* as is the honest map of 2^19 pairs */
	memcpy(b, (const uint8_t[]){0xdf, 0x00, 0x08, 0x00, 0x00}, 5);
	hm_mp_init(&r, b, total);
	assert_int_equal(hm_mp_read_map(&r, &n), HM_OK);
	assert_int_equal(n, 1u << 19);
	free(b);
}

/* ---- nesting depth ---- */

/* `levels` nested containers around a fixint: arrays, maps ({"k": ...}) or alternating. */
static uint8_t *nest(size_t levels, int kind, size_t *len)
{
	uint8_t *b = malloc(levels * 3 + 1), *p = b;

	assert_non_null(b);
	for (size_t i = 0; i < levels; i++) {
		bool map = kind == 1 || (kind == 2 && i % 2 == 1);

		if (map) {
			*p++ = 0x81;
			*p++ = 0xa1;
			*p++ = 'k';
		} else {
			*p++ = 0x91;
		}
	}
	*p++ = 0x07;
	*len = (size_t)(p - b);
	return b;
}

static void test_depth_limit(void **state)
{
	(void)state;
	for (int kind = 0; kind < 3; kind++) {
		for (size_t levels = 0; levels <= HM_MP_MAX_DEPTH + 2; levels++) {
			size_t len;
			uint8_t *b = nest(levels, kind, &len);
			struct hm_mp r;
			int want = levels <= HM_MP_MAX_DEPTH ? HM_OK : HM_EMALFORMED;

			hm_mp_init(&r, b, len);
			assert_int_equal(hm_mp_skip(&r, HM_MP_MAX_DEPTH), want);
			if (want == HM_OK)
				assert_int_equal(hm_mp_left(&r), 0);
			else
				assert_ptr_equal(r.p, b);
			/* the depth argument is the limit: exactly `levels` is needed */
			hm_mp_init(&r, b, len);
			assert_int_equal(hm_mp_skip(&r, (unsigned)levels), HM_OK);
			if (levels > 0) {
				hm_mp_init(&r, b, len);
				assert_int_equal(hm_mp_skip(&r, (unsigned)levels - 1), HM_EMALFORMED);
				assert_ptr_equal(r.p, b);
			}
			free(b);
		}
	}
}

/* A million nested arrays: refused without recursing a million times. */
static void test_depth_bomb(void **state)
{
	size_t len = 1000000;
	uint8_t *b = malloc(len);
	struct hm_mp r;

	(void)state;
	assert_non_null(b);
	memset(b, 0x91, len);
	hm_mp_init(&r, b, len);
	assert_int_equal(hm_mp_skip(&r, HM_MP_MAX_DEPTH), HM_EMALFORMED);
	assert_ptr_equal(r.p, b);
	/* empty containers at the limit are fine: depth counts containers, not elements */
	memset(b, 0x91, HM_MP_MAX_DEPTH - 1);
	b[HM_MP_MAX_DEPTH - 1] = 0x90;
	hm_mp_init(&r, b, HM_MP_MAX_DEPTH);
	assert_int_equal(hm_mp_skip(&r, HM_MP_MAX_DEPTH), HM_OK);
	assert_int_equal(hm_mp_left(&r), 0);
	free(b);
}

/* ---- hm_mp_match_str ---- */

static void test_match_str(void **state)
{
	static const uint8_t abc[] = {0xa3, 'a', 'b', 'c', 0x01};
	static const uint8_t abc8[] = {0xd9, 0x03, 'a', 'b', 'c'};
	static const uint8_t abc16[] = {0xda, 0x00, 0x03, 'a', 'b', 'c'};
	static const uint8_t binabc[] = {0xc4, 0x03, 'a', 'b', 'c'};
	static const uint8_t empty[] = {0xa0};
	static const uint8_t trunc[] = {0xa3, 'a', 'b'};
	static const uint8_t nul[] = {0xa4, 'a', 'b', 'c', 0x00};
	static const uint8_t one[] = {0x01};
	struct hm_mp r;
	uint64_t u;

	(void)state;
	hm_mp_init(&r, abc, sizeof(abc));
	assert_false(hm_mp_match_str(&r, "ab"));
	assert_ptr_equal(r.p, abc);
	assert_false(hm_mp_match_str(&r, "abcd"));
	assert_false(hm_mp_match_str(&r, "abd"));
	assert_false(hm_mp_match_str(&r, "ABC"));
	assert_false(hm_mp_match_str(&r, ""));
	assert_ptr_equal(r.p, abc);
	assert_true(hm_mp_match_str(&r, "abc"));
	assert_ptr_equal(r.p, abc + 4);
	assert_int_equal(hm_mp_read_uint(&r, &u), HM_OK);
	assert_int_equal(u, 1);

	/* any str format matches */
	hm_mp_init(&r, abc8, sizeof(abc8));
	assert_true(hm_mp_match_str(&r, "abc"));
	assert_int_equal(hm_mp_left(&r), 0);
	hm_mp_init(&r, abc16, sizeof(abc16));
	assert_true(hm_mp_match_str(&r, "abc"));
	assert_int_equal(hm_mp_left(&r), 0);

	/* bin with the same bytes is not a str */
	hm_mp_init(&r, binabc, sizeof(binabc));
	assert_false(hm_mp_match_str(&r, "abc"));
	assert_ptr_equal(r.p, binabc);

	hm_mp_init(&r, empty, sizeof(empty));
	assert_false(hm_mp_match_str(&r, "a"));
	assert_true(hm_mp_match_str(&r, ""));
	assert_int_equal(hm_mp_left(&r), 0);

	hm_mp_init(&r, trunc, sizeof(trunc));
	assert_false(hm_mp_match_str(&r, "ab"));
	assert_false(hm_mp_match_str(&r, "abc"));
	assert_ptr_equal(r.p, trunc);

	/* an embedded NUL is compared as a byte: "abc\0" is not "abc" */
	hm_mp_init(&r, nul, sizeof(nul));
	assert_false(hm_mp_match_str(&r, "abc"));
	assert_ptr_equal(r.p, nul);

	hm_mp_init(&r, one, sizeof(one));
	assert_false(hm_mp_match_str(&r, ""));
	assert_ptr_equal(r.p, one);

	hm_mp_init(&r, one, 0);
	assert_false(hm_mp_match_str(&r, ""));
}

/* ---- cross-check against msgpack-c's packer ---- */

/* xorshift64*: deterministic, so a pack pass and a read pass see the same choices. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1Dull;
}

static size_t rnd_len(uint64_t *s)
{
	static const size_t edges[] = {0, 1, 15, 16, 31, 32, 33, 255, 256, 65535, 65536, 70000};

	if (rnd(s) % 4 == 0)
		return edges[rnd(s) % ARRAY_LEN(edges)];
	return (size_t)(rnd(s) % 40);
}

static uint64_t rnd_uint(uint64_t *s)
{
	switch (rnd(s) % 5) {
	case 0:
		return rnd(s) % 128;
	case 1:
		return rnd(s) % 256;
	case 2:
		return rnd(s) % 65536;
	case 3:
		return rnd(s) % (1ull << 32);
	default:
		return rnd(s);
	}
}

/*
 * One random value. With pk != NULL it is packed; with pk == NULL it is read from r and every
 * read is checked against what was packed. Both passes draw the same numbers in the same order.
 */
static void gen(uint64_t *s, msgpack_packer *pk, struct hm_mp *r, unsigned depth)
{
	unsigned kind = (unsigned)(rnd(s) % (depth > 0 ? 12 : 9));
	uint64_t u, got;
	int64_t neg;
	size_t len, glen;
	const uint8_t *p;
	uint8_t *buf;
	uint32_t n;
	bool flag;

	switch (kind) {
	case 0: /* uint, smallest format */
		u = rnd_uint(s);
		if (pk) {
			msgpack_pack_uint64(pk, u);
			return;
		}
		assert_int_equal(hm_mp_peek(r), HM_MP_UINT);
		assert_int_equal(hm_mp_read_uint(r, &got), HM_OK);
		assert_true(got == u);
		return;
	case 1: /* non-negative value in a forced width, unsigned or signed */
		u = rnd(s);
		switch (rnd(s) % 8) {
		case 0:
			u %= 256;
			if (pk)
				msgpack_pack_fix_uint8(pk, (uint8_t)u);
			break;
		case 1:
			u %= 65536;
			if (pk)
				msgpack_pack_fix_uint16(pk, (uint16_t)u);
			break;
		case 2:
			u %= 1ull << 32;
			if (pk)
				msgpack_pack_fix_uint32(pk, (uint32_t)u);
			break;
		case 3:
			if (pk)
				msgpack_pack_fix_uint64(pk, u);
			break;
		case 4:
			u %= 128;
			if (pk)
				msgpack_pack_fix_int8(pk, (int8_t)u);
			break;
		case 5:
			u %= 32768;
			if (pk)
				msgpack_pack_fix_int16(pk, (int16_t)u);
			break;
		case 6:
			u %= 1ull << 31;
			if (pk)
				msgpack_pack_fix_int32(pk, (int32_t)u);
			break;
		default:
			u >>= 1;
			if (pk)
				msgpack_pack_fix_int64(pk, (int64_t)u);
			break;
		}
		if (pk)
			return;
		assert_int_equal(hm_mp_peek(r), HM_MP_UINT);
		assert_int_equal(hm_mp_read_uint(r, &got), HM_OK);
		assert_true(got == u);
		return;
	case 2: /* negative */
		u = rnd(s);
		u >>= 1 + rnd(s) % 63;
		neg = -(int64_t)u - 1;
		if (pk) {
			msgpack_pack_int64(pk, neg);
			return;
		}
		assert_int_equal(hm_mp_peek(r), HM_MP_NINT);
		p = r->p;
		assert_int_equal(hm_mp_read_uint(r, &got), HM_EMALFORMED);
		assert_ptr_equal(r->p, p);
		assert_int_equal(hm_mp_skip(r, 0), HM_OK);
		return;
	case 3: /* str */
	case 4: /* bin */
		len = rnd_len(s);
		buf = malloc(len + 1);
		assert_non_null(buf);
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)rnd(s);
		if (pk && kind == 3) {
			msgpack_pack_str(pk, len);
			msgpack_pack_str_body(pk, buf, len);
		} else if (pk) {
			msgpack_pack_bin(pk, len);
			msgpack_pack_bin_body(pk, buf, len);
		} else {
			assert_int_equal(hm_mp_peek(r), kind == 3 ? HM_MP_STR : HM_MP_BIN);
			if (kind == 3)
				assert_int_equal(hm_mp_read_str(r, &p, &glen), HM_OK);
			else
				assert_int_equal(hm_mp_read_bin(r, &p, &glen), HM_OK);
			assert_int_equal(glen, len);
			assert_memory_equal(p, buf, len);
		}
		free(buf);
		return;
	case 5: /* nil */
		if (pk) {
			msgpack_pack_nil(pk);
			return;
		}
		assert_int_equal(hm_mp_read_nil(r), HM_OK);
		return;
	case 6: /* bool */
		flag = rnd(s) & 1;
		if (pk) {
			if (flag)
				msgpack_pack_true(pk);
			else
				msgpack_pack_false(pk);
			return;
		}
		{
			bool got_flag = !flag;

			assert_int_equal(hm_mp_read_bool(r, &got_flag), HM_OK);
			assert_true(got_flag == flag);
		}
		return;
	case 7: /* float / double: skipped */
		u = rnd(s);
		if (pk) {
			if (u & 1)
				msgpack_pack_float(pk, (float)(u >> 40));
			else
				msgpack_pack_double(pk, (double)(u >> 11));
			return;
		}
		assert_int_equal(hm_mp_peek(r), HM_MP_FLOAT);
		assert_int_equal(hm_mp_skip(r, 0), HM_OK);
		return;
	case 8: /* ext of any length: skipped */
		len = rnd_len(s);
		if (pk) {
			uint8_t *body = calloc(1, len + 1);

			assert_non_null(body);
			msgpack_pack_ext(pk, len, (int8_t)(rnd(s) % 100));
			msgpack_pack_ext_body(pk, body, len);
			free(body);
			return;
		}
		(void)rnd(s);
		assert_int_equal(hm_mp_peek(r), HM_MP_EXT);
		assert_int_equal(hm_mp_skip(r, 0), HM_OK);
		return;
	case 9: /* array */
	case 10: /* map */
	default:
		n = (uint32_t)(rnd(s) % 8 == 0 ? 16 + rnd(s) % 3 : rnd(s) % 6);
		if (pk) {
			if (kind == 9)
				msgpack_pack_array(pk, n);
			else
				msgpack_pack_map(pk, n);
		} else {
			uint32_t got_n;

			if (kind == 9) {
				assert_int_equal(hm_mp_peek(r), HM_MP_ARRAY);
				assert_int_equal(hm_mp_read_array(r, &got_n), HM_OK);
			} else {
				assert_int_equal(hm_mp_peek(r), HM_MP_MAP);
				assert_int_equal(hm_mp_read_map(r, &got_n), HM_OK);
			}
			assert_int_equal(got_n, n);
		}
		for (uint32_t i = 0; i < (kind == 9 ? n : 2 * n); i++)
			gen(s, pk, r, depth - 1);
		return;
	}
}

static void test_msgpack_c_cross_check(void **state)
{
	size_t total = 0, containers_seen = 0;

	(void)state;
	for (uint64_t seed = 1; seed <= 400; seed++) {
		msgpack_sbuffer sb;
		msgpack_packer pk;
		struct hm_mp r;
		enum hm_mp_type top;
		uint64_t s = seed * 0x9E3779B97F4A7C15ull;

		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		gen(&s, &pk, NULL, 5);
		total += sb.size;
		hm_mp_init(&r, (const uint8_t *)sb.data, sb.size);
		top = hm_mp_peek(&r);
		if (top == HM_MP_ARRAY || top == HM_MP_MAP)
			containers_seen++;

		/* read back value by value */
		s = seed * 0x9E3779B97F4A7C15ull;
		hm_mp_init(&r, (const uint8_t *)sb.data, sb.size);
		gen(&s, NULL, &r, 5);
		assert_int_equal(hm_mp_left(&r), 0);

		/* skip agrees on the extent of the whole value */
		hm_mp_init(&r, (const uint8_t *)sb.data, sb.size);
		assert_int_equal(hm_mp_skip(&r, HM_MP_MAX_DEPTH), HM_OK);
		assert_int_equal(hm_mp_left(&r), 0);

		/* and every truncation of it is refused without moving */
		if (sb.size < 2048) {
			for (size_t cut = 0; cut < sb.size; cut++) {
				hm_mp_init(&r, (const uint8_t *)sb.data, cut);
				assert_int_equal(hm_mp_skip(&r, HM_MP_MAX_DEPTH), HM_EMALFORMED);
				assert_ptr_equal(r.p, (const uint8_t *)sb.data);
			}
		}
		msgpack_sbuffer_destroy(&sb);
	}
	/* the generator really produced big and nested values, not just scalars */
	print_message("cross-check: %zu bytes, %zu containers at top level\n", total,
		      containers_seen);
	assert_true(total > 100000);
	assert_true(containers_seen > 50);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uint_formats),
		cmocka_unit_test(test_negative_rejected),
		cmocka_unit_test(test_str_formats),
		cmocka_unit_test(test_bin_formats),
		cmocka_unit_test(test_container_formats),
		cmocka_unit_test(test_nil_bool),
		cmocka_unit_test(test_float_ext_skip),
		cmocka_unit_test(test_invalid_byte),
		cmocka_unit_test(test_truncation_every_offset),
		cmocka_unit_test(test_every_type_byte),
		cmocka_unit_test(test_readers_refuse_other_types),
		cmocka_unit_test(test_hostile_lengths),
		cmocka_unit_test(test_hostile_lengths_with_padding),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_depth_bomb),
		cmocka_unit_test(test_match_str),
		cmocka_unit_test(test_msgpack_c_cross_check),
	};

	return cmocka_run_group_tests_name("mpack", tests, NULL, NULL);
}
