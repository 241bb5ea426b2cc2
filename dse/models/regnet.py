"""RegNet: (d, w0, wa, wm, b, g[, se]) -> per-stage Arch (quantized linear widths), vectorised."""

from __future__ import annotations

import numpy as np

from dse.models.arch import Arch, adjust_compatibility

Q = 8


def regnet_widths(d, w0, wa, wm, q=Q):
    """Per-block quantized widths ([N, max d] int64, 0 past each d) and k_j, as pycls generate_regnet.

    u_j = w0 + wa*j; k_j = round(log(u_j/w0)/log(wm)); w_j = round(w0*wm^k_j / q)*q.
    """
    d = np.atleast_1d(np.asarray(d, dtype=np.int64))
    w0, wa, wm = (np.atleast_1d(np.asarray(x, dtype=np.float64))[:, None] for x in (w0, wa, wm))
    j = np.arange(int(d.max()))[None, :]
    valid = j < d[:, None]
    ws_cont = j * wa + w0
    ks = np.round(np.log(ws_cont / w0) / np.log(wm))
    ws = np.round(w0 * np.power(wm, ks) / q).astype(np.int64) * q
    return np.where(valid, ws, 0), np.where(valid, ks, -1)


def regnet_arrays(d, w0, wa, wm, stages=4, q=Q):
    """Stage depths and widths ([N, stages]) and a validity mask.

    Valid: exactly ``stages`` distinct widths and no stage merged by the rounding to q
    (pycls: num_stages == max(k) + 1). Rows that are not valid hold zeros.
    """
    ws, ks = regnet_widths(d, w0, wa, wm, q)
    valid_blk = ws > 0
    change = np.zeros_like(ws, dtype=bool)
    change[:, 1:] = (ws[:, 1:] != ws[:, :-1]) & valid_blk[:, 1:]
    stage_idx = np.cumsum(change, axis=1)
    num_s = stage_idx.max(axis=1) + 1
    total_s = ks.max(axis=1) + 1
    ok = (num_s == total_s) & (num_s == stages)
    n = ws.shape[0]
    depths = np.zeros((n, stages), dtype=np.int64)
    widths = np.zeros((n, stages), dtype=np.int64)
    for s in range(stages):
        m = (stage_idx == s) & valid_blk
        depths[:, s] = m.sum(axis=1)
        widths[:, s] = np.where(m, ws, 0).max(axis=1)
    depths[~ok] = 0
    widths[~ok] = 0
    return depths, widths, ok


def regnet_arch(d, w0, wa, wm, b=1, g=8, se=False, q=Q, activation="relu") -> Arch:
    """The Arch a RegNet generates (any stage count, as pycls builds it), after the compatibility rule."""
    if not (wa >= 0 and w0 > 0 and wm > 1 and w0 % q == 0 and d >= 1):
        raise ValueError(f"RegNet needs d >= 1, w0 > 0 and a multiple of {q}, wa >= 0, wm > 1")
    ws, _ = regnet_widths(d, w0, wa, wm, q)
    ws = ws[0][: int(d)]
    widths, depths = np.unique(ws, return_counts=True)
    s = len(widths)
    w, gg = adjust_compatibility([widths], [[b] * s], [[g] * s])
    return Arch(tuple(depths), tuple(w[0]), (b,) * s, group_widths=tuple(gg[0]), se=se, activation=activation)


def regnet_stage_check(d, w0, wa, wm, q=Q) -> tuple[int, int]:
    """(number of distinct widths, max(k)+1): they differ when rounding to q merged two stages."""
    ws, ks = regnet_widths(d, w0, wa, wm, q)
    return len(np.unique(ws[0][: int(d)])), int(ks[0].max()) + 1
