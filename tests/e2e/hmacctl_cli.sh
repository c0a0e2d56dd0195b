#!/bin/sh
# hmacctl_cli.sh - hmacctl end to end on a temporary key store (no daemon needed, except a
# dead socket for the ping failure case).
#
# Checks the command-line contract of issues 2 and 6: output shapes (JSON through
# /usr/bin/python3), exit codes (0 ok, 1 store/daemon error, 2 usage, 3 not found, 4 exists /
# wrong state), HMACD_DB as the default of --db, that no secret ever appears in `key list` or
# `key import` output, key ids (--keyid, generated, unique), `key import`, `policy ...`, and
# the fleet's seal key (issue 12: `seal-key generate`, `seal-key id`, HMACD_SEAL_KEY_FILE).
# Exit status: 0 all passed, 1 something failed (every failure is printed).
# make check runs it from the top build directory; HMACCTL overrides the binary. If hmacd is
# built ($HMACD, else ./daemon/hmacd) ping and stats are also run against a real daemon.
set -u

HMACCTL=${HMACCTL:-./daemon/hmacctl}
HMACD=${HMACD:-./daemon/hmacd}
PY=/usr/bin/python3
unset HMACD_DB HMACD_SOCKET HMACD_SEAL_KEY_FILE

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
assert list(o) == ["tenant", "container", "epoch", "keyid", "secret"], list(o)
assert o["tenant"] == "t1" and o["container"] == "c1" and o["epoch"] == 1, o
import re
assert re.fullmatch(r"hk_[0-9a-f]{32}", o["keyid"]), o["keyid"]
assert len(base64.b64decode(o["secret"], validate=True)) == 32
'
secret1=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["secret"])' <"$tmp/out")

expect 4 "create of an existing scope" --db "$db" key create --tenant t1 --container c1 && expect_diag "create twice"
[ -s "$tmp/out" ] && fail "create twice printed to stdout"

# human output, options after the command words, --opt=value form
expect 0 "create, human output" key create --tenant=t1 --container c2 --db="$db"
grep -q '^created t1/c2 epoch 1$' "$tmp/out" || fail "create human output: $(head -n 1 "$tmp/out")"
grep -Eq '^keyid: hk_[0-9a-f]{32}$' "$tmp/out" || fail "create human output has no keyid line"
grep -Eq '^secret: [A-Za-z0-9+/]{43}=$' "$tmp/out" || fail "create human output has no secret line"
grep -qi 'once' "$tmp/err" || fail "create human output: no shown-once warning on stderr"

# ---- rotate ----
expect 0 "rotate --json" --db "$db" key rotate --tenant t1 --container c1 --grace 600 --json
pyjson "rotate --json shape" '
assert list(o) == ["tenant", "container", "epoch", "keyid", "secret"], list(o)
assert o["epoch"] == 2 and o["keyid"].startswith("hk_"), o
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
keys = ["tenant", "container", "epoch", "keyid", "state", "created", "deadline"]
assert all(list(e) == keys for e in o), o
assert len({e["keyid"] for e in o}) == 4, o
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
head -n 1 "$tmp/out" | grep -q 'TENANT.*CONTAINER.*EPOCH.*STATE.*CREATED.*EXPIRES.*KEYID' || fail "list header: $(head -n 1 "$tmp/out")"
grep -Eq ' hk_[0-9a-f]{32}$' "$tmp/out" || fail "list rows have no key id column"
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
for w in 'key import' 'policy set' 'policy show' 'policy unset' 'policy list' '--keyid' '--secret-file' '--require'; do
	grep -q -- "$w" "$tmp/out" || fail "--help does not mention $w"
done
expect 0 "help policy set" help policy set
grep -q -- '--require COMPONENT' "$tmp/out" || fail "help policy set: $(cat "$tmp/out")"
expect 0 "policy --help" policy --help
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

# ---- the fleet's seal key ----
sk=$tmp/seal.key
expect 0 "seal-key generate" seal-key generate --out "$sk"
[ "$(wc -l <"$tmp/out")" -eq 1 ] || fail "seal-key generate printed more than one line"
grep -Eq "^wrote a new seal key to $sk \\(id [0-9a-f]{32}\\); keep it secret, give it to every hmacd and hmacctl of the fleet\$" "$tmp/out" ||
	fail "seal-key generate output: $(cat "$tmp/out")"
[ -s "$tmp/err" ] && fail "seal-key generate wrote to stderr: $(cat "$tmp/err")"
gen_id=$(sed -n 's/.*(id \([0-9a-f]*\)).*/\1/p' "$tmp/out")
[ "$(stat -c %a "$sk")" = 600 ] || fail "seal key mode $(stat -c %a "$sk"), want 600"
[ "$(stat -c %s "$sk")" = 32 ] || fail "seal key is $(stat -c %s "$sk") bytes, want 32"
sk_b64=$(base64 -w0 "$sk")
sk_hex=$(od -An -tx1 "$sk" | tr -d ' \n')
grep -qF -e "$sk_b64" -e "$sk_hex" "$tmp/out" && fail "seal-key generate printed the key"
cp -p "$sk" "$tmp/seal.before"
expect 1 "seal-key generate refuses an existing file" seal-key generate --out "$sk" && expect_diag "seal-key overwrite"
grep -q '^hmacctl: seal-key generate: .*already exists' "$tmp/err" || fail "seal-key overwrite: $(cat "$tmp/err")"
[ -s "$tmp/out" ] && fail "refused seal-key generate printed to stdout"
cmp -s "$sk" "$tmp/seal.before" || fail "seal-key generate changed an existing file"
[ "$(stat -c %a "$sk")" = 600 ] || fail "seal-key generate changed an existing file's mode"
expect 2 "seal-key generate without --out" seal-key generate && expect_diag "seal-key no --out"
expect 2 "seal-key without a subcommand" seal-key
expect 2 "--json does not apply to seal-key generate" seal-key generate --out "$tmp/seal.json" --json
[ -e "$tmp/seal.json" ] && fail "a refused command line wrote a key file"
(umask 0277 && "$HMACCTL" seal-key generate --out "$tmp/seal.umask" >/dev/null 2>&1) || fail "seal-key generate under umask 0277"
[ "$(stat -c %a "$tmp/seal.umask")" = 600 ] || fail "seal key under umask 0277: mode $(stat -c %a "$tmp/seal.umask"), want 600"

expect 0 "seal-key id" seal-key id --seal-key-file "$sk"
[ "$(cat "$tmp/out")" = "$gen_id" ] || fail "seal-key id '$(cat "$tmp/out")' is not the id generate printed ($gen_id)"
expect 0 "seal-key id again" --seal-key-file="$sk" seal-key id
[ "$(cat "$tmp/out")" = "$gen_id" ] || fail "seal-key id is not stable"
expect 0 "another seal key" seal-key generate --out "$tmp/seal2.key"
expect 0 "seal-key id of another key" seal-key id --seal-key-file "$tmp/seal2.key"
[ "$(cat "$tmp/out")" != "$gen_id" ] || fail "two seal keys have one id"
# the base64 form of the same key (whitespace around it) has the same id
printf '  %s\n\n' "$sk_b64" >"$tmp/seal.b64"
chmod 600 "$tmp/seal.b64"
expect 0 "seal-key id of the base64 form" seal-key id --seal-key-file "$tmp/seal.b64"
[ "$(cat "$tmp/out")" = "$gen_id" ] || fail "the base64 form has another id"
HMACD_SEAL_KEY_FILE=$sk
export HMACD_SEAL_KEY_FILE
expect 0 "seal-key id via HMACD_SEAL_KEY_FILE" seal-key id
[ "$(cat "$tmp/out")" = "$gen_id" ] || fail "seal-key id via HMACD_SEAL_KEY_FILE: $(cat "$tmp/out")"
expect 0 "--seal-key-file wins over HMACD_SEAL_KEY_FILE" seal-key id --seal-key-file "$tmp/seal2.key"
[ "$(cat "$tmp/out")" != "$gen_id" ] || fail "--seal-key-file did not win over HMACD_SEAL_KEY_FILE"
unset HMACD_SEAL_KEY_FILE
expect 0 "--seal-key-file is accepted by every command" --db "$db" key list --tenant t9 --json --seal-key-file "$sk"
expect 2 "seal-key id without a key file" seal-key id && expect_diag "seal-key id no file"
grep -q 'HMACD_SEAL_KEY_FILE' "$tmp/err" || fail "seal-key id without a file does not name HMACD_SEAL_KEY_FILE"
cp "$sk" "$tmp/seal.644"
chmod 644 "$tmp/seal.644"
expect 1 "seal-key id refuses a 0644 key file" seal-key id --seal-key-file "$tmp/seal.644" && expect_diag "seal-key 0644"
grep -q "^hmacctl: seal-key id: $tmp/seal.644: mode 0644 lets group or others at it; chmod 600 it\$" "$tmp/err" ||
	fail "seal-key 0644: $(cat "$tmp/err")"
[ -s "$tmp/out" ] && fail "seal-key id of a 0644 file printed an id"
expect 1 "seal-key id of a missing file" seal-key id --seal-key-file "$tmp/nope.key" && expect_diag "seal-key missing"
grep -q 'no such file' "$tmp/err" || fail "seal-key missing: $(cat "$tmp/err")"
ln -s "$sk" "$tmp/seal.link"
expect 1 "seal-key id refuses a symlink" seal-key id --seal-key-file "$tmp/seal.link" && expect_diag "seal-key symlink"
head -c 31 "$sk" >"$tmp/seal.31"
chmod 600 "$tmp/seal.31"
expect 1 "seal-key id refuses 31 bytes" seal-key id --seal-key-file "$tmp/seal.31" && expect_diag "seal-key 31 bytes"
grep -q '31 bytes: neither 32 raw bytes nor the base64 of 32 bytes' "$tmp/err" || fail "seal-key 31 bytes: $(cat "$tmp/err")"
for f in "$tmp/err" "$tmp/out"; do
	grep -qF -e "$sk_b64" -e "$sk_hex" "$f" && fail "a seal-key message shows the key"
done
expect 0 "--help lists seal-key" --help
for w in 'seal-key generate --out FILE' 'seal-key id' '--seal-key-file FILE' 'HMACD_SEAL_KEY_FILE'; do
	grep -q -- "$w" "$tmp/out" || fail "--help does not mention $w"
done
expect 0 "help seal-key id" help seal-key id
grep -q -- '--seal-key-file FILE' "$tmp/out" || fail "help seal-key id: $(cat "$tmp/out")"

# ---- every failure is one line on stderr ----
for args in "key" "key create --tenant x" "bogus" "--db $db key revoke --tenant t1 --container c1 --epoch 99" \
	"--db $db key import --tenant x --container y" "--db $db key import --tenant x --container y --secret-file /dev/null" \
	"--db $db policy unset --tenant nobody" "--db $db policy set --tenant x --require X" \
	"seal-key generate" "seal-key generate --out $tmp/seal.key" "seal-key id" \
	"seal-key id --seal-key-file $tmp/seal.644" "seal-key id --seal-key-file $tmp/nope"; do
	# shellcheck disable=SC2086
	"$HMACCTL" $args >/dev/null 2>"$tmp/err" && fail "hmacctl $args succeeded"
	[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "hmacctl $args: stderr is not one line: $(cat "$tmp/err")"
done

# ---- key ids ----
expect 0 "create --keyid" --db "$db" key create --tenant ki --container a --keyid my-key.1 --json
pyjson "create --keyid shape" 'assert o["keyid"] == "my-key.1" and o["epoch"] == 1, o'
expect 4 "a key id is unique across scopes" --db "$db" key create --tenant ki --container b --keyid my-key.1 && expect_diag "keyid taken"
grep -q 'key id' "$tmp/err" || fail "keyid taken: stderr does not say key id: $(cat "$tmp/err")"
[ -s "$tmp/out" ] && fail "keyid taken printed to stdout"
expect 4 "rotate with a taken key id" --db "$db" key rotate --tenant ki --container a --keyid my-key.1
expect 0 "rotate --keyid" --db "$db" key rotate --tenant ki --container a --keyid 'A-z0.9_:/+=@~' --json
pyjson "rotate --keyid" 'assert o["keyid"] == "A-z0.9_:/+=@~" and o["epoch"] == 2, o'
expect 0 "revoke keeps the key id" --db "$db" key revoke --tenant ki --container a --epoch 1
expect 4 "a revoked epoch's key id stays taken" --db "$db" key create --tenant ki --container c --keyid my-key.1
expect 2 "--keyid with a space" --db "$db" key create --tenant ki --container d --keyid 'a b'
expect 2 "--keyid with a quote" --db "$db" key create --tenant ki --container d --keyid 'a"b'
expect 2 "--keyid too long" --db "$db" key create --tenant ki --container d --keyid "$(printf '%0129d' 0)"
expect 0 "--keyid of 128 bytes" --db "$db" key create --tenant ki --container d --keyid "$(printf 'k%0127d' 0)" --json
expect 2 "--keyid does not apply to revoke" --db "$db" key revoke --tenant ki --container a --epoch 2 --keyid x
expect 0 "list ki" --db "$db" key list --tenant ki --json
pyjson "key ids in list" '
ids = [(e["container"], e["epoch"], e["keyid"], e["state"]) for e in o]
assert ids[0] == ("a", 1, "my-key.1", "revoked"), ids
assert ids[1] == ("a", 2, "A-z0.9_:/+=@~", "current"), ids
assert ids[2][0] == "d" and len(ids[2][2]) == 128, ids
assert len(o) == 3, ids
'

# ---- key import ----
head -c 32 /dev/urandom >"$tmp/s32"
head -c 15 /dev/urandom >"$tmp/s15"
head -c 16 /dev/urandom >"$tmp/s16"
head -c 64 /dev/urandom >"$tmp/s64"
head -c 65 /dev/urandom >"$tmp/s65"
b32=$(base64 -w0 "$tmp/s32")
expect 0 "import a raw 32-byte secret" --db "$db" key import --tenant imp --container a --secret-file "$tmp/s32" --json
[ "$(wc -l <"$tmp/out")" -eq 1 ] || fail "import --json printed more than one line"
pyjson "import --json shape" '
assert list(o) == ["tenant", "container", "epoch", "keyid"], list(o)
assert o["tenant"] == "imp" and o["container"] == "a" and o["epoch"] == 1, o
assert o["keyid"].startswith("hk_"), o
'
grep -qF "$b32" "$tmp/out" "$tmp/err" && fail "import printed the secret"
expect 0 "import, human output" --db "$db" key import --tenant imp --container b --secret-file "$tmp/s16" --keyid imp-b
grep -q '^imported imp/b epoch 1$' "$tmp/out" || fail "import human output: $(head -n 1 "$tmp/out")"
grep -q '^keyid: imp-b$' "$tmp/out" || fail "import human output has no keyid line"
grep -qi secret "$tmp/out" && fail "import human output mentions a secret"
expect 0 "import 64 bytes" --db "$db" key import --tenant imp --container c --secret-file "$tmp/s64"
expect 2 "import 15 bytes" --db "$db" key import --tenant imp --container d --secret-file "$tmp/s15" && expect_diag "import 15"
grep -q 'secret must be 16 to 64 bytes' "$tmp/err" || fail "import 15: $(cat "$tmp/err")"
expect 2 "import 65 bytes" --db "$db" key import --tenant imp --container d --secret-file "$tmp/s65"
grep -q 'secret must be 16 to 64 bytes' "$tmp/err" || fail "import 65: $(cat "$tmp/err")"
expect 2 "import an empty file" --db "$db" key import --tenant imp --container d --secret-file /dev/null
expect 1 "import a missing file" --db "$db" key import --tenant imp --container d --secret-file "$tmp/nope" && expect_diag "import missing file"
expect 2 "import without --secret-file" --db "$db" key import --tenant imp --container d
expect 2 "no secret on the command line" --db "$db" key import --tenant imp --container d --secret "$b32"
# base64 on stdin, whitespace around it; into an existing scope: the next epoch, with grace
printf '  \n%s\n\n' "$b32" >"$tmp/s32.b64"
if "$HMACCTL" --db "$db" key import --tenant imp --container a --secret-file - --base64 --grace 120 --json \
	<"$tmp/s32.b64" >"$tmp/out" 2>"$tmp/err"; then
	echo "ok: import --base64 from stdin"
	pyjson "import into an existing scope" 'assert o["epoch"] == 2, o'
else
	fail "import --base64 from stdin: exit $?"
	sed 's/^/    stderr: /' "$tmp/err"
fi
grep -qF "$b32" "$tmp/out" "$tmp/err" && fail "import --base64 printed the secret"
expect 0 "list imp/a" --db "$db" key list --tenant imp --json
pyjson "import supersedes with the grace" '
a = [e for e in o if e["container"] == "a"]
assert [(e["epoch"], e["state"]) for e in a] == [(1, "superseded"), (2, "current")], a
assert a[0]["deadline"] == a[1]["created"] + 120, a
'
grep -qF "$b32" "$tmp/out" && fail "list shows an imported secret"
base64 -w0 "$tmp/s15" >"$tmp/s15.b64"
expect 2 "import --base64 of 15 bytes" --db "$db" key import --tenant imp --container d --secret-file "$tmp/s15.b64" --base64
grep -q 'secret must be 16 to 64 bytes' "$tmp/err" || fail "import --base64 15: $(cat "$tmp/err")"
base64 -w0 "$tmp/s65" >"$tmp/s65.b64"
expect 2 "import --base64 of 65 bytes" --db "$db" key import --tenant imp --container d --secret-file "$tmp/s65.b64" --base64
base64 -w0 "$tmp/s64" >"$tmp/s64.b64"
expect 0 "import --base64 of 64 bytes" --db "$db" key import --tenant imp --container e --secret-file "$tmp/s64.b64" --base64
printf 'not*base64*at*all*!!' >"$tmp/bad.b64"
expect 2 "import --base64 of something else" --db "$db" key import --tenant imp --container d --secret-file "$tmp/bad.b64" --base64
printf '%s' "$b32" | tr -d '=' >"$tmp/nopad.b64"
expect 0 "import --base64 without padding" --db "$db" key import --tenant imp --container f --secret-file "$tmp/nopad.b64" --base64
expect 4 "import with a taken key id" --db "$db" key import --tenant imp --container g --secret-file "$tmp/s32" --keyid imp-b && expect_diag "import keyid taken"
expect 0 "list imp" --db "$db" key list --tenant imp --json
pyjson "failed imports stored nothing" '
assert sorted({e["container"] for e in o}) == ["a", "b", "c", "e", "f"], o
'

# ---- policies ----
expect 0 "policy show: the default" --db "$db" policy show --tenant pol --container c1 --json
[ "$(wc -l <"$tmp/out")" -eq 1 ] || fail "policy show --json is not one line"
pyjson "policy show default shape" '
assert list(o) == ["tenant", "container", "source", "require", "created", "nonce", "age_check", "body_digest", "query", "replay_protection", "v1_nonce", "v1_require"], list(o)
assert o["tenant"] == "pol" and o["container"] == "c1" and o["source"] == "default", o
assert o["require"] == ["@method", "@path", "@authority"], o
assert o["created"] is True and o["nonce"] is True and o["age_check"] is True and o["body_digest"] is True, o
assert o["query"] is True and o["replay_protection"] == "all", o
assert o["v1_nonce"] is False and o["v1_require"] == [], o
'
expect 0 "policy show, human" --db "$db" policy show --tenant pol --container c1
grep -q 'default' "$tmp/out" || fail "policy show human: $(cat "$tmp/out")"
grep -q '@method @path @authority' "$tmp/out" || fail "policy show human: no require line"
expect 0 "policy set for a tenant" --db "$db" policy set --tenant pol --require @method @path --require '@query-param;name=id' 'content-digest;sf' --no-nonce
expect 0 "policy show: the tenant's" --db "$db" policy show --tenant pol --container c1 --json
pyjson "tenant policy applies to its containers" '
assert o["source"] == "tenant" and o["container"] == "c1", o
assert o["require"] == ["@method", "@path", "@query-param;name=\"id\"", "content-digest;sf"], o
assert o["nonce"] is False and o["created"] is True and o["age_check"] is True and o["body_digest"] is True, o
'
expect 0 "policy show for the tenant alone" --db "$db" policy show --tenant pol --json
pyjson "tenant-only show" 'assert o["container"] is None and o["source"] == "tenant", o'
expect 2 "policy set: a nonce without created" policy set --db "$db" --tenant pol --container c1 --require=@authority --no-created && expect_diag "policy nonce without created"
expect 2 "policy set: a nonce without the age check" policy set --db "$db" --tenant pol --container c1 --require=@authority --no-age-check
expect 0 "policy set for a scope" policy set --db "$db" --tenant pol --container c1 --require=@authority @method 'x-key;key="k1"' 'x-bin;bs' --no-created --no-age-check --no-body-digest --no-nonce --no-query --v1-nonce --v1-require host x-key
expect 0 "policy show: the scope's" --db "$db" policy show --tenant pol --container c1 --json
pyjson "scope policy wins" '
assert o["source"] == "scope", o
assert o["require"] == ["@authority", "@method", "x-key;key=\"k1\"", "x-bin;bs"], o
assert (o["created"], o["nonce"], o["age_check"], o["body_digest"], o["query"]) == (False, False, False, False, False), o
assert o["replay_protection"] == "weak" and o["v1_nonce"] is True and o["v1_require"] == ["host", "x-key"], o
'
expect 0 "policy show: another container" --db "$db" policy show --tenant pol --container c2 --json
pyjson "other container gets the tenant's" 'assert o["source"] == "tenant", o'
expect 0 "policy set replaces" --db "$db" policy set --tenant pol --container c1 --require @method
expect 0 "policy show after replace" --db "$db" policy show --tenant pol --container c1 --json
pyjson "replaced whole" 'assert o["require"] == ["@method"] and o["created"] is True, o'
expect 2 "policy set: upper-case field" --db "$db" policy set --tenant pol --require Content-Type && expect_diag "policy bad component"
expect 2 "policy set: unknown derived" --db "$db" policy set --tenant pol --require @status
expect 2 "policy set: @query-param without name" --db "$db" policy set --tenant pol --require @query-param
expect 2 "policy set: without --require" --db "$db" policy set --tenant pol --no-nonce
expect 2 "policy set: --require without a component" --db "$db" policy set --tenant pol --require --no-nonce
expect 2 "policy set: 17 components" --db "$db" policy set --tenant pol --require h1 h2 h3 h4 h5 h6 h7 h8 h9 h10 h11 h12 h13 h14 h15 h16 h17
expect 0 "policy set: 16 components" --db "$db" policy set --tenant pol16 --require h1 h2 h3 h4 h5 h6 h7 h8 h9 h10 h11 h12 h13 h14 h15 h16
expect 2 "policy set: without --tenant" --db "$db" policy set --container c1 --require @method
expect 2 "policy set: bad tenant" --db "$db" policy set --tenant 'p l' --require @method
expect 2 "policy show: --require does not apply" --db "$db" policy show --tenant pol --require @method
expect 0 "policy show: unchanged after refusals" --db "$db" policy show --tenant pol --json
pyjson "tenant policy unchanged" 'assert o["require"][0] == "@method" and len(o["require"]) == 4, o'
expect 0 "policy list --json" --db "$db" policy list --json
pyjson "policy list shape" '
assert isinstance(o, list) and len(o) == 3, o
keys = ["tenant", "container", "source", "require", "created", "nonce", "age_check", "body_digest", "query", "replay_protection", "v1_nonce", "v1_require"]
assert all(list(e) == keys for e in o), o
assert [(e["tenant"], e["container"], e["source"]) for e in o] == [("pol", None, "tenant"), ("pol", "c1", "scope"), ("pol16", None, "tenant")], o
assert len(o[2]["require"]) == 16, o
'
expect 0 "policy list --tenant" --db "$db" policy list --tenant pol16 --json
pyjson "policy list filter" 'assert len(o) == 1 and o[0]["tenant"] == "pol16", o'
expect 0 "policy list, human" --db "$db" policy list
head -n 1 "$tmp/out" | grep -q 'TENANT.*CONTAINER.*SOURCE.*REQUIRE' || fail "policy list header: $(head -n 1 "$tmp/out")"
[ "$(wc -l <"$tmp/out")" -eq 4 ] || fail "policy list human: $(cat "$tmp/out")"
expect 0 "policy unset a scope" --db "$db" policy unset --tenant pol --container c1
expect 3 "policy unset again" --db "$db" policy unset --tenant pol --container c1 && expect_diag "policy unset twice"
expect 0 "policy show after unset" --db "$db" policy show --tenant pol --container c1 --json
pyjson "back to the tenant's" 'assert o["source"] == "tenant", o'
expect 0 "policy unset the tenant" --db "$db" policy unset --tenant pol
expect 0 "policy show after both unset" --db "$db" policy show --tenant pol --container c1 --json
pyjson "back to the default" 'assert o["source"] == "default", o'
expect 3 "policy unset: nothing there" --db "$db" policy unset --tenant nobody
expect 1 "policy show: missing store" --db "$tmp/nostore" policy show --tenant pol
expect 2 "policy without a subcommand" --db "$db" policy

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
