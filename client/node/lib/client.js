/*
 * client.js - the pipelined, promise-based hmacd client.
 *
 * verify(item) encodes the item at once into the verify frame being filled for this tick and
 * returns a promise of its verdict; a setImmediate() flush seals that frame (more than one when
 * maxBatch items or maxFrame bytes are reached) and writes it on the least loaded of the
 * client's connections. So every verify() call made while Node handles one batch of socket
 * events (for an app server: every request that arrived together) shares one frame and one
 * round trip, and frames are pipelined without waiting for answers. Answers come back in order
 * on each connection and must carry the id of the oldest frame in flight there.
 *
 * Reconnection follows the rule of the C client (client/c/include/hmacd/client.h): a request is
 * sent again only if none of its bytes can have reached the daemon. In Node that means: frames
 * are handed to a socket only once it is connected; a frame waiting for a connection moves to the
 * next one; a frame handed to a socket that then broke is rejected with HMACD_ECONN, never
 * resent, because the daemon may have judged it and recorded its nonce. A connection that broke
 * (the daemon restarted) is replaced by the next call; while the daemon is down every call fails
 * fast with HMACD_ECONN, which a middleware turns into 503.
 *
 * Peer check: on each new connection, before a frame is written, the server's credentials are
 * read (SO_PEERCRED) and must be those of the user the client trusts (lib/peer.js); otherwise
 * the connection is closed unused and its frames are rejected with HMACD_EPEER.
 *
 * Timeouts: each frame has a deadline of timeoutMs from the call. When the oldest frame of a
 * connection passes it, the connection is dropped and its frames are rejected with
 * HMACD_ETIMEDOUT (later answers could no longer be matched).
 */
'use strict';

const net = require('node:net');

const { HmacdError } = require('./errors.js');
const { peerRefusal, peerRule } = require('./peer.js');
const {
	VERIFY_PREFIX_MAX, Writer, decodeResponse, encodeItem, encodeSimpleFrame, sealVerifyFrame,
} = require('./wire.js');

const DEFAULTS = {
	connections: 1,
	timeoutMs: 5000,
	maxFrame: 1048576,
	maxBatch: 1024,
};

/* The largest answer accepted: far above any real one, so a broken length cannot eat memory. */
const MAX_ANSWER = 64 * 1048576;

/* A FIFO with O(1) shift, for frames in flight. */
class Fifo {
	constructor() {
		this.a = [];
		this.head = 0;
	}

	get length() {
		return this.a.length - this.head;
	}

	push(x) {
		this.a.push(x);
	}

	peek() {
		return this.a[this.head];
	}

	shift() {
		const x = this.a[this.head];
		this.a[this.head++] = undefined;
		if (this.head > 1024 && this.head * 2 > this.a.length) {
			this.a = this.a.slice(this.head);
			this.head = 0;
		}
		return x;
	}

	drain() {
		const all = this.a.slice(this.head);
		this.a = [];
		this.head = 0;
		return all;
	}
}

/* Settles a frame's promise(s). A verify frame holds one {resolve, reject} per item. */
function rejectFrame(f, err) {
	if (f.kind === 'verify') {
		for (const e of f.entries)
			e.reject(err);
	} else {
		f.reject(err);
	}
}

/* Whether answer r can be the answer to frame f (an error response answers anything). */
function answerFits(f, r) {
	if (r.kind === 'error')
		return true;
	if (f.kind === 'verify')
		return r.kind === 'results' && r.results.length === f.entries.length;
	return r.kind === (f.kind === 'ping' ? 'pong' : 'stats');
}

function answerFrame(f, r) {
	if (r.kind === 'error') {
		const err = new HmacdError('HMACD_ESERVER',
			`hmacd refused the request: ${r.error}${r.message ? ` (${r.message})` : ''}`);
		err.serverCode = r.error;
		rejectFrame(f, err);
	} else if (f.kind === 'verify') {
		for (let i = 0; i < f.entries.length; i++)
			f.entries[i].resolve(r.results[i]);
	} else {
		f.resolve(f.kind === 'ping' ? undefined : r.stats);
	}
}

/* One Unix-socket connection and its frames: not yet written (while connecting) and in flight. */
class Connection {
	constructor(client) {
		this.client = client;
		this.socket = null;
		this.open = false;
		this.unsent = [];
		this.inflight = new Fifo();
		this.rbuf = null;
		this.timer = null;
	}

	get load() {
		return this.unsent.length + this.inflight.length;
	}

	send(frames) {
		if (this.open) {
			this.write(frames);
		} else {
			for (const f of frames)
				this.unsent.push(f);
			if (this.socket === null)
				this.connect();
		}
		this.arm();
	}

	write(frames) {
		const s = this.socket;
		if (this.inflight.length === 0)
			s.ref();
		s.cork();
		for (const f of frames) {
			this.inflight.push(f);
			s.write(f.buf);
			f.buf = null;
		}
		s.uncork();
	}

	connect() {
		const s = net.createConnection({ path: this.client.path });
		this.socket = s;
		/* events of a socket already replaced must not touch its successor */
		s.on('connect', () => {
			if (this.socket !== s)
				return;
			/* who answers, before a byte is written (lib/peer.js) */
			const refused = peerRefusal(s, this.client.path, this.client.peer);
			if (refused !== null) {
				this.fail(s, 'HMACD_EPEER', refused);
				return;
			}
			this.open = true;
			const frames = this.unsent;
			this.unsent = [];
			if (frames.length > 0)
				this.write(frames);
			else
				s.unref();
		});
		s.on('data', (chunk) => {
			if (this.socket === s)
				this.onData(chunk);
		});
		/* the daemon answers every complete frame before it closes: after EOF nothing comes */
		s.on('end', () => this.fail(s, 'HMACD_ECONN'));
		s.on('error', (err) => this.fail(s, 'HMACD_ECONN', err.message));
		s.on('close', () => this.fail(s, 'HMACD_ECONN'));
	}

	/*
	 * Drops the connection (if s is still this connection's socket) and rejects its frames with
	 * `code`. A frame written is lost (never resent); one never written could not be sent.
	 */
	fail(s, code, detail) {
		if (this.socket !== s || s === null)
			return;
		const wasOpen = this.open;
		this.socket = null;
		this.open = false;
		this.rbuf = null;
		s.destroy();
		this.disarm();
		const why = detail ? ` (${detail})` : '';
		const path = this.client.path;
		let lost, unsentErr;
		switch (code) {
		case 'HMACD_ECONN':
			lost = new HmacdError(code,
				`connection to hmacd lost before the answer came; not resent${why}`);
			unsentErr = wasOpen ? lost : new HmacdError(code, `cannot connect to hmacd at ${path}${why}`);
			break;
		case 'HMACD_ETIMEDOUT':
			lost = new HmacdError(code, `no answer from hmacd within ${this.client.timeoutMs} ms`);
			unsentErr = lost;
			break;
		case 'HMACD_EPROTO':
			lost = new HmacdError(code, `hmacd answer broke the protocol: ${detail}`);
			unsentErr = lost;
			break;
		case 'HMACD_EPEER':
			/* refused before anything was written: every frame is unsent */
			lost = new HmacdError(code, detail);
			unsentErr = lost;
			break;
		default:
			lost = new HmacdError(code, 'client closed');
			unsentErr = lost;
			break;
		}
		for (const f of this.inflight.drain())
			rejectFrame(f, lost);
		const unsent = this.unsent;
		this.unsent = [];
		for (const f of unsent)
			rejectFrame(f, unsentErr);
	}

	onData(chunk) {
		let buf = this.rbuf === null ? chunk : Buffer.concat([this.rbuf, chunk]);
		let off = 0;
		while (buf.length - off >= 4) {
			const len = buf.readUInt32BE(off);
			if (len > MAX_ANSWER) {
				this.protocolError(`answer of ${len} bytes`);
				return;
			}
			if (buf.length - off - 4 < len)
				break;
			const payload = buf.subarray(off + 4, off + 4 + len);
			off += 4 + len;
			if (!this.onAnswer(payload))
				return;
		}
		this.rbuf = off === buf.length ? null : buf.subarray(off);
		if (this.inflight.length === 0) {
			this.disarm();
			if (this.socket !== null && this.unsent.length === 0)
				this.socket.unref();
		}
	}

	/* One answer for the oldest frame in flight. False if the connection was dropped. */
	onAnswer(payload) {
		const f = this.inflight.peek();
		if (f === undefined) {
			this.protocolError('an answer nobody asked for');
			return false;
		}
		let r;
		try {
			r = decodeResponse(payload);
		} catch (err) {
			this.protocolError(err.message);
			return false;
		}
		if (r.id !== null && r.id !== f.id) {
			this.protocolError(`answer for id ${r.id} while id ${f.id} is the oldest in flight`);
			return false;
		}
		if (!answerFits(f, r)) {
			this.protocolError(`a ${r.kind} answer to a ${f.kind} request`);
			return false;
		}
		this.inflight.shift();
		answerFrame(f, r);
		return true;
	}

	protocolError(what) {
		this.fail(this.socket, 'HMACD_EPROTO', what);
	}

	/* Keeps one timer for the oldest frame's deadline; re-armed lazily when it fires. */
	arm() {
		if (this.timer !== null || !Number.isFinite(this.client.timeoutMs))
			return;
		const head = this.unsent[0] ?? this.inflight.peek();
		if (head === undefined)
			return;
		this.timer = setTimeout(() => this.onTimer(), Math.max(1, head.deadline - Date.now()));
		this.timer.unref();
	}

	disarm() {
		if (this.timer !== null) {
			clearTimeout(this.timer);
			this.timer = null;
		}
	}

	onTimer() {
		this.timer = null;
		const head = this.unsent[0] ?? this.inflight.peek();
		if (head === undefined)
			return;
		if (head.deadline <= Date.now()) {
			this.fail(this.socket, 'HMACD_ETIMEDOUT');
			return;
		}
		this.arm();
	}

	close() {
		this.fail(this.socket, 'HMACD_ECLOSED');
	}
}

/**
 * A client of one hmacd socket.
 *
 * new Client({socket, serverUser, connections, timeoutMs, maxFrame, maxBatch})
 * - socket: path of hmacd's Unix socket (default: $HMACD_SOCKET).
 * - serverUser: the user hmacd runs as, a name (looked up now: an unknown name throws) or a
 *   uid. Each new connection is checked before a byte is written (SO_PEERCRED, lib/peer.js):
 *   the server's uid must be this one; without serverUser, it must be 0 (root) or the owner
 *   of the socket's directory. Otherwise, or if the credentials cannot be read (the peercred
 *   addon not built, say), the connection is closed and its calls reject with HMACD_EPEER.
 * - connections: how many connections to spread frames over (default 1: one connection already
 *   keeps the daemon busy; more help only when the daemon has more threads than one connection
 *   can feed).
 * - timeoutMs: deadline of each call (default 5000; Infinity: none).
 * - maxFrame: largest request payload this client sends (default 1 MiB, the daemon's default
 *   --max-frame). Keep it at or below the daemon's --max-frame: a larger frame makes the daemon
 *   close the connection.
 * - maxBatch: most items per frame (default 1024, the daemon's default --max-batch).
 *
 * Idle connections do not keep the process alive; close() ends them and rejects every pending
 * call with HMACD_ECLOSED.
 */
class Client {
	constructor(opts = {}) {
		const o = { ...DEFAULTS, ...opts };
		o.socket ??= process.env.HMACD_SOCKET;
		if (typeof o.socket !== 'string' || o.socket === '')
			throw new TypeError('socket: the path of hmacd\'s socket');
		if (!Number.isInteger(o.connections) || o.connections < 1)
			throw new TypeError('connections must be an integer >= 1');
		if (!(o.timeoutMs > 0))
			throw new TypeError('timeoutMs must be > 0 (Infinity: no deadline)');
		if (!Number.isInteger(o.maxFrame) || o.maxFrame < 1024 || o.maxFrame > 67108864)
			throw new TypeError('maxFrame must be 1024..67108864');
		if (!Number.isInteger(o.maxBatch) || o.maxBatch < 1)
			throw new TypeError('maxBatch must be an integer >= 1');
		this.path = o.socket;
		this.peer = peerRule(o.serverUser);
		this.timeoutMs = o.timeoutMs;
		this.maxFrame = o.maxFrame;
		this.maxBatch = o.maxBatch;
		this.conns = Array.from({ length: o.connections }, () => new Connection(this));
		this.nextId = 1;
		this.sealed = [];   /* frames ready for the next flush */
		this.filling = null; /* the verify frame being filled: {w, entries, deadline} */
		this.scheduled = false;
		this.closed = false;
	}

	/**
	 * Verifies one item (see wire.js encodeItem() for its fields) and resolves with its verdict
	 * code (Verdict.OK = 0; anything else means reject). Rejects with HmacdError: HMACD_EINVAL
	 * (the item cannot be encoded), HMACD_ETOOBIG, HMACD_ECONN, HMACD_EPEER, HMACD_ETIMEDOUT,
	 * HMACD_EPROTO, HMACD_ESERVER, HMACD_ECLOSED.
	 */
	verify(item) {
		if (this.closed)
			return Promise.reject(new HmacdError('HMACD_ECLOSED', 'client closed'));
		let f = this.filling;
		if (f === null) {
			f = this.newVerifyFrame();
			this.filling = f;
		}
		const start = f.w.len;
		try {
			encodeItem(f.w, item);
		} catch (err) {
			f.w.len = start;
			return Promise.reject(new HmacdError('HMACD_EINVAL', err.message, { cause: err }));
		}
		if (f.w.len - 4 > this.maxFrame) {
			/* the item does not fit: move it to a frame of its own, if it fits there */
			const bytes = Buffer.from(f.w.buf.subarray(start, f.w.len));
			f.w.len = start;
			if (bytes.length + VERIFY_PREFIX_MAX - 4 > this.maxFrame)
				return Promise.reject(new HmacdError('HMACD_ETOOBIG',
					`item of ${bytes.length} bytes does not fit in a ${this.maxFrame}-byte frame`));
			this.seal();
			f = this.newVerifyFrame();
			this.filling = f;
			f.w.raw(bytes);
		}
		const p = new Promise((resolve, reject) => f.entries.push({ resolve, reject }));
		if (f.entries.length >= this.maxBatch)
			this.seal();
		this.schedule();
		return p;
	}

	/** Verifies several items; resolves with their verdicts in order (see verify()). */
	verifyBatch(items) {
		return Promise.all(items.map((it) => this.verify(it)));
	}

	/** Resolves when hmacd answers a ping. Rejects as verify(). */
	ping() {
		return this.simple('ping');
	}

	/** Resolves with hmacd's counters {name: uint} (PROTOCOL.md section 12). */
	stats() {
		return this.simple('stats');
	}

	/** Closes the connections; pending and later calls reject with HMACD_ECLOSED. */
	close() {
		if (this.closed)
			return;
		this.closed = true;
		const err = new HmacdError('HMACD_ECLOSED', 'client closed');
		if (this.filling !== null) {
			for (const e of this.filling.entries)
				e.reject(err);
			this.filling = null;
		}
		for (const f of this.sealed)
			rejectFrame(f, err);
		this.sealed = [];
		for (const c of this.conns)
			c.close();
	}

	newVerifyFrame() {
		return {
			kind: 'verify',
			w: new Writer(4096, VERIFY_PREFIX_MAX),
			entries: [],
			deadline: Date.now() + this.timeoutMs,
		};
	}

	simple(op) {
		if (this.closed)
			return Promise.reject(new HmacdError('HMACD_ECLOSED', 'client closed'));
		return new Promise((resolve, reject) => {
			const id = this.takeId();
			this.sealed.push({
				kind: op, id, buf: encodeSimpleFrame(id, op), resolve, reject,
				deadline: Date.now() + this.timeoutMs,
			});
			this.schedule();
		});
	}

	takeId() {
		const id = this.nextId;
		this.nextId = id >= Number.MAX_SAFE_INTEGER ? 1 : id + 1;
		return id;
	}

	seal() {
		const f = this.filling;
		this.filling = null;
		if (f === null || f.entries.length === 0)
			return;
		f.id = this.takeId();
		f.buf = sealVerifyFrame(f.w, f.id, f.entries.length);
		f.w = null;
		this.sealed.push(f);
	}

	schedule() {
		if (this.scheduled)
			return;
		this.scheduled = true;
		setImmediate(() => this.flush());
	}

	flush() {
		this.scheduled = false;
		this.seal();
		const frames = this.sealed;
		this.sealed = [];
		if (frames.length === 0)
			return;
		let best = this.conns[0];
		for (const c of this.conns) {
			if (c.load < best.load || (c.load === best.load && c.open && !best.open))
				best = c;
		}
		best.send(frames);
	}
}

module.exports = {
	Client,
};
