/*
 * claim_script.h - a frame's nonce claims in one command (claims.h): the Lua script that makes
 * them, the EVALSHA that runs it written in the protocol's own form (RESP), and its reply read.
 *
 * The script makes exactly the claims a pipeline of SETs would, one per key, in order:
 *     SET <prefix>n:<digest> 1 NX PX <ttl>      KEYS[i], ARGV[i] (each claim's own ttl)
 * and answers an array of integers, 1 where the SET was made (OK), 0 where the key was
 * there (REPLAY). Same keys, values and TTLs as the SETs: hosts that claim with SETs, and older
 * hosts, share the claims. Redis runs a script atomically and replicates its effects (the
 * SETs), so WAIT after it counts the replicas that hold them.
 *
 * Redis parses and answers one command instead of N: what it costs per claim (BENCHMARKS.md,
 * "Fleet mode: nonce claims in Redis").
 *
 * No I/O and no allocation: the caller owns the buffer and the connection. Fleet mode only
 * (hiredis): include it under HM_WITH_FLEET.
 */
#ifndef HM_CLAIM_SCRIPT_H
#define HM_CLAIM_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "proto/verdict.h"

/* The script, and its SHA1 in hex (what SCRIPT LOAD answers and EVALSHA names). */
extern const char hm_claim_script[];
extern const char hm_claim_script_sha[];

/* Claims in one EVALSHA at most; a frame with more sends several. */
#define HM_CLAIM_SCRIPT_KEYS 64

/* The bytes of "$<len>\r\n<prefix>n:<hex digest>\r\n" for a prefix of prefix_len bytes. */
#define HM_CLAIM_KEY_MAX(prefix_len) (8 + (prefix_len) + 2 + 64 + 2)
/* "$<len>\r\n<ttl>\r\n": a 64-bit ttl in decimal. */
#define HM_CLAIM_TTL_MAX 28
/* "*<argc>\r\n$7\r\nEVALSHA\r\n$40\r\n<sha>\r\n$<len>\r\n<n>\r\n" */
#define HM_CLAIM_SCRIPT_HEAD_MAX 96
/* An EVALSHA of n keys (n <= HM_CLAIM_SCRIPT_KEYS) at most. */
#define HM_CLAIM_SCRIPT_CMD_MAX(prefix_len, n)                                                   \
	(HM_CLAIM_SCRIPT_HEAD_MAX + (n) * (HM_CLAIM_KEY_MAX(prefix_len) + HM_CLAIM_TTL_MAX))

/* "<len>\r\n<v>\r\n": a bulk string's length and body, v in decimal (no '$'). Returns the bytes. */
size_t hm_resp_put_u64(char *out, uint64_t v);

/*
 * The key's head, fixed per prefix: "$<len>\r\n<prefix>n:" (prefix_len <= 64). Returns its
 * bytes (at most HM_CLAIM_KEY_MAX(prefix_len) - 66).
 */
size_t hm_claim_key_head(char *out, const char *prefix, size_t prefix_len);
/* A claim's key, as a bulk string: head, the digest in hex, "\r\n". Returns the bytes. */
size_t hm_claim_key_put(char *out, const char *head, size_t head_len, const uint8_t digest[32]);

/*
 * The head of an EVALSHA of the script with n keys (1 <= n <= HM_CLAIM_SCRIPT_KEYS): the
 * command, the script's SHA1 and numkeys. The n keys (hm_claim_key_put) follow, then the n
 * ttls ('$' and hm_resp_put_u64), in the same order. Returns the bytes.
 */
size_t hm_claim_script_head(char *out, size_t n);

/*
 * true when r is the script's answer to an EVALSHA of n claims: an array of exactly n
 * integers, each 0 or 1. Anything else (no reply, an error, not an array, an array too short
 * or too long, an element of another type or value) is not, and none of it is trusted: every
 * claim of the command is UNAVAILABLE.
 */
bool hm_claim_script_answered(const redisReply *r, size_t n);
/*
 * The verdict of claim i (0-based) of an EVALSHA of n claims: OK for the integer 1, REPLAY for
 * 0, UNAVAILABLE for anything else. Only once hm_claim_script_answered(r, n): an odd element
 * anywhere makes every claim of the command UNAVAILABLE.
 */
enum hm_verdict hm_claim_script_verdict(const redisReply *r, size_t n, size_t i);
/* true when the reply is the error NOSCRIPT: the server does not have the script (now). */
bool hm_claim_script_missing(const redisReply *r);

#endif
