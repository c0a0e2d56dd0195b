/*
 * record.c - the key store's bytes on disk: keys and key records (format in record.h).
 *
 * Pure: callers hand in bytes LMDB gave them or will be given. Reasons for a refused record go
 * to the caller's err buffer with snprintf (truncated if need be: it is a diagnostic), and never
 * contain a secret byte.
 */
#include "store/record.h"

#include <stdio.h>
#include <string.h>

const char *hm_key_state_name(enum hm_key_state s)
{
	switch (s) {
	case HM_KEY_CURRENT:
		return "current";
	case HM_KEY_SUPERSEDED:
		return "superseded";
	case HM_KEY_REVOKED:
		return "revoked";
	}
	return "unknown";
}

size_t ks_key_prefix(uint8_t out[static KS_KEY_MAX], const uint8_t *t, size_t tl,
		     const uint8_t *c, size_t cl)
{
	size_t n = 0;

	out[n++] = (uint8_t)tl;
	memcpy(out + n, t, tl);
	n += tl;
	out[n++] = (uint8_t)cl;
	memcpy(out + n, c, cl);
	n += cl;
	return n;
}

const char *ks_scope_split(const uint8_t *p, size_t n, size_t tail, bool tenant_only,
			   size_t *tl, size_t *cl)
{
	if (n < 1 + 1 + 1 + tail)
		return "short key";
	*tl = p[0];
	if (*tl < 1 || *tl > KS_NAME_MAX || n < 1 + *tl + 1 + tail)
		return "bad tenant length in key";
	*cl = p[1 + *tl];
	if ((*cl < 1 && !tenant_only) || *cl > KS_NAME_MAX || n != 1 + *tl + 1 + *cl + tail)
		return "bad container length in key";
	if (!ks_scope_name_ok((const char *)p + 1, *tl) ||
	    (*cl > 0 && !ks_scope_name_ok((const char *)p + 2 + *tl, *cl)))
		return "bad scope name in key";
	if (tail == 4 && ks_get_be32(p + 2 + *tl + *cl) == 0)
		return "epoch 0 in key";
	return NULL;
}

size_t ks_rec_encode(uint8_t out[static KS_REC_MAX], const struct ks_meta *m,
		     const uint8_t *secret)
{
	size_t slen = secret != NULL ? m->secret_len : 0;

	memset(out, 0, KS_REC_FIXED);
	ks_put_le32(out + KS_REC_OFF_FORMAT, KS_REC_FORMAT);
	ks_put_le32(out + KS_REC_OFF_STATE, m->state);
	ks_put_le64(out + KS_REC_OFF_CREATED, m->created);
	ks_put_le64(out + KS_REC_OFF_DEADLINE, m->deadline);
	out[KS_REC_OFF_SECRET_LEN] = (uint8_t)slen;
	out[KS_REC_OFF_KEYID_LEN] = (uint8_t)m->keyid_len;
	if (slen > 0)
		memcpy(out + KS_REC_OFF_SECRET, secret, slen);
	memcpy(out + KS_REC_OFF_KEYID, m->keyid, m->keyid_len);
	return KS_REC_FIXED + m->keyid_len;
}

/* True if p[0..n) is all zero; not on a secret's bytes (only on bytes that must be zero). */
static bool zero_bytes(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	size_t i;

	for (i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

int ks_rec_check(const uint8_t *p, size_t n, struct ks_meta *m, char *err, size_t errlen)
{
	uint32_t format;

	if (n < KS_REC_FIXED + 1 || n > KS_REC_MAX) {
		(void)snprintf(err, errlen, "corrupt key store: record of %zu bytes, want %d to %d",
			       n, KS_REC_FIXED + 1, KS_REC_MAX);
		return HM_ESTORE;
	}
	format = ks_get_le32(p + KS_REC_OFF_FORMAT);
	if (format != KS_REC_FORMAT) {
		(void)snprintf(err, errlen, "key record format %u, this build reads %u", format,
			       KS_REC_FORMAT);
		return HM_ESTORE;
	}
	m->state = ks_get_le32(p + KS_REC_OFF_STATE);
	m->created = ks_get_le64(p + KS_REC_OFF_CREATED);
	m->deadline = ks_get_le64(p + KS_REC_OFF_DEADLINE);
	m->secret_len = p[KS_REC_OFF_SECRET_LEN];
	m->keyid_len = p[KS_REC_OFF_KEYID_LEN];
	m->keyid = p + KS_REC_OFF_KEYID;
	if (m->state < HM_KEY_CURRENT || m->state > HM_KEY_REVOKED || m->created < 0 ||
	    m->deadline < 0) {
		(void)snprintf(err, errlen,
			       "corrupt key store: bad state or times in a key record");
		return HM_ESTORE;
	}
	if (m->state == HM_KEY_REVOKED ? m->secret_len != 0
				       : m->secret_len < HM_KEY_MIN || m->secret_len > HM_KEY_MAX) {
		(void)snprintf(err, errlen, "corrupt key store: bad secret length in a key record");
		return HM_ESTORE;
	}
	if (n != KS_REC_FIXED + m->keyid_len ||
	    !ks_keyid_ok((const char *)m->keyid, m->keyid_len)) {
		(void)snprintf(err, errlen, "corrupt key store: bad key id in a key record");
		return HM_ESTORE;
	}
	/* Past the secret's length only zeros: the length is public, the bytes checked are not. */
	if (!zero_bytes(p + KS_REC_OFF_RESERVED, KS_REC_OFF_SECRET - KS_REC_OFF_RESERVED) ||
	    !zero_bytes(p + KS_REC_OFF_SECRET + m->secret_len, HM_KEY_MAX - m->secret_len)) {
		(void)snprintf(err, errlen,
			       "corrupt key store: reserved bytes set in a key record");
		return HM_ESTORE;
	}
	return HM_OK;
}

int ks_rec1_check(const uint8_t *p, size_t n, struct ks_meta *m, char *err, size_t errlen)
{
	if (n != KS_REC1_LEN || ks_get_le32(p + KS_REC_OFF_FORMAT) != KS_REC1_FORMAT) {
		(void)snprintf(err, errlen, "corrupt schema 1 key record (%zu bytes)", n);
		return HM_ESTORE;
	}
	m->state = ks_get_le32(p + KS_REC_OFF_STATE);
	m->created = ks_get_le64(p + KS_REC_OFF_CREATED);
	m->deadline = ks_get_le64(p + KS_REC_OFF_DEADLINE);
	m->secret_len = m->state == HM_KEY_REVOKED ? 0 : KS_REC1_SECRET_LEN;
	if (m->state < HM_KEY_CURRENT || m->state > HM_KEY_REVOKED || m->created < 0 ||
	    m->deadline < 0 || !zero_bytes(p + KS_REC1_OFF_RESERVED, KS_REC1_LEN -
					   KS_REC1_OFF_RESERVED)) {
		(void)snprintf(err, errlen, "corrupt schema 1 key record");
		return HM_ESTORE;
	}
	return HM_OK;
}
