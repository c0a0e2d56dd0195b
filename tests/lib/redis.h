/*
 * redis.h - a real redis-server for the fleet tests (built when configured with fleet mode).
 *
 * The server runs in a directory of the test's, DIR: it listens on the Unix socket
 * DIR/redis.sock (mode 0700) and, when asked, on 127.0.0.1 at a free port; it writes no
 * snapshot. With persist, it keeps an append-only file fsynced at every write, so that a
 * restart, after a stop or a SIGKILL, comes back with the data ("Redis back from its saved
 * data"); without, a restart comes back empty ("Redis back empty"). It logs to DIR/redis.log
 * (warnings only; a start-up failure quotes its last line). A password goes into
 * DIR/redis.conf (mode 0600), never on the command line, where ps would show it.
 *
 * Start-up waits until the server answers PING through hm_fleet_connect (so a persistent one
 * has loaded its data). The server is killed if the test dies (bench/spawn.h). No cmocka:
 * functions return codes and say why in err. Runs `redis-server` from PATH.
 */
#ifndef HM_TESTLIB_REDIS_H
#define HM_TESTLIB_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fleet/conn.h"

struct tl_redis;

struct tl_redis_opts {
	bool persist;         /* append-only file, fsync always: a restart keeps the data */
	bool tcp;             /* also listen on 127.0.0.1 at a free port (the kernel's pick
			       * for port 0, closed: another process could take it first) */
	const char *password; /* requirepass and masterauth (in DIR/redis.conf); NULL for
			       * none */
	const struct tl_redis *replica_of; /* a replica of that server (on its TCP port; tcp
					    * is implied) */
};

struct tl_redis {
	char dir[96];                    /* so that the socket's path fits sun_path */
	char sock[108];                  /* DIR/redis.sock */
	char conf[108];                  /* DIR/redis.conf; "" without a password */
	char password[HM_FLEET_PASSWORD_MAX + 1]; /* "" for none */
	bool persist;
	uint16_t port;                   /* 127.0.0.1's TCP port; 0 for none */
	uint16_t master_port;            /* a replica's master at start (its --replicaof) */
	bool never_promote;              /* --replica-priority 0: the sentinels never make it
					  * the master (set before tl_redis_restart()) */
	struct hm_fleet_url unix_url;    /* unix://DIR/redis.sock */
	struct hm_fleet_url tcp_url;     /* redis://127.0.0.1:port when port != 0 */
	pid_t pid;                       /* -1: not running */
};

/* True if redis-server is on PATH: the fleet tests skip themselves (and say so) when not. */
bool tl_redis_available(void);

/*
 * Starts redis-server in dir (an existing directory of the caller's, its name at most
 * 95 bytes), on the Unix socket only, without a password. HM_OK, with the server
 * answering; otherwise the failing step's code, err says why, and no server is left running.
 */
int tl_redis_start(struct tl_redis *r, const char *dir, bool persist, char *err, size_t cap);

/* The same with options: TCP on loopback, a password (o NULL: as tl_redis_start, no persist). */
int tl_redis_start_opts(struct tl_redis *r, const char *dir, const struct tl_redis_opts *o,
			char *err, size_t cap);

/* SIGTERM and a wait for exit status 0 (Redis flushes its append-only file). */
int tl_redis_stop(struct tl_redis *r, char *err, size_t cap);

/* SIGKILL and reap: Redis dies as in a crash. Nothing when it is not running. */
void tl_redis_kill(struct tl_redis *r);

/*
 * SIGSTOP, then waits (2 s at most) until the kernel says the process is stopped: kill()
 * returns before every thread of a busy server has stopped, and a command sent at once could
 * still be answered. tl_redis_resume() sends SIGCONT.
 */
void tl_redis_pause(struct tl_redis *r);
void tl_redis_resume(struct tl_redis *r);

/*
 * Stops the server if it runs, and starts it again in the same directory with the same socket,
 * port, password and persistence: with persist, the data comes back.
 */
int tl_redis_restart(struct tl_redis *r, char *err, size_t cap);

/*
 * Redis Sentinel (redis-sentinel, Debian's package of that name) for the high-availability
 * tests: one sentinel in a directory of the test's, DIR, on 127.0.0.1 at a free port and on
 * the Unix socket DIR/sent.sock, monitoring one master. Its configuration file
 * DIR/sentinel.conf (mode 0600: it holds the passwords, never a command line) is rewritten
 * by the sentinel as it learns (replicas, other sentinels, failovers). Logs to
 * DIR/sentinel.log.
 */
struct tl_sentinel_opts {
	const char *name;              /* the master's name */
	const struct tl_redis *master; /* on its TCP port; its password is the auth-pass */
	unsigned quorum;               /* 0: 2 */
	unsigned down_after_ms;        /* 0: 1000 */
	unsigned failover_timeout_ms;  /* 0: 2000 */
	const char *password;          /* the sentinel's own requirepass (and sentinel-pass,
					* which the sentinels use with each other); NULL none */
};

struct tl_sentinel {
	char dir[96];
	char sock[108];                  /* DIR/sent.sock */
	char conf[128];                  /* DIR/sentinel.conf */
	char password[HM_FLEET_PASSWORD_MAX + 1]; /* its requirepass; "" for none */
	uint16_t port;
	struct hm_fleet_url url;         /* redis://127.0.0.1:port, to ask it things */
	pid_t pid;
};

/* True if redis-sentinel is on PATH. */
bool tl_sentinel_available(void);

/* Starts a sentinel in dir (existing, at most 95 bytes), answering PING. As tl_redis_start. */
int tl_sentinel_start(struct tl_sentinel *s, const char *dir, const struct tl_sentinel_opts *o,
		      char *err, size_t cap);

/* SIGKILL and reap. Nothing when it is not running. */
void tl_sentinel_kill(struct tl_sentinel *s);

/* A blocking connection to the sentinel, logged in (HM_OK, or why in err). */
int tl_sentinel_connect(const struct tl_sentinel *s, redisContext **out, char *err, size_t cap);

/*
 * The master's port as the sentinel names it now (SENTINEL get-master-addr-by-name). HM_OK;
 * HM_ENOTFOUND; HM_ECONN.
 */
int tl_sentinel_master_port(const struct tl_sentinel *s, const char *name, uint16_t *port,
			    char *err, size_t cap);

/*
 * Waits (wait_ms at most) until the sentinel knows at least `replicas` replicas of the master
 * in sync (master-link-status ok) and `sentinels` other sentinels: a failover can then take
 * place. HM_OK; HM_ETIMEDOUT with what it knows in err.
 */
int tl_sentinel_wait_known(const struct tl_sentinel *s, const char *name, unsigned replicas,
			   unsigned sentinels, int wait_ms, char *err, size_t cap);

#endif
