/*
 * keycache.c - set-associative cache of HMAC keys, shared by the workers (keycache.h).
 *
 * The set is chosen by a seeded FNV-1a hash of the scope and epoch; within a set the name bytes
 * are compared exactly. Hostile names can at worst make one set's entries evict each other.
 * A set is read and written under its shard's mutex only; each shard keeps its own LRU clock,
 * so the workers share no counter but the used count (relaxed atomic).
 *
 * Memory: a lookup reads one cache line of tags and use ticks for the set (struct tags), then
 * only the slot whose tag matches: 192 bytes, its names inline up to NAMES_INLINE bytes and its
 * key block in the third line. Eight ways: with four, a cache as large as the working set kept
 * half of 1,000,000 scopes out (LRU sets that hold more scopes than ways, visited in turn, never
 * hit); with eight and twice the working set, about 5%.
 *
 * The tags are atomics (relaxed) so that hm_keycache_prefetch_slot() may read them without
 * the lock; every other field of a set is read and written under its shard's lock only.
 */
#include "engine/keycache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "engine/prefault.h"
#include "proto/item.h"

#define NAMES_INLINE 80

struct slot {
	bool exists;
	uint8_t tlen, clen;
	uint8_t state; /* enum hm_key_state */
	int64_t deadline;
	uint64_t epoch; /* an epoch number, or an rfc9421 key id slot (keycache.h) */
	uint64_t hash;
	uint64_t txnid; /* the snapshot the entry was read from */
	uint8_t *long_names; /* names longer than NAMES_INLINE: 2 * HM_SCOPE_MAX bytes, kept */
	uint8_t names[NAMES_INLINE];
	uint8_t block[HM_KC_BLOCK]; /* K0, the key zero-padded (the junk key's for no secret) */
};

_Static_assert(sizeof(struct slot) == 192, "a slot is three cache lines");
_Static_assert(offsetof(struct slot, block) == 128, "the key block fills the third line");

/* A set's tags (0: empty slot) and last uses, for LRU: one cache line. */
struct tags {
	_Atomic uint32_t tag[HM_KC_WAYS]; /* written under the lock, read by the prefetch too */
	uint32_t tick[HM_KC_WAYS]; /* its shard's clock; a wrap only misorders LRU once */
} __attribute__((aligned(64)));

struct shard {
	pthread_mutex_t lock;
	uint32_t tick;
} __attribute__((aligned(64))); /* one cache line each: two workers' locks do not share one */

struct hm_keycache {
	struct shard shards[HM_KC_SHARDS];
	EVP_MD *sha256;
	uint8_t junk[HM_KEY_LEN]; /* keys the entries of epochs without a usable secret */
	size_t nsets; /* power of two */
	uint64_t seed;
	_Atomic uint64_t txnid; /* the newest snapshot a caller announced (hm_keycache_sync) */
	atomic_size_t used;
	struct tags *tags;  /* nsets */
	struct slot *slots; /* nsets * HM_KC_WAYS */
};

/* A slot's tag: 32 bits of the hash other than the set index's, never 0. */
static uint32_t tag_of(uint64_t h)
{
	return (uint32_t)(h >> 32) | 1u;
}

static const uint8_t *slot_names(const struct slot *s)
{
	return s->long_names != NULL ? s->long_names : s->names;
}

static uint32_t tag_get(const struct tags *tg, unsigned w)
{
	return atomic_load_explicit(&tg->tag[w], memory_order_relaxed);
}

static void tag_set(struct tags *tg, unsigned w, uint32_t tag)
{
	atomic_store_explicit(&tg->tag[w], tag, memory_order_relaxed);
}

int hm_kc_use_init(struct hm_kc_use *u)
{
	memset(u, 0, sizeof(*u));
	u->in = EVP_MD_CTX_new();
	u->out = EVP_MD_CTX_new();
	if (u->in == NULL || u->out == NULL) {
		hm_kc_use_free(u);
		return HM_ENOMEM;
	}
	return HM_OK;
}

void hm_kc_use_free(struct hm_kc_use *u)
{
	EVP_MD_CTX_free(u->in); /* the provider wipes the SHA-256 state it frees */
	EVP_MD_CTX_free(u->out);
	OPENSSL_cleanse(u, sizeof(*u));
}

/* block = key[0..len) then zeros (K0). len <= HM_KC_BLOCK; no branch on the key's bytes. */
static void key_block(uint8_t block[static HM_KC_BLOCK], const uint8_t *key, size_t len)
{
	memcpy(block, key, len);
	memset(block + len, 0, HM_KC_BLOCK - len);
}

int hm_kc_use_key(struct hm_kc_use *u, const EVP_MD *sha256, const uint8_t *key, size_t len)
{
	u->keyed = false;
	if (len == 0 || len > HM_KC_BLOCK)
		return HM_EINVAL;
	key_block(u->block, key, len);
	u->sha256 = sha256;
	u->keyed = true;
	return HM_OK;
}

int hm_kc_use_copy(struct hm_kc_use *u, const struct hm_kc_use *src)
{
	u->exists = src->exists;
	u->state = src->state;
	u->deadline = src->deadline;
	u->sha256 = src->sha256;
	memcpy(u->block, src->block, sizeof(u->block));
	u->keyed = src->keyed;
	return u->keyed ? HM_OK : HM_ECRYPTO;
}

/* ctx = SHA-256 after absorbing K0 ^ (pad byte x): HMAC's inner (0x36) or outer (0x5c) state. */
static bool pad_state(EVP_MD_CTX *ctx, const EVP_MD *sha256, const uint8_t k0[HM_KC_BLOCK],
		      uint8_t x)
{
	uint8_t pad[HM_KC_BLOCK];
	bool ok;

	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] = k0[i] ^ x;
	ok = EVP_DigestInit_ex2(ctx, sha256, NULL) == 1 &&
	     EVP_DigestUpdate(ctx, pad, sizeof(pad)) == 1;
	OPENSSL_cleanse(pad, sizeof(pad));
	return ok;
}

bool hm_kc_mac(struct hm_kc_use *u, const uint8_t *msg, size_t len,
	       uint8_t mac[static HM_MAC_LEN])
{
	uint8_t inner[HM_MAC_LEN];
	unsigned int n1 = 0, n2 = 0;
	bool ok;

	ok = u->keyed && pad_state(u->in, u->sha256, u->block, 0x36) &&
	     EVP_DigestUpdate(u->in, msg, len) == 1 &&
	     EVP_DigestFinal_ex(u->in, inner, &n1) == 1 && n1 == HM_MAC_LEN &&
	     pad_state(u->out, u->sha256, u->block, 0x5c) &&
	     EVP_DigestUpdate(u->out, inner, sizeof(inner)) == 1 &&
	     EVP_DigestFinal_ex(u->out, mac, &n2) == 1 && n2 == HM_MAC_LEN;
	OPENSSL_cleanse(inner, sizeof(inner));
	OPENSSL_cleanse(u->block, sizeof(u->block));
	u->keyed = false; /* the key is used up */
	return ok;
}

/* The cache and its slots are one mapping: its size, rounded to whole pages. */
static size_t map_size(size_t nsets)
{
	size_t page = 4096, n = sizeof(struct hm_keycache) + nsets * sizeof(struct tags) +
				nsets * HM_KC_WAYS * sizeof(struct slot);

	return (n + page - 1) / page * page;
}

int hm_keycache_new(size_t capacity, const uint8_t junk[static HM_KEY_LEN],
		    struct hm_keycache **out)
{
	struct hm_keycache *kc;
	size_t nsets = 1;
	EVP_MD *sha256;
	void *p;

	*out = NULL;
	while (nsets * HM_KC_WAYS < capacity)
		nsets *= 2;
	sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (sha256 == NULL)
		return HM_ECRYPTO;
	/*
	 * Its own mapping, so that it can be left out of core dumps (the junk key, the names of
	 * the scopes in use); in huge pages where the kernel has them (a large cache is read at
	 * random: one TLB entry per 2 MB instead of per 4 KB; refused or unsupported is fine);
	 * pre-faulted, after the advice, so that serving never takes the fault.
	 */
	p = mmap(NULL, map_size(nsets), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		 0);
	if (p == MAP_FAILED) {
		EVP_MD_free(sha256);
		return HM_ENOMEM;
	}
	if (madvise(p, map_size(nsets), MADV_DONTDUMP) != 0) {
		(void)munmap(p, map_size(nsets));
		EVP_MD_free(sha256);
		return HM_ENOMEM;
	}
#ifdef MADV_HUGEPAGE
	(void)madvise(p, map_size(nsets), MADV_HUGEPAGE);
#endif
	hm_prefault(p, map_size(nsets));
	kc = p;
	for (unsigned i = 0; i < HM_KC_SHARDS; i++) {
		if (pthread_mutex_init(&kc->shards[i].lock, NULL) != 0) {
			while (i-- > 0)
				pthread_mutex_destroy(&kc->shards[i].lock);
			(void)munmap(p, map_size(nsets));
			EVP_MD_free(sha256);
			return HM_ENOMEM;
		}
	}
	kc->tags = (struct tags *)(kc + 1);
	kc->slots = (struct slot *)(kc->tags + nsets);
	kc->sha256 = sha256;
	memcpy(kc->junk, junk, HM_KEY_LEN);
	kc->nsets = nsets;
	atomic_init(&kc->txnid, 0);
	atomic_init(&kc->used, 0);
	if (RAND_bytes((unsigned char *)&kc->seed, sizeof(kc->seed)) != 1)
		kc->seed = (uint64_t)(uintptr_t)kc; /* only spreads sets; no security rests on it */
	*out = kc;
	return HM_OK;
}

/* Empties way w of set i, wiping its key. Caller holds its shard's lock (or is alone). */
static void do_slot_drop(struct hm_keycache *kc, size_t i, unsigned w)
{
	struct slot *s = &kc->slots[i * HM_KC_WAYS + w];

	if (tag_get(&kc->tags[i], w) == 0)
		return; /* empty: nothing to wipe (and a clear of a large cache stays cheap) */
	atomic_fetch_sub_explicit(&kc->used, 1, memory_order_relaxed);
	tag_set(&kc->tags[i], w, 0);
	kc->tags[i].tick[w] = 0;
	free(s->long_names); /* names are not secret */
	OPENSSL_cleanse(s, sizeof(*s));
}

static struct shard *shard_of(struct hm_keycache *kc, size_t set)
{
	return &kc->shards[set & (HM_KC_SHARDS - 1)];
}

void hm_keycache_clear(struct hm_keycache *kc)
{
	if (atomic_load_explicit(&kc->used, memory_order_relaxed) == 0)
		return;
	for (size_t i = 0; i < kc->nsets; i++) {
		struct shard *sh = shard_of(kc, i);

		pthread_mutex_lock(&sh->lock);
		for (unsigned w = 0; w < HM_KC_WAYS; w++)
			do_slot_drop(kc, i, w);
		pthread_mutex_unlock(&sh->lock);
	}
}

bool hm_keycache_sync(struct hm_keycache *kc, uint64_t txnid)
{
	uint64_t cur = atomic_load_explicit(&kc->txnid, memory_order_acquire);

	/*
	 * Any other id, not only a newer one: LMDB's ids only grow, but a store replaced under
	 * the daemon would start them over, and its entries must not meet the old ones.
	 */
	while (txnid != cur) {
		if (atomic_compare_exchange_weak_explicit(&kc->txnid, &cur, txnid,
							  memory_order_acq_rel,
							  memory_order_acquire)) {
			if (cur == 0)
				return false; /* the first snapshot: nothing was cached before it */
			hm_keycache_clear(kc);
			return true;
		}
	}
	return false;
}

void hm_keycache_free(struct hm_keycache *kc)
{
	if (kc == NULL)
		return;
	for (size_t i = 0; i < kc->nsets; i++)
		for (unsigned w = 0; w < HM_KC_WAYS; w++)
			do_slot_drop(kc, i, w);
	for (unsigned i = 0; i < HM_KC_SHARDS; i++)
		pthread_mutex_destroy(&kc->shards[i].lock);
	OPENSSL_cleanse(kc->junk, sizeof(kc->junk));
	EVP_MD_free(kc->sha256);
	(void)munmap(kc, map_size(kc->nsets));
}

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t scope_hash(const struct hm_keycache *kc, const uint8_t *t, size_t tl,
			   const uint8_t *c, size_t cl, uint64_t epoch)
{
	uint8_t sep[2] = {(uint8_t)tl, (uint8_t)cl};
	uint64_t h = 0xcbf29ce484222325ULL ^ kc->seed;

	h = fnv(h, sep, sizeof(sep));
	h = fnv(h, t, tl);
	h = fnv(h, c, cl);
	h = fnv(h, (const uint8_t *)&epoch, sizeof(epoch));
	return h ^ (h >> 29);
}

/* Way w of the set holds this scope and epoch (of any snapshot). */
static bool slot_is(const struct hm_keycache *kc, size_t i, unsigned w, uint64_t h,
		    const uint8_t *t, size_t tl, const uint8_t *c, size_t cl, uint64_t epoch)
{
	const struct slot *s = &kc->slots[i * HM_KC_WAYS + w];

	return tag_get(&kc->tags[i], w) == tag_of(h) && s->hash == h && s->epoch == epoch &&
	       s->tlen == tl && s->clen == cl && memcmp(slot_names(s), t, tl) == 0 &&
	       memcmp(slot_names(s) + tl, c, cl) == 0;
}

uint64_t hm_keycache_hash(const struct hm_keycache *kc, const uint8_t *tenant, size_t tenant_len,
			  const uint8_t *container, size_t container_len, uint64_t epoch)
{
	return scope_hash(kc, tenant, tenant_len, container, container_len, epoch);
}

void hm_keycache_prefetch_set(const struct hm_keycache *kc, uint64_t hash)
{
	__builtin_prefetch(&kc->tags[hash & (kc->nsets - 1)]); /* an address only */
}

void hm_keycache_prefetch_slot(const struct hm_keycache *kc, uint64_t hash)
{
	size_t si = hash & (kc->nsets - 1);
	const struct tags *tg = &kc->tags[si];
	uint32_t tag = tag_of(hash);

	/* the tags, read atomically; of the slots, addresses only (__builtin_prefetch) */
	for (unsigned w = 0; w < HM_KC_WAYS; w++) {
		if (tag_get(tg, w) == tag) {
			const struct slot *s = &kc->slots[si * HM_KC_WAYS + w];

			__builtin_prefetch(s);
			__builtin_prefetch(s->names + NAMES_INLINE - 1);
			__builtin_prefetch(s->block);
		}
	}
}

/* u = the slot's state and a copy of its key. Caller holds the shard's lock. */
static void slot_out(const struct hm_keycache *kc, const struct slot *s, struct hm_kc_use *u)
{
	u->exists = s->exists;
	u->state = (enum hm_key_state)s->state;
	u->deadline = s->deadline;
	u->sha256 = kc->sha256;
	memcpy(u->block, s->block, sizeof(u->block));
	u->keyed = true;
}

int hm_keycache_get(struct hm_keycache *kc, const uint8_t *tenant, size_t tenant_len,
		    const uint8_t *container, size_t container_len, uint64_t epoch,
		    uint64_t txnid, struct hm_kc_use *u)
{
	return hm_keycache_get_hashed(
		kc, scope_hash(kc, tenant, tenant_len, container, container_len, epoch), tenant,
		tenant_len, container, container_len, epoch, txnid, u);
}

int hm_keycache_get_hashed(struct hm_keycache *kc, uint64_t h, const uint8_t *tenant,
			   size_t tenant_len, const uint8_t *container, size_t container_len,
			   uint64_t epoch, uint64_t txnid, struct hm_kc_use *u)
{
	struct shard *sh;
	size_t si;
	int rc = HM_ENOTFOUND;

	if (tenant_len > HM_SCOPE_MAX || container_len > HM_SCOPE_MAX || !hm_kc_key_ok(epoch))
		return HM_EINVAL;
	si = h & (kc->nsets - 1);
	sh = shard_of(kc, si);
	pthread_mutex_lock(&sh->lock);
	for (unsigned w = 0; w < HM_KC_WAYS; w++) {
		if (slot_is(kc, si, w, h, tenant, tenant_len, container, container_len, epoch) &&
		    kc->slots[si * HM_KC_WAYS + w].txnid == txnid) {
			kc->tags[si].tick[w] = ++sh->tick;
			slot_out(kc, &kc->slots[si * HM_KC_WAYS + w], u);
			rc = HM_OK;
			break;
		}
	}
	pthread_mutex_unlock(&sh->lock);
	return rc;
}

int hm_keycache_put(struct hm_keycache *kc, const uint8_t *tenant, size_t tenant_len,
		    const uint8_t *container, size_t container_len, uint64_t epoch,
		    uint64_t txnid, const struct hm_key_rec *rec, struct hm_kc_use *u)
{
	struct slot *victim;
	struct tags *tg;
	struct shard *sh;
	const uint8_t *key;
	size_t keylen, si;
	unsigned vw;
	uint64_t h;
	int rc;

	u->keyed = false;
	if (tenant_len > HM_SCOPE_MAX || container_len > HM_SCOPE_MAX || !hm_kc_key_ok(epoch))
		return HM_EINVAL;
	/* no usable secret (no such epoch, or revoked): the junk key, same work, same path */
	key = kc->junk;
	keylen = HM_KEY_LEN;
	if (rec != NULL && rec->state != HM_KEY_REVOKED) {
		if (rec->secret_len < HM_KEY_MIN || rec->secret_len > HM_KEY_MAX)
			return HM_EINVAL;
		key = rec->secret;
		keylen = rec->secret_len;
	}
	rc = hm_kc_use_key(u, kc->sha256, key, keylen);
	if (rc != HM_OK)
		return rc;
	u->exists = rec != NULL;
	u->state = rec != NULL ? rec->state : HM_KEY_REVOKED;
	u->deadline = rec != NULL ? rec->deadline : 0;

	h = scope_hash(kc, tenant, tenant_len, container, container_len, epoch);
	si = h & (kc->nsets - 1);
	tg = &kc->tags[si];
	sh = shard_of(kc, si);
	pthread_mutex_lock(&sh->lock);
	vw = 0;
	for (unsigned w = 0; w < HM_KC_WAYS; w++) {
		if (tag_get(tg, w) == 0 ||
		    slot_is(kc, si, w, h, tenant, tenant_len, container, container_len, epoch)) {
			vw = w;
			break;
		}
		if (tg->tick[w] < tg->tick[vw])
			vw = w;
	}
	victim = &kc->slots[si * HM_KC_WAYS + vw];
	/* a long-names buffer is kept while the slot is re-used for long names */
	if (tenant_len + container_len > NAMES_INLINE && victim->long_names == NULL) {
		victim->long_names = malloc(2 * HM_SCOPE_MAX);
		if (victim->long_names == NULL) {
			do_slot_drop(kc, si, vw);
			pthread_mutex_unlock(&sh->lock);
			OPENSSL_cleanse(u->block, sizeof(u->block));
			u->keyed = false;
			return HM_ENOMEM;
		}
	}
	if (tenant_len + container_len <= NAMES_INLINE) {
		free(victim->long_names);
		victim->long_names = NULL;
	}
	if (tag_get(tg, vw) == 0)
		atomic_fetch_add_explicit(&kc->used, 1, memory_order_relaxed);
	tag_set(tg, vw, tag_of(h));
	tg->tick[vw] = ++sh->tick;
	victim->hash = h;
	victim->epoch = epoch;
	victim->txnid = txnid;
	victim->tlen = (uint8_t)tenant_len;
	victim->clen = (uint8_t)container_len;
	memcpy(victim->long_names != NULL ? victim->long_names : victim->names, tenant, tenant_len);
	memcpy((victim->long_names != NULL ? victim->long_names : victim->names) + tenant_len,
	       container, container_len);
	victim->exists = u->exists;
	victim->state = (uint8_t)u->state;
	victim->deadline = u->deadline;
	memcpy(victim->block, u->block, sizeof(victim->block)); /* the old key, overwritten whole */
	pthread_mutex_unlock(&sh->lock);
	return HM_OK;
}

size_t hm_keycache_used(const struct hm_keycache *kc)
{
	return atomic_load_explicit(&kc->used, memory_order_relaxed);
}
