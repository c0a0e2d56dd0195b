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
 * scope, epoch or policy, 4 scope or key id exists, or epoch in the wrong state.
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

#include "proto/b64.h"
#include "hmacd/client.h"
#include "store/keystore.h"
#include "proto/policy.h"

enum ctl_exit {
	CTL_OK = 0,
	CTL_ERR = 1,      /* the store or the daemon failed */
	CTL_USAGE = 2,    /* bad command line */
	CTL_NOTFOUND = 3, /* no such scope, epoch or policy */
	CTL_CONFLICT = 4, /* scope or key id exists, or epoch already revoked */
};

#define MAX_GRACE 3155760000ull /* 100 years of seconds: more is a typo, not a policy */
#define B64_LEN (4 * ((HM_KEY_LEN + 2) / 3))
#define SECRET_FILE_MAX 4096 /* --secret-file: base64 of 64 bytes plus any whitespace fits */
#define MAX_REQUIRE 64       /* --require words kept; a policy takes HM_POLICY_MAX_COMPONENTS */

enum opt {
	OPT_DB,
	OPT_SOCKET,
	OPT_TENANT,
	OPT_CONTAINER,
	OPT_KEYID,
	OPT_SECRET_FILE,
	OPT_BASE64,
	OPT_GRACE,
	OPT_EPOCH,
	OPT_REQUIRE,
	OPT_NO_CREATED,
	OPT_NO_NONCE,
	OPT_NO_AGE_CHECK,
	OPT_NO_BODY_DIGEST,
	OPT_NO_QUERY,
	OPT_V1_NONCE,
	OPT_V1_REQUIRE,
	OPT_JSON,
	OPT_SERVER_USER,
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
	[OPT_KEYID] = { "keyid", "ID",
			"key id of the new epoch, unique in the store: 1..128 bytes of\n"
			"                      [A-Za-z0-9._:/+=@~-] (default: hk_ + 32 hex)" },
	[OPT_SECRET_FILE] = { "secret-file", "F",
			      "read the secret from file F, or stdin for -: 16..64 raw bytes" },
	[OPT_BASE64] = { "base64", NULL,
			 "the secret file holds base64 text (whitespace around it ignored)" },
	[OPT_GRACE] = { "grace", "SECONDS",
			"how long the replaced epoch stays valid (default 86400, 0: not at all)" },
	[OPT_EPOCH] = { "epoch", "N", "epoch number (1, 2, ...)" },
	[OPT_REQUIRE] = { "require", "COMPONENT...",
			  "components a signature must cover, up to the next option; may\n"
			  "                      repeat: @method @target-uri @authority @scheme\n"
			  "                      @request-target @path @query @query-param;name=N\n"
			  "                      or a lower-case header name [;sf] [;key=K] [;bs]"
			},
	[OPT_NO_CREATED] = { "no-created", NULL, "policy: do not require the created parameter" },
	[OPT_NO_NONCE] = { "no-nonce", NULL, "policy: do not require the nonce parameter" },
	[OPT_NO_AGE_CHECK] = { "no-age-check", NULL,
			       "policy: do not compare created/expires with the clock" },
	[OPT_NO_BODY_DIGEST] = { "no-body-digest", NULL,
				 "policy: do not require content-digest when there is a body" },
	[OPT_NO_QUERY] = { "no-query", NULL,
			   "policy: do not require @query when the target has a query" },
	[OPT_V1_NONCE] = { "v1-nonce", NULL, "policy: hmacd-v1 signatures must carry a nonce" },
	[OPT_V1_REQUIRE] = { "v1-require", "HEADER...",
			     "policy: headers every hmacd-v1 signature must include (lower-case\n"
			     "                      names), up to the next option" },
	[OPT_JSON] = { "json", NULL, "machine-readable output" },
	[OPT_SERVER_USER] = { "server-user", "USER",
			      "the user hmacd runs as, a name or uid (default: the owner of\n"
			      "                      the socket's directory, or root)" },
	[OPT_HELP] = { "help", NULL, "show help" },
};

/* The parsed command line. */
struct ctl {
	const char *opt[OPT__MAX]; /* option values; "" for a flag given; NULL when absent */
	const char *word[3];       /* the command words */
	int nword;
	const char *req[MAX_REQUIRE]; /* every --require argument, in order */
	int nreq;
	const char *v1req[MAX_REQUIRE]; /* every --v1-require argument, in order */
	int nv1req;
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
static int cmd_compact(const struct ctl *c, const struct cmd *self);
static int cmd_key_create(const struct ctl *c, const struct cmd *self);
static int cmd_key_rotate(const struct ctl *c, const struct cmd *self);
static int cmd_key_import(const struct ctl *c, const struct cmd *self);
static int cmd_key_revoke(const struct ctl *c, const struct cmd *self);
static int cmd_key_list(const struct ctl *c, const struct cmd *self);
static int cmd_policy_set(const struct ctl *c, const struct cmd *self);
static int cmd_policy_show(const struct ctl *c, const struct cmd *self);
static int cmd_policy_unset(const struct ctl *c, const struct cmd *self);
static int cmd_policy_list(const struct ctl *c, const struct cmd *self);
static int cmd_ping(const struct ctl *c, const struct cmd *self);
static int cmd_stats(const struct ctl *c, const struct cmd *self);

#define SCOPE (F(OPT_TENANT) | F(OPT_CONTAINER))

#define POLICY_FLAGS                                                                     \
	(F(OPT_NO_CREATED) | F(OPT_NO_NONCE) | F(OPT_NO_AGE_CHECK) | F(OPT_NO_BODY_DIGEST) | \
	 F(OPT_NO_QUERY) | F(OPT_V1_NONCE) | F(OPT_V1_REQUIRE))

static const struct cmd key_cmds[] = {
	{ "create", cmd_key_create, NULL, F(OPT_DB) | SCOPE | F(OPT_KEYID) | F(OPT_JSON), SCOPE,
	  "create a scope with epoch 1 and print its key id and secret once" },
	{ "rotate", cmd_key_rotate, NULL,
	  F(OPT_DB) | SCOPE | F(OPT_GRACE) | F(OPT_KEYID) | F(OPT_JSON), SCOPE,
	  "add a new current epoch and print its key id and secret once; the one it\n"
	  "      replaces stays valid for --grace seconds" },
	{ "import", cmd_key_import, NULL,
	  F(OPT_DB) | SCOPE | F(OPT_SECRET_FILE) | F(OPT_KEYID) | F(OPT_GRACE) | F(OPT_BASE64) |
		  F(OPT_JSON),
	  SCOPE | F(OPT_SECRET_FILE),
	  "add an epoch with a secret signers already hold (16..64 bytes; never printed):\n"
	  "      epoch 1 of a new scope, or the next epoch as with rotate" },
	{ "revoke", cmd_key_revoke, NULL, F(OPT_DB) | SCOPE | F(OPT_EPOCH),
	  SCOPE | F(OPT_EPOCH), "end one epoch at once and wipe its secret" },
	{ "list", cmd_key_list, NULL, F(OPT_DB) | F(OPT_TENANT) | F(OPT_JSON), 0,
	  "list epochs, key ids and states: current, superseded, expired, revoked (never\n"
	  "      secrets)" },
	{ NULL, NULL, NULL, 0, 0, NULL },
};

static const struct cmd policy_cmds[] = {
	{ "set", cmd_policy_set, NULL,
	  F(OPT_DB) | SCOPE | F(OPT_REQUIRE) | POLICY_FLAGS, F(OPT_TENANT) | F(OPT_REQUIRE),
	  "replace the RFC 9421 coverage policy of a scope (of the whole tenant without\n"
	  "      --container)" },
	{ "show", cmd_policy_show, NULL, F(OPT_DB) | SCOPE | F(OPT_JSON), F(OPT_TENANT),
	  "show the policy that applies and where it comes from: scope, tenant or default" },
	{ "unset", cmd_policy_unset, NULL, F(OPT_DB) | SCOPE, F(OPT_TENANT),
	  "remove the policy of a scope (of the tenant without --container)" },
	{ "list", cmd_policy_list, NULL, F(OPT_DB) | F(OPT_TENANT) | F(OPT_JSON), 0,
	  "list every stored policy" },
	{ NULL, NULL, NULL, 0, 0, NULL },
};

static const struct cmd top_cmds[] = {
	{ "init", cmd_init, NULL, F(OPT_DB), 0, "create the key store if needed and check it" },
	{ "compact", cmd_compact, NULL, F(OPT_DB) | F(OPT_JSON), 0,
	  "rewrite the store without its free pages, where revoked secrets linger, and\n"
	  "      wipe the old file (hmacd must be stopped)" },
	{ "key", NULL, key_cmds, 0, 0, "manage keys" },
	{ "policy", NULL, policy_cmds, 0, 0, "manage RFC 9421 coverage policies" },
	{ "ping", cmd_ping, NULL, F(OPT_SOCKET) | F(OPT_SERVER_USER), 0,
	  "check that hmacd answers" },
	{ "stats", cmd_stats, NULL, F(OPT_SOCKET) | F(OPT_SERVER_USER) | F(OPT_JSON), 0,
	  "print hmacd's counters" },
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
		if (strlen(spec) > 19)
			fprintf(f, "  %s\n  %-19s %s\n", spec, "", optdefs[o].help);
		else
			fprintf(f, "  %-19s %s\n", spec, optdefs[o].help);
	}
	fprintf(f, "\nexit status: 0 ok, 1 store or daemon error, 2 usage error,\n"
		   "  3 no such scope, epoch or policy, 4 scope or key id exists or epoch already\n"
		   "  revoked\n");
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

/* Checks --tenant / --container / --keyid before the store is touched. */
static int check_scope_opts(const struct ctl *c, const char *group, const struct cmd *self)
{
	static const enum opt names[] = { OPT_TENANT, OPT_CONTAINER };
	const char *v;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		v = c->opt[names[i]];
		if (v != NULL && !hm_lex_scope((const uint8_t *)v, strlen(v)))
			return usage_error(group, self,
					   "--%s must be 1..128 bytes of [A-Za-z0-9._:/-]",
					   optdefs[names[i]].name);
	}
	v = c->opt[OPT_KEYID];
	if (v != NULL && !hm_lex_keyid((const uint8_t *)v, strlen(v)))
		return usage_error(group, self, "%s",
				   "--keyid must be 1..128 bytes of [A-Za-z0-9._:/+=@~-]");
	return CTL_OK;
}

/* --grace, or the default. */
static int grace_opt(const struct ctl *c, const struct cmd *self, uint64_t *grace)
{
	*grace = HM_KS_DEFAULT_GRACE;
	if (c->opt[OPT_GRACE] != NULL && !parse_u64(c->opt[OPT_GRACE], 0, MAX_GRACE, grace))
		return usage_error("key", self, "--grace wants whole seconds, 0..%s",
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

/* ---- the store ---- */

/* Opens the store of --db or $HMACD_DB; *dirp (if not NULL) gets its directory. */
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
	if (dirp != NULL)
		*dirp = dir;
	rc = hm_ks_open(dir, flags, ks, err, sizeof(err));
	if (rc == HM_OK)
		return CTL_OK;
	fprintf(stderr, "hmacctl: open %s: %s%s\n", dir, err[0] != '\0' ? err : hm_strerror(rc),
		rc == HM_ENOTFOUND ? " (create it with 'hmacctl init')" : "");
	return CTL_ERR;
}

/*
 * Maps a store code to an exit status. A failure is printed first as "hmacctl: what: why",
 * why defaulting to the store's message.
 */
static int store_status(struct hm_keystore *ks, const char *what, int rc, const char *why)
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

/* "<verb> tenant T" or "<verb> T/C", for messages. */
static void scope_what(char *out, size_t cap, const char *verb, const struct ctl *c)
{
	if (c->opt[OPT_CONTAINER] != NULL)
		snprintf(out, cap, "%s %s/%s", verb, c->opt[OPT_TENANT], c->opt[OPT_CONTAINER]);
	else
		snprintf(out, cap, "%s tenant %s", verb, c->opt[OPT_TENANT]);
}

/* The exit status of a store call on the scope of --tenant/--container ("<verb> T/C: why"). */
static int scope_status(struct hm_keystore *ks, const struct ctl *c, const char *verb, int rc,
			const char *why)
{
	char what[320];

	scope_what(what, sizeof(what), verb, c);
	return store_status(ks, what, rc, why);
}

/* Prints "<verb> tenant T" or "<verb> T/C" on stdout. */
static void print_scope(const char *verb, const struct ctl *c)
{
	char line[320];

	scope_what(line, sizeof(line), verb, c);
	printf("%s\n", line);
}

/* The clock, then the store: what every command that adds an epoch needs before its call. */
static int open_store_now(const struct ctl *c, const struct cmd *self, struct hm_keystore **ks,
			  int64_t *now)
{
	*ks = NULL;
	*now = now_or_fail();
	if (*now < 0)
		return CTL_ERR;
	return open_store(c, self, "key", 0, ks, NULL);
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

static int cmd_compact(const struct ctl *c, const struct cmd *self)
{
	const char *dir = opt_or_env(c, OPT_DB, "HMACD_DB");
	struct hm_ks_compacted res;
	char err[512];
	int rc;

	if (dir == NULL)
		return usage_error(NULL, self, "%s", "no key store: give --db DIR or set HMACD_DB");
	rc = hm_ks_compact(dir, &res, err, sizeof(err));
	if (rc != HM_OK) {
		fprintf(stderr, "hmacctl: compact %s: %s\n", shown(dir),
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
static const char *exists_why(struct hm_keystore *ks, const char *scope_hint)
{
	if (strcmp(hm_ks_errmsg(ks), "key id already in use") == 0)
		return "key id already in use (key ids are unique in the store, forever)";
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
	struct hm_keystore *ks = NULL;
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
	status = open_store_now(c, self, &ks, &now);
	if (status != CTL_OK)
		return status;
	scope_what(what, sizeof(what), rotate ? "key rotate" : "key create", c);
	if (rotate)
		rc = hm_ks_rotate(ks, t, ct, now, (int64_t)grace, c->opt[OPT_KEYID], secret,
				  &added);
	else
		rc = hm_ks_create(ks, t, ct, now, c->opt[OPT_KEYID], secret, &added);
	if (rc == HM_EEXIST && rotate)
		why = exists_why(ks, NULL);
	else if (rc == HM_EEXIST)
		why = exists_why(ks, "scope already exists (use key rotate or key import)");
	else if (rc == HM_ENOTFOUND && rotate)
		why = "no such scope (use key create)";
	if (rc == HM_OK)
		status = print_secret(c, what, rotate ? "rotated" : "created", &added,
				      rotate ? (int64_t)grace : -1, secret);
	else
		status = store_status(ks, what, rc, why);
	OPENSSL_cleanse(secret, sizeof(secret));
	hm_ks_close(ks);
	return status;
}

static int cmd_key_create(const struct ctl *c, const struct cmd *self)
{
	return new_secret(c, self, false);
}

static int cmd_key_rotate(const struct ctl *c, const struct cmd *self)
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
			fprintf(stderr, "hmacctl: %s: --secret-file %s: %s\n", what, shown(path),
				strerror(errno));
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

static int cmd_key_import(const struct ctl *c, const struct cmd *self)
{
	uint8_t file[SECRET_FILE_MAX + 1], secret[HM_KEY_MAX];
	struct hm_ks_added added;
	struct hm_keystore *ks = NULL;
	uint64_t grace = HM_KS_DEFAULT_GRACE;
	size_t n = 0, len = 0;
	char what[300], line[600];
	int64_t now;
	int rc, status;

	memset(&added, 0, sizeof(added));
	status = grace_opt(c, self, &grace);
	if (status != CTL_OK)
		return status;
	scope_what(what, sizeof(what), "key import", c);
	status = read_secret_file(c->opt[OPT_SECRET_FILE], what, file, SECRET_FILE_MAX, &n);
	if (status != CTL_OK)
		goto out;
	/* Lengths only in messages: never a byte of the secret. */
	if (c->opt[OPT_BASE64] == NULL) {
		if (n < HM_KEY_MIN || n > HM_KEY_MAX) {
			status = usage_error("key", self, "secret must be 16 to 64 bytes (the file "
					     "has %s%zu)", n > SECRET_FILE_MAX ? "over " : "",
					     n > SECRET_FILE_MAX ? (size_t)SECRET_FILE_MAX : n);
			goto out;
		}
		memcpy(secret, file, n);
		len = n;
	} else {
		if (n > SECRET_FILE_MAX) {
			status = usage_error("key", self, "%s",
					     "secret must be 16 to 64 bytes (file too long)");
			goto out;
		}
		/* the length first, from the shape of the text; its characters only then */
		rc = hm_b64_decoded_len((const char *)file, n, &len);
		if (rc == HM_OK && (len < HM_KEY_MIN || len > HM_KEY_MAX)) {
			status = usage_error("key", self, "%s",
					     "secret must be 16 to 64 bytes (decoded)");
			goto out;
		}
		if (rc == HM_OK)
			rc = hm_b64_decode_ct((const char *)file, n, secret, sizeof(secret), &len);
		if (rc != HM_OK) {
			status = usage_error("key", self, "%s",
					     "--secret-file does not hold base64 text (--base64)");
			goto out;
		}
	}
	OPENSSL_cleanse(file, sizeof(file));
	status = open_store_now(c, self, &ks, &now);
	if (status != CTL_OK)
		goto out;
	rc = hm_ks_import(ks, c->opt[OPT_TENANT], c->opt[OPT_CONTAINER], now, (int64_t)grace,
			  c->opt[OPT_KEYID], secret, len, &added);
	OPENSSL_cleanse(secret, sizeof(secret));
	if (rc == HM_OK) {
		/* the grace of the epoch it replaces, if it replaced one */
		added_line(line, sizeof(line), c, "imported", &added,
			   added.epoch > 1 ? (int64_t)grace : -1, NULL);
		fputs(line, stdout);
	}
	status = store_status(ks, what, rc, rc == HM_EEXIST ? exists_why(ks, NULL) : NULL);
out:
	OPENSSL_cleanse(file, sizeof(file));
	OPENSSL_cleanse(secret, sizeof(secret));
	hm_ks_close(ks);
	return status;
}

static int cmd_key_revoke(const struct ctl *c, const struct cmd *self)
{
	struct hm_keystore *ks = NULL;
	char what[320];
	uint64_t epoch = 0;
	int rc, status;

	if (!parse_u64(c->opt[OPT_EPOCH], 1, UINT32_MAX, &epoch))
		return usage_error("key", self, "--epoch wants a number 1..%s", "4294967295");
	status = open_store(c, self, "key", 0, &ks, NULL);
	if (status != CTL_OK)
		return status;
	snprintf(what, sizeof(what), "key revoke %s/%s epoch %" PRIu64, c->opt[OPT_TENANT],
		 c->opt[OPT_CONTAINER], epoch);
	rc = hm_ks_revoke(ks, c->opt[OPT_TENANT], c->opt[OPT_CONTAINER], (uint32_t)epoch);
	if (rc == HM_OK)
		printf("revoked %s/%s epoch %" PRIu64 "\n", c->opt[OPT_TENANT],
		       c->opt[OPT_CONTAINER], epoch);
	status = store_status(ks, what, rc,
			      rc == HM_ENOTFOUND ? "no such scope or epoch"
			      : rc == HM_ESTATE  ? "epoch already revoked"
						 : NULL);
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
 * The output of key list, policy list and stats is built in a memory stream (open_memstream)
 * and printed only once it is complete, so a failure half-way never leaves half a table or
 * half a JSON document on stdout.
 */
struct list_out {
	FILE *f; /* the memory stream */
	char *buf;
	size_t len;
	const char *what;  /* the command, for messages */
	const char *close; /* what ends the JSON document */
	bool json;
	size_t n;    /* rows so far */
	int64_t now; /* key list: the time a state is shown for */
};

static int list_begin(struct list_out *lo, const char *what, const char *json_open,
		      const char *header_fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * Opens the stream and starts it: for --json with json_open, "[" (a JSON array) or "{" (an
 * object); else with the header line (none if header_fmt is NULL). CTL_OK or CTL_ERR
 * (printed); list_end() follows in both cases.
 */
static int list_begin(struct list_out *lo, const char *what, const char *json_open,
		      const char *header_fmt, ...)
{
	va_list ap;

	lo->what = what;
	lo->close = json_open[0] == '[' ? "]\n" : "}\n";
	lo->f = open_memstream(&lo->buf, &lo->len);
	if (lo->f == NULL) {
		fprintf(stderr, "hmacctl: %s: open_memstream: %s\n", what, strerror(errno));
		return CTL_ERR;
	}
	if (lo->json) {
		fputs(json_open, lo->f);
	} else if (header_fmt != NULL) {
		va_start(ap, header_fmt);
		vfprintf(lo->f, header_fmt, ap);
		va_end(ap);
	}
	return CTL_OK;
}

/* Before each row: the comma between JSON elements. */
static void list_next(struct list_out *lo)
{
	if (lo->json && lo->n > 0)
		fputc(',', lo->f);
	lo->n++;
}

/*
 * Ends the listing: if status is CTL_OK, closes the JSON document and prints everything;
 * frees the stream either way. Returns the final status.
 */
static int list_end(struct list_out *lo, int status)
{
	int rc;

	if (status == CTL_OK && lo->json)
		fputs(lo->close, lo->f);
	if (status == CTL_OK) {
		rc = fclose(lo->f);
		lo->f = NULL;
		if (rc != 0) {
			fprintf(stderr, "hmacctl: %s: %s\n", lo->what, strerror(errno));
			status = CTL_ERR;
		} else if (fwrite(lo->buf, 1, lo->len, stdout) != lo->len || fflush(stdout) != 0) {
			fprintf(stderr, "hmacctl: %s: writing output: %s\n", lo->what,
				strerror(errno));
			status = CTL_ERR;
		}
	}
	if (lo->f != NULL)
		fclose(lo->f);
	free(lo->buf);
	return status;
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

	list_next(lo);
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

static int cmd_key_list(const struct ctl *c, const struct cmd *self)
{
	struct list_out lo = { .json = c->opt[OPT_JSON] != NULL, .now = (int64_t)time(NULL) };
	struct hm_keystore *ks = NULL;
	int rc, status;

	status = open_store(c, self, "key", 0, &ks, NULL);
	if (status != CTL_OK)
		return status;
	status = list_begin(&lo, "key list", "[", "%-20s %-20s %6s %-10s %-20s %-20s %s\n",
			    "TENANT", "CONTAINER", "EPOCH", "STATE", "CREATED", "EXPIRES", "KEYID");
	if (status == CTL_OK) {
		rc = hm_ks_list(ks, c->opt[OPT_TENANT], list_row, &lo);
		status = store_status(ks, "key list", rc, NULL);
	}
	hm_ks_close(ks);
	return list_end(&lo, status);
}

/* ---- coverage policies ---- */

/* A JSON string: '"' and '\\' escaped, control bytes as \u00XX. */
static void json_str(FILE *f, const char *s)
{
	const unsigned char *p;

	fputc('"', f);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

/*
 * What a policy's replay protection really is (finding 4 of the security review: a policy must
 * not say "nonce: required" while the same request replays every --skew seconds).
 */
static const char *replay_words(const struct hm_policy *p, bool json)
{
	if (p->require_nonce) /* hm_policy_check(): then created and the age check too */
		return json ? "all" : "every signature (its nonce is remembered while its created "
				      "is within --skew)";
	if (p->require_created && p->check_age)
		return json ? "with_nonce" : "only signatures that carry a nonce";
	return json ? "weak"
		    : "weak: a signature without a nonce, or without a created checked against "
		      "the clock, can be replayed";
}

/* One policy as the JSON object of `policy show`, or as the human block / table row. */
static void policy_print(FILE *f, bool json, bool row, const char *tenant, const char *container,
			 enum hm_policy_source src, const struct hm_policy *p)
{
	char comp[HM_POLICY_COMPONENT_MAX + 1];
	size_t i;

	if (json) {
		fprintf(f, "{\"tenant\":");
		json_str(f, tenant);
		fprintf(f, ",\"container\":");
		if (container != NULL)
			json_str(f, container);
		else
			fprintf(f, "null");
		fprintf(f, ",\"source\":\"%s\",\"require\":[", hm_policy_source_name(src));
	} else if (row) {
		fprintf(f, "%-20s %-20s %-7s %-7s %-5s %-9s %-11s %-5s %-8s", tenant,
			container != NULL ? container : "-", hm_policy_source_name(src),
			p->require_created ? "yes" : "no", p->require_nonce ? "yes" : "no",
			p->check_age ? "yes" : "no", p->digest_when_body ? "yes" : "no",
			p->query_when_present ? "yes" : "no", p->v1_nonce ? "yes" : "no");
	} else {
		fprintf(f, "policy of %s%s%s (source: %s%s)\nrequire:    ", tenant,
			container != NULL ? "/" : "", container != NULL ? container : "",
			hm_policy_source_name(src),
			src == HM_POLICY_DEFAULT ? ": hmacd's built-in one, unless its --policy-* "
						   "options change it"
						 : "");
	}
	for (i = 0; i < p->ncomponents; i++) {
		/* stored components are canonical (checked when decoded), so this cannot fail */
		if (hm_policy_component_render(p->components[i], comp, sizeof(comp)) != HM_OK)
			snprintf(comp, sizeof(comp), "%s", p->components[i]);
		if (json) {
			if (i > 0)
				fputc(',', f);
			json_str(f, comp);
		} else {
			fprintf(f, " %s", comp);
		}
	}
	if (json) {
		fprintf(f, "],\"created\":%s,\"nonce\":%s,\"age_check\":%s,\"body_digest\":%s,"
			   "\"query\":%s,\"replay_protection\":\"%s\",\"v1_nonce\":%s,"
			   "\"v1_require\":[",
			p->require_created ? "true" : "false", p->require_nonce ? "true" : "false",
			p->check_age ? "true" : "false", p->digest_when_body ? "true" : "false",
			p->query_when_present ? "true" : "false", replay_words(p, true),
			p->v1_nonce ? "true" : "false");
		for (i = 0; i < p->v1_nheaders; i++) {
			if (i > 0)
				fputc(',', f);
			json_str(f, p->v1_headers[i]);
		}
		fprintf(f, "]}");
	} else if (row) {
		for (i = 0; i < p->v1_nheaders; i++)
			fprintf(f, "%sv1:%s", i == 0 && p->ncomponents == 0 ? "" : " ",
				p->v1_headers[i]);
		fprintf(f, "\n");
	} else {
		fprintf(f, "\ncreated:     %s\nnonce:       %s\nage check:   %s\n"
			   "body digest: %s\nquery:       %s\nreplays:     %s\n"
			   "hmacd-v1:    nonce %s; signed headers required:",
			p->require_created ? "required" : "not required",
			p->require_nonce ? "required" : "not required",
			p->check_age ? "on" : "off",
			p->digest_when_body ? "content-digest required when there is a body"
					    : "not required",
			p->query_when_present ? "@query required when there is a query"
					      : "not required",
			replay_words(p, false), p->v1_nonce ? "required" : "not required");
		for (i = 0; i < p->v1_nheaders; i++)
			fprintf(f, " %s", p->v1_headers[i]);
		fprintf(f, "%s\n", p->v1_nheaders == 0 ? " none" : "");
	}
}

/* The policy that --require and the --no-* flags describe. CTL_OK or CTL_USAGE (printed). */
static int policy_opts(const struct ctl *c, const struct cmd *self, struct hm_policy *p)
{
	const char *why;
	int i, rc;

	memset(p, 0, sizeof(*p));
	for (i = 0; i < c->nreq; i++) {
		rc = hm_policy_require(p, c->req[i]);
		if (rc == HM_ETOOBIG)
			return usage_error("policy", self, "at most %d components",
					   HM_POLICY_MAX_COMPONENTS);
		if (rc != HM_OK)
			return usage_error("policy", self,
					   "--require: '%s' is not a component hmacd can require",
					   shown(c->req[i]));
	}
	if (p->ncomponents == 0)
		return usage_error("policy", self, "%s", "--require needs at least one component");
	p->require_created = c->opt[OPT_NO_CREATED] == NULL;
	p->require_nonce = c->opt[OPT_NO_NONCE] == NULL;
	p->check_age = c->opt[OPT_NO_AGE_CHECK] == NULL;
	p->digest_when_body = c->opt[OPT_NO_BODY_DIGEST] == NULL;
	p->query_when_present = c->opt[OPT_NO_QUERY] == NULL;
	p->v1_nonce = c->opt[OPT_V1_NONCE] != NULL;
	for (i = 0; i < c->nv1req; i++) {
		rc = hm_policy_require_v1_header(p, c->v1req[i]);
		if (rc == HM_ETOOBIG)
			return usage_error("policy", self, "at most %d --v1-require headers",
					   HM_POLICY_MAX_V1_HEADERS);
		if (rc != HM_OK)
			return usage_error("policy", self,
					   "--v1-require: '%s' is not a lower-case header name",
					   shown(c->v1req[i]));
	}
	if (hm_policy_check(p, &why) != HM_OK)
		return usage_error("policy", self, "%s; add --no-nonce to go without", why);
	return CTL_OK;
}

static int cmd_policy_set(const struct ctl *c, const struct cmd *self)
{
	struct hm_policy p;
	struct hm_keystore *ks = NULL;
	int rc, status;

	status = policy_opts(c, self, &p);
	if (status != CTL_OK)
		return status;
	status = open_store(c, self, "policy", 0, &ks, NULL);
	if (status != CTL_OK)
		return status;
	rc = hm_ks_policy_set(ks, c->opt[OPT_TENANT], c->opt[OPT_CONTAINER], &p);
	if (rc == HM_OK)
		print_scope("set the policy of", c);
	status = scope_status(ks, c, "policy set", rc, NULL);
	hm_ks_close(ks);
	return status;
}

static int cmd_policy_show(const struct ctl *c, const struct cmd *self)
{
	enum hm_policy_source src = HM_POLICY_DEFAULT;
	struct hm_policy p;
	struct hm_keystore *ks = NULL;
	int rc, status;

	status = open_store(c, self, "policy", 0, &ks, NULL);
	if (status != CTL_OK)
		return status;
	rc = hm_ks_policy_get(ks, c->opt[OPT_TENANT], c->opt[OPT_CONTAINER], &p, &src);
	if (rc == HM_OK) {
		policy_print(stdout, c->opt[OPT_JSON] != NULL, false, c->opt[OPT_TENANT],
			     c->opt[OPT_CONTAINER], src, &p);
		if (c->opt[OPT_JSON] != NULL)
			printf("\n");
	}
	status = scope_status(ks, c, "policy show", rc, NULL);
	hm_ks_close(ks);
	return status;
}

static int cmd_policy_unset(const struct ctl *c, const struct cmd *self)
{
	struct hm_keystore *ks = NULL;
	int rc, status;

	status = open_store(c, self, "policy", 0, &ks, NULL);
	if (status != CTL_OK)
		return status;
	rc = hm_ks_policy_unset(ks, c->opt[OPT_TENANT], c->opt[OPT_CONTAINER]);
	if (rc == HM_OK)
		print_scope("removed the policy of", c);
	status = scope_status(ks, c, "policy unset", rc,
			      rc == HM_ENOTFOUND ? "no policy stored there" : NULL);
	hm_ks_close(ks);
	return status;
}

static int policy_row(const struct hm_policy_info *info, void *arg)
{
	struct list_out *lo = arg;

	list_next(lo);
	policy_print(lo->f, lo->json, true, info->tenant,
		     info->container[0] != '\0' ? info->container : NULL, info->source,
		     &info->policy);
	return 0;
}

static int cmd_policy_list(const struct ctl *c, const struct cmd *self)
{
	struct list_out lo = { .json = c->opt[OPT_JSON] != NULL };
	struct hm_keystore *ks = NULL;
	int rc, status;

	status = open_store(c, self, "policy", 0, &ks, NULL);
	if (status != CTL_OK)
		return status;
	status = list_begin(&lo, "policy list", "[",
			    "%-20s %-20s %-7s %-7s %-5s %-9s %-11s %-5s %-8s %s\n", "TENANT",
			    "CONTAINER", "SOURCE", "CREATED", "NONCE", "AGE_CHECK", "BODY_DIGEST",
			    "QUERY", "V1_NONCE", "REQUIRE");
	if (status == CTL_OK) {
		rc = hm_ks_policy_list(ks, c->opt[OPT_TENANT], policy_row, &lo);
		status = store_status(ks, "policy list", rc, NULL);
	}
	hm_ks_close(ks);
	return list_end(&lo, status);
}

/* ---- the daemon ---- */

static int connect_daemon(const struct ctl *c, const struct cmd *self, struct hmacd_client **hc,
			  const char **pathp)
{
	const char *path = opt_or_env(c, OPT_SOCKET, "HMACD_SOCKET");
	struct hmacd_options o = {0};
	int rc;

	*hc = NULL;
	if (path == NULL)
		return usage_error(NULL, self, "%s",
				   "no daemon socket: give --socket PATH or set HMACD_SOCKET");
	*pathp = path;
	o.server_user = c->opt[OPT_SERVER_USER];
	rc = hmacd_connect(path, &o, hc);
	if (rc == HMACD_EINVAL && o.server_user != NULL)
		return usage_error(NULL, self, "--server-user: '%s' is not a user or a uid",
				   shown(o.server_user));
	if (rc == HMACD_EPEER) {
		fprintf(stderr, "hmacctl: connect %s: %s (%s); refusing to talk to it\n",
			shown(path), hmacd_strerror(rc),
			o.server_user != NULL ? "not --server-user"
					      : "neither the owner of its directory nor root");
		return CTL_ERR;
	}
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
	struct list_out *so = arg;

	list_next(so);
	if (so->json) {
		fputc('"', so->f);
		put_name(so->f, name, true);
		fprintf(so->f, "\":%" PRIu64, value);
	} else {
		put_name(so->f, name, false);
		fprintf(so->f, " %" PRIu64 "\n", value);
	}
}

static int cmd_stats(const struct ctl *c, const struct cmd *self)
{
	struct list_out so = { .json = c->opt[OPT_JSON] != NULL };
	struct hmacd_client *hc = NULL;
	const char *path = NULL;
	int rc, status;

	status = connect_daemon(c, self, &hc, &path);
	if (status != CTL_OK)
		return status;
	status = list_begin(&so, "stats", "{", NULL);
	if (status == CTL_OK) {
		rc = hmacd_stats(hc, stats_row, &so);
		if (rc != HMACD_OK) {
			fprintf(stderr, "hmacctl: stats %s: %s\n", shown(path), hmacd_strerror(rc));
			status = CTL_ERR;
		}
	}
	hmacd_close(hc);
	return list_end(&so, status);
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

/* Keeps one argument of a list option (--require, --v1-require) in list[0..*n). */
static int add_listed(const char *opt, const char **list, int *n, const char *v)
{
	if (*n == MAX_REQUIRE)
		return usage_error(NULL, NULL, "too many --%s arguments (at most %d)", opt,
				   MAX_REQUIRE);
	list[(*n)++] = v;
	return CTL_OK;
}

/*
 * Splits argv into options (anywhere on the line, --name VALUE or --name=VALUE) and words.
 * --require takes every following argument up to the next option.
 */
static int parse_args(int argc, char **argv, struct ctl *c)
{
	bool words_only = false;
	const char *a, *name, *eq, *val;
	size_t nlen;
	int i, o, before;

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
		if (o == OPT_REQUIRE || o == OPT_V1_REQUIRE) {
			/* one or more words, up to the next option; may be repeated */
			const char **list = o == OPT_REQUIRE ? c->req : c->v1req;
			int *n = o == OPT_REQUIRE ? &c->nreq : &c->nv1req;

			before = *n;
			if (eq != NULL && add_listed(optdefs[o].name, list, n, eq + 1) != CTL_OK)
				return CTL_USAGE;
			while (i + 1 < argc && !(argv[i + 1][0] == '-' && argv[i + 1][1] != '\0')) {
				if (add_listed(optdefs[o].name, list, n, argv[++i]) != CTL_OK)
					return CTL_USAGE;
			}
			if (*n == before)
				return usage_error(NULL, NULL, "option --%s needs a value",
						   optdefs[o].name);
			c->opt[o] = "";
			continue;
		}
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

/*
 * Checks the options against the command's table entry, and the names and key id in them
 * (before any command touches the store), then runs it.
 */
static int run(const struct ctl *c, const char *group, const struct cmd *cmd)
{
	unsigned given = 0, bad, missing;
	int o, status;

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
	status = check_scope_opts(c, group, cmd);
	if (status != CTL_OK)
		return status;
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
