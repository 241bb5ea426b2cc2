"""``dse train``: train the pending models of sweeps under a protocol (the low-epoch regime by default), and
``dse budget-check``: is that budget long enough. Their options are the shared ones of ``dse.cli.options``."""

from __future__ import annotations

import click

from dse.cli.main import cli, db_option, json_option, study
from dse.cli.options import (PLOT, check_plot, option, progress_display, protocol_options, protocol_settings,
                             run_options, run_settings, save_plot)
from dse.report.console import print_json, say, table


@cli.command()
@option("sweeps", help="Sweep to train (repeatable; default: every sweep but the copies dse budget-check trains).")
@protocol_options
@option("seed", help="Seed of initialisation and data order (per model: seed and index).")
@run_options
@option("retry_failed")
@option("reset_protocol")
@option("discard_results")
@db_option
def train(sweeps, seed, plain, retry_failed, reset_protocol, discard_results, db, **settings):
    """Train the pending models of the sweeps and record per-epoch and final errors.

    The protocol (dataset and subset, budget, regime) is stored with a sweep the first time it is
    trained; later runs must use the same one. Ctrl-C stops cleanly: run the command again to continue.
    Several `dse train` processes on one store share the work.
    """
    def started(summary):
        if summary.synthetic:
            say("dataset: SYNTHETIC random images (for benchmarks and tests: the errors mean nothing)")
        say(summary.header)

    try:
        r = study(db).train(list(sweeps) or None, seed=seed, **protocol_settings(settings), **run_settings(settings),
                            retry_failed=retry_failed, reset_protocol=reset_protocol, discard_results=discard_results,
                            on_start=started, progress=progress_display(plain))
    except KeyboardInterrupt:
        say("\ninterrupted: running models went back to pending; run the same command again to continue")
        raise
    if not r.trained_now:
        if r.synthetic:
            say("dataset: SYNTHETIC random images (for benchmarks and tests: the errors mean nothing)")
        say(f"nothing pending in {', '.join(r.sweeps)}: every model is trained (see `dse status`)")
        return
    say(f"finished: {r.done} done, {r.failed} failed, {r.diverged} diverged, {r.pending} pending "
        f"(`dse status`, `dse export`)")


@cli.command("budget-check")
@option("sweeps", required=True,
        help="A trained sweep (repeatable: with several, also whether their comparison holds).")
@click.option("--models", type=int, default=20, show_default=True,
              help="Models per sweep to retrain, spread over its error quantiles (good and bad both in).")
@click.option("--factors", default="2,4", show_default=True,
              help="Longer budgets as multiples of the sweep's (each > 1; the result must be whole epochs/steps).")
@option("seed", help="Seed of the model choice and the bootstrap.")
@option("metric")
@run_options
@PLOT
@db_option
@json_option
def budget_check(sweeps, models, factors, seed, metric, plain, plot, db, as_json, **settings):
    """Is the training budget long enough? Retrain K models of each sweep at its budget x each factor into
    linked sweeps (S~x4: stored, resumable, shown by dse status), then compare the rankings.

    Verdict from the longest budget: trustworthy (Spearman >= 0.8, no comparison flips), misleading (a flip,
    or Spearman < 0.5), doubtful (in between). Ctrl-C stops cleanly: run the same command again to continue.
    """
    check_plot(plot)
    try:
        r = study(db).budget_check(list(sweeps), models=models, factors=factors, seed=seed, metric=metric,
                                   **run_settings(settings), progress=None if as_json else progress_display(plain),
                                   on_start=None if as_json else (lambda s: say(s.header)))
    except KeyboardInterrupt:
        say("\ninterrupted: the copies trained so far are kept; run the same command again to continue")
        raise
    if as_json:
        save_plot(r, plot, quiet=True)
        print_json(r.to_json())
        return
    table("rank agreement with the base budget", ["sweep", "factor", "budget", "n", "Spearman", "95% interval",
                                                   "Kendall", "top-25% overlap",
                                                   f"median {r.measure.noun} change ({r.measure.points})"],
          [[f.sweep, f"x{f.factor:g}", f.budget, f.n, f"{f.spearman:.3f}",
            f"{f.spearman_low:.2f}..{f.spearman_high:.2f}",
            f"{f.kendall:.3f}", f"{f.top_overlap:.0%}", f"{f.median_change:+.2f}"] for f in r.factors])
    if r.comparisons:
        table("comparisons", ["factor", "base order", "KS p", "longer order", "KS p", "flipped"],
              [[f"x{c.factor:g}", c.base_order, f"{c.p_base:.3g}", c.long_order, f"{c.p_long:.3g}",
                "YES" if c.flipped else "no"] for c in r.comparisons])
    say(f"verdict: {r.verdict} ({r.why})")
    save_plot(r, plot)
