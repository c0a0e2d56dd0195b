// Package hmacdecho is the Echo v4 middleware of hmacd: it verifies each request's HMACD-V1
// signature with the daemon before the handler runs, exactly as PROTOCOL.md 13.3 specifies.
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
// gives 503 {"error":"unavailable"} (fail closed: the handler never runs). The container is
// c.Param(Param), never a claim of the signer; the path is the raw request target
// (r.RequestURI); the body is read whole and put back for the handler. A route without the
// parameter is a configuration error: the middleware returns an error (Echo answers 500).
//
// Refusals are logged with c.Logger(): 401s (with the verdict name and the tenant, never the
// signature or the nonce) at warn level, which Echo hides by default (e.Logger.SetLevel(
// log.WARN) shows them); 503s at error level.
package hmacdecho

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
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
}

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

func unauthorized(c echo.Context, why string) error {
	c.Logger().Warnf("hmacd: 401 %s %s: %s", c.Request().Method, c.Path(), why)
	c.Response().Header().Set("WWW-Authenticate", hmacd.AuthScheme)
	return c.JSONBlob(http.StatusUnauthorized, []byte(body401))
}

func (cfg *Config) serve(c echo.Context, next echo.HandlerFunc) error {
	req := c.Request()

	// 1. The Authorization header: exactly one, valid (13.1).
	vals := req.Header.Values("Authorization")
	if len(vals) != 1 {
		return unauthorized(c, "no single Authorization header")
	}
	auth, err := hmacd.ParseAuthorization(vals[0])
	if err != nil {
		return unauthorized(c, err.Error())
	}

	// 2. The item: the container from the route, the raw target, the signed headers.
	container := c.Param(cfg.Param)
	if container == "" {
		// A route without the parameter: a configuration error, not the caller's (500).
		return fmt.Errorf("hmacdecho: route %s has no parameter %q", c.Path(), cfg.Param)
	}
	it, err := hmacd.RequestItem(req, auth, container, nil)
	if err != nil {
		return unauthorized(c, err.Error())
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
	req.Body = io.NopCloser(bytes.NewReader(body))
	digest := sha256.Sum256(body)
	it.BodySHA256 = digest[:]

	// 3. The verdict; fail closed on any error.
	ctx, cancel := context.WithTimeout(req.Context(), cfg.Timeout)
	v, err := cfg.Verifier.VerifyOne(ctx, &it)
	cancel()
	if err != nil {
		var se *hmacd.ServerError
		if errors.As(err, &se) {
			c.Logger().Errorf("hmacd: 503: daemon error %s", se.Code)
		} else {
			c.Logger().Errorf("hmacd: 503: %v", err)
		}
		return c.JSONBlob(http.StatusServiceUnavailable, []byte(body503))
	}
	if v != hmacd.VerdictOK {
		return unauthorized(c, "tenant "+it.Tenant+": "+v.String())
	}
	return next(c)
}
