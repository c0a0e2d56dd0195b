#!/bin/sh
# fleet_bench_smoke.sh - hmacd-fleet-bench end to end at a small shape: its own redis-server,
# the real hmacctl and N real hmacd in fleet mode; every rotation (made by hmacctl, and in
# process) must verify on every daemon, no daemon may refuse a record, and a daemon that cannot
# follow the fleet must fail the run. No timing assertion: the propagation time is measured by
# bench/ and written in BENCHMARKS.md, not tested. Plain sh; exit 0 pass, 1 fail, 77 skip.
#
# Runs $HMACD_FLEET_BENCH (default ./bench/hmacd-fleet-bench) with $HMACD and $HMACCTL (make
# check exports all three). Built only with fleet mode (hiredis); needs redis-server on PATH.

BENCH=${HMACD_FLEET_BENCH:-./bench/hmacd-fleet-bench}
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
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fleet-bench-smoke-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
fail=0

# count STRING FILE: how many times STRING occurs in FILE
count() {
	grep -o "$1" "$2" | wc -l | tr -d ' '
}

rotations=10
runs=4 # N = 1 and 3, each rotated with hmacctl and in process
echo "# hmacd-fleet-bench --daemons 1,3 --rotations $rotations --rotate hmacctl,inproc"
"$BENCH" --quiet --json --daemons 1,3 --rotations $rotations --warmup 1 --scopes 2 \
	--rotate hmacctl,inproc --daemon-threads 1 --tmpdir "$tmp" >"$tmp/run.json" \
	2>"$tmp/run.err"
st=$?
if [ $st -ne 0 ] || ! grep -q '^{"ok":true' "$tmp/run.json"; then
	echo "not ok: hmacd-fleet-bench exited with status $st"
	cat "$tmp/run.err" "$tmp/run.json"
	fail=1
elif [ "$(count "\"ok\":true,\"rotations\":$rotations,\"propagated\":$rotations," \
	"$tmp/run.json")" != $runs ]; then
	echo "not ok: a rotation did not reach every daemon"
	cat "$tmp/run.json"
	fail=1
elif [ "$(count '"records_refused":0,' "$tmp/run.json")" != $runs ]; then
	echo "not ok: a daemon refused a fleet record"
	cat "$tmp/run.json"
	fail=1
else
	echo "ok: $runs runs, every one of $rotations rotations verified on every daemon"
fi

# the checker itself: daemons that look for the fleet under another prefix find none and
# cannot start (they have never synced), and the run must fail and say so
echo "# a daemon that cannot follow the fleet fails the run"
"$BENCH" --quiet --json --daemons 1 --rotations 2 --warmup 0 --daemon-arg --fleet-prefix \
	--daemon-arg elsewhere: --tmpdir "$tmp" >"$tmp/bad.json" 2>"$tmp/bad.err"
st=$?
if [ $st -ne 1 ] || ! grep -q '^{"ok":false' "$tmp/bad.json" ||
	! grep -q '"error":"hmacd 0: ' "$tmp/bad.json"; then
	echo "not ok: a daemon that cannot follow was not reported (exit status $st)"
	cat "$tmp/bad.err" "$tmp/bad.json"
	fail=1
else
	echo "ok: a daemon that cannot follow fails the run"
fi
if [ -n "$(ls -A "$tmp" | grep -v -e '^run\.' -e '^bad\.')" ]; then
	echo "not ok: the bench left files behind in $tmp"
	ls -la "$tmp"
	fail=1
fi
exit $fail
