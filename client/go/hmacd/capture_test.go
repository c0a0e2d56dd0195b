// capture_test.go - capture files (GuardConfig.CaptureDir): what a refused request writes,
// against the real hmacd (both schemes: the exact members, the redaction of uncovered
// headers, the body's digests and never its bytes, mode 0600), what writes nothing (an OK, a
// 401 decided before hmacd, a 503 with the daemon down or the verdict UNAVAILABLE), the bound
// CaptureMax, and the directories refused at start-up.

package hmacd_test

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/hmacd/hmacd/client/go/hmacd"
)

// captureDir is a fresh directory fit for captures (mode 0700, ours).
func captureDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// captures lists the capture files in dir, sorted.
func captures(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "hmacd-capture-*.json"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	return names
}

// readCapture checks a capture file's mode and that it does not hold the body, and returns
// its members, decoded.
func readCapture(t *testing.T, path string, body string) map[string]any {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: mode %v, want a regular file with 0600", path, fi.Mode())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte(body)) || bytes.Contains(data, []byte("rm -rf")) {
		t.Fatalf("%s holds the body: %s", path, data)
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("%s: %v: %s", path, err, data)
	}
	return m
}

func keysOf(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// headerOf is the value of the first header named name in a capture's headers, and whether
// there is one.
func headerOf(t *testing.T, m map[string]any, name string) (string, bool) {
	t.Helper()
	hs, ok := m["headers"].([]any)
	if !ok {
		t.Fatalf("headers: %T", m["headers"])
	}
	for _, h := range hs {
		pair, ok := h.([]any)
		if !ok || len(pair) != 2 {
			t.Fatalf("header %v", h)
		}
		n, _ := pair[0].(string)
		v, _ := pair[1].(string)
		if n != strings.ToLower(n) {
			t.Fatalf("header name %q not lower-case", n)
		}
		if n == name {
			return v, true
		}
	}
	return "", false
}

func checkDigests(t *testing.T, m map[string]any, body string) {
	t.Helper()
	d256, d512 := sha256.Sum256([]byte(body)), sha512.Sum512([]byte(body))
	if m["body_length"] != json.Number(strconv.Itoa(len(body))) || m["body_sha256"] != std64(d256[:]) ||
		m["body_sha512"] != std64(d512[:]) {
		t.Fatalf("body members %v %v %v", m["body_length"], m["body_sha256"],
			m["body_sha512"])
	}
}

func TestCaptureEndToEnd(t *testing.T) {
	dir := captureDir(t)
	f := mwSetup(t, hmacd.MiddlewareConfig{CaptureDir: dir})
	const body = `{"cmd":["rm -rf"]}`
	v1 := func(signFor, to string) *http.Request {
		req, err := http.NewRequest(http.MethodPost, f.srv.URL+"/containers/"+signFor+
			"/exec?tty=1", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Request-Id", "req-42")
		s := &hmacd.Signer{Tenant: f.v1.Tenant, Epoch: f.v1.Epoch, Secret: f.v1.Secret,
			SignedHeaders: []string{"host", "content-type", "x-request-id"}}
		if err := s.Sign(req, signFor, []byte(body)); err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Cookie", "session=s3cret")
		req.URL.Path = "/containers/" + to + "/exec"
		return req
	}

	// OK, and refusals before hmacd: nothing.
	f.check(t, "good", v1("c1", "c1"), 200, true, hmacd.VerdictOK)
	req := v1("c1", "c1")
	req.Header.Del("Authorization")
	f.check(t, "no Authorization", req, 401, false, 0)
	req = v1("c1", "c1")
	req.Header.Del("X-Request-Id")
	f.check(t, "signed header missing", req, 401, false, 0)
	if got := captures(t, dir); len(got) != 0 {
		t.Fatalf("captures for requests hmacd did not refuse: %v", got)
	}

	// hmacd-v1, BAD_SIGNATURE: one capture, exactly these members.
	f.check(t, "signed for c1, sent to c2", v1("c1", "c2"), 401, true,
		hmacd.VerdictBadSignature)
	got := captures(t, dir)
	if len(got) != 1 {
		t.Fatalf("captures: %v", got)
	}
	m := readCapture(t, got[0], body)
	want := []string{"authority", "body_length", "body_sha256", "body_sha512", "captured_at",
		"container", "headers", "hmacd_capture", "method", "path", "scheme", "tenant",
		"uri_scheme", "verdict"}
	if !reflect.DeepEqual(keysOf(m), want) {
		t.Fatalf("members %v, want %v", keysOf(m), want)
	}
	at, _ := m["captured_at"].(json.Number)
	if m["hmacd_capture"] != json.Number("1") || m["scheme"] != "hmacd-v1" ||
		m["tenant"] != "acme" || m["container"] != "c2" || m["method"] != "POST" ||
		m["uri_scheme"] != "http" || m["authority"] != strings.TrimPrefix(f.srv.URL,
		"http://") || m["path"] != "/containers/c2/exec?tty=1" ||
		m["verdict"] != "BAD_SIGNATURE" {
		t.Fatalf("capture %v", m)
	}
	name := regexp.MustCompile(`^hmacd-capture-` + at.String() + `-[0-9a-f]{16}\.json$`)
	if !name.MatchString(filepath.Base(got[0])) {
		t.Fatalf("name %s", got[0])
	}
	checkDigests(t, m, body)
	for name, wantV := range map[string]string{
		"cookie":         "[redacted]", // not signed
		"user-agent":     "[redacted]",
		"x-request-id":   "req-42", // signed
		"content-type":   "application/json",
		"host":           strings.TrimPrefix(f.srv.URL, "http://"),
		"content-length": "[redacted]",
	} {
		if v, ok := headerOf(t, m, name); !ok || v != wantV {
			t.Fatalf("header %s: %q %v, want %q", name, v, ok, wantV)
		}
	}
	if v, _ := headerOf(t, m, "authorization"); !strings.HasPrefix(v, "HMACD-V1 Tenant=acme") {
		t.Fatalf("authorization %q", v)
	}
	if !strings.Contains(f.logs.String(), "BAD_SIGNATURE; capture "+got[0]+"\n") {
		t.Fatalf("the log does not name the capture: %s", f.logs.String())
	}

	// rfc9421: the Signature-Input's headers are the covered ones.
	s := &hmacd.RFC9421Signer{KeyID: f.rk.KeyID, Secret: f.rk.Secret,
		Components: []string{"@method", "@authority", "@path", "content-digest", "x-tenant"}}
	req = f.rfcReq(t, s, f.srv.URL+"/containers/c2/exec")
	req.Header.Set("Cookie", "session=s3cret")
	req.Body = http.NoBody
	req.ContentLength = 0
	f.check(t, "rfc9421, body stripped", req, 401, true, hmacd.VerdictBadSignature)
	all := captures(t, dir)
	if len(all) != 2 {
		t.Fatalf("captures: %v", all)
	}
	var path string
	for _, p := range all {
		if p != got[0] {
			path = p
		}
	}
	m = readCapture(t, path, mwCmd)
	if !reflect.DeepEqual(keysOf(m), want) || m["scheme"] != "rfc9421" ||
		m["tenant"] != "acme" || m["container"] != "c2" || m["verdict"] != "BAD_SIGNATURE" {
		t.Fatalf("capture %v", m)
	}
	checkDigests(t, m, "")
	for name, wantV := range map[string]string{"cookie": "[redacted]", "x-tenant": "acme"} {
		if v, ok := headerOf(t, m, name); !ok || v != wantV {
			t.Fatalf("header %s: %q %v, want %q", name, v, ok, wantV)
		}
	}
	for _, name := range []string{"signature", "signature-input", "content-digest"} {
		if v, ok := headerOf(t, m, name); !ok || v == "[redacted]" || v != req.Header.Get(name) {
			t.Fatalf("header %s: %q", name, v)
		}
	}

	// The daemon down: 503, nothing written.
	f.d.Stop(t)
	f.check(t, "daemon down", v1("c1", "c2"), 503, true, 0)
	if n := len(captures(t, dir)); n != 2 {
		t.Fatalf("%d captures after a 503", n)
	}
}

func TestCaptureWithFakeVerifier(t *testing.T) {
	logs := captureLog(t)
	dir := captureDir(t)
	r := &mwRecorder{verdict: hmacd.VerdictUnavailable}
	h := mwApp(hmacd.MiddlewareConfig{Verifier: r, CaptureDir: dir, CaptureMax: 2,
		BodyLimit: 8})
	send := func(body string) int {
		req := httptest.NewRequest(http.MethodPost, "/containers/c1/exec",
			strings.NewReader(body))
		req.Header.Set("Authorization", mwAuth())
		return mwServe(h, req).Code
	}
	if send("{}") != 503 || send("123456789") != 413 || len(captures(t, dir)) != 0 {
		t.Fatal("a 503 (UNAVAILABLE) or a 413 wrote a capture")
	}
	r.verdict = hmacd.VerdictReplay
	for i := 0; i < 4; i++ {
		if send("{}") != 401 {
			t.Fatal("not 401")
		}
	}
	if n := len(captures(t, dir)); n != 2 {
		t.Fatalf("%d captures, CaptureMax 2: %s", n, logs.String())
	}
	if n := strings.Count(logs.String(), "no capture: "); n != 1 {
		t.Fatalf("the full directory was logged %d times: %s", n, logs.String())
	}
	// Another middleware on the same directory shares the count.
	h = mwApp(hmacd.MiddlewareConfig{Verifier: r, CaptureDir: dir})
	if send("{}") != 401 {
		t.Fatal("not 401")
	}
	if n := len(captures(t, dir)); n != 3 {
		t.Fatalf("%d captures, want 3 (the default CaptureMax, a shared count)", n)
	}

	// Captures already there count against CaptureMax in a process that starts.
	dir2 := captureDir(t)
	for _, n := range []string{"hmacd-capture-1-0000000000000000.json", "other.json"} {
		if err := os.WriteFile(filepath.Join(dir2, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	h = mwApp(hmacd.MiddlewareConfig{Verifier: r, CaptureDir: dir2, CaptureMax: 2})
	send("{}")
	send("{}")
	if n := len(captures(t, dir2)); n != 2 {
		t.Fatalf("%d captures, CaptureMax 2 with one there", n)
	}

	// The directory made unfit after start-up: the capture is skipped, the 401 the same.
	dir3 := captureDir(t)
	h = mwApp(hmacd.MiddlewareConfig{Verifier: r, CaptureDir: dir3})
	if err := os.Chmod(dir3, 0o777); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	if send("{}") != 401 || len(captures(t, dir3)) != 0 ||
		!strings.Contains(logs.String(), "REPLAY; capture not written: ") {
		t.Fatalf("an unfit directory: %v %s", captures(t, dir3), logs.String())
	}
}

func TestCaptureDirRefused(t *testing.T) {
	base := captureDir(t)
	open := filepath.Join(base, "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	group := filepath.Join(base, "group")
	if err := os.Mkdir(group, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(group, 0o770); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(captureDir(t), link); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{open, group, link, file, filepath.Join(base, "absent")} {
		_, err := hmacd.NewGuard(hmacd.GuardConfig{Verifier: &mwRecorder{}, CaptureDir: dir})
		if err == nil || !strings.Contains(err.Error(), dir) {
			t.Errorf("%s: %v", dir, err)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: Middleware did not panic", dir)
				}
			}()
			hmacd.Middleware(hmacd.MiddlewareConfig{Verifier: &mwRecorder{},
				Container: containerOf, CaptureDir: dir})
		}()
	}
	if _, err := hmacd.NewGuard(hmacd.GuardConfig{Verifier: &mwRecorder{},
		CaptureDir: base}); err != nil {
		t.Fatal(err)
	}
}

func std64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
