/*
 * handler.h - the protocol handler: one complete request frame in, one response frame out.
 *
 * The connection layer (conn.c) owns the socket and delivers whole frame payloads; this layer
 * never reads or writes a socket. It decodes the request (proto/msg.h), streams each item
 * through the verify engine, and appends the response frame to the connection's output buffer.
 */
#ifndef HM_HANDLER_H
#define HM_HANDLER_H

#include <stddef.h>
#include <stdint.h>

#include "proto/buf.h"
#include "engine/counter.h"
#include "proto/msg.h"
#include "engine/verify.h"
#include "server/tally.h"

/* Writes the body of a stats response (hm_encode_stats_begin ... hm_frame_end) for request id. */
typedef void (*hm_stats_fn)(void *arg, struct hm_buf *out, uint64_t id);

struct hm_handler_stats {
	hm_counter requests;       /* frames handled */
	hm_counter request_errors; /* answered with an error response */
	hm_counter items;          /* verify items judged (malformed included) */
};

struct hm_claimer;
struct hm_claim_set;

#define HM_HANDLER_AHEAD 3

struct hm_handler {
	struct hm_verifier *verifier;
	uint32_t max_batch;
	hm_stats_fn stats_fn;
	void *stats_arg;
	/*
	 * Fleet mode with fleet-wide nonces (claims.h), else NULL: a nonce item OK here is OK
	 * only once claimed in Redis. The frame's claims are left in `pending` for the caller.
	 */
	struct hm_claimer *claimer;
	struct hm_claim_set *pending;
	struct hm_handler_stats stats;
	/*
	 * --metrics-listen: verdicts by scheme (and tenant), the frame histograms (tally.h); NULL
	 * when metrics are off, and then no clock is read per frame either.
	 */
	struct hm_tally *tally;
	/*
	 * Scratch, reused for every item: the one being judged and the next two, decoded ahead so
	 * that their key-cache entries load while this one's crypto runs (hm_verify_prefetch,
	 * hm_verify_prefetch_key). Item i is item[i % HM_HANDLER_AHEAD].
	 */
	struct hm_item item[HM_HANDLER_AHEAD];
	int item_rc[HM_HANDLER_AHEAD]; /* what decoding it returned */
};

/*
 * Handles one request payload received at `now` and appends exactly one response frame to out.
 * Returns HM_OK, or HM_ETOOBIG / HM_ENOMEM when the response could not be buffered (out->failed);
 * the caller then closes the connection.
 */
int hm_handle_frame(struct hm_handler *h, const uint8_t *payload, size_t len, int64_t now,
		    struct hm_buf *out) HM_MUSTCHECK;

/*
 * With a claimer: after hm_handle_frame(), h->pending is the frame's claims (NULL: none). Its
 * answer is in `out` already, every claimed item written OK; the caller must not send it
 * before the claims are answered (hm_claims_send()), then calls hm_handler_claims_answered()
 * with the buffer the answer is in (offsets are the buffer's at the time of the frame), which
 * writes the verdicts that are not OK, and gives the set back.
 */
void hm_handler_claims_answered(struct hm_handler *h, struct hm_claim_set *set, uint8_t *out);

#endif
