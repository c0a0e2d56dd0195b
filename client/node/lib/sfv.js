/*
 * sfv.js - RFC 8941 Structured Field Values: the parser and serializer the RFC 9421 signer needs.
 *
 * A signature base holds the *serialized* form of what it covers (component identifiers, the
 * signature parameters, fields signed with ;sf or ;key), so the signer must serialize exactly as
 * RFC 8941 section 4.1 says, and parse exactly as section 4.2 says. The choices where the RFC
 * leaves room are those of proto/sfv.h, so that this signer and hmacd build the same bytes:
 *   - a Byte Sequence may lack its '=' padding (added back when serializing); non-zero pad bits
 *     are refused (a second spelling of the same bytes);
 *   - a key repeated in a Dictionary or in Parameters overwrites the earlier value in place;
 *   - several field lines are parsed as their ", " join would be, one line at a time: a String
 *     cannot span two lines, an empty line is malformed;
 *   - the daemon's capacity limits (LIMITS below) hold: a field beyond them is malformed there,
 *     so it is malformed here too, or a signer could sign what the daemon refuses.
 *
 * Representation (plain objects, no classes):
 *   bare item:  {type: 'integer'|'decimal'|'string'|'token'|'bytes'|'boolean', value}
 *               integer: a safe Number; decimal: a Number of thousandths (1.5 is 1500);
 *               string, token: a JS string (ASCII); bytes: a Buffer; boolean: true/false
 *   parameters: a Map of key -> bare item
 *   item:       {bare, params}
 *   inner list: {inner: [item, ...], params}
 *   List:       [item or inner list, ...];  Dictionary: a Map of key -> item or inner list
 * Parse functions throw SfError; serializers throw TypeError for a value RFC 8941 cannot hold.
 */
'use strict';


class SfError extends Error {
	constructor(message) {
		super(`structured field: ${message}`);
		this.name = 'SfError';
	}
}

const DIGIT = /[0-9]/;
const LCALPHA = /[a-z]/;
const KEY_RE = /^[a-z*][a-z0-9_\-.*]*$/;
const TOKEN_RE = /^[A-Za-z*][A-Za-z0-9!#$%&'*+\-.^_`|~:/]*$/;
const TCHAR_OR = /[A-Za-z0-9!#$%&'*+\-.^_`|~:/]/;
const B64_RE = /^[A-Za-z0-9+/]*={0,2}$/;
const INT_MAX = 999999999999999;

/*
 * proto/sfv.h's limits. The pools count what a parse consumes across the lines of one field,
 * members overwritten included, as the daemon's fixed pools do.
 */
const LIMITS = Object.freeze({
	members: 16, /* of a Dictionary or List */
	inner: 32, /* items of one Inner List */
	params: 8, /* parameters of one item, inner list or member */
	itemPool: 64, /* inner-list items of a whole field */
	paramPool: 128, /* parameters of a whole field */
});

/* ---- constructors ---- */

const sf = Object.freeze({
	integer: (value) => ({ type: 'integer', value }),
	/* a decimal given in thousandths, as it is kept */
	decimal: (thousandths) => ({ type: 'decimal', value: thousandths }),
	string: (value) => ({ type: 'string', value }),
	token: (value) => ({ type: 'token', value }),
	bytes: (value) => ({ type: 'bytes', value: Buffer.from(value) }),
	boolean: (value) => ({ type: 'boolean', value }),
	item: (bare, params = new Map()) => ({ bare, params }),
	inner: (items, params = new Map()) => ({ inner: items, params }),
});

/* ---- parsing (RFC 8941 4.2) ---- */

class Parser {
	constructor(s, pool = { items: 0, params: 0 }) {
		if (typeof s !== 'string')
			throw new TypeError('a field value is a string');
		this.s = s;
		this.i = 0;
		this.pool = pool; /* shared by the lines of one field */
	}

	get eof() {
		return this.i >= this.s.length;
	}

	peek() {
		return this.s[this.i];
	}

	fail(what) {
		throw new SfError(`${what} at offset ${this.i}`);
	}

	sp() {
		while (this.s[this.i] === ' ')
			this.i++;
	}

	ows() {
		while (this.s[this.i] === ' ' || this.s[this.i] === '\t')
			this.i++;
	}

	/* 4.2.3.3 */
	key() {
		const c = this.peek();
		if (c === undefined || !(LCALPHA.test(c) || c === '*'))
			this.fail('a key must start with a-z or *');
		const start = this.i++;
		while (!this.eof && /[a-z0-9_\-.*]/.test(this.peek()))
			this.i++;
		return this.s.slice(start, this.i);
	}

	/* 4.2.3.2 */
	params() {
		const m = new Map();
		while (this.peek() === ';') {
			this.i++;
			this.sp();
			const k = this.key();
			let v = { type: 'boolean', value: true };
			if (this.peek() === '=') {
				this.i++;
				v = this.bare();
			}
			if (!m.has(k)) {
				if (m.size >= LIMITS.params || this.pool.params >= LIMITS.paramPool)
					this.fail('more parameters than hmacd reads');
				this.pool.params++;
			}
			m.set(k, v); /* a repeated key overwrites, in place */
		}
		return m;
	}

	/* 4.2.3.1 */
	bare() {
		const c = this.peek();
		if (c === '-' || (c !== undefined && DIGIT.test(c)))
			return this.number();
		if (c === '"')
			return this.string();
		if (c === ':')
			return this.bytes();
		if (c === '?')
			return this.boolean();
		if (c !== undefined && (/[A-Za-z]/.test(c) || c === '*'))
			return this.token();
		return this.fail('not a bare item');
	}

	/* 4.2.4 */
	number() {
		let sign = 1;
		if (this.peek() === '-') {
			sign = -1;
			this.i++;
		}
		if (this.eof || !DIGIT.test(this.peek()))
			this.fail('a number needs a digit');
		let digits = '';
		let dot = -1;
		while (!this.eof) {
			const c = this.peek();
			if (DIGIT.test(c)) {
				digits += c;
			} else if (c === '.' && dot < 0) {
				if (digits.length > 12)
					this.fail('a decimal has at most 12 integer digits');
				dot = digits.length;
			} else {
				break;
			}
			this.i++;
			if (dot < 0 && digits.length > 15)
				this.fail('an integer has at most 15 digits');
			if (dot >= 0 && digits.length + 1 > 16)
				this.fail('a decimal has at most 16 characters');
		}
		if (dot < 0)
			return { type: 'integer', value: sign * Number(digits) || 0 };
		const frac = digits.length - dot;
		if (frac < 1 || frac > 3)
			this.fail('a decimal has 1 to 3 fraction digits');
		const thousandths = Number(digits.slice(0, dot)) * 1000 +
			Number(digits.slice(dot).padEnd(3, '0'));
		return { type: 'decimal', value: sign * thousandths || 0 };
	}

	/* 4.2.5 */
	string() {
		this.i++;
		let out = '';
		for (;;) {
			if (this.eof)
				this.fail('unterminated string');
			const c = this.s[this.i++];
			if (c === '\\') {
				const n = this.s[this.i++];
				if (n !== '"' && n !== '\\')
					this.fail('only \\" and \\\\ escapes');
				out += n;
			} else if (c === '"') {
				return { type: 'string', value: out };
			} else {
				const code = c.charCodeAt(0);
				if (code < 0x20 || code > 0x7e)
					this.fail('a string holds only printable ASCII');
				out += c;
			}
		}
	}

	/* 4.2.6 */
	token() {
		const start = this.i++;
		while (!this.eof && TCHAR_OR.test(this.peek()))
			this.i++;
		return { type: 'token', value: this.s.slice(start, this.i) };
	}

	/* 4.2.7 */
	bytes() {
		this.i++;
		const end = this.s.indexOf(':', this.i);
		if (end < 0)
			this.fail('unterminated byte sequence');
		const text = this.s.slice(this.i, end);
		if (!B64_RE.test(text))
			this.fail('a byte sequence is base64');
		const buf = Buffer.from(text, 'base64');
		if (buf.toString('base64').replace(/=+$/, '') !== text.replace(/=+$/, ''))
			this.fail('non-canonical base64 (pad bits or length)');
		this.i = end + 1;
		return { type: 'bytes', value: buf };
	}

	/* 4.2.8 */
	boolean() {
		this.i++;
		const c = this.s[this.i++];
		if (c !== '0' && c !== '1')
			this.fail('a boolean is ?0 or ?1');
		return { type: 'boolean', value: c === '1' };
	}

	item() {
		const bare = this.bare();
		return { bare, params: this.params() };
	}

	/* 4.2.1.2 */
	innerList() {
		this.i++;
		const items = [];
		for (;;) {
			this.sp();
			if (this.peek() === ')') {
				this.i++;
				return { inner: items, params: this.params() };
			}
			if (items.length >= LIMITS.inner || this.pool.items >= LIMITS.itemPool)
				this.fail('more inner-list items than hmacd reads');
			this.pool.items++;
			items.push(this.item());
			const c = this.peek();
			if (c !== ' ' && c !== ')')
				this.fail('inner list items are separated by spaces');
		}
	}

	itemOrInner() {
		return this.peek() === '(' ? this.innerList() : this.item();
	}

	/* after a member: OWS, then the end or "," OWS and another member */
	more() {
		this.ows();
		if (this.eof)
			return false;
		if (this.peek() !== ',')
			this.fail('members are separated by ","');
		this.i++;
		this.ows();
		if (this.eof)
			this.fail('a trailing ","');
		return true;
	}

	list(into) {
		if (this.eof)
			return into;
		do {
			if (into.length >= LIMITS.members)
				this.fail('more members than hmacd reads');
			into.push(this.itemOrInner());
		} while (this.more());
		return into;
	}

	dict(into) {
		if (this.eof)
			return into;
		do {
			const k = this.key();
			let v;
			if (this.peek() === '=') {
				this.i++;
				v = this.itemOrInner();
			} else {
				v = { bare: { type: 'boolean', value: true }, params: this.params() };
			}
			if (!into.has(k) && into.size >= LIMITS.members)
				this.fail('more members than hmacd reads');
			into.set(k, v);
		} while (this.more());
		return into;
	}
}

/*
 * Parses a field value of `kind` ('item', 'list' or 'dictionary'); `value` is one string or the
 * field's lines in order (parsed as their ", " join, see above). An empty value is an empty List
 * or Dictionary and a malformed Item. Throws SfError.
 */
function parse(value, kind) {
	const lines = Array.isArray(value) ? value : [value];
	if (lines.length === 0)
		throw new SfError('no field line');
	if (kind === 'item') {
		if (lines.length !== 1)
			throw new SfError('an item field has one line');
		const p = new Parser(lines[0]);
		p.sp();
		const it = p.item();
		p.sp();
		if (!p.eof)
			p.fail('junk after the item');
		return it;
	}
	if (kind !== 'list' && kind !== 'dictionary')
		throw new TypeError(`unknown structured type ${kind}`);
	let out = kind === 'list' ? [] : new Map();
	const pool = { items: 0, params: 0 };
	lines.forEach((line, n) => {
		const p = new Parser(line, pool);
		p.sp();
		const size = kind === 'list' ? out.length : out.size;
		if (n > 0 && (p.eof || size === 0))
			throw new SfError('an empty field line joins into a trailing or leading ","');
		out = kind === 'list' ? p.list(out) : p.dict(out);
		p.sp();
		if (!p.eof)
			p.fail('junk after the last member');
	});
	return out;
}

/* ---- serialization (RFC 8941 4.1) ---- */

function serializeKey(k) {
	if (typeof k !== 'string' || !KEY_RE.test(k))
		throw new TypeError(`not a structured field key: ${JSON.stringify(k)}`);
	return k;
}

/** One bare item (4.1.3.1). */
function serializeBare(b) {
	switch (b?.type) {
	case 'integer':
		if (!Number.isSafeInteger(b.value) || Math.abs(b.value) > INT_MAX)
			throw new TypeError('an integer has at most 15 digits');
		return String(b.value);
	case 'decimal': {
		const v = b.value;
		if (!Number.isSafeInteger(v) || Math.abs(v) >= 1e15)
			throw new TypeError('a decimal is kept in thousandths, below 10^12');
		const a = Math.abs(v);
		const frac = String(a % 1000).padStart(3, '0').replace(/0+$/, '') || '0';
		return `${v < 0 ? '-' : ''}${Math.floor(a / 1000)}.${frac}`;
	}
	case 'string':
		if (typeof b.value !== 'string' || /[^\x20-\x7e]/.test(b.value))
			throw new TypeError('a string holds only printable ASCII');
		return `"${b.value.replace(/[\\"]/g, '\\$&')}"`;
	case 'token':
		if (typeof b.value !== 'string' || !TOKEN_RE.test(b.value))
			throw new TypeError(`not a token: ${JSON.stringify(b.value)}`);
		return b.value;
	case 'bytes':
		if (!(b.value instanceof Uint8Array))
			throw new TypeError('a byte sequence is a Uint8Array');
		return `:${Buffer.from(b.value).toString('base64')}:`;
	case 'boolean':
		if (typeof b.value !== 'boolean')
			throw new TypeError('a boolean is true or false');
		return b.value ? '?1' : '?0';
	default:
		throw new TypeError('not a bare item');
	}
}

/** Parameters (4.1.1.2), from a Map or a plain object. */
function serializeParams(params) {
	let out = '';
	const entries = params instanceof Map ? params : Object.entries(params ?? {});
	for (const [k, v] of entries) {
		out += `;${serializeKey(k)}`;
		if (!(v.type === 'boolean' && v.value === true))
			out += `=${serializeBare(v)}`;
	}
	return out;
}

/** An item or an inner list (4.1.3, 4.1.1.1). */
function serializeMember(m) {
	if (Array.isArray(m?.inner))
		return `(${m.inner.map(serializeMember).join(' ')})${serializeParams(m.params)}`;
	return serializeBare(m.bare) + serializeParams(m.params);
}

/** A List (4.1.1). */
function serializeList(list) {
	return list.map(serializeMember).join(', ');
}

/** A Dictionary (4.1.2), from a Map. */
function serializeDictionary(dict) {
	const out = [];
	for (const [k, m] of dict) {
		if (!Array.isArray(m.inner) && m.bare.type === 'boolean' && m.bare.value === true)
			out.push(serializeKey(k) + serializeParams(m.params));
		else
			out.push(`${serializeKey(k)}=${serializeMember(m)}`);
	}
	return out.join(', ');
}

/** A parsed field of `kind` back to its serialization. */
function serialize(value, kind) {
	if (kind === 'item')
		return serializeMember(value);
	if (kind === 'list')
		return serializeList(value);
	return serializeDictionary(value);
}

module.exports = {
	SfError,
	LIMITS,
	sf,
	parse,
	serializeBare,
	serializeParams,
	serializeMember,
	serializeList,
	serializeDictionary,
	serialize,
};
