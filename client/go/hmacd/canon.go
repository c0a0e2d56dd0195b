// canon.go - the hmacd-v1 canonical string (PROTOCOL.md section 8) and the signature over it.
//
// The string is the lines "hmacd-v1", tenant, container, epoch, method, path, ts, nonce (empty
// if none), one "name:value" line per signed header, each ended by LF, then the lower-case hex
// SHA-256 of the body with no LF after it. It is injective because no field can hold LF
// (CheckItem refuses every byte below 0x20), so it is built only from checked items.

package hmacd

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
)

// CanonicalPrefix is the first line of every hmacd-v1 canonical string.
const CanonicalPrefix = "hmacd-v1"

// Secret lengths Sign accepts; hmacctl makes 32-byte secrets.
const (
	MinSecretLen = 16
	MaxSecretLen = 64
)

// ErrBadSecret: a secret shorter than MinSecretLen or longer than MaxSecretLen.
var ErrBadSecret = errors.New("hmacd: secret length out of range")

// bodyDigest is the item's body digest: BodySHA256 as given, or the SHA-256 of Body.
func bodyDigest(it *Item) []byte {
	if it.BodySHA256 != nil {
		return it.BodySHA256
	}
	d := sha256.Sum256(it.Body)
	return d[:]
}

// Canonical returns the canonical string of it (its Sig is not used), or an error wrapping
// ErrMalformed if the item breaks a rule of PROTOCOL.md section 7. It is for tests and for
// debugging a signer: never log it in production, it names the request.
func Canonical(it *Item) ([]byte, error) {
	err := CheckItem(it)
	if err != nil {
		return nil, err
	}
	return appendCanonical(nil, it), nil
}

func appendCanonical(b []byte, it *Item) []byte {
	b = append(b, CanonicalPrefix...)
	b = append(b, '\n')
	b = append(b, it.Tenant...)
	b = append(b, '\n')
	b = append(b, it.Container...)
	b = append(b, '\n')
	b = strconv.AppendUint(b, it.Epoch, 10)
	b = append(b, '\n')
	b = append(b, it.Method...)
	b = append(b, '\n')
	b = append(b, it.Path...)
	b = append(b, '\n')
	b = strconv.AppendUint(b, it.Ts, 10)
	b = append(b, '\n')
	b = append(b, it.Nonce...)
	b = append(b, '\n')
	for _, h := range it.Headers {
		b = append(b, h.Name...)
		b = append(b, ':')
		b = append(b, h.Value...)
		b = append(b, '\n')
	}
	var hexd [2 * SHA256Len]byte
	hex.Encode(hexd[:], bodyDigest(it))
	return append(b, hexd[:]...)
}

// Sign sets it.Sig = HMAC-SHA256(secret, Canonical(it)). It returns ErrBadSecret, an error
// wrapping ErrMalformed, or nil. The canonical string is zeroed after use.
func Sign(secret []byte, it *Item) error {
	if len(secret) < MinSecretLen || len(secret) > MaxSecretLen {
		return ErrBadSecret
	}
	err := CheckItem(it)
	if err != nil {
		return err
	}
	canon := appendCanonical(make([]byte, 0, 256), it)
	m := hmac.New(sha256.New, secret)
	m.Write(canon)
	it.Sig = m.Sum(nil)
	for i := range canon {
		canon[i] = 0
	}
	return nil
}
