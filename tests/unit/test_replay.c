/* test_replay.c - the nonce cache: fresh, seen, expiry, scope separation, fail-closed when full. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "replay.h"

struct fx {
	struct hm_replay *r;
	EVP_MD_CTX *md;
	EVP_MD *sha;
};

static int setup(void **state)
{
	static struct fx f;

	assert_int_equal(hm_replay_new(4096, &f.r), HM_OK);
	f.md = EVP_MD_CTX_new();
	f.sha = EVP_MD_fetch(NULL, "SHA256", NULL);
	assert_non_null(f.md);
	assert_non_null(f.sha);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	hm_replay_free(f->r);
	EVP_MD_CTX_free(f->md);
	EVP_MD_free(f->sha);
	return 0;
}

static void key(struct fx *f, const char *t, const char *c, const char *n, uint8_t out[16])
{
	assert_int_equal(hm_replay_key(f->r, f->md, f->sha, (const uint8_t *)t, strlen(t),
				       (const uint8_t *)c, strlen(c), (const uint8_t *)n, strlen(n),
				       out),
			 HM_OK);
}

static void test_fresh_then_seen(void **state)
{
	struct fx *f = *state;
	uint8_t k[16];

	key(f, "t1", "c1", "nonce-1", k);
	assert_int_equal(hm_replay_check(f->r, k, 1000, 100), HM_REPLAY_FRESH);
	assert_int_equal(hm_replay_check(f->r, k, 1000, 101), HM_REPLAY_SEEN);
	assert_int_equal(hm_replay_check(f->r, k, 1000, 999), HM_REPLAY_SEEN);
	assert_true(hm_replay_used(f->r) >= 1);
}

static void test_expiry_frees_the_nonce(void **state)
{
	struct fx *f = *state;
	uint8_t k[16];

	key(f, "t1", "c1", "nonce-exp", k);
	assert_int_equal(hm_replay_check(f->r, k, 200, 100), HM_REPLAY_FRESH);
	assert_int_equal(hm_replay_check(f->r, k, 300, 199), HM_REPLAY_SEEN);
	/* at its expiry time the entry is dead, and the slot is reused */
	assert_int_equal(hm_replay_check(f->r, k, 400, 200), HM_REPLAY_FRESH);
	assert_int_equal(hm_replay_check(f->r, k, 400, 201), HM_REPLAY_SEEN);
}

static void test_scope_is_part_of_the_key(void **state)
{
	struct fx *f = *state;
	uint8_t a[16], b[16], c[16], d[16];

	key(f, "t1", "c1", "n", a);
	key(f, "t1", "c2", "n", b);
	key(f, "t2", "c1", "n", c);
	key(f, "t1c", "1", "n", d); /* moving bytes between fields changes the key */
	assert_memory_not_equal(a, b, 16);
	assert_memory_not_equal(a, c, 16);
	assert_memory_not_equal(a, d, 16);
	assert_int_equal(hm_replay_check(f->r, a, 1000, 1), HM_REPLAY_FRESH);
	assert_int_equal(hm_replay_check(f->r, b, 1000, 1), HM_REPLAY_FRESH);
	assert_int_equal(hm_replay_check(f->r, c, 1000, 1), HM_REPLAY_FRESH);
	assert_int_equal(hm_replay_check(f->r, d, 1000, 1), HM_REPLAY_FRESH);
}

static void test_full_fails_closed(void **state)
{
	struct fx *f = *state;
	size_t cap = hm_replay_capacity(f->r), fresh = 0, full = 0;
	char n[32];
	uint8_t k[16];

	assert_int_equal(cap, 4096);
	for (size_t i = 0; i < 4 * cap; i++) {
		snprintf(n, sizeof(n), "fill-%zu", i);
		key(f, "tf", "cf", n, k);
		switch (hm_replay_check(f->r, k, 10000, 10)) {
		case HM_REPLAY_FRESH:
			fresh++;
			break;
		case HM_REPLAY_FULL:
			full++;
			/* the capacity asked for is really there: nothing refused before it */
			assert_true(i >= cap);
			break;
		case HM_REPLAY_SEEN:
			fail_msg("a distinct nonce was reported as seen");
		}
	}
	assert_true(fresh >= cap);
	assert_true(fresh <= 2 * cap); /* never more than the table holds */
	assert_true(full >= 2 * cap);
	/* no live entry was evicted: the first nonces are still remembered */
	for (size_t i = 0; i < 16; i++) {
		snprintf(n, sizeof(n), "fill-%zu", i);
		key(f, "tf", "cf", n, k);
		assert_int_not_equal(hm_replay_check(f->r, k, 10000, 11), HM_REPLAY_FRESH);
	}
	/* once everything expired, there is room again */
	key(f, "tf", "cf", "after", k);
	assert_int_equal(hm_replay_check(f->r, k, 30000, 20000), HM_REPLAY_FRESH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fresh_then_seen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry_frees_the_nonce, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scope_is_part_of_the_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_fails_closed, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
