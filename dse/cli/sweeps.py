"""``dse spaces | sample | status | export | import``: design spaces and the sweep store."""

from __future__ import annotations

import click

from dse.cli.analysis import budget_warnings

from dse.cli.main import aliases, cli, db_option, json_option, study
from dse.cli.options import option, regime_options
from dse.errors import DseError, ParamError
from dse.report.console import print_json, say, table
from dse.tasks import task
from dse.units import human, regime_label
from dse.params import REGIME
from dse.validate import SPEED_MODES


@cli.command()
@click.option("--space", "paths", multiple=True, metavar="PATH", help="Also describe this space file (repeatable).")
@json_option
def spaces(paths, as_json):
    """List the built-in design spaces (and any --space files): dof and log10 size of each."""
    from dse.spaces import builtin_names, load_space, resolve_space

    items = [resolve_space(n) for n in builtin_names()] + [load_space(p) for p in paths]
    rows = [{"name": s.name, "family": s.family, "block": s.block, "stages": s.stages, "dof": s.dof,
             "log10_size": round(s.log10_size, 2), "description": s.description} for s in items]
    if as_json:
        print_json(rows)
        return
    table("design spaces", ["name", "dof", "log10 size", "description"],
          [[r["name"], r["dof"], f"{r['log10_size']:.1f}", r["description"]] for r in rows])


@cli.command()
@click.option("--space", default=None, metavar="NAME|PATH", help="A built-in space name or a space .toml file.")
@click.option("--reference", default=None, metavar="NAME",
              help="Instead of a space: one reference network (resnet50, effnet_b0, resnet56, ...: dse model list) as "
                   "a one-model sweep, to train and time beside populations; counted at its own resolution and "
                   "classes unless --resolution/--num-classes are given; SR and denoising networks (edsr_baseline_x2, "
                   "fsrcnn_x4, dncnn: dse model list --task sr) at their task's output.")
@click.option("-n", "n", type=int, default=None, help="Number of distinct models the sweep should hold.")
@option("sweep", help="Sweep name (default: the space's name); with --regimes the prefix of NAME@REGIME.")
@option("flops", REGIME["flops"], default=None, show_default=False,
        more=f" [default: the space's own regime, else {REGIME['flops'].default}].")
@click.option("--regimes", default=None, metavar="F,F,...",
              help="Sample several complexity regimes, one sweep NAME@F each: 200MF,400MF,1.6GF (F means the "
                   "window 0.9F:F) or explicit windows 180M:200M,360M:400M. -n applies per regime.")
@click.option("--bitops", default=None, metavar="LO:HI",
              help="A window in bit operations instead of --flops (e.g. 2G:8G): multiply-adds x weight bits x "
                   "activation bits, each model at its own bit widths (a float model: flops x 32 x 32; the first "
                   "and last layers of a quantised one at 8 bits). For spaces that sample bits_w/bits_a.")
@regime_options(space=True)
@click.option("--max-params", default=None, metavar="N", help="Optional cap on parameters (e.g. 6M).")
@click.option("--max-acts", default=None, metavar="N", help="Optional cap on activations (e.g. 4M).")
@click.option("--max-ms", type=float, default=None, metavar="MS",
              help="Keep only models whose predicted time is at most MS milliseconds per batch (the flops + acts "
                   "fit stored by the last dse speed on --speed-device).")
@click.option("--speed-device", default=None, help="The device the --max-ms prediction is for (default: the most "
                                                   "measured one with a fit).")
@click.option("--speed-mode", type=click.Choice(SPEED_MODES), default="infer", show_default=True,
              help="Which timings --max-ms predicts.")
@click.option("--speed-batch", type=int, default=None, help="The batch of those timings (default: the most measured).")
@option("seed", default=None, show_default=False, help="Random seed (default 0; a top-up reuses the sweep's).")
@db_option
@json_option
@click.pass_context
def sample(ctx, space, reference, n, sweep, flops, bitops, regimes, resolution, stem, in_channels, num_classes, scale,
           sigma, max_params, max_acts, max_ms, speed_device, speed_mode, speed_batch, seed, db, as_json):
    """Draw N distinct models from a space into the store, honestly: the space's distribution
    conditioned on its constraints and the complexity window (at --resolution with --stem).

    Run again with a larger N to top the sweep up (same seed stream, existing models kept).
    With --reference NAME: that one network as a sweep (dse train trains it, dse speed times it).
    """
    if (space is None) == (reference is None):
        raise click.UsageError("give --space NAME|PATH (a population) or --reference NAME (one network)")
    if reference is not None:
        bad = [f for f, v in (("-n", n), ("--flops", flops), ("--bitops", bitops), ("--regimes", regimes),
                              ("--scale", scale),
                              ("--sigma", sigma), ("--max-params", max_params),
                              ("--max-acts", max_acts), ("--max-ms", max_ms), ("--seed", seed)) if v is not None]
        if bad:
            raise click.UsageError(f"{', '.join(bad)} go(es) with --space; --reference puts one network in a sweep")
        r = study(db).add_reference(reference, sweep, resolution=resolution,  # (None: the network's own)
                                    stem=stem or REGIME["stem"].default,
                                    in_channels=in_channels or REGIME["in_channels"].default, num_classes=num_classes)
        if as_json:
            print_json(r.to_dict())
            return
        _said(r, 1, db)
        return
    if n is None:
        raise click.UsageError("Missing option '-n' (the number of models the sweep should hold)")
    if regimes is not None:
        if bitops is not None:
            raise ParamError("{bitops} and {regimes} exclude each other: --regimes sets one flops window per regime",
                             "bitops", "regimes")
        if flops is not None:
            raise ParamError("{flops} and {regimes} exclude each other: --regimes sets one window per regime",
                             "flops", "regimes")
        rs = study(db).sample_regimes(space, regimes, n, sweep=sweep, resolution=resolution, stem=stem,
                                      in_channels=in_channels, num_classes=num_classes, scale=scale, sigma=sigma,
                                      max_params=max_params, max_acts=max_acts, seed=seed, max_ms=max_ms,
                                      speed_device=speed_device, speed_mode=speed_mode, speed_batch=speed_batch)
        if as_json:
            print_json([r.to_dict() for r in rs])
            return
        for r in rs:
            _said(r, n, db)
        return
    r = study(db).sample(space, n, sweep, flops=flops, resolution=resolution, stem=stem, in_channels=in_channels,
                         num_classes=num_classes, scale=scale, sigma=sigma, max_params=max_params,
                         max_acts=max_acts, seed=seed, max_ms=max_ms, speed_device=speed_device, speed_mode=speed_mode,
                         speed_batch=speed_batch, bitops=bitops)
    if as_json:
        print_json(r.to_dict())
        return
    _said(r, n, db)


def _said(r, n, db):
    """What one sweep's sampling did, and the complexity of the sweep."""
    if r.added == 0:
        say(f"sweep {r.sweep!r} already holds {r.total} models (>= {n}); nothing sampled")
    elif not r.tried:  # a reference network: nothing drawn
        say(f"sweep {r.sweep!r}: the network {r.sweep!r} as a one-model sweep -> {db}")
    else:
        say(f"sweep {r.sweep!r}: {r.added} models accepted ({r.total} in all) from {r.tried:,} candidates "
            f"(acceptance {100 * r.accepted / r.tried:.2f}%) in {r.seconds:.2f} s -> {db}")
    for w in r.warnings:
        say(f"warning: {w}")
    st = r.stats
    table("complexity of the sweep", ["", "min", "median", "max"],
          [[k, human(st[k]["min"], u), human(st[k]["median"], u), human(st[k]["max"], u)]
           for k, u in (("flops", "F"), ("params", ""), ("acts", ""), ("bitops", ""), ("size_bytes", "B"),
                        ("peak_bytes", "B")) if k in st])
    for k, v in st.get("settings", {}).items():
        shown = (f"{v['min']:.4g} .. {v['max']:.4g} (median {v['median']:.4g})" if "median" in v else
                 ", ".join(f"{x} ({c})" for x, c in v.items()))
        say(f"{k}: {shown}" + (" (counts at each model's own resolution)" if k == "resolution" else ""))


@cli.command()
@option("sweep", help="Only this sweep.")
@click.option("--models", "per_model", is_flag=True,
              help="One row per model: status, final and best error, epochs, seconds, device, reason.")
@db_option
@json_option
def status(sweep, per_model, db, as_json):
    """Sweeps in the store with their models counted by status (and, with --models, each model)."""
    from dse.store import STATUSES

    st = study(db)
    sts = st.status(sweep)
    if per_model:
        keys = ("idx", "status", "error", "best_error", "epochs", "train_seconds", "images_per_s", "device", "reason")
        rows = [{"sweep": x.sweep, **{k: getattr(m, k) for k in keys}} for x in sts for m in st.records(x.sweep)]
        stale = {(x.sweep, i) for x in sts for i in x.stale}
        for r in rows:  # marked running, but no live worker holds it
            if (r["sweep"], r["idx"]) in stale:
                r["status"] = "stale"
        if as_json:
            print_json(rows)
            return
        f = lambda v, fmt: "" if v is None else format(v, fmt)  # noqa: E731
        low = {x.sweep for x in sts if x.task != "classify"}
        unit = "" if not low else " (dB)" if len(low) == len(sts) else " (% or dB)"
        table(f"models in {db}", ["sweep", "id", "status", *(["error %", "best %"] if not low else
                                                             [f"result{unit}", f"best{unit}"]), "epochs",
                                  "seconds", "images/s", "device", "reason"],
              [[r["sweep"], r["idx"], r["status"], f(r["error"], ".2f"), f(r["best_error"], ".2f"), f(r["epochs"], "d"),
                f(r["train_seconds"], ".1f"), f(r["images_per_s"], ".0f"), r["device"] or "", r["reason"] or ""]
               for r in rows])
        return
    rows = [x.to_json() for x in sts]
    names = [r["sweep"] for r in rows if r["source"] != "budget"]
    if as_json:
        flags = {u["sweep"]: u for u in (budget_warnings(db, names, {}) or {}).get("undertraining", [])}
        for r in rows:
            r["undertraining"] = flags.get(r["sweep"])
        print_json(rows)
        return
    if not rows:
        say(f"{db}: no sweeps yet (run `dse sample`)")
        return
    fmt = lambda v: "" if v is None else f"{v:.2f}"  # noqa: E731
    cols = list(STATUSES) + (["stale"] if any(r["stale"] for r in rows) else [])
    mixed = any(r.get("task") for r in rows)  # a low-level sweep: each result with its unit (dB or %)
    res = (lambda r, v: "" if v is None else task(r.get("task", "classify")).metric.fmt(v)) if mixed else \
        (lambda r, v: fmt(v))
    table(f"sweeps in {db}", ["sweep", "space", "regime", "models", *cols,
                              *(["best", "median"] if mixed else ["best err %", "median err %"]), "train hours"],
          [[r["sweep"], r["space"], (f"x{r['scale']} " if r.get("scale") else "")
            + (f"sigma {r['sigma']:g} " if r.get("sigma") else "")
            + (regime_label(r["regime"]) if r["regime"] else "")
            + (f"{human(r['bitops'], sep='')} BitOps" if r.get("bitops") else ""), r["models"],
            *[r[s] for s in cols], res(r, r["best_error"]),
            res(r, r["median_error"]), fmt(r["train_hours"])] for r in rows])
    for x in sts:
        if x.stale:
            ago = max(x.stale.values())
            say(f"{x.sweep}: {len(x.stale)} model(s) marked running have no live worker (lease expired"
                f"{f' {ago / 60:.0f} min ago' if ago >= 60 else ''}), shown as stale; the next `dse train` takes "
                f"them up again")
    if names:
        budget_warnings(db, names)
    for r in rows:
        failed = [m for m in r["failures"]]
        for f in failed[:5]:
            say(f"  {r['sweep']}/{f['id']} {f['status']}: {f['reason']}")
        if len(failed) > 5:
            say(f"  ... and {len(failed) - 5} more failed/diverged models in {r['sweep']}")


@cli.command("export")
@option("sweeps", help="Sweep to export (repeatable; default all).")
@click.option("-o", "--output", default="-", show_default=True, metavar="FILE.csv|FILE.parquet|-",
              help="Where to write; '-' is standard output. Parquet needs pyarrow.")
@click.option("--speed-device", default=None,
              help="Whose timings fill infer_ms/train_ms (default: the device with the most measurements).")
@click.option("--epochs", "per_epoch", is_flag=True,
              help="Per-epoch rows instead: sweep, id, epoch, train_loss, train_error, test_error, lr, seconds, "
                   "images_per_s.")
@click.option("--pycls", "pycls_dir", default=None, metavar="DIR",
              help="Write a pycls sweep folder instead: DIR/cfgs/000000.yaml ... (one job config per model) and "
                   "DIR/cfgs_summary.json.")
@click.option("--top", type=int, default=None, help="With --pycls: each sweep's K lowest-error models only.")
@click.option("--base-config", default=None, metavar="FILE.yaml",
              help="With --pycls: a pycls config the jobs start from (data paths, GPUs, ...; a YAML file up to 1 MiB).")
@click.option("--skip-unexpressible", is_flag=True,
              help="With --pycls: leave out models pycls cannot express (listed) instead of exiting 2.")
@db_option
@aliases(path="-o", folder="--pycls")
def export_cmd(sweeps, output, speed_device, per_epoch, pycls_dir, top, base_config, skip_unexpressible, db):
    """One row per model: sweep, id, space, per-stage d1..dS w1..wS b1..bS g1..gS, depth, se,
    w0 wa wm (RegNet sweeps), flops, params, acts, status, error, best_error, epochs, train_seconds, the RegNet
    fit, images_per_s (training), and infer_ms train_ms speed_device speed_batch (dse speed, one device).

    With --pycls DIR: a pycls sweep folder to train on a pycls cluster (tools/sweep_launch.py), then
    tools/sweep_collect.py, then dse import --pycls DIR/sweep.json --sweep NAME.
    """
    st = study(db)
    ctx = click.get_current_context()
    pycls_only = [f for f, k in (("--top", "top"), ("--base-config", "base_config"),
                                 ("--skip-unexpressible", "skip_unexpressible"))
                  if ctx.get_parameter_source(k) == click.core.ParameterSource.COMMANDLINE]
    if pycls_dir is None:
        if pycls_only:
            raise DseError(f"{', '.join(pycls_only)} go(es) with --pycls DIR")
    else:
        other = [f for f, k in (("-o", "output"), ("--epochs", "per_epoch"), ("--speed-device", "speed_device"))
                 if ctx.get_parameter_source(k) == click.core.ParameterSource.COMMANDLINE]
        if other:
            raise DseError(f"{', '.join(other)} do(es) not apply with --pycls DIR, which writes job configs")
        r = st.export_pycls(pycls_dir, sweeps or None, top=top, base_config=base_config,
                                skip_unexpressible=skip_unexpressible)
        for x in r["skipped"]:
            say(f"skipped {x['sweep']}/{x['id']}: {x['why']}")
        say(f"wrote {r['written']} pycls job config(s) to {r['folder']}/cfgs (dse's counts in cfgs_summary.json); "
            f"train them with pycls's tools/sweep_launch.py, collect with tools/sweep_collect.py, then: "
            f"dse import --pycls {r['folder']}/sweep.json --sweep NAME")
        return
    n = st.export(output, sweeps, epochs=per_epoch, speed_device=speed_device)
    if output != "-":
        click.echo(f"wrote {n} {'epoch rows' if per_epoch else 'models'} of {len(set(sweeps)) or len(st.sweeps())} "
                   f"sweep(s) to {output}", err=True)


@cli.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@option("sweep", required=True, help="Name of the new sweep.")
@click.option("--pycls", "pycls", is_flag=True,
              help="FILE is a pycls sweep.json (tools/sweep_collect.py): networks, regime and protocol come from "
                   "each job's cfg.")
@regime_options
@db_option
@aliases(path="FILE")
def import_cmd(file, sweep, pycls, resolution, stem, in_channels, num_classes, db):
    """Read a population trained elsewhere (CSV or Parquet) into a new sweep.

    Required columns: d1..dS, w1..wS, b1..bS, g1..gS (b in the paper's convention) and error.
    Optional: se, w0, wa, wm, flops, params, acts (computed at --resolution etc. when missing),
    best_error, epochs, train_seconds, status, space. `dse export` output imports as it is; a super-resolution
    or denoising export (task, scale, sigma columns; psnr in place of error) imports as a sweep of its task.
    """
    if pycls:
        ctx = click.get_current_context()
        given = [f"--{k.replace('_', '-')}" for k in ("resolution", "stem", "in_channels", "num_classes")
                 if ctx.get_parameter_source(k) == click.core.ParameterSource.COMMANDLINE]
        if given:
            raise DseError(f"{', '.join(given)} do(es) not apply with --pycls: each job's cfg says its regime")
        n = study(db).import_pycls(file, sweep)
        say(f"imported {n} pycls jobs from {file} into sweep {sweep!r} ({db})")
        return
    n = study(db).import_table(file, sweep, resolution=resolution, stem=stem, in_channels=in_channels,
                               num_classes=num_classes)
    say(f"imported {n} models from {file} into sweep {sweep!r} ({db})")
