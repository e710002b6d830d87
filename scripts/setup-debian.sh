#!/usr/bin/env bash
# Installs the Debian packages the test suite needs (idempotent). Run as root or with sudo.
#   python3-pykmip  PyKMIP 0.10: the independent client, reference server and codec the
#                   interop tests and the benchmark compare against (/usr/bin/python3)
#   softhsm2        a real PKCS#11 token for the HSM tests
#   opensc          pkcs11-tool, to inspect tokens by hand
#   openssl         s_client: an independent TLS client for the connection tests
#   curl            an independent HTTPS client with client certificates (KMIP over HTTPS tests)
#   chromium        the browser the web console tests drive headless (playwright-core, test/ui/)
#   python3-pytest, python3-testtools, dpkg-dev
#                   run PyKMIP's own integration suite (kmip/tests/integration), which comes
#                   from Debian's source package python-pykmip (deb-src entry below), fetched
#                   with `apt-get source` into .cache/python-pykmip (git-ignored; see
#                   test/interop/pykmip-integration.test.ts)
#   postgresql-15   the PostgreSQL store's tests (a throwaway server per test run, started as the
#                   `postgres` user from /usr/lib/postgresql/15/bin) and the cluster
#   patroni, etcd-server, haproxy
#                   scripts/cluster.sh: a replicated PostgreSQL managed by Patroni (etcd as its
#                   DCS) behind HAProxy, with several kms nodes (the failover test, docs/cluster.md)
set -euo pipefail
PACKAGES=(python3-pykmip python3-cryptography softhsm2 opensc openssl curl chromium python3-pytest python3-testtools dpkg-dev postgresql-15 patroni etcd-server haproxy)
REPO="$(cd "$(dirname "$0")/.." && pwd)"
PYKMIP_SRC="$REPO/.cache/python-pykmip"
DEB_SRC=/etc/apt/sources.list.d/kms-deb-src.sources
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-debian: all packages present (${PACKAGES[*]})"
else
  echo "setup-debian: installing ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# PyKMIP's integration suite: Debian 12's source package, from the same mirror as the binaries.
if [ -d "$PYKMIP_SRC/kmip/tests/integration" ]; then
  echo "setup-debian: PyKMIP sources present ($PYKMIP_SRC)"
  exit 0
fi
if [ ! -f "$DEB_SRC" ]; then
  echo "setup-debian: adding the bookworm deb-src entry ($DEB_SRC)"
  $SUDO tee "$DEB_SRC" >/dev/null <<'SOURCES'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
fi
if ! apt-cache showsrc python-pykmip 2>/dev/null | grep -q '^Package: python-pykmip'; then
  $SUDO apt-get update -qq
fi
work="$(mktemp -d)"
chmod 755 "$work"   # apt's download user must be able to write there
trap 'rm -rf "$work"' EXIT
echo "setup-debian: fetching the python-pykmip source package"
(cd "$work" && apt-get source -qq python-pykmip)
unpacked="$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'python-pykmip-*' | head -n 1)"
if [ -z "$unpacked" ] || [ ! -d "$unpacked/kmip/tests/integration" ]; then
  echo "setup-debian: the python-pykmip source package has no kmip/tests/integration" >&2
  exit 1
fi
mkdir -p "$REPO/.cache"
rm -rf "$PYKMIP_SRC"
mv "$unpacked" "$PYKMIP_SRC"
echo "setup-debian: PyKMIP sources in $PYKMIP_SRC ($(dpkg-parsechangelog -l "$PYKMIP_SRC/debian/changelog" -S Version 2>/dev/null || echo unknown version))"
