/*
 * fuzz_request.c - libFuzzer target: a request payload (one frame's bytes after the header)
 * through everything the daemon does to it before the verify engine:
 * hm_request_decode(), then hm_item_next() for every item, hm_item_check() and a re-encode /
 * re-decode round trip of each item that decodes, and per scheme:
 *   - hmacd-v1: the canonical string (fuzz_util.h: exact length, refusal one byte short, reads
 *     back into the item);
 *   - rfc9421: what the daemon's rfc9421 layer does with the item before keys - the
 *     Signature-Input and Signature parsed (sfv.h), the signature picked by label and its
 *     signature base built into an exact-size buffer (sigbase.h; one byte short must give
 *     HM_ETOOBIG), and the Content-Digest checked against the body (digest.h).
 *
 * Differential oracles: msgpack-c is the reference decoder. Whenever our bounded reader accepts
 * the payload as one msgpack value (hm_mp_skip) - and so whenever hm_request_decode() accepts
 * it - msgpack-c's msgpack_unpack() must accept exactly the same bytes, and the two must agree
 * value by value (types, integers, strings, sizes). Then every item is judged a second time
 * from msgpack-c's object tree by model_item(), an independent reading of the key and type
 * rules of PROTOCOL.md 7 (the per-scheme key sets included); it must agree with hm_item_next()
 * on accept/refuse and, when accepted, on every field. msgpack-c is only ever run on payloads
 * our reader accepted: on hostile lengths it would try to allocate what they claim, which is
 * the very trap mpack.c exists to avoid.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "proto/buf.h"
#include "proto/digest.h"
#include "fuzz_util.h"
#include "proto/mpack.h"
#include "proto/msg.h"
#include "proto/sfv.h"
#include "proto/sigbase.h"
#include "proto/sign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Walks our reader and msgpack-c's object together; false at the first disagreement. */
static bool same_value(struct hm_mp *r, const msgpack_object *o, unsigned depth)
{
	const uint8_t *s;
	size_t len;
	uint64_t u;
	uint32_t n;
	bool b;

	switch (hm_mp_peek(r)) {
	case HM_MP_NIL:
		return o->type == MSGPACK_OBJECT_NIL && hm_mp_read_nil(r) == HM_OK;
	case HM_MP_BOOL:
		return o->type == MSGPACK_OBJECT_BOOLEAN && hm_mp_read_bool(r, &b) == HM_OK &&
		       b == o->via.boolean;
	case HM_MP_UINT:
		return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
		       hm_mp_read_uint(r, &u) == HM_OK && u == o->via.u64;
	case HM_MP_NINT:
		return o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER && o->via.i64 < 0 &&
		       hm_mp_skip(r, 0) == HM_OK;
	case HM_MP_FLOAT:
		return (o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64) &&
		       hm_mp_skip(r, 0) == HM_OK;
	case HM_MP_STR:
		return o->type == MSGPACK_OBJECT_STR && hm_mp_read_str(r, &s, &len) == HM_OK &&
		       len == o->via.str.size &&
		       (len == 0 || memcmp(s, o->via.str.ptr, len) == 0);
	case HM_MP_BIN:
		return o->type == MSGPACK_OBJECT_BIN && hm_mp_read_bin(r, &s, &len) == HM_OK &&
		       len == o->via.bin.size &&
		       (len == 0 || memcmp(s, o->via.bin.ptr, len) == 0);
	case HM_MP_EXT:
		return o->type == MSGPACK_OBJECT_EXT && hm_mp_skip(r, 0) == HM_OK;
	case HM_MP_ARRAY:
		if (o->type != MSGPACK_OBJECT_ARRAY || depth == 0 ||
		    hm_mp_read_array(r, &n) != HM_OK || n != o->via.array.size)
			return false;
		for (uint32_t i = 0; i < n; i++)
			if (!same_value(r, &o->via.array.ptr[i], depth - 1))
				return false;
		return true;
	case HM_MP_MAP:
		if (o->type != MSGPACK_OBJECT_MAP || depth == 0 || hm_mp_read_map(r, &n) != HM_OK ||
		    n != o->via.map.size)
			return false;
		for (uint32_t i = 0; i < n; i++) {
			if (!same_value(r, &o->via.map.ptr[i].key, depth - 1) ||
			    !same_value(r, &o->via.map.ptr[i].val, depth - 1))
				return false;
		}
		return true;
	case HM_MP_INVALID:
		break;
	}
	return false;
}

/* Our reader took p[0..n) as one value: msgpack-c must take exactly the same. */
static void msgpack_c_agrees(const uint8_t *p, size_t n)
{
	msgpack_zone zone;
	msgpack_object obj;
	struct hm_mp r;
	size_t off = 0;
	msgpack_unpack_return ret;

	FUZZ_CHECK(msgpack_zone_init(&zone, 2048));
	ret = msgpack_unpack((const char *)p, n, &off, &zone, &obj);
	FUZZ_CHECK(ret == MSGPACK_UNPACK_SUCCESS);
	FUZZ_CHECK(off == n);
	hm_mp_init(&r, p, n);
	FUZZ_CHECK(same_value(&r, &obj, HM_MP_MAX_DEPTH));
	FUZZ_CHECK(hm_mp_left(&r) == 0);
	msgpack_zone_destroy(&zone);
}

static bool same_ptr(const uint8_t *a, const uint8_t *b, size_t n)
{
	if (a == NULL || b == NULL)
		return a == b;
	return memcmp(a, b, n) == 0;
}

/* Every field of both schemes (the other scheme's are zero in a decoded item). */
static bool same_item(const struct hm_item *a, const struct hm_item *b)
{
	if (a->scheme != b->scheme || !fz_str_eq(a->tenant, b->tenant) ||
	    !fz_str_eq(a->container, b->container) || a->v1.epoch != b->v1.epoch ||
	    !fz_str_eq(a->method, b->method) || !fz_str_eq(a->path, b->path) ||
	    a->v1.ts != b->v1.ts ||
	    !fz_str_eq(a->v1.nonce, b->v1.nonce) || a->nheaders != b->nheaders ||
	    a->has_body != b->has_body || a->v1.has_body_sha256 != b->v1.has_body_sha256)
		return false;
	for (size_t i = 0; i < a->nheaders; i++)
		if (!fz_str_eq(a->headers[i].name, b->headers[i].name) ||
		    !fz_str_eq(a->headers[i].value, b->headers[i].value))
			return false;
	if (!fz_str_eq(a->body, b->body))
		return false;
	if (!same_ptr(a->v1.body_sha256, b->v1.body_sha256, HM_SHA256_LEN) ||
	    !same_ptr(a->v1.sig, b->v1.sig, HM_MAC_LEN))
		return false;
	return fz_str_eq(a->rfc.authority, b->rfc.authority) &&
	       fz_str_eq(a->rfc.uri_scheme, b->rfc.uri_scheme) &&
	       fz_str_eq(a->rfc.signature_input, b->rfc.signature_input) &&
	       fz_str_eq(a->rfc.signature, b->rfc.signature) &&
	       fz_str_eq(a->rfc.label, b->rfc.label);
}

/* ---- the model: item rules read from msgpack-c's object tree ---- */

static const char *const model_keys[] = {
	"tenant", "container", "epoch", "method", "path", "headers", "body", "body_sha256",
	"ts", "nonce", "sig", "scheme", "authority", "uri_scheme", "signature_input",
	"signature", "label",
};

enum { M_TENANT, M_CONTAINER, M_EPOCH, M_METHOD, M_PATH, M_HEADERS, M_BODY, M_BODY_SHA256,
       M_TS, M_NONCE, M_SIG, M_SCHEME, M_AUTHORITY, M_URI_SCHEME, M_SIGNATURE_INPUT,
       M_SIGNATURE, M_LABEL, M__COUNT };

static bool m_str(const msgpack_object *o, struct hm_str *s)
{
	if (o->type != MSGPACK_OBJECT_STR)
		return false;
	s->ptr = (const uint8_t *)o->via.str.ptr;
	s->len = o->via.str.size;
	return true;
}

static bool m_bin(const msgpack_object *o, struct hm_str *s)
{
	if (o->type != MSGPACK_OBJECT_BIN)
		return false;
	s->ptr = (const uint8_t *)o->via.bin.ptr;
	s->len = o->via.bin.size;
	return true;
}

static bool m_uint(const msgpack_object *o, uint64_t *v)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return false;
	*v = o->via.u64;
	return true;
}

static bool m_value(const msgpack_object *v, unsigned k, struct hm_item *it)
{
	struct hm_str s;

	switch (k) {
	case M_TENANT:
		return m_str(v, &it->tenant);
	case M_CONTAINER:
		return m_str(v, &it->container);
	case M_METHOD:
		return m_str(v, &it->method);
	case M_PATH:
		return m_str(v, &it->path);
	case M_NONCE:
		return m_str(v, &it->v1.nonce);
	case M_AUTHORITY:
		return m_str(v, &it->rfc.authority);
	case M_SIGNATURE_INPUT:
		return m_str(v, &it->rfc.signature_input);
	case M_SIGNATURE:
		return m_str(v, &it->rfc.signature);
	case M_URI_SCHEME:
		return m_str(v, &it->rfc.uri_scheme) && it->rfc.uri_scheme.len > 0;
	case M_LABEL:
		return m_str(v, &it->rfc.label) && it->rfc.label.len > 0;
	case M_EPOCH:
		return m_uint(v, &it->v1.epoch);
	case M_TS:
		return m_uint(v, &it->v1.ts);
	case M_BODY:
		it->has_body = true;
		return m_bin(v, &it->body);
	case M_BODY_SHA256:
		it->v1.has_body_sha256 = true;
		if (!m_bin(v, &s) || s.len != HM_SHA256_LEN)
			return false;
		it->v1.body_sha256 = s.ptr;
		return true;
	case M_SIG:
		if (!m_bin(v, &s) || s.len != HM_MAC_LEN)
			return false;
		it->v1.sig = s.ptr;
		return true;
	case M_SCHEME:
		if (!m_str(v, &s))
			return false;
		if (fz_str_eq(s, (struct hm_str){(const uint8_t *)"rfc9421", 7}))
			it->scheme = HM_SCHEME_RFC9421;
		else if (!fz_str_eq(s, (struct hm_str){(const uint8_t *)"hmacd-v1", 8}))
			return false;
		return true;
	case M_HEADERS:
		if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size > HM_RFC_MAX_HEADERS)
			return false;
		for (uint32_t i = 0; i < v->via.array.size; i++) {
			const msgpack_object *pr = &v->via.array.ptr[i];

			if (pr->type != MSGPACK_OBJECT_ARRAY || pr->via.array.size != 2 ||
			    !m_str(&pr->via.array.ptr[0], &it->headers[i].name) ||
			    !m_str(&pr->via.array.ptr[1], &it->headers[i].value))
				return false;
		}
		it->nheaders = v->via.array.size;
		return true;
	}
	return false;
}

/* PROTOCOL.md 7 and 7.2 once more, from the object tree: HM_OK or HM_EMALFORMED. */
static int model_item(const msgpack_object *o, struct hm_item *it)
{
	static const unsigned v1_allowed[] = {M_TENANT, M_CONTAINER, M_EPOCH, M_METHOD, M_PATH,
					      M_HEADERS, M_BODY, M_BODY_SHA256, M_TS, M_NONCE,
					      M_SIG, M_SCHEME};
	static const unsigned v1_required[] = {M_TENANT, M_CONTAINER, M_EPOCH, M_METHOD,
					       M_PATH, M_HEADERS, M_TS, M_SIG};
	static const unsigned rfc_allowed[] = {M_SCHEME, M_TENANT, M_CONTAINER, M_METHOD,
					       M_AUTHORITY, M_PATH, M_URI_SCHEME, M_HEADERS,
					       M_SIGNATURE_INPUT, M_SIGNATURE, M_LABEL, M_BODY};
	static const unsigned rfc_required[] = {M_SCHEME, M_TENANT, M_CONTAINER, M_METHOD,
						M_AUTHORITY, M_PATH, M_HEADERS,
						M_SIGNATURE_INPUT, M_SIGNATURE};
	bool seen[M__COUNT] = {false}, allowed[M__COUNT] = {false};
	const unsigned *req;
	size_t nreq;

	memset(it, 0, sizeof(*it));
	if (o->type != MSGPACK_OBJECT_MAP)
		return HM_EMALFORMED;
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object_kv *kv = &o->via.map.ptr[i];
		struct hm_str key;
		unsigned k;

		if (!m_str(&kv->key, &key))
			return HM_EMALFORMED;
		for (k = 0; k < M__COUNT; k++)
			if (key.len == strlen(model_keys[k]) &&
			    memcmp(key.ptr, model_keys[k], key.len) == 0)
				break;
		if (k == M__COUNT || seen[k])
			return HM_EMALFORMED;
		seen[k] = true;
		if (!m_value(&kv->val, k, it))
			return HM_EMALFORMED;
	}
	if (it->scheme == HM_SCHEME_RFC9421) {
		for (size_t i = 0; i < sizeof(rfc_allowed) / sizeof(rfc_allowed[0]); i++)
			allowed[rfc_allowed[i]] = true;
		req = rfc_required;
		nreq = sizeof(rfc_required) / sizeof(rfc_required[0]);
	} else {
		for (size_t i = 0; i < sizeof(v1_allowed) / sizeof(v1_allowed[0]); i++)
			allowed[v1_allowed[i]] = true;
		req = v1_required;
		nreq = sizeof(v1_required) / sizeof(v1_required[0]);
	}
	for (unsigned k = 0; k < M__COUNT; k++)
		if (seen[k] && !allowed[k])
			return HM_EMALFORMED;
	for (size_t i = 0; i < nreq; i++)
		if (!seen[req[i]])
			return HM_EMALFORMED;
	return hm_item_check(it);
}

/* ---- per-scheme checks of a decoded item ---- */

#define BASE_MAX 65536

/* What the daemon's rfc9421 layer does before keys; only crashes and broken contracts count. */
static void rfc_checks(const struct hm_item *it)
{
	struct hm_sf_field *si = malloc(sizeof(*si)), *sg = malloc(sizeof(*sg));
	struct hm_sb_request rq = hm_sb_request_of(it);
	const struct hm_sf_member *m = NULL;
	struct hm_sb_sigparams params;
	enum hm_sb_reason why;
	enum hm_cd_result cd;
	uint8_t *base = malloc(BASE_MAX), *exact;
	size_t len = 0, len2 = 0;
	int rc;

	FUZZ_CHECK(si != NULL && sg != NULL && base != NULL);
	(void)hm_sf_parse(it->rfc.signature.ptr, it->rfc.signature.len, HM_SF_KIND_DICT, sg);
	if (hm_sf_parse(it->rfc.signature_input.ptr, it->rfc.signature_input.len,
			HM_SF_KIND_DICT, si) == HM_OK &&
	    hm_sb_select(si, it->rfc.label, &m, &why) == HM_OK) {
		struct hm_str key = {m->key.ptr, m->key.len};

		FUZZ_CHECK(m >= si->members && m < si->members + si->nmembers);
		FUZZ_CHECK(it->rfc.label.len == 0 || fz_str_eq(key, it->rfc.label));
		rc = hm_sb_build(&rq, si, m, base, BASE_MAX, &len, &params, &why);
		FUZZ_CHECK(rc == HM_OK || rc == HM_EMALFORMED || rc == HM_ETOOBIG);
		FUZZ_CHECK((rc == HM_OK) == (why == HM_SB_OK));
		if (rc == HM_OK) {
			/* the same base into a buffer of its exact size, and one byte short */
			exact = malloc(len);
			FUZZ_CHECK(exact != NULL);
			FUZZ_CHECK(hm_sb_build(&rq, si, m, exact, len, &len2, NULL, &why) == HM_OK);
			FUZZ_CHECK(len2 == len && memcmp(exact, base, len) == 0);
			FUZZ_CHECK(hm_sb_build(&rq, si, m, exact, len - 1, &len2, NULL, &why) ==
				   HM_ETOOBIG);
			free(exact);
		} else {
			FUZZ_CHECK(len == 0);
		}
	}
	rc = hm_content_digest_check(NULL, it->headers, it->nheaders, it->body.ptr, it->body.len,
				     &cd);
	FUZZ_CHECK(rc == HM_OK && cd >= HM_CD_MATCH && cd <= HM_CD_MALFORMED);
	free(base);
	free(sg);
	free(si);
}

/* A decoded item: check it, build its canonical string, and round-trip it through the encoder. */
static void item_checks(const struct hm_item *it)
{
	uint8_t digest[HM_SHA256_LEN], *canon;
	struct hm_item *back = malloc(sizeof(*back));
	struct hm_buf b;
	struct hm_mp r;
	size_t clen;

	FUZZ_CHECK(back != NULL);
	FUZZ_CHECK(hm_item_check(it) == HM_OK);
	if (it->scheme == HM_SCHEME_RFC9421) {
		rfc_checks(it);
	} else {
		FUZZ_CHECK(it->scheme == HM_SCHEME_HMACD_V1 && it->nheaders <= HM_MAX_HEADERS);
		if (it->has_body)
			FUZZ_CHECK(hm_sha256(it->body.ptr, it->body.len, digest) == HM_OK);
		else
			memcpy(digest, it->v1.body_sha256, HM_SHA256_LEN);
		canon = fz_canon_check(it, digest, &clen);
		free(canon);
	}

	/*
	 * Re-encode and decode again: the same item. (An empty nonce is not encoded, which
	 * PROTOCOL.md makes the same as no nonce; hm_item_next() leaves it empty either way. An
	 * explicit "scheme": "hmacd-v1" is not encoded either: it is the same as no scheme.)
	 */
	hm_buf_init(&b, 1u << 24);
	hm_encode_item(&b, it);
	FUZZ_CHECK(!b.failed);
	hm_mp_init(&r, b.data, b.len);
	FUZZ_CHECK(hm_item_next(&r, back) == HM_OK);
	FUZZ_CHECK(hm_mp_left(&r) == 0);
	FUZZ_CHECK(same_item(it, back));
	hm_buf_free(&b);
	free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hm_request req;
	struct hm_item *it, *model;
	struct hm_mp whole;
	msgpack_zone zone;
	msgpack_object obj;
	const msgpack_object *arr = NULL;
	size_t off = 0;
	int rc;

	/* any single value our reader accepts, request or not */
	hm_mp_init(&whole, data, size);
	if (hm_mp_skip(&whole, HM_MP_MAX_DEPTH) == HM_OK)
		msgpack_c_agrees(data, size - hm_mp_left(&whole));

	rc = hm_request_decode(data, size, HM_DEFAULT_MAX_BATCH, &req);
	if (rc != HM_OK) {
		FUZZ_CHECK(rc == HM_EMALFORMED && req.err != NULL && req.err_text != NULL);
		return 0;
	}
	/* decode OK means: the whole payload is one well-formed map */
	FUZZ_CHECK(hm_mp_left(&whole) == 0);
	FUZZ_CHECK(req.has_id && req.nitems <= HM_DEFAULT_MAX_BATCH);
	if (req.op != HM_OP_VERIFY) {
		FUZZ_CHECK(req.nitems == 0);
		return 0;
	}
	it = malloc(sizeof(*it));
	model = malloc(sizeof(*model));
	FUZZ_CHECK(it != NULL && model != NULL);
	/* the items as msgpack-c sees them (safe: our reader accepted the whole payload) */
	FUZZ_CHECK(msgpack_zone_init(&zone, 2048));
	FUZZ_CHECK(msgpack_unpack((const char *)data, size, &off, &zone, &obj) ==
		   MSGPACK_UNPACK_SUCCESS);
	FUZZ_CHECK(obj.type == MSGPACK_OBJECT_MAP);
	for (uint32_t i = 0; i < obj.via.map.size; i++) {
		const msgpack_object_kv *kv = &obj.via.map.ptr[i];

		if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == 5 &&
		    memcmp(kv->key.via.str.ptr, "items", 5) == 0)
			arr = &kv->val;
	}
	FUZZ_CHECK(arr != NULL && arr->type == MSGPACK_OBJECT_ARRAY &&
		   arr->via.array.size == req.nitems);
	{
		struct hm_mp items = req.items, skipped = req.items;

		for (uint32_t i = 0; i < req.nitems; i++) {
			/* items are consumed exactly as far as skipping them goes */
			FUZZ_CHECK(hm_mp_skip(&skipped, HM_MP_MAX_DEPTH - 2) == HM_OK);
			rc = hm_item_next(&items, it);
			FUZZ_CHECK(items.p == skipped.p);
			FUZZ_CHECK(rc == HM_OK || rc == HM_EMALFORMED);
			/* the model agrees on the verdict, and on every field of a good item */
			FUZZ_CHECK(model_item(&arr->via.array.ptr[i], model) == rc);
			if (rc == HM_OK) {
				FUZZ_CHECK(same_item(it, model));
				item_checks(it);
			}
		}
	}
	msgpack_zone_destroy(&zone);
	free(model);
	free(it);
	return 0;
}
