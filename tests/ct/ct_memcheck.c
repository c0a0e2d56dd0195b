/*
 * ct_memcheck.c - constant-time evidence for the verify engine, by the ctgrind method.
 *
 * Memcheck tracks, bit by bit, whether every value is defined. Marking the secrets undefined
 * (VALGRIND_MAKE_MEM_UNDEFINED) turns it into a secret-flow checker: a conditional jump that
 * depends on a secret is reported as "Conditional jump or move depends on uninitialised
 * value(s)", a memory address computed from one as "Use of uninitialised value of size 8".
 * tests/ct/ct_memcheck.sh runs this program under valgrind --error-exitcode=1, so one such
 * report fails make check.
 *
 * What is secret here (marked undefined):
 *  - every key secret, from the moment it leaves the store: hm_ks_lookup() is wrapped at link
 *    time (-Wl,--wrap=hm_ks_lookup), so verify.c's key-cache fill, the key blocks the key
 *    cache keeps, the HMAC pads, and every MAC computed from them carry the taint;
 *  - the dummy key of the unknown/revoked/expired path (verify.c's call of hm_kc_use_key()
 *    is wrapped the same way; the cache's junk key is a copy of it);
 *  - the item's sig, before every hm_verify_item() of an hmacd-v1 item. An rfc9421 item carries
 *    its signature as base64 text inside the Signature field, which the daemon decodes with
 *    table lookups; the sig is the sender's, not a secret, so for those items only the key and
 *    everything derived from it (the MAC) are tainted, and the check is that the MAC reaches the
 *    comparison wholly tainted with no secret-dependent branch on the way (keyid lookup, the
 *    signature base, the key cache, the HMAC).
 * The computed (expected) MAC is secret by derivation: it is never marked by hand. The
 * CRYPTO_memcmp wrapper reads memcheck's shadow bits (VALGRIND_GET_VBITS) and this program
 * fails unless both compared buffers arrive there wholly undefined: proof that the taint was
 * not lost on the way (e.g. through OpenSSL's assembly), without which a clean run means
 * nothing. --control proves the detector works: it runs a leaky compare on the same kind of
 * tainted MAC, and the wrapper script requires memcheck to report it.
 *
 * What is declassified, exactly: one bit per item, "the 32-byte comparison found the MACs
 * equal". CRYPTO_memcmp is wrapped (-Wl,--wrap=CRYPTO_memcmp); the wrapper folds OpenSSL's
 * result to 0/1 without branching and marks that single int defined (VALGRIND_MAKE_MEM_DEFINED,
 * the ctgrind convention). That bit is public by design: it becomes the verdict (OK versus
 * BAD_SIGNATURE) sent to the client. Nothing else is made defined again, so every branch and
 * index that leads up to the comparison, in verify.c, keycache.c, canon.c and OpenSSL, is
 * checked. The store's own copy of the secret (an mmap of the LMDB file, which memcheck sees as
 * defined) is outside the check: store/reader.c only memcpy()s it into the caller's record.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/hmac.h>

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define HAVE_MEMCHECK_H 1
#endif
#endif

#include "proto/b64.h"
#include "store/keystore.h"
#include "engine/replay.h"
#include "proto/siginput.h"
#include "proto/sign.h"
#include "engine/keycache.h"
#include "engine/verify.h"
#include "tests/lib/engine.h"

/* Exit codes, as the automake test driver reads them. */
#define EXIT_SKIP 77
#define EXIT_HARD 99

#ifdef HAVE_MEMCHECK_H

#define NOW 1700000000
#define SKEW 300

/* ---- link-time wrappers: where the taint enters and where one bit leaves ---- */

int __real_hm_ks_lookup(struct hm_ks_reader *rd, const uint8_t *tenant, size_t tenant_len,
			const uint8_t *container, size_t container_len, uint64_t epoch,
			struct hm_key_rec *rec);
int __wrap_hm_ks_lookup(struct hm_ks_reader *rd, const uint8_t *tenant, size_t tenant_len,
			const uint8_t *container, size_t container_len, uint64_t epoch,
			struct hm_key_rec *rec);
int __real_hm_kc_use_key(struct hm_kc_use *u, const EVP_MD *sha256, const uint8_t *key,
			 size_t len);
int __wrap_hm_kc_use_key(struct hm_kc_use *u, const EVP_MD *sha256, const uint8_t *key,
			 size_t len);
int __real_CRYPTO_memcmp(const void *a, const void *b, size_t len);
int __wrap_CRYPTO_memcmp(const void *a, const void *b, size_t len);

/* What the CRYPTO_memcmp wrapper saw last; reset by the caller before each item. */
struct seen {
	unsigned calls;
	bool mac_tainted; /* every bit of the first argument (the computed MAC) undefined */
	bool sig_tainted; /* every bit of the second argument (the item's sig) undefined */
};

/* Link-time wrappers have no context argument: this is the test's one piece of shared state. */
static struct seen g_seen;

int __wrap_hm_ks_lookup(struct hm_ks_reader *rd, const uint8_t *tenant, size_t tenant_len,
			const uint8_t *container, size_t container_len, uint64_t epoch,
			struct hm_key_rec *rec)
{
	int rc = __real_hm_ks_lookup(rd, tenant, tenant_len, container, container_len, epoch,
				     rec);

	if (rc == HM_OK)
		VALGRIND_MAKE_MEM_UNDEFINED(rec->secret, sizeof(rec->secret));
	return rc;
}

/* Only verify.c's call (the dummy key) is wrapped: keycache.c calls it inside its own object. */
int __wrap_hm_kc_use_key(struct hm_kc_use *u, const EVP_MD *sha256, const uint8_t *key,
			 size_t len)
{
	VALGRIND_MAKE_MEM_UNDEFINED(key, len);
	return __real_hm_kc_use_key(u, sha256, key, len);
}

/* True if every bit of p[0..len) is undefined in memcheck's shadow memory. */
static bool all_undefined(const void *p, size_t len)
{
	uint8_t vbits[64];

	if (len > sizeof(vbits) || VALGRIND_GET_VBITS(p, vbits, len) != 1)
		return false;
	for (size_t i = 0; i < len; i++)
		if (vbits[i] != 0xff)
			return false;
	return true;
}

int __wrap_CRYPTO_memcmp(const void *a, const void *b, size_t len)
{
	volatile int eq;
	unsigned int r;

	g_seen.calls++;
	g_seen.mac_tainted = all_undefined(a, len);
	g_seen.sig_tainted = all_undefined(b, len);
	r = (unsigned int)__real_CRYPTO_memcmp(a, b, len);
	/* 1 if r != 0, else 0, with no branch: only this bit is declassified */
	eq = (int)((r | (0u - r)) >> (sizeof(r) * 8 - 1));
	VALGRIND_MAKE_MEM_DEFINED((const void *)&eq, sizeof(eq));
	return eq;
}

/* ---- fixture: a real store in a temporary directory, a real verifier ---- */

struct fx {
	struct tl_engine e;
	uint8_t secret[HM_KEY_LEN];
	uint8_t secret_old[HM_KEY_LEN]; /* t1/c2 epoch 1, superseded but in grace */
	struct hm_item it;
	uint8_t good[HM_MAC_LEN]; /* the right signature of it */
	uint8_t sig[HM_MAC_LEN];  /* what the item carries */
	/* rfc9421 items: the fields the item points to */
	char sig_input[256];
	char signature[128];
};

static void make_item(struct fx *f, const char *container, uint64_t epoch, const char *nonce)
{
	tl_v1_item(&f->it, f->sig, "t1", container, epoch, "/containers/c1/exec?tty=0", NOW, nonce,
		   NULL);
}

static int fail(const char *what, int rc)
{
	fprintf(stderr, "ct_memcheck: %s: %s\n", what, hm_strerror(rc));
	return EXIT_HARD;
}

/* The engine of tests/lib/engine.h, and the scopes every case needs. */
static int fx_open(struct fx *f)
{
	struct hm_verify_config cfg = {.skew = SKEW, .key_cache = 64, .max_canonical = 65536};
	uint8_t s2[HM_KEY_LEN];
	char err[256];
	int rc;

	rc = tl_engine_open(&f->e, "ct-memcheck", &cfg, 1024, err, sizeof(err));
	if (rc != HM_OK) {
		fprintf(stderr, "ct_memcheck: %s\n", err);
		return EXIT_HARD;
	}
	rc = hm_ks_create(f->e.ks, "t1", "c1", NOW - 1000, "kid-c1", f->secret, NULL);
	if (rc != HM_OK)
		return fail("hm_ks_create", rc);
	/* t1/c2: epoch 1 superseded, still in its grace period (deadline NOW + 500) */
	rc = hm_ks_create(f->e.ks, "t1", "c2", NOW - 1000, "kid-c2", f->secret_old, NULL);
	if (rc != HM_OK)
		return fail("hm_ks_create", rc);
	rc = hm_ks_rotate(f->e.ks, "t1", "c2", NOW - 500, 1000, NULL, s2, NULL);
	OPENSSL_cleanse(s2, sizeof(s2));
	if (rc != HM_OK)
		return fail("hm_ks_rotate", rc);
	/* t1/c4: epoch 1 superseded with no grace: expired */
	rc = hm_ks_create(f->e.ks, "t1", "c4", NOW - 1000, NULL, s2, NULL);
	OPENSSL_cleanse(s2, sizeof(s2));
	if (rc != HM_OK)
		return fail("hm_ks_create", rc);
	rc = hm_ks_rotate(f->e.ks, "t1", "c4", NOW - 500, 0, NULL, s2, NULL);
	OPENSSL_cleanse(s2, sizeof(s2));
	if (rc != HM_OK)
		return fail("hm_ks_rotate", rc);
	/* t1/c3: epoch 1 revoked */
	rc = hm_ks_create(f->e.ks, "t1", "c3", NOW - 1000, "kid-c3", s2, NULL);
	OPENSSL_cleanse(s2, sizeof(s2));
	if (rc != HM_OK)
		return fail("hm_ks_create", rc);
	rc = hm_ks_revoke(f->e.ks, "t1", "c3", 1);
	if (rc != HM_OK)
		return fail("hm_ks_revoke", rc);
	return 0;
}

static void fx_close(struct fx *f)
{
	tl_engine_close(&f->e);
	OPENSSL_cleanse(f, sizeof(*f));
}

/* ---- the cases ---- */

enum sig_kind {
	SIG_GOOD,     /* the right signature */
	SIG_FIRST,    /* byte 0 wrong: a leaky compare exits at once */
	SIG_PREFIX31, /* bytes 0..30 right, byte 31 wrong: a leaky compare runs to the end */
	SIG_RANDOM,   /* nothing right */
};

struct ct_case {
	const char *name;
	const char *container;
	uint64_t epoch;
	const char *keyid; /* non-NULL: an rfc9421 item signed under this keyid */
	bool nonce;  /* carry a nonce (a fresh one per pass): an OK item then visits the replay cache */
	int key;     /* sign with 0: t1/c1's secret, 1: t1/c2 epoch 1's secret, 2: a made-up key */
	enum sig_kind sig;
	enum hm_verdict want;
};

static const struct ct_case cases[] = {
	{"match", "c1", 1, NULL, false, 0, SIG_GOOD, HM_V_OK},
	{"match with nonce", "c1", 1, NULL, true, 0, SIG_GOOD, HM_V_OK},
	{"one byte off (byte 0)", "c1", 1, NULL, false, 0, SIG_FIRST, HM_V_BAD_SIGNATURE},
	{"31-byte prefix match", "c1", 1, NULL, false, 0, SIG_PREFIX31, HM_V_BAD_SIGNATURE},
	{"random sig", "c1", 1, NULL, false, 0, SIG_RANDOM, HM_V_BAD_SIGNATURE},
	{"unknown epoch", "c1", 7, NULL, false, 2, SIG_RANDOM, HM_V_UNKNOWN_KEY},
	{"unknown scope", "zz", 1, NULL, false, 2, SIG_RANDOM, HM_V_UNKNOWN_KEY},
	{"unknown, 31-byte prefix", "zz", 1, NULL, false, 2, SIG_PREFIX31, HM_V_UNKNOWN_KEY},
	{"superseded, in grace", "c2", 1, NULL, false, 1, SIG_GOOD, HM_V_OK},
	{"superseded, wrong sig", "c2", 1, NULL, false, 1, SIG_PREFIX31, HM_V_BAD_SIGNATURE},
	{"superseded, expired", "c4", 1, NULL, false, 2, SIG_GOOD, HM_V_KEY_EXPIRED},
	{"revoked", "c3", 1, NULL, false, 2, SIG_GOOD, HM_V_KEY_REVOKED},
	{"rfc9421 match", "c1", 0, "kid-c1", false, 0, SIG_GOOD, HM_V_OK},
	{"rfc9421 match with nonce", "c1", 0, "kid-c1", true, 0, SIG_GOOD, HM_V_OK},
	{"rfc9421 31-byte prefix", "c1", 0, "kid-c1", false, 0, SIG_PREFIX31, HM_V_BAD_SIGNATURE},
	{"rfc9421 random sig", "c1", 0, "kid-c1", false, 0, SIG_RANDOM, HM_V_BAD_SIGNATURE},
	{"rfc9421 unknown keyid", "c1", 0, "kid-none", false, 2, SIG_PREFIX31, HM_V_UNKNOWN_KEY},
	{"rfc9421 other scope's keyid", "c1", 0, "kid-c2", false, 1, SIG_GOOD, HM_V_UNKNOWN_KEY},
	{"rfc9421 superseded, in grace", "c2", 0, "kid-c2", false, 1, SIG_GOOD, HM_V_OK},
	{"rfc9421 revoked", "c3", 0, "kid-c3", false, 2, SIG_GOOD, HM_V_KEY_REVOKED},
};

/*
 * Makes f->it an rfc9421 item of scope t1/<container> covering @method, @path and @authority
 * under keyid, and f->good its right signature under key (hm_sign_rfc9421: the daemon's own
 * proto/ code builds the base from the Signature-Input the item carries).
 */
static int make_rfc_item(struct fx *f, const char *container, const char *keyid,
			 const char *nonce, const uint8_t *key)
{
	static const char *const covered[] = {"@method", "@path", "@authority"};
	const struct hm_siginput si = {
		.label = "sig1",
		.components = covered,
		.ncomponents = sizeof(covered) / sizeof(covered[0]),
		.has_created = true,
		.created = NOW,
		.nonce = nonce,
		.keyid = keyid,
	};
	struct hm_item *it = &f->it;
	size_t len;
	int rc;

	memset(it, 0, sizeof(*it));
	it->scheme = HM_SCHEME_RFC9421;
	tl_str(&it->tenant, "t1");
	tl_str(&it->container, container);
	tl_str(&it->method, "POST");
	tl_str(&it->rfc.authority, "api.example");
	tl_str(&it->path, "/containers/c1/exec?tty=0");
	rc = hm_siginput_write(it, &si, f->sig_input, sizeof(f->sig_input), &len);
	if (rc != HM_OK)
		return fail("hm_siginput_write", rc);
	tl_str(&it->rfc.signature_input, f->sig_input);
	rc = hm_sign_rfc9421(key, HM_KEY_LEN, it, f->good);
	return rc == HM_OK ? 0 : fail("hm_sign_rfc9421", rc);
}

/* f->signature = "sig1=:<base64 of f->sig>:", the item's Signature field. */
static void set_rfc_signature(struct fx *f)
{
	char b64[HM_B64_LEN(HM_MAC_LEN) + 1];

	hm_b64_encode_ct(f->sig, HM_MAC_LEN, b64);
	snprintf(f->signature, sizeof(f->signature), "sig1=:%s:", b64);
	tl_str(&f->it.rfc.signature, f->signature);
}

static int run_case(struct fx *f, const struct ct_case *c, int pass, bool verbose)
{
	char nonce[16];
	uint8_t random_key[HM_KEY_LEN];
	const uint8_t *key = c->key == 0 ? f->secret : c->key == 1 ? f->secret_old : random_key;
	enum hm_verdict got;
	int rc;

	/* nonces are per scope whatever the scheme: each scheme gets its own */
	snprintf(nonce, sizeof(nonce), "%s-%d", c->keyid != NULL ? "r" : "n", pass);
	for (size_t i = 0; i < sizeof(random_key); i++)
		random_key[i] = (uint8_t)(0xa5 ^ (i * 37));
	if (c->keyid != NULL) {
		rc = make_rfc_item(f, c->container, c->keyid, c->nonce ? nonce : "", key);
		if (rc != 0)
			return rc;
	} else {
		make_item(f, c->container, c->epoch, c->nonce ? nonce : "");
		rc = hm_sign_item(key, HM_KEY_LEN, &f->it, f->good);
		if (rc != HM_OK)
			return fail("hm_sign_item", rc);
	}
	memcpy(f->sig, f->good, HM_MAC_LEN);
	switch (c->sig) {
	case SIG_GOOD:
		break;
	case SIG_FIRST:
		f->sig[0] ^= 0x01;
		break;
	case SIG_PREFIX31:
		f->sig[31] ^= 0x80;
		break;
	case SIG_RANDOM:
		for (size_t i = 0; i < HM_MAC_LEN; i++)
			f->sig[i] = (uint8_t)(f->good[i] ^ (0x5a + i));
		break;
	}
	if (c->keyid != NULL)
		set_rfc_signature(f); /* public: sent as text (see the top of this file) */
	else
		VALGRIND_MAKE_MEM_UNDEFINED(f->sig, sizeof(f->sig));

	rc = hm_verify_begin(f->e.v, NOW);
	if (rc != HM_OK)
		return fail("hm_verify_begin", rc);
	memset(&g_seen, 0, sizeof(g_seen));
	got = hm_verify_item(f->e.v, &f->it);
	rc = hm_verify_end(f->e.v);
	if (rc != HM_OK)
		return fail("hm_verify_end", rc);
	VALGRIND_MAKE_MEM_DEFINED(f->sig, sizeof(f->sig));

	if (verbose)
		printf("  %-30s %s\n", c->name, hm_verdict_name(got));
	if (got != c->want) {
		fprintf(stderr, "ct_memcheck: %s: verdict %s, want %s\n", c->name,
			hm_verdict_name(got), hm_verdict_name(c->want));
		return EXIT_HARD;
	}
	/* The power check: the taint really reached the comparison. */
	if (g_seen.calls != 1 || !g_seen.mac_tainted || (c->keyid == NULL && !g_seen.sig_tainted)) {
		fprintf(stderr,
			"ct_memcheck: %s: CRYPTO_memcmp calls %u, computed MAC %s, sig %s: the "
			"secret-flow check would prove nothing\n",
			c->name, g_seen.calls, g_seen.mac_tainted ? "tainted" : "NOT tainted",
			g_seen.sig_tainted ? "tainted" : "NOT tainted");
		return EXIT_HARD;
	}
	return 0;
}

/*
 * The control: the same kind of secret (a store secret, marked undefined), an HMAC over a
 * canonical string, then a plain memcmp whose result is branched on. Memcheck must report it.
 */
static int run_control(struct fx *f)
{
	uint8_t key[HM_KEY_LEN], mac[HM_MAC_LEN];
	unsigned int maclen = 0;
	volatile int sink = 0;
	int (*volatile leaky_memcmp)(const void *, const void *, size_t) = memcmp;

	make_item(f, "c1", 1, "");
	memcpy(key, f->secret, sizeof(key));
	VALGRIND_MAKE_MEM_UNDEFINED(key, sizeof(key));
	if (HMAC(EVP_sha256(), key, (int)sizeof(key), tl_body, tl_body_len, mac, &maclen) ==
	    NULL)
		return fail("HMAC", HM_ECRYPTO);
	memset(f->sig, 0x11, sizeof(f->sig));
	printf("  control: plain memcmp on a MAC keyed with a tainted secret (memcheck must "
	       "report it)\n");
	if (leaky_memcmp(mac, f->sig, sizeof(mac)) == 0)
		sink = 1;
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(mac, sizeof(mac));
	return sink;
}

int main(int argc, char **argv)
{
	struct fx f;
	bool control = argc > 1 && strcmp(argv[1], "--control") == 0;
	int rc;

	if (argc > 1 && strcmp(argv[1], "--build-info") == 0) {
#if defined(__SANITIZE_ADDRESS__)
		puts("asan");
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
		puts("asan");
#else
		puts("plain");
#endif
#else
		puts("plain");
#endif
		return 0;
	}
	memset(&f, 0, sizeof(f));
	if (!RUNNING_ON_VALGRIND) {
		fprintf(stderr, "ct_memcheck: must run under valgrind (see tests/ct/ct_memcheck.sh)\n");
		return EXIT_HARD;
	}
	rc = fx_open(&f);
	if (rc != 0)
		goto out;
	if (control) {
		(void)run_control(&f);
		goto out;
	}
	/* Each case twice: first with a cold key cache (store lookup, key schedule), then warm. */
	for (int pass = 0; pass < 2 && rc == 0; pass++) {
		printf("pass %d (%s key cache)\n", pass + 1, pass == 0 ? "cold" : "warm");
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]) && rc == 0; i++) {
			rc = run_case(&f, &cases[i], pass, true);
		}
	}
	if (rc == 0)
		printf("ct_memcheck: %zu cases x 2 passes judged with secrets tainted\n",
		       sizeof(cases) / sizeof(cases[0]));
out:
	fx_close(&f);
	return rc;
}

#else /* !HAVE_MEMCHECK_H */

int main(void)
{
	fprintf(stderr, "ct_memcheck: built without <valgrind/memcheck.h> (install valgrind)\n");
	return EXIT_SKIP;
}

#endif
