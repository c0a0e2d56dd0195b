/*
 * verify-rate.mjs - how many verifies per second the Node client gets from a real hmacd.
 *
 *   HMACD=/path/to/hmacd HMACCTL=/path/to/hmacctl node bench/verify-rate.mjs [N] [WINDOW]
 *
 * Starts hmacd (2 threads) on a temporary directory, signs N distinct items (default 200000,
 * each with its own nonce, so every one is a full verify that records a nonce), then verifies
 * them keeping WINDOW calls in flight (default 4096) through one Client, and prints the rate.
 * Signing is done before the clock starts: only the client and the daemon are measured.
 */
import { randomBytes } from 'node:crypto';

import * as hmacd from 'hmacd';

import { Daemon } from '../test/helpers.mjs';

const N = Number(process.argv[2] ?? 200000);
const WINDOW = Number(process.argv[3] ?? 4096);

const d = await new Daemon().start();
try {
	const secret = await d.createKey('acme', 'web-01');
	const ts = Math.floor(Date.now() / 1000);
	const items = [];
	for (let i = 0; i < N; i++) {
		const it = {
			tenant: 'acme', container: 'web-01', epoch: 1, method: 'POST',
			path: '/containers/web-01/exec', headers: [['content-type', 'application/json']],
			bodySha256: hmacd.sha256(`{"cmd":["ls","${i}"]}`), ts,
			nonce: randomBytes(16).toString('hex'),
		};
		it.sig = hmacd.signItem(secret, it);
		items.push(it);
	}
	const client = new hmacd.Client({ socket: d.socket });
	await client.ping();
	let next = 0;
	let ok = 0;
	const t0 = process.hrtime.bigint();
	async function lane() {
		while (next < N) {
			const v = await client.verify(items[next++]);
			if (v === hmacd.Verdict.OK)
				ok++;
		}
	}
	await Promise.all(Array.from({ length: WINDOW }, lane));
	const secs = Number(process.hrtime.bigint() - t0) / 1e9;
	client.close();
	console.log(`${N} verifies (${ok} OK) in ${secs.toFixed(2)} s: ` +
		`${Math.round(N / secs)} verifies/s, ${WINDOW} in flight, 1 connection, hmacd --threads 2`);
	if (ok !== N)
		process.exitCode = 1;
} finally {
	await d.destroy();
}
