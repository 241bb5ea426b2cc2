"""SQLite store: sweeps and their models (and room for training results). Safe for several processes.

WAL journal, a busy timeout, and every write in one ``BEGIN IMMEDIATE`` transaction, so concurrent
``dse`` processes on one file serialise their writes and readers never see half a change.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

from dse import __version__
from dse.errors import DseError
from dse.models.arch import Arch, model_key
from dse.errors import StoreDamaged  # noqa: F401 (re-exported)
from dse.store.connection import (HOST, _alive, _Connection, default_db_path, lock_timeout,  # noqa: F401
                                  worker_id)  # noqa: F401 (worker_id re-exported)
from dse.store.decode import _extra, _fit_dict, _record, _sweep_shape, salvage
from dse.store.queue import WorkQueue
from dse.store.records import EpochRecord, ModelRecord, SweepRecord
from dse.store.speeds import Speeds
from dse.store.schema import _SCHEMA, _SPEED_TABLES, EPOCH_COLUMNS, MODEL_COLUMNS, SCHEMA_VERSION, TABLES  # noqa: F401
from dse.validate import STATUSES, is_number, shown  # noqa: F401 (STATUSES: one list, re-exported)

WAIT_NOTICE_S = 3.0  # a write waits this long for another writer silently, then says it is waiting


class Store(WorkQueue, Speeds):
    """One SQLite file of sweeps: its sweeps and models here, the work queue (``dse.store.queue``) and the timings
    (``dse.store.speeds``) in their own modules. ``Store(path)`` opens (creating it when ``create``) and checks it.

    ``create=False`` (what read-only commands use) never writes into a file that is not yet a store (an empty
    file stays empty). A write waits ``timeout`` seconds (default ``$DSE_LOCK_TIMEOUT`` or 60) for another
    writer's lock, saying so on standard error after a few seconds, then raises a DseError.
    """

    def __init__(self, path=None, create: bool = True, timeout: float | None = None):
        self.path = Path(path) if path else default_db_path()
        self.timeout = lock_timeout() if timeout is None else timeout
        self.create = create
        try:
            self._check_path(create)
        except OSError as e:  # a name too long, a path through a file, ...: said, not a traceback
            raise DseError(f"cannot open store {str(self.path)[:200]}: {e.strerror or e}") from None
        try:
            tables = self._connect(self.path)
        except sqlite3.OperationalError as e:
            # a store on a read-only file system (or in a folder this user may not write) cannot get its WAL
            # index files: a command that only reads opens it as an immutable file instead
            if create and self.path.exists() and not _writable(self.path):
                raise DseError(f"{self.path} is read-only and this command writes to the store (this user may not "
                               f"write the file or its folder {self.path.resolve().parent}, where SQLite keeps its "
                               f"journal); make them writable, or copy the store (cp {self.path} copy.sqlite) and "
                               f"pass --db copy.sqlite") from None
            if create and not self.path.exists():
                folder = self.path.resolve().parent
                if not os.access(folder, os.W_OK) or _read_only_fs(folder):
                    raise DseError(f"cannot create store {self.path}: its folder {folder} is read-only for this user "
                                   f"({'a read-only file system' if _read_only_fs(folder) else 'no write permission'})"
                                   f"; pass --db PATH in a folder you may write") from None
            if create or not self.path.exists() or not any(m in str(e) for m in ("unable to open", "readonly")):
                raise DseError(f"{self.path} cannot be opened ({e}); pass another --db PATH") from None
            try:
                tables = self._connect(f"file:{quote(str(self.path.resolve()))}?immutable=1", uri=True)
            except sqlite3.DatabaseError as e2:
                raise DseError(f"{self.path} is not a dse store ({e2}); pass another --db PATH") from None
        except sqlite3.DatabaseError as e:
            raise DseError(f"{self.path} is not a dse store ({e}); pass another --db PATH") from None
        self.con.execute("PRAGMA foreign_keys = ON")
        self._init(tables)

    def _check_path(self, create: bool) -> None:
        str(self.path.resolve())  # a name the file system refuses (too long) raises OSError here, said by __init__
        if not self.path.exists():
            if not create:
                raise DseError(f"no store at {self.path}: run `dse sample` first, or pass --db PATH / set DSE_DB")
            if self.path.parent and not self.path.parent.exists():
                raise DseError(f"cannot create store {self.path}: folder {self.path.parent} does not exist")
            if not self.path.parent.is_dir():
                raise DseError(f"cannot create store {self.path}: {self.path.parent} is a file, not a folder")
        if self.path.is_dir():
            raise DseError(f"{self.path} is a folder, not a store; pass --db FILE")

    def _connect(self, target, uri: bool = False) -> set:
        """Open the connection; the first read, unwrapped (a file SQLite cannot read at all is not a store rather
        than a damaged one): the names of its tables."""
        self.con = sqlite3.connect(target, timeout=min(self.timeout, WAIT_NOTICE_S), isolation_level=None,
                                   factory=_Connection, uri=uri)
        self.con.dse_path = self.path
        self.con.row_factory = sqlite3.Row
        return {r[0] for r in sqlite3.Connection.execute(
            self.con, "SELECT name FROM sqlite_master WHERE type='table'").fetchall()}

    def _init(self, tables):
        if not tables:
            if not self.create:  # a read-only command never turns a file into a store
                what = "an empty file" if not self.path.stat().st_size else "an SQLite file with no tables"
                raise DseError(f"{self.path} is {what}, not a dse store: pass the store's path with --db (or run "
                               f"`dse sample` to create one there)")
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
        if meta.get("app") == "dse":
            self.check_tables(tables, ("sweeps", "models"))
        if meta.get("app") != "dse":
            raise DseError(f"{self.path} is an SQLite file but not a dse store; pass another --db PATH")
        try:
            v = int(meta.get("schema_version", 0))
        except ValueError:
            raise StoreDamaged(f"{self.path} is damaged: its schema version {meta['schema_version']!r} is not a "
                               f"number. {salvage(self.path)}") from None
        if v > SCHEMA_VERSION:
            raise DseError(f"{self.path} has store schema {v}, newer than this dse ({__version__}, schema "
                           f"{SCHEMA_VERSION}); upgrade dse")
        if v < SCHEMA_VERSION and (self.create or v < 2):  # older stores gain what is new when a command writes
            # (a reader takes the store as it is: reading never changes its bytes; only stores from before the
            # timing tables, schema 1, cannot be read without them)
            try:
                with self.write() as c:
                    # under the write lock: another process may have migrated it since we looked
                    v = int(dict(c.execute("SELECT key, value FROM meta").fetchall()).get("schema_version", v))
                    if v < 2:  # the (empty) speed tables, as they are now
                        for stmt in filter(str.strip, _SPEED_TABLES.split(";")):
                            c.execute(stmt)
                    elif v < 3:  # the spread of each timing's repeats (unknown for timings made before)
                        c.execute("ALTER TABLE speeds ADD COLUMN spread REAL")
                    cols = {r[1] for r in c.execute("PRAGMA table_info(models)")}
                    if v < 4 and "block" not in cols:  # the block's name beside se (the rows before: all NULL,
                        c.execute("ALTER TABLE models ADD COLUMN block TEXT")  # res_bottleneck)
                    if v < SCHEMA_VERSION:
                        c.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
            except DseError:
                if self.create or v < 2:  # a store that may not be written is still read as it is
                    raise

    def check_tables(self, tables=None, need=TABLES) -> None:
        """StoreDamaged when a table of ``need`` is missing (every command needs sweeps and models; `dse status`
        checks all, other commands find out when they read one)."""
        if tables is None:
            tables = {r[0] for r in self.con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        missing = [t for t in need if t not in tables]
        if missing:
            raise StoreDamaged(f"{self.path} is damaged: its table{'s' if len(missing) > 1 else ''} "
                               f"{' and '.join(missing)} {'are' if len(missing) > 1 else 'is'} missing. "
                               f"{salvage(self.path)}")

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
        self._begin()
        try:
            yield c
        except BaseException:
            c.execute("ROLLBACK")
            raise
        c.execute("COMMIT")

    def _begin(self):
        """BEGIN IMMEDIATE, waiting for another writer: a short wait silently, then a message, then up to the
        timeout in all; a DseError after that."""
        try:
            self.con.execute("BEGIN IMMEDIATE")
            return
        except DseError as e:
            if "locked" not in str(e) or self.timeout <= WAIT_NOTICE_S:
                raise
        rest = self.timeout - WAIT_NOTICE_S
        sys.stderr.write(f"{self.path} is locked by another process writing to it; waiting up to {rest:.0f} s more "
                         f"(DSE_LOCK_TIMEOUT)\n")
        sys.stderr.flush()
        self.con.execute(f"PRAGMA busy_timeout = {int(rest * 1000)}")
        try:
            self.con.execute("BEGIN IMMEDIATE")
        finally:
            self.con.execute(f"PRAGMA busy_timeout = {int(min(self.timeout, WAIT_NOTICE_S) * 1000)}")

    # ---- sweeps ----
    def sweep_names(self) -> list[str]:
        return [r[0] for r in self.con.execute("SELECT name FROM sweeps ORDER BY created, rowid")]

    def sweep(self, name: str) -> SweepRecord:
        """The sweep's record; unknown names list the known ones."""
        r = self.con.execute("SELECT * FROM sweeps WHERE name = ?", (name,)).fetchone()
        if r is None:
            known = self.sweep_names()
            raise DseError(f"unknown sweep {shown(name)} in {self.path}; known sweeps: "
                           + (", ".join(known) if known else "none yet (run `dse sample`)"))
        d = dict(r)
        for k in ("space", "regime", "protocol"):
            try:
                d[k] = json.loads(d[k]) if d[k] else None
                if d[k] is not None and not isinstance(d[k], dict):
                    raise ValueError("not a JSON object")
            except (ValueError, TypeError) as e:
                raise StoreDamaged(f"{self.path} is damaged: sweep {name!r}: column {k} does not decode ({e}). "
                                   f"{salvage(self.path)}") from None
        bad = _sweep_shape(d)
        if bad:
            raise StoreDamaged(f"{self.path} is damaged: sweep {name!r}: {bad}. {salvage(self.path)}")
        return SweepRecord(**d)

    def create_sweep(self, c, name, space_name, space, regime, seed, source):
        c.execute(
            "INSERT INTO sweeps (name, space_name, space, regime, seed, source, created, dse_version)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (name, space_name, json.dumps(space, sort_keys=True) if space is not None else None,
             json.dumps(regime, sort_keys=True), seed, source,
             datetime.now(timezone.utc).isoformat(timespec="seconds"), __version__),
        )

    def set_protocol_of_import(self, c, sweep: str, protocol: dict) -> None:
        """The protocol an imported population was trained under (read from its own records), inside ``c``."""
        c.execute("UPDATE sweeps SET protocol = ? WHERE name = ?", (json.dumps(protocol, sort_keys=True), sweep))

    def add_models(self, c, sweep: str, models, start: int):
        """Insert models (dicts with arch, flops, params, acts and optional fields) from index ``start``."""
        rows = []
        idx = [m.get("idx", start + i) for i, m in enumerate(models)]  # an import keeps the table's own ids
        for i, m in enumerate(models):
            arch: Arch = m["arch"]
            rp = m.get("regnet") or {}
            rows.append((sweep, idx[i], m.get("key") or model_key(arch, m.get("settings")),
                         json.dumps(arch.to_dict()), arch.stages, arch.depth,
                         int(arch.se), arch.block, rp.get("w0"), rp.get("wa"), rp.get("wm"), m["flops"], m["params"],
                         m["acts"], m.get("status", "pending"), m.get("error"), m.get("best_error"),
                         m.get("epochs"), m.get("train_seconds"), m.get("images_per_s"), m.get("reason"),
                         _extra({"regnet": rp, "fit": _fit_dict(m.get("fit")), "settings": m.get("settings"),
                                 "trained": m.get("trained")})))
        c.executemany(
            "INSERT INTO models (sweep, idx, key, arch, stages, depth, se, block, w0, wa, wm, flops, params, acts,"
            " status, error, best_error, epochs, train_seconds, images_per_s, reason, extra)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows)
        for i, m in enumerate(models):  # per-epoch rows that came with an imported population (pycls logs)
            if m.get("rows"):
                c.executemany(f"INSERT INTO epochs (sweep, idx, {', '.join(EPOCH_COLUMNS)}) VALUES "
                              f"({', '.join('?' * (len(EPOCH_COLUMNS) + 2))})",
                              [(sweep, idx[i], *(r.get(k) for k in EPOCH_COLUMNS)) for r in m["rows"]])
        for i, m in enumerate(models):  # timings that came with an imported table
            for dev, mode, batch, ms in m.get("speeds") or ():
                self.add_speed(sweep, idx[i], dev, mode=mode, batch=batch, ms=ms, torch_version="imported", c=c)

    def copy_models(self, c, src: str, dst: str, idxs) -> int:
        """Copy models ``idxs`` of sweep ``src`` into sweep ``dst`` under the same index, untrained (inside a write
        transaction ``c``); models already there are left alone. Returns how many were added."""
        q = ("INSERT OR IGNORE INTO models (sweep, idx, key, arch, stages, depth, se, w0, wa, wm, flops, params, acts,"
             " extra) SELECT ?, idx, key, arch, stages, depth, se, w0, wa, wm, flops, params, acts, extra FROM models"
             " WHERE sweep = ? AND idx = ?")
        n = 0
        for i in idxs:
            n += c.execute(q, (dst, src, int(i))).rowcount
        for (i, raw) in c.execute("SELECT idx, extra FROM models WHERE sweep = ?", (dst,)).fetchall():
            extra = json.loads(raw) if raw else {}
            if extra.pop("trained", None) is not None:  # what the original trained with is not the copy's
                c.execute("UPDATE models SET extra = ? WHERE sweep = ? AND idx = ? AND status = 'pending'",
                          (json.dumps(extra) if extra else None, dst, i))
        return n

    def model_keys(self, sweep: str) -> list[str]:
        return [r[0] for r in self.con.execute("SELECT key FROM models WHERE sweep = ? ORDER BY idx", (sweep,))]

    def next_index(self, c, sweep: str) -> int:
        """The index the next model added to ``sweep`` gets (inside a write transaction ``c``)."""
        return c.execute("SELECT COALESCE(MAX(idx) + 1, 0) FROM models WHERE sweep = ?", (sweep,)).fetchone()[0]

    def models(self, sweep: str) -> list[ModelRecord]:
        """All models of a sweep in index order."""
        rows = self.con.execute(
            f"SELECT {', '.join(MODEL_COLUMNS)} FROM models WHERE sweep = ? ORDER BY idx", (sweep,)).fetchall()
        return [self._record(sweep, r) for r in rows]

    def _record(self, sweep, r) -> ModelRecord:
        try:
            return _record(sweep, r)
        except StoreDamaged as e:
            raise StoreDamaged(f"{self.path} is damaged: {e}. {salvage(self.path)}") from None

    def set_fits(self, sweep: str, fits: dict) -> None:
        """Store RegNet fits ``{idx: Fit}`` of models of ``sweep`` (kept beside their other extra numbers)."""
        if not fits:
            return
        with self.write() as c:
            for idx, f in fits.items():
                r = c.execute("SELECT extra FROM models WHERE sweep = ? AND idx = ?", (sweep, idx)).fetchone()
                if r is None:
                    raise DseError(f"sweep {sweep!r} has no model {idx}")
                extra = json.loads(r[0]) if r[0] else {}
                extra["fit"] = f.to_dict()
                c.execute("UPDATE models SET extra = ? WHERE sweep = ? AND idx = ?", (json.dumps(extra), sweep, idx))

    def set_results(self, sweep: str, errors: dict, best: dict | None = None) -> int:
        """Record errors obtained outside dse's trainer for models of ``sweep`` by index (``{idx: error %}``;
        ``best``: their best-epoch errors, default the same): each becomes done. All or nothing: an unknown
        index, an error outside 0..100, or a model a worker holds now refuses the whole call. Returns the count."""
        import math

        with self.write() as c:
            self.sweep(sweep)
            for idx, e in errors.items():
                b = (best or {}).get(idx, e)
                if not all(isinstance(v, (int, float)) and math.isfinite(v) and 0 <= v <= 100 for v in (e, b)):
                    raise DseError(f"sweep {sweep!r}, model {idx}: error {e!r} (best {b!r}) is not a top-1 error in % "
                                   f"(0..100)")
                r = c.execute("SELECT status FROM models WHERE sweep = ? AND idx = ?", (sweep, idx)).fetchone()
                if r is None:
                    raise DseError(f"sweep {sweep!r} has no model {idx}")
                if r[0] == "running":
                    raise DseError(f"sweep {sweep!r}, model {idx} is being trained now; its result comes from there")
                c.execute("UPDATE models SET status = 'done', error = ?, best_error = ?, reason = NULL, worker = NULL "
                          "WHERE sweep = ? AND idx = ?", (float(e), float(b), sweep, idx))
        return len(errors)

    def status_counts(self, sweep: str | None = None) -> dict:
        """{sweep: {status: count}} with every status present (zeros included)."""
        names = [sweep] if sweep is not None else self.sweep_names()
        for n in names:
            self.sweep(n)
        out = {n: dict.fromkeys(STATUSES, 0) for n in names}
        q = "SELECT sweep, status, COUNT(*) FROM models GROUP BY sweep, status"
        for s, st, k in self.con.execute(q):
            if s in out:
                if st not in STATUSES:
                    raise StoreDamaged(f"{self.path} is damaged: sweep {s!r} has {k} model(s) with status {st!r}; "
                                       f"known: {', '.join(STATUSES)}. {salvage(self.path)}")
                out[s][st] = k
        return out

    # ---- training: protocol, claims with leases, results ----
    def set_protocol(self, sweep: str, protocol: dict, train_cx) -> dict | None:
        """Fix the sweep's protocol if it has none, and store the complexity at training resolution of every
        model that lacks it via ``train_cx(archs, resolutions) -> (flops, params, acts)`` (a resolution is the
        model's sampled one, or None); returns the protocol already stored when it differs, else None."""
        with self.write() as c:
            row = c.execute("SELECT protocol FROM sweeps WHERE name = ?", (sweep,)).fetchone()
            if row is None:
                raise DseError(f"unknown sweep {shown(sweep)}")
            if row[0] is not None:
                old = json.loads(row[0])
                if old != json.loads(json.dumps(protocol)):
                    return old
            else:
                c.execute("UPDATE sweeps SET protocol = ? WHERE name = ?",
                          (json.dumps(protocol, sort_keys=True), sweep))
            # models added after the protocol was fixed (a top-up) get their counts here too
            rows = c.execute("SELECT idx, arch, extra FROM models WHERE sweep = ? AND train_flops IS NULL",
                             (sweep,)).fetchall()
            if rows:
                res = [((json.loads(r[2]) if r[2] else {}).get("settings") or {}).get("resolution") for r in rows]
                f, p, a = train_cx([Arch.from_dict(json.loads(r[1])) for r in rows], res)
                c.executemany("UPDATE models SET train_flops = ?, train_params = ?, train_acts = ? WHERE sweep = ? "
                              "AND idx = ?",
                              [(int(fi), int(pi), int(ai), sweep, r[0]) for r, fi, pi, ai in zip(rows, f, p, a)])
        return None

    def reset_protocol(self, sweep: str, discard: bool = False, check_only: bool = False) -> int:
        """Forget the sweep's stored protocol (and the complexity at its training resolution). Refused while a
        model runs, or while any has results (done, failed, diverged, or epochs of a partial run) unless
        ``discard``: then every model goes back to pending with its results and epoch rows deleted. Returns
        how many models lost results; ``check_only``: only the refusals."""
        with self.write() as c:
            if c.execute("SELECT 1 FROM sweeps WHERE name = ?", (sweep,)).fetchone() is None:
                raise DseError(f"unknown sweep {shown(sweep)}")
            self._reclaim(c, time.time())
            running = c.execute("SELECT COUNT(*) FROM models WHERE sweep = ? AND status = 'running'",
                                (sweep,)).fetchone()[0]
            if running:
                raise DseError(f"sweep {sweep!r} has {running} model(s) training now; stop those `dse train` "
                               f"processes before resetting its protocol")
            had = c.execute("SELECT COUNT(*) FROM models WHERE sweep = ? AND (status != 'pending' OR epochs IS NOT "
                            "NULL)", (sweep,)).fetchone()[0]
            if had and not discard:
                raise DseError(f"sweep {sweep!r} has {had} model(s) with results under its stored protocol; "
                               f"resetting it would mix protocols. Add --discard-results to delete those results "
                               f"and retrain every model (export them first to keep a copy)")
            if check_only:
                return had
            c.execute("UPDATE models SET status = 'pending', error = NULL, best_error = NULL, epochs = NULL, "
                      "train_seconds = NULL, images_per_s = NULL, device = NULL, reason = NULL, worker = NULL, "
                      "lease_until = NULL, heartbeat = NULL, attempts = 0, train_flops = NULL, train_params = NULL, "
                      "train_acts = NULL WHERE sweep = ?", (sweep,))
            c.execute("DELETE FROM epochs WHERE sweep = ?", (sweep,))
            for (i, raw) in c.execute("SELECT idx, extra FROM models WHERE sweep = ? AND extra LIKE '%trained%'",
                                      (sweep,)).fetchall():
                extra = json.loads(raw)
                if extra.pop("trained", None) is not None:
                    c.execute("UPDATE models SET extra = ? WHERE sweep = ? AND idx = ?",
                              (json.dumps(extra) if extra else None, sweep, i))
            c.execute("UPDATE sweeps SET protocol = NULL WHERE name = ?", (sweep,))
            return had

    def errors(self, sweep, higher_is_better: bool = False) -> dict:
        """Summary of a sweep's results: best and median final error (PSNR: ``higher_is_better``), train hours,
        failures with reasons."""
        errs = [r[0] for r in self.con.execute(
            "SELECT error FROM models WHERE sweep = ? AND status = 'done' AND error IS NOT NULL", (sweep,))]
        if any(isinstance(e, (str, bytes)) for e in errs):
            raise StoreDamaged(f"{self.path} is damaged: sweep {sweep!r} has an error that is not a number. "
                               f"{salvage(self.path)}")
        errs.sort(reverse=higher_is_better)
        hours = self.con.execute("SELECT SUM(train_seconds) FROM models WHERE sweep = ?", (sweep,)).fetchone()[0]
        fails = [{"id": r[0], "status": r[1], "reason": r[2]} for r in self.con.execute(
            "SELECT idx, status, reason FROM models WHERE sweep = ? AND status IN ('failed', 'diverged') ORDER BY idx",
            (sweep,))]
        n = len(errs)
        med = None if not n else (errs[n // 2] if n % 2 else (errs[n // 2 - 1] + errs[n // 2]) / 2)
        return {"best_error": errs[0] if n else None, "median_error": med,
                "train_hours": hours / 3600 if hours else None, "failures": fails}

    def epoch_rows(self, sweeps) -> list[EpochRecord]:
        """Per-epoch records of the models of ``sweeps``, by sweep, model and epoch."""
        out = []
        for s in sweeps:
            q = f"SELECT sweep, idx, {', '.join(EPOCH_COLUMNS)} FROM epochs WHERE sweep = ? ORDER BY idx, epoch"
            for r in self.con.execute(q, (s,)):
                bad = [k for k in EPOCH_COLUMNS if r[k] is not None and not is_number(r[k])]
                if bad:
                    raise StoreDamaged(f"{self.path} is damaged: sweep {s!r}, model {r['idx']}, epoch {r['epoch']!r}: "
                                       f"column {bad[0]} holds {r[bad[0]]!r}, not a number. {salvage(self.path)}")
                out.append(EpochRecord(**dict(r)))
        return out


def _writable(path: Path) -> bool:
    """This user may write the store and its folder (the journal and WAL files live beside it), on a writable
    file system."""
    try:
        folder = path.resolve().parent
        return os.access(path, os.W_OK) and os.access(folder, os.W_OK) and not _read_only_fs(folder)
    except OSError:
        return False


def _read_only_fs(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return False
