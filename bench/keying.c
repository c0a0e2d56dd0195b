/*
 * keying.c - what keying and using an HMAC-SHA256 key costs with OpenSSL 3's EVP interfaces, in
 * a tight loop (hot caches: a lower bound of what the daemon pays with cold ones). Not built by
 * make; BENCHMARKS.md ("Scale of scopes") quotes it:
 *
 *   cc -O2 -o /tmp/keying bench/keying.c -lcrypto && /tmp/keying
 *
 * Each figure is the minimum over 15 rounds of 200,000 iterations, in ns per iteration:
 *   mac_init_key   EVP_MAC_init(ctx, key, 32, NULL): re-keying an HMAC context (the old cache's
 *                  miss)
 *   mac_210        EVP_MAC_init(ctx, NULL, 0, NULL) + update(210 bytes) + final (its hit)
 *   mac_dup        EVP_MAC_CTX_dup + free (what sharing pre-keyed EVP_MAC contexts would cost)
 *   pads_key       two EVP_DigestInit_ex2 + one 64-byte update each (K ^ ipad, K ^ opad)
 *   pads_210       two EVP_MD_CTX_copy_ex from the pad states + the HMAC of 210 bytes
 *   copy           one EVP_MD_CTX_copy_ex of a SHA-256 state
 *   block_210      the HMAC of 210 bytes keyed from a 64-byte key block: two EVP_DigestInit_ex2
 *                  + one 64-byte update each into the same two contexts (what the key cache's
 *                  hit costs since it keeps the key, not the pad states)
 *   floor          mac_210 plus EVP_Digest SHA-256 of a 256-byte body: the crypto one item of
 *                  hmacd-bench's default shape needs at least (BENCHMARKS.md, issue 16 item 4)
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#define N 200000
#define ROUNDS 15

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void pads(EVP_MD_CTX *in, EVP_MD_CTX *out, const EVP_MD *md, const unsigned char *key)
{
	unsigned char pad[64];

	memset(pad, 0x36, sizeof(pad));
	for (int j = 0; j < 32; j++)
		pad[j] ^= key[j];
	EVP_DigestInit_ex2(in, md, NULL);
	EVP_DigestUpdate(in, pad, sizeof(pad));
	for (int j = 0; j < 64; j++)
		pad[j] ^= 0x36 ^ 0x5c;
	EVP_DigestInit_ex2(out, md, NULL);
	EVP_DigestUpdate(out, pad, sizeof(pad));
}

int main(void)
{
	static const char *const names[] = {"mac_init_key", "mac_210", "mac_dup",
					    "pads_key",     "pads_210", "copy",    "floor",
					    "block_210"};
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
	EVP_MAC_CTX *c = EVP_MAC_CTX_new(mac);
	EVP_MD_CTX *ip = EVP_MD_CTX_new(), *op = EVP_MD_CTX_new(), *w = EVP_MD_CTX_new();
	unsigned char key[32] = {1}, msg[210], body[256], out[32], inner[32];
	OSSL_PARAM p[2] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
			   OSSL_PARAM_construct_end()};
	double best[8], t;
	unsigned int l;
	size_t ol;

	memset(msg, 'a', sizeof(msg));
	memset(body, 'b', sizeof(body));
	EVP_MAC_init(c, key, sizeof(key), p);
	pads(ip, op, md, key);
	for (int i = 0; i < 8; i++)
		best[i] = 1e18;
	for (int r = 0; r < ROUNDS; r++) {
		double d[8];

		t = now_ns();
		for (int i = 0; i < N; i++) {
			key[0] = (unsigned char)i;
			EVP_MAC_init(c, key, sizeof(key), NULL);
		}
		d[0] = now_ns() - t;
		t = now_ns();
		for (int i = 0; i < N; i++) {
			EVP_MAC_init(c, NULL, 0, NULL);
			EVP_MAC_update(c, msg, sizeof(msg));
			EVP_MAC_final(c, out, &ol, sizeof(out));
		}
		d[1] = now_ns() - t;
		t = now_ns();
		for (int i = 0; i < N; i++)
			EVP_MAC_CTX_free(EVP_MAC_CTX_dup(c));
		d[2] = now_ns() - t;
		t = now_ns();
		for (int i = 0; i < N; i++) {
			key[0] = (unsigned char)i;
			pads(ip, op, md, key);
		}
		d[3] = now_ns() - t;
		t = now_ns();
		for (int i = 0; i < N; i++) {
			EVP_MD_CTX_copy_ex(w, ip);
			EVP_DigestUpdate(w, msg, sizeof(msg));
			EVP_DigestFinal_ex(w, inner, &l);
			EVP_MD_CTX_copy_ex(w, op);
			EVP_DigestUpdate(w, inner, sizeof(inner));
			EVP_DigestFinal_ex(w, out, &l);
		}
		d[4] = now_ns() - t;
		t = now_ns();
		for (int i = 0; i < N; i++)
			EVP_MD_CTX_copy_ex(w, ip);
		d[5] = now_ns() - t;
		t = now_ns();
		for (int i = 0; i < N; i++) {
			EVP_MAC_init(c, NULL, 0, NULL);
			EVP_MAC_update(c, msg, sizeof(msg));
			EVP_MAC_final(c, out, &ol, sizeof(out));
			EVP_Digest(body, sizeof(body), inner, &l, md, NULL);
		}
		d[6] = now_ns() - t;
		t = now_ns();
		for (int i = 0; i < N; i++) {
			pads(ip, op, md, key);
			EVP_DigestUpdate(ip, msg, sizeof(msg));
			EVP_DigestFinal_ex(ip, inner, &l);
			EVP_DigestUpdate(op, inner, sizeof(inner));
			EVP_DigestFinal_ex(op, out, &l);
		}
		d[7] = now_ns() - t;
		for (int i = 0; i < 8; i++)
			if (d[i] / N < best[i])
				best[i] = d[i] / N;
	}
	for (int i = 0; i < 8; i++)
		printf("%-14s %6.0f ns\n", names[i], best[i]);
	EVP_MD_CTX_free(w);
	EVP_MD_CTX_free(op);
	EVP_MD_CTX_free(ip);
	EVP_MAC_CTX_free(c);
	EVP_MD_free(md);
	EVP_MAC_free(mac);
	return 0;
}
