/*
 * claims.c - fleet-wide nonce claims on a worker's loop (claims.h).
 *
 * A claim is in one of three hands: free (in the pool), its set's (added, maybe sent, maybe
 * answered), or hiredis's alone (sent, its set answered without it at the deadline: an orphan,
 * back to the pool when hiredis calls back, with a reply or with NULL when the connection
 * drops or the claimer is freed). hiredis calls every callback exactly once, so no claim is
 * lost and none is freed twice.
 *
 * A set is answered from its own event only (the deadline, or event_active() once its last
 * reply arrived), never from inside hiredis or from hm_claims_send(): the connection that
 * owns it then runs from a clean stack.
 */
#include <config.h>

#include "server/claims.h"

#ifdef HM_WITH_FLEET
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/adapters/libevent.h>
#include <openssl/crypto.h>

#include <time.h>

#include "fleet/conn.h"
#include "fleet/locate.h"
#include "fleet/seal.h"
#include "server/log.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define SENTINEL_BACKOFF_MAX_MS 1000 /* with a locator: a new master is found within a second */
#define LOCATOR_POLL_MS 100          /* while down: has the locator found a new master? */
/*
 * A SET in the protocol's own form (RESP), written here rather than formatted by hiredis for
 * every claim: the head, fixed per claimer, up to the digest; the digest in hex; the fixed
 * middle; the ttl as the last bulk string.
 */
#define SET_HEAD_MAX (32 + HM_FLEET_PREFIX_MAX) /* "*6\r\n$3\r\nSET\r\n$NN\r\n<prefix>n:" */
static const char set_mid[] = "\r\n$1\r\n1\r\n$2\r\nNX\r\n$2\r\nPX\r\n$";
#define SET_CMD_MAX (SET_HEAD_MAX + 64 + sizeof(set_mid) + 48)

enum claim_hand { CLAIM_FREE, CLAIM_SET, CLAIM_ORPHAN };

struct claim {
	struct hm_claimer *cl;
	struct hm_claim_set *set; /* CLAIM_SET: its set */
	struct claim *next;       /* in the free list, or in its set */
	enum claim_hand hand;
	bool wait;                /* the set's WAIT, not a SET */
	bool sent, answered;
	size_t at;                /* the item's verdict byte */
	uint32_t tag;             /* the caller's (hm_claims_add_tagged), else 0 */
	int64_t ttl_ms;
	uint8_t digest[32];
	enum hm_verdict verdict;
};

enum set_state { SET_FREE, SET_OPEN, SET_SENT, SET_ANSWERED };

struct hm_claim_set {
	struct hm_claimer *cl;
	struct event *ev;       /* the deadline, and the answer once every reply is in */
	struct hm_claim_set *next_free;
	enum set_state state;
	struct claim *first, *last;
	struct claim *wait;     /* --fleet-wait's WAIT, or NULL */
	size_t n;               /* SET claims */
	size_t pending;         /* sent, not answered */
	hm_claims_done_fn done;
	void *arg;
};

struct hm_claimer {
	struct event_base *base;
	redisAsyncContext *ac; /* NULL while down */
	struct event *retry;
	unsigned backoff_ms;
	bool freeing;
	bool was_up;           /* logged "connected": the next loss is logged once */
	struct hm_fleet_url url;
	struct hm_locator *locator; /* sentinel://, else NULL */
	uint64_t gen;          /* the locator's generation of the master connected to */
	struct hm_fleet_hostport master; /* that master's address */
	int64_t retry_at;      /* with a locator: when the backoff allows the next connect */
	char password[HM_FLEET_PASSWORD_MAX + 1];
	char set_head[SET_HEAD_MAX];
	size_t set_head_len;
	struct hm_seal_nonce_mac *digest; /* the nonce key's HMAC, keyed once (seal.h) */
	struct timeval timeout;
	unsigned wait;
	char wait_arg[16], timeout_arg[16];
	struct claim *claims, *free_claims;
	struct hm_claim_set *sets, *free_sets;
	size_t nclaims, nsets;
	struct hm_claims_stats st;
};

/* ---- pools ---- */

static struct claim *claim_get(struct hm_claimer *cl)
{
	struct claim *k = cl->free_claims;

	if (k == NULL)
		return NULL;
	cl->free_claims = k->next;
	memset(k, 0, sizeof(*k));
	k->cl = cl;
	k->hand = CLAIM_SET;
	return k;
}

static void claim_put(struct claim *k)
{
	struct hm_claimer *cl = k->cl;

	OPENSSL_cleanse(k->digest, sizeof(k->digest));
	k->hand = CLAIM_FREE;
	k->set = NULL;
	k->next = cl->free_claims;
	cl->free_claims = k;
}

/* Each of the set's claims leaves it: answered or never sent, to the pool; in flight, orphaned. */
static void set_drop_claims(struct hm_claim_set *s)
{
	struct claim *k = s->first, *next;

	while (k != NULL) {
		next = k->next;
		if (k->sent && !k->answered) {
			k->hand = CLAIM_ORPHAN;
			k->set = NULL;
			k->next = NULL;
		} else {
			claim_put(k);
		}
		k = next;
	}
	if (s->wait != NULL) {
		k = s->wait;
		if (k->sent && !k->answered) {
			k->hand = CLAIM_ORPHAN;
			k->set = NULL;
		} else {
			claim_put(k);
		}
	}
	s->first = s->last = s->wait = NULL;
	s->n = s->pending = 0;
}

static void set_put(struct hm_claim_set *s)
{
	struct hm_claimer *cl = s->cl;

	if (event_del(s->ev) != 0)
		hm_warn("claims: event_del failed");
	set_drop_claims(s);
	s->state = SET_FREE;
	s->done = NULL;
	s->arg = NULL;
	s->next_free = cl->free_sets;
	cl->free_sets = s;
}

/* ---- the connection ---- */

static void connect_now(struct hm_claimer *cl);

static int64_t mono_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void arm_retry(struct hm_claimer *cl, unsigned ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (suseconds_t)(ms % 1000) * 1000};

	if (evtimer_add(cl->retry, &tv) != 0)
		hm_err("claims: evtimer_add failed: no reconnection to redis");
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct hm_claimer *cl = arg;

	(void)fd;
	(void)what;
	/* with a locator: at once if it found another master, else when the backoff is over */
	if (cl->locator != NULL && hm_locator_gen(cl->locator) == cl->gen &&
	    mono_ms() < cl->retry_at) {
		arm_retry(cl, LOCATOR_POLL_MS);
		return;
	}
	connect_now(cl);
}

static void retry_later(struct hm_claimer *cl)
{
	unsigned max = cl->locator != NULL ? SENTINEL_BACKOFF_MAX_MS : BACKOFF_MAX_MS;

	hm_counter_add(&cl->st.reconnects, 1);
	if (cl->locator != NULL) {
		cl->retry_at = mono_ms() + cl->backoff_ms;
		arm_retry(cl, cl->backoff_ms < LOCATOR_POLL_MS ? cl->backoff_ms : LOCATOR_POLL_MS);
	} else {
		arm_retry(cl, cl->backoff_ms);
	}
	cl->backoff_ms = cl->backoff_ms * 2 > max ? max : cl->backoff_ms * 2;
}

static void lost(struct hm_claimer *cl, const char *why)
{
	cl->ac = NULL;
	atomic_store_explicit(&cl->st.connected, 0, memory_order_relaxed);
	if (cl->was_up && !cl->freeing)
		hm_warn("fleet nonce claims: redis connection lost (%s); nonce items are "
			"UNAVAILABLE until it is back",
			why);
	cl->was_up = false;
	if (cl->freeing)
		return;
	/* the master failed us: the locator looks again now (a failover, most likely) */
	if (cl->locator != NULL)
		hm_locator_suspect(cl->locator, cl->gen);
	retry_later(cl);
}

/*
 * With a locator: the server is not (or no longer) the master to write to. No claim goes out
 * on this connection any more; it closes once the replies in flight are in (on_disconnect
 * then reconnects), and the locator looks again.
 */
static void master_failed(struct hm_claimer *cl, const char *why)
{
	bool was_up = cl->was_up;

	atomic_store_explicit(&cl->st.connected, 0, memory_order_relaxed);
	if (was_up)
		hm_warn("fleet nonce claims: %s; nonce items are UNAVAILABLE until the master "
			"is found",
			why);
	cl->was_up = false;
	hm_locator_suspect(cl->locator, cl->gen);
	if (cl->ac != NULL && !(cl->ac->c.flags & REDIS_DISCONNECTING))
		redisAsyncDisconnect(cl->ac);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct hm_claimer *cl = ac->data;

	if (status != REDIS_OK) {
		/* hiredis frees the context after this returns */
		lost(cl, ac->errstr[0] != '\0' ? ac->errstr : "cannot connect");
		return;
	}
	if (cl->locator != NULL)
		return; /* connected once ROLE says master (on_role) */
	/* the backoff starts over once the set-up is answered (on_ping_reply) */
	atomic_store_explicit(&cl->st.connected, 1, memory_order_relaxed);
	if (!cl->was_up)
		hm_info("fleet nonce claims: connected to redis");
	cl->was_up = true;
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct hm_claimer *cl = ac->data;

	(void)status;
	lost(cl, ac->errstr[0] != '\0' ? ac->errstr : "disconnected");
}

/* With a locator: the first reply after logging in, ROLE. Claims go out once it says master. */
static void on_role(redisAsyncContext *ac, void *r, void *privdata)
{
	struct hm_claimer *cl = ac->data;
	redisReply *reply = r;
	char why[320];

	(void)privdata;
	if (reply == NULL || cl->freeing)
		return; /* the connection is gone: on_disconnect says so */
	if (reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 &&
	    reply->element[0]->type == REDIS_REPLY_STRING &&
	    strcmp(reply->element[0]->str, "master") == 0) {
		cl->backoff_ms = BACKOFF_MIN_MS;
		atomic_store_explicit(&cl->st.connected, 1, memory_order_relaxed);
		if (!cl->was_up)
			hm_info("fleet nonce claims: connected to the master %s:%u",
				cl->master.host, (unsigned)cl->master.port);
		cl->was_up = true;
		return;
	}
	(void)snprintf(why, sizeof(why), "%s:%u is not the master (a failover under way?)",
		       cl->master.host, (unsigned)cl->master.port);
	cl->was_up = true; /* say it once */
	master_failed(cl, why);
}

/* AUTH and SELECT: an error reply ends the connection (it is retried later). */
static void on_setup_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	redisReply *reply = r;

	(void)privdata;
	if (reply != NULL && reply->type == REDIS_REPLY_ERROR) {
		hm_err("fleet nonce claims: redis refused the connection's set-up (AUTH or SELECT)");
		redisAsyncDisconnect(ac);
	}
}

/*
 * The PING after the set-up: answered, the connection works, and the backoff starts over. Not
 * at connect: a server that takes the connection and refuses it (a wrong password, a DB it
 * does not have, maxclients) must not be retried every BACKOFF_MIN_MS.
 */
static void on_ping_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	struct hm_claimer *cl = ac->data;
	redisReply *reply = r;

	(void)privdata;
	if (reply != NULL && reply->type == REDIS_REPLY_STATUS)
		cl->backoff_ms = BACKOFF_MIN_MS;
}

static void connect_now(struct hm_claimer *cl)
{
	redisAsyncContext *ac;
	char db[16];

	if (cl->locator != NULL) {
		/* the master the locator last found (a numeric address: nothing to resolve here) */
		if (hm_locator_get(cl->locator, &cl->master, &cl->gen) != HM_OK) {
			cl->ac = NULL;
			retry_later(cl);
			return;
		}
		ac = redisAsyncConnect(cl->master.host, cl->master.port);
	} else if (cl->url.unix_socket) {
		ac = redisAsyncConnectUnix(cl->url.path);
	} else {
		ac = redisAsyncConnect(cl->url.host, cl->url.port);
	}
	if (ac == NULL || ac->err != 0) {
		if (ac != NULL)
			redisAsyncFree(ac);
		cl->ac = NULL;
		retry_later(cl);
		return;
	}
	ac->data = cl;
	/*
	 * TCP keepalive: a Redis host that vanished without closing the connection is noticed
	 * (in about a minute, not TCP's fifteen), instead of every claim waiting for its deadline.
	 */
	if (!cl->url.unix_socket && redisEnableKeepAlive(&ac->c) != REDIS_OK)
		hm_warn("fleet nonce claims: no TCP keepalive on the redis connection");
	if (redisLibeventAttach(ac, cl->base) != REDIS_OK ||
	    redisAsyncSetConnectCallback(ac, on_connect) != REDIS_OK ||
	    redisAsyncSetDisconnectCallback(ac, on_disconnect) != REDIS_OK) {
		redisAsyncFree(ac);
		cl->ac = NULL;
		retry_later(cl);
		return;
	}
	cl->ac = ac;
	/* queued now, sent first once connected; the password goes out only in the command */
	if (cl->password[0] != '\0') {
		const char *argv[2] = {"AUTH", cl->password};
		size_t lens[2] = {4, strlen(cl->password)};

		(void)redisAsyncCommandArgv(ac, on_setup_reply, NULL, 2, argv, lens);
	}
	if (cl->url.db != 0) {
		(void)snprintf(db, sizeof(db), "%u", cl->url.db);
		(void)redisAsyncCommand(ac, on_setup_reply, NULL, "SELECT %s", db);
	}
	if (cl->locator != NULL)
		(void)redisAsyncCommand(ac, on_role, NULL, "ROLE");
	else
		(void)redisAsyncCommand(ac, on_ping_reply, NULL, "PING");
}

/* ---- replies ---- */

static void on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	struct claim *k = privdata;
	struct hm_claimer *cl = k->cl;
	struct hm_claim_set *s = k->set;
	redisReply *reply = r;
	enum hm_verdict v = HM_V_UNAVAILABLE;

	(void)ac;
	if (k->wait) {
		if (reply != NULL && reply->type == REDIS_REPLY_INTEGER &&
		    reply->integer >= (long long)cl->wait)
			v = HM_V_OK;
	} else if (reply != NULL && reply->type == REDIS_REPLY_STATUS &&
		   strcmp(reply->str, "OK") == 0) {
		v = HM_V_OK;
	} else if (reply != NULL && reply->type == REDIS_REPLY_NIL) {
		v = HM_V_REPLAY;
	} else if (reply != NULL && reply->type == REDIS_REPLY_ERROR && cl->locator != NULL &&
		   !cl->freeing &&
		   (strncmp(reply->str, "READONLY", 8) == 0 ||
		    strncmp(reply->str, "MASTERDOWN", 10) == 0 ||
		    strncmp(reply->str, "LOADING", 7) == 0)) {
		/* a replica now (the failover happened), or not serving: find the master */
		master_failed(cl, "redis answered a claim READONLY, MASTERDOWN or LOADING (a "
				  "failover?)");
	}
	if (k->hand == CLAIM_ORPHAN) {
		claim_put(k);
		return;
	}
	k->answered = true; /* its set gives it back to the pool, not to hiredis */
	if (s == NULL || s->state != SET_SENT)
		return; /* its set was answered at the deadline: UNAVAILABLE stays */
	k->verdict = v;
	if (--s->pending == 0)
		event_active(s->ev, EV_TIMEOUT, 0);
}

/* The set is answered: every claim's verdict settled, then its owner told. */
static void on_set_event(evutil_socket_t fd, short what, void *arg)
{
	struct hm_claim_set *s = arg;
	struct hm_claimer *cl = s->cl;
	bool late = false, wait_ok = true;

	(void)fd;
	(void)what;
	if (s->state != SET_SENT)
		return;
	if (event_del(s->ev) != 0)
		hm_warn("claims: event_del failed");
	if (s->wait != NULL)
		wait_ok = s->wait->answered && s->wait->verdict == HM_V_OK;
	for (struct claim *k = s->first; k != NULL; k = k->next) {
		if (!k->answered) {
			k->verdict = HM_V_UNAVAILABLE;
			late = true;
		} else if (k->verdict == HM_V_OK && !wait_ok) {
			/* claimed, but not on --fleet-wait replicas: a failover could lose it */
			k->verdict = HM_V_UNAVAILABLE;
		}
		hm_counter_add(k->verdict == HM_V_OK       ? &cl->st.ok
			       : k->verdict == HM_V_REPLAY ? &cl->st.taken
							   : &cl->st.unavailable,
			       1);
	}
	if (late || (s->wait != NULL && !s->wait->answered))
		hm_counter_add(&cl->st.timeouts, 1);
	s->state = SET_ANSWERED;
	s->done(s->arg, s);
}

/* ---- the API ---- */

struct hm_claim_set *hm_claims_open(struct hm_claimer *cl)
{
	struct hm_claim_set *s = cl->free_sets;

	/* the locator found another master: this connection's server may be a replica now */
	if (cl->locator != NULL && cl->ac != NULL && hm_locator_gen(cl->locator) != cl->gen &&
	    atomic_load_explicit(&cl->st.connected, memory_order_relaxed) != 0)
		master_failed(cl, "sentinel names another master (a failover)");
	if (s == NULL || cl->ac == NULL ||
	    atomic_load_explicit(&cl->st.connected, memory_order_relaxed) == 0)
		return NULL;
	cl->free_sets = s->next_free;
	s->state = SET_OPEN;
	s->first = s->last = s->wait = NULL;
	s->n = s->pending = 0;
	return s;
}

bool hm_claims_add(struct hm_claim_set *s, const struct hm_nonce_claim *c, size_t at)
{
	return hm_claims_add_tagged(s, c, at, 0);
}

bool hm_claims_add_tagged(struct hm_claim_set *s, const struct hm_nonce_claim *c, size_t at,
			  uint32_t tag)
{
	struct claim *k = claim_get(s->cl);

	if (k == NULL)
		return false;
	if (hm_seal_nonce_mac_digest(s->cl->digest, c->tenant.ptr, c->tenant.len,
				     c->container.ptr, c->container.len, c->nonce.ptr, c->nonce.len,
				     k->digest) != HM_OK) {
		claim_put(k);
		return false;
	}
	k->set = s;
	k->at = at;
	k->tag = tag;
	k->ttl_ms = c->ttl_ms > 0 ? c->ttl_ms : 1;
	if (s->last != NULL)
		s->last->next = k;
	else
		s->first = k;
	s->last = k;
	s->n++;
	return true;
}

void hm_claims_count_unavailable(struct hm_claimer *cl, size_t n)
{
	hm_counter_add(&cl->st.unavailable, n);
}

size_t hm_claims_size(const struct hm_claim_set *s)
{
	return s->n;
}

/* hiredis took k's command (status REDIS_OK), or k is UNAVAILABLE now. */
static void queued(struct hm_claim_set *s, struct claim *k, int status)
{
	if (status == REDIS_OK) {
		k->sent = true;
		s->pending++;
		return;
	}
	k->answered = true;
	k->verdict = HM_V_UNAVAILABLE;
}

static void send_one(struct hm_claim_set *s, struct claim *k, int argc, const char **argv,
		     const size_t *lens)
{
	struct hm_claimer *cl = s->cl;

	queued(s, k, cl->ac != NULL ? redisAsyncCommandArgv(cl->ac, on_reply, k, argc, argv, lens)
				    : REDIS_ERR);
}

/* "<len>\r\n<v>\r\n": a bulk string's length and body, v in decimal. Returns the bytes. */
static size_t put_bulk_u64(char *out, uint64_t v)
{
	char digits[20];
	size_t n = 0, len, at = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	len = n;
	if (len >= 10)
		out[at++] = (char)('0' + len / 10);
	out[at++] = (char)('0' + len % 10);
	out[at++] = '\r';
	out[at++] = '\n';
	while (n > 0)
		out[at++] = digits[--n];
	out[at++] = '\r';
	out[at++] = '\n';
	return at;
}

void hm_claims_send(struct hm_claim_set *s, hm_claims_done_fn done, void *arg)
{
	static const char hex[] = "0123456789abcdef";
	struct hm_claimer *cl = s->cl;
	char cmd[SET_CMD_MAX];
	size_t n;

	s->done = done;
	s->arg = arg;
	s->state = SET_SENT;
	if (cl->wait > 0 && s->n > 0) {
		s->wait = claim_get(cl);
		if (s->wait == NULL) {
			/* no claim left for the WAIT: the pools are empty, nothing is sent */
			for (struct claim *k = s->first; k != NULL; k = k->next) {
				k->answered = true;
				k->verdict = HM_V_UNAVAILABLE;
			}
			event_active(s->ev, EV_TIMEOUT, 0);
			return;
		}
		s->wait->wait = true;
		s->wait->set = s;
	}
	memcpy(cmd, cl->set_head, cl->set_head_len);
	for (struct claim *k = s->first; k != NULL; k = k->next) {
		n = cl->set_head_len;
		for (size_t i = 0; i < 32; i++) {
			cmd[n++] = hex[k->digest[i] >> 4];
			cmd[n++] = hex[k->digest[i] & 15];
		}
		memcpy(cmd + n, set_mid, sizeof(set_mid) - 1);
		n += sizeof(set_mid) - 1;
		n += put_bulk_u64(cmd + n, (uint64_t)k->ttl_ms); /* ttl_ms >= 1 (hm_claims_add) */
		queued(s, k, cl->ac != NULL ? redisAsyncFormattedCommand(cl->ac, on_reply, k, cmd, n)
					    : REDIS_ERR);
		hm_counter_add(&cl->st.sent, 1);
	}
	if (s->wait != NULL) {
		const char *wargv[3] = {"WAIT", cl->wait_arg, cl->timeout_arg};
		size_t wlens[3] = {4, strlen(cl->wait_arg), strlen(cl->timeout_arg)};

		send_one(s, s->wait, 3, wargv, wlens);
	}
	OPENSSL_cleanse(cmd, sizeof(cmd));
	if (s->pending == 0)
		event_active(s->ev, EV_TIMEOUT, 0); /* answered already, from the loop */
	else if (event_add(s->ev, &cl->timeout) != 0)
		event_active(s->ev, EV_TIMEOUT, 0); /* no deadline: answer what is in now */
}

void hm_claims_each(const struct hm_claim_set *s,
		    void (*fn)(void *arg, size_t at, enum hm_verdict verdict), void *arg)
{
	for (const struct claim *k = s->first; k != NULL; k = k->next)
		fn(arg, k->at, k->verdict);
}

void hm_claims_each_tagged(const struct hm_claim_set *s,
			   void (*fn)(void *arg, size_t at, uint32_t tag, enum hm_verdict verdict),
			   void *arg)
{
	for (const struct claim *k = s->first; k != NULL; k = k->next)
		fn(arg, k->at, k->tag, k->verdict);
}

void hm_claims_release(struct hm_claim_set *s)
{
	set_put(s);
}

void hm_claims_abandon(struct hm_claim_set *s)
{
	set_put(s);
}

const struct hm_claims_stats *hm_claimer_stats(const struct hm_claimer *cl)
{
	return &cl->st;
}

int hm_claimer_new(struct event_base *base, const struct hm_claims_cfg *cfg,
		   struct hm_claimer **out)
{
	struct hm_claimer *cl;
	int rc = HM_ENOMEM, n;

	*out = NULL;
	if (cfg->max_claims == 0 || cfg->max_sets == 0 || cfg->timeout_ms == 0 ||
	    strlen(cfg->prefix) > HM_FLEET_PREFIX_MAX ||
	    (cfg->password != NULL && strlen(cfg->password) > HM_FLEET_PASSWORD_MAX))
		return HM_EINVAL;
	cl = calloc(1, sizeof(*cl));
	if (cl == NULL)
		return HM_ENOMEM;
	cl->base = base;
	cl->url = *cfg->url;
	cl->locator = cfg->url->sentinel ? cfg->locator : NULL;
	if (cfg->url->sentinel && cl->locator == NULL) {
		free(cl);
		return HM_EINVAL;
	}
	if (cfg->password != NULL)
		memcpy(cl->password, cfg->password, strlen(cfg->password) + 1);
	n = snprintf(cl->set_head, sizeof(cl->set_head), "*6\r\n$3\r\nSET\r\n$%zu\r\n%sn:",
		     strlen(cfg->prefix) + 2 + 64, cfg->prefix);
	if (n < 0 || (size_t)n >= sizeof(cl->set_head)) {
		free(cl);
		return HM_EINVAL;
	}
	cl->set_head_len = (size_t)n;
	cl->timeout.tv_sec = cfg->timeout_ms / 1000;
	cl->timeout.tv_usec = (suseconds_t)(cfg->timeout_ms % 1000) * 1000;
	cl->wait = cfg->wait;
	(void)snprintf(cl->wait_arg, sizeof(cl->wait_arg), "%u", cfg->wait);
	(void)snprintf(cl->timeout_arg, sizeof(cl->timeout_arg), "%u", cfg->timeout_ms);
	cl->backoff_ms = BACKOFF_MIN_MS;
	cl->nclaims = cfg->max_claims;
	cl->nsets = cfg->max_sets;
	cl->claims = calloc(cl->nclaims, sizeof(*cl->claims));
	cl->sets = calloc(cl->nsets, sizeof(*cl->sets));
	cl->retry = evtimer_new(base, on_retry, cl);
	if (cl->claims == NULL || cl->sets == NULL || cl->retry == NULL)
		goto out;
	rc = hm_seal_nonce_mac_new(cfg->seal, &cl->digest);
	if (rc != HM_OK)
		goto out;
	rc = HM_ENOMEM;
	for (size_t i = cl->nclaims; i-- > 0;) {
		cl->claims[i].cl = cl;
		claim_put(&cl->claims[i]);
	}
	for (size_t i = cl->nsets; i-- > 0;) {
		struct hm_claim_set *s = &cl->sets[i];

		s->cl = cl;
		s->ev = evtimer_new(base, on_set_event, s);
		if (s->ev == NULL)
			goto out;
		s->next_free = cl->free_sets;
		cl->free_sets = s;
	}
	connect_now(cl);
	*out = cl;
	cl = NULL;
	rc = HM_OK;
out:
	hm_claimer_free(cl);
	return rc;
}

void hm_claimer_free(struct hm_claimer *cl)
{
	if (cl == NULL)
		return;
	cl->freeing = true;
	if (cl->ac != NULL) {
		/* every callback runs now, with NULL: orphans go back to the pool */
		redisAsyncFree(cl->ac);
		cl->ac = NULL;
	}
	if (cl->retry != NULL)
		event_free(cl->retry);
	if (cl->sets != NULL)
		for (size_t i = 0; i < cl->nsets; i++)
			if (cl->sets[i].ev != NULL)
				event_free(cl->sets[i].ev);
	free(cl->sets);
	if (cl->claims != NULL)
		OPENSSL_cleanse(cl->claims, cl->nclaims * sizeof(*cl->claims));
	free(cl->claims);
	hm_seal_nonce_mac_free(cl->digest);
	OPENSSL_cleanse(cl->password, sizeof(cl->password));
	free(cl);
}

#else /* built without fleet mode: no claimer is ever made (options.c refuses --fleet) */

int hm_claimer_new(struct event_base *base, const struct hm_claims_cfg *cfg,
		   struct hm_claimer **out)
{
	(void)base;
	(void)cfg;
	*out = NULL;
	return HM_EINVAL;
}

void hm_claimer_free(struct hm_claimer *cl)
{
	(void)cl;
}

const struct hm_claims_stats *hm_claimer_stats(const struct hm_claimer *cl)
{
	(void)cl;
	return NULL;
}

struct hm_claim_set *hm_claims_open(struct hm_claimer *cl)
{
	(void)cl;
	return NULL;
}

bool hm_claims_add(struct hm_claim_set *set, const struct hm_nonce_claim *c, size_t at)
{
	(void)set;
	(void)c;
	(void)at;
	return false;
}

bool hm_claims_add_tagged(struct hm_claim_set *set, const struct hm_nonce_claim *c, size_t at,
			  uint32_t tag)
{
	(void)tag;
	return hm_claims_add(set, c, at);
}

void hm_claims_count_unavailable(struct hm_claimer *cl, size_t n)
{
	(void)cl;
	(void)n;
}

size_t hm_claims_size(const struct hm_claim_set *set)
{
	(void)set;
	return 0;
}

void hm_claims_send(struct hm_claim_set *set, hm_claims_done_fn done, void *arg)
{
	(void)set;
	(void)done;
	(void)arg;
}

void hm_claims_each(const struct hm_claim_set *set,
		    void (*fn)(void *arg, size_t at, enum hm_verdict verdict), void *arg)
{
	(void)set;
	(void)fn;
	(void)arg;
}

void hm_claims_each_tagged(const struct hm_claim_set *set,
			   void (*fn)(void *arg, size_t at, uint32_t tag, enum hm_verdict verdict),
			   void *arg)
{
	(void)set;
	(void)fn;
	(void)arg;
}

void hm_claims_release(struct hm_claim_set *set)
{
	(void)set;
}

void hm_claims_abandon(struct hm_claim_set *set)
{
	(void)set;
}
#endif
