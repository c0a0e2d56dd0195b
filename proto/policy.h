/*
 * policy.h - RFC 9421 coverage policies: which components a signature must cover, and whether
 * `created` / `nonce` are required, the age of `created` checked, and Content-Digest required
 * when the request has a body.
 *
 * A policy belongs to a scope (tenant, container), or to a whole tenant; the key store keeps
 * them (keystore.h: hm_ks_policy_*) and the daemon falls back to hm_policy_default(). This file
 * is pure: parsing the admin's text, the canonical form, and the binary encoding kept in the
 * store. No LMDB, no msgpack, no I/O.
 *
 * Components are kept in their canonical form: the RFC 8941 serialization of the component
 * identifier, a String item with its parameters, quotes included ("\"@method\"",
 * "\"content-digest\";sf", "\"@query-param\";name=\"id\""). That is exactly what
 * hm_sf_put_item() writes for an identifier of a parsed Signature-Input, so coverage is decided
 * by comparing strings, with no second parser on the verify path.
 *
 * Accepted components (anything else is refused, so a typo can never silently weaken a policy):
 *   derived: @method @target-uri @authority @scheme @request-target @path @query, no parameters;
 *            @query-param with exactly one parameter name="..." (a non-empty String; a Token is
 *            taken as the String of the same text).
 *   fields:  a lower-case field name (tchar), with optional ;sf, ;bs (Boolean true only) and
 *            ;key="k" (k a dictionary key, 1..64 bytes; a Token is taken as a String); ;bs may
 *            not be combined with ;sf or ;key (RFC 9421 section 2.1.3).
 * Parameters keep the order the admin wrote them in, as a signer's serialization does.
 */
#ifndef HM_POLICY_H
#define HM_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/errors.h"

#define HM_POLICY_MAX_COMPONENTS 16
#define HM_POLICY_COMPONENT_MAX 128 /* serialized identifier, e.g. @query-param;name="id" */

#define HM_POLICY_MAX_V1_HEADERS 16
#define HM_POLICY_HEADER_MAX 64 /* a header name an hmacd-v1 signature must include */

/* Binary encoding (hm_policy_encode): see there. */
#define HM_POLICY_ENC_VERSION 2u
#define HM_POLICY_ENC_MAX                                                      \
	(3 + HM_POLICY_MAX_COMPONENTS * (1 + HM_POLICY_COMPONENT_MAX) + 2 + \
	 HM_POLICY_MAX_V1_HEADERS * (1 + HM_POLICY_HEADER_MAX))

/* Where an effective policy came from. */
enum hm_policy_source {
	HM_POLICY_DEFAULT, /**< no stored policy applies: the daemon-wide default */
	HM_POLICY_TENANT,  /**< the tenant's own policy (no container given when it was set) */
	HM_POLICY_SCOPE,   /**< the policy of exactly this (tenant, container) */
};

struct hm_policy {
	/* rfc9421 items */
	size_t ncomponents;
	char components[HM_POLICY_MAX_COMPONENTS][HM_POLICY_COMPONENT_MAX + 1]; /* canonical */
	bool require_created;    /**< a signature without `created` is insufficient */
	bool require_nonce;      /**< a signature without `nonce` is insufficient */
	bool check_age;          /**< `created` / `expires` compared with the clock and skew */
	bool digest_when_body;   /**< with a body, content-digest must be covered */
	bool query_when_present; /**< with a query in the target, @query must be covered */
	/*
	 * hmacd-v1 items: their canonical string always binds method, path and query, body, ts;
	 * the policy says whether a nonce is required and which headers must be signed.
	 */
	bool v1_nonce;
	size_t v1_nheaders;
	char v1_headers[HM_POLICY_MAX_V1_HEADERS][HM_POLICY_HEADER_MAX + 1]; /* lower-case names */
};

/* "default", "tenant", "scope" (the words `hmacctl policy show` prints). */
const char *hm_policy_source_name(enum hm_policy_source s);

/*
 * The daemon-wide default: rfc9421 @method @path @authority, and created, nonce, the age
 * check, content-digest with a body and @query with a query all required; hmacd-v1: nothing
 * beyond what its canonical string binds.
 */
void hm_policy_default(struct hm_policy *p);

/*
 * Whether p can keep its promises. A required nonce is only remembered while the signature can
 * still pass the clock (created within --skew): without `created` required and the age
 * checked, the same request replays once --skew has passed. HM_OK, or HM_EINVAL with *why set
 * (a static sentence).
 */
int hm_policy_check(const struct hm_policy *p, const char **why) HM_MUSTCHECK;

/*
 * Adds an hmacd-v1 header requirement: a lower-case token name of 1..HM_POLICY_HEADER_MAX
 * bytes (an upper-case one is refused, not folded), once. HM_OK, HM_EINVAL, HM_ETOOBIG.
 */
int hm_policy_require_v1_header(struct hm_policy *p, const char *name) HM_MUSTCHECK;

/*
 * Parses one component as the admin writes it ("@method", "content-digest;sf",
 * "@query-param;name=id" or ;name="id", or already quoted: "\"@method\"") into its canonical
 * serialization in out (NUL-terminated). Upper-case field names are refused, not folded.
 * HM_OK, or HM_EINVAL (not an accepted component, or canonical form over
 * HM_POLICY_COMPONENT_MAX bytes); out is "" after a failure.
 */
int hm_policy_component_parse(const char *in,
			      char out[static HM_POLICY_COMPONENT_MAX + 1]) HM_MUSTCHECK;

/*
 * Writes a canonical component in the admin's form to out[0..cap) (NUL-terminated): the name
 * without its quotes, parameters as serialized: "@method", "content-digest;sf",
 * "@query-param;name=\"id\"". It parses back with hm_policy_component_parse() to the same
 * canonical form. HM_OK, HM_EINVAL (not a canonical component), HM_ETOOBIG (cap too small).
 */
int hm_policy_component_render(const char *canon, char *out, size_t cap) HM_MUSTCHECK;

/*
 * Parses `in` (as hm_policy_component_parse) and appends it to p->components unless p already
 * has it. HM_OK, HM_EINVAL (bad component), HM_ETOOBIG (already HM_POLICY_MAX_COMPONENTS).
 */
int hm_policy_require(struct hm_policy *p, const char *in) HM_MUSTCHECK;

/* True if p lists the canonical component `canon`. */
bool hm_policy_has(const struct hm_policy *p, const char *canon);

/*
 * The store's encoding of p into out[0..cap), *len set; at most HM_POLICY_ENC_MAX bytes:
 *   u8 version (2), u8 flags (bit 0 created, 1 nonce, 2 age check, 3 digest when body, 4 query
 *   when present; others zero), u8 n (0..16), then n times u8 length (1..128) and the
 *   canonical component bytes; then u8 v1 flags (bit 0 nonce), u8 m (0..16) and m times u8
 *   length (1..64) and a header name.
 * Version 1 (written before the query and hmacd-v1 rules existed) ends after the components;
 * it decodes with the query required and nothing for hmacd-v1.
 * HM_OK, HM_EINVAL (over a count, or a component or name that is not canonical), HM_ETOOBIG.
 */
int hm_policy_encode(const struct hm_policy *p, uint8_t *out, size_t cap,
		     size_t *len) HM_MUSTCHECK;

/*
 * Checked decoding of hm_policy_encode()'s output: exact length, known version, no unknown
 * flag, every component and name canonical. A policy that fails hm_policy_check() (stored by
 * an older hmacctl) comes back as it is enforced: a required nonce also requires `created`
 * and the age check. HM_OK or HM_EMALFORMED (p is then the empty policy).
 */
int hm_policy_decode(const uint8_t *in, size_t len, struct hm_policy *p) HM_MUSTCHECK;

#endif
