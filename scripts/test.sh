#!/usr/bin/env bash
# Set up (venv, dependencies; idempotent) and run the test suite. Extra arguments go to pytest.
#   scripts/test.sh           the full suite (CI runs this; under 5 minutes on 2 cores)
#   scripts/test.sh --fast    the fast tier: everything but the tests marked slow (training several models, worker
#                             processes, Ray, browsers); under a minute on 2 cores
set -euo pipefail
MARK="not gpu"
if [ "${1:-}" = "--fast" ]; then
  MARK="not slow and not gpu"
  shift
fi
source "$(dirname "$0")/_env.sh"
cd "$DSE_ROOT"
# Ray is an optional extra (dse[ray]); its tests need it. Best effort: they skip, saying why, without it.
if ! python -c "import importlib.util as u, sys; sys.exit(u.find_spec('ray') is None)" 2>/dev/null; then
  python -m pip --disable-pip-version-check -q install "ray>=2.9" 2>/dev/null \
    || echo "[setup] Ray could not be installed here: the Ray executor's tests will be skipped" >&2
fi
# pycls's own config loader and builders check what dse export --pycls writes (tests/test_pycls.py). A test-only
# dependency without its own (opencv-python, simplejson): pycls's models and config import neither.
if ! python -c "import importlib.util as u, sys; sys.exit(u.find_spec('pycls') is None)" 2>/dev/null; then
  python -m pip --disable-pip-version-check -q install --no-deps "pycls==0.1.1" 2>/dev/null \
    || echo "[setup] pycls could not be installed here: the tests that load exports in pycls will be skipped" >&2
fi
# the linter first (pyproject.toml [tool.ruff]): a finding fails the run before the tests start
python -m ruff check dse tests scripts
# two processes on a 2-core machine, each on its own core (tests/conftest.py): much of the suite waits on
# subprocesses, signals and locks; tests that share a resource (one Ray instance) run on one worker (xdist_group).
# -p no:xdist runs serially. The gpu tests run in scripts/gpu_check.sh (on a GPU, or --dry-run on the CPU).
exec python -m pytest -q -rs -n 2 --dist loadgroup -m "$MARK" "$@"
