/*
 * express-app.mjs - the seed's `POST /containers/:id/exec`, done right, with Express.
 *
 * - The hmacd middleware runs first, on the route: the container comes from `:id`, so a request
 *   signed for container c1 and sent to /containers/c2/exec is refused (401), and the reason is
 *   logged (one console.warn line per refusal), never sent.
 * - The handler binds exactly the bytes that were verified (req.rawBody), strictly
 *   (exec-request.mjs): an unknown field, a repeated key or a wrong type is a 400, and the
 *   answers are those of every example app (README.md, "Example apps").
 * - hmacd down means 503, never a request let through. /healthz is not protected.
 * - Requests signed with RFC 9421 (Signature-Input, the tenant in X-Tenant) pass the same
 *   middleware.
 *
 * Run it from client/node, next to hmacd (README.md, "Example apps"):
 *
 *   npm ci && HMACD_SOCKET=/run/hmacd/hmacd.sock PORT=8080 npm run example:express
 *
 * HMACD_SERVER_USER names the user hmacd runs as when it is neither root nor the owner of the
 * socket's directory (the client refuses any other server: 503); HMACD_TRUST_PROXY=1, only
 * behind a proxy that sets X-Forwarded-Proto, checks RFC 9421's @scheme against that header
 * (configFromEnv in exec-request.mjs). Tests import createApp().
 */
import { pathToFileURL } from 'node:url';

import express from 'express';
import * as hmacd from 'hmacd';

import { BAD_REQUEST, BadBody, bindExecRequest, configFromEnv, execAnswer }
	from './exec-request.mjs';

/*
 * The app. log: the middleware's refusals (default one console.warn line each); warn: why a body
 * did not bind (default console.warn); maxBody: the largest body (413 beyond); trustProxy:
 * RFC 9421's @scheme from X-Forwarded-Proto (HMACD_TRUST_PROXY=1, only behind a proxy that
 * sets it).
 */
export function createApp({ client, log, warn = console.warn, maxBody = 64 * 1024,
	trustProxy = false } = {}) {
	const app = express();
	app.disable('x-powered-by');

	app.get('/healthz', (req, res) => {
		res.json({ ok: true });
	});

	const verify = hmacd.express({ client, param: 'id', limit: maxBody, log, trustProxy });
	app.post('/containers/:id/exec', verify, (req, res) => {
		let exec;
		try {
			exec = bindExecRequest(req.rawBody);
		} catch (err) {
			if (!(err instanceof BadBody))
				throw err;
			warn(`exec: bad body: ${err.message}`);
			res.status(400).json(BAD_REQUEST);
			return;
		}
		/* req.hmacd is what the middleware verified; req.params.id is the same container */
		res.json(execAnswer(req.hmacd.tenant, req.params.id, exec));
	});
	return app;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
	const conf = configFromEnv();
	const client = new hmacd.Client({ socket: conf.socket, serverUser: conf.serverUser });
	const server = createApp({ client, trustProxy: conf.trustProxy }).listen(conf.port, '127.0.0.1',
		() => console.log(`listening on http://127.0.0.1:${server.address().port}`));
}
