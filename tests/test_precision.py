"""Precision as a design dimension: bit widths sampled per model, BitOps / size / peak memory counted exactly
(against a count taken on the quantised torch modules), the BitOps window, quantisation-aware training."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

import dse
from dse.errors import DseError
from dse.models.anynet import AnyNet
from dse.models.arch import Arch
from dse.models.lowlevel import Restoration
from dse.models.precision import Precision, precision_cost
from dse.models.quant import QConv2d, QLinear, Quantiser, calibrate, quantise
from dse.models.regnet import regnet_arch
from dse.models.restore import Restorer
from dse.spaces.sampling import Regime

BITS = [(32, 32), (8, 8), (4, 4), (4, 2), (2, 4), (32, 4), (3, 8)]


def module_count(model: nn.Module, x, bias_flops: bool = True) -> dict:
    """BitOps, size and peak activation memory read off the modules during one forward pass of one image: each
    conv's and linear's multiply-adds (from its output's shape) x its own bits, its weights x weight bits, every
    other parameter of the network (the quantisers' step sizes left out) x 32, the largest input x its bits."""
    tot = {"bitops": 0, "wbits": 0, "peak": 0, "weights": 0}

    def hook(m, inp, out):
        bw, ba = getattr(m, "bits_w", 32), getattr(m, "bits_a", 32)
        if isinstance(m, nn.Conv2d):
            f = out[0].numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
            f += m.out_channels if m.bias is not None and bias_flops else 0
        else:
            f = m.in_features * m.out_features + m.out_features
        tot["bitops"] += f * bw * ba
        tot["wbits"] += m.weight.numel() * bw
        tot["weights"] += m.weight.numel()
        tot["peak"] = max(tot["peak"], inp[0][0].numel() * ba)

    hooks = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    model.eval()
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    steps = {id(p) for m in model.modules() if isinstance(m, Quantiser) for p in m.parameters()}
    other = sum(p.numel() for p in model.parameters() if id(p) not in steps) - tot["weights"]
    return {"bitops": tot["bitops"], "size_bytes": -(-(tot["wbits"] + 32 * other) // 8),
            "peak_bytes": -(-tot["peak"] // 8)}


CLASSIFIERS = {
    "regnetx": (regnet_arch(13, 24, 36, 2.5, b=1, g=8).compatible(), 32, "cifar"),
    "regnety": (regnet_arch(10, 16, 20, 2.2, b=1, g=8, se=True).compatible(), 32, "simple"),
    "bottleneck_b4": (Arch((1, 2), (64, 128), (4, 4), (16, 16)).compatible(), 64, "resnet"),
    "mbconv_head": (Arch((1, 2), (16, 24), (1, 1), (1, 1), block="mbconv", kernels=(3, 5), expansions=(1, 6),
                         head_w=64, stem_w=16), 32, "simple"),
}


@pytest.mark.parametrize("name", CLASSIFIERS)
@pytest.mark.parametrize("bw, ba", BITS, ids=[f"w{w}a{a}" for w, a in BITS])
def test_classifier_costs_equal_the_count_on_its_quantised_modules(name, bw, ba):
    arch, res, stem = CLASSIFIERS[name]
    torch.manual_seed(0)
    model = quantise(AnyNet(arch, stem, 3, 10), bw, ba)
    got = module_count(model, torch.randn(1, 3, res, res))
    rg = Regime((0, 0), res, stem, 3, 10)
    want = {k: int(v[0]) for k, v in rg.precision([arch], [{"bits_w": bw, "bits_a": ba}]).items()}
    assert got == want


RESTORERS = {
    "edsr_x2": (Arch((3,), (16,), (1,), (1,), block="wide_res", expansions=(1,), strides=(1,)), 2),
    "wdsr_se_x3": (Arch((2, 1), (16, 24), (1, 1), (1, 1), block="wide_res", expansions=(4, 2), se=True,
                        strides=(1, 1)), 3),
    "wide_x4": (Arch((1, 2), (24, 16), (1, 1), (1, 1), block="wide_res", expansions=(2, 3), strides=(1, 1)), 4),
    "denoise_bn": (Arch((2,), (16,), (1,), (1,), block="wide_res_bn", expansions=(2,), strides=(1,)), 1),
}


@pytest.mark.parametrize("name", RESTORERS)
@pytest.mark.parametrize("bw, ba", BITS[:5], ids=[f"w{w}a{a}" for w, a in BITS[:5]])
def test_restorer_costs_equal_the_count_on_its_quantised_modules(name, bw, ba):
    """SR and denoising: multiply-adds without biases at a small output (the count's own sizes are 1280x720)."""
    from dse.models.lowlevel import restore_precision

    arch, scale = RESTORERS[name]
    model = quantise(Restorer(Restoration(arch, scale, 3)), bw, ba)
    out = (24, 12)  # divisible by every scale: the module sees exactly out / scale
    got = module_count(model, torch.rand(1, 3, out[1] // scale, out[0] // scale), bias_flops=False)
    p = {k: [arch.stage(k)] for k in arch.uses}
    c = restore_precision([arch.depths], [arch.widths], p, arch.design, scale, in_channels=3, out=out)
    want = {k: int(v[0]) for k, v in precision_cost(c, bw, ba).items()}
    assert got == want


def test_float_costs_are_flops_times_1024_and_params_times_4():
    from dse.models.complexity import complexity

    arch, res, stem = CLASSIFIERS["regnety"]
    cx = complexity(arch, res, stem, 3, 10)
    got = Regime((0, 0), res, stem, 3, 10).precision([arch], [None])
    assert int(got["bitops"][0]) == cx["flops"] * 1024 and int(got["size_bytes"][0]) == cx["params"] * 4


def test_end_layers_keep_eight_bits_and_the_rule_is_changeable():
    net = quantise(AnyNet(CLASSIFIERS["regnetx"][0], "cifar", 3, 10), 2, 3)
    q = [m for m in net.modules() if isinstance(m, (QConv2d, QLinear))]
    assert (q[0].bits_w, q[0].bits_a, q[-1].bits_w, q[-1].bits_a) == (8, 8, 8, 8)
    assert {(m.bits_w, m.bits_a) for m in q[1:-1]} == {(2, 3)} and isinstance(q[-1], QLinear)
    net = quantise(AnyNet(CLASSIFIERS["regnetx"][0], "cifar", 3, 10), 2, 3, edge_bits=4)
    q = [m for m in net.modules() if isinstance(m, (QConv2d, QLinear))]
    assert (q[0].bits_w, q[0].bits_a) == (4, 4)
    assert quantise(nn.Sequential(nn.Conv2d(1, 1, 1)), 32, 32)[0].__class__ is nn.Conv2d  # float: untouched


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
def test_fake_quantised_weights_take_at_most_2_to_the_b_minus_1_values_per_channel(bits):
    torch.manual_seed(0)
    conv = quantise(nn.Sequential(nn.Conv2d(3, 4, 1), nn.Conv2d(4, 6, 3), nn.Conv2d(6, 2, 1)), bits, bits)[1]
    x = torch.relu(torch.randn(2, 4, 8, 8))
    calibrate(nn.Sequential(conv), x)
    w = conv.wq(conv.weight).detach()
    for c in range(w.shape[0]):
        levels = torch.unique(torch.round(w[c] / conv.wq.step[c].detach()))
        assert len(levels) <= 2 ** bits - 1 and levels.abs().max() <= 2 ** (bits - 1) - 1
    a = conv.aq(x).detach()
    assert not conv.aq.signed and len(torch.unique(a)) <= 2 ** bits  # after a ReLU: unsigned, 2^b levels


def test_quantisers_pass_gradients_straight_through_and_learn_their_steps():
    torch.manual_seed(0)
    conv = quantise(nn.Sequential(nn.Conv2d(3, 8, 3), nn.Conv2d(8, 8, 3), nn.Conv2d(8, 2, 3)), 4, 4)[1]
    x = torch.randn(4, 8, 6, 6, requires_grad=True)
    conv(x).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert conv.weight.grad.abs().sum() > 0 and conv.wq.step.grad.abs().sum() > 0 and conv.aq.step.grad != 0


@pytest.mark.parametrize("bits, most", [(8, 0.01), (4, 0.15)])
def test_a_quantised_layer_stays_close_to_its_float_twin(bits, most):
    """One conv after a ReLU, steps calibrated on its batch: relative output error under 1% at 8 bits, 15% at 4
    (a random network amplifies any perturbation with depth, so layers are compared, not whole untrained nets)."""
    import copy

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 16, 3), nn.ReLU(), nn.Conv2d(16, 32, 3), nn.Conv2d(32, 4, 1))
    f = copy.deepcopy(net)
    q = quantise(net, bits, bits)
    x = torch.randn(8, 3, 16, 16)
    calibrate(q, x)
    with torch.no_grad():
        h = torch.relu(f[0](x))
        err = ((q[2](h) - f[2](h)).norm() / f[2](h).norm()).item()
    assert 0 < err < most


def test_precision_of_settings():
    assert Precision.of(None) == Precision(32, 32, 8) and not Precision.of({}).quantised
    assert Precision.of({"bits_w": 4, "bits_a": 8, "edge_bits": 6}) == Precision(4, 8, 6)
    assert str(Precision(4, 4)) == "w4a4 (ends 8 bits)" and str(Precision()) == "float"


def test_precision_cost_refuses_counts_past_int64():
    c = {"flops": 2**60, "edge_flops": 0, "weights": 1, "edge_weights": 0, "params": 1, "peak": 1, "edge_peak": 1}
    with pytest.raises(DseError, match="too large"):
        precision_cost(c)
