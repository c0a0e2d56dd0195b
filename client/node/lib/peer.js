/*
 * peer.js - who is answering on hmacd's socket (issue 10, finding 3).
 *
 * A local user who binds the socket path first (in /tmp, say, or while hmacd is down) would get
 * every request and could answer OK to all of them. So on each new connection, before the first
 * byte of a frame is written, the client reads the server's kernel credentials (SO_PEERCRED,
 * through the small N-API addon in src/peercred.c) and goes on only if:
 *   - serverUser was given: the server's uid is that user's;
 *   - otherwise: the server's uid is 0 (root) or the owner of the socket's directory, read at
 *     connect time (whoever may write that directory could replace the socket anyway).
 * Anything else, the credentials not readable included (no addon, a failing getsockopt), refuses
 * the connection: the client fails its calls with HMACD_EPEER, never with a verdict.
 */
'use strict';

const { execFileSync } = require('node:child_process');
const { statSync } = require('node:fs');
const { dirname } = require('node:path');
const { getSystemErrorName } = require('node:util');

/* largest uid: uid_t is 32 bits and (uid_t)-1 means "no uid" */
const MAX_UID = 0xfffffffe;
const USER_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/;

let addon = null;

/* peercred(fd) of the addon; throws when the addon cannot be loaded (not built). */
function peercred(fd) {
	if (addon === null) {
		try {
			addon = require('../build/Release/peercred.node');
		} catch (err) {
			throw new Error('the peercred addon (build/Release/peercred.node) is not built: ' +
				'run `npm rebuild hmacd` (node-gyp, a C compiler and Node\'s headers); ' +
				`loading it said: ${err.message}`, { cause: err });
		}
	}
	try {
		return addon.peercred(fd);
	} catch (err) {
		if (Number.isInteger(err.errno))
			err.message += ` (${getSystemErrorName(-err.errno)})`;
		throw err;
	}
}

/* The uid of user `name` through NSS (`getent passwd`); throws TypeError for an unknown user. */
function uidOfName(name) {
	let out;
	try {
		out = execFileSync('getent', ['passwd', name], { encoding: 'utf8',
			stdio: ['ignore', 'pipe', 'ignore'], timeout: 10000 });
	} catch (err) {
		if (err.status === 2)
			throw new TypeError(`serverUser: there is no user named ${name}`);
		throw new Error(`serverUser: cannot look user ${name} up with getent: ${err.message}`,
			{ cause: err });
	}
	const f = out.split('\n')[0].split(':');
	if (f.length < 7 || f[0] !== name || !/^[0-9]+$/.test(f[2]) || Number(f[2]) > MAX_UID)
		throw new Error(`serverUser: getent passwd ${name} gave an unexpected line`);
	return Number(f[2]);
}

/**
 * The rule a client applies to the server of each connection, from its serverUser option:
 * undefined (the default rule), a uid (a number or a string of digits), or a user name (looked
 * up now). Returns {uid, user} (uid null for the default rule). Throws TypeError for a value that
 * is neither, or a name no user has.
 */
function peerRule(serverUser) {
	if (serverUser === undefined)
		return { uid: null, user: undefined };
	if (typeof serverUser === 'string' && /^[0-9]+$/.test(serverUser))
		return peerRule(Number(serverUser));
	if (typeof serverUser === 'number') {
		if (!Number.isSafeInteger(serverUser) || serverUser < 0 || serverUser > MAX_UID)
			throw new TypeError(`serverUser: ${serverUser} is not a uid (0..${MAX_UID})`);
		return { uid: serverUser, user: serverUser };
	}
	if (typeof serverUser !== 'string' || serverUser.length > 256 || !USER_NAME_RE.test(serverUser))
		throw new TypeError('serverUser: a user name or a numeric uid');
	return { uid: uidOfName(serverUser), user: serverUser };
}

/**
 * Checks the server at the other end of a connected socket (a net.Socket to socketPath) against
 * rule (from peerRule()). Returns null when it may be trusted, else why not: a message that
 * names the uids and the directory, never a secret.
 */
function peerRefusal(socket, socketPath, rule) {
	let cred;
	try {
		const fd = socket._handle?.fd;
		if (!Number.isInteger(fd) || fd < 0)
			throw new Error('the socket has no file descriptor');
		cred = peercred(fd);
	} catch (err) {
		return `hmacd peer check: cannot read the server's credentials: ${err.message}`;
	}
	if (rule.uid !== null) {
		if (cred.uid === rule.uid)
			return null;
		const named = typeof rule.user === 'string' ? ` (user ${rule.user})` : '';
		return `hmacd peer check: server uid ${cred.uid} is not the expected uid ${rule.uid}` +
			`${named} set by serverUser`;
	}
	if (cred.uid === 0)
		return null;
	const dir = dirname(socketPath);
	let owner;
	try {
		owner = statSync(dir).uid;
	} catch (err) {
		return `hmacd peer check: cannot read the owner of ${dir}, the socket's directory: ` +
			err.message;
	}
	if (cred.uid === owner)
		return null;
	const expected = owner === 0 ? `uid 0 (owner of ${dir} or root)` :
		`uid ${owner} (owner of ${dir}) or 0 (root)`;
	return `hmacd peer check: server uid ${cred.uid} is not the expected ${expected}; ` +
		'set serverUser to trust another user';
}

module.exports = {
	peerRule,
	peerRefusal,
};
