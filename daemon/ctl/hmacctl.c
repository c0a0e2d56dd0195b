/*
 * hmacctl.c - the hmacd admin CLI: manages the LMDB key store directly (no daemon needed), asks
 * a running hmacd for ping / stats through the C client library, and makes the fleet's seal
 * key.
 *
 * Built as a subcommand table (wireguard-tools' wg.c): each entry names its handler, the
 * options it accepts and requires, and its help line; the usage texts and option checks are
 * derived from the tables so they cannot drift. Options may come before or after the command
 * words. Data goes to stdout, diagnostics to stderr as one line "hmacctl: <what>: <reason>".
 * This file holds the tables and main(); the handlers live in a file per command group (ctl.h).
 *
 * Exit codes (a contract, see ctl_usage()): 0 ok, 1 store, daemon or seal key error, 2 usage
 * error, 3 no such scope, epoch or policy, 4 scope or key id exists, or epoch in the wrong
 * state, or a backup file exists, or a restore needs --force. explain: 0 hmacd would answer
 * OK, 1 it (or the middleware) would refuse the request, 2 usage or an invalid capture file.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "ctl/ctl.h"

const struct optdef ctl_optdefs[OPT__MAX] = {
	[OPT_DB] = { "db", "DIR", "key store directory (default: $HMACD_DB)" },
	[OPT_SOCKET] = { "socket", "PATH", "hmacd's Unix socket (default: $HMACD_SOCKET)" },
	[OPT_SEAL_KEY_FILE] = { "seal-key-file", "FILE",
				"the fleet's seal key: 32 bytes, raw or base64, mode 0600\n"
				"                      (default: $HMACD_SEAL_KEY_FILE)" },
	[OPT_FLEET] = { "fleet", "URL",
			"act on the fleet in Redis instead of a store: redis://HOST:PORT[/DB],\n"
			"                      unix:///PATH or sentinel://HOST:PORT[,...]/MASTER[/DB]\n"
			"                      (default: $HMACD_FLEET, unless --db)" },
	[OPT_FLEET_PASSWORD_FILE] = { "fleet-password-file", "FILE",
				      "Redis AUTH password, the file's first line (default:\n"
				      "                      $HMACD_FLEET_PASSWORD_FILE)" },
	[OPT_FLEET_PREFIX] = { "fleet-prefix", "P",
			       "prefix of the fleet's Redis keys (default: $HMACD_FLEET_PREFIX,\n"
			       "                      or hmacd:)" },
	[OPT_FLEET_STREAM_MAX] = { "fleet-stream-max", "N",
				   "writes trim the fleet's change stream to about N entries\n"
				   "                      (default 10000)" },
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
	[OPT_OUT] = { "out", "FILE",
		      "seal-key generate: the new key file (never overwritten); backup: the\n"
		      "                      backup file" },
	[OPT_FORCE] = { "force", NULL,
			"import-store: overwrite records the fleet has already; backup:\n"
			"                      replace FILE; restore: replace the keys of a store that\n"
			"                      has some, or that hmacd has open" },
	[OPT_IN] = { "in", "FILE", "restore: the backup file" },
	[OPT_SINCE] = { "since", "TIME",
			"audit list: records from TIME on, RFC 3339 (2026-12-06T10:00:00Z)\n"
			"                      or unix seconds" },
	[OPT_BEFORE] = { "before", "TIME", "audit prune: remove records older than TIME" },
	[OPT_AUDIT_SYSLOG] = { "audit-syslog", NULL,
			       "also send the change's audit record to syslog (authpriv.notice)" },
	[OPT_REQUEST] = { "request", "FILE",
			  "explain: the capture file of a refused request (- for stdin)" },
	[OPT_NOW] = { "now", "TIME",
		      "explain: judge at unix time TIME instead of the capture's captured_at" },
	[OPT_SKEW] = { "skew", "SECONDS",
		       "explain: the daemon's --skew (default 300)" },
	[OPT_HELP] = { "help", NULL, "show help" },
};

#define SCOPE (F(OPT_TENANT) | F(OPT_CONTAINER))
/* every change of keys and policies is audited; --audit-syslog copies it to syslog */
#define AUDITED F(OPT_AUDIT_SYSLOG)
/* key and policy commands act on --db DIR, or on the fleet with --fleet */
#define WHERE (F(OPT_DB) | F(OPT_FLEET))

#define POLICY_FLAGS                                                                     \
	(F(OPT_NO_CREATED) | F(OPT_NO_NONCE) | F(OPT_NO_AGE_CHECK) | F(OPT_NO_BODY_DIGEST) | \
	 F(OPT_NO_QUERY) | F(OPT_V1_NONCE) | F(OPT_V1_REQUIRE))

static const struct cmd key_cmds[] = {
	{ "create", cmd_key_create, NULL, WHERE | SCOPE | F(OPT_KEYID) | F(OPT_JSON) | AUDITED,
	  SCOPE,
	  "create a scope with epoch 1 and print its key id and secret once" },
	{ "rotate", cmd_key_rotate, NULL,
	  WHERE | SCOPE | F(OPT_GRACE) | F(OPT_KEYID) | F(OPT_JSON) | AUDITED, SCOPE,
	  "add a new current epoch and print its key id and secret once; the one it\n"
	  "      replaces stays valid for --grace seconds" },
	{ "import", cmd_key_import, NULL,
	  WHERE | SCOPE | F(OPT_SECRET_FILE) | F(OPT_KEYID) | F(OPT_GRACE) | F(OPT_BASE64) |
		  F(OPT_JSON) | AUDITED,
	  SCOPE | F(OPT_SECRET_FILE),
	  "add an epoch with a secret signers already hold (16..64 bytes; never printed):\n"
	  "      epoch 1 of a new scope, or the next epoch as with rotate" },
	{ "revoke", cmd_key_revoke, NULL, WHERE | SCOPE | F(OPT_EPOCH) | AUDITED,
	  SCOPE | F(OPT_EPOCH), "end one epoch at once and wipe its secret" },
	{ "list", cmd_key_list, NULL, WHERE | F(OPT_TENANT) | F(OPT_JSON), 0,
	  "list epochs, key ids and states: current, superseded, expired, revoked (never\n"
	  "      secrets)" },
	{ NULL, NULL, NULL, 0, 0, NULL },
};

static const struct cmd policy_cmds[] = {
	{ "set", cmd_policy_set, NULL,
	  WHERE | SCOPE | F(OPT_REQUIRE) | POLICY_FLAGS | AUDITED, F(OPT_TENANT) | F(OPT_REQUIRE),
	  "replace the RFC 9421 coverage policy of a scope (of the whole tenant without\n"
	  "      --container)" },
	{ "show", cmd_policy_show, NULL, WHERE | SCOPE | F(OPT_JSON), F(OPT_TENANT),
	  "show the policy that applies and where it comes from: scope, tenant or default" },
	{ "unset", cmd_policy_unset, NULL, WHERE | SCOPE | AUDITED, F(OPT_TENANT),
	  "remove the policy of a scope (of the tenant without --container)" },
	{ "list", cmd_policy_list, NULL, WHERE | F(OPT_TENANT) | F(OPT_JSON), 0,
	  "list every stored policy" },
	{ NULL, NULL, NULL, 0, 0, NULL },
};

static const struct cmd seal_key_cmds[] = {
	{ "generate", cmd_seal_key_generate, NULL, F(OPT_OUT), F(OPT_OUT),
	  "write a new random seal key to FILE, mode 0600 (an existing file is never\n"
	  "      overwritten), and print its id" },
	{ "id", cmd_seal_key_id, NULL, F(OPT_SEAL_KEY_FILE), 0,
	  "print the id of the seal key: hosts showing the same id hold the same key" },
	{ NULL, NULL, NULL, 0, 0, NULL },
};

static const struct cmd audit_cmds[] = {
	{ "list", cmd_audit_list, NULL,
	  F(OPT_DB) | F(OPT_TENANT) | F(OPT_SINCE) | F(OPT_JSON), 0,
	  "list the store's audit trail, oldest first: every change of keys and policies,\n"
	  "      its operator and host (never a secret)" },
	{ "prune", cmd_audit_prune, NULL, F(OPT_DB) | F(OPT_BEFORE) | F(OPT_JSON) | AUDITED,
	  F(OPT_BEFORE), "remove audit records older than --before (itself audited)" },
	{ NULL, NULL, NULL, 0, 0, NULL },
};

static const struct cmd top_cmds[] = {
	{ "init", cmd_init, NULL, WHERE, 0,
	  "create the key store if needed and check it; with --fleet, create the fleet\n"
	  "      in Redis (a random fleet id, this seal key's id), or check it" },
	{ "import-store", cmd_import_store, NULL,
	  F(OPT_DB) | F(OPT_FLEET) | F(OPT_FORCE) | F(OPT_JSON), 0,
	  "seal every epoch and policy of the store --db DIR into the fleet (creating it\n"
	  "      if Redis has none): how a host joins a fleet, and how one is re-seeded" },
	{ "compact", cmd_compact, NULL, F(OPT_DB) | F(OPT_JSON), 0,
	  "rewrite the store without its free pages, where revoked secrets linger, and\n"
	  "      wipe the old file (hmacd must be stopped)" },
	{ "backup", cmd_backup, NULL, F(OPT_DB) | F(OPT_OUT) | F(OPT_FORCE) | F(OPT_JSON),
	  F(OPT_OUT),
	  "copy the store to FILE (mode 0600) while hmacd runs: one consistent snapshot,\n"
	  "      compacted and checked; an existing FILE only with --force" },
	{ "restore", cmd_restore, NULL,
	  F(OPT_DB) | F(OPT_IN) | F(OPT_FORCE) | F(OPT_JSON) | AUDITED, F(OPT_DB) | F(OPT_IN),
	  "check the backup FILE and replace the keys and policies of the store with its\n"
	  "      own in one transaction; a running hmacd serves them from its next request.\n"
	  "      A store with keys, or one hmacd has open, only with --force" },
	{ "key", NULL, key_cmds, 0, 0, "manage keys" },
	{ "policy", NULL, policy_cmds, 0, 0, "manage RFC 9421 coverage policies" },
	{ "audit", NULL, audit_cmds, 0, 0, "the store's audit trail" },
	{ "ping", cmd_ping, NULL, F(OPT_SOCKET) | F(OPT_SERVER_USER), 0,
	  "check that hmacd answers" },
	{ "stats", cmd_stats, NULL, F(OPT_SOCKET) | F(OPT_SERVER_USER) | F(OPT_JSON), 0,
	  "print hmacd's counters" },
	{ "seal-key", NULL, seal_key_cmds, 0, 0, "the fleet's seal key" },
	{ "explain", cmd_explain, NULL,
	  F(OPT_DB) | F(OPT_REQUEST) | F(OPT_NOW) | F(OPT_SKEW) | F(OPT_JSON), F(OPT_REQUEST),
	  "say what hmacd would build for a captured request (canonical string or\n"
	  "      signature base), the policy and key that apply, and the first check that\n"
	  "      fails (never a MAC); exit 0 if it would verify, 1 if not" },
	{ NULL, NULL, NULL, 0, 0, NULL },
};

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
	uint64_t given = 0, bad, missing;
	int o, status;

	for (o = 0; o < OPT__MAX; o++) {
		if (c->opt[o] != NULL)
			given |= F(o);
	}
	if (given & F(OPT_HELP)) {
		printf("usage: ");
		ctl_usage_line(stdout, group, cmd);
		printf("  %s\n", cmd->help);
		return CTL_OK;
	}
	bad = given & ~(cmd->opts | OPTS_GLOBAL);
	missing = cmd->need & ~given;
	for (o = 0; o < OPT__MAX; o++) {
		if (bad & F(o))
			return ctl_usage_error(group, cmd, "option --%s does not apply here",
					       ctl_optdefs[o].name);
		if (missing & F(o))
			return ctl_usage_error(group, cmd, "missing --%s", ctl_optdefs[o].name);
	}
	status = ctl_check_scope_opts(c, group, cmd);
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
	status = ctl_parse_args(argc, argv, &c);
	if (status != CTL_OK)
		return status;
	if (c.nword == 0 || strcmp(c.word[0], "help") == 0) {
		if (c.nword == 0 && c.opt[OPT_HELP] == NULL) {
			ctl_usage(stderr, top_cmds);
			return CTL_USAGE;
		}
		if (c.nword <= 1) {
			ctl_usage(stdout, top_cmds);
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
		return ctl_usage_error(NULL, NULL, "unknown command '%s'", ctl_shown(c.word[w]));
	w++;
	if (cmd->sub != NULL) {
		if (w >= c.nword) {
			if (c.opt[OPT_HELP] != NULL) {
				printf("usage:\n");
				ctl_usage_cmds(stdout, cmd->name, cmd->sub);
				return CTL_OK;
			}
			return ctl_usage_error(NULL, cmd, "%s", "a subcommand is needed");
		}
		sub = find_cmd(cmd->sub, c.word[w]);
		if (sub == NULL)
			return ctl_usage_error(NULL, cmd, "unknown subcommand '%s'",
					       ctl_shown(c.word[w]));
		w++;
		if (w < c.nword)
			return ctl_usage_error(cmd->name, sub, "unexpected '%s'",
					       ctl_shown(c.word[w]));
		status = run(&c, cmd->name, sub);
	} else {
		if (w < c.nword)
			return ctl_usage_error(NULL, cmd, "unexpected '%s'", ctl_shown(c.word[w]));
		status = run(&c, NULL, cmd);
	}
	/* stdio output (list, init, revoke...) must not be lost silently, e.g. on a full disk */
	if (fflush(stdout) != 0 && status == CTL_OK) {
		fprintf(stderr, "hmacctl: writing output: %s\n", strerror(errno));
		status = CTL_ERR;
	}
	return status;
}
