"""Is the budget long enough (issue 14): undertraining signals from stored epochs, and dse budget-check."""

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import dse
from conftest import digest as _digest
from conftest import fails
from dse.analysis.budget import budget_check, scale_budget, stratified, top_overlap, undertraining
from dse.errors import ParamError
from dse.store import Store

DATA = Path(__file__).resolve().parent / "data" / "fashion-mnist"
SAMPLE = ["--flops", "0.3M:3M", "--resolution", "28", "--stem", "cifar", "--in-channels", "1", "--num-classes", "10"]
TINY = ["--data-dir", DATA, "--train-size", "256", "--test-size", "128", "--batch-size", "64", "--device", "cpu",
        "--plain"]


def test_signals_and_thresholds_on_arrays():
    ok = undertraining("s", np.linspace(10, 30, 20), np.arange(20)[::-1], [[1.0, 0.95]] * 20, 10)
    assert not ok.flagged and ok.measured["depth"]["spearman"] == pytest.approx(-1.0)
    falling = undertraining("s", np.linspace(10, 30, 20), np.ones(20), [[1.0, 0.8]] * 15 + [[1.0, 0.99]] * 5, 10)
    assert [s.name for s in falling.signals] == ["loss_falling"] and falling.signals[0].value == 0.75
    deep = undertraining("s", np.linspace(10, 30, 20), np.arange(20), [[1.0, 0.99]] * 20, 10)
    assert [s.name for s in deep.signals] == ["depth"]
    assert deep.signals[0].value == pytest.approx(stats.spearmanr(np.arange(20), np.linspace(10, 30, 20))[0])
    chance = undertraining("s", [85.0] * 6 + [20.0] * 14, np.ones(20), [], 10)  # 30% within 10% of 90% error
    assert [s.name for s in chance.signals] == ["near_chance"] and "dse budget-check --sweep s" in chance.warning()
    few = undertraining("s", [89.0] * 5, np.arange(5), [[1.0, 0.5]] * 5, 10)
    assert not few.flagged  # too few models to flag


def test_budget_check_numbers_equal_scipy():
    rng = np.random.default_rng(0)
    base = rng.uniform(10, 40, 20)
    long = base + rng.normal(0, 4, 20)
    r = budget_check({("a", 4.0): (base, long)}, {("a", 4.0): "8ep"}, n_boot=500, seed=1)
    f = r.factors[0]
    assert f.spearman == pytest.approx(stats.spearmanr(base, long)[0])
    assert f.kendall == pytest.approx(stats.kendalltau(base, long)[0])
    assert f.spearman_low <= f.spearman <= f.spearman_high
    assert f.median_change == pytest.approx(np.median(long - base))
    assert f.top_overlap == top_overlap(base, long)
    assert r.verdict == ("trustworthy" if f.spearman >= 0.8 else "doubtful" if f.spearman >= 0.5 else "misleading")
    # two sweeps whose order flips at the longer budget: misleading, whatever the correlations
    a, b = np.arange(10.0, 20.0), np.arange(12.0, 22.0)
    r = budget_check({("a", 2.0): (a, a + 5), ("b", 2.0): (b, b - 5)}, {("a", 2.0): "4ep", ("b", 2.0): "4ep"})
    c = r.comparisons[0]
    assert (c.base_order, c.long_order, c.flipped) == ("a < b", "a > b", True) and r.verdict == "misleading"
    assert c.ks_base == pytest.approx(stats.ks_2samp(a, b).statistic)
    js = r.to_json()
    assert set(js) >= {"sweeps", "factors", "comparisons", "verdict"}
    assert set(js["factors"][0]) >= {"factor", "n", "spearman", "spearman_low", "spearman_high", "kendall",
                                     "top_overlap", "median_change"}
    assert set(js["comparisons"][0]) >= {"a", "b", "base_order", "long_order", "flipped"}


def test_scale_budget_and_stratified():
    assert scale_budget("10ep", 4) == "40ep" and scale_budget("6it", 1.5) == "9it"
    for budget, f in (("5it", 1.5), ("3ep", 2.5)):
        with pytest.raises(ParamError, match="whole number"):
            scale_budget(budget, f)
    with pytest.raises(ParamError, match="> 1"):
        scale_budget("2ep", 1)
    e = np.arange(100.0)[::-1]
    pick = stratified(e, 10, seed=3)
    assert len(set(pick)) == 10
    assert sorted(np.floor(e[pick] / 10).tolist()) == list(range(10))  # one from each error decile


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    """10 RegNetX models trained for 2 epochs of 4 steps (256 images at batch 64): far too short."""
    from dse.cli.main import main

    d = tmp_path_factory.mktemp("budget")
    db = d / "b.sqlite"

    def cli(*args):
        try:
            main([*map(str, args), "--db", str(db)])
        except SystemExit as e:
            assert not e.code, args

    cli("sample", "--space", "regnetx", "-n", "10", *SAMPLE, "--sweep", "x")
    cli("train", "--budget", "2ep", *TINY)
    return db


def _copy(src: Path, dst: Path) -> Path:
    with Store(src) as s:  # a consistent copy, WAL included
        s.con.execute(f"VACUUM INTO '{dst}'")
    return dst


@pytest.mark.slow
def test_tiny_budget_is_flagged_everywhere(run, tiny_study, tmp_path):
    db = _copy(tiny_study, tmp_path / "t.sqlite")
    u = dse.Study(db).undertraining()["x"]
    assert u.flagged, u.measured
    names = [s.name for s in u.signals]
    for args in (["status"], ["refine", "--sweep", "x"], ["bootstrap", "--param", "depth"]):
        code, out, err = run(*args, "--db", db)
        assert code == 0, err
        line = [x for x in err.splitlines() if x.startswith("warning: sweep 'x' may be undertrained")]
        assert len(line) == 1 and "dse budget-check --sweep x" in line[0]
        assert any(s.message in line[0] for s in u.signals)
    code, out, _ = run("bootstrap", "--param", "depth", "--db", db, "--json")
    assert [s["signal"] for s in json.loads(out)[0]["undertraining"]["signals"]] == names
    code, out, _ = run("refine", "--sweep", "x", "--db", db, "--json")
    assert json.loads(out)["undertraining"][0]["sweep"] == "x"
    code, out, _ = run("status", "--db", db, "--json")
    assert json.loads(out)[0]["undertraining"]["flagged"] is True


@pytest.mark.slow
def test_budget_check_trains_k_copies_resumes_and_equals_scipy(run, tiny_study, tmp_path):
    db = _copy(tiny_study, tmp_path / "c.sqlite")
    st = dse.Study(db)

    class Stop:  # a progress display that presses Ctrl-C after the first copy is trained
        def __init__(self, *a):
            self.ended = 0

        def begin(self, *a):
            pass

        def event(self, kind, **kw):
            if kind == "end":
                raise KeyboardInterrupt

        def poll(self):
            pass

        def log(self, m):
            pass

        def close(self):
            pass

    kw = dict(models=4, factors=[4], seed=0, data_dir=DATA, device="cpu")
    with pytest.raises(KeyboardInterrupt):
        st.budget_check(["x"], progress=Stop, **kw)
    with Store(db) as s:
        rec = s.sweep("x~x4")
        assert rec.source == "budget" and rec.protocol["budget"] == "8ep"
        assert [m.status for m in s.models("x~x4")].count("done") == 1
        assert [m.status for m in s.models("x~x4")].count("running") == 0
    r = st.budget_check(["x"], **kw)
    with Store(db) as s:
        copies, base = s.models("x~x4"), {m.idx: m for m in s.models("x")}
        assert len(copies) == 4 and all(m.status == "done" and m.epochs == 8 for m in copies)
        assert all(m.key == base[m.idx].key and m.flops == base[m.idx].flops for m in copies)
        long = [m.error for m in copies]
        short = [base[m.idx].error for m in copies]
    f = r.factors[0]
    assert (f.factor, f.n, f.budget) == (4.0, 4, "8ep")
    assert f.spearman == pytest.approx(stats.spearmanr(short, long)[0], nan_ok=True)
    assert f.kendall == pytest.approx(stats.kendalltau(short, long)[0], nan_ok=True)
    # the copies are a sweep like any: shown by status, left out of analyses that pick every sweep
    code, out, _ = run("status", "--db", db)
    assert "x~x4" in out
    assert dse.Study(db).sweeps() == ["x", "x~x4"] and list(dse.Study(db).undertraining()) == ["x"]
    code, out, err = run("budget-check", "--sweep", "x", "--models", "4", "--factors", "4", "--data-dir", DATA,
                         "--device", "cpu", "--db", db, "--json", "--plot", tmp_path / "b.png")
    assert code == 0, err
    assert json.loads(out)["factors"][0]["spearman"] == pytest.approx(f.spearman, nan_ok=True)  # nothing retrained
    assert (tmp_path / "b.png").stat().st_size > 0
    html = dse.Study(db).report(tmp_path / "r.html").read_text()
    assert "Is the budget long enough?" in html and "verdict:" in html


@pytest.mark.parametrize("args, fragment", [
    (["--models", "11"], "more than the 10 trained models"),
    (["--models", "2"], "--models must be an integer >= 3"),
    (["--factors", "1"], "each factor must be > 1"),
    (["--factors", "0.5,2"], "each factor must be > 1"),
    (["--factors", "1.25"], "is not a whole number of epochs"),
    (["--factors", "x"], "cannot read 'x'"),
    (["--sweep", "nope"], "unknown sweep 'nope'"),
])
@pytest.mark.slow
def test_budget_check_bad_input(run, tiny_study, tmp_path, args, fragment):
    db = _copy(tiny_study, tmp_path / "bad.sqlite")
    sweep = [] if "--sweep" in args else ["--sweep", "x"]
    k = [] if "--models" in args else ["--models", "4"]
    code, out, err = run("budget-check", *sweep, *k, *args, "--db", db)
    assert code == 2 and fragment in err and "Traceback" not in err, err
    assert dse.Study(db).sweeps() == ["x"]  # nothing made


def test_budget_check_refuses_untrained_and_iteration_budgets(run, tmp_path):
    code, _, err = run("sample", "--space", "regnetx", "-n", "4", *SAMPLE, "--sweep", "u")
    assert code == 0, err
    code, _, err = run("budget-check", "--sweep", "u")
    assert code == 2 and "no stored protocol" in err
    code, _, err = run("train", "--budget", "5it", *TINY)
    assert code == 0, err
    code, _, err = run("budget-check", "--sweep", "u", "--models", "3", "--factors", "1.5")
    assert code == 2 and "5it x 1.5 = 7.5 is not a whole number of steps" in err


def test_small_samples_get_no_verdict_and_honest_intervals():
    """4 retrained models agreeing perfectly: no verdict ('too few models to tell', naming the K needed), and a
    Spearman interval that is not 1..1; a gap that melts away at the longer budget is doubtful, not trustworthy."""
    from dse.analysis.budget import MIN_K

    x = np.array([10.0, 20.0, 30.0, 40.0])
    r = budget_check({("a", 2.0): (x, x + 1)}, {("a", 2.0): "4ep"}, n_boot=500)
    f = r.factors[0]
    assert r.verdict == "too few models to tell" and f"at least {MIN_K}" in r.why
    assert f.spearman == 1.0 and f.spearman_low < 0.5 and f.spearman_high == pytest.approx(1.0, abs=1e-3)
    a = np.linspace(20, 40, 12)
    r = budget_check({("a", 2.0): (a, a - 2), ("b", 2.0): (a + 10, a - 1)}, {("a", 2.0): "4ep", ("b", 2.0): "4ep"})
    c = r.comparisons[0]
    assert (c.gap_base, c.gap_long) == pytest.approx((10.0, 1.0)) and not c.flipped
    assert r.verdict == "doubtful" and "shrinks from +10.00 to +1.00" in r.why


def test_comparisons_are_judged_on_the_whole_populations():
    """Every model's longer-budget error is predicted from the K pairs by an isotonic fit (scipy), and the
    between-space gap is reported at the base budget and predicted, with an interval from resampling the pairs: a
    gap the retrained pairs say will close is doubtful; one they keep stays trustworthy."""
    from scipy.optimize import isotonic_regression

    from dse.analysis.budget import predict_long

    rng = np.random.default_rng(0)
    x = np.sort(rng.uniform(20, 40, 12))
    y = x + rng.normal(0, 1, 12)
    fit = isotonic_regression(y, increasing=True).x
    assert predict_long(x, y, x) == pytest.approx(fit)  # at the pairs: the fit itself
    assert np.all(np.diff(predict_long(x, y, np.linspace(0, 60, 50))) >= 0)  # monotone, flat beyond the pairs
    ea, eb = rng.uniform(20, 40, 100), rng.uniform(20, 40, 100) + 3
    ka, kb = np.sort(rng.choice(ea, 12, replace=False)), np.sort(rng.choice(eb, 12, replace=False))
    budgets = {("a", 2.0): "4ep", ("b", 2.0): "4ep"}
    keep = budget_check({("a", 2.0): (ka, ka + 0.1), ("b", 2.0): (kb, kb + 0.1)}, budgets, 300,
                        populations={"a": ea, "b": eb})
    q = keep.comparisons[0].population
    assert q["gap_base"] == pytest.approx(np.median(eb) - np.median(ea)) and q["p_base"] < 0.05
    assert q["gap_long_low"] > 0 and keep.verdict == "trustworthy"
    close = budget_check({("a", 2.0): (ka, ka + 0.1), ("b", 2.0): (kb, kb - 3.0 + rng.normal(0, 0.5, 12))}, budgets,
                         300, populations={"a": ea, "b": eb})
    q = close.comparisons[0].population
    assert q["gap_long_low"] <= 0 <= q["gap_long_high"]
    assert close.verdict == "doubtful" and "may vanish" in close.why


# ---- EDF bands and budget-check: statistical edge cases ----
def test_bootstrap_band_of_equal_errors_is_zero():
    from dse.analysis.edf import bootstrap_half_width, dkw_half_width

    assert bootstrap_half_width([31.5] * 20) == 0.0
    x = np.repeat([1.0, 2.0, 3.0], 10)  # ties: each resample of the same distinct values has the same EDF
    ref = bootstrap_half_width(np.arange(30.0))
    assert 0 < bootstrap_half_width(x) <= 1 and ref < dkw_half_width(30) * 1.2


def test_budget_verdict_does_not_depend_on_the_order_of_the_sweeps():
    from dse.analysis.budget import budget_check

    rng = np.random.default_rng(0)
    xa = rng.uniform(20, 40, 12)
    xb = rng.uniform(20, 40, 12)
    pairs = {("a", 2.0): (xa, xa - 1.0), ("b", 2.0): (xb, np.full(12, 25.0))}  # b: all equal when retrained
    budgets = {k: "2ep" for k in pairs}
    one = budget_check(pairs, budgets, n_boot=200)
    two = budget_check(dict(reversed(list(pairs.items()))), budgets, n_boot=200)
    assert one.verdict == two.verdict == "doubtful" and "Spearman undefined" in one.why


def test_budget_check_advice_respects_the_verdicts_minimum(run, pair_store):
    fails(run, pair_store, ["budget-check", "--sweep", "a", "--models", "20", "--device", "cpu"],
           "a verdict needs 10 or more per sweep", "--models 6 for the rank statistics without a verdict")


def test_a_damaged_stored_budget_is_said_as_such(run, pair_store):
    con = sqlite3.connect(pair_store)
    rows = con.execute("SELECT name, protocol FROM sweeps WHERE name = 'a'").fetchall()
    p = json.loads(rows[0][1])
    p["budget"] = "abc"
    con.execute("UPDATE sweeps SET protocol = ? WHERE name = 'a'", (json.dumps(p),))
    con.commit()
    con.close()
    for args in (["budget-check", "--sweep", "a", "--models", "3", "--device", "cpu"],
                 ["compare", "a", "b", "--until-decided"]):
        before = _digest(pair_store)
        code, _, err = run(*args)
        assert code == 2 and "damaged: sweep 'a': column protocol holds budget 'abc'" in err, err
        assert "--budget" not in err
        assert _digest(pair_store) == before
