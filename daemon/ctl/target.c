/*
 * target.c - where hmacctl's key and policy commands act: the local store (--db DIR) or the
 * fleet (--fleet URL, with --seal-key-file). One place decides; the commands call ctl_t_*()
 * and print the same output and exit codes either way.
 *
 * --fleet, or $HMACD_FLEET when no --db is given (an option on the line beats the
 * environment). --db and --fleet together are a usage error: one command, one source of truth.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "proto/errors.h"
#include "store/keystore.h"
#include "ctl/ctl.h"
#ifdef HM_WITH_FLEET
#include "fleet/admin.h"
#include "fleet/conn.h"
#include "fleet/fleet.h"
#include "fleet/seal.h"
#endif

#define FLEET_TIMEOUT_MS 5000
#define STREAM_MAX_MAX 100000000ull

const char *ctl_fleet_url(const struct ctl *c)
{
	if (c->opt[OPT_FLEET] != NULL)
		return c->opt[OPT_FLEET];
	if (c->opt[OPT_DB] != NULL)
		return NULL;
	return ctl_opt_or_env(c, OPT_FLEET, "HMACD_FLEET");
}

#ifdef HM_WITH_FLEET
struct ctl_fleet {
	struct hm_fleet f;
	struct hm_seal seal;
};

int ctl_fleet_open(const struct ctl *c, const struct cmd *self, const char *group,
		   struct ctl_fleet **out)
{
	const char *url = ctl_opt_or_env(c, OPT_FLEET, "HMACD_FLEET");
	const char *keyf = ctl_opt_or_env(c, OPT_SEAL_KEY_FILE, "HMACD_SEAL_KEY_FILE");
	const char *pwf = ctl_opt_or_env(c, OPT_FLEET_PASSWORD_FILE, "HMACD_FLEET_PASSWORD_FILE");
	const char *prefix = ctl_opt_or_env(c, OPT_FLEET_PREFIX, "HMACD_FLEET_PREFIX");
	char pw[HM_FLEET_PASSWORD_MAX + 1] = "", err[256] = "";
	struct hm_fleet_cfg cfg = {.timeout_ms = FLEET_TIMEOUT_MS};
	uint8_t key[HM_SEAL_KEY_LEN];
	struct ctl_fleet *cf = NULL;
	uint64_t smax = 0;
	int rc, status = CTL_ERR;

	*out = NULL;
	if (url == NULL)
		return ctl_usage_error(group, self, "%s", "no fleet: give --fleet URL or set "
							  "HMACD_FLEET");
	if (keyf == NULL)
		return ctl_usage_error(group, self, "%s",
				       "--fleet needs --seal-key-file FILE (or HMACD_SEAL_KEY_FILE)");
	if (c->opt[OPT_FLEET_STREAM_MAX] != NULL &&
	    !ctl_parse_u64(c->opt[OPT_FLEET_STREAM_MAX], 1, STREAM_MAX_MAX, &smax))
		return ctl_usage_error(group, self, "--fleet-stream-max wants a number 1..%s",
				       "100000000");
	if (prefix != NULL && !hm_fleet_prefix_ok(prefix))
		return ctl_usage_error(group, self, "%s",
				       "--fleet-prefix wants 1..64 bytes of [A-Za-z0-9._:/-]");
	if (hm_fleet_url_parse(url, &cfg.url, err, sizeof(err)) != HM_OK)
		return ctl_usage_error(group, self, "--fleet: %s", err);
	if (pwf != NULL && hm_fleet_password_load(pwf, pw, err, sizeof(err)) != HM_OK) {
		fprintf(stderr, "hmacctl: --fleet-password-file %s: %s\n", ctl_shown(pwf), err);
		goto out;
	}
	if (hm_seal_key_load(keyf, key, err, sizeof(err)) != HM_OK) {
		fprintf(stderr, "hmacctl: --seal-key-file %s: %s\n", ctl_shown(keyf), err);
		goto out;
	}
	cf = calloc(1, sizeof(*cf));
	rc = cf != NULL ? hm_seal_init(&cf->seal, key) : HM_ENOMEM;
	OPENSSL_cleanse(key, sizeof(key));
	if (rc != HM_OK) {
		fprintf(stderr, "hmacctl: seal key: %s\n", hm_strerror(rc));
		goto out;
	}
	cfg.password = pw[0] != '\0' ? pw : NULL;
	cfg.prefix = prefix;
	cfg.seal = &cf->seal;
	cfg.stream_max = (size_t)smax;
	rc = hm_fleet_open(&cf->f, &cfg);
	if (rc != HM_OK) {
		fprintf(stderr, "hmacctl: fleet %s: %s\n", ctl_shown(url), cf->f.err);
		goto out;
	}
	*out = cf;
	cf = NULL;
	status = CTL_OK;
out:
	OPENSSL_cleanse(pw, sizeof(pw));
	ctl_fleet_close(cf);
	return status;
}

void ctl_fleet_close(struct ctl_fleet *cf)
{
	if (cf == NULL)
		return;
	hm_fleet_close(&cf->f);
	hm_seal_wipe(&cf->seal);
	free(cf);
}

struct hm_fleet *ctl_fleet_of(struct ctl_fleet *cf)
{
	return &cf->f;
}
#else
int ctl_fleet_open(const struct ctl *c, const struct cmd *self, const char *group,
		   struct ctl_fleet **out)
{
	(void)c;
	(void)self;
	(void)group;
	*out = NULL;
	fprintf(stderr, "hmacctl: --fleet: this hmacctl was built without fleet mode "
			"(configure found no hiredis)\n");
	return CTL_ERR;
}

void ctl_fleet_close(struct ctl_fleet *cf)
{
	(void)cf;
}
#endif

int ctl_target_open(const struct ctl *c, const struct cmd *self, const char *group,
		    struct ctl_target *t)
{
	memset(t, 0, sizeof(*t));
	t->c = c;
	if (c->opt[OPT_FLEET] != NULL && c->opt[OPT_DB] != NULL)
		return ctl_usage_error(group, self, "%s",
				       "--db and --fleet: give one (the fleet needs no --db)");
	if (ctl_fleet_url(c) != NULL)
		return ctl_fleet_open(c, self, group, &t->fleet);
	return ctl_open_store(c, self, group, 0, &t->ks, NULL);
}

void ctl_target_close(struct ctl_target *t)
{
	hm_ks_close(t->ks);
	ctl_fleet_close(t->fleet);
	memset(t, 0, sizeof(*t));
}

const char *ctl_target_errmsg(const struct ctl_target *t)
{
#ifdef HM_WITH_FLEET
	if (t->fleet != NULL)
		return t->fleet->f.err;
#endif
	return t->ks != NULL ? hm_ks_errmsg(t->ks) : "";
}

int ctl_target_status(const struct ctl_target *t, const char *what, int rc, const char *why)
{
	const char *msg = ctl_target_errmsg(t);

	if (rc == HM_OK)
		return CTL_OK;
	if (why == NULL)
		why = msg[0] != '\0' ? msg : hm_strerror(rc);
	fprintf(stderr, "hmacctl: %s: %s\n", what, why);
	switch (rc) {
	case HM_ENOTFOUND:
		return CTL_NOTFOUND;
	case HM_EEXIST:
	case HM_ESTATE:
		return CTL_CONFLICT;
	case HM_EINVAL:
		return CTL_USAGE;
	default:
		return CTL_ERR;
	}
}

/* ---- the calls: the store's, or the fleet's with the same contract ---- */

/* What a change was, for --audit-syslog on a fleet (a store hands back its own record). */
struct change {
	enum hm_audit_op op;
	const char *tenant, *container;
	uint32_t epoch;
	const char *keyid; /* NULL: none, or not known here */
};

/* The new epoch of a create, rotate or import, once it committed. */
static void change_added(struct change *ch, int rc, const struct hm_ks_added *out)
{
	if (rc == HM_OK && out != NULL) {
		ch->epoch = out->epoch;
		ch->keyid = out->keyid;
	}
}

/*
 * A change's code, after its audit record went to syslog if it committed (--audit-syslog): the
 * store's record; for a fleet, who made the change from this host (each host's hmacd records it
 * in its own trail as it applies it).
 */
static int audited(struct ctl_target *t, int rc, const struct change *ch)
{
	struct hm_audit_rec r;

	if (rc != HM_OK || t->c == NULL || t->c->opt[OPT_AUDIT_SYSLOG] == NULL)
		return rc;
	if (t->ks != NULL) {
		ctl_audit_syslog(t->c, t->ks);
		return rc;
	}
	memset(&r, 0, sizeof(r));
	r.op = ch->op;
	snprintf(r.tenant, sizeof(r.tenant), "%s", ch->tenant != NULL ? ch->tenant : "");
	snprintf(r.container, sizeof(r.container), "%s",
		 ch->container != NULL ? ch->container : "");
	snprintf(r.keyid, sizeof(r.keyid), "%s", ch->keyid != NULL ? ch->keyid : "");
	r.epoch = ch->epoch;
	hm_ks_actor_self(&r.actor);
	r.time_ms = ctl_now_ms();
	snprintf(r.detail, sizeof(r.detail), "%s", "fleet");
	ctl_audit_syslog_rec(&r, false);
	return rc;
}

#ifdef HM_WITH_FLEET
#define DISPATCH(t, fleet_call, store_call) ((t)->fleet != NULL ? (fleet_call) : (store_call))
#define FL(t) (&(t)->fleet->f)
#else
#define DISPATCH(t, fleet_call, store_call) (store_call)
#endif

int ctl_t_create(struct ctl_target *t, const char *tenant, const char *container, int64_t now,
		 const char *keyid, uint8_t secret[static HM_KEY_LEN], struct hm_ks_added *out)
{
	struct change ch = { HM_AUDIT_CREATE, tenant, container, 0, NULL };
	int rc;

	rc = DISPATCH(t, hm_fleet_create(FL(t), tenant, container, now, keyid, secret, out),
		      hm_ks_create(t->ks, tenant, container, now, keyid, secret, out));
	change_added(&ch, rc, out);
	return audited(t, rc, &ch);
}

int ctl_t_rotate(struct ctl_target *t, const char *tenant, const char *container, int64_t now,
		 int64_t grace, const char *keyid, uint8_t secret[static HM_KEY_LEN],
		 struct hm_ks_added *out)
{
	struct change ch = { HM_AUDIT_ROTATE, tenant, container, 0, NULL };
	int rc;

	rc = DISPATCH(t, hm_fleet_rotate(FL(t), tenant, container, now, grace, keyid, secret, out),
		      hm_ks_rotate(t->ks, tenant, container, now, grace, keyid, secret, out));
	change_added(&ch, rc, out);
	return audited(t, rc, &ch);
}

int ctl_t_import(struct ctl_target *t, const char *tenant, const char *container, int64_t now,
		 int64_t grace, const char *keyid, const uint8_t *secret, size_t len,
		 struct hm_ks_added *out)
{
	struct change ch = { HM_AUDIT_IMPORT, tenant, container, 0, NULL };
	int rc;

	rc = DISPATCH(t,
		      hm_fleet_import(FL(t), tenant, container, now, grace, keyid, secret, len,
				      out),
		      hm_ks_import(t->ks, tenant, container, now, grace, keyid, secret, len, out));
	change_added(&ch, rc, out);
	return audited(t, rc, &ch);
}

int ctl_t_revoke(struct ctl_target *t, const char *tenant, const char *container,
		 uint32_t epoch)
{
	struct change ch = { HM_AUDIT_REVOKE, tenant, container, epoch, NULL };

	return audited(t,
		       DISPATCH(t, hm_fleet_revoke(FL(t), tenant, container, epoch),
				hm_ks_revoke(t->ks, tenant, container, epoch)),
		       &ch);
}

int ctl_t_list(struct ctl_target *t, const char *tenant,
	       int (*fn)(const struct hm_key_info *info, void *arg), void *arg)
{
	return DISPATCH(t, hm_fleet_list(FL(t), tenant, fn, arg, NULL),
			hm_ks_list(t->ks, tenant, fn, arg));
}

int ctl_t_policy_set(struct ctl_target *t, const char *tenant, const char *container,
		     const struct hm_policy *p)
{
	struct change ch = { HM_AUDIT_POLICY_SET, tenant, container, 0, NULL };

	return audited(t,
		       DISPATCH(t, hm_fleet_policy_set(FL(t), tenant, container, p),
				hm_ks_policy_set(t->ks, tenant, container, p)),
		       &ch);
}

int ctl_t_policy_unset(struct ctl_target *t, const char *tenant, const char *container)
{
	struct change ch = { HM_AUDIT_POLICY_UNSET, tenant, container, 0, NULL };

	return audited(t,
		       DISPATCH(t, hm_fleet_policy_unset(FL(t), tenant, container),
				hm_ks_policy_unset(t->ks, tenant, container)),
		       &ch);
}

int ctl_t_policy_get(struct ctl_target *t, const char *tenant, const char *container,
		     struct hm_policy *out, enum hm_policy_source *src)
{
	return DISPATCH(t, hm_fleet_policy_get(FL(t), tenant, container, out, src),
			hm_ks_policy_get(t->ks, tenant, container, out, src));
}

int ctl_t_policy_list(struct ctl_target *t, const char *tenant,
		      int (*fn)(const struct hm_policy_info *info, void *arg), void *arg)
{
	return DISPATCH(t, hm_fleet_policy_list(FL(t), tenant, fn, arg, NULL),
			hm_ks_policy_list(t->ks, tenant, fn, arg));
}
