/*
 * digest.c - RFC 9530 Content-Digest against a body (digest.h).
 *
 * The field is parsed by sigbase.c's hm_sb_parse_field_lines(), the function that reads
 * `content-digest;sf` for a signature base, so that what the signature covered and what is
 * checked here are the same Dictionary. Every supported member is validated before any digest
 * is computed: a malformed field never costs a hash of the body, and MALFORMED does not depend
 * on the body.
 */
#include "proto/digest.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "proto/sfv.h"
#include "proto/sigbase.h"

struct hm_digest_ctx {
	EVP_MD *sha256;
	EVP_MD *sha512;
	EVP_MD_CTX *md;
};

int hm_digest_ctx_new(struct hm_digest_ctx **out)
{
	struct hm_digest_ctx *c;
	int rc = HM_ECRYPTO;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return HM_ENOMEM;
	c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	c->sha512 = EVP_MD_fetch(NULL, "SHA512", NULL);
	c->md = EVP_MD_CTX_new();
	if (c->sha256 == NULL || c->sha512 == NULL)
		goto fail;
	if (c->md == NULL) {
		rc = HM_ENOMEM;
		goto fail;
	}
	*out = c;
	return HM_OK;
fail:
	hm_digest_ctx_free(c);
	return rc;
}

void hm_digest_ctx_free(struct hm_digest_ctx *ctx)
{
	if (ctx == NULL)
		return;
	EVP_MD_CTX_free(ctx->md);
	EVP_MD_free(ctx->sha512);
	EVP_MD_free(ctx->sha256);
	free(ctx);
}

const char *hm_cd_result_name(enum hm_cd_result r)
{
	switch (r) {
	case HM_CD_MATCH:
		return "MATCH";
	case HM_CD_MISMATCH:
		return "MISMATCH";
	case HM_CD_NO_SUPPORTED_ALG:
		return "NO_SUPPORTED_ALG";
	case HM_CD_MALFORMED:
		return "MALFORMED";
	}
	return "?";
}

/* the supported algorithms, in the order they are checked */
static const struct {
	const char *key;
	size_t keylen;
	size_t len;
	bool sha512;
} algs[] = {
	{"sha-256", 7, HM_SHA256_LEN, false},
	{"sha-512", 7, HM_SHA512_LEN, true},
};

#define NALGS (sizeof(algs) / sizeof(algs[0]))

static int compute(struct hm_digest_ctx *ctx, bool sha512, const uint8_t *body, size_t len,
		   uint8_t *out, size_t want)
{
	static const uint8_t empty[1];
	const EVP_MD *md;
	unsigned int got = 0;

	if (body == NULL)
		body = empty; /* len is 0: EVP wants a pointer all the same */
	if (ctx == NULL) {
		md = sha512 ? EVP_sha512() : EVP_sha256();
		if (EVP_Digest(body, len, out, &got, md, NULL) != 1)
			return HM_ECRYPTO;
	} else {
		if (EVP_DigestInit_ex(ctx->md, sha512 ? ctx->sha512 : ctx->sha256, NULL) != 1 ||
		    EVP_DigestUpdate(ctx->md, body, len) != 1 ||
		    EVP_DigestFinal_ex(ctx->md, out, &got) != 1)
			return HM_ECRYPTO;
	}
	return got == want ? HM_OK : HM_ECRYPTO;
}

/*
 * Both checks: against body[0..body_len), or, when known is not NULL, against the digests it
 * holds by algorithm (known[a] NULL: not known, HM_ENOTFOUND if a member needs it).
 */
static int check(struct hm_digest_ctx *ctx, const struct hm_header *headers, size_t nheaders,
		 const uint8_t *body, size_t body_len, const uint8_t *const *known,
		 enum hm_cd_result *result)
{
	struct hm_sf_field f;
	uint8_t want[NALGS][HM_SHA512_LEN], got[HM_SHA512_LEN];
	bool used[NALGS] = {false};
	size_t nused = 0, nlines, n;
	int rc;

	*result = HM_CD_MALFORMED;
	rc = hm_sb_parse_field_lines(headers, nheaders, (const uint8_t *)"content-digest", 14,
				     HM_SF_KIND_DICT, &f, &nlines);
	if (rc != HM_OK)
		return HM_OK; /* MALFORMED */
	if (nlines == 0) {
		*result = HM_CD_NO_SUPPORTED_ALG;
		return HM_OK;
	}
	/* every supported member well-formed first */
	for (size_t a = 0; a < NALGS; a++) {
		const struct hm_sf_member *m = hm_sf_dict_get(&f, algs[a].key, algs[a].keylen);

		if (m == NULL)
			continue;
		if (m->is_inner)
			return HM_OK; /* MALFORMED */
		rc = hm_sf_bytes_decode(&m->bare, want[a], algs[a].len, &n);
		if (rc != HM_OK || n != algs[a].len)
			return HM_OK; /* MALFORMED */
		used[a] = true;
		nused++;
	}
	if (nused == 0) {
		*result = HM_CD_NO_SUPPORTED_ALG;
		return HM_OK;
	}
	*result = HM_CD_MATCH;
	for (size_t a = 0; a < NALGS; a++) {
		if (!used[a])
			continue;
		if (known != NULL && known[a] == NULL) {
			*result = HM_CD_MALFORMED;
			rc = HM_ENOTFOUND;
			break;
		}
		if (known != NULL)
			memcpy(got, known[a], algs[a].len);
		else
			rc = compute(ctx, algs[a].sha512, body, body_len, got, algs[a].len);
		if (rc != HM_OK) {
			*result = HM_CD_MALFORMED;
			break;
		}
		if (CRYPTO_memcmp(got, want[a], algs[a].len) != 0)
			*result = HM_CD_MISMATCH;
	}
	OPENSSL_cleanse(got, sizeof(got));
	return rc;
}

int hm_content_digest_check(struct hm_digest_ctx *ctx, const struct hm_header *headers,
			    size_t nheaders, const uint8_t *body, size_t body_len,
			    enum hm_cd_result *result)
{
	return check(ctx, headers, nheaders, body, body_len, NULL, result);
}

int hm_content_digest_check_known(const struct hm_header *headers, size_t nheaders,
				  const uint8_t sha256[static HM_SHA256_LEN], const uint8_t *sha512,
				  enum hm_cd_result *result)
{
	const uint8_t *known[NALGS] = {sha256, sha512}; /* in the order of algs[] */

	return check(NULL, headers, nheaders, NULL, 0, known, result);
}
