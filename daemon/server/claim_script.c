/*
 * claim_script.c - a frame's nonce claims in one EVALSHA (claim_script.h).
 */
#include <config.h>

#include "server/claim_script.h"

#ifdef HM_WITH_FLEET
#include <string.h>

/*
 * SET answers OK (a table in Lua) when it made the key, nil (false) when the key was there.
 * Its SHA1 below: `printf '%s' "<the script>" | sha1sum` (test_claims checks it).
 */
const char hm_claim_script[] = "local r = {}\n"
			       "for i = 1, #KEYS do\n"
			       "\tr[i] = redis.call(\"SET\", KEYS[i], \"1\", \"NX\", \"PX\", ARGV[i]) "
			       "and 1 or 0\n"
			       "end\n"
			       "return r";
const char hm_claim_script_sha[] = "4e5a8f535d10b94f2047abf72048e8190855d837";

static const char hex[] = "0123456789abcdef";

/* v in decimal, then "\r\n". Returns the bytes (at most 22). */
static size_t put_dec_crlf(char *out, uint64_t v)
{
	char digits[20];
	size_t n = 0, at = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	while (n > 0)
		out[at++] = digits[--n];
	out[at++] = '\r';
	out[at++] = '\n';
	return at;
}

/* The decimal digits of v. */
static size_t dec_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

size_t hm_resp_put_u64(char *out, uint64_t v)
{
	size_t at = put_dec_crlf(out, dec_len(v));

	return at + put_dec_crlf(out + at, v);
}

size_t hm_claim_key_head(char *out, const char *prefix, size_t prefix_len)
{
	size_t at = 0;

	out[at++] = '$';
	at += put_dec_crlf(out + at, prefix_len + 2 + 64);
	memcpy(out + at, prefix, prefix_len);
	at += prefix_len;
	out[at++] = 'n';
	out[at++] = ':';
	return at;
}

size_t hm_claim_key_put(char *out, const char *head, size_t head_len, const uint8_t digest[32])
{
	size_t at = head_len;

	memcpy(out, head, head_len);
	for (size_t i = 0; i < 32; i++) {
		out[at++] = hex[digest[i] >> 4];
		out[at++] = hex[digest[i] & 15];
	}
	out[at++] = '\r';
	out[at++] = '\n';
	return at;
}

size_t hm_claim_script_head(char *out, size_t n)
{
	static const char cmd[] = "$7\r\nEVALSHA\r\n$40\r\n";
	size_t at = 0;

	out[at++] = '*';
	at += put_dec_crlf(out + at, 3 + 2 * (uint64_t)n); /* EVALSHA sha numkeys keys... ttls... */
	memcpy(out + at, cmd, sizeof(cmd) - 1);
	at += sizeof(cmd) - 1;
	memcpy(out + at, hm_claim_script_sha, 40);
	at += 40;
	out[at++] = '\r';
	out[at++] = '\n';
	out[at++] = '$';
	return at + hm_resp_put_u64(out + at, n);
}

/* Element i of r, an array of more than i elements, is the integer 0 or 1. */
static bool bit_at(const redisReply *r, size_t i)
{
	const redisReply *e = r->element[i];

	return e != NULL && e->type == REDIS_REPLY_INTEGER && (e->integer == 0 || e->integer == 1);
}

bool hm_claim_script_answered(const redisReply *r, size_t n)
{
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != n || n == 0 ||
	    r->element == NULL)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!bit_at(r, i))
			return false;
	return true;
}

enum hm_verdict hm_claim_script_verdict(const redisReply *r, size_t n, size_t i)
{
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != n || i >= n ||
	    r->element == NULL || !bit_at(r, i))
		return HM_V_UNAVAILABLE;
	return r->element[i]->integer == 1 ? HM_V_OK : HM_V_REPLAY;
}

bool hm_claim_script_missing(const redisReply *r)
{
	return r != NULL && r->type == REDIS_REPLY_ERROR && r->str != NULL &&
	       strncmp(r->str, "NOSCRIPT", 8) == 0;
}
#else
typedef int hm_claim_script_unused; /* built without fleet mode: nothing here */
#endif
