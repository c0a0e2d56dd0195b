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

/* Backup and restore act on a host's store: with a fleet and no --db, say so. */
static int store_only(const struct ctl *c, const struct cmd *self)
{
	if (c->opt[OPT_DB] == NULL && ctl_fleet_url(c) != NULL)
		return ctl_usage_error(NULL, self, "%s",
				       "backup and restore act on a host's store: give --db DIR "
				       "(the fleet's records are in Redis, back Redis up)");
	return CTL_OK;
}

int cmd_backup(const struct ctl *c, const struct cmd *self)
{
	const char *dir = ctl_opt_or_env(c, OPT_DB, "HMACD_DB");
	const char *out = c->opt[OPT_OUT];
	struct hm_ks_backup_info info;
	char err[512];
	int rc, status;

	status = store_only(c, self);
	if (status != CTL_OK)
		return status;
	if (dir == NULL)
		return ctl_usage_error(NULL, self, "%s",
				       "no key store: give --db DIR or set HMACD_DB");
	rc = hm_ks_backup(dir, out, c->opt[OPT_FORCE] != NULL, &info, err, sizeof(err));
	if (rc != HM_OK) {
		fprintf(stderr, "hmacctl: backup %s: %s\n", ctl_shown(dir),
			err[0] != '\0' ? err : hm_strerror(rc));
		return rc == HM_EEXIST ? CTL_CONFLICT : rc == HM_EINVAL ? CTL_USAGE : CTL_ERR;
	}
	if (c->opt[OPT_JSON] != NULL) {
		printf("{\"file\":");
		ctl_json_str(stdout, out);
		printf(",\"bytes\":%" PRIu64 ",\"keys\":%zu,\"keyids\":%zu,\"policies\":%zu,"
		       "\"audit\":%zu,\"mirror\":%s}\n",
		       info.bytes, info.keys, info.keyids, info.policies, info.audit,
		       info.mirror ? "true" : "false");
	} else {
		printf("backup of %s in %s (mode 0600, checked): %" PRIu64 " bytes, %zu epochs, "
		       "%zu policies, %zu audit records\n",
		       dir, out, info.bytes, info.keys, info.policies, info.audit);
	}
	return CTL_OK;
}

int cmd_restore(const struct ctl *c, const struct cmd *self)
{
	const char *in = c->opt[OPT_IN];
	struct hm_ks_restore_info info;
	struct hm_keystore *ks = NULL;
	const char *dir = NULL;
	char what[300];
	int rc, status;

	struct hm_ks_backup_info chk;
	char err[512];

	status = store_only(c, self);
	if (status != CTL_OK)
		return status;
	/* the file first: a bad one must not leave a new empty store behind */
	rc = hm_ks_backup_check(in, &chk, err, sizeof(err));
	if (rc != HM_OK) {
		fprintf(stderr, "hmacctl: restore %s: %s\n", ctl_shown(in),
			err[0] != '\0' ? err : hm_strerror(rc));
		return CTL_ERR;
	}
	status = ctl_open_store(c, self, NULL, HM_KS_CREATE, &ks, &dir);
	if (status != CTL_OK)
		return status;
	rc = hm_ks_restore(ks, in, c->opt[OPT_FORCE] != NULL ? HM_KS_RESTORE_FORCE : 0, &info);
	snprintf(what, sizeof(what), "restore %s", ctl_shown(in));
	status = ctl_store_status(ks, what, rc, NULL);
	if (status != CTL_OK)
		goto out;
	ctl_audit_syslog(c, ks);
	if (c->opt[OPT_JSON] != NULL) {
		printf("{\"db\":");
		ctl_json_str(stdout, dir);
		printf(",\"keys\":%zu,\"policies\":%zu,\"replaced\":%s,\"hmacd_pid\":%ld}\n",
		       info.backup.keys, info.backup.policies, info.replaced ? "true" : "false",
		       (long)info.in_use);
		goto out;
	}
	printf("restored %zu epochs and %zu policies into %s\n", info.backup.keys,
	       info.backup.policies, dir);
	if (info.in_use != 0)
		printf("process %ld (hmacd) has the store open: it serves the restored keys from "
		       "its next request, no restart needed\n",
		       (long)info.in_use);
	else
		printf("no process has the store open: start hmacd --db %s\n", dir);
	if (info.replaced)
		printf("the replaced secrets stay in free pages of the file until 'hmacctl "
		       "compact' (hmacd stopped)\n");
out:
	hm_ks_close(ks);
	return status;
}
