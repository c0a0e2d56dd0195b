/*
 * hmacd-fleet-bench - how long a key rotation takes to reach every hmacd of a fleet (issue 12,
 * item 9; bench/README.md, "hmacd-fleet-bench").
 *
 * For each N of --daemons: start a redis-server of our own (a temporary directory, a Unix
 * socket, no persistence), create the fleet and --scopes scopes with the real hmacctl, start
 * N real hmacd in fleet mode, each with its own socket and store (bench/spawn.h), and connect
 * to each with libhmacd. Then, --rotations times: rotate a scope (the real `hmacctl --fleet
 * ... key rotate`, or hm_fleet_rotate() in this process with --rotate inproc), note the time
 * the rotation returned, and poll every daemon with an item signed by the new epoch's secret
 * until each answers OK. A rotation's figure is the time from its return to the last daemon's
 * OK. Any other verdict than OK or UNKNOWN_KEY (not there yet), a rotation that does not
 * reach every daemon within --timeout, a refused record or a daemon that does not stop cleanly
 * fails the run (exit 1). Nothing here is a timing assertion: the figures are reported.
 *
 * Resolution: all daemons still waiting are polled at once (one pipelined request each), every
 * --poll-us microseconds from the rotation's return; a daemon's time is the clock read when
 * its OK arrives. So a figure is late by at most one poll interval plus one poll round trip.
 *
 * Exit status: 0 every rotation reached every daemon; 1 a failure (message on stderr, and
 * "ok":false with --json); 2 a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include <hmacd/client.h>

#include "bench/fleetenv.h"
#include "bench/spawn.h"
#include "fleet/admin.h"
#include "fleet/conn.h"
#include "fleet/fleet.h"
#include "fleet/seal.h"
#include "fleet/state.h"
#include "proto/b64.h"

#ifndef HM_SBINDIR
#define HM_SBINDIR "/usr/local/sbin"
#endif
#ifndef HM_BINDIR
#define HM_BINDIR "/usr/local/bin"
#endif

#define MAX_NS 16           /* values in --daemons */
#define MAX_DAEMONS 64      /* largest N */
#define MAX_DAEMON_ARGS 32
#define MAX_SCOPES 1000
#define TENANT "fleet-bench"
#define FLEET_TIMEOUT_MS 5000   /* our in-process connection to Redis */
#define CLIENT_TIMEOUT_MS 5000  /* one verify or stats call */
#define START_WAIT_MS 20000     /* a daemon's start: it syncs the fleet before it listens */
#define STOP_WAIT_MS 10000
#define OUT_CAP 4096            /* what hmacctl prints for one command */
#define GOAL_P99_MS 250.0       /* issue 12: p99 under 250 ms on loopback */

enum mode { MODE_HMACCTL, MODE_INPROC, MODE__MAX };
static const char *const mode_names[MODE__MAX] = {"hmacctl", "inproc"};

struct opts {
	unsigned ns[MAX_NS];
	size_t nns;
	bool modes[MODE__MAX];
	unsigned rotations, warmup, scopes, poll_us, timeout_s, daemon_threads;
	const char *daemon_args[MAX_DAEMON_ARGS];
	unsigned ndaemon_args;
	const char *hmacd, *hmacctl, *redis, *tmpdir;
	bool json, quiet;
};

/* One hmacd of the fleet. */
struct daemon {
	char dir[PATH_MAX];
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char db[PATH_MAX];
	pid_t pid; /* -1: not running */
	struct hmacd_client *c;
	bool done;     /* the current rotation verifies here */
	double ms;     /* ... since the rotation returned */
	uint64_t refused, applied, state; /* its fleet counters at the end */
};

/* One (N, way of rotating): its own Redis, fleet and daemons, in a directory of its own. */
struct run {
	unsigned n;
	enum mode mode;
	char dir[PATH_MAX];
	struct bf_redis redis;
	struct daemon d[MAX_DAEMONS];
	unsigned started;
	struct hm_fleet f; /* inproc: our own connection */
	struct hm_seal seal;
	bool fleet_open, seal_init;
	/* results */
	unsigned rotations, propagated;
	double *all_ms;  /* per rotation: until every daemon verified */
	double *each_ms; /* per rotation and daemon: until that daemon verified */
	size_t neach;
	unsigned rotates;     /* rotations done, warm-up included */
	double rotate_ms_sum; /* time the rotate itself took (hmacctl: the whole process) */
	double round_us_sum;  /* time of the poll rounds (send to every waiting daemon, answers) */
	uint64_t rounds;
	uint64_t refused, applied;
	double busy_cores;  /* the whole machine during the measured rotations (/proc/stat) */
	double other_cores; /* ... less this run's processes: what the rest of the machine took */
	bool ok;
	char error[512];
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* ---- small things ---- */

static void say(const struct opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(const struct opts *o, const char *fmt, ...)
{
	va_list ap;

	if (o->quiet)
		return;
	va_start(ap, fmt);
	fputs("hmacd-fleet-bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void fail(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct run *r, const char *fmt, ...)
{
	va_list ap;

	if (r->error[0] != '\0')
		return; /* the first failure is the one to tell */
	va_start(ap, fmt);
	(void)vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
}

static double now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Sleeps until the monotonic time t_ms (at once if it is past). */
static void sleep_until(double t_ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(t_ms / 1e3);
	ts.tv_nsec = (long)((t_ms - (double)ts.tv_sec * 1e3) * 1e6);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR &&
	       !interrupted)
		;
}

static bool parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	unsigned long v;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return false;
	*out = (unsigned)v;
	return true;
}

/*
 * The epoch and the 32-byte secret from what `hmacctl key create|rotate --json` printed
 * ({"tenant":...,"epoch":N,...,"secret":"<base64>"}). HM_OK or HM_EPROTO.
 */
static int parse_added(const char *json, uint32_t *epoch, uint8_t secret[static 32])
{
	char b64[HM_B64_LEN(64) + 1];
	const char *e = strstr(json, "\"epoch\":"), *s = strstr(json, "\"secret\":\"");
	size_t n = 0, len = 0;
	unsigned long v;
	char *end;
	int rc;

	if (e == NULL || s == NULL)
		return HM_EPROTO;
	errno = 0;
	v = strtoul(e + strlen("\"epoch\":"), &end, 10);
	if (errno != 0 || end == e + strlen("\"epoch\":") || v == 0 || v > UINT32_MAX)
		return HM_EPROTO;
	*epoch = (uint32_t)v;
	/* base64 has no '\\': drop JSON's optional escape of '/' */
	for (s += strlen("\"secret\":\""); *s != '"' && *s != '\0' && n + 1 < sizeof(b64); s++)
		if (*s != '\\')
			b64[n++] = *s;
	if (*s != '"') {
		OPENSSL_cleanse(b64, sizeof(b64));
		return HM_EPROTO;
	}
	rc = hm_b64_decode_ct(b64, n, secret, 32, &len);
	OPENSSL_cleanse(b64, sizeof(b64));
	if (rc != HM_OK || len != 32)
		return HM_EPROTO;
	return HM_OK;
}

/* ---- Redis, the fleet, the daemons ---- */

static int redis_start(const struct opts *o, struct run *r)
{
	const struct bf_redis_opts ro = {.bin = o->redis, .dir = r->dir, .name = "redis"};
	char why[512] = "";
	int rc;

	rc = bf_redis_start(&ro, &r->redis, why, sizeof(why));
	if (rc != HM_OK)
		fail(r, "%s", why);
	return rc;
}

/* hmacctl --fleet URL --seal-key-file F ARGS... with its stdout in out. */
static int hmacctl(const struct opts *o, const struct run *r, const char *seal_file,
		   const char *const *args, char *out, size_t cap, char *why, size_t whycap)
{
	return bf_hmacctl(o->hmacctl, r->redis.url, seal_file, args, out, cap, why, whycap);
}

static void scope_name(unsigned i, char out[16])
{
	snprintf(out, 16, "c%u", i);
}

/* init, then --scopes scopes (epoch 1 each), through the real hmacctl. */
static int fleet_create(const struct opts *o, struct run *r, const char *seal_file)
{
	static const char *const init[] = {"init", NULL};
	char out[OUT_CAP], why[256] = "", c[16];
	uint8_t secret[32];
	uint32_t epoch;
	int rc;

	rc = hmacctl(o, r, seal_file, init, out, sizeof(out), why, sizeof(why));
	if (rc != HM_OK) {
		fail(r, "hmacctl init: %s", why);
		return rc;
	}
	for (unsigned i = 0; i < o->scopes; i++) {
		const char *args[] = {"key", "create", "--tenant", TENANT, "--container", c,
				      "--json", NULL};

		scope_name(i, c);
		rc = hmacctl(o, r, seal_file, args, out, sizeof(out), why, sizeof(why));
		if (rc == HM_OK)
			rc = parse_added(out, &epoch, secret);
		OPENSSL_cleanse(out, sizeof(out));
		OPENSSL_cleanse(secret, sizeof(secret));
		if (rc != HM_OK) {
			fail(r, "hmacctl key create: %s",
			     why[0] != '\0' ? why : "unexpected output");
			return rc;
		}
	}
	return HM_OK;
}

static int daemons_start(const struct opts *o, struct run *r, const char *seal_file)
{
	const struct hmacd_options copts = {.timeout_ms = CLIENT_TIMEOUT_MS};
	char threads[16], why[256];
	int rc;

	snprintf(threads, sizeof(threads), "%u", o->daemon_threads);
	for (unsigned i = 0; i < r->n; i++) {
		struct daemon *d = &r->d[i];
		const char *argv[MAX_DAEMON_ARGS + 16];
		struct hm_spawn_opts so = {.argv = argv, .socket = d->sock,
					   .start_wait_ms = START_WAIT_MS,
					   .death_signal = SIGTERM, .stdout_to_stderr = true};
		unsigned n = 0;

		if (!bf_fmt(d->dir, sizeof(d->dir), "%s/h%u", r->dir, i) ||
		    !bf_fmt(d->sock, sizeof(d->sock), "%s/hmacd.sock", d->dir) ||
		    !bf_fmt(d->db, sizeof(d->db), "%s/db", d->dir)) {
			fail(r, "paths under %s are too long for a Unix socket", r->dir);
			return HM_EINVAL;
		}
		if (mkdir(d->dir, 0700) != 0) {
			fail(r, "mkdir %s: %s", d->dir, strerror(errno));
			return HM_EIO;
		}
		argv[n++] = o->hmacd;
		argv[n++] = "--fleet";
		argv[n++] = r->redis.url;
		argv[n++] = "--seal-key-file";
		argv[n++] = seal_file;
		argv[n++] = "--db";
		argv[n++] = d->db;
		argv[n++] = "--socket";
		argv[n++] = d->sock;
		argv[n++] = "--log-level";
		argv[n++] = "warn";
		if (o->daemon_threads > 0) {
			argv[n++] = "--threads";
			argv[n++] = threads;
		}
		for (unsigned k = 0; k < o->ndaemon_args; k++)
			argv[n++] = o->daemon_args[k];
		argv[n] = NULL;
		why[0] = '\0';
		rc = hm_spawn_start(&so, &d->pid, why, sizeof(why));
		if (rc != HM_OK) {
			d->pid = -1;
			fail(r, "hmacd %u: %s", i, why);
			return rc;
		}
		r->started = i + 1;
		rc = hmacd_connect(d->sock, &copts, &d->c);
		if (rc != HMACD_OK) {
			fail(r, "connecting to hmacd %u: %s", i, hmacd_strerror(rc));
			return HM_ECONN;
		}
	}
	return HM_OK;
}

/* Our own connection to the fleet, for --rotate inproc. */
static int fleet_open(struct run *r, const char *seal_file)
{
	struct hm_fleet_cfg cfg = {.timeout_ms = FLEET_TIMEOUT_MS};
	uint8_t key[HM_SEAL_KEY_LEN];
	char err[256] = "";
	int rc;

	rc = hm_seal_key_load(seal_file, key, err, sizeof(err));
	if (rc != HM_OK) {
		fail(r, "seal key %s: %s", seal_file, err);
		return rc;
	}
	rc = hm_seal_init(&r->seal, key);
	OPENSSL_cleanse(key, sizeof(key));
	if (rc != HM_OK) {
		fail(r, "seal key: %s", hm_strerror(rc));
		return rc;
	}
	r->seal_init = true;
	rc = hm_fleet_url_parse(r->redis.url, &cfg.url, err, sizeof(err));
	if (rc != HM_OK) {
		fail(r, "fleet URL: %s", err);
		return rc;
	}
	cfg.seal = &r->seal;
	rc = hm_fleet_open(&r->f, &cfg);
	r->fleet_open = true; /* set up even when the connection failed: closed at the end */
	if (rc != HM_OK)
		fail(r, "fleet: %s", r->f.err);
	return rc;
}

struct stats_arg {
	struct daemon *d;
};

static void on_stat(const char *name, uint64_t value, void *arg)
{
	struct daemon *d = ((struct stats_arg *)arg)->d;

	if (strcmp(name, "fleet_records_refused") == 0)
		d->refused = value;
	else if (strcmp(name, "fleet_changes_applied") == 0)
		d->applied = value;
	else if (strcmp(name, "fleet_state") == 0)
		d->state = value;
}

/* Every daemon's fleet counters: no record refused, every one following. */
static int daemons_check(struct run *r)
{
	for (unsigned i = 0; i < r->started; i++) {
		struct daemon *d = &r->d[i];
		struct stats_arg a = {d};
		int rc;

		d->state = UINT64_MAX;
		rc = hmacd_stats(d->c, on_stat, &a);
		if (rc != HMACD_OK) {
			fail(r, "stats of hmacd %u: %s", i, hmacd_strerror(rc));
			return HM_ECONN;
		}
		r->refused += d->refused;
		r->applied += d->applied;
		if (d->refused != 0)
			fail(r, "hmacd %u refused %" PRIu64 " fleet record(s)", i, d->refused);
		else if (d->state != HM_FOLLOW_FOLLOWING)
			fail(r, "hmacd %u is not following the fleet (fleet_state %" PRIu64 ")", i,
			     d->state);
	}
	return r->error[0] == '\0' ? HM_OK : HM_ESTATE;
}

/* Stops what run r started; a daemon that does not exit 0 fails the run. */
static void run_teardown(struct run *r)
{
	char why[256];

	for (unsigned i = 0; i < r->started; i++) {
		struct daemon *d = &r->d[i];

		hmacd_close(d->c);
		d->c = NULL;
		if (d->pid > 0) {
			why[0] = '\0';
			if (hm_spawn_stop(d->pid, STOP_WAIT_MS, why, sizeof(why)) != HM_OK)
				fail(r, "hmacd %u did not stop cleanly: %s", i, why);
			d->pid = -1;
		}
	}
	r->started = 0;
	if (r->fleet_open)
		hm_fleet_close(&r->f);
	r->fleet_open = false;
	if (r->seal_init)
		hm_seal_wipe(&r->seal);
	r->seal_init = false;
	why[0] = '\0';
	if (bf_redis_stop(&r->redis, why, sizeof(why)) != HM_OK)
		fail(r, "redis-server did not stop cleanly: %s", why);
	bf_remove_tree(r->dir);
	r->dir[0] = '\0';
}

/* ---- one rotation ---- */

/* Rotates scope c; *t0 is when the rotation returned. */
static int rotate(const struct opts *o, struct run *r, const char *seal_file, const char *c,
		  uint32_t *epoch, uint8_t secret[static 32], double *t0)
{
	const char *args[] = {"key", "rotate", "--tenant", TENANT, "--container", c, "--json",
			      NULL};
	char out[OUT_CAP], why[256] = "";
	struct hm_ks_added added;
	double t;
	int rc;

	t = now_ms();
	if (r->mode == MODE_INPROC) {
		rc = hm_fleet_rotate(&r->f, TENANT, c, (int64_t)time(NULL), 86400, NULL, secret,
				     &added);
		*t0 = now_ms();
		if (rc != HM_OK) {
			fail(r, "hm_fleet_rotate: %s: %s", hm_strerror(rc), r->f.err);
			return rc;
		}
		*epoch = added.epoch;
	} else {
		rc = hmacctl(o, r, seal_file, args, out, sizeof(out), why, sizeof(why));
		*t0 = now_ms();
		if (rc == HM_OK)
			rc = parse_added(out, epoch, secret);
		OPENSSL_cleanse(out, sizeof(out));
		if (rc != HM_OK) {
			fail(r, "hmacctl key rotate: %s",
			     why[0] != '\0' ? why : "unexpected output");
			return rc;
		}
	}
	r->rotate_ms_sum += *t0 - t;
	r->rotates++;
	return HM_OK;
}

/*
 * Polls every daemon with item until each answers OK (UNKNOWN_KEY: not there yet), from t0,
 * every o->poll_us. Fills d[i].ms. HM_OK; HM_ETIMEDOUT; HM_ECONN; HM_ESTATE (a wrong verdict).
 */
static int poll_all(const struct opts *o, struct run *r, const struct hmacd_item *item,
		    double t0)
{
	double deadline = t0 + o->timeout_s * 1e3, tick = t0;
	unsigned left = r->n;
	bool sent[MAX_DAEMONS];

	for (unsigned i = 0; i < r->n; i++)
		r->d[i].done = false;
	while (left > 0) {
		double start = now_ms();
		uint64_t id;
		int rc;

		if (interrupted) {
			fail(r, "interrupted");
			return HM_EIO;
		}
		if (start > deadline) {
			for (unsigned i = 0; i < r->n; i++)
				if (!r->d[i].done) {
					fail(r, "epoch %" PRIu64 " did not verify on hmacd %u "
					     "within %u s", item->epoch, i, o->timeout_s);
					break;
				}
			return HM_ETIMEDOUT;
		}
		/* one request to each daemon still waiting, all in flight at once */
		for (unsigned i = 0; i < r->n; i++) {
			struct daemon *d = &r->d[i];

			sent[i] = false;
			if (d->done)
				continue;
			rc = hmacd_send_verify(d->c, item, 1, &id);
			if (rc == HMACD_OK)
				rc = hmacd_flush(d->c);
			if (rc != HMACD_OK) {
				fail(r, "verify on hmacd %u: %s", i, hmacd_strerror(rc));
				return HM_ECONN;
			}
			sent[i] = true;
		}
		for (unsigned i = 0; i < r->n; i++) {
			struct daemon *d = &r->d[i];
			uint8_t v = HMACD_V_MALFORMED;
			size_t nv = 0;

			if (!sent[i])
				continue;
			rc = hmacd_recv_verify(d->c, &id, &v, 1, &nv);
			if (rc != HMACD_OK || nv != 1) {
				fail(r, "verify on hmacd %u: %s", i,
				     rc != HMACD_OK ? hmacd_strerror(rc) : "no verdict");
				return HM_ECONN;
			}
			if (v == HMACD_V_OK) {
				d->done = true;
				d->ms = now_ms() - t0;
				left--;
			} else if (v != HMACD_V_UNKNOWN_KEY) {
				fail(r, "hmacd %u answered %s for epoch %" PRIu64
				     " (expected OK, or UNKNOWN_KEY until the rotation arrives)",
				     i, hmacd_verdict_name(v), item->epoch);
				return HM_ESTATE;
			}
		}
		r->round_us_sum += (now_ms() - start) * 1e3;
		r->rounds++;
		if (left > 0) {
			tick += o->poll_us / 1e3;
			sleep_until(tick);
		}
	}
	return HM_OK;
}

/* One rotation of scope k % scopes, measured if `record`. */
static int one_rotation(const struct opts *o, struct run *r, const char *seal_file, unsigned k,
			bool record)
{
	static const struct hmacd_header hdr = {"content-type", 12, "application/json", 16};
	static const uint8_t body[] = "{\"cmd\":[\"true\"]}";
	char c[16], path[64];
	uint8_t secret[32];
	uint32_t epoch = 0;
	struct hmacd_item item = {0};
	double t0 = 0, all = 0;
	int rc;

	scope_name(k % o->scopes, c);
	snprintf(path, sizeof(path), "/containers/%s/exec", c);
	rc = rotate(o, r, seal_file, c, &epoch, secret, &t0);
	if (rc != HM_OK)
		goto out;
	/* no nonce: the same signed item may be sent again and again */
	item = (struct hmacd_item){.tenant = TENANT, .tenant_len = strlen(TENANT),
				   .container = c, .container_len = strlen(c), .epoch = epoch,
				   .method = "POST", .method_len = 4, .path = path,
				   .path_len = strlen(path), .ts = (uint64_t)time(NULL),
				   .headers = &hdr, .nheaders = 1, .body = body,
				   .body_len = sizeof(body) - 1};
	rc = hmacd_sign(secret, sizeof(secret), &item);
	if (rc != HMACD_OK) {
		fail(r, "hmacd_sign: %s", hmacd_strerror(rc));
		rc = HM_ECRYPTO;
		goto out;
	}
	rc = poll_all(o, r, &item, t0);
	if (rc != HM_OK || !record)
		goto out;
	for (unsigned i = 0; i < r->n; i++) {
		r->each_ms[r->neach++] = r->d[i].ms;
		if (r->d[i].ms > all)
			all = r->d[i].ms;
	}
	r->all_ms[r->propagated++] = all;
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(item.sig, sizeof(item.sig));
	if (record)
		r->rotations++;
	return rc;
}

/*
 * CPU time the whole machine has spent busy since boot (every CPU, every process: ours too;
 * not the time the hypervisor gave other guests), in seconds; false if /proc/stat cannot be
 * read.
 */
static bool machine_busy(double *busy_s)
{
	unsigned long long v[8] = {0};
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f = fopen("/proc/stat", "re");
	int n;

	if (f == NULL || hz <= 0) {
		if (f != NULL)
			fclose(f);
		return false;
	}
	/* cpu  user nice system idle iowait irq softirq steal */
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n != 8)
		return false;
	*busy_s = (double)(v[0] + v[1] + v[2] + v[5] + v[6]) / (double)hz;
	return true;
}

static double tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/*
 * CPU seconds this run's own processes have taken: the bench, its children reaped so far (the
 * hmacctl runs), Redis and the daemons.
 */
static double own_cpu_s(const struct run *r)
{
	struct rusage self, kids;
	double s = 0;

	if (getrusage(RUSAGE_SELF, &self) == 0)
		s += tv_s(self.ru_utime) + tv_s(self.ru_stime);
	if (getrusage(RUSAGE_CHILDREN, &kids) == 0)
		s += tv_s(kids.ru_utime) + tv_s(kids.ru_stime);
	s += bf_proc_cpu_s(r->redis.pid);
	for (unsigned i = 0; i < r->started; i++)
		s += bf_proc_cpu_s(r->d[i].pid);
	return s;
}

/* ---- one run: N daemons, one way of rotating ---- */

static int run_one(const struct opts *o, struct run *r, const char *top, const char *seal_file)
{
	unsigned total = o->warmup + o->rotations;
	double busy0 = 0, busy1 = 0, own0 = 0, t_start = 0, secs;
	bool have_busy = false;
	int rc;

	r->redis.pid = -1;
	for (unsigned i = 0; i < MAX_DAEMONS; i++)
		r->d[i].pid = -1;
	r->all_ms = calloc(o->rotations, sizeof(double));
	r->each_ms = calloc((size_t)o->rotations * r->n, sizeof(double));
	if (r->all_ms == NULL || r->each_ms == NULL) {
		fail(r, "out of memory");
		return HM_ENOMEM;
	}
	if (!bf_fmt(r->dir, sizeof(r->dir), "%s/n%u-%s", top, r->n, mode_names[r->mode])) {
		fail(r, "paths under %s are too long for a Unix socket", top);
		r->dir[0] = '\0';
		return HM_EINVAL;
	}
	if (mkdir(r->dir, 0700) != 0) {
		fail(r, "mkdir %s: %s", r->dir, strerror(errno));
		r->dir[0] = '\0';
		return HM_EIO;
	}
	say(o, "N=%u, rotate with %s: starting redis-server, the fleet, %u hmacd", r->n,
	    mode_names[r->mode], r->n);
	rc = redis_start(o, r);
	if (rc == HM_OK)
		rc = fleet_create(o, r, seal_file);
	if (rc == HM_OK && r->mode == MODE_INPROC)
		rc = fleet_open(r, seal_file);
	if (rc == HM_OK)
		rc = daemons_start(o, r, seal_file);
	if (rc != HM_OK)
		goto out;
	say(o, "N=%u, rotate with %s: %u warm-up + %u measured rotations", r->n,
	    mode_names[r->mode], o->warmup, o->rotations);
	for (unsigned k = 0; k < total && rc == HM_OK; k++) {
		if (k == o->warmup) {
			have_busy = machine_busy(&busy0);
			own0 = own_cpu_s(r);
			t_start = now_ms();
		}
		rc = one_rotation(o, r, seal_file, k, k >= o->warmup);
	}
	secs = (now_ms() - t_start) / 1e3;
	if (have_busy && machine_busy(&busy1) && secs > 0) {
		r->busy_cores = (busy1 - busy0) / secs;
		r->other_cores = (busy1 - busy0 - (own_cpu_s(r) - own0)) / secs;
		if (r->other_cores < 0) /* the kernel counts the two in ticks, apart */
			r->other_cores = 0;
	}
	if (rc == HM_OK)
		rc = daemons_check(r);
out:
	run_teardown(r);
	if (rc == HM_OK && r->error[0] != '\0')
		rc = HM_EIO;
	r->ok = rc == HM_OK;
	return rc;
}

/* ---- figures ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * Nearest rank: the smallest value with at least permille/1000 of the samples at or below it
 * (of 100 samples, p99 is the 99th smallest and max the 100th).
 */
static double pct(const double *v, size_t n, unsigned permille)
{
	size_t rank;

	if (n == 0)
		return 0;
	rank = (permille * n + 999) / 1000;
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

struct summary {
	double p50, p90, p99, max, mean;
};

static struct summary summarize(double *v, size_t n)
{
	struct summary s = {0};
	double sum = 0;

	if (n == 0)
		return s;
	qsort(v, n, sizeof(*v), cmp_double);
	for (size_t i = 0; i < n; i++)
		sum += v[i];
	s.p50 = pct(v, n, 500);
	s.p90 = pct(v, n, 900);
	s.p99 = pct(v, n, 990);
	s.max = v[n - 1];
	s.mean = sum / (double)n;
	return s;
}

/* A JSON string: ASCII printable as is, '"' and '\\' escaped, the rest as \u00XX. */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch > 0x7e)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void json_summary(FILE *f, const char *name, const struct summary *s)
{
	fprintf(f, ",\"%s\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"max\":%.3f,\"mean\":%.3f}",
		name, s->p50, s->p90, s->p99, s->max, s->mean);
}

static void report_json(const struct opts *o, struct run *runs, size_t nruns, bool ok,
			const char *error, FILE *f)
{
	char cpu[256], date[32];
	time_t t = time(NULL);
	struct tm tm;

	bf_cpu_model(cpu, sizeof(cpu));
	date[0] = '\0';
	if (gmtime_r(&t, &tm) != NULL)
		(void)strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(f, "{\"ok\":%s", ok ? "true" : "false");
	if (error != NULL) {
		fputs(",\"error\":", f);
		json_str(f, error);
	}
	fprintf(f, ",\"date\":\"%s\",\"machine\":{\"nproc\":%ld,\"cpu\":", date,
		sysconf(_SC_NPROCESSORS_ONLN));
	json_str(f, cpu);
	fprintf(f, "},\"params\":{\"rotations\":%u,\"warmup\":%u,\"scopes\":%u,\"poll_us\":%u,"
		"\"timeout_s\":%u,\"daemon_threads\":%u,\"goal_p99_ms\":%.0f}", o->rotations,
		o->warmup, o->scopes, o->poll_us, o->timeout_s, o->daemon_threads, GOAL_P99_MS);
	fputs(",\"runs\":[", f);
	for (size_t i = 0; i < nruns; i++) {
		struct run *r = &runs[i];
		struct summary all = summarize(r->all_ms, r->propagated);
		struct summary each = summarize(r->each_ms, r->neach);

		fprintf(f, "%s{\"daemons\":%u,\"rotate\":\"%s\",\"ok\":%s,\"rotations\":%u,"
			"\"propagated\":%u", i > 0 ? "," : "", r->n, mode_names[r->mode],
			r->ok ? "true" : "false", r->rotations, r->propagated);
		json_summary(f, "all_ms", &all);
		json_summary(f, "each_ms", &each);
		fprintf(f, ",\"goal_met\":%s,\"rotate_ms_mean\":%.3f,\"poll_round_us_mean\":%.1f,"
			"\"poll_rounds\":%" PRIu64 ",\"changes_applied\":%" PRIu64
			",\"records_refused\":%" PRIu64 ",\"machine_busy_cores\":%.2f"
			",\"other_cores\":%.2f",
			r->ok && all.p99 < GOAL_P99_MS ? "true" : "false",
			r->rotates ? r->rotate_ms_sum / r->rotates : 0,
			r->rounds ? r->round_us_sum / (double)r->rounds : 0, r->rounds,
			r->applied, r->refused, r->busy_cores, r->other_cores);
		if (r->error[0] != '\0') {
			fputs(",\"error\":", f);
			json_str(f, r->error);
		}
		fputc('}', f);
	}
	fputs("]}\n", f);
}

static void report_table(const struct opts *o, struct run *runs, size_t nruns, FILE *f)
{
	char cpu[256];

	bf_cpu_model(cpu, sizeof(cpu));
	fprintf(f, "hmacd-fleet-bench: from a rotation's return until the new epoch verifies on "
		"every hmacd\n");
	fprintf(f, "machine: %ld CPUs, %s; %u rotations per run (+%u warm-up) over %u scope(s); "
		"poll every %u us\n\n", sysconf(_SC_NPROCESSORS_ONLN), cpu, o->rotations,
		o->warmup, o->scopes, o->poll_us);
	fprintf(f, "%4s  %-8s %11s  %7s %7s %7s %7s  %15s  %9s  %8s  %5s %5s\n", "N", "rotate",
		"propagated", "p50 ms", "p90 ms", "p99 ms", "max ms", "each p50/p99 ms",
		"rotate ms", "round us", "busy", "other");
	for (size_t i = 0; i < nruns; i++) {
		struct run *r = &runs[i];
		struct summary all = summarize(r->all_ms, r->propagated);
		struct summary each = summarize(r->each_ms, r->neach);
		char prop[32], ep[32];

		snprintf(prop, sizeof(prop), "%u/%u", r->propagated, r->rotations);
		snprintf(ep, sizeof(ep), "%.2f/%.2f", each.p50, each.p99);
		fprintf(f, "%4u  %-8s %11s  %7.2f %7.2f %7.2f %7.2f  %15s  %9.2f  %8.0f  %5.2f "
			"%5.2f%s\n", r->n, mode_names[r->mode], prop, all.p50, all.p90, all.p99, all.max, ep,
			r->rotates ? r->rotate_ms_sum / r->rotates : 0,
			r->rounds ? r->round_us_sum / (double)r->rounds : 0, r->busy_cores,
			r->other_cores, r->ok ? "" : "  FAILED");
	}
	fputc('\n', f);
	for (size_t i = 0; i < nruns; i++) {
		struct run *r = &runs[i];

		if (!r->ok)
			fprintf(f, "N=%u, %s: %s\n", r->n, mode_names[r->mode],
				r->error[0] != '\0' ? r->error : "failed");
	}
	fprintf(f, "p50/p90/p99/max: until the last of the N daemons verified; each: per daemon. "
		"rotate: time the rotation\nitself took; round: one poll of the daemons still "
		"waiting; busy: cores the whole machine used\n(every process) during the measured "
		"rotations; other: busy less Redis, the daemons, hmacctl and the bench.\n"
		"Goal (issue 12): p99 < %.0f ms.\n", GOAL_P99_MS);
}

/* ---- options ---- */

enum opt_id {
	O_DAEMONS = 256, O_ROTATIONS, O_WARMUP, O_SCOPES, O_ROTATE, O_POLL_US, O_TIMEOUT,
	O_DAEMON_THREADS, O_DAEMON_ARG, O_HMACD, O_HMACCTL, O_REDIS, O_TMPDIR, O_JSON, O_QUIET,
	O_HELP,
};

struct opt_def {
	const char *name;
	int id;
	const char *arg; /* NULL: a flag */
	const char *help;
};

static const struct opt_def opt_defs[] = {
	{"daemons", O_DAEMONS, "LIST", "numbers of hmacd, one run each (default 1,3,8)"},
	{"rotations", O_ROTATIONS, "N", "measured rotations per run (default 100)"},
	{"warmup", O_WARMUP, "N", "unmeasured rotations first (default 3)"},
	{"scopes", O_SCOPES, "N", "scopes rotated in turn (default 1)"},
	{"rotate", O_ROTATE, "LIST", "hmacctl (default: the real binary) and/or inproc "
				     "(hm_fleet_rotate here)"},
	{"poll-us", O_POLL_US, "US", "poll the daemons every US microseconds (default 1000)"},
	{"timeout", O_TIMEOUT, "SECONDS", "a rotation must reach every daemon within (10)"},
	{"daemon-threads", O_DAEMON_THREADS, "N", "--threads of each hmacd (default: its own)"},
	{"daemon-arg", O_DAEMON_ARG, "ARG", "one more argument for each hmacd (repeatable)"},
	{"hmacd", O_HMACD, "PATH", "hmacd to run (default: $HMACD, the build's, installed)"},
	{"hmacctl", O_HMACCTL, "PATH", "hmacctl to run (default: $HMACCTL, the build's, "
				       "installed)"},
	{"redis-server", O_REDIS, "PATH", "redis-server to run (default: from PATH)"},
	{"tmpdir", O_TMPDIR, "DIR", "where Redis, sockets and stores go (default $TMPDIR, /tmp)"},
	{"json", O_JSON, NULL, "print one JSON object instead of the table"},
	{"quiet", O_QUIET, NULL, "no progress messages on stderr"},
	{"help", O_HELP, NULL, "this text"},
};
#define NOPTS (sizeof(opt_defs) / sizeof(opt_defs[0]))

static void usage(FILE *out)
{
	char left[64];

	fprintf(out, "usage: hmacd-fleet-bench [options]\n\n");
	for (size_t i = 0; i < NOPTS; i++) {
		snprintf(left, sizeof(left), "--%s%s%s", opt_defs[i].name,
			 opt_defs[i].arg ? " " : "", opt_defs[i].arg ? opt_defs[i].arg : "");
		fprintf(out, "  %-24s %s\n", left, opt_defs[i].help);
	}
}

static int bad_value(const char *name, const char *val)
{
	fprintf(stderr, "hmacd-fleet-bench: bad value for --%s: '%s'\n", name, val);
	return 2;
}

static bool parse_ns(const char *s, struct opts *o)
{
	char buf[128], *tok, *save = NULL;

	if (!bf_fmt(buf, sizeof(buf), "%s", s))
		return false;
	o->nns = 0;
	for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		if (o->nns == MAX_NS || !parse_uint(tok, 1, MAX_DAEMONS, &o->ns[o->nns]))
			return false;
		o->nns++;
	}
	return o->nns > 0;
}

static bool parse_modes(const char *s, struct opts *o)
{
	char buf[64], *tok, *save = NULL;
	bool any = false;

	if (!bf_fmt(buf, sizeof(buf), "%s", s))
		return false;
	memset(o->modes, 0, sizeof(o->modes));
	for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		bool known = false;

		for (int m = 0; m < MODE__MAX; m++)
			if (strcmp(tok, mode_names[m]) == 0) {
				o->modes[m] = true;
				known = any = true;
			}
		if (!known)
			return false;
	}
	return any;
}

/* Fills o from argv. 0, 2 (usage error) or -1 (--help printed). */
static int parse_args(int argc, char **argv, struct opts *o)
{
	struct option lo[NOPTS + 1];
	int c;

	for (size_t i = 0; i < NOPTS; i++)
		lo[i] = (struct option){opt_defs[i].name,
					opt_defs[i].arg ? required_argument : no_argument, NULL,
					opt_defs[i].id};
	lo[NOPTS] = (struct option){NULL, 0, NULL, 0};
	*o = (struct opts){.ns = {1, 3, 8}, .nns = 3, .modes = {[MODE_HMACCTL] = true},
			   .rotations = 100, .warmup = 3, .scopes = 1, .poll_us = 1000,
			   .timeout_s = 10, .redis = "redis-server"};
	for (;;) {
		const char *name = "";

		c = getopt_long(argc, argv, "", lo, NULL);
		if (c == -1)
			break;
		for (size_t i = 0; i < NOPTS; i++)
			if (opt_defs[i].id == c)
				name = opt_defs[i].name;
		switch (c) {
		case O_DAEMONS:
			if (!parse_ns(optarg, o))
				return bad_value(name, optarg);
			break;
		case O_ROTATIONS:
			if (!parse_uint(optarg, 1, 1000000, &o->rotations))
				return bad_value(name, optarg);
			break;
		case O_WARMUP:
			if (!parse_uint(optarg, 0, 1000000, &o->warmup))
				return bad_value(name, optarg);
			break;
		case O_SCOPES:
			if (!parse_uint(optarg, 1, MAX_SCOPES, &o->scopes))
				return bad_value(name, optarg);
			break;
		case O_ROTATE:
			if (!parse_modes(optarg, o))
				return bad_value(name, optarg);
			break;
		case O_POLL_US:
			if (!parse_uint(optarg, 0, 1000000, &o->poll_us))
				return bad_value(name, optarg);
			break;
		case O_TIMEOUT:
			if (!parse_uint(optarg, 1, 3600, &o->timeout_s))
				return bad_value(name, optarg);
			break;
		case O_DAEMON_THREADS:
			if (!parse_uint(optarg, 1, 1024, &o->daemon_threads))
				return bad_value(name, optarg);
			break;
		case O_DAEMON_ARG:
			if (o->ndaemon_args == MAX_DAEMON_ARGS)
				return bad_value(name, optarg);
			o->daemon_args[o->ndaemon_args++] = optarg;
			break;
		case O_HMACD: o->hmacd = optarg; break;
		case O_HMACCTL: o->hmacctl = optarg; break;
		case O_REDIS: o->redis = optarg; break;
		case O_TMPDIR: o->tmpdir = optarg; break;
		case O_JSON: o->json = true; break;
		case O_QUIET: o->quiet = true; break;
		case O_HELP: usage(stdout); return -1;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "hmacd-fleet-bench: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	return 0;
}

static const char *default_tmpdir(void)
{
	const char *t = getenv("TMPDIR");

	/*
	 * Not /dev/shm: a host's mirror is on a disk, and the follower's LMDB commit (an fsync
	 * per batch of changes) is part of what a rotation waits for.
	 */
	return t != NULL && t[0] != '\0' ? t : "/tmp";
}

int main(int argc, char **argv)
{
	struct opts o;
	struct run *runs = NULL;
	char top[PATH_MAX] = "", seal_file[PATH_MAX], why[256] = "", printed[OUT_CAP];
	char hmacd_buf[PATH_MAX], hmacctl_buf[PATH_MAX];
	const char *error = NULL;
	size_t nruns = 0;
	bool ok = false;
	int rc;

	rc = parse_args(argc, argv, &o);
	if (rc != 0)
		return rc < 0 ? 0 : rc;
	/* hiredis writes with write(2): a dropped connection must be an error, not a signal */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	o.hmacd = bf_find_binary(o.hmacd, "HMACD", "hmacd", HM_SBINDIR, hmacd_buf,
			      sizeof(hmacd_buf));
	o.hmacctl = bf_find_binary(o.hmacctl, "HMACCTL", "hmacctl", HM_BINDIR, hmacctl_buf,
				sizeof(hmacctl_buf));
	if (o.tmpdir == NULL)
		o.tmpdir = default_tmpdir();
	runs = calloc(MAX_NS * MODE__MAX, sizeof(*runs));
	if (runs == NULL) {
		error = "out of memory";
		goto out;
	}
	if (!bf_fmt(top, sizeof(top), "%s/hmacd-fleet-bench-XXXXXX", o.tmpdir) ||
	    mkdtemp(top) == NULL) {
		snprintf(why, sizeof(why), "cannot make a temporary directory in %s: %s", o.tmpdir,
			 strerror(errno));
		top[0] = '\0';
		error = why;
		goto out;
	}
	if (!bf_fmt(seal_file, sizeof(seal_file), "%s/seal.key", top)) {
		error = "temporary directory name too long";
		goto out;
	}
	/* one seal key for the whole run, made by the real hmacctl */
	{
		const char *args[] = {o.hmacctl, "seal-key", "generate", "--out", seal_file, NULL};

		rc = bf_run(args, printed, sizeof(printed), why, sizeof(why));
		if (rc != HM_OK) {
			error = why;
			goto out;
		}
	}
	say(&o, "hmacd %s, hmacctl %s, %s; in %s", o.hmacd, o.hmacctl, o.redis, top);
	ok = true;
	for (size_t i = 0; i < o.nns && !interrupted; i++) {
		for (int m = 0; m < MODE__MAX && !interrupted; m++) {
			struct run *r;

			if (!o.modes[m])
				continue;
			r = &runs[nruns++];
			r->n = o.ns[i];
			r->mode = (enum mode)m;
			rc = run_one(&o, r, top, seal_file);
			if (rc != HM_OK) {
				ok = false;
				fprintf(stderr, "hmacd-fleet-bench: N=%u, rotate with %s: %s\n",
					r->n, mode_names[r->mode], r->error);
			}
		}
	}
	if (interrupted) {
		error = "interrupted";
		ok = false;
	}
out:
	if (o.json) {
		/* a run's failure is also told at the top, as a set-up failure is */
		for (size_t i = 0; i < nruns && error == NULL; i++)
			if (runs[i].error[0] != '\0')
				error = runs[i].error;
		report_json(&o, runs, nruns, ok, error, stdout);
	} else {
		if (error != NULL)
			fprintf(stderr, "hmacd-fleet-bench: %s\n", error);
		if (nruns > 0)
			report_table(&o, runs, nruns, stdout);
	}
	for (size_t i = 0; i < nruns; i++) {
		free(runs[i].all_ms);
		free(runs[i].each_ms);
	}
	free(runs);
	bf_remove_tree(top);
	return ok ? 0 : 1;
}
