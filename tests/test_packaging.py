"""Built-in spaces and dse serve's page are found from a regular (non-editable) install too."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_install_finds_builtin_spaces(tmp_path):
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", str(ROOT), "-w", str(tmp_path / "w")],
                   check=True, cwd=tmp_path, capture_output=True)
    wheel = next((tmp_path / "w").glob("dse-*.whl"))
    subprocess.run([*pip, "install", "--no-deps", "--ignore-installed", "--prefix", str(tmp_path / "p"), str(wheel)],
                   check=True,
                   capture_output=True)
    site = next((tmp_path / "p").glob("lib/python*/site-packages"))
    env = dict(os.environ, PYTHONPATH=str(site))
    probe = ("import dse; from dse.spaces import builtin_dir, builtin_names; print(dse.__file__); "
             "print(builtin_dir()); print(len(builtin_names())); from dse.serve.views import _page_file; "
             "print(sum(len(_page_file(f)) > 300 for f in ('page.html', 'page.js', 'page.css')))")
    p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert p.returncode == 0, p.stderr
    file, folder, n, pages = p.stdout.split()
    n_files = len(list((ROOT / "spaces").glob("*.toml")))
    assert file.startswith(str(site)) and folder == str(tmp_path / "p" / "share" / "dse" / "spaces")
    assert n == str(n_files)
    assert pages == "3"  # the page's HTML, script and style are package data
