"""Types for command-line flags: each turns a bad value into argparse's own error, which names the flag,
prints the usage and exits 2 (bad input) before anything runs."""

from __future__ import annotations

import argparse
import re

_GIT_REF = re.compile(r"(?![-/.])(?!.*\.\.)(?!.*//)[A-Za-z0-9._/+-]+(?<![/.])")


def git_ref(value: str) -> str:
    """A tag, branch or commit SHA, as it may appear in `uses: owner/repo@REF` and in a git URL."""
    if not _GIT_REF.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a git tag, branch or commit (letters, digits and . _ / + -, e.g. v1 or a 40-digit SHA)")
    return value
