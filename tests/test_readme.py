"""The README's Python API section runs as written from the repository root."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _python_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Python API"):]
    section = section[:section.index("\n## ", 3)]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


@pytest.mark.slow
def test_readme_python_blocks_run(tmp_path):
    blocks = _python_blocks()
    assert len(blocks) >= 4
    (tmp_path / "tests").symlink_to(ROOT / "tests")  # "from the repository root", without writing into it
    script = "\n".join(blocks)
    p = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "12 models trained" in p.stdout and "397678568" in p.stdout
    assert (tmp_path / "notebook.html").stat().st_size > 10_000
    from dse.spaces import load_space

    assert load_space(tmp_path / "anynet_a_refined.toml").family == "anynet"
