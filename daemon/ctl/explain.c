/*
 * explain.c - hmacctl explain: why hmacd refused a captured request (PROTOCOL.md 17).
 *
 * The capture (capture.c) becomes the verify item the middleware sent; the item is judged by
 * the verify engine itself (engine/verify.h) on the local store, at the capture's time, so
 * explain and the daemon cannot disagree about a verdict. The engine says only the verdict
 * (and, before any key, why); explain then shows what the verdict was decided on, all of it
 * public: the canonical string or signature base (and its SHA-256), the policy, the key's
 * state from the store's metadata, the clock. It never computes a MAC itself and never prints
 * one: the expected MAC would let whoever reads the output forge the request.
 *
 * What it cannot know: the daemon's nonce cache (a nonce it already accepted is REPLAY; explain
 * judges with an empty cache), its --policy-* defaults (it uses the built-in default policy;
 * stored policies are read from the store) and its --skew (give the same with --skew).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "engine/replay.h"
#include "engine/rfc9421.h"
#include "engine/verify.h"
#include "proto/lex.h"
#include "proto/sign.h"
#include "proto/verdict.h"
#include "store/keystore.h"
#include "ctl/capture.h"
#include "ctl/ctl.h"

#define EXPLAIN_REFUSED 1 /* exit status: hmacd (or the middleware) would refuse it */

/* The checks in the daemon's order (PROTOCOL.md 9, 16.2). */
enum check { CK_READING, CK_COVERAGE, CK_KEY, CK_SIGNATURE, CK_CLOCK, CK_NONCE, CK__COUNT };
static const char *const check_names[CK__COUNT] = {
	"reading", "coverage", "key", "signature", "clock", "nonce",
};

static enum check check_of(enum hm_verdict v)
{
	switch (v) {
	case HM_V_MALFORMED:
		return CK_READING;
	case HM_V_INSUFFICIENT_COVERAGE:
		return CK_COVERAGE;
	case HM_V_UNKNOWN_KEY:
	case HM_V_KEY_REVOKED:
	case HM_V_KEY_EXPIRED:
		return CK_KEY;
	case HM_V_BAD_SIGNATURE:
		return CK_SIGNATURE;
	case HM_V_STALE_TIMESTAMP:
		return CK_CLOCK;
	case HM_V_REPLAY:
	case HM_V_UNAVAILABLE:
		return CK_NONCE;
	case HM_V_OK:
	default:
		return CK__COUNT;
	}
}

/* What explain found, printed at the end in one piece. */
struct explain {
	const struct capture *cap;
	const struct hm_item *it;
	int64_t now;
	const char *now_from; /* "captured_at" or "--now" */
	int64_t skew;
	char tenant[HM_SCOPE_MAX + 1];
	/* the policy that applies */
	bool have_policy;
	struct hm_policy pol;
	enum hm_policy_source src;
	/* the key: hmacd-v1 by epoch, rfc9421 by key id */
	char keyid[HM_KEYID_MAX + 1];
	bool key_found;
	struct hm_key_info key;
	/* what the MAC is computed over */
	uint8_t *msg;
	size_t msg_len;
	bool have_check; /* rfc9421: the public half was read */
	struct hm_rfc_check rc;
	/* the outcome */
	bool judged;
	enum hm_verdict verdict;
	const char *refused_by; /* the middleware's own 401, before hmacd: why */
	const char *reason;     /* the engine's, before any key */
	char fault[256];        /* the engine could not judge */
	char hint[2048];
};

/* ---- the key's metadata (never its secret) ---- */

static int find_key(const struct hm_key_info *info, void *arg)
{
	struct explain *e = arg;
	const struct hm_item *it = e->it;

	if (it->scheme == HM_SCHEME_RFC9421) {
		if (strcmp(info->keyid, e->keyid) != 0)
			return 0;
	} else if (!hm_lex_is(it->container.ptr, it->container.len, info->container) ||
		   info->epoch != it->v1.epoch) {
		return 0;
	}
	e->key = *info;
	e->key_found = true;
	return 1; /* found: stop the walk */
}

static bool key_in_scope(const struct explain *e)
{
	return e->key_found && strcmp(e->key.tenant, e->tenant) == 0 &&
	       hm_lex_is(e->it->container.ptr, e->it->container.len, e->key.container);
}

static void key_words(const struct explain *e, char *out, size_t cap)
{
	const struct hm_key_info *k = &e->key;
	const char *container = e->cap->container;

	if (!e->key_found && e->it->scheme == HM_SCHEME_RFC9421) {
		snprintf(out, cap, "key id %s is not a key of %s/%s", e->keyid, e->tenant,
			 container);
	} else if (!e->key_found) {
		snprintf(out, cap, "no epoch %" PRIu64 " in %s/%s", e->it->v1.epoch, e->tenant,
			 container);
	} else if (!key_in_scope(e)) {
		/* the daemon never says where else a key id lives, and neither does this output,
		 * which may be handed to the signer: `key list` tells the admin */
		snprintf(out, cap, "key id %s is not a key of %s/%s", k->keyid, e->tenant,
			 container);
	} else if (k->state == HM_KEY_REVOKED) {
		snprintf(out, cap, "epoch %u (key id %s) of %s/%s is revoked", k->epoch, k->keyid,
			 k->tenant, k->container);
	} else if (k->state == HM_KEY_SUPERSEDED && e->now >= k->deadline) {
		snprintf(out, cap, "epoch %u (key id %s) of %s/%s was superseded; its grace ended "
			 "at %" PRId64 ", %" PRId64 " s before %s", k->epoch, k->keyid, k->tenant,
			 k->container, k->deadline, e->now - k->deadline, e->now_from);
	} else if (k->state == HM_KEY_SUPERSEDED) {
		snprintf(out, cap, "epoch %u (key id %s) of %s/%s is superseded, in grace until "
			 "%" PRId64, k->epoch, k->keyid, k->tenant, k->container, k->deadline);
	} else {
		snprintf(out, cap, "epoch %u (key id %s) of %s/%s is current", k->epoch, k->keyid,
			 k->tenant, k->container);
	}
}

/* The key's state as one word: current, superseded (in grace), expired, revoked, unknown. */
static const char *key_state(const struct explain *e)
{
	if (!key_in_scope(e))
		return "unknown";
	if (e->key.state == HM_KEY_SUPERSEDED)
		return e->now >= e->key.deadline ? "expired" : "superseded";
	return hm_key_state_name(e->key.state);
}

/* ---- the hint: why the first failing check failed ---- */

/* The covered components of an rfc9421 signature: the inner list of its @signature-params. */
static void covered_list(const struct explain *e, char *out, size_t cap)
{
	static const char tag[] = "\"@signature-params\": ";
	const char *p = NULL, *end;
	size_t n;

	snprintf(out, cap, "(unknown)");
	for (size_t i = 0; e->msg != NULL && i + sizeof(tag) - 1 <= e->msg_len; i++) {
		if ((i == 0 || e->msg[i - 1] == '\n') &&
		    memcmp(e->msg + i, tag, sizeof(tag) - 1) == 0)
			p = (const char *)e->msg + i + sizeof(tag) - 1;
	}
	if (p == NULL)
		return;
	end = memchr(p, ')', (size_t)((const char *)e->msg + e->msg_len - p));
	if (end == NULL)
		return;
	n = (size_t)(end - p) + 1;
	snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
}

static void policy_list(const struct hm_policy *p, char *out, size_t cap)
{
	size_t len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < p->ncomponents && len < cap; i++) {
		char comp[HM_POLICY_COMPONENT_MAX + 1];

		if (hm_policy_component_render(p->components[i], comp, sizeof(comp)) != HM_OK)
			snprintf(comp, sizeof(comp), "%s", p->components[i]);
		len += (size_t)snprintf(out + len, cap - len, "%s%s", i > 0 ? " " : "", comp);
	}
}

static void hint_coverage(struct explain *e)
{
	const struct hm_item *it = e->it;
	char req[512], cov[512];

	_Static_assert(sizeof(e->hint) > 1024 + 64, "room for both lists");

	if (it->scheme == HM_SCHEME_RFC9421) {
		policy_list(&e->pol, req, sizeof(req));
		covered_list(e, cov, sizeof(cov));
		snprintf(e->hint, sizeof(e->hint), "%s; the policy requires %s%s%s%s%s; "
			 "Signature-Input covers %s", e->reason != NULL ? e->reason : "coverage",
			 req, e->pol.require_created ? ", created" : "",
			 e->pol.require_nonce ? ", nonce" : "",
			 e->pol.digest_when_body ? ", content-digest with a body" : "",
			 e->pol.query_when_present ? ", @query with a query" : "", cov);
		return;
	}
	if (e->pol.v1_nonce && it->v1.nonce.len == 0) {
		snprintf(e->hint, sizeof(e->hint), "the policy requires a nonce and the "
			 "Authorization header has no Nonce");
		return;
	}
	for (size_t i = 0; i < e->pol.v1_nheaders; i++) {
		bool found = false;

		for (size_t j = 0; j < it->nheaders && !found; j++)
			found = hm_lex_is(it->headers[j].name.ptr, it->headers[j].name.len,
					  e->pol.v1_headers[i]);
		if (!found) {
			snprintf(e->hint, sizeof(e->hint), "the policy requires the signed header "
				 "%s; SignedHeaders does not name it", e->pol.v1_headers[i]);
			return;
		}
	}
	snprintf(e->hint, sizeof(e->hint), "%s", e->reason != NULL ? e->reason : "coverage");
}

static void hint_clock(struct explain *e)
{
	int64_t d;

	if (e->it->scheme == HM_SCHEME_HMACD_V1) {
		d = e->it->v1.ts > (uint64_t)INT64_MAX / 2 ? INT64_MAX / 2 : (int64_t)e->it->v1.ts;
		d = e->now - d;
		snprintf(e->hint, sizeof(e->hint), "the timestamp is %" PRId64 " s %s %s; the "
			 "allowed skew is %" PRId64 " s", d < 0 ? -d : d,
			 d < 0 ? "after" : "before", e->now_from, e->skew);
	} else if (e->rc.has_expires && e->rc.expires <= e->now) {
		snprintf(e->hint, sizeof(e->hint), "expires (%" PRId64 ") is not after %s (%"
			 PRId64 ")", e->rc.expires, e->now_from, e->now);
	} else {
		d = e->now - e->rc.created;
		snprintf(e->hint, sizeof(e->hint), "created is %" PRId64 " s %s %s; the allowed "
			 "skew is %" PRId64 " s", d < 0 ? -d : d, d < 0 ? "after" : "before",
			 e->now_from, e->skew);
	}
}

static void hint(struct explain *e)
{
	char key[1024];
	bool rfc = e->it->scheme == HM_SCHEME_RFC9421;

	key_words(e, key, sizeof(key));
	switch (e->verdict) {
	case HM_V_OK:
		snprintf(e->hint, sizeof(e->hint), "hmacd would answer OK%s",
			 (rfc ? e->rc.nonce.len : e->it->v1.nonce.len) > 0
				 ? " (unless it already accepted this nonce: then REPLAY)"
				 : "");
		break;
	case HM_V_MALFORMED:
		snprintf(e->hint, sizeof(e->hint), "%s",
			 e->reason != NULL ? e->reason : "the item breaks a rule of PROTOCOL.md 7");
		break;
	case HM_V_INSUFFICIENT_COVERAGE:
		hint_coverage(e);
		break;
	case HM_V_UNKNOWN_KEY:
	case HM_V_KEY_REVOKED:
	case HM_V_KEY_EXPIRED:
		snprintf(e->hint, sizeof(e->hint), "%s", key);
		break;
	case HM_V_BAD_SIGNATURE:
		if (rfc && e->have_check && e->rc.digest == HM_RFC_DIGEST_MISMATCH)
			snprintf(e->hint, sizeof(e->hint), "Content-Digest does not match the "
				 "body's digest (body_sha256 / body_sha512 of the capture)");
		else if (rfc)
			snprintf(e->hint, sizeof(e->hint), "the signature does not match what the "
				 "key %s produces over the signature base above: compare the "
				 "signature base with the one your signer built", e->keyid);
		else
			snprintf(e->hint, sizeof(e->hint), "the signature does not match what the "
				 "key for epoch %" PRIu64 " produces over the canonical string "
				 "above: compare the canonical string with the one your signer "
				 "built", e->it->v1.epoch);
		break;
	case HM_V_STALE_TIMESTAMP:
		hint_clock(e);
		break;
	case HM_V_REPLAY:
	case HM_V_UNAVAILABLE:
	default:
		snprintf(e->hint, sizeof(e->hint), "the nonce step refused it");
		break;
	}
}

/* ---- judging: the engine itself ---- */

static int judge(struct explain *e, struct hm_keystore *ks)
{
	struct hm_verify_config cfg;
	struct hm_ks_reader *rd = NULL;
	struct hm_replay *replay = NULL;
	struct hm_verifier *v = NULL;
	int rc;

	memset(&cfg, 0, sizeof(cfg));
	cfg.skew = e->skew;
	cfg.nonces_since = 0; /* an empty nonce cache that misses nothing */
	cfg.key_cache = 16;
	cfg.max_canonical = CAP_FILE_MAX + 4096;
	hm_policy_default(&cfg.default_policy);
	rc = hm_ks_reader_new(ks, &rd);
	if (rc == HM_OK)
		rc = hm_replay_new(64, &replay);
	if (rc == HM_OK)
		rc = hm_verifier_new(&cfg, rd, replay, &v);
	if (rc != HM_OK) {
		snprintf(e->fault, sizeof(e->fault), "starting the verify engine: %s",
			 hm_strerror(rc));
		goto out;
	}
	rc = hm_verify_begin(v, e->now);
	if (rc != HM_OK) {
		snprintf(e->fault, sizeof(e->fault), "%s", hm_verify_fault(v));
		goto out;
	}
	e->verdict = hm_verify_item(v, e->it);
	e->reason = hm_verify_reason(v); /* a static sentence: valid after the verifier */
	rc = hm_verify_end(v);
	if (rc != HM_OK)
		snprintf(e->fault, sizeof(e->fault), "%s", hm_verify_fault(v));
	else
		e->judged = true;
out:
	hm_verifier_free(v);
	hm_replay_free(replay);
	hm_ks_reader_free(rd);
	return rc;
}

/* What the MAC is computed over: the canonical string, or the public half of an rfc9421 item. */
static int build_message(struct explain *e)
{
	struct hm_rfc_scratch *s = NULL;
	struct hm_digest_ctx *dctx = NULL;
	size_t cap = 2 * CAP_FILE_MAX + 4096;
	int rc;

	if (e->it->scheme == HM_SCHEME_HMACD_V1)
		return hm_canon_alloc(e->it, &e->msg, &e->msg_len);
	s = malloc(sizeof(*s));
	e->msg = malloc(cap);
	if (s == NULL || e->msg == NULL) {
		rc = HM_ENOMEM;
		goto out;
	}
	rc = hm_digest_ctx_new(&dctx);
	if (rc != HM_OK)
		goto out;
	switch (hm_rfc9421_read(e->it, &e->pol, s, dctx, e->msg, cap, &e->rc)) {
	case HM_RFC_READY:
	case HM_RFC_COVERAGE:
		e->have_check = true;
		break;
	default:
		break;
	}
	e->msg_len = e->rc.base_len;
	/* the key id, for the key's state (a String's raw bytes: key ids need no escapes) */
	if (e->rc.keyid.len > 0 && e->rc.keyid.len <= HM_KEYID_MAX)
		snprintf(e->keyid, sizeof(e->keyid), "%.*s", (int)e->rc.keyid.len,
			 (const char *)e->rc.keyid.ptr);
	rc = HM_OK;
out:
	hm_digest_ctx_free(dctx);
	free(s);
	return rc;
}

/* ---- output ---- */

/* Bytes as a JSON string: '"', '\\' and every byte outside 0x20..0x7e as \u00XX. */
static void json_bytes(FILE *f, const uint8_t *p, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '"' || p[i] == '\\')
			fprintf(f, "\\%c", p[i]);
		else if (p[i] == '\n')
			fputs("\\n", f);
		else if (p[i] < 0x20 || p[i] > 0x7e)
			fprintf(f, "\\u%04x", p[i]);
		else
			fputc(p[i], f);
	}
	fputc('"', f);
}

/* Bytes on one line: '\\' as \\, every byte outside 0x20..0x7e as \xHH (no terminal escapes). */
static void text_inline(FILE *f, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '\\')
			fputs("\\\\", f);
		else if (*p < 0x20 || *p > 0x7e)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
}

/* Bytes as indented text lines: each LF shown as \n, '\\' as \\, other bytes as \xHH. */
static void text_lines(FILE *f, const uint8_t *p, size_t n)
{
	fputs("    ", f);
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n')
			fputs(i + 1 < n ? "\\n\n    " : "\\n", f);
		else if (p[i] == '\\')
			fputs("\\\\", f);
		else if (p[i] < 0x20 || p[i] > 0x7e)
			fprintf(f, "\\x%02x", p[i]);
		else
			fputc(p[i], f);
	}
	fputc('\n', f);
}

static void sha256_hex(const uint8_t *p, size_t n, char out[2 * HM_SHA256_LEN + 1])
{
	uint8_t d[HM_SHA256_LEN];
	unsigned int len = 0;

	out[0] = '\0';
	if (EVP_Digest(p, n, d, &len, EVP_sha256(), NULL) != 1 || len != HM_SHA256_LEN)
		return;
	for (size_t i = 0; i < HM_SHA256_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* What became of check i: passed, failed, not reached after the failure, or not made. */
static const char *check_result(const struct explain *e, enum check i, bool json)
{
	enum check failed = check_of(e->verdict);

	if (!e->judged)
		return json ? "unknown" : "cannot tell";
	if (failed == i)
		return json ? "failed" : "FAILED";
	if (failed < i)
		return json ? "not_reached" : "not reached";
	if (i == CK_NONCE) /* an empty cache of explain's own, not the daemon's */
		return json ? "not_checked" : "not checked (hmacd's nonce cache)";
	return "ok";
}

static void print_text(FILE *f, const struct explain *e)
{
	const struct hm_item *it = e->it;
	char key[1024], digest[2 * HM_SHA256_LEN + 1];

	fputs("request:  ", f);
	text_inline(f, e->cap->method);
	fputc(' ', f);
	text_inline(f, e->cap->path);
	fprintf(f, " (%s)\n", it->scheme == HM_SCHEME_RFC9421 ? "rfc9421" : "hmacd-v1");
	fprintf(f, "scope:    %s/%s\n", e->tenant, e->cap->container);
	fprintf(f, "time:     %" PRId64 " (%s); skew %" PRId64 " s\n", e->now, e->now_from,
		e->skew);
	if (e->refused_by != NULL) {
		fprintf(f, "verdict:  none: the middleware answers 401 before asking hmacd\n"
			   "hint:     %s\n", e->refused_by);
		return;
	}
	if (e->have_policy) {
		fputc('\n', f);
		ctl_policy_print(f, false, false, e->tenant, e->cap->container, e->src, &e->pol);
	}
	if (it->scheme == HM_SCHEME_HMACD_V1 || e->keyid[0] != '\0') {
		key_words(e, key, sizeof(key));
		fprintf(f, "\nkey:      %s\n", key);
	}
	if (e->msg != NULL && e->msg_len > 0) {
		sha256_hex(e->msg, e->msg_len, digest);
		fprintf(f, "\n%s (%zu bytes, SHA-256 %s):\n",
			it->scheme == HM_SCHEME_RFC9421 ? "signature base" : "canonical string",
			e->msg_len, digest);
		text_lines(f, e->msg, e->msg_len);
	}
	fprintf(f, "\nchecks, in hmacd's order:\n");
	for (int i = 0; i < CK__COUNT; i++)
		fprintf(f, "  %-10s %s\n", check_names[i], check_result(e, (enum check)i, false));
	if (!e->judged) {
		fprintf(f, "\nverdict:  cannot tell: %s\n", e->fault);
		return;
	}
	fprintf(f, "\nverdict:  %s\nhint:     %s\n", hm_verdict_name(e->verdict), e->hint);
	if (e->cap->verdict != NULL && strcmp(e->cap->verdict, hm_verdict_name(e->verdict)) != 0)
		fprintf(f, "note:     the capture says hmacd answered %s: the store, the policy, "
			   "the daemon's --skew or --policy-* options, or its nonce cache differ\n",
			e->cap->verdict);
}

static void print_json(FILE *f, const struct explain *e)
{
	const struct hm_item *it = e->it;
	char key[1024], digest[2 * HM_SHA256_LEN + 1];

	fprintf(f, "\"scheme\":\"%s\",\"tenant\":",
		it->scheme == HM_SCHEME_RFC9421 ? "rfc9421" : "hmacd-v1");
	ctl_json_str(f, e->tenant);
	fprintf(f, ",\"container\":");
	ctl_json_str(f, e->cap->container);
	fprintf(f, ",\"now\":%" PRId64 ",\"now_from\":\"%s\",\"skew\":%" PRId64, e->now,
		e->now_from, e->skew);
	if (e->refused_by != NULL) {
		fprintf(f, ",\"verdict\":null,\"check\":\"middleware\",\"hint\":");
		ctl_json_str(f, e->refused_by);
		return;
	}
	fprintf(f, ",\"policy\":");
	if (e->have_policy)
		ctl_policy_print(f, true, false, e->tenant, e->cap->container, e->src, &e->pol);
	else
		fprintf(f, "null");
	fprintf(f, ",\"key\":");
	if (it->scheme == HM_SCHEME_HMACD_V1 || e->keyid[0] != '\0') {
		key_words(e, key, sizeof(key));
		fprintf(f, "{\"state\":\"%s\"", key_state(e));
		if (key_in_scope(e)) {
			fprintf(f, ",\"epoch\":%u,\"keyid\":", e->key.epoch);
			ctl_json_str(f, e->key.keyid);
			fprintf(f, ",\"deadline\":%" PRId64, e->key.deadline);
		}
		fprintf(f, ",\"text\":");
		ctl_json_str(f, key);
		fputc('}', f);
	} else {
		fprintf(f, "null");
	}
	if (e->msg != NULL && e->msg_len > 0) {
		sha256_hex(e->msg, e->msg_len, digest);
		fprintf(f, ",\"%s\":", it->scheme == HM_SCHEME_RFC9421 ? "signature_base"
								      : "canonical");
		json_bytes(f, e->msg, e->msg_len);
		fprintf(f, ",\"sha256\":\"%s\"", digest);
	}
	if (!e->judged) {
		fprintf(f, ",\"verdict\":null,\"check\":null,\"hint\":");
		ctl_json_str(f, e->fault);
		return;
	}
	fprintf(f, ",\"checks\":{");
	for (int i = 0; i < CK__COUNT; i++)
		fprintf(f, "%s\"%s\":\"%s\"", i > 0 ? "," : "", check_names[i],
			check_result(e, (enum check)i, true));
	fprintf(f, "},\"verdict\":\"%s\",\"check\":", hm_verdict_name(e->verdict));
	if (check_of(e->verdict) == CK__COUNT)
		fprintf(f, "null");
	else
		fprintf(f, "\"%s\"", check_names[check_of(e->verdict)]);
	fprintf(f, ",\"hint\":");
	ctl_json_str(f, e->hint);
	fprintf(f, ",\"captured_verdict\":");
	if (e->cap->verdict != NULL)
		ctl_json_str(f, e->cap->verdict);
	else
		fprintf(f, "null");
}

/* ---- the command ---- */

static int options(const struct ctl *c, const struct cmd *self, struct explain *e)
{
	uint64_t v;

	/* a fleet's key store is in Redis, sealed; each host keeps a local mirror in its --db */
	if (c->opt[OPT_FLEET] != NULL)
		return ctl_usage_error(NULL, self, "%s", "explain reads a local store: give "
				       "--db DIR (on a fleet host, the mirror hmacd keeps there)");
	e->skew = 300;
	if (c->opt[OPT_SKEW] != NULL) {
		if (!ctl_parse_u64(c->opt[OPT_SKEW], 1, 86400, &v))
			return ctl_usage_error(NULL, self, "%s", "--skew must be 1..86400");
		e->skew = (int64_t)v;
	}
	if (c->opt[OPT_NOW] != NULL) {
		if (!ctl_parse_u64(c->opt[OPT_NOW], 0, (uint64_t)1 << 40, &v))
			return ctl_usage_error(NULL, self, "%s", "--now must be unix seconds");
		e->now = (int64_t)v;
		e->now_from = "--now";
	}
	return CTL_OK;
}

int cmd_explain(const struct ctl *c, const struct cmd *self)
{
	struct explain e;
	struct capture *cap = NULL;
	struct hm_item *it = NULL;
	struct capture_v1 v1;
	struct hm_keystore *ks = NULL;
	struct list_out lo;
	char *joined[2] = {NULL, NULL};
	const char *why = NULL;
	int rc, status;

	memset(&e, 0, sizeof(e));
	memset(&v1, 0, sizeof(v1));
	memset(&lo, 0, sizeof(lo));
	e.now_from = "captured_at";
	status = options(c, self, &e);
	if (status != CTL_OK)
		return status;
	cap = malloc(sizeof(*cap));
	it = malloc(sizeof(*it));
	if (cap == NULL || it == NULL) {
		fprintf(stderr, "hmacctl: explain: out of memory\n");
		status = CTL_ERR;
		goto out;
	}
	status = capture_read(c->opt[OPT_REQUEST], cap);
	if (status != CTL_OK)
		goto out;
	e.cap = cap;
	e.it = it;
	if (e.now_from[0] == 'c')
		e.now = cap->captured_at;
	rc = capture_item(cap, it, &v1, joined, &why);
	if (rc == HM_ENOMEM) {
		fprintf(stderr, "hmacctl: explain: out of memory\n");
		status = CTL_ERR;
		goto out;
	}
	snprintf(e.tenant, sizeof(e.tenant), "%.*s", (int)it->tenant.len,
		 it->tenant.len > 0 ? (const char *)it->tenant.ptr : "");
	if (rc != HM_OK) {
		if (cap->tenant != NULL && e.tenant[0] == '\0')
			snprintf(e.tenant, sizeof(e.tenant), "%s", cap->tenant);
		e.refused_by = why;
	} else if (hm_item_check(it) != HM_OK) {
		e.judged = true;
		e.verdict = HM_V_MALFORMED;
		snprintf(e.hint, sizeof(e.hint), "the item breaks a rule of PROTOCOL.md section 7 "
			 "(a field's length or characters)");
	} else {
		status = ctl_open_store(c, self, NULL, 0, &ks, NULL);
		if (status != CTL_OK)
			goto out;
		rc = hm_ks_policy_get(ks, e.tenant, cap->container, &e.pol, &e.src);
		e.have_policy = rc == HM_OK;
		rc = build_message(&e);
		if (rc != HM_OK) {
			fprintf(stderr, "hmacctl: explain: %s\n", hm_strerror(rc));
			status = CTL_ERR;
			goto out;
		}
		/* the scope's tenant only: a key id of another tenant is not its business */
		rc = hm_ks_list(ks, e.tenant, find_key, &e);
		if (rc != HM_OK && rc != 1) {
			status = ctl_store_status(ks, "explain: key list", rc, NULL);
			goto out;
		}
		if (judge(&e, ks) == HM_OK)
			hint(&e);
	}
	lo.json = c->opt[OPT_JSON] != NULL;
	status = ctl_list_begin(&lo, "explain", "{", NULL);
	if (status == CTL_OK) {
		if (lo.json)
			print_json(lo.f, &e);
		else
			print_text(lo.f, &e);
	}
	status = ctl_list_end(&lo, status);
	if (status == CTL_OK && !(e.judged && e.verdict == HM_V_OK))
		status = EXPLAIN_REFUSED;
out:
	free(e.msg);
	capture_item_free(&v1, joined);
	if (cap != NULL)
		capture_free(cap);
	free(cap);
	free(it);
	hm_ks_close(ks);
	return status;
}
