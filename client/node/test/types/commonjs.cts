/*
 * commonjs.cts - the public API as a CommonJS TypeScript program uses it (require('hmacd')):
 * every export, with the types it must accept, give and refuse (@ts-expect-error lines fail the
 * check if they ever compile). Checked by `npm run typecheck`, never run.
 */
import express = require('express');
import hmacd = require('hmacd');

/* ---- the client ---- */
const client: hmacd.Client = new hmacd.Client({ socket: '/run/hmacd/hmacd.sock',
	serverUser: 'hmacd', timeoutMs: 2000, connections: 2, maxBatch: 64, maxFrame: 1 << 20 });
new hmacd.Client();
new hmacd.Client({ serverUser: 998 });
// @ts-expect-error timeoutMs is a number
new hmacd.Client({ timeoutMs: '5s' });

const v1: hmacd.V1Item = { tenant: 'acme', container: 'c1', epoch: 1, method: 'POST',
	path: '/containers/c1/exec', ts: 1700000000, nonce: 'n1', headers: [['host', 'a']],
	body: '{}', sig: Buffer.alloc(32) };
const rfc: hmacd.Rfc9421Item = { scheme: 'rfc9421', tenant: 'acme', container: 'c1',
	method: 'POST', authority: 'api.example', path: '/x', uriScheme: 'http',
	headers: [['host', 'api.example']], signatureInput: 'sig1=()', signature: 'sig1=:AA==:',
	body: Buffer.from('{}') };
// @ts-expect-error an hmacd-v1 item has a sig
const noSig: hmacd.V1Item = { tenant: 'a', container: 'c', epoch: 1, method: 'GET', path: '/',
	ts: 1 };
void noSig;

async function useClient(): Promise<void> {
	const verdict: hmacd.VerdictCode = await client.verify(v1);
	const verdicts: number[] = await client.verifyBatch([v1, rfc]);
	if (verdict === hmacd.Verdict.OK && verdicts[1] !== hmacd.Verdict.UNAVAILABLE) {
		const name: string = hmacd.verdictName(verdict);
		void name;
	}
	await client.ping();
	const stats: Record<string, number | bigint> = await client.stats();
	void stats;
	client.close();
	try {
		await client.verify({ ...v1, epoch: 2n });
	} catch (err) {
		if (err instanceof hmacd.HmacdError) {
			const code: hmacd.HmacdErrorCode = err.code;
			void code;
			void err.serverCode;
		}
	}
}
void useClient;
// @ts-expect-error Verdict is read-only
hmacd.Verdict.OK = 1;
const nine: 9 = hmacd.Verdict.UNAVAILABLE;
void nine;

/* ---- the wire ---- */
const frame: Buffer = hmacd.encodeVerifyFrame(1, [v1, rfc]);
const answer = hmacd.decodeResponse(frame.subarray(4));
if (answer.kind === 'results')
	answer.results.map(hmacd.verdictName);
else if (answer.kind === 'error')
	void answer.error.length;

/* ---- hmacd-v1 signing ---- */
const secret = Buffer.alloc(32, 1);
const canon: Buffer = hmacd.canonical({ ...v1, sig: undefined });
const digest: Buffer = hmacd.sha256(canon);
const sig: Buffer = hmacd.signItem(secret.toString('base64'), { ...v1, bodySha256: digest,
	body: undefined });
const authorization: string = hmacd.signRequest({ secret, tenant: 'acme', container: 'c1',
	epoch: 1, method: 'POST', url: 'http://127.0.0.1:8080/containers/c1/exec',
	headers: { 'content-type': 'application/json' }, body: '{"cmd":["ls"]}', nonce: null });
hmacd.signRequest({ secret, tenant: 'acme', container: 'c1', epoch: 1, method: 'POST',
	path: '/containers/c1/exec', headers: [['Host', 'a']], signedHeaders: ['host'] });
hmacd.signRequest({ secret, tenant: 'acme', container: 'c1', epoch: 1, method: 'GET',
	url: new URL('http://a/'), headers: new Map([['host', 'a']]) });
// @ts-expect-error the container is required
hmacd.signRequest({ secret, tenant: 'acme', epoch: 1, method: 'GET', url: 'http://a/' });
const parsed = hmacd.parseAuthorization(authorization);
if (parsed !== null) {
	const names: string[] = parsed.signedHeaders;
	const again: string = hmacd.formatAuthorization({ ...parsed, signedHeaders: names });
	void again;
	void sig;
}

/* ---- Express ---- */
const app = express();
app.use(express.json({ verify: hmacd.keepRawBody }));
const verify = hmacd.express({ client, param: 'id', limit: 65536, trustProxy: true,
	tenant: (req) => req.headers['x-tenant'] as string | undefined,
	log: (e: hmacd.RefusalEvent, req) => console.warn(e.status, e.reason, req.url) });
app.post('/containers/:id/exec', verify, (req, res) => {
	const who: hmacd.Identity | undefined = req.hmacd;
	const raw: Buffer | undefined = req.rawBody;
	if (who?.scheme === 'hmacd-v1')
		res.json({ epoch: String(who.epoch), bytes: raw?.length });
	else if (who?.scheme === 'rfc9421')
		res.json({ keyid: who.keyid ?? null });
});
app.post('/x/:id', hmacd.hmacdExpress({ client, uriScheme: 'https' }), (_req, res) => {
	res.end();
});
hmacd.express({ client, uriScheme: (req) => (req.socket.remotePort ? 'http' : 'https') });
/* option functions written against Express's own Request type */
app.use(express.raw({ type: '*/*', verify: hmacd.keepRawBody }));
hmacd.express({ client, tenant: (req: express.Request) => req.get('x-tenant'),
	log: (e, req: express.Request) => console.warn(e.reason, req.ip) });
hmacd.express({ client, captureDir: '/var/lib/app/hmacd-captures', captureMax: 50,
	log: (e) => console.warn(e.capture ?? e.captureError ?? e.reason) });
// @ts-expect-error captureMax is a number
hmacd.express({ client, captureDir: '/var/lib/app/hmacd-captures', captureMax: '50' });
// @ts-expect-error the client is required
hmacd.express({ param: 'id' });
// @ts-expect-error uriScheme is http or https
hmacd.express({ client, uriScheme: 'ftp' });

/* ---- RFC 9421 and structured fields ---- */
const h: hmacd.rfc9421.SignedFields = hmacd.rfc9421.sign({ method: 'POST',
	url: 'http://127.0.0.1/containers/c1/exec', headers: { 'x-tenant': 'acme' }, body: '{}',
	key: secret, keyid: 'acme-c1', components: ['@method', '@authority', '@path', '@scheme',
		'content-digest'], created: new Date(), nonce: 'n', alg: 'hmac-sha256', label: 'sig1' });
const base: string = hmacd.rfc9421.signatureBase({ method: 'POST',
	url: 'http://127.0.0.1/containers/c1/exec', headers: { ...h } }, h['Signature-Input']);
const cd: string = hmacd.rfc9421.contentDigest('{}', 'sha-512');
const req: hmacd.rfc9421.Request = hmacd.rfc9421.requestOf({ method: 'GET', authority: 'a',
	path: '/', scheme: 'http' });
const pairs: Array<[string, string]> = hmacd.rfc9421.headerPairs(req.headers);
const comp: hmacd.sfv.Item = hmacd.rfc9421.parseComponent('@query-param;name=id');
void [base, cd, pairs, comp, hmacd.rfc9421.SF_TYPES['content-digest']];
// @ts-expect-error a keyid is required
hmacd.rfc9421.sign({ method: 'GET', url: 'https://a/', key: secret });

const dict: hmacd.sfv.Dictionary = hmacd.sfv.parse(['a=1', 'b=(x y);p'], 'dictionary');
const list: hmacd.sfv.List = hmacd.sfv.parse('1, 2', 'list');
const item: hmacd.sfv.Item = hmacd.sfv.parse('"s";k', 'item');
const s1: string = hmacd.sfv.serialize(dict, 'dictionary') + hmacd.sfv.serializeList(list) +
	hmacd.sfv.serializeMember(item) + hmacd.sfv.serializeDictionary(dict) +
	hmacd.sfv.serializeBare(hmacd.sfv.sf.bytes(Buffer.from('x'))) +
	hmacd.sfv.serializeParams({ a: hmacd.sfv.sf.boolean(true) }) +
	hmacd.sfv.serialize(list, 'list') + hmacd.sfv.serialize(item, 'item');
const inner: hmacd.sfv.InnerList = hmacd.sfv.sf.inner([hmacd.sfv.sf.item(
	hmacd.sfv.sf.token('t'))]);
const lim: number = hmacd.sfv.LIMITS.members + hmacd.sfv.sf.decimal(1500).type.length;
try {
	hmacd.sfv.parse('(', 'list');
} catch (e) {
	if (e instanceof hmacd.sfv.SfError)
		void e.message;
}
void [s1, inner, lim, hmacd.sfv.sf.integer(1), hmacd.sfv.sf.string('s')];
// @ts-expect-error parse knows three kinds
hmacd.sfv.parse('1', 'number');
