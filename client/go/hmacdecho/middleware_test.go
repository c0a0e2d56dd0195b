// middleware_test.go - the Echo middleware: its statuses and exact bodies with a fake
// verifier, then end to end through a real HTTP server, a real client signer and the real
// hmacd (skipped unless $HMACD and $HMACCTL are set): every verdict, a signature for one
// container replayed against another, daemon down (503), daemon restarted, concurrency.

package hmacdecho_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hmacd/hmacd/client/go/hmacd"
	"github.com/hmacd/hmacd/client/go/hmacdecho"
	"github.com/hmacd/hmacd/client/go/internal/daemontest"
	"github.com/labstack/echo/v4"
)

// recorder wraps a Verifier and keeps the last item and verdict.
type recorder struct {
	next    hmacdecho.Verifier // nil: answer verdict/err below
	verdict hmacd.Verdict
	err     error

	mu    sync.Mutex
	calls int
	item  hmacd.Item
	got   hmacd.Verdict
}

func (r *recorder) VerifyOne(ctx context.Context, it *hmacd.Item) (hmacd.Verdict, error) {
	v, err := r.verdict, r.err
	if r.next != nil {
		v, err = r.next.VerifyOne(ctx, it)
	}
	r.mu.Lock()
	r.calls++
	r.item = *it
	r.got = v
	r.mu.Unlock()
	return v, err
}

func (r *recorder) last() (int, hmacd.Item, hmacd.Verdict) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls, r.item, r.got
}

// app is the protected route; the handler echoes the container and the body it read.
func app(v hmacdecho.Verifier, limit int64) *echo.Echo {
	return appWith(hmacdecho.Config{Verifier: v, Param: "id", BodyLimit: limit})
}

// appWith is app with any configuration (Param must be "id").
func appWith(cfg hmacdecho.Config) *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.Logger.SetOutput(io.Discard)
	e.POST("/containers/:id/exec", func(c echo.Context) error {
		body, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return err
		}
		return c.String(http.StatusOK, c.Param("id")+":"+string(body))
	}, hmacdecho.Middleware(cfg))
	e.POST("/noparam", func(c echo.Context) error { return c.NoContent(http.StatusOK) },
		hmacdecho.Middleware(hmacdecho.Config{Verifier: cfg.Verifier, Param: "id"}))
	return e
}

func wellFormedAuth() string {
	a := hmacd.Authorization{Tenant: "acme", Epoch: 1, Timestamp: 1700000000,
		Signature: make([]byte, 32)}
	return a.String()
}

func serve(e *echo.Echo, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

func expect(t *testing.T, rec *httptest.ResponseRecorder, status int, body string) {
	t.Helper()
	if rec.Code != status || rec.Body.String() != body {
		t.Fatalf("got %d %q, want %d %q", rec.Code, rec.Body.String(), status, body)
	}
	if status == http.StatusUnauthorized && rec.Header().Get("WWW-Authenticate") != "HMACD-V1" {
		t.Fatalf("401 without WWW-Authenticate: HMACD-V1")
	}
}

func TestStatusesWithFakeVerifier(t *testing.T) {
	const (
		s401 = `{"error":"unauthorized"}`
		s503 = `{"error":"unavailable"}`
		s413 = `{"error":"too_large"}`
	)
	r := &recorder{}
	e := app(r, 1024)
	newReq := func(target, body string) *http.Request {
		req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
		req.Header.Set("Authorization", wellFormedAuth())
		return req
	}

	req := newReq("/containers/c1/exec", "{}")
	req.Header.Del("Authorization")
	expect(t, serve(e, req), 401, s401)
	req = newReq("/containers/c1/exec", "{}")
	req.Header.Set("Authorization", "HMACD-V1 Tenant=acme")
	expect(t, serve(e, req), 401, s401)
	req = newReq("/containers/c1/exec", "{}")
	req.Header.Add("Authorization", wellFormedAuth())
	expect(t, serve(e, req), 401, s401) // two Authorization fields
	req = newReq("/containers/c1/exec", strings.Repeat("x", 1025))
	expect(t, serve(e, req), 413, s413)
	req = newReq("/containers/c1/exec", strings.Repeat("x", 1025))
	req.ContentLength = -1 // as with chunked encoding: counted while reading
	expect(t, serve(e, req), 413, s413)
	a := hmacd.Authorization{Tenant: "acme", Epoch: 1, Timestamp: 1,
		SignedHeaders: []string{"x-absent"}, Signature: make([]byte, 32)}
	req = newReq("/containers/c1/exec", "{}")
	req.Header.Set("Authorization", a.String())
	expect(t, serve(e, req), 401, s401)
	// A missing signed header is a 401 even with a body over the limit (Node and Python agree).
	req = newReq("/containers/c1/exec", strings.Repeat("x", 1025))
	req.Header.Set("Authorization", a.String())
	expect(t, serve(e, req), 401, s401)
	req = newReq("/noparam", "")
	if rec := serve(e, req); rec.Code != http.StatusInternalServerError {
		t.Fatalf("route without the parameter: %d, want 500", rec.Code)
	}
	if n, _, _ := r.last(); n != 0 {
		t.Fatalf("the verifier was called %d times for requests refused before it", n)
	}

	// What the middleware sends: container from the route, raw target, body restored.
	req = newReq("/containers/web%2D01/exec?b=%2F&a=1", "body bytes")
	rec := serve(e, req)
	_, it, _ := r.last()
	if rec.Code != 200 || rec.Body.String() != "web%2D01:body bytes" {
		t.Fatalf("handler: %d %q", rec.Code, rec.Body.String())
	}
	if it.Container != "web%2D01" || it.Path != "/containers/web%2D01/exec?b=%2F&a=1" ||
		it.Method != "POST" || it.Tenant != "acme" || it.Epoch != 1 || it.Ts != 1700000000 ||
		len(it.BodySHA256) != 32 || it.Body != nil {
		t.Fatalf("item %+v", it)
	}

	r.verdict = hmacd.VerdictReplay
	expect(t, serve(e, newReq("/containers/c1/exec", "{}")), 401, s401)
	r.verdict = hmacd.Verdict(200) // unknown codes reject too
	expect(t, serve(e, newReq("/containers/c1/exec", "{}")), 401, s401)
	// fleet mode, the nonce not claimed in time: the 503 of a daemon that does not answer
	r.verdict = hmacd.VerdictUnavailable
	rec9 := serve(e, newReq("/containers/c1/exec", "{}"))
	expect(t, rec9, 503, s503)
	r.verdict, r.err = hmacd.VerdictOK, hmacd.ErrUnavailable
	recDown := serve(e, newReq("/containers/c1/exec", "{}"))
	expect(t, recDown, 503, s503)
	sameHeaders(t, rec9.Header(), recDown.Header())
	r.err = &hmacd.ServerError{Code: "internal"}
	expect(t, serve(e, newReq("/containers/c1/exec", "{}")), 503, s503)
	r.err = context.DeadlineExceeded
	expect(t, serve(e, newReq("/containers/c1/exec", "{}")), 503, s503)
}

// sameHeaders fails unless two responses carry the same header fields (Date aside).
func sameHeaders(t *testing.T, a, b http.Header) {
	t.Helper()
	a, b = a.Clone(), b.Clone()
	a.Del("Date")
	b.Del("Date")
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("headers differ:\n%v\n%v", a, b)
	}
	if a.Get("WWW-Authenticate") != "" {
		t.Fatalf("a 503 with WWW-Authenticate")
	}
}

// Verdict 9 UNAVAILABLE through the real client and middleware: a fake daemon (the real one
// answers 9 only in fleet mode) gives it to every item. Both schemes get 503 with the body and
// headers of a daemon that is down, never 401; the handler never runs; the log names the
// verdict at error level.
func TestVerdictUnavailableEndToEnd(t *testing.T) {
	f := daemontest.StartFake(t, 9)
	client, err := hmacd.New(f.Socket, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	var runs int64
	var logs syncBuffer
	e := echo.New()
	e.HideBanner = true
	e.Logger.SetOutput(&logs)
	e.POST("/containers/:id/exec", func(c echo.Context) error {
		atomic.AddInt64(&runs, 1)
		return c.NoContent(http.StatusOK)
	}, hmacdecho.Middleware(hmacdecho.Config{Verifier: client, Param: "id"}))
	srv := httptest.NewServer(e)
	defer srv.Close()

	secret := bytes.Repeat([]byte{7}, 32)
	v1 := func() *http.Request {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/containers/c1/exec", nil)
		if err != nil {
			t.Fatal(err)
		}
		s := hmacd.Signer{Tenant: "acme", Epoch: 1, Secret: secret}
		if err := s.Sign(req, "c1", []byte(cmd)); err != nil {
			t.Fatal(err)
		}
		return req
	}
	rfc := func() *http.Request {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/containers/c1/exec",
			strings.NewReader(cmd))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Tenant", "acme")
		s := hmacd.RFC9421Signer{KeyID: "kid-1", Secret: secret}
		if err := s.Sign(req, []byte(cmd)); err != nil {
			t.Fatal(err)
		}
		return req
	}
	var headers9 http.Header
	for _, c := range []struct {
		scheme string
		req    *http.Request
	}{{"hmacd-v1", v1()}, {"rfc9421", rfc()}} {
		resp, err := http.DefaultClient.Do(c.req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 503 || string(body) != `{"error":"unavailable"}` {
			t.Fatalf("%s: %d %q, want 503", c.scheme, resp.StatusCode, body)
		}
		want := "hmacd: 503 POST /containers/c1/exec: " + c.scheme +
			" tenant acme container c1: UNAVAILABLE"
		if !strings.Contains(logs.String(), want) ||
			!strings.Contains(logs.String(), `"level":"ERROR"`) {
			t.Fatalf("%s: the log does not say %q: %s", c.scheme, want, logs.String())
		}
		headers9 = resp.Header
	}
	if atomic.LoadInt64(&runs) != 0 {
		t.Fatal("the handler ran")
	}
	if f.Conns() == 0 {
		t.Fatal("the daemon was never asked")
	}

	// The same request once the daemon is gone: the very same response.
	f.Stop()
	resp, err := http.DefaultClient.Do(v1())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || string(body) != `{"error":"unavailable"}` {
		t.Fatalf("daemon down: %d %q", resp.StatusCode, body)
	}
	sameHeaders(t, headers9, resp.Header)
}

func TestConfigRequired(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic without Param")
		}
	}()
	hmacdecho.Middleware(hmacdecho.Config{Verifier: &recorder{}})
}

// ---- against the real daemon ----

// daemonApp is an app served over HTTP whose middleware asks the real hmacd through a
// recorder, and the keys the test made in it.
type daemonApp struct {
	d    *daemontest.Daemon
	rec  *recorder
	srv  *httptest.Server
	keys map[string]daemontest.Key
	ok   func(body string) bool // whether a 200's body is the handler's answer
}

// startApp starts the daemon and serves the app that newApp builds around the verifier.
func startApp(t *testing.T, newApp func(hmacdecho.Verifier) http.Handler,
	ok func(body string) bool) daemonApp {
	d := daemontest.Start(t)
	c, err := hmacd.New(d.Socket, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	a := daemonApp{d: d, rec: &recorder{next: c}, keys: map[string]daemontest.Key{}, ok: ok}
	a.srv = httptest.NewServer(newApp(a.rec))
	t.Cleanup(a.srv.Close)
	return a
}

// post builds a POST to /containers/<container>/exec?tty=1 with a JSON Content-Type, then
// has sign add its headers and sign it.
func (a *daemonApp) post(t *testing.T, container string,
	sign func(*http.Request) error) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, a.srv.URL+"/containers/"+container+
		"/exec?tty=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	err = sign(req)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// check sends req and expects status and, when the daemon was asked, that verdict.
func (a *daemonApp) check(t *testing.T, what string, req *http.Request, status int,
	want hmacd.Verdict) {
	t.Helper()
	n0, _, _ := a.rec.last()
	code, body, hdr := do(t, req)
	n, _, got := a.rec.last()
	if code != status {
		t.Fatalf("%s: status %d %q, want %d", what, code, body, status)
	}
	switch status {
	case 200:
		if !a.ok(body) {
			t.Fatalf("%s: the handler saw %q", what, body)
		}
	case 401:
		if body != `{"error":"unauthorized"}` || hdr.Get("WWW-Authenticate") != "HMACD-V1" {
			t.Fatalf("%s: 401 with %q, %q", what, body, hdr.Get("WWW-Authenticate"))
		}
	}
	if n != n0+1 || got != want {
		t.Fatalf("%s: verdict %v (calls %d->%d), want %v", what, got, n0, n, want)
	}
}

type fixture struct {
	daemonApp
}

func setup(t *testing.T) *fixture {
	f := &fixture{startApp(t, func(v hmacdecho.Verifier) http.Handler { return app(v, 0) },
		func(body string) bool { return strings.HasSuffix(body, ":"+cmd) })}
	for _, ct := range []string{"c1", "c2"} {
		f.keys[ct] = f.d.CreateKey(t, "acme", ct)
	}
	return f
}

func signer(k daemontest.Key) *hmacd.Signer {
	return &hmacd.Signer{Tenant: k.Tenant, Epoch: k.Epoch, Secret: k.Secret}
}

// request builds a signed POST to /containers/<container>/exec?tty=1.
func (f *fixture) request(t *testing.T, s *hmacd.Signer, container, body string) *http.Request {
	t.Helper()
	return f.post(t, container, func(req *http.Request) error {
		return s.Sign(req, container, []byte(body))
	})
}

func do(t *testing.T, req *http.Request) (int, string, http.Header) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b), resp.Header
}

const cmd = `{"cmd":["ls"]}`

func TestEndToEnd(t *testing.T) {
	f := setup(t)
	s1 := signer(f.keys["c1"])

	f.check(t, "signed request", f.request(t, s1, "c1", cmd), 200, hmacd.VerdictOK)

	// The seed's bug: a signature made for c1 sent to c2 (whose key exists).
	req := f.request(t, s1, "c1", cmd)
	req.URL.Path = "/containers/c2/exec"
	f.check(t, "container swapped in the path", req, 401, hmacd.VerdictBadSignature)

	req = f.request(t, s1, "c1", cmd)
	req.URL.RawQuery = "tty=0"
	f.check(t, "query changed", req, 401, hmacd.VerdictBadSignature)

	req = f.request(t, s1, "c1", cmd)
	req.Body = io.NopCloser(strings.NewReader(`{"cmd":["rm"]}`))
	f.check(t, "body changed", req, 401, hmacd.VerdictBadSignature)

	req = f.request(t, s1, "c1", cmd)
	req.Header.Set("Content-Type", "text/plain")
	f.check(t, "signed header changed", req, 401, hmacd.VerdictBadSignature)

	req = f.request(t, s1, "c1", cmd)
	req.Method = http.MethodPut
	code, _, _ := do(t, req) // no PUT route: never reaches the middleware
	if code != http.StatusMethodNotAllowed {
		t.Fatalf("PUT: %d", code)
	}

	req = f.request(t, s1, "c1", cmd)
	f.check(t, "first use", req, 200, hmacd.VerdictOK)
	req2 := f.request(t, s1, "c1", cmd)
	req2.Header = req.Header.Clone()
	f.check(t, "replayed request", req2, 401, hmacd.VerdictReplay)

	stale := *s1
	stale.Now = func() time.Time { return time.Now().Add(-time.Hour) }
	f.check(t, "stale", f.request(t, &stale, "c1", cmd), 401, hmacd.VerdictStaleTimestamp)

	unknown := *s1
	unknown.Tenant = "nobody"
	f.check(t, "unknown tenant", f.request(t, &unknown, "c1", cmd), 401, hmacd.VerdictUnknownKey)

	// Epochs: c2 rotated twice with no grace, then epoch 1 revoked.
	k1 := f.keys["c2"]
	k2 := f.d.RotateKey(t, "acme", "c2", 0)
	k3 := f.d.RotateKey(t, "acme", "c2", 0)
	f.d.RevokeKey(t, "acme", "c2", k1.Epoch)
	f.check(t, "revoked epoch", f.request(t, signer(k1), "c2", cmd), 401,
		hmacd.VerdictKeyRevoked)
	f.check(t, "expired epoch", f.request(t, signer(k2), "c2", cmd), 401,
		hmacd.VerdictKeyExpired)
	f.check(t, "current epoch", f.request(t, signer(k3), "c2", cmd), 200, hmacd.VerdictOK)

	// A container the route accepts but the protocol does not: MALFORMED, not a 500.
	req = f.request(t, s1, "c1", cmd)
	req.URL.RawPath = "/containers/c%201/exec"
	req.URL.Path = "/containers/c 1/exec"
	f.check(t, "malformed container", req, 401, hmacd.VerdictMalformed)
}

func TestDaemonDownAndRestart(t *testing.T) {
	f := setup(t)
	s1 := signer(f.keys["c1"])
	f.check(t, "before", f.request(t, s1, "c1", cmd), 200, hmacd.VerdictOK)

	f.d.Stop(t)
	n0, _, _ := f.rec.last()
	code, body, _ := do(t, f.request(t, s1, "c1", cmd))
	if code != 503 || body != `{"error":"unavailable"}` {
		t.Fatalf("daemon down: %d %q", code, body)
	}
	if n, _, _ := f.rec.last(); n != n0+1 {
		t.Fatal("the verifier was not asked")
	}

	f.d.Run(t)
	for i := 0; i < 4; i++ {
		f.check(t, fmt.Sprintf("after restart %d", i), f.request(t, s1, "c1", cmd), 200,
			hmacd.VerdictOK)
	}
}

func TestConcurrentRequests(t *testing.T) {
	f := setup(t)
	s1, s2 := signer(f.keys["c1"]), signer(f.keys["c2"])
	const workers, per = 32, 25
	var wg sync.WaitGroup
	var wrong int64
	var firstErr atomic.Value
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				s, ct, want := s1, "c1", 200
				switch (w + i) % 3 {
				case 1:
					s, ct = s2, "c2"
				case 2:
					ct, want = "c2", 401 // c1's key for c2
				}
				req, err := http.NewRequest(http.MethodPost, f.srv.URL+"/containers/"+ct+
					"/exec", nil)
				if err == nil {
					req.Header.Set("Content-Type", "application/json")
					signFor := ct
					if want == 401 {
						signFor = "c1"
					}
					err = s.Sign(req, signFor, []byte(cmd))
				}
				var resp *http.Response
				if err == nil {
					resp, err = http.DefaultClient.Do(req)
				}
				if err != nil {
					firstErr.Store(err)
					atomic.AddInt64(&wrong, 1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != want {
					atomic.AddInt64(&wrong, 1)
				}
			}
		}(w)
	}
	wg.Wait()
	if wrong != 0 {
		t.Fatalf("%d of %d requests got the wrong status (%v)", wrong, workers*per,
			firstErr.Load())
	}
}

// The 413 comes before any verification, even with a working daemon.
func TestBodyLimitEndToEnd(t *testing.T) {
	f := setup(t)
	big := bytes.Repeat([]byte("x"), hmacdecho.DefaultBodyLimit+1)
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+"/containers/c1/exec", nil)
	if err != nil {
		t.Fatal(err)
	}
	err = signer(f.keys["c1"]).Sign(req, "c1", big)
	if err != nil {
		t.Fatal(err)
	}
	n0, _, _ := f.rec.last()
	code, body, _ := do(t, req)
	if code != 413 || body != `{"error":"too_large"}` {
		t.Fatalf("%d %q", code, body)
	}
	if n, _, _ := f.rec.last(); n != n0 {
		t.Fatal("verified a body over the limit")
	}
}
