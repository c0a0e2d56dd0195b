/*
 * bench-app.mjs - the Node example apps as bench/http/run.sh runs them (issue 16):
 *
 *   node bench-app.mjs NODE_DIR express|fastify
 *
 * NODE_DIR: a copy of client/node where `npm ci` ran. The app is the example's own createApp()
 * (examples/express-app.mjs, fastify-app.mjs), handed a client chosen by HMACD_BENCH_MODE:
 * "hmacd" (or unset) hmacd.Client on HMACD_SOCKET, as the examples build it; "inproc" a
 * verifier that checks each hmacd-v1 item in this process with the client library's signItem
 * (its canonical string) and crypto.timingSafeEqual, the secrets read from the 0600 file
 * HMACD_BENCH_KEYS (hmacctl key create --json lines), the daemon's skew (HMACD_BENCH_SKEW,
 * default 300 s), no replay cache (an item with a nonce is refused; the bench sends none);
 * "noauth" a verifier that accepts every item and computes nothing.
 */
import { readFileSync, statSync } from 'node:fs';
import { timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [nodeDir, framework] = process.argv.slice(2);
const imp = (rel) => import(pathToFileURL(join(nodeDir, rel)).href);
const hmacd = await imp('lib/index.mjs');
const { configFromEnv } = await imp('examples/exec-request.mjs');
const { createApp } = await imp(`examples/${framework}-app.mjs`);

const OK = 0, BAD_SIGNATURE = 1, UNKNOWN_KEY = 2, STALE_TIMESTAMP = 5, MALFORMED = 7;

function inprocClient(path, skew) {
	if ((statSync(path).mode & 0o077) !== 0)
		throw new Error(`${path}: readable by others, want mode 0600`);
	const keys = new Map();
	for (const line of readFileSync(path, 'utf8').split('\n')) {
		if (line.trim() === '')
			continue;
		const k = JSON.parse(line);
		keys.set(`${k.tenant}\n${k.container}\n${k.epoch}`, Buffer.from(k.secret, 'base64'));
	}
	return {
		async verify(item) {
			if (item.scheme === 'rfc9421' || (item.nonce ?? '') !== '')
				return MALFORMED;
			const secret = keys.get(`${item.tenant}\n${item.container}\n${item.epoch}`);
			if (secret === undefined)
				return UNKNOWN_KEY;
			if (Math.abs(Math.floor(Date.now() / 1000) - Number(item.ts)) > skew)
				return STALE_TIMESTAMP;
			let want;
			try {
				want = hmacd.signItem(secret, item); /* it copies the key and wipes its copy */
			} catch {
				return MALFORMED;
			}
			return want.length === item.sig.length && timingSafeEqual(want, item.sig) ?
				OK : BAD_SIGNATURE;
		},
	};
}

const conf = configFromEnv();
const mode = process.env.HMACD_BENCH_MODE || 'hmacd';
let client;
if (mode === 'hmacd')
	client = new hmacd.Client({ socket: conf.socket, serverUser: conf.serverUser });
else if (mode === 'inproc')
	client = inprocClient(process.env.HMACD_BENCH_KEYS, Number(process.env.HMACD_BENCH_SKEW || 300));
else if (mode === 'noauth')
	client = { async verify() { return OK; } };
else
	throw new Error(`HMACD_BENCH_MODE=${mode}: not hmacd, inproc or noauth`);

const app = createApp({ client });
if (framework === 'fastify') {
	await app.listen({ port: conf.port, host: '127.0.0.1' });
	console.log(`bench ${framework} ${mode} listening on ${conf.port}`);
} else {
	app.listen(conf.port, '127.0.0.1', () =>
		console.log(`bench ${framework} ${mode} listening on ${conf.port}`));
}
