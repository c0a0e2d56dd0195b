/*
 * record.c - a fleet record's identity, name, plaintext and sealed blob (record.h).
 */
#include "fleet/record.h"

#include <stdbool.h>
#include <string.h>

#include <openssl/crypto.h>

#include "proto/lex.h"

#define AAD_LABEL "hmacd fleet record v1"
#define FLEET_ID_LEN 16
#define AAD_MAX (sizeof(AAD_LABEL) - 1 + 1 + 255 + FLEET_ID_LEN + HM_KS_MIRROR_NAME_LEN + 1 + 8)
#define BLOB_HEAD 9 /* format, version */

static void put_be(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static uint64_t get_be(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

size_t hm_frec_ident(const struct hm_ks_mirror_rec *r, uint8_t out[static HM_FREC_IDENT_MAX])
{
	size_t tl = strnlen(r->tenant, HM_SCOPE_MAX), cl = strnlen(r->container, HM_SCOPE_MAX);
	size_t n = 0;

	out[n++] = (uint8_t)r->kind;
	out[n++] = (uint8_t)tl;
	memcpy(out + n, r->tenant, tl);
	n += tl;
	out[n++] = (uint8_t)cl;
	memcpy(out + n, r->container, cl);
	n += cl;
	if (r->kind == HM_KS_MIRROR_EPOCH) {
		put_be(out + n, r->epoch, 4);
		n += 4;
	}
	return n;
}

/* n bytes from 2n lower-case hex digits, the whole string. HM_OK or HM_EMALFORMED. */
static int hex_to_bin(const char *hex, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v = 0;

		for (size_t j = 0; j < 2; j++) {
			char c = hex[2 * i + j];

			if (c >= '0' && c <= '9')
				v = v << 4 | (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v = v << 4 | (unsigned)(c - 'a' + 10);
			else
				return HM_EMALFORMED;
		}
		out[i] = (uint8_t)v;
	}
	return hex[2 * n] == '\0' ? HM_OK : HM_EMALFORMED;
}

int hm_frec_name(const struct hm_seal *s, struct hm_ks_mirror_rec *r,
		 char hex[static HM_SEAL_NAME_HEX])
{
	uint8_t ident[HM_FREC_IDENT_MAX];
	int rc;

	rc = hm_seal_name(s, ident, hm_frec_ident(r, ident), hex);
	if (rc != HM_OK)
		return rc;
	return hex_to_bin(hex, r->name, HM_KS_MIRROR_NAME_LEN) == HM_OK ? HM_OK : HM_ECRYPTO;
}

static size_t aad_of(uint8_t *out, const char *prefix, const uint8_t fleet[FLEET_ID_LEN],
		     const uint8_t *name, uint8_t format, uint64_t version)
{
	size_t pl = strnlen(prefix, 255), n = sizeof(AAD_LABEL) - 1;

	memcpy(out, AAD_LABEL, n);
	out[n++] = (uint8_t)pl;
	memcpy(out + n, prefix, pl);
	n += pl;
	memcpy(out + n, fleet, FLEET_ID_LEN);
	n += FLEET_ID_LEN;
	memcpy(out + n, name, HM_KS_MIRROR_NAME_LEN);
	n += HM_KS_MIRROR_NAME_LEN;
	out[n++] = format;
	put_be(out + n, version, 8);
	return n + 8;
}

static bool scope_ok(const char *s, bool may_be_empty)
{
	size_t n = strnlen(s, HM_SCOPE_MAX + 1);

	if (n == 0)
		return may_be_empty;
	return n <= HM_SCOPE_MAX && hm_lex_scope((const uint8_t *)s, n);
}

/*
 * Whether r is a record a store can hold (the rules of hm_ks_mirror_apply): what is sealed,
 * and all that is accepted when opened, so a reader never hands on a record no writer makes.
 */
static bool rec_ok(const struct hm_ks_mirror_rec *r)
{
	size_t kl;

	if (!scope_ok(r->tenant, false) || !scope_ok(r->container, r->kind == HM_KS_MIRROR_POLICY))
		return false;
	if (r->kind == HM_KS_MIRROR_POLICY)
		return !r->present || r->policy.ncomponents >= 1;
	if (r->kind != HM_KS_MIRROR_EPOCH || r->epoch == 0)
		return false;
	if (r->state != HM_KEY_CURRENT && r->state != HM_KEY_SUPERSEDED &&
	    r->state != HM_KEY_REVOKED)
		return false;
	kl = strnlen(r->keyid, HM_KEYID_MAX + 1);
	if (kl == 0 || kl > HM_KEYID_MAX || !hm_lex_keyid((const uint8_t *)r->keyid, kl))
		return false;
	if (r->state == HM_KEY_REVOKED)
		return r->secret_len == 0;
	return r->secret_len >= HM_KEY_MIN && r->secret_len <= HM_KEY_MAX;
}

static bool printable(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	}
	return true;
}

/*
 * Whether r's origin is one a writer makes: an operation of the record's kind (a policy set or
 * unset as the record says; an epoch created, rotated, imported or revoked), a time >= 0, a
 * SUDO_UID only with its flag, printable strings within the audit record's maxima.
 */
static bool origin_ok(const struct hm_ks_mirror_rec *r)
{
	const struct hm_ks_origin *o = &r->origin;
	const struct hm_ks_actor *a = &o->actor;

	if (r->kind == HM_KS_MIRROR_POLICY) {
		if (o->op != (r->present ? HM_AUDIT_POLICY_SET : HM_AUDIT_POLICY_UNSET))
			return false;
	} else if (o->op != HM_AUDIT_CREATE && o->op != HM_AUDIT_ROTATE &&
		   o->op != HM_AUDIT_IMPORT && o->op != HM_AUDIT_REVOKE) {
		return false;
	}
	return o->time_ms >= 0 && (a->has_sudo_uid || a->sudo_uid == 0) &&
	       printable(a->user, HM_AUDIT_NAME_MAX) && printable(a->sudo_user, HM_AUDIT_NAME_MAX) &&
	       printable(a->host, HM_AUDIT_HOST_MAX);
}

static size_t put_str(uint8_t *out, const char *s)
{
	size_t l = strlen(s);

	out[0] = (uint8_t)l;
	memcpy(out + 1, s, l);
	return 1 + l;
}

/* The origin of r (origin_ok) into out (HM_FREC_ORIGIN_MAX bytes); its length. */
static size_t origin_encode(const struct hm_ks_origin *o, uint8_t *out)
{
	size_t n = 0;

	out[n++] = (uint8_t)o->op;
	put_be(out + n, (uint64_t)o->time_ms, 8);
	put_be(out + n + 8, o->actor.uid, 4);
	out[n + 12] = o->actor.has_sudo_uid ? 1 : 0;
	put_be(out + n + 13, o->actor.sudo_uid, 4);
	n += 17; /* 18 with the op */
	n += put_str(out + n, o->actor.user);
	n += put_str(out + n, o->actor.sudo_user);
	n += put_str(out + n, o->actor.host);
	return n;
}

/* The plaintext of r into out (HM_FREC_PLAIN_MAX bytes), *len set. HM_OK or HM_EINVAL. */
static int plain_encode(const struct hm_ks_mirror_rec *r, uint8_t *out, size_t *len)
{
	size_t n, kl;
	int rc;

	if (!rec_ok(r) || (r->origin.known && !origin_ok(r)))
		return HM_EINVAL;
	n = hm_frec_ident(r, out);
	if (r->origin.known)
		n += origin_encode(&r->origin, out + n);
	if (r->kind == HM_KS_MIRROR_EPOCH) {
		kl = strlen(r->keyid);
		out[n++] = (uint8_t)r->state;
		put_be(out + n, (uint64_t)r->created, 8);
		put_be(out + n + 8, (uint64_t)r->deadline, 8);
		n += 16;
		out[n++] = (uint8_t)kl;
		memcpy(out + n, r->keyid, kl);
		n += kl;
		out[n++] = (uint8_t)r->secret_len;
		memcpy(out + n, r->secret, r->secret_len);
		*len = n + r->secret_len;
		return HM_OK;
	}
	out[n] = r->present ? 1 : 0;
	kl = 0;
	if (r->present) {
		rc = hm_policy_encode(&r->policy, out + n + 3, HM_POLICY_ENC_MAX, &kl);
		if (rc != HM_OK)
			return HM_EINVAL;
	}
	put_be(out + n + 1, kl, 2);
	*len = n + 3 + kl;
	return HM_OK;
}

/* Reads an u8-length-prefixed string of p[*off..n) into out (cap bytes with its NUL). */
static bool take_str(const uint8_t *p, size_t n, size_t *off, char *out, size_t cap)
{
	size_t l;

	if (*off >= n)
		return false;
	l = p[(*off)++];
	if (l >= cap || n - *off < l || memchr(p + *off, '\0', l) != NULL)
		return false;
	memcpy(out, p + *off, l);
	out[l] = '\0';
	*off += l;
	return true;
}

/* The origin at p[*off..n) into *o (known); checked by origin_ok() once the record is read. */
static bool origin_decode(const uint8_t *p, size_t n, size_t *off, struct hm_ks_origin *o)
{
	const uint8_t *q = p + *off;

	/* op, time, uid, sudo flag, sudo uid: 18 bytes */
	if (n - *off < 18 || q[0] >= HM_AUDIT_OP__MAX || q[13] > 1)
		return false;
	o->known = true;
	o->op = (enum hm_audit_op)q[0];
	o->time_ms = (int64_t)get_be(q + 1, 8);
	o->actor.uid = (uint32_t)get_be(q + 9, 4);
	o->actor.has_sudo_uid = q[13] == 1;
	o->actor.sudo_uid = (uint32_t)get_be(q + 14, 4);
	*off += 18;
	return take_str(p, n, off, o->actor.user, sizeof(o->actor.user)) &&
	       take_str(p, n, off, o->actor.sudo_user, sizeof(o->actor.sudo_user)) &&
	       take_str(p, n, off, o->actor.host, sizeof(o->actor.host));
}

static bool plain_decode(const uint8_t *p, size_t n, uint8_t format, struct hm_ks_mirror_rec *r)
{
	size_t off = 1, l;

	if (n < 1 || (p[0] != HM_KS_MIRROR_EPOCH && p[0] != HM_KS_MIRROR_POLICY))
		return false;
	r->kind = (enum hm_ks_mirror_kind)p[0];
	if (!take_str(p, n, &off, r->tenant, sizeof(r->tenant)) ||
	    !take_str(p, n, &off, r->container, sizeof(r->container)))
		return false;
	if (r->kind == HM_KS_MIRROR_EPOCH) {
		if (n - off < 4)
			return false;
		r->epoch = (uint32_t)get_be(p + off, 4);
		off += 4;
	}
	if (format == HM_FREC_FORMAT && !origin_decode(p, n, &off, &r->origin))
		return false;
	if (r->kind == HM_KS_MIRROR_POLICY) {
		if (n - off < 3)
			return false;
		r->present = p[off] == 1;
		l = (size_t)get_be(p + off + 1, 2);
		off += 3;
		if (p[off - 3] > 1 || n - off != l || r->present != (l > 0))
			return false;
		return !r->present || hm_policy_decode(p + off, l, &r->policy) == HM_OK;
	}
	if (n - off < 17)
		return false;
	r->state = (enum hm_key_state)p[off];
	r->created = (int64_t)get_be(p + off + 1, 8);
	r->deadline = (int64_t)get_be(p + off + 9, 8);
	off += 17;
	if (!take_str(p, n, &off, r->keyid, sizeof(r->keyid)) || off >= n)
		return false;
	l = p[off++];
	if (l > HM_KEY_MAX || n - off != l)
		return false;
	memcpy(r->secret, p + off, l);
	r->secret_len = l;
	return true;
}

int hm_frec_seal(const struct hm_seal *s, const char *prefix, const char *fleet_id,
		 const struct hm_ks_mirror_rec *r, uint8_t out[static HM_FREC_BLOB_MAX],
		 size_t *len)
{
	uint8_t plain[HM_FREC_PLAIN_MAX], aad[AAD_MAX], fleet[FLEET_ID_LEN];
	size_t plen = 0, alen, sealed = 0;
	uint8_t format;
	int rc;

	*len = 0;
	if (strnlen(prefix, 256) > 255 || hex_to_bin(fleet_id, fleet, FLEET_ID_LEN) != HM_OK)
		return HM_EINVAL;
	rc = plain_encode(r, plain, &plen);
	if (rc != HM_OK)
		goto out;
	format = r->origin.known ? HM_FREC_FORMAT : HM_FREC_FORMAT_V1;
	alen = aad_of(aad, prefix, fleet, r->name, format, r->version);
	out[0] = format;
	put_be(out + 1, r->version, 8);
	rc = hm_seal_record(s, aad, alen, plain, plen, out + BLOB_HEAD,
			    HM_FREC_BLOB_MAX - BLOB_HEAD, &sealed);
	if (rc == HM_OK)
		*len = BLOB_HEAD + sealed;
	else if (rc != HM_ECRYPTO)
		rc = HM_EINVAL;
out:
	OPENSSL_cleanse(plain, sizeof(plain));
	return rc;
}

int hm_frec_open(const struct hm_seal *s, const char *prefix, const char *fleet_id,
		 const char *hex, const uint8_t *blob, size_t len, struct hm_ks_mirror_rec *r)
{
	uint8_t plain[HM_FREC_PLAIN_MAX], aad[AAD_MAX], ident[HM_FREC_IDENT_MAX];
	uint8_t fleet[FLEET_ID_LEN];
	uint8_t name[HM_KS_MIRROR_NAME_LEN];
	char want[HM_SEAL_NAME_HEX];
	size_t plen = 0, alen;
	uint64_t version;
	uint8_t format;
	int rc;

	memset(r, 0, sizeof(*r));
	if (strnlen(prefix, 256) > 255 || strnlen(hex, HM_SEAL_NAME_HEX) != HM_SEAL_NAME_HEX - 1 ||
	    hex_to_bin(hex, name, HM_KS_MIRROR_NAME_LEN) != HM_OK ||
	    hex_to_bin(fleet_id, fleet, FLEET_ID_LEN) != HM_OK || len < BLOB_HEAD ||
	    (blob[0] != HM_FREC_FORMAT && blob[0] != HM_FREC_FORMAT_V1))
		return HM_EMALFORMED;
	/* the format is in the associated data: a blob given another format byte does not open */
	format = blob[0];
	version = get_be(blob + 1, 8);
	alen = aad_of(aad, prefix, fleet, name, format, version);
	rc = hm_seal_open(s, aad, alen, blob + BLOB_HEAD, len - BLOB_HEAD, plain, sizeof(plain),
			  &plen);
	if (rc == HM_ETOOBIG)
		rc = HM_EMALFORMED;
	if (rc != HM_OK)
		goto out;
	rc = HM_EMALFORMED;
	if (!plain_decode(plain, plen, format, r) || !rec_ok(r) ||
	    (r->origin.known && !origin_ok(r)))
		goto out;
	/* the identity inside must be the one the name was made from */
	if (hm_seal_name(s, ident, hm_frec_ident(r, ident), want) != HM_OK) {
		rc = HM_ECRYPTO;
		goto out;
	}
	if (CRYPTO_memcmp(want, hex, HM_SEAL_NAME_HEX - 1) != 0)
		goto out;
	memcpy(r->name, name, sizeof(name));
	r->version = version;
	rc = HM_OK;
out:
	OPENSSL_cleanse(plain, sizeof(plain));
	if (rc != HM_OK)
		OPENSSL_cleanse(r, sizeof(*r));
	return rc;
}
