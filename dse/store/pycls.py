"""pycls's sweep formats, read and written from the formats themselves (pycls is not a dependency).

Out: one job config per model, ``DIR/cfgs/000000.yaml ...``, as ``tools/sweep_setup.py`` writes them and
``tools/sweep_launch.py`` trains them, with ``DIR/cfgs_summary.json`` naming each job's dse model and the
complexity dse counted. In: ``sweep.json`` as ``tools/sweep_collect.py`` writes it, a list of jobs, each the log
data of one job (``pycls.core.logging.load_log_data`` then ``sort_log_data``): ``cfg`` and ``complexity`` (first
record), ``train_epoch`` / ``test_epoch`` ({metric: [value per epoch]}, with ``epoch_ind`` and ``epoch_max``),
and ``log_file``, ``err_file``, ``err`` (the job's stderr).

    >>> pycls_stem("cifar"), pycls_activation("swish")
    ('res_stem_cifar', 'silu')
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

from dse.errors import DseError
from dse.models.arch import KERNELS, MAX_EXPANSION, STEM_WIDTH, Arch, Design
from dse.models.blocks import BLOCK_TYPES, STEM_BY_PYCLS, STEM_TYPES, block_by_pycls
from dse.models.layers import SE_RATIO
from dse.models.complexity import complexity_many
from dse.models.regnet import regnet_arch
from dse.validate import (PYCLS_ACTIVATION, COUNTS, DATASETS, LIMITS, MAX_BOTTLENECK, MAX_DEPTH, MAX_EPOCHS,
                          MAX_STAGE_DEPTH, MAX_WIDTH, MIN_BOTTLENECK, SETTINGS, Limit, as_number, shown)

# pycls's name of each of dse's stems (their registry: dse.models.blocks.STEM_TYPES) and activations
# (dse.validate.PYCLS_ACTIVATION; MODEL.ACTIVATION_FUN, where "swish" reads as silu too)
BLOCK = "res_bottleneck_block"                                  # the X block (Y: SE_ON)
DATASET_OF = {"cifar10": "cifar10", "imagenet": "imagefolder"}  # pycls's TRAIN.DATASET -> dse's --dataset
# a model's optimiser settings and the pycls keys they are read from
OPTIM_KEYS = {"lr": "OPTIM.BASE_LR", "wd": "OPTIM.WEIGHT_DECAY", "momentum": "OPTIM.MOMENTUM",
              "batch_size": "TRAIN.BATCH_SIZE"}


def pycls_stem(stem: str) -> str:
    return STEM_TYPES[stem].pycls  # looked up when used: a stem registered later is known too


def pycls_activation(act: str) -> str:
    return PYCLS_ACTIVATION[act]



def job_config(m, regime: dict, protocol: dict | None) -> tuple[dict | None, str | None]:
    """(the pycls config of model ``m`` of a sweep with this regime and protocol, None), or (None, why it cannot be
    expressed in pycls)."""
    from dse.models.precision import Precision

    bits = Precision.of(m.settings)
    if bits.quantised:
        return None, (f"it is quantised ({bits}) and pycls trains float networks only: its error there would not be "
                      f"this model's")
    if regime.get("in_channels", 3) != 3:
        return None, f"{regime['in_channels']} input channel(s): pycls's stems take 3 (RGB)"
    res = m.used("resolution", regime, protocol) or regime["resolution"]
    a = m.arch
    bt = a.block_type
    stem = a.design.stem_of(regime["stem"])
    if bt.pycls is None:
        return None, f"the {a.block} block has no pycls name (its registry entry gives none)"
    if bt.pycls_model == "effnet":
        if stem != "simple" or not a.head_w:
            return None, f"pycls's EfficientNet has the simple stem and a head conv ({stem} stem, head {a.head_w})"
        kind = "effnet"
        body = {"STEM_W": a.stem_w, "DEPTHS": list(a.depths), "WIDTHS": list(a.widths),
                "EXP_RATIOS": [float(e) for e in a.expansions], "SE_R": float(SE_RATIO), "STRIDES": list(a.strides),
                "KERNELS": list(a.kernels), "HEAD_W": a.head_w}
    elif a.head_w:
        return None, f"a head conv ({a.head_w} wide) on {a.block} blocks: pycls's AnyNet head has none"
    else:
        body = {"STEM_TYPE": pycls_stem(stem), "STEM_W": a.stem_w, "BLOCK_TYPE": bt.pycls, "SE_ON": bool(a.se)}
        rp = m.regnet or {}
        if rp and all(k in rp for k in ("d", "w0", "wa", "wm", "b", "g")) and _regnet_equal(a, rp):
            kind = "regnet"
            body.update({"DEPTH": int(rp["d"]), "W0": int(rp["w0"]), "WA": float(rp["wa"]), "WM": float(rp["wm"]),
                         "GROUP_W": int(rp["g"]), "BOT_MUL": float(1 / rp["b"])})
        else:
            kind = "anynet"
            uses = {"b", "g"} <= set(a.uses)  # pycls's vanilla and basic blocks take no b or g (empty lists)
            body.update({"DEPTHS": list(a.depths), "WIDTHS": list(a.widths), "STRIDES": list(a.strides),
                         "BOT_MULS": [float(1 / b) for b in a.bottlenecks] if uses else [],
                         "GROUP_WS": list(a.group_widths) if uses else []})
            if bt.se == "never":
                del body["SE_ON"]
    model = {"TYPE": kind, "NUM_CLASSES": int(regime["num_classes"])}
    if m.arch.activation != "relu":  # pycls's default; pycls 0.1.1 (the package index's) has no such key at all
        model["ACTIVATION_FUN"] = PYCLS_ACTIVATION[m.arch.activation]
    cfg = {"MODEL": model,
           {"effnet": "EN"}.get(kind, kind.upper()): body, "TRAIN": {"IM_SIZE": int(res)},
           # pycls's ImageNet loader resizes test images to TEST.IM_SIZE, then center-crops TRAIN.IM_SIZE (256 for 224)
           "TEST": {"IM_SIZE": int(res) if stem == "cifar" else int(round(res * 256 / 224))}}
    if protocol:
        budget = str(protocol.get("budget", ""))
        if not budget.endswith("ep"):
            return None, f"budget {budget!r}: pycls trains for whole epochs (OPTIM.MAX_EPOCH), not steps"
        cfg["OPTIM"] = {"LR_POLICY": "cos", "MAX_EPOCH": int(budget[:-2]), "BASE_LR": float(m.used("lr", regime,
                                                                                                   protocol)),
                        "MOMENTUM": float(m.used("momentum", regime, protocol)),
                        "NESTEROV": bool(protocol.get("nesterov", True)),
                        "WEIGHT_DECAY": float(m.used("wd", regime, protocol))}
        cfg["TRAIN"]["BATCH_SIZE"] = int(m.used("batch_size", regime, protocol))
    return cfg, None


def _regnet_equal(arch: Arch, rp: dict) -> bool:
    """pycls rebuilds the network from (d, w0, wa, wm, b, g): write the RegNet form only when it gives this Arch."""
    # pycls's RegNet: any of its stems, the X/Y block, stride 2, a 32-wide stem, no head conv
    if dataclasses.replace(arch.design, stem=None) != Design(se=arch.se):
        return False
    try:
        return regnet_arch(rp["d"], rp["w0"], rp["wa"], wm=rp["wm"], b=rp["b"], g=rp["g"], se=arch.se,
                           activation=arch.activation).replace(stem=arch.stem) == arch
    except (ValueError, KeyError, ZeroDivisionError):
        return False


def merge(base: dict, over: dict) -> dict:
    """``base`` with ``over`` written into it, table by table (a job's model and optimiser over a user's base)."""
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def to_yaml(d: dict) -> str:
    """A config as YAML, written by PyYAML so that every value reads back as the same type (yacs's
    merge_from_file refuses an int where pycls's default is a float: every float here is written as one)."""
    import yaml

    return yaml.safe_dump(d, sort_keys=False, default_flow_style=None, allow_unicode=True, width=1000)


# ---- in: sweep.json ----

def _where(i: int, job) -> str:
    f = job.get("log_file") if isinstance(job, dict) else None
    return f"job {i}" + (f" ({f})" if f else "")


def _get(cfg: dict, path: str, where: str, kind=None, default=...):
    cur = cfg
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            if default is not ...:
                return default
            raise DseError(f"{where}: cfg has no {path}")
        cur = cur[part]
    if kind is not None and (not isinstance(cur, kind) or (isinstance(cur, bool) and bool not in _kinds(kind))):
        names = " or ".join(k.__name__ for k in _kinds(kind))
        raise DseError(f"{where}: cfg {path} = {shown(cur)} is not a {names}")
    return cur


def _kinds(kind) -> tuple:
    return kind if isinstance(kind, tuple) else (kind,)


def _number(cfg: dict, path: str, where: str, limit: Limit, default=...):
    """The number at ``path`` within ``limit`` (an integer when the limit says so), or the error naming the job,
    the key, the value and what is allowed."""
    v = _get(cfg, path, where, default=default)
    if default is not ... and v is default:
        return v
    if not limit.ok(v):
        raise DseError(f"{where}: cfg {path} = {shown(v)} is not allowed; it must be {limit.text()}")
    return int(v) if limit.integer else float(v)


def _numbers(cfg: dict, path: str, where: str, limit: Limit) -> list:
    v = _get(cfg, path, where, list)
    for i, x in enumerate(v):
        if not limit.ok(x):
            raise DseError(f"{where}: cfg {path}[{i}] = {shown(x)} is not allowed; each must be {limit.text()}")
    return [int(x) if limit.integer else float(x) for x in v]


# what a pycls network may be, in dse's limits (pycls itself needs WM > 1 and W0 a multiple of 8)
_DEPTH = Limit(1, MAX_DEPTH, integer=True)
_STAGE_DEPTH = Limit(1, MAX_STAGE_DEPTH, integer=True)
_WIDTH = Limit(1, MAX_WIDTH, integer=True)
_WA = Limit(0, MAX_WIDTH)
_WM = Limit(1, MAX_WIDTH, low_open=True)
_BOT_MUL = Limit(1 / MAX_BOTTLENECK, 1 / MIN_BOTTLENECK)
_EPOCHS = Limit(1, MAX_EPOCHS, integer=True)


def job_arch(cfg: dict, where: str) -> tuple[Arch, dict | None, dict]:
    """(the Arch pycls builds from a job's cfg, its RegNet parameters or None, {resolution, stem, num_classes})."""
    if not isinstance(cfg, dict):
        raise DseError(f"{where}: no cfg (a job's first log record)")
    kind = str(_get(cfg, "MODEL.TYPE", where)).lower()
    if kind not in ("regnet", "anynet", "effnet"):
        raise DseError(f"{where}: MODEL.TYPE {kind!r}; dse reads regnet, anynet and effnet jobs")
    sec = {"effnet": "EN"}.get(kind, kind.upper())
    act = str(_get(cfg, "MODEL.ACTIVATION_FUN", where, default="relu")).lower()
    act = {"relu": "relu", "silu": "swish", "swish": "swish"}.get(act)
    if act is None:
        raise DseError(f"{where}: MODEL.ACTIVATION_FUN {_get(cfg, 'MODEL.ACTIVATION_FUN', where)!r}; dse has relu and "
                       f"silu/swish")
    stem_type = "simple_stem_in" if kind == "effnet" else _get(cfg, f"{sec}.STEM_TYPE", where,
                                                                default="simple_stem_in")
    stem = STEM_BY_PYCLS.get(stem_type) if isinstance(stem_type, str) else None
    if stem is None:
        raise DseError(f"{where}: {sec}.STEM_TYPE {shown(stem_type)}; dse has {', '.join(STEM_BY_PYCLS)}")
    stem_w = _number(cfg, f"{sec}.STEM_W", where, _WIDTH, STEM_WIDTH)
    if kind == "effnet":
        return _effnet_arch(cfg, where, act, stem_w)
    block_name = _get(cfg, f"{sec}.BLOCK_TYPE", where, default=BLOCK)
    bt = block_by_pycls(block_name) if isinstance(block_name, str) else None
    if bt is None or (kind == "regnet" and bt.name != "res_bottleneck") or (kind == "regnet" and stem_w != STEM_WIDTH):
        known = sorted(b.pycls for b in BLOCK_TYPES.values() if b.pycls and b.pycls_model == "anynet")
        raise DseError(f"{where}: {sec}.BLOCK_TYPE = {shown(block_name)}, STEM_W = {stem_w}; dse reads "
                       + ("RegNets of res_bottleneck_block with STEM_W 32" if kind == "regnet" else
                          f"AnyNets of {', '.join(known)}"))
    se = _get(cfg, f"{sec}.SE_ON", where, bool, False) if bt.se == "optional" else bt.se == "always"
    if kind == "regnet":
        rp = {"d": _number(cfg, "REGNET.DEPTH", where, _DEPTH), "w0": _number(cfg, "REGNET.W0", where, _WIDTH),
              "wa": _number(cfg, "REGNET.WA", where, _WA), "wm": _number(cfg, "REGNET.WM", where, _WM),
              "b": 1 / _number(cfg, "REGNET.BOT_MUL", where, _BOT_MUL, 1.0),
              "g": _number(cfg, "REGNET.GROUP_W", where, _WIDTH)}
        if rp["w0"] % 8:
            raise DseError(f"{where}: cfg REGNET.W0 = {rp['w0']} is not allowed; pycls's RegNets need a multiple of 8")
        if _get(cfg, "REGNET.STRIDE", where, default=2) != 2:
            raise DseError(f"{where}: REGNET.STRIDE must be 2 (dse's stages halve the resolution)")
    else:
        uses = {"b", "g"} <= set(bt.uses)
        lists = {"DEPTHS": _numbers(cfg, "ANYNET.DEPTHS", where, _STAGE_DEPTH),
                 "WIDTHS": _numbers(cfg, "ANYNET.WIDTHS", where, _WIDTH)}
        if uses:
            lists.update({"BOT_MULS": _numbers(cfg, "ANYNET.BOT_MULS", where, _BOT_MUL),
                          "GROUP_WS": _numbers(cfg, "ANYNET.GROUP_WS", where, _WIDTH)})
        strides = _get(cfg, "ANYNET.STRIDES", where, list, [2] * len(lists["DEPTHS"]))
        if any(s not in (1, 2) or isinstance(s, bool) for s in strides):
            raise DseError(f"{where}: ANYNET.STRIDES {strides}: dse's stages have stride 1 or 2")
        if len({len(x) for x in lists.values()}) != 1 or len(strides) != len(lists["DEPTHS"]):
            raise DseError(f"{where}: ANYNET.DEPTHS, WIDTHS, STRIDES, BOT_MULS and GROUP_WS need one value per stage "
                           f"(lengths {', '.join(f'{k} {len(v)}' for k, v in lists.items())}, STRIDES {len(strides)})")
    try:
        if kind == "regnet":
            arch = regnet_arch(rp["d"], rp["w0"], rp["wa"], wm=rp["wm"], b=rp["b"], g=rp["g"], se=se, activation=act)
            rp["b"] = as_number(rp["b"])
        else:
            own = bt.name != "res_bottleneck" or stem_w != STEM_WIDTH or strides != [2] * len(strides) \
                or stem == "resnet"  # a design other than the X/Y AnyNet's: the network keeps its own stem
            arch = Arch(lists["DEPTHS"], lists["WIDTHS"], [1 / b for b in lists["BOT_MULS"]] if uses else None,
                        group_widths=lists.get("GROUP_WS"), se=se, activation=act, block=bt.name,
                        strides=tuple(strides), stem=stem if own else None, stem_w=stem_w)
            rp = None
    except (ValueError, TypeError, ZeroDivisionError, OverflowError) as e:
        raise DseError(f"{where}: the network in its cfg cannot be built: {e}") from None
    res = _number(cfg, "TRAIN.IM_SIZE", where, LIMITS["resolution"])
    classes = _number(cfg, "MODEL.NUM_CLASSES", where, LIMITS["num_classes"])
    return arch, rp, {"resolution": res, "stem": stem, "num_classes": classes}


def _effnet_arch(cfg: dict, where: str, act: str, stem_w: int) -> tuple[Arch, None, dict]:
    """An EN job: MBConv stages (DEPTHS, WIDTHS, EXP_RATIOS, KERNELS, STRIDES), the simple stem, a HEAD_W conv."""
    lists = {k: _numbers(cfg, f"EN.{k}", where, lim) for k, lim in (
        ("DEPTHS", _STAGE_DEPTH), ("WIDTHS", _WIDTH), ("EXP_RATIOS", Limit(1, MAX_EXPANSION)),
        ("KERNELS", Limit(1, KERNELS[-1], integer=True)), ("STRIDES", Limit(1, 2, integer=True)))}
    if len({len(x) for x in lists.values()}) != 1:
        raise DseError(f"{where}: EN.DEPTHS, WIDTHS, EXP_RATIOS, KERNELS and STRIDES need one value per stage "
                       f"(lengths {', '.join(f'{k} {len(v)}' for k, v in lists.items())})")
    se_r = _get(cfg, "EN.SE_R", where, default=SE_RATIO)
    if se_r != SE_RATIO:
        raise DseError(f"{where}: EN.SE_R = {shown(se_r)}; dse's MBConv has SE_R {SE_RATIO}")
    try:
        arch = Arch(lists["DEPTHS"], lists["WIDTHS"], block="mbconv", kernels=lists["KERNELS"],
                    expansions=lists["EXP_RATIOS"], strides=lists["STRIDES"], stem="simple", stem_w=stem_w,
                    head_w=_number(cfg, "EN.HEAD_W", where, _WIDTH, 1280), activation=act)
    except (ValueError, TypeError) as e:
        raise DseError(f"{where}: the network in its cfg cannot be built: {e}") from None
    res = _number(cfg, "TRAIN.IM_SIZE", where, LIMITS["resolution"])
    classes = _number(cfg, "MODEL.NUM_CLASSES", where, LIMITS["num_classes"])
    return arch, None, {"resolution": res, "stem": "simple", "num_classes": classes}


def _series(job: dict, kind: str, metric: str, where: str) -> list:
    d = job.get(kind) or {}
    if not isinstance(d, dict):
        raise DseError(f"{where}: {kind} is not a table of series ({{metric: [value per epoch]}})")
    v = d.get(metric, [])
    if not isinstance(v, list) or not all(x is None or (isinstance(x, (int, float)) and not isinstance(x, bool)
                                                        and math.isfinite(x)) for x in v):
        raise DseError(f"{where}: {kind}.{metric} is not a list of numbers")
    return v


def read_sweep_json(path) -> list[dict]:
    """The jobs of a pycls sweep.json as dse models (arch, regnet, complexity checked against the job's own,
    status, errors, per-epoch rows, the job's optimiser settings) with the regime each was counted at. All jobs
    are read and checked before anything is returned; an error names the job."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DseError(f"cannot read {path}: {getattr(e, 'strerror', None) or e}") from None
    try:
        jobs = json.loads(raw)
    except ValueError as e:
        raise DseError(f"{path}: not JSON ({e}); a pycls sweep.json is what tools/sweep_collect.py writes") from None
    except RecursionError:
        raise DseError(f"{path}: nested too deeply to be a pycls sweep.json") from None
    if not isinstance(jobs, list) or not jobs:
        raise DseError(f"{path}: a pycls sweep.json is a non-empty list of jobs")
    parsed = []
    for i, job in enumerate(jobs):
        where = f"{path}: {_where(i, job)}"
        if not isinstance(job, dict):
            raise DseError(f"{where}: a job is an object of log data")
        parsed.append((job, where, *job_arch(job.get("cfg"), where)))
    counts = [None] * len(parsed)  # counted in bulk, one call per stem and class count (10,000 jobs in seconds)
    groups = {}
    for i, (_, _, _, _, reg) in enumerate(parsed):
        groups.setdefault((reg["stem"], reg["num_classes"]), []).append(i)
    for (stem, classes), ix in groups.items():
        f, p, a = complexity_many([parsed[i][2] for i in ix], [parsed[i][4]["resolution"] for i in ix], stem, 3,
                                  classes)
        for j, i in enumerate(ix):
            counts[i] = {"flops": int(f[j]), "params": int(p[j]), "acts": int(a[j])}
    out = []
    for (job, where, arch, rp, reg), cx in zip(parsed, counts):
        cfg = job.get("cfg")
        logged = job.get("complexity")
        if logged is not None and not isinstance(logged, dict):
            raise DseError(f"{where}: complexity = {shown(logged)} is not a table of flops, params and acts")
        if isinstance(logged, dict):
            for k in COUNTS:
                v = logged.get(k)
                if v is not None and (not isinstance(v, int) or isinstance(v, bool)):
                    raise DseError(f"{where}: complexity.{k} = {shown(v)} ({type(v).__name__}) is not an integer count")
            bad = [(k, logged.get(k), cx[k]) for k in COUNTS
                   if logged.get(k) is not None and logged.get(k) != cx[k]]
            if bad:
                raise DseError(f"{where}: the logged complexity does not match the network of its cfg: "
                               + ", ".join(f"{k} {a} (logged) vs {b} (dse, {reg['resolution']} px, {reg['stem']} stem)"
                                           for k, a, b in bad))
        test = _series(job, "test_epoch", "top1_err", where)
        ind = _series(job, "test_epoch", "epoch_ind", where)
        top = _series(job, "test_epoch", "epoch_max", where)
        if any(e is None or not 0 <= e <= 100 for e in test):
            raise DseError(f"{where}: test_epoch.top1_err holds values outside 0..100")
        for name, xs in (("epoch_ind", ind), ("epoch_max", top)):  # pycls counts epochs from 1
            bad = [x for x in xs if x is None or x < 1 or x != int(x)]
            if bad:
                raise DseError(f"{where}: test_epoch.{name} holds {bad[0]!r}; epochs are whole numbers from 1")
        err = str(job.get("err") or "").strip()
        finished = bool(test) and bool(ind) and bool(top) and ind[-1] == top[-1]
        m = {"arch": arch, "regnet": rp, **cx, "epochs": len(test) or None}
        if finished:
            m.update(status="done", error=float(test[-1]), best_error=float(min(test)))
        elif err:
            m.update(status="failed", reason=err.splitlines()[-1][:500],
                     best_error=float(min(test)) if test else None)
        else:
            m.update(status="pending")  # still running (or not started): train it with pycls, collect again
        tr = {k: _series(job, "train_epoch", k, where) for k in ("loss", "top1_err", "lr", "time_epoch")}
        m["rows"] = [{"epoch": int(ind[j]) if j < len(ind) else j + 1,
                      "train_loss": tr["loss"][j] if j < len(tr["loss"]) else None,
                      "train_error": tr["top1_err"][j] if j < len(tr["top1_err"]) else None,
                      "test_error": test[j], "lr": tr["lr"][j] if j < len(tr["lr"]) else None,
                      "seconds": tr["time_epoch"][j] if j < len(tr["time_epoch"]) else None,
                      "images_per_s": None} for j in range(len(test))]
        opt = {k: _number(cfg, key, where, SETTINGS[k], None) for k, key in OPTIM_KEYS.items()}
        m["opt"] = {k: v for k, v in opt.items() if v is not None}
        m["max_epoch"] = _number(cfg, "OPTIM.MAX_EPOCH", where, _EPOCHS, None)
        m["nesterov"] = _get(cfg, "OPTIM.NESTEROV", where, bool, True)
        m["dataset"] = _get(cfg, "TRAIN.DATASET", where, str, "")
        m["regime"] = reg
        out.append(m)
    return out


def protocol_of(jobs: list[dict]) -> tuple[dict | None, list[dict]]:
    """The sweep's protocol (the jobs' common settings; a setting that varies is each model's own, as dse's
    lr/wd spaces store it) and each job's own settings. None when the jobs name no epochs."""
    from collections import Counter

    if not all(j["max_epoch"] for j in jobs):
        return None, [{} for _ in jobs]
    common = {}
    for k in ("lr", "wd", "momentum", "batch_size"):
        vals = Counter(j["opt"].get(k) for j in jobs if k in j["opt"])
        if vals:
            common[k] = vals.most_common(1)[0][0]
    epochs = Counter(j["max_epoch"] for j in jobs).most_common(1)[0][0]
    if any(j["max_epoch"] != epochs for j in jobs):
        raise DseError(f"the jobs train for different OPTIM.MAX_EPOCH ({sorted({j['max_epoch'] for j in jobs})}): "
                       f"models under different budgets are not one population; import them as separate sweeps")
    dataset = DATASET_OF.get(jobs[0]["dataset"].lower(), "imagefolder")
    assert dataset in DATASETS
    p = {"dataset": dataset, "train_size": None, "test_size": None, "subset_seed": 0, "budget": f"{epochs}ep",
         "batch_size": int(common.get("batch_size", 128)), "lr": float(common.get("lr", 0.1)),
         "momentum": float(common.get("momentum", 0.9)), "nesterov": jobs[0]["nesterov"],
         "weight_decay": float(common.get("wd", 5e-4)), "augment": True, "resolution": None, "seed": 0}
    own = [{k: v for k, v in j["opt"].items() if common.get(k) != v} for j in jobs]
    return p, own
