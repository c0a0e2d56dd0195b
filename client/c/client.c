/*
 * client.c - libhmacd, the C client of hmacd (the API and its contract: hmacd/client.h).
 *
 * A struct hmacd_client is the caller's options and one connection (transport.c: the socket,
 * its buffers, reconnects, deadlines and the requests in flight). This file checks arguments,
 * converts the caller's items, encodes requests into the connection's output buffer, matches
 * and decodes the answers it reads, and signs. Requests are encoded and answers are framed and
 * decoded by the shared proto/ code, so client and daemon cannot disagree on the wire.
 *
 * Answers come back in request order and each must carry the id of the oldest request in flight.
 * An answer that breaks the protocol closes the connection (hm_tp_drop()) as an I/O error or a
 * timeout does in transport.c: the requests in flight are forgotten, the next call reconnects.
 */
#include "hmacd/client.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "proto/b64.h"
#include "proto/buf.h"
#include "proto/errors.h"
#include "proto/frame.h"
#include "proto/mpack.h"
#include "proto/msg.h"
#include "proto/sfv.h"
#include "proto/sigbase.h"
#include "proto/siginput.h"
#include "proto/sign.h"
#include "proto/verdict.h"

#include "client/c/transport.h"

/* The public codes are the internal ones: hmacd_strerror() is hm_strerror(). */
#define HMACD_SAME(a, b) _Static_assert((int)(a) == (int)(b), #a " must equal " #b)
HMACD_SAME(HMACD_OK, HM_OK);
HMACD_SAME(HMACD_ENOMEM, HM_ENOMEM);
HMACD_SAME(HMACD_EINVAL, HM_EINVAL);
HMACD_SAME(HMACD_EMALFORMED, HM_EMALFORMED);
HMACD_SAME(HMACD_ETOOBIG, HM_ETOOBIG);
HMACD_SAME(HMACD_EIO, HM_EIO);
HMACD_SAME(HMACD_ECRYPTO, HM_ECRYPTO);
HMACD_SAME(HMACD_ECONN, HM_ECONN);
HMACD_SAME(HMACD_ETIMEDOUT, HM_ETIMEDOUT);
HMACD_SAME(HMACD_EPROTO, HM_EPROTO);
HMACD_SAME(HMACD_ESERVER, HM_ESERVER);
HMACD_SAME(HMACD_EPEER, HM_EPEER);
HMACD_SAME(HMACD_V_OK, HM_V_OK);
HMACD_SAME(HMACD_V_BAD_SIGNATURE, HM_V_BAD_SIGNATURE);
HMACD_SAME(HMACD_V_UNKNOWN_KEY, HM_V_UNKNOWN_KEY);
HMACD_SAME(HMACD_V_KEY_REVOKED, HM_V_KEY_REVOKED);
HMACD_SAME(HMACD_V_KEY_EXPIRED, HM_V_KEY_EXPIRED);
HMACD_SAME(HMACD_V_STALE_TIMESTAMP, HM_V_STALE_TIMESTAMP);
HMACD_SAME(HMACD_V_REPLAY, HM_V_REPLAY);
HMACD_SAME(HMACD_V_MALFORMED, HM_V_MALFORMED);
HMACD_SAME(HMACD_V_INSUFFICIENT_COVERAGE, HM_V_INSUFFICIENT_COVERAGE);
HMACD_SAME(HMACD_V_UNAVAILABLE, HM_V_UNAVAILABLE);
/* every verdict of proto/verdict.h is in the public enum: the last one is the public last one */
_Static_assert(HM_V__COUNT == HMACD_V_UNAVAILABLE + 1, "a verdict is missing from hmacd/client.h");
HMACD_SAME(HMACD_MAC_LEN, HM_MAC_LEN);
HMACD_SAME(HMACD_SHA256_LEN, HM_SHA256_LEN);
HMACD_SAME(HMACD_MAX_HEADERS, HM_MAX_HEADERS);
HMACD_SAME(HMACD_RFC9421_MAX_HEADERS, HM_RFC_MAX_HEADERS);
HMACD_SAME(HMACD_RFC9421_FIELD_MAX, HM_SIGFIELD_MAX);
HMACD_SAME(HMACD_SCHEME_HMACD_V1, HM_SCHEME_HMACD_V1);
HMACD_SAME(HMACD_SCHEME_RFC9421, HM_SCHEME_RFC9421);
/* the signer's buffers: the longest label, "=:", the MAC in base64, ":" and the NUL */
_Static_assert(HMACD_RFC9421_SIGNATURE_CAP >= HM_LABEL_MAX + 2 + HM_B64_LEN(HM_MAC_LEN) + 2,
	       "HMACD_RFC9421_SIGNATURE_CAP too small");
_Static_assert(HMACD_CONTENT_DIGEST_CAP >= 9 + HM_B64_LEN(64) + 2, "HMACD_CONTENT_DIGEST_CAP");
#undef HMACD_SAME

#define DEFAULT_TIMEOUT_MS 5000
/* Encoded requests waiting for hmacd_flush(): room for one largest frame. */
#define OUT_LIMIT ((size_t)HM_FRAME_HEADER + HM_FRAME_MAX_MAX)

struct hmacd_client {
	int timeout_ms;   /* -1: no limit */
	uint32_t max_frame;
	uint64_t next_id;
	struct hm_tp tp;  /* the connection (transport.h) */
};

/* ---- encoding ---- */

/* Takes the frame being encoded at `start` back out of the output buffer. */
static void out_undo(struct hm_buf *out, size_t start)
{
	out->len = start;
	out->failed = false;
}

/*
 * Commits the frame encoded at out[start..) as the next request: checks its size and records it
 * as in flight. On failure the frame is taken back out and nothing changes.
 * HMACD_OK, HMACD_ETOOBIG or HMACD_ENOMEM.
 */
static int out_commit(struct hmacd_client *c, struct hm_buf *out, size_t start, enum hm_op op,
		      uint32_t n, uint64_t *id)
{
	struct hm_pending p;
	int rc;

	/* out's limit is SIZE_MAX, so a failed append means an allocation failed */
	if (out->failed) {
		rc = HMACD_ENOMEM;
		goto undo;
	}
	p.id = c->next_id;
	p.len = out->len - start;
	p.n = n;
	p.op = op;
	if (p.len - HM_FRAME_HEADER > c->max_frame || out->len > OUT_LIMIT) {
		rc = HMACD_ETOOBIG;
		goto undo;
	}
	rc = hm_tp_push(&c->tp, &p);
	if (rc != HMACD_OK)
		goto undo;
	c->next_id++;
	if (id != NULL)
		*id = p.id;
	return HMACD_OK;
undo:
	out_undo(out, start);
	return rc;
}

/* A caller's byte range as an hm_str; NULL stands for an empty range. */
static bool to_str(const void *p, size_t len, struct hm_str *s)
{
	static const uint8_t empty[1];

	s->ptr = p != NULL ? p : empty;
	s->len = len;
	return p != NULL || len == 0;
}

/* Points dst->headers at the caller's headers (at most max of them). */
static bool headers_convert(const struct hmacd_header *h, size_t n, size_t max,
			    struct hm_item *dst)
{
	bool ok = h != NULL || n == 0;

	dst->nheaders = ok && n <= max ? n : 0;
	for (size_t i = 0; i < dst->nheaders; i++) {
		ok &= to_str(h[i].name, h[i].name_len, &dst->headers[i].name);
		ok &= to_str(h[i].value, h[i].value_len, &dst->headers[i].value);
	}
	return ok;
}

/*
 * struct hmacd_item -> struct hm_item, pointing into the caller's memory (nothing is copied, and
 * nothing is judged: hm_item_check() and the daemon do that). No body_sha256 means the body is
 * used, an empty one if body is NULL. HMACD_OK, HMACD_EINVAL (a NULL range of non-zero length),
 * HMACD_EMALFORMED (more headers than the protocol allows: struct hm_item has no room for them).
 * Only the fields of the hmacd-v1 scheme are set (the encoder ignores the others).
 */
static int item_convert(const struct hmacd_item *src, struct hm_item *dst)
{
	bool ok = true;

	if (src->nheaders > HM_MAX_HEADERS)
		return HMACD_EMALFORMED;
	dst->scheme = HM_SCHEME_HMACD_V1;
	ok &= to_str(src->tenant, src->tenant_len, &dst->tenant);
	ok &= to_str(src->container, src->container_len, &dst->container);
	dst->v1.epoch = src->epoch;
	ok &= to_str(src->method, src->method_len, &dst->method);
	ok &= to_str(src->path, src->path_len, &dst->path);
	dst->v1.ts = src->ts;
	ok &= to_str(src->nonce, src->nonce_len, &dst->v1.nonce);
	ok &= headers_convert(src->headers, src->nheaders, HM_MAX_HEADERS, dst);
	dst->v1.has_body_sha256 = src->body_sha256 != NULL;
	dst->v1.body_sha256 = src->body_sha256;
	dst->has_body = src->body != NULL || src->body_sha256 == NULL;
	ok &= to_str(src->body, src->body_len, &dst->body);
	dst->v1.sig = src->sig;
	/* the rfc9421 fields: empty, so that no code ever reads stale bytes */
	(void)to_str(NULL, 0, &dst->rfc.authority);
	(void)to_str(NULL, 0, &dst->rfc.uri_scheme);
	(void)to_str(NULL, 0, &dst->rfc.signature_input);
	(void)to_str(NULL, 0, &dst->rfc.signature);
	(void)to_str(NULL, 0, &dst->rfc.label);
	return ok ? HMACD_OK : HMACD_EINVAL;
}

/*
 * struct hmacd_rfc9421_item -> struct hm_item (scheme rfc9421), the same way: borrowed, not
 * judged. The body is always sent, an empty one when body is NULL: what the app hands on is
 * what the daemon checks a covered Content-Digest against. HMACD_OK, HMACD_EINVAL,
 * HMACD_EMALFORMED (over HM_RFC_MAX_HEADERS headers).
 */
static int rfc_convert(const struct hmacd_rfc9421_item *src, struct hm_item *dst)
{
	bool ok = true;

	if (src->nheaders > HM_RFC_MAX_HEADERS)
		return HMACD_EMALFORMED;
	dst->scheme = HM_SCHEME_RFC9421;
	ok &= to_str(src->tenant, src->tenant_len, &dst->tenant);
	ok &= to_str(src->container, src->container_len, &dst->container);
	ok &= to_str(src->method, src->method_len, &dst->method);
	ok &= to_str(src->authority, src->authority_len, &dst->rfc.authority);
	ok &= to_str(src->path, src->path_len, &dst->path);
	ok &= to_str(src->uri_scheme, src->uri_scheme_len, &dst->rfc.uri_scheme);
	ok &= headers_convert(src->headers, src->nheaders, HM_RFC_MAX_HEADERS, dst);
	ok &= to_str(src->signature_input, src->signature_input_len, &dst->rfc.signature_input);
	ok &= to_str(src->signature, src->signature_len, &dst->rfc.signature);
	ok &= to_str(src->label, src->label_len, &dst->rfc.label);
	dst->has_body = true;
	ok &= to_str(src->body, src->body_len, &dst->body);
	/* the hmacd-v1 fields: empty */
	dst->v1.epoch = 0;
	dst->v1.ts = 0;
	(void)to_str(NULL, 0, &dst->v1.nonce);
	dst->v1.has_body_sha256 = false;
	dst->v1.body_sha256 = NULL;
	dst->v1.sig = NULL;
	return ok ? HMACD_OK : HMACD_EINVAL;
}

/* Either kind of item -> struct hm_item. HMACD_EINVAL also for a bad tag or NULL pointer. */
static int any_convert(const struct hmacd_any_item *src, struct hm_item *dst)
{
	switch (src->scheme) {
	case HMACD_SCHEME_HMACD_V1:
		if (src->u.v1 == NULL)
			return HMACD_EINVAL;
		return item_convert(src->u.v1, dst);
	case HMACD_SCHEME_RFC9421:
		if (src->u.rfc9421 == NULL)
			return HMACD_EINVAL;
		return rfc_convert(src->u.rfc9421, dst);
	}
	return HMACD_EINVAL;
}

static size_t add_sat(size_t a, size_t b)
{
	return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

static size_t headers_size(size_t total, const struct hmacd_header *h, size_t n, size_t max)
{
	if (h == NULL)
		return total;
	/* more than max is refused later (item_convert, rfc_convert) */
	for (size_t k = 0; k < n && k < max; k++) {
		total = add_sat(total, h[k].name_len);
		total = add_sat(total, h[k].value_len);
	}
	return total;
}

/* The content bytes of one item, a lower bound of its encoded size (0 for a bad tag). */
static size_t item_min_size(const struct hmacd_any_item *ai)
{
	const struct hmacd_item *it;
	const struct hmacd_rfc9421_item *r;
	size_t total = 0;

	if (ai->scheme == HMACD_SCHEME_HMACD_V1 && ai->u.v1 != NULL) {
		it = ai->u.v1;
		total = add_sat(total, it->tenant_len);
		total = add_sat(total, it->container_len);
		total = add_sat(total, it->method_len);
		total = add_sat(total, it->path_len);
		total = add_sat(total, it->nonce_len);
		total = add_sat(total, it->body_sha256 != NULL ? HM_SHA256_LEN : it->body_len);
		total = add_sat(total, HM_MAC_LEN);
		return headers_size(total, it->headers, it->nheaders, HM_MAX_HEADERS);
	}
	if (ai->scheme == HMACD_SCHEME_RFC9421 && ai->u.rfc9421 != NULL) {
		r = ai->u.rfc9421;
		total = add_sat(total, r->tenant_len);
		total = add_sat(total, r->container_len);
		total = add_sat(total, r->method_len);
		total = add_sat(total, r->authority_len);
		total = add_sat(total, r->path_len);
		total = add_sat(total, r->uri_scheme_len);
		total = add_sat(total, r->signature_input_len);
		total = add_sat(total, r->signature_len);
		total = add_sat(total, r->label_len);
		total = add_sat(total, r->body != NULL ? r->body_len : 0);
		return headers_size(total, r->headers, r->nheaders, HM_RFC_MAX_HEADERS);
	}
	return 0;
}

/* Item i of a batch given either as hmacd-v1 items (v1 != NULL) or as tagged items. */
static struct hmacd_any_item batch_at(const struct hmacd_item *v1,
				      const struct hmacd_any_item *any, size_t i)
{
	struct hmacd_any_item ai;

	if (v1 == NULL)
		return any[i];
	ai.scheme = HMACD_SCHEME_HMACD_V1;
	ai.u.v1 = &v1[i];
	return ai;
}

/*
 * Encodes a verify request into the output buffer and records it as in flight. The batch is
 * v1[0..n) if v1 is set, else any[0..n). Items are not judged (the daemon answers MALFORMED),
 * but one the wire cannot carry is refused: HMACD_EINVAL. A lower bound of the batch's size is
 * checked first, so an oversized batch is refused before it is encoded into memory.
 * HMACD_OK, HMACD_EINVAL, HMACD_ETOOBIG, HMACD_ENOMEM.
 */
static int queue_verify(struct hmacd_client *c, const struct hmacd_item *v1,
			const struct hmacd_any_item *any, size_t n, uint64_t *id)
{
	struct hmacd_any_item ai;
	struct hm_item it;
	struct hm_buf *out;
	size_t start, min = 0;
	int rc;

	if (n > 0 && v1 == NULL && any == NULL)
		return HMACD_EINVAL;
	if (n > UINT32_MAX)
		return HMACD_ETOOBIG;
	for (size_t i = 0; i < n; i++) {
		ai = batch_at(v1, any, i);
		min = add_sat(min, item_min_size(&ai));
	}
	out = hm_tp_out_begin(&c->tp); /* out->len <= OUT_LIMIT: out_commit() keeps it there */
	if (min > c->max_frame || min > OUT_LIMIT - out->len)
		return HMACD_ETOOBIG;
	start = hm_encode_verify_begin(out, c->next_id, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		ai = batch_at(v1, any, i);
		rc = any_convert(&ai, &it);
		/* hm_encode_item() writes one body form: an item with both has no encoding */
		if (rc != HMACD_OK || (it.has_body && it.v1.has_body_sha256)) {
			out_undo(out, start);
			return HMACD_EINVAL;
		}
		hm_encode_item(out, &it);
	}
	hm_frame_end(out, start);
	return out_commit(c, out, start, HM_OP_VERIFY, (uint32_t)n, id);
}

static int queue_simple(struct hmacd_client *c, enum hm_op op)
{
	struct hm_buf *out = hm_tp_out_begin(&c->tp);
	size_t start = out->len;

	hm_encode_simple_request(out, c->next_id, op);
	return out_commit(c, out, start, op, 0, NULL);
}

/* ---- answers ---- */

static enum hm_resp_kind expected_kind(enum hm_op op)
{
	switch (op) {
	case HM_OP_VERIFY:
		return HM_RESP_RESULTS;
	case HM_OP_PING:
		return HM_RESP_PONG;
	case HM_OP_STATS:
		return HM_RESP_STATS;
	}
	return HM_RESP_ERROR;
}

/*
 * Flushes, then reads and decodes the answer to the oldest request in flight and takes that
 * request off the list (*req). resp points into the input buffer until the next read.
 * HMACD_OK, HMACD_ESERVER (an error answer; the connection stays up), or an error after which the
 * connection has been dropped.
 */
static int next_response(struct hmacd_client *c, const struct hm_deadline *dl,
			 struct hm_response *resp, struct hm_pending *req)
{
	const uint8_t *payload = NULL;
	uint32_t plen = 0;
	int rc;

	rc = hm_tp_recv(&c->tp, dl, &payload, &plen);
	if (rc != HMACD_OK)
		return rc; /* dropped */
	rc = hm_response_decode(payload, plen, resp);
	if (rc != HM_OK) {
		rc = HMACD_EPROTO;
		goto fail;
	}
	/*
	 * Answers come in request order. An error answer without an id is the daemon saying it
	 * could not read one: it still answers the oldest request.
	 */
	if (resp->has_id && resp->id != hm_tp_oldest(&c->tp)->id) {
		rc = HMACD_EPROTO;
		goto fail;
	}
	hm_tp_pop(&c->tp, req);
	if (resp->kind == HM_RESP_ERROR)
		return HMACD_ESERVER;
	if (resp->kind != expected_kind(req->op)) {
		rc = HMACD_EPROTO;
		goto fail;
	}
	return HMACD_OK;
fail:
	hm_tp_drop(&c->tp);
	return rc;
}

/* Copies the verdicts of a verify answer for request `req` (count checked). */
static int take_verdicts(struct hmacd_client *c, struct hm_response *resp,
			 const struct hm_pending *req, uint8_t *verdicts, size_t cap, size_t *n)
{
	uint64_t v;

	if (resp->nresults != req->n || resp->nresults > cap)
		goto proto;
	for (uint32_t i = 0; i < resp->nresults; i++) {
		if (hm_mp_read_uint(&resp->results, &v) != HM_OK || v > UINT8_MAX)
			goto proto;
		verdicts[i] = (uint8_t)v;
	}
	*n = resp->nresults;
	return HMACD_OK;
proto:
	hm_tp_drop(&c->tp);
	return HMACD_EPROTO;
}

/* Sync calls: one request at a time, on a connection with nothing else in flight. */
static int sync_begin(struct hmacd_client *c, struct hm_deadline *dl)
{
	if (c == NULL || hm_tp_in_flight(&c->tp) > 0)
		return HMACD_EINVAL;
	return hm_deadline_start(dl, c->timeout_ms);
}

/* ---- public API ---- */

const char *hmacd_strerror(int code)
{
	return hm_strerror(code);
}

const char *hmacd_verdict_name(unsigned verdict)
{
	return hm_verdict_name(verdict);
}

/* A user name, or a numeric uid, to a uid. HMACD_OK, HMACD_EINVAL (no such user), HMACD_ENOMEM. */
static int resolve_user(const char *name, uid_t *uid)
{
	struct passwd pw, *res = NULL;
	char buf[4096], *end = NULL;
	unsigned long long n;

	if (name[0] == '\0')
		return HMACD_EINVAL;
	if (name[0] >= '0' && name[0] <= '9') {
		errno = 0;
		n = strtoull(name, &end, 10);
		if (errno != 0 || *end != '\0' || n >= (uid_t)-1)
			return HMACD_EINVAL;
		*uid = (uid_t)n;
		return HMACD_OK;
	}
	if (getpwnam_r(name, &pw, buf, sizeof(buf), &res) != 0 || res == NULL)
		return HMACD_EINVAL;
	*uid = pw.pw_uid;
	return HMACD_OK;
}

int hmacd_connect(const char *socket_path, const struct hmacd_options *opts,
		  struct hmacd_client **out)
{
	struct hmacd_client *c = NULL;
	struct hm_deadline dl;
	bool pin_uid = false;
	uid_t server_uid = 0;
	int rc;

	if (out == NULL)
		return HMACD_EINVAL;
	*out = NULL;
	if (socket_path == NULL || socket_path[0] == '\0')
		return HMACD_EINVAL;
	if (opts != NULL && (opts->timeout_ms < -1 ||
			     (opts->max_frame != 0 && (opts->max_frame < HM_FRAME_MIN_MAX ||
						       opts->max_frame > HM_FRAME_MAX_MAX))))
		return HMACD_EINVAL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return HMACD_ENOMEM;
	c->next_id = 1;
	c->timeout_ms = DEFAULT_TIMEOUT_MS;
	c->max_frame = HM_FRAME_DEFAULT_MAX;
	if (opts != NULL && opts->timeout_ms != 0)
		c->timeout_ms = opts->timeout_ms;
	if (opts != NULL && opts->max_frame != 0)
		c->max_frame = opts->max_frame;
	if (opts != NULL && opts->server_user != NULL) {
		rc = resolve_user(opts->server_user, &server_uid);
		if (rc != HMACD_OK) {
			free(c); /* c->tp is not set up yet: nothing else to release */
			return rc;
		}
		pin_uid = true;
	}
	rc = hm_tp_init(&c->tp, socket_path, pin_uid, server_uid);
	if (rc != HMACD_OK)
		goto out;
	rc = hm_deadline_start(&dl, c->timeout_ms);
	if (rc != HMACD_OK)
		goto out;
	rc = hm_tp_connect(&c->tp, &dl);
	if (rc != HMACD_OK)
		goto out;
	*out = c;
	c = NULL;
out:
	hmacd_close(c);
	return rc;
}

void hmacd_close(struct hmacd_client *c)
{
	if (c == NULL)
		return;
	hm_tp_free(&c->tp);
	free(c);
}

int hmacd_ping(struct hmacd_client *c)
{
	struct hm_response resp;
	struct hm_pending req;
	struct hm_deadline dl;
	int rc;

	rc = sync_begin(c, &dl);
	if (rc != HMACD_OK)
		return rc;
	rc = queue_simple(c, HM_OP_PING);
	if (rc != HMACD_OK)
		return rc;
	return next_response(c, &dl, &resp, &req);
}

/* hmacd_verify() and hmacd_verify_any(): the batch as queue_verify() takes it. */
static int verify_sync(struct hmacd_client *c, const struct hmacd_item *v1,
		       const struct hmacd_any_item *any, size_t n, uint8_t *verdicts)
{
	struct hm_response resp;
	struct hm_pending req;
	struct hm_deadline dl;
	size_t got = 0;
	int rc;

	if (n > 0 && verdicts == NULL)
		return HMACD_EINVAL;
	/* until the daemon says otherwise, nothing passed (HMACD_V_OK is 0: never leave zeros) */
	if (n > 0)
		memset(verdicts, HMACD_V_MALFORMED, n);
	rc = sync_begin(c, &dl);
	if (rc != HMACD_OK)
		return rc;
	rc = queue_verify(c, v1, any, n, NULL);
	if (rc != HMACD_OK)
		return rc;
	rc = next_response(c, &dl, &resp, &req);
	if (rc != HMACD_OK)
		return rc;
	return take_verdicts(c, &resp, &req, verdicts, n, &got);
}

int hmacd_verify(struct hmacd_client *c, const struct hmacd_item *items, size_t n,
		 uint8_t *verdicts)
{
	return verify_sync(c, items, NULL, n, verdicts);
}

int hmacd_verify_any(struct hmacd_client *c, const struct hmacd_any_item *items, size_t n,
		     uint8_t *verdicts)
{
	return verify_sync(c, NULL, items, n, verdicts);
}

int hmacd_stats(struct hmacd_client *c, void (*fn)(const char *name, uint64_t value, void *arg),
		void *arg)
{
	struct hm_response resp;
	struct hm_pending req;
	struct hm_deadline dl;
	char small[64], *name = NULL;
	const uint8_t *s;
	size_t len;
	uint64_t v;
	int rc;

	if (fn == NULL)
		return HMACD_EINVAL;
	rc = sync_begin(c, &dl);
	if (rc != HMACD_OK)
		return rc;
	rc = queue_simple(c, HM_OP_STATS);
	if (rc != HMACD_OK)
		return rc;
	rc = next_response(c, &dl, &resp, &req);
	if (rc != HMACD_OK)
		return rc;
	/* hm_response_decode() checked every pair, so these reads cannot fail */
	for (uint32_t i = 0; i < resp.nstats; i++) {
		if (hm_mp_read_str(&resp.stats, &s, &len) != HM_OK ||
		    hm_mp_read_uint(&resp.stats, &v) != HM_OK) {
			hm_tp_drop(&c->tp);
			return HMACD_EPROTO;
		}
		name = small;
		if (len >= sizeof(small)) {
			name = malloc(len + 1);
			if (name == NULL)
				return HMACD_ENOMEM;
		}
		memcpy(name, s, len);
		name[len] = '\0';
		fn(name, v, arg);
		if (name != small)
			free(name);
	}
	return HMACD_OK;
}

int hmacd_send_verify(struct hmacd_client *c, const struct hmacd_item *items, size_t n,
		      uint64_t *id)
{
	if (c == NULL)
		return HMACD_EINVAL;
	return queue_verify(c, items, NULL, n, id);
}

int hmacd_send_verify_any(struct hmacd_client *c, const struct hmacd_any_item *items, size_t n,
			  uint64_t *id)
{
	if (c == NULL)
		return HMACD_EINVAL;
	return queue_verify(c, NULL, items, n, id);
}

int hmacd_flush(struct hmacd_client *c)
{
	struct hm_deadline dl;
	int rc;

	if (c == NULL)
		return HMACD_EINVAL;
	if (hm_tp_unsent(&c->tp) == 0)
		return HMACD_OK;
	rc = hm_deadline_start(&dl, c->timeout_ms);
	if (rc != HMACD_OK)
		return rc;
	return hm_tp_flush(&c->tp, &dl);
}

int hmacd_recv_verify(struct hmacd_client *c, uint64_t *id, uint8_t *verdicts, size_t cap,
		      size_t *n)
{
	struct hm_response resp;
	struct hm_pending req = {0};
	struct hm_deadline dl;
	int rc;

	if (c == NULL || id == NULL || n == NULL || (cap > 0 && verdicts == NULL))
		return HMACD_EINVAL;
	*n = 0;
	if (cap > 0)
		memset(verdicts, HMACD_V_MALFORMED, cap); /* nothing passed until answered */
	if (hm_tp_in_flight(&c->tp) == 0)
		return HMACD_EINVAL;
	rc = hm_deadline_start(&dl, c->timeout_ms);
	if (rc != HMACD_OK)
		return rc;
	rc = next_response(c, &dl, &resp, &req);
	if (rc == HMACD_OK || rc == HMACD_ESERVER)
		*id = req.id;
	if (rc != HMACD_OK)
		return rc;
	return take_verdicts(c, &resp, &req, verdicts, cap, n);
}

size_t hmacd_in_flight(const struct hmacd_client *c)
{
	return c != NULL ? hm_tp_in_flight(&c->tp) : 0;
}

int hmacd_fd(const struct hmacd_client *c)
{
	return c != NULL ? hm_tp_fd(&c->tp) : -1;
}

int hmacd_sign(const uint8_t *secret, size_t secret_len, struct hmacd_item *item)
{
	struct hm_item it;
	uint8_t sig[HM_MAC_LEN];
	int rc;

	if (secret == NULL || item == NULL)
		return HMACD_EINVAL;
	rc = item_convert(item, &it);
	if (rc != HMACD_OK)
		return rc;
	rc = hm_sign_item(secret, secret_len, &it, sig);
	if (rc == HM_OK)
		memcpy(item->sig, sig, sizeof(sig));
	OPENSSL_cleanse(sig, sizeof(sig));
	return rc;
}

int hmacd_canonical(const struct hmacd_item *item, char **out, size_t *len)
{
	struct hm_item it;
	uint8_t *canon = NULL;
	size_t n = 0;
	char *s;
	int rc;

	if (item == NULL || out == NULL)
		return HMACD_EINVAL;
	*out = NULL;
	rc = item_convert(item, &it);
	if (rc != HMACD_OK)
		goto out;
	rc = hm_canon_alloc(&it, &canon, &n);
	if (rc != HM_OK)
		goto out;
	s = malloc(n + 1);
	if (s == NULL) {
		rc = HMACD_ENOMEM;
		goto out;
	}
	memcpy(s, canon, n);
	s[n] = '\0';
	*out = s;
	if (len != NULL)
		*len = n;
out:
	free(canon);
	return rc;
}

/* ---- RFC 9421 signing (hmac-sha256) ---- */

#define RFC_DEFAULT_LABEL "sig1"

/* The random source of a fresh nonce (proto/siginput.h). */
static int nonce_random(uint8_t *buf, size_t n)
{
	return RAND_bytes(buf, (int)n) == 1 ? HM_OK : HM_EIO;
}

/*
 * The daemon's item rules (hm_item_check(), PROTOCOL.md 7.2) on the fields a signature base is
 * built from: method, authority, path, uri_scheme, headers and, when with_input, the
 * signature_input and label. The scope and the signature play no part in a base, so valid
 * placeholders stand in for them while the check runs (it is our own converted copy). A base
 * or a signature for a request the daemon refuses as an item would only mislead: a signer must
 * not produce what the verifier cannot accept. HMACD_OK or HMACD_EMALFORMED.
 */
static int rfc_request_check(struct hm_item *it, bool with_input)
{
	static const uint8_t x[] = "x";
	const struct hm_str ph = {x, 1}, none = {x, 0};
	struct hm_str tenant = it->tenant, container = it->container, sig = it->rfc.signature;
	struct hm_str input = it->rfc.signature_input, label = it->rfc.label;
	int rc;

	it->tenant = ph;
	it->container = ph;
	it->rfc.signature = ph;
	if (!with_input) {
		it->rfc.signature_input = ph;
		it->rfc.label = none;
	}
	rc = hm_item_check(it);
	it->tenant = tenant;
	it->container = container;
	it->rfc.signature = sig;
	it->rfc.signature_input = input;
	it->rfc.label = label;
	return rc == HM_OK ? HMACD_OK : HMACD_EMALFORMED;
}

/*
 * The Signature-Input member for params p into out[0..cap) (proto/siginput.h): created now
 * read from the clock, a fresh nonce from OpenSSL's random source. HMACD_OK, HMACD_EINVAL (a
 * value RFC 8941 cannot carry), HMACD_ETOOBIG, HMACD_EIO (the clock or the random source).
 */
static int input_text(const struct hm_item *it, const struct hmacd_rfc9421_params *p,
		      const char *label, char *out, size_t cap, size_t *len)
{
	struct hm_siginput si = {
		.label = label,
		.components = p->components,
		.ncomponents = p->ncomponents,
		.has_created = p->created != HMACD_RFC9421_OMIT,
		.created = p->created,
		.has_expires = p->expires != HMACD_RFC9421_OMIT && p->expires != 0,
		.expires = p->expires,
		.nonce = p->nonce,
		.random = nonce_random,
		.keyid = p->keyid,
		.tag = p->tag,
		.alg = p->alg,
	};
	time_t t;

	if (p->created == HMACD_RFC9421_CREATED_NOW) {
		t = time(NULL);
		if (t == (time_t)-1)
			return HMACD_EIO;
		si.created = (int64_t)t;
	}
	return hm_siginput_write(it, &si, out, cap, len);
}

int hmacd_rfc9421_sign(const uint8_t *secret, size_t secret_len,
		       const struct hmacd_rfc9421_item *req,
		       const struct hmacd_rfc9421_params *params, char *input, size_t input_cap,
		       char *signature, size_t signature_cap)
{
	const char *label;
	struct hm_item *it = NULL;
	struct hm_sf_field *f = NULL;
	uint8_t mac[HM_MAC_LEN];
	char *text = NULL, b64[HM_B64_LEN(HM_MAC_LEN) + 1];
	size_t tlen = 0, ilen = 0;
	int rc, n;

	if (input != NULL && input_cap > 0)
		input[0] = '\0';
	if (signature != NULL && signature_cap > 0)
		signature[0] = '\0';
	if (secret == NULL || req == NULL || params == NULL || input == NULL || signature == NULL ||
	    params->keyid == NULL || params->keyid[0] == '\0' ||
	    secret_len < HM_SECRET_MIN || secret_len > HM_SECRET_MAX ||
	    params->ncomponents > HMACD_RFC9421_MAX_COMPONENTS ||
	    (params->components == NULL && params->ncomponents > 0))
		return HMACD_EINVAL;
	label = params->label != NULL ? params->label : RFC_DEFAULT_LABEL;
	if (!hm_lex_sf_key((const uint8_t *)label, strlen(label), HM_LABEL_MAX))
		return HMACD_EINVAL;
	it = malloc(sizeof(*it));
	f = malloc(sizeof(*f));
	text = malloc(HM_SIGFIELD_MAX + 1); /* the field's limit and a NUL */
	if (it == NULL || f == NULL || text == NULL) {
		rc = HMACD_ENOMEM;
		goto out;
	}
	rc = rfc_convert(req, it);
	if (rc != HMACD_OK)
		goto out;
	rc = rfc_request_check(it, false);
	if (rc != HMACD_OK)
		goto out;
	rc = input_text(it, params, label, text, HM_SIGFIELD_MAX + 1, &tlen);
	if (rc != HMACD_OK)
		goto out;
	/* the daemon will parse what we send: sign what that parse gives, nothing else */
	if (hm_sf_parse((const uint8_t *)text, tlen, HM_SF_KIND_DICT, f) != HM_OK ||
	    f->nmembers != 1) {
		rc = HMACD_EMALFORMED; /* a component that is not an RFC 8941 string item */
		goto out;
	}
	it->rfc.signature_input = (struct hm_str){(const uint8_t *)text, tlen};
	it->rfc.label = (struct hm_str){(const uint8_t *)label, strlen(label)};
	rc = hm_sign_rfc9421(secret, secret_len, it, mac);
	if (rc != HM_OK) {
		rc = rc == HM_ENOMEM ? HMACD_ENOMEM : rc == HM_ECRYPTO ? HMACD_ECRYPTO
			: rc == HM_ETOOBIG ? HMACD_ETOOBIG : HMACD_EMALFORMED;
		goto out;
	}
	if (input_cap == 0 || hm_sf_serialize(f, (uint8_t *)input, input_cap - 1, &ilen) != HM_OK) {
		rc = HMACD_ETOOBIG;
		goto out;
	}
	input[ilen] = '\0';
	(void)hm_b64_encode_ct(mac, sizeof(mac), b64);
	n = snprintf(signature, signature_cap, "%s=:%s:", label, b64);
	if (n < 0 || (size_t)n >= signature_cap) {
		rc = HMACD_ETOOBIG;
		goto out;
	}
	rc = HMACD_OK;
out:
	if (rc != HMACD_OK) {
		if (input != NULL && input_cap > 0)
			input[0] = '\0';
		if (signature != NULL && signature_cap > 0)
			signature[0] = '\0';
	}
	OPENSSL_cleanse(mac, sizeof(mac));
	OPENSSL_cleanse(b64, sizeof(b64));
	free(text);
	free(f);
	free(it);
	return rc;
}

int hmacd_rfc9421_base(const struct hmacd_rfc9421_item *item, char **out, size_t *len)
{
	struct hm_item *it = NULL;
	enum hm_sb_reason why;
	uint8_t *base = NULL;
	size_t blen = 0;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (item == NULL || out == NULL)
		return HMACD_EINVAL;
	it = malloc(sizeof(*it));
	if (it == NULL)
		return HMACD_ENOMEM;
	rc = rfc_convert(item, it);
	if (rc != HMACD_OK)
		goto out;
	rc = rfc_request_check(it, true);
	if (rc != HMACD_OK)
		goto out;
	rc = hm_rfc9421_base_alloc(it, &base, &blen, &why);
	if (rc != HM_OK) {
		/* too long included: the daemon would not build it either */
		rc = rc == HM_ENOMEM ? HMACD_ENOMEM : HMACD_EMALFORMED;
		goto out;
	}
	base[blen] = '\0';
	*out = (char *)base;
	if (len != NULL)
		*len = blen;
out:
	free(it);
	return rc;
}

int hmacd_content_digest(const uint8_t *body, size_t len, unsigned sha_bits, char *out,
			 size_t cap)
{
	static const uint8_t empty[1];
	uint8_t md[EVP_MAX_MD_SIZE];
	char b64[HM_B64_LEN(EVP_MAX_MD_SIZE) + 1];
	unsigned int mdlen = 0;
	const EVP_MD *alg;
	const char *name;
	int n;

	if (out != NULL && cap > 0)
		out[0] = '\0';
	if (out == NULL || (body == NULL && len > 0))
		return HMACD_EINVAL;
	if (sha_bits == 256) {
		alg = EVP_sha256();
		name = "sha-256";
	} else if (sha_bits == 512) {
		alg = EVP_sha512();
		name = "sha-512";
	} else {
		return HMACD_EINVAL;
	}
	if (EVP_Digest(body != NULL ? body : empty, len, md, &mdlen, alg, NULL) != 1)
		return HMACD_ECRYPTO;
	(void)hm_b64_encode_ct(md, mdlen, b64);
	n = snprintf(out, cap, "%s=:%s:", name, b64);
	if (n < 0 || (size_t)n >= cap) {
		if (cap > 0)
			out[0] = '\0';
		return HMACD_ETOOBIG;
	}
	return HMACD_OK;
}
