#!/bin/sh
# SPDX-License-Identifier: ISC
# fuzz/run.sh BUILD SECONDS - run every fuzz target for SECONDS each.
#
# Each target starts from a scratch copy of fuzz/corpus/<target>/ so the
# repository stays clean.  Prints each target's executions; exits non-zero
# if any target crashed, leaked, timed out or was not built.  Crash inputs
# are kept in BUILD/fuzz-artifacts/<target>/ for reproduction:
#   BUILD/fuzz/fuzz_<target> BUILD/fuzz-artifacts/<target>/crash-...
set -u

usage() {
	echo "usage: $0 BUILD_DIR SECONDS" >&2
	exit 2
}

[ $# -eq 2 ] || usage
build=$1
secs=$2
case $secs in
''|*[!0-9]*) usage ;;
esac
[ "$secs" -gt 0 ] || usage

here=$(cd "$(dirname "$0")" && pwd)
# Every fuzz_<target>.c beside this script is a target.
targets=$(for f in "$here"/fuzz_*.c; do
	t=${f##*/fuzz_}
	echo "${t%.c}"
done)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/eca-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$scratch"' EXIT INT TERM

failed=0
for t in $targets; do
	exe=$build/fuzz/fuzz_$t
	if [ ! -x "$exe" ]; then
		echo "fuzz_$t: FAILED: $exe not built (make fuzz builds it)"
		failed=$((failed + 1))
		continue
	fi
	work=$scratch/$t
	mkdir -p "$work/corpus" "$work/artifacts"
	if [ -d "$here/corpus/$t" ]; then
		cp "$here/corpus/$t"/* "$work/corpus/" 2>/dev/null
	fi
	dict=
	if [ -f "$here/fuzz_$t.dict" ]; then
		dict=-dict=$here/fuzz_$t.dict
	fi
	# detect_leaks is on by default under ASan; say so anyway.
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
	    "$exe" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=25 \
	    -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
	    $dict "$work/corpus" >"$work/log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" |
	    tail -n 1)
	[ -n "$execs" ] || execs=0
	if [ $rc -eq 0 ] && ! ls "$work/artifacts"/* >/dev/null 2>&1; then
		echo "fuzz_$t: ok, $execs executions in ${secs}s"
		continue
	fi
	failed=$((failed + 1))
	echo "fuzz_$t: FAILED (exit $rc) after $execs executions"
	mkdir -p "$build/fuzz-artifacts/$t"
	cp "$work/artifacts"/* "$build/fuzz-artifacts/$t/" 2>/dev/null &&
	    echo "  inputs kept in $build/fuzz-artifacts/$t/"
	grep -E 'ERROR: |SUMMARY: |runtime error|dump|abort' "$work/log" |
	    head -n 20 | sed 's/^/  /'
done

if [ $failed -ne 0 ]; then
	echo "fuzz: $failed target(s) failed"
	exit 1
fi
echo "fuzz: all targets ran ${secs}s without a finding"
