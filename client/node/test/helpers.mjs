/*
 * helpers.mjs - the real hmacd for the tests: start it on a temporary directory, manage keys with
 * hmacctl, stop and restart it; a fake daemon for what the real one does not do on cue; plus
 * raw-frame and HTTP helpers.
 *
 * $HMACD and $HMACCTL name the binaries (make check sets them). Without them the daemon tests are
 * skipped with a message. The daemon is waited for by connecting to its socket (while checking
 * it is still alive), bounded by a deadline; it is stopped with SIGTERM and must exit 0. A test
 * process that exits or is sent SIGTERM/SIGINT takes its daemons with it, and each daemon's pid
 * is appended to $HMACD_TEST_PIDFILE (if set) so that the calling script can kill what a
 * SIGKILLed test process left behind.
 */
import { execFile, spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { decode, encode } from '@msgpack/msgpack';

const run = promisify(execFile);

export const HMACD = process.env.HMACD;
export const HMACCTL = process.env.HMACCTL;
export const SKIP_DAEMON = HMACD && HMACCTL ? false :
	'HMACD and HMACCTL are not set (make check sets them): no daemon tests';

const live = new Set();
function killAll() {
	for (const p of live)
		p.kill('SIGKILL');
}
process.on('exit', killAll);
for (const sig of ['SIGTERM', 'SIGINT']) {
	process.on(sig, () => {
		killAll();
		process.exit(1);
	});
}

function delay(ms) {
	return new Promise((r) => setTimeout(r, ms));
}

function canConnect(path) {
	return new Promise((resolve) => {
		const s = net.createConnection({ path });
		s.on('connect', () => {
			s.destroy();
			resolve(true);
		});
		s.on('error', () => resolve(false));
	});
}

export class Daemon {
	constructor(args = []) {
		this.dir = mkdtempSync(join(tmpdir(), 'hmacd-node-'));
		this.socket = join(this.dir, 's');
		this.db = join(this.dir, 'db');
		this.args = args;
		this.proc = null;
	}

	async start() {
		const p = spawn(HMACD, ['--socket', this.socket, '--db', this.db, '--threads', '2',
			'--log-level', 'warn', ...this.args], { stdio: ['ignore', 'ignore', 'pipe'] });
		this.proc = p;
		live.add(p);
		if (process.env.HMACD_TEST_PIDFILE)
			appendFileSync(process.env.HMACD_TEST_PIDFILE, `${p.pid}\n`);
		let stderr = '';
		p.stderr.on('data', (d) => {
			stderr += d;
		});
		p.exited = new Promise((resolve) => p.on('exit', (code, sig) => {
			live.delete(p);
			resolve({ code, sig, stderr });
		}));
		const deadline = Date.now() + 10000;
		for (;;) {
			if (p.exitCode !== null || p.signalCode !== null)
				throw new Error(`hmacd exited at start-up: ${stderr}`);
			if (await canConnect(this.socket))
				return this;
			if (Date.now() > deadline) {
				p.kill('SIGKILL');
				throw new Error(`hmacd did not open ${this.socket} within 10 s: ${stderr}`);
			}
			await delay(20);
		}
	}

	/* SIGTERM, then the exit status (0 expected); SIGKILL after 10 s. */
	async stop() {
		const p = this.proc;
		if (p === null)
			return null;
		this.proc = null;
		p.kill('SIGTERM');
		const t = setTimeout(() => p.kill('SIGKILL'), 10000);
		const r = await p.exited;
		clearTimeout(t);
		return r;
	}

	async destroy() {
		await this.stop();
		rmSync(this.dir, { recursive: true, force: true });
	}

	/* Runs hmacctl on this store; parses stdout as JSON when --json is given. */
	async ctl(...args) {
		const { stdout } = await run(HMACCTL, ['--db', this.db, ...args], { timeout: 10000 });
		return args.includes('--json') ? JSON.parse(stdout) : stdout;
	}

	/* Creates a scope; returns its epoch-1 secret as a Buffer. */
	async createKey(tenant, container) {
		const r = await this.ctl('key', 'create', '--tenant', tenant, '--container', container,
			'--json');
		return Buffer.from(r.secret, 'base64');
	}

	/* Rotates a scope; returns {epoch, secret}. */
	async rotateKey(tenant, container, grace = 86400) {
		const r = await this.ctl('key', 'rotate', '--tenant', tenant, '--container', container,
			'--grace', String(grace), '--json');
		return { epoch: r.epoch, secret: Buffer.from(r.secret, 'base64') };
	}

	/*
	 * Runs hmacctl with `input` on its stdin (a secret never goes on a command line); resolves
	 * with stdout (parsed when --json is given), rejects with {code, stderr} on a non-zero exit.
	 */
	ctlInput(input, ...args) {
		return new Promise((resolve, reject) => {
			const p = spawn(HMACCTL, ['--db', this.db, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
			let out = '';
			let err = '';
			const t = setTimeout(() => p.kill('SIGKILL'), 10000);
			p.stdout.on('data', (d) => {
				out += d;
			});
			p.stderr.on('data', (d) => {
				err += d;
			});
			p.on('error', reject);
			p.on('close', (code) => {
				clearTimeout(t);
				if (code !== 0) {
					reject(Object.assign(new Error(`hmacctl ${args.join(' ')}: exit ${code}: ${err}`),
						{ code, stderr: err }));
					return;
				}
				resolve(args.includes('--json') ? JSON.parse(out) : out);
			});
			p.stdin.end(input);
		});
	}

	/* Imports a secret (raw bytes, on stdin) under keyid; returns the --json object. */
	importKey(tenant, container, keyid, secret) {
		return this.ctlInput(secret, 'key', 'import', '--tenant', tenant, '--container',
			container, '--secret-file', '-', '--keyid', keyid, '--json');
	}

	/* Sets the policy of a scope (container null: of the tenant): components, then flags. */
	async setPolicy(tenant, container, components, ...flags) {
		const scope = container === null ? [] : ['--container', container];
		await this.ctl('policy', 'set', '--tenant', tenant, ...scope, '--require', ...components,
			...flags);
	}

	async revokeKey(tenant, container, epoch) {
		await this.ctl('key', 'revoke', '--tenant', tenant, '--container', container,
			'--epoch', String(epoch));
	}
}

/* Sends raw bytes on a fresh connection and resolves with the first answer's payload. */
export function rawExchange(path, bytes) {
	return new Promise((resolve, reject) => {
		const s = net.createConnection({ path });
		let buf = Buffer.alloc(0);
		const t = setTimeout(() => {
			s.destroy();
			reject(new Error('no answer within 5 s'));
		}, 5000);
		s.on('connect', () => s.write(bytes));
		s.on('data', (d) => {
			buf = Buffer.concat([buf, d]);
			if (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
				clearTimeout(t);
				s.destroy();
				resolve(buf.subarray(4, 4 + buf.readUInt32BE(0)));
			}
		});
		s.on('error', (e) => {
			clearTimeout(t);
			reject(e);
		});
	});
}

/* A length-prefixed frame around a payload. */
export function frame(payload) {
	const h = Buffer.alloc(4);
	h.writeUInt32BE(payload.length);
	return Buffer.concat([h, payload]);
}

/* Serves an Express app on an ephemeral loopback port; resolves with {port, close()}. */
export function serve(app) {
	return new Promise((resolve, reject) => {
		const server = http.createServer(app);
		server.on('error', reject);
		server.listen(0, '127.0.0.1', () => {
			resolve({
				port: server.address().port,
				close: () => new Promise((r) => {
					server.closeAllConnections();
					server.close(() => r());
				}),
			});
		});
	});
}

/*
 * One HTTP request with full control of the bytes: headers as [[name, value]] (sent in that
 * order, repeated names kept; values are byte strings), no Host unless given. Resolves with
 * {status, headers, body (string)}.
 */
export function request(port, { method = 'POST', path, headers = [], body }) {
	return new Promise((resolve, reject) => {
		const flat = headers.flatMap(([k, v]) => [k, v]);
		const req = http.request({
			host: '127.0.0.1', port, method, path, headers: flat, setHost: false,
			agent: false, timeout: 10000,
		}, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => resolve({
				status: res.statusCode, headers: res.headers,
				body: Buffer.concat(chunks).toString('utf8'),
			}));
			res.on('error', reject);
		});
		req.on('timeout', () => req.destroy(new Error('HTTP request timed out')));
		req.on('error', reject);
		req.end(body);
	});
}

/*
 * A fake daemon: `onFrame(payload, sock, n)` is called for each request frame (n counts frames
 * over all connections). Resolves with {path, frames, conns, close()}.
 */
export async function fake(onFrame) {
	const dir = mkdtempSync(join(tmpdir(), 'hmacd-fake-'));
	const path = join(dir, 's');
	const st = { path, frames: 0, conns: 0, socks: new Set() };
	const server = net.createServer((sock) => {
		st.conns++;
		st.socks.add(sock);
		let buf = Buffer.alloc(0);
		sock.on('data', (d) => {
			buf = Buffer.concat([buf, d]);
			while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
				const n = buf.readUInt32BE(0);
				const payload = buf.subarray(4, 4 + n);
				buf = buf.subarray(4 + n);
				onFrame(payload, sock, ++st.frames);
			}
		});
		sock.on('error', () => {});
		sock.on('close', () => st.socks.delete(sock));
	});
	await new Promise((r) => server.listen(path, r));
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

/*
 * The answer frame to a verify payload: {"id": id, "results": [verdict, ...]}, one verdict per
 * item (ids and counts read with the decoder), with the keys of `over` put in.
 */
export function answer(payload, over = {}, verdict = 0) {
	const req = decode(payload);
	const body = encode({ id: req.id, results: req.items.map(() => verdict), ...over });
	const h = Buffer.alloc(4);
	h.writeUInt32BE(body.length);
	return Buffer.concat([h, body]);
}
