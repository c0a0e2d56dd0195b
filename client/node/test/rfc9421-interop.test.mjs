/*
 * rfc9421-interop.test.mjs - a *standard* RFC 9421 implementation interoperates with hmacd.
 *
 * The signer here is the npm package http-message-signatures (a devDependency; RFC 9421 final,
 * hmac-sha256 through crypto.createHmac), not this package: requests it signs must verify
 *   - through the real daemon, in verify frames written with @msgpack/msgpack (not wire.js),
 *   - through this package's Client,
 *   - through the Express middleware, as HTTP requests (a Signature-Input request), next to
 *     HMACD-V1 requests signed with the same imported key.
 * Without a daemon, the two builders are compared: the base the library signs must be the base
 * signatureBase() builds from the headers it produced, and signatures made by sign() must pass
 * the library's verifier.
 */
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { decode, encode } from '@msgpack/msgpack';
import express from 'express';
import { createSigner, createVerifier, httpbis } from 'http-message-signatures';

import * as hmacd from 'hmacd';

import { Daemon, SKIP_DAEMON, frame, rawExchange, request, serve } from './helpers.mjs';

const KEY = randomBytes(32);

/*
 * Signs {method, url, headers} with the library; returns the signed headers (an object) and the
 * base the library fed to the HMAC.
 */
async function libSign(msg, { key = KEY, keyid = 'acme-c1', fields, nonce, params, created } = {}) {
	let base;
	const hmac = createSigner(key, 'hmac-sha256', keyid);
	const signer = { ...hmac, sign: (data) => {
		base = data.toString('latin1');
		return hmac.sign(data);
	} };
	const signed = await httpbis.signMessage({
		key: signer,
		fields: fields ?? ['@method', '@authority', '@path', 'content-type'],
		params: params ?? ['created', 'expires', 'keyid', 'alg', 'nonce'],
		paramValues: { nonce: nonce === undefined ? randomBytes(12).toString('hex') : nonce,
			...(created === undefined ? {} : { created }) },
	}, msg);
	return { headers: signed.headers, base };
}

/* RFC 9530 Content-Digest, computed here with node:crypto (independent of lib/rfc9421.js) */
const digest = (body) => `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;

describe('two builders, one base (no daemon)', () => {
	const cases = [
		['POST', 'https://api.example/containers/c1/exec', { 'content-type': 'application/json' },
			['@method', '@authority', '@path', 'content-type']],
		['GET', 'http://127.0.0.1:8080/containers/c1/logs?tail=10&since=a%20b',
			{ 'x-tenant': 'acme', accept: ['text/plain', '*/*'] },
			['@method', '@target-uri', '@authority', '@scheme', '@request-target', '@path',
				'@query', '@query-param;name="tail"', '@query-param;name="since"', 'x-tenant',
				'accept', 'accept;bs']],
		/* a URL object: the library takes a string's @target-uri verbatim (upper-case host,
		 * default port), where RFC 9110 4.2.3 and hmacd normalise; URL.toString() normalises */
		['PUT', new URL('https://API.Example:443/a/b'), { priority: 'u=1, i', 'x-dict': 'a=1, b=(x y);p' },
			['@authority', '@target-uri', 'priority;sf', 'priority;key="u"', 'x-dict;key="b"']],
	];

	for (const [method, url, headers, fields] of cases) {
		test(`${method} ${url}`, async () => {
			const { headers: signed, base } = await libSign({ method, url, headers }, { fields });
			const ours = hmacd.rfc9421.signatureBase({ method, url, headers: signed },
				signed['Signature-Input']);
			assert.equal(ours, base);
		});
	}

	test('sign() output passes the library\'s verifier', async () => {
		const msg = { method: 'POST', url: 'http://127.0.0.1:8080/containers/c1/exec?tty=1',
			headers: { 'content-type': 'application/json', 'x-tenant': 'acme' } };
		const h = hmacd.rfc9421.sign({ ...msg, key: KEY, keyid: 'acme-c1', alg: 'hmac-sha256',
			components: ['@method', '@target-uri', '@authority', '@path', '@query',
				'@query-param;name=tty', 'content-type', 'x-tenant'] });
		const verifier = createVerifier(KEY, 'hmac-sha256');
		const keyLookup = async (p) => (p.keyid === 'acme-c1' ?
			{ id: 'acme-c1', algs: ['hmac-sha256'], verify: verifier } : null);
		const headers = { ...msg.headers, ...h };
		assert.equal(await httpbis.verifyMessage({ keyLookup }, { ...msg, headers }), true);
		assert.equal(await httpbis.verifyMessage({ keyLookup },
			{ ...msg, method: 'PUT', headers }), false);
	});
});

describe('requests signed by http-message-signatures, verified by hmacd', { skip: SKIP_DAEMON },
	() => {
		let d, client, srv, port;
		const logs = [];
		const EVIL = randomBytes(32);

		before(async () => {
			d = await new Daemon().start();
			await d.importKey('acme', 'c1', 'acme-c1', KEY);
			await d.importKey('evil', 'c1', 'evil-c1', EVIL);
			client = new hmacd.Client({ socket: d.socket, timeoutMs: 5000 });
			const app = express();
			const verify = hmacd.express({ client, uriScheme: 'http', log: (e) => logs.push(e) });
			app.post('/containers/:id/exec', verify, (req, res) => {
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

		/* A signed request to 127.0.0.1:port, as {method, path, headers (object), body}; body
		 * null for none. */
		async function libRequest({ container = 'c1', path, body = '{"cmd":["ls"]}', opts = {},
			headers = {} } = {}) {
			const p = path ?? `/containers/${container}/exec`;
			const url = `http://127.0.0.1:${port}${p}`;
			const h = { host: `127.0.0.1:${port}`, 'content-type': 'application/json',
				'x-tenant': 'acme', ...headers };
			if (body !== null)
				h['content-digest'] = digest(body);
			const fields = opts.fields ?? ['@method', '@authority', '@path', 'content-type',
				'x-tenant', ...(body !== null ? ['content-digest'] : [])];
			const { headers: signed } = await libSign({ method: 'POST', url, headers: h },
				{ ...opts, fields });
			return { method: 'POST', path: p, headers: signed, body: body ?? undefined };
		}

		/* The rfc9421 item of such a request, built here field by field. */
		function itemOf(r, { tenant = 'acme', container = 'c1' } = {}) {
			return {
				scheme: 'rfc9421', tenant, container, method: r.method,
				authority: r.headers.host, path: r.path, uri_scheme: 'http',
				headers: Object.entries(r.headers).map(([n, v]) => [n.toLowerCase(), v]),
				signature_input: r.headers['Signature-Input'], signature: r.headers.Signature,
				...(r.body === undefined ? {} : { body: Buffer.from(r.body) }),
			};
		}

		/* What hmacd answers for these items, in one raw frame encoded by @msgpack/msgpack. */
		async function rawVerdicts(items) {
			const payload = Buffer.from(encode({ id: 7, op: 'verify', items }));
			const answer = decode(await rawExchange(d.socket, frame(payload)));
			assert.equal(answer.id, 7, JSON.stringify(answer));
			return answer.results;
		}

		/* The Client's field names for an itemOf() object. */
		const clientItem = ({ uri_scheme: uriScheme, signature_input: signatureInput, ...rest }) =>
			({ ...rest, uriScheme, signatureInput });

		const pairs = (headers) => Object.entries(headers);

		test('through the real daemon (a raw frame): OK, and each tampering refused', async () => {
			const ok = itemOf(await libRequest());
			const replay = itemOf(await libRequest());
			const tampered = itemOf(await libRequest());
			tampered.path = '/containers/c1/exec2';
			const other = itemOf(await libRequest({ opts: { key: EVIL, keyid: 'evil-c1' } }));
			const thin = itemOf(await libRequest({ opts: { fields: ['@method', '@authority',
				'content-digest'] } }));
			/* a query added to a request signed without one: @query is not covered */
			const query = itemOf(await libRequest());
			query.path = '/containers/c1/exec?force=true';
			const got = await rawVerdicts([ok, replay, replay, tampered, other, thin, query]);
			assert.deepEqual(got.map(hmacd.verdictName), ['OK', 'OK', 'REPLAY', 'BAD_SIGNATURE',
				'UNKNOWN_KEY', 'INSUFFICIENT_COVERAGE', 'INSUFFICIENT_COVERAGE']);
		});

		test('through the Client', async () => {
			const r = await libRequest();
			assert.equal(await client.verify(clientItem(itemOf(r))), hmacd.Verdict.OK);
			assert.equal(await client.verify(clientItem(itemOf(r))), hmacd.Verdict.REPLAY);
			const m = clientItem(itemOf(await libRequest()));
			assert.equal(await client.verify({ ...m, method: 'PUT' }), hmacd.Verdict.BAD_SIGNATURE);
			const b = clientItem(itemOf(await libRequest()));
			assert.equal(await client.verify({ ...b, body: Buffer.from('{"cmd":["rm"]}') }),
				hmacd.Verdict.BAD_SIGNATURE);
			/* a query: covered with @query it verifies, and binds the whole query */
			const path = '/containers/c1/exec?tail=5';
			const withQuery = { fields: ['@method', '@authority', '@path', '@query',
				'@query-param;name="tail"'] };
			const g = await libRequest({ body: null, opts: withQuery, path });
			assert.equal(await client.verify(clientItem(itemOf(g))), hmacd.Verdict.OK);
			const g2 = clientItem(itemOf(await libRequest({ body: null, opts: withQuery, path })));
			assert.equal(await client.verify({ ...g2, path: `${path}&force=true` }),
				hmacd.Verdict.BAD_SIGNATURE);
			/* a @query-param alone leaves the rest of the query open: the default policy
			 * refuses it as it stands */
			const p = await libRequest({ body: null, path, opts: { fields: ['@method',
				'@authority', '@path', '@query-param;name="tail"'] } });
			assert.equal(await client.verify(clientItem(itemOf(p))),
				hmacd.Verdict.INSUFFICIENT_COVERAGE);
		});

		describe('through the Express middleware', () => {
			async function expect401(r, reason) {
				logs.length = 0;
				const res = await request(port, { ...r, headers: pairs(r.headers) });
				assert.equal(res.status, 401, res.body);
				assert.equal(res.body, '{"error":"unauthorized"}');
				assert.equal(logs.at(-1)?.reason, reason);
			}

			test('a signed request passes; the handler sees scope, keyid and body', async () => {
				const r = await libRequest();
				const res = await request(port, { ...r, headers: pairs(r.headers) });
				assert.equal(res.status, 200, res.body);
				const j = JSON.parse(res.body);
				assert.equal(j.scheme, 'rfc9421');
				assert.equal(j.tenant, 'acme');
				assert.equal(j.container, 'c1');
				assert.equal(j.keyid, 'acme-c1');
				assert.equal(j.body, '{"cmd":["ls"]}');
				/* sent again: its nonce was seen */
				await expect401(r, 'REPLAY');
			});

			test('tampered path, body, header; another scope; thin coverage: 401', async () => {
				const c1 = await libRequest();
				await expect401({ ...c1, path: '/containers/c2/exec' }, 'UNKNOWN_KEY');
				/* the route still matches (Express decodes :id to c1); the raw path differs */
				const q = await libRequest();
				await expect401({ ...q, path: '/containers/c%31/exec' }, 'BAD_SIGNATURE');
				const b = await libRequest();
				await expect401({ ...b, body: '{"cmd":["rm"]}' }, 'BAD_SIGNATURE');
				const h = await libRequest();
				await expect401({ ...h, headers: { ...h.headers, 'content-type': 'text/json' } },
					'BAD_SIGNATURE');
				/* the signer claims tenant evil: its own key, and X-Tenant says acme */
				const e = await libRequest({ opts: { key: EVIL, keyid: 'evil-c1' } });
				await expect401(e, 'UNKNOWN_KEY');
				/* or both say evil: the key is evil's, but this container's key is acme's */
				const e2 = await libRequest({ headers: { 'x-tenant': 'evil' },
					opts: { key: EVIL, keyid: 'evil-c1' } });
				const ok = await request(port, { ...e2, headers: pairs(e2.headers) });
				assert.equal(ok.status, 200, 'evil/c1 is evil\'s own scope');
				const thin = await libRequest({ opts: { fields: ['@method', '@authority',
					'content-digest'] } });
				await expect401(thin, 'INSUFFICIENT_COVERAGE');
				const nodigest = await libRequest({ opts: { fields: ['@method', '@authority',
					'@path'] } });
				await expect401(nodigest, 'INSUFFICIENT_COVERAGE');
			});

			test('a query: covered by @query, 200; added, changed, one parameter only: 401',
				async () => {
					const path = '/containers/c1/exec?tty=1';
					const fields = ['@method', '@authority', '@path', '@query', 'content-type',
						'x-tenant', 'content-digest'];
					const r = await libRequest({ path, opts: { fields } });
					const res = await request(port, { ...r, headers: pairs(r.headers) });
					assert.equal(res.status, 200, res.body);
					const changed = await libRequest({ path, opts: { fields } });
					await expect401({ ...changed, path: '/containers/c1/exec?tty=0' },
						'BAD_SIGNATURE');
					/* the library's usual fields, no query signed: ?force=true added in transit */
					const plain = await libRequest();
					await expect401({ ...plain, path: '/containers/c1/exec?force=true' },
						'INSUFFICIENT_COVERAGE');
					const param = await libRequest({ path, opts: { fields: ['@method',
						'@authority', '@path', '@query-param;name="tty"', 'content-type',
						'x-tenant', 'content-digest'] } });
					await expect401(param, 'INSUFFICIENT_COVERAGE');
				});

			test('tenant missing, both schemes, no Signature field: 401 before hmacd', async () => {
				const before = (await client.stats()).items;
				const r = await libRequest();
				const { 'x-tenant': _t, ...noTenant } = r.headers;
				await expect401({ ...r, headers: noTenant }, 'NO_TENANT');
				await expect401({ ...r, headers: { ...r.headers, 'x-tenant': 'a b' } }, 'NO_TENANT');
				await expect401({ ...r, headers: { ...r.headers,
					authorization: 'HMACD-V1 Tenant=acme, Epoch=1, Timestamp=1, Signature=x' } },
				'AMBIGUOUS_SCHEME');
				const { Signature: _s, ...noSig } = r.headers;
				await expect401({ ...r, headers: noSig }, 'NO_SIGNATURE');
				assert.equal((await client.stats()).items, before, 'nothing was sent to hmacd');
				/* the request itself was fine */
				const res = await request(port, { ...r, headers: pairs(r.headers) });
				assert.equal(res.status, 200, res.body);
			});

			test('an Authorization of another scheme is just a covered header', async () => {
				const r = await libRequest({ headers: { authorization: 'Bearer t0k3n' },
					opts: { fields: ['@method', '@authority', '@path', 'authorization',
						'content-digest'] } });
				const res = await request(port, { ...r, headers: pairs(r.headers) });
				assert.equal(res.status, 200, res.body);
			});

			test('HMACD-V1 requests still pass, with the same imported key', async () => {
				const path = '/containers/c1/exec';
				const body = '{"cmd":["ls"]}';
				const headers = [['Host', `127.0.0.1:${port}`], ['Content-Type', 'application/json']];
				const authorization = hmacd.signRequest({ secret: KEY, tenant: 'acme',
					container: 'c1', epoch: 1, method: 'POST', path, headers, body });
				const res = await request(port, { method: 'POST', path, body,
					headers: [...headers, ['Authorization', authorization]] });
				assert.equal(res.status, 200, res.body);
				assert.equal(JSON.parse(res.body).scheme, 'hmacd-v1');
			});

			test('our own signer through the middleware', async () => {
				const path = '/containers/c1/exec';
				const body = '{"cmd":["id"]}';
				const headers = [['Host', `127.0.0.1:${port}`], ['X-Tenant', 'acme'],
					['Content-Type', 'application/json']];
				const h = hmacd.rfc9421.sign({ method: 'POST', scheme: 'http', path, headers, body,
					key: KEY, keyid: 'acme-c1', components: ['@method', '@authority', '@path',
						'@scheme', 'x-tenant', 'content-digest'] });
				const res = await request(port, { method: 'POST', path, body,
					headers: [...headers, ...Object.entries(h)] });
				assert.equal(res.status, 200, res.body);
			});
		});
	});
