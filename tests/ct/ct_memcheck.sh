#!/bin/sh
# ct_memcheck.sh - the ctgrind constant-time check (tests/ct/ct_memcheck.c) under valgrind.
#
# 1. The real verify engine with every secret marked undefined: memcheck must report nothing
#    (--error-exitcode=1 turns any "depends on uninitialised value" into a failure).
# 2. The control: a plain memcmp on a tainted MAC: memcheck must report it, or the check above
#    has no power (e.g. client requests ignored) and a clean run proves nothing.
# Exit 0 pass, 1 fail, 77 skip (no valgrind, or an ASan build, which memcheck cannot run).
# make check runs it from the top build directory; CT_MEMCHECK may name the binary instead.
set -u

bin=${CT_MEMCHECK:-./tests/ct/ct_memcheck}

if ! command -v valgrind >/dev/null 2>&1; then
	echo "SKIP: valgrind is not installed (Debian: apt-get install valgrind); constant-time taint check not run"
	exit 77
fi
if [ ! -x "$bin" ]; then
	echo "FAIL: $bin not built"
	exit 1
fi
kind=$("$bin" --build-info)
if [ "$kind" = asan ]; then
	echo "SKIP: AddressSanitizer build; memcheck cannot run it (the plain build runs this check)"
	exit 77
fi

log=$(mktemp "${TMPDIR:-/tmp}/ct_memcheck.XXXXXX") || exit 1
trap 'rm -f "$log"' EXIT INT TERM

vg="valgrind -q --error-exitcode=1 --track-origins=yes --num-callers=30"

echo "== verify engine with tainted secrets (must be clean)"
$vg "$bin"
rc=$?
case $rc in
0) ;;
77) echo "SKIP: ct_memcheck was built without <valgrind/memcheck.h>"; exit 77 ;;
*) echo "FAIL: secret-dependent branch or index in the verify path (or a setup error, rc $rc)"
   exit 1 ;;
esac

echo "== control: plain memcmp on a tainted MAC (memcheck must object)"
valgrind -q --error-exitcode=3 --log-file="$log" "$bin" --control
rc=$?
if [ "$rc" -ne 3 ] || ! grep -q "depends on uninitialised value" "$log"; then
	cat "$log"
	echo "FAIL: memcheck did not report the control's leaky memcmp (rc $rc): the check has no power"
	exit 1
fi
echo "control reported as expected: $(grep -c 'depends on uninitialised value' "$log") report(s)"
echo "PASS"
exit 0
