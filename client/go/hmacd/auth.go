// auth.go - the "Authorization: HMACD-V1 ..." header of PROTOCOL.md 13.1: formatting it (the
// signer) and parsing it strictly (the middleware). The parser accepts exactly what 13.1
// allows and nothing else, because a lenient parser is where two implementations start to
// disagree about what was signed.

package hmacd

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// AuthScheme is the scheme token of the Authorization header (case-sensitive).
const AuthScheme = "HMACD-V1"

// ErrBadAuthorization: the Authorization header is missing or does not follow PROTOCOL.md 13.1.
var ErrBadAuthorization = errors.New("hmacd: invalid Authorization header")

// Authorization is the content of an HMACD-V1 Authorization header. There is no container on
// purpose: the container is never the signer's claim.
type Authorization struct {
	Tenant        string
	Epoch         uint64
	Timestamp     uint64
	Nonce         string   // "" when absent
	SignedHeaders []string // lower-case names, in signing order
	Signature     []byte   // MACLen bytes
}

// String formats a as a header value: the parameters in the order of PROTOCOL.md 13.1,
// separated by ", "; Nonce and SignedHeaders are left out when empty.
func (a *Authorization) String() string {
	var b strings.Builder
	b.Grow(160)
	b.WriteString(AuthScheme)
	b.WriteString(" Tenant=")
	b.WriteString(a.Tenant)
	b.WriteString(", Epoch=")
	b.WriteString(strconv.FormatUint(a.Epoch, 10))
	b.WriteString(", Timestamp=")
	b.WriteString(strconv.FormatUint(a.Timestamp, 10))
	if a.Nonce != "" {
		b.WriteString(", Nonce=")
		b.WriteString(a.Nonce)
	}
	if len(a.SignedHeaders) > 0 {
		b.WriteString(", SignedHeaders=")
		b.WriteString(strings.Join(a.SignedHeaders, ";"))
	}
	b.WriteString(", Signature=")
	b.WriteString(base64.StdEncoding.EncodeToString(a.Signature))
	return b.String()
}

// decimal parses a decimal number with no sign and no leading zeros that fits in 64 bits.
func decimal(s string) (uint64, bool) {
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

func nonceOK(s string) bool {
	if len(s) < 1 || len(s) > MaxNonceLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && c != '.' && c != '_' && c != '~' && c != '-' {
			return false
		}
	}
	return true
}

// ParseAuthorization parses an Authorization header value as PROTOCOL.md 13.1 specifies, read
// strictly as proto/vectors/README.md pins it down: the scheme "HMACD-V1", exactly one space,
// then Name=value parameters separated by "," with optional spaces (not tabs) around it only;
// no quoting, no empty parameter; names are case-sensitive, each at most once, unknown names
// refused; Tenant, Epoch, Timestamp and Signature are required; Signature is canonical
// standard base64 of 32 bytes.
// Errors wrap ErrBadAuthorization and name the parameter, never its value.
func ParseAuthorization(v string) (*Authorization, error) {
	bad := func(why string) error { return fmt.Errorf("%w: %s", ErrBadAuthorization, why) }
	if !strings.HasPrefix(v, AuthScheme+" ") {
		return nil, bad("scheme")
	}
	rest := v[len(AuthScheme)+1:]
	// Spaces only around commas: not after the scheme's one space, not at the end.
	if rest == "" || rest[0] == ' ' || rest[len(rest)-1] == ' ' {
		return nil, bad("spacing")
	}
	a := &Authorization{}
	var seen struct{ tenant, epoch, ts, nonce, headers, sig bool }
	for _, p := range strings.Split(rest, ",") {
		p = strings.Trim(p, " ")
		eq := strings.IndexByte(p, '=')
		if eq < 1 {
			return nil, bad("parameter syntax")
		}
		name, val := p[:eq], p[eq+1:]
		var dup bool
		switch name {
		case "Tenant":
			dup, seen.tenant = seen.tenant, true
			if !scopeOK(val) {
				return nil, bad("Tenant")
			}
			a.Tenant = val
		case "Epoch":
			dup, seen.epoch = seen.epoch, true
			n, ok := decimal(val)
			if !ok || n < 1 {
				return nil, bad("Epoch")
			}
			a.Epoch = n
		case "Timestamp":
			dup, seen.ts = seen.ts, true
			n, ok := decimal(val)
			if !ok {
				return nil, bad("Timestamp")
			}
			a.Timestamp = n
		case "Nonce":
			dup, seen.nonce = seen.nonce, true
			if !nonceOK(val) {
				return nil, bad("Nonce")
			}
			a.Nonce = val
		case "SignedHeaders":
			dup, seen.headers = seen.headers, true
			if val == "" {
				break
			}
			names := strings.Split(val, ";")
			if len(names) > MaxHeaders {
				return nil, bad("SignedHeaders")
			}
			for _, n := range names {
				if !tokenOK(n, len(n), true) {
					return nil, bad("SignedHeaders")
				}
			}
			a.SignedHeaders = names
		case "Signature":
			dup, seen.sig = seen.sig, true
			if len(val) != 44 {
				return nil, bad("Signature")
			}
			sig, err := base64.StdEncoding.Strict().DecodeString(val)
			if err != nil || len(sig) != MACLen {
				return nil, bad("Signature")
			}
			a.Signature = sig
		default:
			return nil, bad("unknown parameter")
		}
		if dup {
			return nil, bad("repeated parameter")
		}
	}
	if !seen.tenant || !seen.epoch || !seen.ts || !seen.sig {
		return nil, bad("missing parameter")
	}
	return a, nil
}
