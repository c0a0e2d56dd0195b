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
// hmacd.Options.ServerUser). The container is c.Param(Param), never a claim of the signer
// (an empty one gives 401); the path is the raw request target (r.RequestURI); the body is
// read whole and put back for the handler. The daemon always
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
// received, and the raw body (for a covered Content-Digest), with the scheme the request came
// with (@scheme, @target-uri: https over TLS, else http; X-Forwarded-Proto only with
// TrustForwardedProto, URIScheme to fix it); the scope's coverage policy in the daemon
// decides which components the signature must cover (verdict INSUFFICIENT_COVERAGE when it
// does not, a 401 like any other; by default a request whose
// target has a query needs @query covered, or @request-target or @target-uri, so that a
// query added or changed in transit is refused). A signature made with
// another scope's key is UNKNOWN_KEY whatever X-Tenant says, since the key store binds each
// key id to its scope; a policy may also require the signature to cover x-tenant.
//
// The reason of each refusal goes to the server's log, never into the response: by default
// through c.Logger() at error level, the level Echo shows by default (a 401 is the one thing
// a user debugging a refused signer needs to see: the verdict's name, the scheme, tenant and
// container, never the signature or the nonce); Config.Log takes them elsewhere.
//
// A request that passes reaches the handler with its Identity (the scheme, tenant, container,
// epoch or key id; IdentityFrom(c)), also in the request's context (hmacd.IdentityFrom). The
// checks are those of hmacd.Guard, which every Go middleware of hmacd is built on: they give
// the same statuses, bodies and headers.
package hmacdecho

import (
	"fmt"
	"time"

	"github.com/hmacd/hmacd/client/go/hmacd"
	"github.com/labstack/echo/v4"
)

// Verifier is what the middleware needs of a client; *hmacd.Client is one.
type Verifier = hmacd.Verifier

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
	// URIScheme, when set ("http" or "https"), is the scheme every RFC 9421 request is
	// verified with (@scheme, @target-uri). "" (default): the connection's, https over TLS
	// and http otherwise (hmacd.RequestScheme).
	URIScheme string
	// TrustForwardedProto takes the scheme from the X-Forwarded-Proto header. Set it only
	// behind a proxy that sets that header on every request: otherwise a client chooses it.
	TrustForwardedProto bool
	// Label selects which RFC 9421 signature to verify when a request carries several;
	// "" (default): the only one (several without a label: 401).
	Label string
	// CaptureDir, when set, writes a capture file there for each request hmacd refused
	// (401 from its verdict; never for a 503, a 413 or a 401 decided before hmacd), for
	// `hmacctl explain --request FILE`: see hmacd.GuardConfig.CaptureDir. Off by default. A
	// directory that does not exist, is a symlink, belongs to another user or is writable by
	// group or others makes Middleware panic. The refusal's log line names the file.
	CaptureDir string
	// CaptureMax bounds the capture files in CaptureDir (default 100,
	// hmacd.DefaultCaptureMax); then captures stop until the process restarts.
	CaptureMax int
	// Log receives each refusal: its status and reason (never sent to the client). nil:
	// c.Logger().Errorf, which Echo shows by default.
	Log func(c echo.Context, status int, reason string)
}

// DefaultTenantHeader is the header that holds the tenant of an RFC 9421 request by default.
const DefaultTenantHeader = hmacd.DefaultTenantHeader

// DefaultBodyLimit is 1 MiB, as PROTOCOL.md 13.3 says.
const DefaultBodyLimit = hmacd.DefaultBodyLimit

// ContextKey is the key of the verified *hmacd.Identity in the echo.Context (c.Get).
const ContextKey = "hmacd"

// IdentityFrom returns the Identity the middleware verified for the request of c, or nil
// and false when it did not go through the middleware.
func IdentityFrom(c echo.Context) (*hmacd.Identity, bool) {
	id, ok := c.Get(ContextKey).(*hmacd.Identity)
	return id, ok && id != nil
}

// Middleware returns the verifying middleware. It panics if Verifier or Param is missing,
// URIScheme is invalid or CaptureDir is not fit for capture files, since a route that cannot
// be protected as configured must not start serving.
func Middleware(cfg Config) echo.MiddlewareFunc {
	if cfg.Verifier == nil || cfg.Param == "" {
		panic("hmacdecho: Config.Verifier and Config.Param are required")
	}
	g, err := hmacd.NewGuard(hmacd.GuardConfig{
		Verifier:            cfg.Verifier,
		BodyLimit:           cfg.BodyLimit,
		Timeout:             cfg.Timeout,
		TenantHeader:        cfg.TenantHeader,
		URIScheme:           cfg.URIScheme,
		TrustForwardedProto: cfg.TrustForwardedProto,
		Label:               cfg.Label,
		CaptureDir:          cfg.CaptureDir,
		CaptureMax:          cfg.CaptureMax,
	})
	if err != nil {
		panic("hmacdecho: Config: " + err.Error())
	}
	logf := cfg.Log
	if logf == nil {
		logf = func(c echo.Context, status int, reason string) {
			f := hmacd.Refusal{Status: status, Reason: reason}
			c.Logger().Errorf("%s", f.Message(c.Request()))
		}
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !hasParam(c, cfg.Param) {
				return fmt.Errorf("hmacdecho: route %s has no parameter %q", c.Path(),
					cfg.Param)
			}
			var tenant func() string
			if cfg.Tenant != nil {
				tenant = func() string { return cfg.Tenant(c) }
			}
			req := c.Request()
			id, f := g.Check(req, c.Param(cfg.Param), tenant)
			if f != nil {
				logf(c, f.Status, f.Reason)
				f.Respond(c.Response())
				return nil
			}
			c.Set(ContextKey, id)
			c.SetRequest(req.WithContext(hmacd.ContextWithIdentity(req.Context(), id)))
			return next(c)
		}
	}
}

// hasParam reports whether the route matched for c has the parameter name.
func hasParam(c echo.Context, name string) bool {
	for _, n := range c.ParamNames() {
		if n == name {
			return true
		}
	}
	return false
}
