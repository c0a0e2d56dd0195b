// wire_test.go - the encoder against the bytes of PROTOCOL.md section 14, the strict response
// decoder, the worked example of section 8, and the write-on-a-closed-socket premise that
// resending relies on. No daemon needed.

package hmacd

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// workedExample is the item of PROTOCOL.md section 8.
func workedExample() (Item, []byte) {
	secret, _ := hex.DecodeString(
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
	return Item{
		Tenant:    "acme",
		Container: "web-01",
		Epoch:     3,
		Method:    "POST",
		Path:      "/containers/web-01/exec?tty=1",
		Headers: []Header{
			{"content-type", "application/json"},
			{"x-request-id", "req-42"},
		},
		Body:  []byte(`{"cmd":["ls","-l"]}`),
		Ts:    1700000000,
		Nonce: "8f14e45fceea167a",
	}, secret
}

func TestWorkedExample(t *testing.T) {
	it, secret := workedExample()
	canon, err := Canonical(&it)
	if err != nil {
		t.Fatal(err)
	}
	want := "hmacd-v1\nacme\nweb-01\n3\nPOST\n/containers/web-01/exec?tty=1\n1700000000\n" +
		"8f14e45fceea167a\ncontent-type:application/json\nx-request-id:req-42\n" +
		"f1d08736d9b5ae2812bd7c1d5b4657616d57ade382095f44e9a914cbc8e30f61"
	if string(canon) != want || len(canon) != 200 {
		t.Fatalf("canonical string:\n%q\nwant\n%q", canon, want)
	}
	err = Sign(secret, &it)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(it.Sig); got !=
		"83b55937fb410a3bcbe53204bf2baa4d1f062cf8509914b176ba56f509069dab" {
		t.Fatalf("sig %s", got)
	}
	// body_sha256 instead of body: the same string.
	d, _ := hex.DecodeString("f1d08736d9b5ae2812bd7c1d5b4657616d57ade382095f44e9a914cbc8e30f61")
	it.Body, it.BodySHA256 = nil, d
	canon2, err := Canonical(&it)
	if err != nil || !bytes.Equal(canon, canon2) {
		t.Fatalf("body_sha256 form differs: %v", err)
	}
}

func TestCheckItemRules(t *testing.T) {
	base, secret := workedExample()
	cases := map[string]func(*Item){
		"tenant empty":       func(it *Item) { it.Tenant = "" },
		"tenant space":       func(it *Item) { it.Tenant = "a b" },
		"tenant 129":         func(it *Item) { it.Tenant = strings.Repeat("a", 129) },
		"container LF":       func(it *Item) { it.Container = "web\n01" },
		"epoch 0":            func(it *Item) { it.Epoch = 0 },
		"method space":       func(it *Item) { it.Method = "PO ST" },
		"method 33":          func(it *Item) { it.Method = strings.Repeat("A", 33) },
		"path relative":      func(it *Item) { it.Path = "containers" },
		"path DEL":           func(it *Item) { it.Path = "/a\x7f" },
		"nonce 65":           func(it *Item) { it.Nonce = strings.Repeat("n", 65) },
		"nonce CR":           func(it *Item) { it.Nonce = "a\rb" },
		"header upper":       func(it *Item) { it.Headers[0].Name = "Content-Type" },
		"header colon":       func(it *Item) { it.Headers[0].Name = "a:b" },
		"header value tab":   func(it *Item) { it.Headers[0].Value = "a\tb" },
		"both body forms":    func(it *Item) { it.BodySHA256 = make([]byte, 32) },
		"body_sha256 31":     func(it *Item) { it.Body = nil; it.BodySHA256 = make([]byte, 31) },
		"65 headers":         func(it *Item) { it.Headers = make([]Header, 65) },
		"header name empty":  func(it *Item) { it.Headers[1].Name = "" },
		"method non-ascii":   func(it *Item) { it.Method = "P\xc3\xb6ST" },
		"container too long": func(it *Item) { it.Container = strings.Repeat("c", 129) },
	}
	for name, mutate := range cases {
		it := base
		it.Headers = append([]Header(nil), base.Headers...)
		mutate(&it)
		if err := Sign(secret, &it); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Sign: %v, want ErrMalformed", name, err)
		}
	}
	it := base
	it.Path = "/caf\xc3\xa9?q=%20" // bytes from 0x80 up are allowed in a path
	if err := Sign(secret, &it); err != nil {
		t.Errorf("non-ASCII path: %v", err)
	}
	if err := Sign(secret[:15], &it); !errors.Is(err, ErrBadSecret) {
		t.Errorf("short secret: %v", err)
	}
}

// The verify request of PROTOCOL.md section 14, byte for byte.
func TestEncodeVerifyRequest(t *testing.T) {
	it, secret := workedExample()
	if err := Sign(secret, &it); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	if err := appendRequestHead(&buf, enc, 2, opVerify, 1); err != nil {
		t.Fatal(err)
	}
	if err := encodeItem(enc, &it); err != nil {
		t.Fatal(err)
	}
	finishFrame(buf.Bytes(), 0)
	want := unhex(t, `
00 00 01 06 83 a2 69 64 02 a2 6f 70 a6 76 65 72 69 66 79 a5 69 74 65 6d 73 91 8a a6 74 65 6e 61
6e 74 a4 61 63 6d 65 a9 63 6f 6e 74 61 69 6e 65 72 a6 77 65 62 2d 30 31 a5 65 70 6f 63 68 03 a6
6d 65 74 68 6f 64 a4 50 4f 53 54 a4 70 61 74 68 bd 2f 63 6f 6e 74 61 69 6e 65 72 73 2f 77 65 62
2d 30 31 2f 65 78 65 63 3f 74 74 79 3d 31 a7 68 65 61 64 65 72 73 92 92 ac 63 6f 6e 74 65 6e 74
2d 74 79 70 65 b0 61 70 70 6c 69 63 61 74 69 6f 6e 2f 6a 73 6f 6e 92 ac 78 2d 72 65 71 75 65 73
74 2d 69 64 a6 72 65 71 2d 34 32 a4 62 6f 64 79 c4 13 7b 22 63 6d 64 22 3a 5b 22 6c 73 22 2c 22
2d 6c 22 5d 7d a2 74 73 ce 65 53 f1 00 a5 6e 6f 6e 63 65 b0 38 66 31 34 65 34 35 66 63 65 65 61
31 36 37 61 a3 73 69 67 c4 20 83 b5 59 37 fb 41 0a 3b cb e5 32 04 bf 2b aa 4d 1f 06 2c f8 50 99
14 b1 76 ba 56 f5 09 06 9d ab`)
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("verify frame:\n%x\nwant\n%x", buf.Bytes(), want)
	}

	buf.Reset()
	if err := appendRequestHead(&buf, enc, 1, opPing, 0); err != nil {
		t.Fatal(err)
	}
	finishFrame(buf.Bytes(), 0)
	if want := unhex(t, "00 00 00 0d 82 a2 69 64 01 a2 6f 70 a4 70 69 6e 67"); !bytes.Equal(
		buf.Bytes(), want) {
		t.Fatalf("ping frame %x", buf.Bytes())
	}
}

func TestDecodeResponse(t *testing.T) {
	ok := map[string]string{
		"pong":   "82 a2 69 64 01 a4 70 6f 6e 67 c3",
		"verify": "82 a2 69 64 02 a7 72 65 73 75 6c 74 73 91 00",
		"stats": "82 a2 69 64 04 a5 73 74 61 74 73 82 a8 72 65 71 75 65 73 74 73 0a aa 76 65 72 " +
			"64 69 63 74 5f 6f 6b 07",
		"error": "83 a2 69 64 03 a5 65 72 72 6f 72 aa 75 6e 6b 6e 6f 77 6e 5f 6f 70 a7 6d 65 73 " +
			"73 61 67 65 a1 78",
		"error nil id": "83 a2 69 64 c0 a5 65 72 72 6f 72 a9 6d 61 6c 66 6f 72 6d 65 64 a7 6d " +
			"65 73 73 61 67 65 a1 78",
		"results uint16, key order": "82 a7 72 65 73 75 6c 74 73 92 cd 00 01 d0 07 a2 69 64 cc 80",
	}
	for name, h := range ok {
		r, err := decodeResponse(unhex(t, h))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		switch name {
		case "verify":
			if r.id != 2 || len(r.results) != 1 || r.results[0] != VerdictOK {
				t.Errorf("verify: %+v", r)
			}
		case "stats":
			if r.stats["requests"] != 10 || r.stats["verdict_ok"] != 7 {
				t.Errorf("stats: %+v", r.stats)
			}
		case "error nil id":
			if r.hasID || r.errCode != "malformed" {
				t.Errorf("error nil id: %+v", r)
			}
		case "results uint16, key order":
			if r.id != 128 || len(r.results) != 2 || r.results[0] != 1 || r.results[1] != 7 {
				t.Errorf("%s: %+v", name, r)
			}
		}
	}
	bad := map[string]string{
		"empty":            "",
		"not a map":        "07",
		"trailing":         "82 a2 69 64 01 a4 70 6f 6e 67 c3 00",
		"pong false":       "82 a2 69 64 01 a4 70 6f 6e 67 c2",
		"no kind":          "81 a2 69 64 01",
		"two kinds":        "83 a2 69 64 01 a4 70 6f 6e 67 c3 a7 72 65 73 75 6c 74 73 90",
		"unknown key":      "83 a2 69 64 01 a4 70 6f 6e 67 c3 a1 78 01",
		"missing id":       "81 a4 70 6f 6e 67 c3",
		"nil id, no error": "82 a2 69 64 c0 a4 70 6f 6e 67 c3",
		"repeated id":      "83 a2 69 64 01 a2 69 64 01 a4 70 6f 6e 67 c3",
		"negative result":  "82 a2 69 64 02 a7 72 65 73 75 6c 74 73 91 ff",
		"nil result":       "82 a2 69 64 02 a7 72 65 73 75 6c 74 73 91 c0",
		"bin key":          "82 c4 02 69 64 02 a7 72 65 73 75 6c 74 73 91 00",
		"huge array":       "82 a2 69 64 02 a7 72 65 73 75 6c 74 73 dd ff ff ff ff",
		"ext map":          "d4 00 00",
		"float id":         "82 a2 69 64 ca 00 00 00 00 a4 70 6f 6e 67 c3",
		"message alone":    "83 a2 69 64 01 a4 70 6f 6e 67 c3 a7 6d 65 73 73 61 67 65 a1 78",
		"truncated":        "82 a2 69 64 02 a7 72 65 73 75 6c 74 73 92 00",
	}
	for name, h := range bad {
		if _, err := decodeResponse(unhex(t, h)); !errors.Is(err, ErrProtocol) {
			t.Errorf("%s: %v, want ErrProtocol", name, err)
		}
	}
}

// Resending relies on this: a write to a Unix socket whose peer has closed writes nothing.
func TestWriteToClosedPeerWritesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s")
	if len(path) > 100 {
		dir, _ = os.MkdirTemp("", "hm")
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "s")
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nc, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	peer.Close()
	cn := &conn{nc: nc, timeout: time.Second, maxInFlight: 1}
	cn.wenc = msgpack.NewEncoder(&cn.wbuf)
	cl := &call{op: opPing, state: callSent, done: make(chan result, 2)}
	f := &frame{id: 1, op: opPing, calls: []*call{cl}}
	cn.inflight = []*frame{f}
	cn.write(f)
	if r := <-cl.done; !r.retry || !r.unsent {
		t.Fatalf("write to a closed peer: %+v, want a retry with nothing written", r)
	}
	if !cn.dead || len(cn.inflight) != 0 {
		t.Fatalf("connection not dead or frame still in flight")
	}
}

// encodedKeys encodes it and returns its keys in order, each with "s" (str) or "b" (bin) or
// "a<n>" (array of n [str, str] pairs) for its value.
func encodedKeys(t *testing.T, it *Item) ([]string, error) {
	t.Helper()
	var buf bytes.Buffer
	err := encodeItem(msgpack.NewEncoder(&buf), it)
	if err != nil {
		return nil, err
	}
	dec := msgpack.NewDecoder(&buf)
	n, err := dec.DecodeMapLen()
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for i := 0; i < n; i++ {
		k, err := dec.DecodeString()
		if err != nil {
			t.Fatal(err)
		}
		c, err := dec.PeekCode()
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case isStrCode(c):
			_, err = dec.DecodeString()
			k += ":s"
		case isArrayCode(c):
			var pairs [][]string
			err = dec.Decode(&pairs)
			k += ":a" + strconv.Itoa(len(pairs))
		default:
			_, err = dec.DecodeBytes()
			k += ":b"
		}
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	if buf.Len() != 0 {
		t.Fatal("trailing bytes")
	}
	return keys, nil
}

// An rfc9421 item: the keys of PROTOCOL.md 7.2 in the table's order, uri_scheme and label
// only when set, body always; fields of the other scheme are refused rather than dropped.
func TestEncodeRFC9421Item(t *testing.T) {
	it := Item{Scheme: SchemeRFC9421, Tenant: "acme", Container: "c1", Method: "GET",
		Authority: "example.com", Path: "/a?b", SignatureInput: `s=("@method");keyid="k"`,
		Signature: "s=:AAAA:"}
	keys, err := encodedKeys(t, &it)
	want := "scheme:s tenant:s container:s method:s authority:s path:s headers:a0 " +
		"signature_input:s signature:s body:b"
	if err != nil || strings.Join(keys, " ") != want {
		t.Fatalf("keys %v, %v\nwant %s", keys, err, want)
	}
	// A nil or empty Body is the empty body, sent as an empty bin: a daemon that gets no
	// body may skip a covered Content-Digest, which lets a stripped body through.
	for _, body := range [][]byte{nil, {}} {
		it.Body = body
		var buf bytes.Buffer
		err = encodeItem(msgpack.NewEncoder(&buf), &it)
		if err != nil || !bytes.HasSuffix(buf.Bytes(), []byte("\xa4body\xc4\x00")) {
			t.Fatalf("Body %#v: %v, encoding ends % x", body, err, buf.Bytes()[buf.Len()-8:])
		}
	}
	it.URIScheme, it.Label, it.Body = "http", "s", []byte("x")
	it.Headers = []Header{{"host", "example.com"}, {"x-a", "1"}}
	keys, err = encodedKeys(t, &it)
	want = "scheme:s tenant:s container:s method:s authority:s path:s uri_scheme:s headers:a2 " +
		"signature_input:s signature:s label:s body:b"
	if err != nil || strings.Join(keys, " ") != want {
		t.Fatalf("keys %v, %v\nwant %s", keys, err, want)
	}
	var buf bytes.Buffer
	_ = encodeItem(msgpack.NewEncoder(&buf), &it)
	if !bytes.HasPrefix(buf.Bytes(), []byte("\x8c\xa6scheme\xa7rfc9421")) {
		t.Fatalf("encoding starts % x", buf.Bytes()[:16])
	}

	for name, mutate := range map[string]func(*Item){
		"epoch":        func(it *Item) { it.Epoch = 1 },
		"ts":           func(it *Item) { it.Ts = 1 },
		"nonce":        func(it *Item) { it.Nonce = "n" },
		"sig":          func(it *Item) { it.Sig = []byte{} },
		"body_sha256":  func(it *Item) { it.BodySHA256 = make([]byte, 32) },
		"v1 authority": func(it *Item) { it.Scheme = SchemeHMACDV1 },
		"scheme 2":     func(it *Item) { it.Scheme = 2 },
	} {
		bad := it
		mutate(&bad)
		if _, err := encodedKeys(t, &bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	v1, _ := workedExample()
	v1.Scheme = SchemeRFC9421
	if err := CheckItem(&v1); !errors.Is(err, ErrMalformed) {
		t.Errorf("CheckItem of an rfc9421 item: %v", err)
	}
	if VerdictInsufficientCoverage != 8 || VerdictInsufficientCoverage.String() !=
		"INSUFFICIENT_COVERAGE" || VerdictUnavailable != 9 ||
		VerdictUnavailable.String() != "UNAVAILABLE" || Verdict(10).String() != "VERDICT_10" {
		t.Error("verdicts 8 and 9")
	}
}
