/*
 * test_record.c - the key store's bytes on disk (daemon/store/record.c), without LMDB.
 *
 * The expected bytes are written out here at the offsets doc/keystore.md gives ("Layout"), not
 * with record.h's constants, so that a change to the format fails here even though the store
 * and test_keystore.c (which plants records with record.h) would still agree with each other.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "store/record.h"

/* ---- keys ---- */

static void test_key_bytes(void **state)
{
	static const uint8_t want[] = { 2, 't', '1', 1, 'c', 0, 0, 1, 2 };
	static const uint8_t tenant_only[] = { 2, 't', '1', 0 };
	uint8_t key[KS_KEY_MAX];
	size_t n, tl = 0, cl = 0;

	(void)state;
	n = ks_key_prefix(key, (const uint8_t *)"t1", 2, (const uint8_t *)"c", 1);
	ks_put_be32(key + n, 258);
	assert_int_equal(n + 4, sizeof(want));
	assert_memory_equal(key, want, sizeof(want));
	assert_null(ks_scope_split(key, n + 4, 4, false, &tl, &cl));
	assert_int_equal(tl, 2);
	assert_int_equal(cl, 1);
	assert_int_equal(ks_get_be32(key + n), 258);

	/* a tenant's policy key: container length 0, nothing after it */
	n = ks_key_prefix(key, (const uint8_t *)"t1", 2, (const uint8_t *)"", 0);
	assert_int_equal(n, sizeof(tenant_only));
	assert_memory_equal(key, tenant_only, n);
	assert_null(ks_scope_split(key, n, 0, true, &tl, &cl));
	assert_int_equal(cl, 0);
	assert_non_null(ks_scope_split(key, n, 0, false, &tl, &cl));
}

static void test_key_refused(void **state)
{
	static const struct {
		uint8_t k[12];
		size_t n;
		const char *why;
	} bad[] = {
		{ { 1, 't', 1 }, 3, "short key" },
		{ { 0, 1, 'c', 0, 0, 0, 1 }, 7, "bad tenant length in key" },
		{ { 9, 't', 1, 'c', 0, 0, 0, 1 }, 8, "bad tenant length in key" },
		{ { 1, 't', 0, 0, 0, 0, 1 }, 7, "bad container length in key" },
		{ { 1, 't', 1, 'c', 0, 0, 0, 1, 0 }, 9, "bad container length in key" },
		{ { 1, 't', 1, ' ', 0, 0, 0, 1 }, 8, "bad scope name in key" },
		{ { 1, '\n', 1, 'c', 0, 0, 0, 1 }, 8, "bad scope name in key" },
		{ { 1, 't', 1, 'c', 0, 0, 0, 0 }, 8, "epoch 0 in key" },
	};
	size_t i, tl, cl;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_string_equal(ks_scope_split(bad[i].k, bad[i].n, 4, false, &tl, &cl),
				    bad[i].why);
}

/* ---- byte order ---- */

static void test_byte_order(void **state)
{
	static const uint8_t minus2[8] = { 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t b[8];

	(void)state;
	ks_put_le64(b, -2);
	assert_memory_equal(b, minus2, 8);
	assert_true(ks_get_le64(b) == -2);
	ks_put_le64(b, INT64_MIN);
	assert_true(ks_get_le64(b) == INT64_MIN);
	ks_put_le64(b, INT64_MAX);
	assert_true(ks_get_le64(b) == INT64_MAX);
	ks_put_le32(b, 0x01020304u);
	assert_int_equal(b[0], 4);
	assert_int_equal(b[3], 1);
	assert_int_equal(ks_get_le32(b), 0x01020304u);
	ks_put_be32(b, 0x01020304u);
	assert_int_equal(b[0], 1);
	assert_int_equal(b[3], 4);
	assert_int_equal(ks_get_be32(b), 0x01020304u);
}

/* ---- records, format 2 ---- */

/* A superseded epoch with a 16-byte secret and key id "k1", byte by byte (98 bytes). */
static void format2_example(uint8_t want[98])
{
	memset(want, 0, 98);
	want[0] = 2;                                /* format */
	want[4] = 2;                                /* superseded */
	memcpy(want + 8, "\x08\x07\x06\x05\x04\x03\x02\x01", 8); /* created 0x0102030405060708 */
	want[16] = 0xfc;                            /* deadline 2300 */
	want[17] = 0x08;
	want[24] = 16;                              /* secret length */
	want[25] = 2;                               /* key id length */
	memset(want + 32, 0xa5, 16);                /* the secret, zeros to 96 */
	memcpy(want + 96, "k1", 2);
}

static void test_record_bytes(void **state)
{
	uint8_t want[98], rec[KS_REC_MAX], secret[16];
	struct ks_meta m = { .state = HM_KEY_SUPERSEDED, .created = 0x0102030405060708,
			     .deadline = 2300, .secret_len = 16, .keyid = (const uint8_t *)"k1",
			     .keyid_len = 2 };
	struct ks_meta got;
	char err[128] = "";

	(void)state;
	format2_example(want);
	memset(secret, 0xa5, sizeof(secret));
	assert_int_equal(ks_rec_encode(rec, &m, secret), sizeof(want));
	assert_memory_equal(rec, want, sizeof(want));

	memset(&got, 0, sizeof(got));
	assert_int_equal(ks_rec_check(want, sizeof(want), &got, err, sizeof(err)), HM_OK);
	assert_int_equal(got.state, HM_KEY_SUPERSEDED);
	assert_true(got.created == 0x0102030405060708);
	assert_true(got.deadline == 2300);
	assert_int_equal(got.secret_len, 16);
	assert_int_equal(got.keyid_len, 2);
	assert_ptr_equal(got.keyid, want + 96);
	assert_string_equal(err, "");

	/* revoked: no secret and no secret length, the key id kept */
	m.state = HM_KEY_REVOKED;
	m.deadline = 0;
	assert_int_equal(ks_rec_encode(rec, &m, NULL), sizeof(want));
	memset(want + 32, 0, 16);
	want[4] = 3;
	want[16] = want[17] = want[24] = 0;
	assert_memory_equal(rec, want, sizeof(want));
	assert_int_equal(ks_rec_check(rec, sizeof(want), &got, err, sizeof(err)), HM_OK);
	assert_int_equal(got.secret_len, 0);
}

/* Each change to the example: the record is refused, with this reason. */
static void test_record_refused(void **state)
{
	static const struct {
		size_t off;
		uint8_t val;
		size_t len;
		const char *why;
	} bad[] = {
		{ 0, 2, 96, "record of 96 bytes, want 97 to 224" },
		{ 0, 2, 60, "record of 60 bytes, want 97 to 224" },
		{ 0, 1, 98, "key record format 1, this build reads 2" },
		{ 4, 0, 98, "bad state or times" },
		{ 4, 4, 98, "bad state or times" },
		{ 15, 0x80, 98, "bad state or times" },  /* created < 0 */
		{ 23, 0x80, 98, "bad state or times" },  /* deadline < 0 */
		{ 4, 3, 98, "bad secret length" },       /* revoked with a secret */
		{ 24, 15, 98, "bad secret length" },
		{ 24, 65, 98, "bad secret length" },
		{ 25, 3, 98, "bad key id" },             /* longer than the record */
		{ 25, 0, 98, "bad key id" },
		{ 96, ' ', 98, "bad key id" },
		{ 26, 1, 98, "reserved bytes set" },
		{ 31, 1, 98, "reserved bytes set" },
		{ 48, 1, 98, "reserved bytes set" },     /* past the 16-byte secret */
		{ 95, 1, 98, "reserved bytes set" },
	};
	uint8_t rec[KS_REC_MAX + 1];
	struct ks_meta m;
	char err[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(rec, 0, sizeof(rec));
		format2_example(rec);
		rec[bad[i].off] = bad[i].val;
		err[0] = '\0';
		assert_int_equal(ks_rec_check(rec, bad[i].len, &m, err, sizeof(err)), HM_ESTORE);
		assert_non_null(strstr(err, bad[i].why));
	}
	assert_int_equal(ks_rec_check(rec, KS_REC_MAX + 1, &m, err, sizeof(err)), HM_ESTORE);
	assert_non_null(strstr(err, "record of 225 bytes"));
}

/* ---- records, format 1 (schema 1) ---- */

static void test_record1(void **state)
{
	uint8_t rec[64];
	struct ks_meta m;
	char err[128];

	(void)state;
	/* where the upgrade finds a format 1 secret */
	assert_int_equal(KS_REC1_OFF_SECRET, 24);
	assert_int_equal(KS_REC1_SECRET_LEN, 32);
	memset(rec, 0, sizeof(rec));
	rec[0] = 1;                 /* format */
	rec[4] = 1;                 /* current */
	rec[8] = 0xe8;              /* created 1000 */
	rec[9] = 0x03;
	memset(rec + 24, 0x33, 32); /* the secret, then 8 zero bytes */
	assert_int_equal(ks_rec1_check(rec, sizeof(rec), &m, err, sizeof(err)), HM_OK);
	assert_int_equal(m.state, HM_KEY_CURRENT);
	assert_true(m.created == 1000);
	assert_true(m.deadline == 0);
	assert_int_equal(m.secret_len, 32);
	rec[4] = 3;
	assert_int_equal(ks_rec1_check(rec, sizeof(rec), &m, err, sizeof(err)), HM_OK);
	assert_int_equal(m.secret_len, 0);

	assert_int_equal(ks_rec1_check(rec, 63, &m, err, sizeof(err)), HM_ESTORE);
	assert_non_null(strstr(err, "corrupt schema 1 key record (63 bytes)"));
	rec[56] = 1;
	assert_int_equal(ks_rec1_check(rec, sizeof(rec), &m, err, sizeof(err)), HM_ESTORE);
	rec[56] = 0;
	rec[0] = 2;
	assert_int_equal(ks_rec1_check(rec, sizeof(rec), &m, err, sizeof(err)), HM_ESTORE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_bytes),
		cmocka_unit_test(test_key_refused),
		cmocka_unit_test(test_byte_order),
		cmocka_unit_test(test_record_bytes),
		cmocka_unit_test(test_record_refused),
		cmocka_unit_test(test_record1),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
