/*
 * record.h - the key store's bytes on disk (doc/keystore.md, "Layout"): the keys, the key record
 * and the byte order they are written in. Pure (no LMDB, no I/O, no allocation), so tests can
 * build and read stored bytes with the code the store itself uses.
 *
 * Named databases in one LMDB environment (schema 2; "audit" is audit.h's, "fleet" mirror.c's):
 *   "meta":     "schema" (6 bytes, no NUL) -> u32 little-endian HM_KS_SCHEMA_VERSION
 *   "keys":     [u8 T][tenant][u8 C][container][u32 big-endian epoch] -> a key record (format 2)
 *   "keyids":   key id (1..HM_KEYID_MAX bytes) -> the "keys" key of its epoch. Written in the
 *               same transaction as the epoch and never deleted: an id is unique forever.
 *   "policies": [u8 T][tenant][u8 C][container], C = 0 and no container for a tenant's policy
 *               -> hm_policy_encode() bytes (proto/policy.h)
 * T and C are the name lengths, 1..KS_NAME_MAX. They make a scope's key prefix unique (tenant
 * "t1" never matches "t10"), and the big-endian epoch makes LMDB's memcmp order walk a scope's
 * epochs ascending; names sort by length first, then bytes.
 *
 * The key record, format 2: all integers little-endian at fixed offsets, never a C struct image.
 *
 *   offset  size  field
 *   0       4     u32 record format = 2
 *   4       4     u32 state (enum hm_key_state: 1 current, 2 superseded, 3 revoked)
 *   8       8     i64 created, unix seconds
 *   16      8     i64 deadline, unix seconds; 0 unless superseded
 *   24      1     u8 secret length S: HM_KEY_MIN..HM_KEY_MAX; 0 once revoked
 *   25      1     u8 key id length K: 1..HM_KEYID_MAX
 *   26      6     reserved, zero
 *   32      64    secret: S bytes, then zeros; all zero once revoked
 *   96      K     key id; the record ends with it (97..224 bytes in all)
 *
 * Format 1 (schema 1, read only by the schema 1 -> 2 upgrade): 64 bytes, the same first 24 bytes
 * with format = 1, a 32-byte secret at 24 (zeros once revoked), 8 reserved zero bytes; no key id.
 */
#ifndef HM_KS_RECORD_H
#define HM_KS_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/errors.h"
#include "proto/lex.h"
#include "store/keystore.h"

/* ---- databases and keys ---- */

#define KS_DB_META "meta"
#define KS_DB_KEYS "keys"
#define KS_DB_KEYIDS "keyids"
#define KS_DB_POLICIES "policies"
#define KS_SCHEMA_KEY "schema" /* the one record of "meta" */
#define KS_SCHEMA_V1 1u        /* upgraded to HM_KS_SCHEMA_VERSION by the first writer */

#define KS_NAME_MAX HM_SCOPE_MAX
#define KS_KEY_MAX (1 + KS_NAME_MAX + 1 + KS_NAME_MAX + 4) /* a "keys" key, the longest key */

/* ---- the key record ---- */

#define KS_REC_FORMAT 2u
#define KS_REC_OFF_FORMAT 0      /* u32 */
#define KS_REC_OFF_STATE 4       /* u32 enum hm_key_state */
#define KS_REC_OFF_CREATED 8     /* i64 unix seconds */
#define KS_REC_OFF_DEADLINE 16   /* i64 unix seconds, 0 unless superseded */
#define KS_REC_OFF_SECRET_LEN 24 /* u8 HM_KEY_MIN..HM_KEY_MAX, 0 when revoked */
#define KS_REC_OFF_KEYID_LEN 25  /* u8 1..HM_KEYID_MAX */
#define KS_REC_OFF_RESERVED 26   /* 6 bytes, zero */
#define KS_REC_OFF_SECRET 32     /* HM_KEY_MAX bytes: the secret, then zeros; zero when revoked */
#define KS_REC_OFF_KEYID 96      /* the key id, KEYID_LEN bytes; the record ends with it */
#define KS_REC_FIXED KS_REC_OFF_KEYID
#define KS_REC_MAX (KS_REC_FIXED + HM_KEYID_MAX)

/* Format 1: format, state, created and deadline at the offsets of format 2. */
#define KS_REC1_FORMAT 1u
#define KS_REC1_LEN 64
#define KS_REC1_OFF_SECRET 24
#define KS_REC1_SECRET_LEN 32
#define KS_REC1_OFF_RESERVED 56

/* The fields of a record other than the secret. */
struct ks_meta {
	uint32_t state;
	int64_t created;
	int64_t deadline;
	size_t secret_len;
	const uint8_t *keyid; /* into the record: valid as long as the record is */
	size_t keyid_len;
};

/* ---- byte order ---- */

static inline void ks_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t ks_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void ks_put_le64(uint8_t *p, int64_t v)
{
	uint64_t u = (uint64_t)v; /* two's complement by definition of the conversion */

	ks_put_le32(p, (uint32_t)u);
	ks_put_le32(p + 4, (uint32_t)(u >> 32));
}

static inline int64_t ks_get_le64(const uint8_t *p)
{
	uint64_t u = (uint64_t)ks_get_le32(p) | (uint64_t)ks_get_le32(p + 4) << 32;

	/* Portable inverse of ks_put_le64(): no implementation-defined narrowing. */
	if (u <= (uint64_t)INT64_MAX)
		return (int64_t)u;
	return -(int64_t)(UINT64_MAX - u) - 1;
}

static inline void ks_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint32_t ks_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline void ks_put_be64(uint8_t *p, uint64_t v)
{
	ks_put_be32(p, (uint32_t)(v >> 32));
	ks_put_be32(p + 4, (uint32_t)v);
}

static inline uint64_t ks_get_be64(const uint8_t *p)
{
	return (uint64_t)ks_get_be32(p) << 32 | ks_get_be32(p + 4);
}

/* ---- names ---- */

/* The scope rule of proto/lex.h, for a C string. */
static inline bool ks_scope_name_ok(const char *s, size_t len)
{
	return hm_lex_scope((const uint8_t *)s, len);
}

/* The key id rule of proto/lex.h, for a C string. */
static inline bool ks_keyid_ok(const char *s, size_t len)
{
	return hm_lex_keyid((const uint8_t *)s, len);
}

/* ---- keys and records ---- */

/*
 * Writes the scope prefix [tl][tenant][cl][container] and returns its length; tl must be
 * 1..KS_NAME_MAX, cl 0..KS_NAME_MAX. A "keys" key is the prefix and ks_put_be32(epoch) after it.
 */
size_t ks_key_prefix(uint8_t out[static KS_KEY_MAX], const uint8_t *t, size_t tl,
		     const uint8_t *c, size_t cl);

/*
 * Checks p[0..n) = [tl][tenant][cl][container] followed by exactly `tail` bytes (4: an epoch,
 * which must not be 0), with valid names; cl may be 0 only if tenant_only. Sets *tl, *cl.
 * Returns a reason or NULL.
 */
const char *ks_scope_split(const uint8_t *p, size_t n, size_t tail, bool tenant_only,
			   size_t *tl, size_t *cl) HM_MUSTCHECK;

/*
 * Encodes a format 2 record into out and returns its length. m->secret_len == 0 (or secret
 * NULL) stores a zero secret of length 0 (a revoked epoch).
 */
size_t ks_rec_encode(uint8_t out[static KS_REC_MAX], const struct ks_meta *m,
		     const uint8_t *secret);

/*
 * Checks a stored format 2 record p[0..n) and decodes everything but the secret (m->keyid
 * points into p). HM_OK, or HM_ESTORE with a one-line reason (never a secret byte) written to
 * err[0..errlen) if the record is not one this build wrote. err must not be NULL.
 */
int ks_rec_check(const uint8_t *p, size_t n, struct ks_meta *m, char *err,
		 size_t errlen) HM_MUSTCHECK;

/*
 * Checks a format 1 record as the schema 1 build did and decodes state, times and secret_len
 * (32, or 0 when revoked); it has no key id: m->keyid and keyid_len are left alone. HM_OK, or
 * HM_ESTORE with a reason in err, as above.
 */
int ks_rec1_check(const uint8_t *p, size_t n, struct ks_meta *m, char *err,
		  size_t errlen) HM_MUSTCHECK;

#endif
