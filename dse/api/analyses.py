"""The analyses of populations: EDFs, search efficiency, bootstrap, rank, trends, fits, curves, refine."""

from __future__ import annotations

import json
import os

import numpy as np

from dse.analysis.population import Population
from dse.analysis.rank import RankResult
from dse.analysis.refine import RefineResult
from dse.analysis.results import (NORMALIZE_BY, BootstrapResult, ComplexityView, Curves, EdfComparison, FitResult,
                                  FitRow, SearchEfficiency, bootstrap_panel, compare_edfs, compare_search, normalize)
from dse.analysis.trends import TrendsResult, complexity_trend, trend_series
from dse.api.common import StudyBase, _populations, _regime_x, same_task
from dse.errors import DseError, ParamError
from dse.spaces import Space, parse_space, resolve_space
from dse.store.records import Fit
from dse.units import parse_window, regime_label
from dse.validate import check_number
from dse.validate import name_list as _name_list
from dse.validate import BANDS, COUNTS, MAX_MODELS, METRIC_COLUMN
from dse.params import DEFAULTS as D
from dse.params import Bool, Choice, Int, Names, Numbers, Opt, Real, Text, checked


def _series(recs: dict, pops: dict, named: bool) -> tuple[dict, list]:
    """{series label: [sweep names]} with two or more regimes each, and why other sweeps were left out."""
    if named:
        for p in pops.values():
            p.require(2, "a trend")
        groups = {"+".join(dict.fromkeys(recs[n].space_name for n in pops)): list(pops)}
        skipped = []
    else:
        groups, skipped = {}, []
        for n, p in pops.items():
            if p.n < 2:
                skipped.append(f"sweep {n}: {p.n} trained model(s)")
            else:
                groups.setdefault(recs[n].space_name, []).append(n)
    out = {}
    for label, ns in groups.items():
        if len({_regime_x(recs[n], pops[n]) for n in ns}) >= 2:
            out[label] = sorted(ns, key=lambda n: _regime_x(recs[n], pops[n]))
        elif not named:
            skipped.append(f"space {label}: one regime only ({', '.join(ns)})")
    if not out:
        found = ", ".join(f"{n} ({recs[n].space_name} at {regime_label(_regime_x(recs[n], p)) if p.n else '?'})"
                          for n, p in pops.items() if p.n >= 2) or "none trained"
        raise DseError(f"a trend needs one space trained at two or more complexity regimes; the sweeps found: {found}. "
                       f"Sample several regimes with: dse sample --space NAME --regimes 200MF,400MF,800MF -n 100")
    return out, skipped


def _trends(recs, pops, params, named, n_boot, frac, ci, seed, metric) -> TrendsResult:
    """The trends of ``params`` and the complexity trends of every series (see ``Study.trends``)."""
    groups, skipped = _series(recs, pops, named)
    series = []
    for param in params:
        have = [g for g, ns in groups.items() if all(param in pops[n].param_names() for n in ns)]
        if named:
            for ns in groups.values():
                for n in ns:
                    pops[n].values(param)  # raises for an unknown parameter, listing the valid ones
        if not have:
            valid = sorted({q for ns in groups.values() for n in ns for q in pops[n].param_names()})
            raise ParamError(f"no series of regimes has the parameter {param!r} ({{params}}); valid: "
                             + ", ".join(valid), "params")
        for g in have:
            series.append(trend_series(g, param, [(n, _regime_x(recs[n], pops[n]), pops[n].values(param),
                                                   pops[n].errors) for n in groups[g]], n_boot=n_boot, frac=frac,
                                                   ci=ci, seed=seed))
    cx = [complexity_trend(g, m, [(pops[n].values("flops"), pops[n].values(m), pops[n].errors) for n in ns], ci)
          for g, ns in groups.items() for m in ("acts", "params")]
    nouns = sorted({pops[n].measure.noun for ns in groups.values() for n in ns})  # (error, PSNR: what ranks them)
    return TrendsResult(metric, ci, n_boot, series=series, complexity=cx, skipped=skipped,
                        ranked_by=" / ".join(nouns) or "error")


def _curves(pop: Population, epochs, best: int, worst: int) -> Curves:
    """The ``best`` and ``worst`` models of a population (each once) with their per-epoch records."""
    by = {}
    for r in epochs:
        by.setdefault(r.idx, []).append(r)
    order = np.argsort(pop.errors, kind="stable")
    pick = list(dict.fromkeys(list(order[:best]) + list(order[::-1][:worst])))
    ids = pop.ids
    m = pop.measure  # (a label in the measure's own value: 12.3%, 31.82 dB)
    ms = [{"label": f"{pop.sweep}/{ids[i]} ({m.fmt(m.shown(pop.errors[i]), 1 if m.unit == '%' else 2)})",
           "rows": by.get(int(ids[i]), [])} for i in pick]
    return Curves([x for x in ms if x["rows"]], measure=m)


def _fits(models) -> dict[int, Fit]:
    """{idx: Fit}: the stored fit of each model, or a new one."""
    from dse.analysis.fit import fit_regnet

    return {m.idx: m.fit or Fit.from_dict(fit_regnet(m.arch.block_widths())) for m in models}


def _check_base(space: Space, pops: dict) -> None:
    """A base space must describe the sweeps' models: the same family, block and stage count as a sampled
    sweep's space; for an imported sweep, every model's stage count and block (SE or not)."""
    for n, p in pops.items():
        if p.space:
            for k, want in (("family", space.family), ("block", space.block), ("stages", space.stages)):
                if p.space.get(k) != want:
                    raise ParamError(f"{{base}} {space.name!r} has {k} {want!r} but sweep {n!r} was sampled from "
                                     f"{p.space_name!r} with {k} {p.space.get(k)!r}; name a base space of the same "
                                     f"family, block and stage count (or omit it to use the sweep's own)", "base")
            continue
        stages = sorted({m.arch.stages for m in p.models})
        se = {m.arch.se for m in p.models}
        if stages != [space.stages] or se != {space.se}:
            raise ParamError(f"{{base}} {space.name!r} has {space.stages} stages of {space.block.upper()} blocks but "
                             f"sweep {n!r} holds models with {'/'.join(map(str, stages))} stages"
                             f"{' and Y blocks' if True in se else ''}{' and X blocks' if False in se else ''}; name a "
                             f"base space that describes its models", "base")


# a command that runs, shown when a comparison names too few sweeps
COMPARE_EXAMPLES = {"compare": "dse compare anynet_a anynet_e --until-decided", "edf": "dse edf --compare anynet_a"}


class Analyses(StudyBase):
    """The analyses of populations: EDFs, search efficiency, bootstrap, rank, trends, fits, curves, refine."""

    @checked()
    def population(self, sweep: str, *, metric: str = D.metric) -> Population:
        """The models of ``sweep`` with a ``metric`` error (final or best epoch), as arrays."""
        with self.store() as s:
            self._names(s, [sweep])  # known, and a population (not a budget copy)
            return _populations(s, [sweep], metric)[sweep]

    def _pops(self, sweeps, metric, need=2, what="this analysis", compare: bool = True) -> dict:
        with self.store() as s:
            names = self._names(s, sweeps)
            pops = _populations(s, names, metric, compare=compare)
        for p in pops.values():
            p.require(need, what)
        return pops

    @staticmethod
    def _compared(sweeps, what, least: int = 2, most: int | None = None) -> list[str]:
        """The named sweeps, ``least`` to ``most`` of them; else an error with a command that runs."""
        names = _name_list(sweeps, "sweeps")
        if len(names) < least or (most is not None and len(names) > most):
            count = (f"exactly {least}" if most == least else f"at least {least}") + (" sweep" if least == 1 else
                                                                                       " sweeps")
            example = COMPARE_EXAMPLES.get(what, f"dse {what} --compare anynet_a anynet_e")
            raise ParamError(f"{{sweeps}}: name {count}, got {len(names)}, e.g. {example}", "sweeps")
        return names

    @staticmethod
    def _check_normalization(by, bins, range_):
        """The options of a normalised comparison, checked before any data is read."""
        check_number(bins, "bins", 1, 10_000, integer=True)
        if not by:
            if range_ is not None:
                raise ParamError("{range} sets the bins of a normalised comparison: give it with {normalize}",
                                 "range", "normalize")
            return None
        if by not in NORMALIZE_BY:
            raise ParamError(f"{{normalize}} {by!r} unknown; allowed: {', '.join(NORMALIZE_BY)}", "normalize")
        return parse_window(range_, "range") if isinstance(range_, str) else range_

    def _normalization(self, pops, by, bins, range_):
        lo_hi = self._check_normalization(by, bins, range_)
        if not by:
            return None
        vals = {}
        for n, p in pops.items():
            if by in ("infer_ms", "train_ms") and by not in p.param_names():
                raise DseError(f"sweep {n!r} has no {by} timings; run dse speed --sweep {n} first")
            vals[n] = p.values(by)
            if np.isnan(vals[n]).any():
                raise DseError(f"sweep {n!r}: {int(np.isnan(vals[n]).sum())} trained model(s) have no {by} timing; "
                               f"run dse speed --sweep {n} first")
        return normalize(vals, by, bins, lo_hi)

    # ---- analyses ----
    @checked(normalize=Opt(Choice(NORMALIZE_BY)), bins=Int(1, 10_000), thresholds=Opt(Numbers(Real(0, 100))),
             band=Choice(BANDS), reference=Opt(Names()))
    def edf(self, sweeps, *, normalize: str | None = None, bins: int = 10, range=None, thresholds=None,
            metric: str = D.metric, band: str = "dkw", level: float = D.level,
            reference=None) -> EdfComparison:
        """Error EDFs of two or more sweeps, their statistics and KS tests of every pair; ``normalize`` by
        flops, params or acts (NDS: ``bins`` equal bins over ``range``, default the common range). ``band``: a
        simultaneous ``level`` confidence band around each EDF (dkw; for a normalised EDF with the effective sample
        size; bootstrap; or none).

        ``reference``: trained reference sweeps (``sample --reference``), marked at their error with each EDF's value
        there (``references``).

        >>> Study("s.sqlite").edf(["anynet_a", "anynet_e"]).sweeps["anynet_a"].band["half_width"]  # doctest: +SKIP
        """
        names = self._compared(sweeps, "edf", least=1)  # one sweep: its EDF and statistics, no KS
        self._check_normalization(normalize, bins, range)
        refs = self._reference_errors(reference, metric)
        if refs:  # a reference network is marked on the EDFs: its result must be of their kind
            with self.store() as s:
                same_task(s, [*names, *refs])
        pops = self._pops(names, metric)
        norm = self._normalization(pops, normalize, bins, range)
        out = compare_edfs({n: p.errors for n, p in pops.items()}, metric, norm, thresholds=thresholds, band=band,
                           level=level, measure=next(iter(pops.values())).measure)
        return out.with_references(refs) if refs else out

    def _reference_errors(self, reference, metric) -> dict:
        """{sweep: the error of its one trained model} of the reference sweeps named."""
        out = {}
        for n in _name_list(reference, "reference") if reference else []:
            with self.store() as s:
                names = self._names(s, [n])
                source = s.sweep(n).source
                pops = _populations(s, names, metric)
            if source != "reference":
                raise ParamError(f"{{reference}} {n!r} is a {source} sweep, not a reference network: name a sweep made "
                                 f"by dse sample --reference NAME (dse model list names them)", "reference")
            errs = pops[n].errors
            if len(errs) != 1:
                raise ParamError(f"{{reference}} {n!r} has {len(errs)} trained model(s); a reference is one trained "
                                 f"network (dse sample --reference NAME, then dse train --sweep NAME)", "reference")
            out[n] = float(errs[0])
        return out

    @checked(normalize=Opt(Choice(NORMALIZE_BY)), bins=Int(1, 10_000))
    def search_efficiency(self, sweeps, *, normalize: str | None = None, bins: int = 10, range=None, seed: int = D.seed,
                          metric: str = D.metric) -> SearchEfficiency:
        """Expected best error of m random models (m = 1, 2, 4, ...) of two or more sweeps."""
        names = self._compared(sweeps, "search-efficiency")
        self._check_normalization(normalize, bins, range)
        pops = self._pops(names, metric)
        norm = self._normalization(pops, normalize, bins, range)
        return compare_search({n: p.errors for n, p in pops.items()}, metric, norm, seed,
                              measure=next(iter(pops.values())).measure)

    @checked(params=Names())
    def bootstrap(self, params, sweeps=None, *, n_boot: int = D.n_boot, frac: float = D.frac, ci: float = D.ci,
                  seed: int = D.seed, metric: str = D.metric) -> BootstrapResult:
        """Where the good models lie: the empirical bootstrap of the best model's value of each parameter
        (``"depth"``, ``["wm", "w4"]``, ...) in each sweep that has it (named sweeps must all have it)."""
        params = _name_list(params, "params")
        if not params:
            raise ParamError("{params}: name at least one parameter", "params")
        named = bool(sweeps)
        with self.store() as s:
            names = self._names(s, sweeps)
            pops = _populations(s, names, metric)
        panels = []
        for param in params:
            if named:  # sweeps named explicitly must all qualify
                for p in pops.values():
                    p.require(2, "the bootstrap")
                    p.values(param)  # raises for an unknown parameter, listing the valid ones
            have = [n for n in names if pops[n].n >= 2 and param in pops[n].param_names()]
            if not have:
                valid = sorted({q for p in pops.values() for q in p.param_names()})
                raise ParamError(f"no sweep with at least 2 trained models has the parameter {param!r} ({{params}}); "
                                 f"valid: "
                                 + ", ".join(valid), "params")
            for n in have:
                panels.append(bootstrap_panel(n, param, pops[n].values(param), errors=pops[n].errors, n_boot=n_boot,
                                              frac=frac, ci=ci, seed=seed, measure=pops[n].measure))
        return BootstrapResult(metric, panels)

    @checked(x=Text(), y=Opt(Text()), good=Real(0, 1, low_open=True))
    def rank(self, x: str = "lr", y: str | None = "wd", *, sweeps=None, good: float = 0.25,
             metric: str = D.metric) -> RankResult:
        """The relative-rank scatter (NDS Fig. 12, RegNet Fig. 21): every trained model of ``sweeps`` (default:
        those that have ``x`` and ``y``) at (x, y), coloured by its error rank within its sweep / n, with the
        least-squares line of the good models (relative rank <= ``good``) in log-log space; ``y=None`` draws
        relative rank against ``x`` (e.g. ``x="lr_wd"``).

        >>> Study("s.sqlite").rank("lr", "wd").fit["slope"]                           # doctest: +SKIP
        """
        from dse.analysis.rank import rank_scatter

        if y is not None and y == x:
            raise ParamError(f"{{y}} must differ from {{x}} ({x!r}); omit {{y}} to draw rank against {x}", "y", "x")
        with self.store() as s:
            names = self._names(s, sweeps)
            pops = _populations(s, names, metric)
        wanted = [q for q in (x, y) if q]
        have = [n for n in names if pops[n].n and all(q in pops[n].param_names() for q in wanted)]
        if sweeps:
            for n in names:
                for q, flag in ((x, "x"), (y, "y")):
                    if q:
                        try:
                            pops[n].values(q)
                        except ParamError as e:
                            raise ParamError(str(e).replace("{param}", f"{{{flag}}}"), flag) from None
        if not have:
            valid = sorted({q for p in pops.values() for q in p.param_names()})
            raise ParamError(f"no trained sweep has {' and '.join(map(repr, wanted))} ({{x}}/{{y}}); sample a space "
                             f"that varies them (e.g. regnetx_lrwd) and train it; parameters here: {', '.join(valid)}",
                             "x", "y")
        xs = np.concatenate([pops[n].values(x) for n in have])
        ys = np.concatenate([pops[n].values(y) for n in have]) if y else None
        es = np.concatenate([pops[n].errors for n in have])
        g = np.concatenate([[n] * pops[n].n for n in have])
        return rank_scatter(xs, es, sweep_of=g, y=ys, x_name=x, y_name=y, good=good)

    @checked(params=Names())
    def trends(self, params, sweeps=None, *, n_boot: int = D.n_boot, frac: float = D.frac, ci: float = D.ci,
               seed: int = D.seed,
               metric: str = D.metric) -> TrendsResult:
        """How the good models change with complexity (RegNet Fig. 11, 12 bottom): per regime the bootstrap of
        the best model's value of each parameter, across regimes the slope of log(value) on log(flops) with a
        ci% interval from the replicates, and acts ~ flops^alpha, params ~ flops^beta of the good models.

        Without ``sweeps`` every trained sweep counts, grouped by space (a space with two or more regimes is a
        series); named sweeps form one series whatever their spaces.

        >>> Study("s.sqlite").trends(["depth", "w0"]).to_frame()                      # doctest: +SKIP
        """
        params = _name_list(params, "params")
        if not params:
            raise ParamError("{params}: name at least one parameter", "params")
        with self.store() as s:
            names = self._names(s, sweeps)
            recs = {n: s.sweep(n) for n in names}
            pops = _populations(s, names, metric)
        return _trends(recs, pops, params, named=bool(sweeps), n_boot=n_boot, frac=frac, ci=ci, seed=seed,
                       metric=metric)

    @checked(top=Int(1, MAX_MODELS), save=Bool(), best=Opt(Int(1, MAX_MODELS)))
    def fit(self, sweeps=None, *, top: int = 20, metric: str = D.metric, save: bool = True,
            best: int | None = None) -> FitResult:
        """Fit the RegNet form to every model's per-block widths (stored fits are reused); ``save`` stores the
        new ones, so later analyses of w0/wa/wm/e_fit reuse them. ``best``: only that many lowest-error models of
        each sweep (a fit takes ~0.05 s a model)."""
        col = METRIC_COLUMN[metric]
        rows = []
        with self.store() as s:
            names = self._names(s, sweeps)
            measure = same_task(s, names, degradation=False, why="the top K are ranked by one measure (an error, or "
                                "a PSNR); fit the sweeps of one task (--sweep)").metric
            for n in names:
                ms = s.models(n)
                if best is not None:
                    ms = sorted((m for m in ms if getattr(m, col) is not None),
                                key=lambda m: measure.loss(getattr(m, col)))[:best]
                fits = _fits(ms)
                if save:
                    s.set_fits(n, {m.idx: fits[m.idx] for m in ms if m.fit is None})
                rows += [FitRow(n, m.idx, getattr(m, col), fits[m.idx], m.arch) for m in ms]
        if not rows:
            raise DseError("no models to fit")
        return FitResult(metric, int(top), rows, measure)

    @checked()
    def complexity(self, sweeps=None, *, metric: str = D.metric) -> ComplexityView:
        """Error against flops, params and acts of the trained models of each sweep."""
        pops = self._pops(sweeps, metric, need=1, compare=False)
        return ComplexityView(metric, {n: {k: p.values(k) for k in COUNTS} | {"errors": p.measure.shown(p.errors)}
                                       for n, p in pops.items()}, measures={n: p.measure for n, p in pops.items()})

    @checked(best=Int(0, MAX_MODELS), worst=Int(0, MAX_MODELS))
    def curves(self, sweep: str, *, best: int = 5, worst: int = 5, metric: str = D.metric) -> Curves:
        """Per-epoch train and test error of the ``best`` and ``worst`` models of a sweep."""
        pop = self._pops([sweep], metric, need=1, compare=False)[sweep]
        with self.store() as s:
            return _curves(pop, s.epoch_rows([sweep]), best, worst)

    @checked(sweep=Names(), min_support=Int(1, MAX_MODELS))
    def refine(self, sweep, *, base: str | Space | None = None, min_support: int = 20, n_boot: int = D.n_boot,
               ci: float = D.ci, seed: int = D.seed, metric: str = D.metric) -> RefineResult:
        """Proposals for a better space from a trained sweep: narrower ranges and structural constraints
        with their evidence, and the refined space (``.write(path)`` writes its file).

        ``sweep`` may name several sweeps of one space (its regimes, ``["regnetx@200MF", "regnetx@800MF"]``):
        ranges then cover every regime's good interval and a proposal must be accepted at each regime."""
        from dse.analysis.refine import refine_regimes

        names = _name_list(sweep, "sweep")
        if not names:
            raise ParamError("{sweep}: name the trained sweep(s) to refine from", "sweep")
        pops = self._pops(names, metric, need=2, what="refine")
        with self.store() as s:
            x = {n: _regime_x(s.sweep(n), p) for n, p in pops.items()}
        pops = dict(sorted(pops.items(), key=lambda t: x[t[0]]))  # regimes vote in order of flops
        if base is not None:
            if not isinstance(base, (str, os.PathLike, Space)):
                raise ParamError(f"{{base}} must be a built-in space's name, a .toml path or a Space, got {base!r}",
                                 "base")
            space = base if isinstance(base, Space) else resolve_space(str(base))
            _check_base(space, pops)
        else:
            imported = [n for n, p in pops.items() if not p.space]
            if imported:
                raise ParamError(f"sweep {imported[0]!r} was imported: name its base space with {{base}} NAME|PATH",
                                 "base")
            specs = {n: json.dumps(p.space, sort_keys=True) for n, p in pops.items()}
            if len(set(specs.values())) > 1:
                raise ParamError(f"sweeps {', '.join(names)} were sampled from different space definitions "
                                 f"({', '.join(sorted({pops[n].space_name for n in names}))}); refine one space's "
                                 f"regimes together, or name the base space with {{base}}", "base")
            space = parse_space(pops[names[0]].space, f"sweep {names[0]}")
        out = refine_regimes(space, [(n, p.models, p.errors) for n, p in pops.items()], min_support, n_boot, ci,
                             seed=seed)
        out.measure = pops[names[0]].measure  # (one task: the sweeps were checked comparable)
        return out
