/*
 * claims.h - fleet-wide nonce claims (fleet mode part 2, doc/fleet.md "Replays across hosts"):
 * one worker's asynchronous Redis connection on the worker's own event loop.
 *
 * A nonce item that passed every check on this host (its nonce new to the local cache) is OK
 * only once this host claimed its nonce in Redis:
 *     SET <prefix>n:<digest> 1 NX PX <ttl>
 * digest = the keyed nonce digest of (tenant, container, nonce) (seal.h; the claimer keys its
 * HMAC once), so Redis learns neither. A frame's claims form one set: they go out in one
 * pipelined write (hiredis async, libevent adapter), followed by `WAIT <replicas> <timeout>`
 * with --fleet-wait, and the set is answered when every reply is in, or at --fleet-timeout,
 * whichever comes first. Per claim:
 *     "OK"               -> OK (this host claimed it)
 *     nil                -> REPLAY (another host, or an earlier request, holds the nonce)
 *     anything else, no reply in time, Redis unreachable, fewer replicas than --fleet-wait
 *                        -> UNAVAILABLE (verdict 9: fail closed)
 * The worker keeps serving its other connections meanwhile; the connection holds the frame's
 * answer (and those after it: answers stay in order) until the set is answered (conn.c).
 *
 * With Sentinel (cfg->locator), the claimer connects to the master its locator last found,
 * and counts as connected only once the server answered ROLE with "master". It drops the
 * connection, and tells the locator to look again, when the master fails it: the connection
 * is lost or refused, a claim is answered READONLY, MASTERDOWN or LOADING (a replica: the
 * failover happened), or the locator found another master (checked at each frame, lock-free).
 * While down it reconnects at once when the locator finds a new master (checked every 100 ms,
 * never waiting on the network), else with its backoff (100 ms doubling to 1 s). Frames that
 * arrive meanwhile get UNAVAILABLE for their nonce items, as when Redis is down.
 *
 * Memory: claims and sets come from per-worker pools made at start; a claim whose set was
 * answered at its timeout stays in the pool until Redis answers it or the connection drops (so
 * hiredis's callback never finds freed memory). A frame that finds the pools empty has its
 * nonce items answered UNAVAILABLE at once. Nothing is allocated per item.
 *
 * One thread: a claimer belongs to its worker.
 */
#ifndef HM_CLAIMS_H
#define HM_CLAIMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "engine/counter.h"
#include "engine/verify.h"
#include "proto/errors.h"
#include "proto/verdict.h"

struct hm_seal;
struct hm_fleet_url;
struct hm_locator;

struct hm_claims_cfg {
	const struct hm_fleet_url *url;
	/*
	 * sentinel:// (fleet/locate.h): where the master is now, looked up by a thread of its
	 * own; must outlive the claimer. NULL for redis:// and unix://, which name the server.
	 */
	struct hm_locator *locator;
	const char *password; /* NULL: no AUTH (copied) */
	const char *prefix;   /* the fleet's key prefix (copied) */
	const struct hm_seal *seal; /* derives the digests (the claimer keys its own HMAC) */
	unsigned timeout_ms;  /* --fleet-timeout: a set's deadline, WAIT included */
	unsigned wait;        /* --fleet-wait: replicas that must hold a claim; 0: no WAIT */
	size_t max_claims;    /* claims in flight at most (the pool) */
	size_t max_sets;      /* sets (frames) in flight at most */
};

/* Written by the worker's thread, read by the stats op (counter.h). */
struct hm_claims_stats {
	hm_counter sent;        /* SETs sent */
	hm_counter ok;          /* claimed by this host */
	hm_counter taken;       /* already claimed: REPLAY */
	hm_counter unavailable; /* no answer in time, an error, Redis down, WAIT short: 9 */
	hm_counter timeouts;    /* sets answered at their deadline */
	hm_counter connected;   /* 0/1 */
	hm_counter reconnects;
};

struct hm_claimer;
struct hm_claim_set;

/* Called when a set is answered; it gives the set back with hm_claims_release() before it returns. */
typedef void (*hm_claims_done_fn)(void *arg, struct hm_claim_set *set);

/*
 * A claimer on base (the worker's loop), connecting at once (asynchronously: the first frames
 * may find it still connecting and get UNAVAILABLE). HM_OK, HM_ENOMEM, HM_EINVAL, HM_ECRYPTO
 * (the nonce digest's HMAC could not be keyed).
 */
int hm_claimer_new(struct event_base *base, const struct hm_claims_cfg *cfg,
		   struct hm_claimer **out) HM_MUSTCHECK;
/* Disconnects and frees (after every set was released or abandoned). NULL is fine. */
void hm_claimer_free(struct hm_claimer *cl);
const struct hm_claims_stats *hm_claimer_stats(const struct hm_claimer *cl);

/*
 * A new set for one frame, or NULL when Redis is not connected or the pools are empty: the
 * frame's nonce items are then UNAVAILABLE (the caller counts them with
 * hm_claims_count_unavailable).
 */
struct hm_claim_set *hm_claims_open(struct hm_claimer *cl);
/*
 * Adds the claim of c, whose item's verdict byte is at offset `at` of the answer. false when
 * it cannot be made (digest failure, pool empty): that item is UNAVAILABLE now.
 */
bool hm_claims_add(struct hm_claim_set *set, const struct hm_nonce_claim *c, size_t at);
/* The same, keeping the caller's tag with the claim for hm_claims_each_tagged(). */
bool hm_claims_add_tagged(struct hm_claim_set *set, const struct hm_nonce_claim *c, size_t at,
			  uint32_t tag);
/* Counts n items answered UNAVAILABLE without a claim (in the claims' stats). */
void hm_claims_count_unavailable(struct hm_claimer *cl, size_t n);
/* Claims added to the set. */
size_t hm_claims_size(const struct hm_claim_set *set);
/* Sends the set's claims; done(arg, set) follows from the event loop (never from here). */
void hm_claims_send(struct hm_claim_set *set, hm_claims_done_fn done, void *arg);
/* After done: fn(arg, at, verdict) for each claim in the order added (OK, REPLAY, UNAVAILABLE). */
void hm_claims_each(const struct hm_claim_set *set,
		    void (*fn)(void *arg, size_t at, enum hm_verdict verdict), void *arg);
/* The same with each claim's tag (0 for a claim added untagged). */
void hm_claims_each_tagged(const struct hm_claim_set *set,
			   void (*fn)(void *arg, size_t at, uint32_t tag, enum hm_verdict verdict),
			   void *arg);
/* Gives the set back (after done, or before it was sent). */
void hm_claims_release(struct hm_claim_set *set);
/* The connection is gone: done will not be called; the set is given back when safe. */
void hm_claims_abandon(struct hm_claim_set *set);

#endif
