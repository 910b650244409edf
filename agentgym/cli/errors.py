"""How the command line reports errors: one line on stderr and a non-zero exit code."""

from __future__ import annotations

import sys

#: Set to 1 to see the full traceback of an error instead of its one-line summary.
DEBUG_ENV_VAR = "AGENTGYM_DEBUG"


class CliConfigError(ValueError):
    """A bad option, override or config value: printed as one line, exit code 2."""


def fail(message: str, code: int) -> int:
    """Print ``error: message`` as one line on stderr and return ``code``."""
    text = " ".join(str(message).split()) or "unknown error"
    print(f"error: {text}", file=sys.stderr, flush=True)
    return code
