/*
 * e2e_rfc9421.c - RFC 9421 HTTP Message Signatures (hmac-sha256) through the real daemon.
 *
 * Keys are imported and policies set with the real hmacctl while the daemon runs; requests are
 * signed by libhmacd's signer (hmacd_rfc9421_sign, which builds the base with proto/sigbase)
 * or taken verbatim from the RFC, and verified through libhmacd. Covered here: the RFC's
 * B.2.5 example byte for byte with the RFC's shared secret; every derived component and the
 * header field forms (plain, ;sf, ;key, ;bs, repeated lines), each tampered alone; the coverage
 * policy (verdict 8) and Content-Digest; key ids across scopes, revocation, expiry and
 * rotation; the clock and the nonce cache; malformed items next to good ones (also on a raw
 * socket, for what the client cannot encode); policy changes taking effect without a restart.
 *
 * Every tamper test also checks the untampered request right after it, so a test cannot pass
 * because the daemon refuses everything.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "harness.h"

#include "proto/buf.h"
#include "proto/frame.h"
#include "proto/msg.h"

/* the RFC 9421 B.2 request and B.2.5 (hmac-sha256): B2_HEADERS, B2_BODY, B25_INPUT, ... */
#include "tests/lib/rfc9421_example.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_HDR 16

/* ---- fixture ---- */

struct fx {
	struct hd d;
	struct hmacd_client *c;
	int64_t started;  /* a time before the daemon started */
	uint8_t sa[48];   /* t1/c1, key id k-t1-c1 */
	uint8_t sb[32];   /* t1/c2, key id k-t1-c2 */
};

static int64_t now(void)
{
	return (int64_t)time(NULL);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	for (size_t i = 0; i < sizeof(f->sa); i++)
		f->sa[i] = (uint8_t)(i * 7 + 1);
	for (size_t i = 0; i < sizeof(f->sb); i++)
		f->sb[i] = (uint8_t)(i * 13 + 5);
	f->started = now() - 1;
	hd_start(&f->d, "--threads 2 --skew 300");
	assert_int_equal(hd_key_import(&f->d, "t1", "c1", "k-t1-c1", f->sa, sizeof(f->sa), 0), 1);
	assert_int_equal(hd_key_import(&f->d, "t1", "c2", "k-t1-c2", f->sb, sizeof(f->sb), 0), 1);
	f->c = hd_client(&f->d);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	hmacd_close(f->c);
	hd_stop(&f->d);
	hd_cleanup(&f->d);
	free(f);
	return 0;
}

/* ---- requests ---- */

/* A request to sign and verify: owns its strings; rq_item() points `it` at them. */
struct rq {
	char tenant[64], container[64];
	char method[16], authority[64], path[256], uri_scheme[8], label[16];
	struct hmacd_header headers[MAX_HDR];
	size_t nheaders;
	char digest[HMACD_CONTENT_DIGEST_CAP];
	char clen[24];
	const char *body; /* NULL: no body sent */
	char input[HMACD_RFC9421_FIELD_MAX + 1];
	char sig[HMACD_RFC9421_SIGNATURE_CAP];
	struct hmacd_rfc9421_item it;
};

static void rq_item(struct rq *r)
{
	struct hmacd_rfc9421_item *it = &r->it;

	memset(it, 0, sizeof(*it));
	it->tenant = r->tenant;
	it->tenant_len = strlen(r->tenant);
	it->container = r->container;
	it->container_len = strlen(r->container);
	it->method = r->method;
	it->method_len = strlen(r->method);
	it->authority = r->authority;
	it->authority_len = strlen(r->authority);
	it->path = r->path;
	it->path_len = strlen(r->path);
	it->uri_scheme = r->uri_scheme;
	it->uri_scheme_len = strlen(r->uri_scheme);
	it->headers = r->headers;
	it->nheaders = r->nheaders;
	it->signature_input = r->input;
	it->signature_input_len = strlen(r->input);
	it->signature = r->sig;
	it->signature_len = strlen(r->sig);
	it->label = r->label;
	it->label_len = strlen(r->label);
	if (r->body != NULL) {
		it->body = (const uint8_t *)r->body;
		it->body_len = strlen(r->body);
	}
}

/* Appends a header; name and value must outlive the request (literals or r's own buffers). */
static void rq_add(struct rq *r, const char *name, const char *value)
{
	assert_true(r->nheaders < MAX_HDR);
	r->headers[r->nheaders++] = (struct hmacd_header){name, strlen(name), value, strlen(value)};
	rq_item(r);
}

/* Replaces the value of the n-th header called name (0: the first). */
static void rq_set(struct rq *r, const char *name, unsigned nth, const char *value)
{
	for (size_t i = 0; i < r->nheaders; i++) {
		if (strcmp(r->headers[i].name, name) != 0 || nth-- > 0)
			continue;
		r->headers[i].value = value;
		r->headers[i].value_len = strlen(value);
		rq_item(r);
		return;
	}
	fail_msg("no header %s", name);
}

static void rq_remove(struct rq *r, const char *name)
{
	size_t k = 0;

	for (size_t i = 0; i < r->nheaders; i++)
		if (strcmp(r->headers[i].name, name) != 0)
			r->headers[k++] = r->headers[i];
	assert_true(k < r->nheaders);
	r->nheaders = k;
	rq_item(r);
}

/*
 * POST https://api.example.com:8443/containers/<c>/exec?tty=0&name=x%20y with a JSON body,
 * its Content-Digest (sha-256) and Content-Length.
 */
static void rq_init(struct rq *r, const char *tenant, const char *container)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->tenant, sizeof(r->tenant), "%s", tenant);
	snprintf(r->container, sizeof(r->container), "%s", container);
	snprintf(r->method, sizeof(r->method), "POST");
	snprintf(r->authority, sizeof(r->authority), "api.example.com:8443");
	snprintf(r->path, sizeof(r->path), "/containers/%s/exec?tty=0&name=x%%20y", container);
	snprintf(r->uri_scheme, sizeof(r->uri_scheme), "https");
	r->body = "{\"cmd\":[\"ls\",\"-l\"]}";
	assert_int_equal(hmacd_content_digest((const uint8_t *)r->body, strlen(r->body), 256,
					      r->digest, sizeof(r->digest)),
			 HMACD_OK);
	snprintf(r->clen, sizeof(r->clen), "%zu", strlen(r->body));
	rq_add(r, "host", "api.example.com:8443");
	rq_add(r, "content-type", "application/json");
	rq_add(r, "content-digest", r->digest);
	rq_add(r, "content-length", r->clen);
}

/* What the default policy needs for a request with a query and a body. */
static const char *const DEFAULTS[] = {"@method", "@authority", "@path", "@query",
				       "content-digest"};

/*
 * Signs r with components = DEFAULTS plus `extra` (NULL, or one of DEFAULTS: nothing more),
 * created now and a fresh
 * nonce, unless p says otherwise (p may be NULL; its components are replaced).
 */
static void rq_sign(struct rq *r, const uint8_t *secret, size_t len, const char *keyid,
		    const char *extra, const struct hmacd_rfc9421_params *p)
{
	const char *comps[ARRAY_LEN(DEFAULTS) + 1];
	struct hmacd_rfc9421_params q = {0};
	size_t n = 0;
	int rc;

	if (p != NULL)
		q = *p;
	for (; n < ARRAY_LEN(DEFAULTS); n++)
		comps[n] = DEFAULTS[n];
	for (size_t i = 0; extra != NULL && i < ARRAY_LEN(DEFAULTS); i++)
		if (strcmp(extra, DEFAULTS[i]) == 0)
			extra = NULL; /* covered already (twice would be malformed) */
	if (extra != NULL)
		comps[n++] = extra;
	if (q.components == NULL) {
		q.components = comps;
		q.ncomponents = n;
	}
	q.keyid = keyid;
	rq_item(r);
	rc = hmacd_rfc9421_sign(secret, len, &r->it, &q, r->input, sizeof(r->input), r->sig,
				sizeof(r->sig));
	if (rc != HMACD_OK) {
		/* say which component the signer could not build */
		for (size_t i = 0; i < q.ncomponents; i++) {
			struct hmacd_rfc9421_params one = q;

			one.components = &q.components[i];
			one.ncomponents = 1;
			rc = hmacd_rfc9421_sign(secret, len, &r->it, &one, r->input,
						sizeof(r->input), r->sig, sizeof(r->sig));
			if (rc != HMACD_OK)
				fail_msg("hmacd_rfc9421_sign: %s: component %s", hmacd_strerror(rc),
					 q.components[i]);
		}
		fail_msg("hmacd_rfc9421_sign: %s", hmacd_strerror(rc));
	}
	rq_item(r);
}

/* A copy of r whose item points at the copy's own buffers. */
static void rq_copy(struct rq *dst, const struct rq *src)
{
	*dst = *src;
	rq_item(dst);
}

static unsigned verify_rq(struct fx *f, const struct rq *r)
{
	struct hmacd_any_item ai = {HMACD_SCHEME_RFC9421, {.rfc9421 = &r->it}};
	uint8_t v = 0xff;

	assert_int_equal(hmacd_verify_any(f->c, &ai, 1, &v), HMACD_OK);
	return v;
}

#define expect_verdict(f, r, want)                                                          \
	do {                                                                                \
		unsigned got_ = verify_rq((f), (r));                                        \
		if (got_ != (unsigned)(want))                                               \
			fail_msg("%s:%d: verdict %s, want %s\nSignature-Input: %s", __FILE__, \
				 __LINE__, hmacd_verdict_name(got_), hmacd_verdict_name(want), \
				 (r)->input);                                               \
	} while (0)

static void ctl_ok(struct fx *f, const char *args)
{
	char out[4096];
	int rc = hd_ctl(&f->d, out, sizeof(out), args);

	if (rc != 0)
		fail_msg("hmacctl %s: exit %d\n%s", args, rc, out);
}

/* ---- RFC 9421 B.2.5 ---- */

static void b25_item(struct hmacd_rfc9421_item *it, const char *signature)
{
	b2_client_item(it, "rfc", "b25");
	it->signature_input = B25_INPUT;
	it->signature_input_len = strlen(B25_INPUT);
	it->signature = signature;
	it->signature_len = strlen(signature);
}

static unsigned verify_item(struct fx *f, const struct hmacd_rfc9421_item *it)
{
	struct hmacd_any_item ai = {HMACD_SCHEME_RFC9421, {.rfc9421 = it}};
	uint8_t v = 0xff;

	assert_int_equal(hmacd_verify_any(f->c, &ai, 1, &v), HMACD_OK);
	return v;
}

static void test_rfc_b25(void **state)
{
	struct fx *f = *state;
	struct hmacd_rfc9421_item it;
	uint8_t secret[66];
	char tampered[sizeof(B25_SIGNATURE)];

	assert_int_equal(EVP_DecodeBlock(secret, (const unsigned char *)SHARED_SECRET_B64,
					 (int)strlen(SHARED_SECRET_B64)),
			 66); /* 64 bytes, plus 2 for the padding */
	assert_int_equal(hd_key_import(&f->d, "rfc", "b25", "test-shared-secret", secret, 64, 0),
			 1);
	/*
	 * What B.2.5 covers; its created lies in 2021 and it has no nonce. The request has a
	 * body (content-length: 18) and a query, but B.2.5 covers neither content-digest nor
	 * @query: --no-body-digest --no-query.
	 */
	ctl_ok(f, "policy set --tenant rfc --container b25 --require date @authority content-type "
		  "--no-nonce --no-age-check --no-body-digest --no-query");
	b25_item(&it, B25_SIGNATURE);
	assert_int_equal(verify_item(f, &it), HMACD_V_OK);
	assert_int_equal(verify_item(f, &it), HMACD_V_OK); /* no nonce: no replay protection */
	/* one byte of the signature changed */
	memcpy(tampered, B25_SIGNATURE, sizeof(tampered));
	tampered[9] = 'q'; /* "pxcQ..." -> "qxcQ..." */
	b25_item(&it, tampered);
	assert_int_equal(verify_item(f, &it), HMACD_V_BAD_SIGNATURE);
	/* one byte of a covered header changed */
	{
		struct hmacd_header h[ARRAY_LEN(B2_HEADERS)];

		memcpy(h, B2_HEADERS, sizeof(h));
		h[2].value = "application/jsoN";
		b25_item(&it, B25_SIGNATURE);
		it.headers = h;
		assert_int_equal(verify_item(f, &it), HMACD_V_BAD_SIGNATURE);
	}
	/* the default policy: B.2.5 lacks @method and @path (and its created is old) */
	ctl_ok(f, "policy unset --tenant rfc --container b25");
	b25_item(&it, B25_SIGNATURE);
	assert_int_equal(verify_item(f, &it), HMACD_V_INSUFFICIENT_COVERAGE);
	/* a tenant-wide policy applies to the scope too */
	ctl_ok(f, "policy set --tenant rfc --require @authority --no-nonce --no-age-check "
		  "--no-body-digest --no-query");
	assert_int_equal(verify_item(f, &it), HMACD_V_OK);
	/* the age check on: the 2021 created is stale */
	ctl_ok(f, "policy set --tenant rfc --require @authority --no-nonce --no-body-digest "
		  "--no-query");
	assert_int_equal(verify_item(f, &it), HMACD_V_STALE_TIMESTAMP);
	OPENSSL_cleanse(secret, sizeof(secret));
}

/* ---- derived components ---- */

static void mut_method(struct rq *r)
{
	snprintf(r->method, sizeof(r->method), "PUT");
}

static void mut_scheme(struct rq *r)
{
	snprintf(r->uri_scheme, sizeof(r->uri_scheme), "http");
}

static void mut_authority(struct rq *r)
{
	snprintf(r->authority, sizeof(r->authority), "api.example.com:8444");
}

static void mut_path(struct rq *r)
{
	char *q = strchr(r->path, '?');
	char tail[128];

	snprintf(tail, sizeof(tail), "%s", q);
	snprintf(q, sizeof(r->path) - (size_t)(q - r->path), "/more%s", tail);
}

static void mut_query_tty(struct rq *r)
{
	char *t = strstr(r->path, "tty=0");

	t[4] = '1';
}

static void mut_query_name(struct rq *r)
{
	char *t = strstr(r->path, "name=x%20y");

	t[5] = 'z';
}

/* A header line of the tampered copy set to a new value: the nth line called name. */
struct hdr_set {
	const char *name;
	unsigned nth;
	const char *value;
};

struct tamper_case {
	const char *extra;          /* covered on top of DEFAULTS, or NULL */
	unsigned want;              /* the tampered request's verdict */
	void (*mut)(struct rq *r);  /* changes one thing in the request, or NULL */
	struct hdr_set set[2];      /* header lines set (name NULL: none), after mut */
};

/*
 * Signs a fresh request, verifies the tampered copy (want), then the original: OK after a
 * refusal (the refusal consumed no nonce), REPLAY after an OK (the copy used the nonce).
 */
static void run_tamper(struct fx *f, const struct tamper_case *tc, size_t n,
		       void (*prep)(struct rq *r))
{
	struct rq *r = malloc(sizeof(*r)), *t = malloc(sizeof(*t));

	assert_non_null(r);
	assert_non_null(t);
	for (size_t i = 0; i < n; i++) {
		rq_init(r, "t1", "c1");
		if (prep != NULL)
			prep(r);
		rq_sign(r, f->sa, sizeof(f->sa), "k-t1-c1", tc[i].extra, NULL);
		rq_copy(t, r);
		if (tc[i].mut != NULL)
			tc[i].mut(t);
		for (size_t j = 0; j < ARRAY_LEN(tc[i].set) && tc[i].set[j].name != NULL; j++)
			rq_set(t, tc[i].set[j].name, tc[i].set[j].nth, tc[i].set[j].value);
		rq_item(t);
		expect_verdict(f, t, tc[i].want);
		expect_verdict(f, r, tc[i].want == HMACD_V_OK ? HMACD_V_REPLAY : HMACD_V_OK);
	}
	free(t);
	free(r);
}

static void test_derived_components(void **state)
{
	static const struct tamper_case cases[] = {
		{"@method", HMACD_V_BAD_SIGNATURE, .mut = mut_method},
		{"@target-uri", HMACD_V_BAD_SIGNATURE, .mut = mut_scheme},
		{"@scheme", HMACD_V_BAD_SIGNATURE, .mut = mut_scheme},
		{"@authority", HMACD_V_BAD_SIGNATURE, .mut = mut_authority},
		{"@request-target", HMACD_V_BAD_SIGNATURE, .mut = mut_query_tty},
		{"@path", HMACD_V_BAD_SIGNATURE, .mut = mut_path},
		{"@query", HMACD_V_BAD_SIGNATURE, .mut = mut_query_tty},
		{"@query-param;name=tty", HMACD_V_BAD_SIGNATURE, .mut = mut_query_tty},
		{"@query-param;name=name", HMACD_V_BAD_SIGNATURE, .mut = mut_query_name},
		{"@target-uri", HMACD_V_BAD_SIGNATURE, .mut = mut_query_name},
		/* the defaults cover the query whole */
		{NULL, HMACD_V_BAD_SIGNATURE, .mut = mut_query_tty},
		{NULL, HMACD_V_BAD_SIGNATURE, .mut = mut_query_name},
		/* control: what is not covered may change (and the original is then a replay) */
		{NULL, HMACD_V_OK, .mut = mut_scheme},
	};
	static const char *const all[] = {
		"@method", "@target-uri", "@authority", "@scheme", "@request-target", "@path",
		"@query", "@query-param;name=tty", "@query-param;name=name", "content-digest"};
	struct hmacd_rfc9421_params p = {.components = all, .ncomponents = ARRAY_LEN(all)};
	struct fx *f = *state;
	struct rq *r = malloc(sizeof(*r));

	assert_non_null(r);
	/* every derived component covered at once */
	rq_init(r, "t1", "c1");
	rq_sign(r, f->sa, sizeof(f->sa), "k-t1-c1", NULL, &p);
	expect_verdict(f, r, HMACD_V_OK);
	expect_verdict(f, r, HMACD_V_REPLAY);
	/* the same over plain http, with the default port in the authority */
	rq_init(r, "t1", "c1");
	snprintf(r->uri_scheme, sizeof(r->uri_scheme), "http");
	snprintf(r->authority, sizeof(r->authority), "API.example.com:80");
	rq_sign(r, f->sa, sizeof(f->sa), "k-t1-c1", NULL, &p);
	expect_verdict(f, r, HMACD_V_OK);
	/* and with no uri_scheme sent: https */
	rq_init(r, "t1", "c1");
	r->uri_scheme[0] = '\0';
	rq_sign(r, f->sa, sizeof(f->sa), "k-t1-c1", NULL, &p);
	expect_verdict(f, r, HMACD_V_OK);
	free(r);
	run_tamper(f, cases, ARRAY_LEN(cases), NULL);
}

/* ---- header fields ---- */

static void prep_fields(struct rq *r)
{
	rq_add(r, "x-list", "a, b");
	rq_add(r, "x-other", "between");
	rq_add(r, "x-list", "c");
	rq_add(r, "priority", "u=1,  i");
	rq_add(r, "x-dict", "a=1, b=2");
	rq_add(r, "x-bin", "  some value  ");
}

static void mut_drop_list(struct rq *r)
{
	rq_remove(r, "x-list");
}

static void test_header_fields(void **state)
{
	static const struct tamper_case cases[] = {
		{"content-type", HMACD_V_BAD_SIGNATURE, .set = {{"content-type", 0, "text/plain"}}},
		/* repeated lines: joined with ", " in arrival order */
		{"x-list", HMACD_V_BAD_SIGNATURE, .set = {{"x-list", 1, "d"}}},
		{"x-list", HMACD_V_BAD_SIGNATURE,
		 .set = {{"x-list", 0, "c"}, {"x-list", 1, "a, b"}}},
		/* the same joined value */
		{"x-list", HMACD_V_OK, .set = {{"x-list", 0, "a"}, {"x-list", 1, "b, c"}}},
		/* another header between them */
		{"x-list", HMACD_V_OK, .set = {{"x-other", 0, "changed"}}},
		/* ;bs wraps each line: a different split is a different value */
		{"x-list;bs", HMACD_V_BAD_SIGNATURE,
		 .set = {{"x-list", 0, "a"}, {"x-list", 1, "b, c"}}},
		{"x-bin;bs", HMACD_V_BAD_SIGNATURE, .set = {{"x-bin", 0, "some valuf"}}},
		/* leading/trailing spaces are stripped */
		{"x-bin;bs", HMACD_V_OK, .set = {{"x-bin", 0, "some value"}}},
		/* ;sf: re-serialized, so whitespace does not matter, values do */
		{"priority;sf", HMACD_V_BAD_SIGNATURE, .set = {{"priority", 0, "u=2, i"}}},
		{"priority;sf", HMACD_V_OK, .set = {{"priority", 0, "u=1,i"}}},
		/* ;key: one member only */
		{"x-dict;key=a", HMACD_V_BAD_SIGNATURE, .set = {{"x-dict", 0, "a=5, b=2"}}},
		{"x-dict;key=a", HMACD_V_OK, .set = {{"x-dict", 0, "a=1, b=3"}}},
		/* a covered field missing from the request: malformed */
		{"x-list", HMACD_V_MALFORMED, .mut = mut_drop_list},
	};

	run_tamper(*state, cases, ARRAY_LEN(cases), prep_fields);
}

/* ---- coverage (verdict 8) and Content-Digest ---- */

static void test_coverage(void **state)
{
	static const char *const no_path[] = {"@method", "@authority", "@query", "content-digest"};
	static const char *const no_digest[] = {"@method", "@authority", "@path", "@query"};
	struct hmacd_rfc9421_params p = {0};
	struct fx *f = *state;
	struct rq *r = malloc(sizeof(*r));

	assert_non_null(r);
	/* a required component missing */
	rq_init(r, "t1", "c1");
	p.components = no_path;
	p.ncomponents = ARRAY_LEN(no_path);
	rq_sign(r, f->sa, sizeof(f->sa), "k-t1-c1", NULL, &p);
	expect_verdict(f, r, HMACD_V_INSUFFICIENT_COVERAGE);
	/* coverage comes before the key: the same with an unknown key id */
	rq_sign(r, f->sa, sizeof(f->sa), "no-such-key", NULL, &p);
	expect_verdict(f, r, HMACD_V_INSUFFICIENT_COVERAGE);
	/* created missing; nonce missing */
	p = (struct hmacd_rfc9421_params){.created = HMACD_RFC9421_OMIT};
	rq_sign(r, f->sa, sizeof(f->sa), "k-t1-c1", NULL, &p);
	expect_verdict(f, r, HMACD_V_INSUFFICIENT_COVERAGE);
	p = (struct hmacd_rfc9421_params){.nonce = ""};
	rq_sign(r, f->sa, sizeof(f->sa), "k-t1-c1", NULL, &p);
	expect_verdict(f, r, HMACD_V_INSUFFICIENT_COVERAGE);
	/* a body, and content-digest not covered */
	p = (struct hmacd_rfc9421_params){.components = no_digest,
					  .ncomponents = ARRAY_LEN(no_digest)};
	rq_sign(r, f->sa, sizeof(f->sa), "k-t1-c1", NULL, &p);
	expect_verdict(f, r, HMACD_V_INSUFFICIENT_COVERAGE);
	/* no body sent, but content-length says there is one */
	rq_init(r, "t1", "c1");
	r->body = NULL;
	rq_remove(r, "content-digest");
	rq_sign(r, f->sa, sizeof(f->sa), "k-t1-c1", NULL, &p);
	expect_verdict(f, r, HMACD_V_INSUFFICIENT_COVERAGE);
	/* ... or transfer-encoding */
	rq_remove(r, "content-length");
	rq_add(r, "transfer-encoding", "chunked");
	rq_sign(r, f->sa, sizeof(f->sa), "k-t1-c1", NULL, &p);
	expect_verdict(f, r, HMACD_V_INSUFFICIENT_COVERAGE);
	/* no body at all: nothing to digest */
	rq_remove(r, "transfer-encoding");
	rq_sign(r, f->sa, sizeof(f->sa), "k-t1-c1", NULL, &p);
	expect_verdict(f, r, HMACD_V_OK);
	rq_add(r, "content-length", "0");
	rq_sign(r, f->sa, sizeof(f->sa), "k-t1-c1", NULL, &p);
	expect_verdict(f, r, HMACD_V_OK);
	free(r);
}

/* The Content-Digest value of data with sha-256 or sha-512 (bits) into out[0..cap). */
static void digest_of(const char *data, unsigned bits, char *out, size_t cap)
{
	assert_int_equal(hmacd_content_digest((const uint8_t *)data, strlen(data), bits, out, cap),
			 HMACD_OK);
}

/* r with the Content-Digest field value, signed with the defaults: the daemon says want. */
static void expect_digest(struct fx *f, struct rq *r, const char *value, unsigned want)
{
	rq_set(r, "content-digest", 0, value);
	rq_sign(r, f->sa, sizeof(f->sa), "k-t1-c1", NULL, NULL);
	expect_verdict(f, r, want);
}

static void test_content_digest(void **state)
{
	struct fx *f = *state;
	struct rq *r = malloc(sizeof(*r));
	char other[HMACD_CONTENT_DIGEST_CAP], both[2 * HMACD_CONTENT_DIGEST_CAP + 2];

	assert_non_null(r);
	/* covered and right (sha-256) */
	rq_init(r, "t1", "c1");
	rq_sign(r, f->sa, sizeof(f->sa), "k-t1-c1", NULL, NULL);
	expect_verdict(f, r, HMACD_V_OK);
	/* covered and wrong for the body: the body was swapped after signing */
	rq_init(r, "t1", "c1");
	rq_sign(r, f->sa, sizeof(f->sa), "k-t1-c1", NULL, NULL);
	r->body = "{\"cmd\":[\"rm\",\"-r\"]}";
	rq_item(r);
	expect_verdict(f, r, HMACD_V_BAD_SIGNATURE);
	r->body = "{\"cmd\":[\"ls\",\"-l\"]}";
	rq_item(r);
	expect_verdict(f, r, HMACD_V_OK); /* the refusal did not consume the nonce */
	/* a signer that put a wrong digest in: signed, but the body does not match */
	rq_init(r, "t1", "c1");
	digest_of("x", 256, r->digest, sizeof(r->digest));
	expect_digest(f, r, r->digest, HMACD_V_BAD_SIGNATURE);
	/* sha-512 */
	rq_init(r, "t1", "c1");
	digest_of(r->body, 512, r->digest, sizeof(r->digest));
	expect_digest(f, r, r->digest, HMACD_V_OK);
	/* both, right; then both with the sha-512 one wrong */
	rq_init(r, "t1", "c1");
	digest_of(r->body, 512, other, sizeof(other));
	snprintf(both, sizeof(both), "%s, %s", r->digest, other);
	expect_digest(f, r, both, HMACD_V_OK);
	digest_of("x", 512, other, sizeof(other));
	snprintf(both, sizeof(both), "%s, %s", r->digest, other);
	expect_digest(f, r, both, HMACD_V_BAD_SIGNATURE);
	/* covered content-digest ;sf is the same header: checked too */
	rq_init(r, "t1", "c1");
	{
		static const char *const sf[] = {"@method", "@authority", "@path", "@query",
						 "content-digest;sf"};
		struct hmacd_rfc9421_params p = {.components = sf, .ncomponents = ARRAY_LEN(sf)};

		rq_sign(r, f->sa, sizeof(f->sa), "k-t1-c1", NULL, &p);
		expect_verdict(f, r, HMACD_V_OK);
	}
	/* only an algorithm hmacd does not check: not a usable digest */
	rq_init(r, "t1", "c1");
	expect_digest(f, r, "md5=:1B2M2Y8AsgTpgAmY7PhCfg==:", HMACD_V_INSUFFICIENT_COVERAGE);
	free(r);
}

/* ---- keys ---- */

static void test_keys(void **state)
{
	struct fx *f = *state;
	struct rq *r = malloc(sizeof(*r));
	uint8_t s3[16], s4a[64], s4b[40], s5[32], s5b[32];
	char id5[HD_KEYID_CAP], id5b[HD_KEYID_CAP], out[8192];

	assert_non_null(r);
	memset(s3, 0x33, sizeof(s3));
	memset(s4a, 0x4a, sizeof(s4a));
	memset(s4b, 0x4b, sizeof(s4b));
	/* the key id of another scope, with its own right secret: never found for this scope */
	rq_init(r, "t1", "c1");
	rq_sign(r, f->sb, sizeof(f->sb), "k-t1-c2", NULL, NULL);
	expect_verdict(f, r, HMACD_V_UNKNOWN_KEY);
	/* the same request for the scope the key belongs to passes */
	rq_init(r, "t1", "c2");
	rq_sign(r, f->sb, sizeof(f->sb), "k-t1-c2", NULL, NULL);
	expect_verdict(f, r, HMACD_V_OK);
	/* t1/c1's secret under t1/c2's key id */
	rq_init(r, "t1", "c1");
	rq_sign(r, f->sa, sizeof(f->sa), "k-t1-c2", NULL, NULL);
	expect_verdict(f, r, HMACD_V_UNKNOWN_KEY);
	/* no such key id */
	rq_sign(r, f->sa, sizeof(f->sa), "k-nobody", NULL, NULL);
	expect_verdict(f, r, HMACD_V_UNKNOWN_KEY);
	/* a wrong secret under the right key id */
	rq_sign(r, f->sb, sizeof(f->sb), "k-t1-c1", NULL, NULL);
	expect_verdict(f, r, HMACD_V_BAD_SIGNATURE);

	/* revoked (a 16-byte imported secret) */
	assert_int_equal(hd_key_import(&f->d, "t3", "c1", "k3-1", s3, sizeof(s3), 0), 1);
	rq_init(r, "t3", "c1");
	rq_sign(r, s3, sizeof(s3), "k3-1", NULL, NULL);
	expect_verdict(f, r, HMACD_V_OK);
	ctl_ok(f, "key revoke --tenant t3 --container c1 --epoch 1");
	rq_sign(r, s3, sizeof(s3), "k3-1", NULL, NULL);
	expect_verdict(f, r, HMACD_V_KEY_REVOKED);

	/* import into an existing scope is a rotation: superseded with no grace = expired */
	assert_int_equal(hd_key_import(&f->d, "t4", "c1", "k4-1", s4a, sizeof(s4a), 0), 1);
	assert_int_equal(hd_key_import(&f->d, "t4", "c1", "k4-2", s4b, sizeof(s4b), 0), 2);
	rq_init(r, "t4", "c1");
	rq_sign(r, s4a, sizeof(s4a), "k4-1", NULL, NULL);
	expect_verdict(f, r, HMACD_V_KEY_EXPIRED);
	rq_sign(r, s4b, sizeof(s4b), "k4-2", NULL, NULL);
	expect_verdict(f, r, HMACD_V_OK);
	/* a key id in use elsewhere cannot be taken (exit 4), nor a bad secret length (2) */
	assert_int_equal(hd_ctl_in(&f->d, s4b, sizeof(s4b), NULL, 0,
				   "key import --tenant t4 --container c2 --secret-file - "
				   "--keyid k-t1-c1"),
			 4);
	assert_int_equal(
		hd_ctl(&f->d, NULL, 0, "key create --tenant t4 --container c3 --keyid k4-1"), 4);
	assert_int_equal(hd_ctl_in(&f->d, s4b, 15, NULL, 0,
				   "key import --tenant t4 --container c2 --secret-file - "
				   "--keyid k4-short"),
			 2);

	/* --base64: the secret as text (whitespace around it ignored) */
	{
		static const char b64[] = "\n  AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=  \n";
		uint8_t raw[32];

		for (size_t i = 0; i < sizeof(raw); i++)
			raw[i] = (uint8_t)i;
		assert_int_equal(hd_ctl_in(&f->d, b64, strlen(b64), out, sizeof(out),
					   "key import --tenant t6 --container c1 --secret-file - "
					   "--base64 --keyid k6-b64 --json"),
				 0);
		assert_null(strstr(out, "AAECAw"));
		rq_init(r, "t6", "c1");
		rq_sign(r, raw, sizeof(raw), "k6-b64", NULL, NULL);
		expect_verdict(f, r, HMACD_V_OK);
	}

	/* a generated key id, then rotate with --keyid: both ids work within the grace */
	assert_int_equal(hd_key_create_id(&f->d, "t5", "c1", NULL, id5, s5), 1);
	assert_int_equal(strncmp(id5, "hk_", 3), 0);
	assert_int_equal(strlen(id5), 3 + 32);
	assert_int_equal(strspn(id5 + 3, "0123456789abcdef"), 32);
	assert_int_equal(hd_key_rotate_id(&f->d, "t5", "c1", 600, "k5-new", id5b, s5b), 2);
	rq_init(r, "t5", "c1");
	rq_sign(r, s5, sizeof(s5), id5, NULL, NULL);
	expect_verdict(f, r, HMACD_V_OK);
	rq_sign(r, s5b, sizeof(s5b), "k5-new", NULL, NULL);
	expect_verdict(f, r, HMACD_V_OK);
	/* each id binds its own epoch's secret */
	rq_sign(r, s5, sizeof(s5), "k5-new", NULL, NULL);
	expect_verdict(f, r, HMACD_V_BAD_SIGNATURE);
	/* key list names the ids and never a secret */
	assert_int_equal(hd_ctl(&f->d, out, sizeof(out), "key list --json"), 0);
	assert_non_null(strstr(out, "\"k5-new\""));
	assert_non_null(strstr(out, id5));
	assert_non_null(strstr(out, "\"k-t1-c1\""));
	assert_null(strstr(out, "\"secret\""));
	free(r);
}

/* ---- the clock and the nonce cache ---- */

static void test_clock_and_replay(void **state)
{
	/* created and expires against the daemon's clock (--skew 300) */
	static const struct {
		int64_t created, expires; /* seconds from now; 0: not given */
		bool wrong_key;           /* signed with t1/c2's secret */
		unsigned want;
	} clock[] = {
		{-1000, 0, false, HMACD_V_STALE_TIMESTAMP},
		{1000, 0, false, HMACD_V_STALE_TIMESTAMP},
		{0, -10, false, HMACD_V_STALE_TIMESTAMP},
		{0, 100, false, HMACD_V_OK},
		/* a bad signature wins over a stale timestamp (the clock means nothing unsigned) */
		{-1000, 0, true, HMACD_V_BAD_SIGNATURE},
	};
	struct fx *f = *state;
	struct rq *r = malloc(sizeof(*r)), *t = malloc(sizeof(*t));
	struct hmacd_rfc9421_params p = {0};

	assert_non_null(r);
	assert_non_null(t);
	rq_init(r, "t1", "c1");
	for (size_t i = 0; i < ARRAY_LEN(clock); i++) {
		p.created = clock[i].created != 0 ? now() + clock[i].created : 0;
		p.expires = clock[i].expires != 0 ? now() + clock[i].expires : 0;
		if (clock[i].wrong_key)
			rq_sign(r, f->sb, sizeof(f->sb), "k-t1-c1", NULL, &p);
		else
			rq_sign(r, f->sa, sizeof(f->sa), "k-t1-c1", NULL, &p);
		expect_verdict(f, r, clock[i].want);
	}

	/* replay: OK once, then REPLAY; a forged copy never consumes the nonce */
	p = (struct hmacd_rfc9421_params){.nonce = "fixed-nonce-1"};
	rq_sign(r, f->sa, sizeof(f->sa), "k-t1-c1", NULL, &p);
	rq_copy(t, r);
	snprintf(t->method, sizeof(t->method), "DELETE");
	rq_item(t);
	expect_verdict(f, t, HMACD_V_BAD_SIGNATURE);
	expect_verdict(f, r, HMACD_V_OK);
	expect_verdict(f, r, HMACD_V_REPLAY);
	/* the nonce is per scope: the same nonce in t1/c2 is new there */
	rq_init(t, "t1", "c2");
	rq_sign(t, f->sb, sizeof(f->sb), "k-t1-c2", NULL, &p);
	expect_verdict(f, t, HMACD_V_OK);
	/* a fresh signature with the used nonce (another created) is still a replay */
	p.created = now() - 1;
	rq_sign(r, f->sa, sizeof(f->sa), "k-t1-c1", NULL, &p);
	expect_verdict(f, r, HMACD_V_REPLAY);
	/* signed before the daemon started, with a nonce: fail closed */
	p = (struct hmacd_rfc9421_params){.created = f->started - 5};
	rq_sign(r, f->sa, sizeof(f->sa), "k-t1-c1", NULL, &p);
	expect_verdict(f, r, HMACD_V_REPLAY);
	/* without a nonce (allowed by the scope's policy) the same age passes */
	ctl_ok(f, "policy set --tenant t1 --container c1 --require @method @authority @path "
		  "--no-nonce");
	p = (struct hmacd_rfc9421_params){.created = f->started - 5, .nonce = ""};
	rq_sign(r, f->sa, sizeof(f->sa), "k-t1-c1", NULL, &p);
	expect_verdict(f, r, HMACD_V_OK);
	/* the age check off: created and expires are not compared with the clock */
	ctl_ok(f, "policy set --tenant t1 --container c1 --require @method @authority @path "
		  "--no-nonce --no-age-check");
	p = (struct hmacd_rfc9421_params){.created = 1618884473, .expires = 1618884500,
					  .nonce = ""};
	rq_sign(r, f->sa, sizeof(f->sa), "k-t1-c1", NULL, &p);
	expect_verdict(f, r, HMACD_V_OK);
	free(t);
	free(r);
}

/* ---- malformed items next to good ones ---- */

/* Builds a second signature "sig2" and joins both into r (Signature-Input and Signature). */
static void rq_two_sigs(struct rq *r, struct fx *f)
{
	struct hmacd_rfc9421_params p2 = {.label = "sig2"};
	struct rq *two = malloc(sizeof(*two));
	char in1[sizeof(r->input)], s1[sizeof(r->sig)];

	assert_non_null(two);
	rq_sign(r, f->sa, sizeof(f->sa), "k-t1-c1", NULL, NULL);
	memcpy(in1, r->input, sizeof(in1));
	memcpy(s1, r->sig, sizeof(s1));
	rq_copy(two, r);
	rq_sign(two, f->sa, sizeof(f->sa), "k-t1-c1", "content-type", &p2);
	assert_true(strlen(in1) + 2 + strlen(two->input) < sizeof(r->input));
	assert_true(strlen(s1) + 2 + strlen(two->sig) < sizeof(r->sig));
	strcpy(r->input, in1);
	strcat(r->input, ", ");
	strcat(r->input, two->input);
	strcpy(r->sig, s1);
	strcat(r->sig, ", ");
	strcat(r->sig, two->sig);
	rq_item(r);
	free(two);
}

static void test_malformed_batch(void **state)
{
	enum { N = 16 };
	struct fx *f = *state;
	struct rq *r = calloc(N, sizeof(*r));
	struct hmacd_any_item items[N];
	struct hd_req v1;
	struct hmacd_rfc9421_params alg = {.alg = true};
	uint8_t v[N];
	static const uint8_t want[N] = {
		HMACD_V_OK,        /* 0 good */
		HMACD_V_MALFORMED, /* 1 alg rsa */
		HMACD_V_MALFORMED, /* 2 no keyid */
		HMACD_V_MALFORMED, /* 3 signature a String */
		HMACD_V_MALFORMED, /* 4 signature of 31 bytes */
		HMACD_V_MALFORMED, /* 5 two signatures, no label */
		HMACD_V_OK,        /* 6 two signatures, label sig2 */
		HMACD_V_OK,        /* 7 two signatures, label sig1 */
		HMACD_V_MALFORMED, /* 8 label not there */
		HMACD_V_OK,        /* 9 an hmacd-v1 neighbour */
		HMACD_V_MALFORMED, /* 10 Signature-Input does not parse */
		HMACD_V_MALFORMED, /* 11 uri_scheme ftp */
		HMACD_V_OK,        /* 12 alg="hmac-sha256" */
		HMACD_V_MALFORMED, /* 13 created is a String */
		HMACD_V_MALFORMED, /* 14 no Signature member for the label */
		HMACD_V_MALFORMED, /* 15 unknown derived component */
	};
	char *s;

	assert_non_null(r);
	for (int i = 0; i < N; i++) {
		rq_init(&r[i], "t1", "c1");
		if (i != 9 && i != 12)
			rq_sign(&r[i], f->sa, sizeof(f->sa), "k-t1-c1", NULL, NULL);
		items[i] = (struct hmacd_any_item){HMACD_SCHEME_RFC9421, {.rfc9421 = &r[i].it}};
	}
	strcat(r[1].input, ";alg=\"rsa-v1_5-sha256\"");
	s = strstr(r[2].input, ";keyid=");
	*s = '\0';
	snprintf(r[3].sig, sizeof(r[3].sig), "sig1=\"%s\"", "pxcQw6G3AjtMBQjwo8XzkZf");
	snprintf(r[4].sig, sizeof(r[4].sig), "sig1=:%s:",
		 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg=="); /* 31 bytes */
	rq_two_sigs(&r[5], f);
	rq_two_sigs(&r[6], f);
	snprintf(r[6].label, sizeof(r[6].label), "sig2");
	rq_two_sigs(&r[7], f);
	snprintf(r[7].label, sizeof(r[7].label), "sig1");
	snprintf(r[8].label, sizeof(r[8].label), "sig3");
	hd_req_init(&v1, "t1", "c1", 1, (uint64_t)now(), "v1-nonce", NULL);
	assert_int_equal(hmacd_sign(f->sa, sizeof(f->sa), &v1.item), HMACD_OK);
	items[9] = (struct hmacd_any_item){HMACD_SCHEME_HMACD_V1, {.v1 = &v1.item}};
	/* written by hand, deliberately: no signer writes a Signature-Input that does not parse */
	snprintf(r[10].input, sizeof(r[10].input), "sig1=(\"@method\"");
	snprintf(r[11].uri_scheme, sizeof(r[11].uri_scheme), "ftp");
	rq_sign(&r[12], f->sa, sizeof(f->sa), "k-t1-c1", NULL, &alg);
	assert_non_null(strstr(r[12].input, ";alg=\"hmac-sha256\""));
	s = strstr(r[13].input, ";created=");
	{
		char tail[512];
		char *end = s + strlen(";created=") + strspn(s + strlen(";created="), "0123456789");

		snprintf(tail, sizeof(tail), "%s", end);
		snprintf(s, sizeof(r[13].input) - (size_t)(s - r[13].input), ";created=\"1\"%s",
			 tail);
	}
	memcpy(r[14].sig, "sig9", 4);
	/* written by hand, deliberately: the signer refuses a component it cannot build */
	snprintf(r[15].input, sizeof(r[15].input),
		 "sig1=(\"@method\" \"@authority\" \"@path\" \"content-digest\" \"@nope\")"
		 ";created=%lld;nonce=\"n15\";keyid=\"k-t1-c1\"",
		 (long long)now());
	for (int i = 0; i < N; i++)
		rq_item(&r[i]);
	memset(v, 0xff, sizeof(v));
	assert_int_equal(hmacd_verify_any(f->c, items, N, v), HMACD_OK);
	for (int i = 0; i < N; i++)
		if (v[i] != want[i])
			fail_msg("item %d: %s, want %s (Signature-Input %s, Signature %s)", i,
				 hmacd_verdict_name(v[i]), hmacd_verdict_name(want[i]),
				 r[i].input, r[i].sig);
	free(r);
}

/* Encodes item `it` as msgpack, with `extra_key` = `extra_val` (a str) added when non-NULL. */
static void put_item(struct hm_buf *b, const struct hm_item *it, const char *extra_key,
		     const char *extra_val)
{
	size_t at = b->len;

	hm_encode_item(b, it);
	assert_false(b->failed);
	if (extra_key == NULL)
		return;
	/* an rfc9421 item is a fixmap (at most 12 keys): one more pair */
	assert_int_equal(b->data[at] & 0xf0, 0x80);
	assert_true((b->data[at] & 0x0f) < 15);
	b->data[at]++;
	hm_buf_append_byte(b, (uint8_t)(0xa0 | strlen(extra_key)));
	hm_buf_append(b, extra_key, strlen(extra_key));
	hm_buf_append_byte(b, (uint8_t)(0xa0 | strlen(extra_val)));
	hm_buf_append(b, extra_val, strlen(extra_val));
}

/* struct hmacd_rfc9421_item -> struct hm_item for the raw encoder (test-side, no checks). */
static void to_hm(const struct rq *r, struct hm_item *it)
{
#define HS(p, n) ((struct hm_str){(const uint8_t *)(p), (n)})
	memset(it, 0, sizeof(*it));
	it->scheme = HM_SCHEME_RFC9421;
	it->tenant = HS(r->it.tenant, r->it.tenant_len);
	it->container = HS(r->it.container, r->it.container_len);
	it->method = HS(r->it.method, r->it.method_len);
	it->rfc.authority = HS(r->it.authority, r->it.authority_len);
	it->path = HS(r->it.path, r->it.path_len);
	it->rfc.uri_scheme = HS(r->it.uri_scheme, r->it.uri_scheme_len);
	it->nheaders = r->it.nheaders;
	for (size_t i = 0; i < r->it.nheaders; i++) {
		it->headers[i].name = HS(r->headers[i].name, r->headers[i].name_len);
		it->headers[i].value = HS(r->headers[i].value, r->headers[i].value_len);
	}
	it->rfc.signature_input = HS(r->it.signature_input, r->it.signature_input_len);
	it->rfc.signature = HS(r->it.signature, r->it.signature_len);
	it->rfc.label = HS(r->it.label, r->it.label_len);
	it->has_body = r->it.body != NULL;
	it->body = HS(r->it.body, r->it.body_len);
#undef HS
}

/* Reads the response to request id from fd: the results of n items, positioned at the first. */
static void raw_results(int fd, uint64_t id, uint32_t n, uint8_t *buf, size_t cap,
			struct hm_response *resp)
{
	long got = hd_raw_recv(fd, buf, cap, 5000);

	assert_true(got > 0);
	assert_int_equal(hm_response_decode(buf, (size_t)got, resp), HM_OK);
	assert_int_equal(resp->kind, HM_RESP_RESULTS);
	assert_int_equal(resp->id, id);
	assert_int_equal(resp->nresults, n);
}

/* What libhmacd cannot send: unknown keys, v1 keys, a wrong scheme, on a raw connection. */
static void test_malformed_raw(void **state)
{
	enum { N = 6 };
	struct fx *f = *state;
	struct rq *r = calloc(N, sizeof(*r));
	struct hm_item *it = malloc(sizeof(*it));
	struct hm_response resp;
	struct hm_buf b;
	uint8_t buf[1024];
	uint64_t code;
	size_t start;
	int fd;
	static const unsigned want[N] = {HMACD_V_OK, HMACD_V_MALFORMED, HMACD_V_MALFORMED,
					 HMACD_V_MALFORMED, HMACD_V_MALFORMED, HMACD_V_OK};

	assert_non_null(r);
	assert_non_null(it);
	for (int i = 0; i < N; i++) {
		rq_init(&r[i], "t1", "c1");
		rq_sign(&r[i], f->sa, sizeof(f->sa), "k-t1-c1", NULL, NULL);
	}
	snprintf(r[4].label, sizeof(r[4].label), "sig1"); /* sent, so that it can be doubled */
	rq_item(&r[4]);
	hm_buf_init(&b, 1 << 20);
	start = hm_encode_verify_begin(&b, 42, N);
	to_hm(&r[0], it);
	put_item(&b, it, NULL, NULL);
	to_hm(&r[1], it);
	put_item(&b, it, "x-debug", "1");       /* unknown key */
	to_hm(&r[2], it);
	put_item(&b, it, "nonce", "abc");        /* an hmacd-v1 key */
	to_hm(&r[3], it);
	put_item(&b, it, "epoch", "1");          /* another one (and of the wrong type) */
	to_hm(&r[4], it);
	put_item(&b, it, "label", "sig1");       /* a key given twice */
	to_hm(&r[5], it);
	put_item(&b, it, NULL, NULL);
	hm_frame_end(&b, start);
	assert_false(b.failed);
	fd = hd_raw_connect(&f->d);
	assert_true(hd_raw_send(fd, b.data, b.len));
	raw_results(fd, 42, N, buf, sizeof(buf), &resp);
	for (int i = 0; i < N; i++) {
		assert_int_equal(hm_mp_read_uint(&resp.results, &code), HM_OK);
		if (code != want[i])
			fail_msg("raw item %d: %s, want %s", i, hmacd_verdict_name((unsigned)code),
				 hmacd_verdict_name(want[i]));
	}
	/* a scheme hmacd does not know */
	hm_buf_reset(&b);
	start = hm_encode_verify_begin(&b, 43, 1);
	rq_sign(&r[0], f->sa, sizeof(f->sa), "k-t1-c1", NULL, NULL);
	to_hm(&r[0], it);
	hm_encode_item(&b, it);
	hm_frame_end(&b, start);
	assert_false(b.failed);
	{
		/* "rfc9421" -> "rfc9422": same length, so the frame stays valid msgpack */
		size_t at = 0;

		while (at + 7 <= b.len && memcmp(b.data + at, "rfc9421", 7) != 0)
			at++;
		assert_true(at + 7 <= b.len);
		b.data[at + 6] = '2';
	}
	assert_true(hd_raw_send(fd, b.data, b.len));
	raw_results(fd, 43, 1, buf, sizeof(buf), &resp);
	assert_int_equal(hm_mp_read_uint(&resp.results, &code), HM_OK);
	assert_int_equal(code, HMACD_V_MALFORMED);
	close(fd);
	hm_buf_free(&b);
	free(it);
	free(r);
}

/*
 * Issue 10, finding 1: a body covered by content-digest, stripped in transit (Content-Length: 0,
 * no body, every header and the signature kept). Whether the app server sends the empty body
 * it received or leaves "body" out of the item, the digest is checked against the empty body
 * and the request is refused; the intact request still verifies (the refusals did not consume
 * its nonce).
 */
static void test_body_stripped(void **state)
{
	struct fx *f = *state;
	struct rq *r = malloc(sizeof(*r)), *s = malloc(sizeof(*s));
	struct hm_item *it = malloc(sizeof(*it));
	struct hm_response resp;
	struct hm_buf b;
	uint8_t buf[1024];
	uint64_t code;
	size_t start;
	int fd;

	assert_non_null(r);
	assert_non_null(s);
	assert_non_null(it);
	rq_init(r, "t1", "c1");
	r->body = "{\"dry_run\":true}";
	digest_of(r->body, 256, r->digest, sizeof(r->digest));
	snprintf(r->clen, sizeof(r->clen), "%zu", strlen(r->body));
	rq_sign(r, f->sa, sizeof(f->sa), "k-t1-c1", NULL, NULL);

	/* through libhmacd: the body as the app received it, empty */
	rq_copy(s, r);
	s->body = "";
	rq_set(s, "content-length", 0, "0");
	expect_verdict(f, s, HMACD_V_BAD_SIGNATURE);
	/* ... or no body at all (NULL) */
	s->body = NULL;
	rq_item(s);
	expect_verdict(f, s, HMACD_V_BAD_SIGNATURE);

	/* on the wire: an item without a "body" key, and one with an empty body */
	hm_buf_init(&b, 1 << 20);
	start = hm_encode_verify_begin(&b, 7, 2);
	to_hm(s, it);
	it->has_body = false;
	put_item(&b, it, NULL, NULL);
	it->has_body = true;
	it->body = (struct hm_str){(const uint8_t *)"", 0};
	put_item(&b, it, NULL, NULL);
	hm_frame_end(&b, start);
	assert_false(b.failed);
	fd = hd_raw_connect(&f->d);
	assert_true(hd_raw_send(fd, b.data, b.len));
	raw_results(fd, 7, 2, buf, sizeof(buf), &resp);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(hm_mp_read_uint(&resp.results, &code), HM_OK);
		assert_int_equal(code, HMACD_V_BAD_SIGNATURE);
	}
	close(fd);
	hm_buf_free(&b);

	/* the request as signed */
	expect_verdict(f, r, HMACD_V_OK);
	free(it);
	free(s);
	free(r);
}

/*
 * Issue 10, finding 5: the query. @path stops before the '?', so a signature over the old
 * default set (@method @authority @path) let an on-path attacker rewrite "?force=false" to
 * "?force=true", or add a query to a request that had none. The default policy now wants the
 * query covered whenever the target has one; a scope may opt out with --no-query.
 */
static void test_query_coverage(void **state)
{
	static const char *const old_set[] = {"@method", "@authority", "@path", "content-digest"};
	static const char *const by_param[] = {"@method", "@authority", "@path", "content-digest",
					       "@query-param;name=force"};
	static const char *const by_target[] = {"@method", "@authority", "@request-target",
						"content-digest"};
	struct hmacd_rfc9421_params p = {.components = old_set, .ncomponents = 4};
	struct fx *f = *state;
	struct rq *r = malloc(sizeof(*r)), *t = malloc(sizeof(*t));

	assert_non_null(r);
	assert_non_null(t);
	/* a query the signature leaves open: refused before any key is looked at */
	rq_init(r, "t1", "c1");
	snprintf(r->path, sizeof(r->path), "/containers/c1/exec?force=false");
	rq_sign(r, f->sa, sizeof(f->sa), "k-t1-c1", NULL, &p);
	expect_verdict(f, r, HMACD_V_INSUFFICIENT_COVERAGE);
	/* ... and so is the attacker's rewrite of it */
	rq_copy(t, r);
	snprintf(t->path, sizeof(t->path), "/containers/c1/exec?force=true");
	rq_item(t);
	expect_verdict(f, t, HMACD_V_INSUFFICIENT_COVERAGE);
	/* one parameter covered is not the query */
	p.components = by_param;
	p.ncomponents = ARRAY_LEN(by_param);
	rq_sign(r, f->sa, sizeof(f->sa), "k-t1-c1", NULL, &p);
	expect_verdict(f, r, HMACD_V_INSUFFICIENT_COVERAGE);
	/* @query covers it: the rewrite is a bad signature, the original verifies */
	rq_sign(r, f->sa, sizeof(f->sa), "k-t1-c1", NULL, NULL);
	rq_copy(t, r);
	snprintf(t->path, sizeof(t->path), "/containers/c1/exec?force=true");
	rq_item(t);
	expect_verdict(f, t, HMACD_V_BAD_SIGNATURE);
	expect_verdict(f, r, HMACD_V_OK);
	/* so does @request-target */
	p.components = by_target;
	p.ncomponents = ARRAY_LEN(by_target);
	rq_sign(r, f->sa, sizeof(f->sa), "k-t1-c1", NULL, &p);
	expect_verdict(f, r, HMACD_V_OK);
	/* no query: @path alone is enough ... */
	snprintf(r->path, sizeof(r->path), "/containers/c1/exec");
	rq_item(r);
	p.components = old_set;
	p.ncomponents = ARRAY_LEN(old_set);
	rq_sign(r, f->sa, sizeof(f->sa), "k-t1-c1", NULL, &p);
	/* ... but a query added on the way is refused, even an empty one */
	rq_copy(t, r);
	snprintf(t->path, sizeof(t->path), "/containers/c1/exec?force=true");
	rq_item(t);
	expect_verdict(f, t, HMACD_V_INSUFFICIENT_COVERAGE);
	snprintf(t->path, sizeof(t->path), "/containers/c1/exec?");
	rq_item(t);
	expect_verdict(f, t, HMACD_V_INSUFFICIENT_COVERAGE);
	expect_verdict(f, r, HMACD_V_OK);
	/* a scope that opts out (--no-query) takes an uncovered query, as it asked */
	ctl_ok(f, "policy set --tenant t1 --container c1 --require @method @authority @path "
		  "--no-query");
	rq_sign(r, f->sa, sizeof(f->sa), "k-t1-c1", NULL, &p);
	rq_copy(t, r);
	snprintf(t->path, sizeof(t->path), "/containers/c1/exec?force=true");
	rq_item(t);
	expect_verdict(f, t, HMACD_V_OK);
	ctl_ok(f, "policy unset --tenant t1 --container c1");
	free(t);
	free(r);
}

/* ---- policy changes while the daemon runs ---- */

static void test_policy_live(void **state)
{
	struct fx *f = *state;
	struct rq *r = malloc(sizeof(*r));
	char out[4096];

	assert_non_null(r);
	rq_init(r, "t1", "c2");
	rq_add(r, "x-tenant", "t1");
	rq_sign(r, f->sb, sizeof(f->sb), "k-t1-c2", NULL, NULL);
	expect_verdict(f, r, HMACD_V_OK);
	/* the scope now wants x-tenant too: the next request must cover it */
	ctl_ok(f, "policy set --tenant t1 --container c2 --require @method @authority @path "
		  "content-digest x-tenant");
	rq_sign(r, f->sb, sizeof(f->sb), "k-t1-c2", NULL, NULL);
	expect_verdict(f, r, HMACD_V_INSUFFICIENT_COVERAGE);
	rq_sign(r, f->sb, sizeof(f->sb), "k-t1-c2", "x-tenant", NULL);
	expect_verdict(f, r, HMACD_V_OK);
	assert_int_equal(hd_ctl(&f->d, out, sizeof(out),
				"policy show --tenant t1 --container c2 --json"),
			 0);
	assert_non_null(strstr(out, "\"source\":\"scope\""));
	assert_non_null(strstr(out, "x-tenant"));
	/* a tenant policy does not override the scope's own */
	ctl_ok(f, "policy set --tenant t1 --require @method --no-nonce --no-query");
	rq_sign(r, f->sb, sizeof(f->sb), "k-t1-c2", NULL, NULL);
	expect_verdict(f, r, HMACD_V_INSUFFICIENT_COVERAGE);
	/* without it, the tenant's applies (here: no nonce, no query, only @method + digest) */
	ctl_ok(f, "policy unset --tenant t1 --container c2");
	{
		static const char *const m[] = {"@method", "content-digest"};
		struct hmacd_rfc9421_params p = {.components = m, .ncomponents = 2, .nonce = ""};

		rq_sign(r, f->sb, sizeof(f->sb), "k-t1-c2", NULL, &p);
		expect_verdict(f, r, HMACD_V_OK);
	}
	assert_int_equal(hd_ctl(&f->d, out, sizeof(out),
				"policy show --tenant t1 --container c2 --json"),
			 0);
	assert_non_null(strstr(out, "\"source\":\"tenant\""));
	ctl_ok(f, "policy unset --tenant t1");
	assert_int_equal(hd_ctl(&f->d, NULL, 0, "policy unset --tenant t1"), 3);
	/* back to the default: created, nonce, @method @path @authority */
	{
		static const char *const m[] = {"@method", "content-digest"};
		struct hmacd_rfc9421_params p = {.components = m, .ncomponents = 2};

		rq_sign(r, f->sb, sizeof(f->sb), "k-t1-c2", NULL, &p);
		expect_verdict(f, r, HMACD_V_INSUFFICIENT_COVERAGE);
	}
	/* a query parameter required by name (and the rest of the query left open) */
	ctl_ok(f, "policy set --tenant t1 --container c2 --require @method @authority @path "
		  "content-digest @query-param;name=id --no-query");
	rq_init(r, "t1", "c2");
	snprintf(r->path, sizeof(r->path), "/containers/c2/exec?id=7&tty=0");
	rq_item(r);
	{
		static const char *const m[] = {"@method", "@authority", "@path",
						"content-digest"};
		static const char *const mid[] = {"@method", "@authority", "@path",
						  "content-digest", "@query-param;name=\"id\""};
		struct hmacd_rfc9421_params p = {.components = m, .ncomponents = ARRAY_LEN(m)};

		rq_sign(r, f->sb, sizeof(f->sb), "k-t1-c2", NULL, &p);
		expect_verdict(f, r, HMACD_V_INSUFFICIENT_COVERAGE);
		p = (struct hmacd_rfc9421_params){.components = mid, .ncomponents = ARRAY_LEN(mid)};
		rq_sign(r, f->sb, sizeof(f->sb), "k-t1-c2", NULL, &p);
		expect_verdict(f, r, HMACD_V_OK);
	}
	/* the whole query covered meets it too */
	rq_sign(r, f->sb, sizeof(f->sb), "k-t1-c2", NULL, NULL);
	expect_verdict(f, r, HMACD_V_OK);
	/* an invalid component is refused by hmacctl, and the policy in force stays */
	assert_int_equal(hd_ctl(&f->d, NULL, 0,
				"policy set --tenant t1 --container c2 --require Bad"),
			 2);
	{
		static const char *const m[] = {"@method", "@authority", "@path",
						"content-digest"};
		struct hmacd_rfc9421_params p = {.components = m, .ncomponents = ARRAY_LEN(m)};

		rq_sign(r, f->sb, sizeof(f->sb), "k-t1-c2", NULL, &p);
		expect_verdict(f, r, HMACD_V_INSUFFICIENT_COVERAGE);
	}
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rfc_b25, setup, teardown),
		cmocka_unit_test_setup_teardown(test_derived_components, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_coverage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_content_digest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_stripped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_coverage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clock_and_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_raw, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_live, setup, teardown),
	};

	alarm(180);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
