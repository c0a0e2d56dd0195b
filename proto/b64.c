/* b64.c - constant-time base64 encoding (see b64.h). */
#include "proto/b64.h"

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
