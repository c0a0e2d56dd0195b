#!/bin/sh
# examples.sh - every example app against the contract every one of them keeps (README.md,
# "Example apps"), from outside, across languages (the cross-language matrix): a real hmacd,
# each app started with the one command of its README (HMACD_SOCKET, PORT), requests signed by
# the Python client's signers and by the Node and Go clients' (tests/e2e/examples_sign.mjs and
# examples_sign.go, filters that examples_check.py drives), hmacd-v1 and RFC 9421 alike; the
# responses and the app's log checked by examples_check.py. Each app runs three times: hmacd
# up (the contract, then every signer's requests and attacks), HMACD_TRUST_PROXY=1 (RFC 9421's
# @scheme from X-Forwarded-Proto), and no hmacd behind its socket (503, /healthz still 200).
#
# The apps are the APPS list below, one "name command" a line: the Go net/http, Echo and gin
# examples (`sh client/go/offline.sh run`, offline against Debian's Go packages), the Flask,
# FastAPI and Django examples (Debian's /usr/bin/python3, as their docstrings say; Flask under
# gunicorn with the examples' gunicorn.conf.py as well), the Express and Fastify examples
# (`npm --prefix DIR run example:NAME` in a copy of client/node, where `npm ci` installed the
# locked dependencies: make distcheck's source tree is read-only).
# A language whose toolchain is missing is left out with a note (Go: no go command; Python: no
# Flask, FastAPI with uvicorn, Django, or gunicorn; Node: no node or npm), and so is its signer.
#
# Environment: srcdir (automake sets it); HMACD and HMACCTL (AM_TESTS_ENVIRONMENT).
# Exit status: 0 passed, 1 failed, 77 skipped (no daemon, no Debian python3 with msgpack, or
# no app could be run).
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
apps= # the pids of the apps running
# Each app in a process group of its own (setsid), so that stopping it stops what its
# command started too (go run's program, npm run's node).
group=
command -v setsid >/dev/null 2>&1 && group=setsid
stop() {
	for pid in $apps; do
		if [ -n "$group" ]; then
			kill -- "-$pid" 2>/dev/null
		else
			kill "$pid" 2>/dev/null
		fi
		wait "$pid" 2>/dev/null
	done
	apps=
}
cleanup() {
	stop
	[ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM
PYTHONPATH=$src/client/python
PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH PYTHONDONTWRITEBYTECODE
# go run, through offline.sh (client/go/README.md), with a GOPATH overlay and a cache of this run
HMACD_GOPATH=$tmp/gopath
GOCACHE=$tmp/gocache
export HMACD_GOPATH GOCACHE

t0=$(date +%s)
elapsed() {
	echo "$(($(date +%s) - t0)) s"
}

# ---- the apps and the signers ----
APPS=
GO_SIGNER=
NODE_SIGNER=
if command -v go >/dev/null 2>&1; then
	# Echo and gin as Debian packages them (golang-github-labstack-echo-dev,
	# golang-github-gin-gonic-gin-dev: tests/deps.sh installs both)
	goex=nethttp
	for fw in echo:labstack/echo gin:gin-gonic/gin; do
		if [ -d "/usr/share/gocode/src/github.com/${fw#*:}" ]; then
			goex="$goex ${fw%%:*}"
		else
			echo "note: no github.com/${fw#*:} in /usr/share/gocode;" \
				"client/go/examples/${fw%%:*} is left out"
		fi
	done
	# built once here (a failure shows here, not as an app that never answers), so that
	# `go run` below only links; the binary under $tmp (go build would write it into the
	# source tree)
	mkdir -p "$tmp/bin"
	for ex in $goex; do
		if ! sh "$src/client/go/offline.sh" build -o "$tmp/bin/$ex" "./examples/$ex"; then
			echo "FAIL: building client/go/examples/$ex"
			exit 1
		fi
		APPS="$APPS
go-$ex sh $src/client/go/offline.sh run ./examples/$ex"
	done
	if ! sh "$src/client/go/offline.sh" build -o "$tmp/bin/sign" \
		"$src/tests/e2e/examples_sign.go"; then
		echo "FAIL: building tests/e2e/examples_sign.go"
		exit 1
	fi
	GO_SIGNER=$tmp/bin/sign
else
	echo "note: no go toolchain, the Go examples and signer are left out"
fi

for ex in flask fastapi django; do
	case $ex in
	flask) mods=flask ;;
	fastapi) mods="fastapi uvicorn" ;;
	django) mods=django ;;
	esac
	missing=
	for m in $mods; do
		"$PY" -c "import $m" 2>/dev/null || missing="$missing python3-$m"
	done
	if [ -n "$missing" ]; then
		echo "note: not installed:$missing; client/python/examples/${ex}_app.py is left out"
		continue
	fi
	APPS="$APPS
py-$ex $PY $src/client/python/examples/${ex}_app.py"
	# Flask under gunicorn too, with the examples' gunicorn.conf.py
	if [ "$ex" = flask ]; then
		if "$PY" -c 'import gunicorn' 2>/dev/null; then
			APPS="$APPS
py-flask-gunicorn $PY -m gunicorn -c $src/client/python/examples/gunicorn.conf.py \
flask_app:app_from_env()"
		else
			echo "note: python3-gunicorn not installed; Flask under gunicorn is left out"
		fi
	fi
done

if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
	mkdir "$tmp/node" || exit 1
	(cd "$src/client/node" && tar cf - --exclude=./node_modules .) |
		(cd "$tmp/node" && tar xf -) || exit 1
	chmod -R u+w "$tmp/node"
	# the registry (or npm's cache) is the one thing here that is not on this machine: three
	# tries, as tests/e2e/client_node.sh
	npm_ok=0
	for try in 1 2 3; do
		if (cd "$tmp/node" && npm ci --no-audit --no-fund --loglevel=error) \
			>"$tmp/npm.log" 2>&1; then
			npm_ok=1
			break
		fi
		echo "npm ci failed (try $try of 3)"
		sleep $((try * 5))
	done
	if [ "$npm_ok" -ne 1 ]; then
		cat "$tmp/npm.log"
		echo "FAIL: npm ci in a copy of client/node"
		exit 1
	fi
	for ex in express fastify; do
		APPS="$APPS
node-$ex npm --prefix $tmp/node run example:$ex"
	done
	NODE_SIGNER="node $src/tests/e2e/examples_sign.mjs $tmp/node"
else
	echo "note: no node and npm, the Node examples and signer are left out"
fi
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

# three free ports, distinct (bound at once), for the three runs of an app
free_ports() {
	"$PY" -c 'import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))'
}

# run NAME PORT SOCKET TRUST CMD...: starts the app from the source tree with
# HMACD_SOCKET=SOCKET, HMACD_TRUST_PROXY=TRUST and PORT, its log in $tmp/NAME.log.
run() {
	log=$tmp/$1.log port=$2 sock=$3 trust=$4
	shift 4
	(cd "$src" && HMACD_SOCKET=$sock PORT=$port HMACD_TRUST_PROXY=$trust \
		exec $group "$@") >"$log" 2>&1 &
	apps="$apps $!"
}

# check NAME PORT ARGS...: examples_check.py on the app running on PORT, with every signer;
# on failure, the app's log.
check() {
	log=$tmp/$1.log
	url=http://127.0.0.1:$2
	shift 2
	if ! "$PY" "$src/tests/e2e/examples_check.py" --url "$url" --keys "$tmp/keys" \
		${GO_SIGNER:+--signer "go=$GO_SIGNER"} ${NODE_SIGNER:+--signer "node=$NODE_SIGNER"} \
		"$@" </dev/null; then
		echo "-- the app's log ($log):"
		cat "$log"
		exit 1
	fi
}

# Each app's three runs start together (their start-up times overlap) and are checked in turn.
while read -r name cmd; do
	[ -n "$name" ] || continue
	ports=$(free_ports) || exit 1
	set -- $ports
	run "$name" "$1" "$tmp/s" "" $cmd
	run "$name-proxy" "$2" "$tmp/s" 1 $cmd
	run "$name-down" "$3" "$tmp/absent/s" "" $cmd
	echo "== $name: hmacd up ($(elapsed))"
	check "$name" "$1" --log "$tmp/$name.log"
	echo "== $name: HMACD_TRUST_PROXY=1 ($(elapsed))"
	check "$name-proxy" "$2" --trust-proxy
	echo "== $name: no hmacd behind its socket ($(elapsed))"
	check "$name-down" "$3" --down
	stop
done <<EOF
$APPS
EOF
names=$(printf '%s\n' "$APPS" | while read -r n c; do printf ' %s' "$n"; done)
echo "all of$names passed ($(elapsed))"
exit 0
