/*
 * middleware.js - what the Express middleware (express.js) and the Fastify plugin (fastify.js)
 * share: PROTOCOL.md 13.3 (verifying an HMACD-V1 request) and 13.5 (an RFC 9421 request, one
 * with Signature-Input), from a Node http.IncomingMessage to an outcome that each adapter turns
 * into its framework's response. One core, so that both frameworks refuse the same requests
 * with the same statuses, bodies and log lines.
 *
 * Refusals say nothing that helps an attacker: every verdict gives the same 401, and the reason
 * goes only to the server-side log. Anything that keeps hmacd from judging the request (not
 * running, timing out, refusing the frame, not the user the client trusts, or the verdict
 * UNAVAILABLE: in fleet mode, the nonce could not be claimed in time) gives 503. A mistake in the
 * app's set-up (a route without the container parameter, a body parser that ate the body) gives
 * 500 {"error":"internal"} with the reason in the log, never a stack trace in the response. In no
 * case is the request passed on unverified.
 *
 * @scheme (RFC 9421): the scheme an rfc9421 item is built with comes from the connection the
 * request arrived on (TLS: https, else http). X-Forwarded-Proto is a request header like any
 * other, which a client can forge; it is believed only with trustProxy, an explicit statement
 * that a proxy in front sets it.
 */
'use strict';

const { parseAuthorization, trimOWS } = require('./auth.js');
const { DEFAULT_CAPTURE_MAX, coveredRfc9421, createCapturer } = require('./capture.js');
const { sha256 } = require('./canon.js');
const { Verdict, verdictName } = require('./errors.js');
const { parse } = require('./sfv.js');

const DEFAULT_LIMIT = 1048576;

/* The responses (13.3 step 4): fixed bodies, whatever the reason. */
const REFUSALS = {
	400: { body: '{"error":"bad_request"}' },
	401: { body: '{"error":"unauthorized"}', headers: { 'WWW-Authenticate': 'HMACD-V1' } },
	/* the rest of the body is left unread: close the connection rather than drain it */
	413: { body: '{"error":"too_large"}', headers: { Connection: 'close' } },
	500: { body: '{"error":"internal"}' },
	503: { body: '{"error":"unavailable"}' },
};

/* What readBody() resolves with when the body is over the limit, or not as received. */
const TOO_LARGE = Symbol('too large');
const DECODED = Symbol('decoded by a body parser');

/* A mistake in the app's set-up: 500, and the message (which says what to change) in the log. */
class SetupError extends Error {}

function defaultLog(e) {
	const scope = e.tenant ? ` tenant=${e.tenant} container=${e.container}` : '';
	const detail = e.detail ? `: ${e.detail}` : '';
	const capture = e.capture ? ` (capture ${e.capture}: hmacctl explain --request FILE)` :
		e.captureError ? ` (${e.captureError})` : '';
	console.warn(`hmacd: ${e.status} ${e.reason}${scope} ${e.method} ${e.path}${detail}` +
		capture);
}

/*
 * Every field of a given name (lower-case), in arrival order, as received. HTTP/2 pseudo-header
 * fields (":authority", ...) are not fields of the request and are never returned.
 */
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
	for (let i = 0; i + 1 < raw.length; i += 2) {
		if (raw[i][0] !== ':')
			out.push([raw[i].toLowerCase(), raw[i + 1]]);
	}
	return out;
}

/* An HMACD-V1 Authorization field (the scheme token is case-sensitive, 13.1). */
function isV1(value) {
	return value === 'HMACD-V1' || value.startsWith('HMACD-V1 ');
}

const TENANT_RE = /^[A-Za-z0-9._:/-]{1,128}$/;
const LABEL_RE = /^[a-z*][a-z0-9_\-.*]{0,63}$/;

/* keyid, created and nonce of the verified signature, for the identity (best effort). */
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

/*
 * The scheme the client used: the connection's (a TLS socket is https), or with trustProxy the
 * last value of the X-Forwarded-Proto fields when it is http or https: the one the nearest
 * proxy added, as the Go and Python middleware take it. (The first value may be the client's
 * own, kept by a proxy that appends to the field rather than replacing it.)
 */
function connectionScheme(req, trustProxy) {
	if (trustProxy) {
		const xf = fields(req, 'x-forwarded-proto');
		if (xf.length > 0) {
			const last = trimOWS(xf.join(',').split(',').at(-1)).toLowerCase();
			if (last === 'https' || last === 'http')
				return last;
		}
	}
	return req.socket?.encrypted ? 'https' : 'http';
}

/*
 * Reads a request body stream: a Buffer of at most `limit` bytes, TOO_LARGE if it is longer (a
 * Content-Length over the limit is refused before a byte is read). Rejects when the stream
 * fails or the request is aborted.
 */
function readStream(stream, headers, limit) {
	const cl = headers['content-length'];
	if (cl !== undefined && Number(cl) > limit)
		return Promise.resolve(TOO_LARGE);
	return new Promise((resolve, reject) => {
		const chunks = [];
		let size = 0;
		const done = (v, err) => {
			stream.off('data', onData);
			stream.off('end', onEnd);
			stream.off('error', onError);
			stream.off('close', onClose);
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
		const onClose = () => done(undefined, new Error('request aborted'));
		stream.on('data', onData);
		stream.on('end', onEnd);
		stream.on('error', onError);
		stream.on('close', onClose);
	});
}

/*
 * A body a body parser read (express.raw(), or the bytes its verify hook kept): the bytes after
 * it undid any Content-Encoding, so not the bytes received when there was one (DECODED).
 */
function parsedBody(headers, buf, limit) {
	const ce = headers['content-encoding'];
	if (ce !== undefined && trimOWS(ce).toLowerCase() !== 'identity')
		return DECODED;
	return buf.length > limit ? TOO_LARGE : buf;
}

/*
 * Checks the options shared by hmacd.express() and hmacd.fastify (`who` names the caller in
 * messages) and returns the verifier: {param, judge(req, {container, path, readBody})}.
 *
 * judge() resolves, never rejects, with
 *   {ok: true, body, identity}: verified; body is the Buffer hmacd judged;
 *   {ok: false, status, body, headers}: the refusal to send, already logged.
 */
function createVerifier(opts, who) {
	const { client, param = 'id', limit = DEFAULT_LIMIT, log = defaultLog, tenant: tenantOpt,
		uriScheme, trustProxy = false, label, captureDir,
		captureMax = DEFAULT_CAPTURE_MAX } = opts ?? {};
	if (client === undefined || client === null || typeof client.verify !== 'function')
		throw new TypeError(`${who}: give {client}, an hmacd.Client`);
	if (typeof param !== 'string' || param === '')
		throw new TypeError(`${who}: param is the name of a route parameter`);
	if (!Number.isSafeInteger(limit) || limit < 0)
		throw new TypeError(`${who}: limit is a byte count`);
	if (typeof log !== 'function')
		throw new TypeError(`${who}: log is a function(event, req)`);
	if (tenantOpt !== undefined && typeof tenantOpt !== 'function' &&
	    (typeof tenantOpt !== 'string' || !TENANT_RE.test(tenantOpt)))
		throw new TypeError(`${who}: tenant is a tenant name or a function(req)`);
	if (uriScheme !== undefined && typeof uriScheme !== 'function' && uriScheme !== 'https' &&
	    uriScheme !== 'http')
		throw new TypeError(`${who}: uriScheme is 'https', 'http' or a function(req); ` +
			'leave it out to take the scheme from the connection');
	if (typeof trustProxy !== 'boolean')
		throw new TypeError(`${who}: trustProxy is true or false`);
	if (trustProxy && uriScheme !== undefined)
		throw new TypeError(`${who}: give uriScheme or trustProxy, not both`);
	if (label !== undefined && (typeof label !== 'string' || !LABEL_RE.test(label)))
		throw new TypeError(`${who}: label is a signature label (a structured field key)`);
	/* off by default; checks the directory now: a configuration error fails the start-up */
	const capturer = captureDir === undefined ? null :
		createCapturer(captureDir, captureMax, who);

	/* The tenant of an rfc9421 request: the option, default the one X-Tenant field. */
	function tenantOf(req, ctx) {
		if (typeof tenantOpt === 'function')
			return tenantOpt(ctx.request);
		if (typeof tenantOpt === 'string')
			return tenantOpt;
		const v = fields(req, 'x-tenant');
		return v.length === 1 ? trimOWS(v[0]) : undefined;
	}

	function schemeOf(req, ctx) {
		if (uriScheme === undefined)
			return connectionScheme(req, trustProxy);
		const s = typeof uriScheme === 'function' ? uriScheme(ctx.request) : uriScheme;
		if (s !== 'https' && s !== 'http')
			throw new SetupError(`${who}: uriScheme gave ${s}, not 'https' or 'http'`);
		return s;
	}

	/* A refusal, logged. note: {method, path}; scope: {tenant?, container?}; captured:
	 * {capture?, captureError?} for a request hmacd refused with captures on. */
	function refuse(ctx, status, reason, scope, note, detail, captured) {
		const e = { status, reason, ...scope, ...note, ...captured };
		if (detail !== undefined)
			e.detail = detail;
		log(e, ctx.request);
		const r = REFUSALS[status];
		return { ok: false, status, body: r.body, headers: r.headers ?? {} };
	}

	/* The body, or the refusal that ends the request (413, 401 for a decoded body). */
	async function body(ctx, scope, note) {
		const b = await ctx.readBody(limit);
		if (b === TOO_LARGE)
			return { refusal: refuse(ctx, 413, 'TOO_LARGE', scope, note) };
		if (b === DECODED) {
			return { refusal: refuse(ctx, 401, 'CONTENT_ENCODING', scope, note,
				'a body parser undid the Content-Encoding before hmacd saw the body, so the ' +
				'bytes received are gone: put the hmacd middleware before it') };
		}
		return { b };
	}

	/*
	 * The capture of a request hmacd refused with verdict (captures on): the item sent, every
	 * header of req, the names the signature covers. Resolves with {capture?, captureError?};
	 * never rejects.
	 */
	async function capture(req, ctx, item, b, verdict) {
		const rfc = item.scheme === 'rfc9421';
		try {
			return await captureItem(req, ctx, item, b, verdict, rfc);
		} catch (err) {
			return { captureError: `capture not written: ${err?.message ?? err}` };
		}
	}

	function captureItem(req, ctx, item, b, verdict, rfc) {
		return capturer.capture({
			scheme: rfc ? 'rfc9421' : 'hmacd-v1',
			tenant: item.tenant,
			container: item.container,
			label: rfc ? label : undefined,
			method: item.method,
			uriScheme: rfc ? (item.uriScheme ?? 'https') : schemeOrConnection(req, ctx),
			authority: rfc ? item.authority : (fields(req, 'host')[0] ??
				req.headers[':authority'] ?? ''),
			path: item.path,
			headers: allFields(req),
			covered: rfc ? coveredRfc9421(item.signatureInput, label) :
				new Set(item.headers.map(([n]) => n)),
			body: b,
			verdict: verdictName(verdict),
			receivedAt: ctx.receivedAt,
		});
	}

	/* hmacd-v1 ignores the scheme: a capture says the one the app would have used */
	function schemeOrConnection(req, ctx) {
		try {
			return schemeOf(req, ctx);
		} catch {
			return connectionScheme(req, trustProxy);
		}
	}

	/*
	 * Asks hmacd about item: an error or the verdict UNAVAILABLE is a 503, any other verdict
	 * than OK a 401 (written as a capture file when captureDir is set).
	 */
	async function ask(req, ctx, item, b, scope, note, identity) {
		let verdict;
		try {
			verdict = await client.verify(item);
		} catch (err) {
			return refuse(ctx, 503, err.code ?? 'ERROR', scope, note, err.message);
		}
		/* fleet mode: not judged in time; the same 503 as when hmacd does not answer */
		if (verdict === Verdict.UNAVAILABLE)
			return refuse(ctx, 503, verdictName(verdict), scope, note);
		if (verdict !== Verdict.OK) {
			const captured = capturer === null ? undefined :
				await capture(req, ctx, item, b, verdict);
			return refuse(ctx, 401, verdictName(verdict), scope, note, undefined, captured);
		}
		return { ok: true, body: b, identity: identity() };
	}

	/* PROTOCOL.md 13.5: an RFC 9421 signature */
	async function rfc9421(req, ctx, container, sigInput, note) {
		const tenant = tenantOf(req, ctx);
		const scheme = schemeOf(req, ctx);
		if (typeof tenant !== 'string' || !TENANT_RE.test(tenant))
			return refuse(ctx, 401, 'NO_TENANT', { container }, note);
		const scope = { tenant, container };
		const sigs = fields(req, 'signature');
		if (sigs.length === 0)
			return refuse(ctx, 401, 'NO_SIGNATURE', scope, note);
		const hosts = fields(req, 'host');
		const authority = hosts.length === 1 ? trimOWS(hosts[0]) : req.headers[':authority'];
		if (typeof authority !== 'string' || authority === '')
			return refuse(ctx, 401, 'NO_AUTHORITY', scope, note);
		const { b, refusal } = await body(ctx, scope, note);
		if (refusal !== undefined)
			return refusal;
		const signatureInput = sigInput.join(', ');
		return ask(req, ctx, {
			scheme: 'rfc9421',
			tenant,
			container,
			method: req.method,
			authority,
			path: note.path,
			/* absent means https (7.2), as the C encoder leaves it out */
			uriScheme: scheme === 'https' ? undefined : scheme,
			headers: allFields(req),
			signatureInput,
			signature: sigs.join(', '),
			label,
			/* always the body handed on, even empty: an item without one would leave a covered
			 * Content-Digest unchecked, and a stripped body would pass (issue 10) */
			body: b,
		}, b, scope, note, () => ({ scheme: 'rfc9421', tenant, container, label,
			...sigParams(signatureInput, label) }));
	}

	/* PROTOCOL.md 13.3: an HMACD-V1 signature */
	async function v1(req, ctx, container, authFields, note) {
		if (authFields.length === 0)
			return refuse(ctx, 401, 'NO_AUTHORIZATION', {}, note);
		const auth = authFields.length === 1 ? parseAuthorization(authFields[0]) : null;
		if (auth === null)
			return refuse(ctx, 401, 'BAD_AUTHORIZATION', {}, note);
		const scope = { tenant: auth.tenant, container };
		const headers = [];
		for (const name of auth.signedHeaders) {
			const values = fields(req, name);
			if (values.length === 0)
				return refuse(ctx, 401, 'MISSING_SIGNED_HEADER', scope, note);
			headers.push([name, values.map(trimOWS).join(', ')]);
		}
		const { b, refusal } = await body(ctx, scope, note);
		if (refusal !== undefined)
			return refusal;
		return ask(req, ctx, {
			tenant: auth.tenant,
			container,
			epoch: auth.epoch,
			method: req.method,
			path: note.path,
			headers,
			/* the digest of the body handed on, the empty one included */
			bodySha256: sha256(b),
			ts: auth.ts,
			nonce: auth.nonce,
			sig: auth.sig,
		}, b, scope, note, () => ({ scheme: 'hmacd-v1', tenant: auth.tenant, container,
			epoch: auth.epoch, ts: auth.ts, nonce: auth.nonce }));
	}

	/*
	 * req: the http.IncomingMessage. ctx.request: the framework's request, which the tenant,
	 * uriScheme and log functions get (default req); ctx.container: the route parameter's value
	 * (anything but a string is a set-up error); ctx.path: the request target as received;
	 * ctx.readBody(limit): resolves with the raw body, TOO_LARGE or DECODED, rejects with a
	 * SetupError or a read error.
	 */
	async function judge(req, reqCtx) {
		const ctx = { request: req, ...reqCtx, receivedAt: Math.floor(Date.now() / 1000) };
		const note = { method: req.method, path: ctx.path };
		const { container } = ctx;
		try {
			if (typeof container !== 'string') {
				throw new SetupError(`${who}: the route has no parameter "${param}" (the ` +
					'container): protect only routes such as /containers/:' + `${param}/exec`);
			}
			const authFields = fields(req, 'authorization');
			const sigInput = fields(req, 'signature-input');
			if (sigInput.length === 0)
				return await v1(req, ctx, container, authFields, note);
			if (authFields.some(isV1))
				return refuse(ctx, 401, 'AMBIGUOUS_SCHEME', { container }, note);
			return await rfc9421(req, ctx, container, sigInput, note);
		} catch (err) {
			if (err instanceof SetupError)
				return refuse(ctx, 500, 'SETUP_ERROR', {}, note, err.message);
			/* the body could not be read (the client went away): nothing was judged */
			if (err?.readError)
				return refuse(ctx, 400, 'BODY_READ_ERROR', {}, note, err.message);
			/* a tenant or uriScheme function that threw, say */
			return refuse(ctx, 500, 'SETUP_ERROR', {}, note, `${who}: ${err?.message ?? err}`);
		}
	}

	return { param, judge };
}

/* Marks an error of reading the body (so judge() answers 400, not 500). */
function readError(err) {
	const e = err instanceof Error ? err : new Error(String(err));
	e.readError = true;
	return e;
}

module.exports = {
	DEFAULT_LIMIT,
	TOO_LARGE,
	DECODED,
	SetupError,
	createVerifier,
	readStream,
	parsedBody,
	readError,
};
