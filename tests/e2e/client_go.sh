#!/bin/sh
# client_go.sh - the Go client (client/go: packages hmacd, hmacdecho, hmacdgin, the examples)
# under `make check`: gofmt, go vet and go test, the tests running against the real hmacd
# (both schemes: hmacd-v1 with keys from `hmacctl key create`, RFC 9421 with secrets given to
# `hmacctl key import` under key ids and coverage policies from `hmacctl policy set`).
#
# Go modules cannot be downloaded here, so the build runs in GOPATH mode against Debian's
# packaged sources (/usr/share/gocode), through client/go/offline.sh: the recipe its README
# documents for users, so that make check tests that recipe. Its GOPATH overlay and the build
# cache are temporary here, and nothing is written into the source tree, so this works from a
# read-only tree (make distcheck).
#
# Environment: srcdir (automake sets it); HMACD and HMACCTL (absolute paths of the daemon and
# hmacctl, from AM_TESTS_ENVIRONMENT: without them the daemon tests skip themselves).
# Exit status: 0 passed, 1 failed, 77 skipped because there is no Go toolchain.
set -u

if ! command -v go >/dev/null 2>&1; then
	echo "SKIP: no go toolchain (apt-get install golang-go)"
	exit 77
fi
GOCODE=/usr/share/gocode/src
for dep in github.com/labstack/echo github.com/vmihailenco/msgpack/v5 github.com/gin-gonic/gin; do
	if [ ! -d "$GOCODE/$dep" ]; then
		echo "FAIL: $GOCODE/$dep is missing (sh tests/deps.sh installs it)"
		exit 1
	fi
done

src=$(cd "${srcdir:-.}" && pwd) || exit 1
if [ ! -f "$src/client/go/go.mod" ]; then
	echo "FAIL: no client/go under $src"
	exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hmacd-go.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

HMACD_GOPATH=$tmp/gopath
GOCACHE=$tmp/cache
HMACD_VECTORS=$src/proto/vectors/hmacd-v1.json
export HMACD_GOPATH GOCACHE HMACD_VECTORS
gocmd() {
	sh "$src/client/go/offline.sh" "$@"
}
gocmd version || exit 1

unformatted=$(cd "$src/client/go" && gofmt -l .)
if [ -n "$unformatted" ]; then
	echo "FAIL: gofmt would change:"
	echo "$unformatted"
	exit 1
fi
echo "gofmt: clean"

if ! gocmd vet ./...; then
	echo "FAIL: go vet"
	exit 1
fi
echo "go vet: clean"

if [ -z "${HMACD:-}" ] || [ -z "${HMACCTL:-}" ]; then
	echo "note: HMACD/HMACCTL unset, the tests against the daemon will skip"
fi
# -count=1: never a cached result; -timeout: a hung test fails instead of hanging make check.
if ! gocmd test -count=1 -timeout 120s ./...; then
	echo "FAIL: go test"
	exit 1
fi
exit 0
