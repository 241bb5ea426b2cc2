"""Sampling models into sweeps, at one regime or several, and importing populations trained elsewhere."""

from __future__ import annotations

import os


from dse.api.common import StudyBase
from dse.errors import ParamError
from dse.tasks import task
from dse.spaces import Regime, Space, resolve_space
from dse.spaces.sweeps import SampleResult, import_sweep, sample_regimes, sample_sweep
from dse.units import parse_count, parse_regimes, parse_window
from dse.validate import MAX_BATCH, MAX_MODELS, check_int
from dse.validate import SPEED_MODES
from dse.params import (CLASSIFY_ONLY, REGIME, REGIME_DEFAULTS as R, Choice, Count, FilePath, Int, Name, Opt, Real,
                        Text, Window, checked)


MIN_FIT_R2 = 0.5  # below it the flops + acts fit explains too little of the measured times to cap by


def _warned(results, cap: dict | None, fit: dict | None) -> list:
    """The results, each with a warning when its time cap comes from a fit that explains little."""
    if cap:
        r2 = (fit or {}).get("r2")
        where = f"the time fit behind --max-ms ({cap['device']}, {cap['mode']}, batch {cap['batch']})"
        for r in results:
            if r2 is not None and not r2 >= MIN_FIT_R2:  # (NaN: constant times, no fit at all)
                r.warnings.append(f"{where} has R^2 {r2:.2f}: the timings were mostly noise, so the cap is rough; "
                                  f"time again on a quiet machine (dse speed --force)")
            if cap["intercept"] < 0:  # the smallest models are predicted to take no time (kept as fast)
                r.warnings.append(f"{where} has a negative intercept ({cap['intercept']:.3g} ms): it predicts "
                                  f"0 ms or less for the smallest models, which the cap keeps as fast; time "
                                  f"again on a quiet machine if that looks wrong")
    return results


# the input side of a regime (dse.params.REGIME), and the draw (n, caps, the time cap of --max-ms): what sample,
# sample_regimes and import_table accept
_REGIME = {k: p.check for k, p in REGIME.items() if k != "flops"}
# a sample call's regime where neither the call nor the space's own [regime] gives it: the paper's (ImageNet)
PAPER_REGIME = R
_REGIME_OPT = {k: Opt(p.check) for k, p in REGIME.items()}
_DRAW = dict(n=Int(1, MAX_MODELS, "a number of models"), max_params=Opt(Count()), max_acts=Opt(Count()),
            max_ms=Opt(Real(0, low_open=True)), speed_device=Opt(Text()), speed_mode=Choice(SPEED_MODES),
            speed_batch=Opt(Int(1, MAX_BATCH)))


class Sampling(StudyBase):
    """Sampling models into sweeps, at one regime or several, and importing populations trained elsewhere."""

    @checked(sweep=Opt(Name()), **_REGIME_OPT, **_DRAW, bitops=Opt(Window()))
    def sample(self, space: str | Space, n: int, sweep: str | None = None, *, flops=None, resolution: int | None = None,
               stem: str | None = None, in_channels: int | None = None, num_classes: int | None = None,
               scale: int | None = None, sigma: float | None = None, max_params=None, max_acts=None,
               seed: int | None = None, max_ms: float | None = None, speed_device: str | None = None,
               speed_mode: str = "infer", speed_batch: int | None = None, bitops=None) -> SampleResult:
        """Draw ``n`` distinct models of ``space`` (a built-in name, a .toml path or a Space) whose flops lie in
        ``flops`` (``"360M:400M"`` or ``(lo, hi)``) at ``resolution`` into sweep ``sweep`` (default: the
        space's name). A second call with a larger ``n`` tops the sweep up. The regime (flops, resolution, stem,
        in_channels, num_classes) not given is the space's own ([regime] in its file: the NDS spaces' is CIFAR
        size), else the paper's (``PAPER_REGIME``: 360-400 MF at 224 px, 1,000 classes).

        ``max_ms`` keeps only models whose predicted time (``speed_mode`` at ``speed_batch`` on ``speed_device``,
        by default the most measured device and batch) is at most that many ms: the flops + acts fit the last
        ``speed`` stored. ``bitops`` (``"2G:8G"``) is a window in bit operations in place of the flops window:
        each model counted at its own bit widths (dse.models.precision; a float model: flops x 32 x 32).

        >>> Study("s.sqlite").sample("regnetx", n=20, flops="2M:8M", resolution=28, stem="cifar")  # doctest: +SKIP
        >>> Study("s.sqlite").sample("regnetx_w4a4", 20, bitops="2G:8G", resolution=28, stem="cifar")  # doctest: +SKIP
        """
        if bitops is not None and flops is not None:
            raise ParamError("{flops} and {bitops} exclude each other: a sweep has one complexity window", "flops",
                             "bitops")
        cap, fit = self._ms_cap(max_ms, speed_device, speed_mode, speed_batch)
        sp = _space(space)
        r = _regime_of(sp, flops=flops, resolution=resolution, stem=stem, in_channels=in_channels,
                       num_classes=num_classes, scale=scale, sigma=sigma)
        window = r.pop("flops")
        flops = parse_window(window, "flops") if bitops is None else (0, 0)
        if bitops is not None:
            r["bitops"] = parse_window(bitops, "bitops")
        (regime,) = self._sampling(sp, [flops], r, max_params=max_params, max_acts=max_acts, ms_cap=cap)
        with self.store(write=True) as s:
            out = sample_sweep(s, sp, regime, n=int(n), sweep=sweep, seed=seed)
        return _warned([out], cap, fit)[0]

    @checked(sweep=Opt(Name()), **_REGIME_OPT, **_DRAW)
    def sample_regimes(self, space: str | Space, regimes, n: int, sweep: str | None = None, *,
                       resolution: int | None = None, stem: str | None = None, in_channels: int | None = None,
                       num_classes: int | None = None, scale: int | None = None, sigma: float | None = None,
                       max_params=None,
                       max_acts=None, seed: int | None = None, max_ms: float | None = None,
                       speed_device: str | None = None, speed_mode: str = "infer",
                       speed_batch: int | None = None) -> list[SampleResult]:
        """Sample ``space`` at several complexity regimes, ``n`` models each, into one sweep per regime named
        ``<sweep>@<regime>`` (default prefix: the space's name). ``regimes`` is ``"200MF,400MF"`` (a regime F
        is the window [0.9F, F]), explicit windows ``"180M:200M,360M:400M"``, or a list of either; each
        regime draws from its own seed stream. Calling again with a larger ``n`` tops every regime up.

        >>> Study("s.sqlite").sample_regimes("regnetx", "200MF,400MF,800MF", n=100)  # doctest: +SKIP
        [SampleResult(sweep='regnetx@200MF', ...), ...]
        """
        cap, fit = self._ms_cap(max_ms, speed_device, speed_mode, speed_batch)
        sp = _space(space)
        r = _regime_of(sp, resolution=resolution, stem=stem, in_channels=in_channels, num_classes=num_classes,
                       scale=scale, sigma=sigma)
        regs = self._sampling(sp, parse_regimes(regimes, "regimes"), r, max_params=max_params, max_acts=max_acts,
                              ms_cap=cap)
        with self.store(write=True) as s:
            out = sample_regimes(s, sp, regs, n=int(n), prefix=sweep, seed=seed)
        return _warned(out, cap, fit)

    @checked(name=Text(), sweep=Opt(Name()), **{**_REGIME, "resolution": Opt(_REGIME["resolution"]),
                                                 "num_classes": Opt(_REGIME["num_classes"])})
    def add_reference(self, name: str, sweep: str | None = None, *, resolution: int | None = None,
                      stem: str = R["stem"], in_channels: int = R["in_channels"],
                      num_classes: int | None = None) -> SampleResult:
        """Put the reference network ``name`` (``dse.models.reference``: resnet50, effnet_b0, regnetx_400mf, ...;
        or an SR or denoising network, ``dse.models.lowlevel``: edsr_baseline_x2/x3/x4, fsrcnn_x2/x3/x4 and dncnn,
        the last two on one channel) into a one-model sweep
        (default: its name), counted at ``resolution`` and ``num_classes`` (default: the network's own, 224 px and
        1000 classes or 32 px and 10; an SR network at its task's output), to train and time it beside populations.

        >>> Study("s.sqlite").add_reference("resnet56")  # doctest: +SKIP
        SampleResult(sweep='resnet56', added=1, total=1, ...)
        """
        from dse.models.lowlevel import LOWLEVEL_REFERENCES
        from dse.models.reference import reference
        from dse.spaces.sweeps import reference_sweep

        low = LOWLEVEL_REFERENCES.get(str(name).lower())
        if low is not None:
            ref, regime = _low_level_reference(low, resolution=resolution, num_classes=num_classes,
                                               in_channels=in_channels)
        else:
            ref = reference(name)
            regime = Regime((0, 0), ref.resolution if resolution is None else resolution, stem, in_channels,
                            ref.num_classes if num_classes is None else num_classes)
        with self.store(write=True) as s:
            return reference_sweep(s, ref, regime, sweep)

    def _ms_cap(self, max_ms, device, mode, batch) -> tuple[dict | None, dict | None]:
        """(the regime's time cap: ``max_ms`` and the stored flops + acts fit it predicts with, that stored fit)."""
        if max_ms is None:
            return None, None
        fits, measured = [], []
        if self._exists():
            with self.store() as s:
                fits, measured = s.speed_fits(), [d for d, _ in s.speed_devices()]
        if device is None and fits:  # the most measured device that has a fit
            device = next((d for d in measured if any(f["device"] == d for f in fits)), fits[0]["device"])
        if batch is None:  # the most measured batch, as export and dse plot speed choose it
            mine = [f for f in fits if (f["device"], f["mode"]) == (device, mode)]
            batch = max(mine, key=lambda f: f.get("n", 0))["batch"] if mine else 64
        check_int(batch, "speed_batch", 1, MAX_BATCH)
        fit = next((f for f in fits if (f["device"], f["mode"], f["batch"]) == (device, mode, int(batch))), None)
        if fit is None:
            have = "; stored fits: " + ", ".join(f"{f['device']} ({f['mode']}, batch {f['batch']})" for f in fits) \
                if fits else ""
            raise ParamError(f"{{max_ms}} needs a time prediction for {device or 'a device'} ({mode}, batch {batch}) "
                             f"and {self.path} has none{have}: run dse speed --mode {mode} --batch {batch} on a "
                             f"sweep measured on that device first", "max_ms")
        return {"max_ms": float(max_ms), "device": fit["device"], "mode": mode, "batch": int(batch),
                "coef": list(fit["coef"]), "intercept": fit["intercept"]}, fit

    @staticmethod
    def _sampling(space: Space, windows, r: dict, max_params, max_acts, ms_cap=None) -> list:
        """One Regime per flops window (the regime's other fields ``r``, the space's task), validated."""
        caps = [parse_count(max_params, "max_params") if max_params is not None else None,
                parse_count(max_acts, "max_acts") if max_acts is not None else None]
        return [Regime(w, **r, max_params=caps[0], max_acts=caps[1], ms_cap=ms_cap, task=space.task)
                for w in windows]

    @checked(path=FilePath(), sweep=Name(), **_REGIME)
    def import_table(self, path, sweep: str, *, resolution: int = R["resolution"], stem: str = R["stem"],
                     in_channels: int = R["in_channels"], num_classes: int = R["num_classes"]) -> int:
        """Read a population trained elsewhere (CSV or Parquet, as ``export`` writes it) into a new sweep;
        complexity missing from the file is counted at the given regime. Returns the number of models."""
        from dse.store.table import check_table_file

        check_table_file(path)
        regime = Regime((0, 0), resolution, stem, in_channels, num_classes)
        with self.store(write=True) as s:
            return import_sweep(s, path, sweep, regime)


def _low_level_reference(low, *, resolution, num_classes, in_channels):
    """(the reference as reference_sweep takes it, its regime) of an SR or denoising reference network. One with
    ends of its own (FSRCNN, DnCNN: ``low.fixed``) is stored with its middle layers as the arch and its name as the
    regime's ``network``, which the trainer and ``dse speed`` build; it takes its own channels (1: the Y channel)."""
    from types import SimpleNamespace

    given = [k for k, v in (("resolution", resolution), ("num_classes", num_classes)) if v is not None]
    if given:
        raise ParamError(f"{{{given[0]}}} does not apply to {low.name}, {task(low.task).a} network counted at its "
                         f"task's output", *given)
    arch = low.body if low.fixed else low.net.general().arch
    regime = Regime((0, 0), in_channels=low.in_channels if low.fixed else in_channels, task=low.task,
                    scale=low.scale if low.task == "sr" else None, network=low.name if low.fixed else None)
    return SimpleNamespace(name=low.name, arch=arch, regnet=None), regime


def _space(space) -> Space:
    """A built-in space's name, a .toml path or a Space, as a Space."""
    if not isinstance(space, (str, os.PathLike, Space)):
        raise ParamError(f"{{space}} must be a built-in space's name, a .toml path or a Space, got {space!r}",
                         "space")
    return space if isinstance(space, Space) else resolve_space(str(space))


def _regime_of(space: Space, **given) -> dict:
    """The regime a sample call uses: what it gives, else the space's own [regime], else PAPER_REGIME. A low-level
    space (SR, denoising) refuses what only classification counts by (resolution, stem, classes)."""
    if space.task != "classify":
        bad = [k for k in CLASSIFY_ONLY if given.get(k) is not None]
        if bad:
            t = task(space.task)
            raise ParamError(f"{{{bad[0]}}} does not apply to {space.name!r}, {t.a} space: its networks are "
                             f"counted at a {t.count_at[0]}x{t.count_at[1]} output", *bad)
    # (a task's own field left out is None in PAPER_REGIME: the Regime gives the task's default)
    return {k: v if v is not None else space.regime.get(k, PAPER_REGIME[k]) for k, v in given.items()}
