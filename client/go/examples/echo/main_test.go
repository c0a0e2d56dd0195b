// main_test.go - the Echo example against the contract of every example app
// (exampletest.Contract: the real hmacd, skipped unless $HMACD and $HMACCTL are set), its 401
// reasons in Echo's logger left at its default level.

package main

import (
	"net/http"
	"testing"

	"github.com/hmacd/hmacd/client/go/examples/internal/exampletest"
	"github.com/hmacd/hmacd/client/go/hmacd"
)

func TestContract(t *testing.T) {
	logs := &exampletest.SyncBuffer{}
	exampletest.Contract(t, func(v hmacd.Verifier) http.Handler {
		e := newServer(v, false)
		e.Logger.SetOutput(logs)
		return e
	}, logs.String)
}
