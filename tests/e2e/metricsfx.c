/*
 * metricsfx.c - scrapes for the metrics tests (see metricsfx.h).
 */
#include "metricsfx.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#ifndef METRICS_SCRAPE
#define METRICS_SCRAPE "tests/e2e/metrics_scrape.py"
#endif

static const char *python(void)
{
	const char *p = getenv("HMACD_TEST_PYTHON");

	return p != NULL && p[0] != '\0' ? p : "/usr/bin/python3";
}

int mfx_run_script(const char *args, char **out)
{
	char cmd[512];
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	FILE *p;
	int st;

	assert_non_null(buf);
	snprintf(cmd, sizeof(cmd), "%s %s %s", python(), METRICS_SCRAPE, args);
	p = popen(cmd, "r");
	assert_non_null(p);
	for (;;) {
		size_t n;

		if (cap - len < 4096) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		n = fread(buf + len, 1, cap - len - 1, p);
		if (n == 0)
			break;
		len += n;
	}
	buf[len] = '\0';
	st = pclose(p);
	if (out != NULL)
		*out = buf;
	else
		free(buf);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int mfx_skip_reason(void)
{
	if (mfx_run_script("check", NULL) == 0)
		return 0;
	fprintf(stderr, "SKIP: %s with prometheus_client is needed (Debian: "
		"python3-prometheus-client)\n", python());
	return 77;
}

void mfx_find_url(const char *log_path, char *url, size_t cap)
{
	char line[512];
	FILE *log = fopen(log_path, "r");

	url[0] = '\0';
	assert_non_null(log);
	while (fgets(line, sizeof(line), log) != NULL) {
		const char *at = strstr(line, "metrics: serving http://");
		unsigned port;

		if (at != NULL &&
		    sscanf(at, "metrics: serving http://127.0.0.1:%u/metrics", &port) == 1) {
			snprintf(url, cap, "http://127.0.0.1:%u", port);
			break;
		}
	}
	fclose(log);
	if (url[0] == '\0')
		fail_msg("no \"metrics: serving\" line in %s", log_path);
}

void mfx_scrape(const char *url, char **out)
{
	char args[256];
	int rc;

	snprintf(args, sizeof(args), "scrape %s/metrics", url);
	rc = mfx_run_script(args, out);
	if (rc != 0)
		fail_msg("metrics_scrape.py %s: exit %d", args, rc);
}

uint64_t mfx_value(const char *scrape, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = scrape; p != NULL && *p != '\0';) {
		const char *eol = strchr(p, '\n');

		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtoull(p + n + 1, NULL, 10);
		p = eol != NULL ? eol + 1 : NULL;
	}
	fail_msg("no series %s in the scrape:\n%s", series, scrape);
	return 0;
}

void mfx_expect(const char *scrape, const char *series, uint64_t want)
{
	uint64_t got = mfx_value(scrape, series);

	if (got != want)
		fail_msg("%s = %llu, want %llu", series, (unsigned long long)got,
			 (unsigned long long)want);
}
