#!/bin/sh
# SPDX-License-Identifier: ISC
# fuzz/make-corpus.sh - regenerate the certificate and key seeds of the
# fuzz corpus with a throwaway CA (the committed files came from this).
# Usage: fuzz/make-corpus.sh   (writes fuzz/corpus/certs and fuzz/corpus/key)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
certs="$here/corpus/certs"
keys="$here/corpus/key"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

mkdir -p "$certs" "$keys"

cat > ext.cnf <<'CNF'
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
[leaf]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth, serverAuth
subjectAltName = DNS:host1.example.com, DNS:host1
crlDistributionPoints = URI:http://crl.example.com/inter.crl
CNF

# Root and intermediate (EC P-256 keeps the seeds small).
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out root.key
openssl req -x509 -new -key root.key -subj "/O=eca fuzz/CN=Fuzz Root CA" \
    -days 3650 -sha256 -extensions ca -config ext.cnf -out root.pem 2>/dev/null \
    || openssl req -x509 -new -key root.key -subj "/O=eca fuzz/CN=Fuzz Root CA" \
    -days 3650 -sha256 -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" -out root.pem
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out inter.key
openssl req -new -key inter.key -subj "/O=eca fuzz/CN=Fuzz Intermediate CA" \
    -out inter.csr
openssl x509 -req -in inter.csr -CA root.pem -CAkey root.key -set_serial 2 \
    -days 3650 -sha384 -extfile ext.cnf -extensions ca -out inter.pem

# Leaves: EC P-256, RSA 2048, Ed25519.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.key
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key
openssl genpkey -algorithm ED25519 -out ed.key
n=10
for k in ec rsa ed; do
	openssl req -new -key "$k.key" -subj "/O=eca fuzz/CN=host1.example.com" \
	    -out "$k.csr"
	if [ "$k" = ed ]; then md=""; else md="-sha256"; fi
	openssl x509 -req -in "$k.csr" -CA inter.pem -CAkey inter.key \
	    -set_serial "$n" -days 825 $md -extfile ext.cnf -extensions leaf \
	    -out "$k.pem"
	n=$((n + 1))
done

# Chains as ECA_CERT_PATH holds them.
cat ec.pem inter.pem > "$certs/chain_ec.pem"
cat rsa.pem inter.pem > "$certs/chain_rsa.pem"
cp ed.pem "$certs/leaf_ed25519.pem"
openssl x509 -in ec.pem -outform DER -out "$certs/leaf_ec.der"
openssl crl2pkcs7 -nocrl -certfile ec.pem -certfile inter.pem \
    -out "$certs/chain_ec.p7b"
openssl crl2pkcs7 -nocrl -certfile rsa.pem -certfile inter.pem \
    -outform DER -out "$certs/chain_rsa.p7b.der"
cat ec.pem inter.pem root.pem > "$certs/chain_with_root.pem"

# Keys as ECA_PRIVATE_KEY_PATH holds them; encrypted ones use "fuzz".
cp ec.key "$keys/ec_pkcs8.pem"
cp rsa.key "$keys/rsa_pkcs8.pem"
cp ed.key "$keys/ed25519.pem"
openssl pkey -in ec.key -outform DER -out "$keys/ec_pkcs8.der"
openssl ec -in ec.key -out "$keys/ec_traditional.pem" 2>/dev/null
openssl pkey -in ec.key -aes-256-cbc -passout pass:fuzz \
    -out "$keys/ec_encrypted.pem"
openssl pkcs8 -topk8 -in ed.key -v2 aes-128-cbc -passout pass:fuzz \
    -outform DER -out "$keys/ed25519_encrypted.der"
openssl pkey -in ec.key -aes-256-cbc -passout pass:wrong \
    -out "$keys/ec_wrong_passphrase.pem"
echo "corpus written to $certs and $keys"
