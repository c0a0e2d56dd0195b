/* sign.c - one-shot hmacd-v1 and RFC 9421 signing (see sign.h). */
#include "proto/sign.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "proto/canon.h"
#include "proto/frame.h"
#include "proto/sfv.h"

int hm_sha256(const uint8_t *p, size_t n, uint8_t out[static HM_SHA256_LEN])
{
	unsigned int len = 0;

	if (EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) != 1 || len != HM_SHA256_LEN)
		return HM_ECRYPTO;
	return HM_OK;
}

int hm_canon_alloc(const struct hm_item *item, uint8_t **out, size_t *len)
{
	struct hm_item tmp = *item;
	uint8_t digest[HM_SHA256_LEN], *buf = NULL;
	static const uint8_t nosig[HM_MAC_LEN];
	size_t cap;
	int rc;

	*out = NULL;
	tmp.v1.sig = nosig; /* signing: the sig is what we compute */
	rc = hm_item_check(&tmp);
	if (rc != HM_OK)
		goto out;
	if (item->has_body) {
		rc = hm_sha256(item->body.ptr, item->body.len, digest);
		if (rc != HM_OK)
			goto out;
	} else {
		memcpy(digest, item->v1.body_sha256, HM_SHA256_LEN);
	}
	cap = hm_canon_len(item);
	buf = malloc(cap ? cap : 1);
	if (buf == NULL) {
		rc = HM_ENOMEM;
		goto out;
	}
	rc = hm_canon_build(item, digest, buf, cap, len);
	if (rc != HM_OK)
		goto out;
	*out = buf;
	buf = NULL;
out:
	free(buf);
	return rc;
}

/* sig = HMAC-SHA256(secret, msg[0..len)). HM_OK, HM_ECRYPTO (sig wiped). */
static int hmac(const uint8_t *secret, size_t secret_len, const uint8_t *msg, size_t len,
		uint8_t sig[static HM_MAC_LEN])
{
	unsigned int maclen = 0;

	if (HMAC(EVP_sha256(), secret, (int)secret_len, msg, len, sig, &maclen) == NULL ||
	    maclen != HM_MAC_LEN) {
		OPENSSL_cleanse(sig, HM_MAC_LEN);
		return HM_ECRYPTO;
	}
	return HM_OK;
}

int hm_sign_item(const uint8_t *secret, size_t secret_len, const struct hm_item *item,
		 uint8_t sig[static HM_MAC_LEN])
{
	uint8_t *canon = NULL;
	size_t len = 0;
	int rc;

	if (secret_len < HM_SECRET_MIN || secret_len > HM_SECRET_MAX)
		return HM_EINVAL;
	rc = hm_canon_alloc(item, &canon, &len);
	if (rc == HM_OK)
		rc = hmac(secret, secret_len, canon, len, sig);
	free(canon);
	return rc;
}

/* bases grow from this size up to the largest a daemon builds (twice its largest frame) */
#define BASE_FIRST_CAP 1024u
#define BASE_MAX_CAP (2 * (size_t)HM_FRAME_MAX_MAX)

int hm_rfc9421_base_alloc(const struct hm_item *item, uint8_t **out, size_t *len,
			  enum hm_sb_reason *why)
{
	struct hm_sb_request req = hm_sb_request_of(item);
	struct hm_sf_field *f = malloc(sizeof(*f));
	const struct hm_sf_member *m = NULL;
	uint8_t *buf = NULL;
	size_t cap = BASE_FIRST_CAP;
	int rc = HM_ENOMEM;

	*out = NULL;
	*len = 0;
	*why = HM_SB_OK;
	if (f == NULL)
		goto out;
	rc = hm_sf_parse(item->rfc.signature_input.ptr, item->rfc.signature_input.len,
			 HM_SF_KIND_DICT, f);
	if (rc != HM_OK)
		goto out;
	rc = hm_sb_select(f, item->rfc.label, &m, why);
	if (rc != HM_OK)
		goto out;
	for (;;) {
		buf = malloc(cap + 1);
		if (buf == NULL) {
			rc = HM_ENOMEM;
			goto out;
		}
		rc = hm_sb_build(&req, f, m, buf, cap, len, NULL, why);
		if (rc != HM_ETOOBIG || cap >= BASE_MAX_CAP)
			break;
		free(buf);
		buf = NULL;
		cap *= 2;
	}
	if (rc == HM_OK) {
		*out = buf;
		buf = NULL;
	}
out:
	free(buf);
	free(f);
	return rc;
}

int hm_sign_rfc9421(const uint8_t *secret, size_t secret_len, const struct hm_item *item,
		    uint8_t sig[static HM_MAC_LEN])
{
	enum hm_sb_reason why;
	uint8_t *base = NULL;
	size_t len = 0;
	int rc;

	if (secret_len < HM_SECRET_MIN || secret_len > HM_SECRET_MAX)
		return HM_EINVAL;
	rc = hm_rfc9421_base_alloc(item, &base, &len, &why);
	if (rc == HM_OK)
		rc = hmac(secret, secret_len, base, len, sig);
	free(base);
	return rc;
}
