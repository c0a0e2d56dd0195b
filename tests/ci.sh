#!/bin/sh
# The whole test suite, as CI runs it: install packages, build with -Werror, make check; the
# end-to-end tests with the daemon under valgrind; the whole suite again under AddressSanitizer +
# UndefinedBehaviorSanitizer; libFuzzer on the parsers; then make distcheck.
# Build trees go to _build/, _build-asan/ and _build-fuzz/ inside the checkout. Each stage prints
# its start time, so a slow CI run shows where the time went (CI must stay well under 20 min).
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)
stage() { echo "== $(date -u +%H:%M:%S) $*"; }

sh tests/deps.sh
./autogen.sh >/dev/null

stage "build (-Werror) and make check"
mkdir -p _build
(cd _build && "$top/configure" -q --enable-werror && make -s -j"$jobs" && make -s -j"$jobs" check) || {
	cat _build/test-suite.log 2>/dev/null || true
	exit 1
}

stage "end-to-end suite with the daemon under valgrind memcheck"
(cd _build && HMACD_TEST_VALGRIND=1 make -s -j"$jobs" check \
	TESTS="tests/e2e/e2e_verify tests/e2e/e2e_frames tests/e2e/e2e_lifecycle tests/e2e/e2e_access \
	tests/e2e/e2e_rfc9421 tests/e2e/e2e_metrics tests/e2e/e2e_fleet \
	tests/e2e/e2e_fleet_nonces tests/e2e/e2e_metrics_fleet tests/e2e/e2e_backup") || {
	cat _build/test-suite.log 2>/dev/null || true
	exit 1
}

stage "ASan + UBSan build and make check"
mkdir -p _build-asan
(cd _build-asan && "$top/configure" -q --enable-werror --enable-sanitizers &&
	make -s -j"$jobs" && ASAN_OPTIONS=detect_leaks=1 make -s -j"$jobs" check) || {
	cat _build-asan/test-suite.log 2>/dev/null || true
	exit 1
}

stage "libFuzzer (clang, the libraries built with coverage): seeds, then 20 s per target"
mkdir -p _build-fuzz
(cd _build-fuzz && "$top/configure" -q CC=clang --enable-werror --enable-fuzzing &&
	sh "$top/tests/fuzz/run.sh" 20) || exit 1

stage "make distcheck"
(cd _build && make -s -j"$jobs" distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror >/dev/null) || exit 1

stage "all passed"
