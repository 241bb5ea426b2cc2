"""What the figures and tables show, shaped from populations and store rows: shared by the commands
and the HTML report so both draw the same thing."""

from __future__ import annotations

import numpy as np


def complexity_data(pops: dict) -> dict:
    """{sweep: {'flops', 'params', 'acts', 'errors'}} arrays for the complexity figure."""
    return {n: {k: np.array([m[k] for m in p["models"]], float) for k in ("flops", "params", "acts")}
            | {"errors": p["errors"]} for n, p in pops.items()}


def curve_models(store, pop: dict, best: int, worst: int) -> list[dict]:
    """The best and worst models of a population (each once) with their per-epoch rows."""
    by = {}
    for r in store.epoch_rows([pop["sweep"]]):
        by.setdefault(r["id"], []).append(r)
    order = np.argsort(pop["errors"], kind="stable")
    pick = list(dict.fromkeys(list(order[:best]) + list(order[::-1][:worst])))
    ms = [{"label": f"{pop['sweep']}/{pop['ids'][i]} ({pop['errors'][i]:.1f}%)", "rows": by.get(int(pop["ids"][i]), [])}
          for i in pick]
    return [m for m in ms if m["rows"]]


def fit_model(label: str, arch, fit: dict) -> dict:
    """A model's per-block widths and the widths its fitted RegNet parameters generate."""
    from dse.models.regnet import regnet_widths

    bw = arch.block_widths()
    return {"label": label, "widths": bw,
            "fitted": regnet_widths(len(bw), fit["w0"], fit["wa"], fit["wm"])[0][0].tolist()}


def proposal_text(q: dict) -> str:
    """A refinement proposal's bounds: '[lo, hi]', '>= lo' or ''."""
    if q["low"] is None:
        return ""
    return f">= {q['low']}" if q["high"] is None else f"[{q['low']}, {q['high']}]"
