/* sign.c - one-shot hmacd-v1 signing (see sign.h). */
#include "sign.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "canon.h"

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
	tmp.sig = nosig; /* signing: the sig is what we compute */
	rc = hm_item_check(&tmp);
	if (rc != HM_OK)
		goto out;
	if (item->has_body) {
		rc = hm_sha256(item->body.ptr, item->body.len, digest);
		if (rc != HM_OK)
			goto out;
	} else {
		memcpy(digest, item->body_sha256, HM_SHA256_LEN);
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

int hm_sign_item(const uint8_t *secret, size_t secret_len, const struct hm_item *item,
		 uint8_t sig[static HM_MAC_LEN])
{
	uint8_t *canon = NULL;
	unsigned int maclen = 0;
	size_t len = 0;
	int rc;

	if (secret_len < HM_SECRET_MIN || secret_len > HM_SECRET_MAX)
		return HM_EINVAL;
	rc = hm_canon_alloc(item, &canon, &len);
	if (rc != HM_OK)
		goto out;
	if (HMAC(EVP_sha256(), secret, (int)secret_len, canon, len, sig, &maclen) == NULL ||
	    maclen != HM_MAC_LEN) {
		OPENSSL_cleanse(sig, HM_MAC_LEN);
		rc = HM_ECRYPTO;
		goto out;
	}
out:
	free(canon);
	return rc;
}
