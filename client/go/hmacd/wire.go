// wire.go - frames and msgpack messages (PROTOCOL.md sections 2 to 7; both item schemes).
//
// Requests are encoded with the smallest msgpack forms, str and bin kept apart (section 3).
// Responses are decoded strictly, as section 5 asks of a client: exactly one map, known keys
// each at most once, exactly one kind key, uint results and counters. The msgpack library is
// lenient (it reads nil as 0 and bin as str), so every value's type byte is checked before the
// library reads it.

package hmacd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

const frameHeaderLen = 4

// maxResponse bounds a response payload: one byte per verdict for the largest batch the
// daemon allows (--max-batch caps at well under this) plus the stats map.
const maxResponse = 16 << 20

// encodeItem writes the msgpack map of one verify item with enc.
func encodeItem(enc *msgpack.Encoder, it *Item) error {
	switch it.Scheme {
	case SchemeHMACDV1:
	case SchemeRFC9421:
		return encodeRFC9421Item(enc, it)
	default:
		return fmt.Errorf("%w: unknown scheme %d", ErrInvalid, it.Scheme)
	}
	if it.Authority != "" || it.URIScheme != "" || it.SignatureInput != "" ||
		it.Signature != "" || it.Label != "" {
		return fmt.Errorf("%w: rfc9421 field in an hmacd-v1 item", ErrInvalid)
	}
	if it.Body != nil && it.BodySHA256 != nil {
		return fmt.Errorf("%w: both Body and BodySHA256 set", ErrInvalid)
	}
	n := 9
	if it.Nonce != "" {
		n++
	}
	w := errWriter{enc: enc}
	w.mapLen(n)
	w.strField("tenant", it.Tenant)
	w.strField("container", it.Container)
	w.uintField("epoch", it.Epoch)
	w.strField("method", it.Method)
	w.strField("path", it.Path)
	w.headers(it.Headers)
	if it.BodySHA256 != nil {
		w.binField("body_sha256", it.BodySHA256)
	} else {
		w.binField("body", it.Body)
	}
	w.uintField("ts", it.Ts)
	if it.Nonce != "" {
		w.strField("nonce", it.Nonce)
	}
	w.binField("sig", it.Sig)
	return w.err
}

// encodeRFC9421Item writes an rfc9421 item: the keys in the order of PROTOCOL.md 7.2,
// uri_scheme and label only when set, body always (a nil Body as an empty bin). An item without
// a body would let a stripped body through a daemon that skips the Content-Digest check when
// no body is sent (issue 10, finding 1), so the client never sends one.
func encodeRFC9421Item(enc *msgpack.Encoder, it *Item) error {
	if it.Epoch != 0 || it.Ts != 0 || it.Nonce != "" || it.Sig != nil || it.BodySHA256 != nil {
		return fmt.Errorf("%w: hmacd-v1 field in an rfc9421 item", ErrInvalid)
	}
	n := 10
	for _, set := range []bool{it.URIScheme != "", it.Label != ""} {
		if set {
			n++
		}
	}
	w := errWriter{enc: enc}
	w.mapLen(n)
	w.strField("scheme", "rfc9421")
	w.strField("tenant", it.Tenant)
	w.strField("container", it.Container)
	w.strField("method", it.Method)
	w.strField("authority", it.Authority)
	w.strField("path", it.Path)
	if it.URIScheme != "" {
		w.strField("uri_scheme", it.URIScheme)
	}
	w.headers(it.Headers)
	w.strField("signature_input", it.SignatureInput)
	w.strField("signature", it.Signature)
	if it.Label != "" {
		w.strField("label", it.Label)
	}
	w.binField("body", it.Body)
	return w.err
}

// errWriter makes the encoder's errors sticky: one check at the end (STYLE.md rule 9).
type errWriter struct {
	enc *msgpack.Encoder
	err error
}

func (w *errWriter) mapLen(n int) {
	if w.err == nil {
		w.err = w.enc.EncodeMapLen(n)
	}
}

func (w *errWriter) arrayLen(n int) {
	if w.err == nil {
		w.err = w.enc.EncodeArrayLen(n)
	}
}

func (w *errWriter) str(s string) {
	if w.err == nil {
		w.err = w.enc.EncodeString(s)
	}
}

func (w *errWriter) uint(n uint64) {
	if w.err == nil {
		w.err = w.enc.EncodeUint(n)
	}
}

// bin writes a msgpack bin; a nil slice is written as an empty bin (the library would write
// nil, which is never a valid field value).
func (w *errWriter) bin(b []byte) {
	if b == nil {
		b = []byte{}
	}
	if w.err == nil {
		w.err = w.enc.EncodeBytes(b)
	}
}

// strField, uintField and binField write one key of a map and its value.
func (w *errWriter) strField(key, v string) {
	w.str(key)
	w.str(v)
}

func (w *errWriter) uintField(key string, v uint64) {
	w.str(key)
	w.uint(v)
}

func (w *errWriter) binField(key string, v []byte) {
	w.str(key)
	w.bin(v)
}

// headers writes the "headers" key and its array of [name, value] pairs.
func (w *errWriter) headers(hs []Header) {
	w.str("headers")
	w.arrayLen(len(hs))
	for i := range hs {
		w.arrayLen(2)
		w.str(hs[i].Name)
		w.str(hs[i].Value)
	}
}

// appendRequestHead appends a frame header (its length filled in later by finishFrame) and
// the request map up to the items array header: {"id": id, "op": op[, "items": [<nitems>]]}.
func appendRequestHead(buf *bytes.Buffer, enc *msgpack.Encoder, id uint64, op string,
	nitems int) error {
	buf.Write([]byte{0, 0, 0, 0})
	w := errWriter{enc: enc}
	if op == opVerify {
		w.mapLen(3)
	} else {
		w.mapLen(2)
	}
	w.uintField("id", id)
	w.strField("op", op)
	if op == opVerify {
		w.str("items")
		w.arrayLen(nitems)
	}
	return w.err
}

// finishFrame writes the payload length of the frame that starts at start.
func finishFrame(b []byte, start int) {
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start-frameHeaderLen))
}

const (
	opVerify = "verify"
	opPing   = "ping"
	opStats  = "stats"
)

// response is one decoded answer. Exactly one of the kinds is set.
type response struct {
	id       uint64
	hasID    bool
	results  []Verdict
	pong     bool
	stats    map[string]uint64
	errCode  string
	errMsg   string
	hasError bool
}

var errShape = errors.New("unexpected msgpack value")

func isUintCode(c byte) bool {
	return c <= msgpcode.PosFixedNumHigh ||
		c == msgpcode.Uint8 || c == msgpcode.Uint16 || c == msgpcode.Uint32 ||
		c == msgpcode.Uint64 || c == msgpcode.Int8 || c == msgpcode.Int16 ||
		c == msgpcode.Int32 || c == msgpcode.Int64
}

func isStrCode(c byte) bool {
	return msgpcode.IsFixedString(c) || c == msgpcode.Str8 || c == msgpcode.Str16 ||
		c == msgpcode.Str32
}

func isMapCode(c byte) bool {
	return msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32
}

func isArrayCode(c byte) bool {
	return msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32
}

// reader decodes with type checks; r is the payload, to bound lengths by what remains.
type reader struct {
	d *msgpack.Decoder
	r *bytes.Reader
}

func (rd *reader) peek() (byte, error) {
	return rd.d.PeekCode()
}

func (rd *reader) uint() (uint64, error) {
	c, err := rd.peek()
	if err != nil {
		return 0, err
	}
	if !isUintCode(c) {
		return 0, errShape
	}
	if c == msgpcode.Int8 || c == msgpcode.Int16 || c == msgpcode.Int32 || c == msgpcode.Int64 {
		n, err := rd.d.DecodeInt64()
		if err != nil {
			return 0, err
		}
		if n < 0 {
			return 0, errShape
		}
		return uint64(n), nil
	}
	return rd.d.DecodeUint64()
}

func (rd *reader) str() (string, error) {
	c, err := rd.peek()
	if err != nil {
		return "", err
	}
	if !isStrCode(c) {
		return "", errShape
	}
	return rd.d.DecodeString()
}

// count reads a map or array header; each element needs at least `per` bytes, so a count
// claiming more than what remains is refused before anything is allocated.
func (rd *reader) count(isMap bool, per int) (int, error) {
	c, err := rd.peek()
	if err != nil {
		return 0, err
	}
	var n int
	if isMap {
		if !isMapCode(c) {
			return 0, errShape
		}
		n, err = rd.d.DecodeMapLen()
	} else {
		if !isArrayCode(c) {
			return 0, errShape
		}
		n, err = rd.d.DecodeArrayLen()
	}
	if err != nil {
		return 0, err
	}
	if n < 0 || n > rd.r.Len()/per {
		return 0, errShape
	}
	return n, nil
}

// decodeResponse decodes one response payload strictly (PROTOCOL.md section 5).
func decodeResponse(p []byte) (*response, error) {
	br := bytes.NewReader(p)
	rd := reader{d: msgpack.NewDecoder(br), r: br}
	resp, err := decodeResponseMap(&rd)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	if br.Len() != 0 {
		return nil, fmt.Errorf("%w: trailing bytes after the response", ErrProtocol)
	}
	return resp, nil
}

func decodeResponseMap(rd *reader) (*response, error) {
	n, err := rd.count(true, 2)
	if err != nil {
		return nil, err
	}
	resp := &response{}
	var seenID, seenMsg bool
	kinds := 0
	for i := 0; i < n; i++ {
		key, err := rd.str()
		if err != nil {
			return nil, err
		}
		switch key {
		case "id":
			if seenID {
				return nil, errors.New("repeated id")
			}
			seenID = true
			c, err := rd.peek()
			if err != nil {
				return nil, err
			}
			if c == msgpcode.Nil {
				err = rd.d.DecodeNil()
				if err != nil {
					return nil, err
				}
				continue
			}
			resp.id, err = rd.uint()
			if err != nil {
				return nil, err
			}
			resp.hasID = true
		case "results":
			kinds++
			m, err := rd.count(false, 1)
			if err != nil {
				return nil, err
			}
			resp.results = make([]Verdict, m)
			for j := 0; j < m; j++ {
				v, err := rd.uint()
				if err != nil {
					return nil, err
				}
				if v > 255 {
					v = 255
				}
				resp.results[j] = Verdict(v)
			}
		case "pong":
			kinds++
			c, err := rd.peek()
			if err != nil {
				return nil, err
			}
			if c != msgpcode.True {
				return nil, errors.New("pong is not true")
			}
			resp.pong, err = rd.d.DecodeBool()
			if err != nil {
				return nil, err
			}
		case "stats":
			kinds++
			m, err := rd.count(true, 2)
			if err != nil {
				return nil, err
			}
			resp.stats = make(map[string]uint64, m)
			for j := 0; j < m; j++ {
				name, err := rd.str()
				if err != nil {
					return nil, err
				}
				v, err := rd.uint()
				if err != nil {
					return nil, err
				}
				if _, dup := resp.stats[name]; dup {
					return nil, errors.New("repeated counter")
				}
				resp.stats[name] = v
			}
		case "error":
			kinds++
			resp.errCode, err = rd.str()
			if err != nil {
				return nil, err
			}
			resp.hasError = true
		case "message":
			if seenMsg {
				return nil, errors.New("repeated message")
			}
			seenMsg = true
			resp.errMsg, err = rd.str()
			if err != nil {
				return nil, err
			}
		default:
			return nil, errors.New("unknown key")
		}
	}
	if kinds != 1 {
		return nil, errors.New("not exactly one of results, pong, stats, error")
	}
	if !seenID || (!resp.hasID && !resp.hasError) {
		return nil, errors.New("missing id")
	}
	if seenMsg && !resp.hasError {
		return nil, errors.New("message outside an error response")
	}
	return resp, nil
}
