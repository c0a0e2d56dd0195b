/*
 * frame.h - length-prefixed framing on the Unix stream socket.
 *
 * A frame is a 4-byte big-endian unsigned payload length followed by that many payload bytes
 * (one msgpack object). hm_frame_parse() is a pure function of bytes: it never reads a socket
 * and never allocates, so the daemon, the client, the tests and the fuzzers share it.
 */
#ifndef HM_FRAME_H
#define HM_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "proto/errors.h"

#define HM_FRAME_HEADER 4u
/* Default and bounds of --max-frame (payload bytes). */
#define HM_FRAME_DEFAULT_MAX (1u << 20)
#define HM_FRAME_MIN_MAX 1024u
#define HM_FRAME_MAX_MAX (64u << 20)

/*
 * Looks for one frame at the start of buf[0..len).
 * Returns:
 *   HM_OK        a whole frame is there: its payload is buf[HM_FRAME_HEADER ..
 *                HM_FRAME_HEADER + *payload_len), and it occupies *frame_len bytes in all;
 *   HM_EAGAIN    not all of it has arrived; *payload_len is the announced length if the header
 *                is complete (so a caller can check its buffer), else 0;
 *   HM_ETOOBIG   the announced payload length (*payload_len, for logs) is over max_payload:
 *                the caller must close the connection without buffering more.
 */
int hm_frame_parse(const uint8_t *buf, size_t len, uint32_t max_payload, uint32_t *payload_len,
		   size_t *frame_len) HM_MUSTCHECK;

/* Writes the 4-byte header for a payload of `len` bytes. */
void hm_frame_put_header(uint8_t out[static HM_FRAME_HEADER], uint32_t len);

#endif
