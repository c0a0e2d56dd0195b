#!/bin/sh
# offline.sh - run the go command on client/go without the module proxy: in GOPATH mode,
# against the Go sources Debian packages in /usr/share/gocode.
#
#   apt-get install -y golang-go golang-github-vmihailenco-msgpack.v5-dev \
#       golang-github-labstack-echo-dev golang-github-gin-gonic-gin-dev
#   sh client/go/offline.sh run ./examples/nethttp     # any go subcommand and its arguments
#   sh client/go/offline.sh test ./...
#
# It keeps a GOPATH overlay (default ~/.cache/hmacd-gopath, or $HMACD_GOPATH) holding two
# symlinks: src/github.com/hmacd/hmacd/client/go -> this directory, and
# src/github.com/labstack/echo/v4 -> Debian's echo (packaged without its /v4 directory); every
# other package (msgpack/v5, gin and their dependencies) is found in /usr/share/gocode as is.
# Then it runs `go "$@"` from the overlay's client/go, so that relative package paths
# (./examples/echo, ./...) name this directory's packages under their import paths.
#
# The module files (go.mod) are not used in this mode. GO111MODULE, GOPATH, GOFLAGS and
# GOENV are set for the go command only; GOCACHE is left as it is (make check sets its own).
set -eu

GOCODE=/usr/share/gocode
here=$(cd "$(dirname "$0")" && pwd)
overlay=${HMACD_GOPATH:-${XDG_CACHE_HOME:-$HOME/.cache}/hmacd-gopath}

if ! command -v go >/dev/null 2>&1; then
	echo "offline.sh: no go command (apt-get install golang-go)" >&2
	exit 1
fi
missing=
for pkg in github.com/vmihailenco/msgpack/v5:golang-github-vmihailenco-msgpack.v5-dev \
	github.com/labstack/echo:golang-github-labstack-echo-dev \
	github.com/gin-gonic/gin:golang-github-gin-gonic-gin-dev; do
	[ -d "$GOCODE/src/${pkg%%:*}" ] || missing="$missing ${pkg#*:}"
done
if [ -n "$missing" ]; then
	# hmacd needs msgpack; only hmacdecho needs echo and only hmacdgin gin.
	echo "offline.sh: not installed:$missing (apt-get install -y$missing)" >&2
fi

pkgdir=$overlay/src/github.com/hmacd/hmacd/client/go
mkdir -p "$overlay/src/github.com/labstack/echo" "${pkgdir%/go}"
# Replace the links each time, so that the overlay follows the checkout it was run from.
ln -sfn "$here" "$pkgdir"
ln -sfn "$GOCODE/src/github.com/labstack/echo" "$overlay/src/github.com/labstack/echo/v4"

GO111MODULE=off
GOPATH=$overlay:$GOCODE
GOFLAGS=
GOENV=off
GOTOOLCHAIN=local
export GO111MODULE GOPATH GOFLAGS GOENV GOTOOLCHAIN
# Through the symlink, with PWD set, so that ./... names the overlay's import paths.
cd "$pkgdir"
PWD=$pkgdir
export PWD
exec go "$@"
