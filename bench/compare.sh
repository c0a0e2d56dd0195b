#!/bin/sh
# compare.sh - hmacd against Redis on this machine, in one run, at matching shapes; writes a
# Markdown table (bench/README.md, "compare.sh").
#
# Redis: redis-server from Debian on a temporary Unix socket with no persistence, measured with
# redis-benchmark -t get -d 256 (the key is set to a 256-byte value first, so each GET returns
# 256 bytes). hmacd: hmacd-bench starting its own daemon, 256-byte bodies, 10,000 scopes.
#
#   shape       hmacd-bench                                  redis-benchmark
#   batched     --batch 64 --connections 8  --pipeline 4     -P 64 -c 8
#   unbatched   --batch 1  --connections 50 --pipeline 1     -P 1  -c 50
#   idle        --batch 1  --connections 1  --pipeline 1     -P 1  -c 1
#
# usage: bench/compare.sh [--out FILE] [--raw FILE] [--duration SECONDS] [--scopes N]
#                         [--bench PATH] [--hmacd PATH]
# --raw FILE appends every hmacd-bench JSON object and redis-benchmark CSV line to FILE.
# Exit status: 0 done, 1 a run failed (a wrong verdict included), 2 usage or missing tools.

set -u

DURATION=5
SCOPES=10000
OUT=
RAW=
BENCH=${HMACD_BENCH:-}
HMACD_ARG=

usage() {
	sed -n 's/^# \{0,1\}//; /^usage:/,/^Exit/p' "$0" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--out) OUT=${2:?}; shift 2 ;;
	--raw) RAW=${2:?}; shift 2 ;;
	--duration) DURATION=${2:?}; shift 2 ;;
	--scopes) SCOPES=${2:?}; shift 2 ;;
	--bench) BENCH=${2:?}; shift 2 ;;
	--hmacd) HMACD_ARG=${2:?}; shift 2 ;;
	-h | --help) usage ;;
	*) echo "compare.sh: unknown argument $1" >&2; usage ;;
	esac
done
case $DURATION in '' | *[!0-9]*) echo "compare.sh: --duration takes whole seconds" >&2; exit 2 ;; esac

say() { echo "compare.sh: $*" >&2; }

# hmacd-bench: --bench, $HMACD_BENCH, the build dir we run in, next to this script, $PATH
if [ -z "$BENCH" ]; then
	for b in ./bench/hmacd-bench "$(dirname "$0")/hmacd-bench" "$(command -v hmacd-bench)"; do
		if [ -n "$b" ] && [ -x "$b" ]; then
			BENCH=$b
			break
		fi
	done
fi
if [ -z "$BENCH" ] || [ ! -x "$BENCH" ]; then
	say "hmacd-bench not found: build it (make) and run from the build dir, or pass --bench"
	exit 2
fi

# Redis from Debian; installed only when missing and we are root. policy-rc.d keeps the
# package from starting a system-wide redis-server that would sit beside the measurement.
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-benchmark >/dev/null 2>&1; then
	if [ "$(id -u)" -ne 0 ]; then
		say "redis-server and redis-benchmark are needed: apt-get install -y redis-server redis-tools"
		exit 2
	fi
	say "installing redis-server and redis-tools"
	guard=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
		guard=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server redis-tools >&2
	st=$?
	[ -n "$guard" ] && rm -f /usr/sbin/policy-rc.d
	if [ $st -ne 0 ]; then
		say "apt-get install failed"
		exit 2
	fi
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hmacd-compare-XXXXXX") || exit 1
rpid=
cleanup() {
	if [ -n "$rpid" ]; then
		kill "$rpid" 2>/dev/null
		wait "$rpid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

sock=$tmp/redis.sock
redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 --save '' --appendonly no \
	--dir "$tmp" --logfile "$tmp/redis.log" --daemonize no &
rpid=$!
i=0
until [ "$(redis-cli -s "$sock" ping 2>/dev/null)" = PONG ]; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$rpid" 2>/dev/null; then
		say "redis-server did not start:"
		cat "$tmp/redis.log" >&2
		exit 1
	fi
	sleep 0.05
done
# the key redis-benchmark GETs (key:__rand_int__, as no -r is given) holds 256 bytes
redis-benchmark -s "$sock" -t set -d 256 -n 1000 -c 1 -q >/dev/null 2>&1
if [ "$(redis-cli -s "$sock" strlen key:__rand_int__)" != 256 ]; then
	say "could not set the 256-byte key"
	exit 1
fi

TCK=$(getconf CLK_TCK)
redis_cpu() { awk '{print $14 + $15}' "/proc/$rpid/stat"; }

# redis_get P C N: the CSV line of redis-benchmark for GET
redis_get() {
	redis-benchmark -s "$sock" -t get -d 256 -P "$1" -c "$2" -n "$3" --csv 2>/dev/null |
		grep '^"GET"' | tr -d '"'
}

# redis_shape P C: rps p50_us p99_us cpu_ns_per_get, for about DURATION seconds
redis_shape() {
	cal=$(redis_get "$1" "$2" $(($1 * $2 * 200)))
	rps=$(echo "$cal" | cut -d, -f2)
	n=$(awk -v r="$rps" -v d="$DURATION" -v m=$(($1 * $2)) 'BEGIN { n = int(r * d); if (n < m) n = m; print n }')
	c0=$(redis_cpu)
	line=$(redis_get "$1" "$2" "$n")
	c1=$(redis_cpu)
	echo "$line" >>"$tmp/redis.csv"
	# test,rps,avg_ms,min_ms,p50_ms,p95_ms,p99_ms,max_ms
	echo "$line" | awk -F, -v n="$n" -v c="$((c1 - c0))" -v t="$TCK" \
		'{ printf "%.0f %.1f %.1f %.0f\n", $2, $5 * 1000, $7 * 1000, c / t * 1e9 / n }'
}

# bench_shape BATCH CONNS PIPELINE: verifies/s p50_us p99_us cpu_ns_per_item other_cores
bench_shape() {
	out=$tmp/bench-$1-$2-$3.json
	set -- --quiet --json --scopes "$SCOPES" --body-bytes 256 --duration "$DURATION" \
		--batch "$1" --connections "$2" --pipeline "$3"
	[ -n "$HMACD_ARG" ] && set -- "$@" --hmacd "$HMACD_ARG"
	if ! "$BENCH" "$@" >"$out"; then
		say "hmacd-bench $* failed:"
		cat "$out" >&2
		return 1
	fi
	cat "$out" >>"$tmp/bench.json"
	sed -n 's/.*"daemon":{"verifies_per_s":\([0-9.]*\).*"p50":\([0-9.]*\),"p90":[0-9.]*,"p99":\([0-9.]*\).*"daemon_cpu_ns_per_item":\([0-9.]*\).*/\1 \2 \3 \4/p' "$out" |
		tr '\n' ' '
	o=$(sed -n 's/.*"other_cores":\([-0-9.]*\).*/\1/p' "$out")
	echo "${o:-?}"
}

status=0
rows=
for shape in "batched 64 8 4" "unbatched 1 50 1" "idle 1 1 1"; do
	set -- $shape
	name=$1 batch=$2 conns=$3 depth=$4
	rp=$depth
	[ "$name" = batched ] && rp=64
	say "$name: hmacd-bench --batch $batch --connections $conns --pipeline $depth"
	if ! h=$(bench_shape "$batch" "$conns" "$depth"); then
		status=1
		continue
	fi
	say "$name: redis-benchmark -P $rp -c $conns"
	rd=$(redis_shape "$rp" "$conns")
	set -- $h $rd
	# hmacd: v/s p50 p99 cpu other; redis: rps p50 p99 cpu
	ratio=$(awk -v a="$1" -v b="$6" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "?" }')
	rows="$rows| $name: hmacd $batch x $conns x $depth, GET -P $rp -c $conns | $1 | $6 | $ratio | $2 | $3 | $7 | $8 | $4 | $9 | $5 |
"
done

report() {
	echo "## hmacd vs Redis ($(date -u '+%Y-%m-%d %H:%M UTC'))"
	echo
	echo "Machine: $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1), $(nproc) CPUs," \
		"$(uname -sr); $(redis-server --version | cut -d' ' -f1-3); ${DURATION} s per run," \
		"256-byte bodies / values, $SCOPES scopes."
	echo
	echo "| shape (hmacd items/frame x connections x in flight; redis-benchmark) | hmacd verifies/s | Redis GET/s | hmacd / Redis | hmacd p50 µs | hmacd p99 µs | Redis p50 µs | Redis p99 µs | hmacd CPU ns/item | Redis CPU ns/GET | other load (cores) |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	printf '%s' "$rows"
	echo
	echo "hmacd: \`hmacd-bench --scopes $SCOPES --body-bytes 256 --duration $DURATION --batch B" \
		"--connections C --pipeline P\` (its own hmacd, all its worker threads); latency is per frame." \
		"Redis: \`redis-benchmark -s SOCK -t get -d 256 -P P -c C -n N --csv\` against" \
		"\`redis-server --port 0 --unixsocket SOCK --save '' --appendonly no\` (one thread)," \
		"N sized for about $DURATION s. CPU per item is the server process's utime+stime over" \
		"the run; \"other load\" is CPU used by other processes during the hmacd run."
}

if [ -n "$RAW" ]; then
	cat "$tmp/bench.json" "$tmp/redis.csv" >>"$RAW" 2>/dev/null
fi
if [ -n "$OUT" ]; then
	report >"$OUT"
	say "wrote $OUT"
else
	report
fi
exit $status
