"""The AnyNet nn.Module and the modules of the registered blocks, built from an Arch; pycls structure and init.
Needs torch."""

from __future__ import annotations

import math

import torch
from torch import nn

from dse.models.arch import Arch
from dse.models.blocks import (BLOCK_TYPES, STEM_TYPES, basic_cx, bottleneck_cx, mbconv_cx, plain_bn_cx, plain_cx,
                               res_basic_cx, res_bottleneck_cx, wide_res_bn_cx, wide_res_cx)
from dse.models.complexity import complexity, head_cx, stage_cx, stem_cx
from dse.models.layers import SE_RATIO, se_cx
from dse.params import REGIME_DEFAULTS as R

BN_EPS, BN_MOM = 1e-5, 0.1
_ACT = {"relu": nn.ReLU, "swish": nn.SiLU}  # pycls MODEL.ACTIVATION_FUN: relu, or silu/swish (App. B)


def activation(name: str = "relu") -> nn.Module:
    """The nonlinearity ``name`` (relu or swish = SiLU), in place; no parameters, no flops counted."""
    return _ACT[name](inplace=True)


def _conv(w_in, w_out, k, stride=1, groups=1, bias=False):
    return nn.Conv2d(w_in, w_out, k, stride=stride, padding=(k - 1) // 2, groups=groups, bias=bias)


def _bn(w):
    return nn.BatchNorm2d(w, eps=BN_EPS, momentum=BN_MOM)


class Stem(nn.Sequential):
    """k x k conv (stride), BN, activation, then a 3x3/2 max pool for the resnet stem (dse.models.blocks)."""

    complexity = staticmethod(stem_cx)

    def __init__(self, w_in, w_out, stem=R["stem"], act="relu"):
        st = STEM_TYPES[stem]
        layers = [_conv(w_in, w_out, st.k, st.stride), _bn(w_out), activation(act)]
        super().__init__(*layers, *([nn.MaxPool2d(3, stride=2, padding=1)] if st.pool else []))


class SE(nn.Module):
    """Squeeze-and-excitation: global pool, 1x1 conv (bias), activation, 1x1 conv (bias), sigmoid, scale."""

    complexity = staticmethod(se_cx)

    def __init__(self, w_b, w_se, act="relu"):
        super().__init__()
        self.f = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), _conv(w_b, w_se, 1, bias=True), activation(act),
            _conv(w_se, w_b, 1, bias=True), nn.Sigmoid(),
        )

    def forward(self, x):
        return x * self.f(x)


def _shortcut(w_in, w_out, stride):
    """The 1x1 projection (conv, BN) when the shape changes, else None (identity)."""
    if w_in != w_out or stride != 1:
        return nn.Sequential(_conv(w_in, w_out, 1, stride), _bn(w_out))
    return None


def _bottleneck(w_in, w_out, stride, p, act):
    """1x1, 3x3 group conv (+SE after its BN/activation), 1x1 + BN (no activation after it)."""
    w_b = int(round(w_out / p["b"]))
    w_se = int(round(w_in * SE_RATIO))
    layers = [_conv(w_in, w_b, 1), _bn(w_b), activation(act)]
    layers += [_conv(w_b, w_b, 3, stride, groups=w_b // p["g"]), _bn(w_b), activation(act)]
    if p.get("se") and w_se:
        layers.append(SE(w_b, w_se, act))
    return layers + [_conv(w_b, w_out, 1), _bn(w_out)]


def _basic(w_in, w_out, stride, act):
    """Two 3x3 convs with BN, an activation between them."""
    return [_conv(w_in, w_out, 3, stride), _bn(w_out), activation(act), _conv(w_out, w_out, 3), _bn(w_out)]


class _Residual(nn.Module):
    """act(shortcut(x) + f(x)); subclasses set ``f``."""

    def __init__(self, w_in, w_out, stride, layers, act):
        super().__init__()
        self.f = nn.Sequential(*layers)
        self.proj = _shortcut(w_in, w_out, stride)
        self.act = activation(act)

    def forward(self, x):
        s = x if self.proj is None else self.proj(x)
        return self.act(s + self.f(x))


class ResBottleneckBlock(_Residual):
    """X block (residual bottleneck, group conv); Y block when p["se"]: SE after the 3x3's BN/activation."""

    complexity = staticmethod(res_bottleneck_cx)

    def __init__(self, w_in, w_out, stride, p, act="relu"):
        super().__init__(w_in, w_out, stride, _bottleneck(w_in, w_out, stride, p, act), act)


class ResBasicBlock(_Residual):
    """x + two 3x3 convs, then the activation (ResNet-18/34, the CIFAR ResNets)."""

    complexity = staticmethod(res_basic_cx)

    def __init__(self, w_in, w_out, stride, p=None, act="relu"):
        super().__init__(w_in, w_out, stride, _basic(w_in, w_out, stride, act), act)


class VanillaBlock(nn.Sequential):
    """Two 3x3 convs, each with BN and the activation; no residual."""

    complexity = staticmethod(basic_cx)

    def __init__(self, w_in, w_out, stride, p=None, act="relu"):
        super().__init__(*_basic(w_in, w_out, stride, act), activation(act))


class ResBottleneckLinearBlock(nn.Module):
    """The bottleneck, plus x where the shape stays; no activation after the sum (linear)."""

    complexity = staticmethod(bottleneck_cx)

    def __init__(self, w_in, w_out, stride, p, act="relu"):
        super().__init__()
        self.f = nn.Sequential(*_bottleneck(w_in, w_out, stride, p, act))
        self.skip = w_in == w_out and stride == 1

    def forward(self, x):
        return x + self.f(x) if self.skip else self.f(x)


class MBConv(nn.Module):
    """EfficientNet's block: 1x1 expansion to int(w_in*e) (none when e keeps the width), k x k depthwise, SE of
    int(w_in/4), linear 1x1; BN after each conv; x added where the shape stays."""

    complexity = staticmethod(mbconv_cx)

    def __init__(self, w_in, w_out, stride, p, act="swish"):
        super().__init__()
        w_e, k = int(w_in * p["e"]), int(p["k"])
        layers = [_conv(w_in, w_e, 1), _bn(w_e), activation(act)] if w_e != w_in else []
        layers += [_conv(w_e, w_e, k, stride, groups=w_e), _bn(w_e), activation(act)]
        w_se = int(w_in * SE_RATIO)
        if w_se:
            layers.append(SE(w_e, w_se, act))
        self.f = nn.Sequential(*layers, _conv(w_e, w_out, 1), _bn(w_out))
        self.skip = w_in == w_out and stride == 1

    def forward(self, x):
        return x + self.f(x) if self.skip else self.f(x)


class WideResBlock(nn.Module):
    """x + f(x), no activation after the sum: f = conv 3x3 (w_in -> floor(w_out*e), stride), activation, conv 3x3
    (-> w_out), each with a bias (EDSR's block; WDSR's wide activation when e > 1); a 1x1 projection with a bias
    where the shape changes. ``bn``: BN after each conv instead of the biases."""

    complexity = staticmethod(wide_res_cx)
    bn = False

    def __init__(self, w_in, w_out, stride, p, act="relu"):
        super().__init__()
        w_e = int(w_out * float(p["e"]))  # floor, as the count
        se = [SE(w_e, round(w_in * SE_RATIO), act)] if p.get("se") and round(w_in * SE_RATIO) > 0 else []
        self.f = nn.Sequential(*self._conv(w_in, w_e, 3, stride), activation(act), *se,
                               *self._conv(w_e, w_out, 3, 1))
        self.proj = nn.Sequential(*self._conv(w_in, w_out, 1, stride)) if w_in != w_out or stride != 1 else None

    def _conv(self, w_in, w_out, k, stride):
        if self.bn:
            return [_conv(w_in, w_out, k, stride), _bn(w_out)]
        return [_conv(w_in, w_out, k, stride, bias=True)]

    def forward(self, x):
        return (x if self.proj is None else self.proj(x)) + self.f(x)


class WideResBNBlock(WideResBlock):
    """WideResBlock with BN after each conv (no biases)."""

    complexity = staticmethod(wide_res_bn_cx)
    bn = True


class PlainBlock(nn.Sequential):
    """conv 3x3 (w_in -> w_out, stride) with a bias, activation; no skip. ``bn``: BN after the conv, no bias."""

    complexity = staticmethod(plain_cx)
    bn = False

    def __init__(self, w_in, w_out, stride, p=None, act="relu"):
        conv = [_conv(w_in, w_out, 3, stride), _bn(w_out)] if self.bn else [_conv(w_in, w_out, 3, stride, bias=True)]
        super().__init__(*conv, activation(act))


class PlainBNBlock(PlainBlock):
    """PlainBlock with BN after the conv (no bias): DnCNN's middle layer."""

    complexity = staticmethod(plain_bn_cx)
    bn = True


class Stage(nn.Sequential):
    """d blocks of width w; the first has the stage's stride and takes w_in."""

    complexity = staticmethod(stage_cx)

    def __init__(self, w_in, w, d, p, stride=2, block="res_bottleneck", act="relu"):
        bt = BLOCK_TYPES[block]
        super().__init__(*[bt.build(w_in if i == 0 else w, w, stride if i == 0 else 1, p, act) for i in range(d)])


class Head(nn.Module):
    """A 1x1 conv + BN + activation to head_w when head_w (EfficientNet), global average pool, a fully connected
    layer (with bias) to the classes."""

    complexity = staticmethod(head_cx)

    def __init__(self, w_in, num_classes, head_w=0, act="relu"):
        super().__init__()
        self.conv = nn.Sequential(_conv(w_in, head_w, 1), _bn(head_w), activation(act)) if head_w else None
        self.fc = nn.Linear(head_w or w_in, num_classes)

    def forward(self, x):
        if self.conv is not None:
            x = self.conv(x)
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


class AnyNet(nn.Module):
    """Stem, stages, head of any registered block. Widths are used as given: pass ``arch.compatible()`` for sampled
    archs; ``stem`` is used when the Arch has none of its own."""

    complexity = staticmethod(complexity)

    def __init__(self, arch: Arch, stem=R["stem"], in_channels=R["in_channels"], num_classes=R["num_classes"]):
        super().__init__()
        self.arch = arch
        act = arch.activation
        self.stem = Stem(in_channels, arch.stem_w, arch.design.stem_of(stem), act)
        w_in, stages = arch.stem_w, []
        for i, (d, w) in enumerate(zip(arch.depths, arch.widths)):
            stages.append(Stage(w_in, w, d, arch.stage_params(i), stride=arch.strides[i], block=arch.block, act=act))
            w_in = w
        self.stages = nn.Sequential(*stages)
        self.head = Head(w_in, num_classes, arch.head_w, act)
        self.apply(init_weights)

    def forward(self, x):
        return self.head(self.stages(self.stem(x)))


def init_weights(m):
    """pycls init: conv N(0, sqrt(2/fan_out)), BN gamma 1 beta 0, FC N(0, 0.01) bias 0."""
    if isinstance(m, nn.Conv2d):
        fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
        m.weight.data.normal_(mean=0.0, std=math.sqrt(2.0 / fan_out))  # SE conv biases keep torch's default
    elif isinstance(m, nn.BatchNorm2d):
        m.weight.data.fill_(1.0)
        m.bias.data.zero_()
    elif isinstance(m, nn.Linear):
        m.weight.data.normal_(mean=0.0, std=0.01)
        m.bias.data.zero_()
