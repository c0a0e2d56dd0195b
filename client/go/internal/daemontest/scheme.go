// scheme.go - the RFC 9421 @scheme cases every framework adapter must pass (issue 14): the
// item asks hmacd for the connection's scheme (http in these tests), whatever
// X-Forwarded-Proto says, unless the adapter's TrustForwardedProto is set; then the header's
// last value (the nearest proxy's).

package daemontest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/hmacd/hmacd/client/go/hmacd"
)

// SchemeSeen is a Verifier that answers OK and keeps the URIScheme it was asked about.
type SchemeSeen struct {
	mu     sync.Mutex
	scheme string
}

// VerifyOne records it.URIScheme and answers OK.
func (s *SchemeSeen) VerifyOne(ctx context.Context, it *hmacd.Item) (hmacd.Verdict, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scheme = it.URIScheme
	return hmacd.VerdictOK, nil
}

// Scheme is the scheme of the last item VerifyOne saw.
func (s *SchemeSeen) Scheme() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.scheme
}

// CheckScheme sends a request signed over @scheme through the handler route(v, trust) makes
// (POST /containers/{id}/exec, container from the path, answering 200 when it passes, the
// adapter's TrustForwardedProto set to trust) for each case, and checks the scheme v was
// asked about.
func CheckScheme(t *testing.T, route func(v hmacd.Verifier, trust bool) http.Handler) {
	t.Helper()
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
		v := &SchemeSeen{}
		h := route(v, c.trust)
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
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || v.Scheme() != c.want {
			t.Errorf("trust %v, X-Forwarded-Proto %q: %d, scheme %q, want 200 and %q",
				c.trust, c.xfp, rec.Code, v.Scheme(), c.want)
		}
	}
}
