/* b64.c - constant-time base64 encoding and decoding (see b64.h). */
#include "proto/b64.h"

#include <stdbool.h>

#include <openssl/crypto.h>

/*
 * The character for a 6-bit value v, by arithmetic only. Starting from 'A' + v, each range
 * boundary adds a fixed offset when v is past it; "v past b" is the sign of (b - v), spread
 * into a mask by an arithmetic shift. Offsets: 'a' - 'A' - 26 = 6; '0' - 'a' - 26 = -75;
 * '+' - '0' - 10 = -15; '/' - '+' - 1 = 3.
 */
static char b64_char(int v)
{
	return (char)('A' + v + (((25 - v) >> 8) & 6) - (((51 - v) >> 8) & 75) -
		      (((61 - v) >> 8) & 15) + (((62 - v) >> 8) & 3));
}

size_t hm_b64_encode_ct(const uint8_t *src, size_t n, char *out)
{
	size_t i, o = 0;

	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t w = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];

		out[o++] = b64_char((int)(w >> 18 & 63));
		out[o++] = b64_char((int)(w >> 12 & 63));
		out[o++] = b64_char((int)(w >> 6 & 63));
		out[o++] = b64_char((int)(w & 63));
	}
	/* the tail: how many bytes remain is public, their values are not */
	if (n - i == 1) {
		uint32_t w = (uint32_t)src[i] << 16;

		out[o++] = b64_char((int)(w >> 18 & 63));
		out[o++] = b64_char((int)(w >> 12 & 63));
		out[o++] = '=';
		out[o++] = '=';
	} else if (n - i == 2) {
		uint32_t w = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8;

		out[o++] = b64_char((int)(w >> 18 & 63));
		out[o++] = b64_char((int)(w >> 12 & 63));
		out[o++] = b64_char((int)(w >> 6 & 63));
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

/* All ones if lo <= c <= hi, else 0; no branch and no table on c (a secret's base64). */
static unsigned ct_in(unsigned c, unsigned lo, unsigned hi)
{
	return 0u - ((((c - lo) >> 31) | ((hi - c) >> 31)) ^ 1u);
}

/* The value of one base64 character; *bad gets 1 if it is not one. Constant time. */
static unsigned b64_sextet(unsigned c, unsigned *bad)
{
	unsigned up = ct_in(c, 'A', 'Z'), lo = ct_in(c, 'a', 'z'), dg = ct_in(c, '0', '9');
	unsigned pl = ct_in(c, '+', '+'), sl = ct_in(c, '/', '/');

	*bad |= ~(up | lo | dg | pl | sl) & 1u;
	return ((up & (c - 'A')) | (lo & (c - 'a' + 26)) | (dg & (c - '0' + 52)) | (pl & 62) |
		(sl & 63)) &
	       63u;
}

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

/*
 * Finds the characters of base64 text: *s and *n lose the whitespace around it and the
 * padding; *len gets what they decode to. HM_OK, or HM_EINVAL if the shape is not base64's.
 */
static int b64_text(const char **s, size_t *n, size_t *len)
{
	const char *p = *s;
	size_t m = *n, pad = 0;

	while (m > 0 && is_space(p[0])) {
		p++;
		m--;
	}
	while (m > 0 && is_space(p[m - 1]))
		m--;
	while (pad < 2 && m > 0 && p[m - 1] == '=') {
		m--;
		pad++;
	}
	if (m % 4 == 1 || (pad > 0 && (m + pad) % 4 != 0))
		return HM_EINVAL;
	*s = p;
	*n = m;
	*len = m / 4 * 3 + (m % 4 == 0 ? 0 : m % 4 - 1);
	return HM_OK;
}

int hm_b64_decoded_len(const char *s, size_t n, size_t *len)
{
	*len = 0;
	return b64_text(&s, &n, len);
}

int hm_b64_decode_ct(const char *s, size_t n, uint8_t *out, size_t cap, size_t *outlen)
{
	unsigned bad = 0, acc = 0, bits = 0;
	size_t len, i, o = 0;

	*outlen = 0;
	if (b64_text(&s, &n, &len) != HM_OK)
		return HM_EINVAL;
	if (len > cap)
		return HM_ETOOBIG;
	for (i = 0; i < n; i++) {
		acc = ((acc << 6) | b64_sextet((unsigned char)s[i], &bad)) & 0x3fffu;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	/* the bits past the last byte must be zero: one spelling per byte string */
	bad |= ((acc & ((1u << bits) - 1u)) + 15u) >> 4;
	acc = 0;
	if (bad != 0) {
		OPENSSL_cleanse(out, cap);
		return HM_EINVAL;
	}
	*outlen = o;
	return HM_OK;
}
