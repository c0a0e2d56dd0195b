/* test_b64.c - the constant-time base64 encoder agrees with OpenSSL's, for every length. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "proto/b64.h"

static void test_rfc4648_vectors(void **state)
{
	static const struct {
		const char *in, *out;
	} v[] = {
		{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},     {"foo", "Zm9v"},
		{"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
	};
	char out[32];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t n = hm_b64_encode_ct((const uint8_t *)v[i].in, strlen(v[i].in), out);

		assert_int_equal(n, strlen(v[i].out));
		assert_string_equal(out, v[i].out);
	}
}

static void test_agrees_with_openssl(void **state)
{
	uint8_t in[96];
	char ours[HM_B64_LEN(96) + 1];
	unsigned char theirs[HM_B64_LEN(96) + 1];

	(void)state;
	/* every 6-bit value in every position, then random inputs of every length */
	for (int v = 0; v < 256; v++) {
		memset(in, v, 3);
		hm_b64_encode_ct(in, 3, ours);
		assert_int_equal(EVP_EncodeBlock(theirs, in, 3), 4);
		assert_string_equal(ours, (const char *)theirs);
	}
	for (int round = 0; round < 200; round++) {
		assert_int_equal(RAND_bytes(in, (int)sizeof(in)), 1);
		for (size_t n = 0; n <= sizeof(in); n++) {
			assert_int_equal(hm_b64_encode_ct(in, n, ours), HM_B64_LEN(n));
			assert_int_equal(EVP_EncodeBlock(theirs, in, (int)n), (int)HM_B64_LEN(n));
			assert_string_equal(ours, (const char *)theirs);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4648_vectors),
		cmocka_unit_test(test_agrees_with_openssl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
