/*
 * admin.c - hmacctl's writes and reads of a fleet (admin.h).
 *
 * A write runs as: WATCH seq, GET seq, a body that reads what it needs and says which records
 * to write (struct wr), then MULTI ... EXEC. The body is pure bookkeeping on records; sealing,
 * naming and the Redis commands are here once, in commit().
 */
#include "fleet/admin.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "proto/lex.h"

#define TXN_TRIES 16
#define WR_MAX 64        /* records one write carries (import-store writes in batches of it) */
#define PROBE 32         /* epochs asked for per MGET when reading a scope */
#define KEYID_TRIES 8
#define KEY_MAX_LEN (HM_FLEET_PREFIX_MAX + 2 + HM_SEAL_NAME_HEX)

static void set_err(struct hm_fleet *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_err(struct hm_fleet *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(f->err, sizeof(f->err), fmt, ap);
	va_end(ap);
}

/* What one write stores: records (with their hex names), and optionally a key id claim. */
struct wr {
	struct hm_ks_mirror_rec *recs[WR_MAX];
	char hex[WR_MAX][HM_SEAL_NAME_HEX];
	size_t n;
	char claim[WR_MAX][HM_SEAL_NAME_HEX]; /* key id names claimed */
	size_t nclaim;
	char claim_of[WR_MAX][HM_SEAL_NAME_HEX]; /* the record name each claim points to */
	uint64_t seq_floor;                        /* versions start above this too */
	struct hm_ks_origin origin; /* who writes (txn) and how; commit() stamps every record */
};

static size_t rkey(const struct hm_fleet *f, const char *kind, const char *hex, char *out)
{
	char tail[3 + HM_SEAL_NAME_HEX];

	(void)snprintf(tail, sizeof(tail), "%s%s", kind, hex);
	return hm_fleet_key(f, tail, out, KEY_MAX_LEN);
}

/* The keyed name of a key id, for the P i: index. */
static int keyid_name(struct hm_fleet *f, const char *keyid, char hex[static HM_SEAL_NAME_HEX])
{
	uint8_t ident[1 + HM_KEYID_MAX];
	size_t n = strlen(keyid);

	ident[0] = 'k';
	memcpy(ident + 1, keyid, n);
	return hm_seal_name(f->seal, ident, n + 1, hex);
}

/* A reply of the wrong kind: HM_EPROTO with the command named. */
static int bad_reply(struct hm_fleet *f, const char *cmd, redisReply *r)
{
	set_err(f, "redis: %s: %s", cmd,
		r != NULL && r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
	freeReplyObject(r);
	return HM_EPROTO;
}

/* GET of a Redis key: HM_OK with *out (a string reply, free it), HM_ENOTFOUND, errors. */
static int get(struct hm_fleet *f, const char *key, redisReply **out)
{
	redisReply *r = hm_fleet_cmdf(f, "GET %s", key);

	*out = NULL;
	if (r == NULL)
		return HM_ECONN;
	if (r->type == REDIS_REPLY_NIL) {
		freeReplyObject(r);
		return HM_ENOTFOUND;
	}
	if (r->type != REDIS_REPLY_STRING)
		return bad_reply(f, "GET", r);
	*out = r;
	return HM_OK;
}

/*
 * The record of r's identity (kind, names, epoch set) into *r, opened: HM_OK; HM_ENOTFOUND;
 * HM_EPROTO (a record that does not open: written with another seal key or tampered with;
 * nothing is written on top of it); HM_ECONN.
 */
static int read_rec(struct hm_fleet *f, struct hm_ks_mirror_rec *r)
{
	char hex[HM_SEAL_NAME_HEX], key[KEY_MAX_LEN];
	struct hm_ks_mirror_rec want = *r;
	redisReply *v = NULL;
	int rc;

	rc = hm_frec_name(f->seal, &want, hex);
	if (rc != HM_OK)
		return rc;
	(void)rkey(f, "r:", hex, key);
	rc = get(f, key, &v);
	if (rc != HM_OK)
		return rc;
	rc = hm_frec_open(f->seal, f->prefix, f->fleet_id, hex, (const uint8_t *)v->str, v->len,
			  r);
	freeReplyObject(v);
	if (rc == HM_EMALFORMED) {
		set_err(f, "record %s does not open (another seal key, or tampered with)", key);
		return HM_EPROTO;
	}
	return rc;
}

/* A scope's epochs as the fleet holds them: ep[i] is epoch i + 1. */
struct scope {
	struct hm_ks_mirror_rec *ep;
	size_t n, cap;
};

static void scope_free(struct scope *s)
{
	if (s->ep != NULL)
		OPENSSL_cleanse(s->ep, s->cap * sizeof(*s->ep));
	free(s->ep);
	memset(s, 0, sizeof(*s));
}

/*
 * Reads epochs 1, 2, ... of the scope, PROBE at a time, until a whole probe finds none; s->n
 * is the highest epoch found and the epochs missing below it stay zeroed (state 0). Epochs are
 * never deleted, but import-store skips one whose key id the fleet holds elsewhere, leaving a
 * gap: stopping at the first missing epoch would number the next one below the highest and
 * leave the highest current.
 */
static int scope_read(struct hm_fleet *f, const char *tenant, const char *container,
		      struct scope *s)
{
	char hex[PROBE][HM_SEAL_NAME_HEX], key[PROBE][KEY_MAX_LEN];
	const char *argv[PROBE + 1];
	size_t lens[PROBE + 1], base = 0;
	redisReply *r;
	int rc;

	for (;;) {
		struct hm_ks_mirror_rec *grown;
		size_t found = 0;

		if (base > UINT32_MAX - PROBE)
			return HM_OK;
		grown = realloc(s->ep, (base + PROBE) * sizeof(*s->ep));
		if (grown == NULL)
			return HM_ENOMEM;
		s->ep = grown;
		s->cap = base + PROBE;
		argv[0] = "MGET";
		lens[0] = 4;
		for (size_t i = 0; i < PROBE; i++) {
			struct hm_ks_mirror_rec *e = &s->ep[base + i];

			memset(e, 0, sizeof(*e));
			e->kind = HM_KS_MIRROR_EPOCH;
			(void)snprintf(e->tenant, sizeof(e->tenant), "%s", tenant);
			(void)snprintf(e->container, sizeof(e->container), "%s", container);
			e->epoch = (uint32_t)(base + i + 1);
			rc = hm_frec_name(f->seal, e, hex[i]);
			if (rc != HM_OK)
				return rc;
			argv[1 + i] = key[i];
			lens[1 + i] = rkey(f, "r:", hex[i], key[i]);
		}
		r = hm_fleet_cmdv(f, PROBE + 1, argv, lens);
		if (r == NULL)
			return HM_ECONN;
		if (r->type != REDIS_REPLY_ARRAY || r->elements != PROBE)
			return bad_reply(f, "MGET", r);
		for (size_t i = 0; i < PROBE; i++) {
			const redisReply *v = r->element[i];

			if (v->type != REDIS_REPLY_STRING)
				continue; /* the end, or a gap */
			rc = hm_frec_open(f->seal, f->prefix, f->fleet_id, hex[i],
					  (const uint8_t *)v->str, v->len, &s->ep[base + i]);
			if (rc != HM_OK) {
				freeReplyObject(r);
				set_err(f, "record %s does not open (another seal key, or tampered "
					   "with)", key[i]);
				return rc == HM_EMALFORMED ? HM_EPROTO : rc;
			}
			s->n = base + i + 1;
			found++;
		}
		freeReplyObject(r);
		if (found == 0)
			return HM_OK;
		base += PROBE;
	}
}

/* ---- the write transaction ---- */

/* Adds a record to the write; its name is computed here. */
static int wr_add(struct hm_fleet *f, struct wr *w, struct hm_ks_mirror_rec *r)
{
	if (w->n == WR_MAX) {
		set_err(f, "too many records for one write");
		return HM_ETOOBIG;
	}
	w->recs[w->n] = r;
	if (hm_frec_name(f->seal, r, w->hex[w->n]) != HM_OK)
		return HM_ECRYPTO;
	w->n++;
	return HM_OK;
}

/* Claims a key id for the record last added. */
static int wr_claim(struct hm_fleet *f, struct wr *w, const char *keyid)
{
	char hex[HM_SEAL_NAME_HEX];

	if (keyid_name(f, keyid, hex) != HM_OK)
		return HM_ECRYPTO;
	memcpy(w->claim[w->nclaim], hex, sizeof(hex));
	memcpy(w->claim_of[w->nclaim], w->hex[w->n - 1], HM_SEAL_NAME_HEX);
	w->nclaim++;
	return HM_OK;
}

/* Which record holds a key id: HM_OK with holder (hex), HM_ENOTFOUND, errors. */
static int keyid_holder(struct hm_fleet *f, const char *keyid, char holder[HM_SEAL_NAME_HEX])
{
	char hex[HM_SEAL_NAME_HEX], key[KEY_MAX_LEN];
	redisReply *v = NULL;
	int rc;

	if (keyid_name(f, keyid, hex) != HM_OK)
		return HM_ECRYPTO;
	(void)rkey(f, "i:", hex, key);
	rc = get(f, key, &v);
	if (rc != HM_OK)
		return rc;
	(void)snprintf(holder, HM_SEAL_NAME_HEX, "%.*s", (int)v->len, v->str);
	freeReplyObject(v);
	return HM_OK;
}

/* One queued command of the MULTI: HM_OK if Redis said QUEUED. */
static int queue(struct hm_fleet *f, int argc, const char **argv, const size_t *lens)
{
	redisReply *r = hm_fleet_cmdv(f, argc, argv, lens);

	if (r == NULL)
		return HM_ECONN;
	if (r->type != REDIS_REPLY_STATUS || strcmp(r->str, "QUEUED") != 0)
		return bad_reply(f, argv[0], r);
	freeReplyObject(r);
	return HM_OK;
}

static int queue_set(struct hm_fleet *f, const char *key, const void *val, size_t len)
{
	const char *argv[3] = {"SET", key, val};
	size_t lens[3] = {3, strlen(key), len};

	return queue(f, 3, argv, lens);
}

/*
 * The version of a write: above P seq and the floor, and at least the clock in microseconds.
 * The clock is what keeps versions moving forward when Redis loses its latest writes (a
 * failover to a replica that had not received them, an append-only file cut short): P seq
 * then goes back, but hosts hold the versions they applied, and a version below those would
 * be refused as a rollback on every host, forever. The clock is ahead of any version written
 * more than a moment ago, whatever P seq says.
 */
static uint64_t next_version(uint64_t seq, uint64_t floor)
{
	struct timespec ts;
	uint64_t v = (seq > floor ? seq : floor) + 1, now_us = 0;

	if (clock_gettime(CLOCK_REALTIME, &ts) == 0 && ts.tv_sec > 0)
		now_us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	return v > now_us ? v : now_us;
}

/* The wall clock in unix milliseconds (0 if it cannot be read: the origin's time unknown). */
static int64_t now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || ts.tv_sec < 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The origin of a record written (record.h, format 2): the write's operator, host, time and
 * operation; a policy record says set or unset as it is (import-store writes both kinds).
 */
static void stamp(struct hm_ks_mirror_rec *r, const struct hm_ks_origin *o)
{
	r->origin = *o;
	if (r->kind == HM_KS_MIRROR_POLICY)
		r->origin.op = r->present ? HM_AUDIT_POLICY_SET : HM_AUDIT_POLICY_UNSET;
}

/*
 * MULTI; every record sealed at the next version (next_version) under P r:<name>; the key id
 * claims; P seq set to that version;
 * one entry on P changes with every (name, blob); EXEC. HM_OK; HM_EAGAIN (a concurrent write:
 * EXEC did nothing); errors (the transaction is discarded).
 */
static int commit(struct hm_fleet *f, uint64_t seq, struct wr *w)
{
	char key[KEY_MAX_LEN], seqkey[KEY_MAX_LEN], chkey[KEY_MAX_LEN], ver[24], maxlen[24];
	const char *argv[6 + 2 * WR_MAX];
	size_t lens[6 + 2 * WR_MAX];
	uint8_t (*blobs)[HM_FREC_BLOB_MAX] = NULL;
	size_t blen[WR_MAX];
	redisReply *r = NULL;
	uint64_t version = next_version(seq, w->seq_floor);
	int rc, argc;

	blobs = malloc(WR_MAX * sizeof(*blobs));
	if (blobs == NULL)
		return HM_ENOMEM;
	w->origin.time_ms = now_ms();
	for (size_t i = 0; i < w->n; i++) {
		w->recs[i]->version = version;
		stamp(w->recs[i], &w->origin);
		rc = hm_frec_seal(f->seal, f->prefix, f->fleet_id, w->recs[i], blobs[i],
				  &blen[i]);
		if (rc != HM_OK) {
			set_err(f, "sealing a record failed");
			goto out;
		}
	}
	r = hm_fleet_cmdf(f, "MULTI");
	if (r == NULL) {
		rc = HM_ECONN;
		goto out;
	}
	if (r->type != REDIS_REPLY_STATUS) {
		rc = bad_reply(f, "MULTI", r);
		r = NULL;
		goto out;
	}
	freeReplyObject(r);
	r = NULL;
	rc = HM_OK;
	for (size_t i = 0; rc == HM_OK && i < w->n; i++) {
		(void)rkey(f, "r:", w->hex[i], key);
		rc = queue_set(f, key, blobs[i], blen[i]);
	}
	for (size_t i = 0; rc == HM_OK && i < w->nclaim; i++) {
		(void)rkey(f, "i:", w->claim[i], key);
		rc = queue_set(f, key, w->claim_of[i], HM_SEAL_NAME_HEX - 1);
	}
	(void)snprintf(ver, sizeof(ver), "%" PRIu64, version);
	(void)hm_fleet_key(f, "seq", seqkey, sizeof(seqkey));
	if (rc == HM_OK)
		rc = queue_set(f, seqkey, ver, strlen(ver));
	(void)hm_fleet_key(f, "changes", chkey, sizeof(chkey));
	(void)snprintf(maxlen, sizeof(maxlen), "%zu", f->stream_max);
	argc = 0;
	argv[argc++] = "XADD";
	argv[argc++] = chkey;
	argv[argc++] = "MAXLEN";
	argv[argc++] = "~";
	argv[argc++] = maxlen;
	argv[argc++] = "*";
	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	for (size_t i = 0; i < w->n; i++) {
		argv[argc] = w->hex[i];
		lens[argc++] = HM_SEAL_NAME_HEX - 1;
		argv[argc] = (const char *)blobs[i];
		lens[argc++] = blen[i];
	}
	if (rc == HM_OK && w->n > 0)
		rc = queue(f, argc, argv, lens);
	if (rc != HM_OK) {
		r = hm_fleet_cmdf(f, "DISCARD");
		goto out;
	}
	r = hm_fleet_cmdf(f, "EXEC");
	if (r == NULL) {
		rc = HM_ECONN;
		goto out;
	}
	if (r->type == REDIS_REPLY_NIL) {
		rc = HM_EAGAIN;
		goto out;
	}
	if (r->type != REDIS_REPLY_ARRAY) {
		rc = bad_reply(f, "EXEC", r);
		r = NULL;
		goto out;
	}
	for (size_t i = 0; i < r->elements; i++)
		if (r->element[i]->type == REDIS_REPLY_ERROR) {
			set_err(f, "redis: EXEC: %s", r->element[i]->str);
			rc = HM_EPROTO;
			goto out;
		}
	rc = HM_OK;
out:
	if (r != NULL)
		freeReplyObject(r);
	OPENSSL_cleanse(blobs, WR_MAX * sizeof(*blobs));
	free(blobs);
	return rc;
}

/*
 * The fleet's meta, checked for this seal key (hm_fleet_meta_check). A fleet sealed with another
 * seal key, or no fleet at all, is HM_EPROTO here, as a record that does not open is
 * (read_rec): to hmacctl, HM_ESTATE is the store's "wrong state" (exit 4, "epoch already
 * revoked") and HM_ENOTFOUND "no such scope" (exit 3), while these are errors of the set-up
 * (exit 1, f->err naming both key ids, or saying to run init).
 */
static int meta_ok(struct hm_fleet *f, struct hm_fleet_meta *m)
{
	int rc = hm_fleet_meta_check(f, m);

	/* no fleet, or another seal key: not "no such scope" or "wrong state" for the caller */
	return rc == HM_ESTATE || rc == HM_ENOTFOUND ? HM_EPROTO : rc;
}

typedef int (*body_fn)(struct hm_fleet *f, struct wr *w, void *arg);

/*
 * The optimistic transaction: WATCH seq, GET seq, body, commit; redone when a concurrent write
 * changed seq. The body may read anything: every write changes seq, so what it read is still
 * what EXEC writes over.
 */
static int txn(struct hm_fleet *f, enum hm_audit_op op, body_fn body, void *arg,
	       uint64_t seq_floor)
{
	char seqkey[KEY_MAX_LEN];
	struct hm_fleet_meta m;
	struct hm_ks_origin origin = {.known = true, .op = op};
	redisReply *r = NULL;
	struct wr *w;
	int rc;

	rc = meta_ok(f, &m);
	if (rc != HM_OK)
		return rc;
	w = malloc(sizeof(*w));
	if (w == NULL)
		return HM_ENOMEM;
	/* the operator, carried in every record written for the hosts' audit trails */
	hm_ks_actor_self(&origin.actor);
	(void)hm_fleet_key(f, "seq", seqkey, sizeof(seqkey));
	for (int attempt = 0; attempt < TXN_TRIES; attempt++) {
		uint64_t seq = 0;

		memset(w, 0, sizeof(*w));
		w->seq_floor = seq_floor;
		w->origin = origin;
		r = hm_fleet_cmdf(f, "WATCH %s", seqkey);
		if (r == NULL) {
			rc = HM_ECONN;
			break;
		}
		freeReplyObject(r);
		rc = get(f, seqkey, &r);
		if (rc == HM_OK) {
			char *end = NULL;

			seq = strtoull(r->str, &end, 10);
			if (end == r->str || *end != '\0') {
				set_err(f, "redis: %s is not a number", seqkey);
				rc = HM_EPROTO;
			}
			freeReplyObject(r);
		} else if (rc == HM_ENOTFOUND) {
			rc = HM_OK;
		}
		if (rc == HM_OK)
			rc = body(f, w, arg);
		if (rc == HM_OK && w->n > 0)
			rc = commit(f, seq, w);
		if (rc != HM_EAGAIN)
			break;
	}
	if (rc == HM_EAGAIN)
		set_err(f, "the fleet changed under %d tries of this write; try again", TXN_TRIES);
	if (f->c != NULL) {
		r = hm_fleet_cmdf(f, "UNWATCH");
		if (r != NULL)
			freeReplyObject(r);
	}
	OPENSSL_cleanse(w, sizeof(*w));
	free(w);
	return rc;
}

/* ---- new epochs: create, rotate, import ---- */

enum add_kind { ADD_CREATE, ADD_ROTATE, ADD_IMPORT };

struct add_args {
	enum add_kind kind;
	const char *tenant, *container, *keyid;
	int64_t now, deadline;
	uint8_t *secret;          /* create/rotate: filled with the new secret */
	const uint8_t *import;    /* import */
	size_t import_len;
	struct scope scope;
	struct hm_ks_mirror_rec fresh;
	struct hm_ks_added added;
};

static int gen_keyid(struct hm_fleet *f, char out[HM_KEYID_MAX + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t rnd[16];

	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		set_err(f, "RAND_bytes failed");
		return HM_ECRYPTO;
	}
	memcpy(out, "hk_", 3);
	for (size_t i = 0; i < sizeof(rnd); i++) {
		out[3 + 2 * i] = hex[rnd[i] >> 4];
		out[4 + 2 * i] = hex[rnd[i] & 15];
	}
	out[HM_KEYID_GEN_LEN] = '\0';
	return HM_OK;
}

static int body_add(struct hm_fleet *f, struct wr *w, void *arg)
{
	struct add_args *a = arg;
	struct hm_ks_mirror_rec *e = &a->fresh;
	char holder[HM_SEAL_NAME_HEX];
	int rc;

	scope_free(&a->scope);
	rc = scope_read(f, a->tenant, a->container, &a->scope);
	if (rc != HM_OK)
		return rc;
	if (a->kind == ADD_CREATE && a->scope.n > 0) {
		set_err(f, "scope already exists");
		return HM_EEXIST;
	}
	if (a->kind == ADD_ROTATE && a->scope.n == 0) {
		set_err(f, "no such scope");
		return HM_ENOTFOUND;
	}
	if (a->scope.n >= UINT32_MAX) {
		set_err(f, "epoch numbers of this scope are exhausted");
		return HM_ESTATE;
	}
	for (size_t i = 0; i < a->scope.n; i++) {
		struct hm_ks_mirror_rec *old = &a->scope.ep[i];

		if (old->state != HM_KEY_CURRENT)
			continue;
		old->state = HM_KEY_SUPERSEDED;
		old->deadline = a->deadline;
		rc = wr_add(f, w, old);
		if (rc != HM_OK)
			return rc;
	}
	memset(e, 0, sizeof(*e));
	e->kind = HM_KS_MIRROR_EPOCH;
	(void)snprintf(e->tenant, sizeof(e->tenant), "%s", a->tenant);
	(void)snprintf(e->container, sizeof(e->container), "%s", a->container);
	e->epoch = (uint32_t)a->scope.n + 1;
	e->state = HM_KEY_CURRENT;
	e->created = a->now;
	for (int tries = 0;; tries++) {
		if (a->keyid != NULL)
			(void)snprintf(e->keyid, sizeof(e->keyid), "%s", a->keyid);
		else if ((rc = gen_keyid(f, e->keyid)) != HM_OK)
			return rc;
		rc = keyid_holder(f, e->keyid, holder);
		if (rc == HM_ENOTFOUND)
			break;
		if (rc != HM_OK)
			return rc;
		if (a->keyid != NULL) {
			set_err(f, "key id already in use");
			return HM_EEXIST;
		}
		if (tries == KEYID_TRIES) {
			set_err(f, "no unused key id after %d random tries", KEYID_TRIES);
			return HM_ECRYPTO;
		}
	}
	if (a->import != NULL) {
		memcpy(e->secret, a->import, a->import_len);
		e->secret_len = a->import_len;
	} else {
		if (RAND_bytes(e->secret, HM_KEY_LEN) != 1) {
			set_err(f, "RAND_bytes failed");
			return HM_ECRYPTO;
		}
		e->secret_len = HM_KEY_LEN;
	}
	rc = wr_add(f, w, e);
	if (rc == HM_OK)
		rc = wr_claim(f, w, e->keyid);
	a->added.epoch = e->epoch;
	memcpy(a->added.keyid, e->keyid, sizeof(a->added.keyid));
	return rc;
}

static bool scope_args_ok(struct hm_fleet *f, const char *tenant, const char *container)
{
	if (tenant == NULL || !hm_lex_scope((const uint8_t *)tenant, strlen(tenant)) ||
	    container == NULL || !hm_lex_scope((const uint8_t *)container, strlen(container))) {
		set_err(f, "bad tenant or container name");
		return false;
	}
	return true;
}

/* The operation an add is, for the records' origin. */
static enum hm_audit_op add_op(enum add_kind kind)
{
	switch (kind) {
	case ADD_CREATE:
		return HM_AUDIT_CREATE;
	case ADD_ROTATE:
		return HM_AUDIT_ROTATE;
	case ADD_IMPORT:
		break;
	}
	return HM_AUDIT_IMPORT;
}

static int add(struct hm_fleet *f, struct add_args *a, struct hm_ks_added *out)
{
	int rc = HM_EINVAL;

	f->err[0] = '\0';
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (!scope_args_ok(f, a->tenant, a->container))
		goto out;
	if (a->keyid != NULL && !hm_lex_keyid((const uint8_t *)a->keyid, strlen(a->keyid))) {
		set_err(f, "bad key id");
		goto out;
	}
	if (a->now < 0 || a->deadline < a->now) {
		set_err(f, "time or grace out of range");
		goto out;
	}
	rc = txn(f, add_op(a->kind), body_add, a, 0);
	if (rc == HM_OK && a->secret != NULL)
		memcpy(a->secret, a->fresh.secret, HM_KEY_LEN);
	if (rc == HM_OK && out != NULL)
		*out = a->added;
out:
	scope_free(&a->scope);
	OPENSSL_cleanse(&a->fresh, sizeof(a->fresh));
	return rc;
}

static int64_t deadline_of(int64_t now, int64_t grace)
{
	return now < 0 || grace < 0 || grace > INT64_MAX - now ? -1 : now + grace;
}

int hm_fleet_create(struct hm_fleet *f, const char *tenant, const char *container, int64_t now,
		    const char *keyid, uint8_t secret[static HM_KEY_LEN], struct hm_ks_added *out)
{
	struct add_args a = {.kind = ADD_CREATE, .tenant = tenant, .container = container,
			     .keyid = keyid, .now = now, .deadline = now, .secret = secret};
	int rc = add(f, &a, out);

	if (rc != HM_OK)
		OPENSSL_cleanse(secret, HM_KEY_LEN);
	return rc;
}

int hm_fleet_rotate(struct hm_fleet *f, const char *tenant, const char *container, int64_t now,
		    int64_t grace_seconds, const char *keyid, uint8_t secret[static HM_KEY_LEN],
		    struct hm_ks_added *out)
{
	struct add_args a = {.kind = ADD_ROTATE, .tenant = tenant, .container = container,
			     .keyid = keyid, .now = now,
			     .deadline = deadline_of(now, grace_seconds), .secret = secret};
	int rc = add(f, &a, out);

	if (rc != HM_OK)
		OPENSSL_cleanse(secret, HM_KEY_LEN);
	return rc;
}

int hm_fleet_import(struct hm_fleet *f, const char *tenant, const char *container, int64_t now,
		    int64_t grace_seconds, const char *keyid, const uint8_t *secret,
		    size_t secret_len, struct hm_ks_added *out)
{
	struct add_args a = {.kind = ADD_IMPORT, .tenant = tenant, .container = container,
			     .keyid = keyid, .now = now,
			     .deadline = deadline_of(now, grace_seconds), .import = secret,
			     .import_len = secret_len};

	if (secret == NULL || secret_len < HM_KEY_MIN || secret_len > HM_KEY_MAX) {
		set_err(f, "imported secret must be %d..%d bytes", HM_KEY_MIN, HM_KEY_MAX);
		if (out != NULL)
			memset(out, 0, sizeof(*out));
		return HM_EINVAL;
	}
	return add(f, &a, out);
}

/* ---- revoke ---- */

struct one_args {
	struct hm_ks_mirror_rec rec;
	const struct hm_policy *policy; /* policy set */
};

static int body_revoke(struct hm_fleet *f, struct wr *w, void *arg)
{
	struct one_args *a = arg;
	struct hm_ks_mirror_rec *r = &a->rec;
	uint32_t epoch = r->epoch;
	int rc;

	rc = read_rec(f, r);
	if (rc == HM_ENOTFOUND)
		set_err(f, "no such epoch");
	if (rc != HM_OK)
		return rc;
	if (r->epoch != epoch)
		return HM_EPROTO;
	if (r->state == HM_KEY_REVOKED) {
		set_err(f, "epoch already revoked");
		return HM_ESTATE;
	}
	r->state = HM_KEY_REVOKED;
	r->deadline = 0;
	OPENSSL_cleanse(r->secret, sizeof(r->secret));
	r->secret_len = 0;
	return wr_add(f, w, r);
}

static void ident_of(struct hm_ks_mirror_rec *r, enum hm_ks_mirror_kind kind, const char *tenant,
		     const char *container, uint32_t epoch)
{
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	(void)snprintf(r->tenant, sizeof(r->tenant), "%s", tenant);
	(void)snprintf(r->container, sizeof(r->container), "%s", container != NULL ? container : "");
	r->epoch = epoch;
}

int hm_fleet_revoke(struct hm_fleet *f, const char *tenant, const char *container,
		    uint32_t epoch)
{
	struct one_args a;
	int rc;

	f->err[0] = '\0';
	if (!scope_args_ok(f, tenant, container))
		return HM_EINVAL;
	if (epoch == 0) {
		set_err(f, "no such epoch");
		return HM_ENOTFOUND;
	}
	ident_of(&a.rec, HM_KS_MIRROR_EPOCH, tenant, container, epoch);
	rc = txn(f, HM_AUDIT_REVOKE, body_revoke, &a, 0);
	OPENSSL_cleanse(&a, sizeof(a));
	return rc;
}

/* ---- policies ---- */

static int body_policy_set(struct hm_fleet *f, struct wr *w, void *arg)
{
	struct one_args *a = arg;

	a->rec.present = true;
	a->rec.policy = *a->policy;
	return wr_add(f, w, &a->rec);
}

static int body_policy_unset(struct hm_fleet *f, struct wr *w, void *arg)
{
	struct one_args *a = arg;
	int rc;

	rc = read_rec(f, &a->rec);
	if (rc == HM_OK && !a->rec.present)
		rc = HM_ENOTFOUND;
	if (rc == HM_ENOTFOUND)
		set_err(f, "no policy stored");
	if (rc != HM_OK)
		return rc;
	a->rec.present = false;
	memset(&a->rec.policy, 0, sizeof(a->rec.policy));
	return wr_add(f, w, &a->rec);
}

static bool policy_scope_ok(struct hm_fleet *f, const char *tenant, const char *container)
{
	if (tenant == NULL || !hm_lex_scope((const uint8_t *)tenant, strlen(tenant)) ||
	    (container != NULL && !hm_lex_scope((const uint8_t *)container, strlen(container)))) {
		set_err(f, "bad tenant or container name");
		return false;
	}
	return true;
}

int hm_fleet_policy_set(struct hm_fleet *f, const char *tenant, const char *container,
			const struct hm_policy *p)
{
	uint8_t enc[HM_POLICY_ENC_MAX];
	struct one_args a = {.policy = p};
	size_t len = 0;

	f->err[0] = '\0';
	if (!policy_scope_ok(f, tenant, container))
		return HM_EINVAL;
	if (p->ncomponents < 1 || hm_policy_encode(p, enc, sizeof(enc), &len) != HM_OK) {
		set_err(f, "policy cannot be stored");
		return HM_EINVAL;
	}
	ident_of(&a.rec, HM_KS_MIRROR_POLICY, tenant, container, 0);
	return txn(f, HM_AUDIT_POLICY_SET, body_policy_set, &a, 0);
}

int hm_fleet_policy_unset(struct hm_fleet *f, const char *tenant, const char *container)
{
	struct one_args a = {.policy = NULL};

	f->err[0] = '\0';
	if (!policy_scope_ok(f, tenant, container))
		return HM_EINVAL;
	ident_of(&a.rec, HM_KS_MIRROR_POLICY, tenant, container, 0);
	return txn(f, HM_AUDIT_POLICY_UNSET, body_policy_unset, &a, 0);
}

int hm_fleet_policy_get(struct hm_fleet *f, const char *tenant, const char *container,
			struct hm_policy *out, enum hm_policy_source *src)
{
	struct hm_fleet_meta m;
	struct hm_ks_mirror_rec r;
	int rc;

	f->err[0] = '\0';
	if (!policy_scope_ok(f, tenant, container))
		return HM_EINVAL;
	rc = meta_ok(f, &m);
	if (rc != HM_OK)
		return rc;
	for (int i = container != NULL ? 0 : 1; i < 2; i++) {
		ident_of(&r, HM_KS_MIRROR_POLICY, tenant, i == 0 ? container : NULL, 0);
		rc = read_rec(f, &r);
		if (rc == HM_OK && r.present) {
			*out = r.policy;
			*src = i == 0 ? HM_POLICY_SCOPE : HM_POLICY_TENANT;
			return HM_OK;
		}
		if (rc != HM_OK && rc != HM_ENOTFOUND)
			return rc;
	}
	hm_policy_default(out);
	*src = HM_POLICY_DEFAULT;
	return HM_OK;
}

/* ---- listings ---- */

/* The store's order: tenant (length, bytes), container (length, bytes), epoch. */
static int scope_cmp(const char *t1, const char *c1, uint32_t e1, const char *t2, const char *c2,
		     uint32_t e2)
{
	size_t a = strlen(t1), b = strlen(t2);
	int d;

	if (a != b)
		return a < b ? -1 : 1;
	if ((d = memcmp(t1, t2, a)) != 0)
		return d;
	a = strlen(c1);
	b = strlen(c2);
	if (a != b)
		return a < b ? -1 : 1;
	if ((d = memcmp(c1, c2, a)) != 0)
		return d;
	return e1 < e2 ? -1 : e1 > e2;
}

static int key_info_cmp(const void *x, const void *y)
{
	const struct hm_key_info *a = x, *b = y;

	return scope_cmp(a->tenant, a->container, a->epoch, b->tenant, b->container, b->epoch);
}

static int policy_info_cmp(const void *x, const void *y)
{
	const struct hm_policy_info *a = x, *b = y;

	return scope_cmp(a->tenant, a->container, 0, b->tenant, b->container, 0);
}

struct collect {
	const char *tenant;
	enum hm_ks_mirror_kind kind;
	void *items; /* struct hm_key_info or struct hm_policy_info */
	size_t n, cap, size;
};

static int collect_fn(struct hm_ks_mirror_rec *recs, size_t n, void *arg)
{
	struct collect *c = arg;

	for (size_t i = 0; i < n; i++) {
		const struct hm_ks_mirror_rec *r = &recs[i];
		uint8_t *slot;

		if (r->kind != c->kind || (c->tenant != NULL && strcmp(r->tenant, c->tenant) != 0) ||
		    (r->kind == HM_KS_MIRROR_POLICY && !r->present))
			continue;
		if (c->n == c->cap) {
			size_t cap = c->cap != 0 ? 2 * c->cap : 64;
			void *grown = realloc(c->items, cap * c->size);

			if (grown == NULL)
				return HM_ENOMEM;
			c->items = grown;
			c->cap = cap;
		}
		slot = (uint8_t *)c->items + c->n++ * c->size;
		memset(slot, 0, c->size);
		if (r->kind == HM_KS_MIRROR_EPOCH) {
			struct hm_key_info *k = (struct hm_key_info *)(void *)slot;

			memcpy(k->tenant, r->tenant, sizeof(k->tenant));
			memcpy(k->container, r->container, sizeof(k->container));
			k->epoch = r->epoch;
			memcpy(k->keyid, r->keyid, sizeof(k->keyid));
			k->state = r->state;
			k->created = r->created;
			k->deadline = r->deadline;
		} else {
			struct hm_policy_info *p = (struct hm_policy_info *)(void *)slot;

			memcpy(p->tenant, r->tenant, sizeof(p->tenant));
			memcpy(p->container, r->container, sizeof(p->container));
			p->source = r->container[0] != '\0' ? HM_POLICY_SCOPE : HM_POLICY_TENANT;
			p->policy = r->policy;
		}
	}
	return HM_OK;
}

static int collect_all(struct hm_fleet *f, struct collect *c, size_t *refused)
{
	struct hm_fleet_meta m;
	int rc;

	f->err[0] = '\0';
	if (c->tenant != NULL && !hm_lex_scope((const uint8_t *)c->tenant, strlen(c->tenant))) {
		set_err(f, "bad tenant name");
		return HM_EINVAL;
	}
	rc = meta_ok(f, &m);
	if (rc != HM_OK)
		return rc;
	rc = hm_fleet_scan(f, 256, collect_fn, c, refused);
	if (rc == HM_OK && c->n > 0)
		qsort(c->items, c->n, c->size,
		      c->kind == HM_KS_MIRROR_EPOCH ? key_info_cmp : policy_info_cmp);
	return rc;
}

int hm_fleet_list(struct hm_fleet *f, const char *tenant,
		  int (*fn)(const struct hm_key_info *info, void *arg), void *arg, size_t *refused)
{
	struct collect c = {.tenant = tenant, .kind = HM_KS_MIRROR_EPOCH,
			    .size = sizeof(struct hm_key_info)};
	const struct hm_key_info *k;
	int rc;

	rc = collect_all(f, &c, refused);
	k = c.items;
	for (size_t i = 0; rc == HM_OK && i < c.n; i++)
		rc = fn(&k[i], arg);
	free(c.items);
	return rc;
}

int hm_fleet_policy_list(struct hm_fleet *f, const char *tenant,
			 int (*fn)(const struct hm_policy_info *info, void *arg), void *arg,
			 size_t *refused)
{
	struct collect c = {.tenant = tenant, .kind = HM_KS_MIRROR_POLICY,
			    .size = sizeof(struct hm_policy_info)};
	const struct hm_policy_info *p;
	int rc;

	rc = collect_all(f, &c, refused);
	p = c.items;
	for (size_t i = 0; rc == HM_OK && i < c.n; i++)
		rc = fn(&p[i], arg);
	free(c.items);
	return rc;
}

/* ---- import-store ---- */

struct exported {
	struct hm_ks_mirror_rec *recs;
	size_t n, cap;
};

static int export_fn(const struct hm_ks_mirror_rec *rec, void *arg)
{
	struct exported *e = arg;

	if (e->n == e->cap) {
		size_t cap = e->cap != 0 ? 2 * e->cap : 64;
		struct hm_ks_mirror_rec *grown = calloc(cap, sizeof(*grown));

		if (grown == NULL)
			return HM_ENOMEM;
		if (e->recs != NULL) {
			memcpy(grown, e->recs, e->n * sizeof(*grown));
			OPENSSL_cleanse(e->recs, e->cap * sizeof(*e->recs));
			free(e->recs);
		}
		e->recs = grown;
		e->cap = cap;
	}
	e->recs[e->n++] = *rec;
	return HM_OK;
}

struct import_args {
	struct hm_ks_mirror_rec *recs;
	size_t n;
	bool force;
	struct hm_fleet_imported *res;
	size_t written, kept, conflicts;
};

static int body_import(struct hm_fleet *f, struct wr *w, void *arg)
{
	struct import_args *a = arg;
	char hex[HM_SEAL_NAME_HEX], key[KEY_MAX_LEN], holder[HM_SEAL_NAME_HEX];
	redisReply *r;
	int rc;

	a->written = a->kept = a->conflicts = 0;
	for (size_t i = 0; i < a->n; i++) {
		struct hm_ks_mirror_rec *rec = &a->recs[i];
		bool exists;

		if (hm_frec_name(f->seal, rec, hex) != HM_OK)
			return HM_ECRYPTO;
		(void)rkey(f, "r:", hex, key);
		r = hm_fleet_cmdf(f, "EXISTS %s", key);
		if (r == NULL)
			return HM_ECONN;
		if (r->type != REDIS_REPLY_INTEGER)
			return bad_reply(f, "EXISTS", r);
		exists = r->integer != 0;
		freeReplyObject(r);
		if (exists && !a->force) {
			a->kept++;
			continue;
		}
		if (rec->kind == HM_KS_MIRROR_EPOCH) {
			rc = keyid_holder(f, rec->keyid, holder);
			if (rc == HM_OK && strcmp(holder, hex) != 0) {
				a->conflicts++;
				continue;
			}
			if (rc != HM_OK && rc != HM_ENOTFOUND)
				return rc;
		}
		rc = wr_add(f, w, rec);
		if (rc == HM_OK && rec->kind == HM_KS_MIRROR_EPOCH)
			rc = wr_claim(f, w, rec->keyid);
		if (rc != HM_OK)
			return rc;
		a->written++;
	}
	return HM_OK;
}

int hm_fleet_import_store(struct hm_fleet *f, struct hm_keystore *ks, bool force,
			  struct hm_fleet_imported *res)
{
	struct exported e = {.recs = NULL};
	struct hm_ks_mirror held;
	struct hm_fleet_meta m;
	int rc;

	f->err[0] = '\0';
	memset(res, 0, sizeof(*res));
	rc = hm_ks_mirror_get(ks, &held);
	if (rc != HM_OK) {
		set_err(f, "%s", hm_ks_errmsg(ks));
		return rc;
	}
	rc = hm_fleet_meta_get(f, &m);
	if (rc == HM_ENOTFOUND) {
		rc = hm_fleet_meta_create(f, held.fleet_id[0] != '\0' ? held.fleet_id : NULL, &m);
		res->created = rc == HM_OK;
		if (rc == HM_EEXIST)
			rc = HM_OK;
	}
	if (rc != HM_OK)
		return rc;
	rc = meta_ok(f, &m);
	if (rc != HM_OK)
		return rc;
	memcpy(res->fleet_id, m.fleet_id, sizeof(res->fleet_id));
	if (held.fleet_id[0] != '\0' && strcmp(held.fleet_id, m.fleet_id) != 0) {
		set_err(f, "the store mirrors fleet %s, redis holds fleet %s", held.fleet_id,
			m.fleet_id);
		return HM_ESTATE;
	}
	rc = hm_ks_export(ks, export_fn, &e);
	if (rc != HM_OK && rc != HM_ENOMEM)
		set_err(f, "%s", hm_ks_errmsg(ks));
	for (size_t off = 0; rc == HM_OK && off < e.n; off += WR_MAX / 2) {
		struct import_args a = {.recs = e.recs + off, .force = force, .res = res};

		a.n = e.n - off < WR_MAX / 2 ? e.n - off : WR_MAX / 2;
		rc = txn(f, HM_AUDIT_IMPORT, body_import, &a, held.max_version);
		res->written += a.written;
		res->kept += a.kept;
		res->conflicts += a.conflicts;
	}
	if (e.recs != NULL)
		OPENSSL_cleanse(e.recs, e.cap * sizeof(*e.recs));
	free(e.recs);
	return rc;
}
