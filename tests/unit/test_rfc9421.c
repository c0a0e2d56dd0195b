/*
 * test_rfc9421.c - unit tests of daemon/rfc9421.c: reading an rfc9421 item under a policy.
 *
 * The anchor is RFC 9421 Appendix B.2.5: the item built from the RFC's request reads as READY
 * with the RFC's base, keyid, created and signature under a policy that asks for what it
 * covers, and as INSUFFICIENT_COVERAGE under the default policy. Then one test per rule of
 * rfc9421.c's order of checks: malformed fields and parameters, the policy's components
 * (with the ;sf / ;bs / ;key rule and the derived components that contain others), created and nonce, the body rule, Content-Digest,
 * and the clock (hm_rfc9421_stale). Keys and MACs are verify.c's, tested in test_verify.c and
 * end to end in e2e_rfc9421.c. The Signature-Input values are written by hand on purpose: they
 * are the input under test, many of them malformed, and none is signed (proto/siginput.c
 * writes the ones that are).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "proto/policy.h"
#include "engine/rfc9421.h"

#include "tests/lib/rfc9421_example.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static struct hm_str S(const char *s)
{
	struct hm_str r = {(const uint8_t *)s, strlen(s)};

	return r;
}

#define H(n, v) {{(const uint8_t *)(n), sizeof(n) - 1}, {(const uint8_t *)(v), sizeof(v) - 1}}

#define B2_HEADER(n, v) H(n, v),
static const struct hm_header b2_headers[] = {B2_HEADERS_X(B2_HEADER)};

/* RFC 9530 section 2, the sha-256 digest of B2_BODY */
static const char CD_SHA256[] = "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:";
/* the sha-256 digest of the empty body */
static const char CD_EMPTY[] = "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:";
/* any 32 bytes, as a Signature value */
static const char SIG32[] = "s=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:";

struct fixture {
	struct hm_item it;
	struct hm_policy pol;
	struct hm_rfc_scratch scratch;
	struct hm_digest_ctx *dctx;
	uint8_t base[4096];
	struct hm_rfc_check c;
	struct hm_header headers[16];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || hm_digest_ctx_new(&f->dctx) != HM_OK)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	hm_digest_ctx_free(f->dctx);
	free(f);
	return 0;
}

/* The request line and scope of an item. */
struct target {
	const char *tenant, *container, *method, *authority, *path;
};

/* An rfc9421 item for t with the given fields and no header, and a permissive policy. */
static void new_item(struct fixture *f, const struct target *t, const char *input,
		     const char *signature)
{
	memset(&f->it, 0, sizeof(f->it));
	f->it.scheme = HM_SCHEME_RFC9421;
	f->it.tenant = S(t->tenant);
	f->it.container = S(t->container);
	f->it.method = S(t->method);
	f->it.rfc.authority = S(t->authority);
	f->it.path = S(t->path);
	f->it.rfc.signature_input = S(input);
	f->it.rfc.signature = S(signature);
	memset(&f->pol, 0, sizeof(f->pol));
}

/* The B.2 request as an rfc9421 item with the given fields, and a permissive policy. */
static void b2_item(struct fixture *f, const char *input, const char *signature)
{
	static const struct target b2 = {"rfc", "example", "POST", "example.com",
					 "/foo?param=Value&Pet=dog"};

	new_item(f, &b2, input, signature);
	f->it.nheaders = ARRAY_LEN(b2_headers);
	memcpy(f->it.headers, b2_headers, sizeof(b2_headers));
}

/*
 * A small GET item covering `components`, with params, and a permissive policy. Its
 * content-digest (headers[1]) is CD_SHA256, the digest of B2_BODY.
 */
static void get_item(struct fixture *f, const char *input)
{
	static const struct target get = {"t", "c", "GET", "api.example",
					  "/containers/c/exec?id=7"};

	new_item(f, &get, input, SIG32);
	f->it.headers[0] = (struct hm_header)H("host", "api.example");
	f->it.headers[1] = (struct hm_header)H("content-digest", CD_SHA256);
	f->it.headers[2] = (struct hm_header)H("x-tenant", "t");
	f->it.nheaders = 3;
}

/* The item sends this body. */
static void send_body(struct fixture *f, const char *body)
{
	f->it.has_body = true;
	f->it.body = S(body);
}

static enum hm_rfc_status read_item(struct fixture *f)
{
	return hm_rfc9421_read(&f->it, &f->pol, &f->scratch, f->dctx, f->base, sizeof(f->base),
			       &f->c);
}

static void require(struct fixture *f, const char *component)
{
	assert_true(f->pol.ncomponents < HM_POLICY_MAX_COMPONENTS);
	assert_int_equal(hm_policy_component_parse(component, f->pol.components[f->pol.ncomponents]),
			 HM_OK);
	f->pol.ncomponents++;
}

static void test_b25_ready(void **state)
{
	struct fixture *f = *state;
	uint8_t want[48];

	b2_item(f, B25_INPUT, B25_SIGNATURE);
	require(f, "date");
	require(f, "@authority");
	require(f, "content-type");
	assert_int_equal(read_item(f), HM_RFC_READY);
	assert_int_equal(f->c.base_len, strlen(B25_BASE));
	assert_memory_equal(f->base, B25_BASE, f->c.base_len);
	assert_int_equal(f->c.keyid.len, strlen("test-shared-secret"));
	assert_memory_equal(f->c.keyid.ptr, "test-shared-secret", f->c.keyid.len);
	assert_true(f->c.has_created);
	assert_int_equal(f->c.created, 1618884473);
	assert_false(f->c.has_expires);
	assert_int_equal(f->c.nonce.len, 0);
	assert_int_equal(f->c.digest, HM_RFC_DIGEST_UNCHECKED);
	/* the 44 characters after "sig-b25=:", with one '=': 33 bytes decoded, the last padding */
	assert_int_equal(EVP_DecodeBlock(want, (const unsigned char *)B25_SIGNATURE + 9, 44), 33);
	assert_memory_equal(f->c.sig, want, 32);
}

static void test_b25_default_policy(void **state)
{
	struct fixture *f = *state;

	b2_item(f, B25_INPUT, B25_SIGNATURE);
	hm_policy_default(&f->pol);
	assert_int_equal(read_item(f), HM_RFC_COVERAGE);
	/* each requirement alone */
	b2_item(f, B25_INPUT, B25_SIGNATURE);
	require(f, "@method");
	assert_int_equal(read_item(f), HM_RFC_COVERAGE);
	b2_item(f, B25_INPUT, B25_SIGNATURE);
	f->pol.require_nonce = true;
	assert_int_equal(read_item(f), HM_RFC_COVERAGE);
	b2_item(f, B25_INPUT, B25_SIGNATURE);
	f->pol.digest_when_body = true; /* content-length: 18, content-digest not covered */
	assert_int_equal(read_item(f), HM_RFC_COVERAGE);
	b2_item(f, B25_INPUT, B25_SIGNATURE);
	f->pol.require_created = true; /* B.2.5 has created */
	assert_int_equal(read_item(f), HM_RFC_READY);
}

static void expect_malformed(struct fixture *f, const char *input, const char *signature)
{
	get_item(f, input);
	if (signature != NULL)
		f->it.rfc.signature = S(signature);
	if (read_item(f) != HM_RFC_MALFORMED)
		fail_msg("%s / %s: not MALFORMED", input, signature ? signature : SIG32);
	assert_non_null(f->c.why);
}

static void test_malformed(void **state)
{
	struct fixture *f = *state;

	expect_malformed(f, "s=(\"@method\")", NULL);                    /* no keyid */
	expect_malformed(f, "s=(\"@method\");keyid=\"\"", NULL);         /* empty keyid */
	expect_malformed(f, "s=(\"@method\");keyid=k", NULL);            /* keyid a Token */
	expect_malformed(f, "s=(\"@method\");keyid=\"k\";alg=\"ed25519\"", NULL);
	expect_malformed(f, "s=(\"@method\");keyid=\"k\";created=\"1\"", NULL);
	expect_malformed(f, "s=(\"@method\";keyid=\"k\"", NULL);         /* does not parse */
	expect_malformed(f, "s=\"@method\";keyid=\"k\"", NULL);          /* not an inner list */
	expect_malformed(f, "s=(\"@status\");keyid=\"k\"", NULL);        /* response only */
	expect_malformed(f, "s=(\"x-missing\");keyid=\"k\"", NULL);      /* not in the request */
	expect_malformed(f, "s=(\"@method\" \"@method\");keyid=\"k\"", NULL);
	expect_malformed(f, "s=(\"@method\");keyid=\"k\", t=(\"@path\");keyid=\"k\"", NULL);
	expect_malformed(f, "x=(\"@method\");keyid=\"k\"", NULL);        /* no x in Signature */
	expect_malformed(f, "s=(\"@method\");keyid=\"k\"", "s=:AAAA:");  /* 3 bytes */
	expect_malformed(f, "s=(\"@method\");keyid=\"k\"", "s=\"AAAA\"");
	expect_malformed(f, "s=(\"@method\");keyid=\"k\"", "s=(:AAAA:)");
	expect_malformed(f, "s=(\"@method\");keyid=\"k\"", "s=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:");
	expect_malformed(f, "s=(\"@method\");keyid=\"k\"", "garbage(");
	/* a covered Content-Digest that does not parse, with a body to check it against */
	get_item(f, "s=(\"content-digest\");keyid=\"k\"");
	f->it.headers[1].value = S("sha-256=:AAA=:");
	send_body(f, B2_BODY);
	assert_int_equal(read_item(f), HM_RFC_MALFORMED);
}

static void test_alg_and_label(void **state)
{
	struct fixture *f = *state;

	get_item(f, "s=(\"@method\");keyid=\"k\";alg=\"hmac-sha256\"");
	assert_int_equal(read_item(f), HM_RFC_READY);
	/* two signatures: the label picks one, its own Signature member is read */
	get_item(f, "a=(\"@method\");keyid=\"ka\", b=(\"@path\");keyid=\"kb\"");
	f->it.rfc.signature = S("a=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:, "
			    "b=:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=:");
	f->it.rfc.label = S("b");
	assert_int_equal(read_item(f), HM_RFC_READY);
	assert_int_equal(f->c.keyid.len, 2);
	assert_memory_equal(f->c.keyid.ptr, "kb", 2);
	assert_int_equal(f->c.sig[0], 1);
	f->it.rfc.label = S("c");
	assert_int_equal(read_item(f), HM_RFC_MALFORMED);
}

static void test_policy_components(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *covered;
		const char *required;
		enum hm_rfc_status want;
	} cases[] = {
		{"\"@method\" \"@path\"", "@path", HM_RFC_READY},
		{"\"@method\"", "@path", HM_RFC_COVERAGE},
		{"\"@query-param\";name=\"id\"", "@query-param;name=\"id\"", HM_RFC_READY},
		{"\"@query-param\";name=\"id\"", "@query-param;name=\"other\"", HM_RFC_COVERAGE},
		{"\"@query-param\";name=\"id\"", "@query", HM_RFC_COVERAGE},
		{"\"x-tenant\"", "x-tenant", HM_RFC_READY},
		{"\"x-tenant\";bs", "x-tenant", HM_RFC_READY},
		{"\"content-digest\";sf", "content-digest", HM_RFC_READY},
		{"\"content-digest\";key=\"sha-256\"", "content-digest", HM_RFC_COVERAGE},
		{"\"content-digest\"", "content-digest;sf", HM_RFC_COVERAGE},
		{"\"content-digest\";sf", "content-digest;sf", HM_RFC_READY},
		/* a larger derived component binds the smaller ones it contains */
		{"\"@target-uri\"", "@path", HM_RFC_READY},
		{"\"@target-uri\"", "@authority", HM_RFC_READY},
		{"\"@target-uri\"", "@scheme", HM_RFC_READY},
		{"\"@target-uri\"", "@query-param;name=\"id\"", HM_RFC_READY},
		{"\"@request-target\"", "@path", HM_RFC_READY},
		{"\"@request-target\"", "@query", HM_RFC_READY},
		{"\"@request-target\"", "@authority", HM_RFC_COVERAGE},
		{"\"@query\"", "@query-param;name=\"id\"", HM_RFC_READY},
		{"\"@path\"", "@request-target", HM_RFC_COVERAGE},
		{"\"@path\" \"@query\"", "@target-uri", HM_RFC_COVERAGE},
	};
	char input[256];

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		snprintf(input, sizeof(input), "s=(%s);keyid=\"k\"", cases[i].covered);
		get_item(f, input);
		require(f, cases[i].required);
		if (read_item(f) != cases[i].want)
			fail_msg("covered %s, required %s: want %d", cases[i].covered,
				 cases[i].required, cases[i].want);
	}
}

static void test_created_nonce(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *params;
		bool require_created, require_nonce;
		enum hm_rfc_status want;
	} cases[] = {
		{"", true, false, HM_RFC_COVERAGE},
		{";created=5", true, true, HM_RFC_COVERAGE},
		{";created=5;nonce=\"\"", false, true, HM_RFC_COVERAGE},
		/* the last: its parameters are checked below */
		{";created=5;expires=9;nonce=\"n1\"", true, true, HM_RFC_READY},
	};
	char input[128];

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		snprintf(input, sizeof(input), "s=(\"@method\");keyid=\"k\"%s", cases[i].params);
		get_item(f, input);
		f->pol.require_created = cases[i].require_created;
		f->pol.require_nonce = cases[i].require_nonce;
		if (read_item(f) != cases[i].want)
			fail_msg("%s: want %d", input, cases[i].want);
	}
	assert_int_equal(f->c.created, 5);
	assert_true(f->c.has_expires);
	assert_int_equal(f->c.expires, 9);
	assert_int_equal(f->c.nonce.len, 2);
	assert_memory_equal(f->c.nonce.ptr, "n1", 2);
}

/* digest_when_body: which requests count as having a body */
static void test_body_rule(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *name, *value;
		bool body;
	} cases[] = {
		{"content-length", "0", false}, {"content-length", " 00 ", false},
		{"content-length", "5", true},  {"content-length", "", true},
		{"transfer-encoding", "chunked", true}, {"x-other", "1", false},
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		get_item(f, "s=(\"@method\");keyid=\"k\"");
		f->pol.digest_when_body = true;
		f->it.headers[2].name = S(cases[i].name);
		f->it.headers[2].value = S(cases[i].value);
		assert_int_equal(read_item(f), cases[i].body ? HM_RFC_COVERAGE : HM_RFC_READY);
	}
	/* a body in the item counts; an empty one does not */
	get_item(f, "s=(\"@method\");keyid=\"k\"");
	f->pol.digest_when_body = true;
	send_body(f, "");
	assert_int_equal(read_item(f), HM_RFC_READY);
	send_body(f, B2_BODY);
	assert_int_equal(read_item(f), HM_RFC_COVERAGE);
	/* covered content-digest meets it */
	get_item(f, "s=(\"@method\" \"content-digest\");keyid=\"k\"");
	f->pol.digest_when_body = true;
	send_body(f, B2_BODY);
	assert_int_equal(read_item(f), HM_RFC_READY);
	assert_int_equal(f->c.digest, HM_RFC_DIGEST_MATCH);
}

/* query_when_present: a target with a query needs @query, or a component that contains it */
static void test_query_rule(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *input, *path;
		enum hm_rfc_status want;
	} cases[] = {
		{"s=(\"@method\" \"@path\");keyid=\"k\"", "/containers/c/exec?id=7", HM_RFC_COVERAGE},
		{"s=(\"@method\" \"@path\");keyid=\"k\"", "/containers/c/exec?", HM_RFC_COVERAGE},
		{"s=(\"@method\" \"@path\");keyid=\"k\"", "/containers/c/exec", HM_RFC_READY},
		{"s=(\"@path\" \"@query\");keyid=\"k\"", "/containers/c/exec?id=7", HM_RFC_READY},
		{"s=(\"@request-target\");keyid=\"k\"", "/containers/c/exec?id=7", HM_RFC_READY},
		{"s=(\"@target-uri\");keyid=\"k\"", "/containers/c/exec?id=7", HM_RFC_READY},
		/* one parameter is not the query: the others could be added or changed */
		{"s=(\"@path\" \"@query-param\";name=\"id\");keyid=\"k\"", "/containers/c/exec?id=7",
		 HM_RFC_COVERAGE},
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		get_item(f, cases[i].input);
		f->it.path = S(cases[i].path);
		f->pol.query_when_present = true;
		if (read_item(f) != cases[i].want)
			fail_msg("case %zu: %s on %s", i, cases[i].input, cases[i].path);
		/* without the rule, every case is ready */
		f->pol.query_when_present = false;
		assert_int_equal(read_item(f), HM_RFC_READY);
	}
}

static void test_content_digest(void **state)
{
	struct fixture *f = *state;

	/* covered, body sent and matching (get_item's content-digest is B2_BODY's) */
	get_item(f, "s=(\"content-digest\");keyid=\"k\"");
	send_body(f, B2_BODY);
	assert_int_equal(read_item(f), HM_RFC_READY);
	assert_int_equal(f->c.digest, HM_RFC_DIGEST_MATCH);
	/* the body altered */
	f->it.body = S("{\"hello\": \"World\"}");
	assert_int_equal(read_item(f), HM_RFC_READY);
	assert_int_equal(f->c.digest, HM_RFC_DIGEST_MISMATCH);
	/*
	 * No body sent: checked against the empty body. An app that drops an empty (or an
	 * attacker's stripped) body from the item must not make a covered digest pass unchecked
	 * (issue 10, finding 1).
	 */
	f->it.has_body = false;
	f->it.body = S("");
	assert_int_equal(read_item(f), HM_RFC_READY);
	assert_int_equal(f->c.digest, HM_RFC_DIGEST_MISMATCH);
	/* an empty body sent, the same */
	send_body(f, "");
	assert_int_equal(read_item(f), HM_RFC_READY);
	assert_int_equal(f->c.digest, HM_RFC_DIGEST_MISMATCH);
	/* a digest of the empty body matches an item with no body, and one with an empty body */
	f->it.headers[1].value = S(CD_EMPTY);
	f->it.has_body = false;
	assert_int_equal(read_item(f), HM_RFC_READY);
	assert_int_equal(f->c.digest, HM_RFC_DIGEST_MATCH);
	send_body(f, "");
	assert_int_equal(read_item(f), HM_RFC_READY);
	assert_int_equal(f->c.digest, HM_RFC_DIGEST_MATCH);
	/* not covered: not checked even with a body */
	get_item(f, "s=(\"@method\");keyid=\"k\"");
	send_body(f, "tampered");
	assert_int_equal(read_item(f), HM_RFC_READY);
	assert_int_equal(f->c.digest, HM_RFC_DIGEST_UNCHECKED);
	/* only an algorithm hmacd does not check */
	get_item(f, "s=(\"content-digest\");keyid=\"k\"");
	f->it.headers[1].value = S("md5=:AAAAAAAAAAAAAAAAAAAAAA==:");
	send_body(f, B2_BODY);
	assert_int_equal(read_item(f), HM_RFC_COVERAGE);
}

/*
 * The body known by its digests (hmacctl explain's capture files; never on the wire): a
 * covered Content-Digest is checked against them, the body counts when body_len > 0, and a
 * sha-512 member with the sha-512 unknown cannot be judged (a fault, never a match).
 */
static void test_body_digests(void **state)
{
	struct fixture *f = *state;
	uint8_t d256[HM_SHA256_LEN], d512[HM_SHA512_LEN], other[HM_SHA256_LEN];

	assert_int_equal(EVP_Digest(B2_BODY, strlen(B2_BODY), d256, NULL, EVP_sha256(), NULL), 1);
	assert_int_equal(EVP_Digest(B2_BODY, strlen(B2_BODY), d512, NULL, EVP_sha512(), NULL), 1);
	memset(other, 0x5a, sizeof(other));
	get_item(f, "s=(\"content-digest\");keyid=\"k\"");
	f->it.rfc.body_digests = true;
	f->it.rfc.body_len = strlen(B2_BODY);
	f->it.rfc.body_sha256 = d256;
	f->it.rfc.body_sha512 = d512;
	assert_int_equal(read_item(f), HM_RFC_READY);
	assert_int_equal(f->c.digest, HM_RFC_DIGEST_MATCH);
	f->it.rfc.body_sha256 = other;
	assert_int_equal(read_item(f), HM_RFC_READY);
	assert_int_equal(f->c.digest, HM_RFC_DIGEST_MISMATCH);
	/* a sha-512 member, its digest unknown */
	f->it.rfc.body_sha256 = d256;
	f->it.rfc.body_sha512 = NULL;
	f->it.headers[1].value = S("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:, "
				   "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgB"
				   "WnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:");
	assert_int_equal(read_item(f), HM_RFC_FAULT);
	f->it.rfc.body_sha512 = d512;
	assert_int_equal(read_item(f), HM_RFC_READY);
	assert_int_equal(f->c.digest, HM_RFC_DIGEST_MATCH);
	/* a body known by its length needs content-digest when the policy says so */
	get_item(f, "s=(\"@method\");keyid=\"k\"");
	f->pol.digest_when_body = true;
	f->it.rfc.body_digests = true;
	f->it.rfc.body_sha256 = d256;
	f->it.rfc.body_len = strlen(B2_BODY);
	assert_int_equal(read_item(f), HM_RFC_COVERAGE);
	f->it.rfc.body_len = 0;
	assert_int_equal(read_item(f), HM_RFC_READY);
	/* a body in the item wins over digests beside it */
	get_item(f, "s=(\"content-digest\");keyid=\"k\"");
	f->it.rfc.body_digests = true;
	f->it.rfc.body_sha256 = other;
	f->it.rfc.body_len = 1;
	send_body(f, B2_BODY);
	assert_int_equal(read_item(f), HM_RFC_READY);
	assert_int_equal(f->c.digest, HM_RFC_DIGEST_MATCH);
}

static void test_stale(void **state)
{
	struct hm_policy pol;
	struct hm_rfc_check c;
	const int64_t now = 1800000000, skew = 300;

	(void)state;
	memset(&pol, 0, sizeof(pol));
	memset(&c, 0, sizeof(c));
	pol.check_age = true;
	assert_false(hm_rfc9421_stale(&c, &pol, now, skew)); /* nothing to check */
	c.has_created = true;
	c.created = now - skew;
	assert_false(hm_rfc9421_stale(&c, &pol, now, skew));
	c.created = now - skew - 1;
	assert_true(hm_rfc9421_stale(&c, &pol, now, skew));
	c.created = now + skew;
	assert_false(hm_rfc9421_stale(&c, &pol, now, skew));
	c.created = now + skew + 1;
	assert_true(hm_rfc9421_stale(&c, &pol, now, skew));
	c.created = -999999999999999;
	assert_true(hm_rfc9421_stale(&c, &pol, now, skew));
	c.created = now;
	c.has_expires = true;
	c.expires = now;
	assert_true(hm_rfc9421_stale(&c, &pol, now, skew));
	c.expires = now + 1;
	assert_false(hm_rfc9421_stale(&c, &pol, now, skew));
	/* the age check off: the RFC's 2021 examples pass */
	pol.check_age = false;
	c.created = 1618884473;
	c.expires = 1;
	assert_false(hm_rfc9421_stale(&c, &pol, now, skew));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_b25_ready, setup, teardown),
		cmocka_unit_test_setup_teardown(test_b25_default_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alg_and_label, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_components, setup, teardown),
		cmocka_unit_test_setup_teardown(test_created_nonce, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_rule, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_rule, setup, teardown),
		cmocka_unit_test_setup_teardown(test_content_digest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_digests, setup, teardown),
		cmocka_unit_test(test_stale),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
