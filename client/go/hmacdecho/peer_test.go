// peer_test.go - the middleware in front of a socket squatter (issue 10, finding 3): an
// impostor listening as nobody in a sticky world-writable directory (like /tmp) and answering
// OK to everything gets 503 and the handler never runs, with the reason logged. Needs root
// (skipped otherwise), to run the impostor as nobody.

package hmacdecho_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hmacd/hmacd/client/go/hmacd"
	"github.com/hmacd/hmacd/client/go/hmacdecho"
	"github.com/hmacd/hmacd/client/go/internal/daemontest"
	"github.com/labstack/echo/v4"
)

func TestMain(m *testing.M) {
	daemontest.ImpostorMain() // when run as the impostor: serve, never return
	os.Exit(m.Run())
}

// syncBuffer is a bytes.Buffer for a logger that the server's goroutines write to.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// The default client refuses the impostor: 503, the handler never runs, the log says why. A
// client told to trust nobody (ServerUser) gets the impostor's OK and the handler runs, so
// the 503 is the peer check's doing.
func TestImpostorGets503(t *testing.T) {
	imp := daemontest.StartImpostor(t)
	for _, c := range []struct {
		what       string
		serverUser string
		status     int
		body       string
		runs       int64 // how many times the handler runs
	}{
		{"default client", "", 503, `{"error":"unavailable"}`, 0},
		{"client that trusts nobody", strconv.Itoa(daemontest.NobodyUID), 200, "c1:" + cmd, 1},
	} {
		client, err := hmacd.New(imp.Socket, &hmacd.Options{ServerUser: c.serverUser})
		if err != nil {
			t.Fatal(err)
		}
		var runs int64
		var logs syncBuffer
		e := echo.New()
		e.HideBanner = true
		e.Logger.SetOutput(&logs)
		e.POST("/containers/:id/exec", func(c echo.Context) error {
			atomic.AddInt64(&runs, 1)
			body, err := io.ReadAll(c.Request().Body)
			if err != nil {
				return err
			}
			return c.String(http.StatusOK, c.Param("id")+":"+string(body))
		}, hmacdecho.Middleware(hmacdecho.Config{Verifier: client, Param: "id"}))
		srv := httptest.NewServer(e)

		req, err := http.NewRequest(http.MethodPost, srv.URL+"/containers/c1/exec", nil)
		if err != nil {
			t.Fatal(err)
		}
		s := hmacd.Signer{Tenant: "acme", Epoch: 1, Secret: bytes.Repeat([]byte{1}, 32)}
		err = s.Sign(req, "c1", []byte(cmd))
		if err != nil {
			t.Fatal(err)
		}
		code, body, _ := do(t, req)
		srv.Close()
		client.Close()
		if code != c.status || body != c.body {
			t.Fatalf("%s: %d %q, want %d %q", c.what, code, body, c.status, c.body)
		}
		if n := atomic.LoadInt64(&runs); n != c.runs {
			t.Fatalf("%s: the handler ran %d times", c.what, n)
		}
		logged := strings.Contains(logs.String(), "hmacd: 503 POST /containers/c1/exec: "+
			"hmacd-v1 tenant acme container c1: hmacd peer check: server uid "+
			strconv.Itoa(daemontest.NobodyUID)+" is not the expected uid 0")
		if logged != (c.status == 503) {
			t.Fatalf("%s: the log says %q", c.what, logs.String())
		}
	}
}
