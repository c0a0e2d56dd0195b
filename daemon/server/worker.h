/*
 * worker.h - a worker thread: its own event loop, key-store reader, verifier and connections.
 *
 * Threading model (doc/design.md): the main thread accepts connections and hands each fd to a
 * worker, round robin, through the worker's locked fd queue and an eventfd wake-up. From then on
 * the connection lives on that worker alone. A worker's event base is created without locks
 * (EVENT_BASE_FLAG_NOLOCK): no other thread ever touches it. The only shared mutable state on
 * the hot path is the nonce cache (replay.h, sharded locks) and, read-only, other workers'
 * counters for the stats op (counter.h).
 */
#ifndef HM_WORKER_H
#define HM_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "server/claims.h"
#include "server/conn.h"
#include "server/handler.h"
#include "server/tally.h"
#include "store/keystore.h"
#include "engine/verify.h"

struct hm_worker {
	unsigned index;
	pthread_t thread;
	bool started;
	struct event_base *base;
	int wake_fd;               /* eventfd: new fds queued or stop requested */
	struct event *wake_ev;
	struct event *drain_timer; /* shutdown: connections get this long to finish */
	struct timeval drain_limit;
	pthread_mutex_t qlock;     /* guards queue, qlen, qcap */
	int *queue;
	size_t qlen, qcap;
	atomic_bool stop;
	struct hm_ks_reader *reader;
	struct hm_verifier *verifier;
	struct hm_handler handler;
	struct hm_conn_ctx conns;
	struct hm_claimer *claimer; /* fleet-wide nonce claims (claims.h), or NULL */
	struct hm_tally tally;      /* --metrics-listen: written here, read by the metrics thread */
	int64_t spin_max_ns;        /* --idle-spin: the spin's ceiling (worker.c, worker_turn) */
	int64_t spin_ns;            /* the spin's current budget, 0..spin_max_ns */
};

struct hm_worker_config {
	uint32_t max_frame;
	uint32_t max_batch;
	unsigned read_timeout; /* seconds */
	unsigned idle_spin;    /* --idle-spin: microseconds; 0: never spin */
	struct hm_verify_config verify;
	hm_stats_fn stats_fn;
	void *stats_arg;
	void (*on_close)(void *arg);
	void *on_close_arg;
	/* fleet mode with fleet-wide nonces: each worker's claimer is made from this; else NULL */
	const struct hm_claims_cfg *claims;
	/* --metrics-listen: keep a tally (tally.h); tenants: --metrics-tenants' table, or NULL */
	bool tally;
	struct hm_tenants *tenants;
};

/* Sets up worker `index` (not started). HM_OK, HM_ENOMEM, HM_ESTORE, HM_ECRYPTO, HM_EIO. */
int hm_worker_init(struct hm_worker *w, unsigned index, const struct hm_worker_config *cfg,
		   struct hm_keystore *ks, struct hm_replay *replay) HM_MUSTCHECK;
/* Starts the thread. HM_OK or HM_EIO. */
int hm_worker_start(struct hm_worker *w) HM_MUSTCHECK;
/* Gives a connected socket to the worker (any thread). HM_OK, or HM_ENOMEM (fd closed). */
int hm_worker_hand_off(struct hm_worker *w, int fd) HM_MUSTCHECK;
/* Asks the worker to finish its connections and exit (any thread); then hm_worker_join(). */
void hm_worker_stop(struct hm_worker *w);
void hm_worker_join(struct hm_worker *w);
/* Frees everything (after join, or if never started). */
void hm_worker_destroy(struct hm_worker *w);

#endif
