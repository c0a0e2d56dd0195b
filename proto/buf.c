/* buf.c - growable byte buffer with a size cap and a sticky error (see buf.h). */
#include "proto/buf.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

void hm_buf_init(struct hm_buf *b, size_t limit)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->limit = limit;
	b->failed = false;
}

void hm_buf_free(struct hm_buf *b)
{
	if (b->data != NULL)
		OPENSSL_cleanse(b->data, b->cap);
	free(b->data);
	hm_buf_init(b, b->limit);
}

void hm_buf_reset(struct hm_buf *b)
{
	b->len = 0;
	b->failed = false;
}

int hm_buf_reserve(struct hm_buf *b, size_t more)
{
	size_t need, ncap;
	uint8_t *p;

	if (b->failed)
		return HM_ETOOBIG;
	if (more > b->limit || b->len > b->limit - more) {
		b->failed = true;
		return HM_ETOOBIG;
	}
	need = b->len + more;
	if (need <= b->cap)
		return HM_OK;
	ncap = b->cap ? b->cap : 256;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	if (ncap > b->limit)
		ncap = b->limit;
	p = realloc(b->data, ncap);
	if (p == NULL) {
		b->failed = true;
		return HM_ENOMEM;
	}
	b->data = p;
	b->cap = ncap;
	return HM_OK;
}

void hm_buf_append(struct hm_buf *b, const void *p, size_t n)
{
	if (n == 0 || hm_buf_reserve(b, n) != HM_OK)
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void hm_buf_append_byte(struct hm_buf *b, uint8_t c)
{
	hm_buf_append(b, &c, 1);
}

void hm_buf_consume(struct hm_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

int hm_buf_msgpack_write(void *data, const char *p, size_t n)
{
	struct hm_buf *b = data;

	hm_buf_append(b, p, n);
	return b->failed ? -1 : 0;
}
