#!/bin/sh
# scopes.sh - the scale of scopes in one run: 10,000 and 1,000,000 scopes, uniform and Zipf
# (s = 1.0), for one or more hmacd builds, interleaved round by round (A B A B ...), medians in
# a Markdown table (bench/README.md, "scopes.sh"; BENCHMARKS.md, "Scale of scopes").
#
# Shapes, each hmacd-bench --json --gen-threads 2 --duration D (batched 64 x 8 x 4):
#   10k-uniform   --scopes 10000                           --warmup 3
#   10k-zipf      --scopes 10000 --scope-dist zipf         --warmup 3
#   1M-uniform    --scopes 1000000                         --warmup W
#   1M-zipf       --scopes 1000000 --scope-dist zipf       --warmup W
#   1M-uniform-kc, 1M-zipf-kc: the same with the build's --key-cache KC (only for builds
#                 given one)
#
# usage: bench/scopes.sh --hmacd NAME=PATH[:KC] [--hmacd NAME=PATH[:KC] ...] [--rounds N(3)]
#                        [--duration SECONDS(10)] [--warmup-1m SECONDS(15)] [--shapes LIST]
#                        [--bench PATH] [--raw FILE] [--out FILE]
# --shapes: comma-separated names from the list above (default: all). --raw FILE appends each
# run's JSON object, prefixed by "# shape build round". The table gives, per shape and build,
# the medians of verifies/s, daemon CPU per item, daemon peak RSS and the cores other processes
# took during the measurement (the machine's load), and the ratios to the same
# build's 10k-uniform medians (of verifies/s, and of CPU per item inverted: 10k CPU / CPU).
# Exit status: 0 done, 1 a run failed (a wrong verdict included), 2 usage.

set -u

ROUNDS=3
DURATION=10
WARMUP_1M=15
SHAPES=10k-uniform,10k-zipf,1M-uniform,1M-zipf,1M-uniform-kc,1M-zipf-kc
BENCH=${HMACD_BENCH:-}
RAW=
OUT=
BUILDS=

usage() {
	sed -n 's/^# \{0,1\}//; /^usage:/,/^Exit/p' "$0" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--hmacd) BUILDS="$BUILDS ${2:?}"; shift 2 ;;
	--rounds) ROUNDS=${2:?}; shift 2 ;;
	--duration) DURATION=${2:?}; shift 2 ;;
	--warmup-1m) WARMUP_1M=${2:?}; shift 2 ;;
	--shapes) SHAPES=${2:?}; shift 2 ;;
	--bench) BENCH=${2:?}; shift 2 ;;
	--raw) RAW=${2:?}; shift 2 ;;
	--out) OUT=${2:?}; shift 2 ;;
	*) usage ;;
	esac
done
[ -n "$BUILDS" ] || usage
if [ -z "$BENCH" ]; then
	BENCH=$(dirname "$0")/hmacd-bench
	[ -x "$BENCH" ] || BENCH=./bench/hmacd-bench
fi
[ -x "$BENCH" ] || { echo "scopes.sh: no hmacd-bench at $BENCH" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/scopes-XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

# num NAME FILE: the first numeric value of "NAME": in the JSON object
num() {
	sed -n "s/.*\"$1\":\([0-9][0-9.]*\).*/\1/p" "$2" | head -n 1
}

# args SHAPE KC: hmacd-bench arguments of the shape (empty: skip it for this build)
args() {
	case $1 in
	10k-uniform) echo "--scopes 10000 --warmup 3" ;;
	10k-zipf) echo "--scopes 10000 --scope-dist zipf --warmup 3" ;;
	1M-uniform) echo "--scopes 1000000 --warmup $WARMUP_1M" ;;
	1M-zipf) echo "--scopes 1000000 --scope-dist zipf --warmup $WARMUP_1M" ;;
	1M-uniform-kc)
		[ -n "$2" ] && echo "--scopes 1000000 --warmup $WARMUP_1M" \
			"--daemon-arg --key-cache --daemon-arg $2" ;;
	1M-zipf-kc)
		[ -n "$2" ] && echo "--scopes 1000000 --scope-dist zipf --warmup $WARMUP_1M" \
			"--daemon-arg --key-cache --daemon-arg $2" ;;
	*) echo "scopes.sh: unknown shape $1" >&2; exit 2 ;;
	esac
}

fail=0
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), load: $(uptime | sed 's/.*load average: //')" >&2
r=1
while [ "$r" -le "$ROUNDS" ]; do
	for shape in $(echo "$SHAPES" | tr ',' ' '); do
		for b in $BUILDS; do
			name=${b%%=*}
			rest=${b#*=}
			path=${rest%%:*}
			kc=
			[ "$rest" != "$path" ] && kc=${rest#*:}
			a=$(args "$shape" "$kc") || exit 2
			[ -n "$a" ] || continue
			out="$tmp/run.json"
			# shellcheck disable=SC2086 # $a is a list of arguments
			"$BENCH" --quiet --json --hmacd "$path" --gen-threads 2 \
				--duration "$DURATION" $a >"$out" 2>"$tmp/run.err"
			st=$?
			[ -n "$RAW" ] && { echo "# $shape $name $r"; cat "$out"; } >>"$RAW"
			if [ $st -ne 0 ] || ! grep -q '^{"ok":true' "$out" ||
			    ! grep -q '"mismatches":0,"errors":0' "$out"; then
				echo "scopes.sh: $shape $name round $r failed (status $st)" >&2
				cat "$tmp/run.err" >&2
				fail=1
				continue
			fi
			v=$(num verifies_per_s "$out")
			c=$(num daemon_cpu_ns_per_item "$out")
			m=$(num daemon_peak_rss_kb "$out")
			o=$(num other_cores "$out")
			echo "$shape $name $v $c $m ${o:-0}" >>"$tmp/all"
			echo "round $r $shape $name: $v/s, $c ns/item, other cores $o" >&2
		done
	done
	r=$((r + 1))
done
[ -s "$tmp/all" ] || exit 1

# median COLUMN SHAPE NAME
median() {
	awk -v s="$2" -v n="$3" -v c="$1" '$1 == s && $2 == n { print $c }' "$tmp/all" |
		sort -n | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)] }'
}

{
	echo "| shape | build | runs | verifies/s | daemon CPU/item | peak RSS | other cores | x 10k-uniform (verifies/s) | x 10k-uniform (CPU/item) |"
	echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
	for shape in $(echo "$SHAPES" | tr ',' ' '); do
		for b in $BUILDS; do
			name=${b%%=*}
			runs=$(awk -v s="$shape" -v n="$name" '$1 == s && $2 == n' "$tmp/all" | wc -l)
			[ "$runs" -gt 0 ] || continue
			v=$(median 3 "$shape" "$name")
			c=$(median 4 "$shape" "$name")
			m=$(median 5 "$shape" "$name")
			o=$(median 6 "$shape" "$name")
			v0=$(median 3 10k-uniform "$name")
			c0=$(median 4 10k-uniform "$name")
			awk -v s="$shape" -v n="$name" -v k="$runs" -v v="$v" -v c="$c" -v m="$m" \
			    -v o="${o:-0}" -v v0="${v0:-0}" -v c0="${c0:-0}" 'BEGIN {
				rv = v0 > 0 ? sprintf("%.2f", v / v0) : "-";
				rc = c > 0 && c0 > 0 ? sprintf("%.2f", c0 / c) : "-";
				printf "| %s | %s | %d | %d | %d ns | %.0f MB | %.2f | %s | %s |\n",
				       s, n, k, v, c, m / 1024, o, rv, rc }'
		done
	done
} >"$tmp/table"
if [ -n "$OUT" ]; then
	cp "$tmp/table" "$OUT"
fi
cat "$tmp/table"
exit $fail
