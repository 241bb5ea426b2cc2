"""The paper's findings as verdicts (``dse findings``), the study that would test them (``--plan``) and running it
(``--run``)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from dse.analysis.cost import Estimate
from dse.analysis.findings import FINDINGS, FindingsResult, Sample, judge
from dse.api.common import _populations, _regime_x
from dse.api.costs import Costs, sizes
from dse.errors import DseError, ParamError
from dse.params import DEFAULTS as D
from dse.params import REGIME, REGIME_DEFAULTS, TASK_REGIME
from dse.tasks import task_of
from dse.api.training import RunOptions
from dse.params import Bool, Budget, Choice, Instance, Int, Names, Opt, Setting, Text, checked
from dse.validate import DATASETS, MAX_MODELS, shown
from dse.units import parse_regimes, regime_label

PARAMS = ("depth", "b", "g", "wm", "w0", "lr", "wd")  # what the findings read of each model
# the spaces a full test of the findings samples, and the scales a study can have
PLAN_SPACES = ("regnetx", "regnety", "regnet", "regnetx_inverted", "regnetx_dw", "regnetx_res", "regnetx_lrwd")
SCALES = {
    "paper": {"regimes": "200MF,400MF,800MF,1.6GF,3.2GF", "n": 100, "budget": "10ep",  # at the paper's regime
              **{k: v for k, v in REGIME_DEFAULTS.items() if k != "flops" and k not in TASK_REGIME},
              "dataset": "imagefolder",
              "train_size": None, "test_size": None},
    "cpu": {"regimes": "2MF,4MF,8MF", "n": 24, "budget": "2ep", "resolution": 28, "stem": "cifar", "in_channels": 1,
            "num_classes": 10, "dataset": "fashion-mnist", "train_size": 5000, "test_size": 2000},
}


@dataclass
class FindingsPlan:
    """The study that would test every finding: per (space, regime) the sweep, the models it needs, the seconds one
    model takes on this machine (``source``: the store's trained models, or a short timing), and the commands."""

    scale: str
    settings: dict
    rows: list  # [{"space", "regime", "sweep", "have", "add", "seconds_per_model"}]
    source: str
    notes: list = field(default_factory=list)
    estimate: Estimate | None = None  # the whole plan's time on the workers dse train would choose, with its range

    @property
    def models(self) -> int:
        return sum(r["add"] for r in self.rows)

    @property
    def seconds(self) -> float:
        """The plan's training time here: the estimate over the chosen workers, else the models' sum."""
        if self.estimate is not None:
            return float(self.estimate.seconds)
        return float(sum(r["add"] * r["seconds_per_model"] for r in self.rows))

    @property
    def range(self) -> tuple[float, float]:
        """(low, high) seconds of the plan's training time."""
        if self.estimate is not None:
            return float(self.estimate.low), float(self.estimate.high)
        return self.seconds, self.seconds

    def commands(self, db: str | None = None) -> list[str]:
        s, at = self.settings, f" --db {db}" if db else ""
        cx = (f" --resolution {s['resolution']} --stem {s['stem']} --in-channels {s['in_channels']} --num-classes "
              f"{s['num_classes']}")
        out = [f"dse sample --space {sp} --regimes {s['regimes']} -n {s['n']}{cx}{at}"
               for sp in dict.fromkeys(r["space"] for r in self.rows)]
        sizes = "".join(f" --{k.replace('_', '-')} {s[k]}" for k in ("train_size", "test_size") if s.get(k))
        where = " --data-dir DIR" if s["dataset"] in ("imagefolder", "cifar10") else ""  # (the user's copy)
        out.append(f"dse train --budget {s['budget']} --dataset {s['dataset']}{where}{sizes}{at}")
        return out + [f"dse findings{at}"]

    def to_json(self) -> dict:
        return {"scale": self.scale, "settings": self.settings, "rows": self.rows, "models": self.models,
                "seconds": self.seconds, "seconds_low": self.range[0], "seconds_high": self.range[1],
                "source": self.source, "notes": self.notes, "commands": self.commands()}


def _plan_spaces(spaces) -> list:
    """The spaces a plan samples: ``None`` the findings' own (PLAN_SPACES); else names or files as a list or
    comma-separated, each once (a repeat would count its models twice); an empty list or name is refused."""
    if spaces is None:
        return list(PLAN_SPACES)
    items = list(spaces) if isinstance(spaces, (list, tuple)) else str(spaces).split(",")
    items = [x.strip() if isinstance(x, str) else x for x in items]
    if not items or any(not isinstance(x, str) or not x for x in items):
        raise ParamError(f"{{spaces}} {shown(spaces)}: name one or more spaces (built-in names or space files), "
                         f"separated by commas, e.g. regnetx,regnety; an empty name is no space", "spaces")
    return list(dict.fromkeys(items))


def _check_plan(plan) -> None:
    """A plan built or changed by hand is checked like any other input before anything is written: its settings
    (the scale's keys, each as findings_plan checks it) and at least one row."""
    if not plan.rows:
        raise ParamError("{plan} holds no sweeps: nothing to sample or train (an empty plan never means every "
                         "sweep)", "plan")
    st = plan.settings
    missing = [k for k in SCALES["cpu"] if k not in st] if isinstance(st, dict) else ["all"]
    if missing:
        raise ParamError(f"{{plan}}: its settings lack {', '.join(missing)}", "plan")
    for k, check in (("n", Int(2, MAX_MODELS)), ("budget", Budget()), ("dataset", Choice(DATASETS)),
                     ("train_size", Opt(Setting("train_size"))), ("test_size", Opt(Setting("test_size"))),
                     *((k, p.check) for k, p in REGIME.items() if k != "flops" and k not in TASK_REGIME)):
        check.check(st[k], f"plan.settings[{k!r}]")
    parse_regimes(st["regimes"], "plan.settings['regimes']")


def _data_resolution(st) -> int | None:
    """The image size a protocol names: synthetic data and image folders are made at the plan's resolution."""
    return st["resolution"] if st["dataset"] in ("synthetic", "imagefolder") else None


class Findings(Costs):
    """The paper's findings judged on the store (``findings``), planned (``findings_plan``) and run."""

    @checked(sweeps=Opt(Names()), only=Opt(Names()))
    def findings(self, sweeps=None, *, n_boot: int = D.n_boot, ci: float = D.ci, seed: int = D.seed,
                 metric: str = D.metric, only=None) -> FindingsResult:
        """Each finding of the RegNet paper as a verdict on this store's populations (``dse.analysis.findings``:
        the criteria): holds, contradicted or can't tell (with why and what would settle it). Sweeps group by
        space; a space's sweeps at different flops are its regimes. Undertrained sweeps (the budget signals of
        ``undertraining``) give can't tell; results without training records are judged on their errors alone.

        >>> Study("s.sqlite").findings().to_frame()[["id", "verdict"]]          # doctest: +SKIP
        """
        ids = [f.id for f in FINDINGS]
        only = [only] if isinstance(only, str) else only
        bad = [x for x in only or [] if x not in ids]
        if bad:
            raise ParamError(f"{{only}} {bad[0]!r} is no finding; the findings: {', '.join(ids)}", "only")
        with self.store() as s:
            # the paper's findings are classification's: a low-level sweep's (SR, denoising) are the next issue's
            names = [n for n in self._names(s, sweeps) if s.sweep(n).source in ("sampled", "imported")
                     and not task_of(s.sweep(n).regime).low_level]
            recs = {n: s.sweep(n) for n in names}
            pops = _populations(s, names, metric)
            here = {n: bool(s.epoch_rows([n])) for n in names}
        under = self.undertraining(names, metric=metric) if names else {}
        evidence = {}
        for n in names:
            p = pops[n]
            if p.n < 2:
                continue
            have = set(p.param_names())
            vals = {q: p.values(q) for q in PARAMS if q in have}
            u = under.get(n)
            flagged = "; ".join(x.message for x in u.signals) if u is not None and u.flagged and here[n] else None
            evidence.setdefault(recs[n].space_name, []).append(
                Sample(n, _regime_x(recs[n], p), vals, np.asarray(p.errors, dtype=np.float64), flagged=flagged,
                       trained_here=here[n]))
        return judge(evidence, self._timings(names), n_boot=n_boot, ci=ci, seed=seed, metric=metric, only=only)

    def _timings(self, names) -> dict | None:
        """The stored timings of the most measured device (infer), as the runtime finding reads them."""
        if not names:
            return None
        try:
            r = self.speed_report(names)
        except DseError:  # nothing timed (or fewer than 3): the finding says what to run
            return None
        return {"device": r.device, "mode": r.mode, "batch": r.batch, "models": r.models}

    @checked(scale=Choice(tuple(SCALES)), regimes=Opt(Text()), n=Opt(Int(2, MAX_MODELS)), budget=Opt(Budget()),
             spaces=Opt(Names()), dataset=Opt(Choice(DATASETS)), train_size=Opt(Setting("train_size")),
             test_size=Opt(Setting("test_size")), probe=Bool())
    def findings_plan(self, scale: str = "cpu", *, regimes: str | None = None, n: int | None = None,
                      budget: str | None = None, spaces=None, dataset: str | None = None,
                      train_size: int | None = None, test_size: int | None = None,
                      probe: bool = True) -> FindingsPlan:
        """The study that tests every finding at ``scale`` (paper: 200MF-3.2GF at 224 px; cpu: a few MF at 28 px),
        ``regimes`` and ``n`` per regime overriding the preset: the sweeps, the models still to train and the time
        they take here (from the store's trained models of those sweeps, else a short timing: one model per regime
        trained on at most 512 images in a scratch store; ``probe=False``: no timing, 0 s).

        >>> Study("s.sqlite").findings_plan("cpu", regimes="2MF,4MF", n=30).seconds         # doctest: +SKIP
        """
        from dse.train.protocol import parse_budget

        st = dict(SCALES[scale])
        for k, v in (("regimes", regimes), ("n", n), ("budget", budget), ("dataset", dataset),
                     ("train_size", train_size), ("test_size", test_size)):
            if v is not None:
                st[k] = v
        parse_budget(st["budget"])
        wins = parse_regimes(st["regimes"], "regimes")
        sps = _plan_spaces(spaces)
        from dse.spaces import resolve_space

        names = {sp: resolve_space(sp).name for sp in sps}  # each a built-in or a space file (the error lists the
        # built-ins); its sweeps are named after the space's own name, as sample_regimes names them
        notes = []
        if st["resolution"] < 224 and "regnetx_res" in sps and spaces is None:
            sps.remove("regnetx_res")
            notes.append("regnetx_res samples 224-320 px, which a 28 px study cannot train: the resolution finding "
                         "needs a copy of it with small resolutions (docs/spaces.md)")
        existing = set()
        if self._exists():
            with self.store() as s:
                existing = set(s.sweep_names())
        rows = []
        for sp in sps:
            for w in wins:
                label = regime_label(w[1])  # as sample_regimes names its sweeps
                sweep = f"{names[sp]}@{label}"
                have = 0
                if sweep in existing:
                    with self.store() as s:
                        have = sum(1 for m in s.models(sweep) if m.status == "done")
                rows.append({"space": sp, "regime": label, "window": list(w), "sweep": sweep, "have": have,
                             "add": max(0, st["n"] - have), "seconds_per_model": 0.0})
        source, est = "none", None
        if probe and any(r["add"] for r in rows):
            per, est, source, note = self._estimate(st, rows)
            notes += [note] if note else []
            for r in rows:
                r["seconds_per_model"] = per[tuple(r["window"])]
        return FindingsPlan(scale, st, rows, source, notes, estimate=est)

    def _estimate(self, st, rows) -> tuple[dict, object, str, str | None]:
        """({window: seconds one model of that regime takes on one worker}, the plan's Estimate, source, a note):
        from the cost model of dse.api.costs (this store's trained models of any space when they cover the plan's
        sizes, else short timings of regnetx models at those sizes), with the workers dse train would choose."""
        from dse.train.protocol import parse_budget

        amount, kind = parse_budget(st["budget"])
        n_train, n_test = sizes(st, guess=True)
        batch = min(D.batch_size, n_train)
        epochs = amount if kind == "ep" else amount / max(1, n_train // batch)
        mid = {tuple(r["window"]): float(np.sqrt(r["window"][0] * r["window"][1])) for r in rows}
        models = [(mid[tuple(r["window"])], epochs, n_train, n_test) for r in rows for _ in range(r["add"])]
        shape = (st["in_channels"], st["resolution"], st["resolution"])
        est, cost, alloc = self.estimate(models, shape, batch=batch)
        per = {w: cost.model_seconds(f, epochs, n_train, n_test) for w, f in mid.items()}
        source = "store" if cost.source.startswith("this store") else "timing"
        note = (f"time from {cost.source}, on {alloc.workers} worker(s) x {alloc.threads} thread(s) as dse train "
                f"would choose; range {cost.low:.2f}x to {cost.high:.2f}x")
        return per, est, source, note

    @checked(plan=Instance(FindingsPlan), run=Opt(Instance(RunOptions)))
    def findings_run(self, plan: FindingsPlan, *, run: RunOptions | None = None,
                     seed: int = D.seed) -> FindingsResult:
        """Sample and train ``plan`` (resumable: sampling tops sweeps up, training continues what is pending; a crash
        or Ctrl-C loses nothing), then judge the findings on the store. ``run``: how to train, as for ``train``; the
        devices and the data are checked before anything is written."""
        from dse.train.protocol import Protocol
        from dse.train.worker import load_data

        st, run = plan.settings, run or RunOptions()
        _check_plan(plan)
        protocol = Protocol(budget=st["budget"], dataset=st["dataset"], train_size=st["train_size"],
                            test_size=st["test_size"], resolution=_data_resolution(st), seed=seed)
        run.devices()
        load_data(protocol, run.data_dir)
        for sp in dict.fromkeys(r["space"] for r in plan.rows):
            self.sample_regimes(sp, st["regimes"], st["n"], resolution=st["resolution"], stem=st["stem"],
                                in_channels=st["in_channels"], num_classes=st["num_classes"])
        sweeps = [r["sweep"] for r in plan.rows]
        t0 = time.perf_counter()
        self.train(sweeps, protocol=protocol, run=run)
        took = time.perf_counter() - t0
        out = self.findings(sweeps)
        out.trained_seconds = took
        return out
