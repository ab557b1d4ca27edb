#!/usr/bin/env bash
# The whole test suite, from a fresh Debian/Ubuntu machine: installs what is missing, lints,
# type-checks the gateway package (mypy), runs pytest (which starts its own slapd), then the LDAP tests
# a second time on the python-ldap client. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/install-deps.sh --test
.venv/bin/ruff check --quiet gateway tests deploy
.venv/bin/ruff format --check --quiet gateway tests deploy
.venv/bin/mypy
.venv/bin/python -m pytest -q "$@"
# The LDAP tests again on the optional python-ldap client (gateway/backends/ldap/libldap.py): the
# same requests, answers and directory states on both clients. (Of the fault tests, only the
# directory's: the others are about the HR API and HTTP clients, which no LDAP client touches.)
echo "the LDAP tests again, on the python-ldap client:"
SCIM_GATEWAY_LDAP_CLIENT=python-ldap exec .venv/bin/python -m pytest -q "$@" \
  tests/ldap tests/directories tests/entra tests/contract tests/faults/test_directory_faults.py tests/test_cli.py
