/*
 * record.h - one record of a fleet, as it is kept in Redis (doc/fleet.md, "Records").
 *
 * A fleet holds one record per epoch of a scope and one per stored policy. Its identity is
 *     ident = u8 kind (1 epoch, 2 policy) | u8 len | tenant | u8 len | container
 *             [| u32 BE epoch, for an epoch]
 * and its name in Redis is hm_seal_name(ident): 64 hex digits, so Redis learns neither tenant
 * nor container nor epoch. The value under "<prefix>r:<name>" is the blob
 *     u8 format (2; 1 from an older hmacctl) | u64 BE version | hm_seal_record(plain)
 * sealed with the associated data
 *     "hmacd fleet record v1" | u8 len | prefix | fleet id (16 bytes) | name (32 bytes)
 *     | u8 format | u64 BE version
 * so a blob moved to another name, fleet prefix or fleet (another fleet made later in the same
 * Redis with the same seal key), or given another version or format byte, does not open.
 * The plaintext is ident, then in format 2 the change's origin
 *     u8 operation (enum hm_audit_op: 1 create, 2 rotate, 3 import, 4 revoke for an epoch;
 *     5 policy-set, 6 policy-unset for a policy, as present says) | i64 BE time, unix ms (>= 0)
 *     | u32 BE uid | u8 1 if a SUDO_UID follows, else 0 | u32 BE SUDO_UID (0 unless)
 *     | u8 len | user (..64) | u8 len | sudo user (..64) | u8 len | host (..255)
 * (the operator and the admin host, printable ASCII; format 1 has none), then for an epoch
 *     u8 state | i64 BE created | i64 BE deadline | u8 len | key id | u8 len | secret
 * (no secret for a revoked epoch) and for a policy
 *     u8 present (0 unset, 1 set) | u16 BE len | hm_policy_encode() bytes (len 0 when unset).
 *
 * Decoded records are struct hm_ks_mirror_rec, the form the store applies. Pure functions of
 * their arguments; plaintext buffers are wiped before they return.
 */
#ifndef HM_FLEET_RECORD_H
#define HM_FLEET_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "fleet/seal.h"
#include "proto/errors.h"
#include "proto/lex.h"
#include "proto/policy.h"
#include "store/keystore.h"

#define HM_FREC_FORMAT 2u    /* with the change's origin */
#define HM_FREC_FORMAT_V1 1u /* without: written by hmacctl before format 2, still opened */
#define HM_FREC_IDENT_MAX (1 + 1 + HM_SCOPE_MAX + 1 + HM_SCOPE_MAX + 4)
#define HM_FREC_ORIGIN_MAX \
	(1 + 8 + 4 + 1 + 4 + 1 + HM_AUDIT_NAME_MAX + 1 + HM_AUDIT_NAME_MAX + 1 + HM_AUDIT_HOST_MAX)
#define HM_FREC_PLAIN_MAX                                                                  \
	(HM_FREC_IDENT_MAX + HM_FREC_ORIGIN_MAX + 1 + 8 + 8 + 1 + HM_KEYID_MAX + 1 +        \
	 HM_KEY_MAX + HM_POLICY_ENC_MAX)
#define HM_FREC_BLOB_MAX (1 + 8 + HM_SEAL_OVERHEAD + HM_FREC_PLAIN_MAX)

/*
 * The identity of r (kind, tenant, container, and epoch for an epoch) into out; its length.
 * r's names must be valid scope names (at most HM_SCOPE_MAX bytes).
 */
size_t hm_frec_ident(const struct hm_ks_mirror_rec *r, uint8_t out[static HM_FREC_IDENT_MAX]);

/*
 * Sets r->name to the record's name (binary) and hex[] to its hex form, the Redis key's tail.
 * HM_OK or HM_ECRYPTO.
 */
int hm_frec_name(const struct hm_seal *s, struct hm_ks_mirror_rec *r,
		 char hex[static HM_SEAL_NAME_HEX]) HM_MUSTCHECK;

/*
 * Seals r (named by hm_frec_name, with its version set) for the fleet prefix and fleet id (32
 * lower-case hex digits, the fleet's meta) into
 * out[0..HM_FREC_BLOB_MAX), *len set: format 2 with r->origin when it is known, format 1
 * (what an older hmacctl wrote) when not. HM_OK, HM_EINVAL (a field no store could hold: names,
 * epoch 0, state, key id, a secret outside HM_KEY_MIN..HM_KEY_MAX or present when revoked, a
 * policy set without components; an origin whose operation is not of the record's kind, whose
 * time is negative, or whose names are too long or not printable ASCII), HM_ECRYPTO.
 */
int hm_frec_seal(const struct hm_seal *s, const char *prefix, const char *fleet_id,
		 const struct hm_ks_mirror_rec *r, uint8_t out[static HM_FREC_BLOB_MAX],
		 size_t *len) HM_MUSTCHECK;

/*
 * Opens the blob found under the name hex (64 hex digits) of the fleet prefix and fleet id into
 * *r (name and version set; origin.known false for format 1). HM_OK; HM_EMALFORMED when
 * anything is off: unknown format (or a format byte changed: it is authenticated), a blob that
 * does not authenticate (another seal key, another name, prefix or version, a flipped bit), a
 * plaintext that does not decode or holds what no store could (the fields hm_frec_seal()
 * refuses), or an identity that does not hash to the name. *r is wiped on failure. HM_ECRYPTO.
 */
int hm_frec_open(const struct hm_seal *s, const char *prefix, const char *fleet_id,
		 const char *hex, const uint8_t *blob, size_t len,
		 struct hm_ks_mirror_rec *r) HM_MUSTCHECK;

#endif
