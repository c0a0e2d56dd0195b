// scheme_test.go - RFC 9421 @scheme through the gin middleware: daemontest.CheckScheme's cases
// (the connection's scheme unless Config.TrustForwardedProto, then X-Forwarded-Proto's last).

package hmacdgin_test

import (
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/hmacd/hmacd/client/go/hmacd"
	"github.com/hmacd/hmacd/client/go/hmacdgin"
	"github.com/hmacd/hmacd/client/go/internal/daemontest"
)

func TestSchemeTrustForwardedProto(t *testing.T) {
	daemontest.CheckScheme(t, func(v hmacd.Verifier, trust bool) http.Handler {
		e := gin.New()
		e.POST("/containers/:id/exec", hmacdgin.Middleware(hmacdgin.Config{Verifier: v,
			Param: "id", TrustForwardedProto: trust}), func(c *gin.Context) {
			c.Status(http.StatusOK)
		})
		return e
	})
}
