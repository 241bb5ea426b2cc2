"""``dse findings``: the RegNet paper's findings as verdicts on this store; ``--plan`` and ``--run`` the study
that would test them."""

from __future__ import annotations

import click

from dse.api.findings import SCALES
from dse.params import REGIME
from dse.tasks import SR_SCALES
from dse.cli.main import cli, db_option, json_option, study
from dse.cli.options import PLOT, check_plot, option, progress_display, run_options, run_settings, save_plot
from dse.errors import DseError
from dse.units import duration
from dse.report.console import print_json, say, table
from dse.validate import MAX_MODELS

VERDICT = {"holds": "holds", "contradicted": "CONTRADICTED", "can't tell": "can't tell",
           "not applicable": "not applicable"}


class _OnlyOption(click.Option):
    """--only: its help lists the registered findings (dse.analysis.findings.FINDINGS) when it is shown."""

    def get_help_record(self, ctx):
        from dse.analysis.findings import FINDINGS

        self.help = "Only these findings (repeatable): " + ", ".join(f.id for f in FINDINGS) + "."
        return super().get_help_record(ctx)


@cli.command()
@option("sweeps", help="Judge on these sweeps only (repeatable; default: all).")
@click.option("--only", multiple=True, metavar="ID", cls=_OnlyOption, help="Only these findings (repeatable).")
@option("n_boot")
@option("ci")
@option("seed")
@option("metric")
@click.option("--plan", "plan", is_flag=True, help="Print the study that would test every finding, and its cost here.")
@click.option("--run", "run_", is_flag=True, help="Sample and train that study (resumable), then print the verdicts.")
@click.option("--scale", "study_scale", type=click.Choice(tuple(SCALES)), default="cpu", show_default=True,
              help="--plan/--run preset: paper (200MF-3.2GF at 224 px, 100 models, 10 epochs) or cpu (2-8 MF at "
                   "28 px Fashion-MNIST, 24 models, 2 epochs).")
@click.option("--regimes", default=None, metavar="F,F,...", help="--plan/--run: the regimes (default: the scale's).")
@click.option("-n", "n", type=click.IntRange(2, MAX_MODELS), default=None,
              help="--plan/--run: models per space and regime (default: the scale's).")
@option("budget", default=None, show_default=False, metavar="Nep|Nit",
        help="--plan/--run: training budget (default: the scale's).")
@click.option("--spaces", default=None, metavar="S,S,...",
              help="--plan/--run: the spaces (default: regnetx, regnety, regnet, regnetx_inverted, regnetx_dw, "
                   "regnetx_res at 224 px, regnetx_lrwd).")
@option("dataset", default=None, show_default=False, help="--plan/--run: data (default: the scale's).")
@option("train_size", help="--plan/--run: training images (default: the scale's).")
@option("test_size", help="--plan/--run: test images (default: the scale's).")
@click.option("--no-probe", is_flag=True, help="--plan: no short timing (the cost is then unknown).")
@click.option("--task", "task", type=click.Choice(("classify", "sr", "denoise")), default="classify",
              show_default=True, help="Judge (or --plan/--run) the sweeps of this task: classification, or what each "
                                      "finding means on super-resolution or denoising (docs/findings.md).")
@click.option("--compare-tasks", is_flag=True,
              help="Classification's verdicts beside --task's (default sr), one row per finding: do the rules carry "
                   "over? (holds in both, holds in one, contradicted in one, can't tell, not applicable)")
@click.option("--sr-scale", type=click.IntRange(min(SR_SCALES), max(SR_SCALES)), default=None,
              help="SR: the upscaling factor whose sweeps are judged (default: the one the store's SR sweeps have).")
@option("sigma", REGIME["sigma"], help="Denoising: the noise level whose sweeps are judged (default: the one the "
                                      "store's denoising sweeps have).")
@run_options
@PLOT
@db_option
@json_option
def findings(sweeps, only, n_boot, ci, seed, metric, plan, run_, study_scale, regimes, n, budget, spaces, dataset,
             train_size, test_size, no_probe, task, compare_tasks, sr_scale, sigma, plot, db, as_json, plain,
             **settings):
    """The RegNet paper's findings as verdicts on this store, one row each: the claim, what was measured (the
    statistic and its interval, n, regimes, device) and holds, CONTRADICTED or can't tell (why, and what would
    settle it). The criteria are written in docs/findings.md. Example: dse findings --plot findings.png

    --plan: the spaces, regimes, models and hours a test of every finding takes at --scale; --run: sample and train
    it (a crash or Ctrl-C loses nothing; run again to continue), then judge. --task sr: the same on SR sweeps (each
    finding as it reads there, or not applicable); --compare-tasks: both side by side.
    """
    check_plot(plot)
    st = study(db)
    planned = None
    if compare_tasks:
        if plan or run_:
            raise DseError("--compare-tasks judges the store's classification and --task sweeps side by side; plan "
                           "or run each task's study with --plan/--run --task TASK")
        c = st.findings_by_task(list(sweeps) or None, task="sr" if task == "classify" else task, n_boot=n_boot,
                                ci=ci, seed=seed, metric=metric, only=list(only) or None, scale=sr_scale, sigma=sigma)
        if as_json:
            print_json(c.to_json())
            return
        _show_comparison(c)
        return
    if plan or run_:
        if sweeps or only:
            raise DseError("--sweep and --only judge an existing store; --plan and --run make the study")
        if plot and not run_:
            raise DseError("--plot draws the verdicts and --plan gives none: leave --plot out, or add --run (which "
                           "judges the study it trains)")
        planned = st.findings_plan(study_scale, regimes=regimes, n=n, budget=budget, spaces=spaces, dataset=dataset,
                                   train_size=train_size, test_size=test_size, probe=not no_probe, task=task,
                                   data_dir=settings.get("data_dir"))
        if plan and not run_:
            if as_json:
                print_json(planned.to_json())
                return
            _show_plan(planned, db)
            return
        if not as_json:
            _show_plan(planned, db)
        from dse.api.training import RunOptions

        run = RunOptions(**run_settings(settings), progress=None if as_json else progress_display(plain))
        try:
            r = st.findings_run(planned, run=run, seed=seed)
        except KeyboardInterrupt:
            say("\ninterrupted: running models went back to pending; run the same command again to continue")
            raise
        if not as_json:
            said = f"; the plan said {planned.estimate}" if planned.estimate is not None else ""
            say(f"training took {duration(r.trained_seconds)}{said}")
    else:
        r = st.findings(list(sweeps) or None, n_boot=n_boot, ci=ci, seed=seed, metric=metric, only=list(only) or None,
                        task=task, scale=sr_scale, sigma=sigma)
    if as_json:
        save_plot(r, plot, quiet=True)
        print_json(r.to_json())
        return
    _show(r)
    save_plot(r, plot)


def _show(r):
    on = "" if r.task == "classify" else f" as they read on {r.task.upper() if r.task == 'sr' else r.task}"
    table(f"the RegNet paper's findings{on} on this store ({r.ci:g}% intervals; criteria: docs/findings.md)",
          ["finding", "verdict", "why"], [[x.claim, VERDICT[x.verdict], x.reason] for x in r.rows])
    for x in r.rows:
        if x.measured or x.settle or x.notes:
            say(f"- {x.id}: " + "; ".join(p for p in (
                f"measured {x.measured}" if x.measured else "",
                f"n {x.n} over {', '.join(x.regimes)}" if x.regimes else "",
                f"device {x.device}" if x.device else "",
                f"to settle: {x.settle}" if x.settle and x.verdict == "can't tell" else "",
                *x.notes) if p))


def _show_comparison(c):
    other = c.other.task.upper() if c.other.task == "sr" else c.other.task
    table(f"do the RegNet rules carry over? classification beside {other} ({c.classify.ci:g}% intervals; criteria: "
          f"docs/findings.md)", ["finding", "classification", other, "together"],
          [[r["id"], VERDICT[r["classify"]], VERDICT[r[c.other.task]], r["reading"]] for r in c.rows])
    for r in c.rows:
        why = [f"classification: {r['classify_why']}" if r["classify"] != "holds" and r["classify_why"] else "",
               f"{other}: {r[c.other.task + '_why']}" if r[c.other.task] != "holds" and r[c.other.task + "_why"]
               else "", f"to settle: {r['settle']}" if r["settle"] else ""]
        if any(why):
            say(f"- {r['id']}: " + "; ".join(w for w in why if w))
    for note in c.notes:
        say(f"note: {note}")


def _show_plan(p, db):
    took = str(p.estimate) if p.estimate is not None else ""
    px = " patches" if p.task != "classify" else ""
    took = took or (duration(p.seconds) if p.source != "none" else "")
    table(f"a study that tests every finding at the {p.scale} scale ({p.settings['budget']}, {p.settings['dataset']}, "
          f"{p.settings['resolution']} px{px})", ["sweep", "models to train", "(done)", "s per model (one worker)"],
          [[r["sweep"], r["add"], r["have"], f"{r['seconds_per_model']:.1f}" if p.source != "none" else "?"]
           for r in p.rows])
    how = {"store": "this store's trained models", "timing": "a short timing on this machine",
           "none": "no timing (--no-probe)"}[p.source]
    say(f"{p.models} models to train" + (f", about {took} here (from {how})" if p.source != "none" else
                                         ", time unknown (--no-probe)"))
    for note in p.notes:
        say(f"note: {note}")
    say("the commands (or dse findings --run):")
    for c in p.commands(db if db != "dse.sqlite" else None):
        say(f"  {c}")
