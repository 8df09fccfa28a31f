#!/bin/bash
# SPDX-License-Identifier: ISC
#
# What `meson install` gives an administrator: the file list and modes in a
# DESTDIR, man pages that render cleanly, a systemd unit that verifies and
# is hardened (exposure <= 2.0), paths that agree between the unit,
# sysusers.d, tmpfiles.d, the config template and ecad's defaults, a bash
# completion that works, the versions, and sd_notify readiness, reload and
# stop.  A tool that is missing (mandoc, man, systemd-analyze,
# bash-completion) makes its case print one "skipped:" line.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

DEST=$T/root
# meson introspect is slow on a loaded machine: once per file.
VERSION=$(meson introspect --projectinfo "$BUILD" | jq -r .version)
OPTIONS=$(meson introspect --buildoptions "$BUILD")
opt() {
	printf '%s' "$OPTIONS" |
	    jq -r --arg n "$1" '.[] | select(.name == $n) | .value'
}
PREFIX=$(opt prefix)
# Relative directories are under the prefix; absolute ones (sysconfdir
# /etc for prefix /usr) are not.
abs() {
	case $1 in /*) echo "$1" ;; *) echo "$PREFIX/$1" ;; esac
}
SBINDIR=$(abs "$(opt sbindir)")
BINDIR=$(abs "$(opt bindir)")
SYSCONFDIR=$(abs "$(opt sysconfdir)")
MANDIR=$(abs "$(opt mandir)")
DATADIR=$(abs "$(opt datadir)")
INSTALLED=0

skipped() {
	echo "# skipped: $*"
}

# The installed file of that name (relative to DEST), exactly one.
installed() {
	local n
	n=$(cd "$DEST" && find . -path "*/$1" | sed 's#^\.##')
	if [ -z "$n" ] || [ "$(printf '%s\n' "$n" | wc -l)" != 1 ]; then
		fail "expected one installed */$1, found: $(_it_short "$n")"
		return 1
	fi
	echo "$n"
}

c_install() {
	local f want got mode
	rm -rf "$DEST"
	run_cmd meson install -C "$BUILD" --no-rebuild --destdir "$DEST"
	expect_rc 0 || return
	for want in "755 $SBINDIR/ecad" "755 $BINDIR/eca" \
	    "644 $SYSCONFDIR/eca/eca.conf" "644 $SYSCONFDIR/logrotate.d/eca" \
	    "644 $MANDIR/man1/eca.1" "644 $MANDIR/man5/eca.conf.5" \
	    "644 $MANDIR/man8/ecad.8" \
	    "644 $DATADIR/bash-completion/completions/eca"; do
		f=${want#* }
		mode=${want%% *}
		[ -f "$DEST$f" ] || { fail "$f is not installed"; return; }
		got=$(stat -c %a "$DEST$f")
		expect_eq "$got" "$mode" "the mode of $f" || return
	done
	for f in systemd/system/ecad.service sysusers.d/eca.conf \
	    tmpfiles.d/eca.conf pkgconfig/eca.pc libeca.a include/eca/x509.h; do
		got=$(installed "$f") || return
		expect_eq "$(stat -c %a "$DEST$got")" 644 "the mode of $got" || return
	done
	# Nothing else: no test or benchmark program, no fuzz target.
	got=$(cd "$DEST" && find . -type f | grep -vE \
	    '/(sbin/ecad|bin/eca|eca/eca\.conf|logrotate\.d/eca|man[158]/ecad?(\.conf)?\.[158]|completions/eca|ecad\.service|sysusers\.d/eca\.conf|tmpfiles\.d/eca\.conf|pkgconfig/eca\.pc|libeca\.a|include/eca/[a-z0-9_]+\.h)$')
	expect_eq "$got" "" "files installed besides the expected ones" || return
	# The installed headers include only installed headers.
	local inc h
	inc=$(dirname "$DEST$(installed include/eca/x509.h)") || return
	for h in $(sed -n 's/^#include "\(.*\)"$/\1/p' "$inc"/*.h | sort -u); do
		[ -f "$inc/$h" ] ||
		    { fail "an installed header includes $h, which is not installed (dist/meson.build)"; return; }
	done
	INSTALLED=1
}

need_install() {
	[ $INSTALLED = 1 ] || { fail "meson install failed earlier"; return 1; }
}

c_versions() {
	need_install || return
	expect_exit 0 "$DEST$SBINDIR/ecad" -V || return
	expect_eq "$OUT" "ecad $VERSION" "ecad -V" || return
	expect_exit 0 "$DEST$BINDIR/eca" --version || return
	expect_eq "$OUT" "eca $VERSION" "eca --version" || return
	expect_exit 0 "$DEST$SBINDIR/ecad" -h || return
	expect_match "$OUT" '^usage: ecad ' "ecad -h" || return
	expect_exit 1 "$DEST$SBINDIR/ecad" -Z || return
	expect_match "$ERR" 'usage: ecad ' "ecad -Z's stderr"
}

c_man() {
	local p out
	need_install || return
	if ! command -v mandoc >/dev/null || ! command -v man >/dev/null; then
		skipped "mandoc or man is not installed (install-deps.sh test)"
		return
	fi
	for p in man1/eca.1 man5/eca.conf.5 man8/ecad.8; do
		out=$(mandoc -T lint -W warning "$DEST$MANDIR/$p" 2>&1)
		expect_eq "$out" "" "mandoc -T lint $p" || return
		out=$(MANWIDTH=80 man -l "$DEST$MANDIR/$p" 2>&1 >/dev/null)
		expect_eq "$out" "" "man -l $p's warnings" || return
		out=$(MANWIDTH=80 man -l "$DEST$MANDIR/$p" 2>/dev/null | wc -l)
		[ "$out" -gt 20 ] || { fail "man -l $p rendered $out lines"; return; }
	done
}

c_unit() {
	local unit u out exp
	need_install || return
	if ! command -v systemd-analyze >/dev/null; then
		skipped "systemd-analyze is not installed (install-deps.sh test)"
		return
	fi
	unit=$DEST$(installed systemd/system/ecad.service) || return
	# verify checks that ExecStart exists: point it into DEST.
	mkdir -p "$T/unit"
	u=$T/unit/ecad.service
	sed "s#$SBINDIR/ecad#$DEST$SBINDIR/ecad#" "$unit" >"$u"
	out=$(MANPATH=$DEST$MANDIR systemd-analyze verify "$u" 2>&1)
	expect_eq "$out" "" "systemd-analyze verify ecad.service" || return
	out=$(systemd-analyze security --offline=yes "$u" 2>&1)
	exp=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for ecad.service: \([0-9.]*\).*/\1/p')
	[ -n "$exp" ] || { fail "no exposure figure: $(_it_short "$out")"; return; }
	echo "# systemd-analyze security: exposure $exp"
	awk -v e="$exp" 'BEGIN { exit !(e <= 2.0) }' ||
	    fail "exposure $exp is over 2.0: $(printf '%s\n' "$out" | grep '✗' | tr -s ' ' | tr '\n' ';')"
}

# The unit, sysusers.d, tmpfiles.d, the template and ecad's own defaults
# name the same user, programs and directories.
c_paths_agree() {
	local unit sysusers tmpfiles tmpl user
	need_install || return
	unit=$DEST$(installed systemd/system/ecad.service) || return
	sysusers=$DEST$(installed sysusers.d/eca.conf) || return
	tmpfiles=$DEST$(installed tmpfiles.d/eca.conf) || return
	tmpl=$DEST$SYSCONFDIR/eca/eca.conf
	expect_match "$(grep '^ExecStart=' "$unit")" \
	    "^ExecStart=$SBINDIR/ecad -d -f $SYSCONFDIR/eca/eca.conf\$" \
	    "ExecStart" || return
	user=$(sed -n 's/^User=//p' "$unit")
	expect_eq "$user" _eca "the unit's User" || return
	expect_match "$(grep -v '^#' "$sysusers")" "^u $user " "sysusers.d" || return
	printf 'CLIENT_NAME = x.it.test\n' >"$T/min.conf"
	run_cmd "$DEST$SBINDIR/ecad" -T -f "$T/min.conf"
	expect_rc 0 || return
	local state
	state=$(printf '%s\n' "$OUT" | sed -n 's/^STATE_DIR = //p')
	expect_match "$(grep -v '^#' "$tmpfiles")" "^d $state 0750 $user $user" \
	    "tmpfiles.d's STATE_DIR ($state)" || return
	expect_match "$(grep -v '^#' "$tmpfiles")" "^d /run/eca 0750 $user $user" \
	    "tmpfiles.d's /run/eca" || return
	expect_match "$(grep '^StateDirectory=' "$unit")" "=${state#/var/lib/}\$" \
	    "the unit's StateDirectory" || return
	expect_match "$(grep '^ReadWritePaths=' "$unit")" "$state /run/eca" \
	    "the unit's ReadWritePaths" || return
	expect_match "$(grep '^CONTROL_SOCKET' "$tmpl")" '= /run/eca/ecad.sock$' \
	    "the template's CONTROL_SOCKET" || return
	expect_match "$(grep '^PID_FILE' "$tmpl")" '= /run/eca/ecad.pid$' \
	    "the template's PID_FILE"
}

# Every key ecad knows is in the template, commented out with its
# default, and described in eca.conf(5): uncommenting every "#KEY = value"
# line gives ecad's defaults.
c_template() {
	local tmpl key d conf got want
	need_install || return
	tmpl=$DEST$SYSCONFDIR/eca/eca.conf
	printf 'CLIENT_NAME = x.it.test\n' >"$T/min.conf"
	run_cmd "$DEST$SBINDIR/ecad" -T -f "$T/min.conf"
	expect_rc 0 || return
	want=$OUT
	for key in $(printf '%s\n' "$want" | sed -n 's/^\([A-Z_]*\) = .*/\1/p'); do
		grep -qE "^#?$key =" "$tmpl" ||
		    { fail "$key is not in the template"; return; }
		grep -qx "\.It Cm $key" "$DEST$MANDIR/man5/eca.conf.5" ||
		    { fail "$key is not described in eca.conf(5)"; return; }
	done
	make_host tpl.it.test --conf "SERVER = nowhere.it.test 127.0.0.1:9" || return
	d=$(host_dir tpl.it.test)
	conf=$T/tpl.conf
	# Uncomment the defaults that are values (not STATE_DIR/... or empty),
	# keep ecad's own STATE_DIR-derived paths, add this host's identity.
	sed -E -e '/STATE_DIR\//!s/^#([A-Z_]+ = )(.+)$/\1\2/' \
	    -e '/^(CONTROL_SOCKET|PID_FILE) = \/run/d' "$tmpl" >"$conf"
	grep -E '^[A-Z]' "$conf" | grep -E 'STATE_DIR/' &&
	    { fail "a STATE_DIR/... placeholder was uncommented"; return; }
	cat >>"$conf" <<-CONF
	CLIENT_NAME = x.it.test
	SERVER = nowhere.it.test 127.0.0.1:9
	ECA_CERT_PATH = $d/cert.pem
	ECA_PRIVATE_KEY_PATH = $d/key.pem
	ECA_TRUST_STORE_PATH = $CA/trust.pem
	CONF
	run_cmd "$DEST$SBINDIR/ecad" -T -f "$conf"
	expect_rc 0 || return
	got=$(printf '%s\n' "$OUT" | grep -vE '^(SERVER|ECA_CERT_PATH|ECA_PRIVATE_KEY_PATH|ECA_TRUST_STORE_PATH) ')
	expect_eq "$got" "$want" "ecad -T of the uncommented template" || return
	run_cmd "$DEST$SBINDIR/ecad" -t -f "$conf"
	expect_rc 0 || return
	expect_eq "$OUT" "ecad: configuration OK" "ecad -t of the template"
}

c_completion() {
	local comp cmds c out want
	need_install || return
	if [ ! -f /usr/share/bash-completion/bash_completion ]; then
		skipped "bash-completion is not installed (install-deps.sh test)"
		return
	fi
	comp=$DEST$DATADIR/bash-completion/completions/eca
	# Each LINE completed (its last word, or an empty one after a
	# blank), in one bash: "LINE => COMPREPLY".
	complete_lines() {
		bash -c '. /usr/share/bash-completion/bash_completion && . "$1" &&
		    shift && for line; do
			read -ra COMP_WORDS <<<"$line"
			[[ $line == *" " ]] && COMP_WORDS+=("")
			COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
			COMP_LINE=$line COMP_POINT=${#line} COMPREPLY=()
			_eca
			echo "$line => ${COMPREPLY[*]}"
		    done' sh "$comp" "$@" 2>&1
	}
	out=$(bash -c '. /usr/share/bash-completion/bash_completion && . "$1"' \
	    sh "$comp" 2>&1)
	expect_eq "$out" "" "sourcing the completion" || return
	run_cmd "$DEST$BINDIR/eca" --help
	cmds=$(printf '%s\n' "$OUT" | sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p')
	[ -n "$cmds" ] || { fail "no commands in eca --help"; return; }
	local -a lines=("eca ap" "eca -f x.conf enroll --pre"
	    "eca health-check --fmt f")
	for c in $cmds; do
		lines+=("eca $c")
	done
	out=$(complete_lines "${lines[@]}")
	for want in "eca ap => approve" \
	    "eca -f x.conf enroll --pre => --precheck" \
	    "eca health-check --fmt f => failures_only"; do
		printf '%s\n' "$out" | grep -qFx -- "$want" ||
		    { fail "completion: expected '$want', got: $(_it_short "$out")"; return; }
	done
	# Every command of `eca --help` is among its own completions.
	for c in $cmds; do
		printf '%s\n' "$out" | grep -qE -- "^eca $c => (.* )?$c( |\$)" ||
		    { fail "'eca $c' does not complete to '$c': $(_it_short "$(printf '%s\n' "$out" | grep -F "eca $c =>")")"; return; }
	done
}

# ecad -d under a NOTIFY_SOCKET: READY=1 once serving, RELOADING=1 with
# MONOTONIC_USEC and READY=1 around SIGHUP, STOPPING=1 on SIGTERM; its log
# lines carry no C function names.
c_notify() {
	local d sock log pid port i
	need_install || return
	if ! grep -q 'ECA_HAVE_SYSTEMD 1' "$BUILD/eca-config.h" 2>/dev/null; then
		skipped "ecad built without libsystemd (-Dsystemd=disabled)"
		return
	fi
	make_host ntf.it.test --conf "SERVER = nowhere.it.test 127.0.0.1:9" || return
	d=$(host_dir ntf.it.test)
	port=$(free_port) || { fail "no free port"; return; }
	set_conf "$d/eca.conf" LISTEN "127.0.0.1:$port"
	mkdir -p "$d/state" && chmod 700 "$d/state"
	sock=$d/notify.sock
	log=$d/notify.log
	: >"$log"
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
with open(sys.argv[2], "a") as f:
    while True:
        try:
            m = s.recv(4096).decode()
        except socket.timeout:
            break
        f.write(m.replace("\n", " ") + "\n")
        f.flush()
        if "STOPPING=1" in m:
            break
' "$sock" "$log" &
	IT_PIDS+=("$!")
	for ((i = 0; i < 50; i++)); do
		[ -S "$sock" ] && break
		sleep 0.1
	done
	NOTIFY_SOCKET=$sock "$DEST$SBINDIR/ecad" -d -f "$d/eca.conf" \
	    2>"$d/ecad.log" &
	pid=$!
	IT_PIDS+=("$pid")
	wait_log "$log" '^READY=1' 15 || return
	kill -HUP "$pid"
	wait_log "$log" '^RELOADING=1 MONOTONIC_USEC=[0-9]+' 10 || return
	wait_log "$d/ecad.log" 'configuration reloaded' 10 || return
	wait_log "$log" '^READY=1' 10 2 || return
	kill -TERM "$pid"
	wait_log "$log" '^STOPPING=1' 10 || return
	if grep -E ' (info|warn|error): [a-z]+_[a-z_]+: ' "$d/ecad.log"; then
		fail "log lines name C functions: $(_it_short "$(grep -E ' (info|warn|error): [a-z]+_[a-z_]+: ' "$d/ecad.log")")"
	fi
}

# ecad -j logs to the journal: an enrollment decision carries HOST,
# FINGERPRINT, REASON and PRIMARY as fields.  ecad runs in its own mount
# namespace with a tmpfs on /run/systemd and this test's socket as
# /run/systemd/journal/socket, so no real journal is touched.
c_journal() {
	local j wrapper line fp want i
	need_install || return
	if ! grep -q 'ECA_HAVE_SYSTEMD 1' "$BUILD/eca-config.h" 2>/dev/null; then
		skipped "ecad built without libsystemd (-Dsystemd=disabled)"
		return
	fi
	if [ "$(id -u)" != 0 ] || [ ! -d /run/systemd ] ||
	    ! command -v unshare >/dev/null; then
		skipped "needs root, unshare and /run/systemd for a private journal socket"
		return
	fi
	# In a chroot whose / is no mount point (a fresh debootstrap root),
	# unshare cannot make the new namespace's mounts private.
	if ! unshare -m true 2>/dev/null; then
		skipped "needs a private mount namespace (unshare -m fails here: $(unshare -m true 2>&1 | head -1))"
		return
	fi
	j=$T/journal
	mkdir -p "$j"
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1] + "/socket")
s.settimeout(120)
with open(sys.argv[1] + "/entries", "a") as f:
    while True:
        try:
            m = s.recv(65536).decode(errors="replace")
        except socket.timeout:
            break
        f.write(m.strip("\n").replace("\n", "\t") + "\n")
        f.flush()
' "$j" &
	IT_PIDS+=("$!")
	wrapper=$T/ecad-journal
	cat >"$wrapper" <<-WRAP
	#!/bin/sh
	exec unshare -m sh -c 'mount -t tmpfs tmpfs /run/systemd &&
	    mkdir /run/systemd/journal &&
	    mount --bind "\$0" /run/systemd/journal && exec "\$@"' \\
	    "$j" "$DEST$SBINDIR/ecad" -j "\$@"
	WRAP
	chmod 755 "$wrapper"
	for ((i = 0; i < 50; i++)); do
		[ -S "$j/socket" ] && break
		sleep 0.1
	done
	local ECAD=$wrapper
	start_primary jp.it.test || return
	make_host jh.it.test --server jp.it.test || return
	host_eca jh.it.test enroll
	expect_rc 0 || return
	fp=$(cert_fp "$(host_dir jh.it.test)/cert.pem")
	wait_log "$j/entries" "HOST=jh.it.test" 10 || return
	# One entry per line, its fields separated by tabs.
	line=$(grep "HOST=jh.it.test" "$j/entries" | grep 'REASON=ENROLLED' |
	    head -1 | tr '\t' '\n')
	for want in "HOST=jh.it.test" "FINGERPRINT=$fp" "REASON=ENROLLED" \
	    "PRIMARY=jp.it.test" "PRIORITY=6" "SYSLOG_IDENTIFIER=ecad"; do
		printf '%s\n' "$line" | grep -qFx -- "$want" ||
		    { fail "no $want in the journal entry: $(_it_short "$line")"; return; }
	done
	expect_match "$line" "^MESSAGE=POST /v1/enrollments: ENROLLED " \
	    "the journal entry's MESSAGE"
}

run_case "meson install puts the programs, config template, unit, sysusers, tmpfiles, man pages, completion and libeca in DESTDIR with their modes" c_install
run_case "the installed ecad -V and eca --version print the meson version; ecad -h prints usage" c_versions
run_case "eca(1), ecad(8) and eca.conf(5) pass mandoc -T lint and render with man -l without warnings" c_man
run_case "ecad.service passes systemd-analyze verify and its security exposure is at most 2.0" c_unit
run_case "the unit, sysusers.d, tmpfiles.d, the template and ecad's defaults agree on user and paths" c_paths_agree
run_case "the template lists every key with its default, eca.conf(5) describes every key, and ecad -t accepts the template with a host's identity" c_template
run_case "bash completion sources cleanly and completes eca ap to approve and every command" c_completion
run_case "ecad tells systemd READY, RELOADING and STOPPING, and logs without function names" c_notify
run_case "ecad -j logs an enrollment to the journal with HOST, FINGERPRINT, REASON and PRIMARY fields" c_journal
