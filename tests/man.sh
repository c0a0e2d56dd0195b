#!/bin/sh
# man.sh - the man pages keep step with --help (part of make check): every option that
# `hmacd --help` / `hmacctl --help` lists is documented in the OPTIONS section of
# doc/hmacd.8 / doc/hmacctl.8, and every option documented there is in --help, except those in
# doc/man-pending.txt (options of branches not merged yet). Then, if groff is installed, both
# pages must format without a warning.
set -u
src=${srcdir:-.}
if [ -z "${HMACD:-}" ] || [ -z "${HMACCTL:-}" ]; then
	echo "SKIP: HMACD and HMACCTL must name the binaries under test"
	exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/man.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
status=0

# the options of a --help text: lines "  --name ..." (hmacctl: in its options part)
help_opts() {
	sed -n 's/^  \(--[a-z0-9][a-z0-9-]*\).*/\1/p' | sort -u
}
# the options of a man page: the first \-\- word of each tag line (.TP's next line) of OPTIONS
man_opts() {
	awk '/^\.SH /{ in_opts = ($2 == "OPTIONS") } in_opts && tp { print; tp = 0; next }
	     /^\.TP/ { tp = 1 }' "$1" |
		sed -n 's/^[^\\]*\(\\-\\-[a-z0-9\\-]*\).*/\1/p' | sed 's/\\-/-/g' | sort -u
}
pending() {
	sed -n "s/^$1 \(--[a-z0-9-]*\)\$/\1/p" "$src/doc/man-pending.txt" | sort -u
}

compare() {
	prog=$1 page=$2
	man_opts "$page" >"$tmp/$prog.man"
	pending "$prog" >"$tmp/$prog.pending"
	if [ ! -s "$tmp/$prog.help" ] || [ ! -s "$tmp/$prog.man" ]; then
		echo "FAIL: no option found in $prog --help or $page"
		status=1
		return
	fi
	for o in $(comm -23 "$tmp/$prog.help" "$tmp/$prog.man"); do
		echo "FAIL: $prog --help lists $o, $page does not document it"
		status=1
	done
	for o in $(comm -13 "$tmp/$prog.help" "$tmp/$prog.man" | comm -23 - "$tmp/$prog.pending"); do
		echo "FAIL: $page documents $o, $prog --help does not list it (nor doc/man-pending.txt)"
		status=1
	done
	for o in $(comm -12 "$tmp/$prog.help" "$tmp/$prog.pending"); do
		echo "FAIL: $prog $o is in --help now: remove it from doc/man-pending.txt"
		status=1
	done
	echo "$prog: $(wc -l <"$tmp/$prog.help") options in --help, $(wc -l <"$tmp/$prog.man") in $page"
}

"$HMACD" --help 2>&1 | help_opts >"$tmp/hmacd.help"
"$HMACCTL" --help 2>&1 | sed -n '/^options/,$p' | help_opts >"$tmp/hmacctl.help"
compare hmacd "$src/doc/hmacd.8"
compare hmacctl "$src/doc/hmacctl.8"

if command -v groff >/dev/null 2>&1; then
	for page in "$src/doc/hmacd.8" "$src/doc/hmacctl.8"; do
		out=$(LC_ALL=C groff -man -ww -z "$page" 2>&1)
		if [ -n "$out" ]; then
			echo "FAIL: groff warns about $page:"
			echo "$out"
			status=1
		fi
	done
else
	echo "note: groff is not installed, the pages are not linted"
fi
exit $status
