/*
 * admin.h - hmacctl's writes and reads of a fleet (doc/fleet.md, "Writes").
 *
 * The same commands and the same rules as the local store's (store/keystore.h): create, rotate
 * (the current epoch superseded with a grace deadline), import, revoke (the secret gone, the
 * key id kept), policy set/unset; key ids unique in the whole fleet, forever. Each write is one
 * optimistic transaction: WATCH P seq, read what the change depends on, then MULTI: the
 * records at the next version (above seq, and at least the clock in microseconds, so that a
 * Redis that lost its latest writes never makes versions go back), the key id claim, seq and
 * one entry on P changes; EXEC. A concurrent write makes EXEC fail and the write is redone
 * from the start, so two hmacctl on two hosts never lose each other's change. Every record is sealed on this host.
 *
 * Codes are the store's (HM_EEXIST, HM_ENOTFOUND, HM_ESTATE, HM_EINVAL), and HM_ECONN,
 * HM_EPROTO, HM_ECRYPTO; the reason is in f->err, never with a secret. The fleet's meta is
 * checked first (hm_fleet_meta_check): a fleet sealed with another seal key is HM_EPROTO, like a
 * record that does not open, never HM_ESTATE (which is an epoch's state).
 */
#ifndef HM_FLEET_ADMIN_H
#define HM_FLEET_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fleet/fleet.h"
#include "proto/policy.h"
#include "store/keystore.h"

int hm_fleet_create(struct hm_fleet *f, const char *tenant, const char *container, int64_t now,
		    const char *keyid, uint8_t secret[static HM_KEY_LEN],
		    struct hm_ks_added *out) HM_MUSTCHECK;
int hm_fleet_rotate(struct hm_fleet *f, const char *tenant, const char *container, int64_t now,
		    int64_t grace_seconds, const char *keyid, uint8_t secret[static HM_KEY_LEN],
		    struct hm_ks_added *out) HM_MUSTCHECK;
int hm_fleet_import(struct hm_fleet *f, const char *tenant, const char *container, int64_t now,
		    int64_t grace_seconds, const char *keyid, const uint8_t *secret,
		    size_t secret_len, struct hm_ks_added *out) HM_MUSTCHECK;
int hm_fleet_revoke(struct hm_fleet *f, const char *tenant, const char *container,
		    uint32_t epoch) HM_MUSTCHECK;
int hm_fleet_policy_set(struct hm_fleet *f, const char *tenant, const char *container,
			const struct hm_policy *p) HM_MUSTCHECK;
int hm_fleet_policy_unset(struct hm_fleet *f, const char *tenant,
			  const char *container) HM_MUSTCHECK;

/* The effective policy of a scope, as hm_ks_policy_get() gives it for a store. */
int hm_fleet_policy_get(struct hm_fleet *f, const char *tenant, const char *container,
			struct hm_policy *out, enum hm_policy_source *src) HM_MUSTCHECK;

/*
 * Every epoch (tenant NULL) or a tenant's, in the store's order (hm_ks_list), from one scan
 * of the fleet. *refused (may be NULL) counts records that did not open. HM_OK, HM_ENOMEM,
 * HM_ECONN, or fn's non-zero value.
 */
int hm_fleet_list(struct hm_fleet *f, const char *tenant,
		  int (*fn)(const struct hm_key_info *info, void *arg), void *arg,
		  size_t *refused) HM_MUSTCHECK;
int hm_fleet_policy_list(struct hm_fleet *f, const char *tenant,
			 int (*fn)(const struct hm_policy_info *info, void *arg), void *arg,
			 size_t *refused) HM_MUSTCHECK;

/* What hm_fleet_import_store() did. */
struct hm_fleet_imported {
	char fleet_id[HM_SEAL_ID_HEX];
	bool created;     /* the fleet's meta was created (an empty Redis re-seeded) */
	size_t written;   /* records written */
	size_t kept;      /* records the fleet had already: kept (without force) */
	size_t conflicts; /* epochs whose key id another record of the fleet holds: skipped */
};

/*
 * Copies every epoch and policy of the local store ks into the fleet: the way an existing host
 * joins a fleet, and the way an emptied Redis is re-seeded from a host's mirror. When Redis has
 * no fleet under the prefix, one is created with the fleet id the store mirrors (or a new one);
 * a store that mirrors another fleet than Redis holds is refused (HM_ESTATE). A record the
 * fleet has already is kept unless force; versions start above any the store has seen, so
 * every host takes the copies as new. In batches of writes; HM_OK with *res.
 */
int hm_fleet_import_store(struct hm_fleet *f, struct hm_keystore *ks, bool force,
			  struct hm_fleet_imported *res) HM_MUSTCHECK;

#endif
