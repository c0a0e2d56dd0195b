/*
 * worker.c - worker threads (see worker.h for the threading model).
 */
#include "server/worker.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "server/log.h"

/* Responses waiting beyond this stop the connection from reading (conn.h). */
#define HM_OUT_HIGH_WATER (256u * 1024)
/* The adaptive spin before sleeping (worker_turn): its first budget, in ns (--idle-spin caps it). */
#define HM_SPIN_START_NS 10000

static void wake(struct hm_worker *w)
{
	uint64_t one = 1;

	/* EAGAIN means the counter is already non-zero: the worker will wake anyway */
	if (write(w->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		hm_err("worker %u: eventfd write: %s", w->index, strerror(errno));
}

static void on_idle(void *arg)
{
	struct hm_worker *w = arg;

	if (event_base_loopexit(w->base, NULL) != 0)
		hm_err("worker %u: event_base_loopexit failed", w->index);
}

static void on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct hm_worker *w = arg;

	(void)fd;
	(void)what;
	hm_warn("worker %u: closing connections that did not finish in time", w->index);
	hm_conn_close_all(&w->conns);
	on_idle(w);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct hm_worker *w = arg;
	uint64_t count;
	int batch[64];
	size_t n;

	(void)what;
	w->conns.events++;
	if (read(fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		hm_err("worker %u: eventfd read: %s", w->index, strerror(errno));
	for (;;) {
		pthread_mutex_lock(&w->qlock);
		n = w->qlen < 64 ? w->qlen : 64;
		if (n > 0) /* the queue is NULL until the first hand-off */
			memcpy(batch, w->queue + (w->qlen - n), n * sizeof(int));
		w->qlen -= n;
		pthread_mutex_unlock(&w->qlock);
		if (n == 0)
			break;
		for (size_t i = 0; i < n; i++) {
			if (atomic_load(&w->stop)) {
				close(batch[i]);
				if (w->conns.on_close != NULL)
					w->conns.on_close(w->conns.on_close_arg);
				continue;
			}
			if (hm_conn_open(&w->conns, batch[i]) != HM_OK) {
				hm_err("worker %u: out of memory for a connection", w->index);
				if (w->conns.on_close != NULL)
					w->conns.on_close(w->conns.on_close_arg);
			}
		}
	}
	if (atomic_load(&w->stop) && !w->conns.draining) {
		event_del(w->wake_ev);
		hm_conn_drain_all(&w->conns);
		if (w->conns.head != NULL && evtimer_add(w->drain_timer, &w->drain_limit) != 0)
			on_drain_timeout(-1, 0, w);
	}
}

int hm_worker_init(struct hm_worker *w, unsigned index, const struct hm_worker_config *cfg,
		   struct hm_keystore *ks, struct hm_replay *replay)
{
	struct event_config *ec = NULL;
	int rc;

	memset(w, 0, sizeof(*w));
	w->index = index;
	w->wake_fd = -1;
	atomic_init(&w->stop, false);
	if (pthread_mutex_init(&w->qlock, NULL) != 0)
		return HM_ENOMEM;
	ec = event_config_new();
	if (ec == NULL)
		return HM_ENOMEM;
	/* only this worker's thread touches its base */
	if (event_config_set_flag(ec, EVENT_BASE_FLAG_NOLOCK) != 0) {
		event_config_free(ec);
		return HM_EIO;
	}
	w->base = event_base_new_with_config(ec);
	event_config_free(ec);
	if (w->base == NULL)
		return HM_ENOMEM;
	w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->wake_fd < 0) {
		hm_err("eventfd: %s", strerror(errno));
		return HM_EIO;
	}
	w->wake_ev = event_new(w->base, w->wake_fd, EV_READ | EV_PERSIST, on_wake, w);
	if (w->wake_ev == NULL || event_add(w->wake_ev, NULL) != 0)
		return HM_ENOMEM;
	w->drain_timer = evtimer_new(w->base, on_drain_timeout, w);
	if (w->drain_timer == NULL)
		return HM_ENOMEM;
	w->drain_limit.tv_sec = (time_t)cfg->read_timeout;
	rc = hm_ks_reader_new(ks, &w->reader);
	if (rc != HM_OK)
		return rc;
	rc = hm_verifier_new(&cfg->verify, w->reader, replay, &w->verifier);
	if (rc != HM_OK)
		return rc;
	if (cfg->claims != NULL) {
		rc = hm_claimer_new(w->base, cfg->claims, &w->claimer);
		if (rc != HM_OK)
			return rc;
	}
	if (cfg->tally) {
		rc = hm_tally_init(&w->tally, cfg->tenants);
		if (rc != HM_OK)
			return rc;
		w->handler.tally = &w->tally;
	}
	w->handler.claimer = w->claimer;
	w->handler.verifier = w->verifier;
	w->handler.max_batch = cfg->max_batch;
	w->handler.stats_fn = cfg->stats_fn;
	w->handler.stats_arg = cfg->stats_arg;
	w->conns.base = w->base;
	w->conns.handler = &w->handler;
	w->conns.max_frame = cfg->max_frame;
	w->conns.read_timeout.tv_sec = (time_t)cfg->read_timeout;
	w->conns.out_high_water = HM_OUT_HIGH_WATER;
	/* high water plus the largest single response: a verify of max_batch items, or stats */
	w->conns.out_limit = HM_OUT_HIGH_WATER + (size_t)cfg->max_batch + 64 * 1024;
	w->conns.on_idle = on_idle;
	w->conns.on_idle_arg = w;
	w->conns.on_close = cfg->on_close;
	w->conns.on_close_arg = cfg->on_close_arg;
	w->spin_max_ns = (int64_t)cfg->idle_spin * 1000;
	w->spin_ns = 0;
	return HM_OK;
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC does not fail on Linux; if it did, every wait looks long: no spin */
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return INT64_MAX / 2;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * The spin's budget after a wait of `waited` ns that the spin did not end (the kernel's
 * haltpoll governor's rule): an event that came within the ceiling (--idle-spin) would have
 * been caught by a longer spin, so the budget doubles; one that came later halves it, down to
 * nothing. A worker that serves a steady trickle slower than the ceiling never spins.
 */
static void spin_adapt(struct hm_worker *w, int64_t waited)
{
	if (waited <= w->spin_ns)
		return;
	if (waited <= w->spin_max_ns) {
		w->spin_ns = w->spin_ns < HM_SPIN_START_NS / 2 ? HM_SPIN_START_NS : w->spin_ns * 2;
		if (w->spin_ns > w->spin_max_ns)
			w->spin_ns = w->spin_max_ns;
	} else {
		w->spin_ns /= 2;
		if (w->spin_ns < HM_SPIN_START_NS)
			w->spin_ns = 0;
	}
}

/*
 * One turn of the worker's loop: polls (epoll_wait with no timeout) for up to spin_ns before
 * it blocks, so that a request which follows the last answer closely finds the thread running
 * instead of waking it (on a VM, waking a halted vCPU costs tens of microseconds). Returns 1
 * while the loop goes on, 0 when it was asked to exit or has nothing left to wait for, -1 on
 * an error.
 */
static int worker_turn(struct hm_worker *w)
{
	const uint64_t seen = w->conns.events;
	const int64_t t0 = w->spin_max_ns > 0 ? mono_ns() : 0;
	int rc;

	while (w->spin_ns > 0) {
		rc = event_base_loop(w->base, EVLOOP_NONBLOCK);
		if (rc != 0 || event_base_got_exit(w->base))
			return rc < 0 ? -1 : 0;
		if (w->conns.events != seen)
			return 1; /* the spin paid */
		if (mono_ns() - t0 >= w->spin_ns)
			break;
	}
	rc = event_base_loop(w->base, EVLOOP_ONCE);
	if (rc != 0 || event_base_got_exit(w->base))
		return rc < 0 ? -1 : 0;
	if (w->spin_max_ns > 0)
		spin_adapt(w, mono_ns() - t0);
	return 1;
}

static void *worker_main(void *arg)
{
	struct hm_worker *w = arg;
	int rc;

	hm_debug("worker %u: running", w->index);
	while ((rc = worker_turn(w)) > 0)
		;
	if (rc < 0)
		hm_err("worker %u: event loop failed", w->index);
	hm_debug("worker %u: stopped", w->index);
	return NULL;
}

int hm_worker_start(struct hm_worker *w)
{
	int rc = pthread_create(&w->thread, NULL, worker_main, w);

	if (rc != 0) {
		hm_err("pthread_create: %s", strerror(rc));
		return HM_EIO;
	}
	w->started = true;
	return HM_OK;
}

int hm_worker_hand_off(struct hm_worker *w, int fd)
{
	pthread_mutex_lock(&w->qlock);
	if (w->qlen == w->qcap) {
		size_t ncap = w->qcap ? w->qcap * 2 : 64;
		int *q = realloc(w->queue, ncap * sizeof(int));

		if (q == NULL) {
			pthread_mutex_unlock(&w->qlock);
			close(fd);
			return HM_ENOMEM;
		}
		w->queue = q;
		w->qcap = ncap;
	}
	w->queue[w->qlen++] = fd;
	pthread_mutex_unlock(&w->qlock);
	wake(w);
	return HM_OK;
}

void hm_worker_stop(struct hm_worker *w)
{
	atomic_store(&w->stop, true);
	wake(w);
}

void hm_worker_join(struct hm_worker *w)
{
	int rc;

	if (!w->started)
		return;
	rc = pthread_join(w->thread, NULL);
	if (rc != 0)
		hm_err("pthread_join: %s", strerror(rc));
	w->started = false;
}

void hm_worker_destroy(struct hm_worker *w)
{
	if (w->base != NULL)
		hm_conn_close_all(&w->conns);
	hm_claimer_free(w->claimer); /* after the connections: their held claims are given back */
	for (size_t i = 0; i < w->qlen; i++)
		close(w->queue[i]);
	free(w->queue);
	hm_verifier_free(w->verifier);
	hm_ks_reader_free(w->reader);
	hm_tally_destroy(&w->tally);
	if (w->wake_ev != NULL)
		event_free(w->wake_ev);
	if (w->drain_timer != NULL)
		event_free(w->drain_timer);
	if (w->wake_fd >= 0)
		close(w->wake_fd);
	if (w->base != NULL)
		event_base_free(w->base);
	pthread_mutex_destroy(&w->qlock);
	memset(w, 0, sizeof(*w));
	w->wake_fd = -1;
}
