/*
 * metricsfx.h - what the metrics tests share: the port a daemon logged for --metrics-listen,
 * and scrapes read by a real Prometheus parser (tests/e2e/metrics_scrape.py, Python's
 * prometheus_client; HMACD_TEST_PYTHON names the interpreter, default /usr/bin/python3: another
 * python3 may come first on PATH without Debian's packages).
 */
#ifndef HM_METRICSFX_H
#define HM_METRICSFX_H

#include <stddef.h>
#include <stdint.h>

/* 0 when the parser can run here; else 77 after a line on stderr saying why. */
int mfx_skip_reason(void);
/* Runs metrics_scrape.py with args; its exit status, its stdout in *out (malloc'd) if out. */
int mfx_run_script(const char *args, char **out);
/*
 * Fills url (http://127.0.0.1:PORT) from the daemon's log file at log_path ("metrics: serving
 * http://127.0.0.1:PORT/metrics"); fails the test if there is none.
 */
void mfx_find_url(const char *log_path, char *url, size_t cap);
/* Scrapes url/metrics (checked and parsed); the samples, one per line, in *out (free it). */
void mfx_scrape(const char *url, char **out);
/* The value of one series of a scrape ("name{labels}", labels sorted); fails if absent. */
uint64_t mfx_value(const char *scrape, const char *series);
/* Fails unless the series has exactly that value. */
void mfx_expect(const char *scrape, const char *series, uint64_t want);

#endif
