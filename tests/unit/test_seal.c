/*
 * test_seal.c - the fleet's seal module (fleet/seal.h).
 *
 * The derived keys are checked against EVP_KDF called here with the info strings spelled out,
 * and against known answers computed apart from OpenSSL (Python's hmac module, RFC 5869 by
 * hand), so a changed info string, salt or length fails here before it splits a fleet. Record
 * names and nonce digests likewise (the nonce digest's length prefix included). Sealed records
 * open only unchanged, with the same associated data and seal key; a failed open leaves nothing
 * in plain. The key file: both forms load the same key; every refusal (mode, type, owner,
 * length, content, a missing file) is told apart; generate writes 0600 files it never
 * overwrites.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "fleet/seal.h"
#include "proto/b64.h"

/* ---- helpers ---- */

static void unhex(const char *s, uint8_t *out, size_t n)
{
	assert_int_equal(strlen(s), 2 * n);
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/* The seal key 00 01 02 ... 1f, which the known answers below were computed for. */
static void counting_key(uint8_t key[static HM_SEAL_KEY_LEN])
{
	for (int i = 0; i < HM_SEAL_KEY_LEN; i++)
		key[i] = (uint8_t)i;
}

static void init_counting(struct hm_seal *s)
{
	uint8_t key[HM_SEAL_KEY_LEN];

	counting_key(key);
	assert_int_equal(hm_seal_init(s, key), HM_OK);
}

static void init_random(struct hm_seal *s)
{
	uint8_t key[HM_SEAL_KEY_LEN];

	assert_int_equal(RAND_bytes(key, sizeof(key)), 1);
	assert_int_equal(hm_seal_init(s, key), HM_OK);
}

/* HKDF-SHA256(key, salt empty, info) straight from EVP_KDF, the info spelled out by the caller. */
static void evp_hkdf(const uint8_t key[static HM_SEAL_KEY_LEN], const char *info, uint8_t *out,
		     size_t len)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *ctx;
	OSSL_PARAM p[5];

	assert_non_null(kdf);
	ctx = EVP_KDF_CTX_new(kdf);
	assert_non_null(ctx);
	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	p[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, HM_SEAL_KEY_LEN);
	p[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (char *)"", 0);
	p[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, strlen(info));
	p[4] = OSSL_PARAM_construct_end();
	assert_int_equal(EVP_KDF_derive(ctx, out, len, p), 1);
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
}

static void hmac_sha256(const uint8_t key[static 32], const uint8_t *msg, size_t n,
			uint8_t out[static 32])
{
	size_t len = 0;

	assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, 32, msg, n, out, 32,
				  &len));
	assert_int_equal(len, 32);
}

/* ---- derived keys ---- */

static void test_derived_keys_pinned(void **state)
{
	static const struct {
		const char *info;
		size_t off, len;
		const char *known; /* Python: hmac, RFC 5869 by hand, salt b"" */
	} want[] = {
		{"hmacd fleet v1 seal", offsetof(struct hm_seal, enc), 32,
		 "109c68ca22b2ac6bfa3e3b91bbbecc70fbf8505b2df772ec33372498a5f0d94e"},
		{"hmacd fleet v1 name", offsetof(struct hm_seal, name), 32,
		 "937bfbe3cc5cdf2a4aab49e27d22a54d8b3e4b1644f559ba132ca2b503a09d5d"},
		{"hmacd fleet v1 nonce", offsetof(struct hm_seal, nonce), 32,
		 "c9a1aee474ee8302390e4eabf9e6a19411f21079735401ad991bff5ed4763ae2"},
		{"hmacd fleet v1 key id", offsetof(struct hm_seal, id), 16,
		 "c0a10225d3df7dfe1f305774e32f86f2"},
	};
	uint8_t key[HM_SEAL_KEY_LEN], evp[32], known[32];
	struct hm_seal s;
	char id[HM_SEAL_ID_HEX];

	(void)state;
	counting_key(key);
	assert_int_equal(hm_seal_init(&s, key), HM_OK);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const uint8_t *got = (const uint8_t *)&s + want[i].off;

		evp_hkdf(key, want[i].info, evp, want[i].len);
		assert_memory_equal(got, evp, want[i].len);
		unhex(want[i].known, known, want[i].len);
		assert_memory_equal(got, known, want[i].len);
	}
	hm_seal_id_hex(&s, id);
	assert_string_equal(id, "c0a10225d3df7dfe1f305774e32f86f2");
	/* no key serves two purposes */
	assert_memory_not_equal(s.enc, s.name, 32);
	assert_memory_not_equal(s.enc, s.nonce, 32);
	assert_memory_not_equal(s.name, s.nonce, 32);
	assert_memory_not_equal(s.id, s.enc, 16);
	assert_memory_not_equal(s.id, s.name, 16);
	assert_memory_not_equal(s.id, s.nonce, 16);
	hm_seal_wipe(&s);
	assert_true(all_zero((const uint8_t *)&s, sizeof(s)));
}

static void test_id_per_key(void **state)
{
	struct hm_seal a, b, a2;
	uint8_t key[HM_SEAL_KEY_LEN];
	char ida[HM_SEAL_ID_HEX], idb[HM_SEAL_ID_HEX], ida2[HM_SEAL_ID_HEX];

	(void)state;
	assert_int_equal(RAND_bytes(key, sizeof(key)), 1);
	assert_int_equal(hm_seal_init(&a, key), HM_OK);
	assert_int_equal(hm_seal_init(&a2, key), HM_OK);
	key[31] ^= 1;
	assert_int_equal(hm_seal_init(&b, key), HM_OK);
	hm_seal_id_hex(&a, ida);
	hm_seal_id_hex(&a2, ida2);
	hm_seal_id_hex(&b, idb);
	assert_int_equal(strlen(ida), 32);
	assert_int_equal(strspn(ida, "0123456789abcdef"), 32);
	assert_string_equal(ida, ida2);
	assert_string_not_equal(ida, idb);
	assert_memory_not_equal(a.enc, b.enc, 32);
}

/* ---- names and nonce digests ---- */

static void test_name(void **state)
{
	struct hm_seal s, other;
	char n1[HM_SEAL_NAME_HEX], n1again[HM_SEAL_NAME_HEX], n2[HM_SEAL_NAME_HEX];
	char nother[HM_SEAL_NAME_HEX], nempty[HM_SEAL_NAME_HEX];
	uint8_t mac[32];
	char hex[65];

	(void)state;
	init_counting(&s);
	init_random(&other);
	assert_int_equal(hm_seal_name(&s, (const uint8_t *)"t1/c1", 5, n1), HM_OK);
	assert_string_equal(n1, "54a4bead4f533f5a0bd02e387926cf3f2da2074bfa8d70cfd0bb93c4fcb0fe49");
	assert_int_equal(hm_seal_name(&s, (const uint8_t *)"t1/c1", 5, n1again), HM_OK);
	assert_string_equal(n1, n1again);
	hmac_sha256(s.name, (const uint8_t *)"t1/c1", 5, mac);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	assert_string_equal(n1, hex);
	assert_int_equal(hm_seal_name(&s, (const uint8_t *)"t1/c2", 5, n2), HM_OK);
	assert_string_not_equal(n1, n2);
	assert_int_equal(hm_seal_name(&other, (const uint8_t *)"t1/c1", 5, nother), HM_OK);
	assert_string_not_equal(n1, nother);
	assert_int_equal(hm_seal_name(&s, NULL, 0, nempty), HM_OK);
	assert_int_equal(strlen(nempty), 64);
	assert_int_equal(strspn(nempty, "0123456789abcdef"), 64);
}

static void nonce_digest(const struct hm_seal *s, const char *t, const char *c, const char *n,
			 uint8_t out[static 32])
{
	assert_int_equal(hm_seal_nonce_digest(s, (const uint8_t *)t, strlen(t),
					      (const uint8_t *)c, strlen(c), (const uint8_t *)n,
					      strlen(n), out),
			 HM_OK);
}

static void test_nonce_digest(void **state)
{
	/* tenant "t1", container "c1", nonce "nonce-1", each after its length in 8 bytes BE */
	static const uint8_t input[] = {
		0, 0, 0, 0, 0, 0, 0, 2, 't', '1', 0, 0, 0, 0, 0, 0, 0, 2, 'c', '1',
		0, 0, 0, 0, 0, 0, 0, 7, 'n', 'o', 'n', 'c', 'e', '-', '1',
	};
	struct hm_seal s, other;
	uint8_t d[32], again[32], want[32], moved[32], x[32];

	(void)state;
	init_counting(&s);
	init_random(&other);
	nonce_digest(&s, "t1", "c1", "nonce-1", d);
	unhex("9850624ab912fff6510dce7e75208058b6b974338ed211b4cac38763ee869abc", want, 32);
	assert_memory_equal(d, want, 32);
	hmac_sha256(s.nonce, input, sizeof(input), want);
	assert_memory_equal(d, want, 32);
	nonce_digest(&s, "t1", "c1", "nonce-1", again);
	assert_memory_equal(d, again, 32);
	/* a byte moved across a field boundary is another triple */
	nonce_digest(&s, "t", "1c1", "nonce-1", moved);
	assert_memory_not_equal(d, moved, 32);
	nonce_digest(&s, "t1c", "1", "nonce-1", moved);
	assert_memory_not_equal(d, moved, 32);
	nonce_digest(&s, "t1", "c1n", "once-1", moved);
	assert_memory_not_equal(d, moved, 32);
	nonce_digest(&s, "ab", "c", "n", x);
	nonce_digest(&s, "a", "bc", "n", moved);
	assert_memory_not_equal(x, moved, 32);
	/* not the name key, not another seal key */
	nonce_digest(&other, "t1", "c1", "nonce-1", x);
	assert_memory_not_equal(d, x, 32);
	hmac_sha256(s.name, input, sizeof(input), x);
	assert_memory_not_equal(d, x, 32);
}

/* The keyed context gives hm_seal_nonce_digest()'s digests, call after call. */
static void test_nonce_mac(void **state)
{
	static const char *const triples[][3] = {
		{"t1", "c1", "nonce-1"}, {"t", "1c1", "nonce-1"}, {"ab", "c", "n"},
		{"", "", ""},            {"t1", "c1", "nonce-1"}, {"a", "bc", "n"},
	};
	struct hm_seal s, other;
	struct hm_seal_nonce_mac *m = NULL, *mo = NULL;
	uint8_t want[32], got[32];

	(void)state;
	init_counting(&s);
	init_random(&other);
	assert_int_equal(hm_seal_nonce_mac_new(&s, &m), HM_OK);
	assert_int_equal(hm_seal_nonce_mac_new(&other, &mo), HM_OK);
	hm_seal_wipe(&other); /* the context keeps its own copy of the key */
	for (size_t i = 0; i < sizeof(triples) / sizeof(triples[0]); i++) {
		const char *t = triples[i][0], *c = triples[i][1], *n = triples[i][2];

		nonce_digest(&s, t, c, n, want);
		assert_int_equal(hm_seal_nonce_mac_digest(m, (const uint8_t *)t, strlen(t),
							  (const uint8_t *)c, strlen(c),
							  (const uint8_t *)n, strlen(n), got),
				 HM_OK);
		assert_memory_equal(got, want, 32);
		assert_int_equal(hm_seal_nonce_mac_digest(mo, (const uint8_t *)t, strlen(t),
							  (const uint8_t *)c, strlen(c),
							  (const uint8_t *)n, strlen(n), got),
				 HM_OK);
		assert_memory_not_equal(got, want, 32);
	}
	hm_seal_nonce_mac_free(m);
	hm_seal_nonce_mac_free(mo);
	hm_seal_nonce_mac_free(NULL);
}

/* ---- sealed records ---- */

#define AAD "hmacd:|rec/0123|v7"
#define PLAIN_MAX 4096

struct sealed {
	uint8_t buf[PLAIN_MAX + HM_SEAL_OVERHEAD];
	size_t len;
};

static void seal(const struct hm_seal *s, const char *aad, const uint8_t *plain, size_t n,
		 struct sealed *out)
{
	assert_int_equal(hm_seal_record(s, (const uint8_t *)aad, strlen(aad), plain, n, out->buf,
					sizeof(out->buf), &out->len),
			 HM_OK);
	assert_int_equal(out->len, n + HM_SEAL_OVERHEAD);
}

/* Opening fails as malformed, and plain (filled with 0xaa first) is left all zeros. */
static void open_refused(const struct hm_seal *s, const uint8_t *aad, size_t aad_len,
			 const uint8_t *in, size_t n)
{
	uint8_t plain[PLAIN_MAX];
	size_t len = 12345;

	memset(plain, 0xaa, sizeof(plain));
	assert_int_equal(hm_seal_open(s, aad, aad_len, in, n, plain, sizeof(plain), &len),
			 HM_EMALFORMED);
	assert_int_equal(len, 0);
	assert_true(all_zero(plain, sizeof(plain)));
}

static void test_round_trip(void **state)
{
	static const size_t sizes[] = { 0, 1, 15, 16, 17, 100, PLAIN_MAX };
	static uint8_t plain[PLAIN_MAX], back[PLAIN_MAX];
	static struct sealed sd;
	struct hm_seal s;
	size_t len;

	(void)state;
	init_random(&s);
	assert_int_equal(RAND_bytes(plain, sizeof(plain)), 1);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];

		seal(&s, AAD, plain, n, &sd);
		if (n >= 16) /* the plaintext is nowhere in the record */
			assert_null(memmem(sd.buf, sd.len, plain, 16));
		memset(back, 0, sizeof(back));
		assert_int_equal(hm_seal_open(&s, (const uint8_t *)AAD, strlen(AAD), sd.buf,
					      sd.len, back, n, &len),
				 HM_OK);
		assert_int_equal(len, n);
		if (n > 0)
			assert_memory_equal(back, plain, n);
	}
	/* no associated data at all is associated data too */
	assert_int_equal(hm_seal_record(&s, NULL, 0, plain, 40, sd.buf, sizeof(sd.buf), &sd.len),
			 HM_OK);
	assert_int_equal(hm_seal_open(&s, NULL, 0, sd.buf, sd.len, back, sizeof(back), &len),
			 HM_OK);
	assert_int_equal(len, 40);
	assert_memory_equal(back, plain, 40);
	open_refused(&s, (const uint8_t *)"x", 1, sd.buf, sd.len);
}

static void test_fresh_iv(void **state)
{
	static const uint8_t plain[64] = "the same record, sealed twice";
	static struct sealed a, b;
	struct hm_seal s;

	(void)state;
	init_random(&s);
	seal(&s, AAD, plain, sizeof(plain), &a);
	seal(&s, AAD, plain, sizeof(plain), &b);
	assert_memory_not_equal(a.buf, b.buf, HM_SEAL_IV_LEN);
	assert_memory_not_equal(a.buf + HM_SEAL_IV_LEN, b.buf + HM_SEAL_IV_LEN, sizeof(plain));
	assert_memory_not_equal(a.buf + a.len - HM_SEAL_TAG_LEN, b.buf + b.len - HM_SEAL_TAG_LEN,
				HM_SEAL_TAG_LEN);
}

/* Every single bit flipped, in the IV, the ciphertext and the tag, is refused. */
static void test_flipped_bits(void **state)
{
	static const uint8_t plain[40] = "tenant t1 container c1 epoch 3 secret";
	static struct sealed sd;
	struct hm_seal s;

	(void)state;
	init_random(&s);
	seal(&s, AAD, plain, sizeof(plain), &sd);
	for (size_t i = 0; i < sd.len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			sd.buf[i] ^= (uint8_t)(1u << bit);
			open_refused(&s, (const uint8_t *)AAD, strlen(AAD), sd.buf, sd.len);
			sd.buf[i] ^= (uint8_t)(1u << bit);
		}
	}
	/* and the untouched record still opens */
	{
		uint8_t back[sizeof(plain)];
		size_t len;

		assert_int_equal(hm_seal_open(&s, (const uint8_t *)AAD, strlen(AAD), sd.buf,
					      sd.len, back, sizeof(back), &len),
				 HM_OK);
		assert_memory_equal(back, plain, sizeof(plain));
	}
}

static void test_other_aad(void **state)
{
	static const uint8_t plain[32] = "a record bound to its place";
	static struct sealed sd;
	uint8_t aad[sizeof(AAD)];
	struct hm_seal s;
	size_t n = strlen(AAD);

	(void)state;
	init_random(&s);
	seal(&s, AAD, plain, sizeof(plain), &sd);
	memcpy(aad, AAD, sizeof(aad));
	for (size_t i = 0; i < n; i++) {
		aad[i] ^= 1;
		open_refused(&s, aad, n, sd.buf, sd.len);
		aad[i] ^= 1;
	}
	open_refused(&s, aad, n - 1, sd.buf, sd.len); /* another version: "v" */
	open_refused(&s, aad, n + 1, sd.buf, sd.len); /* a byte more (the NUL) */
	open_refused(&s, NULL, 0, sd.buf, sd.len);
	open_refused(&s, (const uint8_t *)"hmacd:|rec/0124|v7", n, sd.buf, sd.len);
}

static void test_truncated(void **state)
{
	static const uint8_t plain[48] = "a record cut short anywhere is refused";
	static struct sealed sd;
	struct hm_seal s;
	uint8_t longer[sizeof(plain) + HM_SEAL_OVERHEAD + 1];

	(void)state;
	init_random(&s);
	seal(&s, AAD, plain, sizeof(plain), &sd);
	for (size_t n = 0; n < sd.len; n++)
		open_refused(&s, (const uint8_t *)AAD, strlen(AAD), sd.buf, n);
	/* nor may a byte be added */
	memcpy(longer, sd.buf, sd.len);
	longer[sd.len] = 0;
	open_refused(&s, (const uint8_t *)AAD, strlen(AAD), longer, sizeof(longer));
}

static void test_other_seal_key(void **state)
{
	static const uint8_t plain[32] = "sealed under one key only";
	static struct sealed sd;
	struct hm_seal s, other;

	(void)state;
	init_random(&s);
	init_random(&other);
	seal(&s, AAD, plain, sizeof(plain), &sd);
	open_refused(&other, (const uint8_t *)AAD, strlen(AAD), sd.buf, sd.len);
}

static void test_sizes(void **state)
{
	static const uint8_t plain[20] = "twenty bytes exactly";
	uint8_t out[sizeof(plain) + HM_SEAL_OVERHEAD], back[sizeof(plain)];
	struct hm_seal s;
	size_t len = 99;

	(void)state;
	init_random(&s);
	assert_int_equal(hm_seal_record(&s, NULL, 0, plain, sizeof(plain), out, sizeof(out) - 1,
					&len),
			 HM_ETOOBIG);
	assert_int_equal(len, 0);
	assert_int_equal(hm_seal_record(&s, NULL, 0, plain, sizeof(plain), out, sizeof(out), &len),
			 HM_OK);
	assert_int_equal(len, sizeof(out));
	memset(back, 0xaa, sizeof(back));
	assert_int_equal(hm_seal_open(&s, NULL, 0, out, sizeof(out), back, sizeof(back) - 1, &len),
			 HM_ETOOBIG);
	assert_int_equal(len, 0);
	assert_true(all_zero(back, sizeof(back) - 1));
	assert_int_equal(hm_seal_open(&s, NULL, 0, out, sizeof(out), back, sizeof(back), &len),
			 HM_OK);
	assert_int_equal(len, sizeof(plain));
	/* an empty record is IV and tag alone */
	assert_int_equal(hm_seal_record(&s, NULL, 0, NULL, 0, out, HM_SEAL_OVERHEAD, &len), HM_OK);
	assert_int_equal(len, HM_SEAL_OVERHEAD);
	assert_int_equal(hm_seal_open(&s, NULL, 0, out, len, NULL, 0, &len), HM_OK);
	assert_int_equal(len, 0);
}

/* ---- the key file ---- */

struct fx {
	char dir[64];
	char path[128];
	uint8_t key[HM_SEAL_KEY_LEN];
	char b64[HM_B64_LEN(HM_SEAL_KEY_LEN) + 1];
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	static struct fx f;
	const char *tmp = getenv("TMPDIR");

	memset(&f, 0, sizeof(f));
	if (tmp == NULL || tmp[0] == '\0' || strlen(tmp) > 40)
		tmp = "/tmp";
	snprintf(f.dir, sizeof(f.dir), "%s/test_seal.XXXXXX", tmp);
	if (mkdtemp(f.dir) == NULL)
		return -1;
	if (RAND_bytes(f.key, sizeof(f.key)) != 1)
		return -1;
	hm_b64_encode_ct(f.key, sizeof(f.key), f.b64);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	return nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* f->path = dir/name */
static const char *at(struct fx *f, const char *name)
{
	snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, name);
	return f->path;
}

static void write_file(const char *path, const void *p, size_t n, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, n), (ssize_t)n);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

/* Loading path gives want (code and, on failure, a key left all zeros and a reason). */
static void load_expect(const char *path, int want, const char *why, uint8_t key[32])
{
	char err[256];

	memset(key, 0xaa, HM_SEAL_KEY_LEN);
	memset(err, 0, sizeof(err));
	assert_int_equal(hm_seal_key_load(path, key, err, sizeof(err)), want);
	if (want == HM_OK)
		return;
	assert_true(all_zero(key, HM_SEAL_KEY_LEN));
	if (strstr(err, why) == NULL)
		fail_msg("load: '%s' does not say '%s'", err, why);
}

static void test_key_file_forms(void **state)
{
	struct fx *f = *state;
	uint8_t key[HM_SEAL_KEY_LEN];
	char text[128];

	load_expect(at(f, "raw"), HM_ENOTFOUND, "no such file", key);
	write_file(at(f, "raw"), f->key, sizeof(f->key), 0600);
	load_expect(at(f, "raw"), HM_OK, NULL, key);
	assert_memory_equal(key, f->key, sizeof(key));
	/* base64, whitespace around it: the same key */
	snprintf(text, sizeof(text), "  \n\t%s\r\n\n", f->b64);
	write_file(at(f, "b64"), text, strlen(text), 0600);
	load_expect(at(f, "b64"), HM_OK, NULL, key);
	assert_memory_equal(key, f->key, sizeof(key));
	/* as `base64` writes it, and without its padding */
	snprintf(text, sizeof(text), "%s\n", f->b64);
	write_file(at(f, "b64nl"), text, strlen(text), 0400);
	load_expect(at(f, "b64nl"), HM_OK, NULL, key);
	assert_memory_equal(key, f->key, sizeof(key));
	snprintf(text, sizeof(text), "%.43s", f->b64);
	write_file(at(f, "b64nopad"), text, strlen(text), 0600);
	load_expect(at(f, "b64nopad"), HM_OK, NULL, key);
	assert_memory_equal(key, f->key, sizeof(key));
}

static void test_key_file_mode(void **state)
{
	static const mode_t modes[] = { 0640, 0604, 0620, 0602, 0610, 0601, 0644, 0666 };
	struct fx *f = *state;
	uint8_t key[HM_SEAL_KEY_LEN];

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		write_file(at(f, "k"), f->key, sizeof(f->key), modes[i]);
		load_expect(f->path, HM_ESTATE, "group or others", key);
	}
	write_file(at(f, "k"), f->key, sizeof(f->key), 0600);
	load_expect(f->path, HM_OK, NULL, key);
}

static void test_key_file_type(void **state)
{
	struct fx *f = *state;
	uint8_t key[HM_SEAL_KEY_LEN];
	char target[128];

	write_file(at(f, "real"), f->key, sizeof(f->key), 0600);
	snprintf(target, sizeof(target), "%s", f->path);
	assert_int_equal(symlink(target, at(f, "link")), 0);
	load_expect(f->path, HM_ESTATE, "symbolic link", key);
	assert_int_equal(mkdir(at(f, "dir"), 0700), 0);
	load_expect(f->path, HM_ESTATE, "not a regular file", key);
	/* a FIFO neither hangs the open nor passes */
	assert_int_equal(mkfifo(at(f, "fifo"), 0600), 0);
	load_expect(f->path, HM_ESTATE, "not a regular file", key);
}

static void test_key_file_content(void **state)
{
	struct fx *f = *state;
	uint8_t key[HM_SEAL_KEY_LEN], raw[64], big[2000];
	char text[128];

	assert_int_equal(RAND_bytes(raw, sizeof(raw)), 1);
	write_file(at(f, "k31"), raw, 31, 0600);
	load_expect(f->path, HM_EINVAL, "neither", key);
	write_file(at(f, "k33"), raw, 33, 0600);
	load_expect(f->path, HM_EINVAL, "neither", key);
	write_file(at(f, "k0"), "", 0, 0600);
	load_expect(f->path, HM_EINVAL, "neither", key);
	/* base64 of 31 and of 33 bytes */
	hm_b64_encode_ct(raw, 31, text);
	write_file(at(f, "b31"), text, strlen(text), 0600);
	load_expect(f->path, HM_EINVAL, "neither", key);
	hm_b64_encode_ct(raw, 33, text);
	write_file(at(f, "b33"), text, strlen(text), 0600);
	load_expect(f->path, HM_EINVAL, "neither", key);
	/* the shape of base64 of 32 bytes, not its characters; and whitespace inside */
	memset(text, '*', 43);
	text[43] = '=';
	write_file(at(f, "stars"), text, 44, 0600);
	load_expect(f->path, HM_EINVAL, "neither", key);
	snprintf(text, sizeof(text), "%.20s %s", f->b64, f->b64 + 20);
	write_file(at(f, "space"), text, strlen(text), 0600);
	load_expect(f->path, HM_EINVAL, "neither", key);
	/* far too long: not read through */
	memset(big, 'A', sizeof(big));
	write_file(at(f, "big"), big, sizeof(big), 0600);
	load_expect(f->path, HM_EINVAL, "not a seal key", key);
}

static void test_key_file_owner(void **state)
{
	struct fx *f = *state;
	uint8_t key[HM_SEAL_KEY_LEN];
	struct passwd *pw;

	if (geteuid() != 0) {
		print_message("skipped: giving a file to another user needs root (chown)\n");
		skip();
	}
	pw = getpwnam("nobody");
	if (pw == NULL || pw->pw_uid == 0) {
		print_message("skipped: no user 'nobody' to give the key file to\n");
		skip();
	}
	write_file(at(f, "theirs"), f->key, sizeof(f->key), 0600);
	assert_int_equal(chown(f->path, pw->pw_uid, (gid_t)-1), 0);
	load_expect(f->path, HM_ESTATE, "owned by uid", key);
}

static void test_generate(void **state)
{
	struct fx *f = *state;
	uint8_t key[HM_SEAL_KEY_LEN], key2[HM_SEAL_KEY_LEN], back[64];
	char err[256], target[128];
	struct stat st;
	mode_t old;
	int fd;

	assert_int_equal(hm_seal_key_generate(at(f, "new"), err, sizeof(err)), HM_OK);
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, HM_SEAL_KEY_LEN);
	assert_int_equal(st.st_uid, geteuid());
	load_expect(f->path, HM_OK, NULL, key);
	assert_int_equal(hm_seal_key_generate(at(f, "new2"), err, sizeof(err)), HM_OK);
	load_expect(f->path, HM_OK, NULL, key2);
	assert_memory_not_equal(key, key2, sizeof(key));

	/* an existing file is refused and left as it was, even one that is no key */
	write_file(at(f, "mine"), "not a key", 9, 0644);
	assert_int_equal(hm_seal_key_generate(f->path, err, sizeof(err)), HM_EEXIST);
	assert_non_null(strstr(err, "already exists"));
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	fd = open(f->path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, back, sizeof(back)), 9);
	assert_memory_equal(back, "not a key", 9);
	assert_int_equal(close(fd), 0);
	assert_int_equal(hm_seal_key_generate(at(f, "new"), err, sizeof(err)), HM_EEXIST);
	load_expect(f->path, HM_OK, NULL, key2);
	assert_memory_equal(key, key2, sizeof(key));

	/* nor through a symbolic link, dangling or not: nothing is created at its target */
	snprintf(target, sizeof(target), "%s/target", f->dir);
	assert_int_equal(symlink(target, at(f, "dangling")), 0);
	assert_int_equal(hm_seal_key_generate(f->path, err, sizeof(err)), HM_EEXIST);
	assert_int_equal(lstat(target, &st), -1);
	assert_int_equal(errno, ENOENT);

	/* 0600 whatever the umask */
	old = umask(0377);
	assert_int_equal(hm_seal_key_generate(at(f, "umask"), err, sizeof(err)), HM_OK);
	umask(0);
	assert_int_equal(hm_seal_key_generate(at(f, "umask0"), err, sizeof(err)), HM_OK);
	umask(old);
	assert_int_equal(stat(at(f, "umask"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(at(f, "umask0"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	/* a directory that is not there */
	assert_int_equal(hm_seal_key_generate(at(f, "none/key"), err, sizeof(err)), HM_EIO);
	assert_non_null(strstr(err, "create"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_derived_keys_pinned),
		cmocka_unit_test(test_id_per_key),
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_nonce_digest),
		cmocka_unit_test(test_nonce_mac),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_fresh_iv),
		cmocka_unit_test(test_flipped_bits),
		cmocka_unit_test(test_other_aad),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_other_seal_key),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test_setup_teardown(test_key_file_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_file_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_file_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_file_content, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_file_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_generate, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
