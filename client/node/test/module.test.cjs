/*
 * module.test.cjs - hmacd from CommonJS and from ES modules, and its types.
 *
 * - require('hmacd') and import('hmacd') give the same objects under the same names (one
 *   implementation: the ES module entry re-exports the CommonJS one), so an HmacdError thrown
 *   under one is an instanceof the other's;
 * - an app outside the package (a directory with node_modules/hmacd, as `npm install` makes it)
 *   requires and imports it through package.json's conditional exports;
 * - the names index.d.ts declares as values are exactly the names exported at run time
 *   (test/types/*.ts check the types themselves with `npm run typecheck`).
 */
'use strict';

const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } =
	require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { describe, test } = require('node:test');

const hmacd = require('hmacd');

const PKG = join(__dirname, '..');

describe('CommonJS and ES modules', () => {
	test('require() and import() give the same objects', async () => {
		const esm = await import('hmacd');
		assert.deepEqual(Object.keys(esm).sort(), Object.keys(hmacd).sort());
		for (const k of Object.keys(hmacd))
			assert.equal(esm[k], hmacd[k], k);
		const err = new esm.HmacdError('HMACD_ECONN', 'x');
		assert.ok(err instanceof hmacd.HmacdError);
		assert.equal(hmacd.express, hmacd.hmacdExpress);
		assert.equal(hmacd.fastify, hmacd.hmacdFastify);
	});

	test('the API works under require()', () => {
		const secret = Buffer.alloc(32, 1);
		const auth = hmacd.signRequest({ secret, tenant: 'acme', container: 'c1', epoch: 1,
			method: 'POST', url: 'http://127.0.0.1/containers/c1/exec', body: '{}',
			headers: { 'content-type': 'application/json' }, ts: 1700000000, nonce: 'n1' });
		const a = hmacd.parseAuthorization(auth);
		assert.equal(a.tenant, 'acme');
		assert.deepEqual(a.signedHeaders, ['host', 'content-type']);
		assert.equal(hmacd.verdictName(hmacd.Verdict.UNAVAILABLE), 'UNAVAILABLE');
		assert.match(hmacd.rfc9421.contentDigest('{}'), /^sha-256=:/);
		assert.equal(hmacd.sfv.serialize(hmacd.sfv.parse('a=1', 'dictionary'), 'dictionary'),
			'a=1');
		assert.throws(() => new hmacd.Client({ socket: '' }), TypeError);
	});

	test('an app outside the package requires and imports it', () => {
		const app = mkdtempSync(join(tmpdir(), 'hmacd-app-'));
		try {
			mkdirSync(join(app, 'node_modules'));
			symlinkSync(PKG, join(app, 'node_modules', 'hmacd'));
			writeFileSync(join(app, 'a.cjs'), 'const h = require("hmacd");\n' +
				'console.log(typeof h.Client, typeof h.fastify, h.Verdict.OK);\n');
			writeFileSync(join(app, 'b.mjs'), 'import * as h from "hmacd";\n' +
				'import { Client, Verdict } from "hmacd";\n' +
				'console.log(typeof h.Client, Client === h.Client, Verdict.REPLAY);\n');
			const run = (f) => execFileSync(process.execPath, [join(app, f)],
				{ cwd: app, encoding: 'utf8' }).trim();
			assert.equal(run('a.cjs'), 'function function 0');
			assert.equal(run('b.mjs'), 'function true 6');
		} finally {
			rmSync(app, { recursive: true, force: true });
		}
	});

	test('index.d.ts declares exactly the values exported', () => {
		const dts = readFileSync(join(PKG, 'index.d.ts'), 'utf8');
		const declared = [
			...[...dts.matchAll(/^export declare (?:function|class|const|namespace) (\w+)/gm)]
				.map((m) => m[1]),
			...[...dts.matchAll(/^export \{ (\w+) as (\w+) \};$/gm)].map((m) => m[2]),
		];
		assert.deepEqual([...new Set(declared)].sort(), Object.keys(hmacd).sort());
		const ns = (name) => {
			const body = dts.slice(dts.indexOf(`export declare namespace ${name} {`));
			const block = body.slice(0, body.indexOf('\n}\n'));
			return [...new Set([...block.matchAll(/^\t(?:function|class|const) (\w+)/gm)]
				.map((m) => m[1]))].sort();
		};
		assert.deepEqual(ns('rfc9421'), Object.keys(hmacd.rfc9421).sort());
		assert.deepEqual(ns('sfv'), Object.keys(hmacd.sfv).sort());
	});
});
