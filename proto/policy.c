/*
 * policy.c - RFC 9421 coverage policies (see policy.h): the admin's component text to the
 * canonical RFC 8941 serialization, back to the admin's form, and the store's binary encoding.
 *
 * The admin writes "@method" or "content-digest;sf", which is not an sf item (a String needs
 * quotes, and '@' cannot start a Token). So the name part, checked first against a strict
 * character set, is wrapped in quotes and the whole text parsed as an Item with proto/sfv.h;
 * the canonical form is that item serialized again, with Token parameter values turned into
 * Strings (RFC 9421 defines `name` and `key` as Strings, and a signer's Signature-Input will
 * carry them as Strings). Decoding re-runs the parser on every stored component, so a corrupt
 * or hand-made record can never put a string into a policy that the parser would refuse.
 */
#include "proto/policy.h"

#include "proto/lex.h"
#include "proto/sfv.h"

#include <string.h>

#define PC_INPUT_MAX (2 * HM_POLICY_COMPONENT_MAX) /* admin text, before canonicalisation */

enum {
	PF_CREATED = 1u << 0,
	PF_NONCE = 1u << 1,
	PF_AGE = 1u << 2,
	PF_DIGEST = 1u << 3,
	PF_QUERY = 1u << 4,
};
#define PF_ALL_V1 (PF_CREATED | PF_NONCE | PF_AGE | PF_DIGEST) /* encoding version 1 */
#define PF_ALL (PF_ALL_V1 | PF_QUERY)
enum { PV1_NONCE = 1u << 0 };

/* The derived components this daemon builds (RFC 9421 section 2.2, request side). */
static const char *const derived[] = {
	"@method", "@target-uri",     "@authority", "@scheme",
	"@request-target", "@path", "@query",     "@query-param",
};

const char *hm_policy_source_name(enum hm_policy_source s)
{
	switch (s) {
	case HM_POLICY_DEFAULT:
		return "default";
	case HM_POLICY_TENANT:
		return "tenant";
	case HM_POLICY_SCOPE:
		return "scope";
	}
	return "unknown";
}

void hm_policy_default(struct hm_policy *p)
{
	memset(p, 0, sizeof(*p));
	/* The default: what a request is (method, path) and whom it was sent to. */
	strcpy(p->components[0], "\"@method\"");
	strcpy(p->components[1], "\"@path\"");
	strcpy(p->components[2], "\"@authority\"");
	p->ncomponents = 3;
	p->require_created = true;
	p->require_nonce = true;
	p->check_age = true;
	p->digest_when_body = true;
	p->query_when_present = true;
}

int hm_policy_check(const struct hm_policy *p, const char **why)
{
	*why = NULL;
	if (p->require_nonce && !(p->require_created && p->check_age)) {
		*why = "a required nonce needs created required and the age check on: otherwise "
		       "the nonce is forgotten after --skew while the signature stays valid, and "
		       "the request can be replayed";
		return HM_EINVAL;
	}
	return HM_OK;
}

/* A field name: RFC 9110 tokens, lower-cased (RFC 9421 2.1: component names are lower case). */
static bool field_name_ok(const uint8_t *p, size_t n, size_t max)
{
	return hm_lex_token(p, n, max, true);
}

static bool span_is(const struct hm_sf_span *s, const char *lit)
{
	return hm_lex_is(s->ptr, s->len, lit);
}

/* A component name: one of the derived ones, or a lower-case field name. */
static bool name_ok(const uint8_t *p, size_t n, bool *is_derived)
{
	size_t i;

	*is_derived = false;
	if (n == 0)
		return false;
	if (p[0] == '@') {
		for (i = 0; i < sizeof(derived) / sizeof(derived[0]); i++) {
			if (strlen(derived[i]) == n && memcmp(derived[i], p, n) == 0) {
				*is_derived = true;
				return true;
			}
		}
		return false;
	}
	return field_name_ok(p, n, SIZE_MAX);
}

/* A String-valued parameter (`name`, `key`): String, or a Token read as the same String. */
static bool string_param(const struct hm_sf_bare *b)
{
	return (b->type == HM_SF_STRING || b->type == HM_SF_TOKEN) && b->raw.len > 0;
}

/* Checks the parameters of component `name` and writes them to o in their order. */
static int put_params(struct hm_sf_out *o, const struct hm_sf_field *f,
		      const struct hm_sf_member *m, bool is_derived, bool is_qparam)
{
	bool has_name = false, has_sf = false, has_bs = false, has_key = false;
	const struct hm_sf_param *pa;
	struct hm_sf_bare b;
	size_t i;

	for (i = m->first_param; i < (size_t)m->first_param + m->nparams; i++) {
		pa = &f->params[i];
		b = pa->value;
		if (is_qparam && span_is(&pa->key, "name") && string_param(&b)) {
			has_name = true;
		} else if (!is_derived && span_is(&pa->key, "key") && string_param(&b)) {
			/* the value must be a dictionary key, or no signature could ever match */
			if (!hm_lex_sf_key(b.raw.ptr, b.raw.len, HM_SF_KEY_MAX))
				return HM_EINVAL;
			has_key = true;
		} else if (!is_derived && span_is(&pa->key, "sf") && b.type == HM_SF_BOOLEAN &&
			   b.num == 1) {
			has_sf = true;
		} else if (!is_derived && span_is(&pa->key, "bs") && b.type == HM_SF_BOOLEAN &&
			   b.num == 1) {
			has_bs = true;
		} else {
			return HM_EINVAL;
		}
		hm_sf_put(o, ";", 1);
		hm_sf_put(o, pa->key.ptr, pa->key.len);
		if (b.type == HM_SF_BOOLEAN)
			continue; /* true: the key alone */
		/* a Token has no '"' or '\\', so its text is already a serialized String body */
		b.type = HM_SF_STRING;
		hm_sf_put(o, "=", 1);
		hm_sf_put_bare(o, &b);
	}
	if (is_qparam && !has_name)
		return HM_EINVAL;
	if (has_bs && (has_sf || has_key))
		return HM_EINVAL;
	return HM_OK;
}

int hm_policy_component_parse(const char *in, char out[static HM_POLICY_COMPONENT_MAX + 1])
{
	uint8_t text[PC_INPUT_MAX + 3];
	struct hm_sf_field f;
	const struct hm_sf_member *m;
	struct hm_sf_out o = { (uint8_t *)out, HM_POLICY_COMPONENT_MAX, 0, false };
	size_t len, n, nl;
	bool is_derived = false;
	int rc;

	out[0] = '\0';
	if (in == NULL)
		return HM_EINVAL;
	len = strnlen(in, PC_INPUT_MAX + 1);
	if (len == 0 || len > PC_INPUT_MAX)
		return HM_EINVAL;
	if (in[0] == '"') {
		memcpy(text, in, len);
		n = len;
	} else {
		/* the admin's form: NAME[;params]; the name is checked before it is quoted */
		nl = strcspn(in, ";");
		if (!name_ok((const uint8_t *)in, nl, &is_derived))
			return HM_EINVAL;
		text[0] = '"';
		memcpy(text + 1, in, nl);
		text[1 + nl] = '"';
		memcpy(text + 2 + nl, in + nl, len - nl);
		n = len + 2;
	}
	rc = hm_sf_parse(text, n, HM_SF_KIND_ITEM, &f);
	if (rc != HM_OK || f.nmembers != 1)
		return HM_EINVAL;
	m = &f.members[0];
	if (m->is_inner || m->bare.type != HM_SF_STRING)
		return HM_EINVAL;
	if (!name_ok(m->bare.raw.ptr, m->bare.raw.len, &is_derived))
		return HM_EINVAL;
	hm_sf_put_bare(&o, &m->bare);
	rc = put_params(&o, &f, m, is_derived, span_is(&m->bare.raw, "@query-param"));
	if (rc != HM_OK || o.failed) {
		out[0] = '\0';
		return HM_EINVAL;
	}
	out[o.len] = '\0';
	return HM_OK;
}

/* True if canon is a component in canonical form (parsing it gives it back unchanged). */
static bool is_canonical(const char *canon, size_t len)
{
	char again[HM_POLICY_COMPONENT_MAX + 1];

	if (len == 0 || len > HM_POLICY_COMPONENT_MAX || canon[0] != '"')
		return false;
	if (hm_policy_component_parse(canon, again) != HM_OK)
		return false;
	return strlen(again) == len && memcmp(again, canon, len) == 0;
}

int hm_policy_component_render(const char *canon, char *out, size_t cap)
{
	size_t len, nl;
	const char *close;

	if (cap > 0)
		out[0] = '\0';
	if (canon == NULL)
		return HM_EINVAL;
	len = strnlen(canon, HM_POLICY_COMPONENT_MAX + 1);
	if (!is_canonical(canon, len))
		return HM_EINVAL;
	/* names hold no '"' or '\\' (name_ok), so the first quote after the opening one ends it */
	close = strchr(canon + 1, '"');
	if (close == NULL)
		return HM_EINVAL;
	nl = (size_t)(close - (canon + 1));
	if (len - 2 + 1 > cap)
		return HM_ETOOBIG;
	memcpy(out, canon + 1, nl);
	memcpy(out + nl, close + 1, len - nl - 2);
	out[len - 2] = '\0';
	return HM_OK;
}

bool hm_policy_has(const struct hm_policy *p, const char *canon)
{
	size_t i;

	for (i = 0; i < p->ncomponents && i < HM_POLICY_MAX_COMPONENTS; i++) {
		if (strcmp(p->components[i], canon) == 0)
			return true;
	}
	return false;
}

int hm_policy_require(struct hm_policy *p, const char *in)
{
	char canon[HM_POLICY_COMPONENT_MAX + 1];
	int rc;

	rc = hm_policy_component_parse(in, canon);
	if (rc != HM_OK)
		return rc;
	if (hm_policy_has(p, canon))
		return HM_OK;
	if (p->ncomponents >= HM_POLICY_MAX_COMPONENTS)
		return HM_ETOOBIG;
	/* the whole slot is written: no stack bytes past the NUL end up in the policy */
	memset(p->components[p->ncomponents], 0, sizeof(p->components[0]));
	memcpy(p->components[p->ncomponents], canon, strlen(canon));
	p->ncomponents++;
	return HM_OK;
}

/* An hmacd-v1 header requirement: a lower-case tchar name of 1..HM_POLICY_HEADER_MAX bytes. */
static bool v1_header_ok(const char *name, size_t n)
{
	return field_name_ok((const uint8_t *)name, n, HM_POLICY_HEADER_MAX);
}

int hm_policy_require_v1_header(struct hm_policy *p, const char *name)
{
	size_t n = name != NULL ? strnlen(name, HM_POLICY_HEADER_MAX + 1) : 0;

	if (!v1_header_ok(name, n))
		return HM_EINVAL;
	for (size_t i = 0; i < p->v1_nheaders; i++)
		if (strcmp(p->v1_headers[i], name) == 0)
			return HM_OK;
	if (p->v1_nheaders >= HM_POLICY_MAX_V1_HEADERS)
		return HM_ETOOBIG;
	memset(p->v1_headers[p->v1_nheaders], 0, sizeof(p->v1_headers[0]));
	memcpy(p->v1_headers[p->v1_nheaders], name, n);
	p->v1_nheaders++;
	return HM_OK;
}

int hm_policy_encode(const struct hm_policy *p, uint8_t *out, size_t cap, size_t *len)
{
	size_t i, n = 0, cl;
	unsigned flags = 0;

	*len = 0;
	if (p->ncomponents > HM_POLICY_MAX_COMPONENTS)
		return HM_EINVAL;
	if (cap < 3)
		return HM_ETOOBIG;
	flags |= p->require_created ? PF_CREATED : 0;
	flags |= p->require_nonce ? PF_NONCE : 0;
	flags |= p->check_age ? PF_AGE : 0;
	flags |= p->digest_when_body ? PF_DIGEST : 0;
	flags |= p->query_when_present ? PF_QUERY : 0;
	if (p->v1_nheaders > HM_POLICY_MAX_V1_HEADERS)
		return HM_EINVAL;
	out[n++] = HM_POLICY_ENC_VERSION;
	out[n++] = (uint8_t)flags;
	out[n++] = (uint8_t)p->ncomponents;
	for (i = 0; i < p->ncomponents; i++) {
		cl = strnlen(p->components[i], HM_POLICY_COMPONENT_MAX + 1);
		if (!is_canonical(p->components[i], cl))
			return HM_EINVAL;
		if (cap - n < 1 + cl)
			return HM_ETOOBIG;
		out[n++] = (uint8_t)cl;
		memcpy(out + n, p->components[i], cl);
		n += cl;
	}
	if (cap - n < 2)
		return HM_ETOOBIG;
	out[n++] = p->v1_nonce ? PV1_NONCE : 0;
	out[n++] = (uint8_t)p->v1_nheaders;
	for (i = 0; i < p->v1_nheaders; i++) {
		cl = strnlen(p->v1_headers[i], HM_POLICY_HEADER_MAX + 1);
		if (!v1_header_ok(p->v1_headers[i], cl))
			return HM_EINVAL;
		if (cap - n < 1 + cl)
			return HM_ETOOBIG;
		out[n++] = (uint8_t)cl;
		memcpy(out + n, p->v1_headers[i], cl);
		n += cl;
	}
	*len = n;
	return HM_OK;
}

int hm_policy_decode(const uint8_t *in, size_t len, struct hm_policy *p)
{
	size_t i, n = 3, cl, count, nv1 = 0;
	unsigned flags, version, v1flags = 0;
	const char *why;

	memset(p, 0, sizeof(*p));
	if (len < 3 || (in[0] != 1 && in[0] != HM_POLICY_ENC_VERSION))
		goto bad;
	version = in[0];
	flags = in[1];
	count = in[2];
	if ((flags & ~(unsigned)(version == 1 ? PF_ALL_V1 : PF_ALL)) != 0 ||
	    count > HM_POLICY_MAX_COMPONENTS)
		goto bad;
	for (i = 0; i < count; i++) {
		if (n >= len)
			goto bad;
		cl = in[n++];
		if (cl == 0 || cl > HM_POLICY_COMPONENT_MAX || len - n < cl ||
		    memchr(in + n, '\0', cl) != NULL)
			goto bad;
		memcpy(p->components[i], in + n, cl);
		p->components[i][cl] = '\0';
		n += cl;
		if (!is_canonical(p->components[i], cl))
			goto bad;
	}
	if (version >= 2) {
		if (len - n < 2)
			goto bad;
		v1flags = in[n++];
		nv1 = in[n++];
		if ((v1flags & ~(unsigned)PV1_NONCE) != 0 || nv1 > HM_POLICY_MAX_V1_HEADERS)
			goto bad;
		for (i = 0; i < nv1; i++) {
			if (n >= len)
				goto bad;
			cl = in[n++];
			if (len - n < cl || !v1_header_ok((const char *)in + n, cl))
				goto bad;
			memcpy(p->v1_headers[i], in + n, cl);
			p->v1_headers[i][cl] = '\0';
			n += cl;
		}
	}
	if (n != len)
		goto bad;
	p->ncomponents = count;
	p->require_created = (flags & PF_CREATED) != 0;
	p->require_nonce = (flags & PF_NONCE) != 0;
	p->check_age = (flags & PF_AGE) != 0;
	p->digest_when_body = (flags & PF_DIGEST) != 0;
	/* version 1 knew no query rule: such a policy gets today's default, the query bound */
	p->query_when_present = version == 1 || (flags & PF_QUERY) != 0;
	p->v1_nonce = (v1flags & PV1_NONCE) != 0;
	p->v1_nheaders = nv1;
	if (hm_policy_check(p, &why) != HM_OK) {
		/* stored by an hmacctl that allowed it: enforced the only way a nonce holds */
		p->require_created = true;
		p->check_age = true;
	}
	return HM_OK;
bad:
	memset(p, 0, sizeof(*p));
	return HM_EMALFORMED;
}
