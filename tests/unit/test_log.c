/*
 * test_log.c - leveled logging: level names, which levels are enabled at each setting, and the
 * shape of a line (one write ending in a newline, level name, message; a long message is cut
 * but still ends the line; a message under the level writes nothing).
 *
 * Lines are captured by pointing stderr at a temporary file for the duration of one call.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/log.h"

static void test_parse_level(void **state)
{
	static const struct {
		const char *s;
		enum hm_log_level l;
	} good[] = {
		{"error", HM_LOG_ERROR}, {"warn", HM_LOG_WARN},   {"info", HM_LOG_INFO},
		{"debug", HM_LOG_DEBUG}, {"DEBUG", HM_LOG_DEBUG}, {"Warn", HM_LOG_WARN},
	};
	static const char *const bad[] = {"", "warning", "err", "infos", "trace", " info", "0"};
	enum hm_log_level l;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		l = (enum hm_log_level)99;
		assert_true(hm_log_parse_level(good[i].s, &l));
		assert_int_equal(l, good[i].l);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		l = HM_LOG_INFO;
		if (hm_log_parse_level(bad[i], &l))
			fail_msg("level '%s' accepted", bad[i]);
		assert_int_equal(l, HM_LOG_INFO); /* untouched */
	}
}

static void test_enabled(void **state)
{
	static const enum hm_log_level all[] = {HM_LOG_ERROR, HM_LOG_WARN, HM_LOG_INFO,
						HM_LOG_DEBUG};

	(void)state;
	for (size_t set = 0; set < 4; set++) {
		hm_log_init(all[set]);
		for (size_t l = 0; l < 4; l++)
			assert_int_equal(hm_log_enabled(all[l]), l <= set);
	}
	hm_log_init(HM_LOG_INFO);
}

/* Points stderr at a temporary file; capture_end() restores it and returns what was written. */
struct cap {
	FILE *tmp;
	int saved;
};

static void capture_begin(struct cap *c)
{
	c->tmp = tmpfile();
	assert_non_null(c->tmp);
	fflush(stderr);
	c->saved = dup(STDERR_FILENO);
	assert_true(c->saved >= 0);
	assert_true(dup2(fileno(c->tmp), STDERR_FILENO) >= 0);
}

/* The captured bytes, malloc'ed and NUL-terminated; their count in *len. */
static char *capture_end(struct cap *c, size_t *len)
{
	char *text;
	long n;

	assert_true(dup2(c->saved, STDERR_FILENO) >= 0);
	close(c->saved);
	assert_int_equal(fseek(c->tmp, 0, SEEK_END), 0);
	n = ftell(c->tmp);
	assert_true(n >= 0);
	rewind(c->tmp);
	text = calloc(1, (size_t)n + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)n, c->tmp), (size_t)n);
	fclose(c->tmp);
	*len = (size_t)n;
	return text;
}

/* hm_log(level, "%s", arg) with stderr captured. */
static char *capture(enum hm_log_level level, const char *arg, size_t *len)
{
	struct cap c;

	capture_begin(&c);
	hm_log(level, "%s", arg);
	return capture_end(&c, len);
}

static void test_line_shape(void **state)
{
	struct cap c;
	size_t len;
	char *line;

	(void)state;
	hm_log_init(HM_LOG_INFO);
	capture_begin(&c);
	hm_warn("key store: %s (%d)", "MDB_MAP_FULL", -30792);
	line = capture_end(&c, &len);
	assert_true(len > 0);
	assert_int_equal(line[len - 1], '\n');
	assert_null(memchr(line, '\n', len - 1)); /* exactly one line */
	assert_non_null(strstr(line, " warn: key store: MDB_MAP_FULL (-30792)\n"));
	assert_non_null(strstr(line, "hmacd["));
	/* an ISO 8601 UTC timestamp first */
	assert_true(len > 24);
	assert_int_equal(line[4], '-');
	assert_int_equal(line[10], 'T');
	assert_int_equal(line[23], 'Z');
	free(line);

	line = capture(HM_LOG_ERROR, "boom", &len);
	assert_non_null(strstr(line, " error: boom\n"));
	free(line);
}

static void test_below_level_writes_nothing(void **state)
{
	size_t len;
	char *line;

	(void)state;
	hm_log_init(HM_LOG_WARN);
	line = capture(HM_LOG_INFO, "quiet", &len);
	assert_int_equal(len, 0);
	free(line);
	line = capture(HM_LOG_DEBUG, "quiet", &len);
	assert_int_equal(len, 0);
	free(line);
	hm_log_init(HM_LOG_DEBUG);
	line = capture(HM_LOG_DEBUG, "loud", &len);
	assert_non_null(strstr(line, " debug: loud\n"));
	free(line);
	hm_log_init(HM_LOG_INFO);
}

static void test_long_message_cut(void **state)
{
	char *big = malloc(5000), *line;
	size_t len;

	(void)state;
	assert_non_null(big);
	memset(big, 'a', 4999);
	big[4999] = '\0';
	hm_log_init(HM_LOG_INFO);
	line = capture(HM_LOG_INFO, big, &len);
	assert_true(len > 100);
	assert_true(len <= 1024);
	assert_int_equal(line[len - 1], '\n');
	assert_null(memchr(line, '\n', len - 1));
	assert_null(memchr(line, '\0', len));
	free(line);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_level),
		cmocka_unit_test(test_enabled),
		cmocka_unit_test(test_line_shape),
		cmocka_unit_test(test_below_level_writes_nothing),
		cmocka_unit_test(test_long_message_cut),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
