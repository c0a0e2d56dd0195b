/*
 * prefault.h - touch every page of a fresh table at start-up.
 *
 * calloc() hands out zero pages that are mapped on first write. For the fixed-size tables of
 * the hot path (nonce cache, key caches) that first write would otherwise happen while serving:
 * a page fault plus, on a virtual machine, a cross-CPU TLB flush for each page, measured as a
 * quarter of the daemon's time on the nonce path. Writing one byte per page now moves it all to
 * start-up. (A memset after calloc could be optimised away; volatile stores cannot.)
 */
#ifndef HM_PREFAULT_H
#define HM_PREFAULT_H

#include <stddef.h>
#include <stdint.h>

static inline void hm_prefault(void *p, size_t n)
{
	volatile uint8_t *b = p;

	for (size_t i = 0; i < n; i += 4096)
		b[i] = 0;
	if (n > 0)
		b[n - 1] = 0;
}

#endif
