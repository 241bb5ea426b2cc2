"""The torch modules of the low-level vision networks counted in ``dse.models.lowlevel`` (one module per count,
mirroring it): ``Restorer`` (EDSR's skeleton with any registered block: the wide_res block is EDSR's with wide
activation), ``FSRCNN`` and
``DnCNN``. Inputs and outputs are images in [0, 1], N x C x H x W."""

from __future__ import annotations

from torch import nn
from torch.nn import functional as F

from dse.models.lowlevel import RestoreNet, upsampler_stages


def _conv(c_in, c_out, k, bias=True):
    return nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=bias)


class Restorer(nn.Module):
    """A Restoration (or a RestoreNet): head, stages of its registered block at stride 1 (a 1x1 transition where the
    width changes), body end with the long skip, pixel-shuffle upsampler, tail; plus the bicubic-upsampled input
    (SR) or the input (denoising) when ``image_residual``."""

    def __init__(self, net):
        super().__init__()
        net = net.general() if isinstance(net, RestoreNet) else net
        self.net = net
        a, c = net.arch, net.in_channels
        w = a.widths
        self.head = _conv(c, w[0], 3)
        body = []
        for i, (d, wi) in enumerate(zip(a.depths, w)):
            if i and wi != w[i - 1]:
                body.append(_conv(w[i - 1], wi, 1))
            body += [a.block_type.build(wi, wi, 1, a.stage_params(i), a.activation) for _ in range(d)]
        self.body = nn.Sequential(*body)
        self.body_end = _conv(w[-1], w[0], 3)
        up = []
        for r in upsampler_stages(net.scale):
            up += [_conv(w[0], w[0] * r * r, 3), nn.PixelShuffle(r)]
        self.up = nn.Sequential(*up)
        self.tail = _conv(w[0], c, 3)

    def forward(self, x):
        h = self.head(x)
        y = self.tail(self.up(self.body_end(self.body(h)) + h))
        if self.net.image_residual:
            base = x if self.net.scale == 1 else F.interpolate(x, size=y.shape[-2:], mode="bicubic",
                                                               align_corners=False)
            y = y + base
        return y


class FSRCNN(nn.Module):
    """FSRCNN(d, s, m) on one channel: feature extraction, shrinking, m mappings, expanding (each conv + PReLU),
    then a 9x9 transposed conv of stride ``scale``."""

    def __init__(self, scale: int, d: int = 56, s: int = 12, m: int = 4):
        super().__init__()
        layers = [nn.Conv2d(1, d, 5, padding=2), nn.PReLU(d), nn.Conv2d(d, s, 1), nn.PReLU(s)]
        for _ in range(m):
            layers += [nn.Conv2d(s, s, 3, padding=1), nn.PReLU(s)]
        layers += [nn.Conv2d(s, d, 1), nn.PReLU(d)]
        self.features = nn.Sequential(*layers)
        self.deconv = nn.ConvTranspose2d(d, 1, 9, stride=scale, padding=4, output_padding=scale - 1)

    def forward(self, x):
        return self.deconv(self.features(x))


class DnCNN(nn.Module):
    """DnCNN: conv + ReLU, (depth - 2) x (conv, BN, ReLU), conv; predicts the noise, returns the input minus it."""

    def __init__(self, depth: int = 17, w: int = 64, channels: int = 1):
        super().__init__()
        layers = [nn.Conv2d(channels, w, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(w, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(w, channels, 3, padding=1, bias=False))
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return x - self.body(x)


def build_restorer(arch, regime: dict) -> nn.Module:
    """The module of one network of a low-level sweep: its regime's fixed ``network`` (FSRCNN, DnCNN), else the
    Restorer of its body ``arch`` at the regime's scale and channels, the upscaled (or noisy) input added at the end."""
    from dse.models.lowlevel import Restoration

    if regime.get("network"):
        return build_reference(regime["network"])
    return Restorer(Restoration(arch, int(regime.get("scale") or 1), int(regime.get("in_channels", 3)),
                                image_residual=True))


def build_reference(name: str) -> nn.Module:
    """The torch module of a low-level reference network (``dse.models.lowlevel.LOWLEVEL_REFERENCES``)."""
    from dse.models.lowlevel import LOWLEVEL_REFERENCES

    ref = LOWLEVEL_REFERENCES[name]
    if ref.net is not None:
        return Restorer(ref.net)
    if name.startswith("fsrcnn"):
        return FSRCNN(ref.scale)
    return DnCNN()
