/* frame.c - the length-prefix frame codec (see frame.h). */
#include "proto/frame.h"

int hm_frame_parse(const uint8_t *buf, size_t len, uint32_t max_payload, uint32_t *payload_len,
		   size_t *frame_len)
{
	uint32_t n;

	*payload_len = 0;
	*frame_len = 0;
	if (len < HM_FRAME_HEADER)
		return HM_EAGAIN;
	n = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
	*payload_len = n;
	/* The limit is checked before the caller buffers a single payload byte. */
	if (n > max_payload)
		return HM_ETOOBIG;
	if (len - HM_FRAME_HEADER < n)
		return HM_EAGAIN;
	*frame_len = HM_FRAME_HEADER + (size_t)n;
	return HM_OK;
}

void hm_frame_put_header(uint8_t out[static HM_FRAME_HEADER], uint32_t len)
{
	out[0] = (uint8_t)(len >> 24);
	out[1] = (uint8_t)(len >> 16);
	out[2] = (uint8_t)(len >> 8);
	out[3] = (uint8_t)len;
}
