"""The training engine: schedule, augmentation, the SGD step against torch's, resume, divergence."""

import math

import numpy as np
import pytest
import torch

from conftest import first_epoch_checkpoint
from dse.errors import DseError
from dse.models import Arch
from dse.train.data import Data, synthetic
from dse.train.engine import (DeviceData, Protocol, Step, pad_crop_flip, parse_budget, random_resized_crop_flip,
                              train_model)

TINY = Arch((1, 1), (16, 32), (1, 1), (8, 8))


def test_budget_and_schedule():
    assert parse_budget("10ep") == (10, "ep") and parse_budget("500it") == (500, "it")
    for bad in ("10", "ep", "0ep", "3 epochs", "-1it"):
        with pytest.raises(DseError, match="budget"):
            parse_budget(bad)
    p = Protocol(budget="2ep", batch_size=100)
    assert p.schedule(1050) == (100, 10, 20)  # partial batch dropped
    assert Protocol(budget="25it", batch_size=100).schedule(1050) == (100, 10, 25)
    assert p.lr_at(0, 20) == pytest.approx(0.05) and p.lr_at(10, 20) == pytest.approx(0.025)
    assert p.lr_at(19, 20) == pytest.approx(0.5 * 0.05 * (1 + math.cos(math.pi * 19 / 20)))


def test_pad_crop_flip_is_a_window_of_the_padded_image():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 255, (64, 2, 8, 8), dtype=torch.uint8)
    y = pad_crop_flip(x, g, pad=4)
    assert y.shape == x.shape and y.dtype == torch.uint8
    xp = np.pad(x.numpy(), ((0, 0), (0, 0), (4, 4), (4, 4)))
    flips = 0
    for i in range(64):
        hits = [(dy, dx, f) for dy in range(9) for dx in range(9) for f in (0, 1)
                if np.array_equal(y[i].numpy(), (lambda w: w[..., ::-1] if f else w)(xp[i, :, dy:dy + 8, dx:dx + 8]))]
        assert hits, i
        flips += hits[0][2]
    assert 10 < flips < 54  # both orientations occur


def test_random_resized_crop_shape_and_range():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(8, 3, 40, 40)
    y = random_resized_crop_flip(x, g)
    assert y.shape == x.shape and float(y.min()) >= 0 and float(y.max()) <= 1


def test_step_equals_torch_sgd():
    """Our foreach SGD (Nesterov, weight decay, device lr) matches torch.optim.SGD step for step."""
    from dse.models.anynet import AnyNet

    torch.manual_seed(0)
    a = AnyNet(TINY, "cifar", 3, 10)
    b = AnyNet(TINY, "cifar", 3, 10)
    b.load_state_dict(a.state_dict())
    p = Protocol(lr=0.1, weight_decay=1e-3, momentum=0.9)
    step = Step(a, 16, (3, 12, 12), "cpu", p, amp=False, channels_last=False)
    opt = torch.optim.SGD(b.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3)
    for t in range(4):
        x, y = torch.randn(16, 3, 12, 12), torch.randint(0, 10, (16,))
        lr = 0.1 * (1 - t / 4)
        step.x.copy_(x)
        step.y.copy_(y)
        step.lr.fill_(lr)
        step.zero_grad()
        step()
        for gr in opt.param_groups:
            gr["lr"] = lr
        opt.zero_grad()
        torch.nn.functional.cross_entropy(b(x), y).backward()
        opt.step()
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.allclose(pa, pb, atol=1e-5, rtol=1e-4)


def _dd(n=256, res=12):
    return DeviceData(synthetic((3, res, res), n, 64, seed=1), "cpu")


def test_resume_from_checkpoint_is_exact():
    """Three epochs straight equal one epoch, a checkpoint, and two more from it."""
    torch.set_num_threads(1)
    p = Protocol(dataset="synthetic", budget="3ep", batch_size=32)
    dd = _dd()
    full = train_model(TINY, dd, p, seed=3)
    saved = first_epoch_checkpoint(lambda grab: train_model(TINY, dd, p, seed=3, on_epoch=grab))
    rest = train_model(TINY, dd, p, seed=3, resume=saved)
    assert [r.epoch for r in rest.rows] == [1, 2, 3]
    assert [round(r.train_loss, 6) for r in rest.rows] == [round(r.train_loss, 6) for r in full.rows]
    assert rest.error == full.error


def test_divergence_is_reported():
    p = Protocol(dataset="synthetic", budget="2ep", batch_size=32, lr=1e8)
    out = train_model(TINY, _dd(), p, seed=0)
    assert out.status == "diverged" and "loss became" in out.reason and out.error is None


def test_learns_on_separable_data():
    """Far below chance on data with a learnable signal (class = brightness of one channel)."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 1200)
    x = rng.integers(0, 60, (1200, 3, 12, 12)).astype(np.uint8)
    x[:, 0] += (y * 60).astype(np.uint8)[:, None, None]
    d = Data("toy", x[:1000], y[:1000], x[1000:], y[1000:], 4)
    out = train_model(TINY, DeviceData(d, "cpu", augment=False), Protocol(budget="3ep", batch_size=50), seed=0)
    assert out.status == "done" and out.error < 20  # chance is 75%


def test_graph_path_emulated_on_cpu_equals_eager(monkeypatch):
    """The CUDA-graph code path (warm-up steps, state restore, replay loop), run without CUDA, trains
    exactly as the eager path: the warm-up leaves no trace in weights, momentum or BN statistics."""
    torch.set_num_threads(1)
    p = Protocol(dataset="synthetic", budget="2ep", batch_size=32)
    dd = _dd()
    calls = []
    real = Step.__call__
    monkeypatch.setattr(Step, "__call__", lambda self: (calls.append(1), real(self))[1])
    eager = train_model(TINY, dd, p, seed=5, graph="off")
    n_eager = len(calls)
    emu = train_model(TINY, dd, p, seed=5, graph="emulate")
    # the emulated path really ran its 3 warm-up steps (which moved the weights) before the same 16 steps
    assert n_eager == 16 and len(calls) - n_eager == 16 + 3
    assert [r.train_loss for r in emu.rows] == pytest.approx([r.train_loss for r in eager.rows], rel=1e-6)
    assert emu.error == eager.error
