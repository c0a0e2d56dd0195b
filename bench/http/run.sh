#!/bin/sh
# run.sh - the end-to-end HTTP benchmark of issue 16: each example app, three ways, under a
# closed loop (wrk) and an open loop (hmacd-http-load), with the CPU each side spends.
#
#   sh /path/to/source/bench/http/run.sh [options]      # from the build directory
#
# For each app (go-nethttp go-echo py-flask py-fastapi node-express node-fastify) and each
# mode (noauth: the app with a verifier that accepts everything; inproc: the app verifying in
# its own process with its language's HMAC over the client library's canonical string;
# hmacd: the example as shipped, through hmacd), and each load (c16, c64: wrk with 16 and 64
# connections; r500, r2000: hmacd-http-load at 500 and 2,000 requests per second), R times:
# fresh signed requests (sign.py, no nonce), a warm-up, the measured run, and the deltas of the
# app's and hmacd's CPU time and context switches (/proc) and of hmacd's frames and items
# (hmacctl stats). Then a table of medians with min-max (report.py). bench/README.md, "HTTP,
# end to end", says what each figure is.
#
# Options:
#   --apps "A B ..."     the apps (default all six; a missing toolchain leaves one out)
#   --modes "M ..."      default "noauth inproc hmacd"
#   --loads "L ..."      default "c16 c64 r500 r2000" (cN: wrk -cN; rN: N req/s open loop)
#   --runs R             repetitions (default 3)
#   --duration S         seconds measured per run (default 10)
#   --warmup S           seconds of load before each run, not measured (default 2)
#   --scopes N           scopes in the store (default 100); requests cycle over them
#   --results FILE       keep the per-run figures (tab-separated, report.py's FIELDS)
#   --daemon-arg ARG     one more hmacd argument, repeatable
#   --gunicorn "ARGS"    more gunicorn arguments for py-flask, the same for all three modes
#                        (default none: the example's gunicorn.conf.py alone, one sync
#                        worker, one request at a time, so one item per frame). E.g.
#                        "--threads 16": the gthread worker, whose threads share one Client
#                        that coalesces them (BENCHMARKS.md, "Flask through hmacd: the
#                        Python client's cost": measured both ways, not the default)
#
# Environment: HMACD, HMACCTL, HMACD_HTTP_LOAD (default ./daemon/hmacd, ./daemon/hmacctl,
# ./bench/http/hmacd-http-load of the build directory). Needs /usr/bin/python3 with
# python3-msgpack (the signer); wrk for the closed loop (apt-get install wrk); Go (golang-go
# and Debian's Echo), python3-flask, python3-gunicorn, python3-fastapi, python3-uvicorn,
# node and npm for the apps (each missing one is left out with a note).
# Exit status: 0 when the matrix ran (runs with errors are marked in the table), 1 when
# something could not be set up, 2 on a usage error.
set -u

PY=/usr/bin/python3
src=$(cd "$(dirname "$0")/../.." && pwd) || exit 1
here=$src/bench/http
HMACD=${HMACD:-./daemon/hmacd}
HMACCTL=${HMACCTL:-./daemon/hmacctl}
LOAD=${HMACD_HTTP_LOAD:-./bench/http/hmacd-http-load}
apps="go-nethttp go-echo py-flask py-fastapi node-express node-fastify"
modes="noauth inproc hmacd"
loads="c16 c64 r500 r2000"
runs=3 duration=10 warmup=2 scopes=100 results= dargs= gargs=''

usage() {
	sed -n '2,/^set -u/p' "$0" | sed -e '/^set -u/d' -e 's/^# \{0,1\}//' >&2
	exit 2
}
while [ $# -gt 0 ]; do
	[ $# -ge 2 ] || usage
	case $1 in
	--apps) apps=$2 ;;
	--modes) modes=$2 ;;
	--loads) loads=$2 ;;
	--runs) runs=$2 ;;
	--duration) duration=$2 ;;
	--warmup) warmup=$2 ;;
	--scopes) scopes=$2 ;;
	--results) results=$2 ;;
	--daemon-arg) dargs="$dargs $2" ;;
	--gunicorn) gargs=$2 ;;
	*) usage ;;
	esac
	shift 2
done
for n in "$runs" "$duration" "$scopes"; do
	case $n in '' | *[!0-9]* | 0) usage ;; esac
done
case $warmup in '' | *[!0-9]*) usage ;; esac
for m in $modes; do
	case $m in noauth | inproc | hmacd) ;; *) usage ;; esac
done
for l in $loads; do
	case $l in [cr][1-9]*) case ${l#?} in *[!0-9]*) usage ;; esac ;; *) usage ;; esac
done
for f in "$HMACD" "$HMACCTL" "$LOAD"; do
	if [ ! -x "$f" ]; then
		echo "run.sh: no $f: run it from the build directory after make" >&2
		exit 1
	fi
done
HMACD=$(cd "$(dirname "$HMACD")" && pwd)/$(basename "$HMACD")
HMACCTL=$(cd "$(dirname "$HMACCTL")" && pwd)/$(basename "$HMACCTL")
LOAD=$(cd "$(dirname "$LOAD")" && pwd)/$(basename "$LOAD")
if ! "$PY" -c 'import msgpack' 2>/dev/null; then
	echo "run.sh: $PY with python3-msgpack is needed (apt-get install python3-msgpack)" >&2
	exit 1
fi
case " $loads " in
*" c"[0-9]*)
	if ! command -v wrk >/dev/null 2>&1; then
		echo "run.sh: no wrk for the closed-loop loads (apt-get install wrk)" >&2
		exit 1
	fi
	;;
esac

# shellcheck source=bench/http/common.sh
. "$here/common.sh"
hm_tmp hmacd-http || exit 1
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE
results=${results:-$tmp/results.tsv}
printf 'app\tmode\ttest\trun\trequests\tseconds\trate\tp50\tp90\tp99\tmax\tnon2xx\terrors\t' \
	>"$results"
printf 'app_cpu_us\tapp_cs\thmacd_cpu_us\thmacd_cs\titems\tframes\n' >>"$results"

# ---- the apps that can run here ----
have() {
	"$PY" -c "import $1" 2>/dev/null
}
runnable=
for app in $apps; do
	why=
	case $app in
	go-nethttp | go-echo)
		command -v go >/dev/null 2>&1 || why="no go (apt-get install golang-go)"
		[ "$app" = go-echo ] && [ ! -d /usr/share/gocode/src/github.com/labstack/echo ] &&
			why="no golang-github-labstack-echo-dev"
		;;
	py-flask) have flask && have gunicorn || why="no python3-flask or python3-gunicorn" ;;
	py-fastapi) have fastapi && have uvicorn || why="no python3-fastapi or python3-uvicorn" ;;
	node-express | node-fastify)
		command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
			why="no node and npm"
		;;
	*)
		echo "run.sh: unknown app $app" >&2
		exit 2
		;;
	esac
	if [ -n "$why" ]; then
		echo "note: $app left out: $why"
	else
		runnable="$runnable $app"
	fi
done
[ -n "$runnable" ] || {
	echo "run.sh: no app can run here" >&2
	exit 1
}

# go_build EX: $tmp/bin/EX, the example client/go/examples/EX with bench/http/go/bench.go as
# its main (the example's main renamed exampleMain), in a GOPATH of this run laid out as
# client/go/offline.sh's (Debian's Go packages, no module proxy)
go_build() {
	root=$tmp/gopath/src/github.com/hmacd/hmacd/client/go
	mkdir -p "$root/examples/bench$1" "$tmp/gopath/src/github.com/labstack/echo" || return 1
	for d in "$src"/client/go/*; do
		[ "$(basename "$d")" = examples ] || ln -sfn "$d" "$root/$(basename "$d")"
	done
	ln -sfn "$src/client/go/examples/internal" "$root/examples/internal"
	ln -sfn /usr/share/gocode/src/github.com/labstack/echo \
		"$tmp/gopath/src/github.com/labstack/echo/v4"
	sed 's/^func main() {$/func exampleMain() {/' "$src/client/go/examples/$1/main.go" \
		>"$root/examples/bench$1/main.go" || return 1
	grep -q '^func exampleMain() {$' "$root/examples/bench$1/main.go" || return 1
	cp "$here/go/bench.go" "$root/examples/bench$1/" || return 1
	(cd "$root/examples/bench$1" && GO111MODULE=off GOPATH=$tmp/gopath:/usr/share/gocode \
		GOFLAGS= GOENV=off GOTOOLCHAIN=local GOCACHE=${GOCACHE:-$tmp/gocache} \
		go build -o "$tmp/bin/$1" .)
}
for app in $runnable; do
	case $app in
	go-*)
		go_build "${app#go-}" || {
			echo "run.sh: building $app failed" >&2
			exit 1
		}
		;;
	node-*)
		[ -d "$tmp/node" ] && continue
		mkdir "$tmp/node" || exit 1
		(cd "$src/client/node" && tar cf - --exclude=./node_modules .) |
			(cd "$tmp/node" && tar xf -) || exit 1
		chmod -R u+w "$tmp/node"
		if ! (cd "$tmp/node" && npm ci --no-audit --no-fund --loglevel=error) \
			>"$tmp/npm.log" 2>&1; then
			cat "$tmp/npm.log"
			echo "run.sh: npm ci in a copy of client/node failed" >&2
			exit 1
		fi
		;;
	esac
done

# ---- hmacd and the scopes ----
# shellcheck disable=SC2086 # dargs: several arguments
hm_start_hmacd $dargs || exit 1
hm_scopes "$scopes" || exit 1

# ---- one app, three ways ----
# start APP MODE PORT: the app in a process group of its own; its pgid in $started
start() {
	app=$1 mode=$2 port=$3
	case $app in
	go-*) set -- "$tmp/bin/${app#go-}" ;;
	py-flask)
		# shellcheck disable=SC2086 # gargs: several arguments
		set -- "$PY" -m gunicorn -c "$src/client/python/examples/gunicorn.conf.py" $gargs \
			'bench_app:flask_from_env()'
		;;
	py-fastapi)
		set -- "$PY" -m uvicorn --factory bench_app:fastapi_from_env --host 127.0.0.1 \
			--port "$port" --no-proxy-headers --no-access-log
		;;
	node-*) set -- node "$here/bench-app.mjs" "$tmp/node" "${app#node-}" ;;
	esac
	HMACD_SOCKET=$tmp/s PORT=$port HMACD_BENCH_MODE=$mode HMACD_BENCH_KEYS=$tmp/keys.jsonl \
		PYTHONPATH=$src/client/python:$src/client/python/examples:$here \
		setsid "$@" >"$tmp/$app-$mode.log" 2>&1 &
	started=$!
	groups="$groups $started"
}
# counters PGID: "cpu_us context_switches" of the app's processes, then of hmacd's, then
# hmacd's items and frames
counters() {
	a=$("$PY" "$here/report.py" snap "$1") || return 1
	d=$("$PY" "$here/report.py" snap "$daemon") || return 1
	st=$("$HMACCTL" --socket "$tmp/s" stats --json) || return 1
	items=$(printf '%s\n' "$st" | sed -n 's/.*"items":\([0-9]*\).*/\1/p')
	frames=$(printf '%s\n' "$st" | sed -n 's/.*"requests":\([0-9]*\).*/\1/p')
	set -- $a $d
	echo "$1 $2 $4 $5 $items $frames"
}
# measure APP MODE LOAD RUN PORT PGID: one measured run, a line of $results
measure() {
	app=$1 mode=$2 load=$3 run=$4 port=$5 pgid=$6
	req=$tmp/requests
	PYTHONPATH=$src/client/python "$PY" "$here/sign.py" "$tmp/keys.jsonl" "$port" 1000 "$req" || return 1
	out=$tmp/load.out
	case $load in
	c*)
		if [ "$warmup" -gt 0 ]; then
			HMACD_BENCH_REQUESTS=$req wrk -t2 -c"${load#c}" -d"${warmup}s" \
				-s "$here/signed.lua" "http://127.0.0.1:$port/" >/dev/null 2>&1
		fi
		orate=
		before=$(counters "$pgid") || return 1
		HMACD_BENCH_REQUESTS=$req wrk -t2 -c"${load#c}" -d"${duration}s" --latency \
			-s "$here/signed.lua" "http://127.0.0.1:$port/" >"$out" 2>&1
		after=$(counters "$pgid") || return 1
		w=$("$PY" "$here/report.py" wrk "$out") || {
			cat "$out"
			return 1
		}
		set -- $w
		requests=$1 secs=$2 p50=$3 p90=$4 p99=$5 max=$6 non2xx=$7 errs=$8
		;;
	r*)
		# the warm-up is the tool's own: sent and answered, not counted, but in the CPU
		# deltas; the counters below are scaled to the counted requests by its share
		before=$(counters "$pgid") || return 1
		"$LOAD" --port "$port" --rate "${load#r}" --duration "$duration" \
			--warmup "$warmup" --connections 64 --timeout 10 --requests "$req" >"$out" \
			2>"$tmp/load.err"
		after=$(counters "$pgid") || return 1
		kv=$(cat "$out")
		val() { printf '%s\n' "$kv" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
		requests=$(val ok) secs=$duration orate=$(val rate) p50=$(val p50_us) p90=$(val p90_us)
		p99=$(val p99_us) max=$(val max_us) non2xx=$(val non2xx) errs=$(val errors)
		[ -n "$requests" ] || {
			cat "$tmp/load.err" >&2
			return 1
		}
		;;
	esac
	"$PY" - "$before" "$after" "$requests" "$secs" "$duration" "$warmup" \
		"$load" "$orate" >"$tmp/deltas" <<'EOF' || return 1
import sys
b, a = [list(map(int, s.split())) for s in sys.argv[1:3]]
reqs, secs, dur, warm, load = (int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]),
                               float(sys.argv[6]), sys.argv[7])
# the open loop's achieved rate is the tool's (below the rate asked when the app fell behind)
rate = float(sys.argv[8]) if sys.argv[8] else reqs / secs
d = [y - x for x, y in zip(b, a)]
d[5] -= 1  # the stats request of the second snapshot
share = dur / (dur + warm) if load.startswith("r") else 1.0
print("%.3f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f" % (
    secs, rate, d[0] * share, d[1] * share, d[2] * share, d[3] * share,
    d[4] * share, d[5] * share))
EOF
	IFS='	' read -r secs rate acpu acs dcpu dcs items frames <"$tmp/deltas"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
		"$app" "$mode" "$load" "$run" "$requests" "$secs" "$rate" "$p50" "$p90" "$p99" \
		"$max" "$non2xx" "$errs" "$acpu" "$acs" "$dcpu" "$dcs" "$items" "$frames" \
		>>"$results"
	echo "  $app $mode $load run $run: $rate req/s, p50 $p50 us, p99 $p99 us," \
		"non-2xx $non2xx, errors $errs"
}

echo "# bench/http: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo |
	head -n 1); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# apps:$runnable; modes: $modes; loads: $loads; $runs runs of ${duration} s" \
	"(+${warmup} s warm-up); $scopes scopes; gunicorn: ${gargs:-as in the example config}"
for app in $runnable; do
	for mode in $modes; do
		port=$(free_port) || exit 1
		start "$app" "$mode" "$port"
		eval "port_$mode=\$port pgid_$mode=\$started"
	done
	for mode in $modes; do
		eval "port=\$port_$mode"
		if ! wait_healthy "$port"; then
			echo "run.sh: $app did not answer /healthz in 30 s; its logs:" >&2
			cat "$tmp/$app"-*.log >&2
			exit 1
		fi
	done
	# the modes interleaved within each repetition, so that a change in the machine's load
	# touches all three alike
	run=1
	while [ "$run" -le "$runs" ]; do
		for load in $loads; do
			for mode in $modes; do
				eval "port=\$port_$mode pgid=\$pgid_$mode"
				if ! measure "$app" "$mode" "$load" "$run" "$port" "$pgid"; then
					echo "run.sh: $app $mode $load failed; its log:" >&2
					cat "$tmp/$app-$mode.log" >&2
					exit 1
				fi
			done
		done
		run=$((run + 1))
	done
	stop_apps
done
echo "# load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
"$PY" "$here/report.py" table "$results"
