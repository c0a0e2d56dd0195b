// sfv.go - RFC 8941 Structured Field Values, as far as the RFC 9421 signer needs them:
// parsing a field (Dictionary, List or Item) for the ;sf and ;key component parameters and
// for component identifiers, and serializing items, inner lists, parameters and fields, since
// a signature base holds the serialized form of what it covers (RFC 9421 section 2.1).
//
// Parsing follows RFC 8941 section 4.2 step by step and serializing section 4.1; the choices
// RFC 8941 leaves open are made as proto/sfv.h makes them, so the daemon and this signer
// serialize a field the same way: Decimals are kept in thousandths, a Byte Sequence may lack
// its '=' padding but not have non-zero pad bits, and a key repeated in a Dictionary or in
// Parameters overwrites the earlier value in place (it keeps its first position).

package hmacd

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

type sfType uint8

const (
	sfInteger sfType = iota // num
	sfDecimal               // num, in thousandths
	sfString                // str, unescaped
	sfToken                 // str
	sfBytes                 // bytes
	sfBoolean               // num: 0 or 1
)

// Bounds of RFC 8941 section 3.3.
const (
	sfMaxInteger = 999999999999999
	sfMaxDecimal = 999999999999999 // thousandths: 12 integer digits, 3 fractional
)

// The daemon's capacity limits (proto/sfv.h): a field beyond them is malformed there, so it
// is malformed here too, or a signer could sign what the daemon refuses. The pools count
// what a parse consumes, across the lines of one field, members overwritten included.
const (
	sfMaxMembers   = 16  // members of a Dictionary or List
	sfMaxInner     = 32  // items of one Inner List
	sfMaxParams    = 8   // parameters of one item, inner list or member
	sfMaxItemPool  = 64  // inner-list items of a whole field
	sfMaxParamPool = 128 // parameters of a whole field
)

// sfBare is a bare item.
type sfBare struct {
	typ   sfType
	num   int64
	str   string
	bytes []byte
}

func sfStr(s string) sfBare   { return sfBare{typ: sfString, str: s} }
func sfInt(n int64) sfBare    { return sfBare{typ: sfInteger, num: n} }
func sfTrue() sfBare          { return sfBare{typ: sfBoolean, num: 1} }
func (b sfBare) isTrue() bool { return b.typ == sfBoolean && b.num == 1 }

type sfParam struct {
	key string
	val sfBare
}

// sfParams keeps the parameters in order; set overwrites a key in place.
type sfParams []sfParam

func (ps *sfParams) set(key string, v sfBare) {
	for i := range *ps {
		if (*ps)[i].key == key {
			(*ps)[i].val = v
			return
		}
	}
	*ps = append(*ps, sfParam{key: key, val: v})
}

func (ps sfParams) get(key string) (sfBare, bool) {
	for _, p := range ps {
		if p.key == key {
			return p.val, true
		}
	}
	return sfBare{}, false
}

// sfItem is an Item: a bare item and its parameters.
type sfItem struct {
	bare   sfBare
	params sfParams
}

// sfValue is a member of a List or Dictionary, or the value of an Item field: an Item, or an
// Inner List (inner true, items) with the inner list's parameters.
type sfValue struct {
	inner  bool
	bare   sfBare
	items  []sfItem
	params sfParams
}

// sfMember is a Dictionary member (key set) or a List member (key empty).
type sfMember struct {
	key string
	val sfValue
}

type sfKind uint8

const (
	sfKindItem sfKind = iota
	sfKindList
	sfKindDict
)

var errSF = errors.New("not a valid structured field")

// ---- parsing (RFC 8941 section 4.2) ----

type sfParser struct {
	s string
	i int
	// pools used so far by the field being parsed (sfMaxItemPool, sfMaxParamPool)
	nitems, nparams int
}

func (p *sfParser) eof() bool { return p.i >= len(p.s) }

func (p *sfParser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.s[p.i]
}

func (p *sfParser) skipSP() {
	for !p.eof() && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *sfParser) skipOWS() {
	for !p.eof() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func isLcalpha(c byte) bool { return c >= 'a' && c <= 'z' }
func isDigit(c byte) bool   { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool   { return isLcalpha(c) || (c >= 'A' && c <= 'Z') }

// sfParse parses a whole field value of the given kind (4.2).
func sfParse(s string, kind sfKind) ([]sfMember, error) {
	return sfParseLines([]string{s}, kind)
}

// sfParseLines parses the lines of one field as their ", " join would be, one line at a time,
// as the daemon does (proto/sigbase.h, hm_sb_parse_field_lines): a String cannot span two
// lines (it is malformed, not joined), an empty line or any line after an empty first one is
// malformed, and an Item field has exactly one line.
func sfParseLines(lines []string, kind sfKind) ([]sfMember, error) {
	p := &sfParser{}
	var out []sfMember
	for n, line := range lines {
		p.s, p.i = line, 0
		p.skipSP()
		if n > 0 && (kind == sfKindItem || len(out) == 0 || p.eof()) {
			return nil, errSF
		}
		var err error
		switch kind {
		case sfKindItem:
			var it sfItem
			it, err = p.item()
			out = []sfMember{{val: sfValue{bare: it.bare, params: it.params}}}
		case sfKindList:
			out, err = p.members(false, out)
		default:
			out, err = p.members(true, out)
		}
		if err != nil {
			return nil, err
		}
		p.skipSP()
		if !p.eof() {
			return nil, errSF
		}
	}
	return out, nil
}

// members parses a List (4.2.1) or a Dictionary (4.2.2), adding to out.
func (p *sfParser) members(dict bool, out []sfMember) ([]sfMember, error) {
	for !p.eof() {
		var m sfMember
		var err error
		if dict {
			m.key, err = p.key()
			if err != nil {
				return nil, err
			}
			if p.peek() == '=' {
				p.i++
				m.val, err = p.itemOrInner()
			} else {
				m.val.bare = sfTrue()
				m.val.params, err = p.params()
			}
		} else {
			m.val, err = p.itemOrInner()
		}
		if err != nil {
			return nil, err
		}
		replaced := false
		if dict {
			for i := range out {
				if out[i].key == m.key {
					out[i].val = m.val
					replaced = true
					break
				}
			}
		}
		if !replaced {
			if len(out) >= sfMaxMembers {
				return nil, errSF
			}
			out = append(out, m)
		}
		p.skipOWS()
		if p.eof() {
			return out, nil
		}
		if p.peek() != ',' {
			return nil, errSF
		}
		p.i++
		p.skipOWS()
		if p.eof() {
			return nil, errSF // a trailing comma
		}
	}
	return out, nil
}

func (p *sfParser) itemOrInner() (sfValue, error) {
	if p.peek() == '(' {
		return p.innerList()
	}
	it, err := p.item()
	return sfValue{bare: it.bare, params: it.params}, err
}

// innerList parses 4.2.1.2.
func (p *sfParser) innerList() (sfValue, error) {
	v := sfValue{inner: true}
	p.i++ // '('
	for !p.eof() {
		p.skipSP()
		if p.peek() == ')' {
			p.i++
			var err error
			v.params, err = p.params()
			return v, err
		}
		if len(v.items) >= sfMaxInner || p.nitems >= sfMaxItemPool {
			return v, errSF
		}
		p.nitems++
		it, err := p.item()
		if err != nil {
			return v, err
		}
		v.items = append(v.items, it)
		if c := p.peek(); c != ' ' && c != ')' {
			return v, errSF
		}
	}
	return v, errSF
}

func (p *sfParser) item() (sfItem, error) {
	b, err := p.bare()
	if err != nil {
		return sfItem{}, err
	}
	ps, err := p.params()
	return sfItem{bare: b, params: ps}, err
}

// params parses 4.2.3.2.
func (p *sfParser) params() (sfParams, error) {
	var ps sfParams
	for p.peek() == ';' {
		p.i++
		p.skipSP()
		k, err := p.key()
		if err != nil {
			return nil, err
		}
		v := sfTrue()
		if p.peek() == '=' {
			p.i++
			v, err = p.bare()
			if err != nil {
				return nil, err
			}
		}
		if _, seen := ps.get(k); !seen {
			if len(ps) >= sfMaxParams || p.nparams >= sfMaxParamPool {
				return nil, errSF
			}
			p.nparams++
		}
		ps.set(k, v)
	}
	return ps, nil
}

func isKeyByte(c byte) bool {
	return isLcalpha(c) || isDigit(c) || c == '_' || c == '-' || c == '.' || c == '*'
}

// key parses 4.2.3.3.
func (p *sfParser) key() (string, error) {
	c := p.peek()
	if !isLcalpha(c) && c != '*' {
		return "", errSF
	}
	start := p.i
	for !p.eof() && isKeyByte(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i], nil
}

func (p *sfParser) bare() (sfBare, error) {
	c := p.peek()
	switch {
	case c == '-' || isDigit(c):
		return p.number()
	case c == '"':
		return p.str()
	case c == '*' || isAlpha(c):
		return p.token(), nil
	case c == ':':
		return p.byteSeq()
	case c == '?':
		if p.i+1 < len(p.s) && (p.s[p.i+1] == '0' || p.s[p.i+1] == '1') {
			b := sfBare{typ: sfBoolean, num: int64(p.s[p.i+1] - '0')}
			p.i += 2
			return b, nil
		}
	}
	return sfBare{}, errSF
}

// number parses 4.2.4: up to 15 digits, or up to 12 digits, '.', 1 to 3 digits.
func (p *sfParser) number() (sfBare, error) {
	neg := false
	if p.peek() == '-' {
		neg = true
		p.i++
	}
	if !isDigit(p.peek()) {
		return sfBare{}, errSF
	}
	var intPart, frac int64
	nint, nfrac, dot := 0, 0, false
	for !p.eof() {
		c := p.s[p.i]
		if isDigit(c) {
			if dot {
				nfrac++
				frac = frac*10 + int64(c-'0')
			} else {
				nint++
				intPart = intPart*10 + int64(c-'0')
			}
		} else if c == '.' && !dot {
			if nint > 12 {
				return sfBare{}, errSF
			}
			dot = true
		} else {
			break
		}
		p.i++
		if (!dot && nint > 15) || (dot && nint+nfrac > 15) {
			return sfBare{}, errSF
		}
	}
	sign := int64(1)
	if neg {
		sign = -1
	}
	if !dot {
		return sfBare{typ: sfInteger, num: sign * intPart}, nil
	}
	if nfrac < 1 || nfrac > 3 {
		return sfBare{}, errSF
	}
	for ; nfrac < 3; nfrac++ {
		frac *= 10
	}
	return sfBare{typ: sfDecimal, num: sign * (intPart*1000 + frac)}, nil
}

// str parses 4.2.5.
func (p *sfParser) str() (sfBare, error) {
	p.i++ // '"'
	var b strings.Builder
	for !p.eof() {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '\\':
			if p.eof() || (p.s[p.i] != '"' && p.s[p.i] != '\\') {
				return sfBare{}, errSF
			}
			b.WriteByte(p.s[p.i])
			p.i++
		case c == '"':
			return sfStr(b.String()), nil
		case c < 0x20 || c > 0x7e:
			return sfBare{}, errSF
		default:
			b.WriteByte(c)
		}
	}
	return sfBare{}, errSF
}

func isTokenByte(c byte) bool { return isTchar(c) || c == ':' || c == '/' }

// token parses 4.2.6 (the first byte is already known to be ALPHA or '*').
func (p *sfParser) token() sfBare {
	start := p.i
	p.i++
	for !p.eof() && isTokenByte(p.s[p.i]) {
		p.i++
	}
	return sfBare{typ: sfToken, str: p.s[start:p.i]}
}

func isB64Byte(c byte) bool {
	return isAlpha(c) || isDigit(c) || c == '+' || c == '/' || c == '='
}

// byteSeq parses 4.2.7. Padding may be left out; a padded form must be exactly right, and
// non-zero pad bits are refused (a second spelling of the same bytes).
func (p *sfParser) byteSeq() (sfBare, error) {
	p.i++ // ':'
	start := p.i
	for !p.eof() && isB64Byte(p.s[p.i]) {
		p.i++
	}
	if p.peek() != ':' {
		return sfBare{}, errSF
	}
	text := p.s[start:p.i]
	p.i++
	enc := base64.RawStdEncoding.Strict()
	if strings.IndexByte(text, '=') >= 0 {
		enc = base64.StdEncoding.Strict()
	}
	b, err := enc.DecodeString(text)
	if err != nil {
		return sfBare{}, errSF
	}
	return sfBare{typ: sfBytes, bytes: b}, nil
}

// ---- serializing (RFC 8941 section 4.1) ----

// sfWriter appends serialized values; the first error sticks.
type sfWriter struct {
	b   []byte
	err error
}

func (w *sfWriter) bare(v sfBare) {
	switch v.typ {
	case sfInteger:
		if v.num < -sfMaxInteger || v.num > sfMaxInteger {
			w.err = errSF
			return
		}
		w.b = strconv.AppendInt(w.b, v.num, 10)
	case sfDecimal:
		n := v.num
		if n < -sfMaxDecimal || n > sfMaxDecimal {
			w.err = errSF
			return
		}
		if n < 0 {
			w.b = append(w.b, '-')
			n = -n
		}
		w.b = strconv.AppendInt(w.b, n/1000, 10)
		w.b = append(w.b, '.')
		frac := strconv.FormatInt(1000+n%1000, 10)[1:]
		frac = strings.TrimRight(frac, "0")
		if frac == "" {
			frac = "0"
		}
		w.b = append(w.b, frac...)
	case sfString:
		w.b = append(w.b, '"')
		for i := 0; i < len(v.str); i++ {
			c := v.str[i]
			if c < 0x20 || c > 0x7e {
				w.err = errSF
				return
			}
			if c == '"' || c == '\\' {
				w.b = append(w.b, '\\')
			}
			w.b = append(w.b, c)
		}
		w.b = append(w.b, '"')
	case sfToken:
		if !validToken(v.str) {
			w.err = errSF
			return
		}
		w.b = append(w.b, v.str...)
	case sfBytes:
		w.b = append(w.b, ':')
		w.b = append(w.b, base64.StdEncoding.EncodeToString(v.bytes)...)
		w.b = append(w.b, ':')
	case sfBoolean:
		w.b = append(w.b, '?', byte('0'+v.num))
	}
}

func validToken(s string) bool {
	if s == "" || (!isAlpha(s[0]) && s[0] != '*') {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isTokenByte(s[i]) {
			return false
		}
	}
	return true
}

func validKey(s string) bool {
	if s == "" || (!isLcalpha(s[0]) && s[0] != '*') {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isKeyByte(s[i]) {
			return false
		}
	}
	return true
}

func (w *sfWriter) key(k string) {
	if !validKey(k) {
		w.err = errSF
		return
	}
	w.b = append(w.b, k...)
}

func (w *sfWriter) params(ps sfParams) {
	for _, p := range ps {
		w.b = append(w.b, ';')
		w.key(p.key)
		if !p.val.isTrue() {
			w.b = append(w.b, '=')
			w.bare(p.val)
		}
	}
}

func (w *sfWriter) item(it sfItem) {
	w.bare(it.bare)
	w.params(it.params)
}

func (w *sfWriter) value(v sfValue) {
	if !v.inner {
		w.item(sfItem{bare: v.bare, params: v.params})
		return
	}
	w.b = append(w.b, '(')
	for i, it := range v.items {
		if i > 0 {
			w.b = append(w.b, ' ')
		}
		w.item(it)
	}
	w.b = append(w.b, ')')
	w.params(v.params)
}

// field serializes a parsed field of the given kind.
func (w *sfWriter) field(ms []sfMember, kind sfKind) {
	for i, m := range ms {
		if i > 0 {
			w.b = append(w.b, ", "...)
		}
		if kind != sfKindDict {
			w.value(m.val)
			continue
		}
		w.key(m.key)
		if !m.val.inner && m.val.bare.isTrue() {
			w.params(m.val.params)
			continue
		}
		w.b = append(w.b, '=')
		w.value(m.val)
	}
}
