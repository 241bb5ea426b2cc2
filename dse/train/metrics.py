"""The low-level vision metric, as the SR literature computes it (BasicSR's ``calculate_psnr(..., crop_border=scale,
test_y_channel=True)``): both images quantised to 8 bits, the BT.601 luma of each (Y = 16 + (65.481 R + 128.553 G
+ 24.966 B) / 255 for R, G, B in [0, 1], on the 0-255 scale), ``shave`` pixels cut at every border, then
PSNR = 10 log10(255^2 / MSE). numpy only (no torch), float64 throughout.

    >>> import numpy as np
    >>> ref = np.full((3, 8, 8), 0.5); out = ref.copy(); out[:, 4, 4] += 10 / 255
    >>> round(float(psnr(out, ref, shave=0, y_channel=False)), 4)   # one pixel off by 10 of 255 in 64
    46.1926
"""

from __future__ import annotations

import numpy as np

Y_WEIGHTS = np.array([65.481, 128.553, 24.966])  # BT.601 luma of R, G, B in [0, 1], on the 0-255 scale
PEAK = 255.0


def quantize(img) -> np.ndarray:
    """An image in [0, 1] as the 8-bit image it would be saved as (rounded, clipped), on the 0-255 scale."""
    return np.clip(np.round(np.asarray(img, dtype=np.float64) * 255.0), 0, 255)


def rgb_to_y(img255) -> np.ndarray:
    """Y (BT.601, 16..235) of RGB images on the 0-255 scale, channels first: (..., 3, H, W) -> (..., H, W)."""
    x = np.asarray(img255, dtype=np.float64)
    return np.tensordot(np.moveaxis(x, -3, -1), Y_WEIGHTS, axes=([-1], [0])) / 255.0 + 16.0


def psnr(out, ref, shave: int = 0, y_channel: bool = True) -> np.ndarray | float:
    """PSNR in dB of ``out`` against ``ref`` (images in [0, 1], channels first: C x H x W, or N x C x H x W for one
    value per image), both quantised to 8 bits, on the Y channel of RGB images when ``y_channel`` (a grey image is
    its own), with ``shave`` pixels cut at each border (the SR scale). An exact match is inf."""
    a, b = quantize(out), quantize(ref)
    if a.shape != b.shape:
        raise ValueError(f"the images differ in shape: {a.shape} and {b.shape}")
    if y_channel and a.shape[-3] == 3:
        a, b = rgb_to_y(a)[..., None, :, :], rgb_to_y(b)[..., None, :, :]
    if shave:
        a, b = a[..., shave:-shave, shave:-shave], b[..., shave:-shave, shave:-shave]
    if a.shape[-1] < 1 or a.shape[-2] < 1:
        raise ValueError(f"shaving {shave} pixels leaves nothing of a {ref.shape[-2]}x{ref.shape[-1]} image")
    mse = ((a - b) ** 2).mean(axis=(-3, -2, -1))
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(PEAK ** 2 / mse)
