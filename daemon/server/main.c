/*
 * main.c - hmacd: options, key store, socket, worker threads, signals, exit codes.
 *
 * The main thread runs its own event loop for accepting connections and for signals; it hands
 * every accepted socket to a worker (worker.h). SIGTERM/SIGINT: stop accepting, remove the
 * socket file, let each worker answer the frames it already received and flush, then exit 0.
 *
 * Exit codes: 0 clean shutdown or --help; 1 start-up failure; 2 usage error.
 */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "proto/frame.h"
#include "store/keystore.h"
#include "server/fleet.h"
#include "server/listener.h"
#include "server/log.h"
#include "server/metrics.h"
#include "proto/msg.h"
#include "server/options.h"
#include "engine/keycache.h"
#include "engine/replay.h"
#include "server/worker.h"

struct server {
	const struct hm_config *cfg;
	struct event_base *base;
	struct event *accept_ev;
	struct event *accept_retry; /* re-enables accepting after fd exhaustion */
	struct event *sig_term, *sig_int, *sig_hup;
	int listen_fd;
	bool socket_activated; /* systemd passed the socket: never unlink it */
	struct hm_keystore *ks;
	struct hm_srv_fleet *fleet; /* --fleet: keeps ks as the fleet's mirror; NULL otherwise */
	struct hm_replay *replay;
	struct hm_keycache *key_cache; /* shared by the workers */
	struct hm_worker *workers;
	unsigned nworkers;
	struct hm_tenants *tenants;  /* --metrics-tenants: the shared table, or NULL */
	struct hm_metrics *metrics;  /* --metrics-listen: the /metrics thread, or NULL */
	unsigned next_worker;
	atomic_uint_fast64_t conns_open; /* all workers; for --max-conns */
	hm_counter conns_refused;        /* main thread writes: over --max-conns */
	hm_counter peers_refused;        /* main thread writes: not in --allow-uid/--allow-gid */
	hm_counter accept_errors;
	time_t started;
};

/* ---- stats op (runs on a worker thread; reads counters with relaxed loads) ---- */

struct stat_row {
	const char *name;
	uint64_t value;
};

#define MAX_STATS 64

/* Fills rows with every counter; returns how many. */
static unsigned collect_stats(struct server *s, struct stat_row rows[MAX_STATS])
{
	uint64_t v[HM_V__COUNT] = {0}, hits = 0, misses = 0, clears = 0, full = 0, store = 0,
		 kc = 0, req = 0, rerr = 0, items = 0, opened = 0, oversize = 0, timeouts = 0,
		 ioerr = 0, before = 0, tenant_full = 0;
	unsigned n = 0;

	for (unsigned i = 0; i < s->nworkers; i++) {
		const struct hm_worker *w = &s->workers[i];
		const struct hm_verify_stats *vs = hm_verify_stats(w->verifier);

		for (unsigned k = 0; k < HM_V__COUNT; k++)
			v[k] += hm_counter_get(&vs->verdicts[k]);
		hits += hm_counter_get(&vs->key_cache_hits);
		misses += hm_counter_get(&vs->key_cache_misses);
		clears += hm_counter_get(&vs->key_cache_clears);
		full += hm_counter_get(&vs->nonce_cache_full);
		tenant_full += hm_counter_get(&vs->nonce_tenant_full);
		before += hm_counter_get(&vs->nonce_before_start);
		store += hm_counter_get(&vs->store_errors);
		/* one cache shared by the workers: each reports its size */
		if (hm_counter_get(&vs->key_cache_used) > kc)
			kc = hm_counter_get(&vs->key_cache_used);
		req += hm_counter_get(&w->handler.stats.requests);
		rerr += hm_counter_get(&w->handler.stats.request_errors);
		items += hm_counter_get(&w->handler.stats.items);
		opened += hm_counter_get(&w->conns.stats.opened);
		oversize += hm_counter_get(&w->conns.stats.oversize_frames);
		timeouts += hm_counter_get(&w->conns.stats.read_timeouts);
		ioerr += hm_counter_get(&w->conns.stats.io_errors);
	}
#define ROW(nm, val)                                       \
	do {                                               \
		if (n < MAX_STATS)                         \
			rows[n++] = (struct stat_row){(nm), (val)}; \
	} while (0)
	ROW("uptime_seconds", (uint64_t)(time(NULL) - s->started));
	ROW("threads", s->nworkers);
	ROW("connections_current", atomic_load(&s->conns_open));
	ROW("connections_total", opened);
	ROW("connections_refused", hm_counter_get(&s->conns_refused));
	ROW("connections_refused_peer", hm_counter_get(&s->peers_refused));
	ROW("accept_errors", hm_counter_get(&s->accept_errors));
	ROW("requests", req);
	ROW("request_errors", rerr);
	ROW("items", items);
	ROW("verdict_ok", v[HM_V_OK]);
	ROW("verdict_bad_signature", v[HM_V_BAD_SIGNATURE]);
	ROW("verdict_unknown_key", v[HM_V_UNKNOWN_KEY]);
	ROW("verdict_key_revoked", v[HM_V_KEY_REVOKED]);
	ROW("verdict_key_expired", v[HM_V_KEY_EXPIRED]);
	ROW("verdict_stale_timestamp", v[HM_V_STALE_TIMESTAMP]);
	ROW("verdict_replay", v[HM_V_REPLAY]);
	ROW("verdict_malformed", v[HM_V_MALFORMED]);
	ROW("verdict_insufficient_coverage", v[HM_V_INSUFFICIENT_COVERAGE]);
	ROW("verdict_unavailable", v[HM_V_UNAVAILABLE]);
	ROW("frames_oversize", oversize);
	ROW("read_timeouts", timeouts);
	ROW("io_errors", ioerr);
	ROW("key_cache_hits", hits);
	ROW("key_cache_misses", misses);
	ROW("key_cache_clears", clears);
	ROW("key_cache_entries", kc);
	ROW("store_errors", store);
	ROW("nonce_cache_entries", hm_replay_used(s->replay));
	ROW("nonce_cache_capacity", hm_replay_capacity(s->replay));
	ROW("nonce_cache_full", full);
	ROW("nonce_cache_tenant_full", tenant_full);
	ROW("nonce_cache_tenant_max", hm_replay_tenant_max(s->replay));
	ROW("nonce_before_start", before);
	ROW("max_frame", s->cfg->max_frame);
	if (s->fleet != NULL && strcmp(s->cfg->fleet_nonces, "redis") == 0) {
		uint64_t c[7] = {0};

		for (unsigned i = 0; i < s->nworkers; i++) {
			const struct hm_claims_stats *cs = s->workers[i].claimer != NULL
				? hm_claimer_stats(s->workers[i].claimer) : NULL;

			if (cs == NULL)
				continue;
			c[0] += hm_counter_get(&cs->sent);
			c[1] += hm_counter_get(&cs->ok);
			c[2] += hm_counter_get(&cs->taken);
			c[3] += hm_counter_get(&cs->unavailable);
			c[4] += hm_counter_get(&cs->timeouts);
			c[5] += hm_counter_get(&cs->connected);
			c[6] += hm_counter_get(&cs->reconnects);
		}
		ROW("fleet_nonce_claims", c[0]);
		ROW("fleet_nonce_claimed", c[1]);
		ROW("fleet_nonce_taken", c[2]);
		ROW("fleet_nonce_unavailable", c[3]);
		ROW("fleet_nonce_timeouts", c[4]);
		ROW("fleet_nonce_connections", c[5]);
		ROW("fleet_nonce_reconnects", c[6]);
	}
	if (s->fleet != NULL) {
		const char *names[HM_SRV_FLEET_NSTATS];
		uint64_t values[HM_SRV_FLEET_NSTATS];

		hm_srv_fleet_stats(s->fleet, names, values);
		for (unsigned i = 0; i < HM_SRV_FLEET_NSTATS; i++)
			ROW(names[i], values[i]);
	}
#undef ROW
	return n;
}

static void write_stats(void *arg, struct hm_buf *out, uint64_t id)
{
	struct stat_row rows[MAX_STATS];
	unsigned n = collect_stats(arg, rows);
	size_t start;

	start = hm_encode_stats_begin(out, id, n);
	for (unsigned i = 0; i < n; i++)
		hm_encode_stat(out, rows[i].name, rows[i].value);
	hm_frame_end(out, start);
}

static void conn_closed(void *arg)
{
	struct server *s = arg;

	atomic_fetch_sub(&s->conns_open, 1);
}

/* ---- accepting ---- */

static bool id_listed(const struct hm_idlist *l, uint32_t id)
{
	for (unsigned i = 0; i < l->n; i++)
		if (l->ids[i] == id)
			return true;
	return false;
}

/*
 * Whether one of the peer's supplementary groups is in --allow-gid (SO_PEERGROUPS: the groups
 * the peer had when it connected). An app server's user is usually put in the clients' group
 * as a supplementary group, not as its primary one.
 */
static bool peer_in_groups(const struct hm_config *cfg, int fd)
{
	gid_t small[64], *groups = small;
	socklen_t len = sizeof(small);
	bool found = false;

	if (cfg->allow_gid.n == 0)
		return false;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) != 0) {
		if (errno != ERANGE || len == 0 || len > 65536 * sizeof(gid_t))
			return false;
		groups = malloc(len); /* the kernel said how much: at most NGROUPS_MAX */
		if (groups == NULL)
			return false;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) != 0)
			len = 0;
	}
	for (size_t i = 0; i < len / sizeof(gid_t) && !found; i++)
		found = id_listed(&cfg->allow_gid, (uint32_t)groups[i]);
	if (groups != small)
		free(groups);
	return found;
}

/*
 * --allow-uid / --allow-gid: the kernel's word on who is connecting (SO_PEERCRED), checked
 * before a single byte of the peer is read. Without either list, the socket's file mode is the
 * only gate.
 */
static bool peer_allowed(const struct server *s, int fd)
{
	const struct hm_config *cfg = s->cfg;
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (cfg->allow_uid.n == 0 && cfg->allow_gid.n == 0)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof(cred)) {
		hm_warn("getsockopt(SO_PEERCRED): %s; refusing the peer", strerror(errno));
		return false;
	}
	if (id_listed(&cfg->allow_uid, (uint32_t)cred.uid) ||
	    id_listed(&cfg->allow_gid, (uint32_t)cred.gid) || peer_in_groups(cfg, fd))
		return true;
	hm_debug("refusing peer pid %ld uid %u gid %u: not in --allow-uid/--allow-gid",
		 (long)cred.pid, (unsigned)cred.uid, (unsigned)cred.gid);
	return false;
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct server *s = arg;
	struct timeval retry = {0, 100 * 1000};
	int fd;

	(void)what;
	for (int i = 0; i < 64; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
			    errno == ECONNABORTED)
				return;
			hm_counter_add(&s->accept_errors, 1);
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				/* no busy loop: pause accepting, the kernel keeps the backlog */
				hm_warn("accept: %s; pausing accepts for 100 ms", strerror(errno));
				event_del(s->accept_ev);
				evtimer_add(s->accept_retry, &retry);
				return;
			}
			hm_err("accept: %s", strerror(errno));
			return;
		}
		if (!peer_allowed(s, fd)) {
			hm_counter_add(&s->peers_refused, 1);
			close(fd);
			continue;
		}
		if (atomic_load(&s->conns_open) >= s->cfg->max_conns) {
			hm_counter_add(&s->conns_refused, 1);
			hm_debug("refusing connection: --max-conns %llu reached",
				 (unsigned long long)s->cfg->max_conns);
			close(fd);
			continue;
		}
		atomic_fetch_add(&s->conns_open, 1);
		if (hm_worker_hand_off(&s->workers[s->next_worker], fd) != HM_OK) {
			atomic_fetch_sub(&s->conns_open, 1);
			hm_err("out of memory handing off a connection");
		}
		s->next_worker = (s->next_worker + 1) % s->nworkers;
	}
}

static void on_accept_retry(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;

	(void)fd;
	(void)what;
	if (event_add(s->accept_ev, NULL) != 0)
		hm_err("event_add(accept) failed");
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct server *s = arg;

	(void)what;
	if (sig == SIGHUP) {
		/* keys are read live from the store: the only thing to redo is the log file */
		if (s->cfg->log_file != NULL && hm_log_open_file(s->cfg->log_file) == HM_OK)
			hm_info("SIGHUP: reopened %s", s->cfg->log_file);
		else
			hm_info("SIGHUP: nothing to reload; keys are read live from the store");
		return;
	}
	hm_info("signal %d: shutting down", (int)sig);
	/* stop accepting and remove the socket file before draining */
	event_del(s->accept_ev);
	event_del(s->accept_retry);
	hm_listen_close(s->listen_fd, s->socket_activated ? NULL : s->cfg->socket_path);
	s->listen_fd = -1;
	event_base_loopexit(s->base, NULL);
}

/* ---- start-up ---- */

/* The workers' shared key cache (engine/keycache.h). HM_OK, HM_ENOMEM, HM_ECRYPTO. */
static int key_cache_new(struct server *s)
{
	uint8_t junk[HM_KEY_LEN]; /* keys the entries of epochs without a secret; nobody knows it */
	int rc;

	if (RAND_bytes(junk, sizeof(junk)) != 1)
		return HM_ECRYPTO;
	rc = hm_keycache_new(s->cfg->key_cache, junk, &s->key_cache);
	OPENSSL_cleanse(junk, sizeof(junk));
	return rc;
}

static int setup(struct server *s)
{
	struct hm_replay_options ro = {0};
	struct hm_replay_info ri;
	struct hm_worker_config wc;
	char err[PATH_MAX + 256] = "";
	int rc;

	rc = hm_ks_open(s->cfg->db_dir,
			HM_KS_CREATE | HM_KS_READER | (s->cfg->fleet_url != NULL ? HM_KS_MIRROR : 0),
			&s->ks, err, sizeof(err));
	if (rc != HM_OK) {
		hm_err("key store %s: %s%s%s", s->cfg->db_dir, hm_strerror(rc), err[0] ? ": " : "",
		       err);
		return rc;
	}
	/* a fleet host's store is brought up to date before anyone can ask it anything */
	if (s->cfg->fleet_url != NULL) {
		rc = hm_srv_fleet_start(s->cfg, s->ks, &s->fleet);
		if (rc != HM_OK)
			return rc;
	}
	ro.capacity = s->cfg->nonce_cache;
	ro.tenant_share = (unsigned)s->cfg->nonce_tenant_share;
	ro.max_life = 2 * (int64_t)s->cfg->skew + 2;
	ro.path = s->cfg->nonce_file;
	ro.now = (int64_t)s->started;
	rc = hm_replay_open(&ro, &s->replay, &ri, err, sizeof(err));
	if (rc != HM_OK) {
		hm_err("nonce cache: %s", err[0] ? err : hm_strerror(rc));
		return rc;
	}
	if (ri.fresh == NULL)
		hm_info("nonce cache %s: kept from the previous run, %zu live entries", ro.path,
			ri.restored);
	else
		hm_info("nonce cache %s: new (%s); nonce items signed before now are refused",
			ro.path, ri.fresh);
	memset(&wc, 0, sizeof(wc));
	wc.max_frame = (uint32_t)s->cfg->max_frame;
	wc.max_batch = (uint32_t)s->cfg->max_batch;
	wc.read_timeout = (unsigned)s->cfg->read_timeout;
	wc.idle_spin = (unsigned)s->cfg->idle_spin;
	wc.verify.skew = (int64_t)s->cfg->skew;
	wc.verify.key_cache = s->cfg->key_cache;
	rc = key_cache_new(s);
	if (rc != HM_OK)
		return rc;
	wc.verify.key_cache_shared = s->key_cache;
	wc.verify.nonces_since = ri.since;
	/* a canonical string is never longer than its item plus a fixed slack (canon.h) */
	wc.verify.max_canonical = s->cfg->max_frame + 1024;
	wc.verify.default_policy = s->cfg->policy;
	if (s->fleet != NULL && strcmp(s->cfg->fleet_nonces, "redis") == 0)
		wc.claims = hm_srv_fleet_claims(s->fleet, s->cfg);
	if (s->cfg->metrics_listen != NULL) {
		wc.tally = true;
		if (s->cfg->metrics_tenants > 0) {
			rc = hm_tenants_new((unsigned)s->cfg->metrics_tenants, &s->tenants);
			if (rc != HM_OK)
				return rc;
			wc.tenants = s->tenants;
		}
	}
	wc.stats_fn = write_stats;
	wc.stats_arg = s;
	wc.on_close = conn_closed;
	wc.on_close_arg = s;
	s->workers = calloc(s->cfg->threads, sizeof(*s->workers));
	if (s->workers == NULL)
		return HM_ENOMEM;
	for (unsigned i = 0; i < s->cfg->threads; i++) {
		rc = hm_worker_init(&s->workers[i], i, &wc, s->ks, s->replay);
		s->nworkers = i + 1;
		if (rc != HM_OK) {
			hm_err("worker %u: %s", i, hm_strerror(rc));
			return rc;
		}
	}
	/* before the socket exists: once it does, the daemon counts as started */
	if (s->cfg->metrics_listen != NULL) {
		struct hm_metrics_addr addr;
		struct hm_metrics_source src = {
			.cfg = s->cfg,
			.workers = s->workers,
			.nworkers = s->nworkers,
			.replay = s->replay,
			.ks = s->ks,
			.fleet = s->fleet,
			.tenants = s->tenants,
			.conns_open = &s->conns_open,
			.conns_refused = &s->conns_refused,
			.peers_refused = &s->peers_refused,
			.accept_errors = &s->accept_errors,
			.started = (int64_t)s->started,
		};

		rc = hm_metrics_parse_listen(s->cfg->metrics_listen, &addr);
		if (rc != HM_OK)
			return rc; /* checked when the options were parsed */
		rc = hm_metrics_start(&addr, &src, &s->metrics);
		if (rc != HM_OK)
			return rc;
	}
	/*
	 * Signals first: once the socket exists a client (or a test) may take it as "started" and
	 * send SIGTERM at once; caught from here on, it is handled when the loop runs.
	 */
	s->sig_term = evsignal_new(s->base, SIGTERM, on_signal, s);
	s->sig_int = evsignal_new(s->base, SIGINT, on_signal, s);
	s->sig_hup = evsignal_new(s->base, SIGHUP, on_signal, s);
	if (s->sig_term == NULL || s->sig_int == NULL || s->sig_hup == NULL ||
	    event_add(s->sig_term, NULL) != 0 || event_add(s->sig_int, NULL) != 0 ||
	    event_add(s->sig_hup, NULL) != 0)
		return HM_ENOMEM;
	rc = hm_listen_inherited(&s->listen_fd);
	if (rc == HM_OK) {
		s->socket_activated = true;
		hm_info("using the listening socket passed by the service manager (LISTEN_FDS)");
	} else if (rc == HM_ENOTFOUND) {
		rc = hm_listen_unix(s->cfg->socket_path, (mode_t)s->cfg->socket_mode,
				    &s->listen_fd);
		if (rc != HM_OK)
			return rc;
	} else {
		return rc;
	}
	s->accept_ev = event_new(s->base, s->listen_fd, EV_READ | EV_PERSIST, on_accept, s);
	s->accept_retry = evtimer_new(s->base, on_accept_retry, s);
	if (s->accept_ev == NULL || s->accept_retry == NULL || event_add(s->accept_ev, NULL) != 0)
		return HM_ENOMEM;
	for (unsigned i = 0; i < s->nworkers; i++) {
		rc = hm_worker_start(&s->workers[i]);
		if (rc != HM_OK)
			return rc;
	}
	if (s->fleet != NULL)
		return hm_srv_fleet_run(s->fleet);
	return HM_OK;
}

static void teardown(struct server *s)
{
	hm_metrics_stop(s->metrics); /* first: it reads the workers, the store, the fleet */
	for (unsigned i = 0; i < s->nworkers; i++)
		hm_worker_stop(&s->workers[i]);
	for (unsigned i = 0; i < s->nworkers; i++)
		hm_worker_join(&s->workers[i]);
	for (unsigned i = 0; i < s->nworkers; i++)
		hm_worker_destroy(&s->workers[i]);
	free(s->workers);
	hm_tenants_free(s->tenants);
	/* after the workers: their claimers used the fleet's seal key */
	hm_srv_fleet_stop(s->fleet);
	if (s->listen_fd >= 0)
		hm_listen_close(s->listen_fd, s->socket_activated ? NULL : s->cfg->socket_path);
	if (s->accept_ev != NULL)
		event_free(s->accept_ev);
	if (s->accept_retry != NULL)
		event_free(s->accept_retry);
	if (s->sig_term != NULL)
		event_free(s->sig_term);
	if (s->sig_int != NULL)
		event_free(s->sig_int);
	if (s->sig_hup != NULL)
		event_free(s->sig_hup);
	hm_replay_free(s->replay);
	hm_keycache_free(s->key_cache); /* after the workers, whose verifiers used it */
	hm_ks_close(s->ks);
	if (s->base != NULL)
		event_base_free(s->base);
}

/* --check-config's line about the socket path (rc from hm_listen_check_path). 0 ok, 1 not. */
static int socket_status(const char *path, int rc, const char *why)
{
	if (rc == HM_OK)
		return 0;
	if (rc == HM_ESTATE)
		fprintf(stderr, "hmacd: socket %s: %s: another user could put their own socket "
			"there\n", path, why);
	else
		fprintf(stderr, "hmacd: socket %s: %s\n", path,
			rc == HM_ENOTFOUND ? "its directory does not exist"
			: rc == HM_EEXIST  ? "a live daemon or another kind of file is there"
			: rc == HM_EINVAL  ? "the path is empty or too long for a Unix socket"
					   : hm_strerror(rc));
	return 1;
}

/*
 * --check-config: the options parsed; now the store (opened read-only, never created here),
 * the socket path and --metrics-listen's address. Prints one line per problem, or
 * "configuration ok". Returns the exit status.
 */
static int check_config(const struct hm_config *cfg)
{
	struct hm_keystore *ks = NULL;
	char err[256] = "", why[PATH_MAX + 128];
	pid_t owner = 0;
	int rc, fd, status = 0;

	rc = hm_ks_open(cfg->db_dir, HM_KS_READER, &ks, err, sizeof(err));
	if (rc == HM_OK) {
		hm_ks_close(ks);
	} else if (rc == HM_ENOTFOUND) {
		fprintf(stderr, "hmacd: note: no key store at %s yet; hmacd will create it\n",
			cfg->db_dir);
	} else {
		fprintf(stderr, "hmacd: key store %s: %s%s%s\n", cfg->db_dir, hm_strerror(rc),
			err[0] ? ": " : "", err);
		status = 1;
	}
	if (cfg->fleet_url != NULL && hm_srv_fleet_check(cfg) != 0)
		status = 1;
	if (cfg->metrics_listen != NULL) {
		struct hm_metrics_addr addr;

		/* parsed already (a bad value is a usage error); here: can it be bound now */
		if (hm_metrics_parse_listen(cfg->metrics_listen, &addr) != HM_OK ||
		    hm_metrics_check(&addr) != HM_OK)
			status = 1;
	}
	rc = hm_listen_inherited(&fd);
	if (rc == HM_OK) {
		/* socket activation: the socket is the service manager's, not a path of ours */
		fprintf(stderr, "hmacd: note: using the listening socket passed by the service "
			"manager (LISTEN_FDS)\n");
		(void)close(fd);
	} else if (rc != HM_ENOTFOUND) {
		fprintf(stderr, "hmacd: LISTEN_FDS: the socket passed is not a listening Unix "
			"stream socket\n");
		status = 1;
	} else {
		rc = hm_listen_check_path(cfg->socket_path, why, sizeof(why));
		/*
		 * A live socket whose listener started this check is the service manager holding
		 * it for hmacd (systemd's ExecStartPre= runs while hmacd.socket listens).
		 */
		if (rc == HM_EEXIST && hm_listen_owner_pid(cfg->socket_path, &owner) == HM_OK &&
		    owner == getppid()) {
			fprintf(stderr, "hmacd: note: socket %s is held by the service manager that "
				"started this check (socket activation)\n", cfg->socket_path);
			rc = HM_OK;
		}
		status = socket_status(cfg->socket_path, rc, why) != 0 ? 1 : status;
	}
	if (status == 0)
		printf("hmacd: configuration ok\n");
	return status;
}

/*
 * Keys live in this process's memory (the key caches, OpenSSL's keyed HMAC states): no core
 * file may ever hold them, and no other process of the same user may read them through ptrace
 * or /proc/PID/mem. Not dumpable: no core, /proc/PID files owned by root, no ptrace attach
 * without CAP_SYS_PTRACE. RLIMIT_CORE 0 as well, for a kernel set to dump anyway
 * (suid_dumpable 2). The key caches are also MADV_DONTDUMP (keycache.c).
 */
static int no_core_dumps(void)
{
	struct rlimit none = {0, 0};

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		hm_err("prctl(PR_SET_DUMPABLE): %s", strerror(errno));
		return HM_EIO;
	}
	if (setrlimit(RLIMIT_CORE, &none) != 0) {
		hm_err("setrlimit(RLIMIT_CORE): %s", strerror(errno));
		return HM_EIO;
	}
	return HM_OK;
}

int main(int argc, char **argv)
{
	struct hm_config cfg;
	struct server s;
	int status = 1;

	switch (hm_config_parse(&cfg, argc, argv)) {
	case HM_CONFIG_RUN:
		break;
	case HM_CONFIG_EXIT_OK:
		hm_config_free(&cfg);
		return 0;
	case HM_CONFIG_EXIT_USAGE:
		hm_config_free(&cfg);
		return 2;
	}
	hm_log_init(cfg.log_level);
	if (cfg.check_config) {
		status = check_config(&cfg);
		hm_config_free(&cfg);
		return status;
	}
	if (cfg.log_file != NULL && hm_log_open_file(cfg.log_file) != HM_OK) {
		hm_config_free(&cfg);
		return 1;
	}
	if (no_core_dumps() != HM_OK) {
		hm_config_free(&cfg);
		return 1;
	}
	memset(&s, 0, sizeof(s));
	s.cfg = &cfg;
	s.listen_fd = -1;
	s.started = time(NULL);
	atomic_init(&s.conns_open, 0);
	/* writes to a vanished client must fail with EPIPE, not kill the daemon */
	signal(SIGPIPE, SIG_IGN);
	if (evthread_use_pthreads() != 0) {
		hm_err("evthread_use_pthreads failed");
		goto out;
	}
	s.base = event_base_new();
	if (s.base == NULL) {
		hm_err("event_base_new failed");
		goto out;
	}
	if (setup(&s) != HM_OK)
		goto out;
	hm_info("hmacd %s listening on %s (store %s, %u workers, skew %llus, max frame %llu, "
		"max batch %llu)",
		PACKAGE_VERSION, cfg.socket_path, cfg.db_dir, s.nworkers,
		(unsigned long long)cfg.skew, (unsigned long long)cfg.max_frame,
		(unsigned long long)cfg.max_batch);
	if (event_base_dispatch(s.base) < 0) {
		hm_err("event loop failed");
		goto out;
	}
	status = 0;
out:
	teardown(&s);
	if (status == 0)
		hm_info("stopped");
	hm_config_free(&cfg);
	return status;
}
