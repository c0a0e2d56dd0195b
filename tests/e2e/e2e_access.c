/*
 * e2e_access.c - who may talk to the daemon, and how it is operated: --allow-uid/--allow-gid
 * (SO_PEERCRED, checked before any payload), the socket's mode, systemd socket activation
 * (LISTEN_FDS), --check-config, and SIGHUP reopening --log-file.
 *
 * The peer-credential tests switch a child process to another user and so need root; they
 * skip otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define NOBODY 65534 /* uid of nobody, gid of nogroup on Debian */

static const char *hmacd_bin(void)
{
	const char *b = getenv("HMACD");

	return b != NULL ? b : "daemon/hmacd";
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/*
 * Runs hmacd_ping in a child with the given uid/gid and supplementary group (or none when it is
 * (gid_t)-1). Returns the child's exit code: 0 ping ok, 1 connect failed, 2 connected but the
 * daemon closed without answering.
 */
static int ping_as_groups(const char *sock, uid_t uid, gid_t gid, gid_t extra)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct hmacd_options o = {.timeout_ms = 5000, .server_user = "root"};
		struct hmacd_client *c = NULL;
		int rc;

		if (setgroups(extra != (gid_t)-1 ? 1 : 0, &extra) != 0 || setgid(gid) != 0 ||
		    setuid(uid) != 0)
			_exit(3);
		if (hmacd_connect(sock, &o, &c) != HMACD_OK)
			_exit(1);
		rc = hmacd_ping(c);
		hmacd_close(c);
		_exit(rc == HMACD_OK ? 0 : 2);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static int ping_as(const char *sock, uid_t uid, gid_t gid)
{
	return ping_as_groups(sock, uid, gid, (gid_t)-1);
}

/* One counter of `hmacctl stats` (lines "name value"). */
static uint64_t stat_value(struct hd *d, const char *name)
{
	char out[8192], args[256], key[96], *p;

	snprintf(args, sizeof(args), "--socket %s stats", d->sock);
	assert_int_equal(hd_ctl(d, out, sizeof(out), args), 0);
	snprintf(key, sizeof(key), "\n%s ", name);
	p = strstr(out, key);
	assert_non_null(p);
	return strtoull(p + strlen(key), NULL, 10);
}

static void need_root(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "# not root: cannot switch users to test peer credentials\n");
		skip();
	}
}

static void test_allow_uid(void **state)
{
	struct hd d;

	(void)state;
	need_root();
	hd_start(&d, "--allow-uid 0 --socket-mode 0666");
	if (d.external)
		skip();
	assert_int_equal(chmod(d.dir, 0711), 0); /* others may reach the socket */
	assert_int_equal(ping_as(d.sock, 0, 0), 0);
	/* another user can open the socket (mode 0666) but is closed before being read */
	assert_int_equal(ping_as(d.sock, NOBODY, NOBODY), 2);
	/*
	 * One refused connection, or two: if the daemon closed it before the ping was written, the
	 * client library reconnects once (nothing had been sent) and is refused again.
	 */
	assert_in_range(stat_value(&d, "connections_refused_peer"), 1, 2);
	hd_stop(&d);
	hd_cleanup(&d);
}

static void test_allow_gid(void **state)
{
	struct hd d;

	(void)state;
	need_root();
	hd_start(&d, "--allow-gid nogroup --socket-mode 0666");
	if (d.external)
		skip();
	assert_int_equal(chmod(d.dir, 0711), 0);
	assert_int_equal(ping_as(d.sock, NOBODY, NOBODY), 0);
	assert_int_equal(ping_as(d.sock, 0, 0), 2); /* root is not special */
	assert_int_equal(ping_as(d.sock, NOBODY, 0), 2);
	/*
	 * Issue 10, finding 6: a member of the group by a supplementary group (how an app
	 * server's user joins hmacd-clients) is let in; one in other groups only is not.
	 */
	assert_int_equal(ping_as_groups(d.sock, NOBODY, 1, NOBODY), 0);
	assert_int_equal(ping_as_groups(d.sock, NOBODY, 1, 2), 2);
	hd_stop(&d);
	hd_cleanup(&d);
}

/* The default mode 0660 keeps others out at connect(2), before the daemon sees them. */
static void test_socket_mode_keeps_others_out(void **state)
{
	struct hd d;
	struct stat st;

	(void)state;
	need_root();
	hd_start(&d, "");
	if (d.external)
		skip();
	/* let nobody traverse the temp dir, so only the socket's own mode decides */
	assert_int_equal(chmod(d.dir, 0711), 0);
	assert_int_equal(stat(d.sock, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0660);
	assert_int_equal(ping_as(d.sock, NOBODY, NOBODY), 1);
	assert_int_equal(ping_as(d.sock, 0, 0), 0);
	hd_stop(&d);
	hd_cleanup(&d);
}

static void test_socket_activation(void **state)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char dir[] = "/tmp/hmacd-e2e-act-XXXXXX", sock[128], db[128], cmd[256];
	struct hmacd_client *c = NULL;
	int lfd, status, n;
	pid_t pid;

	(void)state;
	if (getenv("HMACD_TEST_SOCKET") != NULL)
		skip();
	assert_non_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/act.sock", dir);
	snprintf(db, sizeof(db), "%s/db", dir);
	n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	assert_true(n > 0 && (size_t)n < sizeof(sa.sun_path));
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 16), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char pidbuf[32];

		if (dup2(lfd, 3) < 0)
			_exit(126);
		snprintf(pidbuf, sizeof(pidbuf), "%ld", (long)getpid());
		setenv("LISTEN_PID", pidbuf, 1);
		setenv("LISTEN_FDS", "1", 1);
		execl(hmacd_bin(), hmacd_bin(), "--socket", sock, "--db", db, "--log-level",
		      "warn", (char *)NULL);
		_exit(127);
	}
	close(lfd);
	/* the socket already listens: the first connect queues until hmacd accepts it */
	assert_int_equal(hmacd_connect(sock, NULL, &c), HMACD_OK);
	assert_int_equal(hmacd_ping(c), HMACD_OK);
	hmacd_close(c);
	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* the service manager owns the socket file: hmacd must leave it */
	assert_int_equal(access(sock, F_OK), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_check_config(void **state)
{
	char cmd[512], ww[] = "/tmp/hmacd-e2e-ww-XXXXXX", ok[] = "/tmp/hmacd-e2e-ok-XXXXXX";
	int rc;

	(void)state;
	/* a socket directory anybody may write (not sticky): anyone could swap the socket */
	assert_non_null(mkdtemp(ww));
	assert_int_equal(chmod(ww, 0777), 0);
	snprintf(cmd, sizeof(cmd), "%s --socket %s/s --db %s/db --check-config >/dev/null 2>&1",
		 hmacd_bin(), ww, ww);
	rc = system(cmd);
	assert_int_equal(WEXITSTATUS(rc), 1);
	snprintf(cmd, sizeof(cmd), "%s --socket %s/s --db %s/db --log-level error 2>/dev/null",
		 hmacd_bin(), ww, ww);
	rc = system(cmd);
	assert_int_equal(WEXITSTATUS(rc), 1); /* refuses to start there */
	snprintf(cmd, sizeof(cmd), "%s/s", ww);
	assert_int_not_equal(access(cmd, F_OK), 0); /* and made no socket */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", ww);
	assert_int_equal(system(cmd), 0);

	/* a private directory: fine, and nothing is created by the check */
	assert_non_null(mkdtemp(ok));
	snprintf(cmd, sizeof(cmd), "%s --socket %s/s --db %s/db --check-config >/dev/null 2>&1",
		 hmacd_bin(), ok, ok);
	rc = system(cmd);
	assert_true(WIFEXITED(rc));
	assert_int_equal(WEXITSTATUS(rc), 0);
	snprintf(cmd, sizeof(cmd), "%s/db", ok);
	assert_int_not_equal(access(cmd, F_OK), 0); /* nothing created */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", ok);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "%s --socket /nonexistent-dir/x.sock --db /tmp/hmacd-cc-none "
		 "--check-config >/dev/null 2>&1", hmacd_bin());
	rc = system(cmd);
	assert_int_equal(WEXITSTATUS(rc), 1);
	snprintf(cmd, sizeof(cmd), "%s --socket /tmp/x.sock --db /tmp/y --allow-uid no-such-user-x "
		 "--check-config >/dev/null 2>&1", hmacd_bin());
	rc = system(cmd);
	assert_int_equal(WEXITSTATUS(rc), 2);
}

/* ---- the systemd units, under systemd-socket-activate (issue 10, finding 6) ---- */

#define ARGV_MAX 32

/*
 * The command of `key=` in daemon/hmacd.service, split on spaces into argv (pointing into buf),
 * with the unit's paths swapped for this test's: the binary, socket, store and clients' group.
 * Returns argc.
 */
static int unit_command(const char *key, const char *sock, const char *db, char *buf,
			size_t cap, char *argv[ARGV_MAX])
{
	char line[1024], *w, *save = NULL;
	FILE *f = fopen(HMACD_UNIT_DIR "/hmacd.service", "r");
	size_t klen = strlen(key);
	int argc = 0, n = 0;

	assert_non_null(f);
	buf[0] = '\0';
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, key, klen) == 0 && line[klen] == '=') {
			line[strcspn(line, "\n")] = '\0';
			memmove(line, line + klen + 1, strlen(line + klen + 1) + 1);
			break;
		}
		line[0] = '\0';
	}
	fclose(f);
	assert_true(line[0] != '\0');
	for (w = strtok_r(line, " ", &save); w != NULL; w = strtok_r(NULL, " ", &save)) {
		const char *sub = w;

		if (strcmp(w, "/usr/sbin/hmacd") == 0)
			sub = hmacd_bin();
		else if (strcmp(w, "/run/hmacd/hmacd.sock") == 0)
			sub = sock;
		else if (strcmp(w, "/var/lib/hmacd") == 0)
			sub = db;
		else if (strcmp(w, "hmacd-clients") == 0)
			sub = "root"; /* the group need not exist here */
		assert_true(argc < ARGV_MAX - 1 && (size_t)n + strlen(sub) + 1 <= cap);
		argv[argc++] = strcpy(buf + n, sub);
		n += (int)strlen(sub) + 1;
	}
	argv[argc] = NULL;
	return argc;
}

/* Starts `systemd-socket-activate -l sock argv...` with its stdout into *out_fd. */
static pid_t socket_activate(const char *sock, char *const argv[], int *out_fd)
{
	char *full[ARGV_MAX + 4];
	int p[2], i = 0;
	pid_t pid;

	full[i++] = (char *)"systemd-socket-activate";
	full[i++] = (char *)"-l";
	full[i++] = (char *)sock;
	for (int k = 0; argv[k] != NULL; k++)
		full[i++] = argv[k];
	full[i] = NULL;
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(p[1], 1);
		if (null >= 0)
			dup2(null, 2);
		close(p[0]);
		execvp(full[0], full);
		_exit(127);
	}
	close(p[1]);
	*out_fd = p[0];
	return pid;
}

/* Connects once (a service manager starts the service on the first connection). */
static int knock(const char *sock)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_true(strlen(sock) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, sock, strlen(sock));
	for (int i = 0; i < 500; i++) {
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		sleep_ms(10);
	}
	fail_msg("nobody listens on %s", sock);
	return -1;
}

static long read_all(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;

	while (n + 1 < cap && (r = read(fd, buf + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	close(fd);
	return (long)n;
}

/*
 * The units as shipped: ExecStartPre= (--check-config) and ExecStart= of hmacd.service run
 * under systemd-socket-activate, which passes a listening socket as systemd does (LISTEN_FDS).
 * --check-config used to connect to the socket systemd held, see "a live daemon" and exit 1,
 * so socket activation never started the service. Also: the check as systemd really runs
 * ExecStartPre= (no LISTEN_FDS, the socket held by its parent) passes, and another daemon on
 * the path still fails it.
 */
static void test_systemd_units(void **state)
{
	char dir[] = "/tmp/hmacd-e2e-unit-XXXXXX", sock[128], db[128], buf[1024], out[2048];
	char *argv[ARGV_MAX];
	struct hd d = {.pid = -1};
	struct hd_req r;
	struct hmacd_client *c;
	uint8_t secret[32], v = 0xff;
	int fd, ofd, status;
	pid_t pid;

	(void)state;
	if (getenv("HMACD_TEST_SOCKET") != NULL)
		skip();
	if (system("command -v systemd-socket-activate >/dev/null 2>&1") != 0) {
		fprintf(stderr, "# systemd-socket-activate is not installed (package systemd)\n");
		skip();
	}
	assert_non_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/hmacd.sock", dir);
	snprintf(db, sizeof(db), "%s/db", dir);
	snprintf(d.db, sizeof(d.db), "%s", db);
	snprintf(d.sock, sizeof(d.sock), "%s", sock);

	/* ExecStartPre=, socket-activated */
	unit_command("ExecStartPre", sock, db, buf, sizeof(buf), argv);
	pid = socket_activate(sock, argv, &ofd);
	fd = knock(sock);
	read_all(ofd, out, sizeof(out));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(fd);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) != 0 || strstr(out, "configuration ok") == NULL)
		fail_msg("ExecStartPre under socket activation: exit %d, said: %s",
			 WEXITSTATUS(status), out);
	unlink(sock);

	/* ExecStartPre= as systemd runs it: no LISTEN_FDS, the socket held by the parent */
	{
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		int lfd = socket(AF_UNIX, SOCK_STREAM, 0);

		memcpy(sa.sun_path, sock, strlen(sock));
		assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		assert_int_equal(listen(lfd, 4), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			int null = open("/dev/null", O_WRONLY);

			close(lfd);
			if (null >= 0) {
				dup2(null, 1);
				dup2(null, 2);
			}
			execv(argv[0], argv);
			_exit(127);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_int_equal(WEXITSTATUS(status), 0);
		/* the same socket held by someone else (a grandchild): a live daemon, refused */
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			pid_t g = fork();
			int st2 = -1;

			if (g == 0) {
				int null = open("/dev/null", O_WRONLY);

				if (null >= 0) {
					dup2(null, 1);
					dup2(null, 2);
				}
				execv(argv[0], argv);
				_exit(127);
			}
			waitpid(g, &st2, 0);
			_exit(WIFEXITED(st2) ? WEXITSTATUS(st2) : 126);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_int_equal(WEXITSTATUS(status), 1);
		close(lfd);
		unlink(sock);
	}

	/* ExecStart=, socket-activated: a signed request verifies */
	assert_int_equal(hd_ctl(&d, NULL, 0, "init"), 0);
	hd_key_create(&d, "t1", "c1", secret);
	unit_command("ExecStart", sock, db, buf, sizeof(buf), argv);
	pid = socket_activate(sock, argv, &ofd);
	close(knock(sock)); /* starts it (systemd would, on the first connection) */
	c = hd_client(&d);
	/*
	 * hmacd may have started in the second after ours: a nonce item signed before its (new)
	 * nonce table began would be REPLAY. Sign one second ahead (well inside --skew).
	 */
	hd_req_init(&r, "t1", "c1", 1, (uint64_t)time(NULL) + 1, "unit-nonce", secret);
	assert_int_equal(hmacd_verify(c, &r.item, 1, &v), HMACD_OK);
	assert_int_equal(v, HMACD_V_OK);
	assert_int_equal(hmacd_verify(c, &r.item, 1, &v), HMACD_OK);
	assert_int_equal(v, HMACD_V_REPLAY);
	hmacd_close(c);
	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(ofd);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(access(sock, F_OK), 0); /* the service manager's: left in place */
	snprintf(out, sizeof(out), "rm -rf '%s'", dir);
	assert_int_equal(system(out), 0);
}

static bool file_has(const char *path, const char *needle)
{
	char buf[16384];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

/* How many mappings of pid are left out of core dumps (VmFlags "dd"), kernel ones aside. */
static int dontdump_mappings(pid_t pid)
{
	char path[64], line[512], head[512] = "";
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/smaps", (long)pid);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "VmFlags:", 8) != 0) {
			if (strchr(line, '-') != NULL && strchr(line, ':') != NULL &&
			    line[0] != ' ' && strchr(line, ' ') > strchr(line, '-'))
				snprintf(head, sizeof(head), "%s", line);
			continue;
		}
		if (strstr(line, " dd") != NULL && strchr(head, '[') == NULL)
			n++;
	}
	fclose(f);
	return n;
}

/*
 * Issue 10, finding 7: keys must not reach a core file or another process of the same user.
 * hmacd, run as nobody, is not dumpable (its /proc files belong to root, so nobody's other
 * processes cannot read its memory or ptrace it), has a core limit of 0, and its key caches
 * are mappings marked MADV_DONTDUMP.
 */
static void test_keys_stay_out_of_dumps(void **state)
{
	char dir[] = "/tmp/hmacd-e2e-dump-XXXXXX", sock[128], db[128], path[64], cmd[128];
	struct stat st;
	int status;
	pid_t pid;

	(void)state;
	need_root();
	if (getenv("HMACD_TEST_VALGRIND") != NULL)
		skip(); /* valgrind's own mappings and limits */
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chown(dir, NOBODY, NOBODY), 0);
	snprintf(sock, sizeof(sock), "%s/hmacd.sock", dir);
	snprintf(db, sizeof(db), "%s/db", dir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
			_exit(126);
		execl(hmacd_bin(), hmacd_bin(), "--socket", sock, "--db", db, "--threads", "2",
		      "--key-cache", "1024", "--nonce-cache", "1024", "--log-level", "warn",
		      (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500 && access(sock, F_OK) != 0; i++)
		sleep_ms(10);
	assert_int_equal(access(sock, F_OK), 0);
	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	assert_true(file_has(path, "\nUid:\t65534\t65534"));
	snprintf(path, sizeof(path), "/proc/%ld/environ", (long)pid);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, 0); /* not dumpable: the kernel hands its /proc files to root */
	snprintf(path, sizeof(path), "/proc/%ld/limits", (long)pid);
	assert_true(file_has(path, "Max core file size        0                    0"));
	assert_true(dontdump_mappings(pid) >= 1);
	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}


/*
 * An impostor: a child that becomes `uid`, listens on path, tells the parent through ready[1],
 * and accepts connections until the parent closes ctl, then writes how many bytes all its
 * clients sent to report[1].
 */
static pid_t impostor(const char *path, uid_t uid, int ready, int ctl, int report)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		long total = 0;
		int lfd;

		if (setgroups(0, NULL) != 0 || setgid(uid) != 0 || setuid(uid) != 0)
			_exit(3);
		if (strlen(path) >= sizeof(sa.sun_path))
			_exit(2);
		memcpy(sa.sun_path, path, strlen(path));
		lfd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
		    listen(lfd, 16) != 0 || write(ready, "r", 1) != 1)
			_exit(4);
		for (;;) {
			struct pollfd p[2] = {{lfd, POLLIN, 0}, {ctl, POLLIN, 0}};
			char buf[4096];
			ssize_t n;
			int fd;

			if (poll(p, 2, 10000) <= 0 || (p[1].revents & (POLLIN | POLLHUP)))
				break;
			fd = accept(lfd, NULL, NULL);
			if (fd < 0)
				continue;
			/* whatever a client sends within 200 ms counts */
			struct pollfd q = {fd, POLLIN, 0};

			while (poll(&q, 1, 200) > 0 && (n = read(fd, buf, sizeof(buf))) > 0)
				total += n;
			close(fd);
		}
		_exit(write(report, &total, sizeof(total)) == sizeof(total) ? 0 : 5);
	}
	return pid;
}

/*
 * Issue 10, finding 3: socket squatting. In a directory like /tmp (sticky, writable by
 * everyone) any local user can take the socket's name; hmacd refuses such a directory at start
 * and in --check-config, and a client refuses a server that is neither the directory's owner
 * nor root (here: nobody, answering in root's /tmp-like directory) before sending a byte;
 * hmacctl ping says why. Naming the impostor's user (server_user) is the only way to talk to it.
 */
static void test_socket_squatting(void **state)
{
	char dir[] = "/tmp/hmacd-e2e-squat-XXXXXX", sock[128], cmd[512], out[4096];
	struct hmacd_options o = {.timeout_ms = 2000};
	struct hmacd_client *c = NULL;
	int ready[2], ctl[2], report[2], status;
	long received = -1;
	FILE *p;
	size_t n;
	pid_t pid;
	char r;

	(void)state;
	need_root();
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 01777), 0);
	snprintf(sock, sizeof(sock), "%s/hmacd.sock", dir);

	/* the daemon will not listen there, and --check-config says why */
	snprintf(cmd, sizeof(cmd), "%s --socket %s --db %s/db --check-config 2>&1", hmacd_bin(),
		 sock, dir);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	status = pclose(p);
	assert_int_equal(WEXITSTATUS(status), 1);
	if (strstr(out, "is writable by everyone") == NULL ||
	    strstr(out, "another user could put their own socket there") == NULL)
		fail_msg("--check-config said: %s", out);
	snprintf(cmd, sizeof(cmd), "%s --socket %s --db %s/db --log-level error 2>/dev/null",
		 hmacd_bin(), sock, dir);
	assert_int_equal(WEXITSTATUS(system(cmd)), 1);
	assert_int_not_equal(access(sock, F_OK), 0);

	/* nobody takes the name */
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(ctl), 0);
	assert_int_equal(pipe(report), 0);
	pid = impostor(sock, NOBODY, ready[1], ctl[0], report[1]);
	close(ready[1]);
	close(ctl[0]);
	close(report[1]);
	assert_int_equal(read(ready[0], &r, 1), 1);

	/* libhmacd: refused, nothing sent */
	assert_int_equal(hmacd_connect(sock, &o, &c), HMACD_EPEER);
	assert_null(c);
	/* hmacctl says so */
	snprintf(cmd, sizeof(cmd), "%s --socket %s ping 2>&1",
		 getenv("HMACCTL") != NULL ? getenv("HMACCTL") : "daemon/hmacctl", sock);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	status = pclose(p);
	assert_int_equal(WEXITSTATUS(status), 1);
	if (strstr(out, "unexpected user") == NULL)
		fail_msg("hmacctl ping said: %s", out);
	/* only when told to trust that user */
	o.server_user = "nobody";
	assert_int_equal(hmacd_connect(sock, &o, &c), HMACD_OK);
	hmacd_close(c);

	close(ctl[1]); /* the impostor stops and reports */
	assert_int_equal(read(report[0], &received, sizeof(received)), sizeof(received));
	assert_int_equal(received, 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(ready[0]);
	close(report[0]);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_sighup_reopens_log_file(void **state)
{
	struct hd d;
	char extra[256], log[160], rotated[176];

	(void)state;
	snprintf(log, sizeof(log), "/tmp/hmacd-e2e-log-%ld.log", (long)getpid());
	snprintf(rotated, sizeof(rotated), "%s.1", log);
	unlink(log);
	unlink(rotated);
	snprintf(extra, sizeof(extra), "--log-file %s --log-level info", log);
	setenv("HMACD_TEST_LOG_LEVEL", "info", 1);
	hd_start(&d, extra);
	unsetenv("HMACD_TEST_LOG_LEVEL");
	if (d.external)
		skip();
	/* the socket accepts a moment before the start-up line is written */
	for (int i = 0; i < 500 && !file_has(log, "listening on"); i++)
		sleep_ms(10);
	assert_true(file_has(log, "listening on"));
	assert_int_equal(rename(log, rotated), 0);
	assert_int_equal(kill(d.pid, SIGHUP), 0);
	for (int i = 0; i < 500 && !file_has(log, "SIGHUP: reopened"); i++)
		sleep_ms(10);
	assert_true(file_has(log, "SIGHUP: reopened"));
	assert_false(file_has(rotated, "SIGHUP"));
	hd_stop(&d);
	assert_true(file_has(log, "stopped"));
	hd_cleanup(&d);
	unlink(log);
	unlink(rotated);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allow_uid),
		cmocka_unit_test(test_allow_gid),
		cmocka_unit_test(test_socket_mode_keeps_others_out),
		cmocka_unit_test(test_socket_activation),
		cmocka_unit_test(test_systemd_units),
		cmocka_unit_test(test_check_config),
		cmocka_unit_test(test_socket_squatting),
		cmocka_unit_test(test_keys_stay_out_of_dumps),
		cmocka_unit_test(test_sighup_reopens_log_file),
	};

	alarm(120);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
