/*
 * sfv.c - RFC 8941 Structured Field Values parser and serializer (see sfv.h).
 *
 * The parser is a cursor over [p, end) that only ever looks at *p after checking p < end. Each
 * function is one algorithm of RFC 8941 section 4.2, named after it, so the code can be read
 * against the RFC; the numbers in comments are its step numbers where the mapping is not plain.
 */
#include "proto/sfv.h"

#include <string.h>

#include "proto/lex.h"

struct cur {
	const uint8_t *p;
	const uint8_t *end;
	struct hm_sf_field *f;
};

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static bool is_lcalpha(uint8_t c)
{
	return c >= 'a' && c <= 'z';
}

static bool is_alpha(uint8_t c)
{
	return is_lcalpha(c) || (c >= 'A' && c <= 'Z');
}

static bool at(const struct cur *c, uint8_t ch)
{
	return c->p < c->end && *c->p == ch;
}

static void skip_sp(struct cur *c)
{
	while (at(c, ' '))
		c->p++;
}

static void skip_ows(struct cur *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
}

/* 4.2.3.3 Parsing a Key */
static int parse_key(struct cur *c, struct hm_sf_span *key)
{
	const uint8_t *start = c->p;

	if (c->p >= c->end || !hm_lex_sf_key_first(*c->p))
		return HM_EMALFORMED;
	while (c->p < c->end && hm_lex_sf_key_char(*c->p))
		c->p++;
	key->ptr = start;
	key->len = (size_t)(c->p - start);
	return HM_OK;
}

/* 4.2.4 Parsing an Integer or Decimal */
static int parse_number(struct cur *c, struct hm_sf_bare *b)
{
	int64_t sign = 1, ipart = 0, frac = 0;
	size_t ndig = 0, nfrac = 0;
	bool decimal = false;

	if (at(c, '-')) {
		c->p++;
		sign = -1;
	}
	if (c->p >= c->end || !is_digit(*c->p))
		return HM_EMALFORMED;
	while (c->p < c->end) {
		uint8_t ch = *c->p;

		if (is_digit(ch)) {
			if (decimal) {
				frac = frac * 10 + (ch - '0');
				nfrac++;
			} else {
				ipart = ipart * 10 + (ch - '0');
			}
			ndig++;
		} else if (!decimal && ch == '.') {
			if (ndig > 12)
				return HM_EMALFORMED;
			decimal = true;
			ndig++; /* input_number holds the '.' too */
		} else {
			break;
		}
		c->p++;
		/* checked per character, so the accumulators never overflow */
		if (!decimal && ndig > 15)
			return HM_EMALFORMED;
		if (decimal && (ndig > 16 || nfrac > 3))
			return HM_EMALFORMED;
	}
	if (!decimal) {
		b->type = HM_SF_INTEGER;
		b->num = sign * ipart;
		return HM_OK;
	}
	if (nfrac == 0)
		return HM_EMALFORMED; /* ends with '.' */
	while (nfrac < 3) {
		frac *= 10;
		nfrac++;
	}
	b->type = HM_SF_DECIMAL;
	b->num = sign * (ipart * 1000 + frac);
	return HM_OK;
}

/* 4.2.5 Parsing a String */
static int parse_string(struct cur *c, struct hm_sf_bare *b)
{
	const uint8_t *start;

	c->p++; /* the opening DQUOTE */
	start = c->p;
	for (;;) {
		uint8_t ch;

		if (c->p >= c->end)
			return HM_EMALFORMED;
		ch = *c->p++;
		if (ch == '\\') {
			if (c->p >= c->end)
				return HM_EMALFORMED;
			ch = *c->p++;
			if (ch != '"' && ch != '\\')
				return HM_EMALFORMED;
		} else if (ch == '"') {
			b->type = HM_SF_STRING;
			b->raw.ptr = start;
			b->raw.len = (size_t)(c->p - 1 - start);
			return HM_OK;
		} else if (ch < 0x20 || ch >= 0x7f) {
			return HM_EMALFORMED;
		}
	}
}

/* 4.2.6 Parsing a Token */
static int parse_token(struct cur *c, struct hm_sf_bare *b)
{
	const uint8_t *start = c->p;

	c->p++; /* ALPHA or '*', checked by the caller */
	while (c->p < c->end && (hm_lex_tchar(*c->p) || *c->p == ':' || *c->p == '/'))
		c->p++;
	b->type = HM_SF_TOKEN;
	b->raw.ptr = start;
	b->raw.len = (size_t)(c->p - start);
	return HM_OK;
}

/*
 * The base64 alphabet, value + 1 (0: not in it). A table, not a chain of range tests: the
 * chain mispredicted on every character of a signature (bench: 16% of an rfc9421 item's
 * time). The values are public (sfv.h: no constant-time claim), so indexing by them is fine.
 */
static const uint8_t b64_table[256] = {
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6, ['G'] = 7, ['H'] = 8,
	['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15,
	['P'] = 16, ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22,
	['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29,
	['d'] = 30, ['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36,
	['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42, ['q'] = 43,
	['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48, ['w'] = 49, ['x'] = 50,
	['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56, ['4'] = 57,
	['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63, ['/'] = 64,
};

static int b64_val(uint8_t ch)
{
	return (int)b64_table[ch] - 1;
}

/*
 * Checks base64 text as sfv.h promises: alphabet characters, then at most two '=' that only
 * complete the last quantum, length a multiple of 4 when padded, and zero pad bits. On success
 * *ndata is the number of alphabet characters.
 */
static bool b64_check(const uint8_t *s, size_t n, size_t *ndata)
{
	size_t d = 0, pad;

	while (d < n && s[d] != '=') {
		if (b64_val(s[d]) < 0)
			return false;
		d++;
	}
	pad = n - d;
	for (size_t i = d; i < n; i++)
		if (s[i] != '=')
			return false;
	if (d % 4 == 1 || pad > 2)
		return false;
	if (pad > 0 && (d + pad) % 4 != 0)
		return false;
	/* the unused low bits of the last character must be zero */
	if (d % 4 == 2 && (b64_val(s[d - 1]) & 0x0f) != 0)
		return false;
	if (d % 4 == 3 && (b64_val(s[d - 1]) & 0x03) != 0)
		return false;
	*ndata = d;
	return true;
}

/* 4.2.7 Parsing a Byte Sequence */
static int parse_bytes(struct cur *c, struct hm_sf_bare *b)
{
	const uint8_t *start, *close;
	size_t nd;

	c->p++; /* the opening ':' */
	start = c->p;
	close = memchr(start, ':', (size_t)(c->end - start));
	if (close == NULL)
		return HM_EMALFORMED;
	/* b64_check() refuses any byte outside the alphabet and '=' */
	if (!b64_check(start, (size_t)(close - start), &nd))
		return HM_EMALFORMED;
	b->type = HM_SF_BYTES;
	b->raw.ptr = start;
	b->raw.len = (size_t)(close - start);
	c->p = close + 1;
	return HM_OK;
}

/* 4.2.8 Parsing a Boolean */
static int parse_boolean(struct cur *c, struct hm_sf_bare *b)
{
	c->p++; /* '?' */
	if (c->p >= c->end || (*c->p != '0' && *c->p != '1'))
		return HM_EMALFORMED;
	b->type = HM_SF_BOOLEAN;
	b->num = *c->p == '1';
	b->raw.ptr = NULL;
	b->raw.len = 0;
	c->p++;
	return HM_OK;
}

/* 4.2.3.1 Parsing a Bare Item */
static int parse_bare(struct cur *c, struct hm_sf_bare *b)
{
	uint8_t ch;

	memset(b, 0, sizeof(*b));
	if (c->p >= c->end)
		return HM_EMALFORMED;
	ch = *c->p;
	if (ch == '-' || is_digit(ch))
		return parse_number(c, b);
	if (ch == '"')
		return parse_string(c, b);
	if (is_alpha(ch) || ch == '*')
		return parse_token(c, b);
	if (ch == ':')
		return parse_bytes(c, b);
	if (ch == '?')
		return parse_boolean(c, b);
	return HM_EMALFORMED;
}

static bool span_eq(struct hm_sf_span a, struct hm_sf_span b)
{
	return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

/*
 * 4.2.3.2 Parsing Parameters: appends to the field's pool; *first / *n name the range. A key
 * seen before in this range gets the new value in place (step 2.6).
 */
static int parse_params(struct cur *c, uint16_t *first, uint16_t *n)
{
	struct hm_sf_field *f = c->f;
	int rc;

	*first = (uint16_t)f->nparams;
	*n = 0;
	while (at(c, ';')) {
		struct hm_sf_param prm;
		size_t i;

		c->p++;
		skip_sp(c);
		rc = parse_key(c, &prm.key);
		if (rc != HM_OK)
			return rc;
		memset(&prm.value, 0, sizeof(prm.value));
		prm.value.type = HM_SF_BOOLEAN;
		prm.value.num = 1;
		if (at(c, '=')) {
			c->p++;
			rc = parse_bare(c, &prm.value);
			if (rc != HM_OK)
				return rc;
		}
		for (i = *first; i < (size_t)*first + *n; i++)
			if (span_eq(f->params[i].key, prm.key))
				break;
		if (i < (size_t)*first + *n) {
			f->params[i].value = prm.value;
			continue;
		}
		if (*n >= HM_SF_MAX_PARAMS || f->nparams >= HM_SF_MAX_PARAM_POOL)
			return HM_EMALFORMED;
		f->params[f->nparams++] = prm;
		(*n)++;
	}
	return HM_OK;
}

/* 4.2.1.2 Parsing an Inner List, into m (its items go to the pool) */
static int parse_inner(struct cur *c, struct hm_sf_member *m)
{
	struct hm_sf_field *f = c->f;
	int rc;

	c->p++; /* '(' */
	m->is_inner = true;
	m->first_item = (uint16_t)f->nitems;
	m->nitems = 0;
	while (c->p < c->end) {
		struct hm_sf_item *it;

		skip_sp(c);
		if (at(c, ')')) {
			c->p++;
			return parse_params(c, &m->first_param, &m->nparams);
		}
		if (m->nitems >= HM_SF_MAX_INNER || f->nitems >= HM_SF_MAX_ITEMS)
			return HM_EMALFORMED;
		it = &f->items[f->nitems];
		rc = parse_bare(c, &it->bare);
		if (rc != HM_OK)
			return rc;
		rc = parse_params(c, &it->first_param, &it->nparams);
		if (rc != HM_OK)
			return rc;
		f->nitems++;
		m->nitems++;
		if (c->p < c->end && *c->p != ' ' && *c->p != ')')
			return HM_EMALFORMED;
	}
	return HM_EMALFORMED; /* no closing ')' */
}

/* 4.2.1.1 Parsing an Item or Inner List */
static int parse_item_or_inner(struct cur *c, struct hm_sf_member *m)
{
	int rc;

	if (at(c, '('))
		return parse_inner(c, m);
	m->is_inner = false;
	m->first_item = 0;
	m->nitems = 0;
	rc = parse_bare(c, &m->bare);
	if (rc != HM_OK)
		return rc;
	return parse_params(c, &m->first_param, &m->nparams);
}

/* After a member: OWS, then either the end or ',' OWS and another member (4.2.1 / 4.2.2). */
static int after_member(struct cur *c, bool *more)
{
	skip_ows(c);
	*more = false;
	if (c->p >= c->end)
		return HM_OK;
	if (*c->p != ',')
		return HM_EMALFORMED;
	c->p++;
	skip_ows(c);
	if (c->p >= c->end)
		return HM_EMALFORMED; /* trailing comma */
	*more = true;
	return HM_OK;
}

/* 4.2.1 Parsing a List */
static int parse_list(struct cur *c)
{
	struct hm_sf_field *f = c->f;
	bool more = c->p < c->end;
	int rc;

	while (more) {
		struct hm_sf_member *m;

		if (f->nmembers >= HM_SF_MAX_MEMBERS)
			return HM_EMALFORMED;
		m = &f->members[f->nmembers];
		memset(m, 0, sizeof(*m));
		rc = parse_item_or_inner(c, m);
		if (rc != HM_OK)
			return rc;
		f->nmembers++;
		rc = after_member(c, &more);
		if (rc != HM_OK)
			return rc;
	}
	return HM_OK;
}

/* 4.2.2 Parsing a Dictionary */
static int parse_dict(struct cur *c)
{
	struct hm_sf_field *f = c->f;
	bool more = c->p < c->end;
	int rc;

	while (more) {
		struct hm_sf_member m;
		size_t i;

		memset(&m, 0, sizeof(m));
		rc = parse_key(c, &m.key);
		if (rc != HM_OK)
			return rc;
		if (at(c, '=')) {
			c->p++;
			rc = parse_item_or_inner(c, &m);
		} else {
			m.bare.type = HM_SF_BOOLEAN;
			m.bare.num = 1;
			rc = parse_params(c, &m.first_param, &m.nparams);
		}
		if (rc != HM_OK)
			return rc;
		/* step 2.4: a repeated key overwrites the value, keeping the first position */
		for (i = 0; i < f->nmembers; i++)
			if (span_eq(f->members[i].key, m.key))
				break;
		if (i == f->nmembers) {
			if (f->nmembers >= HM_SF_MAX_MEMBERS)
				return HM_EMALFORMED;
			f->nmembers++;
		}
		f->members[i] = m;
		rc = after_member(c, &more);
		if (rc != HM_OK)
			return rc;
	}
	return HM_OK;
}

/* Parses one field line into f, after what f already holds. */
static int parse_line(const uint8_t *in, size_t len, struct hm_sf_field *f)
{
	struct cur c = {in, in + len, f};
	int rc;

	if (in == NULL && len > 0)
		return HM_EMALFORMED;
	skip_sp(&c); /* 4.2 step 2 */
	if (f->kind == HM_SF_KIND_DICT) {
		rc = parse_dict(&c);
	} else if (f->kind == HM_SF_KIND_LIST) {
		rc = parse_list(&c);
	} else {
		memset(&f->members[0], 0, sizeof(f->members[0]));
		rc = parse_item_or_inner(&c, &f->members[0]);
		if (rc == HM_OK && f->members[0].is_inner)
			rc = HM_EMALFORMED; /* an Item field is a bare item with parameters */
		if (rc == HM_OK)
			f->nmembers = 1;
	}
	if (rc != HM_OK)
		return HM_EMALFORMED;
	skip_sp(&c); /* step 6 */
	if (c.p != c.end)
		return HM_EMALFORMED;
	return HM_OK;
}

int hm_sf_parse(const uint8_t *in, size_t len, enum hm_sf_kind kind, struct hm_sf_field *f)
{
	f->kind = kind;
	f->nmembers = 0;
	f->nitems = 0;
	f->nparams = 0;
	return parse_line(in, len, f);
}

int hm_sf_parse_more(const uint8_t *in, size_t len, struct hm_sf_field *f)
{
	size_t i = 0;

	while (i < len && in[i] == ' ')
		i++;
	/* joined with ", ", an empty line on either side would leave a stray comma */
	if (f->kind == HM_SF_KIND_ITEM || f->nmembers == 0 || i == len)
		return HM_EMALFORMED;
	return parse_line(in, len, f);
}

const struct hm_sf_member *hm_sf_dict_get(const struct hm_sf_field *f, const char *key,
					  size_t keylen)
{
	for (size_t i = 0; i < f->nmembers; i++)
		if (f->members[i].key.len == keylen &&
		    memcmp(f->members[i].key.ptr, key, keylen) == 0)
			return &f->members[i];
	return NULL;
}

const struct hm_sf_bare *hm_sf_param_get(const struct hm_sf_field *f, uint16_t first, uint16_t n,
					 const char *key)
{
	size_t kl = strlen(key);

	for (size_t i = first; i < (size_t)first + n && i < f->nparams; i++)
		if (f->params[i].key.len == kl && memcmp(f->params[i].key.ptr, key, kl) == 0)
			return &f->params[i].value;
	return NULL;
}

size_t hm_sf_string_len(const struct hm_sf_bare *b)
{
	size_t n = 0;

	for (size_t i = 0; i < b->raw.len; i++, n++)
		if (b->raw.ptr[i] == '\\')
			i++;
	return n;
}

bool hm_sf_string_eq(const struct hm_sf_bare *b, const void *s, size_t n)
{
	const uint8_t *q = s;
	size_t j = 0;

	if (b->type != HM_SF_STRING)
		return false;
	for (size_t i = 0; i < b->raw.len; i++, j++) {
		if (b->raw.ptr[i] == '\\')
			i++;
		if (j >= n || b->raw.ptr[i] != q[j])
			return false;
	}
	return j == n;
}

int hm_sf_bytes_decode(const struct hm_sf_bare *b, uint8_t *out, size_t cap, size_t *n)
{
	size_t nd, o = 0;
	uint32_t acc = 0;
	unsigned bits = 0;

	*n = 0;
	if (b->type != HM_SF_BYTES || !b64_check(b->raw.ptr, b->raw.len, &nd))
		return HM_EINVAL;
	if (nd / 4 * 3 + (nd % 4 ? nd % 4 - 1 : 0) > cap)
		return HM_ETOOBIG;
	for (size_t i = 0; i < nd; i++) {
		acc = acc << 6 | (uint32_t)b64_val(b->raw.ptr[i]);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	*n = o;
	return HM_OK;
}

/* ---- serialization ---- */

void hm_sf_put(struct hm_sf_out *o, const void *p, size_t n)
{
	if (o->failed)
		return;
	if (n > o->cap - o->len) {
		o->failed = true;
		return;
	}
	if (n > 0)
		memcpy(o->buf + o->len, p, n);
	o->len += n;
}

static void put_c(struct hm_sf_out *o, char ch)
{
	hm_sf_put(o, &ch, 1);
}

static void put_int(struct hm_sf_out *o, int64_t v)
{
	char tmp[24];
	size_t i = sizeof(tmp);
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	do {
		tmp[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u > 0);
	if (v < 0)
		tmp[--i] = '-';
	hm_sf_put(o, tmp + i, sizeof(tmp) - i);
}

/* 4.1.5: the integer part, '.', then 1 to 3 fractional digits without trailing zeros */
static void put_decimal(struct hm_sf_out *o, int64_t milli)
{
	uint64_t u = milli < 0 ? (uint64_t)0 - (uint64_t)milli : (uint64_t)milli;
	char frac[3] = {(char)('0' + u / 100 % 10), (char)('0' + u / 10 % 10), (char)('0' + u % 10)};
	size_t nf = 3;

	if (milli < 0)
		put_c(o, '-');
	put_int(o, (int64_t)(u / 1000));
	put_c(o, '.');
	while (nf > 1 && frac[nf - 1] == '0')
		nf--;
	hm_sf_put(o, frac, nf);
}

void hm_sf_put_bare(struct hm_sf_out *o, const struct hm_sf_bare *b)
{
	switch (b->type) {
	case HM_SF_INTEGER:
		put_int(o, b->num);
		break;
	case HM_SF_DECIMAL:
		put_decimal(o, b->num);
		break;
	case HM_SF_STRING:
		/* the parser kept the escapes, which are exactly the ones 4.1.6 writes */
		put_c(o, '"');
		hm_sf_put(o, b->raw.ptr, b->raw.len);
		put_c(o, '"');
		break;
	case HM_SF_TOKEN:
		hm_sf_put(o, b->raw.ptr, b->raw.len);
		break;
	case HM_SF_BYTES: {
		size_t nd = 0;

		while (nd < b->raw.len && b->raw.ptr[nd] != '=')
			nd++;
		put_c(o, ':');
		hm_sf_put(o, b->raw.ptr, nd);
		/* padding written canonically, whatever the sender did */
		hm_sf_put(o, "==", nd % 4 == 2 ? 2 : nd % 4 == 3 ? 1 : 0);
		put_c(o, ':');
		break;
	}
	case HM_SF_BOOLEAN:
		hm_sf_put(o, b->num ? "?1" : "?0", 2);
		break;
	default:
		o->failed = true;
		break;
	}
}

void hm_sf_put_params(struct hm_sf_out *o, const struct hm_sf_field *f, uint16_t first, uint16_t n)
{
	for (size_t i = first; i < (size_t)first + n && i < f->nparams; i++) {
		const struct hm_sf_param *p = &f->params[i];

		put_c(o, ';');
		hm_sf_put(o, p->key.ptr, p->key.len);
		if (p->value.type == HM_SF_BOOLEAN && p->value.num == 1)
			continue;
		put_c(o, '=');
		hm_sf_put_bare(o, &p->value);
	}
}

void hm_sf_put_item(struct hm_sf_out *o, const struct hm_sf_field *f, const struct hm_sf_item *it)
{
	hm_sf_put_bare(o, &it->bare);
	hm_sf_put_params(o, f, it->first_param, it->nparams);
}

void hm_sf_put_member_value(struct hm_sf_out *o, const struct hm_sf_field *f,
			    const struct hm_sf_member *m)
{
	if (!m->is_inner) {
		hm_sf_put_bare(o, &m->bare);
	} else {
		put_c(o, '(');
		for (size_t i = 0; i < m->nitems; i++) {
			if (i > 0)
				put_c(o, ' ');
			hm_sf_put_item(o, f, &f->items[m->first_item + i]);
		}
		put_c(o, ')');
	}
	hm_sf_put_params(o, f, m->first_param, m->nparams);
}

void hm_sf_put_field(struct hm_sf_out *o, const struct hm_sf_field *f)
{
	for (size_t i = 0; i < f->nmembers; i++) {
		const struct hm_sf_member *m = &f->members[i];

		if (i > 0)
			hm_sf_put(o, ", ", 2);
		if (f->kind != HM_SF_KIND_DICT) {
			hm_sf_put_member_value(o, f, m);
			continue;
		}
		hm_sf_put(o, m->key.ptr, m->key.len);
		/* 4.1.2: a member whose value is Boolean true is written as its key and params */
		if (!m->is_inner && m->bare.type == HM_SF_BOOLEAN && m->bare.num == 1) {
			hm_sf_put_params(o, f, m->first_param, m->nparams);
			continue;
		}
		put_c(o, '=');
		hm_sf_put_member_value(o, f, m);
	}
}

int hm_sf_serialize(const struct hm_sf_field *f, uint8_t *out, size_t cap, size_t *len)
{
	struct hm_sf_out o = {out, cap, 0, false};

	hm_sf_put_field(&o, f);
	*len = o.failed ? 0 : o.len;
	return o.failed ? HM_ETOOBIG : HM_OK;
}
