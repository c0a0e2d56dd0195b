/* siginput.c - the Signature-Input member a signer sends (see siginput.h). */
#include "proto/siginput.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "proto/lex.h"
#include "proto/sfv.h"

#define ALG "hmac-sha256"

static const char *const default_components[] = {"@method", "@authority", "@path"};

/* ;key="s" with '"' and '\' escaped. False if s is not printable ASCII (no String carries it). */
static bool put_string_param(struct hm_sf_out *o, const char *key, const char *s)
{
	hm_sf_put(o, ";", 1);
	hm_sf_put(o, key, strlen(key));
	hm_sf_put(o, "=\"", 2);
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch < 0x20 || ch > 0x7e)
			return false;
		if (ch == '"' || ch == '\\')
			hm_sf_put(o, "\\", 1);
		hm_sf_put(o, s, 1);
	}
	hm_sf_put(o, "\"", 1);
	return true;
}

static void put_int_param(struct hm_sf_out *o, const char *key, int64_t v)
{
	char num[32];
	int n = snprintf(num, sizeof(num), ";%s=%" PRId64, key, v);

	if (n < 0 || (size_t)n >= sizeof(num)) {
		o->failed = true;
		return;
	}
	hm_sf_put(o, num, (size_t)n);
}

/* Length of a quoted String at s (s[0] == '"'), closing quote included if there is one. */
static size_t quoted_len(const char *s)
{
	size_t n = 1;

	while (s[n] != '\0' && s[n] != '"') {
		if (s[n] == '\\' && s[n + 1] != '\0')
			n++;
		n++;
	}
	return s[n] == '"' ? n + 1 : n;
}

/*
 * One covered component as an inner-list item: passed through when already serialized (it
 * starts with '"'); else the simple form name[;param[=value]]... with the name and every
 * unquoted value put in quotes. This only writes text: hm_sf_parse() judges it afterwards.
 */
static void put_component(struct hm_sf_out *o, const char *c)
{
	size_t n;

	if (c[0] == '"') {
		hm_sf_put(o, c, strlen(c));
		return;
	}
	n = strcspn(c, ";");
	hm_sf_put(o, "\"", 1);
	hm_sf_put(o, c, n);
	hm_sf_put(o, "\"", 1);
	c += n;
	while (*c == ';') {
		c++;
		n = strcspn(c, "=;");
		hm_sf_put(o, ";", 1);
		hm_sf_put(o, c, n);
		c += n;
		if (*c != '=')
			continue;
		hm_sf_put(o, "=", 1);
		c++;
		if (*c == '"') {
			n = quoted_len(c);
			hm_sf_put(o, c, n);
		} else {
			n = strcspn(c, ";");
			hm_sf_put(o, "\"", 1);
			hm_sf_put(o, c, n);
			hm_sf_put(o, "\"", 1);
		}
		c += n;
	}
}

static bool has_header(const struct hm_item *it, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < it->nheaders; i++)
		if (it->headers[i].name.len == n &&
		    strncasecmp((const char *)it->headers[i].name.ptr, name, n) == 0)
			return true;
	return false;
}

/* The member text into o; HM_OK, HM_EINVAL or the random source's error (o->failed: short). */
static int put_member(struct hm_sf_out *o, const struct hm_item *it, const struct hm_siginput *si)
{
	const char *const *comp = si->components;
	size_t ncomp = si->ncomponents;
	uint8_t rnd[HM_SI_NONCE_BYTES];
	char nonce[2 * HM_SI_NONCE_BYTES + 1];
	const char *nv = si->nonce;
	int rc;

	if (si->label == NULL ||
	    !hm_lex_sf_key((const uint8_t *)si->label, strlen(si->label), HM_LABEL_MAX) ||
	    si->keyid == NULL || si->keyid[0] == '\0' || (si->components == NULL && ncomp > 0))
		return HM_EINVAL;
	if (ncomp == 0) {
		comp = default_components;
		ncomp = sizeof(default_components) / sizeof(default_components[0]);
	}
	if ((si->has_created && si->created < 0) || (si->has_expires && si->expires < 0))
		return HM_EINVAL;
	if (nv == NULL) {
		if (si->random == NULL)
			return HM_EINVAL;
		rc = si->random(rnd, sizeof(rnd));
		if (rc != HM_OK)
			return rc;
		for (size_t i = 0; i < sizeof(rnd); i++)
			snprintf(nonce + 2 * i, 3, "%02x", rnd[i]);
		nv = nonce;
	}
	hm_sf_put(o, si->label, strlen(si->label));
	hm_sf_put(o, "=(", 2);
	for (size_t i = 0; i < ncomp; i++) {
		if (comp[i] == NULL || comp[i][0] == '\0')
			return HM_EINVAL;
		if (i > 0)
			hm_sf_put(o, " ", 1);
		put_component(o, comp[i]);
	}
	/* the default set: the query too when there is one, which @path leaves out */
	if (si->ncomponents == 0 && it->path.len > 0 &&
	    memchr(it->path.ptr, '?', it->path.len) != NULL) {
		hm_sf_put(o, " ", 1);
		put_component(o, "@query");
	}
	if (si->ncomponents == 0 && has_header(it, "content-digest")) {
		hm_sf_put(o, " ", 1);
		put_component(o, "content-digest");
	}
	hm_sf_put(o, ")", 1);
	if (si->has_created)
		put_int_param(o, "created", si->created);
	if (si->has_expires)
		put_int_param(o, "expires", si->expires);
	if (nv[0] != '\0' && !put_string_param(o, "nonce", nv))
		return HM_EINVAL;
	if (si->alg && !put_string_param(o, "alg", ALG))
		return HM_EINVAL;
	if (!put_string_param(o, "keyid", si->keyid))
		return HM_EINVAL;
	if (si->tag != NULL && !put_string_param(o, "tag", si->tag))
		return HM_EINVAL;
	return HM_OK;
}

int hm_siginput_write(const struct hm_item *it, const struct hm_siginput *si, char *out,
		      size_t cap, size_t *len)
{
	struct hm_sf_out o = {(uint8_t *)out, cap > 0 ? cap - 1 : 0, 0, false};
	int rc;

	*len = 0;
	if (cap > 0)
		out[0] = '\0';
	rc = put_member(&o, it, si);
	if (rc == HM_OK && (o.failed || cap == 0))
		rc = HM_ETOOBIG;
	if (rc != HM_OK) {
		if (cap > 0)
			out[0] = '\0';
		return rc;
	}
	out[o.len] = '\0';
	*len = o.len;
	return HM_OK;
}
