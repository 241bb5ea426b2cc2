"""Networks and their complexity: the Arch type, the analytic counts, the RegNet generator and the
PyTorch AnyNet (imported lazily: ``from dse.models.anynet import AnyNet`` needs torch)."""

from dse.validate import ACTIVATIONS
from dse.models.arch import STAGE_FIELDS, Arch, adjust_compatibility, stem_for
from dse.models.complexity import complexity, complexity_arrays, complexity_many
from dse.models.regnet import regnet_arch, regnet_arrays, regnet_widths

__all__ = [
    "ACTIVATIONS",
    "STAGE_FIELDS",
    "Arch",
    "adjust_compatibility",
    "complexity",
    "complexity_arrays",
    "complexity_many",
    "regnet_arch",
    "regnet_arrays",
    "regnet_widths",
    "stem_for",
]
