/*
 * replay.h - the nonce cache: which (tenant, container, nonce) were accepted recently.
 *
 * The one structure shared by all workers (a replay may arrive on another worker's connection),
 * so it is split into shards, each behind its own mutex; only items that carry a nonce touch it.
 * Memory is fixed at creation (capacity slots of 24 bytes). An entry lives until the ts of its
 * item plus the skew window has passed: after that the timestamp check refuses the item anyway.
 * When no slot is free the cache fails closed: the item is refused (REPLAY) and counted, and no
 * live entry is ever evicted.
 *
 * The cache stores a 16-byte salted SHA-256 digest of the scope and nonce computed by the caller
 * (hm_replay_key), never the nonce itself. The salt is random per process, so nobody can aim
 * collisions at it; a collision could only refuse an item, never accept one.
 */
#ifndef HM_REPLAY_H
#define HM_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "errors.h"

#define HM_REPLAY_KEY_LEN 16

enum hm_replay_result {
	HM_REPLAY_FRESH, /* not seen: recorded now */
	HM_REPLAY_SEEN,  /* seen, and its entry is still live */
	HM_REPLAY_FULL,  /* no room: refused (fail closed) */
};

struct hm_replay;

/* A cache of `capacity` slots (rounded up to a power of two). HM_OK, HM_ENOMEM, HM_ECRYPTO. */
int hm_replay_new(size_t capacity, struct hm_replay **out) HM_MUSTCHECK;
void hm_replay_free(struct hm_replay *r);

/*
 * Digest of (tenant, container, nonce) under the cache's salt, with the caller's reusable
 * digest context (one per worker: no allocation). HM_OK or HM_ECRYPTO.
 */
int hm_replay_key(const struct hm_replay *r, EVP_MD_CTX *md, const EVP_MD *sha256,
		  const uint8_t *tenant, size_t tenant_len, const uint8_t *container,
		  size_t container_len, const uint8_t *nonce, size_t nonce_len,
		  uint8_t key[static HM_REPLAY_KEY_LEN]) HM_MUSTCHECK;

/* Checks for `key` and records it, live until `expires` (unix seconds), atomically. */
enum hm_replay_result hm_replay_check(struct hm_replay *r, const uint8_t key[static HM_REPLAY_KEY_LEN],
				      int64_t expires, int64_t now) HM_MUSTCHECK;

/* Occupied slots (live or not yet reclaimed) and capacity, for stats. */
size_t hm_replay_used(struct hm_replay *r);
size_t hm_replay_capacity(const struct hm_replay *r);

#endif
