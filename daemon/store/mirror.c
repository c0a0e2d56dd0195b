/*
 * mirror.c - the store as a fleet's mirror (see keystore.h, "the fleet mirror").
 *
 * What a mirror adds to the store: three entries of "meta" (which fleet, which seal key, up to
 * which change), and a database "fleet" holding, under each record's 32-byte name, the u64
 * (little-endian) version the store has applied. Versions only move forward: a record no newer
 * than what is held is not applied, which is what refuses a rolled-back record and makes a
 * full resync idempotent.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "store/internal.h"

#define KS_DB_FLEET "fleet"
#define META_FLEET_ID "fleet.id"
#define META_SEAL_ID "fleet.seal"
#define META_POS "fleet.pos"

static MDB_val meta_key(const char *k)
{
	return (MDB_val){.mv_size = strlen(k), .mv_data = (void *)k};
}

/* A text entry of "meta" into out[0..cap) ("" when absent). */
static int meta_text(struct hm_keystore *ks, MDB_txn *txn, MDB_dbi meta, const char *key,
		     char *out, size_t cap)
{
	MDB_val k = meta_key(key), v;
	int mrc;

	out[0] = '\0';
	mrc = mdb_get(txn, meta, &k, &v);
	if (mrc == MDB_NOTFOUND)
		return HM_OK;
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_get(meta)", mrc);
	if (v.mv_size >= cap || memchr(v.mv_data, '\0', v.mv_size) != NULL)
		return ks_corrupt(ks, "fleet entry of meta", v.mv_size);
	memcpy(out, v.mv_data, v.mv_size);
	out[v.mv_size] = '\0';
	return HM_OK;
}

static int mirror_read(struct hm_keystore *ks, MDB_txn *txn, struct hm_ks_mirror *m)
{
	MDB_dbi meta = ks->meta;
	int rc;

	memset(m, 0, sizeof(*m));
	rc = meta_text(ks, txn, meta, META_FLEET_ID, m->fleet_id, sizeof(m->fleet_id));
	if (rc == HM_OK)
		rc = meta_text(ks, txn, meta, META_SEAL_ID, m->seal_key_id, sizeof(m->seal_key_id));
	if (rc == HM_OK)
		rc = meta_text(ks, txn, meta, META_POS, m->pos, sizeof(m->pos));
	return rc;
}

static uint64_t get_le64u(const uint8_t *p)
{
	return (uint64_t)ks_get_le32(p) | (uint64_t)ks_get_le32(p + 4) << 32;
}

/* The newest version in "fleet" (0 when the store mirrors nothing yet). */
static int max_version(struct hm_keystore *ks, MDB_txn *txn, uint64_t *max)
{
	MDB_cursor *cur = NULL;
	MDB_dbi fleet;
	MDB_val k, v;
	int mrc;

	*max = 0;
	mrc = mdb_dbi_open(txn, KS_DB_FLEET, 0, &fleet);
	if (mrc == MDB_NOTFOUND)
		return HM_OK;
	if (mrc == 0)
		mrc = mdb_cursor_open(txn, fleet, &cur);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_cursor_open(fleet)", mrc);
	/* MDB_NEXT on a cursor not yet positioned starts at the first record */
	while ((mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
		if (v.mv_size == 8 && get_le64u(v.mv_data) > *max)
			*max = get_le64u(v.mv_data);
	}
	mdb_cursor_close(cur);
	return mrc == MDB_NOTFOUND ? HM_OK : ks_mdb_fail(ks, "mdb_cursor_get(fleet)", mrc);
}

int hm_ks_mirror_get(struct hm_keystore *ks, struct hm_ks_mirror *m)
{
	MDB_txn *txn = NULL;
	int rc;

	ks->err[0] = '\0';
	rc = ks_read_begin(ks, &txn);
	if (rc != HM_OK)
		return rc;
	rc = mirror_read(ks, txn, m);
	if (rc == HM_OK)
		rc = max_version(ks, txn, &m->max_version);
	mdb_txn_abort(txn);
	return rc;
}

int ks_refuse_mirror(struct hm_keystore *ks, MDB_txn *txn)
{
	struct hm_ks_mirror m;
	int rc;

	rc = mirror_read(ks, txn, &m);
	if (rc != HM_OK)
		return rc;
	if (m.fleet_id[0] == '\0')
		return HM_OK;
	ks_set_msg(ks->err, sizeof(ks->err),
		   "this store mirrors fleet %s: change keys and policies with hmacctl --fleet",
		   m.fleet_id);
	return HM_ESTATE;
}

/* ---- applying records ---- */

struct apply_args {
	const struct hm_ks_mirror *m;
	const struct hm_ks_mirror_rec *recs;
	size_t n;
	struct hm_ks_mirror_result res;
};

static bool mirror_text_ok(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') || s[i] == '-'))
			return false;
	return true;
}

/* Whether rec is something a store can hold: names, epoch, state, secret, key id, policy. */
static bool rec_ok(const struct hm_ks_mirror_rec *r)
{
	size_t tl = strnlen(r->tenant, sizeof(r->tenant));
	size_t cl = strnlen(r->container, sizeof(r->container));

	if (!ks_scope_name_ok(r->tenant, tl) || (cl > 0 && !ks_scope_name_ok(r->container, cl)))
		return false;
	if (r->kind == HM_KS_MIRROR_POLICY)
		return true;
	if (r->kind != HM_KS_MIRROR_EPOCH || cl == 0 || r->epoch == 0)
		return false;
	if (r->state != HM_KEY_CURRENT && r->state != HM_KEY_SUPERSEDED &&
	    r->state != HM_KEY_REVOKED)
		return false;
	if ((r->state == HM_KEY_REVOKED) != (r->secret_len == 0))
		return false;
	if (r->secret_len != 0 && (r->secret_len < HM_KEY_MIN || r->secret_len > HM_KEY_MAX))
		return false;
	return ks_keyid_ok(r->keyid, strnlen(r->keyid, sizeof(r->keyid)));
}

/* The epoch record and its key id, as an hmacctl write would have left them. */
static int put_epoch(struct hm_keystore *ks, MDB_txn *txn, const struct hm_ks_mirror_rec *r,
		     bool *invalid)
{
	uint8_t key[KS_KEY_MAX], rec[KS_REC_MAX];
	struct ks_meta meta = {
		.state = r->state,
		.created = r->created,
		.deadline = r->deadline,
		.secret_len = r->secret_len,
		.keyid = (const uint8_t *)r->keyid,
		.keyid_len = strlen(r->keyid),
	};
	MDB_val k, v, idk, idv;
	size_t klen;
	int mrc;

	klen = ks_key_prefix(key, (const uint8_t *)r->tenant, strlen(r->tenant),
			     (const uint8_t *)r->container, strlen(r->container));
	ks_put_be32(key + klen, r->epoch);
	klen += 4;
	/* a key id names one epoch forever: taken by another one, the record cannot be held */
	idk = (MDB_val){.mv_size = meta.keyid_len, .mv_data = (void *)r->keyid};
	mrc = mdb_get(txn, ks->keyids, &idk, &idv);
	if (mrc == 0 && (idv.mv_size != klen || memcmp(idv.mv_data, key, klen) != 0)) {
		*invalid = true;
		return HM_OK;
	}
	if (mrc != 0 && mrc != MDB_NOTFOUND)
		return ks_mdb_fail(ks, "mdb_get(keyids)", mrc);
	k = (MDB_val){.mv_size = klen, .mv_data = key};
	v = (MDB_val){.mv_size = ks_rec_encode(rec, &meta, r->secret), .mv_data = rec};
	mrc = mdb_put(txn, ks->keys, &k, &v, 0);
	OPENSSL_cleanse(rec, sizeof(rec));
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_put(keys)", mrc);
	idv = (MDB_val){.mv_size = klen, .mv_data = key};
	mrc = mdb_put(txn, ks->keyids, &idk, &idv, 0);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_put(keyids)", mrc);
	return HM_OK;
}

static int put_policy(struct hm_keystore *ks, MDB_txn *txn, const struct hm_ks_mirror_rec *r,
		      bool *invalid)
{
	uint8_t key[KS_KEY_MAX], enc[HM_POLICY_ENC_MAX];
	MDB_val k, v;
	size_t len = 0;
	int mrc;

	k = (MDB_val){.mv_data = key,
		      .mv_size = ks_key_prefix(key, (const uint8_t *)r->tenant, strlen(r->tenant),
					       (const uint8_t *)r->container,
					       strlen(r->container))};
	if (!r->present) {
		mrc = mdb_del(txn, ks->policies, &k, NULL);
		if (mrc != 0 && mrc != MDB_NOTFOUND)
			return ks_mdb_fail(ks, "mdb_del(policies)", mrc);
		return HM_OK;
	}
	if (r->policy.ncomponents < 1 ||
	    hm_policy_encode(&r->policy, enc, sizeof(enc), &len) != HM_OK) {
		*invalid = true;
		return HM_OK;
	}
	v = (MDB_val){.mv_size = len, .mv_data = enc};
	mrc = mdb_put(txn, ks->policies, &k, &v, 0);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_put(policies)", mrc);
	return HM_OK;
}

/*
 * The audit record of a fleet record applied: the operator, the admin host, the operation and
 * its time as the fleet record carries them (operator unknown for a record that does not: one
 * written by an older hmacctl), this host as the one that applied it (ks_audit_append), the
 * detail the record's version, its state or whether a policy was set, and the stream position
 * of the batch.
 */
static int audit_applied(struct hm_keystore *ks, MDB_txn *txn, const struct hm_ks_mirror_rec *r,
			 const char *pos)
{
	struct hm_audit_rec ar;

	if (r->kind == HM_KS_MIRROR_EPOCH) {
		ks_audit_scope(&ar, HM_AUDIT_FLEET_EPOCH, r->tenant, r->container);
		ar.epoch = r->epoch;
		snprintf(ar.keyid, sizeof(ar.keyid), "%s", r->keyid);
		snprintf(ar.detail, sizeof(ar.detail), "state=%s version=%llu pos=%s",
			 hm_key_state_name(r->state), (unsigned long long)r->version,
			 pos[0] != '\0' ? pos : "resync");
	} else {
		ks_audit_scope(&ar, HM_AUDIT_FLEET_POLICY, r->tenant, r->container);
		snprintf(ar.detail, sizeof(ar.detail), "%s version=%llu pos=%s",
			 r->present ? "set" : "unset", (unsigned long long)r->version,
			 pos[0] != '\0' ? pos : "resync");
	}
	if (r->origin.known) {
		ks_audit_actor(&ar.actor, &r->origin.actor);
		ar.fleet_op = r->origin.op;
		ar.fleet_time_ms = r->origin.time_ms;
	} else {
		ar.operator_unknown = true;
	}
	return ks_audit_append(ks, txn, &ar);
}

static int apply_one(struct hm_keystore *ks, MDB_txn *txn, MDB_dbi fleet,
		     const struct hm_ks_mirror_rec *r, const char *pos,
		     struct hm_ks_mirror_result *res)
{
	MDB_val k = {.mv_size = HM_KS_MIRROR_NAME_LEN, .mv_data = (void *)r->name}, v;
	uint8_t ver[8];
	uint64_t held = 0;
	bool invalid = false;
	int rc, mrc;

	if (!rec_ok(r) || r->version == 0) {
		res->invalid++;
		return HM_OK;
	}
	mrc = mdb_get(txn, fleet, &k, &v);
	if (mrc == 0 && v.mv_size == sizeof(ver))
		held = get_le64u(v.mv_data);
	else if (mrc == 0)
		return ks_corrupt(ks, "version in fleet", v.mv_size);
	else if (mrc != MDB_NOTFOUND)
		return ks_mdb_fail(ks, "mdb_get(fleet)", mrc);
	if (r->version == held) {
		res->same++;
		return HM_OK;
	}
	if (r->version < held) {
		res->older++;
		return HM_OK;
	}
	rc = r->kind == HM_KS_MIRROR_EPOCH ? put_epoch(ks, txn, r, &invalid)
					   : put_policy(ks, txn, r, &invalid);
	if (rc != HM_OK)
		return rc;
	if (invalid) {
		res->invalid++;
		return HM_OK;
	}
	ks_put_le32(ver, (uint32_t)r->version);
	ks_put_le32(ver + 4, (uint32_t)(r->version >> 32));
	v = (MDB_val){.mv_size = sizeof(ver), .mv_data = ver};
	mrc = mdb_put(txn, fleet, &k, &v, 0);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_put(fleet)", mrc);
	rc = audit_applied(ks, txn, r, pos);
	if (rc != HM_OK)
		return rc;
	res->applied++;
	return HM_OK;
}

static int put_meta(struct hm_keystore *ks, MDB_txn *txn, MDB_dbi meta, const char *key,
		    const char *val)
{
	MDB_val k = meta_key(key), v = {.mv_size = strlen(val), .mv_data = (void *)val};
	int mrc;

	mrc = mdb_put(txn, meta, &k, &v, 0);
	return mrc == 0 ? HM_OK : ks_mdb_fail(ks, "mdb_put(meta)", mrc);
}

/* Entries of a database (a store with keys or policies of its own cannot start mirroring). */
static int entries(struct hm_keystore *ks, MDB_txn *txn, MDB_dbi dbi, size_t *n)
{
	MDB_stat st;
	int mrc;

	mrc = mdb_stat(txn, dbi, &st);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_stat", mrc);
	*n = st.ms_entries;
	return HM_OK;
}

static int body_apply(struct hm_keystore *ks, MDB_txn *txn, struct ks_op *op)
{
	struct apply_args *a = op->arg;
	struct hm_ks_mirror held;
	MDB_dbi meta, fleet;
	size_t nkeys = 0, npol = 0;
	int rc, mrc;

	memset(&a->res, 0, sizeof(a->res));
	rc = mirror_read(ks, txn, &held);
	if (rc != HM_OK)
		return rc;
	if (held.fleet_id[0] == '\0') {
		rc = entries(ks, txn, ks->keys, &nkeys);
		if (rc == HM_OK)
			rc = entries(ks, txn, ks->policies, &npol);
		if (rc != HM_OK)
			return rc;
		if (nkeys + npol > 0) {
			ks_set_msg(ks->err, sizeof(ks->err),
				   "the store holds keys or policies of its own: move them into the "
				   "fleet with hmacctl --fleet ... import-store, and mirror the fleet "
				   "in an empty store");
			return HM_ESTATE;
		}
	}
	mrc = mdb_dbi_open(txn, KS_DB_FLEET, MDB_CREATE, &fleet);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_dbi_open(fleet)", mrc);
	for (size_t i = 0; i < a->n; i++) {
		rc = apply_one(ks, txn, fleet, &a->recs[i], a->m->pos, &a->res);
		if (rc != HM_OK)
			return rc;
	}
	meta = ks->meta;
	rc = put_meta(ks, txn, meta, META_FLEET_ID, a->m->fleet_id);
	if (rc == HM_OK)
		rc = put_meta(ks, txn, meta, META_SEAL_ID, a->m->seal_key_id);
	if (rc == HM_OK && a->m->pos[0] != '\0')
		rc = put_meta(ks, txn, meta, META_POS, a->m->pos);
	return rc;
}

int hm_ks_mirror_apply(struct hm_keystore *ks, const struct hm_ks_mirror *m,
		       const struct hm_ks_mirror_rec *recs, size_t n,
		       struct hm_ks_mirror_result *res)
{
	struct apply_args a = {.m = m, .recs = recs, .n = n};
	struct ks_op op = {.arg = &a, .mirror = true};
	int rc;

	ks->err[0] = '\0';
	memset(res, 0, sizeof(*res));
	if (!mirror_text_ok(m->fleet_id, HM_KS_FLEET_ID_MAX) || m->fleet_id[0] == '\0' ||
	    !mirror_text_ok(m->seal_key_id, HM_KS_FLEET_ID_MAX) ||
	    !mirror_text_ok(m->pos, HM_KS_FLEET_POS_MAX)) {
		ks_set_msg(ks->err, sizeof(ks->err), "bad fleet id, seal key id or position");
		return HM_EINVAL;
	}
	rc = ks_write(ks, body_apply, &op);
	if (rc == HM_OK)
		*res = a.res;
	return rc;
}

/* ---- export ---- */

struct export_args {
	int (*fn)(const struct hm_ks_mirror_rec *rec, void *arg);
	void *arg;
	struct hm_ks_mirror_rec rec;
};

static int export_epoch(struct hm_keystore *ks, MDB_cursor *cur, MDB_val *k, MDB_val *v,
			void *arg)
{
	struct export_args *a = arg;
	struct hm_ks_mirror_rec *r = &a->rec;
	const uint8_t *p = k->mv_data;
	struct ks_meta m;
	const char *why;
	size_t tl = 0, cl = 0;
	int rc;

	(void)cur;
	why = ks_scope_split(p, k->mv_size, 4, false, &tl, &cl);
	if (why != NULL)
		return ks_corrupt(ks, why, k->mv_size);
	rc = ks_rec_check(v->mv_data, v->mv_size, &m, ks->err, sizeof(ks->err));
	if (rc != HM_OK)
		return rc;
	memset(r, 0, sizeof(*r));
	r->kind = HM_KS_MIRROR_EPOCH;
	memcpy(r->tenant, p + 1, tl);
	memcpy(r->container, p + 2 + tl, cl);
	r->epoch = ks_get_be32(p + 2 + tl + cl);
	r->state = (enum hm_key_state)m.state;
	r->created = m.created;
	r->deadline = m.deadline;
	memcpy(r->keyid, m.keyid, m.keyid_len);
	r->secret_len = m.secret_len;
	memcpy(r->secret, (const uint8_t *)v->mv_data + KS_REC_OFF_SECRET, m.secret_len);
	rc = a->fn(r, a->arg);
	OPENSSL_cleanse(r, sizeof(*r));
	return rc;
}

static int export_policy(struct hm_keystore *ks, MDB_cursor *cur, MDB_val *k, MDB_val *v,
			 void *arg)
{
	struct export_args *a = arg;
	struct hm_ks_mirror_rec *r = &a->rec;
	const uint8_t *p = k->mv_data;
	const char *why;
	size_t tl = 0, cl = 0;

	(void)cur;
	why = ks_scope_split(p, k->mv_size, 0, true, &tl, &cl);
	if (why != NULL)
		return ks_corrupt(ks, why, k->mv_size);
	memset(r, 0, sizeof(*r));
	r->kind = HM_KS_MIRROR_POLICY;
	memcpy(r->tenant, p + 1, tl);
	memcpy(r->container, p + 2 + tl, cl);
	r->present = true;
	if (hm_policy_decode(v->mv_data, v->mv_size, &r->policy) != HM_OK)
		return ks_corrupt(ks, "policy record", v->mv_size);
	return a->fn(r, a->arg);
}

int hm_ks_export(struct hm_keystore *ks, int (*fn)(const struct hm_ks_mirror_rec *rec, void *arg),
		 void *arg)
{
	struct export_args a = {.fn = fn, .arg = arg};
	MDB_txn *txn = NULL;
	int rc;

	ks->err[0] = '\0';
	rc = ks_read_begin(ks, &txn);
	if (rc != HM_OK)
		return rc;
	rc = ks_walk(ks, txn, ks->keys, NULL, 0, export_epoch, &a);
	if (rc == HM_OK)
		rc = ks_walk(ks, txn, ks->policies, NULL, 0, export_policy, &a);
	mdb_txn_abort(txn);
	OPENSSL_cleanse(&a.rec, sizeof(a.rec));
	return rc;
}
