"""Clean photographs for super-resolution and denoising: a folder of 8-bit RGB images (DIV2K's layout: one folder a
split), read as uint8 C x H x W arrays of their own sizes, each checked with a message naming the file.

Offline defaults (nothing downloaded at run time): Debian's ``mate-backgrounds`` (12 nature photographs in
/usr/share/backgrounds/mate/nature, 1280x1024 to 2560x1920; several are compressed or shallow-focus, so they are
downscaled x2 before serving as high resolution) for training, and scikit-image's bundled photographs (astronaut,
chelsea, coffee, ...) for validation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dse.errors import DseError
from dse.train.data import IMAGE_EXTS

MATE_NATURE = Path("/usr/share/backgrounds/mate/nature")
SKIMAGE_PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png", "motorcycle_right.png",
                  "rocket.jpg")
MIN_PHOTOS = 2


def _read(path: Path, downscale: int) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            mode, bits = im.mode, im.info.get("bits")
            if mode in ("I;16", "I;16B", "I;16L", "I") or (bits and bits > 8):
                raise DseError(f"{path}: a 16-bit image ({mode}); give 8-bit RGB photographs")
            if mode != "RGB":
                raise DseError(f"{path}: its mode is {mode} ({'grey' if mode in ('L', '1', 'P') else 'not RGB'}"
                               f"{', with transparency' if 'A' in mode else ''}); give 8-bit RGB photographs "
                               f"(convert them first, e.g. with PIL's Image.convert('RGB'))")
            if downscale > 1:
                im = im.reduce(downscale)  # a box filter over downscale x downscale: no aliasing
            x = np.asarray(im, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise DseError(f"{path}: not a readable image ({e})") from None
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def load_photos(folder, downscale: int = 1, min_side: int = 1, limit: int | None = None) -> list[np.ndarray]:
    """The photographs of ``folder`` (sorted by name; ``limit``: the first of them) as uint8 3 x H x W arrays,
    each reduced ``downscale`` times; a file that is not an 8-bit RGB image, one smaller than ``min_side`` pixels
    on a side after the reduction, or fewer than 2 photographs is a DseError naming what and where."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DseError(f"{folder}: no such folder of photographs")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS and p.is_file())[:limit]
    if len(files) < MIN_PHOTOS:
        raise DseError(f"{folder} holds {len(files)} photograph(s) ({', '.join(sorted(IMAGE_EXTS))}); at least "
                       f"{MIN_PHOTOS} are needed (one to train on, one to validate on)")
    out = []
    for p in files:
        x = _read(p, downscale)
        if min(x.shape[1:]) < min_side:
            raise DseError(f"{p}: {x.shape[2]}x{x.shape[1]} px" + (f" after reducing it {downscale}x"
                                                                    if downscale > 1 else "")
                           + f" is smaller than {min_side} px on a side (a training patch)")
        out.append(x)
    return out


def skimage_photos() -> list[np.ndarray]:
    """scikit-image's bundled RGB photographs (the validation set of the offline default); DseError without it."""
    try:
        import skimage
    except ImportError:
        raise DseError("scikit-image is not installed: pip install scikit-image (its bundled photographs are the "
                       "default validation images)") from None
    root = Path(skimage.__file__).parent / "data"
    return [_read(root / n, 1) for n in SKIMAGE_PHOTOS if (root / n).is_file()]
