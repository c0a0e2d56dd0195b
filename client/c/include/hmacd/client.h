/*
 * hmacd/client.h - C client library for hmacd, the local HMAC request verifier.
 *
 * Link with `pkg-config --libs hmacd`. The protocol is specified in PROTOCOL.md.
 *
 * Two signature schemes can be verified, mixed freely in one batch: hmacd-v1 (struct
 * hmacd_item, hmacd_verify()) and RFC 9421 HTTP Message Signatures with hmac-sha256 (struct
 * hmacd_rfc9421_item; both kinds through struct hmacd_any_item and hmacd_verify_any()).
 *
 * A struct hmacd_client is one Unix-socket connection; it is not thread-safe (use one per thread,
 * or a pool). Every function returns 0 on success or a negative HMACD_E* code; hmacd_strerror()
 * describes a code. Verdicts (HMACD_V_*) are per item and are not errors: a request that was
 * answered returns 0 and fills the verdicts. Every verdict but HMACD_V_OK rejects the item; an
 * HTTP server answers 401 for them, except HMACD_V_UNAVAILABLE (fleet mode: the daemon could
 * not judge the item in time), which it answers 503 like an error.
 *
 * Reconnection: when the daemon restarts, the next call notices the dead connection, reconnects
 * once and, if no byte of the request had reached the daemon, sends it again. A request whose
 * answer was lost in flight is not resent (a resent nonce would be judged a replay): the call
 * returns HMACD_ECONN and the following call reconnects.
 *
 * After HMACD_ECONN, HMACD_ETIMEDOUT or HMACD_EPROTO (and HMACD_ENOMEM or HMACD_EIO while waiting
 * for an answer) the connection is closed and the requests in flight are forgotten: their answers
 * could no longer be matched. After HMACD_ESERVER it stays open. HMACD_EIO means a system call
 * failed that has nothing to do with the daemon (the clock, poll()).
 */
#ifndef HMACD_CLIENT_H
#define HMACD_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Results that decide whether a request passes must not be ignored. */
#if defined(__GNUC__) || defined(__clang__)
#define HMACD_MUSTCHECK __attribute__((warn_unused_result))
#else
#define HMACD_MUSTCHECK
#endif

/* Error codes: the same values as the daemon's internal code space. */
enum hmacd_err {
	HMACD_OK = 0,
	HMACD_ENOMEM = -1,
	HMACD_EINVAL = -2,
	HMACD_EMALFORMED = -6,   /* an item breaks the rules (signing) */
	HMACD_ETOOBIG = -7,      /* request larger than the client's frame limit */
	HMACD_EIO = -9,
	HMACD_ECRYPTO = -10,
	HMACD_ECONN = -12,       /* could not connect, or the connection broke */
	HMACD_ETIMEDOUT = -13,
	HMACD_EPROTO = -14,      /* the daemon's answer did not follow the protocol */
	HMACD_ESERVER = -15,     /* the daemon answered with an error response */
	HMACD_EPEER = -17,       /* the socket's server is not the expected user (see below) */
};

/* Verdict codes, one per verify item (PROTOCOL.md). */
enum hmacd_verdict {
	HMACD_V_OK = 0,
	HMACD_V_BAD_SIGNATURE = 1,
	HMACD_V_UNKNOWN_KEY = 2,
	HMACD_V_KEY_REVOKED = 3,
	HMACD_V_KEY_EXPIRED = 4,
	HMACD_V_STALE_TIMESTAMP = 5,
	HMACD_V_REPLAY = 6,
	HMACD_V_MALFORMED = 7,
	/* the signature does not cover what the scope's policy requires (either scheme) */
	HMACD_V_INSUFFICIENT_COVERAGE = 8,
	/*
	 * Fleet mode only: the item passed every other check, but the fleet-wide claim of its
	 * nonce could not be made in time (Redis unreachable or slow, or too few replicas
	 * acknowledged it). Fail closed as when the daemon does not answer (HTTP 503), never as a
	 * 401. The nonce may be claimed all the same: a retry must be signed again with a new
	 * nonce. Items without a nonce never get it.
	 */
	HMACD_V_UNAVAILABLE = 9,
};

#define HMACD_MAC_LEN 32
#define HMACD_SHA256_LEN 32
#define HMACD_MAX_HEADERS 64

struct hmacd_header {
	const char *name; /* lower-case token */
	size_t name_len;
	const char *value;
	size_t value_len;
};

/*
 * One request to verify (or to sign). Strings are byte ranges, not NUL-terminated (a pointer may
 * be NULL when its length is 0). Set exactly one of `body` (body_len bytes, may be 0) or
 * `body_sha256`; with both NULL the body is the empty one.
 */
struct hmacd_item {
	const char *tenant;
	size_t tenant_len;
	const char *container; /* from the route, never from the signer's word */
	size_t container_len;
	uint64_t epoch;
	const char *method;
	size_t method_len;
	const char *path; /* path plus ?query, as sent */
	size_t path_len;
	uint64_t ts;
	const char *nonce; /* NULL or 0..64 bytes; non-empty means replay-protected */
	size_t nonce_len;
	const struct hmacd_header *headers; /* the signed headers, in signed order */
	size_t nheaders;
	const uint8_t *body;
	size_t body_len;
	const uint8_t *body_sha256; /* HMACD_SHA256_LEN bytes, or NULL */
	uint8_t sig[HMACD_MAC_LEN];
};

/* ---- RFC 9421 items (PROTOCOL.md section 7.2) ---- */

#define HMACD_RFC9421_MAX_HEADERS 128 /* request headers per rfc9421 item */
#define HMACD_RFC9421_FIELD_MAX 8192  /* signature_input and signature: bytes */

/*
 * One request signed with RFC 9421 HTTP Message Signatures (alg hmac-sha256), to verify.
 * The key is found by the signature's `keyid` parameter; the daemon refuses a key id that
 * belongs to another (tenant, container) than the item's. Strings are byte ranges as in
 * struct hmacd_item; an optional field is not sent when its length is 0 (the body is always
 * sent).
 */
struct hmacd_rfc9421_item {
	const char *tenant;
	size_t tenant_len;
	const char *container; /* from the route, never from the signer's word */
	size_t container_len;
	const char *method; /* as sent */
	size_t method_len;
	const char *authority; /* host[:port]: the Host header (or the URL's authority) */
	size_t authority_len;
	const char *path; /* path plus ?query, as sent */
	size_t path_len;
	const char *uri_scheme; /* "http" or "https"; length 0: not sent ("https") */
	size_t uri_scheme_len;
	/* every request header, names lower-case, in arrival order, repeats allowed */
	const struct hmacd_header *headers;
	size_t nheaders; /* 0..HMACD_RFC9421_MAX_HEADERS */
	const char *signature_input; /* the raw Signature-Input value (lines joined by ", ") */
	size_t signature_input_len;
	const char *signature; /* the raw Signature value (lines joined by ", ") */
	size_t signature_len;
	const char *label; /* which signature to verify; length 0: the only one */
	size_t label_len;
	/*
	 * The body as received, the one the app hands on (for Content-Digest). Always sent:
	 * NULL (with body_len 0) is the empty body, never "no body to check".
	 */
	const uint8_t *body;
	size_t body_len;
};

enum hmacd_scheme {
	HMACD_SCHEME_HMACD_V1 = 0,
	HMACD_SCHEME_RFC9421 = 1,
};

/* One item of a mixed batch: `scheme` says which member of u points to the item. */
struct hmacd_any_item {
	enum hmacd_scheme scheme;
	union {
		const struct hmacd_item *v1;
		const struct hmacd_rfc9421_item *rfc9421;
	} u;
};

struct hmacd_client;

/*
 * Who may answer on the socket. Anyone who can write the socket's directory could put a socket
 * of their own at the path and answer OK to everything, so before the first byte of a
 * connection is written the client asks the kernel who listens (SO_PEERCRED): by default the
 * owner of the socket path's directory or root (a daemon in its own /run/hmacd, or a socket
 * that systemd holds); with server_user set, exactly that user. A mismatch is HMACD_EPEER,
 * never a verdict.
 */
struct hmacd_options {
	uint32_t max_frame;  /* largest request frame this client sends: 1 KiB..64 MiB; 0: 1 MiB */
	int timeout_ms;      /* per call; 0: 5000; -1: wait forever */
	/* the daemon's user: a name or a numeric uid; NULL: the directory's owner, or root */
	const char *server_user;
};

/* Text of an error code. Never NULL. */
const char *hmacd_strerror(int code);
/* "OK", "BAD_SIGNATURE", ..., "UNAVAILABLE"; "UNKNOWN" for a code this version does not know
 * (which, like every code but HMACD_V_OK, means reject). Never NULL. */
const char *hmacd_verdict_name(unsigned verdict);

/*
 * Connects to the daemon's socket and checks who serves it (struct hmacd_options). opts may be
 * NULL. On success *out is set. Returns HMACD_OK, HMACD_EINVAL (path empty or too long, options
 * out of range, server_user not a known user or uid), HMACD_ENOMEM, HMACD_ECONN, HMACD_EPEER
 * (the server is not the expected user; nothing was written). A reconnect later checks again:
 * any call that reconnects may return HMACD_EPEER.
 */
int hmacd_connect(const char *socket_path, const struct hmacd_options *opts,
		  struct hmacd_client **out) HMACD_MUSTCHECK;
/* Closes the connection and frees the client (NULL is fine). */
void hmacd_close(struct hmacd_client *c);

/*
 * The calls below (ping, verify, stats) are synchronous: HMACD_EINVAL while pipelined requests are
 * in flight. Each may also return HMACD_ENOMEM.
 */

/* Round trip: HMACD_OK, HMACD_ECONN, HMACD_ETIMEDOUT, HMACD_EPROTO, HMACD_ESERVER. */
int hmacd_ping(struct hmacd_client *c) HMACD_MUSTCHECK;

/*
 * Verifies n items in one frame and waits for the answer: verdicts[i] is the verdict of items[i].
 * Returns HMACD_OK, HMACD_EINVAL, HMACD_ETOOBIG, HMACD_ENOMEM, HMACD_ECONN, HMACD_ETIMEDOUT,
 * HMACD_EPROTO, HMACD_ESERVER (the daemon refused the whole batch, e.g. too many items).
 * Items are not checked before sending (the daemon answers HMACD_V_MALFORMED), but one the wire
 * cannot carry (both body forms, over HMACD_MAX_HEADERS headers, NULL with a length) is
 * HMACD_EINVAL. On any error every verdict is left at HMACD_V_MALFORMED, never at HMACD_V_OK,
 * so a caller that forgets to check the return value still fails closed.
 */
int hmacd_verify(struct hmacd_client *c, const struct hmacd_item *items, size_t n,
		 uint8_t *verdicts) HMACD_MUSTCHECK;

/*
 * Daemon counters: calls fn(name, value, arg) once per counter (fn must not call into c).
 * HMACD_OK, HMACD_ECONN, HMACD_ETIMEDOUT, HMACD_EPROTO, HMACD_ESERVER.
 */
int hmacd_stats(struct hmacd_client *c, void (*fn)(const char *name, uint64_t value, void *arg),
		void *arg) HMACD_MUSTCHECK;

/* ---- pipelined use, for high-throughput callers ----
 * hmacd_send_verify() encodes a batch into the client's output buffer and returns its request id
 * at once; hmacd_flush() writes what is buffered; hmacd_recv_verify() reads the next answer, in
 * the order the requests were sent. Any number of batches may be in flight.
 * hmacd_send_verify: HMACD_OK, HMACD_EINVAL, HMACD_ETOOBIG (also when the unflushed batches would
 * pass 64 MiB: flush first), HMACD_ENOMEM; it does no I/O.
 * hmacd_flush: HMACD_OK, HMACD_EINVAL, HMACD_ECONN, HMACD_ETIMEDOUT, HMACD_EPROTO, HMACD_ENOMEM.
 */
int hmacd_send_verify(struct hmacd_client *c, const struct hmacd_item *items, size_t n,
		      uint64_t *id) HMACD_MUSTCHECK;
int hmacd_flush(struct hmacd_client *c) HMACD_MUSTCHECK;
/*
 * Waits for the next answer (flushing first). *id is the request it answers, *n its item count;
 * verdicts must have room for `cap` entries (HMACD_EPROTO if the answer holds more).
 * HMACD_ESERVER if the daemon refused that batch (*n is then 0).
 * Also HMACD_EINVAL (nothing in flight), HMACD_ECONN, HMACD_ETIMEDOUT, HMACD_ENOMEM.
 */
int hmacd_recv_verify(struct hmacd_client *c, uint64_t *id, uint8_t *verdicts, size_t cap,
		      size_t *n) HMACD_MUSTCHECK;
/*
 * The same for a batch that mixes schemes (or holds rfc9421 items only): items[i].scheme says
 * which pointer is set. Returns what hmacd_verify() / hmacd_send_verify() return; also
 * HMACD_EINVAL for an unknown scheme, a NULL item pointer, or an rfc9421 item the wire cannot
 * carry (over HMACD_RFC9421_MAX_HEADERS headers, NULL with a length). Answers are read with
 * hmacd_recv_verify(). Verdicts on error: as hmacd_verify() (never HMACD_V_OK).
 */
int hmacd_verify_any(struct hmacd_client *c, const struct hmacd_any_item *items, size_t n,
		     uint8_t *verdicts) HMACD_MUSTCHECK;
int hmacd_send_verify_any(struct hmacd_client *c, const struct hmacd_any_item *items, size_t n,
			  uint64_t *id) HMACD_MUSTCHECK;
/* Requests sent whose answers have not been read yet. */
size_t hmacd_in_flight(const struct hmacd_client *c);
/*
 * The socket, for callers that poll it themselves (readable: hmacd_recv_verify won't block long).
 * -1 while disconnected; a reconnect changes it.
 */
int hmacd_fd(const struct hmacd_client *c);

/* ---- signing ---- */

/*
 * Computes item->sig = HMAC-SHA256(secret, canonical string of item) (PROTOCOL.md).
 * secret_len: 16..64 bytes. HMACD_OK, HMACD_EINVAL, HMACD_EMALFORMED, HMACD_ENOMEM, HMACD_ECRYPTO.
 */
int hmacd_sign(const uint8_t *secret, size_t secret_len, struct hmacd_item *item) HMACD_MUSTCHECK;

/*
 * The canonical string of item, in a fresh NUL-terminated buffer (free() it). For debugging a
 * signer: never log it in production, it names the request. HMACD_OK, HMACD_EINVAL,
 * HMACD_EMALFORMED, HMACD_ENOMEM.
 */
int hmacd_canonical(const struct hmacd_item *item, char **out, size_t *len) HMACD_MUSTCHECK;

/* ---- RFC 9421 signing (hmac-sha256) ---- */

#define HMACD_RFC9421_MAX_COMPONENTS 32
#define HMACD_RFC9421_CREATED_NOW 0    /* params.created: the current time */
#define HMACD_RFC9421_OMIT (-1)        /* params.created / expires: no such parameter */
/* Room for a Signature value: label (64) "=:" base64 of 32 bytes ":" and the NUL. */
#define HMACD_RFC9421_SIGNATURE_CAP 128
/* Room for a Content-Digest value with sha-512, NUL included. */
#define HMACD_CONTENT_DIGEST_CAP 100

/*
 * What to sign. Zero-initialised, it signs @method @authority @path (plus @query when the path
 * has a query, and content-digest when the request has a content-digest header) as "sig1",
 * created now, with a fresh nonce (16 random bytes in hex), no alg, no tag. keyid is required.
 *
 * components: identifiers in the order they are covered, written as an admin writes them in a
 * policy ("@method", "content-digest;sf", "@query-param;name=id", "example-dict;key=a") or
 * already serialized as RFC 8941 strings with parameters ("\"@query-param\";name=\"id\"");
 * unquoted parameter values of the simple form are quoted (they must hold no quote, backslash
 * or ';').
 * Parameters are written as created, expires, nonce, alg, keyid, tag: the order of RFC 9421's
 * examples. Strings (nonce, keyid, tag) are printable ASCII.
 */
struct hmacd_rfc9421_params {
	const char *label;             /* NUL-terminated RFC 8941 key; NULL: "sig1" */
	const char *const *components; /* NULL (ncomponents 0): the default set */
	size_t ncomponents;            /* 0..HMACD_RFC9421_MAX_COMPONENTS */
	int64_t created;               /* unix seconds; HMACD_RFC9421_CREATED_NOW, or _OMIT */
	int64_t expires;               /* unix seconds; 0 or HMACD_RFC9421_OMIT: none */
	const char *nonce;             /* NULL: a fresh random one; "": none */
	const char *keyid;             /* required: the key id of the secret */
	const char *tag;               /* NULL: none */
	bool alg;                      /* true: also sign alg="hmac-sha256" */
};

/*
 * Signs `req` (its method, authority, path, uri_scheme and headers are read; the other fields
 * are ignored) with RFC 9421 hmac-sha256 under `secret` (16..64 bytes). Writes the
 * Signature-Input value into input[0..input_cap) and the Signature value into
 * signature[0..signature_cap), both NUL-terminated, ready to send as those headers or to put
 * into a struct hmacd_rfc9421_item (with label = params->label, or no label). The signature
 * base is the one proto/sigbase.c builds, so the daemon sees exactly what was signed.
 * HMACD_RFC9421_FIELD_MAX + 1 and HMACD_RFC9421_SIGNATURE_CAP bytes always suffice.
 * Returns HMACD_OK; HMACD_EINVAL (NULL argument, secret length, no keyid, an empty component,
 * a parameter string or label that RFC 8941 cannot carry, created or expires negative);
 * HMACD_EMALFORMED (a component is not a valid RFC 8941 string item, or cannot be built from
 * the request: unknown derived component, covered field missing, bad request field, ...;
 * also a request with more than HMACD_RFC9421_MAX_HEADERS headers, or one the daemon refuses
 * as an rfc9421 item: a method that is not a token of 1..32 bytes, an authority with userinfo
 * or over 255 bytes, a uri_scheme other than "http" or "https", ...);
 * HMACD_ETOOBIG (a buffer is short, or over the protocol's limits); HMACD_ECRYPTO; HMACD_EIO
 * (clock or random source); HMACD_ENOMEM. On failure both outputs are empty strings.
 */
int hmacd_rfc9421_sign(const uint8_t *secret, size_t secret_len,
		       const struct hmacd_rfc9421_item *req,
		       const struct hmacd_rfc9421_params *params, char *input, size_t input_cap,
		       char *signature, size_t signature_cap) HMACD_MUSTCHECK;

/*
 * The signature base the daemon computes for `item` (its signature_input and label pick the
 * signature), in a fresh NUL-terminated buffer (free() it). For debugging a signer that does
 * not interoperate: never log it in production. HMACD_OK, HMACD_EINVAL, HMACD_EMALFORMED
 * (Signature-Input does not parse, label missing or ambiguous, a component cannot be built,
 * a field the daemon refuses in an item; the tenant, container and signature are not looked
 * at), HMACD_ENOMEM.
 */
int hmacd_rfc9421_base(const struct hmacd_rfc9421_item *item, char **out,
		       size_t *len) HMACD_MUSTCHECK;

/*
 * The Content-Digest value (RFC 9530) of body[0..len): "sha-256=:<base64>:" (sha_bits 256) or
 * "sha-512=:<base64>:" (512), NUL-terminated into out[0..cap) (HMACD_CONTENT_DIGEST_CAP always
 * suffices). A body with a Content-Digest header covered by the signature is checked by the
 * daemon. HMACD_OK, HMACD_EINVAL, HMACD_ETOOBIG, HMACD_ECRYPTO.
 */
int hmacd_content_digest(const uint8_t *body, size_t len, unsigned sha_bits, char *out,
			 size_t cap) HMACD_MUSTCHECK;

#ifdef __cplusplus
}
#endif

#endif
