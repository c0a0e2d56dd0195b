/*
 * msg.c - decode requests and items in place; encode requests and responses with msgpack-c.
 *
 * Decoding never allocates and never trusts a length (mpack.c). A request frame is first checked
 * to be exactly one well-formed msgpack value of bounded depth, so that a broken item can always
 * be skipped and its neighbours still answered.
 */
#include "proto/msg.h"

#include <string.h>

#include <msgpack.h>

#include "proto/frame.h"
#include "proto/scheme.h"

/* ---- request decoding ---- */

static int read_str(struct hm_mp *r, struct hm_str *s)
{
	return hm_mp_read_str(r, &s->ptr, &s->len);
}

static int read_fixed_bin(struct hm_mp *r, size_t want, const uint8_t **out)
{
	const uint8_t *p;
	size_t len;
	int rc;

	rc = hm_mp_read_bin(r, &p, &len);
	if (rc != HM_OK)
		return rc;
	if (len != want)
		return HM_EMALFORMED;
	*out = p;
	return HM_OK;
}

/* Reads up to HM_RFC_MAX_HEADERS pairs: the scheme may not be known yet (hm_item_check()
 * applies the hmacd-v1 limit of HM_MAX_HEADERS once it is). */
static int read_headers(struct hm_mp *r, struct hm_item *it)
{
	uint32_t n, pair;
	int rc;

	rc = hm_mp_read_array(r, &n);
	if (rc != HM_OK)
		return rc;
	if (n > HM_RFC_MAX_HEADERS)
		return HM_EMALFORMED;
	for (uint32_t i = 0; i < n; i++) {
		rc = hm_mp_read_array(r, &pair);
		if (rc != HM_OK)
			return rc;
		if (pair != 2)
			return HM_EMALFORMED;
		rc = read_str(r, &it->headers[i].name);
		if (rc != HM_OK)
			return rc;
		rc = read_str(r, &it->headers[i].value);
		if (rc != HM_OK)
			return rc;
	}
	it->nheaders = n;
	return HM_OK;
}

/* An optional str that, when present, must not be empty (empty is how the struct says absent). */
static int read_nonempty_str(struct hm_mp *r, struct hm_str *s)
{
	int rc;

	rc = read_str(r, s);
	if (rc != HM_OK)
		return rc;
	return s->len > 0 ? HM_OK : HM_EMALFORMED;
}

static int read_scheme(struct hm_mp *r, struct hm_item *it)
{
	struct hm_str s;
	int rc;

	rc = read_str(r, &s);
	if (rc != HM_OK)
		return rc;
	if (hm_lex_is(s.ptr, s.len, hm_scheme_rfc9421.name))
		it->scheme = HM_SCHEME_RFC9421;
	else if (hm_lex_is(s.ptr, s.len, hm_scheme_v1.name))
		it->scheme = HM_SCHEME_HMACD_V1;
	else
		return HM_EMALFORMED;
	return HM_OK;
}

/* Items sit at depth 2 (request map, items array): they may nest this much more. */
#define HM_ITEM_DEPTH (HM_MP_MAX_DEPTH - 2)

#define KEY(f, lit) [f] = {lit, sizeof(lit) - 1}

static const struct {
	const char *name;
	size_t len;
} item_keys[HM_K__COUNT] = {
	KEY(HM_K_TENANT, "tenant"),       KEY(HM_K_CONTAINER, "container"),
	KEY(HM_K_EPOCH, "epoch"),         KEY(HM_K_METHOD, "method"),
	KEY(HM_K_PATH, "path"),           KEY(HM_K_HEADERS, "headers"),
	KEY(HM_K_BODY, "body"),           KEY(HM_K_BODY_SHA256, "body_sha256"),
	KEY(HM_K_TS, "ts"),               KEY(HM_K_NONCE, "nonce"),
	KEY(HM_K_SIG, "sig"),             KEY(HM_K_SCHEME, "scheme"),
	KEY(HM_K_AUTHORITY, "authority"), KEY(HM_K_URI_SCHEME, "uri_scheme"),
	KEY(HM_K_SIGNATURE_INPUT, "signature_input"),
	KEY(HM_K_SIGNATURE, "signature"), KEY(HM_K_LABEL, "label"),
};

#undef KEY

/* f if k[0..n) is f's key, else HM_K__COUNT */
static enum hm_item_key key_if(const uint8_t *k, size_t n, enum hm_item_key f)
{
	return item_keys[f].len == n && memcmp(k, item_keys[f].name, n) == 0 ? f : HM_K__COUNT;
}

/*
 * The field a key names, or HM_K__COUNT. On the hot path: a switch on the length, then the first
 * byte (distinct among keys of one length) names the one candidate, then one memcmp.
 */
static enum hm_item_key field_of(const uint8_t *k, size_t n)
{
	switch (n) {
	case 2:
		return key_if(k, n, HM_K_TS);
	case 3:
		return key_if(k, n, HM_K_SIG);
	case 4:
		return key_if(k, n, k[0] == 'p' ? HM_K_PATH : HM_K_BODY);
	case 5:
		return key_if(k, n, k[0] == 'e' ? HM_K_EPOCH : k[0] == 'n' ? HM_K_NONCE : HM_K_LABEL);
	case 6:
		return key_if(k, n, k[0] == 't' ? HM_K_TENANT : k[0] == 'm' ? HM_K_METHOD : HM_K_SCHEME);
	case 7:
		return key_if(k, n, HM_K_HEADERS);
	case 9:
		return key_if(k, n,
			      k[0] == 'c' ? HM_K_CONTAINER : k[0] == 'a' ? HM_K_AUTHORITY : HM_K_SIGNATURE);
	case 10:
		return key_if(k, n, HM_K_URI_SCHEME);
	case 11:
		return key_if(k, n, HM_K_BODY_SHA256);
	case 15:
		return key_if(k, n, HM_K_SIGNATURE_INPUT);
	default:
		return HM_K__COUNT;
	}
}

static int read_field(struct hm_mp *r, enum hm_item_key f, struct hm_item *it)
{
	switch (f) {
	case HM_K_TENANT:
		return read_str(r, &it->tenant);
	case HM_K_CONTAINER:
		return read_str(r, &it->container);
	case HM_K_EPOCH:
		return hm_mp_read_uint(r, &it->v1.epoch);
	case HM_K_METHOD:
		return read_str(r, &it->method);
	case HM_K_PATH:
		return read_str(r, &it->path);
	case HM_K_HEADERS:
		return read_headers(r, it);
	case HM_K_BODY:
		it->has_body = true;
		return hm_mp_read_bin(r, &it->body.ptr, &it->body.len);
	case HM_K_BODY_SHA256:
		it->v1.has_body_sha256 = true;
		return read_fixed_bin(r, HM_SHA256_LEN, &it->v1.body_sha256);
	case HM_K_TS:
		return hm_mp_read_uint(r, &it->v1.ts);
	case HM_K_NONCE:
		return read_str(r, &it->v1.nonce);
	case HM_K_SIG:
		return read_fixed_bin(r, HM_MAC_LEN, &it->v1.sig);
	case HM_K_SCHEME:
		return read_scheme(r, it);
	case HM_K_AUTHORITY:
		return read_str(r, &it->rfc.authority);
	case HM_K_URI_SCHEME:
		return read_nonempty_str(r, &it->rfc.uri_scheme);
	case HM_K_SIGNATURE_INPUT:
		return read_str(r, &it->rfc.signature_input);
	case HM_K_SIGNATURE:
		return read_str(r, &it->rfc.signature);
	case HM_K_LABEL:
		return read_nonempty_str(r, &it->rfc.label);
	case HM_K__COUNT:
		break;
	}
	return HM_EMALFORMED;
}

static int decode_item(struct hm_mp *r, struct hm_item *it)
{
	const struct hm_scheme_ops *sc;
	unsigned seen = 0;
	uint32_t n;
	int rc;

	rc = hm_mp_read_map(r, &n);
	if (rc != HM_OK)
		return rc;
	for (uint32_t i = 0; i < n; i++) {
		enum hm_item_key f;
		const uint8_t *key;
		size_t klen;

		rc = hm_mp_read_str(r, &key, &klen);
		if (rc != HM_OK)
			return rc; /* non-string key */
		f = field_of(key, klen);
		if (f == HM_K__COUNT || (seen & HM_KEY_BIT(f)))
			return HM_EMALFORMED; /* unknown or repeated key */
		seen |= HM_KEY_BIT(f);
		rc = read_field(r, f, it);
		if (rc != HM_OK)
			return rc;
	}
	/* The scheme is known only now ("scheme" may come last): apply its key set. */
	sc = hm_scheme_of(it->scheme);
	if ((seen & ~sc->keys) != 0 || (seen & sc->required) != sc->required)
		return HM_EMALFORMED;
	return hm_item_check(it);
}

int hm_item_next(struct hm_mp *items, struct hm_item *item)
{
	struct hm_mp start = *items;
	int rc;

	/* everything but the headers array, whose first nheaders entries the decoder writes */
	memset(item, 0, offsetof(struct hm_item, headers));
	memset((uint8_t *)item + offsetof(struct hm_item, has_body), 0,
	       sizeof(*item) - offsetof(struct hm_item, has_body));
	rc = decode_item(items, item);
	if (rc == HM_OK)
		return HM_OK;
	/*
	 * Skip the rest of a rejected item. hm_request_decode() validated the structure of every
	 * item, so this only fails on misuse; then no item can follow.
	 */
	*items = start;
	if (hm_mp_skip(items, HM_ITEM_DEPTH) != HM_OK)
		items->p = items->end;
	return HM_EMALFORMED;
}

static int fail(struct hm_request *req, const char *err, const char *text)
{
	if (req->err == NULL) {
		req->err = err;
		req->err_text = text;
	}
	return HM_EMALFORMED;
}

int hm_request_decode(const uint8_t *payload, size_t len, uint32_t max_items,
		      struct hm_request *req)
{
	struct hm_mp r;
	struct hm_str op = {NULL, 0};
	bool has_op = false, has_items = false;
	uint32_t n;
	int rc;

	memset(req, 0, sizeof(*req));
	hm_mp_init(&r, payload, len);
	/*
	 * One pass: every value is read or skipped with a depth bound, so when this returns HM_OK
	 * the whole payload was one well-formed msgpack map and every item can be skipped safely.
	 */
	rc = hm_mp_read_map(&r, &n);
	if (rc != HM_OK)
		return fail(req, HM_RERR_MALFORMED, "request is not a map");
	/* Read every key before judging, so that an error response can echo the id. */
	for (uint32_t i = 0; i < n; i++) {
		struct hm_mp value;
		bool bad = false;

		if (hm_mp_match_str(&r, "id")) {
			value = r;
			bad = req->has_id || hm_mp_read_uint(&r, &req->id) != HM_OK;
			req->has_id = !bad;
		} else if (hm_mp_match_str(&r, "op")) {
			value = r;
			bad = has_op || read_str(&r, &op) != HM_OK;
			has_op = true;
		} else if (hm_mp_match_str(&r, "items")) {
			value = r;
			bad = has_items || hm_mp_read_array(&r, &req->nitems) != HM_OK;
			req->items = r;
			has_items = true;
			for (uint32_t k = 0; k < req->nitems && !bad; k++)
				bad = hm_mp_skip(&r, HM_ITEM_DEPTH) != HM_OK;
		} else {
			/* unknown or non-string key */
			bad = true;
			if (hm_mp_skip(&r, HM_MP_MAX_DEPTH - 1) != HM_OK)
				return fail(req, HM_RERR_MALFORMED, "request is not well-formed msgpack");
			value = r;
		}
		if (bad) {
			(void)fail(req, HM_RERR_MALFORMED,
				   "request has an unknown, repeated or ill-typed key");
			r = value;
			if (hm_mp_skip(&r, HM_MP_MAX_DEPTH - 1) != HM_OK) {
				req->err_text = "request is not well-formed msgpack";
				return HM_EMALFORMED;
			}
		}
	}
	if (r.p != r.end)
		return fail(req, HM_RERR_MALFORMED, "bytes after the request map");
	if (req->err != NULL)
		return HM_EMALFORMED;
	if (!req->has_id)
		return fail(req, HM_RERR_MALFORMED, "request has no id");
	if (!has_op)
		return fail(req, HM_RERR_MALFORMED, "request has no op");
	if (op.len == 6 && memcmp(op.ptr, "verify", 6) == 0)
		req->op = HM_OP_VERIFY;
	else if (op.len == 4 && memcmp(op.ptr, "ping", 4) == 0)
		req->op = HM_OP_PING;
	else if (op.len == 5 && memcmp(op.ptr, "stats", 5) == 0)
		req->op = HM_OP_STATS;
	else
		return fail(req, HM_RERR_UNKNOWN_OP, "op is not verify, ping or stats");
	if (req->op == HM_OP_VERIFY && !has_items)
		return fail(req, HM_RERR_MALFORMED, "verify request has no items");
	if (req->op != HM_OP_VERIFY && has_items)
		return fail(req, HM_RERR_MALFORMED, "only verify takes items");
	if (req->nitems > max_items)
		return fail(req, HM_RERR_TOO_MANY_ITEMS, "more items than --max-batch allows");
	return HM_OK;
}

/* ---- encoding ---- */

void hm_pack_cstr(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);

	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

void hm_pack_str(msgpack_packer *pk, struct hm_str s)
{
	msgpack_pack_str(pk, s.len);
	msgpack_pack_str_body(pk, s.ptr, s.len);
}

void hm_pack_bin(msgpack_packer *pk, const uint8_t *p, size_t n)
{
	msgpack_pack_bin(pk, n);
	msgpack_pack_bin_body(pk, p, n);
}

/* One map entry: a key and a str value. */
void hm_pack_key_str(msgpack_packer *pk, const char *key, struct hm_str value)
{
	hm_pack_cstr(pk, key);
	hm_pack_str(pk, value);
}

size_t hm_frame_begin(struct hm_buf *b)
{
	static const uint8_t zero[HM_FRAME_HEADER];
	size_t start = b->len;

	hm_buf_append(b, zero, sizeof(zero));
	return start;
}

void hm_frame_end(struct hm_buf *b, size_t start)
{
	size_t n;

	if (b->failed)
		return;
	n = b->len - start - HM_FRAME_HEADER;
	if (n > UINT32_MAX) {
		b->failed = true;
		return;
	}
	hm_frame_put_header(b->data + start, (uint32_t)n);
}

static void packer(msgpack_packer *pk, struct hm_buf *b)
{
	msgpack_packer_init(pk, b, hm_buf_msgpack_write);
}

static const char *op_name(enum hm_op op)
{
	switch (op) {
	case HM_OP_VERIFY:
		return "verify";
	case HM_OP_PING:
		return "ping";
	case HM_OP_STATS:
		return "stats";
	}
	return "?";
}

static void pack_head(msgpack_packer *pk, uint64_t id, size_t nkeys)
{
	msgpack_pack_map(pk, nkeys);
	hm_pack_cstr(pk, "id");
	msgpack_pack_uint64(pk, id);
}

void hm_encode_simple_request(struct hm_buf *b, uint64_t id, enum hm_op op)
{
	msgpack_packer pk;
	size_t start = hm_frame_begin(b);

	packer(&pk, b);
	pack_head(&pk, id, 2);
	hm_pack_cstr(&pk, "op");
	hm_pack_cstr(&pk, op_name(op));
	hm_frame_end(b, start);
}

size_t hm_encode_verify_begin(struct hm_buf *b, uint64_t id, uint32_t n)
{
	msgpack_packer pk;
	size_t start = hm_frame_begin(b);

	packer(&pk, b);
	pack_head(&pk, id, 3);
	hm_pack_cstr(&pk, "op");
	hm_pack_cstr(&pk, "verify");
	hm_pack_cstr(&pk, "items");
	msgpack_pack_array(&pk, n);
	return start;
}

void hm_pack_item_headers(msgpack_packer *pk, const struct hm_item *it)
{
	hm_pack_cstr(pk, "headers");
	msgpack_pack_array(pk, it->nheaders);
	for (size_t i = 0; i < it->nheaders; i++) {
		msgpack_pack_array(pk, 2);
		hm_pack_str(pk, it->headers[i].name);
		hm_pack_str(pk, it->headers[i].value);
	}
}

void hm_encode_item(struct hm_buf *b, const struct hm_item *it)
{
	const struct hm_scheme_ops *sc;
	msgpack_packer pk;

	packer(&pk, b);
	sc = hm_scheme_of(it->scheme);
	(sc != NULL ? sc : &hm_scheme_v1)->encode(&pk, it); /* not checked: hmacd-v1 by default */
}

size_t hm_encode_results_begin(struct hm_buf *b, uint64_t id, uint32_t n)
{
	msgpack_packer pk;
	size_t start = hm_frame_begin(b);

	packer(&pk, b);
	pack_head(&pk, id, 2);
	hm_pack_cstr(&pk, "results");
	msgpack_pack_array(&pk, n);
	return start;
}

void hm_encode_result(struct hm_buf *b, unsigned verdict)
{
	/* every verdict is a positive fixint: one byte, no packer call */
	hm_buf_append_byte(b, (uint8_t)(verdict & 0x7f));
}

void hm_encode_pong(struct hm_buf *b, uint64_t id)
{
	msgpack_packer pk;
	size_t start = hm_frame_begin(b);

	packer(&pk, b);
	pack_head(&pk, id, 2);
	hm_pack_cstr(&pk, "pong");
	msgpack_pack_true(&pk);
	hm_frame_end(b, start);
}

size_t hm_encode_stats_begin(struct hm_buf *b, uint64_t id, uint32_t n)
{
	msgpack_packer pk;
	size_t start = hm_frame_begin(b);

	packer(&pk, b);
	pack_head(&pk, id, 2);
	hm_pack_cstr(&pk, "stats");
	msgpack_pack_map(&pk, n);
	return start;
}

void hm_encode_stat(struct hm_buf *b, const char *name, uint64_t value)
{
	msgpack_packer pk;

	packer(&pk, b);
	hm_pack_cstr(&pk, name);
	msgpack_pack_uint64(&pk, value);
}

void hm_encode_error(struct hm_buf *b, bool has_id, uint64_t id, const char *err, const char *text)
{
	msgpack_packer pk;
	size_t start = hm_frame_begin(b);

	packer(&pk, b);
	msgpack_pack_map(&pk, 3);
	hm_pack_cstr(&pk, "id");
	if (has_id)
		msgpack_pack_uint64(&pk, id);
	else
		msgpack_pack_nil(&pk);
	hm_pack_cstr(&pk, "error");
	hm_pack_cstr(&pk, err);
	hm_pack_cstr(&pk, "message");
	hm_pack_cstr(&pk, text);
	hm_frame_end(b, start);
}

/* ---- response decoding ---- */

int hm_response_decode(const uint8_t *payload, size_t len, struct hm_response *resp)
{
	struct hm_mp r, whole;
	bool has_kind = false, flag;
	uint32_t n;

	memset(resp, 0, sizeof(*resp));
	hm_mp_init(&r, payload, len);
	whole = r;
	if (hm_mp_skip(&whole, HM_MP_MAX_DEPTH) != HM_OK || whole.p != whole.end)
		return HM_EPROTO;
	if (hm_mp_read_map(&r, &n) != HM_OK)
		return HM_EPROTO;
	for (uint32_t i = 0; i < n; i++) {
		if (hm_mp_match_str(&r, "id")) {
			if (hm_mp_peek(&r) == HM_MP_NIL) {
				if (hm_mp_read_nil(&r) != HM_OK)
					return HM_EPROTO;
			} else if (hm_mp_read_uint(&r, &resp->id) == HM_OK) {
				resp->has_id = true;
			} else {
				return HM_EPROTO;
			}
			continue;
		}
		if (hm_mp_match_str(&r, "message")) {
			if (read_str(&r, &resp->err_text) != HM_OK)
				return HM_EPROTO;
			continue;
		}
		if (has_kind)
			return HM_EPROTO;
		has_kind = true;
		if (hm_mp_match_str(&r, "results")) {
			resp->kind = HM_RESP_RESULTS;
			if (hm_mp_read_array(&r, &resp->nresults) != HM_OK)
				return HM_EPROTO;
			resp->results = r;
			for (uint32_t k = 0; k < resp->nresults; k++) {
				uint64_t v;

				if (hm_mp_read_uint(&r, &v) != HM_OK)
					return HM_EPROTO;
			}
		} else if (hm_mp_match_str(&r, "pong")) {
			resp->kind = HM_RESP_PONG;
			if (hm_mp_read_bool(&r, &flag) != HM_OK || !flag)
				return HM_EPROTO;
		} else if (hm_mp_match_str(&r, "stats")) {
			resp->kind = HM_RESP_STATS;
			if (hm_mp_read_map(&r, &resp->nstats) != HM_OK)
				return HM_EPROTO;
			resp->stats = r;
			for (uint32_t k = 0; k < resp->nstats; k++) {
				struct hm_str name;
				uint64_t v;

				if (read_str(&r, &name) != HM_OK || hm_mp_read_uint(&r, &v) != HM_OK)
					return HM_EPROTO;
			}
		} else if (hm_mp_match_str(&r, "error")) {
			resp->kind = HM_RESP_ERROR;
			if (read_str(&r, &resp->err) != HM_OK)
				return HM_EPROTO;
		} else {
			return HM_EPROTO;
		}
	}
	if (!has_kind || (resp->kind != HM_RESP_ERROR && !resp->has_id))
		return HM_EPROTO;
	return HM_OK;
}
