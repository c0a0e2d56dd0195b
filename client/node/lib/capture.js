/*
 * capture.js - capture files (issue 15) for the Express middleware and the Fastify plugin
 * (through middleware.js): with captureDir set, a request that hmacd refused (a verdict other
 * than OK and UNAVAILABLE, so a 401) is written to that directory as JSON, in the format
 * PROTOCOL.md documents under "Capture files", for `hmacctl explain --request FILE`.
 *
 * Every byte of such a request is an attacker's choice, so: the body is never written (only
 * its length, SHA-256 and SHA-512); the values of headers the signature does not cover are
 * replaced by "[redacted]"; files are created exclusively ('wx' with O_NOFOLLOW, mode 0600) in
 * a directory that must belong to the process's user and not be writable by group or others
 * (checked at start-up, a thrown Error, and again before each write, skipped if it no longer
 * holds); and their number is bounded (captureMax, default 100, counting the capture files
 * already in the directory when the process first used it, shared by every middleware of the
 * process on that directory). A capture never changes the response; an error writing one is
 * reported in the refusal's log event, never thrown.
 *
 * Strings in the file are the received bytes decoded as UTF-8 (a byte that is not valid UTF-8
 * becomes U+FFFD); Node hands header values over one byte per character (latin1).
 */
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const { parse } = require('./sfv.js');

const DEFAULT_CAPTURE_MAX = 100;
const REDACTED = '[redacted]';
/* the headers whose values a capture always keeps: the signature, and what explain needs to
 * describe the authority and the body */
const KEPT = new Set(['authorization', 'signature', 'signature-input', 'host', 'content-digest',
	'content-type']);
const PREFIX = 'hmacd-capture-';
const SUFFIX = '.json';

/* The capture files of one directory (path, device, inode), for the whole process. */
const budgets = new Map();

/* A received string (one byte per character) as the UTF-8 text of those bytes. */
function text(s) {
	return Buffer.from(String(s), 'latin1').toString('utf8');
}

/*
 * {dev, ino} of dir when it is a directory (not a symlink) owned by this process's user and
 * not writable by group or others; else an Error saying why (stat: fs.lstatSync's result).
 */
function judgeDir(dir, st) {
	let why;
	if (st.isSymbolicLink())
		why = 'it is a symlink';
	else if (!st.isDirectory())
		why = 'it is not a directory';
	else if (typeof process.geteuid === 'function' && st.uid !== BigInt(process.geteuid()))
		why = `it belongs to uid ${st.uid}, not ${process.geteuid()}`;
	else if ((st.mode & 0o022n) !== 0n)
		why = `it is writable by group or others (mode ${(st.mode & 0o777n).toString(8)})`;
	if (why !== undefined) {
		return new Error(`captureDir ${JSON.stringify(dir)} must be an existing directory, ` +
			'not a symlink, owned by this process\'s user and not writable by group or ' +
			`others: ${why}`);
	}
	return null;
}

/* The header names a Signature-Input covers: the signature `label`, or without a label every
 * signature's (the only one, usually). None if it does not parse. */
function coveredRfc9421(signatureInput, label) {
	const names = new Set();
	let d;
	try {
		d = parse(signatureInput, 'dictionary');
	} catch {
		return names;
	}
	const members = label !== undefined ? [d.get(label)] : [...d.values()];
	for (const m of members) {
		if (m === undefined || !Array.isArray(m.inner))
			continue;
		for (const it of m.inner) {
			if (it.bare.type === 'string' && !it.bare.value.startsWith('@'))
				names.add(it.bare.value.toLowerCase());
		}
	}
	return names;
}

/*
 * A capturer for captureDir / captureMax (`who` names the caller in messages): checks the
 * directory now (throws an Error if it is not fit, a TypeError for a bad captureMax) and
 * returns {capture(c)}, whose promise resolves with {capture: path} or {captureError: why} or
 * {} (the directory full, already said), and never rejects.
 */
function createCapturer(captureDir, captureMax, who) {
	if (typeof captureDir !== 'string' || captureDir === '')
		throw new TypeError(`${who}: captureDir is a directory path`);
	if (!Number.isSafeInteger(captureMax) || captureMax < 1)
		throw new TypeError(`${who}: captureMax is a positive number of files`);
	const dir = path.resolve(captureDir);
	let st;
	try {
		st = fs.lstatSync(dir, { bigint: true });
	} catch (err) {
		throw new Error(`${who}: captureDir ${JSON.stringify(dir)}: ${err.code ?? err.message}`);
	}
	const bad = judgeDir(dir, st);
	if (bad !== null)
		throw new Error(`${who}: ${bad.message}`);
	const key = `${dir}\0${st.dev}\0${st.ino}`;
	let budget = budgets.get(key);
	if (budget === undefined) {
		const files = fs.readdirSync(dir).filter((n) => n.startsWith(PREFIX) &&
			n.endsWith(SUFFIX)).length;
		budget = { files, warned: false };
		budgets.set(key, budget);
	}
	const { dev, ino } = st;

	/* Creates a new capture file holding data; resolves with its path. */
	async function write(receivedAt, data) {
		const now = await fs.promises.lstat(dir, { bigint: true });
		const unfit = judgeDir(dir, now);
		if (unfit !== null)
			throw unfit;
		if (now.dev !== dev || now.ino !== ino)
			throw new Error(`${dir} is not the directory checked at start-up`);
		const file = path.join(dir,
			`${PREFIX}${receivedAt}-${crypto.randomBytes(8).toString('hex')}${SUFFIX}`);
		const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
		const fh = await fs.promises.open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
		try {
			await fh.writeFile(data);
		} catch (err) {
			await fh.close().catch(() => {});
			await fs.promises.unlink(file).catch(() => {});
			throw err;
		}
		await fh.close();
		return file;
	}

	/*
	 * c: {scheme, tenant?, container, label?, method, uriScheme, authority, path, headers
	 * ([name, value] of every field, in arrival order), covered (a Set of names), body (a
	 * Buffer), verdict (its name), receivedAt (unix seconds)}.
	 */
	async function capture(c) {
		try {
			const doc = { hmacd_capture: 1, captured_at: c.receivedAt, scheme: c.scheme };
			if (c.tenant !== undefined)
				doc.tenant = c.tenant;
			doc.container = c.container;
			if (c.label !== undefined)
				doc.label = c.label;
			Object.assign(doc, {
				method: text(c.method),
				uri_scheme: c.uriScheme,
				authority: text(c.authority),
				path: text(c.path),
				headers: c.headers.map(([name, value]) => {
					const n = name.toLowerCase();
					return [text(n), KEPT.has(n) || c.covered.has(n) ? text(value) : REDACTED];
				}),
				body_length: c.body.length,
				body_sha256: crypto.createHash('sha256').update(c.body).digest('base64'),
				body_sha512: crypto.createHash('sha512').update(c.body).digest('base64'),
				verdict: c.verdict,
			});
			const data = `${JSON.stringify(doc)}\n`;
			if (budget.files >= captureMax) {
				if (budget.warned)
					return {};
				budget.warned = true;
				return { captureError: `no more captures: ${dir} holds ${budget.files} ` +
					`capture files (captureMax ${captureMax}) until the process restarts` };
			}
			budget.files++;
			try {
				return { capture: await write(c.receivedAt, data) };
			} catch (err) {
				budget.files--;
				throw err;
			}
		} catch (err) {
			return { captureError: `capture not written: ${err?.message ?? err}` };
		}
	}

	return { capture };
}

module.exports = {
	DEFAULT_CAPTURE_MAX,
	coveredRfc9421,
	createCapturer,
};
