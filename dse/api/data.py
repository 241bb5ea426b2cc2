"""A study's populations as records, DataFrames and files: status, models, epochs, export."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from dse.api.common import StudyBase
from dse.tasks import task, task_of
from dse.errors import DseError, ParamError, write_error
from dse.store.records import ModelRecord
from dse.validate import check_output, shown
from dse.validate import MAX_MODELS, METRIC_COLUMN
from dse.params import DEFAULTS as D
from dse.params import Bool, Check, Errors, FilePath, Int, Name, Opt, Text, checked


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
    task: str = "classify"  # dse.tasks: what best_error and median_error are (SR: PSNR in dB, higher is better)
    scale: int | None = None
    sigma: float | None = None  # a denoising sweep's noise level (0-255 scale)
    bitops: int | None = None  # a sweep drawn in a BitOps window: its upper end (regime is then None)

    def to_json(self) -> dict:
        low = {} if self.task == "classify" else {"task": self.task, "scale": self.scale, "sigma": self.sigma,
                                                  "metric": task(self.task).metric.name,
                                                  "unit": task(self.task).metric.unit}
        return {"sweep": self.sweep, "space": self.space, "source": self.source, "regime": self.regime,
                "models": self.models,
                **self.counts, "stale": len(self.stale), "best_error": self.best_error,
                "median_error": self.median_error,
                "train_hours": self.train_hours, "failures": self.failures, "protocol": self.protocol, **low,
                **({"bitops": self.bitops} if self.bitops else {})}


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
    @checked(sweep=Opt(Text()))
    def status(self, sweep: str | None = None) -> list[SweepStatus]:
        """Each sweep (or one) with its models counted by status and its results summarised; the regimes of a
        space come together, ordered by flops."""
        with self.store() as s:
            s.check_tables()  # the store's health: a table lost is said here, not only when a command reads it
            out = []
            for n, c in s.status_counts(sweep).items():
                r = s.sweep(n)
                t = task_of(r.regime)
                e, stale = s.errors(n, t.metric.higher_is_better), s.stale(n)
                c = {**c, "running": c["running"] - len(stale)}  # counted apart: nothing is training them
                out.append(SweepStatus(n, r.space_name, r.source, models=sum(c.values()) + len(stale), counts=c,
                                       best_error=e["best_error"],
                                       median_error=e["median_error"], train_hours=e["train_hours"],
                                       failures=e["failures"], protocol=r.protocol,
                                       regime=r.nominal_flops, stale=stale, task=t.name,
                                       scale=(r.regime or {}).get("scale"), sigma=(r.regime or {}).get("sigma"),
                                       bitops=r.nominal_bitops))
        first = {}
        for i, x in enumerate(out):
            first.setdefault(x.space, i)
        return [x for _, x in sorted(enumerate(out), key=lambda t: (
            first[t[1].space], t[1].regime is None, t[1].regime or 0, t[0]))]

    def progress(self) -> dict:
        """How far training is, for a live view: each sweep's counts by status (stale apart), its models per hour
        and hours left at the measured speed, and each running model's epoch, worker and images/s.

        Models per hour: the models running now (at least 1) x 3600 / the mean training seconds of the sweep's
        finished models; hours left: the pending and running models at that rate (None before a model finished).

        >>> Study("s.sqlite").progress()["sweeps"][0]["hours_left"]                       # doctest: +SKIP
        """
        out = {"sweeps": [], "running": []}
        status = self.status()
        with self.store() as s:
            running = s.running([x.sweep for x in status]) if status else []
            for st in status:
                secs = [m.train_seconds for m in s.models(st.sweep) if m.status == "done" and m.train_seconds]
                busy = sum(1 for r in running if r["sweep"] == st.sweep)
                rate = max(1, busy) * 3600 / (sum(secs) / len(secs)) if secs else None
                left = st.counts["pending"] + st.counts["running"] + len(st.stale)
                out["sweeps"].append({**st.to_json(), "models_per_hour": rate,
                                      "hours_left": left / rate if rate else (0.0 if not left else None)})
        out["running"] = [{"sweep": r["sweep"], "id": r["idx"], "epoch": r["epochs"], "worker": r["worker"],
                           "device": r["device"], "images_per_s": r["images_per_s"]} for r in running]
        return out

    @checked(folder=Check(), top=Opt(Int(1, MAX_MODELS)), base_config=Opt(FilePath()), skip_unexpressible=Bool())
    def export_pycls(self, folder, sweeps=None, *, top: int | None = None, base_config=None,
                     skip_unexpressible: bool = False, metric: str = D.metric) -> dict:
        """Write a pycls sweep folder: ``folder/cfgs/000000.yaml ...``, one pycls job config per model (of ``sweeps``;
        ``top``: each sweep's K lowest-error models), from which pycls builds the network dse stored, with the
        sweep's protocol (or the model's own sampled settings) as OPTIM and TRAIN, over ``base_config`` (a pycls
        YAML: data set paths, GPUs, ...); and ``folder/cfgs_summary.json``: each job's dse sweep and model and the
        complexity dse counted. A model pycls cannot express (1 input channel, a budget in steps) is refused,
        naming it, unless ``skip_unexpressible``. Returns {"written", "skipped": [{sweep, id, why}], "folder"}.

        >>> Study("s.sqlite").export_pycls("pycls_sweep", top=20)                          # doctest: +SKIP
        """
        from dse.store.pycls import job_config, merge, to_yaml

        out, cfgs = _check_pycls_folder(folder)
        col = METRIC_COLUMN[metric]
        base = _read_base_config(base_config) if base_config is not None else {}
        jobs, skipped = [], []
        with self.store() as s:
            names = self._names(s, sweeps)
            for n in names:  # pycls trains classifiers only: said before anything is written
                t = task_of(s.sweep(n).regime)
                if t.low_level:
                    raise ParamError(f"{{sweeps}} {n!r} is {t.a} sweep and pycls trains image classifiers only "
                                     f"(no super-resolution or denoising): export it with dse export FILE instead",
                                     "sweeps")
            for n in names:
                rec, ms = s.sweep(n), s.models(n)
                if top is not None:
                    ms = sorted((m for m in ms if getattr(m, col) is not None), key=lambda m: getattr(m, col))[:top]
                for m in ms:
                    cfg, why = job_config(m, rec.regime, rec.protocol)
                    if why:
                        skipped.append({"sweep": n, "id": m.idx, "why": why})
                    else:
                        jobs.append((n, m, cfg))
        if skipped and not skip_unexpressible:
            first = skipped[0]
            raise ParamError(f"{len(skipped)} model(s) cannot be expressed in pycls, e.g. "
                             f"{first['sweep']}/{first['id']}: "
                             f"{first['why']}; pass {{skip_unexpressible}} to write the {len(jobs)} others",
                             "skip_unexpressible")
        if not jobs:
            raise DseError("no model to write: every model was skipped" if skipped else "no model to write")
        try:
            cfgs.mkdir(parents=True, exist_ok=True)
            summary = {}
            for i, (n, m, cfg) in enumerate(jobs):
                name = f"{i:06d}"
                res = cfg["TRAIN"]["IM_SIZE"]
                head = (f"# dse: sweep {n}, model {m.idx}; dse counts flops {m.flops}, params {m.params}, acts "
                        f"{m.acts} "
                        f"at {res} px\n")
                (cfgs / f"{name}.yaml").write_text(head + to_yaml(merge(base, cfg)))
                summary[name] = {"sweep": n, "id": m.idx, "flops": m.flops, "params": m.params, "acts": m.acts,
                                 "im_size": res}
            (out / "cfgs_summary.json").write_text(json.dumps(summary, indent=1, sort_keys=True))
        except OSError as e:
            raise write_error(out, e) from None
        return {"written": len(jobs), "skipped": skipped, "folder": str(out)}

    @checked(path=FilePath(), sweep=Name())
    def import_pycls(self, path, sweep: str) -> int:
        """Read a pycls ``sweep.json`` (tools/sweep_collect.py) into a new sweep: each job's network from its cfg
        (checked against its logged complexity), its final and best test error and per-epoch rows (a job that did
        not finish is pending, or failed with its stderr's last line), and the protocol from the cfgs (a setting
        that varies between jobs is each model's own). All or nothing. Returns the number of models.

        >>> Study("s.sqlite").import_pycls("sweeps/regnetx/sweep.json", "pycls_regnetx")  # doctest: +SKIP
        """
        from dse.spaces.sweeps import import_pycls_sweep

        if not Path(path).is_file():
            raise ParamError(f"{{path}} {path}: no such file (a pycls sweep.json)", "path")
        with self.store(write=True) as s:
            return import_pycls_sweep(s, path, sweep)

    @checked(errors=Errors(), best=Opt(Errors()))
    def set_results(self, sweep: str, errors: dict, *, best: dict | None = None) -> int:
        """Record errors obtained outside dse's trainer (another trainer, a cluster) for models of ``sweep``:
        ``{idx: error %}`` (``best``: best-epoch errors, default the same); each becomes done. All or nothing.

        >>> Study("s.sqlite").set_results("regnetx", {0: 31.5, 1: 29.8})                  # doctest: +SKIP
        2
        """
        with self.store(write=True) as s:
            return s.set_results(sweep, errors, best)

    @checked()
    def records(self, sweep: str) -> list[ModelRecord]:
        """The models of a sweep as typed records, in index order."""
        with self.store() as s:
            s.sweep(sweep)
            return s.models(sweep)

    @checked()
    def models(self, sweeps=None):
        """One row per model (the columns of ``dse export``) as a pandas DataFrame."""
        import pandas as pd

        from dse.store import export_rows

        with self.store() as s:
            cols, rows = export_rows(s, self._names(s, sweeps, copies=True))
        return pd.DataFrame([{c: r.get(c) for c in cols} for r in rows], columns=cols)

    @checked()
    def epochs(self, sweeps=None):
        """One row per model and epoch: sweep, id, epoch, train_loss, train_error, test_error, lr, seconds,
        images_per_s (a pandas DataFrame)."""
        import pandas as pd

        from dse.store import EPOCH_COLUMNS

        with self.store() as s:
            recs = s.epoch_rows(self._names(s, sweeps, copies=True))
        return pd.DataFrame([{"sweep": r.sweep, "id": r.idx, **{k: getattr(r, k) for k in EPOCH_COLUMNS}}
                             for r in recs], columns=["sweep", "id", *EPOCH_COLUMNS])

    @checked(path=FilePath(), epochs=Bool(), speed_device=Opt(Text()))
    def export(self, path, sweeps=None, *, epochs: bool = False, speed_device: str | None = None) -> int:
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


MAX_BASE_CONFIG = 1 << 20  # bytes: a pycls config is a few kB; a bigger file (or /dev/zero) is not one


def _check_pycls_folder(folder) -> tuple[Path, Path]:
    """The folder a pycls sweep is written to: a non-empty path, not a file, without job configs yet."""
    if not isinstance(folder, (str, os.PathLike)) or not str(folder).strip():
        raise ParamError(f"{{folder}} must be a folder path (created when missing), got {shown(folder)}", "folder")
    out, cfgs = Path(folder), Path(folder) / "cfgs"
    try:
        if out.exists() and not out.is_dir():
            raise ParamError(f"{{folder}} {out} is a file; give a folder (it is created when missing)", "folder")
        if cfgs.is_dir() and any(cfgs.glob("*.yaml")):
            raise ParamError(f"{{folder}} {out}: {cfgs} already holds job configs; give an empty or new folder "
                             f"(a pycls sweep is one folder)", "folder")
        parent = next((p for p in out.absolute().parents if p.exists()), None)
        if parent is not None and not parent.is_dir():
            raise ParamError(f"{{folder}} {shown(str(out))}: {parent} is a file, not a folder", "folder")
    except OSError as e:  # a name too long, a folder we may not look into
        raise ParamError(f"{{folder}} {shown(str(out))}: cannot use it ({e.strerror or e})", "folder") from None
    return out, cfgs


def _read_base_config(path) -> dict:
    """A pycls YAML the exported configs start from (read with PyYAML; a regular file of at most 1 MiB)."""
    import stat

    import yaml

    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise ParamError(f"{{base_config}} must be a YAML file path, got {shown(path)}", "base_config")
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise ParamError(f"{{base_config}} {path}: not a regular file (a pipe, device or folder); give a pycls "
                             f"YAML file", "base_config")
        if st.st_size > MAX_BASE_CONFIG:
            raise ParamError(f"{{base_config}} {path}: {st.st_size:,} bytes; a pycls config is at most "
                             f"{MAX_BASE_CONFIG:,}", "base_config")
        with open(path, "rb") as f:
            raw = f.read(MAX_BASE_CONFIG + 1)
        if len(raw) > MAX_BASE_CONFIG:
            raise ParamError(f"{{base_config}} {path}: more than {MAX_BASE_CONFIG:,} bytes; a pycls config is "
                             f"smaller", "base_config")
        text = raw.decode("utf-8")
        for ev in yaml.parse(text):  # anchors and aliases: a few bytes can expand to 10^8 values (or loop)
            if isinstance(ev, yaml.AliasEvent) or getattr(ev, "anchor", None):
                raise ParamError(f"{{base_config}} {path}: YAML anchors and aliases (&name, *name) are not taken "
                                 f"here; write the values out", "base_config")
        data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError) as e:
        raise ParamError(f"{{base_config}} {shown(str(path))}: cannot read it ({getattr(e, 'strerror', None) or e})",
                         "base_config") from None
    except yaml.YAMLError as e:
        raise ParamError(f"{{base_config}} {path}: not YAML ({str(e).splitlines()[0]})", "base_config") from None
    except RecursionError:
        raise ParamError(f"{{base_config}} {path}: nested too deeply to be a pycls config", "base_config") from None
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise ParamError(f"{{base_config}} {path}: a pycls config is a YAML table of named sections (MODEL:, "
                         f"OPTIM:, ...)", "base_config")
    unknown = sorted(k for k in data if k not in PYCLS_KEYS)
    if unknown:
        raise ParamError(f"{{base_config}} {path}: {', '.join(map(repr, unknown[:5]))} "
                         f"{'is' if len(unknown) == 1 else 'are'} no pycls config key; its keys: "
                         f"{', '.join(PYCLS_KEYS)}", "base_config")
    return data


# pycls's top-level config keys (pycls 0.1.1's pycls/core/config.py, and LN, VIT, LAUNCH, PORT of later versions)
PYCLS_KEYS = ("ANYNET", "BN", "CFG_DEST", "CUDNN", "DATA_LOADER", "DIST_BACKEND", "DOWNLOAD_CACHE", "EN", "HOST",
              "LAUNCH", "LN", "LOG_DEST", "LOG_PERIOD", "MEM", "MODEL", "NUM_GPUS", "OPTIM", "OUT_DIR", "PORT",
              "PORT_RANGE", "PREC_TIME", "REGNET", "RESNET", "RNG_SEED", "TEST", "TRAIN", "VIT")
