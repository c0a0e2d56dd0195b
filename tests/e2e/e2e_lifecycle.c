/*
 * e2e_lifecycle.c - start, stop and restart of the real daemon: SIGTERM answers in-flight
 * frames, exits 0 and removes the socket; clients reconnect after a restart; kill -9 leaves a
 * stale socket that the next start replaces; a second daemon cannot steal a live socket; the
 * socket has the configured mode; the nonce cache outlives a restart of either kind.
 */
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

static void test_sigterm_answers_in_flight(void **state)
{
	struct hd d;
	struct hmacd_client *c;
	struct hd_req r;
	struct hmacd_item items[64];
	uint8_t secret[32], v[64];
	uint64_t id;
	size_t n;

	(void)state;
	hd_start(&d, "--threads 1");
	hd_key_create(&d, "t1", "c1", secret);
	c = hd_client(&d);
	hd_req_init(&r, "t1", "c1", 1, now(), NULL, secret);
	for (int i = 0; i < 64; i++)
		items[i] = r.item;
	for (int i = 0; i < 50; i++)
		assert_int_equal(hmacd_send_verify(c, items, 64, &id), HMACD_OK);
	assert_int_equal(hmacd_flush(c), HMACD_OK);
	if (!d.external)
		assert_int_equal(kill(d.pid, SIGTERM), 0);
	/* every frame that reached the daemon before the signal is answered */
	for (int i = 0; i < 50; i++) {
		assert_int_equal(hmacd_recv_verify(c, &id, v, 64, &n), HMACD_OK);
		assert_int_equal(n, 64);
		for (int k = 0; k < 64; k++)
			assert_int_equal(v[k], HMACD_V_OK);
	}
	hmacd_close(c);
	hd_wait_exit(&d);
	hd_cleanup(&d);
}

/*
 * Frames that reach the socket while the daemon is frozen, then told to stop, are all answered:
 * shutdown reads until the socket is empty, not just once.
 */
static void test_sigterm_reads_everything_that_arrived(void **state)
{
	struct hd d;
	struct hmacd_client *c;
	struct hd_req r;
	struct hmacd_item items[64];
	uint8_t secret[32], v[64];
	uint64_t id;
	size_t n;

	(void)state;
	hd_start(&d, "--threads 1");
	if (d.external)
		skip();
	hd_key_create(&d, "t1", "c1", secret);
	c = hd_client(&d);
	assert_int_equal(hmacd_ping(c), HMACD_OK); /* the connection is on a worker now */
	hd_req_init(&r, "t1", "c1", 1, now(), NULL, secret);
	for (int i = 0; i < 64; i++)
		items[i] = r.item;
	assert_int_equal(kill(d.pid, SIGSTOP), 0);
	/* 20 frames of 8 items: about 80 KB, within the socket's buffer while nobody reads */
	for (int i = 0; i < 20; i++)
		assert_int_equal(hmacd_send_verify(c, items, 8, &id), HMACD_OK);
	assert_int_equal(hmacd_flush(c), HMACD_OK);
	assert_int_equal(kill(d.pid, SIGTERM), 0);
	assert_int_equal(kill(d.pid, SIGCONT), 0);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(hmacd_recv_verify(c, &id, v, 64, &n), HMACD_OK);
		assert_int_equal(n, 8);
		assert_int_equal(v[0], HMACD_V_OK);
	}
	hmacd_close(c);
	hd_wait_exit(&d);
	hd_cleanup(&d);
}

static void test_client_reconnects_after_restart(void **state)
{
	struct hd d;
	struct hmacd_client *c;
	struct hd_req r;
	uint8_t secret[32], v = 0xff;

	(void)state;
	hd_start(&d, "");
	hd_key_create(&d, "t1", "c1", secret);
	c = hd_client(&d);
	hd_req_init(&r, "t1", "c1", 1, now(), NULL, secret);
	assert_int_equal(hmacd_verify(c, &r.item, 1, &v), HMACD_OK);
	assert_int_equal(v, HMACD_V_OK);
	hd_stop(&d);
	/* daemon down: fails, and the verdict left behind is not OK (fail closed) */
	v = HMACD_V_OK;
	assert_int_equal(hmacd_verify(c, &r.item, 1, &v), HMACD_ECONN);
	assert_int_equal(v, HMACD_V_MALFORMED);
	hd_restart(&d);
	v = 0xff;
	assert_int_equal(hmacd_verify(c, &r.item, 1, &v), HMACD_OK);
	assert_int_equal(v, HMACD_V_OK);
	assert_int_equal(hmacd_ping(c), HMACD_OK);
	hmacd_close(c);
	hd_stop(&d);
	hd_cleanup(&d);
}

static void test_kill9_then_restart(void **state)
{
	struct hd d;
	struct hmacd_client *c;
	struct hd_req r;
	uint8_t secret[32], v = 0xff;

	(void)state;
	hd_start(&d, "");
	hd_key_create(&d, "t1", "c1", secret);
	hd_kill9(&d);
	/* the socket file is left behind; nobody listens on it */
	assert_int_equal(access(d.sock, F_OK), 0);
	hd_restart(&d);
	c = hd_client(&d);
	hd_req_init(&r, "t1", "c1", 1, now(), "after-kill", secret);
	assert_int_equal(hmacd_verify(c, &r.item, 1, &v), HMACD_OK);
	assert_int_equal(v, HMACD_V_OK);
	hmacd_close(c);
	hd_stop(&d);
	hd_cleanup(&d);
}

static void test_second_daemon_refused_and_socket_mode(void **state)
{
	struct hd d;
	struct stat st;
	char cmd[512];
	int rc;

	(void)state;
	hd_start(&d, "--socket-mode 0600");
	if (d.external)
		skip();
	assert_int_equal(stat(d.sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(cmd, sizeof(cmd), "%s --socket %s --db %s --log-level error 2>/dev/null",
		 getenv("HMACD") ? getenv("HMACD") : "daemon/hmacd", d.sock, d.db);
	rc = system(cmd);
	assert_true(WIFEXITED(rc));
	assert_int_equal(WEXITSTATUS(rc), 1);
	/* the first daemon still owns its socket */
	{
		struct hmacd_client *c = hd_client(&d);

		assert_int_equal(hmacd_ping(c), HMACD_OK);
		hmacd_close(c);
	}
	hd_stop(&d);
	hd_cleanup(&d);
}

static void test_bad_options(void **state)
{
	char cmd[512];
	const char *bin = getenv("HMACD") ? getenv("HMACD") : "daemon/hmacd";
	int rc;

	(void)state;
	snprintf(cmd, sizeof(cmd), "%s --socket /tmp/x.sock --db /tmp/x --max-batch 0 2>/dev/null", bin);
	rc = system(cmd);
	assert_int_equal(WEXITSTATUS(rc), 2);
	snprintf(cmd, sizeof(cmd), "%s --db /tmp/x 2>/dev/null", bin);
	rc = system(cmd);
	assert_int_equal(WEXITSTATUS(rc), 2);
	snprintf(cmd, sizeof(cmd), "%s --help >/dev/null", bin);
	rc = system(cmd);
	assert_int_equal(WEXITSTATUS(rc), 0);
}

/* One item of either scheme, verified on a fresh connection; returns the verdict. */
static unsigned verify_once(struct hd *d, const struct hmacd_any_item *it)
{
	struct hmacd_client *c = hd_client(d);
	uint8_t v = 0xff;

	assert_int_equal(hmacd_verify_any(c, it, 1, &v), HMACD_OK);
	hmacd_close(c);
	return v;
}

/*
 * Issue 10, finding 2: replay after a restart. Items signed up to --skew ahead of the daemon's
 * clock are accepted (a signer whose clock runs fast), and used to be accepted again after a
 * restart, when the nonce cache was empty and only items signed before the start were refused.
 * Now the nonce cache lives in DB/nonces: after SIGTERM and after kill -9, each nonce accepted
 * before is REPLAY, and an item signed after the restart with an accurate clock is OK at once.
 */
static void test_replay_survives_restart(void **state)
{
	static const struct hmacd_header rh[] = {{"host", 4, "api.example.com", 15}};
	struct hd d;
	struct hd_req v1, fresh;
	struct hmacd_rfc9421_item r = {0};
	struct hmacd_rfc9421_params p = {.keyid = "k-rfc", .created = 0};
	struct hmacd_any_item a_v1, a_rfc, a_fresh;
	char input[HMACD_RFC9421_FIELD_MAX + 1], sig[HMACD_RFC9421_SIGNATURE_CAP];
	uint8_t secret[32], rsecret[32];

	(void)state;
	hd_start(&d, "--threads 2");
	if (d.external)
		skip();
	hd_key_create(&d, "t1", "c1", secret);
	for (size_t i = 0; i < sizeof(rsecret); i++)
		rsecret[i] = (uint8_t)(0xa0 + i);
	hd_key_import(&d, "t1", "c2", "k-rfc", rsecret, sizeof(rsecret), 0);

	/* hmacd-v1 and rfc9421, each signed 200 s ahead of the daemon's clock */
	hd_req_init(&v1, "t1", "c1", 1, now() + 200, "nonce-ahead-v1", secret);
	r.tenant = "t1", r.tenant_len = 2, r.container = "c2", r.container_len = 2;
	r.method = "GET", r.method_len = 3, r.authority = "api.example.com", r.authority_len = 15;
	r.path = "/containers/c2/logs", r.path_len = 19;
	r.headers = rh, r.nheaders = 1;
	p.created = (int64_t)now() + 200;
	p.nonce = "nonce-ahead-rfc";
	assert_int_equal(hmacd_rfc9421_sign(rsecret, sizeof(rsecret), &r, &p, input, sizeof(input),
					    sig, sizeof(sig)),
			 HMACD_OK);
	r.signature_input = input, r.signature_input_len = strlen(input);
	r.signature = sig, r.signature_len = strlen(sig);
	a_v1 = (struct hmacd_any_item){HMACD_SCHEME_HMACD_V1, {.v1 = &v1.item}};
	a_rfc = (struct hmacd_any_item){HMACD_SCHEME_RFC9421, {.rfc9421 = &r}};
	assert_int_equal(verify_once(&d, &a_v1), HMACD_V_OK);
	assert_int_equal(verify_once(&d, &a_rfc), HMACD_V_OK);
	assert_int_equal(verify_once(&d, &a_v1), HMACD_V_REPLAY);
	assert_int_equal(verify_once(&d, &a_rfc), HMACD_V_REPLAY);

	for (int kind = 0; kind < 2; kind++) {
		char nonce[32];

		if (kind == 0)
			hd_stop(&d); /* SIGTERM */
		else
			hd_kill9(&d);
		hd_restart(&d);
		assert_int_equal(verify_once(&d, &a_v1), HMACD_V_REPLAY);
		assert_int_equal(verify_once(&d, &a_rfc), HMACD_V_REPLAY);
		/* a new request, signed now with an accurate clock: no waiting for --skew */
		snprintf(nonce, sizeof(nonce), "fresh-after-%d", kind);
		hd_req_init(&fresh, "t1", "c1", 1, now(), nonce, secret);
		a_fresh = (struct hmacd_any_item){HMACD_SCHEME_HMACD_V1, {.v1 = &fresh.item}};
		assert_int_equal(verify_once(&d, &a_fresh), HMACD_V_OK);
		assert_int_equal(verify_once(&d, &a_fresh), HMACD_V_REPLAY);
	}
	hd_stop(&d);
	hd_cleanup(&d);
}

/* Whether the file holds the n bytes p anywhere. */
static bool file_contains(const char *path, const uint8_t *p, size_t n)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	size_t len;
	bool found = false;

	assert_non_null(f);
	buf = malloc(64u << 20);
	assert_non_null(buf);
	len = fread(buf, 1, 64u << 20, f);
	fclose(f);
	for (size_t i = 0; i + n <= len && !found; i++)
		found = memcmp(buf + i, p, n) == 0;
	free(buf);
	return found;
}

/*
 * Issue 10, finding 7: a revoked secret lingers in LMDB's free pages (revoke wipes the record,
 * but copy-on-write leaves the old page as it was). `hmacctl compact` rewrites the store without
 * them and wipes the old file; it refuses while hmacd has the store open, and the store it
 * leaves serves as before.
 */
static void test_compact_removes_revoked_secrets(void **state)
{
	struct hd d;
	struct hd_req r;
	struct stat st;
	uint8_t s1[32], s2[32];
	char data[192], out[1024];

	(void)state;
	hd_start(&d, "--threads 1");
	if (d.external)
		skip();
	hd_key_create(&d, "t1", "c1", s1);
	hd_key_rotate(&d, "t1", "c1", 0, s2);
	assert_int_equal(hd_ctl(&d, NULL, 0, "key revoke --tenant t1 --container c1 --epoch 1"), 0);
	snprintf(data, sizeof(data), "%s/data.mdb", d.db);
	assert_true(file_contains(data, s1, sizeof(s1))); /* the attack's premise, on this LMDB */
	/* hmacd holds the store open: refused, nothing changed */
	assert_int_equal(hd_ctl(&d, NULL, 0, "compact"), 1);
	assert_true(file_contains(data, s1, sizeof(s1)));
	hd_stop(&d);
	assert_int_equal(hd_ctl(&d, out, sizeof(out), "compact --json"), 0);
	assert_non_null(strstr(out, "\"bytes_before\":"));
	assert_false(file_contains(data, s1, sizeof(s1)));
	assert_true(file_contains(data, s2, sizeof(s2))); /* the live key is kept */
	assert_int_equal(stat(data, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(out, sizeof(out), "%s/.compact-old.mdb", d.db);
	assert_int_not_equal(access(out, F_OK), 0);
	snprintf(out, sizeof(out), "%s/.compact", d.db);
	assert_int_not_equal(access(out, F_OK), 0);
	/* the compacted store serves: epoch 2 verifies, epoch 1 is still revoked */
	hd_restart(&d);
	{
		struct hmacd_client *c = hd_client(&d);
		uint8_t v = 0xff;

		hd_req_init(&r, "t1", "c1", 2, now(), NULL, s2);
		assert_int_equal(hmacd_verify(c, &r.item, 1, &v), HMACD_OK);
		assert_int_equal(v, HMACD_V_OK);
		hd_req_init(&r, "t1", "c1", 1, now(), NULL, s1);
		assert_int_equal(hmacd_verify(c, &r.item, 1, &v), HMACD_OK);
		assert_int_equal(v, HMACD_V_KEY_REVOKED);
		hmacd_close(c);
	}
	hd_stop(&d);
	hd_cleanup(&d);
}

/*
 * SIGTERM the moment the socket file appears: hmacd catches its signals before it creates the
 * socket, so however early the signal comes, it exits 0 (once it died by the signal: a client
 * or a service manager that saw the socket could not stop it cleanly).
 */
static void test_sigterm_right_at_start(void **state)
{
	char dir[] = "/tmp/hmacd-e2e-early-XXXXXX", sock[128], db[128], cmd[160];
	const char *bin = getenv("HMACD") != NULL ? getenv("HMACD") : "daemon/hmacd";

	(void)state;
	if (getenv("HMACD_TEST_SOCKET") != NULL || getenv("HMACD_TEST_VALGRIND") != NULL)
		skip();
	assert_non_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/s", dir);
	snprintf(db, sizeof(db), "%s/db", dir);
	for (int round = 0; round < 20; round++) {
		int status;
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0) {
			execl(bin, bin, "--socket", sock, "--db", db, "--threads", "1",
			      "--log-level", "error", (char *)NULL);
			_exit(127);
		}
		/* spin, not sleep: the signal must follow the socket's creation closely */
		for (time_t until = time(NULL) + 10; access(sock, F_OK) != 0;)
			assert_true(time(NULL) <= until);
		assert_int_equal(kill(pid, SIGTERM), 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail_msg("round %d: hmacd ended with %s %d", round,
				 WIFSIGNALED(status) ? "signal" : "status",
				 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sigterm_answers_in_flight),
		cmocka_unit_test(test_sigterm_reads_everything_that_arrived),
		cmocka_unit_test(test_client_reconnects_after_restart),
		cmocka_unit_test(test_kill9_then_restart),
		cmocka_unit_test(test_replay_survives_restart),
		cmocka_unit_test(test_compact_removes_revoked_secrets),
		cmocka_unit_test(test_sigterm_right_at_start),
		cmocka_unit_test(test_second_daemon_refused_and_socket_mode),
		cmocka_unit_test(test_bad_options),
	};

	alarm(120);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
