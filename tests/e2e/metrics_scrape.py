#!/usr/bin/env python3
"""metrics_scrape.py - scrapes hmacd's /metrics for e2e_metrics with a real Prometheus parser.

  metrics_scrape.py check            exit 0 if prometheus_client is importable, else 77
  metrics_scrape.py scrape URL       GET URL; checks the status, the Content-Type and the
                                     families (hmacd_ names, HELP, a known TYPE, counters
                                     ending in _total); prints one line per sample:
                                     name{label="value",...} value (labels sorted by name)
  metrics_scrape.py http BASE        the answers to other paths and methods (404, 405, HEAD)
  metrics_scrape.py loop URL N       N scrapes in a row, each parsed (a scrape under load)

Exit status: 0 ok, 1 a check failed (said on stderr), 77 prometheus_client is missing.
"""
import sys
import urllib.error
import urllib.request

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    text_string_to_metric_families = None

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TYPES = {"counter", "gauge", "histogram"}


def fail(msg):
    print("metrics_scrape: " + msg, file=sys.stderr)
    sys.exit(1)


def request(url, method="GET"):
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def fmt(v):
    return str(int(v)) if v == int(v) else repr(v)


def scrape(url):
    status, headers, body = request(url)
    if status != 200:
        fail("GET %s: status %d" % (url, status))
    if headers.get("Content-Type") != CONTENT_TYPE:
        fail("Content-Type %r, want %r" % (headers.get("Content-Type"), CONTENT_TYPE))
    text = body.decode("utf-8")
    lines = []
    for fam in text_string_to_metric_families(text):
        if not fam.name.startswith("hmacd_"):
            fail("family %s: no hmacd_ prefix" % fam.name)
        if fam.type not in TYPES:
            fail("family %s: type %s" % (fam.name, fam.type))
        if not fam.documentation:
            fail("family %s: no HELP" % fam.name)
        for s in fam.samples:
            if fam.type == "counter" and not s.name.endswith("_total"):
                fail("counter sample %s does not end in _total" % s.name)
            labels = ",".join('%s="%s"' % (k, s.labels[k]) for k in sorted(s.labels))
            lines.append("%s{%s} %s" % (s.name, labels, fmt(s.value)))
    if not lines:
        fail("no samples")
    return lines


def http_checks(base):
    ok = True
    for method, path, want in (("GET", "/", 404), ("GET", "/metricsx", 404),
                               ("GET", "/other/metrics", 404), ("POST", "/metrics", 405),
                               ("PUT", "/metrics", 405), ("DELETE", "/metrics", 405),
                               ("POST", "/nowhere", 404), ("HEAD", "/metrics", 200),
                               ("GET", "/metrics?x=1", 200)):
        status, headers, body = request(base + path, method)
        if status != want:
            print("%s %s: status %d, want %d" % (method, path, status, want), file=sys.stderr)
            ok = False
        if want == 405 and headers.get("Allow") != "GET, HEAD":
            print("%s %s: Allow %r" % (method, path, headers.get("Allow")), file=sys.stderr)
            ok = False
        if method == "HEAD" and body:
            print("HEAD %s: a body of %d bytes" % (path, len(body)), file=sys.stderr)
            ok = False
    if not ok:
        sys.exit(1)


def main(argv):
    if text_string_to_metric_families is None:
        print("SKIP: %s: prometheus_client is not installed (Debian: "
              "python3-prometheus-client)" % sys.executable, file=sys.stderr)
        return 77
    if len(argv) == 2 and argv[1] == "check":
        return 0
    if len(argv) == 3 and argv[1] == "scrape":
        print("\n".join(scrape(argv[2])))
        return 0
    if len(argv) == 3 and argv[1] == "http":
        http_checks(argv[2])
        return 0
    if len(argv) == 4 and argv[1] == "loop":
        for _ in range(int(argv[3])):
            scrape(argv[2])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
