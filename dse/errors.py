"""The one exception type for user mistakes (bad input); the CLI prints it and exits with code 2."""


class DseError(Exception):
    """A user-facing error: the message says what is wrong, where, and what is allowed."""
