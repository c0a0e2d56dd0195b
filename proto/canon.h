/*
 * canon.h - the hmacd-v1 canonical string: what a signature covers.
 *
 * The lines, each ended by LF, in order: "hmacd-v1", tenant, container, epoch (decimal), method,
 * path, ts (decimal), nonce (empty line if none), one "name:value" line per signed header, and
 * last the lower-case hex SHA-256 of the body with no LF after it.
 *
 * Why this is injective: no field may hold a byte below 0x20 (so no LF inside a field), header
 * names are tokens (no ':'), the number of fixed lines is fixed, and the digest line, the only
 * one without ':' after the fixed lines, is always last and always 64 hex bytes. Two items that
 * differ in any field therefore give different strings, and so different signatures.
 */
#ifndef HM_CANON_H
#define HM_CANON_H

#include <stddef.h>
#include <stdint.h>

#include "proto/errors.h"
#include "proto/item.h"

#define HM_CANON_PREFIX "hmacd-v1"

/* Exact length of the canonical string of a valid item. */
size_t hm_canon_len(const struct hm_item *item);

/*
 * Writes the canonical string of `item` (already checked with hm_item_check()) into out[0..cap),
 * with `body_digest` the SHA-256 of the body (or the item's body_sha256).
 * HM_OK with *len set, or HM_ETOOBIG if cap is short. Not NUL-terminated.
 */
int hm_canon_build(const struct hm_item *item, const uint8_t body_digest[static HM_SHA256_LEN],
		   uint8_t *out, size_t cap, size_t *len) HM_MUSTCHECK;

#endif
