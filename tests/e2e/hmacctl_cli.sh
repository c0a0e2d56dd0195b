#!/bin/sh
# hmacctl_cli.sh - hmacctl end to end on a temporary key store (no daemon needed, except a
# dead socket for the ping failure case).
#
# Checks the command-line contract of issue 2: output shapes (JSON through /usr/bin/python3),
# exit codes (0 ok, 1 store/daemon error, 2 usage, 3 not found, 4 exists / wrong state),
# HMACD_DB as the default of --db, and that no secret ever appears in `key list`.
# Exit status: 0 all passed, 1 something failed (every failure is printed).
# make check runs it from the top build directory; HMACCTL overrides the binary. If hmacd is
# built ($HMACD, else ./daemon/hmacd) ping and stats are also run against a real daemon.
set -u

HMACCTL=${HMACCTL:-./daemon/hmacctl}
HMACD=${HMACD:-./daemon/hmacd}
PY=/usr/bin/python3
unset HMACD_DB HMACD_SOCKET

if [ ! -x "$HMACCTL" ]; then
	echo "FAIL: no hmacctl at $HMACCTL (set HMACCTL)"
	exit 1
fi
if [ ! -x "$PY" ]; then
	echo "FAIL: $PY is needed to check JSON output"
	exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hmacctl-cli.XXXXXX") || exit 1
dpid=
cleanup() {
	if [ -n "$dpid" ]; then
		kill "$dpid" 2>/dev/null
		wait "$dpid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM
db=$tmp/db
fails=0

fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

# expect STATUS NAME ARGS...: runs hmacctl ARGS, stdout in $tmp/out, stderr in $tmp/err.
expect() {
	want=$1
	name=$2
	shift 2
	"$HMACCTL" "$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	if [ "$got" -ne "$want" ]; then
		fail "$name: exit $got, want $want"
		sed 's/^/    stderr: /' "$tmp/err"
		return 1
	fi
	echo "ok: $name"
	return 0
}

# One-line diagnostics: "hmacctl: <what>: <reason>" as the first stderr line.
expect_diag() {
	if ! head -n 1 "$tmp/err" | grep -q '^hmacctl: .*: '; then
		fail "$1: stderr does not start with 'hmacctl: <what>: <reason>'"
		sed 's/^/    stderr: /' "$tmp/err"
	fi
}

# pyjson NAME CODE: runs python CODE with o = the JSON of stdout; a failed assert is a failure.
pyjson() {
	if ! "$PY" -c "import base64, json, sys
o = json.loads(sys.stdin.read())
$2" <"$tmp/out"; then
		fail "$1: unexpected JSON output:"
		sed 's/^/    stdout: /' "$tmp/out"
	fi
}

# ---- store life cycle ----
expect 1 "list on a missing store is an operational error" --db "$db" key list && expect_diag "missing store"
expect 0 "init creates the store" --db "$db" init
grep -q "^initialised $db\$" "$tmp/out" || fail "init output: $(cat "$tmp/out")"
[ "$(stat -c %a "$db")" = 700 ] || fail "store directory mode $(stat -c %a "$db"), want 700"
[ "$(stat -c %a "$db/data.mdb")" = 600 ] || fail "data.mdb mode $(stat -c %a "$db/data.mdb"), want 600"
expect 0 "init is idempotent" --db "$db" init

# ---- create ----
expect 0 "create --json" --db "$db" key create --tenant t1 --container c1 --json
[ "$(wc -l <"$tmp/out")" -eq 1 ] || fail "create --json printed more than one line"
pyjson "create --json shape" '
assert list(o) == ["tenant", "container", "epoch", "secret"], list(o)
assert o["tenant"] == "t1" and o["container"] == "c1" and o["epoch"] == 1, o
assert len(base64.b64decode(o["secret"], validate=True)) == 32
'
secret1=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["secret"])' <"$tmp/out")

expect 4 "create of an existing scope" --db "$db" key create --tenant t1 --container c1 && expect_diag "create twice"
[ -s "$tmp/out" ] && fail "create twice printed to stdout"

# human output, options after the command words, --opt=value form
expect 0 "create, human output" key create --tenant=t1 --container c2 --db="$db"
grep -q '^created t1/c2 epoch 1$' "$tmp/out" || fail "create human output: $(head -n 1 "$tmp/out")"
grep -Eq '^secret: [A-Za-z0-9+/]{43}=$' "$tmp/out" || fail "create human output has no secret line"
grep -qi 'once' "$tmp/err" || fail "create human output: no shown-once warning on stderr"

# ---- rotate ----
expect 0 "rotate --json" --db "$db" key rotate --tenant t1 --container c1 --grace 600 --json
pyjson "rotate --json shape" '
assert list(o) == ["tenant", "container", "epoch", "secret"], list(o)
assert o["epoch"] == 2, o
assert len(base64.b64decode(o["secret"], validate=True)) == 32
'
secret2=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["secret"])' <"$tmp/out")
[ "$secret1" != "$secret2" ] || fail "rotate returned the same secret"
expect 0 "rotate with the default grace" --db "$db" key rotate --tenant t1 --container c1
grep -q '^rotated t1/c1 epoch 3' "$tmp/out" || fail "rotate human output: $(head -n 1 "$tmp/out")"
expect 3 "rotate of an unknown scope" --db "$db" key rotate --tenant t1 --container nope && expect_diag "rotate unknown"
expect 2 "rotate with a negative grace" --db "$db" key rotate --tenant t1 --container c1 --grace -5
expect 2 "rotate with a non-numeric grace" --db "$db" key rotate --tenant t1 --container c1 --grace 10s

# ---- list ----
expect 0 "list --json" --db "$db" key list --json
grep -qi secret "$tmp/out" && fail "list --json mentions a secret"
grep -qF "$secret1" "$tmp/out" && fail "list --json contains a secret"
pyjson "list --json content" '
assert isinstance(o, list) and len(o) == 4, o
keys = {"tenant", "container", "epoch", "state", "created", "deadline"}
assert all(set(e) == keys for e in o), o
e1, e2, e3, c2 = o
assert (e1["container"], e1["epoch"], e1["state"]) == ("c1", 1, "superseded"), e1
assert e1["deadline"] == e2["created"] + 600, (e1, e2)
assert (e2["epoch"], e2["state"]) == (2, "superseded") and e2["deadline"] == e3["created"] + 86400, e2
assert (e3["epoch"], e3["state"], e3["deadline"]) == (3, "current", 0), e3
assert (c2["container"], c2["epoch"], c2["state"]) == ("c2", 1, "current"), c2
assert all(isinstance(e[k], int) for e in o for k in ("epoch", "created", "deadline"))
'
expect 0 "list, human table" --db "$db" key list
grep -qi secret "$tmp/out" && fail "list mentions a secret"
head -n 1 "$tmp/out" | grep -q 'TENANT.*CONTAINER.*EPOCH.*STATE.*CREATED.*EXPIRES' || fail "list header: $(head -n 1 "$tmp/out")"
grep -Eq '^t1 +c1 +1 +superseded +[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z +[0-9]{4}-' "$tmp/out" || fail "list row of epoch 1 not ISO-8601"
expect 0 "list --tenant (no match)" --db "$db" key list --tenant t2 --json
pyjson "list of an empty tenant" 'assert o == [], o'

# ---- revoke ----
expect 0 "revoke" --db "$db" key revoke --tenant t1 --container c1 --epoch 2
expect 4 "revoke again" --db "$db" key revoke --tenant t1 --container c1 --epoch 2 && expect_diag "revoke twice"
expect 3 "revoke an unknown epoch" --db "$db" key revoke --tenant t1 --container c1 --epoch 99 && expect_diag "unknown epoch"
expect 3 "revoke in an unknown scope" --db "$db" key revoke --tenant t9 --container c1 --epoch 1
expect 2 "revoke epoch 0" --db "$db" key revoke --tenant t1 --container c1 --epoch 0
expect 2 "revoke epoch past 32 bits" --db "$db" key revoke --tenant t1 --container c1 --epoch 4294967296
expect 2 "revoke without --epoch" --db "$db" key revoke --tenant t1 --container c1
expect 0 "list after revoke" --db "$db" key list --tenant t1 --json
pyjson "revoked epoch state" '
st = {(e["container"], e["epoch"]): e["state"] for e in o}
assert st[("c1", 2)] == "revoked" and st[("c1", 3)] == "current", st
assert [e["deadline"] for e in o if e["state"] == "revoked"] == [0], o
'

# ---- names and usage ----
expect 2 "tenant with a space" --db "$db" key create --tenant 't 1' --container c1 && expect_diag "bad tenant"
expect 2 "unknown option" --db "$db" key list --bogus && expect_diag "unknown option"
expect 2 "tenant with a semicolon" --db "$db" key create --tenant 't;1' --container c1
expect 2 "container too long" --db "$db" key create --tenant t1 --container "$(printf '%0129d' 0)"
expect 0 "container of 128 bytes" --db "$db" key create --tenant t1 --container "$(printf '%0128d' 0)" --json
expect 2 "list with a bad tenant" --db "$db" key list --tenant 'a b'
expect 2 "create without --container" --db "$db" key create --tenant t1
expect 2 "an option that does not apply" --db "$db" key create --tenant t1 --container c9 --grace 5
expect 2 "unknown command" --db "$db" frobnicate
expect 2 "key without a subcommand" --db "$db" key
expect 2 "no command" --db "$db"
expect 2 "option given twice" --db "$db" key list --json --json
expect 0 "--help" --help
grep -q 'key rotate' "$tmp/out" || fail "--help does not list key rotate"
expect 0 "help key create" help key create
expect 0 "key create --help" key create --help

# ---- environment defaults ----
HMACD_DB=$db
export HMACD_DB
expect 0 "HMACD_DB as the default --db" key create --tenant envt --container c1 --json
pyjson "create via HMACD_DB" 'assert o["tenant"] == "envt" and o["epoch"] == 1, o'
expect 0 "--db wins over HMACD_DB" --db "$db" key list --tenant envt --json
pyjson "list via --db" 'assert len(o) == 1, o'
HMACD_DB=$tmp/elsewhere
expect 1 "HMACD_DB pointing at no store" key list
unset HMACD_DB
expect 2 "no --db and no HMACD_DB" key list

# ---- the daemon side, without a daemon ----
expect 1 "ping with nobody listening" --socket "$tmp/nosock" ping && expect_diag "ping"
expect 2 "ping without a socket" ping

# ---- the daemon side, with the real hmacd (which creates its store itself) ----
if [ -x "$HMACD" ]; then
	sock=$tmp/hmacd.sock
	"$HMACD" --socket "$sock" --db "$tmp/ddb" --threads 1 >"$tmp/hmacd.log" 2>&1 &
	dpid=$!
	i=0
	while [ ! -S "$sock" ] && kill -0 "$dpid" 2>/dev/null && [ "$i" -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if [ -S "$sock" ]; then
		expect 0 "ping" --socket "$sock" ping
		[ "$(cat "$tmp/out")" = pong ] || fail "ping printed '$(cat "$tmp/out")', want pong"
		HMACD_SOCKET=$sock
		export HMACD_SOCKET
		expect 0 "ping via HMACD_SOCKET" ping
		expect 0 "stats" stats
		grep -Evq '^[a-z0-9_]+ [0-9]+$' "$tmp/out" && fail "stats lines are not 'name value'"
		[ -s "$tmp/out" ] || fail "stats printed nothing"
		expect 0 "stats --json" stats --json
		[ "$(wc -l <"$tmp/out")" -eq 1 ] || fail "stats --json is not one line"
		pyjson "stats --json shape" '
assert isinstance(o, dict) and len(o) > 0, o
assert all(isinstance(v, int) and v >= 0 for v in o.values()), o
'
		unset HMACD_SOCKET
		expect 0 "list of the store hmacd created" --db "$tmp/ddb" key list --json
		pyjson "hmacd store is empty" 'assert o == [], o'
		expect 0 "create while hmacd runs" --db "$tmp/ddb" key create --tenant t --container c --json
	else
		fail "hmacd did not create its socket; its log:"
		sed 's/^/    hmacd: /' "$tmp/hmacd.log"
	fi
	kill "$dpid" 2>/dev/null
	wait "$dpid" 2>/dev/null
	dpid=
	expect 1 "ping after hmacd stopped" --socket "$sock" ping
else
	echo "note: no hmacd at $HMACD, ping/stats against a daemon not run"
fi

# ---- every failure is one line on stderr ----
for args in "key" "key create --tenant x" "bogus" "--db $db key revoke --tenant t1 --container c1 --epoch 99"; do
	# shellcheck disable=SC2086
	"$HMACCTL" $args >/dev/null 2>"$tmp/err" && fail "hmacctl $args succeeded"
	[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "hmacctl $args: stderr is not one line: $(cat "$tmp/err")"
done

# ---- a superseded epoch past its deadline is listed as expired ----
expect 0 "create t9/c9" --db "$db" key create --tenant t9 --container c9 --json
expect 0 "rotate t9/c9 with no grace" --db "$db" key rotate --tenant t9 --container c9 --grace 0 --json
expect 0 "list t9" --db "$db" key list --tenant t9 --json
pyjson "epoch 1 of t9/c9 is expired" '
assert [(e["epoch"], e["state"]) for e in o] == [(1, "expired"), (2, "current")], o
'

if [ "$fails" -ne 0 ]; then
	echo "$fails check(s) failed"
	exit 1
fi
echo "all hmacctl checks passed"
exit 0
