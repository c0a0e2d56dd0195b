#!/bin/sh
# client_node.sh - the Node client (client/node) tested against the real hmacd: node --test.
#
# Copies client/node to a temporary directory (make distcheck's source tree is read-only and
# node_modules must be written somewhere), installs its locked dependencies there with `npm ci`
# (the npm registry, or npm's cache: @msgpack/msgpack, and for the tests express, fastify and
# http-message-signatures, the standard RFC 9421 signer that must interoperate with hmacd's
# rfc9421 items; typescript and the @types it compiles against), checks the types with
# `npm run typecheck`, and runs test/*.test.mjs and test/*.test.cjs (the package under import
# and require) with HMACD, HMACCTL and HMACD_VECTORS pointing at this build. Every daemon the
# tests start lives under the temporary directory and is killed on exit even if node itself was
# killed.
# Exit status: 0 passed, 1 failed, 77 skipped (only when node is not installed).
set -u

if ! command -v node >/dev/null 2>&1; then
	echo "SKIP: node is not installed"
	exit 77
fi
if ! command -v npm >/dev/null 2>&1; then
	echo "FAIL: node is installed but npm is not (npm ci installs the client's dependencies)"
	exit 1
fi

srcdir=${srcdir:-.}
src=$(cd "$srcdir" && pwd) || exit 1
HMACD=${HMACD:-$(pwd)/daemon/hmacd}
HMACCTL=${HMACCTL:-$(pwd)/daemon/hmacctl}
for b in "$HMACD" "$HMACCTL"; do
	if [ ! -x "$b" ]; then
		echo "FAIL: $b is not built (set HMACD and HMACCTL)"
		exit 1
	fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/client-node.XXXXXX") || exit 1
cleanup() {
	# daemons left by a test process that was killed: only ours (their paths are under $tmp)
	if [ -f "$tmp/pids" ]; then
		while read -r pid; do
			if [ -r "/proc/$pid/cmdline" ] &&
				tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$tmp/"; then
				kill -9 "$pid" 2>/dev/null
			fi
		done <"$tmp/pids"
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

mkdir "$tmp/pkg" "$tmp/t" || exit 1
(cd "$src/client/node" && tar cf - --exclude=./node_modules .) | (cd "$tmp/pkg" && tar xf -) ||
	exit 1
chmod -R u+w "$tmp/pkg"

cd "$tmp/pkg" || exit 1
# the registry is the one thing here that is not on this machine: give it three tries
npm_ok=0
for try in 1 2 3; do
	if npm ci --no-audit --no-fund --loglevel=error >"$tmp/npm.log" 2>&1; then
		npm_ok=1
		break
	fi
	echo "npm ci failed (try $try of 3)"
	sleep $((try * 5))
done
if [ "$npm_ok" -ne 1 ]; then
	cat "$tmp/npm.log"
	echo "FAIL: npm ci"
	exit 1
fi

# the types (index.d.ts): the typed tests in test/types compiled with tsc --strict, not run
if ! npm run -s typecheck; then
	echo "FAIL: npm run typecheck (tsc -p test/types)"
	exit 1
fi

# a bound on the whole run, and on each test where node has the flag (20.11 and later; Debian
# 12's node 18 has not)
limit=
if command -v timeout >/dev/null 2>&1; then
	limit="timeout 300"
fi
per_test=
if node --help 2>/dev/null | grep -q -e '--test-timeout'; then
	per_test=--test-timeout=60000
fi
HMACD=$HMACD HMACCTL=$HMACCTL HMACD_VECTORS="$src/proto/vectors/hmacd-v1.json" \
	HMACD_TEST_PIDFILE="$tmp/pids" TMPDIR="$tmp/t" \
	$limit node --test $per_test test/*.test.mjs test/*.test.cjs
rc=$?
if [ "$rc" -ne 0 ]; then
	echo "FAIL: node --test exited with $rc"
	exit 1
fi
exit 0
