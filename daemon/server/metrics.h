/*
 * metrics.h - --metrics-listen: /metrics in the Prometheus text format (expo.h), served by
 * libevent's own HTTP server on a thread and an event base of its own, so a scrape never
 * waits for a verify nor delays one.
 *
 * Threads: the metrics thread only reads. Worker counters and tallies (counter.h, tally.h) are
 * read with relaxed loads, the nonce cache's fill and the store's usage through their own
 * thread-safe calls, the fleet's stats through its atomics. It takes no lock a worker takes on
 * the hot path and allocates nothing the workers see; the body is built in a buffer of its own,
 * kept between scrapes.
 *
 * HTTP: GET or HEAD /metrics (200, Content-Type text/plain; version=0.0.4; charset=utf-8);
 * any other path 404; another method on /metrics 405 with Allow. Requests are bounded: 8 KiB
 * of headers, 1 KiB of body, 10 s to send a request or take an answer.
 */
#ifndef HM_METRICS_H
#define HM_METRICS_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

#include "engine/counter.h"
#include "engine/replay.h"
#include "proto/buf.h"
#include "proto/errors.h"
#include "server/fleet.h"
#include "server/options.h"
#include "server/tally.h"
#include "server/worker.h"
#include "store/keystore.h"

/* What the metrics are read from: main's, valid until hm_metrics_stop() returns. */
struct hm_metrics_source {
	const struct hm_config *cfg;
	const struct hm_worker *workers;
	unsigned nworkers;
	struct hm_replay *replay;
	struct hm_keystore *ks;
	const struct hm_srv_fleet *fleet; /* NULL outside fleet mode */
	const struct hm_tenants *tenants; /* NULL without --metrics-tenants */
	const atomic_uint_fast64_t *conns_open;
	const hm_counter *conns_refused; /* over --max-conns */
	const hm_counter *peers_refused; /* not in --allow-uid / --allow-gid */
	const hm_counter *accept_errors;
	int64_t started; /* unix seconds */
};

/* A --metrics-listen value, parsed. */
struct hm_metrics_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/*
 * Parses --metrics-listen: PORT (on 127.0.0.1), ADDR:PORT (a numeric IPv4 address, or
 * "localhost"), or [ADDR6]:PORT; PORT 0..65535, 0 taking any free port (the one taken is
 * logged). No name is looked up. HM_OK or HM_EINVAL.
 */
int hm_metrics_parse_listen(const char *s, struct hm_metrics_addr *out) HM_MUSTCHECK;

/*
 * --check-config: whether addr can be bound now (then released). HM_OK, or HM_EIO with the
 * reason logged (the port taken, an address not on this host).
 */
int hm_metrics_check(const struct hm_metrics_addr *addr) HM_MUSTCHECK;

/* Writes every metric of src into out (the body of a scrape); check out->failed. */
void hm_metrics_render(const struct hm_metrics_source *src, struct hm_buf *out);

struct hm_metrics;

/*
 * Binds addr (errors logged: a taken port, an address not on this host) and starts the
 * metrics thread. HM_OK with *out; HM_EIO, HM_ENOMEM.
 */
int hm_metrics_start(const struct hm_metrics_addr *addr, const struct hm_metrics_source *src,
		     struct hm_metrics **out) HM_MUSTCHECK;
/* Stops the thread, closes the socket, frees (NULL is fine). Any thread but the metrics one. */
void hm_metrics_stop(struct hm_metrics *m);

#endif
