"""The README is a true front door: its runnable blocks and those of docs/*.md run as written (a block marked
```python run), every command and doc page is one click away, and every link into docs/ lands on a heading."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _runnable(page: Path) -> list[str]:
    return re.findall(r"```python run\n(.*?)```", page.read_text(), flags=re.S)


def _run(page: Path, tmp_path) -> subprocess.CompletedProcess:
    (tmp_path / "tests").symlink_to(ROOT / "tests")  # "from the repository root", without writing into it
    script = "\n".join(_runnable(page))
    return subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=600)


def test_the_readme_block_runs(tmp_path):
    p = _run(ROOT / "README.md", tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "397678568" in p.stdout and "regnetx" in p.stdout


@pytest.mark.slow
def test_the_api_page_runs(tmp_path):
    assert len(_runnable(ROOT / "docs" / "api.md")) >= 4
    p = _run(ROOT / "docs" / "api.md", tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "12 models trained" in p.stdout and "397678568" in p.stdout
    assert (tmp_path / "notebook.html").stat().st_size > 10_000
    from dse.spaces import load_space

    assert load_space(tmp_path / "anynet_a_refined.toml").family == "anynet"


def test_the_lowlevel_page_runs(tmp_path):
    p = _run(ROOT / "docs" / "lowlevel.md", tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "'params': 1369859" in p.stdout and "'flops': 114230476800" in p.stdout


def test_every_page_with_runnable_blocks_is_run_by_a_test():
    have = {p.name for p in PAGES if _runnable(p)}
    assert have == {"README.md", "api.md", "lowlevel.md"}, f"pages with ```python run blocks: {have}; give each " \
                                                           f"its own test"


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_readme_is_a_front_door():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 250
    for doc in sorted((ROOT / "docs").glob("*.md")):  # every doc page one click away
        assert f"](docs/{doc.name})" in text, doc.name
    import click

    from dse.cli.main import commands as group

    cli = group()
    commands = cli.list_commands(click.Context(cli))
    assert len(commands) >= 17
    for c in commands:  # every command in the table, linked into the reference
        assert re.search(rf"\[`dse {c}`\]\(docs/cli\.md#", text), c


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_links_into_docs_land_on_headings(page):
    text = page.read_text()
    base = page.parent
    for target, anchor in re.findall(r"\]\(((?:docs/)?[\w.-]*\.md)?(?:#([\w-]+))?\)", text):
        if not target and not anchor:
            continue
        path = (base / target) if target else page
        assert path.exists(), f"{page.name}: link to missing {target}"
        if anchor:
            slugs = {_slug(h) for h in re.findall(r"^#+ (.*)$", path.read_text(), flags=re.M)}
            assert anchor in slugs, f"{page.name}: #{anchor} is no heading of {path.name}"


def test_the_recipes_name_files_and_names_that_exist():
    """docs/architecture.md's recipes ("How to add ...") name the files they touch and the names in them: each file
    exists, and each `NAME` said to be in a file (`NAME` (`path`) or "in `path`") is defined there."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    recipes = text[text.index("### How to add a setting"):]
    files = set(re.findall(r"`((?:dse|tests|scripts|docs)/[\w/]+\.(?:py|md|js|html|css))`", recipes))
    assert len(files) >= 20
    assert [f for f in sorted(files) if not (ROOT / f).is_file()] == []
    for name, path in [("PLAN_SPACES", "dse/api/findings.py"), ("OPTIM_KEYS", "dse/store/pycls.py"),
                       ("job_config", "dse/store/pycls.py"), ("STEM_BY_PYCLS", "dse/store/pycls.py"),
                       ("pycls_stem", "dse/store/pycls.py"), ("STEM_TYPES", "dse/models/blocks.py"),
                       ("FINDINGS", "dse/analysis/findings.py"), ("ROUTES", "dse/serve/views.py"),
                       ("SECTIONS", "dse/api/report.py"), ("REGIME", "dse/params.py")]:
        assert f"`{name}`" in text and name in (ROOT / path).read_text(), (name, path)
