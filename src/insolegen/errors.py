"""The one exception type that means "the user's input is wrong".

The command line turns an :class:`InputError` into a single line on stderr and exit
status 2; anything else is an internal fault (exit 1).
"""


class InputError(ValueError):
    """Bad input: the message names the file or field, what is wrong and what would be right."""


def warn(message: str) -> None:
    """Print one warning line on stderr (past the usual clinical values, side mismatch, ...)."""
    import sys

    print(f"insolegen: warning: {message}", file=sys.stderr)
