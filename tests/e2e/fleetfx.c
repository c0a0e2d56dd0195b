/* fleetfx.c - the fleet end-to-end tests' fixture (see fleetfx.h). */
#include "fleetfx.h"

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "fleet/conn.h"

int64_t ff_mono_ms(void)
{
	struct timespec ts;

	assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ff_nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

const char *ff_env_or(const char *name, const char *def)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' ? v : def;
}

bool ff_valgrind(void)
{
	return strcmp(ff_env_or("HMACD_TEST_VALGRIND", "0"), "1") == 0;
}

int64_t ff_deadline(const struct ff *f, int deadline_ms)
{
	return ff_mono_ms() + (int64_t)deadline_ms * f->scale;
}

void ff_wait_or_fail(int64_t deadline, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (ff_mono_ms() <= deadline) {
		ff_nap_ms(2);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fail_msg("%s", msg);
}

int ff_skip_reason(const char *prog)
{
	if (!tl_redis_available()) {
		fprintf(stderr, "%s: redis-server is not on PATH (Debian: apt-get install "
				"redis-server): SKIPPED\n", prog);
		return 77;
	}
	if (getenv("HMACD_TEST_SOCKET") != NULL && getenv("HMACD_TEST_SOCKET")[0] != '\0') {
		fprintf(stderr, "%s: starts its own Redis and daemons, not run against "
				"HMACD_TEST_SOCKET: SKIPPED\n", prog);
		return 77;
	}
	return 0;
}

/* ---- running hmacctl and hmacd with their output captured ---- */

void ff_run_argv(char *const argv[], const void *in, size_t inlen, int wait_ms,
		 struct ff_run *res)
{
	int inp[2], outp[2], errp[2], status = 0;
	size_t got[2] = {0, 0}, cap[2] = {sizeof(res->out) - 1, sizeof(res->err) - 1};
	char *buf[2] = {res->out, res->err};
	int64_t deadline = ff_mono_ms() + wait_ms;
	struct pollfd pfd[2];
	const uint8_t *p = in;
	int open_fds = 2;
	pid_t pid;

	assert_int_equal(pipe(inp), 0);
	assert_int_equal(pipe(outp), 0);
	assert_int_equal(pipe(errp), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(inp[0], STDIN_FILENO);
		dup2(outp[1], STDOUT_FILENO);
		dup2(errp[1], STDERR_FILENO);
		close(inp[0]);
		close(inp[1]);
		close(outp[0]);
		close(outp[1]);
		close(errp[0]);
		close(errp[1]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(inp[0]);
	close(outp[1]);
	close(errp[1]);
	/* the input is a secret of a few bytes: it fits the pipe, so writing first is safe */
	assert_true(inlen <= 4096);
	while (inlen > 0) {
		ssize_t n = write(inp[1], p, inlen);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* it exited without reading: its status tells */
		p += n;
		inlen -= (size_t)n;
	}
	close(inp[1]);
	pfd[0] = (struct pollfd){.fd = outp[0], .events = POLLIN};
	pfd[1] = (struct pollfd){.fd = errp[0], .events = POLLIN};
	while (open_fds > 0) {
		int64_t left = deadline - ff_mono_ms();
		int n;

		if (left <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			fail_msg("%s did not end within %d ms", argv[0], wait_ms);
		}
		n = poll(pfd, 2, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		assert_true(n >= 0);
		for (int i = 0; i < 2; i++) {
			char sink[512];
			ssize_t r;

			if (pfd[i].fd < 0 || pfd[i].revents == 0)
				continue;
			if (got[i] < cap[i])
				r = read(pfd[i].fd, buf[i] + got[i], cap[i] - got[i]);
			else
				r = read(pfd[i].fd, sink, sizeof(sink));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
				open_fds--;
			} else if (got[i] < cap[i]) {
				got[i] += (size_t)r;
			}
		}
	}
	res->out[got[0]] = '\0';
	res->err[got[1]] = '\0';
	assert_int_equal(waitpid(pid, &status, 0), pid);
	res->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void ff_split(char *s, char **argv, int max)
{
	int n = 0;

	for (char *tok = strtok(s, " "); tok != NULL; tok = strtok(NULL, " ")) {
		assert_true(n < max - 1);
		argv[n++] = tok;
	}
	argv[n] = NULL;
}

int ff_ctl_in(struct ff *f, struct ff_run *res, const void *in, size_t inlen, const char *fmt,
	      ...)
{
	char line[2048], *argv[64];
	va_list ap;
	int n;

	n = snprintf(line, sizeof(line), "%s ", ff_env_or("HMACCTL", "daemon/hmacctl"));
	assert_true(n > 0 && (size_t)n < sizeof(line));
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	assert_true((size_t)n < sizeof(line));
	ff_split(line, argv, 64);
	ff_run_argv(argv, in, inlen, 30000 * f->scale, res);
	return res->status;
}

void ff_json_secret(const char *json, uint8_t secret[32])
{
	const char *s = strstr(json, "\"secret\":\"");
	uint8_t raw[48];
	char b64[64];
	size_t n = 0;

	assert_non_null(s);
	s += strlen("\"secret\":\"");
	while (s[n] != '"' && s[n] != '\0' && n < sizeof(b64) - 1) {
		b64[n] = s[n];
		n++;
	}
	b64[n] = '\0';
	assert_int_equal(n, 44);
	assert_int_equal(EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)n), 33);
	memcpy(secret, raw, 32);
	OPENSSL_cleanse(raw, sizeof(raw));
}

uint32_t ff_json_epoch(const char *json)
{
	const char *e = strstr(json, "\"epoch\":");

	assert_non_null(e);
	return (uint32_t)strtoul(e + strlen("\"epoch\":"), NULL, 10);
}

/* ---- Redis, directly ---- */

redisContext *ff_rconnect(const struct tl_redis *r)
{
	redisContext *c = NULL;
	char err[256];

	if (hm_fleet_connect(&r->unix_url, r->password[0] != '\0' ? r->password : NULL, 5000, &c,
			     err, sizeof(err)) != HM_OK)
		fail_msg("connecting to the test's redis: %s", err);
	return c;
}

redisReply *ff_rcmd(redisContext *c, const char *fmt, ...)
{
	redisReply *r;
	va_list ap;

	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	if (r == NULL)
		fail_msg("redis: %s", c->errstr);
	if (r->type == REDIS_REPLY_ERROR)
		fail_msg("redis: %s", r->str);
	return r;
}

/* ---- stats ---- */

struct stat_want {
	const char *const *names;
	uint64_t *values;
	bool *seen;
	size_t n;
};

static void stat_row(const char *name, uint64_t value, void *arg)
{
	struct stat_want *w = arg;

	for (size_t i = 0; i < w->n; i++)
		if (strcmp(name, w->names[i]) == 0) {
			w->values[i] = value;
			w->seen[i] = true;
		}
}

void ff_stats(struct ff_host *h, const char *const *names, uint64_t *values, size_t n)
{
	bool seen[64] = {false};
	struct stat_want w = {.names = names, .values = values, .seen = seen, .n = n};

	assert_true(n <= sizeof(seen) / sizeof(seen[0]));
	assert_int_equal(hmacd_stats(h->c, stat_row, &w), HMACD_OK);
	for (size_t i = 0; i < n; i++)
		if (!seen[i])
			fail_msg("hmacd on %s has no stats row %s", h->d.sock, names[i]);
}

uint64_t ff_stat(struct ff_host *h, const char *name)
{
	uint64_t v = 0;

	ff_stats(h, &name, &v, 1);
	return v;
}

bool ff_has_stat(struct ff_host *h, const char *name)
{
	bool seen = false;
	uint64_t v = 0;
	struct stat_want w = {.names = &name, .values = &v, .seen = &seen, .n = 1};

	assert_int_equal(hmacd_stats(h->c, stat_row, &w), HMACD_OK);
	return seen;
}

/* ---- the fixture ---- */

void ff_host_connect(struct ff_host *h)
{
	h->c = hd_client(&h->d);
}

void ff_host_disconnect(struct ff_host *h)
{
	hmacd_close(h->c);
	h->c = NULL;
}

void ff_host_start(struct ff *f, int i, const char *extra)
{
	char args[512];
	int n;

	assert_true(i >= 0 && i < FF_MAX_HOSTS);
	n = snprintf(args, sizeof(args), "--fleet %s --seal-key-file %s %s", f->url, f->seal,
		     extra);
	assert_true(n > 0 && (size_t)n < sizeof(args));
	hd_start(&f->h[i].d, args);
	ff_host_connect(&f->h[i]);
}

void ff_host_stop(struct ff *f, int i)
{
	struct ff_host *h = &f->h[i];

	ff_host_disconnect(h);
	hd_stop(&h->d); /* under valgrind: its errors and leaks fail here */
	hd_cleanup(&h->d);
	memset(&h->d, 0, sizeof(h->d));
	h->d.pid = -1;
}

void ff_gen_seal_key(struct ff *f, const char *path)
{
	struct ff_run res;

	if (ff_ctl(f, &res, "seal-key generate --out %s", path) != 0)
		fail_msg("seal-key generate: %s", res.err);
}

void ff_setup(struct ff *f, bool persist)
{
	uint8_t key[HM_SEAL_KEY_LEN];
	struct ff_run res;
	char err[512];

	memset(f, 0, sizeof(*f));
	for (int i = 0; i < FF_MAX_HOSTS; i++)
		f->h[i].d.pid = -1;
	f->r.pid = -1;
	f->scale = ff_valgrind() ? 10 : 1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/hmacd-fleet-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->rdir, sizeof(f->rdir), "%s/redis", f->dir);
	assert_int_equal(mkdir(f->rdir, 0700), 0);
	if (tl_redis_start(&f->r, f->rdir, persist, err, sizeof(err)) != HM_OK)
		fail_msg("redis-server: %s", err);
	snprintf(f->url, sizeof(f->url), "unix://%s", f->r.sock);
	snprintf(f->seal, sizeof(f->seal), "%s/seal.key", f->dir);
	ff_gen_seal_key(f, f->seal);
	if (hm_seal_key_load(f->seal, key, err, sizeof(err)) != HM_OK)
		fail_msg("%s: %s", f->seal, err);
	assert_int_equal(hm_seal_init(&f->s, key), HM_OK);
	OPENSSL_cleanse(key, sizeof(key));
	f->s_init = true;
	snprintf(f->fleet_args, sizeof(f->fleet_args), "--fleet %s --seal-key-file %s", f->url,
		 f->seal);
	ff_fctl_ok(f, &res, "%s", "init");
}

void ff_teardown(struct ff *f)
{
	char cmd[128];

	for (int i = 0; i < FF_MAX_HOSTS; i++) {
		if (f->h[i].c != NULL)
			ff_host_disconnect(&f->h[i]);
		if (f->h[i].d.dir[0] == '\0')
			continue;
		hd_stop(&f->h[i].d);
		hd_cleanup(&f->h[i].d);
	}
	if (f->r.pid > 0)
		kill(f->r.pid, SIGCONT); /* a test that failed with it stopped */
	tl_redis_kill(&f->r);
	if (f->s_init)
		hm_seal_wipe(&f->s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (f->dir[0] != '\0' && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", f->dir);
}
