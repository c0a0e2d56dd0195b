// rfc9421_test.go - the middleware on RFC 9421 requests (a Signature-Input header): what it
// refuses itself and the item it sends, with a fake verifier; then through a real HTTP server
// and the real hmacd (skipped unless $HMACD and $HMACCTL are set): each verdict, a tenant
// header that lies, and the RFC's B.2.5 request sent as the RFC writes it.

package hmacdecho_test

import (
	"crypto/rand"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hmacd/hmacd/client/go/hmacd"
	"github.com/hmacd/hmacd/client/go/hmacdecho"
	"github.com/labstack/echo/v4"
)

const (
	s401 = `{"error":"unauthorized"}`
	s413 = `{"error":"too_large"}`
)

func TestRFC9421WithFakeVerifier(t *testing.T) {
	r := &recorder{}
	e := app(r, 1024)
	newReq := func(body string) *http.Request {
		req := httptest.NewRequest(http.MethodPost, "/containers/c1/exec?x=%2F", strings.NewReader(body))
		req.Host = "api.example"
		req.Header.Set("X-Tenant", "acme")
		req.Header.Set("Signature-Input", `sig1=("@method");keyid="k"`)
		req.Header.Set("Signature", "sig1=:AAAA:")
		return req
	}

	// Refused before the daemon is asked.
	req := newReq("{}")
	req.Header.Set("Authorization", wellFormedAuth())
	expect(t, serve(e, req), 401, s401) // both schemes
	req = newReq("{}")
	req.Header.Set("Authorization", "hmacd-v1 x")
	expect(t, serve(e, req), 401, s401) // both, whatever the case of the scheme
	req = newReq("{}")
	req.Header.Del("X-Tenant")
	expect(t, serve(e, req), 401, s401)
	req = newReq("{}")
	req.Header.Add("X-Tenant", "other")
	expect(t, serve(e, req), 401, s401) // two tenants
	req = newReq("{}")
	req.Header.Set("X-Tenant", "a b")
	expect(t, serve(e, req), 401, s401)
	req = newReq("{}")
	req.Header.Del("Signature")
	expect(t, serve(e, req), 401, s401)
	req = newReq(strings.Repeat("x", 1025))
	expect(t, serve(e, req), 413, s413)
	req = newReq("")
	req.URL.Path = "/noparam"
	req.RequestURI = "/noparam"
	if rec := serve(e, req); rec.Code != http.StatusInternalServerError {
		t.Fatalf("route without the parameter: %d, want 500", rec.Code)
	}
	if n, _, _ := r.last(); n != 0 {
		t.Fatalf("the verifier was called %d times for requests refused before it", n)
	}

	// What is sent: the scope, the request as received, every header, the raw body.
	req = newReq("body bytes")
	req.Header.Set("Authorization", "Bearer xyz") // another scheme is just a header
	req.Header.Add("Signature-Input", `sig2=("@path");keyid="k"`)
	req.Header.Add("Signature", "sig2=:BBBB:")
	req.Header.Add("X-Multi", "1")
	req.Header.Add("X-Multi", "2")
	rec := serve(e, req)
	_, it, _ := r.last()
	if rec.Code != 200 || rec.Body.String() != "c1:body bytes" {
		t.Fatalf("handler: %d %q", rec.Code, rec.Body.String())
	}
	if it.Scheme != hmacd.SchemeRFC9421 || it.Tenant != "acme" || it.Container != "c1" ||
		it.Method != "POST" || it.Authority != "api.example" ||
		it.Path != "/containers/c1/exec?x=%2F" || string(it.Body) != "body bytes" ||
		it.SignatureInput != `sig1=("@method");keyid="k", sig2=("@path");keyid="k"` ||
		it.Signature != "sig1=:AAAA:, sig2=:BBBB:" || it.URIScheme != "http" || it.Label != "" ||
		it.BodySHA256 != nil || it.Epoch != 0 || it.Sig != nil {
		t.Fatalf("item %+v", it)
	}
	got := map[string]string{}
	for _, h := range it.Headers {
		got[h.Name] += h.Value + ";"
	}
	if it.Headers[0] != (hmacd.Header{Name: "host", Value: "api.example"}) ||
		got["x-multi"] != "1;2;" || got["authorization"] != "Bearer xyz;" ||
		got["x-tenant"] != "acme;" || got["signature"] != "sig1=:AAAA:;sig2=:BBBB:;" {
		t.Fatalf("headers %v", it.Headers)
	}

	// The verdicts: OK passes, anything else (8 included) is a 401.
	r.verdict = hmacd.VerdictInsufficientCoverage
	expect(t, serve(e, newReq("{}")), 401, s401)
	r.verdict = hmacd.VerdictUnknownKey
	expect(t, serve(e, newReq("{}")), 401, s401)
	r.verdict, r.err = hmacd.VerdictOK, hmacd.ErrUnavailable
	expect(t, serve(e, newReq("{}")), 503, `{"error":"unavailable"}`)

	// The options: a tenant function, the scheme, the label.
	r.err = nil
	e = appWith(hmacdecho.Config{Verifier: r, Param: "id", URIScheme: "http", Label: "sig2",
		Tenant: func(c echo.Context) string { return strings.TrimSuffix(c.Request().Host, ".example") }})
	req = newReq("{}")
	req.Header.Del("X-Tenant")
	expect(t, serve(e, req), 200, "c1:{}")
	if _, it, _ = r.last(); it.Tenant != "api" || it.URIScheme != "http" || it.Label != "sig2" {
		t.Fatalf("item %+v", it)
	}
	e = appWith(hmacdecho.Config{Verifier: r, Param: "id", TenantHeader: "X-Org"})
	req = newReq("{}")
	req.Header.Set("X-Org", "org1")
	expect(t, serve(e, req), 200, "c1:{}")
	if _, it, _ = r.last(); it.Tenant != "org1" {
		t.Fatalf("tenant %q", it.Tenant)
	}

	defer func() {
		if recover() == nil {
			t.Fatal("no panic for URIScheme ftp")
		}
	}()
	hmacdecho.Middleware(hmacdecho.Config{Verifier: r, Param: "id", URIScheme: "ftp"})
}

// ---- against the real daemon ----

type rfcFixture struct {
	daemonApp
}

// rfcApp serves POST and PUT /containers/:id/exec and POST /:id (the RFC's /foo) behind the
// middleware over plain http; the handler answers "ok:" and the container.
func rfcApp(v hmacdecho.Verifier) http.Handler {
	e := echo.New()
	e.HideBanner = true
	e.Logger.SetOutput(io.Discard)
	h := func(c echo.Context) error { return c.String(http.StatusOK, "ok:"+c.Param("id")) }
	mw := hmacdecho.Middleware(hmacdecho.Config{Verifier: v, Param: "id", URIScheme: "http"})
	e.Match([]string{http.MethodPost, http.MethodPut}, "/containers/:id/exec", h, mw)
	e.POST("/:id", h, mw) // the RFC's /foo
	return e
}

func rfcSetup(t *testing.T) *rfcFixture {
	f := &rfcFixture{startApp(t, rfcApp,
		func(body string) bool { return strings.HasPrefix(body, "ok:") })}
	for _, ct := range []string{"c1", "c2"} {
		secret := make([]byte, 32)
		_, err := rand.Read(secret)
		if err != nil {
			t.Fatal(err)
		}
		f.keys[ct] = f.d.ImportKey(t, "acme", ct, "acme-"+ct, secret)
	}
	return f
}

// request builds a POST to /containers/<container>/exec?tty=1 signed with s, X-Tenant acme.
func (f *rfcFixture) request(t *testing.T, s *hmacd.RFC9421Signer, container string) *http.Request {
	t.Helper()
	return f.post(t, container, func(req *http.Request) error {
		req.Header.Set("X-Tenant", "acme")
		return s.Sign(req, []byte(cmd))
	})
}

func TestRFC9421EndToEnd(t *testing.T) {
	f := rfcSetup(t)
	k1 := f.keys["c1"]
	s1 := &hmacd.RFC9421Signer{KeyID: k1.KeyID, Secret: k1.Secret}
	withCT := &hmacd.RFC9421Signer{KeyID: k1.KeyID, Secret: k1.Secret, Components: []string{
		"@method", "@target-uri", "@authority", "@path", "content-digest", "content-type"}}
	withQuery := &hmacd.RFC9421Signer{KeyID: k1.KeyID, Secret: k1.Secret, Components: []string{
		"@method", "@authority", "@path", "@query", "content-digest"}}

	f.check(t, "signed request", f.request(t, s1, "c1"), 200, hmacd.VerdictOK)
	f.check(t, "@target-uri over http", f.request(t, withCT, "c1"), 200, hmacd.VerdictOK)

	req := f.request(t, withQuery, "c1")
	req.URL.RawQuery = "tty=0"
	f.check(t, "query changed (@query covered)", req, 401, hmacd.VerdictBadSignature)
	req = f.request(t, withCT, "c1")
	req.URL.RawQuery = "tty=0"
	f.check(t, "query changed (@target-uri covered)", req, 401, hmacd.VerdictBadSignature)
	// The defaults' query, changed: TestRFC9421QueryTampered.
	req = f.request(t, s1, "c1")
	req.URL.Path = "/c1" // another route with the same container
	f.check(t, "path changed", req, 401, hmacd.VerdictBadSignature)
	req = f.request(t, s1, "c1")
	req.Method = http.MethodPut
	f.check(t, "method changed", req, 401, hmacd.VerdictBadSignature)
	req = f.request(t, withCT, "c1")
	req.Header.Set("Content-Type", "text/plain")
	f.check(t, "covered header changed", req, 401, hmacd.VerdictBadSignature)
	// A body removed in transit: TestStrippedBodyRefused.

	// The seed's bug in RFC 9421 form: c1's signature sent to c2, whose key exists.
	req = f.request(t, s1, "c1")
	req.URL.Path = "/containers/c2/exec"
	f.check(t, "container swapped in the path", req, 401, hmacd.VerdictUnknownKey)
	k2 := f.keys["c2"]
	f.check(t, "another scope's keyid", f.request(t, &hmacd.RFC9421Signer{KeyID: k2.KeyID,
		Secret: k2.Secret}, "c1"), 401, hmacd.VerdictUnknownKey)
	req = f.request(t, s1, "c1")
	req.Header.Set("X-Tenant", "evil")
	f.check(t, "tenant header lies", req, 401, hmacd.VerdictUnknownKey)

	// Everything else covered (the ?tty=1 query too), so that what is left out is refused.
	f.check(t, "@authority not covered", f.request(t, &hmacd.RFC9421Signer{KeyID: k1.KeyID,
		Secret: k1.Secret, Components: []string{"@method", "@path", "@query",
			"content-digest"}}, "c1"),
		401, hmacd.VerdictInsufficientCoverage)
	f.check(t, "body not covered", f.request(t, &hmacd.RFC9421Signer{KeyID: k1.KeyID,
		Secret: k1.Secret, Components: []string{"@method", "@authority", "@path", "@query"}},
		"c1"),
		401, hmacd.VerdictInsufficientCoverage)
	// The query left open: TestQueryOutsideSignatureRefused.

	req = f.request(t, s1, "c1")
	f.check(t, "first use", req, 200, hmacd.VerdictOK)
	req2 := f.request(t, s1, "c1")
	req2.Header = req.Header.Clone()
	f.check(t, "replayed request", req2, 401, hmacd.VerdictReplay)

	stale := *s1
	stale.Now = func() time.Time { return time.Now().Add(-time.Hour) }
	f.check(t, "stale", f.request(t, &stale, "c1"), 401, hmacd.VerdictStaleTimestamp)

	// Both schemes on one request: refused without asking the daemon.
	req = f.request(t, s1, "c1")
	err := (&hmacd.Signer{Tenant: "acme", Epoch: 1, Secret: k1.Secret}).Sign(req, "c1",
		[]byte(cmd))
	if err != nil {
		t.Fatal(err)
	}
	n0, _, _ := f.rec.last()
	if code, body, _ := do(t, req); code != 401 || body != s401 {
		t.Fatalf("both schemes: %d %q", code, body)
	}
	if n, _, _ := f.rec.last(); n != n0 {
		t.Fatal("both schemes: the daemon was asked")
	}
}

// The default signer covers @query when the target has a query (issue 10, finding 5): the
// query of a signed request cannot be rewritten in transit.
func TestRFC9421QueryTampered(t *testing.T) {
	f := rfcSetup(t)
	k1 := f.keys["c1"]
	s := &hmacd.RFC9421Signer{KeyID: k1.KeyID, Secret: k1.Secret}
	signed := func() *http.Request {
		req, err := http.NewRequest(http.MethodPost, f.srv.URL+"/containers/c1/exec?force=true",
			nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Tenant", "acme")
		err = s.Sign(req, []byte(cmd))
		if err != nil {
			t.Fatal(err)
		}
		if in := req.Header.Get("Signature-Input"); !strings.Contains(in, `"@path" "@query"`) {
			t.Fatalf("@query not covered: %s", in)
		}
		return req
	}
	f.check(t, "?force=true as signed", signed(), 200, hmacd.VerdictOK)
	req := signed()
	req.URL.RawQuery = "force=false"
	f.check(t, "?force=true changed to ?force=false", req, 401, hmacd.VerdictBadSignature)
	req = signed()
	req.URL.RawQuery = ""
	f.check(t, "?force=true removed", req, 401, hmacd.VerdictBadSignature)
	req = signed()
	req.URL.RawQuery = "force=true&force=false"
	f.check(t, "a parameter added", req, 401, hmacd.VerdictBadSignature)
}

// The RFC's B.2 request with its B.2.5 signature, sent over HTTP as the RFC writes it (plus
// an uncovered X-Tenant), verifies with the RFC's secret imported under its key id, under a
// policy that accepts what B.2.5 covers: no nonce, no age check, no Content-Digest, and no
// @query although its target has a query (--no-query; without it: 401).
func TestRFC9421B25EndToEnd(t *testing.T) {
	f := rfcSetup(t)
	secret, err := base64.StdEncoding.DecodeString("uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu4" +
		"6YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ==")
	if err != nil {
		t.Fatal(err)
	}
	f.d.ImportKey(t, "rfc", "foo", "test-shared-secret", secret)
	b25Policy := []string{"date", "@authority", "content-type"}
	b25Flags := []string{"--no-nonce", "--no-age-check", "--no-body-digest"}
	f.d.SetPolicy(t, "rfc", "", b25Policy, b25Flags...)

	b25 := func() *http.Request {
		req, err := http.NewRequest(http.MethodPost, f.srv.URL+"/foo?param=Value&Pet=dog",
			strings.NewReader(`{"hello": "world"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "example.com"
		req.Header.Set("Date", "Tue, 20 Apr 2021 02:07:55 GMT")
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Content-Digest", "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+Ta"+
			"Pm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:")
		req.Header.Set("Signature-Input", `sig-b25=("date" "@authority" "content-type")`+
			`;created=1618884473;keyid="test-shared-secret"`)
		req.Header.Set("Signature", "sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:")
		req.Header.Set("X-Tenant", "rfc")
		return req
	}
	// /foo?param=Value&Pet=dog without @query covered: the query rule refuses it.
	f.check(t, "B.2.5 under a policy that wants the query", b25(), 401,
		hmacd.VerdictInsufficientCoverage)
	f.d.SetPolicy(t, "rfc", "", b25Policy, append(b25Flags, "--no-query")...)
	if p := f.d.ShowPolicy(t, "rfc", "foo"); p.Query || p.ReplayProtection != "weak" {
		t.Fatalf("policy show with --no-query: %+v", p)
	}
	f.check(t, "RFC 9421 B.2.5", b25(), 200, hmacd.VerdictOK)
	req := b25()
	req.Header.Set("Content-Type", "text/plain")
	f.check(t, "B.2.5 with its content-type changed", req, 401, hmacd.VerdictBadSignature)
	req = b25()
	req.Host = "example.org"
	f.check(t, "B.2.5 sent to another authority", req, 401, hmacd.VerdictBadSignature)
	// B.2.5 does not cover the path: sent to another container of the tenant (same
	// policy), the key's binding to rfc/foo refuses it.
	req = b25()
	req.URL.Path = "/bar"
	f.check(t, "B.2.5 sent to another container", req, 401, hmacd.VerdictUnknownKey)
	// Claimed for a tenant under the default policy: refused for coverage before any key
	// is looked up.
	req = b25()
	req.Header.Set("X-Tenant", "acme")
	f.check(t, "B.2.5 claimed for another tenant", req, 401, hmacd.VerdictInsufficientCoverage)
}
