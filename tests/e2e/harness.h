/*
 * harness.h - end-to-end test harness: runs the real hmacd on a temporary socket and LMDB
 * directory, drives hmacctl, and hands out C clients (libhmacd).
 *
 * Environment (set by make check through AM_TESTS_ENVIRONMENT):
 *   HMACD, HMACCTL          paths of the binaries under test
 *   HMACD_TEST_VALGRIND=1   run the daemon under valgrind memcheck (errors fail the stop)
 *   HMACD_TEST_SOCKET=PATH  with HMACD_TEST_DB=DIR: use a daemon you started yourself (e.g.
 *                           under gdb) instead of starting one; tests that restart it skip.
 * Every test binary arms alarm() so a hang fails the run instead of stalling CI.
 */
#ifndef HM_HARNESS_H
#define HM_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <hmacd/client.h>

struct hd {
	char dir[64];     /* temporary directory holding both */
	char sock[128];
	char db[128];
	pid_t pid;        /* -1: not running (or external) */
	bool external;
	char extra[512];  /* extra daemon arguments, space separated */
	int nofile;       /* > 0: the daemon's RLIMIT_NOFILE */
};

/* Creates the temp dir and starts hmacd with `extra` arguments (may be ""). */
void hd_start(struct hd *d, const char *extra);
/* Like hd_start(), with the daemon's open-file limit set to `nofile`. */
void hd_start_nofile(struct hd *d, const char *extra, int nofile);
/* Starts the daemon again on the same socket and store. */
void hd_restart(struct hd *d);
/* SIGTERM, then hd_wait_exit(). */
void hd_stop(struct hd *d);
/*
 * Waits (10 s at most) for a daemon already told to stop; asserts exit status 0 and that the
 * socket file is gone.
 */
void hd_wait_exit(struct hd *d);
/* kill -9 and reap. */
void hd_kill9(struct hd *d);
/* Stops if running and removes the temp dir. */
void hd_cleanup(struct hd *d);

/*
 * Runs `hmacctl --db <db> <args>` (args split on spaces) and returns its exit status; its
 * stdout goes to out[0..outlen) (NUL-terminated) when out != NULL.
 */
int hd_ctl(struct hd *d, char *out, size_t outlen, const char *args);
/* key create / rotate through hmacctl --json; returns the epoch and fills secret. */
uint32_t hd_key_create(struct hd *d, const char *tenant, const char *container,
		       uint8_t secret[32]);
uint32_t hd_key_rotate(struct hd *d, const char *tenant, const char *container, unsigned grace,
		       uint8_t secret[32]);

/*
 * Like hd_ctl(), with in[0..inlen) written to hmacctl's stdin (then closed): for
 * `key import --secret-file -`. in may be NULL (stdin is then empty).
 */
int hd_ctl_in(struct hd *d, const void *in, size_t inlen, char *out, size_t outlen,
	      const char *args);

/* Key ids (issue 6): at most 128 bytes, so HD_KEYID_CAP holds one with its NUL. */
#define HD_KEYID_CAP 129
/*
 * key create / rotate --json with `--keyid keyid` when keyid is non-NULL; asserts exit 0,
 * returns the epoch, fills secret (32 bytes) and, when keyid_out is non-NULL, the key id in
 * force (the one given, or the generated one).
 */
uint32_t hd_key_create_id(struct hd *d, const char *tenant, const char *container,
			  const char *keyid, char keyid_out[HD_KEYID_CAP], uint8_t secret[32]);
uint32_t hd_key_rotate_id(struct hd *d, const char *tenant, const char *container,
			  unsigned grace, const char *keyid, char keyid_out[HD_KEYID_CAP],
			  uint8_t secret[32]);
/*
 * key import --secret-file - (raw bytes on stdin) --keyid keyid [--grace grace] --json;
 * asserts exit 0 and that the JSON names keyid; returns the epoch.
 */
uint32_t hd_key_import(struct hd *d, const char *tenant, const char *container,
		       const char *keyid, const uint8_t *secret, size_t len, unsigned grace);

/* A connected client (asserts success). */
struct hmacd_client *hd_client(struct hd *d);

/* Fills *it with a valid request for scope/epoch at ts, and signs it with secret. */
struct hd_req {
	struct hmacd_item item;
	struct hmacd_header headers[2];
	char path[128];
	char nonce[65];
	char tenant[129];
	char container[129];
	uint8_t body[256];
};
void hd_req_init(struct hd_req *r, const char *tenant, const char *container, uint32_t epoch,
		 uint64_t ts, const char *nonce, const uint8_t secret[32]);
/* Re-signs after a change. */
void hd_req_sign(struct hd_req *r, const uint8_t secret[32]);

/* Raw socket helpers for malformed-frame tests. */
int hd_raw_connect(struct hd *d);
/* Sends bytes; returns false if the peer closed. */
bool hd_raw_send(int fd, const void *p, size_t n);
/*
 * Reads one response frame (timeout_ms); returns the payload length, or -1 on EOF/close,
 * -2 on timeout. buf receives the payload.
 */
long hd_raw_recv(int fd, uint8_t *buf, size_t cap, int timeout_ms);

#endif
