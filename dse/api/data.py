"""A study's populations as records, DataFrames and files: status, models, epochs, export."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from dse.api.common import StudyBase
from dse.errors import ParamError
from dse.store.records import ModelRecord
from dse.validate import check_name, check_output


@dataclass
class SweepStatus:
    """A sweep's models counted by status, its best and median final error, training hours, failures."""

    sweep: str
    space: str
    source: str
    models: int
    counts: dict
    best_error: float | None
    median_error: float | None
    train_hours: float | None
    failures: list
    protocol: dict | None
    regime: int | None = None  # nominal flops of a sampled sweep (its window's upper end)
    stale: dict = field(default_factory=dict)  # {idx: s since its lease expired}: marked running, no live worker

    def to_json(self) -> dict:
        return {"sweep": self.sweep, "space": self.space, "source": self.source, "regime": self.regime,
                "models": self.models,
                **self.counts, "stale": len(self.stale), "best_error": self.best_error, "median_error": self.median_error,
                "train_hours": self.train_hours, "failures": self.failures, "protocol": self.protocol}


def _check_table_path(path) -> None:
    if path is None or str(path) == "-":
        return
    if not isinstance(path, (str, os.PathLike)):
        raise ParamError(f"{{path}} must be a file path or '-', got {path!r}", "path")
    if Path(path).suffix.lower() not in (".csv", ".parquet"):
        raise ParamError(f"{{path}} {path}: unknown table type {Path(path).suffix or '(none)'!r}; use a .csv or "
                         f".parquet file name, or - for standard output", "path")
    check_output(path, "path")


class Data(StudyBase):
    """A study's populations as records, DataFrames and files: status, models, epochs, export."""

    # ---- populations as records and DataFrames ----
    def status(self, sweep: str | None = None) -> list[SweepStatus]:
        """Each sweep (or one) with its models counted by status and its results summarised; the regimes of a
        space come together, ordered by flops."""
        if sweep is not None and not isinstance(sweep, str):
            raise ParamError(f"{{sweep}} must be a sweep name, got {sweep!r}", "sweep")
        with self.store() as s:
            s.check_tables()  # the store's health: a table lost is said here, not only when a command reads it
            out = []
            for n, c in s.status_counts(sweep).items():
                r, e, stale = s.sweep(n), s.errors(n), s.stale(n)
                c = {**c, "running": c["running"] - len(stale)}  # counted apart: nothing is training them
                out.append(SweepStatus(n, r.space_name, r.source, sum(c.values()) + len(stale), c, e["best_error"],
                                       e["median_error"], e["train_hours"], e["failures"], r.protocol,
                                       r.nominal_flops, stale))
        first = {}
        for i, x in enumerate(out):
            first.setdefault(x.space, i)
        return [x for _, x in sorted(enumerate(out), key=lambda t: (
            first[t[1].space], t[1].regime is None, t[1].regime or 0, t[0]))]

    def set_results(self, sweep: str, errors: dict, best: dict | None = None) -> int:
        """Record errors obtained outside dse's trainer (another trainer, a cluster) for models of ``sweep``:
        ``{idx: error %}`` (``best``: best-epoch errors, default the same); each becomes done. All or nothing.

        >>> Study("s.sqlite").set_results("regnetx", {0: 31.5, 1: 29.8})                  # doctest: +SKIP
        2
        """
        check_name(sweep, "sweep", "sweep name")
        if not isinstance(errors, dict) or (best is not None and not isinstance(best, dict)):
            raise ParamError("{errors} must be a dict {model index: error in %}", "errors")
        with self.store(write=True) as s:
            return s.set_results(sweep, errors, best)

    def records(self, sweep: str) -> list[ModelRecord]:
        """The models of a sweep as typed records, in index order."""
        with self.store() as s:
            s.sweep(sweep)
            return s.models(sweep)

    def models(self, sweeps=None):
        """One row per model (the columns of ``dse export``) as a pandas DataFrame."""
        import pandas as pd

        from dse.store import export_rows

        with self.store() as s:
            cols, rows = export_rows(s, self._names(s, sweeps, copies=True))
        return pd.DataFrame([{c: r.get(c) for c in cols} for r in rows], columns=cols)

    def epochs(self, sweeps=None):
        """One row per model and epoch: sweep, id, epoch, train_loss, train_error, test_error, lr, seconds,
        images_per_s (a pandas DataFrame)."""
        import pandas as pd

        from dse.store import EPOCH_COLUMNS

        with self.store() as s:
            recs = s.epoch_rows(self._names(s, sweeps, copies=True))
        return pd.DataFrame([{"sweep": r.sweep, "id": r.idx, **{k: getattr(r, k) for k in EPOCH_COLUMNS}}
                             for r in recs], columns=["sweep", "id", *EPOCH_COLUMNS])

    def export(self, path, sweeps=None, epochs: bool = False, speed_device: str | None = None) -> int:
        """Write the models (or with ``epochs`` the per-epoch rows) to a .csv or .parquet file, or '-' for
        standard output. Returns the number of rows."""
        from dse.store import EPOCH_COLUMNS, export_rows, write_table

        _check_table_path(path)
        with self.store() as s:
            names = self._names(s, sweeps, copies=True)
            if epochs:
                cols = ["sweep", "id", *EPOCH_COLUMNS]
                rows = [{"sweep": r.sweep, "id": r.idx, **{k: getattr(r, k) for k in EPOCH_COLUMNS}}
                        for r in s.epoch_rows(names)]
            else:
                cols, rows = export_rows(s, names, speed_device)
        write_table(cols, rows, path)
        return len(rows)
