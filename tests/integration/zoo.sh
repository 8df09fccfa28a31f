#!/bin/bash
# zoo.sh CA OUT - the certificate zoo: one directory per case under OUT,
# made with the openssl command (and scripts/mkca.sh, which uses it) from
# the throwaway CA in CA (made by `mkca.sh ca CA`).
#
# Each case directory holds what a host would configure:
#     cert    ECA_CERT_PATH (PEM, DER or PKCS#7, as the case needs)
#     key     ECA_PRIVATE_KEY_PATH
#     pass    ECA_KEY_PASSPHRASEFILE, when the case has one
#     trust   ECA_TRUST_STORE_PATH, when it is not CA/trust.pem
# and OUT/cases.tsv lists the cases, one a line, tab-separated:
#     case  host  expected  phrase  extra
# expected is OK (enrolls) or the reason code eca must give; phrase is an
# extended regular expression its message must match (- for none); extra
# is a space-separated list of KEY=value config lines' keys to add
# (pass, nopassfile, missingpass, trust: OUT/ca-trust.pem; partial: the
# host sets ECA_TRUST_PARTIAL_CHAIN = YES and enrolls with the partial
# primary; crlleaf, crlchain: the CRL primaries).  Nothing here starts a
# daemon.
#
# OUT/ca-trust.pem is what the zoo primary (and the zoo's media server)
# trusts: CA's root and its intermediate (so that a lone DER leaf can be
# verified), and the roots of the issue-15 cases' own CAs (weak keys,
# expired, name constraints), plus one issuing CA without its root.
# OUT/partial-trust.pem is what the partial primary trusts
# (ECA_TRUST_PARTIAL_CHAIN = YES): an issuing CA alone, and one host
# certificate.
set -eu

[ $# = 2 ] || { echo "usage: $0 CA OUT" >&2; exit 2; }
CA=$(cd "$1" && pwd)
mkdir -p "$2"
OUT=$(cd "$2" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
MKCA=$HERE/../../scripts/mkca.sh
DOM=zoo.it.test
umask 077
TSV=$OUT/cases.tsv
: >"$TSV"

die() {
	echo "zoo.sh: $*" >&2
	exit 1
}

# row CASE EXPECTED PHRASE [EXTRA]: records a case (host z-CASE.DOM).
row() {
	printf '%s\tz-%s.%s\t%s\t%s\t%s\n' "$1" "$1" "$DOM" "$2" "$3" \
	    "${4:--}" >>"$TSV"
}

# An openssl config whose [ext] section is $2, written to $1.
cnf() {
	printf '[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = unused\n[ext]\n%s\n' \
	    "$2" >"$1"
}

LEAF_EXT='basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always'
SUBCA_EXT='basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always'

# keyargs TYPE: `openssl req -newkey` arguments.
keyargs() {
	case "$1" in
	ec256) echo "-newkey ec -pkeyopt ec_paramgen_curve:P-256" ;;
	ec384) echo "-newkey ec -pkeyopt ec_paramgen_curve:P-384" ;;
	rsa2048) echo "-newkey rsa:2048" ;;
	rsa3072) echo "-newkey rsa:3072" ;;
	ed25519) echo "-newkey ed25519" ;;
	*) die "unknown key type $1" ;;
	esac
}

# sign DIR HOST ISSUER_PEM ISSUER_KEY KEYTYPE EXT [SUBJECT]: DIR/leaf.pem and
# DIR/key (PKCS#8 PEM, unencrypted), signed by the issuer.
sign() {
	local d=$1 ipem=$3 ikey=$4 kt=$5 ext=$6 subj=${7:-/CN=$2} md=-sha256
	mkdir -p "$d"
	cnf "$d/.cnf" "$ext"
	[ "$kt" = ed25519 ] && md=""
	# shellcheck disable=SC2046,SC2086
	openssl req -config "$d/.cnf" -x509 -new -noenc $(keyargs "$kt") \
	    -keyout "$d/key" -out "$d/leaf.pem" -CA "$ipem" -CAkey "$ikey" \
	    -subj "$subj" -days 365 $md -extensions ext 2>"$d/.err" ||
	    die "$d: $(cat "$d/.err")"
	rm -f "$d/.cnf" "$d/.err"
}

# A sub-CA of ISSUER: DIR/ca.pem, DIR/ca.key.
subca() {
	local d=$1 name=$2 ipem=$3 ikey=$4 ext=$5
	mkdir -p "$d"
	cnf "$d/.cnf" "$ext"
	openssl req -config "$d/.cnf" -x509 -new -noenc \
	    -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout "$d/ca.key" \
	    -out "$d/ca.pem" -CA "$ipem" -CAkey "$ikey" -subj "/CN=$name" \
	    -days 365 -sha256 -extensions ext 2>"$d/.err" ||
	    die "$d: $(cat "$d/.err")"
	rm -f "$d/.cnf" "$d/.err"
}

san() {
	printf '%s\nsubjectAltName = DNS:%s' "$LEAF_EXT" "$1"
}

# std CASE [mkca leaf options...]: a case made by mkca.sh (cert = leaf +
# intermediate, PEM).
std() {
	local c=$1 d=$OUT/$1
	shift
	mkdir -p "$d"
	"$MKCA" leaf "$CA" "z-$c.$DOM" "$@" --out "$d/m" >"$d/.log" 2>&1 ||
	    die "$c: mkca.sh: $(cat "$d/.log")"
	mv "$d/m.pem" "$d/cert"
	mv "$d/m.key" "$d/key"
	rm -f "$d/.log"
}

# plain CASE KEYTYPE [EXT]: signed by CA's intermediate; cert = leaf +
# intermediate, PEM.
plain() {
	local c=$1 d=$OUT/$1 h="z-$1.$DOM"
	sign "$d" "$h" "$CA/inter.pem" "$CA/inter.key" "$2" "${3:-$(san "$h")}"
	cat "$d/leaf.pem" "$CA/inter.pem" >"$d/cert"
}

cat "$CA/root.pem" "$CA/inter.pem" >"$OUT/ca-trust.pem"
chmod 644 "$OUT/ca-trust.pem"
OTHER=$OUT/.other
"$MKCA" ca "$OTHER" --name "zoo other" >/dev/null || die "cannot make the other CA"

# --- validity and trust -------------------------------------------------
std expired --start 20200101000000Z --end 20210101000000Z
row expired EXPIRED 'expired'
std future --start 20990101000000Z --end 21000101000000Z
row future NOT_YET_VALID 'not yet valid'
std untrusted --issuer "$OTHER"
row untrusted UNTRUSTED 'issuer'

d=$OUT/selfsigned h=z-selfsigned.$DOM
mkdir -p "$d"
cnf "$d/.cnf" "$(san "$h" | grep -v authorityKeyIdentifier)"
openssl req -config "$d/.cnf" -x509 -new -noenc -newkey ec \
    -pkeyopt ec_paramgen_curve:P-256 -keyout "$d/key" -out "$d/cert" \
    -subj "/CN=$h" -days 365 -sha256 -extensions ext 2>/dev/null ||
    die "selfsigned"
row selfsigned UNTRUSTED 'self.signed'

# A leaf whose intermediate is neither sent nor trusted.
subca "$OUT/.zinter" "zoo unknown intermediate" "$CA/root.pem" "$CA/root.key" \
    "$SUBCA_EXT"
d=$OUT/nointer h=z-nointer.$DOM
sign "$d" "$h" "$OUT/.zinter/ca.pem" "$OUT/.zinter/ca.key" ec256 "$(san "$h")"
cp "$d/leaf.pem" "$d/cert"
row nointer UNTRUSTED 'issuer'

# --- structure: CA flags, path length, name constraints, extensions ------
std caleaf --ca-leaf
row caleaf BAD_KEY_USAGE 'CA'

# CA's intermediate has pathlen:0: a CA below it exceeds the path length.
subca "$OUT/.sub" "zoo sub CA" "$CA/inter.pem" "$CA/inter.key" "$SUBCA_EXT"
d=$OUT/pathlen h=z-pathlen.$DOM
sign "$d" "$h" "$OUT/.sub/ca.pem" "$OUT/.sub/ca.key" ec256 "$(san "$h")"
cat "$d/leaf.pem" "$OUT/.sub/ca.pem" "$CA/inter.pem" >"$d/cert"
row pathlen BAD_CERTIFICATE 'path length'

subca "$OUT/.nc" "zoo constrained CA" "$CA/root.pem" "$CA/root.key" \
    "$SUBCA_EXT
nameConstraints = critical, permitted;DNS:.allowed.example"
d=$OUT/nameconstraint h=z-nameconstraint.$DOM
sign "$d" "$h" "$OUT/.nc/ca.pem" "$OUT/.nc/ca.key" ec256 "$(san "$h")"
cat "$d/leaf.pem" "$OUT/.nc/ca.pem" >"$d/cert"
row nameconstraint BAD_CERTIFICATE 'subtree'

plain critext ec256 "$(san z-critext.$DOM)
1.3.6.1.4.1.55555.7.1 = critical, ASN1:NULL"
row critext BAD_CERTIFICATE 'critical extension'

# --- identity -----------------------------------------------------------
std nosan --san none
row nosan IDENTITY_MISMATCH 'z-nosan'
std wrongsan --san "other.$DOM"
row wrongsan IDENTITY_MISMATCH 'z-wrongsan'
std wildcard --san "*.$DOM"
row wildcard IDENTITY_MISMATCH 'z-wildcard'

# --- keys and signatures ------------------------------------------------
std rsa1024 --key rsa1024
row rsa1024 WEAK_KEY '1024'
std sha1 --sha1
row sha1 WEAK_SIGNATURE 'SHA1|sha1|SHA-1'

# --- key usage ----------------------------------------------------------
std ekuserver --eku server
row ekuserver BAD_KEY_USAGE 'clientAuth'
std ekuclient --eku client
row ekuclient BAD_KEY_USAGE 'serverAuth'
std ekucodesign --eku codesign
row ekucodesign BAD_KEY_USAGE 'clientAuth'
plain nodigsig rsa2048 "$(san z-nodigsig.$DOM |
    sed 's/digitalSignature/keyEncipherment/')"
row nodigsig BAD_KEY_USAGE 'purpose|digitalSignature'

# --- encodings that must not parse --------------------------------------
std truncated
head -c 300 "$OUT/truncated/cert" >"$OUT/truncated/cert.t"
mv "$OUT/truncated/cert.t" "$OUT/truncated/cert"
row truncated PARSE '-'

std dertrail
openssl x509 -in "$OUT/dertrail/cert" -outform DER -out "$OUT/dertrail/cert.der"
printf 'trailing' >>"$OUT/dertrail/cert.der"
mv "$OUT/dertrail/cert.der" "$OUT/dertrail/cert"
row dertrail PARSE '-'

std p7empty
openssl crl2pkcs7 -nocrl -outform DER -out "$OUT/p7empty/cert" 2>/dev/null ||
    die "p7empty"
row p7empty PARSE '-'

std garbage
head -c 2000 /dev/urandom >"$OUT/garbage/cert"
row garbage PARSE '-'

std empty
: >"$OUT/empty/cert"
row empty PARSE '-'

std keyascert
cp "$OUT/keyascert/key" "$OUT/keyascert/cert"
row keyascert PARSE '-'

# The intermediate first, then the leaf.
std wrongorder
openssl x509 -in "$OUT/wrongorder/cert" -out "$OUT/wrongorder/leaf.pem"
cat "$CA/inter.pem" "$OUT/wrongorder/leaf.pem" >"$OUT/wrongorder/cert"
row wrongorder BAD_CERTIFICATE 'wrong order'

# --- keys and passphrases -----------------------------------------------
std keymismatch
std .other-key
cp "$OUT/.other-key/key" "$OUT/keymismatch/key"
row keymismatch KEY_MISMATCH '-'

printf 'zoo right passphrase\n' >"$OUT/pass.right"
printf 'zoo wrong passphrase\n' >"$OUT/pass.wrong"
chmod 600 "$OUT/pass.right" "$OUT/pass.wrong"
std wrongpass --pass "$OUT/pass.right"
cp "$OUT/pass.wrong" "$OUT/wrongpass/pass"
row wrongpass PASSPHRASE '-' pass
std missingpassfile --pass "$OUT/pass.right"
row missingpassfile UNREADABLE 'pass' missingpass
std nopassfile --pass "$OUT/pass.right"
row nopassfile PASSPHRASE '-'
std worldkey
chmod 604 "$OUT/worldkey/key"
row worldkey FILE_PERMISSIONS '-'
std grouppass --pass "$OUT/pass.right"
cp "$OUT/pass.right" "$OUT/grouppass/pass"
chmod 640 "$OUT/grouppass/pass"
row grouppass FILE_PERMISSIONS '-' pass

# --- accepted -----------------------------------------------------------
plain ec256 ec256
row ec256 OK '-'
plain ec384 ec384
row ec384 OK '-'
plain ed25519 ed25519
row ed25519 OK '-'
plain rsa3072 rsa3072 "$(san z-rsa3072.$DOM |
    sed 's/digitalSignature/digitalSignature, keyEncipherment/')"
row rsa3072 OK '-'
plain withroot ec256
cat "$CA/root.pem" >>"$OUT/withroot/cert"
row withroot OK '-'
plain p7der ec256
openssl crl2pkcs7 -nocrl -certfile "$OUT/p7der/cert" -outform DER \
    -out "$OUT/p7der/cert.p7" && mv "$OUT/p7der/cert.p7" "$OUT/p7der/cert"
row p7der OK '-'
plain p7pem ec256
openssl crl2pkcs7 -nocrl -certfile "$OUT/p7pem/cert" -outform PEM \
    -out "$OUT/p7pem/cert.p7" && mv "$OUT/p7pem/cert.p7" "$OUT/p7pem/cert"
row p7pem OK '-'
plain derleaf ec256
openssl x509 -in "$OUT/derleaf/leaf.pem" -outform DER -out "$OUT/derleaf/cert"
cat "$CA/trust.pem" "$CA/inter.pem" >"$OUT/derleaf/trust"
row derleaf OK '-' trust
plain derkey ec256
openssl pkey -in "$OUT/derkey/key" -outform DER -out "$OUT/derkey/key.der" &&
    mv "$OUT/derkey/key.der" "$OUT/derkey/key"
row derkey OK '-'
plain rsapkcs1 rsa2048 "$(san z-rsapkcs1.$DOM |
    sed 's/digitalSignature/digitalSignature, keyEncipherment/')"
openssl pkey -in "$OUT/rsapkcs1/key" -traditional -out "$OUT/rsapkcs1/key.t" &&
    mv "$OUT/rsapkcs1/key.t" "$OUT/rsapkcs1/key"
row rsapkcs1 OK '-'
std goodpass --pass "$OUT/pass.right"
cp "$OUT/pass.right" "$OUT/goodpass/pass"
row goodpass OK '-' pass

# --- issue 15: the policy over the whole path ---------------------------
# Each case's CA tree of its own (OUT/.ca-NAME, by mkca.sh); its root goes
# into OUT/ca-trust.pem, and into the case host's own trust store
# (OUT/CASE/trust: CA's root, for the primary's certificate, and the
# case's CA), so that the host's health check judges the chain the way
# the primary does.
zca() {
	local n=$1
	shift
	"$MKCA" ca "$OUT/.ca-$n" --name "zoo $n" "$@" >"$OUT/.ca-$n.log" 2>&1 ||
	    die "ca $n: $(cat "$OUT/.ca-$n.log")"
	rm -f "$OUT/.ca-$n.log"
	cat "$OUT/.ca-$n/root.pem" >>"$OUT/ca-trust.pem"
}
# casetrust CASE FILE...: the case host's trust store.
casetrust() {
	cat "$CA/trust.pem" "${@:2}" >"$OUT/$1/trust"
	chmod 644 "$OUT/$1/trust"
}
# ca_case CASE CANAME [mkca leaf options]: a leaf of that CA.
ca_case() {
	local c=$1 n=$2
	shift 2
	std "$c" --issuer "$OUT/.ca-$n" "$@"
	casetrust "$c" "$OUT/.ca-$n/root.pem"
}
# names N PREFIX: N comma-separated DNS names.
names() {
	local i out=""
	for ((i = 0; i < $1; i++)); do
		out="${out:+$out,}$2-$i.lb.$DOM"
	done
	printf '%s' "$out"
}
ts() {
	date -u -d "$1" +%Y%m%d%H%M%SZ
}

# 1. Trust anchors with breakable keys carry every chain under them.
zca rsa1024 --root-key rsa1024
ca_case anchorrsa1024 rsa1024
row anchorrsa1024 WEAK_KEY 'trust anchor.*1024'
zca p192 --root-key ec192
ca_case anchorp192 p192
row anchorp192 WEAK_KEY 'trust anchor.*(P-192|prime192v1)'
zca dsa --root-key dsa
ca_case anchordsa dsa
row anchordsa WEAK_KEY 'trust anchor.*DSA'
# A self-signed anchor's own signature is not judged (nothing verifies
# it; trust comes from the store): SHA-1 there is accepted.
zca rootsha1 --root-sha1
ca_case anchorsha1 rootsha1
row anchorsha1 OK '-'
# An RSA-1024 intermediate that the peer does not send: it comes from
# the primary's trust store, and is part of the path all the same.
zca weakinter --inter-key rsa1024
cat "$OUT/.ca-weakinter/inter.pem" >>"$OUT/ca-trust.pem"
ca_case storeinter weakinter
openssl x509 -in "$OUT/storeinter/cert" -out "$OUT/storeinter/leaf.pem"
mv "$OUT/storeinter/leaf.pem" "$OUT/storeinter/cert"
casetrust storeinter "$OUT/.ca-weakinter/root.pem" \
    "$OUT/.ca-weakinter/inter.pem"
row storeinter WEAK_KEY 'RSA 1024'

# 2. Long SAN lists (load balancers): 500 names, the host's last.
std san500 --san "$(names 499 z-san500),z-san500.$DOM"
row san500 OK '-'
std san1100 --san "z-san1100.$DOM,$(names 1100 z-san1100)"
row san1100 BAD_CERTIFICATE 'at most 1024'

# 3. Name constraints, and dNSNames that are no host names.
zca ncdot --inter-nc "critical, permitted;DNS:.$DOM"
ca_case ncdotok ncdot
row ncdotok OK '-'
ca_case ncdotapex ncdot --san "z-ncdotapex.$DOM,$DOM"
row ncdotapex BAD_CERTIFICATE 'subtree'
zca ncplain --inter-nc "critical, permitted;DNS:$DOM"
ca_case ncplainok ncplain
row ncplainok OK '-'
ca_case sanleadingdot ncplain --san "z-sanleadingdot.$DOM,.$DOM"
row sanleadingdot BAD_CERTIFICATE 'not a valid host name'
ca_case sanemptylabel ncplain --san "z-sanemptylabel.$DOM,a..$DOM"
row sanemptylabel BAD_CERTIFICATE 'not a valid host name'
ca_case ncoutside ncplain --san "z-ncoutside.$DOM,z-ncoutside.other.test"
row ncoutside BAD_CERTIFICATE 'subtree'
std sanbadchar --san "z-sanbadchar.$DOM,bad!name.$DOM"
row sanbadchar BAD_CERTIFICATE 'not a valid host name'
plain leafnc ec256 "$(san z-leafnc.$DOM)
nameConstraints = critical, permitted;DNS:$DOM"
row leafnc BAD_CERTIFICATE 'only a CA'
zca ncempty --inter-nc "critical, DER:30:04:a0:00:a1:00"
ca_case ncempty ncempty
row ncempty BAD_CERTIFICATE 'empty subtree'
zca ncpermitempty --inter-nc "critical, DER:30:02:a0:00"
ca_case ncpermitempty ncpermitempty
row ncpermitempty BAD_CERTIFICATE 'empty subtree'
zca ncexcl --inter-nc "critical, excluded;DNS:z-ncexcluded.$DOM"
ca_case ncexcluded ncexcl
row ncexcluded BAD_CERTIFICATE 'excluded'

# 4. Trust in an issuing CA only: its intermediate without the root is in
# both primaries' trust stores; only the partial one accepts the chain.
"$MKCA" ca "$OUT/.ca-partial" --name "zoo partial" >/dev/null ||
    die "ca partial"
cat "$OUT/.ca-partial/inter.pem" >>"$OUT/ca-trust.pem"
cp "$OUT/.ca-partial/inter.pem" "$OUT/partial-trust.pem"
std partialyes --issuer "$OUT/.ca-partial"
casetrust partialyes "$OUT/.ca-partial/inter.pem"
row partialyes OK '-' partial
std partialno --issuer "$OUT/.ca-partial"
casetrust partialno "$OUT/.ca-partial/inter.pem"
row partialno UNTRUSTED 'issuer'
# A host certificate in a partial trust store is never its own anchor.
std partialpinned
openssl x509 -in "$OUT/partialpinned/cert" >>"$OUT/partial-trust.pem"
casetrust partialpinned "$OUT/partialpinned/cert"
openssl x509 -in "$OUT/partialpinned/cert" -out "$OUT/partialpinned/leaf.pem"
cat "$CA/trust.pem" "$OUT/partialpinned/leaf.pem" >"$OUT/partialpinned/trust"
rm -f "$OUT/partialpinned/leaf.pem"
row partialpinned UNTRUSTED 'not a CA' partial

# 5. Expired trust anchor and intermediate: one verdict everywhere (the
# leaf's mid-life falls before the root's end, so a check "as of the
# middle of the leaf's life" would pass).
zca expiredroot --root-start "$(ts '-3 years')" --root-end "$(ts '-1 day')"
ca_case expiredanchor expiredroot --start "$(ts '-300 days')" \
    --end "$(ts '+100 days')"
row expiredanchor EXPIRED 'expired'
zca expiredinter --inter-start "$(ts '-3 years')" --inter-end "$(ts '-1 day')"
ca_case expiredinter expiredinter
row expiredinter EXPIRED 'expired'
chmod 644 "$OUT/partial-trust.pem"

# ZOO-CRL-CASES
# --- revocation ---------------------------------------------------------
# Three CAs of their own (mkca.sh), so that the CRLs do not touch the other
# cases: A revokes a leaf, B's root revokes B's intermediate, C's
# intermediate CRL is expired past the grace period (default 24 hours).
# Their CRLs go to OUT/crls (the CRL primaries' ECA_CRL_PATH), their roots
# to OUT/crl-trust.pem (the intermediates' CRLs are checked against the
# chains the hosts send).  extra names the primary: crlleaf
# (ECA_CRL_CHECK = LEAF) or crlchain (CHAIN).
mkdir -p "$OUT/crls"
for x in A B C; do
	"$MKCA" ca "$OUT/.crl$x" --name "zoo crl $x" >/dev/null ||
	    die "cannot make CRL CA $x"
done
std crlrevoked --issuer "$OUT/.crlA"
"$MKCA" crl "$OUT/.crlA" --revoke "$OUT/crlrevoked/cert" >/dev/null ||
    die "crl A"
cp "$OUT/.crlA/inter.crl" "$OUT/crls/a-inter.crl"
"$MKCA" crl "$OUT/.crlA" --issuer root >/dev/null || die "crl A root"
cp "$OUT/.crlA/root.crl" "$OUT/crls/a-root.crl"
row crlrevoked REVOKED 'revoked' crlleaf
std crlinter --issuer "$OUT/.crlB"
std crlinterleaf --issuer "$OUT/.crlB"
"$MKCA" crl "$OUT/.crlB" --revoke "$OUT/.crlB/inter.pem" --issuer root \
    >/dev/null || die "crl B root"
cp "$OUT/.crlB/root.crl" "$OUT/crls/b-root.crl"
"$MKCA" crl "$OUT/.crlB" >/dev/null || die "crl B"
cp "$OUT/.crlB/inter.crl" "$OUT/crls/b-inter.crl"
row crlinter REVOKED 'revoked' crlchain
row crlinterleaf OK '-' crlleaf
std crlexpired --issuer "$OUT/.crlC"
"$MKCA" crl "$OUT/.crlC" --expired >/dev/null || die "crl C"
cp "$OUT/.crlC/inter.crl" "$OUT/crls/c-inter.crl"
"$MKCA" crl "$OUT/.crlC" --issuer root >/dev/null || die "crl C root"
cp "$OUT/.crlC/root.crl" "$OUT/crls/c-root.crl"
row crlexpired CRL_UNAVAILABLE 'CRL' crlleaf
cat "$OUT/.crlA/trust.pem" "$OUT/.crlB/trust.pem" "$OUT/.crlC/trust.pem" \
    >"$OUT/crl-trust.pem"
chmod 644 "$OUT/crl-trust.pem" "$OUT"/crls/*

chmod -R go-w "$OUT"
find "$OUT" -type d -exec chmod 755 {} +
find "$OUT" -name cert -exec chmod 644 {} +
chmod 644 "$TSV"
echo "zoo: $(wc -l <"$TSV") cases in $OUT"
