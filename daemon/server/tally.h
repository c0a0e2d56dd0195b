/*
 * tally.h - what --metrics-listen exports beyond the stats counters: verdicts by scheme (and,
 * with --metrics-tenants, by tenant), and histograms of each frame's service time and of the
 * items per verify frame.
 *
 * Each worker owns a struct hm_tally and is its only writer (counter.h: a relaxed load and
 * store, no locked instruction); the metrics thread reads them with relaxed loads and sums the
 * workers at each scrape. A histogram keeps per-bucket (not cumulative) counts, so one frame is
 * one increment; the reader makes them cumulative.
 *
 * Tenants (--metrics-tenants N): the first N tenants that show a key of theirs exists (a
 * verdict past UNKNOWN_KEY in the order of verdict.h: their item named a key in the store) get
 * a row of their own in a table shared by the workers; every other item counts in a last row,
 * exported as tenant="__other__". So the wire cannot pick which names take the N rows: a made
 * up tenant only ever lands in __other__. The table is allocated whole at start; a lookup
 * probes it without a lock, and only the first sight of one of the N tenants takes its mutex
 * (at most N times in the daemon's life). Nothing on the hot path allocates.
 */
#ifndef HM_TALLY_H
#define HM_TALLY_H

#include <stddef.h>
#include <stdint.h>

#include "engine/counter.h"
#include "proto/errors.h"
#include "proto/verdict.h"

/* Schemes as exported: hmacd-v1, rfc9421, and "unknown" for an item that failed decoding. */
enum hm_tally_scheme { HM_TALLY_V1, HM_TALLY_RFC9421, HM_TALLY_UNKNOWN, HM_TALLY__SCHEMES };
/* "hmacd-v1", "rfc9421", "unknown". */
const char *hm_tally_scheme_name(unsigned s);

#define HM_TALLY_TENANTS_MAX 1000 /* --metrics-tenants' upper bound */

/* Upper bounds of the service time histogram, in nanoseconds (5 us .. 1 s). */
#define HM_TALLY_TIME_BOUNDS 16
extern const uint64_t hm_tally_time_bounds_ns[HM_TALLY_TIME_BOUNDS];
/* Upper bounds of the items-per-frame histogram (1 .. 4096). */
#define HM_TALLY_ITEM_BOUNDS 12
extern const uint64_t hm_tally_item_bounds[HM_TALLY_ITEM_BOUNDS];

/* The tenants that have rows of their own: shared by every worker (see above). */
struct hm_tenants;

/* A table for up to max tenants (1..HM_TALLY_TENANTS_MAX). HM_OK, HM_EINVAL, HM_ENOMEM. */
int hm_tenants_new(unsigned max, struct hm_tenants **out) HM_MUSTCHECK;
void hm_tenants_free(struct hm_tenants *t);
/* N: the rows of named tenants; row N is __other__. */
unsigned hm_tenants_max(const struct hm_tenants *t);
/* Tenants that have a row now (any thread): rows 0 .. that - 1. */
unsigned hm_tenants_used(const struct hm_tenants *t);
/* The name of row i < hm_tenants_used() (any thread; it never changes once set). */
const char *hm_tenants_name(const struct hm_tenants *t, unsigned i, size_t *len);

struct hm_tally {
	hm_counter verdicts[HM_TALLY__SCHEMES][HM_V__COUNT];
	hm_counter time_buckets[HM_TALLY_TIME_BOUNDS + 1];
	hm_counter time_sum_ns;
	hm_counter item_buckets[HM_TALLY_ITEM_BOUNDS + 1];
	hm_counter item_sum;
	struct hm_tenants *tenants; /* NULL: no per-tenant rows */
	hm_counter *tenant_verdicts; /* (max + 1) * HM_V__COUNT, this worker's */
};

/*
 * Sets up a worker's tally; tenants may be NULL (no per-tenant rows). HM_OK, HM_ENOMEM.
 * The tenant table must outlive the tally.
 */
int hm_tally_init(struct hm_tally *t, struct hm_tenants *tenants) HM_MUSTCHECK;
void hm_tally_destroy(struct hm_tally *t);

/*
 * Counts an item's verdict under its scheme and (with a tenant table) its tenant; tenant may be
 * NULL (an item that did not decode). Returns a tag for hm_tally_recount(): the verdict of a
 * fleet host's nonce item may change when its claim is answered.
 */
uint32_t hm_tally_item(struct hm_tally *t, enum hm_tally_scheme scheme, const uint8_t *tenant,
		       size_t tenant_len, enum hm_verdict v);
/* Moves one count of the item tagged `tag` from verdict `was` to `now`. */
void hm_tally_recount(struct hm_tally *t, uint32_t tag, enum hm_verdict was, enum hm_verdict now);
/* One frame took `ns` nanoseconds to serve. */
void hm_tally_frame_time(struct hm_tally *t, uint64_t ns);
/* One verify frame held n items. */
void hm_tally_frame_items(struct hm_tally *t, uint64_t n);

#endif
