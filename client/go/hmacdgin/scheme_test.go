// scheme_test.go - RFC 9421 @scheme through the gin middleware (issue 14; hmacdecho's
// scheme_test.go checks Echo's alike): the item asks hmacd for the connection's scheme (http
// here), whatever X-Forwarded-Proto says, unless Config.TrustForwardedProto is set; then the
// header's last value (the nearest proxy's).

package hmacdgin_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/hmacd/hmacd/client/go/hmacd"
	"github.com/hmacd/hmacd/client/go/hmacdgin"
)

// schemeSeen is a Verifier that answers OK and keeps the URIScheme it was asked about.
type schemeSeen struct {
	mu     sync.Mutex
	scheme string
}

func (s *schemeSeen) VerifyOne(ctx context.Context, it *hmacd.Item) (hmacd.Verdict, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scheme = it.URIScheme
	return hmacd.VerdictOK, nil
}

func TestSchemeTrustForwardedProto(t *testing.T) {
	const body = `{"cmd":["ls"]}`
	for _, c := range []struct {
		trust bool
		xfp   []string
		want  string
	}{
		{false, nil, "http"},
		{false, []string{"https"}, "http"}, // a client's header: ignored
		{true, nil, "http"},
		{true, []string{"https"}, "https"},
		{true, []string{"https, http"}, "http"}, // the client's https, the proxy's http
		{true, []string{"http", "https"}, "https"},
	} {
		v := &schemeSeen{}
		e := gin.New()
		e.POST("/containers/:id/exec", hmacdgin.Middleware(hmacdgin.Config{Verifier: v,
			Param: "id", TrustForwardedProto: c.trust}), func(c *gin.Context) {
			c.Status(http.StatusOK)
		})
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8080/containers/c1/exec",
			strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Tenant", "acme")
		s := &hmacd.RFC9421Signer{KeyID: "k1", Secret: make([]byte, 32),
			Components: append(hmacd.DefaultComponents(false, true), "@scheme")}
		if err := s.Sign(req, []byte(body)); err != nil {
			t.Fatal(err)
		}
		for _, p := range c.xfp {
			req.Header.Add("X-Forwarded-Proto", p)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || v.scheme != c.want {
			t.Errorf("trust %v, X-Forwarded-Proto %q: %d, scheme %q, want 200 and %q",
				c.trust, c.xfp, rec.Code, v.scheme, c.want)
		}
	}
}
