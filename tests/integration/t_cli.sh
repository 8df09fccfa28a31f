#!/bin/bash
# SPDX-License-Identifier: ISC
# The command line as administrators type it: --json-compact, --no-headers,
# the NetBackup spellings and numbers, and the errors that must say what is
# wrong (no configuration file, administration without the rights).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

P1=primary1.it.test
P2=primary2.it.test
H=host1.it.test

c_setup() {
	start_primary "$P1" || return
	start_primary "$P2" || return
	make_host $H --server "$P1" --server "$P2" || return
	host_eca $H enroll
	expect_rc 0 || return
	host_eca $H enroll --server "$P2"
	expect_rc 0 || return
	pass
}

# --- output options: the bad cases first -----------------------------------

c_usage_error_compact() {
	host_eca $H --json-compact no-such-command
	expect_rc 2 || return
	expect_eq "$(printf '%s\n' "$OUT" | wc -l)" 1 "lines of the JSON error" || return
	expect_json .error.code USAGE || return
	expect_match "$ERR" "unknown command 'no-such-command'" "stderr" || return
	pass
}

c_json_compact_is_one_line_of_the_same_json() {
	local full
	host_eca $H --json status
	expect_rc 0 || return
	full=$(printf '%s' "$OUT" | jq -S -c 'del(.servers[].roster)') || { fail "--json is not JSON"; return; }
	host_eca $H --json-compact status
	expect_rc 0 || return
	expect_eq "$(printf '%s\n' "$OUT" | wc -l)" 1 "lines of --json-compact" || return
	expect_eq "$(printf '%s' "$OUT" | jq -S -c 'del(.servers[].roster)')" "$full" \
	    "--json-compact's content" || return
	# The NetBackup spelling, after the command word.
	host_eca $H -listEnrollmentStatus -json_compact
	expect_rc 0 || return
	expect_eq "$(printf '%s\n' "$OUT" | wc -l)" 1 "lines of -json_compact" || return
	expect_json '.servers | length' 2 || return
	pass
}

c_no_headers() {
	host_eca $H status
	expect_rc 0 || return
	expect_match "$(printf '%s\n' "$OUT" | head -1)" '^SERVER +STATUS' "the table's first line" || return
	host_eca $H status --no-headers
	expect_rc 0 || return
	expect_eq "$(printf '%s\n' "$OUT" | wc -l)" 2 "rows without the header" || return
	expect_match "$(printf '%s\n' "$OUT" | head -1)" "^$P1 +ENROLLED" "the first row" || return
	primary_eca "$P1" --no-headers list
	expect_rc 0 || return
	if printf '%s' "$OUT" | grep -q '^HOST'; then
		fail "eca --no-headers list printed its header: $(_it_short "$OUT")"
		return
	fi
	expect_match "$OUT" "^$H " "eca --no-headers list" || return
	pass
}

# --- NetBackup spellings ------------------------------------------------------

c_list_status_of_an_unknown_server() {
	host_eca $H -listEnrollmentStatus -server nosuch.it.test
	expect_rc 3 || return
	expect_match "$ERR" "no SERVER named nosuch.it.test" "stderr" || return
	pass
}

c_list_status_of_one_server() {
	host_eca $H --json -listEnrollmentStatus -server "$P2"
	expect_rc 0 || return
	expect_json '.servers | length' 1 || return
	expect_json '.servers[0].server' "$P2" || return
	expect_json '.servers[0].status' ENROLLED || return
	host_eca $H status --server "$P1"
	expect_rc 0 || return
	if printf '%s' "$OUT" | grep -q "$P2"; then
		fail "status --server $P1 shows $P2 too"
		return
	fi
	pass
}

c_crl_numbers_and_refresh_zero() {
	local conf
	conf=$(host_dir $H)/eca.conf
	set_conf "$conf" ECA_CRL_CHECK 3
	host_eca $H health-check
	expect_rc 1 || return
	expect_match "$ERR" "ECA_CRL_CHECK: '3' is not one of DISABLE, LEAF, CHAIN" "stderr" || return
	set_conf "$conf" ECA_CRL_CHECK 0
	set_conf "$conf" ECA_CRL_REFRESH_HOURS 0
	host_eca $H --json health-check
	expect_json '.checks[] | select(.id == "USER_INPUT_CRL_CONFIG_VALIDATION") | .detail' \
	    "ECA_CRL_CHECK = DISABLE: peers' certificates are not checked for revocation (set LEAF or CHAIN to check them)" || return
	set_conf "$conf" ECA_CRL_CHECK 1
	host_eca $H --json health-check
	expect_json '.checks[] | select(.id == "USER_INPUT_CRL_CONFIG_VALIDATION") | .status' PASS || return
	expect_match "$OUT" "ECA_CRL_CHECK = LEAF; .*never refreshed periodically" "the CRL check's detail" || return
	set_conf "$conf" ECA_CRL_CHECK DISABLE
	set_conf "$conf" ECA_CRL_REFRESH_HOURS ""
	pass
}

# --- -ecaHealthCheck with files not yet configured -----------------------------

c_health_check_bad_level_is_a_usage_error() {
	host_eca $H -ecaHealthCheck -crlCheckLevel FULL
	expect_rc 2 || return
	expect_match "$ERR" "--crl-check-level: ECA_CRL_CHECK: 'FULL' is not one of DISABLE, LEAF, CHAIN" "stderr" || return
	pass
}

c_health_check_of_a_missing_file_names_it() {
	host_eca $H -ecaHealthCheck -certPath "$T/missing.pem"
	expect_rc 1 || return
	expect_match "$OUT" "^FAIL .*$T/missing.pem" "the report" || return
	pass
}

c_health_check_of_staged_files() {
	local d=$T/staged conf before
	conf=$(host_dir $H)/eca.conf
	before=$(sha256sum <"$conf")
	mkdir -p "$d"
	"$MKCA" leaf "$CA" "$H" --out "$d/new" >"$d/mkca.log" 2>&1 ||
	    { fail "mkca.sh leaf failed: $(cat "$d/mkca.log")"; return; }
	# The new certificate with the configured (old) key: they do not match.
	host_eca $H -ecaHealthCheck -certPath "$d/new.pem"
	expect_rc 1 || return
	expect_match "$OUT" "^FAIL " "the report with a mismatched key" || return
	# Both new files, as long options, and the CRL level: every check passes.
	host_eca $H --json health-check --cert-path "$d/new.pem" \
	    --private-key-path "$d/new.key" --trust-store-path "$CA/trust.pem" \
	    --crl-check-level 0
	expect_rc 0 || return
	expect_json .passed true || return
	expect_match "$OUT" "ECA_CRL_CHECK = DISABLE" "the CRL check's detail" || return
	# For this run only: the configuration is untouched and still used.
	expect_eq "$(sha256sum <"$conf")" "$before" "the configuration's checksum" || return
	host_eca $H --json health-check
	expect_rc 0 || return
	expect_json .passed true || return
	pass
}

# --- clear errors -------------------------------------------------------------

c_missing_default_config() {
	run_cmd env -u ECA_CONFIG "$ECA" list
	if [ -e /etc/eca/eca.conf ]; then
		pass
		return
	fi
	expect_rc 1 || return
	expect_match "$ERR" "no configuration file: /etc/eca/eca.conf does not exist \(the default; give another with -f FILE or ECA_CONFIG=FILE\)" "stderr" || return
	run_cmd env ECA_CONFIG="$T/nowhere.conf" "$ECA" list
	expect_rc 1 || return
	expect_match "$ERR" "$T/nowhere.conf \(from ECA_CONFIG\) does not exist" "stderr" || return
	# Named with -f: the path given is what is wrong.
	run_cmd "$ECA" -f "$T/nowhere.conf" list
	expect_rc 1 || return
	expect_match "$ERR" "check the path given with -f" "stderr" || return
	pass
}

c_list_as_an_unprivileged_user() {
	local d
	if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
		fail "needs root and setpriv to run eca as nobody"
		return
	fi
	# A copy nobody can read; the control socket stays in the 0700 run dir.
	d=$(mktemp -d "${TMPDIR:-/tmp}/eca-it-cli.XXXXXX") || return
	chmod 755 "$d"
	cp "${P_CONF[$P1]}" "$d/eca.conf"
	chmod 644 "$d/eca.conf"
	run_cmd setpriv --reuid=nobody --regid=nogroup --clear-groups "$ECA" -f "$d/eca.conf" list
	rm -f "$d/eca.conf"
	rmdir "$d"
	expect_rc 5 || return
	expect_match "$ERR" "permission denied \(administration on the primary needs root or the daemon's user" "stderr" || return
	if printf '%s' "$ERR" | grep -qi unreachable; then
		fail "the error still says unreachable: $(_it_short "$ERR")"
		return
	fi
	pass
}

run_case "a primary and a host enrolled with both" c_setup
run_case "a usage error with --json-compact is one line of JSON" c_usage_error_compact
run_case "--json-compact and -json_compact print --json's content on one line" c_json_compact_is_one_line_of_the_same_json
run_case "--no-headers leaves out the header row of status and list" c_no_headers
run_case "-listEnrollmentStatus -server with an unknown name says so, exit 3" c_list_status_of_an_unknown_server
run_case "-listEnrollmentStatus -server NAME shows that primary only" c_list_status_of_one_server
run_case "ECA_CRL_CHECK takes 0 and 1 (3 is refused); ECA_CRL_REFRESH_HOURS = 0 is no periodic refresh" c_crl_numbers_and_refresh_zero
run_case "-ecaHealthCheck -crlCheckLevel with an unknown level is a usage error" c_health_check_bad_level_is_a_usage_error
run_case "-ecaHealthCheck -certPath of a missing file fails naming it" c_health_check_of_a_missing_file_names_it
run_case "-ecaHealthCheck checks staged files in place of the configured ones, for that run only" c_health_check_of_staged_files
run_case "without -f, a missing configuration file is named with how to give another" c_missing_default_config
run_case "list as a user who is neither root nor ecad's says it needs them, not unreachable" c_list_as_an_unprivileged_user
