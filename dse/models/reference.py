"""Reference networks by name (one registry table): the 24 RegNets of the RegNet paper, ResNet/ResNeXt-50/101/152,
EfficientNet-B0..B5, and the CIFAR ResNet-56/110 and Vanilla-56 of NDS, with the image size and classes they
are counted at (pycls's configs: ``dse model NAME`` prints them; the tests compare every one with pycls's own
counting).

>>> ref = reference("resnet50")
>>> ref.resolution, ref.arch.block, ref.arch.stem
(224, 'res_bottleneck', 'resnet')
>>> from dse.models.complexity import complexity
>>> complexity(ref.arch, ref.resolution, num_classes=ref.num_classes)["flops"]
4089185256
"""

from __future__ import annotations

from dataclasses import dataclass

from dse.errors import DseError
from dse.models.arch import Arch
from dse.models.regnet import regnet_arch


@dataclass(frozen=True)
class Reference:
    """A named network and the input it is counted and timed at (``stem`` is in the Arch)."""

    name: str
    arch: Arch
    resolution: int = 224
    num_classes: int = 1000
    doc: str = ""
    regnet: dict | None = None  # (d, w0, wa, wm, b, g) of a RegNet

    @property
    def small(self) -> bool:
        """Counted at CIFAR size (32 px, 10 classes)."""
        return self.resolution <= 64


# RegNet paper (and pycls's configs): (d, w0, wa, wm, g); b = 1 throughout
_REGNETS = {
    "regnetx_200mf": (13, 24, 36.44, 2.49, 8), "regnetx_400mf": (22, 24, 24.48, 2.54, 16),
    "regnetx_600mf": (16, 48, 36.97, 2.24, 24), "regnetx_800mf": (16, 56, 35.73, 2.28, 16),
    "regnetx_1.6gf": (18, 80, 34.01, 2.25, 24), "regnetx_3.2gf": (25, 88, 26.31, 2.25, 48),
    "regnetx_4.0gf": (23, 96, 38.65, 2.43, 40), "regnetx_6.4gf": (17, 184, 60.83, 2.07, 56),
    "regnetx_8.0gf": (23, 80, 49.56, 2.88, 120), "regnetx_12gf": (19, 168, 73.36, 2.37, 112),
    "regnetx_16gf": (22, 216, 55.59, 2.1, 128), "regnetx_32gf": (23, 320, 69.86, 2.0, 168),
    "regnety_200mf": (13, 24, 36.44, 2.49, 8), "regnety_400mf": (16, 48, 27.89, 2.09, 8),
    "regnety_600mf": (15, 48, 32.54, 2.32, 16), "regnety_800mf": (14, 56, 38.84, 2.4, 16),
    "regnety_1.6gf": (27, 48, 20.71, 2.65, 24), "regnety_3.2gf": (21, 80, 42.63, 2.66, 24),
    "regnety_4.0gf": (22, 96, 31.41, 2.24, 64), "regnety_6.4gf": (25, 112, 33.22, 2.27, 72),
    "regnety_8.0gf": (17, 192, 76.82, 2.19, 56), "regnety_12gf": (19, 168, 73.36, 2.37, 112),
    "regnety_16gf": (18, 200, 106.23, 2.48, 112), "regnety_32gf": (20, 232, 115.89, 2.53, 232),
}

# ImageNet ResNe(X)t (pycls resnet.py): stem 7x7/2 + max pool, 64 wide; stage i has width 256 * 2^i and inner width
# w_b = groups * group width * 2^i (stride on the 3x3, as pycls's configs); ResNet: 1 group of 64; ResNeXt: 32 of 4
_RESNET_DEPTHS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}

# EfficientNet (pycls's EN configs): depths, widths, stem width, head width, image size; expansion ratios, kernels
# and strides are B0's at every size
_EFFNETS = {
    "effnet_b0": ((1, 2, 2, 3, 3, 4, 1), (16, 24, 40, 80, 112, 192, 320), 32, 1280, 224),
    "effnet_b1": ((2, 3, 3, 4, 4, 5, 2), (16, 24, 40, 80, 112, 192, 320), 32, 1280, 240),
    "effnet_b2": ((2, 3, 3, 4, 4, 5, 2), (16, 24, 48, 88, 120, 208, 352), 32, 1408, 260),
    "effnet_b3": ((2, 3, 3, 5, 5, 6, 2), (24, 32, 48, 96, 136, 232, 384), 40, 1536, 300),
    "effnet_b4": ((2, 4, 4, 6, 6, 8, 2), (24, 32, 56, 112, 160, 272, 448), 48, 1792, 380),
    "effnet_b5": ((3, 5, 5, 7, 7, 9, 3), (24, 40, 64, 128, 176, 304, 512), 48, 2048, 456),
}
_EN_E, _EN_K, _EN_S = (1, 6, 6, 6, 6, 6, 6), (3, 3, 5, 3, 5, 5, 3), (1, 2, 2, 2, 1, 2, 1)


def _resnet(depth: int, groups: int, gw: int) -> Arch:
    w = (256, 512, 1024, 2048)
    w_b = tuple(groups * gw * 2**i for i in range(4))
    return Arch(_RESNET_DEPTHS[depth], w, tuple(wi // wb for wi, wb in zip(w, w_b)),
                group_widths=tuple(x // groups for x in w_b), strides=(1, 2, 2, 2), stem="resnet", stem_w=64)


def _cifar(block: str, depth: int) -> Arch:
    d = (depth - 2) // 6
    return Arch((d, d, d), (16, 32, 64), block=block, strides=(1, 2, 2), stem="cifar", stem_w=16)


def _table() -> dict[str, Reference]:
    out = {}
    for name, (d, w0, wa, wm, g) in _REGNETS.items():
        se = name.startswith("regnety")
        out[name] = Reference(name, regnet_arch(d, w0, wa, wm=wm, b=1, g=g, se=se), doc=f"RegNet"
                              f"{name[6].upper()}-{name.split('_')[1].upper()} (RegNet paper)",
                              regnet={"d": d, "w0": w0, "wa": wa, "wm": wm, "b": 1, "g": g})
    for depth in _RESNET_DEPTHS:
        out[f"resnet{depth}"] = Reference(f"resnet{depth}", _resnet(depth, 1, 64), doc=f"ResNet-{depth}")
        out[f"resnext{depth}_32x4d"] = Reference(f"resnext{depth}_32x4d", _resnet(depth, 32, 4),
                                                 doc=f"ResNeXt-{depth} 32x4d")
    for name, (d, w, stem_w, head_w, res) in _EFFNETS.items():
        arch = Arch(d, w, block="mbconv", kernels=_EN_K, expansions=_EN_E, strides=_EN_S, stem="simple",
                    stem_w=stem_w, head_w=head_w, activation="swish")
        out[name] = Reference(name, arch, res, doc=f"EfficientNet-{name[-2:].upper()}")
    for name, block, depth in (("resnet56", "res_basic", 56), ("resnet110", "res_basic", 110),
                               ("vanilla56", "vanilla", 56)):
        out[name] = Reference(name, _cifar(block, depth), 32, 10, doc=f"CIFAR {name[:-len(str(depth))].title()}-"
                              f"{depth} (NDS)")
    return out


REFERENCES: dict[str, Reference] = _table()


def reference(name: str) -> Reference:
    """The reference network ``name`` (case-insensitive); unknown names are a DseError listing them all."""
    ref = REFERENCES.get(str(name).lower())
    if ref is None:
        raise DseError(f"unknown reference network {name!r}; known: {', '.join(REFERENCES)}")
    return ref
