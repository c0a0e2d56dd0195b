// main_test.go - the net/http example against the contract of every example app
// (exampletest.Contract: the real hmacd, skipped unless $HMACD and $HMACCTL are set), its 401
// reasons in the standard logger; and its Go 1.19 routing.

package main

import (
	"context"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hmacd/hmacd/client/go/examples/internal/exampletest"
	"github.com/hmacd/hmacd/client/go/hmacd"
)

func TestContract(t *testing.T) {
	logs := &exampletest.SyncBuffer{}
	out := log.Writer()
	log.SetOutput(logs)
	defer log.SetOutput(out)
	exampletest.Contract(t, func(v hmacd.Verifier) http.Handler { return newServer(v, false) },
		logs.String)
}

// refuseAll is a verifier that must never be asked: routing decides before it.
type refuseAll struct{ t *testing.T }

func (r refuseAll) VerifyOne(ctx context.Context, it *hmacd.Item) (hmacd.Verdict, error) {
	r.t.Errorf("asked to verify %s %s", it.Method, it.Path)
	return hmacd.VerdictBadSignature, nil
}

func TestRouting(t *testing.T) {
	for _, c := range []struct {
		target, container string
	}{
		{"/containers/web-01/exec", "web-01"},
		{"/containers/web%2D01/exec?tty=1", "web-01"},
		{"/containers/a%2Fb/exec", "a/b"},
		{"/containers/web-01/exec/", ""},
		{"/containers/web-01/other", ""},
		{"/containers/web-01", ""},
		{"/containers//exec", ""},
		{"/containers/", ""},
		{"/other/web-01/exec", ""},
	} {
		r := httptest.NewRequest(http.MethodPost, c.target, nil)
		if got := containerID(r); got != c.container {
			t.Errorf("%s: %q, want %q", c.target, got, c.container)
		}
	}
	h := newServer(refuseAll{t}, false)
	for _, c := range []struct {
		method, target string
		status         int
	}{
		{http.MethodGet, "/healthz", 200},
		{http.MethodHead, "/healthz", 200},
		{http.MethodPost, "/healthz", 405},
		{http.MethodGet, "/containers/web-01/exec", 405},
		{http.MethodPost, "/containers/web-01/other", 404},
		{http.MethodPost, "/nowhere", 404},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(c.method, c.target, strings.NewReader("{}")))
		if rec.Code != c.status {
			t.Errorf("%s %s: %d, want %d", c.method, c.target, rec.Code, c.status)
		}
	}
}
