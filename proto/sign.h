/*
 * sign.h - compute an hmacd-v1 or an RFC 9421 hmac-sha256 signature (for signers, clients,
 * tests and the benchmark).
 *
 * This is the slow, simple path: it allocates the canonical string or signature base and keys a
 * fresh MAC context per call. The daemon never uses it: its verify engine keeps pre-keyed
 * contexts (verify.c) and builds RFC 9421 bases in fixed buffers (daemon/rfc9421.c), with the
 * same proto/ functions, so what is signed here is what the daemon rebuilds.
 */
#ifndef HM_SIGN_H
#define HM_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "proto/errors.h"
#include "proto/item.h"
#include "proto/sigbase.h"

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

/*
 * The RFC 9421 signature base of an rfc9421 item: its signature_input parsed (RFC 8941), the
 * signature picked by its label (hm_sb_select), the base built by hm_sb_build() as the daemon
 * builds it, into a fresh buffer with one spare byte after the base (free() it; it holds no
 * secret). The item's signature field plays no part, and the item is not hm_item_check()ed:
 * signers check the request first. HM_OK; HM_EMALFORMED with *why (HM_SB_OK when the field
 * does not parse at all); HM_ETOOBIG (a base longer than any daemon builds: twice
 * HM_FRAME_MAX_MAX); HM_ENOMEM.
 */
int hm_rfc9421_base_alloc(const struct hm_item *item, uint8_t **out, size_t *len,
			  enum hm_sb_reason *why) HM_MUSTCHECK;

/*
 * sig = HMAC-SHA256(secret, hm_rfc9421_base_alloc(item)).
 * HM_OK, HM_EMALFORMED, HM_ETOOBIG, HM_EINVAL (secret length), HM_ENOMEM or HM_ECRYPTO.
 */
int hm_sign_rfc9421(const uint8_t *secret, size_t secret_len, const struct hm_item *item,
		    uint8_t sig[static HM_MAC_LEN]) HM_MUSTCHECK;

#endif
