/*
 * log.h - leveled logging to stderr, one line per message, safe from any thread.
 *
 * Never pass a secret, a MAC, a canonical string or a nonce to these functions: log tenant,
 * epoch, verdict and sizes instead. Nothing is logged per item at the default level (info).
 */
#ifndef HM_LOG_H
#define HM_LOG_H

#include <stdbool.h>

#include "proto/errors.h"

enum hm_log_level { HM_LOG_ERROR, HM_LOG_WARN, HM_LOG_INFO, HM_LOG_DEBUG };

/*
 * Sets the level. Called by main() before any thread starts; the only writer of the level, so
 * the value is read without a lock afterwards.
 */
void hm_log_init(enum hm_log_level level);
/* "error", "warn", "info", "debug" -> level. false if unknown. */
bool hm_log_parse_level(const char *s, enum hm_log_level *out);
bool hm_log_enabled(enum hm_log_level level);
/*
 * Sends the log (stderr, fd 2) to `path`, opened for appending (created 0640); called again on
 * SIGHUP it reopens the file, for log rotation. The switch is one dup2(), atomic for writers.
 * HM_OK or HM_EIO (errno logged to the old destination).
 */
int hm_log_open_file(const char *path) HM_MUSTCHECK;
void hm_log(enum hm_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define hm_err(...) hm_log(HM_LOG_ERROR, __VA_ARGS__)
#define hm_warn(...) hm_log(HM_LOG_WARN, __VA_ARGS__)
#define hm_info(...) hm_log(HM_LOG_INFO, __VA_ARGS__)
#define hm_debug(...)                                  \
	do {                                           \
		if (hm_log_enabled(HM_LOG_DEBUG))      \
			hm_log(HM_LOG_DEBUG, __VA_ARGS__); \
	} while (0)

#endif
