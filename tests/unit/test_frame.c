/*
 * test_frame.c - unit tests of the length-prefix frame codec (proto/frame.c).
 *
 * hm_frame_parse() is a pure function of bytes, so every case is a byte array and the expected
 * (code, payload_len, frame_len). The limit must bite on the 4 header bytes alone: a caller must
 * be able to close the connection before a single payload byte is buffered.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/frame.h"

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Fewer than 4 bytes: need more, and both outputs are 0 (poisoned first to prove it). */
static void test_need_more_header(void **state)
{
	static const uint8_t hdr[4] = {0x00, 0x00, 0x00, 0x05};
	uint32_t plen;
	size_t flen;

	(void)state;
	for (size_t len = 0; len < HM_FRAME_HEADER; len++) {
		plen = 0xdeadbeef;
		flen = 12345;
		assert_int_equal(hm_frame_parse(hdr, len, HM_FRAME_DEFAULT_MAX, &plen, &flen),
				 HM_EAGAIN);
		assert_int_equal(plen, 0);
		assert_int_equal(flen, 0);
	}
	/* even a NULL buffer of length 0 is fine: nothing is read */
	assert_int_equal(hm_frame_parse(NULL, 0, HM_FRAME_DEFAULT_MAX, &plen, &flen), HM_EAGAIN);
}

/* Header complete, payload partial: need more, and the announced length is reported. */
static void test_need_more_payload(void **state)
{
	uint8_t buf[4 + 10];
	uint32_t plen;
	size_t flen;

	(void)state;
	memset(buf, 0xaa, sizeof(buf));
	put_be32(buf, 10);
	for (size_t len = HM_FRAME_HEADER; len < sizeof(buf); len++) {
		assert_int_equal(hm_frame_parse(buf, len, HM_FRAME_DEFAULT_MAX, &plen, &flen),
				 HM_EAGAIN);
		assert_int_equal(plen, 10);
		assert_int_equal(flen, 0);
	}
}

static void test_exact_frame(void **state)
{
	uint8_t buf[4 + 3] = {0, 0, 0, 3, 0x81, 0xa1, 0x61};
	uint32_t plen;
	size_t flen;

	(void)state;
	assert_int_equal(hm_frame_parse(buf, sizeof(buf), HM_FRAME_DEFAULT_MAX, &plen, &flen),
			 HM_OK);
	assert_int_equal(plen, 3);
	assert_int_equal(flen, 7);
}

/* Two frames back to back, then a partial third: parse, consume, parse again. */
static void test_frame_then_next(void **state)
{
	uint8_t buf[64];
	size_t off = 0, len = 0;
	uint32_t plen;
	size_t flen;

	(void)state;
	put_be32(buf + len, 2);
	len += 4;
	buf[len++] = 0xc3;
	buf[len++] = 0xc2;
	put_be32(buf + len, 1);
	len += 4;
	buf[len++] = 0xc0;
	put_be32(buf + len, 9);
	len += 4;
	buf[len++] = 0x01; /* 1 of 9 payload bytes */

	assert_int_equal(hm_frame_parse(buf + off, len - off, 100, &plen, &flen), HM_OK);
	assert_int_equal(plen, 2);
	assert_int_equal(flen, 6);
	assert_int_equal(buf[off + HM_FRAME_HEADER], 0xc3);
	off += flen;

	assert_int_equal(hm_frame_parse(buf + off, len - off, 100, &plen, &flen), HM_OK);
	assert_int_equal(plen, 1);
	assert_int_equal(flen, 5);
	assert_int_equal(buf[off + HM_FRAME_HEADER], 0xc0);
	off += flen;

	assert_int_equal(hm_frame_parse(buf + off, len - off, 100, &plen, &flen), HM_EAGAIN);
	assert_int_equal(plen, 9);
	assert_int_equal(flen, 0);
}

/* A zero-length payload is a complete frame of 4 bytes (msgpack decoding rejects it later). */
static void test_zero_length(void **state)
{
	static const uint8_t buf[4] = {0, 0, 0, 0};
	uint32_t plen = 99;
	size_t flen = 99;

	(void)state;
	assert_int_equal(hm_frame_parse(buf, sizeof(buf), HM_FRAME_DEFAULT_MAX, &plen, &flen),
			 HM_OK);
	assert_int_equal(plen, 0);
	assert_int_equal(flen, HM_FRAME_HEADER);
	/* with max 0, an empty frame is still within the limit */
	assert_int_equal(hm_frame_parse(buf, sizeof(buf), 0, &plen, &flen), HM_OK);
}

/* == max is accepted; max + 1 is refused from the 4 header bytes alone. */
static void test_max_boundary(void **state)
{
	static const uint32_t maxes[] = {0, 1, 1024, HM_FRAME_DEFAULT_MAX, HM_FRAME_MAX_MAX,
					 UINT32_MAX - 1};
	uint8_t hdr[4];
	uint32_t plen;
	size_t flen;

	(void)state;
	for (size_t i = 0; i < sizeof(maxes) / sizeof(maxes[0]); i++) {
		uint32_t max = maxes[i];

		put_be32(hdr, max);
		assert_int_equal(hm_frame_parse(hdr, sizeof(hdr), max, &plen, &flen),
				 max == 0 ? HM_OK : HM_EAGAIN);
		assert_int_equal(plen, max);

		put_be32(hdr, max + 1);
		plen = 7;
		flen = 7;
		assert_int_equal(hm_frame_parse(hdr, sizeof(hdr), max, &plen, &flen), HM_ETOOBIG);
		assert_int_equal(flen, 0);
		assert_int_equal(plen, (uint64_t)max + 1); /* the announced length, for logs */
	}
	/* the largest possible announcement under the default limit */
	put_be32(hdr, UINT32_MAX);
	assert_int_equal(hm_frame_parse(hdr, sizeof(hdr), HM_FRAME_DEFAULT_MAX, &plen, &flen),
			 HM_ETOOBIG);
	/* ... and a limit of UINT32_MAX lets it through as need-more */
	assert_int_equal(hm_frame_parse(hdr, sizeof(hdr), UINT32_MAX, &plen, &flen), HM_EAGAIN);
	assert_int_equal(plen, UINT32_MAX);
}

/* A whole frame of exactly max bytes parses OK. */
static void test_max_exact_frame(void **state)
{
	uint8_t buf[4 + 1024];
	uint32_t plen;
	size_t flen;

	(void)state;
	memset(buf, 0x5a, sizeof(buf));
	put_be32(buf, 1024);
	assert_int_equal(hm_frame_parse(buf, sizeof(buf), 1024, &plen, &flen), HM_OK);
	assert_int_equal(plen, 1024);
	assert_int_equal(flen, sizeof(buf));
	assert_int_equal(hm_frame_parse(buf, sizeof(buf), 1023, &plen, &flen), HM_ETOOBIG);
}

/* Header encoding is big-endian and parses back to the same length. */
static void test_header_round_trip(void **state)
{
	static const uint32_t lens[] = {0, 1, 0x7f, 0x80, 0xff, 0x100, 0x1234, 0xffff, 0x10000,
					0x123456, 0x01020304, HM_FRAME_DEFAULT_MAX, 0xfffffffe,
					UINT32_MAX};
	uint8_t hdr[HM_FRAME_HEADER];
	uint32_t plen;
	size_t flen;

	(void)state;
	hm_frame_put_header(hdr, 0x01020304);
	assert_int_equal(hdr[0], 1);
	assert_int_equal(hdr[1], 2);
	assert_int_equal(hdr[2], 3);
	assert_int_equal(hdr[3], 4);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint8_t want[4];

		put_be32(want, lens[i]);
		hm_frame_put_header(hdr, lens[i]);
		assert_memory_equal(hdr, want, 4);
		assert_int_equal(hm_frame_parse(hdr, sizeof(hdr), UINT32_MAX, &plen, &flen),
				 lens[i] == 0 ? HM_OK : HM_EAGAIN);
		assert_int_equal(plen, lens[i]);
	}
}

/* Extra bytes after a frame do not change its bounds, whatever they are. */
static void test_trailing_garbage_ignored(void **state)
{
	uint8_t buf[4 + 2 + 4] = {0, 0, 0, 2, 0x90, 0x80, 0xff, 0xff, 0xff, 0xff};
	uint32_t plen;
	size_t flen;

	(void)state;
	assert_int_equal(hm_frame_parse(buf, sizeof(buf), 16, &plen, &flen), HM_OK);
	assert_int_equal(plen, 2);
	assert_int_equal(flen, 6);
	/* the next "frame" announces 4 GiB - 1: refused as soon as its header is there */
	assert_int_equal(hm_frame_parse(buf + flen, sizeof(buf) - flen, 16, &plen, &flen),
			 HM_ETOOBIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_need_more_header),
		cmocka_unit_test(test_need_more_payload),
		cmocka_unit_test(test_exact_frame),
		cmocka_unit_test(test_frame_then_next),
		cmocka_unit_test(test_zero_length),
		cmocka_unit_test(test_max_boundary),
		cmocka_unit_test(test_max_exact_frame),
		cmocka_unit_test(test_header_round_trip),
		cmocka_unit_test(test_trailing_garbage_ignored),
	};

	return cmocka_run_group_tests_name("frame", tests, NULL, NULL);
}
