"""Design choices a space samples beside the network (issue 11): activation, resolution, lr/wd/momentum/batch."""

import json

import numpy as np
import pytest
from scipy import stats

import dse
from dse.spaces import resolve_space
from dse.spaces.sampling import Regime, Sampler
from dse.store import Store

SMALL = ["--flops", "1M:6M", "--resolution", "28", "--stem", "cifar", "--num-classes", "10"]
SYN = ["--dataset", "synthetic", "--resolution", "28", "--train-size", "256", "--test-size", "64",
       "--batch-size", "64", "--device", "cpu"]

BASE = """name = "{name}"
family = "regnet"
stages = 4
[params.d]
dist = "uniform"
low = 6
high = 10
[params.w0]
dist = "choice"
values = [16, 24]
[params.wa]
dist = "choice"
values = [16]
[params.wm]
dist = "choice"
values = [2.0]
[params.b]
dist = "choice"
values = [1]
[params.g]
dist = "choice"
values = [8]
"""


def _space(tmp_path, name, extra):
    p = tmp_path / f"{name}.toml"
    p.write_text(BASE.format(name=name) + extra)
    return p


@pytest.mark.slow
def test_per_model_lr_and_resolution_reach_training(run, tmp_path, monkeypatch):
    """Each model trains with its own lr (the epoch rows scale with it) and at its own resolution: a model at
    r = 40 from 28-px data gets 40-px tensors, and its stored counts equal `dse model ... --resolution 40`."""
    import dse.train.engine as engine

    space = _space(tmp_path, "mix", '[params.lr]\ndist = "choice"\nvalues = [0.02, 0.2]\n'
                                    '[params.resolution]\ndist = "choice"\nvalues = [28, 40]\n'
                                    '[params.wd]\ndist = "choice"\nvalues = [0.0001]\n')
    code, _, err = run("sample", "--space", space, "-n", "4", "--flops", "0.5M:20M", "--resolution", "28",
                       "--stem", "cifar", "--num-classes", "10", "--seed", "3")
    assert code == 0, err
    seen = {}
    real = engine.build_model

    def spy(arch, data, seed):
        m = real(arch, data, seed)
        m.register_forward_pre_hook(lambda mod, args: seen.setdefault(arch.key(), set()).add(tuple(args[0].shape[1:])))
        return m

    monkeypatch.setattr(engine, "build_model", spy)
    code, _, err = run("train", "--budget", "2ep", "--lr", "0.5", *SYN)
    assert code == 0, err
    with Store(tmp_path / "dse.sqlite") as s:
        models = s.models("mix")
        rows = {}
        for r in s.epoch_rows(["mix"]):
            rows.setdefault(r.idx, []).append(r.lr)
    assert {m.settings["resolution"] for m in models} == {28, 40} and {m.settings["lr"] for m in models} == {0.02, 0.2}
    # the row's lr is the cosine at the last step of epoch 1 (step 3 of 8: 256 images at batch 64, 2 epochs)
    ratios = [rows[m.idx][0] / m.settings["lr"] for m in models]
    assert np.allclose(ratios, 0.5 * (1 + np.cos(np.pi * 3 / 8)))
    for m in models:
        r = m.settings["resolution"]
        assert seen[m.arch.key()] == {(3, r, r)}  # train batches and test batches alike
        assert m.trained == {"lr": m.settings["lr"], "wd": 0.0001, "momentum": 0.9, "batch_size": 64, "resolution": r,
                             "activation": "relu"}
        args = ["model", "anynet", "--depths", ",".join(map(str, m.arch.depths)),
                "--widths", ",".join(map(str, m.arch.widths)), "--bottlenecks", "1,1,1,1",
                "--group-widths", ",".join(map(str, m.arch.group_widths)), "--resolution", r, "--stem", "cifar",
                "--num-classes", "10", "--json"]
        code, out, _ = run(*args)
        cx = json.loads(out)
        assert (m.flops, m.params, m.acts) == (cx["flops"], cx["params"], cx["acts"])
        assert m.train_flops == cx["flops"]  # training at r counts the same network at r
    # export carries the columns; import brings them back (the models' own resolution and what they trained with)
    code, _, err = run("export", "-o", "e.csv")
    assert code == 0, err
    code, _, err = run("import", "e.csv", "--sweep", "back", "--resolution", "28", "--stem", "cifar",
                       "--in-channels", "3", "--num-classes", "10")
    assert code == 0, err
    df = dse.Study(tmp_path / "dse.sqlite").models()
    a, b = df[df.sweep == "mix"].reset_index(), df[df.sweep == "back"].reset_index()
    for c in ("activation", "resolution", "lr", "wd", "momentum", "batch_size", "flops", "error"):
        assert a[c].tolist() == b[c].tolist(), c


def test_swish_everywhere_and_counts_unchanged(run):
    torch = pytest.importorskip("torch")
    from dse.models.anynet import AnyNet

    sp = resolve_space("regnetx_swish")
    m = Sampler(sp, Regime((2_000_000, 8_000_000), 28, "cifar", 1, 10), seed=0).sample(1)[0]
    assert m.arch.activation == "swish" and m.key.endswith(";act=swish")
    net = AnyNet(m.arch, "cifar", 1, 10)
    kinds = {type(x) for x in net.modules()}
    assert torch.nn.SiLU in kinds and torch.nn.ReLU not in kinds
    relu = dse.models.Arch(m.arch.depths, m.arch.widths, m.arch.bottlenecks, m.arch.group_widths, True, "relu")
    swish = dse.models.Arch(relu.depths, relu.widths, relu.bottlenecks, relu.group_widths, True, "swish")
    y = AnyNet(swish, "cifar", 1, 10)
    assert torch.nn.ReLU not in {type(x) for x in y.modules()}  # SE included
    assert dse.models.complexity(relu, 28, "cifar", 1, 10) == dse.models.complexity(swish, 28, "cifar", 1, 10)
    code, out, _ = run("model", "regnet", "--depth", "13", "--w0", "24", "--wa", "36", "--wm", "2.5",
                       "--group-width", "8", "--activation", "swish", "--json")
    assert code == 0 and json.loads(out)["activation"] == "swish"
    code, _, err = run("model", "regnet", "--depth", "13", "--w0", "24", "--wa", "36", "--wm", "2.5",
                       "--group-width", "8", "--activation", "gelu")
    assert code == 2 and "gelu" in err and "relu" in err


def test_higher_resolution_forces_smaller_networks():
    ms = Sampler(resolve_space("regnetx_res"), Regime((360_000_000, 400_000_000)), seed=0).sample(300)
    r = np.array([m.settings["resolution"] for m in ms])
    assert set(r) == {224, 256, 288, 320}
    size = np.array([dse.models.complexity(m.arch)["flops"] for m in ms])  # the network's flops at 224
    med = [np.median(size[r == v]) for v in (224, 256, 288, 320)]
    assert med == sorted(med, reverse=True) and med[-1] < 0.6 * med[0]
    for m in ms[:20]:  # each model counted at its own r, inside the window
        assert dse.models.complexity(m.arch, int(m.settings["resolution"]))["flops"] == m.flops
        assert 360_000_000 <= m.flops <= 400_000_000


@pytest.mark.parametrize("extra, field, fragment", [
    ('[params.resolution]\ndist = "choice"\nvalues = [4, 28]\n', "[params.resolution]", ">= 8 and <= 4096"),
    ('[params.activation]\ndist = "choice"\nvalues = ["relu", "gelu"]\n', "[params.activation]", "'gelu' unknown"),
    ('[params.lr]\ndist = "choice"\nvalues = [0.1, 0]\n', "[params.lr]", "must be a finite number > 0"),
    ('[params.lr]\ndist = "log_uniform"\nlow = 0.01\nhigh = 1\n', "[params.lr]", "needs a 'quantum'"),
    ('[params.wd]\ndist = "choice"\nvalues = [-0.1]\n', "[params.wd]", ">= 0"),
    ('[params.momentum]\ndist = "choice"\nvalues = [1.5]\n', "[params.momentum]", ">= 0 and < 1"),
    ('[params.batch_size]\ndist = "choice"\nvalues = [0.5]\n', "[params.batch_size]", "an integer >= 1 and <= 65536"),
    ('[params.resolution]\ndist = "choice"\nvalues = [8, 28]\n', "[params.resolution]", "below what the cifar stem"),
    ('[params.optimizer]\ndist = "choice"\nvalues = [1]\n', "[params]", "unknown key 'optimizer'"),
])
def test_bad_space_files_name_file_and_field(run, tmp_path, extra, field, fragment):
    space = _space(tmp_path, "bad", extra)
    code, out, err = run("sample", "--space", space, "-n", "2", *SMALL)
    assert code == 2, (out, err)
    assert str(space) in err and field in err and fragment in err and "Traceback" not in err
    assert not (tmp_path / "dse.sqlite").exists()


def _planted(tmp_path, n=240):
    """regnetx_lrwd sampled, with errors planted: best where lr * wd = 10^-4.5, worse with relu than swish."""
    st = dse.Study(tmp_path / "p.sqlite")
    st.sample(resolve_space("regnetx_lrwd"), n, flops="2M:8M", resolution=28, stem="cifar", in_channels=1,
              num_classes=10)
    rng = np.random.default_rng(1)
    with Store(st.path) as s:
        ms = s.models("regnetx_lrwd")
        e = [20 + 8 * abs(np.log10(m.settings["lr"] * m.settings["wd"]) + 4.5) + rng.normal(0, 0.5) for m in ms]
        with s.write() as c:
            c.executemany("UPDATE models SET status = 'done', error = ?, best_error = ? WHERE sweep = ? AND idx = ?",
                          [(float(x), float(x), "regnetx_lrwd", m.idx) for x, m in zip(e, ms)])
    return st, np.array(e), ms


@pytest.mark.slow
def test_rank_scatter_finds_the_planted_lr_wd_line(run, tmp_path):
    st, e, ms = _planted(tmp_path)
    r = st.rank("lr", "wd")
    assert r.n == len(ms)
    assert np.allclose(r.ranks, stats.rankdata(e) / len(e))  # relative rank = scipy's rank / n
    assert r.fit["slope"] == pytest.approx(-1.0, abs=0.15) and r.fit["log"]
    lr, wd = np.log10(r.xs[r.is_good]), np.log10(r.ys[r.is_good])
    assert r.fit["slope"] == pytest.approx(stats.linregress(lr, wd).slope)
    p = st.rank("lr_wd", None)
    assert p.good_x["median"] == pytest.approx(10 ** -4.5, rel=0.3)
    b = st.bootstrap("lr_wd", "regnetx_lrwd")
    assert 10 ** -5 < b.panels[0].median < 10 ** -4
    code, out, err = run("plot", "rank", "--x", "lr", "--y", "wd", "--db", tmp_path / "p.sqlite", "--plot",
                         tmp_path / "r.png", "--json")
    assert code == 0, err
    assert json.loads(out)["fit"]["slope"] == pytest.approx(r.fit["slope"]) and (tmp_path / "r.png").stat().st_size
    code, _, err = run("plot", "rank", "--x", "lr", "--y", "momentum", "--db", tmp_path / "p.sqlite")
    assert code == 2 and "momentum" in err and "lr_wd" in err
    # the refined space narrows lr and wd around the line
    rr = st.refine("regnetx_lrwd")
    assert any(q.accepted and q.param in ("lr", "wd") for q in rr.proposals)
    # the report shows the rank scatter
    out = st.report(tmp_path / "r.html")
    assert "Optimiser settings: relative rank" in out.read_text()


def test_refine_fixes_the_activation_and_writes_names(tmp_path):
    """A space sampling relu and swish, where swish is planted better: refine fixes activation = swish."""
    from dse.analysis.refine import refine
    from dse.spaces import builtin_dir
    from dse.spaces.space import load_space

    p = tmp_path / "act.toml"
    p.write_text((builtin_dir() / "regnetx.toml").read_text().replace('name = "regnetx"', 'name = "act"')
                 + '[params.activation]\ndist = "choice"\nvalues = ["relu", "swish"]\n')
    sp = load_space(p)
    ms = Sampler(sp, Regime((2_000_000, 8_000_000), 28, "cifar", 1, 10), seed=0).sample(48)
    rng = np.random.default_rng(0)
    e = np.array([30 + 6 * (m.arch.activation == "relu") + rng.normal(0, 1) for m in ms])
    r = refine(sp, ms, e, min_support=10)
    q = next(q for q in r.proposals if q.param == "activation")
    assert q.accepted and q.label == "activation = swish"
    assert r.spec["params"]["activation"]["values"] == ["swish"]
    out = tmp_path / "refined.toml"
    r.write(out)
    assert load_space(out).dists["activation"].values.tolist() == [1.0]
