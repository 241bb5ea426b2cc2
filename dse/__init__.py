"""dse: network design-space exploration (RegNet / NDS method), as a library and a command-line tool.

    import dse
    study = dse.Study("dse.sqlite")     # one store of sweeps; see dse.study for everything it does

Names are imported on first use, so ``import dse`` stays light (no torch, no matplotlib).
"""

__version__ = "0.1.0"

_LAZY = {
    "Study": "dse.study", "SweepStatus": "dse.study", "TrainSummary": "dse.study",
    "DseError": "dse.errors", "ParamError": "dse.errors",
    "Arch": "dse.models", "complexity": "dse.models", "regnet_arch": "dse.models",
    "Regime": "dse.spaces", "Sampler": "dse.spaces", "Space": "dse.spaces", "load_space": "dse.spaces",
    "resolve_space": "dse.spaces", "builtin_names": "dse.spaces",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'dse' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
