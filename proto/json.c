/*
 * json.c - a small, strict JSON reader (see json.h).
 *
 * A recursive-descent parser over a bounded cursor. It allocates each node with calloc() and
 * grows arrays by doubling; on any error the partial tree is freed by the caller of the failing
 * step, so jm_parse() returns either a whole tree or nothing.
 */
#include "proto/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JM_MAX_DEPTH 64

struct jm_parser {
	const unsigned char *p, *end, *start;
	char *err;
	size_t errlen;
	int rc; /* first error: HM_EMALFORMED or HM_ENOMEM */
};

static int fail(struct jm_parser *ps, const char *what)
{
	size_t line = 1, col = 1;

	if (ps->rc != HM_OK)
		return ps->rc;
	for (const unsigned char *q = ps->start; q < ps->p; q++) {
		if (*q == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	if (ps->errlen > 0)
		(void)snprintf(ps->err, ps->errlen, "line %zu col %zu: %s", line, col, what);
	ps->rc = HM_EMALFORMED;
	return ps->rc;
}

static int nomem(struct jm_parser *ps)
{
	if (ps->rc == HM_OK) {
		if (ps->errlen > 0)
			(void)snprintf(ps->err, ps->errlen, "out of memory");
		ps->rc = HM_ENOMEM;
	}
	return ps->rc;
}

static void skip_ws(struct jm_parser *ps)
{
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static bool take(struct jm_parser *ps, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, lit, n) != 0)
		return false;
	ps->p += n;
	return true;
}

void jm_free(struct jm_value *v)
{
	if (v == NULL)
		return;
	free(v->s);
	if (v->items != NULL) {
		for (size_t i = 0; i < v->len; i++)
			jm_free(v->items[i]);
		free(v->items);
	}
	if (v->members != NULL) {
		for (size_t i = 0; i < v->len; i++) {
			free(v->members[i].key);
			jm_free(v->members[i].value);
		}
		free(v->members);
	}
	free(v);
}

/* ---- strings ---- */

struct sbuf {
	char *p;
	size_t len, cap;
};

static int sb_put(struct sbuf *b, const void *src, size_t n)
{
	char *np;
	size_t ncap;

	if (b->len + n + 1 > b->cap) {
		ncap = b->cap ? b->cap : 32;
		while (ncap < b->len + n + 1)
			ncap *= 2;
		np = realloc(b->p, ncap);
		if (np == NULL)
			return HM_ENOMEM;
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, src, n);
	b->len += n;
	b->p[b->len] = '\0';
	return HM_OK;
}

static int hex4(struct jm_parser *ps, unsigned *out)
{
	unsigned v = 0;

	if (ps->end - ps->p < 4)
		return fail(ps, "short \\u escape");
	for (int i = 0; i < 4; i++) {
		unsigned char c = *ps->p++;

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return fail(ps, "bad hex digit in \\u escape");
	}
	*out = v;
	return HM_OK;
}

static int put_utf8(struct sbuf *b, unsigned cp)
{
	unsigned char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xC0 | (cp >> 6));
		u[1] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xE0 | (cp >> 12));
		u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (unsigned char)(0xF0 | (cp >> 18));
		u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	return sb_put(b, u, n);
}

/* Length of the valid UTF-8 sequence at p (at most avail bytes), or 0 if it is not one. */
static size_t utf8_seq(const unsigned char *p, size_t avail)
{
	unsigned cp;
	size_t n;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xC2 && p[0] <= 0xDF)
		n = 2;
	else if (p[0] >= 0xE0 && p[0] <= 0xEF)
		n = 3;
	else if (p[0] >= 0xF0 && p[0] <= 0xF4)
		n = 4;
	else
		return 0;
	if (avail < n)
		return 0;
	cp = p[0] & (0xFF >> (n + 1));
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

static int escape(struct jm_parser *ps, struct sbuf *b)
{
	unsigned cp, lo;
	unsigned char c, ch;
	int rc;

	if (ps->p >= ps->end)
		return fail(ps, "unterminated escape");
	c = *ps->p++;
	switch (c) {
	case '"': case '\\': case '/':
		ch = c;
		break;
	case 'b': ch = '\b'; break;
	case 'f': ch = '\f'; break;
	case 'n': ch = '\n'; break;
	case 'r': ch = '\r'; break;
	case 't': ch = '\t'; break;
	case 'u':
		rc = hex4(ps, &cp);
		if (rc != HM_OK)
			return rc;
		if (cp >= 0xDC00 && cp <= 0xDFFF)
			return fail(ps, "lone low surrogate");
		if (cp >= 0xD800 && cp <= 0xDBFF) {
			if (!take(ps, "\\u"))
				return fail(ps, "high surrogate without a low one");
			rc = hex4(ps, &lo);
			if (rc != HM_OK)
				return rc;
			if (lo < 0xDC00 || lo > 0xDFFF)
				return fail(ps, "high surrogate without a low one");
			cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
		}
		rc = put_utf8(b, cp);
		return rc == HM_OK ? HM_OK : nomem(ps);
	default:
		return fail(ps, "unknown escape");
	}
	rc = sb_put(b, &ch, 1);
	return rc == HM_OK ? HM_OK : nomem(ps);
}

/* At the opening quote. On success *out owns the bytes (NUL-terminated). */
static int parse_string(struct jm_parser *ps, char **out, size_t *len)
{
	struct sbuf b = {NULL, 0, 0};
	size_t n;
	int rc;

	ps->p++; /* the quote */
	rc = sb_put(&b, "", 0);
	if (rc != HM_OK)
		return nomem(ps);
	for (;;) {
		if (ps->p >= ps->end) {
			rc = fail(ps, "unterminated string");
			goto out;
		}
		if (*ps->p == '"') {
			ps->p++;
			break;
		}
		if (*ps->p == '\\') {
			ps->p++;
			rc = escape(ps, &b);
			if (rc != HM_OK)
				goto out;
			continue;
		}
		if (*ps->p < 0x20) {
			rc = fail(ps, "raw control byte in a string");
			goto out;
		}
		n = utf8_seq(ps->p, (size_t)(ps->end - ps->p));
		if (n == 0) {
			rc = fail(ps, "invalid UTF-8 in a string");
			goto out;
		}
		rc = sb_put(&b, ps->p, n);
		if (rc != HM_OK) {
			rc = nomem(ps);
			goto out;
		}
		ps->p += n;
	}
	*out = b.p;
	*len = b.len;
	return HM_OK;
out:
	free(b.p);
	return rc;
}

/* ---- numbers ---- */

static int parse_int(struct jm_parser *ps, struct jm_value *v)
{
	uint64_t mag = 0;
	size_t digits = 0;

	if (ps->p < ps->end && *ps->p == '-') {
		v->neg = true;
		ps->p++;
	}
	if (ps->p < ps->end && *ps->p == '0' && ps->end - ps->p > 1 && ps->p[1] >= '0' &&
	    ps->p[1] <= '9')
		return fail(ps, "leading zero");
	while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
		unsigned d = (unsigned)(*ps->p - '0');

		if (mag > (UINT64_MAX - d) / 10)
			return fail(ps, "integer out of range");
		mag = mag * 10 + d;
		digits++;
		ps->p++;
	}
	if (digits == 0)
		return fail(ps, "expected a digit");
	if (ps->p < ps->end && (*ps->p == '.' || *ps->p == 'e' || *ps->p == 'E'))
		return fail(ps, "not an integer (fractions and exponents are not supported)");
	if (v->neg && mag == 0)
		v->neg = false; /* -0 is 0 */
	v->type = JM_INT;
	v->mag = mag;
	return HM_OK;
}

/* ---- values ---- */

static int parse_value(struct jm_parser *ps, int depth, struct jm_value **out);

static int parse_array(struct jm_parser *ps, int depth, struct jm_value *v)
{
	struct jm_value *item, **ni;
	size_t cap = 0;
	int rc;

	v->type = JM_ARR;
	ps->p++; /* [ */
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == ']') {
		ps->p++;
		return HM_OK;
	}
	for (;;) {
		rc = parse_value(ps, depth + 1, &item);
		if (rc != HM_OK)
			return rc;
		if (v->len == cap) {
			cap = cap ? cap * 2 : 8;
			ni = realloc(v->items, cap * sizeof(*ni));
			if (ni == NULL) {
				jm_free(item);
				return nomem(ps);
			}
			v->items = ni;
		}
		v->items[v->len++] = item;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == ']') {
			ps->p++;
			return HM_OK;
		}
		return fail(ps, "expected ',' or ']'");
	}
}

static int parse_object(struct jm_parser *ps, int depth, struct jm_value *v)
{
	struct jm_member *nm;
	size_t cap = 0, klen;
	char *key;
	int rc;

	v->type = JM_OBJ;
	ps->p++; /* { */
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '}') {
		ps->p++;
		return HM_OK;
	}
	for (;;) {
		struct jm_value *val = NULL;

		skip_ws(ps);
		if (ps->p >= ps->end || *ps->p != '"')
			return fail(ps, "expected a key");
		rc = parse_string(ps, &key, &klen);
		if (rc != HM_OK)
			return rc;
		for (size_t i = 0; i < v->len; i++) {
			if (v->members[i].key_len == klen && memcmp(v->members[i].key, key, klen) == 0) {
				free(key);
				return fail(ps, "duplicate key");
			}
		}
		skip_ws(ps);
		if (ps->p >= ps->end || *ps->p != ':') {
			free(key);
			return fail(ps, "expected ':'");
		}
		ps->p++;
		rc = parse_value(ps, depth + 1, &val);
		if (rc != HM_OK) {
			free(key);
			return rc;
		}
		if (v->len == cap) {
			cap = cap ? cap * 2 : 8;
			nm = realloc(v->members, cap * sizeof(*nm));
			if (nm == NULL) {
				free(key);
				jm_free(val);
				return nomem(ps);
			}
			v->members = nm;
		}
		v->members[v->len].key = key;
		v->members[v->len].key_len = klen;
		v->members[v->len].value = val;
		v->len++;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == '}') {
			ps->p++;
			return HM_OK;
		}
		return fail(ps, "expected ',' or '}'");
	}
}

static int parse_value(struct jm_parser *ps, int depth, struct jm_value **out)
{
	struct jm_value *v;
	int rc;

	*out = NULL;
	if (depth > JM_MAX_DEPTH)
		return fail(ps, "nesting too deep");
	skip_ws(ps);
	if (ps->p >= ps->end)
		return fail(ps, "expected a value");
	v = calloc(1, sizeof(*v));
	if (v == NULL)
		return nomem(ps);
	switch (*ps->p) {
	case '{':
		rc = parse_object(ps, depth, v);
		break;
	case '[':
		rc = parse_array(ps, depth, v);
		break;
	case '"':
		v->type = JM_STR;
		rc = parse_string(ps, &v->s, &v->len);
		break;
	case 't':
	case 'f':
	case 'n':
		rc = HM_OK;
		if (take(ps, "true")) {
			v->type = JM_BOOL;
			v->b = true;
		} else if (take(ps, "false")) {
			v->type = JM_BOOL;
		} else if (take(ps, "null")) {
			v->type = JM_NULL;
		} else {
			rc = fail(ps, "unknown literal");
		}
		break;
	default:
		if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
			rc = parse_int(ps, v);
		else
			rc = fail(ps, "unexpected character");
		break;
	}
	if (rc != HM_OK) {
		jm_free(v);
		return rc;
	}
	*out = v;
	return HM_OK;
}

int jm_parse(const char *text, size_t len, struct jm_value **out, char *err, size_t errlen)
{
	struct jm_parser ps = {
		.p = (const unsigned char *)text,
		.end = (const unsigned char *)text + len,
		.start = (const unsigned char *)text,
		.err = err,
		.errlen = errlen,
		.rc = HM_OK,
	};
	struct jm_value *v = NULL;
	int rc;

	*out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	rc = parse_value(&ps, 1, &v);
	if (rc != HM_OK)
		return rc;
	skip_ws(&ps);
	if (ps.p != ps.end) {
		jm_free(v);
		return fail(&ps, "trailing bytes after the value");
	}
	*out = v;
	return HM_OK;
}

const struct jm_value *jm_get(const struct jm_value *obj, const char *key)
{
	size_t klen = strlen(key);

	if (obj == NULL || obj->type != JM_OBJ)
		return NULL;
	for (size_t i = 0; i < obj->len; i++)
		if (obj->members[i].key_len == klen && memcmp(obj->members[i].key, key, klen) == 0)
			return obj->members[i].value;
	return NULL;
}

const struct jm_value *jm_at(const struct jm_value *arr, size_t i)
{
	if (arr == NULL || arr->type != JM_ARR || i >= arr->len)
		return NULL;
	return arr->items[i];
}
