#!/bin/bash
# SPDX-License-Identifier: ISC
# run.sh BUILD [t_FILE...]: runs the integration tests (every
# tests/integration/t_*.sh, or the named ones) against BUILD's ecad and
# eca.  Each file prints `ok - ...` / `not ok - ...` lines and a
# `# summary: N passed, N failed` line; this script adds them up and ends
# with `integration: N passed, N failed`.  Exit 1 if anything failed.
#
# The run's files (CA, configs, logs) are in a temporary directory that is
# removed when everything passed and kept, and named, otherwise.
# ECA_IT_JOBS (default 2) files run at once; ECA_IT_FILE_TIMEOUT (default
# 240) bounds each file in seconds, unless the file asks for more with a
# line `# it-timeout: SECONDS` among its first ten.
set -u

if [ $# -lt 1 ]; then
	echo "usage: $0 BUILD [t_FILE...]" >&2
	exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
ECA_IT_BUILD=$(cd "$1" 2>/dev/null && pwd) || {
	echo "run.sh: no build directory '$1'" >&2
	exit 2
}
shift
export ECA_IT_BUILD

if [ $# -gt 0 ]; then
	files=("$@")
else
	files=("$here"/t_*.sh)
fi
jobs=${ECA_IT_JOBS:-2}
file_timeout=${ECA_IT_FILE_TIMEOUT:-240}

for b in src/daemon/ecad src/cli/eca; do
	if [ ! -x "$ECA_IT_BUILD/$b" ]; then
		echo "not ok - integration: $ECA_IT_BUILD/$b is missing (build first)"
		echo "integration: 0 passed, 1 failed"
		exit 1
	fi
done

ECA_IT_RUN=$(mktemp -d "${TMPDIR:-/tmp}/eca-it.XXXXXX")
export ECA_IT_RUN
"$here/../../scripts/mkca.sh" ca "$ECA_IT_RUN/ca" --name "eca it" || {
	echo "run.sh: cannot make the test CA" >&2
	echo "integration: 0 passed, 1 failed"
	exit 1
}

start=$(date +%s)
# Run the files, at most $jobs at once; each one's output goes to a log
# that is printed whole when it finishes, so the lines do not interleave.
run_one() {
	local f=$1 name
	local t=$file_timeout want
	name=$(basename "$f" .sh)
	want=$(head -10 "$f" | sed -n 's/^# it-timeout: \([0-9][0-9]*\)$/\1/p')
	[ -n "$want" ] && [ "$want" -gt "$t" ] && t=$want
	timeout -k 10 "$t" bash "$f" >"$ECA_IT_RUN/$name.log" 2>&1
	echo $? >"$ECA_IT_RUN/$name.rc"
}
for f in "${files[@]}"; do
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		wait -n 2>/dev/null || true
	done
	run_one "$f" &
done
wait

passed=0
failed=0
for f in "${files[@]}"; do
	name=$(basename "$f" .sh)
	log=$ECA_IT_RUN/$name.log
	rc=$(cat "$ECA_IT_RUN/$name.rc" 2>/dev/null || echo 1)
	echo "# $name"
	cat "$log"
	summary=$(grep -E '^# summary: [0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
	if [ -z "$summary" ]; then
		if [ "$rc" = 124 ]; then
			echo "not ok - $name: did not finish within its time limit"
		else
			echo "not ok - $name: ended (exit $rc) without a summary"
		fi
		p=$(grep -c '^ok - ' "$log")
		passed=$((passed + p))
		failed=$((failed + 1))
		continue
	fi
	p=$(sed -E 's/^# summary: ([0-9]+) passed.*/\1/' <<<"$summary")
	n=$(sed -E 's/.* ([0-9]+) failed$/\1/' <<<"$summary")
	passed=$((passed + p))
	failed=$((failed + n))
	if [ "$n" = 0 ] && [ "$rc" != 0 ]; then
		echo "not ok - $name: exit status $rc after all cases passed"
		failed=$((failed + 1))
	fi
done

echo "# integration tests took $(($(date +%s) - start))s"
if [ "$failed" -gt 0 ]; then
	echo "# files kept in $ECA_IT_RUN"
else
	rm -rf "$ECA_IT_RUN"
fi
echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
