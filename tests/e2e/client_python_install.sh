#!/bin/sh
# client_python_install.sh - the Python client installs from the checkout with no network, as
# client/python/README.md says (issue 14):
#
#   python3 -m venv --system-site-packages VENV
#   VENV/bin/pip install --no-build-isolation --no-index ./client/python
#
# (Debian's python3-setuptools and python3-wheel build it, its msgpack is python3-msgpack; a
# venv because Debian's own python3 is externally managed, PEP 668.) Then, with the venv's
# python and from outside the checkout: hmacd is the installed copy, every module imports
# (hmacd.django when Django is installed), py.typed is installed, and mypy --strict (when
# installed) checks an application's use of the API against the installed package, which it
# only does for a package that ships py.typed.
#
# pip builds in the tree it is given, and make distcheck makes the source tree read-only: the
# package is copied to a temporary directory first. Exit status: 0 passed, 1 failed, 77
# skipped (python3-venv, python3-setuptools >= 61, python3-wheel or python3-msgpack missing).
set -u

PY=/usr/bin/python3
src=$(cd "${srcdir:-.}" && pwd) || exit 1

if [ ! -x "$PY" ] || ! "$PY" -c 'import ensurepip, msgpack, wheel, setuptools, sys
sys.exit(int(setuptools.__version__.split(".")[0]) < 61)' 2>/dev/null; then
	echo "SKIP: $PY with python3-venv, python3-setuptools (>= 61), python3-wheel and" \
		"python3-msgpack is needed"
	exit 77
fi

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
cp -R "$src/client/python" "$tmp/python" || exit 1
chmod -R u+w "$tmp/python"
rm -rf "$tmp/python/build" "$tmp/python"/*.egg-info

echo "== python3 -m venv --system-site-packages; pip install --no-build-isolation --no-index"
"$PY" -m venv --system-site-packages "$tmp/venv" || exit 1
PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
	"$tmp/venv/bin/pip" install --no-build-isolation --no-index "$tmp/python" || {
	echo "FAIL: pip install"
	exit 1
}

cd "$tmp" || exit 1
rm -rf "$tmp/python"  # nothing can come from the copy any more: only the installed package
echo "== the installed package"
PYTHONDONTWRITEBYTECODE=1 "$tmp/venv/bin/python" - "$tmp/venv" <<'PYEOF' || exit 1
import importlib, os, sys
import hmacd
venv = os.path.realpath(sys.argv[1])
where = os.path.dirname(os.path.realpath(hmacd.__file__))
assert where.startswith(venv + os.sep), "hmacd comes from %s, not the venv" % where
assert os.path.isfile(os.path.join(where, "py.typed")), "py.typed is not installed"
mods = ["aio", "asgi", "authorization", "client", "errors", "peer", "rfc9421", "signer",
        "wire", "wsgi"]
try:
    import django  # noqa: F401
    mods.append("django")
except ImportError:
    print("note: Django is not installed, hmacd.django not imported")
for m in mods:
    importlib.import_module("hmacd." + m)
print("hmacd %s in %s: %s, py.typed" % (hmacd.__version__, where, ", ".join(mods)))
PYEOF

if "$tmp/venv/bin/python" -m mypy --version >/dev/null 2>&1; then
	echo "== mypy --strict on tests/typecheck/usage.py, against the installed package"
	"$tmp/venv/bin/python" -m mypy --strict --cache-dir=/dev/null --python-version 3.8 \
		"$src/client/python/tests/typecheck/usage.py" || {
		echo "FAIL: the installed package's types"
		exit 1
	}
else
	echo "note: mypy is not installed, the installed package's types not checked"
fi
echo "PASS: pip install from the checkout, offline"
exit 0
