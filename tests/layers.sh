#!/bin/sh
# layers.sh - every C file includes only what its layer may (doc/design.md, "Layers"). Part of
# make check: a layer violation fails the build's tests, not just a review.
#
#   proto/           proto/* only; no sockets, no event loop, no LMDB, no Redis
#   daemon/store/    proto/* but the codec (msg.h, mpack.h, frame.h), store/*; no msgpack,
#                    no event loop, no sockets, no Redis; store/internal.h is for daemon/store/
#                    alone
#   daemon/engine/   proto/* but the codec, store/*, engine/*; no event loop, no sockets, no
#                    Redis
#                    (it judges items: it knows neither how they travel nor who sent them)
#   daemon/fleet/    proto/*, store/*, fleet/* (and <hiredis/...>); never the engine, the
#                    server or ctl, no event loop: its connections are blocking
#   daemon/server/   proto/*, store/*, engine/*, fleet/*, server/*
#   daemon/ctl/      proto/*, store/*, engine/* (explain), fleet/*, ctl/*, hmacd/client.h;
#                    never the server
#   client/c/        proto/*, hmacd/client.h, its own client/c/* (transport.h); no Redis
# Exit 0 all clean, 1 with one line per violation.
set -u
top=$(cd "${srcdir:-.}" && pwd) || exit 1
cd "$top" || exit 1

status=0
# check DIR ALLOWED_PREFIXES FORBIDDEN_REGEX: project includes ("x/y.h") must start with one of
# the space-separated prefixes; no include at all (project or system) may match the regex.
check() {
	dir=$1 allowed=$2 forbidden=$3
	for f in "$dir"/*.c "$dir"/*.h; do
		[ -f "$f" ] || continue
		grep -n '^[[:space:]]*#[[:space:]]*include' "$f" | while IFS= read -r line; do
			inc=$(printf '%s\n' "$line" | sed -n 's/.*#[[:space:]]*include[[:space:]]*\(["<][^">]*[">]\).*/\1/p')
			name=$(printf '%s\n' "$inc" | sed 's/^.\(.*\).$/\1/')
			case $inc in
			'"'*)
				ok=0
				for p in $allowed; do
					case $name in "$p"*) ok=1 ;; esac
				done
				if [ $ok -eq 0 ]; then
					echo "$f:${line%%:*}: includes $inc: not a layer $dir may use"
					echo x >>"$tmp"
				fi
				;;
			esac
			if [ -n "$forbidden" ] && printf '%s\n' "$name" | grep -Eq "$forbidden"; then
				echo "$f:${line%%:*}: includes $inc: $dir must not"
				echo x >>"$tmp"
			fi
		done
	done
}

tmp=$(mktemp "${TMPDIR:-/tmp}/layers.XXXXXX") || exit 1
trap 'rm -f "$tmp"' EXIT
codec='^proto/(msg|mpack|frame)\.h$|^msgpack'
io='^event2/|^sys/socket\.h$|^sys/un\.h$|^poll\.h$'
redis='^hiredis/'
check proto "proto/" "$io|$redis|^lmdb\.h$"
check daemon/store "proto/ store/" "$codec|$io|$redis"
check daemon/engine "proto/ store/ engine/" "$codec|$io|$redis"
check daemon/fleet "proto/ store/ fleet/" "^engine/|^server/|^ctl/|^event2/|^hiredis/adapters/"
check daemon/server "proto/ store/ engine/ fleet/ server/" ""
check daemon/ctl "proto/ store/ engine/ fleet/ ctl/ hmacd/" "^server/"
check client/c "proto/ hmacd/ client/c/" "^store/|^engine/|^server/|^fleet/|^lmdb\.h$|^event2/|$redis"
# store/internal.h (the handle, the ks_ functions) is daemon/store's own: no file elsewhere,
# tests and bench included, may include it; they use keystore.h and record.h
grep -rn --include='*.[ch]' '^[[:space:]]*#[[:space:]]*include[[:space:]]*"store/internal\.h"' \
	proto daemon client bench tests 2>/dev/null | grep -v '^daemon/store/' |
	while IFS=: read -r f n _; do
		echo "$f:$n: includes \"store/internal.h\": only daemon/store may"
		echo x >>"$tmp"
	done
if [ -s "$tmp" ]; then
	status=1
	echo "FAIL: $(wc -l <"$tmp") include(s) across layers"
else
	echo "layers: every include within its layer"
fi
exit $status
