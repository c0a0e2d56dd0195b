/*
 * fuzz_rfc9421.c - libFuzzer target: reading a whole rfc9421 item (daemon/rfc9421.c) under a
 * policy: Signature-Input and Signature parsing, label choice, the signature base, the keyid /
 * alg / created / nonce rules, Content-Digest against a body, and the coverage policy.
 *
 * Input layout: byte 0 is the policy (bit 0 created, 1 nonce, 2 age check, 3 digest when body,
 * bits 4-5 how many of three fixed components are required, bit 6 query when present), byte 1 says whether a body and a
 * label are sent; the rest is split at 0x00 bytes into Signature-Input, Signature,
 * Content-Digest, the body, the label and one more header value. Each part is copied to a
 * buffer of its exact size, so ASan sees any read past it. Header values with control bytes
 * are emptied (the wire decoder refuses them before this code runs).
 * Checks: the status is one of the three; READY gives a non-empty base that fits and a keyid;
 * the same input read twice gives the same answer and the same base (no hidden state between
 * items); an item without a body is judged exactly as one with an empty body (a covered
 * Content-Digest is never left unchecked because the body was left out).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "proto/policy.h"
#include "engine/rfc9421.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PARTS 6
#define BASE_MAX 32768

static uint8_t *dup_exact(const uint8_t *p, size_t n)
{
	uint8_t *d = malloc(n ? n : 1);

	FUZZ_CHECK(d != NULL);
	if (n > 0)
		memcpy(d, p, n);
	return d;
}

static bool clean(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f)
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const required[] = {"@method", "@path", "content-digest"};
	static struct hm_item it;
	static struct hm_rfc_scratch scratch;
	static uint8_t base[BASE_MAX], base2[BASE_MAX];
	static struct hm_digest_ctx *dctx;
	struct hm_policy pol;
	struct hm_rfc_check c, c2;
	enum hm_rfc_status st, st2;
	uint8_t *part[PARTS];
	size_t len[PARTS], start = 2, k = 0;

	if (size < 2 || size > 8192)
		return 0;
	if (dctx == NULL)
		FUZZ_CHECK(hm_digest_ctx_new(&dctx) == HM_OK);
	memset(&pol, 0, sizeof(pol));
	pol.require_created = data[0] & 1;
	pol.require_nonce = (data[0] >> 1) & 1;
	pol.check_age = (data[0] >> 2) & 1;
	pol.digest_when_body = (data[0] >> 3) & 1;
	pol.query_when_present = (data[0] >> 6) & 1;
	for (unsigned i = 0; i < ((data[0] >> 4) & 3u); i++)
		FUZZ_CHECK(hm_policy_component_parse(required[i], pol.components[i]) == HM_OK);
	pol.ncomponents = (data[0] >> 4) & 3u;

	for (size_t i = 2; i <= size && k < PARTS; i++) {
		if (i == size || data[i] == 0) {
			part[k] = dup_exact(data + start, i - start);
			len[k] = i - start;
			k++;
			start = i + 1;
		}
	}
	for (; k < PARTS; k++) {
		part[k] = dup_exact(NULL, 0);
		len[k] = 0;
	}

	memset(&it, 0, sizeof(it));
	it.scheme = HM_SCHEME_RFC9421;
	it.tenant = (struct hm_str){(const uint8_t *)"t", 1};
	it.container = (struct hm_str){(const uint8_t *)"c", 1};
	it.method = (struct hm_str){(const uint8_t *)"POST", 4};
	it.rfc.authority = (struct hm_str){(const uint8_t *)"Example.com:443", 15};
	it.path = (struct hm_str){(const uint8_t *)"/c/exec?a=1&b=%20x", 18};
	it.rfc.signature_input = (struct hm_str){part[0], len[0]};
	it.rfc.signature = (struct hm_str){part[1], len[1]};
	it.headers[0] = (struct hm_header){{(const uint8_t *)"content-digest", 14},
					   {part[2], clean(part[2], len[2]) ? len[2] : 0}};
	it.headers[1] = (struct hm_header){{(const uint8_t *)"content-length", 14},
					   {(const uint8_t *)"3", 1}};
	it.headers[2] = (struct hm_header){{(const uint8_t *)"x-f", 3},
					   {part[5], clean(part[5], len[5]) ? len[5] : 0}};
	it.headers[3] = (struct hm_header){{(const uint8_t *)"signature-input", 15},
					   {part[0], clean(part[0], len[0]) ? len[0] : 0}};
	it.nheaders = 4;
	if (data[1] & 1) {
		it.has_body = true;
		it.body = (struct hm_str){part[3], len[3]};
	}
	if (data[1] & 2)
		it.rfc.label = (struct hm_str){part[4], len[4]};

	st = hm_rfc9421_read(&it, &pol, &scratch, dctx, base, sizeof(base), &c);
	FUZZ_CHECK(st == HM_RFC_READY || st == HM_RFC_MALFORMED || st == HM_RFC_COVERAGE);
	if (st == HM_RFC_READY) {
		FUZZ_CHECK(c.base_len > 0 && c.base_len <= sizeof(base));
		FUZZ_CHECK(c.keyid.len > 0);
		FUZZ_CHECK(!pol.require_created || c.has_created);
		FUZZ_CHECK(!pol.require_nonce || c.nonce.len > 0);
	} else {
		FUZZ_CHECK(c.why != NULL);
	}
	st2 = hm_rfc9421_read(&it, &pol, &scratch, dctx, base2, sizeof(base2), &c2);
	FUZZ_CHECK(st2 == st);
	if (st == HM_RFC_READY) {
		FUZZ_CHECK(c2.base_len == c.base_len && memcmp(base, base2, c.base_len) == 0);
		FUZZ_CHECK(memcmp(c.sig, c2.sig, sizeof(c.sig)) == 0 && c.digest == c2.digest);
	}
	if (!it.has_body || it.body.len == 0) {
		/* no body and an empty body are the same request */
		it.has_body = !it.has_body;
		it.body = (struct hm_str){part[3], 0};
		st2 = hm_rfc9421_read(&it, &pol, &scratch, dctx, base2, sizeof(base2), &c2);
		FUZZ_CHECK(st2 == st);
		FUZZ_CHECK(st != HM_RFC_READY || c2.digest == c.digest);
	}
	for (k = 0; k < PARTS; k++)
		free(part[k]);
	return 0;
}
