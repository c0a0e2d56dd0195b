/*
 * fastify.test.mjs - the Fastify plugin (PROTOCOL.md 13.3 and 13.5), on a Fastify app listening
 * on an ephemeral 127.0.0.1 port, against the real hmacd; against a fake daemon for verdict 9
 * UNAVAILABLE, which the real one answers only in fleet mode.
 *
 * The rules are the Express middleware's: the container from the route, every refusal the same
 * 401 with its reason in the log only, 413 before any verification, 503 when hmacd does not
 * judge (down, or verdict 9), the handler never run unverified. Fastify parses the body itself:
 * request.body must be its parse of exactly the bytes verified (request.rawBody).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { after, before, beforeEach, describe, test } from 'node:test';

import express from 'express';
import Fastify from 'fastify';

import * as hmacd from 'hmacd';

import { Daemon, SKIP_DAEMON, answer, fake, request, serve } from './helpers.mjs';

const UNAUTHORIZED = '{"error":"unauthorized"}';
const BODY = '{ "cmd": ["ls", "-l"] }';
const now = () => Math.floor(Date.now() / 1000);

/*
 * A Fastify app: /healthz open; in a scope with the plugin, POST /containers/:id/exec and
 * GET /containers/:id/logs, which record that they ran and echo what they got.
 */
async function fastifyApp(opts, ran) {
	const app = Fastify();
	app.get('/healthz', async () => ({ ok: true }));
	app.register(async (api) => {
		await api.register(hmacd.fastify, opts);
		api.post('/containers/:id/exec', async (request) => {
			ran.push(request.url);
			return { body: request.body, raw: request.rawBody.toString('utf8'),
				who: request.hmacd, container: request.params.id };
		});
		api.get('/containers/:id/logs', async (request) => {
			ran.push(request.url);
			return { who: request.hmacd, raw: request.rawBody.length };
		});
	});
	await app.listen({ port: 0, host: '127.0.0.1' });
	return { app, port: app.server.address().port, close: () => app.close() };
}

describe('Fastify plugin against the real daemon', { skip: SKIP_DAEMON }, () => {
	let d, client, srv, port;
	const keys = {};
	const logs = [];
	const ran = [];
	const rfcKey = randomBytes(32);

	function signedRequest({ container = 'c1', secret = keys.c1, tenant = 'acme', epoch = 1,
		path = `/containers/${container}/exec`, method = 'POST', body = BODY, ts,
		extra = [] } = {}) {
		/* body null: none */
		const headers = [['Host', `127.0.0.1:${port}`],
			...(body === null ? [] : [['Content-Type', 'application/json']]), ...extra];
		const authorization = hmacd.signRequest({ secret, tenant, container, epoch, method, path,
			headers, body, ts, signedHeaders: ['host', ...extra.map(([n]) => n.toLowerCase())] });
		return { method, path, body: body ?? undefined,
			headers: [...headers, ['Authorization', authorization]] };
	}

	async function expectRefusal(req, status, reason) {
		logs.length = 0;
		const r = await request(port, req);
		assert.equal(r.status, status, r.body);
		assert.equal(r.headers['content-type'], 'application/json');
		assert.equal(r.headers['cache-control'], 'no-store');
		if (status === 401) {
			assert.equal(r.body, UNAUTHORIZED);
			assert.equal(r.headers['www-authenticate'], 'HMACD-V1');
		}
		assert.equal(logs.at(-1)?.reason, reason);
		return r;
	}

	before(async () => {
		d = await new Daemon().start();
		keys.c1 = await d.createKey('acme', 'c1');
		keys.c2 = await d.createKey('acme', 'c2');
		keys.evil = await d.createKey('evil', 'c1');
		await d.importKey('acme', 'r1', 'acme-r1', rfcKey);
		client = new hmacd.Client({ socket: d.socket, timeoutMs: 2000 });
		srv = await fastifyApp({ client, limit: 65536, log: (e) => logs.push(e) }, ran);
		port = srv.port;
	});
	after(async () => {
		await srv?.close();
		client?.close();
		await d?.destroy();
	});
	beforeEach(() => {
		logs.length = 0;
		ran.length = 0;
	});

	test('a signed request passes: Fastify parsed exactly the bytes verified', async () => {
		const r = await request(port, signedRequest());
		assert.equal(r.status, 200, r.body);
		const j = JSON.parse(r.body);
		assert.deepEqual(j.body, { cmd: ['ls', '-l'] });
		assert.equal(j.raw, BODY);
		assert.equal(j.container, 'c1');
		assert.deepEqual([j.who.scheme, j.who.tenant, j.who.container, j.who.epoch],
			['hmacd-v1', 'acme', 'c1', 1]);
		assert.match(j.who.nonce, /^[0-9a-f]{32}$/);
		assert.deepEqual(ran, ['/containers/c1/exec']);
	});

	test('a signed GET without a body passes', async () => {
		const r = await request(port, signedRequest({ method: 'GET', body: null,
			path: '/containers/c1/logs' }));
		assert.equal(r.status, 200, r.body);
		assert.deepEqual(JSON.parse(r.body).raw, 0);
	});

	test('signed for c1, sent to /containers/c2/exec: 401', async () => {
		const req = signedRequest({ container: 'c1' });
		await expectRefusal({ ...req, path: '/containers/c2/exec' }, 401, 'BAD_SIGNATURE');
		await expectRefusal(signedRequest({ container: 'c1', path: '/containers/c2/exec' }), 401,
			'BAD_SIGNATURE');
		await expectRefusal(signedRequest({ tenant: 'evil', secret: keys.evil,
			path: '/containers/c2/exec' }), 401, 'UNKNOWN_KEY');
		assert.deepEqual(ran, []);
	});

	test('tampered body, path, query; stale; replayed: 401, the handler never runs', async () => {
		const replayed = signedRequest();
		assert.equal((await request(port, replayed)).status, 200);
		ran.length = 0;
		await expectRefusal(replayed, 401, 'REPLAY');
		await expectRefusal({ ...signedRequest(), body: BODY.replace('-l', '-a') }, 401,
			'BAD_SIGNATURE');
		/* the same JSON re-serialised: Fastify would parse it alike, the signature says no */
		await expectRefusal({ ...signedRequest(), body: JSON.stringify(JSON.parse(BODY)) }, 401,
			'BAD_SIGNATURE');
		await expectRefusal({ ...signedRequest({ path: '/containers/c1/exec?tty=1' }),
			path: '/containers/c1/exec?tty=0' }, 401, 'BAD_SIGNATURE');
		await expectRefusal(signedRequest({ ts: now() - 3600 }), 401, 'STALE_TIMESTAMP');
		await expectRefusal(signedRequest({ epoch: 7 }), 401, 'UNKNOWN_KEY');
		assert.deepEqual(ran, []);
	});

	test('Authorization missing, invalid, doubled; a signed header absent: 401', async () => {
		const req = signedRequest();
		const noAuth = req.headers.filter(([n]) => n !== 'Authorization');
		await expectRefusal({ ...req, headers: noAuth }, 401, 'NO_AUTHORIZATION');
		await expectRefusal({ ...req, headers: [...noAuth, ['Authorization', 'Bearer x']] }, 401,
			'BAD_AUTHORIZATION');
		const auth = req.headers.find(([n]) => n === 'Authorization');
		await expectRefusal({ ...req, headers: [...req.headers, auth] }, 401,
			'BAD_AUTHORIZATION');
		const withId = signedRequest({ extra: [['X-Request-Id', 'r1']] });
		await expectRefusal({ ...withId,
			headers: withId.headers.filter(([n]) => n !== 'X-Request-Id') }, 401,
		'MISSING_SIGNED_HEADER');
		assert.deepEqual(ran, []);
	});

	test('a body over the limit: 413 before any verification', async () => {
		const before = (await client.stats()).items;
		const big = signedRequest({ body: `{"cmd":["${'x'.repeat(70000)}"]}` });
		const r = await expectRefusal(big, 413, 'TOO_LARGE');
		assert.equal(r.body, '{"error":"too_large"}');
		/* the same without Content-Length (chunked): stopped while reading */
		const chunked = await new Promise((resolve, reject) => {
			const q = http.request({ host: '127.0.0.1', port, method: 'POST', path: big.path,
				headers: big.headers.flat(), setHost: false, agent: false }, (res) => {
				let b = '';
				res.on('data', (c) => {
					b += c;
				});
				res.on('end', () => resolve({ status: res.statusCode, body: b }));
			});
			q.on('error', reject);
			for (let i = 0; i < 5; i++)
				q.write(Buffer.alloc(16384, 0x61));
			q.end();
		});
		assert.equal(chunked.status, 413);
		assert.equal(chunked.body, '{"error":"too_large"}');
		assert.equal((await client.stats()).items, before, 'nothing was sent to hmacd');
		assert.deepEqual(ran, []);
	});

	test('RFC 9421: a signed request passes; tenant missing, body changed: 401', async () => {
		const path = '/containers/r1/exec';
		const headers = [['Host', `127.0.0.1:${port}`], ['X-Tenant', 'acme'],
			['Content-Type', 'application/json']];
		const mk = () => {
			const h = hmacd.rfc9421.sign({ method: 'POST', path, headers, body: BODY,
				key: rfcKey, keyid: 'acme-r1' });
			return { method: 'POST', path, body: BODY,
				headers: [...headers, ...Object.entries(h)] };
		};
		const r = await request(port, mk());
		assert.equal(r.status, 200, r.body);
		const j = JSON.parse(r.body);
		assert.deepEqual([j.who.scheme, j.who.keyid, j.body.cmd[0]], ['rfc9421', 'acme-r1', 'ls']);
		const noTenant = mk();
		noTenant.headers = noTenant.headers.filter(([n]) => n !== 'X-Tenant');
		await expectRefusal(noTenant, 401, 'NO_TENANT');
		await expectRefusal({ ...mk(), body: BODY.replace('ls', 'id') }, 401, 'BAD_SIGNATURE');
		/* another container: its key id belongs to r1 */
		await expectRefusal({ ...mk(), path: '/containers/c1/exec' }, 401, 'UNKNOWN_KEY');
	});

	test('open routes and unknown paths are Fastify\'s', async () => {
		const h = await request(port, { method: 'GET', path: '/healthz',
			headers: [['Host', 'h']] });
		assert.equal(h.status, 200);
		const nf = await request(port, { method: 'POST', path: '/nope', headers: [['Host', 'h']] });
		assert.equal(nf.status, 404);
		assert.deepEqual(logs, []);
	});

	test('the same refusals, byte for byte, as the Express middleware', async () => {
		const xapp = express();
		xapp.post('/containers/:id/exec', hmacd.express({ client, limit: 65536, log: () => {} }),
			(req, res) => res.json({}));
		const x = await serve(xapp);
		const stable = (r) => [r.status, r.body, ...['content-type', 'cache-control',
			'www-authenticate', 'content-length'].map((k) => r.headers[k])];
		try {
			const noAuth = { method: 'POST', path: '/containers/c1/exec', body: BODY,
				headers: [['Host', 'h'], ['Content-Type', 'application/json']] };
			const big = { ...noAuth, headers: [...noAuth.headers,
				['Authorization', signedRequest().headers.at(-1)[1]]], body: 'x'.repeat(70000) };
			for (const req of [noAuth, big]) {
				assert.deepEqual(stable(await request(port, req)),
					stable(await request(x.port, req)));
			}
		} finally {
			await x.close();
		}
	});

	test('hmacd down: 503, fail closed; restarted: requests pass again', async () => {
		const stopped = await d.stop();
		assert.equal(stopped.code, 0, stopped.stderr);
		try {
			const r = await expectRefusal(signedRequest(), 503, 'HMACD_ECONN');
			assert.equal(r.body, '{"error":"unavailable"}');
			assert.equal(r.headers['www-authenticate'], undefined);
			assert.deepEqual(ran, []);
		} finally {
			await d.start();
		}
		const r = await request(port, signedRequest());
		assert.equal(r.status, 200, r.body);
	});
});

describe('Fastify plugin: set-up mistakes fail at start-up', () => {
	const client = new hmacd.Client({ socket: '/nonexistent/hmacd.sock' });
	after(() => client.close());

	test('a route of the protected scope without the parameter', async () => {
		const app = Fastify();
		app.register(async (api) => {
			await api.register(hmacd.fastify, { client });
			api.get('/healthz', async () => ({ ok: true }));
		});
		await assert.rejects(app.ready(), { message: /route GET \/healthz has no parameter :id/ });
	});

	test('a wrong option, no client', async () => {
		const cases = [
			[{}, /give \{client\}/],
			[{ client, limit: -1 }, /limit is a byte count/],
			[{ client, uriScheme: 'ftp' }, /uriScheme is 'https', 'http' or a function/],
			[{ client, trustProxy: true, uriScheme: 'http' }, /uriScheme or trustProxy, not both/],
		];
		for (const [opts, message] of cases) {
			const app = Fastify();
			app.register(hmacd.fastify, opts);
			await assert.rejects(app.ready(), { name: 'TypeError', message });
		}
	});

	test('param names another parameter', async () => {
		const app = Fastify();
		app.register(async (api) => {
			await api.register(hmacd.fastify, { client, param: 'container' });
			api.post('/c/:container/exec', async () => ({}));
			api.post('/d/:id/exec', async () => ({}));
		});
		await assert.rejects(app.ready(),
			{ message: /route POST \/d\/:id\/exec has no parameter :container/ });
	});
});

/*
 * A refusal must stop the request even while an async onSend hook of the app holds the reply
 * back: an async preParsing hook that sends and returns would let Fastify go on to the handler
 * (reply.sent is false until the bytes are written). The plugin's hook never calls back.
 */
describe('Fastify plugin: a refusal delayed by an async onSend hook', () => {
	test('the handler never runs; the status is the refusal\'s', async () => {
		let ran = 0;
		const logs = [];
		const app = Fastify();
		app.addHook('onSend', async (request, reply, payload) => {
			await new Promise((r) => setTimeout(r, 50));
			return payload;
		});
		app.register(hmacd.fastify, { client: { verify: async () => hmacd.Verdict.BAD_SIGNATURE },
			log: (e) => logs.push(e) });
		app.post('/containers/:id/exec', async () => {
			ran++;
			return 'ran';
		});
		try {
			/* a real request (app.inject()'s light-my-request needs a newer Node than 18) */
			await app.listen({ port: 0, host: '127.0.0.1' });
			/* refused before the body is read (no Authorization), and refused by hmacd */
			const sig = Buffer.alloc(32).toString('base64');
			const unsigned = [['Host', 'h'], ['Content-Type', 'text/plain']];
			const signed = [...unsigned,
				['Authorization', `HMACD-V1 Tenant=a, Epoch=1, Timestamp=1, Signature=${sig}`]];
			const port = app.server.address().port;
			for (const headers of [unsigned, signed]) {
				const r = await request(port, { method: 'POST', path: '/containers/c1/exec',
					body: 'a', headers });
				await new Promise((resolve) => setTimeout(resolve, 100));
				assert.equal(r.status, 401);
				assert.equal(r.body, UNAUTHORIZED);
			}
			assert.equal(ran, 0);
			assert.deepEqual(logs.map((e) => e.reason), ['NO_AUTHORIZATION', 'BAD_SIGNATURE']);
		} finally {
			await app.close();
		}
	});
});

/* Verdict 9 UNAVAILABLE from a fake daemon: the 503 of a daemon down, the handler never runs. */
describe('Fastify plugin: verdict 9 UNAVAILABLE is 503 like a daemon down', () => {
	let f, client, srv;
	const logs = [];
	const ran = [];

	before(async () => {
		f = await fake((payload, sock) => sock.write(answer(payload, {},
			hmacd.Verdict.UNAVAILABLE)));
		client = new hmacd.Client({ socket: f.path, timeoutMs: 2000 });
		srv = await fastifyApp({ client, log: (e) => logs.push(e) }, ran);
	});
	after(async () => {
		await srv?.close();
		client?.close();
		await f?.close();
	});

	test('503 {"error":"unavailable"}, the same response as with no daemon at all', async () => {
		const path = '/containers/c1/exec';
		const headers = [['Host', `127.0.0.1:${srv.port}`], ['Content-Type', 'application/json']];
		const authorization = hmacd.signRequest({ secret: Buffer.alloc(32, 7), tenant: 'acme',
			container: 'c1', epoch: 1, method: 'POST', path, headers, body: BODY });
		const req = { method: 'POST', path, body: BODY,
			headers: [...headers, ['Authorization', authorization]] };
		const stable = (r) => [r.status, r.body, r.headers['content-type'],
			r.headers['www-authenticate']];
		const r = await request(srv.port, req);
		assert.deepEqual(stable(r), [503, '{"error":"unavailable"}', 'application/json',
			undefined]);
		assert.deepEqual(logs, [{ status: 503, reason: 'UNAVAILABLE', tenant: 'acme',
			container: 'c1', method: 'POST', path }]);
		await f.close();
		const down = await request(srv.port, req);
		assert.deepEqual(stable(down), stable(r));
		assert.equal(logs.at(-1).reason, 'HMACD_ECONN');
		assert.deepEqual(ran, []);
	});
});
