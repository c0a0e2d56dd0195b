#!/bin/sh
# examples.sh - the example apps against the contract every one of them keeps (README.md,
# "Example apps"), from outside, across languages: a real hmacd, each app built and started
# as its README says (HMACD_SOCKET, PORT), requests signed by the Python client's signers
# (hmacd-v1 and RFC 9421), responses and the app's log checked by examples_check.py; then the
# app started again with no hmacd behind its socket (503, /healthz still 200).
#
# The apps are the APPS list below, one "name command" a line; an app of another language
# joins by adding its line (and its build, if any, next to the Go one). Today: the Go
# net/http and Echo examples, built offline through client/go/offline.sh.
#
# Environment: srcdir (automake sets it); HMACD and HMACCTL (AM_TESTS_ENVIRONMENT).
# Exit status: 0 passed, 1 failed, 77 skipped (no daemon, no Debian python3 with msgpack, or
# no app could be built).
set -u

PY=/usr/bin/python3 # Debian's, with python3-msgpack; another python3 may come first on PATH
if [ -z "${HMACD:-}" ] || [ -z "${HMACCTL:-}" ]; then
	echo "SKIP: HMACD and HMACCTL are not set"
	exit 77
fi
if ! "$PY" -c 'import msgpack' 2>/dev/null; then
	echo "SKIP: $PY with python3-msgpack is needed (the signer)"
	exit 77
fi
src=$(cd "${srcdir:-.}" && pwd) || exit 1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hmacd-ex.XXXXXX") || exit 1
daemon=
app=
cleanup() {
	[ -n "$app" ] && kill "$app" 2>/dev/null && wait "$app" 2>/dev/null
	[ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM
PYTHONPATH=$src/client/python
PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH PYTHONDONTWRITEBYTECODE

# ---- the apps ----
APPS=
mkdir -p "$tmp/bin"
if command -v go >/dev/null 2>&1; then
	for ex in nethttp echo; do
		if HMACD_GOPATH=$tmp/gopath GOCACHE=$tmp/gocache \
			sh "$src/client/go/offline.sh" build -o "$tmp/bin/go-$ex" "./examples/$ex"; then
			APPS="$APPS
go-$ex $tmp/bin/go-$ex"
		else
			echo "FAIL: building client/go/examples/$ex"
			exit 1
		fi
	done
else
	echo "note: no go toolchain, the Go examples are left out"
fi
for ex in flask fastapi django; do
	APPS="$APPS
py-$ex $PY $src/client/python/examples/${ex}_app.py"
done
if [ -z "$APPS" ]; then
	echo "SKIP: no example app to run"
	exit 77
fi

# ---- the daemon and the keys ----
"$HMACD" --socket "$tmp/s" --db "$tmp/db" --threads 1 --log-level warn \
	>"$tmp/hmacd.log" 2>&1 &
daemon=$!
i=0
while [ ! -S "$tmp/s" ]; do
	if ! kill -0 "$daemon" 2>/dev/null; then
		echo "FAIL: hmacd exited at start-up"
		cat "$tmp/hmacd.log"
		exit 1
	fi
	i=$((i + 1))
	if [ "$i" -gt 100 ]; then
		echo "FAIL: hmacd did not create its socket in 10 s"
		exit 1
	fi
	sleep 0.1
done
ctl() {
	"$HMACCTL" --db "$tmp/db" "$@"
}
mkdir -p "$tmp/keys"
ctl key create --tenant acme --container web-01 --json >"$tmp/keys/v1.json" || exit 1
ctl key create --tenant acme --container web-02 --json >/dev/null || exit 1
"$PY" -c 'import os, sys; sys.stdout.buffer.write(os.urandom(32))' >"$tmp/rfc.key"
ctl key import --tenant acme --container web-03 --keyid acme-web-03-k1 \
	--secret-file "$tmp/rfc.key" >/dev/null || exit 1
"$PY" -c 'import base64, json, sys
print(json.dumps({"keyid": "acme-web-03-k1",
                  "secret": base64.b64encode(open(sys.argv[1], "rb").read()).decode()}))' \
	"$tmp/rfc.key" >"$tmp/keys/rfc.json"

free_port() {
	"$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# run NAME SOCKET CMD...: starts the app with HMACD_SOCKET=SOCKET and a free PORT, its log
# in $tmp/NAME.log; sets app (its pid) and url.
run() {
	name=$1 sock=$2
	shift 2
	port=$(free_port)
	HMACD_SOCKET=$sock PORT=$port "$@" >"$tmp/$name.log" 2>&1 &
	app=$!
	url=http://127.0.0.1:$port
}

stop() {
	kill "$app" 2>/dev/null
	wait "$app" 2>/dev/null
	app=
}

# check NAME ARGS...: examples_check.py on the running app; on failure, the app's log.
check() {
	name=$1
	shift
	if ! "$PY" "$src/tests/e2e/examples_check.py" --url "$url" --keys "$tmp/keys" "$@" \
		</dev/null; then
		echo "-- $name's log:"
		cat "$tmp/$name.log"
		exit 1
	fi
	stop
}

while read -r name cmd; do
	[ -n "$name" ] || continue
	echo "== $name: hmacd up"
	run "$name" "$tmp/s" $cmd
	check "$name" --log "$tmp/$name.log"
	echo "== $name: no hmacd behind its socket"
	run "$name-down" "$tmp/absent/s" $cmd
	check "$name-down" --down
done <<EOF
$APPS
EOF
exit 0
