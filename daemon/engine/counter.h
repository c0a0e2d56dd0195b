/*
 * counter.h - statistics counters with one writer thread and any number of readers.
 *
 * Each counter is written only by the thread that owns it, so an increment needs no atomic
 * read-modify-write (no lock prefix on the hot path): a relaxed load and a relaxed store. The
 * `stats` op reads other threads' counters with relaxed loads, which C11 makes race-free.
 */
#ifndef HM_COUNTER_H
#define HM_COUNTER_H

#include <stdatomic.h>
#include <stdint.h>

typedef _Atomic uint64_t hm_counter;

static inline void hm_counter_add(hm_counter *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

static inline uint64_t hm_counter_get(const hm_counter *c)
{
	return atomic_load_explicit((hm_counter *)c, memory_order_relaxed);
}

#endif
