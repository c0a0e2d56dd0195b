/*
 * buf.h - a growable byte buffer with a hard size cap and a sticky error.
 *
 * Append functions return nothing: the first failure (allocation or cap) sets `failed`, later
 * appends are no-ops, and the owner checks once when it is done (pgbouncer's PktBuf idea). The
 * buffer keeps its memory across hm_buf_reset(), so a connection that reuses one allocates only
 * while it grows to its working size.
 */
#ifndef HM_BUF_H
#define HM_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/errors.h"

struct hm_buf {
	uint8_t *data;
	size_t len;   /* bytes in use */
	size_t cap;   /* bytes allocated */
	size_t limit; /* never grow past this many bytes */
	bool failed;  /* sticky: an append did not fit or could not allocate */
};

/* An empty buffer that may grow up to `limit` bytes. Allocates nothing yet. */
void hm_buf_init(struct hm_buf *b, size_t limit);
/* Frees the memory (after wiping it: buffers may have held request bytes). */
void hm_buf_free(struct hm_buf *b);
/* Empties the buffer and clears the sticky error; keeps the allocation. */
void hm_buf_reset(struct hm_buf *b);
/* Makes room for `more` bytes past len. HM_OK, HM_ETOOBIG (limit) or HM_ENOMEM; sets failed. */
int hm_buf_reserve(struct hm_buf *b, size_t more) HM_MUSTCHECK;
void hm_buf_append(struct hm_buf *b, const void *p, size_t n);
void hm_buf_append_byte(struct hm_buf *b, uint8_t c);
/* Drops the first n bytes (n <= len), moving the rest to the front. */
void hm_buf_consume(struct hm_buf *b, size_t n);
/* The msgpack-c packer write callback: `data` is a struct hm_buf *. Returns 0 or -1. */
int hm_buf_msgpack_write(void *data, const char *p, size_t n);

#endif
