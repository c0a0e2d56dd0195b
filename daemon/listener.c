/* listener.c - Unix socket creation with stale-socket handling (see listener.h). */
#include "listener.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

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

int hm_listen_unix(const char *path, mode_t mode, int *out)
{
	struct sockaddr_un sa;
	mode_t old_mask;
	int fd = -1, rc, err;

	*out = -1;
	rc = make_addr(path, &sa);
	if (rc != HM_OK) {
		hm_err("socket path is empty or longer than %zu bytes", sizeof(sa.sun_path) - 1);
		return rc;
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

void hm_listen_close(int fd, const char *path)
{
	if (fd >= 0)
		close(fd);
	if (path != NULL && unlink(path) != 0 && errno != ENOENT)
		hm_warn("unlink %s: %s", path, strerror(errno));
}
