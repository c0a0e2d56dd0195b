#!/bin/sh
# run.sh [SECONDS] - build the libFuzzer targets, replay the seed corpus, then fuzz each target
# for SECONDS (default 60). Run it from the top build directory (as CI and `make check` do).
#
#   tests/fuzz/run.sh          # about 10 minutes: 60 s for each of the 10 targets
#   tests/fuzz/run.sh 600      # a longer run
# Environment:
#   FUZZ_ARTIFACTS  where crashing inputs go (default ./fuzz-artifacts)
#   FUZZ_CORPUS_OUT if set, each target's grown corpus is copied to $FUZZ_CORPUS_OUT/<target>
#                   (review and minimise with -merge=1 before adding any of it to the seeds)
#   FUZZ_JOBS       parallel workers per target (default 1: CI machines are small)
# Exit 0 when every seed replays cleanly and no run found a crash, leak, UB or limit breach;
# 1 otherwise (the input that did it is in $FUZZ_ARTIFACTS); 77 if clang/libFuzzer is absent.
set -u

secs=${1:-60}
case $secs in '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;; esac
here=$(cd "$(dirname "$0")" && pwd)
seeds=$here/corpus
art=${FUZZ_ARTIFACTS:-$(pwd)/fuzz-artifacts}
jobs=${FUZZ_JOBS:-1}
targets="frame request canon sfv rfc9421 b64 fleet_record json authz audit"

if ! command -v clang >/dev/null 2>&1; then
	echo "SKIP: clang is not installed (Debian: apt-get install clang libclang-rt-14-dev)"
	exit 77
fi
echo "== make fuzz"
${MAKE:-make} -s fuzz || { echo "FAIL: make fuzz (is libclang-rt-14-dev installed?)"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/hmacd-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT INT TERM
mkdir -p "$art"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# A single allocation over 64 MiB is a finding: every decoder here is bounded by the input.
opts="-malloc_limit_mb=64 -rss_limit_mb=2048 -timeout=10 -max_len=8192 -use_value_profile=1"
status=0
summary=""

for t in $targets; do
	bin=./tests/fuzz/fuzz_$t
	echo "== $t: replay $(ls "$seeds/$t" | wc -l) seeds"
	# Each file once, as a reproducer would: any failure is a regression.
	if ! find "$seeds/$t" -type f -exec "$bin" $opts -artifact_prefix="$art/$t-" {} + \
		>"$work/replay-$t.log" 2>&1; then
		tail -40 "$work/replay-$t.log"
		echo "FAIL: $t: a seed input fails"
		status=1
		continue
	fi
	[ "$secs" -gt 0 ] || continue
	echo "== $t: fuzz for $secs s"
	mkdir -p "$work/corpus-$t"
	cp "$seeds/$t"/* "$work/corpus-$t/"
	par=""
	# libFuzzer's -jobs forks workers that log to fuzz-N.log in the current directory
	[ "$jobs" -gt 1 ] && par="-jobs=$jobs -workers=$jobs"
	(cd "$work" && "$OLDPWD/$bin" $opts -max_total_time="$secs" -print_final_stats=1 $par \
		-artifact_prefix="$art/$t-" "$work/corpus-$t" >"$work/fuzz-$t.log" 2>&1)
	rc=$?
	[ "$jobs" -gt 1 ] && cat "$work"/fuzz-[0-9]*.log >>"$work/fuzz-$t.log" 2>/dev/null
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz-$t.log" | tail -1)
	last=$(grep -E '^#[0-9]+' "$work/fuzz-$t.log" | tail -1)
	cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
	corp=$(echo "$last" | sed -n 's/.*corp: \([0-9]*\)\/.*/\1/p')
	summary="$summary$(printf '%-8s %12s execs  cov %5s  ft %6s  corpus %5s  rc %s' \
		"$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$rc")
"
	if [ "$rc" -ne 0 ]; then
		grep -E 'ERROR|check failed|SUMMARY|runtime error|Test unit written' \
			"$work/fuzz-$t.log" | head -20
		echo "FAIL: $t (artifacts in $art)"
		status=1
	fi
	if [ -n "${FUZZ_CORPUS_OUT:-}" ]; then
		mkdir -p "$FUZZ_CORPUS_OUT/$t"
		cp "$work/corpus-$t"/* "$FUZZ_CORPUS_OUT/$t/"
	fi
done
[ -n "$summary" ] && printf '\n%s' "$summary"
[ "$status" -eq 0 ] && echo "PASS" || echo "FAIL"
exit $status
