/*
 * index.d.ts - the types of the public API of hmacd (lib/index.js), for TypeScript and editors.
 * Written by hand next to the JavaScript; `npm run typecheck` (make check runs it) compiles
 * test/types/ (a CommonJS and an ES module program using every export) against this file
 * with `tsc --strict`.
 *
 * Frameworks are typed structurally (a Node IncomingMessage and ServerResponse, a Fastify
 * plugin function), so neither Express nor Fastify types are needed to use these. Where they
 * are installed, hmacd and rawBody are declared on Express's Request (@types/express) and on
 * FastifyRequest (an augmentation of a module that is not installed is ignored).
 */
/// <reference types="node" />

import type { IncomingMessage, ServerResponse } from 'node:http';

/** A byte string (one character per byte, as Node's http module gives them) or raw bytes. */
export type Bytes = string | Uint8Array;

/** Header collections the signers accept. */
export type HeadersLike =
	| Readonly<Record<string, string | number | ReadonlyArray<string>>>
	| ReadonlyArray<readonly [Bytes, Bytes | number]>
	| ReadonlyMap<string, string | ReadonlyArray<string>>
	| { get(name: string): string | null; has(name: string): boolean;
		entries(): IterableIterator<[string, string]> };

/* ---- verdicts and errors (errors.js) ---- */

/** Verdict codes (PROTOCOL.md section 9). */
export declare const Verdict: {
	readonly OK: 0;
	readonly BAD_SIGNATURE: 1;
	readonly UNKNOWN_KEY: 2;
	readonly KEY_REVOKED: 3;
	readonly KEY_EXPIRED: 4;
	readonly STALE_TIMESTAMP: 5;
	readonly REPLAY: 6;
	readonly MALFORMED: 7;
	readonly INSUFFICIENT_COVERAGE: 8;
	readonly UNAVAILABLE: 9;
};

/** A verdict as the daemon sends it: one of Verdict, or a code from a later daemon. */
export type VerdictCode = number;

/** "OK", "BAD_SIGNATURE", ...; "VERDICT_<n>" for a code this version does not know. */
export declare function verdictName(code: VerdictCode): string;

export type HmacdErrorCode =
	| 'HMACD_EINVAL' | 'HMACD_EMALFORMED' | 'HMACD_ETOOBIG' | 'HMACD_ECONN' | 'HMACD_EPEER'
	| 'HMACD_ETIMEDOUT' | 'HMACD_EPROTO' | 'HMACD_ESERVER' | 'HMACD_ECLOSED';

/** Whatever kept an item from being judged (err.code), or an item that cannot be signed. */
export declare class HmacdError extends Error {
	constructor(code: HmacdErrorCode, message: string, options?: { cause?: unknown });
	readonly name: 'HmacdError';
	code: HmacdErrorCode;
	/** HMACD_ESERVER only: the daemon's error ("malformed", "too_many_items", ...). */
	serverCode?: string;
}

/* ---- items and the client (wire.js, client.js) ---- */

/** An hmacd-v1 verify item (PROTOCOL.md 7.1). A missing body and bodySha256 mean no body. */
export interface V1Item {
	scheme?: 'hmacd-v1';
	tenant: Bytes;
	container: Bytes;
	epoch: number | bigint;
	method: Bytes;
	path: Bytes;
	ts: number | bigint;
	nonce?: Bytes | null;
	headers?: ReadonlyArray<readonly [Bytes, Bytes]>;
	body?: string | Uint8Array | null;
	bodySha256?: Uint8Array | null;
	sig: Uint8Array;
}

/** An rfc9421 verify item (PROTOCOL.md 7.2): the request as received. */
export interface Rfc9421Item {
	scheme: 'rfc9421';
	tenant: Bytes;
	container: Bytes;
	method: Bytes;
	authority: Bytes;
	path: Bytes;
	/** absent: https */
	uriScheme?: 'http' | 'https' | null;
	headers: ReadonlyArray<readonly [Bytes, Bytes]>;
	signatureInput: Bytes;
	signature: Bytes;
	label?: Bytes | null;
	body?: string | Uint8Array | null;
}

export type VerifyItem = V1Item | Rfc9421Item;

export interface ClientOptions {
	/** hmacd's socket (default $HMACD_SOCKET). */
	socket?: string;
	/** The user hmacd runs as (a name or a uid); default: root or the socket directory's owner. */
	serverUser?: string | number;
	/** Connections to spread frames over (default 1). */
	connections?: number;
	/** Deadline of each call (default 5000; Infinity: none). */
	timeoutMs?: number;
	/** Largest request payload (default 1 MiB). */
	maxFrame?: number;
	/** Most items per frame (default 1024). */
	maxBatch?: number;
}

/** A pipelined client of one hmacd socket. Calls reject with HmacdError. */
export declare class Client {
	constructor(opts?: ClientOptions);
	/** The verdict of one item (Verdict.OK = 0; anything else: reject the request). */
	verify(item: VerifyItem): Promise<VerdictCode>;
	verifyBatch(items: ReadonlyArray<VerifyItem>): Promise<VerdictCode[]>;
	ping(): Promise<void>;
	/** hmacd's counters (PROTOCOL.md section 12); a bigint above 2^53. */
	stats(): Promise<Record<string, number | bigint>>;
	/** Ends the connections; pending and later calls reject with HMACD_ECLOSED. */
	close(): void;
}

/** A whole verify frame for a list of items. */
export declare function encodeVerifyFrame(id: number | bigint, items: ReadonlyArray<VerifyItem>):
	Buffer;

export type DecodedResponse =
	| { id: number | bigint; kind: 'results'; results: VerdictCode[]; message?: string }
	| { id: number | bigint; kind: 'pong'; message?: string }
	| { id: number | bigint; kind: 'stats'; stats: Record<string, number | bigint>;
		message?: string }
	| { id: number | bigint | null; kind: 'error'; error: string; message?: string };

/** Decodes and checks one response payload (without its length prefix). */
export declare function decodeResponse(payload: Uint8Array): DecodedResponse;

/* ---- hmacd-v1 signing (canon.js, auth.js) ---- */

/** An item to sign: a V1Item whose sig is ignored. */
export type SignableItem = Omit<V1Item, 'sig' | 'scheme'> & { sig?: Uint8Array };

/** The canonical string of an item (PROTOCOL.md section 8). Never log it. */
export declare function canonical(item: SignableItem): Buffer;
/** SHA-256 (a string is UTF-8). */
export declare function sha256(bytes: string | Uint8Array): Buffer;
/** HMAC-SHA256(secret, canonical(item)); secret: 16..64 bytes, or their standard base64. */
export declare function signItem(secret: Uint8Array | string, item: SignableItem): Buffer;

export interface Authorization {
	tenant: string;
	epoch: number | bigint;
	ts: number | bigint;
	/** '' when absent */
	nonce: string;
	signedHeaders: string[];
	sig: Buffer;
}

/** Parses an HMACD-V1 Authorization value (PROTOCOL.md 13.1); null if it is not one. */
export declare function parseAuthorization(value: string): Authorization | null;

export declare function formatAuthorization(a: {
	tenant: string;
	epoch: number | bigint | string;
	ts: number | bigint | string;
	nonce?: string | null;
	signedHeaders?: ReadonlyArray<string>;
	sig: Uint8Array;
}): string;

export interface SignRequestOptions {
	secret: Uint8Array | string;
	tenant: string;
	/** the container the request is addressed to */
	container: string;
	epoch: number | bigint;
	method: string;
	/** the URL (path, query and host come from it) */
	url?: string | URL;
	/** or the request target exactly as sent */
	path?: string;
	headers?: HeadersLike;
	body?: string | Uint8Array | null;
	ts?: number | bigint;
	/** default: 16 random bytes in hex; null: none */
	nonce?: string | null;
	/** default: host, plus content-type with a body */
	signedHeaders?: ReadonlyArray<string>;
}

/** Signs an HTTP request (PROTOCOL.md 13.2): the Authorization value to send. */
export declare function signRequest(opts: SignRequestOptions): string;

/* ---- the middleware (express.js, fastify.js) ---- */

/** What the middleware puts on a verified request (req.hmacd). */
export interface V1Identity {
	scheme: 'hmacd-v1';
	tenant: string;
	container: string;
	epoch: number | bigint;
	ts: number | bigint;
	/** '' when the signature has none */
	nonce: string;
}

export interface Rfc9421Identity {
	scheme: 'rfc9421';
	tenant: string;
	container: string;
	label: string | undefined;
	keyid: string | undefined;
	created: number | undefined;
	nonce: string | undefined;
}

export type Identity = V1Identity | Rfc9421Identity;

/** One refusal, as the log option receives it. Never holds a signature or a nonce. */
export interface RefusalEvent {
	status: 400 | 401 | 413 | 500 | 503;
	/** a verdict name, NO_AUTHORIZATION, ..., TOO_LARGE, HMACD_ECONN, ..., SETUP_ERROR */
	reason: string;
	tenant?: string;
	container?: string;
	method: string;
	path: string;
	detail?: string;
	/** captureDir: the capture file written for this refusal (hmacctl explain --request FILE) */
	capture?: string;
	/** captureDir: why no capture file was written (the directory full: said once) */
	captureError?: string;
}

/** What the middleware needs of a client. */
export interface Verifier {
	verify(item: VerifyItem): Promise<VerdictCode>;
}

/*
 * A function of the framework's request. Its parameter is bivariant (the method-syntax trick of
 * React's types), so a function written for the framework's full request type (Express's
 * Request, Fastify's FastifyRequest) is accepted where the structural type below is declared.
 */
type RequestFn<Req, R> = { fn(req: Req): R }['fn'];
type LogFn<Req> = { fn(event: RefusalEvent, req: Req): void }['fn'];

export interface MiddlewareOptions<Req = IncomingMessage> {
	client: Verifier;
	/** the route parameter holding the container (default 'id') */
	param?: string;
	/** largest body in bytes (default 1 MiB): 413 beyond */
	limit?: number;
	/** rfc9421: the tenant (default: the X-Tenant header) */
	tenant?: string | RequestFn<Req, string | undefined>;
	/** rfc9421: @scheme; default: the connection's (TLS: https, else http) */
	uriScheme?: 'http' | 'https' | RequestFn<Req, 'http' | 'https'>;
	/** rfc9421: believe X-Forwarded-Proto (a proxy in front sets it); default false */
	trustProxy?: boolean;
	/** rfc9421: which signature to verify when there are several */
	label?: string;
	/** each refusal (default: one console.warn line) */
	log?: LogFn<Req>;
	/**
	 * off by default: write a capture file in this directory for each request hmacd refused
	 * (a 401 from its verdict), for `hmacctl explain --request FILE`. The directory must exist,
	 * not be a symlink, belong to the process's user and not be writable by group or others
	 * (an Error at start-up otherwise).
	 */
	captureDir?: string;
	/** at most this many capture files in captureDir (default 100) */
	captureMax?: number;
}

/** The request an Express middleware receives, as far as hmacd uses it. */
export type ExpressRequestLike = IncomingMessage & {
	originalUrl?: string;
	body?: unknown;
	rawBody?: Buffer;
	hmacd?: Identity;
};

export type ExpressMiddleware = (req: ExpressRequestLike, res: ServerResponse,
	next: (err?: unknown) => void) => Promise<void>;

/** The Express 4/5 middleware (PROTOCOL.md 13.3 and 13.5). Throws TypeError for a bad option. */
export declare function hmacdExpress(opts: MiddlewareOptions<ExpressRequestLike>):
	ExpressMiddleware;
export { hmacdExpress as express };

/**
 * The `verify` option of Express's body parsers, so that a parser mounted before the
 * middleware keeps the raw bytes: app.use(express.json({ verify: hmacd.keepRawBody })).
 */
export declare function keepRawBody(req: IncomingMessage, res: ServerResponse, buf: Buffer): void;

/** The Fastify request, as far as hmacd uses it (the log and option functions get it). */
export interface FastifyRequestLike {
	raw: IncomingMessage;
	method: string;
	url: string;
	params: unknown;
	headers: IncomingMessage['headers'];
	log: { warn(obj: unknown, msg?: string): void };
	rawBody?: Buffer | null;
	hmacd?: Identity | null;
}

export type FastifyOptions = MiddlewareOptions<FastifyRequestLike>;

/**
 * The Fastify 4/5 plugin: app.register(hmacd.fastify, {client, param}) in the scope of the
 * routes it protects. request.hmacd and request.rawBody on success.
 */
export declare function hmacdFastify(instance: any, opts: FastifyOptions,
	done: (err?: Error) => void): void;
export { hmacdFastify as fastify };

declare module 'fastify' {
	interface FastifyRequest {
		/** set by the hmacd plugin on a verified request */
		hmacd: Identity | null;
		/** the body as received and verified (hmacd plugin) */
		rawBody: Buffer | null;
	}
}

declare global {
	namespace Express {
		interface Request {
			/** set by the hmacd middleware on a verified request */
			hmacd?: Identity;
			/** the body as received and verified (hmacd middleware) */
			rawBody?: Buffer;
		}
	}
}

/* ---- RFC 8941 structured fields (sfv.js) ---- */

export declare namespace sfv {
	type BareItem =
		| { type: 'integer'; value: number }
		/** a decimal in thousandths (1.5 is 1500) */
		| { type: 'decimal'; value: number }
		| { type: 'string'; value: string }
		| { type: 'token'; value: string }
		| { type: 'bytes'; value: Buffer }
		| { type: 'boolean'; value: boolean };
	type Parameters = Map<string, BareItem>;
	interface Item { bare: BareItem; params: Parameters }
	interface InnerList { inner: Item[]; params: Parameters }
	type Member = Item | InnerList;
	type List = Member[];
	type Dictionary = Map<string, Member>;
	type Kind = 'item' | 'list' | 'dictionary';

	class SfError extends Error {
		constructor(message: string);
	}

	/** hmacd's capacity limits (proto/sfv.h) */
	const LIMITS: Readonly<{ members: number; inner: number; params: number; itemPool: number;
		paramPool: number }>;

	const sf: Readonly<{
		integer(value: number): BareItem;
		decimal(thousandths: number): BareItem;
		string(value: string): BareItem;
		token(value: string): BareItem;
		bytes(value: Uint8Array): BareItem;
		boolean(value: boolean): BareItem;
		item(bare: BareItem, params?: Parameters): Item;
		inner(items: Item[], params?: Parameters): InnerList;
	}>;

	/** Parses a field value (one line or its lines in order). Throws SfError. */
	function parse(value: string | ReadonlyArray<string>, kind: 'item'): Item;
	function parse(value: string | ReadonlyArray<string>, kind: 'list'): List;
	function parse(value: string | ReadonlyArray<string>, kind: 'dictionary'): Dictionary;

	function serializeBare(b: BareItem): string;
	function serializeParams(params: Parameters | Readonly<Record<string, BareItem>>): string;
	function serializeMember(m: Member): string;
	function serializeList(list: List): string;
	function serializeDictionary(dict: Dictionary): string;
	function serialize(value: Item, kind: 'item'): string;
	function serialize(value: List, kind: 'list'): string;
	function serialize(value: Dictionary, kind: 'dictionary'): string;
}

/* ---- RFC 9421 with hmac-sha256 (rfc9421.js) ---- */

export declare namespace rfc9421 {
	/** structured types of the fields ;sf accepts */
	const SF_TYPES: Readonly<Record<string, sfv.Kind>>;

	/** a request: {method, url} or {method, authority, path, scheme?}, plus headers */
	interface RequestLike {
		method: Bytes;
		url?: string | URL;
		authority?: Bytes;
		path?: Bytes;
		/** default: the URL's, else https */
		scheme?: string;
		headers?: HeadersLike | null;
	}

	interface Request {
		method: string;
		authority: string;
		path: string;
		scheme: string;
		headers: Array<[string, string]>;
	}

	/** Every [lower-case name, value] of a header collection, in order. */
	function headerPairs(headers: HeadersLike | null | undefined): Array<[string, string]>;
	/** The request a base is built from. Throws HmacdError HMACD_EMALFORMED. */
	function requestOf(opts: RequestLike): Request;
	/** A component identifier ("@method", "content-digest;sf", '@query-param;name=id'). */
	function parseComponent(spec: string): sfv.Item;
	/** The signature base a Signature-Input covers on a request (for debugging a signer). */
	function signatureBase(request: RequestLike, signatureInput: string,
		opts?: { label?: string }): string;
	/** RFC 9530 Content-Digest of a body: `sha-256=:...:`. */
	function contentDigest(body: string | Uint8Array | null | undefined,
		alg?: 'sha-256' | 'sha-512'): string;

	interface SignOptions extends RequestLike {
		body?: string | Uint8Array | null;
		/** 16..64 bytes, or their standard base64 */
		key?: Uint8Array | string;
		secret?: Uint8Array | string;
		/** the key id hmacd knows the key by */
		keyid: string;
		components?: ReadonlyArray<string>;
		created?: number | Date | null;
		expires?: number | Date | null;
		nonce?: string | null;
		alg?: string | null;
		tag?: string | null;
		label?: string;
	}

	/** The fields to add to the request (Content-Digest when content-digest is covered). */
	interface SignedFields {
		'Signature-Input': string;
		Signature: string;
		'Content-Digest'?: string;
	}

	function sign(opts: SignOptions): SignedFields;
}
