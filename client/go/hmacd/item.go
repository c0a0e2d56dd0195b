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

// Scheme is the signature scheme of an Item (PROTOCOL.md section 7).
type Scheme uint8

// The schemes. The zero value is hmacd-v1, whose items carry no "scheme" key on the wire.
const (
	SchemeHMACDV1 Scheme = 0 // the Authorization: HMACD-V1 signature (section 8)
	SchemeRFC9421 Scheme = 1 // RFC 9421 HTTP Message Signatures, hmac-sha256
)

// Item is one request to verify, or to sign (PROTOCOL.md section 7).
//
// An hmacd-v1 item (Scheme zero) uses the fields up to Sig. Its body is BodySHA256 (32 bytes)
// when it is non-nil, else Body (nil and empty both mean the empty body); setting both is an
// error.
//
// An rfc9421 item (Scheme SchemeRFC9421) uses Tenant, Container, Method, Path, Headers (every
// request header, in arrival order), Body and the fields after Sig; Epoch, Ts, Nonce, Sig and
// BodySHA256 must be zero (the key is found by the signature's keyid, the time and nonce are
// its parameters). Body is the body the application will be handed; it is always sent (nil
// and empty both mean the empty body), and the daemon checks a covered Content-Digest
// against it, so a signed body that an attacker stripped is refused. RequestItemRFC9421
// builds one from a received request.
//
// The client sends the item as given and the daemon judges it: an item that breaks a rule of
// section 7 gets VerdictMalformed.
type Item struct {
	Scheme     Scheme
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

	Authority      string // rfc9421: host[:port], the Host header
	URIScheme      string // rfc9421: "http" or "https"; "" is not sent and means "https"
	SignatureInput string // rfc9421: the Signature-Input value as received
	Signature      string // rfc9421: the Signature value as received
	Label          string // rfc9421: the signature to verify; "": the only one
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
	// VerdictInsufficientCoverage: a signature that does not cover what the policy of its
	// scope (its own, its tenant's, else the daemon's default) requires, decided before any
	// key is looked at. For an rfc9421 item: the required components, created, nonce,
	// content-digest when there is a body, @query (or @request-target / @target-uri) when
	// the target has a query. For an hmacd-v1 item, only under a policy set with
	// `hmacctl policy set ... --v1-nonce --v1-require HEADER...`: a nonce, or a header that
	// must be among the signed ones, missing (the default policy asks nothing more of
	// hmacd-v1, whose canonical string always binds method, path and query, body, time).
	VerdictInsufficientCoverage Verdict = 8
	// VerdictUnavailable (fleet mode only): the item, which has a nonce, passed every other
	// check, but the daemon could not claim its nonce fleet-wide in time (Redis unreachable or
	// slower than --fleet-timeout, or fewer replicas than --fleet-wait acknowledged). It fails
	// closed like a daemon that does not answer: a middleware answers 503, not 401. The claim
	// may have been made all the same, so a retry must be signed again with a new nonce.
	VerdictUnavailable Verdict = 9
)

var verdictNames = [...]string{
	VerdictOK:                   "OK",
	VerdictBadSignature:         "BAD_SIGNATURE",
	VerdictUnknownKey:           "UNKNOWN_KEY",
	VerdictKeyRevoked:           "KEY_REVOKED",
	VerdictKeyExpired:           "KEY_EXPIRED",
	VerdictStaleTimestamp:       "STALE_TIMESTAMP",
	VerdictReplay:               "REPLAY",
	VerdictMalformed:            "MALFORMED",
	VerdictInsufficientCoverage: "INSUFFICIENT_COVERAGE",
	VerdictUnavailable:          "UNAVAILABLE",
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

// ValidScope reports whether s can be a tenant or a container: 1 to 128 bytes, each one of
// A-Z a-z 0-9 . _ : / - (PROTOCOL.md section 7).
func ValidScope(s string) bool {
	return scopeOK(s)
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

// CheckItem reports whether the hmacd-v1 item it follows the content rules of PROTOCOL.md
// section 7, leaving out Sig (which signing computes). It returns nil or an error wrapping
// ErrMalformed that names the field (never its value). An rfc9421 item is judged by the
// daemon alone (its signer does not build an Item): CheckItem refuses it.
func CheckItem(it *Item) error {
	bad := func(field string) error { return fmt.Errorf("%w: %s", ErrMalformed, field) }
	switch {
	case it.Scheme != SchemeHMACDV1:
		return bad("scheme")
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
