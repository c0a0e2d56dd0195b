/*
 * verdict.h - the verdict codes answered per verify item (PROTOCOL.md, "Verdict codes").
 *
 * The numbers are a wire contract: never renumber, only append. When several verdicts apply,
 * the one that comes first in this order wins (PROTOCOL.md section 9):
 *   MALFORMED, INSUFFICIENT_COVERAGE, UNKNOWN_KEY, KEY_REVOKED, KEY_EXPIRED, BAD_SIGNATURE,
 *   STALE_TIMESTAMP, REPLAY, UNAVAILABLE, OK
 * INSUFFICIENT_COVERAGE is decided from public data - the Signature-Input, the hmacd-v1 item's
 * nonce and signed header names, and the scope's coverage policy - so it may come before the
 * key without telling anything about keys.
 * UNAVAILABLE (fleet mode only) is decided last: only a nonce item that passed every other
 * check gets it, when the fleet-wide claim of its nonce could not be made in time. It fails
 * closed and says "try again later" (clients answer 503), but the claim may have been made
 * anyway: a retry needs a new nonce and a new signature.
 */
#ifndef HM_VERDICT_H
#define HM_VERDICT_H

/* X(enum name, wire value, name string) */
#define HM_VERDICTS(X)                               \
	X(HM_V_OK, 0, "OK")                          \
	X(HM_V_BAD_SIGNATURE, 1, "BAD_SIGNATURE")    \
	X(HM_V_UNKNOWN_KEY, 2, "UNKNOWN_KEY")        \
	X(HM_V_KEY_REVOKED, 3, "KEY_REVOKED")        \
	X(HM_V_KEY_EXPIRED, 4, "KEY_EXPIRED")        \
	X(HM_V_STALE_TIMESTAMP, 5, "STALE_TIMESTAMP") \
	X(HM_V_REPLAY, 6, "REPLAY")                  \
	X(HM_V_MALFORMED, 7, "MALFORMED")            \
	X(HM_V_INSUFFICIENT_COVERAGE, 8, "INSUFFICIENT_COVERAGE") \
	X(HM_V_UNAVAILABLE, 9, "UNAVAILABLE")

enum hm_verdict {
#define HM_V_ENUM(name, value, str) name = (value),
	HM_VERDICTS(HM_V_ENUM)
#undef HM_V_ENUM
	HM_V__COUNT
};

/* "OK", "BAD_SIGNATURE", ...; "UNKNOWN" for a value outside the table. Never NULL. */
const char *hm_verdict_name(unsigned verdict);

#endif
