// Command echo is the example app POST /containers/{id}/exec with Echo v4, protected by
// hmacd; examples/nethttp is the same app with net/http only. Both answer as every example
// app of hmacd does (README.md, "Example apps"):
//
//   - the signature (HMACD-V1 or RFC 9421) covers tenant, container, method, path and query,
//     time, nonce and body, and is checked by the daemon, which holds the keys;
//   - the container is the route parameter, both for the check and for the handler: a
//     signature made for one container never runs a command in another (401);
//   - the JSON body is bound strictly: an unknown field (such as a "container" in the body), a
//     key in another case, a repeated key or trailing data is a 400, never ignored;
//   - a daemon that is down gives 503: the handler never runs unverified;
//   - the reason of each 401 is in the app's log (Echo's logger, at a level it shows by
//     default), never in the response; GET /healthz is not protected.
//
// Run it next to hmacd (from client/go; offline, with Debian's packages: README.md there):
//
//	HMACD_SOCKET=/run/hmacd/hmacd.sock PORT=8080 sh offline.sh run ./examples/echo
package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/hmacd/hmacd/client/go/examples/internal/execapi"
	"github.com/hmacd/hmacd/client/go/hmacd"
	"github.com/hmacd/hmacd/client/go/hmacdecho"
	"github.com/labstack/echo/v4"
)

func execHandler(c echo.Context) error {
	id, _ := hmacdecho.IdentityFrom(c) // the middleware verified it: the container is c.Param("id")
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return err
	}
	req, err := execapi.Bind(body)
	if err != nil {
		c.Logger().Infof("exec: bad body: %v", err)
		return c.JSONBlob(http.StatusBadRequest, execapi.BadRequest)
	}
	// A real server would start req.Cmd in id.Container here.
	return c.JSON(http.StatusOK, execapi.Result{Tenant: id.Tenant, Container: id.Container,
		Cmd: req.Cmd, Tty: req.Tty})
}

// newServer builds the app around a verifier (an *hmacd.Client in production); trustProxy:
// RFC 9421's @scheme from X-Forwarded-Proto (HMACD_TRUST_PROXY=1, only behind a proxy that
// sets it).
func newServer(v hmacd.Verifier, trustProxy bool) *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.GET("/healthz", func(c echo.Context) error {
		return c.JSONBlob(http.StatusOK, execapi.Healthy)
	})
	e.POST("/containers/:id/exec", execHandler, hmacdecho.Middleware(hmacdecho.Config{
		Verifier:            v,
		Param:               "id",
		BodyLimit:           execapi.MaxBody,
		TrustForwardedProto: trustProxy,
	}))
	return e
}

func main() {
	err := run()
	if err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

func run() error {
	env, err := execapi.FromEnv()
	if err != nil {
		return err
	}
	client, err := hmacd.New(env.Socket, &hmacd.Options{ServerUser: env.ServerUser})
	if err != nil {
		return err
	}
	defer client.Close()
	err = newServer(client, env.TrustProxy).Start(env.Addr)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
