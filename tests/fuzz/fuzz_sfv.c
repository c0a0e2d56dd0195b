/*
 * fuzz_sfv.c - libFuzzer target: the RFC 8941 parser and serializer (sfv.h) and the RFC 9421
 * signature base builder (sigbase.h) over arbitrary bytes.
 *
 * Input layout: one byte choosing the field kind (Item, List, Dictionary), then the field
 * value. The value is copied to a buffer of its exact size, so ASan sees any read past it.
 * Checks: a parsed field serializes; the serialization parses again as the same kind and is a
 * fixed point (serialize . parse . serialize = serialize); a buffer one byte short is refused.
 * For a Dictionary, the signature base of every member is built for a fixed request whose
 * headers include the fuzz value itself (so ;sf and ;key reach the parser again), into an
 * exact-size buffer, and one byte less must give HM_ETOOBIG.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "proto/sfv.h"
#include "proto/sigbase.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OUT_MAX 65536

static void check_base(const struct hm_sf_field *f, const struct hm_sf_member *m,
		       const uint8_t *val, size_t n)
{
	struct hm_header h[3] = {
		{{(const uint8_t *)"x-f", 3}, {val, n}},
		{{(const uint8_t *)"priority", 8}, {val, n}},
		{{(const uint8_t *)"priority", 8}, {(const uint8_t *)"u=1", 3}},
	};
	struct hm_sb_request r = {{(const uint8_t *)"POST", 4}, {(const uint8_t *)"Ex.com:443", 10},
				  {(const uint8_t *)"/p?a=1&b=%C3%A7+x&a", 19},
				  {(const uint8_t *)"https", 5}, 3, h};
	static uint8_t out[OUT_MAX];
	enum hm_sb_reason why;
	size_t len = 1, len2;
	uint8_t *exact;
	int rc;

	for (size_t i = 0; i < n; i++)
		if (val[i] < 0x20 || val[i] == 0x7f)
			h[0].value.len = h[1].value.len = 0; /* header values are clean by contract */
	rc = hm_sb_build(&r, f, m, out, sizeof(out), &len, NULL, &why);
	if (rc != HM_OK) {
		FUZZ_CHECK(len == 0);
		FUZZ_CHECK(rc == HM_EMALFORMED ? why != HM_SB_OK : rc == HM_ETOOBIG);
		return;
	}
	FUZZ_CHECK(why == HM_SB_OK && len > 0);
	exact = malloc(len);
	FUZZ_CHECK(exact != NULL);
	FUZZ_CHECK(hm_sb_build(&r, f, m, exact, len, &len2, NULL, &why) == HM_OK);
	FUZZ_CHECK(len2 == len && memcmp(exact, out, len) == 0);
	FUZZ_CHECK(hm_sb_build(&r, f, m, exact, len - 1, &len2, NULL, &why) == HM_ETOOBIG);
	free(exact);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct hm_sf_field f, g;
	static uint8_t out[OUT_MAX], out2[OUT_MAX];
	enum hm_sf_kind kind;
	uint8_t *val;
	size_t n, len = 0, len2 = 0;

	if (size < 1 || size > 8192)
		return 0;
	kind = (enum hm_sf_kind)(data[0] % 3);
	n = size - 1;
	val = malloc(n ? n : 1);
	FUZZ_CHECK(val != NULL);
	if (n > 0)
		memcpy(val, data + 1, n);
	if (hm_sf_parse(val, n, kind, &f) == HM_OK) {
		FUZZ_CHECK(f.nmembers <= HM_SF_MAX_MEMBERS && f.nitems <= HM_SF_MAX_ITEMS &&
			   f.nparams <= HM_SF_MAX_PARAM_POOL);
		FUZZ_CHECK(hm_sf_serialize(&f, out, sizeof(out), &len) == HM_OK);
		if (len > 0)
			FUZZ_CHECK(hm_sf_serialize(&f, out2, len - 1, &len2) == HM_ETOOBIG);
		FUZZ_CHECK(hm_sf_parse(out, len, kind, &g) == HM_OK);
		FUZZ_CHECK(hm_sf_serialize(&g, out2, sizeof(out2), &len2) == HM_OK);
		FUZZ_CHECK(len2 == len && memcmp(out, out2, len) == 0);
		if (kind == HM_SF_KIND_DICT)
			for (size_t i = 0; i < f.nmembers; i++)
				check_base(&f, &f.members[i], val, n);
	}
	free(val);
	return 0;
}
