#!/bin/sh
# audit_cli.sh - hmacctl audit list / audit prune, backup and restore end to end (issue 15),
# with the real hmacd running on the store (started here when built, as hmacctl_cli.sh does).
#
# Checks the command-line contract: every change of keys and policies is in `audit list`, in
# commit order, with the operator (uid, user name, SUDO_USER as a claim) and the host; a change
# that fails leaves no record; --json (parsed with /usr/bin/python3), --tenant and --since
# (RFC 3339 and unix seconds); audit prune is itself audited; never a secret in the trail;
# backup files are 0600 and never replaced without --force; restore refuses a store with keys
# or one hmacd has open without --force; --fleet without --db is refused with the reason.
# Exit status: 0 all passed, 1 something failed (every failure is printed).
set -u

HMACCTL=${HMACCTL:-./daemon/hmacctl}
HMACD=${HMACD:-./daemon/hmacd}
PY=/usr/bin/python3
unset HMACD_DB HMACD_SOCKET HMACD_SEAL_KEY_FILE HMACD_FLEET SUDO_USER SUDO_UID

if [ ! -x "$HMACCTL" ] || [ ! -x "$PY" ]; then
	echo "FAIL: needs hmacctl at $HMACCTL and $PY"
	exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/audit-cli.XXXXXX") || exit 1
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

pyjson() {
	if ! "$PY" -c "import json, sys
o = json.loads(sys.stdin.read())
$2" <"$tmp/out"; then
		fail "$1: unexpected JSON output:"
		sed 's/^/    stdout: /' "$tmp/out"
	fi
}

mode_of() {
	stat -c %a "$1"
}

expect 0 "init" --db "$db" init
if [ -x "$HMACD" ]; then
	"$HMACD" --socket "$tmp/h.sock" --db "$db" --threads 1 --log-level error &
	dpid=$!
	i=0
	while [ ! -S "$tmp/h.sock" ] && [ "$i" -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -S "$tmp/h.sock" ] || fail "hmacd did not start"
fi

# ---- the trail of every change ----
t0=$(date -u +%s)
expect 0 "create" --db "$db" key create --tenant acme --container web --keyid k1 --json
secret=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["secret"])' <"$tmp/out")
expect 0 "rotate" --db "$db" key rotate --tenant acme --container web --keyid k2 --grace 30
expect 0 "revoke" --db "$db" key revoke --tenant acme --container web --epoch 1
expect 0 "policy set" --db "$db" policy set --tenant acme --require @method @path
SUDO_USER=alice SUDO_UID=1234 expect 0 "create under sudo" --db "$db" key create \
	--tenant other --container api --keyid k3 --audit-syslog
printf '0123456789abcdef0123' >"$tmp/sec"
expect 0 "import" --db "$db" key import --tenant other --container api --keyid k4 \
	--secret-file "$tmp/sec" --grace 0
expect 0 "policy unset" --db "$db" policy unset --tenant acme
# failures leave no record
expect 4 "create an existing scope" --db "$db" key create --tenant acme --container web
expect 4 "revoke twice" --db "$db" key revoke --tenant acme --container web --epoch 1
expect 3 "unset a missing policy" --db "$db" policy unset --tenant acme
expect 4 "key id taken" --db "$db" key rotate --tenant acme --container web --keyid k1

expect 0 "audit list --json" --db "$db" audit list --json
pyjson "the trail" "
import os, pwd, socket
assert [e['op'] for e in o] == ['create', 'rotate', 'revoke', 'policy-set', 'create', 'import', 'policy-unset'], o
assert [e['seq'] for e in o] == list(range(1, 8)), o
keys = ['seq', 'time', 'time_ms', 'op', 'tenant', 'container', 'epoch', 'keyid', 'uid', 'user', 'sudo_user', 'sudo_uid', 'host', 'detail', 'fleet']
assert all(list(e) == keys for e in o), o
assert all(e['uid'] == os.getuid() and e['user'] == pwd.getpwuid(os.getuid()).pw_name for e in o), o
assert all(e['host'] == socket.gethostname() for e in o), o
assert all(e['time'].endswith('Z') and e['time_ms'] >= $t0 * 1000 for e in o), o
assert all(e['fleet'] is None for e in o), o
assert (o[0]['tenant'], o[0]['container'], o[0]['epoch'], o[0]['keyid']) == ('acme', 'web', 1, 'k1'), o
assert (o[1]['epoch'], o[1]['keyid'], o[1]['detail']) == (2, 'k2', 'grace=30'), o
assert (o[2]['epoch'], o[2]['keyid']) == (1, 'k1'), o
assert (o[3]['container'], o[3]['epoch'], o[3]['keyid']) == ('', 0, ''), o
assert (o[4]['sudo_user'], o[4]['sudo_uid']) == ('alice', 1234), o
assert all(e['sudo_user'] is None and e['sudo_uid'] is None for i, e in enumerate(o) if i != 4), o
"
grep -q "$secret" "$tmp/out" && fail "a secret in the audit trail"
grep -q "0123456789abcdef0123" "$tmp/out" && fail "an imported secret in the audit trail"

expect 0 "audit list --tenant" --db "$db" audit list --tenant other --json
pyjson "tenant filter" "assert [e['keyid'] for e in o] == ['k3', 'k4'], o"
expect 0 "audit list --since the future" --db "$db" audit list --since 2999-01-01T00:00:00Z --json
pyjson "since filter, RFC 3339" "assert o == [], o"
expect 0 "audit list --since unix seconds" --db "$db" audit list --since "$t0" --json
pyjson "since filter, seconds" "assert len(o) == 7, o"
expect 0 "audit list --since with an offset" --db "$db" audit list --since 2000-01-01T01:00:00+01:00 --json
pyjson "since filter, offset" "assert len(o) == 7, o"
expect 2 "audit list --since garbage" --db "$db" audit list --since yesterday
expect 2 "audit list --since 31 February" --db "$db" audit list --since 2026-02-31T00:00:00Z
expect 2 "audit list: bad tenant" --db "$db" audit list --tenant 'a b'
expect 0 "audit list, human" --db "$db" audit list
head -n 1 "$tmp/out" | grep -q 'SEQ.*TIME.*OPERATION.*TENANT.*OPERATOR.*HOST' ||
	fail "audit list header: $(head -n 1 "$tmp/out")"
[ "$(wc -l <"$tmp/out")" -eq 8 ] || fail "audit list human: $(cat "$tmp/out")"
grep -q ' sudo:alice ' "$tmp/out" || fail "audit list human: no sudo user"
expect 2 "audit list --fleet without --db" audit list --fleet redis://127.0.0.1:1

# ---- --audit-syslog: the record as syslog gets it (as root: /dev/log of a private mount
# namespace, never the host's; skipped otherwise) ----
if [ "$(id -u)" -eq 0 ] && unshare -m true 2>/dev/null; then
	cat >"$tmp/listen.py" <<'PYEOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
s.settimeout(10)
with open(sys.argv[1], "w") as out:
    d = s.recv(4096)
    out.write(d.decode("ascii", "replace") + "\n")
PYEOF
	unshare -m sh -c '
		mount -t tmpfs tmpfs /dev || exit 1
		touch /dev/null
		"$0" "$1/listen.py" "$1/syslog.txt" &
		i=0
		while [ ! -S /dev/log ] && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		SUDO_USER=bob "$2" --db "$3" key create --tenant sys --container c --json \
			--audit-syslog >"$1/sys.json" 2>/dev/null
		wait
	' "$PY" "$tmp" "$HMACCTL" "$db"
	sline=$(cat "$tmp/syslog.txt" 2>/dev/null)
	ssecret=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["secret"])' <"$tmp/sys.json" 2>/dev/null)
	case $sline in
	"<85>"*"hmacctl["*"]: audit seq=8 "*" op=create tenant=sys container=c epoch=1 "*" sudo_user=bob host="*)
		echo "ok: --audit-syslog" ;;
	*) fail "--audit-syslog: got '$sline'" ;;
	esac
	[ -n "$ssecret" ] && case $sline in *"$ssecret"*) fail "a secret in syslog" ;; esac
else
	echo "skip: --audit-syslog check (needs root and unshare)"
	# the same change, so that what follows counts the same records
	expect 0 "create sys/c" --db "$db" key create --tenant sys --container c
fi

# ---- prune ----
expect 2 "audit prune without --before" --db "$db" audit prune
expect 0 "audit prune, nothing that old" --db "$db" audit prune --before 2000-01-01T00:00:00Z --json
pyjson "prune nothing" "assert o['removed'] == 0, o"
expect 0 "audit prune everything" --db "$db" audit prune --before 2999-01-01T00:00:00Z --json
pyjson "prune all" "assert o['removed'] == 9, o"
expect 0 "audit list after prune" --db "$db" audit list --json
pyjson "the prune is audited" "assert [(e['seq'], e['op']) for e in o] == [(10, 'audit-prune')], o"

# ---- backup and restore ----
expect 0 "backup" --db "$db" backup --out "$tmp/b1.mdb" --json
pyjson "backup shape" "assert (o['keys'], o['keyids'], o['policies'], o['mirror']) == (5, 5, 0, False), o"
[ "$(mode_of "$tmp/b1.mdb")" = 600 ] || fail "backup mode $(mode_of "$tmp/b1.mdb")"
ls "$tmp" | grep -q 'tmp-' && fail "a temporary file left: $(ls "$tmp")"
expect 4 "backup over an existing file" --db "$db" backup --out "$tmp/b1.mdb"
ln -s "$tmp/b1.mdb" "$tmp/link.mdb"
expect 4 "backup over a symlink" --db "$db" backup --out "$tmp/link.mdb"
expect 0 "backup --force" --db "$db" backup --out "$tmp/b1.mdb" --force
[ "$(mode_of "$tmp/b1.mdb")" = 600 ] || fail "backup --force mode"
expect 1 "backup of no store" --db "$tmp/none" backup --out "$tmp/b2.mdb"
[ -e "$tmp/b2.mdb" ] && fail "a backup file of no store"
expect 2 "backup without --out" --db "$db" backup
expect 2 "restore without --in" --db "$db" restore
expect 0 "key created after the backup" --db "$db" key create --tenant late --container c
expect 0 "restore into a new store" --db "$tmp/new" restore --in "$tmp/b1.mdb" --json
pyjson "restore shape" "assert (o['keys'], o['replaced'], o['hmacd_pid']) == (5, False, 0), o"
[ "$(mode_of "$tmp/new/data.mdb")" = 600 ] || fail "restored store mode"
expect 0 "restored keys" --db "$tmp/new" key list --json
pyjson "restored key ids" "assert sorted(e['keyid'] for e in o if e['tenant'] != 'sys') == ['k1', 'k2', 'k3', 'k4'], o"
expect 0 "restored trail" --db "$tmp/new" audit list --json
pyjson "restored trail" "assert [e['op'] for e in o] == ['audit-prune', 'restore'], o"
expect 4 "restore over a store with keys" --db "$tmp/new" restore --in "$tmp/b1.mdb"
if [ -n "$dpid" ]; then
	expect 4 "restore over the running daemon's store" --db "$db" restore --in "$tmp/b1.mdb"
	grep -q "has the store open" "$tmp/err" || fail "restore refusal: $(cat "$tmp/err")"
fi
expect 0 "restore --force" --db "$db" restore --in "$tmp/b1.mdb" --force --audit-syslog
if [ -n "$dpid" ]; then
	grep -q "no restart needed" "$tmp/out" || fail "restore output: $(cat "$tmp/out")"
fi
expect 0 "keys after restore" --db "$db" key list --tenant late --json
pyjson "the later key is gone" "assert o == [], o"
echo "not a store" >"$tmp/junk"
expect 1 "restore of junk" --db "$tmp/new2" restore --in "$tmp/junk"
expect 1 "restore of no file" --db "$tmp/new2" restore --in "$tmp/nofile"
expect 2 "restore --fleet without --db" restore --in "$tmp/b1.mdb" --fleet redis://127.0.0.1:1
expect 2 "restore a store onto itself" --db "$tmp/new" restore --in "$tmp/new/data.mdb" --force

if [ "$fails" -ne 0 ]; then
	echo "$fails check(s) failed"
	exit 1
fi
echo "all audit, backup and restore checks passed"
exit 0
