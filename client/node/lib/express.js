/*
 * express.js - Express middleware implementing PROTOCOL.md 13.3 (verifying a signed request).
 *
 * It is a route-level middleware because Express fills req.params per route: the container must
 * come from the route the request matched (`app.post('/containers/:id/exec', verify, handler)`),
 * never from the signer's header or the body. It reads the raw body itself (or takes the Buffer
 * that express.raw() left in req.body), because the signature covers the bytes as received: a
 * body parsed and re-serialised is not the body that was signed.
 *
 * Refusals say nothing that helps an attacker: every verdict gives the same 401, and the reason
 * goes only to the server-side log. Anything that keeps hmacd from judging the request (not
 * running, timing out, refusing the frame) gives 503: the request is never passed on.
 */
import { parseAuthorization, trimOWS } from './auth.js';
import { sha256 } from './canon.js';
import { verdictName } from './errors.js';

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
	console.warn(`hmacd: ${e.status} ${e.reason}${scope} ${e.method} ${e.path}`);
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
 * opts:
 * - client: a Client (required).
 * - param: the route parameter holding the container (default 'id').
 * - limit: largest body in bytes (default 1 MiB); a longer one gets 413 before any verification.
 * - log: function({status, reason, tenant?, container?, method, path}) called for each refusal
 *   (default: one console.warn line). reason is the verdict name (BAD_SIGNATURE, ...) for a
 *   401 from hmacd, NO_AUTHORIZATION, BAD_AUTHORIZATION or MISSING_SIGNED_HEADER for a 401
 *   decided locally, TOO_LARGE, or the client's error code (HMACD_ECONN, ...) for a 503. It never
 *   holds the signature or the nonce.
 *
 * On success: req.rawBody is the body as received (a Buffer), req.body is set to it unless
 * something already set req.body, and req.hmacd = {tenant, container, epoch, ts, nonce}.
 * Responses: 401 {"error":"unauthorized"} with WWW-Authenticate: HMACD-V1; 503
 * {"error":"unavailable"}; 413 {"error":"too_large"}. A route without the parameter, or a body
 * already consumed by another parser, is a setup error: next(err) (Express answers 500); the
 * request is never passed on unverified.
 */
export function hmacdExpress(opts = {}) {
	const { client, param = 'id', limit = DEFAULT_LIMIT, log = defaultLog } = opts;
	if (client === undefined || typeof client.verify !== 'function')
		throw new TypeError('hmacd.express: give {client}');
	if (typeof param !== 'string' || param === '')
		throw new TypeError('hmacd.express: param is the name of a route parameter');
	if (!Number.isSafeInteger(limit) || limit < 0)
		throw new TypeError('hmacd.express: limit is a byte count');

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

		let body;
		try {
			body = await readBody(req, limit);
		} catch (err) {
			next(err);
			return;
		}
		if (body === TOO_LARGE) {
			log({ status: 413, reason: 'TOO_LARGE', ...scope, ...note });
			refuse(res, 413, BODY_413, { Connection: 'close' });
			req.resume();
			return;
		}

		let verdict;
		try {
			verdict = await client.verify({
				tenant: auth.tenant,
				container,
				epoch: auth.epoch,
				method: req.method,
				path,
				headers,
				bodySha256: sha256(body),
				ts: auth.ts,
				nonce: auth.nonce,
				sig: auth.sig,
			});
		} catch (err) {
			log({ status: 503, reason: err.code ?? 'ERROR', ...scope, ...note });
			refuse(res, 503, BODY_503);
			return;
		}
		if (verdict !== 0) {
			unauthorized(verdictName(verdict), scope);
			return;
		}
		req.rawBody = body;
		if (req.body === undefined)
			req.body = body;
		req.hmacd = { tenant: auth.tenant, container, epoch: auth.epoch, ts: auth.ts,
			nonce: auth.nonce };
		next();
	};
}
