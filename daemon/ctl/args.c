/* args.c - hmacctl's command line: argv into struct ctl, and the checks of its values. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/lex.h"
#include "ctl/ctl.h"

bool ctl_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
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

const char *ctl_opt_or_env(const struct ctl *c, enum opt o, const char *env)
{
	const char *v = c->opt[o];

	if (v == NULL)
		v = getenv(env);
	if (v == NULL || v[0] == '\0')
		return NULL;
	return v;
}

int ctl_check_scope_opts(const struct ctl *c, const char *group, const struct cmd *self)
{
	static const enum opt names[] = { OPT_TENANT, OPT_CONTAINER };
	const char *v;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		v = c->opt[names[i]];
		if (v != NULL && !hm_lex_scope((const uint8_t *)v, strlen(v)))
			return ctl_usage_error(group, self,
					       "--%s must be 1..128 bytes of [A-Za-z0-9._:/-]",
					       ctl_optdefs[names[i]].name);
	}
	v = c->opt[OPT_KEYID];
	if (v != NULL && !hm_lex_keyid((const uint8_t *)v, strlen(v)))
		return ctl_usage_error(group, self, "%s",
				       "--keyid must be 1..128 bytes of [A-Za-z0-9._:/+=@~-]");
	return CTL_OK;
}

static int find_opt(const char *name, size_t len)
{
	int o;

	for (o = 0; o < OPT__MAX; o++) {
		if (strlen(ctl_optdefs[o].name) == len &&
		    memcmp(ctl_optdefs[o].name, name, len) == 0)
			return o;
	}
	return -1;
}

/* Keeps one argument of a list option (--require, --v1-require) in list[0..*n). */
static int add_listed(const char *opt, const char **list, int *n, const char *v)
{
	if (*n == MAX_REQUIRE)
		return ctl_usage_error(NULL, NULL, "too many --%s arguments (at most %d)", opt,
				       MAX_REQUIRE);
	list[(*n)++] = v;
	return CTL_OK;
}

int ctl_parse_args(int argc, char **argv, struct ctl *c)
{
	bool words_only = false;
	const char *a, *name, *eq, *val;
	size_t nlen;
	int i, o, before;

	for (i = 1; i < argc; i++) {
		a = argv[i];
		if (words_only || a[0] != '-' || a[1] == '\0') {
			if (c->nword == (int)(sizeof(c->word) / sizeof(c->word[0])))
				return ctl_usage_error(NULL, NULL, "too many words at '%s'",
						       ctl_shown(a));
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
			return ctl_usage_error(NULL, NULL, "unknown option '%s'", ctl_shown(a));
		name = a + 2;
		eq = strchr(name, '=');
		nlen = eq != NULL ? (size_t)(eq - name) : strlen(name);
		o = find_opt(name, nlen);
		if (o < 0)
			return ctl_usage_error(NULL, NULL, "unknown option '%s'", ctl_shown(a));
		if (o == OPT_REQUIRE || o == OPT_V1_REQUIRE) {
			/* one or more words, up to the next option; may be repeated */
			const char **list = o == OPT_REQUIRE ? c->req : c->v1req;
			int *n = o == OPT_REQUIRE ? &c->nreq : &c->nv1req;

			before = *n;
			if (eq != NULL &&
			    add_listed(ctl_optdefs[o].name, list, n, eq + 1) != CTL_OK)
				return CTL_USAGE;
			while (i + 1 < argc && !(argv[i + 1][0] == '-' && argv[i + 1][1] != '\0')) {
				if (add_listed(ctl_optdefs[o].name, list, n, argv[++i]) != CTL_OK)
					return CTL_USAGE;
			}
			if (*n == before)
				return ctl_usage_error(NULL, NULL, "option --%s needs a value",
						       ctl_optdefs[o].name);
			c->opt[o] = "";
			continue;
		}
		if (ctl_optdefs[o].arg == NULL) {
			if (eq != NULL)
				return ctl_usage_error(NULL, NULL, "option --%s takes no value",
						       ctl_optdefs[o].name);
			val = "";
		} else if (eq != NULL) {
			val = eq + 1;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			return ctl_usage_error(NULL, NULL, "option --%s needs a value",
					       ctl_optdefs[o].name);
		}
		if (c->opt[o] != NULL)
			return ctl_usage_error(NULL, NULL, "option --%s given twice",
					       ctl_optdefs[o].name);
		c->opt[o] = val;
	}
	return CTL_OK;
}
