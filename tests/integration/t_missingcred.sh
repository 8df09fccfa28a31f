#!/bin/bash
# SPDX-License-Identifier: ISC
# A missing credential (certificate, key, trust store) is reported exactly
# once, with its remedy, by every program that needs it: eca's commands,
# `eca health-check`, `ecad -t`, `ecad -d` at start and on SIGHUP.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

H=mc.it.test

conf() {
	echo "$(host_dir $H)/eca.conf"
}

# count TEXT NEEDLE: how many lines of TEXT contain NEEDLE (fixed string).
count() {
	local n
	n=$(grep -cF -- "$2" <<<"$1") || true
	echo "${n:-0}"
}

# once WHAT TEXT NEEDLE REMEDY: NEEDLE is on exactly one line of TEXT, and
# that line carries the remedy.
once() {
	expect_eq "$(count "$2" "$3")" 1 "lines of $1 naming $3" || return
	expect_match "$(grep -F -- "$3" <<<"$2")" "$4" "the remedy in $1"
}

c_setup() {
	make_host $H || return
	set_conf "$(conf)" SERVER "p1.mc.it.test 127.0.0.1:$(free_port)" || return
	set_conf "$(conf)" ECA_CERT_PATH "$(host_dir $H)/missing.pem" || return
	mkdir -p "$(host_dir $H)/state"
	pass
}

c_eca_commands_report_the_certificate_once() {
	local c missing
	missing="$(host_dir $H)/missing.pem"
	for c in enroll status unenroll "ping other.mc.it.test" health; do
		# shellcheck disable=SC2086
		host_eca $H $c
		# health: 3 is UNKNOWN for monitoring plugins.
		if [ "$c" = health ]; then expect_rc 3; else expect_rc 1; fi || return
		expect_eq "$OUT" "" "stdout of eca $c" || return
		once "eca $c" "$ERR" "$missing" "check the path" || return
		expect_eq "$(wc -l <<<"$ERR")" 1 "lines of eca $c on stderr" || return
	done
	# --json: once on stderr, once as the JSON error (documented: both).
	host_eca $H --json enroll
	expect_rc 1 || return
	once "eca --json enroll's stderr" "$ERR" "$missing" "check the path" || return
	expect_json .error.code UNREADABLE || return
	expect_eq "$(count "$OUT" "$missing")" 1 "JSON lines naming the file"
}

c_health_check_reports_it_once() {
	local missing
	missing="$(host_dir $H)/missing.pem"
	host_eca $H health-check
	expect_rc 1 || return
	expect_eq "$ERR" "" "stderr of health-check" || return
	once "health-check" "$OUT" "$missing" "check the path" || return
	expect_eq "$(count "$OUT" "FAIL")" 1 "failed checks" || return
	host_eca $H --json health-check
	expect_rc 1 || return
	expect_json '[.checks[] | select(.detail | contains("missing.pem"))] | length' 1
}

c_ecad_reports_it_once() {
	local missing opt
	missing="$(host_dir $H)/missing.pem"
	for opt in -t -d; do
		run_cmd "$ECAD" "$opt" -f "$(conf)"
		expect_rc 1 || return
		once "ecad $opt" "$ERR$OUT" "$missing" "check the path" || return
	done
}

c_missing_key_and_trust_store_once_each() {
	local d
	d=$(host_dir $H)
	set_conf "$(conf)" ECA_CERT_PATH "$d/cert.pem" || return
	set_conf "$(conf)" ECA_PRIVATE_KEY_PATH "$d/missing.key" || return
	host_eca $H enroll
	expect_rc 1 || return
	once "eca enroll" "$ERR" "$d/missing.key" "check the path" || return
	run_cmd "$ECAD" -d -f "$(conf)"
	once "ecad -d" "$ERR" "$d/missing.key" "check the path" || return
	set_conf "$(conf)" ECA_PRIVATE_KEY_PATH "$d/key.pem" || return
	set_conf "$(conf)" ECA_TRUST_STORE_PATH "$d/missing-ca.pem" || return
	host_eca $H enroll
	expect_rc 1 || return
	once "eca enroll" "$ERR" "$d/missing-ca.pem" "check ECA_TRUST_STORE_PATH" || return
	run_cmd "$ECAD" -t -f "$(conf)"
	once "ecad -t" "$ERR" "$d/missing-ca.pem" "check ECA_TRUST_STORE_PATH" || return
	host_eca $H health-check
	once "health-check" "$OUT" "$d/missing-ca.pem" "ECA_TRUST_STORE_PATH" || return
	set_conf "$(conf)" ECA_TRUST_STORE_PATH "$CA/trust.pem"
}

c_running_ecad_reports_it_once_per_reload() {
	local d log from i
	d=$(host_dir $H)
	set_conf "$(conf)" ROLE media || return
	set_conf "$(conf)" LISTEN "127.0.0.1:$(free_port)" || return
	start_host $H || return
	log=$d/ecad.log
	mv "$d/cert.pem" "$d/cert.gone" || return
	from=$(log_lines "$log")
	kill -HUP "${H_PID[$H]}"
	wait_log "$log" "reload failed" 10 "$from" || return
	kill -HUP "${H_PID[$H]}"
	for ((i = 0; i < 100; i++)); do
		[ "$(tail -n +"$((from + 1))" "$log" | grep -c "reload failed")" -ge 2 ] && break
		sleep 0.1
	done
	expect_eq "$(tail -n +"$((from + 1))" "$log" | grep -cF "$d/cert.pem")" 2 \
	    "lines naming the missing file after two SIGHUPs" || return
	mv "$d/cert.gone" "$d/cert.pem"
	stop_host $H
}

run_case "a host whose certificate file is missing" c_setup
run_case "eca's commands report the missing certificate once, with its remedy" c_eca_commands_report_the_certificate_once
run_case "eca health-check reports the missing certificate once" c_health_check_reports_it_once
run_case "ecad -t and ecad -d report the missing certificate once" c_ecad_reports_it_once
run_case "a missing key and a missing trust store are reported once each" c_missing_key_and_trust_store_once_each
run_case "a running ecad reports a vanished certificate once per SIGHUP" c_running_ecad_reports_it_once_per_reload
