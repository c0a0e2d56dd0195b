#!/bin/sh
# explain.sh - hmacctl explain end to end: the real daemon and hmacctl on one store, through
# tests/e2e/explain_check.py (the Python client signs and sends). Skipped without python3 and
# python3-msgpack.
set -u
PY=/usr/bin/python3
src=${srcdir:-.}
if [ ! -x "$PY" ] || ! "$PY" -c 'import msgpack' 2>/dev/null; then
	echo "SKIP: $PY with python3-msgpack is needed"
	exit 77
fi
if [ -z "${HMACD:-}" ] || [ -z "${HMACCTL:-}" ]; then
	echo "SKIP: HMACD and HMACCTL must name the binaries under test"
	exit 77
fi
PYTHONDONTWRITEBYTECODE=1
PYTHONPATH="$src/client/python"
export PYTHONDONTWRITEBYTECODE PYTHONPATH
run=
if command -v timeout >/dev/null 2>&1; then
	run="timeout -k 10 300"
fi
exec $run "$PY" "$src/tests/e2e/explain_check.py"
