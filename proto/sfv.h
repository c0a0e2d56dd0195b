/*
 * sfv.h - RFC 8941 Structured Field Values: a bounded, zero-allocation parser and serializer.
 *
 * What RFC 9421 (HTTP Message Signatures) needs: Dictionaries (Signature, Signature-Input),
 * Lists, Items, Inner Lists, Parameters, and the bare items Integer, Decimal, String, Token,
 * Byte Sequence and Boolean. Parsing follows RFC 8941 section 4.2 step by step; serializing
 * follows section 4.1, which RFC 9421 section 2.3 needs because a signature base holds the
 * *serialized* form of the covered components, not the bytes the signer sent.
 *
 * Memory: a parsed field is one fixed-capacity struct hm_sf_field (about 10 KiB) whose spans
 * point into the caller's input, which must outlive it. Inner-list items and parameters live in
 * two pools inside the struct; members and items refer to them by index. Nothing is allocated.
 *
 * Choices where RFC 8941 leaves room (all are documented limits, checked before any write):
 *   - Decimals are parsed and kept in thousandths (num = value * 1000).
 *   - Byte Sequences: '=' padding may be missing (RFC 8941 4.2.7: parsers SHOULD NOT fail), and
 *     is added back when serializing; non-zero pad bits are refused (a second spelling of the
 *     same bytes would serialize differently from what the signer sent).
 *   - A key repeated in a Dictionary or in Parameters overwrites the earlier value in place,
 *     exactly as RFC 8941 says (the member keeps its first position).
 *   - Over-capacity (members, items, parameters) is malformed, like any other violation.
 *
 * Every parse function returns HM_OK or HM_EMALFORMED (including over-capacity), never reads
 * outside [in, in + len), and leaves *f describing nothing useful after a failure.
 */
#ifndef HM_SFV_H
#define HM_SFV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/errors.h"

#define HM_SF_MAX_MEMBERS 16   /* members of a Dictionary or List */
#define HM_SF_MAX_INNER 32     /* items of one Inner List */
#define HM_SF_MAX_PARAMS 8     /* parameters of one item, inner list or member */
#define HM_SF_MAX_ITEMS 64     /* inner-list items of a whole field (pool) */
#define HM_SF_MAX_PARAM_POOL 128 /* parameters of a whole field (pool) */

enum hm_sf_type {
	HM_SF_INTEGER, /* num: -999999999999999 ..= 999999999999999 */
	HM_SF_DECIMAL, /* num: value in thousandths, |value| < 10^12 */
	HM_SF_STRING,  /* raw: the bytes between the quotes, escapes kept (\" and \\ only) */
	HM_SF_TOKEN,   /* raw: the token */
	HM_SF_BYTES,   /* raw: the base64 text between the colons, maybe without padding */
	HM_SF_BOOLEAN  /* num: 0 or 1 */
};

/* A byte string in the parsed input (not NUL-terminated). */
struct hm_sf_span {
	const uint8_t *ptr;
	size_t len;
};

struct hm_sf_bare {
	enum hm_sf_type type;
	int64_t num;
	struct hm_sf_span raw;
};

struct hm_sf_param {
	struct hm_sf_span key;   /* lcalpha / '*' then lcalpha DIGIT _ - . * */
	struct hm_sf_bare value; /* Boolean true when the parameter has no "=value" */
};

/* An item of an Inner List: its parameters are params[first_param .. first_param + nparams). */
struct hm_sf_item {
	struct hm_sf_bare bare;
	uint16_t first_param, nparams;
};

/*
 * A member of a Dictionary or List, or the single Item of an Item field. If is_inner, it is an
 * Inner List of items[first_item .. first_item + nitems) and the parameters belong to the
 * inner list; otherwise it is an Item with value `bare`. key is empty in a List or Item field.
 */
struct hm_sf_member {
	struct hm_sf_span key;
	bool is_inner;
	struct hm_sf_bare bare;
	uint16_t first_item, nitems;
	uint16_t first_param, nparams;
};

enum hm_sf_kind { HM_SF_KIND_ITEM, HM_SF_KIND_LIST, HM_SF_KIND_DICT };

struct hm_sf_field {
	enum hm_sf_kind kind;
	size_t nmembers;
	struct hm_sf_member members[HM_SF_MAX_MEMBERS];
	size_t nitems;
	struct hm_sf_item items[HM_SF_MAX_ITEMS];
	size_t nparams;
	struct hm_sf_param params[HM_SF_MAX_PARAM_POOL];
};

/*
 * Parse a whole field value of the given kind (RFC 8941 4.2). An empty value (or only spaces)
 * is an empty List or Dictionary, and malformed for an Item. HM_OK or HM_EMALFORMED.
 */
int hm_sf_parse(const uint8_t *in, size_t len, enum hm_sf_kind kind,
		struct hm_sf_field *f) HM_MUSTCHECK;

/*
 * Parses one more field line of a List or Dictionary into f, with the result RFC 9110 5.3 and
 * RFC 8941 4.2 give for the lines joined by ", " (a repeated dictionary key overwrites, list
 * members append), without copying them into one buffer. Stricter than a real join in one
 * corner: a String cannot span two lines (`a="x` then `y"`), it is malformed instead. An
 * Item field, an empty line, or an f that holds no member yet (an empty first line) is
 * malformed, as the joined value would be. HM_OK or HM_EMALFORMED.
 */
int hm_sf_parse_more(const uint8_t *in, size_t len, struct hm_sf_field *f) HM_MUSTCHECK;

/* The member with this key (compared byte for byte), or NULL. */
const struct hm_sf_member *hm_sf_dict_get(const struct hm_sf_field *f, const char *key,
					  size_t keylen);

/* The parameter with this key among params[first .. first + n), or NULL. */
const struct hm_sf_bare *hm_sf_param_get(const struct hm_sf_field *f, uint16_t first, uint16_t n,
					 const char *key);

/* Length of a String's value once unescaped. */
size_t hm_sf_string_len(const struct hm_sf_bare *b);
/* True if b is a String whose unescaped value is exactly s[0..n). */
bool hm_sf_string_eq(const struct hm_sf_bare *b, const void *s, size_t n);

/*
 * Decodes a Byte Sequence into out[0..cap). HM_OK with *n set, HM_ETOOBIG if cap is short,
 * HM_EINVAL if b is not a Byte Sequence. The output is not secret: no constant-time claim.
 */
int hm_sf_bytes_decode(const struct hm_sf_bare *b, uint8_t *out, size_t cap,
		       size_t *n) HM_MUSTCHECK;

/* ---- serialization (RFC 8941 4.1) into a fixed buffer ---- */

/*
 * A caller-owned output window with a sticky error (STYLE.md 9): appends never write past
 * cap; the first one that does not fit sets `failed` and later ones do nothing. Initialise
 * with {buf, cap, 0, false}; check `failed` once at the end.
 */
struct hm_sf_out {
	uint8_t *buf;
	size_t cap;
	size_t len;
	bool failed;
};

void hm_sf_put(struct hm_sf_out *o, const void *p, size_t n);
void hm_sf_put_bare(struct hm_sf_out *o, const struct hm_sf_bare *b);
/* ";key[=value]" for each parameter of the range, in order. */
void hm_sf_put_params(struct hm_sf_out *o, const struct hm_sf_field *f, uint16_t first,
		      uint16_t n);
/* An inner-list item, or a member's value: the Item or the Inner List with parameters. */
void hm_sf_put_item(struct hm_sf_out *o, const struct hm_sf_field *f, const struct hm_sf_item *it);
void hm_sf_put_member_value(struct hm_sf_out *o, const struct hm_sf_field *f,
			    const struct hm_sf_member *m);
/* The whole field: members joined by ", " (Dictionary members as key[=value]). */
void hm_sf_put_field(struct hm_sf_out *o, const struct hm_sf_field *f);

/* hm_sf_put_field() into out[0..cap). HM_OK with *len set, or HM_ETOOBIG. */
int hm_sf_serialize(const struct hm_sf_field *f, uint8_t *out, size_t cap,
		    size_t *len) HM_MUSTCHECK;

#endif
