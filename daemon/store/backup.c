/*
 * backup.c - hm_ks_backup, hm_ks_backup_check and hm_ks_restore (keystore.h, "backup and
 * restore"; doc/keystore.md, "Backup and restore").
 *
 * A backup is LMDB's own compacted copy of one read snapshot (mdb_env_copyfd2), so it is taken
 * while hmacd and hmacctl go on using the store. A restore never swaps files under an open
 * environment (hmacd's workers map data.mdb): it replaces the records in one write transaction,
 * which running readers see as one more admin commit.
 */
#include "store/audit.h"
#include "store/internal.h"
#include "store/keystore.h"
#include "store/record.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <lmdb.h>
#include <openssl/rand.h>

#define TMP_TRIES 8

/* ---- checking a copy ---- */

struct check_args {
	struct hm_ks_backup_info *info;
	MDB_txn *txn;
	MDB_dbi keyids;
	struct hm_audit_rec rec;
};

static int check_key(struct hm_keystore *ks, MDB_cursor *cur, MDB_val *k, MDB_val *v, void *arg)
{
	struct check_args *a = arg;
	struct ks_meta m;
	MDB_val idk, idv;
	size_t tl = 0, cl = 0;
	const char *why;
	int rc, mrc;

	(void)cur;
	why = ks_scope_split(k->mv_data, k->mv_size, 4, false, &tl, &cl);
	if (why != NULL)
		return ks_corrupt(ks, why, k->mv_size);
	rc = ks_rec_check(v->mv_data, v->mv_size, &m, ks->err, sizeof(ks->err));
	if (rc != HM_OK)
		return rc;
	/* the epoch's key id is indexed, and points back at it */
	idk = (MDB_val){ .mv_size = m.keyid_len, .mv_data = (void *)m.keyid };
	mrc = mdb_get(a->txn, a->keyids, &idk, &idv);
	if (mrc == MDB_NOTFOUND || (mrc == 0 && (idv.mv_size != k->mv_size ||
						 memcmp(idv.mv_data, k->mv_data, k->mv_size) != 0)))
		return ks_corrupt(ks, "key id index does not match an epoch", k->mv_size);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_get(keyids)", mrc);
	a->info->keys++;
	return HM_OK;
}

static int check_policy(struct hm_keystore *ks, MDB_cursor *cur, MDB_val *k, MDB_val *v,
			void *arg)
{
	struct check_args *a = arg;
	struct hm_policy p;
	size_t tl = 0, cl = 0;
	const char *why;

	(void)cur;
	why = ks_scope_split(k->mv_data, k->mv_size, 0, true, &tl, &cl);
	if (why != NULL)
		return ks_corrupt(ks, why, k->mv_size);
	if (hm_policy_decode(v->mv_data, v->mv_size, &p) != HM_OK)
		return ks_corrupt(ks, "bad policy record", v->mv_size);
	a->info->policies++;
	return HM_OK;
}

static int check_audit(struct hm_keystore *ks, MDB_cursor *cur, MDB_val *k, MDB_val *v,
		       void *arg)
{
	struct check_args *a = arg;

	(void)cur;
	if (k->mv_size != 8)
		return ks_corrupt(ks, "audit key", k->mv_size);
	if (hm_audit_decode(v->mv_data, v->mv_size, &a->rec) != HM_OK)
		return ks_corrupt(ks, "audit record", v->mv_size);
	a->info->audit++;
	return HM_OK;
}

/* Every record of the open copy decodes, and keys and key ids match one to one. */
static int check_open(struct hm_keystore *ks, struct hm_ks_backup_info *info)
{
	struct check_args *a;
	struct hm_ks_mirror m;
	MDB_stat st;
	MDB_dbi audit;
	int rc, mrc;

	rc = hm_ks_mirror_get(ks, &m);
	if (rc != HM_OK)
		return rc;
	info->mirror = m.fleet_id[0] != '\0';
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return HM_ENOMEM;
	a->info = info;
	a->keyids = ks->keyids;
	rc = ks_read_begin(ks, &a->txn);
	if (rc != HM_OK)
		goto out;
	rc = ks_walk(ks, a->txn, ks->keys, NULL, 0, check_key, a);
	if (rc != HM_OK)
		goto out;
	mrc = mdb_stat(a->txn, ks->keyids, &st);
	if (mrc != 0) {
		rc = ks_mdb_fail(ks, "mdb_stat(keyids)", mrc);
		goto out;
	}
	info->keyids = st.ms_entries;
	if (info->keyids != info->keys) {
		rc = ks_corrupt(ks, "key ids without an epoch", info->keyids - info->keys);
		goto out;
	}
	rc = ks_walk(ks, a->txn, ks->policies, NULL, 0, check_policy, a);
	if (rc != HM_OK)
		goto out;
	rc = ks_audit_dbi(ks, a->txn, false, &audit);
	if (rc == HM_ENOTFOUND)
		rc = HM_OK;
	else if (rc == HM_OK)
		rc = ks_walk(ks, a->txn, audit, NULL, 0, check_audit, a);
out:
	if (a->txn != NULL)
		mdb_txn_abort(a->txn);
	free(a);
	return rc;
}

int hm_ks_backup_check(const char *file, struct hm_ks_backup_info *info, char *err,
		       size_t errlen)
{
	struct hm_keystore *ks = NULL;
	struct stat st;
	int rc;

	memset(info, 0, sizeof(*info));
	ks_set_msg(err, errlen, "%s", "");
	if (stat(file, &st) != 0) {
		int e = errno; /* ks_set_msg() may change errno */

		ks_set_msg(err, errlen, "%s", strerror(e));
		return e == ENOENT ? HM_ENOTFOUND : HM_EIO;
	}
	if (!S_ISREG(st.st_mode)) {
		ks_set_msg(err, errlen, "not a regular file");
		return HM_EIO;
	}
	rc = ks_open_file(file, &ks, err, errlen);
	if (rc != HM_OK)
		return rc;
	rc = check_open(ks, info);
	if (rc != HM_OK)
		ks_set_msg(err, errlen, "%s", ks->err[0] != '\0' ? ks->err : hm_strerror(rc));
	info->bytes = (uint64_t)st.st_size;
	hm_ks_close(ks);
	return rc;
}

/* ---- backup ---- */

static int fsync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t n;
	int fd, rc;

	if (slash == NULL) {
		memcpy(dir, ".", 2);
	} else {
		n = slash == path ? 1 : (size_t)(slash - path);
		if (n >= sizeof(dir))
			return -1;
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	(void)close(fd);
	return rc;
}

/*
 * A new file next to out, "<out>.tmp-<16 hex>", created 0600 with O_EXCL | O_NOFOLLOW: never an
 * existing file or a symlink someone planted. Its name goes to tmp. The fd, or -1 with err set.
 */
static int create_tmp(const char *out, char tmp[static PATH_MAX], char *err, size_t errlen)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t rnd[8];
	char sfx[2 * sizeof(rnd) + 1];
	int fd = -1, n;

	for (int attempt = 0; attempt < TMP_TRIES; attempt++) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
			ks_set_msg(err, errlen, "RAND_bytes failed");
			return -1;
		}
		for (size_t i = 0; i < sizeof(rnd); i++) {
			sfx[2 * i] = hex[rnd[i] >> 4];
			sfx[2 * i + 1] = hex[rnd[i] & 15];
		}
		sfx[sizeof(sfx) - 1] = '\0';
		n = snprintf(tmp, PATH_MAX, "%s.tmp-%s", out, sfx);
		if (n < 0 || n >= PATH_MAX) {
			ks_set_msg(err, errlen, "output path too long");
			return -1;
		}
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0)
			break;
		if (errno != EEXIST) {
			ks_set_msg(err, errlen, "create %s: %s", tmp, strerror(errno));
			return -1;
		}
	}
	if (fd < 0) {
		ks_set_msg(err, errlen, "no unused temporary name next to the output");
		return -1;
	}
	/* the umask may have taken bits away; the file is exactly 0600 */
	if (fchmod(fd, S_IRUSR | S_IWUSR) != 0) {
		ks_set_msg(err, errlen, "chmod %s: %s", tmp, strerror(errno));
		(void)close(fd);
		(void)unlink(tmp);
		return -1;
	}
	return fd;
}

int hm_ks_backup(const char *dir, const char *out, bool force, struct hm_ks_backup_info *info,
		 char *err, size_t errlen)
{
	char tmp[PATH_MAX] = "";
	struct hm_keystore *ks = NULL;
	struct stat st;
	int fd = -1, rc, mrc;

	memset(info, 0, sizeof(*info));
	ks_set_msg(err, errlen, "%s", "");
	if (out == NULL || out[0] == '\0') {
		ks_set_msg(err, errlen, "no output file");
		return HM_EINVAL;
	}
	if (!force && lstat(out, &st) == 0) {
		ks_set_msg(err, errlen, "%s exists (give --force to replace it)", out);
		return HM_EEXIST;
	}
	rc = hm_ks_open(dir, 0, &ks, err, errlen);
	if (rc != HM_OK)
		return rc;
	fd = create_tmp(out, tmp, err, errlen);
	if (fd < 0) {
		tmp[0] = '\0';
		rc = HM_EIO;
		goto out;
	}
	/* one read snapshot, without free pages: hmacd and writers go on meanwhile */
	mrc = mdb_env_copyfd2(ks->env, fd, MDB_CP_COMPACT);
	if (mrc != 0) {
		ks_set_msg(err, errlen, "mdb_env_copyfd2: %s", mdb_strerror(mrc));
		rc = HM_ESTORE;
		goto out;
	}
	if (fsync(fd) != 0) {
		ks_set_msg(err, errlen, "fsync %s: %s", tmp, strerror(errno));
		rc = HM_EIO;
		goto out;
	}
	rc = close(fd);
	fd = -1;
	if (rc != 0) {
		ks_set_msg(err, errlen, "close %s: %s", tmp, strerror(errno));
		rc = HM_EIO;
		goto out;
	}
	rc = hm_ks_backup_check(tmp, info, err, errlen);
	if (rc != HM_OK)
		goto out;
	/* link() refuses an existing name: without force, a file made meanwhile is kept */
	if (force ? rename(tmp, out) != 0 : link(tmp, out) != 0) {
		int e = errno;

		if (e == EEXIST)
			ks_set_msg(err, errlen, "%s exists (give --force to replace it)", out);
		else
			ks_set_msg(err, errlen, "%s: %s", out, strerror(e));
		rc = e == EEXIST ? HM_EEXIST : HM_EIO;
		goto out;
	}
	if (!force && unlink(tmp) != 0) {
		ks_set_msg(err, errlen, "the backup is in %s, but %s could not be removed: %s", out,
			   tmp, strerror(errno));
		tmp[0] = '\0';
		rc = HM_EIO;
		goto out;
	}
	tmp[0] = '\0';
	if (fsync_dir_of(out) != 0) {
		ks_set_msg(err, errlen, "fsync of the directory of %s: %s", out, strerror(errno));
		rc = HM_EIO;
	}
out:
	if (fd >= 0)
		(void)close(fd);
	if (tmp[0] != '\0')
		(void)unlink(tmp);
	hm_ks_close(ks);
	return rc;
}

/* ---- restore ---- */

struct restore_args {
	struct hm_keystore *src;
	unsigned flags;
	struct hm_ks_restore_info *info;
	const char *file;
};

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

/* Copies every record of sdbi (in stxn) into ddbi (in txn), in key order. */
static int copy_db(struct hm_keystore *ks, MDB_txn *stxn, MDB_dbi sdbi, MDB_txn *txn,
		   MDB_dbi ddbi)
{
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int rc = HM_OK, mrc;

	mrc = mdb_cursor_open(stxn, sdbi, &cur);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_cursor_open(backup)", mrc);
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
	     mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		/* the same order as the source: append, no search */
		mrc = mdb_put(txn, ddbi, &k, &v, MDB_APPEND);
		if (mrc != 0) {
			rc = ks_mdb_fail(ks, "mdb_put(restore)", mrc);
			goto out;
		}
	}
	if (mrc != MDB_NOTFOUND)
		rc = ks_mdb_fail(ks, "mdb_cursor_get(backup)", mrc);
out:
	mdb_cursor_close(cur);
	return rc;
}

static int body_restore(struct hm_keystore *ks, MDB_txn *txn, struct ks_op *op)
{
	struct restore_args *a = op->arg;
	struct hm_audit_rec r;
	const char *base;
	MDB_txn *stxn = NULL;
	MDB_dbi audit, saudit;
	size_t nkeys = 0, npol = 0, naudit = 0;
	int rc, mrc;

	rc = ks_refuse_mirror(ks, txn);
	if (rc != HM_OK)
		return rc;
	rc = entries(ks, txn, ks->keys, &nkeys);
	if (rc == HM_OK)
		rc = entries(ks, txn, ks->policies, &npol);
	if (rc != HM_OK)
		return rc;
	a->info->replaced = nkeys + npol > 0;
	if (!(a->flags & HM_KS_RESTORE_FORCE) && (a->info->replaced || a->info->in_use != 0)) {
		if (a->info->in_use != 0)
			ks_set_msg(ks->err, sizeof(ks->err),
				   "process %ld (hmacd?) has the store open: give --force to "
				   "replace its keys and policies while it runs",
				   (long)a->info->in_use);
		else
			ks_set_msg(ks->err, sizeof(ks->err),
				   "the store holds %zu epochs and %zu policies: give --force to "
				   "replace them", nkeys, npol);
		return HM_ESTATE;
	}
	rc = ks_audit_dbi(ks, txn, true, &audit);
	if (rc == HM_OK)
		rc = entries(ks, txn, audit, &naudit);
	if (rc != HM_OK)
		return rc;
	mrc = mdb_drop(txn, ks->keys, 0);
	if (mrc == 0)
		mrc = mdb_drop(txn, ks->keyids, 0);
	if (mrc == 0)
		mrc = mdb_drop(txn, ks->policies, 0);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_drop", mrc);
	rc = ks_read_begin(a->src, &stxn);
	if (rc != HM_OK) {
		ks_set_msg(ks->err, sizeof(ks->err), "backup: %s", a->src->err);
		return rc;
	}
	rc = copy_db(ks, stxn, a->src->keys, txn, ks->keys);
	if (rc == HM_OK)
		rc = copy_db(ks, stxn, a->src->keyids, txn, ks->keyids);
	if (rc == HM_OK)
		rc = copy_db(ks, stxn, a->src->policies, txn, ks->policies);
	/* a store with a history keeps it; a new one starts with the backup's */
	if (rc == HM_OK && naudit == 0) {
		rc = ks_audit_dbi(a->src, stxn, false, &saudit);
		if (rc == HM_OK)
			rc = copy_db(ks, stxn, saudit, txn, audit);
		else if (rc == HM_ENOTFOUND)
			rc = HM_OK;
		else
			ks_set_msg(ks->err, sizeof(ks->err), "backup: %s", a->src->err);
	}
	mdb_txn_abort(stxn);
	if (rc != HM_OK)
		return rc;
	base = strrchr(a->file, '/');
	base = base != NULL ? base + 1 : a->file;
	ks_audit_scope(&r, HM_AUDIT_RESTORE, NULL, NULL);
	snprintf(r.detail, sizeof(r.detail), "keys=%zu policies=%zu replaced=%zu/%zu from=%.64s",
		 a->info->backup.keys, a->info->backup.policies, nkeys, npol, base);
	for (char *p = r.detail; *p != '\0'; p++) {
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
	}
	return ks_audit_append(ks, txn, &r);
}

/* Whether file is the data.mdb of the store of ks (restoring a store onto itself). */
static int same_file(struct hm_keystore *ks, const char *file, bool *same)
{
	char data[PATH_MAX];
	const char *dir = NULL;
	struct stat a, b;
	int mrc, n;

	*same = false;
	mrc = mdb_env_get_path(ks->env, &dir);
	if (mrc != 0)
		return ks_mdb_fail(ks, "mdb_env_get_path", mrc);
	n = snprintf(data, sizeof(data), "%s/data.mdb", dir);
	if (n < 0 || (size_t)n >= sizeof(data)) {
		ks_set_msg(ks->err, sizeof(ks->err), "store path too long");
		return HM_EINVAL;
	}
	if (stat(file, &a) != 0 || stat(data, &b) != 0) {
		ks_set_msg(ks->err, sizeof(ks->err), "stat: %s", strerror(errno));
		return HM_EIO;
	}
	*same = a.st_dev == b.st_dev && a.st_ino == b.st_ino;
	return HM_OK;
}

int hm_ks_restore(struct hm_keystore *ks, const char *file, unsigned flags,
		  struct hm_ks_restore_info *info)
{
	struct restore_args a = { .flags = flags, .info = info, .file = file };
	struct ks_op op = { .arg = &a };
	char err[KS_ERRLEN];
	bool same = false;
	int rc;

	ks->err[0] = '\0';
	memset(info, 0, sizeof(*info));
	rc = hm_ks_backup_check(file, &info->backup, err, sizeof(err));
	if (rc != HM_OK) {
		ks_set_msg(ks->err, sizeof(ks->err), "%s", err);
		/* a missing file is a file error: HM_ENOTFOUND would say "no such scope" */
		return rc == HM_ENOTFOUND ? HM_EIO : rc;
	}
	rc = same_file(ks, file, &same);
	if (rc != HM_OK)
		return rc;
	if (same) {
		ks_set_msg(ks->err, sizeof(ks->err), "that file is the store itself");
		return HM_EINVAL;
	}
	if (info->backup.mirror) {
		ks_set_msg(ks->err, sizeof(ks->err),
			   "the backup is of a fleet host's store: a fleet host gets its keys "
			   "from the fleet (start it on an empty store)");
		return HM_ESTATE;
	}
	rc = ks_open_file(file, &a.src, err, sizeof(err));
	if (rc != HM_OK) {
		ks_set_msg(ks->err, sizeof(ks->err), "%s", err);
		return rc == HM_ENOTFOUND ? HM_EIO : rc;
	}
	info->in_use = ks_other_reader(ks);
	rc = ks_write(ks, body_restore, &op);
	hm_ks_close(a.src);
	return rc;
}
