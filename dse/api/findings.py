"""The paper's findings as verdicts (``dse findings``), the study that would test them (``--plan``) and running it
(``--run``)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from dse.analysis.findings import FINDINGS, FindingsResult, Sample, judge
from dse.api.common import StudyBase, _populations, _regime_x
from dse.errors import DseError, ParamError
from dse.params import DEFAULTS as D
from dse.api.training import RunOptions
from dse.params import Bool, Budget, Choice, Instance, Int, Names, Opt, Setting, Text, checked
from dse.validate import DATASETS, MAX_MODELS
from dse.units import parse_regimes, regime_label

PARAMS = ("depth", "b", "g", "wm", "w0", "lr", "wd")  # what the findings read of each model
# the spaces a full test of the findings samples, and the scales a study can have
PLAN_SPACES = ("regnetx", "regnety", "regnet", "regnetx_inverted", "regnetx_dw", "regnetx_res", "regnetx_lrwd")
SCALES = {
    "paper": {"regimes": "200MF,400MF,800MF,1.6GF,3.2GF", "n": 100, "budget": "10ep", "resolution": 224,
              "stem": "simple", "in_channels": 3, "num_classes": 1000, "dataset": "imagefolder", "train_size": None,
              "test_size": None},
    "cpu": {"regimes": "2MF,4MF,8MF", "n": 24, "budget": "2ep", "resolution": 28, "stem": "cifar", "in_channels": 1,
            "num_classes": 10, "dataset": "fashion-mnist", "train_size": 5000, "test_size": 2000},
}
PROBE_IMAGES = 512  # a short timing trains one model per regime on at most this many images


@dataclass
class FindingsPlan:
    """The study that would test every finding: per (space, regime) the sweep, the models it needs, the seconds one
    model takes on this machine (``source``: the store's trained models, or a short timing), and the commands."""

    scale: str
    settings: dict
    rows: list  # [{"space", "regime", "sweep", "have", "add", "seconds_per_model"}]
    source: str
    notes: list = field(default_factory=list)

    @property
    def models(self) -> int:
        return sum(r["add"] for r in self.rows)

    @property
    def seconds(self) -> float:
        return float(sum(r["add"] * r["seconds_per_model"] for r in self.rows))

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
                "seconds": self.seconds, "source": self.source, "notes": self.notes, "commands": self.commands()}


def _data_resolution(st) -> int | None:
    """The image size a protocol names: synthetic data and image folders are made at the plan's resolution."""
    return st["resolution"] if st["dataset"] in ("synthetic", "imagefolder") else None


class Findings(StudyBase):
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
            names = [n for n in self._names(s, sweeps) if s.sweep(n).source in ("sampled", "imported")]
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
        sps = list(spaces) if isinstance(spaces, (list, tuple)) else spaces.split(",") if spaces else \
            list(PLAN_SPACES)
        from dse.spaces import resolve_space

        for sp in sps:  # each a built-in or a space file (the error lists the built-ins)
            resolve_space(sp)
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
                sweep = f"{sp}@{label}"
                have = 0
                if sweep in existing:
                    with self.store() as s:
                        have = sum(1 for m in s.models(sweep) if m.status == "done")
                rows.append({"space": sp, "regime": label, "window": list(w), "sweep": sweep, "have": have,
                             "add": max(0, st["n"] - have), "seconds_per_model": 0.0})
        source = "none"
        if probe and any(r["add"] for r in rows):
            per, source, note = self._seconds_per_model(st, wins, existing)
            notes += [note] if note else []
            for r in rows:
                r["seconds_per_model"] = per[tuple(r["window"])]
        return FindingsPlan(scale, st, rows, source, notes)

    def _seconds_per_model(self, st, wins, existing) -> tuple[dict, str, str | None]:
        """({window: seconds one model of that regime takes}, source, note): the median of this store's trained
        models of the plan's regnetx sweeps when it has 3 or more at every regime, else a short timing per regime."""
        names = {tuple(w): f"regnetx@{regime_label(w[1])}" for w in wins}
        if set(names.values()) <= existing:
            with self.store() as s:
                secs = {w: [m.train_seconds for m in s.models(n) if m.status == "done" and m.train_seconds]
                        for w, n in names.items()}
            if all(len(v) >= 3 for v in secs.values()):
                return {w: float(np.median(v)) for w, v in secs.items()}, "store", None
        per, note = self._probes(st, wins)
        return per, "timing", note

    def _probes(self, st, wins) -> tuple[dict, str | None]:
        """({window: seconds one model of that regime takes under the plan's protocol}, a note), timed in a scratch
        store: a
        warm-up (data, torch), a model on 96 images (the per-model overhead o), then per regime one regnetx model on
        at most PROBE_IMAGES images (t); a model of the plan takes o + (t - o) scaled to its images (a test image
        counted as a third of a training one)."""
        import tempfile
        from pathlib import Path

        from dse.study import Study
        from dse.train.protocol import parse_budget

        amount, kind = parse_budget(st["budget"])
        train, test = st["train_size"] or 50_000, st["test_size"] or 10_000
        cap_train, cap_test = min(train, PROBE_IMAGES), min(test, PROBE_IMAGES // 2)
        with tempfile.TemporaryDirectory() as d:
            probe = Study(Path(d) / "probe.sqlite")

            data = {"dataset": st["dataset"], "resolution": _data_resolution(st)}

            def run(name, window, n_train, n_test, budget):
                probe.sample("regnetx", n=1, sweep=name, flops=tuple(window), resolution=st["resolution"],
                             stem=st["stem"], in_channels=st["in_channels"], num_classes=st["num_classes"], seed=1)
                t0 = time.perf_counter()
                probe.train([name], budget=budget, train_size=n_train, test_size=n_test, **data,
                            batch_size=min(D.batch_size, n_train))
                return time.perf_counter() - t0

            step = "1ep" if kind == "ep" else f"{min(amount, 4)}it"
            note = None
            try:
                run("warm", wins[0], 64, 32, "1ep")
            except DseError:  # the data is not here (an image folder to come): the same work on synthetic images
                data = {"dataset": "synthetic", "resolution": st["resolution"]}
                note = f"timed on synthetic images ({st['dataset']} could not be read here)"
                run("warm2", wins[0], 64, 32, "1ep")
            o = run("overhead", wins[0], 64, 32, "1ep")
            out = {}
            for i, w in enumerate(wins):
                t = run(f"r{i}", w, cap_train, cap_test, step)
                if kind == "ep":  # a test image costs about a third of a training one (no backward pass, no step)
                    rate = max(t - o, 0.0) / max(cap_train + cap_test / 3 - (64 + 32 / 3), 1)
                    out[tuple(w)] = o + rate * amount * (train + test / 3)
                else:
                    out[tuple(w)] = o + max(t - o, 0.0) * amount / min(amount, 4)
        return out, note

    @checked(plan=Instance(FindingsPlan), run=Opt(Instance(RunOptions)))
    def findings_run(self, plan: FindingsPlan, *, run: RunOptions | None = None,
                     seed: int = D.seed) -> FindingsResult:
        """Sample and train ``plan`` (resumable: sampling tops sweeps up, training continues what is pending; a crash
        or Ctrl-C loses nothing), then judge the findings on the store. ``run``: how to train, as for ``train``; the
        devices and the data are checked before anything is written."""
        from dse.train.protocol import Protocol
        from dse.train.worker import load_data

        st, run = plan.settings, run or RunOptions()
        protocol = Protocol(budget=st["budget"], dataset=st["dataset"], train_size=st["train_size"],
                            test_size=st["test_size"], resolution=_data_resolution(st), seed=seed)
        run.devices()
        load_data(protocol, run.data_dir)
        for sp in dict.fromkeys(r["space"] for r in plan.rows):
            self.sample_regimes(sp, st["regimes"], st["n"], resolution=st["resolution"], stem=st["stem"],
                                in_channels=st["in_channels"], num_classes=st["num_classes"])
        sweeps = [r["sweep"] for r in plan.rows]
        self.train(sweeps, protocol=protocol, run=run)
        return self.findings(sweeps)
