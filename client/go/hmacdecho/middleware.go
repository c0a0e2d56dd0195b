// Package hmacdecho is the Echo v4 middleware of hmacd: it verifies each request's signature
// with the daemon before the handler runs, exactly as PROTOCOL.md 13.3 specifies, for both
// schemes: "Authorization: HMACD-V1 ..." (hmacd-v1) and RFC 9421 HTTP Message Signatures with
// hmac-sha256 (a Signature-Input header).
//
// Import path: github.com/hmacd/hmacd/client/go/hmacdecho.
//
//	client, _ := hmacd.New("/run/hmacd/hmacd.sock", nil)
//	e.POST("/containers/:id/exec", exec, hmacdecho.Middleware(hmacdecho.Config{
//		Verifier: client,
//		Param:    "id", // the route parameter that names the container
//	}))
//
// For each request, in this order: a missing or invalid Authorization header or an absent
// signed header gives 401 {"error":"unauthorized"} with "WWW-Authenticate: HMACD-V1"; a body
// over the limit gives 413 {"error":"too_large"} before any verification; then any verdict
// other than OK gives the same 401, and a daemon that is down, slow or refuses the request
// gives 503 {"error":"unavailable"} (fail closed: the handler never runs), as do the verdict
// UNAVAILABLE (fleet mode: the daemon could not claim the request's nonce fleet-wide in time;
// the same response, logged with the verdict's name) and a socket served by a process that is
// not the expected server user (hmacd.ErrPeer: the client checks before it sends anything; see
// hmacd.Options.ServerUser). The container is
// c.Param(Param), never a claim of the signer; the path is the raw request target
// (r.RequestURI); the body is read whole and put back for the handler. The daemon always
// judges the body the handler will get, an empty one included (hmacd-v1: its SHA-256;
// RFC 9421: the body itself, for a covered Content-Digest), so a signed body that an attacker
// strips in transit (Content-Length: 0, every header kept) is refused with 401. A route
// without the parameter is a configuration error: the middleware returns an error (Echo
// answers 500). An hmacd-v1 request is also judged against the hmacd-v1 part of its scope's
// policy in the daemon: where `hmacctl policy set` gave --v1-nonce or --v1-require HEADER...,
// a signature without a nonce, or without one of those headers signed, gets the verdict
// INSUFFICIENT_COVERAGE, a 401 like any other.
//
// A request with a Signature-Input header and no HMACD-V1 Authorization is verified as an
// RFC 9421 signature (a request with both gets 401): the tenant comes from Config.Tenant
// (default: the X-Tenant header, exactly one; missing or invalid: 401), the container from the
// route as above, and the daemon gets every request header, Signature-Input and Signature as
// received, and the raw body (for a covered Content-Digest); the scope's coverage policy in
// the daemon decides which components the signature must cover (verdict
// INSUFFICIENT_COVERAGE when it does not, a 401 like any other; by default a request whose
// target has a query needs @query covered, or @request-target or @target-uri, so that a
// query added or changed in transit is refused). A signature made with
// another scope's key is UNKNOWN_KEY whatever X-Tenant says, since the key store binds each
// key id to its scope; a policy may also require the signature to cover x-tenant.
//
// Refusals are logged with c.Logger(): 401s (with the verdict name and the tenant, never the
// signature or the nonce) at warn level, which Echo hides by default (e.Logger.SetLevel(
// log.WARN) shows them); 503s at error level, with the reason (for a refused peer, the uids;
// for the verdict UNAVAILABLE, its name and the tenant).
package hmacdecho

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/hmacd/hmacd/client/go/hmacd"
	"github.com/labstack/echo/v4"
)

// Verifier is what the middleware needs of a client; *hmacd.Client is one.
type Verifier interface {
	VerifyOne(ctx context.Context, it *hmacd.Item) (hmacd.Verdict, error)
}

// Config configures Middleware.
type Config struct {
	// Verifier checks items with the daemon (required).
	Verifier Verifier
	// Param is the name of the route parameter holding the container, e.g. "id" for
	// "/containers/:id/exec" (required).
	Param string
	// BodyLimit is the largest body accepted, in bytes (default 1 MiB); larger: 413.
	BodyLimit int64
	// Timeout bounds the wait for the daemon's verdict (default 2s); past it: 503.
	Timeout time.Duration

	// Tenant returns the tenant of an RFC 9421 request; "" refuses it (401). nil: the value
	// of the TenantHeader header, which the request must carry exactly once.
	Tenant func(c echo.Context) string
	// TenantHeader names the header Tenant reads by default (default "X-Tenant").
	TenantHeader string
	// URIScheme is the scheme RFC 9421 requests are verified with (@scheme, @target-uri):
	// "https" (default) or "http", when the signer addresses the app over plain http.
	URIScheme string
	// Label selects which RFC 9421 signature to verify when a request carries several;
	// "" (default): the only one (several without a label: 401).
	Label string
}

// DefaultTenantHeader is the header that holds the tenant of an RFC 9421 request by default.
const DefaultTenantHeader = "X-Tenant"

// DefaultBodyLimit is 1 MiB, as PROTOCOL.md 13.3 says.
const DefaultBodyLimit = 1 << 20

// The exact refusal bodies of PROTOCOL.md 13.3 (413's is the one every hmacd middleware uses).
const (
	body401 = `{"error":"unauthorized"}`
	body503 = `{"error":"unavailable"}`
	body413 = `{"error":"too_large"}`
)

// Middleware returns the verifying middleware. It panics if Verifier or Param is missing,
// since a route that cannot be protected must not start serving.
func Middleware(cfg Config) echo.MiddlewareFunc {
	if cfg.Verifier == nil || cfg.Param == "" {
		panic("hmacdecho: Config.Verifier and Config.Param are required")
	}
	if cfg.URIScheme != "" && cfg.URIScheme != "https" && cfg.URIScheme != "http" {
		panic("hmacdecho: Config.URIScheme must be \"https\" or \"http\"")
	}
	if cfg.TenantHeader == "" {
		cfg.TenantHeader = DefaultTenantHeader
	}
	if cfg.BodyLimit <= 0 {
		cfg.BodyLimit = DefaultBodyLimit
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			return cfg.serve(c, next)
		}
	}
}

// unavailable is the 503 of every case where the daemon could not judge the request: no
// answer, an error, or the verdict UNAVAILABLE.
func unavailable(c echo.Context, why string) error {
	c.Logger().Errorf("hmacd: 503: %s", why)
	return c.JSONBlob(http.StatusServiceUnavailable, []byte(body503))
}

func unauthorized(c echo.Context, why string) error {
	c.Logger().Warnf("hmacd: 401 %s %s: %s", c.Request().Method, c.Path(), why)
	c.Response().Header().Set("WWW-Authenticate", hmacd.AuthScheme)
	return c.JSONBlob(http.StatusUnauthorized, []byte(body401))
}

func (cfg *Config) serve(c echo.Context, next echo.HandlerFunc) error {
	req := c.Request()

	// 1 and 2. The signature header(s), the scope, the item (401 for the caller's faults).
	var it hmacd.Item
	var why string
	var err error
	if len(req.Header.Values("Signature-Input")) > 0 {
		it, why, err = cfg.rfc9421Item(c)
	} else {
		it, why, err = cfg.v1Item(c)
	}
	if err != nil {
		return err
	}
	if why != "" {
		return unauthorized(c, why)
	}

	// 5. The body, bounded before it is read whole, then put back for the handler.
	if req.ContentLength > cfg.BodyLimit {
		return c.JSONBlob(http.StatusRequestEntityTooLarge, []byte(body413))
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, cfg.BodyLimit+1))
	if err != nil {
		c.Logger().Warnf("hmacd: reading the body: %v", err)
		return c.JSONBlob(http.StatusBadRequest, []byte(`{"error":"bad_request"}`))
	}
	if int64(len(body)) > cfg.BodyLimit {
		return c.JSONBlob(http.StatusRequestEntityTooLarge, []byte(body413))
	}
	// The daemon judges exactly the body the handler gets, an empty one too.
	req.Body = io.NopCloser(bytes.NewReader(body))
	if it.Scheme == hmacd.SchemeRFC9421 {
		it.Body = body // the daemon checks a covered Content-Digest against it
	} else {
		digest := sha256.Sum256(body)
		it.BodySHA256 = digest[:]
	}

	// 3. The verdict; fail closed on any error.
	ctx, cancel := context.WithTimeout(req.Context(), cfg.Timeout)
	v, err := cfg.Verifier.VerifyOne(ctx, &it)
	cancel()
	if err != nil {
		var se *hmacd.ServerError
		if errors.As(err, &se) {
			return unavailable(c, "daemon error "+se.Code)
		}
		return unavailable(c, err.Error())
	}
	if v != hmacd.VerdictOK {
		scheme := "hmacd-v1"
		if it.Scheme == hmacd.SchemeRFC9421 {
			scheme = "rfc9421"
		}
		why := scheme + " tenant " + it.Tenant + ": " + v.String()
		if v == hmacd.VerdictUnavailable {
			return unavailable(c, why) // fleet mode: not judged in time, as if not answered
		}
		return unauthorized(c, why)
	}
	return next(c)
}

// item builds the item for the container in the route: build's error is a reason for a 401
// (why), a route without the parameter a configuration error (err, a 500).
func (cfg *Config) item(c echo.Context,
	build func(container string) (hmacd.Item, error)) (it hmacd.Item, why string, err error) {
	container := c.Param(cfg.Param)
	if container == "" {
		return it, "", fmt.Errorf("hmacdecho: route %s has no parameter %q", c.Path(), cfg.Param)
	}
	it, err = build(container)
	if err != nil {
		return it, err.Error(), nil
	}
	return it, "", nil
}

// v1Item builds the hmacd-v1 item (without its body digest). why is a reason for a 401; err
// a configuration error.
func (cfg *Config) v1Item(c echo.Context) (it hmacd.Item, why string, err error) {
	req := c.Request()
	vals := req.Header.Values("Authorization")
	if len(vals) != 1 {
		return it, "no single Authorization header", nil
	}
	auth, err := hmacd.ParseAuthorization(vals[0])
	if err != nil {
		return it, err.Error(), nil
	}
	return cfg.item(c, func(container string) (hmacd.Item, error) {
		return hmacd.RequestItem(req, auth, container, nil)
	})
}

// rfc9421Item builds the rfc9421 item (without its body), as v1Item.
func (cfg *Config) rfc9421Item(c echo.Context) (it hmacd.Item, why string, err error) {
	req := c.Request()
	for _, a := range req.Header.Values("Authorization") {
		scheme, _, _ := strings.Cut(a, " ")
		if strings.EqualFold(scheme, hmacd.AuthScheme) {
			return it, "both an HMACD-V1 Authorization and a Signature-Input", nil
		}
	}
	var tenant string
	if cfg.Tenant != nil {
		tenant = cfg.Tenant(c)
	} else if vals := req.Header.Values(cfg.TenantHeader); len(vals) == 1 {
		tenant = vals[0]
	}
	if !hmacd.ValidScope(tenant) {
		return it, "no valid tenant", nil
	}
	return cfg.item(c, func(container string) (hmacd.Item, error) {
		ri, err := hmacd.RequestItemRFC9421(req, tenant, container, nil)
		ri.URIScheme = cfg.URIScheme
		ri.Label = cfg.Label
		return ri, err
	})
}
