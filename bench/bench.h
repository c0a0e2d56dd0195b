/*
 * bench.h - the parts of hmacd-bench and how they share data.
 *
 * hmacd-bench.c  options, the order of a run, the report (table or JSON)
 * setup.c        scopes created through the real key store (with their key ids, and tenant
 *                policies when needed); the pool of pre-encoded, pre-signed request frames
 *                (hmacd-v1 or RFC 9421 items) and the verdict expected for every item in it
 * load.c         the load generator: non-blocking Unix sockets, epoll, N generator threads, every
 *                response checked against the expected verdicts, latency per frame
 * inproc.c       the baseline: the same frames decoded and judged by the daemon's verify engine in
 *                one bench thread, no socket
 * daemon.c       starting and stopping our own hmacd; CPU time and RSS of a pid from /proc; the
 *                daemon's `stats` op
 * report.c       the figures, as a table or one JSON object
 * histogram.c    the latency histogram
 * fleet.c        --fleet: a redis-server (and replicas) of our own, the fleet made with the real
 *                hmacctl, hmacd in fleet mode (and a second host), Redis' CPU, the replays
 *                (built with fleet mode only; bench/fleetenv.h holds what it shares with
 *                hmacd-fleet-bench)
 *
 * Everything here is built before the clock starts (scopes, secrets, frames), so what runs
 * while the clock runs is only socket I/O and a check of each answer. No global mutable state:
 * a run's state lives in the structs below and is passed down.
 */
#ifndef HM_BENCH_H
#define HM_BENCH_H

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "proto/errors.h"
#include "histogram.h"
#include "proto/verdict.h"

#define BENCH_MAX_DAEMON_ARGS 32
/* our hmacd's arguments: ours (at most 11), --fleet's (at most 8), the user's, NULL */
#define BENCH_PLAN_ARGS (BENCH_MAX_DAEMON_ARGS + 20)
#define BENCH_DEFAULT_SKEW 300 /* hmacd's default --skew */
#define BENCH_DEFAULT_NONCE_CACHE (1u << 20) /* hmacd's default --nonce-cache */
#define BENCH_DEFAULT_KEY_CACHE 65536 /* hmacd's default --key-cache */
#define BENCH_MAX_REPLICAS 4 /* --fleet-wait */

/* --scheme: how the pool's items are signed (PROTOCOL.md section 7) */
enum bench_scheme {
	BENCH_HMACD_V1, /* the canonical string, epoch 1 (the default) */
	BENCH_RFC9421,  /* RFC 9421 hmac-sha256 with the scope's key id, Content-Digest */
};

/* --scope-dist: how the pool's items pick their scope */
enum bench_scope_dist {
	BENCH_DIST_UNIFORM, /* every scope once per pass, in one shuffled order (the default) */
	BENCH_DIST_ZIPF,    /* scope of rank r drawn with probability ~ 1 / r^s (--zipf-s) */
};

struct bench_opts {
	/* the daemon under test */
	const char *socket;      /* --socket: a running daemon; NULL: start our own */
	const char *db;          /* --db: its store (scopes are created there) */
	const char *hmacd;       /* --hmacd: binary to start */
	unsigned daemon_threads; /* --daemon-threads: its --threads (0: its default) */
	long daemon_pid;         /* --daemon-pid: with --socket, for CPU and RSS (0: unknown) */
	const char *daemon_args[BENCH_MAX_DAEMON_ARGS]; /* --daemon-arg, repeatable */
	unsigned ndaemon_args;
	const char *tmpdir;      /* --tmpdir: where our own socket and store go */
	const char *daemon_cpus_arg; /* --daemon-cpus: our hmacd's CPU affinity (NULL: none) */
	cpu_set_t daemon_cpus;
	bool daemon_cpus_set;
	const char *bench_cpus_arg;  /* --bench-cpus: the bench's own CPU affinity (NULL: none) */
	cpu_set_t bench_cpus;
	bool bench_cpus_set;
	/* the load */
	unsigned connections;
	unsigned batch;          /* items per frame */
	unsigned pipeline;       /* frames in flight per connection */
	double duration;         /* seconds of measurement (0 with --requests) */
	uint64_t requests;       /* items to send (0 with --duration) */
	double warmup;           /* seconds run before the measurement starts */
	unsigned gen_threads;
	double stall_timeout;    /* seconds without an answer while frames are in flight */
	/* the items */
	enum bench_scheme scheme;
	uint64_t scopes;
	enum bench_scope_dist scope_dist;
	double zipf_s;           /* --zipf-s: the exponent of --scope-dist zipf (default 1.0) */
	size_t body_bytes;
	bool digest;             /* v1: body_sha256 instead of body; rfc9421: no body (the
				    Content-Digest header is still sent and covered) */
	double invalid_ratio;    /* share of items with a tampered signature */
	bool nonce;              /* a unique nonce in every item */
	size_t pool_mb;          /* memory for pre-encoded frames */
	uint64_t seed;
	bool seed_set;
	/* --fleet: our hmacd in fleet mode with a Redis of our own (fleet.c) */
	bool fleet;
	bool fleet_local;        /* --fleet-nonces local: the local nonce cache only */
	unsigned fleet_wait;     /* --fleet-wait N: N replicas, and hmacd's --fleet-wait N */
	const char *hmacctl;     /* --hmacctl: makes the seal key, the fleet, its scopes */
	const char *redis_server; /* --redis-server */
	const char *redis_cpus_arg; /* --redis-cpus: Redis' (and replicas') CPU affinity */
	cpu_set_t redis_cpus;
	bool redis_cpus_set;
	/* what to run and how to report */
	bool inproc_only;        /* --inproc */
	bool compare_inproc;     /* --compare-inproc */
	bool json;
	bool quiet;
};

/* ---- scopes and the frame pool (setup.c) ---- */

#define BENCH_NAME_MAX 48
#define BENCH_KEYID_MAX 40 /* room kept per key id: the store generates "hk_" + 32 hex */
#define BENCH_SCOPES_PER_TENANT 16 /* containers per tenant: many tenants, a few scopes each */

struct bench_scopes {
	uint64_t n;
	char prefix[24];  /* makes tenant names unique to this run */
	uint8_t *secrets; /* n * 32 bytes; wiped by bench_scopes_free() */
	/* set before bench_scopes_create(): */
	bool keep_keyids;    /* record each scope's key id (rfc9421 items name it) */
	bool tenant_policy;  /* store an RFC 9421 policy for each tenant of the run ... */
	bool policy_nonce;   /* ... which requires a nonce or not (see bench_scopes_create) */
	/* filled by it: */
	char *keyids;     /* n * BENCH_KEYID_MAX bytes, NUL-terminated each; NULL if not kept */
	uint64_t ntenant_policies;
	double create_seconds;
};

/* The key id of scope i (keep_keyids only). */
static inline const char *bench_scope_keyid(const struct bench_scopes *s, uint64_t i)
{
	return s->keyids + i * BENCH_KEYID_MAX;
}

/* Tenant and container names of scope i (NUL-terminated, < BENCH_NAME_MAX bytes). */
void bench_scope_names(const struct bench_scopes *s, uint64_t i, char *tenant, char *container);

/*
 * Creates s->n scopes (epoch 1 each) in the store at `dir` with hm_ks_create(), one write
 * transaction each, keeping their secrets (and with keep_keyids the key ids the store
 * generated). With tenant_policy, then stores for each tenant of the run the RFC 9421 policy
 * the items meet: hm_policy_default() (@method @path @authority, created, age check, digest
 * with a body) with the nonce required only if policy_nonce; one write transaction per
 * tenant. The store is created if missing. HM_OK or a code from keystore.h, with a reason in
 * err.
 */
int bench_scopes_create(struct bench_scopes *s, const char *dir, char *err,
			size_t errlen) HM_MUSTCHECK;
void bench_scopes_free(struct bench_scopes *s);

struct bench_pool {
	uint8_t *bytes;    /* every frame, header included, back to back */
	size_t nbytes;
	size_t nframes;
	size_t *off;       /* frame i is bytes[off[i] .. off[i + 1]) */
	uint32_t batch;    /* items per frame (every frame has exactly this many) */
	uint8_t *expect;   /* verdict expected for item j of frame i: expect[i * batch + j] */
	uint64_t nitems;
	uint64_t ninvalid; /* items whose signature was tampered with */
	uint64_t distinct_scopes;
	size_t max_frame;  /* largest frame payload */
	bool unique;       /* --nonce: a frame may be sent once only */
	int64_t ts;        /* the ts of every item: when the pool was built */
	double gen_seconds;
};

/*
 * Builds `nframes` frames of opts->batch items each, cycling through the scopes in a shuffled
 * order, signed with hm_sign_item() (hmacd-v1) or over the signature base of proto/sigbase.c
 * (rfc9421), and encoded with the proto/ encoders. Frame i has request id i. `stop_at_bytes`
 * > 0 ends the pool early (fewer frames) once it holds that many bytes.
 * HM_OK, HM_ENOMEM, HM_ECRYPTO, HM_EMALFORMED (an item the rules refuse: a bug here).
 */
int bench_pool_build(const struct bench_opts *o, const struct bench_scopes *s, size_t nframes,
		     size_t stop_at_bytes, struct bench_pool *p) HM_MUSTCHECK;
void bench_pool_free(struct bench_pool *p);
/* The most frames bench_pool_build() builds when asked for nframes within stop_at_bytes. */
size_t bench_pool_frames_cap(const struct bench_opts *o, size_t nframes, size_t stop_at_bytes);
/* An upper bound of one frame's payload size, known before the pool is built. */
size_t bench_pool_frame_bound(const struct bench_opts *o);
/* A typical encoded item's size (for sizing a pool before it is built). */
size_t bench_pool_item_estimate(const struct bench_opts *o);

/* ---- counting verdicts (load.c and inproc.c) ---- */

struct bench_tally {
	uint64_t frames;
	uint64_t items;
	uint64_t verdicts[HM_V__COUNT + 1]; /* the last slot: a code outside the table */
	uint64_t mismatches;                /* items whose verdict was not the expected one */
	uint64_t errors;                    /* error responses, protocol errors, broken sockets */
};

void bench_tally_add(struct bench_tally *dst, const struct bench_tally *src);

/* ---- the load generator (load.c) ---- */

struct bench_load_result {
	struct bench_tally tally;    /* answers received during the measurement */
	struct bench_tally warm;     /* answers received during the warm-up */
	struct hm_hist *lat;         /* per-frame latency, ns (measurement only); caller frees */
	double elapsed;              /* seconds from measurement start to the last answer */
	bool pool_exhausted;         /* --nonce: unique frames ran out before the deadline */
	bool stalled;
	char first_error[160];       /* the first problem seen, for the report */
};

/* Called by bench_load_run() when the measured window opens and when it closes. */
typedef void (*bench_mark_fn)(void *arg);

/*
 * Runs the load against the daemon at socket_path until the deadline (--duration, after
 * --warmup) or until every frame of --requests has been answered, then waits for the frames in
 * flight. `mark(arg)` is called once right when the measurement window opens, and once when it
 * closes (after the last answer), so the caller can sample the daemon's CPU time there.
 * HM_OK when the run took place (check result->tally for mismatches and errors), HM_ECONN if a
 * connection could not be made, HM_ENOMEM, HM_EIO.
 */
int bench_load_run(const struct bench_opts *o, const struct bench_pool *pool,
		   const char *socket_path, bench_mark_fn mark, void *arg,
		   struct bench_load_result *res) HM_MUSTCHECK;

/*
 * The frames connection i of n sends: with a unique pool (--nonce) frames [*first, *first +
 * *count) of its slice, in that order; with a cycled pool *count is 0 (any frame, any number
 * of times).
 */
void bench_load_slice(const struct bench_opts *o, const struct bench_pool *pool, unsigned i,
		      unsigned n, size_t *first, size_t *count);

/* ---- the in-process baseline (inproc.c) ---- */

struct bench_inproc_result {
	struct bench_tally tally;
	double elapsed;     /* wall seconds */
	double cpu_seconds; /* CPU time of the bench thread */
	bool pool_exhausted;
	char first_error[160];
};

/*
 * Decodes and judges the pool's frames with hm_request_decode + hm_item_next + the daemon's
 * verify engine (daemon/verify.h), reading keys from the store at db_dir, in the calling
 * thread, for --duration (after --warmup) or --requests items. Each response frame is encoded
 * as the daemon would. HM_OK (check the tally), or a setup failure code with first_error set.
 */
int bench_inproc_run(const struct bench_opts *o, const struct bench_pool *pool,
		     const char *db_dir, int64_t skew, size_t nonce_cache,
		     struct bench_inproc_result *res) HM_MUSTCHECK;

/* ---- the daemon process (daemon.c) ---- */

struct bench_daemon {
	char dir[256];    /* our temp dir ("" if none) */
	char socket[256];
	char db[256];
	long pid;         /* our child, or --daemon-pid, or 0 */
	bool own;         /* we started it (and stop it) */
};

/* Makes a temp dir under `base` with db/ and the socket path in it. HM_OK or HM_EIO. */
int bench_tmpdir_make(struct bench_daemon *d, const char *base, char *err,
		      size_t errlen) HM_MUSTCHECK;
/* Removes the temp dir and the store files in it. */
void bench_tmpdir_remove(struct bench_daemon *d);

/* HM_OK if something accepts connections on the socket at path, HM_ECONN otherwise. */
int bench_socket_probe(const char *path, char *err, size_t errlen) HM_MUSTCHECK;

/*
 * Starts `hmacd` on d->socket and d->db with argv tail `args` (NULL-terminated) and CPU
 * affinity `cpus` (NULL: the bench's own), waits until the socket accepts connections (up to
 * 10 s) while checking the child is alive. HM_OK or HM_EIO.
 */
int bench_daemon_start(struct bench_daemon *d, const char *hmacd, const char *const *args,
		       const cpu_set_t *cpus, char *err, size_t errlen) HM_MUSTCHECK;
/*
 * SIGTERM, then wait (up to 10 s, then SIGKILL). HM_OK if it exited with status 0, HM_EIO
 * otherwise (reason in err).
 */
int bench_daemon_stop(struct bench_daemon *d, char *err, size_t errlen) HM_MUSTCHECK;

struct bench_proc {
	bool ok;
	uint64_t utime_ticks, stime_ticks; /* /proc/PID/stat fields 14 and 15 */
	uint64_t rss_kb, hwm_kb;           /* /proc/PID/status VmRSS, VmHWM */
};

/* Reads CPU times (and, if mem, memory) of pid. p->ok false if it could not. */
void bench_proc_read(long pid, bool mem, struct bench_proc *p);

/* The whole machine's CPU time from the first line of /proc/stat, in clock ticks. */
struct bench_sys {
	bool ok;
	uint64_t busy;  /* user + nice + system + irq + softirq */
	uint64_t steal; /* taken by the hypervisor */
};

void bench_sys_read(struct bench_sys *s);

#define BENCH_MAX_STATS 64

struct bench_stats {
	bool ok;
	unsigned n;
	char name[BENCH_MAX_STATS][40];
	uint64_t value[BENCH_MAX_STATS];
};

/* The daemon's counters through the `stats` op on a fresh connection (2 s timeout). */
void bench_stats_fetch(const char *socket_path, struct bench_stats *st);
/* The value of counter `name`, or false. */
bool bench_stats_get(const struct bench_stats *st, const char *name, uint64_t *v);

/* ---- fleet mode (fleet.c) ---- */

struct bench_fleet;

/* What --fleet measured and checked besides the load (report.c prints it). */
struct bench_fleet_figures {
	bool ran;
	const char *nonces;       /* "redis" or "local" */
	unsigned replicas;        /* started for --fleet-wait */
	double import_s;          /* hmacctl import-store of the scopes */
	double start_s;           /* our hmacd's start: it syncs the fleet before it listens */
	/* Redis' CPU (utime + stime) from just before the load to just after it, warm-up
	 * included, sampled next to the stats that give the claims sent meanwhile */
	bool have_cpu;
	double master_cpu_s, replica_cpu_s;
	/* the replays: frames already answered, sent again after the load */
	struct bench_tally replay_same;  /* to the same hmacd: its nonce cache refuses them */
	struct bench_tally replay_other; /* to a second hmacd of the fleet (--fleet-nonces redis):
					    Redis refuses them */
	bool ran_other;
	uint64_t other_taken;     /* the second hmacd's fleet_nonce_taken over its replays */
	uint64_t other_early;     /* ... and its nonce_before_start (must stay 0) */
	char check_error[200];    /* a verdict or counter that contradicts the claims: fails */
};

/*
 * In dir/fleet: starts redis-server (Unix socket; with o->fleet_wait also on 127.0.0.1, and
 * that many replicas of it, waited for until in sync), makes the seal key and the fleet with
 * the real hmacctl (seal-key generate, --fleet init). HM_OK with *out; otherwise a code with
 * err, and nothing left running. Without fleet mode built: HM_EINVAL.
 */
int bench_fleet_setup(const struct bench_opts *o, const char *dir, struct bench_fleet **out,
		      char *err, size_t errlen) HM_MUSTCHECK;
/* The store to create the scopes in (bench_scopes_create), before bench_fleet_import(). */
const char *bench_fleet_stage(const struct bench_fleet *f);
/* hmacctl --fleet ... import-store --db STAGE: the scopes into the fleet. HM_OK or HM_EIO. */
int bench_fleet_import(struct bench_fleet *f, uint64_t nscopes, struct bench_fleet_figures *fig,
		       char *err, size_t errlen) HM_MUSTCHECK;
/*
 * Appends hmacd's fleet arguments (--fleet URL --seal-key-file F --fleet-nonces redis|local
 * [--fleet-wait N]) to argv[*argc..cap); they stay valid until bench_fleet_stop(). false if
 * there is no room.
 */
bool bench_fleet_args(const struct bench_fleet *f, const char **argv, unsigned *argc,
		      unsigned cap);
/*
 * --fleet-nonces redis with --nonce: a second hmacd of the fleet (another host, one worker,
 * its own store and socket, our --skew), to which the replays are sent too. Started before the pool is
 * built (hmacd refuses a nonce item signed before it started). HM_OK or HM_EIO.
 */
int bench_fleet_start_other(struct bench_fleet *f, const char *hmacd, int64_t skew, char *err,
			    size_t errlen) HM_MUSTCHECK;
/* Reads Redis' CPU times: which 0 just before the load, 1 just after. */
void bench_fleet_sample(struct bench_fleet *f, unsigned which, struct bench_fleet_figures *fig);
/*
 * After the load, with --nonce: the first frames of every connection's slice (answered, so
 * their nonces are taken) sent again, one at a time, to our hmacd at sock and to the second
 * host: every item that was OK must now be REPLAY, the others keep their verdict; then the
 * counters must agree (the second host's REPLAYs came from Redis). Results in fig (tallies,
 * check_error). HM_OK when the replays could be sent (check fig), HM_ECONN / HM_EIO otherwise.
 */
int bench_fleet_replays(struct bench_fleet *f, const struct bench_opts *o,
			const struct bench_pool *pool, const char *sock,
			struct bench_fleet_figures *fig) HM_MUSTCHECK;
/*
 * The claims of the load, from our hmacd's counters before (st0) and after (st1) it: with
 * --fleet-nonces redis every nonce item answered OK (ok_items, warm-up included; 0 without
 * --nonce) was claimed once
 * (fleet_nonce_claims and fleet_nonce_claimed both ok_items) and none was refused or
 * unavailable; with local there are no claim counters. A contradiction goes to
 * fig->check_error.
 */
void bench_fleet_check(struct bench_fleet_figures *fig, const struct bench_stats *st0,
		       const struct bench_stats *st1, uint64_t ok_items);
/*
 * Stops the second host and Redis (HM_EIO if one did not exit 0, err says which) and removes
 * dir/fleet; the arguments of bench_fleet_args() stay readable. Once only; NULL is fine.
 */
int bench_fleet_stop(struct bench_fleet *f, char *err, size_t errlen) HM_MUSTCHECK;
/* Stops what is still running (as bench_fleet_stop, telling stderr), frees *f, NULLs it. */
void bench_fleet_free(struct bench_fleet **f);

/* ---- small shared helpers ---- */

static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* splitmix64: a small, fast, seedable generator for choosing items (not for secrets). */
static inline uint64_t bench_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A double in [0, 1). */
static inline double bench_rand01(uint64_t *state)
{
	return (double)(bench_rand(state) >> 11) * (1.0 / 9007199254740992.0);
}

#endif
