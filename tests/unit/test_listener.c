/*
 * test_listener.c - creating and removing the daemon's socket file in a temporary directory:
 * mode and file type, non-blocking close-on-exec listening socket, a stale socket replaced, a
 * live listener's socket refused and left working, any other file (regular, directory, symlink)
 * refused and untouched, over-long and empty paths refused, a directory that another user could
 * use to replace the socket refused, and hm_listen_close removing the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/listener.h"
#include "server/log.h"

struct fx {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	static struct fx f;

	memset(&f, 0, sizeof(f));
	snprintf(f.dir, sizeof(f.dir), "/tmp/hmacd-test-listener-XXXXXX");
	assert_non_null(mkdtemp(f.dir));
	snprintf(f.path, sizeof(f.path), "%s/s", f.dir);
	hm_log_init(HM_LOG_ERROR); /* the "removing stale socket" line is info */
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static struct sockaddr_un addr(const char *path)
{
	struct sockaddr_un sa;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	assert_true(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path));
	return sa;
}

/* True if a client can connect to path (and the listener would accept it). */
static bool can_connect(const char *path)
{
	struct sockaddr_un sa = addr(path);
	int fd, rc;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return rc == 0;
}

static void test_create_mode_and_type(void **state)
{
	struct fx *f = *state;
	static const mode_t modes[] = {0600, 0660, 0666, 0700, 0};
	struct stat st;
	mode_t old_mask;
	int fd = -1;

	/* whatever the process umask, the file gets exactly the mode asked for */
	old_mask = umask(0);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		assert_int_equal(hm_listen_unix(f->path, modes[i], &fd), HM_OK);
		assert_true(fd >= 0);
		assert_int_equal(lstat(f->path, &st), 0);
		assert_true(S_ISSOCK(st.st_mode));
		assert_int_equal(st.st_mode & 07777, modes[i]);
		assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
		assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
		hm_listen_close(fd, f->path);
		assert_int_not_equal(lstat(f->path, &st), 0);
		assert_int_equal(errno, ENOENT);
	}
	/* the caller's umask is restored */
	assert_int_equal(umask(old_mask), 0);
}

static void test_listens(void **state)
{
	struct fx *f = *state;
	int fd = -1, c;

	assert_int_equal(hm_listen_unix(f->path, 0600, &fd), HM_OK);
	assert_true(can_connect(f->path));
	c = accept(fd, NULL, NULL);
	assert_true(c >= 0);
	close(c);
	/* non-blocking: nothing pending gives EAGAIN, not a hang */
	assert_int_equal(accept(fd, NULL, NULL), -1);
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	hm_listen_close(fd, f->path);
	assert_int_not_equal(access(f->path, F_OK), 0);
}

/* A socket file left by a daemon that died (bound, closed, never unlinked) is replaced. */
static void test_stale_socket_replaced(void **state)
{
	struct fx *f = *state;
	struct sockaddr_un sa = addr(f->path);
	struct stat st;
	int fd, old;

	old = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(old >= 0);
	assert_int_equal(bind(old, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(old, 1), 0);
	close(old);
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_false(can_connect(f->path));

	fd = -1;
	assert_int_equal(hm_listen_unix(f->path, 0600, &fd), HM_OK);
	assert_true(fd >= 0);
	assert_true(can_connect(f->path));
	hm_listen_close(fd, f->path);
}

/* A path where another daemon listens: refused, and that daemon keeps its socket. */
static void test_live_socket_refused(void **state)
{
	struct fx *f = *state;
	struct stat before, after;
	int live = -1, fd = 12345;

	assert_int_equal(hm_listen_unix(f->path, 0600, &live), HM_OK);
	assert_int_equal(lstat(f->path, &before), 0);
	assert_int_equal(hm_listen_unix(f->path, 0600, &fd), HM_EEXIST);
	assert_int_equal(fd, -1);
	assert_int_equal(lstat(f->path, &after), 0);
	assert_true(S_ISSOCK(after.st_mode));
	assert_int_equal(before.st_ino, after.st_ino); /* the same file, not re-created */
	assert_true(can_connect(f->path));
	hm_listen_close(live, f->path);
}

/* Anything else at the path is left exactly as it was. */
static void test_other_files_refused(void **state)
{
	struct fx *f = *state;
	static const char content[] = "not a socket\n";
	char target[160], buf[64];
	struct stat st;
	FILE *fp;
	int fd = 12345;
	ssize_t n;

	fp = fopen(f->path, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(content, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(hm_listen_unix(f->path, 0600, &fd), HM_EEXIST);
	assert_int_equal(fd, -1);
	fp = fopen(f->path, "r");
	assert_non_null(fp);
	n = (ssize_t)fread(buf, 1, sizeof(buf), fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(n, sizeof(content) - 1);
	assert_memory_equal(buf, content, sizeof(content) - 1);
	assert_int_equal(unlink(f->path), 0);

	/* a directory */
	assert_int_equal(mkdir(f->path, 0700), 0);
	assert_int_equal(hm_listen_unix(f->path, 0600, &fd), HM_EEXIST);
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(rmdir(f->path), 0);

	/* a symlink, even to a stale socket, is not followed or removed */
	snprintf(target, sizeof(target), "%s/stale", f->dir);
	{
		struct sockaddr_un sa = addr(target);
		int old = socket(AF_UNIX, SOCK_STREAM, 0);

		assert_true(old >= 0);
		assert_int_equal(bind(old, (struct sockaddr *)&sa, sizeof(sa)), 0);
		close(old);
	}
	assert_int_equal(symlink(target, f->path), 0);
	assert_int_equal(hm_listen_unix(f->path, 0600, &fd), HM_EEXIST);
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(lstat(target, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
}

static void test_bad_paths(void **state)
{
	struct fx *f = *state;
	struct sockaddr_un sa;
	char longpath[sizeof(sa.sun_path) + 16];
	int fd = 12345;

	(void)f;
	/* exactly sizeof(sun_path) bytes: no room for the NUL */
	memset(longpath, 'x', sizeof(longpath));
	longpath[0] = '/';
	longpath[sizeof(sa.sun_path)] = '\0';
	assert_int_equal(hm_listen_unix(longpath, 0600, &fd), HM_EINVAL);
	assert_int_equal(fd, -1);
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(hm_listen_unix(longpath, 0600, &fd), HM_EINVAL);
	assert_int_equal(hm_listen_unix("", 0600, &fd), HM_EINVAL);
	assert_int_equal(fd, -1);
}

/* mkdir path with exactly `mode` (mkdir applies the umask). */
static void mkdir_mode(const char *path, mode_t mode)
{
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* hm_listen_check_path and hm_listen_unix on path: HM_ESTATE / HM_EINVAL and no socket made. */
static void expect_unsafe(const char *path, const char *why_has)
{
	char why[512];
	int fd = 12345;

	assert_int_equal(hm_listen_check_path(path, why, sizeof(why)), HM_ESTATE);
	if (strstr(why, why_has) == NULL)
		fail_msg("%s: reason \"%s\" does not say \"%s\"", path, why, why_has);
	assert_int_equal(hm_listen_unix(path, 0600, &fd), HM_EINVAL);
	assert_int_equal(fd, -1);
	assert_int_not_equal(access(path, F_OK), 0);
}

/*
 * Issue 10, finding 3: a socket directory another user may write (sticky or not), or an
 * ancestor another user may write and is not sticky, lets that user put their own socket at
 * the path: refused, with the directory named. A sticky ancestor such as /tmp is fine as long
 * as the socket's own directory is private.
 */
static void test_unsafe_directories(void **state)
{
	struct fx *f = *state;
	char d[128], sub[160], path[200], why[512];
	int fd = -1;

	/* like /tmp: sticky and writable by everyone */
	snprintf(d, sizeof(d), "%s/tmp", f->dir);
	mkdir_mode(d, 01777);
	snprintf(path, sizeof(path), "%s/s", d);
	expect_unsafe(path, "writable by everyone");
	/* ... but a private directory in it is safe */
	snprintf(sub, sizeof(sub), "%s/private", d);
	mkdir_mode(sub, 0700);
	snprintf(path, sizeof(path), "%s/s", sub);
	assert_int_equal(hm_listen_check_path(path, why, sizeof(why)), HM_OK);
	assert_int_equal(hm_listen_unix(path, 0600, &fd), HM_OK);
	hm_listen_close(fd, path);
	/* writable by its group */
	snprintf(d, sizeof(d), "%s/grp", f->dir);
	mkdir_mode(d, 0770);
	snprintf(path, sizeof(path), "%s/s", d);
	expect_unsafe(path, "writable by its group");
	/* a private directory under an ancestor anyone may write, not sticky: renamable */
	snprintf(d, sizeof(d), "%s/open", f->dir);
	mkdir_mode(d, 0777);
	snprintf(sub, sizeof(sub), "%s/private", d);
	mkdir_mode(sub, 0700);
	snprintf(path, sizeof(path), "%s/s", sub);
	expect_unsafe(path, "writable by everyone and not sticky");
	/* through a symlink: judged where it leads */
	snprintf(sub, sizeof(sub), "%s/link", f->dir);
	assert_int_equal(symlink(d, sub), 0);
	snprintf(path, sizeof(path), "%s/s", sub);
	expect_unsafe(path, "writable by everyone");
	/* another user's directory (needs root to make one) */
	if (geteuid() == 0) {
		snprintf(d, sizeof(d), "%s/theirs", f->dir);
		mkdir_mode(d, 0755);
		assert_int_equal(chown(d, 65534, 65534), 0);
		snprintf(path, sizeof(path), "%s/s", d);
		expect_unsafe(path, "belongs to uid 65534");
	}
}

/* The longest path that fits (sizeof(sun_path) - 1 bytes) works. */
static void test_longest_path(void **state)
{
	struct fx *f = *state;
	struct sockaddr_un sa;
	char path[sizeof(sa.sun_path)];
	size_t n = strlen(f->dir);
	int fd = -1;

	memcpy(path, f->dir, n);
	path[n++] = '/';
	while (n < sizeof(path) - 1)
		path[n++] = 'y';
	path[n] = '\0';
	assert_int_equal(hm_listen_unix(path, 0600, &fd), HM_OK);
	assert_true(can_connect(path));
	hm_listen_close(fd, path);
	assert_int_not_equal(access(path, F_OK), 0);
}

/* hm_listen_close on a file already gone, or with no path, is harmless. */
static void test_close_tolerant(void **state)
{
	struct fx *f = *state;
	int fd = -1;

	assert_int_equal(hm_listen_unix(f->path, 0600, &fd), HM_OK);
	assert_int_equal(unlink(f->path), 0);
	hm_listen_close(fd, f->path);
	hm_listen_close(-1, f->path);
	hm_listen_close(-1, NULL);
}

/* The socket cannot be created (no such directory): a system error, no file, no fd. */
static void test_bind_fails(void **state)
{
	struct fx *f = *state;
	char path[160];
	int fd = 12345;

	snprintf(path, sizeof(path), "%s/missing/s", f->dir);
	assert_int_equal(hm_listen_unix(path, 0600, &fd), HM_EIO);
	assert_int_equal(fd, -1);
	assert_int_not_equal(access(path, F_OK), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_mode_and_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_socket_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_live_socket_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_files_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsafe_directories, setup, teardown),
		cmocka_unit_test_setup_teardown(test_longest_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_tolerant, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bind_fails, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
