#!/usr/bin/env bash
# Set up (venv, dependencies; idempotent) and run the test suite. Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "$0")/_env.sh"
cd "$DSE_ROOT"
exec python -m pytest -q "$@"
