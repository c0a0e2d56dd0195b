// http.go - both ends of the HTTP convention (PROTOCOL.md 13.2 and 13.3): Signer puts an
// HMACD-V1 Authorization header on an outgoing request, RequestItem turns a received request
// into the Item to verify. Both derive header values the same way (headerValue) so that what a
// Go client signs is what a Go server verifies.

package hmacd

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// ErrMissingHeader: a header listed in SignedHeaders is not in the request.
var ErrMissingHeader = errors.New("hmacd: signed header absent from the request")

// trimOWS removes leading and trailing spaces and tabs, as 13.3 step 2 says.
func trimOWS(s string) string {
	return strings.Trim(s, " \t")
}

// headerValue is the value of the header `name` (lower-case) as 13.3 step 2 defines it: each
// field trimmed, several fields joined with ", " in arrival order. Go's HTTP server moves Host
// out of the header map into r.Host, and Go's client sends r.Host (or r.URL.Host), so "host"
// is read from there on both sides.
func headerValue(r *http.Request, name string, client bool) (string, bool) {
	if name == "host" {
		h := r.Host
		if client && h == "" && r.URL != nil {
			h = r.URL.Host
		}
		return trimOWS(h), h != ""
	}
	vals := r.Header.Values(name)
	if len(vals) == 0 {
		return "", false
	}
	if len(vals) == 1 {
		return trimOWS(vals[0]), true
	}
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = trimOWS(v)
	}
	return strings.Join(parts, ", "), true
}

// RequestItem builds the item to verify for a request received by a server (PROTOCOL.md 13.3
// step 2): tenant, epoch, ts, nonce and sig from a (the parsed Authorization header);
// container from the caller, who takes it from the route parameter; method as received; path
// = r.RequestURI, the raw request target; the signed headers from the request; body_sha256 =
// SHA-256 of body, the raw body bytes as received.
//
// It returns an error wrapping ErrMissingHeader when a signed header is absent (401), or
// ErrBadAuthorization when r.RequestURI is empty (a request not received by a server).
func RequestItem(r *http.Request, a *Authorization, container string, body []byte) (Item, error) {
	if r.RequestURI == "" {
		return Item{}, fmt.Errorf("%w: request has no RequestURI", ErrBadAuthorization)
	}
	it := Item{
		Tenant:    a.Tenant,
		Container: container,
		Epoch:     a.Epoch,
		Method:    r.Method,
		Path:      r.RequestURI,
		Ts:        a.Timestamp,
		Nonce:     a.Nonce,
		Sig:       a.Signature,
	}
	if len(a.SignedHeaders) > 0 {
		it.Headers = make([]Header, len(a.SignedHeaders))
		for i, name := range a.SignedHeaders {
			v, ok := headerValue(r, name, false)
			if !ok {
				return Item{}, fmt.Errorf("%w: %s", ErrMissingHeader, name)
			}
			it.Headers[i] = Header{Name: name, Value: v}
		}
	}
	d := sha256.Sum256(body)
	it.BodySHA256 = d[:]
	return it, nil
}

// Signer signs outgoing requests for one tenant key epoch (PROTOCOL.md 13.2). Its fields must
// not change while it is in use; it is then safe for concurrent use.
type Signer struct {
	Tenant string
	Epoch  uint64
	Secret []byte // the epoch's secret: hmacctl prints it in standard base64 (decode it first)

	// SignedHeaders lists the lower-case header names to sign. nil: "host", plus
	// "content-type" when the body is not empty and the request has a Content-Type. A scope
	// whose policy requires headers (hmacctl policy set --v1-require) refuses a signature
	// that leaves one out (VerdictInsufficientCoverage).
	SignedHeaders []string
	// Now gives the signing time; nil: time.Now.
	Now func() time.Time
	// Nonce gives the nonce; nil: 16 random bytes in lower-case hex. "" disables replay
	// protection for the request, and a scope whose policy requires a nonce (hmacctl policy
	// set --v1-nonce) refuses it (VerdictInsufficientCoverage).
	Nonce func() (string, error)
}

func randomNonce() (string, error) {
	var b [16]byte
	_, err := io.ReadFull(rand.Reader, b[:])
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// signingTime is now() of a signer's Now field, or time.Now() when it is nil.
func signingTime(now func() time.Time) time.Time {
	if now == nil {
		return time.Now()
	}
	return now()
}

// newNonce calls a signer's Nonce field, or randomNonce when it is nil.
func newNonce(gen func() (string, error)) (string, error) {
	if gen == nil {
		gen = randomNonce
	}
	nonce, err := gen()
	if err != nil {
		return "", fmt.Errorf("hmacd: nonce: %w", err)
	}
	return nonce, nil
}

// Sign signs req, addressed to container (the one in its path), with body as its exact body,
// and sets its Authorization header. It also sets req.Body, req.GetBody and req.ContentLength
// to body, so that what is sent is what was signed. The path signed is req.URL.RequestURI(),
// which is what Go's HTTP client sends as the request target (a request through a forward
// proxy sends an absolute URL instead and cannot be verified).
//
// Errors: ErrBadSecret, ErrMissingHeader (a listed header is not set), an error wrapping
// ErrMalformed (a field breaks PROTOCOL.md section 7, e.g. a header value holding a tab), or
// the error of s.Nonce.
func (s *Signer) Sign(req *http.Request, container string, body []byte) error {
	nonce, err := newNonce(s.Nonce)
	if err != nil {
		return err
	}
	if nonce != "" && !nonceOK(nonce) {
		return fmt.Errorf("%w: nonce", ErrMalformed)
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	ts := signingTime(s.Now).Unix()
	if ts < 0 {
		ts = 0
	}
	names := s.SignedHeaders
	if names == nil {
		names = []string{"host"}
		if len(body) > 0 && len(req.Header.Values("Content-Type")) > 0 {
			names = append(names, "content-type")
		}
	}
	it := Item{
		Tenant:    s.Tenant,
		Container: container,
		Epoch:     s.Epoch,
		Method:    method,
		Path:      req.URL.RequestURI(),
		Headers:   make([]Header, len(names)),
		Body:      body,
		Ts:        uint64(ts),
		Nonce:     nonce,
	}
	for i, name := range names {
		v, ok := headerValue(req, name, true)
		if !ok {
			return fmt.Errorf("%w: %s", ErrMissingHeader, name)
		}
		it.Headers[i] = Header{Name: name, Value: v}
	}
	err = Sign(s.Secret, &it)
	if err != nil {
		return err
	}
	a := Authorization{
		Tenant:        s.Tenant,
		Epoch:         s.Epoch,
		Timestamp:     it.Ts,
		Nonce:         nonce,
		SignedHeaders: names,
		Signature:     it.Sig,
	}
	req.Header.Set("Authorization", a.String())
	setBody(req, body)
	return nil
}
