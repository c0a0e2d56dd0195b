/*
 * rfc9421.c - the public half of an RFC 9421 verify item (see rfc9421.h).
 *
 * Order of checks, each one deciding from what the sender sent and the scope's policy only:
 *   1. Signature-Input parses as a Dictionary, the label picks one member, and the signature
 *      base builds (every covered component present, no duplicate, known derived names);
 *   2. the parameters: keyid present, alg absent or hmac-sha256;
 *   3. Signature parses, and has a 32-byte Byte Sequence under the same label;
 *   4. Content-Digest, when covered: a header that does not parse is malformed, one with no
 *      sha-256 / sha-512 member cannot vouch for the body; an item without a body is checked
 *      against the empty body (an app that leaves an empty or stripped body out of the item
 *      must not turn a covered digest into an unchecked one);
 *   5. the policy: required components covered, created / nonce present if required,
 *      content-digest covered when the request has a body, and @query (or a component that
 *      contains it) when the target has a query: `@path` stops before the '?', so without it
 *      the query could be rewritten freely.
 * Steps 1 to 4's failures are MALFORMED, step 5's INSUFFICIENT_COVERAGE; PROTOCOL.md puts
 * MALFORMED first, and so does this order (a digest that cannot be read is found before the
 * policy is asked whether the digest was needed).
 */
#include "engine/rfc9421.h"

#include <string.h>

#include "proto/digest.h"
#include "proto/sigbase.h"

static bool name_is(struct hm_str name, const char *s)
{
	return hm_lex_is(name.ptr, name.len, s);
}

/*
 * Does the request have a body? The one the app sent, or one its headers announce: a
 * Content-Length other than zero, or any Transfer-Encoding. Asking the headers too means an
 * app that leaves the body out of the item cannot make a body's digest optional.
 */
static bool request_has_body(const struct hm_item *it)
{
	if (it->has_body && it->body.len > 0)
		return true;
	if (!it->has_body && it->rfc.body_digests && it->rfc.body_len > 0)
		return true; /* hmacctl explain: a captured body known by its digests */
	for (size_t i = 0; i < it->nheaders; i++) {
		const struct hm_header *h = &it->headers[i];

		if (name_is(h->name, "transfer-encoding"))
			return true;
		if (name_is(h->name, "content-length")) {
			size_t zeros = 0, digits = 0;

			for (size_t j = 0; j < h->value.len; j++) {
				uint8_t c = h->value.ptr[j];

				if (c == ' ' || c == '\t')
					continue;
				digits++;
				zeros += c == '0';
			}
			if (digits == 0 || zeros != digits)
				return true;
		}
	}
	return false;
}

/* The covered component ci as the policy check compares it (struct hm_rfc_covered). */
static void covered_of(const struct hm_sf_field *f, const struct hm_sf_item *ci,
		       struct hm_rfc_covered *c)
{
	struct hm_sf_out o = {(uint8_t *)c->id, HM_POLICY_COMPONENT_MAX, 0, false};
	bool whole = ci->bare.raw.len > 0 && ci->bare.raw.ptr[0] != '@';

	c->id_len = 0;
	c->plain_len = 0;
	hm_sf_put_item(&o, f, ci);
	if (o.failed)
		return;
	c->id_len = o.len;
	for (uint16_t i = 0; i < ci->nparams; i++) {
		const struct hm_sf_param *p = &f->params[ci->first_param + i];
		bool sf = p->key.len == 2 && memcmp(p->key.ptr, "sf", 2) == 0;
		bool bs = p->key.len == 2 && memcmp(p->key.ptr, "bs", 2) == 0;

		whole = whole && (sf || bs);
	}
	if (whole) {
		struct hm_sf_out q = {(uint8_t *)c->plain, HM_POLICY_COMPONENT_MAX, 0, false};

		hm_sf_put_bare(&q, &ci->bare);
		if (!q.failed)
			c->plain_len = q.len;
	}
}

/*
 * Derived components whose value contains another's: @target-uri is scheme, authority, path
 * and query; @request-target is path and query. Covering the larger one binds the smaller, so
 * it meets a requirement of the smaller (a policy asking for @path is met by @target-uri).
 * A @query-param requirement is met by anything that covers the whole query.
 */
static bool implied(const char *want, size_t n, const char *covered, size_t cn)
{
	static const struct {
		const char *want, *by;
	} table[] = {
		{"\"@path\"", "\"@request-target\""},      {"\"@path\"", "\"@target-uri\""},
		{"\"@query\"", "\"@request-target\""},     {"\"@query\"", "\"@target-uri\""},
		{"\"@authority\"", "\"@target-uri\""},     {"\"@scheme\"", "\"@target-uri\""},
	};
	static const char qp[] = "\"@query-param\";";

	if (n > sizeof(qp) - 1 && memcmp(want, qp, sizeof(qp) - 1) == 0)
		return implied("\"@query\"", 8, covered, cn) ||
		       (cn == 8 && memcmp(covered, "\"@query\"", 8) == 0);
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strlen(table[i].want) == n && memcmp(table[i].want, want, n) == 0 &&
		    strlen(table[i].by) == cn && memcmp(table[i].by, covered, cn) == 0)
			return true;
	return false;
}

/* Does the chosen signature (s->covered) cover the canonical component want? */
static bool covers(const struct hm_rfc_scratch *s, const char *want)
{
	size_t n = strlen(want);

	for (size_t i = 0; i < s->ncovered; i++) {
		const struct hm_rfc_covered *c = &s->covered[i];

		if (c->id_len == 0)
			continue;
		if (c->id_len == n && memcmp(c->id, want, n) == 0)
			return true;
		if (c->plain_len == n && memcmp(c->plain, want, n) == 0)
			return true;
		if (implied(want, n, c->id, c->id_len))
			return true;
	}
	return false;
}

static enum hm_rfc_status malformed(struct hm_rfc_check *out, const char *why)
{
	out->why = why;
	return HM_RFC_MALFORMED;
}

/* The signature under `label` in the Signature field: exactly HM_MAC_LEN bytes. */
static bool read_signature(const struct hm_item *it, struct hm_sf_field *sigs,
			   struct hm_sf_span label, uint8_t sig[static HM_MAC_LEN])
{
	const struct hm_sf_member *m;
	uint8_t raw[2 * HM_MAC_LEN];
	size_t n = 0;

	if (hm_sf_parse(it->rfc.signature.ptr, it->rfc.signature.len, HM_SF_KIND_DICT,
			sigs) != HM_OK)
		return false;
	m = hm_sf_dict_get(sigs, (const char *)label.ptr, label.len);
	if (m == NULL || m->is_inner || m->bare.type != HM_SF_BYTES)
		return false;
	if (hm_sf_bytes_decode(&m->bare, raw, sizeof(raw), &n) != HM_OK || n != HM_MAC_LEN)
		return false;
	memcpy(sig, raw, HM_MAC_LEN);
	return true;
}

enum hm_rfc_status hm_rfc9421_read(const struct hm_item *it, const struct hm_policy *pol,
				   struct hm_rfc_scratch *s, struct hm_digest_ctx *dctx, uint8_t *base,
				   size_t cap, struct hm_rfc_check *out)
{
	static const char content_digest[] = "\"content-digest\"";
	const struct hm_sb_request req = hm_sb_request_of(it);
	const struct hm_sf_member *m = NULL;
	struct hm_sb_sigparams sp;
	enum hm_sb_reason why = HM_SB_OK;
	bool digest_covered;
	int rc;

	memset(out, 0, sizeof(*out));
	if (hm_sf_parse(it->rfc.signature_input.ptr, it->rfc.signature_input.len, HM_SF_KIND_DICT,
			&s->input) != HM_OK)
		return malformed(out, "Signature-Input does not parse as a Dictionary");
	rc = hm_sb_select(&s->input, it->rfc.label, &m, &why);
	if (rc != HM_OK)
		return malformed(out, hm_sb_reason_text(why));
	rc = hm_sb_build(&req, &s->input, m, base, cap, &out->base_len, &sp, &why);
	if (rc != HM_OK)
		return malformed(out, rc == HM_ETOOBIG ? "signature base too long"
						       : hm_sb_reason_text(why));

	if (sp.keyid == NULL || sp.keyid->raw.len == 0)
		return malformed(out, "no keyid parameter");
	if (sp.alg != NULL && !hm_sf_string_eq(sp.alg, HM_RFC_ALG, strlen(HM_RFC_ALG)))
		return malformed(out, "alg is not hmac-sha256");
	out->keyid.ptr = sp.keyid->raw.ptr;
	out->keyid.len = sp.keyid->raw.len;
	out->has_created = sp.created != NULL;
	out->created = sp.created != NULL ? sp.created->num : 0;
	out->has_expires = sp.expires != NULL;
	out->expires = sp.expires != NULL ? sp.expires->num : 0;
	if (sp.nonce != NULL) {
		out->nonce.ptr = sp.nonce->raw.ptr;
		out->nonce.len = sp.nonce->raw.len;
	}
	if (!read_signature(it, &s->signature, m->key, out->sig))
		return malformed(out, "no 32-byte signature under the label in Signature");

	s->ncovered = m->nitems; /* at most HM_SF_MAX_INNER: hm_sb_build() checked */
	for (uint16_t i = 0; i < m->nitems; i++)
		covered_of(&s->input, &s->input.items[m->first_item + i], &s->covered[i]);
	digest_covered = covers(s, content_digest);
	out->digest = HM_RFC_DIGEST_UNCHECKED;
	if (digest_covered) {
		/* no body in the item is the empty body: the digest is never left unchecked */
		static const uint8_t empty[1];
		const uint8_t *body = it->has_body ? it->body.ptr : empty;
		size_t body_len = it->has_body ? it->body.len : 0;
		enum hm_cd_result cd = HM_CD_MALFORMED;

		if (!it->has_body && it->rfc.body_digests) {
			/* hmacctl explain: the capture holds the body's digests, not the body */
			rc = hm_content_digest_check_known(it->headers, it->nheaders,
							   it->rfc.body_sha256,
							   it->rfc.body_sha512, &cd);
			if (rc != HM_OK) {
				out->why = "Content-Digest has a sha-512 member and the body's "
					   "sha-512 is not known";
				return HM_RFC_FAULT;
			}
		} else if (hm_content_digest_check(dctx, it->headers, it->nheaders, body,
						   body_len, &cd) != HM_OK) {
			out->why = "computing the body's digest failed";
			return HM_RFC_FAULT;
		}
		switch (cd) {
		case HM_CD_MATCH:
			out->digest = HM_RFC_DIGEST_MATCH;
			break;
		case HM_CD_MISMATCH:
			out->digest = HM_RFC_DIGEST_MISMATCH;
			break;
		case HM_CD_NO_SUPPORTED_ALG:
			out->why = "Content-Digest has no sha-256 or sha-512 member";
			return HM_RFC_COVERAGE;
		case HM_CD_MALFORMED:
		default:
			return malformed(out, "Content-Digest does not parse");
		}
	}

	for (size_t i = 0; i < pol->ncomponents; i++) {
		if (!covers(s, pol->components[i])) {
			out->why = "a component the policy requires is not covered";
			return HM_RFC_COVERAGE;
		}
	}
	if (pol->require_created && !out->has_created) {
		out->why = "created is required";
		return HM_RFC_COVERAGE;
	}
	if (pol->require_nonce && out->nonce.len == 0) {
		out->why = "nonce is required";
		return HM_RFC_COVERAGE;
	}
	if (pol->digest_when_body && !digest_covered && request_has_body(it)) {
		out->why = "the request has a body and content-digest is not covered";
		return HM_RFC_COVERAGE;
	}
	if (pol->query_when_present && memchr(it->path.ptr, '?', it->path.len) != NULL &&
	    !covers(s, "\"@query\"")) {
		out->why = "the request has a query and @query is not covered";
		return HM_RFC_COVERAGE;
	}
	return HM_RFC_READY;
}

bool hm_rfc9421_stale(const struct hm_rfc_check *c, const struct hm_policy *pol, int64_t now,
		      int64_t skew)
{
	if (!pol->check_age)
		return false;
	/* created and expires are RFC 8941 Integers: |value| < 10^15, no overflow here */
	if (c->has_created && (c->created < now - skew || c->created > now + skew))
		return true;
	if (c->has_expires && c->expires <= now)
		return true;
	return false;
}
