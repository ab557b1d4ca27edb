#!/usr/bin/env bash
# Starts scim-gateway in front of a throwaway OpenLDAP (or, with --backend hr-rest, the reference
# legacy HR REST API) and prints the Tenant URL and the Secret Token to paste into the Azure
# portal. Ctrl-C stops everything.
#   ./deploy/quickstart.sh [--port 8080] [--host 127.0.0.1] [--fresh] [--backend ldap|hr-rest]
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/install-deps.sh
exec .venv/bin/python -m deploy.quickstart "$@"
