/*
 * test_fleet_record.c - a fleet record's identity, name, plaintext and sealed blob
 * (daemon/fleet/record.h). No Redis.
 *
 * Round trips of epoch records (current, superseded with a deadline, revoked without a secret,
 * secrets of 16..64 bytes, names and key ids at their limits) and policy records (set, with
 * components, flags and hmacd-v1 headers; unset); names are deterministic and no two
 * identities share one, ambiguous splits of the same letters included. Every tamper is
 * HM_EMALFORMED with the output wiped: each byte flipped, every truncation, another format
 * byte or version, the blob under another name, prefix or seal key, and a blob that
 * authenticates under a name its identity does not hash to (sealed here with hm_seal_record,
 * the associated data forged for that name). The plaintext layout is written again here from
 * record.h, which pins it; hand-made and randomly mutated plaintexts, sealed properly, are
 * refused unless they hold a record a store could hold, and what opens seals again.
 * Format 2 carries the change's origin (operator, admin host, operation, time): it round trips
 * at its limits, format 1 (the test's encoder without an origin, as an older hmacctl wrote)
 * still opens with the origin unknown, a format byte changed either way does not open, and
 * origins a writer would not make (too long, not printable, another kind's operation, flags,
 * cut short) are neither sealed nor opened.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/crypto.h>

#include "fleet/record.h"
#include "fleet/seal.h"
#include "proto/policy.h"
#include "store/keystore.h"

#define PREFIX "hmacd:"
#define FLEET_ID "00112233445566778899aabbccddeeff" /* the fleet the records are bound to */
#define OTHER_FLEET "ffeeddccbbaa99887766554433221100"
#define AAD_LABEL "hmacd fleet record v1"

/* ---- helpers ---- */

static void init_seal(struct hm_seal *s, uint8_t fill)
{
	uint8_t key[HM_SEAL_KEY_LEN];

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(fill + i);
	assert_int_equal(hm_seal_init(s, key), HM_OK);
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= b[i];
	return acc == 0;
}

/* "x" * n into out (n < cap). */
static void repeat(char *out, size_t cap, char c, size_t n)
{
	assert_true(n < cap);
	memset(out, c, n);
	out[n] = '\0';
}

static void epoch_rec(struct hm_ks_mirror_rec *r, const char *tenant, const char *container,
		      uint32_t epoch, enum hm_key_state state, int64_t deadline, const char *keyid,
		      size_t secret_len)
{
	memset(r, 0, sizeof(*r));
	r->kind = HM_KS_MIRROR_EPOCH;
	snprintf(r->tenant, sizeof(r->tenant), "%s", tenant);
	snprintf(r->container, sizeof(r->container), "%s", container);
	r->epoch = epoch;
	r->state = state;
	r->created = 1700000000;
	r->deadline = deadline;
	snprintf(r->keyid, sizeof(r->keyid), "%s", keyid);
	r->secret_len = secret_len;
	for (size_t i = 0; i < secret_len; i++)
		r->secret[i] = (uint8_t)(0xa0 + i);
	r->version = 7;
}

static void policy_rec(struct hm_ks_mirror_rec *r, const char *tenant, const char *container,
		       bool present)
{
	memset(r, 0, sizeof(*r));
	r->kind = HM_KS_MIRROR_POLICY;
	snprintf(r->tenant, sizeof(r->tenant), "%s", tenant);
	snprintf(r->container, sizeof(r->container), "%s", container);
	r->present = present;
	if (present) {
		hm_policy_default(&r->policy);
		assert_int_equal(hm_policy_require(&r->policy, "content-type"), HM_OK);
		assert_int_equal(hm_policy_require(&r->policy, "@query-param;name=id"), HM_OK);
		assert_int_equal(hm_policy_require_v1_header(&r->policy, "x-request-id"), HM_OK);
		r->policy.v1_nonce = true;
	}
	r->version = 9;
}

/* Names r and seals it under PREFIX: the blob, its length, the hex name. */
static void seal_rec(const struct hm_seal *s, struct hm_ks_mirror_rec *r, uint8_t *blob,
		     size_t *len, char hex[static HM_SEAL_NAME_HEX])
{
	assert_int_equal(hm_frec_name(s, r, hex), HM_OK);
	assert_int_equal(hm_frec_seal(s, PREFIX, FLEET_ID, r, blob, len), HM_OK);
	assert_true(*len > 9 + HM_SEAL_OVERHEAD && *len <= HM_FREC_BLOB_MAX);
}

static bool origin_equal(const struct hm_ks_origin *a, const struct hm_ks_origin *b)
{
	if (a->known != b->known)
		return false;
	return !a->known ||
	       (a->op == b->op && a->time_ms == b->time_ms && a->actor.uid == b->actor.uid &&
		a->actor.has_sudo_uid == b->actor.has_sudo_uid &&
		a->actor.sudo_uid == b->actor.sudo_uid &&
		strcmp(a->actor.user, b->actor.user) == 0 &&
		strcmp(a->actor.sudo_user, b->actor.sudo_user) == 0 &&
		strcmp(a->actor.host, b->actor.host) == 0);
}

static bool rec_equal(const struct hm_ks_mirror_rec *a, const struct hm_ks_mirror_rec *b)
{
	if (!origin_equal(&a->origin, &b->origin))
		return false;
	if (a->kind != b->kind || memcmp(a->name, b->name, sizeof(a->name)) != 0 ||
	    a->version != b->version || strcmp(a->tenant, b->tenant) != 0 ||
	    strcmp(a->container, b->container) != 0)
		return false;
	if (a->kind == HM_KS_MIRROR_POLICY) {
		if (a->present != b->present)
			return false;
		if (!a->present)
			return true;
		if (a->policy.ncomponents != b->policy.ncomponents ||
		    a->policy.v1_nheaders != b->policy.v1_nheaders ||
		    a->policy.require_created != b->policy.require_created ||
		    a->policy.require_nonce != b->policy.require_nonce ||
		    a->policy.check_age != b->policy.check_age ||
		    a->policy.digest_when_body != b->policy.digest_when_body ||
		    a->policy.query_when_present != b->policy.query_when_present ||
		    a->policy.v1_nonce != b->policy.v1_nonce)
			return false;
		for (size_t i = 0; i < a->policy.ncomponents; i++)
			if (strcmp(a->policy.components[i], b->policy.components[i]) != 0)
				return false;
		for (size_t i = 0; i < a->policy.v1_nheaders; i++)
			if (strcmp(a->policy.v1_headers[i], b->policy.v1_headers[i]) != 0)
				return false;
		return true;
	}
	return a->epoch == b->epoch && a->state == b->state && a->created == b->created &&
	       a->deadline == b->deadline && strcmp(a->keyid, b->keyid) == 0 &&
	       a->secret_len == b->secret_len &&
	       memcmp(a->secret, b->secret, sizeof(a->secret)) == 0;
}

static void open_ok(const struct hm_seal *s, const char *prefix, const char *hex,
		    const uint8_t *blob, size_t len, const struct hm_ks_mirror_rec *want)
{
	struct hm_ks_mirror_rec got;

	memset(&got, 0x5a, sizeof(got));
	assert_int_equal(hm_frec_open(s, prefix, FLEET_ID, hex, blob, len, &got), HM_OK);
	assert_true(rec_equal(&got, want));
}

/* HM_EMALFORMED, and nothing left in the output (it was filled before). */
static void open_refused(const struct hm_seal *s, const char *prefix, const char *hex,
			 const uint8_t *blob, size_t len)
{
	struct hm_ks_mirror_rec got;

	memset(&got, 0x5a, sizeof(got));
	assert_int_equal(hm_frec_open(s, prefix, FLEET_ID, hex, blob, len, &got), HM_EMALFORMED);
	assert_true(all_zero(&got, sizeof(got)));
}

static void put_be(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

/* ---- the layout of record.h, written again: the test's own encoder ---- */

/* ident of record.h: kind | u8 len | tenant | u8 len | container [| u32 BE epoch] */
static size_t my_ident(uint8_t kind, const char *tenant, const char *container, uint32_t epoch,
		       uint8_t *out)
{
	size_t tl = strlen(tenant), cl = strlen(container), n = 0;

	out[n++] = kind;
	out[n++] = (uint8_t)tl;
	memcpy(out + n, tenant, tl);
	n += tl;
	out[n++] = (uint8_t)cl;
	memcpy(out + n, container, cl);
	n += cl;
	if (kind == HM_KS_MIRROR_EPOCH) {
		put_be(out + n, epoch, 4);
		n += 4;
	}
	return n;
}

/* An epoch: ident | u8 state | i64 created | i64 deadline | u8 len, key id | u8 len, secret */
static size_t my_epoch_plain(const struct hm_ks_mirror_rec *r, uint8_t *out)
{
	size_t n = my_ident(HM_KS_MIRROR_EPOCH, r->tenant, r->container, r->epoch, out);
	size_t kl = strlen(r->keyid);

	out[n++] = (uint8_t)r->state;
	put_be(out + n, (uint64_t)r->created, 8);
	put_be(out + n + 8, (uint64_t)r->deadline, 8);
	n += 16;
	out[n++] = (uint8_t)kl;
	memcpy(out + n, r->keyid, kl);
	n += kl;
	out[n++] = (uint8_t)r->secret_len;
	memcpy(out + n, r->secret, r->secret_len);
	return n + r->secret_len;
}

/* A policy plaintext: ident | u8 present | u16 BE len | policy bytes */
static size_t my_policy_plain(const char *tenant, const char *container, uint8_t present,
			      const uint8_t *pol, size_t plen, uint8_t *out)
{
	size_t n = my_ident(HM_KS_MIRROR_POLICY, tenant, container, 0, out);

	out[n++] = present;
	put_be(out + n, plen, 2);
	n += 2;
	if (plen > 0)
		memcpy(out + n, pol, plen);
	return n + plen;
}

/*
 * Seals plain[0..n) as the blob of the record named hex (64 hex digits, whatever its content
 * says), with the associated data record.h defines for that name, PREFIX, FLEET_ID and
 * version.
 */
static size_t forge_as(const struct hm_seal *s, uint8_t format, const char *hex,
		       uint64_t version, const uint8_t *plain, size_t n, uint8_t *blob)
{
	uint8_t aad[sizeof(AAD_LABEL) + 1 + 255 + 16 + 32 + 1 + 8];
	size_t a = sizeof(AAD_LABEL) - 1, pl = strlen(PREFIX), sealed = 0;

	memcpy(aad, AAD_LABEL, a);
	aad[a++] = (uint8_t)pl;
	memcpy(aad + a, PREFIX, pl);
	a += pl;
	for (size_t i = 0; i < 16; i++) {
		unsigned v;

		assert_int_equal(sscanf(FLEET_ID + 2 * i, "%2x", &v), 1);
		aad[a++] = (uint8_t)v;
	}
	for (size_t i = 0; i < 32; i++) {
		unsigned v;

		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		aad[a++] = (uint8_t)v;
	}
	aad[a++] = format;
	put_be(aad + a, version, 8);
	a += 8;
	blob[0] = format;
	put_be(blob + 1, version, 8);
	assert_int_equal(hm_seal_record(s, aad, a, plain, n, blob + 9, HM_FREC_BLOB_MAX - 9,
					&sealed),
			 HM_OK);
	return 9 + sealed;
}

/* Format 1: the plaintexts of the test's encoder without an origin, as older hmacctl sealed. */
static size_t forge(const struct hm_seal *s, const char *hex, uint64_t version,
		    const uint8_t *plain, size_t n, uint8_t *blob)
{
	return forge_as(s, HM_FREC_FORMAT_V1, hex, version, plain, n, blob);
}

/*
 * Format 2's origin: u8 op | i64 BE time | u32 BE uid | u8 sudo flag | u32 BE sudo uid |
 * u8 len, user | u8 len, sudo user | u8 len, host. Lengths as given (ul, sl, hl), so that a
 * test can make them lie.
 */
static size_t my_origin(const struct hm_ks_origin *o, uint8_t flag, size_t ul, size_t sl,
			size_t hl, uint8_t *out)
{
	size_t n = 0;

	out[n++] = (uint8_t)o->op;
	put_be(out + n, (uint64_t)o->time_ms, 8);
	put_be(out + n + 8, o->actor.uid, 4);
	out[n + 12] = flag;
	put_be(out + n + 13, o->actor.sudo_uid, 4);
	n += 17;
	out[n++] = (uint8_t)ul;
	memcpy(out + n, o->actor.user, strlen(o->actor.user));
	n += strlen(o->actor.user);
	out[n++] = (uint8_t)sl;
	memcpy(out + n, o->actor.sudo_user, strlen(o->actor.sudo_user));
	n += strlen(o->actor.sudo_user);
	out[n++] = (uint8_t)hl;
	memcpy(out + n, o->actor.host, strlen(o->actor.host));
	return n + strlen(o->actor.host);
}

/* A format 1 plaintext p[0..n) made format 2: the origin bytes o[0..on) after the identity. */
static size_t my_with_origin(const uint8_t *p, size_t n, const uint8_t *o, size_t on,
			     uint8_t *out)
{
	size_t il = 2 + p[1];

	il += 1 + p[il];
	if (p[0] == HM_KS_MIRROR_EPOCH)
		il += 4;
	memcpy(out, p, il);
	memcpy(out + il, o, on);
	memcpy(out + il + on, p + il, n - il);
	return n + on;
}

/* An origin a writer makes: bob (1000) by sudo from alice (1001), on admin-1. */
static void set_origin(struct hm_ks_mirror_rec *r, enum hm_audit_op op)
{
	memset(&r->origin, 0, sizeof(r->origin));
	r->origin.known = true;
	r->origin.op = op;
	r->origin.time_ms = 1796551427011;
	r->origin.actor.uid = 1000;
	snprintf(r->origin.actor.user, sizeof(r->origin.actor.user), "bob");
	snprintf(r->origin.actor.sudo_user, sizeof(r->origin.actor.sudo_user), "alice");
	r->origin.actor.has_sudo_uid = true;
	r->origin.actor.sudo_uid = 1001;
	snprintf(r->origin.actor.host, sizeof(r->origin.actor.host), "admin-1");
}

/* The origin bytes of r as a writer makes them. */
static size_t my_origin_of(const struct hm_ks_mirror_rec *r, uint8_t *out)
{
	const struct hm_ks_actor *a = &r->origin.actor;

	return my_origin(&r->origin, a->has_sudo_uid ? 1 : 0, strlen(a->user),
			 strlen(a->sudo_user), strlen(a->host), out);
}

/* The name of an identity, from the test's own ident bytes. */
static void my_name(const struct hm_seal *s, const uint8_t *ident, size_t n,
		    char hex[static HM_SEAL_NAME_HEX])
{
	assert_int_equal(hm_seal_name(s, ident, n, hex), HM_OK);
}

/* ---- round trips ---- */

static void round_trip(const struct hm_seal *s, struct hm_ks_mirror_rec *r)
{
	uint8_t blob[HM_FREC_BLOB_MAX];
	char hex[HM_SEAL_NAME_HEX];
	size_t len = 0;

	seal_rec(s, r, blob, &len, hex);
	open_ok(s, PREFIX, hex, blob, len, r);
}

static void test_epoch_round_trip(void **state)
{
	char longest[HM_SCOPE_MAX + 1], longid[HM_KEYID_MAX + 1];
	struct hm_ks_mirror_rec r;
	struct hm_seal s;

	(void)state;
	init_seal(&s, 1);
	epoch_rec(&r, "acme", "web", 1, HM_KEY_CURRENT, 0, "hk_0123", 32);
	round_trip(&s, &r);
	epoch_rec(&r, "acme", "web", 2, HM_KEY_SUPERSEDED, 1700086400, "k.2", 32);
	round_trip(&s, &r);
	epoch_rec(&r, "acme", "web", 3, HM_KEY_REVOKED, 0, "k/3", 0);
	round_trip(&s, &r);
	for (size_t n = HM_KEY_MIN; n <= HM_KEY_MAX; n++) {
		epoch_rec(&r, "a", "b", (uint32_t)n, HM_KEY_CURRENT, 0, "k", n);
		round_trip(&s, &r);
	}
	/* the longest names, key id and secret, the last epoch, the largest version and times */
	repeat(longest, sizeof(longest), 't', HM_SCOPE_MAX);
	repeat(longid, sizeof(longid), '~', HM_KEYID_MAX);
	epoch_rec(&r, longest, longest, UINT32_MAX, HM_KEY_SUPERSEDED, INT64_MAX, longid,
		  HM_KEY_MAX);
	r.created = INT64_MAX;
	r.version = UINT64_MAX;
	round_trip(&s, &r);
	/* every character a name or a key id may hold */
	epoch_rec(&r, "AZaz09._:/-", "-/:._09zaZA", 1, HM_KEY_CURRENT, 0, "AZaz09._:/+=@~-", 16);
	r.version = 1;
	round_trip(&s, &r);
	hm_seal_wipe(&s);
}

static void test_policy_round_trip(void **state)
{
	char longest[HM_SCOPE_MAX + 1];
	struct hm_ks_mirror_rec r;
	struct hm_seal s;

	(void)state;
	init_seal(&s, 2);
	policy_rec(&r, "acme", "web", true);
	round_trip(&s, &r);
	policy_rec(&r, "acme", "", true); /* the tenant's */
	round_trip(&s, &r);
	policy_rec(&r, "acme", "web", false); /* unset */
	round_trip(&s, &r);
	policy_rec(&r, "acme", "", false);
	round_trip(&s, &r);
	/* every flag off but one component; and the most components and headers */
	policy_rec(&r, "acme", "api", true);
	memset(&r.policy, 0, sizeof(r.policy));
	assert_int_equal(hm_policy_require(&r.policy, "@method"), HM_OK);
	round_trip(&s, &r);
	repeat(longest, sizeof(longest), 'p', HM_SCOPE_MAX);
	policy_rec(&r, longest, longest, true);
	memset(&r.policy, 0, sizeof(r.policy));
	for (int i = 0; i < HM_POLICY_MAX_COMPONENTS; i++) {
		char name[HM_POLICY_COMPONENT_MAX + 1];

		snprintf(name, sizeof(name), "x-header-%02d;key=\"k%d\"", i, i);
		assert_int_equal(hm_policy_require(&r.policy, name), HM_OK);
	}
	for (int i = 0; i < HM_POLICY_MAX_V1_HEADERS; i++) {
		char name[HM_POLICY_HEADER_MAX + 1];

		repeat(name, sizeof(name), 'h', HM_POLICY_HEADER_MAX); /* the longest name */
		name[0] = (char)('a' + i);
		assert_int_equal(hm_policy_require_v1_header(&r.policy, name), HM_OK);
	}
	r.policy.require_created = r.policy.check_age = r.policy.digest_when_body = true;
	r.policy.query_when_present = true;
	r.version = UINT64_MAX;
	round_trip(&s, &r);
	hm_seal_wipe(&s);
}

/* The same record sealed twice: other IVs, other blobs, same name; both open. */
static void test_fresh_iv(void **state)
{
	uint8_t a[HM_FREC_BLOB_MAX], b[HM_FREC_BLOB_MAX];
	char ha[HM_SEAL_NAME_HEX], hb[HM_SEAL_NAME_HEX];
	struct hm_ks_mirror_rec r;
	struct hm_seal s;
	size_t la = 0, lb = 0;

	(void)state;
	init_seal(&s, 3);
	epoch_rec(&r, "acme", "web", 1, HM_KEY_CURRENT, 0, "k1", 32);
	seal_rec(&s, &r, a, &la, ha);
	seal_rec(&s, &r, b, &lb, hb);
	assert_string_equal(ha, hb);
	assert_int_equal(la, lb);
	assert_memory_not_equal(a, b, la);
	open_ok(&s, PREFIX, ha, a, la, &r);
	open_ok(&s, PREFIX, hb, b, lb, &r);
	hm_seal_wipe(&s);
}

/* Fields no store could hold are not sealed: HM_EINVAL, *len 0. */
static void test_seal_refuses(void **state)
{
	char toolong[HM_SCOPE_MAX + 2], longid[HM_KEYID_MAX + 2], prefix[300];
	uint8_t blob[HM_FREC_BLOB_MAX];
	struct hm_ks_mirror_rec r;
	struct hm_seal s;
	size_t len;

	(void)state;
	init_seal(&s, 4);
	repeat(toolong, sizeof(toolong), 't', HM_SCOPE_MAX + 1);
	repeat(longid, sizeof(longid), 'k', HM_KEYID_MAX + 1);
#define REFUSED(setup)                                                                     \
	do {                                                                               \
		epoch_rec(&r, "acme", "web", 1, HM_KEY_CURRENT, 0, "k1", 32);              \
		setup;                                                                     \
		len = 99;                                                                  \
		assert_int_equal(hm_frec_seal(&s, PREFIX, FLEET_ID, &r, blob, &len), HM_EINVAL);    \
		assert_int_equal(len, 0);                                                  \
	} while (0)
	REFUSED(r.tenant[0] = '\0');
	REFUSED(r.container[0] = '\0');
	REFUSED(snprintf(r.tenant, sizeof(r.tenant), "a b"));
	REFUSED(snprintf(r.container, sizeof(r.container), "we\xffz"));
	REFUSED(memcpy(r.tenant, toolong, sizeof(r.tenant))); /* 129 bytes, no NUL */
	REFUSED(r.keyid[0] = '\0');
	REFUSED(snprintf(r.keyid, sizeof(r.keyid), "k 1"));
	REFUSED(memcpy(r.keyid, longid, sizeof(r.keyid)));
	REFUSED(r.secret_len = HM_KEY_MAX + 1);
	REFUSED(r.secret_len = HM_KEY_MIN - 1);
	REFUSED(r.secret_len = 1);
	REFUSED(r.secret_len = 0); /* current without a secret */
	REFUSED(r.state = HM_KEY_REVOKED); /* revoked with one */
	REFUSED(r.state = 0);
	REFUSED(r.state = 4);
	REFUSED(r.epoch = 0);
	REFUSED(r.kind = 3);
	REFUSED((r.kind = HM_KS_MIRROR_POLICY, r.present = true, r.policy.ncomponents = 0));
	REFUSED((r.kind = HM_KS_MIRROR_POLICY, r.present = true, r.policy.ncomponents = 1,
		 snprintf(r.policy.components[0], sizeof(r.policy.components[0]), "Bad")));
	REFUSED((r.kind = HM_KS_MIRROR_POLICY, r.tenant[0] = '\0'));
#undef REFUSED
	/* a prefix longer than its length byte */
	epoch_rec(&r, "acme", "web", 1, HM_KEY_CURRENT, 0, "k1", 32);
	repeat(prefix, sizeof(prefix), 'p', 256);
	len = 99;
	assert_int_equal(hm_frec_seal(&s, prefix, FLEET_ID, &r, blob, &len), HM_EINVAL);
	assert_int_equal(len, 0);
	/* 255 bytes is the longest: it seals, and opens under that prefix only */
	prefix[255] = '\0';
	{
		char hex[HM_SEAL_NAME_HEX];

		assert_int_equal(hm_frec_name(&s, &r, hex), HM_OK);
		assert_int_equal(hm_frec_seal(&s, prefix, FLEET_ID, &r, blob, &len), HM_OK);
		open_ok(&s, prefix, hex, blob, len, &r);
		open_refused(&s, PREFIX, hex, blob, len);
		prefix[254] = '\0';
		open_refused(&s, prefix, hex, blob, len);
	}
	hm_seal_wipe(&s);
}

/* ---- names ---- */

static void name_of(const struct hm_seal *s, const struct hm_ks_mirror_rec *r,
		    char hex[static HM_SEAL_NAME_HEX])
{
	struct hm_ks_mirror_rec c = *r;

	assert_int_equal(hm_frec_name(s, &c, hex), HM_OK);
}

static void test_name(void **state)
{
	char a[HM_SEAL_NAME_HEX], b[HM_SEAL_NAME_HEX], want[HM_SEAL_NAME_HEX];
	uint8_t ident[HM_FREC_IDENT_MAX], mine[HM_FREC_IDENT_MAX];
	struct hm_ks_mirror_rec r, o;
	struct hm_seal s, other;
	size_t n;

	(void)state;
	init_seal(&s, 5);
	init_seal(&other, 6);

	/* the identity is the documented bytes, and the name is their keyed hash */
	epoch_rec(&r, "acme", "web", 0x01020304, HM_KEY_CURRENT, 0, "k1", 32);
	n = hm_frec_ident(&r, ident);
	assert_int_equal(n, my_ident(HM_KS_MIRROR_EPOCH, "acme", "web", 0x01020304, mine));
	assert_memory_equal(ident, mine, n);
	assert_int_equal(hm_frec_name(&s, &r, a), HM_OK);
	my_name(&s, mine, n, want);
	assert_string_equal(a, want);
	assert_int_equal(strlen(a), 64);
	for (size_t i = 0; i < 64; i++)
		assert_non_null(strchr("0123456789abcdef", a[i]));
	/* r->name is the binary form of the hex */
	for (size_t i = 0; i < 32; i++) {
		char byte[3];

		snprintf(byte, sizeof(byte), "%02x", r.name[i]);
		assert_memory_equal(byte, a + 2 * i, 2);
	}
	policy_rec(&r, "acme", "", true);
	n = hm_frec_ident(&r, ident);
	assert_int_equal(n, my_ident(HM_KS_MIRROR_POLICY, "acme", "", 0, mine));
	assert_memory_equal(ident, mine, n);

	/* what is not the identity does not change the name */
	epoch_rec(&r, "acme", "web", 1, HM_KEY_CURRENT, 0, "k1", 32);
	name_of(&s, &r, a);
	epoch_rec(&o, "acme", "web", 1, HM_KEY_REVOKED, 5, "other", 0);
	o.version = 12345;
	o.created = 1;
	name_of(&s, &o, b);
	assert_string_equal(a, b);
	policy_rec(&r, "acme", "web", true);
	name_of(&s, &r, a);
	policy_rec(&o, "acme", "web", false);
	name_of(&s, &o, b);
	assert_string_equal(a, b);
	/* another seal key, another name */
	name_of(&other, &o, a);
	assert_string_not_equal(a, b);

	/* different identities: no two share a name */
	{
		struct hm_ks_mirror_rec ids[16];
		char names[16][HM_SEAL_NAME_HEX];
		size_t k = 0;

		epoch_rec(&ids[k++], "acme", "web", 1, HM_KEY_CURRENT, 0, "k", 32);
		epoch_rec(&ids[k++], "acme", "web", 2, HM_KEY_CURRENT, 0, "k", 32);
		epoch_rec(&ids[k++], "acme", "web", 256, HM_KEY_CURRENT, 0, "k", 32);
		epoch_rec(&ids[k++], "acme", "Web", 1, HM_KEY_CURRENT, 0, "k", 32);
		epoch_rec(&ids[k++], "acmf", "web", 1, HM_KEY_CURRENT, 0, "k", 32);
		epoch_rec(&ids[k++], "web", "acme", 1, HM_KEY_CURRENT, 0, "k", 32);
		/* the same letters split another way */
		epoch_rec(&ids[k++], "ab", "c", 1, HM_KEY_CURRENT, 0, "k", 32);
		epoch_rec(&ids[k++], "a", "bc", 1, HM_KEY_CURRENT, 0, "k", 32);
		/* a container ending in what an epoch's bytes would be */
		epoch_rec(&ids[k++], "a", "b", 0x31323334, HM_KEY_CURRENT, 0, "k", 32);
		epoch_rec(&ids[k++], "a", "b1234", 1, HM_KEY_CURRENT, 0, "k", 32);
		policy_rec(&ids[k++], "acme", "web", true); /* the kind */
		policy_rec(&ids[k++], "acme", "", true);
		policy_rec(&ids[k++], "ab", "c", true);
		policy_rec(&ids[k++], "a", "bc", true);
		policy_rec(&ids[k++], "abc", "", true);
		policy_rec(&ids[k++], "a", "b", true);
		for (size_t i = 0; i < k; i++)
			name_of(&s, &ids[i], names[i]);
		for (size_t i = 0; i < k; i++)
			for (size_t j = i + 1; j < k; j++)
				if (strcmp(names[i], names[j]) == 0)
					fail_msg("identities %zu and %zu share a name", i, j);
	}
	hm_seal_wipe(&s);
	hm_seal_wipe(&other);
}

/* ---- tampering ---- */

static void test_flipped_bytes(void **state)
{
	uint8_t blob[HM_FREC_BLOB_MAX], bad[HM_FREC_BLOB_MAX];
	struct hm_ks_mirror_rec recs[3];
	char hex[HM_SEAL_NAME_HEX];
	struct hm_seal s;
	size_t len = 0;

	(void)state;
	init_seal(&s, 7);
	epoch_rec(&recs[0], "acme", "web", 1, HM_KEY_CURRENT, 0, "k1", 32);
	policy_rec(&recs[1], "acme", "web", true);
	epoch_rec(&recs[2], "acme", "web", 1, HM_KEY_CURRENT, 0, "k1", 32);
	set_origin(&recs[2], HM_AUDIT_ROTATE); /* format 2 */
	for (size_t k = 0; k < 3; k++) {
		seal_rec(&s, &recs[k], blob, &len, hex);
		for (size_t i = 0; i < len; i++) {
			for (unsigned bit = 0; bit < 8; bit += 7) { /* the lowest and highest bit */
				memcpy(bad, blob, len);
				bad[i] ^= (uint8_t)(1u << bit);
				open_refused(&s, PREFIX, hex, bad, len);
			}
			memcpy(bad, blob, len);
			bad[i] ^= 0xff;
			open_refused(&s, PREFIX, hex, bad, len);
		}
		open_ok(&s, PREFIX, hex, blob, len, &recs[k]);
	}
	hm_seal_wipe(&s);
}

static void test_truncated(void **state)
{
	uint8_t blob[HM_FREC_BLOB_MAX + 1];
	struct hm_ks_mirror_rec r;
	char hex[HM_SEAL_NAME_HEX];
	struct hm_seal s;
	size_t len = 0;

	(void)state;
	init_seal(&s, 8);
	epoch_rec(&r, "acme", "web", 1, HM_KEY_CURRENT, 0, "k1", 32);
	seal_rec(&s, &r, blob, &len, hex);
	for (size_t n = 0; n < len; n++)
		open_refused(&s, PREFIX, hex, blob, n);
	/* cut at the front: the format byte gone, everything shifted */
	for (size_t n = 1; n < len; n++)
		open_refused(&s, PREFIX, hex, blob + n, len - n);
	/* a byte more */
	blob[len] = 0;
	open_refused(&s, PREFIX, hex, blob, len + 1);
	open_ok(&s, PREFIX, hex, blob, len, &r);
	hm_seal_wipe(&s);
}

static void test_format_and_version(void **state)
{
	uint8_t blob[HM_FREC_BLOB_MAX], bad[HM_FREC_BLOB_MAX];
	static const uint8_t formats[] = {0, 2, 0x7f, 0x81, 0xff};
	struct hm_ks_mirror_rec r;
	char hex[HM_SEAL_NAME_HEX];
	struct hm_seal s;
	size_t len = 0;

	(void)state;
	init_seal(&s, 9);
	epoch_rec(&r, "acme", "web", 1, HM_KEY_CURRENT, 0, "k1", 32);
	r.version = 1000;
	seal_rec(&s, &r, blob, &len, hex);
	for (size_t i = 0; i < sizeof(formats); i++) {
		memcpy(bad, blob, len);
		bad[0] = formats[i];
		open_refused(&s, PREFIX, hex, bad, len);
	}
	/* another version, higher or lower, in any byte of it */
	for (size_t i = 1; i <= 8; i++) {
		memcpy(bad, blob, len);
		bad[i]++;
		open_refused(&s, PREFIX, hex, bad, len);
		memcpy(bad, blob, len);
		bad[i]--;
		open_refused(&s, PREFIX, hex, bad, len);
	}
	/* the same record sealed at another version has its own blob: a rollback opens as itself */
	r.version = 999;
	{
		uint8_t old[HM_FREC_BLOB_MAX];
		struct hm_ks_mirror_rec got;
		size_t olen = 0;

		seal_rec(&s, &r, old, &olen, hex);
		assert_int_equal(hm_frec_open(&s, PREFIX, FLEET_ID, hex, old, olen, &got), HM_OK);
		assert_int_equal(got.version, 999);
		OPENSSL_cleanse(&got, sizeof(got));
	}
	hm_seal_wipe(&s);
}

/* A blob under another record's name, prefix, fleet or seal key; names not hex. */
static void test_moved(void **state)
{
	uint8_t blob[HM_FREC_BLOB_MAX], pblob[HM_FREC_BLOB_MAX];
	char hex[HM_SEAL_NAME_HEX], other[HM_SEAL_NAME_HEX], phex[HM_SEAL_NAME_HEX];
	char bad[HM_SEAL_NAME_HEX + 1];
	struct hm_ks_mirror_rec r, o, p;
	struct hm_seal s, s2;
	size_t len = 0, plen = 0;

	(void)state;
	init_seal(&s, 10);
	init_seal(&s2, 11);
	epoch_rec(&r, "acme", "web", 2, HM_KEY_CURRENT, 0, "k2", 32);
	seal_rec(&s, &r, blob, &len, hex);
	/* swapped to another scope's name, another epoch's, the policy's */
	epoch_rec(&o, "acme", "api", 2, HM_KEY_CURRENT, 0, "k2", 32);
	name_of(&s, &o, other);
	open_refused(&s, PREFIX, other, blob, len);
	epoch_rec(&o, "acme", "web", 1, HM_KEY_CURRENT, 0, "k2", 32);
	name_of(&s, &o, other);
	open_refused(&s, PREFIX, other, blob, len);
	policy_rec(&p, "acme", "web", true);
	seal_rec(&s, &p, pblob, &plen, phex);
	open_refused(&s, PREFIX, phex, blob, len);
	open_refused(&s, PREFIX, hex, pblob, plen);
	/* another fleet prefix, another seal key */
	open_refused(&s, "other:", hex, blob, len);
	open_refused(&s, "", hex, blob, len);
	open_refused(&s, "hmacd", hex, blob, len);
	open_refused(&s2, PREFIX, hex, blob, len);
	/* another fleet: one made later in the same Redis, with the same prefix and seal key */
	{
		struct hm_ks_mirror_rec got;

		assert_int_equal(hm_frec_open(&s, PREFIX, OTHER_FLEET, hex, blob, len, &got),
				 HM_EMALFORMED);
		assert_true(all_zero(&got, sizeof(got)));
		assert_int_equal(hm_frec_open(&s, PREFIX, "0011", hex, blob, len, &got),
				 HM_EMALFORMED);
		assert_int_equal(hm_frec_seal(&s, PREFIX, "00112233445566778899AABBCCDDEEFF", &r,
					      pblob, &plen),
				 HM_EINVAL);
	}
	/* the name itself: upper case, short, long, not hex */
	memcpy(bad, hex, sizeof(hex));
	for (size_t i = 0; i < 64; i++)
		if (bad[i] >= 'a' && bad[i] <= 'f') {
			bad[i] = (char)(bad[i] - 'a' + 'A');
			break;
		}
	open_refused(&s, PREFIX, bad, blob, len);
	memcpy(bad, hex, sizeof(hex));
	bad[63] = '\0';
	open_refused(&s, PREFIX, bad, blob, len);
	memcpy(bad, hex, 64);
	bad[64] = '0';
	bad[65] = '\0';
	open_refused(&s, PREFIX, bad, blob, len);
	memcpy(bad, hex, sizeof(hex));
	bad[10] = 'g';
	open_refused(&s, PREFIX, bad, blob, len);
	open_refused(&s, PREFIX, "", blob, len);
	open_ok(&s, PREFIX, hex, blob, len, &r);
	hm_seal_wipe(&s);
	hm_seal_wipe(&s2);
}

/*
 * A blob that authenticates under B's name (its associated data made for B) but holds A's
 * identity: the name check inside is what refuses it. The same construction under A's name
 * opens, so the test's encoder is the format.
 */
static void test_identity_not_the_name(void **state)
{
	uint8_t plain[HM_FREC_PLAIN_MAX], blob[HM_FREC_BLOB_MAX], ident[HM_FREC_IDENT_MAX];
	char ha[HM_SEAL_NAME_HEX], hb[HM_SEAL_NAME_HEX];
	struct hm_ks_mirror_rec a, b;
	struct hm_seal s;
	size_t n, len;

	(void)state;
	init_seal(&s, 12);
	epoch_rec(&a, "acme", "web", 1, HM_KEY_CURRENT, 0, "k1", 32);
	epoch_rec(&b, "evil", "web", 1, HM_KEY_CURRENT, 0, "k1", 32);
	assert_int_equal(hm_frec_name(&s, &a, ha), HM_OK); /* a.name set, as open sets it */
	name_of(&s, &b, hb);
	n = my_epoch_plain(&a, plain);
	len = forge(&s, ha, a.version, plain, n, blob);
	open_ok(&s, PREFIX, ha, blob, len, &a);
	len = forge(&s, hb, a.version, plain, n, blob);
	open_refused(&s, PREFIX, hb, blob, len);
	/* every other identity of the pair: other epoch, container, kind */
	epoch_rec(&b, "acme", "web", 2, HM_KEY_CURRENT, 0, "k1", 32);
	name_of(&s, &b, hb);
	len = forge(&s, hb, a.version, plain, n, blob);
	open_refused(&s, PREFIX, hb, blob, len);
	policy_rec(&b, "acme", "web", false);
	name_of(&s, &b, hb);
	len = forge(&s, hb, a.version, plain, n, blob);
	open_refused(&s, PREFIX, hb, blob, len);
	/* a name that is no identity's hash at all */
	memset(hb, 'e', 64);
	len = forge(&s, hb, a.version, plain, n, blob);
	open_refused(&s, PREFIX, hb, blob, len);
	/* the name of the identity under another seal key */
	{
		struct hm_seal s2;

		init_seal(&s2, 13);
		n = my_ident(HM_KS_MIRROR_EPOCH, "acme", "web", 1, ident);
		my_name(&s2, ident, n, hb);
		n = my_epoch_plain(&a, plain);
		len = forge(&s, hb, a.version, plain, n, blob);
		open_refused(&s, PREFIX, hb, blob, len);
		hm_seal_wipe(&s2);
	}
	hm_seal_wipe(&s);
}

/* ---- the plaintext decoder ---- */

/*
 * Seals plain under the name its own identity bytes hash to (when they parse), so that the
 * only reason to refuse it is its content. Returns hm_frec_open's code; *out as it left it.
 */
static int open_plain_as(const struct hm_seal *s, uint8_t format, const uint8_t *plain,
			 size_t n, struct hm_ks_mirror_rec *out)
{
	uint8_t blob[HM_FREC_BLOB_MAX];
	char hex[HM_SEAL_NAME_HEX];
	size_t il = 0, len;
	int rc;

	/* the identity's length as a reader takes it: kind, two length-prefixed names, epoch */
	if (n >= 2 && (size_t)plain[1] + 3 <= n) {
		il = 2 + plain[1];
		il += 1 + plain[il];
		if (plain[0] == HM_KS_MIRROR_EPOCH)
			il += 4;
	}
	if (il == 0 || il > n) {
		memset(hex, 'c', 64);
		hex[64] = '\0';
	} else {
		my_name(s, plain, il, hex);
	}
	len = forge_as(s, format, hex, 5, plain, n, blob);
	memset(out, 0x5a, sizeof(*out));
	rc = hm_frec_open(s, PREFIX, FLEET_ID, hex, blob, len, out);
	if (rc != HM_OK)
		assert_true(all_zero(out, sizeof(*out)));
	else
		assert_true(out->origin.known == (format == HM_FREC_FORMAT));
	return rc;
}

static int open_plain(const struct hm_seal *s, const uint8_t *plain, size_t n,
		      struct hm_ks_mirror_rec *out)
{
	return open_plain_as(s, HM_FREC_FORMAT_V1, plain, n, out);
}

/* Whether a printable ASCII string of at most max bytes. */
static bool printable_max(const char *p, size_t cap, size_t max)
{
	size_t n = strnlen(p, cap);

	if (n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return false;
	return true;
}

/* Whether an origin is one a writer makes (record.h): operation of the kind, limits. */
static bool origin_holdable(const struct hm_ks_mirror_rec *r)
{
	const struct hm_ks_origin *o = &r->origin;

	if (!o->known)
		return true;
	if (r->kind == HM_KS_MIRROR_POLICY
		    ? o->op != (r->present ? HM_AUDIT_POLICY_SET : HM_AUDIT_POLICY_UNSET)
		    : o->op < HM_AUDIT_CREATE || o->op > HM_AUDIT_REVOKE)
		return false;
	return o->time_ms >= 0 && (o->actor.has_sudo_uid || o->actor.sudo_uid == 0) &&
	       printable_max(o->actor.user, sizeof(o->actor.user), HM_AUDIT_NAME_MAX) &&
	       printable_max(o->actor.sudo_user, sizeof(o->actor.sudo_user), HM_AUDIT_NAME_MAX) &&
	       printable_max(o->actor.host, sizeof(o->actor.host), HM_AUDIT_HOST_MAX);
}

/* Whether a record is one a store can hold (store/keystore.h, hm_ks_mirror_apply's rules). */
static bool holdable(const struct hm_ks_mirror_rec *r)
{
	size_t tl = strnlen(r->tenant, sizeof(r->tenant)), cl = strnlen(r->container,
									  sizeof(r->container));
	size_t kl = strnlen(r->keyid, sizeof(r->keyid));

	if (!hm_lex_scope((const uint8_t *)r->tenant, tl) ||
	    (cl > 0 && !hm_lex_scope((const uint8_t *)r->container, cl)))
		return false;
	if (r->kind == HM_KS_MIRROR_POLICY)
		return !r->present || r->policy.ncomponents >= 1;
	if (r->kind != HM_KS_MIRROR_EPOCH || cl == 0 || r->epoch == 0)
		return false;
	if (r->state != HM_KEY_CURRENT && r->state != HM_KEY_SUPERSEDED &&
	    r->state != HM_KEY_REVOKED)
		return false;
	if (r->state == HM_KEY_REVOKED)
		return r->secret_len == 0 && hm_lex_keyid((const uint8_t *)r->keyid, kl);
	return r->secret_len >= HM_KEY_MIN && r->secret_len <= HM_KEY_MAX &&
	       hm_lex_keyid((const uint8_t *)r->keyid, kl);
}

/* What opens is holdable and seals again into a blob that opens as the same record. */
static void reseals(const struct hm_seal *s, struct hm_ks_mirror_rec *r)
{
	uint8_t blob[HM_FREC_BLOB_MAX];
	char hex[HM_SEAL_NAME_HEX];
	size_t len = 0;

	assert_true(holdable(r) && origin_holdable(r));
	assert_int_equal(hm_frec_name(s, r, hex), HM_OK);
	assert_int_equal(hm_frec_seal(s, PREFIX, FLEET_ID, r, blob, &len), HM_OK);
	open_ok(s, PREFIX, hex, blob, len, r);
}

static void test_plaintext_limits(void **state)
{
	uint8_t plain[HM_FREC_PLAIN_MAX + 16], pol[HM_POLICY_ENC_MAX];
	struct hm_ks_mirror_rec r, got;
	struct hm_policy p;
	struct hm_seal s;
	size_t n, plen = 0;

	(void)state;
	init_seal(&s, 14);

	/* the test's encoder makes what opens */
	epoch_rec(&r, "acme", "web", 1, HM_KEY_CURRENT, 0, "k1", 32);
	n = my_epoch_plain(&r, plain);
	assert_int_equal(open_plain(&s, plain, n, &got), HM_OK);
	assert_int_equal(got.secret_len, 32);
	OPENSSL_cleanse(&got, sizeof(got));

#define EPOCH_REFUSED(setup)                                                            \
	do {                                                                            \
		epoch_rec(&r, "acme", "web", 1, HM_KEY_CURRENT, 0, "k1", 32);           \
		setup;                                                                  \
		n = my_epoch_plain(&r, plain);                                          \
		assert_int_equal(open_plain(&s, plain, n, &got), HM_EMALFORMED);        \
	} while (0)
	EPOCH_REFUSED(r.tenant[0] = '\0');
	EPOCH_REFUSED(r.container[0] = '\0');
	EPOCH_REFUSED(snprintf(r.tenant, sizeof(r.tenant), "a b"));
	EPOCH_REFUSED(snprintf(r.container, sizeof(r.container), "web\n"));
	EPOCH_REFUSED(r.epoch = 0);
	EPOCH_REFUSED(r.state = 0);
	EPOCH_REFUSED(r.state = 4);
	EPOCH_REFUSED(r.state = 0xff);
	EPOCH_REFUSED(r.keyid[0] = '\0');
	EPOCH_REFUSED(snprintf(r.keyid, sizeof(r.keyid), "k\"1"));
	EPOCH_REFUSED(r.secret_len = 0);
	EPOCH_REFUSED(r.secret_len = HM_KEY_MIN - 1);
	EPOCH_REFUSED(r.secret_len = HM_KEY_MAX + 1);
	EPOCH_REFUSED(r.state = HM_KEY_REVOKED);
	EPOCH_REFUSED((r.state = HM_KEY_SUPERSEDED, r.secret_len = 0));
#undef EPOCH_REFUSED

	/* lengths that do not add up */
	epoch_rec(&r, "acme", "web", 1, HM_KEY_CURRENT, 0, "k1", 32);
	n = my_epoch_plain(&r, plain);
	for (size_t cut = 0; cut < n; cut++)
		assert_int_equal(open_plain(&s, plain, cut, &got), HM_EMALFORMED);
	plain[n] = 0;
	assert_int_equal(open_plain(&s, plain, n + 1, &got), HM_EMALFORMED);
	plain[1] = 200; /* tenant length past the end */
	assert_int_equal(open_plain(&s, plain, n, &got), HM_EMALFORMED);
	plain[1] = HM_SCOPE_MAX + 1;
	assert_int_equal(open_plain(&s, plain, n, &got), HM_EMALFORMED);
	/* a NUL inside a name or the key id */
	n = my_epoch_plain(&r, plain);
	plain[3] = '\0';
	assert_int_equal(open_plain(&s, plain, n, &got), HM_EMALFORMED);
	n = my_epoch_plain(&r, plain);
	plain[2 + 4 + 1 + 3 + 4 + 17 + 1] = '\0'; /* the key id's first byte */
	assert_int_equal(open_plain(&s, plain, n, &got), HM_EMALFORMED);
	/* unknown kinds */
	for (unsigned kind = 0; kind < 256; kind += 1) {
		if (kind == HM_KS_MIRROR_EPOCH || kind == HM_KS_MIRROR_POLICY)
			continue;
		n = my_epoch_plain(&r, plain);
		plain[0] = (uint8_t)kind;
		assert_int_equal(open_plain(&s, plain, n, &got), HM_EMALFORMED);
	}
	assert_int_equal(open_plain(&s, plain, 0, &got), HM_EMALFORMED);

	/* policies */
	policy_rec(&r, "acme", "web", true);
	assert_int_equal(hm_policy_encode(&r.policy, pol, sizeof(pol), &plen), HM_OK);
	n = my_policy_plain("acme", "web", 1, pol, plen, plain);
	assert_int_equal(open_plain(&s, plain, n, &got), HM_OK);
	assert_true(got.present);
	n = my_policy_plain("acme", "", 0, NULL, 0, plain);
	assert_int_equal(open_plain(&s, plain, n, &got), HM_OK);
	assert_false(got.present);
	n = my_policy_plain("acme", "web", 2, pol, plen, plain); /* present is 0 or 1 */
	assert_int_equal(open_plain(&s, plain, n, &got), HM_EMALFORMED);
	n = my_policy_plain("acme", "web", 1, NULL, 0, plain); /* set, without a policy */
	assert_int_equal(open_plain(&s, plain, n, &got), HM_EMALFORMED);
	n = my_policy_plain("acme", "web", 0, pol, plen, plain); /* unset, with one */
	assert_int_equal(open_plain(&s, plain, n, &got), HM_EMALFORMED);
	n = my_policy_plain("", "web", 0, NULL, 0, plain);
	assert_int_equal(open_plain(&s, plain, n, &got), HM_EMALFORMED);
	n = my_policy_plain("ac me", "", 0, NULL, 0, plain);
	assert_int_equal(open_plain(&s, plain, n, &got), HM_EMALFORMED);
	n = my_policy_plain("acme", "web", 1, pol, plen - 1, plain); /* a policy cut short */
	assert_int_equal(open_plain(&s, plain, n, &got), HM_EMALFORMED);
	n = my_policy_plain("acme", "web", 1, pol, plen, plain);
	plain[n - plen - 1]++; /* its length one more than there is */
	assert_int_equal(open_plain(&s, plain, n, &got), HM_EMALFORMED);
	n = my_policy_plain("acme", "web", 1, pol, plen, plain);
	plain[n] = 0; /* a byte after it */
	assert_int_equal(open_plain(&s, plain, n + 1, &got), HM_EMALFORMED);
	/* a policy with no component: no store holds one (hm_ks_policy_set refuses it) */
	memset(&p, 0, sizeof(p));
	assert_int_equal(hm_policy_encode(&p, pol, sizeof(pol), &plen), HM_OK);
	n = my_policy_plain("acme", "web", 1, pol, plen, plain);
	assert_int_equal(open_plain(&s, plain, n, &got), HM_EMALFORMED);
	/* the longest plaintext there is opens */
	{
		char longest[HM_SCOPE_MAX + 1], longid[HM_KEYID_MAX + 1];

		repeat(longest, sizeof(longest), 'x', HM_SCOPE_MAX);
		repeat(longid, sizeof(longid), 'y', HM_KEYID_MAX);
		epoch_rec(&r, longest, longest, 9, HM_KEY_CURRENT, 0, longid, HM_KEY_MAX);
		n = my_epoch_plain(&r, plain);
		assert_true(n <= HM_FREC_PLAIN_MAX);
		assert_int_equal(open_plain(&s, plain, n, &got), HM_OK);
		OPENSSL_cleanse(&got, sizeof(got));
	}
	OPENSSL_cleanse(plain, sizeof(plain));
	hm_seal_wipe(&s);
}

/* A small deterministic generator (xorshift64*), so a failure repeats. */
static uint64_t rnd_next(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 2685821657736338717ull;
}

/*
 * Random and mutated plaintexts, sealed properly under the name their identity bytes hash
 * to: never a crash (ASan/valgrind see the reads), refused with the output wiped unless they
 * hold a record a store can hold, and what opens seals again into the same record.
 */
static void test_plaintext_random(void **state)
{
	uint8_t seeds[8][HM_FREC_PLAIN_MAX], plain[HM_FREC_PLAIN_MAX], pol[HM_POLICY_ENC_MAX];
	uint8_t org[HM_FREC_ORIGIN_MAX];
	size_t seedlen[8], plen = 0, opened2 = 0;
	static const enum hm_audit_op ops[4] = {HM_AUDIT_ROTATE, HM_AUDIT_REVOKE,
						HM_AUDIT_POLICY_SET, HM_AUDIT_POLICY_UNSET};
	struct hm_ks_mirror_rec r, got;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	size_t opened = 0;
	struct hm_seal s;

	(void)state;
	init_seal(&s, 15);
	epoch_rec(&r, "acme", "web", 1, HM_KEY_CURRENT, 0, "k1", 32);
	seedlen[0] = my_epoch_plain(&r, seeds[0]);
	epoch_rec(&r, "a", "b", 2, HM_KEY_REVOKED, 0, "hk_1", 0);
	seedlen[1] = my_epoch_plain(&r, seeds[1]);
	policy_rec(&r, "acme", "web", true);
	assert_int_equal(hm_policy_encode(&r.policy, pol, sizeof(pol), &plen), HM_OK);
	seedlen[2] = my_policy_plain("acme", "web", 1, pol, plen, seeds[2]);
	seedlen[3] = my_policy_plain("acme", "", 0, NULL, 0, seeds[3]);
	/* the same four in format 2, with an origin of their kind */
	for (size_t k = 0; k < 4; k++) {
		set_origin(&r, ops[k]);
		seedlen[4 + k] = my_with_origin(seeds[k], seedlen[k], org, my_origin_of(&r, org),
						seeds[4 + k]);
	}

	for (int i = 0; i < 6000; i++) {
		uint64_t v = rnd_next(&x);
		uint8_t format = (v >> 20) & 1 ? HM_FREC_FORMAT : HM_FREC_FORMAT_V1;
		size_t n;
		int rc;

		if (i % 3 == 0) {
			/* random bytes, with a plausible kind and names often enough */
			n = (size_t)(rnd_next(&x) % (HM_FREC_PLAIN_MAX + 1));
			for (size_t j = 0; j < n; j++)
				plain[j] = (uint8_t)rnd_next(&x);
			if (n > 0)
				plain[0] = (uint8_t)(1 + (v & 1));
			if (n > 1)
				plain[1] = (uint8_t)(v >> 8) % 8;
		} else {
			/* a valid plaintext with a few bytes changed, cut or grown */
			size_t k = (size_t)(v % 4) + (format == HM_FREC_FORMAT ? 4 : 0);
			size_t edits = 1 + (size_t)((v >> 8) % 3);

			n = seedlen[k];
			memcpy(plain, seeds[k], n);
			for (size_t e = 0; e < edits; e++) {
				uint64_t w = rnd_next(&x);

				switch (w % 4) {
				case 0: /* a byte set to something small (lengths, states) */
					plain[(w >> 8) % n] = (uint8_t)((w >> 32) % 6);
					break;
				case 1:
					plain[(w >> 8) % n] ^= (uint8_t)(1u << ((w >> 32) % 8));
					break;
				case 2:
					if (n > 1)
						n--;
					break;
				default:
					if (n < HM_FREC_PLAIN_MAX)
						plain[n++] = (uint8_t)(w >> 40);
					break;
				}
			}
		}
		rc = open_plain_as(&s, format, plain, n, &got);
		if (rc == HM_OK) {
			opened++;
			opened2 += got.origin.known;
			reseals(&s, &got);
		} else {
			assert_int_equal(rc, HM_EMALFORMED);
		}
		OPENSSL_cleanse(&got, sizeof(got));
	}
	/* the mutations keep some records valid (a state, a secret byte, a flag changed) */
	assert_true(opened > opened2 && opened2 > 0);
	OPENSSL_cleanse(seeds, sizeof(seeds));
	OPENSSL_cleanse(plain, sizeof(plain));
	hm_seal_wipe(&s);
}

/* ---- format 2: the change's origin ---- */

static void test_origin_round_trip(void **state)
{
	static const enum hm_audit_op epoch_ops[] = {HM_AUDIT_CREATE, HM_AUDIT_ROTATE,
						     HM_AUDIT_IMPORT, HM_AUDIT_REVOKE};
	char longest[HM_SCOPE_MAX + 1], longid[HM_KEYID_MAX + 1];
	uint8_t blob[HM_FREC_BLOB_MAX];
	char hex[HM_SEAL_NAME_HEX];
	struct hm_ks_mirror_rec r, got;
	struct hm_seal s;
	size_t len = 0;

	(void)state;
	init_seal(&s, 20);
	for (size_t i = 0; i < sizeof(epoch_ops) / sizeof(epoch_ops[0]); i++) {
		epoch_rec(&r, "acme", "web", 1, HM_KEY_CURRENT, 0, "k1", 32);
		set_origin(&r, epoch_ops[i]);
		seal_rec(&s, &r, blob, &len, hex);
		assert_int_equal(blob[0], HM_FREC_FORMAT);
		open_ok(&s, PREFIX, hex, blob, len, &r);
	}
	epoch_rec(&r, "acme", "web", 3, HM_KEY_REVOKED, 0, "k/3", 0);
	set_origin(&r, HM_AUDIT_REVOKE);
	round_trip(&s, &r);
	policy_rec(&r, "acme", "web", true);
	set_origin(&r, HM_AUDIT_POLICY_SET);
	round_trip(&s, &r);
	policy_rec(&r, "acme", "", false);
	set_origin(&r, HM_AUDIT_POLICY_UNSET);
	round_trip(&s, &r);
	/* no sudo, no names, no host: an operator whose uid has no name */
	epoch_rec(&r, "acme", "web", 1, HM_KEY_CURRENT, 0, "k1", 32);
	r.origin = (struct hm_ks_origin){.known = true, .op = HM_AUDIT_CREATE, .time_ms = 0};
	r.origin.actor.uid = UINT32_MAX;
	round_trip(&s, &r);
	/* the longest of everything: it fits HM_FREC_BLOB_MAX (seal_rec checks) */
	repeat(longest, sizeof(longest), 't', HM_SCOPE_MAX);
	repeat(longid, sizeof(longid), '~', HM_KEYID_MAX);
	epoch_rec(&r, longest, longest, UINT32_MAX, HM_KEY_SUPERSEDED, INT64_MAX, longid,
		  HM_KEY_MAX);
	set_origin(&r, HM_AUDIT_ROTATE);
	r.origin.time_ms = INT64_MAX;
	r.origin.actor.sudo_uid = UINT32_MAX;
	repeat(r.origin.actor.user, sizeof(r.origin.actor.user), '~', HM_AUDIT_NAME_MAX);
	repeat(r.origin.actor.sudo_user, sizeof(r.origin.actor.sudo_user), ' ', HM_AUDIT_NAME_MAX);
	repeat(r.origin.actor.host, sizeof(r.origin.actor.host), 'h', HM_AUDIT_HOST_MAX);
	round_trip(&s, &r);
	/* no origin: format 1, as an older hmacctl wrote it; it opens with the origin unknown */
	epoch_rec(&r, "acme", "web", 1, HM_KEY_CURRENT, 0, "k1", 32);
	seal_rec(&s, &r, blob, &len, hex);
	assert_int_equal(blob[0], HM_FREC_FORMAT_V1);
	memset(&got, 0x5a, sizeof(got));
	assert_int_equal(hm_frec_open(&s, PREFIX, FLEET_ID, hex, blob, len, &got), HM_OK);
	assert_false(got.origin.known);
	assert_true(all_zero(&got.origin, sizeof(got.origin)));
	OPENSSL_cleanse(&got, sizeof(got));
	hm_seal_wipe(&s);
}

/*
 * The format byte is authenticated: a format 2 blob marked 1 (a downgrade that would drop the
 * operator) or a format 1 blob marked 2 does not open; nor does either plaintext sealed, with
 * the right associated data, as the other format.
 */
static void test_origin_format_byte(void **state)
{
	uint8_t blob[HM_FREC_BLOB_MAX], bad[HM_FREC_BLOB_MAX], plain[HM_FREC_PLAIN_MAX];
	uint8_t plain2[HM_FREC_PLAIN_MAX], org[HM_FREC_ORIGIN_MAX];
	struct hm_ks_mirror_rec r, got;
	char hex[HM_SEAL_NAME_HEX];
	struct hm_seal s;
	size_t len = 0, n, n2;

	(void)state;
	init_seal(&s, 21);
	for (int k = 0; k < 2; k++) {
		if (k == 0) {
			epoch_rec(&r, "acme", "web", 1, HM_KEY_CURRENT, 0, "k1", 32);
			set_origin(&r, HM_AUDIT_ROTATE);
		} else {
			policy_rec(&r, "acme", "web", false);
			set_origin(&r, HM_AUDIT_POLICY_UNSET);
		}
		seal_rec(&s, &r, blob, &len, hex);
		for (unsigned f = 0; f < 256; f++) {
			if (f == HM_FREC_FORMAT)
				continue;
			memcpy(bad, blob, len);
			bad[0] = (uint8_t)f;
			open_refused(&s, PREFIX, hex, bad, len);
		}
		r.origin.known = false;
		seal_rec(&s, &r, blob, &len, hex);
		memcpy(bad, blob, len);
		bad[0] = HM_FREC_FORMAT;
		open_refused(&s, PREFIX, hex, bad, len);
		open_ok(&s, PREFIX, hex, blob, len, &r);
	}
	/* the plaintexts of each format sealed as the other */
	epoch_rec(&r, "acme", "web", 1, HM_KEY_CURRENT, 0, "k1", 32);
	set_origin(&r, HM_AUDIT_CREATE);
	n = my_epoch_plain(&r, plain);
	n2 = my_with_origin(plain, n, org, my_origin_of(&r, org), plain2);
	assert_int_equal(open_plain_as(&s, HM_FREC_FORMAT, plain2, n2, &got), HM_OK);
	assert_true(origin_equal(&got.origin, &r.origin));
	assert_int_equal(open_plain_as(&s, HM_FREC_FORMAT_V1, plain2, n2, &got), HM_EMALFORMED);
	assert_int_equal(open_plain_as(&s, HM_FREC_FORMAT, plain, n, &got), HM_EMALFORMED);
	OPENSSL_cleanse(&got, sizeof(got));
	OPENSSL_cleanse(plain, sizeof(plain));
	OPENSSL_cleanse(plain2, sizeof(plain2));
	hm_seal_wipe(&s);
}

/* Origins no writer makes are not sealed: HM_EINVAL, *len 0. */
static void test_origin_seal_refuses(void **state)
{
	uint8_t blob[HM_FREC_BLOB_MAX];
	struct hm_ks_mirror_rec r;
	struct hm_seal s;
	size_t len;

	(void)state;
	init_seal(&s, 22);
#define REFUSED(setup)                                                                     \
	do {                                                                               \
		epoch_rec(&r, "acme", "web", 1, HM_KEY_CURRENT, 0, "k1", 32);              \
		set_origin(&r, HM_AUDIT_CREATE);                                           \
		setup;                                                                     \
		len = 99;                                                                  \
		assert_int_equal(hm_frec_seal(&s, PREFIX, FLEET_ID, &r, blob, &len), HM_EINVAL);    \
		assert_int_equal(len, 0);                                                  \
	} while (0)
	/* longer than its field, without a NUL */
	REFUSED(memset(r.origin.actor.user, 'u', sizeof(r.origin.actor.user)));
	REFUSED(memset(r.origin.actor.sudo_user, 's', sizeof(r.origin.actor.sudo_user)));
	REFUSED(memset(r.origin.actor.host, 'h', sizeof(r.origin.actor.host)));
	/* not printable ASCII */
	REFUSED(snprintf(r.origin.actor.user, sizeof(r.origin.actor.user), "bo\nb"));
	REFUSED(snprintf(r.origin.actor.sudo_user, sizeof(r.origin.actor.sudo_user), "\x7f"));
	REFUSED(snprintf(r.origin.actor.host, sizeof(r.origin.actor.host), "h\xc3\xa9"));
	/* an operation that is not of the record's kind, or no operator's */
	REFUSED(r.origin.op = 0);
	REFUSED(r.origin.op = HM_AUDIT_POLICY_SET);
	REFUSED(r.origin.op = HM_AUDIT_PRUNE);
	REFUSED(r.origin.op = HM_AUDIT_RESTORE);
	REFUSED(r.origin.op = HM_AUDIT_FLEET_EPOCH);
	REFUSED(r.origin.op = HM_AUDIT_OP__MAX);
	REFUSED((r.kind = HM_KS_MIRROR_POLICY, r.present = false, r.origin.op = HM_AUDIT_REVOKE));
	REFUSED((r.kind = HM_KS_MIRROR_POLICY, r.present = false,
		 r.origin.op = HM_AUDIT_POLICY_SET));
	/* a time before 1970, a SUDO_UID without its flag */
	REFUSED(r.origin.time_ms = -1);
	REFUSED((r.origin.actor.has_sudo_uid = false, r.origin.actor.sudo_uid = 5));
#undef REFUSED
	hm_seal_wipe(&s);
}

/* Hand-made format 2 plaintexts, sealed properly: only what a writer makes opens. */
static void test_origin_plaintext(void **state)
{
	uint8_t plain[HM_FREC_PLAIN_MAX + 16], p2[HM_FREC_PLAIN_MAX + 16];
	uint8_t org[HM_FREC_ORIGIN_MAX + 16];
	struct hm_ks_mirror_rec r, got;
	struct hm_seal s;
	size_t n, n2, on;

	(void)state;
	init_seal(&s, 23);
	epoch_rec(&r, "acme", "web", 1, HM_KEY_CURRENT, 0, "k1", 32);
	set_origin(&r, HM_AUDIT_ROTATE);
	n = my_epoch_plain(&r, plain);

#define IDENT_LEN (2 + 4 + 1 + 3 + 4) /* acme, web, epoch */
#define ORIGIN(flag, ul, sl, hl)                                                        \
	do {                                                                            \
		on = my_origin(&r.origin, flag, ul, sl, hl, org);                        \
		n2 = my_with_origin(plain, n, org, on, p2);                              \
	} while (0)
#define OPENS() assert_int_equal(open_plain_as(&s, HM_FREC_FORMAT, p2, n2, &got), HM_OK)
#define REFUSED() assert_int_equal(open_plain_as(&s, HM_FREC_FORMAT, p2, n2, &got), HM_EMALFORMED)
	/* the test's encoder makes what opens, and the origin is what was written */
	ORIGIN(1, 3, 5, 7);
	OPENS();
	assert_true(origin_equal(&got.origin, &r.origin));
	assert_true(rec_equal(&got, &got));
	/* lengths that lie: one short or long (the rest shifts), past the end */
	ORIGIN(1, 2, 5, 7);
	REFUSED();
	ORIGIN(1, 3, 4, 7);
	REFUSED();
	ORIGIN(1, 3, 5, 8);
	REFUSED();
	ORIGIN(1, 3, 5, 255);
	REFUSED();
	ORIGIN(1, 200, 5, 7);
	REFUSED();
	/* a name one byte longer than its field: HM_AUDIT_NAME_MAX + 1 bytes read, refused */
	repeat(r.origin.actor.user, sizeof(r.origin.actor.user), 'u', HM_AUDIT_NAME_MAX);
	ORIGIN(1, HM_AUDIT_NAME_MAX, 5, 7);
	OPENS();
	ORIGIN(1, HM_AUDIT_NAME_MAX + 1, 5, 7);
	REFUSED();
	set_origin(&r, HM_AUDIT_ROTATE);
	repeat(r.origin.actor.sudo_user, sizeof(r.origin.actor.sudo_user), 's', HM_AUDIT_NAME_MAX);
	ORIGIN(1, 3, HM_AUDIT_NAME_MAX + 1, 7);
	REFUSED();
	set_origin(&r, HM_AUDIT_ROTATE);
	/* flags: only 0 or 1; a SUDO_UID without the flag */
	ORIGIN(2, 3, 5, 7);
	REFUSED();
	ORIGIN(0xff, 3, 5, 7);
	REFUSED();
	ORIGIN(0, 3, 5, 7);
	REFUSED();
	r.origin.actor.has_sudo_uid = false;
	r.origin.actor.sudo_uid = 0;
	ORIGIN(0, 3, 5, 7);
	OPENS();
	assert_false(got.origin.actor.has_sudo_uid);
	set_origin(&r, HM_AUDIT_ROTATE);
	/* operations: none, another kind's, no operator's */
	for (unsigned op = 0; op < 256; op++) {
		r.origin.op = (enum hm_audit_op)op;
		ORIGIN(1, 3, 5, 7);
		if (op >= HM_AUDIT_CREATE && op <= HM_AUDIT_REVOKE)
			OPENS();
		else
			REFUSED();
	}
	set_origin(&r, HM_AUDIT_ROTATE);
	/* a time before 1970 */
	r.origin.time_ms = -1;
	ORIGIN(1, 3, 5, 7);
	REFUSED();
	set_origin(&r, HM_AUDIT_ROTATE);
	/* bytes no name holds: a control character, a NUL, a byte above 0x7e */
	snprintf(r.origin.actor.user, sizeof(r.origin.actor.user), "b\tb");
	ORIGIN(1, 3, 5, 7);
	REFUSED();
	snprintf(r.origin.actor.user, sizeof(r.origin.actor.user), "bob");
	ORIGIN(1, 3, 5, 7);
	p2[IDENT_LEN + on - 3] = '\0'; /* in the host, "admin-1" */
	REFUSED();
	ORIGIN(1, 3, 5, 7);
	p2[IDENT_LEN + on - 3] = 0x80;
	REFUSED();
	/* every cut and a byte more */
	ORIGIN(1, 3, 5, 7);
	for (size_t cut = 0; cut < n2; cut++)
		assert_int_equal(open_plain_as(&s, HM_FREC_FORMAT, p2, cut, &got), HM_EMALFORMED);
	p2[n2] = 0;
	assert_int_equal(open_plain_as(&s, HM_FREC_FORMAT, p2, n2 + 1, &got), HM_EMALFORMED);
	/* a policy's operation says set or unset as the record does */
	{
		uint8_t pol[HM_POLICY_ENC_MAX];
		size_t plen = 0;

		policy_rec(&r, "acme", "web", true);
		assert_int_equal(hm_policy_encode(&r.policy, pol, sizeof(pol), &plen), HM_OK);
		n = my_policy_plain("acme", "web", 1, pol, plen, plain);
		set_origin(&r, HM_AUDIT_POLICY_SET);
		ORIGIN(1, 3, 5, 7);
		OPENS();
		set_origin(&r, HM_AUDIT_POLICY_UNSET);
		ORIGIN(1, 3, 5, 7);
		REFUSED();
		n = my_policy_plain("acme", "web", 0, NULL, 0, plain);
		ORIGIN(1, 3, 5, 7);
		OPENS();
		set_origin(&r, HM_AUDIT_CREATE);
		ORIGIN(1, 3, 5, 7);
		REFUSED();
	}
	/* the longest plaintext there is opens, within HM_FREC_PLAIN_MAX */
	{
		char longest[HM_SCOPE_MAX + 1], longid[HM_KEYID_MAX + 1];
		struct hm_ks_actor *a = &r.origin.actor;

		repeat(longest, sizeof(longest), 'x', HM_SCOPE_MAX);
		repeat(longid, sizeof(longid), 'y', HM_KEYID_MAX);
		epoch_rec(&r, longest, longest, 9, HM_KEY_CURRENT, 0, longid, HM_KEY_MAX);
		n = my_epoch_plain(&r, plain);
		set_origin(&r, HM_AUDIT_IMPORT);
		repeat(a->user, sizeof(a->user), 'u', HM_AUDIT_NAME_MAX);
		repeat(a->sudo_user, sizeof(a->sudo_user), 's', HM_AUDIT_NAME_MAX);
		repeat(a->host, sizeof(a->host), 'h', HM_AUDIT_HOST_MAX);
		ORIGIN(1, HM_AUDIT_NAME_MAX, HM_AUDIT_NAME_MAX, HM_AUDIT_HOST_MAX);
		assert_int_equal(on, HM_FREC_ORIGIN_MAX);
		assert_true(n2 <= HM_FREC_PLAIN_MAX);
		OPENS();
		assert_true(origin_equal(&got.origin, &r.origin));
	}
#undef IDENT_LEN
#undef ORIGIN
#undef OPENS
#undef REFUSED
	OPENSSL_cleanse(&got, sizeof(got));
	OPENSSL_cleanse(plain, sizeof(plain));
	OPENSSL_cleanse(p2, sizeof(p2));
	hm_seal_wipe(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_epoch_round_trip),
		cmocka_unit_test(test_policy_round_trip),
		cmocka_unit_test(test_fresh_iv),
		cmocka_unit_test(test_seal_refuses),
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_flipped_bytes),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_format_and_version),
		cmocka_unit_test(test_moved),
		cmocka_unit_test(test_identity_not_the_name),
		cmocka_unit_test(test_plaintext_limits),
		cmocka_unit_test(test_plaintext_random),
		cmocka_unit_test(test_origin_round_trip),
		cmocka_unit_test(test_origin_format_byte),
		cmocka_unit_test(test_origin_seal_refuses),
		cmocka_unit_test(test_origin_plaintext),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
