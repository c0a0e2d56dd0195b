/*
 * store.c - hmacctl and the key store: opening it (--db or $HMACD_DB), its codes as exit statuses
 * and messages, and the commands on the store as a whole: init and compact.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

#include "proto/errors.h"
#include "store/keystore.h"
#include "ctl/ctl.h"

int ctl_open_store(const struct ctl *c, const struct cmd *self, const char *group,
		   unsigned flags, struct hm_keystore **ks, const char **dirp)
{
	const char *dir = ctl_opt_or_env(c, OPT_DB, "HMACD_DB");
	char err[256];
	int rc;

	*ks = NULL;
	if (dir == NULL)
		return ctl_usage_error(group, self, "%s",
				       "no key store: give --db DIR or set HMACD_DB");
	if (dirp != NULL)
		*dirp = dir;
	rc = hm_ks_open(dir, flags, ks, err, sizeof(err));
	if (rc == HM_OK)
		return CTL_OK;
	fprintf(stderr, "hmacctl: open %s: %s%s\n", dir, err[0] != '\0' ? err : hm_strerror(rc),
		rc == HM_ENOTFOUND ? " (create it with 'hmacctl init')" : "");
	return CTL_ERR;
}

int ctl_store_status(struct hm_keystore *ks, const char *what, int rc, const char *why)
{
	const char *msg;

	if (rc == HM_OK)
		return CTL_OK;
	msg = hm_ks_errmsg(ks);
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

void ctl_scope_what(char *out, size_t cap, const char *verb, const struct ctl *c)
{
	if (c->opt[OPT_CONTAINER] != NULL)
		snprintf(out, cap, "%s %s/%s", verb, c->opt[OPT_TENANT], c->opt[OPT_CONTAINER]);
	else
		snprintf(out, cap, "%s tenant %s", verb, c->opt[OPT_TENANT]);
}

int cmd_init(const struct ctl *c, const struct cmd *self)
{
	struct hm_keystore *ks = NULL;
	const char *dir = NULL;
	int rc;

	if (ctl_fleet_url(c) != NULL && c->opt[OPT_DB] == NULL)
		return ctl_fleet_init(c, self);
	rc = ctl_open_store(c, self, NULL, HM_KS_CREATE, &ks, &dir);
	if (rc != CTL_OK)
		return rc;
	hm_ks_close(ks);
	printf("initialised %s\n", dir);
	return CTL_OK;
}

int cmd_compact(const struct ctl *c, const struct cmd *self)
{
	const char *dir = ctl_opt_or_env(c, OPT_DB, "HMACD_DB");
	struct hm_ks_compacted res;
	char err[512];
	int rc;

	if (dir == NULL)
		return ctl_usage_error(NULL, self, "%s",
				       "no key store: give --db DIR or set HMACD_DB");
	rc = hm_ks_compact(dir, &res, err, sizeof(err));
	if (rc != HM_OK) {
		fprintf(stderr, "hmacctl: compact %s: %s\n", ctl_shown(dir),
			err[0] != '\0' ? err : hm_strerror(rc));
		return CTL_ERR;
	}
	if (c->opt[OPT_JSON] != NULL)
		printf("{\"bytes_before\":%" PRIu64 ",\"bytes_after\":%" PRIu64 "}\n",
		       res.bytes_before, res.bytes_after);
	else
		printf("compacted %s: %" PRIu64 " -> %" PRIu64 " bytes; the old pages are wiped\n",
		       dir, res.bytes_before, res.bytes_after);
	return CTL_OK;
}
