// scheme_test.go - RFC 9421 @scheme through the Echo middleware: daemontest.CheckScheme's
// cases (the connection's scheme unless Config.TrustForwardedProto, then X-Forwarded-Proto's
// last).

package hmacdecho_test

import (
	"net/http"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/hmacd/hmacd/client/go/hmacd"
	"github.com/hmacd/hmacd/client/go/hmacdecho"
	"github.com/hmacd/hmacd/client/go/internal/daemontest"
)

func TestSchemeTrustForwardedProto(t *testing.T) {
	daemontest.CheckScheme(t, func(v hmacd.Verifier, trust bool) http.Handler {
		e := echo.New()
		e.POST("/containers/:id/exec", func(c echo.Context) error {
			return c.NoContent(http.StatusOK)
		}, hmacdecho.Middleware(hmacdecho.Config{Verifier: v, Param: "id",
			TrustForwardedProto: trust}))
		return e
	})
}
