/*
 * b64.h - standard base64 (RFC 4648, with padding) for secrets.
 *
 * Written for key material: no table lookup and no branch depends on the bytes encoded or on
 * the characters decoded, so printing a new secret or reading one in leaks nothing through the
 * cache or the branch predictor (OpenSSL's EVP_EncodeBlock and EVP_DecodeBlock index a table
 * with each 6-bit group and each character).
 */
#ifndef HM_B64_H
#define HM_B64_H

#include <stddef.h>
#include <stdint.h>

#include "proto/errors.h"

/* Characters needed for n bytes, without the terminating NUL. */
#define HM_B64_LEN(n) (4 * (((n) + 2) / 3))

/* Encodes src[0..n) into out (HM_B64_LEN(n) + 1 bytes, NUL-terminated). Returns the length. */
size_t hm_b64_encode_ct(const uint8_t *src, size_t n, char *out);

/*
 * Decoding reads base64 text as a file holds it: whitespace around it (space, \t \n \v \f \r)
 * is ignored, the '=' padding is optional, nothing else may come between the characters (no
 * whitespace, no line breaks). Only the canonical spelling of a byte string is accepted: the
 * bits past its last byte must be zero. Branches read the ends of the text, to find where it
 * starts and ends (the whitespace and padding: its length, which the file size shows anyway),
 * on a path that is the same for every base64 character; and one branch, at the end, whether
 * the whole text was accepted. No character's value steers a branch or an index.
 */

/*
 * The number of bytes s[0..n) decodes to, from the shape of the text alone (its length and
 * padding): HM_OK and *len, or HM_EINVAL if no base64 text has that shape. The characters are
 * not looked at: hm_b64_decode_ct() may still refuse them.
 */
int hm_b64_decoded_len(const char *s, size_t n, size_t *len) HM_MUSTCHECK;

/*
 * Decodes s[0..n) into out[0..cap); *outlen gets the length (0 on failure). Returns HM_OK,
 * HM_ETOOBIG (the text decodes to more than cap bytes: told from its shape, before any
 * character is read) or HM_EINVAL (not base64). When a character is refused, out[0..cap) is
 * wiped: no byte of a secret is left behind.
 */
int hm_b64_decode_ct(const char *s, size_t n, uint8_t *out, size_t cap, size_t *outlen)
	HM_MUSTCHECK;

#endif
