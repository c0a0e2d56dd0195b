/*
 * rfc9421_example.h - RFC 9421 Appendix B.2, the test request, and its B.2.5 example
 * (hmac-sha256 under the RFC's shared secret, key id "test-shared-secret"), as test data.
 *
 * One copy for the tests that sign or verify the RFC's example: test_msg, test_sigbase,
 * test_rfc9421, test_client and e2e_rfc9421. The header fields are an X-macro, X(name, value),
 * because those tests hold them in different structs (proto's struct hm_header, plain name and
 * value arrays); the rest are static const strings. Included after hmacd/client.h, it also
 * gives libhmacd's view: B2_HEADERS and b2_client_item(). A file that uses only some of this
 * gets no warning: GCC reports unused static consts of the main file only, not of included
 * headers, and never unused static inline functions.
 */
#ifndef HM_TESTS_RFC9421_EXAMPLE_H
#define HM_TESTS_RFC9421_EXAMPLE_H

#include <stdint.h>
#include <string.h>

/* B.2: POST https://example.com/foo?param=Value&Pet=dog, these header fields in this order */
#define B2_HEADERS_X(X)                                                                     \
	X("host", "example.com")                                                            \
	X("date", "Tue, 20 Apr 2021 02:07:55 GMT")                                          \
	X("content-type", "application/json")                                               \
	X("content-digest", "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiY" \
			    "llu7BNNyealdVLvRwEmTHWXvJwew==:")                              \
	X("content-length", "18")

static const char B2_BODY[] = "{\"hello\": \"world\"}";

/* B.2.5: the Signature-Input and Signature fields, and the signature base they give */
static const char B25_INPUT[] = "sig-b25=(\"date\" \"@authority\" \"content-type\")"
				";created=1618884473;keyid=\"test-shared-secret\"";
static const char B25_SIGNATURE[] = "sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:";
/* (the RFC wraps the last line per RFC 8792) */
static const char B25_BASE[] = "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n"
			       "\"@authority\": example.com\n"
			       "\"content-type\": application/json\n"
			       "\"@signature-params\": (\"date\" \"@authority\" \"content-type\")"
			       ";created=1618884473;keyid=\"test-shared-secret\"";
/* B.1.5, the 64-byte shared secret, base64 */
static const char SHARED_SECRET_B64[] =
	"uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ==";

#ifdef HMACD_CLIENT_H
#define B2_CLIENT_HEADER(n, v) {n, sizeof(n) - 1, v, sizeof(v) - 1},
static const struct hmacd_header B2_HEADERS[] = {B2_HEADERS_X(B2_CLIENT_HEADER)};
#undef B2_CLIENT_HEADER

/* The B.2 request and its body as a libhmacd rfc9421 item of this scope; no signature yet. */
static inline void b2_client_item(struct hmacd_rfc9421_item *it, const char *tenant,
				  const char *container)
{
	memset(it, 0, sizeof(*it));
	it->tenant = tenant;
	it->tenant_len = strlen(tenant);
	it->container = container;
	it->container_len = strlen(container);
	it->method = "POST";
	it->method_len = 4;
	it->authority = "example.com";
	it->authority_len = 11;
	it->path = "/foo?param=Value&Pet=dog";
	it->path_len = strlen(it->path);
	it->headers = B2_HEADERS;
	it->nheaders = sizeof(B2_HEADERS) / sizeof(B2_HEADERS[0]);
	it->body = (const uint8_t *)B2_BODY;
	it->body_len = sizeof(B2_BODY) - 1;
}
#endif

#endif
