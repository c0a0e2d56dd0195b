/*
 * replay.c - sharded, fixed-size nonce cache, optionally kept in a file (see replay.h).
 *
 * Each shard is an open-addressing table probed linearly for at most PROBE slots. A slot whose
 * entry has expired counts as free, so old entries are reclaimed as new ones arrive and no
 * sweeper thread is needed. Failing to find room within PROBE slots means "full".
 *
 * The slots of all shards are one array: anonymous memory, or a shared mapping of the file
 * after a one-page header. The mutexes and the per-tenant counters live in process memory and
 * are rebuilt from the slots at start, so a daemon killed while holding a lock leaves nothing
 * behind that could block the next one.
 */
#include "engine/replay.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#define NSHARDS 64u
#define PROBE 64u
/*
 * Slots per remembered nonce. Linear probing with a bounded probe fails well before a table is
 * full (measured: 0.3 % refused at 75 % fill, 4 % at 95 %); at half fill a run of PROBE
 * occupied slots practically never happens, so --nonce-cache nonces always fit.
 */
#define SLOTS_PER_NONCE 2u
#define MIN_PER_SHARD 64u
/* Tenant quotas: buckets of tenants, and the time windows live entries are counted in. */
#define TENANT_BUCKETS 4096u
#define WINDOWS 8u

#define HEADER_SIZE 4096u
#define FILE_MAGIC "HMACDNC1"
#define FILE_VERSION 1u
#define BOOT_ID_LEN 40

struct slot {
	uint8_t key[HM_REPLAY_KEY_LEN];
	int64_t expires; /* 0: never used; <= now: free (expired); written last */
	uint32_t tenant;
	uint32_t pad;
};
_Static_assert(sizeof(struct slot) == 32, "a slot is 32 bytes: 128 per page, none across two");

/* The file's first page. Native byte order: the file never leaves its host. */
struct file_header {
	char magic[8]; /* written last: all zero while the table is being made */
	uint32_t version;
	uint32_t header_size;
	uint64_t nshards;
	uint64_t per_shard;
	uint64_t slot_size;
	uint8_t salt[32];
	char boot_id[BOOT_ID_LEN]; /* the boot the table was written in */
	int64_t since;             /* when the table started empty */
};
_Static_assert(sizeof(struct file_header) <= HEADER_SIZE, "the header fits its page");

struct shard {
	pthread_mutex_t lock;
	/*
	 * Slots ever used: written under the lock, read without it by hm_replay_used() (stats,
	 * metrics), so a scrape never takes a lock a verify takes.
	 */
	_Atomic size_t used;
	struct slot *slots;
} __attribute__((aligned(64))); /* one cache line per lock: no false sharing */

struct hm_replay {
	size_t per_shard;  /* power of two */
	size_t tenant_max; /* live entries per tenant bucket */
	int64_t window;    /* seconds per counting window */
	uint8_t salt[32];
	uint8_t *map;      /* file: header then slots; memory: slots */
	size_t map_len;
	int fd;            /* -1: memory only */
	bool locks_ready;
	/* TENANT_BUCKETS x WINDOWS counters: window number << 32 | entries; NULL: no quota */
	_Atomic uint64_t *tenants;
	struct shard shards[NSHARDS];
};

static int fail(char *err, size_t cap, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Says why in err[0..cap) and returns rc. */
static int fail(char *err, size_t cap, int rc, const char *fmt, ...)
{
	va_list ap;

	if (cap > 0) {
		va_start(ap, fmt);
		vsnprintf(err, cap, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static size_t per_shard_for(size_t capacity)
{
	size_t per = MIN_PER_SHARD;

	while (per * NSHARDS < capacity * SLOTS_PER_NONCE)
		per *= 2;
	return per;
}

static size_t slots_bytes(size_t per_shard)
{
	return per_shard * NSHARDS * sizeof(struct slot);
}

/* This boot's id, or "" if the kernel does not say (then no file is ever trusted). */
static void boot_id(char out[static BOOT_ID_LEN])
{
	ssize_t n = -1;
	int fd;

	memset(out, 0, BOOT_ID_LEN);
	fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, out, BOOT_ID_LEN - 1);
		(void)close(fd);
	}
	if (n < 0)
		n = 0;
	out[n] = '\0';
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
		out[--n] = '\0';
}

static struct slot *slot_array(const struct hm_replay *r)
{
	return (struct slot *)(r->map + (r->fd >= 0 ? HEADER_SIZE : 0));
}

static int map_slots(struct hm_replay *r, char *err, size_t errcap)
{
	int prot = PROT_READ | PROT_WRITE;
	void *p;

	if (r->fd >= 0) {
		r->map_len = HEADER_SIZE + slots_bytes(r->per_shard);
		p = mmap(NULL, r->map_len, prot, MAP_SHARED | MAP_POPULATE, r->fd, 0);
	} else {
		r->map_len = slots_bytes(r->per_shard);
		p = mmap(NULL, r->map_len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	}
	if (p == MAP_FAILED) {
		r->map = NULL;
		return fail(err, errcap, errno == ENOMEM ? HM_ENOMEM : HM_EIO, "mmap: %s",
			    strerror(errno));
	}
	r->map = p;
	for (unsigned i = 0; i < NSHARDS; i++)
		r->shards[i].slots = slot_array(r) + (size_t)i * r->per_shard;
	return HM_OK;
}

static void unmap(struct hm_replay *r)
{
	if (r->map != NULL)
		(void)munmap(r->map, r->map_len);
	r->map = NULL;
}

/* ---- per-tenant quota ---- */

static _Atomic uint64_t *tenant_ring(struct hm_replay *r, uint32_t tenant)
{
	return &r->tenants[(size_t)(tenant % TENANT_BUCKETS) * WINDOWS];
}

/* Live entries of a tenant bucket: the counts of the windows that have not ended. */
static uint64_t tenant_live(struct hm_replay *r, uint32_t tenant, int64_t now)
{
	_Atomic uint64_t *ring = tenant_ring(r, tenant);
	uint32_t cur = (uint32_t)(now / r->window);
	uint64_t sum = 0;

	for (unsigned i = 0; i < WINDOWS; i++) {
		uint64_t v = atomic_load_explicit(&ring[i], memory_order_relaxed);

		if ((uint32_t)((uint32_t)(v >> 32) - cur) < WINDOWS)
			sum += v & 0xffffffffu;
	}
	return sum;
}

/* Counts one entry living until `expires` in its window. */
static void tenant_add(struct hm_replay *r, uint32_t tenant, int64_t expires, int64_t now)
{
	_Atomic uint64_t *ring = tenant_ring(r, tenant);
	int64_t last = now / r->window + WINDOWS - 1;
	int64_t w = expires / r->window;
	_Atomic uint64_t *c;
	uint64_t old, want;

	if (w > last)
		w = last; /* longer than max_life (a table kept from a run with a wider skew) */
	c = &ring[(uint64_t)w % WINDOWS];
	old = atomic_load_explicit(c, memory_order_relaxed);
	do {
		if ((uint32_t)(old >> 32) == (uint32_t)w)
			want = old + 1;
		else
			want = (uint64_t)(uint32_t)w << 32 | 1u; /* the slot held an ended window */
	} while (!atomic_compare_exchange_weak_explicit(c, &old, want, memory_order_relaxed,
							memory_order_relaxed));
}

/* ---- building ---- */

static int init_locks(struct hm_replay *r)
{
	for (unsigned i = 0; i < NSHARDS; i++) {
		if (pthread_mutex_init(&r->shards[i].lock, NULL) != 0) {
			while (i-- > 0)
				pthread_mutex_destroy(&r->shards[i].lock);
			return HM_ENOMEM;
		}
	}
	r->locks_ready = true;
	return HM_OK;
}

/* Counts used slots per shard and the live entries per tenant; returns the live entries. */
/* One more slot used; the shard's lock held (or the table not shared yet): no locked add. */
static void used_inc(struct shard *s)
{
	atomic_store_explicit(&s->used, atomic_load_explicit(&s->used, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

static size_t scan(struct hm_replay *r, int64_t now)
{
	size_t live = 0;

	for (unsigned i = 0; i < NSHARDS; i++) {
		struct shard *s = &r->shards[i];

		atomic_store_explicit(&s->used, 0, memory_order_relaxed);
		for (size_t j = 0; j < r->per_shard; j++) {
			const struct slot *sl = &s->slots[j];

			if (sl->expires == 0)
				continue;
			used_inc(s);
			if (sl->expires <= now)
				continue;
			live++;
			if (r->tenants != NULL)
				tenant_add(r, sl->tenant, sl->expires, now);
		}
	}
	return live;
}

/* Puts an entry into its shard (no quota: re-inserting a kept table). false: no room. */
static bool insert(struct hm_replay *r, const struct slot *e, int64_t now)
{
	uint64_t h, h2;
	struct shard *s;
	size_t mask = r->per_shard - 1, start;

	memcpy(&h, e->key, sizeof(h));
	memcpy(&h2, e->key + 8, sizeof(h2));
	s = &r->shards[h % NSHARDS];
	start = (size_t)(h2 & mask);
	for (size_t i = 0; i < PROBE && i <= mask; i++) {
		struct slot *sl = &s->slots[(start + i) & mask];

		if (sl->expires == 0 || sl->expires <= now) {
			*sl = *e;
			return true;
		}
	}
	return false;
}

static struct hm_replay *alloc_table(const struct hm_replay_options *o)
{
	struct hm_replay *r = aligned_alloc(64, sizeof(*r));

	if (r == NULL)
		return NULL;
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	r->per_shard = per_shard_for(o->capacity);
	r->window = o->max_life / (WINDOWS - 2) + 1;
	r->tenant_max = r->per_shard * NSHARDS / SLOTS_PER_NONCE;
	if (o->tenant_share < 100) {
		r->tenant_max = r->tenant_max * o->tenant_share / 100;
		if (r->tenant_max == 0)
			r->tenant_max = 1;
		r->tenants = calloc((size_t)TENANT_BUCKETS * WINDOWS, sizeof(*r->tenants));
		if (r->tenants == NULL) {
			free(r);
			return NULL;
		}
	}
	return r;
}

/* A header on disk that names this table: geometry, salt, boot, start; magic last. */
static void write_header(struct hm_replay *r, const char *boot, int64_t since)
{
	struct file_header *h = (struct file_header *)r->map;

	memset(h, 0, HEADER_SIZE);
	h->version = FILE_VERSION;
	h->header_size = HEADER_SIZE;
	h->nshards = NSHARDS;
	h->per_shard = r->per_shard;
	h->slot_size = sizeof(struct slot);
	memcpy(h->salt, r->salt, sizeof(h->salt));
	memcpy(h->boot_id, boot, BOOT_ID_LEN);
	h->since = since;
	/* a kill before this line leaves a zero magic: an unfinished table, made anew next time */
	atomic_thread_fence(memory_order_release);
	memcpy(h->magic, FILE_MAGIC, sizeof(h->magic));
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= b[i];
	return acc == 0;
}

/* The file's size for a table of per_shard slots per shard. */
static off_t file_size(size_t per_shard)
{
	return (off_t)(HEADER_SIZE + slots_bytes(per_shard));
}

/*
 * Reads the live entries of the file's table (another geometry) into *out (malloc'd), with its
 * salt and start. HM_OK, HM_ENOMEM, HM_EIO.
 */
static int read_old(int fd, const struct file_header *h, int64_t now, struct slot **out,
		    size_t *n)
{
	size_t len = (size_t)file_size(h->per_shard), cap = 1024;
	uint8_t *m;
	const struct slot *sl;
	struct slot *v;

	*out = NULL;
	*n = 0;
	m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return HM_EIO;
	v = malloc(cap * sizeof(*v));
	if (v == NULL) {
		(void)munmap(m, len);
		return HM_ENOMEM;
	}
	sl = (const struct slot *)(m + HEADER_SIZE);
	for (size_t i = 0; i < h->per_shard * NSHARDS; i++) {
		if (sl[i].expires <= now)
			continue;
		if (*n == cap) {
			struct slot *bigger = realloc(v, 2 * cap * sizeof(*v));

			if (bigger == NULL) {
				free(v);
				(void)munmap(m, len);
				return HM_ENOMEM;
			}
			v = bigger;
			cap *= 2;
		}
		v[(*n)++] = sl[i];
	}
	(void)munmap(m, len);
	*out = v;
	return HM_OK;
}

/* What the file holds. */
enum file_kind { FILE_NEW, FILE_KEEP, FILE_RESIZE };

/*
 * Reads and judges the header of an open file. Sets *kind, and *why when it is made anew.
 * HM_OK, or HM_ESTATE (not a nonce table: never overwritten), HM_EIO.
 */
static int judge_file(int fd, off_t size, size_t per_shard, const char *boot,
		      struct file_header *h, enum file_kind *kind, const char **why)
{
	ssize_t got;

	*kind = FILE_NEW;
	*why = "a new file";
	memset(h, 0, sizeof(*h));
	if (size == 0)
		return HM_OK;
	got = pread(fd, h, sizeof(*h), 0);
	if (got < 0)
		return HM_EIO;
	if ((size_t)got < sizeof(*h) || all_zero(h->magic, sizeof(h->magic))) {
		/* zeros, or our header without its magic: a table whose making was cut short */
		if (!all_zero(h, (size_t)got) && ((size_t)got < sizeof(*h) ||
						  h->version != FILE_VERSION ||
						  h->header_size != HEADER_SIZE))
			return HM_ESTATE; /* some other file's bytes */
		*why = "an unfinished table (the daemon stopped while making it)";
		return HM_OK;
	}
	if (memcmp(h->magic, FILE_MAGIC, sizeof(h->magic)) != 0)
		return HM_ESTATE;
	if (h->version != FILE_VERSION || h->header_size != HEADER_SIZE ||
	    h->nshards != NSHARDS || h->slot_size != sizeof(struct slot) ||
	    h->per_shard < MIN_PER_SHARD || (h->per_shard & (h->per_shard - 1)) != 0 ||
	    h->per_shard > ((size_t)1 << 40) || size != file_size(h->per_shard) ||
	    all_zero(h->salt, sizeof(h->salt))) {
		*why = "a damaged table, or one of another version";
		return HM_OK;
	}
	h->boot_id[BOOT_ID_LEN - 1] = '\0';
	if (boot[0] == '\0' || strcmp(h->boot_id, boot) != 0) {
		*why = "a table written before the host last booted";
		return HM_OK;
	}
	*kind = h->per_shard == per_shard ? FILE_KEEP : FILE_RESIZE;
	return HM_OK;
}

static int open_file(struct hm_replay *r, const struct hm_replay_options *o,
		     struct hm_replay_info *info, char *err, size_t errcap)
{
	struct file_header h;
	enum file_kind kind;
	struct slot *old = NULL;
	size_t nold = 0;
	char boot[BOOT_ID_LEN];
	struct stat st;
	int rc;

	r->fd = open(o->path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (r->fd < 0)
		return fail(err, errcap, errno == ELOOP ? HM_ESTATE : HM_EIO, "open %s: %s",
			    o->path, errno == ELOOP ? "a symlink" : strerror(errno));
	if (fstat(r->fd, &st) != 0)
		return fail(err, errcap, HM_EIO, "fstat %s: %s", o->path, strerror(errno));
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) != 0)
		return fail(err, errcap, HM_ESTATE,
			    "%s: must be a regular file of hmacd's user, mode 0600", o->path);
	if (flock(r->fd, LOCK_EX | LOCK_NB) != 0)
		return fail(err, errcap, errno == EWOULDBLOCK ? HM_EEXIST : HM_EIO, "%s: %s",
			    o->path,
			    errno == EWOULDBLOCK ? "another hmacd uses this nonce table"
						 : strerror(errno));
	boot_id(boot);
	rc = judge_file(r->fd, st.st_size, r->per_shard, boot, &h, &kind, &info->fresh);
	if (rc == HM_ESTATE)
		return fail(err, errcap, rc, "%s: not an hmacd nonce table; not touching it",
			    o->path);
	if (rc != HM_OK)
		return fail(err, errcap, rc, "read %s: %s", o->path, strerror(errno));
	info->since = o->now;
	if (kind == FILE_KEEP) {
		memcpy(r->salt, h.salt, sizeof(r->salt));
		rc = map_slots(r, err, errcap);
		if (rc != HM_OK)
			return rc;
		info->since = h.since;
		info->fresh = NULL;
		return HM_OK;
	}
	if (kind == FILE_RESIZE) {
		rc = read_old(r->fd, &h, o->now, &old, &nold);
		if (rc != HM_OK)
			return fail(err, errcap, rc, "%s: reading the old table: %s", o->path,
				    hm_strerror(rc));
		memcpy(r->salt, h.salt, sizeof(r->salt));
		info->since = h.since;
		info->fresh = NULL;
	} else if (RAND_bytes(r->salt, sizeof(r->salt)) != 1) {
		return fail(err, errcap, HM_ECRYPTO, "RAND_bytes failed");
	}
	/* a table made anew starts from zeros: truncate, then reserve every block */
	if (ftruncate(r->fd, 0) != 0 || ftruncate(r->fd, file_size(r->per_shard)) != 0) {
		free(old);
		return fail(err, errcap, HM_EIO, "ftruncate %s: %s", o->path, strerror(errno));
	}
	/* no block left to allocate later: a full disk is an error now, not a SIGBUS mid-verify */
	rc = posix_fallocate(r->fd, 0, file_size(r->per_shard));
	if (rc != 0) {
		free(old);
		return fail(err, errcap, HM_EIO, "posix_fallocate %s: %s", o->path, strerror(rc));
	}
	rc = map_slots(r, err, errcap);
	if (rc == HM_OK) {
		for (size_t i = 0; i < nold; i++) {
			if (!insert(r, &old[i], o->now)) {
				/* some accepted nonces are lost: refuse what may have used them */
				info->since = o->now;
				info->fresh = "a table of another size whose entries no longer fit";
			}
		}
		write_header(r, boot, info->since);
	}
	if (old != NULL)
		OPENSSL_cleanse(old, nold * sizeof(*old));
	free(old);
	return rc;
}

int hm_replay_open(const struct hm_replay_options *o, struct hm_replay **out,
		   struct hm_replay_info *info, char *err, size_t errcap)
{
	struct hm_replay *r;
	int rc;

	*out = NULL;
	memset(info, 0, sizeof(*info));
	if (errcap > 0)
		err[0] = '\0';
	if (o->capacity == 0 || o->capacity > ((size_t)1 << 32) || o->tenant_share < 1 ||
	    o->tenant_share > 100 || o->max_life < 1)
		return fail(err, errcap, HM_EINVAL, "invalid nonce cache options");
	r = alloc_table(o);
	if (r == NULL)
		return fail(err, errcap, HM_ENOMEM, "out of memory");
	if (o->path != NULL) {
		rc = open_file(r, o, info, err, errcap);
	} else {
		info->since = o->now;
		info->fresh = "memory only";
		rc = RAND_bytes(r->salt, sizeof(r->salt)) == 1 ? HM_OK : HM_ECRYPTO;
		if (rc == HM_OK)
			rc = map_slots(r, err, errcap);
	}
	if (rc == HM_OK)
		rc = init_locks(r);
	if (rc != HM_OK) {
		hm_replay_free(r);
		return rc;
	}
	info->restored = scan(r, o->now);
	*out = r;
	return HM_OK;
}

int hm_replay_new(size_t capacity, struct hm_replay **out)
{
	struct hm_replay_options o = {.capacity = capacity, .tenant_share = 100, .max_life = 1};
	struct hm_replay_info info;

	return hm_replay_open(&o, out, &info, NULL, 0);
}

void hm_replay_free(struct hm_replay *r)
{
	if (r == NULL)
		return;
	if (r->locks_ready)
		for (unsigned i = 0; i < NSHARDS; i++)
			pthread_mutex_destroy(&r->shards[i].lock);
	unmap(r);
	if (r->fd >= 0)
		(void)close(r->fd); /* releases the flock */
	free(r->tenants);
	OPENSSL_cleanse(r->salt, sizeof(r->salt));
	free(r);
}

int hm_replay_key(const struct hm_replay *r, EVP_MD_CTX *md, const EVP_MD *sha256,
		  const uint8_t *tenant, size_t tenant_len, const uint8_t *container,
		  size_t container_len, const uint8_t *nonce, size_t nonce_len,
		  struct hm_nonce_id *id)
{
	static const uint8_t tenant_only = 0xff; /* no length triple starts with 0xff */
	uint8_t digest[32], lens[3];
	unsigned int dlen = 0;
	int ok;

	/* lengths first: tenant, container and nonce are at most 128, 128 and 64 bytes */
	lens[0] = (uint8_t)tenant_len;
	lens[1] = (uint8_t)container_len;
	lens[2] = (uint8_t)nonce_len;
	ok = EVP_DigestInit_ex(md, sha256, NULL) == 1 &&
	     EVP_DigestUpdate(md, r->salt, sizeof(r->salt)) == 1 &&
	     EVP_DigestUpdate(md, lens, sizeof(lens)) == 1 &&
	     EVP_DigestUpdate(md, tenant, tenant_len) == 1 &&
	     EVP_DigestUpdate(md, container, container_len) == 1 &&
	     EVP_DigestUpdate(md, nonce, nonce_len) == 1 &&
	     EVP_DigestFinal_ex(md, digest, &dlen) == 1 && dlen == sizeof(digest);
	if (!ok)
		return HM_ECRYPTO;
	memcpy(id->key, digest, HM_REPLAY_KEY_LEN);
	if (r->tenants == NULL) {
		id->tenant = 0; /* no quota: the bucket is never looked at */
		return HM_OK;
	}
	ok = EVP_DigestInit_ex(md, sha256, NULL) == 1 &&
	     EVP_DigestUpdate(md, r->salt, sizeof(r->salt)) == 1 &&
	     EVP_DigestUpdate(md, &tenant_only, 1) == 1 &&
	     EVP_DigestUpdate(md, tenant, tenant_len) == 1 &&
	     EVP_DigestFinal_ex(md, digest, &dlen) == 1 && dlen == sizeof(digest);
	if (!ok)
		return HM_ECRYPTO;
	memcpy(&id->tenant, digest, sizeof(id->tenant));
	return HM_OK;
}

static uint64_t load64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

enum hm_replay_result hm_replay_check(struct hm_replay *r, const struct hm_nonce_id *id,
				      int64_t expires, int64_t now)
{
	/* the key is already a uniform digest: its words pick the shard and the start slot */
	uint64_t h = load64(id->key), h2 = load64(id->key + 8);
	struct shard *s = &r->shards[h % NSHARDS];
	size_t mask = r->per_shard - 1, start = (size_t)(h2 & mask);
	struct slot *free_slot = NULL;
	enum hm_replay_result res = HM_REPLAY_FULL;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < PROBE && i <= mask; i++) {
		struct slot *sl = &s->slots[(start + i) & mask];

		if (sl->expires == 0) {
			if (free_slot == NULL)
				free_slot = sl;
			break; /* never inserted past an empty slot */
		}
		if (sl->expires <= now) {
			if (free_slot == NULL)
				free_slot = sl; /* expired: reusable, but keep looking for the key */
			continue;
		}
		if (memcmp(sl->key, id->key, HM_REPLAY_KEY_LEN) == 0) {
			res = HM_REPLAY_SEEN;
			goto out;
		}
	}
	if (free_slot == NULL)
		goto out;
	if (r->tenants != NULL && tenant_live(r, id->tenant, now) >= r->tenant_max) {
		res = HM_REPLAY_TENANT_FULL;
		goto out;
	}
	if (free_slot->expires == 0)
		used_inc(s);
	/* key first, expiry last: a kill in between leaves a free slot, not a torn entry */
	memcpy(free_slot->key, id->key, HM_REPLAY_KEY_LEN);
	free_slot->tenant = id->tenant;
	atomic_thread_fence(memory_order_release);
	free_slot->expires = expires;
	if (r->tenants != NULL)
		tenant_add(r, id->tenant, expires, now);
	res = HM_REPLAY_FRESH;
out:
	pthread_mutex_unlock(&s->lock);
	return res;
}

size_t hm_replay_used(struct hm_replay *r)
{
	size_t n = 0;

	for (unsigned i = 0; i < NSHARDS; i++)
		n += atomic_load_explicit(&r->shards[i].used, memory_order_relaxed);
	return n;
}

size_t hm_replay_capacity(const struct hm_replay *r)
{
	return r->per_shard * NSHARDS / SLOTS_PER_NONCE;
}

size_t hm_replay_tenant_max(const struct hm_replay *r)
{
	return r->tenant_max;
}
