/*
 * test_verify.c - the verify engine against a real key store in a temporary directory:
 * every verdict, every field bound by the signature, rotation/grace timing with an injected
 * clock, revocation seen at the next batch, the verdict precedence, and replay rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "store/keystore.h"
#include "proto/policy.h"
#include "proto/sign.h"
#include "engine/verify.h"

#include "tests/lib/engine.h"
#include "tests/lib/rfc9421_example.h"

#define NOW 1700000000
#define SKEW 300

struct fx {
	struct tl_engine e;
	struct hm_keystore *ks; /* e.ks */
	struct hm_verifier *v;  /* e.v */
	uint8_t secret[HM_KEY_LEN];  /* t1/c1 epoch 1 */
	uint8_t secret2[HM_KEY_LEN]; /* t1/c2 epoch 1 */
	struct hm_item it;
	uint8_t sig[HM_MAC_LEN];
};

static void str(struct hm_str *s, const char *v)
{
	tl_str(s, v);
}

/* A valid item for t1/c1 epoch 1, signed with fx->secret. */
static void make_item(struct fx *f)
{
	tl_v1_item(&f->it, f->sig, "t1", "c1", 1, "/containers/c1/exec?tty=0", NOW, "", "42");
}

static void sign_with(struct fx *f, const uint8_t *secret)
{
	assert_int_equal(hm_sign_item(secret, HM_KEY_LEN, &f->it, f->sig), HM_OK);
}

static enum hm_verdict judge(struct fx *f, int64_t now)
{
	enum hm_verdict v;

	assert_int_equal(hm_verify_begin(f->v, now), HM_OK);
	v = hm_verify_item(f->v, &f->it);
	assert_int_equal(hm_verify_end(f->v), HM_OK);
	return v;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct hm_ks_added added;
	char err[256];

	assert_non_null(f);
	if (tl_engine_open(&f->e, "test-verify", NULL, 4096, err, sizeof(err)) != HM_OK)
		fail_msg("%s", err);
	f->ks = f->e.ks;
	f->v = f->e.v;
	assert_int_equal(hm_ks_create(f->ks, "t1", "c1", NOW - 1000, NULL, f->secret, &added),
			 HM_OK);
	assert_int_equal(added.epoch, 1);
	assert_int_equal(hm_ks_create(f->ks, "t1", "c2", NOW - 1000, NULL, f->secret2, NULL),
			 HM_OK);
	make_item(f);
	sign_with(f, f->secret);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	tl_engine_close(&f->e);
	OPENSSL_cleanse(f, sizeof(*f));
	free(f);
	return 0;
}

static void test_ok(void **state)
{
	struct fx *f = *state;

	assert_int_equal(judge(f, NOW), HM_V_OK);
	/* again: now from the key cache */
	assert_int_equal(judge(f, NOW), HM_V_OK);
	assert_true(hm_counter_get(&hm_verify_stats(f->v)->key_cache_hits) >= 1);
	assert_int_equal(hm_counter_get(&hm_verify_stats(f->v)->verdicts[HM_V_OK]), 2);
}

static void test_body_sha256_form(void **state)
{
	struct fx *f = *state;
	uint8_t digest[HM_SHA256_LEN];

	assert_int_equal(hm_sha256(tl_body, tl_body_len, digest), HM_OK);
	f->it.has_body = false;
	f->it.v1.has_body_sha256 = true;
	f->it.v1.body_sha256 = digest;
	/* the same signature: the canonical string holds the digest either way */
	assert_int_equal(judge(f, NOW), HM_V_OK);
	digest[0] ^= 1;
	assert_int_equal(judge(f, NOW), HM_V_BAD_SIGNATURE);
}

/* The container escape of the seed: a signature for c1 must not pass for c2. */
static void test_container_is_bound(void **state)
{
	struct fx *f = *state;

	str(&f->it.container, "c2");
	assert_int_equal(judge(f, NOW), HM_V_BAD_SIGNATURE);
	/* and a signer of c2 cannot sign for c1 either */
	sign_with(f, f->secret2);
	assert_int_equal(judge(f, NOW), HM_V_OK);
	str(&f->it.container, "c1");
	assert_int_equal(judge(f, NOW), HM_V_BAD_SIGNATURE);
}

static void test_every_field_is_bound(void **state)
{
	struct fx *f = *state;
	static const uint8_t other_body[] = "{\"cmd\":[\"rm\",\"-rf\"]}";

	for (int field = 0; field < 9; field++) {
		make_item(f);
		sign_with(f, f->secret);
		switch (field) {
		case 0: str(&f->it.method, "PUT"); break;
		case 1: str(&f->it.path, "/containers/c1/exec?tty=1"); break;
		case 2: f->it.v1.ts = NOW + 1; break;
		case 3: str(&f->it.v1.nonce, "n"); break;
		case 4: str(&f->it.headers[0].value, "text/plain"); break;
		case 5: str(&f->it.headers[1].name, "x-request-ix"); break;
		case 6: f->it.nheaders = 1; break;
		case 7: f->it.body.ptr = other_body; break;
		case 8: str(&f->it.tenant, "t1"); f->sig[31] ^= 0x80; break;
		}
		assert_int_equal(judge(f, NOW), HM_V_BAD_SIGNATURE);
	}
}

static void test_unknown_keys(void **state)
{
	struct fx *f = *state;

	str(&f->it.tenant, "nobody");
	assert_int_equal(judge(f, NOW), HM_V_UNKNOWN_KEY);
	make_item(f);
	f->it.v1.epoch = 2;
	assert_int_equal(judge(f, NOW), HM_V_UNKNOWN_KEY);
	f->it.v1.epoch = (uint64_t)UINT32_MAX + 1;
	assert_int_equal(judge(f, NOW), HM_V_UNKNOWN_KEY);
	/* a negative answer is cached: a second lookup gives the same verdict */
	assert_int_equal(judge(f, NOW), HM_V_UNKNOWN_KEY);
}

static void test_timestamp_window(void **state)
{
	struct fx *f = *state;

	assert_int_equal(judge(f, NOW + SKEW), HM_V_OK);
	assert_int_equal(judge(f, NOW - SKEW), HM_V_OK);
	assert_int_equal(judge(f, NOW + SKEW + 1), HM_V_STALE_TIMESTAMP);
	assert_int_equal(judge(f, NOW - SKEW - 1), HM_V_STALE_TIMESTAMP);
	/* precedence: a bad signature is reported before a stale timestamp */
	f->sig[0] ^= 1;
	assert_int_equal(judge(f, NOW + SKEW + 1), HM_V_BAD_SIGNATURE);
}

static void test_rotation_grace_timing(void **state)
{
	struct fx *f = *state;
	uint8_t s2[HM_KEY_LEN];
	struct hm_ks_added added;
	const int64_t grace = 100;

	assert_int_equal(judge(f, NOW), HM_V_OK);
	assert_int_equal(hm_ks_rotate(f->ks, "t1", "c1", NOW, grace, NULL, s2, &added), HM_OK);
	assert_int_equal(added.epoch, 2);
	/* the old epoch is valid strictly before its deadline */
	assert_int_equal(judge(f, NOW + grace - 1), HM_V_OK);
	assert_int_equal(judge(f, NOW + grace), HM_V_KEY_EXPIRED);
	/* the new epoch */
	f->it.v1.epoch = 2;
	f->it.v1.ts = NOW + grace;
	sign_with(f, s2);
	assert_int_equal(judge(f, NOW + grace), HM_V_OK);
	/* an old-epoch signature relabelled as epoch 2 fails */
	f->it.v1.epoch = 1;
	sign_with(f, f->secret);
	f->it.v1.epoch = 2;
	assert_int_equal(judge(f, NOW + grace), HM_V_BAD_SIGNATURE);
	OPENSSL_cleanse(s2, sizeof(s2));
}

static void test_rotation_zero_grace(void **state)
{
	struct fx *f = *state;
	uint8_t s2[HM_KEY_LEN];

	assert_int_equal(hm_ks_rotate(f->ks, "t1", "c1", NOW, 0, NULL, s2, NULL), HM_OK);
	assert_int_equal(judge(f, NOW), HM_V_KEY_EXPIRED);
	OPENSSL_cleanse(s2, sizeof(s2));
}

static void test_revocation_seen_next_batch(void **state)
{
	struct fx *f = *state;

	assert_int_equal(judge(f, NOW), HM_V_OK); /* cached now */
	assert_int_equal(hm_ks_revoke(f->ks, "t1", "c1", 1), HM_OK);
	assert_int_equal(judge(f, NOW), HM_V_KEY_REVOKED);
	assert_true(hm_counter_get(&hm_verify_stats(f->v)->key_cache_clears) >= 1);
	/* precedence: revoked before a bad signature */
	f->sig[5] ^= 1;
	assert_int_equal(judge(f, NOW), HM_V_KEY_REVOKED);
	/* the other container of the tenant is untouched */
	str(&f->it.container, "c2");
	sign_with(f, f->secret2);
	assert_int_equal(judge(f, NOW), HM_V_OK);
}

static void test_replay(void **state)
{
	struct fx *f = *state;

	str(&f->it.v1.nonce, "nonce-0001");
	sign_with(f, f->secret);
	assert_int_equal(judge(f, NOW), HM_V_OK);
	assert_int_equal(judge(f, NOW + 1), HM_V_REPLAY);
	/* the same nonce in another scope is another nonce */
	str(&f->it.container, "c2");
	sign_with(f, f->secret2);
	assert_int_equal(judge(f, NOW + 1), HM_V_OK);
	/* a nonce is recorded only when everything else verified */
	make_item(f);
	str(&f->it.v1.nonce, "nonce-0002");
	sign_with(f, f->secret);
	f->sig[0] ^= 1;
	assert_int_equal(judge(f, NOW), HM_V_BAD_SIGNATURE);
	f->sig[0] ^= 1;
	assert_int_equal(judge(f, NOW + SKEW + 5), HM_V_STALE_TIMESTAMP);
	assert_int_equal(judge(f, NOW), HM_V_OK);
	assert_int_equal(judge(f, NOW), HM_V_REPLAY);
	/* once its ts has left the window, the nonce may come again with a fresh ts */
	f->it.v1.ts = NOW + 2 * SKEW + 10;
	sign_with(f, f->secret);
	assert_int_equal(judge(f, NOW + 2 * SKEW + 10), HM_V_OK);
}

/* What a fleet host must still claim: the nonce an OK item recorded, and nothing else. */
static void test_nonce_recorded(void **state)
{
	struct fx *f = *state;
	const struct hm_verify_stats *st = hm_verify_stats(f->v);
	struct hm_nonce_claim c;

	assert_int_equal(judge(f, NOW), HM_V_OK); /* no nonce */
	assert_false(hm_verify_nonce_recorded(f->v, &c));
	str(&f->it.v1.nonce, "nonce-claim-1");
	sign_with(f, f->secret);
	f->sig[5] ^= 1;
	assert_int_equal(judge(f, NOW), HM_V_BAD_SIGNATURE);
	assert_false(hm_verify_nonce_recorded(f->v, &c));
	f->sig[5] ^= 1;
	assert_int_equal(judge(f, NOW + 10), HM_V_OK);
	assert_true(hm_verify_nonce_recorded(f->v, &c));
	assert_int_equal(c.tenant.len, 2);
	assert_memory_equal(c.tenant.ptr, "t1", 2);
	assert_memory_equal(c.container.ptr, "c1", 2);
	assert_int_equal(c.nonce.len, strlen("nonce-claim-1"));
	assert_memory_equal(c.nonce.ptr, "nonce-claim-1", c.nonce.len);
	/* as long as the nonce cache keeps it: skew and a second past the later of ts and now */
	assert_int_equal(c.ttl_ms, (SKEW + 1) * 1000);
	assert_int_equal(judge(f, NOW + 10), HM_V_REPLAY);
	assert_false(hm_verify_nonce_recorded(f->v, &c));
	/* a claim that failed later moves the item's count */
	assert_int_equal(hm_counter_get(&st->verdicts[HM_V_OK]), 2);
	hm_verify_recount(f->v, HM_V_OK, HM_V_REPLAY);
	assert_int_equal(hm_counter_get(&st->verdicts[HM_V_OK]), 1);
	assert_int_equal(hm_counter_get(&st->verdicts[HM_V_REPLAY]), 2);
}

/* After a restart the nonce cache is empty: nonce items signed before the start fail closed. */
static void test_nonce_signed_before_start(void **state)
{
	struct fx *f = *state;
	struct hm_verify_config cfg = {.skew = SKEW, .key_cache = 64, .max_canonical = 65536,
				       .nonces_since = NOW};
	struct hm_verifier *v2 = NULL;
	enum hm_verdict verdict;

	assert_int_equal(hm_verifier_new(&cfg, f->e.rd, f->e.replay, &v2), HM_OK);
	str(&f->it.v1.nonce, "before");
	f->it.v1.ts = NOW - 1;
	sign_with(f, f->secret);
	assert_int_equal(hm_verify_begin(v2, NOW + 1), HM_OK);
	verdict = hm_verify_item(v2, &f->it);
	assert_int_equal(hm_verify_end(v2), HM_OK);
	assert_int_equal(verdict, HM_V_REPLAY);
	assert_int_equal(hm_counter_get(&hm_verify_stats(v2)->nonce_before_start), 1);
	/* without a nonce the same item is fine: no replay protection was asked for */
	f->it.v1.nonce.len = 0;
	sign_with(f, f->secret);
	assert_int_equal(hm_verify_begin(v2, NOW + 1), HM_OK);
	verdict = hm_verify_item(v2, &f->it);
	assert_int_equal(hm_verify_end(v2), HM_OK);
	assert_int_equal(verdict, HM_V_OK);
	/* signed at or after the start: normal replay rules */
	str(&f->it.v1.nonce, "after");
	f->it.v1.ts = NOW;
	sign_with(f, f->secret);
	assert_int_equal(hm_verify_begin(v2, NOW + 1), HM_OK);
	assert_int_equal(hm_verify_item(v2, &f->it), HM_V_OK);
	assert_int_equal(hm_verify_item(v2, &f->it), HM_V_REPLAY);
	assert_int_equal(hm_verify_end(v2), HM_OK);
	hm_verifier_free(v2);
}

static void test_store_change_flushes_cache(void **state)
{
	struct fx *f = *state;
	uint8_t s[HM_KEY_LEN];

	str(&f->it.tenant, "t9");
	assert_int_equal(judge(f, NOW), HM_V_UNKNOWN_KEY); /* negative entry cached */
	assert_int_equal(hm_ks_create(f->ks, "t9", "c1", NOW, NULL, s, NULL), HM_OK);
	sign_with(f, s);
	assert_int_equal(judge(f, NOW), HM_V_OK); /* seen at the next batch */
	OPENSSL_cleanse(s, sizeof(s));
}

/*
 * The look-ahead (hm_verify_prefetch/_key) only hints: an item is judged by its own bytes
 * whatever was prefetched, and a hint never outlives its batch (the next request may put other
 * names at the same addresses).
 */
static void test_prefetch_hints(void **state)
{
	struct fx *f = *state;
	char cname[3] = "c2";
	uint64_t hits;

	/* c2 cached (a miss, then a hit, with hints) */
	f->it.container.ptr = (const uint8_t *)cname;
	sign_with(f, f->secret2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(hm_verify_begin(f->v, NOW), HM_OK);
		hm_verify_prefetch(f->v, &f->it);
		hm_verify_prefetch_key(f->v, &f->it);
		assert_int_equal(hm_verify_item(f->v, &f->it), HM_V_OK);
		assert_int_equal(hm_verify_end(f->v), HM_OK);
	}
	assert_int_equal(hm_counter_get(&hm_verify_stats(f->v)->key_cache_misses), 1);
	assert_int_equal(hm_counter_get(&hm_verify_stats(f->v)->key_cache_hits), 1);

	/* hinted as c1, judged as c2 (its names changed in place): still c2's key */
	cname[1] = '1';
	assert_int_equal(hm_verify_begin(f->v, NOW), HM_OK);
	hm_verify_prefetch(f->v, &f->it);
	hm_verify_prefetch_key(f->v, &f->it);
	cname[1] = '2';
	assert_int_equal(hm_verify_item(f->v, &f->it), HM_V_OK);
	sign_with(f, f->secret); /* c1's key does not sign for c2 */
	assert_int_equal(hm_verify_item(f->v, &f->it), HM_V_BAD_SIGNATURE);
	assert_int_equal(hm_verify_end(f->v), HM_OK);

	/* a hint left by a batch (c1 at these addresses) is gone in the next: c2 hits */
	sign_with(f, f->secret2);
	cname[1] = '1';
	assert_int_equal(hm_verify_begin(f->v, NOW), HM_OK);
	hm_verify_prefetch(f->v, &f->it);
	assert_int_equal(hm_verify_end(f->v), HM_OK);
	cname[1] = '2';
	hits = hm_counter_get(&hm_verify_stats(f->v)->key_cache_hits);
	assert_int_equal(judge(f, NOW), HM_V_OK);
	assert_int_equal(hm_counter_get(&hm_verify_stats(f->v)->key_cache_hits), hits + 1);
}

/* ---- rfc9421 items: the engine's half (keyid to epoch, scope binding, MAC, verdict) ---- */

/* Fault injection: the key id lookup fails while this is set (ld --wrap, see Makefile.am). */
static bool g_fail_keyid_lookup;

int __real_hm_ks_lookup_keyid(struct hm_ks_reader *rd, const uint8_t *keyid, size_t len,
			      struct hm_key_ref *ref);
int __wrap_hm_ks_lookup_keyid(struct hm_ks_reader *rd, const uint8_t *keyid, size_t len,
			      struct hm_key_ref *ref);
int __wrap_hm_ks_lookup_keyid(struct hm_ks_reader *rd, const uint8_t *keyid, size_t len,
			      struct hm_key_ref *ref)
{
	if (g_fail_keyid_lookup)
		return HM_ESTORE;
	return __real_hm_ks_lookup_keyid(rd, keyid, len, ref);
}

#define B2_PROTO_HEADER(n, v)                                                              \
	{{(const uint8_t *)(n), sizeof(n) - 1}, {(const uint8_t *)(v), sizeof(v) - 1}},
static const struct hm_header b2_headers[] = {B2_HEADERS_X(B2_PROTO_HEADER)};
#undef B2_PROTO_HEADER

/* The RFC's secret imported as rfc/<container> under keyid, and what B.2.5 covers as policy. */
static void import_rfc_secret(struct fx *f, const char *container, const char *keyid)
{
	uint8_t secret[66];
	struct hm_policy pol;

	/* 88 base64 characters with two '=': 66 bytes decoded, the last two padding */
	assert_int_equal(EVP_DecodeBlock(secret, (const unsigned char *)SHARED_SECRET_B64,
					 (int)strlen(SHARED_SECRET_B64)),
			 66);
	assert_int_equal(hm_ks_import(f->ks, "rfc", container, NOW - 10, 0, keyid, secret, 64,
				      NULL),
			 HM_OK);
	OPENSSL_cleanse(secret, sizeof(secret));
	memset(&pol, 0, sizeof(pol));
	assert_int_equal(hm_policy_require(&pol, "date"), HM_OK);
	assert_int_equal(hm_policy_require(&pol, "@authority"), HM_OK);
	assert_int_equal(hm_policy_require(&pol, "content-type"), HM_OK);
	assert_int_equal(hm_ks_policy_set(f->ks, "rfc", NULL, &pol), HM_OK);
}

static void b25_item(struct fx *f, const char *container, const char *signature)
{
	struct hm_item *it = &f->it;

	memset(it, 0, sizeof(*it));
	it->scheme = HM_SCHEME_RFC9421;
	str(&it->tenant, "rfc");
	str(&it->container, container);
	str(&it->method, "POST");
	str(&it->rfc.authority, "example.com");
	str(&it->path, "/foo?param=Value&Pet=dog");
	it->nheaders = sizeof(b2_headers) / sizeof(b2_headers[0]);
	memcpy(it->headers, b2_headers, sizeof(b2_headers));
	str(&it->rfc.signature_input, B25_INPUT);
	str(&it->rfc.signature, signature);
	it->has_body = true;
	str(&it->body, B2_BODY);
}

static void test_rfc9421_b25(void **state)
{
	struct fx *f = *state;
	char tampered[sizeof(B25_SIGNATURE)];
	const struct hm_verify_stats *st = hm_verify_stats(f->v);

	import_rfc_secret(f, "b25", "test-shared-secret");
	b25_item(f, "b25", B25_SIGNATURE);
	assert_int_equal(judge(f, NOW), HM_V_OK); /* created is 2021: this policy has no age check */
	assert_int_equal(judge(f, NOW), HM_V_OK); /* from the key cache */
	memcpy(tampered, B25_SIGNATURE, sizeof(tampered));
	tampered[9] ^= 1;
	b25_item(f, "b25", tampered);
	assert_int_equal(judge(f, NOW), HM_V_BAD_SIGNATURE);
	/* the same keyid used on the route of another scope of the same tenant: unknown there */
	assert_int_equal(hm_ks_create(f->ks, "rfc", "other", NOW, "other-key", f->secret2, NULL),
			 HM_OK);
	b25_item(f, "other", B25_SIGNATURE);
	assert_int_equal(judge(f, NOW), HM_V_UNKNOWN_KEY);
	/* a scope with no key at all */
	b25_item(f, "nobody", B25_SIGNATURE);
	assert_int_equal(judge(f, NOW), HM_V_UNKNOWN_KEY);
	/* revoked: seen at the next batch */
	assert_int_equal(hm_ks_revoke(f->ks, "rfc", "b25", 1), HM_OK);
	b25_item(f, "b25", B25_SIGNATURE);
	assert_int_equal(judge(f, NOW), HM_V_KEY_REVOKED);
	assert_int_equal(hm_counter_get(&st->verdicts[HM_V_OK]), 2);
	assert_int_equal(hm_counter_get(&st->verdicts[HM_V_UNKNOWN_KEY]), 2);
}

static void test_rfc9421_policy(void **state)
{
	struct fx *f = *state;
	struct hm_policy pol;
	const struct hm_verify_stats *st = hm_verify_stats(f->v);

	import_rfc_secret(f, "b25", "test-shared-secret");
	b25_item(f, "b25", B25_SIGNATURE);
	assert_int_equal(judge(f, NOW), HM_V_OK);
	/* the scope's own policy wins over the tenant's: the default one here */
	hm_policy_default(&pol);
	assert_int_equal(hm_ks_policy_set(f->ks, "rfc", "b25", &pol), HM_OK);
	assert_int_equal(judge(f, NOW), HM_V_INSUFFICIENT_COVERAGE);
	/* coverage is decided before the key: the same for an unknown keyid */
	b25_item(f, "nobody", B25_SIGNATURE);
	assert_int_equal(hm_ks_policy_set(f->ks, "rfc", "nobody", &pol), HM_OK);
	assert_int_equal(judge(f, NOW), HM_V_INSUFFICIENT_COVERAGE);
	/* the tenant's policy again once the scope's is gone, with the age check on: stale */
	assert_int_equal(hm_ks_policy_unset(f->ks, "rfc", "b25"), HM_OK);
	memset(&pol, 0, sizeof(pol));
	assert_int_equal(hm_policy_require(&pol, "date"), HM_OK);
	pol.check_age = true;
	assert_int_equal(hm_ks_policy_set(f->ks, "rfc", NULL, &pol), HM_OK);
	b25_item(f, "b25", B25_SIGNATURE);
	assert_int_equal(judge(f, NOW), HM_V_STALE_TIMESTAMP);
	assert_int_equal(judge(f, 1618884473 + 10), HM_V_OK);
	assert_int_equal(hm_counter_get(&st->verdicts[HM_V_INSUFFICIENT_COVERAGE]), 2);
}

/* A store failure while resolving a key id fails the batch and leaves nothing in the cache. */
static void test_rfc9421_store_fault(void **state)
{
	struct fx *f = *state;

	import_rfc_secret(f, "b25", "test-shared-secret");
	b25_item(f, "b25", B25_SIGNATURE);
	g_fail_keyid_lookup = true;
	assert_int_equal(hm_verify_begin(f->v, NOW), HM_OK);
	(void)hm_verify_item(f->v, &f->it);
	assert_int_equal(hm_verify_end(f->v), HM_ESTORE);
	g_fail_keyid_lookup = false;
	assert_int_equal(hm_counter_get(&hm_verify_stats(f->v)->store_errors), 1);
	/* the next batch asks the store again: the key id was not cached as unknown */
	assert_int_equal(judge(f, NOW), HM_V_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_sha256_form, setup, teardown),
		cmocka_unit_test_setup_teardown(test_container_is_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_field_is_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timestamp_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation_grace_timing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation_zero_grace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revocation_seen_next_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nonce_recorded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_change_flushes_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prefetch_hints, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nonce_signed_before_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rfc9421_b25, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rfc9421_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rfc9421_store_fault, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
