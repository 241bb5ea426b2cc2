"""Blocks, stems and reference networks: exact counts against published figures and pycls's own code (pycls 0.1.1,
a test-only dependency), modules that build, train a step and hold the counted parameters."""

import importlib
import json
from pathlib import Path

import numpy as np
import pytest

from dse.models import Arch, complexity
from dse.models.blocks import BLOCK_TYPES, STEM_TYPES, get_block
from dse.models.reference import REFERENCES, reference
from dse.validate import STEMS

ROOT = Path(__file__).resolve().parents[1]

# pycls dev/model_complexity.json (as the issue quotes it): name -> flops, params, acts
PUBLISHED = {
    "effnet_b0": (385_825_092, 5_288_548, 6_748_036),
    "resnet50": (4_089_185_256, 25_557_032, 11_315_688),
    "resnext50_32x4d": (4_230_480_872, 25_028_904, 14_602_216),
    "resnet56": (125_747_850, 855_770, 544_778),
    "vanilla56": (125_485_706, 853_018, 532_490),
}


def _cx(ref):
    return complexity(ref.arch, ref.resolution, num_classes=ref.num_classes)


@pytest.mark.parametrize("name", PUBLISHED)
def test_published_reference_counts(name):
    assert tuple(_cx(reference(name)).values()) == PUBLISHED[name]


def test_regnet_names_say_their_flops():
    """Each RegNet's name is its flops, rounded as the paper prints it (200MF ... 32GF), within 3%."""
    for name, ref in REFERENCES.items():
        if name.startswith("regnet"):
            tag = name.split("_")[1]
            nominal = float(tag[:-2]) * (1e6 if tag.endswith("mf") else 1e9)
            assert abs(_cx(ref)["flops"] / nominal - 1) < 0.03, name


def test_stems_are_the_validated_list():
    assert tuple(STEM_TYPES) == STEMS


def _pycls():
    try:
        import pycls.core.config as config
        import pycls.core.net as net
        anynet, effnet = (importlib.import_module(f"pycls.models.{m}") for m in ("anynet", "effnet"))
    except ImportError as e:
        pytest.skip(f"pycls is not installed ({e}); scripts/test.sh installs pycls==0.1.1 --no-deps and yacs")
    config.reset_cfg()
    return config.cfg, net, anynet, effnet


def _pycls_counts(ref):
    """pycls's own count of a reference network, from its own model classes and configuration keys."""
    cfg, net, anynet, effnet = _pycls()
    # (pycls.models exports functions of these names: the modules are imported by their full names)
    regnet, resnet = (importlib.import_module(f"pycls.models.{m}") for m in ("regnet", "resnet"))

    cfg.TRAIN.IM_SIZE = ref.resolution
    cfg.MODEL.NUM_CLASSES = ref.num_classes
    cx = {"h": ref.resolution, "w": ref.resolution, "flops": 0, "params": 0, "acts": 0}
    a, name = ref.arch, ref.name
    if name.startswith("regnet"):
        r = ref.regnet
        cfg.REGNET.DEPTH, cfg.REGNET.W0, cfg.REGNET.WA, cfg.REGNET.WM = r["d"], r["w0"], r["wa"], r["wm"]
        cfg.REGNET.GROUP_W, cfg.REGNET.SE_ON = r["g"], name.startswith("regnety")
        cx = regnet.RegNet.complexity(cx)
    elif name.startswith(("resnet", "resnext")):
        cfg.TRAIN.DATASET = cfg.TEST.DATASET = "cifar10" if ref.small else "imagenet"
        cfg.MODEL.DEPTH = int(name[6:].split("_")[0]) if name.startswith("resnet") else int(name[7:].split("_")[0])
        cfg.RESNET.TRANS_FUN = "basic_transform" if ref.small else "bottleneck_transform"
        cfg.RESNET.STRIDE_1X1 = False  # pycls's ResNe(X)t configs put the stride on the 3x3
        cfg.RESNET.NUM_GROUPS, cfg.RESNET.WIDTH_PER_GROUP = (32, 4) if "resnext" in name else (1, 64)
        cx = resnet.ResNet.complexity(cx)
    elif name.startswith("effnet"):
        cx = effnet.EffNet._complexity(cx, stem_w=a.stem_w, ds=a.depths, ws=a.widths, exp_rs=a.expansions, se_r=0.25,
                                       ss=a.strides, ks=a.kernels, head_w=a.head_w, nc=ref.num_classes)
    else:  # vanilla56: pycls's AnyNet with its vanilla block
        cx = anynet.AnyNet._complexity(cx, stem_type="res_stem_cifar", stem_w=a.stem_w, block_type="vanilla_block",
                                       ds=a.depths, ws=a.widths, ss=a.strides, bms=None, gws=None, se_r=None,
                                       nc=ref.num_classes)
    return cx["flops"], cx["params"], cx["acts"]


@pytest.mark.parametrize("name", list(REFERENCES))
def test_every_reference_counts_as_pycls_counts_it(name):
    ref = reference(name)
    assert tuple(_cx(ref).values()) == _pycls_counts(ref)


def test_unknown_reference_names_the_known():
    from dse.errors import DseError

    with pytest.raises(DseError, match="unknown reference network 'resnet51'; known: regnetx_200mf"):
        reference("resnet51")


# each block against pycls's own module count, at several widths, strides and groups: (w_in, w_out, stride, p)
CASES = [(32, 32, 1, 1.0, 8), (32, 64, 2, 1.0, 16), (48, 96, 2, 2.0, 8), (64, 64, 1, 4.0, 1), (24, 48, 1, 0.5, 4),
         (96, 48, 2, 1.0, 24), (16, 16, 2, 1.0, 16)]


def _pycls_block(name, w_in, w_out, stride, b, g, se, k=3, e=1.0):
    cfg, net, anynet, effnet = _pycls()
    cx = {"h": 28, "w": 28, "flops": 0, "params": 0, "acts": 0}
    if name == "mbconv":
        return effnet.MBConv.complexity(cx, w_in, e, k, stride, 0.25, w_out)
    if name == "res_bottleneck_linear":  # pycls's later linear block: the bottleneck transform, no projection
        return anynet.BottleneckTransform.complexity(cx, w_in, w_out, stride, 1 / b, g, 0.25 if se else None)
    fun = anynet.get_block_fun(BLOCK_TYPES[name].pycls)
    if name == "res_bottleneck":
        return fun.complexity(cx, w_in, w_out, stride, 1 / b, g, 0.25 if se else None)
    return fun.complexity(cx, w_in, w_out, stride)


def _dse_block(name, w_in, w_out, stride, b, g, se, k=3, e=1.0):
    bt = get_block(name)
    one = lambda v, t=np.int64: np.array([v], dtype=t)  # noqa: E731
    p = {"b": one(b, np.float64), "g": one(g), "k": one(k), "e": one(e, np.float64), "se": se}
    cx = bt.count([one(28), one(0), one(0), one(0)], one(w_in), one(w_out), stride, p)
    return {"h": int(cx[0][0]), "flops": int(cx[1][0]), "params": int(cx[2][0]), "acts": int(cx[3][0])}


BLOCK_CASES = [(n, c, se) for n in ("res_bottleneck", "res_bottleneck_linear", "res_basic", "vanilla", "mbconv")
               for c in CASES for se in (False, True)
               if not (n in ("res_basic", "vanilla") and (se or c[3] != 1)) and not (n == "mbconv" and se)]


@pytest.mark.parametrize("name,case,se", BLOCK_CASES)
def test_each_block_counts_as_pycls_module(name, case, se):
    """(vanilla and res_basic have no b, g or SE; MBConv always has SE)"""
    w_in, w_out, stride, b, g = case
    kw = {"k": 5 if w_in % 3 == 0 else 3, "e": 6.0 if w_out > 32 else 1.0}
    want = _pycls_block(name, w_in, w_out, stride, b, g, se, **kw)
    got = _dse_block(name, w_in, w_out, stride, b, g, se, **kw)
    assert got == {k: want[k] for k in ("h", "flops", "params", "acts")}


def _arch(name, se=False):
    bt = get_block(name)
    kw = {"bottlenecks": (1, 2, 1), "group_widths": (8, 8, 16)} if "b" in bt.uses else {}
    if "k" in bt.uses:
        kw.update(kernels=(3, 5, 3))
    if "e" in bt.uses:
        kw.update(expansions=(1, 6, 4))
    return Arch((1, 2, 1), (16, 32, 64), block=name, se=se, strides=(1, 2, 2), stem="cifar", stem_w=16,
                **kw).compatible()


@pytest.mark.parametrize("name", sorted(BLOCK_TYPES))
def test_each_block_builds_holds_its_counted_parameters_and_trains_a_step(name):
    import torch

    from dse.models.anynet import AnyNet

    torch.manual_seed(0)
    arch = _arch(name, se=get_block(name).se != "never")
    net = AnyNet(arch, "simple", 1, 10)
    assert sum(p.numel() for p in net.parameters()) == complexity(arch, 28, "simple", 1, 10)["params"]
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    x, y = torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,))
    before = [p.detach().clone() for p in net.parameters()]
    loss = torch.nn.functional.cross_entropy(net(x), y)
    loss.backward()
    opt.step()
    assert torch.isfinite(loss) and any(not torch.equal(a, b) for a, b in zip(before, net.parameters()))


@pytest.mark.parametrize("name", ["resnet56", "vanilla56", "effnet_b0", "resnext50_32x4d"])
def test_reference_modules_hold_pyclss_parameter_count(name):
    from dse.models.anynet import AnyNet

    ref = reference(name)
    net = AnyNet(ref.arch, "simple", 3, ref.num_classes)
    assert sum(p.numel() for p in net.parameters()) == _pycls_counts(ref)[1]


@pytest.mark.parametrize("stem", STEMS)
def test_stems_count_as_built(stem):
    import torch

    from dse.models.anynet import AnyNet

    arch = Arch((1, 1), (16, 32), (1, 1), (8, 8), stem=stem, stem_w=24)
    net = AnyNet(arch, "simple", 3, 10)
    assert sum(p.numel() for p in net.parameters()) == complexity(arch, 64, num_classes=10)["params"]
    assert net(torch.zeros(1, 3, 64, 64)).shape == (1, 10)


def test_keys_of_x_and_y_networks_are_unchanged_and_new_fields_round_trip():
    a = Arch((1, 2), (32, 64), (1, 1), (16, 16), se=True)
    assert a.key() == "d=1,2;w=32,64;b=1,1;g=16,16;se=1" and a.to_dict() == {
        "depths": [1, 2], "widths": [32, 64], "bottlenecks": [1, 1], "group_widths": [16, 16], "se": True}
    for ref in REFERENCES.values():
        assert Arch.from_dict(ref.arch.to_dict()) == ref.arch
    assert len({r.arch.key() for r in REFERENCES.values()}) == len(REFERENCES)


@pytest.mark.slow
def test_a_small_nds_study_runs_end_to_end(tmp_path):
    """Two NDS spaces: sample (own cifar stem, strides 1,2,2, under the cap), train, edf, bootstrap, refine (the
    refined space file loads and samples), report, CSV round trip."""
    from conftest import PAIR_TRAIN, cli

    for space in ("nds_vanilla", "nds_resnet"):
        code, out, err = cli(tmp_path, "sample", "--space", space, "-n", "8", "--flops", "100K:3M", "--resolution",
                             "16", "--num-classes", "10")
        assert code == 0, err
    code, out, err = cli(tmp_path, "sample", "--reference", "resnet56", "--resolution", "16")
    assert code == 0, err
    code, out, err = cli(tmp_path, "train", *PAIR_TRAIN)
    assert code == 0, err
    code, out, err = cli(tmp_path, "edf", "--compare", "nds_vanilla", "nds_resnet", "--reference", "resnet56",
                         "--json")
    assert code == 0, err
    r = json.loads(out)
    assert set(r["sweeps"]) == {"nds_vanilla", "nds_resnet"} and 0 <= r["references"]["resnet56"]["error"] <= 100
    for n, s in r["sweeps"].items():  # the share at or below the reference's error is that EDF's value there
        want = sum(e <= r["references"]["resnet56"]["error"] for e in s["errors"]) / len(s["errors"])
        assert r["references"]["resnet56"]["at_or_below"][n] == pytest.approx(want)
    code, out, err = cli(tmp_path, "bootstrap", "--param", "depth", "--param", "w3", "--json")
    assert code == 0, err
    code, out, err = cli(tmp_path, "refine", "--sweep", "nds_resnet", "--min-support", "2", "--out", "r.toml")
    assert code == 0, err
    from dse.spaces import load_space

    refined = load_space(tmp_path / "r.toml")
    assert refined.design == load_space(ROOT / "spaces" / "nds_resnet.toml").design
    code, out, err = cli(tmp_path, "report", "-o", "report.html")
    assert code == 0 and (tmp_path / "report.html").stat().st_size > 1000, err
    page = (tmp_path / "report.html").read_text()
    assert "Reference networks" in page and "<td class=t>resnet56</td>" in page
    import dse

    st = dse.Study(tmp_path / "dse.sqlite")
    assert all(m.arch.block == "res_basic" and m.arch.strides == (1, 2, 2) and m.arch.stem == "cifar"
               and m.flops <= 125_747_850 for m in st.records("nds_resnet"))


def test_compare_baselines_takes_the_models_of_its_flops():
    from dse.analysis.speed import compare_baselines

    models = [{"ms": float(i), "flops": f, "acts": 10 * f} for i, f in enumerate([100, 110, 120, 300, 1000], 1)]
    (b,) = compare_baselines([{"name": "r", "ms": 4.0, "flops": 105, "params": 1, "acts": 5}], models)
    assert b["peers"] == 3 and b["peers_ms"] == 2.0 and b["ratio"] == 2.0 and b["peers_are"].startswith("within")
    (far,) = compare_baselines([{"name": "r", "ms": 4.0, "flops": 10_000, "params": 1, "acts": 5}], models)
    assert far["peers"] == 5 and far["peers_are"] == "the 5 nearest in flops"


def test_speed_baseline_times_references_beside_the_population_and_keeps_them_out_of_the_fits(tmp_path):
    import dse

    st = dse.Study(tmp_path / "s.sqlite")
    st.sample("regnetx", n=5, flops="1M:6M", resolution=16, stem="cifar", num_classes=10)
    (r,) = st.speed(device="cpu", batch=4, repeat=2, baseline="resnet56")
    assert r.n == 5 and [b["name"] for b in r.baselines] == ["resnet56@16px"]
    b = r.baselines[0]
    assert b["flops"] == complexity(reference("resnet56").arch, 16, num_classes=10)["flops"]
    assert b["ratio"] == pytest.approx(b["ms"] / b["peers_ms"])
    assert st.sweep("resnet56@16px").source == "reference"
    again = st.speed_report()  # stored: the reference stays a baseline
    assert again.n == 5 and [x["name"] for x in again.baselines] == ["resnet56@16px"]
