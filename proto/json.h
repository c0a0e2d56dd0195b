/*
 * json.h - a small, strict JSON reader: the C tests read the vectors in proto/vectors with
 * it, and `hmacctl explain` reads capture files (PROTOCOL.md section 17) with it.
 *
 * No JSON library is a dependency of hmacd, so this reads exactly the JSON those files need:
 * objects, arrays, strings (every escape of RFC 8259, \uXXXX included, surrogate pairs
 * joined, decoded to UTF-8), integers (no fraction, no exponent: -2^64+1 .. 2^64-1), true,
 * false and null. Anything else is refused with a line and
 * column, never guessed at: a float, a duplicate object key, a raw control byte or invalid UTF-8
 * in a string, a lone surrogate, a leading zero, trailing bytes, nesting deeper than 64.
 *
 * No I/O. Memory grows with the input (a node per value): callers bound the input first
 * (hmacctl reads at most 1 MiB of a capture file).
 *
 * The whole document becomes one tree owned by the returned root; jm_free() releases it.
 * Strings are byte ranges (they may hold NUL) with a NUL added after the last byte for
 * convenience.
 */
#ifndef HM_JSON_H
#define HM_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/errors.h"

enum jm_type { JM_NULL, JM_BOOL, JM_INT, JM_STR, JM_ARR, JM_OBJ };

struct jm_value;

struct jm_member {
	char *key; /* NUL-terminated; key_len excludes the NUL */
	size_t key_len;
	struct jm_value *value;
};

struct jm_value {
	enum jm_type type;
	bool b;      /* JM_BOOL */
	bool neg;    /* JM_INT: the value is -mag */
	uint64_t mag;  /* JM_INT: magnitude */
	char *s;     /* JM_STR: decoded bytes, NUL after the last */
	size_t len;  /* JM_STR: byte count; JM_ARR: elements; JM_OBJ: members */
	struct jm_value **items;   /* JM_ARR */
	struct jm_member *members; /* JM_OBJ, in document order */
};

/*
 * Parses text[0..len) as one JSON value. HM_OK with *out set (free with jm_free()),
 * HM_EMALFORMED with a message "line L col C: what" in err[0..errlen), or HM_ENOMEM.
 */
int jm_parse(const char *text, size_t len, struct jm_value **out, char *err,
	     size_t errlen) HM_MUSTCHECK;

/* Frees a tree returned by jm_parse() (NULL is fine). */
void jm_free(struct jm_value *v);

/* The member `key` of object `obj`; NULL if obj is not an object or has no such member. */
const struct jm_value *jm_get(const struct jm_value *obj, const char *key);

/* Element i of array `arr`; NULL if arr is not an array or i is out of range. */
const struct jm_value *jm_at(const struct jm_value *arr, size_t i);

#endif
