/*
 * fleet.c - hmacctl's fleet commands (issue 12): seal-key generate and seal-key id.
 *
 * The seal key file is written and read by fleet/seal.c; here it is only named, never shown.
 * What is printed is the key's id, a MAC of a constant under it: the same on every host that
 * holds the same key, and nothing about the key itself.
 */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "proto/errors.h"
#include "fleet/seal.h"
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
