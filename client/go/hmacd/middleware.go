// middleware.go - the net/http middleware: a Guard around an http.Handler, the container
// from a function of the request, the Identity in the request's context.

package hmacd

import (
	"log"
	"net/http"
	"time"
)

// MiddlewareConfig configures Middleware. Verifier and Container are required.
type MiddlewareConfig struct {
	// Verifier checks items with the daemon; *Client is one.
	Verifier Verifier
	// Container returns the container a request is addressed to, from its path: the
	// router's parameter, never a header or the body. "" refuses the request (401). With Go
	// 1.22's patterns (mux.Handle("POST /containers/{id}/exec", ...)) it is
	//	func(r *http.Request) string { return r.PathValue("id") }
	// and with chi chi.URLParam(r, "id"). Before Go 1.22, cut it out of the path, as the
	// pattern would (the middleware runs after the router chose the route):
	//	func(r *http.Request) string {
	//		rest := strings.TrimPrefix(r.URL.EscapedPath(), "/containers/")
	//		id, tail, ok := strings.Cut(rest, "/")
	//		if !ok || tail != "exec" || rest == r.URL.EscapedPath() {
	//			return ""
	//		}
	//		id, err := url.PathUnescape(id)
	//		if err != nil {
	//			return ""
	//		}
	//		return id
	//	}
	Container func(r *http.Request) string

	// BodyLimit is the largest body accepted, in bytes (default DefaultBodyLimit); larger:
	// 413.
	BodyLimit int64
	// Timeout bounds the wait for the daemon's verdict (default DefaultVerifyTimeout); past
	// it: 503.
	Timeout time.Duration
	// Tenant returns the tenant of an RFC 9421 request; "" refuses it (401). nil: the value
	// of the TenantHeader header, which the request must carry exactly once.
	Tenant func(r *http.Request) string
	// TenantHeader names the header Tenant reads by default (default DefaultTenantHeader).
	TenantHeader string
	// URIScheme, when set, is the scheme ("http" or "https") of every RFC 9421 request;
	// "" (default): the connection's (https over TLS, else http), see TrustForwardedProto.
	URIScheme string
	// TrustForwardedProto: take the scheme from X-Forwarded-Proto (RequestScheme). Only
	// behind a proxy that sets it on every request; otherwise a client could choose it.
	TrustForwardedProto bool
	// Label selects which RFC 9421 signature to verify when a request carries several.
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
	// Log receives each refusal: the status and the reason (never sent to the client).
	// nil: the standard logger (package log, stderr by default) prints Refusal.Message.
	Log func(r *http.Request, status int, reason string)
}

// Middleware returns net/http middleware that lets a request reach next only with a valid
// signature for the container cfg.Container finds in it, exactly as PROTOCOL.md 13.3 and 13.5
// say (see Guard.Check for the order of the checks):
//
//   - no valid signature for this container, whatever the daemon's verdict: 401
//     {"error":"unauthorized"} with WWW-Authenticate: HMACD-V1;
//   - a body over BodyLimit: 413 {"error":"too_large"}, before any verification;
//   - the daemon down, slow, refusing, not running as the expected user (ErrPeer), or its
//     verdict UNAVAILABLE: 503 {"error":"unavailable"} (fail closed: next never runs).
//
// The reason of each refusal goes to cfg.Log, never into the response. A request that
// passes reaches next with its body replaced by the verified bytes and its context carrying
// the Identity (IdentityFrom(r.Context())).
//
// It panics when Verifier or Container is nil, URIScheme is invalid or CaptureDir is not fit
// for capture files, since a route that cannot be protected as configured must not start
// serving.
func Middleware(cfg MiddlewareConfig) func(http.Handler) http.Handler {
	if cfg.Container == nil {
		panic("hmacd: MiddlewareConfig.Container is required")
	}
	g, err := NewGuard(GuardConfig{
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
		panic("hmacd: MiddlewareConfig: " + err.Error())
	}
	logf := cfg.Log
	if logf == nil {
		logf = func(r *http.Request, status int, reason string) {
			f := Refusal{Status: status, Reason: reason}
			log.Print(f.Message(r))
		}
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var tenant func() string
			if cfg.Tenant != nil {
				tenant = func() string { return cfg.Tenant(r) }
			}
			id, f := g.Check(r, cfg.Container(r), tenant)
			if f != nil {
				logf(r, f.Status, f.Reason)
				f.Respond(w)
				return
			}
			next.ServeHTTP(w, r.WithContext(ContextWithIdentity(r.Context(), id)))
		})
	}
}
