/*
 * peer.test.mjs - the client's peer check (issue 10, finding 3: a local user squats the socket
 * path and answers OK to everything). Each new connection is checked with SO_PEERCRED before a
 * byte is written: the server's uid must be serverUser's, or by default root's or the socket
 * directory owner's; otherwise HMACD_EPEER, and the listener has received nothing.
 *
 * Unprivileged: fake listeners in this process (same uid), the real daemon, the addon itself,
 * and the package without its addon. As root only: an impostor running as nobody (uid 65534)
 * in a root-owned directory of mode 1777, like /tmp.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, cpSync, mkdtempSync, openSync, rmSync, statSync, symlinkSync }
	from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { constants, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { decode, encode } from '@msgpack/msgpack';
import express from 'express';

import * as hmacd from 'hmacd';

import { Daemon, SKIP_DAEMON, request, serve } from './helpers.mjs';

const PKG = fileURLToPath(new URL('..', import.meta.url));
const ME = process.getuid();
const ITEM = {
	tenant: 'acme', container: 'c1', epoch: 1, method: 'POST', path: '/x', ts: 1,
	nonce: 'n1', sig: Buffer.alloc(32),
};

function frameOf(obj) {
	const body = encode(obj);
	const h = Buffer.alloc(4);
	h.writeUInt32BE(body.length);
	return Buffer.concat([h, body]);
}

async function until(cond, what) {
	const deadline = Date.now() + 5000;
	while (!cond()) {
		if (Date.now() > deadline)
			throw new Error(`timed out waiting for ${what}`);
		await new Promise((r) => setTimeout(r, 5));
	}
}

/*
 * A listener in this process that answers OK to every verify item, as an impostor would. It
 * counts connections, the bytes each one received, and the ones that have closed.
 */
async function listener() {
	const dir = mkdtempSync(join(tmpdir(), 'hmacd-peer-'));
	const st = { path: join(dir, 's'), conns: [], socks: new Set() };
	const server = net.createServer((sock) => {
		const c = { bytes: 0, closed: false };
		st.conns.push(c);
		st.socks.add(sock);
		let buf = Buffer.alloc(0);
		sock.on('data', (d) => {
			c.bytes += d.length;
			buf = Buffer.concat([buf, d]);
			while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
				const req = decode(buf.subarray(4, 4 + buf.readUInt32BE(0)));
				buf = buf.subarray(4 + buf.readUInt32BE(0));
				sock.write(frameOf(req.op === 'verify' ?
					{ id: req.id, results: req.items.map(() => 0) } : { id: req.id, pong: true }));
			}
		});
		sock.on('error', () => {});
		sock.on('close', () => {
			c.closed = true;
			st.socks.delete(sock);
		});
	});
	await new Promise((r) => server.listen(st.path, r));
	/* resolves once n connections came and all have closed; returns the bytes they received */
	st.settled = async (n) => {
		await until(() => st.conns.length >= n && st.conns.every((c) => c.closed),
			`${n} connection(s) closed`);
		return st.conns.reduce((a, c) => a + c.bytes, 0);
	};
	st.close = () => new Promise((r) => {
		for (const s of st.socks)
			s.destroy();
		server.close(() => {
			rmSync(dir, { recursive: true, force: true });
			r();
		});
	});
	return st;
}

describe('peer check against a listener of this uid', () => {
	let f;
	before(async () => {
		f = await listener();
	});
	after(async () => {
		await f?.close();
	});

	test('serverUser 4242: HMACD_EPEER naming both uids, and not a byte written', async () => {
		const c = new hmacd.Client({ socket: f.path, serverUser: 4242 });
		try {
			const want = {
				name: 'HmacdError', code: 'HMACD_EPEER',
				message: `hmacd peer check: server uid ${ME} is not the expected uid 4242 set by ` +
					'serverUser',
			};
			await assert.rejects(c.verify(ITEM), want);
			assert.equal(await f.settled(1), 0, 'the listener received nothing');
			/* a later call connects again, and is refused again: never retried into success */
			await assert.rejects(c.ping(), want);
			assert.equal(await f.settled(2), 0);
		} finally {
			c.close();
		}
	});

	test('the default rule, this uid and this user\'s name are accepted', async () => {
		const before = f.conns.length;
		for (const serverUser of [undefined, ME, String(ME), userInfo().username]) {
			const c = new hmacd.Client({ socket: f.path, serverUser });
			try {
				assert.equal(await c.verify(ITEM), hmacd.Verdict.OK, String(serverUser));
			} finally {
				c.close();
			}
		}
		assert.equal(f.conns.length, before + 4);
		assert.ok(f.conns.slice(before).every((c) => c.bytes > 0), 'each sent its frame');
	});

	test('serverUser "root" is uid 0, looked up by name', async () => {
		const c = new hmacd.Client({ socket: f.path, serverUser: 'root' });
		try {
			if (ME === 0) {
				assert.equal(await c.verify(ITEM), hmacd.Verdict.OK);
			} else {
				await assert.rejects(c.verify(ITEM), { code: 'HMACD_EPEER', message:
					`hmacd peer check: server uid ${ME} is not the expected uid 0 (user root) ` +
					'set by serverUser' });
			}
		} finally {
			c.close();
		}
	});

	test('an unknown user, or what is not a user: TypeError at construction', () => {
		assert.throws(() => new hmacd.Client({ socket: f.path, serverUser: 'no-such-user-hmacd' }),
			{ name: 'TypeError', message: 'serverUser: there is no user named no-such-user-hmacd' });
		for (const bad of [-1, 1.5, 2 ** 32 - 1, 2 ** 32, NaN, '', 'a b', '-x', 'a:b', {}, true,
			'x'.repeat(300)])
			assert.throws(() => new hmacd.Client({ socket: f.path, serverUser: bad }), TypeError,
				String(bad));
	});
});

describe('the peercred addon', () => {
	const { peercred } = createRequire(import.meta.url)('../build/Release/peercred.node');

	test('a connected socket: the listener\'s pid, uid and gid', async () => {
		const f = await listener();
		const s = net.createConnection({ path: f.path });
		try {
			await new Promise((resolve, reject) => {
				s.on('connect', resolve);
				s.on('error', reject);
			});
			assert.deepEqual(peercred(s._handle.fd),
				{ pid: process.pid, uid: ME, gid: process.getegid() });
		} finally {
			s.destroy();
			await f.close();
		}
	});

	test('not a socket, a closed fd: an Error with errno; not an fd: TypeError', () => {
		const fd = openSync(fileURLToPath(import.meta.url), 'r');
		try {
			assert.throws(() => peercred(fd), { errno: constants.errno.ENOTSOCK,
				syscall: 'getsockopt' });
		} finally {
			closeSync(fd);
		}
		assert.throws(() => peercred(fd), { errno: constants.errno.EBADF });
		for (const bad of [-1, 1.5, '3', undefined, 2 ** 31])
			assert.throws(() => peercred(bad), TypeError, String(bad));
	});

	test('no addon built: every connection refused with HMACD_EPEER, nothing written',
		async () => {
			/* the package's lib/ without build/ next to it, its dependencies linked in */
			const dir = mkdtempSync(join(tmpdir(), 'hmacd-noaddon-'));
			const f = await listener();
			try {
				cpSync(join(PKG, 'lib'), join(dir, 'lib'), { recursive: true });
				symlinkSync(join(PKG, 'node_modules'), join(dir, 'node_modules'));
				const bare = await import(pathToFileURL(join(dir, 'lib', 'index.js')).href);
				const c = new bare.Client({ socket: f.path });
				try {
					const err = await c.verify(ITEM).then(() => null, (e) => e);
					assert.equal(err?.code, 'HMACD_EPEER');
					const want = 'hmacd peer check: cannot read the server\'s credentials: the ' +
						'peercred addon (build/Release/peercred.node) is not built: run ' +
						'`npm rebuild hmacd`';
					assert.ok(err.message.startsWith(want), err.message);
					assert.equal(await f.settled(1), 0);
				} finally {
					c.close();
				}
			} finally {
				await f.close();
				rmSync(dir, { recursive: true, force: true });
			}
		});
});

describe('peer check against the real daemon', { skip: SKIP_DAEMON }, () => {
	let d;
	before(async () => {
		d = await new Daemon().start();
	});
	after(async () => {
		await d?.destroy();
	});

	test('the default rule accepts hmacd in the suite\'s directory; serverUser 4242 does not',
		async () => {
			assert.equal(statSync(join(d.socket, '..')).uid, ME);
			const ok = new hmacd.Client({ socket: d.socket });
			const other = new hmacd.Client({ socket: d.socket, serverUser: 4242 });
			try {
				await ok.ping();
				await assert.rejects(other.ping(), { code: 'HMACD_EPEER' });
			} finally {
				ok.close();
				other.close();
			}
		});
});

/*
 * The impostor: node running as nobody, listening on `path`; one line on stdout per event
 * ("uid N", "listening", "conn I", "data I N", "close I"). It answers every frame with `answer`
 * (an OK verdict for a client's first verify frame), and exits when its stdin closes.
 */
const IMPOSTOR = `
const net = require('node:net');
const [path, answer] = process.argv.slice(1);
console.log('uid ' + process.getuid());
let n = 0;
net.createServer((s) => {
	const i = n++;
	console.log('conn ' + i);
	s.on('data', (d) => {
		console.log('data ' + i + ' ' + d.length);
		s.write(Buffer.from(answer, 'hex'));
	});
	s.on('error', () => {});
	s.on('close', () => console.log('close ' + i));
}).listen(path, () => console.log('listening'));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

const NOBODY = 65534;
const SKIP_ROOT = ME === 0 ? false : 'needs root (an impostor of another uid)';

describe('an impostor running as nobody in a sticky world-writable directory', { skip: SKIP_ROOT },
	() => {
		let dir, sock, child;
		const ev = { uid: null, listening: false, conns: [] };

		before(async () => {
			/* in /tmp itself: nobody must reach it, and the suite's $TMPDIR is private */
			dir = mkdtempSync('/tmp/hmacd-squat-');
			chmodSync(dir, 0o1777);
			assert.equal(statSync(dir).uid, 0);
			sock = join(dir, 'hmacd.sock');
			const answer = frameOf({ id: 1, results: [0] }).toString('hex');
			child = spawn(process.execPath, ['-e', IMPOSTOR, sock, answer],
				{ uid: NOBODY, gid: NOBODY, cwd: '/', stdio: ['pipe', 'pipe', 'inherit'] });
			let out = '';
			child.stdout.on('data', (d) => {
				out += d;
				let nl;
				while ((nl = out.indexOf('\n')) >= 0) {
					const [what, a, b] = out.slice(0, nl).split(' ');
					out = out.slice(nl + 1);
					if (what === 'uid')
						ev.uid = Number(a);
					else if (what === 'listening')
						ev.listening = true;
					else if (what === 'conn')
						ev.conns[Number(a)] = { bytes: 0, closed: false };
					else if (what === 'data')
						ev.conns[Number(a)].bytes += Number(b);
					else if (what === 'close')
						ev.conns[Number(a)].closed = true;
				}
			});
			await until(() => ev.listening, 'the impostor to listen');
			assert.equal(ev.uid, NOBODY);
		});
		after(() => {
			child?.kill('SIGKILL');
			if (dir)
				rmSync(dir, { recursive: true, force: true });
		});

		/* bytes received by the connections from index `from` on, once n of them have closed */
		async function bytesSince(from, n) {
			await until(() => ev.conns.length >= from + n &&
				ev.conns.slice(from).every((c) => c?.closed), 'the impostor\'s connections to close');
			return ev.conns.slice(from).reduce((a, c) => a + c.bytes, 0);
		}

		const refusal = () => ({ code: 'HMACD_EPEER', message: `hmacd peer check: server uid ` +
			`${NOBODY} is not the expected uid 0 (owner of ${dir} or root); set serverUser to ` +
			'trust another user' });

		test('a default client refuses it: HMACD_EPEER, the impostor got zero bytes', async () => {
			const from = ev.conns.length;
			const c = new hmacd.Client({ socket: sock });
			try {
				await assert.rejects(c.verify(ITEM), refusal());
				await assert.rejects(c.verify(ITEM), refusal());
			} finally {
				c.close();
			}
			assert.equal(await bytesSince(from, 2), 0);
		});

		test('trusted by serverUser, the same impostor answers OK: what the check stops',
			async () => {
				const c = new hmacd.Client({ socket: sock, serverUser: NOBODY });
				try {
					assert.equal(await c.verify(ITEM), hmacd.Verdict.OK);
				} finally {
					c.close();
				}
			});

		test('through Express: 503, the handler never runs, the log says why', async () => {
			const logs = [];
			let ran = 0;
			const app = express();
			/* /x/... verifies through a default client, /y/... through one that trusts nobody */
			const refusing = new hmacd.Client({ socket: sock });
			const trusting = new hmacd.Client({ socket: sock, serverUser: NOBODY });
			for (const [prefix, client] of [['/x', refusing], ['/y', trusting]]) {
				app.post(`${prefix}/containers/:id/exec`,
					hmacd.express({ client, log: (e) => logs.push(e) }), (req, res) => {
						ran++;
						res.json({ ok: true });
					});
			}
			const srv = await serve(app);
			const signed = (prefix) => {
				const path = `${prefix}/containers/c1/exec`;
				const headers = [['Host', `127.0.0.1:${srv.port}`]];
				const authorization = hmacd.signRequest({ secret: Buffer.alloc(32, 1),
					tenant: 'acme', container: 'c1', epoch: 1, method: 'POST', path, headers,
					body: '{}' });
				return { method: 'POST', path, body: '{}',
					headers: [...headers, ['Authorization', authorization]] };
			};
			try {
				const from = ev.conns.length;
				const r = await request(srv.port, signed('/x'));
				assert.equal(r.status, 503, r.body);
				assert.equal(r.body, '{"error":"unavailable"}');
				assert.equal(ran, 0, 'the handler never ran');
				assert.equal(logs.at(-1).reason, 'HMACD_EPEER');
				assert.equal(logs.at(-1).detail, refusal().message);
				assert.equal(await bytesSince(from, 1), 0);
				/* the same request through a client that trusts nobody: the impostor's OK */
				const ok = await request(srv.port, signed('/y'));
				assert.equal(ok.status, 200, ok.body);
				assert.equal(ran, 1);
			} finally {
				refusing.close();
				trusting.close();
				await srv.close();
			}
		});
	});
