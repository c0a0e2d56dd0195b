// Command nethttp is the example app POST /containers/{id}/exec with net/http only, protected
// by hmacd; examples/echo is the same app with Echo. Both answer as every example app of
// hmacd does (README.md, "Example apps"): the container is the one in the path, for the
// check and for the handler; the body is bound strictly (400 otherwise); no valid signature
// for this container gives 401 with the reason in the app's log (the standard logger) and
// never in the response; hmacd down gives 503; GET /healthz is not protected.
//
// Go 1.19 has no method and wildcard patterns in http.ServeMux, so route below cuts {id} out
// of the path itself. With Go 1.22 or later the routing is the mux's:
//
//	mux.Handle("POST /containers/{id}/exec", hmacd.Middleware(hmacd.MiddlewareConfig{
//		Verifier:  client,
//		Container: func(r *http.Request) string { return r.PathValue("id") },
//		BodyLimit: execapi.MaxBody,
//	})(http.HandlerFunc(execHandler)))
//	mux.HandleFunc("GET /healthz", healthz)
//
// Run it next to hmacd (from client/go; offline, with Debian's packages: README.md there):
//
//	HMACD_SOCKET=/run/hmacd/hmacd.sock PORT=8080 sh offline.sh run ./examples/nethttp
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/hmacd/hmacd/client/go/examples/internal/execapi"
	"github.com/hmacd/hmacd/client/go/hmacd"
)

// containerID is the {id} of /containers/{id}/exec, unescaped as Go 1.22's r.PathValue("id")
// would give it, or "" for any other path.
func containerID(r *http.Request) string {
	rest := strings.TrimPrefix(r.URL.EscapedPath(), "/containers/")
	id, tail, ok := strings.Cut(rest, "/")
	if !ok || tail != "exec" || len(rest) == len(r.URL.EscapedPath()) {
		return ""
	}
	id, err := url.PathUnescape(id)
	if err != nil {
		return ""
	}
	return id
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func execHandler(w http.ResponseWriter, r *http.Request) {
	id, _ := hmacd.IdentityFrom(r.Context()) // the middleware verified it: id.Container is {id}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, execapi.BadRequest)
		return
	}
	req, err := execapi.Bind(body)
	if err != nil {
		log.Printf("exec: bad body: %v", err)
		writeJSON(w, http.StatusBadRequest, execapi.BadRequest)
		return
	}
	// A real server would start req.Cmd in id.Container here.
	out, err := json.Marshal(execapi.Result{Tenant: id.Tenant, Container: id.Container,
		Cmd: req.Cmd, Tty: req.Tty})
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, execapi.Healthy)
}

// only answers 405 to other methods than method (and HEAD for GET).
func only(method string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
			w.Header().Set("Allow", method)
			writeJSON(w, http.StatusMethodNotAllowed, []byte(`{"error":"method_not_allowed"}`))
			return
		}
		h(w, r)
	}
}

// newServer builds the app around a verifier (an *hmacd.Client in production); trustProxy:
// RFC 9421's @scheme from X-Forwarded-Proto (HMACD_TRUST_PROXY=1, only behind a proxy that
// sets it).
func newServer(v hmacd.Verifier, trustProxy bool) http.Handler {
	protect := hmacd.Middleware(hmacd.MiddlewareConfig{
		Verifier:            v,
		Container:           containerID,
		BodyLimit:           execapi.MaxBody,
		TrustForwardedProto: trustProxy,
	})
	exec := only(http.MethodPost, protect(http.HandlerFunc(execHandler)).ServeHTTP)
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", only(http.MethodGet, healthz))
	mux.HandleFunc("/containers/", func(w http.ResponseWriter, r *http.Request) {
		if containerID(r) == "" {
			writeJSON(w, http.StatusNotFound, []byte(`{"error":"not_found"}`))
			return
		}
		exec(w, r) // the route is chosen: now the method, then the signature
	})
	return mux
}

func main() {
	err := run()
	if err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

func run() error {
	env, err := execapi.FromEnv()
	if err != nil {
		return err
	}
	client, err := hmacd.New(env.Socket, &hmacd.Options{ServerUser: env.ServerUser})
	if err != nil {
		return err
	}
	defer client.Close()
	log.Printf("listening on http://%s, hmacd at %s", env.Addr, env.Socket)
	return http.ListenAndServe(env.Addr, newServer(client, env.TrustProxy))
}
