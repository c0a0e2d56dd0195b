// identity.go - what a middleware hands the handler of a verified request: the Identity its
// signature established, in the request's context.

package hmacd

import (
	"context"
	"strconv"
)

// String is the scheme's name as on the wire and in logs: "hmacd-v1" or "rfc9421".
func (s Scheme) String() string {
	switch s {
	case SchemeHMACDV1:
		return "hmacd-v1"
	case SchemeRFC9421:
		return "rfc9421"
	}
	return "scheme_" + strconv.Itoa(int(s))
}

// Identity is what the signature of a verified request established, as the Python and Node
// middleware give it to their handlers. Tenant and Container are the verified scope: the
// container is the one the router found in the path, which the signature was checked
// against.
type Identity struct {
	Scheme    Scheme // SchemeHMACDV1 or SchemeRFC9421
	Tenant    string
	Container string
	Nonce     string // the signature's nonce, "" without one

	// hmacd-v1 only
	Epoch     uint64 // the key epoch that signed
	Timestamp uint64 // unix seconds at signing

	// rfc9421 only
	Label   string   // the label of the verified signature
	KeyID   string   // its keyid parameter: the key that signed (one epoch of the scope)
	Created int64    // its created parameter, 0 without one
	Covered []string // its covered components as Signature-Input has them: `"@method"`, ...
}

// signatureParams fills in the rfc9421 fields from the Signature-Input value of a request
// and the configured label; what does not parse is left empty (the daemon would have refused
// such a request).
func (id *Identity) signatureParams(input, label string) {
	dict, err := sfParse(input, sfKindDict)
	if err != nil {
		return
	}
	var m *sfMember
	for i := range dict {
		if dict[i].key == label || (label == "" && len(dict) == 1) {
			m = &dict[i]
		}
	}
	if m == nil || !m.val.inner {
		return
	}
	id.Label = m.key
	if v, ok := m.val.params.get("keyid"); ok && v.typ == sfString {
		id.KeyID = v.str
	}
	if v, ok := m.val.params.get("created"); ok && v.typ == sfInteger {
		id.Created = v.num
	}
	if v, ok := m.val.params.get("nonce"); ok && v.typ == sfString {
		id.Nonce = v.str
	}
	id.Covered = make([]string, 0, len(m.val.items))
	for _, it := range m.val.items {
		var w sfWriter
		w.item(it)
		if w.err == nil {
			id.Covered = append(id.Covered, string(w.b))
		}
	}
}

type identityKey struct{}

// ContextWithIdentity returns a copy of ctx that carries id, as the middleware passes it on.
// For middleware of other frameworks, and for testing handlers without a daemon.
func ContextWithIdentity(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the Identity the middleware verified for the request whose context is
// ctx (r.Context() in a handler), or nil and false when the request did not go through it.
// The Echo and gin middleware put it there too.
func IdentityFrom(ctx context.Context) (*Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(*Identity)
	return id, ok && id != nil
}
