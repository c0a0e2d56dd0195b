/*
 * log.c - leveled stderr logging. Each message is formatted into one buffer and written with
 * one write(2), so lines from worker threads never interleave.
 */
#include "server/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static enum hm_log_level log_level = HM_LOG_INFO; /* written once by main() before threads */

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void hm_log_init(enum hm_log_level level)
{
	log_level = level;
}

bool hm_log_parse_level(const char *s, enum hm_log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum hm_log_level)i;
			return true;
		}
	}
	return false;
}

bool hm_log_enabled(enum hm_log_level level)
{
	return level <= log_level;
}

int hm_log_open_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);

	if (fd < 0) {
		hm_err("open log file %s: %s", path, strerror(errno));
		return HM_EIO;
	}
	if (fd != STDERR_FILENO && dup2(fd, STDERR_FILENO) < 0) {
		hm_err("dup2 log file %s: %s", path, strerror(errno));
		close(fd);
		return HM_EIO;
	}
	if (fd != STDERR_FILENO)
		close(fd);
	return HM_OK;
}

void hm_log(enum hm_log_level level, const char *fmt, ...)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	size_t n;
	int rc;
	va_list ap;

	if (!hm_log_enabled(level))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	rc = snprintf(line + n, sizeof(line) - n, ".%03ldZ hmacd[%ld] %s: ", ts.tv_nsec / 1000000,
		      (long)getpid(), level_names[level]);
	if (rc > 0)
		n += (size_t)rc < sizeof(line) - n ? (size_t)rc : sizeof(line) - n - 1;
	va_start(ap, fmt);
	rc = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (rc > 0)
		n += (size_t)rc < sizeof(line) - n ? (size_t)rc : sizeof(line) - n - 1;
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2; /* truncated: still end the line */
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nowhere left to report it */
	}
}
