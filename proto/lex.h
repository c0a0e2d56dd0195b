/*
 * lex.h - the lexical rules of hmacd, each written once: RFC 9110 tokens, RFC 8941 keys, the
 * names of scopes and key ids, and "these bytes are this literal".
 *
 * Pure functions of bytes, shared by the wire codec, the structured-field parser, the coverage
 * policies, the key store and the clients, so that what one layer accepts another cannot refuse.
 * None allocates, none reads past p[0..n), and a NULL p is refused unless n is 0.
 */
#ifndef HM_LEX_H
#define HM_LEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HM_SCOPE_MAX 128 /* tenant and container: 1..128 bytes of [A-Za-z0-9._:/-] */
#define HM_KEYID_MAX 128 /* key ids: 1..128 bytes of [A-Za-z0-9._:/+=@~-] */
#define HM_SF_KEY_MAX 64 /* RFC 8941 keys hmacd accepts (labels, dictionary keys) */

/* RFC 9110 tchar: ALPHA DIGIT and !#$%&'*+-.^_`|~ */
bool hm_lex_tchar(uint8_t c);

/* 1..max tchars; with lower_only, no A-Z (header names as the wire carries them). */
bool hm_lex_token(const uint8_t *p, size_t n, size_t max, bool lower_only);

/* An RFC 8941 key of 1..max bytes: lcalpha or '*', then lcalpha DIGIT _ - . * */
bool hm_lex_sf_key(const uint8_t *p, size_t n, size_t max);
/* The same rule byte by byte, for a parser that scans a key: its first byte, and the others. */
bool hm_lex_sf_key_first(uint8_t c);
bool hm_lex_sf_key_char(uint8_t c);

/* A tenant or container name: 1..HM_SCOPE_MAX bytes of [A-Za-z0-9._:/-]. */
bool hm_lex_scope(const uint8_t *p, size_t n);

/* A key id: 1..HM_KEYID_MAX bytes of [A-Za-z0-9._:/+=@~-]. */
bool hm_lex_keyid(const uint8_t *p, size_t n);

/* p[0..n) equals the NUL-terminated literal lit, byte for byte. */
bool hm_lex_is(const uint8_t *p, size_t n, const char *lit);

#endif
