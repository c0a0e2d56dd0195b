#!/bin/sh
# client_python.sh - the Python client (client/python) in make check: its pytest suite against
# the shared vectors, RFC 9421's own examples, a scripted fake daemon and the real hmacd
# ($HMACD; keys made or imported by key id, and RFC 9421 coverage policies set, with $HMACCTL;
# both set by AM_TESTS_ENVIRONMENT), plus a check that proto/vectors/hmacd-v1.json is what
# proto/vectors/generate.py writes.
#
# Nothing is written to the source tree (make distcheck makes it read-only): no bytecode, no
# pytest cache, temporary sockets and stores under $TMPDIR. Debian's /usr/bin/python3 with its
# python3-* packages is used on purpose: another python3 may come first on PATH.
# Exit status: 0 passed, 1 failed, 77 skipped (python3, pytest or msgpack is not installed).
set -u

PY=/usr/bin/python3
src=${srcdir:-.}

if [ ! -x "$PY" ] || ! "$PY" -c 'import pytest, msgpack' 2>/dev/null; then
	echo "SKIP: $PY with python3-pytest and python3-msgpack is needed"
	exit 77
fi
if [ -z "${HMACD:-}" ] || [ -z "${HMACCTL:-}" ]; then
	echo "note: HMACD/HMACCTL not set, the tests against the real daemon will be skipped"
fi

PYTHONDONTWRITEBYTECODE=1
PYTHONPATH="$src/client/python"
HMACD_VECTORS="$src/proto/vectors/hmacd-v1.json"
export PYTHONDONTWRITEBYTECODE PYTHONPATH HMACD_VECTORS

"$PY" "$src/proto/vectors/generate.py" --check --out "$HMACD_VECTORS" || exit 1

# a hard bound, so a hung test cannot hang make check
run=
if command -v timeout >/dev/null 2>&1; then
	run="timeout -k 10 300"
fi
$run "$PY" -m pytest -q -p no:cacheprovider --rootdir="$src/client/python" \
	"$src/client/python/tests"
rc=$?
case $rc in
0) exit 0 ;;
*) echo "FAIL: pytest exited with $rc"; exit 1 ;;
esac
