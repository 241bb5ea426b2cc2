"""dse refine: constraints and ranges proposed from evidence, and the space file it writes."""

import csv
import json

import numpy as np
import pytest

import dse
from dse.analysis.refine import refine
from dse.spaces import Regime, Sampler, load_space, resolve_space


def _pop(space, n, err_fn, seed=0):
    rng = np.random.default_rng(seed)
    ms = Sampler(resolve_space(space), Regime(), seed=seed).sample(n)
    return ms, np.array([err_fn(m.arch, m.regnet, rng) for m in ms])


def test_non_decreasing_widths_are_proposed_and_the_file_samples_only_them(run, tmp_path):
    # AnyNetX_C population where non-decreasing widths are clearly better
    def err(a, r, rng):
        nd = all(x <= y for x, y in zip(a.widths, a.widths[1:]))
        return 40 - (8 if nd else 0) + rng.normal(0, 2)

    models, e = _pop("anynet_c", 800, err)
    with open(tmp_path / "c.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([f"{p}{i}" for p in "dwbg" for i in range(1, 5)] + ["error"])
        for m, x in zip(models, e):
            a = m.arch
            w.writerow([*a.depths, *a.widths, *a.bottlenecks, *a.group_widths, round(float(x), 3)])
    assert run("import", "c.csv", "--sweep", "c")[0] == 0
    code, out, err_ = run("refine", "--sweep", "c", "--space", "anynet_c", "--out", "c2.toml", "--json")
    assert code == 0, err_
    j = json.loads(out)
    nd = [q for q in j["proposals"] if q["rule"] == "non_decreasing" and q["param"] == "w"]
    assert nd and nd[0]["accepted"] and nd[0]["evidence"]["mean_error_satisfy"] < nd[0]["evidence"]["mean_error_other"]
    assert nd[0]["evidence"]["pvalue"] < 1e-6 and nd[0]["kind"] == "constraint"
    assert j["log10_size_after"] < j["log10_size_before"] and j["out"] == "c2.toml"
    text = (tmp_path / "c2.toml").read_text()
    assert text.startswith("# Refined by dse refine from sweep 'c'") and "# added: non-decreasing w" in text
    sp = load_space(tmp_path / "c2.toml")
    assert "w" in sp.non_decreasing
    code, _, err_ = run("sample", "--space", "c2.toml", "-n", "60", "--sweep", "c2")
    assert code == 0, err_
    code, out, _ = run("export", "--sweep", "c2")
    rows = list(csv.DictReader(out.splitlines()))
    assert len(rows) == 60
    assert all(int(r["w1"]) <= int(r["w2"]) <= int(r["w3"]) <= int(r["w4"]) for r in rows)


def test_range_contains_the_best_region_and_excludes_far_values():
    # RegNetX: error has its minimum at wm = 2.5; far values (2.0, 3.0) are much worse
    models, e = _pop("regnetx", 400, lambda a, r, rng: 30 + 60 * (r["wm"] - 2.5) ** 2 + rng.normal(0, 0.5), seed=1)
    res = refine(resolve_space("regnetx"), models, e, min_support=20)
    wm = next(q for q in res.proposals if q.param == "wm" and q.kind == "range")
    assert wm.accepted and wm.low <= 2.5 <= wm.high
    assert wm.low > 2.15 and wm.high < 2.85
    assert res.space.dists["wm"].values.min() == wm.low


def test_min_support_blocks_proposals():
    models, e = _pop("anynet_c", 30, lambda a, r, rng: rng.normal(30, 1), seed=2)
    res = refine(resolve_space("anynet_c"), models, e, min_support=1000)
    assert not any(q.accepted for q in res.proposals)
    assert res.log10_size_after == pytest.approx(res.log10_size_before)


def test_refine_bad_input(run, tmp_path):
    (tmp_path / "p.csv").write_text("d1,w1,b1,g1,error\n1,32,1,8,30\n1,40,1,8,31\n")
    run("import", "p.csv", "--sweep", "p")
    code, _, err = run("refine", "--sweep", "p")
    assert code == 2 and "--space" in err
    code, _, err = run("refine", "--sweep", "p", "--space", "anynet_a", "--out", "x.txt")
    assert code == 2 and ".toml" in err


def test_regnet_space_refines_towards_regnetx():
    """On the first RegNet space, a population where b = 1, wm >= 2 and d in 12..28 are better gets those
    restrictions proposed and applied (the paper's RegNet -> RegNetX step)."""
    def err(a, r, rng):
        good = (a.bottlenecks[0] == 1) + (r["wm"] >= 2) + (12 <= a.depth <= 28)
        return 40 - 4 * good + rng.normal(0, 1)

    models, e = _pop("regnet", 500, err, seed=3)
    res = refine(resolve_space("regnet"), models, e, min_support=20)
    by = {q.rule: q for q in res.proposals if q.kind == "constraint"}
    for rule in ("wm_ge_2", "b_eq_1", "depth_band"):
        assert by[rule].accepted, (rule, by[rule])
        assert by[rule].evidence.mean_error_satisfy < by[rule].evidence.mean_error_other
    sp = res.space
    assert sp.dists["b"].values.tolist() == [1.0] and sp.dists["wm"].values.min() >= 2
    assert sp.dists["d"].values.min() >= 12 and sp.dists["d"].values.max() <= 28
    assert res.log10_size_after < res.log10_size_before


def test_refine_a_sampled_regnet_sweep_from_the_store(run, tmp_path):
    """Through the CLI and the store: the sampled w0/wa/wm of a RegNetX sweep are the evidence."""
    assert run("sample", "--space", "regnetx", "-n", "300")[0] == 0
    st = dse.Study(tmp_path / "dse.sqlite")
    rng = np.random.default_rng(0)
    st.set_results("regnetx", {m.idx: 30 + 60 * (m.regnet["wm"] - 2.5) ** 2 + rng.normal(0, 0.5)
                               for m in st.records("regnetx")})
    code, out, err = run("refine", "--sweep", "regnetx", "--json", "--out", "x2.toml")
    assert code == 0, err
    wm = [q for q in json.loads(out)["proposals"] if q["param"] == "wm" and q["kind"] == "range"]
    assert wm and wm[0]["accepted"] and wm[0]["low"] <= 2.5 <= wm[0]["high"]
    assert {q["param"] for q in json.loads(out)["proposals"]} >= {"w0", "wa", "wm", "d"}
    assert load_space(tmp_path / "x2.toml").dists["wm"].values.min() == wm[0]["low"]
