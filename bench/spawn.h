/*
 * spawn.h - starting and stopping a real hmacd (or any daemon on a Unix socket), shared by the
 * benchmark (bench/daemon.c) and the end-to-end tests (tests/e2e/harness.c), so that both run
 * the daemon the same way: the child dies with its parent, start-up waits until the socket
 * accepts connections while watching that the child is alive, and a stop is SIGTERM and a
 * bounded wait for exit status 0.
 */
#ifndef HM_SPAWN_H
#define HM_SPAWN_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "proto/errors.h"

struct hm_spawn_opts {
	const char *const *argv; /* NULL-terminated; argv[0] is run, PATH searched if no '/' */
	const char *socket;      /* ready once this accepts a connection */
	int start_wait_ms;       /* 0: 10 s */
	int death_signal;        /* sent to the child when its parent dies (0: SIGKILL) */
	bool stdout_to_stderr;   /* keep the parent's stdout for itself (a --json report) */
	const cpu_set_t *cpus;   /* CPU affinity of the child, or NULL */
	rlim_t nofile;           /* RLIMIT_NOFILE of the child; 0: inherited */
};

/*
 * Starts the command and waits until o->socket accepts a connection. HM_OK with *pid set;
 * HM_EIO (fork failed, the child exited during start-up, or it did not listen in time: err
 * says which, and the child is killed and reaped in the last case).
 */
int hm_spawn_start(const struct hm_spawn_opts *o, pid_t *pid, char *err,
		   size_t errlen) HM_MUSTCHECK;

/*
 * SIGTERM, then waits up to wait_ms (0: 10 s) for the child to exit, killing it after that.
 * HM_OK if it exited with status 0; HM_EIO otherwise (err says how it ended).
 */
int hm_spawn_stop(pid_t pid, int wait_ms, char *err, size_t errlen) HM_MUSTCHECK;

/* Waits up to wait_ms for an already signalled child; as hm_spawn_stop() without the signal. */
int hm_spawn_wait(pid_t pid, int wait_ms, char *err, size_t errlen) HM_MUSTCHECK;

/* True if something accepts connections on the Unix socket at path. */
bool hm_spawn_can_connect(const char *path);

/*
 * A TCP port on 127.0.0.1 that nothing listens on now (the kernel's pick for port 0), for a
 * child that must listen on TCP (redis-server, redis-sentinel). HM_OK; HM_EIO (err says why).
 */
int hm_spawn_free_port(uint16_t *port, char *err, size_t errlen) HM_MUSTCHECK;

#endif
