#!/bin/sh
# bench_http_smoke.sh - bench/http/run.sh end to end at the smallest shape: the Go net/http
# example through hmacd, one run of 1 s, under the open loop (hmacd-http-load at 200 req/s)
# and, when wrk is installed, the closed loop (wrk -c16). It checks that the harness ran and
# that its figures are sane: requests answered, every one a 2xx (no non-2xx, no error), the
# open loop at the rate asked, hmacd's CPU and frames counted. No timing assertion: speed is
# measured by bench/http/run.sh and written in BENCHMARKS.md, not tested.
#
# Environment: srcdir (automake), HMACD and HMACCTL (AM_TESTS_ENVIRONMENT); run from the build
# directory (bench/http/hmacd-http-load next to it). Exit status: 0 passed, 1 failed,
# 77 skipped (no go with Debian's packages, no Debian python3 with msgpack).
set -u

PY=/usr/bin/python3
src=$(cd "${srcdir:-.}" && pwd) || exit 1
if ! command -v go >/dev/null 2>&1; then
	echo "SKIP: no go (apt-get install golang-go)"
	exit 77
fi
if [ ! -d /usr/share/gocode/src/github.com/vmihailenco/msgpack ]; then
	echo "SKIP: no golang-github-vmihailenco-msgpack.v5-dev"
	exit 77
fi
if ! "$PY" -c 'import msgpack' 2>/dev/null; then
	echo "SKIP: $PY with python3-msgpack is needed (the signer)"
	exit 77
fi
loads=r200
if command -v wrk >/dev/null 2>&1; then
	loads="c16 r200"
else
	echo "note: no wrk, the closed loop is left out (apt-get install wrk)"
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-http-smoke.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
GOCACHE=$tmp/gocache
export GOCACHE

if ! sh "$src/bench/http/run.sh" --apps go-nethttp --modes hmacd --loads "$loads" --runs 1 \
	--duration 1 --warmup 0 --scopes 3 --results "$tmp/results.tsv" >"$tmp/out" 2>&1; then
	cat "$tmp/out"
	echo "FAIL: bench/http/run.sh"
	exit 1
fi
cat "$tmp/out"
# every line of results.tsv checked (report.py's FIELDS), and one per load
"$PY" - "$tmp/results.tsv" "$loads" <<'EOF'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
head, rows = rows[0], rows[1:]
want = sys.argv[2].split()
bad = []
if sorted(r[head.index("test")] for r in rows) != sorted(want):
    bad.append("runs %s, want one of each of %s" % ([r[2] for r in rows], want))
for r in rows:
    v = dict(zip(head, r))
    f = {k: float(v[k]) for k in head[4:]}
    what = "%s %s %s" % (v["app"], v["mode"], v["test"])
    if f["requests"] <= 0:
        bad.append("%s: no request answered" % what)
    if f["non2xx"] != 0 or f["errors"] != 0:
        bad.append("%s: %d non-2xx, %d errors" % (what, f["non2xx"], f["errors"]))
    if not 0 < f["p50"] <= f["p99"] <= f["max"]:
        bad.append("%s: latencies out of order: %s %s %s" % (what, v["p50"], v["p99"], v["max"]))
    if v["test"].startswith("r") and f["requests"] != float(v["test"][1:]) * f["seconds"]:
        bad.append("%s: %s requests in %s s" % (what, v["requests"], v["seconds"]))
    if f["items"] < f["requests"] or f["frames"] <= 0 or f["hmacd_cpu_us"] <= 0:
        bad.append("%s: hmacd's counters: %s items, %s frames, %s us" % (
            what, v["items"], v["frames"], v["hmacd_cpu_us"]))
    if f["app_cpu_us"] <= 0:
        bad.append("%s: no app CPU time" % what)
for b in bad:
    print("FAIL: " + b)
sys.exit(1 if bad else 0)
EOF
