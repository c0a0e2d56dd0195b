/*
 * fuzz_canon.c - libFuzzer target: the canonical string (canon.h) of items built from fuzz
 * bytes, and its injectivity.
 *
 * Input layout: one mode byte, then item A's description, then the derivation of item B.
 * An item description is a list of field lengths followed by the field bytes; the mode byte
 * says whether field bytes are used raw (mostly refused by hm_item_check, which is the point
 * for the charset rules) or folded into each field's allowed alphabet (so that most items are
 * valid and the builder itself gets exercised). Item B is derived from A in one of the ways
 * most likely to break an encoding that is not injective: moving bytes across the boundary of
 * two adjacent fields, changing one byte, changing a number's digits, adding or dropping a
 * header, or building B from the remaining bytes on its own.
 *
 * Checks, for every valid item: hm_canon_len() equals the built length, a buffer one byte
 * short is refused, the string reads back into the item (fuzz_util.h). For a valid pair: the
 * two canonical strings are equal exactly when the two items are equal field by field.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/canon.h"
#include "fuzz_util.h"
#include "proto/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NFIELDS (5 + 2 * 4) /* tenant container method path nonce, 4 headers x (name, value) */
#define MAX_HDR 4

struct stream {
	const uint8_t *p;
	size_t left;
};

static uint8_t take_u8(struct stream *s)
{
	if (s->left == 0)
		return 0;
	s->left--;
	return *s->p++;
}

static uint64_t take_u64(struct stream *s)
{
	uint64_t v = 0;
	uint8_t kind = take_u8(s);

	/* mostly small numbers (where digit boundaries are), sometimes any 64-bit value */
	if (kind & 1) {
		for (int i = 0; i < 8; i++)
			v = v << 8 | take_u8(s);
	} else {
		v = take_u8(s) | (uint64_t)take_u8(s) << 8;
	}
	return v;
}

/* An item whose strings point into its own storage. */
struct owned {
	struct hm_item it;
	uint8_t field[NFIELDS][256];
	size_t len[NFIELDS];
	uint8_t digest[HM_SHA256_LEN];
	unsigned nh;
};

static const char scope_abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:/-";
static const char token_abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~";
static const char lower_abc[] = "abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~";

/* Folds a raw byte into the alphabet of field f. */
static uint8_t fold(unsigned f, uint8_t b)
{
	switch (f) {
	case 0:
	case 1:
		return (uint8_t)scope_abc[b % (sizeof(scope_abc) - 1)];
	case 2:
		return (uint8_t)token_abc[b % (sizeof(token_abc) - 1)];
	default:
		if (f >= 5 && (f - 5) % 2 == 0) /* header name */
			return (uint8_t)lower_abc[b % (sizeof(lower_abc) - 1)];
		/* path, nonce, header value: no control bytes; keep ':' and high bytes likely */
		if (b < 0x20)
			return (uint8_t)(b % 2 ? ':' : 0x20 + b);
		return b == 0x7f ? '~' : b;
	}
}

static const size_t max_len[NFIELDS] = {130, 130, 34, 255, 66, 24, 40, 24, 40, 24, 40, 24, 40};

static void wire(struct owned *o)
{
	struct hm_item *it = &o->it;
	struct hm_str *s[NFIELDS] = {&it->tenant, &it->container, &it->method, &it->path,
				     &it->v1.nonce};

	for (unsigned h = 0; h < MAX_HDR; h++) {
		s[5 + 2 * h] = &it->headers[h].name;
		s[6 + 2 * h] = &it->headers[h].value;
	}
	for (unsigned f = 0; f < NFIELDS; f++) {
		s[f]->ptr = o->field[f];
		s[f]->len = o->len[f];
	}
	it->nheaders = o->nh;
	it->v1.has_body_sha256 = true;
	it->v1.body_sha256 = o->digest;
	it->v1.sig = o->digest; /* any 32 bytes: the canonical string does not cover sig */
}

static void build(struct owned *o, struct stream *s, bool folded)
{
	memset(o, 0, sizeof(*o));
	o->nh = take_u8(s) % (MAX_HDR + 1);
	o->it.v1.epoch = take_u64(s);
	o->it.v1.ts = take_u64(s);
	for (unsigned f = 0; f < NFIELDS; f++)
		o->len[f] = take_u8(s) % (max_len[f] + 1);
	for (unsigned f = 0; f < NFIELDS; f++) {
		for (size_t i = 0; i < o->len[f]; i++) {
			uint8_t b = take_u8(s);

			o->field[f][i] = folded ? fold(f, b) : b;
		}
	}
	if (folded && o->len[3] > 0)
		o->field[3][0] = '/';
	for (size_t i = 0; i < HM_SHA256_LEN; i++)
		o->digest[i] = take_u8(s);
	wire(o);
}

/* The string fields in canonical order (unused headers left out), for boundary moves. */
static unsigned order_of(const struct owned *o, unsigned out[NFIELDS])
{
	unsigned n = 0;

	for (unsigned f = 0; f < 5 + 2 * o->nh; f++)
		out[n++] = f;
	return n;
}

static void derive(struct owned *b, const struct owned *a, struct stream *s, bool folded)
{
	uint8_t how = take_u8(s), x = take_u8(s), y = take_u8(s);
	unsigned ord[NFIELDS], n;

	*b = *a;
	switch (how % 6) {
	case 0: { /* move k bytes from the end of field i to the start of field i+1 */
		unsigned i, f, g;
		size_t k;

		n = order_of(b, ord);
		i = x % (n - 1);
		f = ord[i];
		g = ord[i + 1];
		k = (size_t)(y % 4) + 1;
		if (k > b->len[f] || b->len[g] + k > sizeof(b->field[g]))
			break;
		memmove(b->field[g] + k, b->field[g], b->len[g]);
		memcpy(b->field[g], b->field[f] + b->len[f] - k, k);
		b->len[f] -= k;
		b->len[g] += k;
		break;
	}
	case 1: { /* the other way round */
		unsigned i, f, g;
		size_t k;

		n = order_of(b, ord);
		i = x % (n - 1);
		f = ord[i];
		g = ord[i + 1];
		k = (size_t)(y % 4) + 1;
		if (k > b->len[g] || b->len[f] + k > sizeof(b->field[f]))
			break;
		memcpy(b->field[f] + b->len[f], b->field[g], k);
		memmove(b->field[g], b->field[g] + k, b->len[g] - k);
		b->len[f] += k;
		b->len[g] -= k;
		break;
	}
	case 2: { /* change one byte of one field */
		unsigned f;

		n = order_of(b, ord);
		f = ord[x % n];
		if (b->len[f] > 0) {
			size_t at = y % b->len[f];

			b->field[f][at] = folded ? fold(f, (uint8_t)(take_u8(s) + 1)) :
						   (uint8_t)(b->field[f][at] + 1);
		}
		break;
	}
	case 3: /* the numbers: shift a digit from one to the other, or nudge one */
		if (x % 2) {
			b->it.v1.epoch = a->it.v1.epoch / 10;
			b->it.v1.ts = a->it.v1.ts * 10 + a->it.v1.epoch % 10;
		} else if (y % 2) {
			b->it.v1.epoch++;
		} else {
			b->it.v1.ts--;
		}
		break;
	case 4: /* one header more or less */
		if (b->nh > 0 && (x % 2 || b->nh == MAX_HDR))
			b->nh--;
		else if (b->nh < MAX_HDR)
			b->nh++;
		break;
	case 5: /* an independent item */
		build(b, s, folded);
		return;
	}
	b->digest[0] ^= (uint8_t)(how >= 0xf0); /* now and then, only the digest differs */
	wire(b);
}

static bool same(const struct owned *a, const struct owned *b)
{
	if (a->it.v1.epoch != b->it.v1.epoch || a->it.v1.ts != b->it.v1.ts || a->nh != b->nh ||
	    memcmp(a->digest, b->digest, HM_SHA256_LEN) != 0)
		return false;
	for (unsigned f = 0; f < 5 + 2 * a->nh; f++)
		if (a->len[f] != b->len[f] || memcmp(a->field[f], b->field[f], a->len[f]) != 0)
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stream s = {data, size};
	struct owned *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	bool folded = (take_u8(&s) & 1) == 0, va, vb;
	uint8_t *ca = NULL, *cb = NULL;
	size_t la = 0, lb = 0;

	FUZZ_CHECK(a != NULL && b != NULL);
	build(a, &s, folded);
	derive(b, a, &s, folded);
	va = hm_item_check(&a->it) == HM_OK;
	vb = hm_item_check(&b->it) == HM_OK;
	if (va)
		ca = fz_canon_check(&a->it, a->digest, &la);
	if (vb)
		cb = fz_canon_check(&b->it, b->digest, &lb);
	if (va && vb) {
		bool eq_items = same(a, b);
		bool eq_canon = la == lb && memcmp(ca, cb, la) == 0;

		FUZZ_CHECK(eq_items == eq_canon);
	}
	free(ca);
	free(cb);
	free(a);
	free(b);
	return 0;
}
