// rfc9421_vectors_test.go - the shared RFC 9421 vectors, proto/vectors/rfc9421.json (format:
// proto/vectors/README.md), whose answers are the daemon's own (tests/vectors/gen_rfc9421):
// SignatureBase gives every expected base byte for byte and refuses every case the daemon
// refuses; the signed cases' Signature is the HMAC of that base; and RFC9421Signer, given a
// signed case's "sign" inputs on an http.Request, writes exactly its Signature-Input and
// Signature.

package hmacd_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hmacd/hmacd/client/go/hmacd"
)

type rfcVecSign struct {
	Label      string   `json:"label"`
	Components []string `json:"components"`
	Created    *int64   `json:"created"`
	Expires    *int64   `json:"expires"`
	Nonce      *string  `json:"nonce"`
	Alg        bool     `json:"alg"`
	KeyID      string   `json:"keyid"`
	Tag        string   `json:"tag"`
}

type rfcVecCase struct {
	Name    string `json:"name"`
	Request struct {
		Method    string     `json:"method"`
		Authority string     `json:"authority"`
		Path      string     `json:"path"`
		URIScheme string     `json:"uri_scheme"`
		Headers   [][]string `json:"headers"`
	} `json:"request"`
	SignatureInput string      `json:"signature_input"`
	Label          string      `json:"label"`
	KeyB64         string      `json:"key_b64"`
	Sign           *rfcVecSign `json:"sign"`
	Expect         struct {
		Base      *string `json:"base"`
		Signature string  `json:"signature"`
		Error     bool    `json:"error"`
		Reason    string  `json:"reason"`
	} `json:"expect"`
}

// loadRFCVectors reads $HMACD_RFC9421_VECTORS, else rfc9421.json next to $HMACD_VECTORS, else
// the file at its place in the source tree.
func loadRFCVectors(t *testing.T) []rfcVecCase {
	t.Helper()
	path := os.Getenv("HMACD_RFC9421_VECTORS")
	if path == "" {
		path = "../../../proto/vectors/rfc9421.json"
		if v1 := os.Getenv("HMACD_VECTORS"); v1 != "" {
			path = filepath.Join(filepath.Dir(v1), "rfc9421.json")
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("rfc9421 vectors: %v (set HMACD_RFC9421_VECTORS)", err)
	}
	var doc struct {
		Format  string       `json:"format"`
		Version int          `json:"version"`
		Cases   []rfcVecCase `json:"cases"`
	}
	err = json.Unmarshal(b, &doc)
	if err != nil {
		t.Fatalf("rfc9421 vectors: %v", err)
	}
	if doc.Format != "hmacd rfc9421 signature base vectors" || doc.Version != 1 {
		t.Fatalf("rfc9421 vectors: unknown format %q version %d", doc.Format, doc.Version)
	}
	if len(doc.Cases) == 0 {
		t.Fatal("rfc9421 vectors: no case")
	}
	return doc.Cases
}

func (c *rfcVecCase) request() *hmacd.RFC9421Request {
	r := &hmacd.RFC9421Request{Method: c.Request.Method, Authority: c.Request.Authority,
		Path: c.Request.Path, Scheme: c.Request.URIScheme}
	for _, h := range c.Request.Headers {
		r.Headers = append(r.Headers, hmacd.Header{Name: h[0], Value: h[1]})
	}
	return r
}

func TestRFC9421Vectors(t *testing.T) {
	var bases, refusals, signed int
	for _, c := range loadRFCVectors(t) {
		c := c
		t.Run(c.Name, func(t *testing.T) {
			base, err := hmacd.SignatureBase(c.request(), c.SignatureInput, c.Label)
			if c.Expect.Error {
				if err == nil {
					t.Fatalf("the daemon refuses this (%s), SignatureBase gives:\n%s",
						c.Expect.Reason, base)
				}
				refusals++
				return
			}
			if err != nil {
				t.Fatalf("SignatureBase: %v", err)
			}
			if c.Expect.Base == nil || string(base) != *c.Expect.Base {
				t.Fatalf("base:\n%s\nwant:\n%v", base, *c.Expect.Base)
			}
			bases++
			if c.KeyB64 == "" {
				return
			}
			key, err := base64.StdEncoding.DecodeString(c.KeyB64)
			if err != nil {
				t.Fatal(err)
			}
			m := hmac.New(sha256.New, key)
			m.Write(base)
			label := c.SignatureInput[:strings.IndexByte(c.SignatureInput, '=')]
			got := label + "=:" + base64.StdEncoding.EncodeToString(m.Sum(nil)) + ":"
			if got != c.Expect.Signature {
				t.Fatalf("signature %s, want %s", got, c.Expect.Signature)
			}
			if c.Sign != nil {
				signCase(t, &c, key)
			}
			signed++
		})
	}
	t.Logf("%d bases (%d signed), %d refusals", bases, signed, refusals)
}

// signCase signs the case's request with RFC9421Signer and its "sign" inputs.
func signCase(t *testing.T, c *rfcVecCase, key []byte) {
	t.Helper()
	scheme := c.Request.URIScheme
	if scheme == "" {
		scheme = "https"
	}
	req, err := http.NewRequest(c.Request.Method, scheme+"://"+c.Request.Authority+c.Request.Path,
		nil)
	if err != nil {
		t.Fatal(err)
	}
	if req.URL.RequestURI() != c.Request.Path {
		t.Fatalf("the case's path %q does not survive net/url (%q)", c.Request.Path,
			req.URL.RequestURI())
	}
	req.Host = c.Request.Authority
	for _, h := range c.Request.Headers {
		if h[0] != "host" {
			req.Header.Add(h[0], h[1])
		}
	}
	sp := c.Sign
	s := hmacd.RFC9421Signer{KeyID: sp.KeyID, Secret: key, Components: sp.Components,
		Label: sp.Label, Tag: sp.Tag, Alg: sp.Alg, NoCreated: sp.Created == nil}
	var created int64
	if sp.Created != nil {
		created = *sp.Created
	}
	s.Now = func() time.Time { return time.Unix(created, 0) }
	if sp.Expires != nil {
		s.Expires = time.Duration(*sp.Expires-created) * time.Second
	}
	nonce := ""
	if sp.Nonce != nil {
		nonce = *sp.Nonce
	}
	s.Nonce = func() (string, error) { return nonce, nil }
	err = s.Sign(req, nil)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if got := req.Header.Get("Signature-Input"); got != c.SignatureInput {
		t.Fatalf("signer's Signature-Input %s\nwant %s", got, c.SignatureInput)
	}
	if got := req.Header.Get("Signature"); got != c.Expect.Signature {
		t.Fatalf("signer's Signature %s, want %s", got, c.Expect.Signature)
	}
}
