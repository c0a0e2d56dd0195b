/*
 * msg.h - request and response messages of the hmacd protocol (PROTOCOL.md): the msgpack codec.
 * The item it decodes into, and its rules, are item.h's.
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

#include "proto/buf.h"
#include "proto/errors.h"
#include "proto/item.h"
#include "proto/mpack.h"

#define HM_DEFAULT_MAX_BATCH 1024u /* items per verify request, unless configured */

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
