"""The HTML report, built from the study's own public methods and result objects."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from dse.analysis.population import check_metric, stage_index

from dse.api.analyses import _series
from dse.analysis.power import MIN_PILOT
from dse.api.common import StudyBase
from dse.errors import DseError, ParamError, write_error

from dse.validate import check_output
from dse.params import FilePath, checked


def _trend_params(recs, pops) -> list[str]:
    """The parameters the report's trends follow: a RegNet family's (depth w0 wa wm b g), else depth and the
    stage widths (no fits needed); those every sweep of a series has."""
    common = set.intersection(*(set(p.param_names()) for p in pops.values()))
    if all(r.family == "regnet" for r in recs.values()):
        return [q for q in ("depth", "w0", "wa", "wm", "b", "g") if q in common]
    first = next(iter(pops.values()))
    return ["depth"] + [q for q in first.param_names() if q in common and q[0] == "w" and stage_index(q) is not None]


def _bootstrap_params(rec, pop) -> list[str]:
    """The parameters the report bootstraps for a sweep: its family's, then the design choices it samples;
    those with two or more values."""
    names = pop.param_names()
    if (rec.space or {}).get("family") == "regnet":
        want = [q for q in names if q in ("depth", "w0", "wa", "wm", "b", "g")]
    else:
        want = [q for q in names if q in ("depth", "b", "g") or stage_index(q) is not None]
    want += pop.setting_names()  # the design choices it samples (activation, resolution, lr, ...)
    return [q for q in want if (~np.isnan(pop.values(q))).sum() >= 2]


class Reporting(StudyBase):
    """The HTML report, built from the study's own public methods and result objects."""

    @checked(path=FilePath())
    def report(self, path="report.html", sweeps=None, *, metric: str = "final") -> Path:
        """Write the study as one self-contained HTML file (figures inline as SVG); returns its path. Every figure
        and table is a result of a public ``Study`` method; the report lays them out."""
        from dse.report.html import ReportData, render

        if not isinstance(path, (str, os.PathLike)) or Path(path).suffix.lower() not in (".html", ".htm"):
            raise ParamError(f"{{path}} {path!r}: the report is an .html file", "path")
        out = check_output(path, "path")
        check_metric(metric)
        with self.store() as s:
            names = self._names(s, sweeps)
            recs = {n: s.sweep(n) for n in names}
        pops = {n: self.population(n, metric=metric) for n in names}
        data = ReportData(self.path, metric, names, [st for st in self.status() if st.sweep in names])
        trained = data.trained = [n for n in names if pops[n].n >= 2]
        data.with_error = {n: p.n for n, p in pops.items()}
        if trained:
            data.edf = self.edf(trained, metric=metric)
            if len(trained) > 1:
                for k in (10, 5, 3, 2):  # the finest binning every sweep fills
                    try:
                        data.edf_flops = self.edf(trained, normalize="flops", bins=k, metric=metric)
                        break
                    except DseError:
                        continue
            for n in trained:
                want = _bootstrap_params(recs[n], pops[n])
                if want:
                    data.bootstraps[n] = self.bootstrap(want, [n], metric=metric)
                data.curves[n] = self.curves(n, best=3, worst=3, metric=metric)
                data.fits[n] = self.fit([n], top=8, metric=metric, save=False, best=8)  # the report only reads
                opt = [q for q in ("lr", "wd", "momentum", "batch_size") if q in pops[n].setting_names()]
                if opt and pops[n].n >= 4:  # a sweep that samples optimiser settings: Fig. 21
                    x, y = ("lr", "wd") if {"lr", "wd"} <= set(opt) else (opt[0], None)
                    data.ranks[n] = [self.rank(x, y, sweeps=[n], metric=metric)]
                    if y == "wd":
                        data.ranks[n].append(self.rank("lr_wd", None, sweeps=[n], metric=metric))
                if recs[n].space:
                    data.refines[n] = self.refine(n, min_support=min(20, max(2, pops[n].n // 5)), metric=metric)
            data.complexity = self.complexity(trained, metric=metric)
            try:
                groups, _ = _series({n: recs[n] for n in trained}, {n: pops[n] for n in trained}, named=False)
            except DseError:  # no space trained at two or more regimes
                groups = {}
            if groups:
                ns = [n for g in groups.values() for n in g]
                # the whole store groups itself by space; named sweeps would make one series, so name one space's
                series = None if sweeps is None or len(groups) > 1 else ns
                data.trends = self.trends(_trend_params({n: recs[n] for n in ns}, {n: pops[n] for n in ns}),
                                          series, metric=metric)
                for g, group in groups.items():
                    if len({json.dumps(recs[n].space, sort_keys=True) for n in group}) == 1 and recs[group[0]].space:
                        data.regime_refines[g] = self.refine(group, metric=metric, min_support=min(
                            20, max(2, min(pops[n].n for n in group) // 5)))
            pilots = [n for n in trained if pops[n].n >= MIN_PILOT]
            if len(pilots) >= 2:  # how many models the first comparison needs (a light simulation)
                try:
                    data.power = self.power(pilots[:2], n="10,25,50,100,200", reps=500, metric=metric)
                except DseError:  # e.g. sweeps under different protocols: no power to report
                    data.power = None
            data.undertraining = self.undertraining(names, metric=metric)
            data.budget_check = self.stored_budget_check(trained, metric=metric)
        text = render(data)
        try:
            out.write_text(text)
        except OSError as e:
            raise write_error(out, e) from None
        return out
