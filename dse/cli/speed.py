"""``dse speed`` and ``dse plot speed``: the runtime of every model, and which complexity measure predicts it."""

from __future__ import annotations

import sys

import click

from dse.cli.analysis import plot
from dse.cli.options import PLOT, check_plot, option, save_plot
from dse.cli.main import cli, db_option, json_option, study
from dse.errors import DseError
from dse.report.console import print_json, say, table
from dse.units import human
from dse.validate import NOISY_TIMING as NOISY
from dse.validate import COUNTS, SPEED_CHOICES, SPEED_MODES


@cli.command()
@option("sweeps", help="Sweep to time (repeatable; default: every sweep).")
@option("device")
@click.option("--mode", type=click.Choice(SPEED_CHOICES), default="infer", show_default=True,
              help="infer: a forward pass in eval mode; train: one whole training step of the engine.")
@click.option("--batch", type=int, default=64, show_default=True, help="Images per timed batch.")
@click.option("--repeat", type=int, default=10, show_default=True, help="Timed runs per model (the median is kept).")
@click.option("--force", is_flag=True, help="Measure again what was measured (default: only what is missing).")
@click.option("--baseline", default=None, metavar="NAME,...",
              help="Time these reference networks too (effnet_b0,resnet50,...: dse model list) at the first sweep's "
                   "regime, on the same device, mode and batch, and set each beside the models of its flops.")
@click.option("--from-training", is_flag=True,
              help="Report from the training throughput stored by dse train (images/s), measuring nothing.")
@PLOT
@db_option
@json_option
def speed(sweeps, device, mode, batch, repeat, force, baseline, from_training, plot, db, as_json):
    """Time every model (pending or trained) at its sweep's regime, and say which complexity measure predicts
    the time: Pearson and Spearman correlation of ms with flops, params and acts, and the least-squares fits
    ms ~ a*flops + c, ms ~ b*acts + c, ms ~ a*flops + b*acts + c (RegNet paper Fig. 12 top).

    Timed as the engine runs: channels_last, bf16 on a GPU (fp32 on a CPU), the training step from its CUDA
    graph; 3 warm-up runs, then the median of --repeat runs, synchronised on a GPU. Results are stored per
    model, device, mode and batch; Ctrl-C keeps them.
    """
    check_plot(plot)
    if from_training:  # options of a measurement do not apply to a report of training throughput: say so
        ctx = click.get_current_context()
        given = [f"--{k}" for k in ("device", "mode", "batch", "repeat", "force", "baseline")
                 if ctx.get_parameter_source(k) == click.core.ParameterSource.COMMANDLINE]
        if given:
            raise DseError(f"{', '.join(given)} do(es) not apply with --from-training, which measures nothing: it "
                           f"reads each model's training throughput at the batch and on the device it trained with")
    st = study(db)
    if from_training:
        results = [st.speed_report(list(sweeps) or None, from_training=True)]
    else:
        results = st.speed(list(sweeps) or None, device=device, mode=mode, batch=batch, repeat=repeat, force=force,
                           events=_progress(as_json), baseline=baseline)
    if as_json:
        save_plot(results[0], plot, quiet=True)
        print_json(results[0].to_json() if len(results) == 1 else [r.to_json() for r in results])
        return
    for r in results:
        _show(r)
    save_plot(results[0], plot)  # the first mode measured (infer with --mode both)


def _progress(quiet):
    """One line per timed model on standard error (rewritten in place on a terminal)."""
    count = [0]
    tty = sys.stderr.isatty()

    def events(sweep, idx, mode, ms):
        count[0] += 1
        line = f"timed {count[0]}: {sweep}/{idx} {mode} {ms:.2f} ms"
        if tty:
            click.echo("\r" + line.ljust(60), err=True, nl=False)
        elif not quiet and count[0] % 10 == 0:
            click.echo(line, err=True)
    return events


def _show(r):
    say(f"{r.mode} time on {r.device}, batch {r.batch}: {r.n} models, median {r.median_ms:.3g} ms"
        + (" (from training throughput)" if r.source == "training" else ""))
    table("correlation of ms with", ["measure", "Pearson r", "Spearman rho"],
          [[k, f"{r.pearson[k]:.3f}", f"{r.spearman[k]:.3f}"] for k in COUNTS])
    table("least-squares fits of ms", ["terms", "coefficients", "intercept", "R^2"],
          [[" + ".join(f.terms), ", ".join(f"{c:.4g}" for c in f.coef), f"{f.intercept:.4g}", f"{f.r2:.4f}"]
           for f in r.fits])
    say(f"best single predictor here: {r.best} (Pearson r {r.pearson[r.best]:.3f})")
    if r.spread_median is not None:
        say(f"spread of the timed repeats (IQR / median): median {100 * r.spread_median:.1f}% over the models")
        if r.noisy:
            say(f"warning: {len(r.noisy)} of {r.n} models' repeats spread by more than {100 * NOISY:.0f}%: the machine "
                f"was busy, so these times (and the fits) are partly noise; measure again on a quiet machine (--force)")
    for n, e in r.predicted.items():
        say(f"sweep {n} was sampled with --max-ms: its predicted times are off by {e:.1f}% (median) from measured")
    if r.baselines:
        table("reference networks beside the models of their flops (ratio > 1: the reference is slower)",
              ["network", "flops", "acts", "ms", "peers", "their flops", "their acts", "their ms", "ratio"],
              [[b["name"], human(b["flops"], "F"), human(b["acts"]), f"{b['ms']:.3g}", b["peers"],
                human(b["peers_flops"], "F"), human(b["peers_acts"]), f"{b['peers_ms']:.3g}", f"{b['ratio']:.2f}x"]
               for b in r.baselines])


@plot.command("speed")
@option("sweeps")
@option("device", type=click.STRING, default=None, show_default=False,
        help="The device's name as stored (default: the most measured).")
@click.option("--mode", type=click.Choice(SPEED_MODES), default="infer", show_default=True,
              help="Which timings.")
@click.option("--batch", type=int, default=None, help="Which batch size (default: the most measured).")
@click.option("--plot", "out", default="speed.png", show_default=True, metavar="FILE.png|FILE.svg",
              help="The picture to write.")
@db_option
def plot_speed(sweeps, device, mode, batch, out, db):
    """ms against flops, params and acts (log-log) with Pearson's r and the fitted line (Fig. 12 top)."""
    check_plot(out)
    save_plot(study(db).speed_report(list(sweeps) or None, device=device, mode=mode, batch=batch), out)
