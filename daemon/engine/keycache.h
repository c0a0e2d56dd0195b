/*
 * keycache.h - a worker's cache of key epochs, each with a pre-keyed HMAC-SHA256 context.
 *
 * Keying an HMAC context costs about four MACs; the cache does it once per epoch, after which a
 * verify only re-initialises the context (EVP_MAC_init(ctx, NULL, 0, NULL)). It also remembers
 * epochs that do not exist, so that a known and an unknown key take the same path: a lookup in
 * this cache, then a MAC with the entry's own context (keyed with a junk key for the unknown
 * one).
 *
 * Owned by one worker thread: no locks. Fixed size: capacity entries in sets of HM_KC_WAYS;
 * a full set evicts its least recently used entry. The owner clears the whole cache when the key
 * store changed (verify.c compares LMDB txn ids per batch). Evicted and cleared contexts are
 * freed, which wipes their key material (OpenSSL cleanses HMAC state on free).
 */
#ifndef HM_KEYCACHE_H
#define HM_KEYCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "proto/errors.h"
#include "store/keystore.h"

#define HM_KC_WAYS 4

struct hm_kc_entry {
	bool exists;        /* false: the store has no such scope/epoch */
	enum hm_key_state state;
	int64_t deadline;
	/*
	 * Always set. Keyed with the epoch's secret, or, for an epoch that does not exist or is
	 * revoked, with the cache's junk key: every entry is used the same way, down to the kind
	 * of memory its MAC touches (a shared dummy context showed in dudect, |t| about 30).
	 */
	EVP_MAC_CTX *mac;
};

struct hm_keycache;

/*
 * HM_OK or HM_ENOMEM. `mac` (HMAC, fetched once by the caller) must outlive the cache. `junk`
 * is a random key nobody knows (copied, wiped at free): entries for epochs that do not exist or
 * are revoked get a context of their own keyed with it.
 */
int hm_keycache_new(size_t capacity, EVP_MAC *mac, const uint8_t junk[static HM_KEY_LEN],
		    struct hm_keycache **out) HM_MUSTCHECK;
void hm_keycache_free(struct hm_keycache *kc);
/* Drops every entry (frees and so wipes every context). */
void hm_keycache_clear(struct hm_keycache *kc);

/*
 * The third part of an entry's key: an epoch number (1..UINT32_MAX; 0 never exists), or, for an
 * rfc9421 key id, HM_KC_KEYID_BIT | 63 bits of a salted SHA-256 of the key id (verify.c), so a
 * key id resolves to its epoch once per cache lifetime instead of once per item. Two key ids
 * of one scope would share an entry only by a SHA-256 collision under a salt nobody outside
 * the process knows.
 */
#define HM_KC_KEYID_BIT (UINT64_C(1) << 63)
static inline bool hm_kc_key_ok(uint64_t k)
{
	return k <= UINT32_MAX || (k & HM_KC_KEYID_BIT) != 0;
}

/* The cached entry for (tenant, container, epoch), or NULL. */
const struct hm_kc_entry *hm_keycache_get(struct hm_keycache *kc, const uint8_t *tenant,
					  size_t tenant_len, const uint8_t *container,
					  size_t container_len, uint64_t epoch);

/*
 * Caches what the store said: rec != NULL for an existing epoch (its secret keys a new context;
 * the caller still wipes rec), NULL for "no such epoch". Returns the entry, or NULL with *rc set
 * (HM_ENOMEM, HM_ECRYPTO); the caller then treats the key as unusable.
 */
const struct hm_kc_entry *hm_keycache_put(struct hm_keycache *kc, const uint8_t *tenant,
					  size_t tenant_len, const uint8_t *container,
					  size_t container_len, uint64_t epoch,
					  const struct hm_key_rec *rec, int *rc);

/* A new HMAC-SHA256 context keyed with key[0..len). NULL on failure. */
EVP_MAC_CTX *hm_mac_new_keyed(EVP_MAC *mac, const uint8_t *key, size_t len);

/* Entries in use, for stats. */
size_t hm_keycache_used(const struct hm_keycache *kc);

#endif
