"""dse speed: honest timings stored per model x device x mode x batch, and which complexity measure predicts them."""

import json
import sqlite3

import numpy as np
import pytest
from scipy import stats

import dse
from dse.models.arch import Arch
from dse.train.speed import time_model

SMALL = ["--resolution", "28", "--stem", "cifar", "--in-channels", "1", "--num-classes", "10"]
FAST = ["--batch", "8", "--repeat", "2"]


@pytest.fixture(scope="module")
def timed_once(tmp_path_factory):
    """A small RegNetX sweep at 28 px, timed in both modes on the CPU (once; each test gets a copy)."""
    d = tmp_path_factory.mktemp("speed")
    st = dse.Study(d / "dse.sqlite")
    st.sample("regnetx", n=6, flops="2M:8M", resolution=28, stem="cifar", in_channels=1, num_classes=10)
    return [r.to_json() for r in st.speed(mode="both", batch=8, repeat=2)], d


@pytest.fixture
def timed(timed_once, tmp_path, run):
    """(the JSON of `dse speed --mode both`, a Study on a fresh copy of its store in the test's folder)."""
    import shutil

    results, d = timed_once
    for f in d.glob("dse.sqlite*"):
        shutil.copy(f, tmp_path / f.name)
    return results, dse.Study(tmp_path / "dse.sqlite")


@pytest.mark.slow
def test_four_times_the_flops_measures_slower_on_a_cpu():
    from dse.models import complexity

    # the same shape family: every width and group width doubled (the group count stays) -> 4x the flops
    small = Arch((1, 1, 2, 2), (32, 64, 128, 256), (1, 1, 1, 1), (8, 16, 32, 64))
    big = Arch((1, 1, 2, 2), (64, 128, 256, 512), (1, 1, 1, 1), (16, 32, 64, 128))
    regime = {"resolution": 28, "stem": "cifar", "in_channels": 1, "num_classes": 10}
    cx = {k: complexity(a, resolution=28, stem="cifar", in_channels=1, num_classes=10)["flops"]
          for k, a in (("small", small), ("big", big))}
    assert 3.5 < cx["big"] / cx["small"] < 4.1
    for mode in ("infer", "train"):
        t = {"small": [], "big": []}
        for _ in range(3):  # interleaved, so a busy moment of the machine hits both
            for k, a in (("small", small), ("big", big)):
                t[k].append(time_model(a, regime, "cpu", mode, 32, 3, warmup=2)[0])
        assert min(t["big"]) > min(t["small"]), (mode, t)


def test_speed_stores_timings_and_reports_what_scipy_computes(timed, run):
    (infer, train), st = timed
    assert [r["mode"] for r in (infer, train)] == ["infer", "train"] and infer["n"] == train["n"] == 6
    assert set(infer) >= {"device", "mode", "batch", "n", "models", "pearson", "spearman", "fits"}
    assert set(infer["models"][0]) == {"sweep", "id", "ms", "spread", "flops", "params", "acts"}
    assert all(m["spread"] >= 0 for m in infer["models"])  # the repeats' IQR / median, stored with each timing
    assert infer["spread_median"] == pytest.approx(float(np.median([m["spread"] for m in infer["models"]])))
    assert "thread" in infer["device"] and infer["batch"] == 8
    ms = np.array([m["ms"] for m in infer["models"]])
    for k in ("flops", "params", "acts"):
        x = np.array([m[k] for m in infer["models"]], dtype=float)
        assert infer["pearson"][k] == pytest.approx(stats.pearsonr(x, ms)[0], abs=1e-12)
        assert infer["spearman"][k] == pytest.approx(stats.spearmanr(x, ms)[0], abs=1e-12)
    fits = {tuple(f["terms"]): f for f in infer["fits"]}
    f1 = np.array([m["flops"] for m in infer["models"]], dtype=float)
    a1 = np.array([m["acts"] for m in infer["models"]], dtype=float)
    slope, icpt = np.polyfit(f1, ms, 1)
    assert fits[("flops",)]["coef"][0] == pytest.approx(slope, rel=1e-6)
    assert fits[("flops",)]["intercept"] == pytest.approx(icpt, rel=1e-6, abs=1e-9)
    X = np.column_stack([f1, a1, np.ones(6)])
    beta = np.linalg.solve(X.T @ X, X.T @ ms)
    assert fits[("flops", "acts")]["coef"] == pytest.approx(list(beta[:2]), rel=1e-5)
    r2 = 1 - ((ms - X @ beta) ** 2).sum() / ((ms - ms.mean()) ** 2).sum()
    assert fits[("flops", "acts")]["r2"] == pytest.approx(r2, abs=1e-9)
    # stored per model x device x mode x batch; a second run measures nothing, --force measures again
    con = sqlite3.connect(st.path)
    assert con.execute("SELECT COUNT(*) FROM speeds").fetchone()[0] == 12
    before = con.execute("SELECT measured, ms FROM speeds ORDER BY idx, mode").fetchall()
    seen = []
    st.speed(mode="both", batch=8, repeat=2, events=lambda *a: seen.append(a))
    assert seen == [] and con.execute("SELECT measured, ms FROM speeds ORDER BY idx, mode").fetchall() == before
    st.speed(mode="infer", batch=8, repeat=2, force=True, events=lambda *a: seen.append(a))
    assert len(seen) == 6 and con.execute("SELECT COUNT(*) FROM speeds").fetchone()[0] == 12
    st.speed(mode="infer", batch=4, repeat=2, events=lambda *a: seen.append(a))  # another batch: new rows
    assert con.execute("SELECT COUNT(*) FROM speeds").fetchone()[0] == 18
    code, out, err = run("plot", "speed", "--mode", "train", "--plot", "s.png")
    assert code == 0 and "wrote s.png" in out, err
    code, out, err = run("speed", "--mode", "both", *FAST, "--json")  # nothing to measure: the stored report
    assert code == 0 and json.loads(out)[1] == train, err


def test_ctrl_c_keeps_what_was_measured(run, tmp_path):
    assert run("sample", "--space", "regnetx", "-n", "5", "--flops", "2M:8M", *SMALL)[0] == 0
    st = dse.Study(tmp_path / "dse.sqlite")
    seen = []

    def stop_after_two(*a):
        seen.append(a)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        st.speed(batch=8, repeat=2, events=stop_after_two)
    con = sqlite3.connect(st.path)
    assert con.execute("SELECT COUNT(*) FROM speeds").fetchone()[0] == 2
    st.speed(batch=8, repeat=2, events=lambda *a: seen.append(a))
    assert len(seen) == 5 and con.execute("SELECT COUNT(*) FROM speeds").fetchone()[0] == 5


def test_timings_travel_through_export_import_and_the_analyses(timed, run, tmp_path):
    (infer, train), st = timed
    con = sqlite3.connect(st.path)
    con.execute("UPDATE models SET error = 30 + idx, status = 'done'")
    con.commit()
    st.export(tmp_path / "t.csv")
    import csv

    rows = list(csv.DictReader(open(tmp_path / "t.csv")))
    assert {"infer_ms", "train_ms", "speed_device", "speed_batch", "images_per_s"} <= set(rows[0])
    by_id = {m["id"]: m["ms"] for m in infer["models"]}
    assert [float(r["infer_ms"]) for r in rows] == [by_id[int(r["id"])] for r in rows]
    assert st.import_table(tmp_path / "t.csv", "back", resolution=28, stem="cifar", in_channels=1, num_classes=10) == 6
    back = st.speed_report("back", mode="infer")
    assert [m["ms"] for m in back.models] == [m["ms"] for m in infer["models"]]
    code, out, err = run("bootstrap", "--param", "infer_ms", "--sweep", "regnetx", "--n-boot", "200", "--json")
    assert code == 0, err
    assert json.loads(out)[0]["median"] in set(by_id.values())
    code, out, err = run("edf", "--compare", "regnetx", "back", "--normalize", "train_ms", "--bins", "2")
    assert code == 0 and "normalised by train_ms" in out, err


def test_sampling_under_a_time_cap_uses_the_stored_fit(timed, run):
    (infer, _), st = timed
    fit = next(f for f in infer["fits"] if f["terms"] == ["flops", "acts"])
    cap = float(np.median([m["ms"] for m in infer["models"]]))
    code, _, err = run("sample", "--space", "regnetx", "-n", "5", "--flops", "2M:8M", *SMALL, "--sweep", "fast",
                       "--max-ms", cap, "--speed-batch", "8")
    assert code == 0, err
    rec = st.sweep("fast")
    assert rec.regime["ms_cap"]["max_ms"] == cap and rec.regime["ms_cap"]["coef"] == pytest.approx(fit["coef"])
    for m in st.records("fast"):
        assert fit["coef"][0] * m.flops + fit["coef"][1] * m.acts + fit["intercept"] <= cap + 1e-9
    code, out, err = run("speed", "--sweep", "fast", *FAST)
    assert code == 0 and "sampled with --max-ms" in out and "% (median)" in out, err


def test_speed_from_training_throughput(timed, run):
    _, st = timed
    con = sqlite3.connect(st.path)
    con.execute("UPDATE sweeps SET protocol = ?", (json.dumps({"batch_size": 128}),))
    con.execute("UPDATE models SET images_per_s = 1000 + 100 * idx, device = 'cpu', status = 'done', error = 30")
    con.commit()
    code, out, err = run("speed", "--from-training", "--json")
    assert code == 0, err
    j = json.loads(out)
    assert j["source"] == "training" and j["mode"] == "train" and j["batch"] == 128
    assert [m["ms"] for m in j["models"]] == pytest.approx([128_000 / (1000 + 100 * i) for i in range(6)])


def test_speed_bad_input(run):
    assert run("sample", "--space", "regnetx", "-n", "3", "--flops", "2M:8M", *SMALL)[0] == 0
    for args, words in ((["speed", "--device", "cuda"], "CUDA is not available"),
                        (["speed", "--batch", "0"], "--batch must be an integer >= 1 and <= 65536"),
                        (["speed", "--batch", "10000000"],
                         "--batch must be an integer >= 1 and <= 65536, got 10000000"),
                        (["speed", "--repeat", "0"], "--repeat must be an integer >= 1"),
                        (["sample", "--space", "regnetx", "-n", "3", "--max-ms", "inf", "--sweep", "f"],
                         "--max-ms must be a finite number > 0"),
                        (["speed", "--sweep", "nope"], "unknown sweep 'nope'"),
                        (["plot", "speed"], "holds no timings; run dse speed first"),
                        (["sample", "--space", "regnetx", "-n", "3", "--max-ms", "5", "--sweep", "f"],
                         "run dse speed"),
                        (["sample", "--space", "regnetx", "-n", "3", "--max-ms", "-1", "--sweep", "f"],
                         "--max-ms must be a finite number > 0")):
        code, _, err = run(*args)
        assert code == 2 and words in err and "Traceback" not in err, (args, err)
