"""One error hierarchy for the whole CLI, and the exit codes it maps to.

Exit codes (documented in docs/commands.md and relied on by the pipelines):

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
    """One finding about an input file, printed as ``FILE:LINE:COL: level: path: message [rule]``.

    `rule` names the check that found it; docs/errors.md lists every rule with what it asks for."""

    file: str
    line: int
    column: int
    path: str
    message: str
    level: str = "error"
    rule: str = ""

    def format(self) -> str:
        where = f"{self.path}: " if self.path else ""
        rule = f" [{self.rule}]" if self.rule else ""
        return f"{self.file}:{self.line}:{self.column}: {self.level}: {where}{self.message}{rule}"


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


class ResourceError(BayatError):
    """The machine refused a write or a read: a full disk, a read-only file system, a permission."""

    exit_code = EXIT_FAILED

    @classmethod
    def of(cls, exc: OSError, doing: str = "") -> "ResourceError":
        return cls(describe_os_error(exc, doing))


_RESOURCE_PROBLEMS = {"ENOSPC": "the disk is full", "EDQUOT": "the disk quota is exhausted",
                      "EROFS": "the file system is read-only", "EACCES": "permission denied",
                      "EPERM": "operation not permitted", "EMFILE": "too many open files",
                      "ENOMEM": "out of memory"}


def describe_os_error(exc: OSError, doing: str = "") -> str:
    """"cannot write /srv/state.json: the disk is full (ENOSPC)": what failed, where and why, in words."""
    import errno as errnos

    code = errnos.errorcode.get(exc.errno or 0, "")
    why = _RESOURCE_PROBLEMS.get(code, exc.strerror or str(exc))
    where = exc.filename or ""
    what = f"{doing} {where}".strip() if doing or where else "a system call failed"
    return f"{what}: {why}{f' ({code})' if code else ''}"
