/*
 * fleetenv.h - a fleet of the bench's own (fleet mode, doc/fleet.md), shared by
 * hmacd-fleet-bench (fleet_propagation.c) and hmacd-bench --fleet (fleet.c), so that both set
 * it up the same way: a redis-server in a temporary directory (a Unix socket, no persistence;
 * on 127.0.0.1 too, and with replicas of it, when asked), the real hmacctl for the seal key, the
 * fleet and its scopes, and processes timed from /proc.
 *
 * Built with fleet mode only (hiredis). Functions return HM_OK or a code of proto/errors.h and
 * say why in a caller's buffer; nothing here exits.
 */
#ifndef HM_BENCH_FLEETENV_H
#define HM_BENCH_FLEETENV_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>

#include "proto/errors.h"

#define BF_SUN_PATH sizeof(((struct sockaddr_un *)0)->sun_path)

/* Formats into buf; false (and buf "") if it does not fit. */
bool bf_fmt(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * The binary to run: `given`, else $env, else DIR/../daemon/NAME next to the running program
 * (libtool's bench/.libs/ counted as bench/), else installed_dir/NAME. Returns given, the
 * environment's string or buf.
 */
const char *bf_find_binary(const char *given, const char *env, const char *name,
			   const char *installed_dir, char *buf, size_t cap);

/*
 * Runs argv (PATH searched) with its stdout into out (NUL-terminated, at most cap - 1 bytes
 * kept, the rest read and dropped), stderr inherited. HM_OK if it exited 0; HM_EIO otherwise,
 * with why.
 */
int bf_run(const char *const *argv, char *out, size_t cap, char *why, size_t whycap) HM_MUSTCHECK;

/* `hmacctl --fleet URL --seal-key-file F ARGS...` (args NULL-terminated), as bf_run(). */
int bf_hmacctl(const char *hmacctl, const char *url, const char *seal_file,
	       const char *const *args, char *out, size_t cap, char *why,
	       size_t whycap) HM_MUSTCHECK;

/* rm -rf dir (our own temporary directory only); "" does nothing. */
void bf_remove_tree(const char *dir);

/* utime + stime of pid (every thread) from /proc/PID/stat, in seconds; 0 if unreadable. */
double bf_proc_cpu_s(pid_t pid);

/* The first "model name" of /proc/cpuinfo, or "unknown". */
void bf_cpu_model(char *out, size_t cap);

struct bf_redis {
	char sock[BF_SUN_PATH]; /* DIR/NAME.sock */
	char url[BF_SUN_PATH + 16]; /* unix://DIR/NAME.sock */
	char log[BF_SUN_PATH + 16]; /* DIR/NAME.log */
	uint16_t port;          /* 127.0.0.1's port; 0: Unix socket only */
	pid_t pid;              /* -1: not running */
};

struct bf_redis_opts {
	const char *bin;    /* redis-server to run (PATH searched) */
	const char *dir;    /* an existing directory: its socket, log (and nothing else) */
	const char *name;   /* "redis": DIR/redis.sock, DIR/redis.log */
	bool tcp;           /* also listen on 127.0.0.1 at a free port (replicas need it) */
	uint16_t replicaof; /* a replica of the server on 127.0.0.1 at this port; 0: a master */
	const cpu_set_t *cpus; /* its CPU affinity, or NULL */
};

/*
 * redis-server --save '' --appendonly no on DIR/NAME.sock (mode 0700) and as asked, waiting
 * until its socket accepts connections. HM_OK; HM_EINVAL (paths too long); HM_EIO (why says
 * what, naming the log). r->pid is -1 unless it runs.
 */
int bf_redis_start(const struct bf_redis_opts *o, struct bf_redis *r, char *why,
		   size_t cap) HM_MUSTCHECK;

/* SIGTERM and a bounded wait for exit status 0; HM_OK if not running. */
int bf_redis_stop(struct bf_redis *r, char *why, size_t cap) HM_MUSTCHECK;

/*
 * Waits up to timeout_ms until n replicas hold everything the master r has been written
 * (`WAIT n 100`, repeated, answers n or more): the replicas are connected and in sync.
 * HM_OK; HM_ETIMEDOUT; HM_ECONN.
 */
int bf_redis_wait_replicas(const struct bf_redis *r, unsigned n, int timeout_ms, char *why,
			   size_t cap) HM_MUSTCHECK;

#endif
