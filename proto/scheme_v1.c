/*
 * scheme_v1.c - the hmacd-v1 item scheme (PROTOCOL.md 7.1): its keys, content rules and encoding.
 * Its canonical string is canon.c's; the engine judges it in daemon/engine/scheme_v1.c.
 */
#include "proto/scheme.h"

static int check(const struct hm_item *it)
{
	if (!hm_rule_scope(it->tenant) || !hm_rule_scope(it->container))
		return HM_EMALFORMED;
	/* epochs are numbered from 1: 0 is a type error, not an unknown key */
	if (it->v1.epoch < 1)
		return HM_EMALFORMED;
	if (!hm_lex_token(it->method.ptr, it->method.len, HM_METHOD_MAX, false))
		return HM_EMALFORMED;
	if (!hm_rule_path(it->path))
		return HM_EMALFORMED;
	if (it->v1.nonce.len > HM_NONCE_MAX || !hm_rule_no_ctl(it->v1.nonce))
		return HM_EMALFORMED;
	if (!hm_rule_headers(it, HM_MAX_HEADERS, false))
		return HM_EMALFORMED;
	if (it->has_body == it->v1.has_body_sha256)
		return HM_EMALFORMED;
	if (it->v1.has_body_sha256 && it->v1.body_sha256 == NULL)
		return HM_EMALFORMED;
	if (it->v1.sig == NULL)
		return HM_EMALFORMED;
	return HM_OK;
}

static void encode(msgpack_packer *pk, const struct hm_item *it)
{
	size_t nkeys = 9 + (it->v1.nonce.len > 0);

	msgpack_pack_map(pk, nkeys);
	hm_pack_key_str(pk, "tenant", it->tenant);
	hm_pack_key_str(pk, "container", it->container);
	hm_pack_cstr(pk, "epoch");
	msgpack_pack_uint64(pk, it->v1.epoch);
	hm_pack_key_str(pk, "method", it->method);
	hm_pack_key_str(pk, "path", it->path);
	hm_pack_item_headers(pk, it);
	if (it->has_body) {
		hm_pack_cstr(pk, "body");
		hm_pack_bin(pk, it->body.ptr, it->body.len);
	} else {
		hm_pack_cstr(pk, "body_sha256");
		hm_pack_bin(pk, it->v1.body_sha256, HM_SHA256_LEN);
	}
	hm_pack_cstr(pk, "ts");
	msgpack_pack_uint64(pk, it->v1.ts);
	if (it->v1.nonce.len > 0)
		hm_pack_key_str(pk, "nonce", it->v1.nonce);
	hm_pack_cstr(pk, "sig");
	hm_pack_bin(pk, it->v1.sig, HM_MAC_LEN);
}

/* "scheme" is allowed when it says "hmacd-v1" (an item without it is hmacd-v1) */
const struct hm_scheme_ops hm_scheme_v1 = {
	.name = "hmacd-v1",
	.keys = HM_KEY_BIT(HM_K_TENANT) | HM_KEY_BIT(HM_K_CONTAINER) | HM_KEY_BIT(HM_K_EPOCH) |
		HM_KEY_BIT(HM_K_METHOD) | HM_KEY_BIT(HM_K_PATH) | HM_KEY_BIT(HM_K_HEADERS) |
		HM_KEY_BIT(HM_K_BODY) | HM_KEY_BIT(HM_K_BODY_SHA256) | HM_KEY_BIT(HM_K_TS) |
		HM_KEY_BIT(HM_K_NONCE) | HM_KEY_BIT(HM_K_SIG) | HM_KEY_BIT(HM_K_SCHEME),
	.required = HM_KEY_BIT(HM_K_TENANT) | HM_KEY_BIT(HM_K_CONTAINER) |
		    HM_KEY_BIT(HM_K_EPOCH) | HM_KEY_BIT(HM_K_METHOD) | HM_KEY_BIT(HM_K_PATH) |
		    HM_KEY_BIT(HM_K_HEADERS) | HM_KEY_BIT(HM_K_TS) | HM_KEY_BIT(HM_K_SIG),
	.check = check,
	.encode = encode,
};
