/*
 * transport.h - libhmacd's connection to the daemon: the socket and what moves bytes over it
 * (private to libhmacd; client.c is its only user).
 *
 * A struct hm_tp is one Unix stream connection, the bytes queued for it and read from it, and
 * the requests in flight on it, oldest first. client.c encodes requests into the output buffer
 * and decodes the answers this file hands it; this file connects (with a deadline and the
 * peer-credential check), reconnects as transport.c's reconnect() allows, writes and reads
 * until a deadline, and keeps the FIFO of requests in flight. It knows frames (length
 * prefixes), not what they hold. Codes are the HMACD_* of hmacd/client.h.
 */
#ifndef HMACD_TRANSPORT_H
#define HMACD_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>

#include "proto/buf.h"
#include "proto/msg.h"

/* When a call must be done: from its start, the client's timeout_ms. */
struct hm_deadline {
	bool forever;
	struct timespec at; /* CLOCK_MONOTONIC */
};

/* A deadline timeout_ms from now (-1: none). HMACD_OK or HMACD_EIO (the clock). */
int hm_deadline_start(struct hm_deadline *d, int timeout_ms);

/* A request queued or sent whose answer has not been read yet. */
struct hm_pending {
	uint64_t id;
	size_t len;    /* frame bytes, header included */
	uint32_t n;    /* verify: items in the batch */
	enum hm_op op;
};

/* One connection. The fields are transport.c's: client.c uses the functions below. */
struct hm_tp {
	struct sockaddr_un addr;
	bool pin_uid;     /* server_user given: the server must be server_uid */
	uid_t server_uid;
	int fd;           /* -1: not connected */
	struct hm_buf out; /* encoded requests; the first out_off bytes are already written */
	size_t out_off;
	size_t written;    /* bytes of the requests in flight written on this connection */
	struct hm_buf in;  /* bytes read; the first in_off bytes are already consumed */
	size_t in_off;
	struct hm_pending *fifo; /* ring of the requests in flight, oldest at fifo_head */
	size_t fifo_head;
	size_t fifo_len;
	size_t fifo_cap;
};

/*
 * Sets up c (zeroed by the caller) for the socket at path, served by server_uid if pin_uid;
 * not connected yet. HMACD_OK, HMACD_EINVAL (path too long), HMACD_ENOMEM. After any return,
 * hm_tp_free() releases what c holds.
 */
int hm_tp_init(struct hm_tp *c, const char *path, bool pin_uid, uid_t server_uid);
/* Closes the connection and frees c's buffers (not c itself). */
void hm_tp_free(struct hm_tp *c);

/*
 * Connects now, and checks who serves the socket (hmacd/client.h, struct hmacd_options).
 * HMACD_OK, HMACD_ECONN, HMACD_EPEER, HMACD_EIO.
 */
int hm_tp_connect(struct hm_tp *c, const struct hm_deadline *dl);

/* Closes the connection and forgets every request in flight: no answer can be matched now. */
void hm_tp_drop(struct hm_tp *c);

/*
 * The output buffer, with the bytes already written dropped: the next request is encoded at
 * its end, then taken back out (len reset) or recorded with hm_tp_push().
 */
struct hm_buf *hm_tp_out_begin(struct hm_tp *c);
/* Records a request whose frame is the last p->len bytes of the output. HMACD_ENOMEM. */
int hm_tp_push(struct hm_tp *c, const struct hm_pending *p);

/* Bytes queued and not written yet. */
size_t hm_tp_unsent(const struct hm_tp *c);
/* Requests in flight. */
size_t hm_tp_in_flight(const struct hm_tp *c);
/* The oldest request in flight (there must be one). */
const struct hm_pending *hm_tp_oldest(const struct hm_tp *c);
/* The socket, or -1 while disconnected. */
int hm_tp_fd(const struct hm_tp *c);

/*
 * Writes everything queued, reconnecting first (or once, if the peer closed) where reconnect()
 * allows. HMACD_OK, or the connection is dropped and HMACD_ECONN, HMACD_ETIMEDOUT,
 * HMACD_EPEER, HMACD_EIO, HMACD_ENOMEM or HMACD_EPROTO (an answer announced over the limit).
 */
int hm_tp_flush(struct hm_tp *c, const struct hm_deadline *dl);

/*
 * Writes everything queued and reads until the next whole answer is buffered; *payload and
 * *plen are its payload, valid until the next call that reads. The answer is consumed: the
 * caller takes its request off with hm_tp_pop(). Errors as hm_tp_flush() (then dropped).
 */
int hm_tp_recv(struct hm_tp *c, const struct hm_deadline *dl, const uint8_t **payload,
	       uint32_t *plen);

/* Takes the oldest request off the FIFO into *p, after hm_tp_recv() read its answer. */
void hm_tp_pop(struct hm_tp *c, struct hm_pending *p);

#endif
