/*
 * e2e_faults.c - faults and abuse against the real daemon, bounded in time and count, over
 * its Unix socket only:
 *  - kill -9 of hmacctl in the middle of rotations: no half-written epoch, no lost rotation;
 *  - kill -9 of hmacd under load, restarted: serving again, no wrong verdict;
 *  - hundreds of slow clients trickling a partial frame: closed at the frame deadline, while a
 *    normal client is served;
 *  - a client that never reads: the daemon's memory stays bounded;
 *  - file-descriptor exhaustion: no crash, no busy loop, recovery;
 *  - garbage frames interleaved with valid traffic: every valid item gets the right verdict;
 *  - key store growth past its initial map while the daemon serves.
 * Durations are printed for the notes; nothing here asserts a speed.
 */
#include <errno.h>
#include <fcntl.h>
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/frame.h"
#include "harness.h"
#include "store/keystore.h"
#include "proto/msg.h"

static uint64_t now(void)
{
	return (uint64_t)time(NULL);
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* A field of /proc/PID/status in kB (VmRSS, VmHWM), or 0. */
static long proc_kb(pid_t pid, const char *field)
{
	char path[64], line[256];
	long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, strlen(field)) == 0)
			v = strtol(line + strlen(field) + 1, NULL, 10);
	fclose(f);
	return v;
}

/* utime + stime of a process, in clock ticks. */
static long proc_cpu_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	if (fgets(buf, sizeof(buf), f) == NULL) {
		fclose(f);
		return -1;
	}
	fclose(f);
	p = strrchr(buf, ')');
	if (p == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (long)(ut + st);
}

static void test_kill9_hmacctl_during_rotations(void **state)
{
	struct hd d;
	uint8_t secret[32];
	char out[65536], cmd[512];
	const char *ctl = getenv("HMACCTL") ? getenv("HMACCTL") : "daemon/hmacctl";
	uint32_t printed_max = 1;
	unsigned killed = 0, done = 0;
	unsigned seed = 42;

	(void)state;
	hd_start(&d, "");
	hd_key_create(&d, "t1", "c1", secret);
	for (int i = 0; i < 60; i++) {
		int pipefd[2], status;
		pid_t pid;
		ssize_t n;

		assert_int_equal(pipe(pipefd), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			dup2(pipefd[1], STDOUT_FILENO);
			close(pipefd[0]);
			close(pipefd[1]);
			execl(ctl, ctl, "--db", d.db, "key", "rotate", "--tenant", "t1",
			      "--container", "c1", "--grace", "5", "--json", (char *)NULL);
			_exit(127);
		}
		close(pipefd[1]);
		/* kill at a random point between start-up and well after the commit */
		sleep_ms(rand_r(&seed) % 40);
		kill(pid, SIGKILL);
		n = read(pipefd[0], out, sizeof(out) - 1);
		close(pipefd[0]);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (WIFSIGNALED(status))
			killed++;
		else
			done++;
		if (n > 0) {
			char *e;

			out[n] = '\0';
			e = strstr(out, "\"epoch\":");
			if (e != NULL) {
				uint32_t ep = (uint32_t)strtoul(e + 8, NULL, 10);

				if (ep > printed_max)
					printed_max = ep;
			}
		}
	}
	printf("# hmacctl rotations: %u killed, %u finished\n", killed, done);
	/* the store opens clean and holds whole epochs 1..K, K >= every epoch ever printed */
	snprintf(cmd, sizeof(cmd), "key list --tenant t1 --json");
	assert_int_equal(hd_ctl(&d, out, sizeof(out), cmd), 0);
	{
		uint32_t expect = 1, currents = 0;
		char *p = out;

		while ((p = strstr(p, "\"epoch\":")) != NULL) {
			uint32_t ep = (uint32_t)strtoul(p + 8, NULL, 10);
			char *st = strstr(p, "\"state\":\"");

			assert_int_equal(ep, expect); /* contiguous: none half-written or lost */
			assert_non_null(st);
			if (strncmp(st + 9, "current", 7) == 0)
				currents++;
			expect++;
			p += 8;
		}
		assert_int_equal(currents, 1);
		assert_true(expect - 1 >= printed_max);
		printf("# epochs in the store: %u (highest printed by a finished rotate: %u)\n",
		       expect - 1, printed_max);
	}
	/* and the daemon serves the current epoch, whatever it is */
	{
		uint8_t s2[32], v = 0xff;
		uint32_t ep = hd_key_rotate(&d, "t1", "c1", 0, s2);
		struct hmacd_client *c = hd_client(&d);
		struct hd_req r;

		hd_req_init(&r, "t1", "c1", ep, now(), NULL, s2);
		assert_int_equal(hmacd_verify(c, &r.item, 1, &v), HMACD_OK);
		assert_int_equal(v, HMACD_V_OK);
		hmacd_close(c);
	}
	hd_stop(&d);
	hd_cleanup(&d);
}

/* A child process that verifies in a loop; exits 0 if it never saw a wrong verdict. */
static pid_t spawn_loader(struct hd *d, const uint8_t secret[32], const uint8_t bad[32])
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct hmacd_options o = {.timeout_ms = 2000};
		struct hmacd_client *c = NULL;
		struct hd_req good, wrong;
		struct hmacd_item items[16];
		uint8_t v[16];

		hd_req_init(&good, "t1", "c1", 1, now(), NULL, secret);
		hd_req_init(&wrong, "t1", "c1", 1, now(), NULL, bad);
		for (int i = 0; i < 16; i++)
			items[i] = i % 4 ? good.item : wrong.item;
		for (;;) {
			if (c == NULL && hmacd_connect(d->sock, &o, &c) != HMACD_OK) {
				c = NULL;
				sleep_ms(5);
				continue;
			}
			if (hmacd_verify(c, items, 16, v) != HMACD_OK)
				continue; /* daemon gone: the client reconnects on the next call */
			for (int i = 0; i < 16; i++)
				if (v[i] != (i % 4 ? HMACD_V_OK : HMACD_V_BAD_SIGNATURE))
					_exit(1);
		}
	}
	return pid;
}

static void test_kill9_hmacd_under_load(void **state)
{
	struct hd d;
	uint8_t secret[32], bad[32];
	pid_t loaders[3];
	int status;

	(void)state;
	hd_start(&d, "--threads 2");
	if (d.external)
		skip();
	hd_key_create(&d, "t1", "c1", secret);
	memset(bad, 7, sizeof(bad));
	for (int i = 0; i < 3; i++)
		loaders[i] = spawn_loader(&d, secret, bad);
	for (int round = 0; round < 5; round++) {
		double t0;
		struct hmacd_client *c = NULL;

		sleep_ms(300);
		hd_kill9(&d);
		t0 = mono();
		hd_restart(&d);
		/* serving again: a ping answers */
		for (;;) {
			struct hmacd_options o = {.timeout_ms = 1000};

			if (hmacd_connect(d.sock, &o, &c) == HMACD_OK && hmacd_ping(c) == HMACD_OK)
				break;
			hmacd_close(c);
			c = NULL;
			assert_true(mono() - t0 < 10.0);
			sleep_ms(2);
		}
		printf("# kill -9 round %d: serving again %.0f ms after the restart began\n", round,
		       (mono() - t0) * 1000);
		hmacd_close(c);
	}
	sleep_ms(300);
	for (int i = 0; i < 3; i++) {
		/* still running means it never saw a wrong verdict */
		assert_int_equal(waitpid(loaders[i], &status, WNOHANG), 0);
		kill(loaders[i], SIGKILL);
		waitpid(loaders[i], &status, 0);
	}
	hd_stop(&d);
	hd_cleanup(&d);
}

static void test_slow_clients_closed_at_deadline(void **state)
{
	struct hd d;
	uint8_t secret[32], buf[64];
	enum { SLOW = 300 };
	static int fds[SLOW];
	struct hmacd_client *c;
	struct hd_req r;
	double t0, worst = 0;

	(void)state;
	hd_start(&d, "--threads 2 --read-timeout 2");
	hd_key_create(&d, "t1", "c1", secret);
	for (int i = 0; i < SLOW; i++) {
		fds[i] = hd_raw_connect(&d);
		assert_true(hd_raw_send(fds[i], "\x00\x00\x01\x00\x83", 5)); /* 256 announced */
	}
	/* a normal client is served while they trickle */
	c = hd_client(&d);
	hd_req_init(&r, "t1", "c1", 1, now(), NULL, secret);
	t0 = mono();
	while (mono() - t0 < 1.0) {
		uint8_t v = 0xff;
		double a = mono();

		for (int i = 0; i < SLOW; i += 7)
			(void)hd_raw_send(fds[i], "\xa1", 1); /* one more byte, same frame */
		assert_int_equal(hmacd_verify(c, &r.item, 1, &v), HMACD_OK);
		assert_int_equal(v, HMACD_V_OK);
		if (mono() - a > worst)
			worst = mono() - a;
		sleep_ms(50); /* a trickle: far fewer bytes than the 256 announced */
	}
	printf("# normal client beside %d trickling ones: worst verify %.2f ms\n", SLOW,
	       worst * 1000);
	/* all of them are closed at their deadline, trickling or not */
	for (int i = 0; i < SLOW; i++) {
		assert_int_equal(hd_raw_recv(fds[i], buf, sizeof(buf), 10000), -1);
		close(fds[i]);
	}
	hmacd_close(c);
	hd_stop(&d);
	hd_cleanup(&d);
}

static void test_client_that_never_reads(void **state)
{
	struct hd d;
	uint8_t secret[32];
	struct hm_buf b;
	long rss0, rss1;
	size_t sent = 0;
	int fd;

	(void)state;
	hd_start(&d, "--threads 1");
	if (d.external)
		skip();
	hd_key_create(&d, "t1", "c1", secret);
	fd = hd_raw_connect(&d);
	hm_buf_init(&b, 8u << 20);
	for (unsigned i = 0; i < 200000; i++)
		hm_encode_simple_request(&b, i, HM_OP_STATS); /* large answers, small asks */
	assert_false(b.failed);
	rss0 = proc_kb(d.pid, "VmRSS:");
	/* push as much as the daemon takes in 2 s; it must stop reading, not buffer forever */
	{
		double t0 = mono();

		while (mono() - t0 < 2.0 && sent < b.len) {
			struct pollfd p = {.fd = fd, .events = POLLOUT};
			ssize_t n;

			if (poll(&p, 1, 100) <= 0)
				continue;
			n = send(fd, b.data + sent, b.len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0)
				sent += (size_t)n;
		}
	}
	rss1 = proc_kb(d.pid, "VmRSS:");
	printf("# never-reading client: %zu of %zu request bytes accepted, daemon RSS %ld -> %ld kB\n",
	       sent, b.len, rss0, rss1);
	assert_true(sent < b.len);          /* back-pressure reached the client */
	assert_true(rss1 - rss0 < 32 * 1024); /* bounded: well under 32 MB of growth */
	close(fd);
	hm_buf_free(&b);
	hd_stop(&d);
	hd_cleanup(&d);
}

static void test_fd_exhaustion(void **state)
{
	struct hd d;
	enum { N = 80 };
	int fds[N];
	long cpu0, cpu1;
	uint8_t secret[32];

	(void)state;
	if (getenv("HMACD_TEST_SOCKET") != NULL || getenv("HMACD_TEST_VALGRIND") != NULL)
		skip(); /* valgrind needs descriptors of its own */
	hd_start_nofile(&d, "--threads 1", 40); /* 40 descriptors: fewer than the clients */
	hd_key_create(&d, "t1", "c1", secret);
	for (int i = 0; i < N; i++)
		fds[i] = hd_raw_connect(&d); /* the kernel backlog takes what hmacd cannot */
	sleep_ms(300);
	cpu0 = proc_cpu_ticks(d.pid);
	sleep_ms(1000);
	cpu1 = proc_cpu_ticks(d.pid);
	printf("# fd exhaustion: daemon used %ld ticks of CPU in 1 s while out of fds\n",
	       cpu1 - cpu0);
	assert_true(cpu1 - cpu0 < 50); /* not a busy loop: under half a CPU-second */
	for (int i = 0; i < N; i++)
		close(fds[i]);
	/* recovery: a new client is served */
	{
		struct hmacd_client *c = NULL;
		struct hmacd_options o = {.timeout_ms = 5000};
		double t0 = mono();

		while (hmacd_connect(d.sock, &o, &c) != HMACD_OK || hmacd_ping(c) != HMACD_OK) {
			hmacd_close(c);
			c = NULL;
			assert_true(mono() - t0 < 10.0);
			sleep_ms(20);
		}
		hmacd_close(c);
	}
	hd_stop(&d);
	hd_cleanup(&d);
}

static void test_garbage_interleaved_with_valid(void **state)
{
	struct hd d;
	uint8_t secret[32], bad[32], junk[300];
	struct hmacd_client *c;
	struct hd_req good, wrong;
	struct hmacd_item items[8];
	unsigned seed = 7, checked = 0;

	(void)state;
	hd_start(&d, "--threads 2 --max-frame 4096");
	hd_key_create(&d, "t1", "c1", secret);
	memset(bad, 1, sizeof(bad));
	c = hd_client(&d);
	hd_req_init(&good, "t1", "c1", 1, now(), NULL, secret);
	hd_req_init(&wrong, "t1", "c1", 1, now(), NULL, bad);
	for (int i = 0; i < 8; i++)
		items[i] = i % 3 ? good.item : wrong.item;
	for (int i = 0; i < 3000; i++) {
		int fd = hd_raw_connect(&d);
		size_t n = (size_t)(rand_r(&seed) % sizeof(junk));

		for (size_t k = 0; k < n; k++)
			junk[k] = (uint8_t)rand_r(&seed);
		if (n >= 4 && i % 3 == 0) {
			uint32_t len = (uint32_t)(n - 4);

			hm_frame_put_header(junk, len); /* a whole frame of garbage */
		}
		(void)hd_raw_send(fd, junk, n);
		close(fd);
		if (i % 10 == 0) {
			uint8_t v[8];

			assert_int_equal(hmacd_verify(c, items, 8, v), HMACD_OK);
			for (int k = 0; k < 8; k++)
				assert_int_equal(v[k], k % 3 ? HMACD_V_OK : HMACD_V_BAD_SIGNATURE);
			checked += 8;
		}
	}
	printf("# 3000 garbage connections, %u valid items checked between them\n", checked);
	hmacd_close(c);
	hd_stop(&d);
	hd_cleanup(&d);
}

/* Thousands of scopes created while the daemon serves, past the store's initial 8 MiB map. */
static void test_store_growth_while_serving(void **state)
{
	struct hd d;
	uint8_t secret[32], last[32];
	struct hmacd_client *c;
	char tenant[129], container[129];
	pid_t pid;
	int status;
	const int n = 24000;

	(void)state;
	hd_start(&d, "--threads 2");
	if (d.external)
		skip();
	hd_key_create(&d, "t1", "c1", secret);
	memset(tenant, 'T', 128);
	tenant[128] = '\0';
	pid = fork(); /* a writer process, as hmacctl would be (LMDB: one env per process) */
	assert_true(pid >= 0);
	if (pid == 0) {
		struct hm_keystore *ks = NULL;
		char err[256];
		uint8_t s[32];

		if (hm_ks_open(d.db, 0, &ks, err, sizeof(err)) != HM_OK)
			_exit(2);
		for (int i = 0; i < n; i++) {
			snprintf(container, sizeof(container), "%0120d", i);
			if (hm_ks_create(ks, tenant, container, (int64_t)time(NULL), NULL, s,
					 NULL) != HM_OK)
				_exit(3);
		}
		/* hand the last secret to the parent */
		{
			char path[200];
			FILE *f;

			snprintf(path, sizeof(path), "%s/last.key", d.dir);
			f = fopen(path, "w");
			if (f == NULL || fwrite(s, 1, 32, f) != 32)
				_exit(4);
			fclose(f);
		}
		hm_ks_close(ks);
		_exit(0);
	}
	c = hd_client(&d);
	{
		struct hd_req r;
		uint8_t v;
		unsigned rounds = 0;

		hd_req_init(&r, "t1", "c1", 1, now(), NULL, secret);
		/* keep verifying while the store grows */
		while (waitpid(pid, &status, WNOHANG) == 0) {
			assert_int_equal(hmacd_verify(c, &r.item, 1, &v), HMACD_OK);
			assert_int_equal(v, HMACD_V_OK);
			rounds++;
			sleep_ms(2);
		}
		printf("# %d scopes created while %u verifies ran\n", n, rounds);
	}
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	{
		char path[200];
		struct stat st;

		snprintf(path, sizeof(path), "%s/data.mdb", d.db);
		assert_int_equal(stat(path, &st), 0);
		printf("# store file now %lld bytes (initial map 8 MiB)\n", (long long)st.st_size);
		assert_true(st.st_size > 8 * 1024 * 1024); /* the map really grew */
	}
	{
		char path[200];
		FILE *f;
		struct hd_req r;
		uint8_t v = 0xff;

		snprintf(path, sizeof(path), "%s/last.key", d.dir);
		f = fopen(path, "r");
		assert_non_null(f);
		assert_int_equal(fread(last, 1, 32, f), 32);
		fclose(f);
		snprintf(container, sizeof(container), "%0120d", n - 1);
		hd_req_init(&r, tenant, container, 1, now(), NULL, last);
		assert_int_equal(hmacd_verify(c, &r.item, 1, &v), HMACD_OK);
		assert_int_equal(v, HMACD_V_OK); /* the newest scope, past the initial map */
	}
	hmacd_close(c);
	hd_stop(&d);
	hd_cleanup(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill9_hmacctl_during_rotations),
		cmocka_unit_test(test_kill9_hmacd_under_load),
		cmocka_unit_test(test_slow_clients_closed_at_deadline),
		cmocka_unit_test(test_client_that_never_reads),
		cmocka_unit_test(test_fd_exhaustion),
		cmocka_unit_test(test_garbage_interleaved_with_valid),
		cmocka_unit_test(test_store_growth_while_serving),
	};

	alarm(300);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
