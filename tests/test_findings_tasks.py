"""dse findings on SR: each finding as it reads on super-resolution, judged on planted PSNR populations whose truth is
known (holds, contradicted, can't tell, not applicable with why), classification beside SR (--compare-tasks), and
the SR study's plan and run."""

from __future__ import annotations

import json

import numpy as np
import pytest

import dse
from conftest import cli
from dse.analysis.findings import (CANT, CONTRA, FINDINGS, HOLDS, NA, Sample, compare_tasks, criteria_table, judge,
                                   reading, together)
from dse.tasks import PSNR


def _sr(space, flops, n, psnr, seed=0, stages=3, depth=None):
    """Planted SR regimes of ``space``: depth drawn per model (3..24), PSNR = psnr(r, depth) + noise, as the
    findings read them (oriented: the negated PSNR)."""
    rng = np.random.default_rng(seed)
    out = []
    for r, f in enumerate(flops):
        d = rng.integers(3, 25, n).astype(float) if depth is None else np.full(n, float(depth))
        p = psnr(r, d) + rng.normal(0, 0.02, n)
        out.append(Sample(f"{space}@{f:g}", f, {"depth": d}, PSNR.loss(p), stages=stages))
    return out


FL = (3e9, 6e9, 12e9)


@pytest.mark.parametrize("best,want", [(lambda r: 20.0, HOLDS), (lambda r: 5.0, CONTRA)])
def test_sr_depth_planted(best, want):
    ev = {"sr_anynet_e1": _sr("sr_anynet_e1", FL, 60, lambda r, d: 33 - 0.05 * np.abs(d - best(r)))}
    row = judge(ev, n_boot=1000, only=["depth"], task="sr", measure=PSNR).row("depth")
    assert row.verdict == want, row.reason
    assert "blocks" in row.criterion


@pytest.mark.parametrize("shift,want", [(-0.3, HOLDS), (+0.3, CONTRA), (0.0, CANT)])
def test_sr_wide_activation_planted(shift, want):
    """b on SR: sr_anynet_wide against sr_anynet_e1. Wide activation hurting (PSNR lower) holds "e = 1 is best";
    helping (WDSR) contradicts it; the measured difference is in dB, the variant's PSNR minus the base's."""
    rng = np.random.default_rng(1)
    base = [Sample(f"sr_anynet_e1@{f:g}", f, {}, PSNR.loss(32 + rng.normal(0, 0.05, 30))) for f in FL[:2]]
    var = [Sample(f"sr_anynet_wide@{f:g}", f, {}, PSNR.loss(32 + shift + rng.normal(0, 0.05, 30))) for f in FL[:2]]
    row = judge({"sr_anynet_e1": base, "sr_anynet_wide": var}, n_boot=1000, only=["b"], task="sr",
                measure=PSNR).row("b")
    assert row.verdict == want, (shift, row.reason)
    assert "dB" in row.measured and row.value == pytest.approx(shift, abs=0.05)


@pytest.mark.parametrize("shift,want", [(+0.3, HOLDS), (-0.3, CONTRA)])
def test_sr_channel_attention_planted(shift, want):
    rng = np.random.default_rng(2)
    base = [Sample(f"sr_anynet_e1@{f:g}", f, {}, PSNR.loss(32 + rng.normal(0, 0.05, 30))) for f in FL[:2]]
    var = [Sample(f"sr_anynet_se@{f:g}", f, {}, PSNR.loss(32 + shift + rng.normal(0, 0.05, 30))) for f in FL[:2]]
    row = judge({"sr_anynet_e1": base, "sr_anynet_se": var}, n_boot=1000, only=["se"], task="sr",
                measure=PSNR).row("se")
    assert row.verdict == want and row.value == pytest.approx(shift, abs=0.05), row.reason


@pytest.mark.parametrize("slope,want", [(-0.02, HOLDS), (+0.02, CONTRA), (0.0, CANT)])
def test_sr_underfit_planted(slope, want):
    ev = {"sr_edsr": _sr("sr_edsr", FL[:2], 40, lambda r, d: 32 + slope * d, stages=1)}
    row = judge(ev, n_boot=1000, only=["underfit"], task="sr", measure=PSNR).row("underfit")
    assert row.verdict == want, (slope, row.reason)
    if want == HOLDS:
        assert "PSNR falls with depth" in row.reason


def test_a_finding_without_meaning_on_sr_is_not_applicable_with_why_never_a_verdict():
    """g, depthwise, resolution, inverted: no counterpart on SR; width growth where the SR sweeps have one stage."""
    ev = {"sr_edsr": _sr("sr_edsr", FL, 30, lambda r, d: 32 - 0.01 * d, stages=1)}
    r = judge(ev, n_boot=500, task="sr", measure=PSNR)
    for fid in ("g", "depthwise", "resolution", "inverted"):
        assert r.row(fid).verdict == NA and r.row(fid).reason, fid
    assert r.row("wm").verdict == NA and "one stage" in r.row("wm").reason
    # classification's own table is the paper's: the SR-only finding is not in it, its old rows are unchanged
    c = judge({}, n_boot=200)
    assert "underfit" not in [x.id for x in c.rows] and [x.id for x in c.rows] == [
        f.id for f in FINDINGS if not f.classify]
    assert all(x.verdict != NA for x in c.rows)


def test_every_finding_reads_on_every_task_and_the_docs_show_it():
    from pathlib import Path

    for f in FINDINGS:
        for t in ("sr", "denoise"):
            v = reading(f, t)
            assert isinstance(v, str) and v or v.claim and (v.missing or v.criterion), (f.id, t)
    docs = (Path(__file__).resolve().parents[1] / "docs" / "findings.md").read_text()
    for t in ("classify", "sr", "denoise"):
        assert criteria_table(t) in docs, t


@pytest.mark.parametrize("a,b,want", [
    (HOLDS, HOLDS, "holds in both"), (HOLDS, CONTRA, "holds in classification, contradicted in SR"),
    (CONTRA, CONTRA, "contradicted in both"), (CANT, HOLDS, "holds in SR; can't tell in classification"),
    (CONTRA, CANT, "contradicted in classification; can't tell in SR"), (CANT, CANT, "can't tell"),
    (HOLDS, NA, "not applicable to SR")])
def test_two_verdicts_read_together(a, b, want):
    assert together(a, b) == want


def test_compare_tasks_puts_both_columns_and_says_what_a_missing_task_needs():
    ev = {"sr_anynet_e1": _sr("sr_anynet_e1", FL, 60, lambda r, d: 33 - 0.05 * np.abs(d - 20))}
    cls = judge({}, n_boot=300, only=["depth", "g"])
    sr = judge(ev, n_boot=300, only=["depth", "g"], task="sr", measure=PSNR)
    c = compare_tasks(cls, sr)
    rows = {r["id"]: r for r in c.rows}
    assert rows["depth"]["classify"] == CANT and rows["depth"]["sr"] == HOLDS
    assert rows["depth"]["reading"] == "holds in SR; can't tell in classification"
    assert "sample regnet" in rows["depth"]["settle"]
    assert rows["g"]["sr"] == NA and rows["g"]["reading"] == "not applicable to SR"
    assert any("no classification study" in n and "dse findings --plan" in n for n in c.notes)


@pytest.fixture(scope="module")
def two_tasks(tmp_path_factory):
    """A store with a planted classification study (regnetx, best depth 20) and a planted SR x2 study (sr_anynet_e1,
    PSNR best at depth 20; sr_anynet_wide better by 0.3 dB: WDSR's finding), results set without training."""
    st = dse.Study(tmp_path_factory.mktemp("tasks") / "s.sqlite")
    rng = np.random.default_rng(0)
    st.sample_regimes("regnetx", "2MF,4MF,8MF", 30, resolution=28, stem="cifar", in_channels=1, num_classes=10)
    for label in ("2MF", "4MF", "8MF"):
        n = f"regnetx@{label}"
        st.set_results(n, {m.idx: 10 + abs(m.arch.depth - 20) + rng.normal(0, 0.2) for m in st.records(n)})
    for sp, shift in (("sr_anynet_e1", 0.0), ("sr_anynet_wide", 0.3)):
        st.sample_regimes(sp, "3G:5.9G,6G:12G", 20, scale=2)
        for label in ("5.9GF", "12GF"):
            n = f"{sp}@{label}"
            st.set_results(n, {m.idx: 32 + shift - 0.02 * abs(m.arch.depth - 20) + rng.normal(0, 0.02)
                               for m in st.records(n)})
    return st


def test_findings_on_a_store_of_two_tasks_side_by_side(two_tasks, tmp_path):
    st = two_tasks
    sr = st.findings(task="sr", n_boot=500)
    assert sr.task == "sr" and sr.row("b").verdict == CONTRA and "dB" in sr.row("b").measured
    assert st.findings(n_boot=500).row("depth").verdict == HOLDS  # classification's, as before
    code, out, err = cli(tmp_path, "findings", "--compare-tasks", "--db", str(st.path), "--n-boot", "300")
    assert code == 0, err
    assert "classification" in out and "SR" in out and "contradicted in SR" in out
    code, out, err = cli(tmp_path, "findings", "--compare-tasks", "--json", "--db", str(st.path), "--n-boot", "300")
    j = json.loads(out)
    assert j["tasks"] == ["classify", "sr"] and {r["id"] for r in j["rows"]} >= {"depth", "b", "underfit"}
    b = next(r for r in j["rows"] if r["id"] == "b")
    assert b["sr"] == CONTRA


def test_an_sr_store_at_two_scales_must_say_which(tmp_path):
    st = dse.Study(tmp_path / "s.sqlite")
    st.sample("sr_edsr", 3, "a", scale=2)
    st.sample("sr_edsr", 3, "b", scale=4, flops="0.5G:5G")
    for n in ("a", "b"):
        st.set_results(n, {m.idx: 30.0 + m.idx for m in st.records(n)})
    code, out, err = cli(tmp_path, "findings", "--task", "sr", "--db", str(st.path))
    assert code == 2 and "scale 2, 4" in err and "--scale" in err
    assert st.findings(task="sr", scale=4).rows  # one named: judged
    for args, word in ((("--task", "sr", "--sigma", "25"), "--sigma"), (("--sr-scale", "2"), "--sr-scale")):
        code, out, err = cli(tmp_path, "findings", *args, "--db", str(st.path))
        assert code == 2 and word in err and "applies to --task" in err, err
    for bad in ("nan", "inf", "-3"):
        code, out, err = cli(tmp_path, "findings", "--task", "denoise", "--sigma", bad, "--db", str(st.path))
        assert code == 2 and "--sigma must be a finite number > 0" in err, err


def test_the_sr_plan_names_the_sr_commands_and_times_them(tmp_path):
    """dse findings --plan --task sr: the SR spaces at the SR regimes, trained on photos at the plan's patch, the
    commands a newcomer runs (sample at --scale 2, train with --resolution as the patch, findings --task sr)."""
    from test_tasks_tool import _photos

    st = dse.Study(tmp_path / "s.sqlite")
    photos = _photos(tmp_path / "photos", n=5, size=(56, 56))
    p = st.findings_plan(task="sr", regimes="3G:5.9G", n=2, budget="20it", data_dir=str(photos))
    assert {r["space"] for r in p.rows} == {"sr_anynet_e1", "sr_anynet_wide"} and p.models == 4
    cmds = p.commands()
    assert cmds[0].startswith("dse sample --space sr_anynet_e1 --regimes 3G:5.9G -n 2 --scale 2")
    assert "--dataset photos --resolution 24" in cmds[-2] and cmds[-1] == "dse findings --task sr"
    assert p.source == "timing" and all(r["seconds_per_model"] > 0 for r in p.rows)
    code, out, err = cli(tmp_path, "findings", "--plan", "--task", "sr", "--spaces", "regnetx", "--no-probe")
    assert code == 2 and "regnetx" in err and "sr spaces" in err


def test_the_sr_run_samples_trains_and_judges_as_sr(tmp_path):
    """findings_run of a tiny SR plan (one regime, 2 models a space, 2 steps, photographs given as --data-dir):
    the SR sweeps sampled at x2, trained to PSNRs under the SR protocol (Adam, lr 1e-3), judged as SR findings;
    run again, nothing is trained twice."""
    from test_tasks_tool import _photos

    from dse.api.training import RunOptions

    st = dse.Study(tmp_path / "s.sqlite")
    plan = st.findings_plan(task="sr", regimes="3G:5.9G", n=2, budget="2it", probe=False)
    photos = _photos(tmp_path / "photos", n=5, size=(56, 56))
    r = st.findings_run(plan, run=RunOptions(data_dir=str(photos)))
    assert r.task == "sr" and r.row("g").verdict == NA and r.trained_seconds > 0
    recs = st.records("sr_anynet_e1@5.9GF") + st.records("sr_anynet_wide@5.9GF")
    assert len(recs) == 4 and all(m.status == "done" and 5 < m.error < 60 for m in recs)
    sweep = st.sweep("sr_anynet_wide@5.9GF")
    assert sweep.regime["scale"] == 2 and sweep.protocol["lr"] == 1e-3 and sweep.protocol["resolution"] == 24
    again = st.findings_plan(task="sr", regimes="3G:5.9G", n=2, budget="2it", probe=False)
    assert again.models == 0 and all(x["seconds_per_model"] > 0 for x in again.rows)
