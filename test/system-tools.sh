#!/bin/sh
# The Debian tools the test suite uses, installed when missing (npm test runs this first; so does CI):
# - softhsm2: the pkcs11 resolver against a real token (test/integration/pkcs11.test.ts);
# - shellcheck, systemd (systemd-analyze only, no running systemd): test/installer/;
# - strace, iproute2: the air-gapped proof (unshare --net, lo up, strace -f);
# - openssl: certificates and CAs made inside tests (mutual TLS), signature checks of the bundle;
# - curl, jq: the docs' curl walkthroughs, run as written (test/integration/docs-walkthrough.test.ts).
# As root it installs what is missing and says what; as another user it stops with the one line to run.
set -eu

missing=""
need() { command -v "$1" >/dev/null 2>&1 || missing="$missing $2"; }
need softhsm2-util softhsm2
need shellcheck shellcheck
need systemd-analyze systemd
need strace strace
need ip iproute2
need openssl openssl
need curl curl
need jq jq

[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "npm test needs Debian packages that are missing; run: sudo apt-get install -y$missing" >&2
  exit 1
fi
echo "== installing the Debian packages the tests need:$missing"
apt-get update -q
# shellcheck disable=SC2086 # one word per package
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
