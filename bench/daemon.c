/*
 * daemon.c - the daemon as a process: start and stop our own hmacd, read a pid's CPU time and
 * memory from /proc, and fetch its counters with the `stats` op (see bench.h).
 *
 * CPU time is utime + stime of /proc/PID/stat: every thread of the process, live or exited, in
 * clock ticks (sysconf(_SC_CLK_TCK), 100 per second here), so a figure is exact to 10 ms of CPU
 * over the run. Memory is VmRSS (resident now) and VmHWM (the peak) of /proc/PID/status.
 */
#include "bench.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench/spawn.h"
#include "proto/buf.h"
#include "proto/frame.h"
#include "proto/msg.h"

#define START_WAIT_MS 30000 /* in fleet mode hmacd syncs every scope before it listens */
#define STOP_WAIT_MS 10000
#define STATS_TIMEOUT_MS 2000

int bench_tmpdir_make(struct bench_daemon *d, const char *base, char *err, size_t errlen)
{
	int n;

	n = snprintf(d->dir, sizeof(d->dir), "%s/hmacd-bench-XXXXXX", base);
	if (n < 0 || (size_t)n >= sizeof(d->dir) || mkdtemp(d->dir) == NULL) {
		snprintf(err, errlen, "cannot make a temporary directory in %s: %s", base,
			 strerror(errno));
		d->dir[0] = '\0';
		return HM_EIO;
	}
	/* sun_path holds 108 bytes: check here rather than fail at bind() */
	n = snprintf(d->socket, sizeof(d->socket), "%s/hmacd.sock", d->dir);
	if (n < 0 || (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		snprintf(err, errlen, "socket path under %s is too long for a Unix socket", base);
		return HM_EIO;
	}
	n = snprintf(d->db, sizeof(d->db), "%s/db", d->dir);
	if (n < 0 || (size_t)n >= sizeof(d->db)) {
		snprintf(err, errlen, "store path under %s is too long", base);
		return HM_EIO;
	}
	return HM_OK;
}

void bench_tmpdir_remove(struct bench_daemon *d)
{
	static const char *const files[] = {"data.mdb", "lock.mdb", "nonces"};
	char path[300];

	if (d->dir[0] == '\0')
		return;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", d->db, files[i]);
		unlink(path);
	}
	rmdir(d->db);
	unlink(d->socket); /* hmacd removes it at SIGTERM; a killed one does not */
	if (rmdir(d->dir) != 0)
		fprintf(stderr, "hmacd-bench: could not remove %s: %s\n", d->dir, strerror(errno));
	d->dir[0] = '\0';
}

int bench_socket_probe(const char *path, char *err, size_t errlen)
{
	if (hm_spawn_can_connect(path))
		return HM_OK;
	snprintf(err, errlen, "nothing accepts connections on %s", path);
	return HM_ECONN;
}

int bench_daemon_start(struct bench_daemon *d, const char *hmacd, const char *const *args,
		       const cpu_set_t *cpus, char *err, size_t errlen)
{
	const char *argv[BENCH_PLAN_ARGS + 8];
	struct hm_spawn_opts o = {
		.argv = argv,
		.socket = d->socket,
		.start_wait_ms = START_WAIT_MS,
		/* if the bench dies, its daemon goes too (and removes its socket itself) */
		.death_signal = SIGTERM,
		/* stdout carries the bench's report (--json): the daemon's words go to stderr */
		.stdout_to_stderr = true,
		.cpus = cpus,
	};
	unsigned n = 0;
	pid_t pid = -1;
	int rc;

	argv[n++] = hmacd;
	argv[n++] = "--socket";
	argv[n++] = d->socket;
	argv[n++] = "--db";
	argv[n++] = d->db;
	argv[n++] = "--log-level";
	argv[n++] = "warn";
	for (; *args != NULL && n < sizeof(argv) / sizeof(argv[0]) - 1; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	rc = hm_spawn_start(&o, &pid, err, errlen);
	if (rc != HM_OK)
		return rc;
	d->pid = pid;
	d->own = true;
	return HM_OK;
}

int bench_daemon_stop(struct bench_daemon *d, char *err, size_t errlen)
{
	pid_t pid = (pid_t)d->pid;

	if (!d->own || pid <= 0)
		return HM_OK;
	d->own = false;
	d->pid = 0;
	return hm_spawn_stop(pid, STOP_WAIT_MS, err, errlen);
}

void bench_proc_read(long pid, bool mem, struct bench_proc *p)
{
	char path[64], buf[4096], *s;
	unsigned long long ut = 0, st = 0;
	FILE *fp;
	size_t n;

	memset(p, 0, sizeof(*p));
	if (pid <= 0)
		return;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	fp = fopen(path, "r");
	if (fp == NULL)
		return;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	/* the command name may hold spaces and parentheses: fields restart after the last ')' */
	s = strrchr(buf, ')');
	if (s == NULL ||
	    sscanf(s + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return;
	p->utime_ticks = ut;
	p->stime_ticks = st;
	p->ok = true;
	if (!mem)
		return;
	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	fp = fopen(path, "r");
	if (fp == NULL)
		return;
	while (fgets(buf, sizeof(buf), fp) != NULL) {
		unsigned long long kb;

		if (sscanf(buf, "VmRSS: %llu kB", &kb) == 1)
			p->rss_kb = kb;
		else if (sscanf(buf, "VmHWM: %llu kB", &kb) == 1)
			p->hwm_kb = kb;
	}
	fclose(fp);
}

void bench_sys_read(struct bench_sys *s)
{
	unsigned long long v[8] = {0};
	FILE *fp = fopen("/proc/stat", "r");

	memset(s, 0, sizeof(*s));
	if (fp == NULL)
		return;
	/* cpu  user nice system idle iowait irq softirq steal ... */
	if (fscanf(fp, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &v[6], &v[7]) == 8) {
		s->busy = v[0] + v[1] + v[2] + v[5] + v[6];
		s->steal = v[7];
		s->ok = true;
	}
	fclose(fp);
}

/* ---- the stats op ---- */

static bool stats_decode(const uint8_t *payload, size_t len, struct bench_stats *st)
{
	struct hm_response resp;
	const uint8_t *name;
	size_t nlen;
	uint64_t v;

	if (hm_response_decode(payload, len, &resp) != HM_OK || resp.kind != HM_RESP_STATS)
		return false;
	for (uint32_t i = 0; i < resp.nstats; i++) {
		if (hm_mp_read_str(&resp.stats, &name, &nlen) != HM_OK ||
		    hm_mp_read_uint(&resp.stats, &v) != HM_OK)
			return false;
		if (st->n < BENCH_MAX_STATS && nlen < sizeof(st->name[0])) {
			memcpy(st->name[st->n], name, nlen);
			st->name[st->n][nlen] = '\0';
			st->value[st->n++] = v;
		}
	}
	return true;
}

void bench_stats_fetch(const char *socket_path, struct bench_stats *st)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct pollfd pfd = {.events = POLLIN};
	struct hm_buf req, in;
	uint32_t plen = 0;
	size_t flen = 0, sent = 0;
	ssize_t n;
	int fd = -1, rc = HM_EAGAIN;

	memset(st, 0, sizeof(*st));
	hm_buf_init(&req, 1024);
	hm_buf_init(&in, 1u << 20);
	hm_encode_simple_request(&req, 1, HM_OP_STATS);
	n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", socket_path);
	if (req.failed || n < 0 || (size_t)n >= sizeof(sa.sun_path))
		goto out;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		goto out;
	while (sent < req.len) {
		n = write(fd, req.data + sent, req.len - sent);
		if (n <= 0)
			goto out;
		sent += (size_t)n;
	}
	pfd.fd = fd;
	while (rc == HM_EAGAIN) {
		if (poll(&pfd, 1, STATS_TIMEOUT_MS) <= 0 || hm_buf_reserve(&in, 4096) != HM_OK)
			goto out;
		n = read(fd, in.data + in.len, 4096);
		if (n <= 0)
			goto out;
		in.len += (size_t)n;
		rc = hm_frame_parse(in.data, in.len, 1u << 20, &plen, &flen);
	}
	if (rc == HM_OK)
		st->ok = stats_decode(in.data + HM_FRAME_HEADER, plen, st);
out:
	if (fd >= 0)
		close(fd);
	hm_buf_free(&req);
	hm_buf_free(&in);
}

bool bench_stats_get(const struct bench_stats *st, const char *name, uint64_t *v)
{
	for (unsigned i = 0; st->ok && i < st->n; i++) {
		if (strcmp(st->name[i], name) == 0) {
			*v = st->value[i];
			return true;
		}
	}
	return false;
}
