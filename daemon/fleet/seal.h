/*
 * seal.h - the fleet's seal key and what it protects (issue 12): records leave the host only
 * sealed, so Redis, and whoever controls it, never sees a secret.
 *
 * The seal key is 32 random bytes in a file of its own (`hmacctl seal-key generate`), given to
 * hmacd and hmacctl with --seal-key-file (HMACD_SEAL_KEY_FILE). From it, HKDF-SHA256 derives
 * separate keys, so that no key serves two purposes:
 *   enc   AES-256-GCM sealing of records ("hmacd fleet v1 seal");
 *   name  HMAC-SHA256 of a record's identity, its name in Redis ("hmacd fleet v1 name"), so
 *         that Redis learns neither tenants nor containers;
 *   nonce HMAC-SHA256 of (tenant, container, nonce) for fleet-wide nonce claims
 *         ("hmacd fleet v1 nonce"; fleet mode part 2);
 *   id    the seal key's public id ("hmacd fleet v1 key id"): 16 bytes, shown as 32 hex
 *         digits, stored in the fleet's meta so that a host with another seal key is told so
 *         instead of refusing every record.
 * A sealed record is iv (12 random bytes, fresh per record) | ciphertext | tag (16); the
 * caller's associated data binds it to its place (the fleet prefix, the record's name, its
 * version), so a record cannot be moved, swapped or rolled back without failing to open.
 *
 * Pure crypto and one file read: no Redis, no LMDB. Secrets are wiped with OPENSSL_cleanse.
 */
#ifndef HM_FLEET_SEAL_H
#define HM_FLEET_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "proto/errors.h"

#define HM_SEAL_KEY_LEN 32
#define HM_SEAL_IV_LEN 12
#define HM_SEAL_TAG_LEN 16
#define HM_SEAL_OVERHEAD (HM_SEAL_IV_LEN + HM_SEAL_TAG_LEN)
#define HM_SEAL_ID_HEX 33 /* 32 hex digits and a NUL */
#define HM_SEAL_NAME_HEX 65 /* 64 hex digits and a NUL */

struct hm_seal {
	uint8_t enc[32];
	uint8_t name[32];
	uint8_t nonce[32];
	uint8_t id[16];
};

/*
 * Reads a seal key file: exactly 32 raw bytes, or the base64 of 32 bytes (44 characters with
 * its padding, whitespace around it ignored). The file must be a regular file (no symlink)
 * owned by the effective user and readable or writable by no one else (mode & 077 == 0).
 * HM_OK with key set; HM_ENOTFOUND (no such file), HM_ESTATE (owner, mode, type), HM_EINVAL
 * (neither form), HM_EIO. err[0..cap) says which, never quoting the file's bytes. key is wiped
 * on failure.
 */
int hm_seal_key_load(const char *path, uint8_t key[static HM_SEAL_KEY_LEN], char *err,
		     size_t cap) HM_MUSTCHECK;

/*
 * Writes 32 fresh random bytes to a new file at path, mode 0600, refusing an existing one
 * (O_EXCL, no symlink followed); flushed before returning. HM_OK; HM_EEXIST; HM_ECRYPTO;
 * HM_EIO (err says why; a half-written file is removed).
 */
int hm_seal_key_generate(const char *path, char *err, size_t cap) HM_MUSTCHECK;

/* Derives the keys of s from the seal key (HKDF-SHA256, info strings above). HM_OK, HM_ECRYPTO. */
int hm_seal_init(struct hm_seal *s, const uint8_t key[static HM_SEAL_KEY_LEN]) HM_MUSTCHECK;

/* Wipes s. */
void hm_seal_wipe(struct hm_seal *s);

/* The seal key's id as 32 lower-case hex digits and a NUL. */
void hm_seal_id_hex(const struct hm_seal *s, char out[static HM_SEAL_ID_HEX]);

/*
 * The name of a record: HMAC-SHA256(name key, ident[0..len)) as 64 lower-case hex digits and a
 * NUL. HM_OK or HM_ECRYPTO.
 */
int hm_seal_name(const struct hm_seal *s, const uint8_t *ident, size_t len,
		 char out[static HM_SEAL_NAME_HEX]) HM_MUSTCHECK;

/*
 * The 32-byte keyed digest of (tenant, container, nonce), each length-prefixed, under the nonce
 * key: what a fleet-wide nonce claim names. HM_OK or HM_ECRYPTO.
 */
int hm_seal_nonce_digest(const struct hm_seal *s, const uint8_t *tenant, size_t tenant_len,
			 const uint8_t *container, size_t container_len, const uint8_t *nonce,
			 size_t nonce_len, uint8_t out[static 32]) HM_MUSTCHECK;

/*
 * Seals plain[0..n) with associated data aad[0..aad_len) into out[0..cap): a fresh random IV,
 * the ciphertext, the tag; *out_len = n + HM_SEAL_OVERHEAD. HM_OK, HM_ETOOBIG (cap too small),
 * HM_ECRYPTO.
 */
int hm_seal_record(const struct hm_seal *s, const uint8_t *aad, size_t aad_len,
		   const uint8_t *plain, size_t n, uint8_t *out, size_t cap,
		   size_t *out_len) HM_MUSTCHECK;

/*
 * Opens what hm_seal_record() sealed with the same associated data into plain[0..cap),
 * *plain_len set. HM_OK; HM_EMALFORMED (too short, or it does not authenticate: another key,
 * other associated data, a flipped bit; plain is then wiped); HM_ETOOBIG; HM_ECRYPTO.
 */
int hm_seal_open(const struct hm_seal *s, const uint8_t *aad, size_t aad_len,
		 const uint8_t *in, size_t n, uint8_t *plain, size_t cap,
		 size_t *plain_len) HM_MUSTCHECK;

#endif
