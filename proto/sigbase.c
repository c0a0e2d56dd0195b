/*
 * sigbase.c - the RFC 9421 section 2.5 signature base builder (see sigbase.h).
 *
 * Everything is written straight into the caller's buffer through one sticky-error window
 * (struct hm_sf_out). The identifiers already written are remembered by offset, so the
 * duplicate check compares serialized identifiers (RFC 9421 2.5 step 1.1: the same name with the
 * same parameters) without a second buffer.
 */
#include "proto/sigbase.h"

#include <string.h>

#include "proto/b64.h"

static const char *const reason_text[] = {
#define HM_SB_TEXT(name, text) [name] = text,
	HM_SB_REASONS(HM_SB_TEXT)
#undef HM_SB_TEXT
};

const char *hm_sb_reason_text(enum hm_sb_reason r)
{
	if ((unsigned)r >= HM_SB_REASON__MAX)
		return "unknown reason";
	return reason_text[r];
}

/* ---- small helpers ---- */

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

static bool ieq(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	if (an != bn)
		return false;
	for (size_t i = 0; i < an; i++)
		if (lower(a[i]) != lower(b[i]))
			return false;
	return true;
}

/* no byte below 0x20 (HTAB allowed when tab_ok) and no 0x7F */
static bool clean(struct hm_str s, bool tab_ok, bool space_ok)
{
	for (size_t i = 0; i < s.len; i++) {
		uint8_t c = s.ptr[i];

		if (c == 0x7f || (c < 0x20 && !(tab_ok && c == '\t')) || (c == ' ' && !space_ok))
			return false;
	}
	return true;
}

static struct hm_str trim(struct hm_str s)
{
	while (s.len > 0 && (s.ptr[0] == ' ' || s.ptr[0] == '\t')) {
		s.ptr++;
		s.len--;
	}
	while (s.len > 0 && (s.ptr[s.len - 1] == ' ' || s.ptr[s.len - 1] == '\t'))
		s.len--;
	return s;
}

static bool is_https(const struct hm_sb_request *r)
{
	return r->scheme.len == 0 || ieq(r->scheme.ptr, r->scheme.len, (const uint8_t *)"https", 5);
}

static int check_request(const struct hm_sb_request *r)
{
	if (r->method.len == 0 || !clean(r->method, false, false))
		return HM_EMALFORMED;
	if (r->authority.len == 0 || !clean(r->authority, false, false))
		return HM_EMALFORMED;
	if (r->path.len == 0 || r->path.ptr[0] != '/' || !clean(r->path, false, false))
		return HM_EMALFORMED;
	if (r->scheme.len != 0 && !is_https(r) &&
	    !ieq(r->scheme.ptr, r->scheme.len, (const uint8_t *)"http", 4))
		return HM_EMALFORMED;
	if (r->nheaders > 0 && r->headers == NULL)
		return HM_EMALFORMED;
	for (size_t i = 0; i < r->nheaders; i++)
		if (r->headers[i].name.len == 0 || !clean(r->headers[i].name, false, false))
			return HM_EMALFORMED;
	return HM_OK;
}

/* ---- derived components (RFC 9421 2.2) ---- */

static void put_scheme(struct hm_sf_out *o, const struct hm_sb_request *r)
{
	if (is_https(r))
		hm_sf_put(o, "https", 5);
	else
		hm_sf_put(o, "http", 4);
}

/* 2.2.3: lower case, an empty or default port dropped (RFC 9110 4.2.3) */
static void put_authority(struct hm_sf_out *o, const struct hm_sb_request *r)
{
	const uint8_t *a = r->authority.ptr;
	size_t n = r->authority.len, colon = n;

	for (size_t i = n; i > 0; i--) {
		if (a[i - 1] == ']')
			break; /* an IPv6 literal: its colons are not a port separator */
		if (a[i - 1] == ':') {
			colon = i - 1;
			break;
		}
	}
	if (colon < n) {
		const uint8_t *port = a + colon + 1;
		size_t plen = n - colon - 1;
		bool digits = true;

		for (size_t i = 0; i < plen; i++)
			digits = digits && port[i] >= '0' && port[i] <= '9';
		if (digits && (plen == 0 || hm_lex_is(port, plen, is_https(r) ? "443" : "80")))
			n = colon;
	}
	for (size_t i = 0; i < n; i++) {
		uint8_t c = lower(a[i]);

		hm_sf_put(o, &c, 1);
	}
}

static size_t path_end(const struct hm_sb_request *r)
{
	const uint8_t *q = memchr(r->path.ptr, '?', r->path.len);

	return q ? (size_t)(q - r->path.ptr) : r->path.len;
}

/* application/x-www-form-urlencoded decoding, one byte at a time (WHATWG URL 5.1) */
struct form_dec {
	const uint8_t *p;
	const uint8_t *end;
};

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int form_next(struct form_dec *d)
{
	uint8_t c;

	if (d->p >= d->end)
		return -1;
	c = *d->p++;
	if (c == '+')
		return ' ';
	if (c == '%' && d->end - d->p >= 2 && hexval(d->p[0]) >= 0 && hexval(d->p[1]) >= 0) {
		c = (uint8_t)(hexval(d->p[0]) << 4 | hexval(d->p[1]));
		d->p += 2;
	}
	return c; /* a '%' not followed by two hex digits stays literal */
}

/* Is the decoded form of raw[0..n) well-formed UTF-8 (Unicode table 3-7)? */
static bool form_utf8_ok(const uint8_t *raw, size_t n)
{
	struct form_dec d = {raw, raw + n};
	int c;

	while ((c = form_next(&d)) >= 0) {
		int need, lo = 0x80, hi = 0xbf;

		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			if (c == 0xe0)
				lo = 0xa0;
			if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			if (c == 0xf0)
				lo = 0x90;
			if (c == 0xf4)
				hi = 0x8f;
		} else {
			return false;
		}
		while (need-- > 0) {
			c = form_next(&d);
			if (c < lo || c > hi)
				return false;
			lo = 0x80;
			hi = 0xbf;
		}
	}
	return true;
}

/* the application/x-www-form-urlencoded percent-encode set leaves these alone */
static bool form_safe(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '*' || c == '-' || c == '.' || c == '_';
}

static void form_put(struct hm_sf_out *o, const uint8_t *raw, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	struct form_dec d = {raw, raw + n};
	int c;

	while ((c = form_next(&d)) >= 0) {
		if (form_safe(c)) {
			uint8_t b = (uint8_t)c;

			hm_sf_put(o, &b, 1);
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};

			hm_sf_put(o, e, 3);
		}
	}
}

/* Does the re-encoded decoded form of raw[0..n) equal want[0..wn)? */
static bool form_eq(const uint8_t *raw, size_t n, const uint8_t *want, size_t wn)
{
	static const char hex[] = "0123456789ABCDEF";
	struct form_dec d = {raw, raw + n};
	size_t j = 0;
	int c;

	while ((c = form_next(&d)) >= 0) {
		uint8_t e[3];
		size_t k = 1;

		e[0] = (uint8_t)c;
		if (!form_safe(c)) {
			e[0] = '%';
			e[1] = (uint8_t)hex[c >> 4];
			e[2] = (uint8_t)hex[c & 15];
			k = 3;
		}
		if (wn - j < k || memcmp(want + j, e, k) != 0)
			return false;
		j += k;
	}
	return j == wn;
}

/* 2.2.8 @query-param;name="...": exactly one parameter of that encoded name */
static int put_query_param(struct hm_sf_out *o, const struct hm_sb_request *r,
			   const struct hm_sf_bare *name, enum hm_sb_reason *why)
{
	size_t pe = path_end(r);
	const uint8_t *p = r->path.ptr + pe, *end = r->path.ptr + r->path.len;
	const uint8_t *vp = NULL;
	size_t vn = 0, found = 0;

	if (p < end)
		p++; /* the '?' */
	while (p < end) {
		const uint8_t *amp = memchr(p, '&', (size_t)(end - p));
		const uint8_t *se = amp ? amp : end, *eq;
		size_t nn;

		if (se > p) {
			eq = memchr(p, '=', (size_t)(se - p));
			nn = eq ? (size_t)(eq - p) : (size_t)(se - p);
			if (form_eq(p, nn, name->raw.ptr, name->raw.len)) {
				found++;
				vp = eq ? eq + 1 : se;
				vn = (size_t)(se - vp);
				if (!form_utf8_ok(p, nn) || !form_utf8_ok(vp, vn)) {
					*why = HM_SB_QUERY_NOT_UTF8;
					return HM_EMALFORMED;
				}
			}
		}
		p = amp ? amp + 1 : end;
	}
	if (found == 0) {
		*why = HM_SB_MISSING_QUERY_PARAM;
		return HM_EMALFORMED;
	}
	if (found > 1) {
		*why = HM_SB_AMBIGUOUS_QUERY_PARAM;
		return HM_EMALFORMED;
	}
	form_put(o, vp, vn);
	return HM_OK;
}

/* ---- HTTP fields (RFC 9421 2.1) ---- */

enum fmode { F_PLAIN, F_SF, F_KEY, F_BS };

static const struct {
	const char *name;
	enum hm_sf_kind kind;
} sf_table[] = {
	{"accept-ch", HM_SF_KIND_LIST},
	{"accept-signature", HM_SF_KIND_DICT},
	{"cache-status", HM_SF_KIND_LIST},
	{"client-cert", HM_SF_KIND_ITEM},
	{"client-cert-chain", HM_SF_KIND_LIST},
	{"content-digest", HM_SF_KIND_DICT},
	{"priority", HM_SF_KIND_DICT},
	{"proxy-status", HM_SF_KIND_LIST},
	{"repr-digest", HM_SF_KIND_DICT},
	{"signature", HM_SF_KIND_DICT},
	{"signature-input", HM_SF_KIND_DICT},
	{"want-content-digest", HM_SF_KIND_DICT},
	{"want-repr-digest", HM_SF_KIND_DICT},
};

static bool sf_kind_of(const uint8_t *name, size_t n, enum hm_sf_kind *kind)
{
	for (size_t i = 0; i < sizeof(sf_table) / sizeof(sf_table[0]); i++) {
		if (hm_lex_is(name, n, sf_table[i].name)) {
			*kind = sf_table[i].kind;
			return true;
		}
	}
	return false;
}

/* Joins the trimmed instances of field `name` with ", " into o; returns how many there were. */
static size_t put_joined(struct hm_sf_out *o, const struct hm_sb_request *r, const uint8_t *name,
			 size_t n, bool bs)
{
	size_t count = 0;

	for (size_t i = 0; i < r->nheaders; i++) {
		struct hm_str v;

		if (!ieq(r->headers[i].name.ptr, r->headers[i].name.len, name, n))
			continue;
		v = trim(r->headers[i].value);
		if (count++ > 0)
			hm_sf_put(o, ", ", 2);
		if (!bs) {
			hm_sf_put(o, v.ptr, v.len);
			continue;
		}
		/* hm_b64_encode_ct writes a NUL after the text: the ':' that follows takes its place */
		hm_sf_put(o, ":", 1);
		if (o->failed || o->cap - o->len < HM_B64_LEN(v.len) + 1) {
			o->failed = true;
			continue;
		}
		o->len += hm_b64_encode_ct(v.ptr, v.len, (char *)o->buf + o->len);
		hm_sf_put(o, ":", 1);
	}
	return count;
}

/* ---- structured fields ---- */

int hm_sb_parse_field_lines(const struct hm_header *headers, size_t nheaders,
			    const uint8_t *name, size_t name_len, enum hm_sf_kind kind,
			    struct hm_sf_field *f, size_t *nlines)
{
	int rc;

	*nlines = 0;
	for (size_t i = 0; i < nheaders; i++) {
		struct hm_str v;

		if (!ieq(headers[i].name.ptr, headers[i].name.len, name, name_len))
			continue;
		v = trim(headers[i].value);
		if ((*nlines)++ == 0)
			rc = hm_sf_parse(v.ptr, v.len, kind, f);
		else
			rc = hm_sf_parse_more(v.ptr, v.len, f);
		if (rc != HM_OK)
			return rc;
	}
	return HM_OK;
}

/* ;sf and ;key: parse the field's lines as one structured value, write it (or one member) */
static int put_structured(struct hm_sf_out *o, const struct hm_sb_request *r, const uint8_t *name,
			  size_t n, enum hm_sf_kind kind, const struct hm_sf_bare *key,
			  enum hm_sb_reason *why)
{
	struct hm_sf_field sf;
	size_t count;
	int rc;

	rc = hm_sb_parse_field_lines(r->headers, r->nheaders, name, n, kind, &sf, &count);
	if (rc != HM_OK) {
		*why = HM_SB_SF_PARSE;
		return HM_EMALFORMED;
	}
	if (count == 0) {
		*why = HM_SB_MISSING_FIELD;
		return HM_EMALFORMED;
	}
	if (key == NULL) {
		hm_sf_put_field(o, &sf);
	} else {
		const struct hm_sf_member *m = NULL;

		for (size_t i = 0; i < sf.nmembers && m == NULL; i++)
			if (hm_sf_string_eq(key, sf.members[i].key.ptr, sf.members[i].key.len))
				m = &sf.members[i];
		if (m == NULL) {
			*why = HM_SB_KEY_NOT_FOUND;
			return HM_EMALFORMED;
		}
		hm_sf_put_member_value(o, &sf, m);
	}
	return o->failed ? HM_ETOOBIG : HM_OK;
}

/* ---- components ---- */

static bool valid_field_name(const uint8_t *p, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL)))
			return false;
	}
	return true;
}

static bool is_true(const struct hm_sf_bare *b)
{
	return b->type == HM_SF_BOOLEAN && b->num == 1;
}

/* Writes the value of component `it` (its identifier already written). */
static int put_component(struct hm_sf_out *o, const struct hm_sb_request *r,
			 const struct hm_sf_field *f, const struct hm_sf_item *it,
			 enum hm_sb_reason *why)
{
	const uint8_t *name = it->bare.raw.ptr;
	size_t n = it->bare.raw.len;
	const struct hm_sf_bare *qname = NULL, *key = NULL;
	bool sf = false, bs = false;
	enum hm_sf_kind kind = HM_SF_KIND_DICT;

	for (size_t i = it->first_param; i < (size_t)it->first_param + it->nparams; i++) {
		const struct hm_sf_param *p = &f->params[i];

		if (hm_lex_is(p->key.ptr, p->key.len, "sf") && is_true(&p->value)) {
			sf = true;
		} else if (hm_lex_is(p->key.ptr, p->key.len, "bs") && is_true(&p->value)) {
			bs = true;
		} else if (hm_lex_is(p->key.ptr, p->key.len, "key") && p->value.type == HM_SF_STRING) {
			key = &p->value;
		} else if (hm_lex_is(p->key.ptr, p->key.len, "name") &&
			   p->value.type == HM_SF_STRING) {
			qname = &p->value;
		} else {
			*why = HM_SB_BAD_PARAM; /* incl. ;req and ;tr, which a request never needs */
			return HM_EMALFORMED;
		}
	}
	if (name[0] == '@') {
		if (sf || bs || key != NULL) {
			*why = HM_SB_BAD_PARAM;
			return HM_EMALFORMED;
		}
		if (hm_lex_is(name, n, "@query-param")) {
			if (qname == NULL) {
				*why = HM_SB_BAD_PARAM;
				return HM_EMALFORMED;
			}
			return put_query_param(o, r, qname, why);
		}
		if (qname != NULL) {
			*why = HM_SB_BAD_PARAM;
			return HM_EMALFORMED;
		}
		if (hm_lex_is(name, n, "@method")) {
			hm_sf_put(o, r->method.ptr, r->method.len);
		} else if (hm_lex_is(name, n, "@authority")) {
			put_authority(o, r);
		} else if (hm_lex_is(name, n, "@scheme")) {
			put_scheme(o, r);
		} else if (hm_lex_is(name, n, "@target-uri")) {
			put_scheme(o, r);
			hm_sf_put(o, "://", 3);
			put_authority(o, r);
			hm_sf_put(o, r->path.ptr, r->path.len);
		} else if (hm_lex_is(name, n, "@request-target")) {
			hm_sf_put(o, r->path.ptr, r->path.len);
		} else if (hm_lex_is(name, n, "@path")) {
			hm_sf_put(o, r->path.ptr, path_end(r));
		} else if (hm_lex_is(name, n, "@query")) {
			size_t pe = path_end(r);

			if (pe == r->path.len)
				hm_sf_put(o, "?", 1);
			else
				hm_sf_put(o, r->path.ptr + pe, r->path.len - pe);
		} else if (hm_lex_is(name, n, "@status")) {
			*why = HM_SB_RESPONSE_ONLY;
			return HM_EMALFORMED;
		} else if (hm_lex_is(name, n, "@signature-params")) {
			*why = HM_SB_BAD_COMPONENT; /* RFC 9421 2.3: never a covered component */
			return HM_EMALFORMED;
		} else {
			*why = HM_SB_UNKNOWN_DERIVED;
			return HM_EMALFORMED;
		}
		return HM_OK;
	}
	if (!valid_field_name(name, n)) {
		*why = HM_SB_BAD_COMPONENT;
		return HM_EMALFORMED;
	}
	if (qname != NULL) {
		*why = HM_SB_BAD_PARAM;
		return HM_EMALFORMED;
	}
	if (bs && (sf || key != NULL)) {
		*why = HM_SB_INCOMPATIBLE_PARAMS;
		return HM_EMALFORMED;
	}
	if (key != NULL)
		return put_structured(o, r, name, n, HM_SF_KIND_DICT, key, why);
	if (sf) {
		if (!sf_kind_of(name, n, &kind)) {
			*why = HM_SB_SF_UNKNOWN_TYPE;
			return HM_EMALFORMED;
		}
		return put_structured(o, r, name, n, kind, NULL, why);
	}
	if (put_joined(o, r, name, n, bs) == 0) {
		*why = HM_SB_MISSING_FIELD;
		return HM_EMALFORMED;
	}
	return HM_OK;
}

static int check_sigparams(const struct hm_sf_field *f, const struct hm_sf_member *m,
			   struct hm_sb_sigparams *sp)
{
	static const struct {
		const char *key;
		enum hm_sf_type type;
		size_t off;
	} known[] = {
		{"created", HM_SF_INTEGER, offsetof(struct hm_sb_sigparams, created)},
		{"expires", HM_SF_INTEGER, offsetof(struct hm_sb_sigparams, expires)},
		{"nonce", HM_SF_STRING, offsetof(struct hm_sb_sigparams, nonce)},
		{"alg", HM_SF_STRING, offsetof(struct hm_sb_sigparams, alg)},
		{"keyid", HM_SF_STRING, offsetof(struct hm_sb_sigparams, keyid)},
		{"tag", HM_SF_STRING, offsetof(struct hm_sb_sigparams, tag)},
	};

	memset(sp, 0, sizeof(*sp));
	for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++) {
		const struct hm_sf_bare *v = hm_sf_param_get(f, m->first_param, m->nparams,
							     known[k].key);

		if (v == NULL)
			continue;
		if (v->type != known[k].type)
			return HM_EMALFORMED;
		memcpy((char *)sp + known[k].off, &v, sizeof(v));
	}
	return HM_OK;
}

struct hm_sb_request hm_sb_request_of(const struct hm_item *it)
{
	struct hm_sb_request r = {it->method, it->rfc.authority, it->path, it->rfc.uri_scheme,
				  it->nheaders, it->headers};

	return r;
}

int hm_sb_select(const struct hm_sf_field *sig_input, struct hm_str label,
		 const struct hm_sf_member **m, enum hm_sb_reason *why)
{
	*m = NULL;
	*why = HM_SB_OK;
	if (label.len == 0) {
		if (sig_input->nmembers == 1) {
			*m = &sig_input->members[0];
			return HM_OK;
		}
		*why = sig_input->nmembers == 0 ? HM_SB_NO_LABEL : HM_SB_AMBIGUOUS_LABEL;
		return HM_EMALFORMED;
	}
	*m = hm_sf_dict_get(sig_input, (const char *)label.ptr, label.len);
	if (*m == NULL) {
		*why = HM_SB_NO_LABEL;
		return HM_EMALFORMED;
	}
	return HM_OK;
}

int hm_sb_build(const struct hm_sb_request *req, const struct hm_sf_field *sig_input,
		const struct hm_sf_member *m, uint8_t *out, size_t cap, size_t *len,
		struct hm_sb_sigparams *params, enum hm_sb_reason *why)
{
	struct hm_sf_out o = {out, cap, 0, false};
	struct {
		size_t off, len;
	} ids[HM_SF_MAX_INNER];
	struct hm_sb_sigparams sp;
	int rc;

	*len = 0;
	*why = HM_SB_OK;
	rc = check_request(req);
	if (rc != HM_OK) {
		*why = HM_SB_BAD_REQUEST;
		return rc;
	}
	for (size_t i = 0; i < req->nheaders; i++) {
		if (!clean(req->headers[i].value, true, true)) {
			*why = HM_SB_FIELD_VALUE;
			return HM_EMALFORMED;
		}
	}
	if (!m->is_inner || m->nitems > HM_SF_MAX_INNER) {
		*why = HM_SB_NOT_INNER_LIST;
		return HM_EMALFORMED;
	}
	rc = check_sigparams(sig_input, m, &sp);
	if (rc != HM_OK) {
		*why = HM_SB_BAD_SIG_PARAM;
		return rc;
	}
	for (size_t i = 0; i < m->nitems; i++) {
		const struct hm_sf_item *it = &sig_input->items[m->first_item + i];
		size_t start = o.len;

		if (it->bare.type != HM_SF_STRING || it->bare.raw.len == 0) {
			*why = HM_SB_BAD_COMPONENT;
			return HM_EMALFORMED;
		}
		hm_sf_put_item(&o, sig_input, it);
		if (o.failed)
			return HM_ETOOBIG;
		ids[i].off = start;
		ids[i].len = o.len - start;
		for (size_t j = 0; j < i; j++) {
			if (ids[j].len == ids[i].len &&
			    memcmp(out + ids[j].off, out + start, ids[i].len) == 0) {
				*why = HM_SB_DUPLICATE_COMPONENT;
				return HM_EMALFORMED;
			}
		}
		hm_sf_put(&o, ": ", 2);
		rc = put_component(&o, req, sig_input, it, why);
		if (rc == HM_EMALFORMED)
			return rc;
		hm_sf_put(&o, "\n", 1);
		if (rc != HM_OK || o.failed) {
			*why = HM_SB_OK;
			return HM_ETOOBIG;
		}
	}
	hm_sf_put(&o, "\"@signature-params\": ", 21);
	hm_sf_put_member_value(&o, sig_input, m);
	if (o.failed)
		return HM_ETOOBIG;
	if (params != NULL)
		*params = sp;
	*len = o.len;
	return HM_OK;
}
