#!/bin/sh
# client_python_types.sh - the Python client's type annotations in make check (issue 14): mypy
# --strict, as client/python/pyproject.toml's [tool.mypy] section sets it (against Python 3.8,
# the oldest the package supports), on
#   - the package itself (hmacd/, shipped with py.typed);
#   - tests/typecheck/usage.py: an application's use of the public API, which must pass as it
#     is (no cast, no ignore);
#   - tests/typecheck/misuse.py: mistakes the annotations must catch: an error on every line
#     marked "# error", and on no other;
#   - the example apps (examples/*.py), each whose framework is installed (Flask, FastAPI with
#     uvicorn, Django: otherwise that one is left out, with a note), and gunicorn.conf.py.
#
# Debian's /usr/bin/python3 with python3-mypy, as client_python.sh uses it; nothing is written
# to the source tree (no mypy cache). Exit status: 0 passed, 1 failed, 77 skipped (mypy is not
# installed).
set -u

PY=/usr/bin/python3
src=${srcdir:-.}

if [ ! -x "$PY" ] || ! "$PY" -m mypy --version >/dev/null 2>&1; then
	echo "SKIP: mypy is not installed for $PY (Debian: apt-get install python3-mypy)"
	exit 77
fi
"$PY" -m mypy --version

cd "$src/client/python" || exit 1
run_mypy() {
	"$PY" -m mypy --cache-dir=/dev/null --config-file=pyproject.toml "$@"
}
fail=0

echo "== mypy --strict: the package"
run_mypy || fail=1

echo "== mypy --strict: tests/typecheck/usage.py"
run_mypy tests/typecheck/usage.py || fail=1

echo "== mypy --strict: tests/typecheck/misuse.py (an error on each line marked # error)"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
run_mypy tests/typecheck/misuse.py >"$tmp/out" 2>&1
rc=$?
cat "$tmp/out"
if [ "$rc" -ne 1 ]; then
	echo "FAIL: mypy exited $rc on misuse.py (1: type errors found)"
	fail=1
fi
sed -n 's|^tests/typecheck/misuse\.py:\([0-9]*\): error: .*|\1|p' "$tmp/out" | sort -un >"$tmp/got"
grep -n '# error$' tests/typecheck/misuse.py | cut -d: -f1 | sort -un >"$tmp/want"
if [ ! -s "$tmp/want" ] || ! cmp -s "$tmp/got" "$tmp/want"; then
	echo "FAIL: lines with errors differ from the lines marked # error (< missed, > unexpected):"
	diff "$tmp/want" "$tmp/got"
	fail=1
fi

echo "== mypy --strict: the example apps"
examples="examples/exec_request.py examples/send.py examples/gunicorn.conf.py"
for pair in flask:flask_app fastapi,uvicorn:fastapi_app django:django_app; do
	mods=${pair%%:*}
	app=${pair#*:}
	if "$PY" -c "import $mods" 2>/dev/null; then
		examples="$examples examples/$app.py"
	else
		echo "note: $mods not installed, examples/$app.py not checked"
	fi
done
# shellcheck disable=SC2086 # a list of file names without spaces
run_mypy $examples || fail=1

if [ "$fail" -ne 0 ]; then
	echo "FAIL: type check"
	exit 1
fi
echo "PASS: types check"
exit 0
