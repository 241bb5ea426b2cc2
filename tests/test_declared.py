"""Settings declared once (issue 27): the bad-input tests generated from the declarations, the CLI's options made
from them, and the shape rules of the code (keywords past five positional arguments, at most 12 parameters).

A new keyword of a public Study method is tested by being declared: every check in ``method.checks`` (built by
``@checked`` from ``dse.params``) is fed the values it must refuse (``Check.bad()``), and each call must raise a
ParamError naming the keyword with the store unchanged; every command option made from a declaration is fed the
same values as text and must exit 2 naming its flag, the store unchanged.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import click
import pytest

import dse
import dse.api.findings
from conftest import copy_study
from dse.cli.main import commands
from dse.errors import ParamError
from dse.params import PARAMS, PROTOCOL, RUN, Bool, Func, Instance, Names, Numbers, Opt
from dse.study import Study
from conftest import digest as _digest

ROOT = Path(__file__).resolve().parents[1] / "dse"
SAMPLE = ["--flops", "1M:3M", "--resolution", "16", "--stem", "cifar", "--num-classes", "10"]
SYN = ["--dataset", "synthetic", "--resolution", "16", "--train-size", "64", "--test-size", "32", "--batch-size", "32",
       "--budget", "1ep", "--device", "cpu", "--plain"]


def public_methods() -> dict:
    return {n: getattr(Study, n) for n in sorted(dir(Study))
            if not n.startswith("_") and callable(getattr(Study, n)) and hasattr(getattr(Study, n), "checks")}


# a valid value for each keyword that has no default (the checks run before any work, so it need only pass them)
REQUIRED = {"space": "regnetx", "n": 2, "regimes": "2MF,4MF", "path": "t.csv", "sweep": "a", "sweeps": ["a", "b"],
            "params": "depth", "folder": "out", "errors": {0: 30.0}, "p": dse.train.protocol.Protocol(),
            "name": "resnet56", "plan": dse.api.findings.FindingsPlan("cpu", {}, [], "none")}


def _base(f) -> dict:
    sig = inspect.signature(f)
    return {k: REQUIRED[k] for k, p in sig.parameters.items()
            if k != "self" and p.default is inspect.Parameter.empty and p.kind is not p.VAR_KEYWORD}


@pytest.fixture(scope="module")
def pilots(pair_dir, tmp_path_factory):
    """Sweeps a and b of 6 models each, trained 1 epoch on synthetic data (conftest.trained_pair)."""
    return copy_study(pair_dir, tmp_path_factory.mktemp("declared"))


@pytest.fixture
def store(pilots, tmp_path):
    return copy_study(pilots, tmp_path) / "dse.sqlite"


API_CASES = [(m, p, v) for m, f in public_methods().items() for p, c in f.checks.items() for v in c.bad()]


def test_every_public_method_declares_its_checks():
    """Each public method's keywords that many methods share are checked, and every declared default passes."""
    methods = public_methods()
    assert len(methods) >= 30
    for name, f in methods.items():
        sig = inspect.signature(f)
        for p, param in sig.parameters.items():
            if p in PARAMS:
                assert p in f.checks, (name, p)
            if p in f.checks and param.default is not inspect.Parameter.empty and param.default is not None:
                f.checks[p].check(param.default, p)  # the default passes its own check
    assert len(API_CASES) > 300


@pytest.mark.parametrize("case", API_CASES, ids=[f"{m}-{p}-{i}" for i, (m, p, _) in enumerate(API_CASES)])
def test_generated_api_bad_input(store, monkeypatch, case):
    method, param, value = case
    monkeypatch.chdir(store.parent)
    f = getattr(dse.Study(store), method)
    before = _digest(store)
    with pytest.raises(ParamError) as e:
        f(**{**_base(getattr(Study, method)), param: value})
    assert param in e.value.params, (method, param, value, str(e.value))
    assert _digest(store) == before


# ---- the command line: each option made from a declaration refuses the same values, naming its flag ----
BASE_ARGS = {
    "train": ["--sweep", "a", *SYN], "budget-check": ["--sweep", "a", "--models", "3", "--device", "cpu"],
    "compare": ["a", "b", "--until-decided"], "power": ["--compare", "a", "b", "--reps", "100"],
    "edf": ["--compare", "a", "b"], "bootstrap": ["--param", "depth", "--n-boot", "10"],
    "trends": ["--param", "depth", "--n-boot", "10"], "refine": ["--sweep", "a", "--n-boot", "10"],
    "search-efficiency": ["--compare", "a", "b"], "fit": ["--sweep", "a"], "report": ["-o", "r.html"],
}


CALLS = {"train": "train", "budget-check": "budget_check", "compare": "compare", "power": "power", "edf": "edf",
         "bootstrap": "bootstrap", "trends": "trends", "refine": "refine", "search-efficiency": "search_efficiency",
         "fit": "fit", "report": "report", "speed": "speed"}


# options whose value the command turns into the keyword's (said why)
TRANSLATED = {("power", "sequential"): "a flag: the keyword takes (--step, --max)",
              ("compare", "futility"): "0 is never (the keyword's None)",
              ("compare", "seed"): "the futility simulation's seed, as the keyword's"}


def _text(v):
    """A refused value as a user would type it, or None when it cannot be typed (a list, a bool, bytes)."""
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        return None
    return str(v)


def _cli_cases():
    out = []
    group = commands()
    for name, base in BASE_ARGS.items():
        cmd = group.commands[name]
        own = getattr(Study, CALLS[name]).checks  # the checks of the method the command calls
        for p in cmd.params:
            if not isinstance(p, click.Option) or p.is_flag or p.name not in {**PARAMS, **own}:
                continue
            check = own.get(p.name) or PARAMS[p.name].check
            inner = check.inner if isinstance(check, Opt) else check
            if isinstance(inner, (Names, Func, Instance, Bool, Numbers)) or (name, p.name) in TRANSLATED:
                continue  # (--thresholds 30,40 is text the command splits)
            for v in check.bad():
                t = _text(v)
                if t is None or (isinstance(check, Opt) and t == "None"):
                    continue
                try:  # a value click reads as valid for this check (e.g. '1' for an integer) is not a refusal
                    check.check(p.type.convert(t, p, None), p.name)
                    continue
                except (ParamError, click.BadParameter):
                    pass
                out.append((name, max(p.opts, key=len), t))
    return out


CLI_CASES = _cli_cases()


def test_the_generated_cli_cases_cover_every_shared_option():
    flags = {(c, f) for c, f, _ in CLI_CASES}
    for opt in ("--budget", "--lr", "--weight-decay", "--momentum", "--batch-size", "--train-size", "--device",
                "--workers-per-gpu", "--gpus-per-model", "--max-concurrent", "--graph", "--executor"):
        assert ("train", opt) in flags and ("compare", opt if opt != "--budget" else "--budget") in flags, opt
    for cmd in ("bootstrap", "trends", "refine"):
        assert (cmd, "--n-boot") in flags and (cmd, "--metric") in flags


@pytest.mark.parametrize("case", CLI_CASES, ids=[f"{c} {f} {v}" for c, f, v in CLI_CASES])
def test_generated_cli_bad_input(run, store, case):
    name, flag, value = case
    before = _digest(store)
    code, out, err = run(name, *BASE_ARGS[name], flag, value)
    assert code == 2, (out, err)
    assert flag.split("/")[0] in err and "Traceback" not in err, err
    assert _digest(store) == before


# ---- one declaration: the options' defaults and help are the library's ----
def test_each_options_default_is_the_apis():
    group = commands()
    checked = 0
    for name, method in CALLS.items():
        sig = inspect.signature(getattr(Study, method))
        for p in group.commands[name].params:
            if not isinstance(p, click.Option) or p.name not in sig.parameters:
                continue
            want = sig.parameters[p.name].default
            if want is inspect.Parameter.empty or p.required:  # the subject: the command requires it too
                continue
            got = p.default
            if p.callback is not None:  # --checkpoint-every-epoch: neither given is the library's "auto"
                got = p.callback(None, p, got)
            if (name, p.name) in TRANSLATED:
                continue
            if type(got).__name__ == "Sentinel" or got == ():  # a repeatable option: none given is the default
                got = None
            if p.is_flag and got is None and not p.secondary_opts:  # a flag not given is off (an --x/--no-x pair
                got = False  # with no default stays None: neither given)
            assert got == want, (name, p.name, got, want)
            checked += 1
    assert checked > 60


def _all_commands(group, prefix=""):
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from _all_commands(cmd, prefix + name + " ")
        else:
            yield prefix + name, cmd


def test_no_locals_bridges():
    """Settings travel from a call to the Protocol and RunOptions through code a reader can follow: no ``locals()``
    in dse (Study.train builds the Protocol from its keywords by name)."""
    hits = [f"{path.relative_to(ROOT)}:{node.lineno}" for path in sorted(ROOT.rglob("*.py"))
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("locals", "vars") and not node.args]
    assert hits == []


def test_no_option_of_a_declared_name_is_written_by_hand():
    """Every option named like a declared setting (dse.params: PARAMS, REGIME) is made from its declaration
    (dse.cli.options.option), so its flag, default, check and help cannot drift from the library's."""
    from dse.cli.models import _reference_command
    from dse.cli.options import DeclaredOption
    from dse.params import REGIME

    cmds = dict(_all_commands(commands()))
    cmds["model resnet56"] = _reference_command("resnet56")
    by_hand, made = [], 0
    for name, cmd in cmds.items():
        for p in cmd.params:
            if isinstance(p, click.Option) and (p.name in PARAMS or p.name in REGIME):
                made += isinstance(p, DeclaredOption)
                if not isinstance(p, DeclaredOption):
                    by_hand.append(f"{name} {p.opts[0]}")
    assert by_hand == []
    assert made > 130


def test_commands_that_train_take_trains_options_with_the_same_help():
    cmds = commands().commands
    train = {p.name: p for p in cmds["train"].params}
    for name in ("compare", "budget-check"):
        other = {p.name: p for p in cmds[name].params}
        for opt in [*RUN, "plain"]:
            if opt in ("progress", "on_start"):
                continue
            assert opt in other and other[opt].help == train[opt].help and other[opt].default == train[opt].default, \
                (name, opt)
    compare = {p.name: p for p in cmds["compare"].params}
    for opt in PROTOCOL:
        assert compare[opt].help == train[opt].help and compare[opt].default == train[opt].default, opt


# ---- the shape of the code ----
def _modules():
    return sorted(p for p in ROOT.rglob("*.py"))


def test_no_call_passes_more_than_five_positional_arguments():
    bad = []
    for path in _modules():
        for n in ast.walk(ast.parse(path.read_text())):
            if isinstance(n, ast.Call) and len(n.args) > 5:
                bad.append(f"{path.relative_to(ROOT.parent)}:{n.lineno}: {ast.unparse(n.func)} ({len(n.args)})")
    assert not bad, "\n".join(bad)


def test_no_function_but_study_methods_and_commands_takes_more_than_12_parameters():
    study = set(public_methods())
    bad = []
    for path in _modules():
        for n in ast.walk(ast.parse(path.read_text())):
            if not isinstance(n, ast.FunctionDef):
                continue
            a = n.args
            count = len(a.posonlyargs) + len(a.args) + len(a.kwonlyargs) - (a.args[:1] != [] and a.args[0].arg in
                                                                             ("self", "cls"))
            command = any("command" in ast.unparse(d) or "option" in ast.unparse(d) for d in n.decorator_list)
            if count > 12 and not command and not (path.parent.name == "api" and n.name in study):
                bad.append(f"{path.relative_to(ROOT.parent)}:{n.lineno}: {n.name} ({count})")
    assert not bad, "\n".join(bad)


# keywords whose default differs from the shared declaration, and why
OWN_DEFAULT = {("budget_check", "n_boot"): "2,000 resamples of K retrained pairs suffice (10,000 elsewhere)",
               ("sample", "seed"): "None: a new sweep's seed is 0, a top-up's is the sweep's own",
               ("sample_regimes", "seed"): "None: as sample"}


def test_every_shared_keyword_defaults_to_its_declaration():
    for name, f in public_methods().items():
        for p, param in inspect.signature(f).parameters.items():
            if p not in PARAMS or f.checks.get(p) is not PARAMS[p].check:  # a keyword of its own under that name
                continue
            if PARAMS[p].default is not None and (name, p) not in OWN_DEFAULT \
                    and param.default is not inspect.Parameter.empty:
                assert param.default == PARAMS[p].default, (name, p, param.default)


# ---- the API of the new methods: what the generated cases (tests/test_declared.py, from each keyword's declared
# Check) cannot express: values judged against others or the data, and keywords without a declared check ----
API = [
    ("power", dict(sweeps=["a", "b"], n=[25.7]), "n"),
    ("power", dict(sweeps=["a", "b"], sequential=5), "sequential"),
    ("compare", dict(sweeps=["a", "b"], protocol=5), "protocol"),
    ("compare", dict(sweeps=["a", "b"], protocol={"budgt": "2ep"}), "protocol"),
    ("compare", dict(sweeps=["a"]), "sweeps"),
    ("export_pycls", dict(folder=5), "folder"),
    ("budget_check", dict(sweeps=["a"], models=3, factors=b"x"), "factors"),
    ("budget_check", dict(sweeps=["a"], models=3, factors=[True]), "factors"),
]


@pytest.mark.parametrize("case", API, ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(API)])
def test_the_new_methods_name_the_parameter(pair_store, case):
    method, kw, param = case
    before = _digest(pair_store)
    with pytest.raises(ParamError) as e:
        getattr(dse.Study(pair_store), method)(**kw)
    assert param in e.value.params, str(e.value)
    assert _digest(pair_store) == before
