/*
 * auth.js - the HMACD-V1 Authorization header (PROTOCOL.md 13.1) and request signing (13.2).
 *
 * The header carries everything of the item except the container (never the signer's claim), the
 * method, the path, the header values and the body, which the middleware takes from the request
 * itself. Parsing is strict: a header that is not exactly in the 13.1 form is refused, because a
 * lenient parser is where two implementations start to disagree on what was signed.
 */
'use strict';

const { randomBytes } = require('node:crypto');

const { UINT64_MAX, normUint } = require('./bytes.js');
const { MAC_LEN, signItem } = require('./canon.js');
const { HmacdError } = require('./errors.js');

const SCHEME = 'HMACD-V1';

const TENANT_RE = /^[A-Za-z0-9._:/-]{1,128}$/;
const NONCE_RE = /^[A-Za-z0-9._~-]{1,64}$/;
const HNAME_RE = /^[a-z0-9!#$%&'*+\-.^_`|~]+$/;
const POSITIVE_RE = /^[1-9][0-9]{0,19}$/;
const DECIMAL_RE = /^(?:0|[1-9][0-9]{0,19})$/;
const SIG_RE = /^[A-Za-z0-9+/]{43}=$/;
const PARAM_RE = /^([A-Za-z]+)=([\x21-\x2b\x2d-\x7e]*)$/;
const PARAMS = new Set(['Tenant', 'Epoch', 'Timestamp', 'Nonce', 'SignedHeaders', 'Signature']);

function decimal(s, re) {
	if (!re.test(s))
		return undefined;
	const v = BigInt(s);
	return v <= UINT64_MAX ? normUint(v) : undefined;
}

/**
 * Parses an Authorization field value. Returns {tenant, epoch, ts, nonce, signedHeaders, sig}
 * (epoch and ts are Numbers, or BigInts above 2^53; nonce is '' when absent; signedHeaders an
 * array of lower-case names; sig a 32-byte Buffer), or null if the value is not a valid
 * HMACD-V1 header.
 */
function parseAuthorization(value) {
	if (typeof value !== 'string' || !value.startsWith(`${SCHEME} `))
		return null;
	const seen = new Map();
	/* value = "HMACD-V1" SP param *( *SP "," *SP param ); a value is VCHARs but "," */
	for (const part of value.slice(SCHEME.length + 1).split(/ *, */)) {
		const m = PARAM_RE.exec(part);
		if (m === null || !PARAMS.has(m[1]) || seen.has(m[1]))
			return null;
		seen.set(m[1], m[2]);
	}
	const out = {};
	out.tenant = seen.get('Tenant');
	if (out.tenant === undefined || !TENANT_RE.test(out.tenant))
		return null;
	out.epoch = decimal(seen.get('Epoch') ?? '', POSITIVE_RE);
	out.ts = decimal(seen.get('Timestamp') ?? '', DECIMAL_RE);
	if (out.epoch === undefined || out.ts === undefined)
		return null;
	out.nonce = seen.get('Nonce') ?? '';
	if (seen.has('Nonce') && !NONCE_RE.test(out.nonce))
		return null;
	const sh = seen.get('SignedHeaders') ?? '';
	out.signedHeaders = sh === '' ? [] : sh.split(';');
	if (!out.signedHeaders.every((h) => HNAME_RE.test(h)))
		return null;
	const sig = seen.get('Signature');
	if (sig === undefined || !SIG_RE.test(sig))
		return null;
	out.sig = Buffer.from(sig, 'base64');
	/* only the canonical encoding: the unused low bits of the last character are zero */
	if (out.sig.length !== MAC_LEN || out.sig.toString('base64') !== sig)
		return null;
	return out;
}

/**
 * Formats an Authorization field value from {tenant, epoch, ts, nonce?, signedHeaders?, sig}.
 * Nonce and SignedHeaders are left out when empty. Throws TypeError if a value cannot be written
 * in the 13.1 form.
 */
function formatAuthorization({ tenant, epoch, ts, nonce, signedHeaders, sig }) {
	const ep = String(epoch);
	const t = String(ts);
	const names = signedHeaders ?? [];
	if (!TENANT_RE.test(tenant ?? ''))
		throw new TypeError('tenant: 1 to 128 bytes of [A-Za-z0-9._:/-]');
	if (decimal(ep, POSITIVE_RE) === undefined || decimal(t, DECIMAL_RE) === undefined)
		throw new TypeError('epoch (>= 1) and ts must be integers below 2^64');
	if (nonce && !NONCE_RE.test(nonce))
		throw new TypeError('nonce: 1 to 64 bytes of [A-Za-z0-9._~-]');
	if (!names.every((h) => HNAME_RE.test(h)))
		throw new TypeError('signed header names: lower-case tokens');
	if (!(sig instanceof Uint8Array) || sig.length !== MAC_LEN)
		throw new TypeError(`sig: ${MAC_LEN} bytes`);
	let s = `${SCHEME} Tenant=${tenant}, Epoch=${ep}, Timestamp=${t}`;
	if (nonce)
		s += `, Nonce=${nonce}`;
	if (names.length > 0)
		s += `, SignedHeaders=${names.join(';')}`;
	return `${s}, Signature=${Buffer.from(sig).toString('base64')}`;
}

/* Leading and trailing spaces and tabs, as the middleware strips them (13.3). */
function trimOWS(s) {
	return s.replace(/^[ \t]+|[ \t]+$/g, '');
}

/* Case-insensitive lookup in a plain object, a Headers, a Map or an array of pairs. */
function headerLookup(headers, name) {
	if (headers === undefined || headers === null)
		return undefined;
	if (typeof headers.get === 'function' && typeof headers.has === 'function' &&
	    !(headers instanceof Map))
		return headers.has(name) ? headers.get(name) : undefined; /* fetch Headers */
	const entries = Array.isArray(headers) ? headers :
		headers instanceof Map ? [...headers] : Object.entries(headers);
	const found = entries.filter(([k]) => String(k).toLowerCase() === name);
	if (found.length === 0)
		return undefined;
	return found.flatMap(([, v]) => (Array.isArray(v) ? v : [v]));
}

/* A signed header's value as the middleware will see it: each field trimmed, joined by ", ". */
function headerValue(v) {
	const list = Array.isArray(v) ? v : [v];
	return list.map((x) => trimOWS(String(x))).join(', ');
}

/**
 * Signs an HTTP request (13.2) and returns the Authorization field value to send with it.
 *
 * opts: secret (Uint8Array or base64), tenant, container (the one the request is addressed to),
 * epoch, method, and either url (string or URL: the path is its pathname + search, and `host`
 * defaults to its host) or path (the request target exactly as sent); headers (object, Map,
 * fetch Headers or [[name, value]]: the headers that will be sent); body (string, UTF-8, or
 * Uint8Array; omit for none); optional ts (default now), nonce (default 16 random bytes in hex;
 * null for none) and signedHeaders (default: host, plus content-type when there is a body and
 * the header is set). A scope's policy may require a nonce and given signed headers (hmacctl
 * policy set --v1-nonce, --v1-require): without them hmacd answers INSUFFICIENT_COVERAGE.
 * Throws TypeError or HmacdError (HMACD_EINVAL, HMACD_EMALFORMED) when the request cannot be
 * signed, e.g. a signed header that is not in `headers`.
 */
function signRequest(opts) {
	const { secret, tenant, container, epoch, method, headers, body } = opts;
	let path = opts.path;
	let host;
	if (opts.url !== undefined) {
		const u = opts.url instanceof URL ? opts.url : new URL(opts.url);
		path ??= u.pathname + u.search;
		host = u.host;
	}
	if (typeof path !== 'string')
		throw new TypeError('give url or path');
	const ts = opts.ts ?? Math.floor(Date.now() / 1000);
	const nonce = opts.nonce === undefined ? randomBytes(16).toString('hex') : (opts.nonce ?? '');
	const hasBody = body !== undefined && body !== null && body.length > 0;
	let names = opts.signedHeaders;
	if (names === undefined) {
		names = ['host'];
		if (hasBody && headerLookup(headers, 'content-type') !== undefined)
			names.push('content-type');
	}
	const signed = names.map((n) => {
		const name = String(n).toLowerCase();
		let v = headerLookup(headers, name);
		if (v === undefined && name === 'host')
			v = host;
		if (v === undefined)
			throw new HmacdError('HMACD_EINVAL', `signed header ${name} is not in headers`);
		return [name, headerValue(v)];
	});
	const item = { tenant, container, epoch, method, path, ts, nonce, headers: signed, body };
	const sig = signItem(secret, item);
	return formatAuthorization({
		tenant, epoch, ts, nonce, signedHeaders: signed.map(([n]) => n), sig,
	});
}

module.exports = {
	SCHEME,
	parseAuthorization,
	formatAuthorization,
	trimOWS,
	signRequest,
};
