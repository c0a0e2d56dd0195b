/*
 * e2e_backup.c - the audit trail, backup and restore (issue 15) against the real daemon: a
 * backup taken while a client verifies without pause is consistent and mode 0600; restored into
 * a new store, a new hmacd verifies its keys; restored over the running daemon's store it is
 * refused without --force, and with --force the running daemon verifies the restored keys and
 * no longer knows a key created after the backup, without a restart; every change, the restore
 * included, is in the audit trail.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static uint64_t now(void)
{
	return (uint64_t)time(NULL);
}

static uint8_t verify(struct hd *d, const char *tenant, const char *container, uint32_t epoch,
		      const uint8_t secret[32])
{
	struct hmacd_client *c = hd_client(d);
	struct hd_req r;
	uint8_t v = 0xff;

	hd_req_init(&r, tenant, container, epoch, now(), NULL, secret);
	assert_int_equal(hmacd_verify(c, &r.item, 1, &v), HMACD_OK);
	hmacd_close(c);
	return v;
}

/*
 * The load: a child that verifies t1/c1 epoch 1 in batches of 16 until the pipe's write end
 * closes. Exits 0 if every verdict was OK and it did at least one batch, 1 otherwise; no cmocka
 * in the child (a failed assert there would unwind into the parent's test).
 */
static pid_t start_load(struct hd *d, const uint8_t secret[32], int *stop_fd)
{
	int p[2];
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct hmacd_options o = { .timeout_ms = 10000 };
		struct hmacd_client *c = NULL;
		struct hmacd_item items[16];
		struct pollfd pf = { .fd = p[0], .events = POLLIN };
		struct hd_req r;
		uint8_t v[16];
		unsigned long batches = 0;
		int code = 0;

		close(p[1]);
		if (hmacd_connect(d->sock, &o, &c) != HMACD_OK)
			_exit(1);
		while (poll(&pf, 1, 0) == 0) {
			hd_req_init(&r, "t1", "c1", 1, now(), NULL, secret);
			for (int i = 0; i < 16; i++)
				items[i] = r.item;
			if (hmacd_verify(c, items, 16, v) != HMACD_OK) {
				code = 1;
				break;
			}
			for (int i = 0; i < 16; i++)
				code |= v[i] != HMACD_V_OK;
			batches++;
		}
		hmacd_close(c);
		_exit(code != 0 || batches == 0 ? 1 : 0);
	}
	close(p[0]);
	*stop_fd = p[1];
	return pid;
}

static int stop_load(pid_t pid, int stop_fd)
{
	int status = 0;

	close(stop_fd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void test_backup_restore_live(void **state)
{
	struct hd d, d2;
	uint8_t s1[32], s2[32], s3[32];
	char out[16384], file[256], args[512];
	struct stat st;
	pid_t load;
	int stop_fd;

	(void)state;
	hd_start(&d, "--threads 2");
	if (d.external)
		skip();
	hd_key_create(&d, "t1", "c1", s1);
	hd_key_create(&d, "t1", "c2", s2);
	assert_int_equal(hd_ctl(&d, NULL, 0, "policy set --tenant t2 --require @method"), 0);

	/* a backup while a client verifies and hmacctl writes */
	load = start_load(&d, s1, &stop_fd);
	assert_int_equal(verify(&d, "t1", "c1", 1, s1), HMACD_V_OK);
	snprintf(file, sizeof(file), "%s/backup.mdb", d.dir);
	snprintf(args, sizeof(args), "backup --out %s --json", file);
	assert_int_equal(hd_ctl(&d, out, sizeof(out), args), 0);
	assert_non_null(strstr(out, "\"keys\":2,"));
	assert_non_null(strstr(out, "\"policies\":1,"));
	hd_key_create(&d, "t1", "after", s3); /* not in the backup */
	assert_int_equal(stop_load(load, stop_fd), 0);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* an existing backup file is not replaced without --force */
	assert_int_equal(hd_ctl(&d, NULL, 0, args), 4);
	assert_int_equal(verify(&d, "t1", "after", 1, s3), HMACD_V_OK);

	/* into a new store: a new daemon verifies the backup's keys */
	hd_start(&d2, "");
	hd_stop(&d2);
	snprintf(args, sizeof(args), "restore --in %s", file);
	assert_int_equal(hd_ctl(&d2, out, sizeof(out), args), 0);
	assert_non_null(strstr(out, "restored 2 epochs and 1 policies"));
	hd_restart(&d2);
	assert_int_equal(verify(&d2, "t1", "c1", 1, s1), HMACD_V_OK);
	assert_int_equal(verify(&d2, "t1", "c2", 1, s2), HMACD_V_OK);
	assert_int_equal(verify(&d2, "t1", "after", 1, s3), HMACD_V_UNKNOWN_KEY);
	hd_stop(&d2);
	hd_cleanup(&d2);

	/* over the running daemon's store: refused, and nothing changed */
	assert_int_equal(hd_ctl(&d, out, sizeof(out), args), 4);
	assert_int_equal(verify(&d, "t1", "after", 1, s3), HMACD_V_OK);
	/* with --force: the running daemon serves the backup's keys at once */
	snprintf(args, sizeof(args), "restore --in %s --force", file);
	assert_int_equal(hd_ctl(&d, out, sizeof(out), args), 0);
	assert_non_null(strstr(out, "no restart needed"));
	assert_int_equal(verify(&d, "t1", "after", 1, s3), HMACD_V_UNKNOWN_KEY);
	assert_int_equal(verify(&d, "t1", "c1", 1, s1), HMACD_V_OK);
	assert_int_equal(verify(&d, "t1", "c2", 1, s2), HMACD_V_OK);

	/* the audit trail: every change in order, the restore last, no secret anywhere */
	assert_int_equal(hd_ctl(&d, out, sizeof(out), "audit list --json"), 0);
	{
		static const char *const ops[] = { "\"op\":\"create\"", "\"op\":\"create\"",
						   "\"op\":\"policy-set\"", "\"op\":\"create\"",
						   "\"op\":\"restore\"" };
		const char *p = out;

		for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
			p = strstr(p, ops[i]);
			assert_non_null(p);
			p++;
		}
		assert_null(strstr(p, "\"op\":"));
	}
	assert_non_null(strstr(out, "\"seq\":5,"));
	assert_non_null(strstr(out, "\"host\":\""));
	assert_int_equal(hd_ctl(&d, out, sizeof(out), "audit list --tenant t2 --json"), 0);
	assert_non_null(strstr(out, "\"op\":\"policy-set\""));
	assert_null(strstr(out, "\"op\":\"create\""));
	hd_stop(&d);
	hd_cleanup(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backup_restore_live),
	};

	alarm(300);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
