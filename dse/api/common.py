"""What every part of the API shares: the store a study opens, sweep names, populations read from it."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from dse.analysis.population import Population
from dse.errors import DseError, ParamError
from dse.store import Store
from dse.store.records import SweepRecord
from dse.validate import name_list as _name_list


class StudyBase:
    """A study's store and its sweeps' names; the topic classes (sampling, training, ...) build on it."""

    def __init__(self, path=None, create: bool = True):
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise ParamError(f"{{path}} must be a store's file path, got {path!r}", "path")
        self.path = Path(path) if path else Path(os.environ.get("DSE_DB") or "dse.sqlite")
        self.create = create

    def __repr__(self) -> str:
        return f"Study({str(self.path)!r})"

    def _exists(self) -> bool:
        """The store's file exists (a path the file system refuses is said as an error, not a traceback)."""
        try:
            return self.path.exists()
        except OSError as e:
            raise DseError(f"cannot open store {str(self.path)[:200]}: {e.strerror or e}") from None

    @contextmanager
    def store(self, write: bool = False):
        """The store, open for the duration of a ``with`` block (created when writing to a new file)."""
        new = write and self.create and not self._exists()
        try:
            with Store(self.path, create=write and self.create) as s:
                yield s
        except BaseException:
            if new:  # a failed first write leaves no empty store behind
                for suffix in ("", "-wal", "-shm"):
                    try:
                        Path(str(self.path) + suffix).unlink(missing_ok=True)
                    except OSError:  # there was no file to remove (the path is not one that can exist)
                        pass
            raise

    # ---- sweeps ----
    def sweeps(self) -> list[str]:
        """Names of the sweeps in the store, oldest first."""
        with self.store() as s:
            return s.sweep_names()

    def sweep(self, name: str) -> SweepRecord:
        with self.store() as s:
            return s.sweep(name)

    def _names(self, s, sweeps, what="sweeps", copies: bool = False) -> list[str]:
        """The named sweeps (checked), or by default every sweep but the copies dse budget-check trains (those
        only when ``copies``: they hold a few models at another budget, not a population of their own)."""
        names = _name_list(sweeps, "sweeps")
        if not names:
            names = [n for n in s.sweep_names() if copies or s.sweep(n).source != "budget"]
        for n in names:
            rec = s.sweep(n)
            if not copies and rec.source == "budget":
                base = n.rsplit("~x", 1)[0]
                raise DseError(f"sweep {n!r} is a copy dse budget-check trained (a few models of {base!r} retrained at "
                               f"a longer budget), not a population or a regime of its own; analyse {base!r}, and "
                               f"compare the budgets with dse budget-check --sweep {base}")
        if not names:
            raise DseError(f"{self.path} holds no sweeps; run `dse sample` (Study.sample) first")
        return names


def _speeds(s, names) -> dict:
    """{sweep: {"infer_ms"|"train_ms": {idx: ms}}}: the timings `dse export` carries (one device)."""
    from dse.store.table import speed_columns

    _, cols = speed_columns(s, names)
    out = {}
    for (sweep, idx), d in cols.items():
        for k in ("infer_ms", "train_ms"):
            if k in d:
                out.setdefault(sweep, {}).setdefault(k, {})[idx] = d[k]
    return out


def _populations(s, names, metric, compare: bool = False) -> dict:
    """{name: Population} of the sweeps ``names``, with the timings of the most measured device. ``compare``: they
    are compared with one another, so sweeps of different tasks, or of one low-level task at different scales or
    noise levels, are refused, naming both (an analysis of each sweep on its own takes any mix)."""
    if compare:
        same_task(s, names)
    sp = _speeds(s, names)
    return {n: Population.from_records(s.sweep(n), s.models(n), metric, sp.get(n)) for n in names}


def same_task(s, names, degradation: bool = True, why: str | None = None):
    """The task (``dse.tasks``) the sweeps ``names`` share; a ParamError naming two that differ in it (saying
    ``why`` that matters, when given), or, with ``degradation``, in the SR scale or noise they undo (their PSNRs are
    not one comparison). Classification when ``names`` is empty."""
    from dse.tasks import task, task_of

    first = None
    for n in names:
        r = s.sweep(n).regime or {}
        t = task_of(r)
        what = (t.name, r.get("scale"), r.get("sigma")) if degradation else (t.name,)
        label = t.name + (f" x{r['scale']}" if r.get("scale") else "") + (f" sigma {r['sigma']:g}"
                                                                          if r.get("sigma") else "")
        if first is None:
            first = (n, what, label, t)
        elif what != first[1]:
            other = what[0] != first[1][0]
            if why is not None:
                pass
            elif not degradation:
                why = "sweeps of different tasks train on different data; train them in separate calls (--sweep)"
            else:
                why = ("not one comparison: their results are different measures; compare sweeps of one task"
                       if other else "not one comparison: a PSNR depends on the degradation it undoes; compare "
                                     "sweeps of one task at one scale and noise")
            raise ParamError(f"{{sweeps}} {first[0]!r} ({first[2]}) and {n!r} ({label}): {why}", "sweeps")
    return first[3] if first else task("classify")


def _regime_x(rec: SweepRecord, pop: Population) -> float:
    """A sweep's place on the complexity axis: its regime's nominal flops (a sweep drawn in a BitOps window: that
    window's upper end), or the median flops of an imported one."""
    if rec.nominal_bitops:
        return float(rec.nominal_bitops)
    return float(rec.nominal_flops or np.median(pop.values("flops")))
