// Package execapi is what the Go example apps share besides their framework: the exec
// request, bound strictly, and the responses every example app of hmacd gives (README.md,
// "Example apps"), so that the net/http and Echo examples differ only in how they route and
// protect POST /containers/{id}/exec.
package execapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"unicode/utf8"
)

// MaxBody is the examples' body limit (64 KiB): a larger body gets 413 {"error":"too_large"}.
const MaxBody = 64 << 10

// MaxArgs bounds cmd.
const MaxArgs = 64

// MaxArgLen bounds each string of cmd, in characters (code points).
const MaxArgLen = 4096

// Request is the whole of what a caller may send. The container is not in it: it comes from
// the path, which the signature covers.
type Request struct {
	Cmd []string `json:"cmd"`
	Tty bool     `json:"tty"`
}

// Result is the 200 answer: the verified tenant and container, and what would run.
type Result struct {
	Tenant    string   `json:"tenant"`
	Container string   `json:"container"`
	Cmd       []string `json:"cmd"`
	Tty       bool     `json:"tty"`
}

// The fixed bodies besides Result.
var (
	BadRequest = []byte(`{"error":"bad_request"}`) // 400: the body is not a valid Request
	Healthy    = []byte(`{"ok":true}`)             // 200 GET /healthz (never verified)
)

var allowedFields = map[string]bool{"cmd": true, "tty": true}

// checkKeys refuses what encoding/json would let through even with DisallowUnknownFields: a
// key matched case-insensitively ("CMD"), a repeated key (the last one would win) and a null
// value (which would leave the field as it was: "tty": null would be false).
func checkKeys(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("body is not a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err = dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		if !allowedFields[key] || seen[key] {
			return fmt.Errorf("field %q not allowed or repeated", key)
		}
		seen[key] = true
		var value json.RawMessage
		err = dec.Decode(&value)
		if err != nil {
			return err
		}
		if string(value) == "null" {
			return fmt.Errorf("field %q is null", key)
		}
	}
	return nil
}

// Bind decodes body into a Request, strictly, as every example app binds it: UTF-8 JSON, an
// object with a "cmd" of 1 to MaxArgs strings of at most MaxArgLen characters, the first not
// empty, and an optional boolean "tty", nothing else (an unknown field such as "container", a
// key in another case, a repeated key, a null, a wrong type or trailing data is an error).
func Bind(body []byte) (*Request, error) {
	if !utf8.Valid(body) {
		return nil, errors.New("body is not UTF-8") // encoding/json would replace the bytes
	}
	err := checkKeys(body)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var in struct {
		Cmd []*string `json:"cmd"` // a null in the list stays nil, so it can be refused
		Tty bool      `json:"tty"`
	}
	err = dec.Decode(&in)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON object")
	}
	if len(in.Cmd) < 1 || len(in.Cmd) > MaxArgs {
		return nil, fmt.Errorf("cmd must hold 1 to %d strings", MaxArgs)
	}
	req := Request{Cmd: make([]string, len(in.Cmd)), Tty: in.Tty}
	for i, a := range in.Cmd {
		if a == nil || utf8.RuneCountInString(*a) > MaxArgLen {
			return nil, fmt.Errorf("cmd must hold strings of at most %d characters", MaxArgLen)
		}
		req.Cmd[i] = *a
	}
	if req.Cmd[0] == "" {
		return nil, errors.New("cmd's first string is empty")
	}
	return &req, nil
}

// Env is the configuration every example app takes from its environment.
type Env struct {
	Socket     string // HMACD_SOCKET: hmacd's socket (default /run/hmacd/hmacd.sock)
	Addr       string // 127.0.0.1:$PORT (PORT default 8080)
	ServerUser string // HMACD_SERVER_USER: the user hmacd runs as, when it is neither root
	// nor the owner of the socket's directory ("": those two)
	// TrustProxy (HMACD_TRUST_PROXY=1): the app is reached only through a proxy that sets
	// X-Forwarded-Proto on every request (say, one that terminates TLS), so an RFC 9421
	// signature's @scheme is checked against that header. Unset or 0 (default): against the
	// app's own connection, plain HTTP, and the header is ignored, since a client could
	// choose it.
	TrustProxy bool
}

// FromEnv reads the configuration; a PORT that is not a port number, or an
// HMACD_TRUST_PROXY other than "", "0" or "1", is an error.
func FromEnv() (Env, error) {
	e := Env{Socket: os.Getenv("HMACD_SOCKET"), ServerUser: os.Getenv("HMACD_SERVER_USER")}
	if e.Socket == "" {
		e.Socket = "/run/hmacd/hmacd.sock"
	}
	switch tp := os.Getenv("HMACD_TRUST_PROXY"); tp {
	case "", "0":
	case "1":
		e.TrustProxy = true
	default:
		return e, fmt.Errorf("HMACD_TRUST_PROXY %q is not 0 or 1", tp)
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return e, fmt.Errorf("PORT %q is not a port number", port)
	}
	e.Addr = "127.0.0.1:" + strconv.Itoa(n)
	return e, nil
}
