"""dse report: one self-contained HTML file with every section; it renders in a real headless browser."""

import os
import shutil
import subprocess

import pytest

from conftest import cli, copy_study

SECTIONS = ["summary", "edf", "params", "complexity", "power", "curves", "widths", "refine"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Two small sweeps trained on synthetic data (so they have curves), built and trained once."""
    tmp_path = tmp_path_factory.mktemp("report")
    run = lambda *a: cli(tmp_path, *a)  # noqa: E731
    for space in ("regnetx", "anynet_e"):
        code, _, err = run("sample", "--space", space, "-n", "6", "--flops", "1M:6M", "--resolution", "16", "--stem",
                           "cifar", "--num-classes", "10")
        assert code == 0, err
    code, _, err = run("train", "--dataset", "synthetic", "--resolution", "16", "--train-size", "256",
                       "--test-size", "64", "--budget", "2ep", "--plain")
    assert code == 0, err
    return tmp_path


@pytest.fixture
def study(built, run, tmp_path):
    return copy_study(built, tmp_path)


@pytest.mark.slow
def test_report_has_every_section_and_no_external_links(run, study):
    code, out, err = run("report", "-o", "r.html")
    assert code == 0 and "wrote r.html" in out, err
    text = (study / "r.html").read_text()
    for s in SECTIONS:
        assert f'<section id="{s}">' in text, s
    assert text.count("<svg") >= 6  # EDF, normalised EDF, 2 parameter panels, complexity, curves, widths
    for bad in ("src=\"http", "href=\"http", "<script src", "<link "):
        assert bad not in text
    assert "regnetx" in text and "anynet_e" in text and "log10 size" in text
    code, _, err = run("report", "-o", "r.pdf")
    assert code == 2 and ".html" in err


@pytest.mark.slow
def test_report_renders_in_headless_chromium(run, study):
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        if os.environ.get("CI"):  # CI must render: .ci/run installs chromium
            pytest.fail("chromium is not installed: .ci/run should have installed Debian's chromium")
        pytest.skip("Debian chromium not installed (.ci/run installs it)")
    run("report", "-o", "r.html")
    shot = study / "shot.png"
    subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={study / 'chrome'}", "--window-size=1280,1800", f"--screenshot={shot}",
                    (study / "r.html").as_uri()], capture_output=True, timeout=120)
    from PIL import Image

    im = Image.open(shot).convert("L")
    colours = im.getcolors(maxcolors=1 << 16)
    assert im.size == (1280, 1800) and colours is not None and len(colours) > 20  # text and figures, not blank
    assert sum(c for c, v in colours if v < 128) > 2000  # plenty of dark pixels (text, lines)


@pytest.mark.slow
def test_a_new_section_is_one_function(run, study):
    """A section is one function registered with @section: it computes through the Study and returns HTML."""
    from dse.api import report as R

    @R.section("toy", "Models per sweep")
    def toy(c):
        return "".join(f"<p>{n}: {c.study.population(n).n} models with errors</p>" for n in c.trained)

    try:
        code, _, err = run("report", "-o", "r.html")
        assert code == 0, err
        text = (study / "r.html").read_text()
        assert '<section id="toy"><h2>Models per sweep</h2><p>regnetx: 6 models with errors</p>' in text
        assert text.index('id="refine"') < text.index('id="toy"')  # registered last, shown last
    finally:
        R.SECTIONS[:] = [x for x in R.SECTIONS if x.id != "toy"]
