"""One error hierarchy for the whole CLI, and the exit codes it maps to.

Exit codes (documented in the README and relied on by the pipelines):

* 0 - the command did what was asked (a stage passed).
* 1 - the stage ran and failed (a gate closed, a deploy was rolled back...).
* 2 - bad input: the policy, a flag or a file is wrong; nothing was changed.
"""

from __future__ import annotations

from typing import NamedTuple

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


class Diagnostic(NamedTuple):
    """One finding about an input file, printed as ``FILE:LINE:COL: level: path: message``."""

    file: str
    line: int
    column: int
    path: str
    message: str
    level: str = "error"

    def format(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.file}:{self.line}:{self.column}: {self.level}: {where}{self.message}"


class BayatError(Exception):
    """Raised for any failure the CLI reports without a traceback."""

    exit_code = EXIT_FAILED

    def lines(self) -> list[str]:
        return [f"error: {self}"]


class BadInput(BayatError):
    """Raised when a flag, a file or an argument is wrong; nothing has been changed."""

    exit_code = EXIT_BAD_INPUT


class PolicyError(BadInput):
    """Raised when the deployment policy does not parse or validate; carries every diagnostic."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = sorted(diagnostics, key=lambda d: (d.file, d.line, d.column, d.path))
        super().__init__(f"{len(self.errors)} error(s) in the deployment policy")

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.level == "error"]

    def lines(self) -> list[str]:
        return [d.format() for d in self.diagnostics] + [str(self)]


class StageFailed(BayatError):
    """Raised when a stage ran to completion and its verdict is "fail"."""

    exit_code = EXIT_FAILED


class ToolMissing(BayatError):
    """Raised when an external tool the stage needs is not installed or not usable."""

    exit_code = EXIT_FAILED
