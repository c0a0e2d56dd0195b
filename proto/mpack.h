/*
 * mpack.h - a bounded, zero-allocation msgpack reader.
 *
 * msgpack-c's unpacker trusts length headers (an array32 header claiming 2^32 elements makes it
 * reserve tens of gigabytes) and builds an object tree per message. The request path needs
 * neither: this cursor reads values in place from a buffer it never writes, checks every length
 * against the bytes that remain before using it, and bounds nesting. Writing stays with
 * msgpack-c's packer (msg.c).
 *
 * All functions return HM_OK or HM_EMALFORMED (wrong type, truncated, too deep); on error the
 * cursor is left where it was, so a caller may try another type.
 */
#ifndef HM_MPACK_H
#define HM_MPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/errors.h"

/* Deepest nesting accepted anywhere (a verify request needs 5: map, array, map, array, array). */
#define HM_MP_MAX_DEPTH 8

enum hm_mp_type {
	HM_MP_NIL,
	HM_MP_BOOL,
	HM_MP_UINT, /* any integer format holding a value >= 0 */
	HM_MP_NINT, /* any integer format holding a value < 0 */
	HM_MP_FLOAT,
	HM_MP_STR,
	HM_MP_BIN,
	HM_MP_ARRAY,
	HM_MP_MAP,
	HM_MP_EXT,
	HM_MP_INVALID /* 0xc1, or no bytes left */
};

struct hm_mp {
	const uint8_t *p;
	const uint8_t *end;
};

static inline void hm_mp_init(struct hm_mp *r, const uint8_t *buf, size_t len)
{
	r->p = buf;
	r->end = buf + len;
}

static inline size_t hm_mp_left(const struct hm_mp *r)
{
	return (size_t)(r->end - r->p);
}

/* Type of the next value, without consuming it. */
enum hm_mp_type hm_mp_peek(const struct hm_mp *r);

int hm_mp_read_nil(struct hm_mp *r) HM_MUSTCHECK;
int hm_mp_read_bool(struct hm_mp *r, bool *v) HM_MUSTCHECK;
/* Accepts every integer format whose value is >= 0. */
int hm_mp_read_uint(struct hm_mp *r, uint64_t *v) HM_MUSTCHECK;
/* Strings and binaries are returned in place: *s points into the reader's buffer. */
int hm_mp_read_str(struct hm_mp *r, const uint8_t **s, size_t *len) HM_MUSTCHECK;
int hm_mp_read_bin(struct hm_mp *r, const uint8_t **s, size_t *len) HM_MUSTCHECK;
/* Container headers; the count is checked against the bytes left (each element needs one). */
int hm_mp_read_array(struct hm_mp *r, uint32_t *n) HM_MUSTCHECK;
int hm_mp_read_map(struct hm_mp *r, uint32_t *n) HM_MUSTCHECK;
/* Skips one whole value, containers included, nesting at most `depth` levels (at most 32). */
int hm_mp_skip(struct hm_mp *r, unsigned depth) HM_MUSTCHECK;
/* True if the next value is a str equal to the NUL-terminated `key`; consumes it if so. */
bool hm_mp_match_str(struct hm_mp *r, const char *key);

#endif
