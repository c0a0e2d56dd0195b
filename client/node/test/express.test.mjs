/*
 * express.test.mjs - the Express middleware (PROTOCOL.md 13.3) and the example app, served on an
 * ephemeral 127.0.0.1 port, against the real hmacd; and against a fake daemon for verdict 9
 * UNAVAILABLE, which the real one answers only in fleet mode.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { after, before, beforeEach, describe, test } from 'node:test';

import express from 'express';

import * as hmacd from 'hmacd';
import { createApp } from '../examples/express-app.mjs';

import { Daemon, SKIP_DAEMON, answer, fake, request, serve } from './helpers.mjs';

const UNAUTHORIZED = '{"error":"unauthorized"}';
const now = () => Math.floor(Date.now() / 1000);

describe('Express middleware against the real daemon', { skip: SKIP_DAEMON }, () => {
	let d, client, srv, port;
	const keys = {};
	const logs = [];

	/* Signs a request the way a tenant's signer does; `to` is where it is actually sent. */
	function signedRequest({ container = 'c1', secret = keys.c1, epoch = 1, tenant = 'acme',
		path = `/containers/${container}/exec`, body = '{"cmd":["ls","-l"]}', ts, nonce,
		extra = [] } = {}) {
		const headers = [['Host', `127.0.0.1:${port}`], ['Content-Type', 'application/json'],
			...extra];
		const authorization = hmacd.signRequest({
			secret, tenant, container, epoch, method: 'POST', path, headers, body, ts, nonce,
			signedHeaders: ['host', 'content-type', ...extra.map(([n]) => n.toLowerCase())],
		});
		return { method: 'POST', path, body,
			headers: [...headers, ['Authorization', authorization]] };
	}

	async function expect401(req, reason) {
		logs.length = 0;
		const r = await request(port, req);
		assert.equal(r.status, 401, r.body);
		assert.equal(r.body, UNAUTHORIZED);
		assert.equal(r.headers['www-authenticate'], 'HMACD-V1');
		assert.equal(r.headers['content-type'], 'application/json');
		if (reason)
			assert.equal(logs.at(-1)?.reason, reason);
	}

	before(async () => {
		d = await new Daemon().start();
		keys.c1 = await d.createKey('acme', 'c1');
		keys.c2 = await d.createKey('acme', 'c2');
		keys.evil = await d.createKey('evil', 'c1');
		keys.rev = await d.createKey('acme', 'rev');
		await d.rotateKey('acme', 'rev');
		await d.revokeKey('acme', 'rev', 1);
		keys.exp = await d.createKey('acme', 'exp');
		await d.rotateKey('acme', 'exp', 0);
		client = new hmacd.Client({ socket: d.socket, timeoutMs: 2000 });
		srv = await serve(createApp({ client, log: (e) => logs.push(e), warn: () => {} }));
		port = srv.port;
	});
	after(async () => {
		await srv?.close();
		client?.close();
		await d?.destroy();
	});
	beforeEach(() => {
		logs.length = 0;
	});

	test('a signed request passes; the handler sees the verified body', async () => {
		const r = await request(port, signedRequest());
		assert.equal(r.status, 200, r.body);
		assert.deepEqual(JSON.parse(r.body), { tenant: 'acme', container: 'c1',
			cmd: ['ls', '-l'], tty: false });
	});

	test('signed for c1, sent to /containers/c2/exec: 401', async () => {
		const req = signedRequest({ container: 'c1' });
		await expect401({ ...req, path: '/containers/c2/exec' }, 'BAD_SIGNATURE');
		/* the signer claiming c1 in its signature while addressing c2 gains nothing either */
		await expect401(signedRequest({ container: 'c1', path: '/containers/c2/exec' }),
			'BAD_SIGNATURE');
		/* nor does another tenant's valid key for c1 */
		const evil = signedRequest({ tenant: 'evil', secret: keys.evil, container: 'c1',
			path: '/containers/c2/exec' });
		await expect401(evil, 'UNKNOWN_KEY');
	});

	test('each verdict is the same 401; the log names it', async () => {
		const replayed = signedRequest();
		assert.equal((await request(port, replayed)).status, 200);
		const cases = [
			['REPLAY', replayed],
			['BAD_SIGNATURE', { ...signedRequest(), body: '{"cmd":["rm","-rf"]}' }],
			['BAD_SIGNATURE', { ...signedRequest({ path: '/containers/c1/exec?tty=1' }),
				path: '/containers/c1/exec?tty=0' }],
			['UNKNOWN_KEY', signedRequest({ tenant: 'nobody' })],
			['KEY_REVOKED', signedRequest({ container: 'rev', secret: keys.rev })],
			['KEY_EXPIRED', signedRequest({ container: 'exp', secret: keys.exp })],
			['STALE_TIMESTAMP', signedRequest({ ts: now() - 3600 })],
			['UNKNOWN_KEY', signedRequest({ epoch: 7 })],
		];
		for (const [reason, req] of cases)
			await expect401(req, reason);
		/* a container the daemon refuses as malformed ("a b" is not a valid name) */
		const mal = signedRequest();
		await expect401({ ...mal, path: '/containers/a%20b/exec' }, 'MALFORMED');
		assert.equal(logs.at(-1).container, 'a b', 'the route parameter, decoded by Express');
	});

	test('Authorization missing, invalid, doubled; a signed header absent: 401', async () => {
		const req = signedRequest();
		const noAuth = req.headers.filter(([n]) => n !== 'Authorization');
		await expect401({ ...req, headers: noAuth }, 'NO_AUTHORIZATION');
		await expect401({ ...req, headers: [...noAuth, ['Authorization', 'Bearer x']] },
			'BAD_AUTHORIZATION');
		const auth = req.headers.find(([n]) => n === 'Authorization');
		await expect401({ ...req, headers: [...req.headers, auth] }, 'BAD_AUTHORIZATION');
		const withId = signedRequest({ extra: [['X-Request-Id', 'r1']] });
		await expect401({ ...withId, headers: withId.headers.filter(([n]) => n !== 'X-Request-Id') },
			'MISSING_SIGNED_HEADER');
	});

	test('signed header values: trimmed, repeated fields joined with ", "', async () => {
		const req = signedRequest({ extra: [['X-Tag', 'a'], ['X-Tag', 'b']] });
		/* the signer signed x-tag = "a, b"; the fields arrive padded */
		req.headers = req.headers.map(([n, v]) => [n, n === 'X-Tag' ? ` ${v}\t` : v]);
		const r = await request(port, req);
		assert.equal(r.status, 200, r.body);
		/* fields in the other order are another value */
		const swapped = signedRequest({ extra: [['X-Tag', 'a'], ['X-Tag', 'b']] });
		const tags = swapped.headers.filter(([n]) => n === 'X-Tag').reverse();
		swapped.headers = [...swapped.headers.filter(([n]) => n !== 'X-Tag'), ...tags];
		await expect401(swapped, 'BAD_SIGNATURE');
	});

	test('a body over the limit: 413 before any verification', async () => {
		const before = (await client.stats()).items;
		const big = signedRequest({ body: `{"cmd":["${'x'.repeat(1048576)}"]}` });
		logs.length = 0;
		let r = await request(port, big);
		assert.equal(r.status, 413);
		assert.equal(r.body, '{"error":"too_large"}');
		/* the same without Content-Length (chunked): stopped while reading */
		r = await new Promise((resolve, reject) => {
			const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: big.path,
				headers: big.headers.flat(), setHost: false, agent: false }, (res) => {
				let b = '';
				res.on('data', (c) => {
					b += c;
				});
				res.on('end', () => resolve({ status: res.statusCode, body: b }));
			});
			req.on('error', reject);
			for (let i = 0; i < 17; i++)
				req.write(Buffer.alloc(65536, 0x61));
			req.end();
		});
		assert.equal(r.status, 413);
		assert.equal(logs.at(-1).reason, 'TOO_LARGE');
		assert.equal((await client.stats()).items, before, 'nothing was sent to hmacd');
	});

	test('strict binding: unknown field, wrong type, not JSON: refused after verification',
		async () => {
			for (const body of ['{"cmd":["ls"],"privileged":true}', '{"cmd":"ls"}',
				'{"cmd":[]}', '[1]', 'nope', '{"cmd":["ls"],"tty":"yes"}']) {
				const r = await request(port, signedRequest({ body }));
				assert.equal(r.status, 400, body);
				assert.equal(r.body, '{"error":"bad_request"}');
			}
			const r = await request(port, signedRequest({ body: '{"cmd":["ls"],"tty":true}' }));
			assert.equal(r.status, 200, r.body);
		});

	test('hmacd down: 503, fail closed; restarted: requests pass again', async () => {
		const stopped = await d.stop();
		assert.equal(stopped.code, 0, stopped.stderr);
		try {
			const r = await request(port, signedRequest());
			assert.equal(r.status, 503);
			assert.equal(r.body, '{"error":"unavailable"}');
			assert.equal(logs.at(-1).reason, 'HMACD_ECONN');
		} finally {
			await d.start();
		}
		const r = await request(port, signedRequest());
		assert.equal(r.status, 200, r.body);
	});

	test('200 concurrent HTTP requests, half of them tampered', async () => {
		const reqs = Array.from({ length: 200 }, (_, i) => {
			const q = signedRequest();
			return i % 2 ? { ...q, path: '/containers/c2/exec' } : q;
		});
		const rs = await Promise.all(reqs.map((q) => request(port, q)));
		assert.deepEqual(rs.map((r) => r.status), reqs.map((_, i) => (i % 2 ? 401 : 200)));
	});

	test('express.raw() before it; misconfigured routes: 500, no stack trace, the log says why',
		async () => {
			const app = express();
			const setup = [];
			const verify = hmacd.express({ client, log: (e) => setup.push(e) });
			let reached = 0;
			app.post('/raw/containers/:id/exec', express.raw({ type: '*/*' }), verify,
				(req, res) => {
					reached++;
					res.json({ same: req.body === req.rawBody });
				});
			/* a parser that ate the body and kept nothing; a route without :id. No error
			 * handler of the app's: Express's own would answer with the stack trace */
			app.post('/json/containers/:id/exec', express.json(), verify, () => {
				reached++;
			});
			app.post('/noparam/exec', verify, () => {
				reached++;
			});
			const s2 = await serve(app);
			try {
				const mk = (p) => signedRequest({ container: 'c1', path: p });
				let r = await request(s2.port, mk('/raw/containers/c1/exec'));
				assert.equal(r.status, 200, r.body);
				assert.deepEqual(JSON.parse(r.body), { same: true });
				const cases = [
					['/json/containers/c1/exec', /express\.json\({ verify: hmacd\.keepRawBody }\)/],
					['/noparam/exec', /the route has no parameter "id"/],
				];
				for (const [path, says] of cases) {
					setup.length = 0;
					r = await request(s2.port, mk(path));
					assert.equal(r.status, 500, path);
					assert.equal(r.body, '{"error":"internal"}');
					assert.equal(r.headers['content-type'], 'application/json');
					assert.equal(setup.length, 1);
					assert.equal(setup[0].reason, 'SETUP_ERROR');
					assert.match(setup[0].detail, says);
				}
				assert.equal(reached, 1);
			} finally {
				await s2.close();
			}
		});
});

/*
 * Verdict 9 UNAVAILABLE (fleet mode: the daemon could not claim the nonce fleet-wide in time)
 * through the real client and the example app's middleware. A fake daemon speaking the real
 * protocol answers 9 to every item. The answer must be the 503 of a daemon that does not answer
 * (same body, same headers), never the 401 of a rejected signature; the handler never runs;
 * the log names UNAVAILABLE.
 */
describe('verdict 9 UNAVAILABLE: 503 like a daemon down (a fake daemon)', () => {
	let f, client, srv, port;
	const logs = [];

	before(async () => {
		const { UNAVAILABLE } = hmacd.Verdict;
		f = await fake((payload, sock) => sock.write(answer(payload, {}, UNAVAILABLE)));
		client = new hmacd.Client({ socket: f.path, timeoutMs: 2000 });
		srv = await serve(createApp({ client, log: (e) => logs.push(e), warn: () => {} }));
		port = srv.port;
	});
	after(async () => {
		await srv?.close();
		client?.close();
		await f?.close();
	});

	const path = '/containers/c1/exec';
	const body = '{"cmd":["ls"]}';
	const secret = Buffer.alloc(32, 7);
	function v1() {
		const headers = [['Host', `127.0.0.1:${port}`], ['Content-Type', 'application/json']];
		const authorization = hmacd.signRequest({ secret, tenant: 'acme', container: 'c1',
			epoch: 1, method: 'POST', path, headers, body });
		return { method: 'POST', path, body,
			headers: [...headers, ['Authorization', authorization]] };
	}
	function rfc() {
		const headers = [['Host', `127.0.0.1:${port}`], ['X-Tenant', 'acme'],
			['Content-Type', 'application/json']];
		const h = hmacd.rfc9421.sign({ method: 'POST', path, headers, body, key: secret,
			keyid: 'kid-1' });
		return { method: 'POST', path, body, headers: [...headers, ...Object.entries(h)] };
	}
	/* the response headers, minus those that change from one response to the next */
	const stable = (h) => Object.fromEntries(Object.entries(h).filter(([k]) =>
		!['date', 'connection', 'keep-alive'].includes(k)));

	test('the name and the code', () => {
		assert.equal(hmacd.Verdict.UNAVAILABLE, 9);
		assert.equal(hmacd.verdictName(9), 'UNAVAILABLE');
		assert.equal(hmacd.verdictName(10), 'VERDICT_10');
	});

	test('the client resolves with 9: a verdict, not an error', async () => {
		const frames = f.frames;
		assert.equal(await client.verify({ tenant: 'acme', container: 'c1', epoch: 1,
			method: 'POST', path, ts: 1, nonce: 'n1', sig: Buffer.alloc(32) }),
		hmacd.Verdict.UNAVAILABLE);
		assert.equal(f.frames, frames + 1);
	});

	test('hmacd-v1 and RFC 9421 requests: 503 as for a daemon down, the handler never runs',
		async () => {
			let first;
			for (const [scheme, req] of [['hmacd-v1', v1()], ['rfc9421', rfc()]]) {
				logs.length = 0;
				const frames = f.frames;
				const r = await request(port, req);
				assert.equal(r.status, 503, `${scheme}: ${r.body}`);
				assert.equal(r.body, '{"error":"unavailable"}');
				assert.equal(r.headers['www-authenticate'], undefined);
				assert.equal(f.frames, frames + 1, 'the daemon was asked and answered');
				assert.deepEqual(logs, [{ status: 503, reason: 'UNAVAILABLE', tenant: 'acme',
					container: 'c1', method: 'POST', path }]);
				first ??= stable(r.headers);
			}
			/* the same request with the daemon gone: the very same response */
			await f.close();
			logs.length = 0;
			const down = await request(port, v1());
			assert.equal(down.status, 503);
			assert.equal(down.body, '{"error":"unavailable"}');
			assert.equal(logs.at(-1).reason, 'HMACD_ECONN');
			assert.deepEqual(stable(down.headers), first);
		});
});

/*
 * Issue 10: a signed request changed in transit, every header kept.
 * - Finding 1: its body removed (Content-Length: 0, Content-Digest and the signature kept). The
 *   middleware must send hmacd the body it hands on, empty or not, so that the covered digest
 *   (or hmacd-v1's body hash) is checked against the empty body.
 * - Finding 5: its query changed. The signer covers @query by default when there is one.
 */
describe('signed requests changed in transit (issue 10)', { skip: SKIP_DAEMON }, () => {
	const BODY = '{"dry_run":true}';
	let d, client, srv, port, secret;
	const key = randomBytes(32);
	const logs = [];
	const ran = [];

	before(async () => {
		d = await new Daemon().start();
		await d.importKey('acme', 'c1', 'acme-c1', key);
		secret = await d.createKey('acme', 'v1');
		client = new hmacd.Client({ socket: d.socket, timeoutMs: 5000 });
		const app = express();
		app.post('/containers/:id/exec', hmacd.express({ client, log: (e) => logs.push(e) }),
			(req, res) => {
				ran.push(req.rawBody.toString('latin1'));
				res.json({ scheme: req.hmacd.scheme, body: req.rawBody.toString('utf8') });
			});
		srv = await serve(app);
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

	/* The same request with no body and Content-Length: 0; every other header as signed. */
	const stripped = (req) => ({ ...req, body: undefined,
		headers: [...req.headers.filter(([n]) => n.toLowerCase() !== 'content-length'),
			['Content-Length', '0']] });

	/* `changed` gets 401 and never reaches the handler; `req`, intact, gets 200 */
	async function expectChangeRefused(changed, req, scheme) {
		const r = await request(port, changed);
		assert.equal(r.status, 401, r.body);
		assert.equal(r.body, UNAUTHORIZED);
		assert.equal(logs.at(-1)?.reason, 'BAD_SIGNATURE');
		assert.deepEqual(ran, [], 'the handler never ran');
		/* the same request intact is accepted: the refusal is the change's doing */
		const ok = await request(port, req);
		assert.equal(ok.status, 200, ok.body);
		assert.deepEqual(JSON.parse(ok.body), { scheme, body: BODY });
		assert.deepEqual(ran, [BODY]);
	}

	test('RFC 9421 covering content-digest: 401, the handler never runs', async () => {
		const path = '/containers/c1/exec';
		const headers = [['Host', `127.0.0.1:${port}`], ['X-Tenant', 'acme'],
			['Content-Type', 'application/json'],
			['Content-Length', String(Buffer.byteLength(BODY))]];
		const h = hmacd.rfc9421.sign({ method: 'POST', path, headers, body: BODY, key,
			keyid: 'acme-c1' });
		assert.match(h['Signature-Input'], /"content-digest"/);
		const req = { method: 'POST', path, body: BODY, headers: [...headers, ...Object.entries(h)] };
		await expectChangeRefused(stripped(req), req, 'rfc9421');
	});

	test('hmacd-v1: 401, the handler never runs', async () => {
		const path = '/containers/v1/exec';
		const headers = [['Host', `127.0.0.1:${port}`], ['Content-Type', 'application/json']];
		const authorization = hmacd.signRequest({ secret, tenant: 'acme', container: 'v1',
			epoch: 1, method: 'POST', path, headers, body: BODY });
		const req = { method: 'POST', path, body: BODY,
			headers: [...headers, ['Authorization', authorization]] };
		await expectChangeRefused(stripped(req), req, 'hmacd-v1');
	});

	test('RFC 9421, default components, a query changed: 401, the handler never runs',
		async () => {
			const path = '/containers/c1/exec?force=true';
			const headers = [['Host', `127.0.0.1:${port}`], ['X-Tenant', 'acme'],
				['Content-Type', 'application/json']];
			const h = hmacd.rfc9421.sign({ method: 'POST', path, headers, body: BODY, key,
				keyid: 'acme-c1' });
			const req = { method: 'POST', path, body: BODY, headers: [...headers,
				...Object.entries(h)] };
			await expectChangeRefused({ ...req, path: '/containers/c1/exec?force=false' }, req,
				'rfc9421');
		});
});

/*
 * Issue 10, finding 5, the hmacd-v1 part of a policy: `hmacctl policy set ... --v1-nonce
 * --v1-require host` makes hmacd refuse (INSUFFICIENT_COVERAGE) an hmacd-v1 request of that
 * scope without a nonce, or whose SignedHeaders leave host out, before any key is looked at.
 * Through the middleware: 401 and the handler never runs; a request meeting it: 200.
 */
describe('the hmacd-v1 part of a policy, through the middleware (issue 10)',
	{ skip: SKIP_DAEMON }, () => {
		const BODY = '{"cmd":["ls"]}';
		let d, client, srv, port;
		const secrets = {};
		const logs = [];
		const ran = [];

		before(async () => {
			d = await new Daemon().start();
			/* acme/strict: a nonce and host; acme/open: the default policy (nothing for v1) */
			secrets.strict = await d.createKey('acme', 'strict');
			await d.setPolicy('acme', 'strict', ['@method', '@authority', '@path'], '--v1-nonce',
				'--v1-require', 'host');
			secrets.open = await d.createKey('acme', 'open');
			/* tenant beta, every container: host and content-type signed, no nonce required */
			secrets.beta = await d.createKey('beta', 'c1');
			await d.setPolicy('beta', null, ['@method', '@authority', '@path'], '--v1-require',
				'host', 'content-type');
			client = new hmacd.Client({ socket: d.socket, timeoutMs: 5000 });
			const app = express();
			app.post('/containers/:id/exec', hmacd.express({ client, log: (e) => logs.push(e) }),
				(req, res) => {
					ran.push(req.rawBody.toString('latin1'));
					res.json({ ...req.hmacd, body: req.rawBody.toString('utf8') });
				});
			srv = await serve(app);
			port = srv.port;
		});
		after(async () => {
			await srv?.close();
			client?.close();
			const r = await d?.stop();
			assert.equal(r?.code, 0, `hmacd exit status (stderr: ${r?.stderr})`);
			await d?.destroy();
		});
		beforeEach(() => {
			logs.length = 0;
			ran.length = 0;
		});

		/* An hmacd-v1 request to /containers/<container>/exec, signed with signRequest() */
		function v1Request(container, { tenant = 'acme', secret = secrets[container], nonce,
			signedHeaders } = {}) {
			const path = `/containers/${container}/exec`;
			const headers = [['Host', `127.0.0.1:${port}`], ['Content-Type', 'application/json']];
			const authorization = hmacd.signRequest({ secret, tenant, container, epoch: 1,
				method: 'POST', path, headers, body: BODY, nonce, signedHeaders });
			return { method: 'POST', path, body: BODY,
				headers: [...headers, ['Authorization', authorization]] };
		}

		async function expectCoverage401(req, what) {
			logs.length = 0;
			const r = await request(port, req);
			assert.equal(r.status, 401, `${what}: ${r.body}`);
			assert.equal(r.body, UNAUTHORIZED);
			assert.equal(logs.at(-1)?.reason, 'INSUFFICIENT_COVERAGE', what);
		}

		test('hmacctl shows the hmacd-v1 part of each policy', async () => {
			const show = (...scope) => d.ctl('policy', 'show', ...scope, '--json');
			const s = await show('--tenant', 'acme', '--container', 'strict');
			assert.deepEqual([s.source, s.v1_nonce, s.v1_require], ['scope', true, ['host']]);
			const o = await show('--tenant', 'acme', '--container', 'open');
			assert.deepEqual([o.source, o.v1_nonce, o.v1_require], ['default', false, []]);
			const b = await show('--tenant', 'beta', '--container', 'c1');
			assert.deepEqual([b.source, b.v1_nonce, b.v1_require],
				['tenant', false, ['host', 'content-type']]);
		});

		test('no nonce, or host not signed: 401, the handler never runs', async () => {
			const cases = [
				['no nonce', { nonce: null }],
				['host not signed', { signedHeaders: ['content-type'] }],
				['no header signed', { signedHeaders: [] }],
				['neither', { nonce: null, signedHeaders: ['content-type'] }],
			];
			for (const [what, o] of cases)
				await expectCoverage401(v1Request('strict', o), what);
			assert.deepEqual(ran, [], 'the handler never ran');
			/* the same requests where the default policy rules: the refusals were the policy's */
			for (const [what, o] of cases) {
				const r = await request(port, v1Request('open', o));
				assert.equal(r.status, 200, `${what} under the default policy: ${r.body}`);
			}
			assert.equal(ran.length, cases.length);
		});

		test('coverage is decided before the key: a wrong secret still gets 8', async () => {
			const wrong = randomBytes(32);
			await expectCoverage401(v1Request('strict', { secret: wrong, nonce: null }),
				'no nonce, wrong secret');
			/* with a nonce and host the key is asked, and refuses */
			logs.length = 0;
			const r = await request(port, v1Request('strict', { secret: wrong }));
			assert.equal(r.status, 401, r.body);
			assert.equal(logs.at(-1)?.reason, 'BAD_SIGNATURE');
			assert.deepEqual(ran, []);
		});

		test('a nonce and host signed: 200; sent again: REPLAY', async () => {
			/* signRequest()'s defaults: a random nonce, host and content-type signed */
			const req = v1Request('strict');
			const r = await request(port, req);
			assert.equal(r.status, 200, r.body);
			const j = JSON.parse(r.body);
			assert.deepEqual([j.scheme, j.tenant, j.container, j.body],
				['hmacd-v1', 'acme', 'strict', BODY]);
			assert.match(j.nonce, /^[0-9a-f]{32}$/);
			/* host alone is all the policy asks */
			const hostOnly = await request(port, v1Request('strict', { signedHeaders: ['host'] }));
			assert.equal(hostOnly.status, 200, hostOnly.body);
			assert.deepEqual(ran, [BODY, BODY]);
			logs.length = 0;
			const again = await request(port, req);
			assert.equal(again.status, 401, again.body);
			assert.equal(logs.at(-1)?.reason, 'REPLAY');
			assert.equal(ran.length, 2);
		});

		test('a tenant\'s policy: every header it names must be signed', async () => {
			const beta = (o) => v1Request('c1', { tenant: 'beta', secret: secrets.beta, ...o });
			await expectCoverage401(beta({ signedHeaders: ['host'] }), 'content-type not signed');
			await expectCoverage401(beta({ signedHeaders: ['content-type'] }), 'host not signed');
			assert.deepEqual(ran, []);
			/* both signed; no nonce is asked for here */
			const r = await request(port, beta({ nonce: null }));
			assert.equal(r.status, 200, r.body);
			assert.deepEqual(ran, [BODY]);
		});
	});
