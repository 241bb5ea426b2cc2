"""The layers hold, read from the code itself (AST, not grep): no module imports a layer above its own, SQL lives
only in dse/store, the CLI imports no numpy/scipy/pandas, and what commands without training need imports without
torch."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "dse"
# top to bottom; a module may import its own layer and those below it. report/ is the drawing layer: the result
# objects' .plot() and the HTML writer call it, and it computes nothing, so it sits below the analyses.
# serve (dse serve's server, views and page) is a room beside cli, above the Study it serves; study.py assembles
# the Study from api/'s mixins, so no module of api/ may import it (a floor of its own: no circle between them)
LAYERS = ["cli", "serve", "study", "api", "analysis", "report", "train", "spaces", "store", "models", "base"]
PLACE = {"cli": "cli", "__main__": "cli", "serve": "serve", "study": "study", "api": "api", "analysis": "analysis",
         "report": "report",
         "train": "train", "spaces": "spaces", "store": "store", "models": "models",
         "validate": "base", "params": "base", "errors": "base", "units": "base", "tasks": "base", "__init__": "base"}
SQL = re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+TABLE|"
                 r"ALTER\s+TABLE|DROP\s+TABLE|PRAGMA\s)", re.S)  # our SQL keywords are upper case
MODULES = sorted(p for p in ROOT.rglob("*.py"))


def _layer(name: str) -> str:
    """The layer of a dotted module name inside dse (``dse.api.training`` -> api)."""
    parts = name.split(".")
    return PLACE[parts[1] if len(parts) > 1 else "__init__"]


def _module(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    return ".".join(rel.parts)


def _imports(tree) -> list[tuple[str, int]]:
    """Every module imported anywhere in the file (top level or inside a function), with its line."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.module, node.lineno))
            out += [(f"{node.module}.{a.name}", node.lineno) for a in node.names if node.module == "dse"]
    return out


@pytest.mark.parametrize("path", MODULES, ids=[_module(p) for p in MODULES])
def test_no_module_imports_a_layer_above_its_own(path):
    me = _layer(_module(path))
    tree = ast.parse(path.read_text())
    bad = []
    for name, line in _imports(tree):
        if not name.startswith("dse.") or name.split(".")[1] not in PLACE:
            continue
        them = _layer(name)
        if LAYERS.index(them) < LAYERS.index(me):
            bad.append(f"line {line}: {me} imports {name} ({them})")
    assert not bad, f"{_module(path)}: " + "; ".join(bad)


@pytest.mark.parametrize("path", [p for p in MODULES if "store" not in p.parts],
                         ids=[_module(p) for p in MODULES if "store" not in p.parts])
def test_sql_lives_only_in_the_store(path):
    tree = ast.parse(path.read_text())
    bad = [f"line {n}: imports {name}" for name, n in _imports(tree) if name.split(".")[0] == "sqlite3"]
    bad += [f"line {node.lineno}: {node.value[:60]!r}" for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value)]
    assert not bad, f"{_module(path)}: " + "; ".join(bad)


@pytest.mark.parametrize("path", sorted((ROOT / "cli").glob("*.py")), ids=lambda p: p.name)
def test_the_cli_imports_no_numerics(path):
    tree = ast.parse(path.read_text())
    bad = [f"line {n}: {name}" for name, n in _imports(tree) if name.split(".")[0] in ("numpy", "scipy", "pandas")]
    assert not bad, f"{_module(path)} imports " + "; ".join(bad)


def test_the_rules_catch_what_they_should(tmp_path):
    """The checks themselves: an upward import, SQL in a string, and numpy in a CLI module are found."""
    up = ast.parse("def f():\n    from dse.api.training import RunOptions\n")
    assert [_layer(n) for n, _ in _imports(up)] == ["api"]
    assert LAYERS.index("api") < LAYERS.index(_layer("dse.store.db"))
    assert SQL.search("SELECT idx FROM models WHERE sweep = ?") and not SQL.search("select the best models from it")
    assert [n for n, _ in _imports(ast.parse("import numpy as np"))] == ["numpy"]


def test_commands_without_training_import_no_torch():
    """Protocol, parse_budget, the API facade, budget planning and the CLI load with torch blocked."""
    code = ("import sys; sys.modules['torch'] = None\n"
            "from dse.train.protocol import Protocol, parse_budget\n"
            "import dse.study, dse.api.training, dse.analysis.budget, dse.cli.main\n"
            "from dse.cli.main import cli\n"
            "p = Protocol(budget='2ep'); assert parse_budget(p.budget) == (2, 'ep')\n"
            "print('ok')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def _dse_imports(path) -> set:
    return {name for name, _ in _imports(ast.parse(path.read_text())) if name.startswith("dse.")}


def test_the_store_has_no_import_cycle():
    """Each module of dse/store imports the others one way (StoreDamaged lives in dse/errors.py)."""
    mods = {_module(p): p for p in (ROOT / "store").glob("*.py")}
    graph = {m: {i for i in _dse_imports(p) if i in mods and i != m} for m, p in mods.items()}

    def reach(a, seen):
        for b in graph[a]:
            if b not in seen:
                seen.add(b)
                reach(b, seen)
        return seen

    cycles = [m for m in graph if m in reach(m, set())]
    assert not cycles, cycles


def test_cli_modules_import_nothing_private_from_each_other():
    bad = []
    for p in sorted((ROOT / "cli").glob("*.py")):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dse.cli."):
                bad += [f"{p.name}: {node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
    assert not bad, bad
