/*
 * wire.test.mjs - frames, response decoding, canonical string and signing, without a daemon.
 *
 * The frame bytes are the examples of PROTOCOL.md section 14, produced there by the C encoder:
 * the Node encoder must write the same bytes.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { decode } from '@msgpack/msgpack';

import * as hmacd from 'hmacd';
import { Writer, encodeItem, encodeSimpleFrame } from '../lib/wire.js';

const hex = (s) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const SECRET = hex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');

function worked() {
	return {
		tenant: 'acme', container: 'web-01', epoch: 3, method: 'POST',
		path: '/containers/web-01/exec?tty=1',
		headers: [['content-type', 'application/json'], ['x-request-id', 'req-42']],
		body: '{"cmd":["ls","-l"]}', ts: 1700000000, nonce: '8f14e45fceea167a',
	};
}

describe('frames (PROTOCOL.md section 14)', () => {
	test('ping', () => {
		assert.deepEqual(encodeSimpleFrame(1, 'ping'),
			hex('0000000d 82 a2 6964 01 a2 6f70 a4 70696e67'));
	});

	test('stats', () => {
		assert.deepEqual(encodeSimpleFrame(4, 'stats'),
			hex('0000000e 82 a2 6964 04 a2 6f70 a5 7374617473'));
	});

	test('verify of the worked example', () => {
		const it = worked();
		it.sig = hmacd.signItem(SECRET, it);
		assert.deepEqual(hmacd.encodeVerifyFrame(2, [it]), hex(`
			00 00 01 06 83 a2 69 64 02 a2 6f 70 a6 76 65 72 69 66 79 a5 69 74 65 6d 73 91 8a a6
			74 65 6e 61 6e 74 a4 61 63 6d 65 a9 63 6f 6e 74 61 69 6e 65 72 a6 77 65 62 2d 30 31
			a5 65 70 6f 63 68 03 a6 6d 65 74 68 6f 64 a4 50 4f 53 54 a4 70 61 74 68 bd 2f 63 6f
			6e 74 61 69 6e 65 72 73 2f 77 65 62 2d 30 31 2f 65 78 65 63 3f 74 74 79 3d 31 a7 68
			65 61 64 65 72 73 92 92 ac 63 6f 6e 74 65 6e 74 2d 74 79 70 65 b0 61 70 70 6c 69 63
			61 74 69 6f 6e 2f 6a 73 6f 6e 92 ac 78 2d 72 65 71 75 65 73 74 2d 69 64 a6 72 65 71
			2d 34 32 a4 62 6f 64 79 c4 13 7b 22 63 6d 64 22 3a 5b 22 6c 73 22 2c 22 2d 6c 22 5d
			7d a2 74 73 ce 65 53 f1 00 a5 6e 6f 6e 63 65 b0 38 66 31 34 65 34 35 66 63 65 65 61
			31 36 37 61 a3 73 69 67 c4 20 83 b5 59 37 fb 41 0a 3b cb e5 32 04 bf 2b aa 4d 1f 06
			2c f8 50 99 14 b1 76 ba 56 f5 09 06 9d ab`));
	});

	test('integers take the smallest form and round-trip up to 2^64-1', () => {
		for (const v of [0, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32,
			Number.MAX_SAFE_INTEGER, 2n ** 64n - 1n]) {
			const w = new Writer(16);
			w.uint(v);
			const got = decode(w.buf.subarray(0, w.len), { useBigInt64: true });
			assert.equal(BigInt(got), BigInt(v));
		}
		const w = new Writer(16);
		w.uint(200);
		assert.deepEqual(w.buf.subarray(0, w.len), hex('cc c8'));
	});

	test('str fields carry bytes: a byte string, or a Uint8Array as is', () => {
		const w = new Writer(256);
		encodeItem(w, { ...worked(), path: '/caf\u00e9', headers: [['x-a', Buffer.from('\u2713')]],
			sig: Buffer.alloc(32) });
		const m = decode(w.buf.subarray(0, w.len), { rawStrings: true });
		assert.deepEqual(Buffer.from(m.path), Buffer.from([0x2f, 0x63, 0x61, 0x66, 0xe9]));
		assert.deepEqual(Buffer.from(m.headers[0][1]), Buffer.from('\u2713', 'utf8'));
		assert.deepEqual(Buffer.from(m.body), Buffer.from('{"cmd":["ls","-l"]}'));
	});

	test('what the wire cannot carry is refused before anything is written', () => {
		const bad = [
			{ ...worked(), sig: Buffer.alloc(32), tenant: 'caf\u2713' },
			{ ...worked(), sig: Buffer.alloc(32), bodySha256: Buffer.alloc(32) },
			{ ...worked(), sig: 'not bytes' },
			{ ...worked(), sig: Buffer.alloc(32), epoch: -1 },
			{ ...worked(), sig: Buffer.alloc(32), ts: 1.5 },
			{ ...worked(), sig: Buffer.alloc(32), headers: [['a']] },
		];
		for (const it of bad) {
			const w = new Writer(16);
			assert.throws(() => encodeItem(w, it), TypeError);
			assert.equal(w.len, 0);
		}
	});
});

describe('responses (PROTOCOL.md section 5)', () => {
	test('the section 14 answers', () => {
		assert.deepEqual(hmacd.decodeResponse(hex('82 a2 6964 01 a4 706f6e67 c3')),
			{ id: 1, kind: 'pong' });
		assert.deepEqual(hmacd.decodeResponse(hex('82 a2 6964 02 a7 726573756c7473 91 00')),
			{ id: 2, kind: 'results', results: [0] });
		assert.deepEqual(hmacd.decodeResponse(hex(`82 a2 6964 04 a5 7374617473 82
			a8 7265717565737473 0a aa 766572646963745f6f6b 07`)),
		{ id: 4, kind: 'stats', stats: { requests: 10, verdict_ok: 7 } });
		const err = hmacd.decodeResponse(hex(`83 a2 6964 03 a5 6572726f72 aa 756e6b6e6f776e5f6f70
			a7 6d657373616765 a3 616263`));
		assert.deepEqual(err, { id: 3, kind: 'error', error: 'unknown_op', message: 'abc' });
		const nil = hmacd.decodeResponse(hex('83 a2 6964 c0 a5 6572726f72 a9 6d616c666f726d6564 a7 6d657373616765 a0'));
		assert.equal(nil.id, null);
		assert.equal(nil.error, 'malformed');
	});

	test('results in any uint format', () => {
		const r = hmacd.decodeResponse(hex('82 a2 6964 cd 0100 a7 726573756c7473 93 cc 01 cd 0002 ce 00000007'));
		assert.deepEqual(r, { id: 256, kind: 'results', results: [1, 2, 7] });
	});

	test('protocol errors', () => {
		const bad = {
			'not a map': '91 00',
			'trailing bytes': '82 a2 6964 01 a4 706f6e67 c3 00',
			'unknown key': '83 a2 6964 01 a4 706f6e67 c3 a1 78 01',
			'repeated key': '83 a2 6964 01 a4 706f6e67 c3 a4 706f6e67 c3',
			'two kinds': '83 a2 6964 01 a4 706f6e67 c3 a7 726573756c7473 90',
			'pong false': '82 a2 6964 01 a4 706f6e67 c2',
			'negative result': '82 a2 6964 01 a7 726573756c7473 91 ff',
			'missing id': '81 a4 706f6e67 c3',
			'no kind': '81 a2 6964 01',
			'string id': '82 a2 6964 a1 31 a4 706f6e67 c3',
			truncated: '82 a2 6964 01 a4 706f6e',
		};
		for (const [what, h] of Object.entries(bad))
			assert.throws(() => hmacd.decodeResponse(hex(h)), { code: 'HMACD_EPROTO' }, what);
	});
});

describe('canonical string and signature (PROTOCOL.md section 8)', () => {
	test('the worked example, byte for byte', () => {
		const c = hmacd.canonical(worked());
		assert.equal(c.length, 200);
		assert.equal(c.toString('latin1'), 'hmacd-v1\nacme\nweb-01\n3\nPOST\n' +
			'/containers/web-01/exec?tty=1\n1700000000\n8f14e45fceea167a\n' +
			'content-type:application/json\nx-request-id:req-42\n' +
			'f1d08736d9b5ae2812bd7c1d5b4657616d57ade382095f44e9a914cbc8e30f61');
		assert.equal(hmacd.signItem(SECRET, worked()).toString('hex'),
			'83b55937fb410a3bcbe53204bf2baa4d1f062cf8509914b176ba56f509069dab');
		assert.deepEqual(hmacd.signItem(SECRET.toString('base64'), worked()),
			hmacd.signItem(SECRET, worked()));
	});

	test('empty nonce, no headers, empty body, digest form', () => {
		const it = { ...worked(), nonce: '', headers: [], body: undefined };
		assert.equal(hmacd.canonical(it).toString('latin1'), 'hmacd-v1\nacme\nweb-01\n3\nPOST\n' +
			'/containers/web-01/exec?tty=1\n1700000000\n\n' +
			'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
		const d = { ...worked(), body: undefined, bodySha256: hmacd.sha256(worked().body) };
		assert.deepEqual(hmacd.canonical(d), hmacd.canonical(worked()));
	});

	test('the signer refuses a malformed item and a bad secret', () => {
		for (const change of [{ tenant: 'a b' }, { epoch: 0 }, { method: 'GE T' },
			{ path: 'nope' }, { nonce: 'x'.repeat(65) }, { headers: [['X-A', 'v']] },
			{ headers: [['x-a', 'a\tb']] }, { bodySha256: Buffer.alloc(31), body: undefined }]) {
			assert.throws(() => hmacd.signItem(SECRET, { ...worked(), ...change }),
				{ code: 'HMACD_EMALFORMED' }, JSON.stringify(change));
		}
		assert.throws(() => hmacd.signItem(Buffer.alloc(15), worked()), { code: 'HMACD_EINVAL' });
		assert.throws(() => hmacd.signItem('not base64!', worked()), { code: 'HMACD_EINVAL' });
	});
});

describe('Authorization (PROTOCOL.md 13.1, 13.2)', () => {
	const sig = hmacd.signItem(SECRET, worked());

	test('format and parse back', () => {
		const h = hmacd.formatAuthorization({ tenant: 'acme', epoch: 3, ts: 1700000000,
			nonce: '8f14e45fceea167a', signedHeaders: ['content-type', 'x-request-id'], sig });
		assert.equal(h, 'HMACD-V1 Tenant=acme, Epoch=3, Timestamp=1700000000, ' +
			'Nonce=8f14e45fceea167a, SignedHeaders=content-type;x-request-id, ' +
			'Signature=g7VZN/tBCjvL5TIEvyuqTR8GLPhQmRSxdrpW9QkGnas=');
		const p = hmacd.parseAuthorization(h);
		assert.deepEqual({ ...p, sig: p.sig.toString('hex') }, {
			tenant: 'acme', epoch: 3, ts: 1700000000, nonce: '8f14e45fceea167a',
			signedHeaders: ['content-type', 'x-request-id'], sig: sig.toString('hex'),
		});
		assert.throws(() => hmacd.formatAuthorization({ tenant: 'acme', epoch: 3, ts: 1,
			nonce: 'a/b', sig }), TypeError);
		assert.throws(() => hmacd.formatAuthorization({ tenant: 'acme', epoch: 0, ts: 1, sig }),
			TypeError);
	});

	test('signRequest: defaults (host from the URL, content-type with a body, ts, nonce)', () => {
		const before = Math.floor(Date.now() / 1000);
		const a = hmacd.signRequest({
			secret: SECRET, tenant: 'acme', container: 'web-01', epoch: 1, method: 'POST',
			url: 'http://127.0.0.1:8080/containers/web-01/exec?tty=1',
			headers: { 'Content-Type': ' application/json\t' }, body: '{"cmd":["ls"]}',
		});
		const p = hmacd.parseAuthorization(a);
		assert.deepEqual(p.signedHeaders, ['host', 'content-type']);
		assert.match(p.nonce, /^[0-9a-f]{32}$/);
		assert.ok(p.ts >= before && p.ts <= before + 5);
		const expect = hmacd.signItem(SECRET, {
			tenant: 'acme', container: 'web-01', epoch: 1, method: 'POST',
			path: '/containers/web-01/exec?tty=1', ts: p.ts, nonce: p.nonce,
			headers: [['host', '127.0.0.1:8080'], ['content-type', 'application/json']],
			body: '{"cmd":["ls"]}',
		});
		assert.deepEqual(p.sig, expect);
	});

	test('signRequest: explicit headers, repeated fields, no nonce, missing header', () => {
		const opts = {
			secret: SECRET, tenant: 'acme', container: 'web-01', epoch: 2, method: 'GET',
			path: '/containers/web-01/logs', ts: 1700000000, nonce: null,
			headers: [['X-Tag', 'b'], ['x-tag', ' a '], ['Host', 'h']],
			signedHeaders: ['x-tag', 'host'],
		};
		const p = hmacd.parseAuthorization(hmacd.signRequest(opts));
		assert.equal(p.nonce, '');
		assert.deepEqual(p.sig, hmacd.signItem(SECRET, {
			tenant: 'acme', container: 'web-01', epoch: 2, method: 'GET',
			path: '/containers/web-01/logs', ts: 1700000000,
			headers: [['x-tag', 'b, a'], ['host', 'h']],
		}));
		assert.throws(() => hmacd.signRequest({ ...opts, signedHeaders: ['x-missing'] }),
			{ code: 'HMACD_EINVAL' });
	});
});

describe('rfc9421 items (PROTOCOL.md 7.2)', () => {
	/* The keys of a map as encoded, in order (a decoder object keeps insertion order). */
	const encoded = (it) => {
		const w = new Writer(256);
		encodeItem(w, it);
		return w.buf.subarray(0, w.len);
	};

	test('every field, in the order of the C encoder; optional ones only when given', () => {
		const full = {
			scheme: 'rfc9421', tenant: 'acme', container: 'c1', method: 'POST',
			authority: 'api.example:8443', path: '/containers/c1/exec?tty=1', uriScheme: 'http',
			headers: [['host', 'api.example:8443'], ['x-a', '1\t2']],
			signatureInput: 'sig1=("@method");created=1', signature: 'sig1=:AAAA:',
			label: 'sig1', body: Buffer.from('{}'),
		};
		const bytes = encoded(full);
		const d = decode(bytes);
		assert.deepEqual(Object.keys(d), ['scheme', 'tenant', 'container', 'method', 'authority',
			'path', 'uri_scheme', 'headers', 'signature_input', 'signature', 'label', 'body']);
		assert.equal(bytes[0], 0x8c, 'a fixmap of 12');
		assert.deepEqual({ ...d, body: Buffer.from(d.body) }, {
			scheme: 'rfc9421', tenant: 'acme', container: 'c1', method: 'POST',
			authority: 'api.example:8443', path: '/containers/c1/exec?tty=1', uri_scheme: 'http',
			headers: [['host', 'api.example:8443'], ['x-a', '1\t2']],
			signature_input: 'sig1=("@method");created=1', signature: 'sig1=:AAAA:',
			label: 'sig1', body: Buffer.from('{}'),
		});
		assert.deepEqual([...bytes.subarray(-4)], [0xc4, 2, 0x7b, 0x7d], 'body is bin');
		/* the frame hm_encode_verify_begin() + hm_encode_item() of proto/msg.c write */
		assert.deepEqual(hmacd.encodeVerifyFrame(2, [full]), hex(`
			00000113 83 a2 6964 02 a2 6f70 a6 766572696679 a5 6974656d73 91 8c
			a6 736368656d65 a7 72666339343231 a6 74656e616e74 a4 61636d65
			a9 636f6e7461696e6572 a2 6331 a6 6d6574686f64 a4 504f5354
			a9 617574686f72697479 b0 6170692e6578616d706c653a38343433
			a4 70617468 b9 2f636f6e7461696e6572732f63312f657865633f7474793d31
			aa 7572695f736368656d65 a4 68747470
			a7 68656164657273 92 92 a4 686f7374 b0 6170692e6578616d706c653a38343433
			92 a3 782d61 a3 310932
			af 7369676e61747572655f696e707574 ba 736967313d2822406d6574686f6422293b637265617465643d31
			a9 7369676e6174757265 ab 736967313d3a414141413a a5 6c6162656c a4 73696731
			a4 626f6479 c4 02 7b7d`));
		const min = { ...full, uriScheme: '', label: null, body: undefined, headers: [] };
		const dm = decode(encoded(min));
		assert.deepEqual(Object.keys(dm), ['scheme', 'tenant', 'container', 'method', 'authority',
			'path', 'headers', 'signature_input', 'signature']);
		assert.deepEqual(dm.headers, []);
		/* scheme 'hmacd-v1' is the v1 item, written without a scheme key */
		const v1 = { ...worked(), sig: Buffer.alloc(32) };
		assert.deepEqual(encoded({ ...v1, scheme: 'hmacd-v1' }), encoded(v1));
	});

	test('fields of the other scheme, or an unknown scheme, are refused', () => {
		const it = { scheme: 'rfc9421', tenant: 'a', container: 'c', method: 'GET',
			authority: 'h', path: '/', headers: [], signatureInput: 's=()', signature: 's=::' };
		encoded(it);
		for (const extra of [{ epoch: 1 }, { sig: Buffer.alloc(32) }, { nonce: 'n' },
			{ ts: 1 }, { bodySha256: Buffer.alloc(32) }, { scheme: 'RFC9421' },
			{ signatureInput: undefined }, { headers: [['a']] }, { body: 3 }])
			assert.throws(() => encoded({ ...it, ...extra }), TypeError, JSON.stringify(extra));
		const v1 = { ...worked(), sig: Buffer.alloc(32) };
		for (const extra of [{ authority: 'h' }, { signatureInput: 's' }, { label: 'x' }])
			assert.throws(() => encoded({ ...v1, ...extra }), TypeError, JSON.stringify(extra));
	});

	test('INSUFFICIENT_COVERAGE is verdict 8', () => {
		assert.equal(hmacd.Verdict.INSUFFICIENT_COVERAGE, 8);
		assert.equal(hmacd.verdictName(8), 'INSUFFICIENT_COVERAGE');
		assert.equal(hmacd.verdictName(10), 'VERDICT_10');
	});
});
