/*
 * fleet.c - the fleet's connection, key names, meta and record scan (fleet.h).
 */
#include "fleet/fleet.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#define SCAN_COUNT "512"

static void set_err(struct hm_fleet *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_err(struct hm_fleet *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(f->err, sizeof(f->err), fmt, ap);
	va_end(ap);
}

static void drop(struct hm_fleet *f)
{
	if (f->c != NULL)
		redisFree(f->c);
	f->c = NULL;
}

int hm_fleet_reconnect(struct hm_fleet *f)
{
	int rc;

	drop(f);
	rc = hm_fleet_connect(&f->url, f->password[0] != '\0' ? f->password : NULL, f->timeout_ms,
			      &f->c, f->err, sizeof(f->err));
	if (rc != HM_OK)
		f->c = NULL;
	return rc;
}

int hm_fleet_open(struct hm_fleet *f, const struct hm_fleet_cfg *cfg)
{
	const char *prefix = cfg->prefix != NULL ? cfg->prefix : HM_FLEET_DEFAULT_PREFIX;

	memset(f, 0, sizeof(*f));
	if (!hm_fleet_prefix_ok(prefix)) {
		set_err(f, "bad fleet prefix");
		return HM_EINVAL;
	}
	if (cfg->password != NULL && strlen(cfg->password) > HM_FLEET_PASSWORD_MAX) {
		set_err(f, "fleet password too long");
		return HM_EINVAL;
	}
	f->url = cfg->url;
	if (cfg->password != NULL)
		memcpy(f->password, cfg->password, strlen(cfg->password) + 1);
	memcpy(f->prefix, prefix, strlen(prefix) + 1);
	f->timeout_ms = cfg->timeout_ms;
	f->seal = cfg->seal;
	f->stream_max = cfg->stream_max != 0 ? cfg->stream_max : HM_FLEET_DEFAULT_STREAM_MAX;
	return hm_fleet_reconnect(f);
}

int hm_fleet_check_master(struct hm_fleet *f)
{
	char why[128] = "";
	int rc;

	if (!f->url.sentinel)
		return HM_OK;
	if (f->c == NULL) {
		set_err(f, "not connected to redis");
		return HM_ECONN;
	}
	rc = hm_fleet_role_master(f->c, why, sizeof(why));
	if (rc == HM_OK)
		return HM_OK;
	if (rc == HM_ESTATE)
		set_err(f, "redis: the server is no longer the master (%s): a failover; asking "
			   "the sentinels again",
			why);
	else
		set_err(f, "redis: %s", why);
	drop(f);
	return HM_ECONN;
}

void hm_fleet_disconnect(struct hm_fleet *f)
{
	drop(f);
}

void hm_fleet_close(struct hm_fleet *f)
{
	drop(f);
	OPENSSL_cleanse(f->password, sizeof(f->password));
}

size_t hm_fleet_key(const struct hm_fleet *f, const char *tail, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s%s", f->prefix, tail);

	return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

/* A reply, or NULL with the connection dropped. */
static redisReply *judge(struct hm_fleet *f, void *r)
{
	if (r != NULL)
		return r;
	set_err(f, "redis: %s", f->c != NULL && f->c->errstr[0] != '\0' ? f->c->errstr
									   : "connection lost");
	drop(f);
	return NULL;
}

redisReply *hm_fleet_cmdv(struct hm_fleet *f, int argc, const char **argv, const size_t *lens)
{
	if (f->c == NULL) {
		set_err(f, "not connected to redis");
		return NULL;
	}
	return judge(f, redisCommandArgv(f->c, argc, argv, lens));
}

redisReply *hm_fleet_cmdf(struct hm_fleet *f, const char *fmt, ...)
{
	va_list ap;
	void *r;

	if (f->c == NULL) {
		set_err(f, "not connected to redis");
		return NULL;
	}
	va_start(ap, fmt);
	r = redisvCommand(f->c, fmt, ap);
	va_end(ap);
	return judge(f, r);
}

/* ---- meta ---- */

static bool hex32(const char *s, size_t n)
{
	if (n != HM_SEAL_ID_HEX - 1)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int hm_fleet_meta_get(struct hm_fleet *f, struct hm_fleet_meta *m)
{
	char key[HM_FLEET_PREFIX_MAX + 16];
	redisReply *r;
	int rc = HM_EPROTO, have = 0;

	memset(m, 0, sizeof(*m));
	(void)hm_fleet_key(f, "meta", key, sizeof(key));
	r = hm_fleet_cmdf(f, "HGETALL %s", key);
	if (r == NULL)
		return HM_ECONN;
	if (r->type != REDIS_REPLY_ARRAY) {
		set_err(f, "redis: HGETALL %s: %s", key,
			r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		goto out;
	}
	if (r->elements == 0) {
		set_err(f, "no fleet in redis under prefix %s (run hmacctl --fleet ... init)",
			f->prefix);
		rc = HM_ENOTFOUND;
		goto out;
	}
	for (size_t i = 0; i + 1 < r->elements; i += 2) {
		const redisReply *k = r->element[i], *v = r->element[i + 1];

		if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
			continue;
		if (strcmp(k->str, "fleet_id") == 0 && hex32(v->str, v->len)) {
			memcpy(m->fleet_id, v->str, v->len + 1);
			have |= 1;
		} else if (strcmp(k->str, "seal_key_id") == 0 && hex32(v->str, v->len)) {
			memcpy(m->seal_key_id, v->str, v->len + 1);
			have |= 2;
		} else if (strcmp(k->str, "format") == 0) {
			m->format = (unsigned)strtoul(v->str, NULL, 10);
			have |= 4;
		} else if (strcmp(k->str, "created") == 0) {
			m->created = strtoll(v->str, NULL, 10);
		}
	}
	if (have != 7) {
		set_err(f, "the fleet's meta in redis (%s) lacks fields", key);
		goto out;
	}
	memcpy(f->fleet_id, m->fleet_id, sizeof(f->fleet_id));
	if (m->format != HM_FLEET_FORMAT) {
		set_err(f, "the fleet's format is %u, this build knows %u", m->format,
			HM_FLEET_FORMAT);
		goto out;
	}
	rc = HM_OK;
out:
	freeReplyObject(r);
	return rc;
}

int hm_fleet_meta_create(struct hm_fleet *f, const char *fleet_id, struct hm_fleet_meta *m)
{
	static const char hex[] = "0123456789abcdef";
	char key[HM_FLEET_PREFIX_MAX + 16], id[HM_SEAL_ID_HEX], sid[HM_SEAL_ID_HEX], created[24];
	uint8_t rnd[16];
	redisReply *r;
	int rc;

	if (fleet_id != NULL) {
		if (!hex32(fleet_id, strlen(fleet_id))) {
			set_err(f, "bad fleet id");
			return HM_EINVAL;
		}
		memcpy(id, fleet_id, sizeof(id));
	} else {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
			set_err(f, "RAND_bytes failed");
			return HM_ECRYPTO;
		}
		for (size_t i = 0; i < sizeof(rnd); i++) {
			id[2 * i] = hex[rnd[i] >> 4];
			id[2 * i + 1] = hex[rnd[i] & 15];
		}
		id[sizeof(id) - 1] = '\0';
	}
	hm_seal_id_hex(f->seal, sid);
	(void)snprintf(created, sizeof(created), "%lld", (long long)time(NULL));
	(void)hm_fleet_key(f, "meta", key, sizeof(key));
	/* one script: two hmacctl init at once create one fleet, and the other is told */
	r = hm_fleet_cmdf(f, "EVAL %s 1 %s %s %s %s %s",
			  "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end "
			  "redis.call('HSET', KEYS[1], 'fleet_id', ARGV[1], 'seal_key_id', ARGV[2], "
			  "'format', ARGV[3], 'created', ARGV[4]) return 1",
			  key, id, sid, "1", created);
	if (r == NULL)
		return HM_ECONN;
	if (r->type != REDIS_REPLY_INTEGER) {
		set_err(f, "redis: creating %s: %s", key,
			r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		freeReplyObject(r);
		return HM_EPROTO;
	}
	rc = r->integer == 1 ? HM_OK : HM_EEXIST;
	freeReplyObject(r);
	if (rc == HM_EEXIST)
		return hm_fleet_meta_get(f, m) == HM_OK ? HM_EEXIST : HM_EPROTO;
	return hm_fleet_meta_get(f, m);
}

int hm_fleet_meta_check(struct hm_fleet *f, struct hm_fleet_meta *m)
{
	char sid[HM_SEAL_ID_HEX];
	int rc;

	rc = hm_fleet_meta_get(f, m);
	if (rc != HM_OK)
		return rc;
	hm_seal_id_hex(f->seal, sid);
	if (strcmp(sid, m->seal_key_id) != 0) {
		set_err(f, "fleet %s is sealed with seal key %s, this seal key is %s", m->fleet_id,
			m->seal_key_id, sid);
		return HM_ESTATE;
	}
	return HM_OK;
}

/* ---- records ---- */

/* MGETs the names of one SCAN page and hands what opens to fn. */
static int scan_page(struct hm_fleet *f, const redisReply *keys, struct hm_ks_mirror_rec *recs,
		     size_t batch, int (*fn)(struct hm_ks_mirror_rec *, size_t, void *), void *arg,
		     size_t *refused)
{
	size_t plen = strlen(f->prefix) + 2, done = 0;
	const char **argv = NULL;
	size_t *lens = NULL;
	redisReply *r = NULL;
	int rc = HM_OK;

	argv = calloc(batch + 1, sizeof(*argv));
	lens = calloc(batch + 1, sizeof(*lens));
	if (argv == NULL || lens == NULL) {
		rc = HM_ENOMEM;
		goto out;
	}
	while (done < keys->elements) {
		size_t n = keys->elements - done < batch ? keys->elements - done : batch, got = 0;

		argv[0] = "MGET";
		lens[0] = 4;
		for (size_t i = 0; i < n; i++) {
			argv[1 + i] = keys->element[done + i]->str;
			lens[1 + i] = keys->element[done + i]->len;
		}
		r = hm_fleet_cmdv(f, (int)n + 1, argv, lens);
		if (r == NULL) {
			rc = HM_ECONN;
			goto out;
		}
		if (r->type != REDIS_REPLY_ARRAY || r->elements != n) {
			set_err(f, "redis: MGET: unexpected reply");
			rc = HM_EPROTO;
			goto out;
		}
		for (size_t i = 0; i < n; i++) {
			const redisReply *k = keys->element[done + i], *v = r->element[i];

			if (v->type != REDIS_REPLY_STRING)
				continue; /* gone since the scan */
			rc = k->len > plen ? hm_frec_open(f->seal, f->prefix, f->fleet_id, k->str + plen,
							  (const uint8_t *)v->str, v->len,
							  &recs[got])
					   : HM_EMALFORMED;
			if (rc == HM_OK)
				got++;
			else if (rc == HM_EMALFORMED && refused != NULL)
				(*refused)++;
			else if (rc != HM_EMALFORMED)
				goto out;
		}
		freeReplyObject(r);
		r = NULL;
		rc = got > 0 ? fn(recs, got, arg) : HM_OK;
		OPENSSL_cleanse(recs, got * sizeof(*recs));
		if (rc != HM_OK)
			goto out;
		done += n;
	}
out:
	if (r != NULL)
		freeReplyObject(r);
	free(argv);
	free(lens);
	return rc;
}

int hm_fleet_scan(struct hm_fleet *f, size_t batch,
		  int (*fn)(struct hm_ks_mirror_rec *recs, size_t n, void *arg), void *arg,
		  size_t *refused)
{
	char pattern[HM_FLEET_PREFIX_MAX + 8], cursor[32] = "0";
	struct hm_ks_mirror_rec *recs;
	redisReply *r = NULL;
	int rc = HM_OK;

	if (batch == 0)
		batch = 1;
	recs = calloc(batch, sizeof(*recs));
	if (recs == NULL)
		return HM_ENOMEM;
	(void)hm_fleet_key(f, "r:*", pattern, sizeof(pattern));
	do {
		r = hm_fleet_cmdf(f, "SCAN %s MATCH %s COUNT " SCAN_COUNT, cursor, pattern);
		if (r == NULL) {
			rc = HM_ECONN;
			break;
		}
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING ||
		    r->element[0]->len >= sizeof(cursor) ||
		    r->element[1]->type != REDIS_REPLY_ARRAY) {
			set_err(f, "redis: SCAN: unexpected reply");
			rc = HM_EPROTO;
			break;
		}
		memcpy(cursor, r->element[0]->str, r->element[0]->len + 1);
		rc = scan_page(f, r->element[1], recs, batch, fn, arg, refused);
		freeReplyObject(r);
		r = NULL;
	} while (rc == HM_OK && strcmp(cursor, "0") != 0);
	if (r != NULL)
		freeReplyObject(r);
	OPENSSL_cleanse(recs, batch * sizeof(*recs));
	free(recs);
	return rc;
}
