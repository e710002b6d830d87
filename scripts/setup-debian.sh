#!/usr/bin/env bash
# Installs the Debian packages the test suite needs (idempotent). Run as root or with sudo.
#   python3-pykmip  PyKMIP 0.10: the independent client, reference server and codec the
#                   interop tests and the benchmark compare against (/usr/bin/python3)
#   softhsm2        a real PKCS#11 token for the HSM tests
#   opensc          pkcs11-tool, to inspect tokens by hand
#   openssl         s_client: an independent TLS client for the connection tests
#   curl            an independent HTTPS client with client certificates (KMIP over HTTPS tests)
set -euo pipefail
PACKAGES=(python3-pykmip python3-cryptography softhsm2 opensc openssl curl)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-debian: all packages present (${PACKAGES[*]})"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
echo "setup-debian: installing ${missing[*]}"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
