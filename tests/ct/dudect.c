/*
 * dudect.c - timing evidence for the verify engine, by the dudect method (Reparaz, Balasch,
 * Verbauwhede, "Dude, is my code constant time?", DATE 2017). Not part of make check: a run at
 * full size takes minutes, and timing is no pass/fail criterion on a shared CI machine.
 *
 * The real engine (hm_verifier over a store in a temporary directory, hm_verify_item) judges a
 * stream of items drawn from four classes, in a random order that is shuffled anew for every
 * block, so drift in the machine's load hits every class alike:
 *   EQUAL    the right signature
 *   PREFIX31 the right signature with byte 31 changed: a leaky compare runs to the last byte
 *   RANDOM   a fresh random signature per item: a leaky compare stops at byte 0
 *   UNKNOWN  an unknown key (same name lengths, so the same canonical length), random signature
 * Each call of hm_verify_item() is timed alone (rdtsc between lfences; clock_gettime elsewhere).
 * For every pair of classes, Welch's t statistic is computed as dudect does: on the raw
 * measurements, on the measurements below each of 100 thresholds taken at the percentiles
 * 1 - 0.5^(10 (k+1) / 100) of all measurements pooled (cropping the long tail of a preempted
 * or interrupted call), and a second-order test on the squared distance to the class mean.
 * |t| > 4.5 is dudect's threshold for "the timing depends on the class".
 *
 * --scope-control gives t1/c9 a key of its own, so the fourth class is a wrong signature for
 * another existing scope: it then differs from RANDOM only in the scope's name (and so in
 * where its key-cache entry sits), not in whether the key exists. Comparing the two runs tells
 * a cost of existence from a cost of the name, which the client chose and knows.
 *
 * --rfc9421 makes every item an rfc9421 item of t1/c1 (Signature-Input covering @method,
 * @path and @authority, the signature as base64 text in Signature, made before the block is
 * timed): EQUAL, PREFIX31 and RANDOM carry c1's key id, UNKNOWN a key id of the same length
 * that no epoch has, or, with --scope-control, the key id of t1/c9's key: another scope's key
 * id, which the engine judges UNKNOWN_KEY as well. The two runs compare a key id that exists
 * nowhere with one that exists elsewhere; each against RANDOM is what the key id lookup tells.
 *
 * --control=memcmp adds one plain memcmp() of the item's signature against the right one to
 * each timed call, and branches on it, as a naive verifier would; --control=bytewise adds an
 * early-exit byte loop instead. A control run must show |t| >> 4.5 for the pairs its compare
 * separates, which proves the measurement can see a leak of that size under the engine's noise.
 *
 * Usage: dudect [-n MEASUREMENTS_PER_CLASS] [--control=memcmp|bytewise] [--scope-control]
 *               [--rfc9421] [--seed N] [--cpu N] [--csv FILE]
 * Exit: 0 no pair reached |t| 4.5, 1 some pair did, 2 usage or setup error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define HAVE_RDTSC 1
#endif

#include "proto/b64.h"
#include "store/keystore.h"
#include "engine/replay.h"
#include "proto/siginput.h"
#include "proto/sign.h"
#include "engine/verify.h"
#include "tests/lib/engine.h"

#define NOW 1700000000
#define SKEW 300
#define NCLASSES 4
#define NPERCENTILES 100
#define NTESTS (1 + NPERCENTILES + 1) /* raw, cropped x100, second order */
#define BLOCK 4096                    /* measurements per shuffled block (a multiple of 4) */
#define WARMUP 20000
#define ENOUGH 10000                  /* a test counts only with this many measurements */
#define T_THRESHOLD 4.5

enum cls { C_EQUAL, C_PREFIX31, C_RANDOM, C_UNKNOWN };

enum control { CTL_NONE, CTL_MEMCMP, CTL_BYTEWISE };

/* ---- a small PRNG (splitmix64): the class order and the random signatures ---- */

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static void rnd_bytes(uint64_t *s, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd(s);
}

/* ---- the clock ---- */

static inline uint64_t ticks(void)
{
#ifdef HAVE_RDTSC
	uint64_t t;

	_mm_lfence();
	t = __rdtsc();
	_mm_lfence();
	return t;
#else
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
#endif
}

/* ---- statistics ---- */

struct welford {
	double n, mean, m2;
};

static void wf_push(struct welford *w, double x)
{
	double d = x - w->mean;

	w->n += 1;
	w->mean += d / w->n;
	w->m2 += d * (x - w->mean);
}

/* Welch's t of two samples; 0 if either is too small to say anything. */
static double welch_t(const struct welford *a, const struct welford *b)
{
	double va, vb, den;

	if (a->n < 2 || b->n < 2)
		return 0;
	va = a->m2 / (a->n - 1);
	vb = b->m2 / (b->n - 1);
	den = sqrt(va / a->n + vb / b->n);
	if (den == 0)
		return a->mean == b->mean ? 0 : INFINITY;
	return (a->mean - b->mean) / den;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Measurements of one class and the summaries of every test over them. */
struct sample {
	uint32_t *x;
	size_t n;
	struct welford test[NTESTS];
};

/*
 * Fills every test's summary of s: raw, below each threshold, and the centred square. The
 * raw and second-order passes use the measurement order; the cropped ones sweep a sorted copy.
 */
static int summarise(struct sample *s, const double thr[NPERCENTILES])
{
	uint32_t *sorted = malloc(s->n * sizeof(*sorted));
	struct welford acc = {0, 0, 0};
	size_t i = 0;

	if (sorted == NULL)
		return -1;
	memset(s->test, 0, sizeof(s->test));
	for (size_t k = 0; k < s->n; k++)
		wf_push(&s->test[0], s->x[k]);
	for (size_t k = 0; k < s->n; k++) {
		double d = s->x[k] - s->test[0].mean;

		wf_push(&s->test[NTESTS - 1], d * d);
	}
	memcpy(sorted, s->x, s->n * sizeof(*sorted));
	qsort(sorted, s->n, sizeof(*sorted), cmp_u32);
	for (int p = 0; p < NPERCENTILES; p++) {
		while (i < s->n && sorted[i] < thr[p])
			wf_push(&acc, sorted[i++]);
		s->test[1 + p] = acc;
	}
	free(sorted);
	return 0;
}

static const char *test_name(int t, char *buf, size_t len)
{
	if (t == 0)
		snprintf(buf, len, "raw");
	else if (t == NTESTS - 1)
		snprintf(buf, len, "2nd-order");
	else
		snprintf(buf, len, "crop<p%.4g", 100 * (1 - pow(0.5, 10.0 * t / NPERCENTILES)));
	return buf;
}

/* ---- the engine under test ---- */

struct bench {
	struct tl_engine e;
	uint8_t secret[HM_KEY_LEN];
	struct hm_item item[NCLASSES];
	uint8_t good[HM_MAC_LEN];
	uint8_t sigs[BLOCK][HM_MAC_LEN]; /* one block's signatures, made before it is timed */
	uint8_t order[BLOCK];            /* one block's classes */
	/* --rfc9421: the items' Signature-Input values, and one block's Signature values */
	bool rfc;
	char input[NCLASSES][160];
	char sigtext[BLOCK][64];
};

/* The hmacd-v1 item of every class but its scope: a block's signatures are set when it runs. */
static void make_item(struct hm_item *it, const char *container, uint8_t *sig)
{
	tl_v1_item(it, sig, "t1", container, 1, "/containers/c1/exec?tty=0", NOW, "", "8d1c0e2a");
}

/* --rfc9421: item it of t1/c1 under keyid, and (if good) its right MAC under key. */
static int make_rfc_item(struct hm_item *it, char *input, size_t cap, const char *keyid,
			 const uint8_t *key, uint8_t *good)
{
	static const char *const covered[] = {"@method", "@path", "@authority"};
	const struct hm_siginput si = {
		.label = "sig1",
		.components = covered,
		.ncomponents = sizeof(covered) / sizeof(covered[0]),
		.has_created = true,
		.created = NOW,
		.nonce = "",
		.keyid = keyid,
	};
	size_t len;
	int rc;

	memset(it, 0, sizeof(*it));
	it->scheme = HM_SCHEME_RFC9421;
	tl_str(&it->tenant, "t1");
	tl_str(&it->container, "c1");
	tl_str(&it->method, "POST");
	tl_str(&it->rfc.authority, "api.example");
	tl_str(&it->path, "/containers/c1/exec?tty=0");
	rc = hm_siginput_write(it, &si, input, cap, &len);
	if (rc != HM_OK) {
		fprintf(stderr, "dudect: the rfc9421 Signature-Input: %s\n", hm_strerror(rc));
		return -1;
	}
	tl_str(&it->rfc.signature_input, input);
	if (good == NULL)
		return 0;
	rc = hm_sign_rfc9421(key, HM_KEY_LEN, it, good);
	if (rc != HM_OK) {
		fprintf(stderr, "dudect: signing the rfc9421 item: %s\n", hm_strerror(rc));
		return -1;
	}
	return 0;
}

static int bench_open(struct bench *b, bool scope_control)
{
	struct hm_verify_config cfg = {.skew = SKEW, .key_cache = 64, .max_canonical = 65536};
	char err[256];
	int rc;

	rc = tl_engine_open(&b->e, "dudect", &cfg, 1024, err, sizeof(err));
	if (rc != HM_OK) {
		fprintf(stderr, "dudect: %s\n", err);
		return -1;
	}
	rc = hm_ks_create(b->e.ks, "t1", "c1", NOW - 1000, "kid-c1", b->secret, NULL);
	if (rc == HM_OK && scope_control) {
		uint8_t other[HM_KEY_LEN];

		rc = hm_ks_create(b->e.ks, "t1", "c9", NOW - 1000, "kid-c9", other, NULL);
		OPENSSL_cleanse(other, sizeof(other));
	}
	if (rc != HM_OK) {
		fprintf(stderr, "dudect: setup: %s\n", hm_strerror(rc));
		return -1;
	}
	if (b->rfc) {
		for (int c = 0; c < NCLASSES; c++)
			if (make_rfc_item(&b->item[c], b->input[c], sizeof(b->input[c]),
					  c == C_UNKNOWN ? "kid-c9" : "kid-c1", b->secret,
					  c == C_EQUAL ? b->good : NULL) != 0)
				return -1;
		return 0;
	}
	for (int c = 0; c < NCLASSES; c++)
		make_item(&b->item[c], c == C_UNKNOWN ? "c9" : "c1", b->good);
	rc = hm_sign_item(b->secret, HM_KEY_LEN, &b->item[C_EQUAL], b->good);
	if (rc != HM_OK) {
		fprintf(stderr, "dudect: hm_sign_item: %s\n", hm_strerror(rc));
		return -1;
	}
	return 0;
}

static void bench_close(struct bench *b)
{
	tl_engine_close(&b->e);
	OPENSSL_cleanse(b, sizeof(*b));
}

/* The bytewise control's compare: an early exit at the first difference. */
static int bytewise_cmp(const void *a, const void *b, size_t n)
{
	const volatile uint8_t *x = a, *y = b;

	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return 1;
	return 0;
}


/*
 * Measures n_per_class items of each class into s[]. Inputs (class order, signatures) are made
 * for a whole block before any of it is timed, as dudect prescribes.
 */
static int measure(struct bench *b, enum control ctl, size_t n_per_class, uint64_t *seed,
		   const enum hm_verdict expect[NCLASSES], struct sample s[NCLASSES])
{
	uint8_t(*sigs)[HM_MAC_LEN] = b->sigs;
	uint8_t *order = b->order;
	volatile unsigned sink = 0;
	size_t total = n_per_class * NCLASSES, done = 0, bad = 0;
	/* called through a volatile pointer, so the compiler cannot inline or drop the compare */
	int (*volatile cmp)(const void *, const void *, size_t) =
		ctl == CTL_MEMCMP ? memcmp : ctl == CTL_BYTEWISE ? bytewise_cmp : NULL;

	for (int c = 0; c < NCLASSES; c++) {
		s[c].n = 0;
		s[c].x = malloc(n_per_class * sizeof(uint32_t));
		if (s[c].x == NULL)
			return -1;
	}
	/* whole blocks of warm-up first (key cache, branch predictors, page faults), not recorded */
	for (size_t warm = WARMUP; done < total;) {
		bool record = warm == 0;
		size_t nblock = !record || total - done > BLOCK ? BLOCK : total - done;

		/* balanced block: nblock/4 of each class, Fisher-Yates shuffled */
		for (size_t i = 0; i < nblock; i++)
			order[i] = (uint8_t)(i % NCLASSES);
		for (size_t i = nblock - 1; i > 0; i--) {
			size_t j = (size_t)(rnd(seed) % (i + 1));
			uint8_t t = order[i];

			order[i] = order[j];
			order[j] = t;
		}
		for (size_t i = 0; i < nblock; i++) {
			switch ((enum cls)order[i]) {
			case C_EQUAL:
				memcpy(sigs[i], b->good, HM_MAC_LEN);
				break;
			case C_PREFIX31:
				memcpy(sigs[i], b->good, HM_MAC_LEN);
				sigs[i][31] ^= (uint8_t)(1 + rnd(seed) % 255);
				break;
			case C_RANDOM:
			case C_UNKNOWN:
				rnd_bytes(seed, sigs[i], HM_MAC_LEN);
				sigs[i][0] = (uint8_t)(b->good[0] ^ (1 + rnd(seed) % 255));
				break;
			}
			if (b->rfc) {
				char b64[HM_B64_LEN(HM_MAC_LEN) + 1];

				hm_b64_encode_ct(sigs[i], HM_MAC_LEN, b64);
				snprintf(b->sigtext[i], sizeof(b->sigtext[i]), "sig1=:%s:", b64);
			}
		}
		if (hm_verify_begin(b->e.v, NOW) != HM_OK) {
			fprintf(stderr, "dudect: hm_verify_begin failed\n");
			return -1;
		}
		for (size_t i = 0; i < nblock; i++) {
			struct hm_item *it = &b->item[order[i]];
			enum hm_verdict vd;
			uint64_t t0, t1;

			it->v1.sig = sigs[i];
			if (b->rfc)
				tl_str(&it->rfc.signature, b->sigtext[i]);
			t0 = ticks();
			vd = hm_verify_item(b->e.v, it);
			if (cmp != NULL && cmp(b->good, it->v1.sig, HM_MAC_LEN) == 0)
				sink++;
			t1 = ticks();
			if (vd != expect[order[i]])
				bad++;
			if (!record)
				continue;
			s[order[i]].x[s[order[i]].n++] =
				t1 - t0 > UINT32_MAX ? UINT32_MAX : (uint32_t)(t1 - t0);
			done++;
		}
		if (hm_verify_end(b->e.v) != HM_OK) {
			fprintf(stderr, "dudect: the verify engine reported a fault\n");
			return -1;
		}
		if (!record)
			warm = warm > BLOCK ? warm - BLOCK : 0;
	}
	(void)sink;
	if (bad > 0) {
		fprintf(stderr, "dudect: %zu items got an unexpected verdict\n", bad);
		return -1;
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: dudect [-n MEASUREMENTS_PER_CLASS] [--control=memcmp|bytewise] "
		   "[--scope-control] [--rfc9421] [--seed N] [--cpu N] [--csv FILE]\n");
}

static bool parse_u64(const char *s, uint64_t *v)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(s, &end, 0);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-')
		return false;
	*v = x;
	return true;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"control", required_argument, NULL, 'c'}, {"seed", required_argument, NULL, 's'},
		{"cpu", required_argument, NULL, 'p'},     {"csv", required_argument, NULL, 'o'},
		{"scope-control", no_argument, NULL, 'S'}, {"help", no_argument, NULL, 'h'},
		{"rfc9421", no_argument, NULL, 'R'},
		{NULL, 0, NULL, 0},
	};
	enum hm_verdict expect[NCLASSES] = {
		[C_EQUAL] = HM_V_OK,
		[C_PREFIX31] = HM_V_BAD_SIGNATURE,
		[C_RANDOM] = HM_V_BAD_SIGNATURE,
		[C_UNKNOWN] = HM_V_UNKNOWN_KEY,
	};
	const char *cls_name[NCLASSES] = {"equal", "prefix31", "random", "unknown"};
	struct bench *b = NULL;
	struct sample s[NCLASSES];
	double thr[NPERCENTILES], max_t = 0;
	uint64_t n = 1000000, seed = 0, cpu = UINT64_MAX;
	enum control ctl = CTL_NONE;
	const char *csv = NULL;
	bool have_seed = false, scope_control = false, rfc = false;
	uint32_t *pool = NULL;
	size_t npool = 0;
	int opt, rc = 2;

	memset(s, 0, sizeof(s));
	while ((opt = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			if (!parse_u64(optarg, &n) || n < ENOUGH || n > 100000000) {
				fprintf(stderr, "dudect: -n wants %d..100000000\n", ENOUGH);
				return 2;
			}
			break;
		case 'c':
			if (strcmp(optarg, "memcmp") == 0) {
				ctl = CTL_MEMCMP;
			} else if (strcmp(optarg, "bytewise") == 0) {
				ctl = CTL_BYTEWISE;
			} else {
				usage(stderr);
				return 2;
			}
			break;
		case 's':
			if (!parse_u64(optarg, &seed)) {
				usage(stderr);
				return 2;
			}
			have_seed = true;
			break;
		case 'p':
			if (!parse_u64(optarg, &cpu) || cpu >= CPU_SETSIZE) {
				usage(stderr);
				return 2;
			}
			break;
		case 'o':
			csv = optarg;
			break;
		case 'S':
			scope_control = true;
			expect[C_UNKNOWN] = HM_V_BAD_SIGNATURE;
			cls_name[C_UNKNOWN] = "other";
			break;
		case 'R':
			rfc = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (!have_seed && RAND_bytes((unsigned char *)&seed, sizeof(seed)) != 1) {
		fprintf(stderr, "dudect: RAND_bytes failed\n");
		return 2;
	}
	/* Stay on one CPU: a migration mid-call is one more source of noise. */
	if (cpu == UINT64_MAX && sched_getcpu() >= 0)
		cpu = (uint64_t)sched_getcpu();
	if (cpu != UINT64_MAX) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET((int)cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) != 0)
			perror("dudect: sched_setaffinity (continuing unpinned)");
	}
	if (rfc && scope_control) { /* another scope's key id: unknown here all the same */
		expect[C_UNKNOWN] = HM_V_UNKNOWN_KEY;
		cls_name[C_UNKNOWN] = "elsewhere";
	}
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		goto out;
	b->rfc = rfc;
	if (bench_open(b, scope_control) != 0)
		goto out;

	printf("dudect: hm_verify_item%s, %" PRIu64 " measurements per class, control %s%s, "
	       "seed %" PRIu64 ", clock %s\n",
	       rfc ? " (rfc9421 items)" : "", n,
	       ctl == CTL_NONE ? "none" : ctl == CTL_MEMCMP ? "memcmp" : "bytewise",
	       !scope_control ? ""
	       : rfc ? " + scope (class 4 = another scope's key id)"
		     : " + scope (class 4 = wrong sig, other existing scope)",
	       seed,
#ifdef HAVE_RDTSC
	       "rdtsc"
#else
	       "clock_gettime ns"
#endif
	);
	fflush(stdout);
	if (measure(b, ctl, n, &seed, expect, s) != 0)
		goto out;

	/* thresholds: percentiles of all measurements pooled, the same for every class */
	npool = (size_t)n * NCLASSES;
	pool = malloc(npool * sizeof(*pool));
	if (pool == NULL)
		goto out;
	for (int c = 0; c < NCLASSES; c++)
		memcpy(pool + c * n, s[c].x, n * sizeof(*pool));
	qsort(pool, npool, sizeof(*pool), cmp_u32);
	for (int p = 0; p < NPERCENTILES; p++) {
		double q = 1 - pow(0.5, 10.0 * (p + 1) / NPERCENTILES);

		thr[p] = pool[(size_t)(q * (double)(npool - 1))];
	}
	for (int c = 0; c < NCLASSES; c++) {
		if (summarise(&s[c], thr) != 0)
			goto out;
	}

	printf("\n%-9s %10s %10s %10s %10s\n", "class", "n", "median", "p90", "mean<p90");
	for (int c = 0; c < NCLASSES; c++) {
		uint32_t *tmp = malloc(n * sizeof(*tmp));

		if (tmp == NULL)
			goto out;
		memcpy(tmp, s[c].x, n * sizeof(*tmp));
		qsort(tmp, n, sizeof(*tmp), cmp_u32);
		printf("%-9s %10zu %10" PRIu32 " %10" PRIu32 " %10.1f\n", cls_name[c], s[c].n,
		       tmp[n / 2], tmp[(size_t)(0.9 * (double)(n - 1))],
		       s[c].test[1 + 32].mean); /* test 33 crops near the 90th percentile */
		free(tmp);
	}

	printf("\n%-20s %10s %10s %10s %14s  %s\n", "pair", "n (pair)", "t raw", "t p50",
	       "max |t|", "at test");
	for (int a = 0; a < NCLASSES; a++) {
		for (int c = a + 1; c < NCLASSES; c++) {
			double best = 0, t_raw, t_mid;
			int at = 0;
			char pair[32], tn[32];

			for (int t = 0; t < NTESTS; t++) {
				double tv;

				if (s[a].test[t].n + s[c].test[t].n < ENOUGH ||
				    s[a].test[t].n < 1000 || s[c].test[t].n < 1000)
					continue;
				tv = fabs(welch_t(&s[a].test[t], &s[c].test[t]));
				if (tv > best) {
					best = tv;
					at = t;
				}
			}
			t_raw = welch_t(&s[a].test[0], &s[c].test[0]);
			t_mid = welch_t(&s[a].test[10], &s[c].test[10]); /* ~p50 crop */
			snprintf(pair, sizeof(pair), "%s/%s", cls_name[a], cls_name[c]);
			printf("%-20s %10zu %10.2f %10.2f %14.2f  %s\n", pair, s[a].n + s[c].n,
			       t_raw, t_mid, best, test_name(at, tn, sizeof(tn)));
			if (best > max_t)
				max_t = best;
		}
	}
	printf("\nmax |t| = %.2f over %d tests x 6 pairs (threshold %.1f): %s\n", max_t, NTESTS,
	       T_THRESHOLD, max_t < T_THRESHOLD ? "no timing difference detected" :
						   "TIMING DEPENDS ON THE CLASS");
	if (csv != NULL) {
		FILE *f = fopen(csv, "w");

		if (f == NULL) {
			perror("dudect: csv");
			goto out;
		}
		fprintf(f, "class,cycles\n");
		for (int c = 0; c < NCLASSES; c++)
			for (size_t i = 0; i < s[c].n; i++)
				fprintf(f, "%s,%" PRIu32 "\n", cls_name[c], s[c].x[i]);
		if (fclose(f) != 0) {
			perror("dudect: csv");
			goto out;
		}
	}
	rc = max_t < T_THRESHOLD ? 0 : 1;
out:
	free(pool);
	for (int c = 0; c < NCLASSES; c++)
		free(s[c].x);
	if (b != NULL)
		bench_close(b);
	free(b);
	return rc;
}
