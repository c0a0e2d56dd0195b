/*
 * keycache.c - set-associative cache of pre-keyed MAC contexts (see keycache.h).
 *
 * The set is chosen by a seeded FNV-1a hash of the scope and epoch; within a set the name bytes
 * are compared exactly. Hostile names can at worst make one set's four entries evict each other.
 */
#include "engine/keycache.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "proto/item.h"

struct slot {
	struct hm_kc_entry e;
	bool used;
	uint8_t tlen, clen;
	uint64_t epoch; /* an epoch number, or an rfc9421 key id slot (keycache.h) */
	uint64_t hash;
	uint64_t tick; /* last use, for LRU within the set */
	uint8_t names[2 * HM_SCOPE_MAX];
};

struct hm_keycache {
	EVP_MAC *mac;
	uint8_t junk[HM_KEY_LEN]; /* keys the entries of epochs without a usable secret */
	size_t nsets; /* power of two */
	uint64_t seed;
	uint64_t tick;
	size_t used;
	struct slot *slots; /* nsets * HM_KC_WAYS */
};

/* The cache and its slots are one mapping: its size, rounded to whole pages. */
static size_t map_size(size_t nsets)
{
	size_t page = 4096, n = sizeof(struct hm_keycache) + nsets * HM_KC_WAYS * sizeof(struct slot);

	return (n + page - 1) / page * page;
}

int hm_keycache_new(size_t capacity, EVP_MAC *mac, const uint8_t junk[static HM_KEY_LEN],
		    struct hm_keycache **out)
{
	struct hm_keycache *kc;
	size_t nsets = 1;
	void *p;

	*out = NULL;
	while (nsets * HM_KC_WAYS < capacity)
		nsets *= 2;
	/*
	 * Its own mapping, so that it can be left out of core dumps (the junk key, the names of
	 * the scopes in use); pre-faulted (MAP_POPULATE) so that serving never takes the fault.
	 */
	p = mmap(NULL, map_size(nsets), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (p == MAP_FAILED)
		return HM_ENOMEM;
	if (madvise(p, map_size(nsets), MADV_DONTDUMP) != 0) {
		(void)munmap(p, map_size(nsets));
		return HM_ENOMEM;
	}
	kc = p;
	kc->slots = (struct slot *)(kc + 1);
	kc->mac = mac;
	memcpy(kc->junk, junk, HM_KEY_LEN);
	kc->nsets = nsets;
	if (RAND_bytes((unsigned char *)&kc->seed, sizeof(kc->seed)) != 1)
		kc->seed = (uint64_t)(uintptr_t)kc; /* only spreads sets; no security rests on it */
	*out = kc;
	return HM_OK;
}

static void slot_drop(struct hm_keycache *kc, struct slot *s)
{
	if (!s->used)
		return;
	EVP_MAC_CTX_free(s->e.mac); /* cleanses the keyed HMAC state */
	memset(s, 0, sizeof(*s));
	kc->used--;
}

void hm_keycache_clear(struct hm_keycache *kc)
{
	for (size_t i = 0; i < kc->nsets * HM_KC_WAYS; i++)
		slot_drop(kc, &kc->slots[i]);
}

void hm_keycache_free(struct hm_keycache *kc)
{
	if (kc == NULL)
		return;
	hm_keycache_clear(kc);
	OPENSSL_cleanse(kc->junk, sizeof(kc->junk));
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

const struct hm_kc_entry *hm_keycache_get(struct hm_keycache *kc, const uint8_t *tenant,
					  size_t tenant_len, const uint8_t *container,
					  size_t container_len, uint64_t epoch)
{
	uint64_t h;
	struct slot *set;

	if (tenant_len > HM_SCOPE_MAX || container_len > HM_SCOPE_MAX || !hm_kc_key_ok(epoch))
		return NULL;
	h = scope_hash(kc, tenant, tenant_len, container, container_len, epoch);
	set = &kc->slots[(h & (kc->nsets - 1)) * HM_KC_WAYS];
	for (unsigned w = 0; w < HM_KC_WAYS; w++) {
		if (slot_is(&set[w], h, tenant, tenant_len, container, container_len, epoch)) {
			set[w].tick = ++kc->tick;
			return &set[w].e;
		}
	}
	return NULL;
}

EVP_MAC_CTX *hm_mac_new_keyed(EVP_MAC *mac, const uint8_t *key, size_t len)
{
	OSSL_PARAM params[2];
	EVP_MAC_CTX *ctx;

	ctx = EVP_MAC_CTX_new(mac);
	if (ctx == NULL)
		return NULL;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(ctx, key, len, params) != 1) {
		EVP_MAC_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

const struct hm_kc_entry *hm_keycache_put(struct hm_keycache *kc, const uint8_t *tenant,
					  size_t tenant_len, const uint8_t *container,
					  size_t container_len, uint64_t epoch,
					  const struct hm_key_rec *rec, int *rc)
{
	struct slot *set, *victim;
	EVP_MAC_CTX *ctx = NULL;
	const uint8_t *key;
	size_t keylen;
	uint64_t h;

	*rc = HM_EINVAL;
	if (tenant_len > HM_SCOPE_MAX || container_len > HM_SCOPE_MAX || !hm_kc_key_ok(epoch))
		return NULL;
	h = scope_hash(kc, tenant, tenant_len, container, container_len, epoch);
	set = &kc->slots[(h & (kc->nsets - 1)) * HM_KC_WAYS];
	victim = &set[0];
	for (unsigned w = 0; w < HM_KC_WAYS; w++) {
		if (!set[w].used || slot_is(&set[w], h, tenant, tenant_len, container,
					    container_len, epoch)) {
			victim = &set[w];
			break;
		}
		if (set[w].tick < victim->tick)
			victim = &set[w];
	}
	/* no usable secret (no such epoch, or revoked): the junk key, same work, same path */
	key = kc->junk;
	keylen = HM_KEY_LEN;
	if (rec != NULL && rec->state != HM_KEY_REVOKED) {
		if (rec->secret_len < HM_KEY_MIN || rec->secret_len > HM_KEY_MAX)
			return NULL; /* *rc is HM_EINVAL */
		key = rec->secret;
		keylen = rec->secret_len;
	}
	/*
	 * Re-key the evicted entry's context when there is one: no allocation while traffic
	 * cycles through more epochs than the cache holds. Keying replaces the old key's HMAC
	 * state and OpenSSL wipes its copy of the old key.
	 */
	ctx = victim->used ? victim->e.mac : NULL;
	if (ctx != NULL) {
		victim->e.mac = NULL;
		if (EVP_MAC_init(ctx, key, keylen, NULL) != 1) {
			EVP_MAC_CTX_free(ctx);
			ctx = NULL;
		}
	} else {
		ctx = hm_mac_new_keyed(kc->mac, key, keylen);
	}
	if (ctx == NULL) {
		slot_drop(kc, victim);
		*rc = HM_ECRYPTO;
		return NULL;
	}
	slot_drop(kc, victim);
	victim->used = true;
	kc->used++;
	victim->hash = h;
	victim->epoch = epoch;
	victim->tlen = (uint8_t)tenant_len;
	victim->clen = (uint8_t)container_len;
	memcpy(victim->names, tenant, tenant_len);
	memcpy(victim->names + tenant_len, container, container_len);
	victim->tick = ++kc->tick;
	victim->e.exists = rec != NULL;
	victim->e.state = rec != NULL ? rec->state : HM_KEY_REVOKED;
	victim->e.deadline = rec != NULL ? rec->deadline : 0;
	victim->e.mac = ctx;
	*rc = HM_OK;
	return &victim->e;
}

size_t hm_keycache_used(const struct hm_keycache *kc)
{
	return kc->used;
}
