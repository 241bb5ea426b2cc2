"""scripts/demo.sh runs a whole (tiny) study end to end: DSE_DEMO_QUICK=1."""

import os
import subprocess
import sys
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
    # idempotent: sampling and training again (the demo's own commands on its store) add nothing
    env2 = {**env, "DSE_DB": str(tmp_path / "demo" / "dse.sqlite")}
    dse_cmd = [str(Path(sys.executable).with_name("dse"))]
    regime = ["--flops", "2M:8M", "--resolution", "28", "--stem", "cifar", "--in-channels", "1", "--num-classes", "10"]
    p2 = subprocess.run(dse_cmd + ["sample", "--space", "anynet_a", "-n", "4", *regime], capture_output=True, text=True,
                        env=env2, cwd=tmp_path, timeout=120)
    p3 = subprocess.run(dse_cmd + ["train", "--budget", "1ep", "--train-size", "1000", "--test-size", "300",
                                   "--data-dir", env["DSE_DEMO_DATA_DIR"], "--plain"], capture_output=True, text=True,
                        env=env2, cwd=tmp_path, timeout=120)
    assert p2.returncode == 0 and "already holds 4 models" in p2.stdout, p2.stderr
    assert p3.returncode == 0 and "nothing pending" in p3.stdout, p3.stderr
