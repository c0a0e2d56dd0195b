/*
 * keycache.h - the workers' shared cache of key epochs, each as its HMAC-SHA256 key block.
 *
 * HMAC(K, m) = H((K0 ^ opad) || H((K0 ^ ipad) || m)), K0 = K padded with zeros to one 64-byte
 * SHA-256 block. An entry keeps K0 inline in its slot; a lookup copies K0 out under the entry's
 * shard lock, and the MAC keys the caller's own two SHA-256 contexts from it (one compression
 * each) after the lock is released. OpenSSL 3.0's EVP cannot copy a keyed context without
 * allocating, nor import a SHA-256 state: keeping the pad states as EVP_MD_CTX put four heap
 * objects (eight to ten cold cache lines) on every hit; K0 inline costs two compressions more
 * per item and leaves a hit three cache lines to read, all prefetched ahead. (OpenSSL 3.0
 * allocates inside each EVP_DigestInit as it did inside each context copy: two per MAC.)
 * The cache also remembers epochs that do not exist, so that a known and an unknown key take the
 * same path: a lookup in this cache, then a MAC keyed from the entry's own block (a junk key
 * for the unknown one), every key the same 64 bytes long.
 *
 * Shared by every worker (one per daemon, hm_verify_config.key_cache_shared) or owned by one
 * verifier. Fixed size: capacity entries in sets of HM_KC_WAYS; a full set evicts its least
 * recently used entry. Sets are guarded by HM_KC_SHARDS mutexes (a set's shard is its index
 * modulo HM_KC_SHARDS); a lookup copies what it needs out under that lock, so nothing a caller
 * holds points into the cache.
 *
 * Freshness: every entry carries the LMDB txn id of the snapshot it was read from, and a lookup
 * hits only an entry of the caller's own snapshot. The first worker to see another snapshot
 * clears the whole cache (hm_keycache_sync), which wipes every key copy; an entry that a worker
 * still on an older snapshot adds afterwards is never used by one on the newer snapshot.
 *
 * Secrets: every copy of key material is wiped when it is dropped or replaced: a slot's block
 * (OPENSSL_cleanse when dropped, overwritten whole when re-keyed), a caller's copy and the pad
 * blocks made from it (OPENSSL_cleanse once the MAC is done), the contexts' SHA-256 states (the
 * provider wipes them when they are re-initialised or freed). The slots live in a mapping of
 * their own, left out of core dumps.
 */
#ifndef HM_KEYCACHE_H
#define HM_KEYCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "proto/errors.h"
#include "proto/item.h"
#include "store/keystore.h"

#define HM_KC_WAYS 8
#define HM_KC_SHARDS 256 /* mutexes; a power of two */
#define HM_KC_BLOCK 64   /* SHA-256's block: the longest key, and K0's length */

/*
 * What a lookup hands its caller: the entry's state and a copy of its key block, good for one
 * MAC (hm_kc_mac). The contexts are allocated once per caller (hm_kc_use_init) and
 * re-initialised for every MAC.
 */
struct hm_kc_use {
	bool exists;        /* false: the store has no such scope/epoch */
	bool keyed;         /* block holds a key (false once used, or after a failure) */
	enum hm_key_state state;
	int64_t deadline;
	const EVP_MD *sha256;
	EVP_MD_CTX *in;     /* SHA-256 of K0 ^ ipad || m */
	EVP_MD_CTX *out;    /* SHA-256 of K0 ^ opad || inner */
	uint8_t block[HM_KC_BLOCK]; /* K0: the key, zero-padded; wiped by hm_kc_mac */
};

/* HM_OK or HM_ENOMEM. */
int hm_kc_use_init(struct hm_kc_use *u) HM_MUSTCHECK;
void hm_kc_use_free(struct hm_kc_use *u);

/*
 * Gives u the key key[0..len) (1..64 bytes), for a MAC with sha256 (which must outlive u's use).
 * HM_OK, or HM_EINVAL for a length out of bounds. No branch on the key's bytes.
 */
int hm_kc_use_key(struct hm_kc_use *u, const EVP_MD *sha256, const uint8_t *key,
		  size_t len) HM_MUSTCHECK;

/* u = a copy of src's key and state. HM_OK, or HM_ECRYPTO when src holds no key. */
int hm_kc_use_copy(struct hm_kc_use *u, const struct hm_kc_use *src) HM_MUSTCHECK;

/*
 * The MAC of msg[0..len) with u's key, which it consumes and wipes: one MAC per lookup. Two
 * SHA-256 contexts keyed from the block (one compression each), the same work for every key.
 */
bool hm_kc_mac(struct hm_kc_use *u, const uint8_t *msg, size_t len,
	       uint8_t mac[static HM_MAC_LEN]);

struct hm_keycache;

/*
 * HM_OK, HM_ENOMEM or HM_ECRYPTO. `junk` is a random key nobody knows (copied, wiped at free):
 * entries for epochs that do not exist or are revoked are keyed with it.
 */
int hm_keycache_new(size_t capacity, const uint8_t junk[static HM_KEY_LEN],
		    struct hm_keycache **out) HM_MUSTCHECK;
void hm_keycache_free(struct hm_keycache *kc);
/* Drops every entry (wipes every key), one shard lock at a time. */
void hm_keycache_clear(struct hm_keycache *kc);
/*
 * The caller reads snapshot `txnid` from now on: the first caller with a txn id other than the
 * last one announced clears the cache and gets true (the others false; the very first id clears
 * nothing). A worker that announces an older id after a newer one only costs an extra clear.
 */
bool hm_keycache_sync(struct hm_keycache *kc, uint64_t txnid);

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

/*
 * Looks (tenant, container, epoch) up among the entries of snapshot `txnid`. HM_OK: a hit, u
 * holds the entry's state and a copy of its key; HM_ENOTFOUND: a miss (u untouched);
 * HM_EINVAL: names or epoch out of bounds.
 */
int hm_keycache_get(struct hm_keycache *kc, const uint8_t *tenant, size_t tenant_len,
		    const uint8_t *container, size_t container_len, uint64_t epoch,
		    uint64_t txnid, struct hm_kc_use *u) HM_MUSTCHECK;

/*
 * Where (tenant, container, epoch) lives in kc: a seeded hash of it, which picks its set and
 * tags its entry. Names longer than HM_SCOPE_MAX hash to a set all the same (the lookup then
 * refuses them).
 */
uint64_t hm_keycache_hash(const struct hm_keycache *kc, const uint8_t *tenant, size_t tenant_len,
			  const uint8_t *container, size_t container_len, uint64_t epoch);

/*
 * hm_keycache_get with the hash already taken (hm_keycache_hash of the same arguments): a
 * caller that prefetched an entry does not hash its names twice. A hash of other names only
 * misses (names are compared), never finds another scope's key.
 */
int hm_keycache_get_hashed(struct hm_keycache *kc, uint64_t hash, const uint8_t *tenant,
			   size_t tenant_len, const uint8_t *container, size_t container_len,
			   uint64_t epoch, uint64_t txnid, struct hm_kc_use *u) HM_MUSTCHECK;

/*
 * Look-ahead for the lookup of `hash`, without a lock and without waiting, in two steps a
 * caller spaces out so that the first one's load arrives before the second reads it:
 *   hm_keycache_prefetch_set:  starts loading the set's tag line (an address only);
 *   hm_keycache_prefetch_slot: reads that line's tags (atomically: a tag changing meanwhile
 *                              costs a useless prefetch, never a wrong answer) and starts
 *                              loading the three lines of each way whose tag matches
 *                              (usually one, or none).
 * Hints only: they change nothing and decide nothing. A caller that knows its next lookups
 * while the current item's crypto runs hides those cache misses behind it.
 */
void hm_keycache_prefetch_set(const struct hm_keycache *kc, uint64_t hash);
void hm_keycache_prefetch_slot(const struct hm_keycache *kc, uint64_t hash);

/*
 * Caches what snapshot `txnid` of the store said: rec != NULL for an existing epoch (its secret
 * keys the entry; the caller still wipes rec), NULL for "no such epoch" (the junk key). u gets
 * the new entry as from a hit. HM_OK, HM_EINVAL (bounds, or a secret of a length the store
 * never writes), HM_ENOMEM, HM_ECRYPTO; on an error the caller treats the key as unusable.
 */
int hm_keycache_put(struct hm_keycache *kc, const uint8_t *tenant, size_t tenant_len,
		    const uint8_t *container, size_t container_len, uint64_t epoch,
		    uint64_t txnid, const struct hm_key_rec *rec, struct hm_kc_use *u) HM_MUSTCHECK;

/* Entries in use, for stats (a relaxed read). */
size_t hm_keycache_used(const struct hm_keycache *kc);

#endif
