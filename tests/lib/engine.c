/* engine.c - the engine fixture and item builders of the tests (see engine.h). */
#include "tests/lib/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

const uint8_t tl_body[] = "{\"cmd\":[\"ls\",\"-l\"]}";
const size_t tl_body_len = sizeof(tl_body) - 1;

int tl_engine_open(struct tl_engine *e, const char *name, const struct hm_verify_config *cfg,
		   size_t nonce_cache, char *err, size_t errlen)
{
	struct hm_verify_config def = {.skew = 300, .key_cache = 64, .max_canonical = 65536};
	int rc;

	memset(e, 0, sizeof(*e));
	snprintf(e->dir, sizeof(e->dir), "/tmp/hmacd-%s-XXXXXX", name);
	if (mkdtemp(e->dir) == NULL) {
		snprintf(err, errlen, "mkdtemp %s failed", e->dir);
		e->dir[0] = '\0';
		return HM_EIO;
	}
	rc = hm_ks_open(e->dir, HM_KS_CREATE, &e->ks, err, errlen);
	if (rc != HM_OK)
		return rc;
	rc = hm_ks_reader_new(e->ks, &e->rd);
	if (rc != HM_OK) {
		snprintf(err, errlen, "hm_ks_reader_new: %s", hm_ks_errmsg(e->ks));
		return rc;
	}
	rc = hm_replay_new(nonce_cache, &e->replay);
	if (rc != HM_OK) {
		snprintf(err, errlen, "hm_replay_new: %s", hm_strerror(rc));
		return rc;
	}
	rc = hm_verifier_new(cfg != NULL ? cfg : &def, e->rd, e->replay, &e->v);
	if (rc != HM_OK)
		snprintf(err, errlen, "hm_verifier_new: %s", hm_strerror(rc));
	return rc;
}

void tl_engine_close(struct tl_engine *e)
{
	char cmd[128];

	hm_verifier_free(e->v);
	hm_replay_free(e->replay);
	hm_ks_reader_free(e->rd);
	hm_ks_close(e->ks);
	if (e->dir[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", e->dir);
	}
	OPENSSL_cleanse(e, sizeof(*e));
}

void tl_str(struct hm_str *s, const char *v)
{
	s->ptr = (const uint8_t *)v;
	s->len = strlen(v);
}

void tl_v1_item(struct hm_item *it, uint8_t sig[static HM_MAC_LEN], const char *tenant,
		const char *container, uint64_t epoch, const char *path, int64_t ts,
		const char *nonce, const char *x_request_id)
{
	memset(it, 0, sizeof(*it));
	tl_str(&it->tenant, tenant);
	tl_str(&it->container, container);
	it->v1.epoch = epoch;
	tl_str(&it->method, "POST");
	tl_str(&it->path, path);
	it->v1.ts = (uint64_t)ts;
	tl_str(&it->v1.nonce, nonce);
	tl_str(&it->headers[0].name, "content-type");
	tl_str(&it->headers[0].value, "application/json");
	it->nheaders = 1;
	if (x_request_id != NULL) {
		tl_str(&it->headers[1].name, "x-request-id");
		tl_str(&it->headers[1].value, x_request_id);
		it->nheaders = 2;
	}
	it->has_body = true;
	it->body.ptr = tl_body;
	it->body.len = tl_body_len;
	it->v1.sig = sig;
}
