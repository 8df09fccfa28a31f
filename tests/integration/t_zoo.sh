#!/bin/bash
# SPDX-License-Identifier: ISC
# it-timeout: 600
# The certificate zoo (zoo.sh): every case is enrolled through the real
# primary with `eca --json enroll`, and refused ones also presented
# straight to the API with curl where TLS can carry them.  A refused case
# must give its own reason code and a message naming the problem, and
# leave no registry row or history; an accepted one must be enrolled.
# Then (issue 15, one verdict everywhere) every case is judged twice
# more: by the host's own `eca health-check` and by a media server's peer
# listener over a channel (`eca ping`), and the three verdicts and reason
# codes must agree.  Ends with a table case -> expected -> seen.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

P=primary1.it.test
PL=zoocrl-leaf.it.test
PC=zoocrl-chain.it.test
PP=zoopartial.it.test
M=zoo-media.it.test
G=zoo-good.it.test
Z=$T/zoo
declare -A SEEN=() DSEEN=() HSEEN=() CSEEN=()
M_PORT=""
declare -a ORDER=()

c_setup() {
	bash "$IT_DIR/zoo.sh" "$CA" "$Z" >"$T/zoo.log" 2>&1 ||
	    { fail "zoo.sh failed: $(tail -3 "$T/zoo.log")"; return; }
	make_primary "$P" || { fail "cannot make the primary"; return; }
	# The zoo primary trusts the root and the intermediate, so that a
	# lone DER leaf can be verified (the derleaf case).
	sed -i "s|^ECA_TRUST_STORE_PATH = .*|ECA_TRUST_STORE_PATH = $Z/ca-trust.pem|" \
	    "${P_CONF[$P]}"
	start_primary "$P" || return
	# The revocation cases' primaries: ECA_CRL_CHECK = LEAF and CHAIN
	# with the zoo's CRLs (ZOO-CRL-CASES in zoo.sh).
	local p lvl
	for p in "$PL" "$PC"; do
		lvl=LEAF
		[ "$p" = "$PC" ] && lvl=CHAIN
		make_primary "$p" "ECA_CRL_PATH = $Z/crls" ||
		    { fail "cannot make $p"; return; }
		sed -i -e "s|^ECA_CRL_CHECK = DISABLE|ECA_CRL_CHECK = $lvl|" \
		    -e "s|^ECA_TRUST_STORE_PATH = .*|ECA_TRUST_STORE_PATH = $Z/crl-trust.pem|" \
		    "${P_CONF[$p]}"
		start_primary "$p" || return
	done
	# The partial primary: an issuing CA alone, ECA_TRUST_PARTIAL_CHAIN.
	make_primary "$PP" "ECA_TRUST_PARTIAL_CHAIN = YES" ||
	    { fail "cannot make $PP"; return; }
	sed -i "s|^ECA_TRUST_STORE_PATH = .*|ECA_TRUST_STORE_PATH = $Z/partial-trust.pem|" \
	    "${P_CONF[$PP]}"
	start_primary "$PP" || return
	# The media server that judges every case over a channel: in P's
	# domain, trusting what P trusts.  A good host's roster (which lists
	# the media server) seeds each case host, so that the case host
	# reaches the media server's verdict without asking the primary.
	M_PORT=$(free_port) || { fail "no port"; return; }
	make_host "$M" --server "$P" --trust "$Z/ca-trust.pem" \
	    --conf "LISTEN = 127.0.0.1:$M_PORT" || return
	sed -i 's/^ROLE = client$/ROLE = media/' "$(host_dir "$M")/eca.conf"
	start_host "$M" || return
	host_eca "$M" enroll
	expect_rc 0 || return
	make_host "$G" --server "$P" --conf "PEER = $M 127.0.0.1:$M_PORT" || return
	mkdir -p "$(host_dir "$G")/state" && chmod 700 "$(host_dir "$G")/state"
	host_eca "$G" enroll
	expect_rc 0 || return
	host_eca "$G" --json ping "$M"
	expect_rc 0 || return
	ls "$(host_dir "$G")"/state/*roster* >/dev/null 2>&1 ||
	    { fail "the good host kept no roster"; return; }
	cat >"$T/lowsec.cnf" <<-'EOF'
	openssl_conf = openssl_init
	[openssl_init]
	ssl_conf = ssl_sect
	[ssl_sect]
	system_default = system_default_sect
	[system_default_sect]
	CipherString = DEFAULT:@SECLEVEL=0
	EOF
	local n
	n=$(wc -l <"$Z/cases.tsv")
	[ "$n" -ge 60 ] || fail "the zoo has $n cases, expected at least 60"
}

# case_primary EXTRA: the primary a case enrolls with.
case_primary() {
	case " $1 " in
	*" crlleaf "*) echo "$PL" ;;
	*" crlchain "*) echo "$PC" ;;
	*" partial "*) echo "$PP" ;;
	*) echo "$P" ;;
	esac
}

# zoo_conf CASE HOST EXTRA: the host's eca.conf for the case.
zoo_conf() {
	local c=$1 h=$2 extra=$3 d=$Z/$1 trust=$CA/trust.pem p
	p=$(case_primary "$extra")
	case " $extra " in *" trust "*) trust=$Z/ca-trust.pem ;; esac
	[ -f "$d/trust" ] && trust=$d/trust
	{
		echo "CLIENT_NAME = $h"
		echo "ROLE = client"
		echo "SERVER = $p 127.0.0.1:${P_PORT[$p]}"
		echo "STATE_DIR = $d/state"
		echo "ECA_CERT_PATH = $d/cert"
		echo "ECA_PRIVATE_KEY_PATH = $d/key"
		echo "ECA_TRUST_STORE_PATH = $trust"
		echo "ECA_CRL_CHECK = DISABLE"
		# Enrolled by hand here; the channel must not enroll it.
		echo "ECA_DISABLE_AUTO_ENROLLMENT = YES"
		echo "PEER = $M 127.0.0.1:$M_PORT"
		case " $extra " in *" partial "*)
			echo "ECA_TRUST_PARTIAL_CHAIN = YES" ;;
		esac
		case " $extra " in
		*" pass "*) echo "ECA_KEY_PASSPHRASEFILE = $d/pass" ;;
		*" missingpass "*) echo "ECA_KEY_PASSPHRASEFILE = $d/no-such-pass" ;;
		esac
	} >"$d/eca.conf"
}

# no_rows HOST [PRIMARY]
no_rows() {
	expect_db "SELECT count(*) FROM enrollments WHERE host='$1'" 0 "${2:-$P}" || return
	expect_db "SELECT count(*) FROM history WHERE host='$1'" 0 "${2:-$P}"
}

# The primary's own verdict with curl (no client-side checks): only for
# PEM chains with an unencrypted key, the reasons the primary gives.
direct() {
	local c=$1 h=$2 want=$3 p=${4:-$P} d=$Z/$1 status
	case "$want" in
	EXPIRED|NOT_YET_VALID|UNTRUSTED|BAD_CERTIFICATE|BAD_KEY_USAGE|WEAK_KEY|WEAK_SIGNATURE) status=422 ;;
	IDENTITY_MISMATCH) status=403 ;;
	*) return 0 ;;
	esac
	grep -q 'BEGIN CERTIFICATE' "$d/cert" 2>/dev/null || return 0
	grep -q 'ENCRYPTED' "$d/key" 2>/dev/null && return 0
	# TLS can only present a first certificate that the key belongs to.
	[ "$(openssl x509 -in "$d/cert" -noout -pubkey 2>/dev/null)" = \
	    "$(openssl pkey -in "$d/key" -pubout 2>/dev/null)" ] || return 0
	OPENSSL_CONF=$T/lowsec.cnf run_cmd curl -sS --max-time 15 \
	    -o "$T/.body" -w '%{http_code}' --cacert "$CA/trust.pem" \
	    --resolve "$p:${P_PORT[$p]}:127.0.0.1" --cert "$d/cert" \
	    --key "$d/key" -X POST -H 'Content-Type: application/json' \
	    --data "{\"host\":\"$h\",\"precheck\":false,\"force\":false}" \
	    "https://$p:${P_PORT[$p]}/v1/enrollments"
	HTTP=$OUT
	OUT=$(cat "$T/.body" 2>/dev/null)
	DSEEN[$c]="$HTTP $(printf '%s' "$OUT" | jq -r '.error.code // "-"' 2>/dev/null)"
	expect_http "$status" || return
	expect_json .error.code "$want" || return
	no_rows "$h" "$p"
}

# One case: CASE HOST EXPECTED PHRASE EXTRA.
zoo_case() {
	local c=$1 h=$2 want=$3 phrase=$4 extra=$5 got msg p
	p=$(case_primary "$extra")
	zoo_conf "$c" "$h" "$extra"
	run_cmd "$ECA" -f "$Z/$c/eca.conf" --json enroll
	if [ "$RC" = 0 ]; then
		got=OK
	else
		got=$(printf '%s' "$OUT" | jq -r '.error.code // "?"' 2>/dev/null)
		[ -n "$got" ] || got="exit $RC"
	fi
	SEEN[$c]=$got
	if [ "$want" = OK ]; then
		expect_rc 0 || return
		expect_json .outcome ENROLLED || return
		expect_db "SELECT count(*) FROM enrollments WHERE host='$h' AND state='ENROLLED'" 1 "$p"
		return
	fi
	expect_json .error.code "$want" || return
	expect_rc "$(exit_of "$want")" || return
	if [ "$phrase" != - ]; then
		msg=$(printf '%s' "$OUT" | jq -r '.error.message')
		expect_match "$msg" "$phrase" "the $want message" || return
	fi
	no_rows "$h" "$p" || return
	direct "$c" "$h" "$want" "$p"
}

# The verdict of `eca --json health-check`: OK, or the code of the first
# failing check (the command's own exit status comes from it).
health_verdict() {
	if [ "$RC" = 0 ]; then
		echo OK
		return
	fi
	jq -r '([.checks[]? | select(.status == "FAIL")][0].code) //
	    .error.code // "exit '"$RC"'"' <<<"$OUT" 2>/dev/null || echo "?"
}

# One case judged by the host's health check and by the media server's
# peer listener (`eca ping`), both of which must agree with the
# enrollment's verdict and with the expected reason code.
agree_case() {
	local c=$1 h=$2 want=$3 d=$Z/$1 got
	run_cmd "$ECA" -f "$d/eca.conf" --json health-check
	got=$(health_verdict)
	HSEEN[$c]=$got
	expect_eq "$got" "$want" "the health check's verdict" || return
	mkdir -p "$d/state" && chmod 700 "$d/state"
	cp "$(host_dir "$G")"/state/*roster* "$d/state/" || return
	run_cmd "$ECA" -f "$d/eca.conf" --json ping "$M"
	if [ "$RC" = 0 ]; then
		got=OK
	else
		got=$(jq -r '.verdict.code // .error.code // "?"' <<<"$OUT" \
		    2>/dev/null)
		[ -n "$got" ] || got="exit $RC"
	fi
	CSEEN[$c]=$got
	expect_eq "$got" "$want" "the channel's verdict" || return
	expect_eq "${SEEN[$c]:-?}" "$want" "the enrollment's verdict"
}

# eca's exit status for a reason code (err.h).
exit_of() {
	case "$1" in
	FILE_PERMISSIONS|UNREADABLE|PARSE|PASSPHRASE) echo 1 ;;
	*) echo 5 ;;
	esac
}

run_case "the zoo is generated (at least 60 cases), its primaries and media server start" c_setup
[ "$IT_FAILED" = 0 ] || exit 1

while IFS=$'\t' read -r c h want phrase extra; do
	ORDER+=("$c")
	if [ "$want" = OK ]; then
		what="is accepted and enrolled"
	else
		what="is refused with $want and leaves no registry row"
	fi
	run_case "zoo $c: $what" zoo_case "$c" "$h" "$want" "$phrase" "$extra"
done <"$Z/cases.tsv"

# Revocation cases (revoked leaf at LEAF, revoked intermediate at CHAIN and
# accepted at LEAF, CRL expired past grace) are rows of the table above,
# enrolled with the CRL primaries: see ZOO-CRL-CASES in zoo.sh.

# One verdict everywhere: the health check and a channel agree with the
# enrollment, case by case.  Not for the revocation cases (the host's
# own ECA_CRL_CHECK decides what its health check looks at, and the
# media server checks no CRLs) nor the partial-chain ones (they enroll
# with the partial primary, whose domain has no media server).
while IFS=$'\t' read -r c h want phrase extra; do
	case " $extra " in
	*" crlleaf "*|*" crlchain "*|*" partial "*) continue ;;
	esac
	run_case "zoo $c: health check, channel and enrollment all say $want" \
	    agree_case "$c" "$h" "$want"
done <"$Z/cases.tsv"

echo "# zoo: case -> expected -> eca enroll, health-check, ping [, the API directly]"
while IFS=$'\t' read -r c h want phrase extra; do
	printf '# %-16s %-18s %-18s %-18s %-18s %s\n' "$c" "$want" \
	    "${SEEN[$c]:-?}" "${HSEEN[$c]:--}" "${CSEEN[$c]:--}" \
	    "${DSEEN[$c]:-}"
done <"$Z/cases.tsv"
