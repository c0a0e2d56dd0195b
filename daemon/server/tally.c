/*
 * tally.c - verdicts by scheme and tenant, and the frame histograms (see tally.h).
 */
#include "server/tally.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "proto/lex.h"

const uint64_t hm_tally_time_bounds_ns[HM_TALLY_TIME_BOUNDS] = {
	5000,	   10000,     25000,	 50000,	    100000,    250000,	  500000,    1000000,
	2500000,   5000000,   10000000,	 25000000,  50000000,  100000000, 250000000, 1000000000,
};

const uint64_t hm_tally_item_bounds[HM_TALLY_ITEM_BOUNDS] = {
	1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096,
};

const char *hm_tally_scheme_name(unsigned s)
{
	static const char *const names[HM_TALLY__SCHEMES] = {
		[HM_TALLY_V1] = "hmacd-v1",
		[HM_TALLY_RFC9421] = "rfc9421",
		[HM_TALLY_UNKNOWN] = "unknown",
	};

	return s < HM_TALLY__SCHEMES ? names[s] : "unknown";
}

/* ---- the shared tenant table ---- */

struct slot {
	atomic_uint ready; /* 0: empty; 1: name, len and row are set (release) */
	unsigned row;
	size_t len;
	char name[HM_SCOPE_MAX + 1];
};

struct hm_tenants {
	unsigned max;
	size_t mask;            /* slots - 1; slots: a power of two >= 2 * max */
	struct slot *slots;
	const struct slot **rows; /* rows[i]: the slot of row i < used */
	atomic_uint used;
	pthread_mutex_t lock;   /* taken to add a tenant, at most max times */
};

int hm_tenants_new(unsigned max, struct hm_tenants **out)
{
	struct hm_tenants *t;
	size_t n = 2;

	*out = NULL;
	if (max == 0 || max > HM_TALLY_TENANTS_MAX)
		return HM_EINVAL;
	while (n < 2 * (size_t)max)
		n *= 2;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return HM_ENOMEM;
	t->slots = calloc(n, sizeof(*t->slots));
	t->rows = calloc(max, sizeof(*t->rows));
	if (t->slots == NULL || t->rows == NULL || pthread_mutex_init(&t->lock, NULL) != 0) {
		free(t->slots);
		free(t->rows);
		free(t);
		return HM_ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		atomic_init(&t->slots[i].ready, 0);
	atomic_init(&t->used, 0);
	t->max = max;
	t->mask = n - 1;
	*out = t;
	return HM_OK;
}

void hm_tenants_free(struct hm_tenants *t)
{
	if (t == NULL)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t->slots);
	free(t->rows);
	free(t);
}

unsigned hm_tenants_max(const struct hm_tenants *t)
{
	return t->max;
}

unsigned hm_tenants_used(const struct hm_tenants *t)
{
	return atomic_load_explicit(&((struct hm_tenants *)t)->used, memory_order_acquire);
}

const char *hm_tenants_name(const struct hm_tenants *t, unsigned i, size_t *len)
{
	*len = t->rows[i]->len;
	return t->rows[i]->name;
}

/* FNV-1a: tenant names are public, so a simple spread is all the table needs. */
static size_t hash(const uint8_t *p, size_t len)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return (size_t)h;
}

/*
 * The slot of the name, or NULL with *free_at the first empty slot of its probe. The table is
 * never more than half full, so an empty slot ends every probe.
 */
static struct slot *probe(struct hm_tenants *t, const uint8_t *name, size_t len, size_t *free_at)
{
	for (size_t i = hash(name, len) & t->mask;; i = (i + 1) & t->mask) {
		struct slot *s = &t->slots[i];

		if (atomic_load_explicit(&s->ready, memory_order_acquire) == 0) {
			*free_at = i;
			return NULL;
		}
		if (s->len == len && memcmp(s->name, name, len) == 0)
			return s;
	}
}

/* The row of a tenant; max (__other__) when it has none and may not get one. */
static unsigned tenant_row(struct hm_tenants *t, const uint8_t *name, size_t len, bool may_add)
{
	struct slot *s;
	size_t at;
	unsigned row, used;

	if (name == NULL || len == 0 || len > HM_SCOPE_MAX)
		return t->max;
	s = probe(t, name, len, &at);
	if (s != NULL)
		return s->row;
	if (!may_add || hm_tenants_used(t) >= t->max)
		return t->max;
	pthread_mutex_lock(&t->lock);
	s = probe(t, name, len, &at); /* another worker may have added it meanwhile */
	used = atomic_load_explicit(&t->used, memory_order_relaxed);
	if (s != NULL) {
		row = s->row;
	} else if (used >= t->max) {
		row = t->max;
	} else {
		s = &t->slots[at];
		memcpy(s->name, name, len);
		s->name[len] = '\0';
		s->len = len;
		s->row = used;
		t->rows[used] = s;
		atomic_store_explicit(&s->ready, 1, memory_order_release);
		atomic_store_explicit(&t->used, used + 1, memory_order_release);
		row = used;
	}
	pthread_mutex_unlock(&t->lock);
	return row;
}

/* ---- a worker's tally ---- */

int hm_tally_init(struct hm_tally *t, struct hm_tenants *tenants)
{
	memset(t, 0, sizeof(*t));
	if (tenants == NULL)
		return HM_OK;
	t->tenant_verdicts = calloc(((size_t)tenants->max + 1) * HM_V__COUNT,
				    sizeof(*t->tenant_verdicts));
	if (t->tenant_verdicts == NULL)
		return HM_ENOMEM;
	t->tenants = tenants;
	return HM_OK;
}

void hm_tally_destroy(struct hm_tally *t)
{
	free(t->tenant_verdicts);
	memset(t, 0, sizeof(*t));
}

/*
 * The verdicts that say the item named a key that exists (verdict.h: they come after
 * UNKNOWN_KEY in the order of precedence): only they may give a tenant a row.
 */
static bool key_exists(enum hm_verdict v)
{
	return v != HM_V_MALFORMED && v != HM_V_INSUFFICIENT_COVERAGE && v != HM_V_UNKNOWN_KEY;
}

/* tag: the tenant row times 4, plus the scheme */
uint32_t hm_tally_item(struct hm_tally *t, enum hm_tally_scheme scheme, const uint8_t *tenant,
		       size_t tenant_len, enum hm_verdict v)
{
	unsigned row = 0;

	if ((unsigned)scheme >= HM_TALLY__SCHEMES)
		scheme = HM_TALLY_UNKNOWN;
	if ((unsigned)v >= HM_V__COUNT)
		return (uint32_t)scheme;
	hm_counter_add(&t->verdicts[scheme][v], 1);
	if (t->tenants != NULL) {
		row = tenant_row(t->tenants, tenant, tenant_len, key_exists(v));
		hm_counter_add(&t->tenant_verdicts[(size_t)row * HM_V__COUNT + v], 1);
	}
	return (uint32_t)row * 4 + (uint32_t)scheme;
}

void hm_tally_recount(struct hm_tally *t, uint32_t tag, enum hm_verdict was, enum hm_verdict now)
{
	unsigned scheme = tag % 4, row = tag / 4;

	if (was == now || (unsigned)was >= HM_V__COUNT || (unsigned)now >= HM_V__COUNT ||
	    scheme >= HM_TALLY__SCHEMES)
		return;
	hm_counter_add(&t->verdicts[scheme][was], UINT64_MAX); /* mod 2^64: one less */
	hm_counter_add(&t->verdicts[scheme][now], 1);
	if (t->tenants != NULL && row <= t->tenants->max) {
		hm_counter_add(&t->tenant_verdicts[(size_t)row * HM_V__COUNT + was], UINT64_MAX);
		hm_counter_add(&t->tenant_verdicts[(size_t)row * HM_V__COUNT + now], 1);
	}
}

void hm_tally_frame_time(struct hm_tally *t, uint64_t ns)
{
	size_t i = 0;

	while (i < HM_TALLY_TIME_BOUNDS && ns > hm_tally_time_bounds_ns[i])
		i++;
	hm_counter_add(&t->time_buckets[i], 1);
	hm_counter_add(&t->time_sum_ns, ns);
}

void hm_tally_frame_items(struct hm_tally *t, uint64_t n)
{
	size_t i = 0;

	while (i < HM_TALLY_ITEM_BOUNDS && n > hm_tally_item_bounds[i])
		i++;
	hm_counter_add(&t->item_buckets[i], 1);
	hm_counter_add(&t->item_sum, n);
}
