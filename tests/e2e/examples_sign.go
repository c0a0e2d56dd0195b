// examples_sign.go - the Go client's signers (hmacd.Signer, hmacd.RFC9421Signer) as a filter,
// for tests/e2e/examples_check.py's cross-language matrix: one request to sign per line of
// stdin, the headers to add to it on a line of stdout (examples_check.py, "signer protocol").
// tests/e2e/examples.sh builds it with client/go/offline.sh.
package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"

	"github.com/hmacd/hmacd/client/go/hmacd"
)

type key struct {
	Tenant string `json:"tenant"`
	Epoch  uint64 `json:"epoch"`
	KeyID  string `json:"keyid"`
	Secret string `json:"secret"`
}

type request struct {
	Scheme     string            `json:"scheme"`
	Key        key               `json:"key"`
	Method     string            `json:"method"`
	URL        string            `json:"url"`
	Container  string            `json:"container"`
	Headers    map[string]string `json:"headers"`
	Body       []byte            `json:"body"` // base64 in the JSON
	Components []string          `json:"components"`
}

func sign(r *request) (map[string]string, error) {
	secret, err := base64.StdEncoding.DecodeString(r.Key.Secret)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(r.Method, r.URL, nil)
	if err != nil {
		return nil, err
	}
	for name, v := range r.Headers {
		if http.CanonicalHeaderKey(name) == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(name, v)
	}
	before := req.Header.Clone()
	if r.Scheme == "hmacd-v1" {
		s := hmacd.Signer{Tenant: r.Key.Tenant, Epoch: r.Key.Epoch, Secret: secret}
		err = s.Sign(req, r.Container, r.Body)
	} else {
		s := hmacd.RFC9421Signer{KeyID: r.Key.KeyID, Secret: secret, Components: r.Components}
		err = s.Sign(req, r.Body)
	}
	if err != nil {
		return nil, err
	}
	added := map[string]string{}
	for name := range req.Header {
		if before.Get(name) != req.Header.Get(name) {
			added[name] = req.Header.Get(name)
		}
	}
	return added, nil
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var r request
		var res interface{}
		err := json.Unmarshal(in.Bytes(), &r)
		if err == nil {
			res, err = sign(&r)
		}
		if err != nil {
			res = map[string]string{"error": err.Error()}
		}
		if err := out.Encode(res); err != nil {
			fmt.Fprintln(os.Stderr, "examples_sign:", err)
			os.Exit(1)
		}
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "examples_sign:", err)
		os.Exit(1)
	}
}
