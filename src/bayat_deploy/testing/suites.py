"""Running one configured test suite and reading back the JUnit reports it wrote.

A suite passes only when its command exits 0 *and* fresh JUnit reports were found *and* they hold
no failure or error. A report left over from an earlier run is not evidence of this one, so only
files the command created or rewrote count.
"""

from __future__ import annotations

import glob
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from bayat_deploy import tools
from bayat_deploy.errors import BadInput, BayatError
from bayat_deploy.policy.model.stages import TestSuite
from bayat_deploy.testing.junit import Case, Counts, JUnitError, merge, parse_file

KINDS = ("unit", "integration", "e2e")


@dataclass
class SuiteResult:
    kind: str
    command: str
    working_directory: str
    junit: str | None
    exit_code: int | None = None
    timed_out: bool = False
    duration: float = 0.0
    reports: list[Path] = field(default_factory=list)
    stale: list[Path] = field(default_factory=list)
    cases: list[Case] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (finding id suffix, message)
    merged_report: Path | None = None

    @property
    def counts(self) -> Counts:
        return Counts.of(self.cases)

    @property
    def passed(self) -> bool:
        return not self.problems and self.counts.broken == 0

    def as_dict(self, root: Path) -> dict:
        return {
            "command": self.command, "working_directory": self.working_directory, "junit": self.junit,
            "status": "pass" if self.passed else "fail", "exit_code": self.exit_code, "timed_out": self.timed_out,
            "duration_seconds": round(self.duration, 3), **self.counts.as_dict(),
            "reports": [_relative(p, root) for p in self.reports],
            "merged_report": _relative(self.merged_report, root) if self.merged_report else None,
            "problems": [message for _, message in self.problems],
        }


def working_directory(root: Path, suite: TestSuite, kind: str) -> Path:
    """The suite's directory inside the repository, or a BadInput naming the policy field."""
    path = (root / suite.working_directory).resolve()
    if not path.is_relative_to(root.resolve()):
        raise BadInput(f"tests.{kind}.working_directory: {suite.working_directory!r} leaves the repository")
    if not path.is_dir():
        raise BadInput(f"tests.{kind}.working_directory: {suite.working_directory!r} is not a directory "
                       f"in {root}")
    return path


def run_suite(kind: str, suite: TestSuite, root: Path, env: Mapping[str, str], reports_dir: Path) -> SuiteResult:
    cwd = working_directory(root, suite, kind)
    result = SuiteResult(kind, suite.run, suite.working_directory, suite.junit)
    before = _matches(cwd, suite.junit)
    # Our copy from an earlier run must not pass for this run's report.
    (reports_dir / "junit" / f"{kind}.xml").unlink(missing_ok=True)
    started = time.monotonic()
    try:
        proc = tools.shell(suite.run, cwd=cwd, env=env, timeout=suite.timeout.seconds)
        result.exit_code = proc.returncode
    except BayatError:
        result.timed_out = True
        result.problems.append(("timeout", f"{kind} tests did not finish within {suite.timeout} "
                                           f"(tests.{kind}.timeout) and were stopped"))
    result.duration = time.monotonic() - started
    if suite.junit is not None:
        _collect(result, cwd, root, suite.junit, before, reports_dir)
    if result.exit_code not in (None, 0) and result.counts.broken == 0:
        # With failing tests in the report the exit status says nothing new; without, it is the only clue.
        result.problems.append(("exit-code", f"the {kind} test command exited with status {result.exit_code}"
                                + (" although its report shows no failing test" if result.cases else "")))
    return result


def _collect(result: SuiteResult, cwd: Path, root: Path, pattern: str, before: dict[Path, int],
             reports_dir: Path) -> None:
    kind = result.kind
    after = _matches(cwd, pattern)
    result.reports = sorted(path for path, stamp in after.items() if before.get(path) != stamp)
    result.stale = sorted(path for path in after if path not in result.reports)
    if not result.reports:
        where = _relative(cwd / pattern, root)
        stale = f" ({len(result.stale)} older report(s) there were not written by this run)" if result.stale else ""
        result.problems.append(("no-report", f"no JUnit report at {where}{stale}: the {kind} test command must "
                                             f"write one (e.g. pytest --junitxml=..., jest-junit)"))
        return
    readable = []
    for path in result.reports:
        try:
            report = parse_file(path)
        except JUnitError as exc:
            result.problems.append(("unreadable-report", str(exc)))
            continue
        readable.append(path)
        result.cases.extend(report.cases)
    if readable:
        result.merged_report = reports_dir / "junit" / f"{kind}.xml"
        merge(readable, result.merged_report)
        if not result.cases:
            result.problems.append(("no-tests", f"the {kind} JUnit report(s) hold no test case: the command "
                                                f"ran no test"))


def case_location(case: Case, cwd: Path, root: Path) -> tuple[str | None, int | None]:
    """The failing test's file relative to the repository, when it is a file there (for annotations)."""
    if not case.file:
        return None, None
    path = Path(case.file)
    path = (path if path.is_absolute() else cwd / path).resolve()
    if path.is_file() and path.is_relative_to(root.resolve()):
        return path.relative_to(root.resolve()).as_posix(), case.line
    return None, None


def _matches(cwd: Path, pattern: str | None) -> dict[Path, int]:
    if not pattern:
        return {}
    found = {}
    for name in glob.glob(pattern, root_dir=cwd, recursive=True):
        path = cwd / name
        if path.is_file():
            found[path] = path.stat().st_mtime_ns
    return found


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)
