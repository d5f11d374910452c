"""JUnit XML: read the reports test runners write, count them, and merge several into one.

There is no single JUnit schema; pytest, jest-junit, Maven Surefire, Gradle, Go's go-junit-report
each write a dialect. What they share, and what this reads: a ``<testsuites>`` or a single
``<testsuite>`` root, suites possibly nested, ``<testcase classname name file line time>`` with a
``<failure>``, ``<error>`` or ``<skipped>`` child. Counts are taken from the test cases, not from
the suites' attributes, because the attributes are summaries some tools get wrong.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

STATUSES = ("passed", "failed", "error", "skipped")
MAX_DETAIL = 4000  # characters of failure text kept per test case: the start and, above all, the end
# "path/to/file.py:12: AssertionError" (pytest) or "(path/to/file.test.js:5:17)" (a JavaScript stack frame).
_PYTEST_LOCATION = re.compile(r"^([^\s:<>()]+\.\w+):(\d+): ", re.MULTILINE)
_FRAME_LOCATION = re.compile(r"\(?((?:[A-Za-z]:)?[^\s:<>()]+\.\w+):(\d+)(?::\d+)?\)?")
_LIBRARY_PATHS = ("node_modules", "site-packages", "dist-packages", "/usr/lib/", "internal/")


class JUnitError(ValueError):
    """Raised when a file is not a readable JUnit XML report."""


@dataclass(frozen=True)
class Case:
    """One test case and its outcome."""

    suite: str
    classname: str
    name: str
    status: str  # passed | failed | error | skipped
    message: str = ""
    text: str = ""
    file: str | None = None
    line: int | None = None
    time: float = 0.0

    @property
    def id(self) -> str:
        return f"{self.classname}.{self.name}" if self.classname else self.name

    @property
    def broken(self) -> bool:
        return self.status in ("failed", "error")

    def detail(self, limit: int = MAX_DETAIL) -> str:
        """The failure message and its traceback, cut in the middle when long (the end says what failed)."""
        parts = [self.message.strip()]
        text = self.text.strip()
        if text and text != parts[0]:
            parts.append(text)
        return truncate("\n".join(p for p in parts if p), limit)


@dataclass
class Counts:
    tests: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    time: float = 0.0

    @classmethod
    def of(cls, cases: list[Case]) -> "Counts":
        counts = cls()
        for case in cases:
            counts.count(case)
        return counts

    def count(self, case: Case) -> None:
        self.tests += 1
        self.time += case.time
        if case.status == "passed":
            self.passed += 1
        elif case.status == "failed":
            self.failed += 1
        elif case.status == "error":
            self.errors += 1
        else:
            self.skipped += 1

    def add(self, other: "Counts") -> "Counts":
        return Counts(self.tests + other.tests, self.passed + other.passed, self.failed + other.failed,
                      self.errors + other.errors, self.skipped + other.skipped, self.time + other.time)

    @property
    def broken(self) -> int:
        return self.failed + self.errors

    def as_dict(self) -> dict:
        return {"tests": self.tests, "passed": self.passed, "failed": self.failed, "errors": self.errors,
                "skipped": self.skipped, "time": round(self.time, 3)}


@dataclass
class Suite:
    """A `<testsuite>`; nested suites are flattened, their names joined with ` / `."""

    name: str
    cases: list[Case] = field(default_factory=list)

    @property
    def counts(self) -> Counts:
        return Counts.of(self.cases)


@dataclass
class Report:
    path: Path
    suites: list[Suite]

    @property
    def cases(self) -> list[Case]:
        return [case for suite in self.suites for case in suite.cases]

    @property
    def counts(self) -> Counts:
        return Counts.of(self.cases)


def parse_file(path: Path) -> Report:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise JUnitError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_bytes(data, path)


def parse_bytes(data: bytes, path: Path) -> Report:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        line, column = exc.position
        raise JUnitError(f"{path}:{line}:{column + 1}: not well-formed XML: {exc.msg}") from None
    tag = _tag(root)
    if tag == "testsuites":
        tops = [child for child in root if _tag(child) == "testsuite"]
    elif tag == "testsuite":
        tops = [root]
    else:
        raise JUnitError(f"{path}: not a JUnit report: the root element is <{tag}>, "
                         f"expected <testsuites> or <testsuite>")
    pytest_lines = _zero_based_lines(root)
    suites: list[Suite] = []
    for top in tops:
        _walk(top, "", suites, pytest_lines)
    return Report(path, suites)


def _walk(element: ET.Element, parent: str, out: list[Suite], zero_based: bool) -> None:
    name = element.get("name") or "(unnamed suite)"
    full = f"{parent} / {name}" if parent else name
    suite = Suite(full)
    out.append(suite)
    nested = False
    for child in element:
        tag = _tag(child)
        if tag == "testcase":
            suite.cases.append(_case(child, full, zero_based))
        elif tag == "testsuite":
            nested = True
            _walk(child, full, out, zero_based)
    claimed = _int(element.get("failures")) + _int(element.get("errors"))
    if not nested and claimed and not any(case.broken for case in suite.cases):
        # A suite-level failure (a crashed module, a failing beforeAll) that no test case carries.
        suite.cases.append(Case(full, "", full, "error",
                                message=f"the suite reports {claimed} failure(s)/error(s) outside its test cases",
                                text=_text(element, "system-err")))
    if nested and not suite.cases:
        out.remove(suite)


def _case(element: ET.Element, suite: str, zero_based: bool) -> Case:
    status, message, text = "passed", "", ""
    for child in element:
        tag = _tag(child)
        if tag in ("failure", "error"):
            # An error outranks a failure; the first of each kind carries the message.
            if status != "error":
                status = "failed" if tag == "failure" else "error"
                message = child.get("message") or ""
                text = child.text or ""
        elif tag == "skipped" and status == "passed":
            status, message = "skipped", child.get("message") or (child.text or "").strip()
    file = element.get("file") or None
    line = _int(element.get("line"), None)
    if line is not None and zero_based:
        line += 1
    if status in ("failed", "error"):
        # The traceback names the failing line itself; the attribute only where the test starts.
        found_file, found_line = _location_in(text, file, element.get("classname") or "")
        file, line = found_file, found_line if found_line is not None else line
    if not message and text.strip():
        message = text.strip().splitlines()[0]
    return Case(suite, element.get("classname") or "", element.get("name") or "(unnamed test)", status,
                message, text, file, line, _float(element.get("time")))


def _location_in(text: str, file: str | None, classname: str) -> tuple[str | None, int | None]:
    """Where a failure happened, from its traceback: pytest's last `path:line:` line, else the stack
    frame in the test's own file (its name in the class name, as in Java), else the first frame outside
    libraries."""
    hits = [(m.group(1), int(m.group(2))) for m in _PYTEST_LOCATION.finditer(text)]
    hits = [hit for hit in hits if not any(lib in hit[0] for lib in _LIBRARY_PATHS)]
    if not hits:
        frames = [(m.group(1), int(m.group(2))) for m in _FRAME_LOCATION.finditer(text)
                  if not any(lib in m.group(1) for lib in _LIBRARY_PATHS)]
        own = [frame for frame in frames if Path(frame[0]).stem and Path(frame[0]).stem in classname]
        hits = (own or frames)[:1]
    if file:
        own = [hit for hit in hits if hit[0].endswith(file) or file.endswith(hit[0])]
        return (file, own[-1][1]) if own else (file, None)
    return hits[-1] if hits else (None, None)


def _zero_based_lines(root: ET.Element) -> bool:
    """pytest writes 0-based `line` attributes (xunit1 family); everyone else counts from 1."""
    names = [root.get("name") or ""] + [s.get("name") or "" for s in root.iter() if _tag(s) == "testsuite"]
    return any(name.startswith("pytest") for name in names)


def merge(paths: list[Path], destination: Path) -> None:
    """Write one `<testsuites>` document holding the suites of every report (for the CI's test view)."""
    from bayat_deploy.fsutil import write_atomic

    merged = ET.Element("testsuites")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    elapsed = 0.0
    for path in paths:
        root = ET.fromstring(path.read_bytes())
        for suite in ([root] if _tag(root) == "testsuite" else [c for c in root if _tag(c) == "testsuite"]):
            merged.append(suite)
            for key in totals:
                totals[key] += _int(suite.get(key))
            elapsed += _float(suite.get("time"))
    for key, value in totals.items():
        merged.set(key, str(value))
    merged.set("time", f"{elapsed:.3f}")
    write_atomic(destination, '<?xml version="1.0" encoding="utf-8"?>\n'
                 + ET.tostring(merged, encoding="unicode") + "\n")


def truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = limit // 4
    tail = limit - head - 40
    cut = len(text) - head - tail
    return f"{text[:head]}\n... ({cut} characters cut) ...\n{text[-tail:]}"


def _tag(element: ET.Element) -> str:
    tag = element.tag if isinstance(element.tag, str) else ""
    return tag.rsplit("}", 1)[-1]


def _text(element: ET.Element, child_tag: str) -> str:
    for child in element:
        if _tag(child) == child_tag:
            return (child.text or "").strip()
    return ""


def _int(value: str | None, default: int | None = 0) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def _float(value: str | None) -> float:
    try:
        return float(str(value).replace(",", "").strip())
    except (TypeError, ValueError):
        return 0.0
