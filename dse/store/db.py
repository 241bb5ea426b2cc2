"""SQLite store: sweeps and their models (and room for training results). Safe for several processes.

WAL journal, a busy timeout, and every write in one ``BEGIN IMMEDIATE`` transaction, so concurrent
``dse`` processes on one file serialise their writes and readers never see half a change.
"""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from dse import __version__
from dse.errors import DseError
from dse.models.arch import Arch

SCHEMA_VERSION = 1
STATUSES = ("pending", "running", "done", "failed", "diverged")

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sweeps (
    name TEXT PRIMARY KEY,
    space_name TEXT NOT NULL,
    space TEXT,                 -- JSON: the space definition as used (NULL for imported populations)
    regime TEXT NOT NULL,       -- JSON: flops window, resolution, stem, channels, classes, caps
    seed INTEGER,
    source TEXT NOT NULL,       -- 'sampled' or 'imported'
    protocol TEXT,              -- JSON: training protocol, fixed by the first training run
    created TEXT NOT NULL,
    dse_version TEXT NOT NULL
);
CREATE TABLE models (
    sweep TEXT NOT NULL REFERENCES sweeps(name) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    key TEXT NOT NULL,          -- canonical architecture string, unique within a sweep
    arch TEXT NOT NULL,         -- JSON Arch
    stages INTEGER NOT NULL,
    depth INTEGER NOT NULL,
    se INTEGER NOT NULL,
    w0 REAL, wa REAL, wm REAL,  -- RegNet parameters when the model came from one
    flops INTEGER NOT NULL,
    params INTEGER NOT NULL,
    acts INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    error REAL,                 -- final-epoch top-1 error (%)
    best_error REAL,
    epochs INTEGER,
    train_seconds REAL,
    device TEXT,
    reason TEXT,                -- why a model failed
    worker TEXT,                -- holder of a claim (host:pid)
    lease_until REAL,
    heartbeat REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    extra TEXT,                 -- JSON: further per-model numbers (e.g. fitted RegNet parameters)
    PRIMARY KEY (sweep, idx),
    UNIQUE (sweep, key)
);
CREATE INDEX models_status ON models(sweep, status);
CREATE TABLE epochs (
    sweep TEXT NOT NULL,
    idx INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    train_loss REAL, train_error REAL, test_error REAL, lr REAL, seconds REAL, images_per_s REAL,
    PRIMARY KEY (sweep, idx, epoch),
    FOREIGN KEY (sweep, idx) REFERENCES models(sweep, idx) ON DELETE CASCADE
);
"""

MODEL_COLUMNS = ("idx", "key", "arch", "stages", "depth", "se", "w0", "wa", "wm", "flops", "params", "acts",
                 "status", "error", "best_error", "epochs", "train_seconds", "device", "reason", "extra")


def default_db_path() -> Path:
    """``$DSE_DB`` or ``./dse.sqlite``."""
    return Path(os.environ.get("DSE_DB") or "dse.sqlite")


class Store:
    """One SQLite file of sweeps. ``Store(path)`` opens (creating it when ``create``) and checks it."""

    def __init__(self, path=None, create: bool = True, timeout: float = 60.0):
        self.path = Path(path) if path else default_db_path()
        if not self.path.exists():
            if not create:
                raise DseError(f"no store at {self.path}: run `dse sample` first, or pass --db PATH / set DSE_DB")
            if self.path.parent and not self.path.parent.exists():
                raise DseError(f"cannot create store {self.path}: folder {self.path.parent} does not exist")
        try:
            self.con = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
            self.con.row_factory = sqlite3.Row
            self.con.execute("PRAGMA foreign_keys = ON")
            self._init()
        except sqlite3.DatabaseError as e:
            raise DseError(f"{self.path} is not a dse store ({e}); pass another --db PATH") from None

    def _init(self):
        tables = {r[0] for r in self.con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            self.con.execute("PRAGMA journal_mode = WAL")
            with self.write() as c:
                if not {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}:
                    for stmt in filter(str.strip, _SCHEMA.split(";")):
                        c.execute(stmt)
                    c.executemany("INSERT INTO meta VALUES (?, ?)",
                                  [("app", "dse"), ("schema_version", str(SCHEMA_VERSION)),
                                   ("created_by", __version__)])
            return
        if "meta" not in tables:
            raise DseError(f"{self.path} is an SQLite file but not a dse store (no meta table); pass another --db PATH")
        meta = dict(self.con.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("app") != "dse":
            raise DseError(f"{self.path} is an SQLite file but not a dse store; pass another --db PATH")
        v = int(meta.get("schema_version", 0))
        if v > SCHEMA_VERSION:
            raise DseError(f"{self.path} has store schema {v}, newer than this dse ({__version__}, schema "
                           f"{SCHEMA_VERSION}); upgrade dse")

    def close(self):
        self.con.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @contextmanager
    def write(self):
        """One write transaction (BEGIN IMMEDIATE: takes the write lock up front, waits on the busy timeout)."""
        c = self.con
        c.execute("BEGIN IMMEDIATE")
        try:
            yield c
        except BaseException:
            c.execute("ROLLBACK")
            raise
        c.execute("COMMIT")

    # ---- sweeps ----
    def sweep_names(self) -> list[str]:
        return [r[0] for r in self.con.execute("SELECT name FROM sweeps ORDER BY created, name")]

    def sweep(self, name: str) -> dict:
        """The sweep's row (space, regime and protocol decoded); unknown names list the known ones."""
        r = self.con.execute("SELECT * FROM sweeps WHERE name = ?", (name,)).fetchone()
        if r is None:
            known = self.sweep_names()
            raise DseError(f"unknown sweep {name!r} in {self.path}; known sweeps: "
                           + (", ".join(known) if known else "none yet (run `dse sample`)"))
        d = dict(r)
        for k in ("space", "regime", "protocol"):
            d[k] = json.loads(d[k]) if d[k] else None
        return d

    def create_sweep(self, c, name, space_name, space, regime, seed, source):
        c.execute(
            "INSERT INTO sweeps (name, space_name, space, regime, seed, source, created, dse_version)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (name, space_name, json.dumps(space, sort_keys=True) if space is not None else None,
             json.dumps(regime, sort_keys=True), seed, source,
             datetime.now(timezone.utc).isoformat(timespec="seconds"), __version__),
        )

    def add_models(self, c, sweep: str, models, start: int):
        """Insert models (dicts with arch, flops, params, acts and optional fields) from index ``start``."""
        rows = []
        for i, m in enumerate(models):
            arch: Arch = m["arch"]
            rp = m.get("regnet") or {}
            rows.append((sweep, start + i, m.get("key") or arch.key(), json.dumps(arch.to_dict()), arch.stages, arch.depth,
                         int(arch.se), rp.get("w0"), rp.get("wa"), rp.get("wm"), m["flops"], m["params"],
                         m["acts"], m.get("status", "pending"), m.get("error"), m.get("best_error"),
                         m.get("epochs"), m.get("train_seconds"),
                         json.dumps({"regnet": rp}) if rp else None))
        c.executemany(
            "INSERT INTO models (sweep, idx, key, arch, stages, depth, se, w0, wa, wm, flops, params, acts,"
            " status, error, best_error, epochs, train_seconds, extra)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows)

    def model_keys(self, sweep: str) -> list[str]:
        return [r[0] for r in self.con.execute("SELECT key FROM models WHERE sweep = ? ORDER BY idx", (sweep,))]

    def models(self, sweep: str) -> list[dict]:
        """All models of a sweep in index order; ``arch`` is an Arch."""
        rows = self.con.execute(
            f"SELECT {', '.join(MODEL_COLUMNS)} FROM models WHERE sweep = ? ORDER BY idx", (sweep,)).fetchall()
        out = []
        for r in rows:
            d = dict(r)
            d["arch"] = Arch.from_dict(json.loads(d["arch"]))
            d["extra"] = json.loads(d["extra"]) if d["extra"] else {}
            out.append(d)
        return out

    def status_counts(self, sweep: str | None = None) -> dict:
        """{sweep: {status: count}} with every status present (zeros included)."""
        names = [sweep] if sweep else self.sweep_names()
        for n in names:
            self.sweep(n)
        out = {n: dict.fromkeys(STATUSES, 0) for n in names}
        q = "SELECT sweep, status, COUNT(*) FROM models GROUP BY sweep, status"
        for s, st, k in self.con.execute(q):
            if s in out:
                out[s][st] = k
        return out


