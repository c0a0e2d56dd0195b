/*
 * openloop.c - hmacd-http-load: an open-loop HTTP/1.1 load generator for bench/http/run.sh.
 *
 * It sends POST requests at a fixed rate (request i is scheduled at start + i / rate) over at
 * most K keep-alive connections, opened as they are needed (a server that closes a connection
 * after an answer, as gunicorn's sync workers do, gets a new one for the next request, the
 * connect time in its latency), one request in flight per connection (no pipelining: not
 * every example server takes it). A request whose time has come while all K connections are
 * busy waits, and its latency still counts from its scheduled time: the figures include the
 * queue a slow server causes (no coordinated omission). Requests scheduled in the warm-up are
 * sent and answered but not counted. The run ends when every request is answered, or at the
 * deadline (warm-up + duration + --timeout), where what is unanswered counts as errors.
 *
 * The requests come from a file of lines "TARGET<TAB>AUTHORIZATION<TAB>BODY" (run.sh writes
 * it with the Python client's signer), cycled in order; each goes out as
 *
 *   POST TARGET HTTP/1.1, Host: HOST:PORT, Content-Type: application/json,
 *   Content-Length, Authorization: AUTHORIZATION, then BODY.
 *
 * Output: one line of key=value pairs (sent, ok, non2xx, errors, rate, p50_us, p90_us,
 * p99_us, max_us, connects), or --json. Exit status 0 when every counted request got a 2xx, 1 when not
 * (or a connection failed), 2 on a usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#define MAX_LINE 65536
#define FORMAT                                                                             \
	"POST %s HTTP/1.1\r\nHost: %s:%u\r\nContent-Type: application/json\r\n"             \
	"Content-Length: %zu\r\nAuthorization: %s\r\n\r\n%s"

struct opts {
	const char *host;
	unsigned port;
	double rate;        /* requests per second */
	double duration;    /* seconds counted */
	double warmup;      /* seconds sent, not counted */
	unsigned conns;     /* keep-alive connections, at most */
	const char *file;   /* the requests */
	double timeout;     /* seconds to wait for the last answers */
	bool json;
};

struct reqs {
	char **raw;   /* each request, ready to write */
	size_t *len;
	size_t n;
};

struct run;

/* a connection: closed (bev NULL), connecting or open, with at most one request in flight */
struct conn {
	struct run *run;
	struct bufferevent *bev;
	bool busy;
	uint64_t idx;       /* the request in flight */
	int64_t sched_ns;   /* its scheduled time */
};

struct run {
	const struct opts *o;
	struct reqs reqs;
	struct event_base *base;
	struct event *tick;
	struct event *deadline;
	struct conn *conns;
	struct sockaddr_in addr;
	int64_t start_ns;
	int64_t interval_ns;
	uint64_t next;      /* the next request to send */
	uint64_t total;     /* requests to schedule in all (warm-up and counted) */
	uint64_t first_counted;
	uint64_t answered;
	uint64_t sent, ok, non2xx, errors, connects;
	int64_t last_ns;    /* when the last counted answer came */
	uint32_t *lat_us;   /* one per counted answer */
	size_t nlat, caplat;
	bool stopping;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t sched_of(const struct run *r, uint64_t i)
{
	return r->start_ns + (int64_t)i * r->interval_ns;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hmacd-http-load --port PORT --rate N --requests FILE [options]\n"
		"  --host ADDR         IPv4 address (default 127.0.0.1)\n"
		"  --rate N            requests per second, scheduled at fixed intervals\n"
		"  --duration S        seconds counted (default 10)\n"
		"  --warmup S          seconds sent first, not counted (default 2)\n"
		"  --connections K     at most K keep-alive connections (default 32)\n"
		"  --requests FILE     lines TARGET<TAB>AUTHORIZATION<TAB>BODY, cycled\n"
		"  --timeout S         wait for the last answers (default 5)\n"
		"  --json              one JSON object instead of key=value\n");
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi))
		return -1;
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longs[] = {
		{"host", required_argument, NULL, 'h'},
		{"port", required_argument, NULL, 'p'},
		{"rate", required_argument, NULL, 'r'},
		{"duration", required_argument, NULL, 'd'},
		{"warmup", required_argument, NULL, 'w'},
		{"connections", required_argument, NULL, 'c'},
		{"requests", required_argument, NULL, 'f'},
		{"timeout", required_argument, NULL, 't'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'H'},
		{NULL, 0, NULL, 0},
	};
	double v;
	int c;

	*o = (struct opts){.host = "127.0.0.1", .duration = 10, .warmup = 2, .conns = 32,
			   .timeout = 5};
	while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (c) {
		case 'h':
			o->host = optarg;
			break;
		case 'p':
			if (parse_double(optarg, 1, 65535, &v) != 0)
				return -1;
			o->port = (unsigned)v;
			break;
		case 'r':
			if (parse_double(optarg, 1, 1e6, &o->rate) != 0)
				return -1;
			break;
		case 'd':
			if (parse_double(optarg, 0.1, 86400, &o->duration) != 0)
				return -1;
			break;
		case 'w':
			if (parse_double(optarg, 0, 86400, &o->warmup) != 0)
				return -1;
			break;
		case 'c':
			if (parse_double(optarg, 1, 4096, &v) != 0)
				return -1;
			o->conns = (unsigned)v;
			break;
		case 'f':
			o->file = optarg;
			break;
		case 't':
			if (parse_double(optarg, 0.1, 3600, &o->timeout) != 0)
				return -1;
			break;
		case 'j':
			o->json = true;
			break;
		case 'H':
			usage(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	if (optind != argc || o->port == 0 || o->rate <= 0 || o->file == NULL)
		return -1;
	return 0;
}

/* one raw request from a line TARGET\tAUTH\tBODY; NULL if the line is not of that form */
static char *build_request(const struct opts *o, char *line, size_t *len)
{
	char *target = line, *auth, *body, *raw = NULL;
	size_t blen;
	int n;

	auth = strchr(target, '\t');
	if (auth == NULL)
		return NULL;
	*auth++ = '\0';
	body = strchr(auth, '\t');
	if (body == NULL)
		return NULL;
	*body++ = '\0';
	blen = strcspn(body, "\r\n");
	body[blen] = '\0';
	n = snprintf(NULL, 0, FORMAT, target, o->host, o->port, blen, auth, body);
	if (n < 0 || (raw = malloc((size_t)n + 1)) == NULL)
		return NULL;
	if (snprintf(raw, (size_t)n + 1, FORMAT, target, o->host, o->port, blen, auth, body) != n) {
		free(raw);
		return NULL;
	}
	*len = (size_t)n;
	return raw;
}

static void free_reqs(struct reqs *q)
{
	for (size_t i = 0; i < q->n; i++)
		free(q->raw[i]);
	free(q->raw);
	free(q->len);
	*q = (struct reqs){0};
}

static int load_reqs(const struct opts *o, struct reqs *q)
{
	FILE *f = fopen(o->file, "r");
	char *line = NULL;
	size_t cap = 0, room = 0;
	ssize_t got;
	int rc = -1;

	if (f == NULL) {
		fprintf(stderr, "hmacd-http-load: %s: %s\n", o->file, strerror(errno));
		return -1;
	}
	while ((got = getline(&line, &cap, f)) > 0) {
		char *raw;
		size_t len;

		if (got > MAX_LINE || (raw = build_request(o, line, &len)) == NULL) {
			fprintf(stderr, "hmacd-http-load: %s: line %zu is not "
				"TARGET<TAB>AUTHORIZATION<TAB>BODY\n", o->file, q->n + 1);
			goto out;
		}
		if (q->n == room) {
			size_t nroom = room ? 2 * room : 64;
			char **nraw = realloc(q->raw, nroom * sizeof(*nraw));
			size_t *nlen;

			if (nraw == NULL) {
				free(raw);
				goto out;
			}
			q->raw = nraw;
			nlen = realloc(q->len, nroom * sizeof(*nlen));
			if (nlen == NULL) {
				free(raw);
				goto out;
			}
			q->len = nlen;
			room = nroom;
		}
		q->raw[q->n] = raw;
		q->len[q->n] = len;
		q->n++;
	}
	if (q->n == 0) {
		fprintf(stderr, "hmacd-http-load: %s: no requests\n", o->file);
		goto out;
	}
	rc = 0;
out:
	free(line);
	fclose(f);
	return rc;
}

static int record_latency(struct run *r, int64_t ns)
{
	if (r->nlat == r->caplat) {
		size_t ncap = r->caplat ? 2 * r->caplat : 4096;
		uint32_t *n = realloc(r->lat_us, ncap * sizeof(*n));

		if (n == NULL)
			return -1;
		r->lat_us = n;
		r->caplat = ncap;
	}
	if (ns < 0)
		ns = 0;
	r->lat_us[r->nlat++] = ns / 1000 > UINT32_MAX ? UINT32_MAX : (uint32_t)(ns / 1000);
	return 0;
}

static void maybe_finish(struct run *r)
{
	if (r->stopping && r->answered + r->errors >= r->next)
		event_base_loopexit(r->base, NULL);
}

/* closes c; a request in flight on it is an error (its answer will never come) */
static void close_conn(struct run *r, struct conn *c, const char *why)
{
	if (c->busy) {
		fprintf(stderr, "hmacd-http-load: a request lost: %s\n", why);
		r->errors++;
	}
	c->busy = false;
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	c->bev = NULL;
	maybe_finish(r);
}

static void on_read(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);

/*
 * A new connection for c, started without waiting: the request written at once goes out
 * when it is connected, so the connect time is in its latency, as it is for any client of a
 * server that closes connections (gunicorn's sync workers close each after one answer).
 */
static int open_conn(struct run *r, struct conn *c)
{
	int one = 1;

	c->bev = bufferevent_socket_new(r->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL)
		return -1;
	bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&r->addr, sizeof(r->addr)) != 0 ||
	    setsockopt(bufferevent_getfd(c->bev), IPPROTO_TCP, TCP_NODELAY, &one,
		       sizeof(one)) != 0 ||
	    bufferevent_enable(c->bev, EV_READ) != 0) {
		bufferevent_free(c->bev);
		c->bev = NULL;
		return -1;
	}
	r->connects++;
	return 0;
}

static void send_on(struct run *r, struct conn *c)
{
	const struct reqs *q = &r->reqs;
	size_t k = (size_t)(r->next % q->n);

	c->busy = true;
	c->idx = r->next;
	c->sched_ns = sched_of(r, r->next);
	r->next++;
	if (c->idx >= r->first_counted)
		r->sent++;
	if ((c->bev == NULL && open_conn(r, c) != 0) ||
	    bufferevent_write(c->bev, q->raw[k], q->len[k]) != 0)
		close_conn(r, c, "cannot connect or write");
}

/*
 * Sends every due request: on an idle open connection, else on a closed one (opening it),
 * else it waits for an answer to free a connection. Arms the tick for the next request.
 */
static void pump(struct run *r)
{
	int64_t now = now_ns();
	struct timeval tv;
	int64_t wait;

	while (r->next < r->total && sched_of(r, r->next) <= now) {
		struct conn *pick = NULL;

		for (unsigned i = 0; i < r->o->conns; i++) {
			struct conn *c = &r->conns[i];

			if (c->busy)
				continue;
			if (c->bev != NULL) {
				pick = c;
				break;
			}
			if (pick == NULL)
				pick = c;
		}
		if (pick == NULL)
			return; /* every connection is busy: the next answer sends it */
		send_on(r, pick);
	}
	if (r->next >= r->total) {
		r->stopping = true;
		maybe_finish(r);
		return;
	}
	wait = sched_of(r, r->next) - now;
	tv.tv_sec = (time_t)(wait / 1000000000);
	tv.tv_usec = (suseconds_t)((wait % 1000000000) / 1000);
	if (event_add(r->tick, &tv) != 0) {
		fprintf(stderr, "hmacd-http-load: cannot arm the timer\n");
		r->errors += r->total - r->next;
		event_base_loopexit(r->base, NULL);
	}
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pump(arg);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;
	uint64_t missing = r->next - r->answered - r->errors;

	(void)fd;
	(void)what;
	fprintf(stderr, "hmacd-http-load: %" PRIu64 " requests unanswered, %" PRIu64
		" never sent, at the deadline\n", missing, r->total - r->next);
	r->errors += missing + (r->total - r->next);
	event_base_loopexit(r->base, NULL);
}

/*
 * One whole response at the head of in: its status and total length in *status and *len,
 * *close set if it says "Connection: close"; 0 if complete, 1 if more bytes are needed, -1 if
 * it cannot be parsed (only Content-Length framing: every example server sends it for these
 * answers).
 */
static int parse_response(struct evbuffer *in, int *status, size_t *len, bool *close)
{
	struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	size_t hlen, clen = 0;
	bool have_len = false, closing = false;
	char *head, *p;

	if (end.pos < 0)
		return evbuffer_get_length(in) > MAX_LINE ? -1 : 1;
	hlen = (size_t)end.pos + 4;
	head = (char *)evbuffer_pullup(in, (ev_ssize_t)hlen);
	if (head == NULL || hlen < 12 || strncmp(head, "HTTP/1.1 ", 9) != 0)
		return -1;
	*status = atoi(head + 9);
	for (p = memchr(head, '\n', hlen); p != NULL && p < head + hlen;
	     p = memchr(p, '\n', (size_t)(head + hlen - p))) {
		size_t left;

		p++;
		left = (size_t)(head + hlen - p);
		if (left > 15 && strncasecmp(p, "content-length:", 15) == 0) {
			clen = strtoul(p + 15, NULL, 10);
			have_len = true;
		} else if (left > 18 && strncasecmp(p, "transfer-encoding:", 18) == 0) {
			return -1;
		} else if (left > 17 && strncasecmp(p, "connection: close", 17) == 0) {
			closing = true;
		}
	}
	if (!have_len)
		return -1;
	*len = hlen + clen;
	if (evbuffer_get_length(in) < *len)
		return 1;
	*close = closing;
	return 0;
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct run *r = c->run;
	struct evbuffer *in = bufferevent_get_input(bev);
	int status = 0, rc;
	size_t len = 0;
	bool close_after = false;

	while ((rc = parse_response(in, &status, &len, &close_after)) == 0) {
		if (!c->busy) {
			close_conn(r, c, "an answer to no request");
			return;
		}
		evbuffer_drain(in, len);
		c->busy = false;
		r->answered++;
		if (c->idx >= r->first_counted) {
			if (status >= 200 && status < 300)
				r->ok++;
			else
				r->non2xx++;
			r->last_ns = now_ns();
			if (record_latency(r, r->last_ns - c->sched_ns) != 0) {
				fprintf(stderr, "hmacd-http-load: out of memory\n");
				r->errors++;
				event_base_loopexit(r->base, NULL);
				return;
			}
		}
	}
	if (rc < 0)
		close_conn(r, c, "an answer that is not HTTP/1.1 with Content-Length");
	else if (close_after)
		close_conn(r, c, "closed");
	if (r->stopping)
		maybe_finish(r);
	else
		pump(r);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	struct run *r = c->run;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED)
		return;
	/* closed by the server between two answers: not an error, opened again when needed */
	close_conn(r, c, (what & BEV_EVENT_EOF) ? "closed by the server" : "socket error");
	if (!r->stopping)
		pump(r);
}

static int setup_conns(struct run *r)
{
	struct sockaddr_in *sin = &r->addr;

	*sin = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)r->o->port)};
	if (inet_pton(AF_INET, r->o->host, &sin->sin_addr) != 1) {
		fprintf(stderr, "hmacd-http-load: --host: not an IPv4 address\n");
		return -1;
	}
	r->conns = calloc(r->o->conns, sizeof(*r->conns));
	if (r->conns == NULL)
		return -1;
	for (unsigned i = 0; i < r->o->conns; i++)
		r->conns[i].run = r;
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static uint32_t pct(const struct run *r, double p)
{
	size_t i;

	if (r->nlat == 0)
		return 0;
	i = (size_t)(p / 100.0 * (double)r->nlat);
	if (i >= r->nlat)
		i = r->nlat - 1;
	return r->lat_us[i];
}

static void report(struct run *r)
{
	/*
	 * The achieved rate: the 2xx answers over the time from the first counted request's
	 * scheduled time to the last counted answer, never less than --duration; an app that
	 * keeps up gets the rate asked, one that falls behind what it really answered.
	 */
	double span = (double)(r->last_ns - sched_of(r, r->first_counted)) / 1e9;
	double rate = (double)r->ok / (span > r->o->duration ? span : r->o->duration);

	qsort(r->lat_us, r->nlat, sizeof(*r->lat_us), cmp_u32);
	if (r->o->json)
		printf("{\"sent\": %" PRIu64 ", \"ok\": %" PRIu64 ", \"non2xx\": %" PRIu64
		       ", \"errors\": %" PRIu64 ", \"rate\": %.1f, \"p50_us\": %" PRIu32
		       ", \"p90_us\": %" PRIu32 ", \"p99_us\": %" PRIu32 ", \"max_us\": %" PRIu32
		       ", \"connects\": %" PRIu64 "}\n", r->sent, r->ok, r->non2xx, r->errors, rate,
		       pct(r, 50), pct(r, 90), pct(r, 99), r->nlat ? r->lat_us[r->nlat - 1] : 0,
		       r->connects);
	else
		printf("sent=%" PRIu64 " ok=%" PRIu64 " non2xx=%" PRIu64 " errors=%" PRIu64
		       " rate=%.1f p50_us=%" PRIu32 " p90_us=%" PRIu32 " p99_us=%" PRIu32
		       " max_us=%" PRIu32 " connects=%" PRIu64 "\n", r->sent, r->ok, r->non2xx,
		       r->errors, rate, pct(r, 50), pct(r, 90), pct(r, 99),
		       r->nlat ? r->lat_us[r->nlat - 1] : 0, r->connects);
}

int main(int argc, char **argv)
{
	struct opts o;
	struct run r = {0};
	struct event_config *cfg = NULL;
	int rc = 1;

	if (parse_args(argc, argv, &o) != 0) {
		usage(stderr);
		return 2;
	}
	r.o = &o;
	if (load_reqs(&o, &r.reqs) != 0)
		goto out;
	cfg = event_config_new();
	if (cfg == NULL || event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER) != 0)
		goto out;
	r.base = event_base_new_with_config(cfg);
	if (r.base == NULL)
		goto out;
	r.tick = evtimer_new(r.base, on_tick, &r);
	r.deadline = evtimer_new(r.base, on_deadline, &r);
	if (r.tick == NULL || r.deadline == NULL || setup_conns(&r) != 0)
		goto out;
	r.interval_ns = (int64_t)(1e9 / o.rate);
	r.first_counted = (uint64_t)(o.warmup * o.rate);
	r.total = r.first_counted + (uint64_t)(o.duration * o.rate);
	r.start_ns = now_ns();
	{
		double end = o.warmup + o.duration + o.timeout;
		struct timeval tv = {.tv_sec = (time_t)end,
				     .tv_usec = (suseconds_t)((end - (double)(time_t)end) * 1e6)};

		if (event_add(r.deadline, &tv) != 0)
			goto out;
	}
	pump(&r);
	if (event_base_dispatch(r.base) < 0)
		goto out;
	report(&r);
	rc = (r.errors == 0 && r.non2xx == 0 && r.ok == r.sent && r.ok > 0) ? 0 : 1;
out:
	if (r.conns != NULL) {
		for (unsigned i = 0; i < o.conns; i++)
			if (r.conns[i].bev != NULL)
				bufferevent_free(r.conns[i].bev);
		free(r.conns);
	}
	if (r.tick != NULL)
		event_free(r.tick);
	if (r.deadline != NULL)
		event_free(r.deadline);
	if (r.base != NULL)
		event_base_free(r.base);
	if (cfg != NULL)
		event_config_free(cfg);
	free(r.lat_us);
	free_reqs(&r.reqs);
	return rc;
}
