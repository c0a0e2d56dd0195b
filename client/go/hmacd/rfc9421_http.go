// rfc9421_http.go - RFC 9421 on net/http requests: RFC9421Signer, which signs an outgoing
// *http.Request (Signature-Input, Signature and Content-Digest headers), and, for servers,
// ServerRequest and RequestItemRFC9421, which turn a received request into the "rfc9421" item
// the daemon verifies (issue 6's HTTP convention). Both describe the request as an
// RFC9421Request, so that what a Go client signs is what a Go server has verified.

package hmacd

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// RFC9421Signer signs outgoing requests with RFC 9421 HTTP Message Signatures, algorithm
// hmac-sha256, with a key that hmacd holds under KeyID. Its fields must not change while it
// is in use; it is then safe for concurrent use.
type RFC9421Signer struct {
	KeyID  string // the key id of the epoch (hmacctl prints it); required
	Secret []byte // the epoch's secret, MinSecretLen to MaxSecretLen bytes

	// Components lists the covered components in order, each as ParseComponent accepts it,
	// used as given. nil: DefaultComponents(query, len(body) > 0), query being whether the
	// request target has a '?'. A list without @query (or @request-target, @target-uri) for
	// a target with a query fails the default policy (VerdictInsufficientCoverage); a
	// @query-param alone does not meet it.
	Components []string
	// Label names the signature in Signature-Input and Signature; "": DefaultLabel.
	Label string
	// Tag, when set, is the tag parameter (an application-specific marker).
	Tag string
	// Alg adds the parameter alg="hmac-sha256" (optional in RFC 9421; hmacd accepts both).
	Alg bool
	// Expires, when positive, adds the expires parameter: created plus Expires.
	Expires time.Duration
	// NoCreated leaves the created parameter out (policies require it by default).
	NoCreated bool
	// Now gives the signing time (created); nil: time.Now.
	Now func() time.Time
	// Nonce gives the nonce parameter; nil: 16 random bytes in lower-case hex. "" leaves
	// the nonce out (no replay protection; policies require one by default).
	Nonce func() (string, error)
}

// DefaultComponents is what RFC9421Signer covers when Components is nil, what hmacd's
// default policy requires: @method, @authority and @path, then @query when the request
// target has a query (a '?': @path stops before it, and an uncovered query could be
// rewritten in transit), then content-digest when there is a body.
func DefaultComponents(query, body bool) []string {
	c := []string{"@method", "@authority", "@path"}
	if query {
		c = append(c, "@query")
	}
	if body {
		c = append(c, "content-digest")
	}
	return c
}

// ContentDigest is the Content-Digest field value (RFC 9530) of body with sha-256.
func ContentDigest(body []byte) string {
	d := sha256.Sum256(body)
	return "sha-256=:" + base64.StdEncoding.EncodeToString(d[:]) + ":"
}

// ClientRequest is the RFC9421Request for req as Go's HTTP client will send it with body as
// its body: method (GET if empty), authority req.Host or else req.URL.Host, path
// req.URL.RequestURI(), scheme req.URL.Scheme, and the headers: "host", the fields of
// req.Header (names lower-cased and sorted; the ones the client replaces by its own left out:
// Host, Content-Length, Transfer-Encoding, Trailer), and "content-length" when the client
// sends one (a body, or an empty body with any method but GET and HEAD).
func ClientRequest(req *http.Request, body []byte) *RFC9421Request {
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	r := &RFC9421Request{
		Method:    method,
		Authority: host,
		Path:      req.URL.RequestURI(),
		Scheme:    strings.ToLower(req.URL.Scheme),
	}
	r.Headers = append(r.Headers, Header{Name: "host", Value: host})
	for _, name := range sortedNames(req.Header) {
		switch http.CanonicalHeaderKey(name) {
		case "Host", "Content-Length", "Transfer-Encoding", "Trailer":
			continue
		}
		for _, v := range req.Header[name] {
			r.Headers = append(r.Headers, Header{Name: strings.ToLower(name), Value: v})
		}
	}
	if len(body) > 0 || (method != http.MethodGet && method != http.MethodHead) {
		r.Headers = append(r.Headers, Header{Name: "content-length",
			Value: strconv.Itoa(len(body))})
	}
	return r
}

func sortedNames(h http.Header) []string {
	names := make([]string, 0, len(h))
	for name := range h {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func sfStringOK(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// Sign signs req with body as its exact body and sets its Signature-Input and Signature
// headers (replacing any), and Content-Digest (sha-256 of body) when a content-digest
// component is covered. It also sets req.Body, req.GetBody and req.ContentLength to body, so
// that what is sent is what was signed. Covered fields are read from req as ClientRequest
// describes, after Content-Digest is set. A request through a forward proxy sends an
// absolute URL as its target and cannot be verified.
//
// Errors: ErrBadSecret; an error wrapping ErrMalformed (KeyID, Label, Tag or the nonce cannot
// go in a structured field, more than MaxComponents components); ErrMissingHeader (a covered
// field is not set); ErrSignatureBase; or the error of s.Nonce.
func (s *RFC9421Signer) Sign(req *http.Request, body []byte) error {
	if len(s.Secret) < MinSecretLen || len(s.Secret) > MaxSecretLen {
		return ErrBadSecret
	}
	label := s.Label
	if label == "" {
		label = DefaultLabel
	}
	bad := func(what string) error { return fmt.Errorf("%w: %s", ErrMalformed, what) }
	switch {
	case s.KeyID == "" || !sfStringOK(s.KeyID):
		return bad("keyid")
	case !validKey(label) || len(label) > MaxLabelLen:
		return bad("label")
	case !sfStringOK(s.Tag):
		return bad("tag")
	}
	names := s.Components
	if names == nil {
		names = DefaultComponents(strings.Contains(req.URL.RequestURI(), "?"), len(body) > 0)
	}
	if len(names) > MaxComponents {
		return bad("more than " + strconv.Itoa(MaxComponents) + " components")
	}
	in := sfValue{inner: true, items: make([]sfItem, len(names))}
	digest := false
	for i, n := range names {
		it, err := parseComponent(n)
		if err != nil {
			return err
		}
		in.items[i] = it
		digest = digest || it.bare.str == "content-digest"
	}

	created := signingTime(s.Now).Unix()
	if !s.NoCreated {
		in.params.set("created", sfInt(created))
	}
	if s.Expires > 0 {
		in.params.set("expires", sfInt(created+int64(s.Expires/time.Second)))
	}
	nonce, err := newNonce(s.Nonce)
	if err != nil {
		return err
	}
	if !sfStringOK(nonce) {
		return bad("nonce")
	}
	if nonce != "" {
		in.params.set("nonce", sfStr(nonce))
	}
	if s.Alg {
		in.params.set("alg", sfStr(RFC9421Alg))
	}
	in.params.set("keyid", sfStr(s.KeyID))
	if s.Tag != "" {
		in.params.set("tag", sfStr(s.Tag))
	}

	if digest {
		req.Header.Set("Content-Digest", ContentDigest(body))
	}
	base, err := ClientRequest(req, body).base(in)
	if err != nil {
		return err
	}
	m := hmac.New(sha256.New, s.Secret)
	m.Write(base)
	sig := m.Sum(nil)
	for i := range base {
		base[i] = 0
	}

	var w sfWriter
	w.field([]sfMember{{key: label, val: in}}, sfKindDict)
	sigInput := string(w.b)
	w.b = w.b[:0]
	w.field([]sfMember{{key: label, val: sfValue{bare: sfBare{typ: sfBytes, bytes: sig}}}},
		sfKindDict)
	if w.err != nil {
		return bad("signature input")
	}
	req.Header.Set("Signature-Input", sigInput)
	req.Header.Set("Signature", string(w.b))
	setBody(req, body)
	return nil
}

// setBody makes body the request's body, resendable.
func setBody(req *http.Request, body []byte) {
	req.ContentLength = int64(len(body))
	if len(body) == 0 {
		req.Body = http.NoBody
		req.GetBody = func() (io.ReadCloser, error) { return http.NoBody, nil }
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.GetBody = func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(body)), nil
	}
}

// ---- the server side ----

// ServerRequest is the RFC9421Request of a request received by a server, with the scheme
// given by the caller ("" = https): method as received, authority r.Host, path r.RequestURI
// (the raw target), and every header field: "host" first (Go's server moves it out of
// r.Header), then the fields of r.Header with names lower-cased and sorted (the order within
// one name is the arrival order, which is the order that matters), then "transfer-encoding"
// when the request had one (Go's server moves it out too).
func ServerRequest(r *http.Request, scheme string) *RFC9421Request {
	sr := &RFC9421Request{Method: r.Method, Authority: r.Host, Path: r.RequestURI,
		Scheme: scheme}
	if r.Host != "" {
		sr.Headers = append(sr.Headers, Header{Name: "host", Value: r.Host})
	}
	for _, name := range sortedNames(r.Header) {
		if http.CanonicalHeaderKey(name) == "Host" {
			continue
		}
		lower := strings.ToLower(name)
		for _, v := range r.Header[name] {
			sr.Headers = append(sr.Headers, Header{Name: lower, Value: v})
		}
	}
	if len(r.TransferEncoding) > 0 && len(r.Header.Values("Transfer-Encoding")) == 0 {
		sr.Headers = append(sr.Headers, Header{Name: "transfer-encoding",
			Value: strings.Join(r.TransferEncoding, ", ")})
	}
	return sr
}

// RequestItemRFC9421 builds the "rfc9421" item to verify for a request received by a server
// (issue 6's HTTP convention): the scope from the caller (tenant from the app's
// configuration, container from the route, never from the signer's word), the request as
// ServerRequest describes it, Signature-Input and Signature as received (several lines
// joined with ", "), and body, the raw body as received and as the application will be
// handed it (nil: the empty body). The caller sets URIScheme ("http" when the request came
// over plain http) and Label (which signature, when there are several).
//
// It returns an error wrapping ErrNotSigned when Signature-Input or Signature is absent, or
// ErrBadAuthorization when r.RequestURI is empty (a request not received by a server).
func RequestItemRFC9421(r *http.Request, tenant, container string, body []byte) (Item, error) {
	if r.RequestURI == "" {
		return Item{}, fmt.Errorf("%w: request has no RequestURI", ErrBadAuthorization)
	}
	in, sig := r.Header.Values("Signature-Input"), r.Header.Values("Signature")
	if len(in) == 0 || len(sig) == 0 {
		return Item{}, ErrNotSigned
	}
	sr := ServerRequest(r, "")
	return Item{
		Scheme:         SchemeRFC9421,
		Tenant:         tenant,
		Container:      container,
		Method:         sr.Method,
		Authority:      sr.Authority,
		Path:           sr.Path,
		Headers:        sr.Headers,
		SignatureInput: strings.Join(in, ", "),
		Signature:      strings.Join(sig, ", "),
		Body:           body,
	}, nil
}

// RFC9421Request returns the request an rfc9421 item describes, for SignatureBase.
func (it *Item) RFC9421Request() *RFC9421Request {
	return &RFC9421Request{Method: it.Method, Authority: it.Authority, Path: it.Path,
		Scheme: it.URIScheme, Headers: it.Headers}
}
