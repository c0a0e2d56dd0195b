/*
 * test_fleet_conn.c - the fleet's connection to Redis (daemon/fleet/conn.h): the --fleet URL
 * (valid ones, and invalid ones each refused for its reason, never quoted), the prefix rule,
 * the password file (modes, first line, CRLF, empty, too long, NUL, symlink, FIFO, directory,
 * missing), then against a real redis-server (tests/lib/redis.h) on its Unix socket and on a
 * loopback TCP port: a binary-safe SET/GET, AUTH with the right password, a wrong one, none, and
 * one a server without a password refuses, the password on no command line and in no message,
 * SELECT 3 landing in DB 3, a killed or stopped server giving HM_ECONN (the stopped one within
 * the timeout), a command on a dropped connection giving NULL and a reason, and a restart
 * keeping the data only with persistence. Without redis-server those are skipped, saying so.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fleet/conn.h"
#include "tests/lib/redis.h"

#define TIMEOUT_MS 2000
/* a password with what a config file or a formatted command would get wrong */
static const char PASSWORD[] = "p a\"s#s\\w'rd\r*3\x01";

/* ---- the URL ---- */

static void test_url_valid(void **state)
{
	static const struct {
		const char *url;
		bool unix_socket;
		const char *host_or_path;
		unsigned port, db;
	} cases[] = {
		{"redis://127.0.0.1:6379", false, "127.0.0.1", 6379, 0},
		{"redis://127.0.0.1:6379/0", false, "127.0.0.1", 6379, 0},
		{"redis://redis.example.com:1/15", false, "redis.example.com", 1, 15},
		{"redis://localhost:65535/3", false, "localhost", 65535, 3},
		{"redis://[::1]:6380/7", false, "::1", 6380, 7},
		{"redis://[2001:db8::42]:6379", false, "2001:db8::42", 6379, 0},
		{"redis://my-redis.internal:16379/10", false, "my-redis.internal", 16379, 10},
		{"unix:///run/redis/redis-server.sock", true, "/run/redis/redis-server.sock", 0, 0},
		{"unix:///tmp/a b@c/redis.sock", true, "/tmp/a b@c/redis.sock", 0, 0},
	};
	struct hm_fleet_url u;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		if (hm_fleet_url_parse(cases[i].url, &u, err, sizeof(err)) != HM_OK)
			fail_msg("%s: refused: %s", cases[i].url, err);
		assert_int_equal(u.unix_socket, cases[i].unix_socket);
		if (cases[i].unix_socket) {
			assert_string_equal(u.path, cases[i].host_or_path);
			assert_string_equal(u.host, "");
		} else {
			assert_string_equal(u.host, cases[i].host_or_path);
			assert_string_equal(u.path, "");
		}
		assert_int_equal(u.port, cases[i].port);
		assert_int_equal(u.db, cases[i].db);
	}
}

static void test_url_longest(void **state)
{
	char url[512], host[300], path[200];
	struct hm_fleet_url u;
	char err[256];

	(void)state;
	/* a socket path of 107 bytes fits sun_path with its NUL; 108 does not */
	memset(path, 'a', sizeof(path));
	path[0] = '/';
	path[107] = '\0';
	snprintf(url, sizeof(url), "unix://%s", path);
	assert_int_equal(hm_fleet_url_parse(url, &u, err, sizeof(err)), HM_OK);
	assert_string_equal(u.path, path);
	path[107] = 'a';
	path[108] = '\0';
	snprintf(url, sizeof(url), "unix://%s", path);
	assert_int_equal(hm_fleet_url_parse(url, &u, err, sizeof(err)), HM_EINVAL);
	assert_non_null(strstr(err, "too long"));
	/* a host name of 253 bytes, the longest DNS name; 254 is refused */
	memset(host, 'h', sizeof(host));
	host[253] = '\0';
	snprintf(url, sizeof(url), "redis://%s:6379", host);
	assert_int_equal(hm_fleet_url_parse(url, &u, err, sizeof(err)), HM_OK);
	assert_string_equal(u.host, host);
	host[253] = 'h';
	host[254] = '\0';
	snprintf(url, sizeof(url), "redis://%s:6379", host);
	assert_int_equal(hm_fleet_url_parse(url, &u, err, sizeof(err)), HM_EINVAL);
	assert_non_null(strstr(err, "too long"));
}

static void test_url_sentinel(void **state)
{
	struct hm_fleet_url u;
	char err[256], url[2600], many[2400];
	size_t n = 0;

	(void)state;
	assert_int_equal(hm_fleet_url_parse("sentinel://127.0.0.1:26379/mymaster", &u, err,
					    sizeof(err)), HM_OK);
	assert_true(u.sentinel);
	assert_false(u.unix_socket);
	assert_string_equal(u.host, "");
	assert_int_equal(u.port, 0);
	assert_string_equal(u.master, "mymaster");
	assert_int_equal(u.db, 0);
	assert_int_equal(u.nsentinels, 1);
	assert_string_equal(u.sentinels[0].host, "127.0.0.1");
	assert_int_equal(u.sentinels[0].port, 26379);

	assert_int_equal(hm_fleet_url_parse("sentinel://s1.example:26379,[::1]:26380,10.0.0.3:1/"
					    "hmacd-fleet_1.eu/7",
					    &u, err, sizeof(err)), HM_OK);
	assert_true(u.sentinel);
	assert_int_equal(u.nsentinels, 3);
	assert_string_equal(u.sentinels[0].host, "s1.example");
	assert_int_equal(u.sentinels[0].port, 26379);
	assert_string_equal(u.sentinels[1].host, "::1");
	assert_int_equal(u.sentinels[1].port, 26380);
	assert_string_equal(u.sentinels[2].host, "10.0.0.3");
	assert_int_equal(u.sentinels[2].port, 1);
	assert_string_equal(u.master, "hmacd-fleet_1.eu");
	assert_int_equal(u.db, 7);

	/* eight sentinels and a 64-byte name: the most; nine, or 65 bytes, are refused */
	for (int i = 0; i < HM_FLEET_SENTINELS_MAX; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n, "%s127.0.0.%d:%d", i ? "," : "",
				      i + 1, 26379 + i);
	snprintf(url, sizeof(url), "sentinel://%s/%s/15", many,
		 "m123456789012345678901234567890123456789012345678901234567890123");
	assert_int_equal(hm_fleet_url_parse(url, &u, err, sizeof(err)), HM_OK);
	assert_int_equal(u.nsentinels, HM_FLEET_SENTINELS_MAX);
	assert_int_equal(u.sentinels[7].port, 26386);
	assert_int_equal(strlen(u.master), HM_FLEET_MASTER_NAME_MAX);
	assert_int_equal(u.db, 15);
	snprintf(url, sizeof(url), "sentinel://%s/%s", many,
		 "m1234567890123456789012345678901234567890123456789012345678901234");
	assert_int_equal(hm_fleet_url_parse(url, &u, err, sizeof(err)), HM_EINVAL);
	assert_non_null(strstr(err, "too long"));
	snprintf(url, sizeof(url), "sentinel://%s,127.0.0.9:1/m", many);
	assert_int_equal(hm_fleet_url_parse(url, &u, err, sizeof(err)), HM_EINVAL);
	assert_non_null(strstr(err, "too many sentinels"));
}

static void test_url_invalid(void **state)
{
	static const struct {
		const char *url, *reason;
	} cases[] = {
		{"", "empty"},
		{"127.0.0.1:6379", "scheme"},
		{"http://127.0.0.1:6379", "scheme"},
		{"REDIS://127.0.0.1:6379", "scheme"},
		{"redis:/127.0.0.1:6379", "scheme"},
		{"rediss://127.0.0.1:6379", "TLS"},
		{"unix:/run/redis.sock", "scheme"},
		/* userinfo: a password belongs in the password file */
		{"redis://:s3cret@127.0.0.1:6379", "password"},
		{"redis://user:s3cret@127.0.0.1:6379", "password"},
		{"redis://s3cret@127.0.0.1:6379", "password"},
		{"redis://127.0.0.1:6379/0@s3cret", "password"},
		/* host */
		{"redis://", "host"},
		{"redis://:6379", "host"},
		{"redis:///0", "host"},
		{"redis://::1:6379", "host"},
		{"redis://red_is:6379", "host"},
		{"redis://redis%2e1:6379", "host"},
		{"redis://[::1:6379", "]"},
		{"redis://[]:6379", "IPv6"},
		{"redis://[not:v6]:6379", "IPv6"},
		{"redis://[fe80::1%eth0]:6379", "IPv6"},
		{"redis://[::1]6379", "port"},
		/* port */
		{"redis://127.0.0.1", "port"},
		{"redis://127.0.0.1/3", "port"},
		{"redis://127.0.0.1:", "port"},
		{"redis://127.0.0.1:0", "port"},
		{"redis://127.0.0.1:65536", "port"},
		{"redis://127.0.0.1:99999", "port"},
		{"redis://127.0.0.1:100000", "port"},
		{"redis://127.0.0.1:-1", "port"},
		{"redis://127.0.0.1:+6379", "port"},
		{"redis://127.0.0.1:06379", "port"},
		{"redis://127.0.0.1: 6379", "port"},
		{"redis://127.0.0.1:s3cret", "port"},
		/* junk after the port or the DB */
		{"redis://127.0.0.1:6379x", "after the port"},
		{"redis://127.0.0.1:6379 ", "after the port"},
		{"redis://127.0.0.1:6379?db=3", "after the port"},
		{"redis://127.0.0.1:6379#x", "after the port"},
		{"redis://127.0.0.1:6379/3/", "after the DB"},
		{"redis://127.0.0.1:6379/3?x", "after the DB"},
		{"redis://127.0.0.1:6379/3 ", "after the DB"},
		/* DB */
		{"redis://127.0.0.1:6379/", "DB"},
		{"redis://127.0.0.1:6379/16", "DB"},
		{"redis://127.0.0.1:6379/99", "DB"},
		{"redis://127.0.0.1:6379/03", "DB"},
		{"redis://127.0.0.1:6379/-1", "DB"},
		{"redis://127.0.0.1:6379/x", "DB"},
		/* unix */
		{"unix://", "absolute"},
		{"unix://redis.sock", "absolute"},
		{"unix://./redis.sock", "absolute"},
		{"unix://localhost/run/redis.sock", "absolute"},
		{"unix:///", "directory"},
		{"unix:///run/redis/", "directory"},
		{"unix:///run/redis.sock?db=3", "character"},
		{"unix:///run/redis.sock#x", "character"},
		{"unix:///run/redis%2esock", "character"},
		{"unix:///run/redis\n.sock", "character"},
		{"unix:///run/redis\t.sock", "character"},
		/* sentinel */
		{"sentinel://", "host"},
		{"sentinel:///m", "host"},
		{"sentinel://127.0.0.1/m", "port"},
		{"sentinel://127.0.0.1:26379", "master"},
		{"sentinel://127.0.0.1:26379/", "master"},
		{"sentinel://127.0.0.1:26379//0", "master"},
		{"sentinel://127.0.0.1:26379,/m", "host"},
		{"sentinel://,127.0.0.1:26379/m", "host"},
		{"sentinel://127.0.0.1:26379,127.0.0.2/m", "port"},
		{"sentinel://127.0.0.1:0/m", "port"},
		{"sentinel://127.0.0.1:26379;127.0.0.2:26379/m", "after a sentinel"},
		{"sentinel://127.0.0.1:26379/m s", "master's name"},
		{"sentinel://127.0.0.1:26379/m*", "master's name"},
		{"sentinel://127.0.0.1:26379/m/16", "DB"},
		{"sentinel://127.0.0.1:26379/m/0/", "after the DB"},
		{"sentinel://127.0.0.1:26379/m?db=1", "master's name"},
		{"sentinel://:s3cret@127.0.0.1:26379/m", "password"},
		{"sentinel://127.0.0.1:26379/s3cret@m", "password"},
		{"sentinel://red_is:26379/m", "host"},
		{"sentinel://[::1:26379/m", "]"},
		{"redis://a,b:6379", "host"},
	};
	struct hm_fleet_url u, zero;
	char err[256];

	(void)state;
	memset(&zero, 0, sizeof(zero));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&u, 0x5a, sizeof(u));
		err[0] = '\0';
		if (hm_fleet_url_parse(cases[i].url, &u, err, sizeof(err)) != HM_EINVAL)
			fail_msg("%s: accepted", cases[i].url);
		if (strstr(err, cases[i].reason) == NULL)
			fail_msg("%s: \"%s\" does not say \"%s\"", cases[i].url, err, cases[i].reason);
		/* the message never quotes what was typed: it may hold a password (the shortest
		 * URLs, "redis://" and "sentinel://", are part of the message's own example) */
		assert_null(strstr(err, "s3cret"));
		if (strlen(cases[i].url) > 11 && strstr(err, cases[i].url) != NULL)
			fail_msg("%s: quoted in \"%s\"", cases[i].url, err);
		assert_memory_equal(&u, &zero, sizeof(u));
	}
	assert_int_equal(hm_fleet_url_parse(NULL, &u, err, sizeof(err)), HM_EINVAL);
}

/* ---- the prefix ---- */

static void test_prefix(void **state)
{
	static const char *const good[] = {
		"hmacd:", "a", "fleet-1:", "prod/eu.west_1:", "0", "A.Z-a_z:/09",
		"0123456789012345678901234567890123456789012345678901234567890123", /* 64 */
	};
	static const char *const bad[] = {
		"", "hmacd :", "hmacd*", "{hmacd}:", "hmacd\n", "caf\xc3\xa9:", "a\"b", "x%y",
		"01234567890123456789012345678901234567890123456789012345678901234", /* 65 */
	};

	(void)state;
	assert_true(hm_fleet_prefix_ok(HM_FLEET_DEFAULT_PREFIX));
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!hm_fleet_prefix_ok(good[i]))
			fail_msg("\"%s\" refused", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (hm_fleet_prefix_ok(bad[i]))
			fail_msg("\"%s\" accepted", bad[i]);
	assert_false(hm_fleet_prefix_ok(NULL));
}

/* ---- the password file ---- */

struct fx {
	char dir[64];
	char file[128];
	struct tl_redis r;
};

static int setup(void **state)
{
	static struct fx f;

	memset(&f, 0, sizeof(f));
	f.r.pid = -1;
	snprintf(f.dir, sizeof(f.dir), "/tmp/hmacd-test-fleet-XXXXXX");
	assert_non_null(mkdtemp(f.dir));
	snprintf(f.file, sizeof(f.file), "%s/password", f.dir);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	tl_redis_kill(&f->r);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* path holds len bytes of content, with mode. */
static void put_file(const char *path, const void *content, size_t len, mode_t mode)
{
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

/* Loads f->file; the code, and pw when it is HM_OK. The message never quotes the content. */
static int load(struct fx *f, char pw[static HM_FLEET_PASSWORD_MAX + 1], char *err, size_t cap)
{
	int rc;

	memset(pw, 'x', HM_FLEET_PASSWORD_MAX + 1);
	err[0] = '\0';
	rc = hm_fleet_password_load(f->file, pw, err, cap);
	if (rc != HM_OK) {
		assert_string_equal(pw, "");
		assert_non_null(strstr(err, f->file));
		assert_null(strstr(err, "s3cret"));
	}
	return rc;
}

static void test_password_lines(void **state)
{
	static const struct {
		const char *content, *want;
	} cases[] = {
		{"s3cret", "s3cret"},
		{"s3cret\n", "s3cret"},
		{"s3cret\r\n", "s3cret"},
		{"s3cret\nsecond line\n", "s3cret"},
		{"s3cret\r\nsecond\r\n", "s3cret"},
		{" s3 cret \n", " s3 cret "},        /* spaces are the password's */
		{"s3cret\r\r\n", "s3cret\r"},        /* one "\r\n" stripped, no more */
		{"s3\rcret\n", "s3\rcret"},
		{"s3cret\r", "s3cret\r"},            /* no newline: the line as it is */
	};
	char pw[HM_FLEET_PASSWORD_MAX + 1], err[256];
	struct fx *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		put_file(f->file, cases[i].content, strlen(cases[i].content), 0600);
		if (load(f, pw, err, sizeof(err)) != HM_OK)
			fail_msg("case %zu refused: %s", i, err);
		assert_string_equal(pw, cases[i].want);
	}
}

static void test_password_modes(void **state)
{
	static const struct {
		mode_t mode;
		int rc;
	} cases[] = {
		{0600, HM_OK}, {0400, HM_OK}, {0640, HM_OK}, {0440, HM_OK}, {0660, HM_OK},
		{0700, HM_OK}, {0604, HM_ESTATE}, {0644, HM_ESTATE}, {0602, HM_ESTATE},
		{0601, HM_ESTATE}, {0666, HM_ESTATE}, {0444, HM_ESTATE}, {0777, HM_ESTATE},
	};
	char pw[HM_FLEET_PASSWORD_MAX + 1], err[256];
	struct fx *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		put_file(f->file, "s3cret\n", 7, cases[i].mode);
		if (load(f, pw, err, sizeof(err)) != cases[i].rc)
			fail_msg("mode %03o: \"%s\"", (unsigned)cases[i].mode, err);
		if (cases[i].rc == HM_OK)
			assert_string_equal(pw, "s3cret");
		else
			assert_non_null(strstr(err, "others"));
	}
}

static void test_password_refused(void **state)
{
	char pw[HM_FLEET_PASSWORD_MAX + 1], err[256], big[HM_FLEET_PASSWORD_MAX + 8];
	char target[160];
	struct fx *f = *state;

	/* empty: no file content, or an empty first line */
	put_file(f->file, "", 0, 0600);
	assert_int_equal(load(f, pw, err, sizeof(err)), HM_EINVAL);
	assert_non_null(strstr(err, "empty"));
	put_file(f->file, "\ns3cret\n", 8, 0600);
	assert_int_equal(load(f, pw, err, sizeof(err)), HM_EINVAL);
	assert_non_null(strstr(err, "empty"));
	put_file(f->file, "\r\n", 2, 0600);
	assert_int_equal(load(f, pw, err, sizeof(err)), HM_EINVAL);

	/* the longest password, with or without its newline; one byte more is refused */
	memset(big, 's', sizeof(big));
	put_file(f->file, big, HM_FLEET_PASSWORD_MAX, 0600);
	assert_int_equal(load(f, pw, err, sizeof(err)), HM_OK);
	assert_int_equal(strlen(pw), HM_FLEET_PASSWORD_MAX);
	memcpy(big + HM_FLEET_PASSWORD_MAX, "\r\n", 2);
	put_file(f->file, big, HM_FLEET_PASSWORD_MAX + 2, 0600);
	assert_int_equal(load(f, pw, err, sizeof(err)), HM_OK);
	assert_int_equal(strlen(pw), HM_FLEET_PASSWORD_MAX);
	memset(big, 's', sizeof(big));
	put_file(f->file, big, HM_FLEET_PASSWORD_MAX + 1, 0600);
	assert_int_equal(load(f, pw, err, sizeof(err)), HM_EINVAL);
	assert_non_null(strstr(err, "longer"));
	big[HM_FLEET_PASSWORD_MAX + 1] = '\n';
	put_file(f->file, big, HM_FLEET_PASSWORD_MAX + 2, 0600);
	assert_int_equal(load(f, pw, err, sizeof(err)), HM_EINVAL);
	memset(big, 's', sizeof(big));
	put_file(f->file, big, sizeof(big), 0600);
	assert_int_equal(load(f, pw, err, sizeof(err)), HM_EINVAL);

	/* a NUL byte would cut the password short without a word */
	put_file(f->file, "s3\0cret\n", 8, 0600);
	assert_int_equal(load(f, pw, err, sizeof(err)), HM_EINVAL);
	assert_non_null(strstr(err, "NUL"));

	/* a symbolic link, even to a good file */
	snprintf(target, sizeof(target), "%s/target", f->dir);
	put_file(target, "s3cret\n", 7, 0600);
	unlink(f->file);
	assert_int_equal(symlink(target, f->file), 0);
	assert_int_equal(load(f, pw, err, sizeof(err)), HM_ESTATE);
	assert_non_null(strstr(err, "symbolic link"));

	/* not a regular file: a directory, a FIFO (opened without waiting for a writer) */
	unlink(f->file);
	assert_int_equal(mkdir(f->file, 0700), 0);
	assert_int_equal(load(f, pw, err, sizeof(err)), HM_ESTATE);
	assert_non_null(strstr(err, "regular"));
	assert_int_equal(rmdir(f->file), 0);
	assert_int_equal(mkfifo(f->file, 0600), 0);
	assert_int_equal(load(f, pw, err, sizeof(err)), HM_ESTATE);
	assert_non_null(strstr(err, "regular"));
	unlink(f->file);

	/* missing */
	assert_int_equal(load(f, pw, err, sizeof(err)), HM_ENOTFOUND);
}

/* ---- against a real redis-server ---- */

static bool have_redis;

static void need_redis(void)
{
	if (!have_redis)
		skip();
}

static void start(struct fx *f, bool persist, bool tcp, const char *password)
{
	const struct tl_redis_opts o = {.persist = persist, .tcp = tcp, .password = password};
	char err[512];

	if (tl_redis_start_opts(&f->r, f->dir, &o, err, sizeof(err)) != HM_OK)
		fail_msg("tl_redis_start: %s", err);
}

static redisContext *connect_ok(const struct hm_fleet_url *url, const char *password)
{
	redisContext *c = NULL;
	char err[512];

	if (hm_fleet_connect(url, password, TIMEOUT_MS, &c, err, sizeof(err)) != HM_OK)
		fail_msg("hm_fleet_connect: %s", err);
	assert_non_null(c);
	return c;
}

/* Runs a command that must get an answer; the reply, to free. */
static redisReply *cmd(redisContext *c, int argc, const char **argv, const size_t *lens)
{
	char err[512];
	redisReply *r;

	r = hm_fleet_cmd(c, argc, argv, lens, err, sizeof(err));
	if (r == NULL)
		fail_msg("%s: %s", argv[0], err);
	return r;
}

static void set(redisContext *c, const char *key, const char *value)
{
	const char *argv[] = {"SET", key, value};
	redisReply *r = cmd(c, 3, argv, NULL);

	assert_int_equal(r->type, REDIS_REPLY_STATUS);
	assert_string_equal(r->str, "OK");
	freeReplyObject(r);
}

/* GET key: its value, or "(nil)". */
static void get(redisContext *c, const char *key, char *out, size_t cap)
{
	const char *argv[] = {"GET", key};
	redisReply *r = cmd(c, 2, argv, NULL);

	if (r->type == REDIS_REPLY_NIL)
		snprintf(out, cap, "(nil)");
	else if (r->type == REDIS_REPLY_STRING)
		snprintf(out, cap, "%.*s", (int)r->len, r->str);
	else
		fail_msg("GET %s: reply type %d", key, r->type);
	freeReplyObject(r);
}

static void test_unix_socket(void **state)
{
	static const char value[] = "a\0b\r\n$3\r\nc"; /* RESP's own bytes and a NUL */
	const char *argv[] = {"SET", "hmacd-test:bin", value};
	const size_t lens[] = {3, 14, sizeof(value) - 1};
	const char *getv[] = {"GET", "hmacd-test:bin"};
	const char *nosuch[] = {"NOSUCHCOMMAND", "x"};
	struct fx *f = *state;
	redisContext *c;
	redisReply *r;
	struct stat st;

	need_redis();
	start(f, false, false, NULL);
	assert_int_equal(stat(f->r.sock, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	c = connect_ok(&f->r.unix_url, NULL);

	r = cmd(c, 3, argv, lens);
	assert_int_equal(r->type, REDIS_REPLY_STATUS);
	freeReplyObject(r);
	r = cmd(c, 2, getv, NULL);
	assert_int_equal(r->type, REDIS_REPLY_STRING);
	assert_int_equal(r->len, sizeof(value) - 1);
	assert_memory_equal(r->str, value, sizeof(value) - 1);
	freeReplyObject(r);

	/* an error reply is an answer, for the caller to judge; the connection goes on */
	r = cmd(c, 2, nosuch, NULL);
	assert_int_equal(r->type, REDIS_REPLY_ERROR);
	freeReplyObject(r);
	set(c, "hmacd-test:k", "v");
	redisFree(c);
}

static void test_tcp(void **state)
{
	struct fx *f = *state;
	struct hm_fleet_url u;
	redisContext *c;
	char url[64], err[256], v[64];

	need_redis();
	start(f, false, true, NULL);
	assert_true(f->r.port > 0);
	snprintf(url, sizeof(url), "redis://127.0.0.1:%u", (unsigned)f->r.port);
	assert_int_equal(hm_fleet_url_parse(url, &u, err, sizeof(err)), HM_OK);
	c = connect_ok(&u, NULL);
	set(c, "hmacd-test:k", "over tcp");
	redisFree(c);
	/* the same server, through its Unix socket */
	c = connect_ok(&f->r.unix_url, NULL);
	get(c, "hmacd-test:k", v, sizeof(v));
	assert_string_equal(v, "over tcp");
	redisFree(c);
}

static void test_auth(void **state)
{
	char pw[HM_FLEET_PASSWORD_MAX + 1], err[512], line[64];
	struct fx *f = *state;
	redisContext *c = NULL;
	struct stat st;

	need_redis();
	start(f, false, true, PASSWORD);
	/* the password is in a file only its owner reads (redis.c puts it on no command line;
	 * /proc/PID/cmdline cannot show it: Redis rewrites its process title) */
	assert_int_equal(stat(f->r.conf, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* the right password, from a password file as hmacd reads it, on both sockets */
	snprintf(line, sizeof(line), "%s\r\n", PASSWORD);
	put_file(f->file, line, strlen(line), 0640);
	assert_int_equal(hm_fleet_password_load(f->file, pw, err, sizeof(err)), HM_OK);
	assert_string_equal(pw, PASSWORD);
	redisFree(connect_ok(&f->r.unix_url, pw));
	redisFree(connect_ok(&f->r.tcp_url, pw));

	/* a wrong one: AUTH refused, and neither password in the message */
	assert_int_equal(hm_fleet_connect(&f->r.tcp_url, "s3cret-but-wrong", TIMEOUT_MS, &c, err,
					  sizeof(err)),
			 HM_ECONN);
	assert_null(c);
	assert_non_null(strstr(err, "AUTH refused"));
	assert_non_null(strstr(err, "127.0.0.1:"));
	assert_null(strstr(err, "s3cret"));
	assert_null(strstr(err, "s#s"));

	/* none: the first command (PING) is refused for want of AUTH */
	assert_int_equal(hm_fleet_connect(&f->r.unix_url, NULL, TIMEOUT_MS, &c, err, sizeof(err)),
			 HM_ECONN);
	assert_null(c);
	assert_non_null(strstr(err, "PING refused"));
	assert_non_null(strstr(err, "NOAUTH"));
}

static void test_auth_not_required(void **state)
{
	struct fx *f = *state;
	redisContext *c = NULL;
	char err[512];

	need_redis();
	start(f, false, false, NULL);
	redisFree(connect_ok(&f->r.unix_url, NULL));
	/* a password for a server that has none: Redis refuses the AUTH, and so do we */
	assert_int_equal(hm_fleet_connect(&f->r.unix_url, "s3cret", TIMEOUT_MS, &c, err, sizeof(err)),
			 HM_ECONN);
	assert_null(c);
	assert_non_null(strstr(err, "AUTH refused"));
	assert_non_null(strstr(err, f->r.sock));
	assert_null(strstr(err, "s3cret"));
}

static void test_select(void **state)
{
	const char *select3[] = {"SELECT", "3"};
	struct fx *f = *state;
	struct hm_fleet_url u;
	redisContext *c, *other;
	redisReply *r;
	char url[64], err[256], v[64];

	need_redis();
	start(f, false, true, PASSWORD);
	snprintf(url, sizeof(url), "redis://127.0.0.1:%u/3", (unsigned)f->r.port);
	assert_int_equal(hm_fleet_url_parse(url, &u, err, sizeof(err)), HM_OK);
	assert_int_equal(u.db, 3);
	c = connect_ok(&u, PASSWORD);
	set(c, "hmacd-test:db", "three");
	redisFree(c);

	/* a second connection: not in DB 0, in DB 3 */
	other = connect_ok(&f->r.tcp_url, PASSWORD);
	get(other, "hmacd-test:db", v, sizeof(v));
	assert_string_equal(v, "(nil)");
	r = cmd(other, 2, select3, NULL);
	assert_int_equal(r->type, REDIS_REPLY_STATUS);
	freeReplyObject(r);
	get(other, "hmacd-test:db", v, sizeof(v));
	assert_string_equal(v, "three");
	redisFree(other);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static void test_dead_server(void **state)
{
	struct fx *f = *state;
	redisContext *c = NULL;
	struct timespec t0;
	char err[512], want[160];
	long took;

	need_redis();
	/* stopped (SIGSTOP): the kernel accepts the connection, nobody answers: a timeout */
	start(f, false, true, NULL);
	tl_redis_pause(&f->r);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(hm_fleet_connect(&f->r.unix_url, NULL, 300, &c, err, sizeof(err)),
			 HM_ECONN);
	took = ms_since(&t0);
	assert_null(c);
	assert_non_null(strstr(err, "PING"));
	assert_non_null(strstr(err, "timed out"));
	/* a hang guard, not a speed test: it gave up after its timeout, not never */
	assert_true(took < 10000);
	assert_int_equal(hm_fleet_connect(&f->r.tcp_url, "s3cret", 300, &c, err, sizeof(err)),
			 HM_ECONN);
	assert_non_null(strstr(err, "AUTH"));
	assert_non_null(strstr(err, "timed out"));
	assert_null(strstr(err, "s3cret"));

	/* killed: nothing listens any more */
	tl_redis_kill(&f->r);
	assert_int_equal(hm_fleet_connect(&f->r.tcp_url, NULL, 300, &c, err, sizeof(err)), HM_ECONN);
	assert_null(c);
	snprintf(want, sizeof(want), "cannot connect to 127.0.0.1:%u: Connection refused",
		 (unsigned)f->r.port);
	assert_string_equal(err, want);
	assert_int_equal(hm_fleet_connect(&f->r.unix_url, NULL, 300, &c, err, sizeof(err)),
			 HM_ECONN);
	snprintf(want, sizeof(want), "cannot connect to %s: ", f->r.sock);
	assert_memory_equal(err, want, strlen(want));
	unlink(f->r.sock);
	assert_int_equal(hm_fleet_connect(&f->r.unix_url, NULL, 300, &c, err, sizeof(err)),
			 HM_ECONN);
	assert_non_null(strstr(err, "No such file"));

	/* arguments */
	assert_int_equal(hm_fleet_connect(&f->r.unix_url, NULL, 0, &c, err, sizeof(err)),
			 HM_EINVAL);
}

static void test_dropped_connection(void **state)
{
	const char *ping[] = {"PING"}, *id[] = {"CLIENT", "ID"};
	const char *killv[] = {"CLIENT", "KILL", "ID", NULL};
	char err[512], idtext[32];
	struct fx *f = *state;
	redisContext *c, *admin;
	redisReply *r;

	need_redis();
	start(f, false, true, NULL);

	/* closed by the server (CLIENT KILL from another connection), the server alive */
	c = connect_ok(&f->r.tcp_url, NULL);
	r = cmd(c, 2, id, NULL);
	assert_int_equal(r->type, REDIS_REPLY_INTEGER);
	snprintf(idtext, sizeof(idtext), "%lld", r->integer);
	freeReplyObject(r);
	admin = connect_ok(&f->r.unix_url, NULL);
	killv[3] = idtext;
	r = cmd(admin, 4, killv, NULL);
	assert_int_equal(r->type, REDIS_REPLY_INTEGER);
	assert_int_equal(r->integer, 1);
	freeReplyObject(r);
	redisFree(admin);
	err[0] = '\0';
	assert_null(hm_fleet_cmd(c, 1, ping, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "PING"));
	assert_non_null(strstr(err, "closed"));
	/* the context stays failed */
	assert_null(hm_fleet_cmd(c, 1, ping, NULL, err, sizeof(err)));
	redisFree(c);

	/* the server stopped: the command times out */
	c = connect_ok(&f->r.unix_url, NULL);
	assert_int_equal(redisSetTimeout(c, (struct timeval){.tv_usec = 200000}), REDIS_OK);
	tl_redis_pause(&f->r);
	err[0] = '\0';
	assert_null(hm_fleet_cmd(c, 1, ping, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "timed out"));
	redisFree(c);

	/* the server killed (SIGPIPE is ignored, as conn.h asks) */
	tl_redis_resume(&f->r);
	c = connect_ok(&f->r.unix_url, NULL);
	tl_redis_kill(&f->r);
	err[0] = '\0';
	assert_null(hm_fleet_cmd(c, 1, ping, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "PING"));
	redisFree(c);
}

static void test_restart(void **state)
{
	struct fx *f = *state;
	redisContext *c;
	char err[512], v[64];

	need_redis();
	/* with persistence, killed and restarted: the data is back, on the same port */
	start(f, true, true, PASSWORD);
	c = connect_ok(&f->r.tcp_url, PASSWORD);
	set(c, "hmacd-test:kept", "yes");
	redisFree(c);
	tl_redis_kill(&f->r);
	if (tl_redis_restart(&f->r, err, sizeof(err)) != HM_OK)
		fail_msg("tl_redis_restart: %s", err);
	c = connect_ok(&f->r.tcp_url, PASSWORD);
	get(c, "hmacd-test:kept", v, sizeof(v));
	assert_string_equal(v, "yes");
	redisFree(c);
	/* stopped and restarted */
	if (tl_redis_restart(&f->r, err, sizeof(err)) != HM_OK)
		fail_msg("tl_redis_restart: %s", err);
	c = connect_ok(&f->r.unix_url, PASSWORD);
	get(c, "hmacd-test:kept", v, sizeof(v));
	assert_string_equal(v, "yes");
	redisFree(c);
	if (tl_redis_stop(&f->r, err, sizeof(err)) != HM_OK)
		fail_msg("tl_redis_stop: %s", err);
}

static void test_restart_empty(void **state)
{
	struct fx *f = *state;
	redisContext *c;
	char err[512], v[64];

	need_redis();
	/* without persistence, a restart is Redis back empty */
	start(f, false, false, NULL);
	c = connect_ok(&f->r.unix_url, NULL);
	set(c, "hmacd-test:kept", "yes");
	redisFree(c);
	if (tl_redis_restart(&f->r, err, sizeof(err)) != HM_OK)
		fail_msg("tl_redis_restart: %s", err);
	c = connect_ok(&f->r.unix_url, NULL);
	get(c, "hmacd-test:kept", v, sizeof(v));
	assert_string_equal(v, "(nil)");
	redisFree(c);
}

/*
 * sentinel://: a master (with a password) and its replica, two sentinels without a password of
 * their own: one monitors the master, one (stale, as after a failover it missed) names the
 * replica as the master. Listed first, the stale one is asked first: its answer is checked
 * with ROLE and refused, and the good one's master is used; alone, it fails saying why. A
 * sentinel with a requirepass of its own gets AUTH after NOAUTH, and fails clearly without
 * one or with a wrong one; an unknown master name, or no sentinel up, fails clearly. No
 * message shows the password.
 */
static void test_sentinel(void **state)
{
	struct fx *f = *state;
	struct tl_redis replica = {.pid = -1};
	struct tl_sentinel good = {.pid = -1}, stale = {.pid = -1}, locked = {.pid = -1};
	struct hm_fleet_hostport where;
	struct hm_fleet_url u;
	char dir[3][128], url[512], err[2048], v[64];
	redisContext *c = NULL;
	redisReply *r;

	need_redis();
	if (!tl_sentinel_available())
		skip();
	start(f, false, true, PASSWORD);
	for (int i = 0; i < 3; i++) {
		snprintf(dir[i], sizeof(dir[i]), "%s/%d", f->dir, i);
		assert_int_equal(mkdir(dir[i], 0700), 0);
	}
	{
		const struct tl_redis_opts ro = {.password = PASSWORD, .replica_of = &f->r};
		const struct tl_sentinel_opts go = {.name = "m1", .master = &f->r, .quorum = 1,
						    .down_after_ms = 60000};
		const struct tl_sentinel_opts so = {.name = "m1", .master = &replica, .quorum = 1,
						    .down_after_ms = 60000};
		const struct tl_sentinel_opts lo = {.name = "m1", .master = &f->r, .quorum = 1,
						    .down_after_ms = 60000,
						    .password = PASSWORD};

		if (tl_redis_start_opts(&replica, dir[0], &ro, err, sizeof(err)) != HM_OK)
			fail_msg("replica: %s", err);
		if (tl_sentinel_start(&good, dir[1], &go, err, sizeof(err)) != HM_OK)
			fail_msg("sentinel: %s", err);
		if (tl_sentinel_start(&stale, dir[2], &so, err, sizeof(err)) != HM_OK)
			fail_msg("sentinel: %s", err);
		snprintf(dir[0], sizeof(dir[0]), "%s/3", f->dir);
		assert_int_equal(mkdir(dir[0], 0700), 0);
		if (tl_sentinel_start(&locked, dir[0], &lo, err, sizeof(err)) != HM_OK)
			fail_msg("sentinel: %s", err);
	}

	/* the stale sentinel first: refused by ROLE, the good one's master used, DB 2 selected */
	snprintf(url, sizeof(url), "sentinel://127.0.0.1:%u,127.0.0.1:%u/m1/2",
		 (unsigned)stale.port, (unsigned)good.port);
	assert_int_equal(hm_fleet_url_parse(url, &u, err, sizeof(err)), HM_OK);
	if (hm_fleet_connect_where(&u, PASSWORD, TIMEOUT_MS, &c, &where, err, sizeof(err)) != HM_OK)
		fail_msg("sentinel connect: %s", err);
	assert_string_equal(where.host, "127.0.0.1");
	assert_int_equal(where.port, f->r.port);
	set(c, "hmacd-test:sentinel", "db2");
	redisFree(c);
	c = connect_ok(&f->r.tcp_url, PASSWORD);
	{
		const char *sel[] = {"SELECT", "2"};

		r = cmd(c, 2, sel, NULL);
		freeReplyObject(r);
	}
	get(c, "hmacd-test:sentinel", v, sizeof(v));
	assert_string_equal(v, "db2");
	redisFree(c);
	c = NULL;

	/* the stale one alone: no master, and why */
	snprintf(url, sizeof(url), "sentinel://127.0.0.1:%u/m1", (unsigned)stale.port);
	assert_int_equal(hm_fleet_url_parse(url, &u, err, sizeof(err)), HM_OK);
	assert_int_equal(hm_fleet_connect(&u, PASSWORD, TIMEOUT_MS, &c, err, sizeof(err)), HM_ECONN);
	assert_null(c);
	assert_non_null(strstr(err, "not the master"));
	assert_non_null(strstr(err, "role slave"));
	assert_null(strstr(err, "s#s"));

	/* a sentinel with a password: AUTH after NOAUTH; without one, it says so */
	snprintf(url, sizeof(url), "sentinel://127.0.0.1:%u/m1", (unsigned)locked.port);
	assert_int_equal(hm_fleet_url_parse(url, &u, err, sizeof(err)), HM_OK);
	if (hm_fleet_connect(&u, PASSWORD, TIMEOUT_MS, &c, err, sizeof(err)) != HM_OK)
		fail_msg("sentinel with a password: %s", err);
	redisFree(c);
	c = NULL;
	assert_int_equal(hm_fleet_connect(&u, NULL, TIMEOUT_MS, &c, err, sizeof(err)), HM_ECONN);
	assert_non_null(strstr(err, "wants a password"));
	assert_int_equal(hm_fleet_connect(&u, "wrong", TIMEOUT_MS, &c, err, sizeof(err)), HM_ECONN);
	assert_non_null(strstr(err, "AUTH"));

	/* a master no sentinel knows; no sentinel at all */
	snprintf(url, sizeof(url), "sentinel://127.0.0.1:%u/m2", (unsigned)good.port);
	assert_int_equal(hm_fleet_url_parse(url, &u, err, sizeof(err)), HM_OK);
	assert_int_equal(hm_fleet_connect(&u, PASSWORD, TIMEOUT_MS, &c, err, sizeof(err)), HM_ECONN);
	assert_non_null(strstr(err, "no master named m2"));
	tl_sentinel_kill(&good);
	snprintf(url, sizeof(url), "sentinel://127.0.0.1:%u/m1", (unsigned)good.port);
	assert_int_equal(hm_fleet_url_parse(url, &u, err, sizeof(err)), HM_OK);
	assert_int_equal(hm_fleet_connect(&u, PASSWORD, TIMEOUT_MS, &c, err, sizeof(err)), HM_ECONN);
	assert_non_null(strstr(err, "cannot connect"));

	tl_sentinel_kill(&stale);
	tl_sentinel_kill(&locked);
	tl_redis_kill(&replica);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_valid),
		cmocka_unit_test(test_url_longest),
		cmocka_unit_test(test_url_sentinel),
		cmocka_unit_test(test_url_invalid),
		cmocka_unit_test(test_prefix),
		cmocka_unit_test_setup_teardown(test_password_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_password_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_password_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unix_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth_not_required, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dead_server, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dropped_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sentinel, setup, teardown),
	};

	/* conn.h: a write to a connection the server closed must fail, not kill the process */
	signal(SIGPIPE, SIG_IGN);
	alarm(120);
	have_redis = tl_redis_available();
	if (!have_redis)
		fprintf(stderr, "test_fleet_conn: redis-server is not on PATH (Debian: apt-get install "
				"redis-server): the tests against a real Redis are SKIPPED\n");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
