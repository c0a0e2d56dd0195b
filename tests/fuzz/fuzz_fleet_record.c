/*
 * fuzz_fleet_record.c - libFuzzer target: opening a fleet record (daemon/fleet/record.h), the
 * path every record read from Redis takes.
 *
 * The input is a record's plaintext. It is sealed properly, with a fixed seal key, under the
 * name its own identity bytes hash to (a random name would stop nearly every input at the
 * name check, before the decoder's rules), as format 1 and again as format 2 (with the change's
 * origin after the identity), then opened with hm_frec_open(): HM_OK or HM_EMALFORMED, nothing
 * else; a refused record leaves the output wiped; an opened one is a record a store can hold,
 * its origin known exactly in format 2, and seals again into a blob that opens as the same
 * record. The input is also opened as a blob as it is: it never authenticates.
 * Seeds (tests/fuzz/corpus/fleet_record) are plaintexts of each kind of record, in both
 * formats.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fleet/record.h"
#include "fleet/seal.h"
#include "fuzz_util.h"

#define PREFIX "hmacd:"
#define FLEET_ID "00112233445566778899aabbccddeeff"
#define AAD_LABEL "hmacd fleet record v1"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool wiped(const struct hm_ks_mirror_rec *r)
{
	const uint8_t *p = (const uint8_t *)r;
	uint8_t acc = 0;

	for (size_t i = 0; i < sizeof(*r); i++)
		acc |= p[i];
	return acc == 0;
}

static const struct hm_seal *seal(void)
{
	static struct hm_seal s;
	static bool ready;
	uint8_t key[HM_SEAL_KEY_LEN];

	if (!ready) {
		for (size_t i = 0; i < sizeof(key); i++)
			key[i] = (uint8_t)(0x40 + i);
		FUZZ_CHECK(hm_seal_init(&s, key) == HM_OK);
		ready = true;
	}
	return &s;
}

/* The length of the identity at the start of p, as a reader takes it; 0 if there is none. */
static size_t ident_len(const uint8_t *p, size_t n)
{
	size_t il;

	if (n < 3 || (size_t)p[1] + 3 > n)
		return 0;
	il = 2 + p[1];
	il += 1 + p[il];
	if (p[0] == HM_KS_MIRROR_EPOCH)
		il += 4;
	return il <= n ? il : 0;
}

static unsigned nibble(char c)
{
	return (unsigned)(c <= '9' ? c - '0' : c - 'a' + 10);
}

static void put_be(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

/* The blob of record.h for plain under the name hex: format, version, sealed with its AAD. */
static size_t seal_as(uint8_t format, const char *hex, const uint8_t *plain, size_t n,
		      uint8_t *blob)
{
	uint8_t aad[sizeof(AAD_LABEL) + 1 + sizeof(PREFIX) + 32 + 1 + 8];
	size_t a = sizeof(AAD_LABEL) - 1, sealed = 0;

	memcpy(aad, AAD_LABEL, a);
	aad[a++] = (uint8_t)(sizeof(PREFIX) - 1);
	memcpy(aad + a, PREFIX, sizeof(PREFIX) - 1);
	a += sizeof(PREFIX) - 1;
	for (size_t i = 0; i < 32; i++)
		aad[a++] = (uint8_t)(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
	aad[a++] = format;
	put_be(aad + a, 42, 8);
	a += 8;
	blob[0] = format;
	put_be(blob + 1, 42, 8);
	FUZZ_CHECK(hm_seal_record(seal(), aad, a, plain, n, blob + 9, HM_FREC_BLOB_MAX - 9,
				  &sealed) == HM_OK);
	return 9 + sealed;
}

static bool origin_same(const struct hm_ks_origin *a, const struct hm_ks_origin *b)
{
	return a->known == b->known && a->op == b->op && a->time_ms == b->time_ms &&
	       a->actor.uid == b->actor.uid && a->actor.has_sudo_uid == b->actor.has_sudo_uid &&
	       a->actor.sudo_uid == b->actor.sudo_uid &&
	       strcmp(a->actor.user, b->actor.user) == 0 &&
	       strcmp(a->actor.sudo_user, b->actor.sudo_user) == 0 &&
	       strcmp(a->actor.host, b->actor.host) == 0;
}

/* Whether a name of the origin is printable ASCII within max: what a writer makes. */
static bool printable(const char *s, size_t max)
{
	size_t n = strlen(s);

	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return n <= max;
}

static void one_format(uint8_t format, const char *hex, const uint8_t *data, size_t size)
{
	static uint8_t blob[HM_FREC_BLOB_MAX], again[HM_FREC_BLOB_MAX];
	struct hm_ks_mirror_rec r, back;
	char hex2[HM_SEAL_NAME_HEX];
	size_t len, len2 = 0;
	int rc;

	len = seal_as(format, hex, data, size, blob);
	memset(&r, 0x5a, sizeof(r));
	rc = hm_frec_open(seal(), PREFIX, FLEET_ID, hex, blob, len, &r);
	if (rc != HM_OK) {
		FUZZ_CHECK(rc == HM_EMALFORMED);
		FUZZ_CHECK(wiped(&r));
		return;
	}
	FUZZ_CHECK(r.version == 42);
	FUZZ_CHECK(r.origin.known == (format == HM_FREC_FORMAT));
	if (r.origin.known)
		FUZZ_CHECK(r.origin.op >= 1 && r.origin.op <= 6 && r.origin.time_ms >= 0 &&
			   printable(r.origin.actor.user, HM_AUDIT_NAME_MAX) &&
			   printable(r.origin.actor.sudo_user, HM_AUDIT_NAME_MAX) &&
			   printable(r.origin.actor.host, HM_AUDIT_HOST_MAX));
	FUZZ_CHECK(hm_frec_name(seal(), &r, hex2) == HM_OK);
	FUZZ_CHECK(strcmp(hex, hex2) == 0);
	FUZZ_CHECK(hm_frec_seal(seal(), PREFIX, FLEET_ID, &r, again, &len2) == HM_OK);
	FUZZ_CHECK(again[0] == format);
	FUZZ_CHECK(hm_frec_open(seal(), PREFIX, FLEET_ID, hex, again, len2, &back) == HM_OK);
	FUZZ_CHECK(back.kind == r.kind && back.version == r.version &&
		   strcmp(back.tenant, r.tenant) == 0 && strcmp(back.container, r.container) == 0 &&
		   origin_same(&back.origin, &r.origin));
	if (r.kind == HM_KS_MIRROR_EPOCH) {
		FUZZ_CHECK(back.epoch == r.epoch && back.state == r.state &&
			   back.created == r.created && back.deadline == r.deadline &&
			   strcmp(back.keyid, r.keyid) == 0 && back.secret_len == r.secret_len &&
			   memcmp(back.secret, r.secret, sizeof(r.secret)) == 0);
		FUZZ_CHECK(r.state == HM_KEY_REVOKED ? r.secret_len == 0
						     : r.secret_len >= HM_KEY_MIN);
	} else {
		FUZZ_CHECK(back.present == r.present);
		FUZZ_CHECK(!r.present || (r.policy.ncomponents >= 1 &&
					  back.policy.ncomponents == r.policy.ncomponents &&
					  back.policy.v1_nheaders == r.policy.v1_nheaders));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hm_ks_mirror_rec r;
	char hex[HM_SEAL_NAME_HEX];
	size_t il;

	/* as a blob, unsealed: it never opens */
	memset(&r, 0x5a, sizeof(r));
	memset(hex, 'a', 64);
	hex[64] = '\0';
	FUZZ_CHECK(hm_frec_open(seal(), PREFIX, FLEET_ID, hex, data, size, &r) == HM_EMALFORMED);
	FUZZ_CHECK(wiped(&r));

	/* as a plaintext, sealed under its identity's name, in either format */
	if (size > HM_FREC_PLAIN_MAX)
		return 0;
	il = ident_len(data, size);
	if (il > 0)
		FUZZ_CHECK(hm_seal_name(seal(), data, il, hex) == HM_OK);
	one_format(HM_FREC_FORMAT_V1, hex, data, size);
	one_format(HM_FREC_FORMAT, hex, data, size);
	return 0;
}
