/*
 * send.mjs - the tenant's side, to try an example app: signs one request with a key as
 * `hmacctl key create --json` printed it (tenant, container, epoch, keyid, secret) and sends it.
 *
 *   node examples/send.mjs KEY.json URL [BODY]            HMACD-V1 (the default)
 *   node examples/send.mjs --rfc9421 KEY.json URL [BODY]  RFC 9421, the tenant in X-Tenant
 *
 * The signature is for the key's container, whatever URL it is sent to: sent to another
 * container's URL it must be refused (401). BODY defaults to {"cmd":["ls","-l"]}; "-" sends no
 * body (a GET). Prints the status and the response body; exits 0 on a 2xx, else 1.
 */
import { readFileSync } from 'node:fs';

import * as hmacd from 'hmacd';

const args = process.argv.slice(2);
const rfc = args[0] === '--rfc9421';
if (rfc)
	args.shift();
if (args.length < 2 || args.length > 3) {
	console.error('usage: node examples/send.mjs [--rfc9421] KEY.json URL [BODY|-]');
	process.exit(2);
}
const [keyFile, url] = args;
const key = JSON.parse(readFileSync(keyFile, 'utf8'));
const body = args[2] === '-' ? undefined : (args[2] ?? '{"cmd":["ls","-l"]}');
const method = body === undefined ? 'GET' : 'POST';
const headers = body === undefined ? {} : { 'content-type': 'application/json' };

if (rfc) {
	headers['x-tenant'] = key.tenant;
	Object.assign(headers, hmacd.rfc9421.sign({ method, url, headers, body, key: key.secret,
		keyid: key.keyid }));
} else {
	headers.authorization = hmacd.signRequest({ secret: key.secret, tenant: key.tenant,
		container: key.container, epoch: key.epoch, method, url, headers, body });
}

const res = await fetch(url, { method, headers, body });
console.log(res.status, await res.text());
process.exit(res.ok ? 0 : 1);
