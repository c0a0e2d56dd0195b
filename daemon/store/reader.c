/*
 * reader.c - the daemon's read path (keystore.h, "the daemon's read path"): one struct
 * hm_ks_reader per worker, a read transaction reset between batches and renewed at the start of
 * the next, and the lookups inside a batch. Nothing here allocates after hm_ks_reader_new(),
 * and nothing here writes.
 */
#include "store/internal.h"
#include "store/keystore.h"
#include "store/record.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>
#include <openssl/crypto.h>

struct hm_ks_reader {
	struct hm_keystore *ks;
	MDB_txn *txn; /* MDB_RDONLY, begun once; reset between batches, renewed per batch */
	bool active;
	char err[KS_ERRLEN];
};

static int rd_fail(struct hm_ks_reader *rd, const char *call, int mrc)
{
	ks_set_msg(rd->err, sizeof(rd->err), "%s: %s", call, mdb_strerror(mrc));
	return HM_ESTORE;
}

int hm_ks_reader_new(struct hm_keystore *ks, struct hm_ks_reader **out)
{
	struct hm_ks_reader *rd;
	int mrc;

	*out = NULL;
	rd = calloc(1, sizeof(*rd));
	if (rd == NULL)
		return HM_ENOMEM;
	rd->ks = ks;
	/* Begun once to claim a reader slot; reset at once so it pins no snapshot while idle. */
	mrc = mdb_txn_begin(ks->env, NULL, MDB_RDONLY, &rd->txn);
	if (mrc != 0) {
		ks_set_msg(ks->err, sizeof(ks->err), "mdb_txn_begin: %s", mdb_strerror(mrc));
		free(rd);
		return HM_ESTORE;
	}
	mdb_txn_reset(rd->txn);
	*out = rd;
	return HM_OK;
}

void hm_ks_reader_free(struct hm_ks_reader *rd)
{
	if (rd == NULL)
		return;
	hm_ks_reader_end(rd);
	mdb_txn_abort(rd->txn); /* releases the reader slot */
	free(rd);
}

int hm_ks_reader_begin(struct hm_ks_reader *rd, uint64_t *txnid)
{
	int mrc;

	*txnid = 0;
	if (rd->active)
		hm_ks_reader_end(rd);
	mrc = mdb_txn_renew(rd->txn);
	if (mrc == MDB_MAP_RESIZED) {
		/*
		 * Adopting the new size needs mdb_env_set_mapsize() with no transaction open
		 * in the process, which other workers' batches make impossible. Writers stop
		 * at the reader map size, so this takes a store grown by another tool.
		 */
		ks_set_msg(rd->err, sizeof(rd->err), "mdb_txn_renew: the store outgrew this "
			   "process's %zu MiB map; restart it", rd->ks->map_size >> 20);
		return HM_ESTORE;
	}
	if (mrc != 0)
		return rd_fail(rd, "mdb_txn_renew", mrc);
	rd->active = true;
	if (!rd->ks->reader_env)
		atomic_fetch_add(&rd->ks->open_batches, 1);
	*txnid = (uint64_t)mdb_txn_id(rd->txn);
	return HM_OK;
}

int hm_ks_reader_has_policies(struct hm_ks_reader *rd, bool *any)
{
	MDB_stat st;
	int mrc;

	*any = true; /* on failure: look every scope up */
	if (!rd->active) {
		ks_set_msg(rd->err, sizeof(rd->err), "hm_ks_reader_has_policies outside a batch");
		return HM_ESTORE;
	}
	mrc = mdb_stat(rd->txn, rd->ks->policies, &st);
	if (mrc != 0)
		return rd_fail(rd, "mdb_stat(policies)", mrc);
	*any = st.ms_entries > 0;
	return HM_OK;
}

const char *hm_ks_reader_errmsg(const struct hm_ks_reader *rd)
{
	return rd->err;
}

void hm_ks_reader_end(struct hm_ks_reader *rd)
{
	if (!rd->active)
		return;
	mdb_txn_reset(rd->txn);
	rd->active = false;
	if (!rd->ks->reader_env)
		atomic_fetch_sub(&rd->ks->open_batches, 1);
}

int hm_ks_lookup(struct hm_ks_reader *rd, const uint8_t *tenant, size_t tenant_len,
		 const uint8_t *container, size_t container_len, uint64_t epoch,
		 struct hm_key_rec *rec)
{
	uint8_t key[KS_KEY_MAX];
	MDB_val k, v;
	struct ks_meta m;
	int rc, mrc;

	if (!rd->active) {
		ks_set_msg(rd->err, sizeof(rd->err), "hm_ks_lookup outside a batch");
		rc = HM_ESTORE;
		goto fail;
	}
	/* Names that could never have been stored are simply unknown. */
	if (tenant == NULL || container == NULL || tenant_len < 1 || tenant_len > KS_NAME_MAX ||
	    container_len < 1 || container_len > KS_NAME_MAX || epoch < 1 || epoch > UINT32_MAX) {
		rc = HM_ENOTFOUND;
		goto fail;
	}
	k.mv_size = ks_key_prefix(key, tenant, tenant_len, container, container_len);
	ks_put_be32(key + k.mv_size, (uint32_t)epoch);
	k.mv_size += 4;
	k.mv_data = key;
	mrc = mdb_get(rd->txn, rd->ks->keys, &k, &v);
	if (mrc == MDB_NOTFOUND) {
		rc = HM_ENOTFOUND;
		goto fail;
	}
	if (mrc != 0) {
		rc = rd_fail(rd, "mdb_get", mrc);
		goto fail;
	}
	rc = ks_rec_check(v.mv_data, v.mv_size, &m, rd->err, sizeof(rd->err));
	if (rc != HM_OK)
		goto fail;
	/* Copy out now: v points into the map and is only valid while the txn lives. */
	rec->state = (enum hm_key_state)m.state;
	rec->deadline = m.deadline;
	rec->secret_len = m.secret_len; /* 0 when revoked */
	/* all HM_KEY_MAX bytes: zeros past the length (ks_rec_check), no length-dependent copy */
	memcpy(rec->secret, (const uint8_t *)v.mv_data + KS_REC_OFF_SECRET, HM_KEY_MAX);
	return HM_OK;
fail:
	OPENSSL_cleanse(rec, sizeof(*rec));
	return rc;
}

int hm_ks_lookup_keyid(struct hm_ks_reader *rd, const uint8_t *keyid, size_t len,
		       struct hm_key_ref *ref)
{
	MDB_val k, v;
	const char *why;
	size_t tl = 0, cl = 0;
	const uint8_t *p;
	int rc, mrc;

	memset(ref, 0, sizeof(*ref));
	if (!rd->active) {
		ks_set_msg(rd->err, sizeof(rd->err), "hm_ks_lookup_keyid outside a batch");
		return HM_ESTORE;
	}
	/* An id that could never have been stored is simply unknown. */
	if (keyid == NULL || !ks_keyid_ok((const char *)keyid, len))
		return HM_ENOTFOUND;
	k.mv_data = (void *)keyid;
	k.mv_size = len;
	mrc = mdb_get(rd->txn, rd->ks->keyids, &k, &v);
	if (mrc == MDB_NOTFOUND)
		return HM_ENOTFOUND;
	if (mrc != 0)
		return rd_fail(rd, "mdb_get(keyids)", mrc);
	p = v.mv_data;
	why = ks_scope_split(p, v.mv_size, 4, false, &tl, &cl);
	if (why != NULL) {
		ks_set_msg(rd->err, sizeof(rd->err), "corrupt key id index: %s (%zu bytes)", why,
			   v.mv_size);
		rc = HM_ESTORE;
		goto fail;
	}
	memcpy(ref->tenant, p + 1, tl);
	ref->tenant_len = tl;
	memcpy(ref->container, p + 2 + tl, cl);
	ref->container_len = cl;
	ref->epoch = ks_get_be32(p + 2 + tl + cl);
	return HM_OK;
fail:
	memset(ref, 0, sizeof(*ref));
	return rc;
}

/* ---- coverage policies ---- */

/*
 * Reads and decodes the policy stored under key[0..klen) in txn. HM_OK, HM_ENOTFOUND, or
 * HM_ESTORE with a reason in err. *out is written only on HM_OK.
 */
static int ks_policy_read(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key, size_t klen,
			  struct hm_policy *out, char *err, size_t errlen)
{
	struct hm_policy p;
	MDB_val k = { .mv_size = klen, .mv_data = (void *)key }, v;
	int mrc;

	mrc = mdb_get(txn, dbi, &k, &v);
	if (mrc == MDB_NOTFOUND)
		return HM_ENOTFOUND;
	if (mrc != 0) {
		ks_set_msg(err, errlen, "mdb_get(policies): %s", mdb_strerror(mrc));
		return HM_ESTORE;
	}
	if (hm_policy_decode(v.mv_data, v.mv_size, &p) != HM_OK) {
		ks_set_msg(err, errlen, "corrupt key store: bad policy record (%zu bytes)",
			   v.mv_size);
		return HM_ESTORE;
	}
	*out = p;
	return HM_OK;
}

int ks_policy_find(MDB_txn *txn, MDB_dbi dbi, const uint8_t *tenant, size_t tenant_len,
		   const uint8_t *container, size_t container_len, struct hm_policy *out,
		   enum hm_policy_source *found, char *err, size_t errlen)
{
	uint8_t key[KS_KEY_MAX];
	size_t klen;
	int rc;

	*found = HM_POLICY_DEFAULT;
	if (container_len > 0) {
		klen = ks_key_prefix(key, tenant, tenant_len, container, container_len);
		rc = ks_policy_read(txn, dbi, key, klen, out, err, errlen);
		if (rc == HM_OK)
			*found = HM_POLICY_SCOPE;
		if (rc != HM_ENOTFOUND)
			return rc;
	}
	klen = ks_key_prefix(key, tenant, tenant_len, (const uint8_t *)"", 0);
	rc = ks_policy_read(txn, dbi, key, klen, out, err, errlen);
	if (rc == HM_OK)
		*found = HM_POLICY_TENANT;
	return rc;
}

int hm_ks_policy_lookup(struct hm_ks_reader *rd, const uint8_t *tenant, size_t tenant_len,
			const uint8_t *container, size_t container_len, struct hm_policy *out,
			enum hm_policy_source *found)
{
	int rc;

	*found = HM_POLICY_DEFAULT;
	if (!rd->active) {
		ks_set_msg(rd->err, sizeof(rd->err), "hm_ks_policy_lookup outside a batch");
		return HM_ESTORE;
	}
	/* Names that could never have been stored: no policy of theirs, the default. */
	if (tenant == NULL || !ks_scope_name_ok((const char *)tenant, tenant_len))
		return HM_OK;
	if (container == NULL || !ks_scope_name_ok((const char *)container, container_len))
		container_len = 0;
	rc = ks_policy_find(rd->txn, rd->ks->policies, tenant, tenant_len, container,
			    container_len, out, found, rd->err, sizeof(rd->err));
	if (rc == HM_ENOTFOUND)
		return HM_OK;
	if (rc != HM_OK)
		*found = HM_POLICY_DEFAULT;
	return rc;
}
