"""Datasets as uint8 tensors (N, C, H, W) with int64 labels: Fashion-MNIST (IDX), CIFAR-10 (python
batches), image folders (train/ and val/ class folders) and synthetic data for benchmarks and tests."""

from __future__ import annotations

import gzip
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dse.errors import DseError, ParamError

from dse.validate import DATASETS  # noqa: E402,F401 (one list, re-exported)
# (image size, classes) of the datasets that fix them; synthetic data is 32 px (or --resolution), 10 classes
FIXED = {"fashion-mnist": (28, 10), "cifar10": (32, 10)}
FASHION_DIRS = ("/usr/share/datasets/fashion-mnist",)
FASHION_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                 "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".webp", ".tif", ".tiff"}


@dataclass
class Data:
    """Train and test images (uint8, N x C x H x W, numpy) and labels (int64)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    synthetic: bool = False

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])

    def mean_std(self) -> tuple[list[float], list[float]]:
        """Per-channel mean and std of the training images, in [0, 1] units."""
        x = self.x_train
        n = x.shape[0] * x.shape[2] * x.shape[3]
        s = x.sum(axis=(0, 2, 3), dtype=np.float64)
        s2 = np.einsum("nchw,nchw->c", x, x, dtype=np.float64) if x.size < 2**28 else \
            sum((x[i:i + 4096].astype(np.float64) ** 2).sum(axis=(0, 2, 3)) for i in range(0, len(x), 4096))
        mean = s / n
        std = np.sqrt(np.maximum(s2 / n - mean**2, 1e-12))
        return (mean / 255).tolist(), (std / 255).tolist()

    def subset(self, train_size: int | None, test_size: int | None, seed: int = 0) -> "Data":
        """A fixed, seeded random subset (the same for every model of a protocol)."""
        rng = np.random.default_rng(seed)
        xt, yt, xv, yv = self.x_train, self.y_train, self.x_test, self.y_test
        for size, what, n in ((train_size, "train_size", len(yt)), (test_size, "test_size", len(yv))):
            if size is not None and not 1 <= size <= n:
                raise ParamError(f"{{{what}}} {size} is out of range: the {self.name} set has {n} images there", what)
        if train_size:
            i = np.sort(rng.permutation(len(yt))[:train_size])
            xt, yt = xt[i], yt[i]
        if test_size:
            i = np.sort(rng.permutation(len(yv))[:test_size])
            xv, yv = xv[i], yv[i]
        return Data(self.name, xt, yt, x_test=xv, y_test=yv, num_classes=self.num_classes, synthetic=self.synthetic)


def load(name: str, data_dir=None, resolution: int | None = None, synthetic_shape=(3, 32, 32),
         synthetic_sizes=(10_000, 2_000)) -> Data:
    """Load a dataset by name (see DATASETS); synthetic data is generated at ``synthetic_sizes``."""
    if name == "fashion-mnist":
        return load_fashion_mnist(data_dir)
    if name == "cifar10":
        return load_cifar10(data_dir)
    if name == "imagefolder":
        return load_imagefolder(data_dir, resolution or 224)
    if name == "synthetic":
        c, h, w = synthetic_shape
        return synthetic((c, resolution or h, resolution or w), *synthetic_sizes)
    raise DseError(f"unknown dataset {name!r}; allowed: {', '.join(DATASETS)}")


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (optionally gzipped): magic 0x0000080N (unsigned bytes) then big-endian int32 dims."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise DseError(f"cannot read {path}: {e}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DseError(f"{path} is not an IDX file of unsigned bytes")
    nd = raw[3]
    dims = np.frombuffer(raw, dtype=">i4", count=nd, offset=4).tolist()
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * nd)
    if data.size != int(np.prod(dims)):
        raise DseError(f"{path}: expected {int(np.prod(dims))} values for shape {dims}, found {data.size}")
    return data.reshape(dims).copy()  # writable, owned (torch.from_numpy wants that)


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def load_fashion_mnist(data_dir=None) -> Data:
    """Fashion-MNIST IDX files from ``data_dir`` or the Debian package's folder."""
    dirs = [Path(data_dir)] if data_dir else [Path(d) for d in FASHION_DIRS]
    for d in dirs:
        files = {k: [_find(d, s) for s in v] for k, v in FASHION_FILES.items()}
        if all(p for v in files.values() for p in v):
            (xi, yi), (xv, yv) = ([read_idx(p) for p in files[k]] for k in ("train", "test"))
            for x, y, p in ((xi, yi, files["train"]), (xv, yv, files["test"])):
                if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
                    raise DseError(f"{p[0]} and {p[1]}: images {x.shape} and labels {y.shape} do not fit")
            return Data("fashion-mnist", xi[:, None], yi.astype(np.int64), x_test=xv[:, None],
                        y_test=yv.astype(np.int64), num_classes=10)
    names = ", ".join(s + "[.gz]" for v in FASHION_FILES.values() for s in v)
    raise DseError(f"Fashion-MNIST not found in {', '.join(map(str, dirs))} (looked for {names}). Install it "
                   f"with `apt-get install dataset-fashion-mnist` (Debian), or pass --data-dir FOLDER with those files")


def load_cifar10(data_dir=None) -> Data:
    """CIFAR-10, python version: data_batch_1..5 and test_batch in ``data_dir`` (or its cifar-10-batches-py)."""
    if not data_dir:
        raise DseError("cifar10 needs --data-dir: the folder of the python-version batches (cifar-10-batches-py, "
                       "with data_batch_1..5 and test_batch), downloaded from the CIFAR-10 page")
    d = Path(data_dir)
    if (d / "cifar-10-batches-py").is_dir():
        d = d / "cifar-10-batches-py"
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    missing = [n for n in names if not (d / n).is_file()]
    if missing:
        raise DseError(f"CIFAR-10 batches not found in {d}: missing {', '.join(missing)} (expected the python "
                       f"version, cifar-10-batches-py)")
    xs, ys = [], []
    for n in names:
        try:
            with open(d / n, "rb") as f:
                b = pickle.load(f, encoding="bytes")
            x = np.asarray(b[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
            y = np.asarray(b[b"labels"], dtype=np.int64)
        except Exception as e:  # noqa: BLE001 - any unpickling problem is a bad file for the user
            raise DseError(f"{d / n}: not a CIFAR-10 python batch ({type(e).__name__}: {e})") from None
        xs.append(x)
        ys.append(y)
    return Data("cifar10", np.concatenate(xs[:5]), np.concatenate(ys[:5]), x_test=xs[5], y_test=ys[5], num_classes=10)


def load_imagefolder(data_dir, resolution: int) -> Data:
    """train/ and val/ folders of class folders (ImageNet layout); each image resized (short side) and
    centre-cropped to ``resolution``, kept in memory as uint8."""
    if not data_dir:
        raise DseError("imagefolder needs --data-dir: a folder with train/ and val/, each holding one folder per class")
    root = Path(data_dir)
    for split in ("train", "val"):
        if not (root / split).is_dir():
            raise DseError(f"{root / split} not found: imagefolder needs {root}/train/CLASS/*.jpg and "
                           f"{root}/val/CLASS/*.jpg")
    classes = sorted(p.name for p in (root / "train").iterdir() if p.is_dir())
    if not classes:
        raise DseError(f"{root / 'train'} has no class folders")
    extra = sorted({p.name for p in (root / "val").iterdir() if p.is_dir()} - set(classes))
    if extra:
        raise DseError(f"{root / 'val'} has classes not in train/: {', '.join(extra[:5])}")
    out = []
    for split in ("train", "val"):
        files = [(p, i) for i, c in enumerate(classes) for p in sorted((root / split / c).iterdir())
                 if p.suffix.lower() in IMAGE_EXTS]
        if not files:
            raise DseError(f"{root / split} holds no images ({', '.join(sorted(IMAGE_EXTS))})")
        check_memory(len(files), (3, resolution, resolution), f"{data_dir} at --resolution {resolution}")
        x = np.empty((len(files), 3, resolution, resolution), dtype=np.uint8)
        for j, (p, _) in enumerate(files):
            x[j] = _read_image(p, resolution)
        out += [x, np.array([i for _, i in files], dtype=np.int64)]
    return Data("imagefolder", out[0], out[1], x_test=out[2], y_test=out[3], num_classes=len(classes))


def _read_image(path: Path, r: int) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            w, h = im.size
            s = r / min(w, h)
            im = im.resize((max(r, round(w * s)), max(r, round(h * s))), Image.BILINEAR)
            w, h = im.size
            left, top = (w - r) // 2, (h - r) // 2
            a = np.asarray(im.crop((left, top, left + r, top + r)), dtype=np.uint8)
    except (OSError, UnidentifiedImageError) as e:
        raise DseError(f"cannot read image {path}: {e}") from None
    return a.transpose(2, 0, 1)


def check_memory(n_images: int, shape, what: str) -> None:
    """Refuse to hold ``n_images`` uint8 images of ``shape`` when they would take more than half of this machine's
    memory (the training itself needs the rest)."""
    need = int(n_images) * int(np.prod(shape))
    try:
        have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not a POSIX system: no check
        return
    if need > have / 2:
        raise DseError(f"{what}: {n_images:,} images of {'x'.join(map(str, shape))} take {need / 2**30:,.1f} GiB, more "
                       f"than half of this machine's {have / 2**30:,.1f} GiB; use a smaller --train-size/--test-size "
                       f"or --resolution")


def synthetic(shape=(3, 32, 32), n_train: int = 2048, n_test: int = 512, num_classes: int = 10, seed: int = 0) -> Data:
    """Random images and labels (for benchmarks and tests only; nothing to learn)."""
    check_memory(n_train + n_test, shape, "synthetic data")
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n_train + n_test, *shape), dtype=np.uint8)
    y = rng.integers(0, num_classes, n_train + n_test).astype(np.int64)
    return Data("synthetic", x[:n_train], y[:n_train], x_test=x[n_train:], y_test=y[n_train:], num_classes=num_classes,
                synthetic=True)
