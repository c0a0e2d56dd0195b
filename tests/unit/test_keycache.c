/*
 * test_keycache.c - the workers' key cache through its public API: positive and negative
 * entries, exact name comparison (names sharing a set, names that differ only in where the
 * tenant ends and the container begins), LRU eviction within a set, clearing, the used count,
 * the epoch bound, snapshots (an entry hits only its own txn id; a newer one clears), that the
 * cached keys give the same MAC as a one-shot HMAC, and several threads sharing one cache.
 *
 * The set hash is seeded at random, so a test cannot choose which names share a set. A cache of
 * capacity HM_KC_WAYS has exactly one set, which makes every name collide on the set and the
 * LRU order fully observable; a larger cache is tested through properties that hold whatever
 * the seed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <pthread.h>
#include <stdatomic.h>

#include <cmocka.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "engine/keycache.h"
#include "proto/msg.h"

#define TX 7 /* the snapshot the tests read, unless they say otherwise */

struct fx {
	struct hm_keycache *kc;
	struct hm_kc_use u; /* what the last get or put handed out */
};

/* the junk key of the cache: keys the entries of epochs without a usable secret */
#define JUNK_FILL 0x6a
static const uint8_t junk[HM_KEY_LEN] = {
	JUNK_FILL, JUNK_FILL, JUNK_FILL, JUNK_FILL, JUNK_FILL, JUNK_FILL, JUNK_FILL, JUNK_FILL,
	JUNK_FILL, JUNK_FILL, JUNK_FILL, JUNK_FILL, JUNK_FILL, JUNK_FILL, JUNK_FILL, JUNK_FILL,
	JUNK_FILL, JUNK_FILL, JUNK_FILL, JUNK_FILL, JUNK_FILL, JUNK_FILL, JUNK_FILL, JUNK_FILL,
	JUNK_FILL, JUNK_FILL, JUNK_FILL, JUNK_FILL, JUNK_FILL, JUNK_FILL, JUNK_FILL, JUNK_FILL,
};

static int setup_cap(void **state, size_t capacity)
{
	static struct fx f;

	memset(&f, 0, sizeof(f));
	assert_int_equal(hm_kc_use_init(&f.u), HM_OK);
	assert_int_equal(hm_keycache_new(capacity, junk, &f.kc), HM_OK);
	assert_non_null(f.kc);
	*state = &f;
	return 0;
}

static int setup_one_set(void **state)
{
	return setup_cap(state, HM_KC_WAYS);
}

static int setup_16(void **state)
{
	return setup_cap(state, 16);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	hm_keycache_free(f->kc);
	hm_kc_use_free(&f->u);
	return 0;
}

/* A hit (f->u then holds the entry) or a miss; anything else fails the test. */
static struct hm_kc_use *get(struct fx *f, const char *t, const char *c, uint64_t epoch)
{
	int rc = hm_keycache_get(f->kc, (const uint8_t *)t, strlen(t), (const uint8_t *)c,
				 strlen(c), epoch, TX, &f->u);

	if (rc == HM_ENOTFOUND || rc == HM_EINVAL)
		return NULL;
	assert_int_equal(rc, HM_OK);
	assert_true(f->u.keyed);
	return &f->u;
}

/* A record whose secret is 32 bytes of `fill`. */
static void rec_init(struct hm_key_rec *rec, enum hm_key_state state, int64_t deadline,
		     uint8_t fill)
{
	memset(rec, 0, sizeof(*rec));
	rec->state = state;
	rec->deadline = deadline;
	if (state != HM_KEY_REVOKED) {
		rec->secret_len = HM_KEY_LEN;
		memset(rec->secret, fill, HM_KEY_LEN);
	}
}

static struct hm_kc_use *put(struct fx *f, const char *t, const char *c, uint64_t epoch,
			     const struct hm_key_rec *rec)
{
	assert_int_equal(hm_keycache_put(f->kc, (const uint8_t *)t, strlen(t), (const uint8_t *)c,
					 strlen(c), epoch, TX, rec, &f->u),
			 HM_OK);
	assert_true(f->u.keyed);
	return &f->u;
}

static void put_current(struct fx *f, const char *t, const char *c, uint64_t epoch, uint8_t fill)
{
	struct hm_key_rec rec;

	rec_init(&rec, HM_KEY_CURRENT, 0, fill);
	(void)put(f, t, c, epoch, &rec);
	OPENSSL_cleanse(&rec, sizeof(rec));
}

/* HMAC-SHA256 of msg with the key a get or put handed out (used up by it). */
static void entry_mac(struct hm_kc_use *e, const char *msg, uint8_t out[HM_MAC_LEN])
{
	assert_non_null(e);
	assert_true(e->keyed);
	assert_true(hm_kc_mac(e, (const uint8_t *)msg, strlen(msg), out));
	assert_false(e->keyed);
}

static void oneshot_mac(uint8_t fill, const char *msg, uint8_t out[HM_MAC_LEN])
{
	uint8_t key[HM_KEY_LEN];
	size_t n = 0;

	memset(key, fill, sizeof(key));
	assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, sizeof(key),
				  (const uint8_t *)msg, strlen(msg), out, HM_MAC_LEN, &n));
	assert_int_equal(n, HM_MAC_LEN);
}

static void test_empty(void **state)
{
	struct fx *f = *state;

	assert_int_equal(hm_keycache_used(f->kc), 0);
	assert_null(get(f, "t1", "c1", 1));
}

static void test_put_get_states(void **state)
{
	struct fx *f = *state;
	struct hm_key_rec rec;
	struct hm_kc_use *e;

	rec_init(&rec, HM_KEY_CURRENT, 0, 0x11);
	e = put(f, "t1", "c1", 1, &rec);
	assert_true(e->exists);
	assert_int_equal(e->state, HM_KEY_CURRENT);
	assert_true(e->keyed);
	assert_non_null(get(f, "t1", "c1", 1));

	rec_init(&rec, HM_KEY_SUPERSEDED, 1700000100, 0x22);
	e = put(f, "t1", "c1", 2, &rec);
	assert_true(e->exists);
	assert_int_equal(e->state, HM_KEY_SUPERSEDED);
	assert_int_equal(e->deadline, 1700000100);
	assert_true(e->keyed);

	/* a revoked epoch exists; its context is keyed with the junk key, not its secret */
	rec_init(&rec, HM_KEY_REVOKED, 0, 0);
	e = put(f, "t1", "c1", 3, &rec);
	assert_true(e->exists);
	assert_int_equal(e->state, HM_KEY_REVOKED);
	{
		uint8_t got[HM_MAC_LEN], want[HM_MAC_LEN];

		entry_mac(e, "revoked", got);
		oneshot_mac(JUNK_FILL, "revoked", want);
		assert_memory_equal(got, want, HM_MAC_LEN);
	}
	OPENSSL_cleanse(&rec, sizeof(rec));

	assert_int_equal(hm_keycache_used(f->kc), 3);
	assert_non_null(get(f, "t1", "c1", 1));
	assert_non_null(get(f, "t1", "c1", 2));
	assert_non_null(get(f, "t1", "c1", 3));
	assert_null(get(f, "t1", "c1", 4));
}

/* "No such epoch" is cached too, so an unknown key takes the same path as a known one. */
static void test_negative_entry(void **state)
{
	struct fx *f = *state;
	struct hm_kc_use *e;

	e = put(f, "nobody", "c1", 7, NULL);
	assert_false(e->exists);
	{
		/* its own context, keyed with the junk key: the same MAC work as a real entry */
		uint8_t got[HM_MAC_LEN], want[HM_MAC_LEN];

		entry_mac(e, "nobody", got);
		oneshot_mac(JUNK_FILL, "nobody", want);
		assert_memory_equal(got, want, HM_MAC_LEN);
	}
	assert_non_null(get(f, "nobody", "c1", 7));
	assert_false(e->exists);
	assert_int_equal(hm_keycache_used(f->kc), 1);
	/* the store later says it exists: the same slot now holds a positive entry */
	put_current(f, "nobody", "c1", 7, 0x33);
	e = get(f, "nobody", "c1", 7);
	assert_non_null(e);
	assert_true(e->exists);
	assert_true(e->keyed);
	assert_int_equal(hm_keycache_used(f->kc), 1);
}

/* Re-putting the same scope replaces in place: no duplicate, the count does not grow. */
static void test_replace_same_key(void **state)
{
	struct fx *f = *state;
	uint8_t a[HM_MAC_LEN], b[HM_MAC_LEN];

	put_current(f, "t1", "c1", 1, 0x01);
	put_current(f, "t1", "c1", 1, 0x02);
	assert_int_equal(hm_keycache_used(f->kc), 1);
	entry_mac(get(f, "t1", "c1", 1), "msg", a);
	oneshot_mac(0x02, "msg", b);
	assert_memory_equal(a, b, HM_MAC_LEN);
}

/*
 * All four entries share the one set: each lookup must find its own entry by the exact bytes,
 * including ("ab","c") versus ("a","bc"), whose concatenated names are equal, and a name that
 * is a prefix of another.
 */
static void test_exact_names_in_one_set(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *t, *c;
		uint8_t fill;
	} k[4] = {
		{"ab", "c", 0xa1},
		{"a", "bc", 0xa2},
		{"abc", "", 0xa3},
		{"ab", "c0", 0xa4},
	};
	uint8_t got[HM_MAC_LEN], want[HM_MAC_LEN];

	for (size_t i = 0; i < 4; i++)
		put_current(f, k[i].t, k[i].c, 1, k[i].fill);
	assert_int_equal(hm_keycache_used(f->kc), 4);
	for (size_t i = 0; i < 4; i++) {
		struct hm_kc_use *e = get(f, k[i].t, k[i].c, 1);

		assert_non_null(e);
		entry_mac(e, "which key?", got);
		oneshot_mac(k[i].fill, "which key?", want);
		assert_memory_equal(got, want, HM_MAC_LEN);
	}
	/* near misses are not found */
	assert_null(get(f, "", "abc", 1));
	assert_null(get(f, "ab", "", 1));
	assert_null(get(f, "ab", "c", 2));
	assert_null(get(f, "AB", "c", 1));
	/* an embedded NUL is a byte like any other */
	assert_int_equal(hm_keycache_get(f->kc, (const uint8_t *)"ab", 2, (const uint8_t *)"c\0", 2,
					 1, TX, &f->u),
			 HM_ENOTFOUND);
}

/* With one set, the least recently used of its entries goes first; a get counts as a use. */
static void test_lru_in_one_set(void **state)
{
	struct fx *f = *state;
	char name[16];

	for (unsigned w = 0; w < HM_KC_WAYS; w++) {
		snprintf(name, sizeof(name), "w%u", w);
		put_current(f, "t", name, 1, (uint8_t)(w + 1));
	}
	assert_int_equal(hm_keycache_used(f->kc), HM_KC_WAYS);
	assert_non_null(get(f, "t", "w0", 1)); /* w0 is now the most recent; w1 the least */
	put_current(f, "t", "new", 1, 0x77);
	assert_int_equal(hm_keycache_used(f->kc), HM_KC_WAYS);
	assert_null(get(f, "t", "w1", 1));
	assert_non_null(get(f, "t", "w0", 1));
	assert_non_null(get(f, "t", "new", 1));
	for (unsigned w = 2; w < HM_KC_WAYS; w++) {
		snprintf(name, sizeof(name), "w%u", w);
		assert_non_null(get(f, "t", name, 1));
	}
	/* order of use is now w0 new w2 ...: a negative entry evicts w0 as well */
	(void)put(f, "t", "neg", 1, NULL);
	assert_null(get(f, "t", "w0", 1));
	assert_non_null(get(f, "t", "neg", 1));
	assert_int_equal(hm_keycache_used(f->kc), HM_KC_WAYS);
}

/*
 * Names longer than the slot holds inline go to a buffer of the slot's own; a slot that held
 * long names can hold short ones again and the other way round.
 */
static void test_long_names(void **state)
{
	struct fx *f = *state;
	char t[HM_SCOPE_MAX + 1], c[HM_SCOPE_MAX + 1], name[16];
	uint8_t got[HM_MAC_LEN], want[HM_MAC_LEN];

	memset(t, 't', HM_SCOPE_MAX);
	t[HM_SCOPE_MAX] = '\0';
	memset(c, 'c', HM_SCOPE_MAX);
	c[HM_SCOPE_MAX] = '\0';
	for (int round = 0; round < 3; round++) {
		/* one set: every round evicts everything, long and short names in turn */
		for (unsigned w = 0; w < HM_KC_WAYS; w++) {
			snprintf(name, sizeof(name), "%u-%d", w, round);
			memcpy(c, name, strlen(name));
			if ((w + (unsigned)round) % 2)
				put_current(f, t, c, 1, (uint8_t)(w + 1));
			else
				put_current(f, "t", name, 1, (uint8_t)(w + 1));
		}
		for (unsigned w = 0; w < HM_KC_WAYS; w++) {
			snprintf(name, sizeof(name), "%u-%d", w, round);
			memcpy(c, name, strlen(name));
			entry_mac((w + (unsigned)round) % 2 ? get(f, t, c, 1) : get(f, "t", name, 1),
				  "long", got);
			oneshot_mac((uint8_t)(w + 1), "long", want);
			assert_memory_equal(got, want, HM_MAC_LEN);
		}
		assert_null(get(f, t, "c", 1));
	}
}

/*
 * Capacity 16 = two sets of eight. Whatever the seed: the count never exceeds 16 and reaches it
 * with many scopes; the last three entries put are always present; an entry used before every
 * put is never the LRU of its set, so it survives.
 */
static void test_eviction_capacity_16(void **state)
{
	struct fx *f = *state;
	char name[32], prev[4][32];
	uint8_t got[HM_MAC_LEN], want[HM_MAC_LEN];

	put_current(f, "hot", "c", 1, 0x5a);
	for (int i = 0; i < 400; i++) {
		assert_non_null(get(f, "hot", "c", 1));
		snprintf(name, sizeof(name), "c%d", i);
		put_current(f, "t", name, 1, (uint8_t)i);
		assert_true(hm_keycache_used(f->kc) <= 16);
		memmove(prev[1], prev[0], sizeof(prev) - sizeof(prev[0]));
		memcpy(prev[0], name, sizeof(name));
		/*
		 * The three newest are always there: even if they and "hot" share one set, "hot"
		 * was used before the put and they after it. Looked up oldest first, so the
		 * lookups keep their order of recency. (A fourth may share the set and go.)
		 */
		for (int k = (i < 2 ? i : 2); k >= 0; k--)
			assert_non_null(get(f, "t", prev[k], 1));
	}
	assert_int_equal(hm_keycache_used(f->kc), 16);
	entry_mac(get(f, "hot", "c", 1), "still keyed", got);
	oneshot_mac(0x5a, "still keyed", want);
	assert_memory_equal(got, want, HM_MAC_LEN);
	/* the survivors are the right ones: every present entry has its own key */
	for (int i = 0; i < 400; i++) {
		struct hm_kc_use *e;

		snprintf(name, sizeof(name), "c%d", i);
		e = get(f, "t", name, 1);
		if (e == NULL)
			continue;
		entry_mac(e, "x", got);
		oneshot_mac((uint8_t)i, "x", want);
		assert_memory_equal(got, want, HM_MAC_LEN);
	}
}

static void test_clear(void **state)
{
	struct fx *f = *state;
	char name[32];

	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "c%d", i);
		put_current(f, "t", name, 1, (uint8_t)i);
	}
	(void)put(f, "t", "neg", 1, NULL);
	assert_true(hm_keycache_used(f->kc) > 0);
	hm_keycache_clear(f->kc);
	assert_int_equal(hm_keycache_used(f->kc), 0);
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "c%d", i);
		assert_null(get(f, "t", name, 1));
	}
	assert_null(get(f, "t", "neg", 1));
	/* usable again after a clear; clearing an empty cache is harmless */
	put_current(f, "t", "c0", 1, 0);
	assert_int_equal(hm_keycache_used(f->kc), 1);
	hm_keycache_clear(f->kc);
	hm_keycache_clear(f->kc);
	assert_int_equal(hm_keycache_used(f->kc), 0);
}

/* Epochs past UINT32_MAX and over-long names are refused, never truncated into another key. */
static void test_bounds_refused(void **state)
{
	struct fx *f = *state;
	struct hm_key_rec rec;
	uint8_t longname[HM_SCOPE_MAX + 1];

	rec_init(&rec, HM_KEY_CURRENT, 0, 0x44);
	put_current(f, "t1", "c1", 1, 0x44);
	assert_int_equal(hm_keycache_put(f->kc, (const uint8_t *)"t1", 2, (const uint8_t *)"c1", 2,
					 (uint64_t)UINT32_MAX + 1, TX, &rec, &f->u),
			 HM_EINVAL);
	assert_false(f->u.keyed);
	/* 2^32 + 1 would alias epoch 1 if the epoch were truncated to 32 bits */
	assert_null(get(f, "t1", "c1", (uint64_t)UINT32_MAX + 1));
	assert_null(get(f, "t1", "c1", (uint64_t)UINT32_MAX + 2));
	assert_null(get(f, "t1", "c1", UINT64_MAX));
	assert_int_equal(hm_keycache_used(f->kc), 1);

	/* the largest epoch is fine */
	(void)put(f, "t1", "c1", UINT32_MAX, &rec);
	assert_non_null(get(f, "t1", "c1", UINT32_MAX));

	memset(longname, 'a', sizeof(longname));
	assert_int_equal(hm_keycache_put(f->kc, longname, sizeof(longname), (const uint8_t *)"c",
					 1, 1, TX, &rec, &f->u),
			 HM_EINVAL);
	assert_int_equal(hm_keycache_put(f->kc, (const uint8_t *)"t", 1, longname,
					 sizeof(longname), 1, TX, &rec, &f->u),
			 HM_EINVAL);
	assert_int_equal(hm_keycache_get(f->kc, longname, sizeof(longname), (const uint8_t *)"c", 1,
					 1, TX, &f->u),
			 HM_EINVAL);
	/* the longest names are fine */
	assert_int_equal(hm_keycache_put(f->kc, longname, HM_SCOPE_MAX, longname, HM_SCOPE_MAX, 1,
					 TX, &rec, &f->u),
			 HM_OK);
	assert_int_equal(hm_keycache_get(f->kc, longname, HM_SCOPE_MAX, longname, HM_SCOPE_MAX, 1,
					 TX, &f->u),
			 HM_OK);
	/* a secret of a length the store never writes is refused */
	rec.secret_len = HM_KEY_MIN - 1;
	assert_int_equal(hm_keycache_put(f->kc, (const uint8_t *)"t9", 2, (const uint8_t *)"c", 1,
					 1, TX, &rec, &f->u),
			 HM_EINVAL);
	OPENSSL_cleanse(&rec, sizeof(rec));
}

/* rfc9421 key id slots: all 64 bits are the key, in a namespace apart from epoch numbers. */
static void test_keyid_slots(void **state)
{
	struct fx *f = *state;
	const uint64_t a = HM_KC_KEYID_BIT | 1, b = HM_KC_KEYID_BIT | (UINT64_C(1) << 32) | 1;
	uint8_t got[HM_MAC_LEN], want[HM_MAC_LEN];

	put_current(f, "t1", "c1", a, 0x51);
	assert_non_null(get(f, "t1", "c1", a));
	assert_non_null(get(f, "t1", "c1", a)); /* a hit, every time */
	/* the same low 32 bits, and epoch 1 itself, are other entries */
	assert_null(get(f, "t1", "c1", b));
	assert_null(get(f, "t1", "c1", 1));
	put_current(f, "t1", "c1", b, 0x52);
	entry_mac(get(f, "t1", "c1", b), "k", got);
	oneshot_mac(0x52, "k", want);
	assert_memory_equal(got, want, HM_MAC_LEN);
	entry_mac(get(f, "t1", "c1", a), "k", got);
	oneshot_mac(0x51, "k", want);
	assert_memory_equal(got, want, HM_MAC_LEN);
	assert_null(get(f, "t1", "c2", a)); /* the scope is part of the key */
	assert_int_equal(hm_keycache_used(f->kc), 2);
}

/*
 * A lookup by a hash taken beforehand (what the verifier's look-ahead does) finds the entry
 * with the hash of its own names only: another scope's hash, even one that is cached, misses,
 * and never hands out that scope's key. The look-ahead hints read nothing they could get wrong
 * for any hash, on an empty or a full set.
 */
static void test_hashed_lookup(void **state)
{
	struct fx *f = *state;
	const uint8_t *t1 = (const uint8_t *)"t1", *c1 = (const uint8_t *)"c1",
		      *c2 = (const uint8_t *)"c2";
	uint8_t got[HM_MAC_LEN], want[HM_MAC_LEN];
	uint64_t h1 = hm_keycache_hash(f->kc, t1, 2, c1, 2, 1),
		 h2 = hm_keycache_hash(f->kc, t1, 2, c2, 2, 1);
	static const uint64_t any[] = {0, 1, UINT64_MAX, UINT64_C(0x8000000000000000)};

	for (size_t i = 0; i < sizeof(any) / sizeof(any[0]); i++) {
		hm_keycache_prefetch_set(f->kc, any[i]);
		hm_keycache_prefetch_slot(f->kc, any[i]);
	}
	assert_int_not_equal(h1, h2);
	assert_int_equal(h1, hm_keycache_hash(f->kc, t1, 2, c1, 2, 1)); /* stable */
	assert_int_not_equal(h1, hm_keycache_hash(f->kc, t1, 2, c1, 2, 2)); /* the epoch counts */
	put_current(f, "t1", "c1", 1, 0x11);
	put_current(f, "t1", "c2", 1, 0x22);
	for (size_t i = 0; i < sizeof(any) / sizeof(any[0]); i++) {
		hm_keycache_prefetch_set(f->kc, any[i]);
		hm_keycache_prefetch_slot(f->kc, any[i]);
	}
	hm_keycache_prefetch_set(f->kc, h1);
	hm_keycache_prefetch_slot(f->kc, h1);
	assert_int_equal(hm_keycache_get_hashed(f->kc, h1, t1, 2, c1, 2, 1, TX, &f->u), HM_OK);
	entry_mac(&f->u, "m", got);
	oneshot_mac(0x11, "m", want);
	assert_memory_equal(got, want, HM_MAC_LEN);
	/* c2's hash with c1's names, and c1's with c2's: both cached, neither found */
	assert_int_equal(hm_keycache_get_hashed(f->kc, h2, t1, 2, c1, 2, 1, TX, &f->u),
			 HM_ENOTFOUND);
	assert_int_equal(hm_keycache_get_hashed(f->kc, h1, t1, 2, c2, 2, 1, TX, &f->u),
			 HM_ENOTFOUND);
	assert_false(f->u.keyed);
	/* bounds are checked whatever the hash */
	assert_int_equal(hm_keycache_get_hashed(f->kc, h1, t1, 2, c1, 2, 0, TX, &f->u) == HM_OK,
			 false);
	assert_int_equal(hm_keycache_get_hashed(f->kc, h1, t1, HM_SCOPE_MAX + 1, c1, 2, 1, TX,
						&f->u),
			 HM_EINVAL);
}

/* The key is kept once and gives the one-shot HMAC every time it is copied out. */
static void test_prekeyed_matches_oneshot(void **state)
{
	struct fx *f = *state;
	static const char *const msgs[] = {"", "hmacd-v1\nt1\nc1\n1\nPOST\n/x\n1\n\n", "abc"};
	uint8_t got[HM_MAC_LEN], want[HM_MAC_LEN];
	struct hm_key_rec rec;
	struct hm_kc_use u;
	EVP_MD *sha256;
	size_t n = 0;

	rec_init(&rec, HM_KEY_CURRENT, 0, 0xc3);
	entry_mac(put(f, "t1", "c1", 1, &rec), msgs[0], got); /* the put's own copy */
	OPENSSL_cleanse(&rec, sizeof(rec)); /* the cache must hold its own copy of the key */
	oneshot_mac(0xc3, msgs[0], want);
	assert_memory_equal(got, want, HM_MAC_LEN);
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
			entry_mac(get(f, "t1", "c1", 1), msgs[i], got);
			oneshot_mac(0xc3, msgs[i], want);
			assert_memory_equal(got, want, HM_MAC_LEN);
		}
	}
	/* used up: a second MAC from the same copy fails instead of giving a wrong answer */
	assert_false(hm_kc_mac(&f->u, (const uint8_t *)"x", 1, got));

	/* hm_kc_use_key on its own: key lengths 3 and 64 (one whole block), and a copy */
	sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	assert_non_null(sha256);
	assert_int_equal(hm_kc_use_init(&u), HM_OK);
	assert_int_equal(hm_kc_use_key(&u, sha256, (const uint8_t *)"key", 3), HM_OK);
	assert_true(hm_kc_mac(&u, (const uint8_t *)"abc", 3, got));
	assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, "key", 3,
				  (const uint8_t *)"abc", 3, want, sizeof(want), &n));
	assert_memory_equal(got, want, HM_MAC_LEN);
	{
		uint8_t k64[64];

		memset(k64, 0x7e, sizeof(k64));
		assert_int_equal(hm_kc_use_key(&u, sha256, k64, sizeof(k64)), HM_OK);
		u.exists = true;
		assert_int_equal(hm_kc_use_copy(&f->u, &u), HM_OK);
		assert_true(f->u.exists);
		assert_true(hm_kc_mac(&f->u, (const uint8_t *)"abc", 3, got));
		assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, k64, sizeof(k64),
					  (const uint8_t *)"abc", 3, want, sizeof(want), &n));
		assert_memory_equal(got, want, HM_MAC_LEN);
		assert_int_equal(hm_kc_use_key(&u, sha256, k64, 0), HM_EINVAL);
		assert_int_equal(hm_kc_use_key(&u, sha256, k64, 65), HM_EINVAL);
		assert_false(u.keyed);
	}
	hm_kc_use_free(&u);
	assert_null(u.in); /* freed and forgotten */
	EVP_MD_free(sha256);
}

/* Capacity is rounded up to whole sets; tiny capacities still give one working set. */
static void test_small_capacities(void **state)
{
	struct fx *f = *state;
	struct hm_keycache *kc = NULL;
	char name[8];
	size_t max;

	for (size_t cap = 0; cap <= 5; cap++) {
		assert_int_equal(hm_keycache_new(cap, junk, &kc), HM_OK);
		for (int i = 0; i < 20; i++) {
			struct hm_key_rec rec;

			rec_init(&rec, HM_KEY_CURRENT, 0, (uint8_t)i);
			snprintf(name, sizeof(name), "c%d", i);
			assert_int_equal(hm_keycache_put(kc, (const uint8_t *)"t", 1,
							 (const uint8_t *)name, strlen(name), 1,
							 TX, &rec, &f->u),
					 HM_OK);
			assert_int_equal(hm_keycache_get(kc, (const uint8_t *)"t", 1,
							 (const uint8_t *)name, strlen(name), 1,
							 TX, &f->u),
					 HM_OK);
		}
		assert_true(hm_keycache_used(kc) >= HM_KC_WAYS);
		max = cap <= HM_KC_WAYS ? HM_KC_WAYS : 2 * HM_KC_WAYS;
		assert_true(hm_keycache_used(kc) <= max);
		hm_keycache_free(kc);
		kc = NULL;
	}
	hm_keycache_free(NULL);
}

/*
 * Snapshots: an entry hits only callers on the txn id it was read from; the first caller that
 * announces another one clears the cache (and only it is told so); the same one does nothing.
 */
static void test_snapshots(void **state)
{
	struct fx *f = *state;
	struct hm_key_rec rec;

	assert_false(hm_keycache_sync(f->kc, TX)); /* the first snapshot: nothing to clear */
	put_current(f, "t1", "c1", 1, 0x61);
	assert_non_null(get(f, "t1", "c1", 1));
	assert_int_equal(hm_keycache_get(f->kc, (const uint8_t *)"t1", 2, (const uint8_t *)"c1", 2,
					 1, TX + 1, &f->u),
			 HM_ENOTFOUND);
	assert_false(hm_keycache_sync(f->kc, TX)); /* the same */
	assert_int_equal(hm_keycache_used(f->kc), 1);
	assert_true(hm_keycache_sync(f->kc, TX + 1));
	assert_false(hm_keycache_sync(f->kc, TX + 1)); /* told once */
	assert_int_equal(hm_keycache_used(f->kc), 0);
	assert_null(get(f, "t1", "c1", 1));
	/* a late put from the older snapshot is never seen by the newer one */
	rec_init(&rec, HM_KEY_CURRENT, 0, 0x62);
	assert_int_equal(hm_keycache_put(f->kc, (const uint8_t *)"t1", 2, (const uint8_t *)"c1", 2,
					 1, TX, &rec, &f->u),
			 HM_OK);
	assert_int_equal(hm_keycache_get(f->kc, (const uint8_t *)"t1", 2, (const uint8_t *)"c1", 2,
					 1, TX + 1, &f->u),
			 HM_ENOTFOUND);
	/* the newer snapshot's put takes the same slot over (the count does not grow) */
	assert_int_equal(hm_keycache_put(f->kc, (const uint8_t *)"t1", 2, (const uint8_t *)"c1", 2,
					 1, TX + 1, &rec, &f->u),
			 HM_OK);
	assert_int_equal(hm_keycache_used(f->kc), 1);
	assert_int_equal(hm_keycache_get(f->kc, (const uint8_t *)"t1", 2, (const uint8_t *)"c1", 2,
					 1, TX + 1, &f->u),
			 HM_OK);
	/* a lower id (a store replaced under the daemon starts its ids over) clears as well */
	assert_true(hm_keycache_sync(f->kc, TX - 1));
	assert_int_equal(hm_keycache_used(f->kc), 0);
	OPENSSL_cleanse(&rec, sizeof(rec));
}

/*
 * Several threads share one small cache (heavy eviction across sets) while one of them keeps
 * announcing newer snapshots: every hit must give the MAC of its own scope's key, never
 * another's, and the count must stay within the capacity. Run under ASan and valgrind in CI.
 */
#define MT_THREADS 4
#define MT_SCOPES 64
#define MT_ROUNDS 4000

struct mt {
	struct hm_keycache *kc;
	_Atomic uint64_t txnid;
	uint8_t want[MT_SCOPES][HM_MAC_LEN];
	atomic_uint bad;
	atomic_uint hits;
};

struct mt_arg {
	struct mt *m;
	unsigned id;
};

static void *mt_run(void *p)
{
	struct mt_arg *a = p;
	struct mt *m = a->m;
	struct hm_kc_use u;
	uint64_t rng = 0x9e3779b97f4a7c15ull * (a->id + 1);
	char name[16];

	if (hm_kc_use_init(&u) != HM_OK) {
		atomic_fetch_add(&m->bad, 1);
		return NULL;
	}
	for (unsigned i = 0; i < MT_ROUNDS; i++) {
		uint64_t tx = atomic_load(&m->txnid);
		unsigned sc;
		uint8_t got[HM_MAC_LEN];
		int rc;

		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		sc = (unsigned)(rng % MT_SCOPES);
		snprintf(name, sizeof(name), "c%u", sc);
		if (a->id == 0 && i % 500 == 499) {
			atomic_store(&m->txnid, tx + 1);
			(void)hm_keycache_sync(m->kc, tx + 1);
		}
		rc = hm_keycache_get(m->kc, (const uint8_t *)"t", 1, (const uint8_t *)name,
				     strlen(name), 1, tx, &u);
		if (rc == HM_OK) {
			atomic_fetch_add(&m->hits, 1);
		} else if (rc == HM_ENOTFOUND) {
			struct hm_key_rec rec;

			rec_init(&rec, HM_KEY_CURRENT, 0, (uint8_t)(sc + 1));
			rc = hm_keycache_put(m->kc, (const uint8_t *)"t", 1, (const uint8_t *)name,
					     strlen(name), 1, tx, &rec, &u);
			OPENSSL_cleanse(&rec, sizeof(rec));
		}
		if (rc != HM_OK || !u.exists || !hm_kc_mac(&u, (const uint8_t *)"mt", 2, got) ||
		    memcmp(got, m->want[sc], HM_MAC_LEN) != 0 ||
		    hm_keycache_used(m->kc) > 4 * HM_KC_WAYS)
			atomic_fetch_add(&m->bad, 1);
	}
	hm_kc_use_free(&u);
	return NULL;
}

static void test_threads(void **state)
{
	static struct mt m;
	struct mt_arg args[MT_THREADS];
	pthread_t th[MT_THREADS];

	(void)state;
	memset(&m, 0, sizeof(m));
	atomic_init(&m.txnid, 1);
	for (unsigned s = 0; s < MT_SCOPES; s++)
		oneshot_mac((uint8_t)(s + 1), "mt", m.want[s]);
	assert_int_equal(hm_keycache_new(4 * HM_KC_WAYS, junk, &m.kc), HM_OK);
	for (unsigned i = 0; i < MT_THREADS; i++) {
		args[i] = (struct mt_arg){.m = &m, .id = i};
		assert_int_equal(pthread_create(&th[i], NULL, mt_run, &args[i]), 0);
	}
	for (unsigned i = 0; i < MT_THREADS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	assert_int_equal(atomic_load(&m.bad), 0);
	assert_true(atomic_load(&m.hits) > 0);
	assert_true(hm_keycache_used(m.kc) <= 4 * HM_KC_WAYS);
	hm_keycache_free(m.kc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_empty, setup_16, teardown),
		cmocka_unit_test_setup_teardown(test_put_get_states, setup_16, teardown),
		cmocka_unit_test_setup_teardown(test_negative_entry, setup_16, teardown),
		cmocka_unit_test_setup_teardown(test_replace_same_key, setup_one_set, teardown),
		cmocka_unit_test_setup_teardown(test_exact_names_in_one_set, setup_one_set,
						teardown),
		cmocka_unit_test_setup_teardown(test_lru_in_one_set, setup_one_set, teardown),
		cmocka_unit_test_setup_teardown(test_long_names, setup_one_set, teardown),
		cmocka_unit_test_setup_teardown(test_eviction_capacity_16, setup_16, teardown),
		cmocka_unit_test_setup_teardown(test_clear, setup_16, teardown),
		cmocka_unit_test_setup_teardown(test_bounds_refused, setup_16, teardown),
		cmocka_unit_test_setup_teardown(test_keyid_slots, setup_16, teardown),
		cmocka_unit_test_setup_teardown(test_prekeyed_matches_oneshot, setup_16, teardown),
		cmocka_unit_test_setup_teardown(test_hashed_lookup, setup_16, teardown),
		cmocka_unit_test_setup_teardown(test_small_capacities, setup_16, teardown),
		cmocka_unit_test_setup_teardown(test_snapshots, setup_16, teardown),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
