/*
 * core.h - the verify engine's shared core, private to daemon/engine: the verifier's state and
 * what every scheme's judge (scheme_v1.c, scheme_rfc9421.c) uses: the scope's policy, the key
 * (cache, then store), the MAC from the key's cached block, the branch-free verdict, the nonce
 * step, and the batch's fault. A scheme's judge decides what it can from the item and the
 * policy alone, then takes the same path as every other item (verify.h, the constant-time
 * contract).
 */
#ifndef HM_ENGINE_CORE_H
#define HM_ENGINE_CORE_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "engine/keycache.h"
#include "engine/rfc9421.h"
#include "engine/verify.h"

#define HM_VC_HINTS 4 /* the handler looks two items ahead of the one it judges */

struct hm_verifier {
	struct hm_verify_config cfg;
	struct hm_ks_reader *rd;
	struct hm_replay *replay;
	struct hm_keycache *cache;
	bool own_cache;       /* not shared: freed with the verifier */
	struct hm_kc_use use; /* the current item's key: its state and key block */
	struct hm_kc_use dummy; /* a key of random bytes nobody knows; exists = false */
	EVP_MD *sha256;
	EVP_MD_CTX *md;
	uint64_t txnid;
	bool have_txnid;
	bool policies_stored; /* the snapshot holds a policy: look each scope's up */
	bool in_batch;
	bool fault; /* a server-side failure in this batch: it must be answered "internal" */
	char fault_text[256]; /* what failed first, for the caller to log (hm_verify_fault) */
	const char *reason;   /* why the last item was refused before its key, or NULL */
	bool recorded;        /* the last item recorded a new nonce: `claim` says which */
	struct hm_nonce_claim claim;
	int64_t now;
	uint8_t *canon; /* cfg.max_canonical bytes */
	/* rfc9421 items: a signature base may exceed the frame (;bs re-encodes fields in base64) */
	uint8_t *base;
	size_t base_cap;
	struct hm_rfc_scratch *rfc;
	struct hm_digest_ctx *digest;
	uint8_t keyid_salt[16]; /* hides which key ids share a key-cache set (keyid_slot) */
	/*
	 * The key-cache hashes of the items hm_verify_prefetch() saw in this batch, so that the
	 * look-ahead and the lookup hash an item's names once: found again by the names' addresses
	 * in the request (distinct items, distinct bytes), lengths and epoch; emptied by every
	 * hm_verify_begin(), since the next request may reuse the same addresses.
	 */
	struct hm_vc_hint {
		const uint8_t *tenant, *container;
		size_t tenant_len, container_len;
		uint64_t epoch, hash;
	} hint[HM_VC_HINTS];
	unsigned hint_next;
	struct hm_verify_stats stats;
};

/* What the key's cache entry allows, as bits (no branch on the key's state). */
struct hm_vc_key {
	unsigned exists, revoked, usable;
	struct hm_kc_use *use; /* the key for one MAC */
};

/* A failure of ours, not of the item: the first one is kept for the caller, the batch fails. */
void hm_vc_fault(struct hm_verifier *v, const char *what, const char *why);

/*
 * The policy of the item's scope: its own, its tenant's, else the daemon's default (no lookup
 * while the store holds no policy at all). `stored` is the caller's room for a stored one.
 * NULL on a store failure (counted; the batch fails).
 */
const struct hm_policy *hm_vc_policy(struct hm_verifier *v, const struct hm_item *it,
				     struct hm_policy *stored, enum hm_policy_source *src);

/*
 * The key-cache entry of the item's scope under cache key `ck`: an epoch number (hmacd-v1), or
 * an rfc9421 key id's slot (HM_KC_KEYID_BIT set), whose epoch is resolved in the store on a
 * miss only, from `keyid`: v->use, holding the entry's state and a copy of its key.
 * NULL when the store or the cache failed (judged as unknown; the batch fails) or the epoch is
 * out of bounds (judged as unknown).
 */
struct hm_kc_use *hm_vc_find_key(struct hm_verifier *v, const struct hm_item *it, uint64_t ck,
				 struct hm_str keyid);

/*
 * What the key found (or its absence: then v->use gets the dummy's key) allows,
 * computed without a branch on the key's state.
 */
struct hm_vc_key hm_vc_key(struct hm_verifier *v, struct hm_kc_use *u);

/* The MAC of msg[0..len) with the key's block (keycache.h, hm_kc_mac). */
bool hm_vc_mac(struct hm_kc_use *u, const uint8_t *msg, size_t len,
	       uint8_t mac[static HM_MAC_LEN]);

/* The verdict by the precedence of PROTOCOL.md from one bit per condition, with no branch. */
enum hm_verdict hm_vc_verdict(unsigned unknown, unsigned revoked, unsigned unusable,
			      unsigned failed, unsigned bad_mac, unsigned stale);

/*
 * The nonce step of an item that passed everything else (verdict OK): refused if signed (ts)
 * before the nonce table was complete, else recorded until ts can no longer pass the clock
 * check. guard: apply the before-start rule (false when the item's time is not checked).
 */
enum hm_verdict hm_vc_nonce(struct hm_verifier *v, const struct hm_item *it,
			    struct hm_str nonce, int64_t ts, bool guard);

/* Each scheme's judge: one item to one verdict (counted by hm_verify_item()). */
enum hm_verdict hm_v1_judge(struct hm_verifier *v, const struct hm_item *it);
enum hm_verdict hm_rfc9421_judge(struct hm_verifier *v, const struct hm_item *it);

#endif
