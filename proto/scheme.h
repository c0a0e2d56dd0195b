/*
 * scheme.h - what an item scheme is to the protocol layer (private to proto/): its name on the
 * wire, its keys, its content rules and its encoder, with what the schemes share. Each scheme
 * is one file (scheme_v1.c, scheme_rfc9421.c); msg.c and item.c dispatch through
 * hm_scheme_of(), so a new scheme is a new file and a line in hm_scheme_of().
 */
#ifndef HM_SCHEME_H
#define HM_SCHEME_H

#include <stdbool.h>
#include <stddef.h>

#include <msgpack.h>

#include "proto/item.h"

/* Every item key of every scheme: one pass reads them all, then the scheme's set is applied. */
enum hm_item_key {
	HM_K_TENANT, HM_K_CONTAINER, HM_K_EPOCH, HM_K_METHOD, HM_K_PATH, HM_K_HEADERS, HM_K_BODY,
	HM_K_BODY_SHA256, HM_K_TS, HM_K_NONCE, HM_K_SIG,
	HM_K_SCHEME, HM_K_AUTHORITY, HM_K_URI_SCHEME, HM_K_SIGNATURE_INPUT, HM_K_SIGNATURE,
	HM_K_LABEL,
	HM_K__COUNT
};

#define HM_KEY_BIT(k) (1u << (k))

struct hm_scheme_ops {
	const char *name; /* the "scheme" value on the wire */
	unsigned keys;    /* HM_KEY_BIT()s of the keys an item of the scheme may have */
	unsigned required;
	/* the content rules of PROTOCOL.md 7 for the scheme: HM_OK or HM_EMALFORMED */
	int (*check)(const struct hm_item *it);
	/* the item as a msgpack map, in the order of PROTOCOL.md 7 */
	void (*encode)(msgpack_packer *pk, const struct hm_item *it);
};

extern const struct hm_scheme_ops hm_scheme_v1;
extern const struct hm_scheme_ops hm_scheme_rfc9421;

/* The scheme's description, or NULL for a value outside enum hm_scheme. */
const struct hm_scheme_ops *hm_scheme_of(enum hm_scheme s);

/* Content rules the schemes share (item.c). */
bool hm_rule_scope(struct hm_str s);
bool hm_rule_no_ctl(struct hm_str s);
bool hm_rule_path(struct hm_str s);
bool hm_rule_headers(const struct hm_item *it, size_t max, bool tab_ok);

/* Encoding the schemes share (msg.c). */
void hm_pack_cstr(msgpack_packer *pk, const char *s);
void hm_pack_str(msgpack_packer *pk, struct hm_str s);
void hm_pack_bin(msgpack_packer *pk, const uint8_t *p, size_t n);
void hm_pack_key_str(msgpack_packer *pk, const char *key, struct hm_str value);
void hm_pack_item_headers(msgpack_packer *pk, const struct hm_item *it);

#endif
