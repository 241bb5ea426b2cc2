"""How many models: dse power and dse compare --until-decided."""

from __future__ import annotations

import click

from dse.cli.main import aliases, cli, db_option, json_option, study
from dse.cli.options import (PLOT, check_plot, given, option, progress_display, protocol_options, run_options,
                             run_settings, save_plot)
from dse.errors import DseError
from dse.params import PROTOCOL
from dse.report.console import print_json, say, table
from dse.units import duration


@cli.command()
@click.option("--compare", is_flag=True, help="Compare the two sweeps named after it (the default reading).")
@click.argument("sweeps", nargs=-1, required=True)
@click.option("--n", "n", default="25,50,100,200", show_default=True, metavar="N1,N2,...",
              help="Models per space to estimate the power at.")
@option("alpha")
@click.option("--target", type=float, default=0.8, show_default=True, help="The power wanted.")
@click.option("--effect", type=float, default=None,
              help="Power for a shift of the first pilot to this KS distance, instead of the pilots' difference.")
@click.option("--reps", type=int, default=2000, show_default=True, help="Simulated studies per n.")
@option("seed", help="Seed of the simulation.")
@click.option("--sequential", is_flag=True, help="Also simulate dse compare --until-decided with --step and --max.")
@click.option("--step", type=int, default=10, show_default=True, help="With --sequential: models per round.")
@click.option("--max", "max_n", type=int, default=200, show_default=True, help="With --sequential: the most per space.")
@option("metric")
@PLOT
@db_option
@json_option
@aliases(max="--max")
def power(compare, sweeps, n, alpha, target, effect, reps, seed, sequential, step, max_n, metric, plot, db, as_json):
    """How many models per space does a comparison need? From two trained pilot sweeps: for each n, the
    probability that the KS test dse edf --compare reports rejects at --alpha (Monte-Carlo from the pilots, with
    its interval), the smallest n reaching --target, the models and hours it costs beyond those trained, and how
    uncertain a small pilot makes it.

    Example: dse power --compare anynet_a anynet_e --n 25,50,100,200 --sequential --step 10 --max 200
    """
    check_plot(plot)
    if len(set(sweeps)) != 2:
        raise DseError("SWEEPS: name exactly two sweeps, e.g. dse power --compare anynet_a anynet_e")
    r = study(db).power(list(dict.fromkeys(sweeps)), n=n, alpha=alpha, target=target, effect=effect, reps=reps,
                        seed=seed, sequential=(step, max_n) if sequential else None, metric=metric)
    if as_json:
        save_plot(r, plot, quiet=True)
        print_json(r.to_json())
        return
    what = f"a shift to KS distance {effect:g}" if effect else f"the pilots ({r.pilot_n[0]} and {r.pilot_n[1]} models)"
    table(f"power of the KS test at {alpha:g} for {' vs '.join(r.sweeps)}, from {what}, {reps} studies per n",
          ["n per space", "power", "95% (Monte-Carlo)", "EDF band +/-", "E[KS to pilot]"],
          [[x.n, f"{x.power:.3f}", f"{x.low:.3f}..{x.high:.3f}", f"{x.band_half_width:.3f}", f"{x.expected_ks:.3f}"]
           for x in r.rows])
    if r.n_needed and not r.more_models:
        say(f"n = {r.n_needed} per space reaches power {target:g}: no more models needed (the pilots hold "
            f"{min(r.pilot_n)} per space; dse edf --compare {' '.join(r.sweeps)} gives the test)")
    elif r.n_needed:
        cost = ""
        if r.hours is not None:
            lo, hi = r.hours_range or (r.hours, r.hours)
            cost = (f"; about {duration(r.hours * 3600)} of training here (range {duration(lo * 3600)} to "
                    f"{duration(hi * 3600)}, from the pilots' timings)")
        say(f"n = {r.n_needed} per space reaches power {target:g}: {r.more_models} more model(s) per space{cost}")
    else:
        say(f"no n in {', '.join(str(x.n) for x in r.rows)} reaches power {target:g}: try larger --n (or the spaces "
            f"hardly differ)")
    if r.pilot_interval:
        say(f"the pilots are small: resampling them, the power at n = {r.n_needed} ranges "
            f"{r.pilot_interval[0]:.2f}..{r.pilot_interval[1]:.2f} (95%)")
    if r.sequential:
        q = r.sequential
        say(f"sequential (--step {q.step} --max {q.max}): 'different' in {100 * q.null_reject:.1f}% under the null "
            f"(alpha {alpha:g}) and {100 * q.alt_reject:.1f}% under the pilots' difference; mean n at stopping "
            f"{q.mean_n_null:.0f} (null) and {q.mean_n_alt:.0f} (difference); a fixed design of equal power needs "
            f"{q.fixed_n if q.fixed_n else f'more than {q.max}'}")
    save_plot(r, plot)


@cli.command()
@click.argument("sweeps", nargs=-1, required=True)
@click.option("--until-decided", is_flag=True, required=True,
              help="Train in rounds until the comparison is decided (the only mode so far).")
@click.option("--step", type=int, default=10, show_default=True, help="Models added to each sweep per round.")
@click.option("--max", "max", type=int, default=200, show_default=True, help="The most models per sweep.")
@option("alpha", help="The error rate over all looks.")
@click.option("--futility", type=float, default=0.1, show_default=True,
              help="Stop with 'no difference' when the conditional power falls below this (0 to never).")
@option("metric")
@option("seed", help="Seed of the futility simulation (the models' own seed is the stored protocol's).")
@protocol_options
@run_options
@PLOT
@db_option
@json_option
@aliases(protocol="--budget")
@click.pass_context
def compare(ctx, sweeps, until_decided, step, max, alpha, futility, metric, seed, plain, plot, db, as_json,
            **settings):
    """Compare two sampled sweeps and stop training when decided: in rounds, add --step models to each (the
    seeded top-up of dse sample), train them, and test (two-sample KS with Lan-DeMets O'Brien-Fleming alpha
    spending over the looks, so --alpha holds across them). Stops with 'different', with 'no difference' when
    the conditional power is below --futility or at --max. Each round is sample + train + test on the store:
    after a crash or Ctrl-C, run it again to continue.

    The training options are dse train's: the sweeps' stored protocol is used, and an option given here must
    agree with it (or, before the sweeps were trained, sets it). Every option is checked before the first
    model is added.

    Example: dse compare anynet_a anynet_e --until-decided --step 10 --max 200
    """
    check_plot(plot)
    if len(set(sweeps)) != 2:
        raise DseError(f"SWEEPS: name exactly two sweeps, got {len(set(sweeps))}, e.g. dse compare anynet_a anynet_e "
                       f"--until-decided")
    names = list(dict.fromkeys(sweeps))
    st = study(db)

    quoted = []

    def shown(d):
        if not as_json and d.looks:
            lk = d.looks[-1]
            say(f"look at n = {lk.n}: KS D {lk.statistic:.3f}, p {lk.p:.3g} (boundary {lk.boundary:.3g}) -> "
                f"{d.decision}")
            if d.decision == "continue" and not quoted:  # once: what a round costs (the estimate dse power quotes)
                quoted.append(st.cost_of_more(names, step))
                if quoted[0] is not None:
                    say(f"each round ({step} more models per sweep) takes about {quoted[0]} here")

    from dse.api.training import RunOptions

    run = RunOptions(**run_settings(settings), progress=None if as_json else progress_display(plain))
    try:
        d = st.compare(names, step=step, max=max, alpha=alpha, futility=futility or None, seed=seed, metric=metric,
                       protocol=given(ctx, PROTOCOL), run=run, progress=shown)
    except KeyboardInterrupt:
        say("\ninterrupted: the models trained so far are kept; run the same command again to continue")
        raise
    if as_json:
        print_json(d.to_json())
    else:
        say(f"decision: {d.decision} ({d.reason}); n per space {d.n}; p adjusted for {len(d.looks)} look(s) "
            f"{d.p_adjusted:.3g}")
        if d.fixed_n is not None:
            say(f"a fixed design of the same power (simulated from these models) needs {d.fixed_n} per space: "
                + (f"{d.saved} saved per space" if d.saved >= 0 else f"{-d.saved} more per space here"))
    if plot:
        save_plot(st.edf(names), plot)
