/*
 * report.h - what a run measured and how hmacd-bench prints it (table or JSON).
 *
 * hmacd-bench.c fills a struct bench_report as the run goes; report.c only formats it. The
 * meaning of every figure and how it is measured: bench/README.md, "Output".
 */
#ifndef HM_BENCH_REPORT_H
#define HM_BENCH_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "bench.h"

/* What we pass to our own hmacd beyond --socket/--db, decided once (hmacd-bench.c). */
struct bench_plan {
	int64_t skew;       /* the daemon's --skew (also the baseline's) */
	size_t nonce_cache; /* the daemon's --nonce-cache (also the baseline's) */
	const char *argv[BENCH_PLAN_ARGS]; /* NULL-terminated */
	char num[5][24];    /* storage for the numbers in argv */
	unsigned argc;
};

struct bench_report {
	const struct bench_opts *o;
	const char *hmacd; /* our daemon's binary, or NULL */
	const struct bench_plan *plan;
	const struct bench_scopes *scopes;
	const struct bench_pool *pool;
	bool ran_daemon, ran_inproc;
	struct bench_load_result *load;
	struct bench_inproc_result *inproc;
	struct bench_proc mem; /* the daemon's memory at the end */
	struct bench_stats st0, st1; /* the daemon's counters before and after the load */
	const struct bench_fleet_figures *fleet; /* --fleet, or NULL */
	/* CPU seconds over the measured window */
	double daemon_cpu_s, daemon_user_s, daemon_sys_s, bench_cpu_s;
	bool have_cpu;
	/* CPU seconds the whole machine spent during each run (/proc/stat), and steal */
	double load_busy_s, load_steal_s, inproc_busy_s, inproc_steal_s;
	bool have_load, have_inproc_load;
	char stop_error[160]; /* our daemon did not stop cleanly */
};

/* True if every verdict was the expected one and nothing failed. */
bool bench_report_ok(const struct bench_report *r);
/* One JSON object on one line. */
void bench_report_json(const struct bench_report *r, FILE *f);
/* {"ok":false,"error":text}: a run that could not take place (set-up failure). */
void bench_report_json_error(FILE *f, const char *text);
/* The human table. */
void bench_report_table(const struct bench_report *r, FILE *f);

#endif
