"""Reading never writes: an old store (schema 3) and a current one keep their bytes through every command that only
reads, a failing command and a refused write included, and a reader does not wait for another process's write lock
(it would otherwise migrate, or wait to)."""

import hashlib
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import cli

V3 = Path(__file__).parent / "data" / "store_v3" / "store.sqlite"
READS = [["status"], ["edf", "--compare", "y", "e"], ["edf", "--compare", "y", "NOPE"], ["export"],
         ["findings"], ["bootstrap", "--param", "depth"], ["power", "--compare", "y", "e", "--reps", "100"]]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _schema(path: Path) -> str:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as c:
        return dict(c.execute("SELECT key, value FROM meta"))["schema_version"]


@pytest.fixture
def v3(tmp_path):
    shutil.copy(V3, tmp_path / "v3.sqlite")
    return tmp_path / "v3.sqlite"


@pytest.mark.parametrize("args", READS, ids=lambda a: " ".join(a))
def test_a_read_leaves_an_old_store_as_it_was(v3, tmp_path, args):
    before = _digest(v3)
    cli(tmp_path, *args, "--db", v3)
    assert _digest(v3) == before and _schema(v3) == "3"


@pytest.fixture(scope="module")
def v4(tmp_path_factory):
    """The schema-3 store after a writing command migrated it (schema 4, a seventh model in sweep y)."""
    d = tmp_path_factory.mktemp("v4")
    shutil.copy(V3, d / "v4.sqlite")
    code, _, err = cli(d, "sample", "--space", "regnety", "-n", "7", "--sweep", "y", "--flops", "2M:8M",
                       "--resolution", "28", "--stem", "cifar", "--in-channels", "1", "--num-classes", "10",
                       "--db", d / "v4.sqlite")
    assert code == 0 and _schema(d / "v4.sqlite") == "4", err
    return d / "v4.sqlite"


@pytest.mark.parametrize("args", READS, ids=lambda a: " ".join(a))
def test_a_read_leaves_a_current_store_as_it_was(v4, tmp_path, args):
    db = tmp_path / "v4.sqlite"
    shutil.copy(v4, db)
    before = _digest(db)
    cli(tmp_path, *args, "--db", db)
    assert _digest(db) == before


def test_a_refused_write_leaves_an_old_store_as_it_was(v3, tmp_path):
    before = _digest(v3)
    code, _, err = cli(tmp_path, "sample", "--space", "regnety", "-n", "7", "--sweep", "y", "--flops", "8M:2M",
                       "--resolution", "28", "--stem", "cifar", "--in-channels", "1", "--num-classes", "10", "--db", v3)
    assert code == 2 and "--flops" in err
    assert _digest(v3) == before and _schema(v3) == "3"


def test_the_api_and_the_server_read_an_old_store_as_it_is(v3, tmp_path):
    import threading
    import urllib.request

    import dse
    from dse.serve.server import make_server

    before = _digest(v3)
    st = dse.Study(v3)
    st.status(), st.models(), st.progress(), st.findings()
    srv = make_server(v3, port=0)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    try:
        host, port = srv.server_address[:2]
        for path in ("/api/status", "/api/models", "/api/edf?sweeps=y,e", "/api/undertraining", "/"):
            with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=30) as r:
                assert r.status == 200, path
    finally:
        srv.shutdown()
        srv.server_close()
    assert _digest(v3) == before and _schema(v3) == "3"


@pytest.mark.parametrize("store", ["v3", "v4"])
def test_a_reader_does_not_wait_for_a_writer(v3, tmp_path, store):
    """Another process holds the write lock: dse status answers at once and the bytes stay."""
    if store == "v4":  # the same store after a writing command migrated it
        code, _, err = cli(tmp_path, "sample", "--space", "regnety", "-n", "7", "--sweep", "y", "--flops", "2M:8M",
                           "--resolution", "28", "--stem", "cifar", "--in-channels", "1", "--num-classes", "10",
                           "--db", v3)
        assert code == 0 and _schema(v3) == "4", err
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys, time\n"
        f"c = sqlite3.connect({str(v3)!r}, isolation_level=None)\n"
        "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep(60)\n")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = _digest(v3)
        t0 = time.perf_counter()
        code, out, err = cli(tmp_path, "status", "--db", v3)
        took = time.perf_counter() - t0
        assert code == 0 and "regnety" in out, err
        assert took < 10, took
        assert _digest(v3) == before
    finally:
        holder.kill()
        holder.wait()
