"""Fit the quantized linear (RegNet) form to any model's per-block widths.

e_fit(w0, wa, wm) = mean over the d blocks of |ln(w_hat_j / w_j)|, where w_j is the model's width at
block j and w_hat_j the width the RegNet generator gives for block j (quantized to 8, before the
compatibility rule). The objective is a step function of (wa, wm), so the search is a grid search:
w0 over multiples of 8 around the first block's width (w_hat_0 = w0 exactly), wa and wm over log-spaced
grids, plus seeds read off the stage widths (first width, geometric stage ratio, first transition);
then four rounds of local refinement around each of the 8 best points and the seeds. About 0.05 s
per model.
"""

from __future__ import annotations

import numpy as np

from dse.models.regnet import Q

_WA = np.exp(np.linspace(np.log(0.5), np.log(512), 56))
_WM = np.exp(np.linspace(np.log(np.log(1.05)), np.log(np.log(6.0)), 48))  # log(wm), log-spaced


def fit_error(block_widths, w0, wa, wm) -> float:
    """e_fit of the given parameters for a model with these per-block widths."""
    w = np.asarray(block_widths, dtype=np.float64)
    return float(_grid_err(w, np.array([w0], float), np.array([wa], float), np.array([np.log(wm)]))[0, 0, 0])


def _grid_err(w, w0s, was, lwms):
    """e_fit over the grid w0s x was x log(wm)s: array [len(w0s), len(was), len(lwms)]."""
    d = len(w)
    j = np.arange(d, dtype=np.float64)
    lw = np.log(w)
    out = np.empty((len(w0s), len(was), len(lwms)))
    for a, w0 in enumerate(w0s):
        s = np.log1p(np.outer(was, j) / w0)  # [B, d]: log(u_j / w0)
        ks = np.round(s[:, None, :] / lwms[None, :, None])  # [B, C, d]
        what = np.round(w0 * np.exp(ks * lwms[None, :, None]) / Q) * Q
        out[a] = np.abs(np.log(np.maximum(what, Q)) - lw).mean(axis=2)
    return out


def _seeds(w):
    """(w0, wa, log wm) guesses from the stage structure of the widths."""
    stages = [w[0]] + [b for a, b in zip(w[:-1], w[1:]) if b != a]
    starts = [0] + [i + 1 for i, (a, b) in enumerate(zip(w[:-1], w[1:])) if b != a]
    w0 = max(Q, round(w[0] / Q) * Q)
    out = []
    if len(stages) > 1 and stages[-1] > stages[0]:
        lwm = np.log(stages[-1] / stages[0]) / (len(stages) - 1)
        if lwm > 0:
            for t in starts[1:2]:
                wa = w0 * (np.exp(0.5 * lwm) - 1) / t
                out.append((w0, wa, lwm))
    return out


def fit_regnet(block_widths) -> dict:
    """Best (w0, wa, wm) and its e_fit for a model with per-block widths ``block_widths``."""
    w = np.asarray(block_widths, dtype=np.float64)
    w1 = w[0]
    w0s = np.arange(Q, max(2 * Q, 2 * w1) + 1, Q, dtype=np.float64)
    if len(w0s) > 24:
        w0s = w0s[np.argsort(np.abs(np.log(w0s / w1)))[:24]]
    err = _grid_err(w, w0s, _WA, _WM)
    flat = np.argsort(err, axis=None)[:8]
    starts = [(float(err[a, b, c]), w0s[a], _WA[b], _WM[c]) for a, b, c in zip(*np.unravel_index(flat, err.shape))]
    starts += [(fit_error(w, a, b, np.exp(c)), a, b, c) for a, b, c in _seeds(w)]
    best = min(starts, key=lambda t: t[0])
    for start in starts:
        cur, span_a, span_m = start, 0.4, 0.3
        for _ in range(4):
            k = round(cur[1] / Q)
            w0r = np.unique([Q * max(1, k + i) for i in (-2, -1, 0, 1, 2)]).astype(np.float64)
            war = cur[2] * np.exp(np.linspace(-span_a, span_a, 33))
            lwmr = cur[3] * np.exp(np.linspace(-span_m, span_m, 33))
            e = _grid_err(w, w0r, war, lwmr)
            a, b, c = np.unravel_index(np.argmin(e), e.shape)
            if e[a, b, c] <= cur[0]:
                cur = (float(e[a, b, c]), w0r[a], war[b], lwmr[c])
            span_a, span_m = span_a / 3, span_m / 3
        if cur[0] < best[0]:
            best = cur
    e, w0, wa, lwm = best
    return {"w0": int(w0), "wa": float(wa), "wm": float(np.exp(lwm)), "e_fit": float(e)}
