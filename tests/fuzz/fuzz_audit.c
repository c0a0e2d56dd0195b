/*
 * fuzz_audit.c - libFuzzer target: the audit record decoder (daemon/store/audit.h).
 *
 * Whatever the bytes, hm_audit_decode() reads only inside them (the input is libFuzzer's
 * exact-size copy, so ASan sees an overread), and what it accepts is exactly what
 * hm_audit_encode() writes for the decoded record: no two byte strings decode to the same record,
 * and a refused input leaves the record zeroed.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "store/audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct hm_audit_rec zero;
	struct hm_audit_rec r;
	uint8_t again[HM_AUDIT_MAX];
	size_t n;

	memset(&r, 0xa5, sizeof(r));
	r.seq = 0;
	if (hm_audit_decode(data, size, &r) != HM_OK) {
		FUZZ_CHECK(memcmp(&r, &zero, sizeof(r)) == 0);
		return 0;
	}
	n = hm_audit_encode(&r, again);
	FUZZ_CHECK(n == size && memcmp(again, data, size) == 0);
	return 0;
}
