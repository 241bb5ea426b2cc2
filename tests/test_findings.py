"""dse findings: each finding's criterion on planted populations where the truth is known, the can't-tell rows a
small or single-regime store gives, and --plan's estimate against --run's time."""

import dataclasses
import json

import numpy as np
import pytest

import dse
from dse.api.training import RunOptions
from dse.analysis.findings import CANT, CONTRA, HOLDS, MIN_MODELS, Sample, judge, median_difference
from conftest import cli
from dse.errors import ParamError

SMALL = dict(resolution=28, stem="cifar", in_channels=1, num_classes=10)


def _planted(st, space, regimes, n, error, seed=0):
    """Sample ``space`` at ``regimes`` with ``n`` models each and give model i of regime r the error
    error(r, record) (no training records: set_results)."""
    st.sample_regimes(space, regimes, n, seed=seed, **SMALL)
    rng = np.random.default_rng(seed)
    for r, label in enumerate(regimes.split(",")):
        name = f"{space}@{label}"
        st.set_results(name, {m.idx: float(np.clip(error(r, m) + rng.normal(0, 0.2), 0, 100))
                              for m in st.records(name)})


@pytest.fixture(scope="module")
def depth20(tmp_path_factory):
    st = dse.Study(tmp_path_factory.mktemp("f") / "s.sqlite")
    _planted(st, "regnetx", "2MF,4MF,8MF", 40, lambda r, m: 10 + abs(m.arch.depth - 20))
    return st


def test_best_depth_20_at_every_regime_holds_and_says_the_budget_was_not_checked(depth20):
    row = depth20.findings(only="depth").row("depth")
    assert row.verdict == HOLDS, row.reason
    assert row.regimes == ["2MF", "4MF", "8MF"] and row.n == 120
    assert row.low <= 0 <= row.high  # the slope interval holds 0
    assert any("budget was not checked" in x for x in row.notes)


def test_best_depth_growing_with_flops_is_contradicted(tmp_path):
    st = dse.Study(tmp_path / "s.sqlite")
    _planted(st, "regnetx", "2MF,4MF,8MF", 40, lambda r, m: 10 + abs(m.arch.depth - (13, 20, 27)[r]))
    row = st.findings(only="depth").row("depth")
    assert row.verdict == CONTRA and ("outside 15-25" in row.reason or "grows" in row.reason), row.reason


def test_too_few_models_cannot_tell_and_names_the_models_needed(tmp_path):
    st = dse.Study(tmp_path / "s.sqlite")
    _planted(st, "regnetx", "2MF,4MF,8MF", 6, lambda r, m: 10 + abs(m.arch.depth - 20))
    row = st.findings(only="depth").row("depth")
    assert row.verdict == CANT and f">= {MIN_MODELS} models" in row.reason
    assert f"regnetx@2MF to {MIN_MODELS}" in row.settle


def test_a_single_regime_store_gets_no_confident_verdict(tmp_path):
    """One regime of regnetx and regnety, SE planted as helping strongly: still can't tell everywhere (the claims
    span regimes), each row with its reason."""
    st = dse.Study(tmp_path / "s.sqlite")
    _planted(st, "regnetx", "4MF", 40, lambda r, m: 30 + abs(m.arch.depth - 20))
    _planted(st, "regnety", "4MF", 40, lambda r, m: 20 + abs(m.arch.depth - 20), seed=1)
    r = st.findings()
    assert {x.verdict for x in r.rows} == {CANT} and all(x.reason for x in r.rows)
    se = r.row("se")
    assert "1 of 1 regime(s)" in se.reason and se.high < 0  # on the paper's side, but one regime


def test_se_planted_helping_holds_and_hurting_is_contradicted(tmp_path):
    for sign, want in ((-1, HOLDS), (+1, CONTRA)):
        st = dse.Study(tmp_path / f"{sign}.sqlite")
        _planted(st, "regnetx", "2MF,4MF", 30, lambda r, m: 30.0)
        _planted(st, "regnety", "2MF,4MF", 30, lambda r, m: 30.0 + 3 * sign, seed=1)
        row = st.findings(only="se").row("se")
        assert row.verdict == want, row.reason


def test_the_demo_like_store_prints_cant_tell_rows_with_reasons(pair_store):
    folder = pair_store.parent
    code, out, err = cli(folder, "findings", "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert len(rows) == 12 and {r["verdict"] for r in rows} == {CANT} and all(r["reason"] for r in rows)
    b = next(r for r in rows if r["id"] == "b")  # anynet_e has b free, but 6 models is too few
    assert "anynet_e" in b["reason"] or "anynet_a" in b["reason"]
    code, out, err = cli(folder, "findings", "--plot", "f.png")
    assert code == 0 and (folder / "f.png").stat().st_size > 1000 and "can't tell" in out, err


def test_undertrained_sweeps_cannot_tell_and_say_how_to_check():
    rng = np.random.default_rng(0)
    regs = []
    for f in (2e6, 4e6, 8e6):
        d = rng.integers(12, 29, 40).astype(float)
        regs.append(Sample(f"regnetx@{f:g}", f, {"depth": d}, 10 + np.abs(d - 20), flagged="loss still falling"))
    row = judge({"regnetx": regs}, n_boot=1000, only=["depth"]).row("depth")
    assert row.verdict == CANT and "undertrained" in row.reason and "dse budget-check" in row.settle
    assert "would be 'holds' on the errors alone" in row.notes


def test_runtime_finding_follows_the_measure_that_predicts_ms():
    rng = np.random.default_rng(0)
    fl, ac = rng.uniform(1e6, 1e7, 40), rng.uniform(1e5, 1e6, 40)
    for ms, want in ((ac * 1e-4 + rng.normal(0, 1, 40), HOLDS), (fl * 1e-5 + rng.normal(0, 1, 40), CONTRA)):
        sp = {"device": "cpu", "mode": "infer", "batch": 64,
              "models": [{"ms": m, "flops": f, "acts": a} for m, f, a in zip(ms, fl, ac)]}
        row = judge({}, sp, n_boot=1000, only=["runtime"]).row("runtime")
        assert row.verdict == want and "the paper's claim is about GPUs" in row.notes[0]
    assert judge({}, None, only=["runtime"]).row("runtime").settle.startswith("dse speed")


def test_median_difference_matches_numpy():
    a, b = np.arange(10.0), np.arange(10.0) + 3
    d, lo, hi = median_difference(a, b, n_boot=2000, seed=1)
    assert d == np.median(b) - np.median(a) == 3 and lo <= 3 <= hi


@pytest.mark.slow
def test_plan_estimates_the_run(tmp_path):
    """A tiny plan on synthetic data: the training time --plan predicts (short timings of real models, the workers
    dse train would choose) against the time --run's training then took."""
    args = ["--regimes", "4MF", "-n", "4", "--spaces", "regnetx", "--dataset", "synthetic", "--train-size", "512",
            "--test-size", "256", "--budget", "2ep", "--device", "cpu"]
    code, out, err = cli(tmp_path, "findings", "--plan", "--json", *args)
    assert code == 0, err
    plan = json.loads(out)
    assert plan["models"] == 4 and plan["source"] == "timing" and len(plan["commands"]) == 3
    assert plan["seconds_low"] < plan["seconds"] < plan["seconds_high"]
    st = dse.Study(tmp_path / "dse.sqlite")
    planned = st.findings_plan("cpu", regimes="4MF", n=4, spaces="regnetx", dataset="synthetic", train_size=512,
                               test_size=256, budget="2ep")
    r = st.findings_run(planned, run=RunOptions(device="cpu"))
    lo, hi = planned.range
    assert lo < planned.seconds < hi
    # within 3x here: the suite runs beside other tests, whose load comes and goes after the probe measured it (a
    # busy machine made it 0.47 once); the swing this guards against was 40x. scripts/bench_plan.py checks the range
    # itself, on a quiet machine and beside a steady other job
    assert 1 / 3 <= planned.seconds / r.trained_seconds <= 3.0, (planned.seconds, r.trained_seconds, planned.notes)
    assert [x.sweep for x in st.status()] == ["regnetx@4MF"]
    assert all(x.counts["done"] == 4 for x in st.status())
    code, out, err = cli(tmp_path, "findings", "--plan", "--json", "--no-probe", *args)  # nothing left to do
    assert code == 0 and json.loads(out)["models"] == 0, err


def _regimes(param_values, best, n=40, flops=(2e6, 4e6, 8e6), seed=0, **extra):
    """Planted regimes: ``param_values`` drawn per model, error lowest at ``best(r)`` (r: the regime's index)."""
    rng = np.random.default_rng(seed)
    out = []
    for r, f in enumerate(flops):
        x = rng.choice(param_values, n).astype(float)
        e = 10 + np.abs(np.log(x / best(r))) * 5 + rng.normal(0, 0.05, n)
        out.append(Sample(f"s@{f:g}", f, {p: x for p in extra.get("params", ())}, e))
    return out


@pytest.mark.parametrize("best,want", [(lambda r: 1.0, HOLDS), (lambda r: 4.0, CONTRA)])
def test_b_planted(best, want):
    ev = {"regnet": _regimes([1, 2, 4], best, params=("b",))}
    assert judge(ev, n_boot=1000, only=["b"]).row("b").verdict == want


@pytest.mark.parametrize("best,want", [(lambda r: 2.5, HOLDS), (lambda r: 1.6, CONTRA)])
def test_wm_planted(best, want):
    ev = {"regnet": _regimes(np.round(np.linspace(1.5, 3.0, 31), 2), best, params=("wm",))}
    assert judge(ev, n_boot=1000, only=["wm"]).row("wm").verdict == want


@pytest.mark.parametrize("p", ["w0", "g"])
@pytest.mark.parametrize("best,want", [(lambda r: 16 * 2 ** r, HOLDS), (lambda r: 32.0, CONTRA)])
def test_growing_parameters_planted(p, best, want):
    ev = {"regnetx": _regimes([8, 16, 32, 64, 128], best, n=100, params=(p,))}
    row = judge(ev, n_boot=1000, only=[p]).row(p)
    assert row.verdict == want, row.reason


def test_lr_and_wd_planted_stable_hold_and_moving_are_contradicted():
    grid = np.round(np.geomspace(0.01, 1, 21), 4)
    for best, want in ((lambda r: 0.1, HOLDS), (lambda r: 0.02 * 4 ** r, CONTRA)):
        regs = _regimes(grid, best, n=100, params=("lr",))
        for s in regs:  # wd best at 5e-5 everywhere, drawn independently
            s.values["wd"] = np.full(s.n, 5e-5) * np.exp(np.random.default_rng(1).normal(0, 0.01, s.n))
        assert judge({"regnetx_lrwd": regs}, n_boot=1000, only=["lrwd"]).row("lrwd").verdict == want


@pytest.mark.parametrize("fid,variant", [("inverted", "regnetx_inverted"), ("depthwise", "regnetx_dw"),
                                         ("resolution", "regnetx_res")])
def test_design_choices_that_hurt_planted(fid, variant):
    rng = np.random.default_rng(0)
    for shift, want in ((+3, HOLDS), (-3, CONTRA), (0, CANT)):
        base = [Sample(f"regnetx@{f:g}", f, {}, 30 + rng.normal(0, 1, 30)) for f in (2e6, 4e6)]
        var = [Sample(f"{variant}@{f:g}", f, {}, 30 + shift + rng.normal(0, 1, 30)) for f in (2e6, 4e6)]
        row = judge({"regnetx": base, variant: var}, n_boot=1000, only=[fid]).row(fid)
        assert row.verdict == want, (shift, row.reason)


@pytest.mark.parametrize("args,needle", [
    (["findings", "--only", "depthh"], "--only 'depthh' is no finding; the findings: depth, b, wm"),
    (["findings", "--plan", "--spaces", "regnetx,nosuch", "--no-probe"], "unknown space 'nosuch'"),
    (["findings", "--plan", "--budget", "0ep", "--no-probe"], "--budget"),
    (["findings", "--plan", "--regimes", "4MF:2MF", "--no-probe"], "--regimes"),
    (["findings", "--plan", "--sweep", "a"], "--sweep and --only judge an existing store"),
    (["findings", "--run", "--no-probe", "--regimes", "4MF", "-n", "2", "--spaces", "regnetx", "--device", "tpu"],
     "--device 'tpu' unknown"),
    (["findings", "--run", "--no-probe", "--regimes", "4MF", "-n", "2", "--spaces", "regnetx", "--data-dir",
      "/nonexistent"], "Fashion-MNIST not found in /nonexistent"),
    (["speed", "--baseline", "effnet_b0,nosuch"], "unknown reference network 'nosuch'"),
    (["sample", "--reference", "resnet51"], "unknown reference network 'resnet51'"),
    (["sample", "--reference", "resnet56", "-n", "3"], "-n go(es) with --space"),
    (["sample", "-n", "3"], "give --space NAME|PATH (a population) or --reference NAME"),
    (["model", "resnet51"], "no such command or reference network 'resnet51'"),
    (["model", "resnet50", "--resolution", "0"], "--resolution"),
])
def test_bad_input_to_the_new_commands_exits_2_naming_it_and_writes_nothing(tmp_path, args, needle):
    from conftest import digest as _digest

    cli(tmp_path, "sample", "--space", "regnetx", "-n", "3", "--flops", "2M:8M", "--resolution", "28", "--stem",
        "cifar", "--num-classes", "10")
    before = _digest(tmp_path / "dse.sqlite")
    code, out, err = cli(tmp_path, *args)
    assert code == 2 and needle in err and "Traceback" not in err, (code, out, err)
    assert _digest(tmp_path / "dse.sqlite") == before


@pytest.mark.parametrize("spaces", ["", "regnetx,", ",", []])
def test_plan_refuses_an_empty_space_name(tmp_path, spaces):
    st = dse.Study(tmp_path / "s.sqlite")
    with pytest.raises(ParamError, match="spaces"):
        st.findings_plan("cpu", spaces=spaces, probe=False)


def test_plan_counts_a_repeated_space_once_and_names_a_file_s_sweeps_after_its_name(tmp_path):
    st = dse.Study(tmp_path / "s.sqlite")
    p = st.findings_plan("cpu", regimes="4MF", n=4, spaces="regnetx,regnetx", probe=False)
    assert [r["sweep"] for r in p.rows] == ["regnetx@4MF"] and p.models == 4
    from dse.spaces import builtin_dir

    f = tmp_path / "my.toml"
    f.write_text((builtin_dir() / "regnetx.toml").read_text().replace('name = "regnetx"', 'name = "myx"'))
    p = st.findings_plan("cpu", regimes="4MF", n=3, spaces=str(f), dataset="synthetic", train_size=256,
                         test_size=64, budget="1ep", probe=False)
    assert [r["sweep"] for r in p.rows] == ["myx@4MF"]
    r = st.findings_run(p, run=RunOptions(device="cpu"))
    assert [x.sweep for x in st.status()] == ["myx@4MF"] and st.status()[0].counts["done"] == 3
    assert r.trained_seconds > 0


def test_an_empty_or_damaged_plan_writes_nothing(tmp_path):
    st = dse.Study(tmp_path / "s.sqlite")
    p = st.findings_plan("cpu", regimes="4MF", n=4, spaces="regnetx", probe=False)
    empty = dataclasses.replace(p, rows=[])
    with pytest.raises(ParamError, match="no sweeps"):
        st.findings_run(empty)
    bad = dataclasses.replace(p, settings={**p.settings, "n": 0})
    with pytest.raises(ParamError, match="plan.settings"):
        st.findings_run(bad)
    assert not (tmp_path / "s.sqlite").exists()


def test_plot_with_plan_alone_is_refused(tmp_path):
    code, _, err = cli(tmp_path, "findings", "--plan", "--no-probe", "--plot", "f.png")
    assert code == 2 and "--plot" in err and not (tmp_path / "f.png").exists()


def test_runtime_with_timings_that_do_not_vary_cannot_tell():
    from dse.analysis.findings import FINDINGS, judge_runtime

    f = next(x for x in FINDINGS if x.id == "runtime")
    models = [{"ms": 5.0, "flops": 1e6 * (i + 1), "acts": 1e5 * (i + 2) ** 1.5} for i in range(12)]
    row = judge_runtime(f, {}, 500, 95.0, 0, speeds={"models": models, "device": "cpu", "mode": "infer", "batch": 64})
    assert row.verdict == "can't tell" and "timings do not vary" in row.reason


def test_a_new_finding_is_one_registry_entry(depth20, tmp_path):
    """A finding registered in dse.analysis.findings.FINDINGS is judged by dse findings, listed in --only's help,
    drawn with its own y label, and made a row of the criteria table docs/findings.md shows (which equals the
    registry's today)."""
    from pathlib import Path

    from dse.analysis.findings import FINDINGS, Finding, FindingRow, criteria_table

    def judge_toy(f, ev, **_):
        xs = [s.flops for s in ev.get("regnetx", [])]
        return FindingRow(f.id, f.claim, f.criterion, HOLDS, "always", n=len(xs),
                          points=[(x, 1.0, 0.5, 1.5) for x in sorted(set(xs))])

    toy = Finding("toy", "Toys are fun", "holds always", ("regnetx",), judge_toy, ylabel="fun (units)", zero=True)
    docs = (Path(__file__).resolve().parents[1] / "docs" / "findings.md").read_text()
    assert criteria_table() in docs  # the docs show the registry (python scripts/docs_tables.py rewrites them)
    FINDINGS.append(toy)  # registering is appending to the one list
    try:
        _judge_toy(depth20, tmp_path, toy)
    finally:
        FINDINGS.remove(toy)


def _judge_toy(depth20, tmp_path, toy):
    from dse.analysis.findings import criteria_table

    r = depth20.findings(only="toy")
    assert [x.id for x in r.rows] == ["toy"] and r.row("toy").verdict == HOLDS
    fig = r.figure()
    assert fig.axes[0].get_ylabel() == "fun (units)" and fig.axes[0].get_title() == "toy: holds"
    code, out, _ = cli(tmp_path, "findings", "--help")
    assert code == 0 and "lrwd, quantise, underfit, toy." in " ".join(out.split())
    assert "| toy | Toys are fun | holds always | regnetx |" in criteria_table()
