// bench.go - the main of a Go example app built for bench/http/run.sh (issue 16).
//
// run.sh copies it next to a copy of the example's main.go (client/go/examples/nethttp or
// echo) whose main is renamed exampleMain, so the app is the example's own newServer, handler
// and middleware, built three ways by HMACD_BENCH_MODE:
//
//	hmacd   (or unset) the example exactly as shipped: exampleMain, hmacd behind HMACD_SOCKET
//	inproc  the same newServer with a Verifier that checks each item in this process: the
//	        client library's hmacd.Sign (its canonical string) and crypto/hmac, with the
//	        secrets read from the 0600 file HMACD_BENCH_KEYS (hmacctl key create --json
//	        lines), and the daemon's skew check (HMACD_BENCH_SKEW seconds, default 300)
//	noauth  the same newServer with a Verifier that accepts every item and computes nothing:
//	        the framework, the middleware's parsing and the body read, no HMAC, no daemon
//
// Never a production app: noauth lets every request through.
package main

import (
	"bufio"
	"context"
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/hmacd/hmacd/client/go/examples/internal/execapi"
	"github.com/hmacd/hmacd/client/go/hmacd"
)

type scope struct {
	tenant, container string
	epoch             uint64
}

// inprocVerifier verifies hmacd-v1 items as the daemon would, without a replay cache: an
// item with a nonce is refused, since the bench's requests carry none.
type inprocVerifier struct {
	keys map[scope][]byte
	skew int64
}

func (v *inprocVerifier) VerifyOne(ctx context.Context, it *hmacd.Item) (hmacd.Verdict, error) {
	if it.Scheme != hmacd.SchemeHMACDV1 || it.Nonce != "" {
		return hmacd.VerdictMalformed, nil
	}
	secret, ok := v.keys[scope{it.Tenant, it.Container, it.Epoch}]
	if !ok {
		return hmacd.VerdictUnknownKey, nil
	}
	d := time.Now().Unix() - int64(it.Ts)
	if d > v.skew || d < -v.skew {
		return hmacd.VerdictStaleTimestamp, nil
	}
	want := *it
	want.Sig = nil
	if err := hmacd.Sign(secret, &want); err != nil {
		return hmacd.VerdictMalformed, nil
	}
	if !hmac.Equal(want.Sig, it.Sig) {
		return hmacd.VerdictBadSignature, nil
	}
	return hmacd.VerdictOK, nil
}

type noauthVerifier struct{}

func (noauthVerifier) VerifyOne(ctx context.Context, it *hmacd.Item) (hmacd.Verdict, error) {
	return hmacd.VerdictOK, nil
}

func loadKeys(path string) (map[scope][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s: readable by others (mode %o), want 0600", path,
			st.Mode().Perm())
	}
	keys := map[scope][]byte{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var k struct {
			Tenant, Container, Secret string
			Epoch                     uint64
		}
		if err := json.Unmarshal(sc.Bytes(), &k); err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		secret, err := base64.StdEncoding.DecodeString(k.Secret)
		if err != nil {
			return nil, fmt.Errorf("%s: secret: %v", path, err)
		}
		keys[scope{k.Tenant, k.Container, k.Epoch}] = secret
	}
	return keys, sc.Err()
}

func benchVerifier(mode string) (hmacd.Verifier, error) {
	switch mode {
	case "noauth":
		return noauthVerifier{}, nil
	case "inproc":
		keys, err := loadKeys(os.Getenv("HMACD_BENCH_KEYS"))
		if err != nil {
			return nil, err
		}
		skew := int64(300)
		if s := os.Getenv("HMACD_BENCH_SKEW"); s != "" {
			skew, err = strconv.ParseInt(s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("HMACD_BENCH_SKEW: %v", err)
			}
		}
		return &inprocVerifier{keys: keys, skew: skew}, nil
	}
	return nil, fmt.Errorf("HMACD_BENCH_MODE=%q: not hmacd, inproc or noauth", mode)
}

func main() {
	mode := os.Getenv("HMACD_BENCH_MODE")
	if mode == "" || mode == "hmacd" {
		exampleMain()
		return
	}
	v, err := benchVerifier(mode)
	if err != nil {
		log.Fatal(err)
	}
	env, err := execapi.FromEnv()
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("bench mode %s, listening on http://%s", mode, env.Addr)
	log.Fatal(http.ListenAndServe(env.Addr, newServer(v, false)))
}
