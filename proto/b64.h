/*
 * b64.h - standard base64 (RFC 4648, with padding) for secrets.
 *
 * Written for key material: no table lookup and no branch depends on the bytes encoded, so
 * printing a new secret leaks nothing through the cache or the branch predictor (OpenSSL's
 * EVP_EncodeBlock indexes a table with each 6-bit group).
 */
#ifndef HM_B64_H
#define HM_B64_H

#include <stddef.h>
#include <stdint.h>

/* Characters needed for n bytes, without the terminating NUL. */
#define HM_B64_LEN(n) (4 * (((n) + 2) / 3))

/* Encodes src[0..n) into out (HM_B64_LEN(n) + 1 bytes, NUL-terminated). Returns the length. */
size_t hm_b64_encode_ct(const uint8_t *src, size_t n, char *out);

#endif
