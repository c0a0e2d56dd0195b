// scheme_test.go - RFC 9421 @scheme on the server side (issue 14): the scheme comes from the
// connection (https over TLS, else http), and X-Forwarded-Proto counts only when the app says
// its proxy is trusted. RequestScheme alone, then through the net/http middleware and the
// real hmacd (skipped unless $HMACD and $HMACCTL are set): a signature covering @scheme over
// plain HTTP verifies, over TLS too, and a forged X-Forwarded-Proto changes nothing unless
// TrustForwardedProto is set.

package hmacd_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hmacd/hmacd/client/go/hmacd"
	"github.com/hmacd/hmacd/client/go/internal/daemontest"
)

func TestRequestScheme(t *testing.T) {
	for _, c := range []struct {
		tls   bool
		xfp   []string
		trust bool
		want  string
	}{
		{false, nil, false, "http"},
		{true, nil, false, "https"},
		{false, []string{"https"}, false, "http"}, // forged: ignored
		{true, []string{"http"}, false, "https"},
		{false, []string{"https"}, true, "https"},
		{false, []string{"HTTPS"}, true, "https"},
		{true, []string{"http"}, true, "http"},
		{false, []string{"https, http"}, true, "http"}, // the nearest proxy's, the last
		{false, []string{"http", " https "}, true, "https"},
		{false, []string{"ftp"}, true, "http"}, // not a scheme it may say: the connection's
		{true, []string{""}, true, "https"},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if c.tls {
			r.TLS = &tls.ConnectionState{}
		}
		for _, v := range c.xfp {
			r.Header.Add("X-Forwarded-Proto", v)
		}
		if got := hmacd.RequestScheme(r, c.trust); got != c.want {
			t.Errorf("TLS %v, X-Forwarded-Proto %q, trusted %v: %q, want %q", c.tls, c.xfp,
				c.trust, got, c.want)
		}
	}
}

// withScheme covers @scheme besides the defaults.
func withScheme(k daemontest.Key) *hmacd.RFC9421Signer {
	return &hmacd.RFC9421Signer{KeyID: k.KeyID, Secret: k.Secret,
		Components: append(hmacd.DefaultComponents(false, true), "@scheme")}
}

func TestSchemeEndToEnd(t *testing.T) {
	f := mwSetup(t, hmacd.MiddlewareConfig{})
	k := f.rk
	url := f.srv.URL + "/containers/c2/exec" // http://127.0.0.1:port

	req := f.rfcReq(t, withScheme(k), url)
	if in := req.Header.Get("Signature-Input"); !strings.Contains(in, `"@scheme"`) {
		t.Fatalf("@scheme not covered: %s", in)
	}
	f.check(t, "@scheme http, over http", req, 200, true, hmacd.VerdictOK)
	// Signed as if sent over https, sent over http with a forged X-Forwarded-Proto.
	httpsURL := "https://" + strings.TrimPrefix(url, "http://")
	forged := func() *http.Request {
		req := f.rfcReq(t, withScheme(k), httpsURL)
		req.URL.Scheme = "http"
		req.Header.Set("X-Forwarded-Proto", "https")
		return req
	}
	f.check(t, "@scheme https, over http, X-Forwarded-Proto forged", forged(), 401, true,
		hmacd.VerdictBadSignature)
	req = f.rfcReq(t, withScheme(k), url)
	req.Header.Set("X-Forwarded-Proto", "https")
	f.check(t, "@scheme http, over http, X-Forwarded-Proto forged", req, 200, true,
		hmacd.VerdictOK)

	// Behind a trusted proxy, the header decides.
	trusted := mwSetup(t, hmacd.MiddlewareConfig{TrustForwardedProto: true})
	k = trusted.rk
	url = trusted.srv.URL + "/containers/c2/exec"
	httpsURL = "https://" + strings.TrimPrefix(url, "http://")
	req = trusted.rfcReq(t, withScheme(k), httpsURL)
	req.URL.Scheme = "http"
	req.Header.Set("X-Forwarded-Proto", "https") // as the proxy in front of the app sets it
	trusted.check(t, "@scheme https, trusted X-Forwarded-Proto https", req, 200, true,
		hmacd.VerdictOK)
	req = trusted.rfcReq(t, withScheme(k), url)
	req.Header.Set("X-Forwarded-Proto", "https")
	trusted.check(t, "@scheme http, trusted X-Forwarded-Proto https", req, 401, true,
		hmacd.VerdictBadSignature)
	req = trusted.rfcReq(t, withScheme(k), url)
	trusted.check(t, "@scheme http, trusted proxy, no X-Forwarded-Proto", req, 200, true,
		hmacd.VerdictOK)
}

// Over TLS the connection says https: a signature covering @scheme https verifies, the same
// request signed for http does not.
func TestSchemeOverTLS(t *testing.T) {
	f := mwSetup(t, hmacd.MiddlewareConfig{})
	tlsSrv := httptest.NewTLSServer(f.srv.Config.Handler)
	defer tlsSrv.Close()
	k := f.rk
	url := tlsSrv.URL + "/containers/c2/exec" // https://127.0.0.1:port
	send := func(what string, req *http.Request, status int, want hmacd.Verdict) {
		t.Helper()
		n0, _, _ := f.rec.last()
		resp, err := tlsSrv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		n, _, got := f.rec.last()
		if resp.StatusCode != status || n != n0+1 || got != want {
			t.Fatalf("%s: %d, verdict %v, want %d %v", what, resp.StatusCode, got, status,
				want)
		}
	}
	send("@scheme https over TLS", f.rfcReq(t, withScheme(k), url), 200, hmacd.VerdictOK)
	req := f.rfcReq(t, withScheme(k), "http://"+strings.TrimPrefix(url, "https://"))
	req.URL.Scheme = "https"
	send("@scheme http over TLS", req, 401, hmacd.VerdictBadSignature)
}

// The adapters' shared cases (daemontest.CheckScheme) through the net/http middleware too.
func TestMiddlewareSchemeCases(t *testing.T) {
	daemontest.CheckScheme(t, func(v hmacd.Verifier, trust bool) http.Handler {
		ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusOK)
		})
		return hmacd.Middleware(hmacd.MiddlewareConfig{Verifier: v, TrustForwardedProto: trust,
			Container: func(r *http.Request) string {
				return strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/containers/"),
					"/exec")
			}})(ok)
	})
}
