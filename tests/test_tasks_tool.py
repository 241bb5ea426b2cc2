"""Low-level vision through the tool (issue 39): SR and denoising spaces sample with their task's count, train
(in-process, the worker's path) on a folder of photographs with PSNR as the result, show in status and export with
a task and a PSNR column; pycls export, table import, comparisons across tasks or scales, and bad input are refused
with one clear sentence and the store unchanged."""

from __future__ import annotations

import csv
from pathlib import Path
import json
import sqlite3
from functools import partial

import numpy as np
import pytest

from conftest import cli, digest, fails
from dse.models.lowlevel import Restoration, restore_complexity
from dse.errors import ParamError
from dse.models.arch import Arch
from dse.study import Study


def _photos(folder, n=5, size=(40, 48), grey=False):
    """Smooth 8-bit RGB test photographs (seeded), one size each."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        h, w = size[0] + 4 * i, size[1]
        y, x = np.mgrid[0:h, 0:w]
        img = np.stack([128 + 90 * np.sin(x / (5 + i) + c) * np.cos(y / (7 + c)) for c in range(3)], -1)
        img = np.clip(img + rng.normal(0, 2, img.shape), 0, 255).astype(np.uint8)
        Image.fromarray(img[..., 0] if grey else img).save(folder / f"p{i}.png")
    return folder


@pytest.fixture(scope="module")
def sr_store(tmp_path_factory):
    """An SR x2 sweep and an SR x4 sweep of 2 models each, and a classification sweep, the x2 one trained for 2
    short epochs on a folder of photographs."""
    d = tmp_path_factory.mktemp("sr")
    run = partial(cli, d)
    photos = _photos(d / "photos")
    assert run("sample", "--space", "sr_anynet", "-n", "2", "--sweep", "x2")[0] == 0
    assert run("sample", "--space", "sr_anynet", "-n", "2", "--sweep", "x4", "--scale", "4",
               "--flops", "5G:15G")[0] == 0
    assert run("sample", "--space", "anynet_a", "-n", "2", "--flops", "2M:8M", "--resolution", "28", "--stem",
               "cifar", "--in-channels", "1", "--num-classes", "10")[0] == 0
    code, out, err = run("train", "--sweep", "x2", "--data-dir", photos, "--budget", "20it", "--resolution", "12",
                         "--plain")
    assert code == 0, (out, err)
    return d, run, photos


def test_an_sr_sweep_is_counted_as_the_sr_tables_count(sr_store):
    d, run, _ = sr_store
    con = sqlite3.connect(d / "dse.sqlite")
    regime = json.loads(con.execute("SELECT regime FROM sweeps WHERE name = 'x4'").fetchone()[0])
    assert regime["task"] == "sr" and regime["scale"] == 4 and "resolution" not in regime
    for arch, flops, params in con.execute("SELECT arch, flops, params FROM models WHERE sweep = 'x4'"):
        a = Arch.from_dict(json.loads(arch))
        assert set(a.strides) == {1} and a.block == "wide_res"
        cx = restore_complexity(Restoration(a, 4, 3))  # at a 1280x720 output (tested against torch's own count)
        assert (cx["flops"], cx["params"]) == (flops, params) and 5e9 <= flops <= 15e9
    # classification's regimes are stored as before: no task keys
    reg = json.loads(con.execute("SELECT regime FROM sweeps WHERE name = 'anynet_a'").fetchone()[0])
    assert not {"task", "scale", "sigma"} & set(reg)


def test_an_sr_sweep_trains_to_a_psnr_on_photographs(sr_store):
    d, run, _ = sr_store
    con = sqlite3.connect(d / "dse.sqlite")
    rows = con.execute("SELECT idx, status, error, best_error, epochs FROM models WHERE sweep = 'x2'").fetchall()
    assert [r[1] for r in rows] == ["done", "done"]
    for idx, _, err, best, epochs in rows:
        eps = [e for (e,) in con.execute("SELECT test_error FROM epochs WHERE sweep = 'x2' AND idx = ? ORDER BY epoch",
                                         (idx,))]
        assert epochs == len(eps) == 1 and err == eps[-1] and best == max(eps)  # PSNR: the best is the highest
        assert 15 < err < 60  # dB on 8-bit images: a restoration, not an error in %
    code, out, _ = run("status", "--json")
    st = {r["sweep"]: r for r in json.loads(out)}
    assert st["x2"]["task"] == "sr" and st["x2"]["metric"] == "psnr" and st["x2"]["unit"] == "dB"
    assert st["x2"]["best_error"] == max(r[2] for r in rows) and "task" not in st["anynet_a"]
    code, out, _ = run("status")
    assert "dB" in out and "x4 15GF" in out


def test_export_carries_the_task_and_the_psnr_and_pycls_and_import_refuse_it(sr_store, tmp_path):
    d, run, _ = sr_store
    assert run("export", "--sweep", "x2", "-o", tmp_path / "x2.csv")[0] == 0
    rows = list(csv.DictReader(open(tmp_path / "x2.csv")))
    assert [r["task"] for r in rows] == ["sr", "sr"] and {r["scale"] for r in rows} == {"2"}
    assert all(float(r["psnr"]) == float(r["error"]) and float(r["best_psnr"]) == float(r["best_error"]) for r in rows)
    store = d / "dse.sqlite"
    fails(run, store, ("export", "--sweep", "x2", "--pycls", tmp_path / "pc"), "pycls trains image classifiers only")


def test_an_sr_export_imports_back_as_the_same_sr_sweep(sr_store, tmp_path):
    """dse export then dse import: the same networks, counts, PSNRs and task (sr x2) in the new sweep; a table of
    PSNRs alone (a psnr column, no error) imports too; rows of two scales, a scale out of range, or counts that are
    not the task's are refused naming the file, the store unchanged."""
    import pandas as pd

    d, run, _ = sr_store
    store = d / "dse.sqlite"
    assert run("export", "--sweep", "x2", "-o", tmp_path / "x2.csv")[0] == 0
    st = Study(store)
    for table, name in ((tmp_path / "x2.csv", "back"), (tmp_path / "psnr.csv", "back2")):
        if name == "back2":
            df = pd.read_csv(tmp_path / "x2.csv").drop(columns=["error", "best_error"])
            df.to_csv(table, index=False)
        code, out, err = run("import", table, "--sweep", name)
        assert code == 0, err
        assert st.status(name)[0].task == "sr" and st.status(name)[0].scale == 2
        a = {m.arch.key(): (m.flops, m.params, m.error, m.best_error) for m in st.records("x2")}
        b = {m.arch.key(): (m.flops, m.params, m.error, m.best_error) for m in st.records(name)}
        assert a == b
    df = pd.read_csv(tmp_path / "x2.csv")
    for change, words in ((dict(scale=[2, 4]), "column scale holds 2, 4"), (dict(scale=[5, 5]), "scale"),
                          (dict(flops=[1, 1]), "at a 1280x720 output (sr x2")):
        bad = df.copy()
        for k, v in change.items():
            bad[k] = v
        bad.to_csv(tmp_path / "bad.csv", index=False)
        fails(run, store, ("import", tmp_path / "bad.csv", "--sweep", "bad"), "bad.csv", words)


@pytest.mark.parametrize("pair,words", [(("x2", "anynet_a"), "'x2' (sr x2) and 'anynet_a' (classify)"),
                                        (("x2", "x4"), "'x2' (sr x2) and 'x4' (sr x4)")])
def test_comparing_across_tasks_or_scales_is_refused_naming_both(sr_store, pair, words):
    d, run, _ = sr_store
    fails(run, d / "dse.sqlite", ("edf", "--compare", *pair), words, "not one comparison")


def test_bad_input_to_a_low_level_sweep_exits_2_and_leaves_the_store(sr_store, tmp_path):
    d, run, photos = sr_store
    store = d / "dse.sqlite"
    grey = _photos(tmp_path / "grey", grey=True)
    for args, words in (
            (("sample", "--space", "sr_anynet", "-n", "2", "--sweep", "b", "--resolution", "32"),
             ["--resolution does not apply to 'sr_anynet', an sr space"]),
            (("sample", "--space", "sr_anynet", "-n", "2", "--sweep", "b", "--sigma", "25"),
             ["--sigma applies to denoise spaces"]),
            (("sample", "--space", "anynet_a", "-n", "2", "--sweep", "b", "--scale", "2"),
             ["--scale applies to sr spaces"]),
            (("sample", "--space", "sr_anynet", "-n", "2", "--sweep", "b", "--scale", "5"),
             ["--scale must be an integer >= 2 and <= 4"]),
            (("train", "--data-dir", photos, "--budget", "2it"), ["of different tasks", "--sweep"]),
            (("train", "--sweep", "x4", "--data-dir", photos, "--budget", "2it", "--resolution", "40"),
             ["--resolution (the training patch) 40 px x scale 4 = 160 px is larger than the smallest"]),
            (("train", "--sweep", "x4", "--data-dir", grey, "--budget", "2it"), [f"{grey}", "mode is L", "8-bit RGB"]),
            (("train", "--sweep", "x4", "--dataset", "cifar10", "--budget", "2it"),
             ["cifar10 is a classification dataset"]),
    ):
        before = digest(store)
        code, out, err = run(*args)
        assert code == 2 and "Traceback" not in err and all(w in err for w in words), (args, err)
        assert digest(store) == before


def test_a_space_file_of_a_low_level_task_is_checked(tmp_path):
    from dse.errors import DseError
    from dse.spaces import load_space

    base = ('name = "s"\ntask = "sr"\nfamily = "anynet"\nblock = "wide_res"\nstages = 1\n[params.d]\ndist = "choice"\n'
            'values = [1, 2]\n[params.w]\ndist = "choice"\nvalues = [8, 16]\n[params.e]\ndist = "choice"\n'
            'values = [1, 2]\n')
    (tmp_path / "ok.toml").write_text(base)
    assert load_space(tmp_path / "ok.toml").design.strides == (1,)
    for extra, words in (('[regime]\nresolution = 32\n', "[regime] resolution: does not apply to an sr space"),
                         ('[regime]\nsigma = 25\n', "[regime] sigma: does not apply to an sr space"),
                         ('[regime]\nscale = 5\n', "[regime] scale"),
                         ('strides = [2]\n', "strides belong to classification spaces")):
        text = base.replace('stages = 1\n', 'stages = 1\n' + extra) if not extra.startswith("[") else base + extra
        (tmp_path / "bad.toml").write_text(text)
        with pytest.raises(DseError, match=r"bad\.toml") as e:
            load_space(tmp_path / "bad.toml")
        assert words in str(e.value)
    (tmp_path / "bad.toml").write_text(base.replace('task = "sr"', 'task = "segment"'))
    with pytest.raises(DseError, match="task: got 'segment'; allowed: classify"):
        load_space(tmp_path / "bad.toml")


def test_edf_and_bootstrap_read_a_psnr_as_the_mirror_of_an_error():
    """The same planted populations as errors and as their mirror image in PSNR (psnr = 45 - error): the same KS,
    the same best model and bootstrap interval, and every EDF statistic mirrored (the best PSNR is 45 - the lowest
    error, the share above 45 - t is the share below t)."""
    from dse.analysis.results import bootstrap_panel, compare_edfs
    from dse.tasks import PSNR

    rng = np.random.default_rng(3)
    err = {"a": rng.normal(30, 4, 40), "b": rng.normal(28, 3, 35)}
    x = rng.integers(1, 20, 40).astype(float)
    ps = {k: 45 - v for k, v in err.items()}
    e = compare_edfs(err, thresholds=[26, 30])
    p = compare_edfs({k: PSNR.loss(v) for k, v in ps.items()}, thresholds=[19, 15], measure=PSNR)
    assert [(k.statistic, k.pvalue) for k in e.ks] == [(k.statistic, k.pvalue) for k in p.ks]
    for n in err:
        a, b = e.sweeps[n], p.sweeps[n]
        assert b.min == pytest.approx(ps[n].max()) == pytest.approx(45 - a.min)
        for k in ("mean", "median", "p10", "p25", "p75"):
            assert getattr(b, k) == pytest.approx(45 - getattr(a, k)), k
        assert b.below[19] == a.below[26] == pytest.approx(np.mean(ps[n] > 19))
        assert np.allclose(b.errors, 45 - a.errors) and np.allclose(b.weights, a.weights)
        j = b.to_json()
        assert {"best", "above", "psnr"} <= set(j) and not {"min", "below", "errors"} & set(j)
    be = bootstrap_panel("a", "d", x, err["a"], n_boot=500, seed=1)
    bp = bootstrap_panel("a", "d", x, PSNR.loss(ps["a"]), n_boot=500, seed=1, measure=PSNR)
    assert (be.median, be.low, be.high) == (bp.median, bp.low, bp.high)
    assert "error (%)" in e.xlabel and "PSNR (dB" in p.xlabel


def test_a_low_level_sweep_s_edf_reads_in_db_through_the_study(sr_store):
    from dse.study import Study

    d, _, _ = sr_store
    st = Study(d / "dse.sqlite")
    r = st.edf(["x2"])
    s = r.sweeps["x2"]
    stored = [m.error for m in st.records("x2")]
    assert r.measure.name == "psnr" and s.min == max(stored) and sorted(s.errors, reverse=True) == list(s.errors)
    assert r.to_json()["measure"] == "psnr" and r.to_json()["unit"] == "dB"


def test_an_sr_sweep_trains_on_fashion_mnist_and_beats_bicubic(tmp_path):
    """The suite's own data through the tool: a grey x2 EDSR-like sweep trained on a Fashion-MNIST subset reaches a
    higher PSNR than bicubic upscaling of the same validation images (computed here, independently of training)."""
    import torch
    from torch.nn import functional as F

    from dse.train.metrics import psnr
    from dse.train.protocol import Protocol
    from dse.train.restore import bicubic_down, clean_for, crop_to

    data = Path(__file__).resolve().parent / "data" / "fashion-mnist"
    run = partial(cli, tmp_path)
    assert run("sample", "--space", "sr_edsr", "-n", "1", "--in-channels", "1", "--seed", "2")[0] == 0
    code, out, err = run("train", "--dataset", "fashion-mnist", "--data-dir", data, "--train-size", "500",
                         "--test-size", "40", "--budget", "150it", "--resolution", "14", "--plain")
    assert code == 0, (out, err)
    got = sqlite3.connect(tmp_path / "dse.sqlite").execute("SELECT status, error FROM models").fetchone()
    assert got[0] == "done"
    p = Protocol(dataset="fashion-mnist", train_size=500, test_size=40, budget="150it")
    val = torch.from_numpy(np.stack(crop_to(clean_for(p, data).val, 2))).float().div_(255)
    up = F.interpolate(bicubic_down(val, 2), size=val.shape[-2:], mode="bicubic", align_corners=False).clamp(0, 1)
    bicubic = float(np.mean(psnr(up.numpy(), val.numpy(), shave=2)))
    assert got[1] > bicubic + 0.1, (got[1], bicubic)


def test_edsr_baseline_is_a_one_model_sweep_counted_as_published_and_trains(tmp_path):
    """dse sample --reference edsr_baseline_x2: EDSR-baseline as a one-model SR sweep (316,248,883,200 multiply-adds
    at 1280x720, 1,369,859 parameters), trained to a PSNR; a classification option is refused, the store
    unchanged."""
    run = partial(cli, tmp_path)
    assert run("sample", "--reference", "edsr_baseline_x2")[0] == 0
    con = sqlite3.connect(tmp_path / "dse.sqlite")
    regime = json.loads(con.execute("SELECT regime FROM sweeps").fetchone()[0])
    assert (regime["task"], regime["scale"]) == ("sr", 2)
    assert con.execute("SELECT flops, params FROM models").fetchone() == (316_248_883_200, 1_369_859)
    store = tmp_path / "dse.sqlite"
    fails(run, store, ("sample", "--reference", "edsr_baseline_x4", "--resolution", "32"),
          "--resolution does not apply to edsr_baseline_x4")
    photos = _photos(tmp_path / "photos", size=(24, 24))
    code, out, err = run("train", "--data-dir", photos, "--budget", "2it", "--resolution", "8", "--plain")
    assert code == 0 and "1 done" in out, (out, err)


def test_fsrcnn_and_dncnn_are_one_model_sweeps_of_their_own_modules_trained_on_the_y_channel(tmp_path):
    """FSRCNN x2 and DnCNN (ends of their own: not EDSR's skeleton) are one-model sweeps counted as published, whose
    trained module is the network itself (its parameters the stored count), trained on the Y channel of colour
    photographs; the network survives export and import; a stored regime naming a network that is not a fixed
    one of its task is refused as damage."""
    import torch

    from dse.models.lowlevel import LOWLEVEL_REFERENCES
    from dse.models.restore import build_restorer
    from dse.train.metrics import rgb_to_y
    from dse.train.restore import CleanImages

    run = partial(cli, tmp_path)
    for name in ("fsrcnn_x2", "dncnn"):
        assert run("sample", "--reference", name)[0] == 0
    con = sqlite3.connect(tmp_path / "dse.sqlite")
    rows = {n: (json.loads(r), f, p) for n, r, f, p in con.execute(
        "SELECT s.name, s.regime, m.flops, m.params FROM sweeps s JOIN models m ON m.sweep = s.name")}
    assert rows["fsrcnn_x2"][1:] == (6_006_988_800, 12_809) and rows["dncnn"][1:] == (36_314_284_032, 556_096)
    for n, (regime, _, params) in rows.items():
        assert regime["network"] == n and regime["in_channels"] == 1
        m = build_restorer(None, regime)
        assert sum(p.numel() for p in m.parameters()) == params == LOWLEVEL_REFERENCES[n].cx["params"]
        x = torch.rand(2, 1, 10, 10)
        assert m(x).shape == (2, 1, 10 * (regime.get("scale") or 1), 10 * (regime.get("scale") or 1))
    photos = _photos(tmp_path / "photos", size=(24, 24))
    code, out, err = run("train", "--sweep", "fsrcnn_x2", "--data-dir", photos, "--budget", "2it", "--resolution",
                         "8", "--plain")
    assert code == 0 and "1 done" in out and "Y channel" in out, (out, err)
    assert con.execute("SELECT status FROM models WHERE sweep = 'fsrcnn_x2'").fetchone()[0] == "done"
    assert run("export", "--sweep", "fsrcnn_x2", "-o", str(tmp_path / "f.csv"))[0] == 0
    assert run("import", str(tmp_path / "f.csv"), "--db", str(tmp_path / "b.sqlite"), "--sweep", "back")[0] == 0
    back = json.loads(sqlite3.connect(tmp_path / "b.sqlite").execute("SELECT regime FROM sweeps").fetchone()[0])
    assert {k: back[k] for k in ("task", "scale", "network", "in_channels")} == {
        "task": "sr", "scale": 2, "network": "fsrcnn_x2", "in_channels": 1}
    # the Y channel a one-channel network sees is the BT.601 luma the PSNR scores colour images by
    rgb = np.random.default_rng(0).integers(0, 256, (3, 5, 6), dtype=np.uint8)
    y = CleanImages("t", [rgb], [rgb]).for_channels(1)
    assert np.array_equal(y.train[0][0], np.round(rgb_to_y(rgb)).astype(np.uint8))
    with pytest.raises(ParamError, match="1-channel images and the networks take 3"):
        y.for_channels(3)
    con.execute("UPDATE sweeps SET regime = json_set(regime, '$.network', 'edsr_baseline_x2') WHERE name = 'dncnn'")
    con.commit()
    code, out, err = run("status")
    assert code == 2 and "network" in err and "dncnn" in err, (out, err)


def test_dse_speed_times_an_sr_network_on_its_patches(sr_store):
    """dse speed's timing of an SR sweep's model runs the SR network it trains (48 px patches: forward; and an L1 +
    Adam step), not a classifier of the same stages (which its regime, without a resolution, could not build)."""
    from dse.train.speed import time_model

    d, _, _ = sr_store
    con = sqlite3.connect(d / "dse.sqlite")
    arch = Arch.from_dict(json.loads(con.execute("SELECT arch FROM models WHERE sweep = 'x4'").fetchone()[0]))
    regime = json.loads(con.execute("SELECT regime FROM sweeps WHERE name = 'x4'").fetchone()[0])
    assert "resolution" not in regime
    for mode in ("infer", "train"):
        ms, spread = time_model(arch, regime, mode=mode, batch=2, repeat=2, warmup=1)
        assert ms > 0 and spread >= 0


def test_a_low_level_run_resumes_from_its_checkpoint_as_if_never_stopped(tmp_path):
    """fit_restorer's checkpoint after epoch 1 (model, Adam, patch generator, rows), resumed in a fresh model,
    gives the uninterrupted run's epoch 2 exactly (the worker saves and resumes these after a crash or Ctrl-C)."""
    import torch

    from dse.models.restore import Restorer
    from dse.models.lowlevel import RestoreNet
    from dse.train.restore import Hooks, Pairs, fit_restorer

    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 256, (3, 24, 24), dtype=np.uint8) for _ in range(4)]
    pairs = Pairs(imgs[:3], imgs[3:], "sr", 2)

    def fresh():
        torch.manual_seed(0)
        return Restorer(RestoreNet((1,), (8,), scale=2, image_residual=True))

    kw = dict(steps=6, batch=4, patch=6, adam={"lr": 1e-3}, seed=0, epoch_steps=3)
    states = []
    whole = fit_restorer(fresh(), pairs, **kw, hooks=Hooks(on_epoch=lambda row, state: states.append(state())))
    ck = tmp_path / "ck.pt"
    torch.save(states[0], ck)
    resumed = fit_restorer(fresh(), pairs, **kw, resume=torch.load(ck, weights_only=False))
    assert len(whole) == len(resumed) == 2
    for k in ("loss", "train_psnr", "psnr"):
        assert resumed[1][k] == whole[1][k], k
