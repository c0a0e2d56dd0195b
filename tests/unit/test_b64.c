/*
 * test_b64.c - the constant-time base64 encoder agrees with OpenSSL's, for every length; the
 * decoder gives every byte string back, reads text as hmacctl's --base64 files hold it
 * (whitespace around it, padding optional) and refuses everything else: each byte that is not
 * base64 in each position, every shape no base64 text has, every non-canonical spelling.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "proto/b64.h"

static void test_rfc4648_vectors(void **state)
{
	static const struct {
		const char *in, *out;
	} v[] = {
		{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},     {"foo", "Zm9v"},
		{"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
	};
	char out[32];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t n = hm_b64_encode_ct((const uint8_t *)v[i].in, strlen(v[i].in), out);

		assert_int_equal(n, strlen(v[i].out));
		assert_string_equal(out, v[i].out);
	}
}

static void test_agrees_with_openssl(void **state)
{
	uint8_t in[96];
	char ours[HM_B64_LEN(96) + 1];
	unsigned char theirs[HM_B64_LEN(96) + 1];

	(void)state;
	/* every 6-bit value in every position, then random inputs of every length */
	for (int v = 0; v < 256; v++) {
		memset(in, v, 3);
		hm_b64_encode_ct(in, 3, ours);
		assert_int_equal(EVP_EncodeBlock(theirs, in, 3), 4);
		assert_string_equal(ours, (const char *)theirs);
	}
	for (int round = 0; round < 200; round++) {
		assert_int_equal(RAND_bytes(in, (int)sizeof(in)), 1);
		for (size_t n = 0; n <= sizeof(in); n++) {
			assert_int_equal(hm_b64_encode_ct(in, n, ours), HM_B64_LEN(n));
			assert_int_equal(EVP_EncodeBlock(theirs, in, (int)n), (int)HM_B64_LEN(n));
			assert_string_equal(ours, (const char *)theirs);
		}
	}
}

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Decodes the NUL-terminated text into out[0..cap); the code, *len the length. */
static int decode(const char *text, uint8_t *out, size_t cap, size_t *len)
{
	return hm_b64_decode_ct(text, strlen(text), out, cap, len);
}

static void test_decode_rfc4648_vectors(void **state)
{
	static const struct {
		const char *text, *bytes;
	} v[] = {
		{"", ""},         {"Zg==", "f"},         {"Zm8=", "fo"},     {"Zm9v", "foo"},
		{"Zm9vYg==", "foob"}, {"Zm9vYmE=", "fooba"}, {"Zm9vYmFy", "foobar"},
		/* the padding is optional */
		{"Zg", "f"},      {"Zm8", "fo"},         {"Zm9vYg", "foob"}, {"Zm9vYmE", "fooba"},
	};
	uint8_t out[16];
	size_t len, want;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(hm_b64_decoded_len(v[i].text, strlen(v[i].text), &want), HM_OK);
		assert_int_equal(want, strlen(v[i].bytes));
		assert_int_equal(decode(v[i].text, out, sizeof(out), &len), HM_OK);
		assert_int_equal(len, strlen(v[i].bytes));
		assert_memory_equal(out, v[i].bytes, len);
	}
}

/* Random byte strings of every length come back from our text and from OpenSSL's. */
static void test_decode_round_trip(void **state)
{
	uint8_t in[96], out[96];
	char ours[HM_B64_LEN(96) + 1];
	unsigned char theirs[HM_B64_LEN(96) + 1];
	size_t len, tlen;

	(void)state;
	for (int round = 0; round < 50; round++) {
		assert_int_equal(RAND_bytes(in, (int)sizeof(in)), 1);
		for (size_t n = 0; n <= sizeof(in); n++) {
			tlen = hm_b64_encode_ct(in, n, ours);
			assert_int_equal(hm_b64_decoded_len(ours, tlen, &len), HM_OK);
			assert_int_equal(len, n);
			/* exactly n bytes of room, then one short */
			assert_int_equal(hm_b64_decode_ct(ours, tlen, out, n, &len), HM_OK);
			assert_int_equal(len, n);
			assert_memory_equal(out, in, n);
			if (n > 0)
				assert_int_equal(hm_b64_decode_ct(ours, tlen, out, n - 1, &len),
						 HM_ETOOBIG);
			/* without its padding */
			while (tlen > 0 && ours[tlen - 1] == '=')
				tlen--;
			assert_int_equal(hm_b64_decode_ct(ours, tlen, out, n, &len), HM_OK);
			assert_int_equal(len, n);
			assert_memory_equal(out, in, n);
			/* OpenSSL's text */
			assert_int_equal(EVP_EncodeBlock(theirs, in, (int)n), (int)HM_B64_LEN(n));
			assert_int_equal(decode((const char *)theirs, out, n, &len), HM_OK);
			assert_int_equal(len, n);
			assert_memory_equal(out, in, n);
		}
	}
}

/*
 * Every byte value in every position of a four-character group: a base64 character decodes to
 * its value there; whitespace is ignored at the ends only, '=' is padding at the end only;
 * anything else is refused, and the output is wiped.
 */
static void test_decode_every_byte(void **state)
{
	char text[5];
	uint8_t out[3];
	size_t len;

	(void)state;
	for (int pos = 0; pos < 4; pos++) {
		for (int b = 0; b < 256; b++) {
			const char *at = memchr(alphabet, b, 64);
			bool space = b == ' ' || b == '\t' || b == '\n' || b == '\v' || b == '\f' ||
				     b == '\r';
			int rc;

			memcpy(text, "AAAA", 5);
			text[pos] = (char)b;
			memset(out, 0xa5, sizeof(out));
			rc = hm_b64_decode_ct(text, 4, out, sizeof(out), &len);
			if (at != NULL) {
				uint32_t w = (uint32_t)(at - alphabet) << (18 - 6 * pos);

				assert_int_equal(rc, HM_OK);
				assert_int_equal(len, 3);
				assert_int_equal(out[0], w >> 16);
				assert_int_equal(out[1], w >> 8 & 0xff);
				assert_int_equal(out[2], w & 0xff);
			} else if ((space && (pos == 0 || pos == 3)) || (b == '=' && pos == 3)) {
				/* "AAA": two zero bytes */
				assert_int_equal(rc, HM_OK);
				assert_int_equal(len, 2);
				assert_int_equal(out[0], 0);
				assert_int_equal(out[1], 0);
			} else {
				assert_int_equal(rc, HM_EINVAL);
				assert_int_equal(len, 0);
				assert_int_equal(out[0] | out[1] | out[2], 0);
			}
		}
	}
}

/* What padding is accepted, and only the canonical spelling of each byte string. */
static void test_decode_padding(void **state)
{
	static const struct {
		const char *text;
		int rc;
		size_t len;
	} v[] = {
		{"Zg==", HM_OK, 1},         {"Zg", HM_OK, 1},           {"Zm8=", HM_OK, 2},
		{"Zm8", HM_OK, 2},          {"Zg=", HM_EINVAL, 0},      {"Zg===", HM_EINVAL, 0},
		{"Zm8==", HM_EINVAL, 0},    {"Zm9v=", HM_EINVAL, 0},    {"Zm9v==", HM_EINVAL, 0},
		{"Zm9v====", HM_EINVAL, 0}, {"=", HM_EINVAL, 0},        {"==", HM_EINVAL, 0},
		{"===", HM_EINVAL, 0},      {"====", HM_EINVAL, 0},     {"Zg==Zg==", HM_EINVAL, 0},
		{"Z=g=", HM_EINVAL, 0},     {"Zm=v", HM_EINVAL, 0},
		/* the bits past the last byte are not zero: "f" is Zg==, "fo" Zm8= */
		{"Zh==", HM_EINVAL, 0},     {"Zh", HM_EINVAL, 0},       {"Zv==", HM_EINVAL, 0},
		{"Zm9=", HM_EINVAL, 0},     {"Zm9", HM_EINVAL, 0},      {"Zm/=", HM_EINVAL, 0},
		{"//8=", HM_OK, 2},         {"//9=", HM_EINVAL, 0},     {"/w==", HM_OK, 1},
		{"/x==", HM_EINVAL, 0},
	};
	uint8_t out[8];
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(decode(v[i].text, out, sizeof(out), &len), v[i].rc);
		assert_int_equal(len, v[i].len);
	}
}

/*
 * Whitespace as hmacctl's --base64 files may hold it: space \t \n \v \f \r around the text are
 * ignored, none is allowed inside it, and no other byte counts as whitespace.
 */
static void test_decode_whitespace(void **state)
{
	static const struct {
		const char *text;
		int rc;
		size_t len;
	} v[] = {
		{" \t\n\v\f\rZm9vYmFy \t\n\v\f\r", HM_OK, 6},
		{"Zm9vYmFy\n", HM_OK, 6},
		{"Zm9vYmFy\r\n", HM_OK, 6},
		{"\nZg==\n", HM_OK, 1},
		{"  Zm8  ", HM_OK, 2},
		{" ", HM_OK, 0},
		{" \n\t", HM_OK, 0},
		{"Zm 9vYmFy", HM_EINVAL, 0},
		{"Zm9v\nYmFy", HM_EINVAL, 0},
		{"Zm9v\r\nYmFy", HM_EINVAL, 0},
		{"Zm9vYm\tFy", HM_EINVAL, 0},
		{"Zg= =", HM_EINVAL, 0},
		{"Zg =", HM_EINVAL, 0},
		{"Zg = ", HM_EINVAL, 0},
		{"\xa0Zm9v", HM_EINVAL, 0},
		{"Zm9v\x85", HM_EINVAL, 0},
		{"\x1cZm9v", HM_EINVAL, 0},
	};
	uint8_t out[8];
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(decode(v[i].text, out, sizeof(out), &len), v[i].rc);
		assert_int_equal(len, v[i].len);
	}
	/* a NUL is a byte like any other: not whitespace, not the end of the text */
	assert_int_equal(hm_b64_decode_ct("Zm9v\0", 5, out, sizeof(out), &len), HM_EINVAL);
	assert_int_equal(hm_b64_decode_ct("\0Zm9v", 5, out, sizeof(out), &len), HM_EINVAL);
	assert_int_equal(hm_b64_decode_ct("Zm9v\0", 4, out, sizeof(out), &len), HM_OK);
	assert_int_equal(len, 3);
}

/*
 * The lengths: what each shape decodes to, with and without padding; 4k+1 characters are no
 * base64. The room is checked from the shape before any character: text of the right length
 * but no base64 is HM_ETOOBIG when it would not fit, and hm_b64_decoded_len() does not read
 * the characters at all (hmacctl tells "too long" from "not base64" in that order).
 */
static void test_decode_lengths(void **state)
{
	char text[64];
	uint8_t out[48];
	size_t len, want;

	(void)state;
	for (size_t m = 0; m <= 60; m++) {
		memset(text, 'A', m);
		want = m / 4 * 3 + (m % 4 == 0 ? 0 : m % 4 - 1);
		if (m % 4 == 1) {
			assert_int_equal(hm_b64_decoded_len(text, m, &len), HM_EINVAL);
			assert_int_equal(len, 0);
			assert_int_equal(hm_b64_decode_ct(text, m, out, sizeof(out), &len),
					 HM_EINVAL);
			continue;
		}
		assert_int_equal(hm_b64_decoded_len(text, m, &len), HM_OK);
		assert_int_equal(len, want);
		assert_int_equal(hm_b64_decode_ct(text, m, out, want, &len), HM_OK);
		assert_int_equal(len, want);
		if (want > 0)
			assert_int_equal(hm_b64_decode_ct(text, m, out, want - 1, &len),
					 HM_ETOOBIG);
		/* padded to a whole group */
		memset(text + m, '=', (4 - m % 4) % 4);
		assert_int_equal(hm_b64_decoded_len(text, m + (4 - m % 4) % 4, &len), HM_OK);
		assert_int_equal(len, want);
	}
	assert_int_equal(hm_b64_decoded_len("!!!!", 4, &len), HM_OK);
	assert_int_equal(len, 3);
	assert_int_equal(hm_b64_decode_ct("!!!!", 4, out, 2, &len), HM_ETOOBIG);
	assert_int_equal(hm_b64_decode_ct("!!!!", 4, out, 3, &len), HM_EINVAL);
	assert_int_equal(hm_b64_decoded_len(" !!\t", 4, &len), HM_OK);
	assert_int_equal(len, 1);
}

/* A refused character wipes what was decoded before it, and all of the output buffer. */
static void test_decode_wipes(void **state)
{
	uint8_t out[16];
	size_t len = 99;

	(void)state;
	memset(out, 0xa5, sizeof(out));
	assert_int_equal(decode("Zm9vYmFyZm9v!mFy", out, sizeof(out), &len), HM_EINVAL);
	assert_int_equal(len, 0);
	for (size_t i = 0; i < sizeof(out); i++)
		assert_int_equal(out[i], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4648_vectors),
		cmocka_unit_test(test_agrees_with_openssl),
		cmocka_unit_test(test_decode_rfc4648_vectors),
		cmocka_unit_test(test_decode_round_trip),
		cmocka_unit_test(test_decode_every_byte),
		cmocka_unit_test(test_decode_padding),
		cmocka_unit_test(test_decode_whitespace),
		cmocka_unit_test(test_decode_lengths),
		cmocka_unit_test(test_decode_wipes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
