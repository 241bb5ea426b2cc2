"""Space files: built-ins, sizes, distributions (pycls semantics) and validation errors."""

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from dse.errors import DseError
from dse.spaces import builtin_names, load_space, parse_space, resolve_space
from dse.spaces.sampling import sample_sorted
from dse.spaces.space import Dist

BUILTINS = ["anynet_a", "anynet_b", "anynet_c", "anynet_d", "anynet_e", "regnet", "regnetx", "regnety",
            "regnetx_dw", "regnetx_inverted", "regnetx_lrwd", "regnetx_res", "regnetx_swish", "nds_vanilla",
            "nds_resnet", "nds_resnext_a", "nds_resnext_b", "sr_anynet", "sr_anynet_e1", "sr_anynet_se",
            "sr_anynet_wide", "sr_edsr", "sr_regnet", "denoise_anynet", "regnetx_w8a8", "regnetx_w4a4",
            "regnetx_w2a2", "regnetx_bits", "sr_anynet_w8a8", "sr_anynet_w4a4"]


def test_builtins_present_and_valid():
    assert builtin_names() == sorted(BUILTINS)
    for n in BUILTINS:
        s = resolve_space(n)
        assert s.name == n and s.description


def test_dof_and_size():
    a = resolve_space("anynet_a")
    assert a.dof == 16
    assert a.log10_size == pytest.approx(4 * math.log10(16 * 128 * 3 * 6))  # ~1.8e18 (paper)
    assert 10 ** a.log10_size == pytest.approx(1.8e18, rel=0.05)
    assert resolve_space("anynet_b").dof == 13
    assert resolve_space("anynet_c").dof == 10  # 6 fewer than A
    # non-decreasing widths: multisets of 4 from 128 widths
    assert resolve_space("anynet_d").log10_size == pytest.approx(
        math.log10(16**4 * math.comb(131, 4) * 3 * 6))
    assert resolve_space("regnet").dof == 6 and resolve_space("regnetx").dof == 5


def _pycls_log_uniform(rng, low, high, q, n):
    """pycls sweep/random.py log_uniform, vectorised: f in (l-q*, h] log-uniform, rounded up to q."""
    f = np.exp(-rng.uniform(-np.log(high), -np.log(low - min(q, low / 2)), n))
    return np.ceil(f / q) * q


@pytest.mark.parametrize("low,high,q", [(8, 1024, 8), (1, 16, 1), (2, 3, 0.001), (8, 256, 0.1)])
def test_log_uniform_matches_pycls(low, high, q):
    dist = _dist({"dist": "log_uniform", "low": low, "high": high, "quantum": q})
    rng = np.random.default_rng(0)
    ref = np.round(_pycls_log_uniform(rng, low, high, q, 400_000), 6)
    assert set(np.unique(ref)) <= set(np.round(dist.values, 6))
    # compare the CDFs at every support point: the pmf is exact, the reference is Monte Carlo
    emp = np.searchsorted(np.sort(ref), np.round(dist.values, 6), side="right") / len(ref)
    assert np.max(np.abs(emp - dist.cdf)) < 0.004


def _dist(spec) -> Dist:
    """The distribution a spec gives (as the wa of a RegNet space, which accepts any value >= 0)."""
    one = {"dist": "choice", "values": [8]}
    params = {"d": {"dist": "uniform", "low": 1, "high": 2}, "w0": one, "wa": spec, "wm": {"dist": "choice",
                                                                                           "values": [2]},
              "b": {"dist": "choice", "values": [1]}, "g": {"dist": "choice", "values": [1]}}
    return parse_space({"family": "regnet", "params": params}, "t").dists["wa"]


def test_uniform_and_pow2_and_choice():
    d = _dist({"dist": "uniform", "low": 12, "high": 28})
    assert d.values.tolist() == list(range(12, 29)) and np.allclose(d.probs, 1 / 17)
    p = _dist({"dist": "pow2", "low": 1, "high": 32})
    assert p.values.tolist() == [1, 2, 4, 8, 16, 32]
    c = _dist({"dist": "choice", "values": [4, 1, 2], "weights": [1, 1, 2]})
    assert c.values.tolist() == [1, 2, 4] and c.probs.tolist() == [0.25, 0.5, 0.25]


def test_sorted_sampler_is_the_conditional_law():
    """Draws from sample_sorted match i.i.d. draws conditioned on being non-decreasing (exact enumeration)."""
    dist = Dist("choice", np.array([1.0, 2.0, 3.0, 5.0]), np.array([0.4, 0.3, 0.2, 0.1]))
    s = 3
    tuples = [t for t in itertools.product(range(4), repeat=s) if list(t) == sorted(t)]
    w = np.array([np.prod(dist.probs[list(t)]) for t in tuples])
    expected = w / w.sum()
    x = sample_sorted(dist, np.random.default_rng(0), 200_000, s)
    idx = np.searchsorted(dist.values, x)
    assert np.all(np.diff(idx, axis=1) >= 0)
    code = {t: i for i, t in enumerate(tuples)}
    counts = np.bincount([code[tuple(r)] for r in idx.tolist()], minlength=len(tuples))
    _, p = stats.chisquare(counts, expected * len(x))
    assert p > 1e-3


def _write(tmp_path, text, name="s.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


GOOD = """
family = "anynet"
stages = 2
[params.d]
dist = "uniform"
low = 1
high = 4
[params.w]
dist = "log_uniform"
low = 8
high = 256
quantum = 8
[params.b]
dist = "choice"
values = [1]
[params.g]
dist = "pow2"
low = 1
high = 8
[constraints]
non_decreasing = ["w"]
"""


def test_user_space_file(tmp_path):
    s = load_space(_write(tmp_path, GOOD, "mine.toml"))
    assert s.name == "mine" and s.stages == 2 and s.non_decreasing == ("w",)


@pytest.mark.parametrize("old,new,needle", [
    ('family = "anynet"', 'family = "anynet"\ncolour = 1', "unknown key 'colour'"),
    ('family = "anynet"', 'family = "resnet"', "family: got 'resnet'; allowed: anynet, regnet"),
    ("low = 1\nhigh = 4", "low = 5\nhigh = 4", "[params.d]: 'low' (5) > 'high' (4)"),
    ("values = [1]", "values = []", "[params.b]: 'values' must be a non-empty list"),
    ("low = 8\nhigh = 256\nquantum = 8", "low = 9\nhigh = 15\nquantum = 8", "quantum 8 leaves no value in [9, 15]"),
    ('dist = "pow2"\nlow = 1\nhigh = 8', 'dist = "pow2"\nlow = 1\nhigh = 12', "'high' must be a power of two"),
    ('dist = "uniform"', 'dist = "normal"', "dist 'normal' unknown; allowed: uniform, log_uniform, choice, pow2"),
    ('non_decreasing = ["w"]', 'non_decreasing = ["x"]', "unknown parameter 'x'; allowed: d, w, b, g"),
    ('non_decreasing = ["w"]', 'shared = ["k"]', "'k' is not a parameter of this space (res_bottleneck blocks "
                                                 "sample d, w, b, g per stage)"),
    ('non_decreasing = ["w"]', 'non_decreasing = ["e"]', "'e' is not a parameter of this space"),
    ('[params.b]\ndist = "choice"\nvalues = [1]', '', "missing [params.b]"),
    ("values = [1]", "values = [0.3]", "bottleneck ratio 0.3 not allowed"),
    ("values = [1]", "values = [1]\nstep = 2", "[params.b]: unknown key 'step'"),
    ("stages = 2", "stages = 0", "stages: got 0"),
    ("[constraints]", "[constraints]\nmax_params = -1", "max_params: got -1"),
    ("high = 4", "high = 4\n[params.w0]\ndist = 'choice'\nvalues = [8]", "unknown key 'w0'"),
])
def test_space_errors_name_file_and_key(tmp_path, old, new, needle):
    assert old in GOOD
    p = _write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(DseError) as e:
        load_space(p)
    msg = str(e.value)
    assert str(p) in msg and needle in msg, msg


def test_not_toml(tmp_path):
    p = _write(tmp_path, "family = [")
    with pytest.raises(DseError, match="not valid TOML"):
        load_space(p)


def test_unknown_builtin_lists_known():
    with pytest.raises(DseError) as e:
        resolve_space("anynet_z")
    assert "anynet_a" in str(e.value) and "regnety" in str(e.value)


def test_cli_bad_space_exit_2_without_traceback(run, tmp_path):
    p = _write(tmp_path, GOOD.replace("low = 1\nhigh = 4", "low = 5\nhigh = 4"))
    code, out, err = run("sample", "--space", p, "-n", "5")
    assert code == 2 and "Traceback" not in err and "'low' (5) > 'high' (4)" in err
    code, out, err = run("spaces", "--space", p)
    assert code == 2 and str(p) in err


def test_cli_spaces_json(run):
    import json

    code, out, _ = run("spaces", "--json")
    rows = json.loads(out)
    assert code == 0 and [r["name"] for r in rows] == sorted(BUILTINS)
    assert {r["name"]: r["dof"] for r in rows}["anynet_a"] == 16


@pytest.mark.parametrize("name", builtin_names())
def test_every_builtin_space_samples_builds_and_trains(name):
    """timm-style registry test: each built-in space samples, its networks build with the counted
    parameters, and a forward and backward pass on a tiny input gives finite gradients everywhere."""
    import torch

    from dse.models.anynet import AnyNet
    from dse.spaces import Regime, Sampler

    torch.manual_seed(0)
    space = resolve_space(name)
    if space.task != "classify":  # a low-level space: its own regime, its networks the task's (dse.models.restore)
        return _low_level_space_samples_builds_and_trains(space)
    # a space that samples the resolution (224..320) is counted there: a window its networks can reach
    hi = 50_000_000 if "resolution" not in space.dists else 50_000_000_000
    regime = Regime(flops=(100_000, hi), resolution=16, stem="cifar", in_channels=3, num_classes=10)
    models = Sampler(space, regime, seed=0).sample(2)
    assert len({m.key for m in models}) == 2
    for m in models:
        net = AnyNet(m.arch, "cifar", 3, 10)
        assert sum(p.numel() for p in net.parameters()) == m.params
        out = net(torch.randn(4, 3, 16, 16))
        assert out.shape == (4, 10)
        torch.nn.functional.cross_entropy(out, torch.arange(4)).backward()
        grads = [p.grad for p in net.parameters()]
        assert all(g is not None and bool(torch.isfinite(g).all()) for g in grads)
        assert any(float(g.abs().sum()) > 0 for g in grads)


def _low_level_space_samples_builds_and_trains(space):
    import torch

    from dse.models.lowlevel import Restoration
    from dse.models.restore import Restorer
    from dse.spaces import Regime, Sampler
    from dse.units import parse_window

    regime = Regime(parse_window(space.regime["flops"]), task=space.task, scale=space.regime.get("scale"),
                    sigma=space.regime.get("sigma"))
    models = Sampler(space, regime, seed=0).sample(2)
    assert len({m.key for m in models}) == 2 and all(s == 1 for m in models for s in m.arch.strides)
    for m in models:
        assert regime.flops[0] <= m.flops <= regime.flops[1]
        net = Restorer(Restoration(m.arch, regime.count_scale, 3, image_residual=True))
        assert sum(p.numel() for p in net.parameters()) == m.params
        x = torch.rand(2, 3, 12, 12)
        out = net(x)
        assert out.shape == (2, 3, 12 * regime.count_scale, 12 * regime.count_scale)
        out.abs().mean().backward()
        assert all(p.grad is not None and bool(torch.isfinite(p.grad).all()) for p in net.parameters())


@pytest.mark.parametrize("name", builtin_names())
def test_every_builtin_space_samples_with_no_other_option(tmp_path, name):
    """dse sample --space NAME -n 20: the space's own regime where it has one (NDS: CIFAR size), else the paper's."""
    from conftest import cli

    code, out, err = cli(tmp_path, "sample", "--space", name, "-n", "20")
    assert code == 0 and "20 models accepted" in out, err


def test_advice_never_points_above_the_space_s_cap(tmp_path):
    from conftest import cli
    from dse.units import parse_count

    code, _, err = cli(tmp_path, "sample", "--space", "nds_resnet", "-n", "5", "--flops", "360M:400M")
    assert code == 2 and "try e.g. the window" in err and "the space's own regime: --flops 1M:126M" in err
    lo, hi = (parse_count(x) for x in err.split("try e.g. the window ")[1].split(" ")[0].split(":"))
    assert hi <= 125747850
    code, _, err = cli(tmp_path, "sample", "--space", "nds_resnet", "-n", "5", "--flops", "360M:400M",
                       "--resolution", "224")
    assert code == 2 and "none under the cap at this size" in err and "try e.g." not in err
