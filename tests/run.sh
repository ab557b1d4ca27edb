#!/usr/bin/env bash
# The whole test suite, from a fresh Debian/Ubuntu machine: installs what is missing, lints,
# type-checks the gateway package (mypy), runs pytest (which starts its own slapd). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/install-deps.sh --test
.venv/bin/ruff check --quiet gateway tests deploy
.venv/bin/mypy
exec .venv/bin/python -m pytest -q "$@"
