/*
 * gen_rfc9421.c - writes proto/vectors/rfc9421.json, the shared RFC 9421 signature base
 * vectors, from their inputs, proto/vectors/rfc9421-cases.json; or checks that the committed
 * file is what the daemon's code gives today.
 *
 * Every signature base implementation (proto/sigbase.c in the daemon, and the Go, Python,
 * Node and C clients) checks itself against rfc9421.json. The expectations must be the
 * daemon's own answers, so this program computes each one with exactly the calls the daemon
 * makes before it looks at a key (daemon/rfc9421.c, step 1): hm_item_check() on the case as
 * an rfc9421 item, hm_sf_parse() of the Signature-Input, hm_sb_select() by label and
 * hm_sb_build(). A case gets {"base": ...} (and, when it has a key, the hmac-sha256
 * "signature" a signer sends), or {"error": true, "reason": ...}. Nothing here decides an
 * answer on its own: a change in the expectations is a change in proto/.
 *
 * Usage (the build adds the two default paths of the source tree):
 *     gen_rfc9421 [--check]        exit 1 if rfc9421.json is not what the cases give (make check)
 *     gen_rfc9421 --write          rewrite it (`make rfc9421-vectors`)
 *     gen_rfc9421 ... --cases FILE --out FILE
 * Output is deterministic: the input members in their order, then "expect"; pure ASCII.
 * Exit status: 0 done / up to date, 1 out of date or a bad case list, 2 usage or I/O error.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "proto/b64.h"
#include "proto/buf.h"
#include "proto/errors.h"
#include "proto/msg.h"
#include "proto/sfv.h"
#include "proto/sigbase.h"

#include "proto/json.h"

#ifndef CASES_JSON
#define CASES_JSON "proto/vectors/rfc9421-cases.json"
#endif
#ifndef VECTORS_JSON
#define VECTORS_JSON "proto/vectors/rfc9421.json"
#endif

#define IN_FORMAT "hmacd rfc9421 signature base cases"
#define OUT_FORMAT "hmacd rfc9421 signature base vectors"
#define OUT_COMMENT                                                                             \
	"Written by tests/vectors/gen_rfc9421 from rfc9421-cases.json with the daemon's own code " \
	"(hm_item_check, hm_sf_parse, hm_sb_select, hm_sb_build): do not edit. Format: "          \
	"proto/vectors/README.md."
#define FILE_MAX (4u << 20)   /* a case list or vectors file larger than this is a mistake */
#define BASE_CAP (64u << 10)  /* room for any base a case needs */
#define KEY_MAX 64            /* HMAC key bytes (the key store's HM_KEY_MAX) */

/*
 * The anchor: the case of RFC 9421 Appendix B.2.5 must give the signature the RFC prints, so
 * proto/, the file and the RFC cannot drift apart unnoticed.
 */
#define RFC_CASE "rfc-b25-hmac"
#define RFC_SIGNATURE "sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:"

/* The reason names of the file: an HM_SB_* reason as its lower-case, dashed name. */
static const char *const reason_names[] = {
#define HM_SB_NAME(name, text) [name] = #name,
	HM_SB_REASONS(HM_SB_NAME)
#undef HM_SB_NAME
};

struct counts {
	size_t cases, bases, signed_, errors, anchored;
};

/* ---- files ---- */

/* Reads a whole file into a fresh buffer. HM_OK, HM_EIO (reported), HM_ETOOBIG, HM_ENOMEM. */
static int slurp(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0;
	int rc = HM_EIO;

	*out = NULL;
	*len = 0;
	if (f == NULL) {
		fprintf(stderr, "gen_rfc9421: %s: %s\n", path, strerror(errno));
		return HM_EIO;
	}
	buf = malloc(FILE_MAX + 1);
	if (buf == NULL) {
		rc = HM_ENOMEM;
		goto out;
	}
	n = fread(buf, 1, FILE_MAX + 1, f);
	if (ferror(f)) {
		fprintf(stderr, "gen_rfc9421: %s: read error\n", path);
		goto out;
	}
	if (n > FILE_MAX) {
		fprintf(stderr, "gen_rfc9421: %s: larger than %u bytes\n", path, FILE_MAX);
		rc = HM_ETOOBIG;
		goto out;
	}
	*out = buf;
	*len = n;
	buf = NULL;
	rc = HM_OK;
out:
	free(buf);
	fclose(f);
	return rc;
}

/* Writes data to path through path.tmp and rename(), so a reader never sees half a file. */
static int write_file(const char *path, const uint8_t *data, size_t len)
{
	char tmp[4096];
	FILE *f;
	int n;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return HM_EINVAL;
	f = fopen(tmp, "wb");
	if (f == NULL) {
		fprintf(stderr, "gen_rfc9421: %s: %s\n", tmp, strerror(errno));
		return HM_EIO;
	}
	if (fwrite(data, 1, len, f) != len) {
		fclose(f);
		remove(tmp);
		fprintf(stderr, "gen_rfc9421: %s: write error\n", tmp);
		return HM_EIO;
	}
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		fprintf(stderr, "gen_rfc9421: %s: %s\n", path, strerror(errno));
		remove(tmp);
		return HM_EIO;
	}
	return HM_OK;
}

/* ---- JSON output: the layout of the file, pure ASCII ---- */

static void put_s(struct hm_buf *o, const char *s)
{
	hm_buf_append(o, s, strlen(s));
}

/* \uXXXX, lower-case hex as json.dumps writes it; v < 0x10000 */
static void put_u(struct hm_buf *o, unsigned v)
{
	static const char hex[] = "0123456789abcdef";
	char t[6] = {'\\', 'u', hex[v >> 12 & 15], hex[v >> 8 & 15], hex[v >> 4 & 15], hex[v & 15]};

	hm_buf_append(o, t, sizeof(t));
}

/*
 * A JSON string of the bytes s[0..n), which are UTF-8 (jsonmin only hands out UTF-8, and
 * every base is built from such strings): non-ASCII as \uXXXX (surrogate pairs above the
 * BMP), controls and DEL as \uXXXX except the short escapes. HM_EINVAL if not UTF-8.
 */
static int put_json_str(struct hm_buf *o, const uint8_t *s, size_t n)
{
	hm_buf_append_byte(o, '"');
	for (size_t i = 0; i < n;) {
		uint8_t c = s[i];
		unsigned cp, need;

		if (c < 0x80) {
			i++;
			if (c == '"' || c == '\\') {
				hm_buf_append_byte(o, '\\');
				hm_buf_append_byte(o, c);
			} else if (c == '\n') {
				put_s(o, "\\n");
			} else if (c == '\r') {
				put_s(o, "\\r");
			} else if (c == '\t') {
				put_s(o, "\\t");
			} else if (c < 0x20 || c == 0x7f) {
				put_u(o, c);
			} else {
				hm_buf_append_byte(o, c);
			}
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			cp = c & 0x1fu;
			need = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			cp = c & 0x0fu;
			need = 2;
		} else if (c >= 0xf0 && c <= 0xf4) {
			cp = c & 0x07u;
			need = 3;
		} else {
			return HM_EINVAL;
		}
		if (n - i <= need)
			return HM_EINVAL;
		for (unsigned k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return HM_EINVAL;
			cp = cp << 6 | (s[i + k] & 0x3fu);
		}
		if ((need == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (need == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return HM_EINVAL;
		i += need + 1;
		if (cp >= 0x10000) {
			put_u(o, 0xd800 + ((cp - 0x10000) >> 10));
			put_u(o, 0xdc00 + ((cp - 0x10000) & 0x3ff));
		} else {
			put_u(o, cp);
		}
	}
	hm_buf_append_byte(o, '"');
	return HM_OK;
}

/* A value on one line: ", " between elements, ": " after keys (json.dumps' default layout). */
static int put_json(struct hm_buf *o, const struct jm_value *v)
{
	char num[32];
	int rc;

	switch (v->type) {
	case JM_NULL:
		put_s(o, "null");
		return HM_OK;
	case JM_BOOL:
		put_s(o, v->b ? "true" : "false");
		return HM_OK;
	case JM_INT:
		snprintf(num, sizeof(num), "%s%llu", v->neg ? "-" : "", (unsigned long long)v->mag);
		put_s(o, num);
		return HM_OK;
	case JM_STR:
		return put_json_str(o, (const uint8_t *)v->s, v->len);
	case JM_ARR:
		hm_buf_append_byte(o, '[');
		for (size_t i = 0; i < v->len; i++) {
			if (i > 0)
				put_s(o, ", ");
			rc = put_json(o, v->items[i]);
			if (rc != HM_OK)
				return rc;
		}
		hm_buf_append_byte(o, ']');
		return HM_OK;
	case JM_OBJ:
		hm_buf_append_byte(o, '{');
		for (size_t i = 0; i < v->len; i++) {
			if (i > 0)
				put_s(o, ", ");
			rc = put_json_str(o, (const uint8_t *)v->members[i].key,
					  v->members[i].key_len);
			if (rc != HM_OK)
				return rc;
			put_s(o, ": ");
			rc = put_json(o, v->members[i].value);
			if (rc != HM_OK)
				return rc;
		}
		hm_buf_append_byte(o, '}');
		return HM_OK;
	}
	return HM_EINVAL;
}

/* ---- reading one case (strictly: a typo in the case list must not pass silently) ---- */

static const char *case_name(const struct jm_value *c)
{
	const struct jm_value *n = jm_get(c, "name");

	return n != NULL && n->type == JM_STR ? n->s : "?";
}

static bool bad_case(const struct jm_value *c, const char *what)
{
	fprintf(stderr, "gen_rfc9421: case %s: %s\n", case_name(c), what);
	return false;
}

static bool only_keys(const struct jm_value *obj, const char *const *keys)
{
	for (size_t i = 0; i < obj->len; i++) {
		size_t k = 0;

		while (keys[k] != NULL && strcmp(keys[k], obj->members[i].key) != 0)
			k++;
		if (keys[k] == NULL)
			return false;
	}
	return true;
}

static bool is_str(const struct jm_value *v)
{
	return v != NULL && v->type == JM_STR;
}

static struct hm_str str_of(const struct jm_value *v)
{
	struct hm_str s = {NULL, 0};

	if (is_str(v)) {
		s.ptr = (const uint8_t *)v->s;
		s.len = v->len;
	}
	return s;
}

static bool name_ok(const struct jm_value *v)
{
	if (!is_str(v) || v->len == 0)
		return false;
	for (size_t i = 0; i < v->len; i++) {
		char c = v->s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
	}
	return true;
}

/* Checks the shape of case c and fills the rfc9421 item it describes. */
static bool read_case(const struct jm_value *c, struct hm_item *it)
{
	static const char *const case_keys[] = {"name", "description", "request", "signature_input",
						"label", "key_b64", "sign", NULL};
	static const char *const req_keys[] = {"method", "authority", "path", "uri_scheme",
					       "headers", NULL};
	static const char *const sign_keys[] = {"label", "components", "created", "expires",
						"nonce", "alg", "keyid", "tag", NULL};
	const struct jm_value *r = jm_get(c, "request"), *h, *label, *sign;

	if (c->type != JM_OBJ || !only_keys(c, case_keys))
		return bad_case(c, "not an object of the known keys");
	if (!name_ok(jm_get(c, "name")) || !is_str(jm_get(c, "description")))
		return bad_case(c, "name ([a-z0-9-]+) or description missing");
	if (r == NULL || r->type != JM_OBJ || !only_keys(r, req_keys))
		return bad_case(c, "request is not an object of the known keys");
	if (!is_str(jm_get(r, "method")) || !is_str(jm_get(r, "authority")) ||
	    !is_str(jm_get(r, "path")) || !is_str(jm_get(c, "signature_input")))
		return bad_case(c, "method, authority, path or signature_input missing");
	if (jm_get(r, "uri_scheme") != NULL && !is_str(jm_get(r, "uri_scheme")))
		return bad_case(c, "uri_scheme is not a string");
	label = jm_get(c, "label");
	if (label != NULL && (!is_str(label) || label->len == 0))
		return bad_case(c, "label is not a non-empty string");
	if (jm_get(c, "key_b64") != NULL && !is_str(jm_get(c, "key_b64")))
		return bad_case(c, "key_b64 is not a string");
	sign = jm_get(c, "sign");
	if (sign != NULL && (sign->type != JM_OBJ || !only_keys(sign, sign_keys) ||
			     jm_get(c, "key_b64") == NULL))
		return bad_case(c, "sign is not an object of the known keys, or has no key_b64");
	h = jm_get(r, "headers");
	if (h == NULL || h->type != JM_ARR || h->len > HM_RFC_MAX_HEADERS)
		return bad_case(c, "headers is not an array of at most 128 pairs");

	memset(it, 0, sizeof(*it));
	it->scheme = HM_SCHEME_RFC9421;
	/* the scope and the signature are not part of a base: any valid values do */
	it->tenant.ptr = (const uint8_t *)"t";
	it->tenant.len = 1;
	it->container.ptr = (const uint8_t *)"c";
	it->container.len = 1;
	it->rfc.signature.ptr = (const uint8_t *)"x=:AA==:";
	it->rfc.signature.len = 8;
	it->method = str_of(jm_get(r, "method"));
	it->rfc.authority = str_of(jm_get(r, "authority"));
	it->path = str_of(jm_get(r, "path"));
	it->rfc.uri_scheme = str_of(jm_get(r, "uri_scheme"));
	it->rfc.signature_input = str_of(jm_get(c, "signature_input"));
	it->rfc.label = str_of(label);
	for (size_t i = 0; i < h->len; i++) {
		const struct jm_value *pair = h->items[i];

		if (pair->type != JM_ARR || pair->len != 2 || !is_str(pair->items[0]) ||
		    !is_str(pair->items[1]))
			return bad_case(c, "a header is not a [name, value] pair of strings");
		it->headers[i].name = str_of(pair->items[0]);
		it->headers[i].value = str_of(pair->items[1]);
	}
	it->nheaders = h->len;
	return true;
}

/* ---- the answer ---- */

/* "missing-field" for HM_SB_MISSING_FIELD */
static void put_reason(struct hm_buf *o, enum hm_sb_reason why)
{
	const char *n = (unsigned)why < HM_SB_REASON__MAX ? reason_names[why] : "HM_SB_UNKNOWN";

	hm_buf_append_byte(o, '"');
	for (n += strlen("HM_SB_"); *n != '\0'; n++) {
		char ch = *n == '_' ? '-' : *n;

		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		hm_buf_append_byte(o, (uint8_t)ch);
	}
	hm_buf_append_byte(o, '"');
}

/* `label=:base64(HMAC-SHA256(key, base)):`, the Signature value a signer sends. */
static bool put_signature(struct hm_buf *o, const struct jm_value *c, const struct hm_sf_member *m,
			  const uint8_t *base, size_t base_len)
{
	const struct jm_value *k = jm_get(c, "key_b64");
	struct hm_sf_bare kb = {HM_SF_BYTES, 0, {(const uint8_t *)k->s, k->len}};
	uint8_t key[KEY_MAX], mac[EVP_MAX_MD_SIZE];
	char b64[HM_B64_LEN(32) + 1];
	unsigned maclen = 0;
	size_t keylen = 0;
	bool ok = false;

	/* the key is read as an RFC 8941 Byte Sequence would be: strict base64 */
	if (hm_sf_bytes_decode(&kb, key, sizeof(key), &keylen) != HM_OK || keylen < 16) {
		bad_case(c, "key_b64 is not base64 of 16 to 64 bytes");
		goto out;
	}
	if (HMAC(EVP_sha256(), key, (int)keylen, base, base_len, mac, &maclen) == NULL ||
	    maclen != 32) {
		bad_case(c, "HMAC failed");
		goto out;
	}
	(void)hm_b64_encode_ct(mac, 32, b64);
	if (strcmp(case_name(c), RFC_CASE) == 0 &&
	    (m->key.len != 7 || memcmp(m->key.ptr, RFC_SIGNATURE, 7) != 0 ||
	     strncmp(RFC_SIGNATURE + 9, b64, 44) != 0)) {
		bad_case(c, "not the signature RFC 9421 B.2.5 prints");
		goto out;
	}
	put_s(o, ", \"signature\": \"");
	hm_buf_append(o, m->key.ptr, m->key.len);
	put_s(o, "=:");
	put_s(o, b64);
	put_s(o, ":\"");
	ok = true;
out:
	OPENSSL_cleanse(key, sizeof(key));
	return ok;
}

/*
 * Writes `"expect": {...}` for case c: the daemon's reading of it. false if the case list is
 * wrong (a signed case that is refused, a base that does not fit).
 */
static bool put_expect(struct hm_buf *o, const struct jm_value *c, const struct hm_item *it,
		       struct hm_sf_field *f, uint8_t *base, struct counts *n)
{
	const struct hm_sf_member *m = NULL;
	enum hm_sb_reason why = HM_SB_OK;
	const char *stage = NULL;
	size_t len = 0;
	int rc;

	put_s(o, "\"expect\": {");
	if (hm_item_check(it) != HM_OK) {
		stage = "\"item\"";
	} else if (hm_sf_parse(it->rfc.signature_input.ptr, it->rfc.signature_input.len,
			       HM_SF_KIND_DICT, f) != HM_OK) {
		stage = "\"signature-input\"";
	} else if (hm_sb_select(f, it->rfc.label, &m, &why) == HM_OK) {
		struct hm_sb_request r = hm_sb_request_of(it);

		rc = hm_sb_build(&r, f, m, base, BASE_CAP, &len, NULL, &why);
		if (rc == HM_ETOOBIG)
			return bad_case(c, "the base does not fit the generator's buffer");
	}
	if (stage != NULL || why != HM_SB_OK) {
		if (jm_get(c, "key_b64") != NULL)
			return bad_case(c, "a signed case must build a base");
		put_s(o, "\"error\": true, \"reason\": ");
		if (stage != NULL)
			put_s(o, stage);
		else
			put_reason(o, why);
		hm_buf_append_byte(o, '}');
		n->errors++;
		return true;
	}
	put_s(o, "\"base\": ");
	if (put_json_str(o, base, len) != HM_OK)
		return bad_case(c, "the base is not UTF-8");
	n->bases++;
	if (jm_get(c, "key_b64") != NULL) {
		if (!put_signature(o, c, m, base, len))
			return false;
		n->signed_++;
		n->anchored += strcmp(case_name(c), RFC_CASE) == 0;
	}
	hm_buf_append_byte(o, '}');
	return true;
}

/* The whole output document for the parsed case list. HM_OK or HM_EMALFORMED (reported). */
static int generate(const struct jm_value *doc, struct hm_buf *o, struct counts *n)
{
	const struct jm_value *cases = jm_get(doc, "cases"), *fmt = jm_get(doc, "format");
	const struct jm_value *ver = jm_get(doc, "version");
	struct hm_item *it = malloc(sizeof(*it));
	struct hm_sf_field *f = malloc(sizeof(*f));
	uint8_t *base = malloc(BASE_CAP);
	int rc = HM_EMALFORMED;

	memset(n, 0, sizeof(*n));
	if (it == NULL || f == NULL || base == NULL) {
		rc = HM_ENOMEM;
		goto out;
	}
	if (!is_str(fmt) || strcmp(fmt->s, IN_FORMAT) != 0 || ver == NULL || ver->type != JM_INT ||
	    ver->neg || ver->mag != 1 || cases == NULL || cases->type != JM_ARR) {
		fprintf(stderr, "gen_rfc9421: not a version 1 \"%s\" document\n", IN_FORMAT);
		goto out;
	}
	put_s(o, "{\n  \"format\": \"" OUT_FORMAT "\",\n  \"version\": 1,\n");
	put_s(o, "  \"comment\": \"" OUT_COMMENT "\",\n  \"cases\": [\n");
	for (size_t i = 0; i < cases->len; i++) {
		const struct jm_value *c = cases->items[i];

		if (!read_case(c, it))
			goto out;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(case_name(cases->items[j]), case_name(c)) == 0) {
				bad_case(c, "name used twice");
				goto out;
			}
		}
		put_s(o, "    {\n");
		for (size_t k = 0; k < c->len; k++) {
			put_s(o, "      ");
			if (put_json_str(o, (const uint8_t *)c->members[k].key,
					 c->members[k].key_len) != HM_OK)
				goto out;
			put_s(o, ": ");
			if (put_json(o, c->members[k].value) != HM_OK)
				goto out;
			put_s(o, ",\n");
		}
		put_s(o, "      ");
		if (!put_expect(o, c, it, f, base, n))
			goto out;
		put_s(o, i + 1 < cases->len ? "\n    },\n" : "\n    }\n");
		n->cases++;
	}
	if (n->anchored != 1) {
		fprintf(stderr, "gen_rfc9421: the signed case %s (RFC 9421 B.2.5) is missing\n",
			RFC_CASE);
		goto out;
	}
	put_s(o, "  ]\n}\n");
	rc = o->failed ? HM_ENOMEM : HM_OK;
out:
	free(base);
	free(f);
	free(it);
	return rc;
}

/* Reports the first line where the committed file and the generated one differ. */
static void report_diff(const char *path, const uint8_t *want, size_t wlen, const char *got,
			size_t glen)
{
	size_t i = 0, line = 1, start = 0, end;

	while (i < wlen && i < glen && want[i] == (uint8_t)got[i]) {
		if (want[i] == '\n') {
			line++;
			start = i + 1;
		}
		i++;
	}
	end = start;
	while (end < wlen && want[end] != '\n' && end - start < 300)
		end++;
	fprintf(stderr, "gen_rfc9421: %s is out of date (first difference on line %zu)\n", path,
		line);
	fprintf(stderr, "  expected: %.*s\n", (int)(end - start), (const char *)want + start);
	end = start;
	while (end < glen && got[end] != '\n' && end - start < 300)
		end++;
	fprintf(stderr, "  in file:  %.*s\n", (int)(end - start), got + start);
	fprintf(stderr, "Run `make rfc9421-vectors` in a build tree and commit the result (a "
			"change there is a change of the daemon's answers: say why).\n");
}

static int usage(void)
{
	fprintf(stderr, "usage: gen_rfc9421 [--check | --write] [--cases FILE] [--out FILE]\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *cases_path = CASES_JSON, *out_path = VECTORS_JSON;
	bool write = false;
	char *text = NULL, *old = NULL, err[160];
	size_t text_len = 0, old_len = 0;
	struct jm_value *doc = NULL;
	struct hm_buf o;
	struct counts n;
	int status = 2, rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--check") == 0) {
			write = false;
		} else if (strcmp(argv[i], "--write") == 0) {
			write = true;
		} else if (strcmp(argv[i], "--cases") == 0 && i + 1 < argc) {
			cases_path = argv[++i];
		} else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
			out_path = argv[++i];
		} else {
			return usage();
		}
	}
	hm_buf_init(&o, FILE_MAX);
	rc = slurp(cases_path, &text, &text_len);
	if (rc != HM_OK)
		goto out;
	rc = jm_parse(text, text_len, &doc, err, sizeof(err));
	if (rc != HM_OK) {
		fprintf(stderr, "gen_rfc9421: %s: %s\n", cases_path,
			rc == HM_EMALFORMED ? err : hm_strerror(rc));
		status = 1;
		goto out;
	}
	rc = generate(doc, &o, &n);
	if (rc != HM_OK) {
		status = rc == HM_EMALFORMED ? 1 : 2;
		goto out;
	}
	if (write) {
		if (write_file(out_path, o.data, o.len) != HM_OK)
			goto out;
		printf("%s: written\n", out_path);
	} else {
		rc = slurp(out_path, &old, &old_len);
		if (rc != HM_OK)
			goto out;
		if (old_len != o.len || memcmp(old, o.data, o.len) != 0) {
			report_diff(out_path, o.data, o.len, old, old_len);
			status = 1;
			goto out;
		}
		printf("%s: up to date\n", out_path);
	}
	printf("%zu cases: %zu bases (%zu signed), %zu refusals\n", n.cases, n.bases, n.signed_,
	       n.errors);
	status = 0;
out:
	jm_free(doc);
	free(text);
	free(old);
	hm_buf_free(&o);
	return status;
}
