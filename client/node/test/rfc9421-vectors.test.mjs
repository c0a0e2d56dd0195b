/*
 * rfc9421-vectors.test.mjs - the shared RFC 9421 vectors of proto/vectors/rfc9421.json (format:
 * proto/vectors/README.md), whose answers are the daemon's own (tests/vectors/gen_rfc9421):
 * signatureBase() gives every expected base byte for byte and throws HMACD_EMALFORMED for every
 * case the daemon refuses; a signed case's Signature is the HMAC of that base; and sign(), given
 * a signed case's "sign" inputs, writes exactly its Signature-Input and Signature. No daemon.
 *
 * The file is $HMACD_RFC9421_VECTORS, else rfc9421.json next to $HMACD_VECTORS (make check sets
 * that), else ../../../proto/vectors/rfc9421.json in a source tree. Vector strings stand for
 * their UTF-8 bytes; the library takes a JS string as a byte string, so each is converted.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';

import * as hmacd from 'hmacd';

const { sign, signatureBase } = hmacd.rfc9421;

const FILE = process.env.HMACD_RFC9421_VECTORS ??
	(process.env.HMACD_VECTORS ? join(dirname(process.env.HMACD_VECTORS), 'rfc9421.json') :
		new URL('../../../proto/vectors/rfc9421.json', import.meta.url).pathname);

const DOC = existsSync(FILE) ? JSON.parse(readFileSync(FILE, 'utf8')) : null;
const SKIP = DOC === null ? `no vectors file at ${FILE}` : false;

/* The byte string (one char per byte) of a vector string. */
const wire = (s) => Buffer.from(s, 'utf8').toString('latin1');

function requestOf(c) {
	const r = c.request;
	return {
		method: wire(r.method),
		authority: wire(r.authority),
		path: wire(r.path),
		scheme: r.uri_scheme ?? 'https',
		headers: r.headers.map(([n, v]) => [wire(n), wire(v)]),
	};
}

function baseOf(c) {
	return signatureBase(requestOf(c), c.signature_input,
		c.label === undefined ? {} : { label: c.label });
}

describe('shared RFC 9421 vectors', { skip: SKIP }, () => {
	test('format', () => {
		assert.equal(DOC.format, 'hmacd rfc9421 signature base vectors');
		assert.equal(DOC.version, 1);
		assert.ok(DOC.cases.length > 0);
	});

	for (const c of DOC?.cases ?? []) {
		test(`base: ${c.name}`, () => {
			if (c.expect.error) {
				let got;
				assert.throws(() => {
					got = baseOf(c);
				}, (err) => err.code === 'HMACD_EMALFORMED',
				`the daemon refuses this (${c.expect.reason}); signatureBase() gives ${got}`);
				return;
			}
			const base = baseOf(c);
			assert.equal(base, wire(c.expect.base));
			if (c.key_b64 === undefined)
				return;
			const mac = createHmac('sha256', Buffer.from(c.key_b64, 'base64'))
				.update(Buffer.from(base, 'latin1')).digest('base64');
			const label = c.signature_input.slice(0, c.signature_input.indexOf('='));
			assert.equal(`${label}=:${mac}:`, c.expect.signature);
		});
	}

	for (const c of (DOC?.cases ?? []).filter((x) => x.sign !== undefined)) {
		test(`signer: ${c.name}`, () => {
			const s = c.sign;
			const out = sign({
				...requestOf(c),
				key: Buffer.from(c.key_b64, 'base64'),
				keyid: s.keyid,
				components: s.components,
				created: s.created ?? null,
				expires: s.expires,
				nonce: s.nonce ?? null,
				alg: s.alg ? 'hmac-sha256' : undefined,
				tag: s.tag,
				label: s.label,
			});
			assert.equal(out['Signature-Input'], c.signature_input);
			assert.equal(out.Signature, c.expect.signature);
			assert.equal(out['Content-Digest'], undefined);
		});
	}
});
