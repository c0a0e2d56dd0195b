/*
 * fastify-app.mjs - the same app as express-app.mjs, with Fastify and the hmacd plugin.
 *
 * - The plugin is registered in a scope holding only the protected route: the container comes
 *   from `:id`, a request signed for c1 and sent to /containers/c2/exec is refused (401), and
 *   the reason is logged (one console.warn line per refusal), never sent. /healthz is outside
 *   the scope, so not protected.
 * - The handler binds exactly the bytes that were verified (request.rawBody), strictly
 *   (exec-request.mjs), as every example does: 400 for an unknown field, a repeated key (which
 *   Fastify's JSON parser would let through, keeping the last) or a wrong type. So the scope
 *   takes every body as bytes instead of parsing it; a route that wants Fastify's own parsing
 *   keeps it, and request.body is then its parse of the same verified bytes.
 * - hmacd down means 503, never a request let through.
 *
 * Run it from client/node, next to hmacd (README.md, "Example apps"):
 *
 *   npm ci && HMACD_SOCKET=/run/hmacd/hmacd.sock PORT=8080 npm run example:fastify
 *
 * HMACD_SERVER_USER and HMACD_TRUST_PROXY as in express-app.mjs. Tests import createApp().
 */
import { pathToFileURL } from 'node:url';

import Fastify from 'fastify';
import * as hmacd from 'hmacd';

import { BAD_REQUEST, BadBody, bindExecRequest, configFromEnv, execAnswer }
	from './exec-request.mjs';

/* The app; the options are express-app.mjs's. */
export function createApp({ client, log, warn = console.warn, maxBody = 64 * 1024,
	trustProxy = false } = {}) {
	const app = Fastify({ bodyLimit: maxBody });

	app.get('/healthz', async () => ({ ok: true }));

	app.register(async (api) => {
		await api.register(hmacd.fastify, { client, param: 'id', limit: maxBody, log,
			trustProxy });
		/* the body as bytes, whatever its type: bound strictly below */
		api.removeAllContentTypeParsers();
		api.addContentTypeParser('*', { parseAs: 'buffer' }, (request, body, done) => {
			done(null, body);
		});

		api.post('/containers/:id/exec', async (request, reply) => {
			let exec;
			try {
				exec = bindExecRequest(request.rawBody);
			} catch (err) {
				if (!(err instanceof BadBody))
					throw err;
				warn(`exec: bad body: ${err.message}`);
				return reply.code(400).send(BAD_REQUEST);
			}
			/* request.hmacd is what the plugin verified; request.params.id the same container */
			return execAnswer(request.hmacd.tenant, request.params.id, exec);
		});
	});
	return app;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
	const conf = configFromEnv();
	const client = new hmacd.Client({ socket: conf.socket, serverUser: conf.serverUser });
	const app = createApp({ client, trustProxy: conf.trustProxy });
	app.listen({ port: conf.port, host: '127.0.0.1' }).then(() => {
		console.log(`listening on http://127.0.0.1:${app.server.address().port}`);
	}, (err) => {
		console.error(`fastify-app: ${err.message}`);
		process.exit(1);
	});
}
