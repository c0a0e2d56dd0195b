/*
 * ctl.h - what the files of hmacctl share (private to daemon/ctl/):
 *
 *   hmacctl.c   the option and command tables; main() finds the command and runs it
 *   args.c      the command line: argv into struct ctl, numbers, names, $HMACD_* defaults
 *   output.c    diagnostics, usage texts, JSON strings, listings printed only once complete
 *   store.c     opening the key store, its codes as exit statuses; init, compact, backup,
 *               restore
 *   audit.c     audit list, audit prune; times (--since, --before); --audit-syslog
 *   keys.c      key create, rotate, import, revoke, list
 *   policies.c  policy set, show, unset, list
 *   daemon.c    ping, stats: the running hmacd, through libhmacd
 *   fleet.c     seal-key generate, id: the fleet's seal key (fleet/seal.h); init of a fleet,
 *               import-store
 *   target.c    where key and policy commands act: the local store, or the fleet (--fleet)
 *   explain.c   explain: why hmacd refused a captured request (capture.c reads the file),
 *               judged by the verify engine itself on the local store
 */
#ifndef HM_CTL_H
#define HM_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "proto/policy.h"
#include "store/keystore.h"

enum ctl_exit {
	CTL_OK = 0,
	CTL_ERR = 1,      /* the store, the daemon or a file (the seal key) failed */
	CTL_USAGE = 2,    /* bad command line */
	CTL_NOTFOUND = 3, /* no such scope, epoch or policy */
	CTL_CONFLICT = 4, /* scope or key id exists, or epoch already revoked */
};

#define MAX_REQUIRE 64 /* --require words kept; a policy takes HM_POLICY_MAX_COMPONENTS */

enum opt {
	OPT_DB,
	OPT_SOCKET,
	OPT_SEAL_KEY_FILE,
	OPT_FLEET,
	OPT_FLEET_PASSWORD_FILE,
	OPT_FLEET_PREFIX,
	OPT_FLEET_STREAM_MAX,
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
	OPT_OUT,
	OPT_FORCE,
	OPT_REQUEST,
	OPT_NOW,
	OPT_SKEW,
	OPT_IN,
	OPT_SINCE,
	OPT_BEFORE,
	OPT_AUDIT_SYSLOG,
	OPT_HELP,
	OPT__MAX
};

#define F(o) ((uint64_t)1 << (o)) /* an option set: one bit per enum opt */
_Static_assert(OPT__MAX <= 64, "an option set is a uint64_t");

/*
 * Accepted by every command, wherever they appear on the line. A command that uses one also
 * has it in its opts, for its usage line.
 */
#define OPTS_FLEET                                                                    \
	(F(OPT_FLEET) | F(OPT_FLEET_PASSWORD_FILE) | F(OPT_FLEET_PREFIX) |                  \
	 F(OPT_FLEET_STREAM_MAX) | F(OPT_SEAL_KEY_FILE))
#define OPTS_GLOBAL (F(OPT_DB) | F(OPT_SOCKET) | OPTS_FLEET | F(OPT_HELP))

/* An option: its name, its metavariable (NULL for a flag), its help line. */
struct optdef {
	const char *name;
	const char *arg; /* metavariable, NULL for a flag */
	const char *help;
};

/* The options hmacctl knows, by enum opt (hmacctl.c). */
extern const struct optdef ctl_optdefs[OPT__MAX];

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
	uint64_t opts;         /* options besides OPTS_GLOBAL, and the global ones it uses */
	uint64_t need;         /* options required */
	const char *help;
};

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

/* ---- args.c: the command line ---- */

/*
 * Splits argv into options (anywhere on the line, --name VALUE or --name=VALUE) and words.
 * --require takes every following argument up to the next option. CTL_OK or CTL_USAGE
 * (printed).
 */
int ctl_parse_args(int argc, char **argv, struct ctl *c);

/* Checks --tenant / --container / --keyid before the store is touched. CTL_OK or CTL_USAGE. */
int ctl_check_scope_opts(const struct ctl *c, const char *group, const struct cmd *self);

/* strtoull with the checks it lacks: digits only (no sign, no space), end, errno, range. */
bool ctl_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Option o, else the environment variable env; NULL if neither is set or it is empty. */
const char *ctl_opt_or_env(const struct ctl *c, enum opt o, const char *env);

/* ---- output.c: diagnostics, usage, JSON strings, listings ---- */

/* User input in a diagnostic: printed only if it is short printable ASCII. */
const char *ctl_shown(const char *s);

/* The whole help text, with every command of top and every option. */
void ctl_usage(FILE *f, const struct cmd *top);

/* A usage line and the help of each command in cmds (group: their group's name, or NULL). */
void ctl_usage_cmds(FILE *f, const char *group, const struct cmd *cmds);

/* The usage line of one command: "hmacctl [--db DIR] GROUP NAME --needed X [--other Y]". */
void ctl_usage_line(FILE *f, const char *group, const struct cmd *cmd);

/*
 * A usage error: exactly one line on stderr, like every other diagnostic
 * ("hmacctl: <what>: <reason> (see 'hmacctl --help')"), so scripts can log it as it is.
 * Returns CTL_USAGE.
 */
int ctl_usage_error(const char *group, const struct cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A JSON string: '"' and '\\' escaped, control bytes as \u00XX. */
void ctl_json_str(FILE *f, const char *s);

/*
 * Opens the stream and starts it: for --json with json_open, "[" (a JSON array) or "{" (an
 * object); else with the header line (none if header_fmt is NULL). CTL_OK or CTL_ERR
 * (printed); ctl_list_end() follows in both cases.
 */
int ctl_list_begin(struct list_out *lo, const char *what, const char *json_open,
		   const char *header_fmt, ...) __attribute__((format(printf, 4, 5)));

/* Before each row: the comma between JSON elements. */
void ctl_list_next(struct list_out *lo);

/*
 * Ends the listing: if status is CTL_OK, closes the JSON document and prints everything;
 * frees the stream either way. Returns the final status.
 */
int ctl_list_end(struct list_out *lo, int status);

/* ---- store.c: the key store ---- */

/*
 * Opens the store of --db or $HMACD_DB; *dirp (if not NULL) gets its directory. CTL_OK,
 * CTL_USAGE or CTL_ERR (printed).
 */
int ctl_open_store(const struct ctl *c, const struct cmd *self, const char *group,
		   unsigned flags, struct hm_keystore **ks, const char **dirp);

/*
 * Maps a store code to an exit status. A failure is printed first as "hmacctl: what: why",
 * why defaulting to the store's message.
 */
int ctl_store_status(struct hm_keystore *ks, const char *what, int rc, const char *why);

/* "<verb> tenant T" or "<verb> T/C", for messages. */
void ctl_scope_what(char *out, size_t cap, const char *verb, const struct ctl *c);

/* ---- audit.c: times, --audit-syslog ---- */

/*
 * A time for --since / --before: unix seconds (digits only), or RFC 3339 with Z or a numeric
 * offset (2026-12-06T10:00:00Z, 2026-12-06T11:00:00.5+01:00); *ms in unix milliseconds.
 */
bool ctl_parse_time(const char *s, int64_t *ms);

/* Unix milliseconds as RFC 3339 UTC with milliseconds: 2026-12-06T10:00:00.000Z. */
void ctl_rfc3339_ms(int64_t ms, char out[static 32]);

/*
 * With --audit-syslog: the audit record of the change ks just committed, to syslog
 * (LOG_AUTHPRIV | LOG_NOTICE). Best effort, after the commit; nothing if none was committed.
 */
void ctl_audit_syslog(const struct ctl *c, struct hm_keystore *ks);

/*
 * One audit record to syslog (LOG_AUTHPRIV | LOG_NOTICE): a store's (stored: with its sequence
 * number), or a fleet change made from here (no number: the fleet's hosts number their own).
 */
void ctl_audit_syslog_rec(const struct hm_audit_rec *r, bool stored);

/* The wall clock in unix milliseconds (0 if it cannot be read: for display only). */
int64_t ctl_now_ms(void);

/* ---- target.c: the local store or the fleet ---- */

struct ctl_fleet; /* a connected fleet and its seal key (target.c) */
struct hm_fleet;

/* Where key and policy commands act: ks (--db) or fleet (--fleet); the other is NULL. */
struct ctl_target {
	struct hm_keystore *ks;
	struct ctl_fleet *fleet;
	const struct ctl *c; /* the command line, for --audit-syslog after a change */
};

/* --fleet, else $HMACD_FLEET unless --db is given; NULL: the local store. */
const char *ctl_fleet_url(const struct ctl *c);

/*
 * Connects to the fleet of --fleet / $HMACD_FLEET with the seal key, password file and prefix
 * given. CTL_OK, CTL_USAGE or CTL_ERR (printed; also when built without fleet mode).
 */
int ctl_fleet_open(const struct ctl *c, const struct cmd *self, const char *group,
		   struct ctl_fleet **out);
void ctl_fleet_close(struct ctl_fleet *cf);
/* The connection of an open fleet (fleet/fleet.h). */
struct hm_fleet *ctl_fleet_of(struct ctl_fleet *cf);

/* Opens the fleet or the store, as ctl_fleet_url() says. CTL_OK, CTL_USAGE, CTL_ERR. */
int ctl_target_open(const struct ctl *c, const struct cmd *self, const char *group,
		    struct ctl_target *t);
void ctl_target_close(struct ctl_target *t);
/* The reason of the target's last failure ("" if none). */
const char *ctl_target_errmsg(const struct ctl_target *t);
/* ctl_store_status() for a target. */
int ctl_target_status(const struct ctl_target *t, const char *what, int rc, const char *why);

/* hm_ks_create() ... hm_ks_policy_list(), on the store or the fleet (fleet/admin.h). */
int ctl_t_create(struct ctl_target *t, const char *tenant, const char *container, int64_t now,
		 const char *keyid, uint8_t secret[static HM_KEY_LEN], struct hm_ks_added *out);
int ctl_t_rotate(struct ctl_target *t, const char *tenant, const char *container, int64_t now,
		 int64_t grace, const char *keyid, uint8_t secret[static HM_KEY_LEN],
		 struct hm_ks_added *out);
int ctl_t_import(struct ctl_target *t, const char *tenant, const char *container, int64_t now,
		 int64_t grace, const char *keyid, const uint8_t *secret, size_t len,
		 struct hm_ks_added *out);
int ctl_t_revoke(struct ctl_target *t, const char *tenant, const char *container,
		 uint32_t epoch);
int ctl_t_list(struct ctl_target *t, const char *tenant,
	       int (*fn)(const struct hm_key_info *info, void *arg), void *arg);
int ctl_t_policy_set(struct ctl_target *t, const char *tenant, const char *container,
		     const struct hm_policy *p);
int ctl_t_policy_unset(struct ctl_target *t, const char *tenant, const char *container);
int ctl_t_policy_get(struct ctl_target *t, const char *tenant, const char *container,
		     struct hm_policy *out, enum hm_policy_source *src);
int ctl_t_policy_list(struct ctl_target *t, const char *tenant,
		      int (*fn)(const struct hm_policy_info *info, void *arg), void *arg);

/* ---- the commands, by group: store.c, keys.c, policies.c, daemon.c, fleet.c ---- */

int cmd_init(const struct ctl *c, const struct cmd *self);
int cmd_compact(const struct ctl *c, const struct cmd *self);
int cmd_backup(const struct ctl *c, const struct cmd *self);
int cmd_restore(const struct ctl *c, const struct cmd *self);
int cmd_audit_list(const struct ctl *c, const struct cmd *self);
int cmd_audit_prune(const struct ctl *c, const struct cmd *self);
int cmd_key_create(const struct ctl *c, const struct cmd *self);
int cmd_key_rotate(const struct ctl *c, const struct cmd *self);
int cmd_key_import(const struct ctl *c, const struct cmd *self);
int cmd_key_revoke(const struct ctl *c, const struct cmd *self);
int cmd_key_list(const struct ctl *c, const struct cmd *self);
int cmd_policy_set(const struct ctl *c, const struct cmd *self);
int cmd_policy_show(const struct ctl *c, const struct cmd *self);
int cmd_policy_unset(const struct ctl *c, const struct cmd *self);
int cmd_policy_list(const struct ctl *c, const struct cmd *self);
int cmd_ping(const struct ctl *c, const struct cmd *self);
int cmd_stats(const struct ctl *c, const struct cmd *self);
int cmd_seal_key_generate(const struct ctl *c, const struct cmd *self);
int cmd_seal_key_id(const struct ctl *c, const struct cmd *self);
int cmd_import_store(const struct ctl *c, const struct cmd *self);
int cmd_explain(const struct ctl *c, const struct cmd *self);

/*
 * A policy as `policy show` prints it (json), as a `policy list` row (row), or as the human
 * block; container NULL for a tenant's policy (policies.c).
 */
void ctl_policy_print(FILE *f, bool json, bool row, const char *tenant, const char *container,
		      enum hm_policy_source src, const struct hm_policy *p);
/* `init` with --fleet: creates the fleet's meta, or checks it is there with this seal key. */
int ctl_fleet_init(const struct ctl *c, const struct cmd *self);

#endif
