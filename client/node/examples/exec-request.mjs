/*
 * exec-request.mjs - the body of POST /containers/{id}/exec and the answer to it, as every
 * hmacd example app has them (README.md, "Example apps"):
 *
 *   {"cmd": [string, ...] (1 to 64, required), "tty": boolean (optional, default false)}
 *
 * in UTF-8 (no byte order mark), each string of cmd at most 4096 characters (code points), the
 * first not empty (Go's and Python's examples bind it alike)
 *
 * and nothing else. An unknown field is refused rather than ignored, so a field the handler does
 * not know (say "container" or "privileged", or "CMD") can never be smuggled past it; so is a
 * key given twice at any depth (JSON.parse would keep the last one, another parser the first).
 * It binds the bytes hmacd verified (req.rawBody), never a body parsed by something else.
 */

export class BadBody extends Error {}

const ALLOWED = new Set(['cmd', 'tty']);
const MAX_ARGS = 64;
const MAX_ARG_LEN = 4096;

/* Whether JSON text (already known to parse) repeats a key in one of its objects. */
function repeatsKey(text) {
	const open = []; /* per open object its keys (a Set), per open array null */
	let keyNext = false;
	for (let i = 0; i < text.length; i++) {
		const c = text[i];
		if (c === '"') {
			let j = i + 1;
			while (text[j] !== '"')
				j += text[j] === '\\' ? 2 : 1;
			if (keyNext) {
				const keys = open.at(-1);
				const k = JSON.parse(text.slice(i, j + 1));
				if (keys.has(k))
					return true;
				keys.add(k);
				keyNext = false;
			}
			i = j;
		} else if (c === '{') {
			open.push(new Set());
			keyNext = true;
		} else if (c === '[') {
			open.push(null);
		} else if (c === '}' || c === ']') {
			open.pop();
		} else if (c === ',') {
			keyNext = open.at(-1) instanceof Set;
		}
	}
	return false;
}

/**
 * The exec request in raw (a Buffer or a string): {cmd, tty}, tty filled in. Throws BadBody,
 * whose message says what is wrong (for the app's log; it never echoes the body).
 */
export function bindExecRequest(raw) {
	let text, doc;
	try {
		/* ignoreBOM keeps a byte order mark in the text, where JSON.parse refuses it */
		text = Buffer.isBuffer(raw) ?
			new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(raw) : String(raw);
		doc = JSON.parse(text);
	} catch {
		throw new BadBody('not JSON');
	}
	if (repeatsKey(text))
		throw new BadBody('a key is repeated');
	if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
		throw new BadBody('not an object');
	if (Object.keys(doc).some((k) => !ALLOWED.has(k)))
		throw new BadBody('an unknown field');
	const { cmd, tty = false } = doc;
	if (!Array.isArray(cmd) || cmd.length < 1 || cmd.length > MAX_ARGS ||
	    !cmd.every((a) => typeof a === 'string'))
		throw new BadBody(`cmd is not a list of 1 to ${MAX_ARGS} strings`);
	/* a string's length counts UTF-16 units: count code points, as Go and Python do */
	if (cmd.some((a) => a.length > MAX_ARG_LEN && [...a].length > MAX_ARG_LEN))
		throw new BadBody(`cmd holds a string over ${MAX_ARG_LEN} characters`);
	if (cmd[0] === '')
		throw new BadBody('cmd\'s first string is empty');
	if (typeof tty !== 'boolean')
		throw new BadBody('tty is not a boolean');
	return { cmd, tty };
}

/* The 400 of a body that does not bind: the same whatever is wrong with it. */
export const BAD_REQUEST = { error: 'bad_request' };

/**
 * The answer to a bound exec request (200): the tenant and container as verified, and the
 * command. A real server would run it in the container; the examples only describe it.
 */
export function execAnswer(tenant, container, exec) {
	return { tenant, container, cmd: exec.cmd, tty: exec.tty };
}

/**
 * What every example app takes from its environment (README.md, "Example apps"): socket
 * (HMACD_SOCKET, default /run/hmacd/hmacd.sock), port (PORT, default 8080; the app listens on
 * 127.0.0.1), serverUser (HMACD_SERVER_USER: the user hmacd runs as when it is neither root nor
 * the owner of the socket's directory) and trustProxy (HMACD_TRUST_PROXY=1: RFC 9421's @scheme
 * from X-Forwarded-Proto, for an app reached only through a proxy that sets that header on
 * every request, one that terminates TLS say; unset or 0, the default: the app's own
 * connection, plain HTTP, and the header is ignored, since any client could send one). Throws
 * an Error for a PORT that is not a port number or an HMACD_TRUST_PROXY other than '', 0 and 1.
 */
export function configFromEnv(env = process.env) {
	const port = env.PORT || '8080';
	if (!/^[0-9]{1,5}$/.test(port) || Number(port) > 65535)
		throw new Error(`PORT ${JSON.stringify(port)} is not a port number`);
	const trust = env.HMACD_TRUST_PROXY ?? '';
	if (trust !== '' && trust !== '0' && trust !== '1')
		throw new Error(`HMACD_TRUST_PROXY ${JSON.stringify(trust)} is not 0 or 1`);
	return {
		socket: env.HMACD_SOCKET || '/run/hmacd/hmacd.sock',
		port: Number(port),
		serverUser: env.HMACD_SERVER_USER || undefined,
		trustProxy: trust === '1',
	};
}
