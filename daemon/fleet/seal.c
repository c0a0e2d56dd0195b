/*
 * seal.c - the fleet's seal key and the keys HKDF derives from it (seal.h): the key file, read
 * and written with the checks an SSH private key gets; record names and nonce digests
 * (HMAC-SHA256); records sealed and opened with AES-256-GCM. OpenSSL 3 EVP only. Every buffer
 * that held key material is wiped with OPENSSL_cleanse on every path, and no message quotes a
 * byte of it. Nothing here compares a secret: GCM checks its own tag (in constant time).
 */
#include "fleet/seal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "proto/b64.h"

#define INFO_ENC "hmacd fleet v1 seal"
#define INFO_NAME "hmacd fleet v1 name"
#define INFO_NONCE "hmacd fleet v1 nonce"
#define INFO_ID "hmacd fleet v1 key id"

/* A key file is 32 bytes or their base64 (44 characters) with a little whitespace: 1 KiB and
 * more is something else, and is not read further. */
#define KEY_FILE_MAX 1024

static void set_err(char *err, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t cap, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || cap == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
}

/* Reads fd to its end or to cap + 1 bytes: *n > cap means "longer than cap". HM_OK, HM_EIO. */
static int read_bounded(int fd, uint8_t *buf, size_t cap, size_t *n)
{
	ssize_t r;

	*n = 0;
	while (*n < cap + 1) {
		r = read(fd, buf + *n, cap + 1 - *n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return HM_EIO;
		if (r == 0)
			break;
		*n += (size_t)r;
	}
	return HM_OK;
}

/*
 * The key in buf[0..n): exactly 32 bytes are the key itself, anything else must be the base64
 * of 32 bytes. Only n (the file's size) steers a branch before the constant-time decoder.
 */
static int parse_key(const uint8_t *buf, size_t n, uint8_t key[static HM_SEAL_KEY_LEN],
		     char *err, size_t cap)
{
	size_t len = 0;
	int rc;

	if (n == HM_SEAL_KEY_LEN) {
		memcpy(key, buf, HM_SEAL_KEY_LEN);
		return HM_OK;
	}
	if (n > KEY_FILE_MAX) {
		set_err(err, cap, "over %d bytes: not a seal key", KEY_FILE_MAX);
		return HM_EINVAL;
	}
	/* the length from the shape of the text first, its characters only then */
	rc = hm_b64_decoded_len((const char *)buf, n, &len);
	if (rc == HM_OK && len != HM_SEAL_KEY_LEN)
		rc = HM_EINVAL;
	if (rc == HM_OK)
		rc = hm_b64_decode_ct((const char *)buf, n, key, HM_SEAL_KEY_LEN, &len);
	if (rc != HM_OK || len != HM_SEAL_KEY_LEN) {
		set_err(err, cap, "%zu bytes: neither 32 raw bytes nor the base64 of 32 bytes", n);
		return HM_EINVAL;
	}
	return HM_OK;
}

int hm_seal_key_load(const char *path, uint8_t key[static HM_SEAL_KEY_LEN], char *err,
		     size_t cap)
{
	uint8_t buf[KEY_FILE_MAX + 1];
	struct stat st;
	size_t n = 0;
	int fd = -1, rc;

	set_err(err, cap, "%s", "");
	/* O_NONBLOCK: a FIFO put in the key's place must not hang us; fstat refuses it next */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT) {
			rc = HM_ENOTFOUND;
			set_err(err, cap, "no such file");
		} else if (errno == ELOOP) {
			rc = HM_ESTATE;
			set_err(err, cap, "a symbolic link: name the key file itself");
		} else {
			rc = HM_EIO;
			set_err(err, cap, "open: %s", strerror(errno));
		}
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		rc = HM_EIO;
		set_err(err, cap, "fstat: %s", strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = HM_ESTATE;
		set_err(err, cap, "not a regular file");
		goto out;
	}
	if (st.st_uid != geteuid()) {
		rc = HM_ESTATE;
		set_err(err, cap, "owned by uid %lu, not by the user reading it (uid %lu)",
			(unsigned long)st.st_uid, (unsigned long)geteuid());
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		rc = HM_ESTATE;
		set_err(err, cap, "mode %04o lets group or others at it; chmod 600 it",
			(unsigned)(st.st_mode & 07777));
		goto out;
	}
	rc = read_bounded(fd, buf, KEY_FILE_MAX, &n);
	if (rc != HM_OK) {
		set_err(err, cap, "read: %s", strerror(errno));
		goto out;
	}
	rc = parse_key(buf, n, key, err, cap);
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	if (fd >= 0)
		(void)close(fd);
	if (rc != HM_OK)
		OPENSSL_cleanse(key, HM_SEAL_KEY_LEN);
	return rc;
}

static bool write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w == 0)
			errno = EIO; /* no progress, no error: do not spin */
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

int hm_seal_key_generate(const char *path, char *err, size_t cap)
{
	uint8_t key[HM_SEAL_KEY_LEN];
	bool created = false;
	int fd = -1, rc = HM_EIO;

	set_err(err, cap, "%s", "");
	if (RAND_bytes(key, sizeof(key)) != 1) {
		rc = HM_ECRYPTO;
		set_err(err, cap, "RAND_bytes failed");
		goto out;
	}
	/* O_EXCL: never an existing file, nor through a symbolic link (O_NOFOLLOW says it twice) */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0) {
		if (errno == EEXIST) {
			rc = HM_EEXIST;
			set_err(err, cap, "already exists; a seal key is never overwritten");
		} else {
			set_err(err, cap, "create: %s", strerror(errno));
		}
		goto out;
	}
	created = true;
	/*
	 * A umask only takes bits away from 0600, so it cannot widen it; a umask like 0277 would
	 * leave the owner unable to write, or 0377 unable to read: fchmod makes it exactly 0600.
	 */
	if (fchmod(fd, 0600) != 0) {
		set_err(err, cap, "fchmod: %s", strerror(errno));
		goto out;
	}
	if (!write_all(fd, key, sizeof(key))) {
		set_err(err, cap, "write: %s", strerror(errno));
		goto out;
	}
	if (fsync(fd) != 0) {
		set_err(err, cap, "fsync: %s", strerror(errno));
		goto out;
	}
	rc = close(fd);
	fd = -1;
	if (rc != 0) {
		rc = HM_EIO;
		set_err(err, cap, "close: %s", strerror(errno));
		goto out;
	}
	rc = HM_OK;
out:
	OPENSSL_cleanse(key, sizeof(key));
	if (fd >= 0)
		(void)close(fd);
	if (rc != HM_OK && created)
		(void)unlink(path);
	return rc;
}

/* HKDF-SHA256(key, salt empty, info) into out[0..len). HM_OK or HM_ECRYPTO (out wiped). */
static int derive(EVP_KDF *kdf, const uint8_t key[static HM_SEAL_KEY_LEN], const char *info,
		  uint8_t *out, size_t len)
{
	EVP_KDF_CTX *kctx;
	OSSL_PARAM params[5];
	int rc = HM_ECRYPTO;

	kctx = EVP_KDF_CTX_new(kdf);
	if (kctx == NULL)
		goto out;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key,
						      HM_SEAL_KEY_LEN);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (char *)"", 0);
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info,
						      strlen(info));
	params[4] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, out, len, params) != 1)
		goto out;
	rc = HM_OK;
out:
	EVP_KDF_CTX_free(kctx); /* wipes its copy of the key */
	if (rc != HM_OK)
		OPENSSL_cleanse(out, len);
	return rc;
}

int hm_seal_init(struct hm_seal *s, const uint8_t key[static HM_SEAL_KEY_LEN])
{
	EVP_KDF *kdf;
	int rc = HM_ECRYPTO;

	kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	if (kdf == NULL)
		goto out;
	rc = derive(kdf, key, INFO_ENC, s->enc, sizeof(s->enc));
	if (rc == HM_OK)
		rc = derive(kdf, key, INFO_NAME, s->name, sizeof(s->name));
	if (rc == HM_OK)
		rc = derive(kdf, key, INFO_NONCE, s->nonce, sizeof(s->nonce));
	if (rc == HM_OK)
		rc = derive(kdf, key, INFO_ID, s->id, sizeof(s->id));
out:
	EVP_KDF_free(kdf);
	if (rc != HM_OK)
		hm_seal_wipe(s);
	return rc;
}

void hm_seal_wipe(struct hm_seal *s)
{
	OPENSSL_cleanse(s, sizeof(*s));
}

/* Lower-case hex of p[0..n) and a NUL. Only for public values (ids, names): it uses a table. */
static void hex(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

void hm_seal_id_hex(const struct hm_seal *s, char out[static HM_SEAL_ID_HEX])
{
	hex(s->id, sizeof(s->id), out);
}

/* An HMAC-SHA256 context keyed with key[0..32), or NULL. */
static EVP_MAC_CTX *hmac_keyed(const uint8_t key[static 32])
{
	EVP_MAC *mac;
	EVP_MAC_CTX *ctx;
	OSSL_PARAM params[2];

	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (mac == NULL)
		return NULL;
	ctx = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac); /* the context holds its own reference */
	if (ctx == NULL)
		return NULL;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(ctx, key, 32, params) != 1) {
		EVP_MAC_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/*
 * The MAC, under the context's key, of part[0] | part[1] | ...; fresh says the context was
 * just keyed (else it is re-initialised first). HM_OK or HM_ECRYPTO (out wiped).
 */
static int mac_parts(EVP_MAC_CTX *ctx, bool fresh, const uint8_t *const part[],
		     const size_t len[], size_t nparts, uint8_t out[static 32])
{
	size_t outlen = 0, i;

	if (!fresh && EVP_MAC_init(ctx, NULL, 0, NULL) != 1)
		goto fail;
	for (i = 0; i < nparts; i++) {
		if (len[i] > 0 && EVP_MAC_update(ctx, part[i], len[i]) != 1)
			goto fail;
	}
	if (EVP_MAC_final(ctx, out, &outlen, 32) != 1 || outlen != 32)
		goto fail;
	return HM_OK;
fail:
	OPENSSL_cleanse(out, 32);
	return HM_ECRYPTO;
}

/* HMAC-SHA256 under key[0..32) of part[0] | part[1] | ... HM_OK or HM_ECRYPTO (out wiped). */
static int hmac_parts(const uint8_t key[static 32], const uint8_t *const part[],
		      const size_t len[], size_t nparts, uint8_t out[static 32])
{
	EVP_MAC_CTX *ctx = hmac_keyed(key);
	int rc;

	if (ctx == NULL) {
		OPENSSL_cleanse(out, 32);
		return HM_ECRYPTO;
	}
	rc = mac_parts(ctx, true, part, len, nparts, out);
	EVP_MAC_CTX_free(ctx); /* wipes its keyed state */
	return rc;
}

int hm_seal_name(const struct hm_seal *s, const uint8_t *ident, size_t len,
		 char out[static HM_SEAL_NAME_HEX])
{
	const uint8_t *part[1] = { ident };
	const size_t plen[1] = { len };
	uint8_t digest[32];
	int rc;

	out[0] = '\0';
	rc = hmac_parts(s->name, part, plen, 1, digest);
	if (rc == HM_OK)
		hex(digest, sizeof(digest), out);
	OPENSSL_cleanse(digest, sizeof(digest));
	return rc;
}

/* v as 8 bytes, big-endian: the length prefix of the nonce digest's fields. */
static void be64(uint8_t out[static 8], uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		out[i] = (uint8_t)v;
		v >>= 8;
	}
}

/* The nonce digest's input: each field after its length as 8 bytes big-endian. */
struct nonce_input {
	uint8_t lens[3][8];
	const uint8_t *part[6];
	size_t plen[6];
};

static void nonce_input(struct nonce_input *in, const uint8_t *tenant, size_t tenant_len,
			const uint8_t *container, size_t container_len, const uint8_t *nonce,
			size_t nonce_len)
{
	const uint8_t *field[3] = {tenant, container, nonce};
	const size_t len[3] = {tenant_len, container_len, nonce_len};

	for (size_t i = 0; i < 3; i++) {
		be64(in->lens[i], len[i]);
		in->part[2 * i] = in->lens[i];
		in->plen[2 * i] = 8;
		in->part[2 * i + 1] = field[i];
		in->plen[2 * i + 1] = len[i];
	}
}

int hm_seal_nonce_digest(const struct hm_seal *s, const uint8_t *tenant, size_t tenant_len,
			 const uint8_t *container, size_t container_len, const uint8_t *nonce,
			 size_t nonce_len, uint8_t out[static 32])
{
	struct nonce_input in;

	nonce_input(&in, tenant, tenant_len, container, container_len, nonce, nonce_len);
	return hmac_parts(s->nonce, in.part, in.plen, 6, out);
}

struct hm_seal_nonce_mac {
	EVP_MAC_CTX *ctx; /* keyed with the nonce key */
	bool fresh;       /* keyed, not used yet */
};

int hm_seal_nonce_mac_new(const struct hm_seal *s, struct hm_seal_nonce_mac **out)
{
	struct hm_seal_nonce_mac *m;

	*out = NULL;
	m = OPENSSL_zalloc(sizeof(*m));
	if (m == NULL)
		return HM_ECRYPTO;
	m->ctx = hmac_keyed(s->nonce);
	if (m->ctx == NULL) {
		OPENSSL_free(m);
		return HM_ECRYPTO;
	}
	m->fresh = true;
	*out = m;
	return HM_OK;
}

int hm_seal_nonce_mac_digest(struct hm_seal_nonce_mac *m, const uint8_t *tenant,
			     size_t tenant_len, const uint8_t *container, size_t container_len,
			     const uint8_t *nonce, size_t nonce_len, uint8_t out[static 32])
{
	struct nonce_input in;
	bool fresh = m->fresh;

	m->fresh = false;
	nonce_input(&in, tenant, tenant_len, container, container_len, nonce, nonce_len);
	return mac_parts(m->ctx, fresh, in.part, in.plen, 6, out);
}

void hm_seal_nonce_mac_free(struct hm_seal_nonce_mac *m)
{
	if (m == NULL)
		return;
	EVP_MAC_CTX_free(m->ctx); /* wipes its keyed state */
	OPENSSL_free(m);
}

int hm_seal_record(const struct hm_seal *s, const uint8_t *aad, size_t aad_len,
		   const uint8_t *plain, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
	EVP_CIPHER *aes = NULL;
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t *iv = out, *ct = out + HM_SEAL_IV_LEN;
	int len = 0, rc = HM_ECRYPTO;

	*out_len = 0;
	/* EVP counts in int; checked first, so n + HM_SEAL_OVERHEAD cannot wrap */
	if (n > INT_MAX || aad_len > INT_MAX)
		return HM_ETOOBIG;
	if (cap < n + HM_SEAL_OVERHEAD)
		return HM_ETOOBIG;
	if (RAND_bytes(iv, HM_SEAL_IV_LEN) != 1)
		goto out;
	aes = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	ctx = EVP_CIPHER_CTX_new();
	if (aes == NULL || ctx == NULL)
		goto out;
	/* GCM's default IV length is 12 bytes, HM_SEAL_IV_LEN */
	if (EVP_EncryptInit_ex2(ctx, aes, s->enc, iv, NULL) != 1)
		goto out;
	if (aad_len > 0 && EVP_EncryptUpdate(ctx, NULL, &len, aad, (int)aad_len) != 1)
		goto out;
	if (n > 0 && (EVP_EncryptUpdate(ctx, ct, &len, plain, (int)n) != 1 || (size_t)len != n))
		goto out;
	if (EVP_EncryptFinal_ex(ctx, ct + n, &len) != 1 || len != 0)
		goto out;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, HM_SEAL_TAG_LEN, ct + n) != 1)
		goto out;
	*out_len = n + HM_SEAL_OVERHEAD;
	rc = HM_OK;
out:
	EVP_CIPHER_CTX_free(ctx); /* wipes the key schedule */
	EVP_CIPHER_free(aes);
	return rc;
}

int hm_seal_open(const struct hm_seal *s, const uint8_t *aad, size_t aad_len,
		 const uint8_t *in, size_t n, uint8_t *plain, size_t cap, size_t *plain_len)
{
	EVP_CIPHER *aes = NULL;
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t tag[HM_SEAL_TAG_LEN], end[16]; /* end: what GCM's final step writes (nothing) */
	size_t m;
	int len = 0, rc = HM_EMALFORMED;

	*plain_len = 0;
	if (n < HM_SEAL_OVERHEAD)
		goto out;
	m = n - HM_SEAL_OVERHEAD;
	if (m > INT_MAX || aad_len > INT_MAX || m > cap) {
		rc = HM_ETOOBIG;
		goto out;
	}
	memcpy(tag, in + n - HM_SEAL_TAG_LEN, sizeof(tag));
	rc = HM_ECRYPTO;
	aes = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	ctx = EVP_CIPHER_CTX_new();
	if (aes == NULL || ctx == NULL)
		goto out;
	if (EVP_DecryptInit_ex2(ctx, aes, s->enc, in, NULL) != 1)
		goto out;
	if (aad_len > 0 && EVP_DecryptUpdate(ctx, NULL, &len, aad, (int)aad_len) != 1)
		goto out;
	if (m > 0 && (EVP_DecryptUpdate(ctx, plain, &len, in + HM_SEAL_IV_LEN, (int)m) != 1 ||
		      (size_t)len != m))
		goto out;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, HM_SEAL_TAG_LEN, tag) != 1)
		goto out;
	/* the tag is checked here: until then plain holds bytes nobody vouched for */
	if (EVP_DecryptFinal_ex(ctx, end, &len) != 1) {
		rc = HM_EMALFORMED;
		goto out;
	}
	*plain_len = m;
	rc = HM_OK;
out:
	EVP_CIPHER_CTX_free(ctx);
	EVP_CIPHER_free(aes);
	if (rc != HM_OK && cap > 0)
		OPENSSL_cleanse(plain, cap);
	return rc;
}
