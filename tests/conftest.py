import contextlib
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def cli(cwd, *args):
    """Run the CLI in-process in folder ``cwd``: (exit_code, stdout, stderr). Session fixtures build with it."""
    from dse.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    old = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main([str(a) for a in args])
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        os.chdir(old)
    return code, out.getvalue(), err.getvalue()


def copy_study(src: Path, dst: Path) -> Path:
    """A built study's folder (its store and the files beside it) copied into ``dst``, for a test that writes."""
    for p in src.iterdir():
        if p.is_file():
            shutil.copy2(p, dst / p.name)
    return dst


@pytest.fixture
def run(tmp_path, monkeypatch):
    """Run the CLI in-process; returns (exit_code, stdout, stderr). The store defaults to tmp_path."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DSE_DB", raising=False)
    return lambda *args: cli(tmp_path, *args)


@pytest.fixture
def dse_exe():
    """Run the installed console script in a subprocess: (returncode, stdout, stderr)."""
    exe = Path(sys.executable).with_name("dse")

    def _run(*args, cwd=None, env=None):
        e = dict(os.environ)
        e.pop("DSE_DB", None)
        e.update(env or {})
        p = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, cwd=cwd, env=e)
        return p.returncode, p.stdout, p.stderr

    return _run
