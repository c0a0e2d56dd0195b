/*
 * verify.c - the verify engine's core and its entry points (see verify.h for the contract,
 * core.h for what the schemes' judges share; each scheme judges in engine/scheme_*.c).
 *
 * Order of work per item, the same whatever the key's state:
 *   0. the scope's policy (store, else the default): an item that does not cover what it
 *      requires is INSUFFICIENT_COVERAGE from public data alone, before any key is touched;
 *   1. key-cache lookup (on a miss: store lookup, then cache the answer, existing or not);
 *   2. hmacd-v1: body digest (or the digest the item carries) and the canonical string;
 *      rfc9421: the scope's policy, then rfc9421.c reads the item and builds the signature
 *      base (a MALFORMED or INSUFFICIENT_COVERAGE item stops here: that is decided from what
 *      the sender sent and the policy, before any key is looked at); its key id is cached
 *      like an epoch (step 1), resolved in the store to an epoch of the item's scope on a miss;
 *   3. HMAC keyed from a copy of the entry's own key block (a junk key's when the epoch
 *      does not exist or is revoked: the same work on the same kind of memory);
 *   4. CRYPTO_memcmp of all 32 bytes;
 *   5. the verdict, by the precedence of PROTOCOL.md; a nonce is recorded only for an item that
 *      passed everything else.
 */
#include "engine/verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "engine/core.h"
#include "engine/keycache.h"

int hm_verifier_new(const struct hm_verify_config *cfg, struct hm_ks_reader *rd,
		    struct hm_replay *replay, struct hm_verifier **out)
{
	struct hm_verifier *v;
	uint8_t dummy_key[HM_KEY_LEN];
	int rc = HM_ENOMEM;

	*out = NULL;
	v = calloc(1, sizeof(*v));
	if (v == NULL)
		return HM_ENOMEM;
	v->cfg = *cfg;
	v->rd = rd;
	v->replay = replay;
	v->canon = malloc(cfg->max_canonical);
	v->base_cap = 2 * cfg->max_canonical;
	v->base = malloc(v->base_cap);
	v->rfc = malloc(sizeof(*v->rfc));
	if (v->canon == NULL || v->base == NULL || v->rfc == NULL)
		goto fail;
	/* fetched once per worker: fetching per message costs a provider lookup each time */
	v->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	v->md = EVP_MD_CTX_new();
	if (v->sha256 == NULL || v->md == NULL) {
		rc = HM_ECRYPTO;
		goto fail;
	}
	rc = hm_kc_use_init(&v->use);
	if (rc == HM_OK)
		rc = hm_kc_use_init(&v->dummy);
	if (rc != HM_OK)
		goto fail;
	rc = hm_digest_ctx_new(&v->digest);
	if (rc != HM_OK)
		goto fail;
	if (RAND_bytes(dummy_key, sizeof(dummy_key)) != 1 ||
	    RAND_bytes(v->keyid_salt, sizeof(v->keyid_salt)) != 1) {
		rc = HM_ECRYPTO;
		goto fail;
	}
	rc = hm_kc_use_key(&v->dummy, v->sha256, dummy_key, sizeof(dummy_key));
	v->dummy.exists = false;
	v->dummy.state = HM_KEY_REVOKED;
	if (rc != HM_OK) {
		OPENSSL_cleanse(dummy_key, sizeof(dummy_key));
		goto fail;
	}
	v->cache = cfg->key_cache_shared;
	if (v->cache == NULL) {
		/* the same random key also keys the cache entries of epochs without a secret */
		rc = hm_keycache_new(cfg->key_cache, dummy_key, &v->cache);
		v->own_cache = rc == HM_OK;
	}
	OPENSSL_cleanse(dummy_key, sizeof(dummy_key));
	if (rc != HM_OK)
		goto fail;
	*out = v;
	return HM_OK;
fail:
	hm_verifier_free(v);
	return rc;
}

void hm_verifier_free(struct hm_verifier *v)
{
	if (v == NULL)
		return;
	if (v->in_batch && hm_verify_end(v) != HM_OK)
		v->fault = false; /* freed mid-batch: nothing of it is answered anyway */
	if (v->own_cache)
		hm_keycache_free(v->cache);
	hm_kc_use_free(&v->dummy);
	hm_kc_use_free(&v->use);
	EVP_MD_CTX_free(v->md);
	hm_digest_ctx_free(v->digest);
	EVP_MD_free(v->sha256);
	if (v->canon != NULL)
		OPENSSL_cleanse(v->canon, v->cfg.max_canonical);
	free(v->canon);
	free(v->base);
	free(v->rfc);
	free(v);
}

int hm_verify_begin(struct hm_verifier *v, int64_t now)
{
	uint64_t txnid = 0;
	int rc;

	v->fault_text[0] = '\0';
	rc = hm_ks_reader_begin(v->rd, &txnid);
	if (rc != HM_OK) {
		hm_counter_add(&v->stats.store_errors, 1);
		snprintf(v->fault_text, sizeof(v->fault_text), "key store: %s",
			 hm_ks_reader_errmsg(v->rd));
		return HM_ESTORE;
	}
	/*
	 * A new snapshot means hmacctl committed: what was cached may be stale. The first worker
	 * to see it clears the (shared) cache; entries of other snapshots never hit (keycache.h).
	 */
	if (!v->have_txnid || txnid != v->txnid) {
		if (hm_keycache_sync(v->cache, txnid)) {
			atomic_store_explicit(&v->stats.key_cache_used, hm_keycache_used(v->cache),
					      memory_order_relaxed);
			hm_counter_add(&v->stats.key_cache_clears, 1);
		}
		rc = hm_ks_reader_has_policies(v->rd, &v->policies_stored);
		if (rc != HM_OK) {
			hm_counter_add(&v->stats.store_errors, 1);
			snprintf(v->fault_text, sizeof(v->fault_text), "key store: %s",
				 hm_ks_reader_errmsg(v->rd));
			hm_ks_reader_end(v->rd);
			v->have_txnid = false;
			return HM_ESTORE;
		}
		v->txnid = txnid;
		v->have_txnid = true;
	}
	v->now = now;
	v->in_batch = true;
	v->fault = false;
	memset(v->hint, 0, sizeof(v->hint));
	v->hint_next = 0;
	return HM_OK;
}

/* A failure of ours, not of the item: the first one is kept for the caller, the batch fails. */
void hm_vc_fault(struct hm_verifier *v, const char *what, const char *why)
{
	if (!v->fault)
		snprintf(v->fault_text, sizeof(v->fault_text), "%s: %s", what, why);
	v->fault = true;
}

const char *hm_verify_fault(const struct hm_verifier *v)
{
	return v->fault_text;
}

const char *hm_verify_reason(const struct hm_verifier *v)
{
	return v->reason;
}

int hm_verify_end(struct hm_verifier *v)
{
	if (!v->in_batch)
		return HM_OK;
	hm_ks_reader_end(v->rd);
	v->in_batch = false;
	return v->fault ? HM_ESTORE : HM_OK;
}

/*
 * Sets *epoch to the epoch that keyid names in the item's own scope, or to 0 (no epoch is 0)
 * when the keyid is unknown or belongs to another scope: both are judged exactly like an
 * unknown epoch, so a signer learns nothing about other scopes' key ids. HM_OK, or HM_ESTORE
 * (counted, the batch fails; nothing may be cached from it).
 */
static int epoch_of_keyid(struct hm_verifier *v, const struct hm_item *it, struct hm_str keyid,
			  uint64_t *epoch)
{
	struct hm_key_ref ref;
	int rc;

	*epoch = 0;
	rc = hm_ks_lookup_keyid(v->rd, keyid.ptr, keyid.len, &ref);
	if (rc == HM_ENOTFOUND)
		return HM_OK;
	if (rc != HM_OK) {
		hm_counter_add(&v->stats.store_errors, 1);
		hm_vc_fault(v, "key store keyid lookup", hm_ks_reader_errmsg(v->rd));
		return HM_ESTORE;
	}
	if (ref.tenant_len == it->tenant.len && ref.container_len == it->container.len &&
	    memcmp(ref.tenant, it->tenant.ptr, ref.tenant_len) == 0 &&
	    memcmp(ref.container, it->container.ptr, ref.container_len) == 0)
		*epoch = ref.epoch;
	return HM_OK;
}

/* The hint hm_verify_prefetch() left for this item's scope and epoch, or NULL. */
static const struct hm_vc_hint *hint_of(const struct hm_verifier *v, const struct hm_item *it,
					uint64_t epoch)
{
	for (unsigned k = 0; k < HM_VC_HINTS; k++) {
		const struct hm_vc_hint *h = &v->hint[k];

		if (h->tenant == it->tenant.ptr && h->container == it->container.ptr &&
		    h->tenant_len == it->tenant.len && h->container_len == it->container.len &&
		    h->epoch == epoch && h->tenant != NULL)
			return h;
	}
	return NULL;
}

/*
 * The key-cache entry of the item's scope under cache key `ck`: an epoch number (hmacd-v1), or
 * an rfc9421 key id's slot (keyid_slot), whose epoch is resolved in the store on a miss only.
 */
struct hm_kc_use *hm_vc_find_key(struct hm_verifier *v, const struct hm_item *it, uint64_t ck,
				 struct hm_str keyid)
{
	const struct hm_vc_hint *hint;
	struct hm_key_rec rec;
	uint64_t epoch = ck;
	int rc;

	hint = (ck & HM_KC_KEYID_BIT) ? NULL : hint_of(v, it, ck);
	if (hint != NULL)
		rc = hm_keycache_get_hashed(v->cache, hint->hash, it->tenant.ptr, it->tenant.len,
					    it->container.ptr, it->container.len, ck, v->txnid,
					    &v->use);
	else
		rc = hm_keycache_get(v->cache, it->tenant.ptr, it->tenant.len, it->container.ptr,
				     it->container.len, ck, v->txnid, &v->use);
	if (rc == HM_OK) {
		hm_counter_add(&v->stats.key_cache_hits, 1);
		return &v->use;
	}
	hm_counter_add(&v->stats.key_cache_misses, 1);
	if ((ck & HM_KC_KEYID_BIT) && epoch_of_keyid(v, it, keyid, &epoch) != HM_OK)
		return NULL; /* judged as unknown, the batch fails, and nothing is cached */
	rc = hm_ks_lookup(v->rd, it->tenant.ptr, it->tenant.len, it->container.ptr,
			  it->container.len, epoch, &rec);
	if (rc == HM_OK || rc == HM_ENOTFOUND) {
		rc = hm_keycache_put(v->cache, it->tenant.ptr, it->tenant.len, it->container.ptr,
				     it->container.len, ck, v->txnid, rc == HM_OK ? &rec : NULL,
				     &v->use);
		/* HM_EINVAL: an epoch out of bounds, judged as unknown like any other */
		if (rc == HM_ENOMEM || rc == HM_ECRYPTO)
			hm_vc_fault(v, "key cache", hm_strerror(rc));
	} else {
		hm_counter_add(&v->stats.store_errors, 1);
		hm_vc_fault(v, "key store lookup", hm_ks_reader_errmsg(v->rd));
	}
	OPENSSL_cleanse(&rec, sizeof(rec));
	atomic_store_explicit(&v->stats.key_cache_used, hm_keycache_used(v->cache),
			      memory_order_relaxed);
	return rc == HM_OK ? &v->use : NULL; /* NULL: treat as unknown (fails closed) */
}

/* The MAC of msg[0..len) with the key's block (copied for this item). */
bool hm_vc_mac(struct hm_kc_use *u, const uint8_t *msg, size_t len,
	       uint8_t mac[static HM_MAC_LEN])
{
	return hm_kc_mac(u, msg, len, mac);
}

/*
 * The verdict by the precedence of PROTOCOL.md, with no branch: each condition is one bit and
 * the lowest set bit wins. A branch chain here is predicted by how often each verdict occurs,
 * and its mispredictions showed in tests/ct/dudect.c as 20 to 70 cycles between an unknown key,
 * a wrong signature and a right one.
 */
enum hm_verdict hm_vc_verdict(unsigned unknown, unsigned revoked, unsigned unusable,
				    unsigned failed, unsigned bad_mac, unsigned stale)
{
	static const uint8_t by_bit[7] = {
		HM_V_UNKNOWN_KEY, HM_V_KEY_REVOKED,     HM_V_KEY_EXPIRED, HM_V_MALFORMED,
		HM_V_BAD_SIGNATURE, HM_V_STALE_TIMESTAMP, HM_V_OK,
	};
	unsigned bits = unknown | revoked << 1 | unusable << 2 | failed << 3 | bad_mac << 4 |
			stale << 5 | 1u << 6;

	return (enum hm_verdict)by_bit[__builtin_ctz(bits)];
}


struct hm_vc_key hm_vc_key(struct hm_verifier *v, struct hm_kc_use *u)
{
	struct hm_vc_key k;

	/*
	 * Every cache entry has a key of its own (a junk key when the epoch has no usable
	 * secret), so the MAC is computed the same way whatever the key's state; only a
	 * failure that left no entry at all (or an epoch out of bounds) falls back to the dummy's,
	 * judged as unknown.
	 */
	if (u == NULL) {
		u = &v->use;
		if (hm_kc_use_copy(u, &v->dummy) != HM_OK)
			u->keyed = false; /* the MAC then fails, and with it the batch */
	}
	/* bitwise & and |, not && and ||: no branch on the key's state */
	k.exists = u->exists;
	k.revoked = k.exists & (u->state == HM_KEY_REVOKED);
	k.usable = k.exists & u->keyed &
		   ((u->state == HM_KEY_CURRENT) |
		    ((u->state == HM_KEY_SUPERSEDED) & (v->now < u->deadline)));
	k.use = u;
	return k;
}

/*
 * The nonce step of an item that passed everything else (verdict OK): refused if signed (ts)
 * before this cache existed, else recorded until ts can no longer pass the clock check.
 * guard: apply the before-start rule (false when the item's time is not checked at all).
 */
enum hm_verdict hm_vc_nonce(struct hm_verifier *v, const struct hm_item *it,
				   struct hm_str nonce, int64_t ts, bool guard)
{
	struct hm_nonce_id id;
	int64_t expires;

	if (guard && ts < v->cfg.nonces_since) {
		/* signed before this cache existed: it may have been seen by the previous run */
		hm_counter_add(&v->stats.nonce_before_start, 1);
		return HM_V_REPLAY;
	}
	if (ts > INT64_MAX / 2)
		ts = INT64_MAX / 2;
	expires = (ts > v->now ? ts : v->now) + v->cfg.skew + 1;
	if (hm_replay_key(v->replay, v->md, v->sha256, it->tenant.ptr, it->tenant.len,
			  it->container.ptr, it->container.len, nonce.ptr, nonce.len,
			  &id) != HM_OK)
		return HM_V_REPLAY; /* cannot record it: fail closed */
	switch (hm_replay_check(v->replay, &id, expires, v->now)) {
	case HM_REPLAY_FRESH:
		v->recorded = true;
		v->claim = (struct hm_nonce_claim){.tenant = it->tenant,
						   .container = it->container,
						   .nonce = nonce,
						   .ttl_ms = (expires - v->now) * 1000};
		return HM_V_OK;
	case HM_REPLAY_FULL:
		hm_counter_add(&v->stats.nonce_cache_full, 1);
		return HM_V_REPLAY;
	case HM_REPLAY_TENANT_FULL:
		hm_counter_add(&v->stats.nonce_tenant_full, 1);
		return HM_V_REPLAY;
	case HM_REPLAY_SEEN:
	default:
		return HM_V_REPLAY;
	}
}

/*
 * The policy of the item's scope: its own, its tenant's, else the daemon's default (no lookup
 * while the store holds no policy at all). `stored` is the caller's room for a stored one.
 * NULL on a store failure (counted; the batch fails).
 */
const struct hm_policy *hm_vc_policy(struct hm_verifier *v, const struct hm_item *it,
					 struct hm_policy *stored, enum hm_policy_source *src)
{
	int rc;

	*src = HM_POLICY_DEFAULT;
	if (!v->policies_stored)
		return &v->cfg.default_policy;
	rc = hm_ks_policy_lookup(v->rd, it->tenant.ptr, it->tenant.len, it->container.ptr,
				 it->container.len, stored, src);
	if (rc != HM_OK) {
		hm_counter_add(&v->stats.store_errors, 1);
		hm_vc_fault(v, "key store policy lookup", hm_ks_reader_errmsg(v->rd));
		return NULL;
	}
	return *src != HM_POLICY_DEFAULT ? stored : &v->cfg.default_policy;
}

/* Each scheme's judge, in its own file (engine/scheme_*.c), around the core above. */
static enum hm_verdict (*const judges[])(struct hm_verifier *v, const struct hm_item *it) = {
	[HM_SCHEME_HMACD_V1] = hm_v1_judge,
	[HM_SCHEME_RFC9421] = hm_rfc9421_judge,
};

enum hm_verdict hm_verify_item(struct hm_verifier *v, const struct hm_item *it)
{
	enum hm_verdict verdict;

	v->reason = NULL;
	v->recorded = false;
	verdict = judges[it->scheme == HM_SCHEME_RFC9421 ? HM_SCHEME_RFC9421 : HM_SCHEME_HMACD_V1](
		v, it);
	hm_counter_add(&v->stats.verdicts[verdict], 1);
	return verdict;
}

void hm_verify_prefetch(struct hm_verifier *v, const struct hm_item *it)
{
	struct hm_vc_hint *h;

	if (it->scheme != HM_SCHEME_HMACD_V1 || !hm_kc_key_ok(it->v1.epoch) ||
	    it->tenant.len > HM_SCOPE_MAX || it->container.len > HM_SCOPE_MAX)
		return;
	h = &v->hint[v->hint_next++ % HM_VC_HINTS];
	h->tenant = it->tenant.ptr;
	h->container = it->container.ptr;
	h->tenant_len = it->tenant.len;
	h->container_len = it->container.len;
	h->epoch = it->v1.epoch;
	h->hash = hm_keycache_hash(v->cache, it->tenant.ptr, it->tenant.len, it->container.ptr,
				   it->container.len, it->v1.epoch);
	hm_keycache_prefetch_set(v->cache, h->hash);
}

void hm_verify_prefetch_key(struct hm_verifier *v, const struct hm_item *it)
{
	const struct hm_vc_hint *h;

	if (it->scheme != HM_SCHEME_HMACD_V1)
		return;
	h = hint_of(v, it, it->v1.epoch);
	if (h != NULL)
		hm_keycache_prefetch_slot(v->cache, h->hash);
}

bool hm_verify_nonce_recorded(const struct hm_verifier *v, struct hm_nonce_claim *out)
{
	if (!v->recorded)
		return false;
	*out = v->claim;
	return true;
}

void hm_verify_recount(struct hm_verifier *v, enum hm_verdict was, enum hm_verdict now)
{
	if (was == now || was >= HM_V__COUNT || now >= HM_V__COUNT)
		return;
	hm_counter_add(&v->stats.verdicts[was], UINT64_MAX); /* mod 2^64: one less */
	hm_counter_add(&v->stats.verdicts[now], 1);
}

void hm_verify_count_malformed(struct hm_verifier *v)
{
	hm_counter_add(&v->stats.verdicts[HM_V_MALFORMED], 1);
}

const struct hm_verify_stats *hm_verify_stats(const struct hm_verifier *v)
{
	return &v->stats;
}
