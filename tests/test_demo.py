"""scripts/demo.sh runs a whole (tiny) study end to end: DSE_DEMO_QUICK=1."""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_demo_quick(tmp_path):
    env = {**os.environ, "DSE_DEMO_QUICK": "1", "DSE_DEMO_DIR": str(tmp_path / "demo"),
           "DSE_DEMO_DATA_DIR": str(ROOT / "tests" / "data" / "fashion-mnist")}
    env.pop("DSE_DB", None)
    p = subprocess.run(["bash", str(ROOT / "scripts" / "demo.sh")], capture_output=True, text=True, env=env,
                       cwd=tmp_path, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    out = p.stdout
    for needle in ("== dse sample --space anynet_a", "4 models accepted", "finished: 8 done",
                   "two-sample Kolmogorov-Smirnov", "bootstrap of the best model's value", "refinement of anynet_a",
                   "log10 size of the space", "wrote " + str(tmp_path / "demo" / "report.html")):
        assert needle in out, needle
    for f in ("report.html", "edf.png", "bootstrap.png", "anynet_a_refined.toml", "dse.sqlite"):
        assert (tmp_path / "demo" / f).stat().st_size > 0, f
    # idempotent: a second run samples and trains nothing more
    p2 = subprocess.run(["bash", str(ROOT / "scripts" / "demo.sh")], capture_output=True, text=True, env=env,
                        cwd=tmp_path, timeout=600)
    assert p2.returncode == 0 and "already holds 4 models" in p2.stdout and "nothing pending" in p2.stdout
