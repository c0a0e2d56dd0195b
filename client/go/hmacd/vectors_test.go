// vectors_test.go - the shared test vectors proto/vectors/hmacd-v1.json (format:
// proto/vectors/README.md): the signer and the canonical string byte for byte, the
// Authorization header both ways, the server side of the HTTP convention through Go's real
// HTTP server, and, with a daemon, every vector re-signed with real keys.

package hmacd_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hmacd/hmacd/client/go/hmacd"
	"github.com/hmacd/hmacd/client/go/internal/daemontest"
)

type vecItem struct {
	Name       string          `json:"name"`
	Tenant     string          `json:"tenant"`
	Container  string          `json:"container"`
	Epoch      uint64          `json:"epoch"`
	Method     string          `json:"method"`
	Path       string          `json:"path"`
	Ts         uint64          `json:"ts"`
	Nonce      string          `json:"nonce"`
	Headers    [][]string      `json:"headers"`
	BodyB64    string          `json:"body_b64"`
	SigB64     string          `json:"sig_b64"`
	SigHex     string          `json:"sig_hex"`
	SecretB64  string          `json:"secret_b64"`
	BodySHA256 string          `json:"body_sha256"`
	Canonical  string          `json:"canonical"`
	Auth       string          `json:"authorization"`
	HTTP       bool            `json:"http"`
	BigInts    bool            `json:"big_ints"`
	Base       string          `json:"base"`
	Changed    string          `json:"changed"`
	Expected   string          `json:"expected"`
	Kind       string          `json:"kind"`
	Field      string          `json:"field"`
	Wire       json.RawMessage `json:"wire"`
}

type vecAuth struct {
	Name   string `json:"name"`
	Header string `json:"header"`
	Parsed *struct {
		Tenant        string   `json:"tenant"`
		Epoch         uint64   `json:"epoch"`
		Ts            uint64   `json:"ts"`
		Nonce         *string  `json:"nonce"`
		SignedHeaders []string `json:"signed_headers"`
		SigHex        string   `json:"sig_hex"`
	} `json:"parsed"`
}

type vectors struct {
	Format        string                   `json:"format"`
	Version       int                      `json:"version"`
	Verdicts      map[string]hmacd.Verdict `json:"verdicts"`
	Positive      []vecItem                `json:"positive"`
	Tampered      []vecItem                `json:"tampered"`
	Malformed     []vecItem                `json:"malformed"`
	Authorization struct {
		Valid   []vecAuth `json:"valid"`
		Invalid []vecAuth `json:"invalid"`
	} `json:"authorization"`
}

// loadVectors reads $HMACD_VECTORS, or the file at its place in the source tree (the test
// runs in client/go/hmacd; ".." is resolved physically, through the GOPATH symlink).
func loadVectors(t *testing.T) *vectors {
	t.Helper()
	path := os.Getenv("HMACD_VECTORS")
	if path == "" {
		path = "../../../proto/vectors/hmacd-v1.json"
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("vectors: %v (set HMACD_VECTORS)", err)
	}
	var v vectors
	err = json.Unmarshal(b, &v)
	if err != nil {
		t.Fatalf("vectors: %v", err)
	}
	if v.Version != 1 || v.Format != "hmacd-v1 test vectors" {
		t.Fatalf("vectors: unknown format %q version %d", v.Format, v.Version)
	}
	if len(v.Positive) == 0 || len(v.Tampered) == 0 || len(v.Malformed) == 0 ||
		len(v.Authorization.Valid) == 0 || len(v.Authorization.Invalid) == 0 {
		t.Fatal("vectors: a list is empty")
	}
	// The file's verdict table is this package's, name for name (9 UNAVAILABLE included).
	for name, code := range v.Verdicts {
		if code.String() != name {
			t.Fatalf("vectors: verdict %s is %d, which this package calls %s", name, code, code)
		}
	}
	for code := hmacd.VerdictOK; code <= hmacd.VerdictUnavailable; code++ {
		if got, ok := v.Verdicts[code.String()]; !ok || got != code {
			t.Fatalf("vectors: verdict %d (%s) missing", code, code)
		}
	}
	return &v
}

func b64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("base64: %v", err)
	}
	return b
}

// item converts a vector's item fields.
func (v *vecItem) item(t *testing.T) hmacd.Item {
	t.Helper()
	it := hmacd.Item{
		Tenant:    v.Tenant,
		Container: v.Container,
		Epoch:     v.Epoch,
		Method:    v.Method,
		Path:      v.Path,
		Ts:        v.Ts,
		Nonce:     v.Nonce,
		Body:      b64(t, v.BodyB64),
		Sig:       b64(t, v.SigB64),
	}
	for _, h := range v.Headers {
		it.Headers = append(it.Headers, hmacd.Header{Name: h[0], Value: h[1]})
	}
	return it
}

func headerNames(it *hmacd.Item) []string {
	names := make([]string, len(it.Headers))
	for i, h := range it.Headers {
		names[i] = h.Name
	}
	return names
}

func TestVectorsPositive(t *testing.T) {
	vs := loadVectors(t)
	for i := range vs.Positive {
		v := &vs.Positive[i]
		t.Run(v.Name, func(t *testing.T) {
			it := v.item(t)
			secret := b64(t, v.SecretB64)
			canon, err := hmacd.Canonical(&it)
			if err != nil {
				t.Fatal(err)
			}
			if string(canon) != v.Canonical {
				t.Fatalf("canonical:\n%q\nwant\n%q", canon, v.Canonical)
			}
			d := sha256.Sum256(it.Body)
			if hex.EncodeToString(d[:]) != v.BodySHA256 {
				t.Fatal("body_sha256")
			}
			// The digest form gives the same string.
			it2 := it
			it2.Body, it2.BodySHA256 = nil, d[:]
			canon2, err := hmacd.Canonical(&it2)
			if err != nil || !bytes.Equal(canon, canon2) {
				t.Fatalf("body_sha256 form: %v", err)
			}
			it.Sig = nil
			err = hmacd.Sign(secret, &it)
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(it.Sig) != v.SigHex {
				t.Fatalf("sig %x, want %s", it.Sig, v.SigHex)
			}
			a := hmacd.Authorization{Tenant: it.Tenant, Epoch: it.Epoch, Timestamp: it.Ts,
				Nonce: it.Nonce, SignedHeaders: headerNames(&it), Signature: it.Sig}
			if a.String() != v.Auth {
				t.Fatalf("authorization:\n%s\nwant\n%s", a.String(), v.Auth)
			}
			p, err := hmacd.ParseAuthorization(v.Auth)
			if err != nil {
				t.Fatal(err)
			}
			if p.Tenant != it.Tenant || p.Epoch != it.Epoch || p.Timestamp != it.Ts ||
				p.Nonce != it.Nonce || strings.Join(p.SignedHeaders, ";") !=
				strings.Join(headerNames(&it), ";") || !bytes.Equal(p.Signature, it.Sig) {
				t.Fatalf("parsed back: %+v", p)
			}
		})
	}
}

// The http.Request signer gives the vector's Authorization byte for byte.
func TestVectorsRequestSigner(t *testing.T) {
	vs := loadVectors(t)
	for i := range vs.Positive {
		v := &vs.Positive[i]
		if !v.HTTP || v.Ts > 1<<62 {
			continue // item-level only, or a ts time.Time cannot hold
		}
		t.Run(v.Name, func(t *testing.T) {
			it := v.item(t)
			req, err := http.NewRequest(v.Method, "http://unused"+v.Path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if req.URL.RequestURI() != v.Path {
				t.Fatalf("Go sends %q for %q", req.URL.RequestURI(), v.Path)
			}
			req.Host = ""
			for _, h := range it.Headers {
				if h.Name == "host" {
					req.Host = h.Value
				} else {
					req.Header.Add(h.Name, h.Value)
				}
			}
			s := hmacd.Signer{
				Tenant:        v.Tenant,
				Epoch:         v.Epoch,
				Secret:        b64(t, v.SecretB64),
				SignedHeaders: headerNames(&it),
				Now:           func() time.Time { return time.Unix(int64(v.Ts), 0) },
				Nonce:         func() (string, error) { return v.Nonce, nil },
			}
			err = s.Sign(req, v.Container, it.Body)
			if err != nil {
				t.Fatal(err)
			}
			if got := req.Header.Get("Authorization"); got != v.Auth {
				t.Fatalf("authorization:\n%s\nwant\n%s", got, v.Auth)
			}
			body, _ := io.ReadAll(req.Body)
			if !bytes.Equal(body, it.Body) || req.ContentLength != int64(len(it.Body)) {
				t.Fatal("body not set on the request")
			}
		})
	}
}

// Every http vector, sent as raw HTTP/1.1 bytes to Go's real HTTP server, gives back exactly
// its item through ParseAuthorization + RequestItem (PROTOCOL.md 13.3 step 2).
func TestVectorsServerSide(t *testing.T) {
	vs := loadVectors(t)
	type got struct {
		it  hmacd.Item
		err error
	}
	results := make(chan got, 1)
	var container string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var g got
		body, err := io.ReadAll(r.Body)
		if err == nil {
			var a *hmacd.Authorization
			a, err = hmacd.ParseAuthorization(r.Header.Get("Authorization"))
			if err == nil {
				g.it, err = hmacd.RequestItem(r, a, container, body)
			}
		}
		g.err = err
		results <- g
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	for i := range vs.Positive {
		v := &vs.Positive[i]
		if !v.HTTP {
			continue
		}
		t.Run(v.Name, func(t *testing.T) {
			container = v.Container
			it := v.item(t)
			var raw bytes.Buffer
			fmt.Fprintf(&raw, "%s %s HTTP/1.1\r\n", v.Method, v.Path)
			hasHost := false
			for _, h := range it.Headers {
				fmt.Fprintf(&raw, "%s: %s\r\n", h.Name, h.Value)
				hasHost = hasHost || h.Name == "host"
			}
			if !hasHost {
				raw.WriteString("Host: unsigned.example\r\n")
			}
			fmt.Fprintf(&raw, "Authorization: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n",
				v.Auth, len(it.Body))
			raw.Write(it.Body)
			nc, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			_, err = nc.Write(raw.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			var g got
			select {
			case g = <-results:
			default:
				t.Fatalf("server answered %d without calling the handler", resp.StatusCode)
			}
			if g.err != nil {
				t.Fatal(g.err)
			}
			canon, err := hmacd.Canonical(&g.it)
			if err != nil {
				t.Fatal(err)
			}
			if string(canon) != v.Canonical {
				t.Fatalf("canonical:\n%q\nwant\n%q", canon, v.Canonical)
			}
			if hex.EncodeToString(g.it.Sig) != v.SigHex {
				t.Fatal("signature")
			}
		})
	}
}

func TestVectorsTampered(t *testing.T) {
	vs := loadVectors(t)
	for i := range vs.Tampered {
		v := &vs.Tampered[i]
		t.Run(v.Name, func(t *testing.T) {
			it := v.item(t)
			canon, err := hmacd.Canonical(&it)
			if err != nil {
				t.Fatal(err)
			}
			if string(canon) != v.Canonical {
				t.Fatalf("canonical:\n%q\nwant\n%q", canon, v.Canonical)
			}
			err = hmacd.Sign(b64(t, v.SecretB64), &it)
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(it.Sig) == v.SigHex {
				t.Fatal("the changed item has the base's signature")
			}
		})
	}
}

func TestVectorsMalformed(t *testing.T) {
	vs := loadVectors(t)
	secret := make([]byte, 32)
	for i := range vs.Malformed {
		v := &vs.Malformed[i]
		if v.Kind != "content" {
			continue
		}
		t.Run(v.Name, func(t *testing.T) {
			it := v.item(t)
			if err := hmacd.Sign(secret, &it); !errors.Is(err, hmacd.ErrMalformed) {
				t.Fatalf("Sign: %v, want ErrMalformed", err)
			}
		})
	}
}

func TestVectorsAuthorization(t *testing.T) {
	vs := loadVectors(t)
	for _, v := range vs.Authorization.Valid {
		v := v
		t.Run("valid-"+v.Name, func(t *testing.T) {
			a, err := hmacd.ParseAuthorization(v.Header)
			if err != nil {
				t.Fatal(err)
			}
			p := v.Parsed
			nonce := ""
			if p.Nonce != nil {
				nonce = *p.Nonce
			}
			if a.Tenant != p.Tenant || a.Epoch != p.Epoch || a.Timestamp != p.Ts ||
				a.Nonce != nonce || hex.EncodeToString(a.Signature) != p.SigHex ||
				strings.Join(a.SignedHeaders, ";") != strings.Join(p.SignedHeaders, ";") ||
				len(a.SignedHeaders) != len(p.SignedHeaders) {
				t.Fatalf("parsed %+v, want %+v", a, p)
			}
		})
	}
	for _, v := range vs.Authorization.Invalid {
		v := v
		t.Run("invalid-"+v.Name, func(t *testing.T) {
			a, err := hmacd.ParseAuthorization(v.Header)
			if !errors.Is(err, hmacd.ErrBadAuthorization) {
				t.Fatalf("accepted: %+v", a)
			}
		})
	}
}

// With a daemon: every positive vector re-signed with a real key (its epoch, ts and nonce
// made current) verifies OK, so the daemon and this package agree on every item shape; every
// malformed vector this client can send (all but the hand-built msgpack maps) is MALFORMED.
func TestVectorsAgainstDaemon(t *testing.T) {
	vs := loadVectors(t)
	d := daemontest.Start(t)
	c := newClient(t, d.Socket, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	keys := map[string]daemontest.Key{}
	for i := range vs.Positive {
		v := &vs.Positive[i]
		scope := v.Tenant + "\x00" + v.Container
		k, ok := keys[scope]
		if !ok {
			k = d.CreateKey(t, v.Tenant, v.Container)
			keys[scope] = k
		}
		it := v.item(t)
		it.Epoch, it.Ts, it.Nonce = k.Epoch, uint64(time.Now().Unix()), newNonce()
		if err := hmacd.Sign(k.Secret, &it); err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		if got, err := c.VerifyOne(ctx, &it); err != nil || got != hmacd.VerdictOK {
			t.Errorf("positive %s: %v %v", v.Name, got, err)
		}
	}

	for i := range vs.Malformed {
		v := &vs.Malformed[i]
		if v.Kind != "content" && v.Wire != nil {
			continue // a hand-built msgpack map, which this client cannot send
		}
		it := v.item(t)
		if got, err := c.VerifyOne(ctx, &it); err != nil || got != hmacd.VerdictMalformed {
			t.Errorf("malformed %s: %v %v", v.Name, got, err)
		}
	}
}

// With a daemon: every tampered vector, its base re-signed with a real key, is BAD_SIGNATURE
// and the base itself STALE_TIMESTAMP (its ts is in 2023).
func TestVectorsTamperedAgainstDaemon(t *testing.T) {
	vs := loadVectors(t)
	d := daemontest.Start(t)
	c := newClient(t, d.Socket, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// Real keys for every scope and epoch the tampered vectors name, with grace so that the
	// superseded epochs stay usable.
	secrets := map[string][]byte{}
	for i := range vs.Tampered {
		v := &vs.Tampered[i]
		scope := v.Tenant + "\x00" + v.Container
		for epoch := uint64(1); epoch <= v.Epoch; epoch++ {
			id := fmt.Sprintf("%s\x00%d", scope, epoch)
			if secrets[id] != nil {
				continue
			}
			var k daemontest.Key
			if epoch == 1 {
				k = d.CreateKey(t, v.Tenant, v.Container)
			} else {
				k = d.RotateKey(t, v.Tenant, v.Container, 24*time.Hour)
			}
			if k.Epoch != epoch {
				t.Fatalf("rotate gave epoch %d, want %d", k.Epoch, epoch)
			}
			secrets[id] = k.Secret
		}
	}
	byName := map[string]*vecItem{}
	for i := range vs.Positive {
		byName[vs.Positive[i].Name] = &vs.Positive[i]
	}
	for i := range vs.Tampered {
		v := &vs.Tampered[i]
		base := byName[v.Base]
		if base == nil {
			t.Fatalf("tampered %s: no base %s", v.Name, v.Base)
		}
		bit := base.item(t)
		secret := secrets[fmt.Sprintf("%s\x00%s\x00%d", bit.Tenant, bit.Container, bit.Epoch)]
		if err := hmacd.Sign(secret, &bit); err != nil {
			t.Fatal(err)
		}
		it := v.item(t)
		it.Sig = bit.Sig
		got, err := c.Verify(ctx, []hmacd.Item{bit, it})
		if err != nil {
			t.Fatal(err)
		}
		if got[0] != hmacd.VerdictStaleTimestamp || got[1] != vs.Verdicts[v.Expected] {
			t.Errorf("tampered %s: base %v, changed %v (want %s)", v.Name, got[0], got[1],
				v.Expected)
		}
	}
}
