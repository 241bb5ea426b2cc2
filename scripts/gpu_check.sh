#!/usr/bin/env bash
# The GPU check: correctness, speed and a mini-study on the first CUDA machine, in one command.
#   scripts/gpu_check.sh [--out DIR] [--quick] [--dry-run]
# Installs nothing from the network: it uses the torch already there (exit 2 with a message when torch or, unless
# --dry-run, CUDA is missing) and runs dse from this tree. Data: synthetic images and the Fashion-MNIST subset in
# tests/data. Full run <= 8 minutes, --quick <= 3, --dry-run (CPU, tiny sizes, what CI runs) 1-2 on a quiet machine
# (its step limits allow a machine 4x slower: they only stop a hang).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then PY="$ROOT/.venv/bin/python"; else PY="$(command -v python3 || command -v python)"; fi
fi
dry=0
for a in "$@"; do [ "$a" = "--dry-run" ] && dry=1; done
if ! "$PY" -c "import torch" 2>/dev/null; then
  echo "gpu_check: torch is not installed for $PY; install the CUDA build of PyTorch first (this script installs nothing)" >&2
  exit 2
fi
if [ "$dry" = 0 ] && ! "$PY" -c "import sys, torch; sys.exit(not torch.cuda.is_available())" 2>/dev/null; then
  echo "gpu_check: no CUDA device visible to torch $("$PY" -c 'import torch; print(torch.__version__)'); run on a GPU machine, or --dry-run to rehearse on the CPU" >&2
  exit 2
fi
for m in numpy scipy click pandas matplotlib rich pytest; do
  if ! "$PY" -c "import $m" 2>/dev/null; then
    echo "gpu_check: $m is missing for $PY (dse's dependencies must be installed: pip install --no-deps -e . does not bring them)" >&2
    exit 2
  fi
done
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"   # dse from this tree, installed or not
exec "$PY" "$ROOT/scripts/gpu_check.py" "$@"
