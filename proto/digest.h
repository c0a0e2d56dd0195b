/*
 * digest.h - the Content-Digest check of RFC 9530 (Digest Fields) for rfc9421 items.
 *
 * An RFC 9421 signature that covers `content-digest` covers the digest, not the body: the body
 * is bound to the signature only once the digest is checked against it. This checks the
 * Content-Digest field of a request (a Dictionary, RFC 9530 section 2) against its body.
 *
 * Only sha-256 and sha-512 are supported (the two algorithms RFC 9530's registry marks Active).
 * Other keys (md5, sha, unixsum, unixcksum, adler, crc32c, or anything unregistered) are
 * ignored, whatever their value: RFC 9530 section 2 lets a recipient ignore algorithms it does
 * not support. Parameters on members are ignored too.
 *
 * Field lines: every header of the request named content-digest (ASCII case-insensitively),
 * each stripped of leading and trailing SP/HTAB, parsed in arrival order as the ", " join of
 * the lines would be: hm_sb_parse_field_lines() (sigbase.h), the very function that reads
 * `content-digest;sf` into a signature base. A key repeated across lines keeps the last value
 * (RFC 8941).
 *
 * Results:
 *   HM_CD_MATCH            a sha-256 or sha-512 member is present, and every such member
 *                          equals the digest of the body;
 *   HM_CD_MISMATCH         one of them is present and differs;
 *   HM_CD_NO_SUPPORTED_ALG no sha-256 and no sha-512 member (only other algorithms, an empty
 *                          Dictionary, or no content-digest header at all);
 *   HM_CD_MALFORMED        the lines do not parse as a Dictionary, or a sha-256 / sha-512
 *                          member is not a Byte Sequence of 32 / 64 bytes. Checked before any
 *                          comparison: a malformed field is MALFORMED even if the other
 *                          algorithm matches or differs.
 * The issue-6 mapping (the caller's): MALFORMED -> verdict MALFORMED, NO_SUPPORTED_ALG ->
 * INSUFFICIENT_COVERAGE when the policy wants a digest, MISMATCH -> BAD_SIGNATURE.
 *
 * The digests are compared with CRYPTO_memcmp (the body may be secret-dependent; the
 * comparison costs the same wherever the first difference is).
 *
 * Memory: no allocation with a context (one struct hm_sf_field, about 10 KiB, on the stack);
 * time linear in the body and the field lines.
 */
#ifndef HM_DIGEST_H
#define HM_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include "proto/errors.h"
#include "proto/item.h"

#define HM_SHA512_LEN 64

enum hm_cd_result {
	HM_CD_MATCH,
	HM_CD_MISMATCH,
	HM_CD_NO_SUPPORTED_ALG,
	HM_CD_MALFORMED,
};

/*
 * Fetched SHA-256 and SHA-512 and one reusable digest context, so that a check allocates
 * nothing. Not thread-safe: one per thread (the daemon: one per verifier).
 */
struct hm_digest_ctx;

/* *out = a new context. HM_OK, HM_ENOMEM, or HM_ECRYPTO (the digests cannot be fetched). */
int hm_digest_ctx_new(struct hm_digest_ctx **out) HM_MUSTCHECK;
/* Frees a context; NULL is a no-op. */
void hm_digest_ctx_free(struct hm_digest_ctx *ctx);

/* "OK"-style names for logs and tests: "MATCH", "MISMATCH", ...; "?" outside the enum. */
const char *hm_cd_result_name(enum hm_cd_result r);

/*
 * Checks the content-digest lines among headers[0..nheaders) against body[0..body_len) (body
 * may be NULL when body_len is 0). ctx may be NULL: then OpenSSL's EVP_Digest() with
 * EVP_sha256()/EVP_sha512() is used, which fetches and allocates per call (fine for tests and
 * one-off callers, not for the daemon's hot path).
 *
 * Returns HM_OK with *result set, or HM_ECRYPTO if OpenSSL failed to compute a digest (then
 * *result is HM_CD_MALFORMED, which refuses the item if the caller ignores the code). The
 * digest is computed only when a well-formed sha-256 / sha-512 member needs it.
 */
int hm_content_digest_check(struct hm_digest_ctx *ctx, const struct hm_header *headers,
			    size_t nheaders, const uint8_t *body, size_t body_len,
			    enum hm_cd_result *result) HM_MUSTCHECK;

/*
 * The same check for a body known only by its digests (sha256: 32 bytes; sha512: 64 bytes, or
 * NULL when it is not known). HM_OK with *result set as above, or HM_ENOTFOUND when the field
 * holds a well-formed sha-512 member and sha512 is NULL (the check cannot be made; *result is
 * then HM_CD_MALFORMED).
 */
int hm_content_digest_check_known(const struct hm_header *headers, size_t nheaders,
				  const uint8_t sha256[static HM_SHA256_LEN], const uint8_t *sha512,
				  enum hm_cd_result *result) HM_MUSTCHECK;

#endif
