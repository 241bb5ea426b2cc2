"""One rule in one place: a space file, an import row, a Protocol and the CLI accept and refuse the same values
of every setting (dse.validate.SETTINGS), and a model whose settings are refused ends failed, never held."""

from __future__ import annotations

import dataclasses

import pytest

import dse
from dse.errors import DseError, ParamError
from dse.spaces import parse_space
from dse.train.protocol import Protocol
from dse.validate import LIMITS, PROTOCOL_FIELD, SETTINGS, Limit, check_choice, check_int, check_name

BASE = {"name": "probe", "family": "anynet", "block": "x", "stages": 1,
        "params": {"d": {"dist": "choice", "values": [1]}, "w": {"dist": "choice", "values": [8]},
                   "b": {"dist": "choice", "values": [1]}, "g": {"dist": "choice", "values": [8]}}}


def _probes(lim: Limit) -> list:
    """Values at and around each end of a range, and the odd ones (a fraction for an integer setting)."""
    vals = [lim.low, lim.high, lim.low - 1, lim.high * 2, lim.low + (lim.high - lim.low) / 2]
    vals += [lim.low * 0.999 if lim.low else -1e-9, float("nan")]
    if lim.integer:
        vals += [lim.low + 0.5]
    return vals


CASES = [(k, v) for k, lim in SETTINGS.items() for v in _probes(lim)]


def _space_ok(k, v) -> bool:
    data = {**BASE, "params": {**BASE["params"], k: {"dist": "choice", "values": [v]}}}
    try:
        parse_space(data, "probe.toml")
        return True
    except DseError:
        return False


def _import_ok(tmp_path, k, v) -> bool:
    path = tmp_path / f"{k}.csv"
    path.write_text(f"d1,w1,b1,g1,error,{k}\n1,8,1,8,3,{v!r}\n")
    try:
        dse.Study(tmp_path / f"{k}.sqlite").import_table(path, "imp", resolution=28, stem="cifar")
        return True
    except DseError:
        return False


def _protocol_ok(k, v) -> bool:
    if k in ("bits_w", "bits_a", "edge_bits"):  # a model's precision, not the protocol's: the limit decides
        return SETTINGS[k].ok(v)
    field = PROTOCOL_FIELD.get(k, k)
    try:
        Protocol(**{field: v}, dataset="synthetic")
        return True
    except ParamError:
        return False


@pytest.mark.parametrize("k, v", CASES, ids=[f"{k}={v!r}" for k, v in CASES])
def test_space_import_and_protocol_agree(tmp_path, k, v):
    want = SETTINGS[k].ok(v)
    got = {"space file": _space_ok(k, v), "import row": _import_ok(tmp_path, k, v), "Protocol": _protocol_ok(k, v)}
    assert got == dict.fromkeys(got, want), f"{k} = {v!r}: the limit says {want}, the entry points say {got}"


def test_the_wd_of_the_issue_is_refused_at_sampling(run, tmp_path):
    """A space whose weight decay reaches 2 ends with exit 2 when it is read, naming file, field and range."""
    p = tmp_path / "wd2.toml"
    p.write_text('name = "wd2"\nfamily = "anynet"\nblock = "x"\nstages = 1\n'
                 '[params.d]\ndist = "choice"\nvalues = [1]\n[params.w]\ndist = "choice"\nvalues = [8]\n'
                 '[params.b]\ndist = "choice"\nvalues = [1]\n[params.g]\ndist = "choice"\nvalues = [8]\n'
                 '[params.wd]\ndist = "choice"\nvalues = [0.5, 2]\n')
    code, out, err = run("sample", "--space", str(p), "-n", "2", "--flops", "0:1G", "--resolution", "28",
                         "--stem", "cifar", "--db", str(tmp_path / "s.sqlite"))
    assert code == 2 and "[params.wd]" in err and "<= 1" in err and str(p) in err and "Traceback" not in err
    assert not (tmp_path / "s.sqlite").exists()


def test_cli_types_follow_the_limits(run, tmp_path):
    """The CLI's typed options read the same table: one past each end is refused before any work."""
    db = str(tmp_path / "s.sqlite")
    for flag, k in (("--resolution", "resolution"), ("--in-channels", "in_channels"), ("--num-classes", "num_classes")):
        lim = LIMITS[k]
        for v in (int(lim.low) - 1, int(lim.high) + 1):
            code, _, err = run("sample", "--space", "regnetx", "-n", "1", flag, str(v), "--db", db)
            assert code == 2 and flag in err, (flag, v, err)
    code, _, err = run("train", "--batch-size", str(int(SETTINGS["batch_size"].high) + 1), "--db", db)
    assert code == 2 and "--batch-size" in err


def test_a_model_whose_settings_are_refused_ends_failed(tmp_path, monkeypatch):
    """A stored model whose own settings are outside today's limits (a store from an older dse) is marked failed
    with the reason at once: it is never left running until its lease expires."""
    space = {**BASE, "name": "wdspace", "params": {**BASE["params"], "wd": {"dist": "choice", "values": [0.5]}}}
    study = dse.Study(tmp_path / "s.sqlite")
    study.sample(parse_space(space), n=1, flops="0:1G", resolution=8, stem="cifar", in_channels=3, num_classes=10)
    monkeypatch.setitem(SETTINGS, "wd", dataclasses.replace(SETTINGS["wd"], high=0.1))  # limits tightened since
    out = study.train(budget="1it", dataset="synthetic", train_size=16, test_size=8, resolution=8, device="cpu",
                      batch_size=8)
    assert out.failed == 1 and out.pending == 0 and out.counts["wdspace"]["running"] == 0
    (rec,) = study.records("wdspace")
    assert rec.status == "failed" and "weight_decay" in rec.reason and "<= 0.1" in rec.reason


def test_checks_name_the_parameter():
    with pytest.raises(ParamError, match=r"^stem 'x' unknown; allowed: simple, cifar$"):
        check_choice("x", "stem", ("simple", "cifar"))
    with pytest.raises(ParamError, match="models must be an integer >= 3, got 2"):
        check_int(2, "models", 3)
    with pytest.raises(ParamError, match=r"\(5,000 characters\)"):
        check_name("x" * 5000)
    assert check_int(4, "n") == 4
    with pytest.raises(ParamError):
        check_int(True, "n")


@pytest.mark.parametrize("module", ["dse.validate", "dse.params", "dse.analysis.results"])
def test_the_rule_modules_examples_run(module):
    import doctest
    import importlib

    r = doctest.testmod(importlib.import_module(module))
    assert r.attempted >= 2 and r.failed == 0
