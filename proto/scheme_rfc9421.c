/*
 * scheme_rfc9421.c - the rfc9421 item scheme (PROTOCOL.md 7.2): its keys, content rules and
 * encoding. Its signature base is sigbase.c's; the engine reads and judges it in
 * daemon/engine/rfc9421.c and daemon/engine/scheme_rfc9421.c.
 */
#include "proto/scheme.h"

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
	return s.len >= 1 && s.len <= HM_SIGFIELD_MAX && hm_rule_no_ctl(s);
}

/* An RFC 8941 key (a Signature-Input label), or len 0 for "no label" */
static bool label_ok(struct hm_str s)
{
	return s.len == 0 || hm_lex_sf_key(s.ptr, s.len, HM_LABEL_MAX);
}

static int check(const struct hm_item *it)
{
	if (!hm_rule_scope(it->tenant) || !hm_rule_scope(it->container))
		return HM_EMALFORMED;
	if (!hm_lex_token(it->method.ptr, it->method.len, HM_METHOD_MAX, false))
		return HM_EMALFORMED;
	if (!authority_ok(it->rfc.authority) || !hm_rule_path(it->path) ||
	    !uri_scheme_ok(it->rfc.uri_scheme))
		return HM_EMALFORMED;
	if (!hm_rule_headers(it, HM_RFC_MAX_HEADERS, true))
		return HM_EMALFORMED;
	if (!sigfield_ok(it->rfc.signature_input) || !sigfield_ok(it->rfc.signature))
		return HM_EMALFORMED;
	if (!label_ok(it->rfc.label))
		return HM_EMALFORMED;
	return HM_OK;
}

/* PROTOCOL.md 7.2, in the table's order */
static void encode(msgpack_packer *pk, const struct hm_item *it)
{
	size_t nkeys = 9 + (it->rfc.uri_scheme.len > 0) + (it->rfc.label.len > 0) + it->has_body;

	msgpack_pack_map(pk, nkeys);
	hm_pack_cstr(pk, "scheme");
	hm_pack_cstr(pk, "rfc9421");
	hm_pack_key_str(pk, "tenant", it->tenant);
	hm_pack_key_str(pk, "container", it->container);
	hm_pack_key_str(pk, "method", it->method);
	hm_pack_key_str(pk, "authority", it->rfc.authority);
	hm_pack_key_str(pk, "path", it->path);
	if (it->rfc.uri_scheme.len > 0)
		hm_pack_key_str(pk, "uri_scheme", it->rfc.uri_scheme);
	hm_pack_item_headers(pk, it);
	hm_pack_key_str(pk, "signature_input", it->rfc.signature_input);
	hm_pack_key_str(pk, "signature", it->rfc.signature);
	if (it->rfc.label.len > 0)
		hm_pack_key_str(pk, "label", it->rfc.label);
	if (it->has_body) {
		hm_pack_cstr(pk, "body");
		hm_pack_bin(pk, it->body.ptr, it->body.len);
	}
}

const struct hm_scheme_ops hm_scheme_rfc9421 = {
	.name = "rfc9421",
	.keys = HM_KEY_BIT(HM_K_SCHEME) | HM_KEY_BIT(HM_K_TENANT) | HM_KEY_BIT(HM_K_CONTAINER) |
		HM_KEY_BIT(HM_K_METHOD) | HM_KEY_BIT(HM_K_AUTHORITY) | HM_KEY_BIT(HM_K_PATH) |
		HM_KEY_BIT(HM_K_URI_SCHEME) | HM_KEY_BIT(HM_K_HEADERS) |
		HM_KEY_BIT(HM_K_SIGNATURE_INPUT) | HM_KEY_BIT(HM_K_SIGNATURE) |
		HM_KEY_BIT(HM_K_LABEL) | HM_KEY_BIT(HM_K_BODY),
	.required = HM_KEY_BIT(HM_K_SCHEME) | HM_KEY_BIT(HM_K_TENANT) |
		    HM_KEY_BIT(HM_K_CONTAINER) | HM_KEY_BIT(HM_K_METHOD) |
		    HM_KEY_BIT(HM_K_AUTHORITY) | HM_KEY_BIT(HM_K_PATH) | HM_KEY_BIT(HM_K_HEADERS) |
		    HM_KEY_BIT(HM_K_SIGNATURE_INPUT) | HM_KEY_BIT(HM_K_SIGNATURE),
	.check = check,
	.encode = encode,
};
