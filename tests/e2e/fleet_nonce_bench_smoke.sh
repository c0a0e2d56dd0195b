#!/bin/sh
# fleet_nonce_bench_smoke.sh - hmacd-bench --fleet end to end at small shapes: its own
# redis-server (and a replica for --fleet-wait 1), the fleet made with the real hmacctl, hmacd in
# fleet mode; nonce items claimed in Redis or kept in the local cache only. Every nonce item must
# be OK exactly once (each frame is sent once), tampered ones BAD_SIGNATURE, every claim
# counted, and the replays after the load REPLAY: on the same hmacd and, with claims in Redis, on
# a second hmacd of the fleet, where Redis refuses them. Correctness only: no timing assertion
# (the cost of the claims is measured by bench/fleet_nonces.sh and written in BENCHMARKS.md).
# A generous --fleet-timeout keeps a slow machine (valgrind, sanitizers) from answering 9.
# Plain sh; exit 0 pass, 1 fail, 77 skip.
#
# Runs $HMACD_BENCH (default ./bench/hmacd-bench) with $HMACD and $HMACCTL (make check exports
# all three). Built only with fleet mode (hiredis); needs redis-server on PATH.

BENCH=${HMACD_BENCH:-./bench/hmacd-bench}
HMACD=${HMACD:-./daemon/hmacd}
HMACCTL=${HMACCTL:-./daemon/hmacctl}
export HMACD HMACCTL

if ! command -v redis-server >/dev/null 2>&1; then
	echo "# skipped: redis-server is not installed (package redis-server)"
	exit 77
fi
if [ ! -x "$BENCH" ] || [ ! -x "$HMACD" ] || [ ! -x "$HMACCTL" ]; then
	echo "not ok: $BENCH, $HMACD or $HMACCTL is not built"
	exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fleet-nonce-smoke-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
fail=0

# field NAME FILE: the first numeric value of "NAME": in FILE
field() {
	grep -o "\"$1\":[0-9][0-9.]*" "$2" | head -n 1 | cut -d: -f2
}

# section KEY FILE: the JSON text from "KEY": (a key that occurs once) to the end
section() {
	sed -n "s/.*\"$1\":/\"$1\":/p" "$2"
}

# bad NAME WHY: report a failure with the run's output
bad() {
	echo "not ok: $1: $2"
	cat "$tmp/$1.err" "$tmp/$1.json"
	fail=1
}

# run NAME HOSTS -- ARGS: hmacd-bench --fleet --nonce --json ARGS must exit 0 with "ok":true;
# every item OK but the tampered ones (BAD_SIGNATURE), as many claims as OK items with Redis
# (none with local), and the replays REPLAY on HOSTS hosts (1: the same; 2: and a second one).
run() {
	name=$1 hosts=$2
	shift 3
	out=$tmp/$name.json
	echo "# $name: hmacd-bench --fleet --nonce $*"
	"$BENCH" --quiet --json --timeout 30 --fleet --nonce --tmpdir "$tmp" \
		--daemon-arg --fleet-timeout --daemon-arg 10000 "$@" >"$out" 2>"$tmp/$name.err"
	st=$?
	if [ $st -ne 0 ]; then
		bad "$name" "hmacd-bench exited with status $st"
		return
	fi
	if ! grep -q '^{"ok":true' "$out" || ! grep -q '"mismatches":0,"errors":0' "$out" ||
		grep -q '"check_error"' "$out"; then
		bad "$name" "the run reports a failure"
		return
	fi
	ok=$(field OK "$out")
	sig=$(field BAD_SIGNATURE "$out")
	items=$(field items "$out")
	if [ -z "$ok" ] || [ "$ok" -eq 0 ] || [ "$sig" -eq 0 ] || [ $((ok + sig)) -ne "$items" ]; then
		bad "$name" "not every item was OK or BAD_SIGNATURE ($ok + $sig of $items)"
		return
	fi
	claims=$(section fleet "$out" >"$tmp/$name.fleet" && field claims "$tmp/$name.fleet")
	case $* in
	*"--fleet-nonces local"*)
		if [ -n "$claims" ]; then
			bad "$name" "--fleet-nonces local, yet claims were counted"
			return
		fi
		;;
	*)
		if [ "$claims" != "$ok" ] || [ "$(field claimed "$tmp/$name.fleet")" != "$ok" ]; then
			bad "$name" "$ok items OK, but $claims claims"
			return
		fi
		;;
	esac
	section same_host "$out" >"$tmp/$name.same"
	rs=$(field REPLAY "$tmp/$name.same")
	if [ -z "$rs" ] || [ "$rs" -eq 0 ]; then
		bad "$name" "no REPLAY from the same host"
		return
	fi
	if [ "$hosts" = 2 ]; then
		section other_host "$out" >"$tmp/$name.other"
		ro=$(field REPLAY "$tmp/$name.other")
		if [ "$ro" != "$rs" ] || [ "$(field other_host_taken "$out")" != "$ro" ]; then
			bad "$name" "the second host did not refuse every replay through Redis"
			return
		fi
	elif grep -q '"other_host"' "$out"; then
		bad "$name" "a second host without claims in Redis"
		return
	fi
	echo "ok: $name ($items items, $ok OK; replays REPLAY on $hosts host(s))"
}

shape="--scopes 100 --connections 4 --batch 16 --pipeline 2 --requests 8000 --invalid-ratio 0.1"
# claims in Redis, batched: a frame's claims pipelined together
run redis 2 -- $shape
# the local nonce cache only: no claim, the replay refused by the same host
run local 1 -- $shape --fleet-nonces local
# claims that must reach a replica (WAIT 1) before the item is OK
run redis-wait1 2 -- $shape --fleet-wait 1
# unbatched: one item per frame, one claim per round trip
run redis-unbatched 2 -- --scopes 50 --connections 8 --batch 1 --pipeline 1 --requests 2000 \
	--invalid-ratio 0.1
# RFC 9421 items with a nonce parameter, claimed the same way
run rfc9421 2 -- --scheme rfc9421 --scopes 50 --connections 2 --batch 8 --pipeline 2 \
	--requests 2000 --invalid-ratio 0.1
if [ -n "$(ls -A "$tmp" | grep -v -e '\.json$' -e '\.err$' -e '\.fleet$' -e '\.same$' \
	-e '\.other$')" ]; then
	echo "not ok: the bench left files behind in $tmp"
	ls -la "$tmp"
	fail=1
fi
exit $fail
