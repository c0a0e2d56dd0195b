/*
 * scheme_v1.c - judging an hmacd-v1 item (PROTOCOL.md 7.1, 8): the policy's hmacd-v1 part (a
 * nonce, signed headers) from public data first; then the key by its epoch, the MAC of the
 * canonical string (proto/canon.h) over the body or its digest, compared over all 32 bytes,
 * the clock (|now - ts| <= skew) and the nonce, through the engine's core (core.h).
 */
#include "engine/core.h"

#include <string.h>

#include <openssl/crypto.h>

#include "proto/canon.h"

/* The MAC of the canonical string with the key's block into mac. false on a library failure. */
static bool compute_mac(struct hm_verifier *v, struct hm_kc_use *use, const struct hm_item *it,
			uint8_t mac[static HM_MAC_LEN])
{
	uint8_t digest[HM_SHA256_LEN];
	const uint8_t *d = it->v1.body_sha256;
	unsigned int dlen = 0;
	size_t len = 0;

	if (it->has_body) {
		if (EVP_DigestInit_ex(v->md, v->sha256, NULL) != 1 ||
		    EVP_DigestUpdate(v->md, it->body.ptr, it->body.len) != 1 ||
		    EVP_DigestFinal_ex(v->md, digest, &dlen) != 1)
			return false;
		d = digest;
	}
	if (hm_canon_build(it, d, v->canon, v->cfg.max_canonical, &len) != HM_OK)
		return false;
	return hm_vc_mac(use, v->canon, len, mac);
}

static bool ts_stale(uint64_t ts, int64_t now, int64_t skew)
{
	uint64_t n = now < 0 ? 0 : (uint64_t)now;
	uint64_t diff = ts > n ? ts - n : n - ts;

	return diff > (uint64_t)skew;
}

/* Does an hmacd-v1 item meet the hmacd-v1 part of its policy: a nonce, the headers signed? */
static bool v1_covered(const struct hm_policy *pol, const struct hm_item *it)
{
	if (pol->v1_nonce && it->v1.nonce.len == 0)
		return false;
	for (size_t i = 0; i < pol->v1_nheaders; i++) {
		size_t n = strlen(pol->v1_headers[i]);
		bool found = false;

		for (size_t j = 0; j < it->nheaders && !found; j++)
			found = it->headers[j].name.len == n &&
				memcmp(it->headers[j].name.ptr, pol->v1_headers[i], n) == 0;
		if (!found)
			return false;
	}
	return true;
}

enum hm_verdict hm_v1_judge(struct hm_verifier *v, const struct hm_item *it)
{
	struct hm_policy stored; /* written only when the scope or its tenant has a policy */
	enum hm_policy_source src;
	const struct hm_policy *pol;
	struct hm_vc_key k;
	enum hm_verdict verdict;
	uint8_t mac[HM_MAC_LEN];
	unsigned mac_ok, computed;

	/* coverage first, from what the sender sent and the policy: before any key is touched */
	pol = hm_vc_policy(v, it, &stored, &src);
	if (pol == NULL)
		return HM_V_MALFORMED; /* not sent: the batch is answered "internal" */
	if (!v1_covered(pol, it)) {
		v->reason = src == HM_POLICY_DEFAULT
				    ? "a nonce or a signed header the default policy requires is missing"
				    : "a nonce or a signed header the scope's policy requires is missing";
		return HM_V_INSUFFICIENT_COVERAGE;
	}
	k = hm_vc_key(v, hm_vc_find_key(v, it, it->v1.epoch, (struct hm_str){NULL, 0}));

	computed = compute_mac(v, k.use, it, mac);
	if (!computed)
		hm_vc_fault(v, "computing a MAC", "the crypto library failed");
	mac_ok = CRYPTO_memcmp(mac, it->v1.sig, HM_MAC_LEN) == 0;
	OPENSSL_cleanse(mac, sizeof(mac));
	verdict = hm_vc_verdict(!k.exists, k.revoked, !k.usable, !computed, !mac_ok,
			       ts_stale(it->v1.ts, v->now, v->cfg.skew));
	/* one branch, on the item's own nonce field first: an item without one never takes it */
	if ((it->v1.nonce.len > 0) & (verdict == HM_V_OK)) {
		int64_t ts = it->v1.ts > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)it->v1.ts;

		verdict = hm_vc_nonce(v, it, it->v1.nonce, ts, true);
	}
	return verdict;
}

