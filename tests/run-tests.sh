#!/bin/bash
# SPDX-License-Identifier: ISC
# run-tests.sh BUILD BUILD_ASAN: every test of eca.
#   1. the unit tests (`meson test --suite unit`) in BUILD,
#   2. the same in BUILD_ASAN (built with ASan+UBSan),
#   3. the integration tests against BUILD's binaries
#      (tests/integration/run.sh BUILD; t_disconnect.sh also runs
#      BUILD_ASAN's ecad, found in $ECA_IT_ASAN_BUILD),
#   4. with FUZZ_BUILD set, every fuzz target for FUZZ_SECONDS (fuzz/run.sh).
# Unit tests are counted per cmocka test case (from cmocka's summary lines
# in meson's testlog.json); a program that crashed or printed no summary
# counts as one failure.  The last line is exactly `N passed, N failed`.
# Exit 1 if anything failed, 2 on a usage error.
set -u

if [ $# -ne 2 ]; then
	echo "usage: $0 BUILD BUILD_ASAN" >&2
	exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
passed=0
failed=0

# unit LABEL BUILD: runs the unit suite and adds up its cmocka cases.
unit() {
	local label=$1 build=$2 log p n line name result cp cf rc
	log=$build/meson-logs/testlog.json
	echo "==> unit tests ($label: $build)"
	if [ ! -d "$build" ]; then
		echo "not ok - unit tests in $build: no such build directory"
		failed=$((failed + 1))
		return
	fi
	rm -f "$log"
	# UBSan: make undefined behaviour fatal so that it fails the test.
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
	    meson test -C "$build" --suite unit --print-errorlogs
	rc=$?
	if [ ! -s "$log" ]; then
		echo "not ok - unit tests in $build: meson test exited $rc and ran nothing"
		failed=$((failed + 1))
		return
	fi
	p=0
	n=0
	while IFS=$'\t' read -r name result cp cf; do
		if [ "$result" = OK ] && [ "$cf" = 0 ] && [ "$cp" -gt 0 ]; then
			p=$((p + cp))
		elif [ "$result" = OK ] && [ "$cf" = 0 ]; then
			# No cmocka summary: count the program.
			p=$((p + 1))
		elif [ "$result" = SKIP ]; then
			:
		else
			p=$((p + cp))
			if [ "$cf" -gt 0 ]; then
				n=$((n + cf))
			else
				n=$((n + 1))
			fi
			echo "not ok - unit test program $name ($label): $result"
		fi
	done < <(jq -r '
		((.stdout // "") + (.stderr // "")) as $o
		| [.name, .result,
		   ([$o | scan("\\[  PASSED  \\] ([0-9]+) test")]
		     | map(.[0] | tonumber) | add // 0),
		   ([$o | scan("\\[  FAILED  \\] ([0-9]+) test\\(s\\), listed")]
		     | map(.[0] | tonumber) | add // 0)]
		| @tsv' "$log")
	echo "# unit ($label): $p passed, $n failed"
	passed=$((passed + p))
	failed=$((failed + n))
}

unit plain "$1"
unit asan "$2"

echo "==> integration tests ($1)"
out=$(mktemp)
# Files that also run a daemon under the sanitizers (t_disconnect.sh) find
# the ASan build here.
ECA_IT_ASAN_BUILD=$(cd "$2" 2>/dev/null && pwd) || ECA_IT_ASAN_BUILD=""
export ECA_IT_ASAN_BUILD
"$here/integration/run.sh" "$1" | tee "$out"
line=$(grep -E '^integration: [0-9]+ passed, [0-9]+ failed$' "$out" | tail -1)
rm -f "$out"
if [ -n "$line" ]; then
	p=$(sed -E 's/^integration: ([0-9]+) passed.*/\1/' <<<"$line")
	n=$(sed -E 's/.* ([0-9]+) failed$/\1/' <<<"$line")
	passed=$((passed + p))
	failed=$((failed + n))
else
	echo "not ok - integration tests: no summary line"
	failed=$((failed + 1))
fi

# 4. Each libFuzzer target briefly, when a fuzz build is given (make check
#    sets FUZZ_BUILD; CI runs each target for FUZZ_SECONDS, 60 by default).
if [ -n "${FUZZ_BUILD:-}" ]; then
	echo "==> fuzz targets (${FUZZ_SECONDS:-60}s each, $FUZZ_BUILD)"
	out=$(mktemp)
	"$here/../fuzz/run.sh" "$FUZZ_BUILD" "${FUZZ_SECONDS:-60}" | tee "$out"
	p=$(grep -cE '^fuzz_[a-z_]+: ok' "$out")
	n=$(grep -cE '^fuzz_[a-z_]+: FAILED' "$out")
	rm -f "$out"
	if [ "$p" -eq 0 ] && [ "$n" -eq 0 ]; then
		echo "not ok - fuzz targets: none ran"
		n=1
	fi
	passed=$((passed + p))
	failed=$((failed + n))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
