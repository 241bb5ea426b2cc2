# Shared set-up for scripts/test.sh and scripts/demo.sh (sourced, not run).
# Creates or reuses a virtual environment and installs what is missing. Idempotent: a second run
# only checks a stamp and imports. Never pulls a CUDA build of torch on a machine without a GPU.
#   DSE_VENV          where the venv lives (default: .venv in the repository)
#   DSE_TORCH_SPEC    pip requirement for torch (default: the CPU build, or the default build with a GPU)
#   DSE_TORCH_INDEX   index for the CPU build when no local wheel is found
#                     (default: the PyTorch CPU wheel index)
set -euo pipefail
DSE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DSE_VENV="${DSE_VENV:-$DSE_ROOT/.venv}"
_py="${PYTHON:-python3}"

_log() { printf '[setup] %s\n' "$*" >&2; }

if [ ! -x "$DSE_VENV/bin/python" ]; then
  _log "creating virtual environment $DSE_VENV"
  if ! "$_py" -m venv "$DSE_VENV" 2>/dev/null; then
    rm -rf "$DSE_VENV"
    # Debian splits venv out of python3: install it when we may, else say what to do
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      _log "installing python3-venv (Debian)"
      apt-get update -qq >/dev/null && apt-get install -y -qq python3-venv >/dev/null
      "$_py" -m venv "$DSE_VENV"
    else
      _log "cannot create a virtual environment: install python3-venv (sudo apt-get install python3-venv)"
      exit 1
    fi
  fi
fi
_vpy="$DSE_VENV/bin/python"
_pip() { "$_vpy" -m pip --disable-pip-version-check -q "$@"; }

if ! "$_vpy" -c "import importlib.util as u, sys; sys.exit(u.find_spec('torch') is None)" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    _log "GPU found: installing torch (CUDA build)"
    _pip install "${DSE_TORCH_SPEC:-torch>=2.1}"
  else
    spec="${DSE_TORCH_SPEC:-torch==2.13.0}"
    _log "no GPU: installing the CPU build of torch ($spec)"
    # A CPU wheel on local disk (find-links) is used first; otherwise the PyTorch CPU index.
    # Never plain PyPI: on Linux x86_64 that is a multi-GB CUDA build.
    if _pip install --no-index --no-deps "$spec" 2>/dev/null; then
      _pip install "$spec"   # its dependencies, from the usual index
    else
      _pip install "$spec" --index-url "${DSE_TORCH_INDEX:-https://download.pytorch.org/whl/cpu}"
    fi
  fi
fi

_stamp="$DSE_VENV/.dse-setup"
_want="$(cat "$DSE_ROOT/setup.cfg" "$DSE_ROOT/scripts/_env.sh" | cksum)"
if [ "$(cat "$_stamp" 2>/dev/null)" != "$_want" ] || ! "$_vpy" -c "import importlib.util as u, sys; sys.exit(not all(map(u.find_spec, ('dse', 'pytest', 'rich'))))" 2>/dev/null; then
  _log "installing dse and its dependencies into $DSE_VENV"
  _pip install -e "$DSE_ROOT[test]"
  printf '%s' "$_want" > "$_stamp"
fi
export PATH="$DSE_VENV/bin:$PATH"
