// main_test.go - the gin example against the contract of every example app
// (exampletest.Contract: the real hmacd, skipped unless $HMACD and $HMACCTL are set), its 401
// reasons on gin.DefaultErrorWriter.

package main

import (
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/hmacd/hmacd/client/go/examples/internal/exampletest"
	"github.com/hmacd/hmacd/client/go/hmacd"
)

func TestContract(t *testing.T) {
	logs := &exampletest.SyncBuffer{}
	out := gin.DefaultErrorWriter
	gin.DefaultErrorWriter = logs
	defer func() { gin.DefaultErrorWriter = out }()
	exampletest.Contract(t, func(v hmacd.Verifier) http.Handler {
		r, err := newServer(v, false)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}, logs.String)
}
