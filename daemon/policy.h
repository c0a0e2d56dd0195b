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

#include "errors.h"

#define HM_POLICY_MAX_COMPONENTS 16
#define HM_POLICY_COMPONENT_MAX 128 /* serialized identifier, e.g. @query-param;name="id" */

/* Binary encoding (hm_policy_encode): version byte, flags byte, count, then (len, bytes) each. */
#define HM_POLICY_ENC_VERSION 1u
#define HM_POLICY_ENC_MAX (3 + HM_POLICY_MAX_COMPONENTS * (1 + HM_POLICY_COMPONENT_MAX))

/* Where an effective policy came from. */
enum hm_policy_source {
	HM_POLICY_DEFAULT, /**< no stored policy applies: the daemon-wide default */
	HM_POLICY_TENANT,  /**< the tenant's own policy (no container given when it was set) */
	HM_POLICY_SCOPE,   /**< the policy of exactly this (tenant, container) */
};

struct hm_policy {
	size_t ncomponents;
	char components[HM_POLICY_MAX_COMPONENTS][HM_POLICY_COMPONENT_MAX + 1]; /* canonical */
	bool require_created;  /**< a signature without `created` is insufficient */
	bool require_nonce;    /**< a signature without `nonce` is insufficient */
	bool check_age;        /**< `created` / `expires` compared with the clock and skew */
	bool digest_when_body; /**< with a body, content-digest must be covered */
};

/* "default", "tenant", "scope" (the words `hmacctl policy show` prints). */
const char *hm_policy_source_name(enum hm_policy_source s);

/* The daemon-wide default: @method @path @authority; all four flags true. */
void hm_policy_default(struct hm_policy *p);

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
 *   u8 version (1), u8 flags (bit 0 created, 1 nonce, 2 age check, 3 digest when body; others
 *   zero), u8 n (0..16), then n times u8 length (1..128) and the canonical component bytes.
 * HM_OK, HM_EINVAL (more than 16 components, or one that is not canonical), HM_ETOOBIG.
 */
int hm_policy_encode(const struct hm_policy *p, uint8_t *out, size_t cap,
		     size_t *len) HM_MUSTCHECK;

/*
 * Checked decoding of hm_policy_encode()'s output: exact length, known version, no unknown
 * flag, every component canonical. HM_OK or HM_EMALFORMED (p is then the empty policy).
 */
int hm_policy_decode(const uint8_t *in, size_t len, struct hm_policy *p) HM_MUSTCHECK;

#endif
