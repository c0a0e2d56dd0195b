/*
 * options.c - the option table of hmacd and its parser (pgbouncer's CF_ABS idea): one row per
 * option gives its name, type, field, default, environment variable, range and help line.
 */
#include <config.h> /* autoconf: PACKAGE_VERSION */

#include "server/options.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <stdbool.h>
#include <pwd.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/frame.h"
#include "proto/msg.h"
#include "server/fleet.h"
#include "server/metrics.h"
#include "server/tally.h"

enum opt_type {
	OPT_STR, OPT_UINT, OPT_OCTAL, OPT_LEVEL, OPT_UIDS, OPT_GIDS, OPT_FLAG, OPT_COMPONENTS,
	OPT_V1_HEADERS
};

struct opt {
	const char *name;
	const char *metavar;
	enum opt_type type;
	size_t offset;
	const char *def; /* default for STR/LEVEL/OCTAL options; NULL: none */
	uint64_t def_u;  /* default for UINT options */
	const char *env; /* NULL: none */
	uint64_t min, max;
	const char *help;
};

#define F(field) offsetof(struct hm_config, field)

static const struct opt opts[] = {
	{"socket", "PATH", OPT_STR, F(socket_path), NULL, 0, "HMACD_SOCKET", 0, 0,
	 "Unix socket to listen on (required)"},
	{"db", "DIR", OPT_STR, F(db_dir), NULL, 0, "HMACD_DB", 0, 0,
	 "key store directory; created if missing (required)"},
	{"threads", "N", OPT_UINT, F(threads), NULL, 0, NULL, 0, 256,
	 "worker threads, each with its own event loop; 0 = number of CPUs"},
	{"skew", "SECONDS", OPT_UINT, F(skew), NULL, 300, NULL, 1, 86400,
	 "largest accepted |now - ts|; nonces are remembered this long"},
	{"max-frame", "BYTES", OPT_UINT, F(max_frame), NULL, HM_FRAME_DEFAULT_MAX, NULL,
	 HM_FRAME_MIN_MAX, HM_FRAME_MAX_MAX,
	 "largest request payload; a longer one closes the connection"},
	{"max-batch", "N", OPT_UINT, F(max_batch), NULL, HM_DEFAULT_MAX_BATCH, NULL, 1, 1u << 20,
	 "most items in one verify request"},
	{"max-conns", "N", OPT_UINT, F(max_conns), NULL, 4096, NULL, 1, 1u << 20,
	 "most open client connections; more are closed at accept"},
	{"read-timeout", "SECONDS", OPT_UINT, F(read_timeout), NULL, 10, NULL, 1, 3600,
	 "time a client has to finish a frame it started"},
	{"socket-mode", "OCTAL", OPT_OCTAL, F(socket_mode), "0660", 0, NULL, 0, 0777,
	 "permission bits of the socket file"},
	{"idle-spin", "US", OPT_UINT, F(idle_spin), NULL, 0, NULL, 0, 1000,
	 "a worker polls up to US microseconds (adaptive) for the next request before it sleeps: "
	 "a faster idle round trip where waking a CPU is slow (VMs), paid in CPU; 0: off"},
	{"key-cache", "N", OPT_UINT, F(key_cache), NULL, 65536, NULL, 16, 1u << 24,
	 "key epochs cached, shared by the workers (192 bytes each)"},
	{"nonce-cache", "N", OPT_UINT, F(nonce_cache), NULL, 1u << 20, NULL, 1024, 1u << 28,
	 "nonces remembered for replay protection; when full, nonce items fail closed (REPLAY)"},
	{"nonce-file", "PATH", OPT_STR, F(nonce_file), NULL, 0, NULL, 0, 0,
	 "file that keeps the nonce cache across restarts (default DB/nonces)"},
	{"nonce-tenant-share", "PERCENT", OPT_UINT, F(nonce_tenant_share), NULL, 25, NULL, 1, 100,
	 "most of the nonce cache one tenant may fill; over it its nonce items fail closed"},
	{"log-level", "LEVEL", OPT_LEVEL, F(log_level), "info", 0, NULL, 0, 0,
	 "error, warn, info or debug"},
	{"log-file", "PATH", OPT_STR, F(log_file), NULL, 0, NULL, 0, 0,
	 "append the log to PATH instead of stderr; SIGHUP reopens it (log rotation)"},
	{"allow-uid", "LIST", OPT_UIDS, F(allow_uid), NULL, 0, NULL, 0, 0,
	 "comma-separated users (names or ids) allowed to connect; checked with SO_PEERCRED"},
	{"allow-gid", "LIST", OPT_GIDS, F(allow_gid), NULL, 0, NULL, 0, 0,
	 "comma-separated groups (names or ids) allowed to connect (primary or supplementary)"},
	{"check-config", "", OPT_FLAG, F(check_config), NULL, 0, NULL, 0, 0,
	 "check the options, the store and the socket path, then exit (0: ok)"},
	{"policy-require", "LIST", OPT_COMPONENTS, F(policy), "@method,@path,@authority", 0, NULL,
	 0, 0, "RFC 9421: components every signature must cover unless its scope has a policy"},
	{"policy-no-created", "", OPT_FLAG, F(policy_no_created), NULL, 0, NULL, 0, 0,
	 "RFC 9421 default policy: do not require the created parameter"},
	{"policy-no-nonce", "", OPT_FLAG, F(policy_no_nonce), NULL, 0, NULL, 0, 0,
	 "RFC 9421 default policy: do not require a nonce"},
	{"policy-no-age-check", "", OPT_FLAG, F(policy_no_age_check), NULL, 0, NULL, 0, 0,
	 "RFC 9421 default policy: do not compare created / expires with the clock"},
	{"policy-no-body-digest", "", OPT_FLAG, F(policy_no_body_digest), NULL, 0, NULL, 0, 0,
	 "RFC 9421 default policy: a body need not be covered by content-digest"},
	{"policy-no-query", "", OPT_FLAG, F(policy_no_query), NULL, 0, NULL, 0, 0,
	 "RFC 9421 default policy: a query need not be covered by @query"},
	{"policy-v1-nonce", "", OPT_FLAG, F(policy_v1_nonce), NULL, 0, NULL, 0, 0,
	 "hmacd-v1 default policy: require a nonce"},
	{"policy-v1-require", "LIST", OPT_V1_HEADERS, F(policy), NULL, 0, NULL, 0, 0,
	 "hmacd-v1 default policy: comma-separated headers every signature must include"},
	{"fleet", "URL", OPT_STR, F(fleet_url), NULL, 0, "HMACD_FLEET", 0, 0,
	 "keep --db as the mirror of the fleet in Redis: redis://HOST:PORT[/DB], unix:///PATH or "
	 "sentinel://HOST:PORT[,HOST:PORT...]/MASTER[/DB]"},
	{"fleet-password-file", "FILE", OPT_STR, F(fleet_password_file), NULL, 0,
	 "HMACD_FLEET_PASSWORD_FILE", 0, 0, "Redis AUTH password: the file's first line"},
	{"fleet-prefix", "P", OPT_STR, F(fleet_prefix), "hmacd:", 0, "HMACD_FLEET_PREFIX", 0, 0,
	 "prefix of the fleet's Redis keys"},
	{"fleet-nonces", "WHERE", OPT_STR, F(fleet_nonces), "redis", 0, NULL, 0, 0,
	 "fleet mode: redis (a nonce is claimed fleet-wide: a replay on another host is caught) or "
	 "local (this host's cache only: a replay is accepted once per host)"},
	{"fleet-timeout", "MS", OPT_UINT, F(fleet_timeout), NULL, 100, NULL, 1, 60000,
	 "fleet mode: how long a frame's nonce claims may take (WAIT included); then UNAVAILABLE"},
	{"fleet-wait", "N", OPT_UINT, F(fleet_wait), NULL, 0, NULL, 0, 16,
	 "fleet mode: a claim counts once on N replicas (WAIT N), surviving a failover"},
	{"seal-key-file", "FILE", OPT_STR, F(seal_key_file), NULL, 0, "HMACD_SEAL_KEY_FILE", 0, 0,
	 "the fleet's seal key (hmacctl seal-key generate): 32 bytes, mode 0600; needed with --fleet"},
	{"metrics-listen", "ADDR:PORT", OPT_STR, F(metrics_listen), NULL, 0, "HMACD_METRICS_LISTEN",
	 0, 0,
	 "serve Prometheus metrics at http://ADDR:PORT/metrics (PORT alone: 127.0.0.1; IPv6 as "
	 "[::1]:PORT; 0: any free port, logged); off unless given"},
	{"metrics-tenants", "N", OPT_UINT, F(metrics_tenants), NULL, 0, "HMACD_METRICS_TENANTS", 0,
	 HM_TALLY_TENANTS_MAX,
	 "with --metrics-listen: verdict counters for the first N tenants whose keys exist, the "
	 "rest as tenant=\"__other__\"; 0: none"},
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

void hm_config_usage(FILE *out)
{
	fprintf(out, "usage: hmacd --socket PATH --db DIR [options]\n\n"
		     "Verifies HMAC-signed HTTP requests for local app servers (see README.md).\n\n");
	for (size_t i = 0; i < NOPTS; i++) {
		char left[40];

		snprintf(left, sizeof(left), "--%s%s%s", opts[i].name, opts[i].metavar[0] ? " " : "",
			 opts[i].metavar);
		fprintf(out, "  %-26s %s", left, opts[i].help);
		if (opts[i].type == OPT_UINT)
			fprintf(out, " (default %llu)", (unsigned long long)opts[i].def_u);
		else if (opts[i].def != NULL)
			fprintf(out, " (default %s)", opts[i].def);
		if (opts[i].env != NULL)
			fprintf(out, " [env %s]", opts[i].env);
		fputc('\n', out);
	}
	fprintf(out, "  %-26s %s\n  %-26s %s\n", "--help", "this text", "--version",
		"print the version");
}

/* One user or group, by name or number. */
static int parse_id(const char *s, size_t len, bool group, uint32_t *out)
{
	char name[256], buf[4096], *end = NULL;
	unsigned long long v;

	if (len == 0 || len >= sizeof(name))
		return HM_EINVAL;
	memcpy(name, s, len);
	name[len] = '\0';
	if (name[0] >= '0' && name[0] <= '9') {
		errno = 0;
		v = strtoull(name, &end, 10);
		if (errno != 0 || *end != '\0' || v >= UINT32_MAX)
			return HM_EINVAL;
		*out = (uint32_t)v;
		return HM_OK;
	}
	if (group) {
		struct group gr, *res = NULL;

		if (getgrnam_r(name, &gr, buf, sizeof(buf), &res) != 0 || res == NULL)
			return HM_ENOTFOUND;
		*out = (uint32_t)gr.gr_gid;
	} else {
		struct passwd pw, *res = NULL;

		if (getpwnam_r(name, &pw, buf, sizeof(buf), &res) != 0 || res == NULL)
			return HM_ENOTFOUND;
		*out = (uint32_t)pw.pw_uid;
	}
	return HM_OK;
}

static int parse_idlist(const char *val, bool group, struct hm_idlist *l)
{
	const char *p = val;
	int rc;

	l->n = 0;
	while (*p != '\0') {
		size_t len = strcspn(p, ",");

		if (l->n == HM_IDLIST_MAX)
			return HM_ETOOBIG;
		rc = parse_id(p, len, group, &l->ids[l->n]);
		if (rc != HM_OK)
			return rc;
		l->n++;
		p += len;
		if (*p == ',')
			p++;
	}
	return l->n > 0 ? HM_OK : HM_EINVAL;
}

/*
 * RFC 9421 components, separated by commas outside double quotes (a @query-param name may hold
 * a comma), each one canonicalised by policy.c, into p's component list (replaced whole).
 */
static int parse_components(const char *val, struct hm_policy *p)
{
	char one[HM_POLICY_COMPONENT_MAX * 2 + 1];
	size_t n = 0, start = 0, len = strlen(val);
	bool quoted = false;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && val[i] == '"')
			quoted = !quoted;
		if (i < len && (quoted || val[i] != ','))
			continue;
		if (i - start == 0 || i - start >= sizeof(one) || n == HM_POLICY_MAX_COMPONENTS)
			return HM_EINVAL;
		memcpy(one, val + start, i - start);
		one[i - start] = '\0';
		if (hm_policy_component_parse(one, p->components[n]) != HM_OK)
			return HM_EINVAL;
		n++;
		start = i + 1;
	}
	if (quoted)
		return HM_EINVAL;
	p->ncomponents = n;
	return HM_OK;
}

/* hmacd-v1 header names, separated by commas, into p's hmacd-v1 header list (replaced whole). */
static int parse_v1_headers(const char *val, struct hm_policy *p)
{
	char one[HM_POLICY_HEADER_MAX + 1];
	const char *q = val;

	p->v1_nheaders = 0;
	while (*q != '\0') {
		size_t len = strcspn(q, ",");

		if (len == 0 || len >= sizeof(one))
			return HM_EINVAL;
		memcpy(one, q, len);
		one[len] = '\0';
		if (hm_policy_require_v1_header(p, one) != HM_OK)
			return HM_EINVAL;
		q += len;
		if (*q == ',')
			q++;
	}
	return p->v1_nheaders > 0 ? HM_OK : HM_EINVAL;
}

static int set_opt(struct hm_config *cfg, const struct opt *o, const char *val)
{
	char *base = (char *)cfg + o->offset, *end = NULL;
	unsigned long long v;

	switch (o->type) {
	case OPT_STR: {
		char **dst = (char **)(void *)base;
		char *copy = strdup(val);

		if (copy == NULL)
			return HM_ENOMEM;
		free(*dst);
		*dst = copy;
		return HM_OK;
	}
	case OPT_LEVEL:
		return hm_log_parse_level(val, (enum hm_log_level *)(void *)base) ? HM_OK : HM_EINVAL;
	case OPT_UIDS:
	case OPT_GIDS:
		return parse_idlist(val, o->type == OPT_GIDS, (struct hm_idlist *)(void *)base);
	case OPT_FLAG:
		*(uint64_t *)(void *)base = 1;
		return HM_OK;
	case OPT_COMPONENTS:
		return parse_components(val, (struct hm_policy *)(void *)base);
	case OPT_V1_HEADERS:
		return parse_v1_headers(val, (struct hm_policy *)(void *)base);
	case OPT_UINT:
	case OPT_OCTAL:
		/* digits only: strtoull would also skip blanks and take a sign (" -0") */
		if (val[0] < '0' || val[0] > '9')
			return HM_EINVAL;
		errno = 0;
		v = strtoull(val, &end, o->type == OPT_OCTAL ? 8 : 10);
		if (errno != 0 || *end != '\0' || v < o->min || v > o->max)
			return HM_EINVAL;
		*(uint64_t *)(void *)base = v;
		return HM_OK;
	}
	return HM_EINVAL;
}

static enum hm_config_result bad_value(const struct opt *o, const char *from)
{
	if (o->type == OPT_UINT)
		fprintf(stderr, "hmacd: %s: --%s must be a whole number from %llu to %llu\n", from,
			o->name, (unsigned long long)o->min, (unsigned long long)o->max);
	else if (o->type == OPT_UIDS || o->type == OPT_GIDS)
		fprintf(stderr, "hmacd: %s: --%s takes 1 to %d comma-separated known %s names or ids\n",
			from, o->name, HM_IDLIST_MAX, o->type == OPT_UIDS ? "user" : "group");
	else
		fprintf(stderr, "hmacd: %s: invalid value for --%s\n", from, o->name);
	return HM_CONFIG_EXIT_USAGE;
}

enum hm_config_result hm_config_parse(struct hm_config *cfg, int argc, char **argv)
{
	struct option longopts[NOPTS + 3];
	const char *val, *why;
	long cpus;
	int c, idx;

	memset(cfg, 0, sizeof(*cfg));
	hm_policy_default(&cfg->policy);
	for (size_t i = 0; i < NOPTS; i++) {
		longopts[i] = (struct option){opts[i].name,
					      opts[i].type == OPT_FLAG ? no_argument : required_argument,
					      NULL, (int)i};
		if (opts[i].type == OPT_UINT)
			*(uint64_t *)(void *)((char *)cfg + opts[i].offset) = opts[i].def_u;
		val = opts[i].env != NULL ? getenv(opts[i].env) : NULL;
		if (val == NULL || val[0] == '\0')
			val = opts[i].def;
		if (val != NULL && set_opt(cfg, &opts[i], val) != HM_OK)
			return bad_value(&opts[i], opts[i].env != NULL ? opts[i].env : "default");
	}
	longopts[NOPTS] = (struct option){"help", no_argument, NULL, 'h'};
	longopts[NOPTS + 1] = (struct option){"version", no_argument, NULL, 'V'};
	longopts[NOPTS + 2] = (struct option){NULL, 0, NULL, 0};

	/*
	 * 0, not 1: glibc (and musl) then reset getopt's whole state. With 1, a previous call cut
	 * short inside grouped short options ("-hh") leaves getopt pointing into the old argv.
	 */
	optind = 0;
	for (;;) {
		idx = -1;
		c = getopt_long(argc, argv, "h", longopts, &idx);
		if (c == -1)
			break;
		if (c == 'h') {
			hm_config_usage(stdout);
			return HM_CONFIG_EXIT_OK;
		}
		if (c == 'V') {
			printf("hmacd %s\n", PACKAGE_VERSION);
			return HM_CONFIG_EXIT_OK;
		}
		if (c < 0 || (size_t)c >= NOPTS) {
			fprintf(stderr, "hmacd: try --help\n");
			return HM_CONFIG_EXIT_USAGE;
		}
		if (set_opt(cfg, &opts[c], optarg) != HM_OK)
			return bad_value(&opts[c], "command line");
	}
	if (optind < argc) {
		fprintf(stderr, "hmacd: unexpected argument '%s'; try --help\n", argv[optind]);
		return HM_CONFIG_EXIT_USAGE;
	}
	if (cfg->socket_path == NULL || cfg->db_dir == NULL) {
		fprintf(stderr, "hmacd: --socket and --db are required (or HMACD_SOCKET, HMACD_DB)\n");
		return HM_CONFIG_EXIT_USAGE;
	}
	if (cfg->fleet_url != NULL && !hm_srv_fleet_built()) {
		fprintf(stderr, "hmacd: --fleet: this hmacd was built without fleet mode (configure "
			"found no hiredis)\n");
		return HM_CONFIG_EXIT_USAGE;
	}
	if (cfg->fleet_url != NULL && cfg->seal_key_file == NULL) {
		fprintf(stderr, "hmacd: --fleet needs --seal-key-file FILE (or HMACD_SEAL_KEY_FILE)\n");
		return HM_CONFIG_EXIT_USAGE;
	}
	if (strcmp(cfg->fleet_nonces, "redis") != 0 && strcmp(cfg->fleet_nonces, "local") != 0) {
		fprintf(stderr, "hmacd: --fleet-nonces takes redis or local\n");
		return HM_CONFIG_EXIT_USAGE;
	}
	if (cfg->fleet_url != NULL && !hm_srv_fleet_prefix_ok(cfg->fleet_prefix)) {
		fprintf(stderr, "hmacd: --fleet-prefix wants 1..64 bytes of [A-Za-z0-9._:/-]\n");
		return HM_CONFIG_EXIT_USAGE;
	}
	if (cfg->metrics_listen != NULL) {
		struct hm_metrics_addr addr;

		if (hm_metrics_parse_listen(cfg->metrics_listen, &addr) != HM_OK) {
			fprintf(stderr, "hmacd: --metrics-listen takes PORT, ADDR:PORT or [ADDR6]:PORT "
				"(a numeric address or localhost; PORT 0..65535)\n");
			return HM_CONFIG_EXIT_USAGE;
		}
	} else if (cfg->metrics_tenants > 0) {
		fprintf(stderr, "hmacd: --metrics-tenants needs --metrics-listen\n");
		return HM_CONFIG_EXIT_USAGE;
	}
	if (cfg->nonce_file == NULL) {
		size_t n = strlen(cfg->db_dir) + sizeof("/nonces");

		cfg->nonce_file = malloc(n);
		if (cfg->nonce_file == NULL) {
			fprintf(stderr, "hmacd: out of memory\n");
			return HM_CONFIG_EXIT_USAGE;
		}
		snprintf(cfg->nonce_file, n, "%s/nonces", cfg->db_dir);
	}
	cfg->policy.require_created = !cfg->policy_no_created;
	cfg->policy.require_nonce = !cfg->policy_no_nonce;
	cfg->policy.check_age = !cfg->policy_no_age_check;
	cfg->policy.digest_when_body = !cfg->policy_no_body_digest;
	cfg->policy.query_when_present = !cfg->policy_no_query;
	cfg->policy.v1_nonce = cfg->policy_v1_nonce != 0;
	if (hm_policy_check(&cfg->policy, &why) != HM_OK) {
		fprintf(stderr, "hmacd: the default policy (--policy-*): %s; add --policy-no-nonce "
			"to go without\n", why);
		return HM_CONFIG_EXIT_USAGE;
	}
	if (cfg->threads == 0) {
		cpus = sysconf(_SC_NPROCESSORS_ONLN);
		cfg->threads = cpus > 0 ? (uint64_t)cpus : 1;
	}
	return HM_CONFIG_RUN;
}

void hm_config_free(struct hm_config *cfg)
{
	free(cfg->socket_path);
	free(cfg->db_dir);
	free(cfg->log_file);
	free(cfg->nonce_file);
	free(cfg->seal_key_file);
	free(cfg->fleet_url);
	free(cfg->fleet_password_file);
	free(cfg->fleet_prefix);
	free(cfg->fleet_nonces);
	free(cfg->metrics_listen);
	cfg->metrics_listen = NULL;
	cfg->fleet_nonces = NULL;
	cfg->fleet_url = NULL;
	cfg->fleet_password_file = NULL;
	cfg->fleet_prefix = NULL;
	cfg->nonce_file = NULL;
	cfg->seal_key_file = NULL;
	cfg->socket_path = NULL;
	cfg->db_dir = NULL;
	cfg->log_file = NULL;
}
