"""The GPU path, checked on a GPU: the captured step against the eager one, that the graph really replays,
learning on real data, resume, divergence, `dse speed --device cuda`, two `dse train` processes sharing a sweep
with several workers per GPU, and Ray with fractional GPUs.

Marked ``gpu``: skipped without CUDA ("no CUDA device"). ``scripts/gpu_check.sh`` runs them on the GPU;
``scripts/gpu_check.sh --dry-run`` (DSE_GPU_DRY_RUN=1) runs the same tests on the CPU, the graph path emulated,
so that the check cannot rot while no GPU is at hand.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import first_epoch_checkpoint
from dse.models import Arch, regnet_arch
from dse.train.data import load_fashion_mnist, synthetic
from dse.train.engine import DeviceData, Step, train_model
from dse.train.protocol import Protocol

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "fashion-mnist"
DRY = os.environ.get("DSE_GPU_DRY_RUN") == "1"
pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def dev() -> str:
    if torch.cuda.is_available():
        return "cuda"
    if DRY:
        return "cpu"
    pytest.skip("no CUDA device")


def _graph(dev):
    """The graph mode that exercises the capture path here: the real one on a GPU, its emulation on a CPU."""
    return "on" if dev == "cuda" else "emulate"


def _small():
    return regnet_arch(8, 16, 12, 2.5, 1, 8)  # ~3.7 MF at 28 px


def test_captured_step_equals_eager_for_20_steps(dev):
    """One seed, 20 steps (4 epochs of 5): the graph-replayed step and the eager step give the same losses
    (within bf16 tolerance on a GPU) and the same test error to a point."""
    dd = DeviceData(synthetic((3, 32, 32), 5 * 64, 256, seed=1), dev)
    p = Protocol(dataset="synthetic", budget="20it", batch_size=64)
    eager = train_model(_small(), dd, p, seed=7, graph="off")
    graph = train_model(_small(), dd, p, seed=7, graph=_graph(dev))
    assert [r.epoch for r in graph.rows] == [1, 2, 3, 4]
    tol = 2e-2 if dev == "cuda" else 1e-6  # bf16 autocast reorders reductions between the two paths
    assert [r.train_loss for r in graph.rows] == pytest.approx([r.train_loss for r in eager.rows], rel=tol)
    assert abs(graph.error - eager.error) <= (2.0 if dev == "cuda" else 0.0)


def test_a_quantised_network_trains_captured_as_eager(dev):
    """Quantisation-aware training (8-bit, fused fake-quantise kernels, log steps) through the captured step: the
    same losses as eager (bf16 tolerance on a GPU), a CUDA graph really ran, and a 2-bit one ends done or
    diverged, never failed."""
    from dse.models.precision import Precision

    dd = DeviceData(synthetic((3, 32, 32), 5 * 64, 256, seed=1), dev)
    p = Protocol(dataset="synthetic", budget="20it", batch_size=64)
    eager = train_model(_small(), dd, p, seed=7, graph="off", precision=Precision(8, 8))
    graph = train_model(_small(), dd, p, seed=7, graph=_graph(dev), precision=Precision(8, 8))
    tol = 2e-2 if dev == "cuda" else 1e-6
    assert [r.train_loss for r in graph.rows] == pytest.approx([r.train_loss for r in eager.rows], rel=tol)
    assert graph.graph == (dev == "cuda")
    two = train_model(_small(), dd, p, seed=7, graph=_graph(dev), precision=Precision(2, 2))
    assert two.status in ("done", "diverged")


def test_the_graph_really_replays(dev, monkeypatch):
    """No silent fallback to eager: on a GPU the outcome says a CUDA graph ran; on the CPU's emulation the step
    runs 3 warm-up calls plus one per replay."""
    dd = DeviceData(synthetic((3, 32, 32), 4 * 32, 64, seed=2), dev)
    p = Protocol(dataset="synthetic", budget="8it", batch_size=32)
    logged = []
    if dev == "cuda":
        out = train_model(_small(), dd, p, seed=0, graph="on", log=logged.append)
        assert out.graph and not logged, logged
        return
    calls = []
    real = Step.__call__
    monkeypatch.setattr(Step, "__call__", lambda self: (calls.append(1), real(self))[1])
    train_model(_small(), dd, p, seed=0, graph="emulate")
    assert len(calls) == 8 + 3


def test_one_epoch_of_fashion_mnist_learns(dev):
    """The shipped Fashion-MNIST subset (3,000 images), one epoch: the test error is well below chance (90%)."""
    data = load_fashion_mnist(DATA)
    out = train_model(_small(), DeviceData(data, dev), Protocol(budget="1ep", batch_size=64, lr=0.1), seed=0,
                      graph=_graph(dev))
    assert out.status == "done" and out.error < 75, out.error  # (a CPU reaches ~61% here)


def test_resume_and_divergence_behave_as_on_cpu(dev):
    """Three epochs straight equal one epoch, a checkpoint and two more; lr 1e8 ends diverged with a reason."""
    dd = DeviceData(synthetic((3, 16, 16), 256, 64, seed=1), dev)
    arch = Arch((1, 1), (16, 32), (1, 1), (8, 8))
    p = Protocol(dataset="synthetic", budget="3ep", batch_size=32)
    full = train_model(arch, dd, p, seed=3, graph=_graph(dev))
    saved = first_epoch_checkpoint(lambda grab: train_model(arch, dd, p, seed=3, on_epoch=grab, graph=_graph(dev)))
    rest = train_model(arch, dd, p, seed=3, resume=saved, graph=_graph(dev))
    tol = 1e-3 if dev == "cuda" else 1e-9
    assert [r.train_loss for r in rest.rows] == pytest.approx([r.train_loss for r in full.rows], rel=tol)
    bad = train_model(arch, dd, Protocol(dataset="synthetic", budget="2ep", batch_size=32, lr=1e8), seed=0,
                      graph=_graph(dev))
    assert bad.status == "diverged" and "loss became" in bad.reason


def _dse(*args, cwd, timeout=300):
    return subprocess.run([sys.executable, "-m", "dse", *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={k: v for k, v in os.environ.items() if k != "DSE_DB"})


def _sweep(tmp_path, n):
    rows = ["d1,d2,w1,w2,b1,b2,g1,g2,error"] + [f"1,2,16,{32 + 8 * i},1,1,8,8," for i in range(n)]
    (tmp_path / "p.csv").write_text("\n".join(rows) + "\n")
    r = _dse("import", "p.csv", "--sweep", "s", "--resolution", "16", "--stem", "cifar", "--num-classes", "10",
             cwd=tmp_path)
    assert r.returncode == 0, r.stderr


def test_dse_speed_stores_timings_on_the_device(dev, tmp_path):
    _sweep(tmp_path, 4)
    r = _dse("speed", "--device", dev, "--batch", "16", "--repeat", "3", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["n"] == 4 and all(m["ms"] > 0 for m in out["models"])
    if dev == "cuda":  # the timings are labelled with the GPU that made them
        assert torch.cuda.get_device_name() in out["device"], out["device"]


def test_two_train_processes_share_a_sweep_with_several_workers(dev, tmp_path):
    """Two `dse train` commands on one store, each with several workers per device (1 on a CPU): every model is
    trained once, none twice."""
    n = 12
    _sweep(tmp_path, n)
    k = "4" if dev == "cuda" else "1"
    args = ["train", "--device", "cuda" if dev == "cuda" else "cpu", "--workers-per-gpu", k, "--dataset",
            "synthetic", "--resolution", "16", "--train-size", "256", "--test-size", "64", "--batch-size", "32",
            "--budget", "1ep", "--plain"]
    env = {k: v for k, v in os.environ.items() if k != "DSE_DB"}
    procs = [subprocess.Popen([sys.executable, "-m", "dse", *args], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    r = _dse("status", "--models", "--json", cwd=tmp_path)
    rows = json.loads(r.stdout)
    assert len(rows) == n and all(m["status"] == "done" and m["epochs"] == 1 for m in rows)
    r = _dse("export", "--epochs", "-o", "-", cwd=tmp_path)
    lines = r.stdout.strip().splitlines()[1:]
    assert len(lines) == n  # one epoch row per model: nothing trained twice


def test_ray_with_fractional_gpus(dev, tmp_path):
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'dse[ray]')")
    if dev != "cuda":
        pytest.skip("dry run: Ray's GPU fractions need a GPU (the Ray executor's CPU tests are tests/test_ray.py)")
    _sweep(tmp_path, 8)
    r = _dse("train", "--executor", "ray", "--gpus-per-model", "0.25", "--dataset", "synthetic", "--resolution",
             "16", "--train-size", "256", "--test-size", "64", "--batch-size", "32", "--budget", "1ep", "--plain",
             cwd=tmp_path, timeout=420)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = json.loads(_dse("status", "--models", "--json", cwd=tmp_path).stdout)
    assert all(m["status"] == "done" for m in rows) and all(m["device"].startswith("ray:cuda") for m in rows)


def test_bf16_and_channels_last_train_without_nans(dev):
    """The engine's mixed precision on the device: a 400MF-class RegNet trains a few steps to finite losses."""
    if dev == "cpu":
        arch, res = _small(), 16
    else:
        arch, res = regnet_arch(22, 24, 24.48, 2.54, 1, 16), 32
    dd = DeviceData(synthetic((3, res, res), 4 * 32, 64, seed=3), dev)
    out = train_model(arch, dd, Protocol(dataset="synthetic", budget="4it", batch_size=32), seed=0, graph=_graph(dev))
    assert out.status == "done" and all(np.isfinite(r.train_loss) for r in out.rows)


def test_an_sr_network_learns_on_the_device_and_a_denoiser_runs(dev):
    """The low-level path on the device: an EDSR-like x2 network trained on Fashion-MNIST's clean images (uint8 on
    the device, patches cut there, the step captured in a CUDA graph, PSNR on the validation images) beats bicubic
    upscaling, as the same run eagerly does; DnCNN (a fixed network of
    its own, BatchNorm) trains 120 denoising steps: its training PSNR rises, its validation PSNR is finite."""
    from dse.models.lowlevel import RestoreNet
    from dse.models.restore import Restorer, build_reference
    from dse.train.restore import Pairs, fit_restorer

    data = load_fashion_mnist(DATA)
    train, val = list(data.x_train[:1000]), list(data.x_test[:40])
    pairs = Pairs(train, val, "sr", 2)
    torch.manual_seed(0)
    graph = "on" if dev == "cuda" else "emulate"  # on the GPU the step is captured (a failure raises)
    net = Restorer(RestoreNet((2,), (16,), scale=2, in_channels=1, image_residual=True)).to(dev)
    rows = fit_restorer(net, pairs, steps=150, batch=16, patch=14, adam={"lr": 1e-3}, device=dev, epoch_steps=50,
                        graph=graph)
    assert rows[-1]["psnr"] > rows[-1]["baseline_psnr"] + 0.1, rows[-1]
    torch.manual_seed(0)  # the same run eagerly: the captured replay computes the same steps
    net = Restorer(RestoreNet((2,), (16,), scale=2, in_channels=1, image_residual=True)).to(dev)
    eager = fit_restorer(net, pairs, steps=150, batch=16, patch=14, adam={"lr": 1e-3}, device=dev, epoch_steps=50,
                         graph="off")
    assert [r["psnr"] for r in eager] == pytest.approx([r["psnr"] for r in rows], abs=0.05)
    torch.manual_seed(0)
    noisy = Pairs(train, val, "denoise", sigma=25.0)
    rows = fit_restorer(build_reference("dncnn").to(dev), noisy, steps=120, batch=8, patch=16, adam={"lr": 1e-3},
                        device=dev, epoch_steps=40)
    assert all(np.isfinite(r["psnr"]) for r in rows) and rows[-1]["train_psnr"] > rows[0]["train_psnr"] + 1, rows
