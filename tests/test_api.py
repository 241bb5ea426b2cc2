"""The public API (dse.Study and typed results) as a notebook uses it, and the layering rules it rests on."""

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import dse
from conftest import copy_study
from dse.errors import DseError, ParamError

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "fashion-mnist"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Two imported populations with known errors (AnyNetX_A worse by 3 points), built once."""
    import csv

    from dse.spaces import Regime, Sampler, resolve_space

    tmp_path = tmp_path_factory.mktemp("api")
    rng = np.random.default_rng(0)
    st = dse.Study(tmp_path / "s.sqlite")
    for sp, shift in (("anynet_a", 3.0), ("anynet_e", 0.0)):
        with open(tmp_path / f"{sp}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow([f"{p}{i}" for p in "dwbg" for i in range(1, 5)] + ["error", "best_error"])
            for m in Sampler(resolve_space(sp), Regime(), seed=1).sample(80):
                a = m.arch
                err = 30 + 2 * rng.standard_normal() + shift + 0.5 * abs(a.depth - 20)
                w.writerow([*a.depths, *a.widths, *a.bottlenecks, *a.group_widths, round(err, 3), round(err - 1, 3)])
        assert st.import_table(tmp_path / f"{sp}.csv", sp[-1].upper()) == 80
    return tmp_path


@pytest.fixture
def trained(built, tmp_path):
    """The built study copied into this test's folder (tests may write to it)."""
    return dse.Study(copy_study(built, tmp_path) / "s.sqlite")


def test_results_are_typed_and_agree_with_references(trained):
    cmp = trained.edf(["A", "E"])
    a, e = trained.population("A").errors, trained.population("E").errors
    r = stats.ks_2samp(a, e)
    assert isinstance(cmp, dse.analysis.EdfComparison) and cmp.ks[0].statistic == pytest.approx(r.statistic)
    assert cmp.ks[0].pvalue == pytest.approx(r.pvalue)
    df = cmp.to_frame()
    assert list(df["sweep"]) == ["A", "E"] and df.loc[0, "median"] == pytest.approx(np.median(a))
    assert cmp.to_json()["sweeps"]["E"]["n"] == 80 and json.dumps(cmp.to_json())
    norm = trained.edf(["A", "E"], normalize="flops", bins=4)
    assert norm.normalization.bins == 4 and sum(norm.sweeps["A"].weights) == pytest.approx(1)
    boot = trained.bootstrap(["depth", "w4"], sweeps=["A", "E"], n_boot=2000)
    assert [(p.sweep, p.param) for p in boot.panels] == [("A", "depth"), ("E", "depth"), ("A", "w4"), ("E", "w4")]
    assert all(p.low <= 20 <= p.high for p in boot.panels if p.param == "depth")
    assert list(boot.to_frame().columns[:4]) == ["sweep", "param", "median", "low"]
    se = trained.search_efficiency(["A", "E"], seed=1)
    assert [p.m for p in se.sweeps["A"]] == [1, 2, 4, 8, 16, 32, 64] and len(se.to_frame()) == 14
    ref = trained.refine("E", base="anynet_e", min_support=10, n_boot=1000)
    assert ref.n == 80 and {"kind", "param", "proposal", "accepted"} <= set(ref.to_frame().columns)
    assert all(isinstance(q, dse.analysis.Proposal) for q in ref.proposals)
    cx = trained.complexity()
    assert set(cx.to_frame()["sweep"]) == {"A", "E"}
    models = trained.models()
    assert len(models) == 160 and {"sweep", "id", "d1", "w4", "flops", "error"} <= set(models.columns)
    assert trained.epochs().empty and list(trained.epochs().columns[:3]) == ["sweep", "id", "epoch"]


@pytest.mark.slow
def test_analyses_never_write_and_fit_stores_explicitly(trained):
    """Bootstrapping e_fit computes the fits in memory; only Study.fit stores them."""
    before = trained.models()["e_fit"]
    b = trained.bootstrap("e_fit", sweeps="E", n_boot=500)
    assert b.panels[0].n == 80
    assert trained.models()["e_fit"].isna().all() and before.isna().all()
    f = trained.fit(sweeps="E", top=5)
    assert len(f.rows) == 80 and f.to_json()["top"]["k"] == 5
    stored = trained.models()
    assert stored[stored.sweep == "E"]["e_fit"].notna().all() and stored[stored.sweep == "A"]["e_fit"].isna().all()
    # the stored fits are the ones the bootstrap computed (same deterministic search)
    again = trained.bootstrap("e_fit", sweeps="E", n_boot=500)
    assert np.array_equal(np.sort(again.panels[0].x), np.sort(b.panels[0].x))


@pytest.mark.slow
def test_plots_use_the_callers_axes_and_never_switch_the_backend(trained):
    probe = (
        "import matplotlib; matplotlib.use('svg'); import dse, matplotlib.pyplot as plt\n"
        f"st = dse.Study({str(trained.path)!r})\n"
        "fig, ax = plt.subplots(); r = st.edf(['A', 'E']); out = r.plot(ax=ax)\n"
        "assert out is ax and len(ax.lines) == 2, ax.lines\n"
        "axes = st.bootstrap(['depth', 'w1'], sweeps=['A']).plot(); assert len(axes) == 2\n"
        "st.refine('A', base='anynet_a', min_support=5, n_boot=200).figure()\n"
        "st.report('r.html')\n"
        "assert matplotlib.get_backend().lower() == 'svg', matplotlib.get_backend()\n"
        "assert len(plt.get_fignums()) == 2, plt.get_fignums()  # the report and figure() leave no pyplot figures\n")
    p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=trained.path.parent)
    assert p.returncode == 0, p.stderr
    with pytest.raises(DseError, match="pass that many axes"):
        import matplotlib.figure

        trained.bootstrap(["depth", "w1"], sweeps=["A"]).plot(ax=matplotlib.figure.Figure().subplots())


def test_library_errors_name_parameters_and_the_cli_names_flags(trained, run):
    with pytest.raises(ParamError, match=r"^bins must be an integer >= 1 and <= 10000") as e:
        trained.edf(["A", "E"], normalize="flops", bins=0)
    assert e.value.param == "bins"
    with pytest.raises(ParamError, match=r"^frac must be a finite number > 0 and <= 1"):
        trained.bootstrap("depth", frac=2)
    with pytest.raises(ParamError, match=r"^n_boot must be"):
        trained.bootstrap("depth", n_boot=0)
    with pytest.raises(ParamError, match="^n must be a number of models from 1"):
        trained.sample("anynet_a", n=0)
    with pytest.raises(ParamError, match="^flops: expected LO:HI"):
        trained.sample("anynet_a", n=5, flops="400M")
    with pytest.raises(ParamError, match="unknown param 'zz'"):
        trained.bootstrap("zz", sweeps="A")
    with pytest.raises(ParamError, match="path .* use a .csv or .parquet"):
        trained.export("x.xlsx")
    # the same mistakes through the CLI name its flags
    db = str(trained.path)
    for args, needle in ((["edf", "A", "E", "--normalize", "flops", "--bins", "0", "--db", db],
                          "--bins must be an integer >= 1 and <= 10000"),
                         (["bootstrap", "--param", "depth", "--n-boot", "0", "--db", db], "--n-boot must be"),
                         (["sample", "--space", "anynet_a", "-n", "0", "--db", db],
                          "-n must be a number of models from 1"),
                         (["sample", "--space", "anynet_a", "-n", "3", "--max-params", "x", "--db", db],
                          "--max-params: cannot read"),
                         (["export", "-o", "x.xlsx", "--db", db], "-o x.xlsx: unknown table type"),
                         (["train", "--lr", "-1", "--db", db], "--lr must be a finite number > 0"),
                         (["refine", "--sweep", "A", "--db", db], "name its base space with --space")):
        code, _, err = run(*args)
        assert code == 2 and needle in err and "Traceback" not in err, (args, err)


@pytest.mark.slow
def test_a_notebook_study_on_real_data(tmp_path):
    """Sample, train on the shipped Fashion-MNIST subset and read the DataFrames, all from Python (4 steps
    per model: this checks the plumbing; test_train_cli checks that training learns)."""
    st = dse.Study(tmp_path / "nb.sqlite")
    r = st.sample("regnetx", n=3, flops="2M:6M", resolution=28, stem="cifar", in_channels=1, num_classes=10)
    assert r.added == 3 and st.sweeps() == ["regnetx"]
    s = st.train(budget="1ep", data_dir=DATA, train_size=600, test_size=200)
    assert (s.done, s.pending, s.trained_now) == (3, 0, True)
    m = st.models()
    assert m["status"].tolist() == ["done"] * 3 and m["error"].between(0, 100).all()
    ep = st.epochs()
    assert len(ep) == 3 and (ep["test_error"].values == m["error"].values).all()
    assert st.train(budget="1ep", data_dir=DATA, train_size=600, test_size=200).trained_now is False
    with pytest.raises(DseError, match="another protocol"):
        st.train(budget="2ep", data_dir=DATA, train_size=600, test_size=200)


def test_diverged_model_keeps_its_best_epoch():
    import torch

    from dse.models import Arch
    from dse.train.data import synthetic
    from dse.train.engine import DeviceData, Protocol, train_model

    torch.set_num_threads(1)
    dd = DeviceData(synthetic((3, 12, 12), 256, 64, seed=1), "cpu")
    p = Protocol(dataset="synthetic", budget="3ep", batch_size=32)
    calls = []

    class _Poison(Exception):
        pass

    arch = Arch((1, 1), (16, 32), (1, 1), (8, 8))
    saved = {}

    def grab(row, state_fn):  # after epoch 2: a checkpoint with NaN weights, so epoch 3 diverges
        calls.append(row.test_error)
        if row.epoch == 2:
            st = state_fn()
            st["state"] = [t.fill_(float("nan")) if t.is_floating_point() and t.dim() > 1 else t for t in st["state"]]
            saved.update(st)
            raise _Poison()

    with pytest.raises(_Poison):
        train_model(arch, dd, p, seed=0, on_epoch=grab)
    out = train_model(arch, dd, p, seed=0, resume=saved)
    assert out.status == "diverged" and out.epochs == 2
    assert out.best_error == pytest.approx(min(calls)) and out.best_error is not None


# ---- layering: the rules a newcomer can rely on ----

def _imports(path: Path) -> set:
    mods = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            mods |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            mods.add(node.module.split(".")[0])
    return mods


def test_cli_holds_no_maths():
    for f in (ROOT / "dse" / "cli").glob("*.py"):
        bad = _imports(f) & {"numpy", "scipy", "torch", "sqlite3", "pandas"}
        assert not bad, (f.name, bad)


def test_sql_lives_only_in_the_store():
    sql = re.compile(r"\b(SELECT\s+\S+.*\bFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+TABLE)\b")
    offenders = [str(f.relative_to(ROOT)) for f in (ROOT / "dse").rglob("*.py")
                 if "store" not in f.relative_to(ROOT / "dse").parts and sql.search(f.read_text())]
    assert not offenders
    assert sql.search((ROOT / "dse" / "store" / "db.py").read_text())  # the pattern finds SQL where it is


def test_analysis_never_imports_the_store_database():
    for f in (ROOT / "dse" / "analysis").glob("*.py"):
        tree = ast.parse(f.read_text())
        mods = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not {m for m in mods if m in ("dse.store", "dse.store.db", "dse.study", "dse.cli")}, f.name


def test_import_dse_is_light():
    probe = ("import sys, dse; st = dse.Study; "
             "bad = [m for m in ('torch', 'matplotlib', 'scipy', 'pandas') if m in sys.modules]; "
             "assert not bad, bad")
    p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
