/*
 * express.js - the Express 4/5 middleware: PROTOCOL.md 13.3 and 13.5 through the shared core
 * (middleware.js).
 *
 * It is a route-level middleware because Express fills req.params per route: the container must
 * come from the route the request matched (`app.post('/containers/:id/exec', verify, handler)`),
 * never from the signer's header or the body.
 *
 * The signature covers the body as received, so the middleware needs those bytes, not a parsed
 * and re-serialised body. It reads the body itself when nothing has; it takes the Buffer that
 * express.raw() left in req.body; and with a body parser mounted before it for the whole app
 * (`app.use(express.json())`, the most common Express line) it takes the bytes that parser's
 * `verify` hook kept, given `express.json({ verify: hmacd.keepRawBody })`. A parser that read the
 * body without keeping them leaves nothing to verify: 500 {"error":"internal"}, and the log says
 * which line to change.
 */
'use strict';

const {
	SetupError, createVerifier, parsedBody, readError, readStream,
} = require('./middleware.js');

const RAW = Symbol.for('hmacd.rawBody');

const CONSUMED = 'a body parser read the request body before the hmacd middleware and did not ' +
	'keep its bytes, so there is nothing to check the signature against. Keep them: ' +
	'app.use(express.json({ verify: hmacd.keepRawBody })) (the same option for express.raw(), ' +
	'express.text() and express.urlencoded()), or mount the parser after hmacd on the route';

/**
 * The `verify` option of Express's body parsers (body-parser): keeps the bytes the parser read
 * so that the hmacd middleware can check the signature against them, e.g.
 * app.use(express.json({ verify: hmacd.keepRawBody })). Touches nothing else on req.
 */
function keepRawBody(req, res, buf) {
	req[RAW] = buf;
}

/* The raw body of an Express request: kept by keepRawBody, left by express.raw(), or read. */
function expressBody(req, limit) {
	if (Buffer.isBuffer(req[RAW]))
		return Promise.resolve(parsedBody(req.headers, req[RAW], limit));
	const consumed = req._body === true || req.readableEnded;
	if (consumed && Buffer.isBuffer(req.body))
		return Promise.resolve(parsedBody(req.headers, req.body, limit));
	if (consumed)
		return Promise.reject(new SetupError(`hmacd.express: ${CONSUMED}`));
	return readStream(req, req.headers, limit).catch((err) => {
		throw readError(err);
	});
}

function send(res, out) {
	res.statusCode = out.status;
	res.setHeader('Content-Type', 'application/json');
	res.setHeader('Cache-Control', 'no-store');
	for (const [k, v] of Object.entries(out.headers))
		res.setHeader(k, v);
	res.end(out.body);
}

/**
 * Returns an Express middleware that lets a request through only if hmacd says its signature is
 * valid for the container in the route.
 *
 * A request with a Signature-Input field (and no HMACD-V1 Authorization) is verified as an RFC
 * 9421 signature (an rfc9421 item, PROTOCOL.md 13.5); any other request as HMACD-V1 (13.3); one
 * with both gets 401.
 *
 * opts:
 * - client: a Client (required).
 * - param: the route parameter holding the container (default 'id').
 * - limit: largest body in bytes (default 1 MiB); a longer one gets 413 before any verification.
 * - tenant (rfc9421 only): the tenant of a request, a string or function(req) returning one;
 *   default: the value of the one X-Tenant field. Missing or not a valid tenant: 401. The key
 *   store binds each keyid to one scope, so a key of another tenant gets UNKNOWN_KEY whatever
 *   this says.
 * - uriScheme (rfc9421 only): what @scheme and @target-uri are built with. Default: the
 *   connection's scheme (https on a TLS socket, else http). 'https', 'http' or function(req)
 *   returning one override it (e.g. behind a proxy that terminates TLS and says nothing).
 * - trustProxy (rfc9421 only): true to take the scheme from X-Forwarded-Proto (its last value)
 *   when it says http or https. Only when a proxy in front sets it: a client can send any
 *   X-Forwarded-Proto, and without this option it changes nothing. Default false.
 * - label (rfc9421 only): the signature to verify when a request carries several (default: the
 *   only one; several and no label is MALFORMED).
 * - captureDir: off by default. A directory where each request hmacd refused (a 401 from its
 *   verdict; never a 503, a 413 or a 401 decided before hmacd) is written as a capture file for
 *   `hmacctl explain --request FILE` (lib/capture.js): every header, the values of those the
 *   signature does not cover replaced by "[redacted]", the body's length and digests (never the
 *   body), the verdict; mode 0600. It must exist, not be a symlink, belong to the process's user
 *   and not be writable by group or others: an Error when the middleware is made otherwise.
 *   The refusal's log event names the file (event.capture) or why none was written
 *   (event.captureError); the response is the same.
 * - captureMax: at most this many capture files in captureDir (default 100, the files already
 *   there counted); then captures stop until the process restarts.
 * - log: function(event, req) called for each refusal (default: one console.warn line).
 *   event = {status, reason, tenant?, container?, method, path, detail?}. reason is the verdict
 *   name (BAD_SIGNATURE, ...) for a 401 from hmacd; NO_AUTHORIZATION, BAD_AUTHORIZATION or
 *   MISSING_SIGNED_HEADER (HMACD-V1), NO_SIGNATURE, NO_TENANT, NO_AUTHORITY (rfc9421),
 *   AMBIGUOUS_SCHEME or CONTENT_ENCODING (a body parser decoded the body) for a 401 decided
 *   locally; TOO_LARGE; for a 503, the client's error code (HMACD_ECONN, HMACD_EPEER for a
 *   server that is not the trusted user, ...) with detail = the error's message, or
 *   UNAVAILABLE, the verdict 9 (fleet mode); SETUP_ERROR (500) with detail saying what to
 *   change; BODY_READ_ERROR (400, the client went away). It never holds the signature or
 *   the nonce.
 *
 * On success: req.rawBody is the body as received (a Buffer), req.body is set to it unless
 * something already set req.body, and req.hmacd = {scheme: 'hmacd-v1', tenant, container, epoch,
 * ts, nonce} or {scheme: 'rfc9421', tenant, container, label, keyid, created, nonce} (the last
 * three from the verified Signature-Input; created and nonce undefined when absent).
 * Responses (Content-Type: application/json, Cache-Control: no-store): 401
 * {"error":"unauthorized"} with WWW-Authenticate: HMACD-V1 (whatever the scheme: a refusal
 * says nothing about why); 503 {"error":"unavailable"} (the same for a client error and for
 * the verdict UNAVAILABLE); 413 {"error":"too_large"}; 500 {"error":"internal"} for a set-up
 * error: a route without the parameter, or a body parser before the middleware that did not
 * keep the bytes (see keepRawBody). The request is never passed on unverified.
 *
 * Throws TypeError for a wrong option, Error for a captureDir not fit for captures, when called
 * (at start-up).
 */
function hmacdExpress(opts) {
	const v = createVerifier(opts, 'hmacd.express');
	return async function hmacdVerify(req, res, next) {
		const out = await v.judge(req, {
			container: req.params?.[v.param],
			path: req.originalUrl ?? req.url,
			readBody: (limit) => expressBody(req, limit),
		});
		if (!out.ok) {
			send(res, out);
			if (!req.readableEnded)
				req.resume();
			return;
		}
		req.rawBody = out.body;
		if (req.body === undefined)
			req.body = out.body;
		req.hmacd = out.identity;
		next();
	};
}

module.exports = {
	hmacdExpress,
	keepRawBody,
};
