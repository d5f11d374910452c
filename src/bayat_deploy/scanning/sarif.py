"""SARIF 2.1.0 for code scanning (GitHub and others), holding exactly the findings that close the gate.

One run per tool (trivy, bandit...), with a rule per distinct finding id, a level from the
severity, and `security-severity` on each rule so GitHub ranks them the way the gate does.
"""

from __future__ import annotations

import json
from typing import Iterable

from bayat_deploy.scanning.findings import ScanFinding

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVELS = {"CRITICAL": "error", "HIGH": "error", "MEDIUM": "warning", "LOW": "note", "UNKNOWN": "note"}
# GitHub's code scanning buckets: >= 9.0 critical, >= 7.0 high, >= 4.0 medium, else low.
SECURITY_SEVERITY = {"CRITICAL": "9.5", "HIGH": "8.0", "MEDIUM": "5.5", "LOW": "2.0", "UNKNOWN": "0.0"}
TOOLS = {"trivy": "https://trivy.dev/", "bandit": "https://bandit.readthedocs.io/"}


def render(findings: Iterable[ScanFinding], versions: dict[str, str], dockerfiles: dict[str, str]) -> str:
    """The SARIF document for `findings` (already filtered to the gate). `dockerfiles` maps an image
    to the Dockerfile it was built from, so image findings point at a file in the repository."""
    by_tool: dict[str, list[ScanFinding]] = {}
    for finding in findings:
        by_tool.setdefault(finding.tool, []).append(finding)
    runs = [_run(tool, items, versions.get(tool, ""), dockerfiles) for tool, items in sorted(by_tool.items())]
    if not runs:  # an empty but valid log says "scanned, nothing at the gate", which is information too
        runs = [{"tool": {"driver": {"name": "bayat-deploy scan", "rules": []}}, "results": []}]
    return json.dumps({"$schema": SCHEMA, "version": "2.1.0", "runs": runs}, indent=2) + "\n"


def _run(tool: str, findings: list[ScanFinding], version: str, dockerfiles: dict[str, str]) -> dict:
    rules: dict[str, dict] = {}
    results = []
    for finding in findings:
        rule_id = f"{finding.category}/{finding.id}"
        if rule_id not in rules:
            rules[rule_id] = _rule(rule_id, finding)
        results.append(_result(finding, rule_id, list(rules).index(rule_id), dockerfiles))
    driver: dict = {"name": tool, "rules": list(rules.values())}
    if tool in TOOLS:
        driver["informationUri"] = TOOLS[tool]
    if version:
        driver["version"] = version
    return {"tool": {"driver": driver}, "results": results, "columnKind": "utf16CodeUnits",
            "originalUriBaseIds": {"SRCROOT": {"description": {"text": "The repository root."}}}}


def _rule(rule_id: str, finding: ScanFinding) -> dict:
    rule = {"id": rule_id, "name": finding.id,
            "shortDescription": {"text": finding.title[:1000]},
            "fullDescription": {"text": (finding.description or finding.title)[:4000]},
            "defaultConfiguration": {"level": LEVELS[finding.severity]},
            "properties": {"security-severity": SECURITY_SEVERITY[finding.severity],
                           "tags": ["security", finding.category, finding.severity]}}
    if finding.url:
        rule["helpUri"] = finding.url
    help_text = finding.resolution or finding.title
    rule["help"] = {"text": help_text, "markdown": f"**{finding.title}**\n\n{help_text}"}
    return rule


def _result(finding: ScanFinding, rule_id: str, index: int, dockerfiles: dict[str, str]) -> dict:
    result = {"ruleId": rule_id, "ruleIndex": index, "level": LEVELS[finding.severity],
              "message": {"text": _message(finding)},
              "properties": {"severity": finding.severity, "category": finding.category}}
    file = finding.file or (dockerfiles.get(finding.image) if finding.image else None)
    if file:
        location: dict = {"physicalLocation": {"artifactLocation": {"uri": file, "uriBaseId": "SRCROOT"}}}
        if finding.line and finding.file:
            region = {"startLine": int(finding.line)}
            if finding.end_line and int(finding.end_line) >= int(finding.line):
                region["endLine"] = int(finding.end_line)
            location["physicalLocation"]["region"] = region
        if finding.image:
            location["logicalLocations"] = [{"fullyQualifiedName": finding.image, "kind": "module"}]
        result["locations"] = [location]
    elif finding.image:
        result["locations"] = [{"logicalLocations": [{"fullyQualifiedName": finding.image, "kind": "module"}]}]
    if finding.package:
        result["properties"].update({"package": finding.package, "installedVersion": finding.installed_version,
                                     "fixedVersion": finding.fixed_version})
    return result


def _message(finding: ScanFinding) -> str:
    return f"[{finding.severity}] {finding.id}: {finding.title}. {finding.detail()}".strip()
