/*
 * capture.h - a capture file (PROTOCOL.md section 17): a request the middleware refused, as
 * JSON, and the verify item hmacd would have been sent for it (section 13.3 for hmacd-v1,
 * 13.5 for rfc9421). Read by `hmacctl explain` (explain.c).
 *
 * The file is read whole (at most CAP_FILE_MAX bytes) and checked strictly: an unknown key, a
 * value of the wrong type or outside its rules is an error naming the key. The item built from
 * it points into the capture, which must outlive it.
 */
#ifndef HM_CTL_CAPTURE_H
#define HM_CTL_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/authz.h"
#include "proto/digest.h"
#include "proto/item.h"
#include "proto/json.h"

#define CAP_FILE_MAX (1u << 20) /* bytes of a capture file */
#define CAP_FORMAT 1            /* "hmacd_capture" */
/* body_length: what a middleware could have accepted (their limits are far below) */
#define CAP_BODY_MAX ((uint64_t)1 << 32)

struct capture {
	struct jm_value *root; /* the parsed file: every string below points into it */
	int64_t captured_at;
	enum hm_scheme scheme;
	const char *tenant; /* NULL: absent (hmacd-v1: the Authorization header says) */
	const char *container;
	const char *label; /* NULL: absent */
	const char *method;
	const char *uri_scheme; /* NULL: absent */
	const char *authority;  /* NULL: absent (hmacd-v1 only) */
	const char *path;
	size_t nheaders;
	struct hm_header headers[HM_RFC_MAX_HEADERS];
	uint64_t body_length;
	uint8_t body_sha256[HM_SHA256_LEN];
	bool has_sha512;
	uint8_t body_sha512[HM_SHA512_LEN];
	uint8_t *body; /* NULL: absent; else body_length bytes (malloc'ed) */
	const char *verdict; /* NULL: absent; else a verdict name */
	char content_length[24]; /* a redacted content-length, restored from body_length */
};

/*
 * Reads and checks the capture file at path ("-": stdin). CTL_OK, or CTL_USAGE with one line
 * on stderr ("hmacctl: explain: <path>: <what>"). capture_free() in both cases.
 */
int capture_read(const char *path, struct capture *cap);
void capture_free(struct capture *cap);

/* The item of an hmacd-v1 capture, and what it was built from. */
struct capture_v1 {
	char *authz_value; /* the Authorization value, which authz points into */
	struct hm_authz authz;
	/* the signed headers' values as the middleware builds them: trimmed, joined by ", " */
	char *values[HM_MAX_HEADERS];
};

/*
 * Builds the verify item the middleware would send (PROTOCOL.md 13.3 / 13.5). HM_OK;
 * HM_EMALFORMED when the middleware itself refuses the request with 401 before asking hmacd
 * (no or an invalid Authorization header, a signed header absent, both schemes' headers), with
 * *why a static sentence; HM_ENOMEM. v1 holds what an hmacd-v1 item points into;
 * capture_item_free() releases it.
 */
int capture_item(struct capture *cap, struct hm_item *it, struct capture_v1 *v1,
		 char **joined, const char **why);
void capture_item_free(struct capture_v1 *v1, char **joined);

#endif
