// middleware_test.go - the gin middleware: the same responses as the net/http and Echo
// middleware for the same requests (status, body and every header), the configuration
// errors, the reason of a refusal on gin's error writer; then through a real HTTP server and
// the real hmacd (skipped unless $HMACD and $HMACCTL are set): both schemes, a signature for
// one container sent to another, a tampered body, a missing header, a replay, the daemon down
// (503), and the identity the handler gets.

package hmacdgin_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/hmacd/hmacd/client/go/hmacd"
	"github.com/hmacd/hmacd/client/go/hmacdecho"
	"github.com/hmacd/hmacd/client/go/hmacdgin"
	"github.com/hmacd/hmacd/client/go/internal/daemontest"
	"github.com/labstack/echo/v4"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode) // no debug lines for each route
	os.Exit(m.Run())
}

// recorder is a Verifier that answers verdict/err (or asks next) and keeps count.
type recorder struct {
	next    hmacd.Verifier
	verdict hmacd.Verdict
	err     error

	mu    sync.Mutex
	calls int
	got   hmacd.Verdict
}

func (r *recorder) VerifyOne(ctx context.Context, it *hmacd.Item) (hmacd.Verdict, error) {
	v, err := r.verdict, r.err
	if r.next != nil {
		v, err = r.next.VerifyOne(ctx, it)
	}
	r.mu.Lock()
	r.calls++
	r.got = v
	r.mu.Unlock()
	return v, err
}

func (r *recorder) last() (int, hmacd.Verdict) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls, r.got
}

// ginApp serves POST /containers/:id/exec behind the middleware; the handler answers the
// identity's scope and the body it read.
func ginApp(cfg hmacdgin.Config) *gin.Engine {
	if cfg.Param == "" {
		cfg.Param = "id"
	}
	r := gin.New()
	r.POST("/containers/:id/exec", hmacdgin.Middleware(cfg), func(c *gin.Context) {
		id, ok := hmacdgin.IdentityFrom(c)
		ctxID, _ := hmacd.IdentityFrom(c.Request.Context())
		body, err := c.GetRawData()
		if !ok || ctxID != id || err != nil {
			c.String(http.StatusInternalServerError, "identity %v %v, body %v", id, ctxID, err)
			return
		}
		c.String(http.StatusOK, id.Tenant+"/"+id.Container+":"+string(body))
	})
	r.POST("/noparam", hmacdgin.Middleware(hmacdgin.Config{Verifier: cfg.Verifier,
		Param: "id"}), func(c *gin.Context) { c.Status(http.StatusOK) })
	return r
}

func echoApp(v hmacd.Verifier) http.Handler {
	e := echo.New()
	e.Logger.SetOutput(io.Discard)
	e.POST("/containers/:id/exec", func(c echo.Context) error { return c.NoContent(200) },
		hmacdecho.Middleware(hmacdecho.Config{Verifier: v, Param: "id", BodyLimit: 1024}))
	return e
}

func netHTTPApp(v hmacd.Verifier) http.Handler {
	return hmacd.Middleware(hmacd.MiddlewareConfig{Verifier: v, BodyLimit: 1024,
		Log:       func(*http.Request, int, string) {},
		Container: func(r *http.Request) string { return strings.Split(r.URL.Path, "/")[2] },
	})(http.NotFoundHandler())
}

func wellFormedAuth() string {
	a := hmacd.Authorization{Tenant: "acme", Epoch: 1, Timestamp: 1700000000,
		Signature: make([]byte, 32)}
	return a.String()
}

func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// The three middleware refuse each request alike, to the byte and the header.
func TestSameResponsesAsNetHTTPAndEcho(t *testing.T) {
	gin.DefaultErrorWriter = io.Discard
	defer func() { gin.DefaultErrorWriter = os.Stderr }()
	for _, c := range []struct {
		what    string
		auth    string
		body    string
		verdict hmacd.Verdict
		err     error
		status  int
	}{
		{"no Authorization", "", "{}", 0, nil, 401},
		{"invalid Authorization", "HMACD-V1 Tenant=acme", "{}", 0, nil, 401},
		{"body over the limit", wellFormedAuth(), strings.Repeat("x", 1025), 0, nil, 413},
		{"BAD_SIGNATURE", wellFormedAuth(), "{}", hmacd.VerdictBadSignature, nil, 401},
		{"UNAVAILABLE", wellFormedAuth(), "{}", hmacd.VerdictUnavailable, nil, 503},
		{"daemon down", wellFormedAuth(), "{}", 0, hmacd.ErrUnavailable, 503},
		{"daemon error", wellFormedAuth(), "{}", 0, &hmacd.ServerError{Code: "internal"}, 503},
	} {
		v := &recorder{verdict: c.verdict, err: c.err}
		var recs []*httptest.ResponseRecorder
		for _, h := range []http.Handler{ginApp(hmacdgin.Config{Verifier: v,
			BodyLimit: 1024}), echoApp(v), netHTTPApp(v)} {
			req := httptest.NewRequest(http.MethodPost, "/containers/c1/exec",
				strings.NewReader(c.body))
			if c.auth != "" {
				req.Header.Set("Authorization", c.auth)
			}
			recs = append(recs, serve(h, req))
		}
		want := map[int]string{401: `{"error":"unauthorized"}`, 413: `{"error":"too_large"}`,
			503: `{"error":"unavailable"}`}[c.status]
		for i, rec := range recs {
			if rec.Code != c.status || rec.Body.String() != want {
				t.Fatalf("%s: middleware %d: %d %q, want %d %q", c.what, i, rec.Code,
					rec.Body.String(), c.status, want)
			}
			if !reflect.DeepEqual(rec.Header(), recs[0].Header()) {
				t.Fatalf("%s: headers differ:\n%v\n%v", c.what, rec.Header(),
					recs[0].Header())
			}
		}
	}
}

func TestConfigAndLog(t *testing.T) {
	var logs bytes.Buffer
	gin.DefaultErrorWriter = &logs
	defer func() { gin.DefaultErrorWriter = os.Stderr }()
	v := &recorder{verdict: hmacd.VerdictReplay}
	r := ginApp(hmacdgin.Config{Verifier: v})

	req := httptest.NewRequest(http.MethodPost, "/containers/c1/exec", strings.NewReader("{}"))
	req.Header.Set("Authorization", wellFormedAuth())
	if rec := serve(r, req); rec.Code != 401 {
		t.Fatalf("REPLAY: %d", rec.Code)
	}
	want := "hmacd: 401 POST /containers/c1/exec: hmacd-v1 tenant acme container c1: REPLAY\n"
	if !strings.HasSuffix(logs.String(), want) {
		t.Fatalf("gin's error writer got %q, want %q", logs.String(), want)
	}

	req = httptest.NewRequest(http.MethodPost, "/noparam", nil)
	req.Header.Set("Authorization", wellFormedAuth())
	if rec := serve(r, req); rec.Code != 500 || rec.Body.Len() != 0 {
		t.Fatalf("route without the parameter: %d %q", rec.Code, rec.Body.String())
	}
	if !strings.Contains(logs.String(), `hmacd: 500 POST /noparam: hmacdgin: route /noparam `+
		`has no parameter "id"`) {
		t.Fatalf("the log: %q", logs.String())
	}
	if n, _ := v.last(); n != 1 {
		t.Fatalf("the verifier was asked %d times", n)
	}

	var got []string
	r = ginApp(hmacdgin.Config{Verifier: v, Log: func(c *gin.Context, status int,
		reason string) {
		got = append(got, fmt.Sprint(c.Param("id"), " ", status, " ", reason))
	}})
	logs.Reset()
	req = httptest.NewRequest(http.MethodPost, "/containers/c1/exec", strings.NewReader("{}"))
	if rec := serve(r, req); rec.Code != 401 {
		t.Fatalf("unsigned: %d", rec.Code)
	}
	if len(got) != 1 || got[0] != "c1 401 hmacd-v1: no single Authorization header" ||
		logs.Len() != 0 {
		t.Fatalf("Log got %q, gin's writer %q", got, logs.String())
	}

	for _, cfg := range []hmacdgin.Config{{Param: "id"}, {Verifier: v},
		{Verifier: v, Param: "id", URIScheme: "ftp"}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%+v: no panic", cfg)
				}
			}()
			hmacdgin.Middleware(cfg)
		}()
	}
}

// ---- against the real daemon ----

const cmd = `{"cmd":["ls"]}`

func TestEndToEnd(t *testing.T) {
	var logs bytes.Buffer
	gin.DefaultErrorWriter = &logs
	defer func() { gin.DefaultErrorWriter = os.Stderr }()
	d := daemontest.Start(t)
	client, err := hmacd.New(d.Socket, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	v := &recorder{next: client}
	srv := httptest.NewServer(ginApp(hmacdgin.Config{Verifier: v}))
	defer srv.Close()
	k1 := d.CreateKey(t, "acme", "c1")
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	k2 := d.ImportKey(t, "acme", "c2", "acme-c2-k1", secret)

	v1 := func(signFor, to string) *http.Request {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/containers/"+signFor+"/exec", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		s := &hmacd.Signer{Tenant: k1.Tenant, Epoch: k1.Epoch, Secret: k1.Secret}
		if err := s.Sign(req, signFor, []byte(cmd)); err != nil {
			t.Fatal(err)
		}
		req.URL.Path = "/containers/" + to + "/exec"
		return req
	}
	rfc := func(signFor, to string) *http.Request {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/containers/"+signFor+"/exec", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Tenant", "acme")
		s := &hmacd.RFC9421Signer{KeyID: k2.KeyID, Secret: k2.Secret}
		if err := s.Sign(req, []byte(cmd)); err != nil {
			t.Fatal(err)
		}
		req.URL.Path = "/containers/" + to + "/exec"
		return req
	}
	check := func(what string, req *http.Request, status int, asked bool, want hmacd.Verdict,
		body string) {
		t.Helper()
		n0, _ := v.last()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		n, got := v.last()
		if resp.StatusCode != status || string(b) != body {
			t.Fatalf("%s: %d %q, want %d %q", what, resp.StatusCode, b, status, body)
		}
		if asked != (n == n0+1) || (asked && status != 503 && got != want) {
			t.Fatalf("%s: asked %d times, verdict %v, want %v", what, n-n0, got, want)
		}
	}
	const s401, s503 = `{"error":"unauthorized"}`, `{"error":"unavailable"}`

	check("hmacd-v1", v1("c1", "c1"), 200, true, hmacd.VerdictOK, "acme/c1:"+cmd)
	check("rfc9421", rfc("c2", "c2"), 200, true, hmacd.VerdictOK, "acme/c2:"+cmd)
	check("hmacd-v1 for c1 sent to c2", v1("c1", "c2"), 401, true, hmacd.VerdictBadSignature,
		s401)
	check("rfc9421 for c2 sent to c1", rfc("c2", "c1"), 401, true, hmacd.VerdictUnknownKey,
		s401)
	req := v1("c1", "c1")
	req.Body = io.NopCloser(strings.NewReader(`{"cmd":["rm"]}`))
	check("body tampered", req, 401, true, hmacd.VerdictBadSignature, s401)
	req = v1("c1", "c1")
	req.Header.Del("Authorization")
	check("no Authorization", req, 401, false, 0, s401)
	req = v1("c1", "c1")
	check("first use", req, 200, true, hmacd.VerdictOK, "acme/c1:"+cmd)
	again := v1("c1", "c1")
	again.Header = req.Header.Clone()
	check("replayed", again, 401, true, hmacd.VerdictReplay, s401)
	if !strings.Contains(logs.String(), "hmacd: 401 POST /containers/c1/exec: hmacd-v1 "+
		"tenant acme container c1: REPLAY") {
		t.Fatalf("the log: %s", logs.String())
	}

	d.Stop(t)
	check("daemon down", v1("c1", "c1"), 503, true, 0, s503)
	d.Run(t)
	check("daemon back", v1("c1", "c1"), 200, true, hmacd.VerdictOK, "acme/c1:"+cmd)
}
