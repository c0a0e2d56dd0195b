/* harness.c - start/stop the real hmacd, run hmacctl, build signed requests (see harness.h). */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "bench/spawn.h"

static const char *env_or(const char *name, const char *def)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' ? v : def;
}

/* argv from a space-separated string (in place) */
static int split(char *s, char **argv, int max)
{
	int n = 0;

	for (char *tok = strtok(s, " "); tok != NULL && n < max - 1; tok = strtok(NULL, " "))
		argv[n++] = tok;
	argv[n] = NULL;
	return n;
}

static void set_sun_path(struct sockaddr_un *sa, const char *path)
{
	int n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s", path);

	assert_true(n > 0 && (size_t)n < sizeof(sa->sun_path));
}

/* Starts the daemon (under valgrind with HMACD_TEST_VALGRIND=1), as the bench does. */
static void spawn(struct hd *d)
{
	char args[1024], *argv[64], err[512];
	bool vg = strcmp(env_or("HMACD_TEST_VALGRIND", "0"), "1") == 0;
	struct hm_spawn_opts o = {
		.argv = (const char *const *)argv,
		.socket = d->sock,
		.start_wait_ms = vg ? 30000 : 5000,
		.death_signal = SIGKILL, /* a test that fails half-way leaves no daemon behind */
		.nofile = d->nofile > 0 ? (rlim_t)d->nofile : 0,
	};
	pid_t pid = -1;

	snprintf(args, sizeof(args), "%s%s --socket %s --db %s --log-level %s %s",
		 vg ? "valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite " : "",
		 env_or("HMACD", "daemon/hmacd"), d->sock, d->db,
		 env_or("HMACD_TEST_LOG_LEVEL", "warn"), d->extra);
	assert_true(split(args, argv, 64) > 0);
	if (hm_spawn_start(&o, &pid, err, sizeof(err)) != HM_OK) {
		d->pid = -1;
		fail_msg("%s", err);
	}
	d->pid = pid;
}

void hd_start_nofile(struct hd *d, const char *extra, int nofile)
{
	const char *ext_sock = getenv("HMACD_TEST_SOCKET");

	memset(d, 0, sizeof(*d));
	d->pid = -1;
	d->nofile = nofile;
	snprintf(d->extra, sizeof(d->extra), "%s", extra != NULL ? extra : "");
	if (ext_sock != NULL && ext_sock[0] != '\0') {
		d->external = true;
		snprintf(d->sock, sizeof(d->sock), "%s", ext_sock);
		snprintf(d->db, sizeof(d->db), "%s", env_or("HMACD_TEST_DB", ""));
		return;
	}
	snprintf(d->dir, sizeof(d->dir), "/tmp/hmacd-e2e-XXXXXX");
	assert_non_null(mkdtemp(d->dir));
	snprintf(d->sock, sizeof(d->sock), "%s/hmacd.sock", d->dir);
	snprintf(d->db, sizeof(d->db), "%s/db", d->dir);
	spawn(d);
}

void hd_start(struct hd *d, const char *extra)
{
	hd_start_nofile(d, extra, 0);
}


void hd_restart(struct hd *d)
{
	if (d->external)
		skip();
	spawn(d);
}

void hd_stop(struct hd *d)
{
	if (d->external || d->pid < 0)
		return;
	assert_int_equal(kill(d->pid, SIGTERM), 0);
	hd_wait_exit(d);
}

void hd_wait_exit(struct hd *d)
{
	struct stat st;
	char err[256];
	int rc;

	if (d->external || d->pid < 0)
		return;
	rc = hm_spawn_wait(d->pid, 10000, err, sizeof(err));
	d->pid = -1;
	if (rc != HM_OK)
		fail_msg("hmacd after SIGTERM: %s", err);
	assert_int_not_equal(stat(d->sock, &st), 0); /* socket file removed */
}

void hd_kill9(struct hd *d)
{
	if (d->external || d->pid < 0)
		return;
	kill(d->pid, SIGKILL);
	waitpid(d->pid, NULL, 0);
	d->pid = -1;
}

void hd_cleanup(struct hd *d)
{
	char cmd[128];

	if (d->external)
		return;
	if (d->pid > 0)
		hd_kill9(d);
	if (d->dir[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", d->dir);
	}
}

/*
 * Runs `hmacctl --db <db> <args>` for hd_ctl() and hd_ctl_in(): with feed, in[0..inlen) is
 * written to its stdin, then closed; without, it inherits ours.
 */
static int ctl_run(struct hd *d, bool feed, const void *in, size_t inlen, char *out,
		   size_t outlen, const char *args)
{
	char line[1024], *argv[64];
	int outp[2], inp[2] = { -1, -1 }, status = -1, argc;
	const uint8_t *p = in;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	snprintf(line, sizeof(line), "%s --db %s %s", env_or("HMACCTL", "daemon/hmacctl"), d->db,
		 args);
	argc = split(line, argv, 64);
	assert_true(argc > 0);
	assert_int_equal(pipe(outp), 0);
	if (feed)
		assert_int_equal(pipe(inp), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(outp[1], STDOUT_FILENO);
		close(outp[0]);
		close(outp[1]);
		if (feed) {
			dup2(inp[0], STDIN_FILENO);
			close(inp[0]);
			close(inp[1]);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	close(outp[1]);
	if (feed) {
		close(inp[0]);
		/* the input is small (a secret): it fits the pipe, so writing first is safe */
		assert_true(inlen <= 4096);
		while (inlen > 0) {
			n = write(inp[1], p, inlen);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break; /* hmacctl exited without reading: its status tells */
			p += n;
			inlen -= (size_t)n;
		}
		close(inp[1]);
	}
	for (;;) {
		char sink[256];

		if (out != NULL && got + 1 < outlen)
			n = read(outp[0], out + got, outlen - 1 - got);
		else
			n = read(outp[0], sink, sizeof(sink));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (out != NULL && got + 1 < outlen)
			got += (size_t)n;
	}
	close(outp[0]);
	if (out != NULL && outlen > 0)
		out[got] = '\0';
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

int hd_ctl(struct hd *d, char *out, size_t outlen, const char *args)
{
	return ctl_run(d, false, NULL, 0, out, outlen, args);
}

int hd_ctl_in(struct hd *d, const void *in, size_t inlen, char *out, size_t outlen,
	      const char *args)
{
	return ctl_run(d, true, in, inlen, out, outlen, args);
}

/* Copies the JSON string value of "key" out of hmacctl's one-line JSON (asserts it is there). */
static void json_str(const char *json, const char *key, char *out, size_t cap)
{
	char pat[64];
	const char *s;
	size_t n = 0;

	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	s = strstr(json, pat);
	assert_non_null(s);
	s += strlen(pat);
	while (s[n] != '"' && s[n] != '\0') {
		assert_true(n + 1 < cap);
		out[n] = s[n];
		n++;
	}
	out[n] = '\0';
}

/* Pulls "epoch":N and "secret":"b64" out of hmacctl's one-line JSON. */
static uint32_t parse_key_json(const char *json, uint8_t secret[32])
{
	const char *e = strstr(json, "\"epoch\":"), *s = strstr(json, "\"secret\":\"");
	uint8_t raw[48];
	char b64[64];
	size_t n = 0;

	assert_non_null(e);
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
	return (uint32_t)strtoul(e + strlen("\"epoch\":"), NULL, 10);
}

uint32_t hd_key_create(struct hd *d, const char *tenant, const char *container,
		       uint8_t secret[32])
{
	char args[512], out[1024];

	snprintf(args, sizeof(args), "key create --tenant %s --container %s --json", tenant,
		 container);
	assert_int_equal(hd_ctl(d, out, sizeof(out), args), 0);
	return parse_key_json(out, secret);
}

uint32_t hd_key_rotate(struct hd *d, const char *tenant, const char *container, unsigned grace,
		       uint8_t secret[32])
{
	char args[512], out[1024];

	snprintf(args, sizeof(args), "key rotate --tenant %s --container %s --grace %u --json",
		 tenant, container, grace);
	assert_int_equal(hd_ctl(d, out, sizeof(out), args), 0);
	return parse_key_json(out, secret);
}

static uint32_t key_cmd_id(struct hd *d, const char *cmd, const char *keyid,
			   char keyid_out[HD_KEYID_CAP], uint8_t secret[32])
{
	char args[768], out[1024];
	uint32_t epoch;

	snprintf(args, sizeof(args), "%s --json%s%s", cmd, keyid != NULL ? " --keyid " : "",
		 keyid != NULL ? keyid : "");
	assert_int_equal(hd_ctl(d, out, sizeof(out), args), 0);
	epoch = parse_key_json(out, secret);
	if (keyid_out != NULL)
		json_str(out, "keyid", keyid_out, HD_KEYID_CAP);
	if (keyid != NULL && keyid_out != NULL)
		assert_string_equal(keyid_out, keyid);
	return epoch;
}

uint32_t hd_key_create_id(struct hd *d, const char *tenant, const char *container,
			  const char *keyid, char keyid_out[HD_KEYID_CAP], uint8_t secret[32])
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "key create --tenant %s --container %s", tenant, container);
	return key_cmd_id(d, cmd, keyid, keyid_out, secret);
}

uint32_t hd_key_rotate_id(struct hd *d, const char *tenant, const char *container,
			  unsigned grace, const char *keyid, char keyid_out[HD_KEYID_CAP],
			  uint8_t secret[32])
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "key rotate --tenant %s --container %s --grace %u", tenant,
		 container, grace);
	return key_cmd_id(d, cmd, keyid, keyid_out, secret);
}

uint32_t hd_key_import(struct hd *d, const char *tenant, const char *container,
		       const char *keyid, const uint8_t *secret, size_t len, unsigned grace)
{
	char args[768], out[1024], got[HD_KEYID_CAP];
	const char *e;

	snprintf(args, sizeof(args),
		 "key import --tenant %s --container %s --secret-file - --keyid %s --grace %u "
		 "--json",
		 tenant, container, keyid, grace);
	assert_int_equal(hd_ctl_in(d, secret, len, out, sizeof(out), args), 0);
	assert_null(strstr(out, "\"secret\"")); /* import never prints the secret */
	json_str(out, "keyid", got, sizeof(got));
	assert_string_equal(got, keyid);
	e = strstr(out, "\"epoch\":");
	assert_non_null(e);
	return (uint32_t)strtoul(e + strlen("\"epoch\":"), NULL, 10);
}

struct hmacd_client *hd_client(struct hd *d)
{
	struct hmacd_options o = {.timeout_ms = 10000};
	struct hmacd_client *c = NULL;

	assert_int_equal(hmacd_connect(d->sock, &o, &c), HMACD_OK);
	assert_non_null(c);
	return c;
}

void hd_req_sign(struct hd_req *r, const uint8_t secret[32])
{
	assert_int_equal(hmacd_sign(secret, 32, &r->item), HMACD_OK);
}

void hd_req_init(struct hd_req *r, const char *tenant, const char *container, uint32_t epoch,
		 uint64_t ts, const char *nonce, const uint8_t secret[32])
{
	struct hmacd_item *it = &r->item;

	memset(r, 0, sizeof(*r));
	snprintf(r->tenant, sizeof(r->tenant), "%s", tenant);
	snprintf(r->container, sizeof(r->container), "%s", container);
	snprintf(r->path, sizeof(r->path), "/containers/%s/exec", container);
	snprintf(r->nonce, sizeof(r->nonce), "%s", nonce != NULL ? nonce : "");
	for (size_t i = 0; i < sizeof(r->body); i++)
		r->body[i] = (uint8_t)('a' + i % 26);
	r->headers[0] = (struct hmacd_header){"content-type", 12, "application/json", 16};
	r->headers[1] = (struct hmacd_header){"x-request-id", 12, "req-1", 5};
	it->tenant = r->tenant;
	it->tenant_len = strlen(r->tenant);
	it->container = r->container;
	it->container_len = strlen(r->container);
	it->epoch = epoch;
	it->method = "POST";
	it->method_len = 4;
	it->path = r->path;
	it->path_len = strlen(r->path);
	it->ts = ts;
	it->nonce = r->nonce;
	it->nonce_len = strlen(r->nonce);
	it->headers = r->headers;
	it->nheaders = 2;
	it->body = r->body;
	it->body_len = sizeof(r->body);
	if (secret != NULL)
		hd_req_sign(r, secret);
}

int hd_raw_connect(struct hd *d)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	set_sun_path(&sa, d->sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

bool hd_raw_send(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n > 0) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		b += w;
		n -= (size_t)w;
	}
	return true;
}

/* reads exactly n bytes: 1 ok, -1 eof/error, -2 timeout */
static int read_exact(int fd, uint8_t *p, size_t n, int timeout_ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	while (n > 0) {
		int rc = poll(&pfd, 1, timeout_ms);
		ssize_t r;

		if (rc == 0)
			return -2;
		if (rc < 0 && errno == EINTR)
			continue;
		r = recv(fd, p, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 1;
}

long hd_raw_recv(int fd, uint8_t *buf, size_t cap, int timeout_ms)
{
	uint8_t hdr[4];
	uint32_t len;
	int rc;

	rc = read_exact(fd, hdr, 4, timeout_ms);
	if (rc != 1)
		return rc;
	len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
	assert_true(len <= cap);
	rc = read_exact(fd, buf, len, timeout_ms);
	if (rc != 1)
		return rc;
	return (long)len;
}
