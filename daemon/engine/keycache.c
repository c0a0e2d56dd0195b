/*
 * keycache.c - set-associative cache of HMAC pad states, shared by the workers (keycache.h).
 *
 * The set is chosen by a seeded FNV-1a hash of the scope and epoch; within a set the name bytes
 * are compared exactly. Hostile names can at worst make one set's four entries evict each other.
 * A set is read and written under its shard's mutex only; each shard keeps its own LRU clock,
 * so the workers share no counter but the used count (relaxed atomic).
 */
#include "engine/keycache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "proto/item.h"

#define SHA256_BLOCK 64

struct slot {
	bool used;
	bool exists;
	uint8_t tlen, clen;
	enum hm_key_state state;
	int64_t deadline;
	uint64_t epoch; /* an epoch number, or an rfc9421 key id slot (keycache.h) */
	uint64_t hash;
	uint64_t txnid; /* the snapshot the entry was read from */
	uint64_t tick;  /* last use, for LRU within the set (its shard's clock) */
	EVP_MD_CTX *ipad, *opad; /* kept when the slot is re-keyed; freed when dropped */
	uint8_t names[2 * HM_SCOPE_MAX];
};

struct shard {
	pthread_mutex_t lock;
	uint64_t tick;
} __attribute__((aligned(64))); /* one cache line each: two workers' locks do not share one */

struct hm_keycache {
	struct shard shards[HM_KC_SHARDS];
	EVP_MD *sha256;
	uint8_t junk[HM_KEY_LEN]; /* keys the entries of epochs without a usable secret */
	size_t nsets; /* power of two */
	uint64_t seed;
	_Atomic uint64_t txnid; /* the newest snapshot a caller announced (hm_keycache_sync) */
	atomic_size_t used;
	struct slot *slots; /* nsets * HM_KC_WAYS */
};

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
	memset(u, 0, sizeof(*u));
}

int hm_kc_use_key(struct hm_kc_use *u, const EVP_MD *sha256, const uint8_t *key, size_t len)
{
	uint8_t pad[SHA256_BLOCK];
	bool ok;

	u->keyed = false;
	if (len == 0 || len > SHA256_BLOCK)
		return HM_EINVAL;
	memset(pad, 0x36, sizeof(pad));
	for (size_t i = 0; i < len; i++)
		pad[i] ^= key[i];
	ok = EVP_DigestInit_ex2(u->in, sha256, NULL) == 1 &&
	     EVP_DigestUpdate(u->in, pad, sizeof(pad)) == 1;
	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] ^= 0x36 ^ 0x5c;
	ok = ok && EVP_DigestInit_ex2(u->out, sha256, NULL) == 1 &&
	     EVP_DigestUpdate(u->out, pad, sizeof(pad)) == 1;
	OPENSSL_cleanse(pad, sizeof(pad));
	u->keyed = ok;
	return ok ? HM_OK : HM_ECRYPTO;
}

int hm_kc_use_copy(struct hm_kc_use *u, const struct hm_kc_use *src)
{
	u->exists = src->exists;
	u->state = src->state;
	u->deadline = src->deadline;
	u->keyed = src->keyed && EVP_MD_CTX_copy_ex(u->in, src->in) == 1 &&
		   EVP_MD_CTX_copy_ex(u->out, src->out) == 1;
	return u->keyed ? HM_OK : HM_ECRYPTO;
}

bool hm_kc_mac(struct hm_kc_use *u, const uint8_t *msg, size_t len,
	       uint8_t mac[static HM_MAC_LEN])
{
	uint8_t inner[HM_MAC_LEN];
	unsigned int n1 = 0, n2 = 0;
	bool ok;

	ok = u->keyed && EVP_DigestUpdate(u->in, msg, len) == 1 &&
	     EVP_DigestFinal_ex(u->in, inner, &n1) == 1 && n1 == HM_MAC_LEN &&
	     EVP_DigestUpdate(u->out, inner, sizeof(inner)) == 1 &&
	     EVP_DigestFinal_ex(u->out, mac, &n2) == 1 && n2 == HM_MAC_LEN;
	OPENSSL_cleanse(inner, sizeof(inner));
	u->keyed = false; /* the pad states are used up */
	return ok;
}

/* The cache and its slots are one mapping: its size, rounded to whole pages. */
static size_t map_size(size_t nsets)
{
	size_t page = 4096, n = sizeof(struct hm_keycache) + nsets * HM_KC_WAYS * sizeof(struct slot);

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
	 * the scopes in use); pre-faulted (MAP_POPULATE) so that serving never takes the fault.
	 */
	p = mmap(NULL, map_size(nsets), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (p == MAP_FAILED) {
		EVP_MD_free(sha256);
		return HM_ENOMEM;
	}
	if (madvise(p, map_size(nsets), MADV_DONTDUMP) != 0) {
		(void)munmap(p, map_size(nsets));
		EVP_MD_free(sha256);
		return HM_ENOMEM;
	}
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
	kc->slots = (struct slot *)(kc + 1);
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

/* Empties s, wiping its pad states. Caller holds its shard's lock (or is the only user). */
static void do_slot_drop(struct hm_keycache *kc, struct slot *s)
{
	if (s->used)
		atomic_fetch_sub_explicit(&kc->used, 1, memory_order_relaxed);
	EVP_MD_CTX_free(s->ipad); /* the provider frees SHA-256 state with OPENSSL_clear_free */
	EVP_MD_CTX_free(s->opad);
	memset(s, 0, sizeof(*s));
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
			do_slot_drop(kc, &kc->slots[i * HM_KC_WAYS + w]);
		pthread_mutex_unlock(&sh->lock);
	}
}

bool hm_keycache_sync(struct hm_keycache *kc, uint64_t txnid)
{
	uint64_t cur = atomic_load_explicit(&kc->txnid, memory_order_acquire);

	while (txnid > cur) {
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
	for (size_t i = 0; i < kc->nsets * HM_KC_WAYS; i++)
		do_slot_drop(kc, &kc->slots[i]);
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

static bool slot_is(const struct slot *s, uint64_t h, const uint8_t *t, size_t tl,
		    const uint8_t *c, size_t cl, uint64_t epoch)
{
	return s->used && s->hash == h && s->epoch == epoch && s->tlen == tl && s->clen == cl &&
	       memcmp(s->names, t, tl) == 0 && memcmp(s->names + tl, c, cl) == 0;
}

/* u = the slot's state and copies of its pad states. Caller holds the shard's lock. */
static int slot_out(const struct slot *s, struct hm_kc_use *u)
{
	u->exists = s->exists;
	u->state = s->state;
	u->deadline = s->deadline;
	u->keyed = EVP_MD_CTX_copy_ex(u->in, s->ipad) == 1 &&
		   EVP_MD_CTX_copy_ex(u->out, s->opad) == 1;
	return u->keyed ? HM_OK : HM_ECRYPTO;
}

int hm_keycache_get(struct hm_keycache *kc, const uint8_t *tenant, size_t tenant_len,
		    const uint8_t *container, size_t container_len, uint64_t epoch,
		    uint64_t txnid, struct hm_kc_use *u)
{
	struct shard *sh;
	struct slot *set;
	size_t si;
	uint64_t h;
	int rc = HM_ENOTFOUND;

	if (tenant_len > HM_SCOPE_MAX || container_len > HM_SCOPE_MAX || !hm_kc_key_ok(epoch))
		return HM_EINVAL;
	h = scope_hash(kc, tenant, tenant_len, container, container_len, epoch);
	si = h & (kc->nsets - 1);
	set = &kc->slots[si * HM_KC_WAYS];
	sh = shard_of(kc, si);
	pthread_mutex_lock(&sh->lock);
	for (unsigned w = 0; w < HM_KC_WAYS; w++) {
		if (slot_is(&set[w], h, tenant, tenant_len, container, container_len, epoch) &&
		    set[w].txnid == txnid) {
			set[w].tick = ++sh->tick;
			rc = slot_out(&set[w], u);
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
	struct slot *set, *victim;
	struct shard *sh;
	const uint8_t *key;
	size_t keylen, si;
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
	/* keyed in the caller's own contexts, outside the lock; the slot gets copies */
	rc = hm_kc_use_key(u, kc->sha256, key, keylen);
	if (rc != HM_OK)
		return rc;
	u->exists = rec != NULL;
	u->state = rec != NULL ? rec->state : HM_KEY_REVOKED;
	u->deadline = rec != NULL ? rec->deadline : 0;

	h = scope_hash(kc, tenant, tenant_len, container, container_len, epoch);
	si = h & (kc->nsets - 1);
	set = &kc->slots[si * HM_KC_WAYS];
	sh = shard_of(kc, si);
	pthread_mutex_lock(&sh->lock);
	victim = &set[0];
	for (unsigned w = 0; w < HM_KC_WAYS; w++) {
		if (!set[w].used ||
		    slot_is(&set[w], h, tenant, tenant_len, container, container_len, epoch)) {
			victim = &set[w];
			break;
		}
		if (set[w].tick < victim->tick)
			victim = &set[w];
	}
	/*
	 * Re-key the victim's pad states in place when it has them: no allocation while traffic
	 * cycles through more epochs than the cache holds. EVP_MD_CTX_copy_ex frees (and so
	 * wipes) the old key's state before it copies the new one.
	 */
	if (victim->ipad == NULL)
		victim->ipad = EVP_MD_CTX_new();
	if (victim->opad == NULL)
		victim->opad = EVP_MD_CTX_new();
	if (victim->ipad == NULL || victim->opad == NULL ||
	    EVP_MD_CTX_copy_ex(victim->ipad, u->in) != 1 ||
	    EVP_MD_CTX_copy_ex(victim->opad, u->out) != 1) {
		do_slot_drop(kc, victim);
		pthread_mutex_unlock(&sh->lock);
		return HM_ECRYPTO;
	}
	if (!victim->used)
		atomic_fetch_add_explicit(&kc->used, 1, memory_order_relaxed);
	victim->used = true;
	victim->hash = h;
	victim->epoch = epoch;
	victim->txnid = txnid;
	victim->tlen = (uint8_t)tenant_len;
	victim->clen = (uint8_t)container_len;
	memcpy(victim->names, tenant, tenant_len);
	memcpy(victim->names + tenant_len, container, container_len);
	victim->tick = ++sh->tick;
	victim->exists = u->exists;
	victim->state = u->state;
	victim->deadline = u->deadline;
	pthread_mutex_unlock(&sh->lock);
	return HM_OK;
}

size_t hm_keycache_used(const struct hm_keycache *kc)
{
	return atomic_load_explicit(&kc->used, memory_order_relaxed);
}
