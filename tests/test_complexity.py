"""Exact complexity: published figures, and independent checks against the built nn.Module."""

import math

import numpy as np
import pytest

from dse.models import Arch, adjust_compatibility, complexity, complexity_arrays, regnet_arch

# (d, w0, wa, wm, g, se) -> depths, widths, flops, params, acts  (RegNet paper / pycls model zoo)
PUBLISHED = [
    ((13, 24, 36.44, 2.49, 8, False), (1, 1, 4, 7), (24, 56, 152, 368), 199_040_872, 2_684_792, 2_164_056),
    ((22, 24, 24.48, 2.54, 16, False), (1, 2, 7, 12), (32, 64, 160, 384), 397_678_568, 5_157_512, 3_143_272),
    ((13, 24, 36.44, 2.49, 8, True), (1, 1, 4, 7), (24, 56, 152, 368), 199_519_076, 3_162_996, 2_168_052),
]


@pytest.mark.parametrize("args,depths,widths,flops,params,acts", PUBLISHED)
def test_published_regnets(args, depths, widths, flops, params, acts):
    d, w0, wa, wm, g, se = args
    arch = regnet_arch(d, w0, wa, wm, 1, g, se)
    assert arch.depths == depths and arch.widths == widths
    assert complexity(arch) == {"flops": flops, "params": params, "acts": acts}


def test_compatibility_moves_regnetx_400mf_widths():
    w, g = adjust_compatibility([[24, 64, 152, 392]], [[1, 1, 1, 1]], [[16, 16, 16, 16]])
    assert w.tolist() == [[32, 64, 160, 384]] and g.tolist() == [[16] * 4]


def _compat_reference(w, b, g):
    """pycls adjust_block_compatibility written out per stage (bot_mul = 1/b), Python ints and round()."""
    bm = 1 / b
    v = int(max(1, w * bm))
    g = int(min(g, v))
    m = math.lcm(g, int(bm)) if bm > 1 else g
    v = max(m, int(round(v / m) * m))
    return int(v / bm), g


def test_compatibility_matches_scalar_reference():
    rng = np.random.default_rng(1)
    w = rng.integers(1, 1100, 5000)
    b = rng.choice([0.25, 0.5, 1, 2, 4], 5000)
    g = rng.choice([1, 2, 3, 4, 8, 16, 24, 32, 48], 5000)
    wv, gv = adjust_compatibility(w, b, g)
    for i in range(len(w)):
        assert (wv[i], gv[i]) == _compat_reference(int(w[i]), float(b[i]), int(g[i]))
        assert round(wv[i] / b[i]) % gv[i] == 0


def test_compatibility_rounds_halves_to_even():
    # v = 40, m = 16: 40/16 = 2.5 -> 2 (even), so w = 32 not 48; v = 56: 3.5 -> 4, w = 64
    assert adjust_compatibility([40, 56], [1, 1], [16, 16])[0].tolist() == [32, 64]


def _random_archs(rng, n, se):
    for _ in range(n):
        s = int(rng.integers(1, 5))
        b = rng.choice([1, 2, 4, 0.5], s)
        arch = Arch(rng.integers(1, 4, s), rng.integers(1, 40, s) * 8, b, rng.choice([1, 2, 4, 8, 16], s), se)
        yield arch.compatible()


def _module_counts(arch, res, stem, cin, nc):
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from dse.models.anynet import AnyNet

    net = AnyNet(arch, stem, cin, nc).eval()
    params = sum(p.numel() for p in net.parameters())
    acts, bias = [0], [0]

    def hook(mod, inp, out):
        acts[0] += out[0].numel()  # batch of 1
        if getattr(mod, "bias", None) is not None:
            bias[0] += mod.bias.numel()  # every biased layer here works at 1x1 (SE convs, FC)

    for m in net.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            m.register_forward_hook(hook)
    fc = FlopCounterMode(display=False)
    with fc, torch.no_grad():
        net(torch.zeros(1, cin, res, res))
    return {"flops": fc.get_total_flops() // 2 + bias[0], "params": params, "acts": acts[0]}


@pytest.mark.parametrize("se", [False, True])
@pytest.mark.parametrize("res,stem,cin,nc", [(224, "simple", 3, 1000), (32, "cifar", 3, 10), (28, "cifar", 1, 10),
                                             (63, "simple", 1, 7)])
def test_analytic_equals_module(se, res, stem, cin, nc):
    """Analytic flops/params/acts equal torch's FlopCounterMode, the parameter count and hooked outputs."""
    rng = np.random.default_rng([int(se), res, cin, nc])  # fixed per case (hash() of a str changes per run)
    for arch in _random_archs(rng, 4, se):
        assert complexity(arch, res, stem, cin, nc) == _module_counts(arch, res, stem, cin, nc), arch


def test_y_block_without_se_when_input_too_narrow():
    # w_se = round(0.25 * w_in) = round(0.5) = 0 for w_in = 2 (halves to even): pycls drops the SE
    a = Arch((1, 1), (8, 8), (4, 1), (2, 8), True).compatible()
    x = Arch(a.depths, a.widths, a.bottlenecks, a.group_widths, False)
    assert complexity(a, 32, "cifar", 3, 10) != complexity(x, 32, "cifar", 3, 10)  # stage 2 has SE
    assert complexity(a, 32, "cifar", 3, 10) == _module_counts(a, 32, "cifar", 3, 10)


def test_vectorised_equals_one_at_a_time():
    rng = np.random.default_rng(5)
    archs = [a for a in _random_archs(rng, 200, False) if a.stages == 3][:50]
    arr = [np.array([getattr(a, k) for a in archs]) for k in ("depths", "widths", "bottlenecks", "group_widths")]
    f, p, ac = complexity_arrays(*arr)
    for i, a in enumerate(archs):
        assert complexity(a) == {"flops": f[i], "params": p[i], "acts": ac[i]}


def test_forward_shape_and_init():
    import torch

    from dse.models.anynet import AnyNet

    net = AnyNet(regnet_arch(13, 24, 36.44, 2.49, 1, 8), "cifar", 1, 10)
    assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    fc = net.head.fc
    assert abs(float(fc.weight.detach().std()) - 0.01) < 0.002 and float(fc.bias.detach().abs().max()) == 0
    conv = net.stem[0]
    assert abs(float(conv.weight.detach().std()) - math.sqrt(2 / (9 * 32))) < 0.02


# RegNet paper, appendix tables (flops in G, params and acts in M, as printed: one decimal)
ROUNDED = [
    ((16, 48, 36.97, 2.24, 24, False), 0.6, 6.2, 4.0),   # RegNetX-600MF
    ((16, 56, 35.73, 2.28, 16, False), 0.8, 7.3, 5.1),   # RegNetX-800MF
    ((18, 80, 34.01, 2.25, 24, False), 1.6, 9.2, 7.9),   # RegNetX-1.6GF
    ((16, 48, 27.89, 2.09, 8, True), 0.4, 4.3, 3.9),     # RegNetY-400MF
    ((15, 48, 32.54, 2.32, 16, True), 0.6, 6.1, 4.3),    # RegNetY-600MF
    ((14, 56, 38.84, 2.40, 16, True), 0.8, 6.3, 5.2),    # RegNetY-800MF
]


@pytest.mark.parametrize("args,gf,mp,ma", ROUNDED)
def test_published_rounded_figures(args, gf, mp, ma):
    d, w0, wa, wm, g, se = args
    c = complexity(regnet_arch(d, w0, wa, wm, 1, g, se))
    assert round(c["flops"] / 1e9, 1) == gf and round(c["params"] / 1e6, 1) == mp and round(c["acts"] / 1e6, 1) == ma
