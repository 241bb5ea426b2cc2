import contextlib
import hashlib
import io
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


ALL_CPUS = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def pytest_configure(config):
    """Under pytest-xdist, each worker runs on its own share of the cores (and so do the dse processes it starts):
    two workers that each run torch with every core would slow each other several times over."""
    worker, n = os.environ.get("PYTEST_XDIST_WORKER"), int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if worker and n > 1 and len(ALL_CPUS) >= n:
        os.sched_setaffinity(0, ALL_CPUS[int(worker[2:]) % n::n])


def pytest_collection_modifyitems(config, items):
    """Modules with slow tests first (most first), each module's tests kept together and in order: with two
    workers the long tests start at once instead of finishing the run alone (module fixtures still build once)."""
    slow = {}
    for it in items:
        slow[it.module.__name__] = slow.get(it.module.__name__, 0) + (it.get_closest_marker("slow") is not None)
    items.sort(key=lambda it: -slow[it.module.__name__])


@pytest.fixture
def all_cores():
    """For a test that starts several worker processes (one per core): the whole machine while it runs."""
    if not ALL_CPUS:
        yield
        return
    mine = os.sched_getaffinity(0)
    os.sched_setaffinity(0, ALL_CPUS)
    try:
        yield
    finally:
        os.sched_setaffinity(0, mine)


def cli(cwd, *args):
    """Run the CLI in-process in folder ``cwd``: (exit_code, stdout, stderr). Session fixtures build with it."""
    from dse.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    old = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main([str(a) for a in args])
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        os.chdir(old)
    return code, out.getvalue(), err.getvalue()


def copy_study(src: Path, dst: Path) -> Path:
    """A built study's folder (its store and the files beside it) copied into ``dst``, for a test that writes."""
    for _ in range(5):  # a -wal file that vanishes meanwhile (a late close checkpointed it): copy all again
        try:
            for p in src.iterdir():
                if p.is_file():
                    shutil.copy2(p, dst / p.name)
            return dst
        except FileNotFoundError:
            for p in dst.iterdir():
                if p.is_file():
                    p.unlink()
    raise RuntimeError(f"cannot copy {src}: its files keep changing")


@pytest.fixture
def run(tmp_path, monkeypatch):
    """Run the CLI in-process; returns (exit_code, stdout, stderr). The store defaults to tmp_path."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DSE_DB", raising=False)
    return lambda *args: cli(tmp_path, *args)


@pytest.fixture
def dse_exe():
    """Run the installed console script in a subprocess: (returncode, stdout, stderr)."""
    exe = Path(sys.executable).with_name("dse")

    def _run(*args, cwd=None, env=None):
        e = dict(os.environ)
        e.pop("DSE_DB", None)
        e.update(env or {})
        p = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, cwd=cwd, env=e)
        return p.returncode, p.stdout, p.stderr

    return _run


# two small sweeps trained on synthetic data: the study several modules start from (built once per test process:
# the session fixture ``pair_dir``; a module or test that writes works on a copy, copy_study)
PAIR_SAMPLE = ["--flops", "1M:3M", "--resolution", "16", "--stem", "cifar", "--num-classes", "10"]
PAIR_TRAIN = ["--dataset", "synthetic", "--resolution", "16", "--train-size", "64", "--test-size", "32",
              "--batch-size", "32", "--budget", "1ep", "--device", "cpu", "--plain"]


def trained_pair(folder: Path) -> Path:
    """Sweeps a (anynet_a) and b (anynet_e) of 6 models each in ``folder``/dse.sqlite, trained 1 epoch."""
    for space, name in (("anynet_a", "a"), ("anynet_e", "b")):
        code, _, err = cli(folder, "sample", "--space", space, "-n", "6", *PAIR_SAMPLE, "--sweep", name)
        assert code == 0, err
    code, _, err = cli(folder, "train", *PAIR_TRAIN)
    assert code == 0, err
    return folder


@pytest.fixture(scope="session")
def pair_dir(tmp_path_factory) -> Path:
    """The folder of ``trained_pair``'s study, built once per test process: read it, or copy it (copy_study) to
    write; never write into it."""
    return trained_pair(tmp_path_factory.mktemp("pair"))


@pytest.fixture
def pair_store(pair_dir, tmp_path) -> Path:
    """A test's own copy of the trained pair's store (``tmp_path``/dse.sqlite)."""
    return copy_study(pair_dir, tmp_path) / "dse.sqlite"


def digest(db) -> str:
    """A hash of every table's rows (the store's content): a failing command must leave it as it was."""
    con = sqlite3.connect(db)
    h = hashlib.sha256()
    for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
        for row in con.execute(f"SELECT * FROM {t} ORDER BY 1, 2"):
            h.update(repr(row).encode())
    con.close()
    return h.hexdigest()


def fails(run, store, args, *fragments):
    """``run(*args)`` exits 2 without a traceback, saying each of ``fragments``, and leaves ``store`` as it was."""
    before = digest(store)
    code, out, err = run(*args)
    assert code == 2, (out, err)
    assert "Traceback" not in err and all(f in err for f in fragments), err
    assert digest(store) == before


def first_epoch_checkpoint(train) -> dict:
    """The checkpoint a training run hands its ``on_epoch`` after the first epoch, the run stopped there as Ctrl-C
    stops it: ``train(on_epoch)`` starts the run."""
    saved = {}

    def grab(row, state_fn):
        if row.epoch == 1:
            saved.update(state_fn())
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(grab)
    return saved
