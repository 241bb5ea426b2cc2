"""The mirror test: every analysis on the same planted population as an error (classification, lower is better) and
as its mirror image in PSNR (an SR sweep, psnr = 45 - error, higher is better) decides the same way: the same KS,
the same best models, the same intervals and proposals, mirrored values; and an SR sweep's outputs never say
"error %".

Both stores hold the same models (sampled once from sr_anynet at two regimes); the classification one is the SR
store with its regimes rewritten as classification's and every result mirrored, so only the task differs."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from dse.study import Study

C = 45.0  # psnr = C - error


def _plant(path, mirror: bool) -> None:
    """Results that depend on the design (deeper and narrower: worse), with per-epoch rows and a flat loss."""
    con = sqlite3.connect(path)
    rng = np.random.default_rng(7)
    rows = con.execute("SELECT sweep, idx, depth, arch FROM models ORDER BY sweep, idx").fetchall()
    for sweep, idx, depth, arch in rows:
        w = json.loads(arch)["widths"][0]
        err = 20 + 1.5 * depth - 2.0 * np.log2(w) + rng.normal(0, 0.8)
        best = err - abs(rng.normal(0, 0.3))
        v = (lambda e: C - e) if mirror else (lambda e: e)
        con.execute("UPDATE models SET status = 'done', error = ?, best_error = ?, epochs = 2, train_seconds = 1.0 "
                    "WHERE sweep = ? AND idx = ?", (v(err), v(best), sweep, idx))
        for ep, (loss, e) in enumerate(((0.30, err + 3), (0.29, err)), 1):
            con.execute("INSERT INTO epochs (sweep, idx, epoch, train_loss, train_error, test_error, lr, seconds, "
                        "images_per_s) VALUES (?, ?, ?, ?, ?, ?, 0.001, 1.0, 100.0)",
                        (sweep, idx, ep, loss, v(e + 1), v(e)))
    protocol = json.dumps({"budget": "2ep", "dataset": "photos" if mirror else "fashion-mnist", "lr": 0.001,
                           "momentum": 0.9, "weight_decay": 0.0, "batch_size": 16})
    con.execute("UPDATE sweeps SET protocol = ?", (protocol,))
    if not mirror:  # the same sweeps as classification's: a regime at a resolution, no task
        for name, regime in con.execute("SELECT name, regime FROM sweeps").fetchall():
            r = json.loads(regime)
            r = {"flops": r["flops"], "resolution": 32, "stem": "simple", "in_channels": 3, "num_classes": 10,
                 "max_params": None, "max_acts": None}
            con.execute("UPDATE sweeps SET regime = ? WHERE name = ?", (json.dumps(r), name))
    con.commit()
    con.close()


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    d = tmp_path_factory.mktemp("mirror")
    Study(d / "sr.sqlite").sample_regimes("sr_anynet", ["1.5G:2.9G", "3G:6G"], n=40, sweep="p")
    src = sqlite3.connect(d / "sr.sqlite")
    dst = sqlite3.connect(d / "cls.sqlite")
    src.backup(dst)
    src.close()
    dst.close()
    _plant(d / "sr.sqlite", mirror=True)
    _plant(d / "cls.sqlite", mirror=False)
    return Study(d / "cls.sqlite"), Study(d / "sr.sqlite"), d


SWEEPS = ["p@2.9GF", "p@6GF"]


def test_the_pair_is_one_population_seen_two_ways(pair):
    e, p, _ = pair
    a, b = e.population(SWEEPS[0]), p.population(SWEEPS[0])
    assert a.measure.name == "error" and b.measure.name == "psnr"
    assert np.allclose(a.errors, b.errors + C)  # b's oriented values: -psnr = error - C


def test_edf_ks_best_and_statistics_mirror(pair):
    e, p, _ = pair
    for names, norm in ((SWEEPS, None), (SWEEPS[1:], "flops")):
        a, b = e.edf(names, normalize=norm, bins=3), p.edf(names, normalize=norm, bins=3)
        assert [v for k in a.ks for v in (k.statistic, k.pvalue)] == \
            pytest.approx([v for k in b.ks for v in (k.statistic, k.pvalue)])
        for n in names:
            assert b.sweeps[n].min == pytest.approx(C - a.sweeps[n].min)
            assert b.sweeps[n].median == pytest.approx(C - a.sweeps[n].median)
            assert np.allclose(b.sweeps[n].weights, a.sweeps[n].weights)


def test_bootstrap_and_trends_give_the_same_intervals(pair):
    e, p, _ = pair
    a, b = e.bootstrap(["d1", "w1"], SWEEPS, n_boot=300, seed=2), p.bootstrap(["d1", "w1"], SWEEPS, n_boot=300, seed=2)
    assert [(x.median, x.low, x.high) for x in a.panels] == [(x.median, x.low, x.high) for x in b.panels]
    ta, tb = e.trends(["d1", "w1"], n_boot=200, seed=1), p.trends(["d1", "w1"], n_boot=200, seed=1)
    assert [(s.slope, s.slope_low, s.slope_high, s.trend) for s in ta.series] == \
        [(s.slope, s.slope_low, s.slope_high, s.trend) for s in tb.series]
    assert (ta.ranked_by, tb.ranked_by) == ("error", "PSNR")


def test_fit_ranks_the_same_top_models(pair):
    e, p, _ = pair
    a, b = e.fit(SWEEPS[:1], top=10, save=False), p.fit(SWEEPS[:1], top=10, save=False)
    assert [r.id for r in a.best] == [r.id for r in b.best]
    assert a.summary() == b.summary()
    ja, jb = a.to_json(), b.to_json()
    assert ja["top"] == jb["top"] and "psnr" in jb["models"][0] and "error" not in jb["models"][0]
    kept = p.fit(SWEEPS[:1], save=False, best=5)  # the 5 best are the 5 highest PSNRs
    stored = sorted((m.error for m in p.records(SWEEPS[0])), reverse=True)[:5]
    assert sorted((r.error for r in kept.rows), reverse=True) == stored


def test_search_efficiency_mirrors_the_expected_best(pair):
    e, p, _ = pair
    a, b = e.search_efficiency(SWEEPS, seed=4), p.search_efficiency(SWEEPS, seed=4)
    for n in SWEEPS:
        for x, y in zip(a.sweeps[n], b.sweeps[n]):
            assert (x.m, x.reps, x.std) == pytest.approx((y.m, y.reps, y.std)) and y.mean == pytest.approx(C - x.mean)
    assert b.to_json()["unit"] == "dB"


def test_refine_proposes_and_accepts_the_same(pair):
    e, p, _ = pair
    a, b = (s.refine(SWEEPS[1], min_support=5, n_boot=200, seed=3) for s in (e, p))
    assert [(q.kind, q.param, q.rule, q.low, q.high, q.accepted) for q in a.proposals] == \
        [(q.kind, q.param, q.rule, q.low, q.high, q.accepted) for q in b.proposals]
    for qa, qb in zip(a.proposals, b.proposals):
        ja, jb = qa.to_json()["evidence"], qb.to_json(b.measure)["evidence"]
        assert ja["pvalue"] == jb["pvalue"]
        if ja["mean_error_satisfy"] is not None:
            assert jb["mean_psnr_satisfy"] == pytest.approx(C - ja["mean_error_satisfy"])
            assert jb["best_psnr_satisfy"] == pytest.approx(C - ja["min_error_satisfy"])


def test_rank_curves_complexity_and_power_agree(pair):
    e, p, _ = pair
    ra, rb = e.rank("d1", None, sweeps=SWEEPS[:1]), p.rank("d1", None, sweeps=SWEEPS[:1])
    assert np.array_equal(ra.ranks, rb.ranks) and ra.good_x == rb.good_x
    ca, cb = e.curves(SWEEPS[0], best=3, worst=2), p.curves(SWEEPS[0], best=3, worst=2)
    assert [m["label"].split(" ")[0] for m in ca.models] == [m["label"].split(" ")[0] for m in cb.models]
    assert "dB" in cb.models[0]["label"] and "%" in ca.models[0]["label"]
    xa, xb = e.complexity(SWEEPS), p.complexity(SWEEPS)
    assert np.allclose(xb.sweeps[SWEEPS[0]]["errors"], C - xa.sweeps[SWEEPS[0]]["errors"])
    pa, pb = e.power(SWEEPS, reps=200, seed=1), p.power(SWEEPS, reps=200, seed=1)
    assert pa.to_json()["rows"] == pb.to_json()["rows"]


def test_undertraining_and_budget_and_sequential_decisions_mirror(pair):
    from dse.analysis.budget import budget_check
    from dse.analysis.power import sequential_decision
    from dse.tasks import PSNR

    e, p, _ = pair
    ua, ub = e.undertraining(SWEEPS), p.undertraining(SWEEPS)
    for n in SWEEPS:
        assert ua[n].measured["depth"] == ub[n].measured["depth"]
        assert [s.name for s in ua[n].signals if s.name != "near_chance"] == [s.name for s in ub[n].signals]
        assert "near_chance" not in ub[n].measured  # a PSNR has no chance level
    assert any("PSNR falls with depth" in s.message for s in ub[SWEEPS[1]].signals)
    rng = np.random.default_rng(0)
    x = rng.normal(30, 3, (2, 12))
    y = x + rng.normal(-1, 0.5, x.shape)
    pairs = {("a", 4.0): (x[0], y[0]), ("b", 4.0): (x[1] + 2, y[1] + 2)}
    ba = budget_check(pairs, {k: "8ep" for k in pairs}, n_boot=300)
    bb = budget_check({k: (PSNR.loss(C - u), PSNR.loss(C - v)) for k, (u, v) in pairs.items()},
                      {k: "8ep" for k in pairs}, n_boot=300, measure=PSNR)
    assert (ba.verdict, [f.spearman for f in ba.factors]) == (bb.verdict, [f.spearman for f in bb.factors])
    assert [f.median_change for f in bb.factors] == pytest.approx([-f.median_change for f in ba.factors])
    assert ba.comparisons[0].base_order == "a < b" and bb.comparisons[0].base_order == "a > b"  # PSNR a above b
    rounds = [rng.normal(30, 3, 10), rng.normal(33, 3, 10)], [rng.normal(34, 3, 10), rng.normal(35, 3, 10)]
    da = sequential_decision(*rounds, max_n=40, alpha=0.05, futility=0.1, seed=1)
    db = sequential_decision(*[[PSNR.loss(C - r) for r in side] for side in rounds], max_n=40, alpha=0.05,
                             futility=0.1, seed=1)
    assert (da.decision, [lk.p for lk in da.looks]) == (db.decision, [lk.p for lk in db.looks])


def test_no_sr_output_says_error_percent(pair, tmp_path):
    """The report, and the CLI tables of every analysis on the SR store, in PSNR and dB."""
    from conftest import cli

    _, p, d = pair
    out = p.report(tmp_path / "r.html")
    html = out.read_text()
    assert "error (%)" not in html and "err sat" not in html and "err %" not in html and "dB" in html
    db = str(d / "sr.sqlite")
    for args in (("edf", "--compare", *SWEEPS), ("search-efficiency", "--compare", *SWEEPS), ("fit", "--sweep",
                 SWEEPS[0]), ("trends", "--param", "d1"), ("refine", "--sweep", SWEEPS[1], "--min-support", "5"),
                 ("status",), ("bootstrap", "--param", "d1", "--sweep", SWEEPS[0])):
        code, text, err = cli(tmp_path, *args, "--db", db)
        assert code == 0, (args, text, err)
        assert "error" not in text.lower() and "err " not in text and "(%)" not in text, (args, text)
