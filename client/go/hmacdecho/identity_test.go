// identity_test.go - what the handler learns and what the log says: the verified Identity in
// Echo's context and in the request's, for both schemes, through the real hmacd (skipped
// unless $HMACD and $HMACCTL are set); and the reason of a refusal in Echo's log at a level
// Echo shows by default (never in the response), or given to Config.Log instead.

package hmacdecho_test

import (
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/hmacd/hmacd/client/go/hmacd"
	"github.com/hmacd/hmacd/client/go/hmacdecho"
	"github.com/labstack/echo/v4"
)

// Echo's logger is left at its default level: only its output is captured.
func TestRefusalReasonLoggedByDefault(t *testing.T) {
	r := &recorder{verdict: hmacd.VerdictBadSignature}
	var logs syncBuffer
	e := echo.New()
	e.Logger.SetOutput(&logs)
	e.POST("/containers/:id/exec", func(c echo.Context) error { return c.NoContent(200) },
		hmacdecho.Middleware(hmacdecho.Config{Verifier: r, Param: "id"}))

	req := httptest.NewRequest(http.MethodPost, "/containers/c1/exec", strings.NewReader("{}"))
	expect(t, serve(e, req), 401, s401)
	want := `"level":"ERROR","prefix":"echo"`
	line := "hmacd: 401 POST /containers/c1/exec: hmacd-v1: no single Authorization header"
	if !strings.Contains(logs.String(), want) || !strings.Contains(logs.String(), line) {
		t.Fatalf("the log does not say %s with %s: %s", line, want, logs.String())
	}

	auth := wellFormedAuth()
	req = httptest.NewRequest(http.MethodPost, "/containers/c1/exec", strings.NewReader("{}"))
	req.Header.Set("Authorization", auth)
	rec := serve(e, req)
	expect(t, rec, 401, s401)
	line = "hmacd: 401 POST /containers/c1/exec: hmacd-v1 tenant acme container c1: BAD_SIGNATURE"
	if !strings.Contains(logs.String(), line) {
		t.Fatalf("the log does not say %s: %s", line, logs.String())
	}
	sig := auth[strings.Index(auth, "Signature=")+len("Signature="):]
	if strings.Contains(logs.String(), sig) {
		t.Fatal("the log holds the signature")
	}
	if strings.Contains(rec.Body.String(), "BAD_SIGNATURE") {
		t.Fatal("the response names the verdict")
	}

	// A Log function of the user's gets the refusals instead of Echo's logger.
	var got []string
	logs = syncBuffer{}
	e = echo.New()
	e.Logger.SetOutput(&logs)
	e.POST("/containers/:id/exec", func(c echo.Context) error { return c.NoContent(200) },
		hmacdecho.Middleware(hmacdecho.Config{Verifier: r, Param: "id",
			Log: func(c echo.Context, status int, reason string) {
				got = append(got, c.Param("id")+" "+http.StatusText(status)+": "+reason)
			}}))
	req = httptest.NewRequest(http.MethodPost, "/containers/c1/exec", strings.NewReader("{}"))
	req.Header.Set("Authorization", auth)
	expect(t, serve(e, req), 401, s401)
	if len(got) != 1 || got[0] != "c1 Unauthorized: hmacd-v1 tenant acme container c1: "+
		"BAD_SIGNATURE" || logs.String() != "" {
		t.Fatalf("Log got %q, Echo's logger %q", got, logs.String())
	}
}

// A route whose parameter matched empty: 401, the daemon never asked. A route without the
// parameter at all: a configuration error (500).
func TestEmptyContainer(t *testing.T) {
	r := &recorder{}
	e := app(r, 0)
	req := httptest.NewRequest(http.MethodPost, "/containers//exec", strings.NewReader("{}"))
	req.Header.Set("Authorization", wellFormedAuth())
	expect(t, serve(e, req), 401, s401)
	if n, _, _ := r.last(); n != 0 {
		t.Fatal("the daemon was asked about an empty container")
	}
}

func TestIdentityEndToEnd(t *testing.T) {
	type seen struct {
		echo, ctx *hmacd.Identity
	}
	got := make(chan seen, 1)
	a := startApp(t, func(v hmacdecho.Verifier) http.Handler {
		e := echo.New()
		e.Logger.SetOutput(io.Discard)
		e.POST("/containers/:id/exec", func(c echo.Context) error {
			var s seen
			s.echo, _ = hmacdecho.IdentityFrom(c)
			s.ctx, _ = hmacd.IdentityFrom(c.Request().Context())
			got <- s
			return c.String(http.StatusOK, "ok")
		}, hmacdecho.Middleware(hmacdecho.Config{Verifier: v, Param: "id"}))
		return e
	}, func(body string) bool { return body == "ok" })
	v1 := a.d.CreateKey(t, "acme", "c1")
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	rk := a.d.ImportKey(t, "acme", "c2", "acme-c2-k1", secret)

	// hmacd-v1
	nonce := "0123456789abcdef"
	s := signer(v1)
	s.Nonce = func() (string, error) { return nonce, nil }
	req := a.post(t, "c1", func(req *http.Request) error { return s.Sign(req, "c1", []byte(cmd)) })
	auth, err := hmacd.ParseAuthorization(req.Header.Get("Authorization"))
	if err != nil {
		t.Fatal(err)
	}
	a.check(t, "hmacd-v1", req, 200, hmacd.VerdictOK)
	sn := <-got
	want := &hmacd.Identity{Scheme: hmacd.SchemeHMACDV1, Tenant: "acme", Container: "c1",
		Nonce: nonce, Epoch: v1.Epoch, Timestamp: auth.Timestamp}
	if !reflect.DeepEqual(sn.echo, want) || sn.ctx != sn.echo {
		t.Fatalf("hmacd-v1 identity %+v (request context %+v), want %+v", sn.echo, sn.ctx, want)
	}

	// rfc9421
	rs := &hmacd.RFC9421Signer{KeyID: rk.KeyID, Secret: rk.Secret,
		Nonce: func() (string, error) { return nonce, nil }}
	req = a.post(t, "c2", func(req *http.Request) error {
		req.Header.Set("X-Tenant", "acme")
		return rs.Sign(req, []byte(cmd))
	})
	a.check(t, "rfc9421", req, 200, hmacd.VerdictOK)
	sn = <-got
	if sn.echo == nil || sn.ctx != sn.echo || sn.echo.Created <= 0 {
		t.Fatalf("rfc9421 identity %+v (request context %+v)", sn.echo, sn.ctx)
	}
	want = &hmacd.Identity{Scheme: hmacd.SchemeRFC9421, Tenant: "acme", Container: "c2",
		Nonce: nonce, Label: "sig1", KeyID: "acme-c2-k1", Created: sn.echo.Created,
		Covered: []string{`"@method"`, `"@authority"`, `"@path"`, `"@query"`,
			`"content-digest"`}}
	if !reflect.DeepEqual(sn.echo, want) {
		t.Fatalf("rfc9421 identity %+v, want %+v", sn.echo, want)
	}
}
