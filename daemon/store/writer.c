/*
 * writer.c - the admin side of the key store (keystore.h): new epochs (create, rotate, import),
 * revocation, coverage policies, and the listings. Each change is one write transaction body
 * run by ks_write() (env.c), which commits it whole or aborts it whole.
 */
#include "store/internal.h"
#include "store/keystore.h"
#include "store/record.h"

#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <lmdb.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#define KS_KEYID_TRIES 8 /* generated key ids: fresh random ones after a (2^-128) collision */

/* ---- walks ---- */

/* Splits a stored key into info->tenant, container, epoch. HM_OK or HM_ESTORE. */
static int key_decode(struct hm_keystore *ks, const MDB_val *k, struct hm_key_info *info)
{
	const uint8_t *p = k->mv_data;
	const char *why;
	size_t tl = 0, cl = 0;

	why = ks_scope_split(p, k->mv_size, 4, false, &tl, &cl);
	if (why != NULL)
		return ks_corrupt(ks, why, k->mv_size);
	memcpy(info->tenant, p + 1, tl);
	info->tenant[tl] = '\0';
	memcpy(info->container, p + 2 + tl, cl);
	info->container[cl] = '\0';
	info->epoch = ks_get_be32(p + 2 + tl + cl);
	return HM_OK;
}

int ks_walk(struct hm_keystore *ks, MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix,
	     size_t plen, ks_row_fn row, void *arg)
{
	MDB_cursor *cur = NULL;
	MDB_val k = { .mv_size = plen, .mv_data = (void *)prefix }, v;
	int rc, mrc;

	mrc = mdb_cursor_open(txn, dbi, &cur);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_cursor_open", mrc);
	for (mrc = mdb_cursor_get(cur, &k, &v, plen > 0 ? MDB_SET_RANGE : MDB_FIRST); mrc == 0;
	     mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (plen > 0 && (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0))
			break;
		rc = row(ks, cur, &k, &v, arg);
		if (rc != 0)
			goto out;
	}
	if (mrc != 0 && mrc != MDB_NOTFOUND) {
		rc = ks_mdb_fail(ks, "mdb_cursor_get", mrc);
		goto out;
	}
	rc = HM_OK;
out:
	mdb_cursor_close(cur);
	return rc;
}

/* ---- write transaction bodies ---- */

/*
 * Finds the highest epoch of the scope whose key prefix is op->prefix: seeks to the first key
 * >= prefix||0xffffffff and steps back one. HM_OK, HM_ENOTFOUND (no epoch), HM_ESTORE.
 */
static int ks_last_epoch(struct hm_keystore *ks, MDB_txn *txn, const struct ks_op *op,
			 uint32_t *last)
{
	uint8_t probe[KS_KEY_MAX];
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int rc, mrc;

	*last = 0;
	memcpy(probe, op->prefix, op->plen);
	ks_put_be32(probe + op->plen, UINT32_MAX);
	k.mv_data = probe;
	k.mv_size = op->plen + 4;
	mrc = mdb_cursor_open(txn, ks->keys, &cur);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_cursor_open", mrc);
	mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (mrc == 0 && k.mv_size == op->plen + 4 && memcmp(k.mv_data, probe, k.mv_size) == 0) {
		*last = UINT32_MAX;
		rc = HM_OK;
		goto out;
	}
	if (mrc == MDB_NOTFOUND)
		mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	else if (mrc == 0)
		mrc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
	if (mrc == MDB_NOTFOUND) {
		rc = HM_ENOTFOUND;
		goto out;
	}
	if (mrc != 0) {
		rc = ks_mdb_fail(ks, "mdb_cursor_get", mrc);
		goto out;
	}
	if (k.mv_size < op->plen || memcmp(k.mv_data, op->prefix, op->plen) != 0) {
		rc = HM_ENOTFOUND;
		goto out;
	}
	if (k.mv_size != op->plen + 4) {
		rc = ks_corrupt(ks, "key longer than its scope", k.mv_size);
		goto out;
	}
	*last = ks_get_be32((const uint8_t *)k.mv_data + op->plen);
	if (*last == 0) {
		rc = ks_corrupt(ks, "epoch 0 in key", k.mv_size);
		goto out;
	}
	rc = HM_OK;
out:
	mdb_cursor_close(cur);
	return rc;
}

/* RAND_bytes with the reason of a failure recorded on the handle. HM_OK or HM_ECRYPTO. */
static int ks_random(struct hm_keystore *ks, uint8_t *out, size_t n)
{
	const char *why = NULL;
	unsigned long e;

	if (n <= INT_MAX && RAND_bytes(out, (int)n) == 1)
		return HM_OK;
	e = ERR_get_error();
	if (e != 0)
		why = ERR_reason_error_string(e);
	ks_set_msg(ks->err, sizeof(ks->err), "RAND_bytes: %s", why != NULL ? why : "failed");
	return HM_ECRYPTO;
}

int ks_put_keyid(struct hm_keystore *ks, MDB_txn *txn, struct ks_op *op, const uint8_t *skey,
		 size_t sklen)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t rnd[16];
	MDB_val k, v = { .mv_size = sklen, .mv_data = (void *)skey };
	unsigned attempt;
	size_t i;
	int rc, mrc;

	for (attempt = 0; attempt < KS_KEYID_TRIES; attempt++) {
		if (op->want_keyid != NULL) {
			memcpy(op->keyid, op->want_keyid, op->want_keyid_len);
			op->keyid[op->want_keyid_len] = '\0';
		} else {
			/* A key id is public (it travels in every Signature-Input): plain hex. */
			rc = ks_random(ks, rnd, sizeof(rnd));
			if (rc != HM_OK)
				return rc;
			memcpy(op->keyid, "hk_", 3);
			for (i = 0; i < sizeof(rnd); i++) {
				op->keyid[3 + 2 * i] = hex[rnd[i] >> 4];
				op->keyid[4 + 2 * i] = hex[rnd[i] & 15];
			}
			op->keyid[HM_KEYID_GEN_LEN] = '\0';
		}
		k.mv_data = op->keyid;
		k.mv_size = strlen(op->keyid);
		mrc = mdb_put(txn, ks->keyids, &k, &v, MDB_NOOVERWRITE);
		if (mrc == 0)
			return HM_OK;
		if (mrc != MDB_KEYEXIST)
			return ks_mdb_fail(ks, "mdb_put(keyids)", mrc);
		if (op->want_keyid != NULL) {
			ks_set_msg(ks->err, sizeof(ks->err), "key id already in use");
			return HM_EEXIST;
		}
	}
	ks_set_msg(ks->err, sizeof(ks->err), "no unused key id after %d random tries",
		   KS_KEYID_TRIES);
	return HM_ECRYPTO;
}

/*
 * Stores epoch op->epoch of the scope as current, with op->import as its secret, or else a
 * fresh random one written to op->secret; indexes its key id.
 */
static int ks_put_new_epoch(struct hm_keystore *ks, MDB_txn *txn, struct ks_op *op)
{
	uint8_t key[KS_KEY_MAX], rec[KS_REC_MAX];
	struct ks_meta m = { .state = HM_KEY_CURRENT, .created = op->now, .deadline = 0 };
	MDB_val k = { .mv_size = op->plen + 4, .mv_data = key };
	MDB_val v = { .mv_data = rec };
	const uint8_t *secret;
	int rc, mrc;

	if (op->import != NULL) {
		secret = op->import;
		m.secret_len = op->import_len;
	} else {
		rc = ks_random(ks, op->secret, HM_KEY_LEN);
		if (rc != HM_OK)
			return rc;
		secret = op->secret;
		m.secret_len = HM_KEY_LEN;
	}
	memcpy(key, op->prefix, op->plen);
	ks_put_be32(key + op->plen, op->epoch);
	rc = ks_put_keyid(ks, txn, op, key, op->plen + 4);
	if (rc != HM_OK)
		return rc;
	m.keyid = (const uint8_t *)op->keyid;
	m.keyid_len = strlen(op->keyid);
	v.mv_size = ks_rec_encode(rec, &m, secret);
	mrc = mdb_put(txn, ks->keys, &k, &v, MDB_NOOVERWRITE);
	OPENSSL_cleanse(rec, sizeof(rec));
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_put", mrc);
	return HM_OK;
}

/*
 * The audit record of a change to the scope of op, in its transaction: op->epoch and op->keyid
 * (keyid NULL: op->keyid; "" for a policy); grace >= 0 is said in the detail.
 */
static int ks_audit_op(struct hm_keystore *ks, MDB_txn *txn, const struct ks_op *op,
		       enum hm_audit_op what, const char *keyid, int64_t grace)
{
	struct hm_audit_rec r;

	ks_audit_scope(&r, what, op->tenant, op->container);
	r.epoch = op->epoch;
	snprintf(r.keyid, sizeof(r.keyid), "%s", keyid != NULL ? keyid : op->keyid);
	if (grace >= 0)
		snprintf(r.detail, sizeof(r.detail), "grace=%" PRId64, grace);
	return ks_audit_append(ks, txn, &r);
}

static int ks_body_create(struct hm_keystore *ks, MDB_txn *txn, struct ks_op *op)
{
	uint32_t last = 0;
	int rc;

	rc = ks_refuse_mirror(ks, txn);
	if (rc != HM_OK)
		return rc;

	rc = ks_last_epoch(ks, txn, op, &last);
	if (rc == HM_OK) {
		ks_set_msg(ks->err, sizeof(ks->err), "scope already exists");
		return HM_EEXIST;
	}
	if (rc != HM_ENOTFOUND)
		return rc;
	op->epoch = 1;
	rc = ks_put_new_epoch(ks, txn, op);
	if (rc != HM_OK)
		return rc;
	return ks_audit_op(ks, txn, op, HM_AUDIT_CREATE, NULL, -1);
}

/* One record for ks_supersede(): a current epoch becomes superseded. */
static int ks_supersede_row(struct hm_keystore *ks, MDB_cursor *cur, MDB_val *k, MDB_val *v,
			    void *arg)
{
	const struct ks_op *op = arg;
	uint8_t rec[KS_REC_MAX];
	MDB_val nv = { .mv_size = v->mv_size, .mv_data = rec };
	struct ks_meta m;
	int rc, mrc;

	rc = ks_rec_check(v->mv_data, v->mv_size, &m, ks->err, sizeof(ks->err));
	if (rc != HM_OK || m.state != HM_KEY_CURRENT)
		return rc;
	/* Rewrite state and deadline only (same size); the other bytes are carried over. */
	memcpy(rec, v->mv_data, v->mv_size);
	ks_put_le32(rec + KS_REC_OFF_STATE, HM_KEY_SUPERSEDED);
	ks_put_le64(rec + KS_REC_OFF_DEADLINE, op->deadline);
	mrc = mdb_cursor_put(cur, k, &nv, MDB_CURRENT);
	OPENSSL_cleanse(rec, sizeof(rec));
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_cursor_put", mrc);
	return HM_OK;
}

/* Marks every current epoch of the scope superseded with deadline op->deadline. */
static int ks_supersede(struct hm_keystore *ks, MDB_txn *txn, struct ks_op *op)
{
	return ks_walk(ks, txn, ks->keys, op->prefix, op->plen, ks_supersede_row, op);
}

/* The next epoch of an existing scope: supersedes the current one, adds max+1. */
static int ks_next_epoch(struct hm_keystore *ks, MDB_txn *txn, struct ks_op *op, uint32_t last)
{
	int rc;

	if (last == UINT32_MAX) {
		ks_set_msg(ks->err, sizeof(ks->err), "epoch numbers of this scope are exhausted");
		return HM_ESTATE;
	}
	rc = ks_supersede(ks, txn, op);
	if (rc != HM_OK)
		return rc;
	op->epoch = last + 1;
	return ks_put_new_epoch(ks, txn, op);
}

static int ks_body_rotate(struct hm_keystore *ks, MDB_txn *txn, struct ks_op *op)
{
	uint32_t last = 0;
	int rc;

	rc = ks_refuse_mirror(ks, txn);
	if (rc != HM_OK)
		return rc;

	rc = ks_last_epoch(ks, txn, op, &last);
	if (rc != HM_OK)
		return rc;
	rc = ks_next_epoch(ks, txn, op, last);
	if (rc != HM_OK)
		return rc;
	return ks_audit_op(ks, txn, op, HM_AUDIT_ROTATE, NULL, op->deadline - op->now);
}

/* Import: epoch 1 of a new scope, or the next epoch of an existing one (like rotate). */
static int ks_body_import(struct hm_keystore *ks, MDB_txn *txn, struct ks_op *op)
{
	uint32_t last = 0;
	int rc;

	rc = ks_refuse_mirror(ks, txn);
	if (rc != HM_OK)
		return rc;

	rc = ks_last_epoch(ks, txn, op, &last);
	if (rc == HM_OK) {
		rc = ks_next_epoch(ks, txn, op, last);
		if (rc != HM_OK)
			return rc;
		return ks_audit_op(ks, txn, op, HM_AUDIT_IMPORT, NULL, op->deadline - op->now);
	}
	if (rc != HM_ENOTFOUND)
		return rc;
	op->epoch = 1;
	rc = ks_put_new_epoch(ks, txn, op);
	if (rc != HM_OK)
		return rc;
	return ks_audit_op(ks, txn, op, HM_AUDIT_IMPORT, NULL, -1);
}

static int ks_body_revoke(struct hm_keystore *ks, MDB_txn *txn, struct ks_op *op)
{
	uint8_t key[KS_KEY_MAX], rec[KS_REC_MAX], keyid[HM_KEYID_MAX + 1];
	MDB_val k = { .mv_size = op->plen + 4, .mv_data = key };
	MDB_val v, nv = { .mv_data = rec };
	struct ks_meta m;
	int rc, mrc;

	rc = ks_refuse_mirror(ks, txn);
	if (rc != HM_OK)
		return rc;

	memcpy(key, op->prefix, op->plen);
	ks_put_be32(key + op->plen, op->epoch);
	mrc = mdb_get(txn, ks->keys, &k, &v);
	if (mrc == MDB_NOTFOUND)
		return HM_ENOTFOUND;
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_get", mrc);
	rc = ks_rec_check(v.mv_data, v.mv_size, &m, ks->err, sizeof(ks->err));
	if (rc != HM_OK)
		return rc;
	if (m.state == HM_KEY_REVOKED)
		return HM_ESTATE;
	/*
	 * Re-encode without the secret: the stored bytes and length become zeros, no copy is
	 * made. The key id stays, and so does its index entry: an id is never given out twice.
	 */
	memcpy(keyid, m.keyid, m.keyid_len);
	m.keyid = keyid;
	m.state = HM_KEY_REVOKED;
	m.deadline = 0;
	m.secret_len = 0;
	nv.mv_size = ks_rec_encode(rec, &m, NULL);
	mrc = mdb_put(txn, ks->keys, &k, &nv, 0);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_put", mrc);
	keyid[m.keyid_len] = '\0';
	return ks_audit_op(ks, txn, op, HM_AUDIT_REVOKE, (const char *)keyid, -1);
}

/*
 * Validates the scope names and fills op->prefix. container NULL is allowed only if
 * tenant_only (a tenant's policy: the prefix then ends with a zero container length).
 * HM_OK or HM_EINVAL.
 */
static int ks_op_names(struct hm_keystore *ks, struct ks_op *op, const char *tenant,
		       const char *container, bool tenant_only)
{
	size_t tl, cl = 0;

	if (tenant == NULL || (container == NULL && !tenant_only)) {
		ks_set_msg(ks->err, sizeof(ks->err), "tenant and container are required");
		return HM_EINVAL;
	}
	tl = strnlen(tenant, KS_NAME_MAX + 1);
	if (container != NULL)
		cl = strnlen(container, KS_NAME_MAX + 1);
	if (!ks_scope_name_ok(tenant, tl) ||
	    (container != NULL && !ks_scope_name_ok(container, cl))) {
		ks_set_msg(ks->err, sizeof(ks->err),
			   "tenant and container must be 1..%d bytes of [A-Za-z0-9._:/-]",
			   KS_NAME_MAX);
		return HM_EINVAL;
	}
	op->tenant = tenant;
	op->container = container;
	op->plen = ks_key_prefix(op->prefix, (const uint8_t *)tenant, tl,
				 (const uint8_t *)(container != NULL ? container : ""), cl);
	return HM_OK;
}

static int ks_op_scope(struct hm_keystore *ks, struct ks_op *op, const char *tenant,
		       const char *container)
{
	return ks_op_names(ks, op, tenant, container, false);
}

/* Checks the requested key id (NULL: generate one) into op. HM_OK or HM_EINVAL. */
static int ks_op_keyid(struct hm_keystore *ks, struct ks_op *op, const char *keyid)
{
	size_t len;

	op->want_keyid = NULL;
	if (keyid == NULL)
		return HM_OK;
	len = strnlen(keyid, HM_KEYID_MAX + 1);
	if (!ks_keyid_ok(keyid, len)) {
		ks_set_msg(ks->err, sizeof(ks->err),
			   "key id must be 1..%d bytes of [A-Za-z0-9._:/+=@~-]", HM_KEYID_MAX);
		return HM_EINVAL;
	}
	op->want_keyid = keyid;
	op->want_keyid_len = len;
	return HM_OK;
}

/* ---- public API: admin ---- */

/*
 * Runs a new-epoch body (create, rotate, import) and reports the epoch and key id. *out is
 * written only at the end, so keyid may point into it (a caller reusing its result struct).
 */
static int ks_add(struct hm_keystore *ks, ks_body_fn body, struct ks_op *op, const char *tenant,
		  const char *container, const char *keyid, struct hm_ks_added *out)
{
	int rc;

	rc = ks_op_scope(ks, op, tenant, container);
	if (rc == HM_OK)
		rc = ks_op_keyid(ks, op, keyid);
	if (rc == HM_OK && op->now < 0) {
		ks_set_msg(ks->err, sizeof(ks->err), "negative time");
		rc = HM_EINVAL;
	}
	if (rc == HM_OK)
		rc = ks_write(ks, body, op);
	if (out == NULL)
		return rc;
	memset(out, 0, sizeof(*out));
	if (rc == HM_OK) {
		out->epoch = op->epoch;
		memcpy(out->keyid, op->keyid, sizeof(out->keyid));
	}
	return rc;
}

/* Sets op->deadline = now + grace for the epoch a new one supersedes. HM_OK or HM_EINVAL. */
static int ks_op_grace(struct hm_keystore *ks, struct ks_op *op, int64_t grace_seconds)
{
	if (op->now < 0 || grace_seconds < 0 || grace_seconds > INT64_MAX - op->now) {
		ks_set_msg(ks->err, sizeof(ks->err), "time or grace out of range");
		return HM_EINVAL;
	}
	op->deadline = op->now + grace_seconds;
	return HM_OK;
}

int hm_ks_create(struct hm_keystore *ks, const char *tenant, const char *container, int64_t now,
		 const char *keyid, uint8_t secret[static HM_KEY_LEN], struct hm_ks_added *out)
{
	struct ks_op op = { .now = now, .secret = secret };
	int rc;

	ks->err[0] = '\0';
	rc = ks_add(ks, ks_body_create, &op, tenant, container, keyid, out);
	if (rc != HM_OK)
		OPENSSL_cleanse(secret, HM_KEY_LEN);
	return rc;
}

int hm_ks_rotate(struct hm_keystore *ks, const char *tenant, const char *container, int64_t now,
		 int64_t grace_seconds, const char *keyid, uint8_t secret[static HM_KEY_LEN],
		 struct hm_ks_added *out)
{
	struct ks_op op = { .now = now, .secret = secret };
	int rc;

	ks->err[0] = '\0';
	rc = ks_op_grace(ks, &op, grace_seconds);
	if (rc == HM_OK)
		rc = ks_add(ks, ks_body_rotate, &op, tenant, container, keyid, out);
	else if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (rc != HM_OK)
		OPENSSL_cleanse(secret, HM_KEY_LEN);
	return rc;
}

int hm_ks_import(struct hm_keystore *ks, const char *tenant, const char *container, int64_t now,
		 int64_t grace_seconds, const char *keyid, const uint8_t *secret,
		 size_t secret_len, struct hm_ks_added *out)
{
	struct ks_op op = { .now = now, .import = secret, .import_len = secret_len };
	int rc;

	ks->err[0] = '\0';
	if (secret == NULL || secret_len < HM_KEY_MIN || secret_len > HM_KEY_MAX) {
		ks_set_msg(ks->err, sizeof(ks->err), "secret must be %d to %d bytes", HM_KEY_MIN,
			   HM_KEY_MAX);
		rc = HM_EINVAL;
	} else {
		rc = ks_op_grace(ks, &op, grace_seconds);
	}
	if (rc != HM_OK) {
		if (out != NULL)
			memset(out, 0, sizeof(*out));
		return rc;
	}
	return ks_add(ks, ks_body_import, &op, tenant, container, keyid, out);
}

int hm_ks_revoke(struct hm_keystore *ks, const char *tenant, const char *container,
		 uint32_t epoch)
{
	struct ks_op op = { .epoch = epoch };
	int rc;

	ks->err[0] = '\0';
	rc = ks_op_scope(ks, &op, tenant, container);
	if (rc != HM_OK)
		return rc;
	if (epoch == 0)
		return HM_ENOTFOUND; /* epochs start at 1 */
	return ks_write(ks, ks_body_revoke, &op);
}

/* ---- listings ---- */

/*
 * hm_ks_list and hm_ks_policy_list: checks tenant (NULL: every tenant), then walks its keys in
 * dbi in one read transaction. HM_OK, HM_EINVAL (bad tenant name), HM_ESTORE, or row's value.
 */
static int ks_list(struct hm_keystore *ks, MDB_dbi dbi, const char *tenant, ks_row_fn row,
		   void *arg)
{
	uint8_t prefix[1 + KS_NAME_MAX];
	MDB_txn *txn = NULL;
	size_t plen = 0, tl;
	int rc;

	ks->err[0] = '\0';
	if (tenant != NULL) {
		tl = strnlen(tenant, KS_NAME_MAX + 1);
		if (!ks_scope_name_ok(tenant, tl)) {
			ks_set_msg(ks->err, sizeof(ks->err), "bad tenant name");
			return HM_EINVAL;
		}
		prefix[0] = (uint8_t)tl;
		memcpy(prefix + 1, tenant, tl);
		plen = 1 + tl;
	}
	rc = ks_read_begin(ks, &txn);
	if (rc != HM_OK)
		return rc;
	rc = ks_walk(ks, txn, dbi, prefix, plen, row, arg);
	mdb_txn_abort(txn);
	return rc;
}

/* The caller's callback of hm_ks_list or hm_ks_policy_list, for the row functions. */
struct ks_list_cb {
	int (*key)(const struct hm_key_info *info, void *arg);
	int (*policy)(const struct hm_policy_info *info, void *arg);
	void *arg;
};

static int ks_key_row(struct hm_keystore *ks, MDB_cursor *cur, MDB_val *k, MDB_val *v,
		      void *arg)
{
	const struct ks_list_cb *cb = arg;
	struct hm_key_info info;
	struct ks_meta m;
	int rc;

	rc = key_decode(ks, k, &info);
	if (rc != HM_OK)
		return rc;
	rc = ks_rec_check(v->mv_data, v->mv_size, &m, ks->err, sizeof(ks->err));
	if (rc != HM_OK)
		return rc;
	info.state = (enum hm_key_state)m.state;
	info.created = m.created;
	info.deadline = m.deadline;
	memcpy(info.keyid, m.keyid, m.keyid_len);
	info.keyid[m.keyid_len] = '\0';
	return cb->key(&info, cb->arg);
}

int hm_ks_list(struct hm_keystore *ks, const char *tenant,
	       int (*fn)(const struct hm_key_info *info, void *arg), void *arg)
{
	struct ks_list_cb cb = { .key = fn, .arg = arg };

	return ks_list(ks, ks->keys, tenant, ks_key_row, &cb);
}

/* ---- coverage policies ---- */

static int ks_body_policy_set(struct hm_keystore *ks, MDB_txn *txn, struct ks_op *op)
{
	MDB_val k = { .mv_size = op->plen, .mv_data = op->prefix };
	MDB_val v = { .mv_size = op->pval_len, .mv_data = (void *)op->pval };
	int rc, mrc;

	rc = ks_refuse_mirror(ks, txn);
	if (rc != HM_OK)
		return rc;

	mrc = mdb_put(txn, ks->policies, &k, &v, 0);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_put(policies)", mrc);
	return ks_audit_op(ks, txn, op, HM_AUDIT_POLICY_SET, "", -1);
}

static int ks_body_policy_unset(struct hm_keystore *ks, MDB_txn *txn, struct ks_op *op)
{
	MDB_val k = { .mv_size = op->plen, .mv_data = op->prefix };
	int rc, mrc;

	rc = ks_refuse_mirror(ks, txn);
	if (rc != HM_OK)
		return rc;

	mrc = mdb_del(txn, ks->policies, &k, NULL);
	if (mrc == MDB_NOTFOUND) {
		ks_set_msg(ks->err, sizeof(ks->err), "no policy stored");
		return HM_ENOTFOUND;
	}
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_del(policies)", mrc);
	return ks_audit_op(ks, txn, op, HM_AUDIT_POLICY_UNSET, "", -1);
}

int hm_ks_policy_set(struct hm_keystore *ks, const char *tenant, const char *container,
		     const struct hm_policy *p)
{
	uint8_t enc[HM_POLICY_ENC_MAX];
	struct ks_op op = { .now = 0 };
	size_t len = 0;
	int rc;

	ks->err[0] = '\0';
	rc = ks_op_names(ks, &op, tenant, container, true);
	if (rc != HM_OK)
		return rc;
	if (p->ncomponents < 1 || hm_policy_encode(p, enc, sizeof(enc), &len) != HM_OK) {
		ks_set_msg(ks->err, sizeof(ks->err),
			   "a policy needs 1..%d canonical components", HM_POLICY_MAX_COMPONENTS);
		return HM_EINVAL;
	}
	op.pval = enc;
	op.pval_len = len;
	return ks_write(ks, ks_body_policy_set, &op);
}

int hm_ks_policy_unset(struct hm_keystore *ks, const char *tenant, const char *container)
{
	struct ks_op op = { .now = 0 };
	int rc;

	ks->err[0] = '\0';
	rc = ks_op_names(ks, &op, tenant, container, true);
	if (rc != HM_OK)
		return rc;
	return ks_write(ks, ks_body_policy_unset, &op);
}

int hm_ks_policy_get(struct hm_keystore *ks, const char *tenant, const char *container,
		     struct hm_policy *out, enum hm_policy_source *src)
{
	struct ks_op op = { .now = 0 };
	size_t tl, cl;
	MDB_txn *txn = NULL;
	int rc;

	ks->err[0] = '\0';
	*src = HM_POLICY_DEFAULT;
	rc = ks_op_names(ks, &op, tenant, container, true);
	if (rc != HM_OK)
		return rc;
	tl = strlen(tenant);
	cl = container != NULL ? strlen(container) : 0;
	rc = ks_read_begin(ks, &txn);
	if (rc != HM_OK)
		return rc;
	rc = ks_policy_find(txn, ks->policies, (const uint8_t *)tenant, tl,
			    (const uint8_t *)(container != NULL ? container : ""), cl, out, src,
			    ks->err, sizeof(ks->err));
	mdb_txn_abort(txn);
	if (rc == HM_ENOTFOUND) {
		hm_policy_default(out);
		*src = HM_POLICY_DEFAULT;
		return HM_OK;
	}
	return rc;
}

static int ks_policy_row(struct hm_keystore *ks, MDB_cursor *cur, MDB_val *k, MDB_val *v,
			 void *arg)
{
	const struct ks_list_cb *cb = arg;
	struct hm_policy_info info;
	const uint8_t *p = k->mv_data;
	size_t tl = 0, cl = 0;
	const char *why;

	why = ks_scope_split(p, k->mv_size, 0, true, &tl, &cl);
	if (why != NULL)
		return ks_corrupt(ks, why, k->mv_size);
	memset(&info, 0, sizeof(info));
	memcpy(info.tenant, p + 1, tl);
	memcpy(info.container, p + 2 + tl, cl);
	info.source = cl > 0 ? HM_POLICY_SCOPE : HM_POLICY_TENANT;
	if (hm_policy_decode(v->mv_data, v->mv_size, &info.policy) != HM_OK)
		return ks_corrupt(ks, "bad policy record", v->mv_size);
	return cb->policy(&info, cb->arg);
}

int hm_ks_policy_list(struct hm_keystore *ks, const char *tenant,
		      int (*fn)(const struct hm_policy_info *info, void *arg), void *arg)
{
	struct ks_list_cb cb = { .policy = fn, .arg = arg };

	return ks_list(ks, ks->policies, tenant, ks_policy_row, &cb);
}
