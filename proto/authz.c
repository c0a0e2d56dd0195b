/*
 * authz.c - the hmacd-v1 Authorization header (authz.h).
 *
 * One pass over the parameters, split at ','; each is trimmed of spaces, cut at its first '='
 * and judged by name. Nothing is copied: the spans point into the caller's bytes.
 */
#include "proto/authz.h"

#include <string.h>

#include "proto/b64.h"
#include "proto/lex.h"

enum { P_TENANT, P_EPOCH, P_TS, P_NONCE, P_HEADERS, P_SIG, P__COUNT };

static const char *const names[P__COUNT] = {
	[P_TENANT] = "Tenant",   [P_EPOCH] = "Epoch",	      [P_TS] = "Timestamp",
	[P_NONCE] = "Nonce",     [P_HEADERS] = "SignedHeaders", [P_SIG] = "Signature",
};

/* ASCII decimal, no sign, no leading zero, at most 2^64-1. */
static bool decimal(const uint8_t *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || (n > 1 && p[0] == '0'))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned d;

		if (p[i] < '0' || p[i] > '9')
			return false;
		d = (unsigned)(p[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

static bool nonce_ok(const uint8_t *p, size_t n)
{
	if (n == 0 || n > HM_NONCE_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '~' || c == '-'))
			return false;
	}
	return true;
}

/* SignedHeaders: empty, or lower-case tchar names separated by single ';'. */
static bool headers_ok(const uint8_t *p, size_t n, struct hm_authz *out)
{
	size_t start = 0;

	out->nheaders = 0;
	if (n == 0)
		return true;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && p[i] != ';')
			continue;
		if (out->nheaders == HM_MAX_HEADERS || !hm_lex_token(p + start, i - start, SIZE_MAX,
								     true))
			return false;
		out->headers[out->nheaders].ptr = p + start;
		out->headers[out->nheaders].len = i - start;
		out->nheaders++;
		start = i + 1;
	}
	return true;
}

static bool sig_ok(const uint8_t *p, size_t n, uint8_t sig[static HM_MAC_LEN])
{
	size_t got = 0;

	/* 44 characters: exactly the padded form (the decoder alone would take it unpadded) */
	if (n != HM_B64_LEN(HM_MAC_LEN) || p[n - 1] != '=')
		return false;
	return hm_b64_decode_ct((const char *)p, n, sig, HM_MAC_LEN, &got) == HM_OK &&
	       got == HM_MAC_LEN;
}

static int refuse(struct hm_authz *out, const char **why, const char *what)
{
	memset(out, 0, sizeof(*out));
	if (why != NULL)
		*why = what;
	return HM_EMALFORMED;
}

int hm_authz_parse(const uint8_t *v, size_t len, struct hm_authz *out, const char **why)
{
	static const char scheme[] = HM_AUTHZ_SCHEME " ";
	const size_t slen = sizeof(scheme) - 1;
	bool seen[P__COUNT] = {false};
	size_t i, start;

	memset(out, 0, sizeof(*out));
	if (why != NULL)
		*why = NULL;
	if (len < slen || memcmp(v, scheme, slen) != 0)
		return refuse(out, why, "the scheme (HMACD-V1 and one space)");
	/* spaces only around the commas: not after the scheme's one space, not at the end */
	if (len == slen || v[slen] == ' ' || v[len - 1] == ' ')
		return refuse(out, why, "the spacing");
	start = slen;
	for (i = slen; i <= len; i++) {
		const uint8_t *p, *eq, *val;
		size_t n, vn;
		int k;

		if (i < len && v[i] != ',')
			continue;
		p = v + start;
		n = i - start;
		start = i + 1;
		while (n > 0 && p[0] == ' ') {
			p++;
			n--;
		}
		while (n > 0 && p[n - 1] == ' ')
			n--;
		eq = memchr(p, '=', n);
		if (eq == NULL || eq == p)
			return refuse(out, why, "a parameter that is not Name=value");
		val = eq + 1;
		vn = n - (size_t)(val - p);
		for (k = 0; k < P__COUNT; k++) {
			if (strlen(names[k]) == (size_t)(eq - p) &&
			    memcmp(names[k], p, (size_t)(eq - p)) == 0)
				break;
		}
		if (k == P__COUNT)
			return refuse(out, why, "an unknown parameter");
		if (seen[k])
			return refuse(out, why, "a repeated parameter");
		seen[k] = true;
		switch (k) {
		case P_TENANT:
			if (!hm_lex_scope(val, vn))
				return refuse(out, why, "Tenant");
			out->tenant.ptr = val;
			out->tenant.len = vn;
			break;
		case P_EPOCH:
			if (!decimal(val, vn, &out->epoch) || out->epoch == 0)
				return refuse(out, why, "Epoch");
			break;
		case P_TS:
			if (!decimal(val, vn, &out->ts))
				return refuse(out, why, "Timestamp");
			break;
		case P_NONCE:
			if (!nonce_ok(val, vn))
				return refuse(out, why, "Nonce");
			out->nonce.ptr = val;
			out->nonce.len = vn;
			break;
		case P_HEADERS:
			if (!headers_ok(val, vn, out))
				return refuse(out, why, "SignedHeaders");
			break;
		case P_SIG:
		default:
			if (!sig_ok(val, vn, out->sig))
				return refuse(out, why, "Signature");
			break;
		}
	}
	if (!seen[P_TENANT] || !seen[P_EPOCH] || !seen[P_TS] || !seen[P_SIG])
		return refuse(out, why, "a missing parameter (Tenant, Epoch, Timestamp, Signature)");
	return HM_OK;
}
