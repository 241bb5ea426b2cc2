#!/usr/bin/env bash
# Set up (venv, dependencies; idempotent) and run the test suite. Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "$0")/_env.sh"
cd "$DSE_ROOT"
# Ray is an optional extra (dse[ray]); its tests need it. Best effort: they skip, saying why, without it.
if ! python -c "import importlib.util as u, sys; sys.exit(u.find_spec('ray') is None)" 2>/dev/null; then
  python -m pip --disable-pip-version-check -q install "ray>=2.9" 2>/dev/null \
    || echo "[setup] Ray could not be installed here: the Ray executor's tests will be skipped" >&2
fi
exec python -m pytest -q -rs "$@"
