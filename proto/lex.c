/* lex.c - the lexical rules of hmacd (see lex.h). */
#include "proto/lex.h"

#include <string.h>

/*
 * Byte classes, one table look-up per byte: the rules below are written once, as constant
 * expressions, and the table is made from them at compile time.
 */
#define ALNUM(c)                                                                                  \
	(((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') || ((c) >= '0' && (c) <= '9'))
#define IN4(c, a, b, d, e) ((c) == (a) || (c) == (b) || (c) == (d) || (c) == (e))
/* RFC 9110 tchar: ALPHA DIGIT and !#$%&'*+-.^_`|~ */
#define TCHAR(c)                                                                                  \
	(ALNUM(c) || IN4(c, '!', '#', '$', '%') || IN4(c, '&', '\'', '*', '+') ||                 \
	 IN4(c, '-', '.', '^', '_') || IN4(c, '`', '|', '~', '~'))
#define SCOPE(c) (ALNUM(c) || IN4(c, '.', '_', ':', '/') || (c) == '-')
#define KEYID(c) (SCOPE(c) || IN4(c, '+', '=', '@', '~'))

enum { C_TCHAR = 1, C_TCHAR_LOWER = 2, C_SCOPE = 4, C_KEYID = 8 };

#define CLS(c)                                                                                    \
	(uint8_t)((TCHAR(c) ? C_TCHAR : 0) |                                                      \
		  (TCHAR(c) && !((c) >= 'A' && (c) <= 'Z') ? C_TCHAR_LOWER : 0) |                 \
		  (SCOPE(c) ? C_SCOPE : 0) | (KEYID(c) ? C_KEYID : 0))
#define R4(n) CLS(n), CLS((n) + 1), CLS((n) + 2), CLS((n) + 3)
#define R16(n) R4(n), R4((n) + 4), R4((n) + 8), R4((n) + 12)
#define R64(n) R16(n), R16((n) + 16), R16((n) + 32), R16((n) + 48)

static const uint8_t classes[256] = {R64(0), R64(64), R64(128), R64(192)};

/* 1..max bytes, each of class `want`. */
static bool all_of(const uint8_t *p, size_t n, size_t max, uint8_t want)
{
	uint8_t all = want;

	if (p == NULL || n < 1 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		all &= classes[p[i]];
	return all == want;
}

bool hm_lex_tchar(uint8_t c)
{
	return (classes[c] & C_TCHAR) != 0;
}

bool hm_lex_token(const uint8_t *p, size_t n, size_t max, bool lower_only)
{
	return all_of(p, n, max, lower_only ? C_TCHAR_LOWER : C_TCHAR);
}

bool hm_lex_sf_key_first(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || c == '*';
}

bool hm_lex_sf_key_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("_-.*", c) != NULL);
}

bool hm_lex_sf_key(const uint8_t *p, size_t n, size_t max)
{
	if (p == NULL || n < 1 || n > max || !hm_lex_sf_key_first(p[0]))
		return false;
	for (size_t i = 1; i < n; i++) {
		if (!hm_lex_sf_key_char(p[i]))
			return false;
	}
	return true;
}

/* Names that go into logs, keys and JSON unescaped: no byte that would need escaping. */
bool hm_lex_scope(const uint8_t *p, size_t n)
{
	return all_of(p, n, HM_SCOPE_MAX, C_SCOPE);
}

bool hm_lex_keyid(const uint8_t *p, size_t n)
{
	return all_of(p, n, HM_KEYID_MAX, C_KEYID);
}

bool hm_lex_is(const uint8_t *p, size_t n, const char *lit)
{
	size_t len = strlen(lit);

	return n == len && (len == 0 || memcmp(p, lit, len) == 0);
}
