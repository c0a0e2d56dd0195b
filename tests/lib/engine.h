/*
 * engine.h - what the tests of the verify engine share: a temporary key store with an engine
 * on it (store reader, nonce cache, verifier), and builders of verify items. Used by the unit
 * tests (test_verify, test_handler) and the constant-time evidence (ct_memcheck, dudect), which
 * do not link cmocka: functions return codes and say why in err.
 */
#ifndef HM_TESTLIB_ENGINE_H
#define HM_TESTLIB_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/replay.h"
#include "engine/verify.h"
#include "proto/item.h"
#include "store/keystore.h"

struct tl_engine {
	char dir[64]; /* "" when none was made */
	struct hm_keystore *ks;
	struct hm_ks_reader *rd;
	struct hm_replay *replay;
	struct hm_verifier *v;
};

/*
 * A new store in a temporary directory /tmp/hmacd-<name>-XXXXXX, and an engine with cfg (NULL:
 * skew 300, a key cache of 64, canonical strings up to 64 KiB, an empty default policy) and a
 * memory-only nonce cache of nonce_cache entries. HM_OK, or the failing call's code (err says
 * which); *e is then safe to tl_engine_close().
 */
int tl_engine_open(struct tl_engine *e, const char *name, const struct hm_verify_config *cfg,
		   size_t nonce_cache, char *err, size_t errlen);

/* Frees the engine, closes the store and removes its directory. */
void tl_engine_close(struct tl_engine *e);

/* s = the NUL-terminated v, in place. */
void tl_str(struct hm_str *s, const char *v);

/* The body every built item carries. */
extern const uint8_t tl_body[];
extern const size_t tl_body_len;

/*
 * A well-formed hmacd-v1 item: POST `path` of tenant/container at epoch, time ts, nonce (""
 * for none), the signed headers content-type: application/json and, if x_request_id is not
 * NULL, x-request-id; tl_body as body; it->sig points at sig (sign it with hm_sign_item()).
 */
void tl_v1_item(struct hm_item *it, uint8_t sig[static HM_MAC_LEN], const char *tenant,
		const char *container, uint64_t epoch, const char *path, int64_t ts,
		const char *nonce, const char *x_request_id);

#endif
