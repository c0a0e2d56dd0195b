/*
 * conn.h - the fleet's connection to Redis (issue 12): where it is, how to log in, and a
 * blocking connection with timeouts for hmacctl and hmacd's follower thread.
 *
 * --fleet URL (HMACD_FLEET): redis://HOST:PORT[/DB] (HOST a name, an IPv4 address or an IPv6
 * address in brackets; PORT 1..65535; DB 0..15, default 0) or unix:///PATH (an absolute path
 * that fits a Unix socket address). --fleet-password-file FILE: the password for AUTH, the
 * file's first line (a password is never on a command line; the file must not be readable by
 * others: mode & 007 == 0). --fleet-prefix P (default "hmacd:"): every Redis key of the fleet
 * starts with it, so fleets can share a Redis; 1..64 bytes of [A-Za-z0-9._:/-].
 *
 * Uses hiredis 0.14's blocking API (redisConnectWithTimeout, redisConnectUnixWithTimeout,
 * redisSetTimeout, redisCommand / redisAppendCommand + redisGetReply).
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

struct hm_fleet_url {
	bool unix_socket;
	char host[256]; /* without brackets */
	uint16_t port;
	char path[108];
	unsigned db;
};

/*
 * Parses url into *out. HM_OK or HM_EINVAL with err saying what is wrong (the URL may be
 * quoted: it holds no secret; a password in the URL, "redis://:pw@host", is refused: use the
 * password file).
 */
int hm_fleet_url_parse(const char *url, struct hm_fleet_url *out, char *err,
		       size_t cap) HM_MUSTCHECK;

/* A valid --fleet-prefix. */
bool hm_fleet_prefix_ok(const char *prefix);

/*
 * Reads the password file (its first line, without the newline; 1..HM_FLEET_PASSWORD_MAX
 * bytes) into pw (NUL-terminated). HM_OK; HM_ENOTFOUND; HM_ESTATE (readable by others, not a
 * regular file); HM_EINVAL (empty or too long); HM_EIO. Never quotes the password.
 */
int hm_fleet_password_load(const char *path, char pw[static HM_FLEET_PASSWORD_MAX + 1], char *err,
			   size_t cap) HM_MUSTCHECK;

/*
 * Connects (within timeout_ms, which also becomes the timeout of every later command), AUTHs
 * with password when it is not NULL, SELECTs url->db when not 0, and checks the server answers
 * PING. HM_OK with *out; HM_ECONN (cannot connect, or the server answered an error: err
 * says which, without the password); HM_ENOMEM.
 */
int hm_fleet_connect(const struct hm_fleet_url *url, const char *password, int timeout_ms,
		     redisContext **out, char *err, size_t cap) HM_MUSTCHECK;

/*
 * Runs one command (redisCommandArgv: binary-safe) and returns its reply, or NULL when the
 * connection failed (err set; the context is then unusable: free it and reconnect). An error
 * reply is returned as a reply of type REDIS_REPLY_ERROR, for the caller to judge.
 */
redisReply *hm_fleet_cmd(redisContext *c, int argc, const char **argv, const size_t *lens,
			 char *err, size_t cap);

#endif
