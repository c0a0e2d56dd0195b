/*
 * handler.c - request frame -> response frame (see handler.h).
 *
 * A verify response is written as the items are judged: the results array header is emitted
 * first (its count is known from the request), then one byte per verdict, so nothing per item
 * is buffered or allocated. A request that fails as a whole (malformed, unknown op, too many
 * items, key store unreadable) gets an error response and the connection stays open.
 */
#include "server/handler.h"

#include <time.h>

#include "server/claims.h"
#include "server/log.h"

static void error_response(struct hm_handler *h, struct hm_buf *out, const struct hm_request *req)
{
	hm_counter_add(&h->stats.request_errors, 1);
	hm_debug("request error: %s (%s)", req->err, req->err_text);
	hm_encode_error(out, req->has_id, req->id, req->err, req->err_text);
}

/*
 * An item OK on this host: if it recorded a new nonce, its claim joins the frame's set (OK for
 * now, the answer held), or it is UNAVAILABLE at once when no claim can be made (Redis down,
 * pools empty). at: where its verdict byte goes.
 */
static enum hm_verdict claim(struct hm_handler *h, struct hm_claim_set **set, bool *down,
			     size_t at, uint32_t tag)
{
	struct hm_nonce_claim c;

	if (!hm_verify_nonce_recorded(h->verifier, &c))
		return HM_V_OK;
	if (*set == NULL && !*down) {
		*set = hm_claims_open(h->claimer);
		*down = *set == NULL;
	}
	if (*set != NULL && hm_claims_add_tagged(*set, &c, at, tag))
		return HM_V_OK;
	hm_verify_recount(h->verifier, HM_V_OK, HM_V_UNAVAILABLE);
	if (h->tally != NULL)
		hm_tally_recount(h->tally, tag, HM_V_OK, HM_V_UNAVAILABLE);
	hm_claims_count_unavailable(h->claimer, 1);
	return HM_V_UNAVAILABLE;
}

struct answer {
	struct hm_handler *h;
	uint8_t *out;
};

static void answer_one(void *arg, size_t at, uint32_t tag, enum hm_verdict v)
{
	struct answer *a = arg;

	if (v == HM_V_OK)
		return;
	a->out[at] = (uint8_t)(v & 0x7f); /* a verdict is a one-byte positive fixint */
	hm_verify_recount(a->h->verifier, HM_V_OK, v);
	if (a->h->tally != NULL)
		hm_tally_recount(a->h->tally, tag, HM_V_OK, v);
}

void hm_handler_claims_answered(struct hm_handler *h, struct hm_claim_set *set, uint8_t *out)
{
	struct answer a = {.h = h, .out = out};

	hm_claims_each_tagged(set, answer_one, &a);
	hm_claims_release(set);
}

/* Decodes item k of req into its scratch slot and starts loading its key-cache set. */
static void decode_ahead(struct hm_handler *h, struct hm_request *req, uint32_t k)
{
	struct hm_item *it = &h->item[k % HM_HANDLER_AHEAD];

	h->item_rc[k % HM_HANDLER_AHEAD] = hm_item_next(&req->items, it);
	if (h->item_rc[k % HM_HANDLER_AHEAD] == HM_OK)
		hm_verify_prefetch(h->verifier, it);
}

static void handle_verify(struct hm_handler *h, struct hm_request *req, int64_t now,
			  struct hm_buf *out)
{
	struct hm_claim_set *set = NULL;
	bool down = false;
	size_t start;
	int rc;

	rc = hm_verify_begin(h->verifier, now);
	if (rc != HM_OK) {
		hm_err("%s", hm_verify_fault(h->verifier));
		req->err = HM_RERR_INTERNAL;
		req->err_text = "the key store could not be read; nothing was verified";
		error_response(h, out, req);
		return;
	}
	start = hm_encode_results_begin(out, req->id, req->nitems);
	/* items 0 and 1 decoded ahead; then each turn decodes item i + 2 (judged in order all the same) */
	for (uint32_t k = 0; k + 1 < HM_HANDLER_AHEAD && k < req->nitems; k++)
		decode_ahead(h, req, k);
	if (req->nitems > 1 && h->item_rc[1] == HM_OK)
		hm_verify_prefetch_key(h->verifier, &h->item[1]);
	for (uint32_t i = 0; i < req->nitems; i++) {
		struct hm_item *it = &h->item[i % HM_HANDLER_AHEAD];

		rc = h->item_rc[i % HM_HANDLER_AHEAD];
		if (i + 2 < req->nitems)
			decode_ahead(h, req, i + 2);
		/* item i + 1's tags were requested a turn ago: now its entry */
		if (i + 1 < req->nitems && h->item_rc[(i + 1) % HM_HANDLER_AHEAD] == HM_OK)
			hm_verify_prefetch_key(h->verifier, &h->item[(i + 1) % HM_HANDLER_AHEAD]);
		if (rc == HM_OK) {
			enum hm_verdict v = hm_verify_item(h->verifier, it);
			const char *why = hm_verify_reason(h->verifier);
			uint32_t tag = 0; /* the item's tally tag, for a recount (tally.h) */

			if (why != NULL)
				hm_debug("item %u: %s: %s", (unsigned)i, hm_verdict_name(v), why);
			if (h->tally != NULL)
				tag = hm_tally_item(h->tally,
						    it->scheme == HM_SCHEME_RFC9421 ? HM_TALLY_RFC9421
										    : HM_TALLY_V1,
						    it->tenant.ptr, it->tenant.len, v);
			if (v == HM_V_OK && h->claimer != NULL)
				v = claim(h, &set, &down, out->len, tag);
			hm_encode_result(out, v);
		} else {
			hm_verify_count_malformed(h->verifier);
			if (h->tally != NULL)
				(void)hm_tally_item(h->tally, HM_TALLY_UNKNOWN, NULL, 0,
						    HM_V_MALFORMED);
			hm_encode_result(out, HM_V_MALFORMED);
		}
	}
	if (h->tally != NULL)
		hm_tally_frame_items(h->tally, req->nitems);
	rc = hm_verify_end(h->verifier);
	hm_counter_add(&h->stats.items, req->nitems);
	if (set != NULL && (rc != HM_OK || hm_claims_size(set) == 0)) {
		hm_claims_release(set); /* never sent */
		set = NULL;
	}
	h->pending = set;
	if (rc != HM_OK) {
		/* a fault of ours touched this batch: take back its verdicts, fail closed */
		hm_err("%s", hm_verify_fault(h->verifier));
		out->len = start;
		req->err = HM_RERR_INTERNAL;
		req->err_text = "the daemon could not judge every item; nothing in this request passed";
		error_response(h, out, req);
		return;
	}
	hm_frame_end(out, start);
}

int hm_handle_frame(struct hm_handler *h, const uint8_t *payload, size_t len, int64_t now,
		    struct hm_buf *out)
{
	struct hm_request req;
	struct timespec t0, t1;
	/* CLOCK_MONOTONIC does not fail on Linux; if it did, the frame is only not timed */
	bool timed = h->tally != NULL && clock_gettime(CLOCK_MONOTONIC, &t0) == 0;
	int rc;

	hm_counter_add(&h->stats.requests, 1);
	h->pending = NULL;
	rc = hm_request_decode(payload, len, h->max_batch, &req);
	if (rc != HM_OK) {
		error_response(h, out, &req);
	} else {
		switch (req.op) {
		case HM_OP_VERIFY:
			handle_verify(h, &req, now, out);
			break;
		case HM_OP_PING:
			hm_encode_pong(out, req.id);
			break;
		case HM_OP_STATS:
			h->stats_fn(h->stats_arg, out, req.id);
			break;
		}
	}
	if (timed && clock_gettime(CLOCK_MONOTONIC, &t1) == 0)
		hm_tally_frame_time(h->tally, (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000u +
						      (uint64_t)t1.tv_nsec - (uint64_t)t0.tv_nsec);
	return out->failed ? HM_ETOOBIG : HM_OK;
}
