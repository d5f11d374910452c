"""What people read: a table by severity, then the findings that block, then what was ignored and why."""

from __future__ import annotations

from typing import Iterable

from bayat_deploy.scanning.findings import ScanFinding, severity_rank

MAX_LISTED = 50  # the evidence has them all; a summary is for reading


def headline(findings: list[ScanFinding], gate: str, problems: list[str]) -> str:
    blocking = [f for f in findings if f.counts]
    ignored = sum(1 for f in findings if f.ignored)
    below = sum(1 for f in findings if not f.blocking and not f.ignored)
    if blocking:
        by_severity = ", ".join(f"{n} {s}" for s, n in _count_by_severity(blocking))
        text = f"{len(blocking)} blocking finding(s) at or above {gate} ({by_severity})"
    else:
        text = f"no findings at or above {gate}"
    extras = [f"{below} below the gate" if below else "", f"{ignored} ignored" if ignored else ""]
    text += "".join(f"; {extra}" for extra in extras if extra)
    if problems:
        text = f"{'; '.join(problems[:2])}{' ...' if len(problems) > 2 else ''}; {text}"
    return text


def markdown(findings: list[ScanFinding], counts: dict[str, dict[str, int]], gate: str,
             problems: list[str], notes: list[str], instructions: str = "") -> str:
    out = []
    for problem in problems:
        out.append(f"> **Error:** {problem}")
    if instructions:
        out += ["", "```text", instructions, "```"]
    if problems:
        out.append("")
    out += ["| Severity | Found | Blocking | Ignored |", "|---|---:|---:|---:|"]
    for severity, row in counts.items():
        name = f"**{severity}**" if severity == "TOTAL" else severity
        out.append(f"| {name} | {row['total']} | {row['blocking']} | {row['ignored']} |")
    blocking = _ordered(f for f in findings if f.counts)
    if blocking:
        out += ["", f"**Blocking findings** (at or above {gate}, not ignored)", "",
                "| Severity | Id | Where | What |", "|---|---|---|---|"]
        out += [f"| {f.severity} | `{f.id}` | `{f.where}` | {_cell(_what(f))} |" for f in blocking[:MAX_LISTED]]
        if len(blocking) > MAX_LISTED:
            out.append(f"\n... and {len(blocking) - MAX_LISTED} more in the evidence.")
    ignored = _ordered(f for f in findings if f.ignored)
    if ignored:
        out += ["", "**Ignored findings**", "", "| Severity | Id | Where | Reason |", "|---|---|---|---|"]
        out += [f"| {f.severity} | `{f.id}` | `{f.where}` | {_cell(f.ignored or '')} |" for f in ignored[:MAX_LISTED]]
    expired = [f for f in findings if f.ignore_note]
    if expired:
        out += ["", "**Expired ignores** (these findings count again)", ""]
        out += [f"- `{f.id}` at `{f.where}`: {f.ignore_note}" for f in expired[:MAX_LISTED]]
    if notes:
        out += [""] + [f"- {note}" for note in notes]
    return "\n".join(out)


def text(findings: list[ScanFinding], counts: dict[str, dict[str, int]], gate: str, problems: list[str],
         notes: list[str]) -> str:
    """The terminal version: the same facts, aligned for a fixed-width font."""
    out = [f"error: {problem}" for problem in problems]
    out.append(f"{'severity':<10} {'found':>6} {'blocking':>9} {'ignored':>8}")
    for severity, row in counts.items():
        out.append(f"{severity:<10} {row['total']:>6} {row['blocking']:>9} {row['ignored']:>8}")
    blocking = _ordered(f for f in findings if f.counts)
    if blocking:
        out += ["", f"blocking findings (at or above {gate}, not ignored):"]
        out += [f"  {f.severity:<8} {f.id:<16} {f.where}: {_what(f)}" for f in blocking[:MAX_LISTED]]
        if len(blocking) > MAX_LISTED:
            out.append(f"  ... and {len(blocking) - MAX_LISTED} more in the evidence")
    ignored = _ordered(f for f in findings if f.ignored)
    if ignored:
        out += ["", "ignored findings:"]
        out += [f"  {f.severity:<8} {f.id:<16} {f.where}: {f.ignored}" for f in ignored[:MAX_LISTED]]
    expired = [f for f in findings if f.ignore_note]
    if expired:
        out += ["", "expired ignores (these findings count again):"]
        out += [f"  {f.id} at {f.where}: {f.ignore_note}" for f in expired[:MAX_LISTED]]
    out += [f"note: {note}" for note in notes]
    return "\n".join(out)


def _what(finding: ScanFinding) -> str:
    if finding.category == "vulnerability" and finding.package:
        fixed = f" (fixed in {finding.fixed_version})" if finding.fixed_version else " (no fix yet)"
        return f"{finding.package} {finding.installed_version or ''}{fixed}: {finding.title}"
    what = finding.title
    if finding.message and finding.message != finding.title:
        what += f" - {finding.message}"
    if finding.context:
        what += f" ({finding.context})"
    return what


def _ordered(findings: Iterable[ScanFinding]) -> list[ScanFinding]:
    return sorted(findings, key=lambda f: (-severity_rank(f.severity), f.where, f.id))


def _count_by_severity(findings: list[ScanFinding]) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for finding in _ordered(findings):
        counts[finding.severity] = counts.get(finding.severity, 0) + 1
    return list(counts.items())


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")[:300]
