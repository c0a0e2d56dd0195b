// Package hmacdgin is the gin middleware of hmacd: it verifies each request's signature with
// the daemon before the handler runs, exactly as the net/http (hmacd.Middleware) and Echo
// (hmacdecho) middleware do, since all three are built on hmacd.Guard (PROTOCOL.md 13.3 and
// 13.5: both the HMACD-V1 Authorization scheme and RFC 9421 signatures).
//
// Import path: github.com/hmacd/hmacd/client/go/hmacdgin.
//
//	client, _ := hmacd.New("/run/hmacd/hmacd.sock", nil)
//	r.POST("/containers/:id/exec", hmacdgin.Middleware(hmacdgin.Config{
//		Verifier: client,
//		Param:    "id", // the route parameter that names the container
//	}), exec)
//	// in exec: id, _ := hmacdgin.IdentityFrom(c) -> id.Tenant, id.Container, ...
//
// The container is c.Param(Param), never a claim of the signer. Refusals, in the order of
// hmacd.Guard.Check: no valid signature for this container, whatever the verdict: 401
// {"error":"unauthorized"} with WWW-Authenticate: HMACD-V1; a body over BodyLimit: 413
// {"error":"too_large"}; the daemon down, slow, refusing, not the expected user, or its
// verdict UNAVAILABLE: 503 {"error":"unavailable"}. The handler chain is aborted and never
// runs. A route without the parameter is a configuration error: 500, empty body, the error
// in c.Errors. The reason of each refusal goes to gin.DefaultErrorWriter (stderr) by default,
// or to Config.Log, never into the response.
//
// A request that passes reaches the handler with its body replaced by the verified bytes
// (read it with c.GetRawData or bind it: the daemon judged exactly those) and its Identity
// in gin's context (IdentityFrom(c), c.Get(ContextKey)) and in the request's
// (hmacd.IdentityFrom(c.Request.Context())).
package hmacdgin

import (
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hmacd/hmacd/client/go/hmacd"
)

// Config configures Middleware. Verifier and Param are required.
type Config struct {
	// Verifier checks items with the daemon; *hmacd.Client is one.
	Verifier hmacd.Verifier
	// Param is the name of the route parameter holding the container, e.g. "id" for
	// "/containers/:id/exec".
	Param string
	// BodyLimit is the largest body accepted, in bytes (default 1 MiB); larger: 413.
	BodyLimit int64
	// Timeout bounds the wait for the daemon's verdict (default 2s); past it: 503.
	Timeout time.Duration

	// Tenant returns the tenant of an RFC 9421 request; "" refuses it (401). nil: the value
	// of the TenantHeader header, which the request must carry exactly once.
	Tenant func(c *gin.Context) string
	// TenantHeader names the header Tenant reads by default (default "X-Tenant").
	TenantHeader string
	// URIScheme, when set ("http" or "https"), is the scheme every RFC 9421 request is
	// verified with; "" (default): the connection's, https over TLS and http otherwise.
	URIScheme string
	// TrustForwardedProto takes the scheme from the X-Forwarded-Proto header. Set it only
	// behind a proxy that sets that header on every request: otherwise a client chooses it.
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
	// Log receives each refusal: its status and reason (never sent to the client). nil: a
	// line on gin.DefaultErrorWriter.
	Log func(c *gin.Context, status int, reason string)
}

// ContextKey is the key of the verified *hmacd.Identity in gin's context (c.Get).
const ContextKey = "hmacd"

// IdentityFrom returns the Identity the middleware verified for the request of c, or nil
// and false when it did not go through the middleware.
func IdentityFrom(c *gin.Context) (*hmacd.Identity, bool) {
	v, _ := c.Get(ContextKey)
	id, ok := v.(*hmacd.Identity)
	return id, ok && id != nil
}

// Middleware returns the verifying middleware. It panics if Verifier or Param is missing,
// URIScheme is invalid or CaptureDir is not fit for capture files, since a route that cannot
// be protected as configured must not start serving.
func Middleware(cfg Config) gin.HandlerFunc {
	if cfg.Verifier == nil || cfg.Param == "" {
		panic("hmacdgin: Config.Verifier and Config.Param are required")
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
		panic("hmacdgin: Config: " + err.Error())
	}
	logf := cfg.Log
	if logf == nil {
		logf = func(c *gin.Context, status int, reason string) {
			f := hmacd.Refusal{Status: status, Reason: reason}
			// Looked up at each refusal: gin's writers may be set after the routes.
			log.New(gin.DefaultErrorWriter, "", log.LstdFlags).Print(f.Message(c.Request))
		}
	}
	return func(c *gin.Context) {
		container, ok := c.Params.Get(cfg.Param)
		if !ok {
			err := fmt.Errorf("hmacdgin: route %s has no parameter %q", c.FullPath(),
				cfg.Param)
			logf(c, http.StatusInternalServerError, err.Error())
			_ = c.AbortWithError(http.StatusInternalServerError, err)
			return
		}
		var tenant func() string
		if cfg.Tenant != nil {
			tenant = func() string { return cfg.Tenant(c) }
		}
		id, f := g.Check(c.Request, container, tenant)
		if f != nil {
			logf(c, f.Status, f.Reason)
			c.Abort()
			f.Respond(c.Writer)
			return
		}
		c.Set(ContextKey, id)
		c.Request = c.Request.WithContext(hmacd.ContextWithIdentity(c.Request.Context(), id))
		c.Next()
	}
}
