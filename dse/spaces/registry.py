"""The built-in spaces (``spaces/*.toml``), found in a source checkout or an installed package."""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

from dse.errors import DseError
from dse.spaces.space import Space, load_space


def builtin_dir() -> Path:
    """The folder of built-in space files: the checkout's ``spaces/`` (editable install) or ``share/dse/spaces``."""
    here = Path(__file__).resolve()
    candidates = [here.parents[2] / "spaces"]
    # an installed package: PREFIX/share/dse/spaces, PREFIX found from the interpreter or from the
    # package's own location (PREFIX/lib/pythonX.Y/site-packages/dse/spaces/registry.py)
    bases = [sys.prefix, sysconfig.get_config_var("userbase") or "", sys.base_prefix]
    bases += [str(p) for p in here.parents[3:6]]
    for base in dict.fromkeys(b for b in bases if b):
        candidates.append(Path(base) / "share" / "dse" / "spaces")
    for c in candidates:
        if c.is_dir() and any(c.glob("*.toml")):
            return c
    raise DseError("built-in spaces not found (looked in " + ", ".join(map(str, candidates)) + "); reinstall dse")


def builtin_names() -> list[str]:
    """Names of the built-in spaces, sorted."""
    return sorted(p.stem for p in builtin_dir().glob("*.toml"))


def resolve_space(name_or_path: str) -> Space:
    """A built-in space by name, or a space file by path."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists() or "/" in name_or_path:
        if not p.exists():
            raise DseError(f"space file {name_or_path} not found")
        return load_space(p)
    f = builtin_dir() / f"{name_or_path}.toml"
    if not f.is_file():
        raise DseError(f"unknown space {name_or_path!r}; built-in spaces: {', '.join(builtin_names())} (or give a "
                       f"path to a .toml file)")
    return load_space(f)
