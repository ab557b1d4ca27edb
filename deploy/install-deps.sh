#!/usr/bin/env bash
# Installs what scim-gateway needs on Debian/Ubuntu, and only what is missing:
#   - slapd and ldap-utils (the directory the quick start and the tests run), without letting
#     Debian configure or start a system slapd;
#   - a virtualenv in .venv with the package (and, with --test, its test tools);
#   - with --test, nginx-light (`nginx -t` checks deploy/nginx.conf) and systemd-analyze (rates
#     deploy/scim-gateway.service), and 389 Directory Server and a Samba AD DC (the tests start
#     throwaway instances of each, tests/directories/servers.py), again without starting any service.
# A second run finds everything in place and takes about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
# --test: the test tools, and python-ldap (the optional LDAP client, gateway/backends/ldap/libldap.py),
# which tests/run.sh runs the LDAP tests on a second time.
[ "${1:-}" = "--test" ] && extras="[test,python-ldap]"

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
  missing=""
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$missing nginx-light"
  command -v systemd-analyze >/dev/null 2>&1 || missing="$missing systemd"
  # A throwaway Redis: the shared store for rate limits across workers (tests/web/test_shared_limits.py).
  [ -x /usr/bin/redis-server ] || missing="$missing redis-server"
  # 389 DS and Samba AD for tests/directories
  command -v dscreate >/dev/null 2>&1 || missing="$missing 389-ds-base"
  command -v samba-tool >/dev/null 2>&1 || missing="$missing samba samba-ad-provision samba-dsdb-modules"
  [ -x /usr/sbin/samba ] || missing="$missing samba-ad-dc"
  # python-ldap builds against OpenLDAP's and Cyrus SASL's headers (and a C compiler)
  [ -e /usr/include/ldap.h ] || missing="$missing libldap2-dev"
  [ -e /usr/include/sasl/sasl.h ] || missing="$missing libsasl2-dev"
  command -v gcc >/dev/null 2>&1 || missing="$missing gcc"
  python_headers=$("${PYTHON:-python3}" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
  [ -e "$python_headers/Python.h" ] || missing="$missing python3-dev"
  if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
      echo "the tests want$missing; run this as root (or: sudo apt-get install$missing)" >&2
      exit 1
    fi
    echo "installing$missing ..." >&2
    # Debian starts a service it installs; a test machine wants none running (policy-rc.d says no).
    made_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq $missing >/dev/null || status=$?
    [ -z "$made_policy" ] || rm -f /usr/sbin/policy-rc.d
    [ "${status:-0}" = 0 ] || exit "$status"
    if [ -d /run/systemd/system ]; then  # nor at the next boot: the tests start their own Samba
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
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)${extras:+-test-ldap}"
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
