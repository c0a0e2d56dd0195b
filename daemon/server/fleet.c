/*
 * fleet.c - hmacd in fleet mode (fleet.h).
 */
#include <config.h>

#include "server/fleet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "server/claims.h"
#include "server/conn.h"
#include "server/log.h"

#ifdef HM_WITH_FLEET
#include "fleet/conn.h"
#include "fleet/follow.h"
#include "fleet/locate.h"
#include "fleet/seal.h"

#define FLEET_TIMEOUT_MS 3000

/*
 * Nonce claims in flight per worker: four connections' worth of held frames of 1024 items
 * (HM_CONN_MAX_HELD x --max-batch's default), so one client pipelining as much as it may does
 * not leave the others of its worker without claims; about 6 MiB per worker.
 */
#define CLAIMS_MAX (4 * HM_CONN_MAX_HELD * 1024)
#define CLAIM_SETS_MAX 1024 /* frames waiting for their claims per worker */

struct hm_srv_fleet {
	struct hm_seal seal; /* the follower's records are sealed and opened with it */
	struct hm_follower *fo;
	struct hm_locator *locator; /* sentinel:// with fleet-wide nonces: the claimers' master */
	struct hm_fleet_url url;
	char password[HM_FLEET_PASSWORD_MAX + 1]; /* for the workers' claimers; wiped at stop */
	struct hm_claims_cfg claims;
};

bool hm_srv_fleet_built(void)
{
	return true;
}

bool hm_srv_fleet_prefix_ok(const char *prefix)
{
	return prefix != NULL && hm_fleet_prefix_ok(prefix);
}

static void log_line(void *arg, enum hm_follow_level level, const char *msg)
{
	(void)arg;
	hm_log(level == HM_FOLLOW_ERROR  ? HM_LOG_ERROR
	       : level == HM_FOLLOW_WARN ? HM_LOG_WARN
					 : HM_LOG_INFO,
	       "%s", msg);
}

static void locate_log(void *arg, enum hm_locate_level level, const char *msg)
{
	(void)arg;
	hm_log(level == HM_LOCATE_ERROR  ? HM_LOG_ERROR
	       : level == HM_LOCATE_WARN ? HM_LOG_WARN
					 : HM_LOG_INFO,
	       "%s", msg);
}

/* The URL, password and seal key of cfg into fc (pw holds the password). HM_OK or logged. */
static int read_config(const struct hm_config *cfg, struct hm_fleet_cfg *fc,
		       char pw[static HM_FLEET_PASSWORD_MAX + 1],
		       uint8_t key[static HM_SEAL_KEY_LEN], bool to_stderr)
{
	char err[256] = "";
	int rc;

	rc = hm_fleet_url_parse(cfg->fleet_url, &fc->url, err, sizeof(err));
	if (rc != HM_OK)
		goto fail_url;
	pw[0] = '\0';
	if (cfg->fleet_password_file != NULL) {
		rc = hm_fleet_password_load(cfg->fleet_password_file, pw, err, sizeof(err));
		if (rc != HM_OK)
			goto fail_pw;
	}
	rc = hm_seal_key_load(cfg->seal_key_file, key, err, sizeof(err));
	if (rc != HM_OK)
		goto fail_key;
	fc->password = pw[0] != '\0' ? pw : NULL;
	fc->prefix = cfg->fleet_prefix;
	fc->timeout_ms = FLEET_TIMEOUT_MS;
	return HM_OK;
fail_url:
	if (to_stderr)
		fprintf(stderr, "hmacd: --fleet: %s\n", err);
	else
		hm_err("--fleet: %s", err);
	return rc;
fail_pw:
	if (to_stderr)
		fprintf(stderr, "hmacd: --fleet-password-file %s: %s\n", cfg->fleet_password_file,
			err);
	else
		hm_err("--fleet-password-file %s: %s", cfg->fleet_password_file, err);
	return rc;
fail_key:
	if (to_stderr)
		fprintf(stderr, "hmacd: --seal-key-file %s: %s\n", cfg->seal_key_file, err);
	else
		hm_err("--seal-key-file %s: %s", cfg->seal_key_file, err);
	return rc;
}

int hm_srv_fleet_start(const struct hm_config *cfg, struct hm_keystore *ks,
		       struct hm_srv_fleet **out)
{
	char pw[HM_FLEET_PASSWORD_MAX + 1], err[512] = "";
	struct hm_fleet_cfg fc = {.timeout_ms = FLEET_TIMEOUT_MS};
	uint8_t key[HM_SEAL_KEY_LEN];
	struct hm_srv_fleet *sf;
	int rc;

	*out = NULL;
	sf = calloc(1, sizeof(*sf));
	if (sf == NULL)
		return HM_ENOMEM;
	rc = read_config(cfg, &fc, pw, key, false);
	if (rc == HM_OK) {
		rc = hm_seal_init(&sf->seal, key);
		OPENSSL_cleanse(key, sizeof(key));
		if (rc != HM_OK)
			hm_err("seal key: %s", hm_strerror(rc));
	}
	if (rc != HM_OK)
		goto out;
	fc.seal = &sf->seal;
	sf->url = fc.url;
	memcpy(sf->password, pw, sizeof(sf->password));
	rc = hm_follow_start(&fc, ks, log_line, NULL, &sf->fo, err, sizeof(err));
	if (rc == HM_OK) {
		hm_info("fleet %s: the store is up to date; following", cfg->fleet_url);
	} else if (sf->fo != NULL) {
		/* synced before: serve what the store holds; the follower keeps trying */
		hm_warn("fleet %s: %s; serving the store as last synced", cfg->fleet_url, err);
		rc = HM_OK;
	} else {
		hm_err("fleet %s: %s", cfg->fleet_url, err[0] != '\0' ? err : hm_strerror(rc));
	}
	/* the workers' claimers find the master through it, never waiting on a sentinel */
	if (rc == HM_OK && fc.url.sentinel && strcmp(cfg->fleet_nonces, "redis") == 0) {
		rc = hm_locator_start(&fc.url, fc.password, FLEET_TIMEOUT_MS, locate_log, NULL,
				      &sf->locator);
		if (rc != HM_OK)
			hm_err("fleet: cannot start the sentinel locator: %s", hm_strerror(rc));
	}
out:
	OPENSSL_cleanse(pw, sizeof(pw));
	if (rc != HM_OK) {
		hm_srv_fleet_stop(sf);
		return rc;
	}
	*out = sf;
	return HM_OK;
}

int hm_srv_fleet_run(struct hm_srv_fleet *sf)
{
	return hm_follow_run(sf->fo);
}

const struct hm_claims_cfg *hm_srv_fleet_claims(struct hm_srv_fleet *sf,
						const struct hm_config *cfg)
{
	sf->claims = (struct hm_claims_cfg){
		.url = &sf->url,
		.locator = sf->locator,
		.password = sf->password[0] != '\0' ? sf->password : NULL,
		.prefix = cfg->fleet_prefix,
		.seal = &sf->seal,
		.timeout_ms = (unsigned)cfg->fleet_timeout,
		.wait = (unsigned)cfg->fleet_wait,
		.max_claims = CLAIMS_MAX,
		.max_sets = CLAIM_SETS_MAX,
	};
	return &sf->claims;
}

void hm_srv_fleet_stop(struct hm_srv_fleet *sf)
{
	if (sf == NULL)
		return;
	hm_follow_stop(sf->fo);
	hm_locator_stop(sf->locator);
	hm_seal_wipe(&sf->seal);
	OPENSSL_cleanse(sf->password, sizeof(sf->password));
	free(sf);
}

void hm_srv_fleet_stats(const struct hm_srv_fleet *sf, const char *names[HM_SRV_FLEET_NSTATS],
			uint64_t values[HM_SRV_FLEET_NSTATS])
{
	const struct hm_follow_stats *st = hm_follow_stats(sf->fo);

	names[0] = "fleet_connected";
	values[0] = atomic_load(&st->connected);
	names[1] = "fleet_state";
	values[1] = atomic_load(&st->state);
	names[2] = "fleet_changes_applied";
	values[2] = atomic_load(&st->changes_applied);
	names[3] = "fleet_records_refused";
	values[3] = atomic_load(&st->records_refused);
	names[4] = "fleet_resyncs";
	values[4] = atomic_load(&st->resyncs);
	names[5] = "fleet_lag_ms";
	values[5] = atomic_load(&st->lag_ms);
}

int hm_srv_fleet_check(const struct hm_config *cfg)
{
	char pw[HM_FLEET_PASSWORD_MAX + 1];
	struct hm_fleet_cfg fc;
	uint8_t key[HM_SEAL_KEY_LEN];
	int rc;

	memset(&fc, 0, sizeof(fc));
	rc = read_config(cfg, &fc, pw, key, true);
	OPENSSL_cleanse(pw, sizeof(pw));
	OPENSSL_cleanse(key, sizeof(key));
	return rc == HM_OK ? 0 : 1;
}

#else /* built without fleet mode: options.c refuses --fleet, so none of these is reached */

const struct hm_claims_cfg *hm_srv_fleet_claims(struct hm_srv_fleet *sf,
						const struct hm_config *cfg)
{
	(void)sf;
	(void)cfg;
	return NULL;
}

struct hm_srv_fleet {
	int unused;
};

bool hm_srv_fleet_built(void)
{
	return false;
}

bool hm_srv_fleet_prefix_ok(const char *prefix)
{
	(void)prefix;
	return false;
}

int hm_srv_fleet_start(const struct hm_config *cfg, struct hm_keystore *ks,
		       struct hm_srv_fleet **out)
{
	(void)cfg;
	(void)ks;
	*out = NULL;
	hm_err("this hmacd was built without fleet mode");
	return HM_EINVAL;
}

int hm_srv_fleet_run(struct hm_srv_fleet *sf)
{
	(void)sf;
	return HM_EINVAL;
}

void hm_srv_fleet_stop(struct hm_srv_fleet *sf)
{
	(void)sf;
}

void hm_srv_fleet_stats(const struct hm_srv_fleet *sf, const char *names[HM_SRV_FLEET_NSTATS],
			uint64_t values[HM_SRV_FLEET_NSTATS])
{
	(void)sf;
	(void)names;
	(void)values;
}

int hm_srv_fleet_check(const struct hm_config *cfg)
{
	(void)cfg;
	fprintf(stderr, "hmacd: --fleet: this hmacd was built without fleet mode\n");
	return 1;
}
#endif
