#!/bin/sh
# fleet_unit.sh - the fleet drop-in for the systemd unit, daemon/hmacd.service.d/fleet.conf,
# as shipped: `systemd-analyze verify` accepts hmacd.service with it, and its credentials and
# environment, with the commands of hmacd.service, run hmacd in fleet mode against a real
# redis-server with a password: ExecStartPre= (--check-config) passes, ExecStart= syncs the
# fleet, follows it (a rotation arrives) and stops cleanly.
#
# What systemd would do is done by hand: each LoadCredential=ID:PATH becomes the file ID in a
# credentials directory (mode 0400, owned by the service's user, as systemd 252 writes them),
# %d in Environment= becomes that directory, HMACD_FLEET (a placeholder in the drop-in) points
# at our Redis, and the unit's paths become this test's (binary, socket, store, clients' group).
# Plain sh; exit 0 pass, 1 fail, 77 skip. Uses $HMACD and $HMACCTL (make check exports them).

HMACD=${HMACD:-./daemon/hmacd}
HMACCTL=${HMACCTL:-./daemon/hmacctl}
unset HMACD_DB HMACD_SOCKET HMACD_FLEET HMACD_FLEET_PREFIX HMACD_SEAL_KEY_FILE \
	HMACD_FLEET_PASSWORD_FILE
units=$(cd "$(dirname "$0")/../../daemon" && pwd) || exit 1
dropin=$units/hmacd.service.d/fleet.conf

if ! command -v redis-server >/dev/null 2>&1; then
	echo "# skipped: redis-server is not installed (package redis-server)"
	exit 77
fi
if [ ! -x "$HMACD" ] || [ ! -x "$HMACCTL" ]; then
	echo "not ok: $HMACD or $HMACCTL is not built"
	exit 1
fi
case $HMACD in /*) ;; *) HMACD=$(pwd)/$HMACD ;; esac
case $HMACCTL in /*) ;; *) HMACCTL=$(pwd)/$HMACCTL ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fleet-unit-XXXXXX") || exit 1
dpid=
cleanup() {
	if [ -n "$dpid" ]; then
		kill "$dpid" 2>/dev/null
		wait "$dpid" 2>/dev/null
	fi
	if [ -f "$tmp/redis.pid" ]; then
		kill "$(cat "$tmp/redis.pid")" 2>/dev/null
		i=0
		while [ -f "$tmp/redis.pid" ] && [ $i -lt 100 ]; do
			sleep 0.05
			i=$((i + 1))
		done
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail=0

# ---- systemd-analyze verify: the unit with the drop-in, the unit's paths made real ----
if command -v systemd-analyze >/dev/null 2>&1; then
	mkdir -p "$tmp/units/hmacd.service.d"
	sed "s#/usr/sbin/hmacd#$HMACD#g" "$units/hmacd.service" >"$tmp/units/hmacd.service"
	cp "$units/hmacd.socket" "$tmp/units/"
	cp "$dropin" "$tmp/units/hmacd.service.d/"
	systemd-analyze verify "$tmp/units/hmacd.service" >"$tmp/verify.out" 2>&1
	st=$?
	# only what it says about our files counts (a container may lack parts of systemd)
	if [ $st -ne 0 ] || grep -q 'hmacd' "$tmp/verify.out"; then
		echo "not ok: systemd-analyze verify hmacd.service with fleet.conf (status $st)"
		cat "$tmp/verify.out"
		fail=1
	else
		echo "ok: systemd-analyze verify accepts hmacd.service with fleet.conf"
	fi
else
	echo "# systemd-analyze is not installed (package systemd): unit syntax not checked"
fi

# ---- credentials, as LoadCredential= would place them ----
creds=$tmp/credentials
mkdir -m 0700 "$creds"
"$HMACCTL" seal-key generate --out "$tmp/seal.key" >/dev/null || exit 1
printf 'fleet-unit-pw-%s\n' "$$" >"$tmp/redis-password"
ncreds=0
for c in $(sed -n 's/^LoadCredential=//p' "$dropin"); do
	id=${c%%:*}
	case $c in
	*seal*) src=$tmp/seal.key ;;
	*password*) src=$tmp/redis-password ;;
	*)
		echo "not ok: fleet.conf loads a credential this test does not know: $c"
		exit 1
		;;
	esac
	cp "$src" "$creds/$id" && chmod 0400 "$creds/$id" || exit 1
	ncreds=$((ncreds + 1))
done
if [ $ncreds -ne 2 ]; then
	echo "not ok: fleet.conf should load the seal key and the Redis password ($ncreds found)"
	exit 1
fi

# ---- Redis with that password (in a configuration file, not on a command line) ----
(umask 077 && printf 'requirepass %s\n' "$(cat "$tmp/redis-password")" >"$tmp/redis.conf")
redis-server "$tmp/redis.conf" --port 0 --unixsocket "$tmp/redis.sock" --unixsocketperm 700 \
	--save '' --appendonly no --dir "$tmp" --daemonize yes --pidfile "$tmp/redis.pid" \
	--logfile "$tmp/redis.log" || exit 1
i=0
while [ ! -S "$tmp/redis.sock" ] && [ $i -lt 200 ]; do
	sleep 0.05
	i=$((i + 1))
done

# ---- the drop-in's environment ----
nenv=0
while IFS= read -r line; do
	name=${line%%=*}
	value=$(printf '%s' "${line#*=}" | sed "s#%d#$creds#g")
	case $name in
	HMACD_FLEET) value=unix://$tmp/redis.sock ;; # the drop-in's is a placeholder
	HMACD_SEAL_KEY_FILE | HMACD_FLEET_PASSWORD_FILE | HMACD_FLEET_PREFIX) ;;
	*)
		echo "not ok: fleet.conf sets $name, which hmacd does not read"
		exit 1
		;;
	esac
	export "$name=$value"
	nenv=$((nenv + 1))
done <<EOF
$(sed -n 's/^Environment=//p' "$dropin")
EOF
if [ $nenv -lt 3 ] || [ -z "$HMACD_FLEET" ] || [ ! -f "$HMACD_SEAL_KEY_FILE" ] ||
	[ ! -f "$HMACD_FLEET_PASSWORD_FILE" ]; then
	echo "not ok: fleet.conf must set HMACD_FLEET and name both credentials under %d"
	exit 1
fi
# hmacctl on the admin host: the same fleet, seal key and password
if ! "$HMACCTL" init >"$tmp/init.out" 2>&1 ||
	! "$HMACCTL" key create --tenant unit --container c1 >/dev/null 2>"$tmp/create.err"; then
	echo "not ok: hmacctl init / key create against the fleet"
	cat "$tmp/init.out" "$tmp/create.err"
	exit 1
fi

# ---- hmacd.service's commands, with this test's paths ----
# unit_cmd KEY: the command of KEY= in hmacd.service, the unit's paths swapped for ours
unit_cmd() {
	sed -n "s/^$1=//p" "$units/hmacd.service" | sed -e "s#/usr/sbin/hmacd#$HMACD#" \
		-e "s#/run/hmacd/hmacd.sock#$tmp/hmacd.sock#" -e "s#/var/lib/hmacd#$tmp/db#" \
		-e "s#hmacd-clients#$(id -gn)#"
}
pre=$(unit_cmd ExecStartPre)
start=$(unit_cmd ExecStart)
if [ -z "$pre" ] || [ -z "$start" ]; then
	echo "not ok: hmacd.service has no ExecStartPre= or ExecStart="
	exit 1
fi
# shellcheck disable=SC2086 # the unit's command line, split on spaces as systemd does
out=$($pre 2>&1)
st=$?
if [ $st -ne 0 ] || ! printf '%s\n' "$out" | grep -q 'configuration ok'; then
	echo "not ok: ExecStartPre= with fleet.conf: status $st: $out"
	fail=1
else
	echo "ok: ExecStartPre= (--check-config) passes with the drop-in's credentials"
fi
# shellcheck disable=SC2086
$start --log-level warn 2>"$tmp/hmacd.err" &
dpid=$!
i=0
while [ ! -S "$tmp/hmacd.sock" ] && kill -0 "$dpid" 2>/dev/null && [ $i -lt 400 ]; do
	sleep 0.05
	i=$((i + 1))
done
# counter NAME: hmacd's counter NAME (0 when it cannot be read)
counter() {
	v=$("$HMACCTL" --socket "$tmp/hmacd.sock" stats 2>/dev/null | sed -n "s/^$1 //p")
	echo "${v:-0}"
}
if [ "$(counter fleet_state)" != following ] || [ "$(counter fleet_changes_applied)" != 1 ]; then
	echo "not ok: ExecStart= with fleet.conf does not follow the fleet"
	"$HMACCTL" --socket "$tmp/hmacd.sock" stats
	cat "$tmp/hmacd.err"
	fail=1
else
	# a change made after the start arrives (waited for, not timed)
	"$HMACCTL" key rotate --tenant unit --container c1 >/dev/null 2>"$tmp/rotate.err" ||
		{ cat "$tmp/rotate.err"; fail=1; }
	i=0
	while [ "$(counter fleet_changes_applied)" = 1 ] && [ $i -lt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	if [ "$(counter fleet_changes_applied)" -lt 2 ] || [ "$(counter fleet_records_refused)" != 0 ]
	then
		echo "not ok: the rotation did not reach hmacd"
		"$HMACCTL" --socket "$tmp/hmacd.sock" stats
		fail=1
	else
		echo "ok: ExecStart= with the drop-in syncs and follows the fleet"
	fi
fi
kill "$dpid"
wait "$dpid"
st=$?
dpid=
if [ $st -ne 0 ]; then
	echo "not ok: hmacd exited with status $st at SIGTERM"
	cat "$tmp/hmacd.err"
	fail=1
fi
exit $fail
