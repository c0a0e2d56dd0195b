/*
 * sign.h - compute an hmacd-v1 signature (for signers, clients, tests and the benchmark).
 *
 * This is the slow, simple path: it allocates the canonical string and keys a fresh MAC context
 * per call. The daemon never uses it: its verify engine keeps pre-keyed contexts (verify.c).
 */
#ifndef HM_SIGN_H
#define HM_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "msg.h"

#define HM_SECRET_MIN 16
#define HM_SECRET_MAX 64

/* SHA-256 of p[0..n). HM_OK or HM_ECRYPTO. */
int hm_sha256(const uint8_t *p, size_t n, uint8_t out[static HM_SHA256_LEN]) HM_MUSTCHECK;

/*
 * sig = HMAC-SHA256(secret, canonical(item)); the item's own `sig` field is ignored.
 * The item must pass hm_item_check() apart from `sig` (HM_EMALFORMED otherwise).
 * HM_OK, HM_EMALFORMED, HM_EINVAL (secret length), HM_ENOMEM or HM_ECRYPTO.
 */
int hm_sign_item(const uint8_t *secret, size_t secret_len, const struct hm_item *item,
		 uint8_t sig[static HM_MAC_LEN]) HM_MUSTCHECK;

/*
 * Writes the canonical string of `item` into a fresh buffer (free() it; it holds no secret).
 * HM_OK, HM_EMALFORMED or HM_ENOMEM.
 */
int hm_canon_alloc(const struct hm_item *item, uint8_t **out, size_t *len) HM_MUSTCHECK;

#endif
