/*
 * rfc9421-daemon.test.mjs - rfc9421 items signed by lib/rfc9421.js, judged by the real hmacd:
 * keys imported with `hmacctl key import` under key ids, coverage policies set with
 * `hmacctl policy set`, and every verdict an RFC 9421 signature can get (issue 6), plus the
 * RFC's own B.2.5 request with the RFC's shared secret.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import * as hmacd from 'hmacd';

import { Daemon, SKIP_DAEMON } from './helpers.mjs';

const { sign, contentDigest } = hmacd.rfc9421;
const now = () => Math.floor(Date.now() / 1000);
const BODY = '{"cmd":["ls","-l"]}';

/* RFC 9421 B.2 and B.2.5 (as in rfc9421.test.mjs and tests/unit/test_sigbase.c) */
const SHARED_SECRET_B64 =
	'uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ==';
const B2_HEADERS = [
	['host', 'example.com'],
	['date', 'Tue, 20 Apr 2021 02:07:55 GMT'],
	['content-type', 'application/json'],
	['content-digest', 'sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiY' +
		'llu7BNNyealdVLvRwEmTHWXvJwew==:'],
	['content-length', '18'],
];
const B25_INPUT = 'sig-b25=("date" "@authority" "content-type")' +
	';created=1618884473;keyid="test-shared-secret"';
const B25_SIGNATURE = 'sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:';

describe('rfc9421 items against the real daemon', { skip: SKIP_DAEMON }, () => {
	let d, client;
	const keys = {};

	/*
	 * An rfc9421 item for a request to `container`, signed with sign(). `sig` holds sign()'s
	 * options (key, keyid, components, created, nonce, ...), `req` overrides the request.
	 */
	function item({ tenant = 'acme', container = 'c1', key = keys.c1, keyid = 'acme-c1',
		sig = {}, req = {} } = {}) {
		const r = {
			method: 'POST', authority: 'api.example', path: `/containers/${container}/exec`,
			headers: [['host', 'api.example'], ['content-type', 'application/json']],
			body: BODY, ...req,
		};
		const h = sign({ ...r, key, keyid, ...sig });
		return {
			scheme: 'rfc9421', tenant, container, method: r.method, authority: r.authority,
			path: r.path, uriScheme: r.scheme,
			headers: [...r.headers, ...Object.entries(h).map(([n, v]) => [n.toLowerCase(), v])],
			signatureInput: h['Signature-Input'], signature: h.Signature,
			body: r.body === undefined || r.body === '' ? undefined : Buffer.from(r.body),
		};
	}

	const name = (code) => hmacd.verdictName(code);
	async function expect(it, want, what) {
		assert.equal(name(await client.verify(it)), want, what);
	}

	before(async () => {
		d = await new Daemon().start();
		keys.c1 = randomBytes(32);
		keys.c2 = randomBytes(48);
		keys.evil = randomBytes(16);
		keys.pq = randomBytes(64);
		const r = await d.importKey('acme', 'c1', 'acme-c1', keys.c1);
		assert.deepEqual(r, { tenant: 'acme', container: 'c1', epoch: 1, keyid: 'acme-c1' });
		await d.importKey('acme', 'c2', 'acme-c2', keys.c2);
		await d.importKey('evil', 'c1', 'evil-c1', keys.evil);
		await d.importKey('acme', 'pq', 'acme-pq', keys.pq);
		await d.setPolicy('acme', 'pq', ['@method', '@authority', '@path',
			'@query-param;name=id']);
		keys.pn = randomBytes(32);
		await d.importKey('acme', 'pn', 'acme-pn', keys.pn);
		await d.setPolicy('acme', 'pn', ['@method', '@authority', '@path',
			'@query-param;name=id'], '--no-query');
		keys.qq = randomBytes(20);
		await d.importKey('acme', 'qq', 'acme-qq', keys.qq);
		await d.setPolicy('acme', 'qq', ['@method', '@authority', '@path', '@query']);
		await d.importKey('rfc', 'example', 'test-shared-secret',
			Buffer.from(SHARED_SECRET_B64, 'base64'));
		/* B.2.5 covers date, @authority and content-type, has no nonce, was created in 2021,
		 * its request has a body (content-length 18) whose Content-Digest it does not cover, and
		 * a query (?param=Value&Pet=dog) it does not cover either */
		const b25 = ['--no-nonce', '--no-age-check', '--no-body-digest', '--no-query'];
		await d.setPolicy('rfc', 'example', ['date', '@authority', 'content-type'], ...b25);
		await d.setPolicy('rfc2', null, ['date', '@authority', 'content-type'], ...b25);
		/* the same but for --no-query: the query rule alone stands between B.2.5 and OK */
		await d.setPolicy('rfc3', null, ['date', '@authority', 'content-type'],
			...b25.filter((f) => f !== '--no-query'));
		client = new hmacd.Client({ socket: d.socket, timeoutMs: 5000 });
	});
	after(async () => {
		client?.close();
		const r = await d?.stop();
		assert.equal(r?.code, 0, `hmacd exit status (stderr: ${r?.stderr})`);
		await d?.destroy();
	});

	test('the imported key and the policy are what hmacctl shows', async () => {
		const list = await d.ctl('key', 'list', '--json');
		const c1 = list.find((k) => k.tenant === 'acme' && k.container === 'c1');
		assert.equal(c1.keyid, 'acme-c1');
		assert.ok(!JSON.stringify(list).includes(keys.c1.toString('base64')), 'no secret listed');
		const p = await d.ctl('policy', 'show', '--tenant', 'rfc', '--container', 'example',
			'--json');
		assert.equal(p.source, 'scope');
		assert.deepEqual(p.require, ['date', '@authority', 'content-type']);
		assert.deepEqual([p.created, p.nonce, p.age_check, p.body_digest, p.query],
			[true, false, false, false, false]);
		/* no nonce and no age check: what hmacctl says the replay protection really is */
		assert.equal(p.replay_protection, 'weak');
		assert.deepEqual([p.v1_nonce, p.v1_require], [false, []]);
		const def = await d.ctl('policy', 'show', '--tenant', 'acme', '--container', 'c1',
			'--json');
		assert.equal(def.source, 'default');
		assert.deepEqual([def.created, def.nonce, def.age_check, def.body_digest, def.query,
			def.replay_protection], [true, true, true, true, true, 'all']);
		const pn = await d.ctl('policy', 'show', '--tenant', 'acme', '--container', 'pn',
			'--json');
		assert.deepEqual([pn.source, pn.query], ['scope', false]);
	});

	test('OK: default components with a body (content-digest), and a GET without one',
		async () => {
			await expect(item(), 'OK');
			await expect(item({ req: { method: 'GET', body: undefined,
				path: '/containers/c1/logs?tail=10' } }), 'OK');
			/* every derived component and field form at once */
			await expect(item({ req: { path: '/containers/c1/exec?x=1&y=%20z',
				headers: [['host', 'api.example'], ['content-type', 'application/json'],
					['priority', 'u=1'], ['priority', 'i'], ['x-a', ' a\tb ']] },
			sig: { components: ['@method', '@target-uri', '@authority', '@scheme',
				'@request-target', '@path', '@query', '@query-param;name=y', 'content-type',
				'priority;sf', 'priority;key=u', 'x-a', 'x-a;bs', 'content-digest'] } }), 'OK');
		});

	test('tampered path, method, header, body: BAD_SIGNATURE', async () => {
		await expect({ ...item(), path: '/containers/c1/exec2' }, 'BAD_SIGNATURE', 'path');
		await expect({ ...item(), path: '/containers/c%31/exec' }, 'BAD_SIGNATURE', 'encoding');
		await expect({ ...item(), method: 'PUT' }, 'BAD_SIGNATURE', 'method');
		const h = item({ sig: { components: ['@method', '@authority', '@path', 'content-type',
			'content-digest'] } });
		h.headers = h.headers.map(([n, v]) => [n, n === 'content-type' ? 'text/plain' : v]);
		await expect(h, 'BAD_SIGNATURE', 'header');
		await expect({ ...item(), body: Buffer.from('{"cmd":["rm"]}') }, 'BAD_SIGNATURE', 'body');
		await expect({ ...item(), authority: 'evil.example' }, 'BAD_SIGNATURE', 'authority');
	});

	test('a key of another scope, or an unknown keyid: UNKNOWN_KEY', async () => {
		await expect(item({ key: keys.c2, keyid: 'acme-c2' }), 'UNKNOWN_KEY', 'acme/c2 key on c1');
		await expect(item({ tenant: 'acme', key: keys.evil, keyid: 'evil-c1' }), 'UNKNOWN_KEY',
			'evil/c1 key on acme/c1');
		await expect(item({ keyid: 'nope' }), 'UNKNOWN_KEY', 'unknown');
		/* the right key, but the item names another scope */
		await expect(item({ container: 'c2' }), 'UNKNOWN_KEY', 'acme-c1 for container c2');
	});

	test('coverage below the policy: INSUFFICIENT_COVERAGE (8)', async () => {
		const cases = [
			['@path not covered', { components: ['@method', '@authority', 'content-digest'] }],
			['no nonce', { nonce: null }],
			['no created', { created: null }],
			['body without content-digest', { components: ['@method', '@authority', '@path'] }],
		];
		for (const [what, sig] of cases)
			assert.equal(await client.verify(item({ sig })), hmacd.Verdict.INSUFFICIENT_COVERAGE,
				what);
		/* a content-length without a body in the item counts as a body too */
		const cl = item({ req: { body: undefined, headers: [['host', 'api.example'],
			['content-length', '5']] } });
		await expect(cl, 'INSUFFICIENT_COVERAGE', 'content-length 5');
		/* coverage comes before the key: an unknown keyid still gets 8 */
		await expect(item({ keyid: 'nope', sig: { nonce: null } }), 'INSUFFICIENT_COVERAGE');
	});

	test('a per-scope policy: acme/pq requires @query-param;name="id"', async () => {
		const pq = (sig, path = '/containers/pq/exec?id=42') => item({ container: 'pq',
			key: keys.pq, keyid: 'acme-pq', sig, req: { path, body: undefined } });
		const pathOnly = { components: ['@method', '@authority', '@path'] };
		await expect(pq(pathOnly), 'INSUFFICIENT_COVERAGE', 'neither id nor the query');
		/* no query, so the query rule has nothing to ask: the @query-param requirement alone
		 * refuses it */
		await expect(pq(pathOnly, '/containers/pq/exec'), 'INSUFFICIENT_COVERAGE', 'no query');
		/* the query rule holds here too: a @query-param binds one parameter and leaves the rest
		 * of the query open (?id=42&force=true), so alone it is not enough */
		await expect(pq({ components: ['@method', '@authority', '@path',
			'@query-param;name="id"'] }), 'INSUFFICIENT_COVERAGE', '@query-param alone');
		/* @query binds every parameter: it meets both the rule and the @query-param requirement */
		await expect(pq({ components: ['@method', '@authority', '@path', '@query'] }), 'OK');
		await expect(pq({ components: ['@method', '@authority', '@path', '@query',
			'@query-param;name="id"'] }), 'OK');
		/* sign()'s default covers @query here */
		await expect(pq({}), 'OK');
		await expect({ ...pq({}), path: '/containers/pq/exec?id=43' }, 'BAD_SIGNATURE');
	});

	test('--no-query: acme/pn binds the id parameter only, the rest of the query is open',
		async () => {
			const pn = (sig) => item({ container: 'pn', key: keys.pn, keyid: 'acme-pn', sig,
				req: { path: '/containers/pn/exec?id=42', body: undefined } });
			const idOnly = { components: ['@method', '@authority', '@path',
				'@query-param;name="id"'] };
			await expect(pn(idOnly), 'OK', '@query-param alone');
			await expect({ ...pn(idOnly), path: '/containers/pn/exec?id=43' }, 'BAD_SIGNATURE',
				'id changed');
			/* what --no-query gives up: a parameter added next to the signed one passes */
			await expect({ ...pn(idOnly), path: '/containers/pn/exec?id=42&force=true' }, 'OK',
				'a parameter added');
			/* the scope's requirement still holds */
			await expect(pn({ components: ['@method', '@authority', '@path'] }),
				'INSUFFICIENT_COVERAGE', 'id not covered');
		});

	test('@path leaves the query out: the default policy wants @query when there is one',
		async () => {
			/* RFC 9421 2.2.6: @path is the path alone. A query added to a request signed without
			 * one is refused (issue 10, finding 5): the signature does not cover it */
			await expect({ ...item(), path: '/containers/c1/exec?tty=1' },
				'INSUFFICIENT_COVERAGE', 'a query added');
			await expect({ ...item(), path: '/containers/c1/exec?' }, 'INSUFFICIENT_COVERAGE',
				'an empty query added');
			const q0 = '/containers/c1/exec?tty=0';
			const q1 = '/containers/c1/exec?tty=1';
			/* a signature over @path for a target with a query: refused as sent, and changed */
			const pathOnly = { components: ['@method', '@authority', '@path', 'content-digest'] };
			await expect(item({ sig: pathOnly, req: { path: q0 } }), 'INSUFFICIENT_COVERAGE',
				'@path alone');
			await expect({ ...item({ sig: pathOnly, req: { path: q0 } }), path: q1 },
				'INSUFFICIENT_COVERAGE', '@path alone, the query changed');
			/* one parameter covered is not the query covered */
			await expect(item({ sig: { components: ['@method', '@authority', '@path',
				'@query-param;name=tty', 'content-digest'] }, req: { path: q0 } }),
			'INSUFFICIENT_COVERAGE', '@query-param alone');
			/* @query, or a component that contains it, binds it */
			for (const c of ['@query', '@request-target', '@target-uri']) {
				const sig = { components: ['@method', '@authority', '@path', c, 'content-digest'] };
				await expect(item({ sig, req: { path: q0 } }), 'OK', c);
				await expect({ ...item({ sig, req: { path: q0 } }), path: q1 }, 'BAD_SIGNATURE',
					`${c}: the query changed`);
				await expect({ ...item({ sig, req: { path: q0 } }), path: '/containers/c1/exec' },
					'BAD_SIGNATURE', `${c}: the query removed`);
			}
			/* sign()'s default covers @query when there is a query */
			await expect(item({ req: { path: q0 } }), 'OK', 'default components');
			await expect({ ...item({ req: { path: q0 } }), path: q1 }, 'BAD_SIGNATURE',
				'default components, the query changed');
		});

	test('a policy requiring @query (acme/qq) wants it with or without a query', async () => {
		const qq = (sig, path = '/containers/qq/exec?tty=0') => item({ container: 'qq',
			key: keys.qq, keyid: 'acme-qq', sig, req: { path } });
		const pathOnly = { components: ['@method', '@authority', '@path', 'content-digest'] };
		await expect(qq(pathOnly), 'INSUFFICIENT_COVERAGE', 'with a query');
		await expect(qq(pathOnly, '/containers/qq/exec'), 'INSUFFICIENT_COVERAGE',
			'without a query');
		const withQuery = { components: ['@method', '@authority', '@path', '@query',
			'content-digest'] };
		await expect(qq(withQuery), 'OK');
		await expect({ ...qq(withQuery), path: '/containers/qq/exec?tty=1' }, 'BAD_SIGNATURE');
		/* without a query @query is "?": a query added later changes it */
		await expect(qq(withQuery, '/containers/qq/exec'), 'OK', '@query of no query');
		await expect({ ...qq(withQuery, '/containers/qq/exec'), path: '/containers/qq/exec?x' },
			'BAD_SIGNATURE', 'a query added');
		/* sign()'s default covers @query when there is a query */
		await expect(qq({}), 'OK');
		await expect({ ...qq({}), path: '/containers/qq/exec?tty=1' }, 'BAD_SIGNATURE');
	});

	test('replayed nonce: REPLAY; stale created, past expires: STALE_TIMESTAMP', async () => {
		const it = item();
		await expect(it, 'OK');
		await expect(it, 'REPLAY');
		await expect(item({ sig: { created: now() - 3600 } }), 'STALE_TIMESTAMP');
		await expect(item({ sig: { created: now() + 3600 } }), 'STALE_TIMESTAMP');
		await expect(item({ sig: { expires: now() - 1 } }), 'STALE_TIMESTAMP');
		await expect(item({ sig: { expires: now() + 300, alg: 'hmac-sha256' } }), 'OK');
	});

	test('MALFORMED: wrong alg, no keyid, two signatures and no label, a missing field',
		async () => {
			await expect(item({ sig: { alg: 'hmac-sha512' } }), 'MALFORMED');
			const a = item({ sig: { label: 'a' } });
			const b = item({ sig: { label: 'b', components: ['@method', '@authority', '@path',
				'content-type', 'content-digest'] } });
			const two = { ...a, signatureInput: `${a.signatureInput}, ${b.signatureInput}`,
				signature: `${a.signature}, ${b.signature}` };
			await expect(two, 'MALFORMED', 'two, no label');
			await expect({ ...two, label: 'b' }, 'OK', 'label b');
			await expect({ ...two, label: 'a' }, 'OK', 'label a');
			await expect({ ...two, label: 'c' }, 'MALFORMED', 'no such label');
			const it = item();
			await expect({ ...it, signature: 'sig1=:AAAA:' }, 'MALFORMED', 'short signature');
			await expect({ ...it, signatureInput: it.signatureInput.replace(/;keyid="[^"]*"/, '') },
				'MALFORMED', 'no keyid');
			await expect({ ...it, signatureInput: it.signatureInput.replace('"@path"',
				'"@path" "x-missing"') }, 'MALFORMED', 'covered field absent');
			await expect({ ...it, signatureInput: 'sig1=(' }, 'MALFORMED', 'does not parse');
			await expect({ ...it, uriScheme: 'ftp' }, 'MALFORMED', 'uri_scheme');
			await expect({ ...it, authority: 'a@b' }, 'MALFORMED', 'authority');
		});

	test('uri_scheme http is what @scheme and @target-uri see', async () => {
		const sig = { components: ['@method', '@authority', '@path', '@scheme', '@target-uri'] };
		const req = { scheme: 'http', authority: 'api.example:80', body: undefined };
		await expect(item({ sig, req }), 'OK');
		await expect({ ...item({ sig, req }), uriScheme: undefined }, 'BAD_SIGNATURE');
	});

	test('Content-Digest sha-512 from the signer\'s own header', async () => {
		const headers = [['host', 'api.example'], ['content-digest', contentDigest(BODY, 'sha-512')]];
		const it = item({ req: { headers, body: undefined }, sig: {} });
		it.body = Buffer.from(BODY);
		/* sign() got no body: the default components left content-digest out */
		await expect(it, 'INSUFFICIENT_COVERAGE');
		const sig = { components: ['@method', '@authority', '@path', 'content-digest'] };
		const ok = item({ req: { headers, body: undefined }, sig });
		await expect({ ...ok, body: Buffer.from(BODY) }, 'OK');
		const bad = item({ req: { headers, body: undefined }, sig });
		await expect({ ...bad, body: Buffer.from(`${BODY} `) }, 'BAD_SIGNATURE');
	});

	test('RFC 9421 B.2.5 with the RFC\'s shared secret: OK, byte for byte', async () => {
		const rfc = {
			scheme: 'rfc9421', tenant: 'rfc', container: 'example', method: 'POST',
			authority: 'example.com', path: '/foo?param=Value&Pet=dog', headers: [
				...B2_HEADERS, ['signature-input', B25_INPUT], ['signature', B25_SIGNATURE]],
			signatureInput: B25_INPUT, signature: B25_SIGNATURE,
			body: Buffer.from('{"hello": "world"}'),
		};
		await expect(rfc, 'OK');
		await expect({ ...rfc, label: 'sig-b25' }, 'OK', 'with its label');
		await expect({ ...rfc, body: undefined }, 'OK', 'without the body');
		const date = rfc.headers.map(([n, v]) => [n, n === 'date' ? 'Wed, 21 Apr 2021 02:07:55 GMT' : v]);
		await expect({ ...rfc, headers: date }, 'BAD_SIGNATURE', 'another date');
		/* the same request in another scope with the same policy: the keyid belongs to
		 * rfc/example, so UNKNOWN_KEY (not a word about where it belongs) */
		await expect({ ...rfc, tenant: 'rfc2' }, 'UNKNOWN_KEY');
		/* under the default policy (no --no-age-check) it would be refused: check that the
		 * policy, not luck, let it through */
		await expect({ ...rfc, container: 'other' }, 'INSUFFICIENT_COVERAGE');
		/* and under the B.2.5 policy without --no-query: the query is not covered (the key is
		 * not even looked at, so this scope needs none) */
		await expect({ ...rfc, tenant: 'rfc3' }, 'INSUFFICIENT_COVERAGE', 'query not covered');
	});

	test('a batch mixing both schemes, verdicts in order', async () => {
		const v1 = { tenant: 'acme', container: 'c1', epoch: 1, method: 'GET', path: '/x',
			headers: [], ts: now(), nonce: randomBytes(8).toString('hex') };
		v1.sig = hmacd.signItem(keys.c1, v1);
		const got = await client.verifyBatch([item(), v1, item({ keyid: 'nope' }),
			item({ sig: { nonce: null } })]);
		assert.deepEqual(got.map(name), ['OK', 'OK', 'UNKNOWN_KEY', 'INSUFFICIENT_COVERAGE']);
	});
});
