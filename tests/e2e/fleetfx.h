/*
 * fleetfx.h - what the fleet end-to-end tests share (e2e_fleet.c, e2e_fleet_nonces.c): one real
 * redis-server (tests/lib/redis.h), the fleet's seal key and its `init`, real hmacd hosts
 * following it (--fleet, each with its own socket and --db mirror, plus the test's arguments),
 * hmacctl run with its output captured, a direct hiredis connection playing whoever controls
 * Redis, the daemons' stats rows by name, and deadlines for polling.
 *
 * Deadlines are hang guards, multiplied by `scale` (10 under HMACD_TEST_VALGRIND=1): they catch
 * a hang, they measure nothing. The helpers are cmocka's: each fails the running test on what it
 * cannot do.
 */
#ifndef HM_FLEETFX_H
#define HM_FLEETFX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "fleet/seal.h"
#include "harness.h"
#include "tests/lib/redis.h"

#define FF_MAX_HOSTS 6

/* A command's exit status and its output, cut at the buffers' size. */
struct ff_run {
	int status; /* exit status; 128 + signal */
	char out[16384];
	char err[4096];
};

struct ff_host {
	struct hd d;
	struct hmacd_client *c; /* NULL while disconnected */
};

struct ff {
	char dir[64];             /* seal key, redis/ */
	char rdir[96];            /* the redis-server's directory */
	struct tl_redis r;
	char url[160];            /* unix://<its socket> */
	char seal[128];           /* the fleet's seal key file */
	char fleet_args[400];     /* --fleet URL --seal-key-file F, for hmacctl */
	struct hm_seal s;         /* the fleet's seal key, to derive names as the hosts do */
	bool s_init;
	struct ff_host h[FF_MAX_HOSTS];
	int scale;                /* deadlines x10 under valgrind */
};

/*
 * 77 after a line on stderr saying why, when prog cannot run here (no redis-server on PATH, or
 * a daemon of HMACD_TEST_SOCKET, since the fleet tests start their own); else 0.
 */
int ff_skip_reason(const char *prog);

/*
 * A temporary directory, a redis-server in it (with persist, an append-only file fsynced at
 * every write), a seal key, `hmacctl --fleet ... init`. No host yet.
 */
void ff_setup(struct ff *f, bool persist);
/* Stops every host that runs (under valgrind, its errors and leaks fail here), Redis, the dir. */
void ff_teardown(struct ff *f);

/* `hmacctl seal-key generate --out path` */
void ff_gen_seal_key(struct ff *f, const char *path);

/* Host i: hmacd --fleet URL --seal-key-file F `extra` (may be ""), then a client connected. */
void ff_host_start(struct ff *f, int i, const char *extra);
/* Disconnects, stops (SIGTERM: exit status 0 wanted) and removes host i's directory. */
void ff_host_stop(struct ff *f, int i);
void ff_host_connect(struct ff_host *h);
void ff_host_disconnect(struct ff_host *h);

int64_t ff_mono_ms(void);
void ff_nap_ms(long ms);
const char *ff_env_or(const char *name, const char *def);
bool ff_valgrind(void);
/* A deadline deadline_ms * scale from now (ff_mono_ms()). */
int64_t ff_deadline(const struct ff *f, int deadline_ms);
/* Fails the test with the message once the deadline has passed; naps 2 ms otherwise. */
void ff_wait_or_fail(int64_t deadline, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* argv from a space-separated line (in place); at most max - 1 words. */
void ff_split(char *s, char **argv, int max);
/*
 * Runs argv with in[0..inlen) on its stdin (then closed; at most 4096 bytes), stdout and stderr
 * captured. Fails the test if it has not ended within wait_ms.
 */
void ff_run_argv(char *const argv[], const void *in, size_t inlen, int wait_ms,
		 struct ff_run *res);
/* Runs `hmacctl ARGS` (ARGS split on spaces), in[0..inlen) on its stdin; returns its status. */
int ff_ctl_in(struct ff *f, struct ff_run *res, const void *in, size_t inlen, const char *fmt,
	      ...) __attribute__((format(printf, 5, 6)));
#define ff_ctl(f, res, ...) ff_ctl_in(f, res, NULL, 0, __VA_ARGS__)
/* hmacctl --fleet ... ARGS must exit 0 */
#define ff_fctl_ok(f, res, fmt, ...)                                                          \
	do {                                                                                  \
		if (ff_ctl(f, res, "%s " fmt, (f)->fleet_args, __VA_ARGS__) != 0)             \
			fail_msg("hmacctl %s: exit %d: %s", fmt, (res)->status, (res)->err);  \
	} while (0)

/* The base64 "secret" of hmacctl's --json output, decoded into 32 bytes; its "epoch". */
void ff_json_secret(const char *json, uint8_t secret[32]);
uint32_t ff_json_epoch(const char *json);

/* A blocking connection to the test's Redis, and a command that must not fail. */
redisContext *ff_rconnect(const struct tl_redis *r);
redisReply *ff_rcmd(redisContext *c, const char *fmt, ...);

/*
 * The daemon's stats rows names[0..n) into values[0..n), from one stats request; each row must
 * be there. ff_stat: one row. ff_has_stat: whether a row is there at all.
 */
void ff_stats(struct ff_host *h, const char *const *names, uint64_t *values, size_t n);
uint64_t ff_stat(struct ff_host *h, const char *name);
bool ff_has_stat(struct ff_host *h, const char *name);

#endif
