// Command example is the seed's "POST /containers/:id/exec" done right, as an Echo v4 app
// protected by hmacd:
//
//   - the HMACD-V1 signature covers tenant, container, epoch, method, path and query, timestamp,
//     nonce, the signed headers and the body (not only the body), and is checked by the daemon,
//     which holds the keys;
//   - the container is the route parameter, both for the check and for the handler: a
//     signature made for one container never runs a command in another;
//   - the JSON body is bound strictly to a struct holding only the allowed fields: an unknown
//     field (such as a "container" in the body), a field name in another case, a repeated
//     field or trailing data is a 400, never silently ignored;
//   - a daemon that is down gives 503: the handler never runs unverified.
//
// Run it next to hmacd:
//
//	HMACD_SOCKET=/run/hmacd/hmacd.sock ADDR=127.0.0.1:8080 go run .
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/hmacd/hmacd/client/go/hmacd"
	"github.com/hmacd/hmacd/client/go/hmacdecho"
	"github.com/labstack/echo/v4"
)

// execRequest is the whole of what a caller may send. The container is not in it: it comes
// from the path, which the signature covers.
type execRequest struct {
	Cmd []string `json:"cmd"`
	Tty bool     `json:"tty"`
}

var allowedFields = map[string]bool{"cmd": true, "tty": true}

const maxArgs = 64

// checkKeys refuses what encoding/json would let through even with DisallowUnknownFields: a
// key matched case-insensitively ("CMD") and a repeated key (the last one would win).
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
		var skip json.RawMessage
		err = dec.Decode(&skip)
		if err != nil {
			return err
		}
	}
	return nil
}

// bindExec decodes body into an execRequest, strictly.
func bindExec(body []byte) (*execRequest, error) {
	err := checkKeys(body)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req execRequest
	err = dec.Decode(&req)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON object")
	}
	if len(req.Cmd) < 1 || len(req.Cmd) > maxArgs || req.Cmd[0] == "" {
		return nil, errors.New("cmd must hold 1 to 64 arguments, the first non-empty")
	}
	return &req, nil
}

func execHandler(c echo.Context) error {
	container := c.Param("id") // verified by the middleware: the signature names it
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return err
	}
	req, err := bindExec(body)
	if err != nil {
		c.Logger().Infof("exec: bad body: %v", err)
		return c.JSONBlob(http.StatusBadRequest, []byte(`{"error":"bad_request"}`))
	}
	// A real server would start req.Cmd in container here.
	return c.JSON(http.StatusOK, map[string]interface{}{
		"container": container,
		"cmd":       req.Cmd,
		"tty":       req.Tty,
		"status":    "started",
	})
}

// newServer builds the app around a verifier (an *hmacd.Client in production).
func newServer(v hmacdecho.Verifier) *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.POST("/containers/:id/exec", execHandler, hmacdecho.Middleware(hmacdecho.Config{
		Verifier:  v,
		Param:     "id",
		BodyLimit: 64 << 10,
	}))
	return e
}

func getenv(name, def string) string {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	return v
}

func main() {
	client, err := hmacd.New(getenv("HMACD_SOCKET", "/run/hmacd/hmacd.sock"), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
	defer client.Close()
	e := newServer(client)
	err = e.Start(getenv("ADDR", "127.0.0.1:8080"))
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}
