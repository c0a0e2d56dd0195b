/*
 * test_replay.c - the nonce cache: fresh, seen, expiry, scope separation, fail-closed when full;
 * kept in a file across a restart (and a kill), started anew after a reboot, rebuilt for another
 * size, refused when the file is not ours; one tenant's share.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/replay.h"

struct fx {
	struct hm_replay *r;
	EVP_MD_CTX *md;
	EVP_MD *sha;
};

static int setup(void **state)
{
	static struct fx f;

	assert_int_equal(hm_replay_new(4096, &f.r), HM_OK);
	f.md = EVP_MD_CTX_new();
	f.sha = EVP_MD_fetch(NULL, "SHA256", NULL);
	assert_non_null(f.md);
	assert_non_null(f.sha);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	hm_replay_free(f->r);
	EVP_MD_CTX_free(f->md);
	EVP_MD_free(f->sha);
	return 0;
}

static void key_of(struct hm_replay *r, struct fx *f, const char *t, const char *c,
		   const char *n, struct hm_nonce_id *out)
{
	assert_int_equal(hm_replay_key(r, f->md, f->sha, (const uint8_t *)t, strlen(t),
				       (const uint8_t *)c, strlen(c), (const uint8_t *)n, strlen(n),
				       out),
			 HM_OK);
}

static void key(struct fx *f, const char *t, const char *c, const char *n,
		struct hm_nonce_id *out)
{
	key_of(f->r, f, t, c, n, out);
}

static void test_fresh_then_seen(void **state)
{
	struct fx *f = *state;
	struct hm_nonce_id k;

	key(f, "t1", "c1", "nonce-1", &k);
	assert_int_equal(hm_replay_check(f->r, &k, 1000, 100), HM_REPLAY_FRESH);
	assert_int_equal(hm_replay_check(f->r, &k, 1000, 101), HM_REPLAY_SEEN);
	assert_int_equal(hm_replay_check(f->r, &k, 1000, 999), HM_REPLAY_SEEN);
	assert_true(hm_replay_used(f->r) >= 1);
}

static void test_expiry_frees_the_nonce(void **state)
{
	struct fx *f = *state;
	struct hm_nonce_id k;

	key(f, "t1", "c1", "nonce-exp", &k);
	assert_int_equal(hm_replay_check(f->r, &k, 200, 100), HM_REPLAY_FRESH);
	assert_int_equal(hm_replay_check(f->r, &k, 300, 199), HM_REPLAY_SEEN);
	/* at its expiry time the entry is dead, and the slot is reused */
	assert_int_equal(hm_replay_check(f->r, &k, 400, 200), HM_REPLAY_FRESH);
	assert_int_equal(hm_replay_check(f->r, &k, 400, 201), HM_REPLAY_SEEN);
}

static void test_scope_is_part_of_the_key(void **state)
{
	struct fx *f = *state;
	struct hm_nonce_id a, b, c, d;

	key(f, "t1", "c1", "n", &a);
	key(f, "t1", "c2", "n", &b);
	key(f, "t2", "c1", "n", &c);
	key(f, "t1c", "1", "n", &d); /* moving bytes between fields changes the key */
	assert_memory_not_equal(a.key, b.key, 16);
	assert_memory_not_equal(a.key, c.key, 16);
	assert_memory_not_equal(a.key, d.key, 16);
	assert_int_equal(hm_replay_check(f->r, &a, 1000, 1), HM_REPLAY_FRESH);
	assert_int_equal(hm_replay_check(f->r, &b, 1000, 1), HM_REPLAY_FRESH);
	assert_int_equal(hm_replay_check(f->r, &c, 1000, 1), HM_REPLAY_FRESH);
	assert_int_equal(hm_replay_check(f->r, &d, 1000, 1), HM_REPLAY_FRESH);
}

static void test_full_fails_closed(void **state)
{
	struct fx *f = *state;
	size_t cap = hm_replay_capacity(f->r), fresh = 0, full = 0;
	char n[32];
	struct hm_nonce_id k;

	assert_int_equal(cap, 4096);
	for (size_t i = 0; i < 4 * cap; i++) {
		snprintf(n, sizeof(n), "fill-%zu", i);
		key(f, "tf", "cf", n, &k);
		switch (hm_replay_check(f->r, &k, 10000, 10)) {
		case HM_REPLAY_FRESH:
			fresh++;
			break;
		case HM_REPLAY_FULL:
			full++;
			/* the capacity asked for is really there: nothing refused before it */
			assert_true(i >= cap);
			break;
		case HM_REPLAY_SEEN:
		case HM_REPLAY_TENANT_FULL:
			fail_msg("a distinct nonce was reported as seen (or over a share)");
		}
	}
	assert_true(fresh >= cap);
	assert_true(fresh <= 2 * cap); /* never more than the table holds */
	assert_true(full >= 2 * cap);
	/* no live entry was evicted: the first nonces are still remembered */
	for (size_t i = 0; i < 16; i++) {
		snprintf(n, sizeof(n), "fill-%zu", i);
		key(f, "tf", "cf", n, &k);
		assert_int_not_equal(hm_replay_check(f->r, &k, 10000, 11), HM_REPLAY_FRESH);
	}
	/* once everything expired, there is room again */
	key(f, "tf", "cf", "after", &k);
	assert_int_equal(hm_replay_check(f->r, &k, 30000, 20000), HM_REPLAY_FRESH);
}


/* ---- a table kept in a file (issue 10, finding 2) ---- */

#define NOW 1700000000

struct ftab {
	char dir[64];
	char path[96];
	struct hm_replay_options o;
};

static void ftab_init(struct ftab *t)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/hmacd-test-replay-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/nonces", t->dir);
	t->o = (struct hm_replay_options){.capacity = 4096, .tenant_share = 100, .max_life = 602,
					  .path = t->path, .now = NOW};
}

static void ftab_done(struct ftab *t)
{
	char cmd[96];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	assert_int_equal(system(cmd), 0);
}

static struct hm_replay *ftab_open(struct ftab *t, struct hm_replay_info *info)
{
	struct hm_replay *r = NULL;
	char err[256];
	int rc = hm_replay_open(&t->o, &r, info, err, sizeof(err));

	if (rc != HM_OK)
		fail_msg("hm_replay_open: %s: %s", hm_strerror(rc), err);
	return r;
}

/* Expects hm_replay_open to fail with rc, saying `says`. */
static void ftab_refused(struct ftab *t, int rc, const char *says)
{
	struct hm_replay_info info;
	struct hm_replay *r = NULL;
	char err[256];

	assert_int_equal(hm_replay_open(&t->o, &r, &info, err, sizeof(err)), rc);
	assert_null(r);
	if (strstr(err, says) == NULL)
		fail_msg("error \"%s\" does not say \"%s\"", err, says);
}

/* SIGTERM-like (free) and kill -9-like (a child that exits without freeing) restarts. */
static void test_file_survives_restart(void **state)
{
	struct fx *f = *state;
	struct hm_replay_info info;
	struct hm_nonce_id k, k2;
	struct hm_replay *r;
	struct ftab t;
	int status;
	pid_t pid;

	ftab_init(&t);
	r = ftab_open(&t, &info);
	assert_non_null(info.fresh);
	assert_int_equal(info.since, NOW);
	assert_int_equal(info.restored, 0);
	key_of(r, f, "t1", "c1", "before-restart", &k);
	assert_int_equal(hm_replay_check(r, &k, NOW + 500, NOW), HM_REPLAY_FRESH);
	hm_replay_free(r);

	/* started again later, the same boot: the entry is there and `since` is the first start */
	t.o.now = NOW + 100;
	r = ftab_open(&t, &info);
	assert_null(info.fresh);
	assert_int_equal(info.since, NOW);
	assert_int_equal(info.restored, 1);
	key_of(r, f, "t1", "c1", "before-restart", &k);
	assert_int_equal(hm_replay_check(r, &k, NOW + 600, NOW + 100), HM_REPLAY_SEEN);
	key_of(r, f, "t1", "c1", "after-restart", &k2);
	assert_int_equal(hm_replay_check(r, &k2, NOW + 600, NOW + 100), HM_REPLAY_FRESH);
	hm_replay_free(r);

	/* a process that records a nonce and dies without any clean-up */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct hm_replay_info ci;
		struct hm_nonce_id ck;
		struct hm_replay *cr = NULL;

		t.o.now = NOW + 200;
		if (hm_replay_open(&t.o, &cr, &ci, NULL, 0) != HM_OK)
			_exit(1);
		if (hm_replay_key(cr, f->md, f->sha, (const uint8_t *)"t1", 2,
				  (const uint8_t *)"c1", 2, (const uint8_t *)"killed", 6,
				  &ck) != HM_OK)
			_exit(2);
		if (hm_replay_check(cr, &ck, NOW + 700, NOW + 200) != HM_REPLAY_FRESH)
			_exit(3);
		_exit(0); /* no hm_replay_free, no unmap, no unlock: the kernel cleans up */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	t.o.now = NOW + 300;
	r = ftab_open(&t, &info);
	assert_null(info.fresh);
	assert_int_equal(info.restored, 3);
	key_of(r, f, "t1", "c1", "killed", &k);
	assert_int_equal(hm_replay_check(r, &k, NOW + 900, NOW + 300), HM_REPLAY_SEEN);
	/* entries expire as before: the first one is gone after its time */
	key_of(r, f, "t1", "c1", "before-restart", &k);
	assert_int_equal(hm_replay_check(r, &k, NOW + 1200, NOW + 600), HM_REPLAY_FRESH);
	hm_replay_free(r);
	ftab_done(&t);
}

/* Offset of the boot id in the header: after magic, version, header size, 3 sizes, salt. */
#define HDR_BOOT_ID (8 + 4 + 4 + 3 * 8 + 32)

static void test_file_after_reboot_and_resize(void **state)
{
	struct fx *f = *state;
	struct hm_replay_info info;
	struct hm_nonce_id k;
	struct hm_replay *r;
	struct ftab t;
	int fd;

	ftab_init(&t);
	r = ftab_open(&t, &info);
	key_of(r, f, "t1", "c1", "n1", &k);
	assert_int_equal(hm_replay_check(r, &k, NOW + 500, NOW), HM_REPLAY_FRESH);
	hm_replay_free(r);

	/* another --nonce-cache: rebuilt with its live entries, `since` kept */
	t.o.capacity = 20000;
	t.o.now = NOW + 10;
	r = ftab_open(&t, &info);
	assert_null(info.fresh);
	assert_int_equal(info.since, NOW);
	assert_int_equal(info.restored, 1);
	assert_int_equal(hm_replay_capacity(r), 32768);
	key_of(r, f, "t1", "c1", "n1", &k);
	assert_int_equal(hm_replay_check(r, &k, NOW + 500, NOW + 10), HM_REPLAY_SEEN);
	hm_replay_free(r);

	/* written in another boot: its pages may be lost, so it starts empty at `now` */
	fd = open(t.path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "00000000-0000-0000-0000-000000000000", 36, HDR_BOOT_ID), 36);
	close(fd);
	t.o.now = NOW + 20;
	r = ftab_open(&t, &info);
	assert_non_null(info.fresh);
	assert_non_null(strstr(info.fresh, "booted"));
	assert_int_equal(info.since, NOW + 20);
	assert_int_equal(info.restored, 0);
	key_of(r, f, "t1", "c1", "n1", &k);
	assert_int_equal(hm_replay_check(r, &k, NOW + 500, NOW + 20), HM_REPLAY_FRESH);
	hm_replay_free(r);

	/* unfinished (the magic never written): made anew */
	fd = open(t.path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "\0\0\0\0\0\0\0\0", 8, 0), 8);
	close(fd);
	r = ftab_open(&t, &info);
	assert_non_null(strstr(info.fresh, "unfinished"));
	hm_replay_free(r);
	ftab_done(&t);
}

static void test_file_refused(void **state)
{
	struct hm_replay_info info;
	struct hm_replay *r, *r2 = NULL;
	struct ftab t;
	char link[128];
	int fd;

	(void)state;
	ftab_init(&t);
	/* one daemon per table */
	r = ftab_open(&t, &info);
	assert_int_equal(hm_replay_open(&t.o, &r2, &info, NULL, 0), HM_EEXIST);
	assert_null(r2);
	hm_replay_free(r);
	/* readable by others */
	assert_int_equal(chmod(t.path, 0644), 0);
	ftab_refused(&t, HM_ESTATE, "mode 0600");
	assert_int_equal(chmod(t.path, 0600), 0);
	/* a symlink */
	snprintf(link, sizeof(link), "%s/link", t.dir);
	assert_int_equal(symlink(t.path, link), 0);
	t.o.path = link;
	ftab_refused(&t, HM_ESTATE, "symlink");
	/* some other file: never overwritten */
	snprintf(link, sizeof(link), "%s/other", t.dir);
	fd = open(link, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "precious data", 13), 13);
	close(fd);
	ftab_refused(&t, HM_ESTATE, "not an hmacd nonce table");
	fd = open(link, O_RDONLY);
	assert_true(fd >= 0);
	{
		char buf[32] = "";

		assert_int_equal(read(fd, buf, sizeof(buf)), 13);
		assert_memory_equal(buf, "precious data", 13);
	}
	close(fd);
	ftab_done(&t);
}

/* One tenant cannot fill the cache for the others; its share comes back as entries expire. */
static void test_tenant_share(void **state)
{
	struct fx *f = *state;
	struct hm_replay_options o = {.capacity = 4096, .tenant_share = 10, .max_life = 602,
				      .now = NOW};
	struct hm_replay_info info;
	struct hm_replay *r = NULL;
	struct hm_nonce_id k;
	size_t fresh = 0, over = 0, max;
	char n[32];

	assert_int_equal(hm_replay_open(&o, &r, &info, NULL, 0), HM_OK);
	max = hm_replay_tenant_max(r);
	assert_int_equal(max, 409);
	for (size_t i = 0; i < 2 * max; i++) {
		snprintf(n, sizeof(n), "flood-%zu", i);
		key_of(r, f, "greedy", "c", n, &k);
		switch (hm_replay_check(r, &k, NOW + 300, NOW)) {
		case HM_REPLAY_FRESH:
			fresh++;
			break;
		case HM_REPLAY_TENANT_FULL:
			over++;
			break;
		default:
			fail_msg("nonce %zu: neither fresh nor over the share", i);
		}
	}
	assert_int_equal(fresh, max);
	assert_int_equal(over, max);
	/* the others are not affected */
	for (int i = 0; i < 100; i++) {
		snprintf(n, sizeof(n), "polite-%d", i);
		key_of(r, f, "other", "c", n, &k);
		assert_int_equal(hm_replay_check(r, &k, NOW + 300, NOW), HM_REPLAY_FRESH);
	}
	/* a replay of the greedy tenant is still a replay, not "over its share" */
	key_of(r, f, "greedy", "c", "flood-0", &k);
	assert_int_equal(hm_replay_check(r, &k, NOW + 300, NOW + 1), HM_REPLAY_SEEN);
	/* once its entries expired, the greedy tenant may use its share again */
	key_of(r, f, "greedy", "c", "later", &k);
	assert_int_equal(hm_replay_check(r, &k, NOW + 700, NOW + 400), HM_REPLAY_FRESH);
	hm_replay_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fresh_then_seen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry_frees_the_nonce, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scope_is_part_of_the_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_fails_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_survives_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_after_reboot_and_resize, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tenant_share, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
