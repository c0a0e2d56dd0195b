// Command gin is the example app POST /containers/{id}/exec with gin, protected by hmacd;
// examples/nethttp and examples/echo are the same app with net/http only and with Echo. All
// three answer as every example app of hmacd does (README.md, "Example apps"):
//
//   - the signature (HMACD-V1 or RFC 9421) covers tenant, container, method, path and query,
//     time, nonce and body, and is checked by the daemon, which holds the keys;
//   - the container is the route parameter, both for the check and for the handler: a
//     signature made for one container never runs a command in another (401);
//   - the JSON body is bound strictly (execapi.Bind, not gin's binding, which ignores unknown
//     fields): an unknown field such as a "container" in the body, a key in another case, a
//     repeated key or trailing data is a 400, never ignored;
//   - a daemon that is down gives 503: the handler never runs unverified;
//   - the reason of each 401 is in the app's log (gin.DefaultErrorWriter, stderr), never in
//     the response; GET /healthz is not protected.
//
// Run it next to hmacd (from client/go; offline, with Debian's packages: README.md there):
//
//	HMACD_SOCKET=/run/hmacd/hmacd.sock PORT=8080 sh offline.sh run ./examples/gin
//
// GIN_MODE=release quiets gin's start-up notes; the refusals are logged in every mode.
package main

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"os"

	"github.com/gin-gonic/gin"

	"github.com/hmacd/hmacd/client/go/examples/internal/execapi"
	"github.com/hmacd/hmacd/client/go/hmacd"
	"github.com/hmacd/hmacd/client/go/hmacdgin"
)

func execHandler(c *gin.Context) {
	id, _ := hmacdgin.IdentityFrom(c) // the middleware verified it: the container is c.Param("id")
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		c.Data(http.StatusBadRequest, "application/json", execapi.BadRequest)
		return
	}
	req, err := execapi.Bind(body)
	if err != nil {
		fmt.Fprintf(gin.DefaultErrorWriter, "exec: bad body: %v\n", err)
		c.Data(http.StatusBadRequest, "application/json", execapi.BadRequest)
		return
	}
	// A real server would start req.Cmd in id.Container here.
	c.JSON(http.StatusOK, execapi.Result{Tenant: id.Tenant, Container: id.Container,
		Cmd: req.Cmd, Tty: req.Tty})
}

// newServer builds the app around a verifier (an *hmacd.Client in production); trustProxy:
// RFC 9421's @scheme from X-Forwarded-Proto (HMACD_TRUST_PROXY=1, only behind a proxy that
// sets it).
func newServer(v hmacd.Verifier, trustProxy bool) (*gin.Engine, error) {
	r := gin.New()
	r.Use(gin.Logger(), gin.Recovery())
	// gin's own client-IP logic trusts every proxy by default; this app trusts none of them
	// for that (the scheme is the middleware's business, above).
	err := r.SetTrustedProxies(nil)
	if err != nil {
		return nil, err
	}
	r.GET("/healthz", func(c *gin.Context) {
		c.Data(http.StatusOK, "application/json", execapi.Healthy)
	})
	r.POST("/containers/:id/exec", hmacdgin.Middleware(hmacdgin.Config{
		Verifier:            v,
		Param:               "id",
		BodyLimit:           execapi.MaxBody,
		TrustForwardedProto: trustProxy,
	}), execHandler)
	return r, nil
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
	r, err := newServer(client, env.TrustProxy)
	if err != nil {
		return err
	}
	log.Printf("listening on http://%s, hmacd at %s", env.Addr, env.Socket)
	return http.ListenAndServe(env.Addr, r)
}
