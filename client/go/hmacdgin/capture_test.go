// capture_test.go - Config.CaptureDir and CaptureMax reach hmacd.Guard: a refused request
// writes a capture file (its format is tested in package hmacd), at most CaptureMax of them;
// an unfit directory is refused when the middleware is made.

package hmacdgin_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/hmacd/hmacd/client/go/hmacd"
	"github.com/hmacd/hmacd/client/go/hmacdgin"
)

func TestCapture(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	var logged []string
	r := ginApp(hmacdgin.Config{Verifier: &recorder{verdict: hmacd.VerdictBadSignature},
		CaptureDir: dir, CaptureMax: 1,
		Log: func(_ *gin.Context, _ int, reason string) { logged = append(logged, reason) }})
	for i := 0; i < 2; i++ {
		req := httptest.NewRequest(http.MethodPost, "/containers/c1/exec",
			strings.NewReader("{}"))
		req.Header.Set("Authorization", wellFormedAuth())
		if rec := serve(r, req); rec.Code != http.StatusUnauthorized ||
			rec.Body.String() != `{"error":"unauthorized"}` {
			t.Fatalf("%d %q", rec.Code, rec.Body.String())
		}
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
	hmacdgin.Middleware(hmacdgin.Config{Verifier: &recorder{}, Param: "id", CaptureDir: dir})
}
