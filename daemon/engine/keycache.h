/*
 * keycache.h - the workers' shared cache of key epochs, each as its HMAC-SHA256 pad states.
 *
 * HMAC(K, m) = H((K ^ opad) || H((K ^ ipad) || m)). An entry keeps the two SHA-256 contexts
 * that have absorbed K ^ ipad and K ^ opad (one 64-byte block each): a MAC then starts from
 * copies of them, with no key schedule. Keying an entry costs two SHA-256 compressions, done
 * once per epoch and cache lifetime; a hit costs two context copies under the entry's shard
 * lock. The cache also remembers epochs that do not exist, so that a known and an unknown key
 * take the same path: a lookup in this cache, then a MAC from the entry's own pad states (keyed
 * with a junk key for the unknown one).
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
 * Secrets: every copy of key material is wiped when it is dropped or replaced: the pad block on
 * the stack (OPENSSL_cleanse), a slot's pad states when re-keyed (EVP_MD_CTX_copy_ex frees the
 * old state with OPENSSL_clear_free) or dropped (EVP_MD_CTX_free, likewise). The slots live in
 * a mapping of their own, left out of core dumps.
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

/*
 * What a lookup hands its caller: the entry's state and the caller's own copies of its pad
 * states, good for one MAC (hm_kc_mac). Allocated once per caller (hm_kc_use_init).
 */
struct hm_kc_use {
	bool exists;        /* false: the store has no such scope/epoch */
	bool keyed;         /* in and out hold pad states (false only after a failure) */
	enum hm_key_state state;
	int64_t deadline;
	EVP_MD_CTX *in;     /* SHA-256 after K ^ ipad */
	EVP_MD_CTX *out;    /* SHA-256 after K ^ opad */
};

/* HM_OK or HM_ENOMEM. */
int hm_kc_use_init(struct hm_kc_use *u) HM_MUSTCHECK;
void hm_kc_use_free(struct hm_kc_use *u);

/*
 * Keys u's contexts with key[0..len) (1..64 bytes): SHA-256 of one block K ^ ipad, one of
 * K ^ opad. HM_OK or HM_ECRYPTO. No branch on the key's bytes.
 */
int hm_kc_use_key(struct hm_kc_use *u, const EVP_MD *sha256, const uint8_t *key,
		  size_t len) HM_MUSTCHECK;

/* u = copies of src's pad states and state. HM_OK or HM_ECRYPTO (u->keyed false). */
int hm_kc_use_copy(struct hm_kc_use *u, const struct hm_kc_use *src) HM_MUSTCHECK;

/* The MAC of msg[0..len) from u's pad states (which it consumes: one MAC per lookup). */
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
/* Drops every entry (wipes every pad state), one shard lock at a time. */
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
 * holds the entry's state and copies of its pad states; HM_ENOTFOUND: a miss (u untouched);
 * HM_EINVAL: names or epoch out of bounds; HM_ECRYPTO: the copy failed (u->keyed false).
 */
int hm_keycache_get(struct hm_keycache *kc, const uint8_t *tenant, size_t tenant_len,
		    const uint8_t *container, size_t container_len, uint64_t epoch,
		    uint64_t txnid, struct hm_kc_use *u) HM_MUSTCHECK;

/*
 * Starts loading, without waiting and without a lock, the memory a lookup of (tenant,
 * container, epoch) will read first: its set's tags and both cache lines of each of its ways
 * (sixteen lines). A hint: it reads nothing of the cache and changes nothing. A caller that knows its
 * next lookup while the current item's crypto runs hides those cache misses behind it.
 */
void hm_keycache_prefetch(const struct hm_keycache *kc, const uint8_t *tenant, size_t tenant_len,
			  const uint8_t *container, size_t container_len, uint64_t epoch);

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
