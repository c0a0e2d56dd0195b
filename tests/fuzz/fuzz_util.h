/*
 * fuzz_util.h - checks shared by the libFuzzer targets (header only: each target is one
 * translation unit compiled together with the proto/ sources, see "make fuzz").
 *
 * A failed check calls abort(), which libFuzzer reports as a crash with the input saved.
 */
#ifndef HM_FUZZ_UTIL_H
#define HM_FUZZ_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/canon.h"
#include "proto/msg.h"

#define FUZZ_CHECK(cond)                                                                  \
	do {                                                                              \
		if (!(cond)) {                                                            \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
				#cond);                                                   \
			abort();                                                          \
		}                                                                         \
	} while (0)

static inline bool fz_str_eq(struct hm_str a, struct hm_str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/*
 * Splits a canonical string back into its fields and compares them with the item: a string
 * that can be read back into exactly the item it came from could only have come from that
 * item, which is the injectivity canon.h claims. Returns true if everything matches.
 */
static inline bool fz_canon_reads_back(const uint8_t *c, size_t len, const struct hm_item *it,
				       const uint8_t digest[HM_SHA256_LEN])
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *p = c, *end = c + len, *nl;
	struct hm_str line[8];
	size_t nh = 0;

	for (int i = 0; i < 8; i++) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			return false;
		line[i].ptr = p;
		line[i].len = (size_t)(nl - p);
		p = nl + 1;
	}
	if (line[0].len != 8 || memcmp(line[0].ptr, HM_CANON_PREFIX, 8) != 0)
		return false;
	if (!fz_str_eq(line[1], it->tenant) || !fz_str_eq(line[2], it->container) ||
	    !fz_str_eq(line[4], it->method) || !fz_str_eq(line[5], it->path) ||
	    !fz_str_eq(line[7], it->v1.nonce))
		return false;
	for (int k = 3; k <= 6; k += 3) {
		uint64_t want = k == 3 ? it->v1.epoch : it->v1.ts, v = 0;

		if (line[k].len < 1 || line[k].len > 20 || (line[k].len > 1 && line[k].ptr[0] == '0'))
			return false;
		for (size_t i = 0; i < line[k].len; i++) {
			if (line[k].ptr[i] < '0' || line[k].ptr[i] > '9')
				return false;
			v = v * 10 + (uint64_t)(line[k].ptr[i] - '0');
		}
		if (v != want)
			return false;
	}
	/* header lines up to the last line, which is the digest (no LF after it) */
	while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		const uint8_t *colon = memchr(p, ':', (size_t)(nl - p));
		struct hm_str name, value;

		if (colon == NULL || nh >= it->nheaders)
			return false;
		name.ptr = p;
		name.len = (size_t)(colon - p);
		value.ptr = colon + 1;
		value.len = (size_t)(nl - colon - 1);
		if (!fz_str_eq(name, it->headers[nh].name) || !fz_str_eq(value, it->headers[nh].value))
			return false;
		nh++;
		p = nl + 1;
	}
	if (nh != it->nheaders || (size_t)(end - p) != 2 * HM_SHA256_LEN)
		return false;
	for (size_t i = 0; i < HM_SHA256_LEN; i++)
		if (p[2 * i] != hex[digest[i] >> 4] || p[2 * i + 1] != hex[digest[i] & 15])
			return false;
	return true;
}

/*
 * Builds the canonical string of a valid item into a buffer of exactly hm_canon_len() bytes
 * (so ASan sees a one-byte overrun), checks the length, the refusal of a buffer one byte
 * short, and that it reads back into the item. Returns the buffer (free() it).
 */
static inline uint8_t *fz_canon_check(const struct hm_item *it,
				      const uint8_t digest[HM_SHA256_LEN], size_t *out_len)
{
	size_t want = hm_canon_len(it), len = 0;
	uint8_t *buf = malloc(want);

	FUZZ_CHECK(buf != NULL);
	FUZZ_CHECK(hm_canon_build(it, digest, buf, want, &len) == HM_OK);
	FUZZ_CHECK(len == want);
	FUZZ_CHECK(hm_canon_build(it, digest, buf, want - 1, &len) == HM_ETOOBIG);
	FUZZ_CHECK(fz_canon_reads_back(buf, want, it, digest));
	*out_len = want;
	return buf;
}

#endif
