#!/bin/sh
# redis_claims.sh - Redis' own CPU per nonce claim, without hmacd (bench/README.md,
# "redis_claims.sh"): the claims hmacd sends (claims.c), written once into files and piped into
# a fresh redis-server with redis-cli --pipe, the server's used_cpu_user + used_cpu_sys read
# before and after; a figure is the median of the rounds, the modes rotated in each round.
#
#   set         SET <prefix>n:<digest> 1 NX PX <ttl>, one per claim, pipelined
#   evalsha:K   one EVALSHA per K claims of a script that makes the same SETs and answers 0/1
#               per key (the one tried in commit 9629ae7, BENCHMARKS.md: it costs Redis more)
#
# Keys as hmacd makes them (a 64-hex-digit digest after the prefix), every one new. With
# --prefill N the server first holds N other claims (untimed), as a fleet's Redis holds the
# claims of the last ttl: its key tables then need not grow during the timed claims when N is
# chosen so (Redis doubles a table at 2^k keys: 600000 before 200000 stays under 2^20).
#
# usage: bench/redis_claims.sh [--claims N(200000)] [--rounds N(3)] [--prefill N(0)]
#                              [--modes LIST(set,evalsha:64,evalsha:8,evalsha:2)]
# Needs redis-server, redis-cli and python3 (which writes the commands). Exit status 0, or 2
# for a usage error or a missing tool.

set -u

CLAIMS=200000
ROUNDS=3
PREFILL=0
MODES=set,evalsha:64,evalsha:8,evalsha:2

number() {
	case $2 in '' | *[!0-9]*) echo "redis_claims.sh: $1 takes a whole number" >&2; exit 2 ;; esac
}

while [ $# -gt 0 ]; do
	case $1 in
	--claims) CLAIMS=${2:?}; number "$1" "$2"; shift 2 ;;
	--rounds) ROUNDS=${2:?}; number "$1" "$2"; shift 2 ;;
	--prefill) PREFILL=${2:?}; number "$1" "$2"; shift 2 ;;
	--modes) MODES=${2:?}; shift 2 ;;
	*) sed -n 's/^# \{0,1\}//; /^usage:/,/^Exit/p' "$0" >&2; exit 2 ;;
	esac
done
for t in redis-server redis-cli python3; do
	command -v $t >/dev/null 2>&1 || { echo "redis_claims.sh: $t is needed" >&2; exit 2; }
done
[ "$ROUNDS" -ge 1 ] && [ "$CLAIMS" -ge 1 ] || exit 2

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hmacd-redis-claims-XXXXXX") || exit 1
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# The claim script (its SHA1 is checked below, against SCRIPT LOAD's answer).
SCRIPT='local r = {}
for i = 1, #KEYS do
	r[i] = redis.call("SET", KEYS[i], "1", "NX", "PX", ARGV[i]) and 1 or 0
end
return r'
SHA=4e5a8f535d10b94f2047abf72048e8190855d837

# gen MODE N FILE: N new claims in MODE's commands
gen() {
	python3 - "$1" "$2" "$SHA" >"$3" <<'PY'
import os, sys
mode, total, sha = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
def bulk(b): return b"$%d\r\n%s\r\n" % (len(b), b)
per = 1 if mode == "set" else int(mode.split(":")[1])
out = sys.stdout.buffer
done = 0
while done < total:
    n = min(per, total - done)
    keys = [b"hmacd-bench:n:" + os.urandom(32).hex().encode() for _ in range(n)]
    if mode == "set":
        out.write(b"".join(b"*6\r\n" + bulk(b"SET") + bulk(k) + bulk(b"1") + bulk(b"NX") +
                           bulk(b"PX") + bulk(b"600000") for k in keys))
    else:
        args = [b"EVALSHA", sha, str(n).encode()] + keys + [b"600000"] * n
        out.write(b"*%d\r\n" % len(args) + b"".join(bulk(a) for a in args))
    done += n
PY
}

cpu() {
	redis-cli -s "$tmp/r.sock" info cpu |
		awk -F: '/^used_cpu_(user|sys):/ { s += $2 } END { printf "%.6f", s }'
}

say() { echo "redis_claims.sh: $*" >&2; }

modes=$(echo "$MODES" | tr ',' ' ')
for m in $modes; do
	case $m in set | evalsha:[1-9]*) ;; *) say "unknown mode $m"; exit 2 ;; esac
	gen "$m" "$CLAIMS" "$tmp/$m.resp" || exit 1
done
[ "$PREFILL" -gt 0 ] && { gen set "$PREFILL" "$tmp/prefill.resp" || exit 1; }
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

for round in $(seq 1 "$ROUNDS"); do
	# shellcheck disable=SC2086 # word splitting wanted
	set -- $modes
	k=$(((round - 1) % $#))
	while [ $k -gt 0 ]; do
		first=$1
		shift
		set -- "$@" "$first"
		k=$((k - 1))
	done
	for m in "$@"; do
		redis-server --port 0 --unixsocket "$tmp/r.sock" --unixsocketperm 700 --save '' \
			--appendonly no --dir "$tmp" --logfile "$tmp/redis.log" &
		pid=$!
		i=0
		until redis-cli -s "$tmp/r.sock" ping >/dev/null 2>&1; do
			i=$((i + 1))
			[ $i -lt 100 ] || { say "redis-server did not start"; exit 1; }
			sleep 0.05
		done
		got=$(redis-cli -s "$tmp/r.sock" script load "$SCRIPT")
		[ "$got" = "$SHA" ] || { say "the script's SHA1 is $got, not $SHA"; exit 1; }
		[ "$PREFILL" -gt 0 ] && redis-cli -s "$tmp/r.sock" --pipe <"$tmp/prefill.resp" >/dev/null
		a=$(cpu)
		redis-cli -s "$tmp/r.sock" --pipe <"$tmp/$m.resp" >"$tmp/pipe.out" 2>&1 ||
			{ say "$m: redis-cli --pipe failed"; cat "$tmp/pipe.out" >&2; exit 1; }
		b=$(cpu)
		keys=$(redis-cli -s "$tmp/r.sock" dbsize)
		[ "$keys" -eq $((PREFILL + CLAIMS)) ] || { say "$m: $keys keys, not $((PREFILL + CLAIMS))"; exit 1; }
		echo "$m $a $b" >>"$tmp/runs.txt"
		say "round $round: $m"
		kill "$pid"
		wait "$pid" 2>/dev/null
		pid=
	done
done

echo "Redis CPU per claim ($(date -u '+%Y-%m-%d %H:%M UTC'); $(redis-server --version | cut -d' ' -f1-3);" \
	"$CLAIMS claims per run, $PREFILL claims there before; $ROUNDS round(s), medians; load" \
	"average $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end):"
echo
echo "| mode | Redis CPU per claim | each round |"
echo "|---|---:|---|"
awk -v claims="$CLAIMS" -v modes="$modes" '
{ ns = ($3 - $2) * 1e9 / claims; v[$1] = v[$1] " " ns; e[$1] = e[$1] (e[$1] == "" ? "" : " / ") sprintf("%.0f", ns) }
END {
	n = split(modes, ms, " ")
	for (i = 1; i <= n; i++) {
		c = split(v[ms[i]], a, " ")
		for (x = 2; x <= c; x++) { t = a[x]; for (y = x - 1; y >= 1 && a[y] + 0 > t + 0; y--) a[y + 1] = a[y]; a[y + 1] = t }
		med = c % 2 ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
		printf "| %s | %.0f ns | %s |\n", ms[i], med, e[ms[i]]
	}
}' "$tmp/runs.txt"
