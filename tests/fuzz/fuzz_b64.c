/*
 * fuzz_b64.c - libFuzzer target: the constant-time base64 codec (b64.h).
 *
 * The input is used twice. As bytes: encoded and decoded again, with and without its padding,
 * it comes back unchanged, and one byte less of room is refused. As text: the decoder agrees
 * with hm_b64_decoded_len() and writes no more than that length (the output buffer is exactly
 * that long, so ASan sees a one-byte overrun; the input is libFuzzer's exact-size copy, so it
 * sees an overread too); a refused text leaves the output wiped; an accepted one re-encodes to
 * its canonical form, which is the text without the whitespace around it, padded. So no two
 * texts decode to the same bytes unless they differ only in whitespace around them and padding.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "proto/b64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* text[0..tlen) decodes to exactly data[0..size), and not into one byte less of room. */
static void decodes_to(const char *text, size_t tlen, const uint8_t *data, size_t size)
{
	uint8_t *back = malloc(size > 0 ? size : 1);
	size_t len = 0;

	FUZZ_CHECK(back != NULL);
	FUZZ_CHECK(hm_b64_decode_ct(text, tlen, back, size, &len) == HM_OK);
	FUZZ_CHECK(len == size && memcmp(back, data, size) == 0);
	if (size > 0)
		FUZZ_CHECK(hm_b64_decode_ct(text, tlen, back, size - 1, &len) == HM_ETOOBIG);
	free(back);
}

static void round_trip(const uint8_t *data, size_t size)
{
	size_t tlen = HM_B64_LEN(size);
	char *text = malloc(tlen + 1);

	FUZZ_CHECK(text != NULL);
	FUZZ_CHECK(hm_b64_encode_ct(data, size, text) == tlen && text[tlen] == '\0');
	decodes_to(text, tlen, data, size);
	while (tlen > 0 && text[tlen - 1] == '=')
		tlen--;
	decodes_to(text, tlen, data, size); /* without its padding */
	free(text);
}

/* The whitespace b64.h ignores around the text, written again here as the oracle. */
static bool space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static void as_text(const char *s, size_t n)
{
	size_t want = 0, len = 1, b = 0, e = n, elen, plen;
	uint8_t *out;
	char *again;
	int rc;

	if (hm_b64_decoded_len(s, n, &want) != HM_OK) {
		uint8_t one;

		FUZZ_CHECK(want == 0);
		FUZZ_CHECK(hm_b64_decode_ct(s, n, &one, sizeof(one), &len) == HM_EINVAL);
		FUZZ_CHECK(len == 0);
		return;
	}
	out = malloc(want > 0 ? want : 1);
	FUZZ_CHECK(out != NULL);
	if (want > 0)
		FUZZ_CHECK(hm_b64_decode_ct(s, n, out, want - 1, &len) == HM_ETOOBIG);
	rc = hm_b64_decode_ct(s, n, out, want, &len);
	if (rc != HM_OK) {
		FUZZ_CHECK(rc == HM_EINVAL && len == 0);
		for (size_t i = 0; i < want; i++)
			FUZZ_CHECK(out[i] == 0);
		free(out);
		return;
	}
	FUZZ_CHECK(len == want);
	while (b < e && space(s[b]))
		b++;
	while (e > b && space(s[e - 1]))
		e--;
	again = malloc(HM_B64_LEN(len) + 1);
	FUZZ_CHECK(again != NULL);
	elen = hm_b64_encode_ct(out, len, again);
	plen = elen;
	while (plen > 0 && again[plen - 1] == '=')
		plen--;
	/* the text is the canonical encoding, or that without its padding */
	FUZZ_CHECK(e - b == elen || e - b == plen);
	FUZZ_CHECK(memcmp(s + b, again, e - b) == 0);
	free(again);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	round_trip(data, size);
	as_text((const char *)data, size);
	return 0;
}
