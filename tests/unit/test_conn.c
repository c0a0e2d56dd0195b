/*
 * test_conn.c - the connection state machine on a private event base, with the client end of a
 * socketpair() driven by the test: ping round trip, pipelined frames answered in order, the
 * per-event frame cap (two pipelining connections interleave in runs of at most
 * HM_CONN_FRAMES_PER_EVENT), a frame over max_frame closes, a partial frame times out (also when
 * bytes trickle in), a client that does not read stops being read (BLOCKED) and resumes when it
 * reads, a response over out_limit closes, peer EOF answers then closes, drain on shutdown
 * answers what arrived and then closes (on_idle), and close_all.
 *
 * The handler is real but has no verifier: only ping and stats requests are sent. The stats
 * stub records the request ids in the order the handler saw them, which is how the test sees
 * the interleaving of connections. Every wait is bounded (run_until's timeout).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "proto/buf.h"
#include "server/conn.h"
#include "proto/frame.h"
#include "server/handler.h"
#include "server/log.h"
#include "proto/msg.h"

#define MAX_CLIENTS 4
#define MAX_SEEN 8192
#define WAIT_MS 5000

struct client {
	int fd;
	uint8_t buf[1u << 20]; /* received, not yet parsed */
	size_t len;
	bool eof;
	size_t nresp;
	uint64_t ids[MAX_SEEN];
	enum hm_resp_kind kinds[MAX_SEEN];
};

struct fx {
	struct event_base *base;
	struct hm_handler h;
	struct hm_conn_ctx ctx;
	unsigned idle_calls, close_calls;
	unsigned stat_rows;           /* rows per stats response: its size */
	uint64_t seen[MAX_SEEN];      /* stats request ids, in handling order */
	size_t nseen;
	struct client *cl[MAX_CLIENTS];
	size_t ncl;
};

static void stub_stats(void *arg, struct hm_buf *out, uint64_t id)
{
	struct fx *f = arg;
	char name[32];
	size_t start;

	if (f->nseen < MAX_SEEN)
		f->seen[f->nseen++] = id;
	start = hm_encode_stats_begin(out, id, f->stat_rows);
	for (unsigned i = 0; i < f->stat_rows; i++) {
		snprintf(name, sizeof(name), "counter_number_%04u", i);
		hm_encode_stat(out, name, i);
	}
	hm_frame_end(out, start);
}

static void on_idle(void *arg)
{
	((struct fx *)arg)->idle_calls++;
}

static void on_close(void *arg)
{
	((struct fx *)arg)->close_calls++;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	hm_log_init(HM_LOG_WARN);
	f->base = event_base_new();
	assert_non_null(f->base);
	f->h.verifier = NULL; /* never reached: no verify requests here */
	f->h.max_batch = 16;
	f->h.stats_fn = stub_stats;
	f->h.stats_arg = f;
	f->ctx.base = f->base;
	f->ctx.handler = &f->h;
	f->ctx.max_frame = HM_FRAME_MIN_MAX;
	f->ctx.read_timeout.tv_sec = 10;
	f->ctx.out_high_water = 256u * 1024;
	f->ctx.out_limit = 4u << 20;
	f->ctx.on_idle = on_idle;
	f->ctx.on_idle_arg = f;
	f->ctx.on_close = on_close;
	f->ctx.on_close_arg = f;
	f->stat_rows = 1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	hm_conn_close_all(&f->ctx);
	assert_null(f->ctx.head);
	for (size_t i = 0; i < f->ncl; i++) {
		close(f->cl[i]->fd);
		free(f->cl[i]);
	}
	event_base_free(f->base);
	free(f);
	return 0;
}

/*
 * A connected pair: the server end goes to hm_conn_open, the client end is returned. sndbuf > 0
 * shrinks the server's send buffer, so that a client that does not read fills it quickly.
 */
static struct client *connect_client_sndbuf(struct fx *f, int sndbuf)
{
	struct client *c = calloc(1, sizeof(*c));
	int sv[2];

	assert_non_null(c);
	assert_true(f->ncl < MAX_CLIENTS);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	if (sndbuf > 0)
		assert_int_equal(
			setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
	c->fd = sv[1];
	f->cl[f->ncl++] = c;
	assert_int_equal(hm_conn_open(&f->ctx, sv[0]), HM_OK);
	return c;
}

static struct client *connect_client(struct fx *f)
{
	return connect_client_sndbuf(f, 0);
}

static void send_all(struct client *c, const void *p, size_t n)
{
	const uint8_t *b = p;
	ssize_t w;

	while (n > 0) {
		w = send(c->fd, b, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			fail_msg("send: %s", strerror(errno));
		b += w;
		n -= (size_t)w;
	}
}

static void send_request(struct client *c, uint64_t id, enum hm_op op)
{
	struct hm_buf b;

	hm_buf_init(&b, 1024);
	hm_encode_simple_request(&b, id, op);
	assert_false(b.failed);
	send_all(c, b.data, b.len);
	hm_buf_free(&b);
}

/* Reads what the server sent and decodes every complete response frame. */
static void pump(struct client *c, bool read_more)
{
	struct hm_response r;
	uint32_t plen;
	size_t flen;
	ssize_t n;

	while (read_more && !c->eof && c->len < sizeof(c->buf)) {
		n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (n > 0) {
			c->len += (size_t)n;
		} else if (n == 0) {
			c->eof = true;
		} else {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				c->eof = true; /* ECONNRESET: the server closed with unread data */
			break;
		}
	}
	while (hm_frame_parse(c->buf, c->len, UINT32_MAX, &plen, &flen) == HM_OK) {
		assert_int_equal(hm_response_decode(c->buf + HM_FRAME_HEADER, plen, &r), HM_OK);
		assert_true(c->nresp < MAX_SEEN);
		c->ids[c->nresp] = r.id;
		c->kinds[c->nresp] = r.kind;
		c->nresp++;
		memmove(c->buf, c->buf + flen, c->len - flen);
		c->len -= flen;
	}
}

static void run_for_ms(struct fx *f, long ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	assert_int_equal(event_base_loopexit(f->base, &tv), 0);
	assert_true(event_base_dispatch(f->base) >= 0);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs the loop (and, if `reading`, the clients) until pred holds; false after WAIT_MS. */
static bool run_until(struct fx *f, bool reading, bool (*pred)(struct fx *, const void *),
		      const void *arg)
{
	long deadline = now_ms() + WAIT_MS;

	for (;;) {
		for (size_t i = 0; i < f->ncl; i++)
			pump(f->cl[i], reading);
		if (pred(f, arg))
			return true;
		if (now_ms() > deadline)
			return false;
		run_for_ms(f, 5);
	}
}

/* pred: client arg has at least f->... responses; arg is {client, count}. */
struct want {
	struct client *c;
	size_t n;
};

static bool has_responses(struct fx *f, const void *arg)
{
	const struct want *w = arg;

	(void)f;
	return w->c->nresp >= w->n;
}

static bool has_eof(struct fx *f, const void *arg)
{
	(void)f;
	return ((const struct client *)arg)->eof;
}

static bool no_conns(struct fx *f, const void *arg)
{
	(void)arg;
	return f->ctx.head == NULL;
}

static void expect_responses(struct fx *f, struct client *c, size_t n)
{
	struct want w = {c, n};

	if (!run_until(f, true, has_responses, &w))
		fail_msg("%zu responses after %d ms, want %zu", c->nresp, WAIT_MS, n);
}

static void expect_closed(struct fx *f, struct client *c)
{
	if (!run_until(f, true, has_eof, c))
		fail_msg("connection still open after %d ms", WAIT_MS);
}

/* ---- tests ---- */

static void test_ping_round_trip(void **state)
{
	struct fx *f = *state;
	struct client *c = connect_client(f);

	assert_int_equal(hm_counter_get(&f->ctx.stats.opened), 1);
	assert_int_equal(hm_counter_get(&f->ctx.stats.current), 1);
	send_request(c, 7, HM_OP_PING);
	expect_responses(f, c, 1);
	assert_int_equal(c->ids[0], 7);
	assert_int_equal(c->kinds[0], HM_RESP_PONG);
	assert_false(c->eof);
	assert_int_equal(hm_counter_get(&f->h.stats.requests), 1);
}

static void test_pipelined_in_order(void **state)
{
	struct fx *f = *state;
	struct client *c = connect_client(f);
	struct hm_buf b;

	hm_buf_init(&b, 1u << 20);
	for (uint64_t id = 0; id < 500; id++)
		hm_encode_simple_request(&b, id, id % 3 == 0 ? HM_OP_STATS : HM_OP_PING);
	assert_false(b.failed);
	send_all(c, b.data, b.len);
	hm_buf_free(&b);
	expect_responses(f, c, 500);
	for (uint64_t id = 0; id < 500; id++) {
		assert_int_equal(c->ids[id], id);
		assert_int_equal(c->kinds[id], id % 3 == 0 ? HM_RESP_STATS : HM_RESP_PONG);
	}
}

/*
 * Two clients pipeline 150 frames each before the loop runs. Each readable event handles at
 * most HM_CONN_FRAMES_PER_EVENT frames and then yields, so the handling order alternates
 * between the connections in runs no longer than the cap.
 */
static void test_frames_per_event_cap(void **state)
{
	struct fx *f = *state;
	struct client *a = connect_client(f), *b = connect_client(f);
	struct hm_buf ba, bb;
	size_t run = 0, longest = 0, runs = 0;

	hm_buf_init(&ba, 1u << 20);
	hm_buf_init(&bb, 1u << 20);
	for (uint64_t i = 0; i < 150; i++) {
		hm_encode_simple_request(&ba, i, HM_OP_STATS);
		hm_encode_simple_request(&bb, 1000 + i, HM_OP_STATS);
	}
	send_all(a, ba.data, ba.len);
	send_all(b, bb.data, bb.len);
	hm_buf_free(&ba);
	hm_buf_free(&bb);
	expect_responses(f, a, 150);
	expect_responses(f, b, 150);
	assert_int_equal(f->nseen, 300);
	for (size_t i = 0; i < f->nseen; i++) {
		if (i > 0 && (f->seen[i] >= 1000) == (f->seen[i - 1] >= 1000)) {
			run++;
		} else {
			run = 1;
			runs++;
		}
		if (run > longest)
			longest = run;
	}
	if (longest > HM_CONN_FRAMES_PER_EVENT)
		fail_msg("one connection had %zu frames handled in a row", longest);
	assert_true(runs >= 4);
	/* each connection's own answers are in order */
	for (uint64_t i = 0; i < 150; i++) {
		assert_int_equal(a->ids[i], i);
		assert_int_equal(b->ids[i], 1000 + i);
	}
}

/* A frame of exactly max_frame bytes is read (and answered); one byte more closes. */
static void test_oversize_frame_closes(void **state)
{
	struct fx *f = *state;
	struct client *c = connect_client(f);
	uint8_t *frame = malloc(HM_FRAME_HEADER + HM_FRAME_MIN_MAX);
	uint8_t hdr[HM_FRAME_HEADER];

	assert_non_null(frame);
	hm_frame_put_header(frame, HM_FRAME_MIN_MAX);
	memset(frame + HM_FRAME_HEADER, 0xc1, HM_FRAME_MIN_MAX); /* never valid msgpack */
	send_all(c, frame, HM_FRAME_HEADER + HM_FRAME_MIN_MAX);
	free(frame);
	expect_responses(f, c, 1);
	assert_int_equal(c->kinds[0], HM_RESP_ERROR);
	assert_false(c->eof);

	hm_frame_put_header(hdr, HM_FRAME_MIN_MAX + 1);
	send_all(c, hdr, sizeof(hdr));
	expect_closed(f, c);
	assert_int_equal(hm_counter_get(&f->ctx.stats.oversize_frames), 1);
	assert_int_equal(hm_counter_get(&f->ctx.stats.closed), 1);
	assert_int_equal(hm_counter_get(&f->ctx.stats.current), 0);
	assert_int_equal(f->close_calls, 1);
	assert_null(f->ctx.head);
	assert_int_equal(f->idle_calls, 0); /* not draining */
}

/* A huge announced length closes at once, without waiting for (or buffering) the payload. */
static void test_huge_length_closes(void **state)
{
	struct fx *f = *state;
	struct client *c = connect_client(f);
	static const uint8_t hdr[HM_FRAME_HEADER] = {0xff, 0xff, 0xff, 0xff};

	send_all(c, hdr, sizeof(hdr));
	expect_closed(f, c);
	assert_int_equal(hm_counter_get(&f->ctx.stats.oversize_frames), 1);
}

static void test_partial_frame_times_out(void **state)
{
	struct fx *f = *state;
	struct client *c = connect_client(f);
	static const uint8_t partial[] = {0, 0, 0, 10, 0x82, 0xa2};

	f->ctx.read_timeout.tv_sec = 0;
	f->ctx.read_timeout.tv_usec = 100 * 1000;
	send_request(c, 1, HM_OP_PING);
	send_all(c, partial, sizeof(partial));
	expect_closed(f, c);
	/* the complete frame before it was answered */
	assert_int_equal(c->nresp, 1);
	assert_int_equal(c->ids[0], 1);
	assert_int_equal(hm_counter_get(&f->ctx.stats.read_timeouts), 1);
	assert_null(f->ctx.head);
}

/* An idle connection between frames has no deadline. */
static void test_idle_between_frames_no_timeout(void **state)
{
	struct fx *f = *state;
	struct client *c = connect_client(f);

	f->ctx.read_timeout.tv_sec = 0;
	f->ctx.read_timeout.tv_usec = 50 * 1000;
	send_request(c, 1, HM_OP_PING);
	expect_responses(f, c, 1);
	run_for_ms(f, 200);
	pump(c, true);
	assert_false(c->eof);
	assert_int_equal(hm_counter_get(&f->ctx.stats.read_timeouts), 0);
	send_request(c, 2, HM_OP_PING);
	expect_responses(f, c, 2);
}

struct trickle {
	struct client *c;
	struct event *ev;
	unsigned sent; /* payload bytes sent */
};

static void trickle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct trickle *t = arg;
	uint8_t byte = 0x00;

	(void)fd;
	(void)what;
	if (t->c->eof || send(t->c->fd, &byte, 1, MSG_NOSIGNAL) != 1) {
		event_del(t->ev);
		return;
	}
	t->sent++;
}

/* Bytes that keep arriving do not move the deadline of the frame they belong to. */
static void test_trickle_does_not_extend(void **state)
{
	struct fx *f = *state;
	struct client *c = connect_client(f);
	struct trickle t = {c, NULL, 0};
	const struct timeval every = {0, 20 * 1000};
	uint8_t hdr[HM_FRAME_HEADER];

	f->ctx.read_timeout.tv_sec = 0;
	f->ctx.read_timeout.tv_usec = 200 * 1000;
	t.ev = event_new(f->base, -1, EV_PERSIST, trickle_cb, &t);
	assert_non_null(t.ev);
	hm_frame_put_header(hdr, 1000);
	send_all(c, hdr, sizeof(hdr));
	assert_int_equal(event_add(t.ev, &every), 0);
	expect_closed(f, c);
	event_free(t.ev);
	/* closed long before the 1000 bytes at one per 20 ms could have completed it */
	assert_true(t.sent < 1000);
	assert_int_equal(hm_counter_get(&f->ctx.stats.read_timeouts), 1);
}

/* Sends what the socket takes now from p[*off..n); false if the server has gone. */
static bool send_some(struct client *c, const uint8_t *p, size_t n, size_t *off)
{
	ssize_t w;

	while (*off < n) {
		w = send(c->fd, p + *off, n - *off, MSG_NOSIGNAL);
		if (w > 0) {
			*off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		return w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
	}
	return true;
}

/*
 * A client that sends requests but reads no answers: once out_high_water bytes wait, the
 * connection stops handling frames and stops reading its socket (BLOCKED), so neither its
 * output nor its input buffer grows: out_limit is set just above high water plus one
 * response, and the client sends far more than the input buffer may hold. Either buffer
 * overflowing would close the connection. When the client reads, everything is answered.
 */
static void test_blocked_until_client_reads(void **state)
{
	struct fx *f = *state;
	struct client *c;
	struct hm_buf b;
	uint64_t handled, again;
	const uint64_t n = 8000;
	size_t off = 0;
	long deadline;

	f->stat_rows = 40; /* about 860 bytes per response */
	f->ctx.out_high_water = 8 * 1024;
	f->ctx.out_limit = 8 * 1024 + 4 * 1024;
	c = connect_client_sndbuf(f, 16 * 1024);
	hm_buf_init(&b, 1u << 20);
	for (uint64_t id = 0; id < n; id++)
		hm_encode_simple_request(&b, id, HM_OP_STATS);
	assert_false(b.failed);
	assert_true(b.len > 2 * (HM_FRAME_MIN_MAX + HM_FRAME_HEADER + 64 * 1024));

	/* the client pushes requests and never reads, until the server stops handling them */
	handled = UINT64_MAX;
	for (int round = 0; round < 200; round++) {
		assert_true(send_some(c, b.data, b.len, &off));
		run_for_ms(f, 20);
		again = hm_counter_get(&f->h.stats.requests);
		if (again == handled)
			break;
		handled = again;
	}
	assert_true(send_some(c, b.data, b.len, &off));
	run_for_ms(f, 100);
	again = hm_counter_get(&f->h.stats.requests);
	assert_non_null(f->ctx.head);
	assert_int_equal(hm_counter_get(&f->ctx.stats.closed), 0);
	assert_true(handled > 0);
	if (handled >= n || again != handled)
		fail_msg("handled %llu then %llu of %llu requests without the client reading",
			 (unsigned long long)handled, (unsigned long long)again,
			 (unsigned long long)n);
	assert_int_equal(c->nresp, 0);
	/*
	 * Blocked means not polled for reading: nothing is active until the client reads, so one
	 * loop iteration sleeps until the 200 ms exit timer. (Were the read event still armed on a
	 * readable socket, it would fire at once, again and again: a busy loop.)
	 */
	{
		struct timeval tv = {0, 200 * 1000};
		long t0 = now_ms();

		assert_int_equal(event_base_loopexit(f->base, &tv), 0);
		assert_true(event_base_loop(f->base, EVLOOP_ONCE) >= 0);
		if (now_ms() - t0 < 100)
			fail_msg("a blocked connection kept the loop busy");
		/* the exit timer may still be pending if something else ran: let it expire */
		run_for_ms(f, 250);
		assert_int_equal(hm_counter_get(&f->h.stats.requests), again);
	}

	/* the client reads (and sends the rest): all answered in order, the connection stays */
	deadline = now_ms() + WAIT_MS;
	while (c->nresp < n && !c->eof && now_ms() < deadline) {
		assert_true(send_some(c, b.data, b.len, &off));
		run_for_ms(f, 2);
		pump(c, true);
	}
	hm_buf_free(&b);
	assert_int_equal(c->nresp, n);
	for (uint64_t id = 0; id < n; id++)
		assert_int_equal(c->ids[id], id);
	assert_false(c->eof);
	assert_int_equal(hm_counter_get(&f->ctx.stats.closed), 0);
	assert_int_equal(hm_counter_get(&f->ctx.stats.read_timeouts), 0);
}

/*
 * A client that keeps a pipeline full and reads its answers a little at a time: the output
 * buffer is never empty, but what waits in it stays under the high-water mark. Far more bytes
 * than out_limit go through over the connection's life; it must not be closed for it.
 */
static void test_steady_pipeline_slow_reader(void **state)
{
	struct fx *f = *state;
	struct client *c;
	const uint64_t total = 3000;
	uint64_t sent = 0;
	long deadline = now_ms() + 4 * WAIT_MS;
	struct hm_buf b;

	f->stat_rows = 40; /* about 1 KiB per response */
	f->ctx.out_high_water = 64 * 1024;
	f->ctx.out_limit = 64 * 1024 + 64 * 1024; /* high water + the largest response + slack */
	c = connect_client_sndbuf(f, 4096);
	hm_buf_init(&b, 1u << 20);
	while (c->nresp < total && !c->eof && now_ms() < deadline) {
		/*
		 * keep 40 requests in flight: about 40 KiB of answers, more than the socket holds
		 * and less than the high-water mark, so some output always waits in the buffer
		 */
		while (sent < total && sent < c->nresp + 40) {
			size_t off = 0;

			hm_buf_reset(&b);
			hm_encode_simple_request(&b, sent, HM_OP_STATS);
			if (!send_some(c, b.data, b.len, &off) || off != b.len)
				break;
			sent++;
		}
		assert_true(event_base_loop(f->base, EVLOOP_NONBLOCK) >= 0);
		/* read at most 3 KiB per round: slower than the server could write */
		if (!c->eof && c->len + 3072 <= sizeof(c->buf)) {
			ssize_t n = recv(c->fd, c->buf + c->len, 3072, 0);

			if (n > 0)
				c->len += (size_t)n;
			else if (n == 0)
				c->eof = true;
		}
		pump(c, false);
	}
	hm_buf_free(&b);
	if (c->nresp < total)
		fail_msg("%zu of %llu answers, connection %s", c->nresp, (unsigned long long)total,
			 c->eof ? "closed" : "stalled");
	for (uint64_t id = 0; id < total; id++)
		assert_int_equal(c->ids[id], id);
	assert_int_equal(hm_counter_get(&f->ctx.stats.closed), 0);
}

/* A single response bigger than out_limit cannot be buffered: the connection is closed. */
static void test_response_over_out_limit_closes(void **state)
{
	struct fx *f = *state;
	struct client *c;

	f->stat_rows = 100;
	f->ctx.out_limit = 512; /* taken by each connection when it opens */
	c = connect_client(f);
	send_request(c, 1, HM_OP_PING);
	expect_responses(f, c, 1);
	send_request(c, 2, HM_OP_STATS);
	expect_closed(f, c);
	assert_int_equal(c->nresp, 1);
	assert_null(f->ctx.head);
}

/* The client shuts down its sending side: what it sent is answered, then the server closes. */
static void test_peer_eof_answers_then_closes(void **state)
{
	struct fx *f = *state;
	struct client *c = connect_client(f);

	for (uint64_t id = 0; id < 100; id++)
		send_request(c, id, HM_OP_PING);
	assert_int_equal(shutdown(c->fd, SHUT_WR), 0);
	expect_closed(f, c);
	assert_int_equal(c->nresp, 100);
	for (uint64_t id = 0; id < 100; id++)
		assert_int_equal(c->ids[id], id);
	assert_int_equal(hm_counter_get(&f->ctx.stats.closed), 1);
	assert_int_equal(f->idle_calls, 0);
}

/*
 * Shutdown: the frames that already arrived (more than one event's worth) are answered, the
 * unfinished one is dropped, the connection closes, and on_idle runs once the last one is gone.
 */
static void test_drain_on_shutdown(void **state)
{
	struct fx *f = *state;
	struct client *a = connect_client(f), *b = connect_client(f);
	static const uint8_t partial[] = {0, 0, 0, 20, 0x83};

	send_request(a, 1, HM_OP_PING);
	expect_responses(f, a, 1);
	/* these arrive but the loop does not run before the drain starts */
	for (uint64_t id = 2; id < 102; id++)
		send_request(a, id, HM_OP_PING);
	send_all(a, partial, sizeof(partial));
	send_request(b, 500, HM_OP_PING);

	hm_conn_drain_all(&f->ctx);
	assert_true(f->ctx.draining);
	if (!run_until(f, true, no_conns, NULL))
		fail_msg("connections still open after %d ms of draining", WAIT_MS);
	pump(a, true);
	pump(b, true);
	assert_true(a->eof);
	assert_true(b->eof);
	assert_int_equal(a->nresp, 101);
	for (uint64_t i = 0; i < 101; i++)
		assert_int_equal(a->ids[i], i + 1);
	assert_int_equal(b->nresp, 1);
	assert_int_equal(b->ids[0], 500);
	assert_int_equal(f->idle_calls, 1);
	assert_int_equal(f->close_calls, 2);
	assert_int_equal(hm_counter_get(&f->ctx.stats.current), 0);
}

/* Draining waits for a slow reader to take its answers before closing. */
static void test_drain_waits_for_slow_reader(void **state)
{
	struct fx *f = *state;
	struct client *c;
	const uint64_t n = 300;
	struct hm_buf b;

	f->stat_rows = 40;
	f->ctx.out_high_water = 8 * 1024;
	c = connect_client_sndbuf(f, 16 * 1024);
	hm_buf_init(&b, 1u << 20);
	for (uint64_t id = 0; id < n; id++)
		hm_encode_simple_request(&b, id, HM_OP_STATS);
	send_all(c, b.data, b.len);
	hm_buf_free(&b);
	run_for_ms(f, 50); /* fills the socket, then BLOCKED */
	hm_conn_drain_all(&f->ctx);
	run_for_ms(f, 50);
	assert_non_null(f->ctx.head); /* answers are pending: not closed yet */
	assert_int_equal(f->idle_calls, 0);
	expect_closed(f, c);
	assert_null(f->ctx.head);
	assert_int_equal(f->idle_calls, 1);
	/*
	 * Frames still unread in the socket when draining began are not promised an answer; every
	 * answer that was given is complete and in order.
	 */
	assert_true(c->nresp > 0);
	for (size_t i = 0; i < c->nresp; i++)
		assert_int_equal(c->ids[i], i);
	assert_int_equal(c->len, 0); /* no partial response frame */
}

static void test_drain_with_no_connections(void **state)
{
	struct fx *f = *state;

	hm_conn_drain_all(&f->ctx);
	assert_int_equal(f->idle_calls, 1);
}

static void test_close_all(void **state)
{
	struct fx *f = *state;
	struct client *c[3];

	for (int i = 0; i < 3; i++) {
		c[i] = connect_client(f);
		send_request(c[i], (uint64_t)i, HM_OP_PING);
	}
	assert_int_equal(hm_counter_get(&f->ctx.stats.current), 3);
	hm_conn_close_all(&f->ctx);
	assert_null(f->ctx.head);
	assert_int_equal(hm_counter_get(&f->ctx.stats.current), 0);
	assert_int_equal(hm_counter_get(&f->ctx.stats.closed), 3);
	assert_int_equal(f->close_calls, 3);
	assert_int_equal(f->idle_calls, 0);
	for (int i = 0; i < 3; i++) {
		pump(c[i], true);
		assert_true(c[i]->eof);
	}
}

static void test_state_names(void **state)
{
	(void)state;
	assert_string_equal(hm_conn_state_name(HM_CONN_READING), "reading");
	assert_string_equal(hm_conn_state_name(HM_CONN_BLOCKED), "blocked");
	assert_string_equal(hm_conn_state_name(HM_CONN_DRAINING), "draining");
	assert_string_equal(hm_conn_state_name(HM_CONN_CLOSED), "closed");
	assert_string_equal(hm_conn_state_name(HM_CONN_STATE__MAX), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ping_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipelined_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_frames_per_event_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversize_frame_closes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_huge_length_closes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_frame_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_between_frames_no_timeout, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_trickle_does_not_extend, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blocked_until_client_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_steady_pipeline_slow_reader, setup, teardown),
		cmocka_unit_test_setup_teardown(test_response_over_out_limit_closes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_peer_eof_answers_then_closes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drain_on_shutdown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drain_waits_for_slow_reader, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drain_with_no_connections, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_names, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
