"""`python -m gateway.cli`: the same tool as the `scim-gateway` command."""

import sys

from gateway.cli import main

sys.exit(main())
