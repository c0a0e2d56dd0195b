/*
 * audit.h - the bytes of one audit record (doc/keystore.md, "Audit trail"): pure (no LMDB, no
 * I/O, no allocation), so that tests and the fuzzer decode stored bytes with the code the store
 * itself uses.
 *
 * Database "audit": key u64 big-endian sequence number (1, 2, ...; the next is the last + 1,
 * found in the same write transaction, so numbers follow commit order even when the clock
 * jumps), value, little-endian integers at fixed offsets:
 *
 *   offset  size  field
 *   0       1     u8 record format: 1, or 2 for a fleet change applied (below)
 *   1       1     u8 operation (enum hm_audit_op)
 *   2       1     u8 flags: bit 0 a SUDO_UID was recorded; format 2: bit 1 the operator is
 *                 unknown (uid, SUDO_UID, user, sudo user and host all zero or empty); the
 *                 others zero
 *   3       1     format 1: reserved, zero; format 2: u8 the operation the operator ran
 *                 (enum hm_audit_op, create ... policy-unset), 0 when unknown
 *   4       8     i64 time, unix milliseconds (>= 0)
 *   12      4     u32 epoch, 0 when the operation has none
 *   16      4     u32 real uid of the operator
 *   20      4     u32 SUDO_UID, 0 unless flag bit 0
 *   24      7     u8 lengths of tenant, container, key id, user, sudo user, host, detail
 *   31      1     format 1: reserved, zero; format 2: u8 length of the applying host
 *   format 1:
 *   32      ...   the seven strings, in that order, no NULs
 *   format 2:
 *   32      8     i64 the operator's time of the change (the admin host's clock), 0 unknown
 *   40      ...   the seven strings, then the applying host's name
 *
 * Format 2 is written only for fleet-epoch and fleet-policy records that carry what format 1
 * has no room for; every other record is written as format 1, so records read as they always
 * did. A format 2 record that format 1 could hold is not one the encoder writes (refused).
 * Every string is printable ASCII (0x20..0x7e) within its maximum; the record ends with the last
 * one. Anything else does not decode (hm_audit_decode). Never a secret: there is no field for
 * one.
 */
#ifndef HM_KS_AUDIT_H
#define HM_KS_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "proto/errors.h"
#include "store/keystore.h"

#define KS_DB_AUDIT "audit"
#define HM_AUDIT_FORMAT 1u
#define HM_AUDIT_FORMAT_FLEET 2u
#define HM_AUDIT_FIXED 32
#define HM_AUDIT_FIXED_FLEET 40
#define HM_AUDIT_FLAG_SUDO_UID 1u
#define HM_AUDIT_FLAG_OPERATOR_UNKNOWN 2u
#define HM_AUDIT_MAX                                                                     \
	(HM_AUDIT_FIXED_FLEET + 2 * HM_SCOPE_MAX + HM_KEYID_MAX + 2 * HM_AUDIT_NAME_MAX +    \
	 2 * HM_AUDIT_HOST_MAX + HM_AUDIT_DETAIL_MAX)

/*
 * Encodes r (its seq is the key, not part of the value) into out, as format 2 when it has a
 * fleet field set (operator_unknown, fleet_op, fleet_time_ms, applied_host) and format 1
 * otherwise; returns the length, or 0 if a field is out of range (an unknown operation, a
 * negative time, a string too long or not printable ASCII, fleet fields on an operation other
 * than fleet-epoch or fleet-policy, a fleet_op other than create ... policy-unset, an unknown
 * operator with a uid, name or host).
 */
size_t hm_audit_encode(const struct hm_audit_rec *r, uint8_t out[static HM_AUDIT_MAX]);

/*
 * Decodes the stored value p[0..n) into *r (seq left alone). HM_OK, or HM_EMALFORMED for
 * anything this build did not write: length, format, operation, flags, reserved bytes, a
 * string's length or bytes. *r is zeroed on failure.
 */
int hm_audit_decode(const uint8_t *p, size_t n, struct hm_audit_rec *r) HM_MUSTCHECK;

#endif
