/*
 * express.js - Express middleware implementing PROTOCOL.md 13.3 (verifying a signed request)
 * and 13.5 (the same for an RFC 9421 signature: a request with Signature-Input).
 *
 * It is a route-level middleware because Express fills req.params per route: the container must
 * come from the route the request matched (`app.post('/containers/:id/exec', verify, handler)`),
 * never from the signer's header or the body. It reads the raw body itself (or takes the Buffer
 * that express.raw() left in req.body), because the signature covers the bytes as received: a
 * body parsed and re-serialised is not the body that was signed.
 *
 * Refusals say nothing that helps an attacker: every verdict gives the same 401, and the reason
 * goes only to the server-side log. Anything that keeps hmacd from judging the request (not
 * running, timing out, refusing the frame, not the user the client trusts, or the verdict
 * UNAVAILABLE: in fleet mode, the nonce could not be claimed in time) gives 503: the request is
 * never passed on.
 */
'use strict';

const { parseAuthorization, trimOWS } = require('./auth.js');
const { sha256 } = require('./canon.js');
const { Verdict, verdictName } = require('./errors.js');
const { parse } = require('./sfv.js');

const DEFAULT_LIMIT = 1048576;

const BODY_401 = '{"error":"unauthorized"}';
const BODY_503 = '{"error":"unavailable"}';
const BODY_413 = '{"error":"too_large"}';

function refuse(res, status, body, extra) {
	res.statusCode = status;
	res.setHeader('Content-Type', 'application/json');
	res.setHeader('Cache-Control', 'no-store');
	for (const [k, v] of Object.entries(extra ?? {}))
		res.setHeader(k, v);
	res.end(body);
}

function defaultLog(e) {
	const scope = e.tenant ? ` tenant=${e.tenant} container=${e.container}` : '';
	const detail = e.detail ? `: ${e.detail}` : '';
	console.warn(`hmacd: ${e.status} ${e.reason}${scope} ${e.method} ${e.path}${detail}`);
}

/* Every field of a given name (case-insensitive), in arrival order, as received. */
function fields(req, name) {
	const raw = req.rawHeaders;
	const out = [];
	for (let i = 0; i + 1 < raw.length; i += 2) {
		if (raw[i].length === name.length && raw[i].toLowerCase() === name)
			out.push(raw[i + 1]);
	}
	return out;
}

/* Every field as [lower-case name, value], in arrival order (an rfc9421 item's headers). */
function allFields(req) {
	const raw = req.rawHeaders;
	const out = [];
	for (let i = 0; i + 1 < raw.length; i += 2)
		out.push([raw[i].toLowerCase(), raw[i + 1]]);
	return out;
}

/* An HMACD-V1 Authorization field (the scheme token is case-sensitive, 13.1). */
function isV1(value) {
	return value === 'HMACD-V1' || value.startsWith('HMACD-V1 ');
}

const TENANT_RE = /^[A-Za-z0-9._:/-]{1,128}$/;

/* The tenant of an rfc9421 request: the app's function or constant, default one X-Tenant field. */
function tenantOf(req, opt) {
	if (typeof opt === 'function')
		return opt(req);
	if (typeof opt === 'string')
		return opt;
	const v = fields(req, 'x-tenant');
	return v.length === 1 ? trimOWS(v[0]) : undefined;
}

/* keyid, created and nonce of the verified signature, for req.hmacd (best effort). */
function sigParams(input, label) {
	try {
		const d = parse(input, 'dictionary');
		const m = label === undefined ? (d.size === 1 ? [...d.values()][0] : undefined) :
			d.get(label);
		const p = (k) => m?.params.get(k)?.value;
		return { keyid: p('keyid'), created: p('created'), nonce: p('nonce') };
	} catch {
		return {};
	}
}

const TOO_LARGE = Symbol('too large');

/*
 * The raw body, at most `limit` bytes: TOO_LARGE if it is longer. Takes the Buffer of an
 * express.raw() that ran before; throws if another parser already consumed the stream.
 */
function readBody(req, limit) {
	if (Buffer.isBuffer(req.body) && (req._body || req.readableEnded))
		return Promise.resolve(req.body.length > limit ? TOO_LARGE : req.body);
	if (req.readableEnded || req._body) {
		return Promise.reject(new Error('hmacd: the request body was consumed before the ' +
			'hmacd middleware; put it first, or use express.raw() before it'));
	}
	const cl = req.headers['content-length'];
	if (cl !== undefined && Number(cl) > limit)
		return Promise.resolve(TOO_LARGE);
	return new Promise((resolve, reject) => {
		const chunks = [];
		let size = 0;
		const done = (v, err) => {
			req.off('data', onData);
			req.off('end', onEnd);
			req.off('error', onError);
			req.off('close', onClose);
			if (err)
				reject(err);
			else
				resolve(v);
		};
		const onData = (chunk) => {
			size += chunk.length;
			if (size > limit) {
				done(TOO_LARGE);
				return;
			}
			chunks.push(chunk);
		};
		const onEnd = () => done(Buffer.concat(chunks, size));
		const onError = (err) => done(undefined, err);
		const onClose = () => done(undefined, new Error('hmacd: request aborted'));
		req.on('data', onData);
		req.on('end', onEnd);
		req.on('error', onError);
		req.on('close', onClose);
	});
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
 * - uriScheme (rfc9421 only): 'https' (default) or 'http', or function(req) returning one: the
 *   scheme the client used, for @scheme and @target-uri. Say 'http' for plain-HTTP listeners.
 * - label (rfc9421 only): the signature to verify when a request carries several (default: the
 *   only one; several and no label is MALFORMED).
 * - log: function({status, reason, tenant?, container?, method, path, detail?}) called for
 *   each refusal (default: one console.warn line). reason is the verdict name (BAD_SIGNATURE,
 *   ...) for a 401 from hmacd; NO_AUTHORIZATION, BAD_AUTHORIZATION or MISSING_SIGNED_HEADER
 *   (HMACD-V1), NO_SIGNATURE, NO_TENANT, NO_AUTHORITY (rfc9421) or AMBIGUOUS_SCHEME for a 401
 *   decided locally; TOO_LARGE; for a 503, the client's error code (HMACD_ECONN, HMACD_EPEER
 *   for a server that is not the trusted user, ...) with detail = the error's message, or
 *   UNAVAILABLE, the verdict 9 (fleet mode). It never holds the signature or the nonce.
 *
 * On success: req.rawBody is the body as received (a Buffer), req.body is set to it unless
 * something already set req.body, and req.hmacd = {scheme: 'hmacd-v1', tenant, container, epoch,
 * ts, nonce} or {scheme: 'rfc9421', tenant, container, label, keyid, created, nonce} (the last
 * three from the verified Signature-Input; created and nonce undefined when absent).
 * Responses: 401 {"error":"unauthorized"} with WWW-Authenticate: HMACD-V1 (whatever the scheme:
 * a refusal says nothing about why); 503 {"error":"unavailable"} (the same for a client error
 * and for the verdict UNAVAILABLE); 413 {"error":"too_large"}. A
 * route without the parameter, or a body already consumed by another parser, is a setup error:
 * next(err) (Express answers 500); the request is never passed on unverified.
 */
function hmacdExpress(opts = {}) {
	const { client, param = 'id', limit = DEFAULT_LIMIT, log = defaultLog, tenant: tenantOpt,
		uriScheme = 'https', label } = opts;
	if (client === undefined || typeof client.verify !== 'function')
		throw new TypeError('hmacd.express: give {client}');
	if (typeof param !== 'string' || param === '')
		throw new TypeError('hmacd.express: param is the name of a route parameter');
	if (!Number.isSafeInteger(limit) || limit < 0)
		throw new TypeError('hmacd.express: limit is a byte count');
	if (tenantOpt !== undefined && typeof tenantOpt !== 'function' &&
	    (typeof tenantOpt !== 'string' || !TENANT_RE.test(tenantOpt)))
		throw new TypeError('hmacd.express: tenant is a tenant name or a function(req)');
	if (typeof uriScheme !== 'function' && uriScheme !== 'https' && uriScheme !== 'http')
		throw new TypeError('hmacd.express: uriScheme is \'https\', \'http\' or a function(req)');
	if (label !== undefined && (typeof label !== 'string' || !/^[a-z*][a-z0-9_\-.*]{0,63}$/.test(label)))
		throw new TypeError('hmacd.express: label is a signature label (a structured field key)');

	/* reads the body (413 when too large); undefined when the request was already answered */
	async function readBodyOr(req, res, next, scope, note) {
		let b;
		try {
			b = await readBody(req, limit);
		} catch (err) {
			next(err);
			return undefined;
		}
		if (b === TOO_LARGE) {
			log({ status: 413, reason: 'TOO_LARGE', ...scope, ...note });
			refuse(res, 413, BODY_413, { Connection: 'close' });
			req.resume();
			return undefined;
		}
		return b;
	}

	/*
	 * Asks hmacd about item: an error or the verdict UNAVAILABLE is a 503, any other verdict
	 * than OK a 401. On OK the request goes on with req.rawBody (and req.body, unless already
	 * set) = body, req.hmacd = identity().
	 */
	async function judge(req, res, next, item, body, scope, note, unauthorized, identity) {
		let verdict;
		try {
			verdict = await client.verify(item);
		} catch (err) {
			log({ status: 503, reason: err.code ?? 'ERROR', ...scope, ...note,
				detail: err.message });
			refuse(res, 503, BODY_503);
			return;
		}
		if (verdict === Verdict.UNAVAILABLE) {
			/* fleet mode: not judged in time; the same 503 as when hmacd does not answer */
			log({ status: 503, reason: verdictName(verdict), ...scope, ...note });
			refuse(res, 503, BODY_503);
			return;
		}
		if (verdict !== Verdict.OK) {
			unauthorized(verdictName(verdict), scope);
			return;
		}
		req.rawBody = body;
		if (req.body === undefined)
			req.body = body;
		req.hmacd = identity();
		next();
	}

	/* PROTOCOL.md 13.5: an RFC 9421 signature */
	async function rfc9421(req, res, next, container, sigInput, note, unauthorized) {
		let tenant, scheme;
		try {
			tenant = tenantOf(req, tenantOpt);
			scheme = typeof uriScheme === 'function' ? uriScheme(req) : uriScheme;
			if (scheme !== 'https' && scheme !== 'http')
				throw new Error(`hmacd: uriScheme gave ${scheme}, not 'https' or 'http'`);
		} catch (err) {
			next(err);
			return;
		}
		if (typeof tenant !== 'string' || !TENANT_RE.test(tenant)) {
			unauthorized('NO_TENANT', { container });
			return;
		}
		const scope = { tenant, container };
		const sigs = fields(req, 'signature');
		if (sigs.length === 0) {
			unauthorized('NO_SIGNATURE', scope);
			return;
		}
		const hosts = fields(req, 'host');
		const authority = hosts.length === 1 ? trimOWS(hosts[0]) : req.headers[':authority'];
		if (typeof authority !== 'string' || authority === '') {
			unauthorized('NO_AUTHORITY', scope);
			return;
		}
		const b = await readBodyOr(req, res, next, scope, note);
		if (b === undefined)
			return;
		const signatureInput = sigInput.join(', ');
		await judge(req, res, next, {
			scheme: 'rfc9421',
			tenant,
			container,
			method: req.method,
			authority,
			path: note.path,
			uriScheme: scheme === 'https' ? undefined : scheme,
			headers: allFields(req),
			signatureInput,
			signature: sigs.join(', '),
			label,
			/* always the body handed on, even empty: an item without one would leave a covered
			 * Content-Digest unchecked, and a stripped body would pass (issue 10) */
			body: b,
		}, b, scope, note, unauthorized, () => ({ scheme: 'rfc9421', tenant, container, label,
			...sigParams(signatureInput, label) }));
	}

	return async function hmacdVerify(req, res, next) {
		const path = req.originalUrl ?? req.url;
		const note = { method: req.method, path };
		const unauthorized = (reason, extra) => {
			log({ status: 401, reason, ...extra, ...note });
			refuse(res, 401, BODY_401, { 'WWW-Authenticate': 'HMACD-V1' });
		};

		const container = req.params?.[param];
		if (typeof container !== 'string') {
			next(new Error(`hmacd: the route has no parameter "${param}"`));
			return;
		}
		const authFields = fields(req, 'authorization');
		const sigInput = fields(req, 'signature-input');
		if (sigInput.length > 0) {
			if (authFields.some(isV1)) {
				unauthorized('AMBIGUOUS_SCHEME', { container });
				return;
			}
			await rfc9421(req, res, next, container, sigInput, note, unauthorized);
			return;
		}
		if (authFields.length === 0) {
			unauthorized('NO_AUTHORIZATION');
			return;
		}
		const auth = authFields.length === 1 ? parseAuthorization(authFields[0]) : null;
		if (auth === null) {
			unauthorized('BAD_AUTHORIZATION');
			return;
		}
		const scope = { tenant: auth.tenant, container };
		const headers = [];
		for (const name of auth.signedHeaders) {
			const values = fields(req, name);
			if (values.length === 0) {
				unauthorized('MISSING_SIGNED_HEADER', scope);
				return;
			}
			headers.push([name, values.map(trimOWS).join(', ')]);
		}

		const body = await readBodyOr(req, res, next, scope, note);
		if (body === undefined)
			return;

		await judge(req, res, next, {
			tenant: auth.tenant,
			container,
			epoch: auth.epoch,
			method: req.method,
			path,
			headers,
			/* the digest of the body handed on, the empty one included */
			bodySha256: sha256(body),
			ts: auth.ts,
			nonce: auth.nonce,
			sig: auth.sig,
		}, body, scope, note, unauthorized, () => ({ scheme: 'hmacd-v1', tenant: auth.tenant,
			container, epoch: auth.epoch, ts: auth.ts, nonce: auth.nonce }));
	};
}

module.exports = {
	hmacdExpress,
};
