/*
 * siginput.h - write the Signature-Input member that an RFC 9421 signer sends (section 4.1):
 *
 *   sig1=("@method" "@authority" "@path");created=1700000000;nonce="8f3a...";keyid="k1"
 *
 * The one writer of a Signature-Input to sign: libhmacd's hmacd_rfc9421_sign(), the benchmark
 * and the tests all use it, so none of them spells the field by hand. Pure: no I/O, no clock
 * (the caller gives `created`) and no random source of its own (a fresh nonce takes its bytes
 * from the caller's `random`). It only writes text: whether a component names something the
 * request has is decided by hm_sf_parse() and the signature base built from that parse
 * (hm_sign_rfc9421), so a signer signs exactly what the daemon's parse of the text gives.
 */
#ifndef HM_SIGINPUT_H
#define HM_SIGINPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/errors.h"
#include "proto/item.h"

#define HM_SI_NONCE_BYTES 16 /* a fresh nonce: this many random bytes, written in hex */

/*
 * What to write. Components are identifiers in the order they are covered, written as an
 * admin writes them in a policy ("@method", "content-digest;sf", "@query-param;name=id") or
 * already serialized as RFC 8941 strings with parameters ("\"@query-param\";name=\"id\"");
 * unquoted parameter values of the simple form are put in quotes (they must hold no quote,
 * backslash or ';'). With none given, the default set is @method @authority @path, then
 * @query when the item's path has a '?', then content-digest when the item has that header.
 * Parameters are written as created, expires, nonce, alg, keyid, tag: the order of RFC 9421's
 * examples. Strings (nonce, keyid, tag) are printable ASCII; '"' and '\' are escaped.
 */
struct hm_siginput {
	const char *label;             /* an RFC 8941 key of 1..HM_LABEL_MAX bytes */
	const char *const *components; /* NULL (ncomponents 0): the default set */
	size_t ncomponents;
	bool has_created;              /* false: no created parameter */
	int64_t created;               /* unix seconds, >= 0 */
	bool has_expires;              /* false: no expires parameter */
	int64_t expires;               /* unix seconds, >= 0 */
	const char *nonce;             /* "": none; NULL: a fresh one from `random` */
	/* fills buf[0..n) with random bytes: HM_OK, or the error hm_siginput_write returns */
	int (*random)(uint8_t *buf, size_t n);
	const char *keyid;             /* required, non-empty */
	const char *tag;               /* NULL: none */
	bool alg;                      /* true: also alg="hmac-sha256" */
};

/*
 * Writes the member for si into out[0..cap), NUL-terminated, its length in *len; `it` is the
 * request (its path and headers pick the default set; nothing else of it is read). On failure
 * out holds an empty string. HM_OK; HM_EINVAL (label not a key, no keyid, a NULL or empty
 * component, created or expires negative, a nonce, keyid or tag that RFC 8941 cannot carry,
 * nonce NULL without `random`); HM_ETOOBIG (cap is short); or what `random` returned.
 */
int hm_siginput_write(const struct hm_item *it, const struct hm_siginput *si, char *out,
		      size_t cap, size_t *len) HM_MUSTCHECK;

#endif
