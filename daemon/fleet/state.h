/*
 * state.h - the states of a fleet host's follower (follow.h), as stats reports them. Apart from
 * follow.h so that hmacctl prints their names in any build, with or without hiredis.
 */
#ifndef HM_FLEET_STATE_H
#define HM_FLEET_STATE_H

#include <stdint.h>

/* fleet_state in stats: a number on the wire, the word in hmacctl stats */
enum hm_follow_state {
	HM_FOLLOW_OFF = 0,       /* "off": not in fleet mode */
	HM_FOLLOW_FOLLOWING = 1, /* "following" */
	HM_FOLLOW_SYNCING = 2,   /* "syncing": a full sync is running */
	HM_FOLLOW_DOWN = 3,      /* "down": Redis cannot be reached */
	HM_FOLLOW_LOST = 4,      /* "lost": Redis no longer holds this fleet */
};

/* "off", "following", "syncing", "down", "lost"; "unknown" otherwise. */
const char *hm_follow_state_name(uint64_t state);

#endif
