/*
 * inproc.c - the in-process baseline (see bench.h).
 *
 * What an app server would pay to verify the same items itself with hmacd's code: the same
 * pre-encoded frames, decoded with hm_request_decode() + hm_item_next(), judged by the daemon's
 * verify engine (daemon/verify.h) with a key store reader, a key cache of the daemon's default
 * size and a nonce cache, and answered into a response buffer with the daemon's encoders: the
 * steps of daemon/handler.c, in one bench thread, without the socket, the event loop or a
 * second process. Daemon throughput divided by this is the price of the separate process.
 * Both schemes: rfc9421 items are judged under the default policy our own hmacd is started
 * with (or the tenant policies stored with --db), as the daemon would.
 */
#include "bench.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/buf.h"
#include "proto/frame.h"
#include "store/keystore.h"
#include "proto/msg.h"
#include "proto/policy.h"
#include "engine/replay.h"
#include "engine/verify.h"

#define MAX_BATCH (1u << 20) /* the pool's frames are ours: any batch size is fine */

static double thread_cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct inproc {
	const struct bench_pool *pool;
	struct hm_verifier *v;
	struct hm_buf out;
	struct hm_item item; /* scratch, as the daemon's handler keeps one */
	struct bench_inproc_result *res;
};

/* Judges frame f as the daemon's handler would, and checks each verdict. */
static void run_frame(struct inproc *ip, size_t f, struct bench_tally *tl)
{
	const struct bench_pool *p = ip->pool;
	const uint8_t *payload = p->bytes + p->off[f] + HM_FRAME_HEADER;
	size_t len = p->off[f + 1] - p->off[f] - HM_FRAME_HEADER, start;
	struct hm_request req;
	unsigned verdict;
	int rc;

	tl->frames++;
	rc = hm_request_decode(payload, len, MAX_BATCH, &req);
	if (rc != HM_OK || req.op != HM_OP_VERIFY || req.nitems != p->batch) {
		tl->errors++;
		snprintf(ip->res->first_error, sizeof(ip->res->first_error),
			 "frame %zu does not decode as a verify request", f);
		return;
	}
	rc = hm_verify_begin(ip->v, (int64_t)time(NULL));
	if (rc != HM_OK) {
		tl->errors++;
		snprintf(ip->res->first_error, sizeof(ip->res->first_error),
			 "hm_verify_begin: %s", hm_strerror(rc));
		return;
	}
	hm_buf_reset(&ip->out);
	start = hm_encode_results_begin(&ip->out, req.id, req.nitems);
	for (uint32_t j = 0; j < req.nitems; j++) {
		rc = hm_item_next(&req.items, &ip->item);
		if (rc == HM_OK) {
			verdict = hm_verify_item(ip->v, &ip->item);
		} else {
			hm_verify_count_malformed(ip->v);
			verdict = HM_V_MALFORMED;
		}
		hm_encode_result(&ip->out, verdict);
		tl->verdicts[verdict < HM_V__COUNT ? verdict : HM_V__COUNT]++;
		if (verdict != p->expect[f * p->batch + j] && tl->mismatches++ == 0 &&
		    ip->res->first_error[0] == '\0')
			snprintf(ip->res->first_error, sizeof(ip->res->first_error),
				 "frame %zu item %" PRIu32 ": verdict %u (%s), expected %u (%s)", f,
				 j, verdict, hm_verdict_name(verdict), p->expect[f * p->batch + j],
				 hm_verdict_name(p->expect[f * p->batch + j]));
	}
	if (hm_verify_end(ip->v) != HM_OK) {
		tl->errors++;
		snprintf(ip->res->first_error, sizeof(ip->res->first_error),
			 "the verify engine reported a server-side fault");
	}
	hm_frame_end(&ip->out, start);
	tl->items += req.nitems;
	if (ip->out.failed) {
		tl->errors++;
		snprintf(ip->res->first_error, sizeof(ip->res->first_error),
			 "the response did not fit its buffer");
	}
}

int bench_inproc_run(const struct bench_opts *o, const struct bench_pool *pool,
		     const char *db_dir, int64_t skew, size_t nonce_cache,
		     struct bench_inproc_result *res)
{
	struct hm_keystore *ks = NULL;
	struct hm_ks_reader *rd = NULL;
	struct hm_replay *replay = NULL;
	struct hm_verify_config cfg = {
		.skew = skew,
		/* hmacd refuses nonces signed before its start; ours "starts" with the pool */
		.nonces_since = pool->ts,
		.key_cache = BENCH_DEFAULT_KEY_CACHE,
		.max_canonical = HM_FRAME_DEFAULT_MAX + 1024, /* as hmacd sizes it */
	};
	struct inproc ip = {.pool = pool, .res = res};
	struct bench_tally warm = {0};
	uint64_t total = o->requests ? (o->requests + pool->batch - 1) / pool->batch : UINT64_MAX;
	uint64_t t0, t_measure, t_end, now, done = 0;
	size_t f = 0;
	double cpu0;
	/* look at the clock every few frames, so that small frames do not pay for it */
	unsigned every = pool->batch >= 16 ? 1 : 16, tick = 0;
	int rc;

	memset(res, 0, sizeof(*res));
	/* rfc9421 items: the policy our own hmacd applies (--policy-no-nonce without --nonce) */
	hm_policy_default(&cfg.default_policy);
	cfg.default_policy.require_nonce = o->nonce;
	hm_buf_init(&ip.out, 1u << 24);
	if (pool->max_frame + 1024 > cfg.max_canonical)
		cfg.max_canonical = pool->max_frame + 1024;
	rc = hm_ks_open(db_dir, HM_KS_READER, &ks, res->first_error, sizeof(res->first_error));
	if (rc != HM_OK)
		goto out;
	rc = hm_ks_reader_new(ks, &rd);
	if (rc != HM_OK) {
		snprintf(res->first_error, sizeof(res->first_error), "hm_ks_reader_new: %s",
			 hm_ks_errmsg(ks));
		goto out;
	}
	rc = hm_replay_new(nonce_cache, &replay);
	if (rc != HM_OK)
		goto out;
	rc = hm_verifier_new(&cfg, rd, replay, &ip.v);
	if (rc != HM_OK)
		goto out;

	t0 = bench_now_ns();
	t_measure = t0 + (uint64_t)(o->warmup * 1e9);
	now = t0;
	/* warm-up: fills the key cache as the daemon's first seconds would, not measured */
	while (now < t_measure && done < total) {
		if (pool->unique && f == pool->nframes) {
			res->pool_exhausted = true;
			break;
		}
		run_frame(&ip, f, &warm);
		done++;
		f = f + 1 == pool->nframes && !pool->unique ? 0 : f + 1;
		now = bench_now_ns();
	}
	cpu0 = thread_cpu_seconds();
	t_measure = bench_now_ns();
	t_end = o->duration > 0 ? t_measure + (uint64_t)(o->duration * 1e9) : UINT64_MAX;
	now = t_measure;
	while (done < total && now < t_end && !res->pool_exhausted) {
		if (pool->unique && f == pool->nframes) {
			res->pool_exhausted = o->duration > 0;
			break;
		}
		run_frame(&ip, f, &res->tally);
		done++;
		f = f + 1 == pool->nframes && !pool->unique ? 0 : f + 1;
		if (++tick >= every) {
			tick = 0;
			now = bench_now_ns();
		}
	}
	res->elapsed = (double)(bench_now_ns() - t_measure) / 1e9;
	res->cpu_seconds = thread_cpu_seconds() - cpu0;
	res->tally.errors += warm.errors;
	res->tally.mismatches += warm.mismatches;
	rc = HM_OK;
out:
	hm_verifier_free(ip.v);
	hm_replay_free(replay);
	hm_ks_reader_free(rd);
	hm_ks_close(ks);
	hm_buf_free(&ip.out);
	return rc;
}
