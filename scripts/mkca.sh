#!/bin/bash
# SPDX-License-Identifier: ISC
# mkca.sh - a throwaway two-level CA for tests, the demo and the benchmark.
# Uses the `openssl` command only.  Never use these keys for anything real.
#
# mkca.sh ca DIR [--name NAME] [--cdp URL] [CA options]
#     Creates DIR (if needed) with a root CA (EC P-256, 10 years, self-signed)
#     and an intermediate CA signed by it (EC P-256, pathlen 0):
#         DIR/root.pem  DIR/root.key  DIR/inter.pem  DIR/inter.key
#         DIR/trust.pem (= the root certificate only)
#     NAME (default "eca test") goes into the CAs' subject names
#     ("NAME Root CA", "NAME Intermediate CA").  Keys are mode 0600.
#     --cdp URL puts a CRL distribution point (the root's CRL) in the
#     intermediate.  CA options, for the certificate zoo (issue 15):
#       --root-key TYPE, --inter-key TYPE
#                                key types as for leaves, and also
#                                ec192 (P-192) and dsa (DSA 2048)
#       --root-sha1, --inter-sha1
#                                the root signs itself / the intermediate
#                                with SHA-1
#       --root-start S --root-end E, --inter-start S --inter-end E
#                                explicit validity (YYYYMMDDHHMMSSZ)
#       --inter-nc VALUE         a nameConstraints extension for the
#                                intermediate (openssl config syntax, e.g.
#                                "critical, permitted;DNS:.example.com")
#
# mkca.sh leaf DIR NAME [options]
#     A leaf certificate signed by DIR's intermediate.  Writes BASENAME.pem
#     (leaf, then the intermediate; no root) and BASENAME.key (mode 0600,
#     unencrypted PKCS#8 unless --pass is given).  Options:
#       --key rsa2048|rsa1024|ec256|ec384|ed25519   key type (default ec256)
#       --days N                 valid from now for N days (default 365)
#       --start YYYYMMDDHHMMSSZ --end YYYYMMDDHHMMSSZ
#                                explicit validity (both needed; for expired or
#                                not-yet-valid leaves; uses `openssl ca`)
#       --san DNS,...            comma-separated subjectAltName entries
#                                (default NAME); a bare name means DNS:name,
#                                entries with a type prefix (IP:1.2.3.4,
#                                URI:..., email:...) are used as they are;
#                                "none" leaves the extension out
#       --cn CN                  subject common name (default NAME)
#       --eku both|server|client|codesign|none
#                                extended key usage (default both =
#                                serverAuth + clientAuth)
#       --ca-leaf                mark the leaf as a CA (basicConstraints CA:TRUE)
#       --sha1                   sign with SHA-1 instead of SHA-256
#       --reuse-key FILE         use this existing private key (renewals)
#       --issuer DIR2            sign with DIR2's intermediate instead of DIR's
#       --out BASENAME           output base name (default DIR/NAME)
#       --pass FILE              encrypt the key (AES-256) with the passphrase
#                                in FILE's first line
#       --cdp URL                a CRL distribution point (the intermediate's
#                                CRL), e.g. http://127.0.0.1:8080/inter.crl
#
# mkca.sh crl DIR [--revoke PEM]... [--issuer root|inter] [--days N]
#     [--expired] [--der]
#     A CRL of DIR's intermediate (default) or root, listing the first
#     certificate of each --revoke PEM file, valid from now for N days
#     (default 7), or --expired (lastUpdate 3 days ago, nextUpdate 2 days
#     ago).  Writes DIR/inter.crl or DIR/root.crl (PEM, or DER with --der);
#     the CRL number grows with each call (DIR/.crlnumber-ISSUER).
#
# Exit status 0 on success; 1 with a message on stderr otherwise.
set -eu
tmp=""

prog=mkca.sh

die() {
	echo "$prog: $*" >&2
	exit 1
}

usage() {
	sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

# Write an openssl config for `req` (and `ca`) with one extension section.
# $1 = file, $2 = extension lines (newline-separated).
write_cnf() {
	printf '%s\n' \
	    '[req]' \
	    'distinguished_name = req_dn' \
	    'prompt = no' \
	    'utf8 = yes' \
	    'string_mask = utf8only' \
	    '[req_dn]' \
	    'CN = unused' \
	    '[ca]' \
	    'default_ca = mkca' \
	    '[mkca]' \
	    "database = $3/index.txt" \
	    "serial = $3/serial" \
	    "new_certs_dir = $3" \
	    'unique_subject = no' \
	    'policy = mkca_policy' \
	    'email_in_dn = no' \
	    'copy_extensions = none' \
	    'default_md = default' \
	    '[mkca_policy]' \
	    'commonName = supplied' \
	    '[ext]' \
	    "$2" >"$1"
}

keyopts() {
	# Prints the -newkey arguments for a key type, one per line.
	case "$1" in
	rsa2048) printf '%s\n' -newkey rsa:2048 ;;
	rsa1024) printf '%s\n' -newkey rsa:1024 ;;
	ec256) printf '%s\n' -newkey ec -pkeyopt ec_paramgen_curve:P-256 ;;
	ec384) printf '%s\n' -newkey ec -pkeyopt ec_paramgen_curve:P-384 ;;
	ed25519) printf '%s\n' -newkey ed25519 ;;
	ec192) printf '%s\n' -newkey ec -pkeyopt ec_paramgen_curve:P-192 ;;
	dsa)
		# DSA needs its parameters first ($2: where to keep them).
		openssl genpkey -genparam -algorithm DSA \
		    -pkeyopt dsa_paramgen_bits:2048 -out "$2" 2>/dev/null ||
		    die "cannot make DSA parameters"
		printf '%s\n' -newkey "dsa:$2" ;;
	*) die "unknown key type '$1' (rsa2048, rsa1024, ec256, ec384, ed25519)" ;;
	esac
}

# ca_cert DIR WHAT KEYTYPE MD START END SUBJECT ISSUER_PEM ISSUER_KEY EXT:
# DIR/WHAT.pem and DIR/WHAT.key; self-signed when ISSUER_PEM is empty;
# with explicit dates (START and END) through `openssl ca`.
ca_cert() {
	local dir=$1 what=$2 kt=$3 md=$4 start=$5 end=$6 subj=$7 ipem=$8
	local ikey=$9 ext=${10} err
	local -a kargs
	mapfile -t kargs < <(keyopts "$kt" "$dir/.$what.param")
	write_cnf "$tmp" "$ext" "$dir/.$what.db"
	if [ -z "$start" ]; then
		if [ -n "$ipem" ]; then
			kargs+=(-CA "$ipem" -CAkey "$ikey")
		fi
		openssl req -config "$tmp" -x509 -new -noenc "${kargs[@]}" \
		    -keyout "$dir/$what.key" -out "$dir/$what.pem" \
		    -subj "$subj" -days 3650 "$md" -extensions ext \
		    2>"$dir/.mkca.err" ||
		    die "ca: cannot create $what: $(cat "$dir/.mkca.err")"
	else
		mkdir -p "$dir/.$what.db"
		: >"$dir/.$what.db/index.txt"
		openssl req -config "$tmp" -new -noenc "${kargs[@]}" \
		    -keyout "$dir/$what.key" -out "$dir/.$what.csr" \
		    -subj "$subj" 2>"$dir/.mkca.err" ||
		    die "ca: cannot request $what: $(cat "$dir/.mkca.err")"
		if [ -n "$ipem" ]; then
			kargs=(-cert "$ipem" -keyfile "$ikey")
		else
			kargs=(-selfsign -keyfile "$dir/$what.key")
		fi
		openssl ca -config "$tmp" -batch -notext -rand_serial \
		    "${kargs[@]}" -startdate "$start" -enddate "$end" \
		    -md "${md#-}" -extensions ext -preserveDN \
		    -in "$dir/.$what.csr" -out "$dir/$what.pem" \
		    2>"$dir/.mkca.err" ||
		    { err=$(cat "$dir/.mkca.err"); die "ca: cannot sign $what: $err"; }
		rm -rf "$dir/.$what.db" "$dir/.$what.csr"
	fi
	rm -f "$dir/.$what.param"
}

cmd_ca() {
	local dir="" name="eca test" ext cdp="" rkey=ec256 ikey=ec256
	local rmd=-sha256 imd=-sha256 rstart="" rend="" istart="" iend="" nc=""
	[ $# -ge 1 ] || usage
	dir=$1
	shift
	while [ $# -gt 0 ]; do
		case "$1" in
		--name) [ $# -ge 2 ] || usage; name=$2; shift 2 ;;
		--cdp) [ $# -ge 2 ] || usage; cdp=$2; shift 2 ;;
		--root-key) [ $# -ge 2 ] || usage; rkey=$2; shift 2 ;;
		--inter-key) [ $# -ge 2 ] || usage; ikey=$2; shift 2 ;;
		--root-sha1) rmd=-sha1; shift ;;
		--inter-sha1) imd=-sha1; shift ;;
		--root-start) [ $# -ge 2 ] || usage; rstart=$2; shift 2 ;;
		--root-end) [ $# -ge 2 ] || usage; rend=$2; shift 2 ;;
		--inter-start) [ $# -ge 2 ] || usage; istart=$2; shift 2 ;;
		--inter-end) [ $# -ge 2 ] || usage; iend=$2; shift 2 ;;
		--inter-nc) [ $# -ge 2 ] || usage; nc=$2; shift 2 ;;
		*) die "ca: unknown option '$1'" ;;
		esac
	done
	if { [ -n "$rstart$rend" ] && { [ -z "$rstart" ] || [ -z "$rend" ]; }; } ||
	    { [ -n "$istart$iend" ] && { [ -z "$istart" ] || [ -z "$iend" ]; }; }; then
		die "ca: --*-start and --*-end go together"
	fi
	mkdir -p "$dir"
	umask 077
	tmp="$dir/.mkca.$$.cnf"
	trap 'rm -f "$tmp"' EXIT

	ext='basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash'
	ca_cert "$dir" root "$rkey" "$rmd" "$rstart" "$rend" \
	    "/O=$name/CN=$name Root CA" "" "" "$ext"

	ext='basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always'
	[ -z "$cdp" ] || ext="$ext
crlDistributionPoints = URI:$cdp"
	[ -z "$nc" ] || ext="$ext
nameConstraints = $nc"
	ca_cert "$dir" inter "$ikey" "$imd" "$istart" "$iend" \
	    "/O=$name/CN=$name Intermediate CA" "$dir/root.pem" \
	    "$dir/root.key" "$ext"
	rm -f "$dir/.mkca.err"
	cp "$dir/root.pem" "$dir/trust.pem"
	chmod 600 "$dir/root.key" "$dir/inter.key"
	chmod 644 "$dir/root.pem" "$dir/inter.pem" "$dir/trust.pem"
}

cmd_leaf() {
	local dir name key=ec256 days=365 start="" end="" san="" cn="" eku=both
	local caleaf=0 md=-sha256 reuse="" issuer="" out="" pass="" cdp=""
	local ext sanline="" e ku bc ekuline="" err
	local -a kargs dargs passargs
	[ $# -ge 2 ] || usage
	dir=$1
	name=$2
	shift 2
	while [ $# -gt 0 ]; do
		case "$1" in
		--key|--days|--start|--end|--san|--cn|--eku|--reuse-key|--issuer|--out|--pass|--cdp)
			[ $# -ge 2 ] || die "leaf: $1 needs a value"
			case "$1" in
			--key) key=$2 ;;
			--days) days=$2 ;;
			--start) start=$2 ;;
			--end) end=$2 ;;
			--san) san=$2 ;;
			--cn) cn=$2 ;;
			--eku) eku=$2 ;;
			--reuse-key) reuse=$2 ;;
			--issuer) issuer=$2 ;;
			--out) out=$2 ;;
			--pass) pass=$2 ;;
			--cdp) cdp=$2 ;;
			esac
			shift 2 ;;
		--ca-leaf) caleaf=1; shift ;;
		--sha1) md=-sha1; shift ;;
		*) die "leaf: unknown option '$1'" ;;
		esac
	done
	[ -n "$issuer" ] || issuer=$dir
	[ -n "$out" ] || out=$dir/$name
	[ -n "$cn" ] || cn=$name
	[ -n "$san" ] || san=$name
	{ [ -f "$issuer/inter.pem" ] && [ -f "$issuer/inter.key" ]; } ||
	    die "leaf: no intermediate CA in '$issuer' (run: $prog ca $issuer)"
	if [ -n "$start$end" ] && { [ -z "$start" ] || [ -z "$end" ]; }; then
		die "leaf: --start and --end go together"
	fi
	case "$days" in
	''|*[!0-9]*) die "leaf: --days needs a number of days" ;;
	esac

	if [ "$san" != none ]; then
		local IFS_SAVE=$IFS
		IFS=,
		for e in $san; do
			case "$e" in
			*:*) ;;
			*) e="DNS:$e" ;;
			esac
			sanline="${sanline:+$sanline, }$e"
		done
		IFS=$IFS_SAVE
		sanline="subjectAltName = $sanline"
	fi
	case "$eku" in
	both) ekuline='extendedKeyUsage = serverAuth, clientAuth' ;;
	server) ekuline='extendedKeyUsage = serverAuth' ;;
	client) ekuline='extendedKeyUsage = clientAuth' ;;
	codesign) ekuline='extendedKeyUsage = codeSigning' ;;
	none) ekuline='' ;;
	*) die "leaf: unknown --eku '$eku' (both, server, client, codesign, none)" ;;
	esac
	if [ -n "$reuse" ]; then
		[ -r "$reuse" ] || die "leaf: cannot read key '$reuse'"
		kargs=(-key "$reuse")
		# The key type decides the key usage below.
		e=$(openssl pkey -in "$reuse" -noout -text 2>/dev/null) ||
		    die "leaf: cannot parse key '$reuse' (unencrypted keys only)"
		case "$e" in
		*modulus:*) key=rsa2048 ;;
		ED25519*) key=ed25519 ;;
		*) key=ec256 ;;
		esac
	else
		case "$key" in
		rsa2048|rsa1024|ec256|ec384|ed25519) ;;
		*) die "leaf: unknown key type '$key' (rsa2048, rsa1024, ec256, ec384, ed25519)" ;;
		esac
		mapfile -t kargs < <(keyopts "$key")
	fi
	case "$key" in
	rsa*) ku='keyUsage = critical, digitalSignature, keyEncipherment' ;;
	*) ku='keyUsage = critical, digitalSignature' ;;
	esac
	# Ed25519 signs its own way: no digest may be named for its requests.
	[ "$key" = ed25519 ] && md=""
	if [ $caleaf = 1 ]; then
		bc='basicConstraints = critical, CA:TRUE'
		ku="$ku, keyCertSign"
	else
		bc='basicConstraints = critical, CA:FALSE'
	fi
	ext="$bc
$ku
${ekuline}
${sanline}
${cdp:+crlDistributionPoints = URI:$cdp}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always"

	umask 077
	mkdir -p "$(dirname "$out")"
	tmp="$out.mkca.$$"
	# Expanded now: the trap runs after this function's locals are gone.
	# shellcheck disable=SC2064
	trap "rm -rf $(printf '%q ' "$tmp" "$tmp.cnf" "$tmp.csr" "$tmp.err" \
	    "$tmp.crt" "$out.key.new" "$out.pem.new")" EXIT
	write_cnf "$tmp.cnf" "$ext" "$tmp"
	if [ -n "$pass" ]; then
		passargs=(-passout "file:$pass")
	else
		passargs=(-noenc)
	fi
	if [ -z "$reuse" ]; then
		kargs+=(-keyout "$out.key.new")
	fi

	if [ -z "$start" ]; then
		# One process: key, request and signature by the intermediate.
		# shellcheck disable=SC2086
		openssl req -config "$tmp.cnf" -x509 -new "${passargs[@]}" \
		    "${kargs[@]}" -out "$tmp.crt" \
		    -CA "$issuer/inter.pem" -CAkey "$issuer/inter.key" \
		    -subj "/CN=$cn" -days "$days" $md \
		    -extensions ext 2>"$tmp.err" ||
		    { err=$(cat "$tmp.err"); die "leaf: openssl req failed: $err"; }
	else
		# `openssl x509` cannot set arbitrary dates on OpenSSL 3.0;
		# `openssl ca` can (-startdate/-enddate).
		mkdir -p "$tmp"
		: >"$tmp/index.txt"
		# shellcheck disable=SC2086
		openssl req -config "$tmp.cnf" -new "${passargs[@]}" \
		    "${kargs[@]}" -out "$tmp.csr" -subj "/CN=$cn" $md \
		    2>"$tmp.err" ||
		    { err=$(cat "$tmp.err"); die "leaf: openssl req failed: $err"; }
		dargs=(-startdate "$start" -enddate "$end")
		[ -n "$md" ] && dargs+=(-md "${md#-}")
		openssl ca -config "$tmp.cnf" -batch -notext -rand_serial \
		    -cert "$issuer/inter.pem" -keyfile "$issuer/inter.key" \
		    "${dargs[@]}" -extensions ext -preserveDN \
		    -in "$tmp.csr" -out "$tmp.crt" 2>"$tmp.err" ||
		    { err=$(cat "$tmp.err"); die "leaf: openssl ca failed: $err"; }
	fi
	cat "$tmp.crt" "$issuer/inter.pem" >"$out.pem.new"
	chmod 644 "$out.pem.new"
	mv -f "$out.pem.new" "$out.pem"
	if [ -z "$reuse" ]; then
		chmod 600 "$out.key.new"
		mv -f "$out.key.new" "$out.key"
	elif [ "$reuse" != "$out.key" ]; then
		cp "$reuse" "$out.key"
		chmod 600 "$out.key"
	fi
}

cmd_crl() {
	local dir issuer=inter days=7 expired=0 der=0 pem serial err
	local -a revoke=() dargs=()
	[ $# -ge 1 ] || usage
	dir=$1
	shift
	while [ $# -gt 0 ]; do
		case "$1" in
		--revoke|--issuer|--days)
			[ $# -ge 2 ] || die "crl: $1 needs a value"
			case "$1" in
			--revoke) revoke+=("$2") ;;
			--issuer) issuer=$2 ;;
			--days) days=$2 ;;
			esac
			shift 2 ;;
		--expired) expired=1; shift ;;
		--der) der=1; shift ;;
		*) die "crl: unknown option '$1'" ;;
		esac
	done
	case "$issuer" in
	root|inter) ;;
	*) die "crl: --issuer is root or inter, not '$issuer'" ;;
	esac
	case "$days" in
	''|*[!0-9]*) die "crl: --days needs a number of days" ;;
	esac
	{ [ -f "$dir/$issuer.pem" ] && [ -f "$dir/$issuer.key" ]; } ||
	    die "crl: no $issuer CA in '$dir' (run: $prog ca $dir)"
	umask 077
	tmp="$dir/.mkca-crl.$$"
	# shellcheck disable=SC2064
	trap "rm -rf $(printf '%q' "$tmp")" EXIT
	mkdir -p "$tmp"
	: >"$tmp/index.txt"
	for pem in "${revoke[@]}"; do
		serial=$(openssl x509 -in "$pem" -noout -serial 2>/dev/null) ||
		    die "crl: cannot read a certificate in '$pem'"
		serial=${serial#serial=}
		[ $((${#serial} % 2)) = 0 ] || serial="0$serial"
		printf 'R\t491231235959Z\t%s\t%s\tunknown\t/CN=revoked\n' \
		    "$(date -u +%y%m%d%H%M%SZ)" "$serial" >>"$tmp/index.txt"
	done
	[ -f "$dir/.crlnumber-$issuer" ] || echo 1000 >"$dir/.crlnumber-$issuer"
	printf '%s\n' '[ca]' 'default_ca = mkca' '[mkca]' \
	    "database = $tmp/index.txt" "crlnumber = $dir/.crlnumber-$issuer" \
	    'default_md = sha256' >"$tmp/ca.cnf"
	if [ $expired = 1 ]; then
		dargs=(-crl_lastupdate "$(date -u -d '3 days ago' +%Y%m%d%H%M%SZ)"
		    -crl_nextupdate "$(date -u -d '2 days ago' +%Y%m%d%H%M%SZ)")
	else
		dargs=(-crldays "$days")
	fi
	openssl ca -config "$tmp/ca.cnf" -gencrl -cert "$dir/$issuer.pem" \
	    -keyfile "$dir/$issuer.key" "${dargs[@]}" -out "$tmp/crl.pem" \
	    2>"$tmp/err" ||
	    { err=$(cat "$tmp/err"); die "crl: openssl ca -gencrl failed: $err"; }
	if [ $der = 1 ]; then
		openssl crl -in "$tmp/crl.pem" -outform DER -out "$tmp/crl.out" ||
		    die "crl: cannot convert the CRL to DER"
	else
		cp "$tmp/crl.pem" "$tmp/crl.out"
	fi
	chmod 644 "$tmp/crl.out"
	mv -f "$tmp/crl.out" "$dir/$issuer.crl"
}

[ $# -ge 1 ] || usage
command -v openssl >/dev/null || die "the openssl command is not installed"
cmd=$1
shift
case "$cmd" in
ca) cmd_ca "$@" ;;
leaf) cmd_leaf "$@" ;;
crl) cmd_crl "$@" ;;
-h|--help|help) usage ;;
*) die "unknown command '$cmd' (ca, leaf, crl)" ;;
esac
