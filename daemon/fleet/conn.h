/*
 * conn.h - the fleet's connection to Redis (issue 12): where it is, how to log in, and a
 * blocking connection with timeouts for hmacctl and hmacd's follower thread.
 *
 * --fleet URL (HMACD_FLEET): redis://HOST:PORT[/DB] (HOST a name, an IPv4 address or an IPv6
 * address in brackets; PORT 1..65535, required; DB 0..15, default 0), unix:///PATH (an
 * absolute path that fits a Unix socket address: at most 107 bytes), or
 * sentinel://HOST:PORT[,HOST:PORT...]/MASTER[/DB] (1..8 Redis Sentinels, each HOST:PORT as in
 * redis://; MASTER the name the sentinels monitor, 1..64 bytes of [A-Za-z0-9._-]; DB as in
 * redis://, selected on the master). --fleet-password-file
 * FILE: the password for AUTH, the file's first line (a password is never on a command line;
 * the file must not be usable by others: mode & 007 == 0; its group may read it, as systemd's
 * LoadCredential= directory gives it). --fleet-prefix P (default "hmacd:"): every Redis key of
 * the fleet starts with it, so fleets can share a Redis; 1..64 bytes of [A-Za-z0-9._:/-].
 *
 * Uses hiredis 0.14's blocking API (redisConnectWithTimeout, redisConnectUnixWithTimeout,
 * redisSetTimeout, redisCommandArgv / redisAppendCommandArgv + redisGetReply).
 *
 * Sentinel (sentinel://): every connection finds the master when it is made. The sentinels
 * are asked in the URL's order, `SENTINEL get-master-addr-by-name MASTER`; the first address
 * one gives is connected to, logged in (AUTH, SELECT) and asked `ROLE`: only a server that
 * says "master" is used, so a sentinel that has not seen a failover yet (or a stale
 * configuration) never sends a write to a replica; otherwise the next sentinel is asked. The
 * password serves the master and the sentinels, but a sentinel is sent AUTH only when it
 * answers NOAUTH (it has a requirepass of its own, which must then be the same password): a
 * sentinel that asks for none never sees it. A connection does not follow a failover by
 * itself: its user reconnects when a command fails (Sentinel has the old master's clients
 * disconnected when it demotes it, and a replica refuses writes with READONLY), and the new
 * connection asks the sentinels again.
 *
 * Caveats:
 * - hiredis writes with write(2): a command on a connection the server closed raises SIGPIPE.
 *   The process must ignore it (hmacd and hmacctl do, in main); the command then fails with
 *   EPIPE like any dropped connection.
 * - AUTH is sent with redisCommandArgv, so the password is never formatted into a string of
 *   ours, but hiredis copies it into its output buffer and frees that without wiping it: until
 *   the heap reuses the memory, the password is in the process, as it is in the caller's pw.
 * - HOST is resolved by getaddrinfo(), which the timeout does not bound (a slow DNS server
 *   delays the connection past it).
 * - timeout_ms is also the SO_RCVTIMEO of the connection: a blocking command that waits on
 *   the server (XREAD BLOCK, BLPOP) must ask for less than it, or it fails as a timeout.
 * - One redisContext is one connection: not for two threads at once.
 */
#ifndef HM_FLEET_CONN_H
#define HM_FLEET_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "proto/errors.h"

#define HM_FLEET_PREFIX_MAX 64
#define HM_FLEET_DEFAULT_PREFIX "hmacd:"
#define HM_FLEET_PASSWORD_MAX 512
#define HM_FLEET_SENTINELS_MAX 8
#define HM_FLEET_MASTER_NAME_MAX 64

/* A TCP server: a sentinel, or the master one named. */
struct hm_fleet_hostport {
	char host[256]; /* a name or an address, IPv6 without brackets */
	uint16_t port;
};

struct hm_fleet_url {
	bool unix_socket;
	bool sentinel;  /* sentinel://: host and port are "" and 0, the master is looked up */
	char host[256]; /* without brackets; "" for a Unix socket */
	uint16_t port;  /* 0 for a Unix socket */
	char path[108]; /* the size of sockaddr_un's sun_path, NUL included; "" for TCP */
	unsigned db;    /* always 0 for a Unix socket */
	/* sentinel:// only */
	char master[HM_FLEET_MASTER_NAME_MAX + 1];
	unsigned nsentinels;
	struct hm_fleet_hostport sentinels[HM_FLEET_SENTINELS_MAX];
};

/*
 * Parses url into *out (zeroed first). HM_OK; HM_EINVAL with err saying what is wrong. err
 * never quotes the URL or a part of it: a mistyped URL may hold a password ("redis://:pw@h"
 * is refused: use the password file). A URL that parsed holds no secret and may be logged.
 */
int hm_fleet_url_parse(const char *url, struct hm_fleet_url *out, char *err,
		       size_t cap) HM_MUSTCHECK;

/* A valid --fleet-prefix (false for NULL). */
bool hm_fleet_prefix_ok(const char *prefix);

/*
 * Reads the password file (its first line, without its "\n" or "\r\n"; 1..HM_FLEET_PASSWORD_MAX
 * bytes, no NUL byte) into pw (NUL-terminated). The file is opened with O_NOFOLLOW and
 * O_NONBLOCK (a FIFO does not hang the caller). HM_OK; HM_ENOTFOUND (no such file); HM_ESTATE
 * (a symbolic link, not a regular file, or usable by others: mode & 007); HM_EINVAL (empty,
 * too long, a NUL byte); HM_EIO (cannot open or read it). err names the file, never quotes
 * its content. On every return but HM_OK, pw is "". The caller wipes pw with OPENSSL_cleanse
 * once it no longer needs it (hmacctl after hm_fleet_connect; hmacd keeps it to reconnect,
 * and wipes it at exit).
 */
int hm_fleet_password_load(const char *path, char pw[static HM_FLEET_PASSWORD_MAX + 1], char *err,
			   size_t cap) HM_MUSTCHECK;

/*
 * Connects (within timeout_ms > 0, which also becomes the timeout of every later command),
 * AUTHs with password when it is not NULL, SELECTs url->db when not 0, and checks the server
 * answers PING. HM_OK with *out (free it with redisFree); HM_ECONN (cannot connect, a step
 * timed out or failed, or the server answered an error); HM_ENOMEM; HM_EINVAL (timeout_ms
 * <= 0, url->db > 15). On failure *out is NULL and err names the server and the step ("cannot connect to
 * 127.0.0.1:6379: Connection refused", "AUTH refused by /run/redis/redis.sock: WRONGPASS
 * ..."), never the password: a server's answer that quotes it is not shown.
 */
int hm_fleet_connect(const struct hm_fleet_url *url, const char *password, int timeout_ms,
		     redisContext **out, char *err, size_t cap) HM_MUSTCHECK;

/*
 * hm_fleet_connect(), and *where (may be NULL) says which server it connected to: for
 * sentinel://, the master found, as the numeric address of the connection's peer (no name to
 * resolve again); for redis://, the URL's host and port; for unix://, "" and 0. With
 * sentinel://, the codes are those of hm_fleet_connect(), HM_ECONN also when no sentinel
 * answered with a master that says so (err: how many sentinels were asked, and the last
 * reason: "sentinel 127.0.0.1:26379: no master named m1", "127.0.0.1:6380 (from sentinel
 * 127.0.0.1:26379) is not the master (role slave): a failover under way?").
 */
int hm_fleet_connect_where(const struct hm_fleet_url *url, const char *password, int timeout_ms,
			   redisContext **out, struct hm_fleet_hostport *where, char *err,
			   size_t cap) HM_MUSTCHECK;

/*
 * Asks the server behind c its ROLE. HM_OK: "master"; HM_ESTATE: another role (err says
 * which); HM_ECONN: the connection failed (free it), or an error reply.
 */
int hm_fleet_role_master(redisContext *c, char *err, size_t cap) HM_MUSTCHECK;

/*
 * Runs one command, argv[0] its name, argc >= 1 (redisCommandArgv: binary-safe; lens NULL
 * means strlen() of each argument), and returns its reply (free it with freeReplyObject), or
 * NULL when the connection failed: err then names the command (argv[0], never the other
 * arguments) and why ("timed out", "Server closed the connection", ...), and the context is
 * unusable: free it and reconnect. An error reply is returned as a reply of type
 * REDIS_REPLY_ERROR, for the caller to judge.
 */
redisReply *hm_fleet_cmd(redisContext *c, int argc, const char **argv, const size_t *lens,
			 char *err, size_t cap) HM_MUSTCHECK;

#endif
