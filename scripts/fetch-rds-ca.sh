#!/usr/bin/env bash
# Puts the CA bundle the deployed functions verify the database with into the layer
# (layers/common/seamless/certs/database-ca-bundle.pem, DATABASE_SSLROOTCERT): run it before
# `sam build` for a deploy (`make rds-ca`). It holds
#   - Amazon RDS's global CA bundle: a connection straight to an RDS/Aurora instance, and
#   - Amazon Trust Services' root CAs 1-4: RDS Proxy endpoints present certificates from ACM,
#     which chain to those, not to the RDS CAs.
# Both are public; they are not committed so that a deploy always takes the current ones.
# Checks: every certificate is a CA certificate, issued to Amazon RDS or one of Amazon's root CAs;
# with RDS_CA_SHA256 set (a digest your security team pinned) the bundle's SHA-256 must match.
#   scripts/fetch-rds-ca.sh               download, check, install into the layer
#   scripts/fetch-rds-ca.sh --check FILE  only check a bundle (tests/unit/test_rds_ca.py)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=layers/common/seamless/certs/database-ca-bundle.pem
RDS_URL="${RDS_CA_URL:-https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem}"
AMAZON_ROOTS_URL="${AMAZON_ROOT_CA_URL:-https://www.amazontrust.com/repository}"

check() {
  local bundle="$1" parts count subject
  parts="$(mktemp -d)"
  count=$(grep -c 'BEGIN CERTIFICATE' "$bundle" || true)
  [ "$count" -gt 0 ] || { echo "fetch-rds-ca: no certificate in the bundle" >&2; rm -rf "$parts"; return 1; }
  awk -v dir="$parts" '/BEGIN CERTIFICATE/{n++} n{print > (dir "/" n ".pem")}' "$bundle"
  for cert in "$parts"/*.pem; do
    subject=$(openssl x509 -in "$cert" -noout -subject -nameopt RFC2253)
    case "$subject" in
      *"Amazon RDS"*) ;;
      "subject=CN=Amazon Root CA "[1-4]",O=Amazon,C=US") ;;
      *) echo "fetch-rds-ca: not an Amazon RDS or Amazon root CA certificate: $subject" >&2; rm -rf "$parts"; return 1 ;;
    esac
    openssl x509 -in "$cert" -noout -text | grep -q 'CA:TRUE' || { echo "fetch-rds-ca: not a CA: $subject" >&2; rm -rf "$parts"; return 1; }
  done
  rm -rf "$parts"
  if [ -n "${RDS_CA_SHA256:-}" ]; then
    echo "$RDS_CA_SHA256  $bundle" | sha256sum --check --status || { echo "fetch-rds-ca: digest differs from RDS_CA_SHA256" >&2; return 1; }
  fi
  echo "fetch-rds-ca: $count CA certificates, Amazon RDS and Amazon root CAs only (sha256 $(sha256sum "$bundle" | cut -d' ' -f1))"
}

if [ "${1:-}" = "--check" ]; then
  check "$2"
  exit
fi
tmp="$(mktemp)"
part="$(mktemp)"
trap 'rm -f "$tmp" "$part"' EXIT
fetch() { curl --fail --silent --show-error --proto '=https' --tlsv1.2 -o "$part" "$1"; cat "$part" >> "$tmp"; echo >> "$tmp"; }
fetch "$RDS_URL"
for n in 1 2 3 4; do
  fetch "$AMAZON_ROOTS_URL/AmazonRootCA$n.pem"
done
check "$tmp"
install -m 0644 "$tmp" "$OUT"
echo "fetch-rds-ca: installed $OUT"
