/*
 * conn.c - the connection state machine (see conn.h).
 *
 * Buffers: `in` holds received bytes from in_off on; complete frames are handed to the handler
 * in place and consumed by moving in_off, and the leftover partial frame is moved to the front
 * once per event. `out` holds responses not yet written, from out_off on. Both keep their
 * memory between events, so a busy connection allocates nothing in steady state; an idle one
 * that grew past HM_CONN_KEEP bytes gives the memory back.
 */
#include "server/conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proto/frame.h"
#include "server/claims.h"
#include "server/log.h"

#define HM_CONN_READ_CHUNK (64u * 1024)
#define HM_CONN_KEEP (256u * 1024)

struct hm_conn {
	struct hm_conn_ctx *ctx;
	struct hm_conn *prev, *next;
	int fd;
	enum hm_conn_state state;
	bool peer_eof;    /* nothing more will be read: the client shut down its side, or the
			     daemon is shutting down and has read all that had arrived */
	bool finishing;   /* shutting down: read until the socket is empty, then stop */
	bool timer_armed; /* a partial frame is pending */
	struct event *rev, *wev, *timer;
	struct hm_buf in;
	size_t in_off;
	struct hm_buf out;
	size_t out_off;
	/*
	 * Frames whose answers wait for their fleet nonce claims (claims.h), oldest first: `out`
	 * is written up to the first one's start only, and not compacted meanwhile, so the
	 * offsets the claims patch stay right and answers leave in order.
	 */
	struct {
		struct hm_claim_set *set; /* NULL once answered */
		size_t start;             /* where the frame's answer begins in out */
	} held[HM_CONN_MAX_HELD];
	unsigned nheld;
};

const char *hm_conn_state_name(enum hm_conn_state s)
{
	static const char *const names[HM_CONN_STATE__MAX] = {
		[HM_CONN_READING] = "reading",
		[HM_CONN_BLOCKED] = "blocked",
		[HM_CONN_DRAINING] = "draining",
		[HM_CONN_CLOSED] = "closed",
	};

	return (unsigned)s < HM_CONN_STATE__MAX ? names[s] : "?";
}

static void conn_close(struct hm_conn *c, const char *why);

static void conn_timer_stop(struct hm_conn *c)
{
	if (c->timer_armed && event_del(c->timer) != 0)
		hm_warn("conn fd=%d: event_del failed", c->fd);
	c->timer_armed = false;
}

/*
 * The one place where a connection changes state. Returns false if the connection had to be
 * closed (and is freed): the caller must not touch it again.
 */
static bool conn_set_state(struct hm_conn *c, enum hm_conn_state s)
{
	if ((unsigned)s >= HM_CONN_STATE__MAX || c->state == s)
		return true;
	hm_debug("conn fd=%d: %s -> %s", c->fd, hm_conn_state_name(c->state), hm_conn_state_name(s));
	c->state = s;
	switch (s) {
	case HM_CONN_READING:
		if (event_add(c->rev, NULL) != 0) {
			conn_close(c, "event_add failed");
			return false;
		}
		break;
	case HM_CONN_BLOCKED:
		/* not reading is our choice, not the client's stall: no deadline meanwhile */
		conn_timer_stop(c);
		/* fall through */
	case HM_CONN_DRAINING:
		if (event_del(c->rev) != 0)
			hm_warn("conn fd=%d: event_del failed", c->fd);
		break;
	case HM_CONN_CLOSED:
	case HM_CONN_STATE__MAX:
		break;
	}
	return true;
}

static void conn_free(struct hm_conn *c)
{
	for (unsigned i = 0; i < c->nheld; i++)
		if (c->held[i].set != NULL)
			hm_claims_abandon(c->held[i].set);
	c->nheld = 0;
	if (c->rev != NULL)
		event_free(c->rev);
	if (c->wev != NULL)
		event_free(c->wev);
	if (c->timer != NULL)
		event_free(c->timer);
	if (c->fd >= 0)
		close(c->fd);
	hm_buf_free(&c->in);
	hm_buf_free(&c->out);
	free(c);
}

static void conn_close(struct hm_conn *c, const char *why)
{
	struct hm_conn_ctx *ctx = c->ctx;

	hm_debug("conn fd=%d: closed: %s", c->fd, why);
	(void)conn_set_state(c, HM_CONN_CLOSED);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		ctx->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	conn_free(c);
	hm_counter_add(&ctx->stats.closed, 1);
	hm_counter_add(&ctx->stats.current, (uint64_t)-1);
	if (ctx->on_close != NULL)
		ctx->on_close(ctx->on_close_arg);
	if (ctx->draining && ctx->head == NULL && ctx->on_idle != NULL)
		ctx->on_idle(ctx->on_idle_arg);
}

/* Where writing must stop: the first answer still waiting for its claims, else the end. */
static size_t conn_out_limit(const struct hm_conn *c)
{
	return c->nheld > 0 ? c->held[0].start : c->out.len;
}

/* Writes what is pending. false if the connection was closed. */
static bool conn_flush(struct hm_conn *c)
{
	size_t limit = conn_out_limit(c);
	ssize_t n;

	while (c->out_off < limit) {
		n = send(c->fd, c->out.data + c->out_off, limit - c->out_off, MSG_NOSIGNAL);
		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (event_add(c->wev, NULL) != 0) {
				conn_close(c, "event_add failed");
				return false;
			}
			return true;
		}
		if (errno != EPIPE && errno != ECONNRESET)
			hm_counter_add(&c->ctx->stats.io_errors, 1);
		conn_close(c, "write failed");
		return false;
	}
	/* all written, or all that may be written before a held answer */
	if (c->nheld == 0) {
		c->out.len = 0;
		c->out_off = 0;
		if (c->out.cap > HM_CONN_KEEP)
			hm_buf_free(&c->out);
	}
	if (event_del(c->wev) != 0)
		hm_warn("conn fd=%d: event_del failed", c->fd);
	return true;
}

/*
 * Moves the unconsumed bytes to the front and keeps the partial-frame deadline right: a frame
 * gets --read-timeout from the event in which its first bytes arrived. `progressed` says a frame
 * was completed in this event, so what is left is a new frame with a deadline of its own.
 * Trickling bytes into the same frame does not move its deadline.
 */
static bool conn_compact(struct hm_conn *c, bool progressed)
{
	if (c->in_off > 0) {
		hm_buf_consume(&c->in, c->in_off);
		c->in_off = 0;
	}
	if (c->in.len == 0) {
		if (c->in.cap > HM_CONN_KEEP)
			hm_buf_free(&c->in);
		conn_timer_stop(c);
	} else if (progressed || !c->timer_armed) {
		if (event_add(c->timer, &c->ctx->read_timeout) != 0) {
			conn_close(c, "event_add failed");
			return false;
		}
		c->timer_armed = true;
	}
	return true;
}

static void conn_claimed(void *arg, struct hm_claim_set *set);

/*
 * Hands complete frames to the handler, up to the per-event cap and the output high-water.
 * Returns false if the connection was closed; *more says a complete frame is still waiting.
 */
static bool conn_process(struct hm_conn *c, bool *more)
{
	struct hm_conn_ctx *ctx = c->ctx;
	int64_t now = (int64_t)time(NULL);
	uint32_t plen;
	size_t flen, start;
	unsigned frames;
	int rc;

	*more = false;
	/* responses still queued after a partial write go to the front: out stays bounded */
	if (c->out_off > 0 && c->nheld == 0) {
		hm_buf_consume(&c->out, c->out_off);
		c->out_off = 0;
	}
	for (frames = 0;; frames++) {
		rc = hm_frame_parse(c->in.data + c->in_off, c->in.len - c->in_off, ctx->max_frame,
				    &plen, &flen);
		if (rc == HM_EAGAIN)
			break;
		if (rc == HM_ETOOBIG) {
			hm_counter_add(&ctx->stats.oversize_frames, 1);
			hm_debug("conn fd=%d: frame of %u bytes announced, over --max-frame %u: closing",
				 c->fd, plen, ctx->max_frame);
			/* the frames before it were answered: send those answers if the socket takes
			 * them now (no waiting), then close */
			if (conn_flush(c))
				conn_close(c, "frame too big");
			return false;
		}
		if (c->nheld == HM_CONN_MAX_HELD)
			break; /* resumed when the oldest held answer is released (conn_claimed) */
		if (frames == HM_CONN_FRAMES_PER_EVENT || c->out.len - c->out_off >= ctx->out_high_water) {
			*more = true;
			break;
		}
		start = c->out.len;
		rc = hm_handle_frame(ctx->handler, c->in.data + c->in_off + HM_FRAME_HEADER, plen,
				     now, &c->out);
		if (ctx->handler->pending != NULL) {
			c->held[c->nheld].set = ctx->handler->pending;
			c->held[c->nheld].start = start;
			c->nheld++;
			ctx->handler->pending = NULL;
			hm_claims_send(c->held[c->nheld - 1].set, conn_claimed, c);
		}
		if (rc != HM_OK) {
			hm_warn("conn fd=%d: response could not be buffered: %s", c->fd,
				hm_strerror(rc));
			conn_close(c, "response buffer");
			return false;
		}
		c->in_off += flen;
	}
	return conn_compact(c, frames > 0);
}

/*
 * Reads once into `in`, unless a complete frame is already buffered: then the buffer never
 * holds more than one unfinished frame plus one read chunk. Returns false if the connection
 * was closed.
 */
static bool conn_read(struct hm_conn *c)
{
	size_t want = HM_CONN_READ_CHUNK, avail = c->in.len - c->in_off;
	uint32_t plen;
	size_t flen;
	ssize_t n;
	int rc;

	rc = hm_frame_parse(c->in.data + c->in_off, avail, c->ctx->max_frame, &plen, &flen);
	if (rc != HM_EAGAIN)
		return true; /* a whole frame (or an oversize header) waits for conn_process() */
	/* a known, allowed frame length: make room for all of it */
	if (plen > 0 && (size_t)plen + HM_FRAME_HEADER - avail > want)
		want = (size_t)plen + HM_FRAME_HEADER - avail;
	if (hm_buf_reserve(&c->in, want) != HM_OK) {
		conn_close(c, "out of memory for input");
		return false;
	}
	n = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, 0);
	if (n > 0) {
		c->in.len += (size_t)n;
		return true;
	}
	if (n == 0) {
		c->peer_eof = true;
		return true;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		if (c->finishing)
			c->peer_eof = true; /* all that arrived before the shutdown is in */
		return true;
	}
	if (errno == EINTR)
		return true;
	if (errno != ECONNRESET)
		hm_counter_add(&c->ctx->stats.io_errors, 1);
	conn_close(c, "read failed");
	return false;
}

/* After a read or a flush: answer what can be answered, write, pick the next state. */
static void conn_drive(struct hm_conn *c)
{
	bool more = false;

	if (!conn_process(c, &more))
		return;
	if (!conn_flush(c))
		return;
	if ((c->out_off < c->out.len && c->out.len - c->out_off >= c->ctx->out_high_water) ||
	    c->nheld == HM_CONN_MAX_HELD) {
		/*
		 * Also with every held slot taken: the next frame waits for conn_claimed(), and a
		 * socket left readable meanwhile would wake this connection at every loop turn.
		 */
		if (c->state == HM_CONN_READING)
			(void)conn_set_state(c, HM_CONN_BLOCKED); /* never closes */
		return;
	}
	if (c->state == HM_CONN_BLOCKED && !conn_set_state(c, HM_CONN_READING))
		return;
	if (more || (c->finishing && !c->peer_eof)) {
		/*
		 * Yield: let the other connections of this worker run, then continue (with more
		 * frames, or, when shutting down, with reading until the socket is empty: an empty
		 * socket raises no readable event by itself).
		 */
		event_active(c->rev, EV_READ, 0);
		return;
	}
	if (c->peer_eof || c->state == HM_CONN_DRAINING) {
		/* nothing more will be answered: close once the answers are out */
		if (c->state != HM_CONN_DRAINING)
			(void)conn_set_state(c, HM_CONN_DRAINING); /* never closes */
		if (c->out_off >= c->out.len)
			conn_close(c, c->peer_eof ? "peer closed" : "shutdown");
	}
}

/*
 * A held frame's claims are answered: its verdicts written into its answer, then every answer
 * at the front that is complete is let go, and the connection goes on (writing, and reading the
 * frames it stopped at).
 */
static void conn_claimed(void *arg, struct hm_claim_set *set)
{
	struct hm_conn *c = arg;
	unsigned i, done = 0;

	for (i = 0; i < c->nheld; i++)
		if (c->held[i].set == set)
			break;
	hm_handler_claims_answered(c->ctx->handler, set, c->out.data);
	if (i == c->nheld)
		return; /* not ours: cannot happen */
	c->held[i].set = NULL;
	while (done < c->nheld && c->held[done].set == NULL)
		done++;
	if (done == 0)
		return; /* an older frame still waits */
	memmove(&c->held[0], &c->held[done], (c->nheld - done) * sizeof(c->held[0]));
	c->nheld -= done;
	conn_drive(c);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct hm_conn *c = arg;

	(void)fd;
	(void)what;
	c->ctx->events++;
	if (c->state == HM_CONN_READING && !c->peer_eof && !conn_read(c))
		return;
	conn_drive(c);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
	struct hm_conn *c = arg;

	(void)fd;
	(void)what;
	c->ctx->events++;
	if (!conn_flush(c))
		return;
	if (c->out_off >= c->out.len)
		conn_drive(c);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct hm_conn *c = arg;

	(void)fd;
	(void)what;
	c->timer_armed = false;
	hm_counter_add(&c->ctx->stats.read_timeouts, 1);
	hm_debug("conn fd=%d: frame not completed within --read-timeout", c->fd);
	conn_close(c, "read timeout");
}

int hm_conn_open(struct hm_conn_ctx *ctx, int fd)
{
	struct hm_conn *c;

	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close(fd);
		return HM_ENOMEM;
	}
	c->ctx = ctx;
	c->fd = fd;
	c->state = HM_CONN_BLOCKED; /* conn_set_state(READING) below arms the read event */
	hm_buf_init(&c->in, (size_t)ctx->max_frame + HM_FRAME_HEADER + HM_CONN_READ_CHUNK);
	hm_buf_init(&c->out, ctx->out_limit);
	c->rev = event_new(ctx->base, fd, EV_READ | EV_PERSIST, on_read, c);
	c->wev = event_new(ctx->base, fd, EV_WRITE | EV_PERSIST, on_write, c);
	c->timer = evtimer_new(ctx->base, on_timeout, c);
	if (c->rev == NULL || c->wev == NULL || c->timer == NULL) {
		conn_free(c);
		return HM_ENOMEM;
	}
	c->next = ctx->head;
	if (ctx->head != NULL)
		ctx->head->prev = c;
	ctx->head = c;
	hm_counter_add(&ctx->stats.opened, 1);
	hm_counter_add(&ctx->stats.current, 1);
	/* if arming the read event fails, the connection is closed (and counted) right away */
	(void)conn_set_state(c, HM_CONN_READING);
	return HM_OK;
}

void hm_conn_drain_all(struct hm_conn_ctx *ctx)
{
	struct hm_conn *c = ctx->head, *next;

	ctx->draining = true;
	if (c == NULL) {
		if (ctx->on_idle != NULL)
			ctx->on_idle(ctx->on_idle_arg);
		return;
	}
	while (c != NULL) {
		next = c->next;
		/*
		 * Keep reading until the socket is empty (then it counts as the client's end of
		 * input), answer every complete frame, and close when the answers are out. A
		 * connection blocked on output continues when the client reads; the worker's drain
		 * timer bounds it all.
		 */
		c->finishing = true;
		if (c->state == HM_CONN_READING && !c->peer_eof && !conn_read(c)) {
			c = next;
			continue;
		}
		conn_drive(c);
		c = next;
	}
}

void hm_conn_close_all(struct hm_conn_ctx *ctx)
{
	bool draining = ctx->draining;

	ctx->draining = false; /* no on_idle callbacks from here */
	while (ctx->head != NULL)
		conn_close(ctx->head, "worker exit");
	ctx->draining = draining;
}
