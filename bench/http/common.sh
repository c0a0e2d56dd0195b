# shellcheck shell=sh
# common.sh - what bench/http/run.sh and pyclient_ab.sh share, sourced by both after they set
# PY, HMACD and HMACCTL: a private temporary directory removed on exit (with the apps and hmacd
# stopped), hmacd on a store of N scopes, a free loopback port, and an app's health check.
# Every function prints its errors prefixed with the script's name and returns non-zero.

me=${0##*/}
tmp='' daemon='' groups='' # groups: the process groups of the apps running

# hm_tmp PREFIX: $tmp, a new directory only we can read (umask 077: the store, the keys file
# and the signed requests), in /dev/shm when it is writable; removed, with everything we
# started stopped, when the script exits.
hm_tmp() {
	umask 077
	base=/dev/shm
	[ -d "$base" ] && [ -w "$base" ] || base=${TMPDIR:-/tmp}
	tmp=$(mktemp -d "$base/$1.XXXXXX") || return 1
	trap cleanup EXIT
	trap 'exit 1' HUP INT TERM
}
stop_apps() {
	for g in $groups; do
		kill -- "-$g" 2>/dev/null
		wait "$g" 2>/dev/null
	done
	groups=
}
cleanup() {
	stop_apps
	[ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
	[ -n "$tmp" ] && rm -rf "$tmp"
}

# hm_start_hmacd [ARG...]: hmacd on $tmp/s with the store $tmp/db (its own process group where
# setsid exists); its pid in $daemon once the socket is there.
hm_start_hmacd() {
	if command -v setsid >/dev/null 2>&1; then
		setsid "$HMACD" --socket "$tmp/s" --db "$tmp/db" --log-level warn "$@" \
			>"$tmp/hmacd.log" 2>&1 &
	else
		"$HMACD" --socket "$tmp/s" --db "$tmp/db" --log-level warn "$@" >"$tmp/hmacd.log" 2>&1 &
	fi
	daemon=$!
	i=0
	while [ ! -S "$tmp/s" ]; do
		if ! kill -0 "$daemon" 2>/dev/null || [ "$i" -gt 100 ]; then
			echo "$me: hmacd did not start" >&2
			cat "$tmp/hmacd.log" >&2
			return 1
		fi
		i=$((i + 1))
		sleep 0.1
	done
}

# hm_scopes N: keys for tenant bench, containers c0 .. c(N-1), as hmacctl's JSON lines in
# $tmp/keys.jsonl (the signers and the in-process verifiers read them from there, never argv).
hm_scopes() {
	i=0
	while [ "$i" -lt "$1" ]; do
		"$HMACCTL" --db "$tmp/db" key create --tenant bench --container "c$i" --json \
			>>"$tmp/keys.jsonl" || return 1
		i=$((i + 1))
	done
}

free_port() {
	"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# wait_healthy PORT: 0 once the app on PORT answers /healthz with 200 (30 s at most).
wait_healthy() {
	"$PY" - "$1" <<'PYEOF'
import sys, time, urllib.request
for _ in range(300):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%s/healthz" % sys.argv[1], timeout=1) as r:
            if r.status == 200:
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.1)
sys.exit(1)
PYEOF
}
