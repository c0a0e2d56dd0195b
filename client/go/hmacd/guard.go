// guard.go - the server side of the HTTP convention (PROTOCOL.md 13.3 and 13.5) for every Go
// middleware: a Guard takes a received *http.Request and the container its router found, and
// either passes it (the Identity its signature established, the verified body put back for
// the handler) or refuses it (a Refusal: the status and the fixed response, and the reason,
// which goes to the server's log only). The net/http middleware (Middleware), hmacdecho and
// hmacdgin are thin adapters around one Guard each, so they refuse the same requests with the
// same statuses, bodies and headers.

package hmacd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Verifier is what a middleware needs of a client; *Client is one.
type Verifier interface {
	VerifyOne(ctx context.Context, it *Item) (Verdict, error)
}

// Defaults of GuardConfig (and of every middleware's Config).
const (
	// DefaultBodyLimit is 1 MiB, as PROTOCOL.md 13.3 says.
	DefaultBodyLimit = 1 << 20
	// DefaultVerifyTimeout bounds the wait for the daemon's verdict.
	DefaultVerifyTimeout = 2 * time.Second
	// DefaultTenantHeader is the header that holds the tenant of an RFC 9421 request.
	DefaultTenantHeader = "X-Tenant"
)

// The refusal bodies of PROTOCOL.md 13.3, the same in every hmacd middleware.
const (
	body400 = `{"error":"bad_request"}`
	body401 = `{"error":"unauthorized"}`
	body413 = `{"error":"too_large"}`
	body503 = `{"error":"unavailable"}`
)

// GuardConfig configures a Guard. Every field but Verifier is optional.
type GuardConfig struct {
	// Verifier checks items with the daemon (required); *Client is one.
	Verifier Verifier
	// BodyLimit is the largest body accepted, in bytes (default DefaultBodyLimit); larger:
	// 413, before any verification.
	BodyLimit int64
	// Timeout bounds the wait for the daemon's verdict (default DefaultVerifyTimeout); past
	// it: 503.
	Timeout time.Duration
	// TenantHeader names the header that holds the tenant of an RFC 9421 request when the
	// caller of Check gives no tenant function (default DefaultTenantHeader); the request
	// must carry it exactly once.
	TenantHeader string
	// URIScheme, when set ("http" or "https"), is the scheme every RFC 9421 request is
	// verified with (@scheme, @target-uri), whatever the connection. "" (default): the scheme
	// of the connection, as RequestScheme finds it.
	URIScheme string
	// TrustForwardedProto makes RequestScheme believe the X-Forwarded-Proto header. Set it
	// only when every request reaches the app through a proxy that sets that header itself:
	// otherwise any client can choose the scheme its signature is checked with.
	TrustForwardedProto bool
	// Label selects which RFC 9421 signature to verify when a request carries several; ""
	// (default): the only one (several without a label: 401).
	Label string
	// CaptureDir, when set, turns capture files on (off by default): each request hmacd
	// refused with a verdict other than OK and UNAVAILABLE (a 401) is written there as a
	// capture file (PROTOCOL.md, "Capture files") for `hmacctl explain --request FILE`:
	// the request line, every header (the values of headers the signature does not cover
	// replaced by "[redacted]"), the body's length and SHA-256 and SHA-512 (never the body)
	// and the verdict. The directory must exist, not be a symlink, belong to the process's
	// user and not be writable by group or others: NewGuard fails otherwise, and a capture is
	// skipped if that no longer holds. Files are named hmacd-capture-<unix time>-<16 hex
	// digits>.json, created with mode 0600, never over an existing file or through a symlink.
	// The refusal's Reason (the log line) ends with "; capture <path>", or says why no file
	// was written; the response is the same with or without captures.
	CaptureDir string
	// CaptureMax bounds the capture files in CaptureDir (default DefaultCaptureMax): those
	// there when the process first used the directory count, and every Guard of the process
	// on the same directory shares the count. Once reached, captures stop (said once in a
	// Reason) until the process restarts, so that bad signatures cannot fill the disk.
	CaptureMax int
}

// Guard applies the HTTP convention to received requests. It is safe for concurrent use.
type Guard struct {
	cfg     GuardConfig
	capture *capturer // nil: no capture files
}

// NewGuard checks cfg and fills in its defaults. It fails when Verifier is nil, URIScheme
// is neither "", "http" nor "https", or CaptureDir is set and is not a directory fit for
// capture files (see GuardConfig.CaptureDir).
func NewGuard(cfg GuardConfig) (*Guard, error) {
	if cfg.Verifier == nil {
		return nil, errors.New("a Verifier is required")
	}
	if cfg.URIScheme != "" && cfg.URIScheme != "https" && cfg.URIScheme != "http" {
		return nil, errors.New(`URIScheme must be "", "https" or "http"`)
	}
	if cfg.TenantHeader == "" {
		cfg.TenantHeader = DefaultTenantHeader
	}
	if cfg.BodyLimit <= 0 {
		cfg.BodyLimit = DefaultBodyLimit
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultVerifyTimeout
	}
	g := &Guard{cfg: cfg}
	if cfg.CaptureDir != "" {
		c, err := newCapturer(cfg.CaptureDir, cfg.CaptureMax)
		if err != nil {
			return nil, err
		}
		g.capture = c
	}
	return g, nil
}

// Refusal is a request the Guard refused: the status, and the reason for the server's log.
// The response itself (Respond) never depends on the reason.
type Refusal struct {
	// Status is 401 (no valid signature for this container, whatever the verdict), 413 (a
	// body over the limit), 503 (the daemon did not judge the request: down, slow, refusing,
	// not the expected user, or its verdict UNAVAILABLE) or 400 (the body could not be read).
	Status int
	// Reason says why, for the server's log: the scheme, tenant and container as far as they
	// are known, and the verdict's name or the client's error. It never holds a signature, a
	// nonce or a secret; names that are not valid scope names are quoted.
	Reason string
}

// Respond writes the refusal's response: the status, Content-Type: application/json, the
// fixed body ({"error":"unauthorized"}, {"error":"too_large"}, {"error":"unavailable"} or
// {"error":"bad_request"}), and for a 401 WWW-Authenticate: HMACD-V1. A 503 is the same
// whether the daemon was unreachable or answered UNAVAILABLE.
func (f *Refusal) Respond(w http.ResponseWriter) {
	var body string
	switch f.Status {
	case http.StatusUnauthorized:
		body = body401
		w.Header().Set("WWW-Authenticate", AuthScheme)
	case http.StatusRequestEntityTooLarge:
		body = body413
	case http.StatusServiceUnavailable:
		body = body503
	default:
		body = body400
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(f.Status)
	_, _ = io.WriteString(w, body)
}

// Message is the line a middleware logs for the refusal of r by default:
// "hmacd: 401 POST /containers/web-01/exec: hmacd-v1 tenant acme container web-01:
// BAD_SIGNATURE" (the path without its query).
func (f *Refusal) Message(r *http.Request) string {
	return fmt.Sprintf("hmacd: %d %s %s: %s", f.Status, r.Method, r.URL.EscapedPath(), f.Reason)
}

// RequestScheme is the scheme a received request came with, for RFC 9421's @scheme and
// @target-uri: "https" when it came over TLS (r.TLS set), else "http"; with
// trustForwardedProto, the X-Forwarded-Proto header decides when it says "http" or "https"
// (several values: the last, the one the nearest proxy added; any case).
func RequestScheme(r *http.Request, trustForwardedProto bool) string {
	if trustForwardedProto {
		vals := r.Header.Values("X-Forwarded-Proto")
		if len(vals) > 0 {
			joined := strings.Join(vals, ",")
			last := joined[strings.LastIndexByte(joined, ',')+1:]
			p := strings.ToLower(trimOWS(last))
			if p == "http" || p == "https" {
				return p
			}
		}
	}
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// logName is s for the log: as it is when it is a valid scope name (nothing an attacker can
// forge a log line with), else quoted and cut to MaxScopeLen bytes.
func logName(s string) string {
	if scopeOK(s) {
		return s
	}
	if len(s) > MaxScopeLen {
		s = s[:MaxScopeLen]
	}
	return strconv.Quote(s)
}

// who names the scheme and scope of an item for a log line.
func who(it *Item) string {
	scheme := it.Scheme.String()
	if it.Tenant != "" {
		scheme += " tenant " + logName(it.Tenant)
	}
	if it.Container != "" {
		scheme += " container " + logName(it.Container)
	}
	return scheme
}

// Check applies PROTOCOL.md 13.3 (an HMACD-V1 Authorization header) or 13.5 (a
// Signature-Input header and no HMACD-V1 Authorization) to r, whose container is container,
// the value the router found in the request's path ("" gives 401). tenant gives the tenant of
// an RFC 9421 request and is called for those only; nil: the value of the TenantHeader
// header, which the request must carry exactly once. A tenant that is not a valid scope name
// gives 401.
//
// In this order, the first that fails decides: the signature header(s) and scope (401), the
// signed headers being present (401), the body's size (413, read whole, at most BodyLimit
// bytes), the daemon's verdict (OK passes, UNAVAILABLE gives 503, any other verdict 401) or
// the daemon not answering in Timeout (503).
//
// It returns the Identity of a request that passed, with r.Body replaced by the bytes the
// daemon judged (an empty body too), or the Refusal of one that did not (r.Body then possibly
// consumed). It never panics on a request and never lets one through without an OK verdict.
func (g *Guard) Check(r *http.Request, container string, tenant func() string) (*Identity,
	*Refusal) {
	received := time.Now().Unix()
	var it Item
	var id *Identity
	var why string
	if len(r.Header.Values("Signature-Input")) > 0 {
		it, id, why = g.rfc9421Item(r, container, tenant)
	} else {
		it, id, why = g.v1Item(r, container)
	}
	if why != "" {
		return nil, &Refusal{Status: http.StatusUnauthorized, Reason: why}
	}

	// The body, bounded before it is read whole, then put back for the handler.
	tooLarge := &Refusal{Status: http.StatusRequestEntityTooLarge,
		Reason: who(&it) + ": body over " + strconv.FormatInt(g.cfg.BodyLimit, 10) + " bytes"}
	if r.ContentLength > g.cfg.BodyLimit {
		return nil, tooLarge
	}
	var body []byte
	if r.Body != nil {
		var err error
		body, err = io.ReadAll(io.LimitReader(r.Body, g.cfg.BodyLimit+1))
		if err != nil {
			return nil, &Refusal{Status: http.StatusBadRequest,
				Reason: who(&it) + ": reading the body: " + err.Error()}
		}
	}
	if int64(len(body)) > g.cfg.BodyLimit {
		return nil, tooLarge
	}
	// The daemon judges exactly the body the handler gets, an empty one too.
	r.Body = io.NopCloser(bytes.NewReader(body))
	if it.Scheme == SchemeRFC9421 {
		it.Body = body // the daemon checks a covered Content-Digest against it
	} else {
		digest := sha256.Sum256(body)
		it.BodySHA256 = digest[:]
	}

	// The verdict; fail closed on any error.
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.Timeout)
	v, err := g.cfg.Verifier.VerifyOne(ctx, &it)
	cancel()
	if err != nil {
		var se *ServerError
		if errors.As(err, &se) {
			err = errors.New("daemon error " + se.Code)
		}
		return nil, &Refusal{Status: http.StatusServiceUnavailable,
			Reason: who(&it) + ": " + err.Error()}
	}
	switch v {
	case VerdictOK:
		return id, nil
	case VerdictUnavailable: // fleet mode: not judged in time, as if not answered
		return nil, &Refusal{Status: http.StatusServiceUnavailable,
			Reason: who(&it) + ": " + v.String()}
	}
	reason := who(&it) + ": " + v.String()
	if g.capture != nil {
		uriScheme := it.URIScheme
		if it.Scheme != SchemeRFC9421 {
			uriScheme = g.cfg.URIScheme
			if uriScheme == "" {
				uriScheme = RequestScheme(r, g.cfg.TrustForwardedProto)
			}
		}
		if note := g.capture.capture(r, &it, uriScheme, body, v, received); note != "" {
			reason += "; " + note
		}
	}
	return nil, &Refusal{Status: http.StatusUnauthorized, Reason: reason}
}

// v1Item builds the hmacd-v1 item (without its body digest) and identity; why is a reason
// for a 401.
func (g *Guard) v1Item(r *http.Request, container string) (it Item, id *Identity, why string) {
	vals := r.Header.Values("Authorization")
	if len(vals) != 1 {
		return it, nil, "hmacd-v1: no single Authorization header"
	}
	auth, err := ParseAuthorization(vals[0])
	if err != nil {
		return it, nil, "hmacd-v1: " + err.Error()
	}
	if container == "" {
		return it, nil, "hmacd-v1 tenant " + auth.Tenant + ": no container in the request"
	}
	it, err = RequestItem(r, auth, container, nil)
	if err != nil {
		it = Item{Tenant: auth.Tenant, Container: container}
		return it, nil, who(&it) + ": " + err.Error()
	}
	it.BodySHA256 = nil
	return it, &Identity{
		Scheme:    SchemeHMACDV1,
		Tenant:    auth.Tenant,
		Container: container,
		Epoch:     auth.Epoch,
		Timestamp: auth.Timestamp,
		Nonce:     auth.Nonce,
	}, ""
}

// rfc9421Item builds the rfc9421 item (without its body) and identity, as v1Item.
func (g *Guard) rfc9421Item(r *http.Request, container string,
	tenantOf func() string) (it Item, id *Identity, why string) {
	it.Scheme = SchemeRFC9421
	for _, a := range r.Header.Values("Authorization") {
		scheme, _, _ := strings.Cut(a, " ")
		if strings.EqualFold(scheme, AuthScheme) {
			return it, nil, "both an HMACD-V1 Authorization and a Signature-Input"
		}
	}
	var tenant string
	if tenantOf != nil {
		tenant = tenantOf()
	} else if vals := r.Header.Values(g.cfg.TenantHeader); len(vals) == 1 {
		tenant = vals[0]
	}
	if !scopeOK(tenant) {
		return it, nil, "rfc9421: no valid tenant"
	}
	it.Tenant = tenant
	if container == "" {
		return it, nil, who(&it) + ": no container in the request"
	}
	it, err := RequestItemRFC9421(r, tenant, container, nil)
	if err != nil {
		it = Item{Scheme: SchemeRFC9421, Tenant: tenant, Container: container}
		return it, nil, who(&it) + ": " + err.Error()
	}
	it.URIScheme = g.cfg.URIScheme
	if it.URIScheme == "" {
		it.URIScheme = RequestScheme(r, g.cfg.TrustForwardedProto)
	}
	it.Label = g.cfg.Label
	id = &Identity{Scheme: SchemeRFC9421, Tenant: tenant, Container: container}
	id.signatureParams(it.SignatureInput, g.cfg.Label)
	return it, id, ""
}
