/*
 * mpack.c - bounded msgpack reader (see mpack.h).
 *
 * Every multi-byte length is decoded, then compared with the bytes that remain, before the
 * cursor moves. Nothing here allocates, so hostile lengths cost nothing but a comparison.
 */
#include "mpack.h"

#include <string.h>

static uint64_t be(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

enum hm_mp_type hm_mp_peek(const struct hm_mp *r)
{
	uint8_t c;

	if (r->p >= r->end)
		return HM_MP_INVALID;
	c = *r->p;
	if (c <= 0x7f || (c >= 0xcc && c <= 0xcf))
		return HM_MP_UINT;
	if (c >= 0xe0)
		return HM_MP_NINT;
	if (c >= 0xd0 && c <= 0xd3) {
		/* signed formats: the sign bit of the first payload byte decides */
		if (hm_mp_left(r) < 2)
			return HM_MP_INVALID;
		return (r->p[1] & 0x80) ? HM_MP_NINT : HM_MP_UINT;
	}
	if ((c & 0xf0) == 0x80 || c == 0xde || c == 0xdf)
		return HM_MP_MAP;
	if ((c & 0xf0) == 0x90 || c == 0xdc || c == 0xdd)
		return HM_MP_ARRAY;
	if ((c & 0xe0) == 0xa0 || (c >= 0xd9 && c <= 0xdb))
		return HM_MP_STR;
	switch (c) {
	case 0xc0:
		return HM_MP_NIL;
	case 0xc2:
	case 0xc3:
		return HM_MP_BOOL;
	case 0xc4:
	case 0xc5:
	case 0xc6:
		return HM_MP_BIN;
	case 0xca:
	case 0xcb:
		return HM_MP_FLOAT;
	case 0xc7:
	case 0xc8:
	case 0xc9:
	case 0xd4:
	case 0xd5:
	case 0xd6:
	case 0xd7:
	case 0xd8:
		return HM_MP_EXT;
	default:
		return HM_MP_INVALID;
	}
}

int hm_mp_read_nil(struct hm_mp *r)
{
	if (r->p >= r->end || *r->p != 0xc0)
		return HM_EMALFORMED;
	r->p++;
	return HM_OK;
}

int hm_mp_read_bool(struct hm_mp *r, bool *v)
{
	if (r->p >= r->end || (*r->p != 0xc2 && *r->p != 0xc3))
		return HM_EMALFORMED;
	*v = *r->p == 0xc3;
	r->p++;
	return HM_OK;
}

int hm_mp_read_uint(struct hm_mp *r, uint64_t *v)
{
	size_t left = hm_mp_left(r);
	unsigned n;
	uint8_t c;

	if (left == 0)
		return HM_EMALFORMED;
	c = *r->p;
	if (c <= 0x7f) {
		*v = c;
		r->p++;
		return HM_OK;
	}
	if (c >= 0xcc && c <= 0xcf)
		n = 1u << (c - 0xcc);
	else if (c >= 0xd0 && c <= 0xd3)
		n = 1u << (c - 0xd0);
	else
		return HM_EMALFORMED;
	if (left < 1 + (size_t)n)
		return HM_EMALFORMED;
	if (c >= 0xd0 && (r->p[1] & 0x80))
		return HM_EMALFORMED; /* negative */
	*v = be(r->p + 1, n);
	r->p += 1 + n;
	return HM_OK;
}

/* Reads a length-prefixed header of `n` bytes after the type byte, then checks the payload. */
static int read_blob(struct hm_mp *r, size_t hdr, size_t len, const uint8_t **s, size_t *outlen)
{
	if (hm_mp_left(r) < hdr || hm_mp_left(r) - hdr < len)
		return HM_EMALFORMED;
	*s = r->p + hdr;
	*outlen = len;
	r->p += hdr + len;
	return HM_OK;
}

int hm_mp_read_str(struct hm_mp *r, const uint8_t **s, size_t *len)
{
	size_t left = hm_mp_left(r);
	uint8_t c;

	if (left == 0)
		return HM_EMALFORMED;
	c = *r->p;
	if ((c & 0xe0) == 0xa0)
		return read_blob(r, 1, c & 0x1f, s, len);
	if (c < 0xd9 || c > 0xdb)
		return HM_EMALFORMED;
	{
		unsigned n = 1u << (c - 0xd9);

		if (left < 1 + (size_t)n)
			return HM_EMALFORMED;
		return read_blob(r, 1 + n, (size_t)be(r->p + 1, n), s, len);
	}
}

int hm_mp_read_bin(struct hm_mp *r, const uint8_t **s, size_t *len)
{
	size_t left = hm_mp_left(r);
	unsigned n;
	uint8_t c;

	if (left == 0)
		return HM_EMALFORMED;
	c = *r->p;
	if (c < 0xc4 || c > 0xc6)
		return HM_EMALFORMED;
	n = 1u << (c - 0xc4);
	if (left < 1 + (size_t)n)
		return HM_EMALFORMED;
	return read_blob(r, 1 + n, (size_t)be(r->p + 1, n), s, len);
}

/* Container header: fix range [lo, lo+15] or 16/32-bit forms; `per` bytes at least per count. */
static int read_container(struct hm_mp *r, uint8_t fixbase, uint8_t c16, uint32_t *out,
			  unsigned per)
{
	size_t left = hm_mp_left(r), hdr;
	uint64_t n;
	uint8_t c;

	if (left == 0)
		return HM_EMALFORMED;
	c = *r->p;
	if ((c & 0xf0) == fixbase) {
		n = c & 0x0f;
		hdr = 1;
	} else if (c == c16 || c == c16 + 1) {
		unsigned w = c == c16 ? 2 : 4;

		if (left < 1 + (size_t)w)
			return HM_EMALFORMED;
		n = be(r->p + 1, w);
		hdr = 1 + w;
	} else {
		return HM_EMALFORMED;
	}
	/* Every element takes at least one byte: a count larger than what is left is a lie. */
	if (n * per > left - hdr)
		return HM_EMALFORMED;
	*out = (uint32_t)n;
	r->p += hdr;
	return HM_OK;
}

int hm_mp_read_array(struct hm_mp *r, uint32_t *n)
{
	return read_container(r, 0x90, 0xdc, n, 1);
}

int hm_mp_read_map(struct hm_mp *r, uint32_t *n)
{
	return read_container(r, 0x80, 0xde, n, 2);
}

int hm_mp_skip(struct hm_mp *r, unsigned depth)
{
	struct hm_mp save = *r;
	const uint8_t *s;
	size_t len, left = hm_mp_left(r);
	uint64_t u;
	uint32_t n;
	int rc = HM_EMALFORMED;
	uint8_t c;

	if (left == 0)
		return HM_EMALFORMED;
	c = *r->p;
	switch (hm_mp_peek(r)) {
	case HM_MP_NIL:
	case HM_MP_BOOL:
		r->p++;
		return HM_OK;
	case HM_MP_UINT:
		return hm_mp_read_uint(r, &u);
	case HM_MP_NINT:
		if (c >= 0xe0) {
			r->p++;
			return HM_OK;
		}
		len = (size_t)1 << (c - 0xd0);
		break;
	case HM_MP_FLOAT:
		len = c == 0xca ? 4 : 8;
		break;
	case HM_MP_STR:
		return hm_mp_read_str(r, &s, &len);
	case HM_MP_BIN:
		return hm_mp_read_bin(r, &s, &len);
	case HM_MP_EXT:
		if (c >= 0xd4 && c <= 0xd8) {
			len = 1 + ((size_t)1 << (c - 0xd4)); /* type byte + data */
			break;
		} else {
			unsigned w = 1u << (c - 0xc7);

			if (left < 1 + (size_t)w)
				return HM_EMALFORMED;
			return read_blob(r, 1 + w, (size_t)be(r->p + 1, w) + 1, &s, &len);
		}
	case HM_MP_ARRAY:
	case HM_MP_MAP:
		if (depth == 0)
			return HM_EMALFORMED;
		if (hm_mp_peek(r) == HM_MP_ARRAY) {
			rc = hm_mp_read_array(r, &n);
			u = n;
		} else {
			rc = hm_mp_read_map(r, &n);
			u = (uint64_t)n * 2;
		}
		if (rc != HM_OK)
			return rc;
		for (uint64_t i = 0; i < u; i++) {
			rc = hm_mp_skip(r, depth - 1);
			if (rc != HM_OK) {
				*r = save;
				return rc;
			}
		}
		return HM_OK;
	default:
		return HM_EMALFORMED;
	}
	/* fixed-size scalar of `len` bytes after the type byte */
	if (left - 1 < len)
		return HM_EMALFORMED;
	r->p += 1 + len;
	return HM_OK;
}

bool hm_mp_match_str(struct hm_mp *r, const char *key)
{
	struct hm_mp save = *r;
	const uint8_t *s;
	size_t len, klen = strlen(key);

	if (hm_mp_read_str(r, &s, &len) == HM_OK && len == klen && memcmp(s, key, len) == 0)
		return true;
	*r = save;
	return false;
}
