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

/* Writes the body of a stats response (hm_encode_stats_begin ... hm_frame_end) for request id. */
typedef void (*hm_stats_fn)(void *arg, struct hm_buf *out, uint64_t id);

struct hm_handler_stats {
	hm_counter requests;       /* frames handled */
	hm_counter request_errors; /* answered with an error response */
	hm_counter items;          /* verify items judged (malformed included) */
};

struct hm_handler {
	struct hm_verifier *verifier;
	uint32_t max_batch;
	hm_stats_fn stats_fn;
	void *stats_arg;
	struct hm_handler_stats stats;
	struct hm_item item; /* scratch, reused for every item */
};

/*
 * Handles one request payload received at `now` and appends exactly one response frame to out.
 * Returns HM_OK, or HM_ETOOBIG / HM_ENOMEM when the response could not be buffered (out->failed);
 * the caller then closes the connection.
 */
int hm_handle_frame(struct hm_handler *h, const uint8_t *payload, size_t len, int64_t now,
		    struct hm_buf *out) HM_MUSTCHECK;

#endif
