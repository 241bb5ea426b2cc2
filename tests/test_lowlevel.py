"""Low-level vision (issue 39, first part): the tasks registry, SR and denoising networks counted as their
literature counts them (EDSR's published anchors to the unit), the counts against the torch modules' own, the
reference networks' published parameter counts, PSNR against an independent computation, and a small SR and
denoising training on Fashion-MNIST that beats its input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from conftest import cli
from dse.errors import DseError, ParamError
from dse.models.lowlevel import (LOWLEVEL_REFERENCES, RestoreNet, dncnn_cx, fsrcnn_cx, restore_complexity,
                                 restore_cx)
from dse.tasks import TASKS, task
from dse.train.metrics import psnr, rgb_to_y

DATA = Path(__file__).resolve().parent / "data" / "fashion-mnist"


# ---- the field's counts ----
def test_edsr_baseline_counts_to_the_unit():
    """EDSR-baseline (16 blocks, 64 wide, no mean-shift parameters): the issue's and EDSR's published anchors,
    multiply-adds at a 1280x720 output, biases not counted."""
    x2, x3, x4 = (restore_complexity(RestoreNet((16,), (64,), scale=s)) for s in (2, 3, 4))
    assert (x2["params"], x2["flops"]) == (1_369_859, 316_248_883_200)
    assert (x4["params"], x4["flops"]) == (1_517_571, 114_230_476_800)
    assert round(x3["params"] / 1e6, 2) == 1.55  # EDSR's paper: 1.55 M at x3
    # one 3x3 conv at width 64 costs 8.49 G at x2 and 2.12 G at x4 (the trade of depth for width is linear)
    one = restore_complexity(RestoreNet((17,), (64,), scale=2))["flops"] - x2["flops"]
    assert one == 2 * 64 * 64 * 9 * 640 * 360 and round(one / 2 / 1e9, 2) == 8.49


def test_reference_networks_hold_their_published_parameters():
    torch = pytest.importorskip("torch")
    from dse.models.restore import build_reference

    assert fsrcnn_cx(4)["weights"] == 12_464 == 5**2 * 56 + 56 * 12 + 9 * 4 * 12**2 + 12 * 56 + 81 * 56
    assert round(fsrcnn_cx(4)["flops"] / 1e9, 1) == 4.6  # the SR tables' FSRCNN x4 (deconv per output pixel)
    assert dncnn_cx()["params"] == 556_096  # DnCNN-S: 0.56 M
    for name, ref in LOWLEVEL_REFERENCES.items():
        m = build_reference(name)
        assert sum(p.numel() for p in m.parameters()) == ref.cx["params"], name
        x = torch.zeros(1, 3 if ref.net else 1, 24, 36)
        assert m(x).shape[-2:] == (24 * ref.scale, 36 * ref.scale), name


NETS = [RestoreNet((2,), (16,), scale=2), RestoreNet((1, 2), (8, 24), (3, 1), scale=3),
        RestoreNet((2, 1, 1), (16, 16, 32), (2, 6, 1), scale=4, bn=True),
        RestoreNet((3,), (12,), (4,), scale=1, in_channels=1, image_residual=True),
        RestoreNet((1, 1), (40, 8), (1, 2), scale=2, in_channels=1, bn=True)]


@pytest.mark.parametrize("net", NETS, ids=range(len(NETS)))
def test_counts_equal_the_modules_own(net):
    """The module's parameters, and its multiply-adds as torch's own counter measures them (FlopCounterMode: 2 flops
    a multiply-add, biases not counted), equal the vectorised count, for several widths, expansions, stage
    changes, BatchNorm and scales."""
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    from dse.models.restore import Restorer

    out = (48, 36)  # (width, height) of the output: divisible by 2, 3 and 4
    cx = restore_complexity(net, out)
    m = Restorer(net)
    assert sum(p.numel() for p in m.parameters()) == cx["params"]
    x = torch.zeros(1, net.in_channels, out[1] // net.scale, out[0] // net.scale)
    fc = FlopCounterMode(display=False)
    with fc, torch.no_grad():
        m(x)
    assert fc.get_total_flops() // 2 == cx["flops"]
    assert m(x).shape[-2:] == (out[1], out[0])


def _sr_archs():
    """One SR body per registered block (SE on where it may be), at two widths and per-stage parameters."""
    from dse.models.arch import Arch
    from dse.models.blocks import BLOCK_TYPES

    vals = {"b": ((1, 2), (1, 4)), "g": ((8, 4), (2, 8)), "k": ((3, 5), (3, 3)), "e": ((2, 1), (3, 6))}
    out = []
    for name, bt in sorted(BLOCK_TYPES.items()):
        for j, (w, se) in enumerate((((16, 24), True), ((32, 32), False))):
            kw = {f: tuple(vals[p][j]) for p, f in (("b", "bottlenecks"), ("g", "group_widths"), ("k", "kernels"),
                                                    ("e", "expansions")) if p in bt.uses}
            out.append(Arch((1, 2), w, block=name, se=se, strides=(1, 1), **kw).compatible())
    return out


@pytest.mark.parametrize("arch", _sr_archs(), ids=lambda a: a.key())
def test_any_registered_block_in_an_sr_body_counts_as_its_module(arch):
    """The SR/denoising count of a body of any registered block (SE's per-image cost included, biases not counted
    in flops) equals torch's own count of the module built from the same registry, x2, x3 and denoising."""
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    from dse.models.lowlevel import Restoration
    from dse.models.restore import Restorer

    out = (36, 24)
    for scale in (2, 3, 1):
        net = Restoration(arch, scale, in_channels=3)
        cx = restore_complexity(net, out)
        m = Restorer(net).eval()
        assert sum(p.numel() for p in m.parameters()) == cx["params"], scale
        x = torch.zeros(1, 3, out[1] // scale, out[0] // scale)
        fc = FlopCounterMode(display=False)
        with fc, torch.no_grad():
            y = m(x)
        assert fc.get_total_flops() // 2 == cx["flops"], scale
        assert y.shape[-2:] == (out[1], out[0])


def test_vectorised_counts_equal_one_at_a_time():
    nets = [n for n in NETS if len(n.depths) == 2 and n.scale == NETS[1].scale] + [NETS[1]]
    d = np.array([n.depths for n in nets])
    w = np.array([n.widths for n in nets])
    e = np.array([n.expansions for n in nets])
    many = restore_cx(d, w, e, 3)
    for i, n in enumerate(nets):
        one = restore_complexity(n)
        assert {k: int(v[i]) for k, v in many.items()} == one


def test_a_network_out_of_bounds_is_refused_saying_what():
    for kw, words in ((dict(depths=(2,), widths=(16, 8)), "one depth, width and expansion per stage"),
                      (dict(depths=(2,), widths=(16,), expansions=(7,)), "expansions must be from 1 to 6"),
                      (dict(depths=(0,), widths=(16,)), "depths must be >= 1"),
                      (dict(depths=(2,), widths=(16,), scale=5), "scale must be 1 (denoising), 2, 3 or 4")):
        with pytest.raises(DseError, match=re.escape(words)):
            RestoreNet(**kw)


# ---- the tasks ----
def test_tasks_declare_their_metric_and_its_direction():
    assert set(TASKS) >= {"classify", "sr", "denoise"}
    assert not task("classify").metric.higher_is_better and task("classify").metric.unit == "%"
    assert task("sr").metric.higher_is_better and task("sr").metric.unit == "dB"
    assert task("sr").metric.better(30.1, 30.0) and task("classify").metric.better(30.0, 30.1)
    assert task("sr").count_at == (1280, 720) and task("denoise").count_at == (256, 256)
    assert task("sr").options["scale"] == (2, 3, 4)
    with pytest.raises(DseError, match="unknown task 'seg'; tasks: classify, sr, denoise"):
        task("seg")


# ---- PSNR ----
def _reference_psnr(out01, ref01, crop):
    """PSNR as BasicSR computes it with test_y_channel (written out here independently): 8-bit images, HWC,
    Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255 on [0, 1] values times 255, border cropped, 10 log10(255^2/mse)."""
    a = np.round(np.clip(out01, 0, 1) * 255).transpose(1, 2, 0).astype(np.float64) / 255.0
    b = np.round(np.clip(ref01, 0, 1) * 255).transpose(1, 2, 0).astype(np.float64) / 255.0
    ya = 16.0 + 65.481 * a[..., 0] + 128.553 * a[..., 1] + 24.966 * a[..., 2]
    yb = 16.0 + 65.481 * b[..., 0] + 128.553 * b[..., 1] + 24.966 * b[..., 2]
    ya, yb = ya[crop:-crop, crop:-crop], yb[crop:-crop, crop:-crop]
    return 20.0 * np.log10(255.0 / np.sqrt(np.mean((ya - yb) ** 2)))


def test_psnr_equals_the_reference_computation():
    rng = np.random.default_rng(3)
    ref = rng.random((3, 40, 52))
    out = np.clip(ref + rng.normal(0, 0.03, ref.shape), 0, 1)
    for crop in (2, 3, 4):
        assert abs(psnr(out, ref, shave=crop) - _reference_psnr(out, ref, crop)) < 1e-6
    both = psnr(np.stack([out, ref]), np.stack([ref, ref]), shave=2)  # one value per image; a perfect one is inf
    assert both[0] == pytest.approx(_reference_psnr(out, ref, 2), abs=1e-6) and np.isinf(both[1])
    # Y of white and black: 235 and 16 (BT.601's studio range)
    assert rgb_to_y(np.full((3, 1, 1), 255.0))[0, 0] == pytest.approx(235.0, abs=1e-3)
    assert rgb_to_y(np.zeros((3, 1, 1)))[0, 0] == 16.0
    with pytest.raises(ValueError, match="shaving 30 pixels leaves nothing"):
        psnr(out, ref, shave=30)


# ---- training on pairs ----
def _fashion(n_train=1000, n_val=100):
    from dse.train.data import load_fashion_mnist

    d = load_fashion_mnist(DATA)
    return d.x_train[:n_train], d.x_test[:n_val]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sr", "denoise"])
def test_a_small_network_beats_its_input_on_fashion_mnist(kind):
    """200 Adam steps of L1 on 8 px (SR x2) or 16 px (denoising, sigma 25) patches: the network's PSNR on 100
    validation images is above bicubic upscaling's (SR) or the noisy images' (denoising)."""
    torch = pytest.importorskip("torch")
    from dse.models.restore import Restorer
    from dse.train.restore import Pairs, train_restorer

    torch.set_num_threads(1)
    train, val = _fashion()
    pairs = Pairs(train, val, kind, scale=2, sigma=25)
    net = RestoreNet((2,), (16,), scale=pairs.scale, in_channels=1, image_residual=True)
    r = train_restorer(Restorer(net), pairs, steps=200, batch=16, patch=8 if kind == "sr" else 16, seed=0)
    assert r.psnr > r.baseline_psnr + (0.1 if kind == "sr" else 1.0), r
    assert 10 < r.baseline_psnr < 40 and r.patches_per_s > 0 and r.steps == 200


def test_pairs_refuse_a_scale_or_a_patch_they_cannot_make():
    train, val = _fashion(20, 5)
    from dse.train.restore import Pairs, train_restorer

    with pytest.raises(ParamError, match="scale must be 2, 3 or 4"):
        Pairs(train, val, "sr", scale=5)
    with pytest.raises(ParamError, match="task 'seg' unknown here; allowed: sr, denoise"):
        Pairs(train, val, "seg")
    from dse.models.restore import Restorer

    with pytest.raises(ParamError, match="larger than the smallest training image"):
        train_restorer(Restorer(RestoreNet((1,), (8,), scale=2, in_channels=1)), Pairs(train, val, "sr", 2),
                       steps=1, patch=20)
    assert Pairs(train, val, "sr", 3).train[0].shape[-2:] == (27, 27)  # cut to a multiple of the scale


# ---- the CLI ----
def test_dse_model_shows_low_level_networks(tmp_path):
    code, out, err = cli(tmp_path, "model", "edsr_baseline_x2", "--json")
    got = json.loads(out)
    assert code == 0 and got["task"] == "sr" and got["flops"] == 316_248_883_200 and got["params"] == 1_369_859
    assert got["count_at"] == [1280, 720] and got["depths"] == [16]
    code, out, _ = cli(tmp_path, "model", "list", "--task", "denoise", "--json")
    assert code == 0 and [r["name"] for r in json.loads(out)] == ["dncnn"]
    code, out, _ = cli(tmp_path, "model", "restore", "--depths", "16", "--widths", "64", "--scale", "4", "--json")
    assert code == 0 and json.loads(out)["flops"] == 114_230_476_800
    code, _, err = cli(tmp_path, "model", "restore", "--depths", "2", "--widths", "16", "--expansions", "9")
    assert code == 2 and "expansions must be from 1 to 6" in err and "Traceback" not in err
    for args, words in ((["--depths", "99999999", "--widths", "64"], "too large to build"),
                        (["--depths", "16", "--widths", "64", "--in-channels", "0"], "--in-channels must be an"),
                        (["--depths", "inf", "--widths", "64"], "--depths: expected comma-separated numbers"),
                        (["--depths", "16", "--widths", "64", "--scale", "5"],
                         "--scale must be an integer >= 2 and <= 4")):
        code, _, err = cli(tmp_path, "model", "restore", *args)
        assert code == 2 and words in err and "Traceback" not in err, (args, err)
    code, out, _ = cli(tmp_path, "model", "list", "--json")  # classification's list is as it was
    assert code == 0 and all("task" not in r for r in json.loads(out)) and json.loads(out)[0]["name"]


# ---- photographs ----
def _photo(path, mode="RGB", size=(64, 48), seed=0):
    from PIL import Image

    rng = np.random.default_rng(seed)
    if mode == "I;16":
        Image.fromarray(rng.integers(0, 65535, size[::-1], dtype=np.uint16)).save(path)
        return
    x = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(x).convert(mode).save(path)


def test_photographs_load_checked_and_train_at_their_own_sizes(tmp_path):
    from dse.train.photos import load_photos

    good = tmp_path / "good"
    good.mkdir()
    for i, size in enumerate([(64, 48), (50, 70), (40, 40)]):
        _photo(good / f"{i}.png", size=size, seed=i)
    (good / "notes.txt").write_text("not a photo")  # other files are not photographs
    photos = load_photos(good)
    assert [p.shape for p in photos] == [(3, 48, 64), (3, 70, 50), (3, 40, 40)] and photos[0].dtype == np.uint8
    assert [p.shape for p in load_photos(good, downscale=2)] == [(3, 24, 32), (3, 35, 25), (3, 20, 20)]
    for mode, words in (("L", "its mode is L (grey)"), ("RGBA", "its mode is RGBA (not RGB, with transparency)"),
                        ("I;16", "a 16-bit image")):
        bad = tmp_path / mode.replace(";", "")
        bad.mkdir()
        _photo(bad / "a.png")
        _photo(bad / "b.png", mode=mode)
        with pytest.raises(DseError, match=re.escape(f"{bad / 'b.png'}: {words}")):
            load_photos(bad)
    broken = tmp_path / "broken"
    broken.mkdir()
    _photo(broken / "a.png")
    (broken / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(DseError, match="b.png: not a readable image"):
        load_photos(broken)
    with pytest.raises(DseError, match="is smaller than 45 px on a side"):
        load_photos(good, min_side=45)
    with pytest.raises(DseError, match="holds 1 photograph"):
        load_photos(good, limit=1)
    with pytest.raises(DseError, match="no such folder"):
        load_photos(tmp_path / "nope")
    torch = pytest.importorskip("torch")
    from dse.models.restore import Restorer
    from dse.train.restore import Pairs, train_restorer

    torch.set_num_threads(1)
    r = train_restorer(Restorer(RestoreNet((1,), (8,), scale=2)), Pairs(photos[:2], photos[2:], "sr", 2), steps=3,
                       batch=4, patch=8)
    assert r.steps == 3 and np.isfinite(r.psnr) and np.isfinite(r.baseline_psnr)


def test_a_network_too_large_for_int64_is_refused_or_marked_never_wrapped():
    """restore_arrays counts in int64: a body whose counts pass 2^62 raises TooLarge (one network) or is marked -1
    for a sampler to drop (a batch), as classification's counts are; the others in the batch count as alone."""
    from dse.models.complexity import TooLarge
    from dse.models.lowlevel import restore_arrays
    from dse.models.arch import Design

    design = Design(block="wide_res")
    d, w, e = np.array([[1024, 1024], [2, 3]]), np.array([[65536, 65536], [16, 32]]), np.array([[6.0, 6.0], [1, 2]])
    with pytest.raises(TooLarge, match="too large to count"):
        restore_arrays(d[:1], w[:1], {"e": e[:1]}, design, 2)
    got = restore_arrays(d, w, {"e": e}, design, 2, too_large="mark")
    alone = restore_arrays(d[1:], w[1:], {"e": e[1:]}, design, 2)
    assert [int(got[k][0]) for k in got] == [-1, -1, -1]
    assert all(int(got[k][1]) == int(alone[k][0]) > 0 for k in got)
    exact = restore_arrays(d[1:], w[1:], {"e": e[1:]}, design, 2)["flops"][0]  # a float64 recount agrees
    big = restore_arrays(np.array([[64]]), np.array([[4096]]), {"e": np.array([[6.0]])}, design, 2)["flops"][0]
    assert exact > 0 and 0 < big < 2**62
