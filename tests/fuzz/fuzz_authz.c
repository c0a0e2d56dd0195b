/*
 * fuzz_authz.c - libFuzzer target: the hmacd-v1 Authorization parser (proto/authz.h).
 *
 * Accepted values obey every rule of PROTOCOL.md 13.1 (the spans lie inside the input, the
 * tenant is a scope name, the epoch is at least 1, at most HM_MAX_HEADERS signed headers, each
 * a lower-case token, the nonce 1..64 bytes); a refused one names why and leaves nothing in
 * the result. ASan sees any read past the input (libFuzzer's exact-size copy).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "proto/authz.h"
#include "proto/lex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int inside(struct hm_str s, const uint8_t *data, size_t size)
{
	return s.len == 0 || (s.ptr >= data && s.ptr + s.len <= data + size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t zero[HM_MAC_LEN];
	struct hm_authz a;
	const char *why = NULL;

	if (hm_authz_parse(data, size, &a, &why) != HM_OK) {
		FUZZ_CHECK(why != NULL);
		FUZZ_CHECK(memcmp(a.sig, zero, HM_MAC_LEN) == 0 && a.nheaders == 0);
		return 0;
	}
	FUZZ_CHECK(size > 9 && memcmp(data, "HMACD-V1 ", 9) == 0);
	FUZZ_CHECK(inside(a.tenant, data, size) && hm_lex_scope(a.tenant.ptr, a.tenant.len));
	FUZZ_CHECK(a.epoch >= 1);
	FUZZ_CHECK(inside(a.nonce, data, size) && a.nonce.len <= HM_NONCE_MAX);
	FUZZ_CHECK(a.nheaders <= HM_MAX_HEADERS);
	for (size_t i = 0; i < a.nheaders; i++)
		FUZZ_CHECK(inside(a.headers[i], data, size) &&
			   hm_lex_token(a.headers[i].ptr, a.headers[i].len, SIZE_MAX, true));
	return 0;
}
