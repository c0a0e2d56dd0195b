// rfc9421_test.go - the RFC 9421 signer without a daemon: the RFC's own hmac-sha256 example
// (Appendix B.2.5) byte for byte, one expected line per derived component and field form (the
// same expectations as tests/unit/test_sigbase.c, so the Go signer and the daemon's base
// builder agree), the failures, ParseComponent, and a request signed by RFC9421Signer and
// received by a real net/http server whose base matches.

package hmacd_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hmacd/hmacd/client/go/hmacd"
)

// The RFC 9421 B.2 test request and the B.2.5 example (also in tests/unit/test_sigbase.c).
const (
	b2Date          = "Tue, 20 Apr 2021 02:07:55 GMT"
	b2ContentDigest = "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIi" +
		"Yllu7BNNyealdVLvRwEmTHWXvJwew==:"
	b2Body = `{"hello": "world"}`

	b25Input = `sig-b25=("date" "@authority" "content-type")` +
		`;created=1618884473;keyid="test-shared-secret"`
	b25Signature = "sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:"
	// RFC 9421 B.2.5, the signature base (the RFC wraps its last line per RFC 8792)
	b25Base = "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n" +
		"\"@authority\": example.com\n" +
		"\"content-type\": application/json\n" +
		"\"@signature-params\": (\"date\" \"@authority\" \"content-type\")" +
		";created=1618884473;keyid=\"test-shared-secret\""
	sharedSecretB64 = "uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6p" +
		"cl8jsasjlTMtDQ=="
)

// b2Request is the RFC's test request as a Go client request.
func b2Request(t *testing.T) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "https://example.com/foo?param=Value&Pet=dog",
		nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Date", b2Date)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Digest", b2ContentDigest)
	return req
}

func sharedSecret(t *testing.T) []byte {
	t.Helper()
	k, err := base64.StdEncoding.DecodeString(sharedSecretB64)
	if err != nil || len(k) != 64 {
		t.Fatalf("secret: %d bytes, %v", len(k), err)
	}
	return k
}

// b2View is the B.2 request as the daemon's unit test describes it.
func b2View() *hmacd.RFC9421Request {
	return &hmacd.RFC9421Request{
		Method:    "POST",
		Authority: "example.com",
		Path:      "/foo?param=Value&Pet=dog",
		Scheme:    "https",
		Headers: []hmacd.Header{
			{Name: "host", Value: "example.com"},
			{Name: "date", Value: b2Date},
			{Name: "content-type", Value: "application/json"},
			{Name: "content-digest", Value: b2ContentDigest},
			{Name: "content-length", Value: "18"},
		},
	}
}

func TestRFCB25(t *testing.T) {
	// The base from the RFC's Signature-Input, and its MAC under the RFC's secret.
	base, err := hmacd.SignatureBase(b2View(), b25Input, "sig-b25")
	if err != nil {
		t.Fatal(err)
	}
	if string(base) != b25Base {
		t.Fatalf("base:\n%s\nwant:\n%s", base, b25Base)
	}
	m := hmac.New(sha256.New, sharedSecret(t))
	m.Write(base)
	if got := "sig-b25=:" + base64.StdEncoding.EncodeToString(m.Sum(nil)) + ":"; got != b25Signature {
		t.Fatalf("signature %s, want %s", got, b25Signature)
	}

	// The signer, on the RFC's request, writes exactly the RFC's two fields.
	req := b2Request(t)
	s := hmacd.RFC9421Signer{
		KeyID:      "test-shared-secret",
		Secret:     sharedSecret(t),
		Components: []string{"date", "@authority", "content-type"},
		Label:      "sig-b25",
		Now:        func() time.Time { return time.Unix(1618884473, 0) },
		Nonce:      func() (string, error) { return "", nil },
	}
	err = s.Sign(req, []byte(b2Body))
	if err != nil {
		t.Fatal(err)
	}
	if got := req.Header.Values("Signature-Input"); len(got) != 1 || got[0] != b25Input {
		t.Fatalf("Signature-Input %q, want %q", got, b25Input)
	}
	if got := req.Header.Values("Signature"); len(got) != 1 || got[0] != b25Signature {
		t.Fatalf("Signature %q, want %q", got, b25Signature)
	}
	// content-digest is not covered: the request's own (sha-512) field is left alone
	if got := req.Header.Get("Content-Digest"); got != b2ContentDigest {
		t.Fatalf("Content-Digest changed to %q", got)
	}
	if req.ContentLength != 18 {
		t.Fatalf("ContentLength %d", req.ContentLength)
	}
	// and the client-side view of the request gives the same base
	base, err = hmacd.SignatureBase(hmacd.ClientRequest(req, []byte(b2Body)), b25Input, "")
	if err != nil || string(base) != b25Base {
		t.Fatalf("client view base %q, %v", base, err)
	}
}

// expectLine checks the base of a signature covering one component.
func expectLine(t *testing.T, r *hmacd.RFC9421Request, component, line string) {
	t.Helper()
	base, err := hmacd.SignatureBase(r, "s=("+component+")", "")
	if err != nil {
		t.Fatalf("%s: %v", component, err)
	}
	want := line + "\n\"@signature-params\": (" + component + ")"
	if string(base) != want {
		t.Fatalf("%s:\n got: %s\nwant: %s", component, base, want)
	}
}

func expectFail(t *testing.T, r *hmacd.RFC9421Request, input string, want error) {
	t.Helper()
	base, err := hmacd.SignatureBase(r, input, "")
	if !errors.Is(err, want) || base != nil {
		t.Fatalf("%s: %q, %v; want %v", input, base, err, want)
	}
}

func TestDerivedComponents(t *testing.T) {
	r := b2View()
	expectLine(t, r, `"@method"`, `"@method": POST`)
	expectLine(t, r, `"@target-uri"`, `"@target-uri": https://example.com/foo?param=Value&Pet=dog`)
	expectLine(t, r, `"@authority"`, `"@authority": example.com`)
	expectLine(t, r, `"@scheme"`, `"@scheme": https`)
	expectLine(t, r, `"@request-target"`, `"@request-target": /foo?param=Value&Pet=dog`)
	expectLine(t, r, `"@path"`, `"@path": /foo`)
	expectLine(t, r, `"@query"`, `"@query": ?param=Value&Pet=dog`)
	expectLine(t, r, `"@query-param";name="Pet"`, `"@query-param";name="Pet": dog`)
	expectLine(t, r, `"@query-param";name="param"`, `"@query-param";name="param": Value`)

	// method case is kept; scheme defaults to https; http is lower-cased
	r.Method = "get"
	r.Scheme = ""
	expectLine(t, r, `"@method"`, `"@method": get`)
	expectLine(t, r, `"@scheme"`, `"@scheme": https`)
	r.Scheme = "HTTP"
	expectLine(t, r, `"@scheme"`, `"@scheme": http`)

	// @authority: case, default and empty ports, IPv6 literals
	r.Authority = "Example.COM:80"
	expectLine(t, r, `"@authority"`, `"@authority": example.com`)
	expectLine(t, r, `"@target-uri"`, `"@target-uri": http://example.com/foo?param=Value&Pet=dog`)
	r.Authority = "example.com:443"
	expectLine(t, r, `"@authority"`, `"@authority": example.com:443`)
	r.Scheme = "https"
	expectLine(t, r, `"@authority"`, `"@authority": example.com`)
	r.Authority = "example.com:"
	expectLine(t, r, `"@authority"`, `"@authority": example.com`)
	r.Authority = "example.com:8443"
	expectLine(t, r, `"@authority"`, `"@authority": example.com:8443`)
	r.Authority = "[::1]:443"
	expectLine(t, r, `"@authority"`, `"@authority": [::1]`)
	r.Authority = "[::1]"
	expectLine(t, r, `"@authority"`, `"@authority": [::1]`)

	// no query: @query is "?" alone; @path stays encoded
	r.Path = "/a%2Fb/c"
	expectLine(t, r, `"@query"`, `"@query": ?`)
	expectLine(t, r, `"@path"`, `"@path": /a%2Fb/c`)
	r.Path = "/x?"
	expectLine(t, r, `"@query"`, `"@query": ?`)
	expectLine(t, r, `"@path"`, `"@path": /x`)
}

func TestQueryParam(t *testing.T) {
	r := b2View()
	// RFC 9421 2.2.8's example
	r.Path = "/parameters?var=this%20is%20a%20big%0Avalue&bar=with+plus+whitespace" +
		"&fa%C3%A7ade%22%3A%20=something"
	expectLine(t, r, `"@query-param";name="var"`,
		`"@query-param";name="var": this%20is%20a%20big%0Avalue`)
	expectLine(t, r, `"@query-param";name="bar"`,
		`"@query-param";name="bar": with%20plus%20whitespace`)
	expectLine(t, r, `"@query-param";name="fa%C3%A7ade%22%3A%20"`,
		`"@query-param";name="fa%C3%A7ade%22%3A%20": something`)

	r.Path = "/p?&a=&b&&c=x%2a%7e-._!'()~%zz%4"
	expectLine(t, r, `"@query-param";name="a"`, `"@query-param";name="a": `)
	expectLine(t, r, `"@query-param";name="b"`, `"@query-param";name="b": `)
	expectLine(t, r, `"@query-param";name="c"`,
		`"@query-param";name="c": x*%7E-._%21%27%28%29%7E%25zz%254`)
	r.Path = "/p?k=a=b"
	expectLine(t, r, `"@query-param";name="k"`, `"@query-param";name="k": a%3Db`)
	r.Path = "/p?a=1&A=2"
	expectLine(t, r, `"@query-param";name="a"`, `"@query-param";name="a": 1`)
	r.Path = "/p?a=%F0%9F%98%80"
	expectLine(t, r, `"@query-param";name="a"`, `"@query-param";name="a": %F0%9F%98%80`)

	for _, c := range []struct{ path, input string }{
		{"/p?a=1&a=2", `s=("@query-param";name="a")`}, // repeated
		{"/p?a=1", `s=("@query-param";name="b")`},
		{"/p?a=1", `s=("@query-param";name="a%3D")`},
		{"/p", `s=("@query-param";name="a")`},
		{"/p?a=%FF", `s=("@query-param";name="a")`},             // not UTF-8
		{"/p?a=%C3%A7%ED%A0%80", `s=("@query-param";name="a")`}, // a surrogate
		{"/p?a=1", `s=("@query-param")`},
		{"/p?a=1", `s=("@query-param";name=a)`},
	} {
		r.Path = c.path
		expectFail(t, r, c.input, hmacd.ErrSignatureBase)
	}
}

func TestFields(t *testing.T) {
	r := &hmacd.RFC9421Request{Method: "GET", Authority: "example.com", Path: "/",
		Headers: []hmacd.Header{
			{Name: "accept", Value: "  application/json \t"},
			{Name: "x-empty", Value: ""},
			{Name: "Accept", Value: "*/*"},
			{Name: "example-header", Value: "value, with, lots"},
			{Name: "example-header", Value: "of, commas"},
			{Name: "example-dict", Value: " a=1, b=2;x=1;y=2, c=(a   b    c), d"},
			{Name: "signature-input", Value: `a=( "x"  "y" );created=1`},
			{Name: "priority", Value: "u=1"},
			{Name: "priority", Value: " i , u=2"},
			{Name: "content-digest", Value: "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE:"},
		}}
	expectLine(t, r, `"accept"`, `"accept": application/json, */*`)
	expectLine(t, r, `"x-empty"`, `"x-empty": `)
	expectLine(t, r, `"example-header"`, `"example-header": value, with, lots, of, commas`)
	expectLine(t, r, `"example-header";bs`,
		`"example-header";bs: :dmFsdWUsIHdpdGgsIGxvdHM=:, :b2YsIGNvbW1hcw==:`)
	expectLine(t, r, `"x-empty";bs`, `"x-empty";bs: ::`)
	expectLine(t, r, `"example-dict";key="a"`, `"example-dict";key="a": 1`)
	expectLine(t, r, `"example-dict";key="d"`, `"example-dict";key="d": ?1`)
	expectLine(t, r, `"example-dict";key="b"`, `"example-dict";key="b": 2;x=1;y=2`)
	expectLine(t, r, `"example-dict";key="c"`, `"example-dict";key="c": (a b c)`)
	expectLine(t, r, `"signature-input";sf`, `"signature-input";sf: a=("x" "y");created=1`)
	expectLine(t, r, `"priority";sf`, `"priority";sf: u=2, i`)
	expectLine(t, r, `"priority";key="u"`, `"priority";key="u": 2`)
	// a Byte Sequence without its padding is serialized with it
	expectLine(t, r, `"content-digest";sf`,
		`"content-digest";sf: sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:`)
	base, err := hmacd.SignatureBase(r, `s=("accept" "accept";bs)`, "")
	want := "\"accept\": application/json, */*\n" +
		"\"accept\";bs: :YXBwbGljYXRpb24vanNvbg==:, :Ki8q:\n" +
		"\"@signature-params\": (\"accept\" \"accept\";bs)"
	if err != nil || string(base) != want {
		t.Fatalf("two forms of one field: %q, %v", base, err)
	}

	expectFail(t, r, `s=("x-missing")`, hmacd.ErrMissingHeader)
	expectFail(t, r, `s=("content-type";bs)`, hmacd.ErrMissingHeader)
	for _, in := range []string{
		`s=("example-dict";sf)`, // not a registered structured field
		`s=("example-dict";key="z")`,
		`s=("accept";key="a")`,
		`s=("example-dict";key="a";bs)`,
		`s=("signature-input";sf;bs)`,
		`s=("accept";name="a")`,
		`s=("accept";req)`,
		`s=("accept";tr)`,
		`s=("accept";sf=?0)`,
		`s=("Accept")`,
		`s=("acc ept")`,
		`s=(accept)`,
		`s=("")`,
	} {
		expectFail(t, r, in, hmacd.ErrSignatureBase)
	}
}

func TestBaseFailures(t *testing.T) {
	r := b2View()
	for _, in := range []string{
		`s=("@method" "@method")`,
		`s=("date" "@path" "date")`,
		`s=("@query-param";name="Pet" "@query-param";name="Pet")`,
		`s=("@foo")`,
		`s=("@Method")`,
		`s=("@status")`,
		`s=("@signature-params")`,
		`s=("@method";sf)`,
		`s=("@path";name="x")`,
		`s=("@method");created="1"`,
		`s=("@method");keyid=k`,
		`s="@method"`,
		`a=("@method"), b=("@path")`, // two signatures, no label
		`s=("@method"`,
		``,
	} {
		expectFail(t, r, in, hmacd.ErrSignatureBase)
	}
	// an empty inner list is legal; other parameters are covered as they are
	base, err := hmacd.SignatureBase(r, `s=();created=1;alg="hmac-sha256";x=?0`, "")
	if err != nil || string(base) != `"@signature-params": ();created=1;alg="hmac-sha256";x=?0` {
		t.Fatalf("%q, %v", base, err)
	}
	// a label picks one of several
	base, err = hmacd.SignatureBase(r, `a=("@method"), b=("@path")`, "b")
	if err != nil || string(base) != "\"@path\": /foo\n\"@signature-params\": (\"@path\")" {
		t.Fatalf("%q, %v", base, err)
	}
	_, err = hmacd.SignatureBase(r, `a=("@method")`, "c")
	if !errors.Is(err, hmacd.ErrSignatureBase) {
		t.Fatalf("absent label: %v", err)
	}
	r.Headers = []hmacd.Header{{Name: "date", Value: "a\nb"}}
	expectFail(t, r, `s=("@method")`, hmacd.ErrSignatureBase)
	r = b2View()
	r.Path = "foo"
	expectFail(t, r, `s=("@method")`, hmacd.ErrSignatureBase)
	r = b2View()
	r.Scheme = "ftp"
	expectFail(t, r, `s=("@method")`, hmacd.ErrSignatureBase)
}

func TestParseComponent(t *testing.T) {
	for in, want := range map[string]string{
		"@method":                  `"@method"`,
		`"@method"`:                `"@method"`,
		"content-digest":           `"content-digest"`,
		"content-digest;sf":        `"content-digest";sf`,
		"@query-param;name=id":     `"@query-param";name="id"`,
		`@query-param;name="id"`:   `"@query-param";name="id"`,
		`"@query-param";name="id"`: `"@query-param";name="id"`,
		`example-dict;key="a"`:     `"example-dict";key="a"`,
		"example-dict;key=a":       `"example-dict";key="a"`,
		"x-tenant;bs":              `"x-tenant";bs`,
	} {
		got, err := hmacd.ParseComponent(in)
		if err != nil || got != want {
			t.Errorf("ParseComponent(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "@foo", "@status", "Content-Type", "x-a;sf", "x-a;bs;sf",
		"@path;name=x", "@query-param", "x-a;req", "x-a;KEY=a", `"x-a`, `"x-a";`, "x-a;sf=?0"} {
		if got, err := hmacd.ParseComponent(in); !errors.Is(err, hmacd.ErrSignatureBase) {
			t.Errorf("ParseComponent(%q) = %q, %v; want an error", in, got, err)
		}
	}
}

func TestContentDigest(t *testing.T) {
	// RFC 9530's example body
	if got := hmacd.ContentDigest([]byte(b2Body)); got !=
		"sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:" {
		t.Fatal(got)
	}
}

var sigInputRE = regexp.MustCompile(`^sig1=\("@method" "@authority" "@path" "@query" ` +
	`"content-digest"\);created=(\d+);nonce="([0-9a-f]{32})";keyid="k-1"$`)

// A request signed with the defaults and received by a real net/http server: the server's
// view (ServerRequest, as the middleware builds it) gives the base the signer MACed.
func TestSignerRoundTrip(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, 32)
	type seen struct {
		base []byte
		it   hmacd.Item
		err  error
	}
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		it, err := hmacd.RequestItemRFC9421(r, "acme", "c1", body)
		var base []byte
		if err == nil {
			it.URIScheme = "http"
			base, err = hmacd.SignatureBase(it.RFC9421Request(), it.SignatureInput, it.Label)
		}
		got <- seen{base, it, err}
	}))
	defer srv.Close()

	s := hmacd.RFC9421Signer{KeyID: "k-1", Secret: secret}
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/containers/c1/exec?tty=1&x=a%20b", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Add("X-Multi", "one")
	req.Header.Add("X-Multi", "two")
	before := time.Now().Unix()
	err = s.Sign(req, []byte(b2Body))
	if err != nil {
		t.Fatal(err)
	}
	in := req.Header.Get("Signature-Input")
	m := sigInputRE.FindStringSubmatch(in)
	if m == nil {
		t.Fatalf("Signature-Input %q", in)
	}
	created, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || created < before || created > time.Now().Unix() {
		t.Fatalf("created %s, signed at %d", m[1], before)
	}
	if req.Header.Get("Content-Digest") != hmacd.ContentDigest([]byte(b2Body)) {
		t.Fatalf("Content-Digest %q", req.Header.Get("Content-Digest"))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sv := <-got
	if sv.err != nil {
		t.Fatal(sv.err)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(sv.base)
	wantSig := "sig1=:" + base64.StdEncoding.EncodeToString(mac.Sum(nil)) + ":"
	if sv.it.Signature != wantSig {
		t.Fatalf("Signature %q, the server's base gives %q:\n%s", sv.it.Signature, wantSig,
			sv.base)
	}
	if !strings.HasPrefix(string(sv.base), "\"@method\": POST\n\"@authority\": 127.0.0.1:") ||
		!strings.Contains(string(sv.base), "\n\"@path\": /containers/c1/exec\n"+
			"\"@query\": ?tty=1&x=a%20b\n") {
		t.Fatalf("base %s", sv.base)
	}
	it := sv.it
	if it.Scheme != hmacd.SchemeRFC9421 || it.Tenant != "acme" || it.Container != "c1" ||
		it.Method != "POST" || it.Path != "/containers/c1/exec?tty=1&x=a%20b" ||
		string(it.Body) != b2Body || it.Authority != strings.TrimPrefix(srv.URL, "http://") {
		t.Fatalf("item %+v", it)
	}
	// every header, "host" first, names lower-case, repeats in order
	var multi []string
	names := map[string]bool{}
	for _, h := range it.Headers {
		names[h.Name] = true
		if h.Name == "x-multi" {
			multi = append(multi, h.Value)
		}
		if h.Name != strings.ToLower(h.Name) {
			t.Fatalf("header name %q", h.Name)
		}
	}
	if it.Headers[0].Name != "host" || strings.Join(multi, ",") != "one,two" {
		t.Fatalf("headers %v", it.Headers)
	}
	for _, n := range []string{"content-type", "content-digest", "content-length",
		"signature-input", "signature", "user-agent"} {
		if !names[n] {
			t.Fatalf("header %s not in the item: %v", n, it.Headers)
		}
	}
}

// The default components (issue 10, finding 5): @query is covered whenever the target has a
// query, after @path, so the query cannot be rewritten in transit; content-digest with a body.
// An explicit list is used as given.
func TestSignerDefaultComponents(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, 32)
	for _, c := range []struct {
		url, body, covered, query string
	}{
		{"http://h.example/containers/c1/exec?force=true", `{"dry_run":true}`,
			`"@method" "@authority" "@path" "@query" "content-digest"`, "?force=true"},
		{"http://h.example/containers/c1/exec?force=true", "",
			`"@method" "@authority" "@path" "@query"`, "?force=true"},
		{"http://h.example/containers/c1/exec?", "", `"@method" "@authority" "@path" "@query"`,
			"?"},
		{"http://h.example/containers/c1/exec", `{"dry_run":true}`,
			`"@method" "@authority" "@path" "content-digest"`, ""},
		{"http://h.example/", "", `"@method" "@authority" "@path"`, ""},
	} {
		req, err := http.NewRequest(http.MethodPost, c.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		s := hmacd.RFC9421Signer{KeyID: "k", Secret: secret, NoCreated: true,
			Nonce: func() (string, error) { return "", nil }}
		err = s.Sign(req, []byte(c.body))
		if err != nil {
			t.Fatalf("%s: %v", c.url, err)
		}
		in := req.Header.Get("Signature-Input")
		if in != `sig1=(`+c.covered+`);keyid="k"` {
			t.Errorf("%s, body %q: Signature-Input %s", c.url, c.body, in)
		}
		base, err := hmacd.SignatureBase(hmacd.ClientRequest(req, []byte(c.body)), in, "")
		if err != nil {
			t.Fatalf("%s: %v", c.url, err)
		}
		hasQuery := strings.Contains(string(base), "\n\"@query\": "+c.query+"\n")
		if hasQuery != (c.query != "") {
			t.Errorf("%s: base\n%s", c.url, base)
		}
	}
	if got := strings.Join(hmacd.DefaultComponents(true, true), " "); got !=
		"@method @authority @path @query content-digest" {
		t.Errorf("DefaultComponents(true, true): %s", got)
	}

	// An explicit list is kept as given, query or not.
	req, err := http.NewRequest(http.MethodGet, "http://h.example/a?force=true", nil)
	if err != nil {
		t.Fatal(err)
	}
	s := hmacd.RFC9421Signer{KeyID: "k", Secret: secret, NoCreated: true,
		Nonce:      func() (string, error) { return "", nil },
		Components: []string{"@path", "@method"}}
	err = s.Sign(req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := req.Header.Get("Signature-Input"); got != `sig1=("@path" "@method");keyid="k"` {
		t.Errorf("explicit components: Signature-Input %s", got)
	}
}

func TestSignerOptions(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, 32)
	now := func() time.Time { return time.Unix(1700000000, 0) }
	newReq := func() *http.Request {
		req, err := http.NewRequest(http.MethodGet, "http://h.example:8080/a?id=7", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Tenant", "acme")
		return req
	}
	s := hmacd.RFC9421Signer{KeyID: "k", Secret: secret, Now: now, Label: "my-sig",
		Tag: "app", Alg: true, Expires: time.Minute,
		Components: []string{"@method", "@target-uri", "@query-param;name=id", "x-tenant"},
		Nonce:      func() (string, error) { return "n1", nil }}
	req := newReq()
	err := s.Sign(req, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantIn := `my-sig=("@method" "@target-uri" "@query-param";name="id" "x-tenant")` +
		`;created=1700000000;expires=1700000060;nonce="n1";alg="hmac-sha256";keyid="k";tag="app"`
	if got := req.Header.Get("Signature-Input"); got != wantIn {
		t.Fatalf("Signature-Input %q\nwant %q", got, wantIn)
	}
	if req.Header.Get("Content-Digest") != "" || req.ContentLength != 0 {
		t.Fatal("Content-Digest or a body without a body")
	}
	base, err := hmacd.SignatureBase(hmacd.ClientRequest(req, nil), wantIn, "my-sig")
	if err != nil {
		t.Fatal(err)
	}
	wantBase := "\"@method\": GET\n" +
		"\"@target-uri\": http://h.example:8080/a?id=7\n" +
		"\"@query-param\";name=\"id\": 7\n" +
		"\"x-tenant\": acme\n" +
		"\"@signature-params\": " + strings.TrimPrefix(wantIn, "my-sig=")
	if string(base) != wantBase {
		t.Fatalf("base:\n%s\nwant:\n%s", base, wantBase)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(base)
	if got := req.Header.Get("Signature"); got !=
		"my-sig=:"+base64.StdEncoding.EncodeToString(mac.Sum(nil))+":" {
		t.Fatalf("Signature %q", got)
	}

	// the defaults without a body: no content-digest; NoCreated and an empty nonce
	s = hmacd.RFC9421Signer{KeyID: "k", Secret: secret, NoCreated: true,
		Nonce: func() (string, error) { return "", nil }}
	req = newReq()
	err = s.Sign(req, []byte{})
	if err != nil {
		t.Fatal(err)
	}
	if got := req.Header.Get("Signature-Input"); got !=
		`sig1=("@method" "@authority" "@path" "@query");keyid="k"` {
		t.Fatalf("Signature-Input %q", got)
	}

	// refusals
	for _, c := range []struct {
		s    hmacd.RFC9421Signer
		want error
	}{
		{hmacd.RFC9421Signer{KeyID: "k", Secret: secret[:15]}, hmacd.ErrBadSecret},
		{hmacd.RFC9421Signer{Secret: secret}, hmacd.ErrMalformed},
		{hmacd.RFC9421Signer{KeyID: "k\n", Secret: secret}, hmacd.ErrMalformed},
		{hmacd.RFC9421Signer{KeyID: "k", Secret: secret, Label: "Sig"}, hmacd.ErrMalformed},
		{hmacd.RFC9421Signer{KeyID: "k", Secret: secret, Tag: "é"}, hmacd.ErrMalformed},
		{hmacd.RFC9421Signer{KeyID: "k", Secret: secret,
			Nonce: func() (string, error) { return "a\"\x01", nil }}, hmacd.ErrMalformed},
		{hmacd.RFC9421Signer{KeyID: "k", Secret: secret,
			Components: make([]string, hmacd.MaxComponents+1)}, hmacd.ErrMalformed},
		{hmacd.RFC9421Signer{KeyID: "k", Secret: secret,
			Components: []string{"@method", "@method"}}, hmacd.ErrSignatureBase},
		{hmacd.RFC9421Signer{KeyID: "k", Secret: secret,
			Components: []string{"@status"}}, hmacd.ErrSignatureBase},
		{hmacd.RFC9421Signer{KeyID: "k", Secret: secret,
			Components: []string{"x-absent"}}, hmacd.ErrMissingHeader},
		{hmacd.RFC9421Signer{KeyID: "k", Secret: secret,
			Components: []string{"@query-param;name=nope"}}, hmacd.ErrSignatureBase},
	} {
		req = newReq()
		err = c.s.Sign(req, nil)
		if !errors.Is(err, c.want) {
			t.Errorf("%+v: %v, want %v", c.s, err, c.want)
		}
		if req.Header.Get("Signature") != "" {
			t.Errorf("%+v: signed anyway", c.s)
		}
	}
}
