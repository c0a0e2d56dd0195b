/*
 * errors.js - verdict codes (PROTOCOL.md section 9) and the client's error type.
 *
 * A verdict is the daemon's judgement of one item and is not an error: verify() resolves with it.
 * HmacdError is for everything that kept an item from being judged; its `code` names the same
 * failures as the C client's HMACD_E* codes (client/c/include/hmacd/client.h), so logs read alike
 * across languages.
 */
'use strict';


/**
 * Verdict codes (PROTOCOL.md section 9), one per verify item. Anything but OK means "reject";
 * the precedence is MALFORMED, INSUFFICIENT_COVERAGE, UNKNOWN_KEY, KEY_REVOKED, KEY_EXPIRED,
 * BAD_SIGNATURE, STALE_TIMESTAMP, REPLAY, UNAVAILABLE, OK. The codes are dense from 0, in this
 * order, so verdictName() can index the keys.
 */
const Verdict = Object.freeze({
	OK: 0,
	BAD_SIGNATURE: 1,
	UNKNOWN_KEY: 2,
	KEY_REVOKED: 3,
	KEY_EXPIRED: 4,
	STALE_TIMESTAMP: 5,
	REPLAY: 6,
	MALFORMED: 7,
	/*
	 * The signature does not cover what the scope's policy requires (decided before any key is
	 * looked at). rfc9421: a required component, created or nonce, content-digest when there is
	 * a body, @query (or @request-target, @target-uri) when the target has a query. hmacd-v1: a
	 * nonce or a signed header the policy asks for (hmacctl policy set --v1-nonce, --v1-require).
	 */
	INSUFFICIENT_COVERAGE: 8,
	/*
	 * Fleet mode only: the item (with a nonce) passed every other check, but the daemon could
	 * not claim its nonce fleet-wide in time (Redis unreachable or slow, too few replicas).
	 * Fail closed as for a daemon that does not answer: the middleware answers 503, not 401.
	 * The nonce may be claimed all the same, so a retry is signed again with a new nonce.
	 */
	UNAVAILABLE: 9,
});

const VERDICT_NAMES = Object.keys(Verdict);

/** "OK", "BAD_SIGNATURE", ...; a code from a later protocol version gives "VERDICT_<n>". */
function verdictName(code) {
	return VERDICT_NAMES[code] ?? `VERDICT_${code}`;
}

/**
 * Error codes (err.code):
 * - HMACD_EINVAL: an argument cannot be put on the wire (wrong JS type, both body forms, ...).
 * - HMACD_EMALFORMED: an item breaks the rules of PROTOCOL.md section 7 (signing only; the
 *   daemon answers MALFORMED for such an item instead).
 * - HMACD_ETOOBIG: one item does not fit in a frame of the client's maxFrame.
 * - HMACD_ECONN: could not connect, or the connection broke before the answer came. A request
 *   whose bytes were handed to the socket is never sent again (its nonce would come back REPLAY).
 * - HMACD_EPEER: the server on the socket is not who the client trusts (its uid is not
 *   serverUser's, or without serverUser neither root nor the owner of the socket's directory),
 *   or its credentials could not be read; the connection was closed before a byte was written.
 *   The message names the uids. A new call connects and checks again.
 * - HMACD_ETIMEDOUT: no answer within timeoutMs; the connection is dropped.
 * - HMACD_EPROTO: the daemon's answer broke the protocol; the connection is dropped.
 * - HMACD_ESERVER: the daemon refused the request as a whole (err.serverCode: "malformed",
 *   "unknown_op", "too_many_items", "internal"); the connection stays open.
 * - HMACD_ECLOSED: the client was closed.
 */
class HmacdError extends Error {
	constructor(code, message, options) {
		super(message, options);
		this.name = 'HmacdError';
		this.code = code;
	}
}

module.exports = {
	Verdict,
	verdictName,
	HmacdError,
};
