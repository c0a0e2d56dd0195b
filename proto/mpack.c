/*
 * mpack.c - bounded msgpack reader (see mpack.h).
 *
 * Every multi-byte length is decoded, then compared with the bytes that remain, before the
 * cursor moves. Nothing here allocates, so hostile lengths cost nothing but a comparison.
 */
#include "proto/mpack.h"

#include <string.h>

/* hm_mp_skip() honours depth arguments up to this; larger ones mean this. */
#define HM_MP_SKIP_DEPTH_CAP 32

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

/*
 * Size of the head of the value at p (type byte and any length field), with the bytes that
 * follow it in *payload; a container's element count goes to *elems (2 per map entry) and
 * *container is set. 0 if the bytes at p
 * cannot start a value or are cut short. The hot path of every request: one switch, no calls.
 */
static size_t value_head(const uint8_t *p, size_t left, uint64_t *elems, size_t *payload,
			 bool *container)
{
	uint8_t c = p[0];

	*elems = 0;
	*payload = 0;
	*container = (c & 0xe0) == 0x80 || (c >= 0xdc && c <= 0xdf);
	if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3)
		return 1;
	if ((c & 0xe0) == 0xa0) {
		*payload = c & 0x1f;
		return 1;
	}
	if ((c & 0xf0) == 0x80) {
		*elems = 2u * (c & 0x0f);
		return 1;
	}
	if ((c & 0xf0) == 0x90) {
		*elems = c & 0x0f;
		return 1;
	}
	switch (c) {
	case 0xcc: case 0xd0: return 2;
	case 0xcd: case 0xd1: return 3;
	case 0xca: case 0xce: case 0xd2: return 5;
	case 0xcb: case 0xcf: case 0xd3: return 9;
	case 0xd4: return 3; /* fixext: type byte + data */
	case 0xd5: return 4;
	case 0xd6: return 6;
	case 0xd7: return 10;
	case 0xd8: return 18;
	case 0xc4: case 0xd9:
		if (left < 2)
			return 0;
		*payload = p[1];
		return 2;
	case 0xc5: case 0xda:
		if (left < 3)
			return 0;
		*payload = be(p + 1, 2);
		return 3;
	case 0xc6: case 0xdb:
		if (left < 5)
			return 0;
		*payload = be(p + 1, 4);
		return 5;
	case 0xc7: case 0xc8: case 0xc9: {
		unsigned w = 1u << (c - 0xc7);

		if (left < 1 + (size_t)w)
			return 0;
		*payload = be(p + 1, w) + 1; /* + the ext type byte */
		return 1 + w;
	}
	case 0xdc: case 0xdd: {
		unsigned w = c == 0xdc ? 2 : 4;

		if (left < 1 + (size_t)w)
			return 0;
		*elems = be(p + 1, w);
		return 1 + w;
	}
	case 0xde: case 0xdf: {
		unsigned w = c == 0xde ? 2 : 4;

		if (left < 1 + (size_t)w)
			return 0;
		*elems = 2 * be(p + 1, w);
		return 1 + w;
	}
	default:
		return 0; /* 0xc1 */
	}
}

int hm_mp_skip(struct hm_mp *r, unsigned depth)
{
	/* todo[d]: values still to skip at nesting level d; iterative, so no recursion */
	uint64_t todo[HM_MP_SKIP_DEPTH_CAP + 1];
	const uint8_t *p = r->p;
	unsigned level = 0;

	if (depth > HM_MP_SKIP_DEPTH_CAP)
		depth = HM_MP_SKIP_DEPTH_CAP;
	todo[0] = 1;
	for (;;) {
		size_t left = (size_t)(r->end - p), head, payload;
		uint64_t elems;
		bool container;

		while (todo[level] == 0) {
			if (level == 0) {
				r->p = p;
				return HM_OK;
			}
			level--;
		}
		todo[level]--;
		if (left == 0)
			return HM_EMALFORMED;
		head = value_head(p, left, &elems, &payload, &container);
		if (head == 0 || head > left || payload > left - head)
			return HM_EMALFORMED;
		p += head + payload;
		if (container) {
			/* each element takes one byte at least: a count beyond what is left is a
			 * lie, rejected before any looping */
			if (level == depth || elems > (uint64_t)(r->end - p))
				return HM_EMALFORMED;
			todo[++level] = elems;
		}
	}
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
