#!/bin/sh
# pki.sh OUTDIR - a throwaway local CA and one server certificate for the
# loopback test servers (IdP stand-in, document host, web servers with TLS).
#
# Writes OUTDIR/ca.pem ca.key server.pem server.key. The server cert covers
# IP 127.0.0.1, IP ::1 and DNS localhost, valid 30 days. ECDSA P-256 keeps it
# fast (~30 ms). Idempotent: if all four files exist, nothing is done.
# Keys are world-readable on purpose: test servers run as `nobody`, and these
# keys protect nothing.
set -eu

[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
out=$1
mkdir -p "$out"
cd "$out"

if [ -s ca.pem ] && [ -s ca.key ] && [ -s server.pem ] && [ -s server.key ]; then
	exit 0
fi

umask 022
cat > ca.tmpl <<'EOF'
cn = "cimd-proxy test CA"
ca
cert_signing_key
crl_signing_key
expiration_days = 30
EOF
cat > server.tmpl <<'EOF'
cn = "127.0.0.1"
ip_address = "127.0.0.1"
ip_address = "::1"
dns_name = "localhost"
tls_www_server
signing_key
encryption_key
expiration_days = 30
EOF

# --no-text: some consumers choke on certtool's human-readable preamble (G9).
certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --no-text \
	--outfile ca.key 2>/dev/null
certtool --generate-self-signed --load-privkey ca.key --template ca.tmpl \
	--no-text --outfile ca.pem 2>/dev/null
certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --no-text \
	--outfile server.key 2>/dev/null
certtool --generate-certificate --load-privkey server.key \
	--load-ca-certificate ca.pem --load-ca-privkey ca.key \
	--template server.tmpl --no-text --outfile server.pem 2>/dev/null

rm -f ca.tmpl server.tmpl
chmod 644 ca.pem ca.key server.pem server.key
