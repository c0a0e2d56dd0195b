/*
 * capture.c - reading a capture file and building the verify item it stands for (capture.h).
 *
 * Every key of the file is known and checked: a capture is the evidence a support case rests
 * on, so a field that explain would silently ignore (a typo, a newer writer's key) is refused
 * with its name rather than guessed at.
 */
#include "ctl/capture.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "proto/b64.h"
#include "proto/lex.h"
#include "proto/verdict.h"
#include "ctl/ctl.h"

static int bad(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad(const char *path, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "hmacctl: explain: %s: ", path);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CTL_USAGE;
}

/* The whole file, at most CAP_FILE_MAX bytes. */
static int slurp(const char *path, char **out, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0;
	int status = 0;

	*out = NULL;
	if (f == NULL)
		return bad(path, "%s", strerror(errno));
	buf = malloc(CAP_FILE_MAX + 1);
	if (buf == NULL) {
		status = bad(path, "out of memory");
		goto out;
	}
	n = fread(buf, 1, CAP_FILE_MAX + 1, f);
	if (ferror(f)) {
		status = bad(path, "%s", strerror(errno));
		goto out;
	}
	if (n > CAP_FILE_MAX) {
		status = bad(path, "larger than %u bytes", CAP_FILE_MAX);
		goto out;
	}
	*out = buf;
	*len = n;
	buf = NULL;
out:
	free(buf);
	if (f != stdin)
		fclose(f);
	return status;
}

/* A string member: NULL when absent; an error when present and not a string without NUL. */
static int get_str(const char *path, const struct jm_value *root, const char *key, bool need,
		   const char **out)
{
	const struct jm_value *v = jm_get(root, key);

	*out = NULL;
	if (v == NULL)
		return need ? bad(path, "\"%s\" is required", key) : 0;
	if (v->type != JM_STR || strlen(v->s) != v->len)
		return bad(path, "\"%s\" must be a string (without NUL)", key);
	*out = v->s;
	return 0;
}

/* Standard base64 of exactly n bytes into out. */
static int get_b64(const char *path, const struct jm_value *root, const char *key, uint8_t *out,
		   size_t n, bool *present)
{
	const char *s;
	size_t got = 0;
	int status = get_str(path, root, key, present == NULL, &s);

	if (status != 0)
		return status;
	if (present != NULL)
		*present = s != NULL;
	if (s == NULL)
		return 0;
	/* exactly the padded form: the decoder alone would take whitespace around, no padding */
	if (strlen(s) != HM_B64_LEN(n) ||
	    hm_b64_decode_ct(s, strlen(s), out, n, &got) != HM_OK || got != n)
		return bad(path, "\"%s\" must be standard base64 of %zu bytes", key, n);
	return 0;
}

static bool name_ok(const char *s)
{
	return hm_lex_scope((const uint8_t *)s, strlen(s));
}

static const char *const known_keys[] = {
	"hmacd_capture", "captured_at", "scheme", "tenant", "container", "label",
	"method", "uri_scheme", "authority", "path", "headers", "body_length",
	"body_sha256", "body_sha512", "body", "verdict",
};

static int check_keys(const char *path, const struct jm_value *root)
{
	for (size_t i = 0; i < root->len; i++) {
		size_t k;

		for (k = 0; k < sizeof(known_keys) / sizeof(known_keys[0]); k++)
			if (strcmp(root->members[i].key, known_keys[k]) == 0)
				break;
		if (k == sizeof(known_keys) / sizeof(known_keys[0]))
			return bad(path, "unknown key \"%s\"", ctl_shown(root->members[i].key));
	}
	return 0;
}

/* headers: every line, [lower-case name, value], at most HM_RFC_MAX_HEADERS (section 7.2). */
static int get_headers(const char *path, const struct jm_value *root, struct capture *cap)
{
	const struct jm_value *hs = jm_get(root, "headers");

	if (hs == NULL)
		return bad(path, "\"headers\" is required");
	if (hs->type != JM_ARR)
		return bad(path, "\"headers\" must be an array of [name, value]");
	if (hs->len > HM_RFC_MAX_HEADERS)
		return bad(path, "more than %d header lines", HM_RFC_MAX_HEADERS);
	for (size_t i = 0; i < hs->len; i++) {
		const struct jm_value *h = jm_at(hs, i), *n = jm_at(h, 0), *v = jm_at(h, 1);

		if (h->type != JM_ARR || h->len != 2 || n->type != JM_STR || v->type != JM_STR)
			return bad(path, "headers[%zu] must be [name, value], two strings", i);
		if (!hm_lex_token((const uint8_t *)n->s, n->len, SIZE_MAX, true))
			return bad(path, "headers[%zu]: the name must be a lower-case token", i);
		for (size_t j = 0; j < v->len; j++) {
			uint8_t c = (uint8_t)v->s[j];

			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return bad(path, "headers[%zu]: the value holds a control byte", i);
		}
		cap->headers[i].name = (struct hm_str){(const uint8_t *)n->s, n->len};
		cap->headers[i].value = (struct hm_str){(const uint8_t *)v->s, v->len};
	}
	cap->nheaders = hs->len;
	return 0;
}

static int get_body(const char *path, const struct jm_value *root, struct capture *cap)
{
	const struct jm_value *v = jm_get(root, "body_length");
	uint8_t d[HM_SHA256_LEN];
	const char *s = NULL;
	size_t n = 0;
	int status;

	if (v == NULL)
		return bad(path, "\"body_length\" is required");
	if (v->type != JM_INT || v->neg || v->mag > CAP_BODY_MAX)
		return bad(path, "\"body_length\" must be an integer from 0 to %llu",
			   (unsigned long long)CAP_BODY_MAX);
	cap->body_length = v->mag;
	status = get_b64(path, root, "body_sha256", cap->body_sha256, HM_SHA256_LEN, NULL);
	if (status == 0)
		status = get_b64(path, root, "body_sha512", cap->body_sha512, HM_SHA512_LEN,
				 &cap->has_sha512);
	if (status == 0)
		status = get_str(path, root, "body", false, &s);
	if (status != 0 || s == NULL)
		return status;
	/* sized by the text, which the file's limit bounds, never by body_length alone */
	if (strlen(s) != HM_B64_LEN(cap->body_length))
		return bad(path, "\"body\" must be standard base64 of body_length bytes");
	cap->body = malloc(cap->body_length + 1);
	if (cap->body == NULL)
		return bad(path, "out of memory");
	if (hm_b64_decode_ct(s, strlen(s), cap->body, cap->body_length + 1, &n) != HM_OK ||
	    n != cap->body_length)
		return bad(path, "\"body\" must be standard base64 of body_length bytes");
	if (EVP_Digest(cap->body, n, d, NULL, EVP_sha256(), NULL) != 1)
		return bad(path, "computing the body's SHA-256 failed");
	if (CRYPTO_memcmp(d, cap->body_sha256, sizeof(d)) != 0)
		return bad(path, "\"body\" does not match \"body_sha256\"");
	return 0;
}

int capture_read(const char *path, struct capture *cap)
{
	const struct jm_value *root, *v;
	const char *scheme = NULL;
	char *text = NULL, err[128];
	size_t len = 0;
	int status;

	memset(cap, 0, sizeof(*cap));
	status = slurp(path, &text, &len);
	if (status != 0)
		return status;
	if (jm_parse(text, len, &cap->root, err, sizeof(err)) != HM_OK) {
		status = bad(path, "not JSON: %s", err);
		goto out;
	}
	root = cap->root;
	if (root->type != JM_OBJ) {
		status = bad(path, "not a JSON object");
		goto out;
	}
	status = check_keys(path, root);
	if (status != 0)
		goto out;
	v = jm_get(root, "hmacd_capture");
	if (v == NULL || v->type != JM_INT || v->neg || v->mag != CAP_FORMAT) {
		status = bad(path, "\"hmacd_capture\" must be %d (the format's version)", CAP_FORMAT);
		goto out;
	}
	v = jm_get(root, "captured_at");
	if (v == NULL || v->type != JM_INT || v->neg || v->mag > (1ull << 40)) {
		status = bad(path, "\"captured_at\" must be unix seconds");
		goto out;
	}
	cap->captured_at = (int64_t)v->mag;
	status = get_str(path, root, "scheme", true, &scheme);
	if (status != 0)
		goto out;
	if (strcmp(scheme, "hmacd-v1") == 0) {
		cap->scheme = HM_SCHEME_HMACD_V1;
	} else if (strcmp(scheme, "rfc9421") == 0) {
		cap->scheme = HM_SCHEME_RFC9421;
	} else {
		status = bad(path, "\"scheme\" must be \"hmacd-v1\" or \"rfc9421\"");
		goto out;
	}
	status = get_str(path, root, "tenant", cap->scheme == HM_SCHEME_RFC9421, &cap->tenant);
	if (status == 0 && cap->tenant != NULL && !name_ok(cap->tenant))
		status = bad(path, "\"tenant\" must be 1..128 bytes of [A-Za-z0-9._:/-]");
	if (status == 0)
		status = get_str(path, root, "container", true, &cap->container);
	if (status == 0 && !name_ok(cap->container))
		status = bad(path, "\"container\" must be 1..128 bytes of [A-Za-z0-9._:/-]");
	if (status == 0)
		status = get_str(path, root, "label", false, &cap->label);
	if (status == 0 && cap->label != NULL &&
	    !hm_lex_sf_key((const uint8_t *)cap->label, strlen(cap->label), HM_LABEL_MAX))
		status = bad(path, "\"label\" must be an RFC 8941 key of 1..64 bytes");
	if (status == 0)
		status = get_str(path, root, "method", true, &cap->method);
	if (status == 0)
		status = get_str(path, root, "uri_scheme", false, &cap->uri_scheme);
	if (status == 0 && cap->uri_scheme != NULL && strcmp(cap->uri_scheme, "http") != 0 &&
	    strcmp(cap->uri_scheme, "https") != 0)
		status = bad(path, "\"uri_scheme\" must be \"http\" or \"https\"");
	if (status == 0)
		status = get_str(path, root, "authority", cap->scheme == HM_SCHEME_RFC9421,
				 &cap->authority);
	if (status == 0)
		status = get_str(path, root, "path", true, &cap->path);
	if (status == 0)
		status = get_headers(path, root, cap);
	if (status == 0)
		status = get_body(path, root, cap);
	if (status == 0)
		status = get_str(path, root, "verdict", false, &cap->verdict);
	if (status == 0 && cap->verdict != NULL) {
		unsigned i;

		for (i = 0; i < HM_V__COUNT; i++)
			if (strcmp(cap->verdict, hm_verdict_name(i)) == 0)
				break;
		if (i == HM_V__COUNT)
			status = bad(path, "\"verdict\" must be a verdict name (PROTOCOL.md 9)");
	}
out:
	free(text);
	return status;
}

void capture_free(struct capture *cap)
{
	jm_free(cap->root);
	free(cap->body);
	cap->root = NULL;
	cap->body = NULL;
}

static bool is_name(struct hm_str s, const char *lit)
{
	return hm_lex_is(s.ptr, s.len, lit);
}

/*
 * Every line of header `name`, each stripped of SP and HTAB around it, joined with ", " in
 * arrival order (RFC 9110 5.3; PROTOCOL.md 13.3). NULL with *n = 0 when there is none; NULL
 * with *n = 1 when out of memory.
 */
static char *joined_value(const struct capture *cap, struct hm_str name, size_t *n, bool trim)
{
	size_t total = 1, count = 0, len = 0;
	char *out;

	for (size_t i = 0; i < cap->nheaders; i++) {
		if (cap->headers[i].name.len == name.len &&
		    memcmp(cap->headers[i].name.ptr, name.ptr, name.len) == 0)
			total += cap->headers[i].value.len + 2;
	}
	*n = 0;
	if (total == 1)
		return NULL;
	out = malloc(total);
	if (out == NULL) {
		*n = 1;
		return NULL;
	}
	for (size_t i = 0; i < cap->nheaders; i++) {
		const uint8_t *p = cap->headers[i].value.ptr;
		size_t vn = cap->headers[i].value.len;

		if (cap->headers[i].name.len != name.len ||
		    memcmp(cap->headers[i].name.ptr, name.ptr, name.len) != 0)
			continue;
		while (trim && vn > 0 && (p[0] == ' ' || p[0] == '\t')) {
			p++;
			vn--;
		}
		while (trim && vn > 0 && (p[vn - 1] == ' ' || p[vn - 1] == '\t'))
			vn--;
		if (count++ > 0) {
			memcpy(out + len, ", ", 2);
			len += 2;
		}
		memcpy(out + len, p, vn);
		len += vn;
	}
	out[len] = '\0';
	*n = count;
	return out;
}

/* How many lines of header `name` the request has. */
static void joined_value_count(const struct capture *cap, struct hm_str name, size_t *n)
{
	*n = 0;
	for (size_t i = 0; i < cap->nheaders; i++)
		*n += cap->headers[i].name.len == name.len &&
		      memcmp(cap->headers[i].name.ptr, name.ptr, name.len) == 0;
}

static struct hm_str str_of(const char *s)
{
	return (struct hm_str){(const uint8_t *)s, s != NULL ? strlen(s) : 0};
}

static const struct hm_str authorization = {(const uint8_t *)"authorization", 13};
static const struct hm_str sig_input = {(const uint8_t *)"signature-input", 15};
static const struct hm_str signature = {(const uint8_t *)"signature", 9};

static int item_v1(struct capture *cap, struct hm_item *it, struct capture_v1 *v1,
		   const char **why)
{
	size_t n = 0;

	v1->authz_value = joined_value(cap, authorization, &n, true);
	if (v1->authz_value == NULL) {
		*why = n == 0 ? "the request has no Authorization header" : "out of memory";
		return n == 0 ? HM_EMALFORMED : HM_ENOMEM;
	}
	if (n > 1) {
		*why = "the request has several Authorization header lines";
		return HM_EMALFORMED;
	}
	if (hm_authz_parse((const uint8_t *)v1->authz_value, strlen(v1->authz_value), &v1->authz,
			   why) != HM_OK)
		return HM_EMALFORMED;
	it->scheme = HM_SCHEME_HMACD_V1;
	it->tenant = v1->authz.tenant;
	it->v1.epoch = v1->authz.epoch;
	it->v1.ts = v1->authz.ts;
	it->v1.nonce = v1->authz.nonce;
	it->v1.sig = v1->authz.sig;
	it->v1.has_body_sha256 = true;
	it->v1.body_sha256 = cap->body_sha256;
	it->nheaders = v1->authz.nheaders;
	for (size_t i = 0; i < v1->authz.nheaders; i++) {
		v1->values[i] = joined_value(cap, v1->authz.headers[i], &n, true);
		if (v1->values[i] == NULL) {
			*why = n == 0 ? "a header named in SignedHeaders is absent from the request"
				      : "out of memory";
			return n == 0 ? HM_EMALFORMED : HM_ENOMEM;
		}
		it->headers[i].name = v1->authz.headers[i];
		it->headers[i].value = str_of(v1->values[i]);
	}
	return HM_OK;
}

static int item_rfc9421(struct capture *cap, struct hm_item *it, char **joined,
			const char **why)
{
	size_t n = 0;

	it->scheme = HM_SCHEME_RFC9421;
	it->tenant = str_of(cap->tenant);
	it->nheaders = cap->nheaders;
	memcpy(it->headers, cap->headers, cap->nheaders * sizeof(cap->headers[0]));
	/*
	 * A redacted content-length (not covered) still tells whether the request has a body
	 * (PROTOCOL.md 16.3): the capture's body_length says what it held.
	 */
	for (size_t i = 0; i < it->nheaders; i++) {
		if (is_name(it->headers[i].name, "content-length") &&
		    is_name(it->headers[i].value, "[redacted]")) {
			snprintf(cap->content_length, sizeof(cap->content_length), "%llu",
				 (unsigned long long)cap->body_length);
			it->headers[i].value = str_of(cap->content_length);
		}
	}
	it->rfc.authority = str_of(cap->authority);
	it->rfc.uri_scheme = str_of(cap->uri_scheme);
	it->rfc.label = str_of(cap->label);
	joined[0] = joined_value(cap, sig_input, &n, false);
	if (joined[0] == NULL) {
		*why = n == 0 ? "the request has no Signature-Input header" : "out of memory";
		return n == 0 ? HM_EMALFORMED : HM_ENOMEM;
	}
	joined[1] = joined_value(cap, signature, &n, false);
	if (joined[1] == NULL) {
		*why = n == 0 ? "the request has no Signature header" : "out of memory";
		return n == 0 ? HM_EMALFORMED : HM_ENOMEM;
	}
	it->rfc.signature_input = str_of(joined[0]);
	it->rfc.signature = str_of(joined[1]);
	if (cap->body != NULL) {
		it->has_body = true;
		it->body = (struct hm_str){cap->body, cap->body_length};
	} else {
		it->rfc.body_digests = true;
		it->rfc.body_len = cap->body_length;
		it->rfc.body_sha256 = cap->body_sha256;
		it->rfc.body_sha512 = cap->has_sha512 ? cap->body_sha512 : NULL;
	}
	return HM_OK;
}

int capture_item(struct capture *cap, struct hm_item *it, struct capture_v1 *v1,
		 char **joined, const char **why)
{
	bool hmacd_authz = false;
	size_t n = 0;
	char *a;

	memset(it, 0, sizeof(*it));
	memset(v1, 0, sizeof(*v1));
	joined[0] = joined[1] = NULL;
	*why = NULL;
	a = joined_value(cap, authorization, &n, true);
	if (a == NULL && n == 1) {
		*why = "out of memory";
		return HM_ENOMEM;
	}
	hmacd_authz = a != NULL && strncmp(a, HM_AUTHZ_SCHEME " ", 9) == 0;
	free(a);
	joined_value_count(cap, sig_input, &n);
	if (hmacd_authz && n > 0) {
		/* 13.5: a signer must not choose which of two signatures is checked */
		*why = "the request carries both Authorization: HMACD-V1 and Signature-Input";
		return HM_EMALFORMED;
	}
	it->container = str_of(cap->container);
	it->method = str_of(cap->method);
	it->path = str_of(cap->path);
	return cap->scheme == HM_SCHEME_HMACD_V1 ? item_v1(cap, it, v1, why)
						: item_rfc9421(cap, it, joined, why);
}

void capture_item_free(struct capture_v1 *v1, char **joined)
{
	free(v1->authz_value);
	for (size_t i = 0; i < HM_MAX_HEADERS; i++)
		free(v1->values[i]);
	free(joined[0]);
	free(joined[1]);
	memset(v1, 0, sizeof(*v1));
	joined[0] = joined[1] = NULL;
}
