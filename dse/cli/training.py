"""``dse train``: train the pending models of sweeps under a protocol (the low-epoch regime by default)."""

from __future__ import annotations

import click

from dse.cli.main import aliases, cli, db_option, json_option, study
from dse.cli.main import limit_type
from dse.validate import DATASETS, EXECUTORS, GRAPH_MODES, METRICS
from dse.report.console import print_json, say, table


_RUN = [
    click.option("--device", default="auto", show_default=True, help="auto (all GPUs, else CPU), cpu, cuda, cuda:N."),
    click.option("--workers-per-gpu", type=click.IntRange(min=1), default=None,
                 help="Worker processes per device [default: 4 per GPU, 1 on a CPU]."),
    click.option("--checkpoint-every-epoch/--no-checkpoint-every-epoch", default=None,
                 help="Save a resumable checkpoint after every epoch [default: on when an epoch takes over a minute]."),
    click.option("--graph", type=click.Choice(GRAPH_MODES), default="auto", show_default=True,
                 help="CUDA graph capture of the training step (GPU only; auto falls back to eager, logged; emulate "
                      "runs that code path on a CPU, for tests)."),
    click.option("--plain", is_flag=True, help="Plain log lines instead of the live display."),
    click.option("--executor", type=click.Choice(EXECUTORS), default="local", show_default=True,
                 help="local: worker processes on this machine; ray: Ray actors (pip install 'dse[ray]')."),
    click.option("--address", default=None, metavar="auto|HOST:PORT",
                 help="Ray: the cluster to join (auto: the one `ray start --head` runs here) [default: a local Ray "
                      "instance]."),
    click.option("--gpus-per-model", type=click.FloatRange(min=0, min_open=True), default=None,
                 help="Ray: GPU fraction per model, e.g. 0.25 packs four per GPU [default: 1/workers-per-gpu]."),
    click.option("--max-concurrent", type=click.IntRange(min=1), default=None,
                 help="Ray: at most this many models at once [default: what the cluster's resources allow]."),
]


def run_options(f):
    """How to train (not what): devices, workers, checkpoints, CUDA graphs, display, executor (train, budget-check)."""
    for o in reversed(_RUN):
        f = o(f)
    return f


DATA_DIR = click.option("--data-dir", type=click.Path(file_okay=False), default=None,
                        help="Where the dataset lies (default for fashion-mnist: /usr/share/datasets/fashion-mnist; "
                             "budget-check and compare: where the sweep's training found it).")
_PROTOCOL = [
    click.option("--budget", default="10ep", show_default=True, help="Nep epochs or Nit optimizer steps per model."),
    click.option("--dataset", type=click.Choice(DATASETS), default="fashion-mnist", show_default=True,
                 help="fashion-mnist: Debian's IDX files or --data-dir; cifar10: python batches in --data-dir; "
                      "imagefolder: --data-dir with train/ and val/ class folders; synthetic: random (benchmarks)."),
    DATA_DIR,
    click.option("--train-size", type=limit_type("train_size"), default=None,
                 help="Train on a fixed, seeded subset of this many images (synthetic: generate this many)."),
    click.option("--test-size", type=limit_type("test_size"), default=None,
                 help="Evaluate on a fixed subset of this many."),
    click.option("--resolution", type=limit_type("resolution"), default=None,
                 help="Image size for imagefolder (resize + centre crop) and synthetic data."),
    click.option("--batch-size", type=limit_type("batch_size"), default=128, show_default=True,
                 help="Images per SGD step."),
    click.option("--lr", type=float, default=0.05, show_default=True,
                 help="Peak learning rate (half-period cosine to 0)."),
    click.option("--weight-decay", type=float, default=5e-5, show_default=True,
                 help="L2 weight decay on all parameters."),
    click.option("--momentum", type=float, default=0.9, show_default=True,
                 help="SGD momentum (Nesterov unless --no-nesterov)."),
    click.option("--no-nesterov", is_flag=True, help="Plain momentum instead of Nesterov."),
    click.option("--no-augment", is_flag=True, help="No augmentation (default: pad-and-crop + flip for small images, "
                                                    "random-resized-crop + flip for image folders)."),
]
# the protocol options as the library's Protocol names them (data_dir is how to run, not what an error means)
PROTOCOL_PARAMS = {"budget": "budget", "dataset": "dataset", "train_size": "train_size", "test_size": "test_size",
                   "resolution": "resolution", "batch_size": "batch_size", "lr": "lr", "weight_decay": "weight_decay",
                   "momentum": "momentum", "no_nesterov": "nesterov", "no_augment": "augment"}
PROTOCOL_ALIASES = {"nesterov": "--no-nesterov", "augment": "--no-augment", "batch_size": "--batch-size"}


def protocol_options(f):
    """What an error means: data and subset, budget, optimiser (train, compare)."""
    for o in reversed(_PROTOCOL):
        f = o(f)
    return f


def given_protocol(ctx: click.Context, params: dict) -> dict:
    """The protocol settings given on the command line (not left at their defaults), as Protocol's fields."""
    from click.core import ParameterSource

    out = {}
    for name, field in PROTOCOL_PARAMS.items():
        if ctx.get_parameter_source(name) not in (ParameterSource.DEFAULT, None):
            v = params[name]
            out[field] = (not v) if name.startswith("no_") else v
    return out


def checkpoint_mode(flag) -> str:
    """--checkpoint-every-epoch / --no-... / neither as the library's checkpoint mode."""
    return {None: "auto", True: "on", False: "off"}[flag]


def progress_display(plain):
    from dse.train.progress import Progress

    return lambda path, names, epochs: Progress(path, names, epochs, live=False if plain else None)


@cli.command()
@click.option("--sweep", "sweeps", multiple=True, help="Sweep to train (repeatable; default: every sweep but the "
                                                       "copies dse budget-check trains).")
@protocol_options
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of initialisation and data order (per model: seed and index).")
@run_options
@click.option("--retry-failed", is_flag=True, help="Put failed and diverged models back to pending first.")
@click.option("--reset-protocol", is_flag=True,
              help="Forget the protocol stored by an earlier (mistaken) run and store this one; refused while any "
                   "model has results under the old one, unless --discard-results.")
@click.option("--discard-results", is_flag=True,
              help="With --reset-protocol: delete every model's results (errors, epochs, checkpoints) and retrain.")
@db_option
@aliases(workers_per_device="--workers-per-gpu", nesterov="--no-nesterov", augment="--no-augment",
         checkpoint="--checkpoint-every-epoch", batch_size="--batch-size")
def train(sweeps, budget, dataset, data_dir, train_size, test_size, resolution, batch_size, lr, weight_decay,
          momentum, no_nesterov, no_augment, seed, device, workers_per_gpu, checkpoint_every_epoch, retry_failed,
          graph, plain, executor, address, gpus_per_model, max_concurrent, reset_protocol, discard_results, db):
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
        r = study(db).train(sweeps, budget, dataset, data_dir, train_size, test_size, resolution, batch_size, lr,
                            weight_decay, momentum, not no_nesterov, not no_augment, seed, device, workers_per_gpu,
                            checkpoint_mode(checkpoint_every_epoch), retry_failed, graph,
                            executor, address, gpus_per_model, max_concurrent, on_start=started,
                            progress=progress_display(plain), reset_protocol=reset_protocol,
                            discard_results=discard_results)
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
@click.option("--sweep", "sweeps", multiple=True, required=True,
              help="A trained sweep (repeatable: with several, also whether their comparison holds).")
@click.option("--models", "k", type=int, default=20, show_default=True,
              help="Models per sweep to retrain, spread over its error quantiles (good and bad both in).")
@click.option("--factors", default="2,4", show_default=True,
              help="Longer budgets as multiples of the sweep's (each > 1; the result must be whole epochs/steps).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the model choice and the bootstrap.")
@click.option("--metric", type=click.Choice(METRICS), default="final", show_default=True,
              help="Which error: of the final epoch, or the best epoch.")
@DATA_DIR
@run_options
@click.option("--plot", "plot", default=None, metavar="FILE.png|FILE.svg",
              help="Also draw each sweep's errors at the base budget against the longer one.")
@db_option
@json_option
@aliases(models="--models", workers_per_device="--workers-per-gpu", checkpoint="--checkpoint-every-epoch")
def budget_check(sweeps, k, factors, seed, metric, data_dir, device, workers_per_gpu, checkpoint_every_epoch, graph,
                 plain, executor, address, gpus_per_model, max_concurrent, plot, db, as_json):
    """Is the training budget long enough? Retrain K models of each sweep at its budget x each factor into
    linked sweeps (S~x4: stored, resumable, shown by dse status), then compare the rankings.

    Verdict from the longest budget: trustworthy (Spearman >= 0.8, no comparison flips), misleading (a flip,
    or Spearman < 0.5), doubtful (in between). Ctrl-C stops cleanly: run the same command again to continue.
    """
    from dse.cli.analysis import _check_plot, _save

    _check_plot(plot)
    try:
        r = study(db).budget_check(list(sweeps), k, factors, seed, metric, device=device,
                                   workers_per_device=workers_per_gpu, data_dir=data_dir,
                                   checkpoint=checkpoint_mode(checkpoint_every_epoch),
                                   graph=graph, executor=executor, address=address, gpus_per_model=gpus_per_model,
                                   max_concurrent=max_concurrent, progress=None if as_json else progress_display(plain),
                                   on_start=None if as_json else (lambda s: say(s.header)))
    except KeyboardInterrupt:
        say("\ninterrupted: the copies trained so far are kept; run the same command again to continue")
        raise
    if as_json:
        _save(r, plot, quiet=True)
        print_json(r.to_json())
        return
    table("rank agreement with the base budget", ["sweep", "factor", "budget", "n", "Spearman", "95% interval",
                                                   "Kendall", "top-25% overlap", "median change"],
          [[f.sweep, f"x{f.factor:g}", f.budget, f.n, f"{f.spearman:.3f}", f"{f.spearman_low:.2f}..{f.spearman_high:.2f}",
            f"{f.kendall:.3f}", f"{f.top_overlap:.0%}", f"{f.median_change:+.2f}"] for f in r.factors])
    if r.comparisons:
        table("comparisons", ["factor", "base order", "KS p", "longer order", "KS p", "flipped"],
              [[f"x{c.factor:g}", c.base_order, f"{c.p_base:.3g}", c.long_order, f"{c.p_long:.3g}",
                "YES" if c.flipped else "no"] for c in r.comparisons])
    say(f"verdict: {r.verdict} ({r.why})")
    _save(r, plot)
