"""Several complexity regimes: `dse sample --regimes`, and trends across them (RegNet Fig. 11, 12 bottom)."""

import json
import math

import numpy as np
import pytest
from scipy import stats

import dse
from dse.analysis.trends import replicate_slopes, trend_series
from dse.errors import DseError, ParamError
from dse.units import parse_regimes, regime_label

REGIMES = "200MF,400MF,800MF,1.6GF"
SWEEPS = ["regnetx@200MF", "regnetx@400MF", "regnetx@800MF", "regnetx@1.6GF"]
BEST_DEPTH = 16


def best_w0(flops):
    """The planted optimum of w0: grows like sqrt(flops), 24 at 200MF."""
    return 24 * (flops / 2e8) ** 0.5


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """RegNetX sampled at 4 regimes (real architectures); error = a known function of depth and w0 whose best
    depth is the same at every regime and whose best w0 grows with flops, plus noise."""
    path = tmp_path_factory.mktemp("trends") / "s.sqlite"
    st = dse.Study(path)
    st.sample_regimes("regnetx", REGIMES, n=150)
    rng = np.random.default_rng(0)
    for sw in sorted(st.sweeps()):  # the planted errors, recorded through the API
        top = st.sweep(sw).regime["flops"][1]
        st.set_results(sw, {m.idx: 30 + 0.08 * (m.arch.depth - BEST_DEPTH) ** 2
                            + 8 * math.log(m.w0 / best_w0(top)) ** 2 + rng.normal(0, 0.3) for m in st.records(sw)})
    return st


def test_regimes_are_read_as_the_papers_windows():
    assert parse_regimes("400MF, 200MF,1.6GF") == [(180_000_000, 200_000_000), (360_000_000, 400_000_000),
                                                   (1_440_000_000, 1_600_000_000)]
    assert parse_regimes("180M:200M,0.36G:0.4G") == [(180_000_000, 200_000_000), (360_000_000, 400_000_000)]
    assert [regime_label(w[1]) for w in parse_regimes("200MF,1.6GF,32GF")] == ["200MF", "1.6GF", "32GF"]
    for bad, words in (("", "comma-separated"), ("200MF,,400MF", "comma-separated"), ("4x", "cannot read"),
                       ("180M:200M,190M:210M", "overlap"), ("400MF,380M:420M", "overlap"), ("0", "positive")):
        with pytest.raises(ParamError, match=words):
            parse_regimes(bad)


def test_sample_regimes_makes_one_sweep_per_regime_and_tops_up(run, tmp_path):
    code, out, err = run("sample", "--space", "regnetx", "--regimes", "200MF,400MF", "-n", "20", "--json")
    assert code == 0, err
    assert [r["sweep"] for r in json.loads(out)] == ["regnetx@200MF", "regnetx@400MF"]
    st = dse.Study(tmp_path / "dse.sqlite")
    recs = {n: st.records(n) for n in st.sweeps()}
    for n, (lo, hi) in (("regnetx@200MF", (180e6, 200e6)), ("regnetx@400MF", (360e6, 400e6))):
        assert len(recs[n]) == 20 and all(lo <= m.flops <= hi for m in recs[n])
        assert st.sweep(n).nominal_flops == hi
    # the regimes draw from independent streams: their sampled w0 sequences differ
    assert [m.w0 for m in recs["regnetx@200MF"]] != [m.w0 for m in recs["regnetx@400MF"]]
    # a top-up and a new regime later leave every existing model as it was
    code, _, err = run("sample", "--space", "regnetx", "--regimes", "200MF,400MF,800MF", "-n", "25")
    assert code == 0, err
    for n in ("regnetx@200MF", "regnetx@400MF"):
        assert [m.key for m in st.records(n)][:20] == [m.key for m in recs[n]] and len(st.records(n)) == 25
    # status shows a space's regimes together, ordered by flops
    run("sample", "--space", "anynet_a", "-n", "3")
    run("sample", "--space", "regnetx", "--regimes", "100MF", "-n", "3")
    code, out, _ = run("status", "--json")
    assert [(r["sweep"], r["regime"]) for r in json.loads(out)] == [
        ("regnetx@100MF", 100e6), ("regnetx@200MF", 200e6), ("regnetx@400MF", 400e6), ("regnetx@800MF", 800e6),
        ("anynet_a", 400e6)]
    code, out, _ = run("status")
    assert "800MF" in out and "regime" in out
    for args, words in ((["--flops", "1M:2M"], "--flops and --regimes exclude"),
                        (["--regimes", "400MF,1x"], "--regimes: cannot read"),
                        (["--regimes", "180M:200M,190M:300M"], "overlap"),
                        (["--regimes", "200MF", "--seed", "5"], "another --seed"),
                        (["--regimes", "200MF", "--sweep", "a@b"], "must not hold '@'")):
        if "--regimes" not in args:
            args = args + ["--regimes", "200MF"]
        code, _, err = run("sample", "--space", "regnetx", "-n", "30", *args)
        assert code == 2 and words in err and "Traceback" not in err, err


def test_population_w0_is_the_initial_width_not_a_stage(planted):
    pop = planted.population("regnetx@200MF")
    assert np.array_equal(pop.values("w0"), [m.regnet["w0"] for m in pop.models])
    assert np.array_equal(pop.values("w4"), [m.arch.widths[-1] for m in pop.models])
    assert np.array_equal(pop.values("w1"), [m.arch.widths[0] for m in pop.models])


def test_planted_trends_are_found(planted):
    r = planted.trends(["depth", "w0", "b"])
    by = {s.param: s for s in r.series}
    assert by["depth"].trend == "stable" and by["w0"].trend == "grows" and by["b"].trend == "stable"
    assert by["w0"].slope_low <= 0.5 <= by["w0"].slope_high  # planted: w0* ~ flops^0.5
    for p in by["depth"].regimes:
        assert p.low <= BEST_DEPTH <= p.high
    for p in by["w0"].regimes:
        assert p.low <= best_w0(p.flops) <= p.high
        x = planted.population(p.sweep).values("w0")
        assert (p.min, p.max, p.n) == (x.min(), x.max(), 150)  # min..max spans the regime's models
    assert [p.flops for p in by["w0"].regimes] == [2e8, 4e8, 8e8, 1.6e9]
    assert all(s.scale == "log" for s in r.series)


def test_slope_interval_is_computed_from_the_replicates(planted):
    s = planted.trends("w0", n_boot=3000, seed=4).series[0]
    lx = np.log([p.flops for p in s.regimes])
    y = np.log(np.stack([p.kept for p in s.regimes]))
    direct = np.array([np.polyfit(lx, y[:, b], 1)[0] for b in range(y.shape[1])])
    assert np.allclose(s.slopes, direct, rtol=0, atol=1e-9)
    assert (s.slope_low, s.slope, s.slope_high) == pytest.approx(
        (np.percentile(direct, 2.5), np.median(direct), np.percentile(direct, 97.5)), abs=1e-9)
    # each regime's replicates are its own bootstrap: same median and interval as the percentiles of kept
    for p in s.regimes:
        assert (p.low, p.median, p.high) == pytest.approx(
            (np.percentile(p.kept, 2.5), np.median(p.kept), np.percentile(p.kept, 97.5)))


def test_complexity_trends_equal_scipy_on_the_good_models(planted):
    r = planted.trends("depth", ci=90)
    xs, ys = {"acts": [], "params": []}, {"acts": [], "params": []}
    for n in planted.sweeps():
        pop = planted.population(n)
        k = max(5, math.ceil(pop.n / 4))
        good = np.argsort(pop.errors, kind="stable")[:k]
        for m in xs:
            xs[m] += list(pop.values("flops")[good])
            ys[m] += list(pop.values(m)[good])
    for c in r.complexity:
        ref = stats.linregress(np.log(xs[c.metric]), np.log(ys[c.metric]))
        t = stats.t.ppf(0.95, len(xs[c.metric]) - 2)
        assert c.n == len(xs[c.metric]) == 4 * 38
        assert (c.exponent, c.low, c.high) == pytest.approx((ref.slope, ref.slope - t * ref.stderr,
                                                             ref.slope + t * ref.stderr), rel=1e-12)
    cx = {c.metric: c for c in r.complexity}
    assert 0.3 < cx["acts"].exponent < 0.7 and 0.8 < cx["params"].exponent < 1.2  # the paper: ~0.5 and ~1


def test_a_parameter_that_can_be_zero_is_trended_linearly():
    rng = np.random.default_rng(0)
    regs = [(f"s@{f}", f, rng.integers(0, 5, 100).astype(float), rng.normal(30, 1, 100)) for f in (1e8, 2e8, 4e8)]
    s = trend_series("s", "x", regs, n_boot=500)
    assert s.scale == "linear" and s.to_json()["scale"] == "linear"
    direct = replicate_slopes([1e8, 2e8, 4e8], np.stack([p.kept for p in s.regimes]), "linear")
    assert np.array_equal(s.slopes, direct)
    with pytest.raises(DseError, match="two different regimes"):
        trend_series("s", "x", regs[:1] * 2, n_boot=10)
    # a parameter that is the same everywhere has slope exactly 0 (no 'grows' from rounding noise)
    same = [(n, f, np.full(100, 8.0), e) for n, f, _, e in regs]
    s = trend_series("s", "w0", same, n_boot=500)
    assert (s.slope_low, s.slope_high, s.trend) == (0.0, 0.0, "stable")


def test_trends_cli_json_table_and_plot(planted, run):
    db = str(planted.path)
    code, out, err = run("trends", "--param", "depth", "--param", "w0", "--n-boot", "2000", "--db", db, "--json",
                         "--plot", "t.png")
    assert code == 0, err
    j = json.loads(out)
    assert set(j) == {"series", "complexity"}
    s = j["series"][0]
    assert set(s) == {"space", "param", "scale", "regimes", "slope", "slope_low", "slope_high", "trend"}
    assert set(s["regimes"][0]) == {"sweep", "flops", "n", "median", "low", "high", "min", "max"}
    assert s["regimes"][0]["flops"] == 200_000_000 and s["space"] == "regnetx"
    assert {c["metric"] for c in j["complexity"]} == {"acts", "params"}
    assert set(j["complexity"][0]) == {"space", "metric", "exponent", "low", "high", "n"}
    from pathlib import Path

    assert Path("t.png").stat().st_size > 10_000
    code, out, err = run("trends", "--param", "w0", "--n-boot", "500", "--db", db)
    assert code == 0 and "grows" in out and "1.6GF" in out and "acts" in out, err


def test_trends_bad_input(planted, run, tmp_path):
    db = str(planted.path)
    for args, words in ((["--param", "nope"], "valid: "), (["--param", "depth", "--sweep", "regnetx@200MF"],
                                                          "two or more complexity regimes"),
                        (["--param", "depth", "--ci", "120"], "--ci must be a finite number > 0 and < 100"),
                        (["--param", "depth", "--plot", "x.jpg"], "unknown picture type")):
        code, _, err = run("trends", "--db", db, *args)
        assert code == 2 and words in err and "Traceback" not in err, (args, err)
    # one regime only: the message names the sweeps found
    run("sample", "--space", "regnetx", "-n", "20", "--db", str(tmp_path / "one.sqlite"))
    dse.Study(tmp_path / "one.sqlite").set_results("regnetx", {i: float(i) for i in range(20)})
    code, _, err = run("trends", "--param", "depth", "--db", str(tmp_path / "one.sqlite"))
    assert code == 2 and "regnetx (regnetx at 400MF)" in err, err


def test_refine_over_regimes_keeps_every_regimes_good_models(planted, run, tmp_path):
    one = planted.refine("regnetx@200MF", n_boot=2000)
    both = planted.refine(planted.sweeps(), n_boot=2000)
    w0 = {r: next(q for q in x.proposals if q.kind == "range" and q.param == "w0") for r, x in (("one", one), ("all",
                                                                                                               both))}
    assert w0["one"].high < best_w0(1.6e9)  # refined from 200MF alone, the 1.6GF optimum would be cut away
    assert all(w0["all"].low <= best_w0(f) <= w0["all"].high for f in (2e8, 4e8, 8e8, 1.6e9))
    assert both.regimes == SWEEPS and [v.sweep for v in w0["all"].votes] == SWEEPS  # in order of flops
    assert w0["one"].votes is None and "votes" not in w0["one"].to_json()
    for q in both.proposals:  # accepted exactly when every regime accepts it
        assert len(q.votes) == 4 and (q.accepted == (all(v.accepted for v in q.votes) and q.why != "already as narrow"))
    code, out, err = run("refine", "--db", str(planted.path), *sum((["--sweep", n] for n in planted.sweeps()), []),
                         "--n-boot", "500", "--json", "--out", str(tmp_path / "r.toml"))
    assert code == 0, err
    j = json.loads(out)
    assert j["regimes"] == SWEEPS and all(len(q["votes"]) == 4 for q in j["proposals"])
    assert set(j["proposals"][0]["votes"][0]) >= {"sweep", "accepted", "why", "n_satisfy", "mean_error_satisfy"}
    code, out, err = run("refine", "--db", str(planted.path), "--sweep", "regnetx@200MF", "--sweep", "regnetx@1.6GF",
                         "--n-boot", "500")
    assert code == 0 and "votes" in out and "200MF yes, 1.6GF" in out, err


def test_a_constraint_rejected_at_one_regime_is_rejected():
    from dse.analysis.refine import refine_regimes
    from dse.spaces import Regime, Sampler, resolve_space

    sp = resolve_space("regnet")
    rng = np.random.default_rng(0)
    groups = []
    for name, win, sign in (("lo", (180e6, 200e6), -1), ("hi", (720e6, 800e6), +1)):
        ms = Sampler(sp, Regime(win), seed=1).sample(200)
        # b = 1 is better at "lo" and clearly worse at "hi"
        groups.append((name, ms, [30 + sign * 3 * (m.arch.bottlenecks[0] == 1) + rng.normal(0, 1) for m in ms]))
    r = refine_regimes(sp, groups, n_boot=500)
    b1 = next(q for q in r.proposals if q.rule == "b_eq_1")
    assert [v.accepted for v in b1.votes] == [True, False] and not b1.accepted and b1.why.startswith("at hi:")
    alone = refine_regimes(sp, groups[:1], n_boot=500)
    assert next(q for q in alone.proposals if q.rule == "b_eq_1").accepted


@pytest.mark.slow
def test_report_has_a_trends_section_only_with_two_regimes(planted, tmp_path):
    small = dse.Study(tmp_path / "small.sqlite")  # a small study: the report draws every model
    small.sample_regimes("regnetx", "200MF,800MF", n=12)
    for sw in small.sweeps():
        small.set_results(sw, {m.idx: 30 + (m.arch.depth - 16) ** 2 * 0.1 + m.idx * 0.01 for m in small.records(sw)})
    two = small.report(tmp_path / "two.html").read_text()
    assert 'id="trends"' in two and "refined by all its regimes" in two and "200MF yes, 800MF" in two
    one = small.report(tmp_path / "one.html", sweeps=["regnetx@200MF"]).read_text()
    assert 'id="trends"' not in one  # one regime: no trend to show
    from dse.api.report import _trend_params  # a RegNet space's trends follow its own parameters

    three = SWEEPS[::3]
    assert _trend_params({n: planted.sweep(n) for n in three}, {n: planted.population(n) for n in three}) == \
        ["depth", "w0", "wa", "wm", "b", "g"]


def test_negative_seeds_are_refused_by_name(run, planted):
    for args in (["sample", "--space", "regnetx", "-n", "3", "--seed", "-1"],
                 ["sample", "--space", "regnetx", "--regimes", "200MF", "-n", "3", "--seed", "-1"],
                 ["train", "--seed", "-1"], ["trends", "--param", "depth", "--seed", "-1", "--db", planted.path],
                 ["bootstrap", "--param", "depth", "--seed", "-1", "--db", planted.path]):
        code, _, err = run(*args)
        assert code == 2 and "--seed must be an integer from 0 to 2^63-1" in err and "Traceback" not in err, (args, err)


def test_imported_regimes_are_placed_at_their_median_flops(planted, tmp_path):
    st = dse.Study(tmp_path / "imp.sqlite")
    for n in SWEEPS[::3]:
        planted.export(tmp_path / f"{n}.csv", n)
        st.import_table(tmp_path / f"{n}.csv", "i" + n.split("@")[1])
    r = st.trends("w0", n_boot=500)
    assert [p.sweep for p in r.series[0].regimes] == ["i200MF", "i1.6GF"]
    for p, n in zip(r.series[0].regimes, SWEEPS[::3]):
        assert p.flops == np.median([m.flops for m in planted.records(n)])
    assert r.series[0].trend == "grows"
