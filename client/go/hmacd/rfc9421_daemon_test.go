// rfc9421_daemon_test.go - rfc9421 items through the Client against the real hmacd (skipped
// unless $HMACD and $HMACCTL are set), keys imported with `hmacctl key import` and coverage
// policies set with `hmacctl policy set`: each verdict an RFC 9421 signature can get (the
// query rule of the default policy included), and the RFC's own B.2.5 example with the RFC's
// shared secret, under a policy that accepts what it covers (--no-query among others).

package hmacd_test

import (
	"crypto/rand"
	"net/http"
	"testing"
	"time"

	"github.com/hmacd/hmacd/client/go/hmacd"
	"github.com/hmacd/hmacd/client/go/internal/daemontest"
)

func randomSecret(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rfcSigner signs with k and the defaults: @method @authority @path (+ @query with a query,
// + content-digest with a body), created now, a random nonce, label sig1.
func rfcSigner(k daemontest.Key) *hmacd.RFC9421Signer {
	return &hmacd.RFC9421Signer{KeyID: k.KeyID, Secret: k.Secret}
}

// rfcItem signs a POST of body to https://api.example:8443<target> with s (after mutate has
// changed the request), and returns the rfc9421 item an app server would send for it in
// scope tenant/container.
func rfcItem(t testing.TB, s *hmacd.RFC9421Signer, tenant, container, target, body string,
	mutate func(*http.Request)) hmacd.Item {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "https://api.example:8443"+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Tenant", tenant)
	if mutate != nil {
		mutate(req)
	}
	err = s.Sign(req, []byte(body))
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	r := hmacd.ClientRequest(req, []byte(body))
	return hmacd.Item{
		Scheme:         hmacd.SchemeRFC9421,
		Tenant:         tenant,
		Container:      container,
		Method:         r.Method,
		Authority:      r.Authority,
		Path:           r.Path,
		Headers:        r.Headers,
		SignatureInput: req.Header.Get("Signature-Input"),
		Signature:      req.Header.Get("Signature"),
		Body:           []byte(body),
	}
}

func setHeader(it *hmacd.Item, name, value string) {
	for i := range it.Headers {
		if it.Headers[i].Name == name {
			it.Headers[i].Value = value
		}
	}
}

func TestRFC9421Verdicts(t *testing.T) {
	d := daemontest.Start(t)
	c := newClient(t, d.Socket, nil)
	k1 := d.ImportKey(t, "acme", "c1", "acme-c1-1", randomSecret(t, 32))
	k2 := d.ImportKey(t, "acme", "c2", "acme-c2-1", randomSecret(t, 64))
	// A scope whose policy also binds the tenant header to the signature.
	k3 := d.ImportKey(t, "acme", "c3", "acme-c3-1", randomSecret(t, 16))
	d.SetPolicy(t, "acme", "c3", []string{"@method", "@authority", "@path", "x-tenant"})

	const path1, body = "/containers/c1/exec?tty=1", `{"cmd":["ls"]}`
	s1 := rfcSigner(k1)
	ok := func() hmacd.Item { return rfcItem(t, s1, "acme", "c1", path1, body, nil) }
	with := func(s hmacd.RFC9421Signer) hmacd.Item {
		return rfcItem(t, &s, "acme", "c1", path1, body, nil)
	}
	replayed := ok()

	var items []hmacd.Item
	var want []hmacd.Verdict
	var what []string
	add := func(name string, it hmacd.Item, v hmacd.Verdict) {
		what = append(what, name)
		items = append(items, it)
		want = append(want, v)
	}
	add("signed with the defaults", ok(), hmacd.VerdictOK)
	add("64-byte imported secret", rfcItem(t, rfcSigner(k2), "acme", "c2",
		"/containers/c2/exec", body, nil), hmacd.VerdictOK)
	add("alg, tag, expires and more components", with(hmacd.RFC9421Signer{KeyID: k1.KeyID,
		Secret: k1.Secret, Alg: true, Tag: "t", Expires: time.Minute, Label: "x",
		Components: []string{"content-type", "@method", "@target-uri", "@authority",
			"@path", "@query", "@query-param;name=tty", "content-digest",
			"content-digest;sf"}}),
		hmacd.VerdictOK)
	add("no body", rfcItem(t, s1, "acme", "c1", path1, "", nil), hmacd.VerdictOK)

	// The defaults' signature, then one part of the request changed. The defaults cover
	// @query, since the target has a query (@path stops before the '?').
	const path1q0 = "/containers/c1/exec?tty=0"
	for _, c := range []struct {
		what   string
		change func(*hmacd.Item)
		want   hmacd.Verdict
	}{
		{"query changed (the defaults cover @query)", func(it *hmacd.Item) { it.Path = path1q0 },
			hmacd.VerdictBadSignature},
		{"query removed", func(it *hmacd.Item) { it.Path = "/containers/c1/exec" },
			hmacd.VerdictBadSignature},
		{"path changed", func(it *hmacd.Item) { it.Path = "/containers/c2/exec?tty=1" },
			hmacd.VerdictBadSignature},
		{"method changed", func(it *hmacd.Item) { it.Method = "PUT" }, hmacd.VerdictBadSignature},
		{"authority changed", func(it *hmacd.Item) { it.Authority = "evil.example:8443" },
			hmacd.VerdictBadSignature},
		{"body changed (content-digest covered)",
			func(it *hmacd.Item) { it.Body = []byte(`{"cmd":["rm"]}`) }, hmacd.VerdictBadSignature},
		// A nil Body is the empty body, sent as such: a stripped body never skips the digest.
		{"body stripped (content-digest covered)", func(it *hmacd.Item) { it.Body = nil },
			hmacd.VerdictBadSignature},
		{"signature not 32 bytes", func(it *hmacd.Item) { it.Signature = "sig1=:AAAA:" },
			hmacd.VerdictMalformed},
		{"no such label", func(it *hmacd.Item) { it.Label = "other" }, hmacd.VerdictMalformed},
	} {
		it := ok()
		c.change(&it)
		add(c.what, it, c.want)
	}
	it := with(hmacd.RFC9421Signer{KeyID: k1.KeyID, Secret: k1.Secret,
		Components: []string{"@method", "@authority", "@request-target", "content-digest"}})
	it.Path = path1q0
	add("query changed, @request-target covered", it, hmacd.VerdictBadSignature)
	it = with(hmacd.RFC9421Signer{KeyID: k1.KeyID, Secret: k1.Secret,
		Components: []string{"@method", "@authority", "@path", "@query", "content-digest",
			"content-type"}})
	setHeader(&it, "content-type", "text/plain")
	add("covered header changed", it, hmacd.VerdictBadSignature)
	add("wrong secret", with(hmacd.RFC9421Signer{KeyID: k1.KeyID, Secret: k2.Secret}),
		hmacd.VerdictBadSignature)

	add("another scope's keyid", rfcItem(t, rfcSigner(k2), "acme", "c1", path1, body, nil),
		hmacd.VerdictUnknownKey)
	add("the container swapped", rfcItem(t, s1, "acme", "c2", "/containers/c2/exec", body, nil),
		hmacd.VerdictUnknownKey)
	add("another tenant claimed", rfcItem(t, s1, "evil", "c1", path1, body, nil),
		hmacd.VerdictUnknownKey)
	add("unknown keyid", with(hmacd.RFC9421Signer{KeyID: "nope", Secret: k1.Secret}),
		hmacd.VerdictUnknownKey)

	// Each with everything else covered, @query included, so that the one thing left out
	// is what the daemon refuses.
	add("@authority not covered", with(hmacd.RFC9421Signer{KeyID: k1.KeyID,
		Secret: k1.Secret, Components: []string{"@method", "@path", "@query",
			"content-digest"}}),
		hmacd.VerdictInsufficientCoverage)
	add("content-digest not covered with a body", with(hmacd.RFC9421Signer{KeyID: k1.KeyID,
		Secret: k1.Secret, Components: []string{"@method", "@authority", "@path", "@query"}}),
		hmacd.VerdictInsufficientCoverage)
	// The query rule of the default policy (issue 10, finding 5): with a '?' in the target,
	// @query must be covered, or a component holding it (@request-target, @target-uri).
	add("@query not covered with a query", with(hmacd.RFC9421Signer{KeyID: k1.KeyID,
		Secret: k1.Secret, Components: []string{"@method", "@authority", "@path",
			"content-digest"}}),
		hmacd.VerdictInsufficientCoverage)
	add("@query-param alone does not cover the query", with(hmacd.RFC9421Signer{
		KeyID: k1.KeyID, Secret: k1.Secret, Components: []string{"@method", "@authority",
			"@path", "@query-param;name=tty", "content-digest"}}),
		hmacd.VerdictInsufficientCoverage)
	add("@request-target covers path and query", with(hmacd.RFC9421Signer{KeyID: k1.KeyID,
		Secret: k1.Secret, Components: []string{"@method", "@authority", "@request-target",
			"content-digest"}}),
		hmacd.VerdictOK)
	pathOnly := &hmacd.RFC9421Signer{KeyID: k1.KeyID, Secret: k1.Secret,
		Components: []string{"@method", "@authority", "@path", "content-digest"}}
	add("no query: @query not needed", rfcItem(t, pathOnly, "acme", "c1",
		"/containers/c1/exec", body, nil), hmacd.VerdictOK)
	it = rfcItem(t, pathOnly, "acme", "c1", "/containers/c1/exec", body, nil)
	it.Path = "/containers/c1/exec?force=true"
	add("a query added to a signature without @query", it, hmacd.VerdictInsufficientCoverage)
	add("no nonce", with(hmacd.RFC9421Signer{KeyID: k1.KeyID, Secret: k1.Secret,
		Nonce: func() (string, error) { return "", nil }}), hmacd.VerdictInsufficientCoverage)
	add("no created", with(hmacd.RFC9421Signer{KeyID: k1.KeyID, Secret: k1.Secret,
		NoCreated: true}), hmacd.VerdictInsufficientCoverage)
	add("scope policy: x-tenant not covered", rfcItem(t, rfcSigner(k3), "acme", "c3",
		"/containers/c3/exec", body, nil), hmacd.VerdictInsufficientCoverage)
	add("scope policy: x-tenant covered", rfcItem(t, &hmacd.RFC9421Signer{KeyID: k3.KeyID,
		Secret: k3.Secret, Components: []string{"@method", "@authority", "@path", "x-tenant",
			"content-digest"}}, "acme", "c3", "/containers/c3/exec", body, nil),
		hmacd.VerdictOK)

	add("an hour old", with(hmacd.RFC9421Signer{KeyID: k1.KeyID, Secret: k1.Secret,
		Now: func() time.Time { return time.Now().Add(-time.Hour) }}),
		hmacd.VerdictStaleTimestamp)
	add("first use", replayed, hmacd.VerdictOK)
	add("replayed nonce", replayed, hmacd.VerdictReplay)

	it = rfcItem(t, &hmacd.RFC9421Signer{KeyID: k1.KeyID, Secret: k1.Secret,
		Components: []string{"@method", "@authority", "@path", "@query", "content-digest",
			"x-gone"}},
		"acme", "c1", path1, body, func(r *http.Request) { r.Header.Set("X-Gone", "1") })
	var kept []hmacd.Header
	for _, h := range it.Headers {
		if h.Name != "x-gone" {
			kept = append(kept, h)
		}
	}
	it.Headers = kept
	add("covered header absent", it, hmacd.VerdictMalformed)

	// One by one, in order (the replayed pair needs it).
	for i := range items {
		v, err := c.VerifyOne(ctx5s(t), &items[i])
		if err != nil {
			t.Fatalf("%s: %v", what[i], err)
		}
		if v != want[i] {
			t.Errorf("%s: %v, want %v", what[i], v, want[i])
		}
	}

	// Both schemes in one frame, each judged on its own.
	kv1 := d.CreateKey(t, "acme", "v1")
	tampered := ok()
	tampered.Method = "PUT"
	mixed := []hmacd.Item{signed(t, kv1, nil), ok(), tampered, signed(t, kv1, nil)}
	got, err := c.Verify(ctx5s(t), mixed)
	if err != nil {
		t.Fatal(err)
	}
	wantMixed := []hmacd.Verdict{hmacd.VerdictOK, hmacd.VerdictOK, hmacd.VerdictBadSignature,
		hmacd.VerdictOK}
	for i := range wantMixed {
		if got[i] != wantMixed[i] {
			t.Errorf("mixed batch item %d: %v, want %v", i, got[i], wantMixed[i])
		}
	}
}

// The RFC's own example: the B.2 request with the B.2.5 signature, the RFC's secret imported
// under its key id, and a policy that asks for what B.2.5 covers and accepts its 2021
// created without a nonce, a body it does not bind, and a query (/foo?param=Value&Pet=dog)
// it does not cover: --no-query, without which the daemon refuses it.
func TestRFC9421B25ThroughDaemon(t *testing.T) {
	d := daemontest.Start(t)
	c := newClient(t, d.Socket, nil)
	d.ImportKey(t, "rfc", "foo", "test-shared-secret", sharedSecret(t))
	b25Policy := []string{"date", "@authority", "content-type"}
	b25Flags := []string{"--no-nonce", "--no-age-check", "--no-body-digest"}
	// The policy of the whole tenant, so that its other containers have it too; first
	// without --no-query.
	d.SetPolicy(t, "rfc", "", b25Policy, b25Flags...)
	if p := d.ShowPolicy(t, "rfc", "foo"); p.Source != "tenant" || !p.Query ||
		p.ReplayProtection != "weak" {
		t.Fatalf("policy show without --no-query: %+v", p)
	}

	v := b2View()
	it := hmacd.Item{
		Scheme:         hmacd.SchemeRFC9421,
		Tenant:         "rfc",
		Container:      "foo",
		Method:         v.Method,
		Authority:      v.Authority,
		Path:           v.Path,
		Headers:        v.Headers,
		SignatureInput: b25Input,
		Signature:      b25Signature,
		Body:           []byte(b2Body),
	}
	check := func(what string, it hmacd.Item, want hmacd.Verdict) {
		t.Helper()
		got, err := c.VerifyOne(ctx5s(t), &it)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got != want {
			t.Errorf("%s: %v, want %v", what, got, want)
		}
	}
	// B.2.5's target has a query and it does not cover @query: refused whatever the rest.
	check("B.2.5 under a policy that wants the query", it, hmacd.VerdictInsufficientCoverage)
	d.SetPolicy(t, "rfc", "", b25Policy, append(b25Flags, "--no-query")...)
	if p := d.ShowPolicy(t, "rfc", "foo"); p.Source != "tenant" || p.Query || p.Nonce ||
		p.AgeCheck || p.BodyDigest || p.ReplayProtection != "weak" {
		t.Fatalf("policy show with --no-query: %+v", p)
	}
	check("RFC 9421 B.2.5", it, hmacd.VerdictOK)
	// What --no-query gives up, and why it is not the default: B.2.5's query is not bound,
	// so a rewritten one verifies too.
	requery := it
	requery.Path = "/foo?param=Other&Pet=cat"
	check("B.2.5 with its query rewritten (--no-query)", requery, hmacd.VerdictOK)
	twice := it
	twice.Label = "sig-b25"
	check("B.2.5 by its label", twice, hmacd.VerdictOK)
	// B.2.5 does not cover content-digest (its policy does not ask it to), so its body is
	// not bound: the empty body verifies too.
	noBody := it
	noBody.Body = nil
	check("B.2.5 with the empty body", noBody, hmacd.VerdictOK)
	tampered := it
	tampered.Headers = append([]hmacd.Header(nil), it.Headers...)
	setHeader(&tampered, "date", "Tue, 20 Apr 2021 02:07:56 GMT")
	check("B.2.5 with its date changed", tampered, hmacd.VerdictBadSignature)
	// B.2.5 does not cover the path: sent to another container of the tenant, it is the
	// key's binding to its scope that refuses it.
	other := it
	other.Container = "bar"
	check("B.2.5 in another scope", other, hmacd.VerdictUnknownKey)
	other.Tenant = "acme"
	check("B.2.5 in a scope under the default policy", other,
		hmacd.VerdictInsufficientCoverage)

	// Our signer on the same request with the same parameters gives the same signature.
	req := b2Request(t)
	s := hmacd.RFC9421Signer{KeyID: "test-shared-secret", Secret: sharedSecret(t),
		Components: []string{"date", "@authority", "content-type"}, Label: "sig-b25",
		Now:   func() time.Time { return time.Unix(1618884473, 0) },
		Nonce: func() (string, error) { return "", nil }}
	err := s.Sign(req, []byte(b2Body))
	if err != nil {
		t.Fatal(err)
	}
	mine := it
	mine.SignatureInput = req.Header.Get("Signature-Input")
	mine.Signature = req.Header.Get("Signature")
	check("B.2.5 signed by RFC9421Signer", mine, hmacd.VerdictOK)

	// Under the default policy (a fresh created, a nonce and @query required) the same
	// signature is refused for coverage: the policy, not the signer, decides.
	d.Ctl(t, "policy", "unset", "--tenant", "rfc")
	check("B.2.5 under the default policy", it, hmacd.VerdictInsufficientCoverage)
}
