"""dse train: real data, crash safety (SIGKILL, Ctrl-C), shared work, protocol, bad input."""

import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent / "data" / "fashion-mnist"


def _population(path: Path, n: int, depth=(1, 1)):
    rows = ["d1,d2,w1,w2,b1,b2,g1,g2,error"]
    for i in range(n):
        rows.append(f"{depth[0]},{depth[1]},{16 + 8 * (i % 3)},{32 + 8 * i},1,1,8,8,")
    path.write_text("\n".join(rows) + "\n")


def _imported(tmp_path: Path, n: int, depth=(1, 1)) -> Path:
    """A pending population of n tiny models imported as sweep 's' into tmp_path/t.db."""
    _population(tmp_path / "p.csv", n, depth)
    subprocess.run([sys.executable, "-m", "dse", "import", "p.csv", "--sweep", "s", "--db", "t.db"], cwd=tmp_path,
                   check=True, capture_output=True)
    return tmp_path / "t.db"


def _db_rows(db, q, *a):
    con = sqlite3.connect(db)
    try:
        return con.execute(q, a).fetchall()
    finally:
        con.close()


def _default_sigint():
    """In the child before exec: SIGINT back to its default, so Python turns it into KeyboardInterrupt even when the
    suite runs from a job that ignores SIGINT (a background job of a script inherits SIG_IGN through exec)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _dse(*args, cwd):
    return subprocess.Popen([sys.executable, "-m", "dse", *map(str, args)], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "DSE_DB": "t.db"},
                            preexec_fn=_default_sigint)


# one in-process worker unless a test says otherwise (auto would choose worker processes on an unpinned 2-core run)
SYN = ["--workers-per-gpu", "1", "--dataset", "synthetic", "--resolution", "16", "--train-size", "1024",
       "--test-size", "128", "--budget", "3ep", "--plain"]


@pytest.mark.slow
def test_real_fashion_mnist_far_below_chance(run, tmp_path):
    (tmp_path / "one.csv").write_text("d1,d2,d3,w1,w2,w3,b1,b2,b3,g1,g2,g3,error\n1,3,4,16,40,96,1,1,1,8,8,8,\n")
    assert run("import", "one.csv", "--sweep", "fm", "--resolution", "28", "--stem", "cifar", "--in-channels", "1",
               "--num-classes", "10")[0] == 0
    code, out, err = run("train", "--data-dir", DATA, "--budget", "4ep", "--no-augment", "--plain")
    assert code == 0, err
    assert "3,000 train / 600 test images 1x28x28" in out
    rows = list(csv.DictReader(io.StringIO(run("export")[1])))
    assert rows[0]["status"] == "done" and float(rows[0]["error"]) < 35  # chance is 90%
    assert float(rows[0]["best_error"]) <= float(rows[0]["error"]) and rows[0]["epochs"] == "4"
    ep = list(csv.DictReader(io.StringIO(run("export", "--epochs")[1])))
    assert [r["epoch"] for r in ep] == ["1", "2", "3", "4"]
    assert list(ep[0]) == ["sweep", "id", "epoch", "train_loss", "train_error", "test_error", "lr", "seconds",
                           "images_per_s"]
    assert float(ep[-1]["test_error"]) == float(rows[0]["error"])
    assert float(ep[0]["lr"]) > float(ep[-1]["lr"]) > 0
    # complexity at the training resolution is stored too
    tr = _db_rows(tmp_path / "dse.sqlite", "SELECT flops, train_flops, train_params FROM models")[0]
    assert tr[1] == tr[0] and tr[2] > 0  # imported at 28 px / 1 channel / 10 classes: the same
    code, out, _ = run("status", "--json")
    assert json.loads(out)[0]["done"] == 1 and json.loads(out)[0]["protocol"]["budget"] == "4ep"


def _wait(pred, timeout=120):
    t = time.time()
    while time.time() - t < timeout:
        if pred():
            return True
        time.sleep(0.1)
    return False


def _check_complete(db, n, epochs=3):
    st = _db_rows(db, "SELECT idx, status, epochs, error FROM models ORDER BY idx")
    assert [s[1] for s in st] == ["done"] * n, st
    assert all(s[2] == epochs and s[3] is not None for s in st)
    ep = _db_rows(db, "SELECT idx, epoch FROM epochs ORDER BY idx, epoch")
    assert ep == [(i, e) for i in range(n) for e in range(1, epochs + 1)]  # complete, each exactly once


@pytest.mark.slow
def test_sigkill_mid_sweep_then_resume(tmp_path):
    db = _imported(tmp_path, 5, depth=(2, 3))
    p = _dse("train", *SYN, cwd=tmp_path)
    ok = _wait(lambda: _db_rows(db, "SELECT COUNT(*) FROM models WHERE status = 'done'")[0][0] >= 1 and
               _db_rows(db, "SELECT COUNT(*) FROM epochs e JOIN models m USING (sweep, idx) "
                            "WHERE m.status = 'running'")[0][0] >= 1)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert ok, p.stderr.read()
    killed = _db_rows(db, "SELECT idx FROM models WHERE status = 'running'")
    assert len(killed) == 1
    q = _dse("train", *SYN, cwd=tmp_path)  # the dead holder is on this host: its model is reclaimed at once
    out, err = q.communicate(timeout=300)
    assert q.returncode == 0, err
    _check_complete(db, 5)
    att = dict(_db_rows(db, "SELECT idx, attempts FROM models"))
    assert att[killed[0][0]] == 2 and sum(att.values()) == 6


@pytest.mark.slow
def test_ctrl_c_gives_the_model_back(tmp_path):
    db = _imported(tmp_path, 3, depth=(2, 3))
    p = _dse("train", *SYN, cwd=tmp_path)
    assert _wait(lambda: _db_rows(db, "SELECT COUNT(*) FROM epochs")[0][0] >= 1)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130 and "run the same command again" in out, (out, err)
    assert _db_rows(db, "SELECT COUNT(*) FROM models WHERE status = 'running'")[0][0] == 0
    # no partial epochs of unfinished models are left behind
    assert _db_rows(db, "SELECT COUNT(*) FROM epochs e JOIN models m USING (sweep, idx) "
                        "WHERE m.status != 'done'")[0][0] == 0
    q = _dse("train", *SYN, cwd=tmp_path)
    assert q.wait(timeout=300) == 0
    _check_complete(db, 3)


@pytest.mark.slow
def test_processes_share_the_work(tmp_path, all_cores):
    """Two `dse train` commands on one store, one of them with two worker processes: every model trained
    exactly once, and both commands trained some (the store records which process trained each model)."""
    n, short = 12, [*SYN[:-3], "--train-size", "512", "--budget", "3ep", "--plain"]  # less work, same sharing
    db = _imported(tmp_path, n, depth=(2, 3))
    a = _dse("train", *short, "--device", "cpu", "--workers-per-gpu", "2", cwd=tmp_path)
    assert _wait(lambda: _db_rows(db, "SELECT COUNT(*) FROM models WHERE status = 'running'")[0][0] >= 1)
    b = _dse("train", *short, "--workers-per-gpu", "1", cwd=tmp_path)  # (auto could choose worker processes too)
    for p in (a, b):
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    _check_complete(db, n)
    assert sum(a for (a,) in _db_rows(db, "SELECT attempts FROM models")) == n
    pids = [int(w.rpartition(":")[2]) for (w,) in _db_rows(db, "SELECT worker FROM models")]
    assert b.pid in pids  # the second command (in-process worker) trained models
    assert len(set(pids) - {b.pid, a.pid}) >= 1  # and so did the first command's worker processes


def test_protocol_and_bad_input(run, tmp_path):
    _population(tmp_path / "p.csv", 1)
    run("import", "p.csv", "--sweep", "s")
    base = SYN[:-3]  # without --budget 3ep --plain
    code, out, err = run("train", *base, "--budget", "1ep", "--plain")
    assert code == 0, err
    code, _, err = run("train", *base, "--budget", "2ep")
    assert code == 2 and "another protocol: budget '1ep' (stored) vs '2ep' (now)" in err and "--sweep s-2" in err
    code, out, _ = run("train", *base, "--budget", "1ep")
    assert code == 0 and "nothing pending" in out
    code, out, _ = run("status", "--models", "--json")
    m = json.loads(out)[0]
    assert m["status"] == "done" and m["epochs"] == 1 and m["device"] == "cpu" and m["error"] is not None
    cases = [
        (["--data-dir", tmp_path / "nowhere", "--sweep", "s"], "Fashion-MNIST not found in"),
        (["--dataset", "cifar10"], "cifar10 needs --data-dir"),
        (["--dataset", "cifar10", "--data-dir", tmp_path], "CIFAR-10 batches not found"),
        (["--dataset", "imagefolder", "--data-dir", tmp_path], "imagefolder needs"),
        (["--budget", "ten"], "--budget: cannot read 'ten'"),
        (["--device", "cuda"], "CUDA is not available"),
        (["--sweep", "zzz"], "unknown sweep 'zzz'"),
        (["--resolution", "32"], "--resolution applies to imagefolder and synthetic"),
    ]
    for args, needle in cases:
        code, _, err = run("train", *args)
        assert code == 2 and needle in err and "Traceback" not in err, (args, err)
    _, _, err = run("train", "--data-dir", tmp_path / "nowhere")
    assert "apt-get install dataset-fashion-mnist" in err


def test_lease_expiry_and_dead_holders(tmp_path):
    from dse.spaces import Regime
    from dse.store import Store
    from dse.spaces.sweeps import import_sweep

    _population(tmp_path / "p.csv", 2)
    s = Store(tmp_path / "x.db")
    import_sweep(s, tmp_path / "p.csv", "s", Regime((0, 0), 16, "cifar", 3, 10))
    m = s.claim(["s"], "elsewhere:1", lease_s=0.2)
    assert m.idx == 0
    assert s.claim(["s"], "me:2", lease_s=60).idx == 1  # the other one
    assert s.claim(["s"], "me:2", lease_s=60) is None
    time.sleep(0.3)
    again = s.claim(["s"], "me:3", lease_s=60)  # the lease of elsewhere:1 expired
    assert again.idx == 0 and again.attempts == 2
    assert not s.add_epoch("s", 0, "elsewhere:1", {"epoch": 1, "train_loss": 1, "train_error": 1, "test_error": 1,
                                                   "lr": 0.1, "seconds": 1, "images_per_s": 1}, 60)
    assert not s.finish("s", 0, "elsewhere:1", "done", 1.0)  # the old holder cannot write any more
    assert s.finish("s", 0, "me:3", "done", 12.5, 12.0, 1, 3.0)
    # a holder on this host that no longer exists: its model is reclaimed at once
    from dse.store.db import HOST

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    s.release("s", 1, "me:2")
    assert s.claim(["s"], f"{HOST}:{dead.pid}", lease_s=600).idx == 1
    assert s.claim(["s"], "me:4", lease_s=60).idx == 1


def _cifar_dir(root: Path, n=64):
    import pickle

    import numpy as np

    d = root / "cifar-10-batches-py"
    d.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(d / name, "wb") as f:
            pickle.dump({b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                         b"labels": rng.integers(0, 10, n).tolist()}, f)


def test_cifar10_and_imagefolder_loaders(run, tmp_path):
    import numpy as np
    from PIL import Image

    from dse.train.data import load_cifar10, load_imagefolder

    _cifar_dir(tmp_path / "c")
    c = load_cifar10(tmp_path / "c")
    assert c.x_train.shape == (320, 3, 32, 32) and c.x_test.shape == (64, 3, 32, 32) and c.num_classes == 10
    assert load_cifar10(tmp_path / "c" / "cifar-10-batches-py").x_train.shape == c.x_train.shape
    rng = np.random.default_rng(0)
    for split, n in (("train", 6), ("val", 2)):
        for cls in ("cat", "dog", "eel"):
            (tmp_path / "f" / split / cls).mkdir(parents=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 256, (50 + i, 70, 3), dtype=np.uint8)).save(
                    tmp_path / "f" / split / cls / f"{i}.png")
    f = load_imagefolder(tmp_path / "f", 40)
    assert f.x_train.shape == (18, 3, 40, 40) and f.x_test.shape == (6, 3, 40, 40) and f.num_classes == 3
    assert f.y_train.tolist() == [0] * 6 + [1] * 6 + [2] * 6
    # both train end to end
    (tmp_path / "p.csv").write_text("d1,d2,w1,w2,b1,b2,g1,g2,error\n1,1,16,32,1,1,8,8,\n")
    run("import", "p.csv", "--sweep", "c")
    run("import", "p.csv", "--sweep", "f")
    code, out, err = run("train", "--sweep", "c", "--dataset", "cifar10", "--data-dir", tmp_path / "c", "--budget",
                         "1ep", "--batch-size", "64", "--plain")
    assert code == 0 and "320 train / 64 test images 3x32x32" in out, err
    code, out, err = run("train", "--sweep", "f", "--dataset", "imagefolder", "--data-dir", tmp_path / "f",
                         "--resolution", "72", "--budget", "2it", "--batch-size", "8", "--plain")
    assert code == 0 and "18 train / 6 test images 3x72x72, 3 classes" in out, err
    (tmp_path / "f" / "val" / "fox").mkdir()
    code, _, err = run("train", "--sweep", "f", "--dataset", "imagefolder", "--data-dir", tmp_path / "f")
    assert code == 2 and "classes not in train/: fox" in err


@pytest.mark.slow
def test_sigkill_resumes_from_checkpoint(tmp_path):
    """With --checkpoint-every-epoch a killed model continues after its last saved epoch."""
    db = _imported(tmp_path, 2, depth=(2, 4))
    args = [a if a != "3ep" else "4ep" for a in SYN] + ["--checkpoint-every-epoch"]
    p = _dse("train", *args, cwd=tmp_path)
    assert _wait(lambda: _db_rows(db, "SELECT COUNT(*) FROM epochs WHERE idx = 0")[0][0] >= 2)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert list((tmp_path / "t.db.ckpt" / "s").glob("0.pt"))
    q = _dse("train", *args, cwd=tmp_path)
    out, err = q.communicate(timeout=300)
    assert q.returncode == 0 and "s/0 resumes after epoch" in out, (out, err)
    _check_complete(db, 2, epochs=4)
    assert not list((tmp_path / "t.db.ckpt" / "s").glob("*.pt"))  # checkpoints of finished models are removed


def test_ray_missing_says_how_to_install(run, tmp_path, monkeypatch):
    import sys as _sys

    _population(tmp_path / "p.csv", 1)
    run("import", "p.csv", "--sweep", "s")
    monkeypatch.setitem(_sys.modules, "ray", None)  # import ray -> ImportError
    code, _, err = run("train", "--executor", "ray", "--dataset", "synthetic")
    assert code == 2 and "pip install 'dse[ray]'" in err


def test_a_failing_model_is_recorded_and_the_worker_goes_on(run, tmp_path):
    # batch of 1 image: BatchNorm cannot train on a 1x1 map of one sample (5 stride-2 stages on 16 px),
    # while the 2-stage model next to it trains fine
    (tmp_path / "p.csv").write_text(
        "d1,d2,d3,d4,d5,w1,w2,w3,w4,w5,b1,b2,b3,b4,b5,g1,g2,g3,g4,g5,error\n"
        "1,1,1,1,1,16,16,16,16,16,1,1,1,1,1,8,8,8,8,8,\n"
        "1,1,,,,16,32,,,,1,1,,,,8,8,,,,\n")
    assert run("import", "p.csv", "--sweep", "f")[0] == 0
    code, out, err = run("train", "--dataset", "synthetic", "--resolution", "16", "--train-size", "1", "--batch-size",
                         "1",
                         "--test-size", "4", "--budget", "1ep", "--plain")
    assert code == 0, err
    assert "f/0 failed" in out and "finished: 1 done, 1 failed" in out
    code, out, _ = run("status", "--models", "--json")
    rows = json.loads(out)
    assert rows[0]["status"] == "failed" and "ValueError" in rows[0]["reason"]
    assert rows[1]["status"] == "done"
    code, out, _ = run("status")
    assert "f/0 failed: ValueError" in out


@pytest.mark.slow
def test_ctrl_c_with_worker_processes(tmp_path, all_cores):
    """SIGINT to the parent of two worker processes: it is forwarded, both give their models back."""
    db = _imported(tmp_path, 6, depth=(2, 3))
    p = _dse("train", *SYN, "--device", "cpu", "--workers-per-gpu", "2", cwd=tmp_path)
    assert _wait(lambda: _db_rows(db, "SELECT COUNT(*) FROM epochs")[0][0] >= 2)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=90)
    assert p.returncode == 130, (out, err)
    assert _db_rows(db, "SELECT COUNT(*) FROM models WHERE status = 'running'")[0][0] == 0
    q = _dse("train", *SYN, cwd=tmp_path)
    assert q.wait(timeout=300) == 0
    _check_complete(db, 6)
