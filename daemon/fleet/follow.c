/*
 * follow.c - the host's store kept as the fleet's mirror (follow.h).
 *
 * One thread, one blocking connection. The loop: connect (backoff while Redis is down), check
 * the fleet (meta, ids), resync if the store's position is gone from the stream, then XREAD
 * BLOCK from the position and apply what comes, batch by batch. Every few seconds without
 * changes, the meta is checked again, so a Redis emptied under a live connection is noticed.
 */
#include "fleet/follow.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#define BATCH 256            /* records per store transaction */
#define XREAD_COUNT "64"     /* stream entries per XREAD */
#define BLOCK_MS "500"       /* how long one XREAD waits: also how fast stop is seen */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define SENTINEL_BACKOFF_MAX_MS 1000 /* a failover's new master is found within a second */
#define RECHECK_MS 2000      /* meta checked again after this long without changes */
#define LOST_POLL_MS 1000

struct hm_follower {
	struct hm_fleet f;
	struct hm_keystore *ks;
	hm_follow_log_fn log;
	void *log_arg;
	struct hm_ks_mirror held; /* fleet id, seal key id, position: as the store has them */
	struct hm_ks_mirror_rec *recs; /* BATCH records being gathered */
	size_t nrecs;
	struct hm_follow_stats st;
	atomic_bool stop;
	pthread_t thread;
	bool running;
	bool resync;              /* the next check does a full sync */
	char lost_why[HM_FLEET_ERRLEN];
};

const struct hm_follow_stats *hm_follow_stats(const struct hm_follower *fo)
{
	return &fo->st;
}

static void say(struct hm_follower *fo, enum hm_follow_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void say(struct hm_follower *fo, enum hm_follow_level level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (fo->log == NULL)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fo->log(fo->log_arg, level, msg);
}

/* A change of state, logged once (the same state again says nothing). */
static void set_state(struct hm_follower *fo, enum hm_follow_state s, enum hm_follow_level lvl,
		      const char *why)
{
	if (atomic_exchange(&fo->st.state, s) == s)
		return;
	say(fo, lvl, "fleet: %s%s%s", hm_follow_state_name(s), why[0] != '\0' ? ": " : "", why);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleeps ms, waking early when stop is set. */
static void nap(struct hm_follower *fo, int ms)
{
	for (int slept = 0; slept < ms && !atomic_load(&fo->stop); slept += 50) {
		struct timespec ts = {.tv_sec = 0, .tv_nsec = 50 * 1000000L};

		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
}

/* ---- stream ids ---- */

struct sid {
	uint64_t ms, seq;
};

static bool sid_parse(const char *s, size_t n, struct sid *out)
{
	char buf[HM_KS_FLEET_POS_MAX + 1], *end = NULL;

	if (n == 0 || n > HM_KS_FLEET_POS_MAX)
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (buf[0] < '0' || buf[0] > '9')
		return false;
	errno = 0;
	out->ms = strtoull(buf, &end, 10);
	if (errno != 0 || *end != '-' || end[1] < '0' || end[1] > '9')
		return false;
	out->seq = strtoull(end + 1, &end, 10);
	return errno == 0 && *end == '\0';
}

static int sid_cmp(struct sid a, struct sid b)
{
	if (a.ms != b.ms)
		return a.ms < b.ms ? -1 : 1;
	return a.seq < b.seq ? -1 : a.seq > b.seq;
}

/* ---- applying ---- */

static const char *store_why(struct hm_follower *fo)
{
	return hm_ks_errmsg(fo->ks)[0] != '\0' ? hm_ks_errmsg(fo->ks) : "store error";
}

/*
 * Applies the gathered records with pos ("" for none: a resync's batches) in one store
 * transaction. HM_OK, or the store's code (the records stay unapplied).
 */
static int flush(struct hm_follower *fo, const char *pos, int64_t change_ms)
{
	struct hm_ks_mirror m = fo->held;
	struct hm_ks_mirror_result res;
	size_t refused;
	int rc;

	(void)snprintf(m.pos, sizeof(m.pos), "%s", pos);
	rc = hm_ks_mirror_apply(fo->ks, &m, fo->recs, fo->nrecs, &res);
	OPENSSL_cleanse(fo->recs, fo->nrecs * sizeof(*fo->recs));
	fo->nrecs = 0;
	if (rc != HM_OK) {
		/* the reason for the caller too: hm_follow_start() hands fo->f.err on */
		(void)snprintf(fo->f.err, sizeof(fo->f.err), "applying changes to the store: %s",
			       store_why(fo));
		say(fo, HM_FOLLOW_ERROR, "fleet: %s", fo->f.err);
		return rc;
	}
	if (pos[0] != '\0')
		memcpy(fo->held.pos, m.pos, sizeof(fo->held.pos));
	refused = res.older + res.invalid;
	atomic_fetch_add(&fo->st.changes_applied, res.applied);
	atomic_fetch_add(&fo->st.records_refused, refused);
	if (res.older > 0)
		say(fo, HM_FOLLOW_WARN,
		    "fleet: refused %zu record(s) older than the store holds (a rollback?)",
		    res.older);
	if (res.invalid > 0)
		say(fo, HM_FOLLOW_WARN, "fleet: refused %zu record(s) the store cannot hold",
		    res.invalid);
	if (res.applied > 0 && change_ms > 0) {
		int64_t lag = now_ms() - change_ms;

		atomic_store(&fo->st.lag_ms, lag > 0 ? (uint64_t)lag : 0);
	}
	return HM_OK;
}

/* Opens one (name, blob) of the stream into the batch; a record that does not open is refused. */
static void gather(struct hm_follower *fo, const redisReply *name, const redisReply *blob)
{
	struct hm_ks_mirror_rec *r = &fo->recs[fo->nrecs];
	int rc = HM_EMALFORMED;

	if (name->type == REDIS_REPLY_STRING && blob->type == REDIS_REPLY_STRING &&
	    name->len == HM_SEAL_NAME_HEX - 1)
		rc = hm_frec_open(fo->f.seal, fo->f.prefix, fo->held.fleet_id, name->str,
				  (const uint8_t *)blob->str, blob->len, r);
	if (rc == HM_OK) {
		fo->nrecs++;
		return;
	}
	atomic_fetch_add(&fo->st.records_refused, 1);
	say(fo, HM_FOLLOW_WARN,
	    "fleet: refused a record that does not open (%.16s...: another seal key, or "
	    "tampered with)",
	    name->type == REDIS_REPLY_STRING ? name->str : "?");
}

/* ---- full sync ---- */

static int sync_batch(struct hm_ks_mirror_rec *recs, size_t n, void *arg)
{
	struct hm_follower *fo = arg;

	memcpy(fo->recs, recs, n * sizeof(*recs));
	fo->nrecs = n;
	return flush(fo, "", 0);
}

/* The id of the stream's newest entry, "0-0" when it has none. */
static int stream_last(struct hm_follower *fo, char out[HM_KS_FLEET_POS_MAX + 1])
{
	char key[HM_FLEET_PREFIX_MAX + 16];
	redisReply *r;
	int rc = HM_EPROTO;

	(void)hm_fleet_key(&fo->f, "changes", key, sizeof(key));
	r = hm_fleet_cmdf(&fo->f, "XREVRANGE %s + - COUNT 1", key);
	if (r == NULL)
		return HM_ECONN;
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 0) {
		memcpy(out, "0-0", 4);
		rc = HM_OK;
	} else if (r->type == REDIS_REPLY_ARRAY && r->element[0]->type == REDIS_REPLY_ARRAY &&
		   r->element[0]->elements == 2 &&
		   r->element[0]->element[0]->type == REDIS_REPLY_STRING &&
		   r->element[0]->element[0]->len <= HM_KS_FLEET_POS_MAX) {
		memcpy(out, r->element[0]->element[0]->str, r->element[0]->element[0]->len + 1);
		rc = HM_OK;
	}
	freeReplyObject(r);
	return rc;
}

/*
 * Every record of the fleet into the store, then the position of the newest change taken
 * before the scan (a change made during it is read again from the stream; versions make that
 * harmless).
 */
static int full_sync(struct hm_follower *fo)
{
	char last[HM_KS_FLEET_POS_MAX + 1];
	size_t refused = 0;
	int rc;

	set_state(fo, HM_FOLLOW_SYNCING, HM_FOLLOW_INFO, "reading every record");
	rc = stream_last(fo, last);
	if (rc == HM_OK)
		rc = hm_fleet_scan(&fo->f, BATCH, sync_batch, fo, &refused);
	if (refused > 0) {
		atomic_fetch_add(&fo->st.records_refused, refused);
		say(fo, HM_FOLLOW_WARN,
		    "fleet: refused %zu record(s) that do not open (another seal key, or tampered "
		    "with)", refused);
	}
	if (rc == HM_OK)
		rc = flush(fo, last, 0);
	if (rc == HM_OK) {
		atomic_fetch_add(&fo->st.resyncs, 1);
		fo->resync = false;
		say(fo, HM_FOLLOW_INFO, "fleet: full sync done, following from %s", last);
	}
	return rc;
}

/* Whether the stream lost entries after pos (trimmed past it): then a full sync is needed. */
static int trimmed_past(struct hm_follower *fo, bool *yes)
{
	char key[HM_FLEET_PREFIX_MAX + 16];
	struct sid pos, deleted = {0, 0}, first = {0, 0}, last = {0, 0};
	bool have_deleted = false, have_first = false, have_last = false;
	redisReply *r;

	*yes = false;
	if (!sid_parse(fo->held.pos, strlen(fo->held.pos), &pos)) {
		*yes = true;
		return HM_OK;
	}
	(void)hm_fleet_key(&fo->f, "changes", key, sizeof(key));
	r = hm_fleet_cmdf(&fo->f, "XINFO STREAM %s", key);
	if (r == NULL)
		return HM_ECONN;
	if (r->type == REDIS_REPLY_ERROR) {
		/* no stream: nothing was written since the fleet began, or Redis lost it */
		freeReplyObject(r);
		*yes = pos.ms != 0 || pos.seq != 0;
		return HM_OK;
	}
	if (r->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(r);
		return HM_EPROTO;
	}
	for (size_t i = 0; i + 1 < r->elements; i += 2) {
		const redisReply *k = r->element[i], *v = r->element[i + 1];

		if (k->type != REDIS_REPLY_STRING)
			continue;
		if (strcmp(k->str, "max-deleted-entry-id") == 0 && v->type == REDIS_REPLY_STRING)
			have_deleted = sid_parse(v->str, v->len, &deleted);
		else if (strcmp(k->str, "first-entry") == 0 && v->type == REDIS_REPLY_ARRAY &&
			 v->elements == 2 && v->element[0]->type == REDIS_REPLY_STRING)
			have_first = sid_parse(v->element[0]->str, v->element[0]->len, &first);
		else if (strcmp(k->str, "last-generated-id") == 0 && v->type == REDIS_REPLY_STRING)
			have_last = sid_parse(v->str, v->len, &last);
	}
	freeReplyObject(r);
	/*
	 * max-deleted-entry-id (Redis 7) counts XDEL only: trimming, XTRIM or XADD's MAXLEN (the
	 * writers' own), leaves it alone (redis/redis#13473). What a trim leaves is the oldest
	 * entry: newer than pos, entries after pos may be gone (or none was: the entry right after
	 * pos may be the oldest left; a resync too many is harmless). An empty stream that
	 * generated ids after pos lost them all.
	 */
	if (have_deleted && sid_cmp(deleted, pos) > 0)
		*yes = true;
	else if (have_first)
		*yes = sid_cmp(first, pos) > 0;
	else if (have_last)
		*yes = sid_cmp(last, pos) > 0;
	return HM_OK;
}

/*
 * Is Redis's fleet the one the store mirrors? HM_OK; HM_ESTATE (another seal key);
 * HM_ENOTFOUND (no fleet, or another one: the fleet is lost); why in fo->lost_why; HM_ECONN;
 * HM_EPROTO.
 */
static int check_fleet(struct hm_follower *fo)
{
	struct hm_fleet_meta m;
	int rc;

	rc = hm_fleet_meta_check(&fo->f, &m);
	if (rc == HM_OK && fo->held.fleet_id[0] != '\0' &&
	    strcmp(m.fleet_id, fo->held.fleet_id) != 0) {
		(void)snprintf(fo->f.err, sizeof(fo->f.err),
			       "redis holds fleet %s, this store mirrors fleet %s: keeping the "
			       "store as last synced",
			       m.fleet_id, fo->held.fleet_id);
		rc = HM_ENOTFOUND;
	}
	else if (rc == HM_ENOTFOUND)
		(void)snprintf(fo->f.err, sizeof(fo->f.err),
			       fo->held.fleet_id[0] != '\0'
				       ? "redis holds no fleet under %s (emptied?): keeping the "
					 "store as last synced; re-seed with hmacctl --fleet ... "
					 "import-store"
				       : "redis holds no fleet under %s: create it with hmacctl "
					 "--fleet ... init",
			       fo->f.prefix);
	if (rc == HM_ESTATE || rc == HM_ENOTFOUND)
		memcpy(fo->lost_why, fo->f.err, sizeof(fo->lost_why));
	if (rc == HM_OK && fo->held.fleet_id[0] == '\0') {
		memcpy(fo->held.fleet_id, m.fleet_id, sizeof(m.fleet_id));
		memcpy(fo->held.seal_key_id, m.seal_key_id, sizeof(m.seal_key_id));
	}
	return rc;
}

/* Check, and resync when needed. HM_OK: following. */
static int catch_up(struct hm_follower *fo)
{
	bool trimmed = false;
	int rc;

	rc = hm_fleet_check_master(&fo->f);
	if (rc != HM_OK)
		return rc;
	rc = check_fleet(fo);
	if (rc != HM_OK)
		return rc;
	if (!fo->resync) {
		rc = trimmed_past(fo, &trimmed);
		if (rc != HM_OK)
			return rc;
		if (trimmed)
			say(fo, HM_FOLLOW_INFO, "fleet: the stream was trimmed past %s: full sync",
			    fo->held.pos[0] != '\0' ? fo->held.pos : "the start");
	}
	if (fo->resync || trimmed)
		return full_sync(fo);
	return HM_OK;
}

/* ---- the stream ---- */

/* One XREAD: the entries after held.pos, applied. HM_OK (also on timeout), HM_ECONN, ... */
static int follow_once(struct hm_follower *fo, bool *idle)
{
	char key[HM_FLEET_PREFIX_MAX + 16], pos[HM_KS_FLEET_POS_MAX + 1];
	const redisReply *entries;
	redisReply *r;
	int64_t newest_ms = 0;
	int rc = HM_OK;

	*idle = false;
	(void)hm_fleet_key(&fo->f, "changes", key, sizeof(key));
	r = hm_fleet_cmdf(&fo->f, "XREAD COUNT " XREAD_COUNT " BLOCK " BLOCK_MS " STREAMS %s %s",
			  key, fo->held.pos);
	if (r == NULL)
		return HM_ECONN;
	if (r->type == REDIS_REPLY_NIL) {
		freeReplyObject(r);
		*idle = true;
		return HM_OK;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 1 ||
	    r->element[0]->type != REDIS_REPLY_ARRAY || r->element[0]->elements != 2 ||
	    r->element[0]->element[1]->type != REDIS_REPLY_ARRAY) {
		(void)snprintf(fo->f.err, sizeof(fo->f.err), "redis: XREAD: unexpected reply");
		freeReplyObject(r);
		return HM_EPROTO;
	}
	entries = r->element[0]->element[1];
	memcpy(pos, fo->held.pos, sizeof(pos));
	for (size_t i = 0; rc == HM_OK && i < entries->elements; i++) {
		const redisReply *e = entries->element[i], *fields;
		struct sid id;

		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
		    e->element[0]->type != REDIS_REPLY_STRING ||
		    !sid_parse(e->element[0]->str, e->element[0]->len, &id) ||
		    e->element[1]->type != REDIS_REPLY_ARRAY) {
			(void)snprintf(fo->f.err, sizeof(fo->f.err),
				       "redis: XREAD: malformed stream entry");
			rc = HM_EPROTO;
			break;
		}
		fields = e->element[1];
		for (size_t j = 0; rc == HM_OK && j + 1 < fields->elements; j += 2) {
			if (fo->nrecs == BATCH)
				rc = flush(fo, "", newest_ms);
			gather(fo, fields->element[j], fields->element[j + 1]);
		}
		memcpy(pos, e->element[0]->str, e->element[0]->len + 1);
		newest_ms = (int64_t)id.ms;
	}
	/* the position moves even when every record of an entry was refused */
	if (rc == HM_OK && strcmp(pos, fo->held.pos) != 0)
		rc = flush(fo, pos, newest_ms);
	freeReplyObject(r);
	return rc;
}

/* The backoff doubled, up to 5 s (1 s with Sentinel: reconnecting finds the new master). */
static int next_backoff(const struct hm_follower *fo, int backoff)
{
	int max = fo->f.url.sentinel ? SENTINEL_BACKOFF_MAX_MS : BACKOFF_MAX_MS;

	return backoff * 2 > max ? max : backoff * 2;
}

static void *follow_thread(void *arg)
{
	struct hm_follower *fo = arg;
	int backoff = BACKOFF_MIN_MS;
	bool checked = false;
	int64_t last_check = 0;

	while (!atomic_load(&fo->stop)) {
		bool idle = false;
		int rc;

		if (fo->f.c == NULL) {
			if (hm_fleet_reconnect(&fo->f) != HM_OK) {
				atomic_store(&fo->st.connected, 0);
				set_state(fo, HM_FOLLOW_DOWN, HM_FOLLOW_WARN, fo->f.err);
				nap(fo, backoff);
				backoff = next_backoff(fo, backoff);
				continue;
			}
			backoff = BACKOFF_MIN_MS;
			atomic_store(&fo->st.connected, 1);
			checked = false;
		}
		if (!checked || now_ms() - last_check >= RECHECK_MS) {
			rc = catch_up(fo);
			last_check = now_ms();
			if (rc == HM_ESTATE || rc == HM_ENOTFOUND) {
				set_state(fo, HM_FOLLOW_LOST, HM_FOLLOW_ERROR, fo->lost_why);
				fo->resync = true; /* if the fleet comes back, it is read whole */
				checked = false;   /* no XREAD until it does: apply nothing */
				nap(fo, LOST_POLL_MS);
				continue;
			}
			if (rc != HM_OK)
				goto failed;
			checked = true;
			set_state(fo, HM_FOLLOW_FOLLOWING, HM_FOLLOW_INFO, "");
		}
		rc = follow_once(fo, &idle);
		if (rc == HM_OK && !idle)
			last_check = now_ms(); /* changes flow: the fleet is there */
		if (rc == HM_OK)
			continue;
failed:
		if (fo->f.c == NULL) {
			atomic_store(&fo->st.connected, 0);
			set_state(fo, HM_FOLLOW_DOWN, HM_FOLLOW_WARN, fo->f.err);
		} else {
			/* the store refused, or Redis answered nonsense: retry from a clean slate */
			say(fo, HM_FOLLOW_ERROR, "fleet: %s",
			    rc == HM_ESTORE ? store_why(fo) : fo->f.err);
			hm_fleet_disconnect(&fo->f);
			atomic_store(&fo->st.connected, 0);
			nap(fo, backoff);
			backoff = next_backoff(fo, backoff);
		}
	}
	return NULL;
}

/* ---- life cycle ---- */

static void follower_free(struct hm_follower *fo)
{
	if (fo == NULL)
		return;
	hm_fleet_close(&fo->f);
	if (fo->recs != NULL)
		OPENSSL_cleanse(fo->recs, BATCH * sizeof(*fo->recs));
	free(fo->recs);
	free(fo);
}

int hm_follow_start(const struct hm_fleet_cfg *cfg, struct hm_keystore *ks,
		    hm_follow_log_fn log, void *log_arg, struct hm_follower **out, char *err,
		    size_t cap)
{
	struct hm_follower *fo;
	char sid[HM_SEAL_ID_HEX];
	int rc;

	*out = NULL;
	fo = calloc(1, sizeof(*fo));
	if (fo == NULL)
		return HM_ENOMEM;
	fo->recs = calloc(BATCH, sizeof(*fo->recs));
	if (fo->recs == NULL) {
		free(fo);
		return HM_ENOMEM;
	}
	fo->ks = ks;
	fo->log = log;
	fo->log_arg = log_arg;
	atomic_init(&fo->stop, false);
	rc = hm_ks_mirror_get(ks, &fo->held);
	if (rc != HM_OK) {
		(void)snprintf(err, cap, "%s", store_why(fo));
		goto out;
	}
	hm_seal_id_hex(cfg->seal, sid);
	if (fo->held.seal_key_id[0] != '\0' && strcmp(fo->held.seal_key_id, sid) != 0) {
		(void)snprintf(err, cap,
			       "the store was synced with seal key %s, this seal key is %s",
			       fo->held.seal_key_id, sid);
		rc = HM_ESTATE;
		goto out;
	}
	fo->resync = fo->held.pos[0] == '\0';
	rc = hm_fleet_open(&fo->f, cfg);
	if (rc == HM_OK) {
		atomic_store(&fo->st.connected, 1);
		rc = catch_up(fo);
	}
	if (rc == HM_OK) {
		set_state(fo, HM_FOLLOW_FOLLOWING, HM_FOLLOW_INFO, "");
		*out = fo;
		return HM_OK;
	}
	(void)snprintf(err, cap, "%s", rc == HM_ESTORE ? store_why(fo) : fo->f.err);
	if ((rc == HM_ECONN || rc == HM_ENOTFOUND) && fo->held.pos[0] != '\0') {
		/* synced before: serve as last synced, the thread keeps trying */
		if (rc == HM_ECONN)
			hm_fleet_disconnect(&fo->f);
		atomic_store(&fo->st.state, rc == HM_ECONN ? HM_FOLLOW_DOWN : HM_FOLLOW_LOST);
		fo->resync = rc == HM_ENOTFOUND;
		*out = fo;
		return rc;
	}
out:
	follower_free(fo);
	return rc;
}

int hm_follow_run(struct hm_follower *fo)
{
	if (pthread_create(&fo->thread, NULL, follow_thread, fo) != 0)
		return HM_ENOMEM;
	fo->running = true;
	return HM_OK;
}

void hm_follow_stop(struct hm_follower *fo)
{
	if (fo == NULL)
		return;
	atomic_store(&fo->stop, true);
	if (fo->running)
		(void)pthread_join(fo->thread, NULL);
	follower_free(fo);
}
