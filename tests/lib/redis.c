/* redis.c - a real redis-server for the fleet tests (see redis.h). */
#include "tests/lib/redis.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/spawn.h"

#define READY_WAIT_MS 10000
#define READY_TIMEOUT_MS 1000 /* each PING's */

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

bool tl_redis_available(void)
{
	const char *path = getenv("PATH");
	char dir[4096], file[4200];
	size_t len;

	if (path == NULL)
		return false;
	while (*path != '\0') {
		len = strcspn(path, ":");
		if (len > 0 && len < sizeof(dir)) {
			memcpy(dir, path, len);
			dir[len] = '\0';
			snprintf(file, sizeof(file), "%s/redis-server", dir);
			if (access(file, X_OK) == 0)
				return true;
		}
		path += len;
		if (*path == ':')
			path++;
	}
	return false;
}

/* A TCP port on 127.0.0.1 that nothing listens on now (the kernel's pick for port 0). */
static int free_port(uint16_t *port, char *err, size_t cap)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd, rc = HM_EIO;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, cap, "socket: %s", strerror(errno));
		return HM_EIO;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		snprintf(err, cap, "bind 127.0.0.1:0: %s", strerror(errno));
	else if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
		snprintf(err, cap, "getsockname: %s", strerror(errno));
	else
		rc = HM_OK;
	*port = ntohs(sa.sin_port);
	close(fd);
	return rc;
}

/*
 * DIR/redis.conf, mode 0600: `requirepass "<password>"` with every byte as \xHH, which
 * Redis's config parser reads back whatever the password holds (quotes, spaces, '#').
 */
static int write_conf(const struct tl_redis *r, char *err, size_t cap)
{
	char line[sizeof("requirepass \"\"\n") + 4 * HM_FLEET_PASSWORD_MAX];
	size_t n = 0, len = strlen(r->password);
	int fd, rc = HM_EIO;

	n += (size_t)snprintf(line, sizeof(line), "requirepass \"");
	for (size_t i = 0; i < len; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "\\x%02x",
				      (unsigned char)r->password[i]);
	n += (size_t)snprintf(line + n, sizeof(line) - n, "\"\n");
	fd = open(r->conf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(err, cap, "%s: %s", r->conf, strerror(errno));
		return HM_EIO;
	}
	if (fchmod(fd, 0600) != 0)
		snprintf(err, cap, "fchmod %s: %s", r->conf, strerror(errno));
	else if (write(fd, line, n) != (ssize_t)n)
		snprintf(err, cap, "write %s: failed", r->conf);
	else
		rc = HM_OK;
	if (close(fd) != 0 && rc == HM_OK) {
		snprintf(err, cap, "close %s: %s", r->conf, strerror(errno));
		rc = HM_EIO;
	}
	return rc;
}

/* "; DIR/redis.log: <its last line>" in out, or "": why a server did not start. */
static void log_tail(const struct tl_redis *r, char *out, size_t cap)
{
	char path[sizeof(r->dir) + 16], buf[512], *line;
	size_t n = 0;
	FILE *fp;

	out[0] = '\0';
	snprintf(path, sizeof(path), "%s/redis.log", r->dir);
	fp = fopen(path, "re");
	if (fp == NULL)
		return;
	n = (size_t)snprintf(out, cap, "; %s: ", path);
	if (n >= cap)
		n = cap - 1;
	out += n;
	cap -= n;
	if (fseek(fp, -(long)(sizeof(buf) - 1), SEEK_END) != 0)
		rewind(fp);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	while (n > 0 && buf[n - 1] == '\n')
		n--;
	buf[n] = '\0';
	line = strrchr(buf, '\n');
	line = line != NULL ? line + 1 : buf;
	n = strlen(line);
	if (n >= cap)
		n = cap - 1;
	memcpy(out, line, n);
	out[n] = '\0';
}

/* Runs redis-server as r says and waits until it answers PING. */
static int launch(struct tl_redis *r, char *err, size_t cap)
{
	const char *argv[32];
	char port[8], why[256] = "", logfile[sizeof(r->dir) + 16], tail[384];
	struct hm_spawn_opts o = {.argv = argv, .socket = r->sock, .stdout_to_stderr = true};
	redisContext *c = NULL;
	int n = 0, rc;

	snprintf(port, sizeof(port), "%u", (unsigned)r->port);
	argv[n++] = "redis-server";
	if (r->conf[0] != '\0')
		argv[n++] = r->conf; /* first, as redis-server wants its configuration file */
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
	argv[n++] = r->persist ? "yes" : "no";
	if (r->persist) {
		argv[n++] = "--appendfsync";
		argv[n++] = "always";
	}
	argv[n++] = "--dir";
	argv[n++] = r->dir;
	/* its warnings (memory overcommit, ...) at every start would bury the test's output */
	snprintf(logfile, sizeof(logfile), "%s/redis.log", r->dir);
	argv[n++] = "--logfile";
	argv[n++] = logfile;
	argv[n] = NULL;

	rc = hm_spawn_start(&o, &r->pid, why, sizeof(why));
	if (rc != HM_OK) {
		r->pid = -1;
		log_tail(r, tail, sizeof(tail));
		snprintf(err, cap, "%s%s", why, tail);
		return rc;
	}
	/* the socket accepts before the data is loaded; PING is refused (LOADING) until it is */
	for (int waited = 0; waited < READY_WAIT_MS; waited += 20) {
		rc = hm_fleet_connect(&r->unix_url, r->password[0] != '\0' ? r->password : NULL,
				      READY_TIMEOUT_MS, &c, why, sizeof(why));
		if (rc == HM_OK) {
			redisFree(c);
			return HM_OK;
		}
		sleep_ms(20);
	}
	tl_redis_kill(r);
	log_tail(r, tail, sizeof(tail));
	snprintf(err, cap, "redis-server did not answer PING within %d ms: %s%s", READY_WAIT_MS,
		 why, tail);
	return HM_ETIMEDOUT;
}

int tl_redis_start_opts(struct tl_redis *r, const char *dir, const struct tl_redis_opts *o,
			char *err, size_t cap)
{
	const struct tl_redis_opts none = {0};
	char url[200];
	int rc, len;

	memset(r, 0, sizeof(*r));
	r->pid = -1;
	if (o == NULL)
		o = &none;
	len = snprintf(r->dir, sizeof(r->dir), "%s", dir);
	if (len < 0 || (size_t)len >= sizeof(r->dir)) {
		snprintf(err, cap, "directory name too long");
		return HM_EINVAL;
	}
	snprintf(r->sock, sizeof(r->sock), "%s/redis.sock", r->dir);
	if (o->password != NULL) {
		len = snprintf(r->password, sizeof(r->password), "%s", o->password);
		if (len <= 0 || (size_t)len >= sizeof(r->password)) {
			snprintf(err, cap, "the password must be 1..%d bytes", HM_FLEET_PASSWORD_MAX);
			return HM_EINVAL;
		}
		snprintf(r->conf, sizeof(r->conf), "%s/redis.conf", r->dir);
		rc = write_conf(r, err, cap);
		if (rc != HM_OK)
			return rc;
	}
	r->persist = o->persist;
	snprintf(url, sizeof(url), "unix://%s", r->sock);
	rc = hm_fleet_url_parse(url, &r->unix_url, err, cap);
	if (rc != HM_OK)
		return rc;
	if (o->tcp) {
		rc = free_port(&r->port, err, cap);
		if (rc != HM_OK)
			return rc;
		snprintf(url, sizeof(url), "redis://127.0.0.1:%u", (unsigned)r->port);
		rc = hm_fleet_url_parse(url, &r->tcp_url, err, cap);
		if (rc != HM_OK)
			return rc;
	}
	return launch(r, err, cap);
}

int tl_redis_start(struct tl_redis *r, const char *dir, bool persist, char *err, size_t cap)
{
	const struct tl_redis_opts o = {.persist = persist};

	return tl_redis_start_opts(r, dir, &o, err, cap);
}

int tl_redis_stop(struct tl_redis *r, char *err, size_t cap)
{
	int rc;

	if (r->pid < 0)
		return HM_OK;
	rc = hm_spawn_stop(r->pid, 0, err, cap);
	r->pid = -1;
	return rc;
}

void tl_redis_kill(struct tl_redis *r)
{
	int status;

	if (r->pid < 0)
		return;
	if (kill(r->pid, SIGKILL) == 0)
		waitpid(r->pid, &status, 0);
	r->pid = -1;
}

int tl_redis_restart(struct tl_redis *r, char *err, size_t cap)
{
	int rc;

	rc = tl_redis_stop(r, err, cap);
	if (rc != HM_OK)
		return rc;
	return launch(r, err, cap);
}
