/*
 * test_policy.c - unit tests of daemon/policy.c: the component parser and its canonical form
 * (a table of accepted and refused components), rendering back to the admin's form, the default
 * policy, and the store encoding (round trip, and every way a stored record can be corrupt).
 * The store side (policy set/get/list, lookup precedence) is in test_keystore.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proto/policy.h"

struct accept_case {
	const char *in;
	const char *canon;
};

static const struct accept_case accepted[] = {
	{ "@method", "\"@method\"" },
	{ "@target-uri", "\"@target-uri\"" },
	{ "@authority", "\"@authority\"" },
	{ "@scheme", "\"@scheme\"" },
	{ "@request-target", "\"@request-target\"" },
	{ "@path", "\"@path\"" },
	{ "@query", "\"@query\"" },
	{ "@query-param;name=id", "\"@query-param\";name=\"id\"" },
	{ "@query-param;name=\"id\"", "\"@query-param\";name=\"id\"" },
	{ "@query-param;name=\"a b\"", "\"@query-param\";name=\"a b\"" },
	{ "@query-param;name=\"q\\\"x\"", "\"@query-param\";name=\"q\\\"x\"" },
	{ "content-digest", "\"content-digest\"" },
	{ "content-digest;sf", "\"content-digest\";sf" },
	{ "example-dict;key=a", "\"example-dict\";key=\"a\"" },
	{ "example-dict;sf;key=\"b-1\"", "\"example-dict\";sf;key=\"b-1\"" },
	{ "example-dict;key=\"*x\";sf", "\"example-dict\";key=\"*x\";sf" },
	{ "x-bin;bs", "\"x-bin\";bs" },
	{ "x-a.b_c!#$%&'*+^`|~9", "\"x-a.b_c!#$%&'*+^`|~9\"" },
	{ "x;sf;sf", "\"x\";sf" }, /* RFC 8941: a repeated parameter overwrites */
	/* already serialized: taken as it is */
	{ "\"@method\"", "\"@method\"" },
	{ "\"content-type\";sf", "\"content-type\";sf" },
	{ "\"@query-param\";name=id", "\"@query-param\";name=\"id\"" },
};

static const char *const refused[] = {
	"",
	"@",
	"@unknown",
	"@signature-params", /* never a covered component (RFC 9421 2.3) */
	"@status",           /* response only */
	"@METHOD",
	"@method;sf",        /* derived components take no parameters here */
	"@path;name=\"x\"",
	"@query-param",      /* needs ;name */
	"@query-param;name=\"\"",
	"@query-param;name=1",
	"@query-param;name=?1",
	"@query-param;name=id;sf",
	"@query-param;key=a",
	"Content-Type",       /* upper case is refused, not folded */
	"content type",
	" content-type",
	"content-type;",
	"content-digest;sf=?0",
	"content-digest;sf=1",
	"content-digest;bs;sf", /* bs excludes sf and key */
	"x;bs;key=a",
	"x;key=\"A\"",          /* not a dictionary key */
	"x;key=\"\"",
	"x;key=1",
	"x;foo",
	"x;req",
	"x;name=a",             /* name belongs to @query-param */
	"\"@method\" extra",
	"\"\"",
	"\"Content-Type\"",
	"\"a\\\\b\"",
	"(\"@method\")",
	"@method\n",
	"content-digest;sf\t",
	"\xc3\xa9t\xc3\xa9",
	"x;key=\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"", /* 65 */
};

static void test_parse_accepts(void **state)
{
	char out[HM_POLICY_COMPONENT_MAX + 1], back[HM_POLICY_COMPONENT_MAX + 1];
	char again[HM_POLICY_COMPONENT_MAX + 1];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
		if (hm_policy_component_parse(accepted[i].in, out) != HM_OK)
			fail_msg("refused: %s", accepted[i].in);
		if (strcmp(out, accepted[i].canon) != 0)
			fail_msg("%s: got %s, want %s", accepted[i].in, out, accepted[i].canon);
		/* canonical is a fixed point, and the admin form parses back to it */
		assert_int_equal(hm_policy_component_parse(out, again), HM_OK);
		assert_string_equal(again, out);
		assert_int_equal(hm_policy_component_render(out, back, sizeof(back)), HM_OK);
		assert_int_equal(back[0] != '"', 1);
		assert_int_equal(hm_policy_component_parse(back, again), HM_OK);
		assert_string_equal(again, out);
	}
}

static void test_parse_refuses(void **state)
{
	char out[HM_POLICY_COMPONENT_MAX + 1];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		memset(out, 'z', sizeof(out));
		if (hm_policy_component_parse(refused[i], out) != HM_EINVAL)
			fail_msg("accepted: '%s' as %s", refused[i], out);
		assert_string_equal(out, "");
	}
	assert_int_equal(hm_policy_component_parse(NULL, out), HM_EINVAL);
}

static void test_parse_lengths(void **state)
{
	char in[300], out[HM_POLICY_COMPONENT_MAX + 1];

	(void)state;
	/* the canonical form adds two quotes: 126 name bytes fit in 128, 127 do not */
	memset(in, 'a', 126);
	in[126] = '\0';
	assert_int_equal(hm_policy_component_parse(in, out), HM_OK);
	assert_int_equal(strlen(out), HM_POLICY_COMPONENT_MAX);
	memset(in, 'a', 127);
	in[127] = '\0';
	assert_int_equal(hm_policy_component_parse(in, out), HM_EINVAL);
	memset(in, 'a', sizeof(in) - 1);
	in[sizeof(in) - 1] = '\0';
	assert_int_equal(hm_policy_component_parse(in, out), HM_EINVAL);
}

static void test_render(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(hm_policy_component_render("\"@query-param\";name=\"id\"", out,
						     sizeof(out)), HM_OK);
	assert_string_equal(out, "@query-param;name=\"id\"");
	assert_int_equal(hm_policy_component_render("\"content-digest\";sf", out, sizeof(out)),
			 HM_OK);
	assert_string_equal(out, "content-digest;sf");
	assert_int_equal(hm_policy_component_render("\"@method\"", out, 8), HM_OK);
	assert_string_equal(out, "@method");
	assert_int_equal(hm_policy_component_render("\"@method\"", out, 7), HM_ETOOBIG);
	/* only canonical input */
	assert_int_equal(hm_policy_component_render("@method", out, sizeof(out)), HM_EINVAL);
	assert_int_equal(hm_policy_component_render("\"@query-param\";name=id", out,
						     sizeof(out)), HM_EINVAL);
	assert_int_equal(hm_policy_component_render("\"@nope\"", out, sizeof(out)), HM_EINVAL);
	assert_int_equal(hm_policy_component_render(NULL, out, sizeof(out)), HM_EINVAL);
}

static void test_default_and_require(void **state)
{
	struct hm_policy p;
	char name[40];
	int i;

	(void)state;
	hm_policy_default(&p);
	assert_int_equal(p.ncomponents, 3);
	assert_string_equal(p.components[0], "\"@method\"");
	assert_string_equal(p.components[1], "\"@path\"");
	assert_string_equal(p.components[2], "\"@authority\"");
	assert_true(p.require_created && p.require_nonce && p.check_age && p.digest_when_body);
	assert_true(hm_policy_has(&p, "\"@path\""));
	assert_false(hm_policy_has(&p, "@path"));
	assert_string_equal(hm_policy_source_name(HM_POLICY_DEFAULT), "default");
	assert_string_equal(hm_policy_source_name(HM_POLICY_TENANT), "tenant");
	assert_string_equal(hm_policy_source_name(HM_POLICY_SCOPE), "scope");

	memset(&p, 0, sizeof(p));
	assert_int_equal(hm_policy_require(&p, "@method"), HM_OK);
	assert_int_equal(hm_policy_require(&p, "\"@method\""), HM_OK); /* the same: kept once */
	assert_int_equal(p.ncomponents, 1);
	assert_int_equal(hm_policy_require(&p, "Content-Type"), HM_EINVAL);
	assert_int_equal(p.ncomponents, 1);
	for (i = 1; i < HM_POLICY_MAX_COMPONENTS; i++) {
		snprintf(name, sizeof(name), "x-h%d", i);
		assert_int_equal(hm_policy_require(&p, name), HM_OK);
	}
	assert_int_equal(p.ncomponents, HM_POLICY_MAX_COMPONENTS);
	assert_int_equal(hm_policy_require(&p, "x-one-more"), HM_ETOOBIG);
	assert_int_equal(hm_policy_require(&p, "x-h3"), HM_OK); /* already there */
}

static void encode_ok(const struct hm_policy *p, uint8_t *buf, size_t *len)
{
	assert_int_equal(hm_policy_encode(p, buf, HM_POLICY_ENC_MAX, len), HM_OK);
	assert_true(*len <= HM_POLICY_ENC_MAX);
}

static void test_encode_round_trip(void **state)
{
	uint8_t buf[HM_POLICY_ENC_MAX];
	struct hm_policy p, q;
	char name[200];
	const char *why;
	size_t len = 0, i;
	unsigned flags;

	(void)state;
	hm_policy_default(&p);
	encode_ok(&p, buf, &len);
	assert_int_equal(buf[0], HM_POLICY_ENC_VERSION);
	assert_int_equal(buf[1], 0x1f);
	assert_int_equal(buf[2], 3);
	assert_int_equal(len, 3 + 1 + 9 + 1 + 7 + 1 + 12 + 2);
	assert_int_equal(buf[len - 2], 0); /* hmacd-v1: no nonce, no header */
	assert_int_equal(buf[len - 1], 0);
	assert_int_equal(hm_policy_decode(buf, len, &q), HM_OK);
	assert_memory_equal(&p, &q, sizeof(p));

	/* every flag combination; a nonce without created and the age check is enforced with both */
	for (flags = 0; flags < 64; flags++) {
		bool weak_nonce;

		p.require_created = flags & 1;
		p.require_nonce = (flags & 2) != 0;
		p.check_age = (flags & 4) != 0;
		p.digest_when_body = (flags & 8) != 0;
		p.query_when_present = (flags & 16) != 0;
		p.v1_nonce = (flags & 32) != 0;
		weak_nonce = p.require_nonce && !(p.require_created && p.check_age);
		encode_ok(&p, buf, &len);
		assert_int_equal(buf[1], flags & 31);
		assert_int_equal(buf[len - 2], (flags & 32) ? 1 : 0);
		assert_int_equal(hm_policy_decode(buf, len, &q), HM_OK);
		assert_int_equal(q.require_created, p.require_created || weak_nonce);
		assert_int_equal(q.require_nonce, p.require_nonce);
		assert_int_equal(q.check_age, p.check_age || weak_nonce);
		assert_int_equal(q.digest_when_body, p.digest_when_body);
		assert_int_equal(q.query_when_present, p.query_when_present);
		assert_int_equal(q.v1_nonce, p.v1_nonce);
		assert_int_equal(hm_policy_check(&q, &why), HM_OK);
	}

	/* the largest policy: 16 components of 128 bytes, 16 headers of 64: HM_POLICY_ENC_MAX */
	memset(&p, 0, sizeof(p));
	for (i = 0; i < HM_POLICY_MAX_COMPONENTS; i++) {
		memset(name, 'a' + (int)i, 126);
		name[126] = '\0';
		assert_int_equal(hm_policy_require(&p, name), HM_OK);
	}
	for (i = 0; i < HM_POLICY_MAX_V1_HEADERS; i++) {
		memset(name, 'a' + (int)i, HM_POLICY_HEADER_MAX);
		name[HM_POLICY_HEADER_MAX] = '\0';
		assert_int_equal(hm_policy_require_v1_header(&p, name), HM_OK);
	}
	encode_ok(&p, buf, &len);
	assert_int_equal(len, HM_POLICY_ENC_MAX);
	assert_int_equal(hm_policy_decode(buf, len, &q), HM_OK);
	assert_memory_equal(&p, &q, sizeof(p));
	assert_int_equal(hm_policy_encode(&p, buf, len - 1, &len), HM_ETOOBIG);

	/* an empty policy encodes (the store refuses to set one, not the encoding) */
	memset(&p, 0, sizeof(p));
	encode_ok(&p, buf, &len);
	assert_int_equal(len, 5);
	assert_int_equal(hm_policy_decode(buf, len, &q), HM_OK);
	assert_int_equal(q.ncomponents, 0);
	assert_int_equal(q.v1_nheaders, 0);

	/*
	 * Version 1, stored before the query and hmacd-v1 rules: no hmacd-v1 part, and the query
	 * required (the new default; its absence was never the admin's choice).
	 */
	{
		static const uint8_t v1[] = {1, 0x0f, 1, 9, '"', '@', 'm', 'e', 't', 'h', 'o', 'd', '"'};

		assert_int_equal(hm_policy_decode(v1, sizeof(v1), &q), HM_OK);
		assert_int_equal(q.ncomponents, 1);
		assert_string_equal(q.components[0], "\"@method\"");
		assert_true(q.require_nonce && q.require_created && q.check_age);
		assert_true(q.query_when_present);
		assert_false(q.v1_nonce);
		assert_int_equal(q.v1_nheaders, 0);
	}
}

/* Issue 10, finding 4: a required nonce needs created and the age check, or it replays. */
static void test_check_and_v1_headers(void **state)
{
	struct hm_policy p;
	const char *why = NULL;
	char big[HM_POLICY_HEADER_MAX + 2];

	(void)state;
	hm_policy_default(&p);
	assert_int_equal(hm_policy_check(&p, &why), HM_OK);
	assert_null(why);
	p.require_created = false;
	assert_int_equal(hm_policy_check(&p, &why), HM_EINVAL);
	assert_non_null(strstr(why, "replayed"));
	p.require_created = true;
	p.check_age = false;
	assert_int_equal(hm_policy_check(&p, &why), HM_EINVAL);
	p.require_nonce = false; /* no promise made: allowed */
	assert_int_equal(hm_policy_check(&p, &why), HM_OK);

	/* hmacd-v1 header names: lower-case tokens, 1..64 bytes, each once, at most 16 */
	assert_int_equal(hm_policy_require_v1_header(&p, "host"), HM_OK);
	assert_int_equal(hm_policy_require_v1_header(&p, "host"), HM_OK);
	assert_int_equal(p.v1_nheaders, 1);
	assert_int_equal(hm_policy_require_v1_header(&p, "Host"), HM_EINVAL);
	assert_int_equal(hm_policy_require_v1_header(&p, ""), HM_EINVAL);
	assert_int_equal(hm_policy_require_v1_header(&p, "x y"), HM_EINVAL);
	assert_int_equal(hm_policy_require_v1_header(&p, "@method"), HM_EINVAL);
	assert_int_equal(hm_policy_require_v1_header(&p, NULL), HM_EINVAL);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(hm_policy_require_v1_header(&p, big), HM_EINVAL);
	big[HM_POLICY_HEADER_MAX] = '\0';
	assert_int_equal(hm_policy_require_v1_header(&p, big), HM_OK);
	for (int i = 0; p.v1_nheaders < HM_POLICY_MAX_V1_HEADERS; i++) {
		char n[16];

		snprintf(n, sizeof(n), "x-h%d", i);
		assert_int_equal(hm_policy_require_v1_header(&p, n), HM_OK);
	}
	assert_int_equal(hm_policy_require_v1_header(&p, "x-more"), HM_ETOOBIG);
}

static void test_encode_refuses(void **state)
{
	uint8_t buf[HM_POLICY_ENC_MAX];
	struct hm_policy p;
	size_t len = 99;

	(void)state;
	hm_policy_default(&p);
	strcpy(p.components[1], "@path"); /* the admin's form, not canonical */
	assert_int_equal(hm_policy_encode(&p, buf, sizeof(buf), &len), HM_EINVAL);
	assert_int_equal(len, 0);
	hm_policy_default(&p);
	strcpy(p.components[1], "\"@nope\"");
	assert_int_equal(hm_policy_encode(&p, buf, sizeof(buf), &len), HM_EINVAL);
	hm_policy_default(&p);
	p.ncomponents = HM_POLICY_MAX_COMPONENTS + 1;
	assert_int_equal(hm_policy_encode(&p, buf, sizeof(buf), &len), HM_EINVAL);
	hm_policy_default(&p);
	assert_int_equal(hm_policy_encode(&p, buf, 2, &len), HM_ETOOBIG);
}

/* Decoding must refuse anything hm_policy_encode() would not write. */
static void test_decode_corrupt(void **state)
{
	uint8_t good[HM_POLICY_ENC_MAX], bad[HM_POLICY_ENC_MAX + 8];
	struct hm_policy p;
	size_t len = 0, n;

	(void)state;
	hm_policy_default(&p);
	encode_ok(&p, good, &len);
	memset(&p, 0xaa, sizeof(p));
	assert_int_equal(hm_policy_decode(good, 0, &p), HM_EMALFORMED);
	assert_int_equal(p.ncomponents, 0); /* the empty policy after a failure */
	assert_false(p.require_created);

	/* every truncation */
	for (n = 0; n < len; n++)
		assert_int_equal(hm_policy_decode(good, n, &p), HM_EMALFORMED);
	/* a trailing byte */
	memcpy(bad, good, len);
	bad[len] = 0;
	assert_int_equal(hm_policy_decode(bad, len + 1, &p), HM_EMALFORMED);
	/* version */
	memcpy(bad, good, len);
	bad[0] = 3;
	assert_int_equal(hm_policy_decode(bad, len, &p), HM_EMALFORMED);
	bad[0] = 0;
	assert_int_equal(hm_policy_decode(bad, len, &p), HM_EMALFORMED);
	bad[0] = 1; /* version 1 has no hmacd-v1 part: two bytes too many */
	assert_int_equal(hm_policy_decode(bad, len, &p), HM_EMALFORMED);
	assert_int_equal(hm_policy_decode(bad, len - 2, &p), HM_EMALFORMED); /* nor a query bit */
	bad[1] &= 0x0f;
	assert_int_equal(hm_policy_decode(bad, len - 2, &p), HM_OK);
	/* an unknown flag */
	memcpy(bad, good, len);
	bad[1] |= 0x20;
	assert_int_equal(hm_policy_decode(bad, len, &p), HM_EMALFORMED);
	/* the hmacd-v1 part: an unknown flag, too many headers, a count past the bytes */
	memcpy(bad, good, len);
	bad[len - 2] = 2;
	assert_int_equal(hm_policy_decode(bad, len, &p), HM_EMALFORMED);
	memcpy(bad, good, len);
	bad[len - 1] = HM_POLICY_MAX_V1_HEADERS + 1;
	assert_int_equal(hm_policy_decode(bad, len, &p), HM_EMALFORMED);
	bad[len - 1] = 1;
	assert_int_equal(hm_policy_decode(bad, len, &p), HM_EMALFORMED);
	/* ... a header name that is not lower-case, or empty */
	memcpy(bad, good, len);
	bad[len - 1] = 1;
	memcpy(bad + len, "\x04Host", 5);
	assert_int_equal(hm_policy_decode(bad, len + 5, &p), HM_EMALFORMED);
	memcpy(bad + len, "\x04host", 5);
	assert_int_equal(hm_policy_decode(bad, len + 5, &p), HM_OK);
	assert_string_equal(p.v1_headers[0], "host");
	bad[len] = 0;
	assert_int_equal(hm_policy_decode(bad, len + 1, &p), HM_EMALFORMED);
	/* too many components */
	memcpy(bad, good, len);
	bad[2] = HM_POLICY_MAX_COMPONENTS + 1;
	assert_int_equal(hm_policy_decode(bad, len, &p), HM_EMALFORMED);
	/* a count that disagrees with the bytes */
	memcpy(bad, good, len);
	bad[2] = 2;
	assert_int_equal(hm_policy_decode(bad, len, &p), HM_EMALFORMED);
	/* a component length of 0, or past the end */
	memcpy(bad, good, len);
	bad[3] = 0;
	assert_int_equal(hm_policy_decode(bad, len, &p), HM_EMALFORMED);
	memcpy(bad, good, len);
	bad[3] = 200;
	assert_int_equal(hm_policy_decode(bad, len, &p), HM_EMALFORMED);
	/* a component that is not canonical, or not a component, or holds a NUL */
	memcpy(bad, good, len);
	memcpy(bad + 4, "\"@methoX\"", 9);
	assert_int_equal(hm_policy_decode(bad, len, &p), HM_EMALFORMED);
	memcpy(bad, good, len);
	memcpy(bad + 4, "@method  ", 9);
	assert_int_equal(hm_policy_decode(bad, len, &p), HM_EMALFORMED);
	memcpy(bad, good, len);
	bad[6] = '\0';
	assert_int_equal(hm_policy_decode(bad, len, &p), HM_EMALFORMED);
	/* the untouched record still decodes */
	assert_int_equal(hm_policy_decode(good, len, &p), HM_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_accepts),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_parse_lengths),
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_default_and_require),
		cmocka_unit_test(test_encode_round_trip),
		cmocka_unit_test(test_check_and_v1_headers),
		cmocka_unit_test(test_encode_refuses),
		cmocka_unit_test(test_decode_corrupt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
