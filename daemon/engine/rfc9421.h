/*
 * rfc9421.h - what an RFC 9421 (HTTP Message Signatures) verify item says, before any key.
 *
 * The verify engine (verify.c) owns keys, MACs and verdicts; this module owns the public half
 * of an rfc9421 item: it parses the Signature-Input and Signature fields (RFC 8941), picks the
 * signature by label, checks the signature parameters (alg, keyid, created, expires, nonce),
 * checks the covered components against the scope's coverage policy, checks Content-Digest
 * (RFC 9530) against the body when both are there, and builds the signature base (RFC 9421
 * section 2.5) that the MAC is computed over. Everything it decides is derived from what the
 * sender sent and the policy, never from a secret or from whether a key exists.
 *
 * Knows nothing of sockets, msgpack or LMDB. No allocation per item: the parse scratch is
 * allocated once with the verifier (struct hm_rfc_scratch is about 29 KiB).
 */
#ifndef HM_RFC9421_H
#define HM_RFC9421_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/digest.h"
#include "proto/item.h"
#include "proto/policy.h"
#include "proto/sfv.h"

/* The only algorithm hmacd verifies (RFC 9421 section 3.3.3). */
#define HM_RFC_ALG "hmac-sha256"

/*
 * A covered component as the policy check compares it: its canonical serialization (what a
 * policy holds) and, for a field covered with only ;sf or ;bs (both bind the field's whole
 * value), also the plain name, which meets a requirement of the plain field.
 */
struct hm_rfc_covered {
	char id[HM_POLICY_COMPONENT_MAX + 1];
	size_t id_len; /* 0: longer than any policy entry (it then meets none) */
	char plain[HM_POLICY_COMPONENT_MAX + 1];
	size_t plain_len; /* 0: not a whole-value field component */
};

/* Parsed fields of one item; reused from item to item. */
struct hm_rfc_scratch {
	struct hm_sf_field input;     /* Signature-Input */
	struct hm_sf_field signature; /* Signature */
	/* the chosen signature's components, serialized once for the policy check */
	size_t ncovered;
	struct hm_rfc_covered covered[HM_SF_MAX_INNER];
};

enum hm_rfc_status {
	HM_RFC_READY,     /* judge it: look the key up by keyid and compare the MAC */
	HM_RFC_MALFORMED, /* cannot be judged (verdict MALFORMED) */
	HM_RFC_COVERAGE,  /* the policy is not met (verdict INSUFFICIENT_COVERAGE) */
	HM_RFC_FAULT,     /* the crypto library failed (a server fault: the batch fails) */
};

enum hm_rfc_digest {
	HM_RFC_DIGEST_UNCHECKED, /* Content-Digest not covered */
	HM_RFC_DIGEST_MATCH,
	HM_RFC_DIGEST_MISMATCH,  /* judged like a wrong signature: the body was altered */
};

/* What a READY item says. Spans point into the item (and so into the frame). */
struct hm_rfc_check {
	struct hm_str keyid;   /* the keyid parameter as sent (String, escapes kept) */
	uint8_t sig[HM_MAC_LEN];
	size_t base_len;       /* signature base bytes written to the caller's buffer */
	bool has_created, has_expires;
	int64_t created, expires;
	struct hm_str nonce;   /* len 0: no nonce parameter */
	enum hm_rfc_digest digest;
	const char *why;       /* MALFORMED / COVERAGE: a static reason for debug logs */
};

/*
 * Reads item `it` (scheme rfc9421, already checked by hm_item_check) under policy `pol`;
 * builds the signature base into base[0..cap). Returns the status; on READY *out is complete.
 * dctx is the caller's digest context for Content-Digest (no allocation per call).
 * A base longer than cap is MALFORMED (the caller sizes cap from the frame limit).
 */
enum hm_rfc_status hm_rfc9421_read(const struct hm_item *it, const struct hm_policy *pol,
				   struct hm_rfc_scratch *s, struct hm_digest_ctx *dctx, uint8_t *base,
				   size_t cap, struct hm_rfc_check *out);

/*
 * True if the item's clock parameters fail the policy at time now with skew seconds of
 * tolerance: created older than now - skew or newer than now + skew, or expires <= now.
 * Always false when the policy turns the age check off.
 */
bool hm_rfc9421_stale(const struct hm_rfc_check *c, const struct hm_policy *pol, int64_t now,
		      int64_t skew);

#endif
