/*
 * hmacd-bench - load generator and in-process baseline for hmacd (bench/README.md).
 *
 * A run: parse the options (one table drives getopt_long and --help); create --scopes scopes
 * in the key store through hm_ks_create(); pre-sign and pre-encode a pool of frames (hmacd-v1
 * or, with --scheme rfc9421, RFC 9421 items); then either start our own hmacd on a temp socket
 * and store or target --socket, drive it with the load generator, sample its CPU time and
 * memory from /proc around the measured window, and/or run the same frames through the verify
 * engine in-process. With --fleet our hmacd runs in fleet mode (fleet.c): its own redis-server
 * (and replicas), the fleet and its scopes made with the real hmacctl, nonce claims in Redis
 * or the local nonce cache only, Redis' CPU per claim, and after the load the replays: frames
 * sent again must come back REPLAY, from this host and from a second one. Every verdict is
 * checked; any mismatch, error response or broken connection makes the exit status 1.
 *
 * Exit status: 0 every verdict was the expected one; 1 a wrong verdict, an error, a stall, or a
 * set-up failure; 2 a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"
#include "report.h"
#include "proto/frame.h"
#include "server/log.h"
#include "proto/msg.h"

#ifndef HM_SBINDIR
#define HM_SBINDIR "/usr/local/sbin"
#endif

#define MIN_POOL_ITEMS 16384u /* a pool smaller than this would sit in the CPU caches */
#define MAX_SCOPES 100000000u
#define MAX_NONCE_CACHE (1u << 28) /* hmacd's --nonce-cache maximum */
#define NONCE_LOAD 4u /* nonce-cache slots per nonce: hmacd probes 32 slots, so stay at 25 % */

enum opt_id {
	O_SOCKET = 256, O_DB, O_HMACD, O_DAEMON_THREADS, O_DAEMON_PID, O_DAEMON_ARG, O_TMPDIR,
	O_DAEMON_CPUS, O_BENCH_CPUS,
	O_CONNECTIONS, O_BATCH, O_PIPELINE, O_DURATION, O_REQUESTS, O_WARMUP, O_GEN_THREADS,
	O_TIMEOUT, O_SCHEME, O_SCOPES, O_SCOPE_DIST, O_ZIPF_S, O_BODY_BYTES, O_DIGEST, O_INVALID_RATIO, O_NONCE, O_POOL_MB,
	O_SEED, O_FLEET, O_FLEET_NONCES, O_FLEET_WAIT, O_HMACCTL, O_REDIS_SERVER, O_REDIS_CPUS,
	O_INPROC,
	O_COMPARE_INPROC, O_JSON, O_QUIET, O_HELP,
};

struct opt_def {
	const char *name;
	int id;
	const char *arg; /* NULL: a flag */
	const char *help;
};

static const struct opt_def opt_defs[] = {
	{"socket", O_SOCKET, "PATH", "target a running hmacd (default: start our own)"},
	{"db", O_DB, "DIR", "key store to create the scopes in (required with --socket)"},
	{"hmacd", O_HMACD, "PATH", "hmacd to start (default: $HMACD, the build's, then installed)"},
	{"daemon-threads", O_DAEMON_THREADS, "N", "--threads of our hmacd (default: its own)"},
	{"daemon-pid", O_DAEMON_PID, "PID", "with --socket: the daemon's pid, for CPU and RSS"},
	{"daemon-arg", O_DAEMON_ARG, "ARG", "one more argument for our hmacd (repeatable)"},
	{"tmpdir", O_TMPDIR, "DIR", "where our socket and store go (default: /dev/shm, $TMPDIR)"},
	{"daemon-cpus", O_DAEMON_CPUS, "LIST", "pin our hmacd to these CPUs (e.g. 1 or 0-1)"},
	{"bench-cpus", O_BENCH_CPUS, "LIST", "pin the bench to these CPUs"},
	{"connections", O_CONNECTIONS, "N", "connections (default 8)"},
	{"batch", O_BATCH, "N", "items per frame (default 64)"},
	{"pipeline", O_PIPELINE, "N", "frames in flight per connection (default 4)"},
	{"duration", O_DURATION, "SECONDS", "measure this long (default 10)"},
	{"requests", O_REQUESTS, "N", "or send N items (rounded up to whole frames)"},
	{"warmup", O_WARMUP, "SECONDS", "run this long before measuring (default 0)"},
	{"gen-threads", O_GEN_THREADS, "N", "load generator threads (default 1)"},
	{"timeout", O_TIMEOUT, "SECONDS", "fail if no answer comes for this long (default 10)"},
	{"scheme", O_SCHEME, "NAME", "hmacd-v1 (default) or rfc9421: how items are signed"},
	{"scopes", O_SCOPES, "N", "tenant/container keys to create and use (default 10000)"},
	{"scope-dist", O_SCOPE_DIST, "DIST", "uniform (default: each scope in turn) or zipf"},
	{"zipf-s", O_ZIPF_S, "S", "exponent of --scope-dist zipf (default 1.0)"},
	{"body-bytes", O_BODY_BYTES, "N", "body size per item (default 256)"},
	{"digest", O_DIGEST, NULL, "send body_sha256 instead of the body (rfc9421: no body)"},
	{"invalid-ratio", O_INVALID_RATIO, "R", "share of items with a tampered signature (0)"},
	{"nonce", O_NONCE, NULL, "a unique nonce in every item (frames are never resent)"},
	{"pool-mb", O_POOL_MB, "MIB", "memory for pre-encoded frames (default 512)"},
	{"seed", O_SEED, "N", "seed for choosing scopes, bodies and tampered items"},
	{"fleet", O_FLEET, NULL, "our hmacd in fleet mode, with a redis-server of our own"},
	{"fleet-nonces", O_FLEET_NONCES, "WHERE", "with --fleet: redis (default: claims) or local"},
	{"fleet-wait", O_FLEET_WAIT, "N", "with --fleet: N replicas, hmacd's --fleet-wait N (0)"},
	{"hmacctl", O_HMACCTL, "PATH", "with --fleet: hmacctl to run (default: $HMACCTL, the "
				       "build's)"},
	{"redis-server", O_REDIS_SERVER, "PATH", "with --fleet: redis-server to run (PATH)"},
	{"redis-cpus", O_REDIS_CPUS, "LIST", "with --fleet: pin Redis and its replicas to these CPUs"},
	{"inproc", O_INPROC, NULL, "run only the in-process baseline (no daemon)"},
	{"compare-inproc", O_COMPARE_INPROC, NULL, "run the daemon and the baseline"},
	{"json", O_JSON, NULL, "print one JSON object instead of the table"},
	{"quiet", O_QUIET, NULL, "no progress messages on stderr"},
	{"help", O_HELP, NULL, "this text"},
};
#define NOPTS (sizeof(opt_defs) / sizeof(opt_defs[0]))

static void usage(FILE *out)
{
	char left[64];

	fprintf(out, "usage: hmacd-bench [options]\n\n");
	for (size_t i = 0; i < NOPTS; i++) {
		snprintf(left, sizeof(left), "--%s%s%s", opt_defs[i].name,
			 opt_defs[i].arg ? " " : "", opt_defs[i].arg ? opt_defs[i].arg : "");
		fprintf(out, "  %-26s %s\n", left, opt_defs[i].help);
	}
}

static bool parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s[0] == '-' || s[0] == '\0')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_dbl(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= min && v <= max))
		return false;
	*out = v;
	return true;
}

/* "0", "0-1", "0,2-3" -> a CPU set. */
static bool parse_cpus(const char *s, cpu_set_t *set)
{
	char *end;
	unsigned long a, b;

	CPU_ZERO(set);
	for (;;) {
		if (*s < '0' || *s > '9')
			return false;
		errno = 0;
		a = strtoul(s, &end, 10);
		b = a;
		if (*end == '-') {
			s = end + 1;
			if (*s < '0' || *s > '9')
				return false;
			b = strtoul(s, &end, 10);
		}
		if (errno != 0 || b < a || b >= CPU_SETSIZE)
			return false;
		for (unsigned long c = a; c <= b; c++)
			CPU_SET(c, set);
		if (*end == '\0')
			return true;
		if (*end != ',')
			return false;
		s = end + 1;
	}
}

static int bad_value(const char *name, const char *val)
{
	fprintf(stderr, "hmacd-bench: bad value for --%s: '%s'\n", name, val);
	return 2;
}

static bool user_gave(const struct bench_opts *o, const char *flag)
{
	size_t n = strlen(flag);

	for (unsigned i = 0; i < o->ndaemon_args; i++)
		if (strncmp(o->daemon_args[i], flag, n) == 0 &&
		    (o->daemon_args[i][n] == '\0' || o->daemon_args[i][n] == '='))
			return true;
	return false;
}

/* Fills o from argv. 0, 2 (usage error) or -1 (--help printed). */
static int parse_args(int argc, char **argv, struct bench_opts *o)
{
	struct option lo[NOPTS + 1];
	bool fleet_opt = false, zipf_s_given = false;
	uint64_t u;
	double d;
	int c;

	for (size_t i = 0; i < NOPTS; i++)
		lo[i] = (struct option){opt_defs[i].name,
					opt_defs[i].arg ? required_argument : no_argument, NULL,
					opt_defs[i].id};
	lo[NOPTS] = (struct option){NULL, 0, NULL, 0};
	*o = (struct bench_opts){.connections = 8, .batch = 64, .pipeline = 4, .gen_threads = 1,
				 .stall_timeout = 10, .scopes = 10000, .zipf_s = 1.0, .body_bytes = 256,
				 .pool_mb = 512};
	for (;;) {
		const char *name = "";

		c = getopt_long(argc, argv, "", lo, NULL);
		if (c == -1)
			break;
		for (size_t i = 0; i < NOPTS; i++)
			if (opt_defs[i].id == c)
				name = opt_defs[i].name;
		switch (c) {
		case O_SOCKET: o->socket = optarg; break;
		case O_DB: o->db = optarg; break;
		case O_HMACD: o->hmacd = optarg; break;
		case O_TMPDIR: o->tmpdir = optarg; break;
		case O_DAEMON_CPUS:
			if (!parse_cpus(optarg, &o->daemon_cpus))
				return bad_value(name, optarg);
			o->daemon_cpus_set = true;
			o->daemon_cpus_arg = optarg;
			break;
		case O_BENCH_CPUS:
			if (!parse_cpus(optarg, &o->bench_cpus))
				return bad_value(name, optarg);
			o->bench_cpus_set = true;
			o->bench_cpus_arg = optarg;
			break;
		case O_DAEMON_ARG:
			if (o->ndaemon_args >= BENCH_MAX_DAEMON_ARGS)
				return bad_value(name, optarg);
			o->daemon_args[o->ndaemon_args++] = optarg;
			break;
		case O_DAEMON_THREADS:
			if (!parse_u64(optarg, 1, 256, &u))
				return bad_value(name, optarg);
			o->daemon_threads = (unsigned)u;
			break;
		case O_DAEMON_PID:
			if (!parse_u64(optarg, 1, INT_MAX, &u))
				return bad_value(name, optarg);
			o->daemon_pid = (long)u;
			break;
		case O_CONNECTIONS:
			if (!parse_u64(optarg, 1, 4096, &u))
				return bad_value(name, optarg);
			o->connections = (unsigned)u;
			break;
		case O_BATCH:
			if (!parse_u64(optarg, 1, 65536, &u))
				return bad_value(name, optarg);
			o->batch = (unsigned)u;
			break;
		case O_PIPELINE:
			if (!parse_u64(optarg, 1, 4096, &u))
				return bad_value(name, optarg);
			o->pipeline = (unsigned)u;
			break;
		case O_GEN_THREADS:
			if (!parse_u64(optarg, 1, 64, &u))
				return bad_value(name, optarg);
			o->gen_threads = (unsigned)u;
			break;
		case O_REQUESTS:
			if (!parse_u64(optarg, 1, UINT64_C(1) << 40, &u))
				return bad_value(name, optarg);
			o->requests = u;
			break;
		case O_SCHEME:
			if (strcmp(optarg, "hmacd-v1") == 0)
				o->scheme = BENCH_HMACD_V1;
			else if (strcmp(optarg, "rfc9421") == 0)
				o->scheme = BENCH_RFC9421;
			else
				return bad_value(name, optarg);
			break;
		case O_SCOPES:
			if (!parse_u64(optarg, 1, MAX_SCOPES, &u))
				return bad_value(name, optarg);
			o->scopes = u;
			break;
		case O_SCOPE_DIST:
			if (strcmp(optarg, "uniform") == 0)
				o->scope_dist = BENCH_DIST_UNIFORM;
			else if (strcmp(optarg, "zipf") == 0)
				o->scope_dist = BENCH_DIST_ZIPF;
			else
				return bad_value(name, optarg);
			break;
		case O_ZIPF_S:
			if (!parse_dbl(optarg, 0, 10, &d))
				return bad_value(name, optarg);
			o->zipf_s = d;
			zipf_s_given = true;
			break;
		case O_BODY_BYTES:
			if (!parse_u64(optarg, 0, 1u << 20, &u))
				return bad_value(name, optarg);
			o->body_bytes = (size_t)u;
			break;
		case O_POOL_MB:
			if (!parse_u64(optarg, 1, 1u << 20, &u))
				return bad_value(name, optarg);
			o->pool_mb = (size_t)u;
			break;
		case O_SEED:
			if (!parse_u64(optarg, 0, UINT64_MAX, &u))
				return bad_value(name, optarg);
			o->seed = u;
			o->seed_set = true;
			break;
		case O_DURATION:
			if (!parse_dbl(optarg, 0.01, 86400, &d))
				return bad_value(name, optarg);
			o->duration = d;
			break;
		case O_WARMUP:
			if (!parse_dbl(optarg, 0, 3600, &d))
				return bad_value(name, optarg);
			o->warmup = d;
			break;
		case O_TIMEOUT:
			if (!parse_dbl(optarg, 0.1, 3600, &d))
				return bad_value(name, optarg);
			o->stall_timeout = d;
			break;
		case O_INVALID_RATIO:
			if (!parse_dbl(optarg, 0, 1, &d))
				return bad_value(name, optarg);
			o->invalid_ratio = d;
			break;
		case O_FLEET_NONCES:
			if (strcmp(optarg, "redis") == 0)
				o->fleet_local = false;
			else if (strcmp(optarg, "local") == 0)
				o->fleet_local = true;
			else
				return bad_value(name, optarg);
			fleet_opt = true;
			break;
		case O_FLEET_WAIT:
			if (!parse_u64(optarg, 0, BENCH_MAX_REPLICAS, &u))
				return bad_value(name, optarg);
			o->fleet_wait = (unsigned)u;
			fleet_opt = true;
			break;
		case O_HMACCTL: o->hmacctl = optarg; fleet_opt = true; break;
		case O_REDIS_SERVER: o->redis_server = optarg; fleet_opt = true; break;
		case O_REDIS_CPUS:
			if (!parse_cpus(optarg, &o->redis_cpus))
				return bad_value(name, optarg);
			o->redis_cpus_set = true;
			o->redis_cpus_arg = optarg;
			fleet_opt = true;
			break;
		case O_FLEET: o->fleet = true; break;
		case O_DIGEST: o->digest = true; break;
		case O_NONCE: o->nonce = true; break;
		case O_INPROC: o->inproc_only = true; break;
		case O_COMPARE_INPROC: o->compare_inproc = true; break;
		case O_JSON: o->json = true; break;
		case O_QUIET: o->quiet = true; break;
		case O_HELP: usage(stdout); return -1;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "hmacd-bench: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (o->duration > 0 && o->requests > 0) {
		fprintf(stderr, "hmacd-bench: give --duration or --requests, not both\n");
		return 2;
	}
	if (o->duration == 0 && o->requests == 0)
		o->duration = 10;
	if (o->inproc_only && o->compare_inproc) {
		fprintf(stderr, "hmacd-bench: --inproc runs only the baseline; --compare-inproc "
				"runs both: pick one\n");
		return 2;
	}
	if (o->socket != NULL && o->db == NULL) {
		fprintf(stderr, "hmacd-bench: --socket needs --db DIR, the daemon's store, to "
				"create the scopes whose secrets sign the items\n");
		return 2;
	}
	if (o->socket == NULL && (o->db != NULL || o->daemon_pid != 0) && !o->inproc_only) {
		fprintf(stderr, "hmacd-bench: --db and --daemon-pid go with --socket\n");
		return 2;
	}
	if (zipf_s_given && o->scope_dist != BENCH_DIST_ZIPF) {
		fprintf(stderr, "hmacd-bench: --zipf-s goes with --scope-dist zipf\n");
		return 2;
	}
	if (fleet_opt && !o->fleet) {
		fprintf(stderr, "hmacd-bench: --fleet-nonces, --fleet-wait, --hmacctl, "
				"--redis-server and --redis-cpus go with --fleet\n");
		return 2;
	}
	if (o->fleet && (o->socket != NULL || o->inproc_only || o->compare_inproc)) {
		fprintf(stderr, "hmacd-bench: --fleet starts its own Redis and hmacd: not with "
				"--socket, --inproc or --compare-inproc\n");
		return 2;
	}
	if (o->fleet && o->fleet_local && o->fleet_wait > 0) {
		fprintf(stderr, "hmacd-bench: --fleet-wait waits for nonce claims: not with "
				"--fleet-nonces local\n");
		return 2;
	}
	if (o->fleet && (user_gave(o, "--fleet") || user_gave(o, "--seal-key-file") ||
			 user_gave(o, "--fleet-nonces") || user_gave(o, "--fleet-wait"))) {
		fprintf(stderr, "hmacd-bench: with --fleet the bench gives hmacd --fleet, "
				"--seal-key-file, --fleet-nonces and --fleet-wait itself\n");
		return 2;
	}
	if (o->socket != NULL &&
	    (o->hmacd != NULL || o->daemon_threads || o->ndaemon_args || o->daemon_cpus_set)) {
		fprintf(stderr, "hmacd-bench: --hmacd, --daemon-threads, --daemon-arg and "
				"--daemon-cpus are for the daemon we start, not with --socket\n");
		return 2;
	}
	return 0;
}

/* ---- finding and configuring our own hmacd ---- */

static bool executable(const char *p)
{
	return access(p, X_OK) == 0;
}

/* --hmacd, $HMACD, daemon/hmacd next to this build's bench/, then the installed one. */
static const char *find_hmacd(const struct bench_opts *o, char *buf, size_t len)
{
	const char *env = getenv("HMACD");
	char self[PATH_MAX];
	ssize_t n;

	if (o->hmacd != NULL)
		return o->hmacd;
	if (env != NULL && env[0] != '\0')
		return env;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		char *slash;

		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash != NULL) {
			*slash = '\0';
			n = snprintf(buf, len, "%s/../daemon/hmacd", self);
			if (n > 0 && (size_t)n < len && executable(buf))
				return buf;
		}
	}
	snprintf(buf, len, "%s/hmacd", HM_SBINDIR);
	return buf;
}


static void add_arg(struct bench_plan *dp, const char *flag, unsigned slot, uint64_t v)
{
	snprintf(dp->num[slot], sizeof(dp->num[slot]), "%" PRIu64, v);
	dp->argv[dp->argc++] = flag;
	dp->argv[dp->argc++] = dp->num[slot];
}

static uint64_t pow2_at_least(uint64_t v)
{
	uint64_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

/*
 * Decided before the pool is built, since hmacd must be running before the items are signed
 * (it refuses a nonce item whose ts is older than its start): from the most items and the
 * largest frame the pool can hold.
 */
static int plan_daemon(const struct bench_opts *o, uint64_t max_items, size_t max_frame,
		       const struct bench_fleet *fleet, struct bench_plan *dp)
{
	double span = o->warmup + o->duration;

	memset(dp, 0, sizeof(*dp));
	dp->skew = BENCH_DEFAULT_SKEW;
	dp->nonce_cache = BENCH_DEFAULT_NONCE_CACHE;
	if (o->daemon_threads)
		add_arg(dp, "--threads", 0, o->daemon_threads);
	/* items carry the ts of the pool's creation: keep them inside the skew window */
	if (span + 60 > BENCH_DEFAULT_SKEW && !user_gave(o, "--skew")) {
		dp->skew = (int64_t)(span + BENCH_DEFAULT_SKEW);
		if (dp->skew > 86400)
			dp->skew = 86400;
		add_arg(dp, "--skew", 1, (uint64_t)dp->skew);
	}
	/*
	 * rfc9421 items without --nonce meet hmacd's default policy only once it stops requiring
	 * a nonce (its other defaults, created and Content-Digest with a body, they meet)
	 */
	if (o->scheme == BENCH_RFC9421 && !o->nonce && !user_gave(o, "--policy-no-nonce"))
		dp->argv[dp->argc++] = "--policy-no-nonce";
	/* every nonce is remembered for the whole run: room for all of them, at low load */
	if (o->nonce && !user_gave(o, "--nonce-cache")) {
		uint64_t want = pow2_at_least(max_items * NONCE_LOAD);

		if (want > MAX_NONCE_CACHE)
			want = MAX_NONCE_CACHE;
		if (want > dp->nonce_cache) {
			dp->nonce_cache = want;
			add_arg(dp, "--nonce-cache", 2, want);
		}
	}
	if (max_frame > HM_FRAME_DEFAULT_MAX && !user_gave(o, "--max-frame"))
		add_arg(dp, "--max-frame", 3,
			max_frame < HM_FRAME_MAX_MAX ? max_frame : HM_FRAME_MAX_MAX);
	if (o->batch > HM_DEFAULT_MAX_BATCH && !user_gave(o, "--max-batch"))
		add_arg(dp, "--max-batch", 4, o->batch);
	/* room kept for the user's arguments and the final NULL */
	if (fleet != NULL &&
	    !bench_fleet_args(fleet, dp->argv, &dp->argc, BENCH_PLAN_ARGS - o->ndaemon_args - 1))
		return HM_ETOOBIG;
	for (unsigned i = 0; i < o->ndaemon_args; i++)
		dp->argv[dp->argc++] = o->daemon_args[i];
	dp->argv[dp->argc] = NULL;
	return HM_OK;
}

/* ---- sampling around the measured window ---- */

struct marks {
	long pid;
	unsigned n;
	struct bench_proc proc[2];
	struct rusage self[2];
	struct bench_sys sys[2];
};

static void on_mark(void *arg)
{
	struct marks *m = arg;

	if (m->n >= 2)
		return;
	bench_proc_read(m->pid, false, &m->proc[m->n]);
	getrusage(RUSAGE_SELF, &m->self[m->n]);
	bench_sys_read(&m->sys[m->n]);
	m->n++;
}

static double tv_seconds(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

/* ---- the run ---- */

static void say(const struct bench_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void say(const struct bench_opts *o, const char *fmt, ...)
{
	va_list ap;

	if (o->quiet)
		return;
	va_start(ap, fmt);
	fputs("hmacd-bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* Frames to build: see bench/README.md, "The frame pool". */
static int plan_pool(const struct bench_opts *o, size_t *nframes, size_t *stop_at, char *err,
		     size_t errlen)
{
	uint64_t need = o->requests ? (o->requests + o->batch - 1) / o->batch : 0;
	size_t budget = o->pool_mb << 20;
	uint64_t items, n;

	if (o->nonce && o->requests) {
		/* every frame once: all of them must fit */
		double est = (double)need * o->batch * (double)bench_pool_item_estimate(o);

		if (est > (double)budget) {
			snprintf(err, errlen, "--nonce --requests %" PRIu64 " needs about %.0f MiB "
				 "of frames; raise --pool-mb", o->requests, est / 1048576);
			return HM_ETOOBIG;
		}
		*nframes = need;
		*stop_at = 0;
		return HM_OK;
	}
	if (o->nonce) {
		*nframes = SIZE_MAX / 2; /* as many unique frames as the budget holds */
		*stop_at = budget;
		return HM_OK;
	}
	items = o->scopes > MIN_POOL_ITEMS ? o->scopes : MIN_POOL_ITEMS;
	n = (items + o->batch - 1) / o->batch;
	if (n < (uint64_t)o->connections * o->pipeline)
		n = (uint64_t)o->connections * o->pipeline;
	if (need && n > need)
		n = need;
	*nframes = n;
	*stop_at = budget;
	return HM_OK;
}

static const char *default_tmpdir(void)
{
	const char *t = getenv("TMPDIR");

	/*
	 * hm_ks_create() commits (and so fsyncs) once per scope: on tmpfs that costs microseconds,
	 * on a disk a few hundred. Reads come from the page cache either way.
	 */
	if (access("/dev/shm", W_OK | X_OK) == 0)
		return "/dev/shm";
	return t != NULL && t[0] != '\0' ? t : "/tmp";
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	struct bench_daemon d = {0};
	struct bench_scopes scopes = {0};
	struct bench_pool pool = {0};
	struct bench_load_result load = {0};
	struct bench_inproc_result inproc = {0};
	struct bench_plan plan;
	struct bench_report r = {0};
	struct marks marks = {0};
	struct bench_fleet *fleet = NULL;
	struct bench_fleet_figures ff = {0};
	char err[256] = "", hmacd_buf[PATH_MAX];
	cpu_set_t all_cpus;
	const char *db;
	size_t nframes, stop_at;
	uint32_t run_id = 0;
	int rc, status = 1;

	rc = parse_args(argc, argv, &o);
	if (rc != 0)
		return rc < 0 ? 0 : rc;
	signal(SIGPIPE, SIG_IGN); /* a daemon that goes away is an error we report, not a kill */
	hm_log_init(HM_LOG_WARN);
	/* our daemon gets --daemon-cpus, or the affinity we had before --bench-cpus */
	if (sched_getaffinity(0, sizeof(all_cpus), &all_cpus) != 0 ||
	    (o.bench_cpus_set && sched_setaffinity(0, sizeof(o.bench_cpus), &o.bench_cpus) != 0)) {
		fprintf(stderr, "hmacd-bench: CPU affinity: %s\n", strerror(errno));
		return 1;
	}
	if (!o.seed_set)
		o.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	r.o = &o;
	r.plan = &plan;
	r.scopes = &scopes;
	r.pool = &pool;
	r.load = &load;
	r.inproc = &inproc;
	memset(&plan, 0, sizeof(plan));
	plan.skew = BENCH_DEFAULT_SKEW;

	/* 1. the store and the scopes (after checking --socket, so a typo adds no scopes) */
	if (o.socket != NULL && !o.inproc_only) {
		rc = bench_socket_probe(o.socket, err, sizeof(err));
		if (rc != HM_OK)
			goto fail;
	}
	if (o.db != NULL) {
		db = o.db;
	} else {
		const char *base = o.tmpdir ? o.tmpdir : default_tmpdir();

		rc = bench_tmpdir_make(&d, base, err, sizeof(err));
		if (rc != HM_OK)
			goto fail;
		db = d.db;
	}
	if (o.fleet) {
		/* the scopes go to a staging store, then into the fleet; d.db becomes a mirror */
		say(&o, "starting redis-server%s and making the fleet with hmacctl",
		    o.fleet_wait ? " and its replicas" : "");
		rc = bench_fleet_setup(&o, d.dir, &fleet, err, sizeof(err));
		if (rc != HM_OK)
			goto fail;
		ff.ran = true;
		ff.nonces = o.fleet_local ? "local" : "redis";
		ff.replicas = o.fleet_wait;
		r.fleet = &ff;
		db = bench_fleet_stage(fleet);
	}
	{
		uint64_t rs = o.seed;

		/* tenant names unique to this run: --db may be a store that is in use */
		run_id = (uint32_t)(bench_rand(&rs) ^ (uint64_t)time(NULL) ^ (uint64_t)getpid());
	}
	scopes.n = o.scopes;
	scopes.keep_keyids = o.scheme == BENCH_RFC9421;
	/* a daemon we do not start has its own default policy: give our tenants theirs */
	scopes.tenant_policy = o.scheme == BENCH_RFC9421 && o.socket != NULL;
	scopes.policy_nonce = o.nonce;
	snprintf(scopes.prefix, sizeof(scopes.prefix), "b%08" PRIx32 "-", run_id);
	say(&o, "creating %" PRIu64 " scopes in %s", o.scopes, db);
	rc = bench_scopes_create(&scopes, db, err, sizeof(err));
	if (rc != HM_OK)
		goto fail;
	if (fleet != NULL) {
		say(&o, "hmacctl --fleet import-store: %" PRIu64 " scopes into the fleet", scopes.n);
		rc = bench_fleet_import(fleet, scopes.n, &ff, err, sizeof(err));
		if (rc != HM_OK)
			goto fail;
	}

	/* 2. our daemon, started before any item is signed (it refuses older nonce items) */
	rc = plan_pool(&o, &nframes, &stop_at, err, sizeof(err));
	if (rc != HM_OK)
		goto fail;
	rc = plan_daemon(&o, (uint64_t)bench_pool_frames_cap(&o, nframes, stop_at) * o.batch,
			 bench_pool_frame_bound(&o), fleet, &plan);
	if (rc != HM_OK) {
		snprintf(err, sizeof(err), "too many arguments for hmacd");
		goto fail;
	}
	if (!o.inproc_only && o.socket == NULL) {
		uint64_t t0 = bench_now_ns();

		r.hmacd = find_hmacd(&o, hmacd_buf, sizeof(hmacd_buf));
		say(&o, "starting %s", r.hmacd);
		rc = bench_daemon_start(&d, r.hmacd, plan.argv,
					o.daemon_cpus_set ? &o.daemon_cpus : &all_cpus, err,
					sizeof(err));
		if (rc != HM_OK)
			goto fail;
		ff.start_s = (double)(bench_now_ns() - t0) / 1e9;
	}
	if (fleet != NULL && !o.fleet_local && o.nonce) {
		say(&o, "starting a second hmacd of the fleet, for the replays");
		rc = bench_fleet_start_other(fleet, r.hmacd, plan.skew, err, sizeof(err));
		if (rc != HM_OK)
			goto fail;
	}

	/* 3. the frames */
	say(&o, "scopes created in %.2f s; signing and encoding frames", scopes.create_seconds);
	rc = bench_pool_build(&o, &scopes, nframes, stop_at, &pool);
	if (rc != HM_OK) {
		snprintf(err, sizeof(err), "building the frame pool: %s", hm_strerror(rc));
		goto fail;
	}

	/* 4. the load */
	if (!o.inproc_only) {
		const char *sock = o.socket != NULL ? o.socket : d.socket;
		struct bench_proc p0;

		marks.pid = o.socket != NULL ? o.daemon_pid : d.pid;
		bench_proc_read(marks.pid, false, &p0);
		if (marks.pid != 0 && !p0.ok)
			say(&o, "cannot read /proc/%ld/stat: no CPU figures", marks.pid);
		bench_stats_fetch(sock, &r.st0);
		if (fleet != NULL)
			bench_fleet_sample(fleet, 0, &ff);
		say(&o, "running the load");
		rc = bench_load_run(&o, &pool, sock, on_mark, &marks, &load);
		if (rc != HM_OK) {
			snprintf(err, sizeof(err), "load: %s: %s", hm_strerror(rc),
				 load.first_error);
			goto fail;
		}
		r.ran_daemon = true;
		bench_stats_fetch(sock, &r.st1);
		if (fleet != NULL) {
			bench_fleet_sample(fleet, 1, &ff);
			/* every OK nonce item was claimed, and nothing else */
			bench_fleet_check(&ff, &r.st0, &r.st1,
					  o.nonce ? load.tally.verdicts[HM_V_OK] +
							    load.warm.verdicts[HM_V_OK]
						  : 0);
			if (o.nonce) {
				say(&o, "sending replays");
				/* why in ff.check_error, which fails the run */
				if (bench_fleet_replays(fleet, &o, &pool, sock, &ff) != HM_OK)
					say(&o, "the replays could not be sent");
			}
		}
		bench_proc_read(marks.pid, true, &r.mem);
		if (marks.n == 2 && marks.proc[0].ok && marks.proc[1].ok) {
			double tck = (double)sysconf(_SC_CLK_TCK);

			r.daemon_user_s = (double)(marks.proc[1].utime_ticks -
						   marks.proc[0].utime_ticks) / tck;
			r.daemon_sys_s = (double)(marks.proc[1].stime_ticks -
						  marks.proc[0].stime_ticks) / tck;
			r.daemon_cpu_s = r.daemon_user_s + r.daemon_sys_s;
			r.have_cpu = true;
		}
		if (marks.n == 2)
			r.bench_cpu_s = tv_seconds(&marks.self[1].ru_utime) +
					tv_seconds(&marks.self[1].ru_stime) -
					tv_seconds(&marks.self[0].ru_utime) -
					tv_seconds(&marks.self[0].ru_stime);
		if (marks.n == 2 && marks.sys[0].ok && marks.sys[1].ok) {
			double tck = (double)sysconf(_SC_CLK_TCK);

			r.load_busy_s = (double)(marks.sys[1].busy - marks.sys[0].busy) / tck;
			r.load_steal_s = (double)(marks.sys[1].steal - marks.sys[0].steal) / tck;
			r.have_load = true;
		}
		if (d.own) {
			rc = bench_daemon_stop(&d, r.stop_error, sizeof(r.stop_error));
			if (rc != HM_OK)
				say(&o, "%s", r.stop_error);
		}
		if (fleet != NULL) {
			char e2[160] = "";

			rc = bench_fleet_stop(fleet, e2, sizeof(e2));
			if (rc != HM_OK) {
				say(&o, "%s", e2);
				if (r.stop_error[0] == '\0')
					snprintf(r.stop_error, sizeof(r.stop_error), "%s", e2);
			}
		}
	}

	/* 5. the baseline */
	if (o.inproc_only || o.compare_inproc) {
		struct bench_sys s0, s1;

		say(&o, "running the in-process baseline");
		bench_sys_read(&s0);
		rc = bench_inproc_run(&o, &pool, db, plan.skew, plan.nonce_cache, &inproc);
		bench_sys_read(&s1);
		if (s0.ok && s1.ok) {
			double tck = (double)sysconf(_SC_CLK_TCK);

			r.inproc_busy_s = (double)(s1.busy - s0.busy) / tck;
			r.inproc_steal_s = (double)(s1.steal - s0.steal) / tck;
			r.have_inproc_load = true;
		}
		if (rc != HM_OK) {
			snprintf(err, sizeof(err), "in-process run: %s: %s", hm_strerror(rc),
				 inproc.first_error);
			goto fail;
		}
		r.ran_inproc = true;
	}

	if (o.json)
		bench_report_json(&r, stdout);
	else
		bench_report_table(&r, stdout);
	status = bench_report_ok(&r) ? 0 : 1;
	goto out;
fail:
	fprintf(stderr, "hmacd-bench: %s\n", err[0] ? err : hm_strerror(rc));
	if (o.json)
		bench_report_json_error(stdout, err[0] ? err : hm_strerror(rc));
out:
	if (d.own) {
		char e2[160];

		if (bench_daemon_stop(&d, e2, sizeof(e2)) != HM_OK)
			fprintf(stderr, "hmacd-bench: %s\n", e2);
	}
	bench_fleet_free(&fleet);
	bench_tmpdir_remove(&d);
	free(load.lat);
	bench_pool_free(&pool);
	bench_scopes_free(&scopes);
	return status;
}
