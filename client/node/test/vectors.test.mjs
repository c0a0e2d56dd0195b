/*
 * vectors.test.mjs - the signer, the Authorization parser and the middleware against the shared
 * vectors of proto/vectors/hmacd-v1.json (format: proto/vectors/README.md), and, when $HMACD is
 * set, the tampered and malformed vectors against the real daemon.
 *
 * The file is found through $HMACD_VECTORS (make check sets it) or, in a source tree, at
 * ../../../proto/vectors/hmacd-v1.json. Vector strings stand for their UTF-8 bytes, so every str
 * field is handed to the library as a Buffer (the library takes a JS string as a byte string).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';

import { encode } from '@msgpack/msgpack';
import express from 'express';

import * as hmacd from 'hmacd';

import { Daemon, SKIP_DAEMON, frame, rawExchange, request, serve } from './helpers.mjs';

const FILE = process.env.HMACD_VECTORS ??
	new URL('../../../proto/vectors/hmacd-v1.json', import.meta.url).pathname;

/*
 * JSON.parse with integers above 2^53-1 kept exact: such numbers (outside strings, the file is
 * ASCII and generated) are quoted first and turned into BigInts where the format has integers.
 */
function loadVectors() {
	const text = readFileSync(FILE, 'latin1')
		.replace(/([:[,]\s*)(\d{16,})(?=\s*[,\]}])/g, '$1"#big:$2"');
	return JSON.parse(text, (k, v) => {
		if (typeof v === 'string' && v.startsWith('#big:')) {
			const b = BigInt(v.slice(5));
			return b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
		}
		return v;
	});
}

const V = existsSync(FILE) ? loadVectors() : null;
const SKIP = V === null ? `no vectors file at ${FILE}` : false;

const utf8 = (s) => Buffer.from(s, 'utf8');
/* The byte string (one char per byte) of a vector string, as Node's http module handles it. */
const wire = (s) => Buffer.from(s, 'utf8').toString('latin1');

function itemOf(v) {
	return {
		tenant: utf8(v.tenant),
		container: utf8(v.container),
		epoch: v.epoch,
		method: utf8(v.method),
		path: utf8(v.path),
		ts: v.ts,
		nonce: utf8(v.nonce),
		headers: v.headers.map(([n, val]) => [utf8(n), utf8(val)]),
		body: Buffer.from(v.body_b64, 'base64'),
	};
}

describe('shared vectors', { skip: SKIP }, () => {
	test('format version 1 with every list present', () => {
		assert.equal(V.version, 1);
		/* the file names the codes its vectors use; the client knows them all (and maybe more,
		 * e.g. 8 INSUFFICIENT_COVERAGE of rfc9421, which no hmacd-v1 vector can get) */
		for (const [name, code] of Object.entries(V.verdicts))
			assert.equal(hmacd.Verdict[name], code, name);
		for (const k of ['positive', 'tampered', 'malformed'])
			assert.ok(V[k].length > 0, k);
		assert.ok(V.authorization.valid.length > 0 && V.authorization.invalid.length > 0);
	});

	describe('positive: the signer', () => {
		for (const v of V?.positive ?? []) {
			test(v.name, () => {
				const item = itemOf(v);
				assert.equal(hmacd.canonical(item).toString('latin1'),
					utf8(v.canonical).toString('latin1'), 'canonical string');
				assert.equal(hmacd.sha256(item.body).toString('hex'), v.body_sha256);
				const byDigest = { ...item, body: undefined,
					bodySha256: Buffer.from(v.body_sha256, 'hex') };
				assert.deepEqual(hmacd.canonical(byDigest), hmacd.canonical(item));
				const sig = hmacd.signItem(v.secret_b64, item);
				assert.equal(sig.toString('hex'), v.sig_hex);
				assert.equal(sig.toString('base64'), v.sig_b64);
				const auth = hmacd.formatAuthorization({
					tenant: v.tenant, epoch: v.epoch, ts: v.ts, nonce: v.nonce,
					signedHeaders: v.headers.map(([n]) => n), sig,
				});
				assert.equal(auth, v.authorization);

				const p = hmacd.parseAuthorization(v.authorization);
				assert.ok(p, 'the header parses back');
				assert.equal(p.tenant, v.tenant);
				assert.equal(p.epoch, v.epoch);
				assert.equal(p.ts, v.ts);
				assert.equal(p.nonce, v.nonce);
				assert.deepEqual(p.signedHeaders, v.headers.map(([n]) => n));
				assert.equal(p.sig.toString('hex'), v.sig_hex);

				if (v.http) {
					/* the high-level signer, given the request as it goes on the wire */
					const got = hmacd.signRequest({
						secret: v.secret_b64, tenant: v.tenant, container: v.container,
						epoch: v.epoch, method: v.method, path: wire(v.path),
						headers: v.headers.map(([n, val]) => [n, wire(val)]),
						body: item.body, ts: v.ts, nonce: v.nonce || null,
						signedHeaders: v.headers.map(([n]) => n),
					});
					assert.equal(got, v.authorization, 'signRequest');
				}
			});
		}
	});

	describe('tampered: same canonical string, signature no longer matches', () => {
		for (const v of V?.tampered ?? []) {
			test(v.name, () => {
				const item = itemOf(v);
				assert.equal(hmacd.canonical(item).toString('latin1'),
					utf8(v.canonical).toString('latin1'));
				assert.notEqual(hmacd.signItem(v.secret_b64, item).toString('hex'), v.sig_hex);
			});
		}
	});

	describe('malformed (content): the signer refuses', () => {
		const secret = Buffer.alloc(32, 7);
		for (const v of (V?.malformed ?? []).filter((x) => x.kind === 'content')) {
			test(v.name, () => {
				assert.throws(() => hmacd.signItem(secret, itemOf(v)),
					{ code: 'HMACD_EMALFORMED' });
			});
		}
	});

	describe('authorization: the parser', () => {
		for (const v of V?.authorization.valid ?? []) {
			test(`valid ${v.name}`, () => {
				const p = hmacd.parseAuthorization(v.header);
				assert.ok(p, 'parses');
				assert.deepEqual({
					tenant: p.tenant, epoch: p.epoch, ts: p.ts, nonce: p.nonce,
					signed_headers: p.signedHeaders, sig_hex: p.sig.toString('hex'),
				}, {
					tenant: v.parsed.tenant, epoch: v.parsed.epoch, ts: v.parsed.ts,
					nonce: v.parsed.nonce ?? '', signed_headers: v.parsed.signed_headers,
					sig_hex: v.parsed.sig_hex,
				});
			});
		}
		for (const v of V?.authorization.invalid ?? []) {
			test(`invalid ${v.name}`, () => {
				assert.equal(hmacd.parseAuthorization(v.header), null);
			});
		}
	});

	/*
	 * Each positive vector that survives as an HTTP/1.1 request is sent through the middleware,
	 * whose client is a stub recording the item: it must be the vector's item exactly.
	 */
	describe('positive over HTTP: the middleware rebuilds the item', () => {
		let srv;
		const seen = [];
		const containers = new Map();
		before(async () => {
			const stub = {
				verify: (item) => {
					seen.push(item);
					return Promise.resolve(hmacd.Verdict.OK);
				},
			};
			const app = express();
			app.all('/{*rest}', (req, res, next) => {
				req.params.id = containers.get(req.originalUrl);
				next();
			}, hmacd.express({ client: stub, log: () => {} }), (req, res) => {
				res.json({ ok: true, len: req.rawBody.length });
			});
			srv = await serve(app);
		});
		after(() => srv?.close());

		for (const v of (V?.positive ?? []).filter((x) => x.http)) {
			/* Node's HTTP parser takes only the registered upper-case methods */
			const skip = http.METHODS.includes(v.method) ? false :
				`Node's HTTP server refuses the method ${JSON.stringify(v.method)}`;
			test(v.name, { skip }, async () => {
				containers.set(wire(v.path), v.container);
				const body = Buffer.from(v.body_b64, 'base64');
				const headers = v.headers.map(([n, val]) => [n, wire(val)]);
				headers.push(['Authorization', v.authorization]);
				/* HTTP/1.1 needs a Host (Node answers 400 without one); unsigned, it is ignored */
				if (!v.headers.some(([n]) => n === 'host'))
					headers.push(['Host', '127.0.0.1']);
				if (body.length > 0 || v.method !== 'GET')
					headers.push(['Content-Length', String(body.length)]);
				seen.length = 0;
				const r = await request(srv.port, { method: v.method, path: wire(v.path), headers,
					body });
				assert.equal(r.status, 200, r.body);
				assert.equal(seen.length, 1);
				const got = seen[0];
				assert.equal(hmacd.canonical(got).toString('latin1'),
					utf8(v.canonical).toString('latin1'));
				assert.equal(Buffer.from(got.sig).toString('hex'), v.sig_hex);
				assert.equal(got.container, v.container, 'container from the route');
			});
		}
	});
});

describe('shared vectors against the real daemon', { skip: SKIP || SKIP_DAEMON }, () => {
	let d, client;
	const secrets = new Map(); /* "tenant/container/epoch" -> secret */

	/* creates a scope and rotates it up to `epochs`, keeping every epoch valid */
	async function scope(tenant, container, epochs) {
		secrets.set(`${tenant}/${container}/1`, await d.createKey(tenant, container));
		for (let e = 2; e <= epochs; e++) {
			const r = await d.rotateKey(tenant, container);
			secrets.set(`${tenant}/${container}/${r.epoch}`, r.secret);
		}
	}

	before(async () => {
		d = await new Daemon().start();
		await scope('acme', 'web-01', 4);
		await scope('acme', 'web-02', 3);
		await scope('acme2', 'web-01', 3);
		client = new hmacd.Client({ socket: d.socket });
	});
	after(async () => {
		client?.close();
		await d?.destroy();
	});

	test('tampered: the base signed with a real key is STALE_TIMESTAMP, each change BAD_SIGNATURE',
		async () => {
			const base = V.positive.find((x) => x.name === 'protocol-worked-example');
			const item = itemOf(base);
			const sig = hmacd.signItem(secrets.get('acme/web-01/3'), item);
			assert.equal(await client.verify({ ...item, sig }), hmacd.Verdict.STALE_TIMESTAMP);
			const verdicts = await client.verifyBatch(V.tampered.map((v) => {
				assert.equal(v.base, base.name);
				assert.ok(secrets.has(`${v.tenant}/${v.container}/${v.epoch}`), v.name);
				return { ...itemOf(v), sig };
			}));
			assert.deepEqual(verdicts.map(hmacd.verdictName),
				V.tampered.map((v) => v.expected));
		});

	test('malformed (content): sent as they are, every item MALFORMED', async () => {
		const list = V.malformed.filter((x) => x.kind === 'content');
		const verdicts = await client.verifyBatch(list.map((v) => ({
			...itemOf(v), sig: Buffer.from(v.sig_b64, 'base64'),
		})));
		assert.deepEqual(verdicts.map(hmacd.verdictName), list.map((v) => v.expected));
	});

	test('malformed (wire): each item MALFORMED, not an error response', async () => {
		for (const v of V.malformed.filter((x) => x.kind === 'wire')) {
			const m = {
				tenant: v.tenant, container: v.container, epoch: v.epoch, method: v.method,
				path: v.path, headers: v.headers, body: Buffer.from(v.body_b64, 'base64'),
				ts: v.ts, nonce: v.nonce, sig: Buffer.from(v.sig_b64, 'base64'),
			};
			for (const k of v.wire?.remove ?? [])
				delete m[k];
			Object.assign(m, v.wire?.set ?? {});
			for (const [k, b64] of Object.entries(v.wire?.set_bin ?? {}))
				m[k] = Buffer.from(b64, 'base64');
			const payload = await rawExchange(d.socket,
				frame(Buffer.from(encode({ id: 1, op: 'verify', items: [m] }))));
			const r = hmacd.decodeResponse(payload);
			assert.deepEqual({ kind: r.kind, results: r.results }, {
				kind: 'results', results: [hmacd.Verdict.MALFORMED],
			}, v.name);
		}
	});
});
