"""Precision as a design dimension: bit widths sampled per model, BitOps / size / peak memory counted exactly
(against a count taken on the quantised torch modules), the BitOps window, quantisation-aware training."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

import dse
from conftest import first_epoch_checkpoint
from dse.errors import DseError, ParamError
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
    assert conv.weight.grad.abs().sum() > 0 and conv.wq.log_step.grad.abs().sum() > 0 and conv.aq.log_step.grad != 0


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


def test_the_fused_kernels_equal_the_plain_autograd_lsq(monkeypatch):
    """torch's fused learnable fake-quantise kernels and ``lsq`` give the same values and gradients (x and step),
    signed and unsigned, per tensor and per channel."""
    import dse.models.quant as q

    torch.manual_seed(0)
    for channels, signed in ((0, True), (0, False), (8, True)):
        qz = Quantiser(3, channels, signed)
        x = torch.randn(8, 16, 5, 5) if channels else torch.randn(4, 8, 6, 6)
        x = x if signed else x.relu()
        qz.init_from(x)
        got = []
        for fused in (True, False):
            monkeypatch.setattr(q, "FUSED", fused)
            xx = x.clone().requires_grad_()
            qz.log_step.grad = None
            y = qz(xx)
            (y * torch.linspace(-1, 1, y.numel()).view_as(y)).sum().backward()
            got.append((y.detach(), xx.grad, qz.log_step.grad.clone()))
        for a, b in zip(*got):
            assert torch.allclose(a, b, atol=1e-5), (channels, signed)


SMALL = dict(resolution=28, stem="cifar", in_channels=1, num_classes=10)


def test_sample_in_a_bitops_window_keeps_each_model_at_its_own_bits(tmp_path, run):
    db = str(tmp_path / "s.sqlite")
    code, out, err = run("sample", "--space", "regnetx_bits", "-n", "40", "--bitops", "2G:8G", "--resolution", "28",
                         "--stem", "cifar", "--in-channels", "1", "--num-classes", "10", "--db", db)
    assert code == 0 and "bitops" in out and "bits_w:" in out, err
    st = dse.Study(db)
    recs = st.records("regnetx_bits")
    got = Regime((0, 0), **SMALL).precision([m.arch for m in recs], [m.settings for m in recs])["bitops"]
    assert np.all((got >= 2e9) & (got <= 8e9))
    assert len({(m.settings["bits_w"], m.settings["bits_a"]) for m in recs}) > 5  # precision varies per model
    flops = np.array([m.flops for m in recs])
    assert flops.max() > 8e6  # quantised models are larger in flops than a float model of the same BitOps
    for args, msg in ((["--flops", "1M:2M"], "exclude each other"), (["--regimes", "2MF,4MF"], "exclude each other"),
                      ([], "LO (8G) is larger")):
        code, _, err = run("sample", "--space", "regnetx_bits", "-n", "3", "--bitops",
                           "8G:2G" if not args else "2G:8G", *args, "--db", str(tmp_path / "x.sqlite"))
        assert code == 2 and msg in err and "Traceback" not in err, err


def test_twins_and_a_space_file_bits_domain(tmp_path):
    st = dse.Study(tmp_path / "s.sqlite")
    st.sample("regnetx", 6, flops="3M:6M", **SMALL)
    st.sample("regnetx_w4a4", 6, flops="3M:6M", **SMALL)
    a, b = st.records("regnetx"), st.records("regnetx_w4a4")
    assert [m.arch for m in a] == [m.arch for m in b] and all(m.settings == {"bits_w": 4, "bits_a": 4} for m in b)
    bad = tmp_path / "b.toml"
    bad.write_text(open(dse.resolve_space("regnetx").where).read() + '[params.bits_w]\ndist = "choice"\n'
                                                                        'values = [1, 4]\n')
    with pytest.raises(DseError, match=r"\[params.bits_w\].*>= 2 and <= 32"):
        dse.resolve_space(str(bad))


def _planted_q(st, space, windows, error, seed=0):
    rng = np.random.default_rng(seed)
    for w in windows:
        name = f"{space}@{w}"
        st.sample(space, 24, name, bitops=w, seed=seed, **SMALL)
        st.set_results(name, {m.idx: float(error(m) + rng.normal(0, 0.2)) for m in st.records(name)})


@pytest.mark.parametrize("gain, want", [(3.0, "holds"), (-3.0, "contradicted"), (0.0, "can't tell")])
def test_shrink_or_quantise_is_judged_on_planted_populations(tmp_path, gain, want):
    """Float regnetx against regnetx_w4a4 at two BitOps windows: the quantised space planted better by 3 points
    (holds), worse (contradicted), or alike (can't tell); regnetx_w8a8 alike, which the criterion allows."""
    st = dse.Study(tmp_path / "s.sqlite")
    wins = ["1G:2G", "2G:4G"]
    _planted_q(st, "regnetx", wins, lambda m: 30.0)
    _planted_q(st, "regnetx_w4a4", wins, lambda m: 30.0 - gain, seed=1)
    _planted_q(st, "regnetx_w8a8", wins, lambda m: 30.0 + abs(gain), seed=2)
    row = st.findings(only="quantise").row("quantise")
    assert row.verdict == want, row.reason
    assert row.regimes == ["2G BitOps", "4G BitOps"] and "regnetx_w4a4" in row.measured
    assert row.n == 3 * 2 * 24


def test_a_float_sweep_in_a_flops_window_is_the_same_bitops_regime(tmp_path):
    st = dse.Study(tmp_path / "s.sqlite")
    rng = np.random.default_rng(0)
    for w, fw in (("1.024G:2.048G", "1M:2M"), ("2.048G:4.096G", "2M:4M")):
        st.sample("regnetx", 24, f"regnetx@{fw}", flops=fw, **SMALL)
        st.set_results(f"regnetx@{fw}", {m.idx: 30 + rng.normal(0, 0.2) for m in st.records(f"regnetx@{fw}")})
        st.sample("regnetx_w8a8", 24, f"q@{w}", bitops=w, **SMALL)
        st.set_results(f"q@{w}", {m.idx: 27 + rng.normal(0, 0.2) for m in st.records(f"q@{w}")})
    assert st.findings(only="quantise").row("quantise").verdict == "holds"


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """A mixed-precision sweep with planted errors (lower bits worse), and a float one, in BitOps windows."""
    folder = tmp_path_factory.mktemp("mixed")
    st = dse.Study(folder / "dse.sqlite")
    st.sample("regnetx_bits", 60, bitops="2G:8G", **SMALL)
    st.sample("regnetx", 60, bitops="2G:8G", **SMALL)
    st.sample("regnetx_bits", 60, "regnetx_bits@16G", bitops="8G:16G", **SMALL)
    rng = np.random.default_rng(0)
    for sw in ("regnetx_bits", "regnetx", "regnetx_bits@16G"):
        st.set_results(sw, {m.idx: 20 + 8 / Precision.of(m.settings).bits_w + rng.normal(0, 0.5)
                            for m in st.records(sw)})
    return folder


def test_a_mixed_precision_sweep_goes_through_every_analysis(mixed):
    from conftest import cli

    for args in (["edf", "--compare", "regnetx_bits", "regnetx", "--normalize", "bitops", "--bins", "4"],
                 ["edf", "--compare", "regnetx_bits", "regnetx", "--normalize", "size_bytes", "--bins", "4"],
                 ["bootstrap", "--sweep", "regnetx_bits", "--param", "bits_w"],
                 ["bootstrap", "--sweep", "regnetx_bits", "--param", "bitops"],
                 ["search-efficiency", "--compare", "regnetx_bits", "regnetx", "--normalize", "bitops"],
                 ["trends", "--sweep", "regnetx_bits", "--sweep", "regnetx_bits@16G", "--param", "bits_a"],
                 ["plot", "rank", "--sweep", "regnetx_bits", "--x", "bits_w", "--y", "bits_a", "--plot", "r.png"],
                 ["refine", "--sweep", "regnetx_bits"], ["fit", "--sweep", "regnetx_bits"],
                 ["report", "--output", "rep.html"], ["status"], ["findings", "--only", "quantise"]):
        code, out, err = cli(mixed, *args)
        assert code == 0 and "Traceback" not in err, (args, err)
    b = json.loads(cli(mixed, "bootstrap", "--sweep", "regnetx_bits", "--param", "bits_w", "--json")[1])
    assert b[0]["median"] == 32 and b[0]["low"] >= 8  # the planted truth: more weight bits, lower error


def test_bit_widths_round_trip_through_csv_and_parquet(mixed, tmp_path):
    st = dse.Study(mixed / "dse.sqlite")
    want = {m.idx: m.settings for m in st.records("regnetx_bits")}
    for ext in ("csv", "parquet"):
        path = tmp_path / f"t.{ext}"
        st.export(path, ["regnetx_bits"])
        db = tmp_path / f"{ext}.sqlite"
        dse.Study(db).import_table(path, "back", **SMALL)
        got = {m.idx: m.settings for m in dse.Study(db).records("back")}
        assert got == want
        a, b = st.population("regnetx_bits"), dse.Study(db).population("back")
        assert np.array_equal(a.values("bitops"), b.values("bitops"))
        assert "bits_w" in b.param_names() and "bitops" in b.param_names()


def test_pycls_export_refuses_a_quantised_network_in_one_sentence(tmp_path):
    st = dse.Study(tmp_path / "s.sqlite")
    reg = dict(resolution=32, stem="cifar", in_channels=3, num_classes=10)
    st.sample("regnetx_w8a8", 2, flops="2M:8M", **reg)
    st.sample("regnetx", 2, flops="2M:8M", **reg)
    with pytest.raises(ParamError,
                       match=r"regnetx_w8a8/0: it is quantised \(w8a8 \(ends 8 bits\)\) and pycls trains float"):
        st.export_pycls(tmp_path / "a")
    r = st.export_pycls(tmp_path / "b", skip_unexpressible=True)
    assert r["written"] == 2 and {x["sweep"] for x in r["skipped"]} == {"regnetx_w8a8"}


def test_quantised_models_train_and_two_bits_never_crash(tmp_path):
    """8-bit and 2-bit networks train through dse train (a few steps of synthetic data): each ends done or
    diverged with a reason, and what they trained with is stored."""
    st = dse.Study(tmp_path / "s.sqlite")
    st.sample("regnetx_w8a8", 1, flops="1M:3M", **SMALL)
    st.sample("regnetx_w2a2", 1, flops="1M:3M", **SMALL)
    r = st.train(budget="1ep", dataset="synthetic", train_size=128, test_size=64, device="cpu",
                 workers_per_device=1)
    assert r.done + r.diverged == 2 and not r.failed
    for sw in ("regnetx_w8a8", "regnetx_w2a2"):
        (m,) = st.records(sw)
        assert m.status in ("done", "diverged") and (m.status == "done") == (m.error is not None)


def test_a_quantised_sr_run_resumes_from_its_checkpoint_as_if_never_stopped(tmp_path):
    """The SR engine calibrates a quantised network's steps and its checkpoint holds them: epoch 2 resumed in a
    fresh quantised model equals the uninterrupted run's."""
    from dse.models.lowlevel import RestoreNet
    from dse.train.restore import Hooks, Pairs, fit_restorer

    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 256, (3, 24, 24), dtype=np.uint8) for _ in range(4)]
    pairs = Pairs(imgs[:3], imgs[3:], "sr", 2)

    def fresh():
        torch.manual_seed(0)
        return quantise(Restorer(RestoreNet((1,), (8,), scale=2, image_residual=True)), 4, 4)

    kw = dict(steps=6, batch=4, patch=6, adam={"lr": 1e-3}, seed=0, epoch_steps=3)
    states = []
    whole = fit_restorer(fresh(), pairs, **kw, hooks=Hooks(on_epoch=lambda row, state: states.append(state())))
    assert any(k.endswith("log_step") for k in states[0]["model"])
    resumed = fit_restorer(fresh(), pairs, **kw, resume=states[0])
    for k in ("loss", "train_psnr", "psnr"):
        assert resumed[1][k] == whole[1][k], k


def test_a_quantised_classifier_resumes_exactly_and_its_steps_skip_weight_decay():
    from dse.train.data import synthetic
    from dse.train.engine import DeviceData, Protocol, Step, train_model

    torch.set_num_threads(1)
    arch = Arch((1, 1), (8, 16), (1, 1), (8, 8))
    dd = DeviceData(synthetic((3, 12, 12), 256, 64, seed=1), "cpu")
    p = Protocol(dataset="synthetic", budget="3ep", batch_size=32)
    full = train_model(arch, dd, p, seed=3, precision=Precision(4, 4))
    saved = first_epoch_checkpoint(lambda grab: train_model(arch, dd, p, seed=3, on_epoch=grab,
                                                            precision=Precision(4, 4)))
    rest = train_model(arch, dd, p, seed=3, resume=saved, precision=Precision(4, 4))
    assert [round(r.train_loss, 6) for r in rest.rows] == [round(r.train_loss, 6) for r in full.rows]
    model = quantise(AnyNet(arch, "cifar", 3, 10), 4, 4)
    st = Step(model, 4, (3, 12, 12), torch.device("cpu"), Protocol(weight_decay=0.1), amp=False, channels_last=False)
    steps = {id(q) for m in model.modules() if isinstance(m, Quantiser) for q in m.parameters()}
    assert steps and {id(st.params[i]) for i in st.decayed}.isdisjoint(steps)
    assert len(st.decayed) == len(st.params) - len(steps)


def test_costs_of_networks_of_several_stage_counts_count_each_one():
    """Counted in bulk by shape (stage count and design): a list mixing shapes equals each counted alone."""
    archs = [CLASSIFIERS["regnetx"][0], Arch((1, 1), (16, 32), (1, 1), (8, 8)), CLASSIFIERS["regnety"][0],
             Arch((1, 2, 1), (8, 16, 24), (1, 1, 1), (8, 8, 8))]
    rg = Regime((0, 0), 32, "cifar", 3, 10)
    st = [{"bits_w": 4, "bits_a": 8}, None, {"bits_w": 2, "bits_a": 2}, {"bits_a": 4}]
    both = rg.precision(archs, st)
    for i, (a, s) in enumerate(zip(archs, st)):
        one = rg.precision([a], [s])
        assert all(int(both[k][i]) == int(one[k][0]) for k in both)
