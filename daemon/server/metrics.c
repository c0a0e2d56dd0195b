/*
 * metrics.c - the /metrics endpoint: the listening socket, the thread with its evhttp server,
 * and what a scrape says (see metrics.h).
 *
 * Names follow Prometheus' conventions: the hmacd_ prefix, base units (seconds, bytes), _total
 * on counters. Every series of a family is written at every scrape, zero included, so rates
 * and alerts never see a series appear out of nothing; the per-tenant rows are the exception
 * (only counts above zero), as they would otherwise be N x 10 series of zeros.
 */
#include <config.h>

#include "server/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "fleet/state.h"
#include "server/expo.h"
#include "server/log.h"

#define BODY_LIMIT ((size_t)16 << 20) /* a scrape's text; 1000 tenants x 10 verdicts fit */

/* ---- --metrics-listen ---- */

static int parse_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;

	if (*s == '\0' || strlen(s) > 5)
		return HM_EINVAL;
	for (const char *p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return HM_EINVAL;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v > 65535)
		return HM_EINVAL;
	*port = (uint16_t)v;
	return HM_OK;
}

int hm_metrics_parse_listen(const char *s, struct hm_metrics_addr *out)
{
	char host[64];
	const char *colon, *port_s;
	size_t hlen;
	uint16_t port;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return HM_EINVAL;
	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&out->ss;

		if (end == NULL || end[1] != ':' || (size_t)(end - s - 1) >= sizeof(host))
			return HM_EINVAL;
		hlen = (size_t)(end - s - 1);
		memcpy(host, s + 1, hlen);
		host[hlen] = '\0';
		if (parse_port(end + 2, &port) != HM_OK || inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
			return HM_EINVAL;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		out->len = sizeof(*a6);
		return HM_OK;
	}
	colon = strrchr(s, ':');
	if (colon == NULL) {
		snprintf(host, sizeof(host), "127.0.0.1");
		port_s = s;
	} else {
		hlen = (size_t)(colon - s);
		if (hlen == 0 || hlen >= sizeof(host))
			return HM_EINVAL;
		memcpy(host, s, hlen);
		host[hlen] = '\0';
		if (strcmp(host, "localhost") == 0)
			snprintf(host, sizeof(host), "127.0.0.1");
		port_s = colon + 1;
	}
	{
		struct sockaddr_in *a4 = (struct sockaddr_in *)&out->ss;

		if (parse_port(port_s, &port) != HM_OK || inet_pton(AF_INET, host, &a4->sin_addr) != 1)
			return HM_EINVAL;
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		out->len = sizeof(*a4);
	}
	return HM_OK;
}

/* "127.0.0.1:9464" or "[::1]:9464" */
static void format_addr(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)ss;

		if (inet_ntop(AF_INET6, &a6->sin6_addr, host, sizeof(host)) == NULL)
			snprintf(host, sizeof(host), "?");
		snprintf(buf, cap, "[%s]:%u", host, (unsigned)ntohs(a6->sin6_port));
	} else {
		const struct sockaddr_in *a4 = (const struct sockaddr_in *)ss;

		if (inet_ntop(AF_INET, &a4->sin_addr, host, sizeof(host)) == NULL)
			snprintf(host, sizeof(host), "?");
		snprintf(buf, cap, "%s:%u", host, (unsigned)ntohs(a4->sin_port));
	}
}

/* ---- what a scrape says ---- */

#define L(n, v) HM_EXPO_LABEL((n), (v))

static void counter1(struct hm_buf *out, const char *name, const char *help, uint64_t v)
{
	hm_expo_family(out, name, "counter", help);
	hm_expo_sample(out, name, NULL, 0, v, 0);
}

static void gauge1(struct hm_buf *out, const char *name, const char *help, uint64_t v)
{
	hm_expo_family(out, name, "gauge", help);
	hm_expo_sample(out, name, NULL, 0, v, 0);
}

/* Sums of every worker's counters. */
struct sums {
	uint64_t verdicts[HM_TALLY__SCHEMES][HM_V__COUNT];
	uint64_t time_buckets[HM_TALLY_TIME_BOUNDS + 1], time_sum_ns;
	uint64_t item_buckets[HM_TALLY_ITEM_BOUNDS + 1], item_sum;
	uint64_t frames, frame_errors, items, opened, current, oversize, timeouts, io_errors;
	uint64_t kc_hits, kc_misses, kc_clears, kc_used, nonce_full, nonce_tenant_full;
	uint64_t nonce_before_start, store_errors;
	uint64_t claims[6]; /* sent, ok, taken, unavailable, timeouts, reconnects */
	uint64_t claim_conns;
};

static void sum_workers(const struct hm_metrics_source *src, struct sums *s)
{
	memset(s, 0, sizeof(*s));
	for (unsigned i = 0; i < src->nworkers; i++) {
		const struct hm_worker *w = &src->workers[i];
		const struct hm_verify_stats *vs = hm_verify_stats(w->verifier);
		const struct hm_tally *t = &w->tally;

		for (unsigned k = 0; k < HM_TALLY__SCHEMES; k++)
			for (unsigned v = 0; v < HM_V__COUNT; v++)
				s->verdicts[k][v] += hm_counter_get(&t->verdicts[k][v]);
		for (unsigned b = 0; b <= HM_TALLY_TIME_BOUNDS; b++)
			s->time_buckets[b] += hm_counter_get(&t->time_buckets[b]);
		s->time_sum_ns += hm_counter_get(&t->time_sum_ns);
		for (unsigned b = 0; b <= HM_TALLY_ITEM_BOUNDS; b++)
			s->item_buckets[b] += hm_counter_get(&t->item_buckets[b]);
		s->item_sum += hm_counter_get(&t->item_sum);
		s->frames += hm_counter_get(&w->handler.stats.requests);
		s->frame_errors += hm_counter_get(&w->handler.stats.request_errors);
		s->items += hm_counter_get(&w->handler.stats.items);
		s->opened += hm_counter_get(&w->conns.stats.opened);
		s->oversize += hm_counter_get(&w->conns.stats.oversize_frames);
		s->timeouts += hm_counter_get(&w->conns.stats.read_timeouts);
		s->io_errors += hm_counter_get(&w->conns.stats.io_errors);
		s->kc_hits += hm_counter_get(&vs->key_cache_hits);
		s->kc_misses += hm_counter_get(&vs->key_cache_misses);
		s->kc_clears += hm_counter_get(&vs->key_cache_clears);
		/* one key cache shared by the workers: each reports its fill as last seen */
		if (hm_counter_get(&vs->key_cache_used) > s->kc_used)
			s->kc_used = hm_counter_get(&vs->key_cache_used);
		s->nonce_full += hm_counter_get(&vs->nonce_cache_full);
		s->nonce_tenant_full += hm_counter_get(&vs->nonce_tenant_full);
		s->nonce_before_start += hm_counter_get(&vs->nonce_before_start);
		s->store_errors += hm_counter_get(&vs->store_errors);
		if (w->claimer != NULL) {
			const struct hm_claims_stats *cs = hm_claimer_stats(w->claimer);

			s->claims[0] += hm_counter_get(&cs->sent);
			s->claims[1] += hm_counter_get(&cs->ok);
			s->claims[2] += hm_counter_get(&cs->taken);
			s->claims[3] += hm_counter_get(&cs->unavailable);
			s->claims[4] += hm_counter_get(&cs->timeouts);
			s->claims[5] += hm_counter_get(&cs->reconnects);
			s->claim_conns += hm_counter_get(&cs->connected);
		}
	}
}

static void render_verdicts(const struct sums *s, struct hm_buf *out)
{
	const char *name = "hmacd_verdicts_total";

	hm_expo_family(out, name, "counter",
		       "Verify items judged, by scheme and verdict (scheme unknown: the item did "
		       "not decode)");
	for (unsigned k = 0; k < HM_TALLY__SCHEMES; k++)
		for (unsigned v = 0; v < HM_V__COUNT; v++) {
			struct hm_expo_label l[2] = {L("scheme", hm_tally_scheme_name(k)),
						     L("verdict", hm_verdict_name(v))};

			hm_expo_sample(out, name, l, 2, s->verdicts[k][v], 0);
		}
}

static void render_tenants(const struct hm_metrics_source *src, struct hm_buf *out)
{
	const char *name = "hmacd_tenant_verdicts_total";
	const struct hm_tenants *t = src->tenants;
	unsigned used = hm_tenants_used(t), max = hm_tenants_max(t);

	hm_expo_family(out, name, "counter",
		       "Verify items judged, by tenant (the first --metrics-tenants tenants whose "
		       "keys exist; every other item under __other__) and verdict");
	for (unsigned row = 0; row <= max; row++) {
		struct hm_expo_label l[2];

		if (row < max && row >= used)
			continue;
		if (row < max) {
			l[0].name = "tenant";
			l[0].value = hm_tenants_name(t, row, &l[0].value_len);
		} else {
			l[0] = L("tenant", "__other__");
		}
		for (unsigned v = 0; v < HM_V__COUNT; v++) {
			uint64_t n = 0;

			for (unsigned i = 0; i < src->nworkers; i++)
				n += hm_counter_get(
					&src->workers[i].tally.tenant_verdicts[row * HM_V__COUNT + v]);
			if (n == 0)
				continue;
			l[1] = L("verdict", hm_verdict_name(v));
			hm_expo_sample(out, name, l, 2, n, 0);
		}
	}
}

static void render_fleet(const struct hm_metrics_source *src, const struct sums *s,
			 struct hm_buf *out)
{
	const char *names[HM_SRV_FLEET_NSTATS];
	uint64_t values[HM_SRV_FLEET_NSTATS], state = 0;
	static const char *const states[] = {"following", "syncing", "down", "lost"};
	static const unsigned state_values[] = {HM_FOLLOW_FOLLOWING, HM_FOLLOW_SYNCING,
						 HM_FOLLOW_DOWN, HM_FOLLOW_LOST};

	hm_srv_fleet_stats(src->fleet, names, values);
	for (unsigned i = 0; i < HM_SRV_FLEET_NSTATS; i++) {
		if (strcmp(names[i], "fleet_state") == 0)
			state = values[i];
		else if (strcmp(names[i], "fleet_connected") == 0)
			gauge1(out, "hmacd_fleet_connected",
			       "1 while the follower is connected to the fleet's Redis", values[i]);
		else if (strcmp(names[i], "fleet_changes_applied") == 0)
			counter1(out, "hmacd_fleet_changes_applied_total",
				 "Fleet changes written to the local store", values[i]);
		else if (strcmp(names[i], "fleet_records_refused") == 0)
			counter1(out, "hmacd_fleet_records_refused_total",
				 "Fleet records refused (older than the store's, or invalid)",
				 values[i]);
		else if (strcmp(names[i], "fleet_resyncs") == 0)
			counter1(out, "hmacd_fleet_resyncs_total", "Full syncs from the fleet",
				 values[i]);
		else if (strcmp(names[i], "fleet_lag_ms") == 0) {
			hm_expo_family(out, "hmacd_fleet_lag_seconds", "gauge",
				       "Age of the newest fleet change when it was applied");
			hm_expo_sample(out, "hmacd_fleet_lag_seconds", NULL, 0, values[i], 3);
		}
	}
	hm_expo_family(out, "hmacd_fleet_state", "gauge",
		       "The fleet follower's state: 1 for the current one");
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		struct hm_expo_label l = L("state", states[i]);

		hm_expo_sample(out, "hmacd_fleet_state", &l, 1, state == state_values[i], 0);
	}
	if (strcmp(src->cfg->fleet_nonces, "redis") != 0)
		return;
	{
		static const char *const results[] = {"claimed", "taken", "unavailable"};
		const char *name = "hmacd_fleet_nonce_claims_total";

		hm_expo_family(out, name, "counter",
			       "Fleet-wide nonce claims answered, by result (taken: a replay "
			       "elsewhere; unavailable: no answer in time or Redis down)");
		for (unsigned i = 0; i < 3; i++) {
			struct hm_expo_label l = L("result", results[i]);

			hm_expo_sample(out, name, &l, 1, s->claims[1 + i], 0);
		}
		counter1(out, "hmacd_fleet_nonce_claim_timeouts_total",
			 "Claim sets answered at --fleet-timeout", s->claims[4]);
		counter1(out, "hmacd_fleet_nonce_reconnects_total",
			 "Reconnections of the workers' claim connections", s->claims[5]);
		gauge1(out, "hmacd_fleet_nonce_connections",
		       "Workers' claim connections up to the fleet's master", s->claim_conns);
	}
}

void hm_metrics_render(const struct hm_metrics_source *src, struct hm_buf *out)
{
	struct sums s;
	struct hm_ks_usage u;
	const char *name;

	sum_workers(src, &s);
	hm_expo_family(out, "hmacd_build_info", "gauge", "Always 1; the version as a label");
	{
		struct hm_expo_label l = L("version", PACKAGE_VERSION);

		hm_expo_sample(out, "hmacd_build_info", &l, 1, 1, 0);
	}
	gauge1(out, "hmacd_start_time_seconds", "When the daemon started, in unix seconds",
	       (uint64_t)src->started);
	gauge1(out, "hmacd_workers", "Worker threads", src->nworkers);
	render_verdicts(&s, out);
	if (src->tenants != NULL)
		render_tenants(src, out);
	counter1(out, "hmacd_frames_total", "Request frames handled (verify, ping, stats)",
		 s.frames);
	counter1(out, "hmacd_frame_errors_total",
		 "Request frames answered with an error (malformed, too many items, internal)",
		 s.frame_errors);
	counter1(out, "hmacd_items_total", "Verify items received", s.items);
	counter1(out, "hmacd_oversize_frames_total",
		 "Connections closed for announcing a frame over --max-frame", s.oversize);
	counter1(out, "hmacd_read_timeouts_total",
		 "Connections closed for not finishing a frame within --read-timeout", s.timeouts);
	counter1(out, "hmacd_io_errors_total", "Connections closed on a socket error", s.io_errors);
	counter1(out, "hmacd_connections_total", "Client connections accepted", s.opened);
	gauge1(out, "hmacd_connections", "Client connections open",
	       atomic_load(src->conns_open));
	name = "hmacd_connections_refused_total";
	hm_expo_family(out, name, "counter",
		       "Connections closed at accept: peer (not in --allow-uid/--allow-gid) or "
		       "max_conns (--max-conns reached)");
	{
		struct hm_expo_label peer = L("reason", "peer"), full = L("reason", "max_conns");

		hm_expo_sample(out, name, &peer, 1, hm_counter_get(src->peers_refused), 0);
		hm_expo_sample(out, name, &full, 1, hm_counter_get(src->conns_refused), 0);
	}
	counter1(out, "hmacd_accept_errors_total", "Failed accept() calls",
		 hm_counter_get(src->accept_errors));
	name = "hmacd_frame_duration_seconds";
	hm_expo_family(out, name, "histogram",
		       "Time to serve one request frame, from its last byte to its answer buffered "
		       "(a fleet host's claims in Redis not included)");
	hm_expo_histogram(out, name, NULL, 0, hm_tally_time_bounds_ns, s.time_buckets,
			  HM_TALLY_TIME_BOUNDS, s.time_sum_ns, 9);
	name = "hmacd_frame_items";
	hm_expo_family(out, name, "histogram", "Items per verify frame");
	hm_expo_histogram(out, name, NULL, 0, hm_tally_item_bounds, s.item_buckets,
			  HM_TALLY_ITEM_BOUNDS, s.item_sum, 0);
	gauge1(out, "hmacd_key_cache_entries", "Key epochs in the key cache the workers share",
	       s.kc_used);
	gauge1(out, "hmacd_key_cache_capacity", "Key epochs the shared key cache can hold",
	       (uint64_t)src->cfg->key_cache);
	counter1(out, "hmacd_key_cache_hits_total", "Key lookups answered by a key cache",
		 s.kc_hits);
	counter1(out, "hmacd_key_cache_misses_total", "Key lookups that read the store",
		 s.kc_misses);
	counter1(out, "hmacd_key_cache_clears_total",
		 "Key caches emptied after an admin change to the store", s.kc_clears);
	gauge1(out, "hmacd_nonce_cache_entries", "Nonces remembered for replay protection",
	       hm_replay_used(src->replay));
	gauge1(out, "hmacd_nonce_cache_capacity", "Nonces the cache can hold (--nonce-cache)",
	       hm_replay_capacity(src->replay));
	counter1(out, "hmacd_nonce_cache_full_total",
		 "Nonce items refused (REPLAY) because the nonce cache was full", s.nonce_full);
	counter1(out, "hmacd_nonce_tenant_full_total",
		 "Nonce items refused (REPLAY) because their tenant held its share of the cache",
		 s.nonce_tenant_full);
	counter1(out, "hmacd_nonce_before_start_total",
		 "Nonce items refused (REPLAY) for being signed before the nonce cache's start",
		 s.nonce_before_start);
	counter1(out, "hmacd_store_errors_total",
		 "Failures reading the key store (the batch is answered internal, nothing passes)",
		 s.store_errors);
	if (hm_ks_usage(src->ks, &u) == HM_OK) {
		gauge1(out, "hmacd_store_used_bytes", "Bytes of the key store's pages in use",
		       u.used_bytes);
		gauge1(out, "hmacd_store_map_bytes",
		       "The daemon's map of the key store: the most it can grow to", u.map_bytes);
	}
	if (src->fleet != NULL)
		render_fleet(src, &s, out);
}

/* ---- the thread and its HTTP server ---- */

struct hm_metrics {
	struct hm_metrics_source src;
	struct event_base *base;
	struct evhttp *http;
	pthread_t thread;
	bool started;
	struct hm_buf body; /* the metrics thread's, reused scrape after scrape */
};

static void reply_text(struct evhttp_request *req, int code, const char *reason,
		       const char *text)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *b = evhttp_request_get_output_buffer(req);

	if (evhttp_add_header(h, "Content-Type", "text/plain; charset=utf-8") != 0 ||
	    evbuffer_add(b, text, strlen(text)) != 0)
		hm_warn("metrics: out of memory answering %d", code);
	evhttp_send_reply(req, code, reason, NULL);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct hm_metrics *m = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	if (path == NULL || strcmp(path, "/metrics") != 0) {
		reply_text(req, HTTP_NOTFOUND, "Not Found", "not found: the metrics are at /metrics\n");
		return;
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		if (evhttp_add_header(h, "Allow", "GET, HEAD") != 0)
			hm_warn("metrics: out of memory answering 405");
		reply_text(req, 405, "Method Not Allowed", "only GET and HEAD\n");
		return;
	}
	hm_buf_reset(&m->body);
	hm_metrics_render(&m->src, &m->body);
	if (m->body.failed) {
		hm_err("metrics: the scrape did not fit in %zu MiB", BODY_LIMIT >> 20);
		reply_text(req, HTTP_INTERNAL, "Internal Server Error", "metrics unavailable\n");
		return;
	}
	if (evhttp_add_header(h, "Content-Type", "text/plain; version=0.0.4; charset=utf-8") != 0 ||
	    evbuffer_add(evhttp_request_get_output_buffer(req), m->body.data, m->body.len) != 0) {
		hm_err("metrics: out of memory for a scrape");
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	evhttp_send_reply(req, HTTP_OK, "OK", NULL);
}

static void *metrics_main(void *arg)
{
	struct hm_metrics *m = arg;

	if (event_base_dispatch(m->base) < 0)
		hm_err("metrics: event loop failed");
	return NULL;
}

/* A listening TCP socket on addr (non-blocking, close-on-exec); -1 (logged) on failure. */
static int listen_tcp(const struct hm_metrics_addr *addr, char *name, size_t cap)
{
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	int fd, one = 1;

	format_addr(&addr->ss, name, cap);
	fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		hm_err("metrics: socket: %s", strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    (addr->ss.ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0)) {
		hm_err("metrics: setsockopt: %s", strerror(errno));
		goto fail;
	}
	if (bind(fd, (const struct sockaddr *)&addr->ss, addr->len) != 0) {
		hm_err("metrics: bind %s: %s", name, strerror(errno));
		goto fail;
	}
	if (listen(fd, 64) != 0) {
		hm_err("metrics: listen %s: %s", name, strerror(errno));
		goto fail;
	}
	if (getsockname(fd, (struct sockaddr *)&bound, &blen) == 0)
		format_addr(&bound, name, cap); /* port 0: the one the kernel gave */
	return fd;
fail:
	(void)close(fd);
	return -1;
}

int hm_metrics_check(const struct hm_metrics_addr *addr)
{
	char name[INET6_ADDRSTRLEN + 16];
	int fd = listen_tcp(addr, name, sizeof(name));

	if (fd < 0)
		return HM_EIO;
	(void)close(fd);
	return HM_OK;
}

int hm_metrics_start(const struct hm_metrics_addr *addr, const struct hm_metrics_source *src,
		     struct hm_metrics **out)
{
	struct hm_metrics *m;
	char name[INET6_ADDRSTRLEN + 16];
	int fd = -1, rc;

	*out = NULL;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return HM_ENOMEM;
	m->src = *src;
	hm_buf_init(&m->body, BODY_LIMIT);
	rc = HM_ENOMEM;
	m->base = event_base_new();
	if (m->base == NULL)
		goto fail;
	m->http = evhttp_new(m->base);
	if (m->http == NULL)
		goto fail;
	/* the methods we answer 405 ourselves; evhttp would answer others 501 */
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
						    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
						    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_max_headers_size(m->http, 8192);
	evhttp_set_max_body_size(m->http, 1024);
	evhttp_set_timeout(m->http, 10);
	evhttp_set_gencb(m->http, on_request, m);
	rc = HM_EIO;
	fd = listen_tcp(addr, name, sizeof(name));
	if (fd < 0)
		goto fail;
	if (evhttp_accept_socket_with_handle(m->http, fd) == NULL) {
		hm_err("metrics: evhttp could not take the socket");
		(void)close(fd);
		goto fail;
	}
	/* the server owns fd now: evhttp_free() closes it */
	rc = pthread_create(&m->thread, NULL, metrics_main, m);
	if (rc != 0) {
		hm_err("metrics: pthread_create: %s", strerror(rc));
		rc = HM_EIO;
		goto fail;
	}
	m->started = true;
	hm_info("metrics: serving http://%s/metrics", name);
	*out = m;
	return HM_OK;
fail:
	hm_metrics_stop(m);
	return rc;
}

void hm_metrics_stop(struct hm_metrics *m)
{
	int rc;

	if (m == NULL)
		return;
	if (m->started) {
		/* the base has locks (evthread_use_pthreads before it was made): any thread may */
		if (event_base_loopexit(m->base, NULL) != 0)
			hm_err("metrics: event_base_loopexit failed");
		rc = pthread_join(m->thread, NULL);
		if (rc != 0)
			hm_err("metrics: pthread_join: %s", strerror(rc));
	}
	if (m->http != NULL)
		evhttp_free(m->http);
	if (m->base != NULL)
		event_base_free(m->base);
	hm_buf_free(&m->body);
	free(m);
}
