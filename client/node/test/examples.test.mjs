/*
 * examples.test.mjs - the two example apps (examples/express-app.mjs, examples/fastify-app.mjs)
 * against the real daemon.
 *
 * - The same requests get the same answers from both, those every example app gives (README.md,
 *   "Example apps"): 200 {tenant, container, cmd, tty}, 400 {"error":"bad_request"} for a body
 *   that does not bind, /healthz {"ok":true}, and the middleware's 401, 413 and 503.
 * - Run as README.md says (`npm run example:express` / `example:fastify` with HMACD_SOCKET and
 *   PORT), each listens, serves /healthz, accepts a request signed by examples/send.mjs, and
 *   writes the reason for a 401 to its log (stderr) by default.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import * as hmacd from 'hmacd';
import { createApp as expressApp } from '../examples/express-app.mjs';
import { createApp as fastifyApp } from '../examples/fastify-app.mjs';

import { Daemon, SKIP_DAEMON, request, serve } from './helpers.mjs';

const PKG = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = promisify(execFile);

/* Serves a Fastify app on an ephemeral loopback port, as helpers' serve() does for Express. */
async function serveFastify(app) {
	await app.listen({ port: 0, host: '127.0.0.1' });
	return { port: app.server.address().port, close: () => app.close() };
}

describe('the Express and Fastify examples answer alike', { skip: SKIP_DAEMON }, () => {
	let d, client, secret, x, f;
	const key = randomBytes(32);

	before(async () => {
		d = await new Daemon().start();
		secret = await d.createKey('acme', 'c1');
		await d.createKey('acme', 'c2');
		await d.importKey('acme', 'r1', 'acme-r1', key);
		client = new hmacd.Client({ socket: d.socket, timeoutMs: 5000 });
		x = await serve(expressApp({ client, log: () => {}, warn: () => {} }));
		f = await serveFastify(fastifyApp({ client, log: () => {}, warn: () => {} }));
	});
	after(async () => {
		await x?.close();
		await f?.close();
		client?.close();
		await d?.destroy();
	});

	/* A request signed for `container` (HMACD-V1, or RFC 9421 for r1), built for each port. */
	function v1({ container = 'c1', path = `/containers/${container}/exec`,
		body = '{"cmd":["ls","-l"]}', type = 'application/json' } = {}) {
		return (port) => {
			const headers = [['Host', `127.0.0.1:${port}`],
				...(type === null ? [] : [['Content-Type', type]])];
			const authorization = hmacd.signRequest({ secret, tenant: 'acme', container,
				epoch: 1, method: 'POST', path, headers, body });
			return { method: 'POST', path, body, headers: [...headers,
				['Authorization', authorization]] };
		};
	}
	function rfc(body) {
		return (port) => {
			const path = '/containers/r1/exec';
			const headers = [['Host', `127.0.0.1:${port}`], ['X-Tenant', 'acme'],
				['Content-Type', 'application/json']];
			const h = hmacd.rfc9421.sign({ method: 'POST', path, headers, body, key,
				keyid: 'acme-r1' });
			return { method: 'POST', path, body, headers: [...headers, ...Object.entries(h)] };
		};
	}
	const BAD = [400, { error: 'bad_request' }];
	const UNAUTHORIZED = [401, { error: 'unauthorized' }];
	const LS = [200, { tenant: 'acme', container: 'c1', cmd: ['ls', '-l'], tty: false }];

	const CASES = [
		['signed', v1(), LS],
		['with tty', v1({ body: '{"cmd":["sh"],"tty":true}' }),
			[200, { tenant: 'acme', container: 'c1', cmd: ['sh'], tty: true }]],
		/* the body is bound whatever its Content-Type says, as Flask's get_data() does */
		['no Content-Type', v1({ type: null }), LS],
		['text/plain', v1({ type: 'text/plain' }), LS],
		['Content-Type removed after signing', (port) => {
			const r = v1()(port);
			return { ...r, headers: r.headers.filter(([n]) => n !== 'Content-Type') };
		}, UNAUTHORIZED],
		['RFC 9421', rfc('{"cmd":["id"]}'),
			[200, { tenant: 'acme', container: 'r1', cmd: ['id'], tty: false }]],
		['signed for c1, sent to c2', (port) => ({ ...v1()(port), path: '/containers/c2/exec' }),
			UNAUTHORIZED],
		['body changed', (port) => ({ ...v1()(port), body: '{"cmd":["rm","-rf"]}' }),
			UNAUTHORIZED],
		['not signed', () => ({ method: 'POST', path: '/containers/c1/exec', body: '{}',
			headers: [['Host', 'h'], ['Content-Type', 'application/json']] }), UNAUTHORIZED],
		['a container field', v1({ body: '{"cmd":["ls"],"container":"c2"}' }), BAD],
		['CMD', v1({ body: '{"CMD":["ls"]}' }), BAD],
		['repeated key', v1({ body: '{"cmd":["ls"],"cmd":["rm"]}' }), BAD],
		['not JSON', v1({ body: 'not json' }), BAD],
		['not an object', v1({ body: '[1]' }), BAD],
		['cmd a string', v1({ body: '{"cmd":"ls"}' }), BAD],
		['no command', v1({ body: '{"cmd":[]}' }), BAD],
		['65 arguments', v1({ body: JSON.stringify({ cmd: Array(65).fill('a') }) }), BAD],
		['tty a string', v1({ body: '{"cmd":["ls"],"tty":"yes"}' }), BAD],
		['over 64 KiB', v1({ body: `{"cmd":["${'x'.repeat(65536)}"]}` }),
			[413, { error: 'too_large' }]],
		['/healthz', () => ({ method: 'GET', path: '/healthz', headers: [['Host', 'h']] }),
			[200, { ok: true }]],
	];

	for (const [what, mk, want] of CASES) {
		test(what, async () => {
			for (const s of [x, f]) {
				const r = await request(s.port, mk(s.port));
				const who = s === x ? 'Express' : 'Fastify';
				assert.deepEqual([r.status, JSON.parse(r.body)], want, `${who}: ${r.body}`);
				assert.match(r.headers['content-type'], /^application\/json/, who);
			}
		});
	}

	test('hmacd down: 503 from both', async () => {
		await d.stop();
		try {
			for (const s of [x, f]) {
				const r = await request(s.port, v1()(s.port));
				assert.deepEqual([r.status, JSON.parse(r.body)], [503, { error: 'unavailable' }]);
			}
		} finally {
			await d.start();
		}
	});
});

/*
 * `npm run example:<name>` in client/node with HMACD_SOCKET and PORT=0 (any free port), as
 * README.md documents it with PORT=8080: resolves with {port, stderr(), stop()}.
 */
function startExample(name, socket) {
	return new Promise((resolve, reject) => {
		const p = spawn('npm', ['run', '-s', `example:${name}`], { cwd: PKG, detached: true,
			env: { ...process.env, HMACD_SOCKET: socket, PORT: '0' },
			stdio: ['ignore', 'pipe', 'pipe'] });
		let out = '';
		let err = '';
		const stop = () => {
			try {
				process.kill(-p.pid, 'SIGTERM');
			} catch {
				/* gone already */
			}
		};
		const t = setTimeout(() => {
			stop();
			reject(new Error(`example:${name} did not listen within 20 s: ${out} ${err}`));
		}, 20000);
		p.stdout.on('data', (c) => {
			out += c;
			const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
			if (m) {
				clearTimeout(t);
				resolve({ port: Number(m[1]), stderr: () => err, stop });
			}
		});
		p.stderr.on('data', (c) => {
			err += c;
		});
		p.on('error', (e) => {
			clearTimeout(t);
			reject(e);
		});
		p.on('exit', (code) => {
			clearTimeout(t);
			reject(new Error(`example:${name} exited with ${code}: ${err}`));
		});
	});
}

describe('the examples run as README.md says', { skip: SKIP_DAEMON }, () => {
	let d, keyFile;

	before(async () => {
		d = await new Daemon().start();
		const k = await d.ctl('key', 'create', '--tenant', 'demo', '--container', 'web-01',
			'--json');
		keyFile = join(d.dir, 'demo-key.json');
		writeFileSync(keyFile, JSON.stringify(k), { mode: 0o600 });
	});
	after(async () => {
		await d?.destroy();
	});

	for (const name of ['express', 'fastify']) {
		test(`npm run example:${name}; node examples/send.mjs`, async () => {
			const app = await startExample(name, d.socket);
			try {
				const base = `http://127.0.0.1:${app.port}`;
				const h = await request(app.port, { method: 'GET', path: '/healthz',
					headers: [['Host', 'h']] });
				assert.deepEqual([h.status, h.body], [200, '{"ok":true}']);
				const send = (...a) => run(process.execPath, ['examples/send.mjs', ...a],
					{ cwd: PKG });
				const ok = await send(keyFile, `${base}/containers/web-01/exec`);
				assert.equal(ok.stdout,
					'200 {"tenant":"demo","container":"web-01","cmd":["ls","-l"],"tty":false}\n');
				const rfcOk = await send('--rfc9421', keyFile, `${base}/containers/web-01/exec`,
					'{"cmd":["id"]}');
				assert.match(rfcOk.stdout, /^200 .*"cmd":\["id"\]/);
				/* signed for web-01, sent to web-02: 401, and the reason in the app's log */
				const no = await send(keyFile, `${base}/containers/web-02/exec`).then(
					() => assert.fail('send.mjs exited 0 for a 401'), (e) => e);
				assert.equal(no.code, 1);
				assert.match(no.stdout, /^401 \{"error":"unauthorized"\}/);
				for (let i = 0; i < 50 && !/hmacd: 401/.test(app.stderr()); i++)
					await new Promise((r) => setTimeout(r, 20));
				assert.match(app.stderr(), new RegExp('hmacd: 401 UNKNOWN_KEY tenant=demo ' +
					'container=web-02 POST /containers/web-02/exec'));
			} finally {
				app.stop();
			}
		});
	}
});

test('configFromEnv: the settings every example app reads', async () => {
	const { configFromEnv } = await import('../examples/exec-request.mjs');
	assert.deepEqual(configFromEnv({}), { socket: '/run/hmacd/hmacd.sock', port: 8080,
		serverUser: undefined, trustProxy: false });
	assert.deepEqual(configFromEnv({ HMACD_SOCKET: '/tmp/x/s', PORT: '9000',
		HMACD_SERVER_USER: 'hmacd', HMACD_TRUST_PROXY: '1' }),
	{ socket: '/tmp/x/s', port: 9000, serverUser: 'hmacd', trustProxy: true });
	assert.equal(configFromEnv({ HMACD_TRUST_PROXY: '0' }).trustProxy, false);
	for (const bad of [{ PORT: 'x' }, { PORT: '-1' }, { PORT: '65536' }, { PORT: '80a' },
		{ HMACD_TRUST_PROXY: 'yes' }, { HMACD_TRUST_PROXY: 'true' }, { HMACD_TRUST_PROXY: ' 1' },
		{ HMACD_TRUST_PROXY: '2' }])
		assert.throws(() => configFromEnv(bad), Error, JSON.stringify(bad));
});

test('bindExecRequest: the body every example app binds alike', async () => {
	const { bindExecRequest, BadBody } = await import('../examples/exec-request.mjs');
	for (const good of ['{"cmd":["ls",""]}', `{"cmd":["${'é'.repeat(4096)}"]}`,
		JSON.stringify({ cmd: Array(64).fill('a') }), '{"cmd":["sh"],"tty":true}'])
		assert.doesNotThrow(() => bindExecRequest(Buffer.from(good)), good.slice(0, 40));
	for (const bad of ['{"cmd":[""]}', '{"cmd":["ls"],"tty":null}', '{"cmd":null}',
		'{"cmd":["ls",null]}', `{"cmd":["${'a'.repeat(4097)}"]}`])
		assert.throws(() => bindExecRequest(Buffer.from(bad)), BadBody, bad.slice(0, 40));
	assert.throws(() => bindExecRequest(Buffer.from('\xef\xbb\xbf{"cmd":["ls"]}', 'latin1')),
		BadBody, 'a byte order mark');
	assert.throws(() => bindExecRequest(Buffer.from('{"cmd":["\xff"]}', 'latin1')), BadBody,
		'not UTF-8');
});
