/*
 * errors.h - the one return-code space of hmacd.
 *
 * Every function of proto/, daemon/ and the C client returns 0 (HM_OK) on success or one of the
 * negative codes below, as LMDB does. errno values never travel in these ints: where errno
 * matters, it is logged at the point of failure. Not-found is an outcome (HM_ENOTFOUND), not a
 * failure, so callers can tell "no such key" from "the store is broken".
 */
#ifndef HM_ERRORS_H
#define HM_ERRORS_H

#define HM_MUSTCHECK __attribute__((warn_unused_result))

/* X(name, value, text): the single table behind the enum and hm_strerror(). */
#define HM_ERRORS(X)                                                                     \
	X(HM_OK, 0, "success")                                                           \
	X(HM_ENOMEM, -1, "out of memory")                                                \
	X(HM_EINVAL, -2, "invalid argument")                                             \
	X(HM_ENOTFOUND, -3, "not found")                                                 \
	X(HM_EEXIST, -4, "already exists")                                               \
	X(HM_ESTORE, -5, "key store error")                                              \
	X(HM_EMALFORMED, -6, "malformed input")                                          \
	X(HM_ETOOBIG, -7, "over a size limit")                                           \
	X(HM_EAGAIN, -8, "incomplete input, need more bytes")                            \
	X(HM_EIO, -9, "input/output error")                                              \
	X(HM_ECRYPTO, -10, "cryptographic library error")                                \
	X(HM_ESCHEMA, -11, "key store schema version not supported")                     \
	X(HM_ECONN, -12, "not connected to the daemon")                                  \
	X(HM_ETIMEDOUT, -13, "timed out")                                                \
	X(HM_EPROTO, -14, "protocol error in the peer's answer")                         \
	X(HM_ESERVER, -15, "the daemon refused the request")                             \
	X(HM_ESTATE, -16, "operation not allowed in the key's current state")              \
	X(HM_EPEER, -17, "the daemon's socket is served by an unexpected user")

enum hm_err {
#define HM_ERR_ENUM(name, value, text) name = (value),
	HM_ERRORS(HM_ERR_ENUM)
#undef HM_ERR_ENUM
};

/* Text for a code of this space; "unknown error" for anything else. Never NULL. */
const char *hm_strerror(int code);

#endif
