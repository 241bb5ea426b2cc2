"""Bad input: each case is a command, what it finds on disk first (a setup), and a fragment of the
message; it must exit 2 without a traceback, and the store's content (a hash of every table's rows) must be
unchanged after it."""

import json
import os
import socket
import sqlite3
import threading
import time
from pathlib import Path

import pytest

import dse
from conftest import PAIR_SAMPLE, PAIR_TRAIN, cli, copy_study, fails
from conftest import digest as _digest
from dse.errors import ParamError

SAMPLE = ["--flops", "1M:3M", "--resolution", "28", "--stem", "cifar", "--in-channels", "1", "--num-classes", "10"]
SYN = ["--batch-size", "32", "--dataset", "synthetic", "--resolution", "16", "--train-size", "64", "--test-size", "16"]

CASES = [
    (["sample", "--space", "regnetx", "-n", "1000000000", *SAMPLE, "--sweep", "big"], "from 1 to 1,000,000"),
    (["sample", "--space", "regnetx", "-n", "3", "--seed", "9223372036854775808", *SAMPLE, "--sweep", "s2"],
     "--seed must be an integer from 0 to 2^63-1"),
    (["sample", "--space", "regnetx", "-n", "3", "--max-params", "inf", *SAMPLE, "--sweep", "s3"], "--max-params"),
    (["train", *SYN, "--lr", "inf"], "--lr must be a finite number > 0"),
    (["train", *SYN, "--momentum", "2"], "--momentum must be a finite number >= 0 and < 1"),
    (["train", *SYN, "--budget", "10000000000it"], "at most 1,000,000,000 steps"),
    (["train", *SYN, "--workers-per-gpu", "64", "--device", "cpu"], "--workers-per-gpu must be from 1 to"),
    (["train", *SYN, "--seed", "9223372036854775808"], "--seed must be an integer from 0 to 2^63-1"),
    (["budget-check", "--sweep", "s", "--factors", "inf"], "each factor must be > 1"),
    (["plot", "rank", "--x", "lr", "--good", "nan"], "--good"),
    # output paths: checked before any work
    (["export", "-o", "out.csv"], "-o out.csv is a folder", "folder out.csv"),
    (["export", "-o", "f.csv/x.csv"], "f.csv is a file, not a folder", "file f.csv"),
    (["export", "-o", "nope/x.csv"], "folder nope does not exist"),
    (["export", "-o", "x.xlsx"], "unknown table type '.xlsx'; use a .csv or .parquet"),
    (["plot", "complexity", "--plot", "a" * 300 + ".png"], "cannot write there (File name too long)"),
    (["sample", "--space", "regnetx", "-n", "2", *SAMPLE, "--db", "f.csv/x.sqlite"],
     "cannot create store f.csv/x.sqlite: f.csv is a file, not a folder", "file f.csv"),
    (["edf", "s", "s", "--plot", "p.png"], "--plot p.png is a folder", "folder p.png"),
    (["report", "-o", "f.csv/r.html"], "f.csv is a file, not a folder", "file f.csv"),
    (["report", "-o", "r.html"], "-o r.html is a folder", "folder r.html"),
    (["refine", "--sweep", "s", "--out", "nope/x.toml"], "folder nope does not exist"),
    (["plot", "complexity", "--plot", "f.csv/c.png"], "f.csv is a file, not a folder", "file f.csv"),
    # stores that still open but are damaged; the message says what can still be saved
    (["status"], "damaged: its table epochs is missing. Sweeps that still read whole: s", "sql DROP TABLE epochs"),
    (["export", "-o", "x.csv", "--epochs"], "damaged (no such table: epochs)", "sql DROP TABLE epochs"),
    (["fit", "--sweep", "s"], "damaged: sweep 's', model 1: column arch does not decode",
     "sql UPDATE models SET arch = '{x'"
     " WHERE idx = 1"),
    (["export", "-o", "x.csv"], "column extra does not decode", "sql UPDATE models SET extra = '[1' WHERE idx = 0"),
    (["status"], "sweep 's' has an error that is not a number",
     "sql UPDATE models SET status = 'done', error = 'abc' WHERE idx = 2"),
    (["export", "-o", "x.csv"], "column error holds 'abc', not a number",
     "sql UPDATE models SET status = 'done', error = 'abc' WHERE idx = 2"),
    (["status"], "with status 'weird'; known: pending", "sql UPDATE models SET status = 'weird' WHERE idx = 0"),
    (["status"], "sweep 's': column regime does not decode", "sql UPDATE sweeps SET regime = '[1'"),
    (["status"], "column regime has no flops window", "sql UPDATE sweeps SET regime = '{\"a\": 1}'"),
    (["export", "-o", "x.csv"], "column error holds 500.0, not a top-1 error",
     "sql UPDATE models SET status = 'done', error = 500 WHERE idx = 1"),
    (["export", "-o", "x.csv"], "column flops holds -5", "sql UPDATE models SET flops = -5 WHERE idx = 1"),
    (["plot", "curves", "--sweep", "s"], "epoch 1: column test_error holds 'abc'",
     "sql UPDATE models SET status = 'done', error = 50, best_error = 50, epochs = 1; INSERT INTO epochs VALUES "
     "('s', 0, 1, 1.0, 50, 'abc', 0.1, 1, 100)"),
    (["sample", "--space", "regnetx", "-n", "2", *SAMPLE, "--max-ms", "5"], "a stored speed fit does not decode",
     "sql INSERT INTO speed_fits VALUES ('cpu', 'infer', 64, '{bad')"),
    (["status"], "its table models is missing", "sql DROP TABLE epochs; DROP TABLE speeds; DROP TABLE models"),
    # space files
    (["sample", "--space", "bad.toml", "-n", "2", *SAMPLE], "not a text file in UTF-8", "bytes bad.toml"),
    (["sample", "--space", "/dev/zero", "-n", "2", *SAMPLE], "not a regular file"),
    (["sample", "--space", "deep.toml", "-n", "2", *SAMPLE], "nested too deeply", "deep deep.toml"),
    (["sample", "--space", "big.toml", "-n", "2", *SAMPLE], "larger than 1 MiB", "big big.toml"),
    (["sample", "--space", "sp.toml", "-n", "2", *SAMPLE], "is a folder", "folder sp.toml"),
    (["sample", "--space", "p.toml", "-n", "2", *SAMPLE], "not a regular file", "fifo p.toml"),
    (["spaces", "--space", "bad.toml"], "not a text file in UTF-8", "bytes bad.toml"),
    (["sample", "--space", "tiny.toml", "-n", "10", *SAMPLE], "holds at most 4 distinct models", "tiny tiny.toml"),
    # tables to import
    (["import", "x.parquet", "--sweep", "i"], "not a readable Parquet file", "bytes x.parquet"),
    (["import", "x.xlsx", "--sweep", "i"], "unknown table type '.xlsx'", "bytes x.xlsx"),
    (["import", "p.csv", "--sweep", "i"], "not a regular file", "fifo p.csv"),
    (["import", "/dev/zero", "--sweep", "i"], "not a regular file"),
    # names
    *[(["sample", "--space", "regnetx", "-n", "2", *SAMPLE, "--sweep", name], "is not a valid sweep name")
      for name in ("", " ", "a\nb", "a\tb", "-x", "x" * 100_000, "a/b")],
    (["import", "x.csv", "--sweep", "a\nb"], "is not a valid sweep name", "bytes x.csv"),
    # networks too large to build or count
    (["model", "regnet", "--depth", "100000000", "--w0", "24", "--wa", "24", "--wm", "2.5", "--group-width", "8"],
     "--depth"),
    (["model", "anynet", "--depths", "1024,1024,1024,1024", "--widths", "65536,65536,65536,65536",
      "--bottlenecks", "1,1,1,1", "--group-widths", "8,8,8,8", "--resolution", "4096"], "too large to count"),
    (["model", "anynet", "--depths", "2000,1", "--widths", "8,8", "--bottlenecks", "1,1", "--group-widths", "8,8"],
     "too large to build"),
    (["model", "regnet", "--depth", "13", "--w0", "24", "--wa", "24", "--wm", "2.5", "--group-width", "8",
      "--num-classes", "100000000000000"], "--num-classes"),
    (["sample", "--space", "regnetx", "-n", "2", "--num-classes", "10000000000000000000000"], "--num-classes"),
    (["train", *SYN[:-4], "--train-size", "900000000"], "more than half of this machine's"),
    # refine against a space that does not describe the sweep
    (["refine", "--sweep", "s", "--space", "anynet_a"], "has family 'anynet' but sweep 's'", "errors"),
    (["refine", "--sweep", "s", "--space", "regnety"], "has block 'y' but sweep 's'", "errors"),
    (["refine", "--sweep", "s", "--space", "r3.toml"], "has stages 3 but sweep 's'", "errors; stages3 r3.toml"),
    # numbers of the analyses and the model command
    (["edf", "s", "t", "--thresholds", "-1"], "--thresholds must be a finite number >= 0 and <= 100", "sample t"),
    (["edf", "s", "t", "--range", "1M:2M"], "--range sets the bins of a normalised comparison", "sample t"),
    (["model", "regnet", "--depth", "13", "--w0", "24", "--wa", "24", "--wm", "inf", "--group-width", "8"],
     "--wm a finite number > 1"),
    (["model", "anynet", "--depths", "1,1", "--widths", "8,8", "--bottlenecks", "1e9,1", "--group-widths", "8,8"],
     "bottleneck ratio b must be from 1/64"),
    (["status", "--sweep", ""], "unknown sweep ''"),
    (["import", "x.csv", "--sweep", "i"], "values but the header names", "longrow x.csv"),
    # a stored protocol is reset only when nothing trained under it is lost silently
    (["train", *SYN, "--reset-protocol"], "Add --discard-results", "errors"),
    (["train", *SYN, "--discard-results"], "--discard-results goes with --reset-protocol"),
]

TINY = """name = "tiny"
family = "anynet"
stages = 2
[params.d]
dist = "choice"
values = [1]
[params.w]
dist = "choice"
values = [8, 16]
[params.b]
dist = "choice"
values = [1]
[params.g]
dist = "choice"
values = [8]
"""


def _setup(tmp_path, db, spec: str) -> None:
    """What a case finds on disk: 'folder F', 'file F', 'bytes F' (not UTF-8), 'deep F', 'big F', 'fifo F',
    'tiny F' (a 4-model space), 'stages3 F' (regnetx with 3 stages), 'errors' (every model done with an
    error), 'sample NAME' (a second sweep), 'longrow F' (an export with a row longer than its header), 'sql
    STATEMENTS' (damage done to the store); several joined by '; ' unless sql."""
    from pathlib import Path

    steps = [spec] if spec.startswith("sql ") else spec.split("; ")
    for step in steps:
        kind, _, name = step.partition(" ")
        f = tmp_path / name
        if kind == "folder":
            f.mkdir()
        elif kind == "file":
            f.write_text("x")
        elif kind == "bytes":
            f.write_bytes(bytes(range(128, 256)) * 8)
        elif kind == "deep":
            f.write_text("a = " + "[" * 5000 + "]" * 5000)
        elif kind == "big":
            f.write_text("# x\n" * 300_000)
        elif kind == "fifo":
            os.mkfifo(f)
        elif kind == "sample":
            from dse import Study

            Study(db).sample("regnetx", 3, name, flops="1M:3M", resolution=28, stem="cifar", in_channels=1,
                             num_classes=10)
        elif kind == "longrow":  # an exported table whose first row has two cells more than the header
            from dse import Study

            Study(db).export(f)
            lines = f.read_text().splitlines()
            f.write_text("\n".join([lines[0], lines[1] + ",1,2", *lines[2:]]) + "\n")
        elif kind == "tiny":
            f.write_text(TINY)
        elif kind == "stages3":
            root = Path(__file__).resolve().parents[1]
            f.write_text((root / "spaces" / "regnetx.toml").read_text().replace("stages = 4", "stages = 3"))
        elif kind in ("errors", "sql"):
            con = sqlite3.connect(db)
            con.execute("PRAGMA foreign_keys = OFF")
            con.executescript(name if kind == "sql" else
                              "UPDATE models SET status = 'done', error = 10 + idx, best_error = 10 + idx")
            con.commit()
            con.close()


@pytest.fixture(scope="module")
def sampled(tmp_path_factory):
    d = tmp_path_factory.mktemp("sampled")
    code, _, err = cli(d, "sample", "--space", "regnetx", "-n", "3", *SAMPLE, "--sweep", "s")
    assert code == 0, err
    return d


@pytest.fixture
def store(sampled, run, tmp_path):
    """A store with one sampled sweep 's' (built once, copied for each test: the tests damage it)."""
    return copy_study(sampled, tmp_path) / "dse.sqlite"


@pytest.mark.parametrize("case", CASES, ids=[f"{i}-{c[0][0]}" for i, c in enumerate(CASES)])
def test_bad_input_exits_2_and_changes_nothing(run, store, tmp_path, case):
    args, fragment, setup = (*case, None)[:3]
    if setup:
        _setup(tmp_path, store, setup)
    _fails_and_changes_nothing(run, store, args, fragment)


def _fails_and_changes_nothing(run, store, args, fragment):
    """The command exits 2 with the fragment in one paragraph (no traceback), and every table's rows are as before."""
    before = _digest(store)
    code, out, err = run(*args)
    assert code == 2, (out, err)
    assert fragment in err and "Traceback" not in err, err
    assert _digest(store) == before


def test_read_only_commands_never_make_a_store(run, tmp_path):
    (tmp_path / "e.sqlite").touch()
    for args in (["status"], ["edf", "a", "b"], ["export", "-o", "x.csv"], ["report", "-o", "r.html"]):
        code, _, err = run(*args, "--db", "e.sqlite")
        assert code == 2 and "e.sqlite is an empty file, not a dse store" in err, (args, err)
    assert (tmp_path / "e.sqlite").stat().st_size == 0 and not (tmp_path / "x.csv").exists()


def test_locked_store_waits_saying_so_then_exits_2(run, store, monkeypatch):
    import dse.store.db as db

    monkeypatch.setattr(db, "WAIT_NOTICE_S", 0.2)
    monkeypatch.setenv("DSE_LOCK_TIMEOUT", "1")
    held, release = threading.Event(), threading.Event()

    def writer():  # another process's long write transaction
        con = sqlite3.connect(store, isolation_level=None)
        con.execute("BEGIN IMMEDIATE")
        held.set()
        release.wait(10)
        con.execute("ROLLBACK")
        con.close()

    t = threading.Thread(target=writer)
    t.start()
    held.wait(5)
    before = _digest(store)
    try:
        code, _, err = run("sample", "--space", "regnetx", "-n", "2", *SAMPLE, "--sweep", "t")
    finally:
        release.set()
        t.join()
    assert code == 2 and "is locked by another process writing to it; waiting up to 1 s more" in err
    assert "(still after 1 s); wait for it to finish, or set DSE_LOCK_TIMEOUT" in err and "Traceback" not in err
    assert _digest(store) == before
    assert run("sample", "--space", "regnetx", "-n", "2", *SAMPLE, "--sweep", "t")[0] == 0  # free again: it works


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX users")
@pytest.mark.slow
def test_read_only_store_and_unwritable_output(tmp_path, dse_exe):
    """As a user who may not write (root may write anywhere, so root runs the commands as nobody)."""
    import shutil
    import tempfile

    pre = []
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: cannot act as a user without write permission")
        pre = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    d = tempfile.mkdtemp(dir="/tmp")
    try:
        os.chmod(d, 0o777)

        def dse(*args):
            import subprocess
            import sys
            from pathlib import Path

            exe = Path(sys.executable).with_name("dse")
            p = subprocess.run([*pre, str(exe), *args], capture_output=True, text=True, cwd=d,
                               env={k: v for k, v in os.environ.items() if k != "DSE_DB"})
            return p.returncode, p.stderr

        code, err = dse("sample", "--space", "regnetx", "-n", "3", *SAMPLE, "--sweep", "s")
        assert code == 0, f"the dse command did not run as another user: {err[-300:]}"  # a failure, never a skip
        os.mkdir(f"{d}/ro", 0o555)
        for args, frag in ((["export", "-o", "ro/x.csv"], "-o ro/x.csv: cannot write there (Permission denied)"),
                           (["report", "-o", "ro/r.html"], "-o ro/r.html: cannot write there"),
                           (["plot", "complexity", "--plot", "ro/c.png"], "--plot ro/c.png: cannot write there")):
            code, err = dse(*args)
            assert code == 2 and frag in err and "Traceback" not in err, (args, err)
        os.chmod(f"{d}/dse.sqlite", 0o444)
        before = _digest(f"{d}/dse.sqlite")
        code, err = dse("sample", "--space", "regnetx", "-n", "2", *SAMPLE, "--sweep", "t")
        assert code == 2 and "dse.sqlite is read-only and this command writes to the store" in err, err
        assert dse("status")[0] == 0  # reading a read-only store is fine
        assert _digest(f"{d}/dse.sqlite") == before
        for p in Path(d).glob("dse.sqlite-*"):  # as a store on a read-only file system: no WAL index can be made
            p.unlink()
        os.chmod(d, 0o555)
        code, err = dse("status")
        assert code == 0, err  # opened as an immutable file
        os.chmod(d, 0o777)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_stale_lease_is_shown_as_stale(run, store):
    import time

    con = sqlite3.connect(store)
    con.execute("UPDATE models SET status = 'running', worker = 'elsewhere:1', lease_until = ? WHERE idx = 1",
                (time.time() - 3600,))
    con.commit()
    con.close()
    before = _digest(store)
    code, out, err = run("status")
    assert code == 0 and "1 model(s) marked running have no live worker (lease expired 60 min ago)" in out
    rows = json.loads(run("status", "--json")[1])
    assert (rows[0]["running"], rows[0]["stale"], rows[0]["pending"]) == (0, 1, 2)
    assert "stale" in run("status", "--models")[1]
    assert _digest(store) == before  # status only reads: the next dse train takes the model back


def test_concurrent_top_ups_and_creations(tmp_path):
    """Two processes topping up one sweep, or sampling and importing one name at once: no IntegrityError."""
    from dse import Study
    from dse.errors import DseError

    db = tmp_path / "c.sqlite"
    kw = dict(flops="1M:3M", resolution=28, stem="cifar", in_channels=1, num_classes=10)
    Study(db).sample("regnetx", n=3, sweep="t", **kw)
    Study(db).export(tmp_path / "t.csv", ["t"])
    results, start = [], threading.Barrier(4)

    def go(f):
        start.wait()
        try:
            results.append(f())
        except DseError as e:
            results.append(e)

    jobs = [lambda: Study(db).sample("regnetx", n=60, sweep="t", **kw)] * 2 + [
        lambda: Study(db).sample("regnetx", n=5, sweep="u", **kw),
        lambda: Study(db).import_table(tmp_path / "t.csv", "u", resolution=28, stem="cifar", in_channels=1,
                                       num_classes=10)]
    ts = [threading.Thread(target=go, args=(f,)) for f in jobs]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not [r for r in results if not isinstance(r, (DseError, int)) and not hasattr(r, "sweep")], results
    keys = Study(db).models("t")["id"]
    assert len(keys) == 60 and sorted(keys) == list(range(60))
    errs = [str(r) for r in results if isinstance(r, DseError)]
    assert len(errs) <= 1 and all("sweep 'u'" in e for e in errs)  # at most the loser of the race on 'u'
    assert Study(db).sweep("u").source in ("sampled", "imported")


def test_reset_protocol_with_discard_retrains_under_the_new_one(run, store, tmp_path):
    assert run("train", *SYN, "--budget", "1ep", "--plain")[0] == 0
    code, _, err = run("train", *SYN, "--budget", "2ep")
    assert code == 2 and "--reset-protocol" in err
    code, out, err = run("train", *SYN, "--budget", "2ep", "--reset-protocol", "--discard-results", "--plain")
    assert code == 0, err
    con = sqlite3.connect(store)
    assert json.loads(con.execute("SELECT protocol FROM sweeps").fetchone()[0])["budget"] == "2ep"
    assert con.execute("SELECT COUNT(*), MIN(epochs), MAX(epochs) FROM models WHERE status = 'done'").fetchone() \
        == (3, 2, 2)
    assert con.execute("SELECT COUNT(*) FROM epochs").fetchone()[0] == 6  # the old run's rows are gone


def test_counts_too_large_for_int64():
    """A candidate whose counts would pass 2^62 is refused (or marked -1 for a sampler), never wrapped."""
    import numpy as np

    from dse.models import complexity
    from dse.models.arch import Arch
    from dse.models.complexity import TooLarge, complexity_arrays

    small, huge = [[1, 1, 1, 1], [8, 16, 32, 64]], [[1000] * 4, [65536] * 4]
    d, w = np.array([small[0], huge[0]]), np.array([small[1], huge[1]])
    f, p, a = complexity_arrays(d, w, np.ones((2, 4)), np.full((2, 4), 8), resolution=4096, too_large="mark")
    ref = complexity(Arch(small[0], small[1], (1,) * 4, (8,) * 4), resolution=4096)
    assert (f[0], p[0], a[0]) == (ref["flops"], ref["params"], ref["acts"]) and f[1] == p[1] == a[1] == -1
    with pytest.raises(TooLarge, match="too large to count"):
        complexity(Arch(huge[0], huge[1], (1,) * 4, (8,) * 4), resolution=4096)
    # a large network the guard lets through (counted in floats too: below 2^53 both are exact and agree)
    d, w = np.array([[16] * 4]), np.array([[4096] * 4])
    exact = complexity_arrays(d, w, np.ones((1, 4)), np.full((1, 4), 8), resolution=1024)
    flt = complexity_arrays(d.astype(float), w.astype(float), np.ones((1, 4)), np.full((1, 4), 8.0), resolution=1024)
    assert 2**40 < exact[0][0] < 2**53 and [int(x[0]) for x in exact] == [int(x[0]) for x in flt]


def test_exhausted_top_up_says_how_many_the_sweep_has(run, tmp_path):
    (tmp_path / "tiny.toml").write_text(TINY)
    assert run("sample", "--space", "tiny.toml", "-n", "4", *SAMPLE, "--flops", "0:1G")[0] == 0
    code, _, err = run("sample", "--space", "tiny.toml", "-n", "5", *SAMPLE, "--flops", "0:1G")
    assert code == 2 and "holds at most 4 distinct models (before the flops window) and 5 were asked" in err
    assert "(4 already in the sweep)" in err


def test_export_into_a_closed_pipe_is_quiet(store):
    """`dse export | true`: the reader is gone before anything is written; no traceback and no error paragraph."""
    import subprocess
    import sys
    from pathlib import Path

    exe = Path(sys.executable).with_name("dse")
    p = subprocess.run(f"'{exe}' export --db '{store}' -o - | true; exit ${{PIPESTATUS[0]}}",
                       shell=True, executable="/bin/bash", capture_output=True, text=True,
                       env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert p.returncode in (0, 1) and p.stderr == "", p.stderr


def test_library_refuses_wrong_types_before_writing(store):
    """From a notebook: wrong types are ParamErrors naming the parameter, and nothing is stored (a resolution
    given as a string used to be stored as one, and every later read of the sweep failed)."""
    from dse import Study
    from dse.errors import ParamError

    st, before = Study(store), _digest(store)
    for call, param in ((lambda: st.sample("regnetx", 3, "q", flops="1M:3M", resolution="28", stem="cifar"),
                         "resolution"),
                        (lambda: st.sample("regnetx", 3, "q", num_classes=10**20), "num_classes"),
                        (lambda: st.sample(123, 3, "q"), "space"),
                        (lambda: st.edf(5), "sweeps"),
                        (lambda: st.bootstrap(None), "params"),
                        (lambda: st.export(5), "path"),
                        (lambda: st.report(5), "path")):
        with pytest.raises(ParamError) as e:
            call()
        assert e.value.param == param, (param, e.value)
    assert _digest(store) == before and st.sweeps() == ["s"]


# ---- every writing command leaves the store as it was when it fails ----

@pytest.fixture(scope="module")
def trained_store(tmp_path_factory):
    d = tmp_path_factory.mktemp("trained")
    r = ["--flops", "2M:8M", "--resolution", "16", "--stem", "cifar", "--num-classes", "10"]
    for sp in ("anynet_a", "regnetx"):
        assert cli(d, "sample", "--space", sp, "-n", "4", *r)[0] == 0
    code, _, err = cli(d, "train", "--dataset", "synthetic", "--resolution", "16", "--train-size", "128",
                       "--test-size", "32", "--batch-size", "32", "--budget", "1ep", "--plain")
    assert code == 0, err
    cli(d, "export", "-o", "all.csv")
    (d / "w.toml").write_text('name="w"\nfamily="anynet"\nblock="x"\nstages=1\n[params.d]\ndist="choice"\n'
                              'values=[1,2]\nweights=[1e308,1e308]\n[params.w]\ndist="choice"\nvalues=[8]\n'
                              '[params.b]\ndist="choice"\nvalues=[1]\n[params.g]\ndist="choice"\nvalues=[8]\n')
    return d


R16 = ["--flops", "2M:8M", "--resolution", "16", "--stem", "cifar", "--num-classes", "10"]
ROUND_TWO = [
    (["budget-check", "--sweep", "anynet_a", "--models", "3", "--factors", "2", "--device", "tpu"], "--device 'tpu'"),
    (["budget-check", "--sweep", "anynet_a", "--models", "3", "--factors", "2", "--device", "cpu",
      "--workers-per-gpu", "99"], "--workers-per-gpu must be"),
    (["budget-check", "--sweep", "anynet_a", "--models", "3", "--factors", "1e20"], "--factors 1e+20"),
    (["budget-check", "--sweep", "anynet_a", "--models", "3", "--factors", "2", "--data-dir", "/nonexistent"],
     "--data-dir does not apply to synthetic data"),
    (["sample", "--space", "regnetx", "-n", "2", "--regimes", "2MF,400GF", "--resolution", "16", "--stem", "cifar"],
     "no model of space 'regnetx'"),
    (["sample", "--space", "regnetx", "-n", "2", "--regimes", "2.9M:3.0001M,3.00011M:3.0004M", "--resolution", "16",
      "--stem", "cifar"], "same label"),
    (["train", "--batch-size", "1024", "--train-size", "300", "--dataset", "synthetic", "--resolution", "16",
      "--reset-protocol", "--discard-results"], "--batch-size 1024 is more than the 300 training images"),
    (["trends", "--param", "depth", "--sweep", "anynet_a", "--sweep", "regnetx"], "two or more complexity regimes"),
    (["import", "all.csv", "--sweep", "imp"], "names 2 sweeps"),
    (["sample", "--space", "w.toml", "-n", "2", *R16, "--sweep", "w"], "finite sum"),
    (["sample", "--space", "regnetx", "-n", "2", *R16, "--max-params", "0", "--sweep", "mp"], "--max-params must be"),
    (["speed", "--from-training", "--mode", "train"], "not apply with --from-training"),
    (["edf", "--compare", "anynet_a", "regnetx", "--plot", ""], "--plot: give a picture file name"),
    (["train", "--executor", "ray", "--address", "127.0.0.1:1"], "no Ray head answers there"),
    (["power", "--compare", "anynet_a", "regnetx"], "a pilot needs at least 5"),
    (["compare", "anynet_a", "regnetx", "--until-decided", "--step", "0"], "--step must be"),
    (["export", "--pycls", "pyc", "--skip-unexpressible", "--top", "0"], "--top must be"),
]


@pytest.mark.parametrize("case", ROUND_TWO, ids=[f"{i}-{c[0][0]}" for i, c in enumerate(ROUND_TWO)])
@pytest.mark.slow
def test_failing_writing_commands_change_nothing(trained_store, run, tmp_path, case):
    args, fragment = case
    _fails_and_changes_nothing(run, copy_study(trained_store, tmp_path) / "dse.sqlite", args, fragment)


def test_the_api_names_the_parameter_for_wrong_types(trained_store, tmp_path):
    """The Python API given wrong types raises dse's ParamError naming the parameter (as the CLI names its flag),
    and writes nothing."""
    import dse
    from dse.errors import ParamError

    st = dse.Study(copy_study(trained_store, tmp_path) / "dse.sqlite")
    before = _digest(st.path)
    calls = [(lambda: dse.Study(5), "path"), (lambda: dse.Study(b"x"), "path"),
             (lambda: st.budget_check(["anynet_a"], models=3, factors=object()), "factors"),
             (lambda: st.budget_check(["anynet_a"], models=3, factors=[2], device=0), "device"),
             (lambda: st.trends("depth", n_boot="100"), "n_boot"), (lambda: st.speed(device=0), "device"),
             (lambda: st.import_table(5, "x"), "path"), (lambda: st.refine("anynet_a", base=5), "base"),
             (lambda: st.sample("regnetx", n="3"), "n"), (lambda: st.edf(["anynet_a", "regnetx"], level=2), "level"),
             (lambda: st.power(["anynet_a", "regnetx"], n="a,b"), "n"), (lambda: st.population(5), "sweep"),
             (lambda: st.set_results("anynet_a", [1, 2]), "errors"), (lambda: st.export_pycls(5), "folder"),
             (lambda: st.compare(["anynet_a", "regnetx"], step=0), "step")]
    for call, param in calls:
        with pytest.raises(ParamError) as e:
            call()
        assert e.value.param == param, (param, str(e.value))
    assert _digest(st.path) == before


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
@pytest.mark.slow
def test_an_address_that_is_not_a_ray_head_is_refused_in_time(run, pair_store, kind):
    answer = {"unimplemented": _trailers(1, 12) + _trailers(3, 12), "auth-everywhere": _trailers(1, 16) + _trailers(3,
                                                                                                                    16),
              "silent": None}[kind]
    port, stop = _fake_server(answer)
    try:
        t = time.monotonic()
        for args in (["train", "--sweep", "a", *PAIR_TRAIN, "--executor", "ray", "--address", f"127.0.0.1:{port}"],
                     ["budget-check", "--sweep", "a", "--models", "3", "--executor", "ray", "--address",
                      f"127.0.0.1:{port}"]):
            fails(run, pair_store, args, "no Ray head answers there")
        assert time.monotonic() - t < 15
    finally:
        stop.set()


# ---- read-only stores, long names, damaged rows, quoting, names (issue 32) ----
@pytest.mark.slow
def test_writing_commands_on_a_read_only_store_say_read_only(tmp_path, pair_store):
    import os
    import shutil
    import subprocess
    import tempfile

    if os.geteuid() == 0 and not shutil.which("setpriv"):
        pytest.skip("root without setpriv: cannot act as a user without write permission")
    pre = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
    d = tempfile.mkdtemp(dir="/tmp")
    try:
        shutil.copy(pair_store, f"{d}/dse.sqlite")
        os.chmod(f"{d}/dse.sqlite", 0o444)
        os.chmod(d, 0o555)
        exe = str(pathlib_exe())
        for args in (["sample", "--space", "regnetx", "-n", "9", *PAIR_SAMPLE, "--sweep", "a"],
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


def test_a_very_long_db_name_and_damaged_sweeps(run, pair_store):
    code, _, err = run("sample", "--space", "regnetx", "-n", "3", *PAIR_SAMPLE, "--db", "x" * 300 + ".sqlite")
    assert code == 2 and "File name too long" in err and "Traceback" not in err, err
    con = sqlite3.connect(pair_store)
    con.execute("UPDATE sweeps SET source = 'weird' WHERE name = 'a'")
    con.commit()
    con.close()
    fails(run, pair_store, ["status"],
          "damaged: sweep 'a': column source is 'weird'; a sweep is sampled, imported, budget")


def test_refine_writes_a_next_command_that_runs(run, pair_store, tmp_path):
    import shlex

    st = dse.Study(pair_store)
    st.sample("anynet_a", n=30, flops="1M:3M", resolution=16, stem="cifar", num_classes=10, sweep="r", seed=3)
    st.set_results("r", {m.idx: 20.0 + m.arch.depth + 0.01 * m.idx for m in st.records("r")})
    code, out, err = run("refine", "--sweep", "r", "--out", "my refined.toml")
    assert code == 0, err
    header = [x for x in (tmp_path / "my refined.toml").read_text().splitlines() if "Next:" in x][0]
    cmd = header.split("Next: ", 1)[1].split(";")[0]
    assert shlex.split(cmd)[:4] == ["dse", "sample", "--space", "my refined.toml"], cmd
    assert cmd in out


def test_regime_prefix_makes_names_within_the_limit(run, pair_store):
    fails(run, pair_store, ["sample", "--space", "regnetx", "--regimes", "2MF,4MF", "-n", "2", "--resolution", "16",
                        "--stem", "cifar", "--sweep", "p" * 97], "names hold at most 100: use a prefix of at most 96")
    code, _, err = run("sample", "--space", "regnetx", "--regimes", "2MF,4MF", "-n", "2", "--resolution", "16",
                       "--stem", "cifar", "--sweep", "p" * 96)
    assert code == 0, err


def test_speed_report_and_plot_axes_are_checked(pair_store):
    st = dse.Study(pair_store)
    for kw, param in ((dict(batch="x"), "batch"), (dict(batch=8.9), "batch"), (dict(mode="both"), "mode")):
        with pytest.raises(ParamError) as e:
            st.speed_report(**kw)
        assert e.value.param == param
    r = st.edf(["a", "b"])
    for ax in (5, "x", [1, 2]):
        with pytest.raises(ParamError, match="ax must be a matplotlib Axes"):
            r.plot(ax=ax)
