#!/usr/bin/env bash
# Installs what scim-gateway needs on Debian/Ubuntu, and only what is missing:
#   - slapd and ldap-utils (the directory the quick start and the tests run), without letting
#     Debian configure or start a system slapd;
#   - with --test, 389 Directory Server and a Samba AD DC (the tests start throwaway instances
#     of each, tests/directories/servers.py; no system service is configured or started);
#   - a virtualenv in .venv with the package (and, with --test, its test tools).
# A second run finds everything in place and takes about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
[ "${1:-}" = "--test" ] && extras="[test]"

if [ ! -x /usr/sbin/slapd ] || ! command -v ldapsearch >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "slapd and ldap-utils are missing; run this as root (or: sudo apt-get install slapd ldap-utils)" >&2
    exit 1
  fi
  echo "installing slapd and ldap-utils ..." >&2
  export DEBIAN_FRONTEND=noninteractive
  echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq slapd ldap-utils >/dev/null
fi

if [ -n "$extras" ]; then
  # dscreate (389-ds-base), samba-tool and samba (samba, samba-ad-dc, ...): only when missing.
  directory_packages="389-ds-base samba samba-ad-dc samba-ad-provision samba-dsdb-modules"
  if ! command -v dscreate >/dev/null 2>&1 || ! command -v samba-tool >/dev/null 2>&1 || [ ! -x /usr/sbin/samba ]; then
    if [ "$(id -u)" != 0 ]; then
      echo "the directory tests need: $directory_packages; run this as root (or apt-get install them)" >&2
      exit 1
    fi
    echo "installing $directory_packages (about a minute) ..." >&2
    export DEBIAN_FRONTEND=noninteractive
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      # Debian starts a package's services on install unless policy-rc.d says no: say no.
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
      chmod 755 /usr/sbin/policy-rc.d
      trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    apt-get update -qq
    apt-get install -y -qq $directory_packages >/dev/null
    if [ -d /run/systemd/system ]; then  # nor start them at the next boot
      systemctl disable --quiet smbd nmbd winbind samba-ad-dc 2>/dev/null || true
    fi
  fi
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  if ! "$python" -m venv .venv 2>/dev/null; then
    [ "$(id -u)" = 0 ] || { echo "python3-venv is missing; run as root or install it" >&2; exit 1; }
    apt-get install -y -qq python3-venv >/dev/null
    rm -rf .venv
    "$python" -m venv .venv
  fi
fi

# Reinstall only when the project's dependencies changed.
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)${extras:+-test}"
if [ ! -e "$stamp" ]; then
  echo "installing the gateway into .venv ..." >&2
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extras}"
  rm -f .venv/.installed-*
  touch "$stamp"
fi

# With --test: promtool, to check the shipped Prometheus alert rules (deploy/prometheus/). Only
# the one binary is unpacked from Debian's prometheus package into .venv/bin: no daemon, no
# service, about 3 s. Without it the tests fall back to a schema check of the rules.
if [ -n "$extras" ] && [ ! -x .venv/bin/promtool ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  unpack=$(mktemp -d)
  if (cd "$unpack" && { apt-get download prometheus >/dev/null 2>&1 || { apt-get update -qq && apt-get download prometheus >/dev/null; }; } \
      && dpkg-deb --fsys-tarfile prometheus_*.deb | tar -x ./usr/bin/promtool); then
    mv "$unpack/usr/bin/promtool" .venv/bin/promtool
  else
    echo "promtool could not be fetched; the alert rules get a schema check only" >&2
  fi
  rm -rf "$unpack"
fi
