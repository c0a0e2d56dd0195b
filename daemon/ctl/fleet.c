/*
 * fleet.c - hmacctl's fleet commands (issue 12): seal-key generate and seal-key id; init of a
 * fleet (`hmacctl --fleet ... init`) and import-store. Key and policy commands reach the fleet
 * through target.c.
 *
 * The seal key file is written and read by fleet/seal.c; here it is only named, never shown.
 * What is printed is the key's id, a MAC of a constant under it: the same on every host that
 * holds the same key, and nothing about the key itself.
 */
#include <config.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "proto/errors.h"
#include "fleet/seal.h"
#include "store/keystore.h"
#ifdef HM_WITH_FLEET
#include "fleet/admin.h"
#include "fleet/fleet.h"
#endif
#include "ctl/ctl.h"

/*
 * The id of the seal key in path into id, read as every hmacd and hmacctl will read it. HM_OK,
 * or a code with err[0..cap) saying why.
 */
static int key_id(const char *path, char id[static HM_SEAL_ID_HEX], char *err, size_t cap)
{
	uint8_t key[HM_SEAL_KEY_LEN];
	struct hm_seal s;
	int rc;

	rc = hm_seal_key_load(path, key, err, cap);
	if (rc != HM_OK)
		return rc;
	rc = hm_seal_init(&s, key);
	OPENSSL_cleanse(key, sizeof(key));
	if (rc != HM_OK) {
		snprintf(err, cap, "deriving the seal keys: %s", hm_strerror(rc));
		return rc;
	}
	hm_seal_id_hex(&s, id);
	hm_seal_wipe(&s);
	return HM_OK;
}

int cmd_seal_key_generate(const struct ctl *c, const struct cmd *self)
{
	const char *path = c->opt[OPT_OUT];
	char id[HM_SEAL_ID_HEX], err[256];
	int rc;

	if (path[0] == '\0')
		return ctl_usage_error("seal-key", self, "%s", "--out needs a file name");
	rc = hm_seal_key_generate(path, err, sizeof(err));
	if (rc != HM_OK) {
		fprintf(stderr, "hmacctl: seal-key generate: %s: %s\n", ctl_shown(path), err);
		return CTL_ERR;
	}
	/*
	 * Read back as the fleet will read it. A file system that cannot give it mode 0600 or our
	 * owner (vfat, root-squashed NFS) makes a key no host accepts, and maybe one others can
	 * read: it is removed.
	 */
	if (key_id(path, id, err, sizeof(err)) != HM_OK) {
		(void)unlink(path);
		fprintf(stderr, "hmacctl: seal-key generate: %s: written, but not usable as a seal "
				"key there (%s); removed\n",
			ctl_shown(path), err);
		return CTL_ERR;
	}
	printf("wrote a new seal key to %s (id %s); keep it secret, give it to every hmacd and "
	       "hmacctl of the fleet\n",
	       path, id);
	return CTL_OK;
}

int cmd_seal_key_id(const struct ctl *c, const struct cmd *self)
{
	const char *path = ctl_opt_or_env(c, OPT_SEAL_KEY_FILE, "HMACD_SEAL_KEY_FILE");
	char id[HM_SEAL_ID_HEX], err[256];

	if (path == NULL)
		return ctl_usage_error("seal-key", self, "%s",
				       "no seal key: give --seal-key-file FILE or set "
				       "HMACD_SEAL_KEY_FILE");
	if (key_id(path, id, err, sizeof(err)) != HM_OK) {
		fprintf(stderr, "hmacctl: seal-key id: %s: %s\n", ctl_shown(path), err);
		return CTL_ERR;
	}
	printf("%s\n", id);
	return CTL_OK;
}

#ifdef HM_WITH_FLEET
int ctl_fleet_init(const struct ctl *c, const struct cmd *self)
{
	struct ctl_fleet *cf = NULL;
	struct hm_fleet_meta m;
	struct hm_fleet *f;
	int rc, status;

	status = ctl_fleet_open(c, self, NULL, &cf);
	if (status != CTL_OK)
		return status;
	f = ctl_fleet_of(cf);
	rc = hm_fleet_meta_create(f, NULL, &m);
	if (rc == HM_OK) {
		printf("initialised fleet %s under %s (seal key %s)\n", m.fleet_id, f->prefix,
		       m.seal_key_id);
	} else if (rc == HM_EEXIST) {
		rc = hm_fleet_meta_check(f, &m);
		if (rc == HM_OK)
			printf("fleet %s under %s exists (seal key %s): nothing to do\n",
			       m.fleet_id, f->prefix, m.seal_key_id);
	}
	status = CTL_OK;
	if (rc != HM_OK) {
		fprintf(stderr, "hmacctl: init fleet: %s\n", f->err[0] != '\0' ? f->err
									     : hm_strerror(rc));
		status = CTL_ERR;
	}
	ctl_fleet_close(cf);
	return status;
}

int cmd_import_store(const struct ctl *c, const struct cmd *self)
{
	struct hm_fleet_imported res;
	struct hm_keystore *ks = NULL;
	struct ctl_fleet *cf = NULL;
	const char *dir = NULL;
	struct hm_fleet *f;
	int rc, status;

	if (ctl_opt_or_env(c, OPT_FLEET, "HMACD_FLEET") == NULL)
		return ctl_usage_error(NULL, self, "%s",
				       "no fleet: give --fleet URL or set HMACD_FLEET");
	status = ctl_open_store(c, self, NULL, 0, &ks, &dir);
	if (status != CTL_OK)
		return status;
	/* the fleet is named by --fleet or $HMACD_FLEET even though --db is given here */
	status = ctl_fleet_open(c, self, NULL, &cf);
	if (status != CTL_OK)
		goto out;
	f = ctl_fleet_of(cf);
	rc = hm_fleet_import_store(f, ks, c->opt[OPT_FORCE] != NULL, &res);
	if (rc != HM_OK) {
		fprintf(stderr, "hmacctl: import-store %s: %s\n", ctl_shown(dir),
			f->err[0] != '\0' ? f->err : hm_strerror(rc));
		status = rc == HM_ESTATE ? CTL_CONFLICT : CTL_ERR;
		goto out;
	}
	if (c->opt[OPT_JSON] != NULL)
		printf("{\"fleet_id\":\"%s\",\"created\":%s,\"written\":%zu,\"kept\":%zu,"
		       "\"conflicts\":%zu}\n",
		       res.fleet_id, res.created ? "true" : "false", res.written, res.kept,
		       res.conflicts);
	else
		printf("imported %s into fleet %s%s: %zu record(s) written, %zu kept (the fleet's "
		       "own; --force overwrites them), %zu key id conflict(s)\n",
		       dir, res.fleet_id, res.created ? " (created)" : "", res.written, res.kept,
		       res.conflicts);
	if (res.conflicts > 0) {
		fprintf(stderr, "hmacctl: import-store %s: %zu epoch(s) not imported: their key id "
				"is held by another record of the fleet\n",
			ctl_shown(dir), res.conflicts);
		status = CTL_CONFLICT;
	}
out:
	ctl_fleet_close(cf);
	hm_ks_close(ks);
	return status;
}
#else
int ctl_fleet_init(const struct ctl *c, const struct cmd *self)
{
	struct ctl_fleet *cf = NULL;

	return ctl_fleet_open(c, self, NULL, &cf);
}

int cmd_import_store(const struct ctl *c, const struct cmd *self)
{
	struct ctl_fleet *cf = NULL;

	return ctl_fleet_open(c, self, NULL, &cf);
}
#endif
