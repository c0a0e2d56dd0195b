#!/bin/sh
# Hygiene check run by make check: no trailing whitespace, no CRLF, and a final newline in the
# project's source files (C, shell, automake). Prints each offending line.
set -u
src=${srcdir:-.}
bad=0
files=$(find "$src/proto" "$src/daemon" "$src/client/c" "$src/bench" "$src/tests" \
	\( -name '*.c' -o -name '*.h' -o -name '*.sh' \) -type f 2>/dev/null)
for f in $files "$src/Makefile.am" "$src/configure.ac"; do
	[ -f "$f" ] || continue
	if grep -n "$(printf '[ \t]$')" "$f" >/dev/null 2>&1; then
		grep -n "$(printf '[ \t]$')" "$f" | sed "s|^|$f:|"
		bad=1
	fi
	if grep -q "$(printf '\r')" "$f"; then
		echo "$f: CRLF line ending"
		bad=1
	fi
	if [ -s "$f" ] && [ "$(tail -c 1 "$f" | od -An -c | tr -d ' ')" != '\n' ]; then
		echo "$f: no newline at end of file"
		bad=1
	fi
done
[ "$bad" -eq 0 ] && echo "whitespace: ok"
exit "$bad"
