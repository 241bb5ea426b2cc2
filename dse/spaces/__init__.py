"""Design spaces (TOML files) and sampling from them under a complexity regime."""

from dse.spaces.registry import builtin_names, builtin_dir, resolve_space
from dse.spaces.sampling import Regime, Sampler
from dse.spaces.space import Dist, Space, load_space, parse_space

__all__ = [
    "Dist",
    "Regime",
    "Sampler",
    "Space",
    "builtin_dir",
    "builtin_names",
    "load_space",
    "parse_space",
    "resolve_space",
]
