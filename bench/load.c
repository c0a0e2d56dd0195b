/*
 * load.c - the load generator (see bench.h).
 *
 * Closed loop, like redis-benchmark: each connection keeps --pipeline frames in flight and sends
 * a new one as soon as an answer comes back. Connections are spread over --gen-threads threads,
 * each with its own epoll set (level-triggered), histogram and counters; nothing is shared
 * between them while the clock runs but three atomic flags.
 *
 * Per connection the frames in flight are a ring of --pipeline slots, oldest first. The newest
 * `nunsent` of them are not fully written yet; everything the socket takes is written with one
 * writev(). A frame's latency runs from the clock read just before the writev() that carries its
 * first byte to the clock read just after the read() that completes its answer: what a client
 * waits, including its own wake-up, not including the time a frame queued behind the pipeline
 * limit (closed-loop latency, as redis-benchmark reports it).
 *
 * Every answer is decoded with hm_response_decode() and checked: the id is the id of the oldest
 * frame in flight (the daemon answers in order), there is one result per item, and each result
 * is the verdict setup.c expected. Anything else is counted as a mismatch or an error.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "proto/frame.h"
#include "proto/msg.h"

#define RBUF_SIZE (256u << 10)  /* answers are ~20 bytes + 1 per item: many per read() */
#define MAX_IOV 64
#define MAX_ANSWER (RBUF_SIZE - HM_FRAME_HEADER) /* results of 65536 items fit */
#define POLL_MS 100             /* longest epoll wait: how often deadlines and stalls are seen */

struct run {
	const struct bench_opts *o;
	const struct bench_pool *pool;
	uint64_t t_measure;  /* answers from here on are measured */
	uint64_t t_deadline; /* no new frame is sent from here on (UINT64_MAX: --requests) */
	atomic_bool abort;     /* a thread hit an error that ends the run */
	atomic_bool exhausted; /* --nonce: a connection ran out of unique frames */
	atomic_bool stalled;
	pthread_mutex_t lock; /* with `cond`: holds the threads until `go` */
	pthread_cond_t cond;
	bool go;
};

struct lconn {
	int fd;
	size_t next;      /* next pool frame to queue */
	size_t end;       /* unique pools: this connection owns frames [.., end) */
	uint64_t left;    /* frames still to queue (UINT64_MAX: until the deadline) */
	size_t *qf;       /* ring of frames in flight (pipeline slots) */
	uint64_t *qt;     /* when each one's first byte was written (0: not yet) */
	unsigned qhead, qlen;
	unsigned nunsent; /* the newest nunsent frames of the ring are not fully written */
	size_t woff;      /* bytes of the oldest unsent frame already written */
	uint8_t *rbuf;
	size_t rlen;
	bool want_out;
};

struct gen {
	struct run *run;
	pthread_t tid;
	int ep;
	struct lconn **conns;
	unsigned nconns;
	struct bench_tally tally, warm;
	struct hm_hist *lat;
	uint64_t last_answer; /* clock of the last answer read */
	char err[160];
};

static void gen_fail(struct gen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records the first problem of this thread and counts it as an error. */
static void gen_fail(struct gen *g, const char *fmt, ...)
{
	va_list ap;

	g->tally.errors++;
	if (g->err[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(g->err, sizeof(g->err), fmt, ap);
	va_end(ap);
}

static size_t frame_len(const struct bench_pool *p, size_t f)
{
	return p->off[f + 1] - p->off[f];
}

/* Can this connection queue another frame now? */
static bool can_queue(struct run *run, struct lconn *c, uint64_t now)
{
	if (c->left == 0 || now >= run->t_deadline || atomic_load(&run->abort) ||
	    atomic_load(&run->exhausted))
		return false;
	if (run->pool->unique && c->next >= c->end) {
		/* with --requests the pool holds exactly enough frames: this cannot happen */
		atomic_store(&run->exhausted, true);
		return false;
	}
	return true;
}

static void queue_frames(struct run *run, struct lconn *c, uint64_t now)
{
	const unsigned depth = run->o->pipeline;

	while (c->qlen < depth && can_queue(run, c, now)) {
		unsigned slot = (c->qhead + c->qlen) % depth;

		c->qf[slot] = c->next;
		c->qt[slot] = 0;
		c->qlen++;
		c->nunsent++;
		if (c->left != UINT64_MAX)
			c->left--;
		c->next++;
		if (!run->pool->unique && c->next == run->pool->nframes)
			c->next = 0; /* cycle through the pool */
	}
}

static void set_want_out(struct gen *g, struct lconn *c, bool on)
{
	struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};

	if (c->want_out == on)
		return;
	if (epoll_ctl(g->ep, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
		gen_fail(g, "epoll_ctl: %s", strerror(errno));
		atomic_store(&g->run->abort, true);
		return;
	}
	c->want_out = on;
}

/* Writes as much of the unsent frames as the socket takes, in one writev(). */
static void flush(struct gen *g, struct lconn *c)
{
	const struct bench_pool *p = g->run->pool;
	const unsigned depth = g->run->o->pipeline;
	struct iovec iov[MAX_IOV];
	unsigned first = c->qlen - c->nunsent, niov = 0;
	size_t pos = 0;
	uint64_t t;
	ssize_t w;

	if (c->nunsent == 0) {
		set_want_out(g, c, false);
		return;
	}
	for (unsigned k = 0; k < c->nunsent && niov < MAX_IOV; k++) {
		size_t f = c->qf[(c->qhead + first + k) % depth];
		const uint8_t *base = p->bytes + p->off[f] + (k == 0 ? c->woff : 0);
		size_t len = frame_len(p, f) - (k == 0 ? c->woff : 0);

		/* frames next to each other in the pool go out as one piece */
		struct iovec *last = niov > 0 ? &iov[niov - 1] : NULL;

		if (last != NULL && (const uint8_t *)last->iov_base + last->iov_len == base)
			last->iov_len += len;
		else
			iov[niov++] = (struct iovec){(void *)base, len};
	}
	t = bench_now_ns();
	w = writev(c->fd, iov, (int)niov);
	if (w < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
			set_want_out(g, c, true);
			return;
		}
		gen_fail(g, "writev: %s", strerror(errno));
		atomic_store(&g->run->abort, true);
		return;
	}
	/* stamp the frames whose first byte went out now, and drop what was written */
	for (unsigned k = 0; c->nunsent > 0 && pos < (size_t)w; k++) {
		unsigned slot = (c->qhead + first + k) % depth;
		size_t rest = frame_len(p, c->qf[slot]) - c->woff;

		if (c->woff == 0)
			c->qt[slot] = t;
		if ((size_t)w - pos >= rest) {
			pos += rest;
			c->woff = 0;
			c->nunsent--;
		} else {
			c->woff += (size_t)w - pos;
			pos = (size_t)w;
		}
	}
	set_want_out(g, c, c->nunsent > 0);
}

/* Checks one answer against the oldest frame in flight, then retires that frame. */
static void answer(struct gen *g, struct lconn *c, const uint8_t *payload, size_t len, uint64_t t)
{
	struct run *run = g->run;
	const struct bench_pool *p = run->pool;
	const unsigned depth = run->o->pipeline;
	bool measured = t >= run->t_measure;
	struct bench_tally *tl = measured ? &g->tally : &g->warm;
	struct hm_response resp;
	size_t f;
	uint64_t v;

	if (c->qlen - c->nunsent == 0) {
		gen_fail(g, "an answer arrived with no frame in flight");
		atomic_store(&run->abort, true);
		return;
	}
	f = c->qf[c->qhead];
	if (measured)
		hm_hist_record(g->lat, t - c->qt[c->qhead]);
	c->qhead = (c->qhead + 1) % depth;
	c->qlen--;
	tl->frames++;
	if (hm_response_decode(payload, len, &resp) != HM_OK) {
		gen_fail(g, "frame %zu: the answer breaks the protocol", f);
		return;
	}
	if (resp.kind == HM_RESP_ERROR) {
		gen_fail(g, "frame %zu: error response \"%.*s\": %.*s", f, (int)resp.err.len,
			 (const char *)resp.err.ptr, (int)resp.err_text.len,
			 (const char *)resp.err_text.ptr);
		return;
	}
	if (resp.kind != HM_RESP_RESULTS || !resp.has_id || resp.id != f ||
	    resp.nresults != p->batch) {
		gen_fail(g, "frame %zu: answer of the wrong kind, id or length (id %" PRIu64
			 ", %" PRIu32 " results)", f, resp.id, resp.nresults);
		return;
	}
	tl->items += p->batch;
	for (uint32_t j = 0; j < p->batch; j++) {
		uint8_t want = p->expect[f * p->batch + j];

		if (hm_mp_read_uint(&resp.results, &v) != HM_OK) {
			gen_fail(g, "frame %zu: result %" PRIu32 " is not a uint", f, j);
			return;
		}
		tl->verdicts[v < HM_V__COUNT ? v : HM_V__COUNT]++;
		if (v != want) {
			if (tl->mismatches++ == 0 && g->err[0] == '\0')
				snprintf(g->err, sizeof(g->err),
					 "frame %zu item %" PRIu32 ": verdict %" PRIu64 " (%s), "
					 "expected %u (%s)", f, j, v, hm_verdict_name((unsigned)v),
					 want, hm_verdict_name(want));
		}
	}
}

/* Reads what the socket has, handles every complete answer, then sends more frames. */
static void on_readable(struct gen *g, struct lconn *c)
{
	size_t pos = 0, flen;
	uint32_t plen;
	ssize_t n;
	uint64_t t;
	int rc;

	n = read(c->fd, c->rbuf + c->rlen, RBUF_SIZE - c->rlen);
	t = bench_now_ns();
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		gen_fail(g, "read: %s", strerror(errno));
		atomic_store(&g->run->abort, true);
		return;
	}
	if (n == 0) {
		gen_fail(g, "the daemon closed a connection (%u frames in flight)", c->qlen);
		atomic_store(&g->run->abort, true);
		return;
	}
	c->rlen += (size_t)n;
	g->last_answer = t;
	for (;;) {
		rc = hm_frame_parse(c->rbuf + pos, c->rlen - pos, MAX_ANSWER, &plen, &flen);
		if (rc == HM_EAGAIN)
			break;
		if (rc != HM_OK) {
			gen_fail(g, "an answer announces %" PRIu32 " bytes", plen);
			atomic_store(&g->run->abort, true);
			return;
		}
		answer(g, c, c->rbuf + pos + HM_FRAME_HEADER, plen, t);
		pos += flen;
	}
	if (pos > 0) {
		memmove(c->rbuf, c->rbuf + pos, c->rlen - pos);
		c->rlen -= pos;
	}
	queue_frames(g->run, c, t);
	flush(g, c);
}

/* True while this thread has frames in flight or may still send some. */
static bool busy(struct gen *g, uint64_t now)
{
	for (unsigned i = 0; i < g->nconns; i++)
		if (g->conns[i]->qlen > 0 || can_queue(g->run, g->conns[i], now))
			return true;
	return false;
}

static void *gen_main(void *arg)
{
	struct gen *g = arg;
	struct run *run = g->run;
	struct epoll_event evs[64];
	uint64_t now, stall_ns = (uint64_t)(run->o->stall_timeout * 1e9);
	int n, timeout;

	pthread_mutex_lock(&run->lock);
	while (!run->go)
		pthread_cond_wait(&run->cond, &run->lock);
	pthread_mutex_unlock(&run->lock);
	now = bench_now_ns();
	g->last_answer = now;
	for (unsigned i = 0; i < g->nconns; i++) {
		queue_frames(run, g->conns[i], now);
		flush(g, g->conns[i]);
	}
	while (!atomic_load(&run->abort) && busy(g, now)) {
		timeout = POLL_MS;
		if (run->t_deadline > now && run->t_deadline - now < (uint64_t)POLL_MS * 1000000u)
			timeout = (int)((run->t_deadline - now) / 1000000u) + 1;
		n = epoll_wait(g->ep, evs, 64, timeout);
		if (n < 0 && errno != EINTR) {
			gen_fail(g, "epoll_wait: %s", strerror(errno));
			atomic_store(&run->abort, true);
			break;
		}
		for (int i = 0; i < n; i++) {
			struct lconn *c = evs[i].data.ptr;

			if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				on_readable(g, c);
			if ((evs[i].events & EPOLLOUT) && !atomic_load(&run->abort))
				flush(g, c);
		}
		now = bench_now_ns();
		if (now - g->last_answer > stall_ns) {
			gen_fail(g, "no answer for %.0f s with frames in flight: the daemon "
				 "stalled", run->o->stall_timeout);
			atomic_store(&run->stalled, true);
			atomic_store(&run->abort, true);
		}
	}
	return NULL;
}

static int connect_unix(const char *path, int *out, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, n, fl;

	n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path too long");
		return HM_EINVAL;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return HM_ECONN;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		snprintf(err, errlen, "connect %s: %s", path, strerror(errno));
		close(fd);
		return HM_ECONN;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) {
		snprintf(err, errlen, "fcntl: %s", strerror(errno));
		close(fd);
		return HM_ECONN;
	}
	*out = fd;
	return HM_OK;
}

/*
 * Which frames connection i of n sends. A unique pool is cut into n slices, one per connection
 * (with --requests the pool holds exactly the frames to send, so a slice is a connection's
 * share). A cycled pool is shared, each connection starting at its own point.
 */
void bench_load_slice(const struct bench_opts *o, const struct bench_pool *p, unsigned i,
		      unsigned n, size_t *first, size_t *count)
{
	uint64_t total = o->requests ? (o->requests + p->batch - 1) / p->batch : p->nframes;

	*first = 0;
	*count = 0;
	if (!p->unique)
		return;
	*first = (size_t)(i * (total / n) + (i < total % n ? i : total % n));
	*count = (size_t)(total / n + (i < total % n ? 1 : 0));
}

static void assign(const struct bench_opts *o, const struct bench_pool *p, unsigned i,
		   unsigned n, struct lconn *c)
{
	uint64_t total = o->requests ? (o->requests + p->batch - 1) / p->batch : p->nframes;
	uint64_t share = total / n + (i < total % n ? 1 : 0);

	c->left = o->requests ? share : UINT64_MAX;
	if (p->unique) {
		size_t first, count;

		bench_load_slice(o, p, i, n, &first, &count);
		c->next = first;
		c->end = first + count;
	} else {
		c->next = p->nframes * i / n;
		c->end = p->nframes;
	}
}

static void conn_free(struct lconn *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->qf);
	free(c->qt);
	free(c->rbuf);
	free(c);
}

int bench_load_run(const struct bench_opts *o, const struct bench_pool *pool,
		   const char *socket_path, bench_mark_fn mark, void *arg,
		   struct bench_load_result *res)
{
	struct run run = {.o = o,
			  .pool = pool,
			  .lock = PTHREAD_MUTEX_INITIALIZER,
			  .cond = PTHREAD_COND_INITIALIZER};
	struct lconn **conns = NULL;
	struct gen *gens = NULL;
	unsigned ng = o->gen_threads < o->connections ? o->gen_threads : o->connections;
	unsigned started = 0;
	uint64_t t_end = 0;
	int rc = HM_ENOMEM;

	memset(res, 0, sizeof(*res));
	res->lat = malloc(sizeof(*res->lat));
	conns = calloc(o->connections, sizeof(*conns));
	gens = calloc(ng, sizeof(*gens));
	if (res->lat == NULL || conns == NULL || gens == NULL)
		goto out;
	for (unsigned t = 0; t < ng; t++)
		gens[t].ep = -1;
	hm_hist_init(res->lat);
	for (unsigned i = 0; i < o->connections; i++) {
		struct lconn *c = calloc(1, sizeof(*c));

		if (c == NULL)
			goto out;
		c->fd = -1;
		conns[i] = c;
		c->qf = calloc(o->pipeline, sizeof(*c->qf));
		c->qt = calloc(o->pipeline, sizeof(*c->qt));
		c->rbuf = malloc(RBUF_SIZE);
		if (c->qf == NULL || c->qt == NULL || c->rbuf == NULL)
			goto out;
		assign(o, pool, i, o->connections, c);
		rc = connect_unix(socket_path, &c->fd, res->first_error, sizeof(res->first_error));
		if (rc != HM_OK)
			goto out;
		rc = HM_ENOMEM;
	}
	for (unsigned t = 0; t < ng; t++) {
		struct gen *g = &gens[t];

		g->run = &run;
		g->lat = malloc(sizeof(*g->lat));
		g->conns = calloc(o->connections / ng + 1, sizeof(*g->conns));
		if (g->lat == NULL || g->conns == NULL)
			goto out;
		hm_hist_init(g->lat);
		g->ep = epoll_create1(EPOLL_CLOEXEC);
		if (g->ep < 0) {
			snprintf(res->first_error, sizeof(res->first_error), "epoll_create1: %s",
				 strerror(errno));
			rc = HM_EIO;
			goto out;
		}
	}
	for (unsigned i = 0; i < o->connections; i++) {
		struct gen *g = &gens[i % ng];
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = conns[i]};

		g->conns[g->nconns++] = conns[i];
		if (epoll_ctl(g->ep, EPOLL_CTL_ADD, conns[i]->fd, &ev) != 0) {
			snprintf(res->first_error, sizeof(res->first_error), "epoll_ctl: %s",
				 strerror(errno));
			rc = HM_EIO;
			goto out;
		}
	}
	/* no frame is sent before `go`: connecting and thread start-up are not measured */
	run.t_measure = UINT64_MAX;
	run.t_deadline = UINT64_MAX;
	rc = HM_OK;
	for (; started < ng; started++) {
		if (pthread_create(&gens[started].tid, NULL, gen_main, &gens[started]) != 0) {
			snprintf(res->first_error, sizeof(res->first_error),
				 "pthread_create failed");
			atomic_store(&run.abort, true);
			rc = HM_EIO;
			break;
		}
	}
	if (rc == HM_OK) {
		if (o->warmup <= 0)
			mark(arg);
		run.t_measure = bench_now_ns() + (uint64_t)(o->warmup * 1e9);
		if (o->duration > 0)
			run.t_deadline = run.t_measure + (uint64_t)(o->duration * 1e9);
	}
	pthread_mutex_lock(&run.lock);
	run.go = true; /* also lets the started threads out (and stop) after a failure */
	pthread_cond_broadcast(&run.cond);
	pthread_mutex_unlock(&run.lock);
	if (started < ng)
		goto join;
	if (o->warmup > 0) {
		/* sample the daemon when the measured window opens */
		struct timespec ts = {(time_t)(run.t_measure / 1000000000u),
				      (long)(run.t_measure % 1000000000u)};

		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		mark(arg);
	}
join:
	for (unsigned t = 0; t < started; t++)
		pthread_join(gens[t].tid, NULL);
	if (rc == HM_OK)
		mark(arg);
	for (unsigned t = 0; t < started; t++) {
		struct gen *g = &gens[t];

		bench_tally_add(&res->tally, &g->tally);
		bench_tally_add(&res->warm, &g->warm);
		hm_hist_merge(res->lat, g->lat);
		if (g->last_answer > t_end)
			t_end = g->last_answer;
		if (res->first_error[0] == '\0' && g->err[0] != '\0')
			snprintf(res->first_error, sizeof(res->first_error), "%s", g->err);
	}
	/* warm-up errors and mismatches fail the run too */
	res->tally.errors += res->warm.errors;
	res->tally.mismatches += res->warm.mismatches;
	res->elapsed = t_end > run.t_measure ? (double)(t_end - run.t_measure) / 1e9 : 0;
	res->pool_exhausted = atomic_load(&run.exhausted);
	res->stalled = atomic_load(&run.stalled);
out:
	for (unsigned t = 0; gens != NULL && t < ng; t++) {
		if (gens[t].ep >= 0)
			close(gens[t].ep);
		free(gens[t].conns);
		free(gens[t].lat);
	}
	free(gens);
	for (unsigned i = 0; conns != NULL && i < o->connections; i++)
		conn_free(conns[i]);
	free(conns);
	return rc;
}
