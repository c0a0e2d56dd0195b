#!/bin/sh
# pyclient_ab.sh - Flask under gunicorn through hmacd with two versions of the Python client,
# side by side in one run (issue 16: "coalescing that works in Python too").
#
#   sh /path/to/source/bench/http/pyclient_ab.sh --old DIR [options]    # from the build dir
#
# DIR is the client/python directory of another checkout (e.g. `git archive layout
# client/python | tar -x -C /tmp/old` gives /tmp/old/client/python). For each gunicorn
# configuration, four copies of run.sh's py-flask app run at once on one hmacd: "old" and
# "new" (through hmacd, with DIR's client and with this checkout's), "inproc" and "noauth"
# (run.sh's other two modes, this checkout's code). Then, R times, for each load and each
# copy in turn (interleaved, so that the machine's load touches all alike): a warm-up, a
# measured wrk run, and the deltas of the app's CPU time and context switches and of hmacd's
# items and frames. One line per measured run (tab-separated: gunicorn args, copy, load,
# req/s, app CPU us per request, context switches per request, items per frame, the 1-minute
# load average), then the medians and the ratios to inproc.
#
# Options:
#   --old DIR            the other client/python (required)
#   --gunicorn "A|B|.."  gunicorn argument sets, "|"-separated (default "|--threads 16": the
#                        example's config alone, one sync worker; then the gthread worker)
#   --conns "N ..."      wrk connections (default "16 64")
#   --runs R             repetitions (default 3)
#   --duration S         seconds measured per run (default 4), after 1 s of warm-up
# Environment: HMACD, HMACCTL as for run.sh. Needs wrk, python3-flask, python3-gunicorn.
# Exit status: 0 ran, 1 could not set up, 2 usage.
set -u

PY=/usr/bin/python3
src=$(cd "$(dirname "$0")/../.." && pwd) || exit 1
here=$src/bench/http
HMACD=${HMACD:-./daemon/hmacd}
HMACCTL=${HMACCTL:-./daemon/hmacctl}
old='' gsets="|--threads 16" conns="16 64" runs=3 duration=4

usage() {
	sed -n '2,/^set -u/p' "$0" | sed -e '/^set -u/d' -e 's/^# \{0,1\}//' >&2
	exit 2
}
while [ $# -gt 0 ]; do
	[ $# -ge 2 ] || usage
	case $1 in
	--old) old=$2 ;;
	--gunicorn) gsets=$2 ;;
	--conns) conns=$2 ;;
	--runs) runs=$2 ;;
	--duration) duration=$2 ;;
	*) usage ;;
	esac
	shift 2
done
if [ -z "$old" ] || [ ! -f "$old/hmacd/client.py" ]; then
	usage
fi
old=$(cd "$old" && pwd) || exit 1
for n in "$runs" "$duration" $conns; do
	case $n in '' | *[!0-9]* | 0) usage ;; esac
done
for f in "$HMACD" "$HMACCTL"; do
	[ -x "$f" ] || {
		echo "pyclient_ab.sh: no $f: run it from the build directory after make" >&2
		exit 1
	}
done
if ! command -v wrk >/dev/null 2>&1 || ! "$PY" -c 'import flask, gunicorn' 2>/dev/null; then
	echo "pyclient_ab.sh: needs wrk, python3-flask and python3-gunicorn" >&2
	exit 1
fi

# shellcheck source=bench/http/common.sh
. "$here/common.sh"
hm_tmp hmacd-ab || exit 1
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE

hm_start_hmacd || exit 1
hm_scopes 100 || exit 1

items() {
	"$HMACCTL" --socket "$tmp/s" stats --json |
		sed -n 's/.*"items":\([0-9]*\).*"requests":\([0-9]*\).*/\1 \2/p;
			s/.*"requests":\([0-9]*\).*"items":\([0-9]*\).*/\2 \1/p' | head -n 1
}
echo "# pyclient_ab: $(nproc) CPUs; old client: $old; load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf 'gunicorn\tcopy\tload\treq_s\tapp_cpu_us\tapp_cs\titems_frame\tload1\n' >"$tmp/out.tsv"
IFS='|'
set -f
for gargs in $gsets; do
	unset IFS
	apps=
	for copy in old new inproc noauth; do
		mode=$copy code=$src/client/python
		case $copy in old | new) mode=hmacd ;; esac
		[ "$copy" = old ] && code=$old
		port=$(free_port) || exit 1
		# shellcheck disable=SC2086 # gargs: several arguments
		HMACD_SOCKET=$tmp/s PORT=$port HMACD_BENCH_MODE=$mode HMACD_BENCH_KEYS=$tmp/keys.jsonl \
			PYTHONPATH=$code:$src/client/python/examples:$here \
			setsid "$PY" -m gunicorn -c "$src/client/python/examples/gunicorn.conf.py" \
			$gargs 'bench_app:flask_from_env()' >"$tmp/$copy.log" 2>&1 &
		groups="$groups $!"
		apps="$apps $copy:$port:$!"
		PYTHONPATH=$src/client/python "$PY" "$here/sign.py" "$tmp/keys.jsonl" "$port" 1000 \
			"$tmp/req-$copy" || exit 1
	done
	for a in $apps; do
		port=${a#*:} port=${port%:*}
		wait_healthy "$port" || {
			echo "pyclient_ab.sh: an app did not answer /healthz in 30 s" >&2
			exit 1
		}
	done
	run=1
	while [ "$run" -le "$runs" ]; do
		for c in $conns; do
			for a in $apps; do
				copy=${a%%:*} pg=${a##*:} port=${a#*:} port=${port%:*}
				url=http://127.0.0.1:$port/
				HMACD_BENCH_REQUESTS=$tmp/req-$copy wrk -t2 -c"$c" -d1s -s "$here/signed.lua" \
					"$url" >/dev/null 2>&1
				a0=$("$PY" "$here/report.py" snap "$pg") i0=$(items)
				HMACD_BENCH_REQUESTS=$tmp/req-$copy wrk -t2 -c"$c" -d"${duration}s" \
					-s "$here/signed.lua" "$url" >"$tmp/wrk.out" 2>&1
				a1=$("$PY" "$here/report.py" snap "$pg") i1=$(items)
				"$PY" - "$gargs" "$copy" "c$c" "$a0" "$a1" "$i0" "$i1" "$tmp/wrk.out" \
					"$(cut -d' ' -f1 /proc/loadavg)" >>"$tmp/out.tsv" <<'EOF' || exit 1
import re, sys
g, copy, load, a0, a1, i0, i1, path, load1 = sys.argv[1:]
out = open(path).read()
n = int(re.search(r"(\d+) requests in", out).group(1))
rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
if re.search(r"Non-2xx", out):
    sys.exit("non-2xx answers: %s" % out)
a, b = [list(map(int, s.split())) for s in (a0, a1)]
(it0, fr0), (it1, fr1) = [list(map(int, s.split())) for s in (i0, i1)]
frames = fr1 - fr0 - 1  # the stats request of the second look
ipf = "%.2f" % ((it1 - it0) / frames) if copy in ("old", "new") and frames > 0 else "-"
print("%s\t%s\t%s\t%.0f\t%.0f\t%.2f\t%s\t%s" % (g or "(conf)", copy, load, rate,
      (b[0] - a[0]) / n, (b[1] - a[1]) / n, ipf, load1))
EOF
				tail -n 1 "$tmp/out.tsv"
			done
		done
		run=$((run + 1))
	done
	stop_apps
	IFS='|'
done
unset IFS
echo "# load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
"$PY" - "$tmp/out.tsv" <<'EOF'
import statistics, sys
from collections import defaultdict
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])][1:]
by = defaultdict(list)
for g, copy, load, rate, cpu, cs, ipf, _ in rows:
    by[(g, load, copy)].append((float(rate), float(cpu), float(cs), ipf))
print("\n| gunicorn | load | copy | req/s (min-max) | vs inproc | app CPU us/req | cs/req "
      "| items/frame |\n|---|---|---|---|---|---|---|---|")
for g in dict.fromkeys(r[0] for r in rows):
    for load in dict.fromkeys(r[2] for r in rows):
        base = statistics.median(v[0] for v in by[(g, load, "inproc")])
        for copy in ("old", "new", "inproc", "noauth"):
            v = by[(g, load, copy)]
            rates = [x[0] for x in v]
            med = statistics.median(rates)
            ipf = [x[3] for x in v if x[3] != "-"]
            print("| %s | %s | %s | %.0f (%.0f-%.0f) | %.2f | %.0f | %.2f | %s |" % (
                g, load, copy, med, min(rates), max(rates), med / base,
                statistics.median(x[1] for x in v), statistics.median(x[2] for x in v),
                "%.2f" % statistics.median(map(float, ipf)) if ipf else "-"))
EOF
