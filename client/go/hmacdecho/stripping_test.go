// stripping_test.go - issue 10, finding 1, through the middleware, a real HTTP server and the
// real hmacd (skipped unless $HMACD and $HMACCTL are set): a signed request whose body an
// attacker removes in transit (Content-Length: 0, no body, every header kept, Content-Digest
// and the signature included) is refused with 401 and the handler never runs, for both
// schemes; the same request unmodified gets 200, so the refusal is the stripping's doing.

package hmacdecho_test

import (
	"bytes"
	"crypto/sha256"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hmacd/hmacd/client/go/hmacd"
	"github.com/hmacd/hmacd/client/go/hmacdecho"
	"github.com/labstack/echo/v4"
)

// dryRun is the classic body worth stripping: without it the operation is real.
const dryRun = `{"dry_run":true}`

func TestStrippedBodyRefused(t *testing.T) {
	var runs int64 // how many times the handler ran
	a := startApp(t, func(v hmacdecho.Verifier) http.Handler {
		e := echo.New()
		e.HideBanner = true
		e.Logger.SetOutput(io.Discard)
		e.POST("/containers/:id/exec", func(c echo.Context) error {
			atomic.AddInt64(&runs, 1)
			body, err := io.ReadAll(c.Request().Body)
			if err != nil {
				return err
			}
			return c.String(http.StatusOK, "ran:"+string(body))
		}, hmacdecho.Middleware(hmacdecho.Config{Verifier: v, Param: "id", URIScheme: "http"}))
		return e
	}, func(body string) bool { return body == "ran:"+dryRun })
	v1 := a.d.CreateKey(t, "acme", "c1")
	secret := bytes.Repeat([]byte{0x5a}, 32)
	rk := a.d.ImportKey(t, "acme", "c2", "acme-c2-1", secret)

	for _, c := range []struct {
		scheme, container string
		sign              func(req *http.Request) error
		// sent checks the item the middleware sent for the stripped request.
		sent func(it *hmacd.Item) bool
	}{
		{"hmacd-v1", "c1", func(req *http.Request) error {
			return signer(v1).Sign(req, "c1", []byte(dryRun))
		}, func(it *hmacd.Item) bool {
			empty := sha256.Sum256(nil)
			return bytes.Equal(it.BodySHA256, empty[:])
		}},
		{"rfc9421", "c2", func(req *http.Request) error {
			req.Header.Set("X-Tenant", "acme")
			err := (&hmacd.RFC9421Signer{KeyID: rk.KeyID, Secret: rk.Secret}).Sign(req,
				[]byte(dryRun))
			if err == nil && !strings.Contains(req.Header.Get("Signature-Input"),
				`"content-digest"`) {
				t.Fatalf("rfc9421: content-digest not covered: %s",
					req.Header.Get("Signature-Input"))
			}
			return err
		}, func(it *hmacd.Item) bool {
			var digest, length string
			for _, h := range it.Headers {
				switch h.Name {
				case "content-digest":
					digest = h.Value
				case "content-length":
					length = h.Value
				}
			}
			return len(it.Body) == 0 && length == "0" &&
				digest == hmacd.ContentDigest([]byte(dryRun))
		}},
	} {
		a.check(t, c.scheme+": signed body", a.post(t, c.container, c.sign), 200,
			hmacd.VerdictOK)
		if n := atomic.LoadInt64(&runs); n != 1 {
			t.Fatalf("%s: the handler ran %d times for one request", c.scheme, n)
		}

		req := a.post(t, c.container, c.sign)
		req.Body = http.NoBody // the attack: Content-Length: 0, every header kept
		req.ContentLength = 0
		req.GetBody = nil
		a.check(t, c.scheme+": body stripped", req, 401, hmacd.VerdictBadSignature)
		if n := atomic.LoadInt64(&runs); n != 1 {
			t.Fatalf("%s: the handler ran for the stripped request", c.scheme)
		}
		if _, it, _ := a.rec.last(); !c.sent(&it) {
			t.Fatalf("%s: the stripped request's item is not the empty body with the "+
				"signed headers: %+v", c.scheme, it)
		}
		atomic.StoreInt64(&runs, 0)
	}
}
