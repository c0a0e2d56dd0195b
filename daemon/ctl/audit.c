/*
 * audit.c - hmacctl audit list and audit prune, the times they take (--since, --before), and
 * --audit-syslog: each change's audit record also sent to syslog once its transaction has
 * committed (best effort: the record in the store is the one that cannot be lost).
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "proto/errors.h"
#include "store/keystore.h"
#include "ctl/ctl.h"

#define MAX_UNIX_S 253402300799ll /* 9999-12-31T23:59:59Z */

/* n digits at s into *v; false if any is not a digit. */
static bool digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		*v = *v * 10 + (s[i] - '0');
	}
	return true;
}

bool ctl_parse_time(const char *s, int64_t *ms)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, oh = 0, om = 0, frac = 0, nfrac = 0;
	uint64_t u;
	time_t t;
	size_t i;

	if (ctl_parse_u64(s, 0, MAX_UNIX_S, &u)) {
		*ms = (int64_t)u * 1000;
		return true;
	}
	/* RFC 3339: YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM) */
	if (strlen(s) < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
	    s[7] != '-' || !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
	    !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
	    !digits(s + 17, 2, &sec))
		return false;
	i = 19;
	if (s[i] == '.') {
		for (i++; isdigit((unsigned char)s[i]); i++) {
			if (nfrac < 3)
				frac = frac * 10 + (s[i] - '0');
			nfrac++;
		}
		if (nfrac == 0)
			return false;
		for (int k = nfrac; k < 3; k++)
			frac *= 10;
	}
	if ((s[i] == 'Z' || s[i] == 'z') && s[i + 1] == '\0') {
		oh = om = 0;
	} else if ((s[i] == '+' || s[i] == '-') && strlen(s + i) == 6 &&
		   digits(s + i + 1, 2, &oh) && s[i + 3] == ':' && digits(s + i + 4, 2, &om)) {
		if (oh > 23 || om > 59)
			return false;
		if (s[i] == '-') {
			oh = -oh;
			om = -om;
		}
	} else {
		return false;
	}
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y < 1970)
		return false;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	/* timegm normalises 31 February into March: such a date is refused */
	if (t == (time_t)-1 || tm.tm_mday != d || tm.tm_mon != mo - 1)
		return false;
	t -= (time_t)oh * 3600 + (time_t)om * 60;
	if (t < 0)
		return false;
	*ms = (int64_t)t * 1000 + frac;
	return true;
}

void ctl_rfc3339_ms(int64_t ms, char out[static 32])
{
	time_t tt = (time_t)(ms / 1000);
	struct tm tm;
	char sec[24];

	if (ms < 0 || gmtime_r(&tt, &tm) == NULL ||
	    strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		snprintf(out, 32, "@%" PRId64 "ms", ms);
		return;
	}
	snprintf(out, 32, "%s.%03dZ", sec, (int)(ms % 1000));
}

/* "-" for an empty field in a table. */
static const char *dash(const char *s)
{
	return s[0] != '\0' ? s : "-";
}

/*
 * A record as listed: for a fleet change applied, who made it (unknown when the fleet record
 * did not say) and the host that applied it. A fleet record applied before records carried the
 * operator (audit format 1) named the applying hmacd as its actor: listed as operator unknown,
 * applied by that host.
 */
struct view {
	const struct hm_ks_actor *who; /* NULL: unknown */
	const char *applied_by;        /* NULL: not a fleet change applied */
};

static struct view view_of(const struct hm_audit_rec *r)
{
	bool fleet = r->op == HM_AUDIT_FLEET_EPOCH || r->op == HM_AUDIT_FLEET_POLICY;
	bool legacy = fleet && r->applied_host[0] == '\0' && !r->operator_unknown;

	return (struct view){
		.who = r->operator_unknown || legacy ? NULL : &r->actor,
		.applied_by = !fleet ? NULL : legacy ? r->actor.host : r->applied_host,
	};
}

static void operator_text(const struct hm_ks_actor *a, char *out, size_t cap)
{
	int n;

	if (a == NULL) {
		snprintf(out, cap, "-");
		return;
	}
	n = snprintf(out, cap, "%s(%" PRIu32 ")", dash(a->user), a->uid);
	if (n >= 0 && (size_t)n < cap && a->sudo_user[0] != '\0')
		snprintf(out + n, cap - (size_t)n, " sudo:%s", a->sudo_user);
}

/* The detail column of a table: a fleet change applied says what was run and where applied. */
static void detail_text(const struct hm_audit_rec *r, const struct view *v, char *out,
			size_t cap)
{
	if (v->applied_by == NULL) {
		snprintf(out, cap, "%s", dash(r->detail));
		return;
	}
	snprintf(out, cap, "%s fleet-op=%s applied-by=%s", dash(r->detail),
		 r->fleet_op != 0 ? hm_audit_op_name(r->fleet_op) : "-", dash(v->applied_by));
}

static void json_str_or_null(FILE *f, const char *s)
{
	if (s != NULL && s[0] != '\0')
		ctl_json_str(f, s);
	else
		fprintf(f, "null");
}

static void json_operator(FILE *f, const struct hm_ks_actor *a)
{
	if (a == NULL) {
		fprintf(f, ",\"uid\":null,\"user\":null,\"sudo_user\":null,\"sudo_uid\":null,"
			   "\"host\":null");
		return;
	}
	fprintf(f, ",\"uid\":%" PRIu32 ",\"user\":", a->uid);
	ctl_json_str(f, a->user);
	fprintf(f, ",\"sudo_user\":");
	json_str_or_null(f, a->sudo_user);
	if (a->has_sudo_uid)
		fprintf(f, ",\"sudo_uid\":%" PRIu32, a->sudo_uid);
	else
		fprintf(f, ",\"sudo_uid\":null");
	fprintf(f, ",\"host\":");
	ctl_json_str(f, a->host);
}

/* "fleet": null, or what a fleet change applied adds: what was run, when, where applied. */
static void json_fleet(FILE *f, const struct hm_audit_rec *r, const struct view *v)
{
	char when[32];

	if (v->applied_by == NULL) {
		fprintf(f, ",\"fleet\":null");
		return;
	}
	fprintf(f, ",\"fleet\":{\"op\":");
	json_str_or_null(f, r->fleet_op != 0 ? hm_audit_op_name(r->fleet_op) : NULL);
	if (r->fleet_time_ms > 0) {
		ctl_rfc3339_ms(r->fleet_time_ms, when);
		fprintf(f, ",\"time\":\"%s\",\"time_ms\":%" PRId64, when, r->fleet_time_ms);
	} else {
		fprintf(f, ",\"time\":null,\"time_ms\":null");
	}
	fprintf(f, ",\"operator_known\":%s,\"applied_by\":", v->who != NULL ? "true" : "false");
	json_str_or_null(f, v->applied_by);
	fputc('}', f);
}

static int audit_row(const struct hm_audit_rec *r, void *arg)
{
	struct list_out *lo = arg;
	struct view v = view_of(r);
	char when[32], who[HM_AUDIT_NAME_MAX * 2 + 40];
	char detail[HM_AUDIT_DETAIL_MAX + HM_AUDIT_HOST_MAX + 48];

	ctl_list_next(lo);
	ctl_rfc3339_ms(r->time_ms, when);
	if (!lo->json) {
		operator_text(v.who, who, sizeof(who));
		detail_text(r, &v, detail, sizeof(detail));
		fprintf(lo->f,
			"%6" PRIu64 " %-24s %-12s %-20s %-20s %5" PRIu32 " %-36s %-24s %-16s %s\n",
			r->seq, when, hm_audit_op_name(r->op), dash(r->tenant),
			dash(r->container), r->epoch, dash(r->keyid), who,
			v.who != NULL ? dash(v.who->host) : "-", detail);
		return 0;
	}
	fprintf(lo->f, "{\"seq\":%" PRIu64 ",\"time\":\"%s\",\"time_ms\":%" PRId64 ",\"op\":",
		r->seq, when, r->time_ms);
	ctl_json_str(lo->f, hm_audit_op_name(r->op));
	fprintf(lo->f, ",\"tenant\":");
	ctl_json_str(lo->f, r->tenant);
	fprintf(lo->f, ",\"container\":");
	ctl_json_str(lo->f, r->container);
	fprintf(lo->f, ",\"epoch\":%" PRIu32 ",\"keyid\":", r->epoch);
	ctl_json_str(lo->f, r->keyid);
	json_operator(lo->f, v.who);
	fprintf(lo->f, ",\"detail\":");
	ctl_json_str(lo->f, r->detail);
	json_fleet(lo->f, r, &v);
	fputc('}', lo->f);
	return 0;
}

/* The audit trail is a host's: with a fleet and no --db, say where it is. */
static int need_db(const struct ctl *c, const struct cmd *self)
{
	if (c->opt[OPT_DB] == NULL && ctl_fleet_url(c) != NULL)
		return ctl_usage_error("audit", self, "%s",
				       "the audit trail is kept in each host's store: give --db "
				       "DIR (a fleet host's store records the fleet changes its "
				       "hmacd applied)");
	return CTL_OK;
}

int cmd_audit_list(const struct ctl *c, const struct cmd *self)
{
	struct list_out lo = { .json = c->opt[OPT_JSON] != NULL };
	struct hm_keystore *ks = NULL;
	int64_t since = INT64_MIN;
	int rc, status;

	if (c->opt[OPT_SINCE] != NULL && !ctl_parse_time(c->opt[OPT_SINCE], &since))
		return ctl_usage_error("audit", self, "%s",
				       "--since wants RFC 3339 (2026-12-06T10:00:00Z) or unix "
				       "seconds");
	status = need_db(c, self);
	if (status != CTL_OK)
		return status;
	status = ctl_open_store(c, self, "audit", 0, &ks, NULL);
	if (status != CTL_OK)
		return status;
	status = ctl_list_begin(&lo, "audit list", "[",
				"%6s %-24s %-12s %-20s %-20s %5s %-36s %-24s %-16s %s\n", "SEQ",
				"TIME", "OPERATION", "TENANT", "CONTAINER", "EPOCH", "KEYID",
				"OPERATOR", "HOST", "DETAIL");
	if (status == CTL_OK) {
		rc = hm_ks_audit_list(ks, c->opt[OPT_TENANT], since, audit_row, &lo);
		status = ctl_store_status(ks, "audit list", rc, NULL);
	}
	hm_ks_close(ks);
	return ctl_list_end(&lo, status);
}

int cmd_audit_prune(const struct ctl *c, const struct cmd *self)
{
	struct hm_keystore *ks = NULL;
	uint64_t removed = 0;
	int64_t before = 0;
	char when[32];
	int rc, status;

	if (!ctl_parse_time(c->opt[OPT_BEFORE], &before))
		return ctl_usage_error("audit", self, "%s",
				       "--before wants RFC 3339 (2026-12-06T10:00:00Z) or unix "
				       "seconds");
	status = need_db(c, self);
	if (status != CTL_OK)
		return status;
	status = ctl_open_store(c, self, "audit", 0, &ks, NULL);
	if (status != CTL_OK)
		return status;
	rc = hm_ks_audit_prune(ks, before, &removed);
	status = ctl_store_status(ks, "audit prune", rc, NULL);
	if (status == CTL_OK) {
		ctl_audit_syslog(c, ks);
		ctl_rfc3339_ms(before, when);
		if (c->opt[OPT_JSON] != NULL)
			printf("{\"removed\":%" PRIu64 ",\"before\":\"%s\"}\n", removed, when);
		else
			printf("removed %" PRIu64 " audit records before %s\n", removed, when);
	}
	hm_ks_close(ks);
	return status;
}

int64_t ctl_now_ms(void)
{
	struct timespec ts = { 0, 0 };

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || ts.tv_sec < 0)
		return 0; /* only ever shown, never stored */
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ctl_audit_syslog_rec(const struct hm_audit_rec *r, bool stored)
{
	char when[32], seq[24];

	ctl_rfc3339_ms(r->time_ms, when);
	if (stored)
		snprintf(seq, sizeof(seq), "%" PRIu64, r->seq);
	else
		snprintf(seq, sizeof(seq), "-");
	/* every field is printable ASCII (audit.h, lex.h); none is a secret */
	openlog("hmacctl", LOG_PID, LOG_AUTHPRIV);
	syslog(LOG_AUTHPRIV | LOG_NOTICE,
	       "audit seq=%s time=%s op=%s tenant=%s container=%s epoch=%" PRIu32
	       " keyid=%s uid=%" PRIu32 " user=%s sudo_user=%s host=%s detail=\"%s\"",
	       seq, when, hm_audit_op_name(r->op), dash(r->tenant), dash(r->container), r->epoch,
	       dash(r->keyid), r->actor.uid, dash(r->actor.user), dash(r->actor.sudo_user),
	       dash(r->actor.host), r->detail);
	closelog();
}

void ctl_audit_syslog(const struct ctl *c, struct hm_keystore *ks)
{
	struct hm_audit_rec r;

	if (c->opt[OPT_AUDIT_SYSLOG] == NULL || hm_ks_audit_last(ks, &r) != HM_OK)
		return;
	ctl_audit_syslog_rec(&r, true);
}
