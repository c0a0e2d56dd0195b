/*
 * fastify.js - the Fastify 4/5 plugin: PROTOCOL.md 13.3 and 13.5 through the shared core
 * (middleware.js), with the same responses and log events as the Express middleware.
 *
 * Fastify parses bodies itself, and the signature covers the bytes as received. So the plugin
 * verifies in a preParsing hook: it reads the raw payload (up to `limit`), has hmacd judge it,
 * and on OK hands Fastify a stream of exactly those bytes, which Fastify's content-type parsers
 * then parse as usual. request.body is parsed from the bytes that were verified, and
 * request.rawBody holds them. Route parameters are known by then (routing comes first), so the
 * container is the route's, never the signer's claim.
 *
 * The plugin protects every route of the scope it is registered in (it does not create a scope
 * of its own, as fastify-plugin would not): register it inside a scope that holds only those
 * routes. A route of that scope without the container parameter is refused when it is added
 * (start-up fails, saying so); requests that match no route (404) are left to Fastify.
 *
 * A refusal is sent from the hook, which then never calls its callback, so the hook chain stops
 * there (Fastify's rule for replying from a hook): the handler and the rest of the hooks never
 * run, even while an async onSend hook delays the refusal's bytes.
 */
'use strict';

const { PassThrough } = require('node:stream');

const { createVerifier, readError, readStream } = require('./middleware.js');

/* The parameter names of a Fastify route path, as find-my-way reads them ("::" is a colon). */
function routeParams(url) {
	const names = [];
	for (const m of String(url).replaceAll('::', '').matchAll(/:([^/(\-.:]+)/g))
		names.push(m[1]);
	return names;
}

/**
 * The Fastify plugin: `app.register(hmacd.fastify, opts)` inside the scope of the routes to
 * protect, e.g.
 *
 *   app.register(async (api) => {
 *     await api.register(hmacd.fastify, { client, param: 'id' });
 *     api.post('/containers/:id/exec', handler);
 *   });
 *
 * opts: as hmacd.express() (client, param, limit, tenant, uriScheme, trustProxy, label,
 * captureDir, captureMax, log;
 * the log function gets (event, request) with Fastify's request). With Fastify's logger on,
 * `log: (e, request) => request.log.warn(e, 'hmacd refused')` puts the events in its log.
 *
 * On success: request.rawBody (the Buffer verified), request.body (Fastify's parse of those
 * bytes) and request.hmacd (as req.hmacd of the Express middleware). Refusals: the same 401,
 * 413, 503 and 500 responses as the Express middleware. A wrong option fails the registration
 * (TypeError); so does a route added to the scope without the parameter.
 */
function hmacdFastify(fastify, opts, done) {
	let v;
	try {
		v = createVerifier(opts, 'hmacd.fastify');
	} catch (err) {
		done(err);
		return;
	}
	for (const name of ['hmacd', 'rawBody']) {
		if (!fastify.hasRequestDecorator(name))
			fastify.decorateRequest(name, null);
	}

	fastify.addHook('onRoute', (route) => {
		if (!routeParams(route.url).includes(v.param)) {
			throw new TypeError(`hmacd.fastify: route ${route.method} ${route.url} has no ` +
				`parameter :${v.param} (the container), yet hmacd protects every route of the ` +
				'scope it is registered in: register it in a scope holding only the routes ' +
				'it protects (app.register(async (api) => { await api.register(hmacd.fastify, ' +
				'{...}); api.post(\'/containers/:id/exec\', ...) }))');
		}
	});

	fastify.addHook('preParsing', (request, reply, payload, next) => {
		if (request.is404) {
			next(null, payload);
			return;
		}
		v.judge(request.raw, {
			request,
			container: request.params?.[v.param],
			path: request.originalUrl ?? request.raw.url,
			readBody: (limit) => readStream(payload, request.headers, limit).catch((err) => {
				throw readError(err);
			}),
		}).then((out) => {
			if (!out.ok) {
				reply.code(out.status).headers({ 'content-type': 'application/json',
					'cache-control': 'no-store', ...out.headers }).send(Buffer.from(out.body));
				payload.resume();
				return; /* next() is never called: the request goes no further */
			}
			request.rawBody = out.body;
			request.hmacd = out.identity;
			/* the verified bytes, for Fastify's body parsers */
			const s = new PassThrough();
			s.receivedEncodedLength = out.body.length;
			s.end(out.body);
			next(null, s);
		});
	});
	done();
}

/* what fastify-plugin would set: no scope of its own, a name in Fastify's messages */
hmacdFastify[Symbol.for('skip-override')] = true;
hmacdFastify[Symbol.for('fastify.display-name')] = 'hmacd';
hmacdFastify[Symbol.for('plugin-meta')] = { name: 'hmacd' };

module.exports = {
	hmacdFastify,
};
