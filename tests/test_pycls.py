"""dse and pycls: job configs out (DIR/cfgs/*.yaml), a pycls sweep.json in, and the round trip between them.

Two checks of the configs: pycls's own config system and builders (pycls 0.1.1 from the package index, a test-only
dependency installed by scripts/test.sh; skipped, saying so, where it cannot be installed) load every built-in
space's export and build networks of dse's counts; and the test rebuilds each network from the config's keys as
pycls's generator does. The import side writes pycls-style log records (``json_stats: {...}`` lines, floats at 4
decimals as pycls's dump_log_data writes them), collects them as pycls's load_log_data + sort_log_data do, and
imports the result.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal

import numpy as np
import pytest
import yaml

import dse
from dse.errors import DseError, ParamError
from dse.models import Arch, complexity, regnet_arch

REGIME = dict(flops="2M:8M", resolution=32, stem="cifar", in_channels=3, num_classes=10)


def read_yaml(text: str) -> dict:
    return yaml.safe_load(text)


def pycls_arch(cfg: dict) -> Arch:
    """The network pycls builds from a job config, as its regnet/anynet builders read the keys."""
    act = cfg["MODEL"].get("ACTIVATION_FUN", "relu")
    act = "swish" if act in ("silu", "swish") else act
    if cfg["MODEL"]["TYPE"] == "regnet":
        r = cfg["REGNET"]
        return regnet_arch(r["DEPTH"], r["W0"], r["WA"], r["WM"], 1 / r["BOT_MUL"], r["GROUP_W"], r["SE_ON"],
                           activation=act)
    a = cfg["ANYNET"]
    block = {"res_bottleneck_block": "res_bottleneck", "res_basic_block": "res_basic",
             "vanilla_block": "vanilla"}[a["BLOCK_TYPE"]]
    stem = {"simple_stem_in": "simple", "res_stem_cifar": "cifar", "res_stem_in": "resnet"}[a["STEM_TYPE"]]
    own = block != "res_bottleneck" or a["STEM_W"] != 32 or a["STRIDES"] != [2] * len(a["DEPTHS"])
    return Arch(a["DEPTHS"], a["WIDTHS"], [1 / b for b in a["BOT_MULS"]] or None, a["GROUP_WS"] or None,
                a.get("SE_ON", False), act, block=block, strides=a["STRIDES"], stem=stem if own else None,
                stem_w=a["STEM_W"])


def _dump(data: dict, kind: str) -> str:
    """A pycls log line: json_stats: {...} with floats as 4-decimal numbers (pycls's float_to_decimal)."""
    def dec(v):  # pycls writes Decimal('0.0500') as the JSON number 0.0500; a reader gets the float back
        if isinstance(v, dict):
            return {k: dec(x) for k, x in v.items()}
        return float(Decimal(f"{v:.4f}")) if isinstance(v, float) else v
    return "json_stats: " + json.dumps(dec({**data, "_type": kind}), sort_keys=True)


def _load(lines: list[str]) -> dict:
    """pycls's load_log_data + sort_log_data, on lines."""
    recs = [json.loads(x[x.find("json_stats: ") + 12:]) for x in lines if "json_stats: " in x]
    data = {}
    for r in recs:
        t = r.pop("_type")
        data.setdefault(t, []).append(r)
    for t in data:
        data[t] = {m: [d[m] for d in data[t]] for m in sorted(data[t][0])}
        if "epoch" in data[t]:
            data[t]["epoch_ind"] = [int(e.split("/")[0]) for e in data[t]["epoch"]]
            data[t]["epoch_max"] = [int(e.split("/")[1]) for e in data[t]["epoch"]]
        else:
            data[t] = {m: v[0] for m, v in data[t].items()}
    return data


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    d = tmp_path_factory.mktemp("pycls")
    st = dse.Study(d / "s.sqlite")
    st.sample("regnetx", n=6, seed=1, **REGIME)
    st.sample("anynet_e", n=6, seed=1, **REGIME)
    r = st.export_pycls(d / "sw")
    return st, d / "sw", r


def test_configs_build_the_networks_dse_stored(exported):
    st, folder, r = exported
    assert r["written"] == 12 and not r["skipped"]
    summary = json.loads((folder / "cfgs_summary.json").read_text())
    names = sorted(p.stem for p in (folder / "cfgs").glob("*.yaml"))
    assert names == [f"{i:06d}" for i in range(12)] == sorted(summary)
    recs = {(n, m.idx): m for n in ("regnetx", "anynet_e") for m in st.records(n)}
    kinds = set()
    for name in names:
        text = (folder / "cfgs" / f"{name}.yaml").read_text()
        cfg = read_yaml(text)
        s = summary[name]
        m = recs[(s["sweep"], s["id"])]
        assert text.startswith(f"# dse: sweep {s['sweep']}, model {s['id']}")
        assert pycls_arch(cfg) == m.arch
        kinds.add(cfg["MODEL"]["TYPE"])
        sec = cfg[cfg["MODEL"]["TYPE"].upper()]
        assert sec["STEM_TYPE"] == "res_stem_cifar" and sec["STEM_W"] == 32 and cfg["MODEL"]["NUM_CLASSES"] == 10
        assert cfg["TRAIN"]["IM_SIZE"] == cfg["TEST"]["IM_SIZE"] == 32
        cx = complexity(m.arch, 32, "cifar", 3, 10)
        assert (s["flops"], s["params"], s["acts"]) == (cx["flops"], cx["params"], cx["acts"]) == (m.flops, m.params,
                                                                                                   m.acts)
    assert kinds == {"regnet", "anynet"}


def _sweep_json(folder, errors, epochs=3, stop=None, fail=None):
    """pycls's collected sweep: per job its log records (cfg, complexity, train/test epochs), loaded as
    sweep_collect loads them; job ``stop`` stopped after 2 epochs, job ``fail`` too, with a stderr."""
    summary = json.loads((folder / "cfgs_summary.json").read_text())
    jobs = []
    for i, name in enumerate(sorted(summary)):
        cfg = read_yaml((folder / "cfgs" / f"{name}.yaml").read_text())
        cfg["OPTIM"] = {"BASE_LR": 0.1 if i % 2 else 0.2, "MAX_EPOCH": epochs, "MOMENTUM": 0.9, "NESTEROV": True,
                        "WEIGHT_DECAY": 0.0005, "LR_POLICY": "cos"}
        cfg["TRAIN"].update({"BATCH_SIZE": 128, "DATASET": "cifar10"})
        s = summary[name]
        lines = [_dump(cfg, "cfg"), _dump({"flops": s["flops"], "params": s["params"], "acts": s["acts"], "h": 32,
                                           "w": 32}, "complexity")]
        n = 2 if i in (stop, fail) else epochs
        for e in range(n):
            err = errors[i] + (n - 1 - e) * 3.0  # falling to the final error
            lines.append(_dump({"epoch": f"{e + 1}/{epochs}", "loss": 2.0 - 0.3 * e, "top1_err": err + 5.0,
                                "lr": 0.1 * (1 - e / epochs), "time_epoch": 12.5, "mem": 100}, "train_epoch"))
            lines.append(_dump({"epoch": f"{e + 1}/{epochs}", "top1_err": err, "min_top1_err": err,
                                "top5_err": err / 3, "time_avg": 0.01}, "test_epoch"))
        data = _load(lines)
        data.update(log_file=f"{folder}/logs/{name}/stdout.log", err_file=f"{folder}/logs/{name}/stderr.log",
                    err="Traceback (most recent call last):\nRuntimeError: CUDA out of memory" if i == fail else "")
        jobs.append(data)
    (folder / "sweep.json").write_text(json.dumps(jobs, sort_keys=True))
    return summary


def test_the_round_trip_gives_back_architectures_counts_and_errors(exported, tmp_path):
    st, folder, _ = exported
    errors = list(np.round(np.linspace(20, 40, 12), 4))
    summary = _sweep_json(folder, errors, stop=3, fail=5)
    back = dse.Study(tmp_path / "b.sqlite")
    assert back.import_pycls(folder / "sweep.json", "back") == 12
    recs = back.records("back")
    orig = {(n, m.idx): m for n in ("regnetx", "anynet_e") for m in st.records(n)}
    for i, (name, m) in enumerate(zip(sorted(summary), recs)):
        o = orig[(summary[name]["sweep"], summary[name]["id"])]
        assert m.arch == o.arch and (m.flops, m.params, m.acts) == (o.flops, o.params, o.acts)
        if i == 3:
            assert m.status == "pending" and m.error is None
        elif i == 5:
            assert m.status == "failed" and "CUDA out of memory" in m.reason
        else:
            assert m.status == "done" and m.error == pytest.approx(errors[i])
            assert m.best_error == pytest.approx(errors[i])
    rec = back.sweep("back")
    assert rec.protocol["budget"] == "3ep" and rec.protocol["dataset"] == "cifar10"
    assert rec.regime["resolution"] == 32 and rec.regime["stem"] == "cifar"
    lrs = {m.idx: m.used("lr", rec.regime, rec.protocol) for m in recs}
    assert sorted(set(lrs.values())) == [0.1, 0.2]  # the setting that varied is each model's own
    ep = back.epochs("back")
    assert len(ep) == 10 * 3 + 2 * 2 and ep[ep.id == 0].test_error.tolist() == pytest.approx(
        [errors[0] + 6, errors[0] + 3, errors[0]])
    assert back.edf(["back"]).sweeps["back"].n == 10  # the imported sweep works with the analyses
    assert back.bootstrap("depth", "back", n_boot=200).panels


def test_damaged_sweep_json_is_refused_naming_the_job(exported, tmp_path, run):
    st, folder, _ = exported
    _sweep_json(folder, [30.0] * 12)
    jobs = json.loads((folder / "sweep.json").read_text())
    bad = [dict(j) for j in jobs]
    bad[4] = {**bad[4], "complexity": {**bad[4]["complexity"], "flops": bad[4]["complexity"]["flops"] + 1}}
    cases = [(bad, "job 4", "logged complexity does not match"),
             ([{**jobs[0], "cfg": {**jobs[0]["cfg"], "MODEL": {**jobs[0]["cfg"]["MODEL"], "TYPE": "vit"}}}],
              "job 0", "MODEL.TYPE 'vit'"),
             ([{**jobs[0], "test_epoch": {**jobs[0]["test_epoch"], "top1_err": [30, 130, 20]}}], "job 0",
              "outside 0..100"),
             ({"not": "a list"}, "sweep.json", "non-empty list of jobs")]
    for i, (data, where, words) in enumerate(cases):
        p = tmp_path / f"bad{i}.json"
        p.write_text(json.dumps(data))
        with pytest.raises(DseError, match=words) as e:
            dse.Study(tmp_path / "x.sqlite").import_pycls(p, "x")
        assert where in str(e.value)
        code, _, err = run("import", "--pycls", str(p), "--sweep", "x", "--db", str(tmp_path / "y.sqlite"))
        assert code == 2 and words in err and "Traceback" not in err
    (tmp_path / "junk.json").write_text("{not json")
    code, _, err = run("import", "--pycls", str(tmp_path / "junk.json"), "--sweep", "x", "--db",
                       str(tmp_path / "y.sqlite"))
    assert code == 2 and "not JSON" in err
    assert not (tmp_path / "x.sqlite").exists() and not (tmp_path / "y.sqlite").exists()  # nothing written


def test_what_pycls_cannot_express_is_refused_or_skipped(tmp_path, run):
    st = dse.Study(tmp_path / "s.sqlite")
    st.sample("regnetx", n=3, flops="2M:8M", resolution=28, stem="cifar", in_channels=1, num_classes=10,
              sweep="gray")
    st.sample("regnetx", n=3, sweep="rgb", **REGIME)
    with pytest.raises(ParamError, match=r"3 model\(s\) cannot be expressed in pycls, e.g. gray/0: 1 input channel"):
        st.export_pycls(tmp_path / "a")
    r = st.export_pycls(tmp_path / "b", skip_unexpressible=True)
    assert r["written"] == 3 and [x["sweep"] for x in r["skipped"]] == ["gray"] * 3
    code, _, err = run("export", "--pycls", str(tmp_path / "b"), "--db", str(tmp_path / "s.sqlite"))
    assert code == 2 and "already holds job configs" in err
    code, _, err = run("export", "--top", "3", "--db", str(tmp_path / "s.sqlite"))
    assert code == 2 and "--top go(es) with --pycls DIR" in err
    code, out, err = run("export", "--pycls", str(tmp_path / "c"), "--sweep", "rgb", "--db", str(tmp_path / "s.sqlite"))
    assert code == 0 and "wrote 3 pycls job config(s)" in out, err


# pycls has no SR and no quantised networks (test_precision checks the refusal)
CLASSIFY_SPACES = [n for n in dse.builtin_names() if dse.resolve_space(n).task == "classify"
                   and not {"bits_w", "bits_a"} & set(dse.resolve_space(n).dists)]


@pytest.mark.parametrize("space", CLASSIFY_SPACES)
def test_every_builtin_space_exports_networks_pycls_rebuilds_exactly(space, tmp_path):
    """Each built-in space (the design-choice ones too: swish, inverted bottlenecks, depthwise, sampled
    resolution): the configs rebuild each model's network, and its counts at the config's IM_SIZE are dse's."""
    st = dse.Study(tmp_path / "s.sqlite")
    if space.startswith("nds_"):  # CIFAR spaces: below ResNet-56's flops, at 32 px
        st.sample(space, n=3, flops="1M:126M", resolution=32, num_classes=10, seed=0)
    else:
        st.sample(space, n=3, flops="100M:600M", seed=0)
    r = st.export_pycls(tmp_path / "sw")
    assert r["written"] == 3 and not r["skipped"]
    summary = json.loads((tmp_path / "sw" / "cfgs_summary.json").read_text())
    recs = {m.idx: m for m in st.records(space)}
    for name, s in summary.items():
        cfg = read_yaml((tmp_path / "sw" / "cfgs" / f"{name}.yaml").read_text())
        m = recs[s["id"]]
        assert pycls_arch(cfg) == m.arch, name
        stem = "simple" if cfg[cfg["MODEL"]["TYPE"].upper()]["STEM_TYPE"] == "simple_stem_in" else "cifar"
        assert m.arch.stem is None or m.arch.stem == stem
        assert stem == "cifar" or cfg["TEST"]["IM_SIZE"] == round(cfg["TRAIN"]["IM_SIZE"] * 256 / 224)  # 224 -> 256
        cx = complexity(pycls_arch(cfg), cfg["TRAIN"]["IM_SIZE"], stem, 3, cfg["MODEL"]["NUM_CLASSES"])
        assert (cx["flops"], cx["params"], cx["acts"]) == (m.flops, m.params, m.acts), name


def _pycls():
    """pycls's config, builders and complexity counter, reset to pycls's defaults; skip when not installed."""
    try:
        import pycls.core.builders as builders
        import pycls.core.config as config
        import pycls.core.net as net
    except ImportError as e:
        pytest.skip(f"pycls is not installed ({e}); scripts/test.sh installs pycls==0.1.1 --no-deps and yacs")
    config.reset_cfg()
    if "ACTIVATION_FUN" not in config.cfg.MODEL:
        # pycls 0.1.1 predates MODEL.ACTIVATION_FUN (pycls's later versions have it, default "relu"); dse writes it
        # only for swish, which does not change a network's counts
        config.cfg.MODEL.ACTIVATION_FUN = "relu"
    return config.cfg, builders, net


@pytest.mark.parametrize("space", CLASSIFY_SPACES)
def test_pycls_loads_every_builtin_spaces_export_and_builds_dse_counts(space, tmp_path):
    """pycls's own cfg.merge_from_file (yacs: a float key refuses an int) loads each exported config, and pycls's
    own builder makes a network whose counts (pycls's complexity(), and the torch module's parameters) are dse's."""
    cfg, builders, net = _pycls()
    st = dse.Study(tmp_path / "s.sqlite")
    small = "100M:600M" if space == "regnetx_res" else "2M:8M"  # a space that samples the resolution: >= 100M
    if space.startswith("nds_"):  # CIFAR spaces: below ResNet-56's flops, at 32 px
        st.sample(space, n=5, flops="1M:126M", resolution=32, num_classes=10, seed=0)
    else:
        st.sample(space, n=3, flops=small, resolution=32, stem="cifar", num_classes=10, seed=0)
        st.sample(space, n=2, flops="150M:250M", seed=0, sweep="in")
    st.export_pycls(tmp_path / "sw")
    summary = json.loads((tmp_path / "sw" / "cfgs_summary.json").read_text())
    assert len(summary) == 5
    for name, s in summary.items():
        _, _, _ = _pycls()
        cfg.merge_from_file(str(tmp_path / "sw" / "cfgs" / f"{name}.yaml"))
        m = {r.idx: r for r in st.records(s["sweep"])}[s["id"]]
        counted = net.complexity(builders.get_model())
        assert counted == {"flops": m.flops, "params": m.params, "acts": m.acts}, (space, name)
        if s["sweep"] == "regnetx" or m.flops < 10**7:  # building the large ones costs seconds each
            model = builders.build_model()
            assert sum(p.numel() for p in model.parameters()) == m.params


def _set(job: dict, path: str, value):
    """A copy of ``job`` with ``path`` (dot-separated keys) set to ``value``."""
    job = json.loads(json.dumps(job))
    *head, last = path.split(".")
    cur = job
    for k in head:
        cur = cur[k]
    cur[last] = value
    return job


# (the job of sweep.json damaged, as an edit of the first RegNet job or the first AnyNet job, and what the message says)
BAD_JOBS = [
    ("regnet", "cfg.REGNET.WM", float("inf"), "cfg REGNET.WM = inf is not allowed; it must be a finite number > 1"),
    ("regnet", "cfg.REGNET.WM", 1.0, "cfg REGNET.WM = 1.0 is not allowed"),
    ("regnet", "cfg.REGNET.WA", -3.0, "cfg REGNET.WA = -3.0 is not allowed"),
    ("regnet", "cfg.REGNET.DEPTH", "21", "cfg REGNET.DEPTH = '21' is not allowed; it must be an integer >= 1"),
    ("regnet", "cfg.REGNET.DEPTH", 10**9, "cfg REGNET.DEPTH = 1000000000 is not allowed"),
    ("regnet", "cfg.REGNET.DEPTH", True, "cfg REGNET.DEPTH = True is not allowed"),
    ("regnet", "cfg.REGNET.W0", [24], "cfg REGNET.W0 = [24] is not allowed"),
    ("regnet", "cfg.REGNET.W0", 20, "REGNET.W0 = 20 is not allowed; pycls's RegNets need a multiple of 8"),
    ("regnet", "cfg.REGNET.BOT_MUL", 0, "cfg REGNET.BOT_MUL = 0 is not allowed"),
    ("regnet", "cfg.REGNET.SE_ON", "yes", "cfg REGNET.SE_ON = 'yes' is not a bool"),
    ("anynet", "cfg.ANYNET.WIDTHS", [32.5, 64, 128, 256], "cfg ANYNET.WIDTHS[0] = 32.5 is not allowed"),
    ("anynet", "cfg.ANYNET.DEPTHS", ["1", 1, 1, 1], "cfg ANYNET.DEPTHS[0] = '1' is not allowed"),
    ("anynet", "cfg.ANYNET.DEPTHS", [1, 1], "need one value per stage"),
    ("regnet", "cfg.TRAIN.IM_SIZE", 0, "cfg TRAIN.IM_SIZE = 0 is not allowed; it must be an integer >= 8"),
    ("regnet", "cfg.TRAIN.IM_SIZE", "32", "cfg TRAIN.IM_SIZE = '32' is not allowed"),
    ("regnet", "cfg.MODEL.NUM_CLASSES", -1, "cfg MODEL.NUM_CLASSES = -1 is not allowed"),
    ("regnet", "cfg.OPTIM.MAX_EPOCH", -5,
     "cfg OPTIM.MAX_EPOCH = -5 is not allowed; it must be an integer >= 1 and <= 100,000"),
    ("regnet", "cfg.OPTIM.MAX_EPOCH", 10**9, "cfg OPTIM.MAX_EPOCH = 1000000000 is not allowed"),
    ("regnet", "cfg.OPTIM.BASE_LR", "0.1", "cfg OPTIM.BASE_LR = '0.1' is not allowed"),
    ("regnet", "cfg.OPTIM.WEIGHT_DECAY", 2.0,
     "cfg OPTIM.WEIGHT_DECAY = 2.0 is not allowed; it must be a finite number >= 0 and <= 1"),
    ("regnet", "cfg.TRAIN.BATCH_SIZE", True, "cfg TRAIN.BATCH_SIZE = True is not allowed"),
    ("regnet", "cfg.OPTIM.NESTEROV", "False", "cfg OPTIM.NESTEROV = 'False' is not a bool"),
    ("regnet", "test_epoch.top1_err", [True, False, True], "test_epoch.top1_err is not a list of numbers"),
    ("regnet", "complexity.flops", "12345", "complexity.flops = '12345' (str) is not an integer count"),
    ("regnet", "complexity", [1, 2], "complexity = [1, 2] is not a table"),
    ("regnet", "train_epoch", [1], "train_epoch is not a table of series"),
    ("regnet", "test_epoch.epoch_ind", [-1, 0, 1], "test_epoch.epoch_ind holds -1; epochs are whole numbers from 1"),
    ("regnet", "test_epoch.epoch_max", [3, 3, 2.5], "test_epoch.epoch_max holds 2.5"),
]


@pytest.mark.parametrize("case", BAD_JOBS, ids=[f"{c[1]}={c[2]!r}"[:60] for c in BAD_JOBS])
def test_malformed_sweep_json_is_refused_naming_job_and_key(exported, tmp_path, run, case):
    kind, path, value, words = case
    st, folder, _ = exported
    jobs = json.loads((folder / "sweep.json").read_text()) if (folder / "sweep.json").exists() else None
    if jobs is None:
        _sweep_json(folder, [30.0] * 12)
        jobs = json.loads((folder / "sweep.json").read_text())
    i = next(i for i, j in enumerate(jobs) if j["cfg"]["MODEL"]["TYPE"] == kind)
    jobs[i] = _set(jobs[i], path, value)
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(jobs))
    code, _, err = run("import", "--pycls", str(p), "--sweep", "x", "--db", str(tmp_path / "y.sqlite"))
    assert code == 2 and words in err and f"job {i}" in err and "Traceback" not in err, err
    assert not (tmp_path / "y.sqlite").exists()


def test_truncated_or_deep_sweep_json_is_refused(exported, tmp_path, run):
    st, folder, _ = exported
    _sweep_json(folder, [30.0] * 12)
    text = (folder / "sweep.json").read_text()
    for name, body in (("cut", text[: len(text) // 2]), ("cut_utf8", text[:100].encode() + b"\xc3"),
                       ("deep", "[" * 100_000 + "]" * 100_000)):
        p = tmp_path / f"{name}.json"
        p.write_bytes(body if isinstance(body, bytes) else body.encode())
        code, _, err = run("import", "--pycls", str(p), "--sweep", "x", "--db", str(tmp_path / "y.sqlite"))
        assert code == 2 and str(p) in err and "Traceback" not in err, (name, err)
    assert not (tmp_path / "y.sqlite").exists()


BASE = """\
# a user's pycls base config: values of every YAML type, which must come back as the same types
TRAIN:
  DATASET: imagenet
  SPLIT: 'yes'
  AUGMENT: 'null'
  WEIGHTS: ''
  SCALES: [0.08, 1.0]
TEST:
  DATASET: imagenet
  SPLIT: '.inf'
  BATCH_SIZE: 200
OPTIM:
  WARMUP_FACTOR: 1.0e-05
  STEPS: []
  LR_MULT: 0.1
NUM_GPUS: 8
OUT_DIR: "/tmp/out: a colon, #hash"
RNG_SEED: null
HOST: [{name: a, gpus: 8}, {name: b, gpus: 4}]
LOG_DEST: "1e-5"
CFG_DEST: no
"""


def test_base_config_round_trip_preserves_every_values_type(exported, tmp_path):
    st, _, _ = exported
    (tmp_path / "base.yaml").write_text(BASE)
    st.export_pycls(tmp_path / "sw", base_config=tmp_path / "base.yaml")
    base = yaml.safe_load(BASE)
    for f in (tmp_path / "sw" / "cfgs").glob("*.yaml"):
        cfg = yaml.safe_load(f.read_text())
        for section, values in base.items():
            if isinstance(values, dict):
                for k, v in values.items():
                    assert cfg[section][k] == v and type(cfg[section][k]) is type(v), (section, k)
            else:
                assert cfg[section] == values and type(cfg[section]) is type(values), section
        assert cfg["MODEL"]["TYPE"] in ("regnet", "anynet")


def test_bad_base_configs_and_folders_are_refused(exported, tmp_path, run):
    st, folder, _ = exported
    db = str(st.path)
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    (tmp_path / "big.yaml").write_text("A: " + "x" * (1 << 20) + "\n")
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{k}: &{k} [{', '.join(['*' + p] * 10)}]\n" for p, k in zip("abcdefg", "bcdefgh"))
    (tmp_path / "bomb.yaml").write_text(bomb)  # 10^8 values once expanded
    (tmp_path / "loop.yaml").write_text("a: &a [*a]\n")
    (tmp_path / "unknown.yaml").write_text("MODEL:\n  TYPE: anynet\nSURPRISE: 1\n")
    os.mkfifo(tmp_path / "fifo.yaml")
    cases = [(["--base-config", "/dev/zero"], "not a regular file"),
             (["--base-config", str(tmp_path / "fifo.yaml")], "not a regular file"),
             (["--base-config", str(tmp_path / "big.yaml")], "a pycls config is at most 1,048,576"),
             (["--base-config", str(tmp_path / "list.yaml")], "a YAML table of named sections"),
             (["--base-config", str(tmp_path / "none.yaml")], "cannot read it (No such file or directory)"),
             (["--base-config", str(tmp_path / "bomb.yaml")], "anchors and aliases"),
             (["--base-config", str(tmp_path / "loop.yaml")], "anchors and aliases"),
             (["--base-config", str(tmp_path / "unknown.yaml")], "'SURPRISE' is no pycls config key")]
    for extra, words in cases:
        code, _, err = run("export", "--pycls", str(tmp_path / "out"), *extra, "--db", db)
        assert code == 2 and words in err and "--base-config" in err and "Traceback" not in err, (extra, err)
    for target, words in (("", "--pycls must be a folder path"), ("x" * 300, "cannot use it (File name too long)"),
                          (str(tmp_path / "list.yaml") + "/sub", "is a file, not a folder")):
        code, _, err = run("export", "--pycls", target, "--db", db)
        assert code == 2 and words in err and "Traceback" not in err, (target, err)
    assert not (tmp_path / "out").exists() and not (tmp_path / "cfgs").exists()


def test_other_blocks_and_references_go_out_to_pycls_and_come_back(tmp_path):
    """NDS Vanilla/ResNet/ResNeXt-A networks (vanilla, basic and bottleneck blocks, strides 1-2-2, a 16-wide cifar
    stem) and the ResNet-50 and EfficientNet-B0 references (7x7 stem + max pool; MBConv, EN configs): pycls's own
    loader takes every config and, where pycls 0.1.1 builds the model, its counts are dse's; the sweep.json of
    them reads back as the same networks and counts."""
    cfg, builders, net = _pycls()
    for group, sample in (("nds", lambda st: [st.sample(s, n=2, flops="1M:126M", resolution=32, num_classes=10,
                                                        seed=0) for s in ("nds_vanilla", "nds_resnet",
                                                                          "nds_resnext_a")]),
                          ("ref", lambda st: [st.add_reference(r, resolution=64, num_classes=10)
                                              for r in ("resnet50", "effnet_b0")])):
        st = dse.Study(tmp_path / f"{group}.sqlite")
        sample(st)
        st.export_pycls(tmp_path / group)
        summary = json.loads((tmp_path / group / "cfgs_summary.json").read_text())
        orig = {(s["sweep"], s["id"]): None for s in summary.values()}
        orig = {k: {m.idx: m for m in st.records(k[0])}[k[1]] for k in orig}
        for name, s in summary.items():
            _pycls()
            cfg.merge_from_file(str(tmp_path / group / "cfgs" / f"{name}.yaml"))
            m = orig[(s["sweep"], s["id"])]
            counted = net.complexity(builders.get_model())
            assert counted == {"flops": m.flops, "params": m.params, "acts": m.acts}, name
        _sweep_json(tmp_path / group, [30.0 + i for i in range(len(summary))])
        back = dse.Study(tmp_path / f"{group}_back.sqlite")
        assert back.import_pycls(tmp_path / group / "sweep.json", "back") == len(summary)
        for name, m in zip(sorted(summary), back.records("back")):
            o = orig[(summary[name]["sweep"], summary[name]["id"])]
            assert m.arch == o.arch and (m.flops, m.params, m.acts) == (o.flops, o.params, o.acts), name


def _block_space(name: str) -> str:
    """A 3-stage anynet space of block ``name`` with the parameters it uses (a simple stem and head conv for MBConv,
    as pycls's EfficientNet has)."""
    from dse.models.blocks import get_block

    bt = get_block(name)
    lines = [f'name = "t_{name}"', 'family = "anynet"', f'block = "{name}"', "stages = 3",
             'strides = [1, 2, 2]', "stem_w = 16"]
    lines += ['stem = "simple"', "head_w = 64"] if name == "mbconv" else ['stem = "cifar"']
    lines += ["[params.d]", 'dist = "choice"', "values = [1, 2]", "[params.w]", 'dist = "choice"',
              "values = [16, 24, 32]"]
    extra = {"b": [1, 2], "g": [8, 16], "k": [3, 5], "e": [1, 4]}
    for p in bt.uses:
        lines += [f"[params.{p}]", 'dist = "choice"', f"values = {extra[p]}"]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("block", ["res_bottleneck", "res_bottleneck_linear", "res_basic", "vanilla", "mbconv"])
def test_each_block_round_trips_through_csv_parquet_and_pycls(block, tmp_path):
    """A sweep of each block: CSV and Parquet out and in, pycls configs out (loaded by pycls's own config system,
    built with dse's counts where pycls 0.1.1 has the block) and sweep.json in: the same networks and counts."""
    (tmp_path / "s.toml").write_text(_block_space(block))
    st = dse.Study(tmp_path / "s.sqlite")
    st.sample(str(tmp_path / "s.toml"), n=4, flops="10K:50M", resolution=32, num_classes=10, seed=0)
    sw = f"t_{block}"
    st.set_results(sw, {m.idx: 20.0 + m.idx for m in st.records(sw)})
    want = {m.idx: (m.arch, m.flops, m.params, m.acts) for m in st.records(sw)}
    assert {a.block for a, *_ in want.values()} == {block}
    for ext in ("csv", "parquet"):
        st.export(tmp_path / f"t.{ext}", [sw])
        st.import_table(tmp_path / f"t.{ext}", f"back_{ext}", resolution=32, num_classes=10)
        assert {m.idx: (m.arch, m.flops, m.params, m.acts) for m in st.records(f"back_{ext}")} == want, ext
    st.export_pycls(tmp_path / "p", [sw])
    summary = json.loads((tmp_path / "p" / "cfgs_summary.json").read_text())
    if block != "res_bottleneck_linear":  # pycls 0.1.1 has no linear block (later pycls versions do)
        cfg, builders, net = _pycls()
        for name, s in summary.items():
            _pycls()
            cfg.merge_from_file(str(tmp_path / "p" / "cfgs" / f"{name}.yaml"))
            a, f, p, ac = want[s["id"]]
            assert net.complexity(builders.get_model()) == {"flops": f, "params": p, "acts": ac}, name
    _sweep_json(tmp_path / "p", [30.0] * len(summary))
    back = dse.Study(tmp_path / "b.sqlite")
    back.import_pycls(tmp_path / "p" / "sweep.json", "back")
    got = {summary[n]["id"]: (m.arch, m.flops, m.params, m.acts) for n, m in zip(sorted(summary), back.records("back"))}
    assert got == want
