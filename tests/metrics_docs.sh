#!/bin/sh
# metrics_docs.sh - the example Grafana dashboard and Prometheus alert rules (doc/grafana,
# doc/prometheus) parse, have the shape their tools expect, and name only metrics hmacd
# exports (every hmacd_* name they use is written by daemon/server/metrics.c), so a renamed
# metric cannot leave them silently empty; the systemd drop-in (daemon/hmacd.service.d/
# metrics.conf) sets only variables hmacd reads. Part of make check.
# Exit status: 0 ok, 1 a check failed, 77 skipped (no python3). The YAML file is only parsed
# when python3-yaml is installed (else its names are still checked, as text).
set -u
top=$(cd "${srcdir:-.}" && pwd) || exit 1
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3 2>/dev/null) || PY=
if [ -z "$PY" ]; then
	echo "SKIP: python3 is needed"
	exit 77
fi
exec "$PY" - "$top" <<'PYEOF'
import json
import re
import sys

top = sys.argv[1]
dash_path = top + "/doc/grafana/hmacd-dashboard.json"
rules_path = top + "/doc/prometheus/hmacd-alerts.yml"
errors = []

with open(top + "/daemon/server/metrics.c") as f:
    source = f.read()
exported = set(re.findall(r'"(hmacd_[a-z0-9_]+)"', source))


def check_names(where, text):
    for name in set(re.findall(r"\bhmacd_[a-z0-9_]+", text)):
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        if name not in exported and base not in exported:
            errors.append("%s: %s is not a metric hmacd exports" % (where, name))


# the dashboard
with open(dash_path) as f:
    dash = json.load(f)
variables = dash.get("templating", {}).get("list", [])
if not any(v.get("type") == "datasource" and v.get("query") == "prometheus" for v in variables):
    errors.append("dashboard: no Prometheus datasource variable")
panels = [p for p in dash.get("panels", []) if p.get("type") != "row"]
if not panels:
    errors.append("dashboard: no panels")
ids = [p.get("id") for p in dash.get("panels", [])]
if len(ids) != len(set(ids)):
    errors.append("dashboard: panel ids repeat")
for p in panels:
    title = p.get("title", "?")
    if not p.get("targets"):
        errors.append("dashboard: panel %r has no query" % title)
    for t in p.get("targets", []):
        if t.get("datasource", {}).get("uid") != "${datasource}":
            errors.append("dashboard: panel %r does not use the datasource variable" % title)
        expr = t.get("expr", "")
        if expr.count("(") != expr.count(")") or expr.count("{") != expr.count("}"):
            errors.append("dashboard: panel %r: unbalanced expression" % title)
        check_names("dashboard panel %r" % title, expr)

# the alert rules
with open(rules_path) as f:
    rules_text = f.read()
check_names("alerts", rules_text)
for want in ('verdict="BAD_SIGNATURE"', "hmacd_nonce_cache_entries", "hmacd_store_errors_total"):
    if want not in rules_text:
        errors.append("alerts: no rule on %s" % want)
try:
    import yaml
except ImportError:
    yaml = None
    print("note: python3-yaml is not installed: %s is not parsed" % rules_path)
if yaml is not None:
    doc = yaml.safe_load(rules_text)
    rules = [r for g in doc.get("groups", []) for r in g.get("rules", [])]
    if not rules:
        errors.append("alerts: no rules")
    for r in rules:
        name = r.get("alert", "?")
        for key in ("alert", "expr"):
            if not r.get(key):
                errors.append("alerts: rule %s has no %s" % (name, key))
        if r.get("labels", {}).get("severity") not in ("warning", "critical"):
            errors.append("alerts: rule %s: severity warning or critical" % name)
        if not r.get("annotations", {}).get("summary"):
            errors.append("alerts: rule %s has no summary" % name)

# the systemd drop-in sets only variables hmacd reads
with open(top + "/daemon/server/options.c") as f:
    options = f.read()
with open(top + "/daemon/hmacd.service.d/metrics.conf") as f:
    dropin = f.read()
for var in re.findall(r"^#?Environment=(HMACD_[A-Z_]+)=", dropin, re.M):
    if '"%s"' % var not in options:
        errors.append("metrics.conf: %s is not read by hmacd" % var)
if "HMACD_METRICS_LISTEN" not in dropin:
    errors.append("metrics.conf: does not set HMACD_METRICS_LISTEN")

for e in errors:
    print("not ok: " + e)
if errors:
    sys.exit(1)
print("ok: %d dashboard panels, the alert rules, every metric they name exported" % len(panels))
PYEOF
