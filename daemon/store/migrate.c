/*
 * migrate.c - the schema 1 -> 2 upgrade of a store (doc/keystore.md, "Upgrade from schema 1"):
 * one write transaction, run by hm_ks_open() through ks_write(), that gives every epoch a key
 * id and rewrites its record as format 2. Records of both formats are record.c's.
 */
#include "store/internal.h"
#include "store/keystore.h"
#include "store/record.h"

#include <stdbool.h>
#include <string.h>

#include <lmdb.h>
#include <openssl/crypto.h>

int ks_body_upgrade(struct hm_keystore *ks, MDB_txn *txn, struct ks_op *unused)
{
	MDB_val sk = { .mv_size = sizeof(KS_SCHEMA_KEY) - 1, .mv_data = (void *)KS_SCHEMA_KEY };
	uint8_t key[KS_KEY_MAX], rec[KS_REC_MAX], secret[KS_REC1_SECRET_LEN], ver[4];
	MDB_val k, v, nv = { .mv_data = rec }, vv = { .mv_size = sizeof(ver), .mv_data = ver };
	struct ks_op op;
	struct ks_meta m;
	MDB_cursor *cur = NULL;
	MDB_dbi meta, audit;
	size_t klen = 0;
	bool old = false;
	const char *why;
	size_t tl, cl;
	int rc, mrc;

	(void)unused;
	memset(&op, 0, sizeof(op));
	rc = ks_dbi_need(ks, txn, KS_DB_META, &meta);
	if (rc != HM_OK)
		return rc;
	mrc = mdb_get(txn, meta, &sk, &v);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_get(schema)", mrc);
	rc = ks_schema_check(ks, &v, &old);
	if (rc == HM_OK)
		return HM_OK; /* upgraded meanwhile by another process */
	if (!old)
		return rc;
	rc = ks_dbi_need(ks, txn, KS_DB_KEYS, &ks->keys);
	if (rc != HM_OK)
		return rc;
	mrc = mdb_dbi_open(txn, KS_DB_KEYIDS, MDB_CREATE, &ks->keyids);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_dbi_open(keyids)", mrc);
	mrc = mdb_dbi_open(txn, KS_DB_POLICIES, MDB_CREATE, &ks->policies);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_dbi_open(policies)", mrc);
	rc = ks_audit_dbi(ks, txn, true, &audit);
	if (rc != HM_OK)
		return rc;
	mrc = mdb_cursor_open(txn, ks->keys, &cur);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_cursor_open", mrc);
	/*
	 * Walk by key: after each rewrite, seek past the key just done instead of trusting the
	 * cursor across a put that changed the record's size.
	 */
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;) {
		why = ks_scope_split(k.mv_data, k.mv_size, 4, false, &tl, &cl);
		if (why != NULL) {
			rc = ks_corrupt(ks, why, k.mv_size);
			goto out;
		}
		rc = ks_rec1_check(v.mv_data, v.mv_size, &m, ks->err, sizeof(ks->err));
		if (rc != HM_OK)
			goto out;
		/* copy out before any put: v and k point into pages the puts may move */
		klen = k.mv_size;
		memcpy(key, k.mv_data, klen);
		memcpy(secret, (const uint8_t *)v.mv_data + KS_REC1_OFF_SECRET, sizeof(secret));
		rc = ks_put_keyid(ks, txn, &op, key, klen);
		if (rc != HM_OK)
			goto out;
		m.keyid = (const uint8_t *)op.keyid;
		m.keyid_len = strlen(op.keyid);
		nv.mv_size = ks_rec_encode(rec, &m, m.secret_len > 0 ? secret : NULL);
		OPENSSL_cleanse(secret, sizeof(secret));
		k.mv_data = key;
		k.mv_size = klen;
		mrc = mdb_put(txn, ks->keys, &k, &nv, 0);
		OPENSSL_cleanse(rec, sizeof(rec));
		if (mrc != 0) {
			rc = ks_mdb_fail(ks, "mdb_put", mrc);
			goto out;
		}
		mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (mrc == 0 && k.mv_size == klen && memcmp(k.mv_data, key, klen) == 0)
			mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	if (mrc != MDB_NOTFOUND) {
		rc = ks_mdb_fail(ks, "mdb_cursor_get", mrc);
		goto out;
	}
	ks_put_le32(ver, HM_KS_SCHEMA_VERSION);
	mrc = mdb_put(txn, meta, &sk, &vv, 0);
	if (mrc != 0) {
		rc = ks_mdb_fail(ks, "mdb_put(schema)", mrc);
		goto out;
	}
	rc = HM_OK;
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(rec, sizeof(rec));
	mdb_cursor_close(cur);
	return rc;
}
