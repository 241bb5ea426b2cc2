"""Statistics against scipy/numpy references, the RegNet fit, and the analysis commands."""

import csv
import json

import numpy as np
import pytest
from scipy import stats

from conftest import cli, copy_study
from dse.analysis import (bootstrap, edf, edf_stats, fit_error, fit_regnet, ks_test, normalization_weights,
                          search_efficiency, weighted_quantile)
from dse.errors import DseError
from dse.spaces import Regime, Sampler, resolve_space


def test_ks_equals_scipy():
    rng = np.random.default_rng(0)
    for na, nb in ((30, 40), (200, 150), (1000, 1200)):
        a, b = rng.normal(0, 1, na), rng.normal(0.2, 1.1, nb)
        r = stats.ks_2samp(a, b)
        assert ks_test(a, b) == (pytest.approx(r.statistic, abs=0), pytest.approx(r.pvalue, rel=1e-12))


def test_weighted_ks_reduces_to_the_asymptotic_test():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 800), rng.normal(0.1, 1, 900)
    d, p = ks_test(a, b, np.ones(800), np.ones(900))
    r = stats.ks_2samp(a, b, method="asymp")
    assert d == pytest.approx(r.statistic, abs=1e-9) and p == pytest.approx(r.pvalue, rel=1e-6)
    # scaling the weights changes nothing; zero weights drop models
    d2, p2 = ks_test(np.r_[a, 99.0], b, np.r_[np.full(800, 3.0), 0.0], np.full(900, 0.1))
    assert (d2, p2) == pytest.approx((d, p))


def _weights_reference(cx, k, lo, hi):
    """Straight loops: bin j = floor((c - lo) / (hi - lo) * k), the top edge in the last bin."""
    out = {}
    for name, c in cx.items():
        bins = []
        for v in c:
            if v < lo or v > hi:
                bins.append(None)
            else:
                bins.append(min(int((v - lo) / (hi - lo) * k), k - 1))
        counts = [sum(1 for x in bins if x == j) for j in range(k)]
        out[name] = np.array([0.0 if x is None else 1.0 / (k * counts[x]) for x in bins])
    return out


def test_normalization_weights_against_reference():
    rng = np.random.default_rng(2)
    cx = {"a": rng.uniform(360, 400, 300), "b": rng.uniform(355, 398, 250) ** 1.0, "c": rng.uniform(362, 405, 200)}
    w, (lo, hi) = normalization_weights(cx, 8)
    assert lo == max(v.min() for v in cx.values()) and hi == min(v.max() for v in cx.values())
    ref = _weights_reference(cx, 8, lo, hi)
    for n in cx:
        assert np.allclose(w[n], ref[n], rtol=1e-12, atol=0)
        assert w[n].sum() == pytest.approx(1.0)
        # each bin carries exactly 1/k of the weight: the complexity distributions agree
        edges = np.linspace(lo, hi, 9)
        j = np.clip(np.searchsorted(edges, cx[n], side="right") - 1, 0, 7)
        assert np.allclose(np.bincount(j, weights=w[n], minlength=8), 1 / 8)
    w2, rng2 = normalization_weights(cx, 4, (365, 395))
    assert rng2 == (365, 395) and np.allclose(w2["a"], _weights_reference(cx, 4, 365, 395)["a"])
    with pytest.raises(DseError, match="use fewer bins"):
        normalization_weights({"a": np.r_[360, 361, 400], "b": np.r_[360, 400]}, 5)


def test_edf_and_stats():
    rng = np.random.default_rng(3)
    e = rng.normal(30, 5, 501)
    s = edf_stats(e, thresholds=(25, 30))
    assert s["median"] == pytest.approx(np.median(e)) and s["mean"] == pytest.approx(e.mean())
    assert s["p10"] == pytest.approx(np.percentile(e, 10)) and s["below"]["25"] == pytest.approx(np.mean(e < 25))
    x, f = edf(e)
    assert np.all(np.diff(x) >= 0) and f[-1] == pytest.approx(1) and f[250] == pytest.approx(251 / 501)
    assert weighted_quantile(e, np.ones(501), 0.5) == pytest.approx(np.median(e))
    sw = edf_stats(e, np.ones(501) / 501, (25,))
    assert sw["mean"] == pytest.approx(e.mean()) and sw["below"]["25"] == pytest.approx(np.mean(e < 25))


def _bootstrap_reference(x, e, n_boot, frac, ci, rng):
    m = max(1, int(round(frac * len(e))))
    kept = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(e), m)
        kept.append(x[idx[np.argmin(e[idx])]])
    return np.median(kept), np.percentile(kept, [(100 - ci) / 2, 100 - (100 - ci) / 2])


def test_bootstrap_against_reference_with_known_optimum():
    rng = np.random.default_rng(4)
    x = rng.uniform(0, 10, 400)
    e = (x - 3.0) ** 2 + rng.normal(0, 2.0, 400)
    r = bootstrap(x, e, n_boot=10_000, frac=0.25, ci=95, seed=0)
    med, (lo, hi) = _bootstrap_reference(x, e, 10_000, 0.25, 95, np.random.default_rng(9))
    assert r["low"] < 3.0 < r["high"] and abs(r["median"] - 3.0) < 0.6
    assert r["median"] == pytest.approx(med, abs=0.1)
    assert r["low"] == pytest.approx(lo, abs=0.25) and r["high"] == pytest.approx(hi, abs=0.25)
    # the kept values follow the reference distribution (two-sample KS on the kept draws)
    ref_kept = []
    rr = np.random.default_rng(10)
    for _ in range(3000):
        idx = rr.integers(0, 400, 100)
        ref_kept.append(x[idx[np.argmin(e[idx])]])
    assert stats.ks_2samp(r["kept"][:3000], ref_kept).pvalue > 0.001
    with pytest.raises(DseError):
        bootstrap(x[:1], e[:1])


def test_search_efficiency():
    rng = np.random.default_rng(5)
    e = rng.normal(30, 5, 100)
    rows = search_efficiency(e, seed=0)
    assert [r["m"] for r in rows] == [1, 2, 4, 8, 16, 32, 64]
    assert [r["reps"] for r in rows] == [100, 50, 25, 12, 6, 3, 1]
    assert abs(rows[0]["mean"] - e.mean()) < 2 and all(a["mean"] >= b["mean"] - 0.5 for a, b in zip(rows, rows[1:]))
    w = np.r_[np.zeros(50), np.ones(50)]
    rw = search_efficiency(e, w, seed=0)
    assert rw[0]["reps"] == 50 and rw[-1]["m"] == 32  # only the weighted models take part


@pytest.mark.slow
def test_fit_is_at_least_as_good_as_the_generating_parameters():
    import time

    for space in ("regnetx", "regnet"):
        ms = Sampler(resolve_space(space), Regime(), seed=11).sample(40)
        t = time.perf_counter()
        for m in ms:
            bw = m.arch.block_widths()
            r = m.regnet
            f = fit_regnet(bw)
            assert f["e_fit"] <= fit_error(bw, r["w0"], r["wa"], r["wm"]) + 1e-12
            assert f["w0"] % 8 == 0 and f["wa"] > 0 and f["wm"] > 1
        assert (time.perf_counter() - t) / len(ms) < 1.0
    # an exact RegNet (widths as generated) fits perfectly
    from dse.models.regnet import regnet_widths

    w = regnet_widths(22, 24, 24.48, 2.54)[0][0]
    assert fit_regnet(w)["e_fit"] == 0.0


# ---- the commands, on an imported population with a known structure ----

@pytest.fixture(scope="module")
def built_pops(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("pops")
    run = lambda *a: cli(tmp_path, *a)  # noqa: E731
    rng = np.random.default_rng(0)
    for sp, shift in (("anynet_a", 3.0), ("anynet_e", 0.0)):
        with open(tmp_path / f"{sp}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow([f"{p}{i}" for p in "dwbg" for i in range(1, 5)] + ["error", "best_error"])
            for m in Sampler(resolve_space(sp), Regime(), seed=1).sample(120):
                a = m.arch
                err = 30 + 3 * rng.standard_normal() + shift + 0.5 * abs(a.depth - 20)
                w.writerow([*a.depths, *a.widths, *a.bottlenecks, *a.group_widths, round(err, 3), round(err - 1, 3)])
        assert run("import", f"{sp}.csv", "--sweep", sp[-1].upper())[0] == 0
    (tmp_path / "one.csv").write_text("d1,w1,b1,g1,error\n1,32,1,8,30\n")
    run("import", "one.csv", "--sweep", "one")
    (tmp_path / "one2.csv").write_text("d1,w1,b1,g1,error\n1,32,1,8,30\n1,40,1,8,31\n")
    run("import", "one2.csv", "--sweep", "one2")
    return tmp_path


@pytest.fixture
def pops(built_pops, run, tmp_path):
    """Two imported populations with a known structure, plus sweeps of 1 and 2 models (built once, copied)."""
    return copy_study(built_pops, tmp_path)


def test_edf_command(run, pops):
    code, out, err = run("edf", "--compare", "A", "E", "--json", "--plot", "edf.png")
    assert code == 0, err
    j = json.loads(out)
    assert j["metric"] == "final" and j["normalize"] is None
    a = j["sweeps"]["A"]
    assert a["n"] == 120 and a["errors"] == sorted(a["errors"]) and sum(a["weights"]) == pytest.approx(1)
    r = stats.ks_2samp(a["errors"], j["sweeps"]["E"]["errors"])
    assert j["ks"][0]["a"] == "A" and j["ks"][0]["statistic"] == pytest.approx(r.statistic)
    assert j["ks"][0]["pvalue"] == pytest.approx(r.pvalue)
    assert (pops / "edf.png").stat().st_size > 5000
    code, out, _ = run("edf", "A", "E", "--normalize", "flops", "--bins", "4", "--json")
    jn = json.loads(out)
    assert jn["normalize"]["by"] == "flops" and jn["normalize"]["bins"] == 4
    assert sum(jn["sweeps"]["E"]["weights"]) == pytest.approx(1)
    code, out, _ = run("edf", "A", "E", "--metric", "best", "--plot", "edf.svg")
    assert code == 0 and "best error" in out and (pops / "edf.svg").read_text().startswith("<?xml")


@pytest.mark.slow
def test_bootstrap_fit_search_commands(run, pops):
    code, out, err = run("bootstrap", "--param", "depth", "--param", "w4", "--json", "--plot", "b.png")
    assert code == 0, err
    rows = [r for r in json.loads(out) if r["sweep"] in ("A", "E")]
    assert {(r["sweep"], r["param"]) for r in rows} == {("A", "depth"), ("E", "depth"), ("A", "w4"), ("E", "w4")}
    dep = [r for r in rows if r["param"] == "depth"]
    assert all(r["low"] <= 20 <= r["high"] and r["n_boot"] == 10000 and r["frac"] == 0.25 for r in dep)
    assert (pops / "b.png").stat().st_size > 5000
    code, out, _ = run("bootstrap", "--param", "b", "--json")
    assert "A" not in [r["sweep"] for r in json.loads(out)] and "E" in [r["sweep"] for r in json.loads(out)]
    code, out, err = run("fit", "--sweep", "E", "--top", "5", "--json", "--plot", "fit.png")
    assert code == 0, err
    j = json.loads(out)
    assert len(j["models"]) == 120 and j["top"]["k"] == 5 and set(j["models"][0]) == {
        "sweep", "id", "error", "w0", "wa", "wm", "e_fit"}
    assert (pops / "fit.png").stat().st_size > 5000
    code, out, _ = run("bootstrap", "--param", "e_fit", "--param", "wm", "--sweep", "E", "--json")
    assert code == 0 and len(json.loads(out)) == 2
    # export shows the stored fits, and they survive a round trip through import
    exp = list(csv.DictReader(run("export", "--sweep", "E")[1].splitlines()))
    fits = {int(m["id"]): m for m in j["models"]}
    assert all(float(r["e_fit"]) == pytest.approx(fits[int(r["id"])]["e_fit"]) and r["fit_w0"] for r in exp)
    run("export", "--sweep", "E", "-o", "e.csv")
    assert run("import", "e.csv", "--sweep", "E2")[0] == 0
    assert [r["fit_wa"] for r in exp] == [r["fit_wa"] for r in csv.DictReader(run("export", "--sweep",
                                                                                  "E2")[1].splitlines())]
    code, out, _ = run("search-efficiency", "--compare", "A", "E", "--json", "--plot", "se.svg")
    j = json.loads(out)
    assert [r["m"] for r in j["sweeps"]["A"]] == [1, 2, 4, 8, 16, 32, 64] and (pops / "se.svg").exists()
    assert run("plot", "complexity", "--plot", "cx.png")[0] == 0 and (pops / "cx.png").stat().st_size > 5000


@pytest.mark.parametrize("args,needle", [
    (["edf", "A", "one"], "sweep 'one' has 1 model(s) with errors"),
    (["edf", "A"], "name at least two sweeps"),
    (["edf", "A", "E", "--plot", "x.jpg"], "use a .png or .svg"),
    (["edf", "A", "E", "--normalize", "flops", "--bins", "500"], "use fewer --bins"),
    (["edf", "A", "E", "--thresholds", "a,b"], "--thresholds"),
    (["bootstrap", "--param", "zz"], "valid: "),
    (["bootstrap", "--param", "depth", "--sweep", "one"], "needs at least 2"),
    (["bootstrap", "--param", "depth", "--frac", "2"], "--frac must be a finite number > 0 and <= 1"),
    (["edf", "A", "one2", "--metric", "best"], "best-epoch error (--metric best)"),
    (["edf", "A", "nope"], "unknown sweep 'nope'"),
])
def test_analysis_bad_input(run, pops, args, needle):
    code, _, err = run(*args)
    assert code == 2 and needle in err and "Traceback" not in err, err


def test_curves_plot(run, tmp_path):
    from dse.spaces import Regime as R  # noqa: F401

    (tmp_path / "p.csv").write_text("d1,d2,w1,w2,b1,b2,g1,g2,error\n1,1,16,32,1,1,8,8,\n1,1,16,40,1,1,8,8,\n")
    run("import", "p.csv", "--sweep", "s")
    code, _, err = run("train", "--dataset", "synthetic", "--resolution", "16", "--train-size", "256",
                       "--test-size", "64", "--budget", "2ep", "--plain")
    assert code == 0, err
    code, out, err = run("plot", "curves", "--sweep", "s", "--best", "1", "--worst", "1", "--plot", "c.png")
    assert code == 0 and (tmp_path / "c.png").stat().st_size > 5000, err
