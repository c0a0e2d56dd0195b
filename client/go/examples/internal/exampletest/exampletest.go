// Package exampletest checks a Go example app against the contract every example app of
// hmacd keeps (README.md, "Example apps"), through a real HTTP server, the Go signers and the
// real hmacd (skipped unless $HMACD and $HMACCTL are set). tests/e2e/examples.sh checks the
// built apps the same way from outside, with another language's signer.
package exampletest

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/hmacd/hmacd/client/go/examples/internal/execapi"
	"github.com/hmacd/hmacd/client/go/hmacd"
	"github.com/hmacd/hmacd/client/go/internal/daemontest"
)

// Contract serves the app newApp builds around a client of a fresh hmacd and checks every
// response of the contract. logs returns what the app logged so far: each 401's reason
// (the verdict's name) must be in it, and never in a response.
func Contract(t *testing.T, newApp func(v hmacd.Verifier) http.Handler, logs func() string) {
	d := daemontest.Start(t)
	k1 := d.CreateKey(t, "acme", "web-01")
	d.CreateKey(t, "acme", "web-02")
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	rk := d.ImportKey(t, "acme", "web-03", "acme-web-03-k1", secret)
	client, err := hmacd.New(d.Socket, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	srv := httptest.NewServer(newApp(client))
	defer srv.Close()

	type response struct {
		status int
		body   string
		header http.Header
	}
	do := func(req *http.Request) response {
		t.Helper()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return response{resp.StatusCode, string(b), resp.Header}
	}
	// v1 signs body for container signFor and sends it to container sendTo.
	v1 := func(signFor, sendTo, body string) *http.Request {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/containers/"+signFor+"/exec", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		s := &hmacd.Signer{Tenant: k1.Tenant, Epoch: k1.Epoch, Secret: k1.Secret}
		if err := s.Sign(req, signFor, []byte(body)); err != nil {
			t.Fatal(err)
		}
		req.URL.Path = "/containers/" + sendTo + "/exec"
		return req
	}
	expect := func(what string, r response, status int, body string) {
		t.Helper()
		if r.status != status || r.body != body {
			t.Fatalf("%s: %d %s, want %d %s", what, r.status, r.body, status, body)
		}
		if status >= 400 && !strings.HasPrefix(r.header.Get("Content-Type"),
			"application/json") {
			t.Fatalf("%s: Content-Type %q", what, r.header.Get("Content-Type"))
		}
		if status == 401 && r.header.Get("WWW-Authenticate") != "HMACD-V1" {
			t.Fatalf("%s: 401 without WWW-Authenticate: HMACD-V1", what)
		}
	}
	expectResult := func(what string, r response, want execapi.Result) {
		t.Helper()
		var got map[string]interface{}
		if r.status != 200 || json.Unmarshal([]byte(r.body), &got) != nil {
			t.Fatalf("%s: %d %s", what, r.status, r.body)
		}
		wantJSON, _ := json.Marshal(want)
		var wantMap map[string]interface{}
		_ = json.Unmarshal(wantJSON, &wantMap)
		if !reflect.DeepEqual(got, wantMap) {
			t.Fatalf("%s: %s, want %s", what, r.body, wantJSON)
		}
	}
	const (
		s400 = `{"error":"bad_request"}`
		s401 = `{"error":"unauthorized"}`
		s413 = `{"error":"too_large"}`
		s503 = `{"error":"unavailable"}`
	)

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/healthz", nil)
	r := do(req)
	if r.status != 200 || strings.TrimSpace(r.body) != `{"ok":true}` {
		t.Fatalf("GET /healthz: %d %s", r.status, r.body)
	}

	expectResult("hmacd-v1", do(v1("web-01", "web-01", `{"cmd":["ls","-l"]}`)),
		execapi.Result{Tenant: "acme", Container: "web-01", Cmd: []string{"ls", "-l"}})
	expectResult("hmacd-v1 with tty", do(v1("web-01", "web-01", `{"cmd":["sh"],"tty":true}`)),
		execapi.Result{Tenant: "acme", Container: "web-01", Cmd: []string{"sh"}, Tty: true})

	req, _ = http.NewRequest(http.MethodPost, srv.URL+"/containers/web-03/exec", nil)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Tenant", "acme")
	rs := &hmacd.RFC9421Signer{KeyID: rk.KeyID, Secret: rk.Secret}
	if err := rs.Sign(req, []byte(`{"cmd":["ps"]}`)); err != nil {
		t.Fatal(err)
	}
	expectResult("rfc9421", do(req), execapi.Result{Tenant: "acme", Container: "web-03",
		Cmd: []string{"ps"}})

	r = do(v1("web-01", "web-02", `{"cmd":["ls"]}`))
	expect("signed for web-01, sent to web-02", r, 401, s401)
	if !strings.Contains(logs(), "BAD_SIGNATURE") {
		t.Fatalf("the app's log does not give the 401's reason: %s", logs())
	}
	req = v1("web-01", "web-01", `{"cmd":["ls"]}`)
	req.Body = io.NopCloser(strings.NewReader(`{"cmd":["rm"]}`))
	expect("body tampered", do(req), 401, s401)
	req = v1("web-01", "web-01", `{"cmd":["ls"]}`)
	req.Header.Del("Authorization")
	expect("unsigned", do(req), 401, s401)
	req = v1("web-01", "web-01", `{"cmd":["ls"]}`)
	expectResult("first use", do(req), execapi.Result{Tenant: "acme", Container: "web-01",
		Cmd: []string{"ls"}})
	again := v1("web-01", "web-01", `{"cmd":["ls"]}`)
	again.Header = req.Header.Clone()
	expect("replayed", do(again), 401, s401)
	if !strings.Contains(logs(), "REPLAY") {
		t.Fatalf("the app's log does not give the replay's reason: %s", logs())
	}

	for _, body := range []string{
		`{"cmd":["ls"],"container":"web-02"}`, `{"cmd":"ls"}`, `{"cmd":[]}`, `not json`,
		`{"cmd":["ls"],"tty":"yes"}`, `{"cmd":["ls"],"cmd":["rm"]}`,
	} {
		expect("body "+body, do(v1("web-01", "web-01", body)), 400, s400)
	}
	big := `{"cmd":["` + strings.Repeat("x", execapi.MaxBody) + `"]}`
	expect("body over 64 KiB", do(v1("web-01", "web-01", big)), 413, s413)

	d.Stop(t)
	expect("hmacd down", do(v1("web-01", "web-01", `{"cmd":["ls"]}`)), 503, s503)
	req, _ = http.NewRequest(http.MethodGet, srv.URL+"/healthz", nil)
	if r = do(req); r.status != 200 {
		t.Fatalf("GET /healthz with hmacd down: %d", r.status)
	}
}

// SyncBuffer is a bytes.Buffer for loggers that the server's goroutines write to.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
