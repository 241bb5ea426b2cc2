"""The paper's findings as verdicts (``dse findings``), the study that would test them (``--plan``) and running it
(``--run``)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from dse.analysis.cost import Estimate
from dse.analysis.findings import FINDINGS, FindingsResult, Sample, TaskComparison, compare_tasks, judge
from dse.api.common import _populations, _regime_x
from dse.api.costs import Costs, sizes
from dse.errors import DseError, ParamError
from dse.params import DEFAULTS as D
from dse.params import REGIME, REGIME_DEFAULTS, TASK_REGIME
from dse.tasks import TASKS, task_of
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


# a low-level task's studies: its spaces, regimes at the task's output, the patch (resolution) and its protocol
LOW_SCALES = {
    "sr": {
        "cpu": {"regimes": "3G:5.9G,6G:12G", "n": 20, "budget": "10ep", "resolution": 24, "dataset": "photos",
                "train_size": None, "test_size": None, "scale": 2, "in_channels": 3,
                "spaces": ("sr_anynet_e1", "sr_anynet_wide")},
        "paper": {"regimes": "20G:40G,60G:120G,200G:400G", "n": 100, "budget": "300ep", "resolution": 48,
                  "dataset": "photos", "train_size": None, "test_size": None, "scale": 2, "in_channels": 3,
                  "spaces": ("sr_anynet_e1", "sr_anynet_wide", "sr_anynet_se", "sr_regnet")},
    },
    "denoise": {
        "cpu": {"regimes": "0.5G:0.9G,1G:2G", "n": 20, "budget": "10ep", "resolution": 24, "dataset": "photos",
                "train_size": None, "test_size": None, "sigma": 25.0, "in_channels": 3,
                "spaces": ("denoise_anynet",)},
        "paper": {"regimes": "0.5G:0.9G,1G:1.9G,2G:4G", "n": 100, "budget": "300ep", "resolution": 48,
                  "dataset": "photos", "train_size": None, "test_size": None, "sigma": 25.0, "in_channels": 3,
                  "spaces": ("denoise_anynet",)},
    },
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
    task: str = "classify"  # a low-level plan: its settings hold the scale or sigma, resolution is the patch

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
        if self.task != "classify":  # counted at the task's output; the patch is train's --resolution
            deg = f" --scale {s['scale']}" if "scale" in s else f" --sigma {s['sigma']:g}"
            out = [f"dse sample --space {sp} --regimes {s['regimes']} -n {s['n']}{deg} --in-channels "
                   f"{s['in_channels']}{at}" for sp in dict.fromkeys(r["space"] for r in self.rows)]
            sizes = "".join(f" --{k.replace('_', '-')} {s[k]}" for k in ("train_size", "test_size") if s.get(k))
            out.append(f"dse train --budget {s['budget']} --dataset {s['dataset']} --resolution {s['resolution']}"
                       f"{sizes}{at}")
            return out + [f"dse findings --task {self.task}{at}"]
        cx = (f" --resolution {s['resolution']} --stem {s['stem']} --in-channels {s['in_channels']} --num-classes "
              f"{s['num_classes']}")
        out = [f"dse sample --space {sp} --regimes {s['regimes']} -n {s['n']}{cx}{at}"
               for sp in dict.fromkeys(r["space"] for r in self.rows)]
        sizes = "".join(f" --{k.replace('_', '-')} {s[k]}" for k in ("train_size", "test_size") if s.get(k))
        where = " --data-dir DIR" if s["dataset"] in ("imagefolder", "cifar10") else ""  # (the user's copy)
        out.append(f"dse train --budget {s['budget']} --dataset {s['dataset']}{where}{sizes}{at}")
        return out + [f"dse findings{at}"]

    def to_json(self) -> dict:
        return {"scale": self.scale, **({"task": self.task} if self.task != "classify" else {}),
                "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in self.settings.items()},
                "rows": self.rows, "models": self.models,
                "seconds": self.seconds, "seconds_low": self.range[0], "seconds_high": self.range[1],
                "source": self.source, "notes": self.notes, "commands": self.commands()}


def _bitops_x(rec, pop) -> float | None:
    """A sweep's BitOps regime: its BitOps window's upper end; a float sweep's flops window's x 1024 (the same
    models: a float network costs flops x 32 x 32); None for a quantised sweep drawn in a flops window."""
    if rec.nominal_bitops:
        return float(rec.nominal_bitops)
    if rec.nominal_flops and not pop.precise():
        return float(rec.nominal_flops) * 1024
    return None


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


def _one_degradation(s, names, t, scale, sigma) -> list:
    """The sweeps of ``names`` at one SR scale (``scale``, else the only one they have) or one noise level: a
    finding reads one population of PSNRs; a store with several must say which."""
    if not t.low_level:
        return names
    key, want = ("scale", scale) if "scale" in t.options else ("sigma", sigma)
    have = sorted({(s.sweep(n).regime or {}).get(key) for n in names})
    if want is None and len(have) > 1:
        raise ParamError(f"{{{key}}}: the {t.name} sweeps here are at {key} {', '.join(f'{h:g}' for h in have)}: "
                         f"a finding reads one population of PSNRs; choose one (--{key})", key)
    if want is not None:
        names = [n for n in names if (s.sweep(n).regime or {}).get(key) == want]
    return names


def _data_resolution(st) -> int | None:
    """The image size a protocol names: synthetic data and image folders are made at the plan's resolution."""
    return st["resolution"] if st["dataset"] in ("synthetic", "imagefolder") else None


class Findings(Costs):
    """The paper's findings judged on the store (``findings``), planned (``findings_plan``) and run."""

    @checked(sweeps=Opt(Names()), only=Opt(Names()), task=Choice(tuple(TASKS)), scale=Opt(REGIME["scale"].check),
             sigma=Opt(REGIME["sigma"].check))
    def findings(self, sweeps=None, *, n_boot: int = D.n_boot, ci: float = D.ci, seed: int = D.seed,
                 metric: str = D.metric, only=None, task: str = "classify", scale: int | None = None,
                 sigma: float | None = None) -> FindingsResult:
        """Each finding of the RegNet paper as a verdict on this store's populations of ``task`` (``dse.analysis.
        findings``: the criteria, and what each means on SR and denoising): holds, contradicted, can't tell (with
        why and what would settle it) or, on another task, not applicable (why). Sweeps group by space; a space's
        sweeps at different flops are its regimes. An SR study is judged at one ``scale`` (default: the one its
        sweeps have; a store with several must say which), denoising at one ``sigma``. Undertrained sweeps (the
        budget signals of ``undertraining``) give can't tell; results without training records are judged on
        their errors alone.

        >>> Study("s.sqlite").findings().to_frame()[["id", "verdict"]]          # doctest: +SKIP
        >>> Study("s.sqlite").findings(task="sr").to_frame()[["id", "verdict"]]  # doctest: +SKIP
        """
        ids = [f.id for f in FINDINGS]
        only = [only] if isinstance(only, str) else only
        bad = [x for x in only or [] if x not in ids]
        if bad:
            raise ParamError(f"{{only}} {bad[0]!r} is no finding; the findings: {', '.join(ids)}", "only")
        t = TASKS[task]
        for k, v, flag in (("scale", scale, "--sr-scale"), ("sigma", sigma, "--sigma")):
            if v is not None and k not in t.options:
                users = [x.name for x in TASKS.values() if k in x.options]
                raise ParamError(f"{flag} (the {k} of the sweeps judged) applies to --task {' or '.join(users)}, not "
                                 f"{task}", k)
        with self.store() as s:
            names = [n for n in self._names(s, sweeps) if s.sweep(n).source in ("sampled", "imported")
                     and task_of(s.sweep(n).regime).name == task]
            names = _one_degradation(s, names, t, scale, sigma)
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
                       trained_here=here[n], stages=(recs[n].space or {}).get("stages"),
                       bitops=_bitops_x(recs[n], p)))
        return judge(evidence, self._timings(names), n_boot=n_boot, ci=ci, seed=seed, metric=metric, only=only,
                     task=task, measure=t.metric)

    @checked(sweeps=Opt(Names()), only=Opt(Names()), task=Choice(tuple(t for t in TASKS if t != "classify")),
             scale=Opt(REGIME["scale"].check), sigma=Opt(REGIME["sigma"].check))
    def findings_by_task(self, sweeps=None, *, task: str = "sr", n_boot: int = D.n_boot, ci: float = D.ci,
                         seed: int = D.seed, metric: str = D.metric, only=None, scale: int | None = None,
                         sigma: float | None = None) -> "TaskComparison":
        """Do the rules carry over? The findings judged on classification's sweeps and on ``task``'s (SR by
        default), side by side: per finding both verdicts and what they say together (holds in both, holds in one,
        contradicted in one, can't tell, not applicable), and, where a task has no sweeps, what it would need.

        >>> Study("s.sqlite").findings_by_task().to_frame()            # doctest: +SKIP
        """
        kw = dict(n_boot=n_boot, ci=ci, seed=seed, metric=metric, only=only)
        cls = self.findings(sweeps, **kw)
        low = self.findings(sweeps, task=task, scale=scale, sigma=sigma, **kw)
        return compare_tasks(cls, low)

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
             test_size=Opt(Setting("test_size")), probe=Bool(), task=Choice(tuple(TASKS)))
    def findings_plan(self, scale: str = "cpu", *, regimes: str | None = None, n: int | None = None,
                      budget: str | None = None, spaces=None, dataset: str | None = None,
                      train_size: int | None = None, test_size: int | None = None,
                      probe: bool = True, task: str = "classify", data_dir=None) -> FindingsPlan:
        """The study that tests every finding at ``scale`` (paper: 200MF-3.2GF at 224 px; cpu: a few MF at 28 px),
        ``regimes`` and ``n`` per regime overriding the preset: the sweeps, the models still to train and the time
        they take here (from the store's trained models of those sweeps, else a short timing: one model per regime
        trained on at most 512 images in a scratch store; ``probe=False``: no timing, 0 s).

        >>> Study("s.sqlite").findings_plan("cpu", regimes="2MF,4MF", n=30).seconds         # doctest: +SKIP
        """
        from dse.train.protocol import parse_budget

        if task != "classify":
            return self._low_level_plan(task, scale, dict(regimes=regimes, n=n, budget=budget, dataset=dataset,
                                                          train_size=train_size, test_size=test_size),
                                        spaces=spaces, probe=probe, data_dir=data_dir)
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
        rows = self._plan_rows(sps, names, wins, st["n"])
        source, est = "none", None
        if probe and any(r["add"] for r in rows):
            per, est, source, note = self._estimate(st, rows)
            notes += [note] if note else []
            for r in rows:
                r["seconds_per_model"] = per[tuple(r["window"])]
        return FindingsPlan(scale, st, rows, source, notes, estimate=est)

    def _plan_rows(self, sps, names, wins, n: int, budget: str | None = None) -> list:
        """A plan's rows: per space and regime its sweep (``SPACE@REGIME``, as sample_regimes names them), the
        models trained and to add, and (``budget``: those trained at it) the median seconds one of them took."""
        existing = set()
        if self._exists():
            with self.store() as s:
                existing = set(s.sweep_names())
        rows = []
        for sp in sps:
            for w in wins:
                label = regime_label(w[1])
                sweep = f"{names[sp]}@{label}"
                have, took = 0, []
                if sweep in existing:
                    with self.store() as s:
                        done = [m for m in s.models(sweep) if m.status == "done"]
                        same = budget is not None and (s.sweep(sweep).protocol or {}).get("budget") == budget
                    have, took = len(done), [m.train_seconds for m in done if m.train_seconds and same]
                rows.append({"space": sp, "regime": label, "window": list(w), "sweep": sweep, "have": have,
                             "add": max(0, n - have), "seconds_per_model": float(np.median(took)) if took else 0.0})
        return rows

    def _low_level_plan(self, task: str, scale: str, given: dict, *, spaces, probe: bool,
                        data_dir) -> FindingsPlan:
        """findings_plan for SR or denoising: LOW_SCALES[task][scale] with the ``given`` settings, the sweeps of its
        spaces at its regimes, and each model's time from this store's trained models of the plan, else a short
        timing on this machine (on the photographs of ``data_dir``, default the embedded ones)."""
        from dse.spaces import resolve_space
        from dse.train.protocol import parse_budget

        st = dict(LOW_SCALES[task][scale])
        st.update({k: v for k, v in given.items() if v is not None})
        if given.get("dataset") not in (None, "photos", "fashion-mnist", "synthetic"):
            raise ParamError(f"{{dataset}} {given['dataset']} is a classification dataset; a {task} study trains on "
                             f"photos, fashion-mnist or synthetic images", "dataset")
        parse_budget(st["budget"])
        wins = parse_regimes(st["regimes"], "regimes")
        sps = _plan_spaces(spaces) if spaces is not None else list(st["spaces"])
        st["spaces"] = tuple(sps)
        names = {}
        for sp in sps:
            space = resolve_space(sp)
            if space.task != task:
                raise ParamError(f"{{spaces}} {sp!r} is {TASKS[space.task].a} space; a {task} study samples "
                                 f"{task} spaces (dse spaces --task {task})", "spaces")
            names[sp] = space.name
        rows = self._plan_rows(sps, names, wins, st["n"], budget=st["budget"])
        source, notes = "none", []
        known = [r for r in rows if r["seconds_per_model"]]
        if known:  # this store's models of the plan, at its budget: measured; the others scaled by flops
            for r in rows:
                if not r["seconds_per_model"]:
                    r["seconds_per_model"] = float(np.median([k["seconds_per_model"] * r["window"][1] / k["window"][1]
                                                              for k in known]))
            source, notes = "store", ["time from this store's trained models of the plan's sweeps (their median; "
                                      "a sweep not trained yet scaled by its regime's flops)"]
        elif probe and any(r["add"] for r in rows):
            per, note = _probe_low_level(task, st, sps[0], wins, data_dir)
            source, notes = "timing", [note]
            for r in rows:
                r["seconds_per_model"] = per[tuple(r["window"])]
        return FindingsPlan(scale, st, rows, source, notes, task=task)

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
        if plan.task != "classify":
            return self._low_level_run(plan, run, seed)
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

    def _low_level_run(self, plan: FindingsPlan, run: RunOptions, seed: int) -> FindingsResult:
        """findings_run of an SR or denoising plan: its clean images and patch checked, its spaces sampled at the
        task's scale or noise, trained under the task's protocol (Adam ...), judged as that task's findings."""
        from dse.train.restore import check_patch, clean_for, patch_of

        st = plan.settings
        if not plan.rows:
            raise ParamError("{plan} holds no sweeps: nothing to sample or train", "plan")
        protocol = _low_level_protocol(plan.task, st, seed)
        run.devices()
        clean = clean_for(protocol, run.data_dir)
        scale = int(st.get("scale") or 1)
        check_patch(clean.smallest, patch_of(protocol.resolution, clean, scale), scale, param="resolution",
                    what=" (the training patch)")
        deg = {"scale": st["scale"]} if "scale" in st else {"sigma": st["sigma"]}
        for sp in dict.fromkeys(r["space"] for r in plan.rows):
            self.sample_regimes(sp, st["regimes"], st["n"], in_channels=st["in_channels"], **deg)
        sweeps = [r["sweep"] for r in plan.rows]
        t0 = time.perf_counter()
        self.train(sweeps, protocol=protocol, run=run)
        took = time.perf_counter() - t0
        out = self.findings(sweeps, task=plan.task, **deg)  # (at the plan's scale or noise)
        out.trained_seconds = took
        return out


def _low_level_protocol(task: str, st: dict, seed: int = 0):
    """The protocol a low-level plan trains under: its budget, data and patch (``resolution``), the task's own
    optimiser settings (SR: Adam at 1e-3, batch 16)."""
    from dse.train.protocol import Protocol

    own = {k: v for k, v in TASKS[task].protocol.items() if k != "dataset"}
    return Protocol(budget=st["budget"], dataset=st["dataset"], train_size=st["train_size"],
                    test_size=st["test_size"], resolution=st["resolution"], seed=seed, **own)


def _probe_low_level(task: str, st: dict, space: str, wins, data_dir=None) -> tuple[dict, str]:
    """({window: seconds one model takes}, a note): one model of ``space`` per regime, as dse sample draws it,
    trained 20 steps on the plan's patches (after 8 to warm up) and evaluated once on its validation images; a
    model's time = its steps at that speed + one evaluation per epoch. A machine busy with other work times slow
    (a 2-core CPU several times so): the note says so."""
    from dse.models.restore import build_restorer
    from dse.spaces import Regime, resolve_space
    from dse.spaces.sampling import Sampler
    from dse.train.restore import EPOCH_STEPS, Pairs, clean_for, fit_restorer, patch_of, restore_steps

    p = _low_level_protocol(task, st)
    clean = clean_for(p, data_dir).for_channels(int(st["in_channels"]))
    deg = {"scale": st["scale"]} if "scale" in st else {"sigma": st["sigma"]}
    pairs = Pairs(clean.train, clean.val, task, **deg)
    steps = restore_steps(p)
    sp, per = resolve_space(space), {}
    for w in wins:  # one model of the regime, as dse sample would draw it
        regime = Regime(tuple(w), in_channels=int(st["in_channels"]), task=task, **deg)
        m = Sampler(sp, regime, seed=0).sample(1)[0]
        model = build_restorer(m.arch, regime.to_dict())
        patch = patch_of(p.resolution, clean, pairs.scale)
        fit_restorer(model, pairs, steps=8, batch=p.batch_size, patch=patch, adam={"lr": p.lr}, epoch_steps=8)
        row = fit_restorer(model, pairs, steps=20, batch=p.batch_size, patch=patch, adam={"lr": p.lr},
                           epoch_steps=20)[-1]
        train_s = 20 * p.batch_size / row["patches_per_s"]
        eval_s = max(0.0, row["seconds"] - train_s)
        per[tuple(w)] = steps / 20 * train_s + -(-steps // EPOCH_STEPS) * eval_s
    return per, (f"time from a short timing here: one {space} model per regime, {p.batch_size}-patch steps of "
                 f"{st['resolution']} px and an evaluation on the {len(clean.val)} validation images (a machine busy "
                 f"with other work times several times slower)")
