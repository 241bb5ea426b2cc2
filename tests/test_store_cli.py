"""The store and the CLI: sample, top-up, status, export/import round trip, bad input (exit 2)."""

import csv
import io
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import dse
from conftest import fails
from dse.errors import DseError
from dse.spaces import Regime, Sampler, resolve_space
from dse.store import Store


def _export(run, *args):
    code, out, err = run("export", *args)
    assert code == 0, err
    return list(csv.DictReader(io.StringIO(out)))


def test_sample_status_export(run, tmp_path):
    code, out, err = run("sample", "--space", "anynet_b", "-n", "30", "--seed", "2")
    assert code == 0, err
    assert "30 models accepted" in out and "candidates" in out and "acceptance" in out
    assert "flops" in out and "params" in out and "acts" in out
    assert (tmp_path / "dse.sqlite").exists()
    code, out, _ = run("status", "--json")
    assert json.loads(out)[0]["models"] == 30 and json.loads(out)[0]["pending"] == 30
    rows = _export(run)
    assert len(rows) == 30 and rows[0]["sweep"] == "anynet_b" and rows[0]["space"] == "anynet_b"
    need = ["sweep", "id", "space", "stages"] + [f"{p}{i}" for p in "dwbg" for i in range(1, 5)] + [
        "depth", "se", "w0", "wa", "wm", "flops", "params", "acts", "status", "error", "best_error"]
    assert all(c in rows[0] for c in need)
    assert all(r["b1"] == r["b2"] == r["b3"] == r["b4"] for r in rows)
    assert rows[0]["w0"] == "" and rows[0]["error"] == ""
    # the models are the sampler's, in order
    ref = Sampler(resolve_space("anynet_b"), Regime(), seed=2).sample(30)
    assert [int(r["flops"]) for r in rows] == [m.flops for m in ref]
    assert [int(r["depth"]) for r in rows] == [m.arch.depth for m in ref]


def test_top_up_continues_the_stream(run, tmp_path):
    assert run("sample", "--space", "regnetx", "-n", "10", "--sweep", "a")[0] == 0
    assert run("sample", "--space", "regnetx", "-n", "25", "--sweep", "a")[0] == 0
    assert run("sample", "--space", "regnetx", "-n", "25", "--sweep", "b")[0] == 0
    a, b = _export(run, "--sweep", "a"), _export(run, "--sweep", "b")
    strip = lambda rows: [{k: v for k, v in r.items() if k != "sweep"} for r in rows]  # noqa: E731
    assert strip(a) == strip(b) and len(a) == 25
    code, out, _ = run("sample", "--space", "regnetx", "-n", "20", "--sweep", "a")
    assert code == 0 and "already holds 25" in out
    assert a[0]["w0"] != "" and float(a[0]["wm"]) >= 2


@pytest.mark.parametrize("args,needle", [
    (["--space", "anynet_a"], "different space definition"),
    (["--space", "regnetx", "--flops", "300M:400M"], "another regime"),
    (["--space", "regnetx", "--resolution", "32"], "another regime"),
    (["--space", "regnetx", "--seed", "9"], "seed 0"),
])
def test_existing_sweep_refuses_other_space_or_regime(run, args, needle):
    assert run("sample", "--space", "regnetx", "-n", "5", "--sweep", "s")[0] == 0
    code, _, err = run("sample", *args, "-n", "10", "--sweep", "s")
    assert code == 2 and needle in err and "Traceback" not in err


def test_export_import_round_trip(run, tmp_path):
    run("sample", "--space", "regnety", "-n", "12")
    run("sample", "--space", "anynet_e", "-n", "8", "--flops", "20M:60M", "--resolution", "32", "--stem", "cifar",
        "--num-classes", "10")
    code, _, err = run("export", "--sweep", "regnety", "-o", "a.csv")
    assert code == 0 and "wrote 12 models" in err
    assert run("import", "a.csv", "--sweep", "again")[0] == 0
    rows = _export(run, "--sweep", "regnety")
    again = _export(run, "--sweep", "again")
    assert [{**r, "sweep": ""} for r in rows] == [{**r, "sweep": ""} for r in again]
    # the cifar-regime sweep needs its regime to recompute complexity: give it, drop the columns
    run("export", "--sweep", "anynet_e", "-o", "e.csv")
    with open(tmp_path / "e.csv") as f:
        rd = list(csv.DictReader(f))
    cols = [c for c in rd[0] if c not in ("flops", "params", "acts")]
    with open(tmp_path / "e2.csv", "w", newline="") as f:
        w = csv.DictWriter(f, cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(rd)
    code, out, err = run("import", "e2.csv", "--sweep", "e2", "--resolution", "32", "--stem", "cifar",
                         "--num-classes", "10")
    assert code == 0, err
    assert [r["flops"] for r in _export(run, "--sweep", "e2")] == [r["flops"] for r in rd]


def test_import_trained_population(run, tmp_path):
    (tmp_path / "pop.csv").write_text(
        "d1,d2,w1,w2,b1,b2,g1,g2,error\n1,2,32,64,1,1,8,8,31.5\n1,2,32,64,1,1,8,8,30.1\n2,3,48,96,2,2,8,8,\n")
    code, out, err = run("import", "pop.csv", "--sweep", "pop", "--resolution", "32", "--stem", "cifar")
    assert code == 0, err
    rows = _export(run, "--sweep", "pop")
    assert [r["status"] for r in rows] == ["done", "done", "pending"]
    assert rows[0]["error"] == "31.5" and rows[0]["stages"] == "2" and rows[0]["space"] == "imported"
    assert int(rows[0]["flops"]) > 0 and rows[0]["flops"] == rows[1]["flops"]  # repeats are kept


@pytest.mark.parametrize("text,needle", [
    ("d1,w1,b1,error\n1,32,1,3\n", "missing required column g1"),
    ("d1,w1,b1,g1\n1,32,1,8\n", "missing required column error"),
    ("d1,w1,b1,g1,error\n1,abc,1,8,3\n", "line 2: column w1 = 'abc' is not a number"),
    ("d1,w1,b1,g1,error\n1,30,1,8,3\n", "line 2: stage 1: inner width w/b is not a multiple of g"),
    ("d1,w1,b1,g1,error\n", "no rows"),
    # issue 13: wrong data that used to be stored silently
    ("d1,d2,d4,w1,w2,w3,w4,b1,b2,b3,b4,g1,g2,g3,g4,error\n1,1,1,8,8,8,8,1,1,1,1,8,8,8,8,3\n",
     "missing required column d3"),
    ("d1,w1,b1,g1,error,error\n1,32,1,8,3,4\n", "column 'error' appears more than once"),
    ("d1,w1,b1,g1,error\n1,32,1,8,-1\n", "line 2: column error = -1 is not a top-1 error"),
    ("d1,w1,b1,g1,error\n1,32,1,8,101\n", "column error = 101 is not a top-1 error"),
    ("d1,w1,b1,g1,error,status\n1,32,1,8,3,finished\n", "column status = 'finished' is unknown"),
    ("d1,w1,b1,g1,error,status\n1,32,1,8,,done\n", "status is done but column error is empty"),
    ("d1,w1,b1,g1,error,stages\n1,32,1,8,3,2\n", "column stages = 2 but the row has 1 stages"),
    ("d1,w1,b1,g1,error\n1,4000000000,1,8,3\n", "column w1 = 4000000000 is outside 1..65536"),
    ("d1,w1,b1,g1,error\n5000,32,1,8,3\n", "column d1 = 5000 is outside 1..1024"),
    ("d1,d2,w1,w2,b1,b2,g1,g2,error\n1,,32,32,1,1,8,8,3\n", "column w2 is set but d2 is empty"),
    ("d1,d2,w1,w2,b1,b2,g1,g2,error\n,1,32,32,1,1,8,8,3\n", "without gaps"),
    ("d1,w1,b1,g1,error,flops\n1,32,1,8,3,12345\n", "column flops = 12345 but the architecture has"),
])
def test_import_errors(run, tmp_path, text, needle):
    (tmp_path / "bad.csv").write_text(text)
    code, _, err = run("import", "bad.csv", "--sweep", "x")
    assert code == 2 and needle in err and "bad.csv" in err and "Traceback" not in err
    assert not (tmp_path / "dse.sqlite").exists()  # all or nothing: not even an empty store


def test_import_is_all_or_nothing(run, tmp_path):
    assert run("sample", "--space", "anynet_a", "-n", "3")[0] == 0
    (tmp_path / "p.csv").write_text("d1,w1,b1,g1,error\n1,32,1,8,30\n1,64,1,8,31\n1,32,1,8,300\n")
    code, _, err = run("import", "p.csv", "--sweep", "p")
    assert code == 2 and "line 4: column error = 300" in err
    code, out, _ = run("status", "--json")
    assert [r["sweep"] for r in json.loads(out)] == ["anynet_a"]


def test_bad_inputs_exit_2(run, tmp_path):
    cases = [
        (["sample", "--space", "nope", "-n", "5"], "unknown space 'nope'; built-in spaces: anynet_a"),
        (["sample", "--space", "anynet_a", "-n", "0"], "-n must be a number of models from 1"),
        (["sample", "--space", "anynet_a", "-n", "-3"], "-n must be a number of models from 1"),
        (["sample", "--space", "anynet_a", "-n", "5", "--flops", "360M-400M"], "expected LO:HI"),
        (["sample", "--space", "anynet_a", "-n", "5", "--flops", "abc:400M"], "cannot read 'abc'"),
        (["sample", "--space", "regnetx", "-n", "5", "--flops", "1K:2K"], "try e.g. the window"),
        (["status"], "no store at dse.sqlite"),
        (["export", "-o", "x.csv"], "no store"),
        (["import", "missing.csv", "--sweep", "x"], "cannot read missing.csv"),
        (["sample", "--space", "missing.toml", "-n", "5"], "space file missing.toml not found"),
    ]
    for args, needle in cases:
        code, out, err = run(*args)
        assert code == 2 and needle in err and "Traceback" not in err, (args, err)
    run("sample", "--space", "anynet_a", "-n", "3")
    code, _, err = run("status", "--sweep", "zzz")
    assert code == 2 and "unknown sweep 'zzz'" in err and "anynet_a" in err
    code, _, err = run("export", "--sweep", "zzz")
    assert code == 2 and "unknown sweep 'zzz'" in err
    code, _, err = run("import", "nofile.csv", "--sweep", "anynet_a")
    assert code == 2


def test_foreign_db_files(run, tmp_path):
    (tmp_path / "text.db").write_text("hello, I am not a database" * 100)
    code, _, err = run("sample", "--space", "anynet_a", "-n", "3", "--db", "text.db")
    assert code == 2 and "not a dse store" in err
    con = sqlite3.connect(tmp_path / "other.db")
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    code, _, err = run("status", "--db", "other.db")
    assert code == 2 and "not a dse store" in err
    code, _, err = run("status", "--db", "nodir/x.db")
    assert code == 2


def test_db_env_and_schema(run, tmp_path, monkeypatch):
    monkeypatch.setenv("DSE_DB", str(tmp_path / "env.sqlite"))
    assert run("sample", "--space", "anynet_a", "-n", "3")[0] == 0
    con = sqlite3.connect(tmp_path / "env.sqlite")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    meta = dict(con.execute("SELECT key, value FROM meta"))
    assert meta["app"] == "dse" and meta["schema_version"] == "4"
    sw = con.execute("SELECT space, regime, seed, dse_version, created FROM sweeps").fetchone()
    assert json.loads(sw[0])["family"] == "anynet" and json.loads(sw[1])["flops"] == [360000000, 400000000]
    assert sw[2] == 0 and sw[3] and sw[4]


def test_a_version_1_store_gains_the_speed_tables(run, tmp_path):
    assert run("sample", "--space", "regnetx", "-n", "4", "--db", "v1.db")[0] == 0
    con = sqlite3.connect(tmp_path / "v1.db")
    con.executescript("DROP TABLE speeds; DROP TABLE speed_fits; UPDATE meta SET value = '1' WHERE key = "
                      "'schema_version';")
    con.close()
    code, out, err = run("sample", "--space", "regnetx", "-n", "6", "--db", "v1.db")  # a top-up of the old sweep
    assert code == 0 and "2 models accepted (6 in all)" in out, err
    con = sqlite3.connect(tmp_path / "v1.db")
    assert dict(con.execute("SELECT key, value FROM meta"))["schema_version"] == "4"
    assert con.execute("SELECT COUNT(*) FROM speeds").fetchone()[0] == 0
    assert "ms_cap" not in json.loads(con.execute("SELECT regime FROM sweeps").fetchone()[0])


def test_a_version_2_store_gains_the_spread_and_keeps_its_timings(run, tmp_path):
    """A store written before the spread column: opened by a command that writes, it gains the column (its
    timings keep theirs, spread unknown); a read-only copy of it is still read as it is."""
    assert run("sample", "--space", "regnetx", "-n", "4", "--db", "v2.db")[0] == 0
    con = sqlite3.connect(tmp_path / "v2.db")
    con.executescript("DROP TABLE speeds; CREATE TABLE speeds (sweep TEXT NOT NULL, idx INTEGER NOT NULL, device TEXT "
                      "NOT NULL, mode TEXT NOT NULL, batch INTEGER NOT NULL, ms REAL NOT NULL, torch TEXT NOT NULL, "
                      "measured TEXT NOT NULL, PRIMARY KEY (sweep, idx, device, mode, batch));"
                      "INSERT INTO speeds VALUES ('regnetx', 0, 'cpu', 'infer', 64, 3.5, '2.13', 'then');"
                      "UPDATE meta SET value = '2' WHERE key = 'schema_version';")
    con.close()
    assert Store(tmp_path / "v2.db", create=False).speeds(["regnetx"])[0].spread is None
    code, out, err = run("sample", "--space", "regnetx", "-n", "5", "--db", "v2.db")
    assert code == 0, err
    con = sqlite3.connect(tmp_path / "v2.db")
    assert dict(con.execute("SELECT key, value FROM meta"))["schema_version"] == "4"
    assert con.execute("SELECT ms, spread FROM speeds").fetchall() == [(3.5, None)]


def test_newer_schema_refused(tmp_path):
    Store(tmp_path / "s.db").close()
    con = sqlite3.connect(tmp_path / "s.db")
    con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    with pytest.raises(DseError, match="newer than this dse"):
        Store(tmp_path / "s.db")


@pytest.mark.slow
def test_concurrent_processes_share_one_store(tmp_path, dse_exe):
    """Several processes sampling into one file at once: all succeed, nothing lost."""
    procs = [subprocess.Popen([sys.executable, "-m", "dse", "sample", "--space", s, "-n", "40", "--db", "c.db"],
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for s in ("anynet_a", "anynet_b", "anynet_c", "regnetx")]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    code, out, err = dse_exe("status", "--json", "--db", "c.db", cwd=tmp_path)
    assert code == 0 and sorted(r["models"] for r in json.loads(out)) == [40] * 4


def test_help_and_model_are_torch_free(dse_exe, tmp_path):
    code, out, _ = dse_exe("--help")
    assert code == 0 and "sample" in out
    for cmd in (["sample", "--help"], ["model", "regnet", "--help"], ["spaces", "--help"]):
        assert dse_exe(*cmd)[0] == 0
    probe = ("import sys; from dse.cli.main import main\n"
             "sys.argv = ['dse', 'model', 'regnet', '--depth', '22', '--w0', '24', '--wa', '24.48', '--wm', '2.54',"
             " '--group-width', '16', '--json']\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "assert 'torch' not in sys.modules, 'torch imported'\n")
    p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["flops"] == 397_678_568


def test_every_option_is_explained_in_help():
    import click

    from dse.cli.main import commands

    cli = commands()  # every command, whatever other tests imported before
    assert {"speed", "train", "edf", "model", "sample"} <= set(cli.commands)

    missing = []

    def walk(cmd, path):
        if isinstance(cmd, click.Group):
            for n, c in cmd.commands.items():
                walk(c, path + [n])
        else:
            assert cmd.help, path
            missing.extend(f"{' '.join(path)} {p.opts[0]}" for p in cmd.params
                           if isinstance(p, click.Option) and not p.help)

    walk(cli, ["dse"])
    assert not missing, missing


def test_parquet_round_trip(run, tmp_path):
    pytest.importorskip("pyarrow", reason="Parquet needs pyarrow (the test extra installs it)")
    run("sample", "--space", "regnetx", "-n", "7")
    code, _, err = run("export", "-o", "m.parquet")
    assert code == 0 and (tmp_path / "m.parquet").stat().st_size > 0, err
    assert run("import", "m.parquet", "--sweep", "back")[0] == 0
    a = _export(run, "--sweep", "regnetx")
    b = _export(run, "--sweep", "back")
    assert [{**r, "sweep": ""} for r in a] == [{**r, "sweep": ""} for r in b]


def _v3_copy(tmp_path):
    import shutil

    src = Path(__file__).parent / "data" / "store_v3"
    shutil.copy(src / "store.sqlite", tmp_path / "v3.sqlite")
    return src, str(tmp_path / "v3.sqlite")


def test_a_store_from_before_blocks_reads_unchanged_read_only_and_after_gaining_the_block_column(run, tmp_path,
                                                                                                   monkeypatch):
    """A real schema-3 store (written by dse at c3b7636): export and EDFs equal what that dse printed, while it
    cannot be written (nothing migrated) and after a writing command added the block column (its rows NULL)."""
    import dse
    from dse.store.db import Store

    src, db = _v3_copy(tmp_path)

    def refused(self):  # a store that may not be written (root ignores file modes, so refuse here)
        raise DseError(f"{self.path} is read-only")

    with monkeypatch.context() as m:
        m.setattr(Store, "_begin", refused)
        st = dse.Study(db)
        assert st.export(tmp_path / "ro.csv") == 12
        assert (tmp_path / "ro.csv").read_text() == (src / "export.csv").read_text()
        got = st.edf(["y", "e"]).to_json()
        want = json.loads((src / "edf.json").read_text())
        assert {k: got[k] for k in ("sweeps", "ks")} == {k: want[k] for k in ("sweeps", "ks")}
    assert dict(sqlite3.connect(db).execute("SELECT key, value FROM meta"))["schema_version"] == "3"
    code, out, err = run("edf", "--compare", "y", "e", "--json", "--db", db)
    assert code == 0 and json.loads(out) == json.loads((src / "edf.json").read_text()), err
    code, out, err = run("sample", "--space", "regnety", "-n", "7", "--sweep", "y", "--flops", "2M:8M", "--resolution",
                         "28", "--stem", "cifar", "--in-channels", "1", "--num-classes", "10", "--db", db)  # writes
    assert code == 0 and "1 models accepted (7 in all)" in out, err
    con = sqlite3.connect(db)
    assert dict(con.execute("SELECT key, value FROM meta"))["schema_version"] == "4"
    assert [r[0] for r in con.execute("SELECT block FROM models WHERE sweep = 'y' ORDER BY idx")] == [None] * 6 + [
        "res_bottleneck"]
    code, out, err = run("export", "--sweep", "e", "--db", db)
    want = [ln for ln in (src / "export.csv").read_text().splitlines() if not ln.startswith("y,")]
    assert code == 0 and out.splitlines() == want, err


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
def test_import_checks_what_it_stores(run, pair_store, tmp_path, case):
    cols, row, words = case
    p = _table(tmp_path, [row], cols)
    fails(run, pair_store, ["import", str(p), "--sweep", "imp", "--resolution", "16", "--stem", "cifar",
                        "--num-classes", "10"], words, "line 2")


def test_import_keeps_the_tables_ids_and_refuses_repeats(run, pair_store, tmp_path):
    rows = [f"{i},1,2,16,{32 + 8 * k},1,1,8,8,{30 + k}" for k, i in enumerate((1, 2, 4))]
    p = _table(tmp_path, rows)
    code, _, err = run("import", str(p), "--sweep", "imp", "--resolution", "16", "--stem", "cifar", "--num-classes",
                       "10")
    assert code == 0, err
    assert [m.idx for m in dse.Study(pair_store).records("imp")] == [1, 2, 4]
    out = tmp_path / "back.csv"
    assert run("export", "--sweep", "imp", "-o", str(out))[0] == 0
    assert [r.split(",")[1] for r in out.read_text().splitlines()[1:]] == ["1", "2", "4"]
    fails(run, pair_store, ["import", str(_table(tmp_path, rows[:1] + rows[:1])), "--sweep", "imp2", "--resolution",
                            "16", "--stem", "cifar", "--num-classes", "10"], "column id = 1 repeats line 2")
