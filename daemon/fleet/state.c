/*
 * state.c - the names of the follower's states (state.h).
 */
#include "fleet/state.h"

const char *hm_follow_state_name(uint64_t state)
{
	static const char *const names[] = {"off", "following", "syncing", "down", "lost"};

	return state < sizeof(names) / sizeof(names[0]) ? names[state] : "unknown";
}
