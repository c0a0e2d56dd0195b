/*
 * test_options.c - hmacd's option table and parser (daemon/options.c, linked in by this test):
 * defaults, HMACD_SOCKET / HMACD_DB / HMACD_SEAL_KEY_FILE, flags over the environment, the
 * bounds of every numeric
 * option (min and max accepted, min-1 and max+1 refused with EXIT_USAGE), octal socket modes,
 * log levels, unknown flags, stray arguments, --help / --version, and threads 0 = CPU count.
 *
 * hm_config_parse() prints help and one-line errors itself: each call runs with stdout and
 * stderr sent to /dev/null so the test output stays readable.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/frame.h"
#include "proto/msg.h"
#include "server/options.h"

#define MAXARGS 16

struct fx {
	struct hm_config cfg;
};

static int setup(void **state)
{
	static struct fx f;

	memset(&f, 0, sizeof(f));
	assert_int_equal(unsetenv("HMACD_SOCKET"), 0);
	assert_int_equal(unsetenv("HMACD_DB"), 0);
	assert_int_equal(unsetenv("HMACD_SEAL_KEY_FILE"), 0);
	assert_int_equal(unsetenv("HMACD_METRICS_LISTEN"), 0);
	assert_int_equal(unsetenv("HMACD_METRICS_TENANTS"), 0);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	hm_config_free(&f->cfg);
	assert_int_equal(unsetenv("HMACD_SOCKET"), 0);
	assert_int_equal(unsetenv("HMACD_DB"), 0);
	assert_int_equal(unsetenv("HMACD_SEAL_KEY_FILE"), 0);
	assert_int_equal(unsetenv("HMACD_METRICS_LISTEN"), 0);
	assert_int_equal(unsetenv("HMACD_METRICS_TENANTS"), 0);
	return 0;
}

/*
 * Parses "hmacd" followed by the NULL-terminated arguments, with stdout and stderr silenced.
 * The previous result in f->cfg is released first.
 */
static enum hm_config_result parse(struct fx *f, ...)
{
	char *argv[MAXARGS + 1];
	int argc = 0, saved_out, saved_err, null_fd;
	enum hm_config_result res;
	const char *a;
	va_list ap;

	hm_config_free(&f->cfg);
	argv[argc++] = (char *)"hmacd";
	va_start(ap, f);
	while ((a = va_arg(ap, const char *)) != NULL) {
		assert_true(argc < MAXARGS);
		argv[argc++] = (char *)a;
	}
	va_end(ap);
	argv[argc] = NULL;

	fflush(stdout);
	fflush(stderr);
	saved_out = dup(STDOUT_FILENO);
	saved_err = dup(STDERR_FILENO);
	null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	assert_true(saved_out >= 0 && saved_err >= 0 && null_fd >= 0);
	assert_true(dup2(null_fd, STDOUT_FILENO) >= 0);
	assert_true(dup2(null_fd, STDERR_FILENO) >= 0);
	res = hm_config_parse(&f->cfg, argc, argv);
	fflush(stdout);
	fflush(stderr);
	assert_true(dup2(saved_out, STDOUT_FILENO) >= 0);
	assert_true(dup2(saved_err, STDERR_FILENO) >= 0);
	close(saved_out);
	close(saved_err);
	close(null_fd);
	return res;
}

#define REQ "--socket", "/tmp/s", "--db", "/tmp/db"

static void test_defaults(void **state)
{
	struct fx *f = *state;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	assert_int_equal(parse(f, REQ, NULL), HM_CONFIG_RUN);
	assert_string_equal(f->cfg.socket_path, "/tmp/s");
	assert_string_equal(f->cfg.db_dir, "/tmp/db");
	/* --threads defaults to 0, which means one per CPU */
	assert_int_equal(f->cfg.threads, cpus > 0 ? (uint64_t)cpus : 1);
	assert_int_equal(f->cfg.skew, 300);
	assert_int_equal(f->cfg.max_frame, HM_FRAME_DEFAULT_MAX);
	assert_int_equal(f->cfg.max_batch, HM_DEFAULT_MAX_BATCH);
	assert_int_equal(f->cfg.max_conns, 4096);
	assert_int_equal(f->cfg.read_timeout, 10);
	assert_int_equal(f->cfg.socket_mode, 0660);
	assert_int_equal(f->cfg.key_cache, 65536);
	assert_int_equal(f->cfg.idle_spin, 0); /* off unless asked for: it costs CPU */
	assert_int_equal(f->cfg.nonce_cache, 1u << 20);
	assert_int_equal(f->cfg.log_level, HM_LOG_INFO);
	assert_null(f->cfg.seal_key_file);
}

static void test_required(void **state)
{
	struct fx *f = *state;

	assert_int_equal(parse(f, NULL), HM_CONFIG_EXIT_USAGE);
	assert_int_equal(parse(f, "--socket", "/tmp/s", NULL), HM_CONFIG_EXIT_USAGE);
	assert_int_equal(parse(f, "--db", "/tmp/db", NULL), HM_CONFIG_EXIT_USAGE);
	/* an option whose value is missing */
	assert_int_equal(parse(f, "--db", "/tmp/db", "--socket", NULL), HM_CONFIG_EXIT_USAGE);
}

static void test_env(void **state)
{
	struct fx *f = *state;

	assert_int_equal(setenv("HMACD_SOCKET", "/run/env.sock", 1), 0);
	assert_int_equal(setenv("HMACD_DB", "/var/lib/env-db", 1), 0);
	assert_int_equal(parse(f, NULL), HM_CONFIG_RUN);
	assert_string_equal(f->cfg.socket_path, "/run/env.sock");
	assert_string_equal(f->cfg.db_dir, "/var/lib/env-db");

	/* flags win over the environment */
	assert_int_equal(parse(f, "--socket", "/tmp/flag.sock", NULL), HM_CONFIG_RUN);
	assert_string_equal(f->cfg.socket_path, "/tmp/flag.sock");
	assert_string_equal(f->cfg.db_dir, "/var/lib/env-db");
	assert_int_equal(parse(f, "--db", "/tmp/flag-db", NULL), HM_CONFIG_RUN);
	assert_string_equal(f->cfg.socket_path, "/run/env.sock");
	assert_string_equal(f->cfg.db_dir, "/tmp/flag-db");

	/* an empty variable counts as unset */
	assert_int_equal(setenv("HMACD_DB", "", 1), 0);
	assert_int_equal(parse(f, NULL), HM_CONFIG_EXIT_USAGE);
	assert_int_equal(parse(f, "--db", "/tmp/x", NULL), HM_CONFIG_RUN);
	assert_string_equal(f->cfg.db_dir, "/tmp/x");
}

/* --seal-key-file (fleet mode): a string, no default, HMACD_SEAL_KEY_FILE under the flag. */
static void test_seal_key_file(void **state)
{
	struct fx *f = *state;

	assert_int_equal(parse(f, REQ, "--seal-key-file", "/etc/hmacd/seal.key", NULL),
			 HM_CONFIG_RUN);
	assert_string_equal(f->cfg.seal_key_file, "/etc/hmacd/seal.key");
	assert_int_equal(setenv("HMACD_SEAL_KEY_FILE", "/run/credentials/seal.key", 1), 0);
	assert_int_equal(parse(f, REQ, NULL), HM_CONFIG_RUN);
	assert_string_equal(f->cfg.seal_key_file, "/run/credentials/seal.key");
	assert_int_equal(parse(f, REQ, "--seal-key-file=/tmp/k", NULL), HM_CONFIG_RUN);
	assert_string_equal(f->cfg.seal_key_file, "/tmp/k");
	assert_int_equal(setenv("HMACD_SEAL_KEY_FILE", "", 1), 0);
	assert_int_equal(parse(f, REQ, NULL), HM_CONFIG_RUN);
	assert_null(f->cfg.seal_key_file);
	assert_int_equal(parse(f, REQ, "--seal-key-file", NULL), HM_CONFIG_EXIT_USAGE);
}

/*
 * --metrics-listen: off by default; checked when parsed (a bad value is a usage error, so
 * --check-config refuses it too); HMACD_METRICS_LISTEN under the flag. --metrics-tenants:
 * 0..1000, and only with --metrics-listen.
 */
static void test_metrics(void **state)
{
	struct fx *f = *state;

	assert_int_equal(parse(f, REQ, NULL), HM_CONFIG_RUN);
	assert_null(f->cfg.metrics_listen);
	assert_int_equal(f->cfg.metrics_tenants, 0);
	assert_int_equal(parse(f, REQ, "--metrics-listen", "9464", NULL), HM_CONFIG_RUN);
	assert_string_equal(f->cfg.metrics_listen, "9464");
	assert_int_equal(parse(f, REQ, "--metrics-listen", "[::1]:9464", "--metrics-tenants",
			       "1000", NULL),
			 HM_CONFIG_RUN);
	assert_int_equal(f->cfg.metrics_tenants, 1000);
	assert_int_equal(parse(f, REQ, "--metrics-listen", "9464", "--metrics-tenants", "1001",
			       NULL),
			 HM_CONFIG_EXIT_USAGE);
	assert_int_equal(parse(f, REQ, "--metrics-listen", "web:9464", NULL),
			 HM_CONFIG_EXIT_USAGE);
	assert_int_equal(parse(f, REQ, "--metrics-listen", "", NULL), HM_CONFIG_EXIT_USAGE);
	assert_int_equal(parse(f, REQ, "--metrics-listen", "70000", "--check-config", NULL),
			 HM_CONFIG_EXIT_USAGE);
	assert_int_equal(parse(f, REQ, "--metrics-tenants", "5", NULL), HM_CONFIG_EXIT_USAGE);
	assert_int_equal(setenv("HMACD_METRICS_LISTEN", "0.0.0.0:9464", 1), 0);
	assert_int_equal(setenv("HMACD_METRICS_TENANTS", "7", 1), 0);
	assert_int_equal(parse(f, REQ, NULL), HM_CONFIG_RUN);
	assert_string_equal(f->cfg.metrics_listen, "0.0.0.0:9464");
	assert_int_equal(f->cfg.metrics_tenants, 7);
	assert_int_equal(parse(f, REQ, "--metrics-listen", "127.0.0.1:1", NULL), HM_CONFIG_RUN);
	assert_string_equal(f->cfg.metrics_listen, "127.0.0.1:1");
}

/* A flag given twice: the last one wins, and the first copy is not leaked (valgrind). */
static void test_repeated_flag(void **state)
{
	struct fx *f = *state;

	assert_int_equal(setenv("HMACD_SOCKET", "/run/env.sock", 1), 0);
	assert_int_equal(parse(f, REQ, "--socket", "/tmp/t", "--skew", "5", "--skew", "6", NULL),
			 HM_CONFIG_RUN);
	assert_string_equal(f->cfg.socket_path, "/tmp/t");
	assert_int_equal(f->cfg.skew, 6);
}

struct bound {
	const char *flag;
	size_t offset;
	uint64_t min, max;
};

#define FIELD(x) offsetof(struct hm_config, x)

static const struct bound bounds[] = {
	{"--threads", FIELD(threads), 0, 256},
	{"--skew", FIELD(skew), 1, 86400},
	{"--max-frame", FIELD(max_frame), HM_FRAME_MIN_MAX, HM_FRAME_MAX_MAX},
	{"--max-batch", FIELD(max_batch), 1, 1u << 20},
	{"--max-conns", FIELD(max_conns), 1, 1u << 20},
	{"--read-timeout", FIELD(read_timeout), 1, 3600},
	{"--key-cache", FIELD(key_cache), 16, 1u << 24},
	{"--idle-spin", FIELD(idle_spin), 0, 1000},
	{"--nonce-cache", FIELD(nonce_cache), 1024, 1u << 28},
};

static uint64_t field(const struct fx *f, size_t offset)
{
	uint64_t v;

	memcpy(&v, (const char *)&f->cfg + offset, sizeof(v));
	return v;
}

static void test_numeric_bounds(void **state)
{
	struct fx *f = *state;
	char v[32];

	for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
		const struct bound *b = &bounds[i];

		snprintf(v, sizeof(v), "%llu", (unsigned long long)b->max);
		assert_int_equal(parse(f, REQ, b->flag, v, NULL), HM_CONFIG_RUN);
		assert_int_equal(field(f, b->offset), b->max);
		snprintf(v, sizeof(v), "%llu", (unsigned long long)b->max + 1);
		if (parse(f, REQ, b->flag, v, NULL) != HM_CONFIG_EXIT_USAGE)
			fail_msg("%s %s accepted", b->flag, v);
		if (b->min > 0) {
			snprintf(v, sizeof(v), "%llu", (unsigned long long)b->min);
			assert_int_equal(parse(f, REQ, b->flag, v, NULL), HM_CONFIG_RUN);
			assert_int_equal(field(f, b->offset), b->min);
			snprintf(v, sizeof(v), "%llu", (unsigned long long)b->min - 1);
		} else {
			snprintf(v, sizeof(v), "-1");
		}
		if (parse(f, REQ, b->flag, v, NULL) != HM_CONFIG_EXIT_USAGE)
			fail_msg("%s %s accepted", b->flag, v);
		/* never a number */
		assert_int_equal(parse(f, REQ, b->flag, "", NULL), HM_CONFIG_EXIT_USAGE);
		assert_int_equal(parse(f, REQ, b->flag, "12x", NULL), HM_CONFIG_EXIT_USAGE);
		assert_int_equal(parse(f, REQ, b->flag, "+20", NULL), HM_CONFIG_EXIT_USAGE);
		assert_int_equal(parse(f, REQ, b->flag, " 20", NULL), HM_CONFIG_EXIT_USAGE);
		assert_int_equal(parse(f, REQ, b->flag, " -0", NULL), HM_CONFIG_EXIT_USAGE);
		assert_int_equal(parse(f, REQ, b->flag, "0x20", NULL), HM_CONFIG_EXIT_USAGE);
		assert_int_equal(parse(f, REQ, b->flag, "1.5", NULL), HM_CONFIG_EXIT_USAGE);
		assert_int_equal(parse(f, REQ, b->flag, "99999999999999999999999", NULL),
				 HM_CONFIG_EXIT_USAGE);
		assert_int_equal(parse(f, REQ, b->flag, "18446744073709551615", NULL),
				 HM_CONFIG_EXIT_USAGE);
	}
}

static void test_threads(void **state)
{
	struct fx *f = *state;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	assert_int_equal(parse(f, REQ, "--threads", "0", NULL), HM_CONFIG_RUN);
	assert_int_equal(f->cfg.threads, cpus > 0 ? (uint64_t)cpus : 1);
	assert_true(f->cfg.threads >= 1);
	assert_int_equal(parse(f, REQ, "--threads", "3", NULL), HM_CONFIG_RUN);
	assert_int_equal(f->cfg.threads, 3);
	/* --name=value works as well as --name value */
	assert_int_equal(parse(f, REQ, "--threads=7", NULL), HM_CONFIG_RUN);
	assert_int_equal(f->cfg.threads, 7);
}

static void test_socket_mode_octal(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *in;
		uint64_t want;
	} good[] = {
		{"0660", 0660}, {"660", 0660}, {"0600", 0600}, {"0", 0}, {"0777", 0777},
		{"777", 0777},  {"00700", 0700},
	};
	static const char *const bad[] = {"01000", "1000", "0778", "8",   "0x1ff",     "-1",
					  "",      " 0",   "-0",   " -0", "rw-rw----", "0660 "};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(parse(f, REQ, "--socket-mode", good[i].in, NULL), HM_CONFIG_RUN);
		assert_int_equal(f->cfg.socket_mode, good[i].want);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(f, REQ, "--socket-mode", bad[i], NULL) != HM_CONFIG_EXIT_USAGE)
			fail_msg("--socket-mode '%s' accepted", bad[i]);
	}
}

static void test_log_level(void **state)
{
	struct fx *f = *state;

	assert_int_equal(parse(f, REQ, "--log-level", "debug", NULL), HM_CONFIG_RUN);
	assert_int_equal(f->cfg.log_level, HM_LOG_DEBUG);
	assert_int_equal(parse(f, REQ, "--log-level", "error", NULL), HM_CONFIG_RUN);
	assert_int_equal(f->cfg.log_level, HM_LOG_ERROR);
	assert_int_equal(parse(f, REQ, "--log-level", "WARN", NULL), HM_CONFIG_RUN);
	assert_int_equal(f->cfg.log_level, HM_LOG_WARN);
	assert_int_equal(parse(f, REQ, "--log-level", "verbose", NULL), HM_CONFIG_EXIT_USAGE);
	assert_int_equal(parse(f, REQ, "--log-level", "", NULL), HM_CONFIG_EXIT_USAGE);
}

static void test_unknown_and_stray(void **state)
{
	struct fx *f = *state;

	assert_int_equal(parse(f, REQ, "--no-such-flag", NULL), HM_CONFIG_EXIT_USAGE);
	assert_int_equal(parse(f, REQ, "--no-such-flag=1", NULL), HM_CONFIG_EXIT_USAGE);
	assert_int_equal(parse(f, REQ, "-x", NULL), HM_CONFIG_EXIT_USAGE);
	assert_int_equal(parse(f, REQ, "stray", NULL), HM_CONFIG_EXIT_USAGE);
	assert_int_equal(parse(f, "stray", REQ, NULL), HM_CONFIG_EXIT_USAGE);
	assert_int_equal(parse(f, REQ, "--", "stray", NULL), HM_CONFIG_EXIT_USAGE);
	/* --help and --version take no value */
	assert_int_equal(parse(f, REQ, "--version=1", NULL), HM_CONFIG_EXIT_USAGE);
	/* after all that, a good command line still parses */
	assert_int_equal(parse(f, REQ, NULL), HM_CONFIG_RUN);
}

static void test_help_version(void **state)
{
	struct fx *f = *state;

	assert_int_equal(parse(f, "--help", NULL), HM_CONFIG_EXIT_OK);
	assert_int_equal(parse(f, "-h", NULL), HM_CONFIG_EXIT_OK);
	assert_int_equal(parse(f, "--version", NULL), HM_CONFIG_EXIT_OK);
	/* even when the rest would be refused */
	assert_int_equal(parse(f, REQ, "--help", "--skew", "0", NULL), HM_CONFIG_EXIT_OK);
	assert_int_equal(parse(f, "--help", "stray", NULL), HM_CONFIG_EXIT_OK);
}

/*
 * hm_config_parse() may be called more than once in a process (these tests do): getopt's state
 * must not leak from one call into the next, e.g. a "-hh" cut short by the first -h.
 */
static void test_reparse_after_grouped_short(void **state)
{
	struct fx *f = *state;

	assert_int_equal(parse(f, "-hh", NULL), HM_CONFIG_EXIT_OK);
	assert_int_equal(parse(f, REQ, NULL), HM_CONFIG_RUN);
}

/* The usage text lists every option and the environment variables. */
static void test_usage_text(void **state)
{
	static const char *const want[] = {
		"--socket PATH",  "--db DIR",       "--threads N",    "--skew SECONDS",
		"--max-frame",    "--max-batch",    "--max-conns",    "--read-timeout",
		"--socket-mode",  "--key-cache",    "--idle-spin US",    "--nonce-cache",  "--log-level",
		"--help",         "--version",      "HMACD_SOCKET",   "HMACD_DB",
		"(default 300)",  "(default 0660)", "(default info)",
		"--seal-key-file FILE", "HMACD_SEAL_KEY_FILE",
		"--metrics-listen ADDR:PORT", "HMACD_METRICS_LISTEN", "--metrics-tenants N",
	};
	char *text = NULL;
	size_t len = 0;
	FILE *mem;

	(void)state;
	mem = open_memstream(&text, &len);
	assert_non_null(mem);
	hm_config_usage(mem);
	assert_int_equal(fclose(mem), 0);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (strstr(text, want[i]) == NULL)
			fail_msg("usage lacks '%s'", want[i]);
	}
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_required, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seal_key_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repeated_flag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_numeric_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_socket_mode_octal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_level, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_and_stray, setup, teardown),
		cmocka_unit_test_setup_teardown(test_help_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reparse_after_grouped_short, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage_text, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
