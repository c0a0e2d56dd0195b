// item.go - what is verified (Item), what the daemon answers (Verdict), and the content rules
// of PROTOCOL.md section 7, which a signer applies before signing.

package hmacd

import (
	"errors"
	"fmt"
	"strconv"
)

// Limits of PROTOCOL.md section 7.
const (
	MACLen       = 32  // bytes of a signature (HMAC-SHA256)
	SHA256Len    = 32  // bytes of a body digest
	MaxScopeLen  = 128 // bytes of a tenant or a container
	MaxMethodLen = 32  // bytes of a method
	MaxNonceLen  = 64  // bytes of a nonce
	MaxHeaders   = 64  // signed headers per item
)

// Header is one signed header: a lower-case name and its value as sent (PROTOCOL.md 13.3).
type Header struct {
	Name  string
	Value string
}

// Item is one request to verify, or to sign (PROTOCOL.md section 7).
//
// The body is BodySHA256 (32 bytes) when it is non-nil, else Body (nil and empty both mean the
// empty body); setting both is an error. The client sends the item as given and the daemon
// judges it: an item that breaks a rule of section 7 gets VerdictMalformed.
type Item struct {
	Tenant     string
	Container  string // from the route, never from the signer's word
	Epoch      uint64
	Method     string
	Path       string // the request target as sent: path plus ?query, not decoded
	Headers    []Header
	Body       []byte
	BodySHA256 []byte
	Ts         uint64 // unix seconds at signing
	Nonce      string // "" means no replay protection
	Sig        []byte // MACLen bytes
}

// Verdict is the daemon's answer for one item (PROTOCOL.md section 9). Every value other than
// VerdictOK means "reject", including values this package does not know (a later daemon may add
// some); a code above 255 is reported as 255.
type Verdict uint8

// The verdict codes of PROTOCOL.md section 9.
const (
	VerdictOK             Verdict = 0
	VerdictBadSignature   Verdict = 1
	VerdictUnknownKey     Verdict = 2
	VerdictKeyRevoked     Verdict = 3
	VerdictKeyExpired     Verdict = 4
	VerdictStaleTimestamp Verdict = 5
	VerdictReplay         Verdict = 6
	VerdictMalformed      Verdict = 7
)

var verdictNames = [...]string{
	VerdictOK:             "OK",
	VerdictBadSignature:   "BAD_SIGNATURE",
	VerdictUnknownKey:     "UNKNOWN_KEY",
	VerdictKeyRevoked:     "KEY_REVOKED",
	VerdictKeyExpired:     "KEY_EXPIRED",
	VerdictStaleTimestamp: "STALE_TIMESTAMP",
	VerdictReplay:         "REPLAY",
	VerdictMalformed:      "MALFORMED",
}

// String is the verdict's name as in PROTOCOL.md ("OK", "BAD_SIGNATURE", ...), or
// "VERDICT_<n>" for a code this package does not know.
func (v Verdict) String() string {
	if int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return "VERDICT_" + strconv.Itoa(int(v))
}

// ErrMalformed is returned by the signing functions for an item that breaks a rule of
// PROTOCOL.md section 7 (the daemon would answer VerdictMalformed).
var ErrMalformed = errors.New("hmacd: item breaks the protocol's content rules")

func isAlnum(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

func isScopeByte(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == ':' || c == '/' || c == '-'
}

// isTchar: the token characters of RFC 9110.
func isTchar(c byte) bool {
	if isAlnum(c) {
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

func scopeOK(s string) bool {
	if len(s) < 1 || len(s) > MaxScopeLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isScopeByte(s[i]) {
			return false
		}
	}
	return true
}

func tokenOK(s string, max int, lowerOnly bool) bool {
	if len(s) < 1 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isTchar(c) || (lowerOnly && c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// noCtl: no byte below 0x20 and no 0x7F, so no field can hold the LF that ends a line of the
// canonical string.
func noCtl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// CheckItem reports whether it follows the content rules of PROTOCOL.md section 7, leaving
// out Sig (which signing computes). It returns nil or an error wrapping ErrMalformed that names
// the field (never its value).
func CheckItem(it *Item) error {
	bad := func(field string) error { return fmt.Errorf("%w: %s", ErrMalformed, field) }
	switch {
	case !scopeOK(it.Tenant):
		return bad("tenant")
	case !scopeOK(it.Container):
		return bad("container")
	case it.Epoch < 1:
		return bad("epoch")
	case !tokenOK(it.Method, MaxMethodLen, false):
		return bad("method")
	case len(it.Path) < 1 || it.Path[0] != '/' || !noCtl(it.Path):
		return bad("path")
	case len(it.Nonce) > MaxNonceLen || !noCtl(it.Nonce):
		return bad("nonce")
	case len(it.Headers) > MaxHeaders:
		return bad("headers")
	case it.BodySHA256 != nil && it.Body != nil:
		return bad("body and body_sha256 both set")
	case it.BodySHA256 != nil && len(it.BodySHA256) != SHA256Len:
		return bad("body_sha256")
	}
	for i := range it.Headers {
		h := &it.Headers[i]
		if !tokenOK(h.Name, int(^uint(0)>>1), true) || !noCtl(h.Value) {
			return bad("header " + strconv.Itoa(i))
		}
	}
	return nil
}
