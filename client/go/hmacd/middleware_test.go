// middleware_test.go - the net/http middleware: its statuses, exact bodies and headers with a
// fake verifier; then behind a Go 1.19 router (the container cut out of the path), through a
// real HTTP server, the real signers and the real hmacd (skipped unless $HMACD and $HMACCTL
// are set): both schemes, a signature for one container sent to another, a tampered body, a
// missing header, a replay, the daemon down (503) and back, the identity the handler gets,
// and the reason of each refusal in the standard logger by default.

package hmacd_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/hmacd/hmacd/client/go/hmacd"
	"github.com/hmacd/hmacd/client/go/internal/daemontest"
)

// mwRecorder is a Verifier that answers verdict/err (or asks next) and keeps the last item.
type mwRecorder struct {
	next    hmacd.Verifier
	verdict hmacd.Verdict
	err     error

	mu    sync.Mutex
	calls int
	item  hmacd.Item
	got   hmacd.Verdict
}

func (r *mwRecorder) VerifyOne(ctx context.Context, it *hmacd.Item) (hmacd.Verdict, error) {
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

func (r *mwRecorder) last() (int, hmacd.Item, hmacd.Verdict) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls, r.item, r.got
}

// containerOf is the {id} of /containers/{id}/exec, unescaped as Go 1.22's r.PathValue("id")
// gives it, or "" for any other path.
func containerOf(r *http.Request) string {
	rest := strings.TrimPrefix(r.URL.EscapedPath(), "/containers/")
	id, tail, ok := strings.Cut(rest, "/")
	if !ok || tail != "exec" || len(rest) == len(r.URL.EscapedPath()) {
		return ""
	}
	id, err := url.PathUnescape(id)
	if err != nil {
		return ""
	}
	return id
}

// mwApp routes POST /containers/{id}/exec through the middleware to a handler that answers
// the container, the tenant of its identity and the body it read; anything else is 404.
func mwApp(cfg hmacd.MiddlewareConfig) http.Handler {
	if cfg.Container == nil {
		cfg.Container = containerOf
	}
	protected := hmacd.Middleware(cfg)(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		id, ok := hmacd.IdentityFrom(r.Context())
		if !ok {
			http.Error(w, "no identity", http.StatusInternalServerError)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, id.Tenant+"/"+id.Container+":"+string(body))
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || containerOf(r) == "" {
			http.NotFound(w, r)
			return
		}
		protected.ServeHTTP(w, r)
	})
}

func mwServe(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

const (
	mw401 = `{"error":"unauthorized"}`
	mw413 = `{"error":"too_large"}`
	mw503 = `{"error":"unavailable"}`
)

func mwExpect(t *testing.T, rec *httptest.ResponseRecorder, status int, body string) {
	t.Helper()
	if rec.Code != status || rec.Body.String() != body {
		t.Fatalf("got %d %q, want %d %q", rec.Code, rec.Body.String(), status, body)
	}
	if status >= 400 && rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d with Content-Type %q", status, rec.Header().Get("Content-Type"))
	}
	if (status == http.StatusUnauthorized) != (rec.Header().Get("WWW-Authenticate") ==
		"HMACD-V1") {
		t.Fatalf("%d with WWW-Authenticate %q", status, rec.Header().Get("WWW-Authenticate"))
	}
}

func mwAuth(headers ...string) string {
	a := hmacd.Authorization{Tenant: "acme", Epoch: 1, Timestamp: 1700000000,
		SignedHeaders: headers, Signature: make([]byte, 32)}
	return a.String()
}

// captureLog sends the standard logger's output to a buffer until the test ends.
func captureLog(t *testing.T) *bytes.Buffer {
	var buf bytes.Buffer
	out, flags := log.Writer(), log.Flags()
	log.SetOutput(&buf)
	log.SetFlags(0)
	t.Cleanup(func() {
		log.SetOutput(out)
		log.SetFlags(flags)
	})
	return &buf
}

func TestMiddlewareWithFakeVerifier(t *testing.T) {
	logs := captureLog(t)
	r := &mwRecorder{}
	h := mwApp(hmacd.MiddlewareConfig{Verifier: r, BodyLimit: 1024})
	newReq := func(target, body string) *http.Request {
		req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
		req.Header.Set("Authorization", mwAuth())
		return req
	}

	// Refused before the daemon is asked, in the order of PROTOCOL.md 13.3 step 6.
	req := newReq("/containers/c1/exec", "{}")
	req.Header.Del("Authorization")
	mwExpect(t, mwServe(h, req), 401, mw401)
	if want := "hmacd: 401 POST /containers/c1/exec: hmacd-v1: no single Authorization " +
		"header\n"; logs.String() != want {
		t.Fatalf("the standard logger got %q, want %q", logs.String(), want)
	}
	req = newReq("/containers/c1/exec", "{}")
	req.Header.Set("Authorization", "HMACD-V1 Tenant=acme")
	mwExpect(t, mwServe(h, req), 401, mw401)
	req = newReq("/containers/c1/exec", "{}")
	req.Header.Add("Authorization", mwAuth())
	mwExpect(t, mwServe(h, req), 401, mw401)
	req = newReq("/containers/c1/exec", strings.Repeat("x", 1025))
	req.Header.Set("Authorization", mwAuth("x-absent"))
	mwExpect(t, mwServe(h, req), 401, mw401) // the missing header first, then the size
	req = newReq("/containers/c1/exec", strings.Repeat("x", 1025))
	mwExpect(t, mwServe(h, req), 413, mw413)
	req = newReq("/containers/c1/exec", strings.Repeat("x", 1025))
	req.ContentLength = -1 // as with chunked encoding: counted while reading
	mwExpect(t, mwServe(h, req), 413, mw413)
	// The container function found nothing: 401 (this one is the Container of a config
	// whose function never finds one).
	empty := hmacd.Middleware(hmacd.MiddlewareConfig{Verifier: r,
		Container: func(*http.Request) string { return "" }})(http.NotFoundHandler())
	mwExpect(t, mwServe(empty, newReq("/containers/c1/exec", "{}")), 401, mw401)
	if n, _, _ := r.last(); n != 0 {
		t.Fatalf("the verifier was asked %d times for requests refused before it", n)
	}

	// What is sent: the container from the path (unescaped), the raw target, the body's
	// digest; the handler gets the body.
	rec := mwServe(h, newReq("/containers/web%2D01/exec?b=%2F&a=1", "body bytes"))
	_, it, _ := r.last()
	if rec.Code != 200 || rec.Body.String() != "acme/web-01:body bytes" {
		t.Fatalf("handler: %d %q", rec.Code, rec.Body.String())
	}
	if it.Container != "web-01" || it.Path != "/containers/web%2D01/exec?b=%2F&a=1" ||
		it.Method != "POST" || it.Tenant != "acme" || it.Epoch != 1 || it.Ts != 1700000000 ||
		len(it.BodySHA256) != 32 || it.Body != nil {
		t.Fatalf("item %+v", it)
	}

	r.verdict = hmacd.VerdictReplay
	mwExpect(t, mwServe(h, newReq("/containers/c1/exec", "{}")), 401, mw401)
	r.verdict = hmacd.Verdict(200) // unknown codes reject too
	mwExpect(t, mwServe(h, newReq("/containers/c1/exec", "{}")), 401, mw401)
	r.verdict = hmacd.VerdictUnavailable
	rec9 := mwServe(h, newReq("/containers/c1/exec", "{}"))
	mwExpect(t, rec9, 503, mw503)
	r.verdict, r.err = hmacd.VerdictOK, hmacd.ErrUnavailable
	recDown := mwServe(h, newReq("/containers/c1/exec", "{}"))
	mwExpect(t, recDown, 503, mw503)
	if rec9.Header().Get("Content-Length") != recDown.Header().Get("Content-Length") ||
		len(rec9.Header()) != len(recDown.Header()) {
		t.Fatalf("503 headers differ: %v %v", rec9.Header(), recDown.Header())
	}
	r.err = &hmacd.ServerError{Code: "internal"}
	mwExpect(t, mwServe(h, newReq("/containers/c1/exec", "{}")), 503, mw503)
	r.err = context.DeadlineExceeded
	mwExpect(t, mwServe(h, newReq("/containers/c1/exec", "{}")), 503, mw503)
	for _, want := range []string{
		"hmacd: 401 POST /containers/c1/exec: hmacd-v1 tenant acme container c1: REPLAY\n",
		"hmacd: 503 POST /containers/c1/exec: hmacd-v1 tenant acme container c1: " +
			"UNAVAILABLE\n",
		"hmacd: 503 POST /containers/c1/exec: hmacd-v1 tenant acme container c1: " +
			"daemon error internal\n",
	} {
		if !strings.Contains(logs.String(), want) {
			t.Fatalf("the log does not say %q: %s", want, logs.String())
		}
	}

	// A Log function of the user's gets the refusals instead.
	logs.Reset()
	var got []string
	h = mwApp(hmacd.MiddlewareConfig{Verifier: r, Log: func(r *http.Request, status int,
		reason string) {
		got = append(got, r.URL.Path+" "+http.StatusText(status)+": "+reason)
	}})
	req = newReq("/containers/c1/exec", "{}")
	req.Header.Del("Authorization")
	mwExpect(t, mwServe(h, req), 401, mw401)
	if len(got) != 1 || got[0] != "/containers/c1/exec Unauthorized: hmacd-v1: no single "+
		"Authorization header" || logs.Len() != 0 {
		t.Fatalf("Log got %q, the standard logger %q", got, logs.String())
	}
}

func TestMiddlewareConfigRequired(t *testing.T) {
	for name, cfg := range map[string]hmacd.MiddlewareConfig{
		"no Verifier":  {Container: containerOf},
		"no Container": {Verifier: &mwRecorder{}},
		"URIScheme":    {Verifier: &mwRecorder{}, Container: containerOf, URIScheme: "ftp"},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			hmacd.Middleware(cfg)
		}()
	}
}

// ---- against the real daemon ----

type mwFixture struct {
	d    *daemontest.Daemon
	rec  *mwRecorder
	srv  *httptest.Server
	v1   daemontest.Key // acme/c1, hmacd-v1
	rk   daemontest.Key // acme/c2, imported under a key id, for RFC 9421
	logs *bytes.Buffer
}

func mwSetup(t *testing.T, cfg hmacd.MiddlewareConfig) *mwFixture {
	f := &mwFixture{d: daemontest.Start(t), logs: captureLog(t)}
	c := newClient(t, f.d.Socket, nil)
	f.rec = &mwRecorder{next: c}
	cfg.Verifier = f.rec
	f.srv = httptest.NewServer(mwApp(cfg))
	t.Cleanup(f.srv.Close)
	f.v1 = f.d.CreateKey(t, "acme", "c1")
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	f.rk = f.d.ImportKey(t, "acme", "c2", "acme-c2-k1", secret)
	return f
}

const mwCmd = `{"cmd":["ls"]}`

// v1 is a POST to /containers/<to>/exec with mwCmd signed (hmacd-v1) for container signFor.
func (f *mwFixture) v1Req(t *testing.T, signFor, to string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+"/containers/"+signFor+"/exec", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	s := &hmacd.Signer{Tenant: f.v1.Tenant, Epoch: f.v1.Epoch, Secret: f.v1.Secret}
	err = s.Sign(req, signFor, []byte(mwCmd))
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Path = "/containers/" + to + "/exec"
	return req
}

// rfcReq is the same with an RFC 9421 signature (X-Tenant acme) made by s.
func (f *mwFixture) rfcReq(t *testing.T, s *hmacd.RFC9421Signer, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Tenant", "acme")
	err = s.Sign(req, []byte(mwCmd))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// check sends req and expects status and, when the daemon was asked, the verdict want (any
// with a 503: there is none); asked false: the middleware refused it by itself.
func (f *mwFixture) check(t *testing.T, what string, req *http.Request, status int,
	asked bool, want hmacd.Verdict) string {
	t.Helper()
	n0, _, _ := f.rec.last()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	n, _, got := f.rec.last()
	if resp.StatusCode != status {
		t.Fatalf("%s: %d %q, want %d", what, resp.StatusCode, body, status)
	}
	if status == 401 && (string(body) != mw401 ||
		resp.Header.Get("WWW-Authenticate") != "HMACD-V1") {
		t.Fatalf("%s: 401 with %q", what, body)
	}
	if !asked && n != n0 {
		t.Fatalf("%s: the daemon was asked", what)
	}
	if asked && (n != n0+1 || (status != 503 && got != want)) {
		t.Fatalf("%s: verdict %v (calls %d->%d), want %v", what, got, n0, n, want)
	}
	return string(body)
}

func TestMiddlewareEndToEnd(t *testing.T) {
	f := mwSetup(t, hmacd.MiddlewareConfig{})
	if body := f.check(t, "hmacd-v1", f.v1Req(t, "c1", "c1"), 200, true,
		hmacd.VerdictOK); body != "acme/c1:"+mwCmd {
		t.Fatalf("the handler saw %q", body)
	}
	f.check(t, "signed for c1, sent to c2", f.v1Req(t, "c1", "c2"), 401, true,
		hmacd.VerdictBadSignature)
	req := f.v1Req(t, "c1", "c1")
	req.Body = io.NopCloser(strings.NewReader(`{"cmd":["rm"]}`))
	f.check(t, "body tampered", req, 401, true, hmacd.VerdictBadSignature)
	req = f.v1Req(t, "c1", "c1")
	req.Header.Del("Authorization")
	f.check(t, "no Authorization", req, 401, false, 0)
	req = f.v1Req(t, "c1", "c1")
	req.Header.Del("Content-Type") // signed
	f.check(t, "signed header removed", req, 401, false, 0)
	req = f.v1Req(t, "c1", "c1")
	f.check(t, "first use", req, 200, true, hmacd.VerdictOK)
	again := f.v1Req(t, "c1", "c1")
	again.Header = req.Header.Clone()
	f.check(t, "replayed", again, 401, true, hmacd.VerdictReplay)

	k := f.rk
	s := &hmacd.RFC9421Signer{KeyID: k.KeyID, Secret: k.Secret}
	if body := f.check(t, "rfc9421", f.rfcReq(t, s, f.srv.URL+"/containers/c2/exec"), 200, true,
		hmacd.VerdictOK); body != "acme/c2:"+mwCmd {
		t.Fatalf("the handler saw %q", body)
	}
	req = f.rfcReq(t, s, f.srv.URL+"/containers/c2/exec")
	req.URL.Path = "/containers/c1/exec"
	f.check(t, "rfc9421 signed for c2, sent to c1", req, 401, true, hmacd.VerdictUnknownKey)
	req = f.rfcReq(t, s, f.srv.URL+"/containers/c2/exec")
	req.Body = io.NopCloser(strings.NewReader(`{"cmd":["rm"]}`))
	f.check(t, "rfc9421 body tampered", req, 401, true, hmacd.VerdictBadSignature)
	req = f.rfcReq(t, s, f.srv.URL+"/containers/c2/exec")
	req.Header.Del("X-Tenant")
	f.check(t, "rfc9421 without X-Tenant", req, 401, false, 0)

	for _, want := range []string{
		"hmacd: 401 POST /containers/c2/exec: hmacd-v1 tenant acme container c2: " +
			"BAD_SIGNATURE\n",
		"hmacd: 401 POST /containers/c1/exec: hmacd-v1 tenant acme container c1: REPLAY\n",
		"hmacd: 401 POST /containers/c1/exec: hmacd-v1 tenant acme container c1: hmacd: " +
			"signed header absent from the request: content-type\n",
		"hmacd: 401 POST /containers/c1/exec: rfc9421 tenant acme container c1: UNKNOWN_KEY\n",
	} {
		if !strings.Contains(f.logs.String(), want) {
			t.Fatalf("the log does not say %q: %s", want, f.logs.String())
		}
	}

	// The daemon down: 503, the handler never runs; back: 200.
	f.d.Stop(t)
	if body := f.check(t, "daemon down", f.v1Req(t, "c1", "c1"), 503, true, 0); body != mw503 {
		t.Fatalf("daemon down: %q", body)
	}
	f.d.Run(t)
	f.check(t, "daemon back", f.v1Req(t, "c1", "c1"), 200, true, hmacd.VerdictOK)
}
