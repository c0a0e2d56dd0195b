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

#include <openssl/crypto.h>

#include "bench/spawn.h"

#define READY_WAIT_MS 10000
#define READY_TIMEOUT_MS 1000 /* each PING's */

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* True if an executable file named name is in a directory of PATH. */
static bool on_path(const char *name)
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
			snprintf(file, sizeof(file), "%s/%s", dir, name);
			if (access(file, X_OK) == 0)
				return true;
		}
		path += len;
		if (*path == ':')
			path++;
	}
	return false;
}

bool tl_redis_available(void)
{
	return on_path("redis-server");
}

/*
 * Appends `<directive> "<secret>"` and a newline to buf (of cap, *n used), every byte of the
 * secret as \xHH, which Redis's config parser reads back whatever the password holds (quotes,
 * spaces, '#').
 */
static void put_secret(char *buf, size_t cap, size_t *n, const char *directive, const char *pw)
{
	size_t len = strlen(pw);

	*n += (size_t)snprintf(buf + *n, cap - *n, "%s \"", directive);
	for (size_t i = 0; i < len && *n < cap; i++)
		*n += (size_t)snprintf(buf + *n, cap - *n, "\\x%02x", (unsigned char)pw[i]);
	if (*n < cap)
		*n += (size_t)snprintf(buf + *n, cap - *n, "\"\n");
}

/* path (mode 0600, created or truncated) holds text[0..n). */
static int write_file_0600(const char *path, const char *text, size_t n, char *err, size_t cap)
{
	int fd, rc = HM_EIO;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(err, cap, "%s: %s", path, strerror(errno));
		return HM_EIO;
	}
	if (fchmod(fd, 0600) != 0)
		snprintf(err, cap, "fchmod %s: %s", path, strerror(errno));
	else if (write(fd, text, n) != (ssize_t)n)
		snprintf(err, cap, "write %s: failed", path);
	else
		rc = HM_OK;
	if (close(fd) != 0 && rc == HM_OK) {
		snprintf(err, cap, "close %s: %s", path, strerror(errno));
		rc = HM_EIO;
	}
	return rc;
}

/*
 * DIR/redis.conf, mode 0600: requirepass, and masterauth (the same password): a replica needs
 * it, and so does a master that a failover turns into one.
 */
static int write_conf(const struct tl_redis *r, char *err, size_t cap)
{
	char text[2 * (sizeof("masterauth \"\"\n") + 4 * HM_FLEET_PASSWORD_MAX)];
	size_t n = 0;
	int rc;

	put_secret(text, sizeof(text), &n, "requirepass", r->password);
	put_secret(text, sizeof(text), &n, "masterauth", r->password);
	if (n >= sizeof(text)) {
		snprintf(err, cap, "%s: too long", r->conf);
		return HM_EINVAL;
	}
	rc = write_file_0600(r->conf, text, n, err, cap);
	OPENSSL_cleanse(text, sizeof(text));
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
	char port[8], mport[8], why[256] = "", logfile[sizeof(r->dir) + 16], tail[384];
	struct hm_spawn_opts o = {.argv = argv, .socket = r->sock, .stdout_to_stderr = true};
	redisContext *c = NULL;
	int n = 0, rc;

	snprintf(port, sizeof(port), "%u", (unsigned)r->port);
	snprintf(mport, sizeof(mport), "%u", (unsigned)r->master_port);
	argv[n++] = "redis-server";
	if (r->conf[0] != '\0')
		argv[n++] = r->conf; /* first, as redis-server wants its configuration file */
	argv[n++] = "--port";
	argv[n++] = port;
	if (r->port != 0) {
		argv[n++] = "--bind";
		argv[n++] = "127.0.0.1";
	}
	if (r->master_port != 0) {
		argv[n++] = "--replicaof";
		argv[n++] = "127.0.0.1";
		argv[n++] = mport;
	}
	if (r->never_promote) {
		argv[n++] = "--replica-priority";
		argv[n++] = "0";
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
	if (o->replica_of != NULL) {
		if (o->replica_of->port == 0) {
			snprintf(err, cap, "a replica's master must listen on TCP");
			return HM_EINVAL;
		}
		r->master_port = o->replica_of->port;
	}
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
	if (o->tcp || o->replica_of != NULL) {
		rc = hm_spawn_free_port(&r->port, err, cap);
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

void tl_redis_pause(struct tl_redis *r)
{
	char path[64], buf[512], *p;

	if (r->pid < 0 || kill(r->pid, SIGSTOP) != 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)r->pid);
	for (int waited = 0; waited < 2000; waited += 5) {
		FILE *fp = fopen(path, "re");
		size_t n;

		if (fp == NULL)
			return; /* no /proc: nothing to wait on */
		n = fread(buf, 1, sizeof(buf) - 1, fp);
		fclose(fp);
		buf[n] = '\0';
		p = strrchr(buf, ')'); /* "pid (comm) STATE ..." */
		if (p != NULL && p[1] == ' ' && (p[2] == 'T' || p[2] == 't'))
			return;
		sleep_ms(5);
	}
}

void tl_redis_resume(struct tl_redis *r)
{
	if (r->pid >= 0)
		(void)kill(r->pid, SIGCONT);
}

int tl_redis_restart(struct tl_redis *r, char *err, size_t cap)
{
	int rc;

	rc = tl_redis_stop(r, err, cap);
	if (rc != HM_OK)
		return rc;
	return launch(r, err, cap);
}

/* ---- Sentinel ---- */

bool tl_sentinel_available(void)
{
	return on_path("redis-sentinel");
}

/* DIR/sentinel.conf, mode 0600: the sentinel's whole configuration, passwords included. */
static int write_sentinel_conf(const struct tl_sentinel *s, const struct tl_sentinel_opts *o,
			       char *err, size_t cap)
{
	char text[8192], directive[128];
	size_t n = 0;
	int rc;

	n += (size_t)snprintf(text + n, sizeof(text) - n,
			      "port %u\nbind 127.0.0.1\nunixsocket %s\nunixsocketperm 700\n"
			      "daemonize no\ndir %s\nlogfile %s/sentinel.log\n"
			      "sentinel monitor %s 127.0.0.1 %u %u\n"
			      "sentinel down-after-milliseconds %s %u\n"
			      "sentinel failover-timeout %s %u\n"
			      "sentinel parallel-syncs %s 1\n",
			      (unsigned)s->port, s->sock, s->dir, s->dir, o->name,
			      (unsigned)o->master->port, o->quorum != 0 ? o->quorum : 2u, o->name,
			      o->down_after_ms != 0 ? o->down_after_ms : 1000u, o->name,
			      o->failover_timeout_ms != 0 ? o->failover_timeout_ms : 2000u, o->name);
	if (o->master->password[0] != '\0') {
		snprintf(directive, sizeof(directive), "sentinel auth-pass %s", o->name);
		put_secret(text, sizeof(text), &n, directive, o->master->password);
	}
	if (s->password[0] != '\0') {
		put_secret(text, sizeof(text), &n, "requirepass", s->password);
		put_secret(text, sizeof(text), &n, "sentinel sentinel-pass", s->password);
	}
	if (n >= sizeof(text)) {
		snprintf(err, cap, "%s: too long", s->conf);
		OPENSSL_cleanse(text, sizeof(text));
		return HM_EINVAL;
	}
	rc = write_file_0600(s->conf, text, n, err, cap);
	OPENSSL_cleanse(text, sizeof(text));
	return rc;
}

int tl_sentinel_connect(const struct tl_sentinel *s, redisContext **out, char *err, size_t cap)
{
	return hm_fleet_connect(&s->url, s->password[0] != '\0' ? s->password : NULL,
				READY_TIMEOUT_MS, out, err, cap);
}

int tl_sentinel_start(struct tl_sentinel *s, const char *dir, const struct tl_sentinel_opts *o,
		      char *err, size_t cap)
{
	const char *argv[4];
	struct hm_spawn_opts so = {.argv = argv, .stdout_to_stderr = true};
	char url[64], why[256] = "", tail[384];
	redisContext *c = NULL;
	int rc, len;

	memset(s, 0, sizeof(*s));
	s->pid = -1;
	len = snprintf(s->dir, sizeof(s->dir), "%s", dir);
	if (len < 0 || (size_t)len >= sizeof(s->dir)) {
		snprintf(err, cap, "directory name too long");
		return HM_EINVAL;
	}
	if (o->master == NULL || o->master->port == 0 || o->name == NULL) {
		snprintf(err, cap, "a sentinel monitors a named master on TCP");
		return HM_EINVAL;
	}
	snprintf(s->sock, sizeof(s->sock), "%s/sent.sock", s->dir);
	snprintf(s->conf, sizeof(s->conf), "%s/sentinel.conf", s->dir);
	if (o->password != NULL) {
		len = snprintf(s->password, sizeof(s->password), "%s", o->password);
		if (len <= 0 || (size_t)len >= sizeof(s->password)) {
			snprintf(err, cap, "the password must be 1..%d bytes", HM_FLEET_PASSWORD_MAX);
			return HM_EINVAL;
		}
	}
	rc = hm_spawn_free_port(&s->port, err, cap);
	if (rc != HM_OK)
		return rc;
	snprintf(url, sizeof(url), "redis://127.0.0.1:%u", (unsigned)s->port);
	rc = hm_fleet_url_parse(url, &s->url, err, cap);
	if (rc != HM_OK)
		return rc;
	rc = write_sentinel_conf(s, o, err, cap);
	if (rc != HM_OK)
		return rc;
	argv[0] = "redis-sentinel";
	argv[1] = s->conf;
	argv[2] = NULL;
	so.socket = s->sock;
	rc = hm_spawn_start(&so, &s->pid, why, sizeof(why));
	if (rc != HM_OK) {
		s->pid = -1;
		snprintf(err, cap, "redis-sentinel: %s", why);
		return rc;
	}
	for (int waited = 0; waited < READY_WAIT_MS; waited += 20) {
		rc = tl_sentinel_connect(s, &c, why, sizeof(why));
		if (rc == HM_OK) {
			redisFree(c);
			return HM_OK;
		}
		sleep_ms(20);
	}
	tl_sentinel_kill(s);
	snprintf(tail, sizeof(tail), "%s/sentinel.log", s->dir);
	snprintf(err, cap, "redis-sentinel did not answer PING within %d ms: %s (see %s)",
		 READY_WAIT_MS, why, tail);
	return HM_ETIMEDOUT;
}

void tl_sentinel_kill(struct tl_sentinel *s)
{
	int status;

	if (s->pid < 0)
		return;
	if (kill(s->pid, SIGKILL) == 0)
		waitpid(s->pid, &status, 0);
	s->pid = -1;
}

int tl_sentinel_master_port(const struct tl_sentinel *s, const char *name, uint16_t *port,
			    char *err, size_t cap)
{
	redisContext *c = NULL;
	redisReply *r;
	int rc;

	*port = 0;
	rc = tl_sentinel_connect(s, &c, err, cap);
	if (rc != HM_OK)
		return rc;
	r = redisCommand(c, "SENTINEL get-master-addr-by-name %s", name);
	if (r == NULL) {
		snprintf(err, cap, "sentinel: %s", c->errstr);
		rc = HM_ECONN;
	} else if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
		   r->element[1]->type == REDIS_REPLY_STRING) {
		*port = (uint16_t)strtoul(r->element[1]->str, NULL, 10);
		rc = HM_OK;
	} else {
		snprintf(err, cap, "sentinel: no master named %s", name);
		rc = HM_ENOTFOUND;
	}
	freeReplyObject(r);
	redisFree(c);
	return rc;
}

/* In a SENTINEL REPLICAS / SENTINELS entry (a flat array of names and values): name's value. */
static const char *field(const redisReply *e, const char *name)
{
	if (e->type != REDIS_REPLY_ARRAY)
		return "";
	for (size_t i = 0; i + 1 < e->elements; i += 2)
		if (e->element[i]->type == REDIS_REPLY_STRING &&
		    e->element[i + 1]->type == REDIS_REPLY_STRING &&
		    strcmp(e->element[i]->str, name) == 0)
			return e->element[i + 1]->str;
	return "";
}

int tl_sentinel_wait_known(const struct tl_sentinel *s, const char *name, unsigned replicas,
			   unsigned sentinels, int wait_ms, char *err, size_t cap)
{
	unsigned ok_replicas = 0, known_sentinels = 0;
	redisContext *c = NULL;
	int rc;

	for (int waited = 0; waited <= wait_ms; waited += 50) {
		redisReply *r;

		if (c == NULL) {
			rc = tl_sentinel_connect(s, &c, err, cap);
			if (rc != HM_OK) {
				c = NULL;
				sleep_ms(50);
				continue;
			}
		}
		ok_replicas = known_sentinels = 0;
		r = redisCommand(c, "SENTINEL REPLICAS %s", name);
		if (r != NULL && r->type == REDIS_REPLY_ARRAY)
			for (size_t i = 0; i < r->elements; i++)
				if (strcmp(field(r->element[i], "master-link-status"), "ok") == 0 &&
				    strstr(field(r->element[i], "flags"), "down") == NULL)
					ok_replicas++;
		freeReplyObject(r);
		r = redisCommand(c, "SENTINEL SENTINELS %s", name);
		if (r != NULL && r->type == REDIS_REPLY_ARRAY)
			for (size_t i = 0; i < r->elements; i++)
				if (strstr(field(r->element[i], "flags"), "down") == NULL)
					known_sentinels++;
		freeReplyObject(r);
		if (c->err != 0) {
			redisFree(c);
			c = NULL;
		}
		if (ok_replicas >= replicas && known_sentinels >= sentinels) {
			redisFree(c);
			return HM_OK;
		}
		sleep_ms(50);
	}
	redisFree(c);
	snprintf(err, cap, "sentinel %u: knows %u replica(s) in sync and %u other sentinel(s) after "
		 "%d ms; want %u and %u", (unsigned)s->port, ok_replicas, known_sentinels, wait_ms,
		 replicas, sentinels);
	return HM_ETIMEDOUT;
}
