"""``dse model regnet|anynet|list|NAME``: one network's stages and exact complexity (no torch needed)."""

from __future__ import annotations

import click

from dse.cli.main import Command, Group, cli, json_option
from dse.cli.options import option, regime_options
from dse.errors import DseError, ParamError
from dse.models import Arch, complexity, regnet_arch
from dse.models.lowlevel import LOWLEVEL_REFERENCES, RestoreNet, restore_complexity
from dse.models.reference import REFERENCES, reference
from dse.tasks import TASKS, task
from dse.params import REGIME, REGIME_DEFAULTS
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


def _bits(kw: dict) -> dict:
    """The precision options out of ``kw``: {bits_w, bits_a, edge_bits}, each checked as a space file's."""
    from dse.models.precision import PRECISION_SETTINGS, Precision

    return {k: check_setting(k, kw.pop(k, getattr(Precision(), k)), k) for k in PRECISION_SETTINGS}


def _cost_line(cost: dict, bits: dict) -> str:
    """What a network costs at its bit widths, in one line."""
    from dse.models.precision import Precision

    p = Precision(**bits)
    return (f"at {p}: BitOps {human(cost['bitops'])} ({cost['bitops']:,})   size {human(cost['size_bytes'], 'B')} "
            f"({cost['size_bytes']:,} bytes)   peak activation {human(cost['peak_bytes'], 'B')} per image")


def _show(arch: Arch, before: Arch | None, as_json: bool, **kw):
    from dse.spaces.sampling import Regime

    bits = _bits(kw)
    for k in ("resolution", "in_channels", "num_classes"):  # the regime's limits, as sample and train check them
        check_setting(k, kw[k])
    cx = complexity(arch, **kw)
    cost = {k: int(v[0]) for k, v in Regime((0, 0), **kw).precision([arch], [bits]).items()}
    if as_json:
        print_json({**arch.to_dict(), "se": arch.se, "activation": arch.activation, "block": arch.block,
                    "strides": list(arch.strides), "stem": arch.design.stem_of(kw["stem"]), "stem_w": arch.stem_w,
                    **cx, **bits, **cost})
        return
    uses = arch.uses
    head = ["stage", "d", "w", "stride"] + [c for p, c in (("b", "b"), ("g", "g"), ("k", "k"), ("e", "e"))
                                            if p in uses] + (["w/b", "groups"] if {"b", "g"} <= set(uses) else [])
    rows = []
    for i, (d, w, s) in enumerate(zip(arch.depths, arch.widths, arch.strides)):
        r = [i + 1, d, w, s] + [f"{arch.stage(p)[i]:g}" for p in ("b", "g", "k", "e") if p in uses]
        if {"b", "g"} <= set(uses):
            w_b = round(w / arch.bottlenecks[i])
            r += [w_b, w_b // arch.group_widths[i]]
        rows.append(r)
    se = " + SE" if arch.se and arch.block_type.se == "optional" else ""
    name = {"res_bottleneck": "Y" if arch.se else "X"}.get(arch.block, arch.block)
    table(f"{name} blocks{se if arch.block != 'res_bottleneck' else ''}, {arch.activation}, {kw['resolution']} px, "
          f"{arch.design.stem_of(kw['stem'])} stem ({arch.stem_w} wide), {kw['in_channels']} in, "
          f"{kw['num_classes']} classes" + (f", head conv {arch.head_w}" if arch.head_w else ""), head, rows)
    if before is not None and before != arch:
        say(f"compatibility rule changed widths {list(before.widths)} -> {list(arch.widths)}, "
            f"group widths {list(before.group_widths)} -> {list(arch.group_widths)}")
    say(f"depth {arch.depth}   flops {human(cx['flops'], 'F')} ({cx['flops']:,})   "
        f"params {human(cx['params'])} ({cx['params']:,})   acts {human(cx['acts'])} ({cx['acts']:,})")
    say(_cost_line(cost, bits))


def precision_options(f):
    """--bits-w, --bits-a, --edge-bits: the network's precision (dse.models.precision), for its BitOps line."""
    from dse.models.precision import Precision

    for name, doc in (("edge_bits", "The first and last layers' bits when quantised (max(b, this))."),
                      ("bits_a", "Activation bits (32: float)."), ("bits_w", "Weight bits (32: float).")):
        f = click.option(f"--{name.replace('_', '-')}", name, type=int, default=getattr(Precision(), name),
                         show_default=True,
                         help=doc + " BitOps = multiply-adds x weight bits x activation bits.")(f)
    return f


class _ModelGroup(Group):
    """``dse model NAME`` shows a reference network (resnet50, effnet_b0, regnetx_400mf, ...) besides the commands."""

    def get_command(self, ctx, name):
        cmd = super().get_command(ctx, name)
        if cmd is not None:
            return cmd
        if name.lower() in LOWLEVEL_REFERENCES:
            return _lowlevel_command(name.lower())
        return _reference_command(name.lower()) if name.lower() in REFERENCES else None

    def resolve_command(self, ctx, args):
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError:
            raise click.UsageError(f"no such command or reference network {args[0]!r}; commands: "
                                   f"{', '.join(self.list_commands(ctx))}; networks: "
                                   f"{', '.join([*REFERENCES, *LOWLEVEL_REFERENCES])}",
                                   ctx) from None


def _reference_command(name: str) -> click.Command:
    ref = reference(name)

    @click.command(name, cls=Command, help=f"{ref.doc}: its stages and exact complexity (pycls's counting) at "
                              f"{ref.resolution} px and {ref.num_classes} classes unless given.")
    @option("resolution", REGIME["resolution"], default=ref.resolution)
    @option("in_channels", REGIME["in_channels"])
    @option("num_classes", REGIME["num_classes"], default=ref.num_classes)
    @json_option
    def show(as_json, **kw):
        _show(ref.arch, None, as_json, stem=ref.arch.stem or REGIME_DEFAULTS["stem"], **kw)

    return show


def _lowlevel_command(name: str) -> click.Command:
    ref = LOWLEVEL_REFERENCES[name]
    t = task(ref.task)

    @click.command(name, cls=Command, help=f"{ref.doc}: its exact cost as the {ref.task} literature counts it "
                                           f"(multiply-adds to produce a {t.count_at[0]}x{t.count_at[1]} output).")
    @json_option
    def show(as_json):
        _show_lowlevel(ref.name, ref.doc, ref.task, scale=ref.scale, cx=ref.cx, net=ref.net, as_json=as_json,
                       published=ref.published)

    return show


def _show_lowlevel(name, doc, task_name, *, scale, cx, net, as_json, published=None):
    """One SR or denoising network: its stages when it is a RestoreNet, its counts, the count its paper says."""
    at = task(task_name).count_at
    if as_json:
        print_json({"name": name, "network": doc, "task": task_name, "scale": scale, "count_at": list(at),
                    **(net.to_dict() if net else {}), **cx,
                    **({"published": {"value": published[0], "counts": published[1]}} if published else {})})
        return
    if net is not None:
        table(f"{doc}: {'no BatchNorm' if not net.bn else 'BatchNorm'}, {net.in_channels} channel(s)"
              + (", plus the upscaled input" if net.image_residual else ""), ["stage", "d", "w", "e (inner w*e)"],
              [[i + 1, d, w, e] for i, (d, w, e) in enumerate(zip(net.depths, net.widths, net.expansions))])
    else:
        say(doc)
    extra = f"   weights {cx['weights']:,}" if "weights" in cx else ""
    say(f"{task_name}{f' x{scale}' if scale > 1 else ''}: multiply-adds at {at[0]}x{at[1]} output "
        f"{human(cx['flops'], 'F')} ({cx['flops']:,})   params {human(cx['params'])} ({cx['params']:,}){extra}   "
        f"acts {human(cx['acts'])} ({cx['acts']:,})" + (f"   (published: {published[0]} {published[1]})"
                                                         if published else ""))


activation_option = click.option(
    "--activation", type=click.Choice(ACTIVATIONS), default="relu", show_default=True,
    help="Nonlinearity everywhere (stem, blocks, SE): relu, or swish (SiLU). Counts do not depend on it.")


@cli.group(cls=_ModelGroup)
def model():
    """Show one network: per-stage depths, widths, bottlenecks, groups, and flops/params/acts.

    Flops are multiply-adds (pycls counting); acts are the output sizes of all convs and the FC.
    A reference network by name: dse model resnet50 (dse model list names them all).
    """


@model.command("list")
@click.option("--task", "task_name", type=click.Choice(tuple(TASKS)), default="classify", show_default=True,
              help="Which task's reference networks (sr, denoise: counted as their literature counts them).")
@json_option
def model_list(task_name, as_json):
    """The reference networks dse knows by name, with their exact flops, params and acts."""
    if task_name != "classify":
        rows = [{"name": n, "network": r.doc, "task": r.task, "scale": r.scale, **r.cx}
                for n, r in LOWLEVEL_REFERENCES.items() if r.task == task_name]
        if as_json:
            print_json(rows)
            return
        at = task(task_name).count_at
        table(f"{task_name} reference networks (multiply-adds at {at[0]}x{at[1]} output; dse model NAME shows one)",
              ["name", "network", "scale", "flops", "params", "acts"],
              [[r["name"], r["network"], r["scale"], human(r["flops"], "F"), human(r["params"]), human(r["acts"])]
               for r in rows])
        return
    rows = []
    for name, ref in REFERENCES.items():
        cx = complexity(ref.arch, ref.resolution, ref.arch.stem or REGIME_DEFAULTS["stem"],
                        REGIME_DEFAULTS["in_channels"], ref.num_classes)
        rows.append({"name": name, "network": ref.doc, "block": ref.arch.block, "resolution": ref.resolution,
                     "classes": ref.num_classes, **cx})
    if as_json:
        print_json(rows)
        return
    table("reference networks (dse model NAME shows one; dse speed --baseline NAME times them)",
          ["name", "network", "block", "px", "flops", "params", "acts"],
          [[r["name"], r["network"], r["block"], r["resolution"], human(r["flops"], "F"), human(r["params"]),
            human(r["acts"])] for r in rows])


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
@precision_options
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
@precision_options
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


@model.command("restore")
@click.option("--depths", required=True, help="Blocks per stage, e.g. 16 (EDSR-baseline) or 4,4,4.")
@click.option("--widths", required=True, help="Width per stage, e.g. 64 (a 1x1 conv joins stages of other widths).")
@click.option("--expansions", default=None, help="Wide activation per stage: the block's inner width w*e, e in "
                                                 "1..6 [default: 1 each, EDSR's block].")
@option("scale", REGIME["scale"], more=" The pixel-shuffle upsampler's factor.")
@click.option("--denoise", is_flag=True, help="A denoising network: no upsampler (not with --scale).")
@option("in_channels", REGIME["in_channels"], help="Image channels (3 RGB, 1 grey).")
@click.option("--bn", is_flag=True, help="BatchNorm after each block conv (EDSR has none).")
@precision_options
@json_option
def model_restore(depths, widths, expansions, scale, denoise, in_channels, bn, as_json, **kw):
    """A super-resolution or denoising network (EDSR's skeleton with wide-activation blocks) and its exact cost as
    that literature counts it: multiply-adds to produce a 1280x720 output (denoising: 256x256), no biases.

    Example (EDSR-baseline x2): dse model restore --depths 16 --widths 64 --scale 2
    """
    d, w = _ints("--depths", depths), _ints("--widths", widths)
    e = _ints("--expansions", expansions) if expansions else None
    if denoise and scale is not None:
        raise click.UsageError("--denoise has no upsampler: leave out --scale")
    REGIME["scale"].check.check(scale, "scale")
    try:
        net = RestoreNet(tuple(d), tuple(w), tuple(e) if e else None, scale=1 if denoise else scale or 2,
                         in_channels=in_channels,
                         bn=bn)
    except ParamError:
        raise  # named by its flag (--in-channels)
    except DseError as err:
        raise DseError(f"{err} (--depths, --widths, --expansions)") from None
    from dse.spaces.sampling import Regime

    bits = _bits(kw)
    name = "denoise" if net.scale == 1 else "sr"
    rg = Regime((0, 0), in_channels=in_channels, task=name, scale=net.scale if name == "sr" else None)
    cost = {k: int(v[0]) for k, v in rg.precision([net.general().arch], [bits]).items()}
    _show_lowlevel(f"restore x{net.scale}", f"a {name} network", name, scale=net.scale,
                   cx={**restore_complexity(net), **(bits if as_json else {}), **(cost if as_json else {})},
                   net=net, as_json=as_json)
    if not as_json:
        say(_cost_line(cost, bits))
