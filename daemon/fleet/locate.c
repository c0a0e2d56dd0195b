/*
 * locate.c - the fleet's master, looked up by a thread of its own (locate.h).
 *
 * Locking: `mu` guards addr, have, suspect, stop and the condition variable; `gen` is written
 * under mu and read lock-free by users (an atomic). The thread never holds mu while it talks
 * to the network.
 */
#include "fleet/locate.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#define POLL_MS 1000    /* a look while all is well */
#define SUSPECT_MS 100  /* a look while a user suspects the master */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 1000

struct hm_locator {
	struct hm_fleet_url url;
	char password[HM_FLEET_PASSWORD_MAX + 1]; /* "" for none; wiped at stop */
	int timeout_ms;
	hm_locate_log_fn log;
	void *log_arg;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool mu_init, cv_init;
	struct hm_fleet_hostport addr; /* the master as last found */
	bool have;
	bool suspect;                  /* a user reported the current master */
	bool stop;
	atomic_uint_fast64_t gen;

	pthread_t thread;
	bool running;
	bool failing;                  /* the last look found none: logged once */
	int backoff_ms;
};

static void say(struct hm_locator *lc, enum hm_locate_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void say(struct hm_locator *lc, enum hm_locate_level level, const char *fmt, ...)
{
	char msg[1200];
	va_list ap;

	if (lc->log == NULL)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	lc->log(lc->log_arg, level, msg);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One look: the master found, published (a new generation when it moved). */
static void look(struct hm_locator *lc)
{
	struct hm_fleet_hostport m;
	redisContext *c = NULL;
	char err[1024] = "";
	bool moved = false, first;
	int rc;

	rc = hm_fleet_connect_where(&lc->url, lc->password[0] != '\0' ? lc->password : NULL,
				    lc->timeout_ms, &c, &m, err, sizeof(err));
	if (c != NULL)
		redisFree(c);
	if (rc != HM_OK) {
		if (!lc->failing)
			say(lc, HM_LOCATE_WARN, "fleet: sentinel: %s", err);
		lc->failing = true;
		lc->backoff_ms = lc->backoff_ms == 0 ? BACKOFF_MIN_MS
				 : lc->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
								     : lc->backoff_ms * 2;
		return;
	}
	lc->backoff_ms = 0;
	(void)pthread_mutex_lock(&lc->mu);
	first = !lc->have;
	if (!lc->have || strcmp(lc->addr.host, m.host) != 0 || lc->addr.port != m.port) {
		lc->addr = m;
		lc->have = true;
		atomic_fetch_add(&lc->gen, 1);
		moved = true;
	}
	(void)pthread_mutex_unlock(&lc->mu);
	if (moved)
		say(lc, HM_LOCATE_INFO, "fleet: sentinel: the master %s is %s%s%s:%u%s",
		    lc->url.master, strchr(m.host, ':') != NULL ? "[" : "", m.host,
		    strchr(m.host, ':') != NULL ? "]" : "", (unsigned)m.port,
		    first ? "" : " now (a failover)");
	else if (lc->failing)
		say(lc, HM_LOCATE_INFO, "fleet: sentinel: the master %s is found again",
		    lc->url.master);
	lc->failing = false;
}

/* Whether the thread should look now (mu held). */
static bool due(const struct hm_locator *lc, int64_t now, int64_t last, int64_t next,
		int64_t *wake)
{
	/* a suspicion brings the next look forward, but to no less than SUSPECT_MS after the last */
	int64_t at = lc->suspect && last + SUSPECT_MS < next ? last + SUSPECT_MS : next;

	*wake = at;
	return now >= at;
}

static void *locate_thread(void *arg)
{
	struct hm_locator *lc = arg;
	int64_t last = mono_ms(), next = last + POLL_MS, wake;

	for (;;) {
		bool suspect;

		(void)pthread_mutex_lock(&lc->mu);
		while (!lc->stop && !due(lc, mono_ms(), last, next, &wake)) {
			struct timespec ts = {.tv_sec = wake / 1000,
					      .tv_nsec = (wake % 1000) * 1000000L};
			int rc = pthread_cond_timedwait(&lc->cv, &lc->mu, &ts);

			if (rc != 0 && rc != ETIMEDOUT && rc != EINTR)
				break;
		}
		suspect = lc->suspect;
		lc->suspect = false;
		if (lc->stop) {
			(void)pthread_mutex_unlock(&lc->mu);
			break;
		}
		(void)pthread_mutex_unlock(&lc->mu);
		look(lc);
		last = mono_ms();
		next = last + (lc->failing ? lc->backoff_ms : suspect ? SUSPECT_MS : POLL_MS);
	}
	return NULL;
}

static void locator_free(struct hm_locator *lc)
{
	if (lc == NULL)
		return;
	if (lc->cv_init)
		(void)pthread_cond_destroy(&lc->cv);
	if (lc->mu_init)
		(void)pthread_mutex_destroy(&lc->mu);
	OPENSSL_cleanse(lc->password, sizeof(lc->password));
	free(lc);
}

int hm_locator_start(const struct hm_fleet_url *url, const char *password, int timeout_ms,
		     hm_locate_log_fn log, void *log_arg, struct hm_locator **out)
{
	struct hm_locator *lc = NULL;
	pthread_condattr_t ca;
	int rc = HM_ENOMEM;

	*out = NULL;
	if (!url->sentinel || timeout_ms <= 0 ||
	    (password != NULL && strlen(password) > HM_FLEET_PASSWORD_MAX))
		return HM_EINVAL;
	lc = calloc(1, sizeof(*lc));
	if (lc == NULL)
		return HM_ENOMEM;
	lc->url = *url;
	if (password != NULL)
		memcpy(lc->password, password, strlen(password) + 1);
	lc->timeout_ms = timeout_ms;
	lc->log = log;
	lc->log_arg = log_arg;
	atomic_init(&lc->gen, 0);
	if (pthread_mutex_init(&lc->mu, NULL) != 0)
		goto out;
	lc->mu_init = true;
	if (pthread_condattr_init(&ca) != 0)
		goto out;
	if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&lc->cv, &ca) != 0) {
		(void)pthread_condattr_destroy(&ca);
		goto out;
	}
	(void)pthread_condattr_destroy(&ca);
	lc->cv_init = true;
	look(lc);
	if (pthread_create(&lc->thread, NULL, locate_thread, lc) != 0)
		goto out;
	lc->running = true;
	*out = lc;
	lc = NULL;
	rc = HM_OK;
out:
	locator_free(lc);
	return rc;
}

int hm_locator_get(struct hm_locator *lc, struct hm_fleet_hostport *addr, uint64_t *gen)
{
	int rc = HM_ENOTFOUND;

	(void)pthread_mutex_lock(&lc->mu);
	if (lc->have) {
		*addr = lc->addr;
		*gen = atomic_load(&lc->gen);
		rc = HM_OK;
	}
	(void)pthread_mutex_unlock(&lc->mu);
	return rc;
}

uint64_t hm_locator_gen(struct hm_locator *lc)
{
	return atomic_load_explicit(&lc->gen, memory_order_acquire);
}

void hm_locator_suspect(struct hm_locator *lc, uint64_t gen)
{
	(void)pthread_mutex_lock(&lc->mu);
	if (atomic_load(&lc->gen) == gen && !lc->suspect) {
		lc->suspect = true;
		(void)pthread_cond_signal(&lc->cv);
	}
	(void)pthread_mutex_unlock(&lc->mu);
}

void hm_locator_stop(struct hm_locator *lc)
{
	if (lc == NULL)
		return;
	if (lc->running) {
		(void)pthread_mutex_lock(&lc->mu);
		lc->stop = true;
		(void)pthread_cond_signal(&lc->cv);
		(void)pthread_mutex_unlock(&lc->mu);
		(void)pthread_join(lc->thread, NULL);
	}
	locator_free(lc);
}
