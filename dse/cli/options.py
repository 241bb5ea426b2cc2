"""The options commands share, each made from its one declaration in ``dse.params`` (flag, default, help; the
library checks the value, so a command, a notebook and a space file say the same words about it), and the other
pieces several commands use: the progress display, --plot.

    @cli.command()
    @protocol_options          # --budget --dataset --data-dir --train-size ... as dse train has them
    @run_options               # --device --workers-per-gpu --executor --plain ...
    def cmd(plain, **settings): study(db).train(**settings, progress=progress_display(plain))
"""

from __future__ import annotations

import click

from dse.errors import DseError
from dse.params import (PARAMS, PROTOCOL, REGIME, RUN, TASK_PROTOCOL, TASK_REGIME, Bool, Check, Choice, FilePath,
                        Int, Names, Opt, Param, Real, Seed, Setting, Workers)
from dse.report.console import say
from dse.tasks import TASKS

# the run settings that are callbacks of the library, not options (the CLI makes them: --plain)
CALLBACKS = ("progress", "on_start")
# --checkpoint-every-epoch/--no-...: neither given is the library's "auto"
_CHECKPOINT = {None: "auto", True: "on", False: "off"}


class _AutoOrInt(click.ParamType):
    """auto, or a whole number (click reads it; the library checks the range)."""

    name = "auto|N"

    def convert(self, value, param, ctx):
        if value is None or isinstance(value, int) or value == "auto":
            return value
        try:
            return int(value)
        except ValueError:
            self.fail(f"{value!r} is neither auto nor a whole number", param, ctx)


def click_type(check: Check):
    """The click type that reads a value for ``check`` (click reads, the library checks the range)."""
    inner = check.inner if isinstance(check, Opt) else check
    if isinstance(inner, Workers):
        return _AutoOrInt()
    if isinstance(inner, Setting):
        return click.INT if inner.limit.integer else click.FLOAT
    if isinstance(inner, (Int, Seed)):
        return click.INT
    if isinstance(inner, Real):
        return click.FLOAT
    if isinstance(inner, Choice):
        return click.Choice(inner.values)
    if isinstance(inner, FilePath):
        return click.Path(file_okay=False)
    return click.STRING


class DeclaredOption(click.Option):
    """An option made from its declaration (``option``): tests/test_declared.py requires every option whose name
    is a declared parameter to be one, so no command retypes a flag, default or help by hand."""


def option(name: str, decl: Param | None = None, more: str = "", **over):
    """The click option of setting ``name`` (``decl``, default dse.params.PARAMS[name]), as declared; ``more``
    is appended to the declared help, ``over`` replaces a field (a command's own help for --seed, ``default=None``
    where the library picks). A list of names (``Names``: sweeps) is a repeatable ``--sweep``."""
    p = decl or PARAMS[name]
    flag = p.cli_flag(name)
    kw = {"help": p.help, "default": p.default, "show_default": p.default is not None}
    if name == "checkpoint":  # a switch with a third state: neither given
        kw.update(default=None, show_default=False, callback=lambda ctx, param, v: _CHECKPOINT[v])
    elif isinstance(p.check, Bool):
        kw["is_flag"] = True
    elif isinstance(p.check, Names) or isinstance(getattr(p.check, "inner", None), Names):
        kw.update(multiple=True, metavar="SWEEP", show_default=False, default=None)
        flag = p.flag or "--" + name.rstrip("s").replace("_", "-")
    else:
        kw["type"] = click_type(p.check)
        if p.metavar:
            kw["metavar"] = p.metavar
    kw["help"] += more
    kw.update(over)
    return click.option(flag, name, cls=DeclaredOption, **kw)


def regime_options(f=None, *, space: bool = False):
    """--resolution --stem --in-channels --num-classes (the input side of a regime, dse.params.REGIME).
    ``space=True`` (dse sample): an option not given is the space's own ([regime] in its file), else the paper's,
    so each defaults to None; and the low-level tasks' --scale and --sigma are there too."""
    if f is None:
        return lambda g: regime_options(g, space=space)
    opts = []
    for k, p in REGIME.items():
        if k == "flops" or (k in TASK_REGIME and not space):
            continue
        if k in TASK_REGIME:
            opts.append(option(k, p))
            continue
        over = {"default": None, "show_default": False,
                "more": f" [default: the space's own regime, else {p.default}]"} if space else {}
        opts.append(option(k, p, **over))
    return _apply(f, opts)


PLAIN = click.option("--plain", is_flag=True, help="Plain log lines instead of the live display.")
def _protocol_option(k: str):
    """A protocol setting's option; one a task gives its own default is None when not given (the library takes the
    sweeps' task's), its help saying both defaults."""
    if k not in TASK_PROTOCOL:
        return option(k)
    low = TASKS["sr"].protocol[k]
    return option(k, default=None, show_default=False,
                  more=f" [default: {PROTOCOL[k].default}; super-resolution and denoising: {low}"
                       + (" (Adam)" if k != "dataset" else "") + "]")


PROTOCOL_OPTIONS = [_protocol_option(k) for k in PROTOCOL]
RUN_OPTIONS = [option(k) for k in RUN if k not in CALLBACKS] + [PLAIN]


def _apply(f, opts):
    for o in reversed(opts):
        f = o(f)
    return f


def protocol_options(f):
    """What an error means: budget, data and subset, optimiser (dse train, dse compare)."""
    return _apply(f, PROTOCOL_OPTIONS)


def run_options(f):
    """How to train: devices, workers, data folder, checkpoints, CUDA graphs, executor, display (every command
    that trains)."""
    return _apply(f, RUN_OPTIONS)


def run_settings(params: dict) -> dict:
    """The run settings among a command's parameters, as the library's keywords."""
    return {k: params[k] for k in RUN if k in params}


def protocol_settings(params: dict) -> dict:
    return {k: params[k] for k in PROTOCOL if k in params}


def given(ctx: click.Context, names) -> dict:
    """The parameters among ``names`` given on the command line (not left at their defaults)."""
    from click.core import ParameterSource

    return {k: ctx.params[k] for k in names
            if k in ctx.params and ctx.get_parameter_source(k) not in (ParameterSource.DEFAULT, None)}


def progress_display(plain: bool):
    """The training progress display: live, or plain log lines."""
    from dse.train.progress import Progress

    return lambda path, names, epochs: Progress(path, names, epochs, live=False if plain else None)


PLOT = click.option("--plot", "plot", default=None, metavar="FILE.png|FILE.svg", help="Also draw a picture.")


def check_plot(plot) -> None:
    """--plot names a picture we can write: checked before any work."""
    if plot is not None and not str(plot).strip():
        raise DseError("--plot: give a picture file name (.png or .svg); an empty one would write nothing")
    if plot:
        from dse.report.plots import check_path

        check_path(plot)


def save_plot(result, plot, quiet: bool = False) -> None:
    """Write the result's figure when --plot was given."""
    if plot:
        from dse.report.plots import save

        save(result.figure(), plot)
        if not quiet:
            say(f"wrote {plot}")
