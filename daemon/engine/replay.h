/*
 * replay.h - the nonce cache: which (tenant, container, nonce) were accepted recently.
 *
 * The one structure shared by all workers (a replay may arrive on another worker's connection),
 * so it is split into shards, each behind its own mutex; only items that carry a nonce touch it.
 * Memory is fixed at creation (two 32-byte slots per nonce). An entry lives until the time its
 * item can no longer pass the clock check (the caller says when); no live entry is ever evicted:
 * when no slot is free the item is refused (fail closed) and counted.
 *
 * The cache stores a 16-byte salted SHA-256 digest of the scope and nonce computed by the caller
 * (hm_replay_key), never the nonce itself. The salt is random per table, so nobody can aim
 * collisions at it; a collision could only refuse an item, never accept one.
 *
 * Surviving a restart. The table can live in a file (hm_replay_open), mapped shared, so what an
 * item's check wrote is in the kernel's page cache before its verdict is sent: a daemon stopped
 * by SIGTERM or killed with -9 and started again on the same file refuses every nonce it accepted
 * before, while a fresh nonce verifies at once. The file records the boot it was written in
 * (/proc/sys/kernel/random/boot_id): after a reboot its pages may not all have reached the disk,
 * so it is started empty again, and the caller falls back to refusing nonce items signed before
 * the new table's start (`since`). An entry is written key first and its expiry last, so an
 * entry torn by a kill is an expired (free) slot, never a half-valid one. One daemon per file:
 * an exclusive flock() is held while the table is open.
 *
 * One tenant cannot fill the cache for everyone: each tenant may hold at most `tenant_share`
 * percent of the capacity in live entries (tenants hashed into 4096 buckets under the salt, so
 * two tenants may share a bucket's quota; none can choose to). Over it, its new nonces are
 * refused (HM_REPLAY_TENANT_FULL) while other tenants' still pass. Live entries are counted in
 * time windows, so a tenant's burst stops counting once its entries have expired.
 */
#ifndef HM_REPLAY_H
#define HM_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "proto/errors.h"

#define HM_REPLAY_KEY_LEN 16

/* What the cache knows of one (tenant, container, nonce): never the nonce itself. */
struct hm_nonce_id {
	uint8_t key[HM_REPLAY_KEY_LEN]; /* salted digest of tenant, container and nonce */
	uint32_t tenant;                /* salted digest of the tenant alone: its quota bucket */
};

enum hm_replay_result {
	HM_REPLAY_FRESH,       /* not seen: recorded now */
	HM_REPLAY_SEEN,        /* seen, and its entry is still live */
	HM_REPLAY_FULL,        /* no room: refused (fail closed) */
	HM_REPLAY_TENANT_FULL, /* the tenant holds its whole share: refused (fail closed) */
};

struct hm_replay;

struct hm_replay_options {
	size_t capacity;       /* nonces (rounded up to fill whole shards) */
	unsigned tenant_share; /* percent of capacity one tenant may hold: 1..100 */
	int64_t max_life;      /* longest an entry may live, seconds (2 * skew + 2) */
	const char *path;      /* the file that keeps the table; NULL: memory only */
	int64_t now;           /* unix seconds */
};

/* What hm_replay_open() found. */
struct hm_replay_info {
	/*
	 * Unix time since which the table holds every nonce it accepted: the start of a new
	 * table, or the first start of a kept one. A nonce item signed before it may have been
	 * accepted by a run whose entries are not here: the caller refuses it.
	 */
	int64_t since;
	size_t restored;    /* live entries kept from the file */
	const char *fresh;  /* NULL: the file's table was kept; else why it was started anew */
};

/*
 * Opens the table. With a path: creates the file (mode 0600) or takes the one there, which
 * must be a regular file of this user, readable by no one else, not locked by another daemon,
 * and either empty, unfinished, or an hmacd nonce table. A table of another boot starts anew;
 * one of another size (another --nonce-cache) is rebuilt with its live entries (anew if they
 * no longer fit). HM_OK; HM_EINVAL (options); HM_EEXIST (another daemon holds the file);
 * HM_ESTATE (the file is not one hmacd may use: owner, mode, type, or not a nonce table);
 * HM_EIO (a system call failed); HM_ENOMEM; HM_ECRYPTO. On failure err[0..errcap) says why.
 */
int hm_replay_open(const struct hm_replay_options *o, struct hm_replay **out,
		   struct hm_replay_info *info, char *err, size_t errcap) HM_MUSTCHECK;

/* A memory-only table of `capacity` nonces with no tenant quota (tests, benchmarks). */
int hm_replay_new(size_t capacity, struct hm_replay **out) HM_MUSTCHECK;

/* Unmaps (the file keeps the table), unlocks, frees. NULL is fine. */
void hm_replay_free(struct hm_replay *r);

/*
 * The id of (tenant, container, nonce) under the table's salt, with the caller's reusable
 * digest context (one per worker: no allocation). HM_OK or HM_ECRYPTO.
 */
int hm_replay_key(const struct hm_replay *r, EVP_MD_CTX *md, const EVP_MD *sha256,
		  const uint8_t *tenant, size_t tenant_len, const uint8_t *container,
		  size_t container_len, const uint8_t *nonce, size_t nonce_len,
		  struct hm_nonce_id *id) HM_MUSTCHECK;

/* Checks for `id` and records it, live until `expires` (unix seconds), atomically. */
enum hm_replay_result hm_replay_check(struct hm_replay *r, const struct hm_nonce_id *id,
				      int64_t expires, int64_t now) HM_MUSTCHECK;

/* Occupied slots (live or not yet reclaimed) and capacity in nonces, for stats. */
size_t hm_replay_used(struct hm_replay *r);
size_t hm_replay_capacity(const struct hm_replay *r);
/* Live entries one tenant may hold (capacity when there is no quota). */
size_t hm_replay_tenant_max(const struct hm_replay *r);

#endif
