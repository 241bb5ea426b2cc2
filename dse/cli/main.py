"""Entry point: the click group, shared options, and user errors as one message with exit code 2."""

from __future__ import annotations

import sys

import click

from dse import __version__
from dse.errors import DseError, ParamError
from dse.validate import LIMITS


def limit_type(name: str) -> click.ParamType:
    """The click type of a numeric setting (dse.validate.LIMITS): click reads the number, the library checks its
    range, so the CLI, a notebook and a space file say the same words about the same value."""
    return click.INT if LIMITS[name].integer else click.FLOAT


def flags_of(cmd: click.Command) -> dict:
    """{library parameter name: this command's flag}: --n-boot for n_boot, -n for n, --range for range_."""
    out = {}
    for p in cmd.params:
        if isinstance(p, click.Option):
            flag = max(p.opts, key=len)
            out[p.name] = flag
            out.setdefault(p.name.rstrip("_"), flag)
            out.setdefault(p.name.rstrip("s"), flag)  # sweeps -> --sweep, params -> --param
        elif isinstance(p, click.Argument):
            out[p.name] = p.human_readable_name
    return out


class _Command(click.Command):
    """A command whose library errors name its flags: ParamError('{bins} must be ...') -> '--bins must be ...'."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ParamError as e:
            raise DseError(e.render({**flags_of(self), **getattr(ctx.command.callback, "aliases", {})})) from None


class _Group(click.Group):
    command_class = _Command

    def list_commands(self, ctx):
        return list(self.commands)  # in the order a study uses them


_Group.group_class = _Group
Command, Group = _Command, _Group  # for command modules that define their own (dse model NAME)


def aliases(**names):
    """Map library parameter names a command's flags do not match: @aliases(path="-o")."""
    def deco(f):
        f.aliases = names
        return f
    return deco


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="dse")
def cli():
    """Network design-space exploration (RegNet / NDS method).

    Sample models from a design space under a complexity regime, train them, and compare spaces by
    their error distributions. A typical study:

    \b
      dse spaces                             list the built-in design spaces
      dse sample --space anynet_e -n 500     draw 500 models at 360-400 MF into ./dse.sqlite
      dse train --budget 10ep                train every pending model (Fashion-MNIST by default)
      dse edf --compare anynet_a anynet_e    compare the spaces' error distributions
      dse bootstrap --param wm               where the good models lie
      dse sample --space regnetx --regimes 200MF,400MF,800MF -n 100   one sweep per regime
      dse trends --param depth --param w0    how the good models change with flops
      dse speed --mode both                  time every model; which of flops/acts predicts it
      dse refine --sweep anynet_e --out e2.toml   propose a better space
      dse report -o report.html              the study in one HTML file
      dse power --compare anynet_a anynet_e  how many models per space the comparison needs
      dse compare anynet_a anynet_e --until-decided   train in rounds until it is decided
      dse export --pycls sweep_dir           pycls job configs (dse import --pycls sweep.json back)
      dse serve                              the study as a live web page while it trains
      dse findings                           the paper's findings as verdicts (--plan, --run: test them)
      dse speed --baseline effnet_b0,resnet50   reference networks timed beside the population
      dse model regnet --depth 22 --w0 24 --wa 24.48 --wm 2.54 --group-width 16
      dse model resnet50                     a reference network (dse model list names them)

    The store is ./dse.sqlite unless --db PATH or DSE_DB says otherwise.
    """


def study(db):
    """The public API's Study on the store a command was given (it must exist unless the command writes)."""
    from dse.study import Study

    return Study(db)


def commands() -> click.Group:
    """The ``dse`` group with every command registered (what ``main`` runs; tests walk it)."""
    # the order here is the order of `dse --help` (a study's order)
    import dse.cli.models  # noqa: F401
    import dse.cli.sweeps  # noqa: F401
    import dse.cli.training  # noqa: F401
    import dse.cli.analysis  # noqa: F401
    import dse.cli.speed  # noqa: F401
    import dse.cli.planning  # noqa: F401
    import dse.cli.findings  # noqa: F401
    import dse.cli.serve  # noqa: F401

    return cli


def main(argv=None):
    """Run the CLI; user mistakes print one paragraph and exit 2, Ctrl-C exits 130."""
    commands()
    try:
        cli.main(args=argv, prog_name="dse", standalone_mode=False)
    except DseError as e:
        click.echo(f"Error: {e}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    sys.exit(0)


def db_option(f):
    return click.option("--db", "db", type=click.Path(dir_okay=False), envvar="DSE_DB", default="dse.sqlite",
                        show_default=True, help="The store (SQLite file); also set by DSE_DB.")(f)


def json_option(f):
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts instead of tables.")(f)
