/*
 * wire.js - the frame and msgpack layer of PROTOCOL.md sections 2 to 7 (no I/O).
 *
 * Requests are written by a small purpose-built encoder rather than a generic one, for two
 * reasons: str fields must carry raw bytes that need not be UTF-8 (a request target or a header
 * value as received, see bytes.js), which a generic encoder cannot express, and a verify item can
 * be appended straight into the frame that will be written, with no intermediate objects. The key
 * order and the smallest-form rule follow proto/msg.c, so a frame is byte-identical to the C
 * encoder's (test/wire.test.mjs checks the examples of PROTOCOL.md section 14).
 *
 * Responses are decoded with @msgpack/msgpack and then checked against section 5.
 */
'use strict';

const { Decoder } = require('@msgpack/msgpack');

const { checkBytesLike, isUint64 } = require('./bytes.js');
const { HmacdError } = require('./errors.js');

/** Bytes reserved before the items of a verify frame: length, map, id, op and items keys. */
const VERIFY_PREFIX_MAX = 4 + 1 + 3 + 9 + 3 + 7 + 6 + 5;

/** A growable byte buffer with msgpack append helpers. */
class Writer {
	constructor(size = 4096, start = 0) {
		this.buf = Buffer.allocUnsafe(Math.max(size, start + 64));
		this.len = start;
	}

	reserve(n) {
		const need = this.len + n;
		if (need <= this.buf.length)
			return;
		let size = this.buf.length * 2;
		while (size < need)
			size *= 2;
		const nb = Buffer.allocUnsafe(size);
		this.buf.copy(nb, 0, 0, this.len);
		this.buf = nb;
	}

	u8(b) {
		this.reserve(1);
		this.buf[this.len++] = b;
	}

	/* A type byte followed by a big-endian integer of `size` bytes (1, 2 or 4). */
	tagged(tag, v, size) {
		this.reserve(1 + size);
		this.buf[this.len++] = tag;
		this.len = this.buf.writeUIntBE(v, this.len, size);
	}

	uint(v) {
		if (typeof v === 'bigint') {
			if (v <= 0xffffffffn) {
				this.uint(Number(v));
				return;
			}
			this.reserve(9);
			this.buf[this.len++] = 0xcf;
			this.len = this.buf.writeBigUInt64BE(v, this.len);
			return;
		}
		if (v < 0x80)
			this.u8(v);
		else if (v < 0x100)
			this.tagged(0xcc, v, 1);
		else if (v < 0x10000)
			this.tagged(0xcd, v, 2);
		else if (v < 0x100000000)
			this.tagged(0xce, v, 4);
		else
			this.uint(BigInt(v));
	}

	strHeader(n) {
		if (n < 32)
			this.u8(0xa0 | n);
		else if (n < 0x100)
			this.tagged(0xd9, n, 1);
		else if (n < 0x10000)
			this.tagged(0xda, n, 2);
		else
			this.tagged(0xdb, n, 4);
	}

	binHeader(n) {
		if (n < 0x100)
			this.tagged(0xc4, n, 1);
		else if (n < 0x10000)
			this.tagged(0xc5, n, 2);
		else
			this.tagged(0xc6, n, 4);
	}

	arrayHeader(n) {
		if (n < 16)
			this.u8(0x90 | n);
		else if (n < 0x10000)
			this.tagged(0xdc, n, 2);
		else
			this.tagged(0xdd, n, 4);
	}

	mapHeader(n) {
		if (n < 16)
			this.u8(0x80 | n);
		else if (n < 0x10000)
			this.tagged(0xde, n, 2);
		else
			this.tagged(0xdf, n, 4);
	}

	/* A str from a byte string (one byte per character) or a Uint8Array. */
	str(v) {
		if (typeof v === 'string') {
			this.strHeader(v.length);
			this.reserve(v.length);
			this.len += this.buf.write(v, this.len, 'latin1');
		} else {
			this.strHeader(v.length);
			this.raw(v);
		}
	}

	bin(v) {
		this.binHeader(v.length);
		this.raw(v);
	}

	raw(v) {
		this.reserve(v.length);
		this.buf.set(v, this.len);
		this.len += v.length;
	}
}

/* Keys pre-encoded once (all are fixstr). */
const K = Object.fromEntries(
	['id', 'op', 'items', 'verify', 'ping', 'stats', 'tenant', 'container', 'epoch', 'method',
		'path', 'headers', 'body', 'body_sha256', 'ts', 'nonce', 'sig', 'scheme', 'rfc9421',
		'authority', 'uri_scheme', 'signature_input', 'signature', 'label']
		.map((k) => [k, Buffer.from([0xa0 | k.length, ...Buffer.from(k, 'latin1')])]));

function uintField(v, what) {
	if (!isUint64(v))
		throw new TypeError(`${what} must be a non-negative integer (Number or BigInt < 2^64)`);
}

function binField(v, what) {
	if (typeof v === 'string' || !(v instanceof Uint8Array))
		throw new TypeError(`${what} must be a Uint8Array`);
}

const isSet = (v) => v !== undefined && v !== null;

function checkHeaders(headers) {
	if (!Array.isArray(headers))
		throw new TypeError('headers must be an array of [name, value]');
	for (const h of headers) {
		if (!Array.isArray(h) || h.length !== 2)
			throw new TypeError('each header must be a [name, value] pair');
		checkBytesLike(h[0], 'header name');
		checkBytesLike(h[1], 'header value');
	}
}

/* A body, when given, is a string (sent as UTF-8) or a Uint8Array. */
function checkBody(body) {
	if (isSet(body) && typeof body !== 'string' && !(body instanceof Uint8Array))
		throw new TypeError('body must be a string (UTF-8) or a Uint8Array');
}

/*
 * Checks that an item can be put on the wire, without judging its content: content rules
 * (PROTOCOL.md section 7) are the daemon's to apply, and it answers MALFORMED (7) for an item that
 * breaks them. Throws TypeError.
 */
function checkEncodable(item) {
	if (item === null || typeof item !== 'object')
		throw new TypeError('item must be an object');
	for (const k of ['tenant', 'container', 'method', 'path'])
		checkBytesLike(item[k], k);
	for (const k of ['authority', 'uriScheme', 'signatureInput', 'signature', 'label']) {
		if (isSet(item[k]))
			throw new TypeError(`${k} is a field of an rfc9421 item (give scheme: 'rfc9421')`);
	}
	uintField(item.epoch, 'epoch');
	uintField(item.ts, 'ts');
	if (isSet(item.nonce))
		checkBytesLike(item.nonce, 'nonce');
	binField(item.sig, 'sig');
	checkHeaders(item.headers ?? []);
	if (isSet(item.body) && isSet(item.bodySha256))
		throw new TypeError('give body or bodySha256, not both');
	checkBody(item.body);
	if (isSet(item.bodySha256))
		binField(item.bodySha256, 'bodySha256');
}

/* The fields of an rfc9421 item (JS name -> wire key), in the order the C encoder writes them. */
const RFC_FIELDS = [
	['tenant', 'tenant', true], ['container', 'container', true], ['method', 'method', true],
	['authority', 'authority', true], ['path', 'path', true], ['uriScheme', 'uri_scheme', false],
	['headers', 'headers', true], ['signatureInput', 'signature_input', true],
	['signature', 'signature', true], ['label', 'label', false], ['body', 'body', false],
];
const RFC_KNOWN = new Set(['scheme', ...RFC_FIELDS.map(([k]) => k)]);

/* uri_scheme and label are written only when non-empty, as the C encoder does ('' = absent) */
const isGiven = (k, v) => isSet(v) && (k === 'body' || v.length > 0);

/* As checkEncodable(), for an rfc9421 item; a field of hmacd-v1 (epoch, sig, ...) is refused. */
function checkEncodableRfc(item) {
	for (const k of Object.keys(item)) {
		if (isSet(item[k]) && !RFC_KNOWN.has(k))
			throw new TypeError(`${k} is not a field of an rfc9421 item`);
	}
	for (const [k, , required] of RFC_FIELDS) {
		if (k === 'headers' || k === 'body' || (!required && !isSet(item[k])))
			continue;
		checkBytesLike(item[k], k);
	}
	checkHeaders(item.headers ?? []);
	checkBody(item.body);
}

/*
 * The rfc9421 item (PROTOCOL.md 7.2): keys in the order of the C encoder, the optional ones
 * (uri_scheme, label, body) only when given.
 */
function encodeRfcItem(w, item) {
	checkEncodableRfc(item);
	const present = RFC_FIELDS.filter(([k, , required]) => required || isGiven(k, item[k]));
	w.mapHeader(1 + present.length);
	w.raw(K.scheme);
	w.raw(K.rfc9421);
	for (const [k, wireKey] of present) {
		w.raw(K[wireKey]);
		if (k === 'headers') {
			const headers = item.headers ?? [];
			w.arrayHeader(headers.length);
			for (const [name, value] of headers) {
				w.u8(0x92);
				w.str(name);
				w.str(value);
			}
		} else if (k === 'body') {
			w.bin(typeof item.body === 'string' ? Buffer.from(item.body, 'utf8') : item.body);
		} else {
			w.str(item[k]);
		}
	}
}

/**
 * Appends the msgpack map of one verify item to w. Throws TypeError (before writing anything) if
 * the item cannot be encoded.
 *
 * An hmacd-v1 item (no `scheme`, or scheme 'hmacd-v1'; written without a scheme key): tenant,
 * container, method, path (byte strings or Uint8Array), epoch, ts (uint), headers
 * ([[name, value], ...]), body (string, UTF-8, or Uint8Array) or bodySha256 (Uint8Array), nonce
 * (optional; empty or absent = none), sig (Uint8Array). A missing body and digest mean the empty
 * body.
 *
 * An rfc9421 item (scheme 'rfc9421'): tenant, container, method, authority (host[:port]), path
 * (path and ?query as sent), uriScheme (optional: 'http' or 'https', absent = https), headers
 * (every request header as [lower-case name, value], in arrival order; may be empty),
 * signatureInput and signature (the raw header values), label (optional), body (optional:
 * string, UTF-8, or Uint8Array, for Content-Digest). An empty uriScheme or label is left out
 * (absent), as hm_encode_item() does. Fields of the other scheme are refused.
 */
function encodeItem(w, item) {
	if (item !== null && typeof item === 'object' && item.scheme !== undefined &&
	    item.scheme !== 'hmacd-v1') {
		if (item.scheme !== 'rfc9421')
			throw new TypeError('scheme: \'hmacd-v1\' (or absent) or \'rfc9421\'');
		encodeRfcItem(w, item);
		return;
	}
	checkEncodable(item);
	const nonce = item.nonce ?? '';
	const headers = item.headers ?? [];
	w.mapHeader(nonce.length > 0 ? 10 : 9);
	w.raw(K.tenant);
	w.str(item.tenant);
	w.raw(K.container);
	w.str(item.container);
	w.raw(K.epoch);
	w.uint(item.epoch);
	w.raw(K.method);
	w.str(item.method);
	w.raw(K.path);
	w.str(item.path);
	w.raw(K.headers);
	w.arrayHeader(headers.length);
	for (const [name, value] of headers) {
		w.u8(0x92);
		w.str(name);
		w.str(value);
	}
	if (item.bodySha256 !== undefined && item.bodySha256 !== null) {
		w.raw(K.body_sha256);
		w.bin(item.bodySha256);
	} else {
		w.raw(K.body);
		const body = item.body ?? '';
		w.bin(typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
	}
	w.raw(K.ts);
	w.uint(item.ts);
	if (nonce.length > 0) {
		w.raw(K.nonce);
		w.str(nonce);
	}
	w.raw(K.sig);
	w.bin(item.sig);
}

/*
 * Turns w (whose items start at VERIFY_PREFIX_MAX) into a verify frame for `count` items with
 * request id `id`: the prefix is written just before the items. Returns the frame's bytes.
 */
function sealVerifyFrame(w, id, count) {
	const p = new Writer(64);
	p.len = 4;
	p.mapHeader(3);
	p.raw(K.id);
	p.uint(id);
	p.raw(K.op);
	p.raw(K.verify);
	p.raw(K.items);
	p.arrayHeader(count);
	const start = VERIFY_PREFIX_MAX - p.len;
	p.buf.writeUInt32BE(w.len - start - 4, 0);
	p.buf.copy(w.buf, start, 0, p.len);
	return w.buf.subarray(start, w.len);
}

/** A whole frame for {"id": id, "op": op} (ping or stats). */
function encodeSimpleFrame(id, op) {
	const w = new Writer(32, 4);
	w.mapHeader(2);
	w.raw(K.id);
	w.uint(id);
	w.raw(K.op);
	w.raw(K[op]);
	w.buf.writeUInt32BE(w.len - 4, 0);
	return w.buf.subarray(0, w.len);
}

/** A whole verify frame for a list of items (tests and simple callers). */
function encodeVerifyFrame(id, items) {
	const w = new Writer(4096, VERIFY_PREFIX_MAX);
	for (const it of items)
		encodeItem(w, it);
	return sealVerifyFrame(w, id, items.length);
}

/* ---- responses ---- */

const decoder = new Decoder({ useBigInt64: true });

function protoError(what) {
	return new HmacdError('HMACD_EPROTO', `hmacd answer broke the protocol: ${what}`);
}

/* Entries announced by the top-level map header (the decoder merges repeated keys). */
function mapCount(p) {
	const b = p[0];
	if (b >= 0x80 && b <= 0x8f)
		return b & 0x0f;
	if (b === 0xde && p.length >= 3)
		return p.readUInt16BE(1);
	if (b === 0xdf && p.length >= 5)
		return p.readUInt32BE(1);
	return -1;
}

function uintValue(v) {
	if (typeof v === 'number' && Number.isInteger(v) && v >= 0)
		return v;
	if (typeof v === 'bigint' && v >= 0n)
		return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
	return undefined;
}

/**
 * Decodes and checks one response payload (PROTOCOL.md section 5). Returns
 * {id (number, bigint or null), kind: 'results'|'pong'|'stats'|'error', results?, stats?,
 * error?, message?}. Throws HmacdError HMACD_EPROTO.
 */
function decodeResponse(payload) {
	let v;
	try {
		v = decoder.decode(payload);
	} catch (e) {
		throw protoError(`not one msgpack value (${e.message})`);
	}
	if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array)
		throw protoError('not a map');
	const keys = Object.keys(v);
	if (keys.length !== mapCount(payload))
		throw protoError('repeated or non-str key');
	const r = { id: null, kind: undefined };
	for (const k of keys) {
		const val = v[k];
		switch (k) {
		case 'id':
			if (val !== null) {
				r.id = uintValue(val);
				if (r.id === undefined)
					throw protoError('id is not a uint');
			}
			break;
		case 'message':
			if (typeof val !== 'string')
				throw protoError('message is not a str');
			r.message = val;
			break;
		case 'results':
		case 'pong':
		case 'stats':
		case 'error':
			if (r.kind !== undefined)
				throw protoError('two kinds of answer');
			r.kind = k;
			break;
		default:
			throw protoError(`unknown key ${JSON.stringify(k)}`);
		}
	}
	switch (r.kind) {
	case 'results':
		if (!Array.isArray(v.results))
			throw protoError('results is not an array');
		r.results = v.results.map((x) => {
			const u = uintValue(x);
			if (u === undefined)
				throw protoError('a result is not a uint');
			// a code from a later version is still a reject; a huge one stays non-zero
			return Number(u);
		});
		break;
	case 'pong':
		if (v.pong !== true)
			throw protoError('pong is not true');
		break;
	case 'stats':
		if (v.stats === null || typeof v.stats !== 'object' || Array.isArray(v.stats) ||
		    v.stats instanceof Uint8Array)
			throw protoError('stats is not a map');
		r.stats = {};
		for (const [name, x] of Object.entries(v.stats)) {
			const u = uintValue(x);
			if (u === undefined)
				throw protoError('a counter is not a uint');
			r.stats[name] = u;
		}
		break;
	case 'error':
		if (typeof v.error !== 'string')
			throw protoError('error is not a str');
		r.error = v.error;
		break;
	default:
		throw protoError('no results, pong, stats or error');
	}
	if (r.kind !== 'error' && r.id === null)
		throw protoError('no id');
	return r;
}

module.exports = {
	VERIFY_PREFIX_MAX,
	Writer,
	encodeItem,
	sealVerifyFrame,
	encodeSimpleFrame,
	encodeVerifyFrame,
	decodeResponse,
};
