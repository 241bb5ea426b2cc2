"""The exception types for user mistakes (bad input); the CLI prints them and exits with code 2."""

from __future__ import annotations


class DseError(Exception):
    """A user-facing error: the message says what is wrong, where, and what is allowed."""


class StoreDamaged(DseError):
    """The store opens but part of it cannot be read (a dropped table, a corrupt row, a malformed page)."""


class ParamError(DseError):
    """A bad argument of a library function, named as the function names it (``bins must be >= 1``).

    ``template`` may name parameters as ``{bins}``; ``str(e)`` fills in the plain names, and the CLI
    fills in its own flags with ``e.render({"bins": "--bins"})``. ``param`` is the first one named.

    >>> str(ParamError("{bins} must be at least 1, got 0", "bins"))
    'bins must be at least 1, got 0'
    """

    def __init__(self, template: str, *params: str):
        self.template, self.params = template, params
        self.param = params[0] if params else None
        super().__init__(self.render({}))

    def render(self, names: dict) -> str:
        """The message with each named parameter written as ``names[p]`` (default: p itself)."""
        out = self.template
        for p in self.params:  # plain replacement: other braces in the text (a sweep's name) stay as they are
            out = out.replace("{" + p + "}", names.get(p, p))
        return out


def write_error(path, e: OSError) -> "DseError":
    """The user-facing error of a failed write (disk full, folder removed meanwhile)."""
    return DseError(f"cannot write {path}: {e.strerror or e}")
