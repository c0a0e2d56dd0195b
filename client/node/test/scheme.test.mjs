/*
 * scheme.test.mjs - RFC 9421 @scheme through the middleware, against the real daemon.
 *
 * The scheme an rfc9421 item is built with comes from the connection: http on a plain socket,
 * https on TLS. A standard signer (the npm package http-message-signatures) covering @scheme
 * and @target-uri for the URL it really sent to must verify; one that signed the other scheme
 * must not. X-Forwarded-Proto is a header any client can send: without trustProxy it changes
 * nothing (a forged "https" makes an https signature over plain HTTP no better); with
 * trustProxy (a proxy in front sets it) it decides the scheme.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import express from 'express';
import Fastify from 'fastify';
import { createSigner, httpbis } from 'http-message-signatures';

import * as hmacd from 'hmacd';

import { Daemon, SKIP_DAEMON, request, serve } from './helpers.mjs';

const KEY = randomBytes(32);
const BODY = '{"cmd":["ls"]}';
const FIELDS = ['@method', '@authority', '@path', '@scheme', '@target-uri', 'content-digest',
	'x-tenant'];

let SKIP_TLS = false;
try {
	execFileSync('openssl', ['version'], { stdio: 'ignore' });
} catch {
	SKIP_TLS = 'openssl is not installed: no certificate for the TLS listener';
}

/* A self-signed certificate for 127.0.0.1, made with the openssl command. */
function selfSigned(dir) {
	execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt',
		'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'key.pem'), '-out',
		join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext',
		'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
	return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
}

/* One HTTPS request to 127.0.0.1:port, trusting the test's certificate: {status, body}. */
function tlsRequest(port, ca, { method, path, headers, body }) {
	return new Promise((resolve, reject) => {
		const q = https.request({ host: '127.0.0.1', port, method, path, headers: headers.flat(),
			setHost: false, agent: false, ca }, (r) => {
			let b = '';
			r.on('data', (c) => {
				b += c;
			});
			r.on('end', () => resolve({ status: r.statusCode, body: b }));
		});
		q.on('error', reject);
		q.end(body);
	});
}

/* Serves an Express app over TLS on an ephemeral loopback port: {port, close(), request()}. */
function serveTls(app, creds) {
	return new Promise((resolve, reject) => {
		const server = https.createServer(creds, app);
		server.on('error', reject);
		server.listen(0, '127.0.0.1', () => resolve({
			port: server.address().port,
			close: () => new Promise((r) => {
				server.closeAllConnections();
				server.close(() => r());
			}),
			request: (req) => tlsRequest(server.address().port, creds.cert, req),
		}));
	});
}

/*
 * The route under test in each framework, on plain HTTP or TLS (creds): {port, close(),
 * request()?}. log receives the refusals.
 */
const FRAMEWORKS = {
	Express: async (opts, creds) => {
		const a = express();
		a.post('/containers/:id/exec', hmacd.express(opts), (req, res) => res.json(req.hmacd));
		return creds ? serveTls(a, creds) : serve(a);
	},
	Fastify: async (opts, creds) => {
		const app = Fastify(creds ? { https: creds } : {});
		app.register(async (api) => {
			await api.register(hmacd.fastify, opts);
			api.post('/containers/:id/exec', async (request) => request.hmacd);
		});
		await app.listen({ port: 0, host: '127.0.0.1' });
		const port = app.server.address().port;
		return { port, close: () => app.close(),
			request: creds ? (req) => tlsRequest(port, creds.cert, req) : undefined };
	},
};

/*
 * A request to 127.0.0.1:port signed by http-message-signatures for `scheme`://..., covering
 * @scheme and @target-uri; `extra` headers are sent but not covered.
 */
async function signedFor(scheme, port, extra = []) {
	const path = '/containers/c1/exec';
	const url = `${scheme}://127.0.0.1:${port}${path}`;
	const headers = { host: `127.0.0.1:${port}`, 'content-type': 'application/json',
		'x-tenant': 'acme',
		'content-digest': `sha-256=:${createHash('sha256').update(BODY).digest('base64')}:` };
	const signed = await httpbis.signMessage({
		key: createSigner(KEY, 'hmac-sha256', 'acme-c1'),
		fields: FIELDS,
		params: ['created', 'keyid', 'alg', 'nonce'],
		paramValues: { nonce: randomBytes(16).toString('hex') },
	}, { method: 'POST', url, headers });
	return { method: 'POST', path, body: BODY,
		headers: [...Object.entries(signed.headers), ...extra] };
}

const XFP_HTTPS = [['X-Forwarded-Proto', 'https']];

for (const [framework, start] of Object.entries(FRAMEWORKS)) {
	describe(`@scheme from the connection (${framework})`, { skip: SKIP_DAEMON }, () => {
		let d, client, dir;
		const servers = {};
		const logs = [];

		before(async () => {
			d = await new Daemon().start();
			await d.importKey('acme', 'c1', 'acme-c1', KEY);
			client = new hmacd.Client({ socket: d.socket, timeoutMs: 5000 });
			const opts = { client, log: (e) => logs.push(e) };
			servers.plain = await start(opts);
			servers.proxied = await start({ ...opts, trustProxy: true });
			if (!SKIP_TLS) {
				dir = mkdtempSync(join(tmpdir(), 'hmacd-tls-'));
				servers.tls = await start(opts, selfSigned(dir));
			}
		});
		after(async () => {
			for (const s of Object.values(servers))
				await s.close();
			client?.close();
			await d?.destroy();
			if (dir)
				rmSync(dir, { recursive: true, force: true });
		});

		/* sends req to server s (plain or TLS); the status, and the log's reason on a refusal */
		async function outcome(s, req) {
			logs.length = 0;
			const r = s.request ? await s.request(req) : await request(s.port, req);
			return r.status === 200 ? 200 : `${r.status} ${logs.at(-1)?.reason}`;
		}

		test('plain HTTP: signed for http passes, signed for https does not', async () => {
			const s = servers.plain;
			assert.equal(await outcome(s, await signedFor('http', s.port)), 200);
			assert.equal(await outcome(s, await signedFor('https', s.port)), '401 BAD_SIGNATURE');
		});

		test('trustProxy: the last X-Forwarded-Proto value counts (the nearest proxy\'s)',
			async () => {
				const s = servers.proxied;
				/* the client sent https, a proxy that appends added the http it saw */
				const appended = [['X-Forwarded-Proto', 'https, http']];
				assert.equal(await outcome(s, await signedFor('https', s.port, appended)),
					'401 BAD_SIGNATURE');
				assert.equal(await outcome(s, await signedFor('http', s.port, appended)), 200);
				const twoFields = [['X-Forwarded-Proto', 'https'], ['X-Forwarded-Proto', 'http']];
				assert.equal(await outcome(s, await signedFor('https', s.port, twoFields)),
					'401 BAD_SIGNATURE');
				assert.equal(await outcome(s, await signedFor('http', s.port, twoFields)), 200);
			});

		test('plain HTTP: a forged X-Forwarded-Proto changes nothing', async () => {
			const s = servers.plain;
			assert.equal(await outcome(s, await signedFor('https', s.port, XFP_HTTPS)),
				'401 BAD_SIGNATURE');
			assert.equal(await outcome(s, await signedFor('http', s.port, XFP_HTTPS)), 200);
		});

		test('trustProxy: X-Forwarded-Proto decides; without it, the connection', async () => {
			const s = servers.proxied;
			assert.equal(await outcome(s, await signedFor('https', s.port, XFP_HTTPS)), 200);
			assert.equal(await outcome(s, await signedFor('http', s.port, XFP_HTTPS)),
				'401 BAD_SIGNATURE');
			assert.equal(await outcome(s, await signedFor('http', s.port,
				[['X-Forwarded-Proto', 'http']])), 200);
			assert.equal(await outcome(s, await signedFor('http', s.port)), 200);
			assert.equal(await outcome(s, await signedFor('https', s.port)), '401 BAD_SIGNATURE');
		});

		test('trustProxy: the last X-Forwarded-Proto value counts (the nearest proxy\'s)',
			async () => {
				const s = servers.proxied;
				/* the client sent https, a proxy that appends added the http it saw */
				const appended = [['X-Forwarded-Proto', 'https, http']];
				assert.equal(await outcome(s, await signedFor('https', s.port, appended)),
					'401 BAD_SIGNATURE');
				assert.equal(await outcome(s, await signedFor('http', s.port, appended)), 200);
				const twoFields = [['X-Forwarded-Proto', 'https'], ['X-Forwarded-Proto', 'http']];
				assert.equal(await outcome(s, await signedFor('https', s.port, twoFields)),
					'401 BAD_SIGNATURE');
				assert.equal(await outcome(s, await signedFor('http', s.port, twoFields)), 200);
			});

		test('TLS: signed for https passes, signed for http does not', { skip: SKIP_TLS },
			async () => {
				const s = servers.tls;
				assert.equal(await outcome(s, await signedFor('https', s.port)), 200);
				assert.equal(await outcome(s, await signedFor('http', s.port)),
					'401 BAD_SIGNATURE');
				/* and a forged "http" does not downgrade it */
				assert.equal(await outcome(s, await signedFor('http', s.port,
					[['X-Forwarded-Proto', 'http']])), '401 BAD_SIGNATURE');
			});
	});
}

test('an explicit uriScheme and trustProxy together: refused at start-up', () => {
	const client = { verify: async () => 0 };
	assert.throws(() => hmacd.express({ client, uriScheme: 'https', trustProxy: true }),
		{ name: 'TypeError', message: /uriScheme or trustProxy, not both/ });
	assert.throws(() => hmacd.express({ client, trustProxy: 'yes' }), TypeError);
});
