/*
 * locate.h - where the fleet's master is now, for users that must not block (fleet mode with
 * Sentinel, doc/fleet.md "High availability").
 *
 * hmacd's workers claim nonces on asynchronous connections driven by their own event loops
 * (server/claims.c): they must never wait on a sentinel. A locator is a thread of its own
 * that finds the master the blocking way (hm_fleet_connect_where(): the sentinels asked in
 * turn, the answer checked with ROLE) and publishes its numeric address with a generation
 * number, which changes whenever the address does. Users read it (a mutex held for a copy)
 * when they connect, compare the generation (an atomic load) to notice that the master moved,
 * and report a master that failed them (connection lost or refused, READONLY, not master) with
 * hm_locator_suspect(), which makes the thread look again at once.
 *
 * The thread looks every second while all is well, every 100 ms while a user suspects the
 * master (at most that often however many users report), and with a backoff from 100 ms to
 * 1 s while no sentinel names a usable master. Each look is one connection to a sentinel and
 * one to the master, closed right after. Each change (a new master, none found, found again)
 * is logged once, never with the password.
 */
#ifndef HM_FLEET_LOCATE_H
#define HM_FLEET_LOCATE_H

#include <stddef.h>
#include <stdint.h>

#include "fleet/conn.h"
#include "proto/errors.h"

enum hm_locate_level { HM_LOCATE_ERROR, HM_LOCATE_WARN, HM_LOCATE_INFO };
typedef void (*hm_locate_log_fn)(void *arg, enum hm_locate_level level, const char *msg);

struct hm_locator;

/*
 * Looks for the master once (so that users find an address at once when the fleet is up),
 * then starts the thread. url must be a sentinel:// URL; password (NULL: none) is copied and
 * wiped at stop; timeout_ms bounds each step of a look. HM_OK with *out, also when the first
 * look found no master (the thread keeps looking); HM_EINVAL (not sentinel://); HM_ENOMEM.
 */
int hm_locator_start(const struct hm_fleet_url *url, const char *password, int timeout_ms,
		     hm_locate_log_fn log, void *log_arg, struct hm_locator **out) HM_MUSTCHECK;

/*
 * The master as last found: HM_OK with *addr and *gen; HM_ENOTFOUND when none was found yet.
 * Takes the locator's mutex for a copy: it never waits on the network.
 */
int hm_locator_get(struct hm_locator *lc, struct hm_fleet_hostport *addr,
		   uint64_t *gen) HM_MUSTCHECK;

/* The generation of the address last found (0: none yet). Lock-free. */
uint64_t hm_locator_gen(struct hm_locator *lc);

/*
 * The master of generation gen failed its user: look again now (nothing when the locator has
 * moved past gen already). Never blocks beyond the mutex.
 */
void hm_locator_suspect(struct hm_locator *lc, uint64_t gen);

/* Stops the thread (within a look's timeout) and frees. NULL is fine. */
void hm_locator_stop(struct hm_locator *lc);

#endif
