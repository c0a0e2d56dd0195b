/*
 * fuzz_json.c - libFuzzer target: the strict JSON reader (proto/json.h), which hmacctl explain
 * runs on capture files a user hands it.
 *
 * Any input either parses to a whole tree or is refused with a message; a tree is walked whole
 * (every string's NUL after its last byte is where it should be) and freed; ASan sees any
 * overread of the input (libFuzzer's exact-size copy) and LeakSanitizer any partial tree left.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "proto/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t walk(const struct jm_value *v, int depth)
{
	size_t n = 1;

	FUZZ_CHECK(depth <= 65);
	switch (v->type) {
	case JM_STR:
		FUZZ_CHECK(v->s != NULL && v->s[v->len] == '\0');
		break;
	case JM_ARR:
		for (size_t i = 0; i < v->len; i++)
			n += walk(jm_at(v, i), depth + 1);
		FUZZ_CHECK(jm_at(v, v->len) == NULL);
		break;
	case JM_OBJ:
		for (size_t i = 0; i < v->len; i++) {
			FUZZ_CHECK(jm_get(v, v->members[i].key) != NULL ||
				   strlen(v->members[i].key) != v->members[i].key_len);
			n += walk(v->members[i].value, depth + 1);
		}
		break;
	default:
		break;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jm_value *v = NULL;
	char err[128] = "";
	int rc = jm_parse((const char *)data, size, &v, err, sizeof(err));

	if (rc == HM_OK) {
		FUZZ_CHECK(v != NULL);
		(void)walk(v, 0);
		jm_free(v);
	} else {
		FUZZ_CHECK(v == NULL && (rc == HM_EMALFORMED || rc == HM_ENOMEM));
		FUZZ_CHECK(err[0] != '\0');
	}
	return 0;
}
