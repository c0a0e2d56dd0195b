"""report.py - the numbers of bench/http/run.sh: process counters, wrk's output, the table.

    python3 report.py snap PGID             CPU us and context switches of a process group
    python3 report.py wrk FILE              wrk --latency's output as "requests p50 p90 p99
                                            max non2xx errors" (latencies in us)
    python3 report.py table RESULTS         the markdown tables of a run (medians, min-max,
                                            the goals of issue 16)

RESULTS is run.sh's tab-separated file, one line per measured run (see FIELDS).
"""

import os
import re
import statistics
import sys
from collections import defaultdict
from typing import Dict, List, Tuple

FIELDS = ["app", "mode", "test", "run", "requests", "seconds", "rate", "p50", "p90", "p99",
          "max", "non2xx", "errors", "app_cpu_us", "app_cs", "hmacd_cpu_us", "hmacd_cs",
          "items", "frames"]


def snap(pgid: int) -> str:
    """CPU time in us (schedstat, ns resolution) and context switches (voluntary and
    nonvoluntary) of every live thread of the processes of group pgid, and their number."""
    ns = cs = n = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                stat = f.read()
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[2]) != pgid:  # pgrp, the fifth field of stat
                continue
            for tid in os.listdir("/proc/%s/task" % pid):
                with open("/proc/%s/task/%s/schedstat" % (pid, tid)) as f:
                    ns += int(f.read().split()[0])  # time on a CPU, in ns
                with open("/proc/%s/task/%s/status" % (pid, tid)) as f:
                    for line in f:
                        if line.startswith(("voluntary_ctxt_switches:",
                                            "nonvoluntary_ctxt_switches:")):
                            cs += int(line.split()[1])
            n += 1
        except (OSError, ValueError, IndexError):
            continue  # a process that ended meanwhile
    return "%d %d %d" % (ns // 1000, cs, n)


UNITS = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 60e6}


def us(v: str) -> float:
    m = re.match(r"([0-9.]+)(us|ms|s|m)$", v)
    if not m:
        raise ValueError("not a wrk latency: %r" % v)
    return float(m.group(1)) * UNITS[m.group(2)]


def parse_wrk(text: str) -> str:
    pct = {}
    for p, v in re.findall(r"^\s+(50|90|99)%\s+(\S+)", text, re.M):
        pct[p] = us(v)
    mx = re.search(r"^\s+Latency\s+\S+\s+\S+\s+(\S+)", text, re.M)
    req = re.search(r"^\s+(\d+) requests in ([0-9.]+)(m?s)", text, re.M)
    if req is None or len(pct) != 3 or mx is None:
        raise SystemExit("report.py: not wrk --latency output")
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                     text)
    errors = sum(int(x) for x in sock.groups()) if sock else 0
    secs = float(req.group(2)) / (1000 if req.group(3) == "ms" else 1)
    return "%s %.3f %.0f %.0f %.0f %.0f %d %d" % (
        req.group(1), secs, pct["50"], pct["90"], pct["99"], us(mx.group(1)),
        int(non2xx.group(1)) if non2xx else 0, errors)


def med(xs: List[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def spread(xs: List[float], fmt: str) -> str:
    if len(xs) < 2:
        return fmt % med(xs)
    return (fmt + " (" + fmt + "-" + fmt + ")") % (med(xs), min(xs), max(xs))


MODES = ["noauth", "inproc", "hmacd"]


def table(path: str) -> None:
    rows: Dict[Tuple[str, str, str], List[Dict[str, float]]] = defaultdict(list)
    apps: List[str] = []
    tests: List[str] = []
    with open(path) as f:
        for line in f:
            v = line.rstrip("\n").split("\t")
            if len(v) != len(FIELDS) or v[0] == "app":
                continue
            r = dict(zip(FIELDS, v))
            if r["app"] not in apps:
                apps.append(r["app"])
            if r["test"] not in tests:
                tests.append(r["test"])
            rows[(r["app"], r["mode"], r["test"])].append(
                {k: float(r[k]) for k in FIELDS[4:]})
    print("| app | mode | load | req/s | p50 µs | p99 µs | app CPU µs/req | "
          "hmacd CPU µs/req | ctx sw/req (app+hmacd) | items/frame | bad |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for app in apps:
        for mode in MODES:
            for test in tests:
                rs = rows.get((app, mode, test))
                if not rs:
                    continue
                per = [max(r["requests"], 1) for r in rs]
                rate = [r["rate"] for r in rs]
                appcpu = [r["app_cpu_us"] / p for r, p in zip(rs, per)]
                dcpu = [r["hmacd_cpu_us"] / p for r, p in zip(rs, per)]
                cs = [(r["app_cs"] + r["hmacd_cs"]) / p for r, p in zip(rs, per)]
                ipf = [r["items"] / r["frames"] for r in rs if r["frames"] > 0]
                bad = sum(int(r["non2xx"] + r["errors"]) for r in rs)
                print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    app, mode, test, spread(rate, "%.0f"),
                    spread([r["p50"] for r in rs], "%.0f"),
                    spread([r["p99"] for r in rs], "%.0f"),
                    spread(appcpu, "%.1f"),
                    spread(dcpu, "%.1f") if mode == "hmacd" else "-",
                    spread(cs, "%.2f"),
                    spread(ipf, "%.2f") if mode == "hmacd" and ipf else "-",
                    bad or ""))
    print()
    print("Through hmacd against in-process, medians (closed loop: throughput ratio; "
          "open loop: added p50/p99 µs; hmacd CPU µs per item at 2,000 req/s):")
    print()
    print("| app | c16 ratio | c64 ratio | r2000 +p50 µs | r2000 +p99 µs | "
          "hmacd CPU µs/item at r2000 | items/frame at r2000 |")
    print("|---|---|---|---|---|---|---|")
    for app in apps:
        def m(mode: str, test: str, key: str) -> float:
            return med([r[key] for r in rows.get((app, mode, test), [])])

        def per_item(test: str) -> float:
            rs = rows.get((app, "hmacd", test), [])
            return med([r["hmacd_cpu_us"] / r["items"] for r in rs if r["items"] > 0])

        def ipf(test: str) -> float:
            rs = rows.get((app, "hmacd", test), [])
            return med([r["items"] / r["frames"] for r in rs if r["frames"] > 0])

        print("| %s | %.2f | %.2f | %+.0f | %+.0f | %.1f | %.2f |" % (
            app, ratio(m("hmacd", "c16", "rate"), m("inproc", "c16", "rate")),
            ratio(m("hmacd", "c64", "rate"), m("inproc", "c64", "rate")),
            m("hmacd", "r2000", "p50") - m("inproc", "r2000", "p50"),
            m("hmacd", "r2000", "p99") - m("inproc", "r2000", "p99"),
            per_item("r2000"), ipf("r2000")))


def main() -> int:
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "snap" and len(sys.argv) == 3:
        print(snap(int(sys.argv[2])))
    elif cmd == "wrk" and len(sys.argv) == 3:
        with open(sys.argv[2]) as f:
            print(parse_wrk(f.read()))
    elif cmd == "table" and len(sys.argv) == 3:
        table(sys.argv[2])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
