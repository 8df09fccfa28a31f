#!/bin/bash
# SPDX-License-Identifier: ISC
# Least privilege (docs/privilege.md): ecad started as root with USER set
# binds its ports (one of them below 1024) and reads its keys as root,
# then runs as USER: every thread's real, effective, saved and file-system
# uid and gid are USER's, its only supplementary group is USER's group, it
# holds no capability and cannot gain any (NoNewPrivs), the files it
# creates belong to USER with private modes, it still serves, and SIGHUP
# reloads (when USER may read the credentials) or keeps the running
# configuration (when it may not).  Without USER, ecad started as root says
# loudly that it keeps root.
#
# Needs root (CI runs as root) and useradd/userdel: a throwaway system user
# is made and removed.  Otherwise every case says why it is skipped.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

P=privilege.it.test
H=h1.privilege.it.test
U=ecait$$
U_MADE=0
# The primary's files live outside the run's directory, which mktemp made
# 0700 for root: USER must be able to reach STATE_DIR by its path.
PD=""

_priv_finish() {
	local rc=$?
	stop_all
	[ -z "$PD" ] || rm -rf "$PD"
	if [ $U_MADE = 1 ]; then
		userdel "$U" 2>/dev/null
	fi
	(exit $rc)
	_it_finish
}
trap _priv_finish EXIT

SKIP=""
if [ "$(id -u)" != 0 ]; then
	SKIP="not running as root (uid $(id -u)): ecad cannot drop privileges; run the tests as root to check it"
elif ! command -v useradd >/dev/null || ! command -v userdel >/dev/null; then
	SKIP="useradd/userdel are missing: cannot make a throwaway user"
fi

# low_port: a free TCP port below 1024 on 127.0.0.1 (only root binds it).
low_port() {
	local p i
	for ((i = 0; i < 100; i++)); do
		p=$((600 + RANDOM % 400))
		[ -z "$(ss -Htan "( sport = :$p )" 2>/dev/null)" ] || continue
		(set -o noclobber; : >"$ECA_IT_RUN/.port.$p") 2>/dev/null || continue
		echo "$p"
		return 0
	done
	return 1
}

# status_field PID FIELD: the value of FIELD in /proc/PID/status.
status_field() {
	awk -v f="$2:" '$1 == f { $1 = ""; sub(/^[ \t]+/, ""); print }' \
	    "/proc/$1/status"
}

ecad_pid() {
	echo "${P_PID[$P]}"
}

c_setup() {
	local lport pport
	useradd --system --no-create-home --home-dir /nonexistent \
	    --shell /usr/sbin/nologin --user-group "$U" 2>"$T/useradd.err" ||
	    { fail "useradd $U failed: $(cat "$T/useradd.err")"; return; }
	U_MADE=1
	UID_U=$(id -u "$U")
	GID_U=$(id -g "$U")
	PD=$(mktemp -d /tmp/eca-priv.XXXXXX) || { fail "mktemp"; return; }
	chmod 711 "$PD"
	lport=$(low_port) || { fail "no free port below 1024"; return; }
	pport=$(free_port) || return
	make_primary "$P" "USER = $U" "LISTEN = 127.0.0.1:$pport" || return
	P_PORT[$P]=$lport
	sed -i -e "s|^API_LISTEN = .*|API_LISTEN = 127.0.0.1:$lport|" \
	    -e "s|${P_DIR[$P]}/state|$PD/state|g" "${P_CONF[$P]}"
	P_DIR[$P]=$PD
	# The credentials, as an installation would have them: root's, 0600.
	cp "$T/$P/cert.pem" "$T/$P/key.pem" "$CA/trust.pem" "$PD/"
	chmod 600 "$PD/key.pem"
	chmod 644 "$PD/cert.pem" "$PD/trust.pem"
	sed -i -e "s|^ECA_CERT_PATH = .*|ECA_CERT_PATH = $PD/cert.pem|" \
	    -e "s|^ECA_TRUST_STORE_PATH = .*|ECA_TRUST_STORE_PATH = $PD/trust.pem|" \
	    -e "s|^ECA_PRIVATE_KEY_PATH = .*|ECA_PRIVATE_KEY_PATH = $PD/key.pem|" \
	    "${P_CONF[$P]}"
	# And its configuration, readable by USER (SIGHUP reads it again).
	mv "${P_CONF[$P]}" "$PD/eca.conf"
	chmod 644 "$PD/eca.conf"
	P_CONF[$P]=$PD/eca.conf
	start_primary "$P" || return
	expect_match "$(cat "$PD/ecad.log")" "running as $U \\(uid $UID_U\\)" "ecad's log"
}

c_ids() {
	local pid t w
	pid=$(ecad_pid)
	for t in /proc/"$pid"/task/*; do
		t=${t##*/}
		w="thread $t:"
		expect_eq "$(awk '$1 == "Uid:" { print $2, $3, $4, $5 }' "/proc/$pid/task/$t/status")" \
		    "$UID_U $UID_U $UID_U $UID_U" "$w real, effective, saved and fs uid" || return
		expect_eq "$(awk '$1 == "Gid:" { print $2, $3, $4, $5 }' "/proc/$pid/task/$t/status")" \
		    "$GID_U $GID_U $GID_U $GID_U" "$w real, effective, saved and fs gid" || return
		expect_eq "$(awk '$1 == "Groups:" { $1 = ""; sub(/^ */, ""); print }' "/proc/$pid/task/$t/status")" \
		    "$GID_U" "$w supplementary groups" || return
	done
	expect_match "$(ls /proc/"$pid"/task | wc -l)" '^([2-9]|[1-9][0-9]+)$' "the number of threads checked"
}

c_caps() {
	local pid f
	pid=$(ecad_pid)
	for f in CapInh CapPrm CapEff CapAmb; do
		expect_eq "$(status_field "$pid" $f)" 0000000000000000 "$f" || return
	done
	expect_eq "$(status_field "$pid" NoNewPrivs)" 1 "NoNewPrivs (no exec can give privileges back)"
}

c_files() {
	local f bad=""
	# Something to write: an enrollment (registry, WAL, audit journal).
	make_host "$H" --server "$P" || return
	host_eca "$H" enroll
	expect_rc 0 || return
	[ -s "$PD/state/audit.jsonl" ] || { fail "no audit journal was written in $PD/state"; return; }
	expect_eq "$(stat -c '%U %a' "$PD/state")" "$U 700" "STATE_DIR's owner and mode" || return
	while IFS= read -r f; do
		bad="$bad $(stat -c '%n %U:%G %a' "$f")"
	done < <(find "$PD/state" -mindepth 1 \( ! -user "$U" -o -perm /022 \) -print)
	expect_eq "$bad" "" "files in STATE_DIR not owned by $U or writable by others" || return
	while IFS= read -r f; do
		bad="$bad $(stat -c '%n %a' "$f")"
	done < <(find "$PD/state" -mindepth 1 -type f ! -name '*.pid' ! -name '*.jsonl' -perm /077 -print)
	expect_eq "$bad" "" "registry and cache files readable by group or others" || return
	expect_eq "$(stat -c %a "$PD/state/audit.jsonl")" 640 "the audit journal's mode" || return
	# Nothing outside STATE_DIR changed owner.
	expect_eq "$(stat -c %U "$PD/key.pem")" root "the key's owner (ecad must not give it away)"
}

c_serves() {
	primary_eca "$P" --json status
	expect_rc 0 || return
	primary_curl "$P" "$H" GET "/v1/enrollments/$H"
	expect_http 200
}

c_sighup_unreadable() {
	local pid
	pid=$(ecad_pid)
	kill -HUP "$pid"
	for ((i = 0; i < 50; i++)); do
		grep -q 'reload failed' "$PD/ecad.log" && break
		sleep 0.1
	done
	expect_match "$(grep 'reload failed' "$PD/ecad.log")" "key.pem" \
	    "the reload failure names the key $U may not read" || return
	kill -0 "$pid" 2>/dev/null || { fail "ecad exited after SIGHUP"; return; }
	c_serves
}

c_sighup_reloads() {
	local pid n
	pid=$(ecad_pid)
	chown "$U:$U" "$PD/key.pem" "$PD/cert.pem"
	n=$(grep -c 'configuration reloaded' "$PD/ecad.log")
	kill -HUP "$pid"
	for ((i = 0; i < 50; i++)); do
		[ "$(grep -c 'configuration reloaded' "$PD/ecad.log")" -gt "$n" ] && break
		sleep 0.1
	done
	[ "$(grep -c 'configuration reloaded' "$PD/ecad.log")" -gt "$n" ] ||
	    { fail "no 'configuration reloaded' after SIGHUP: $(tail -3 "$PD/ecad.log" | tr '\n' ' ')"; return; }
	expect_eq "$(awk '$1 == "Uid:" { print $3 }' "/proc/$pid/status")" "$UID_U" "euid after the reload" || return
	c_serves
}

c_sigterm_cleans() {
	stop_primary "$P" TERM
	expect_eq "$STOP_RC" 0 "ecad's exit status after SIGTERM" || return
	[ ! -e "$PD/state/ecad.pid" ] || { fail "the pid file is left after SIGTERM (USER could not remove it)"; return; }
	expect_eq "$(grep 'error:' "$PD/ecad.log" | grep -vc 'reload failed')" 0 \
	    "errors in ecad's log besides the expected reload failure"
}

c_root_without_user_warns() {
	stop_primary "$P"
	sed -i "/^USER = /d" "${P_CONF[$P]}"
	chown -R root:root "$PD/state" "$PD/key.pem" "$PD/cert.pem"
	start_primary "$P" || return
	expect_match "$(grep 'warn' "$PD/ecad.log")" "running as root: set USER" "the warning" || return
	expect_eq "$(awk '$1 == "Uid:" { print $3 }' "/proc/$(ecad_pid)/status")" 0 "euid without USER"
}

c_unknown_user_refused() {
	stop_primary "$P"
	echo "USER = nosuchuser$$" >>"${P_CONF[$P]}"
	expect_exit 1 "$ECAD" -d -f "${P_CONF[$P]}" || return
	expect_match "$ERR" "USER nosuchuser$$ does not exist" "ecad's message"
}

if [ -n "$SKIP" ]; then
	tcase "ecad started as root drops to USER (SKIPPED: $SKIP)"
	echo "# SKIP t_privilege: $SKIP"
	pass
	exit 0
fi

run_case "ecad started as root with USER binds a port below 1024 and says it runs as USER" c_setup
[ "$IT_FAILED" = 0 ] || exit 1
run_case "every thread of ecad has USER's real, effective, saved and fs uid and gid and only USER's group" c_ids
run_case "ecad holds no capability and cannot regain any (NoNewPrivs)" c_caps
run_case "the files ecad creates belong to USER with private modes and the key stays root's" c_files
run_case "ecad serves the API and the control socket after dropping privileges" c_serves
run_case "SIGHUP when USER cannot read the key keeps the running configuration and ecad keeps serving" c_sighup_unreadable
run_case "SIGHUP when USER can read the credentials reloads them and ecad stays USER" c_sighup_reloads
run_case "SIGTERM after the drop exits 0 and removes the pid file" c_sigterm_cleans
run_case "ecad started as root without USER warns that it keeps root" c_root_without_user_warns
run_case "an unknown USER is refused at start-up" c_unknown_user_refused
