/*
 * conn.c - the fleet's connection to Redis (see conn.h): the --fleet URL, the prefix, the
 * password file, and a blocking hiredis connection that is logged in and answers PING.
 *
 * Nothing here quotes what the user typed: a URL that does not parse may hold a password, and
 * the password file's content is a password. Messages name the file, the server and the step.
 */
#include "fleet/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#define DB_MAX 15u
#define HOST_MAX 253 /* a DNS name */

static int bad_url(char *err, size_t cap, const char *why)
{
	snprintf(err, cap,
		 "fleet URL: %s; the forms are redis://HOST:PORT[/DB], unix:///PATH and "
		 "sentinel://HOST:PORT[,HOST:PORT...]/MASTER[/DB]",
		 why);
	return HM_EINVAL;
}

/*
 * A decimal number at *p of 1..5 digits without a leading zero and at most max: advances *p
 * past it. False (and *p unchanged) otherwise.
 */
static bool parse_num(const char **p, unsigned max, unsigned *out)
{
	const char *s = *p;
	unsigned v = 0;
	int n = 0;

	while (s[n] >= '0' && s[n] <= '9') {
		if (n == 5)
			return false;
		v = v * 10 + (unsigned)(s[n] - '0');
		n++;
	}
	if (n == 0 || (n > 1 && s[0] == '0') || v > max)
		return false;
	*out = v;
	*p = s + n;
	return true;
}

static bool host_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '-';
}

/* unix:///PATH, p just past "unix://". */
static int parse_unix(const char *p, struct hm_fleet_url *out, char *err, size_t cap)
{
	size_t len = strlen(p);

	if (p[0] != '/')
		return bad_url(err, cap, "unix:// takes an absolute path, as in unix:///run/redis.sock");
	if (len >= sizeof(out->path))
		return bad_url(err, cap, "the socket path is too long (at most 107 bytes)");
	if (p[len - 1] == '/')
		return bad_url(err, cap, "the socket path names a directory");
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)p[i];

		/* no query, fragment or percent-encoding: the path is taken as it is written */
		if (ch < 0x20 || ch == 0x7f || ch == '?' || ch == '#' || ch == '%')
			return bad_url(err, cap, "the socket path holds a character not allowed");
	}
	out->unix_socket = true;
	memcpy(out->path, p, len + 1);
	return HM_OK;
}

/*
 * HOST:PORT at *p (HOST a name, an IPv4 address or an [IPv6] address) into out; *p moves past
 * the port. HM_OK, or HM_EINVAL with err saying what is wrong.
 */
static int parse_hostport(const char **pp, bool list, struct hm_fleet_hostport *out, char *err,
			  size_t cap)
{
	char v6[INET6_ADDRSTRLEN];
	struct in6_addr a6;
	const char *p = *pp, *end;
	unsigned port;
	size_t len;

	if (p[0] == '[') {
		end = strchr(p, ']');
		if (end == NULL)
			return bad_url(err, cap, "the IPv6 address lacks its ']'");
		len = (size_t)(end - p - 1);
		if (len == 0 || len >= sizeof(v6))
			return bad_url(err, cap, "the host is not an IPv6 address");
		memcpy(v6, p + 1, len);
		v6[len] = '\0';
		if (inet_pton(AF_INET6, v6, &a6) != 1)
			return bad_url(err, cap, "the host is not an IPv6 address");
		end++;
	} else {
		for (end = p; host_char(*end); end++)
			;
		len = (size_t)(end - p);
		if (len == 0)
			return bad_url(err, cap, "the host is missing (an IPv6 address goes in brackets)");
		if (*end != ':' && *end != '/' && !(list && *end == ',') && *end != '\0')
			return bad_url(err, cap, "the host holds a character not allowed "
						 "(a name, an IPv4 address or an [IPv6] address)");
		if (len > HOST_MAX)
			return bad_url(err, cap, "the host name is too long (at most 253 bytes)");
	}
	if (*end != ':')
		return bad_url(err, cap, "the port is missing (Redis's default is 6379, Sentinel's 26379)");
	memcpy(out->host, p[0] == '[' ? p + 1 : p, len);
	out->host[len] = '\0';
	p = end + 1;
	if (!parse_num(&p, 65535, &port) || port == 0)
		return bad_url(err, cap, "the port must be a number in 1..65535");
	out->port = (uint16_t)port;
	*pp = p;
	return HM_OK;
}

/* "/DB" at p, or nothing: into *db. */
static int parse_db(const char *p, unsigned *db, char *err, size_t cap)
{
	*db = 0;
	if (*p != '/')
		return HM_OK;
	p++;
	if (!parse_num(&p, DB_MAX, db))
		return bad_url(err, cap, "the DB must be a number in 0..15");
	if (*p != '\0')
		return bad_url(err, cap, "unexpected text after the DB");
	return HM_OK;
}

/* redis://HOST:PORT[/DB], p just past "redis://". */
static int parse_tcp(const char *p, struct hm_fleet_url *out, char *err, size_t cap)
{
	struct hm_fleet_hostport hp;
	int rc;

	if (strchr(p, '@') != NULL)
		return bad_url(err, cap, "a user or password in the URL is not allowed: "
					 "use --fleet-password-file");
	rc = parse_hostport(&p, false, &hp, err, cap);
	if (rc != HM_OK)
		return rc;
	if (*p != '/' && *p != '\0')
		return bad_url(err, cap, "unexpected text after the port");
	rc = parse_db(p, &out->db, err, cap);
	if (rc != HM_OK)
		return rc;
	memcpy(out->host, hp.host, sizeof(out->host));
	out->port = hp.port;
	return HM_OK;
}

static bool master_char(char ch)
{
	return host_char(ch) || ch == '_';
}

/* sentinel://HOST:PORT[,HOST:PORT...]/MASTER[/DB], p just past "sentinel://". */
static int parse_sentinel(const char *p, struct hm_fleet_url *out, char *err, size_t cap)
{
	size_t len;
	int rc;

	if (strchr(p, '@') != NULL)
		return bad_url(err, cap, "a user or password in the URL is not allowed: "
					 "use --fleet-password-file");
	for (;;) {
		if (out->nsentinels == HM_FLEET_SENTINELS_MAX)
			return bad_url(err, cap, "too many sentinels (at most 8)");
		rc = parse_hostport(&p, true, &out->sentinels[out->nsentinels], err, cap);
		if (rc != HM_OK)
			return rc;
		out->nsentinels++;
		if (*p != ',')
			break;
		p++;
	}
	if (*p != '/')
		return bad_url(err, cap, *p == '\0' ? "the master's name is missing (/MASTER)"
						   : "unexpected text after a sentinel's port");
	p++;
	for (len = 0; master_char(p[len]); len++)
		;
	if (len == 0)
		return bad_url(err, cap, "the master's name is missing (/MASTER)");
	if (p[len] != '/' && p[len] != '\0')
		return bad_url(err, cap, "the master's name holds a character not allowed "
					 "([A-Za-z0-9._-])");
	if (len > HM_FLEET_MASTER_NAME_MAX)
		return bad_url(err, cap, "the master's name is too long (at most 64 bytes)");
	memcpy(out->master, p, len);
	out->master[len] = '\0';
	out->sentinel = true;
	return parse_db(p + len, &out->db, err, cap);
}

int hm_fleet_url_parse(const char *url, struct hm_fleet_url *out, char *err, size_t cap)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if (url == NULL || url[0] == '\0')
		return bad_url(err, cap, "the URL is empty");
	if (strncmp(url, "unix://", 7) == 0)
		rc = parse_unix(url + 7, out, err, cap);
	else if (strncmp(url, "redis://", 8) == 0)
		rc = parse_tcp(url + 8, out, err, cap);
	else if (strncmp(url, "sentinel://", 11) == 0)
		rc = parse_sentinel(url + 11, out, err, cap);
	else if (strncmp(url, "rediss://", 9) == 0)
		rc = bad_url(err, cap, "rediss:// (Redis over TLS) is not supported");
	else
		rc = bad_url(err, cap, "the scheme must be redis://, unix:// or sentinel://");
	if (rc != HM_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}

bool hm_fleet_prefix_ok(const char *prefix)
{
	size_t len;

	if (prefix == NULL)
		return false;
	len = strlen(prefix);
	if (len == 0 || len > HM_FLEET_PREFIX_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = prefix[i];

		if (!host_char(ch) && ch != '_' && ch != ':' && ch != '/')
			return false;
	}
	return true;
}

int hm_fleet_password_load(const char *path, char pw[static HM_FLEET_PASSWORD_MAX + 1], char *err,
			   size_t cap)
{
	char buf[HM_FLEET_PASSWORD_MAX + 2]; /* the longest password and its "\r\n" */
	struct stat st;
	size_t n = 0, len;
	ssize_t got;
	char *nl;
	int fd = -1, rc;

	pw[0] = '\0';
	/* O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT) {
			snprintf(err, cap, "password file %s: no such file", path);
			return HM_ENOTFOUND;
		}
		if (errno == ELOOP) {
			snprintf(err, cap, "password file %s: a symbolic link (name the file itself)",
				 path);
			return HM_ESTATE;
		}
		snprintf(err, cap, "password file %s: %s", path, strerror(errno));
		return HM_EIO;
	}
	if (fstat(fd, &st) != 0) {
		snprintf(err, cap, "password file %s: fstat: %s", path, strerror(errno));
		rc = HM_EIO;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, cap, "password file %s: not a regular file", path);
		rc = HM_ESTATE;
		goto out;
	}
	if ((st.st_mode & 007) != 0) {
		snprintf(err, cap, "password file %s: others may use it (mode %03o): chmod o-rwx it",
			 path, (unsigned)(st.st_mode & 0777));
		rc = HM_ESTATE;
		goto out;
	}
	/* the first line is all we need: read until a newline or a full buffer */
	while (n < sizeof(buf)) {
		got = read(fd, buf + n, sizeof(buf) - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			snprintf(err, cap, "password file %s: read: %s", path, strerror(errno));
			rc = HM_EIO;
			goto out;
		}
		if (got == 0)
			break;
		n += (size_t)got;
		if (memchr(buf + n - (size_t)got, '\n', (size_t)got) != NULL)
			break;
	}
	nl = memchr(buf, '\n', n);
	len = nl != NULL ? (size_t)(nl - buf) : n;
	if (nl != NULL && len > 0 && buf[len - 1] == '\r')
		len--;
	if (len == 0) {
		snprintf(err, cap, "password file %s: empty (the password is its first line)", path);
		rc = HM_EINVAL;
		goto out;
	}
	if (len > HM_FLEET_PASSWORD_MAX) {
		snprintf(err, cap, "password file %s: the password is longer than %d bytes", path,
			 HM_FLEET_PASSWORD_MAX);
		rc = HM_EINVAL;
		goto out;
	}
	if (memchr(buf, '\0', len) != NULL) {
		snprintf(err, cap, "password file %s: the password holds a NUL byte", path);
		rc = HM_EINVAL;
		goto out;
	}
	memcpy(pw, buf, len);
	pw[len] = '\0';
	rc = HM_OK;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
	return rc;
}

/*
 * Why the connection failed: hiredis's text, but a read past SO_RCVTIMEO (EAGAIN, which
 * hiredis leaves only as strerror_r's text) said plainly.
 */
static const char *conn_error(const redisContext *c)
{
	char buf[64];

	if (c->err == 0)
		return "unknown error";
	if (c->err == REDIS_ERR_IO && strcmp(c->errstr, strerror_r(EAGAIN, buf, sizeof(buf))) == 0)
		return "timed out";
	return c->errstr;
}

/*
 * The server's error reply in out, printable ASCII only, cut to fit; not at all when it
 * quotes secret (the password: a server that echoes it must not put it in a log).
 */
static void quote_reply(const redisReply *r, const char *secret, char *out, size_t cap)
{
	size_t n = 0;

	if (secret != NULL && secret[0] != '\0' &&
	    memmem(r->str, r->len, secret, strlen(secret)) != NULL) {
		snprintf(out, cap, "(its message is not shown: it quotes the password)");
		return;
	}
	for (size_t i = 0; i < r->len && n + 1 < cap; i++) {
		unsigned char ch = (unsigned char)r->str[i];

		out[n++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	out[n] = '\0';
}

/*
 * One step of logging in (AUTH, SELECT, PING): runs it and expects the status reply want.
 * secret (or NULL) is what no message may quote.
 */
static int step(redisContext *c, const char *where, int argc, const char **argv,
		const size_t *lens, const char *want, const char *secret, char *err, size_t cap)
{
	char text[160];
	redisReply *r;
	int rc = HM_ECONN;

	r = redisCommandArgv(c, argc, argv, lens);
	if (r == NULL) {
		snprintf(err, cap, "%s on %s: %s", argv[0], where, conn_error(c));
		return c->err == REDIS_ERR_OOM ? HM_ENOMEM : HM_ECONN;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		quote_reply(r, secret, text, sizeof(text));
		snprintf(err, cap, "%s refused by %s: %s", argv[0], where, text);
	} else if (r->type != REDIS_REPLY_STATUS || strcmp(r->str, want) != 0) {
		snprintf(err, cap, "%s on %s: unexpected answer (not %s)", argv[0], where, want);
	} else {
		rc = HM_OK;
	}
	freeReplyObject(r);
	return rc;
}

/* "host:port", "[v6]:port": how a server is named in messages. */
static void name_server(const char *host, uint16_t port, char *out, size_t cap)
{
	if (strchr(host, ':') != NULL)
		snprintf(out, cap, "[%s]:%u", host, (unsigned)port);
	else
		snprintf(out, cap, "%s:%u", host, (unsigned)port);
}

/*
 * Connects to one server (host:port, or the Unix socket path when host is NULL), named where
 * in messages, with the timeout tv on every step. HM_OK with *out; HM_ECONN, HM_ENOMEM.
 */
static int open_server(const char *host, uint16_t port, const char *path, const char *where,
		       struct timeval tv, redisContext **out, char *err, size_t cap)
{
	redisContext *c;
	int rc;

	*out = NULL;
	c = host == NULL ? redisConnectUnixWithTimeout(path, tv)
			 : redisConnectWithTimeout(host, port, tv);
	if (c == NULL) {
		snprintf(err, cap, "cannot connect to %s: out of memory", where);
		return HM_ENOMEM;
	}
	if (c->err != 0) {
		snprintf(err, cap, "cannot connect to %s: %s", where, conn_error(c));
		rc = c->err == REDIS_ERR_OOM ? HM_ENOMEM : HM_ECONN;
		redisFree(c);
		return rc;
	}
	if (redisSetTimeout(c, tv) != REDIS_OK) {
		snprintf(err, cap, "cannot set the timeout on %s: %s", where, conn_error(c));
		redisFree(c);
		return HM_ECONN;
	}
	*out = c;
	return HM_OK;
}

/* AUTH (with a password), SELECT db (unless 0), then PING: the connection is ready. */
static int log_in(redisContext *c, const char *where, const char *password, unsigned db,
		  char *err, size_t cap)
{
	const char *ping[] = {"PING"};
	char dbtext[12];
	int rc;

	if (password != NULL) {
		const char *argv[] = {"AUTH", password};
		const size_t lens[] = {4, strlen(password)};

		rc = step(c, where, 2, argv, lens, "OK", password, err, cap);
		if (rc != HM_OK)
			return rc;
	}
	if (db != 0) {
		const char *argv[] = {"SELECT", dbtext};

		snprintf(dbtext, sizeof(dbtext), "%u", db);
		rc = step(c, where, 2, argv, NULL, "OK", password, err, cap);
		if (rc != HM_OK)
			return rc;
	}
	return step(c, where, 1, ping, NULL, "PONG", password, err, cap);
}

int hm_fleet_role_master(redisContext *c, char *err, size_t cap)
{
	const char *argv[] = {"ROLE"};
	redisReply *r;
	int rc = HM_ECONN;

	r = redisCommandArgv(c, 1, argv, NULL);
	if (r == NULL) {
		snprintf(err, cap, "ROLE: %s", conn_error(c));
		return c->err == REDIS_ERR_OOM ? HM_ENOMEM : HM_ECONN;
	}
	if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
	    r->element[0]->type == REDIS_REPLY_STRING) {
		if (strcmp(r->element[0]->str, "master") == 0) {
			rc = HM_OK;
		} else {
			snprintf(err, cap, "role %.16s", r->element[0]->str);
			rc = HM_ESTATE;
		}
	} else {
		snprintf(err, cap, "ROLE: unexpected answer");
	}
	freeReplyObject(r);
	return rc;
}

/* The numeric address of c's peer into out (unchanged when it cannot be had). */
static void peer_address(const redisContext *c, struct hm_fleet_hostport *out)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char text[INET6_ADDRSTRLEN];

	if (getpeername(c->fd, (struct sockaddr *)&ss, &len) != 0)
		return;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *sa = (const struct sockaddr_in *)&ss;

		if (inet_ntop(AF_INET, &sa->sin_addr, text, sizeof(text)) == NULL)
			return;
		snprintf(out->host, sizeof(out->host), "%s", text);
		out->port = ntohs(sa->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sa = (const struct sockaddr_in6 *)&ss;

		if (inet_ntop(AF_INET6, &sa->sin6_addr, text, sizeof(text)) == NULL)
			return;
		snprintf(out->host, sizeof(out->host), "%s", text);
		out->port = ntohs(sa->sin6_port);
	}
}

/*
 * Asks the sentinel at s for the master's address. HM_OK with *master; HM_ENOTFOUND (it knows
 * no such master); HM_ECONN (cannot ask it, or it refused); HM_ENOMEM. err says why.
 */
static int ask_sentinel(const struct hm_fleet_hostport *s, const char *name,
			const char *password, struct timeval tv, struct hm_fleet_hostport *master,
			char *err, size_t cap)
{
	const char *argv[] = {"SENTINEL", "get-master-addr-by-name", name};
	char where[sizeof(s->host) + 16], text[160];
	redisContext *c = NULL;
	redisReply *r = NULL;
	unsigned port;
	const char *p;
	int rc;

	name_server(s->host, s->port, where, sizeof(where));
	rc = open_server(s->host, s->port, NULL, where, tv, &c, err, cap);
	if (rc != HM_OK)
		return rc;
	rc = HM_ECONN;
	for (int tries = 0; tries < 2; tries++) {
		r = redisCommandArgv(c, 3, argv, NULL);
		if (r == NULL) {
			snprintf(err, cap, "sentinel %s: %s", where, conn_error(c));
			goto out;
		}
		/* a sentinel with a requirepass of its own: log in, ask again */
		if (tries > 0 || r->type != REDIS_REPLY_ERROR || strncmp(r->str, "NOAUTH", 6) != 0)
			break;
		freeReplyObject(r);
		r = NULL;
		if (password == NULL) {
			snprintf(err, cap, "sentinel %s wants a password (--fleet-password-file)",
				 where);
			goto out;
		}
		{
			const char *auth[] = {"AUTH", password};
			const size_t lens[] = {4, strlen(password)};

			rc = step(c, where, 2, auth, lens, "OK", password, err, cap);
			if (rc != HM_OK)
				goto out;
			rc = HM_ECONN;
		}
	}
	if (r->type == REDIS_REPLY_NIL) {
		snprintf(err, cap, "sentinel %s: no master named %s", where, name);
		rc = HM_ENOTFOUND;
		goto out;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		quote_reply(r, password, text, sizeof(text));
		snprintf(err, cap, "sentinel %s: %s", where, text);
		goto out;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING ||
	    r->element[0]->len == 0 || r->element[0]->len >= sizeof(master->host) ||
	    memchr(r->element[0]->str, '\0', r->element[0]->len) != NULL) {
		snprintf(err, cap, "sentinel %s: unexpected answer to get-master-addr-by-name",
			 where);
		goto out;
	}
	p = r->element[1]->str;
	if (!parse_num(&p, 65535, &port) || port == 0 || *p != '\0') {
		snprintf(err, cap, "sentinel %s: the master's port is not a port", where);
		goto out;
	}
	memcpy(master->host, r->element[0]->str, r->element[0]->len + 1);
	master->port = (uint16_t)port;
	rc = HM_OK;
out:
	freeReplyObject(r);
	redisFree(c);
	return rc;
}

/* sentinel://: the sentinels asked in turn until one names a master that says it is one. */
static int connect_sentinel(const struct hm_fleet_url *url, const char *password,
			    struct timeval tv, redisContext **out, struct hm_fleet_hostport *where,
			    char *err, size_t cap)
{
	char last[1024] = "", sname[sizeof(url->sentinels[0].host) + 16];
	char mname[sizeof(url->sentinels[0].host) + 16];
	struct hm_fleet_hostport m;
	redisContext *c = NULL;
	int rc = HM_ECONN;

	for (unsigned i = 0; i < url->nsentinels; i++) {
		const struct hm_fleet_hostport *s = &url->sentinels[i];

		rc = ask_sentinel(s, url->master, password, tv, &m, last, sizeof(last));
		if (rc == HM_ENOMEM)
			return rc;
		if (rc != HM_OK)
			continue;
		name_server(s->host, s->port, sname, sizeof(sname));
		name_server(m.host, m.port, mname, sizeof(mname));
		rc = open_server(m.host, m.port, NULL, mname, tv, &c, last, sizeof(last));
		if (rc == HM_ENOMEM)
			return rc;
		if (rc == HM_OK)
			rc = log_in(c, mname, password, url->db, last, sizeof(last));
		if (rc == HM_OK) {
			char why[64] = "";

			rc = hm_fleet_role_master(c, why, sizeof(why));
			if (rc == HM_ESTATE)
				snprintf(last, sizeof(last),
					 "%s (from sentinel %s) is not the master (%s): a failover "
					 "under way?",
					 mname, sname, why);
			else if (rc != HM_OK)
				snprintf(last, sizeof(last), "%s (from sentinel %s): %s", mname, sname,
					 why);
		}
		if (rc == HM_OK) {
			if (where != NULL) {
				*where = m;
				peer_address(c, where);
			}
			*out = c;
			return HM_OK;
		}
		if (rc == HM_ENOMEM) {
			redisFree(c);
			return rc;
		}
		redisFree(c);
		c = NULL;
	}
	snprintf(err, cap, "no master %s found through %u sentinel%s: %s", url->master,
		 url->nsentinels, url->nsentinels == 1 ? "" : "s", last);
	return rc == HM_ENOMEM ? HM_ENOMEM : HM_ECONN;
}

int hm_fleet_connect_where(const struct hm_fleet_url *url, const char *password, int timeout_ms,
			   redisContext **out, struct hm_fleet_hostport *where, char *err,
			   size_t cap)
{
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	char name[sizeof(url->host) + 8];
	redisContext *c = NULL;
	int rc;

	*out = NULL;
	if (where != NULL)
		memset(where, 0, sizeof(*where));
	if (timeout_ms <= 0 || url->db > DB_MAX) {
		snprintf(err, cap, "fleet connection: the timeout must be > 0 ms, the DB 0..15");
		return HM_EINVAL;
	}
	if (url->sentinel)
		return connect_sentinel(url, password, tv, out, where, err, cap);
	if (url->unix_socket)
		snprintf(name, sizeof(name), "%s", url->path);
	else
		name_server(url->host, url->port, name, sizeof(name));
	rc = open_server(url->unix_socket ? NULL : url->host, url->port, url->path, name, tv, &c,
			 err, cap);
	if (rc != HM_OK)
		return rc;
	rc = log_in(c, name, password, url->db, err, cap);
	if (rc != HM_OK) {
		redisFree(c);
		return rc;
	}
	if (where != NULL && !url->unix_socket) {
		memcpy(where->host, url->host, sizeof(where->host));
		where->port = url->port;
	}
	*out = c;
	return HM_OK;
}

int hm_fleet_connect(const struct hm_fleet_url *url, const char *password, int timeout_ms,
		     redisContext **out, char *err, size_t cap)
{
	return hm_fleet_connect_where(url, password, timeout_ms, out, NULL, err, cap);
}

redisReply *hm_fleet_cmd(redisContext *c, int argc, const char **argv, const size_t *lens,
			 char *err, size_t cap)
{
	redisReply *r;

	r = redisCommandArgv(c, argc, argv, lens);
	if (r == NULL)
		snprintf(err, cap, "Redis %.32s: %s", argv[0], conn_error(c));
	return r;
}
