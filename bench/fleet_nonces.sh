#!/bin/sh
# fleet_nonces.sh - what fleet-wide nonce claims cost (issue 13, item 5; bench/README.md,
# "fleet_nonces.sh"): hmacd-bench --fleet with nonce items claimed in Redis against the local
# nonce cache only, batched and unbatched, with and without --fleet-wait 1, in one run on one
# machine; writes a Markdown table of the medians.
#
#   shape       hmacd-bench
#   batched     --batch 64 --connections 8  --pipeline 4 --gen-threads 1
#   unbatched   --batch 1  --connections 50 --pipeline 1 --gen-threads 2
#   nonces      local: --fleet-nonces local    redis: --fleet-nonces redis
#               redis-wait1: --fleet-nonces redis --fleet-wait 1 (a replica of our Redis)
#
# Every run is hmacd-bench --fleet --nonce (its own redis-server, replica, fleet and hmacd; each
# item carries a new nonce and is sent once; every verdict checked, the replays after the load
# REPLAY). The configurations of a shape run one after the other, in a rotated order in each
# round, so that a machine shared with other work spreads its load over all of them; a figure
# is the median of its rounds.
#
# With --hmacd NAME=PATH given twice or more (builds to compare, e.g. before and after a
# change), redis and redis-wait1 run with each build (rows redis@NAME, redis-wait1@NAME), local
# with the first one, all in the same rotation.
#
# usage: bench/fleet_nonces.sh [--rounds N] [--out FILE] [--raw FILE] [--scopes N]
#                              [--batched-requests N] [--unbatched-requests N]
#                              [--fleet-timeout MS] [--shapes LIST] [--bench PATH]
#                              [--hmacd NAME=PATH ...] [-- HMACD-BENCH ARGS...]
# --rounds (3) rounds of every configuration; --raw FILE appends every run's JSON to FILE;
# --batched-requests (2000000) and --unbatched-requests (1000000) items per run; --fleet-timeout
# MS is passed to hmacd (default: hmacd's own, 100); --shapes batched,unbatched (both).
# Exit status: 0 every run passed its checks, 1 a run failed, 2 usage or missing tools.

set -u

ROUNDS=3
SCOPES=10000
BREQ=2000000
UREQ=1000000
FTIMEOUT=
SHAPES=batched,unbatched
OUT=
RAW=
BENCH=${HMACD_BENCH:-}
BUILDS=

usage() {
	sed -n 's/^# \{0,1\}//; /^usage:/,/^Exit/p' "$0" >&2
	exit 2
}

number() {
	case $2 in '' | *[!0-9]*) echo "fleet_nonces.sh: $1 takes a whole number" >&2; exit 2 ;; esac
}

while [ $# -gt 0 ]; do
	case $1 in
	--rounds) ROUNDS=${2:?}; number "$1" "$2"; shift 2 ;;
	--out) OUT=${2:?}; shift 2 ;;
	--raw) RAW=${2:?}; shift 2 ;;
	--scopes) SCOPES=${2:?}; number "$1" "$2"; shift 2 ;;
	--batched-requests) BREQ=${2:?}; number "$1" "$2"; shift 2 ;;
	--unbatched-requests) UREQ=${2:?}; number "$1" "$2"; shift 2 ;;
	--fleet-timeout) FTIMEOUT=${2:?}; number "$1" "$2"; shift 2 ;;
	--shapes) SHAPES=${2:?}; shift 2 ;;
	--bench) BENCH=${2:?}; shift 2 ;;
	--hmacd)
		case ${2:?} in
		*=*) ;;
		*) echo "fleet_nonces.sh: --hmacd takes NAME=PATH" >&2; exit 2 ;;
		esac
		case ${2%%=*} in
		'' | *[!A-Za-z0-9_-]*) echo "fleet_nonces.sh: NAME: letters, digits, - and _" >&2; exit 2 ;;
		esac
		BUILDS="$BUILDS $2"
		shift 2
		;;
	--) shift; break ;;
	-h | --help) usage ;;
	*) echo "fleet_nonces.sh: unknown argument $1" >&2; usage ;;
	esac
done
[ "$ROUNDS" -ge 1 ] || usage
extra="$*" # hmacd-bench arguments after --: split at blanks again below

say() { echo "fleet_nonces.sh: $*" >&2; }

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
if ! command -v redis-server >/dev/null 2>&1; then
	say "redis-server is needed: apt-get install -y redis-server"
	exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hmacd-fleet-nonces-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

# field NAME FILE: the first numeric value of "NAME": in FILE ("" if none)
field() {
	grep -o "\"$1\":-\{0,1\}[0-9][0-9.]*" "$2" | head -n 1 | cut -d: -f2
}

# shape_args NAME: hmacd-bench's shape
shape_args() {
	case $1 in
	batched) echo "--batch 64 --connections 8 --pipeline 4 --gen-threads 1 --requests $BREQ" ;;
	unbatched) echo "--batch 1 --connections 50 --pipeline 1 --gen-threads 2 --requests $UREQ" ;;
	esac
}

# nonce_args CONFIG: how nonces are handled (CONFIG: local, redis or redis-wait1, then @NAME
# with --hmacd: that build's hmacd)
nonce_args() {
	case ${1%@*} in
	local) echo "--fleet-nonces local" ;;
	redis) echo "--fleet-nonces redis" ;;
	redis-wait1) echo "--fleet-nonces redis --fleet-wait 1" ;;
	esac
	case $1 in
	*@*)
		for b in $BUILDS; do
			[ "${b%%=*}" = "${1#*@}" ] && echo "--hmacd ${b#*=}"
		done
		;;
	esac
}

common="--quiet --json --fleet --nonce --scopes $SCOPES --pool-mb 4096 --timeout 30"
[ -n "$FTIMEOUT" ] && common="$common --daemon-arg --fleet-timeout --daemon-arg $FTIMEOUT"

# one run: a line "shape nonces round ok items/s p50 p99 p99.9 cpu/item other redis_ns
# replica_ns timeouts" (latencies in us, CPU in ns; "-" when not measured) into runs.txt
status=0
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
configs="local redis redis-wait1"
if [ -n "$BUILDS" ]; then
	first=
	redis=
	wait1=
	for b in $BUILDS; do
		[ -x "${b#*=}" ] || { say "no hmacd at ${b#*=}"; exit 2; }
		[ -n "$first" ] || first=${b%%=*}
		redis="$redis redis@${b%%=*}"
		wait1="$wait1 redis-wait1@${b%%=*}"
	done
	configs="local@$first$redis$wait1"
fi
ncfg=$(echo "$configs" | wc -w)
for round in $(seq 1 "$ROUNDS"); do
	for shape in $(echo "$SHAPES" | tr ',' ' '); do
		case $shape in batched | unbatched) ;; *) say "unknown shape $shape"; exit 2 ;; esac
		# rotate the order each round
		set -- $configs
		k=$(((round - 1) % ncfg))
		while [ $k -gt 0 ]; do
			first=$1
			shift
			set -- "$@" "$first"
			k=$((k - 1))
		done
		for nonces in "$@"; do
			out=$tmp/$shape-$nonces-$round.json
			say "round $round/$ROUNDS: $shape, $nonces"
			# shellcheck disable=SC2086 # word splitting wanted
			"$BENCH" $common $(shape_args "$shape") $(nonce_args "$nonces") $extra \
				>"$out" 2>"$tmp/err" </dev/null
			st=$?
			[ -n "$RAW" ] && cat "$out" >>"$RAW"
			ok=yes
			if [ $st -ne 0 ] || ! grep -q '^{"ok":true' "$out"; then
				ok=no
				status=1
				say "$shape, $nonces failed (status $st):"
				cat "$tmp/err" >&2
				head -c 2000 "$out" >&2
				echo >&2
			fi
			v() { x=$(field "$1" "$out"); echo "${x:--}"; }
			echo "$shape $nonces $round $ok $(v verifies_per_s) $(v p50) $(v p99)" \
				"$(v p99_9) $(v daemon_cpu_ns_per_item) $(v other_cores)" \
				"$(v redis_cpu_ns_per_claim) $(v replica_cpu_ns_per_claim)" \
				"$(v timeouts)" >>"$tmp/runs.txt"
		done
	done
done

report() {
	echo "## Fleet nonce claims ($(date -u '+%Y-%m-%d %H:%M UTC'))"
	echo
	echo "Machine: $(nproc) CPUs, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)," \
		"$(uname -sr); $(redis-server --version | cut -d' ' -f1-3); $ROUNDS round(s), medians;" \
		"$SCOPES scopes, 256-byte bodies, every item with a new nonce; load average" \
		"(1, 5, 15 min) $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end."
	echo
	for b in $BUILDS; do
		echo "Build \`${b%%=*}\`: \`--hmacd ${b#*=}\`."
		echo
	done
	echo "Each run: \`hmacd-bench $common SHAPE NONCES${extra:+ $extra}\` with SHAPE" \
		"\`$(shape_args batched)\` (batched) or \`$(shape_args unbatched)\` (unbatched)," \
		"NONCES \`--fleet-nonces local\`, \`--fleet-nonces redis\` or" \
		"\`--fleet-nonces redis --fleet-wait 1\`."
	echo
	awk -v rounds="$ROUNDS" -v configs="$configs" '
	function median(list,    n, a, i, j, t) {
		n = split(list, a, " ")
		if (n == 0) return "-"
		for (i = 2; i <= n; i++) {
			t = a[i] + 0
			for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]
			a[j + 1] = t
		}
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	function add(key, val) { if (val != "-") vals[key] = vals[key] " " val }
	{
		k = $1 SUBSEP $2
		runs[k]++
		if ($4 == "yes") good[k]++
		add(k SUBSEP "vps", $5); add(k SUBSEP "p50", $6); add(k SUBSEP "p99", $7)
		add(k SUBSEP "p999", $8); add(k SUBSEP "cpu", $9); add(k SUBSEP "other", $10)
		add(k SUBSEP "rns", $11); add(k SUBSEP "repns", $12); add(k SUBSEP "to", $13)
		if ($10 != "-" && $10 + 0 > maxother[k]) maxother[k] = $10 + 0
		each[k SUBSEP "vps"] = each[k SUBSEP "vps"] (each[k SUBSEP "vps"] == "" ? "" : " / ") sprintf("%.0f", $5 / 1000)
		each[k SUBSEP "p99"] = each[k SUBSEP "p99"] (each[k SUBSEP "p99"] == "" ? "" : " / ") sprintf("%.2f", $7 / 1000)
	}
	function m(k, f) { return median(vals[k SUBSEP f]) }
	END {
		nshapes = split("batched unbatched", shapes, " ")
		ncfg = split(configs, cfgs, " ")
		print "| shape | nonces | items/s | vs local | p50 ms | p99 ms | p99.9 ms | p99 added ms | hmacd CPU/item | Redis CPU/claim | replica CPU/claim | frames at deadline | other load (median / max) | runs ok |"
		print "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"
		for (s = 1; s <= nshapes; s++) {
			lk = shapes[s] SUBSEP cfgs[1]
			for (c = 1; c <= ncfg; c++) {
				k = shapes[s] SUBSEP cfgs[c]
				if (!(k in runs)) continue
				vps = m(k, "vps"); lvps = m(lk, "vps")
				ratio = (c == 1 || lvps == "-" || lvps == 0) ? "1" : sprintf("%.2f", vps / lvps)
				added = (c == 1 || m(lk, "p99") == "-") ? "-" : sprintf("%+.2f", (m(k, "p99") - m(lk, "p99")) / 1000)
				rns = m(k, "rns"); repns = m(k, "repns")
				printf "| %s | %s | **%s** (%s k) | %s | %.2f | **%.2f** (%s) | %.2f | %s | %s ns | %s | %s | %s | %s / %.2f | %d/%d |\n",
					shapes[s], cfgs[c], sprintf("%.0f", vps), each[k SUBSEP "vps"], ratio,
					m(k, "p50") / 1000, m(k, "p99") / 1000, each[k SUBSEP "p99"],
					m(k, "p999") / 1000, added, sprintf("%.0f", m(k, "cpu")),
					rns == "-" ? "-" : sprintf("%.0f ns", rns),
					repns == "-" ? "-" : sprintf("%.0f ns", repns),
					m(k, "to") == "-" ? "-" : m(k, "to"),
					m(k, "other"), maxother[k], good[k], runs[k]
			}
		}
		print ""
		for (c = 2; c <= ncfg; c++) {
			if (cfgs[c] !~ /^redis(@|$)/) continue
			b = substr(cfgs[c], 6); w = "redis-wait1" b; at = b == "" ? "" : " (" substr(b, 2) ")"
			bk = "batched" SUBSEP cfgs[c]; bl = "batched" SUBSEP cfgs[1]
			if ((bk in runs) && (bl in runs)) {
				r = m(bk, "vps") / m(bl, "vps")
				printf "Goal, batched%s: claims in Redis at least half the local nonce rate: %.2f of it: **%s**", at, r, (r >= 0.5 ? "met" : "not met")
				wk = "batched" SUBSEP w
				if (wk in runs) printf " (with --fleet-wait 1: %.2f)", m(wk, "vps") / m(bl, "vps")
				print "."
			}
			uk = "unbatched" SUBSEP cfgs[c]; ul = "unbatched" SUBSEP cfgs[1]
			if ((uk in runs) && (ul in runs)) {
				a = (m(uk, "p99") - m(ul, "p99")) / 1000
				printf "Goal, unbatched%s: p99 added by Redis under 1 ms: %+.2f ms: **%s**", at, a, (a < 1 ? "met" : "not met")
				wk = "unbatched" SUBSEP w
				if (wk in runs) printf " (with --fleet-wait 1: %+.2f ms)", (m(wk, "p99") - m(ul, "p99")) / 1000
				print "."
			}
		}
	}' "$tmp/runs.txt"
	echo
	echo "items/s and p99: the median of the rounds (each round's in brackets, in thousands and ms);" \
		"latency per frame (hmacd-bench's: from the write of a frame to its answer); p99 added:" \
		"this row's median p99 less the local row's; hmacd CPU/item and Redis CPU/claim: utime+stime" \
		"of the process over the run (Redis' divided by the claims hmacd sent, its" \
		"fleet_nonce_claims); frames at deadline: frames whose claims were answered at" \
		"--fleet-timeout (fleet_nonce_timeouts); other load: cores taken by other processes" \
		"during the run, in cores of $(nproc)."
}

if [ -n "$OUT" ]; then
	report >"$OUT"
	say "wrote $OUT"
else
	report
fi
exit $status
