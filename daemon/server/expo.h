/*
 * expo.h - the Prometheus text exposition format (version 0.0.4), written into a struct hm_buf.
 *
 * Pure text: no I/O, no locks, no floating point. Every value is an unsigned integer, written
 * either as is or scaled by a power of ten (a duration kept in nanoseconds is written in
 * seconds as "0.000250000" trimmed to "0.00025"), so what is written is exact.
 *
 * Names are the caller's (constants of the daemon's own, checked by the unit test); label values
 * may come from outside (a tenant name) and are escaped as the format asks: backslash, double
 * quote and line feed. Like the buffer it writes into, the writer has a sticky error: check
 * out->failed once at the end.
 */
#ifndef HM_EXPO_H
#define HM_EXPO_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto/buf.h"

/* One label of a sample; the value is value[0..value_len), any bytes (escaped when written). */
struct hm_expo_label {
	const char *name;
	const char *value;
	size_t value_len;
};

/* A label with a NUL-terminated value. */
#define HM_EXPO_LABEL(n, v) ((struct hm_expo_label){(n), (v), strlen(v)})

/* "# HELP name help" and "# TYPE name type" (type: counter, gauge, histogram). */
void hm_expo_family(struct hm_buf *out, const char *name, const char *type, const char *help);

/*
 * One sample: name{labels} value, the value written as value / 10^decimals (decimals 0..18),
 * trailing zeros of the fraction dropped.
 */
void hm_expo_sample(struct hm_buf *out, const char *name, const struct hm_expo_label *labels,
		    size_t nlabels, uint64_t value, unsigned decimals);

/*
 * A histogram's samples (after its hm_expo_family): name_bucket{labels,le="b"} for each of the
 * nbounds upper bounds (ascending) and le="+Inf", cumulative; then name_sum and name_count.
 * counts[0..nbounds] are the per-bucket (not cumulative) counts, counts[nbounds] those above
 * the last bound. Bounds and the sum are written scaled by 10^decimals like hm_expo_sample;
 * the count is the sum of counts[], so it always equals the +Inf bucket.
 */
void hm_expo_histogram(struct hm_buf *out, const char *name, const struct hm_expo_label *labels,
		       size_t nlabels, const uint64_t *bounds, const uint64_t *counts,
		       size_t nbounds, uint64_t sum, unsigned decimals);

#endif
