/*
 * item.c - the content rules of a verify item (see item.h; PROTOCOL.md section 7): those the
 * schemes share, and the dispatch to each scheme's own (scheme_*.c).
 */
#include "proto/item.h"

#include <string.h>

#include "proto/scheme.h"

bool hm_rule_scope(struct hm_str s)
{
	return hm_lex_scope(s.ptr, s.len);
}

/*
 * Some byte of x is below 0x20 or is 0x7f. Exact: a borrow only starts at a byte below the
 * bound, and bytes from 0x80 on are masked out by ~x (they are allowed).
 */
static bool word_has_ctl(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	const uint64_t del = x ^ (ones * 0x7f);

	return (((x - ones * 0x20) & ~x) | ((del - ones) & ~del)) & highs;
}

bool hm_rule_no_ctl(struct hm_str s)
{
	size_t i = 0;
	uint64_t w;

	for (; i + sizeof(w) <= s.len; i += sizeof(w)) {
		memcpy(&w, s.ptr + i, sizeof(w));
		if (word_has_ctl(w))
			return false;
	}
	for (; i < s.len; i++)
		if (s.ptr[i] < 0x20 || s.ptr[i] == 0x7f)
			return false;
	return true;
}

/* rfc9421 header values: HTAB is allowed (RFC 9421 2.1 strips it at the ends, keeps it inside) */
static bool no_ctl_but_tab(struct hm_str s)
{
	for (size_t i = 0; i < s.len; i++)
		if ((s.ptr[i] < 0x20 && s.ptr[i] != '\t') || s.ptr[i] == 0x7f)
			return false;
	return true;
}

bool hm_rule_path(struct hm_str s)
{
	return s.len >= 1 && s.ptr[0] == '/' && hm_rule_no_ctl(s);
}

bool hm_rule_headers(const struct hm_item *it, size_t max, bool tab_ok)
{
	if (it->nheaders > max)
		return false;
	for (size_t i = 0; i < it->nheaders; i++) {
		const struct hm_header *h = &it->headers[i];

		if (!hm_lex_token(h->name.ptr, h->name.len, SIZE_MAX, true))
			return false;
		if (!(tab_ok ? no_ctl_but_tab(h->value) : hm_rule_no_ctl(h->value)))
			return false;
	}
	return true;
}

const struct hm_scheme_ops *hm_scheme_of(enum hm_scheme s)
{
	switch (s) {
	case HM_SCHEME_HMACD_V1:
		return &hm_scheme_v1;
	case HM_SCHEME_RFC9421:
		return &hm_scheme_rfc9421;
	}
	return NULL;
}

int hm_item_check(const struct hm_item *it)
{
	const struct hm_scheme_ops *sc = hm_scheme_of(it->scheme);

	return sc != NULL ? sc->check(it) : HM_EMALFORMED;
}
