/*
 * conn.h - one client connection: the socket I/O state machine of a worker.
 *
 * The connection reads bytes, cuts them into frames (proto/frame.h), hands each complete frame
 * to the protocol handler (handler.h) and writes the responses back in order, one write per
 * readable event where possible. It never parses a message itself.
 *
 * Limits that protect the daemon from its clients:
 *  - a frame header announcing more than max_frame bytes closes the connection before a byte of
 *    the payload is buffered;
 *  - a frame that was started must be finished within read_timeout, or the connection is closed
 *    (a client trickling bytes cannot hold a connection forever);
 *  - at most HM_CONN_FRAMES_PER_EVENT frames are handled per readable event, then the
 *    connection yields to the others on the worker;
 *  - when more than out_high_water bytes of responses wait for a client that does not read,
 *    the connection stops reading until they drain: memory per connection stays bounded.
 *
 * All state changes go through conn_set_state() (conn.c).
 */
#ifndef HM_CONN_H
#define HM_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include <event2/event.h>

#include "engine/counter.h"
#include "server/handler.h"

#define HM_CONN_FRAMES_PER_EVENT 64
/* frames whose answers may wait for fleet nonce claims at once, per connection */
#define HM_CONN_MAX_HELD 16

enum hm_conn_state {
	HM_CONN_READING,  /**< reading and answering frames */
	HM_CONN_BLOCKED,  /**< too many unsent responses, or HM_CONN_MAX_HELD answers waiting
			       for their claims: not reading until they go */
	HM_CONN_DRAINING, /**< shutting down or peer closed: flush answers, then close */
	HM_CONN_CLOSED,   /**< socket closed, memory freed (never observed on a live conn) */
	HM_CONN_STATE__MAX
};

const char *hm_conn_state_name(enum hm_conn_state s);

struct hm_conn_stats {
	hm_counter opened;
	hm_counter closed;
	hm_counter oversize_frames; /* closed for announcing a frame over max_frame */
	hm_counter read_timeouts;   /* closed for not finishing a frame in time */
	hm_counter io_errors;
	hm_counter current;
};

struct hm_conn;

/* What the connections of one worker share. Owned by the worker; one thread. */
struct hm_conn_ctx {
	struct event_base *base;
	struct hm_handler *handler;
	uint32_t max_frame;
	struct timeval read_timeout;
	size_t out_high_water;
	size_t out_limit;
	struct hm_conn_stats stats;
	uint64_t events;      /* readable and writable events handled (the worker's spin) */
	struct hm_conn *head; /* live connections */
	bool draining;        /* shutting down: finish and close every connection */
	void (*on_idle)(void *arg); /* called when draining and the last connection closed */
	void *on_idle_arg;
	/* called after a connection closed (e.g. to release a server-wide connection slot) */
	void (*on_close)(void *arg);
	void *on_close_arg;
};

/*
 * Takes ownership of a connected, non-blocking socket. HM_OK, or HM_ENOMEM (fd closed).
 */
int hm_conn_open(struct hm_conn_ctx *ctx, int fd) HM_MUSTCHECK;

/*
 * Begins shutdown of every connection of ctx: each answers the complete frames it already
 * received, flushes, and closes. ctx->on_idle runs when none is left (maybe before return).
 */
void hm_conn_drain_all(struct hm_conn_ctx *ctx);

/* Closes every connection at once (final cleanup). */
void hm_conn_close_all(struct hm_conn_ctx *ctx);

#endif
