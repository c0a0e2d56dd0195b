/*
 * fleet.c - hmacd-bench --fleet: our hmacd in fleet mode, with a Redis of our own (bench.h;
 * bench/README.md, "Fleet mode").
 *
 * Everything lives in DIR/fleet of the run's temporary directory: redis-server on a Unix
 * socket without persistence (with --fleet-wait N also on 127.0.0.1, and N replicas of it
 * there, since a replica follows its master over TCP only), the seal key, a staging store
 * where the bench creates its scopes as without --fleet (hm_ks_create, keeping the secrets),
 * and the second host's directory. The fleet itself is made by the real hmacctl: seal-key
 * generate, --fleet init, --fleet import-store of the staging store (the way a host joins a
 * fleet); our hmacd then starts on an empty store that becomes the fleet's mirror.
 *
 * Redis' CPU is utime + stime from /proc, sampled next to the stats that count the claims, so
 * both cover the same window. The replays check what the claims are for: a frame answered
 * during the load, sent again, is REPLAY on the same host (its nonce cache) and, with claims in
 * Redis, on another host of the fleet, whose cache has never seen it: there Redis says taken.
 */
#include <config.h>

#include "bench.h"

#include <stdio.h>

#ifdef HM_WITH_FLEET
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench/fleetenv.h"
#include "proto/buf.h"
#include "proto/frame.h"
#include "proto/msg.h"

#ifndef HM_BINDIR
#define HM_BINDIR "/usr/local/bin"
#endif

#define REPLICA_SYNC_MS 20000
#define OUT_CAP 4096           /* what hmacctl prints for one command */
#define ANSWER_TIMEOUT_MS 10000 /* one replayed frame's answer */
#define ANSWER_MAX (1u << 20)

struct bench_fleet {
	char dir[PATH_MAX];   /* DIR/fleet */
	char seal[PATH_MAX];  /* DIR/fleet/seal.key */
	char stage[PATH_MAX]; /* DIR/fleet/stage: the scopes, before import-store */
	char hmacctl_buf[PATH_MAX];
	const char *hmacctl;
	const char *nonces;   /* "redis" or "local" */
	unsigned wait;
	char wait_arg[16];
	struct bf_redis master;
	struct bf_redis replica[BENCH_MAX_REPLICAS];
	unsigned nreplicas;
	struct bench_daemon other; /* the second host */
	double cpu0_master, cpu0_replica;
};

static double now_s(void)
{
	return (double)bench_now_ns() / 1e9;
}

int bench_fleet_setup(const struct bench_opts *o, const char *dir, struct bench_fleet **out,
		      char *err, size_t errlen)
{
	struct bench_fleet *f;
	struct bf_redis_opts ro = {.bin = o->redis_server ? o->redis_server : "redis-server",
				   .cpus = o->redis_cpus_set ? &o->redis_cpus : NULL};
	char printed[OUT_CAP], why[512] = "", name[24];
	int rc = HM_EINVAL;

	*out = NULL;
	f = calloc(1, sizeof(*f));
	if (f == NULL) {
		snprintf(err, errlen, "out of memory");
		return HM_ENOMEM;
	}
	f->master.pid = -1;
	for (unsigned i = 0; i < BENCH_MAX_REPLICAS; i++)
		f->replica[i].pid = -1;
	f->nonces = o->fleet_local ? "local" : "redis";
	f->wait = o->fleet_wait;
	snprintf(f->wait_arg, sizeof(f->wait_arg), "%u", f->wait);
	f->hmacctl = bf_find_binary(o->hmacctl, "HMACCTL", "hmacctl", HM_BINDIR, f->hmacctl_buf,
				    sizeof(f->hmacctl_buf));
	if (!bf_fmt(f->dir, sizeof(f->dir), "%s/fleet", dir) ||
	    !bf_fmt(f->seal, sizeof(f->seal), "%s/seal.key", f->dir) ||
	    !bf_fmt(f->stage, sizeof(f->stage), "%s/stage", f->dir)) {
		snprintf(err, errlen, "paths under %s are too long", dir);
		f->dir[0] = '\0';
		goto out;
	}
	if (mkdir(f->dir, 0700) != 0) {
		snprintf(err, errlen, "mkdir %s: %s", f->dir, strerror(errno));
		f->dir[0] = '\0';
		rc = HM_EIO;
		goto out;
	}
	/* the master; on 127.0.0.1 too when replicas must follow it */
	ro.dir = f->dir;
	ro.name = "redis";
	ro.tcp = f->wait > 0;
	rc = bf_redis_start(&ro, &f->master, why, sizeof(why));
	if (rc != HM_OK) {
		snprintf(err, errlen, "%s", why);
		goto out;
	}
	for (unsigned i = 0; i < f->wait; i++) {
		snprintf(name, sizeof(name), "replica%u", i + 1);
		ro.name = name;
		ro.tcp = false;
		ro.replicaof = f->master.port;
		rc = bf_redis_start(&ro, &f->replica[i], why, sizeof(why));
		if (rc != HM_OK) {
			snprintf(err, errlen, "%s", why);
			goto out;
		}
		f->nreplicas = i + 1;
	}
	if (f->wait > 0) {
		rc = bf_redis_wait_replicas(&f->master, f->wait, REPLICA_SYNC_MS, why, sizeof(why));
		if (rc != HM_OK) {
			snprintf(err, errlen, "replicas: %s", why);
			goto out;
		}
	}
	/* the seal key and the fleet, by the real hmacctl */
	{
		const char *args[] = {f->hmacctl, "seal-key", "generate", "--out", f->seal, NULL};

		rc = bf_run(args, printed, sizeof(printed), why, sizeof(why));
		if (rc != HM_OK) {
			snprintf(err, errlen, "hmacctl seal-key generate: %s", why);
			goto out;
		}
	}
	{
		const char *args[] = {"init", NULL};

		rc = bf_hmacctl(f->hmacctl, f->master.url, f->seal, args, printed, sizeof(printed),
				why, sizeof(why));
		if (rc != HM_OK) {
			snprintf(err, errlen, "hmacctl --fleet init: %s", why);
			goto out;
		}
	}
	*out = f;
	f = NULL;
out:
	bench_fleet_free(&f); /* stops what was started */
	return rc;
}

const char *bench_fleet_stage(const struct bench_fleet *f)
{
	return f->stage;
}

int bench_fleet_import(struct bench_fleet *f, uint64_t nscopes, struct bench_fleet_figures *fig,
		       char *err, size_t errlen)
{
	const char *args[] = {"import-store", "--db", f->stage, "--json", NULL};
	char printed[OUT_CAP], why[512] = "";
	const char *w;
	uint64_t written = 0;
	double t0 = now_s();
	int rc;

	rc = bf_hmacctl(f->hmacctl, f->master.url, f->seal, args, printed, sizeof(printed), why,
			sizeof(why));
	fig->import_s = now_s() - t0;
	if (rc != HM_OK) {
		snprintf(err, errlen, "hmacctl --fleet import-store: %s", why);
		return rc;
	}
	/* {"fleet_id":"...","created":false,"written":N,"kept":0,"conflicts":0} */
	w = strstr(printed, "\"written\":");
	if (w == NULL || sscanf(w + strlen("\"written\":"), "%" SCNu64, &written) != 1 ||
	    written != nscopes) {
		snprintf(err, errlen, "hmacctl --fleet import-store wrote %" PRIu64 " records, "
			 "expected one per scope (%" PRIu64 ")", written, nscopes);
		return HM_EIO;
	}
	return HM_OK;
}

bool bench_fleet_args(const struct bench_fleet *f, const char **argv, unsigned *argc,
		      unsigned cap)
{
	unsigned need = 6 + (f->wait > 0 ? 2 : 0);

	if (*argc + need > cap)
		return false;
	argv[(*argc)++] = "--fleet";
	argv[(*argc)++] = f->master.url;
	argv[(*argc)++] = "--seal-key-file";
	argv[(*argc)++] = f->seal;
	argv[(*argc)++] = "--fleet-nonces";
	argv[(*argc)++] = f->nonces;
	if (f->wait > 0) {
		argv[(*argc)++] = "--fleet-wait";
		argv[(*argc)++] = f->wait_arg;
	}
	return true;
}

int bench_fleet_start_other(struct bench_fleet *f, const char *hmacd, int64_t skew, char *err,
			    size_t errlen)
{
	struct bench_daemon *d = &f->other;
	const char *argv[24];
	char skew_arg[24];
	unsigned n = 0;

	if (!bf_fmt(d->dir, sizeof(d->dir), "%s/other", f->dir) ||
	    !bf_fmt(d->socket, sizeof(d->socket), "%s/hmacd.sock", d->dir) ||
	    strlen(d->socket) >= BF_SUN_PATH ||
	    !bf_fmt(d->db, sizeof(d->db), "%s/db", d->dir)) {
		snprintf(err, errlen, "paths under %s are too long for a Unix socket", f->dir);
		d->dir[0] = '\0';
		return HM_EINVAL;
	}
	if (mkdir(d->dir, 0700) != 0) {
		snprintf(err, errlen, "mkdir %s: %s", d->dir, strerror(errno));
		return HM_EIO;
	}
	/* one worker is plenty for the replays; the same clock window as ours */
	argv[n++] = "--threads";
	argv[n++] = "1";
	snprintf(skew_arg, sizeof(skew_arg), "%" PRId64, skew);
	argv[n++] = "--skew";
	argv[n++] = skew_arg;
	if (!bench_fleet_args(f, argv, &n, sizeof(argv) / sizeof(argv[0]) - 1)) {
		snprintf(err, errlen, "too many arguments for the second hmacd");
		return HM_EINVAL;
	}
	argv[n] = NULL;
	return bench_daemon_start(d, hmacd, argv, NULL, err, errlen);
}

void bench_fleet_sample(struct bench_fleet *f, unsigned which, struct bench_fleet_figures *fig)
{
	double m = bf_proc_cpu_s(f->master.pid), r = 0;

	for (unsigned i = 0; i < f->nreplicas; i++)
		r += bf_proc_cpu_s(f->replica[i].pid);
	if (which == 0) {
		f->cpu0_master = m;
		f->cpu0_replica = r;
		return;
	}
	fig->have_cpu = f->master.pid > 0;
	fig->master_cpu_s = m - f->cpu0_master;
	fig->replica_cpu_s = r - f->cpu0_replica;
}

/* ---- the replays ---- */

static int connect_unix(const char *path, int *fd, char *why, size_t cap)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	if (!bf_fmt(sa.sun_path, sizeof(sa.sun_path), "%s", path)) {
		snprintf(why, cap, "socket path too long");
		return HM_EINVAL;
	}
	*fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*fd < 0) {
		snprintf(why, cap, "socket: %s", strerror(errno));
		return HM_ECONN;
	}
	if (connect(*fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		snprintf(why, cap, "connect %s: %s", path, strerror(errno));
		close(*fd);
		*fd = -1;
		return HM_ECONN;
	}
	return HM_OK;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return HM_EIO;
		p += w;
		n -= (size_t)w;
	}
	return HM_OK;
}

/* Reads one answer frame into in (from its start); *plen its payload's length. */
static int read_answer(int fd, struct hm_buf *in, uint32_t *plen)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	size_t flen = 0;
	int rc = HM_EAGAIN;

	in->len = 0;
	while (rc == HM_EAGAIN) {
		ssize_t n;

		if (poll(&pfd, 1, ANSWER_TIMEOUT_MS) <= 0 || hm_buf_reserve(in, 4096) != HM_OK)
			return HM_ETIMEDOUT;
		n = read(fd, in->data + in->len, 4096);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return HM_ECONN;
		in->len += (size_t)n;
		rc = hm_frame_parse(in->data, in->len, ANSWER_MAX, plen, &flen);
	}
	/* one frame at a time in flight: nothing may follow it */
	return rc == HM_OK && flen == in->len ? HM_OK : HM_EPROTO;
}

/*
 * Sends again the first min(--pipeline, slice) frames of every connection's slice, one at a
 * time, to the hmacd at sock: an item expected OK must now be REPLAY, the others keep their
 * verdict. Tallied in t; *ok_items counts the items that were OK the first time.
 */
static int replay_to(const char *sock, const struct bench_opts *o, const struct bench_pool *p,
		     struct bench_tally *t, uint64_t *ok_items, char *why, size_t cap)
{
	struct hm_buf in;
	int fd = -1, rc;

	*ok_items = 0;
	hm_buf_init(&in, ANSWER_MAX + HM_FRAME_HEADER);
	rc = connect_unix(sock, &fd, why, cap);
	for (unsigned i = 0; rc == HM_OK && i < o->connections; i++) {
		size_t first, count;

		bench_load_slice(o, p, i, o->connections, &first, &count);
		if (count > o->pipeline)
			count = o->pipeline; /* sent at the start: surely answered */
		for (size_t f = first; rc == HM_OK && f < first + count; f++) {
			struct hm_response resp;
			uint32_t plen = 0;
			uint64_t v;

			rc = write_all(fd, p->bytes + p->off[f], p->off[f + 1] - p->off[f]);
			if (rc != HM_OK) {
				snprintf(why, cap, "replay of frame %zu: write: %s", f,
					 strerror(errno));
				break;
			}
			rc = read_answer(fd, &in, &plen);
			if (rc != HM_OK) {
				snprintf(why, cap, "replay of frame %zu: no answer: %s", f,
					 hm_strerror(rc));
				break;
			}
			t->frames++;
			if (hm_response_decode(in.data + HM_FRAME_HEADER, plen, &resp) != HM_OK ||
			    resp.kind != HM_RESP_RESULTS || !resp.has_id || resp.id != f ||
			    resp.nresults != p->batch) {
				t->errors++;
				snprintf(why, cap, "replay of frame %zu: answer of the wrong kind, "
					 "id or length", f);
				continue;
			}
			t->items += p->batch;
			for (uint32_t j = 0; j < p->batch; j++) {
				uint8_t first_time = p->expect[f * p->batch + j];
				uint8_t want = first_time == HM_V_OK ? HM_V_REPLAY : first_time;

				if (hm_mp_read_uint(&resp.results, &v) != HM_OK) {
					t->errors++;
					break;
				}
				*ok_items += first_time == HM_V_OK;
				t->verdicts[v < HM_V__COUNT ? v : HM_V__COUNT]++;
				if (v != want && t->mismatches++ == 0)
					snprintf(why, cap, "replay of frame %zu item %" PRIu32
						 ": verdict %s, expected %s", f, j,
						 hm_verdict_name((unsigned)v),
						 hm_verdict_name(want));
			}
		}
	}
	if (fd >= 0)
		close(fd);
	hm_buf_free(&in);
	return rc;
}

static uint64_t delta(const struct bench_stats *a, const struct bench_stats *b, const char *name,
		      bool *ok)
{
	uint64_t x = 0, y = 0;

	*ok = bench_stats_get(a, name, &x) && bench_stats_get(b, name, &y) && y >= x;
	return *ok ? y - x : 0;
}

int bench_fleet_replays(struct bench_fleet *f, const struct bench_opts *o,
			const struct bench_pool *pool, const char *sock,
			struct bench_fleet_figures *fig)
{
	struct bench_stats s0, s1;
	char why[200] = "";
	uint64_t ok_items = 0;
	bool ok1, ok2;
	int rc;

	if (!o->nonce || !pool->unique)
		return HM_OK;
	rc = replay_to(sock, o, pool, &fig->replay_same, &ok_items, why, sizeof(why));
	if (rc == HM_OK && why[0] != '\0' && fig->check_error[0] == '\0')
		snprintf(fig->check_error, sizeof(fig->check_error), "same host: %s", why);
	if (rc != HM_OK || !f->other.own)
		goto out;
	fig->ran_other = true;
	why[0] = '\0';
	bench_stats_fetch(f->other.socket, &s0);
	rc = replay_to(f->other.socket, o, pool, &fig->replay_other, &ok_items, why, sizeof(why));
	bench_stats_fetch(f->other.socket, &s1);
	if (rc != HM_OK)
		goto out;
	if (why[0] != '\0' && fig->check_error[0] == '\0')
		snprintf(fig->check_error, sizeof(fig->check_error), "second host: %s", why);
	fig->other_taken = delta(&s0, &s1, "fleet_nonce_taken", &ok1);
	fig->other_early = delta(&s0, &s1, "nonce_before_start", &ok2);
	/* its REPLAYs must be Redis' "taken", not its start-up rule or anything else */
	if (fig->check_error[0] == '\0' &&
	    (!ok1 || !ok2 || fig->other_taken != ok_items || fig->other_early != 0))
		snprintf(fig->check_error, sizeof(fig->check_error),
			 "second host: %" PRIu64 " replayed nonces refused as taken in Redis "
			 "(fleet_nonce_taken), %" PRIu64 " as signed before its start; expected "
			 "%" PRIu64 " and 0", fig->other_taken, fig->other_early, ok_items);
out:
	if (rc != HM_OK && fig->check_error[0] == '\0')
		snprintf(fig->check_error, sizeof(fig->check_error), "%s", why);
	return rc;
}

void bench_fleet_check(struct bench_fleet_figures *fig, const struct bench_stats *st0,
		       const struct bench_stats *st1, uint64_t ok_items)
{
	uint64_t sent, claimed, taken, unavailable, v;
	bool ok[4];

	if (fig->check_error[0] != '\0')
		return;
	if (strcmp(fig->nonces, "local") == 0) {
		if (bench_stats_get(st1, "fleet_nonce_claims", &v))
			snprintf(fig->check_error, sizeof(fig->check_error),
				 "--fleet-nonces local, but hmacd counts nonce claims");
		return;
	}
	sent = delta(st0, st1, "fleet_nonce_claims", &ok[0]);
	claimed = delta(st0, st1, "fleet_nonce_claimed", &ok[1]);
	taken = delta(st0, st1, "fleet_nonce_taken", &ok[2]);
	unavailable = delta(st0, st1, "fleet_nonce_unavailable", &ok[3]);
	if (!ok[0] || !ok[1] || !ok[2] || !ok[3])
		snprintf(fig->check_error, sizeof(fig->check_error),
			 "hmacd's stats lack the fleet_nonce_* counters");
	else if (sent != ok_items || claimed != ok_items || taken != 0 || unavailable != 0)
		snprintf(fig->check_error, sizeof(fig->check_error),
			 "%" PRIu64 " items OK, but %" PRIu64 " claims sent, %" PRIu64 " claimed, "
			 "%" PRIu64 " taken, %" PRIu64 " unavailable", ok_items, sent, claimed, taken,
			 unavailable);
}

int bench_fleet_stop(struct bench_fleet *f, char *err, size_t errlen)
{
	char why[256] = "";
	int rc = HM_OK;

	if (f == NULL)
		return HM_OK;
	if (bench_daemon_stop(&f->other, why, sizeof(why)) != HM_OK) {
		snprintf(err, errlen, "the second hmacd: %s", why);
		rc = HM_EIO;
	}
	for (unsigned i = f->nreplicas; i-- > 0;) {
		why[0] = '\0';
		if (bf_redis_stop(&f->replica[i], why, sizeof(why)) != HM_OK && rc == HM_OK) {
			snprintf(err, errlen, "replica %u: %s", i + 1, why);
			rc = HM_EIO;
		}
	}
	why[0] = '\0';
	if (bf_redis_stop(&f->master, why, sizeof(why)) != HM_OK && rc == HM_OK) {
		snprintf(err, errlen, "redis-server: %s", why);
		rc = HM_EIO;
	}
	bf_remove_tree(f->dir);
	f->dir[0] = '\0';
	return rc;
}

void bench_fleet_free(struct bench_fleet **f)
{
	if (*f == NULL)
		return;
	if ((*f)->dir[0] != '\0') {
		char e2[256];

		if (bench_fleet_stop(*f, e2, sizeof(e2)) != HM_OK)
			fprintf(stderr, "hmacd-bench: %s\n", e2);
	}
	free(*f);
	*f = NULL;
}

#else /* built without fleet mode: hmacd-bench refuses --fleet here, before anything runs */

int bench_fleet_setup(const struct bench_opts *o, const char *dir, struct bench_fleet **out,
		      char *err, size_t errlen)
{
	(void)o;
	(void)dir;
	*out = NULL;
	snprintf(err, errlen, "--fleet: this hmacd-bench was built without fleet mode "
		 "(configure found no hiredis)");
	return HM_EINVAL;
}

const char *bench_fleet_stage(const struct bench_fleet *f)
{
	(void)f;
	return "";
}

int bench_fleet_import(struct bench_fleet *f, uint64_t nscopes, struct bench_fleet_figures *fig,
		       char *err, size_t errlen)
{
	(void)f;
	(void)nscopes;
	(void)fig;
	snprintf(err, errlen, "no fleet mode");
	return HM_EINVAL;
}

bool bench_fleet_args(const struct bench_fleet *f, const char **argv, unsigned *argc,
		      unsigned cap)
{
	(void)f;
	(void)argv;
	(void)argc;
	(void)cap;
	return false;
}

int bench_fleet_start_other(struct bench_fleet *f, const char *hmacd, int64_t skew, char *err,
			    size_t errlen)
{
	(void)f;
	(void)hmacd;
	(void)skew;
	snprintf(err, errlen, "no fleet mode");
	return HM_EINVAL;
}

void bench_fleet_sample(struct bench_fleet *f, unsigned which, struct bench_fleet_figures *fig)
{
	(void)f;
	(void)which;
	(void)fig;
}

int bench_fleet_replays(struct bench_fleet *f, const struct bench_opts *o,
			const struct bench_pool *pool, const char *sock,
			struct bench_fleet_figures *fig)
{
	(void)f;
	(void)o;
	(void)pool;
	(void)sock;
	(void)fig;
	return HM_EINVAL;
}

void bench_fleet_check(struct bench_fleet_figures *fig, const struct bench_stats *st0,
		       const struct bench_stats *st1, uint64_t ok_items)
{
	(void)fig;
	(void)st0;
	(void)st1;
	(void)ok_items;
}

int bench_fleet_stop(struct bench_fleet *f, char *err, size_t errlen)
{
	(void)f;
	(void)err;
	(void)errlen;
	return HM_OK;
}

void bench_fleet_free(struct bench_fleet **f)
{
	*f = NULL;
}
#endif
