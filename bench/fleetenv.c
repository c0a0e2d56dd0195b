/* fleetenv.c - a fleet of the bench's own: Redis, hmacctl, /proc (see fleetenv.h). */
#include "bench/fleetenv.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/spawn.h"
#include "fleet/conn.h"

#define REDIS_STOP_WAIT_MS 10000
#define REPLICA_POLL_MS 100

bool bf_fmt(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap) {
		buf[0] = '\0';
		return false;
	}
	return true;
}

const char *bf_find_binary(const char *given, const char *env, const char *name,
			   const char *installed_dir, char *buf, size_t cap)
{
	const char *e = getenv(env);
	char self[PATH_MAX], *slash;
	ssize_t n;

	if (given != NULL)
		return given;
	if (e != NULL && e[0] != '\0')
		return e;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash != NULL) {
			*slash = '\0';
			/* uninstalled, libtool runs the real binary from bench/.libs/ */
			slash = strrchr(self, '/');
			if (slash != NULL && strcmp(slash, "/.libs") == 0)
				*slash = '\0';
			if (bf_fmt(buf, cap, "%s/../daemon/%s", self, name) &&
			    access(buf, X_OK) == 0)
				return buf;
		}
	}
	(void)bf_fmt(buf, cap, "%s/%s", installed_dir, name);
	return buf;
}

int bf_run(const char *const *argv, char *out, size_t cap, char *why, size_t whycap)
{
	size_t n = 0;
	int p[2], status;
	ssize_t got;
	pid_t pid;

	out[0] = '\0';
	if (pipe(p) != 0) {
		snprintf(why, whycap, "pipe: %s", strerror(errno));
		return HM_EIO;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(why, whycap, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return HM_EIO;
	}
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		if (dup2(p[1], STDOUT_FILENO) < 0)
			_exit(126);
		close(p[0]);
		close(p[1]);
		execvp(argv[0], (char *const *)argv);
		fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		char sink[512];

		if (n + 1 < cap)
			got = read(p[0], out + n, cap - 1 - n);
		else
			got = read(p[0], sink, sizeof(sink)); /* keep the child from blocking */
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		if (n + 1 < cap)
			n += (size_t)got;
	}
	out[n] = '\0';
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			snprintf(why, whycap, "waitpid: %s", strerror(errno));
			return HM_EIO;
		}
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return HM_OK;
	if (WIFEXITED(status))
		snprintf(why, whycap, "%s exited with status %d", argv[0], WEXITSTATUS(status));
	else
		snprintf(why, whycap, "%s ended by signal %d", argv[0],
			 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return HM_EIO;
}

int bf_hmacctl(const char *hmacctl, const char *url, const char *seal_file,
	       const char *const *args, char *out, size_t cap, char *why, size_t whycap)
{
	const char *argv[24];
	unsigned n = 0;

	argv[n++] = hmacctl;
	argv[n++] = "--fleet";
	argv[n++] = url;
	argv[n++] = "--seal-key-file";
	argv[n++] = seal_file;
	for (; *args != NULL; args++) {
		if (n == sizeof(argv) / sizeof(argv[0]) - 1) {
			snprintf(why, whycap, "hmacctl: too many arguments");
			return HM_EINVAL;
		}
		argv[n++] = *args;
	}
	argv[n] = NULL;
	return bf_run(argv, out, cap, why, whycap);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) == 0 || errno == ENOENT ? 0 : -1;
	return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}

void bf_remove_tree(const char *dir)
{
	if (dir[0] == '\0')
		return;
	if (nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "could not remove %s: %s\n", dir, strerror(errno));
}

double bf_proc_cpu_s(pid_t pid)
{
	unsigned long long ut = 0, st = 0;
	char path[64], buf[1024], *p;
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f;
	size_t n;

	if (pid <= 0 || hz <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "re");
	if (f == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* the command name may hold spaces and parentheses: fields restart after the last ')' */
	p = strrchr(buf, ')');
	if (p == NULL ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)hz;
}

void bf_cpu_model(char *out, size_t cap)
{
	char line[512];
	FILE *f = fopen("/proc/cpuinfo", "re");

	(void)bf_fmt(out, cap, "unknown");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *colon = strchr(line, ':');

		if (strncmp(line, "model name", 10) == 0 && colon != NULL) {
			colon++;
			while (*colon == ' ' || *colon == '\t')
				colon++;
			colon[strcspn(colon, "\n")] = '\0';
			(void)bf_fmt(out, cap, "%s", colon);
			break;
		}
	}
	fclose(f);
}

int bf_redis_start(const struct bf_redis_opts *o, struct bf_redis *r, char *why, size_t cap)
{
	const char *argv[32];
	char port[8], master[8], spawn_why[256] = "";
	struct hm_spawn_opts so = {.argv = argv, .socket = r->sock, .stdout_to_stderr = true,
				   .cpus = o->cpus};
	unsigned n = 0;
	int rc;

	memset(r, 0, sizeof(*r));
	r->pid = -1;
	if (!bf_fmt(r->sock, sizeof(r->sock), "%s/%s.sock", o->dir, o->name) ||
	    !bf_fmt(r->url, sizeof(r->url), "unix://%s", r->sock) ||
	    !bf_fmt(r->log, sizeof(r->log), "%s/%s.log", o->dir, o->name)) {
		snprintf(why, cap, "%s/%s.sock is too long for a Unix socket", o->dir, o->name);
		return HM_EINVAL;
	}
	if (o->tcp) {
		rc = hm_spawn_free_port(&r->port, why, cap);
		if (rc != HM_OK)
			return rc;
	}
	snprintf(port, sizeof(port), "%u", (unsigned)r->port);
	snprintf(master, sizeof(master), "%u", (unsigned)o->replicaof);
	argv[n++] = o->bin;
	argv[n++] = "--port";
	argv[n++] = port;
	if (r->port != 0) {
		argv[n++] = "--bind";
		argv[n++] = "127.0.0.1";
	}
	argv[n++] = "--unixsocket";
	argv[n++] = r->sock;
	argv[n++] = "--unixsocketperm";
	argv[n++] = "700";
	argv[n++] = "--save";
	argv[n++] = "";
	argv[n++] = "--appendonly";
	argv[n++] = "no";
	if (o->replicaof != 0) {
		argv[n++] = "--replicaof";
		argv[n++] = "127.0.0.1";
		argv[n++] = master;
	}
	argv[n++] = "--dir";
	argv[n++] = o->dir;
	argv[n++] = "--logfile";
	argv[n++] = r->log;
	argv[n] = NULL;
	rc = hm_spawn_start(&so, &r->pid, spawn_why, sizeof(spawn_why));
	if (rc != HM_OK) {
		r->pid = -1;
		snprintf(why, cap, "%s: %s (see %s)", o->bin, spawn_why, r->log);
	}
	return rc;
}

int bf_redis_stop(struct bf_redis *r, char *why, size_t cap)
{
	int rc;

	if (r->pid <= 0)
		return HM_OK;
	rc = hm_spawn_stop(r->pid, REDIS_STOP_WAIT_MS, why, cap);
	r->pid = -1;
	return rc;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int bf_redis_wait_replicas(const struct bf_redis *r, unsigned n, int timeout_ms, char *why,
			   size_t cap)
{
	struct hm_fleet_url url;
	redisContext *c = NULL;
	redisReply *reply;
	char want[16];
	const char *argv[3] = {"WAIT", want, "100"};
	int rc;

	snprintf(want, sizeof(want), "%u", n);
	rc = hm_fleet_url_parse(r->url, &url, why, cap);
	if (rc != HM_OK)
		return rc;
	rc = hm_fleet_connect(&url, NULL, timeout_ms > 1000 ? timeout_ms : 1000, &c, why, cap);
	if (rc != HM_OK)
		return rc;
	rc = HM_ETIMEDOUT;
	for (int waited = 0; waited < timeout_ms; waited += REPLICA_POLL_MS) {
		reply = hm_fleet_cmd(c, 3, argv, NULL, why, cap);
		if (reply == NULL) {
			rc = HM_ECONN;
			break;
		}
		if (reply->type == REDIS_REPLY_INTEGER && reply->integer >= (long long)n) {
			freeReplyObject(reply);
			rc = HM_OK;
			break;
		}
		freeReplyObject(reply);
		sleep_ms(REPLICA_POLL_MS); /* a replica still connecting: WAIT answers at once */
	}
	if (rc == HM_ETIMEDOUT)
		snprintf(why, cap, "%u replica(s) not in sync with %s within %d ms", n, r->sock,
			 timeout_ms);
	redisFree(c);
	return rc;
}
