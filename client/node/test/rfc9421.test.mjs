/*
 * rfc9421.test.mjs - the RFC 9421 signer (lib/rfc9421.js) and its RFC 8941 layer (lib/sfv.js),
 * without a daemon.
 *
 * The anchor is RFC 9421 Appendix B.2.5 (hmac-sha256, key "test-shared-secret"): request, base
 * and signature are those of tests/unit/test_sigbase.c, which checks proto/sigbase.c against the
 * same text, so the two builders are held to the same bytes. B.2.6 and B.4 (Ed25519, the RFC's
 * public key) prove @method, @path, content-length and repeated fields. The expected lines of the
 * derived components and field forms are those of test_sigbase.c too.
 */
import assert from 'node:assert/strict';
import { createHmac, createPublicKey, verify } from 'node:crypto';
import { describe, test } from 'node:test';

import * as hmacd from 'hmacd';

const { sign, signatureBase, contentDigest, parseComponent } = hmacd.rfc9421;
const { parse, serialize } = hmacd.sfv;

/* ---- RFC 9421 B.2 (the test request) and B.2.5 ---- */

const B2_URL = 'https://example.com/foo?param=Value&Pet=dog';
const B2_HEADERS = [
	['Host', 'example.com'],
	['Date', 'Tue, 20 Apr 2021 02:07:55 GMT'],
	['Content-Type', 'application/json'],
	['Content-Digest', 'sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiY' +
		'llu7BNNyealdVLvRwEmTHWXvJwew==:'],
	['Content-Length', '18'],
];
const B2_BODY = '{"hello": "world"}';
const B25_INPUT = 'sig-b25=("date" "@authority" "content-type")' +
	';created=1618884473;keyid="test-shared-secret"';
const B25_SIGNATURE = 'sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:';
/* the RFC wraps its last line per RFC 8792 */
const B25_BASE =
	'"date": Tue, 20 Apr 2021 02:07:55 GMT\n' +
	'"@authority": example.com\n' +
	'"content-type": application/json\n' +
	'"@signature-params": ("date" "@authority" "content-type")' +
	';created=1618884473;keyid="test-shared-secret"';
const SHARED_SECRET_B64 =
	'uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ==';

const b2 = () => ({ method: 'POST', url: B2_URL, headers: B2_HEADERS });

/* A base with one covered component: its line must be exactly `line`. */
function expectLine(req, component, line) {
	assert.equal(signatureBase(req, `s=(${component})`),
		`${line}\n"@signature-params": (${component})`, component);
}

function expectFail(req, input, re) {
	assert.throws(() => signatureBase(req, input), (err) => {
		assert.equal(err.code, 'HMACD_EMALFORMED', `${input}: ${err.message}`);
		if (re)
			assert.match(err.message, re, input);
		return true;
	}, input);
}

describe('RFC 9421 Appendix B.2.5 (hmac-sha256), byte for byte', () => {
	test('sign() gives the RFC\'s Signature-Input and Signature', () => {
		const h = sign({
			...b2(), key: SHARED_SECRET_B64, keyid: 'test-shared-secret',
			components: ['date', '@authority', 'content-type'], created: 1618884473,
			nonce: null, label: 'sig-b25',
		});
		assert.deepEqual(h, { 'Signature-Input': B25_INPUT, Signature: B25_SIGNATURE });
	});

	test('the same from authority and path, raw key bytes, headers as an object', () => {
		const headers = Object.fromEntries(B2_HEADERS);
		const h = sign({
			method: 'POST', authority: 'example.com', path: '/foo?param=Value&Pet=dog',
			headers, key: Buffer.from(SHARED_SECRET_B64, 'base64'), keyid: 'test-shared-secret',
			components: ['"date"', '"@authority"', '"content-type"'],
			created: new Date(1618884473 * 1000), nonce: null, label: 'sig-b25',
		});
		assert.equal(h.Signature, B25_SIGNATURE);
		assert.equal(h['Signature-Input'], B25_INPUT);
	});

	test('the base of the RFC\'s Signature-Input, and its HMAC', () => {
		const base = signatureBase(b2(), B25_INPUT);
		assert.equal(base, B25_BASE);
		assert.equal(signatureBase(b2(), B25_INPUT, { label: 'sig-b25' }), B25_BASE);
		const mac = createHmac('sha256', Buffer.from(SHARED_SECRET_B64, 'base64'))
			.update(base).digest('base64');
		assert.equal(`sig-b25=:${mac}:`, B25_SIGNATURE);
	});

	test('Content-Digest of the B.2 body (RFC 9421 B.2, RFC 9530 examples)', () => {
		assert.equal(contentDigest(B2_BODY, 'sha-512'), B2_HEADERS[3][1]);
		assert.equal(contentDigest(B2_BODY), 'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:');
		assert.equal(contentDigest(Buffer.from(B2_BODY)), contentDigest(B2_BODY));
	});
});

describe('RFC 9421 B.2.6 and B.4 (Ed25519): our base under the RFC\'s signatures', () => {
	/* test-key-ed25519 (RFC 9421 B.1.4), the public half */
	const pub = createPublicKey({
		key: {
			kty: 'OKP', crv: 'Ed25519',
			x: Buffer.from('26b40b8f93fff3d897112f7ebc582b232dbd72517d082fe83cfb30ddce43d1bb', 'hex')
				.toString('base64url'),
		},
		format: 'jwk',
	});
	const ok = (req, input, sig) =>
		assert.ok(verify(null, Buffer.from(signatureBase(req, input), 'latin1'), pub,
			Buffer.from(sig, 'base64')), input);

	test('B.2.6: date @method @path @authority content-type content-length', () => {
		ok(b2(), 'sig-b26=("date" "@method" "@path" "@authority" "content-type" ' +
			'"content-length");created=1618884473;keyid="test-key-ed25519"',
		'wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==');
	});

	test('B.4: two accept fields joined', () => {
		ok({
			method: 'GET', url: 'https://example.org/demo?name1=Value1&Name2=value2',
			headers: [['Host', 'example.org'], ['Date', 'Fri, 15 Jul 2022 14:24:55 GMT'],
				['Accept', 'application/json'], ['Accept', '*/*']],
		}, 'transform=("@method" "@path" "@authority" "accept");created=1618884473;' +
			'keyid="test-key-ed25519"',
		'ZT1kooQsEHpZ0I1IjCqtQppOmIqlJPeo7DHR3SoMn0s5JZ1eRGS0A+vyYP9t/LXlh5QMFFQ6cpLt2m0pmj3NDA==');
	});
});

describe('derived components (the lines of test_sigbase.c)', () => {
	test('each one on the B.2 request', () => {
		const r = b2();
		expectLine(r, '"@method"', '"@method": POST');
		expectLine(r, '"@target-uri"', '"@target-uri": https://example.com/foo?param=Value&Pet=dog');
		expectLine(r, '"@authority"', '"@authority": example.com');
		expectLine(r, '"@scheme"', '"@scheme": https');
		expectLine(r, '"@request-target"', '"@request-target": /foo?param=Value&Pet=dog');
		expectLine(r, '"@path"', '"@path": /foo');
		expectLine(r, '"@query"', '"@query": ?param=Value&Pet=dog');
		expectLine(r, '"@query-param";name="Pet"', '"@query-param";name="Pet": dog');
		expectLine(r, '"@query-param";name="param"', '"@query-param";name="param": Value');
	});

	test('method case kept; scheme default https; @authority normalised', () => {
		const r = { method: 'get', authority: 'example.com', path: '/foo?param=Value&Pet=dog',
			headers: [] };
		expectLine(r, '"@method"', '"@method": get');
		expectLine(r, '"@scheme"', '"@scheme": https');
		expectLine({ ...r, scheme: 'HTTP' }, '"@scheme"', '"@scheme": http');
		const http = { ...r, scheme: 'http', authority: 'Example.COM:80' };
		expectLine(http, '"@authority"', '"@authority": example.com');
		expectLine(http, '"@target-uri"', '"@target-uri": http://example.com/foo?param=Value&Pet=dog');
		expectLine({ ...http, authority: 'example.com:443' }, '"@authority"',
			'"@authority": example.com:443');
		for (const [a, want] of [['example.com:443', 'example.com'], ['example.com:', 'example.com'],
			['example.com:8443', 'example.com:8443'], ['[::1]:443', '[::1]'], ['[::1]', '[::1]']])
			expectLine({ ...r, authority: a }, '"@authority"', `"@authority": ${want}`);
		/* the URL form: WHATWG already drops the default port */
		expectLine({ method: 'GET', url: 'http://127.0.0.1:8080/x' }, '"@authority"',
			'"@authority": 127.0.0.1:8080');
	});

	test('@query and @path: no query, empty query, kept encoded', () => {
		const r = { method: 'GET', authority: 'example.com', path: '/a%2Fb/c', headers: [] };
		expectLine(r, '"@query"', '"@query": ?');
		expectLine(r, '"@path"', '"@path": /a%2Fb/c');
		expectLine({ ...r, path: '/x?' }, '"@query"', '"@query": ?');
		expectLine({ ...r, path: '/x?' }, '"@path"', '"@path": /x');
	});

	test('@query-param: RFC 9421 2.2.8 and the decoding corners', () => {
		const r = (path) => ({ method: 'GET', authority: 'example.com', path, headers: [] });
		const q = r('/parameters?var=this%20is%20a%20big%0Avalue&bar=with+plus+whitespace' +
			'&fa%C3%A7ade%22%3A%20=something');
		expectLine(q, '"@query-param";name="var"',
			'"@query-param";name="var": this%20is%20a%20big%0Avalue');
		expectLine(q, '"@query-param";name="bar"',
			'"@query-param";name="bar": with%20plus%20whitespace');
		expectLine(q, '"@query-param";name="fa%C3%A7ade%22%3A%20"',
			'"@query-param";name="fa%C3%A7ade%22%3A%20": something');
		const c = r("/p?&a=&b&&c=x%2a%7e-._!'()~%zz%4");
		expectLine(c, '"@query-param";name="a"', '"@query-param";name="a": ');
		expectLine(c, '"@query-param";name="b"', '"@query-param";name="b": ');
		expectLine(c, '"@query-param";name="c"',
			'"@query-param";name="c": x*%7E-._%21%27%28%29%7E%25zz%254');
		expectLine(r('/p?k=a=b'), '"@query-param";name="k"', '"@query-param";name="k": a%3Db');
		expectLine(r('/p?a=1&A=2'), '"@query-param";name="a"', '"@query-param";name="a": 1');
		expectLine(r('/p?a=%F0%9F%98%80'), '"@query-param";name="a"',
			'"@query-param";name="a": %F0%9F%98%80');
		expectFail(r('/p?a=1&a=2'), 's=("@query-param";name="a")', /more than once/);
		expectFail(r('/p?a=1'), 's=("@query-param";name="b")', /not in the query/);
		expectFail(r('/p?a=1'), 's=("@query-param";name="a%3D")', /not in the query/);
		expectFail(r('/p'), 's=("@query-param";name="a")', /not in the query/);
		expectFail(r('/p?a=%FF'), 's=("@query-param";name="a")', /UTF-8/);
		expectFail(r('/p?a=%C3%A7%ED%A0%80'), 's=("@query-param";name="a")', /UTF-8/);
		expectFail(r('/p?a=1'), 's=("@query-param")');
		expectFail(r('/p?a=1'), 's=("@query-param";name=a)');
	});
});

describe('fields', () => {
	const r = {
		method: 'GET', authority: 'example.com', path: '/',
		headers: [
			['accept', '  application/json \t'],
			['x-empty', ''],
			['Accept', '*/*'],
			['example-header', 'value, with, lots'],
			['example-header', 'of, commas'],
			['example-dict', ' a=1, b=2;x=1;y=2, c=(a   b    c), d'],
			['signature-input', 'a=( "x"  "y" );created=1'],
			['priority', 'u=1'],
			['priority', ' i , u=2'],
		],
	};

	test('plain, ;bs, ;key, ;sf (the lines of test_sigbase.c)', () => {
		expectLine(r, '"accept"', '"accept": application/json, */*');
		expectLine(r, '"x-empty"', '"x-empty": ');
		expectLine(r, '"example-header"', '"example-header": value, with, lots, of, commas');
		expectLine(r, '"example-header";bs',
			'"example-header";bs: :dmFsdWUsIHdpdGgsIGxvdHM=:, :b2YsIGNvbW1hcw==:');
		expectLine(r, '"x-empty";bs', '"x-empty";bs: ::');
		expectLine(r, '"example-dict";key="a"', '"example-dict";key="a": 1');
		expectLine(r, '"example-dict";key="d"', '"example-dict";key="d": ?1');
		expectLine(r, '"example-dict";key="b"', '"example-dict";key="b": 2;x=1;y=2');
		expectLine(r, '"example-dict";key="c"', '"example-dict";key="c": (a b c)');
		expectLine(r, '"signature-input";sf', '"signature-input";sf: a=("x" "y");created=1');
		expectLine(r, '"priority";sf', '"priority";sf: u=2, i');
		expectLine(r, '"priority";key="u"', '"priority";key="u": 2');
		expectLine(r, '"priority";key="i"', '"priority";key="i": ?1');
		assert.equal(signatureBase(r, 's=("accept" "accept";bs)'),
			'"accept": application/json, */*\n' +
			'"accept";bs: :YXBwbGljYXRpb24vanNvbg==:, :Ki8q:\n' +
			'"@signature-params": ("accept" "accept";bs)');
	});

	test('refused as test_sigbase.c refuses them', () => {
		for (const input of ['s=("example-dict";sf)', 's=("example-dict";key="z")',
			's=("accept";key="a")', 's=("example-header";key="a")',
			's=("example-dict";key="a";bs)', 's=("signature-input";sf;bs)', 's=("x-missing")',
			's=("x-missing";bs)', 's=("content-digest";sf)', 's=("accept";name="a")',
			's=("accept";req)', 's=("accept";tr)', 's=("accept";sf=?0)', 's=("accept";key=a)',
			's=("Accept")', 's=("acc ept")', 's=(accept)', 's=("")',
			's=("@method" "@method")', 's=("date" "@path" "date")', 's=("@foo")', 's=("@Method")',
			's=("@status")', 's=("@signature-params")', 's=("@method";sf)', 's=("@method";bs)',
			's=("@path";name="x")', 's=("@method");created="1"', 's=("@method");keyid=k',
			's=("@method");nonce=1', 's="@method"', 'a=("@method"), b=("@path")', ''])
			expectFail({ ...r, url: B2_URL }, input);
		/* an empty inner list is legal: the base is the parameters line alone */
		assert.equal(signatureBase(b2(), 's=();created=1;alg="hmac-sha256";x=?0'),
			'"@signature-params": ();created=1;alg="hmac-sha256";x=?0');
		assert.equal(signatureBase(b2(), 'a=("@method"), b=("@path")', { label: 'b' }),
			'"@path": /foo\n"@signature-params": ("@path")');
	});
});

describe('sign()', () => {
	const key = Buffer.alloc(32, 7);

	function roundTrip(opts, h) {
		const req = { ...opts,
			headers: [...hmacd.rfc9421.headerPairs(opts.headers), ...Object.entries(h)] };
		const base = signatureBase(req, h['Signature-Input']);
		const mac = createHmac('sha256', key).update(Buffer.from(base, 'latin1')).digest('base64');
		assert.equal(h.Signature, `${h['Signature-Input'].split('=')[0]}=:${mac}:`);
		return base;
	}

	test('defaults: @method @authority @path, created now, a nonce, label sig1', () => {
		const opts = { method: 'GET', url: 'https://api.example/containers/c1/logs',
			key, keyid: 'k1' };
		const before = Math.floor(Date.now() / 1000);
		const h = sign(opts);
		assert.deepEqual(Object.keys(h), ['Signature-Input', 'Signature']);
		const m = /^sig1=\("@method" "@authority" "@path"\);created=(\d+);nonce="([0-9a-f]{32})";keyid="k1"$/
			.exec(h['Signature-Input']);
		assert.ok(m, h['Signature-Input']);
		assert.ok(Number(m[1]) >= before && Number(m[1]) <= before + 2);
		assert.notEqual(sign(opts)['Signature-Input'], h['Signature-Input'], 'a fresh nonce');
		assert.equal(roundTrip(opts, h).split('\n').slice(0, 3).join('\n'),
			'"@method": GET\n"@authority": api.example\n"@path": /containers/c1/logs');
	});

	test('a query: @query covered after @path by default; a list given is kept', () => {
		const opts = { method: 'POST', url: 'https://api.example/containers/c1/exec?force=true',
			key, keyid: 'k1', created: 1700000000, nonce: 'n-1' };
		const h = sign(opts);
		assert.equal(h['Signature-Input'], 'sig1=("@method" "@authority" "@path" "@query")' +
			';created=1700000000;nonce="n-1";keyid="k1"');
		assert.equal(roundTrip(opts, h).split('\n').slice(2, 4).join('\n'),
			'"@path": /containers/c1/exec\n"@query": ?force=true');
		/* with a body, content-digest comes after it; '?' alone is a query too */
		assert.match(sign({ ...opts, body: '{}' })['Signature-Input'],
			/^sig1=\("@method" "@authority" "@path" "@query" "content-digest"\);/);
		assert.match(sign({ ...opts, url: undefined, authority: 'api.example', path: '/x?' })[
			'Signature-Input'], /^sig1=\("@method" "@authority" "@path" "@query"\);/);
		/* no query, no @query */
		assert.match(sign({ ...opts, url: 'https://api.example/containers/c1/exec' })[
			'Signature-Input'], /^sig1=\("@method" "@authority" "@path"\);/);
		/* explicit components are what the caller asked for, nothing added */
		assert.match(sign({ ...opts, components: ['@method', '@path'] })['Signature-Input'],
			/^sig1=\("@method" "@path"\);/);
	});

	test('a body: content-digest covered, Content-Digest returned (sha-256)', () => {
		const opts = { method: 'POST', url: 'https://api.example/containers/c1/exec',
			headers: { 'Content-Type': 'application/json', 'Content-Digest': 'sha-256=:AAAA:' },
			body: '{"cmd":["ls"]}', key, keyid: 'k1', created: 1700000000, nonce: 'n-1',
			alg: 'hmac-sha256', tag: 'hmacd', expires: 1700000300 };
		const h = sign(opts);
		assert.equal(h['Signature-Input'], 'sig1=("@method" "@authority" "@path" ' +
			'"content-digest");created=1700000000;expires=1700000300;nonce="n-1";' +
			'alg="hmac-sha256";keyid="k1";tag="hmacd"');
		assert.equal(h['Content-Digest'], contentDigest('{"cmd":["ls"]}'));
		/* the signature covers the returned Content-Digest, not the one in headers */
		const base = roundTrip({ ...opts, headers: { 'Content-Type': 'application/json' } }, h);
		assert.match(base, /^"content-digest": sha-256=:[^:]+:$/m);
		/* an empty body adds nothing by default */
		assert.deepEqual(Object.keys(sign({ ...opts, body: '' })), ['Signature-Input', 'Signature']);
	});

	test('components as an admin writes them', () => {
		const opts = { method: 'POST', url: 'http://h.example:8080/c/x?id=c1&x=1',
			headers: [['X-Tenant', 'acme'], ['Priority', 'u=1, i']], key, keyid: 'k',
			created: null, nonce: null,
			components: ['@method', '@target-uri', '@scheme', '@request-target', '@query',
				'@query-param;name=id', 'x-tenant', 'priority;sf', 'priority;key=u', 'x-tenant;bs'] };
		const h = sign(opts);
		assert.equal(h['Signature-Input'], 'sig1=("@method" "@target-uri" "@scheme" ' +
			'"@request-target" "@query" "@query-param";name="id" "x-tenant" "priority";sf ' +
			'"priority";key="u" "x-tenant";bs);keyid="k"');
		assert.equal(roundTrip(opts, h), [
			'"@method": POST', '"@target-uri": http://h.example:8080/c/x?id=c1&x=1',
			'"@scheme": http', '"@request-target": /c/x?id=c1&x=1', '"@query": ?id=c1&x=1',
			'"@query-param";name="id": c1', '"x-tenant": acme', '"priority";sf: u=1, i',
			'"priority";key="u": 1', '"x-tenant";bs: :YWNtZQ==:',
			`"@signature-params": ${h['Signature-Input'].slice(5)}`].join('\n'));
		assert.deepEqual(parseComponent('@query-param;name="id"'), parseComponent('@query-param;name=id'));
	});

	test('what cannot be signed is refused before signing', () => {
		const base = { method: 'GET', url: 'https://a.example/', key, keyid: 'k' };
		const bad = [
			[{ components: ['x-missing'] }, /not in the request/],
			[{ components: ['@method', '@method'] }, /twice/],
			[{ components: ['@status'] }, /response/],
			[{ components: ['@foo'] }, /unknown derived/],
			[{ components: ['Accept'] }, /lower-case/],
			[{ components: ['x-a;sf'], headers: { 'x-a': '1' } }, /unknown structured type/],
			[{ method: 'G T' }, /method/],
			[{ url: undefined, authority: 'a.example/x', path: '/' }, /authority/],
			[{ url: undefined, authority: 'a.example', path: 'x' }, /path/],
			[{ headers: { 'x-a': 'a\nb' } }, /control byte/],
		];
		for (const [o, re] of bad)
			assert.throws(() => sign({ ...base, ...o }), re, JSON.stringify(o));
		assert.throws(() => sign({ ...base, label: 'Sig' }), TypeError);
		assert.throws(() => sign({ ...base, keyid: undefined }), TypeError);
		assert.throws(() => sign({ ...base, key: Buffer.alloc(8) }), /16 to 64/);
		assert.throws(() => sign({ ...base, nonce: 'é' }), TypeError);
	});
});

describe('RFC 8941 (sfv.js)', () => {
	test('round trips to the canonical serialization', () => {
		const cases = [
			['dictionary', 'a=1,b=2;x=?0 , c', 'a=1, b=2;x=?0, c'],
			['dictionary', 'a=(1 2);p="q\\"", b=:aGk=:', 'a=(1 2);p="q\\"", b=:aGk=:'],
			['dictionary', 'a=1.50, b=-0.001, c=tok/en:x', 'a=1.5, b=-0.001, c=tok/en:x'],
			['dictionary', 'a=1, b=2, a=3', 'a=3, b=2'],
			['dictionary', 'k=:aGk:', 'k=:aGk=:'],
			['list', '(  "a"   b );q=1, ?1', '("a" b);q=1, ?1'],
			['list', '', ''],
			['item', '  *tok;a;b=?0  ', '*tok;a;b=?0'],
		];
		for (const [kind, input, want] of cases)
			assert.equal(serialize(parse(input, kind), kind), want, input);
		assert.equal(serialize(parse(['u=1', ' i , u=2'], 'dictionary'), 'dictionary'), 'u=2, i');
		assert.equal(serialize(parse(['a', 'b, c'], 'list'), 'list'), 'a, b, c');
	});

	test('refuses what RFC 8941 refuses', () => {
		const cases = [
			['dictionary', 'a=1,'], ['dictionary', 'A=1'], ['dictionary', 'a=1 b=2'],
			['dictionary', 'a="\\x"'], ['dictionary', 'a="é"'], ['dictionary', 'a=:aGl=:'],
			['dictionary', 'a=:a:'], ['dictionary', 'a=1234567890123456'],
			['dictionary', 'a=1.2345'], ['dictionary', 'a=1234567890123.1'], ['dictionary', 'a=1.'],
			['dictionary', 'a=?2'], ['list', '(a b'], ['list', '(a,b)'], ['item', ''],
			['item', 'a, b'], ['dictionary', ['a=1', '']], ['dictionary', ['', 'a=1']],
			['dictionary', ['a="x', 'y"']], ['item', ['a', 'b']],
		];
		for (const [kind, input] of cases)
			assert.throws(() => parse(input, kind), hmacd.sfv.SfError, JSON.stringify(input));
	});
});
