"""The severity gate: which findings hold a release back, which are ignored, and the counts that say so."""

from __future__ import annotations

from datetime import date
from typing import Iterable

from bayat_deploy.policy.types import SEVERITIES
from bayat_deploy.scanning.findings import ScanFinding, severity_rank
from bayat_deploy.scanning.ignores import IgnoreFile


def apply(findings: Iterable[ScanFinding], gate: str, ignores: IgnoreFile, today: date) -> None:
    """Mark each finding blocking (at or above the gate) and ignored (an entry in force matches it)."""
    threshold = severity_rank(gate)
    for finding in findings:
        finding.blocking = severity_rank(finding.severity) >= threshold
        entry = ignores.match(finding, today)
        if entry is None:
            continue
        if entry.expired(today):
            finding.ignore_note = (f"The ignore at {entry.where} expired on {entry.expires.isoformat()}, "
                                   f"so this finding counts again")
        else:
            finding.ignored = f"{entry.statement} (ignored until {entry.expires.isoformat()}, {entry.where})"


def in_reports(finding: ScanFinding) -> bool:
    """What SARIF and the GitLab reports carry: exactly what holds the gate closed.

    A report that lists more than the gate (trivy-action#309) makes code scanning or a merge-request
    policy block on findings the pipeline accepted, or trains people to ignore the report.
    """
    return finding.counts


def tally(findings: Iterable[ScanFinding]) -> dict[str, dict[str, int]]:
    """Counts per severity (highest first) and in total: all findings, blocking ones, ignored ones."""
    counts = {name: {"total": 0, "blocking": 0, "ignored": 0} for name in reversed(SEVERITIES)}
    counts["TOTAL"] = {"total": 0, "blocking": 0, "ignored": 0}
    for finding in findings:
        for key in (finding.severity, "TOTAL"):
            row = counts[key]
            row["total"] += 1
            row["blocking"] += 1 if finding.counts else 0
            row["ignored"] += 1 if finding.ignored else 0
    return counts
