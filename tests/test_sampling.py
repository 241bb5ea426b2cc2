"""Sampling: every built-in space's constraints hold, the window holds, distinct, reproducible, honest."""

import numpy as np
import pytest
from scipy import stats

from dse.errors import DseError
from dse.models import complexity, regnet_arch
from dse.spaces import Regime, Sampler, parse_space, resolve_space
from dse.units import parse_count, parse_window

N = 150


@pytest.fixture(scope="module")
def samples():
    return {n: Sampler(resolve_space(n), Regime(), seed=7).sample(N) for n in
            ["anynet_a", "anynet_b", "anynet_c", "anynet_d", "anynet_e", "regnet", "regnetx", "regnety"]}


def _nondec(x):
    return all(a <= b for a, b in zip(x, x[1:]))


def test_window_distinct_and_exact_complexity(samples):
    for name, ms in samples.items():
        assert len(ms) == N
        assert len({m.arch.key() for m in ms}) == N
        for m in ms:
            assert 360_000_000 <= m.flops <= 400_000_000
            assert complexity(m.arch) == {"flops": m.flops, "params": m.params, "acts": m.acts}
            assert m.arch.compatible() == m.arch  # stored after the compatibility rule
            assert m.arch.stages == 4


def test_anynet_constraints(samples):
    for m in samples["anynet_a"]:
        assert max(m.arch.depths) <= 16 and max(m.arch.widths) <= 1024 + 8
    # A is not constrained: some models have unshared b and decreasing widths
    assert any(len(set(m.arch.bottlenecks)) > 1 for m in samples["anynet_a"])
    assert any(not _nondec(m.arch.widths) for m in samples["anynet_a"])
    for n in ("anynet_b", "anynet_c", "anynet_d", "anynet_e"):
        assert all(len(set(m.arch.bottlenecks)) == 1 for m in samples[n])
    assert any(len(set(m.arch.group_widths)) > 1 for m in samples["anynet_b"])
    for n in ("anynet_c", "anynet_d", "anynet_e"):
        assert all(len(set(m.arch.group_widths)) == 1 for m in samples[n])
    for n in ("anynet_d", "anynet_e"):
        assert all(_nondec(m.arch.widths) for m in samples[n])
    assert any(not _nondec(m.arch.depths) for m in samples["anynet_d"])
    assert all(_nondec(m.arch.depths) for m in samples["anynet_e"])
    assert not any(m.arch.se for n in ("anynet_a", "anynet_e") for m in samples[n])


def test_regnet_constraints(samples):
    for n in ("regnet", "regnetx", "regnety"):
        for m in samples[n]:
            r = m.regnet
            a = regnet_arch(r["d"], r["w0"], r["wa"], r["wm"], r["b"], r["g"], m.arch.se)
            assert a == m.arch
            assert m.arch.se == (n == "regnety")
            assert len(set(m.arch.bottlenecks)) == 1
    for n in ("regnetx", "regnety"):
        for m in samples[n]:
            assert m.arch.bottlenecks == (1, 1, 1, 1)
            assert 12 <= m.arch.depth <= 28 and m.regnet["wm"] >= 2
    assert any(m.arch.bottlenecks[0] != 1 for m in samples["regnet"])


def test_reproducible_and_seed_dependent():
    sp = resolve_space("anynet_c")
    a = [m.arch for m in Sampler(sp, Regime(), seed=3).sample(40)]
    b = [m.arch for m in Sampler(sp, Regime(), seed=3).sample(40)]
    c = [m.arch for m in Sampler(sp, Regime(), seed=4).sample(40)]
    assert a == b and a != c


def test_stream_prefix_and_exclude():
    sp = resolve_space("regnetx")
    long = [m.arch.key() for m in Sampler(sp, Regime(), seed=1).sample(60)]
    short = [m.arch.key() for m in Sampler(sp, Regime(), seed=1).sample(25)]
    rest = [m.arch.key() for m in Sampler(sp, Regime(), seed=1).sample(35, exclude=short)]
    assert long[:25] == short and short + rest == long


@pytest.mark.slow
def test_rejection_is_honest():
    """The bulk sampler equals naive one-at-a-time rejection from the space's distribution."""
    sp = resolve_space("anynet_e")
    reg = Regime(flops=(20_000_000, 60_000_000), resolution=32, stem="cifar", num_classes=10)
    bulk = Sampler(sp, reg, seed=0).sample(250)
    # naive reference: i.i.d. per-stage draws, reject unless sorted (and the compatibility rule keeps
    # the constraints), then the window; compare the depth-sum and log-flops distributions
    rng = np.random.default_rng(123)
    ref = []
    d, w, b, g = (sp.dists[k] for k in "dwbg")
    from dse.models import Arch

    while len(ref) < 250:
        ds, ws = d.sample(rng, 4), w.sample(rng, 4)
        if list(ds) != sorted(ds) or list(ws) != sorted(ws):
            continue
        a = Arch(ds, ws, [b.sample(rng, 1)[0]] * 4, [g.sample(rng, 1)[0]] * 4).compatible()
        if len(set(a.group_widths)) > 1 or list(a.widths) != sorted(a.widths):
            continue
        f = complexity(a, 32, "cifar", 3, 10)["flops"]
        if 20_000_000 <= f <= 60_000_000:
            ref.append(a)
    # duplicates are dropped by the sampler; at this size they are rare
    for stat in (lambda a: a.depth, lambda a: np.log(a.widths[-1]), lambda a: a.bottlenecks[0]):
        p = stats.ks_2samp([stat(m.arch) for m in bulk], [stat(a) for a in ref]).pvalue
        assert p > 0.001


def test_infeasible_window_suggests_one():
    with pytest.raises(DseError) as e:
        Sampler(resolve_space("regnetx"), Regime(flops=(1000, 2000))).sample(5)
    assert "no model of space 'regnetx'" in str(e.value) and "try e.g. the window" in str(e.value)


def test_too_few_distinct_models():
    tiny = parse_space({"family": "anynet", "stages": 1, "params": {
        "d": {"dist": "uniform", "low": 1, "high": 2}, "w": {"dist": "choice", "values": [32]},
        "b": {"dist": "choice", "values": [1]}, "g": {"dist": "choice", "values": [8]}}}, "tiny")
    with pytest.raises(DseError, match="holds at most 2 distinct models"):  # known before drawing anything
        Sampler(tiny, Regime(flops=(0, 10**12)), max_candidates=1 << 18).sample(3)
    # the compatibility rule merges draws (w = 8 with g = 16 is w = 8 with g = 8): fewer distinct models than
    # draws, found out by sampling, and said with the count that was found
    merged = parse_space({"family": "anynet", "stages": 1, "params": {
        "d": {"dist": "choice", "values": [1]}, "w": {"dist": "choice", "values": [8, 16]},
        "b": {"dist": "choice", "values": [1]}, "g": {"dist": "choice", "values": [8, 16]}}}, "merged")
    with pytest.raises(DseError, match="only 3 of 4 distinct models.*hold about 3 distinct models"):
        Sampler(merged, Regime(flops=(0, 10**12))).sample(4)


def test_caps():
    reg = Regime(max_params=3_000_000)
    ms = Sampler(resolve_space("anynet_a"), reg, seed=0).sample(30)
    assert all(m.params <= 3_000_000 for m in ms)


def test_parse_counts():
    assert parse_count("360M") == 360_000_000 and parse_count("0.4G") == 400_000_000
    assert parse_count("397.7MF") == 397_700_000 and parse_count("12345") == 12345
    assert parse_window("0.36G:0.4G") == (360_000_000, 400_000_000)
    for bad in ("360", "a:b", "400M:360M", "1:2:3"):
        with pytest.raises(DseError):
            parse_window(bad)
