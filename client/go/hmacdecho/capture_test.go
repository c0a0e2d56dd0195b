// capture_test.go - Config.CaptureDir and CaptureMax reach hmacd.Guard: a refused request
// writes a capture file (its format is tested in package hmacd), at most CaptureMax of them;
// an unfit directory is refused when the middleware is made.

package hmacdecho_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hmacd/hmacd/client/go/hmacd"
	"github.com/hmacd/hmacd/client/go/hmacdecho"
	"github.com/labstack/echo/v4"
)

func TestCapture(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	var logged []string
	e := appWith(hmacdecho.Config{Verifier: &recorder{verdict: hmacd.VerdictBadSignature},
		Param: "id", CaptureDir: dir, CaptureMax: 1,
		Log: func(_ echo.Context, _ int, reason string) { logged = append(logged, reason) }})
	for i := 0; i < 2; i++ {
		req := httptest.NewRequest(http.MethodPost, "/containers/c1/exec",
			strings.NewReader("{}"))
		req.Header.Set("Authorization", wellFormedAuth())
		expect(t, serve(e, req), http.StatusUnauthorized, `{"error":"unauthorized"}`)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "hmacd-capture-*.json"))
	if len(files) != 1 || len(logged) != 2 ||
		!strings.HasSuffix(logged[0], "BAD_SIGNATURE; capture "+files[0]) {
		t.Fatalf("captures %v, log %q", files, logged)
	}

	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("a directory writable by others was accepted")
		}
	}()
	hmacdecho.Middleware(hmacdecho.Config{Verifier: &recorder{}, Param: "id",
		CaptureDir: dir})
}
