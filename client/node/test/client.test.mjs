/*
 * client.test.mjs - the pipelined client against the real hmacd (every verdict, batching,
 * error responses, daemon down and restarted, 2000 concurrent calls) and against small fake
 * daemons for what the real one never does on purpose (an answer lost in flight, no answer, a
 * wrong answer).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import * as hmacd from 'hmacd';

import { Daemon, SKIP_DAEMON, answer, fake } from './helpers.mjs';

const { Verdict } = hmacd;
const now = () => Math.floor(Date.now() / 1000);

/* A signed item for scope tenant/container (fresh ts and nonce unless given). */
function signed(secret, { tenant = 'acme', container = 'c1', epoch = 1, ts = now(),
	nonce = randomBytes(16).toString('hex'), body = '{"cmd":["ls"]}' } = {}) {
	const item = {
		tenant, container, epoch, method: 'POST', path: `/containers/${container}/exec`,
		headers: [['content-type', 'application/json']], body, ts, nonce,
	};
	item.sig = hmacd.signItem(secret, item);
	return item;
}

describe('client against the real daemon', { skip: SKIP_DAEMON }, () => {
	let d, client;
	const keys = {};

	before(async () => {
		d = await new Daemon().start();
		keys.c1 = await d.createKey('acme', 'c1');
		keys.rev = await d.createKey('acme', 'rev');
		keys.rev2 = (await d.rotateKey('acme', 'rev')).secret;
		await d.revokeKey('acme', 'rev', 1);
		keys.exp = await d.createKey('acme', 'exp');
		await d.rotateKey('acme', 'exp', 0);
		client = new hmacd.Client({ socket: d.socket });
	});
	after(async () => {
		client?.close();
		const r = await d?.stop();
		assert.equal(r?.code, 0, `hmacd exit status (stderr: ${r?.stderr})`);
		await d?.destroy();
	});

	test('ping and stats', async () => {
		await client.ping();
		const s = await client.stats();
		assert.equal(typeof s.requests, 'number');
		assert.ok(s.requests >= 1);
	});

	test('every verdict code', async () => {
		const ok = signed(keys.c1);
		const cases = [
			['OK', ok],
			['BAD_SIGNATURE', { ...signed(keys.c1), body: '{"cmd":["rm"]}' }],
			['UNKNOWN_KEY', signed(keys.c1, { container: 'nokey' })],
			['KEY_REVOKED', signed(keys.rev, { container: 'rev' })],
			['KEY_EXPIRED', signed(keys.exp, { container: 'exp' })],
			['STALE_TIMESTAMP', signed(keys.c1, { ts: now() - 3600 })],
			['REPLAY', ok],
			['MALFORMED', { ...signed(keys.c1), epoch: 0 }],
		];
		for (const [name, item] of cases)
			assert.equal(hmacd.verdictName(await client.verify(item)), name, name);
		/* the same set in one frame: the daemon judges in order, so the replay is the 2nd */
		const again = signed(keys.c1);
		const batch = cases.map(([n, it]) => (n === 'OK' || n === 'REPLAY' ? again : it));
		assert.deepEqual((await client.verifyBatch(batch)).map(hmacd.verdictName),
			cases.map(([n]) => n));
		/* the revoked scope's current epoch still works */
		assert.equal(await client.verify(signed(keys.rev2, { container: 'rev', epoch: 2 })),
			Verdict.OK);
	});

	test('items signed for c1, sent as c2, are refused', async () => {
		const it = signed(keys.c1);
		assert.equal(await client.verify({ ...it, container: 'c2' }), Verdict.UNKNOWN_KEY);
		await d.createKey('acme', 'c2');
		assert.equal(await client.verify({ ...it, container: 'c2' }), Verdict.BAD_SIGNATURE);
		assert.equal(await client.verify(it), Verdict.OK);
	});

	test('2000 concurrent verify() calls, every verdict right', async () => {
		const c = new hmacd.Client({ socket: d.socket, connections: 2 });
		try {
			const items = [];
			const want = [];
			for (let i = 0; i < 2000; i++) {
				switch (i % 5) {
				case 0: items.push(signed(keys.c1)); want.push('OK'); break;
				case 1: items.push({ ...signed(keys.c1), nonce: 'x' }); want.push('BAD_SIGNATURE'); break;
				case 2: items.push(signed(keys.c1, { container: 'none' })); want.push('UNKNOWN_KEY'); break;
				case 3: items.push(signed(keys.c1, { ts: now() - 1000 })); want.push('STALE_TIMESTAMP'); break;
				default: items.push(signed(keys.exp, { container: 'exp' })); want.push('KEY_EXPIRED'); break;
				}
			}
			/* 100 nonces sent twice: exactly one of each pair may pass */
			const pairs = Array.from({ length: 100 }, () => signed(keys.c1));
			const all = await Promise.all([...items, ...pairs, ...pairs].map((it) => c.verify(it)));
			assert.deepEqual(all.slice(0, 2000).map(hmacd.verdictName), want);
			for (let i = 0; i < 100; i++) {
				assert.deepEqual([all[2000 + i], all[2100 + i]].sort(),
					[Verdict.OK, Verdict.REPLAY]);
			}
		} finally {
			c.close();
		}
	});

	test('calls of one tick share frames of at most maxBatch items', async () => {
		const before = (await client.stats()).requests;
		const c = new hmacd.Client({ socket: d.socket, maxBatch: 100 });
		try {
			const v = await Promise.all(Array.from({ length: 250 }, () => c.verify(signed(keys.c1))));
			assert.ok(v.every((x) => x === Verdict.OK));
		} finally {
			c.close();
		}
		/* 3 verify frames, plus this client's stats request */
		assert.equal((await client.stats()).requests - before, 4);
	});

	test('an error response rejects that frame only; the connection stays', async () => {
		const c = new hmacd.Client({ socket: d.socket, maxBatch: 5000 });
		try {
			const items = Array.from({ length: 1025 }, () => signed(keys.c1));
			const r = await Promise.allSettled(items.map((it) => c.verify(it)));
			assert.ok(r.every((x) => x.status === 'rejected' && x.reason.code === 'HMACD_ESERVER' &&
				x.reason.serverCode === 'too_many_items'));
			assert.equal(await c.verify(items[0]), Verdict.OK, 'nothing was judged, so no replay');
		} finally {
			c.close();
		}
	});

	test('EINVAL and ETOOBIG fail one call, not the frame', async () => {
		const c = new hmacd.Client({ socket: d.socket, maxFrame: 4096 });
		try {
			const good = c.verify(signed(keys.c1));
			await assert.rejects(c.verify({ ...signed(keys.c1), bodySha256: Buffer.alloc(32) }),
				{ code: 'HMACD_EINVAL' });
			await assert.rejects(c.verify(signed(keys.c1, { body: 'x'.repeat(5000) })),
				{ code: 'HMACD_ETOOBIG' });
			assert.equal(await good, Verdict.OK);
			/* items that together pass maxFrame go in two frames */
			const v = await c.verifyBatch([signed(keys.c1, { body: 'y'.repeat(3000) }),
				signed(keys.c1, { body: 'z'.repeat(3000) })]);
			assert.deepEqual(v, [Verdict.OK, Verdict.OK]);
		} finally {
			c.close();
		}
	});

	test('daemon down: calls fail fast with ECONN; restarted: the same client recovers', async () => {
		const c = new hmacd.Client({ socket: d.socket });
		try {
			assert.equal(await c.verify(signed(keys.c1)), Verdict.OK);
			const r = await d.stop();
			assert.equal(r.code, 0, r.stderr);
			await assert.rejects(c.verify(signed(keys.c1)), { code: 'HMACD_ECONN' });
			await assert.rejects(c.ping(), { code: 'HMACD_ECONN' });
			await d.start();
			assert.equal(await c.verify(signed(keys.c1)), Verdict.OK);
			/* a restart while the connection is idle: the first call already works */
			await d.stop();
			await d.start();
			assert.equal(await c.verify(signed(keys.c1)), Verdict.OK);
			await client.ping();
		} finally {
			c.close();
		}
	});

	test('close() rejects what is pending and later calls', async () => {
		const c = new hmacd.Client({ socket: d.socket });
		const p = c.verify(signed(keys.c1));
		c.close();
		await assert.rejects(p, { code: 'HMACD_ECLOSED' });
		await assert.rejects(c.verify(signed(keys.c1)), { code: 'HMACD_ECLOSED' });
	});
});

const ITEM = {
	tenant: 'acme', container: 'c1', epoch: 1, method: 'POST', path: '/x', ts: 1,
	nonce: 'n1', sig: Buffer.alloc(32),
};

describe('client against fake daemons', () => {
	test('an answer lost in flight: ECONN, never resent; the next call reconnects', async () => {
		const f = await fake((payload, sock, n) => {
			if (n === 1)
				sock.destroy(); /* read the request, then die without answering */
			else
				sock.write(answer(payload));
		});
		const c = new hmacd.Client({ socket: f.path });
		try {
			await assert.rejects(c.verify(ITEM), { code: 'HMACD_ECONN' });
			assert.equal(f.frames, 1, 'the request was not sent again');
			assert.equal(await c.verify(ITEM), 0);
			assert.equal(f.frames, 2);
			assert.equal(f.conns, 2);
		} finally {
			c.close();
			await f.close();
		}
	});

	test('no answer: ETIMEDOUT, the connection is dropped and replaced', async () => {
		const f = await fake((payload, sock, n) => {
			if (n > 1)
				sock.write(answer(payload));
		});
		const c = new hmacd.Client({ socket: f.path, timeoutMs: 200 });
		try {
			await assert.rejects(c.verify(ITEM), { code: 'HMACD_ETIMEDOUT' });
			assert.equal(await c.verify(ITEM), 0);
			assert.equal(f.conns, 2);
		} finally {
			c.close();
			await f.close();
		}
	});

	test('a wrong answer: EPROTO for everything in flight', async () => {
		const answers = [
			(p) => answer(p, { id: 999 }),
			(p) => answer(p, { results: [0, 0, 0] }),
			(p) => answer(p, { pong: true }),
			() => Buffer.from([0, 0, 0, 1, 0xc1]),
			() => Buffer.from([0xff, 0xff, 0xff, 0xff]),
		];
		for (const bad of answers) {
			const f = await fake((payload, sock) => sock.write(bad(payload)));
			const c = new hmacd.Client({ socket: f.path });
			try {
				const r = await Promise.allSettled([c.verify(ITEM), c.verify(ITEM)]);
				assert.deepEqual(r.map((x) => x.reason?.code), ['HMACD_EPROTO', 'HMACD_EPROTO']);
			} finally {
				c.close();
				await f.close();
			}
		}
	});

	test('answers split across reads and many frames in one read', async () => {
		/* each answer written in two parts, 5 ms apart, answers kept in order */
		const f = await fake((payload, sock) => {
			const a = answer(payload);
			sock.chain = (sock.chain ?? Promise.resolve()).then(async () => {
				sock.write(a.subarray(0, 3));
				await new Promise((r) => setTimeout(r, 5));
				sock.write(a.subarray(3));
			});
		});
		const c = new hmacd.Client({ socket: f.path, maxBatch: 1 });
		try {
			const v = await Promise.all(Array.from({ length: 50 }, () => c.verify(ITEM)));
			assert.equal(v.length, 50);
			assert.equal(f.frames, 50);
		} finally {
			c.close();
			await f.close();
		}
	});

	test('no daemon at all: ECONN at once', async () => {
		const c = new hmacd.Client({ socket: join(tmpdir(), 'hmacd-node-none', 's') });
		await assert.rejects(c.verify(ITEM), { code: 'HMACD_ECONN' });
		await assert.rejects(c.stats(), { code: 'HMACD_ECONN' });
		c.close();
	});
});
