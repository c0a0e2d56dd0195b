// Package hmacd is the Go client of hmacd, the local daemon that verifies HMAC-signed HTTP
// requests for app servers (the protocol is proto/PROTOCOL.md in the hmacd source tree).
//
// Import path: github.com/hmacd/hmacd/client/go/hmacd. The Echo v4 middleware is the sibling
// package github.com/hmacd/hmacd/client/go/hmacdecho, so a program that only signs requests does
// not depend on Echo.
//
// Protecting a net/http route (Go 1.22's patterns; with Go 1.19, Container cuts the id out of
// r.URL.Path, see MiddlewareConfig):
//
//	client, _ := hmacd.New("/run/hmacd/hmacd.sock", nil)
//	protect := hmacd.Middleware(hmacd.MiddlewareConfig{
//		Verifier:  client,
//		Container: func(r *http.Request) string { return r.PathValue("id") },
//	})
//	mux.Handle("POST /containers/{id}/exec", protect(http.HandlerFunc(exec)))
//	// in exec: id, _ := hmacd.IdentityFrom(r.Context()) -> id.Tenant, id.Container, ...
//
// The package has five parts:
//
//   - Client: a pool of Unix-socket connections to the daemon. Verify calls made concurrently
//     are batched into one request frame per connection and pipelined; every call takes a
//     context.Context for its deadline. Ping and Stats round out the protocol. The client
//     reconnects by itself after a daemon restart, and never sends a request twice once any
//     byte of it was written (a resent nonce would be judged a replay): such a call fails with
//     ErrConnLost and the caller decides. Before it writes anything on a new connection, it
//     asks the kernel who listens on the socket (SO_PEERCRED) and refuses anyone but the
//     expected server user, Options.ServerUser, by default root or the owner of the socket's
//     directory: a local user who squats the socket path gets ErrPeer, never a verdict.
//   - Signing: Canonical (the hmacd-v1 canonical string, PROTOCOL.md section 8), Sign (the
//     HMAC-SHA256 of it) and Signer, which puts an "Authorization: HMACD-V1 ..." header on an
//     outgoing *http.Request as PROTOCOL.md 13.2 says. The canonical string always binds the
//     method, the path with its query, the body and the time; a scope's policy may also
//     require a nonce and some signed headers (hmacctl policy set --v1-nonce --v1-require),
//     and an item without them gets VerdictInsufficientCoverage. Signer's defaults (a random
//     nonce, host signed) meet such a policy unless it names other headers.
//   - The server side of the HTTP convention: ParseAuthorization (13.1) and RequestItem (13.3
//     step 2), which turn a received request plus the container taken from its route into the
//     Item to verify.
//   - RFC 9421 HTTP Message Signatures with hmac-sha256, for signers that should not need
//     this package's own scheme: RFC9421Signer signs an outgoing *http.Request (Signature-Input,
//     Signature, and Content-Digest with sha-256 when the body is covered) with a key the daemon
//     holds under a key id (hmacctl key import/create), covering by default @method,
//     @authority, @path, @query when the target has a query, and content-digest when there is
//     a body (DefaultComponents); SignatureBase builds the base exactly as the daemon does
//     (RFC 9421 section 2.5); RequestItemRFC9421 turns a received request into an Item with
//     Scheme SchemeRFC9421, which the daemon checks against the scope's coverage policy
//     (VerdictInsufficientCoverage when the signature covers too little: by default, also a
//     target with a query whose signature does not cover @query, @request-target or
//     @target-uri; an explicit Components list without them is refused for such a
//     request, and so is a query added to a request signed without one). Such an item always
//     carries its body, the empty one included (a nil Body is sent as empty), so the daemon
//     checks a covered Content-Digest even when an attacker stripped the body.
//   - The middleware: Middleware for net/http, built like hmacdecho's (Echo) and hmacdgin's
//     (gin) on a Guard, which applies PROTOCOL.md 13.3 and 13.5 to a received request and the
//     container its router found: 401 for any refused signature (the reason logged, never
//     sent), 413 for a body over the limit, 503 when the daemon does not judge the request
//     (fail closed); the Identity of a verified request in its context (IdentityFrom).
//
// Errors from the client are one of the sentinel values below, wrapped with detail; test them
// with errors.Is. A middleware treats any error as "daemon unavailable" (HTTP 503, fail closed),
// and so VerdictUnavailable (fleet mode: the daemon could not judge the item in time); any
// other verdict than VerdictOK is "reject" (HTTP 401).
package hmacd
