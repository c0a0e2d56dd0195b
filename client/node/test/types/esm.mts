/*
 * esm.mts - the public API as an ES module TypeScript program uses it (import from 'hmacd'),
 * and the Fastify plugin with Fastify's own types: registration, options, request.hmacd and
 * request.rawBody. Checked by `npm run typecheck`, never run.
 */
import Fastify from 'fastify';
import type { FastifyRequest } from 'fastify';

import * as hmacd from 'hmacd';
import { Client, Verdict, type Identity, type RefusalEvent } from 'hmacd';

const client = new Client({ socket: process.env.HMACD_SOCKET ?? '/run/hmacd/hmacd.sock' });
const ok: 0 = Verdict.OK;
void ok;

const app = Fastify({ logger: true });
app.get('/healthz', async () => ({ ok: true }));
app.register(async (api) => {
	await api.register(hmacd.fastify, { client, param: 'id', limit: 65536,
		log: (e: RefusalEvent, request) => request.raw.socket.remoteAddress ?? e.reason });
	api.post<{ Params: { id: string } }>('/containers/:id/exec', async (request) => {
		const who: Identity | null = request.hmacd;
		const raw: Buffer | null = request.rawBody;
		return { container: request.params.id, tenant: who?.tenant, bytes: raw?.length };
	});
});
app.register(hmacd.hmacdFastify, { client, trustProxy: true });
app.register(hmacd.fastify, { client, captureDir: '/var/lib/app/hmacd-captures' });
// @ts-expect-error captureDir is a path
app.register(hmacd.fastify, { client, captureDir: 1 });
// @ts-expect-error the client is required
app.register(hmacd.fastify, { param: 'id' });

function tenantOf(request: FastifyRequest): string | undefined {
	return request.headers['x-tenant'] as string | undefined;
}
void tenantOf;

const err = new hmacd.HmacdError('HMACD_ECONN', 'down');
const name: 'HmacdError' = err.name;
void name;
const h = hmacd.rfc9421.sign({ method: 'GET', url: 'https://a/', key: new Uint8Array(32),
	keyid: 'k' });
void h.Signature;

/* option functions written against Fastify's own request type */
app.register(async (api) => {
	await api.register(hmacd.fastify, { client, tenant: tenantOf,
		uriScheme: (request: FastifyRequest) => (request.protocol === 'https' ? 'https' : 'http'),
		log: (e, request) => request.log.warn(e, 'hmacd refused') });
});
