/*
 * auditlog.c - the store's audit trail (keystore.h, "the audit trail"; record bytes in audit.h):
 * who the operator is, the append every write transaction body makes, the listing and pruning.
 *
 * ks_audit_append() is called by the body of the change itself, so the record is written by the
 * same LMDB transaction as the change: both commit or neither does.
 */
#include "store/audit.h"
#include "store/internal.h"
#include "store/keystore.h"
#include "store/record.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>

#define PW_BUF 4096

/* src into dst[0..cap), bytes outside printable ASCII as '?', truncated to fit. */
static void clean_copy(char *dst, size_t cap, const char *src)
{
	size_t i;

	for (i = 0; src != NULL && src[i] != '\0' && i + 1 < cap; i++) {
		unsigned char ch = (unsigned char)src[i];

		dst[i] = ch >= 0x20 && ch <= 0x7e ? (char)ch : '?';
	}
	dst[i] = '\0';
}

void hm_ks_actor_self(struct hm_ks_actor *a)
{
	char buf[PW_BUF], host[HM_AUDIT_HOST_MAX + 2];
	struct passwd pw, *res = NULL;
	const char *s;
	char *end = NULL;
	unsigned long v;

	memset(a, 0, sizeof(*a));
	a->uid = (uint32_t)getuid();
	if (getpwuid_r(getuid(), &pw, buf, sizeof(buf), &res) == 0 && res != NULL)
		clean_copy(a->user, sizeof(a->user), res->pw_name);
	/* SUDO_USER / SUDO_UID: what sudo says about who ran it; recorded as a claim */
	s = getenv("SUDO_USER");
	if (s != NULL)
		clean_copy(a->sudo_user, sizeof(a->sudo_user), s);
	s = getenv("SUDO_UID");
	if (s != NULL && s[0] >= '0' && s[0] <= '9') {
		errno = 0;
		v = strtoul(s, &end, 10);
		if (errno == 0 && *end == '\0' && v <= UINT32_MAX) {
			a->has_sudo_uid = true;
			a->sudo_uid = (uint32_t)v;
		}
	}
	if (gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		clean_copy(a->host, sizeof(a->host), host);
	}
}

void ks_audit_actor(struct hm_ks_actor *dst, const struct hm_ks_actor *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->uid = src->uid;
	dst->has_sudo_uid = src->has_sudo_uid;
	dst->sudo_uid = src->has_sudo_uid ? src->sudo_uid : 0;
	clean_copy(dst->user, sizeof(dst->user), src->user);
	clean_copy(dst->sudo_user, sizeof(dst->sudo_user), src->sudo_user);
	clean_copy(dst->host, sizeof(dst->host), src->host);
}

void hm_ks_set_actor(struct hm_keystore *ks, const struct hm_ks_actor *a)
{
	ks->actor = *a;
}

int hm_ks_audit_last(const struct hm_keystore *ks, struct hm_audit_rec *out)
{
	if (!ks->audit_last_set)
		return HM_ENOTFOUND;
	*out = ks->audit_last;
	return HM_OK;
}

/* The wall clock in unix milliseconds. HM_OK, or HM_ESTORE (the change is not made). */
static int now_ms(struct hm_keystore *ks, int64_t *ms)
{
	struct timespec ts = { 0, 0 };

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || ts.tv_sec < 0) {
		ks_set_msg(ks->err, sizeof(ks->err), "clock_gettime: %s",
			   ts.tv_sec < 0 ? "before 1970" : strerror(errno));
		return HM_ESTORE;
	}
	*ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	return HM_OK;
}

int ks_audit_dbi(struct hm_keystore *ks, MDB_txn *txn, bool create, MDB_dbi *dbi)
{
	int mrc;

	mrc = mdb_dbi_open(txn, KS_DB_AUDIT, create ? MDB_CREATE : 0, dbi);
	if (mrc == MDB_NOTFOUND && !create)
		return HM_ENOTFOUND;
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_dbi_open(audit)", mrc);
	return HM_OK;
}

/* The sequence number the next record gets: the last one + 1, 1 for the first. */
static int next_seq(struct hm_keystore *ks, MDB_txn *txn, MDB_dbi dbi, uint64_t *seq)
{
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int mrc;

	*seq = 1;
	mrc = mdb_cursor_open(txn, dbi, &cur);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_cursor_open(audit)", mrc);
	mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	mdb_cursor_close(cur);
	if (mrc == MDB_NOTFOUND)
		return HM_OK;
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_cursor_get(audit)", mrc);
	if (k.mv_size != 8)
		return ks_corrupt(ks, "audit key", k.mv_size);
	*seq = ks_get_be64(k.mv_data) + 1;
	if (*seq == 0)
		return ks_corrupt(ks, "audit sequence exhausted", k.mv_size);
	return HM_OK;
}

int ks_audit_put(struct hm_keystore *ks, MDB_txn *txn, MDB_dbi dbi, struct hm_audit_rec *r)
{
	uint8_t key[8], val[HM_AUDIT_MAX];
	MDB_val k = { .mv_size = sizeof(key), .mv_data = key }, v = { .mv_data = val };
	int mrc;

	v.mv_size = hm_audit_encode(r, val);
	if (v.mv_size == 0) {
		ks_set_msg(ks->err, sizeof(ks->err), "audit record out of range");
		return HM_EINVAL;
	}
	ks_put_be64(key, r->seq);
	mrc = mdb_put(txn, dbi, &k, &v, MDB_NOOVERWRITE);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_put(audit)", mrc);
	return HM_OK;
}

int ks_audit_append(struct hm_keystore *ks, MDB_txn *txn, struct hm_audit_rec *r)
{
	MDB_dbi dbi;
	int rc;

	rc = ks_audit_dbi(ks, txn, true, &dbi);
	if (rc != HM_OK)
		return rc;
	rc = next_seq(ks, txn, dbi, &r->seq);
	if (rc != HM_OK)
		return rc;
	rc = now_ms(ks, &r->time_ms);
	if (rc != HM_OK)
		return rc;
	if (r->op == HM_AUDIT_FLEET_EPOCH || r->op == HM_AUDIT_FLEET_POLICY)
		/* the operator is the fleet record's (or unknown); this host applied it */
		clean_copy(r->applied_host, sizeof(r->applied_host), ks->actor.host);
	else
		r->actor = ks->actor;
	rc = ks_audit_put(ks, txn, dbi, r);
	if (rc != HM_OK)
		return rc;
	/* kept for hm_ks_audit_last() if the transaction commits (ks_write) */
	ks->audit_pending = *r;
	ks->audit_pending_set = true;
	return HM_OK;
}

void ks_audit_scope(struct hm_audit_rec *r, enum hm_audit_op op, const char *tenant,
		    const char *container)
{
	memset(r, 0, sizeof(*r));
	r->op = op;
	if (tenant != NULL)
		clean_copy(r->tenant, sizeof(r->tenant), tenant);
	if (container != NULL)
		clean_copy(r->container, sizeof(r->container), container);
}

/* ---- listing ---- */

struct list_args {
	const char *tenant;
	int64_t since_ms;
	int (*fn)(const struct hm_audit_rec *rec, void *arg);
	void *arg;
	struct hm_audit_rec rec;
};

static int list_row(struct hm_keystore *ks, MDB_cursor *cur, MDB_val *k, MDB_val *v, void *arg)
{
	struct list_args *a = arg;

	(void)cur;
	if (k->mv_size != 8)
		return ks_corrupt(ks, "audit key", k->mv_size);
	a->rec.seq = ks_get_be64(k->mv_data);
	if (hm_audit_decode(v->mv_data, v->mv_size, &a->rec) != HM_OK)
		return ks_corrupt(ks, "audit record", v->mv_size);
	if (a->rec.time_ms < a->since_ms)
		return 0;
	if (a->tenant != NULL && strcmp(a->rec.tenant, a->tenant) != 0)
		return 0;
	return a->fn(&a->rec, a->arg);
}

int hm_ks_audit_list(struct hm_keystore *ks, const char *tenant, int64_t since_ms,
		     int (*fn)(const struct hm_audit_rec *rec, void *arg), void *arg)
{
	struct list_args *a = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	int rc;

	ks->err[0] = '\0';
	if (tenant != NULL && !ks_scope_name_ok(tenant, strnlen(tenant, KS_NAME_MAX + 1))) {
		ks_set_msg(ks->err, sizeof(ks->err), "bad tenant name");
		return HM_EINVAL;
	}
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return HM_ENOMEM;
	*a = (struct list_args){ .tenant = tenant, .since_ms = since_ms, .fn = fn, .arg = arg };
	rc = ks_read_begin(ks, &txn);
	if (rc != HM_OK)
		goto out;
	rc = ks_audit_dbi(ks, txn, false, &dbi);
	if (rc == HM_ENOTFOUND) {
		rc = HM_OK; /* a store from before the audit trail: no records */
		goto out;
	}
	if (rc != HM_OK)
		goto out;
	rc = ks_walk(ks, txn, dbi, NULL, 0, list_row, a);
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	free(a);
	return rc;
}

/* ---- pruning ---- */

struct prune_args {
	int64_t before_ms;
	uint64_t removed;
	struct hm_audit_rec rec;
};

static int prune_row(struct hm_keystore *ks, MDB_cursor *cur, MDB_val *k, MDB_val *v, void *arg)
{
	struct prune_args *a = arg;
	int mrc;

	(void)k;
	if (hm_audit_decode(v->mv_data, v->mv_size, &a->rec) != HM_OK)
		return ks_corrupt(ks, "audit record", v->mv_size);
	if (a->rec.time_ms >= a->before_ms)
		return 0;
	mrc = mdb_cursor_del(cur, 0);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_cursor_del(audit)", mrc);
	a->removed++;
	return 0;
}

static int body_prune(struct hm_keystore *ks, MDB_txn *txn, struct ks_op *op)
{
	struct prune_args *a = op->arg;
	struct hm_audit_rec r;
	MDB_dbi dbi;
	uint64_t seq = 1;
	int rc;

	a->removed = 0;
	rc = ks_audit_dbi(ks, txn, true, &dbi);
	if (rc != HM_OK)
		return rc;
	/* numbered from before the removal: the numbering never goes back */
	rc = next_seq(ks, txn, dbi, &seq);
	if (rc != HM_OK)
		return rc;
	/* after mdb_cursor_del, ks_walk's MDB_NEXT gives the record that followed */
	rc = ks_walk(ks, txn, dbi, NULL, 0, prune_row, a);
	if (rc != HM_OK)
		return rc;
	ks_audit_scope(&r, HM_AUDIT_PRUNE, NULL, NULL);
	snprintf(r.detail, sizeof(r.detail), "before_ms=%lld removed=%llu",
		 (long long)a->before_ms, (unsigned long long)a->removed);
	r.seq = seq;
	rc = now_ms(ks, &r.time_ms);
	if (rc != HM_OK)
		return rc;
	r.actor = ks->actor;
	rc = ks_audit_put(ks, txn, dbi, &r);
	if (rc != HM_OK)
		return rc;
	ks->audit_pending = r;
	ks->audit_pending_set = true;
	return HM_OK;
}

int hm_ks_audit_prune(struct hm_keystore *ks, int64_t before_ms, uint64_t *removed)
{
	struct prune_args *a;
	struct ks_op op = { .now = 0 };
	int rc;

	ks->err[0] = '\0';
	if (removed != NULL)
		*removed = 0;
	if (before_ms < 0) {
		ks_set_msg(ks->err, sizeof(ks->err), "negative time");
		return HM_EINVAL;
	}
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return HM_ENOMEM;
	a->before_ms = before_ms;
	op.arg = a;
	rc = ks_write(ks, body_prune, &op);
	if (rc == HM_OK && removed != NULL)
		*removed = a->removed;
	free(a);
	return rc;
}
