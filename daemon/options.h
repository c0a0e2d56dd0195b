/*
 * options.h - hmacd's options, declared once in a table (options.c) from which parsing, defaults,
 * environment variables and --help all derive, so they cannot drift apart.
 *
 * The daemon's modules receive what they need from a const struct hm_config; nothing reads a
 * global settings struct.
 */
#ifndef HM_OPTIONS_H
#define HM_OPTIONS_H

#include <stdint.h>
#include <stdio.h>

#include "errors.h"
#include "log.h"

struct hm_config {
	char *socket_path;     /* --socket / HMACD_SOCKET */
	char *db_dir;          /* --db / HMACD_DB */
	uint64_t threads;      /* --threads: worker threads (0 = number of CPUs) */
	uint64_t skew;         /* --skew: seconds a ts may differ from now */
	uint64_t max_frame;    /* --max-frame: payload bytes */
	uint64_t max_batch;    /* --max-batch: items per verify request */
	uint64_t max_conns;    /* --max-conns: open client connections */
	uint64_t read_timeout; /* --read-timeout: seconds to complete a started frame */
	uint64_t socket_mode;  /* --socket-mode: octal permission bits of the socket */
	uint64_t key_cache;    /* --key-cache: cached key epochs per worker */
	uint64_t nonce_cache;  /* --nonce-cache: remembered nonces (all workers) */
	enum hm_log_level log_level; /* --log-level */
};

enum hm_config_result { HM_CONFIG_RUN, HM_CONFIG_EXIT_OK, HM_CONFIG_EXIT_USAGE };

/*
 * Fills *cfg from defaults, then the environment, then argv. Prints --help / --version /
 * one-line errors itself. HM_CONFIG_RUN when the daemon should start. cfg must be released with
 * hm_config_free() in every case.
 */
enum hm_config_result hm_config_parse(struct hm_config *cfg, int argc, char **argv);
void hm_config_free(struct hm_config *cfg);
void hm_config_usage(FILE *out);

#endif
