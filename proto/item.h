/*
 * item.h - one verify item of either scheme, its limits and its content rules (PROTOCOL.md 7).
 *
 * What a request item is, independent of how it travels: the msgpack codec (msg.h) decodes into
 * it, the canonical string (canon.h) and the RFC 9421 signature base (sigbase.h) are built from
 * it, the verify engine judges it, and the C client fills it. Fields are byte ranges in place.
 */
#ifndef HM_ITEM_H
#define HM_ITEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/errors.h"
#include "proto/lex.h"

#define HM_NONCE_MAX 64   /* nonce: 0..64 bytes */
#define HM_METHOD_MAX 32  /* method: 1..32 token bytes */
#define HM_MAX_HEADERS 64       /* hmacd-v1: signed headers per item (contract unchanged) */
#define HM_RFC_MAX_HEADERS 128  /* rfc9421: every request header */
#define HM_AUTHORITY_MAX 255    /* rfc9421 authority: host[:port] */
#define HM_SIGFIELD_MAX 8192    /* rfc9421 signature_input and signature: raw field values */
#define HM_LABEL_MAX 64         /* rfc9421 label: an RFC 8941 key */
#define HM_SHA256_LEN 32
#define HM_MAC_LEN 32

/* A byte string in place (not NUL-terminated). */
struct hm_str {
	const uint8_t *ptr;
	size_t len;
};

struct hm_header {
	struct hm_str name;  /* lower-case token */
	struct hm_str value; /* no control bytes (rfc9421: HTAB allowed) */
};

/*
 * The signature scheme of an item (PROTOCOL.md 7). On the wire an item without a "scheme" key
 * is hmacd-v1; "scheme": "hmacd-v1" says the same explicitly. Zero-initialising an item makes it
 * hmacd-v1, so code written before rfc9421 existed keeps working.
 */
enum hm_scheme { HM_SCHEME_HMACD_V1 = 0, HM_SCHEME_RFC9421 = 1 };

/* The part of an hmacd-v1 item that only that scheme has (PROTOCOL.md 7.1). */
struct hm_item_v1 {
	uint64_t epoch;
	uint64_t ts;
	struct hm_str nonce; /* len 0: not replay-protected */
	bool has_body_sha256;
	const uint8_t *body_sha256; /* HM_SHA256_LEN bytes */
	const uint8_t *sig;         /* HM_MAC_LEN bytes */
};

/* The part of an rfc9421 item that only that scheme has (PROTOCOL.md 7.2). */
struct hm_item_rfc9421 {
	struct hm_str authority;       /* host[:port] as received */
	struct hm_str uri_scheme;      /* "http" or "https"; len 0 = "https" */
	struct hm_str signature_input; /* raw Signature-Input value (lines joined by ", ") */
	struct hm_str signature;       /* raw Signature value (lines joined by ", ") */
	struct hm_str label;           /* len 0 = the only signature */
	/*
	 * The body known only by its digests: never on the wire (the decoder leaves this zero and
	 * the encoder ignores it); `hmacctl explain` sets it for a capture file, which holds the
	 * body's digests and length, not the body. With has_body false and body_digests set, a
	 * covered Content-Digest is checked against these digests, and the request has a body
	 * when body_len > 0.
	 */
	bool body_digests;
	uint64_t body_len;
	const uint8_t *body_sha256; /* HM_SHA256_LEN bytes */
	const uint8_t *body_sha512; /* 64 bytes, or NULL: not known */
};

/*
 * One verify item: a head that every scheme has (the scope, the request line, its headers and
 * body) and the part of its own scheme. The part of the other scheme is ignored by
 * hm_item_check() and hm_encode_item(), and is zero in an item that hm_item_next() decoded.
 * A new scheme adds a part here and a file of its own in the codec and the engine.
 *
 * hmacd-v1: exactly one of has_body / v1.has_body_sha256 is set in a valid item, nheaders is at
 * most HM_MAX_HEADERS (the array is bigger only because rfc9421 items share it).
 * rfc9421: nheaders at most HM_RFC_MAX_HEADERS; the body, for Content-Digest (absent: the
 * empty body); an empty uri_scheme means "https", an empty label means "the only signature".
 */
struct hm_item {
	enum hm_scheme scheme; /* 0 (zero-init) = hmacd-v1 */
	struct hm_str tenant;
	struct hm_str container;
	struct hm_str method;
	struct hm_str path;
	size_t nheaders;
	struct hm_header headers[HM_RFC_MAX_HEADERS]; /* v1: at most HM_MAX_HEADERS */
	bool has_body;
	struct hm_str body;
	struct hm_item_v1 v1;
	struct hm_item_rfc9421 rfc;
};

/*
 * Checks an item against the content rules of PROTOCOL.md section 7 for its scheme (charsets,
 * lengths; hmacd-v1: at most HM_MAX_HEADERS headers, exactly one body form, 32-byte sig;
 * rfc9421: section 7.2). Only the fields of item->scheme are looked at; a scheme outside the
 * enum is malformed. hm_item_next() applies it; signers call it before signing. HM_OK or
 * HM_EMALFORMED. (Rules that only the wire can break - unknown or repeated keys, wrong types,
 * an optional str present but empty - are the decoder's.)
 */
int hm_item_check(const struct hm_item *item) HM_MUSTCHECK;

#endif
