/* spawn.c - start and stop a daemon process (see spawn.h). */
#include "bench/spawn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_WAIT_MS 10000

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

bool hm_spawn_can_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, rc;

	rc = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (rc < 0 || (size_t)rc >= sizeof(sa.sun_path))
		return false;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return rc == 0;
}

/* In the child: everything the options ask for, then exec. Never returns. */
static void child(const struct hm_spawn_opts *o)
{
	/* if the parent dies (a test that failed half-way), its daemon goes too */
	if (prctl(PR_SET_PDEATHSIG, o->death_signal != 0 ? o->death_signal : SIGKILL) != 0)
		_exit(126);
	/* a parent that ignores SIGPIPE hands that on across exec: the daemon sets its own */
	signal(SIGPIPE, SIG_DFL);
	if (o->stdout_to_stderr && dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
		_exit(126);
	if (o->cpus != NULL && sched_setaffinity(0, sizeof(*o->cpus), o->cpus) != 0) {
		fprintf(stderr, "sched_setaffinity: %s\n", strerror(errno));
		_exit(126);
	}
	if (o->nofile > 0) {
		struct rlimit rl = {o->nofile, o->nofile};

		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			_exit(126);
	}
	execvp(o->argv[0], (char *const *)o->argv);
	fprintf(stderr, "cannot run %s: %s\n", o->argv[0], strerror(errno));
	_exit(127);
}

/* "status 3", "signal 9": how a child ended. */
static void ended(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "wait status %d", status);
}

int hm_spawn_start(const struct hm_spawn_opts *o, pid_t *out, char *err, size_t errlen)
{
	int wait_ms = o->start_wait_ms > 0 ? o->start_wait_ms : DEFAULT_WAIT_MS, status;
	char how[32];
	pid_t pid;

	*out = -1;
	pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return HM_EIO;
	}
	if (pid == 0)
		child(o);
	for (int waited = 0; waited < wait_ms; waited += 10) {
		if (hm_spawn_can_connect(o->socket)) {
			*out = pid;
			return HM_OK;
		}
		if (waitpid(pid, &status, WNOHANG) == pid) {
			ended(status, how, sizeof(how));
			snprintf(err, errlen, "%s exited during start-up (%s)", o->argv[0], how);
			return HM_EIO;
		}
		sleep_ms(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	snprintf(err, errlen, "%s did not listen on %s within %d ms (killed)", o->argv[0],
		 o->socket, wait_ms);
	return HM_EIO;
}

int hm_spawn_wait(pid_t pid, int wait_ms, char *err, size_t errlen)
{
	char how[32];
	int status;

	if (wait_ms <= 0)
		wait_ms = DEFAULT_WAIT_MS;
	for (int waited = 0; waited < wait_ms; waited += 10) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
				return HM_OK;
			ended(status, how, sizeof(how));
			snprintf(err, errlen, "the daemon ended with %s", how);
			return HM_EIO;
		}
		sleep_ms(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	snprintf(err, errlen, "the daemon did not exit within %d ms (killed)", wait_ms);
	return HM_EIO;
}

int hm_spawn_stop(pid_t pid, int wait_ms, char *err, size_t errlen)
{
	if (kill(pid, SIGTERM) != 0) {
		snprintf(err, errlen, "kill(%ld, SIGTERM): %s", (long)pid, strerror(errno));
		return HM_EIO;
	}
	return hm_spawn_wait(pid, wait_ms, err, errlen);
}

int hm_spawn_free_port(uint16_t *port, char *err, size_t cap)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd, rc = HM_EIO;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, cap, "socket: %s", strerror(errno));
		return HM_EIO;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		snprintf(err, cap, "bind 127.0.0.1:0: %s", strerror(errno));
	else if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
		snprintf(err, cap, "getsockname: %s", strerror(errno));
	else
		rc = HM_OK;
	*port = ntohs(sa.sin_port);
	close(fd);
	return rc;
}
