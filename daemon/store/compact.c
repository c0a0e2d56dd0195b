/*
 * compact.c - hm_ks_compact(): the store rewritten without its free pages, which may hold the
 * secrets of revoked epochs (keystore.h; doc/keystore.md, "Secrets in memory and on disk").
 */
#include "store/internal.h"
#include "store/keystore.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <lmdb.h>

/* The pid of a process other than this one that holds a reader slot of the env, or 0. */
struct ks_readers {
	pid_t self;
	pid_t other;
};

static int ks_reader_line(const char *msg, void *ctx)
{
	struct ks_readers *r = ctx;
	long pid = 0;

	/* "    pid     thread     txnid" once, then one line per slot in use */
	if (sscanf(msg, " %ld", &pid) == 1 && pid > 0 && (pid_t)pid != r->self)
		r->other = (pid_t)pid;
	return 0;
}

pid_t ks_other_reader(struct hm_keystore *ks)
{
	struct ks_readers r = { .self = getpid(), .other = 0 };
	int dead = 0;

	(void)mdb_reader_check(ks->env, &dead); /* slots of dead processes are not users */
	(void)mdb_reader_list(ks->env, ks_reader_line, &r);
	return r.other;
}

/* Entries of keys, keyids and policies: a copy must hold exactly what its source holds. */
static int ks_counts(struct hm_keystore *ks, size_t n[3])
{
	MDB_dbi dbis[3] = { ks->keys, ks->keyids, ks->policies };
	MDB_txn *txn = NULL;
	MDB_stat st;
	int mrc;

	mrc = mdb_txn_begin(ks->env, NULL, MDB_RDONLY, &txn);
	for (int i = 0; mrc == 0 && i < 3; i++) {
		mrc = mdb_stat(txn, dbis[i], &st);
		n[i] = st.ms_entries;
	}
	if (txn != NULL)
		mdb_txn_abort(txn);
	return mrc == 0 ? HM_OK : ks_mdb_fail(ks, "mdb_stat", mrc);
}

static int ks_fsync_path(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	(void)close(fd);
	return rc;
}

/*
 * Overwrites a file with zeros, flushes it and unlinks it: the pages of a store that a compacted
 * copy replaced, which may still hold revoked secrets. Gone: HM_OK; HM_EIO otherwise.
 */
static int ks_wipe_file(const char *path)
{
	static const uint8_t zeros[65536];
	struct stat st;
	off_t done = 0;
	ssize_t w;
	int fd;

	fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? HM_OK : HM_EIO;
	if (fstat(fd, &st) != 0)
		goto fail;
	while (done < st.st_size) {
		size_t n = (size_t)(st.st_size - done) < sizeof(zeros) ? (size_t)(st.st_size - done)
								      : sizeof(zeros);

		w = pwrite(fd, zeros, n, done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		done += w;
	}
	if (fsync(fd) != 0)
		goto fail;
	(void)close(fd);
	return unlink(path) == 0 ? HM_OK : HM_EIO;
fail:
	(void)close(fd);
	return HM_EIO;
}

int hm_ks_compact(const char *dir, struct hm_ks_compacted *out, char *err, size_t errlen)
{
	char tmp[PATH_MAX], data[PATH_MAX], old[PATH_MAX], copy[PATH_MAX], lock[PATH_MAX];
	struct hm_keystore *ks = NULL, *cp = NULL;
	size_t before[3], after[3];
	struct stat st;
	pid_t other;
	int rc, mrc;

	memset(out, 0, sizeof(*out));
	ks_set_msg(err, errlen, "%s", "");
	if (snprintf(tmp, sizeof(tmp), "%s/.compact", dir) >= (int)sizeof(tmp) ||
	    snprintf(data, sizeof(data), "%s/data.mdb", dir) >= (int)sizeof(data) ||
	    snprintf(old, sizeof(old), "%s/.compact-old.mdb", dir) >= (int)sizeof(old) ||
	    snprintf(copy, sizeof(copy), "%s/data.mdb", tmp) >= (int)sizeof(copy) ||
	    snprintf(lock, sizeof(lock), "%s/lock.mdb", tmp) >= (int)sizeof(lock)) {
		ks_set_msg(err, errlen, "store path too long");
		return HM_EINVAL;
	}
	/* what an interrupted run left: the replaced pages first (they may hold secrets) */
	if (ks_wipe_file(old) != HM_OK) {
		ks_set_msg(err, errlen, "cannot wipe %s left by an interrupted compaction: %s", old,
			   strerror(errno));
		return HM_EIO;
	}
	(void)unlink(copy);
	(void)unlink(lock);
	(void)rmdir(tmp);
	rc = hm_ks_open(dir, 0, &ks, err, errlen);
	if (rc != HM_OK)
		return rc;
	other = ks_other_reader(ks);
	if (other != 0) {
		ks_set_msg(err, errlen, "process %ld (hmacd?) has the store open: stop it first",
			   (long)other);
		rc = HM_ESTATE;
		goto out;
	}
	if (stat(data, &st) == 0)
		out->bytes_before = (uint64_t)st.st_size;
	rc = ks_counts(ks, before);
	if (rc != HM_OK) {
		ks_set_msg(err, errlen, "%s", ks->err);
		goto out;
	}
	if (mkdir(tmp, 0700) != 0) {
		ks_set_msg(err, errlen, "mkdir %s: %s", tmp, strerror(errno));
		rc = HM_EIO;
		goto out;
	}
	mrc = mdb_env_copy2(ks->env, tmp, MDB_CP_COMPACT);
	if (mrc != 0) {
		ks_set_msg(err, errlen, "mdb_env_copy2: %s", mdb_strerror(mrc));
		rc = HM_ESTORE;
		goto out;
	}
	/* the copy must open and hold what the store holds, before it replaces anything */
	rc = hm_ks_open(tmp, 0, &cp, err, errlen);
	if (rc == HM_OK)
		rc = ks_counts(cp, after);
	if (rc == HM_OK && memcmp(before, after, sizeof(before)) != 0) {
		ks_set_msg(err, errlen,
			   "the compacted copy differs from the store; store unchanged");
		rc = HM_ESTORE;
	}
	hm_ks_close(cp);
	cp = NULL;
	if (rc != HM_OK)
		goto out;
	/* mdb_env_copy2 creates the file under the umask: the store's files are 0600 */
	if (chmod(copy, S_IRUSR | S_IWUSR) != 0) {
		ks_set_msg(err, errlen, "chmod %s: %s; store unchanged", copy, strerror(errno));
		rc = HM_EIO;
		goto out;
	}
	if (ks_fsync_path(copy, O_RDONLY) != 0 || (other = ks_other_reader(ks)) != 0) {
		ks_set_msg(err, errlen, other != 0 ? "a process opened the store meanwhile; store "
						     "unchanged"
						   : "fsync of the copy failed; store unchanged");
		rc = other != 0 ? HM_ESTATE : HM_EIO;
		goto out;
	}
	/* keep a name for the old pages, then replace data.mdb in one rename */
	if (link(data, old) != 0 || rename(copy, data) != 0) {
		ks_set_msg(err, errlen, "replacing %s: %s", data, strerror(errno));
		(void)unlink(old);
		rc = HM_EIO;
		goto out;
	}
	if (ks_fsync_path(dir, O_RDONLY | O_DIRECTORY) != 0) {
		ks_set_msg(err, errlen, "fsync %s: %s", dir, strerror(errno));
		rc = HM_EIO;
		goto out;
	}
	if (stat(data, &st) == 0)
		out->bytes_after = (uint64_t)st.st_size;
	hm_ks_close(ks); /* it maps the old pages: let go of them before they are wiped */
	ks = NULL;
	if (ks_wipe_file(old) != HM_OK) {
		ks_set_msg(err, errlen, "the store is compacted, but wiping the old pages (%s) "
			   "failed: %s; run compact again", old, strerror(errno));
		rc = HM_EIO;
	}
out:
	hm_ks_close(cp);
	hm_ks_close(ks);
	(void)unlink(copy);
	(void)unlink(lock);
	(void)rmdir(tmp);
	return rc;
}
