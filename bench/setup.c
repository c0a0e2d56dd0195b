/*
 * setup.c - scopes in the real key store, and the pool of pre-encoded frames (see bench.h).
 *
 * Everything costly happens here, before the clock starts: each item is signed with proto/
 * code and encoded with the request encoders of proto/msg.h, so the generator only copies
 * bytes to a socket at run time and the frames are exactly what a real client sends.
 *
 * Item shape: POST /containers/<container>/exec?tty=1 with content-type and x-request-id
 * headers and a body of --body-bytes printable random bytes; with --nonce a nonce unique to
 * the run and the item. Scopes are visited in one shuffled order, repeated, so a pool of at
 * least --scopes items touches every scope once.
 *   hmacd-v1 (hm_sign_item: canonical string, fresh HMAC): both headers signed, epoch 1,
 *     ts = now, the body (or its SHA-256 with --digest).
 *   rfc9421: authority app.example.com, a third header Content-Digest (sha-256 of the body,
 *     RFC 9530), signed as RFC 9421 hmac-sha256: covered ("@method" "@authority" "@path"
 *     "@query" "content-digest" "x-request-id"), created = now, nonce with --nonce, keyid = the
 *     scope's key id (the Signature-Input written by proto/siginput.c, as libhmacd writes it),
 *     signed by hm_sign_rfc9421 (the base proto/sigbase.c builds from the parse of the
 *     Signature-Input we send: the daemon's own code, so what is signed is what it will
 *     rebuild). The body is sent, except with --digest (then only the covered Content-Digest
 *     header: the app would check the body).
 */
#include "bench.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "proto/b64.h"
#include "proto/buf.h"
#include "store/keystore.h"
#include "proto/msg.h"
#include "proto/policy.h"
#include "proto/siginput.h"
#include "proto/sign.h"

#define ITEM_OVERHEAD 200    /* encoded bytes of an item besides its body: a low estimate */
#define ITEM_OVERHEAD_MAX 400 /* ... and a high one (names, path, headers, nonce, sig, keys) */
#define ITEM_TYPICAL 250     /* ... and a typical one */
/* the same for an rfc9421 item (authority, Content-Digest, Signature-Input, Signature) */
#define RFC_OVERHEAD 450
#define RFC_OVERHEAD_MAX 800
#define RFC_TYPICAL 560

/* RFC 9421 items: what they cover and where they are sent */
#define RFC_AUTHORITY "app.example.com"
#define RFC_LABEL "sig1"
static const char *const rfc_covered[] = {"@method", "@authority", "@path", "@query",
					  "content-digest", "x-request-id"};
#define RFC_INPUT_MAX 512 /* our Signature-Input: about 180 bytes */

/* Encoded bytes of an item besides its body: low, high or typical guess. */
static size_t item_overhead(const struct bench_opts *o, unsigned which)
{
	static const size_t v1[3] = {ITEM_OVERHEAD, ITEM_OVERHEAD_MAX, ITEM_TYPICAL};
	static const size_t rfc[3] = {RFC_OVERHEAD, RFC_OVERHEAD_MAX, RFC_TYPICAL};

	return o->scheme == BENCH_RFC9421 ? rfc[which] : v1[which];
}

/* Body bytes an item carries. */
static size_t item_body(const struct bench_opts *o)
{
	if (o->scheme == BENCH_RFC9421)
		return o->digest ? 0 : o->body_bytes;
	return o->digest ? HM_SHA256_LEN : o->body_bytes;
}

/* A low estimate of a frame's size. */
static size_t frame_low(const struct bench_opts *o)
{
	return o->batch * (item_body(o) + item_overhead(o, 0));
}

size_t bench_pool_item_estimate(const struct bench_opts *o)
{
	return item_body(o) + item_overhead(o, 2);
}

size_t bench_pool_frames_cap(const struct bench_opts *o, size_t nframes, size_t stop_at_bytes)
{
	size_t cap = stop_at_bytes / frame_low(o) + 1;

	return stop_at_bytes && nframes > cap ? cap : nframes;
}

size_t bench_pool_frame_bound(const struct bench_opts *o)
{
	return 64 + o->batch * (item_body(o) + item_overhead(o, 1));
}

void bench_scope_names(const struct bench_scopes *s, uint64_t i, char *tenant, char *container)
{
	snprintf(tenant, BENCH_NAME_MAX, "%st%06" PRIu64, s->prefix, i / BENCH_SCOPES_PER_TENANT);
	snprintf(container, BENCH_NAME_MAX, "ctr-%07" PRIu64, i);
}

/* The policy our rfc9421 items meet, stored for every tenant of the run (see bench.h). */
static int tenant_policies_set(struct bench_scopes *s, struct hm_keystore *ks, char *err,
			       size_t errlen)
{
	char tenant[BENCH_NAME_MAX], container[BENCH_NAME_MAX];
	struct hm_policy pol;
	int rc;

	hm_policy_default(&pol);
	pol.require_nonce = s->policy_nonce;
	for (uint64_t i = 0; i < s->n; i += BENCH_SCOPES_PER_TENANT) {
		bench_scope_names(s, i, tenant, container);
		rc = hm_ks_policy_set(ks, tenant, NULL, &pol);
		if (rc != HM_OK) {
			snprintf(err, errlen, "hm_ks_policy_set(%s): %s: %s", tenant,
				 hm_strerror(rc), hm_ks_errmsg(ks));
			return rc;
		}
		s->ntenant_policies++;
	}
	return HM_OK;
}

int bench_scopes_create(struct bench_scopes *s, const char *dir, char *err, size_t errlen)
{
	struct hm_keystore *ks = NULL;
	char tenant[BENCH_NAME_MAX], container[BENCH_NAME_MAX];
	struct hm_ks_added added;
	uint64_t t0, i;
	int rc;

	s->secrets = malloc(s->n * HM_KEY_LEN);
	if (s->keep_keyids)
		s->keyids = malloc(s->n * BENCH_KEYID_MAX);
	if (s->secrets == NULL || (s->keep_keyids && s->keyids == NULL)) {
		snprintf(err, errlen, "out of memory for %" PRIu64 " secrets", s->n);
		return HM_ENOMEM;
	}
	rc = hm_ks_open(dir, HM_KS_CREATE, &ks, err, errlen);
	if (rc != HM_OK)
		return rc;
	t0 = bench_now_ns();
	for (i = 0; i < s->n; i++) {
		bench_scope_names(s, i, tenant, container);
		rc = hm_ks_create(ks, tenant, container, (int64_t)time(NULL), NULL,
				  s->secrets + i * HM_KEY_LEN, &added);
		if (rc != HM_OK) {
			snprintf(err, errlen, "hm_ks_create(%s, %s): %s: %s", tenant, container,
				 hm_strerror(rc), hm_ks_errmsg(ks));
			goto out;
		}
		if (added.epoch != 1) {
			snprintf(err, errlen, "hm_ks_create gave epoch %u, expected 1",
				 added.epoch);
			rc = HM_ESTORE;
			goto out;
		}
		if (s->keep_keyids) {
			if (strlen(added.keyid) >= BENCH_KEYID_MAX) {
				snprintf(err, errlen, "key id of %zu bytes: the bench keeps %d",
					 strlen(added.keyid), BENCH_KEYID_MAX - 1);
				rc = HM_ETOOBIG;
				goto out;
			}
			memcpy(s->keyids + i * BENCH_KEYID_MAX, added.keyid,
			       strlen(added.keyid) + 1);
		}
	}
	if (s->tenant_policy) {
		rc = tenant_policies_set(s, ks, err, errlen);
		if (rc != HM_OK)
			goto out;
	}
	s->create_seconds = (double)(bench_now_ns() - t0) / 1e9;
out:
	hm_ks_close(ks);
	return rc;
}

void bench_scopes_free(struct bench_scopes *s)
{
	if (s->secrets != NULL)
		OPENSSL_cleanse(s->secrets, s->n * HM_KEY_LEN);
	free(s->secrets);
	s->secrets = NULL;
	free(s->keyids);
	s->keyids = NULL;
}

/* Fisher-Yates over 0..n-1 with the bench's seeded generator. */
static uint32_t *shuffled(uint64_t n, uint64_t *rng)
{
	uint32_t *perm = malloc(n * sizeof(*perm));

	if (perm == NULL)
		return NULL;
	for (uint64_t i = 0; i < n; i++)
		perm[i] = (uint32_t)i;
	for (uint64_t i = n - 1; i > 0; i--) {
		uint64_t j = bench_rand(rng) % (i + 1);
		uint32_t t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
	return perm;
}

/*
 * --scope-dist zipf: cdf[r] = P(rank <= r), rank r (0-based) drawn with probability
 * proportional to 1 / (r + 1)^s. Built once; each item then costs one binary search, before
 * the clock starts.
 */
static double *zipf_cdf(uint64_t n, double s)
{
	double *cdf = malloc(n * sizeof(*cdf)), sum = 0;

	if (cdf == NULL)
		return NULL;
	for (uint64_t r = 0; r < n; r++) {
		sum += pow((double)(r + 1), -s);
		cdf[r] = sum;
	}
	for (uint64_t r = 0; r < n; r++)
		cdf[r] /= sum;
	cdf[n - 1] = 1.0;
	return cdf;
}

/* The first rank whose cdf reaches u (u in [0, 1)). */
static uint64_t zipf_rank(const double *cdf, uint64_t n, double u)
{
	uint64_t lo = 0, hi = n - 1;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (cdf[mid] > u)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* Everything one item points to: the item's strings live here until it is encoded. */
struct item_space {
	char tenant[BENCH_NAME_MAX];
	char container[BENCH_NAME_MAX];
	char path[BENCH_NAME_MAX + 32];
	char reqid[17];
	char nonce[HM_NONCE_MAX + 1];
	uint8_t digest[HM_SHA256_LEN];
	uint8_t sig[HM_MAC_LEN];
	/* rfc9421 */
	char content_digest[16 + HM_B64_LEN(HM_SHA256_LEN)]; /* sha-256=:<base64>: */
	char input[RFC_INPUT_MAX];
	char signature[16 + HM_B64_LEN(HM_MAC_LEN)];         /* sig1=:<base64>: */
	struct hm_item item;
};

static struct hm_str str_of(const char *s)
{
	return (struct hm_str){(const uint8_t *)s, strlen(s)};
}

/*
 * rfc9421: writes the Content-Digest header and the Signature-Input of sp->item, and the MAC
 * of its signature base into sp->sig (the Signature text is written by finish_item(), after a
 * tampered item's bit flip).
 */
static int sign_rfc9421(const struct bench_opts *o, const struct bench_scopes *s, uint64_t scope,
			int64_t now, const uint8_t *body, struct item_space *sp)
{
	struct hm_item *it = &sp->item;
	char b64[HM_B64_LEN(HM_SHA256_LEN) + 1];
	struct hm_siginput si = {
		.label = RFC_LABEL,
		.components = rfc_covered,
		.ncomponents = sizeof(rfc_covered) / sizeof(rfc_covered[0]),
		.has_created = true,
		.created = now,
		.nonce = o->nonce ? sp->nonce : "",
		.keyid = bench_scope_keyid(s, scope),
	};
	size_t n;
	int rc;

	/* Content-Digest (RFC 9530) of the body, sent (and covered) even when the body is not */
	rc = hm_sha256(body, o->body_bytes, sp->digest);
	if (rc != HM_OK)
		return rc;
	(void)hm_b64_encode_ct(sp->digest, HM_SHA256_LEN, b64);
	snprintf(sp->content_digest, sizeof(sp->content_digest), "sha-256=:%s:", b64);
	it->headers[it->nheaders].name = str_of("content-digest");
	it->headers[it->nheaders].value = str_of(sp->content_digest);
	it->nheaders++;
	/* one signature, no label */
	rc = hm_siginput_write(it, &si, sp->input, sizeof(sp->input), &n);
	if (rc != HM_OK)
		return rc;
	it->rfc.signature_input = (struct hm_str){(const uint8_t *)sp->input, n};
	/* sign exactly what the daemon's parse of that text gives, with its own base builder */
	return hm_sign_rfc9421(s->secrets + scope * HM_KEY_LEN, HM_KEY_LEN, it, sp->sig);
}

/* Fills sp->item as item number k (of the whole pool) for scope `scope`; its MAC in sp->sig. */
static int make_item(const struct bench_opts *o, const struct bench_scopes *s, uint64_t scope,
		     uint64_t k, uint32_t run_id, int64_t now, uint8_t *body, uint64_t *rng,
		     struct item_space *sp)
{
	struct hm_item *it = &sp->item;
	int rc;

	bench_scope_names(s, scope, sp->tenant, sp->container);
	snprintf(sp->path, sizeof(sp->path), "/containers/%s/exec?tty=1", sp->container);
	snprintf(sp->reqid, sizeof(sp->reqid), "%016" PRIx64, k);
	for (size_t i = 0; i < o->body_bytes; i++)
		body[i] = (uint8_t)(0x20 + bench_rand(rng) % 95); /* printable, like a JSON body */

	memset(it, 0, sizeof(*it));
	it->tenant = str_of(sp->tenant);
	it->container = str_of(sp->container);
	it->method = str_of("POST");
	it->path = str_of(sp->path);
	it->nheaders = 2;
	it->headers[0].name = str_of("content-type");
	it->headers[0].value = str_of("application/json");
	it->headers[1].name = str_of("x-request-id");
	it->headers[1].value = str_of(sp->reqid);
	if (o->nonce) {
		/* unique per run (run_id) and per item (k): never a replay, not even across runs */
		snprintf(sp->nonce, sizeof(sp->nonce), "%08" PRIx32 "%016" PRIx64, run_id, k);
	}
	if (o->scheme == BENCH_RFC9421) {
		it->scheme = HM_SCHEME_RFC9421;
		it->rfc.authority = str_of(RFC_AUTHORITY);
		if (!o->digest && o->body_bytes > 0) {
			it->has_body = true;
			it->body = (struct hm_str){body, o->body_bytes};
		}
		return sign_rfc9421(o, s, scope, now, body, sp);
	}
	it->v1.epoch = 1;
	it->v1.ts = (uint64_t)now;
	if (o->nonce)
		it->v1.nonce = str_of(sp->nonce);
	if (o->digest) {
		rc = hm_sha256(body, o->body_bytes, sp->digest);
		if (rc != HM_OK)
			return rc;
		it->v1.has_body_sha256 = true;
		it->v1.body_sha256 = sp->digest;
	} else {
		it->has_body = true;
		it->body = (struct hm_str){body, o->body_bytes};
	}
	rc = hm_sign_item(s->secrets + scope * HM_KEY_LEN, HM_KEY_LEN, it, sp->sig);
	it->v1.sig = sp->sig;
	return rc;
}

/*
 * After the MAC in sp->sig is final (tampered or not): rfc9421 items get their Signature text
 * and are checked as the daemon's decoder will (a refusal here is a bug in this file).
 */
static int finish_item(const struct bench_opts *o, struct item_space *sp)
{
	char b64[HM_B64_LEN(HM_MAC_LEN) + 1];

	if (o->scheme != BENCH_RFC9421)
		return HM_OK;
	(void)hm_b64_encode_ct(sp->sig, HM_MAC_LEN, b64);
	snprintf(sp->signature, sizeof(sp->signature), RFC_LABEL "=:%s:", b64);
	sp->item.rfc.signature = str_of(sp->signature);
	return hm_item_check(&sp->item);
}

int bench_pool_build(const struct bench_opts *o, const struct bench_scopes *s, size_t nframes,
		     size_t stop_at_bytes, struct bench_pool *p)
{
	struct hm_buf b;
	struct item_space *sp = NULL;
	uint32_t *perm = NULL;
	uint8_t *body = NULL, *seen = NULL;
	double *cdf = NULL;
	uint64_t rng = o->seed, t0 = bench_now_ns(), k = 0, distinct = 0;
	int64_t now = (int64_t)time(NULL);
	size_t f, est, start;
	uint32_t run_id = 0;
	int rc = HM_ENOMEM;

	memset(p, 0, sizeof(*p));
	p->ts = now;
	p->batch = o->batch;
	p->unique = o->nonce;
	hm_buf_init(&b, stop_at_bytes ? stop_at_bytes + (64u << 20) : SIZE_MAX / 2);
	/* a low guess of a frame's size bounds the frame count, so the arrays are allocated once */
	est = frame_low(o);
	nframes = bench_pool_frames_cap(o, nframes, stop_at_bytes);
	if (RAND_bytes((uint8_t *)&run_id, sizeof(run_id)) != 1) {
		rc = HM_ECRYPTO;
		goto out;
	}
	p->off = malloc((nframes + 1) * sizeof(*p->off));
	p->expect = malloc(nframes * o->batch);
	perm = shuffled(s->n, &rng);
	body = malloc(o->body_bytes ? o->body_bytes : 1);
	sp = malloc(sizeof(*sp));
	seen = calloc(s->n / 8 + 1, 1);
	if (p->off == NULL || p->expect == NULL || perm == NULL || body == NULL || sp == NULL ||
	    seen == NULL)
		goto out;
	/* zipf: rank r is scope perm[r], so the popular scopes are spread over the tenants */
	if (o->scope_dist == BENCH_DIST_ZIPF) {
		cdf = zipf_cdf(s->n, o->zipf_s);
		if (cdf == NULL)
			goto out;
	}
	if (hm_buf_reserve(&b, nframes * est) != HM_OK)
		hm_buf_init(&b, b.limit); /* no room for the guess: grow as we go instead */
	for (f = 0; f < nframes; f++) {
		/* --pool-mb: stop before a frame that would pass the budget */
		if (stop_at_bytes && f > 0 && b.len + b.len / f > stop_at_bytes)
			break;
		start = hm_encode_verify_begin(&b, f, o->batch);
		p->off[f] = start;
		for (uint32_t j = 0; j < o->batch; j++, k++) {
			uint64_t scope = cdf != NULL ? perm[zipf_rank(cdf, s->n, bench_rand01(&rng))]
						     : perm[k % s->n];
			bool bad = o->invalid_ratio > 0 && bench_rand01(&rng) < o->invalid_ratio;

			if (!(seen[scope / 8] & (1u << (scope % 8)))) {
				seen[scope / 8] |= (uint8_t)(1u << (scope % 8));
				distinct++;
			}
			rc = make_item(o, s, scope, k, run_id, now, body, &rng, sp);
			if (rc != HM_OK)
				goto out;
			if (bad) {
				/* one flipped bit anywhere in the 32 bytes */
				uint64_t r = bench_rand(&rng);

				sp->sig[r % HM_MAC_LEN] ^= (uint8_t)(1u << ((r >> 8) % 8));
				p->ninvalid++;
			}
			rc = finish_item(o, sp);
			if (rc != HM_OK)
				goto out;
			p->expect[f * o->batch + j] = bad ? HM_V_BAD_SIGNATURE : HM_V_OK;
			hm_encode_item(&b, &sp->item);
		}
		hm_frame_end(&b, start);
		if (b.failed) {
			rc = HM_ENOMEM;
			goto out;
		}
		if (b.len - start - 4 > p->max_frame)
			p->max_frame = b.len - start - 4;
	}
	p->nframes = f;
	p->off[f] = b.len;
	p->nitems = k;
	p->distinct_scopes = distinct;
	p->bytes = b.data; /* the pool owns the buffer now */
	p->nbytes = b.len;
	b.data = NULL;
	p->gen_seconds = (double)(bench_now_ns() - t0) / 1e9;
	rc = HM_OK;
out:
	if (sp != NULL)
		OPENSSL_cleanse(sp, sizeof(*sp));
	free(sp);
	free(body);
	free(seen);
	free(cdf);
	free(perm);
	hm_buf_free(&b);
	if (rc != HM_OK)
		bench_pool_free(p);
	return rc;
}

void bench_pool_free(struct bench_pool *p)
{
	free(p->bytes);
	free(p->off);
	free(p->expect);
	memset(p, 0, sizeof(*p));
}

void bench_tally_add(struct bench_tally *dst, const struct bench_tally *src)
{
	dst->frames += src->frames;
	dst->items += src->items;
	for (unsigned i = 0; i <= HM_V__COUNT; i++)
		dst->verdicts[i] += src->verdicts[i];
	dst->mismatches += src->mismatches;
	dst->errors += src->errors;
}
