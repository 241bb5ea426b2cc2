"""Figures (matplotlib, no display needed): EDFs, bootstrap panels, RegNet fits, search efficiency,
complexity views and training curves. Each function returns a Figure; ``save`` writes PNG or SVG."""

from __future__ import annotations

import math
from pathlib import Path

from dse.errors import DseError

EXTS = (".png", ".svg")


def check_path(path) -> Path:
    """Refuse a plot path with an unknown extension or a missing folder, before any work is done."""
    p = Path(path)
    if p.suffix.lower() not in EXTS:
        raise DseError(f"--plot {path}: unknown picture type {p.suffix or '(none)'!r}; use a .png or .svg file name")
    if not p.parent.exists():
        raise DseError(f"--plot {path}: folder {p.parent} does not exist")
    return p


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path) -> Path:
    p = check_path(path)
    fig.savefig(p, dpi=110, bbox_inches="tight")
    _plt().close(fig)
    return p


def edf_figure(curves: dict, xlabel: str = "error"):
    """curves: {name: (sorted errors, cumulative fraction, legend label)}."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for name, (e, f, label) in curves.items():
        ax.step([e[0]] + list(e), [0.0] + list(f), where="post", label=label, lw=1.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("cumulative fraction of models")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return fig


def bootstrap_figure(panels: list):
    """panels: dicts with sweep, param, x, errors, median, low, high, ci."""
    plt = _plt()
    n = len(panels)
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.0 * rows), squeeze=False)
    for ax, p in zip(axes.flat, panels):
        ax.scatter(p["x"], p["errors"], s=6, alpha=0.5, color="tab:blue", lw=0)
        ax.axvspan(p["low"], p["high"], color="tab:orange", alpha=0.25, lw=0, label=f"{p['ci']:g}% interval")
        ax.axvline(p["median"], color="tab:red", lw=1.5, label=f"median {p['median']:.4g}")
        ax.set_xlabel(p["param"])
        ax.set_ylabel("error")
        ax.set_title(p["sweep"], fontsize=9)
        if p["param"] in ("flops", "params", "acts", "wa", "w0") or p["param"][0] == "w":
            ax.set_xscale("log")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def fit_figure(models: list):
    """models: dicts with label, widths (per block) and fitted (per block)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, m in enumerate(models):
        c = plt.cm.viridis(i / max(1, len(models) - 1))
        ax.plot(range(len(m["widths"])), m["widths"], "o", ms=3, color=c)
        ax.plot(range(len(m["fitted"])), m["fitted"], "-", lw=1, color=c, label=m["label"], drawstyle="steps-mid")
    ax.set_yscale("log", base=2)
    ax.set_xlabel("block index j")
    ax.set_ylabel("width (log2): dots = model, lines = RegNet fit")
    ax.grid(alpha=0.3)
    if len(models) <= 10:
        ax.legend(fontsize=7)
    return fig


def search_figure(curves: dict):
    """curves: {name: [{'m', 'mean', 'std'}]} -> mean +/- 2 std of the best error against log2 m."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for name, rows in curves.items():
        m = [r["m"] for r in rows]
        mu = [r["mean"] for r in rows]
        sd = [r["std"] for r in rows]
        ax.plot(m, mu, "-o", ms=3, label=name)
        ax.fill_between(m, [a - 2 * s for a, s in zip(mu, sd)], [a + 2 * s for a, s in zip(mu, sd)], alpha=0.2)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("experiment size m (models)")
    ax.set_ylabel("best error of m random models")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def complexity_figure(pops: dict):
    """pops: {name: {'flops', 'params', 'acts', 'errors'}} -> error vs each, and acts vs flops."""
    plt = _plt()
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.6))
    for name, p in pops.items():
        for ax, k in zip(axes[:3], ("flops", "params", "acts")):
            ax.scatter(p[k], p["errors"], s=6, alpha=0.5, lw=0, label=name)
            ax.set_xlabel(k)
            ax.set_ylabel("error")
            ax.set_xscale("log")
        axes[3].scatter(p["flops"], p["acts"], s=6, alpha=0.5, lw=0, label=name)
    axes[3].set_xlabel("flops")
    axes[3].set_ylabel("acts")
    axes[3].set_xscale("log")
    axes[3].set_yscale("log")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def curves_figure(models: list):
    """models: dicts with label and rows (epoch, train_error, test_error)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, m in enumerate(models):
        ep = [r["epoch"] for r in m["rows"]]
        line, = ax.plot(ep, [r["test_error"] for r in m["rows"]], "-o", ms=3, label=f"{m['label']} test")
        ax.plot(ep, [r["train_error"] for r in m["rows"]], "--", color=line.get_color(), lw=1)
    ax.set_xlabel("epoch")
    ax.set_ylabel("error (%): solid test, dashed train")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return fig
