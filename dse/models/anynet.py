"""The AnyNet nn.Module (X and Y blocks), built from an Arch; pycls structure and init. Needs torch."""

from __future__ import annotations

import math

import torch
from torch import nn

from dse.models.complexity import SE_RATIO, block_cx, complexity, head_cx, se_cx, stage_cx, stem_cx
from dse.models.arch import STEM_WIDTH, Arch

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
    """3x3 conv, BN, activation: stride 2 ("simple", 224 px) or 1 ("cifar", small images)."""

    complexity = staticmethod(stem_cx)

    def __init__(self, w_in, w_out, stride, act="relu"):
        super().__init__(_conv(w_in, w_out, 3, stride), _bn(w_out), activation(act))


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


class Block(nn.Module):
    """X block (residual bottleneck, group conv); Y block when se: SE after the 3x3's BN/ReLU."""

    complexity = staticmethod(block_cx)

    def __init__(self, w_in, w_out, stride, b, g, se, act="relu"):
        super().__init__()
        w_b = int(round(w_out / b))
        w_se = int(round(w_in * SE_RATIO))
        layers = [_conv(w_in, w_b, 1), _bn(w_b), activation(act)]
        layers += [_conv(w_b, w_b, 3, stride, groups=w_b // g), _bn(w_b), activation(act)]
        if se and w_se:
            layers.append(SE(w_b, w_se, act))
        layers += [_conv(w_b, w_out, 1), _bn(w_out)]
        self.f = nn.Sequential(*layers)
        self.proj = None
        if w_in != w_out or stride != 1:
            self.proj = nn.Sequential(_conv(w_in, w_out, 1, stride), _bn(w_out))
        self.act = activation(act)

    def forward(self, x):
        s = x if self.proj is None else self.proj(x)
        return self.act(s + self.f(x))


class Stage(nn.Sequential):
    """d blocks of width w; the first has stride 2 and takes w_in."""

    complexity = staticmethod(stage_cx)

    def __init__(self, w_in, w, d, b, g, se, act="relu"):
        super().__init__(*[Block(w_in if i == 0 else w, w, 2 if i == 0 else 1, b=b, g=g, se=se,
                                 act=act) for i in range(d)])


class Head(nn.Module):
    """Global average pool, then one fully connected layer (with bias) to the classes."""

    complexity = staticmethod(head_cx)

    def __init__(self, w_in, num_classes):
        super().__init__()
        self.fc = nn.Linear(w_in, num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


class AnyNet(nn.Module):
    """Stem, stages, head. Widths are used as given: pass ``arch.compatible()`` for sampled archs."""

    complexity = staticmethod(complexity)

    def __init__(self, arch: Arch, stem="simple", in_channels=3, num_classes=1000):
        super().__init__()
        self.arch = arch
        act = arch.activation
        self.stem = Stem(in_channels, STEM_WIDTH, 2 if stem == "simple" else 1, act)
        w_in, stages = STEM_WIDTH, []
        for d, w, b, g in zip(arch.depths, arch.widths, arch.bottlenecks, arch.group_widths):
            stages.append(Stage(w_in, w, d, b=b, g=g, se=arch.se, act=act))
            w_in = w
        self.stages = nn.Sequential(*stages)
        self.head = Head(w_in, num_classes)
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
