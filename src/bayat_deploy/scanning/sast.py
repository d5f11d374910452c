"""SAST: each language's own well-kept analyser, run where the repository has that language.

Covered today: Python, with bandit (severity HIGH/MEDIUM/LOW maps onto the scan's scale, so its
findings meet the same gate as trivy's). Test code and virtualenvs are not analysed: tests assert
with `assert` and spawn shells on purpose, and a virtualenv is other people's code (trivy covers
dependencies).

Another language plugs in as one more `Analyzer`: a name, the file suffixes it reads, an
`install_hint`, and `run(root, files, env)` returning `ScanFinding`s with category "sast"; add it
to `ANALYZERS`. For example gosec for Go (``gosec -fmt json ./...``) or Semgrep rules for
JavaScript would each be one small class. Its findings can be ignored in the ignore file's
`sast:` list by rule id.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

from bayat_deploy import tools
from bayat_deploy.errors import BayatError
from bayat_deploy.scanning.findings import ScanFinding, normalize_severity

SKIPPED_DIRS = {"tests", "test", "node_modules", "__pycache__", "site-packages", "build", "dist"}
BATCH = 200  # files per analyser invocation, to keep command lines short


class AnalyzerFailed(BayatError):
    """Raised when a SAST analyser could not analyse the code (as opposed to finding issues)."""


@dataclass(frozen=True)
class Analyzer:
    language: str
    tool: str
    suffixes: tuple[str, ...]
    install_hint: str
    run: Callable[[Path, Sequence[str], Mapping[str, str]], list[ScanFinding]]
    is_test: Callable[[str], bool] = lambda name: False


def source_files(root: Path, analyzer: Analyzer) -> list[str]:
    """The repository's own source files for the analyser, relative to the root, sorted."""
    found: list[str] = []
    for directory, subdirs, files in os.walk(root):
        here = Path(directory)
        subdirs[:] = sorted(d for d in subdirs if not _skipped(here / d, d))
        for name in sorted(files):
            if name.endswith(analyzer.suffixes) and not analyzer.is_test(name):
                found.append((here / name).relative_to(root).as_posix())
    return found


def _skipped(path: Path, name: str) -> bool:
    return name.startswith(".") or name in SKIPPED_DIRS or (path / "pyvenv.cfg").exists()


def _run_bandit(root: Path, files: Sequence[str], env: Mapping[str, str]) -> list[ScanFinding]:
    findings: list[ScanFinding] = []
    for start in range(0, len(files), BATCH):
        proc = tools.run(["bandit", "--format", "json", "--quiet", *files[start:start + BATCH]], cwd=root,
                         env=env, timeout=1800)
        try:
            report = json.loads(proc.stdout or "")
        except ValueError:
            detail = (proc.stderr or proc.stdout or "no output").strip().splitlines()[-1:]
            raise AnalyzerFailed(f"bandit failed (exit {proc.returncode}): {' '.join(detail)}") from None
        if proc.returncode not in (0, 1):  # 1 means "issues found"
            raise AnalyzerFailed(f"bandit failed (exit {proc.returncode})")
        errors = report.get("errors") or []
        if errors:  # a file bandit cannot parse is a file nobody analysed: say so rather than pass
            listed = "; ".join(f"{e.get('filename')}: {e.get('reason')}" for e in errors[:5])
            raise AnalyzerFailed(f"bandit could not analyse {len(errors)} file(s): {listed}")
        findings.extend(_bandit_finding(item) for item in report.get("results") or [])
    return findings


def _bandit_finding(item: dict) -> ScanFinding:
    cwe = (item.get("issue_cwe") or {}).get("id")
    return ScanFinding(
        id=item.get("test_id") or "bandit", severity=normalize_severity(item.get("issue_severity")),
        title=item.get("issue_text") or item.get("test_name") or "bandit finding", tool="bandit",
        category="sast", file=str(item.get("filename") or "").removeprefix("./") or None,
        line=item.get("line_number") or None,
        end_line=max(item.get("line_range") or [0]) or None,
        message=f"{item.get('test_name', '')} (confidence {str(item.get('issue_confidence', '')).lower()})",
        url=item.get("more_info") or None,
        extra={"cwe": f"CWE-{cwe}" if cwe else None, "confidence": item.get("issue_confidence")},
    )


def _python_test_file(name: str) -> bool:
    return name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py"


BANDIT = Analyzer(language="Python", tool="bandit", suffixes=(".py",),
                  install_hint="install it with `pip install bandit` (scripts/setup does)",
                  run=_run_bandit, is_test=_python_test_file)

ANALYZERS: tuple[Analyzer, ...] = (BANDIT,)
