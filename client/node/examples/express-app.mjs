/*
 * express-app.mjs - the seed's `POST /containers/:id/exec`, done right.
 *
 * - The hmacd middleware runs first, on the route: the container comes from `:id`, so a request
 *   signed for container c1 and sent to /containers/c2/exec is refused (401).
 * - The handler parses exactly the bytes that were verified (req.rawBody) and binds them strictly:
 *   a JSON object with only the allowed fields, each of the right type; anything else is 400.
 * - hmacd down means 503, never a request let through.
 *
 * Run:  HMACD_SOCKET=/run/hmacd/hmacd.sock PORT=8080 node examples/express-app.mjs
 * Tests import createApp() and serve it on an ephemeral port.
 */
import { pathToFileURL } from 'node:url';

import express from 'express';
import * as hmacd from 'hmacd';

const MAX_ARGS = 64;
const MAX_ARG_LEN = 4096;

/*
 * The only body accepted: {"cmd": [string, ...], "tty"?: boolean}. Returns the bound value or
 * null. Unknown fields are refused rather than ignored, so a field the handler does not know
 * (say "container" or "privileged") can never be smuggled past it.
 */
export function bindExecRequest(raw) {
	let v;
	try {
		v = JSON.parse(raw.toString('utf8'));
	} catch {
		return null;
	}
	if (v === null || typeof v !== 'object' || Array.isArray(v))
		return null;
	for (const k of Object.keys(v)) {
		if (k !== 'cmd' && k !== 'tty')
			return null;
	}
	const { cmd, tty = false } = v;
	if (!Array.isArray(cmd) || cmd.length < 1 || cmd.length > MAX_ARGS)
		return null;
	if (!cmd.every((a) => typeof a === 'string' && a.length <= MAX_ARG_LEN))
		return null;
	if (typeof tty !== 'boolean')
		return null;
	return { cmd, tty };
}

export function createApp({ client, log } = {}) {
	const app = express();
	app.disable('x-powered-by');
	const verify = hmacd.express({ client, param: 'id', log });

	app.post('/containers/:id/exec', verify, (req, res) => {
		if (!req.is('application/json')) {
			res.status(415).json({ error: 'unsupported_media_type' });
			return;
		}
		const exec = bindExecRequest(req.rawBody);
		if (exec === null) {
			res.status(400).json({ error: 'bad_request' });
			return;
		}
		/* a real server would run exec.cmd in req.params.id here */
		res.json({ tenant: req.hmacd.tenant, container: req.params.id, cmd: exec.cmd,
			tty: exec.tty });
	});
	return app;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
	const client = new hmacd.Client({ socket: process.env.HMACD_SOCKET });
	const port = Number(process.env.PORT ?? 8080);
	createApp({ client }).listen(port, '127.0.0.1', () => {
		console.log(`listening on http://127.0.0.1:${port}`);
	});
}
