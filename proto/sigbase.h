/*
 * sigbase.h - the RFC 9421 (HTTP Message Signatures) signature base of a request.
 *
 * Given a request described by plain fields and the parsed Signature-Input dictionary, builds
 * the signature base of RFC 9421 section 2.5: one line per covered component,
 *
 *     <serialized component identifier> ": " <component value> LF
 *
 * then the line `"@signature-params": <serialized inner list with its parameters>` with no LF
 * after it. The MAC is computed over exactly these bytes (hmac-sha256 for hmacd).
 *
 * Supported components (request side only):
 *   @method, @target-uri, @authority, @scheme, @request-target, @path, @query,
 *   @query-param;name="..." (section 2.2.8), and HTTP fields by lower-case name with no
 *   parameter, with ;sf, with ;key="member" (Dictionary member) or with ;bs.
 * Component values follow section 2.1 and 2.2:
 *   - a field: every instance in arrival order, each stripped of leading and trailing SP/HTAB,
 *     joined by ", " (header names are matched ASCII-case-insensitively);
 *   - ;sf: the joined value parsed as the structured type the field is registered with (a
 *     built-in table: Dictionaries content-digest, repr-digest, want-content-digest,
 *     want-repr-digest, signature, signature-input, accept-signature, priority; Lists
 *     cache-status, proxy-status, accept-ch, client-cert-chain; Item client-cert) and
 *     re-serialized; any other field with ;sf is refused (guessing a type could serialize a
 *     duplicate-key dictionary differently from the signer); the field's lines are parsed
 *     as their ", " join would be (hm_sf_parse_more(): a String split across two lines is
 *     refused rather than joined);
 *   - ;key="k": the field's lines parsed as a Dictionary the same way, then member k
 *     re-serialized;
 *   - ;bs: each instance, stripped, wrapped as a Byte Sequence, joined by ", ";
 *   - @authority: lower-cased, with an empty or default port (:443 for https, :80 for http)
 *     removed; @target-uri uses the same normalised authority and lower-case scheme;
 *   - @path: the path as sent (not decoded), "/" if empty; @query: "?" plus the query as
 *     sent, or "?" alone when there is none;
 *   - @query-param: the query parsed as application/x-www-form-urlencoded ('+' is a space,
 *     %XX decoded), then name and value re-encoded with the urlencoded percent-encode set
 *     (space as %20, upper-case hex). A parameter whose decoded name or value is not valid
 *     UTF-8 makes the build fail (the WHATWG parser would substitute U+FFFD; refusing is the
 *     conservative reading). A name that occurs more than once fails (RFC 9421 2.2.8: it
 *     MUST NOT be included).
 *
 * Memory and time: no allocation; about 11 KiB of stack (a scratch parse for ;sf / ;key);
 * linear in the input sizes times the number of components.
 */
#ifndef HM_SIGBASE_H
#define HM_SIGBASE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/errors.h"
#include "proto/item.h"
#include "proto/sfv.h"

/* Why a build failed: X(name, text). HM_SB_OK is success. */
#define HM_SB_REASONS(X)                                                                   \
	X(HM_SB_OK, "ok")                                                                  \
	X(HM_SB_BAD_REQUEST, "request field holds a forbidden byte or is empty")           \
	X(HM_SB_NOT_INNER_LIST, "signature input member is not an inner list")            \
	X(HM_SB_BAD_COMPONENT, "component identifier is not a valid lower-case string")   \
	X(HM_SB_DUPLICATE_COMPONENT, "component identifier covered twice")                 \
	X(HM_SB_UNKNOWN_DERIVED, "unknown derived component")                              \
	X(HM_SB_RESPONSE_ONLY, "derived component only valid for a response")             \
	X(HM_SB_BAD_PARAM, "unknown or misplaced component parameter")                     \
	X(HM_SB_INCOMPATIBLE_PARAMS, ";bs combined with ;sf or ;key")                      \
	X(HM_SB_MISSING_FIELD, "covered field is not in the request")                      \
	X(HM_SB_FIELD_VALUE, "field value holds a control byte")                            \
	X(HM_SB_SF_UNKNOWN_TYPE, ";sf on a field of unknown structured type")             \
	X(HM_SB_SF_PARSE, "field value does not parse as its structured type")             \
	X(HM_SB_KEY_NOT_FOUND, ";key member not in the dictionary")                        \
	X(HM_SB_MISSING_QUERY_PARAM, "covered query parameter is not in the query")        \
	X(HM_SB_AMBIGUOUS_QUERY_PARAM, "covered query parameter occurs more than once")    \
	X(HM_SB_QUERY_NOT_UTF8, "query parameter does not decode to UTF-8")                \
	X(HM_SB_BAD_SIG_PARAM, "signature parameter of the wrong type")                    \
	X(HM_SB_NO_LABEL, "no signature with that label")                                  \
	X(HM_SB_AMBIGUOUS_LABEL, "several signatures and no label chosen")

enum hm_sb_reason {
#define HM_SB_ENUM(name, text) name,
	HM_SB_REASONS(HM_SB_ENUM)
#undef HM_SB_ENUM
	HM_SB_REASON__MAX
};

/* A short static text for a reason; "unknown reason" outside the enum. Never NULL. */
const char *hm_sb_reason_text(enum hm_sb_reason r);

/*
 * The request as the app server saw it. All spans are borrowed for the duration of the call.
 * method: as sent (case kept). authority: host[:port] (the Host header or :authority).
 * path: path plus "?query" exactly as sent, starting with '/'. scheme: "http" or "https";
 * empty means "https". headers: every header as [name, value], in arrival order, repeats
 * allowed; values must hold no byte below 0x20 other than HTAB, and no 0x7F.
 */
struct hm_sb_request {
	struct hm_str method;
	struct hm_str authority;
	struct hm_str path;
	struct hm_str scheme;
	size_t nheaders;
	const struct hm_header *headers;
};

/*
 * The signature parameters of the chosen signature, pointing into the Signature-Input field
 * (NULL when absent). Types are checked: created and expires are Integers, the others Strings
 * (RFC 9421 2.3). Other parameters are allowed and are covered (they are serialized into the
 * @signature-params line) but not interpreted.
 */
struct hm_sb_sigparams {
	const struct hm_sf_bare *created;
	const struct hm_sf_bare *expires;
	const struct hm_sf_bare *nonce;
	const struct hm_sf_bare *alg;
	const struct hm_sf_bare *keyid;
	const struct hm_sf_bare *tag;
};

/* The request fields of an rfc9421 item (proto/msg.h), as hm_sb_build() takes them. */
struct hm_sb_request hm_sb_request_of(const struct hm_item *it);

/*
 * Picks the Signature-Input member to verify: the one keyed `label`, or, when label is empty,
 * the only member. HM_OK with *m set; HM_EMALFORMED with *why = HM_SB_NO_LABEL (no such
 * label, or an empty dictionary) or HM_SB_AMBIGUOUS_LABEL (no label and several members).
 */
int hm_sb_select(const struct hm_sf_field *sig_input, struct hm_str label,
		 const struct hm_sf_member **m, enum hm_sb_reason *why) HM_MUSTCHECK;

/*
 * Builds the signature base of `req` for member `m` of the parsed Signature-Input dictionary
 * `sig_input` (m must point into sig_input->members), into out[0..cap). Not NUL-terminated.
 * On success fills *params (may be NULL if not wanted).
 *
 * Returns HM_OK with *len set and *why = HM_SB_OK; HM_ETOOBIG if cap is too small (the
 * contents of out are then unspecified); HM_EMALFORMED with *why saying which rule failed
 * (a missing component, a duplicate identifier, an unknown derived component, ...). *len is
 * 0 on failure.
 */
int hm_sb_build(const struct hm_sb_request *req, const struct hm_sf_field *sig_input,
		const struct hm_sf_member *m, uint8_t *out, size_t cap, size_t *len,
		struct hm_sb_sigparams *params, enum hm_sb_reason *why) HM_MUSTCHECK;

/*
 * Parses the lines of one field as a single structured value of `kind`, the way hm_sb_build()
 * reads a covered `name;sf` or `name;key="k"` (and digest.c reads Content-Digest, so the two
 * cannot drift): every header among headers[0..nheaders) whose name equals name[0..name_len)
 * ASCII-case-insensitively, in arrival order, each stripped of leading and trailing SP/HTAB,
 * parsed as their ", " join would be (hm_sf_parse() for the first line, hm_sf_parse_more()
 * for the others).
 *
 * Returns HM_OK with *nlines the number of lines parsed into *f (0: no such header, and *f is
 * untouched), or HM_EMALFORMED when a line does not parse (*f then describes nothing useful).
 */
int hm_sb_parse_field_lines(const struct hm_header *headers, size_t nheaders,
			    const uint8_t *name, size_t name_len, enum hm_sf_kind kind,
			    struct hm_sf_field *f, size_t *nlines) HM_MUSTCHECK;

#endif
