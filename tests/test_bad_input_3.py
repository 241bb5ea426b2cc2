"""Bad input, round three (issues 28 and 32): the newer commands and the older ones' remainder. Each failing case
exits 2 (or raises ParamError/DseError in the API) with a message naming what is wrong and what is allowed, no
traceback, no hang, and the store unchanged (a hash of every table's rows)."""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time

import numpy as np
import pytest

import dse
from conftest import copy_study, trained_pair
from dse.errors import ParamError
from test_bad_input import _digest

SAMPLE = ["--flops", "1M:3M", "--resolution", "16", "--stem", "cifar", "--in-channels", "3", "--num-classes", "10"]
SYN = ["--dataset", "synthetic", "--resolution", "16", "--train-size", "64", "--test-size", "32", "--batch-size", "32",
       "--budget", "1ep", "--device", "cpu", "--plain"]


@pytest.fixture(scope="module")
def pilots(tmp_path_factory):
    """Sweeps a and b of 6 models each, trained 1 epoch on synthetic data (conftest.trained_pair)."""
    return trained_pair(tmp_path_factory.mktemp("pilots"))


@pytest.fixture
def store(pilots, tmp_path):
    return copy_study(pilots, tmp_path) / "dse.sqlite"


def _fails(run, store, args, *fragments):
    before = _digest(store)
    code, out, err = run(*args)
    assert code == 2, (out, err)
    assert "Traceback" not in err and all(f in err for f in fragments), err
    assert _digest(store) == before


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
def test_compare_checks_every_option_before_the_first_write(run, store, case):
    _fails(run, store, ["compare", "a", "b", "--until-decided", *case[0]], case[1])


def test_compare_decides_within_max_and_with_failed_models(run, store):
    code, out, err = run("compare", "a", "b", "--until-decided", "--step", "5", "--max", "5", "--json")
    assert code == 0, err
    d = json.loads(out.strip().splitlines()[-1])
    assert d["n"] == {"a": 5, "b": 5} and d["looks"][-1]["n"] == 5 and d["decision"] in ("different", "no difference")
    con = sqlite3.connect(store)  # two models of a failed: the sweep can never hold 6 trained ones
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
def test_power_refuses_unbounded_or_meaningless_options(run, store, case):
    t = time.monotonic()
    _fails(run, store, ["power", "--compare", "a", "b", *case[0]], case[1])
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


def test_budget_check_advice_respects_the_verdicts_minimum(run, store):
    _fails(run, store, ["budget-check", "--sweep", "a", "--models", "20", "--device", "cpu"],
           "a verdict needs 10 or more per sweep", "--models 6 for the rank statistics without a verdict")


def test_a_damaged_stored_budget_is_said_as_such(run, store):
    con = sqlite3.connect(store)
    rows = con.execute("SELECT name, protocol FROM sweeps WHERE name = 'a'").fetchall()
    p = json.loads(rows[0][1])
    p["budget"] = "abc"
    con.execute("UPDATE sweeps SET protocol = ? WHERE name = 'a'", (json.dumps(p),))
    con.commit()
    con.close()
    for args in (["budget-check", "--sweep", "a", "--models", "3", "--device", "cpu"],
                 ["compare", "a", "b", "--until-decided"]):
        before = _digest(store)
        code, _, err = run(*args)
        assert code == 2 and "damaged: sweep 'a': column protocol holds budget 'abc'" in err, err
        assert "--budget" not in err
        assert _digest(store) == before


# ---- the API of the new methods: ParamError naming the parameter, nothing written ----
API = [
    ("power", dict(sweeps=["a", "b"], n=[25.7]), "n"),
    ("power", dict(sweeps=["a", "b"], metric="worst"), "metric"),
    ("power", dict(sweeps=["a", "b"], reps="100"), "reps"),
    ("power", dict(sweeps=["a", "b"], sequential=5), "sequential"),
    ("power", dict(sweeps=["a", "b"], alpha=True), "alpha"),
    ("compare", dict(sweeps=["a", "b"], metric="worst"), "metric"),
    ("compare", dict(sweeps=["a", "b"], step="5"), "step"),
    ("compare", dict(sweeps=["a", "b"], protocol=5), "protocol"),
    ("compare", dict(sweeps=["a", "b"], protocol={"budgt": "2ep"}), "protocol"),
    ("compare", dict(sweeps=["a", "b"], run="cpu"), "run"),
    ("compare", dict(sweeps=["a", "b"], progress=5), "progress"),
    ("compare", dict(sweeps=["a"]), "sweeps"),
    ("export_pycls", dict(folder=5), "folder"),
    ("export_pycls", dict(folder="x", top="3"), "top"),
    ("export_pycls", dict(folder="x", metric=[1]), "metric"),
    ("export_pycls", dict(folder="x", skip_unexpressible="yes"), "skip_unexpressible"),
    ("export_pycls", dict(folder="x", base_config=5), "base_config"),
    ("import_pycls", dict(path=5, sweep="x"), "path"),
    ("import_pycls", dict(path="x.json", sweep=5), "sweep"),
    ("budget_check", dict(sweeps=["a"], models="3"), "models"),
    ("budget_check", dict(sweeps=["a"], metric=[1]), "metric"),
    ("budget_check", dict(sweeps=["a"], models=3, factors=b"x"), "factors"),
    ("budget_check", dict(sweeps=["a"], models=3, factors=[True]), "factors"),
    ("budget_check", dict(sweeps=["a"], device=0), "device"),
    ("budget_check", dict(sweeps=["a"], address=5, executor="ray"), "address"),
    ("budget_check", dict(sweeps=["a"], progress=5), "progress"),
    ("budget_check", dict(sweeps=["a"], on_start="x"), "on_start"),
    ("set_results", dict(sweep="a", errors={0: True}), "errors"),
    ("set_results", dict(sweep="a", errors={0: 30.0}, best=5), "best"),
    ("set_results", dict(sweep="a", errors={0: float("nan")}), "errors"),
    ("edf", dict(sweeps=["a", "b"], metric=[1]), "metric"),
    ("edf", dict(sweeps=["a", "b"], thresholds=5), "thresholds"),
]


@pytest.mark.parametrize("case", API, ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(API)])
def test_the_new_methods_name_the_parameter(store, case):
    method, kw, param = case
    before = _digest(store)
    with pytest.raises(ParamError) as e:
        getattr(dse.Study(store), method)(**kw)
    assert param in e.value.params, str(e.value)
    assert _digest(store) == before


# ---- a Ray address that is not a Ray head (issue 32) ----
def _fake_server(answer: bytes | None):
    """An HTTP/2 server on 127.0.0.1 that sends its SETTINGS, then ``answer`` (None: nothing, it hangs)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    stop = threading.Event()

    def serve():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                c, _ = srv.accept()
            except OSError:
                continue
            c.sendall(b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")  # SETTINGS
            if answer:
                c.sendall(answer)
            time.sleep(0.1 if answer else 30)
            c.close()

    threading.Thread(target=serve, daemon=True).start()
    return srv.getsockname()[1], stop


def _trailers(stream: int, status: int) -> bytes:
    block = b"\x00\x0bgrpc-status" + bytes([len(str(status))]) + str(status).encode()
    return len(block).to_bytes(3, "big") + b"\x01\x05" + stream.to_bytes(4, "big") + block


@pytest.mark.parametrize("kind", ["unimplemented", "auth-everywhere", "silent"])
def test_an_address_that_is_not_a_ray_head_is_refused_in_time(run, store, kind):
    answer = {"unimplemented": _trailers(1, 12) + _trailers(3, 12), "auth-everywhere": _trailers(1, 16) + _trailers(3,
                                                                                                                    16),
              "silent": None}[kind]
    port, stop = _fake_server(answer)
    try:
        t = time.monotonic()
        for args in (["train", "--sweep", "a", *SYN, "--executor", "ray", "--address", f"127.0.0.1:{port}"],
                     ["budget-check", "--sweep", "a", "--models", "3", "--executor", "ray", "--address",
                      f"127.0.0.1:{port}"]):
            _fails(run, store, args, "no Ray head answers there")
        assert time.monotonic() - t < 15
    finally:
        stop.set()


# ---- dse import: values it stores are checked, ids kept (issue 32) ----
def _table(tmp_path, rows, extra_cols=""):
    head = "id,d1,d2,w1,w2,b1,b2,g1,g2,error" + extra_cols
    (tmp_path / "t.csv").write_text(head + "\n" + "\n".join(rows) + "\n")
    return tmp_path / "t.csv"


IMPORT_BAD = [
    (",w0,wa,wm", "1,1,2,16,32,1,1,8,8,30,-8,20,2.5", "column w0 = -8 is not a RegNet w0 (it must be > 0)"),
    (",w0,wa,wm", "1,1,2,16,32,1,1,8,8,30,24,-1,2.5", "column wa = -1 is not a RegNet wa (it must be >= 0)"),
    (",w0,wa,wm", "1,1,2,16,32,1,1,8,8,30,24,20,0.5", "column wm = 0.5 is not a RegNet wm (it must be > 1)"),
    (",e_fit,fit_w0,fit_wa,fit_wm", "1,1,2,16,32,1,1,8,8,30,-0.5,24,20,2.5", "column e_fit = -0.5 is negative"),
    (",e_fit,fit_w0,fit_wa,fit_wm", "1,1,2,16,32,1,1,8,8,30,0.1,-24,20,2.5", "column fit_w0 = -24 is not a RegNet w0"),
    (",e_fit,fit_w0,fit_wa,fit_wm", "1,1,2,16,32,1,1,8,8,30,0.1,,,", "fit_w0, fit_wa, fit_wm are empty"),
    ("", "-1,1,2,16,32,1,1,8,8,30", "column id = -1 is not a model index"),
]


@pytest.mark.parametrize("case", IMPORT_BAD, ids=[c[2][:40] for c in IMPORT_BAD])
def test_import_checks_what_it_stores(run, store, tmp_path, case):
    cols, row, words = case
    p = _table(tmp_path, [row], cols)
    _fails(run, store, ["import", str(p), "--sweep", "imp", "--resolution", "16", "--stem", "cifar",
                        "--num-classes", "10"], words, "line 2")


def test_import_keeps_the_tables_ids_and_refuses_repeats(run, store, tmp_path):
    rows = [f"{i},1,2,16,{32 + 8 * k},1,1,8,8,{30 + k}" for k, i in enumerate((1, 2, 4))]
    p = _table(tmp_path, rows)
    code, _, err = run("import", str(p), "--sweep", "imp", "--resolution", "16", "--stem", "cifar", "--num-classes",
                       "10")
    assert code == 0, err
    assert [m.idx for m in dse.Study(store).records("imp")] == [1, 2, 4]
    out = tmp_path / "back.csv"
    assert run("export", "--sweep", "imp", "-o", str(out))[0] == 0
    assert [r.split(",")[1] for r in out.read_text().splitlines()[1:]] == ["1", "2", "4"]
    _fails(run, store, ["import", str(_table(tmp_path, rows[:1] + rows[:1])), "--sweep", "imp2", "--resolution", "16",
                        "--stem", "cifar", "--num-classes", "10"], "column id = 1 repeats line 2")


# ---- read-only stores, long names, damaged rows, quoting, names (issue 32) ----
def test_writing_commands_on_a_read_only_store_say_read_only(tmp_path, store):
    import os
    import shutil
    import subprocess
    import tempfile

    if os.geteuid() == 0 and not shutil.which("setpriv"):
        pytest.skip("root without setpriv: cannot act as a user without write permission")
    pre = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
    d = tempfile.mkdtemp(dir="/tmp")
    try:
        shutil.copy(store, f"{d}/dse.sqlite")
        os.chmod(f"{d}/dse.sqlite", 0o444)
        os.chmod(d, 0o555)
        exe = str(pathlib_exe())
        for args in (["sample", "--space", "regnetx", "-n", "9", *SAMPLE, "--sweep", "a"],
                     ["budget-check", "--sweep", "a", "--models", "3", "--device", "cpu"]):
            p = subprocess.run([*pre, exe, *args], capture_output=True, text=True, cwd=d,
                               env={k: v for k, v in os.environ.items() if k != "DSE_DB"})
            assert p.returncode == 2 and "is read-only and this command writes to the store" in p.stderr, p.stderr
            assert "Traceback" not in p.stderr
    finally:
        os.chmod(d, 0o755)
        shutil.rmtree(d, ignore_errors=True)


def pathlib_exe():
    import sys
    from pathlib import Path

    return Path(sys.executable).with_name("dse")


def test_a_very_long_db_name_and_damaged_sweeps(run, store):
    code, _, err = run("sample", "--space", "regnetx", "-n", "3", *SAMPLE, "--db", "x" * 300 + ".sqlite")
    assert code == 2 and "File name too long" in err and "Traceback" not in err, err
    con = sqlite3.connect(store)
    con.execute("UPDATE sweeps SET source = 'weird' WHERE name = 'a'")
    con.commit()
    con.close()
    _fails(run, store, ["status"], "damaged: sweep 'a': column source is 'weird'; a sweep is sampled, imported, budget")


def test_refine_writes_a_next_command_that_runs(run, store, tmp_path):
    import shlex

    st = dse.Study(store)
    st.sample("anynet_a", n=30, flops="1M:3M", resolution=16, stem="cifar", num_classes=10, sweep="r", seed=3)
    st.set_results("r", {m.idx: 20.0 + m.arch.depth + 0.01 * m.idx for m in st.records("r")})
    code, out, err = run("refine", "--sweep", "r", "--out", "my refined.toml")
    assert code == 0, err
    header = [x for x in (tmp_path / "my refined.toml").read_text().splitlines() if "Next:" in x][0]
    cmd = header.split("Next: ", 1)[1].split(";")[0]
    assert shlex.split(cmd)[:4] == ["dse", "sample", "--space", "my refined.toml"], cmd
    assert cmd in out


def test_regime_prefix_makes_names_within_the_limit(run, store):
    _fails(run, store, ["sample", "--space", "regnetx", "--regimes", "2MF,4MF", "-n", "2", "--resolution", "16",
                        "--stem", "cifar", "--sweep", "p" * 97], "names hold at most 100: use a prefix of at most 96")
    code, _, err = run("sample", "--space", "regnetx", "--regimes", "2MF,4MF", "-n", "2", "--resolution", "16",
                       "--stem", "cifar", "--sweep", "p" * 96)
    assert code == 0, err


def test_speed_report_and_plot_axes_are_checked(store):
    st = dse.Study(store)
    for kw, param in ((dict(batch="x"), "batch"), (dict(batch=8.9), "batch"), (dict(mode="both"), "mode")):
        with pytest.raises(ParamError) as e:
            st.speed_report(**kw)
        assert e.value.param == param
    r = st.edf(["a", "b"])
    for ax in (5, "x", [1, 2]):
        with pytest.raises(ParamError, match="ax must be a matplotlib Axes"):
            r.plot(ax=ax)
