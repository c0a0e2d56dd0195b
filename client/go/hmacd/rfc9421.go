// rfc9421.go - RFC 9421 HTTP Message Signatures with hmac-sha256: the signature base of a
// request (RFC 9421 section 2.5) and its component identifiers. rfc9421_http.go signs
// net/http requests with it.
//
// The base is built the way the daemon builds it (proto/sigbase.h), so a Go signer and hmacd
// agree byte for byte: request components only (@method, @target-uri, @authority, @scheme,
// @request-target, @path, @query, @query-param;name=...), header fields plain or with ;sf
// (for the fields registered as structured, same table as the daemon), ;key="member" or ;bs.
// The daemon does the verifying: this file never checks a signature.

package hmacd

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// RFC 9421 constants.
const (
	// RFC9421Alg is the only algorithm hmacd verifies (the value of the alg parameter).
	RFC9421Alg = "hmac-sha256"
	// DefaultLabel is the signature label RFC9421Signer uses when none is set.
	DefaultLabel = "sig1"
	// MaxComponents bounds the components of one signature (the daemon's parser holds 32).
	MaxComponents = 32
	// MaxLabelLen bounds a label in a verify item.
	MaxLabelLen = 64
	// maxAuthorityLen bounds the authority of a verify item (host[:port]).
	maxAuthorityLen = 255
)

// ErrSignatureBase: the signature base cannot be built: a component identifier that is not
// valid for a request, a covered query parameter that is absent or repeated, a ;sf field
// that does not parse, a Signature-Input that is not well formed. A covered header field
// that is absent is ErrMissingHeader instead.
var ErrSignatureBase = errors.New("hmacd: cannot build the RFC 9421 signature base")

// ErrNotSigned: a received request has no Signature-Input or no Signature header.
var ErrNotSigned = errors.New("hmacd: request has no RFC 9421 Signature-Input and Signature")

func baseErr(why string) error {
	return fmt.Errorf("%w: %s", ErrSignatureBase, why)
}

// RFC9421Request is a request as RFC 9421 sees it: what its components are derived from.
type RFC9421Request struct {
	Method    string   // as sent (case kept)
	Authority string   // host[:port]: the Host header
	Path      string   // the request target as sent: path plus "?query", not decoded
	Scheme    string   // "http" or "https" (any case); "" means "https"
	Headers   []Header // every header field in arrival order; names in any case
}

// isHTTPS: "" and "https" (any case) are https.
func (r *RFC9421Request) isHTTPS() bool {
	return r.Scheme == "" || strings.EqualFold(r.Scheme, "https")
}

// check applies the daemon's rules for the request fields of an rfc9421 item (PROTOCOL.md
// 7.2, proto/msg.c and proto/sigbase.c): what the daemon refuses is neither signed nor given
// a base here. Header names may be in any case (the item lower-cases them).
func (r *RFC9421Request) check() error {
	switch {
	case !tokenOK(r.Method, MaxMethodLen, false):
		return baseErr("method: 1 to 32 token characters")
	case !authorityOK(r.Authority):
		return baseErr("authority: host[:port], 1 to 255 bytes")
	case r.Path == "" || r.Path[0] != '/' || !noCtl(r.Path) || strings.IndexByte(r.Path, ' ') >= 0:
		return baseErr("path: starts with '/', no control byte or space")
	case !r.isHTTPS() && !strings.EqualFold(r.Scheme, "http"):
		return baseErr("scheme")
	}
	for i := range r.Headers {
		h := &r.Headers[i]
		if !tokenOK(h.Name, len(h.Name), false) || !noCtlButTab(h.Value) {
			return baseErr("header " + strconv.Itoa(i))
		}
	}
	return nil
}

// authorityOK: what the daemon accepts as an item's authority: 1 to maxAuthorityLen bytes,
// none of them a control, space, DEL, or a delimiter of another URI part ('/', '?', '#') or of
// userinfo ('@').
func authorityOK(a string) bool {
	if a == "" || len(a) > maxAuthorityLen {
		return false
	}
	for i := 0; i < len(a); i++ {
		switch c := a[i]; {
		case c < 0x21, c == 0x7f, c == '/', c == '?', c == '#', c == '@':
			return false
		}
	}
	return true
}

func noCtlButTab(s string) bool {
	for i := 0; i < len(s); i++ {
		if (s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// authority is @authority (RFC 9421 2.2.3): lower case, an empty or default port removed.
func (r *RFC9421Request) authority() string {
	a := r.Authority
	if i := strings.LastIndexAny(a, ":]"); i >= 0 && a[i] == ':' {
		port := a[i+1:]
		def := "80"
		if r.isHTTPS() {
			def = "443"
		}
		if port == "" || port == def {
			a = a[:i]
		}
	}
	return strings.ToLower(a)
}

func (r *RFC9421Request) scheme() string {
	if r.isHTTPS() {
		return "https"
	}
	return "http"
}

// splitTarget: the path and the query (without '?'); hasQuery tells "?" from no '?'.
func (r *RFC9421Request) splitTarget() (path, query string, hasQuery bool) {
	if i := strings.IndexByte(r.Path, '?'); i >= 0 {
		return r.Path[:i], r.Path[i+1:], true
	}
	return r.Path, "", false
}

// fieldLines returns the trimmed values of every instance of the field name (lower-case).
func (r *RFC9421Request) fieldLines(name string) []string {
	var vals []string
	for _, h := range r.Headers {
		if strings.EqualFold(h.Name, name) {
			vals = append(vals, trimOWS(h.Value))
		}
	}
	return vals
}

// ---- components ----

// sfFieldKinds: the fields ;sf accepts and their structured types (the daemon's table; any
// other field with ;sf is refused rather than guessed).
var sfFieldKinds = map[string]sfKind{
	"accept-ch":           sfKindList,
	"accept-signature":    sfKindDict,
	"cache-status":        sfKindList,
	"client-cert":         sfKindItem,
	"client-cert-chain":   sfKindList,
	"content-digest":      sfKindDict,
	"priority":            sfKindDict,
	"proxy-status":        sfKindList,
	"repr-digest":         sfKindDict,
	"signature":           sfKindDict,
	"signature-input":     sfKindDict,
	"want-content-digest": sfKindDict,
	"want-repr-digest":    sfKindDict,
}

func isFieldNameByte(c byte) bool {
	return isTchar(c) && !(c >= 'A' && c <= 'Z')
}

// ParseComponent parses a component identifier written as an administrator writes it for
// `hmacctl policy set --require` ("@method", "content-digest;sf", "@query-param;name=id",
// `example-dict;key="a"`) or in its serialized form (`"@query-param";name="id"`), checks that
// it is valid for a request, and returns its serialization as it appears in Signature-Input
// and in the signature base (`"@query-param";name="id"`).
func ParseComponent(s string) (string, error) {
	it, err := parseComponent(s)
	if err != nil {
		return "", err
	}
	var w sfWriter
	w.item(it)
	if w.err != nil {
		return "", baseErr("component " + strconv.Quote(s))
	}
	return string(w.b), nil
}

func parseComponent(s string) (sfItem, error) {
	bad := baseErr("component " + strconv.Quote(s))
	var it sfItem
	if strings.HasPrefix(s, `"`) {
		p := &sfParser{s: s}
		var err error
		it, err = p.item()
		if err != nil || !p.eof() {
			return it, bad
		}
	} else {
		segs := strings.Split(s, ";")
		it.bare = sfStr(segs[0])
		for _, seg := range segs[1:] {
			k, v, hasVal := strings.Cut(seg, "=")
			if !validKey(k) {
				return it, bad
			}
			val := sfTrue()
			switch {
			case !hasVal:
			case strings.HasPrefix(v, `"`):
				p := &sfParser{s: v}
				b, err := p.str()
				if err != nil || !p.eof() {
					return it, bad
				}
				val = b
			case v == "?1" || v == "?0":
				val = sfBare{typ: sfBoolean, num: int64(v[1] - '0')}
			default:
				val = sfStr(v)
			}
			it.params.set(k, val)
		}
	}
	err := checkComponent(it)
	if err != nil {
		return it, fmt.Errorf("%w (%s)", err, strconv.Quote(s))
	}
	return it, nil
}

// compParams are the component parameters hmacd knows (RFC 9421 2.1 and 2.2.8).
type compParams struct {
	sf, bs    bool
	key, name *string
}

func componentParams(it sfItem) (compParams, error) {
	var cp compParams
	for _, p := range it.params {
		v := p.val
		switch {
		case p.key == "sf" && v.isTrue():
			cp.sf = true
		case p.key == "bs" && v.isTrue():
			cp.bs = true
		case p.key == "key" && v.typ == sfString:
			cp.key = &p.val.str
		case p.key == "name" && v.typ == sfString:
			cp.name = &p.val.str
		default:
			// ;req and ;tr never apply to a request
			return cp, baseErr("unknown or misplaced component parameter " + p.key)
		}
	}
	return cp, nil
}

var derivedComponents = map[string]bool{
	"@method": true, "@target-uri": true, "@authority": true, "@scheme": true,
	"@request-target": true, "@path": true, "@query": true, "@query-param": true,
}

// checkComponent applies the daemon's rules for a component identifier of a request.
func checkComponent(it sfItem) error {
	if it.bare.typ != sfString || it.bare.str == "" {
		return baseErr("component identifier is not a non-empty string")
	}
	name := it.bare.str
	cp, err := componentParams(it)
	if err != nil {
		return err
	}
	if name[0] == '@' {
		switch {
		case name == "@signature-params":
			return baseErr("@signature-params is never a covered component")
		case name == "@status":
			return baseErr("@status is only valid for a response")
		case !derivedComponents[name]:
			return baseErr("unknown derived component " + name)
		case cp.sf || cp.bs || cp.key != nil:
			return baseErr(name + " takes no ;sf, ;bs or ;key")
		case (name == "@query-param") != (cp.name != nil):
			return baseErr("@query-param needs ;name, and only it")
		}
		return nil
	}
	for i := 0; i < len(name); i++ {
		if !isFieldNameByte(name[i]) {
			return baseErr("field name must be a lower-case token")
		}
	}
	switch {
	case cp.name != nil:
		return baseErr(";name on a field")
	case cp.bs && (cp.sf || cp.key != nil):
		return baseErr(";bs combined with ;sf or ;key")
	case cp.sf && cp.key == nil:
		if _, ok := sfFieldKinds[name]; !ok {
			return baseErr(";sf on a field of unknown structured type: " + name)
		}
	}
	return nil
}

// componentValue is the value of a checked component (RFC 9421 2.1 and 2.2).
func (r *RFC9421Request) componentValue(it sfItem) (string, error) {
	name := it.bare.str
	cp, err := componentParams(it)
	if err != nil {
		return "", err
	}
	path, query, hasQuery := r.splitTarget()
	switch name {
	case "@method":
		return r.Method, nil
	case "@authority":
		return r.authority(), nil
	case "@scheme":
		return r.scheme(), nil
	case "@target-uri":
		return r.scheme() + "://" + r.authority() + r.Path, nil
	case "@request-target":
		return r.Path, nil
	case "@path":
		return path, nil
	case "@query":
		if !hasQuery {
			return "?", nil
		}
		return "?" + query, nil
	case "@query-param":
		return queryParam(query, *cp.name)
	}
	lines := r.fieldLines(name)
	if len(lines) == 0 {
		return "", fmt.Errorf("%w: %s", ErrMissingHeader, name)
	}
	switch {
	case cp.key != nil:
		return structuredValue(lines, sfKindDict, cp.key)
	case cp.sf:
		return structuredValue(lines, sfFieldKinds[name], nil)
	case cp.bs:
		for i, l := range lines {
			lines[i] = ":" + base64.StdEncoding.EncodeToString([]byte(l)) + ":"
		}
	}
	return strings.Join(lines, ", "), nil
}

// structuredValue parses the lines as one structured field (as their ", " join would be, one
// line at a time like the daemon) and serializes it, or its Dictionary member key.
func structuredValue(lines []string, kind sfKind, key *string) (string, error) {
	ms, err := sfParseLines(lines, kind)
	if err != nil {
		return "", baseErr("field value does not parse as its structured type")
	}
	var w sfWriter
	if key == nil {
		w.field(ms, kind)
	} else {
		found := false
		for _, m := range ms {
			if m.key == *key {
				w.value(m.val)
				found = true
				break
			}
		}
		if !found {
			return "", baseErr(";key member not in the dictionary")
		}
	}
	if w.err != nil {
		return "", baseErr("field value does not serialize")
	}
	return string(w.b), nil
}

// ---- @query-param (RFC 9421 2.2.8) ----

// formDecode decodes application/x-www-form-urlencoded text (WHATWG URL 5.1): '+' is a space,
// %XX a byte, and a '%' not followed by two hex digits stays as it is.
func formDecode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+':
			c = ' '
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			c = hexDigit(s[i+1])<<4 | hexDigit(s[i+2])
			i += 2
		}
		b.WriteByte(c)
	}
	return b.String()
}

func isHex(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func hexDigit(c byte) byte {
	switch {
	case isDigit(c):
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// formEncode encodes with the application/x-www-form-urlencoded percent-encode set, a space
// as %20 (RFC 9421 2.2.8), upper-case hex.
func formEncode(s string) string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAlnum(c) || c == '*' || c == '-' || c == '.' || c == '_' {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hexd[c>>4])
			b.WriteByte(hexd[c&15])
		}
	}
	return b.String()
}

// queryParam is the value of the one query parameter whose re-encoded name is name.
func queryParam(query, name string) (string, error) {
	var val string
	found := 0
	for _, pair := range strings.Split(query, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		dk := formDecode(k)
		if formEncode(dk) != name {
			continue
		}
		found++
		dv := formDecode(v)
		if !utf8.ValidString(dk) || !utf8.ValidString(dv) {
			return "", baseErr("query parameter does not decode to UTF-8")
		}
		val = formEncode(dv)
	}
	switch found {
	case 0:
		return "", baseErr("covered query parameter is not in the query: " + name)
	case 1:
		return val, nil
	}
	return "", baseErr("covered query parameter occurs more than once: " + name)
}

// ---- the signature base ----

// sigParamTypes: the signature parameters of RFC 9421 2.3 and their types.
var sigParamTypes = map[string]sfType{
	"created": sfInteger, "expires": sfInteger, "nonce": sfString, "alg": sfString,
	"keyid": sfString, "tag": sfString,
}

// SignatureBase returns the signature base (RFC 9421 section 2.5) of request r for the
// signature labelled label in the Signature-Input field value signatureInput; label "" means
// the only one. It is what the daemon MACs for an rfc9421 item with the same fields, and it
// names the request: use it in tests and to debug a signer, never log it in production.
//
// Errors: ErrMissingHeader (a covered field is absent) or ErrSignatureBase, wrapped with the
// reason.
func SignatureBase(r *RFC9421Request, signatureInput, label string) ([]byte, error) {
	dict, err := sfParse(signatureInput, sfKindDict)
	if err != nil {
		return nil, baseErr("Signature-Input does not parse")
	}
	var m *sfMember
	switch {
	case label != "":
		for i := range dict {
			if dict[i].key == label {
				m = &dict[i]
			}
		}
	case len(dict) == 1:
		m = &dict[0]
	case len(dict) > 1:
		return nil, baseErr("several signatures and no label chosen")
	}
	if m == nil {
		return nil, baseErr("no signature with that label")
	}
	return r.base(m.val)
}

// base builds the base for one Signature-Input member value.
func (r *RFC9421Request) base(in sfValue) ([]byte, error) {
	err := r.check()
	if err != nil {
		return nil, err
	}
	if !in.inner {
		return nil, baseErr("signature input member is not an inner list")
	}
	if len(in.items) > MaxComponents {
		return nil, baseErr("more than " + strconv.Itoa(MaxComponents) + " components")
	}
	for _, p := range in.params {
		t, known := sigParamTypes[p.key]
		if known && p.val.typ != t {
			return nil, baseErr("signature parameter " + p.key + " of the wrong type")
		}
	}
	var w sfWriter
	seen := make(map[string]bool, len(in.items))
	for _, it := range in.items {
		err = checkComponent(it)
		if err != nil {
			return nil, err
		}
		start := len(w.b)
		w.item(it)
		if w.err != nil {
			return nil, baseErr("component identifier does not serialize")
		}
		id := string(w.b[start:])
		if seen[id] {
			return nil, baseErr("component identifier covered twice: " + id)
		}
		seen[id] = true
		v, err := r.componentValue(it)
		if err != nil {
			return nil, err
		}
		w.b = append(w.b, ": "...)
		w.b = append(w.b, v...)
		w.b = append(w.b, '\n')
	}
	w.b = append(w.b, `"@signature-params": `...)
	w.value(in)
	if w.err != nil {
		return nil, baseErr("signature parameters do not serialize")
	}
	return w.b, nil
}
