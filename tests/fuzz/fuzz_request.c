/*
 * fuzz_request.c - libFuzzer target: a request payload (one frame's bytes after the header)
 * through everything the daemon does to it before the verify engine:
 * hm_request_decode(), then hm_item_next() for every item, hm_item_check() and the canonical
 * string of every item that decodes (fuzz_util.h: exact length, refusal one byte short, reads
 * back into the item), and a re-encode / re-decode round trip of each such item.
 *
 * Differential oracle: msgpack-c is the reference decoder. Whenever our bounded reader accepts
 * the payload as one msgpack value (hm_mp_skip) - and so whenever hm_request_decode() accepts
 * it - msgpack-c's msgpack_unpack() must accept exactly the same bytes, and the two must agree
 * value by value (types, integers, strings, sizes). msgpack-c is only ever run on payloads our
 * reader accepted: on hostile lengths it would try to allocate what they claim, which is the
 * very trap mpack.c exists to avoid.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "buf.h"
#include "fuzz_util.h"
#include "mpack.h"
#include "msg.h"
#include "sign.h"

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

static bool same_item(const struct hm_item *a, const struct hm_item *b)
{
	if (!fz_str_eq(a->tenant, b->tenant) || !fz_str_eq(a->container, b->container) ||
	    a->epoch != b->epoch || !fz_str_eq(a->method, b->method) ||
	    !fz_str_eq(a->path, b->path) || a->ts != b->ts || !fz_str_eq(a->nonce, b->nonce) ||
	    a->nheaders != b->nheaders || a->has_body != b->has_body ||
	    a->has_body_sha256 != b->has_body_sha256)
		return false;
	for (size_t i = 0; i < a->nheaders; i++)
		if (!fz_str_eq(a->headers[i].name, b->headers[i].name) ||
		    !fz_str_eq(a->headers[i].value, b->headers[i].value))
			return false;
	if (a->has_body && !fz_str_eq(a->body, b->body))
		return false;
	if (a->has_body_sha256 && memcmp(a->body_sha256, b->body_sha256, HM_SHA256_LEN) != 0)
		return false;
	return memcmp(a->sig, b->sig, HM_MAC_LEN) == 0;
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
	if (it->has_body)
		FUZZ_CHECK(hm_sha256(it->body.ptr, it->body.len, digest) == HM_OK);
	else
		memcpy(digest, it->body_sha256, HM_SHA256_LEN);
	canon = fz_canon_check(it, digest, &clen);
	free(canon);

	/*
	 * Re-encode and decode again: the same item. (An empty nonce is not encoded, which
	 * PROTOCOL.md makes the same as no nonce; hm_item_next() leaves it empty either way.)
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
	struct hm_item *it;
	struct hm_mp whole;
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
	FUZZ_CHECK(it != NULL);
	{
		struct hm_mp items = req.items, skipped = req.items;

		for (uint32_t i = 0; i < req.nitems; i++) {
			/* items are consumed exactly as far as skipping them goes */
			FUZZ_CHECK(hm_mp_skip(&skipped, HM_MP_MAX_DEPTH - 2) == HM_OK);
			rc = hm_item_next(&items, it);
			FUZZ_CHECK(items.p == skipped.p);
			if (rc == HM_OK)
				item_checks(it);
			else
				FUZZ_CHECK(rc == HM_EMALFORMED);
		}
	}
	free(it);
	return 0;
}
