// main_test.go - the example app: strict binding without a daemon, then signed requests
// through the real hmacd (skipped unless $HMACD and $HMACCTL are set).

package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hmacd/hmacd/client/go/hmacd"
	"github.com/hmacd/hmacd/client/go/internal/daemontest"
)

func TestBindExec(t *testing.T) {
	good := []string{
		`{"cmd":["ls","-l"]}`,
		`{"cmd":["sh"],"tty":true}`,
		` {"tty":false,"cmd":["ps"]} `,
	}
	for _, b := range good {
		if _, err := bindExec([]byte(b)); err != nil {
			t.Errorf("%s: %v", b, err)
		}
	}
	bad := []string{
		`{"cmd":["ls"],"container":"other"}`, // the seed's bug: scope from the body
		`{"CMD":["ls"]}`,                     // case-insensitive match
		`{"cmd":["ls"],"cmd":["rm","-rf","/"]}`,
		`{"cmd":["ls"]} {"cmd":["rm"]}`,
		`{"cmd":["ls"]}x`,
		`{"cmd":"ls"}`,
		`{"cmd":[]}`,
		`{"cmd":[""]}`,
		`["ls"]`,
		``,
		`{"cmd":["ls"],"tty":"yes"}`,
	}
	for _, b := range bad {
		if _, err := bindExec([]byte(b)); err == nil {
			t.Errorf("%s: accepted", b)
		}
	}
}

func TestExampleEndToEnd(t *testing.T) {
	d := daemontest.Start(t)
	k := d.CreateKey(t, "acme", "web-01")
	d.CreateKey(t, "acme", "web-02")
	client, err := hmacd.New(d.Socket, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	srv := httptest.NewServer(newServer(client))
	defer srv.Close()
	s := &hmacd.Signer{Tenant: k.Tenant, Epoch: k.Epoch, Secret: k.Secret}

	send := func(signFor, sendTo, body string) (int, string) {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/containers/"+signFor+"/exec", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		err = s.Sign(req, signFor, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		req.URL.Path = "/containers/" + sendTo + "/exec"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	code, body := send("web-01", "web-01", `{"cmd":["ls","-l"]}`)
	var out struct {
		Container string   `json:"container"`
		Cmd       []string `json:"cmd"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &out) != nil || out.Container != "web-01" ||
		strings.Join(out.Cmd, " ") != "ls -l" {
		t.Fatalf("signed exec: %d %s", code, body)
	}
	if code, body = send("web-01", "web-02", `{"cmd":["ls"]}`); code != 401 {
		t.Fatalf("signed for web-01, sent to web-02: %d %s", code, body)
	}
	if code, body = send("web-01", "web-01", `{"cmd":["ls"],"container":"web-02"}`); code != 400 {
		t.Fatalf("container in the body: %d %s", code, body)
	}
	resp, err := http.Post(srv.URL+"/containers/web-01/exec", "application/json",
		strings.NewReader(`{"cmd":["ls"]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("unsigned: %d", resp.StatusCode)
	}
}
