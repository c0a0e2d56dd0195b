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
 * version), so a record cannot be moved, swapped or rolled back without failing to open. The
 * caller encodes its identities and associated data unambiguously (fixed-width or
 * length-prefixed fields, as hm_seal_nonce_digest() does): these functions MAC and bind bytes.
 * Random 96-bit IVs keep GCM safe for far more records than a fleet seals under one key (NIST
 * SP 800-38D allows 2^32).
 *
 * Pure crypto and one file read: no Redis, no LMDB, no msgpack. Secrets are wiped with
 * OPENSSL_cleanse. A struct hm_seal is only read once initialised: threads may share it.
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
 * its padding, which may be left out; whitespace around it ignored; decoded in constant time,
 * proto/b64.h). The file must be a regular file (no symlink, FIFO or directory) owned by the
 * effective user and readable or writable by no one else (mode & 077 == 0); at most 1 KiB of
 * it is read. HM_OK with key set; HM_ENOTFOUND (no such file), HM_ESTATE (owner, mode, type),
 * HM_EINVAL (neither form), HM_EIO. err[0..cap) (may be NULL if cap is 0) says which in a few
 * words, without the path (the caller names it) and never quoting the file's bytes. key is
 * wiped on failure.
 */
int hm_seal_key_load(const char *path, uint8_t key[static HM_SEAL_KEY_LEN], char *err,
		     size_t cap) HM_MUSTCHECK;

/*
 * Writes 32 fresh random bytes to a new file at path, mode 0600 whatever the umask, refusing
 * an existing one (O_EXCL, no symlink followed: an existing file is left untouched); fsync'd
 * before returning (not its directory). HM_OK; HM_EEXIST; HM_ECRYPTO; HM_EIO (err as for
 * hm_seal_key_load() says why; a file it created is removed). The key is not handed back:
 * hm_seal_key_load() reads what was written.
 */
int hm_seal_key_generate(const char *path, char *err, size_t cap) HM_MUSTCHECK;

/*
 * Derives the keys of s from the seal key: HKDF-SHA256, salt empty, the info strings above.
 * HM_OK, HM_ECRYPTO (s wiped). The caller wipes key when it is done with it.
 */
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
 * The 32-byte keyed digest of (tenant, container, nonce) under the nonce key: HMAC-SHA256 of
 * each field preceded by its length as 8 bytes big-endian, so no two triples share an input.
 * What a fleet-wide nonce claim names. HM_OK or HM_ECRYPTO (out wiped).
 */
int hm_seal_nonce_digest(const struct hm_seal *s, const uint8_t *tenant, size_t tenant_len,
			 const uint8_t *container, size_t container_len, const uint8_t *nonce,
			 size_t nonce_len, uint8_t out[static 32]) HM_MUSTCHECK;

/*
 * The same digest for many claims: the nonce key's HMAC fetched and keyed once, then only
 * re-initialised per digest (OpenSSL keeps the keyed pad states), which costs a fraction of
 * hm_seal_nonce_digest()'s fetch and keying. A worker that claims nonces keeps one. Not
 * thread-safe: one per thread. The seal s may be wiped after new(): the context holds its own
 * copy of the key, wiped by free().
 *
 * new: HM_OK with *out; HM_ECRYPTO (*out NULL).
 * digest: as hm_seal_nonce_digest(); HM_OK or HM_ECRYPTO (out wiped).
 */
struct hm_seal_nonce_mac;
int hm_seal_nonce_mac_new(const struct hm_seal *s, struct hm_seal_nonce_mac **out) HM_MUSTCHECK;
int hm_seal_nonce_mac_digest(struct hm_seal_nonce_mac *m, const uint8_t *tenant,
			     size_t tenant_len, const uint8_t *container, size_t container_len,
			     const uint8_t *nonce, size_t nonce_len,
			     uint8_t out[static 32]) HM_MUSTCHECK;
/* Frees m and its keyed state. NULL is fine. */
void hm_seal_nonce_mac_free(struct hm_seal_nonce_mac *m);

/*
 * Seals plain[0..n) with associated data aad[0..aad_len) into out[0..cap) (not overlapping
 * plain): a fresh random IV, the ciphertext, the tag; *out_len = n + HM_SEAL_OVERHEAD (0 on
 * failure). HM_OK, HM_ETOOBIG (cap too small, or n or aad_len over INT_MAX), HM_ECRYPTO.
 */
int hm_seal_record(const struct hm_seal *s, const uint8_t *aad, size_t aad_len,
		   const uint8_t *plain, size_t n, uint8_t *out, size_t cap,
		   size_t *out_len) HM_MUSTCHECK;

/*
 * Opens what hm_seal_record() sealed with the same associated data into plain[0..cap) (not
 * overlapping in), *plain_len set (0 on failure). HM_OK; HM_EMALFORMED (too short, or it does
 * not authenticate: another key, other associated data, a flipped bit, a cut); HM_ETOOBIG
 * (cap < n - HM_SEAL_OVERHEAD, or over INT_MAX); HM_ECRYPTO. On any failure plain[0..cap) is
 * wiped: nothing unauthenticated is left in it.
 */
int hm_seal_open(const struct hm_seal *s, const uint8_t *aad, size_t aad_len,
		 const uint8_t *in, size_t n, uint8_t *plain, size_t cap,
		 size_t *plain_len) HM_MUSTCHECK;

#endif
