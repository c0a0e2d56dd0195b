/* canon.c - the hmacd-v1 canonical string builder (see canon.h for the format and why). */
#include "proto/canon.h"

#include <string.h>

/* decimal digits of v */
static size_t dec_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

size_t hm_canon_len(const struct hm_item *it)
{
	size_t n = sizeof(HM_CANON_PREFIX) - 1 + 1;

	n += it->tenant.len + 1 + it->container.len + 1;
	n += dec_len(it->v1.epoch) + 1;
	n += it->method.len + 1 + it->path.len + 1;
	n += dec_len(it->v1.ts) + 1;
	n += it->v1.nonce.len + 1;
	for (size_t i = 0; i < it->nheaders; i++)
		n += it->headers[i].name.len + 1 + it->headers[i].value.len + 1;
	return n + 2 * HM_SHA256_LEN;
}

static uint8_t *put(uint8_t *p, const void *s, size_t n)
{
	if (n > 0)
		memcpy(p, s, n);
	return p + n;
}

static uint8_t *put_line(uint8_t *p, struct hm_str s)
{
	p = put(p, s.ptr, s.len);
	*p = '\n';
	return p + 1;
}

static uint8_t *put_dec_line(uint8_t *p, uint64_t v)
{
	size_t n = dec_len(v);

	for (size_t i = n; i > 0; i--) {
		p[i - 1] = (uint8_t)('0' + v % 10);
		v /= 10;
	}
	p[n] = '\n';
	return p + n + 1;
}

int hm_canon_build(const struct hm_item *it, const uint8_t body_digest[static HM_SHA256_LEN],
		   uint8_t *out, size_t cap, size_t *len)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t *p = out;
	size_t need = hm_canon_len(it);

	if (need > cap)
		return HM_ETOOBIG;
	p = put(p, HM_CANON_PREFIX "\n", sizeof(HM_CANON_PREFIX));
	p = put_line(p, it->tenant);
	p = put_line(p, it->container);
	p = put_dec_line(p, it->v1.epoch);
	p = put_line(p, it->method);
	p = put_line(p, it->path);
	p = put_dec_line(p, it->v1.ts);
	p = put_line(p, it->v1.nonce);
	for (size_t i = 0; i < it->nheaders; i++) {
		p = put(p, it->headers[i].name.ptr, it->headers[i].name.len);
		*p++ = ':';
		p = put_line(p, it->headers[i].value);
	}
	/* The digest is public (the sender knows the body), so a table lookup is fine here. */
	for (size_t i = 0; i < HM_SHA256_LEN; i++) {
		*p++ = (uint8_t)hex[body_digest[i] >> 4];
		*p++ = (uint8_t)hex[body_digest[i] & 15];
	}
	*len = (size_t)(p - out);
	return HM_OK;
}
