/*
 * audit.c - the audit record's bytes (audit.h): encode and a decoder that accepts only what the
 * encoder writes, so a corrupt or hostile value is refused whole, never half read.
 */
#include "store/audit.h"
#include "store/keystore.h"
#include "store/record.h"

#include <stdbool.h>
#include <string.h>

#define NSTR 7       /* strings of format 1 */
#define NSTR_FLEET 8 /* of format 2: the applying host too */

static const char *const op_names[HM_AUDIT_OP__MAX] = {
	[HM_AUDIT_CREATE] = "create",
	[HM_AUDIT_ROTATE] = "rotate",
	[HM_AUDIT_IMPORT] = "import",
	[HM_AUDIT_REVOKE] = "revoke",
	[HM_AUDIT_POLICY_SET] = "policy-set",
	[HM_AUDIT_POLICY_UNSET] = "policy-unset",
	[HM_AUDIT_PRUNE] = "audit-prune",
	[HM_AUDIT_RESTORE] = "restore",
	[HM_AUDIT_FLEET_EPOCH] = "fleet-epoch",
	[HM_AUDIT_FLEET_POLICY] = "fleet-policy",
};

const char *hm_audit_op_name(enum hm_audit_op op)
{
	if ((int)op <= 0 || op >= HM_AUDIT_OP__MAX)
		return "unknown";
	return op_names[op];
}

static bool printable(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] < 0x20 || p[i] > 0x7e)
			return false;
	}
	return true;
}

/* The record's strings with their maxima, in stored order (format 2 adds the last). */
struct field {
	char *s;
	size_t max;
};

static void fields_of(struct hm_audit_rec *r, struct field f[NSTR_FLEET])
{
	f[0] = (struct field){ r->tenant, HM_SCOPE_MAX };
	f[1] = (struct field){ r->container, HM_SCOPE_MAX };
	f[2] = (struct field){ r->keyid, HM_KEYID_MAX };
	f[3] = (struct field){ r->actor.user, HM_AUDIT_NAME_MAX };
	f[4] = (struct field){ r->actor.sudo_user, HM_AUDIT_NAME_MAX };
	f[5] = (struct field){ r->actor.host, HM_AUDIT_HOST_MAX };
	f[6] = (struct field){ r->detail, HM_AUDIT_DETAIL_MAX };
	f[7] = (struct field){ r->applied_host, HM_AUDIT_HOST_MAX };
}

static bool fleet_applied_op(enum hm_audit_op op)
{
	return op == HM_AUDIT_FLEET_EPOCH || op == HM_AUDIT_FLEET_POLICY;
}

/* An operation an operator runs on a fleet's admin host. */
static bool fleet_origin_op(unsigned op)
{
	return op >= HM_AUDIT_CREATE && op <= HM_AUDIT_POLICY_UNSET;
}

/* Whether r has a field only format 2 holds. */
static bool has_fleet_fields(const struct hm_audit_rec *r)
{
	return r->operator_unknown || r->fleet_op != 0 || r->fleet_time_ms != 0 ||
	       r->applied_host[0] != '\0';
}

/* The rules of format 2's fields, for both directions: what the encoder takes, the decoder. */
static bool fleet_fields_ok(const struct hm_audit_rec *r)
{
	const struct hm_ks_actor *a = &r->actor;

	if (!fleet_applied_op(r->op) || r->fleet_time_ms < 0 ||
	    (r->fleet_op != 0 && !fleet_origin_op(r->fleet_op)))
		return false;
	return !r->operator_unknown || (a->uid == 0 && !a->has_sudo_uid && a->sudo_uid == 0 &&
					a->user[0] == '\0' && a->sudo_user[0] == '\0' &&
					a->host[0] == '\0');
}

size_t hm_audit_encode(const struct hm_audit_rec *r, uint8_t out[static HM_AUDIT_MAX])
{
	struct field f[NSTR_FLEET];
	bool fleet = has_fleet_fields(r);
	size_t off = fleet ? HM_AUDIT_FIXED_FLEET : HM_AUDIT_FIXED, len;
	int nstr = fleet ? NSTR_FLEET : NSTR;

	/* fields_of() wants a mutable record only to share one table with the decoder */
	fields_of((struct hm_audit_rec *)r, f);
	if ((int)r->op <= 0 || r->op >= HM_AUDIT_OP__MAX || r->time_ms < 0 ||
	    (fleet && !fleet_fields_ok(r)))
		return 0;
	memset(out, 0, HM_AUDIT_FIXED_FLEET);
	out[0] = fleet ? HM_AUDIT_FORMAT_FLEET : HM_AUDIT_FORMAT;
	out[1] = (uint8_t)r->op;
	out[2] = (uint8_t)((r->actor.has_sudo_uid ? HM_AUDIT_FLAG_SUDO_UID : 0) |
			   (r->operator_unknown ? HM_AUDIT_FLAG_OPERATOR_UNKNOWN : 0));
	out[3] = (uint8_t)r->fleet_op;
	ks_put_le64(out + 4, r->time_ms);
	ks_put_le32(out + 12, r->epoch);
	ks_put_le32(out + 16, r->actor.uid);
	ks_put_le32(out + 20, r->actor.has_sudo_uid ? r->actor.sudo_uid : 0);
	if (fleet)
		ks_put_le64(out + 32, r->fleet_time_ms);
	for (int i = 0; i < nstr; i++) {
		len = strnlen(f[i].s, f[i].max + 1);
		if (len > f[i].max || !printable((const uint8_t *)f[i].s, len))
			return 0;
		out[24 + i] = (uint8_t)len;
		memcpy(out + off, f[i].s, len);
		off += len;
	}
	return off;
}

/* The fixed part of p[0..n) into *r: whether it is one the encoder writes. */
static bool decode_fixed(const uint8_t *p, size_t n, struct hm_audit_rec *r, bool *fleet)
{
	uint8_t flags_ok = HM_AUDIT_FLAG_SUDO_UID;

	if (n < HM_AUDIT_FIXED || (p[0] != HM_AUDIT_FORMAT && p[0] != HM_AUDIT_FORMAT_FLEET))
		return false;
	*fleet = p[0] == HM_AUDIT_FORMAT_FLEET;
	if (*fleet)
		flags_ok |= HM_AUDIT_FLAG_OPERATOR_UNKNOWN;
	else if (p[3] != 0 || p[31] != 0)
		return false;
	if (n < (*fleet ? HM_AUDIT_FIXED_FLEET : HM_AUDIT_FIXED) || n > HM_AUDIT_MAX || p[1] == 0 ||
	    p[1] >= HM_AUDIT_OP__MAX || (p[2] & ~flags_ok) != 0)
		return false;
	r->op = (enum hm_audit_op)p[1];
	r->actor.has_sudo_uid = (p[2] & HM_AUDIT_FLAG_SUDO_UID) != 0;
	r->operator_unknown = (p[2] & HM_AUDIT_FLAG_OPERATOR_UNKNOWN) != 0;
	r->fleet_op = (enum hm_audit_op)p[3];
	r->time_ms = ks_get_le64(p + 4);
	r->epoch = ks_get_le32(p + 12);
	r->actor.uid = ks_get_le32(p + 16);
	r->actor.sudo_uid = ks_get_le32(p + 20);
	if (*fleet)
		r->fleet_time_ms = ks_get_le64(p + 32);
	return r->time_ms >= 0 && (r->actor.has_sudo_uid || r->actor.sudo_uid == 0);
}

int hm_audit_decode(const uint8_t *p, size_t n, struct hm_audit_rec *r)
{
	struct field f[NSTR_FLEET];
	uint64_t seq = r->seq;
	bool fleet = false;
	size_t off, len;

	memset(r, 0, sizeof(*r));
	r->seq = seq;
	if (!decode_fixed(p, n, r, &fleet))
		goto bad;
	off = fleet ? HM_AUDIT_FIXED_FLEET : HM_AUDIT_FIXED;
	fields_of(r, f);
	for (int i = 0; i < (fleet ? NSTR_FLEET : NSTR); i++) {
		len = p[24 + i];
		if (len > f[i].max || len > n - off || !printable(p + off, len))
			goto bad;
		memcpy(f[i].s, p + off, len);
		f[i].s[len] = '\0';
		off += len;
	}
	/* format 2 only for what format 1 cannot hold, and only with fields the encoder takes */
	if (off != n || (fleet && (!has_fleet_fields(r) || !fleet_fields_ok(r))))
		goto bad;
	return HM_OK;
bad:
	memset(r, 0, sizeof(*r));
	r->seq = seq;
	return HM_EMALFORMED;
}
