"""``dse model regnet|anynet``: one network's stages and exact complexity (no torch needed)."""

from __future__ import annotations

import click

from dse.cli.main import cli, json_option, regime_options
from dse.errors import DseError
from dse.models import Arch, complexity, regnet_arch
from dse.models.regnet import regnet_stage_check
from dse.report.console import print_json, say, table
from dse.units import human
from dse.validate import ACTIVATIONS, MAX_DEPTH, MAX_WIDTH, check_setting


def _ints(name, text, kind=int):
    try:
        vals = [kind(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise DseError(f"{name}: expected comma-separated numbers such as 1,2,7,12, got {text!r}") from None
    if not vals or any(not 0 < v < float("inf") for v in vals):
        raise DseError(f"{name}: values must be finite and positive, got {text!r}")
    return vals


def _show(arch: Arch, before: Arch | None, as_json: bool, **kw):
    for k in ("resolution", "in_channels", "num_classes"):  # the regime's limits, as sample and train check them
        check_setting(k, kw[k])
    cx = complexity(arch, **kw)
    if as_json:
        print_json({"depths": list(arch.depths), "widths": list(arch.widths),
                    "bottlenecks": [b for b in arch.to_dict()["bottlenecks"]],
                    "group_widths": list(arch.group_widths), "se": arch.se, "activation": arch.activation, **cx})
        return
    rows = []
    for i, (d, w, b, g) in enumerate(zip(arch.depths, arch.widths, arch.bottlenecks, arch.group_widths)):
        w_b = round(w / b)
        rows.append([i + 1, d, w, f"{b:g}", g, w_b, w_b // g])
    table(f"{'Y' if arch.se else 'X'} blocks, {arch.activation}, {kw['resolution']} px, {kw['stem']} stem, "
          f"{kw['in_channels']} in, {kw['num_classes']} classes",
          ["stage", "d", "w", "b", "g", "w/b", "groups"], rows)
    if before is not None and before != arch:
        say(f"compatibility rule changed widths {list(before.widths)} -> {list(arch.widths)}, "
            f"group widths {list(before.group_widths)} -> {list(arch.group_widths)}")
    say(f"depth {arch.depth}   flops {human(cx['flops'], 'F')} ({cx['flops']:,})   "
        f"params {human(cx['params'])} ({cx['params']:,})   acts {human(cx['acts'])} ({cx['acts']:,})")


activation_option = click.option(
    "--activation", type=click.Choice(ACTIVATIONS), default="relu", show_default=True,
    help="Nonlinearity everywhere (stem, blocks, SE): relu, or swish (SiLU). Counts do not depend on it.")


@cli.group()
def model():
    """Show one network: per-stage depths, widths, bottlenecks, groups, and flops/params/acts.

    Flops are multiply-adds (pycls counting); acts are the output sizes of all convs and the FC.
    """


@model.command("regnet")
@click.option("--depth", "d", type=click.IntRange(1, MAX_DEPTH), required=True, help="Total depth d (blocks).")
@click.option("--w0", type=click.IntRange(8, MAX_WIDTH), required=True, help="Initial width w0 (multiple of 8).")
@click.option("--wa", type=click.FloatRange(0, MAX_WIDTH), required=True, help="Width slope wa >= 0.")
@click.option("--wm", type=float, required=True, help="Width multiplier wm > 1.")
@click.option("--group-width", "g", type=click.IntRange(1, MAX_WIDTH), required=True, help="Group width g.")
@click.option("--bottleneck", "b", type=float, default=1.0, show_default=True,
              help="Bottleneck ratio b (paper's convention: inner width w/b).")
@click.option("--se", is_flag=True, help="Y blocks (squeeze-and-excitation), i.e. RegNetY.")
@activation_option
@regime_options
@json_option
def model_regnet(d, w0, wa, wm, g, b, se, activation, as_json, **kw):
    """A RegNet from (d, w0, wa, wm, b, g): quantized linear widths, then the compatibility rule.

    Example (RegNetX-400MF): dse model regnet --depth 22 --w0 24 --wa 24.48 --wm 2.54 --group-width 16
    """
    if w0 % 8 or not 1 < wm < float("inf"):
        raise DseError(f"--w0 must be a multiple of 8 (got {w0}) and --wm a finite number > 1 (got {wm})")
    if not 0 < b < float("inf"):
        raise DseError(f"--bottleneck must be a finite number > 0, got {b}")
    try:
        arch = regnet_arch(d, w0, wa, wm=wm, b=b, g=g, se=se, activation=activation)
    except ValueError as e:
        raise DseError(str(e)) from None
    num, total = regnet_stage_check(d, w0, wa, wm)
    if num != total:
        click.echo(f"warning: rounding to multiples of 8 merged stages ({num} distinct widths, max(k)+1 = "
                   f"{total}); a sampler rejects such a draw", err=True)
    _show(arch, None, as_json, **kw)


@model.command("anynet")
@click.option("--depths", required=True, help="Blocks per stage, e.g. 1,2,7,12.")
@click.option("--widths", required=True, help="Width per stage, e.g. 32,64,160,384.")
@click.option("--bottlenecks", required=True, help="Bottleneck ratio b per stage (paper's), e.g. 1,1,1,1.")
@click.option("--group-widths", required=True, help="Group width per stage, e.g. 16,16,16,16.")
@click.option("--se", is_flag=True, help="Y blocks (squeeze-and-excitation).")
@activation_option
@regime_options
@json_option
def model_anynet(depths, widths, bottlenecks, group_widths, se, activation, as_json, **kw):
    """An AnyNet from per-stage values (any number of stages); the compatibility rule is applied."""
    vals = [_ints("--depths", depths), _ints("--widths", widths), _ints("--bottlenecks", bottlenecks, float),
            _ints("--group-widths", group_widths)]
    if len({len(v) for v in vals}) != 1:
        raise DseError("--depths, --widths, --bottlenecks and --group-widths need the same number of stages, got "
                       + ", ".join(str(len(v)) for v in vals))
    try:
        before = Arch(*vals, se=se, activation=activation)
        after = before.compatible()
    except ValueError as e:
        raise DseError(str(e)) from None
    _show(after, before, as_json, **kw)
