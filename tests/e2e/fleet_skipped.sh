#!/bin/sh
# Built without fleet mode (configure --without-fleet, or no hiredis found): the fleet tests
# (test_fleet_conn, e2e_fleet) are not built. Say so in make check's summary as a SKIP.
echo "fleet mode is not built (configure --without-fleet, or no libhiredis-dev):" \
	"the fleet tests test_fleet_conn and e2e_fleet are SKIPPED" >&2
exit 77
