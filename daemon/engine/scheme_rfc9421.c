/*
 * scheme_rfc9421.c - judging an rfc9421 item (PROTOCOL.md 16): rfc9421.c reads it under the
 * scope's policy (MALFORMED, INSUFFICIENT_COVERAGE from public data alone) and builds the
 * signature base; then its key id is resolved to an epoch of the item's own scope (cached like
 * an epoch), and the MAC, the covered Content-Digest, the clock and the nonce are judged
 * through the engine's core (core.h), as for every scheme.
 */
#include "engine/core.h"

#include <string.h>

#include <openssl/crypto.h>

/*
 * The key-cache key of an rfc9421 key id: HM_KC_KEYID_BIT and 63 bits of SHA-256(salt, keyid).
 * Cached like an epoch (per scope: the names are part of the entry's key), a key id costs one
 * store lookup per cache lifetime, and a known and an unknown key id then take the same path.
 * false if the digest failed (the caller fails the batch).
 */
static bool keyid_slot(struct hm_verifier *v, struct hm_str keyid, uint64_t *ck)
{
	uint8_t d[HM_SHA256_LEN];
	unsigned int dlen = 0;
	uint64_t h = 0;

	if (EVP_DigestInit_ex(v->md, v->sha256, NULL) != 1 ||
	    EVP_DigestUpdate(v->md, v->keyid_salt, sizeof(v->keyid_salt)) != 1 ||
	    EVP_DigestUpdate(v->md, keyid.ptr, keyid.len) != 1 ||
	    EVP_DigestFinal_ex(v->md, d, &dlen) != 1)
		return false;
	memcpy(&h, d, sizeof(h));
	*ck = HM_KC_KEYID_BIT | h;
	return true;
}

enum hm_verdict hm_rfc9421_judge(struct hm_verifier *v, const struct hm_item *it)
{
	struct hm_policy stored; /* written only when the scope or its tenant has a policy */
	enum hm_policy_source src;
	const struct hm_policy *pol;
	struct hm_rfc_check c;
	struct hm_vc_key k;
	enum hm_verdict verdict;
	uint8_t mac[HM_MAC_LEN];
	unsigned mac_ok, computed;
	uint64_t ck = 0;

	pol = hm_vc_policy(v, it, &stored, &src);
	if (pol == NULL)
		return HM_V_MALFORMED; /* not sent: the batch is answered "internal" */
	switch (hm_rfc9421_read(it, pol, v->rfc, v->digest, v->base, v->base_cap, &c)) {
	case HM_RFC_READY:
		break;
	case HM_RFC_FAULT:
		hm_vc_fault(v, "rfc9421 item", c.why);
		return HM_V_MALFORMED; /* not sent: the batch is answered "internal" */
	case HM_RFC_COVERAGE:
		v->reason = c.why; /* a static sentence of rfc9421.c */
		return HM_V_INSUFFICIENT_COVERAGE;
	case HM_RFC_MALFORMED:
	default:
		v->reason = c.why;
		return HM_V_MALFORMED;
	}
	if (!keyid_slot(v, c.keyid, &ck)) {
		hm_vc_fault(v, "rfc9421 item", "hashing the key id failed");
		return HM_V_MALFORMED; /* not sent: the batch is answered "internal" */
	}
	k = hm_vc_key(v, hm_vc_find_key(v, it, ck, c.keyid));
	computed = hm_vc_mac(k.use, v->base, c.base_len, mac);
	if (!computed)
		hm_vc_fault(v, "computing a MAC", "the crypto library failed");
	mac_ok = (CRYPTO_memcmp(mac, c.sig, HM_MAC_LEN) == 0) & (c.digest != HM_RFC_DIGEST_MISMATCH);
	OPENSSL_cleanse(mac, sizeof(mac));
	verdict = hm_vc_verdict(!k.exists, k.revoked, !k.usable, !computed, !mac_ok,
			       hm_rfc9421_stale(&c, pol, v->now, v->cfg.skew));
	if ((c.nonce.len > 0) & (verdict == HM_V_OK))
		verdict = hm_vc_nonce(v, it, c.nonce, c.has_created ? c.created : v->now,
				      c.has_created & pol->check_age);
	return verdict;
}

