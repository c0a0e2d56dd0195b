/*
 * verify.h - the verify engine: one decoded item in, one verdict out.
 *
 * Knows nothing of sockets or msgpack: it takes a struct hm_item (proto/msg.h) that the decoder
 * already checked, looks the key up through the key cache (shared by the workers, or its own)
 * and the worker's store reader, and judges. One verifier per worker thread; not thread-safe;
 * the replay cache and a shared key cache it is given are thread-safe.
 *
 * Two schemes (PROTOCOL.md): an hmacd-v1 item names its epoch and is MACed over the canonical
 * string; an rfc9421 item is first read by rfc9421.c under its scope's coverage policy (store,
 * else the config's default), which may end it as MALFORMED or INSUFFICIENT_COVERAGE from
 * public data alone; then its keyid is resolved to an epoch of the item's own scope (a keyid
 * of another scope counts as unknown) and it is MACed over its RFC 9421 signature base.
 *
 * Constant-time contract: the MAC is always computed over the canonical string with a copy of
 * the key-cache entry's own key block (for an epoch that is unknown or revoked, a random junk
 * key's; an expired epoch still has its own), every key zero-padded to one 64-byte SHA-256
 * block, so every MAC is the same work; the verdict is picked without branches; the comparison
 * is CRYPTO_memcmp over all 32 bytes. So neither how many bytes of a signature matched nor
 * whether a key exists shows in the work done. Our code allocates nothing per item once the
 * key cache is warm (OpenSSL 3.0 allocates inside each EVP_DigestInit, as it did inside each
 * context copy).
 */
#ifndef HM_VERIFY_H
#define HM_VERIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/counter.h"
#include "proto/errors.h"
#include "store/keystore.h"
#include "proto/item.h"
#include "proto/policy.h"
#include "engine/replay.h"
#include "proto/verdict.h"

struct hm_keycache;

struct hm_verify_config {
	int64_t skew;          /* seconds */
	/*
	 * Unix time since which the nonce cache holds every nonce it accepted (replay.h: the
	 * start of a new table, or the first start of one kept in its file across restarts). A
	 * nonce item signed before it may have been accepted by a run whose entries are lost (a
	 * reboot, a new file), so it is refused (REPLAY): how a lost table fails closed. 0: none.
	 */
	int64_t nonces_since;
	size_t key_cache;      /* entries of the verifier's own key cache */
	/*
	 * A key cache shared with the other workers (keycache.h; it must outlive the verifier),
	 * or NULL: the verifier makes one of its own, of key_cache entries.
	 */
	struct hm_keycache *key_cache_shared;
	size_t max_canonical;  /* largest canonical string to build (max frame + slack) */
	/* RFC 9421 items of a scope that has no policy of its own (nor its tenant) */
	struct hm_policy default_policy;
};

/* Written by the verifier's thread only; other threads may read them (counter.h). */
struct hm_verify_stats {
	hm_counter verdicts[HM_V__COUNT];
	hm_counter key_cache_hits;
	hm_counter key_cache_misses;
	hm_counter key_cache_clears;
	hm_counter nonce_cache_full;
	hm_counter nonce_tenant_full; /* refused: the tenant held its share of the nonce cache */
	hm_counter nonce_before_start; /* nonce items signed before the daemon started */
	hm_counter store_errors;
	hm_counter key_cache_used;
};

struct hm_verifier;

/*
 * A verifier reading keys through `rd` (owned by the caller, same thread) and recording nonces
 * in `replay` (shared). HM_OK, HM_ENOMEM, HM_ECRYPTO.
 */
int hm_verifier_new(const struct hm_verify_config *cfg, struct hm_ks_reader *rd,
		    struct hm_replay *replay, struct hm_verifier **out) HM_MUSTCHECK;
void hm_verifier_free(struct hm_verifier *v);

/*
 * Starts a batch at time `now` (unix seconds): renews the store snapshot and, if an admin
 * change committed since the last batch, empties the key cache. HM_OK or HM_ESTORE (the batch
 * cannot be judged: answer it with an error, fail closed).
 */
int hm_verify_begin(struct hm_verifier *v, int64_t now) HM_MUSTCHECK;
/* Judges one checked item inside a batch. Counts the verdict in the stats. */
enum hm_verdict hm_verify_item(struct hm_verifier *v, const struct hm_item *item);
/*
 * Look-ahead hints, so that the key-cache misses of the items to come load while the current
 * item's crypto runs (keycache.h, hm_keycache_prefetch_set/_slot): hm_verify_prefetch(item)
 * for the item judged two from now (hashes its scope, starts loading its set's tags), then
 * hm_verify_prefetch_key(item) when it is the next one (starts loading its entry). Both judge
 * nothing and count nothing; hmacd-v1 items only (an rfc9421 item's cache key needs a SHA-256
 * of its key id first). Inside a batch, for items of this batch's request only.
 */
void hm_verify_prefetch(struct hm_verifier *v, const struct hm_item *item);
void hm_verify_prefetch_key(struct hm_verifier *v, const struct hm_item *item);
/* Counts an item that failed decoding (MALFORMED) in the stats. */
void hm_verify_count_malformed(struct hm_verifier *v);
/*
 * Ends the batch: releases the store snapshot. HM_OK, or HM_ESTORE if a failure on the server's
 * side (the store, memory, the crypto library) affected an item of this batch: its verdicts
 * must not be sent; the caller answers the whole request with an "internal" error instead.
 */
int hm_verify_end(struct hm_verifier *v) HM_MUSTCHECK;

/*
 * Why the batch failed (after hm_verify_begin() or hm_verify_end() returned HM_ESTORE): the
 * first server-side failure, naming the call ("key store lookup: mdb_get: ..."). "" if none.
 * The engine does not log; its caller does. Valid until the next hm_verify_begin().
 */
const char *hm_verify_fault(const struct hm_verifier *v);

/*
 * Why the last hm_verify_item() refused its item before any key was looked at (MALFORMED or
 * INSUFFICIENT_COVERAGE): a static sentence naming no secret. NULL for any other verdict.
 */
const char *hm_verify_reason(const struct hm_verifier *v);

/*
 * The nonce the last hm_verify_item() recorded as new: an item that passed every check and
 * carries a nonce this host had not seen. A fleet host must still claim it fleet-wide before
 * the item is OK (fleet mode part 2, server/claims.h); everyone else can ignore this. The
 * pointers are the item's (valid while its frame is); ttl_ms is how long the signature can
 * still pass the clock check, so how long a claim must last.
 */
struct hm_nonce_claim {
	struct hm_str tenant, container, nonce;
	int64_t ttl_ms;
};
bool hm_verify_nonce_recorded(const struct hm_verifier *v, struct hm_nonce_claim *out);

/*
 * An item's verdict changed after hm_verify_item() counted it (a fleet claim answered: OK
 * became REPLAY or UNAVAILABLE): moves one count from `was` to `now`. Same thread as the
 * verifier.
 */
void hm_verify_recount(struct hm_verifier *v, enum hm_verdict was, enum hm_verdict now);

/* Counters since creation; safe to read from any thread (counter.h). */
const struct hm_verify_stats *hm_verify_stats(const struct hm_verifier *v);

#endif
