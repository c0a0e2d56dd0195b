/*
 * report.c - the figures of a run, as a table for people or one JSON object for scripts (see
 * report.h; bench/README.md says what each figure means and how it is measured).
 */
#include "report.h"

#include <inttypes.h>
#include <string.h>

/* /proc counts CPU time in 10 ms ticks: machine load over a shorter window means nothing */
#define MIN_LOAD_WINDOW 1.0

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

void bench_report_json_error(FILE *f, const char *text)
{
	fprintf(f, "{\"ok\":false,\"error\":");
	json_str(f, text);
	fprintf(f, "}\n");
}

static double per_s(uint64_t n, double secs)
{
	return secs > 0 ? (double)n / secs : 0;
}

static uint64_t stat_delta(const struct bench_report *r, const char *name, bool *ok)
{
	uint64_t a = 0, b = 0;

	*ok = bench_stats_get(&r->st0, name, &a) && bench_stats_get(&r->st1, name, &b);
	return *ok && b >= a ? b - a : 0;
}

/*
 * Cores used by processes other than the daemon and the bench during the measured window: a
 * sign that the figures were taken on a busy machine. Without the daemon's pid its CPU counts
 * as "other".
 */
static double other_cores(const struct bench_report *r)
{
	double other = r->load_busy_s - r->bench_cpu_s - (r->have_cpu ? r->daemon_cpu_s : 0);

	return r->load->elapsed > 0 ? other / r->load->elapsed : 0;
}

static const double pcts[] = {50, 90, 99, 99.9};
static const char *const pct_names[] = {"p50", "p90", "p99", "p99_9"}; /* JSON keys */
static const char *const pct_labels[] = {"p50", "p90", "p99", "p99.9"};

bool bench_report_ok(const struct bench_report *r)
{
	if (r->ran_daemon && (r->load->tally.mismatches || r->load->tally.errors ||
			      r->load->stalled || r->load->tally.items == 0 ||
			      r->stop_error[0] != '\0'))
		return false;
	if (r->ran_inproc && (r->inproc->tally.mismatches || r->inproc->tally.errors ||
			      r->inproc->tally.items == 0))
		return false;
	if (r->fleet != NULL && r->ran_daemon &&
	    (r->fleet->check_error[0] != '\0' || r->fleet->replay_same.mismatches ||
	     r->fleet->replay_same.errors || r->fleet->replay_other.mismatches ||
	     r->fleet->replay_other.errors))
		return false;
	return true;
}

static void json_tally(FILE *f, const struct bench_tally *t)
{
	fprintf(f, "\"verdicts\":{");
	for (unsigned v = 0; v < HM_V__COUNT; v++)
		fprintf(f, "%s\"%s\":%" PRIu64, v ? "," : "", hm_verdict_name(v), t->verdicts[v]);
	fprintf(f, ",\"other\":%" PRIu64 "},\"mismatches\":%" PRIu64 ",\"errors\":%" PRIu64,
		t->verdicts[HM_V__COUNT], t->mismatches, t->errors);
}

/* Redis' CPU per claim sent, in ns, or a negative number when there were none. */
static double ns_per_claim(const struct bench_report *r, double cpu_s)
{
	bool ok;
	uint64_t claims = stat_delta(r, "fleet_nonce_claims", &ok);

	return ok && claims > 0 && r->fleet->have_cpu ? cpu_s * 1e9 / (double)claims : -1;
}

static void json_ns_or_null(FILE *f, const char *name, double v)
{
	if (v >= 0)
		fprintf(f, ",\"%s\":%.0f", name, v);
	else
		fprintf(f, ",\"%s\":null", name);
}

static const char *const claim_rows[][2] = {
	{"claims", "fleet_nonce_claims"},           {"claimed", "fleet_nonce_claimed"},
	{"taken", "fleet_nonce_taken"},             {"unavailable", "fleet_nonce_unavailable"},
	{"timeouts", "fleet_nonce_timeouts"},
};

static void json_replays(FILE *f, const char *name, const struct bench_tally *t)
{
	fprintf(f, "\"%s\":{\"frames\":%" PRIu64 ",\"items\":%" PRIu64 ",", name, t->frames,
		t->items);
	json_tally(f, t);
	fputc('}', f);
}

/* "fleet":{...}: the fleet's set-up, the claims, Redis' CPU, the replays */
static void json_fleet(const struct bench_report *r, FILE *f)
{
	const struct bench_fleet_figures *ff = r->fleet;
	bool ok;

	fprintf(f, ",\"fleet\":{\"nonces\":\"%s\",\"wait\":%u,\"replicas\":%u,\"redis_cpus\":",
		ff->nonces, r->o->fleet_wait, ff->replicas);
	json_str(f, r->o->redis_cpus_arg ? r->o->redis_cpus_arg : "");
	fprintf(f, ",\"import_s\":%.3f,\"daemon_start_s\":%.3f", ff->import_s, ff->start_s);
	for (size_t i = 0; i < sizeof(claim_rows) / sizeof(claim_rows[0]); i++) {
		uint64_t v = stat_delta(r, claim_rows[i][1], &ok);

		if (ok)
			fprintf(f, ",\"%s\":%" PRIu64, claim_rows[i][0], v);
	}
	if (ff->have_cpu) {
		fprintf(f, ",\"redis_cpu_s\":%.2f", ff->master_cpu_s);
		json_ns_or_null(f, "redis_cpu_ns_per_claim", ns_per_claim(r, ff->master_cpu_s));
		if (ff->replicas > 0) {
			fprintf(f, ",\"replica_cpu_s\":%.2f", ff->replica_cpu_s);
			json_ns_or_null(f, "replica_cpu_ns_per_claim",
					ns_per_claim(r, ff->replica_cpu_s));
		}
	}
	fprintf(f, ",\"replays\":{");
	json_replays(f, "same_host", &ff->replay_same);
	if (ff->ran_other) {
		fputc(',', f);
		json_replays(f, "other_host", &ff->replay_other);
		fprintf(f, ",\"other_host_taken\":%" PRIu64 ",\"other_host_before_start\":%" PRIu64,
			ff->other_taken, ff->other_early);
	}
	fputc('}', f);
	if (ff->check_error[0] != '\0') {
		fprintf(f, ",\"check_error\":");
		json_str(f, ff->check_error);
	}
	fputc('}', f);
}

void bench_report_json(const struct bench_report *r, FILE *f)
{
	const struct bench_opts *o = r->o;
	const struct bench_pool *p = r->pool;
	bool ok;

	fprintf(f, "{\"ok\":%s,\"mode\":\"%s\",\"params\":{", bench_report_ok(r) ? "true" : "false",
		r->ran_daemon && r->ran_inproc ? "both" : r->ran_daemon ? "daemon" : "inproc");
	fprintf(f, "\"target\":");
	json_str(f, o->socket ? "socket" : r->ran_daemon ? "own" : "none");
	if (o->socket) {
		fprintf(f, ",\"socket\":");
		json_str(f, o->socket);
	}
	if (r->hmacd) {
		fprintf(f, ",\"hmacd\":");
		json_str(f, r->hmacd);
		fprintf(f, ",\"daemon_args\":[");
		for (unsigned i = 0; i < r->plan->argc; i++) {
			fprintf(f, "%s", i ? "," : "");
			json_str(f, r->plan->argv[i]);
		}
		fprintf(f, "]");
	}
	if (o->daemon_cpus_arg) {
		fprintf(f, ",\"daemon_cpus\":");
		json_str(f, o->daemon_cpus_arg);
	}
	if (o->bench_cpus_arg) {
		fprintf(f, ",\"bench_cpus\":");
		json_str(f, o->bench_cpus_arg);
	}
	fprintf(f, ",\"connections\":%u,\"batch\":%u,\"pipeline\":%u,\"gen_threads\":%u",
		o->connections, o->batch, o->pipeline, o->gen_threads);
	fprintf(f, ",\"duration_s\":%g,\"requests\":%" PRIu64 ",\"warmup_s\":%g", o->duration,
		o->requests, o->warmup);
	fprintf(f, ",\"scheme\":\"%s\"", o->scheme == BENCH_RFC9421 ? "rfc9421" : "hmacd-v1");
	fprintf(f, ",\"scopes\":%" PRIu64 ",\"scope_dist\":\"%s\"", o->scopes,
		o->scope_dist == BENCH_DIST_ZIPF ? "zipf" : "uniform");
	if (o->scope_dist == BENCH_DIST_ZIPF)
		fprintf(f, ",\"zipf_s\":%g", o->zipf_s);
	fprintf(f, ",\"body_bytes\":%zu,\"digest\":%s,\"invalid_ratio\":%g",
		o->body_bytes, o->digest ? "true" : "false", o->invalid_ratio);
	fprintf(f, ",\"nonce\":%s,\"seed\":%" PRIu64 ",\"pool_mb\":%zu,\"skew_s\":%" PRId64 "}",
		o->nonce ? "true" : "false", o->seed, o->pool_mb, r->plan->skew);
	fprintf(f, ",\"setup\":{\"scopes_created\":%" PRIu64 ",\"scope_create_s\":%.3f",
		r->scopes->n, r->scopes->create_seconds);
	if (r->scopes->ntenant_policies)
		fprintf(f, ",\"tenant_policies\":%" PRIu64, r->scopes->ntenant_policies);
	fprintf(f, ",\"pool_frames\":%zu,\"pool_items\":%" PRIu64 ",\"pool_bytes\":%zu"
		   ",\"pool_invalid_items\":%" PRIu64 ",\"distinct_scopes\":%" PRIu64
		   ",\"max_frame_bytes\":%zu,\"pool_build_s\":%.3f}",
		p->nframes, p->nitems, p->nbytes, p->ninvalid, p->distinct_scopes, p->max_frame,
		p->gen_seconds);
	if (r->ran_daemon) {
		const struct bench_load_result *l = r->load;
		const struct bench_tally *t = &l->tally;
		uint64_t v;

		fprintf(f, ",\"daemon\":{\"verifies_per_s\":%.0f,\"frames_per_s\":%.0f",
			per_s(t->items, l->elapsed), per_s(t->frames, l->elapsed));
		fprintf(f, ",\"items\":%" PRIu64 ",\"frames\":%" PRIu64 ",\"elapsed_s\":%.3f",
			t->items, t->frames, l->elapsed);
		fprintf(f, ",\"warmup_items\":%" PRIu64, l->warm.items);
		fprintf(f, ",\"latency_us\":{");
		for (size_t i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++)
			fprintf(f, "\"%s\":%.1f,", pct_names[i],
				(double)hm_hist_percentile(l->lat, pcts[i]) / 1e3);
		fprintf(f, "\"max\":%.1f,\"mean\":%.1f}", (double)l->lat->max / 1e3,
			hm_hist_mean(l->lat) / 1e3);
		if (r->have_cpu) {
			fprintf(f, ",\"daemon_cpu_ns_per_item\":%.0f,\"daemon_user_s\":%.2f"
				   ",\"daemon_sys_s\":%.2f,\"daemon_cores\":%.2f",
				t->items ? r->daemon_cpu_s * 1e9 / (double)t->items : 0,
				r->daemon_user_s, r->daemon_sys_s,
				l->elapsed > 0 ? r->daemon_cpu_s / l->elapsed : 0);
		} else {
			fprintf(f, ",\"daemon_cpu_ns_per_item\":null");
		}
		if (r->mem.rss_kb)
			fprintf(f, ",\"daemon_rss_kb\":%" PRIu64 ",\"daemon_peak_rss_kb\":%" PRIu64,
				r->mem.rss_kb, r->mem.hwm_kb);
		else
			fprintf(f, ",\"daemon_rss_kb\":null");
		fprintf(f, ",\"bench_cpu_ns_per_item\":%.0f,\"bench_cores\":%.2f",
			t->items ? r->bench_cpu_s * 1e9 / (double)t->items : 0,
			l->elapsed > 0 ? r->bench_cpu_s / l->elapsed : 0);
		if (r->have_load && l->elapsed >= MIN_LOAD_WINDOW)
			fprintf(f, ",\"machine_busy_cores\":%.2f,\"other_cores\":%.2f"
				   ",\"steal_cores\":%.2f",
				r->load_busy_s / l->elapsed, other_cores(r),
				r->load_steal_s / l->elapsed);
		v = stat_delta(r, "key_cache_hits", &ok);
		if (ok)
			fprintf(f, ",\"key_cache_hits\":%" PRIu64, v);
		v = stat_delta(r, "key_cache_misses", &ok);
		if (ok)
			fprintf(f, ",\"key_cache_misses\":%" PRIu64, v);
		v = stat_delta(r, "nonce_cache_full", &ok);
		if (ok)
			fprintf(f, ",\"nonce_cache_full\":%" PRIu64, v);
		fprintf(f, ",\"pool_exhausted\":%s,\"stalled\":%s,",
			l->pool_exhausted ? "true" : "false", l->stalled ? "true" : "false");
		json_tally(f, t);
		if (l->first_error[0] || r->stop_error[0]) {
			fprintf(f, ",\"first_error\":");
			json_str(f, l->first_error[0] ? l->first_error : r->stop_error);
		}
		fprintf(f, "}");
		if (r->fleet != NULL)
			json_fleet(r, f);
	}
	if (r->ran_inproc) {
		const struct bench_inproc_result *in = r->inproc;

		fprintf(f, ",\"inproc\":{\"verifies_per_s\":%.0f,\"items\":%" PRIu64
			   ",\"elapsed_s\":%.3f,\"cpu_ns_per_item\":%.0f,\"pool_exhausted\":%s,",
			per_s(in->tally.items, in->elapsed), in->tally.items, in->elapsed,
			in->tally.items ? in->cpu_seconds * 1e9 / (double)in->tally.items : 0,
			in->pool_exhausted ? "true" : "false");
		if (r->have_inproc_load && in->elapsed >= MIN_LOAD_WINDOW)
			fprintf(f, "\"machine_busy_cores\":%.2f,\"other_cores\":%.2f"
				   ",\"steal_cores\":%.2f,",
				r->inproc_busy_s / in->elapsed,
				(r->inproc_busy_s - in->cpu_seconds) / in->elapsed,
				r->inproc_steal_s / in->elapsed);
		json_tally(f, &in->tally);
		if (in->first_error[0]) {
			fprintf(f, ",\"first_error\":");
			json_str(f, in->first_error);
		}
		fprintf(f, "}");
	}
	if (r->ran_daemon && r->ran_inproc && r->inproc->tally.items && r->inproc->elapsed > 0) {
		double d = per_s(r->load->tally.items, r->load->elapsed);
		double i = per_s(r->inproc->tally.items, r->inproc->elapsed);

		fprintf(f, ",\"ratio_daemon_inproc\":%.3f", i > 0 ? d / i : 0);
		if (r->have_cpu && r->load->tally.items && r->inproc->cpu_seconds > 0)
			fprintf(f, ",\"cpu_ratio_daemon_inproc\":%.3f",
				(r->daemon_cpu_s / (double)r->load->tally.items) /
					(r->inproc->cpu_seconds / (double)r->inproc->tally.items));
	}
	fprintf(f, "}\n");
}

static void print_tally(FILE *f, const struct bench_tally *t)
{
	fprintf(f, "  %-22s", "verdicts");
	for (unsigned v = 0; v <= HM_V__COUNT; v++)
		if (t->verdicts[v])
			fprintf(f, " %s %" PRIu64, v < HM_V__COUNT ? hm_verdict_name(v) : "other",
				t->verdicts[v]);
	fprintf(f, "\n  %-22s %" PRIu64 " wrong verdicts, %" PRIu64 " errors\n", "checked",
		t->mismatches, t->errors);
}

/* What is sent of the bodies (--digest). */
static const char *bodies_text(const struct bench_opts *o)
{
	if (!o->digest)
		return "bodies";
	return o->scheme == BENCH_RFC9421 ? "bodies (not sent: Content-Digest only)" :
					    "bodies sent as SHA-256";
}

static void table_replays(FILE *f, const char *label, const struct bench_tally *t)
{
	fprintf(f, "  %-22s %" PRIu64 " items in %" PRIu64 " frames:", label, t->items, t->frames);
	for (unsigned v = 0; v <= HM_V__COUNT; v++)
		if (t->verdicts[v])
			fprintf(f, " %s %" PRIu64, v < HM_V__COUNT ? hm_verdict_name(v) : "other",
				t->verdicts[v]);
	fprintf(f, "; %" PRIu64 " wrong, %" PRIu64 " errors\n", t->mismatches, t->errors);
}

static void table_fleet(const struct bench_report *r, FILE *f)
{
	const struct bench_fleet_figures *ff = r->fleet;
	uint64_t v[5];
	bool ok = true, one;
	double ns;

	fprintf(f, "\nfleet: redis-server of our own (Unix socket, no persistence), %u "
		   "replica%s; hmacd --fleet-nonces %s", ff->replicas, ff->replicas == 1 ? "" : "s",
		ff->nonces);
	if (r->o->fleet_wait > 0)
		fprintf(f, " --fleet-wait %u", r->o->fleet_wait);
	if (r->o->redis_cpus_arg != NULL)
		fprintf(f, "; Redis on CPU %s", r->o->redis_cpus_arg);
	fprintf(f, "\n  %-22s hmacctl import-store %.2f s; hmacd synced and listening in %.2f s\n",
		"setup", ff->import_s, ff->start_s);
	for (size_t i = 0; i < 5; i++) {
		v[i] = stat_delta(r, claim_rows[i][1], &one);
		ok = ok && one;
	}
	if (ok)
		fprintf(f, "  %-22s %" PRIu64 " sent, %" PRIu64 " claimed, %" PRIu64 " taken, %" PRIu64
			   " unavailable; %" PRIu64 " frames at their deadline (warm-up included)\n",
			"nonce claims", v[0], v[1], v[2], v[3], v[4]);
	if (ff->have_cpu) {
		fprintf(f, "  %-22s %.2f s", "Redis CPU", ff->master_cpu_s);
		ns = ns_per_claim(r, ff->master_cpu_s);
		if (ns >= 0)
			fprintf(f, ", %.0f ns per claim", ns);
		if (ff->replicas > 0) {
			fprintf(f, "; replicas %.2f s", ff->replica_cpu_s);
			ns = ns_per_claim(r, ff->replica_cpu_s);
			if (ns >= 0)
				fprintf(f, ", %.0f ns per claim", ns);
		}
		fputc('\n', f);
	}
	if (ff->replay_same.frames > 0)
		table_replays(f, "replays, same host", &ff->replay_same);
	if (ff->ran_other) {
		table_replays(f, "replays, second host", &ff->replay_other);
		fprintf(f, "  %-22s %" PRIu64 " refused by Redis (taken), %" PRIu64
			   " as signed before its start\n", "", ff->other_taken, ff->other_early);
	}
	if (ff->check_error[0] != '\0')
		fprintf(f, "  %-22s %s\n", "check FAILED", ff->check_error);
}

void bench_report_table(const struct bench_report *r, FILE *f)
{
	const struct bench_opts *o = r->o;
	const struct bench_pool *p = r->pool;
	char dist[32] = "";
	bool ok1, ok2;

	fprintf(f, "hmacd-bench: %u items/frame x %u connection%s x %u in flight, ", o->batch,
		o->connections, o->connections > 1 ? "s" : "", o->pipeline);
	if (o->requests)
		fprintf(f, "%" PRIu64 " items", o->requests);
	else
		fprintf(f, "%g s", o->duration);
	if (o->warmup > 0)
		fprintf(f, " after %g s warm-up", o->warmup);
	fprintf(f, ", %u generator thread%s", o->gen_threads, o->gen_threads > 1 ? "s" : "");
	if (o->bench_cpus_arg)
		fprintf(f, " on CPU %s", o->bench_cpus_arg);
	if (o->daemon_cpus_arg)
		fprintf(f, ", daemon on CPU %s", o->daemon_cpus_arg);
	fputc('\n', f);
	if (o->scope_dist == BENCH_DIST_ZIPF)
		snprintf(dist, sizeof(dist), " (zipf, s = %g)", o->zipf_s);
	fprintf(f, "  %-22s %s, %" PRIu64 " scopes%s, %zu-byte %s, %.0f%% tampered, %s, seed %"
		   PRIu64 "\n", "items", o->scheme == BENCH_RFC9421 ? "rfc9421" : "hmacd-v1",
		o->scopes, dist, o->body_bytes, bodies_text(o), o->invalid_ratio * 100,
		o->nonce ? "unique nonces" : "no nonce", o->seed);
	fprintf(f, "  %-22s scopes created in %.2f s; %zu frames, %" PRIu64 " items, %.1f MiB "
		   "(%" PRIu64 " scopes used), built in %.2f s\n",
		"setup", r->scopes->create_seconds, p->nframes, p->nitems,
		(double)p->nbytes / 1048576.0, p->distinct_scopes, p->gen_seconds);
	if (r->scopes->ntenant_policies)
		fprintf(f, "  %-22s an RFC 9421 policy stored for each of the %" PRIu64
			   " tenants\n", "", r->scopes->ntenant_policies);
	if (r->ran_daemon) {
		const struct bench_load_result *l = r->load;
		const struct bench_tally *t = &l->tally;

		fprintf(f, "\ndaemon: ");
		if (o->socket) {
			fprintf(f, "%s", o->socket);
		} else {
			fprintf(f, "%s", r->hmacd);
			for (unsigned i = 0; i < r->plan->argc; i++)
				fprintf(f, " %s", r->plan->argv[i]);
		}
		fprintf(f, "\n  %-22s %.0f\n", "verifies/s", per_s(t->items, l->elapsed));
		fprintf(f, "  %-22s %.0f\n", "frames/s", per_s(t->frames, l->elapsed));
		fprintf(f, "  %-22s %" PRIu64 " items in %" PRIu64 " frames, %.3f s%s\n",
			"measured", t->items, t->frames, l->elapsed,
			l->pool_exhausted ? " (stopped early: unique frames ran out)" : "");
		fprintf(f, "  %-22s", "latency/frame (us)");
		for (size_t i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++)
			fprintf(f, " %s %.1f ", pct_labels[i],
				(double)hm_hist_percentile(l->lat, pcts[i]) / 1e3);
		fprintf(f, " max %.1f  mean %.1f\n", (double)l->lat->max / 1e3,
			hm_hist_mean(l->lat) / 1e3);
		if (r->have_cpu && t->items)
			fprintf(f, "  %-22s %.0f ns (user %.2f s + sys %.2f s = %.2f cores)%s\n",
				"daemon CPU/item", r->daemon_cpu_s * 1e9 / (double)t->items,
				r->daemon_user_s, r->daemon_sys_s,
				l->elapsed > 0 ? r->daemon_cpu_s / l->elapsed : 0,
				r->daemon_cpu_s < 1.0 ? " (under 100 ticks of 10 ms: rough)" : "");
		else
			fprintf(f, "  %-22s unknown (give --daemon-pid)\n", "daemon CPU/item");
		if (r->mem.rss_kb)
			fprintf(f, "  %-22s %.1f MiB (peak %.1f MiB)\n", "daemon RSS",
				(double)r->mem.rss_kb / 1024.0, (double)r->mem.hwm_kb / 1024.0);
		if (t->items)
			fprintf(f, "  %-22s %.0f ns (%.2f cores)\n", "bench CPU/item",
				r->bench_cpu_s * 1e9 / (double)t->items,
				l->elapsed > 0 ? r->bench_cpu_s / l->elapsed : 0);
		if (r->have_load && l->elapsed >= MIN_LOAD_WINDOW)
			fprintf(f, "  %-22s %.2f cores busy: other processes %.2f, steal %.2f\n",
				"machine CPU", r->load_busy_s / l->elapsed, other_cores(r),
				r->load_steal_s / l->elapsed);
		{
			uint64_t h = stat_delta(r, "key_cache_hits", &ok1);
			uint64_t m = stat_delta(r, "key_cache_misses", &ok2);

			if (ok1 && ok2)
				fprintf(f, "  %-22s %" PRIu64 " hits, %" PRIu64 " misses\n",
					"daemon key cache", h, m);
		}
		print_tally(f, t);
		if (l->first_error[0] || r->stop_error[0])
			fprintf(f, "  %-22s %s\n", "first problem",
				l->first_error[0] ? l->first_error : r->stop_error);
		if (r->fleet != NULL)
			table_fleet(r, f);
	}
	if (r->ran_inproc) {
		const struct bench_inproc_result *in = r->inproc;

		fprintf(f, "\nin-process baseline (the verify engine in one bench thread, "
			   "no socket)\n");
		fprintf(f, "  %-22s %.0f\n", "verifies/s", per_s(in->tally.items, in->elapsed));
		fprintf(f, "  %-22s %" PRIu64 " items, %.3f s%s\n", "measured", in->tally.items,
			in->elapsed,
			in->pool_exhausted ? " (stopped early: unique frames ran out)" : "");
		if (in->tally.items)
			fprintf(f, "  %-22s %.0f ns\n", "CPU/item",
				in->cpu_seconds * 1e9 / (double)in->tally.items);
		if (r->have_inproc_load && in->elapsed >= MIN_LOAD_WINDOW)
			fprintf(f, "  %-22s %.2f cores busy: other processes %.2f, steal %.2f\n",
				"machine CPU", r->inproc_busy_s / in->elapsed,
				(r->inproc_busy_s - in->cpu_seconds) / in->elapsed,
				r->inproc_steal_s / in->elapsed);
		print_tally(f, &in->tally);
		if (in->first_error[0])
			fprintf(f, "  %-22s %s\n", "first problem", in->first_error);
	}
	if (r->ran_daemon && r->ran_inproc && r->inproc->elapsed > 0 && r->inproc->tally.items) {
		double d = per_s(r->load->tally.items, r->load->elapsed);
		double i = per_s(r->inproc->tally.items, r->inproc->elapsed);

		fprintf(f, "\n  %-22s %.2f x throughput", "daemon / in-process", i > 0 ? d / i : 0);
		if (r->have_cpu && r->load->tally.items && r->inproc->cpu_seconds > 0)
			fprintf(f, ", %.2f x CPU per item",
				(r->daemon_cpu_s / (double)r->load->tally.items) /
					(r->inproc->cpu_seconds / (double)r->inproc->tally.items));
		fprintf(f, "\n");
	}
	fprintf(f, "\nresult: %s\n",
		bench_report_ok(r) ? "every verdict as expected" : "FAILED");
}
