"""How many models: EDF bands (DKW, bootstrap), the power of the KS comparison, and the sequential procedure
(its error rate across looks, its savings), checked by simulation against direct computations."""

from __future__ import annotations

import json
import sqlite3
import time

import numpy as np
import pytest
from scipy import stats

import dse
from conftest import fails
from dse.analysis.edf import bootstrap_half_width, dkw_half_width, effective_n
from dse.analysis.power import (_PTable, boundaries, obf_spending, plan_sequential, power_analysis,
                                sequential_decision, simulate_sequential)
from dse.analysis.results import compare_edfs
from dse.errors import DseError, ParamError


def test_dkw_band_is_the_formula_and_the_normalised_band_uses_the_effective_n():
    rng = np.random.default_rng(0)
    e = rng.normal(30, 3, 50)
    r = compare_edfs({"a": e}, band="dkw", level=0.9)
    band = r.sweeps["a"].band
    assert band["half_width"] == pytest.approx(np.sqrt(np.log(2 / 0.1) / (2 * 50)))
    f = np.arange(1, 51) / 50
    assert band["low"] == pytest.approx(np.clip(f - band["half_width"], 0, 1))
    assert band["high"] == pytest.approx(np.clip(f + band["half_width"], 0, 1))
    w = np.r_[np.full(25, 1.0), np.full(25, 3.0)]
    assert effective_n(w) == pytest.approx(w.sum() ** 2 / (w ** 2).sum()) and effective_n(np.ones(7)) == 7
    assert dkw_half_width(effective_n(w)) > dkw_half_width(50)  # unequal weights: fewer effective models


def test_the_dkw_band_covers_the_true_cdf_at_least_as_often_as_promised():
    rng = np.random.default_rng(1)
    miss = 0
    for _ in range(400):
        e = np.sort(rng.uniform(0, 1, 40))
        eps = dkw_half_width(40, 0.9)
        f = np.arange(1, 41) / 40
        miss += np.any(np.abs(f - e) > eps) or np.any(np.abs(f - 1 / 40 - e) > eps)
    assert miss / 400 <= 0.1 + 3 * np.sqrt(0.09 / 400)


def test_bootstrap_band_is_narrower_than_dkw_and_positive():
    e = np.random.default_rng(2).normal(0, 1, 80)
    h = bootstrap_half_width(e, level=0.95, n_boot=400, seed=0)
    assert 0 < h < dkw_half_width(80, 0.95)


def test_ks_p_table_equals_scipy():
    rng = np.random.default_rng(3)
    t = _PTable()
    for n in (5, 12, 40):
        for _ in range(20):
            a, b = rng.normal(0, 1, n), rng.normal(0.5, 1, n)
            r = stats.ks_2samp(a, b)
            assert t.p(r.statistic, n) == pytest.approx(r.pvalue, rel=1e-9)


def test_power_agrees_with_a_direct_simulation():
    """Power from power_analysis against: draw n models from each pilot, scipy's KS test, repeat."""
    rng = np.random.default_rng(4)
    a, b = rng.normal(30, 3, 40), rng.normal(32, 3, 40)
    r = power_analysis(a, b, ("a", "b"), [20, 40], reps=1000, seed=5, pilot_boot=0)
    direct = np.random.default_rng(6)
    for row in r.rows:
        hits = sum(stats.ks_2samp(direct.choice(a, row.n), direct.choice(b, row.n)).pvalue <= 0.05 for _ in range(1000))
        se = np.sqrt(2 * 0.25 / 1000)  # two independent estimates
        assert abs(row.power - hits / 1000) < 4 * se, (row.n, row.power, hits)
        assert row.low <= row.power <= row.high


def test_spending_sums_to_alpha_and_is_obrien_fleming_shaped():
    b = boundaries([10, 20, 30, 40, 50], 50, 0.05)
    assert sum(b) == pytest.approx(0.05) and b[0] < b[1] < b[-1]
    assert obf_spending(1.0, 0.05) == pytest.approx(0.05) and obf_spending(0.2, 0.05) < 1e-3


def test_sequential_error_rate_holds_over_the_looks():
    """2,000 simulated studies of two identical populations, 5 looks: at most alpha (plus Monte-Carlo error)
    end with 'different'."""
    rng = np.random.default_rng(7)
    pop = rng.normal(30, 3, 5000)
    rate, mean_n = simulate_sequential(pop, pop, step=10, max_n=50, alpha=0.05, reps=2000, rng=rng)
    assert rate <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 2000), rate
    assert mean_n > 45  # the null rarely stops early


def test_sequential_saves_models_against_the_fixed_design_of_equal_power():
    """A clear shift (KS distance 0.3): the mean n at stopping is well below the fixed n of the same power."""
    rng = np.random.default_rng(8)
    a = rng.normal(0, 1, 4000)
    b = a + 2 * stats.norm.ppf(0.65)  # a shift of KS distance 0.3 between the two normals
    plan = plan_sequential(a, b, step=10, max_n=150, alpha=0.05, reps=600, rng=rng)
    assert plan.null_reject <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 600)
    assert plan.fixed_n is not None and plan.mean_n_alt < 0.85 * plan.fixed_n, plan


def test_sequential_decision_on_rounds():
    rng = np.random.default_rng(9)
    same = [rng.normal(0, 1, 10) for _ in range(3)], [rng.normal(0, 1, 10) for _ in range(3)]
    d = sequential_decision(*same, max_n=30, futility=None)
    assert d.decision == "no difference" and [x.n for x in d.looks] == [10, 20, 30]
    assert [x.boundary for x in d.looks] == pytest.approx(boundaries([10, 20, 30], 30, 0.05))
    assert d.p_adjusted == pytest.approx(min(1, min(x.p * 0.05 / x.boundary for x in d.looks)))
    far = [rng.normal(0, 1, 10)], [rng.normal(5, 1, 10)]
    assert sequential_decision(*far, max_n=20).decision == "different"  # (O'Brien-Fleming: strict early on)
    near = [rng.normal(0, 1, 10)], [rng.normal(0, 1, 10)]
    assert sequential_decision(*near, max_n=100, futility=None).decision == "continue"
    with pytest.raises(ParamError):
        sequential_decision([], [], 10)


def test_pilots_too_small_and_bad_options_are_refused():
    a = np.arange(10.0)
    with pytest.raises(DseError, match="at least 5"):
        power_analysis(a[:4], a, ("a", "b"))
    for kw, words in (({"alpha": 1.5}, "alpha"), ({"target": 0}, "target"), ({"reps": 10}, "reps"),
                      ({"effect": 2}, "effect"), ({"ns": [1]}, "n")):
        with pytest.raises(ParamError, match=words):
            power_analysis(a, a + 1, ("a", "b"), **kw)
    with pytest.raises(ParamError, match="step"):
        plan_sequential(a, a, step=0, max_n=10)
    with pytest.raises(ParamError, match="max"):
        plan_sequential(a, a, step=10, max_n=5)


@pytest.fixture(scope="module")
def pilots(tmp_path_factory):
    d = tmp_path_factory.mktemp("power")
    st = dse.Study(d / "s.sqlite")
    st.sample("regnetx", n=12, flops="2M:8M", resolution=28, stem="cifar", in_channels=1, num_classes=10)
    st.sample("anynet_e", n=12, flops="2M:8M", resolution=28, stem="cifar", in_channels=1, num_classes=10)
    rng = np.random.default_rng(0)
    st.set_results("regnetx", {i: float(v) for i, v in enumerate(rng.normal(30, 2, 12))})
    st.set_results("anynet_e", {i: float(v) for i, v in enumerate(rng.normal(34, 2, 12))})
    return d


def test_power_and_edf_bands_from_the_cli(pilots, run, tmp_path):
    db = str(pilots / "s.sqlite")
    code, out, err = run("power", "--compare", "regnetx", "anynet_e", "--n", "5,10,20", "--reps", "300", "--json",
                         "--plot", str(tmp_path / "p.png"), "--sequential", "--step", "5", "--max", "20", "--db", db)
    assert code == 0, err
    r = json.loads(out)
    assert set(r) >= {"alpha", "target", "effect", "rows", "n_needed", "more_models", "hours", "sequential"}
    assert [x["n"] for x in r["rows"]] == [5, 10, 12, 20] and r["rows"][0]["power"] <= r["rows"][-1]["power"]
    assert set(r["rows"][0]) >= {"n", "power", "low", "high", "band_half_width"}
    assert set(r["sequential"]) >= {"step", "max", "null_reject", "alt_reject", "mean_n_null", "mean_n_alt", "fixed_n"}
    assert (tmp_path / "p.png").stat().st_size > 0
    code, out, err = run("edf", "--compare", "regnetx", "anynet_e", "--json", "--band", "dkw", "--level", "0.9",
                         "--db", db)
    band = json.loads(out)["sweeps"]["regnetx"]["band"]
    assert band["method"] == "dkw" and band["level"] == 0.9 and len(band["low"]) == 12
    assert band["half_width"] == pytest.approx(dkw_half_width(12, 0.9))
    for args, words in ((["regnetx"], "exactly two sweeps"), (["regnetx", "anynet_e", "--alpha", "2"], "alpha"),
                        (["regnetx", "nope"], "unknown sweep"),
                        (["regnetx", "anynet_e", "--sequential", "--step", "0"], "--step"),
                        (["regnetx", "anynet_e", "--sequential", "--step", "10", "--max", "5"], "--max")):
        code, _, err = run("power", "--compare", *args, "--db", db)
        assert code == 2 and words in err and "Traceback" not in err, (args, err)


@pytest.mark.slow
def test_compare_until_decided_trains_in_rounds_and_stops(pilots, run, tmp_path):
    """On a copy of the pilots store: new sweeps sampled small, trained a few steps per round on synthetic data;
    the comparison ends (decided or at --max) with n per space on the round grid, and running it again adds
    nothing."""
    db = str(tmp_path / "c.sqlite")
    rng = np.random.default_rng(0)
    for sp in ("regnetx", "anynet_e"):
        assert run("sample", "--space", sp, "-n", "5", "--flops", "2M:8M", "--resolution", "16", "--stem", "cifar",
                   "--num-classes", "10", "--db", db)[0] == 0
        dse.Study(db).set_results(sp, {i: float(v) for i, v in enumerate(rng.normal(50, 5, 5))})  # the pilot
    args = ["compare", "regnetx", "anynet_e", "--until-decided", "--step", "5", "--max", "10", "--futility", "0",
            "--budget", "2it",
            "--dataset", "synthetic", "--train-size", "256", "--test-size", "32", "--device", "cpu", "--json", "--db",
            db]
    code, out, err = run(*args)
    assert code == 0, err
    r = json.loads(out)
    assert r["decision"] in ("different", "no difference") and set(r["n"]) == {"regnetx", "anynet_e"}
    assert all(n in (5, 10) for n in r["n"].values()) and r["looks"] and 0 <= r["p_adjusted"] <= 1
    if r["decision"] == "no difference":  # without futility it went on to --max: a round was sampled and trained
        assert r["n"] == {"regnetx": 10, "anynet_e": 10} and [x["n"] for x in r["looks"]] == [5, 10]
    code, out2, err = run(*args)
    assert code == 0 and json.loads(out2)["n"] == r["n"], err  # resumable: nothing more is trained


# ---- dse compare --until-decided: every option checked before the first write ----
COMPARE = [
    (["--device", "cuda:7"], "--device cuda:7"),
    (["--device", "foo"], "--device 'foo' unknown; allowed: auto, cpu, cuda, cuda:N"),
    (["--budget", "5xx"], "--budget: cannot read '5xx'"),
    (["--budget", "2ep"], "budget '1ep' (stored) vs '2ep' (now)"),
    (["--data-dir", "/nonexistent"], "--data-dir does not apply to synthetic data"),
    (["--train-size", "0"], "--train-size must be an integer >= 1"),
    (["--batch-size", "1000"], "batch_size 32 (stored) vs 1000 (now)"),
    (["--step", "0"], "--step must be an integer >= 1"),
    (["--max", "3"], "--max must be an integer >= --step (10)"),
    (["--step", "1", "--max", "1000"], "--max 1000 / --step 1 is 1,000 looks; at most 200"),
    (["--alpha", "1"], "--alpha must be a finite number > 0 and < 1"),
    (["--executor", "ray", "--address", "127.0.0.1:1"], "no Ray head answers there"),
    (["--workers-per-gpu", "99", "--device", "cpu"], "--workers-per-gpu must be from 1 to"),
]


@pytest.mark.parametrize("case", COMPARE, ids=[" ".join(c[0]) for c in COMPARE])
def test_compare_checks_every_option_before_the_first_write(run, pair_store, case):
    fails(run, pair_store, ["compare", "a", "b", "--until-decided", *case[0]], case[1])


def test_compare_decides_within_max_and_with_failed_models(run, pair_store):
    code, out, err = run("compare", "a", "b", "--until-decided", "--step", "5", "--max", "5", "--json")
    assert code == 0, err
    d = json.loads(out.strip().splitlines()[-1])
    assert d["n"] == {"a": 5, "b": 5} and d["looks"][-1]["n"] == 5 and d["decision"] in ("different", "no difference")
    con = sqlite3.connect(pair_store)  # two models of a failed: the sweep can never hold 6 trained ones
    con.execute("UPDATE models SET status = 'failed', error = NULL, best_error = NULL WHERE sweep = 'a' AND idx < 2")
    con.commit()
    con.close()
    code, out, err = run("compare", "a", "b", "--until-decided", "--step", "3", "--max", "6", "--json")
    assert code == 0, err
    d = json.loads(out.strip().splitlines()[-1])
    assert d["decision"] in ("different", "no difference") and d["n"]["a"] == 4 and d["n"]["b"] == 6
    assert sum(x["boundary"] for x in d["looks"]) == pytest.approx(0.05)  # the last look spent what was left


# ---- dse power ----
POWER = [
    (["--target", "0.05"], "--target must be a power above --alpha (0.05)"),
    (["--target", "0.01"], "--target must be a power above --alpha"),
    (["--n", "100000"], "--n must be model counts from 2 to 10,000"),
    (["--n", "25.7"], "--n: cannot read '25.7'"),
    (["--reps", "10000000"], "--reps must be an integer >= 100 and <= 100,000"),
    (["--n", "5000", "--reps", "100000"], "lower --reps to 4,000 or fewer"),
    (["--sequential", "--step", "1", "--max", "100000"], "--max must be an integer >= --step (1) and <= 10,000"),
    (["--sequential", "--step", "100000000000000000000"], "--step must be an integer >= 1"),
    (["--effect", "1.5"], "--effect must be a finite number > 0 and < 1"),
]


@pytest.mark.parametrize("case", POWER, ids=[" ".join(c[0]) for c in POWER])
def test_power_refuses_unbounded_or_meaningless_options(run, pair_store, case):
    t = time.monotonic()
    fails(run, pair_store, ["power", "--compare", "a", "b", *case[0]], case[1])
    assert time.monotonic() - t < 10


def test_power_effect_a_tied_pilot_cannot_make_is_refused(tmp_path):
    st = dse.Study(tmp_path / "s.sqlite")
    st.sample("anynet_a", n=8, flops="1M:3M", resolution=16, stem="cifar", num_classes=10, sweep="a")
    st.sample("anynet_e", n=8, flops="1M:3M", resolution=16, stem="cifar", num_classes=10, sweep="b")
    st.set_results("a", {i: (20.0 if i < 4 else 30.0) for i in range(8)})  # two distinct errors
    st.set_results("b", {i: 20.0 + i for i in range(8)})
    with pytest.raises(ParamError,
                       match=r"effect 0.2: no shift .*\(2 distinct values\), so the nearest shift makes 0.500"):
        st.power(["a", "b"], effect=0.2, reps=200)
    assert st.power(["a", "b"], effect=0.5, reps=200).rows  # a reachable effect is answered


def test_power_says_no_more_models_when_the_pilots_settle_it(tmp_path, run):
    st = dse.Study(tmp_path / "dse.sqlite")
    for name in ("a", "b"):
        st.sample("anynet_a", n=20, flops="1M:3M", resolution=16, stem="cifar", num_classes=10, sweep=name, seed=1)
    st.set_results("a", {i: 20.0 + i * 0.1 for i in range(20)})
    st.set_results("b", {i: 30.0 + i * 0.1 for i in range(20)})  # no overlap: KS p ~ 1e-11
    r = st.power(["a", "b"], reps=500)
    assert r.rows[0].n == 20 and r.n_needed == 20 and r.more_models == 0
    code, out, err = run("power", "--compare", "a", "b", "--reps", "500")
    assert code == 0 and "no more models needed" in out, (out, err)
