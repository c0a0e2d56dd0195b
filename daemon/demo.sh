#!/bin/sh
# Quick start: install packages, build, create a store under ./demo/ with a demo key, and run
# hmacd on ./demo/hmacd.sock in the foreground (Ctrl-C stops it).
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
sh tests/deps.sh
./autogen.sh >/dev/null
mkdir -p _build
(cd _build && "$top/configure" -q && make -s -j"$(nproc 2>/dev/null || echo 2)")
export HMACD_DB="$top/demo/db" HMACD_SOCKET="$top/demo/hmacd.sock"
mkdir -p demo
_build/daemon/hmacctl init >/dev/null
if ! _build/daemon/hmacctl key list --tenant demo | grep -q demo; then
	echo "Creating the demo key demo/web-01 (its secret is shown once, keep it to sign):"
	_build/daemon/hmacctl key create --tenant demo --container web-01 --json | tee demo/demo-key.json
	chmod 600 demo/demo-key.json
fi
cat <<MSG

hmacd is starting on $HMACD_SOCKET (store $HMACD_DB). In another shell:
  export HMACD_DB=$HMACD_DB HMACD_SOCKET=$HMACD_SOCKET
  $top/_build/daemon/hmacctl ping
  $top/_build/daemon/hmacctl stats
  $top/_build/daemon/hmacctl key list
  $top/_build/daemon/hmacctl key rotate --tenant demo --container web-01 --grace 3600
The demo key's secret is in demo/demo-key.json. Ctrl-C stops the daemon.

MSG
exec _build/daemon/hmacd --socket "$HMACD_SOCKET" --db "$HMACD_DB"
