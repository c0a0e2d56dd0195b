/*
 * authz.h - the hmacd-v1 `Authorization` header (PROTOCOL.md 13.1), read strictly as
 * proto/vectors/README.md pins it down.
 *
 *     HMACD-V1 Tenant=<t>, Epoch=<n>, Timestamp=<n>[, Nonce=<n>][, SignedHeaders=<h1;h2>],
 *              Signature=<base64>
 *
 * The scheme is case-sensitive and followed by exactly one space; parameters are Name=value,
 * separated by "," with optional spaces (not tabs) around it only; no quoting, no empty
 * parameter, no leading, trailing or doubled comma. Names are case-sensitive, each at most
 * once; an unknown name (Container too) is refused. Tenant, Epoch, Timestamp and Signature are
 * required. Epoch is decimal 1..2^64-1 and Timestamp 0..2^64-1, no sign, no leading zero;
 * Nonce 1..64 of [A-Za-z0-9._~-]; SignedHeaders empty, or at most HM_MAX_HEADERS lower-case
 * tchar names separated by single ';' (a name may repeat); Signature exactly 44 characters of
 * canonical standard base64 decoding to 32 bytes.
 *
 * The same grammar as every middleware in client/ (the Go ParseAuthorization, ...), tested
 * against the same vectors. No I/O, no allocation: the result points into the input.
 */
#ifndef HM_AUTHZ_H
#define HM_AUTHZ_H

#include <stddef.h>
#include <stdint.h>

#include "proto/errors.h"
#include "proto/item.h"

#define HM_AUTHZ_SCHEME "HMACD-V1"

struct hm_authz {
	struct hm_str tenant;
	uint64_t epoch;
	uint64_t ts;
	struct hm_str nonce; /* len 0: no Nonce parameter */
	size_t nheaders;     /* SignedHeaders names, in order */
	struct hm_str headers[HM_MAX_HEADERS];
	uint8_t sig[HM_MAC_LEN];
};

/*
 * Parses the field value v[0..len) (as HTTP hands it over: no whitespace around it) into *out.
 * HM_OK, or HM_EMALFORMED with *why (if not NULL) set to a static phrase naming what is wrong
 * ("the scheme", "Epoch", "a repeated parameter", ...), never a value from the input. On
 * failure *out is zeroed (no partial signature is left in it).
 */
int hm_authz_parse(const uint8_t *v, size_t len, struct hm_authz *out, const char **why)
	HM_MUSTCHECK;

#endif
