/*
 * inproc.c - the in-process baseline (see bench.h).
 *
 * What an app server would pay to verify the same items itself with hmacd's code: the same
 * pre-encoded frames, handed to the daemon's own frame handler (daemon/server/handler.h: the
 * decoder, the verify engine with a key store reader, a key cache of the daemon's default size
 * and a nonce cache, the response encoder), in one bench thread, without the socket, the event
 * loop or a second process. Daemon throughput divided by this is the price of the separate
 * process. Both schemes: rfc9421 items are judged under the default policy our own hmacd is
 * started with (or the tenant policies stored with --db), as the daemon would. Each response
 * is decoded to check every verdict against the pool's expectation.
 */
#include "bench.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/replay.h"
#include "engine/verify.h"
#include "proto/buf.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "proto/policy.h"
#include "server/handler.h"
#include "store/keystore.h"

#define MAX_BATCH (1u << 20) /* the pool's frames are ours: any batch size is fine */

static double thread_cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct inproc {
	const struct bench_pool *pool;
	struct hm_handler handler;
	struct hm_buf out;
	struct bench_inproc_result *res;
};

/* The pool holds verify requests only; a stats request would get an empty answer. */
static void no_stats(void *arg, struct hm_buf *out, uint64_t id)
{
	(void)arg;
	hm_frame_end(out, hm_encode_stats_begin(out, id, 0));
}

static void fail_frame(struct inproc *ip, struct bench_tally *tl, size_t f, const char *what)
{
	tl->errors++;
	if (ip->res->first_error[0] == '\0')
		snprintf(ip->res->first_error, sizeof(ip->res->first_error), "frame %zu: %s", f,
			 what);
}

/* Hands frame f to the daemon's handler, then checks each verdict of its response. */
static void run_frame(struct inproc *ip, size_t f, struct bench_tally *tl)
{
	const struct bench_pool *p = ip->pool;
	const uint8_t *payload = p->bytes + p->off[f] + HM_FRAME_HEADER;
	size_t len = p->off[f + 1] - p->off[f] - HM_FRAME_HEADER;
	struct hm_response resp;
	uint64_t verdict;

	tl->frames++;
	hm_buf_reset(&ip->out);
	if (hm_handle_frame(&ip->handler, payload, len, (int64_t)time(NULL), &ip->out) != HM_OK) {
		fail_frame(ip, tl, f, "the response did not fit its buffer");
		return;
	}
	if (hm_response_decode(ip->out.data + HM_FRAME_HEADER, ip->out.len - HM_FRAME_HEADER,
			       &resp) != HM_OK) {
		fail_frame(ip, tl, f, "the handler's response does not decode");
		return;
	}
	if (resp.kind != HM_RESP_RESULTS || resp.nresults != p->batch) {
		fail_frame(ip, tl, f, resp.kind == HM_RESP_ERROR
					      ? "answered with an error (a server-side fault?)"
					      : "not answered with one verdict per item");
		return;
	}
	for (uint32_t j = 0; j < resp.nresults; j++) {
		if (hm_mp_read_uint(&resp.results, &verdict) != HM_OK) {
			fail_frame(ip, tl, f, "a verdict does not decode");
			return;
		}
		tl->verdicts[verdict < HM_V__COUNT ? verdict : HM_V__COUNT]++;
		if (verdict != p->expect[f * p->batch + j] && tl->mismatches++ == 0 &&
		    ip->res->first_error[0] == '\0')
			snprintf(ip->res->first_error, sizeof(ip->res->first_error),
				 "frame %zu item %" PRIu32 ": verdict %u (%s), expected %u (%s)", f,
				 j, (unsigned)verdict, hm_verdict_name((unsigned)verdict),
				 p->expect[f * p->batch + j],
				 hm_verdict_name(p->expect[f * p->batch + j]));
	}
	tl->items += resp.nresults;
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
	struct hm_verifier *v = NULL;
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
	rc = hm_verifier_new(&cfg, rd, replay, &v);
	if (rc != HM_OK)
		goto out;
	ip.handler.verifier = v;
	ip.handler.max_batch = MAX_BATCH;
	ip.handler.stats_fn = no_stats;

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
	hm_verifier_free(v);
	hm_replay_free(replay);
	hm_ks_reader_free(rd);
	hm_ks_close(ks);
	hm_buf_free(&ip.out);
	return rc;
}
