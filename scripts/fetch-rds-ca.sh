#!/usr/bin/env bash
# Puts Amazon RDS's global CA bundle into the layer (layers/common/seamless/certs/), where the
# deployed functions' DATABASE_SSLROOTCERT points: run it before `sam build` for a deploy
# (`make rds-ca`). The bundle is public; it is not committed so that a deploy always takes
# the current one. Checks: every certificate in it is a CA whose subject names Amazon RDS; with
# RDS_CA_SHA256 set (the digest your security team pinned), the file's SHA-256 must match.
#   scripts/fetch-rds-ca.sh               download, check, install into the layer
#   scripts/fetch-rds-ca.sh --check FILE  only check a bundle (tests/unit/test_rds_ca.py)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=layers/common/seamless/certs/rds-global-bundle.pem
URL="${RDS_CA_URL:-https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem}"

check() {
  local bundle="$1" parts count subject
  parts="$(mktemp -d)"
  count=$(grep -c 'BEGIN CERTIFICATE' "$bundle" || true)
  [ "$count" -gt 0 ] || { echo "fetch-rds-ca: no certificate in the bundle" >&2; rm -rf "$parts"; return 1; }
  awk -v dir="$parts" '/BEGIN CERTIFICATE/{n++} n{print > (dir "/" n ".pem")}' "$bundle"
  for cert in "$parts"/*.pem; do
    subject=$(openssl x509 -in "$cert" -noout -subject)
    case "$subject" in *"Amazon RDS"*) ;; *) echo "fetch-rds-ca: not an Amazon RDS certificate: $subject" >&2; rm -rf "$parts"; return 1 ;; esac
    openssl x509 -in "$cert" -noout -text | grep -q 'CA:TRUE' || { echo "fetch-rds-ca: not a CA: $subject" >&2; rm -rf "$parts"; return 1; }
  done
  rm -rf "$parts"
  if [ -n "${RDS_CA_SHA256:-}" ]; then
    echo "$RDS_CA_SHA256  $bundle" | sha256sum --check --status || { echo "fetch-rds-ca: digest differs from RDS_CA_SHA256" >&2; return 1; }
  fi
  echo "fetch-rds-ca: $count Amazon RDS CA certificates (sha256 $(sha256sum "$bundle" | cut -d' ' -f1))"
}

if [ "${1:-}" = "--check" ]; then
  check "$2"
  exit
fi
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
curl --fail --silent --show-error --proto '=https' --tlsv1.2 -o "$tmp" "$URL"
check "$tmp"
install -m 0644 "$tmp" "$OUT"
echo "fetch-rds-ca: installed $OUT"
