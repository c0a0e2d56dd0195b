/*
 * fuzz_frame.c - libFuzzer target: hm_frame_parse() over arbitrary bytes, read as a stream of
 * chained frames, as the daemon's connection layer and the client read them.
 *
 * For each --max-frame bound (the smallest allowed, the default, the largest allowed) the
 * input is cut into frames until the first incomplete or oversize one, and every outcome is
 * checked against frame.h: the reported lengths, that a complete frame lies inside the input,
 * that a refused header really announced too much, and that parsing is monotonic (a prefix of
 * a complete frame is never complete, the frame itself always is). Every complete payload is
 * copied to a buffer of its exact size (so ASan sees a read past it) and handed to
 * hm_request_decode() and hm_response_decode(), which the daemon and the clients apply to it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/frame.h"
#include "fuzz_util.h"
#include "proto/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode_payload(const uint8_t *p, size_t n)
{
	uint8_t *copy = malloc(n ? n : 1);
	struct hm_request req;
	struct hm_response resp;
	struct hm_item it;

	FUZZ_CHECK(copy != NULL);
	if (n > 0)
		memcpy(copy, p, n);
	if (hm_request_decode(copy, n, HM_DEFAULT_MAX_BATCH, &req) == HM_OK) {
		if (req.op == HM_OP_VERIFY) {
			for (uint32_t i = 0; i < req.nitems; i++)
				(void)hm_item_next(&req.items, &it);
		}
	} else {
		FUZZ_CHECK(req.err != NULL && req.err_text != NULL);
	}
	if (hm_response_decode(copy, n, &resp) == HM_OK) {
		uint64_t v;

		if (resp.kind == HM_RESP_RESULTS) {
			for (uint32_t i = 0; i < resp.nresults; i++)
				FUZZ_CHECK(hm_mp_read_uint(&resp.results, &v) == HM_OK);
		} else if (resp.kind == HM_RESP_STATS) {
			for (uint32_t i = 0; i < resp.nstats; i++) {
				const uint8_t *s;
				size_t len;

				FUZZ_CHECK(hm_mp_read_str(&resp.stats, &s, &len) == HM_OK);
				FUZZ_CHECK(hm_mp_read_uint(&resp.stats, &v) == HM_OK);
			}
		}
	}
	free(copy);
}

static uint32_t announced(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t maxes[] = {HM_FRAME_MIN_MAX, HM_FRAME_DEFAULT_MAX, HM_FRAME_MAX_MAX};

	for (size_t m = 0; m < sizeof(maxes) / sizeof(maxes[0]); m++) {
		size_t off = 0;

		for (;;) {
			const uint8_t *p = data + off;
			size_t left = size - off, flen = 1;
			uint32_t plen = 1;
			int rc = hm_frame_parse(p, left, maxes[m], &plen, &flen);

			if (rc == HM_OK) {
				FUZZ_CHECK(left >= HM_FRAME_HEADER);
				FUZZ_CHECK(plen == announced(p) && plen <= maxes[m]);
				FUZZ_CHECK(flen == HM_FRAME_HEADER + (size_t)plen && flen <= left);
				/* monotonic: one byte less is incomplete, and says so */
				{
					uint32_t pl2;
					size_t fl2;

					FUZZ_CHECK(hm_frame_parse(p, flen - 1, maxes[m], &pl2, &fl2) ==
						   HM_EAGAIN);
					FUZZ_CHECK(fl2 == 0);
				}
				/* only one bound's pass decodes, to keep each run cheap */
				if (m == 1)
					decode_payload(p + HM_FRAME_HEADER, plen);
				off += flen;
				continue;
			}
			FUZZ_CHECK(flen == 0);
			if (rc == HM_EAGAIN) {
				if (left < HM_FRAME_HEADER) {
					FUZZ_CHECK(plen == 0);
				} else {
					FUZZ_CHECK(plen == announced(p) && plen <= maxes[m]);
					FUZZ_CHECK(left - HM_FRAME_HEADER < plen);
				}
			} else {
				FUZZ_CHECK(rc == HM_ETOOBIG);
				FUZZ_CHECK(left >= HM_FRAME_HEADER && announced(p) > maxes[m]);
			}
			break;
		}
	}
	return 0;
}
