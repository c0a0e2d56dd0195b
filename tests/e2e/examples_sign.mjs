/*
 * examples_sign.mjs - the Node client's signers (signRequest, rfc9421.sign) as a filter, for
 * tests/e2e/examples_check.py's cross-language matrix: one request to sign per line of stdin,
 * the headers to add to it on a line of stdout (examples_check.py, "signer protocol").
 *
 *   node examples_sign.mjs PKGDIR     PKGDIR: a copy of client/node with its node_modules
 */
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const hmacd = await import(pathToFileURL(join(process.argv[2], 'lib', 'index.mjs')).href);

for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
	const r = JSON.parse(line);
	const body = Buffer.from(r.body, 'base64');
	let out;
	try {
		if (r.scheme === 'hmacd-v1') {
			out = { Authorization: hmacd.signRequest({ secret: r.key.secret, tenant: r.key.tenant,
				container: r.container, epoch: r.key.epoch, method: r.method, url: r.url,
				headers: r.headers, body }) };
		} else {
			out = hmacd.rfc9421.sign({ method: r.method, url: r.url, headers: r.headers, body,
				key: r.key.secret, keyid: r.key.keyid, components: r.components });
		}
	} catch (err) {
		out = { error: String(err?.message ?? err) };
	}
	process.stdout.write(JSON.stringify(out) + '\n');
}
