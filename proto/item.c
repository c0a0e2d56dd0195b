/* item.c - the content rules of a verify item (see item.h; PROTOCOL.md section 7). */
#include "proto/item.h"

#include <string.h>

static bool scope_ok(struct hm_str s)
{
	return hm_lex_scope(s.ptr, s.len);
}

static bool no_ctl(struct hm_str s)
{
	for (size_t i = 0; i < s.len; i++)
		if (s.ptr[i] < 0x20 || s.ptr[i] == 0x7f)
			return false;
	return true;
}

/* rfc9421 header values: HTAB is allowed (RFC 9421 2.1 strips it at the ends, keeps it inside) */
static bool no_ctl_but_tab(struct hm_str s)
{
	for (size_t i = 0; i < s.len; i++)
		if ((s.ptr[i] < 0x20 && s.ptr[i] != '\t') || s.ptr[i] == 0x7f)
			return false;
	return true;
}

static bool path_ok(struct hm_str s)
{
	return s.len >= 1 && s.ptr[0] == '/' && no_ctl(s);
}

static bool headers_ok(const struct hm_item *it, size_t max, bool tab_ok)
{
	if (it->nheaders > max)
		return false;
	for (size_t i = 0; i < it->nheaders; i++) {
		const struct hm_header *h = &it->headers[i];

		if (!hm_lex_token(h->name.ptr, h->name.len, SIZE_MAX, true))
			return false;
		if (!(tab_ok ? no_ctl_but_tab(h->value) : no_ctl(h->value)))
			return false;
	}
	return true;
}

/*
 * host[:port] as the app server received it (Host or :authority). Only what could make the
 * @authority and @target-uri components ambiguous is refused: separators of the other URI
 * parts, userinfo, controls and space. sigbase.c normalises case and the default port.
 */
static bool authority_ok(struct hm_str s)
{
	if (s.len < 1 || s.len > HM_AUTHORITY_MAX)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		uint8_t c = s.ptr[i];

		if (c < 0x21 || c == 0x7f || c == '/' || c == '?' || c == '#' || c == '@')
			return false;
	}
	return true;
}

/* absent (len 0) means https; otherwise exactly "http" or "https", lower-case */
static bool uri_scheme_ok(struct hm_str s)
{
	return s.len == 0 || hm_lex_is(s.ptr, s.len, "http") || hm_lex_is(s.ptr, s.len, "https");
}

/* Signature-Input and Signature values: 1..HM_SIGFIELD_MAX bytes, no control byte */
static bool sigfield_ok(struct hm_str s)
{
	return s.len >= 1 && s.len <= HM_SIGFIELD_MAX && no_ctl(s);
}

/* An RFC 8941 key (a Signature-Input label), or len 0 for "no label" */
static bool label_ok(struct hm_str s)
{
	return s.len == 0 || hm_lex_sf_key(s.ptr, s.len, HM_LABEL_MAX);
}

static int check_v1(const struct hm_item *it)
{
	if (!scope_ok(it->tenant) || !scope_ok(it->container))
		return HM_EMALFORMED;
	/* epochs are numbered from 1: 0 is a type error, not an unknown key */
	if (it->v1.epoch < 1)
		return HM_EMALFORMED;
	if (!hm_lex_token(it->method.ptr, it->method.len, HM_METHOD_MAX, false))
		return HM_EMALFORMED;
	if (!path_ok(it->path))
		return HM_EMALFORMED;
	if (it->v1.nonce.len > HM_NONCE_MAX || !no_ctl(it->v1.nonce))
		return HM_EMALFORMED;
	if (!headers_ok(it, HM_MAX_HEADERS, false))
		return HM_EMALFORMED;
	if (it->has_body == it->v1.has_body_sha256)
		return HM_EMALFORMED;
	if (it->v1.has_body_sha256 && it->v1.body_sha256 == NULL)
		return HM_EMALFORMED;
	if (it->v1.sig == NULL)
		return HM_EMALFORMED;
	return HM_OK;
}

static int check_rfc9421(const struct hm_item *it)
{
	if (!scope_ok(it->tenant) || !scope_ok(it->container))
		return HM_EMALFORMED;
	if (!hm_lex_token(it->method.ptr, it->method.len, HM_METHOD_MAX, false))
		return HM_EMALFORMED;
	if (!authority_ok(it->rfc.authority) || !path_ok(it->path) ||
	    !uri_scheme_ok(it->rfc.uri_scheme))
		return HM_EMALFORMED;
	if (!headers_ok(it, HM_RFC_MAX_HEADERS, true))
		return HM_EMALFORMED;
	if (!sigfield_ok(it->rfc.signature_input) || !sigfield_ok(it->rfc.signature))
		return HM_EMALFORMED;
	if (!label_ok(it->rfc.label))
		return HM_EMALFORMED;
	return HM_OK;
}

int hm_item_check(const struct hm_item *it)
{
	switch (it->scheme) {
	case HM_SCHEME_HMACD_V1:
		return check_v1(it);
	case HM_SCHEME_RFC9421:
		return check_rfc9421(it);
	}
	return HM_EMALFORMED;
}
