/*
 * canon.js - the hmacd-v1 canonical string (PROTOCOL.md section 8) and the signature over it.
 *
 * The signer refuses an item that breaks a rule of section 7 (as hm_sign_item() does in C): the
 * daemon would answer MALFORMED for it, so a signature over it could never verify.
 */
'use strict';

const { createHash, createHmac } = require('node:crypto');

const { bodyBytes, fieldBytes, isUint64 } = require('./bytes.js');
const { HmacdError } = require('./errors.js');

const SECRET_MIN = 16;
const SECRET_MAX = 64;
const MAC_LEN = 32;
const SHA256_LEN = 32;
const MAX_HEADERS = 64;
const MAX_NONCE = 64;
const MAX_SCOPE = 128;
const MAX_METHOD = 32;

/* Byte classes of section 7, as 256-entry tables. */
function table(re) {
	const t = new Uint8Array(256);
	for (let b = 0; b < 256; b++)
		t[b] = re.test(String.fromCharCode(b)) ? 1 : 0;
	return t;
}
const SCOPE = table(/[A-Za-z0-9._:/-]/);
const TCHAR = table(/[A-Za-z0-9!#$%&'*+\-.^_`|~]/);
const HNAME = table(/[a-z0-9!#$%&'*+\-.^_`|~]/);
const TEXT = table(/[^\x00-\x1f\x7f]/);

function allIn(t, buf) {
	for (const b of buf) {
		if (!t[b])
			return false;
	}
	return true;
}

function malformed(what) {
	return new HmacdError('HMACD_EMALFORMED', `item is malformed: ${what}`);
}

/**
 * Checks an item against PROTOCOL.md section 7 (all but `sig`) and returns its fields as bytes:
 * {tenant, container, epoch, method, path, ts, nonce, headers: [[name, value]], digest}.
 * Throws TypeError for a field of the wrong JS type, HmacdError HMACD_EMALFORMED for a rule
 * broken, HMACD_EINVAL for both body forms.
 */
function itemBytes(item) {
	if (item === null || typeof item !== 'object')
		throw new TypeError('item must be an object');
	const f = {
		tenant: fieldBytes(item.tenant, 'tenant'),
		container: fieldBytes(item.container, 'container'),
		method: fieldBytes(item.method, 'method'),
		path: fieldBytes(item.path, 'path'),
		nonce: fieldBytes(item.nonce ?? '', 'nonce'),
		epoch: item.epoch,
		ts: item.ts,
	};
	for (const k of ['tenant', 'container']) {
		if (f[k].length < 1 || f[k].length > MAX_SCOPE || !allIn(SCOPE, f[k]))
			throw malformed(`${k}: 1 to ${MAX_SCOPE} bytes of [A-Za-z0-9._:/-]`);
	}
	if (!isUint64(f.epoch) || BigInt(f.epoch) < 1n)
		throw malformed('epoch: an integer >= 1');
	if (!isUint64(f.ts))
		throw malformed('ts: an integer >= 0');
	if (f.method.length < 1 || f.method.length > MAX_METHOD || !allIn(TCHAR, f.method))
		throw malformed(`method: 1 to ${MAX_METHOD} token characters`);
	if (f.path.length < 1 || f.path[0] !== 0x2f || !allIn(TEXT, f.path))
		throw malformed('path: starts with "/", no control bytes');
	if (f.nonce.length > MAX_NONCE || !allIn(TEXT, f.nonce))
		throw malformed(`nonce: 0 to ${MAX_NONCE} bytes, no control bytes`);
	const headers = item.headers ?? [];
	if (!Array.isArray(headers))
		throw new TypeError('headers must be an array of [name, value]');
	if (headers.length > MAX_HEADERS)
		throw malformed(`more than ${MAX_HEADERS} headers`);
	f.headers = headers.map((h) => {
		if (!Array.isArray(h) || h.length !== 2)
			throw new TypeError('each header must be a [name, value] pair');
		const name = fieldBytes(h[0], 'header name');
		const value = fieldBytes(h[1], 'header value');
		if (name.length < 1 || !allIn(HNAME, name))
			throw malformed('header name: lower-case token characters');
		if (!allIn(TEXT, value))
			throw malformed('header value: no control bytes (a tab cannot be signed)');
		return [name, value];
	});
	const hasBody = item.body !== undefined && item.body !== null;
	const hasDigest = item.bodySha256 !== undefined && item.bodySha256 !== null;
	if (hasBody && hasDigest)
		throw new HmacdError('HMACD_EINVAL', 'give body or bodySha256, not both');
	if (hasDigest) {
		if (!(item.bodySha256 instanceof Uint8Array))
			throw new TypeError('bodySha256 must be a Uint8Array');
		if (item.bodySha256.length !== SHA256_LEN)
			throw malformed(`bodySha256: exactly ${SHA256_LEN} bytes`);
		f.digest = Buffer.from(item.bodySha256);
	} else {
		f.digest = sha256(bodyBytes(item.body));
	}
	return f;
}

/** SHA-256 of bytes, as a 32-byte Buffer. */
function sha256(bytes) {
	return createHash('sha256').update(bytes).digest();
}

const NL = Buffer.from('\n');
const PREFIX = Buffer.from('hmacd-v1\n');
const COLON = Buffer.from(':');

/**
 * The canonical string of an item (PROTOCOL.md section 8), as a Buffer. Throws as itemBytes().
 * It names the request: use it to debug a signer, never log it in production.
 */
function canonical(item) {
	const f = itemBytes(item);
	const parts = [PREFIX, f.tenant, NL, f.container, NL, Buffer.from(`${f.epoch}\n`), f.method,
		NL, f.path, NL, Buffer.from(`${f.ts}\n`), f.nonce, NL];
	for (const [name, value] of f.headers)
		parts.push(name, COLON, value, NL);
	parts.push(Buffer.from(f.digest.toString('hex'), 'latin1'));
	return Buffer.concat(parts);
}

/** Decodes a secret: a Uint8Array as is, a string as standard base64 (as hmacctl prints it). */
function secretBytes(secret) {
	let key;
	if (typeof secret === 'string') {
		key = Buffer.from(secret, 'base64');
		if (key.toString('base64') !== secret)
			throw new HmacdError('HMACD_EINVAL', 'secret: not standard base64 with padding');
	} else if (secret instanceof Uint8Array) {
		key = Buffer.from(secret);
	} else {
		throw new TypeError('secret must be a Uint8Array or a base64 string');
	}
	if (key.length < SECRET_MIN || key.length > SECRET_MAX) {
		key.fill(0);
		throw new HmacdError('HMACD_EINVAL', `secret: ${SECRET_MIN} to ${SECRET_MAX} bytes`);
	}
	return key;
}

/**
 * sig = HMAC-SHA256(secret, canonical(item)) as a 32-byte Buffer; item.sig is ignored.
 * secret: Uint8Array (16..64 bytes) or its standard base64. Throws as canonical() and
 * secretBytes().
 */
function signItem(secret, item) {
	const msg = canonical(item);
	const key = secretBytes(secret);
	try {
		return createHmac('sha256', key).update(msg).digest();
	} finally {
		key.fill(0);
	}
}

module.exports = {
	SECRET_MIN,
	SECRET_MAX,
	MAC_LEN,
	SHA256_LEN,
	MAX_HEADERS,
	MAX_NONCE,
	MAX_SCOPE,
	MAX_METHOD,
	itemBytes,
	sha256,
	canonical,
	secretBytes,
	signItem,
};
