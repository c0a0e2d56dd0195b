/*
 * express-json.test.mjs - the Express middleware behind `app.use(express.json())`, the most
 * common Express line, against the real daemon.
 *
 * - With express.json({ verify: hmacd.keepRawBody }) it works: the signature is checked
 *   against the bytes the parser read (kept by its verify hook), the handler gets req.body
 *   parsed by express.json() and req.rawBody, the exact bytes verified; every attack is still
 *   refused, and a body the parser decoded (Content-Encoding: gzip) is refused, since the bytes
 *   received are gone.
 * - With a plain app.use(express.json()) it cannot work (the bytes are gone): every protected
 *   request gets 500 {"error":"internal"} (no stack trace), the handler never runs, and the log
 *   says which line to change.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { after, before, beforeEach, describe, test } from 'node:test';

import express from 'express';

import * as hmacd from 'hmacd';

import { Daemon, SKIP_DAEMON, request, serve } from './helpers.mjs';

const UNAUTHORIZED = '{"error":"unauthorized"}';
/* spaced and ordered as no JSON.stringify() would: a re-serialised body would not verify */
const BODY = '{ "cmd" : ["ls", "-l"],\n  "tty": false }';

describe('app.use(express.json()) before the middleware', { skip: SKIP_DAEMON }, () => {
	let d, client, kept, plain, secret;
	const key = randomBytes(32);
	const logs = [];
	const ran = [];

	/* one app per way of mounting express.json(), the route protected the same way */
	function app(jsonOpts) {
		const a = express();
		a.use(express.json(jsonOpts));
		a.get('/healthz', (req, res) => res.json({ ok: true }));
		a.post('/containers/:id/exec', hmacd.express({ client, limit: 4096,
			log: (e) => logs.push(e) }), (req, res) => {
			ran.push(req.path);
			res.json({ body: req.body, raw: req.rawBody.toString('utf8'), who: req.hmacd });
		});
		return serve(a);
	}

	before(async () => {
		d = await new Daemon().start();
		secret = await d.createKey('acme', 'c1');
		await d.createKey('acme', 'c2');
		await d.importKey('acme', 'r1', 'acme-r1', key);
		client = new hmacd.Client({ socket: d.socket, timeoutMs: 5000 });
		kept = await app({ verify: hmacd.keepRawBody });
		plain = await app();
	});
	after(async () => {
		await kept?.close();
		await plain?.close();
		client?.close();
		await d?.destroy();
	});
	beforeEach(() => {
		logs.length = 0;
		ran.length = 0;
	});

	function signed(port, { container = 'c1', path = `/containers/${container}/exec`,
		body = BODY, headers = [] } = {}) {
		const h = [['Host', `127.0.0.1:${port}`], ['Content-Type', 'application/json'],
			...headers];
		const authorization = hmacd.signRequest({ secret, tenant: 'acme', container, epoch: 1,
			method: 'POST', path, headers: h, body });
		return { method: 'POST', path, body, headers: [...h, ['Authorization', authorization]] };
	}

	async function expect401(port, req, reason) {
		logs.length = 0;
		const r = await request(port, req);
		assert.equal(r.status, 401, r.body);
		assert.equal(r.body, UNAUTHORIZED);
		assert.equal(logs.at(-1)?.reason, reason);
	}

	test('keepRawBody: a signed request passes; req.body parsed, req.rawBody the bytes verified',
		async () => {
			const r = await request(kept.port, signed(kept.port));
			assert.equal(r.status, 200, r.body);
			const j = JSON.parse(r.body);
			assert.deepEqual(j.body, { cmd: ['ls', '-l'], tty: false });
			assert.equal(j.raw, BODY);
			assert.deepEqual([j.who.scheme, j.who.tenant, j.who.container],
				['hmacd-v1', 'acme', 'c1']);
		});

	test('keepRawBody: attacks are refused as without express.json()', async () => {
		const port = kept.port;
		const replayed = signed(port);
		assert.equal((await request(port, replayed)).status, 200);
		ran.length = 0;
		await expect401(port, replayed, 'REPLAY');
		await expect401(port, { ...signed(port), body: BODY.replace('-l', '-a') },
			'BAD_SIGNATURE');
		await expect401(port, { ...signed(port), path: '/containers/c2/exec' }, 'BAD_SIGNATURE');
		const noAuth = signed(port);
		noAuth.headers = noAuth.headers.filter(([n]) => n !== 'Authorization');
		await expect401(port, noAuth, 'NO_AUTHORIZATION');
		/* the same JSON, re-serialised: what a middleware reading req.body would have signed */
		const reserialised = signed(port);
		reserialised.body = JSON.stringify(JSON.parse(BODY));
		await expect401(port, reserialised, 'BAD_SIGNATURE');
		assert.deepEqual(ran, []);
	});

	test('keepRawBody: an RFC 9421 request covering content-digest passes', async () => {
		const path = '/containers/r1/exec';
		const headers = [['Host', `127.0.0.1:${kept.port}`], ['X-Tenant', 'acme'],
			['Content-Type', 'application/json']];
		const h = hmacd.rfc9421.sign({ method: 'POST', path, headers, body: BODY, key,
			keyid: 'acme-r1' });
		const req = { method: 'POST', path, body: BODY,
			headers: [...headers, ...Object.entries(h)] };
		const r = await request(kept.port, req);
		assert.equal(r.status, 200, r.body);
		assert.equal(JSON.parse(r.body).who.keyid, 'acme-r1');
		await expect401(kept.port, { ...req, body: BODY.replace('ls', 'id') }, 'BAD_SIGNATURE');
	});

	test('keepRawBody: the middleware\'s limit holds (413), below the parser\'s', async () => {
		const big = `{"cmd":["${'x'.repeat(5000)}"]}`;
		const r = await request(kept.port, signed(kept.port, { body: big }));
		assert.equal(r.status, 413);
		assert.equal(r.body, '{"error":"too_large"}');
		assert.equal(logs.at(-1).reason, 'TOO_LARGE');
		assert.deepEqual(ran, []);
	});

	test('keepRawBody: a body express.json() decoded (gzip) is refused, never verified',
		async () => {
			const gz = gzipSync(Buffer.from(BODY));
			/* signed over the bytes sent, as the protocol says: those bytes are gone */
			const req = signed(kept.port, { body: gz, headers: [['Content-Encoding', 'gzip']] });
			const before = (await client.stats()).items;
			await expect401(kept.port, req, 'CONTENT_ENCODING');
			assert.match(logs.at(-1).detail, /put the hmacd middleware before it/);
			assert.equal((await client.stats()).items, before, 'nothing was sent to hmacd');
			assert.deepEqual(ran, []);
		});

	test('plain express.json(): 500 without a stack trace; the log says what to change',
		async () => {
			const r = await request(plain.port, signed(plain.port));
			assert.equal(r.status, 500);
			assert.equal(r.body, '{"error":"internal"}');
			assert.equal(r.headers['content-type'], 'application/json');
			assert.equal(logs.length, 1);
			assert.equal(logs[0].status, 500);
			assert.equal(logs[0].reason, 'SETUP_ERROR');
			assert.match(logs[0].detail,
				/app\.use\(express\.json\(\{ verify: hmacd\.keepRawBody \}\)\)/);
			assert.deepEqual(ran, []);
			/* a request the parser does not read (no JSON) is verified as usual: here, not
			 * signed at all */
			const noAuth = { method: 'POST', path: '/containers/c1/exec', body: 'x',
				headers: [['Host', 'h'], ['Content-Type', 'text/plain']] };
			await expect401(plain.port, noAuth, 'NO_AUTHORIZATION');
			/* routes without the middleware are untouched */
			const h = await request(plain.port, { method: 'GET', path: '/healthz',
				headers: [['Host', 'h']] });
			assert.equal(h.status, 200);
		});
});
