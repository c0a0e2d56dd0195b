#!/bin/sh
# bench_smoke.sh - hmacd-bench end to end at small shapes: each mode runs to the end and every
# verdict is the expected one (tampered items included). No timing assertion: speed is measured
# by bench/ and BENCHMARKS.md, not tested. Plain sh; exit 0 pass, 1 fail.
#
# Runs $HMACD_BENCH (default ./bench/hmacd-bench) starting $HMACD (make check exports both).

BENCH=${HMACD_BENCH:-./bench/hmacd-bench}
HMACD=${HMACD:-./daemon/hmacd}
export HMACD
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-smoke-XXXXXX") || exit 1
dpid=
fail=0

cleanup() {
	if [ -n "$dpid" ]; then
		kill "$dpid" 2>/dev/null
		wait "$dpid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# field NAME FILE: the first numeric value of "NAME": in the JSON object
field() {
	sed -n "s/.*\"$1\":\([0-9][0-9.]*\).*/\1/p" "$2" | head -n 1
}

# run NAME [CHECK...] -- ARGS: hmacd-bench --json ARGS must exit 0 with "ok":true, some items,
# no wrong verdict and no error; each CHECK is a verdict name that must have a non-zero count.
run() {
	name=$1
	shift
	checks=
	while [ "$1" != "--" ]; do
		checks="$checks $1"
		shift
	done
	shift
	out="$tmp/$name.json"
	echo "# $name: hmacd-bench $*"
	"$BENCH" --quiet --json --timeout 20 "$@" >"$out" 2>"$tmp/$name.err"
	st=$?
	if [ $st -ne 0 ]; then
		echo "not ok: $name: hmacd-bench exited with status $st"
		cat "$tmp/$name.err" "$out"
		fail=1
		return
	fi
	if ! grep -q '^{"ok":true' "$out" || ! grep -q '"mismatches":0,"errors":0' "$out"; then
		echo "not ok: $name: the run reports a failure"
		cat "$out"
		fail=1
		return
	fi
	items=$(field items "$out")
	if [ -z "$items" ] || [ "$items" -eq 0 ]; then
		echo "not ok: $name: no item was verified"
		cat "$out"
		fail=1
		return
	fi
	for v in $checks; do
		n=$(field "$v" "$out")
		if [ -z "$n" ] || [ "$n" -eq 0 ]; then
			echo "not ok: $name: no $v verdict"
			cat "$out"
			fail=1
			return
		fi
	done
	echo "ok: $name ($items items)"
}

if [ ! -x "$BENCH" ] || [ ! -x "$HMACD" ]; then
	echo "not ok: $BENCH or $HMACD is not built"
	exit 1
fi

# our own daemon, tampered items mixed in: OK and BAD_SIGNATURE must both come back right
run daemon OK BAD_SIGNATURE -- --scopes 100 --connections 4 --batch 16 --pipeline 2 \
	--duration 2 --invalid-ratio 0.1 --tmpdir "$tmp"
# replay-protected items, each frame sent once
run nonce OK -- --scopes 100 --connections 4 --batch 16 --pipeline 2 --nonce \
	--requests 20000 --tmpdir "$tmp"
# scopes drawn by a Zipf distribution (the pool must still be all right)
run zipf OK -- --scopes 1000 --scope-dist zipf --zipf-s 1.2 --connections 2 --batch 16 \
	--pipeline 2 --requests 20000 --tmpdir "$tmp"
if ! grep -q '"scope_dist":"zipf","zipf_s":1.2' "$tmp/zipf.json"; then
	echo "not ok: zipf: params.scope_dist and zipf_s missing"
	fail=1
fi
# the in-process baseline alone
run inproc OK BAD_SIGNATURE -- --inproc --scopes 100 --batch 16 --requests 20000 \
	--invalid-ratio 0.1 --tmpdir "$tmp"
# RFC 9421 items (keyid, Content-Digest, tampered signatures); our hmacd gets
# --policy-no-nonce since these carry no nonce
run rfc9421 OK BAD_SIGNATURE -- --scheme rfc9421 --scopes 100 --connections 4 --batch 16 \
	--pipeline 2 --requests 20000 --invalid-ratio 0.1 --tmpdir "$tmp"
# ... with nonces, through the in-process verify engine
run rfc9421-inproc OK BAD_SIGNATURE -- --scheme rfc9421 --inproc --nonce --scopes 100 \
	--batch 16 --requests 20000 --invalid-ratio 0.1 --tmpdir "$tmp"

# --socket mode against a daemon we start, scopes created in its live store, body digests
"$HMACD" --socket "$tmp/ext.sock" --db "$tmp/ext-db" --log-level warn &
dpid=$!
# ready when it answers, not when its socket file appears (bind comes before listen)
i=0
until "$HMACCTL" --socket "$tmp/ext.sock" ping >/dev/null 2>&1 || [ $i -ge 500 ]; do
	sleep 0.02
	i=$((i + 1))
done
run socket OK BAD_SIGNATURE -- --socket "$tmp/ext.sock" --db "$tmp/ext-db" --daemon-pid "$dpid" \
	--scopes 50 --connections 2 --batch 8 --pipeline 4 --requests 5000 --digest \
	--invalid-ratio 0.2
# RFC 9421 against a daemon with the default policy (which wants a nonce): the bench stores a
# policy for its own tenants, so the items are judged on their signatures
run rfc9421-socket OK BAD_SIGNATURE -- --scheme rfc9421 --socket "$tmp/ext.sock" \
	--db "$tmp/ext-db" --daemon-pid "$dpid" --scopes 50 --connections 2 --batch 8 \
	--pipeline 4 --requests 5000 --invalid-ratio 0.2
# the checker itself: scopes created in another store are unknown to that daemon, so every
# verdict is UNKNOWN_KEY instead of OK, and the run must fail (exit 1) and say why
echo "# wrong verdicts must fail the run"
"$BENCH" --quiet --json --socket "$tmp/ext.sock" --db "$tmp/other-db" --scopes 10 \
	--connections 1 --batch 4 --requests 400 >"$tmp/wrong.json" 2>"$tmp/wrong.err"
st=$?
if [ $st -ne 1 ] || ! grep -q '^{"ok":false' "$tmp/wrong.json" ||
	[ "$(field UNKNOWN_KEY "$tmp/wrong.json")" != 400 ] ||
	[ "$(field mismatches "$tmp/wrong.json")" != 400 ]; then
	echo "not ok: wrong verdicts were not reported (exit status $st)"
	cat "$tmp/wrong.json" "$tmp/wrong.err"
	fail=1
else
	echo "ok: wrong verdicts fail the run"
fi
if ! kill -0 "$dpid" 2>/dev/null; then
	echo "not ok: the external daemon died"
	fail=1
fi

exit $fail
