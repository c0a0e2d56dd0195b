/*
 * keys.c - hmacctl key create, rotate, import, revoke and list.
 *
 * Secrets never come from the command line (only from `key import --secret-file F|-`) and are
 * printed only by create/rotate, once. A new secret exists in the caller buffer of
 * hm_ks_create/rotate, its base64 text and the output line; an imported one in the file buffer
 * and the decoded buffer. All are stack buffers wiped with OPENSSL_cleanse right after use (the
 * output line right after it is written with write(2), so no copy is left in a stdio buffer).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "proto/b64.h"
#include "proto/errors.h"
#include "store/keystore.h"
#include "ctl/ctl.h"

#define MAX_GRACE 3155760000ull /* 100 years of seconds: more is a typo, not a policy */
#define B64_LEN (4 * ((HM_KEY_LEN + 2) / 3))
#define SECRET_FILE_MAX 4096 /* --secret-file: base64 of 64 bytes plus any whitespace fits */

/* write(2) all of p, so a secret never passes through a stdio buffer. */
static bool write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* --grace, or the default. */
static int grace_opt(const struct ctl *c, const struct cmd *self, uint64_t *grace)
{
	*grace = HM_KS_DEFAULT_GRACE;
	if (c->opt[OPT_GRACE] != NULL && !ctl_parse_u64(c->opt[OPT_GRACE], 0, MAX_GRACE, grace))
		return ctl_usage_error("key", self, "--grace wants whole seconds, 0..%s",
				       "3155760000 (100 years)");
	return CTL_OK;
}

static int64_t now_or_fail(void)
{
	time_t t = time(NULL);

	if (t == (time_t)-1) {
		fprintf(stderr, "hmacctl: time: %s\n", strerror(errno));
		return -1;
	}
	return (int64_t)t;
}

/* The clock, then the store or fleet: what every command that adds an epoch needs first. */
static int open_target_now(const struct ctl *c, const struct cmd *self, struct ctl_target *t,
			   int64_t *now)
{
	memset(t, 0, sizeof(*t));
	*now = now_or_fail();
	if (*now < 0)
		return CTL_ERR;
	return ctl_target_open(c, self, "key", t);
}

/*
 * Formats the report of a new epoch into line[0..cap): JSON, or text for people; with the
 * base64 text of its secret for create/rotate, without it (b64 NULL) for import. grace >= 0
 * adds the grace the replaced epoch got to the text. Returns what snprintf returns.
 */
static int added_line(char *line, size_t cap, const struct ctl *c, const char *verb,
		      const struct hm_ks_added *added, int64_t grace, const char *b64)
{
	const char *t = c->opt[OPT_TENANT], *ct = c->opt[OPT_CONTAINER];
	bool s = b64 != NULL;
	char extra[64] = "";

	/* Names and key ids passed their checks: nothing in them needs JSON escaping. */
	if (c->opt[OPT_JSON] != NULL)
		return snprintf(line, cap,
				"{\"tenant\":\"%s\",\"container\":\"%s\",\"epoch\":%" PRIu32
				",\"keyid\":\"%s\"%s%s%s}\n",
				t, ct, added->epoch, added->keyid, s ? ",\"secret\":\"" : "",
				s ? b64 : "", s ? "\"" : "");
	if (grace >= 0)
		snprintf(extra, sizeof(extra), " (grace %" PRId64 " s for the epoch it replaces)",
			 grace);
	return snprintf(line, cap, "%s %s/%s epoch %" PRIu32 "%s\nkeyid: %s\n%s%s%s", verb, t, ct,
			added->epoch, extra, added->keyid, s ? "secret: " : "", s ? b64 : "",
			s ? "\n" : "");
}

/*
 * Prints a new secret once, with its key id: base64 text and the whole output line live in
 * stack buffers that are wiped after one write(2). Returns CTL_OK or CTL_ERR (the epoch exists
 * but the secret was not delivered: the operator has to rotate).
 */
static int print_secret(const struct ctl *c, const char *what, const char *verb,
			const struct hm_ks_added *added, int64_t grace,
			uint8_t secret[static HM_KEY_LEN])
{
	char b64[B64_LEN + 1];
	char line[1024];
	int n, status = CTL_OK;

	/* The base64 text is as secret as the key: encoded without tables or branches on it. */
	if (hm_b64_encode_ct(secret, HM_KEY_LEN, b64) != B64_LEN) {
		fprintf(stderr, "hmacctl: %s: base64 encoding failed\n", what);
		status = CTL_ERR;
		goto out;
	}
	n = added_line(line, sizeof(line), c, verb, added, grace, b64);
	if (c->opt[OPT_JSON] == NULL)
		fprintf(stderr, "hmacctl: warning: the secret is shown only this once; "
				"store it now\n");
	if (n < 0 || (size_t)n >= sizeof(line) || !write_all(STDOUT_FILENO, line, (size_t)n)) {
		fprintf(stderr, "hmacctl: %s: epoch %" PRIu32
				" was stored but its secret could not be printed (%s); rotate it\n",
			what, added->epoch,
			n < 0 || (size_t)n >= sizeof(line) ? "too long" : strerror(errno));
		status = CTL_ERR;
	}
out:
	OPENSSL_cleanse(line, sizeof(line));
	OPENSSL_cleanse(b64, sizeof(b64));
	return status;
}

/* The reason for HM_EEXIST from a new-epoch call: the scope, or the key id. */
static const char *exists_why(const struct ctl_target *t, const char *scope_hint)
{
	if (strcmp(ctl_target_errmsg(t), "key id already in use") == 0)
		return t->fleet != NULL
			       ? "key id already in use (key ids are unique in the fleet, forever)"
			       : "key id already in use (key ids are unique in the store, forever)";
	return scope_hint;
}

/*
 * key create and key rotate: a new epoch with a fresh secret, printed once. Rotate takes
 * --grace for the epoch it replaces.
 */
static int new_secret(const struct ctl *c, const struct cmd *self, bool rotate)
{
	const char *t = c->opt[OPT_TENANT], *ct = c->opt[OPT_CONTAINER];
	uint8_t secret[HM_KEY_LEN];
	struct hm_ks_added added;
	struct ctl_target tg = {NULL, NULL, NULL};
	uint64_t grace = HM_KS_DEFAULT_GRACE;
	const char *why = NULL;
	char what[300];
	int64_t now;
	int rc, status;

	if (rotate) {
		status = grace_opt(c, self, &grace);
		if (status != CTL_OK)
			return status;
	}
	status = open_target_now(c, self, &tg, &now);
	if (status != CTL_OK)
		return status;
	ctl_scope_what(what, sizeof(what), rotate ? "key rotate" : "key create", c);
	if (rotate)
		rc = ctl_t_rotate(&tg, t, ct, now, (int64_t)grace, c->opt[OPT_KEYID], secret,
				  &added);
	else
		rc = ctl_t_create(&tg, t, ct, now, c->opt[OPT_KEYID], secret, &added);
	if (rc == HM_EEXIST && rotate)
		why = exists_why(&tg, NULL);
	else if (rc == HM_EEXIST)
		why = exists_why(&tg, "scope already exists (use key rotate or key import)");
	else if (rc == HM_ENOTFOUND && rotate)
		why = "no such scope (use key create)";
	if (rc == HM_OK)
		status = print_secret(c, what, rotate ? "rotated" : "created", &added,
				      rotate ? (int64_t)grace : -1, secret);
	else
		status = ctl_target_status(&tg, what, rc, why);
	OPENSSL_cleanse(secret, sizeof(secret));
	ctl_target_close(&tg);
	return status;
}

int cmd_key_create(const struct ctl *c, const struct cmd *self)
{
	return new_secret(c, self, false);
}

int cmd_key_rotate(const struct ctl *c, const struct cmd *self)
{
	return new_secret(c, self, true);
}

/*
 * Reads all of F (stdin for "-") into buf[0..cap]; *n is its length, cap + 1 meaning "more
 * than cap". The caller wipes buf. CTL_OK or CTL_ERR (printed).
 */
static int read_secret_file(const char *path, const char *what, uint8_t *buf, size_t cap,
			    size_t *n)
{
	int fd = STDIN_FILENO, status = CTL_OK;
	ssize_t r;

	*n = 0;
	if (strcmp(path, "-") != 0) {
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0) {
			fprintf(stderr, "hmacctl: %s: --secret-file %s: %s\n", what,
				ctl_shown(path), strerror(errno));
			return CTL_ERR;
		}
	}
	/* one byte past cap tells "too long" from "exactly cap" */
	while (*n < cap + 1) {
		r = read(fd, buf + *n, cap + 1 - *n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "hmacctl: %s: reading the secret file: %s\n", what,
				strerror(errno));
			status = CTL_ERR;
			break;
		}
		if (r == 0)
			break;
		*n += (size_t)r;
	}
	if (fd != STDIN_FILENO)
		close(fd);
	return status;
}

int cmd_key_import(const struct ctl *c, const struct cmd *self)
{
	uint8_t file[SECRET_FILE_MAX + 1], secret[HM_KEY_MAX];
	struct hm_ks_added added;
	struct ctl_target tg = {NULL, NULL, NULL};
	uint64_t grace = HM_KS_DEFAULT_GRACE;
	size_t n = 0, len = 0;
	char what[300], line[600];
	int64_t now;
	int rc, status;

	memset(&added, 0, sizeof(added));
	status = grace_opt(c, self, &grace);
	if (status != CTL_OK)
		return status;
	ctl_scope_what(what, sizeof(what), "key import", c);
	status = read_secret_file(c->opt[OPT_SECRET_FILE], what, file, SECRET_FILE_MAX, &n);
	if (status != CTL_OK)
		goto out;
	/* Lengths only in messages: never a byte of the secret. */
	if (c->opt[OPT_BASE64] == NULL) {
		if (n < HM_KEY_MIN || n > HM_KEY_MAX) {
			status = ctl_usage_error("key", self,
						 "secret must be 16 to 64 bytes (the file has "
						 "%s%zu)", n > SECRET_FILE_MAX ? "over " : "",
						 n > SECRET_FILE_MAX ? (size_t)SECRET_FILE_MAX : n);
			goto out;
		}
		memcpy(secret, file, n);
		len = n;
	} else {
		if (n > SECRET_FILE_MAX) {
			status = ctl_usage_error("key", self, "%s",
						 "secret must be 16 to 64 bytes (file too long)");
			goto out;
		}
		/* the length first, from the shape of the text; its characters only then */
		rc = hm_b64_decoded_len((const char *)file, n, &len);
		if (rc == HM_OK && (len < HM_KEY_MIN || len > HM_KEY_MAX)) {
			status = ctl_usage_error("key", self, "%s",
						 "secret must be 16 to 64 bytes (decoded)");
			goto out;
		}
		if (rc == HM_OK)
			rc = hm_b64_decode_ct((const char *)file, n, secret, sizeof(secret), &len);
		if (rc != HM_OK) {
			status = ctl_usage_error("key", self, "%s",
						 "--secret-file does not hold base64 text "
						 "(--base64)");
			goto out;
		}
	}
	OPENSSL_cleanse(file, sizeof(file));
	status = open_target_now(c, self, &tg, &now);
	if (status != CTL_OK)
		goto out;
	rc = ctl_t_import(&tg, c->opt[OPT_TENANT], c->opt[OPT_CONTAINER], now, (int64_t)grace,
			  c->opt[OPT_KEYID], secret, len, &added);
	OPENSSL_cleanse(secret, sizeof(secret));
	if (rc == HM_OK) {
		/* the grace of the epoch it replaces, if it replaced one */
		added_line(line, sizeof(line), c, "imported", &added,
			   added.epoch > 1 ? (int64_t)grace : -1, NULL);
		fputs(line, stdout);
	}
	status = ctl_target_status(&tg, what, rc, rc == HM_EEXIST ? exists_why(&tg, NULL) : NULL);
out:
	OPENSSL_cleanse(file, sizeof(file));
	OPENSSL_cleanse(secret, sizeof(secret));
	ctl_target_close(&tg);
	return status;
}

int cmd_key_revoke(const struct ctl *c, const struct cmd *self)
{
	struct ctl_target tg = {NULL, NULL, NULL};
	char what[320];
	uint64_t epoch = 0;
	int rc, status;

	if (!ctl_parse_u64(c->opt[OPT_EPOCH], 1, UINT32_MAX, &epoch))
		return ctl_usage_error("key", self, "--epoch wants a number 1..%s", "4294967295");
	status = ctl_target_open(c, self, "key", &tg);
	if (status != CTL_OK)
		return status;
	snprintf(what, sizeof(what), "key revoke %s/%s epoch %" PRIu64, c->opt[OPT_TENANT],
		 c->opt[OPT_CONTAINER], epoch);
	rc = ctl_t_revoke(&tg, c->opt[OPT_TENANT], c->opt[OPT_CONTAINER], (uint32_t)epoch);
	if (rc == HM_OK)
		printf("revoked %s/%s epoch %" PRIu64 "\n", c->opt[OPT_TENANT],
		       c->opt[OPT_CONTAINER], epoch);
	/* the store's own reason first (e.g. a fleet's mirror refusing the write) */
	status = ctl_target_status(&tg, what, rc,
				  ctl_target_errmsg(&tg)[0] != '\0' ? NULL
				  : rc == HM_ENOTFOUND	     ? "no such scope or epoch"
				  : rc == HM_ESTATE	     ? "epoch already revoked"
							     : NULL);
	ctl_target_close(&tg);
	return status;
}

static void iso_time(int64_t t, char out[static 32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t < 0 || (int64_t)tt != t || gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "@%" PRId64, t);
}

/* The stored state, except that a superseded epoch past its deadline shows as "expired". */
static const char *shown_state(const struct hm_key_info *info, int64_t now)
{
	if (info->state == HM_KEY_SUPERSEDED && now >= info->deadline)
		return "expired";
	return hm_key_state_name(info->state);
}

static int list_row(const struct hm_key_info *info, void *arg)
{
	struct list_out *lo = arg;
	char created[32], expires[32] = "-";

	ctl_list_next(lo);
	if (lo->json) {
		/* names come from the store, which only holds hm_lex_scope() names */
		/* key ids too: hm_lex_keyid() has nothing JSON would escape */
		fprintf(lo->f,
			"{\"tenant\":\"%s\",\"container\":\"%s\",\"epoch\":%" PRIu32
			",\"keyid\":\"%s\",\"state\":\"%s\",\"created\":%" PRId64
			",\"deadline\":%" PRId64 "}",
			info->tenant, info->container, info->epoch, info->keyid,
			shown_state(info, lo->now), info->created, info->deadline);
	} else {
		iso_time(info->created, created);
		if (info->state == HM_KEY_SUPERSEDED)
			iso_time(info->deadline, expires);
		fprintf(lo->f, "%-20s %-20s %6" PRIu32 " %-10s %-20s %-20s %s\n", info->tenant,
			info->container, info->epoch, shown_state(info, lo->now), created,
			expires, info->keyid);
	}
	return 0;
}

int cmd_key_list(const struct ctl *c, const struct cmd *self)
{
	struct list_out lo = { .json = c->opt[OPT_JSON] != NULL, .now = (int64_t)time(NULL) };
	struct ctl_target tg = {NULL, NULL, NULL};
	int rc, status;

	status = ctl_target_open(c, self, "key", &tg);
	if (status != CTL_OK)
		return status;
	status = ctl_list_begin(&lo, "key list", "[", "%-20s %-20s %6s %-10s %-20s %-20s %s\n",
				"TENANT", "CONTAINER", "EPOCH", "STATE", "CREATED", "EXPIRES",
				"KEYID");
	if (status == CTL_OK) {
		rc = ctl_t_list(&tg, c->opt[OPT_TENANT], list_row, &lo);
		status = ctl_target_status(&tg, "key list", rc, NULL);
	}
	ctl_target_close(&tg);
	return ctl_list_end(&lo, status);
}
