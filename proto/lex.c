/* lex.c - the lexical rules of hmacd (see lex.h). */
#include "proto/lex.h"

#include <string.h>

static bool is_alnum(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool hm_lex_tchar(uint8_t c)
{
	return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

bool hm_lex_token(const uint8_t *p, size_t n, size_t max, bool lower_only)
{
	if (p == NULL || n < 1 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!hm_lex_tchar(p[i]) || (lower_only && p[i] >= 'A' && p[i] <= 'Z'))
			return false;
	}
	return true;
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
static bool name_of(const uint8_t *p, size_t n, size_t max, const char *extra)
{
	if (p == NULL || n < 1 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!is_alnum(p[i]) && (p[i] == '\0' || strchr(extra, p[i]) == NULL))
			return false;
	}
	return true;
}

bool hm_lex_scope(const uint8_t *p, size_t n)
{
	return name_of(p, n, HM_SCOPE_MAX, "._:/-");
}

bool hm_lex_keyid(const uint8_t *p, size_t n)
{
	return name_of(p, n, HM_KEYID_MAX, "._:/+=@~-");
}

bool hm_lex_is(const uint8_t *p, size_t n, const char *lit)
{
	size_t len = strlen(lit);

	return n == len && (len == 0 || memcmp(p, lit, len) == 0);
}
