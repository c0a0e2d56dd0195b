/*
 * msg.h - request and response messages of the hmacd protocol (PROTOCOL.md).
 *
 * Decoding is zero-copy and zero-allocation: a decoded request or item holds pointers into the
 * frame payload, valid as long as that payload is. A verify request is decoded in two steps so
 * the daemon can stream it: hm_request_decode() checks the whole frame is one well-formed
 * msgpack map and finds id, op and the items array; hm_item_next() then decodes one item at a
 * time. An item that breaks a rule of PROTOCOL.md is reported (HM_EMALFORMED) and skipped, so its
 * neighbours still get their verdicts.
 *
 * Encoding uses msgpack-c's packer into a struct hm_buf (sticky errors, size cap).
 */
#ifndef HM_MSG_H
#define HM_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "errors.h"
#include "mpack.h"

#define HM_SCOPE_MAX 128  /* tenant and container: 1..128 bytes of [A-Za-z0-9._:/-] */
#define HM_NONCE_MAX 64   /* nonce: 0..64 bytes */
#define HM_METHOD_MAX 32  /* method: 1..32 token bytes */
#define HM_MAX_HEADERS 64       /* hmacd-v1: signed headers per item (contract unchanged) */
#define HM_RFC_MAX_HEADERS 128  /* rfc9421: every request header */
#define HM_AUTHORITY_MAX 255    /* rfc9421 authority: host[:port] */
#define HM_SIGFIELD_MAX 8192    /* rfc9421 signature_input and signature: raw field values */
#define HM_LABEL_MAX 64         /* rfc9421 label: an RFC 8941 key */
#define HM_SHA256_LEN 32
#define HM_MAC_LEN 32
#define HM_DEFAULT_MAX_BATCH 1024u

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

/*
 * One verify item of either scheme. Shared fields are reused; the fields of the other scheme
 * are ignored by hm_item_check() and hm_encode_item(), and are zero in an item that
 * hm_item_next() decoded.
 *
 * hmacd-v1: exactly one of has_body / has_body_sha256 is set in a valid item, nheaders is at
 * most HM_MAX_HEADERS (the array is bigger only because rfc9421 items share it).
 * rfc9421: nheaders at most HM_RFC_MAX_HEADERS; has_body is optional (the body, for
 * Content-Digest); an empty uri_scheme means "https", an empty label means "the only signature".
 */
struct hm_item {
	enum hm_scheme scheme; /* 0 (zero-init) = hmacd-v1 */
	/* both schemes */
	struct hm_str tenant;
	struct hm_str container;
	struct hm_str method;
	struct hm_str path;
	size_t nheaders;
	struct hm_header headers[HM_RFC_MAX_HEADERS]; /* v1: at most HM_MAX_HEADERS */
	bool has_body;
	struct hm_str body;
	/* hmacd-v1 only */
	uint64_t epoch;
	uint64_t ts;
	struct hm_str nonce; /* len 0: not replay-protected */
	bool has_body_sha256;
	const uint8_t *body_sha256; /* HM_SHA256_LEN bytes */
	const uint8_t *sig;         /* HM_MAC_LEN bytes */
	/* rfc9421 only */
	struct hm_str authority;       /* host[:port] as received */
	struct hm_str uri_scheme;      /* "http" or "https"; len 0 = "https" */
	struct hm_str signature_input; /* raw Signature-Input value (lines joined by ", ") */
	struct hm_str signature;       /* raw Signature value (lines joined by ", ") */
	struct hm_str label;           /* len 0 = the only signature */
};

enum hm_op { HM_OP_VERIFY, HM_OP_PING, HM_OP_STATS };

/* Short error codes of an error response ("error" key), as in PROTOCOL.md. */
#define HM_RERR_MALFORMED "malformed"
#define HM_RERR_UNKNOWN_OP "unknown_op"
#define HM_RERR_TOO_MANY_ITEMS "too_many_items"
#define HM_RERR_INTERNAL "internal"

struct hm_request {
	bool has_id;
	uint64_t id;
	enum hm_op op;
	uint32_t nitems;      /* verify only */
	struct hm_mp items;   /* verify only: positioned at the first item */
	const char *err;      /* on failure: one of HM_RERR_* */
	const char *err_text; /* on failure: a static human-readable reason */
};

/*
 * Decodes a request payload. HM_OK, or HM_EMALFORMED with req->err / req->err_text set (and
 * req->has_id / req->id if an id could be read, so the error response can echo it).
 */
int hm_request_decode(const uint8_t *payload, size_t len, uint32_t max_items,
		      struct hm_request *req) HM_MUSTCHECK;

/*
 * Decodes the next item of a verify request into *item (fully overwritten).
 * HM_OK, or HM_EMALFORMED: the item breaks a rule and has been skipped.
 * Call it exactly req->nitems times.
 */
int hm_item_next(struct hm_mp *items, struct hm_item *item) HM_MUSTCHECK;

/*
 * Checks an item against the content rules of PROTOCOL.md section 7 for its scheme (charsets,
 * lengths; hmacd-v1: at most HM_MAX_HEADERS headers, exactly one body form, 32-byte sig;
 * rfc9421: section 7.2). Only the fields of item->scheme are looked at; a scheme outside the
 * enum is malformed. hm_item_next() applies it; signers call it before signing. HM_OK or
 * HM_EMALFORMED. (Rules that only the wire can break - unknown or repeated keys, wrong types,
 * an optional str present but empty - are the decoder's.)
 */
int hm_item_check(const struct hm_item *item) HM_MUSTCHECK;

/* The tenant and container rule: 1..HM_SCOPE_MAX bytes of [A-Za-z0-9._:/-]. */
bool hm_scope_ok(const uint8_t *s, size_t len);

/* ---- encoding (check b->failed once at the end) ---- */

/* A whole request frame (header included) for ping / stats. */
void hm_encode_simple_request(struct hm_buf *b, uint64_t id, enum hm_op op);
/* Starts a verify request frame of n items; then hm_encode_item() n times; then hm_frame_end(). */
size_t hm_encode_verify_begin(struct hm_buf *b, uint64_t id, uint32_t n);
/*
 * One item of either scheme, not checked (call hm_item_check() first to get something the
 * daemon accepts). hmacd-v1: no "scheme" key, body or body_sha256 (has_body wins), nonce only
 * if non-empty. rfc9421: keys in the order of PROTOCOL.md 7.2, "scheme": "rfc9421" first;
 * uri_scheme and label only if non-empty, body only if has_body.
 */
void hm_encode_item(struct hm_buf *b, const struct hm_item *item);

/* Starts a response frame; returns the offset of its header for hm_frame_end(). */
size_t hm_frame_begin(struct hm_buf *b);
/* Patches the length of the frame that starts at `start`. Sets b->failed if over 4 GiB. */
void hm_frame_end(struct hm_buf *b, size_t start);

/* Verify response: begin, then hm_encode_result() once per item, in order. */
size_t hm_encode_results_begin(struct hm_buf *b, uint64_t id, uint32_t n);
void hm_encode_result(struct hm_buf *b, unsigned verdict);
void hm_encode_pong(struct hm_buf *b, uint64_t id);
/* Stats response: begin with the number of counters, then one hm_encode_stat() each. */
size_t hm_encode_stats_begin(struct hm_buf *b, uint64_t id, uint32_t n);
void hm_encode_stat(struct hm_buf *b, const char *name, uint64_t value);
/* Error response; has_id false encodes "id": nil. */
void hm_encode_error(struct hm_buf *b, bool has_id, uint64_t id, const char *err, const char *text);

/* ---- response decoding (clients) ---- */

enum hm_resp_kind { HM_RESP_RESULTS, HM_RESP_PONG, HM_RESP_STATS, HM_RESP_ERROR };

struct hm_response {
	enum hm_resp_kind kind;
	bool has_id;
	uint64_t id;
	uint32_t nresults;
	struct hm_mp results; /* HM_RESP_RESULTS: positioned at the first code (uint each) */
	uint32_t nstats;
	struct hm_mp stats;   /* HM_RESP_STATS: positioned at the first name (str, then uint) */
	struct hm_str err;    /* HM_RESP_ERROR */
	struct hm_str err_text;
};

/* Decodes a response payload. HM_OK or HM_EPROTO. */
int hm_response_decode(const uint8_t *payload, size_t len, struct hm_response *resp) HM_MUSTCHECK;

#endif
