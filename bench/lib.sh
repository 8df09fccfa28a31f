# SPDX-License-Identifier: ISC
# shellcheck shell=bash disable=SC2154 # $prog is the caller's
# bench/lib.sh: what the benchmark scripts share.  Sourced after the
# caller has set $prog (its name in messages).

die() {
	echo "$prog: $*" >&2
	exit 1
}

# A TCP port free on 127.0.0.1 now.
free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# stop_pids PID...: SIGTERM to each, up to 5 s for each to go, then SIGKILL.
stop_pids() {
	local p
	for p in "$@"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "$@"; do
		for _ in $(seq 50); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null || true
	done
}

# keep_or_remove RC DIR: after a failure (RC not 0) or with BENCH_KEEP set
# (not 0), keep DIR and say where; otherwise remove it.
keep_or_remove() {
	if [ "$1" -ne 0 ]; then
		echo "$prog: stopped before the end (exit $1); files kept in $2" >&2
	elif [ -n "${BENCH_KEEP:-}" ] && [ "$BENCH_KEEP" != 0 ]; then
		echo "$prog: files kept in $2"
	else
		rm -rf "$2"
	fi
}

# cpu_speeds: how fast each CPU is on its own, now: ECDSA P-256 signatures
# per second on each CPU in turn (`openssl speed`, about 2 s per CPU; the
# first 8 CPUs at most), and the slowest over the fastest.  On a virtual
# machine whose vCPUs are not alike (the host slows one of them), a CPU
# time per operation depends on which CPU did the work; this line says
# whether that is so, and says so in words when the slowest is more than
# a tenth behind: such a run is not one of an idle machine, its CPU ratios
# least of all (bench/README.md, round 18).  Called before the rounds and
# after them (LABEL), since a host's load changes within minutes.  Prints
# nothing without taskset or openssl, or when a CPU cannot be measured.
cpu_speeds() {
	local label=${1:-CPUs on their own} c n last line="" min=0 max=0

	command -v taskset >/dev/null && command -v openssl >/dev/null || return 0
	last=$(($(nproc) - 1))
	[ "$last" -le 7 ] || last=7
	for c in $(seq 0 "$last"); do
		n=$(taskset -c "$c" openssl speed -seconds 1 -mr ecdsap256 2>/dev/null |
		    awk -F: '$1 == "+F4" { printf "%.0f", $4 }')
		[ -n "$n" ] || return 0
		line="$line${line:+, }cpu$c $n"
		if [ "$min" = 0 ] || [ "$n" -lt "$min" ]; then min=$n; fi
		if [ "$n" -gt "$max" ]; then max=$n; fi
	done
	awk -v t="$label" -v l="$line" -v a="$min" -v b="$max" 'BEGIN {
		printf "  %s (ECDSA P-256 signatures/s): %s; slowest/fastest %.2f%s\n", t, l, a / b,
		    a / b < 0.9 ? " (uneven: the CPU times depend on which core did the work)" : "" }'
}
