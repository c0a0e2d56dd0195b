/*
 * audit.c - the audit record's bytes (audit.h): encode and a decoder that accepts only what the
 * encoder writes, so a corrupt or hostile value is refused whole, never half read.
 */
#include "store/audit.h"
#include "store/keystore.h"
#include "store/record.h"

#include <stdbool.h>
#include <string.h>

#define NSTR 7

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

/* The record's strings with their maxima, in stored order. */
struct field {
	char *s;
	size_t max;
};

static void fields_of(struct hm_audit_rec *r, struct field f[NSTR])
{
	f[0] = (struct field){ r->tenant, HM_SCOPE_MAX };
	f[1] = (struct field){ r->container, HM_SCOPE_MAX };
	f[2] = (struct field){ r->keyid, HM_KEYID_MAX };
	f[3] = (struct field){ r->actor.user, HM_AUDIT_NAME_MAX };
	f[4] = (struct field){ r->actor.sudo_user, HM_AUDIT_NAME_MAX };
	f[5] = (struct field){ r->actor.host, HM_AUDIT_HOST_MAX };
	f[6] = (struct field){ r->detail, HM_AUDIT_DETAIL_MAX };
}

size_t hm_audit_encode(const struct hm_audit_rec *r, uint8_t out[static HM_AUDIT_MAX])
{
	struct field f[NSTR];
	size_t off = HM_AUDIT_FIXED, len;

	/* fields_of() wants a mutable record only to share one table with the decoder */
	fields_of((struct hm_audit_rec *)r, f);
	if ((int)r->op <= 0 || r->op >= HM_AUDIT_OP__MAX || r->time_ms < 0)
		return 0;
	memset(out, 0, HM_AUDIT_FIXED);
	out[0] = HM_AUDIT_FORMAT;
	out[1] = (uint8_t)r->op;
	out[2] = r->actor.has_sudo_uid ? HM_AUDIT_FLAG_SUDO_UID : 0;
	ks_put_le64(out + 4, r->time_ms);
	ks_put_le32(out + 12, r->epoch);
	ks_put_le32(out + 16, r->actor.uid);
	ks_put_le32(out + 20, r->actor.has_sudo_uid ? r->actor.sudo_uid : 0);
	for (int i = 0; i < NSTR; i++) {
		len = strnlen(f[i].s, f[i].max + 1);
		if (len > f[i].max || !printable((const uint8_t *)f[i].s, len))
			return 0;
		out[24 + i] = (uint8_t)len;
		memcpy(out + off, f[i].s, len);
		off += len;
	}
	return off;
}

int hm_audit_decode(const uint8_t *p, size_t n, struct hm_audit_rec *r)
{
	struct field f[NSTR];
	uint64_t seq = r->seq;
	size_t off = HM_AUDIT_FIXED, len;

	memset(r, 0, sizeof(*r));
	r->seq = seq;
	if (n < HM_AUDIT_FIXED || n > HM_AUDIT_MAX || p[0] != HM_AUDIT_FORMAT || p[1] == 0 ||
	    p[1] >= HM_AUDIT_OP__MAX || (p[2] & ~HM_AUDIT_FLAG_SUDO_UID) != 0 || p[3] != 0 ||
	    p[31] != 0)
		goto bad;
	r->op = (enum hm_audit_op)p[1];
	r->actor.has_sudo_uid = (p[2] & HM_AUDIT_FLAG_SUDO_UID) != 0;
	r->time_ms = ks_get_le64(p + 4);
	r->epoch = ks_get_le32(p + 12);
	r->actor.uid = ks_get_le32(p + 16);
	r->actor.sudo_uid = ks_get_le32(p + 20);
	if (r->time_ms < 0 || (!r->actor.has_sudo_uid && r->actor.sudo_uid != 0))
		goto bad;
	fields_of(r, f);
	for (int i = 0; i < NSTR; i++) {
		len = p[24 + i];
		if (len > f[i].max || len > n - off || !printable(p + off, len))
			goto bad;
		memcpy(f[i].s, p + off, len);
		f[i].s[len] = '\0';
		off += len;
	}
	if (off != n)
		goto bad;
	return HM_OK;
bad:
	memset(r, 0, sizeof(*r));
	r->seq = seq;
	return HM_EMALFORMED;
}
