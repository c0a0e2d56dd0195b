/*
 * handler.c - request frame -> response frame (see handler.h).
 *
 * A verify response is written as the items are judged: the results array header is emitted
 * first (its count is known from the request), then one byte per verdict, so nothing per item
 * is buffered or allocated. A request that fails as a whole (malformed, unknown op, too many
 * items, key store unreadable) gets an error response and the connection stays open.
 */
#include "server/handler.h"

#include "server/log.h"

static void error_response(struct hm_handler *h, struct hm_buf *out, const struct hm_request *req)
{
	hm_counter_add(&h->stats.request_errors, 1);
	hm_debug("request error: %s (%s)", req->err, req->err_text);
	hm_encode_error(out, req->has_id, req->id, req->err, req->err_text);
}

static void handle_verify(struct hm_handler *h, struct hm_request *req, int64_t now,
			  struct hm_buf *out)
{
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
	for (uint32_t i = 0; i < req->nitems; i++) {
		rc = hm_item_next(&req->items, &h->item);
		if (rc == HM_OK) {
			enum hm_verdict v = hm_verify_item(h->verifier, &h->item);
			const char *why = hm_verify_reason(h->verifier);

			if (why != NULL)
				hm_debug("item %u: %s: %s", (unsigned)i, hm_verdict_name(v), why);
			hm_encode_result(out, v);
		} else {
			hm_verify_count_malformed(h->verifier);
			hm_encode_result(out, HM_V_MALFORMED);
		}
	}
	rc = hm_verify_end(h->verifier);
	hm_counter_add(&h->stats.items, req->nitems);
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
	int rc;

	hm_counter_add(&h->stats.requests, 1);
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
	return out->failed ? HM_ETOOBIG : HM_OK;
}
