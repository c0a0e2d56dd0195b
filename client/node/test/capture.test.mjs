/*
 * capture.test.mjs - capture files (captureDir, captureMax; issue 15) through the Express
 * middleware and the Fastify plugin, against the real hmacd (and a fake daemon for the
 * bound and for verdict 9).
 *
 * A request hmacd refuses (BAD_SIGNATURE) writes exactly one file with exactly the members of
 * PROTOCOL.md's capture format: the uncovered headers' values "[redacted]" (cookie), the
 * covered and always-kept ones as sent, the body's length and base64 SHA-256 / SHA-512 equal
 * to node:crypto's, never the body, mode 0600, named hmacd-capture-<captured_at>-<16 hex>.json;
 * both schemes. A good request, a 401 decided before hmacd, a 503 (the daemon down, or verdict
 * 9) write none; captureMax bounds them (the files already there count); a directory writable
 * by others, a symlink, a file or a missing path fails the start-up.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import express from 'express';
import Fastify from 'fastify';

import * as hmacd from 'hmacd';

import { Daemon, SKIP_DAEMON, answer, fake, request, serve } from './helpers.mjs';

const BODY = '{"cmd":["rm -rf /srv"]}';
const UNAUTHORIZED = '{"error":"unauthorized"}';
const MEMBERS = ['authority', 'body_length', 'body_sha256', 'body_sha512', 'captured_at',
	'container', 'headers', 'hmacd_capture', 'method', 'path', 'scheme', 'tenant', 'uri_scheme',
	'verdict'];
const NAME = /^hmacd-capture-([0-9]+)-[0-9a-f]{16}\.json$/;

function captureDir(name = 'captures') {
	const base = fs.mkdtempSync(path.join(os.tmpdir(), 'hmacd-capture-test-'));
	const dir = path.join(base, name);
	fs.mkdirSync(dir, { mode: 0o700 });
	fs.chmodSync(dir, 0o700);
	return dir;
}

function captures(dir) {
	return fs.readdirSync(dir).filter((n) => NAME.test(n)).sort().map((n) => path.join(dir, n));
}

function readCapture(file, body = BODY) {
	const st = fs.lstatSync(file);
	assert.ok(st.isFile());
	assert.equal(st.mode & 0o777, 0o600);
	const data = fs.readFileSync(file, 'utf8');
	assert.ok(!data.includes(body) && !data.includes('rm -rf') && !data.includes('s3cret'), data);
	const doc = JSON.parse(data);
	assert.equal(Number(NAME.exec(path.basename(file))[1]), doc.captured_at);
	return doc;
}

function header(doc, name) {
	for (const [n, v] of doc.headers) {
		assert.equal(n, n.toLowerCase());
		if (n === name)
			return v;
	}
	return undefined;
}

function checkDigests(doc, body) {
	assert.equal(doc.body_length, Buffer.byteLength(body));
	assert.equal(doc.body_sha256, createHash('sha256').update(body).digest('base64'));
	assert.equal(doc.body_sha512, createHash('sha512').update(body).digest('base64'));
}

/* The app of each framework: POST /containers/:id/exec behind hmacd with opts. */
const FRAMEWORKS = {
	async express(opts) {
		const app = express();
		app.post('/containers/:id/exec', hmacd.express(opts), (req, res) => res.end('ran'));
		return serve(app);
	},
	async fastify(opts) {
		const app = Fastify();
		await app.register(async (api) => {
			await api.register(hmacd.fastify, opts);
			api.post('/containers/:id/exec', async () => 'ran');
		});
		await app.listen({ port: 0, host: '127.0.0.1' });
		return { port: app.server.address().port, close: () => app.close() };
	},
};

for (const [fw, start] of Object.entries(FRAMEWORKS)) {
	describe(`${fw}: capture files against the real daemon`, { skip: SKIP_DAEMON }, () => {
		let d, client, srv, port, dir;
		const keys = {};
		const logs = [];

		before(async () => {
			d = await new Daemon().start();
			keys.c1 = await d.createKey('acme', 'c1');
			await d.createKey('acme', 'c2');
			keys.r1 = randomBytes(32);
			await d.importKey('acme', 'r1', 'acme-r1', keys.r1);
			client = new hmacd.Client({ socket: d.socket, timeoutMs: 2000 });
			dir = captureDir();
			srv = await start({ client, captureDir: dir, label: 'sig1',
				log: (e) => logs.push(e) });
			port = srv.port;
		});
		after(async () => {
			await srv?.close();
			client?.close();
			await d?.destroy();
			fs.rmSync(path.dirname(dir), { recursive: true, force: true });
		});

		/* signed for `container` (host, content-type, x-request-id), plus an unsigned cookie */
		function v1(container, to = container) {
			const p = `/containers/${container}/exec?tty=1`;
			const headers = [['Host', `127.0.0.1:${port}`], ['Content-Type', 'application/json'],
				['X-Request-Id', 'req-42']];
			const authorization = hmacd.signRequest({ secret: keys.c1, tenant: 'acme',
				container, epoch: 1, method: 'POST', path: p, headers, body: BODY,
				signedHeaders: ['host', 'content-type', 'x-request-id'] });
			return { method: 'POST', path: `/containers/${to}/exec?tty=1`, body: BODY,
				headers: [...headers, ['Authorization', authorization],
					['Cookie', 'session=s3cret']] };
		}

		test('hmacd-v1: one capture for BAD_SIGNATURE, none for OK or a local 401', async () => {
			assert.equal((await request(port, v1('c1'))).status, 200);
			const noAuth = v1('c1');
			noAuth.headers = noAuth.headers.filter(([n]) => n !== 'Authorization');
			assert.equal((await request(port, noAuth)).status, 401);
			assert.deepEqual(captures(dir), []);

			logs.length = 0;
			const r = await request(port, v1('c1', 'c2'));
			assert.equal(r.status, 401);
			assert.equal(r.body, UNAUTHORIZED);
			assert.equal(r.headers['www-authenticate'], 'HMACD-V1');
			const files = captures(dir);
			assert.equal(files.length, 1);
			const doc = readCapture(files[0]);
			assert.deepEqual(Object.keys(doc).sort(), MEMBERS);
			assert.equal(doc.hmacd_capture, 1);
			assert.equal(doc.scheme, 'hmacd-v1');
			assert.equal(doc.tenant, 'acme');
			assert.equal(doc.container, 'c2');
			assert.equal(doc.method, 'POST');
			assert.equal(doc.uri_scheme, 'http');
			assert.equal(doc.authority, `127.0.0.1:${port}`);
			assert.equal(doc.path, '/containers/c2/exec?tty=1');
			assert.equal(doc.verdict, 'BAD_SIGNATURE');
			checkDigests(doc, BODY);
			assert.equal(header(doc, 'cookie'), '[redacted]');
			assert.equal(header(doc, 'x-request-id'), 'req-42');
			assert.equal(header(doc, 'content-type'), 'application/json');
			assert.equal(header(doc, 'host'), `127.0.0.1:${port}`);
			assert.match(header(doc, 'authorization'), /^HMACD-V1 Tenant=acme/);
			assert.equal(logs.at(-1).reason, 'BAD_SIGNATURE');
			assert.equal(logs.at(-1).capture, files[0]);
			fs.unlinkSync(files[0]);
		});

		test('rfc9421: the Signature-Input names the covered headers', async () => {
			const p = '/containers/r1/exec';
			const headers = { host: `127.0.0.1:${port}`, 'content-type': 'application/json',
				'x-tenant': 'acme' };
			const signed = hmacd.rfc9421.sign({ method: 'POST', url: `http://127.0.0.1:${port}${p}`,
				headers, body: BODY, key: keys.r1, keyid: 'acme-r1', components: ['@method',
					'@authority', '@path', 'content-digest', 'x-tenant'] });
			const req = { method: 'POST', path: p, body: BODY,
				headers: [...Object.entries(headers), ...Object.entries(signed),
					['Cookie', 'session=s3cret']] };
			assert.equal((await request(port, req)).status, 200);
			const tampered = '{"cmd":["rm -rf /"]}';
			const r = await request(port, { ...req, body: tampered });
			assert.equal(r.status, 401);
			const files = captures(dir);
			assert.equal(files.length, 1);
			const doc = readCapture(files[0], tampered);
			assert.deepEqual(Object.keys(doc).sort(), [...MEMBERS, 'label'].sort());
			assert.equal(doc.scheme, 'rfc9421');
			assert.equal(doc.tenant, 'acme');
			assert.equal(doc.container, 'r1');
			assert.equal(doc.label, 'sig1');
			assert.equal(doc.verdict, 'BAD_SIGNATURE');
			checkDigests(doc, tampered);
			assert.equal(header(doc, 'cookie'), '[redacted]');
			assert.equal(header(doc, 'x-tenant'), 'acme');
			assert.equal(header(doc, 'signature-input'), signed['Signature-Input']);
			assert.equal(header(doc, 'signature'), signed.Signature);
			assert.equal(header(doc, 'content-digest'), signed['Content-Digest']);
			fs.unlinkSync(files[0]);
		});

		test('the daemon down: 503, no capture', async () => {
			await d.stop();
			try {
				const r = await request(port, v1('c1', 'c2'));
				assert.equal(r.status, 503);
				assert.deepEqual(captures(dir), []);
			} finally {
				await d.start();
			}
		});
	});

	describe(`${fw}: captureMax, verdict 9, unfit directories`, () => {
		const secret = Buffer.alloc(32, 7);
		function v1(port) {
			const p = '/containers/c1/exec';
			const headers = [['Host', `127.0.0.1:${port}`], ['Content-Type', 'application/json']];
			const authorization = hmacd.signRequest({ secret, tenant: 'acme', container: 'c1',
				epoch: 1, method: 'POST', path: p, headers, body: BODY });
			return { method: 'POST', path: p, body: BODY,
				headers: [...headers, ['Authorization', authorization]] };
		}

		async function withFake(verdict, opts, fn) {
			const f = await fake((payload, sock) => sock.write(answer(payload, {}, verdict)));
			const client = new hmacd.Client({ socket: f.path, timeoutMs: 2000 });
			const srv = await start({ client, ...opts });
			try {
				await fn(srv.port);
			} finally {
				await srv.close();
				client.close();
				await f.close();
			}
		}

		test('at most captureMax files, the ones already there counted', async () => {
			const dir = captureDir();
			fs.writeFileSync(path.join(dir, 'hmacd-capture-1-0000000000000000.json'), '');
			const logs = [];
			await withFake(hmacd.Verdict.BAD_SIGNATURE, { captureDir: dir, captureMax: 3,
				log: (e) => logs.push(e) }, async (port) => {
				for (let i = 0; i < 4; i++)
					assert.equal((await request(port, v1(port))).status, 401);
			});
			assert.equal(captures(dir).length, 3);
			assert.equal(logs.filter((e) => e.capture !== undefined).length, 2);
			assert.equal(logs.filter((e) => /no more captures/.test(e.captureError ?? ''))
				.length, 1);
			fs.rmSync(path.dirname(dir), { recursive: true, force: true });
		});

		test('verdict 9 (503): no capture', async () => {
			const dir = captureDir();
			await withFake(hmacd.Verdict.UNAVAILABLE, { captureDir: dir, log: () => {} },
				async (port) => {
					assert.equal((await request(port, v1(port))).status, 503);
				});
			assert.deepEqual(captures(dir), []);
			fs.rmSync(path.dirname(dir), { recursive: true, force: true });
		});

		test('a directory writable by others, a symlink, a file, none: start-up fails', async () => {
			const base = captureDir();
			const bad = {};
			for (const [name, mode] of [['open', 0o777], ['group', 0o770], ['others', 0o702]]) {
				bad[name] = path.join(base, name);
				fs.mkdirSync(bad[name]);
				fs.chmodSync(bad[name], mode);
			}
			bad.link = path.join(base, 'link');
			fs.symlinkSync(captureDir(), bad.link);
			bad.file = path.join(base, 'file');
			fs.writeFileSync(bad.file, '');
			bad.absent = path.join(base, 'absent');
			const client = new hmacd.Client({ socket: path.join(base, 'none.sock') });
			try {
				for (const [what, dir] of Object.entries(bad)) {
					await assert.rejects(start({ client, captureDir: dir }), /captureDir/,
						what);
				}
				await assert.rejects(start({ client, captureDir: base, captureMax: 0 }),
					/captureMax/);
			} finally {
				client.close();
			}
			fs.rmSync(path.dirname(base), { recursive: true, force: true });
		});
	});
}
