/*
 * bytes.js - turning item fields into the bytes that go on the wire and into the canonical string.
 *
 * hmacd's str fields are bytes, not text. HTTP field values and request targets are byte strings
 * too, and Node's http module (server and client) maps them to JS strings one byte per character
 * (latin1). So a JS string given for a str field is taken the same way: each character is one
 * byte, and a character above U+00FF is refused (Node would refuse to send it as well). A
 * Uint8Array is taken as raw bytes. The body is the exception: a string body is UTF-8, which is
 * what fetch() and http.request() send for a string.
 */
'use strict';


const NOT_A_BYTE = /[^\x00-\xff]/;

/** Throws TypeError unless v is a byte string or a Uint8Array. */
function checkBytesLike(v, what) {
	if (typeof v === 'string') {
		if (NOT_A_BYTE.test(v))
			throw new TypeError(`${what} holds a character above U+00FF (not a byte string)`);
		return;
	}
	if (!(v instanceof Uint8Array))
		throw new TypeError(`${what} must be a string or a Uint8Array`);
}

/** The bytes of a str field (latin1 for strings), as a Buffer view where possible. */
function fieldBytes(v, what) {
	checkBytesLike(v, what);
	if (typeof v === 'string')
		return Buffer.from(v, 'latin1');
	return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/** The bytes of a body: UTF-8 for a string, as is for a Uint8Array, empty for undefined/null. */
function bodyBytes(v) {
	if (v === undefined || v === null)
		return Buffer.alloc(0);
	if (typeof v === 'string')
		return Buffer.from(v, 'utf8');
	if (v instanceof Uint8Array)
		return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
	throw new TypeError('body must be a string, a Uint8Array or undefined');
}

const UINT64_MAX = (1n << 64n) - 1n;

/** True for a safe non-negative integer Number or a BigInt in 0..2^64-1. */
function isUint64(v) {
	if (typeof v === 'number')
		return Number.isSafeInteger(v) && v >= 0;
	if (typeof v === 'bigint')
		return v >= 0n && v <= UINT64_MAX;
	return false;
}

/** A uint from the wire or a header: a Number when it is safe, else a BigInt. */
function normUint(v) {
	if (typeof v === 'bigint' && v <= BigInt(Number.MAX_SAFE_INTEGER))
		return Number(v);
	return v;
}

module.exports = {
	checkBytesLike,
	fieldBytes,
	bodyBytes,
	UINT64_MAX,
	isUint64,
	normUint,
};
