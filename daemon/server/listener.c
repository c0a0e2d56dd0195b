/* listener.c - Unix socket creation with stale-socket handling (see listener.h). */
#include "server/listener.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "server/log.h"

static int make_addr(const char *path, struct sockaddr_un *sa)
{
	int n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s", path);
	if (n < 0 || (size_t)n >= sizeof(sa->sun_path) || n == 0)
		return HM_EINVAL;
	return HM_OK;
}

/* An existing path: HM_OK if it may be replaced (stale socket, now removed). */
static int clear_stale(const char *path, const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? HM_OK : HM_EIO;
	if (!S_ISSOCK(st.st_mode)) {
		hm_err("%s exists and is not a socket: not touching it", path);
		return HM_EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		hm_err("socket: %s", strerror(errno));
		return HM_EIO;
	}
	rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	if (rc == 0) {
		close(fd);
		hm_err("%s: another daemon is listening on it", path);
		return HM_EEXIST;
	}
	rc = errno;
	close(fd);
	if (rc != ECONNREFUSED) {
		hm_err("%s: cannot tell whether it is in use: %s", path, strerror(rc));
		return HM_EIO;
	}
	hm_info("%s: removing stale socket (nobody listens on it)", path);
	if (unlink(path) != 0 && errno != ENOENT) {
		hm_err("unlink %s: %s", path, strerror(errno));
		return HM_EIO;
	}
	return HM_OK;
}

/*
 * Whoever can write the socket's directory can put a socket of their own at the path (before
 * hmacd starts, or after it removed its socket at exit) and answer every verify with OK; whoever
 * can rename the directory or one of its ancestors can swap the whole directory. So:
 *  - the socket's directory must belong to this user or root, and no one else may write it,
 *    sticky or not (in a sticky directory such as /tmp anyone may still take a free name);
 *  - every ancestor must belong to this user or root, and one that others may write must be
 *    sticky (then they cannot rename what is not theirs).
 * The path is resolved first (realpath), so a symlink is judged by where it leads.
 * HM_OK; HM_ENOTFOUND (no such directory); HM_ESTATE with the reason in why.
 */
static int check_dir(const struct sockaddr_un *sa, char *why, size_t cap)
{
	char dir[sizeof(sa->sun_path)], real[PATH_MAX];
	const uid_t self = geteuid();
	struct stat st;
	bool first = true;
	char *slash;

	memcpy(dir, sa->sun_path, sizeof(dir));
	if (realpath(dirname(dir), real) == NULL)
		return HM_ENOTFOUND;
	for (;;) {
		if (stat(real[0] != '\0' ? real : "/", &st) != 0 || !S_ISDIR(st.st_mode))
			return HM_ENOTFOUND;
		if (st.st_uid != self && st.st_uid != 0) {
			snprintf(why, cap, "%s belongs to uid %u, neither hmacd's user (uid %u) nor root",
				 real[0] != '\0' ? real : "/", (unsigned)st.st_uid, (unsigned)self);
			return HM_ESTATE;
		}
		if ((st.st_mode & (S_IWGRP | S_IWOTH)) && (first || !(st.st_mode & S_ISVTX))) {
			snprintf(why, cap, "%s is writable by %s%s", real[0] != '\0' ? real : "/",
				 (st.st_mode & S_IWOTH) ? "everyone" : "its group",
				 first ? "" : " and not sticky");
			return HM_ESTATE;
		}
		if (real[0] == '\0')
			return HM_OK; /* "/" checked */
		slash = strrchr(real, '/');
		if (slash == NULL)
			return HM_ENOTFOUND;
		*slash = '\0'; /* "/a/b" -> "/a", "/a" -> "" (the root) */
		first = false;
	}
}

int hm_listen_unix(const char *path, mode_t mode, int *out)
{
	char why[PATH_MAX + 128];
	struct sockaddr_un sa;
	mode_t old_mask;
	int fd = -1, rc, err;

	*out = -1;
	rc = make_addr(path, &sa);
	if (rc != HM_OK) {
		hm_err("socket path is empty or longer than %zu bytes", sizeof(sa.sun_path) - 1);
		return rc;
	}
	rc = check_dir(&sa, why, sizeof(why));
	if (rc == HM_ESTATE) {
		hm_err("%s: %s: another user could put their own socket there; use a directory "
		       "only hmacd's user (or root) may write, e.g. /run/hmacd", path, why);
		return HM_EINVAL;
	}
	if (rc != HM_OK) {
		hm_err("%s: its directory does not exist", path);
		return HM_EIO;
	}
	rc = clear_stale(path, &sa);
	if (rc != HM_OK)
		return rc;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		hm_err("socket: %s", strerror(errno));
		return HM_EIO;
	}
	/* bind creates the file with mode ~umask: make that `mode` or tighter from the start */
	old_mask = umask((mode_t)(~mode & 0777));
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	err = errno;
	umask(old_mask);
	if (rc != 0) {
		hm_err("bind %s: %s", path, strerror(err));
		goto fail;
	}
	if (chmod(path, mode) != 0) {
		hm_err("chmod %s: %s", path, strerror(errno));
		unlink(path);
		goto fail;
	}
	if (listen(fd, 1024) != 0) {
		hm_err("listen %s: %s", path, strerror(errno));
		unlink(path);
		goto fail;
	}
	*out = fd;
	return HM_OK;
fail:
	close(fd);
	return HM_EIO;
}

int hm_listen_inherited(int *out)
{
	const char *pid_s = getenv("LISTEN_PID"), *fds_s = getenv("LISTEN_FDS");
	struct sockaddr_un sa;
	socklen_t len;
	int type = 0, listening = 0, flags;
	const int fd = 3; /* SD_LISTEN_FDS_START */
	char *end = NULL;
	long pid;

	*out = -1;
	if (pid_s == NULL || fds_s == NULL)
		return HM_ENOTFOUND;
	errno = 0;
	pid = strtol(pid_s, &end, 10);
	if (errno != 0 || *end != '\0' || pid != (long)getpid())
		return HM_ENOTFOUND; /* meant for another process */
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (strcmp(fds_s, "1") != 0) {
		hm_err("LISTEN_FDS=%s: exactly one socket is supported", fds_s);
		return HM_EINVAL;
	}
	len = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM) {
		hm_err("LISTEN_FDS: fd 3 is not a stream socket");
		return HM_EINVAL;
	}
	len = sizeof(listening);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) {
		hm_err("LISTEN_FDS: fd 3 is not listening");
		return HM_EINVAL;
	}
	len = sizeof(sa);
	if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0 || sa.sun_family != AF_UNIX) {
		hm_err("LISTEN_FDS: fd 3 is not a Unix socket");
		return HM_EINVAL;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
		hm_err("LISTEN_FDS: fcntl: %s", strerror(errno));
		return HM_EINVAL;
	}
	*out = fd;
	return HM_OK;
}

int hm_listen_check_path(const char *path, char *why, size_t cap)
{
	struct sockaddr_un sa;
	struct stat st;
	int rc;

	if (cap > 0)
		why[0] = '\0';
	rc = make_addr(path, &sa);
	if (rc != HM_OK)
		return rc;
	rc = check_dir(&sa, why, cap);
	if (rc != HM_OK)
		return rc;
	if (lstat(path, &st) == 0) {
		int fd;

		if (!S_ISSOCK(st.st_mode))
			return HM_EEXIST;
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return HM_EIO;
		rc = connect(fd, (const struct sockaddr *)&sa, sizeof(sa));
		close(fd);
		if (rc == 0)
			return HM_EEXIST; /* a live daemon */
	}
	return HM_OK;
}

int hm_listen_owner_pid(const char *path, pid_t *pid)
{
	struct sockaddr_un sa;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd, rc;

	*pid = 0;
	rc = make_addr(path, &sa);
	if (rc != HM_OK)
		return rc;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return HM_EIO;
	rc = connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) == 0 ? HM_OK : HM_ENOTFOUND;
	if (rc == HM_OK && (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
			    len != sizeof(cred)))
		rc = HM_EIO;
	if (rc == HM_OK)
		*pid = cred.pid;
	close(fd);
	return rc;
}

void hm_listen_close(int fd, const char *path)
{
	if (fd >= 0)
		close(fd);
	if (path != NULL && unlink(path) != 0 && errno != ENOENT)
		hm_warn("unlink %s: %s", path, strerror(errno));
}
