/*
 * histogram.h - a log-bucketed latency histogram with two significant digits (HdrHistogram-like).
 *
 * Values are unsigned 64-bit (the bench records nanoseconds). Each power-of-two range
 * [2^k, 2^(k+1)) for k >= 8 is split into 128 equal sub-buckets, and values below 256 have a
 * bucket each, so a bucket is at most 1/128 (0.8 %) of the value it holds: two significant
 * digits at every scale from 1 ns to centuries, in a fixed 58 KiB array. Recording is one
 * count-leading-zeros and one increment (no allocation, no floating point), so a generator
 * thread can record every frame. Exact min, max, count and sum are kept beside the buckets.
 *
 * One histogram per thread (no locking); hm_hist_merge() adds them up at the end.
 */
#ifndef HM_BENCH_HISTOGRAM_H
#define HM_BENCH_HISTOGRAM_H

#include <stdint.h>

#define HM_HIST_SUB_BITS 7u                          /* 128 sub-buckets per power of two */
#define HM_HIST_SUB (1u << HM_HIST_SUB_BITS)
/* 256 one-value buckets, then 128 per power of two from 2^8 to 2^63: all of uint64_t */
#define HM_HIST_BUCKETS ((65u - HM_HIST_SUB_BITS) * HM_HIST_SUB)

struct hm_hist {
	uint64_t count;
	uint64_t sum; /* saturates instead of wrapping */
	uint64_t min;
	uint64_t max;
	uint64_t counts[HM_HIST_BUCKETS];
};

/* Empties h (min starts at UINT64_MAX so the first value sets it). */
void hm_hist_init(struct hm_hist *h);
/* Counts one value. */
void hm_hist_record(struct hm_hist *h, uint64_t v);
/* dst += src. */
void hm_hist_merge(struct hm_hist *dst, const struct hm_hist *src);
/*
 * The value at percentile p (0 < p <= 100): the highest value that falls in the same bucket as
 * the sample of that rank, clamped to the exact max (HdrHistogram's convention, so a reported
 * p99 is never below the true one by more than a bucket). 0 for an empty histogram.
 */
uint64_t hm_hist_percentile(const struct hm_hist *h, double p);
/* Mean of the recorded values (0 if none). */
double hm_hist_mean(const struct hm_hist *h);

#endif
