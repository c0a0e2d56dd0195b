/*
 * hmacctl.c - the hmacd admin CLI: manages the LMDB key store directly (no daemon needed) and
 * asks a running hmacd for ping / stats through the C client library.
 *
 * Built as a subcommand table (wireguard-tools' wg.c): each entry names its handler, the
 * options it accepts and requires, and its help line; the usage texts and option checks are
 * derived from the tables so they cannot drift. Options may come before or after the command
 * words. Data goes to stdout, diagnostics to stderr as one line "hmacctl: <what>: <reason>".
 *
 * Exit codes (a contract, see usage()): 0 ok, 1 store or daemon error, 2 usage error, 3 no such
 * scope or epoch, 4 scope exists or epoch in the wrong state.
 *
 * Secrets: a new secret exists in the caller buffer of hm_ks_create/rotate, its base64 text and
 * the output line. All three are stack buffers wiped with OPENSSL_cleanse right after the line
 * is written with write(2), so no copy is left in a stdio buffer.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "b64.h"
#include "hmacd/client.h"
#include "keystore.h"

enum ctl_exit {
	CTL_OK = 0,
	CTL_ERR = 1,      /* the store or the daemon failed */
	CTL_USAGE = 2,    /* bad command line */
	CTL_NOTFOUND = 3, /* no such scope or epoch */
	CTL_CONFLICT = 4, /* scope exists, or epoch already revoked */
};

#define MAX_GRACE 3155760000ull /* 100 years of seconds: more is a typo, not a policy */
#define B64_LEN (4 * ((HM_KEY_LEN + 2) / 3))

enum opt {
	OPT_DB,
	OPT_SOCKET,
	OPT_TENANT,
	OPT_CONTAINER,
	OPT_GRACE,
	OPT_EPOCH,
	OPT_JSON,
	OPT_HELP,
	OPT__MAX
};

#define F(o) (1u << (o))
/* Accepted by every command, wherever they appear on the line. */
#define OPTS_GLOBAL (F(OPT_DB) | F(OPT_SOCKET) | F(OPT_HELP))

static const struct optdef {
	const char *name;
	const char *arg; /* metavariable, NULL for a flag */
	const char *help;
} optdefs[OPT__MAX] = {
	[OPT_DB] = { "db", "DIR", "key store directory (default: $HMACD_DB)" },
	[OPT_SOCKET] = { "socket", "PATH", "hmacd's Unix socket (default: $HMACD_SOCKET)" },
	[OPT_TENANT] = { "tenant", "T", "tenant: 1..128 bytes of [A-Za-z0-9._:/-]" },
	[OPT_CONTAINER] = { "container", "C", "container: 1..128 bytes of [A-Za-z0-9._:/-]" },
	[OPT_GRACE] = { "grace", "SECONDS",
			"how long the replaced epoch stays valid (default 86400, 0: not at all)" },
	[OPT_EPOCH] = { "epoch", "N", "epoch number (1, 2, ...)" },
	[OPT_JSON] = { "json", NULL, "machine-readable output" },
	[OPT_HELP] = { "help", NULL, "show help" },
};

/* The parsed command line. */
struct ctl {
	const char *opt[OPT__MAX]; /* option values; "" for a flag given; NULL when absent */
	const char *word[3];       /* the command words */
	int nword;
};

struct cmd {
	const char *name;
	int (*fn)(const struct ctl *c, const struct cmd *self);
	const struct cmd *sub; /* a command group: the next word picks one of these */
	unsigned opts;         /* options accepted besides OPTS_GLOBAL; db/socket: which it uses */
	unsigned need;         /* options required */
	const char *help;
};

static int cmd_init(const struct ctl *c, const struct cmd *self);
static int cmd_key_create(const struct ctl *c, const struct cmd *self);
static int cmd_key_rotate(const struct ctl *c, const struct cmd *self);
static int cmd_key_revoke(const struct ctl *c, const struct cmd *self);
static int cmd_key_list(const struct ctl *c, const struct cmd *self);
static int cmd_ping(const struct ctl *c, const struct cmd *self);
static int cmd_stats(const struct ctl *c, const struct cmd *self);

#define SCOPE (F(OPT_TENANT) | F(OPT_CONTAINER))

static const struct cmd key_cmds[] = {
	{ "create", cmd_key_create, NULL, F(OPT_DB) | SCOPE | F(OPT_JSON), SCOPE,
	  "create a scope with epoch 1 and print its secret once" },
	{ "rotate", cmd_key_rotate, NULL, F(OPT_DB) | SCOPE | F(OPT_GRACE) | F(OPT_JSON), SCOPE,
	  "add a new current epoch and print its secret once; the one it replaces stays\n"
	  "      valid for --grace seconds" },
	{ "revoke", cmd_key_revoke, NULL, F(OPT_DB) | SCOPE | F(OPT_EPOCH),
	  SCOPE | F(OPT_EPOCH), "end one epoch at once and wipe its secret" },
	{ "list", cmd_key_list, NULL, F(OPT_DB) | F(OPT_TENANT) | F(OPT_JSON), 0,
	  "list epochs and their state: current, superseded, expired, revoked (never secrets)" },
	{ NULL, NULL, NULL, 0, 0, NULL },
};

static const struct cmd top_cmds[] = {
	{ "init", cmd_init, NULL, F(OPT_DB), 0, "create the key store if needed and check it" },
	{ "key", NULL, key_cmds, 0, 0, "manage keys" },
	{ "ping", cmd_ping, NULL, F(OPT_SOCKET), 0, "check that hmacd answers" },
	{ "stats", cmd_stats, NULL, F(OPT_SOCKET) | F(OPT_JSON), 0, "print hmacd's counters" },
	{ NULL, NULL, NULL, 0, 0, NULL },
};

/* ---- output helpers ---- */

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

/* User input in a diagnostic: printed only if it is short printable ASCII. */
static const char *shown(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i >= 64 || s[i] < 0x20 || s[i] > 0x7e)
			return "(unprintable)";
	}
	return s;
}

static void usage_line(FILE *f, const char *group, const struct cmd *cmd)
{
	int o;

	fprintf(f, "hmacctl");
	if (cmd->opts & F(OPT_DB))
		fprintf(f, " [--db DIR]");
	if (cmd->opts & F(OPT_SOCKET))
		fprintf(f, " [--socket PATH]");
	fprintf(f, " %s%s%s", group != NULL ? group : "", group != NULL ? " " : "", cmd->name);
	for (o = 0; o < OPT__MAX; o++) {
		if (!(cmd->opts & F(o)) || (F(o) & OPTS_GLOBAL))
			continue;
		if (cmd->need & F(o))
			fprintf(f, " --%s %s", optdefs[o].name, optdefs[o].arg);
		else if (optdefs[o].arg != NULL)
			fprintf(f, " [--%s %s]", optdefs[o].name, optdefs[o].arg);
		else
			fprintf(f, " [--%s]", optdefs[o].name);
	}
	fprintf(f, "\n");
}

static void usage_cmds(FILE *f, const char *group, const struct cmd *cmds)
{
	const struct cmd *cmd;

	for (cmd = cmds; cmd->name != NULL; cmd++) {
		if (cmd->sub != NULL) {
			usage_cmds(f, cmd->name, cmd->sub);
			continue;
		}
		fprintf(f, "  ");
		usage_line(f, group, cmd);
		fprintf(f, "      %s\n", cmd->help);
	}
}

static void usage(FILE *f)
{
	char spec[40];
	int o;

	fprintf(f, "usage: hmacctl [--db DIR] [--socket PATH] COMMAND [OPTIONS]\n\n"
		   "Manages the hmacd key store directly, or talks to a running hmacd.\n\n"
		   "commands:\n");
	usage_cmds(f, NULL, top_cmds);
	fprintf(f, "  hmacctl help | --help\n\noptions (before or after the command):\n");
	for (o = 0; o < OPT__MAX; o++) {
		snprintf(spec, sizeof(spec), "--%s%s%s", optdefs[o].name,
			 optdefs[o].arg != NULL ? " " : "",
			 optdefs[o].arg != NULL ? optdefs[o].arg : "");
		fprintf(f, "  %-19s %s\n", spec, optdefs[o].help);
	}
	fprintf(f, "\nexit status: 0 ok, 1 store or daemon error, 2 usage error,\n"
		   "  3 no such scope or epoch, 4 scope exists or epoch already revoked\n");
}

static int usage_error(const char *group, const struct cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * A usage error: exactly one line on stderr, like every other diagnostic
 * ("hmacctl: <what>: <reason> (see 'hmacctl --help')"), so scripts can log it as it is.
 */
static int usage_error(const char *group, const struct cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	if (cmd != NULL)
		fprintf(stderr, "hmacctl: %s%s%s: ", group != NULL ? group : "",
			group != NULL ? " " : "", cmd->name);
	else
		fprintf(stderr, "hmacctl: usage: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'hmacctl --help')\n");
	return CTL_USAGE;
}

/* ---- argument helpers ---- */

/* strtoull with the checks it lacks: digits only (no sign, no space), end, errno, range. */
static bool parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end = NULL;

	if (s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static const char *opt_or_env(const struct ctl *c, enum opt o, const char *env)
{
	const char *v = c->opt[o];

	if (v == NULL)
		v = getenv(env);
	if (v == NULL || v[0] == '\0')
		return NULL;
	return v;
}

/* Checks --tenant / --container before the store is touched. */
static int check_scope_opts(const struct ctl *c, const struct cmd *self)
{
	static const enum opt names[] = { OPT_TENANT, OPT_CONTAINER };
	const char *v;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		v = c->opt[names[i]];
		if (v != NULL && !hm_scope_name_ok(v, strlen(v)))
			return usage_error("key", self,
					   "--%s must be 1..128 bytes of [A-Za-z0-9._:/-]",
					   optdefs[names[i]].name);
	}
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

/* ---- the store ---- */

static int open_store(const struct ctl *c, const struct cmd *self, const char *group,
		      unsigned flags, struct hm_keystore **ks, const char **dirp)
{
	const char *dir = opt_or_env(c, OPT_DB, "HMACD_DB");
	char err[256];
	int rc;

	*ks = NULL;
	if (dir == NULL)
		return usage_error(group, self, "%s",
				   "no key store: give --db DIR or set HMACD_DB");
	*dirp = dir;
	rc = hm_ks_open(dir, flags, ks, err, sizeof(err));
	if (rc == HM_OK)
		return CTL_OK;
	fprintf(stderr, "hmacctl: open %s: %s%s\n", dir, err[0] != '\0' ? err : hm_strerror(rc),
		rc == HM_ENOTFOUND ? " (create it with 'hmacctl init')" : "");
	return CTL_ERR;
}

/* Maps a store code to an exit status after printing "hmacctl: what: reason". */
static int store_fail(struct hm_keystore *ks, const char *what, int rc, const char *why)
{
	const char *msg = hm_ks_errmsg(ks);

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

static int cmd_init(const struct ctl *c, const struct cmd *self)
{
	struct hm_keystore *ks = NULL;
	const char *dir = NULL;
	int rc;

	rc = open_store(c, self, NULL, HM_KS_CREATE, &ks, &dir);
	if (rc != CTL_OK)
		return rc;
	hm_ks_close(ks);
	printf("initialised %s\n", dir);
	return CTL_OK;
}

/*
 * Prints a new secret once: base64 text and the whole output line live in stack buffers that
 * are wiped after one write(2). Returns CTL_OK or CTL_ERR (the epoch exists but the secret was
 * not delivered: the operator has to rotate).
 */
static int print_secret(const struct ctl *c, const char *what, const char *verb, uint32_t epoch,
			int64_t grace, uint8_t secret[static HM_KEY_LEN])
{
	char b64[B64_LEN + 1];
	char line[640], extra[64] = "";
	const char *t = c->opt[OPT_TENANT], *ct = c->opt[OPT_CONTAINER];
	int n, status = CTL_OK;

	/* The base64 text is as secret as the key: encoded without tables or branches on it. */
	if (hm_b64_encode_ct(secret, HM_KEY_LEN, b64) != B64_LEN) {
		fprintf(stderr, "hmacctl: %s: base64 encoding failed\n", what);
		status = CTL_ERR;
		goto out;
	}
	/* Names passed hm_scope_name_ok(): nothing in them needs JSON escaping. */
	if (c->opt[OPT_JSON] != NULL) {
		n = snprintf(line, sizeof(line),
			     "{\"tenant\":\"%s\",\"container\":\"%s\",\"epoch\":%" PRIu32
			     ",\"secret\":\"%s\"}\n",
			     t, ct, epoch, b64);
	} else {
		if (grace >= 0)
			snprintf(extra, sizeof(extra),
				 " (grace %" PRId64 " s for the epoch it replaces)", grace);
		n = snprintf(line, sizeof(line), "%s %s/%s epoch %" PRIu32 "%s\nsecret: %s\n",
			     verb, t, ct, epoch, extra, b64);
		fprintf(stderr, "hmacctl: warning: the secret is shown only this once; "
				"store it now\n");
	}
	if (n < 0 || (size_t)n >= sizeof(line) || !write_all(STDOUT_FILENO, line, (size_t)n)) {
		fprintf(stderr, "hmacctl: %s: epoch %" PRIu32
				" was stored but its secret could not be printed (%s); rotate it\n",
			what, epoch,
			n < 0 || (size_t)n >= sizeof(line) ? "too long" : strerror(errno));
		status = CTL_ERR;
	}
out:
	OPENSSL_cleanse(line, sizeof(line));
	OPENSSL_cleanse(b64, sizeof(b64));
	return status;
}

static int cmd_key_create(const struct ctl *c, const struct cmd *self)
{
	uint8_t secret[HM_KEY_LEN];
	struct hm_keystore *ks = NULL;
	const char *dir = NULL;
	char what[300];
	uint32_t epoch = 0;
	int64_t now;
	int rc, status;

	status = check_scope_opts(c, self);
	if (status != CTL_OK)
		return status;
	now = now_or_fail();
	if (now < 0)
		return CTL_ERR;
	status = open_store(c, self, "key", 0, &ks, &dir);
	if (status != CTL_OK)
		return status;
	snprintf(what, sizeof(what), "key create %s/%s", c->opt[OPT_TENANT], c->opt[OPT_CONTAINER]);
	rc = hm_ks_create(ks, c->opt[OPT_TENANT], c->opt[OPT_CONTAINER], now, &epoch, secret);
	if (rc == HM_OK)
		status = print_secret(c, what, "created", epoch, -1, secret);
	else
		status = store_fail(ks, what, rc,
				    rc == HM_EEXIST ? "scope already exists (use key rotate)"
						    : NULL);
	OPENSSL_cleanse(secret, sizeof(secret));
	hm_ks_close(ks);
	return status;
}

static int cmd_key_rotate(const struct ctl *c, const struct cmd *self)
{
	uint8_t secret[HM_KEY_LEN];
	struct hm_keystore *ks = NULL;
	uint64_t grace = HM_KS_DEFAULT_GRACE;
	const char *dir = NULL;
	char what[300];
	uint32_t epoch = 0;
	int64_t now;
	int rc, status;

	status = check_scope_opts(c, self);
	if (status != CTL_OK)
		return status;
	if (c->opt[OPT_GRACE] != NULL && !parse_u64(c->opt[OPT_GRACE], 0, MAX_GRACE, &grace))
		return usage_error("key", self, "--grace wants whole seconds, 0..%s",
				   "3155760000 (100 years)");
	now = now_or_fail();
	if (now < 0)
		return CTL_ERR;
	status = open_store(c, self, "key", 0, &ks, &dir);
	if (status != CTL_OK)
		return status;
	snprintf(what, sizeof(what), "key rotate %s/%s", c->opt[OPT_TENANT], c->opt[OPT_CONTAINER]);
	rc = hm_ks_rotate(ks, c->opt[OPT_TENANT], c->opt[OPT_CONTAINER], now, (int64_t)grace,
			  &epoch, secret);
	if (rc == HM_OK)
		status = print_secret(c, what, "rotated", epoch, (int64_t)grace, secret);
	else
		status = store_fail(ks, what, rc,
				    rc == HM_ENOTFOUND ? "no such scope (use key create)" : NULL);
	OPENSSL_cleanse(secret, sizeof(secret));
	hm_ks_close(ks);
	return status;
}

static int cmd_key_revoke(const struct ctl *c, const struct cmd *self)
{
	struct hm_keystore *ks = NULL;
	const char *dir = NULL;
	char what[320];
	uint64_t epoch = 0;
	int rc, status;

	status = check_scope_opts(c, self);
	if (status != CTL_OK)
		return status;
	if (!parse_u64(c->opt[OPT_EPOCH], 1, UINT32_MAX, &epoch))
		return usage_error("key", self, "--epoch wants a number 1..%s", "4294967295");
	status = open_store(c, self, "key", 0, &ks, &dir);
	if (status != CTL_OK)
		return status;
	snprintf(what, sizeof(what), "key revoke %s/%s epoch %" PRIu64, c->opt[OPT_TENANT],
		 c->opt[OPT_CONTAINER], epoch);
	rc = hm_ks_revoke(ks, c->opt[OPT_TENANT], c->opt[OPT_CONTAINER], (uint32_t)epoch);
	if (rc == HM_OK) {
		printf("revoked %s/%s epoch %" PRIu64 "\n", c->opt[OPT_TENANT],
		       c->opt[OPT_CONTAINER], epoch);
		status = CTL_OK;
	} else {
		status = store_fail(ks, what, rc,
				    rc == HM_ENOTFOUND ? "no such scope or epoch"
				    : rc == HM_ESTATE ? "epoch already revoked"
						      : NULL);
	}
	hm_ks_close(ks);
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

/*
 * Output built in a memory stream (open_memstream) is printed only once it is complete, so a
 * failure half-way never leaves half a table or half a JSON document on stdout. Closes *f.
 */
static int flush_memstream(FILE **f, char **buf, size_t *len, const char *what)
{
	int rc = fclose(*f);

	*f = NULL;
	if (rc != 0) {
		fprintf(stderr, "hmacctl: %s: %s\n", what, strerror(errno));
		return CTL_ERR;
	}
	if (fwrite(*buf, 1, *len, stdout) != *len || fflush(stdout) != 0) {
		fprintf(stderr, "hmacctl: %s: writing output: %s\n", what, strerror(errno));
		return CTL_ERR;
	}
	return CTL_OK;
}

struct list_out {
	FILE *f; /* a memory stream: output is printed only if the whole walk succeeded */
	bool json;
	size_t n;
	int64_t now;
};

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

	if (lo->json) {
		/* names come from the store, which only holds hm_scope_name_ok() names */
		fprintf(lo->f,
			"%s{\"tenant\":\"%s\",\"container\":\"%s\",\"epoch\":%" PRIu32
			",\"state\":\"%s\",\"created\":%" PRId64 ",\"deadline\":%" PRId64 "}",
			lo->n > 0 ? "," : "", info->tenant, info->container, info->epoch,
			shown_state(info, lo->now), info->created, info->deadline);
	} else {
		iso_time(info->created, created);
		if (info->state == HM_KEY_SUPERSEDED)
			iso_time(info->deadline, expires);
		fprintf(lo->f, "%-20s %-20s %6" PRIu32 " %-10s %-20s %s\n", info->tenant,
			info->container, info->epoch, shown_state(info, lo->now), created,
			expires);
	}
	lo->n++;
	return 0;
}

static int cmd_key_list(const struct ctl *c, const struct cmd *self)
{
	struct list_out lo = { .json = c->opt[OPT_JSON] != NULL, .now = (int64_t)time(NULL) };
	struct hm_keystore *ks = NULL;
	const char *dir = NULL;
	char *buf = NULL;
	size_t len = 0;
	int rc, status;

	status = check_scope_opts(c, self);
	if (status != CTL_OK)
		return status;
	status = open_store(c, self, "key", 0, &ks, &dir);
	if (status != CTL_OK)
		return status;
	lo.f = open_memstream(&buf, &len);
	if (lo.f == NULL) {
		fprintf(stderr, "hmacctl: key list: open_memstream: %s\n", strerror(errno));
		status = CTL_ERR;
		goto out;
	}
	if (lo.json)
		fprintf(lo.f, "[");
	else
		fprintf(lo.f, "%-20s %-20s %6s %-10s %-20s %s\n", "TENANT", "CONTAINER", "EPOCH",
			"STATE", "CREATED", "EXPIRES");
	rc = hm_ks_list(ks, c->opt[OPT_TENANT], list_row, &lo);
	if (rc != HM_OK) {
		status = store_fail(ks, "key list", rc, NULL);
		goto out;
	}
	if (lo.json)
		fprintf(lo.f, "]\n");
	status = flush_memstream(&lo.f, &buf, &len, "key list");
out:
	if (lo.f != NULL)
		fclose(lo.f);
	free(buf);
	hm_ks_close(ks);
	return status;
}

/* ---- the daemon ---- */

static int connect_daemon(const struct ctl *c, const struct cmd *self, struct hmacd_client **hc,
			  const char **pathp)
{
	const char *path = opt_or_env(c, OPT_SOCKET, "HMACD_SOCKET");
	int rc;

	*hc = NULL;
	if (path == NULL)
		return usage_error(NULL, self, "%s",
				   "no daemon socket: give --socket PATH or set HMACD_SOCKET");
	*pathp = path;
	rc = hmacd_connect(path, NULL, hc);
	if (rc != HMACD_OK) {
		fprintf(stderr, "hmacctl: connect %s: %s\n", shown(path), hmacd_strerror(rc));
		return CTL_ERR;
	}
	return CTL_OK;
}

static int cmd_ping(const struct ctl *c, const struct cmd *self)
{
	struct hmacd_client *hc = NULL;
	const char *path = NULL;
	int rc, status;

	status = connect_daemon(c, self, &hc, &path);
	if (status != CTL_OK)
		return status;
	rc = hmacd_ping(hc);
	if (rc == HMACD_OK) {
		printf("pong\n");
		status = CTL_OK;
	} else {
		fprintf(stderr, "hmacctl: ping %s: %s\n", shown(path), hmacd_strerror(rc));
		status = CTL_ERR;
	}
	hmacd_close(hc);
	return status;
}

struct stats_out {
	FILE *f;
	bool json;
	size_t n;
};

/* Counter names come from the daemon: escaped for JSON, made printable for humans. */
static void put_name(FILE *f, const char *name, bool json)
{
	const unsigned char *p;

	for (p = (const unsigned char *)name; *p != '\0'; p++) {
		if (json && (*p == '"' || *p == '\\'))
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(f, json ? "\\u%04x" : "?", *p);
		else
			fputc(*p, f);
	}
}

static void stats_row(const char *name, uint64_t value, void *arg)
{
	struct stats_out *so = arg;

	if (so->json) {
		fprintf(so->f, "%s\"", so->n > 0 ? "," : "");
		put_name(so->f, name, true);
		fprintf(so->f, "\":%" PRIu64, value);
	} else {
		put_name(so->f, name, false);
		fprintf(so->f, " %" PRIu64 "\n", value);
	}
	so->n++;
}

static int cmd_stats(const struct ctl *c, const struct cmd *self)
{
	struct stats_out so = { .json = c->opt[OPT_JSON] != NULL };
	struct hmacd_client *hc = NULL;
	const char *path = NULL;
	char *buf = NULL;
	size_t len = 0;
	int rc, status;

	status = connect_daemon(c, self, &hc, &path);
	if (status != CTL_OK)
		return status;
	so.f = open_memstream(&buf, &len);
	if (so.f == NULL) {
		fprintf(stderr, "hmacctl: stats: open_memstream: %s\n", strerror(errno));
		status = CTL_ERR;
		goto out;
	}
	if (so.json)
		fprintf(so.f, "{");
	rc = hmacd_stats(hc, stats_row, &so);
	if (rc != HMACD_OK) {
		fprintf(stderr, "hmacctl: stats %s: %s\n", shown(path), hmacd_strerror(rc));
		status = CTL_ERR;
		goto out;
	}
	if (so.json)
		fprintf(so.f, "}\n");
	status = flush_memstream(&so.f, &buf, &len, "stats");
out:
	if (so.f != NULL)
		fclose(so.f);
	free(buf);
	hmacd_close(hc);
	return status;
}

/* ---- command line ---- */

static int find_opt(const char *name, size_t len)
{
	int o;

	for (o = 0; o < OPT__MAX; o++) {
		if (strlen(optdefs[o].name) == len && memcmp(optdefs[o].name, name, len) == 0)
			return o;
	}
	return -1;
}

/* Splits argv into options (anywhere on the line, --name VALUE or --name=VALUE) and words. */
static int parse_args(int argc, char **argv, struct ctl *c)
{
	bool words_only = false;
	const char *a, *name, *eq, *val;
	size_t nlen;
	int i, o;

	for (i = 1; i < argc; i++) {
		a = argv[i];
		if (words_only || a[0] != '-' || a[1] == '\0') {
			if (c->nword == (int)(sizeof(c->word) / sizeof(c->word[0])))
				return usage_error(NULL, NULL, "too many words at '%s'", shown(a));
			c->word[c->nword++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			words_only = true;
			continue;
		}
		if (strcmp(a, "-h") == 0) {
			c->opt[OPT_HELP] = "";
			continue;
		}
		if (a[1] != '-')
			return usage_error(NULL, NULL, "unknown option '%s'", shown(a));
		name = a + 2;
		eq = strchr(name, '=');
		nlen = eq != NULL ? (size_t)(eq - name) : strlen(name);
		o = find_opt(name, nlen);
		if (o < 0)
			return usage_error(NULL, NULL, "unknown option '%s'", shown(a));
		if (optdefs[o].arg == NULL) {
			if (eq != NULL)
				return usage_error(NULL, NULL, "option --%s takes no value",
						   optdefs[o].name);
			val = "";
		} else if (eq != NULL) {
			val = eq + 1;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			return usage_error(NULL, NULL, "option --%s needs a value",
					   optdefs[o].name);
		}
		if (c->opt[o] != NULL)
			return usage_error(NULL, NULL, "option --%s given twice", optdefs[o].name);
		c->opt[o] = val;
	}
	return CTL_OK;
}

static const struct cmd *find_cmd(const struct cmd *cmds, const char *name)
{
	const struct cmd *cmd;

	for (cmd = cmds; cmd->name != NULL; cmd++) {
		if (strcmp(cmd->name, name) == 0)
			return cmd;
	}
	return NULL;
}

/* Checks the options against the command's table entry, then runs it. */
static int run(const struct ctl *c, const char *group, const struct cmd *cmd)
{
	unsigned given = 0, bad, missing;
	int o;

	for (o = 0; o < OPT__MAX; o++) {
		if (c->opt[o] != NULL)
			given |= F(o);
	}
	if (given & F(OPT_HELP)) {
		printf("usage: ");
		usage_line(stdout, group, cmd);
		printf("  %s\n", cmd->help);
		return CTL_OK;
	}
	bad = given & ~(cmd->opts | OPTS_GLOBAL);
	missing = cmd->need & ~given;
	for (o = 0; o < OPT__MAX; o++) {
		if (bad & F(o))
			return usage_error(group, cmd, "option --%s does not apply here",
					   optdefs[o].name);
		if (missing & F(o))
			return usage_error(group, cmd, "missing --%s", optdefs[o].name);
	}
	return cmd->fn(c, cmd);
}

int main(int argc, char **argv)
{
	const struct cmd *cmd, *sub;
	int status, w = 0;
	struct ctl c;

	memset(&c, 0, sizeof(c));
	/* A closed stdout must give an error we report, not a silent death by SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	status = parse_args(argc, argv, &c);
	if (status != CTL_OK)
		return status;
	if (c.nword == 0 || strcmp(c.word[0], "help") == 0) {
		if (c.nword == 0 && c.opt[OPT_HELP] == NULL) {
			usage(stderr);
			return CTL_USAGE;
		}
		if (c.nword <= 1) {
			usage(stdout);
			return CTL_OK;
		}
		/* "hmacctl help key create" is "hmacctl key create --help" */
		c.word[0] = c.word[1];
		c.word[1] = c.nword > 2 ? c.word[2] : NULL;
		c.nword--;
		c.opt[OPT_HELP] = "";
	}
	cmd = find_cmd(top_cmds, c.word[w]);
	if (cmd == NULL)
		return usage_error(NULL, NULL, "unknown command '%s'", shown(c.word[w]));
	w++;
	if (cmd->sub != NULL) {
		if (w >= c.nword) {
			if (c.opt[OPT_HELP] != NULL) {
				printf("usage:\n");
				usage_cmds(stdout, cmd->name, cmd->sub);
				return CTL_OK;
			}
			return usage_error(NULL, cmd, "%s", "a subcommand is needed");
		}
		sub = find_cmd(cmd->sub, c.word[w]);
		if (sub == NULL)
			return usage_error(NULL, cmd, "unknown subcommand '%s'", shown(c.word[w]));
		w++;
		if (w < c.nword)
			return usage_error(cmd->name, sub, "unexpected '%s'", shown(c.word[w]));
		status = run(&c, cmd->name, sub);
	} else {
		if (w < c.nword)
			return usage_error(NULL, cmd, "unexpected '%s'", shown(c.word[w]));
		status = run(&c, NULL, cmd);
	}
	/* stdio output (list, init, revoke...) must not be lost silently, e.g. on a full disk */
	if (fflush(stdout) != 0 && status == CTL_OK) {
		fprintf(stderr, "hmacctl: writing output: %s\n", strerror(errno));
		status = CTL_ERR;
	}
	return status;
}
