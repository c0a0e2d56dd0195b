/* policies.c - hmacctl policy set, show, unset and list: RFC 9421 coverage policies. */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "proto/errors.h"
#include "proto/policy.h"
#include "store/keystore.h"
#include "ctl/ctl.h"

/* The exit status of a store call on the scope of --tenant/--container ("<verb> T/C: why"). */
static int scope_status(const struct ctl_target *tg, const struct ctl *c, const char *verb, int rc,
			const char *why)
{
	char what[320];

	ctl_scope_what(what, sizeof(what), verb, c);
	return ctl_target_status(tg, what, rc, why);
}

/* Prints "<verb> tenant T" or "<verb> T/C" on stdout. */
static void print_scope(const char *verb, const struct ctl *c)
{
	char line[320];

	ctl_scope_what(line, sizeof(line), verb, c);
	printf("%s\n", line);
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

void ctl_policy_print(FILE *f, bool json, bool row, const char *tenant, const char *container,
		      enum hm_policy_source src, const struct hm_policy *p)
{
	char comp[HM_POLICY_COMPONENT_MAX + 1];
	size_t i;

	if (json) {
		fprintf(f, "{\"tenant\":");
		ctl_json_str(f, tenant);
		fprintf(f, ",\"container\":");
		if (container != NULL)
			ctl_json_str(f, container);
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
			ctl_json_str(f, comp);
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
			ctl_json_str(f, p->v1_headers[i]);
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
			return ctl_usage_error("policy", self, "at most %d components",
					       HM_POLICY_MAX_COMPONENTS);
		if (rc != HM_OK)
			return ctl_usage_error("policy", self,
					       "--require: '%s' is not a component hmacd "
					       "can require", ctl_shown(c->req[i]));
	}
	if (p->ncomponents == 0)
		return ctl_usage_error("policy", self, "%s",
				       "--require needs at least one component");
	p->require_created = c->opt[OPT_NO_CREATED] == NULL;
	p->require_nonce = c->opt[OPT_NO_NONCE] == NULL;
	p->check_age = c->opt[OPT_NO_AGE_CHECK] == NULL;
	p->digest_when_body = c->opt[OPT_NO_BODY_DIGEST] == NULL;
	p->query_when_present = c->opt[OPT_NO_QUERY] == NULL;
	p->v1_nonce = c->opt[OPT_V1_NONCE] != NULL;
	for (i = 0; i < c->nv1req; i++) {
		rc = hm_policy_require_v1_header(p, c->v1req[i]);
		if (rc == HM_ETOOBIG)
			return ctl_usage_error("policy", self, "at most %d --v1-require headers",
					       HM_POLICY_MAX_V1_HEADERS);
		if (rc != HM_OK)
			return ctl_usage_error("policy", self,
					       "--v1-require: '%s' is not a lower-case header name",
					       ctl_shown(c->v1req[i]));
	}
	if (hm_policy_check(p, &why) != HM_OK)
		return ctl_usage_error("policy", self, "%s; add --no-nonce to go without", why);
	return CTL_OK;
}

int cmd_policy_set(const struct ctl *c, const struct cmd *self)
{
	struct hm_policy p;
	struct ctl_target tg = {NULL, NULL, NULL};
	int rc, status;

	status = policy_opts(c, self, &p);
	if (status != CTL_OK)
		return status;
	status = ctl_target_open(c, self, "policy", &tg);
	if (status != CTL_OK)
		return status;
	rc = ctl_t_policy_set(&tg, c->opt[OPT_TENANT], c->opt[OPT_CONTAINER], &p);
	if (rc == HM_OK)
		print_scope("set the policy of", c);
	status = scope_status(&tg, c, "policy set", rc, NULL);
	ctl_target_close(&tg);
	return status;
}

int cmd_policy_show(const struct ctl *c, const struct cmd *self)
{
	enum hm_policy_source src = HM_POLICY_DEFAULT;
	struct hm_policy p;
	struct ctl_target tg = {NULL, NULL, NULL};
	int rc, status;

	status = ctl_target_open(c, self, "policy", &tg);
	if (status != CTL_OK)
		return status;
	rc = ctl_t_policy_get(&tg, c->opt[OPT_TENANT], c->opt[OPT_CONTAINER], &p, &src);
	if (rc == HM_OK) {
		ctl_policy_print(stdout, c->opt[OPT_JSON] != NULL, false, c->opt[OPT_TENANT],
				 c->opt[OPT_CONTAINER], src, &p);
		if (c->opt[OPT_JSON] != NULL)
			printf("\n");
	}
	status = scope_status(&tg, c, "policy show", rc, NULL);
	ctl_target_close(&tg);
	return status;
}

int cmd_policy_unset(const struct ctl *c, const struct cmd *self)
{
	struct ctl_target tg = {NULL, NULL, NULL};
	int rc, status;

	status = ctl_target_open(c, self, "policy", &tg);
	if (status != CTL_OK)
		return status;
	rc = ctl_t_policy_unset(&tg, c->opt[OPT_TENANT], c->opt[OPT_CONTAINER]);
	if (rc == HM_OK)
		print_scope("removed the policy of", c);
	status = scope_status(&tg, c, "policy unset", rc,
			      rc == HM_ENOTFOUND ? "no policy stored there" : NULL);
	ctl_target_close(&tg);
	return status;
}

static int policy_row(const struct hm_policy_info *info, void *arg)
{
	struct list_out *lo = arg;

	ctl_list_next(lo);
	ctl_policy_print(lo->f, lo->json, true, info->tenant,
		     info->container[0] != '\0' ? info->container : NULL, info->source,
		     &info->policy);
	return 0;
}

int cmd_policy_list(const struct ctl *c, const struct cmd *self)
{
	struct list_out lo = { .json = c->opt[OPT_JSON] != NULL };
	struct ctl_target tg = {NULL, NULL, NULL};
	int rc, status;

	status = ctl_target_open(c, self, "policy", &tg);
	if (status != CTL_OK)
		return status;
	status = ctl_list_begin(&lo, "policy list", "[",
				"%-20s %-20s %-7s %-7s %-5s %-9s %-11s %-5s %-8s %s\n", "TENANT",
				"CONTAINER", "SOURCE", "CREATED", "NONCE", "AGE_CHECK",
				"BODY_DIGEST", "QUERY", "V1_NONCE", "REQUIRE");
	if (status == CTL_OK) {
		rc = ctl_t_policy_list(&tg, c->opt[OPT_TENANT], policy_row, &lo);
		status = ctl_target_status(&tg, "policy list", rc, NULL);
	}
	ctl_target_close(&tg);
	return ctl_list_end(&lo, status);
}
