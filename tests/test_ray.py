"""dse train --executor ray on a local Ray instance (CPU): results, a worker killed mid-model, Ctrl-C."""

import csv
import io
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

try:
    import ray  # noqa: F401
except ImportError:
    if os.environ.get("CI"):  # CI must run these: scripts/test.sh installs Ray
        raise
    pytest.skip("Ray is not installed (scripts/test.sh installs it)", allow_module_level=True)

# one Ray instance at a time: under pytest-xdist these tests run on one worker, one after another
pytestmark = pytest.mark.xdist_group("ray")

SYN = ["--dataset", "synthetic", "--resolution", "16", "--test-size", "64", "--budget", "2ep", "--plain"]


def _sweep(tmp_path, n, name="s"):
    rows = ["d1,d2,w1,w2,b1,b2,g1,g2,error"] + [f"1,2,16,{32 + 8 * i},1,1,8,8," for i in range(n)]
    (tmp_path / f"{name}.csv").write_text("\n".join(rows) + "\n")
    subprocess.run([sys.executable, "-m", "dse", "import", f"{name}.csv", "--sweep", name, "--db", "t.db"],
                   cwd=tmp_path, check=True, capture_output=True)


def _q(tmp_path, q):
    con = sqlite3.connect(tmp_path / "t.db")
    try:
        return con.execute(q).fetchall()
    finally:
        con.close()


def _train(tmp_path, *args):
    return subprocess.Popen([sys.executable, "-m", "dse", "train", "--db", "t.db", *SYN, *args], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _complete(tmp_path, sweep, n):
    st = _q(tmp_path, f"SELECT status, epochs, error IS NOT NULL FROM models WHERE sweep = '{sweep}'")
    assert st == [("done", 2, 1)] * n, st
    ep = _q(tmp_path, f"SELECT idx, epoch FROM epochs WHERE sweep = '{sweep}' ORDER BY idx, epoch")
    assert ep == [(i, e) for i in range(n) for e in (1, 2)]


@pytest.mark.slow
def test_ray_results_match_the_local_executor_in_form(tmp_path):
    _sweep(tmp_path, 4, "r")
    _sweep(tmp_path, 4, "l")
    p = _train(tmp_path, "--sweep", "r", "--train-size", "512", "--executor", "ray")
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    q = _train(tmp_path, "--sweep", "l", "--train-size", "512")
    assert q.wait(timeout=300) == 0
    _complete(tmp_path, "r", 4)
    _complete(tmp_path, "l", 4)
    exp = subprocess.run([sys.executable, "-m", "dse", "export", "--db", "t.db"], cwd=tmp_path, capture_output=True,
                         text=True).stdout
    rows = list(csv.DictReader(io.StringIO(exp)))
    filled = lambda r: {k for k, v in r.items() if v != ""}  # noqa: E731
    assert {frozenset(filled(r)) for r in rows} == {frozenset(filled(rows[0]))}
    assert {r["status"] for r in rows} == {"done"}


@pytest.mark.slow
def test_ray_worker_killed_mid_model_is_retried(tmp_path):
    _sweep(tmp_path, 4)
    p = _train(tmp_path, "--train-size", "4000", "--executor", "ray", "--max-concurrent", "1")
    def ours(pid):  # a descendant of this test's dse process (a previous test's Ray may still be shutting down)
        for _ in range(20):
            try:
                pid = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                return False
            if pid == p.pid:
                return True
            if pid <= 1:
                return False
        return False

    def training():
        ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
        return [int(line.split()[0]) for line in ps.splitlines() if "ray::_Trainer.train" in line
                and ours(int(line.split()[0]))]

    victim = None
    t = time.time()
    while victim is None and time.time() - t < 120:
        seen = training()
        time.sleep(0.5)  # well into a model, and still in the same one: kill it mid-model
        still = [p for p in training() if p in seen]
        if still:
            victim = still[0]
            os.kill(victim, signal.SIGKILL)
        time.sleep(0.1)
    assert victim, "no Ray worker was seen training"
    out, err = p.communicate(timeout=600)
    assert p.returncode == 0, err
    _complete(tmp_path, "s", 4)
    att = [a for (a,) in _q(tmp_path, "SELECT attempts FROM models ORDER BY idx")]
    assert sorted(att) == [1, 1, 1, 2]  # the killed model ran again, once


@pytest.mark.slow
def test_ray_interrupted_then_resumed_without_duplicates(tmp_path):
    _sweep(tmp_path, 5)
    p = _train(tmp_path, "--train-size", "2500", "--executor", "ray", "--max-concurrent", "1")
    t = time.time()
    while time.time() - t < 120 and not _q(tmp_path, "SELECT COUNT(*) FROM models WHERE status = 'done'")[0][0]:
        time.sleep(0.2)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130, (out, err)
    assert _q(tmp_path, "SELECT COUNT(*) FROM models WHERE status = 'running'")[0][0] == 0
    q = _train(tmp_path, "--train-size", "2500", "--executor", "ray")
    out, err = q.communicate(timeout=600)
    assert q.returncode == 0, err
    _complete(tmp_path, "s", 5)


@pytest.mark.slow
def test_the_address_check_knows_a_real_ray_head(tmp_path):
    """check_address asks Ray's own gRPC method (GetClusterId) of the GCS of a real local Ray instance."""
    import ray as _ray

    from dse.train.ray_executor import check_address

    ctx = _ray.init(include_dashboard=False, logging_level="error", num_cpus=1)
    try:
        t = time.monotonic()
        check_address(ctx.address_info["gcs_address"])  # raises when it is not taken for a Ray head
        assert time.monotonic() - t < 5
    finally:
        _ray.shutdown()


@pytest.mark.slow
def test_ray_trains_an_sr_sweep_to_a_psnr(tmp_path):
    """--executor ray on a super-resolution sweep: the actors load the photographs and train the SR networks (not
    classifiers), every model done with its epochs' PSNRs, as the local executor does."""
    import numpy as np
    from PIL import Image

    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (32, 40, 3), dtype=np.uint8)).save(photos / f"p{i}.png")
    subprocess.run([sys.executable, "-m", "dse", "sample", "--space", "sr_anynet", "-n", "2", "--db", "t.db"],
                   cwd=tmp_path, check=True, capture_output=True)
    p = subprocess.run([sys.executable, "-m", "dse", "train", "--db", "t.db", "--data-dir", str(photos), "--budget",
                        "150it", "--resolution", "8", "--executor", "ray", "--plain"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    st = _q(tmp_path, "SELECT status, epochs, error FROM models ORDER BY idx")
    assert [(s, e) for s, e, _ in st] == [("done", 2)] * 2 and all(10 < x < 60 for *_, x in st)
    assert _q(tmp_path, "SELECT COUNT(*) FROM epochs")[0][0] == 4
