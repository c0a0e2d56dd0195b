/*
 * histogram.c - log-bucketed histogram (see histogram.h).
 *
 * Bucket layout: values below 2 * HM_HIST_SUB have a bucket each. A larger value v with its top
 * bit at position k is shifted right by k - HM_HIST_SUB_BITS, which leaves a number in
 * [HM_HIST_SUB, 2 * HM_HIST_SUB): its low HM_HIST_SUB_BITS bits pick the sub-bucket, and the
 * shift picks the power-of-two range.
 */
#include "histogram.h"

#include <string.h>

static unsigned bucket_of(uint64_t v)
{
	unsigned k, shift;

	if (v < 2 * HM_HIST_SUB)
		return (unsigned)v;
	k = 63u - (unsigned)__builtin_clzll(v);
	shift = k - HM_HIST_SUB_BITS;
	return (shift + 1) * HM_HIST_SUB + (unsigned)((v >> shift) - HM_HIST_SUB);
}

/* The highest value that lands in bucket i. */
static uint64_t bucket_high(unsigned i)
{
	unsigned shift;
	uint64_t low;

	if (i < 2 * HM_HIST_SUB)
		return i;
	shift = i / HM_HIST_SUB - 1;
	low = (uint64_t)(i % HM_HIST_SUB + HM_HIST_SUB) << shift;
	return low + (((uint64_t)1 << shift) - 1);
}

void hm_hist_init(struct hm_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

void hm_hist_record(struct hm_hist *h, uint64_t v)
{
	h->counts[bucket_of(v)]++;
	h->count++;
	h->sum = h->sum > UINT64_MAX - v ? UINT64_MAX : h->sum + v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

void hm_hist_merge(struct hm_hist *dst, const struct hm_hist *src)
{
	for (unsigned i = 0; i < HM_HIST_BUCKETS; i++)
		dst->counts[i] += src->counts[i];
	dst->count += src->count;
	dst->sum = dst->sum > UINT64_MAX - src->sum ? UINT64_MAX : dst->sum + src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t hm_hist_percentile(const struct hm_hist *h, double p)
{
	uint64_t rank, seen = 0, v;
	double r;

	if (h->count == 0)
		return 0;
	if (p >= 100.0)
		return h->max;
	/* the sample of this rank (1-based) is the percentile: ceil(p% of count), at least 1 */
	r = p / 100.0 * (double)h->count;
	rank = (uint64_t)r;
	if ((double)rank < r)
		rank++;
	if (rank < 1)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	for (unsigned i = 0; i < HM_HIST_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= rank) {
			v = bucket_high(i);
			return v > h->max ? h->max : v;
		}
	}
	return h->max;
}

double hm_hist_mean(const struct hm_hist *h)
{
	return h->count ? (double)h->sum / (double)h->count : 0.0;
}
