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

#include "proto/errors.h"
#include "server/log.h"
#include "proto/policy.h"

#define HM_IDLIST_MAX 32

/* A list of numeric user or group ids (names are resolved when the option is parsed). */
struct hm_idlist {
	unsigned n;
	uint32_t ids[HM_IDLIST_MAX];
};

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
	uint64_t idle_spin;    /* --idle-spin: a worker's spin ceiling before it sleeps, us */
	uint64_t key_cache;    /* --key-cache: cached key epochs, shared by the workers */
	uint64_t nonce_cache;  /* --nonce-cache: remembered nonces (all workers) */
	char *nonce_file;      /* --nonce-file: where the nonce cache is kept (DB/nonces) */
	uint64_t nonce_tenant_share; /* --nonce-tenant-share: percent one tenant may fill */
	enum hm_log_level log_level; /* --log-level */
	char *log_file;        /* --log-file: append here instead of stderr; SIGHUP reopens */
	struct hm_idlist allow_uid; /* --allow-uid: peers allowed by user id */
	struct hm_idlist allow_gid; /* --allow-gid: peers allowed by group id */
	uint64_t check_config; /* --check-config given: check and exit */
	/* the daemon-wide RFC 9421 coverage policy (scopes and tenants may have their own) */
	struct hm_policy policy;        /* --policy-require sets its components; the flags below
					   its booleans (applied once parsing is done) */
	uint64_t policy_no_created;     /* --policy-no-created */
	uint64_t policy_no_nonce;       /* --policy-no-nonce */
	uint64_t policy_no_age_check;   /* --policy-no-age-check */
	uint64_t policy_no_body_digest; /* --policy-no-body-digest */
	uint64_t policy_no_query;       /* --policy-no-query */
	uint64_t policy_v1_nonce;       /* --policy-v1-nonce (--policy-v1-require: policy) */
	/* fleet mode (doc/fleet.md): the store is the mirror of the fleet in Redis */
	char *fleet_url;           /* --fleet / HMACD_FLEET */
	char *fleet_password_file; /* --fleet-password-file / HMACD_FLEET_PASSWORD_FILE */
	char *fleet_prefix;        /* --fleet-prefix / HMACD_FLEET_PREFIX */
	char *seal_key_file;       /* --seal-key-file / HMACD_SEAL_KEY_FILE: the fleet's seal key */
	char *fleet_nonces;        /* --fleet-nonces: "redis" (claimed fleet-wide) or "local" */
	uint64_t fleet_timeout;    /* --fleet-timeout: ms a frame's claims may take (WAIT too) */
	uint64_t fleet_wait;       /* --fleet-wait: replicas a claim must reach; 0: none */
	/* metrics (metrics.h) */
	char *metrics_listen;      /* --metrics-listen: [ADDR:]PORT of /metrics; NULL: off */
	uint64_t metrics_tenants;  /* --metrics-tenants: tenants with series of their own; 0: none */
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
