// policy_test.go - issue 10, finding 5, through the middleware, a real HTTP server and the real
// hmacd (skipped unless $HMACD and $HMACCTL are set), with policies set by the real hmacctl:
//   - the hmacd-v1 part of a policy (--v1-nonce, --v1-require HEADER...): a signed request
//     without a nonce, or without a required header signed, is 401 (INSUFFICIENT_COVERAGE,
//     decided before any key is looked at) and the handler never runs; one that meets it is 200;
//   - the query rule of the default RFC 9421 policy: a query added to, or changed in, a request
//     whose signature covers @path but not @query is 401 (INSUFFICIENT_COVERAGE) and the
//     handler never runs.
// Each refusal has its control: the same request in a scope without the rule gets 200.

package hmacdecho_test

import (
	"crypto/rand"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hmacd/hmacd/client/go/hmacd"
	"github.com/hmacd/hmacd/client/go/hmacdecho"
	"github.com/hmacd/hmacd/client/go/internal/daemontest"
	"github.com/labstack/echo/v4"
)

// countingApp is a daemonApp whose handler counts its runs and keeps the query it was given;
// it answers "ran:" and the container.
type countingApp struct {
	daemonApp
	runs int64

	mu    sync.Mutex
	query string // the raw query of the last request the handler ran for
}

func startCountingApp(t *testing.T) *countingApp {
	a := &countingApp{}
	a.daemonApp = startApp(t, func(v hmacdecho.Verifier) http.Handler {
		e := echo.New()
		e.HideBanner = true
		e.Logger.SetOutput(io.Discard)
		e.POST("/containers/:id/exec", func(c echo.Context) error {
			atomic.AddInt64(&a.runs, 1)
			a.mu.Lock()
			a.query = c.Request().URL.RawQuery
			a.mu.Unlock()
			return c.String(http.StatusOK, "ran:"+c.Param("id"))
		}, hmacdecho.Middleware(hmacdecho.Config{Verifier: v, Param: "id", URIScheme: "http"}))
		return e
	}, func(body string) bool { return strings.HasPrefix(body, "ran:") })
	return a
}

// expect is check plus the handler's run count: it ran once more for a 200, never otherwise.
func (a *countingApp) expect(t *testing.T, what string, req *http.Request, status int,
	want hmacd.Verdict) {
	t.Helper()
	n0 := atomic.LoadInt64(&a.runs)
	a.check(t, what, req, status, want)
	n, ran := atomic.LoadInt64(&a.runs), int64(0)
	if status == http.StatusOK {
		ran = 1
	}
	if n != n0+ran {
		t.Fatalf("%s: the handler ran %d times, want %d", what, n-n0, ran)
	}
}

func (a *countingApp) lastQuery() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.query
}

// reauthorize edits the Authorization header of a signed hmacd-v1 request (the signature is
// kept): what an attacker on the path can do.
func reauthorize(t *testing.T, req *http.Request, edit func(*hmacd.Authorization)) {
	t.Helper()
	a, err := hmacd.ParseAuthorization(req.Header.Get("Authorization"))
	if err != nil {
		t.Fatal(err)
	}
	edit(a)
	req.Header.Set("Authorization", a.String())
}

func TestV1PolicyEndToEnd(t *testing.T) {
	a := startCountingApp(t)
	k1 := a.d.CreateKey(t, "acme", "c1") // the policy's scope
	k2 := a.d.CreateKey(t, "acme", "c2") // no policy: the control
	b1 := a.d.CreateKey(t, "beta", "b1") // under a policy of its whole tenant
	rfcDefaults := []string{"@method", "@authority", "@path"}
	a.d.SetPolicy(t, "acme", "c1", rfcDefaults, "--v1-nonce", "--v1-require", "host")
	// A scope that has a policy and no key at all.
	a.d.SetPolicy(t, "acme", "nokey", rfcDefaults, "--v1-nonce", "--v1-require", "host")
	a.d.SetPolicy(t, "beta", "", rfcDefaults, "--v1-require", "host", "content-type")

	if p := a.d.ShowPolicy(t, "acme", "c1"); p.Source != "scope" || !p.V1Nonce ||
		len(p.V1Require) != 1 || p.V1Require[0] != "host" || !p.Query || p.ReplayProtection != "all" {
		t.Fatalf("policy show acme/c1: %+v", p)
	}
	if p := a.d.ShowPolicy(t, "acme", "c2"); p.Source != "default" || p.V1Nonce ||
		len(p.V1Require) != 0 {
		t.Fatalf("policy show acme/c2: %+v", p)
	}
	if p := a.d.ShowPolicy(t, "beta", "b1"); p.Source != "tenant" || p.V1Nonce ||
		strings.Join(p.V1Require, " ") != "host content-type" {
		t.Fatalf("policy show beta/b1: %+v", p)
	}

	noNonce := func() (string, error) { return "", nil }
	// The signers: the defaults sign host and content-type (the body is not empty) with a
	// random nonce.
	full := signer(k1)
	hostOnly := &hmacd.Signer{Tenant: "acme", Epoch: k1.Epoch, Secret: k1.Secret,
		SignedHeaders: []string{"host"}}
	withoutNonce := &hmacd.Signer{Tenant: "acme", Epoch: k1.Epoch, Secret: k1.Secret,
		Nonce: noNonce}
	withoutHost := &hmacd.Signer{Tenant: "acme", Epoch: k1.Epoch, Secret: k1.Secret,
		SignedHeaders: []string{"content-type"}}
	neither := &hmacd.Signer{Tenant: "acme", Epoch: k1.Epoch, Secret: k1.Secret,
		SignedHeaders: []string{"content-type"}, Nonce: noNonce}
	req := func(s *hmacd.Signer, container string) *http.Request {
		return a.post(t, container, func(r *http.Request) error {
			return s.Sign(r, container, []byte(cmd))
		})
	}
	// The items the middleware sent must be what the signers made: a nonce or not, host
	// among the signed headers or not.
	sent := func(what string, nonce, host bool) {
		t.Helper()
		_, it, _ := a.rec.last()
		hasHost := false
		for _, h := range it.Headers {
			hasHost = hasHost || h.Name == "host"
		}
		if (it.Nonce != "") != nonce || hasHost != host || it.Scheme != hmacd.SchemeHMACDV1 {
			t.Fatalf("%s: item sent %+v", what, it)
		}
	}

	a.expect(t, "nonce and host signed", req(full, "c1"), 200, hmacd.VerdictOK)
	sent("nonce and host signed", true, true)
	a.expect(t, "nonce and only host signed", req(hostOnly, "c1"), 200, hmacd.VerdictOK)
	a.expect(t, "no nonce", req(withoutNonce, "c1"), 401, hmacd.VerdictInsufficientCoverage)
	sent("no nonce", false, true)
	a.expect(t, "host not signed", req(withoutHost, "c1"), 401,
		hmacd.VerdictInsufficientCoverage)
	sent("host not signed", true, false)
	a.expect(t, "neither", req(neither, "c1"), 401, hmacd.VerdictInsufficientCoverage)

	// Coverage cannot be claimed after the fact: host added to SignedHeaders, or a nonce
	// added, meets the policy and breaks the signature.
	r := req(withoutHost, "c1")
	reauthorize(t, r, func(au *hmacd.Authorization) {
		au.SignedHeaders = append(au.SignedHeaders, "host")
	})
	a.expect(t, "host added to SignedHeaders in transit", r, 401, hmacd.VerdictBadSignature)
	r = req(withoutNonce, "c1")
	reauthorize(t, r, func(au *hmacd.Authorization) { au.Nonce = "0123456789abcdef" })
	a.expect(t, "a nonce added in transit", r, 401, hmacd.VerdictBadSignature)

	// Decided before any key is looked at: a wrong secret without a nonce is refused for
	// coverage, and so is a scope that has a policy and no key.
	wrong := *withoutNonce
	wrong.Secret = k2.Secret
	a.expect(t, "no nonce, wrong secret", req(&wrong, "c1"), 401,
		hmacd.VerdictInsufficientCoverage)
	a.expect(t, "no nonce, scope without a key", req(withoutNonce, "nokey"), 401,
		hmacd.VerdictInsufficientCoverage)
	a.expect(t, "nonce and host, scope without a key", req(full, "nokey"), 401,
		hmacd.VerdictUnknownKey)

	// The control: in a scope without the policy, the same signatures pass.
	other := func(s *hmacd.Signer) *hmacd.Signer {
		c := *s
		c.Secret = k2.Secret
		return &c
	}
	a.expect(t, "no nonce, no policy", req(other(withoutNonce), "c2"), 200, hmacd.VerdictOK)
	a.expect(t, "host not signed, no policy", req(other(withoutHost), "c2"), 200,
		hmacd.VerdictOK)
	a.expect(t, "neither, no policy", req(other(neither), "c2"), 200, hmacd.VerdictOK)

	// A tenant's policy applies to its containers: host and content-type both signed.
	bs := signer(b1)
	a.expect(t, "tenant policy: host and content-type signed", req(bs, "b1"), 200,
		hmacd.VerdictOK)
	bHost := *bs
	bHost.SignedHeaders = []string{"host"}
	a.expect(t, "tenant policy: content-type not signed", req(&bHost, "b1"), 401,
		hmacd.VerdictInsufficientCoverage)
	bNoNonce := *bs
	bNoNonce.Nonce = noNonce
	a.expect(t, "tenant policy: no nonce (not required there)", req(&bNoNonce, "b1"), 200,
		hmacd.VerdictOK)

	// Without the policy any more, the scope accepts what it refused.
	a.d.Ctl(t, "policy", "unset", "--tenant", "acme", "--container", "c1")
	a.expect(t, "no nonce, policy unset", req(withoutNonce, "c1"), 200, hmacd.VerdictOK)
}

func TestQueryOutsideSignatureRefused(t *testing.T) {
	a := startCountingApp(t)
	secret := func() []byte {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	k1 := a.d.ImportKey(t, "acme", "c1", "acme-c1", secret())
	// The control: a scope whose policy gives the query rule up.
	k2 := a.d.ImportKey(t, "acme", "c2", "acme-c2", secret())
	a.d.SetPolicy(t, "acme", "c2", []string{"@method", "@authority", "@path"}, "--no-query")
	if p := a.d.ShowPolicy(t, "acme", "c1"); p.Source != "default" || !p.Query {
		t.Fatalf("policy show acme/c1: %+v", p)
	}
	if p := a.d.ShowPolicy(t, "acme", "c2"); p.Source != "scope" || p.Query {
		t.Fatalf("policy show acme/c2: %+v", p)
	}

	// An explicit component list: the path and everything else, not the query.
	pathOnly := func(k daemontest.Key) *hmacd.RFC9421Signer {
		return &hmacd.RFC9421Signer{KeyID: k.KeyID, Secret: k.Secret, Components: []string{
			"@method", "@authority", "@path", "content-digest"}}
	}
	// send signs a POST to /containers/<container>/exec<query> with s.
	send := func(s *hmacd.RFC9421Signer, container, query string) *http.Request {
		req, err := http.NewRequest(http.MethodPost, a.srv.URL+"/containers/"+container+
			"/exec"+query, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Tenant", "acme")
		err = s.Sign(req, []byte(cmd))
		if err != nil {
			t.Fatal(err)
		}
		return req
	}

	// Signed without a query, sent as signed: the rule does not apply, 200.
	a.expect(t, "no query, as signed", send(pathOnly(k1), "c1", ""), 200,
		hmacd.VerdictOK)
	// The attack: a query added in transit.
	req := send(pathOnly(k1), "c1", "")
	req.URL.RawQuery = "force=true"
	a.expect(t, "?force=true added", req, 401, hmacd.VerdictInsufficientCoverage)
	if _, it, _ := a.rec.last(); it.Path != "/containers/c1/exec?force=true" {
		t.Fatalf("the daemon was sent %q", it.Path)
	}
	// A signer that left its query out: refused as signed, and changed.
	a.expect(t, "?force=false, @query not covered, as signed",
		send(pathOnly(k1), "c1", "?force=false"), 401, hmacd.VerdictInsufficientCoverage)
	req = send(pathOnly(k1), "c1", "?force=false")
	req.URL.RawQuery = "force=true"
	a.expect(t, "?force=false changed to ?force=true", req, 401,
		hmacd.VerdictInsufficientCoverage)
	// Covering one parameter is not covering the query: others could be added.
	s := pathOnly(k1)
	s.Components = append(s.Components, "@query-param;name=force")
	a.expect(t, "@query-param only, as signed", send(s, "c1", "?force=false"), 401,
		hmacd.VerdictInsufficientCoverage)

	// The control: under --no-query the same added query reaches the handler, which is what
	// the default policy prevents.
	req = send(pathOnly(k2), "c2", "")
	req.URL.RawQuery = "force=true"
	a.expect(t, "?force=true added, --no-query", req, 200, hmacd.VerdictOK)
	if q := a.lastQuery(); q != "force=true" {
		t.Fatalf("the handler got the query %q", q)
	}
	// And with @query covered, the default policy takes the signature as it was made.
	withQuery := pathOnly(k1)
	withQuery.Components = append(withQuery.Components, "@query")
	a.expect(t, "?force=false, @query covered", send(withQuery, "c1", "?force=false"), 200,
		hmacd.VerdictOK)
	if q := a.lastQuery(); q != "force=false" {
		t.Fatalf("the handler got the query %q", q)
	}
}
