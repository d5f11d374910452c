"""GitLab security reports: dependency scanning (the repository) and container scanning (the images).

Written in GitLab's report format, schema version 15.2.4 (gitlab-org/security-products/
security-report-schemas), which the merge-request widget and the vulnerability report read. Like
the SARIF file they carry only findings that close the gate; secrets, misconfigurations and SAST
findings live in the evidence, SARIF and the job summary.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from typing import Iterable

from bayat_deploy.scanning.findings import ScanFinding

VERSION = "15.2.4"
SCHEMA_URL = ("https://gitlab.com/gitlab-org/security-products/security-report-schemas/-/raw/"
              f"v{VERSION}/dist/{{kind}}-report-format.json")
SEVERITIES = {"CRITICAL": "Critical", "HIGH": "High", "MEDIUM": "Medium", "LOW": "Low", "UNKNOWN": "Unknown"}
NAMESPACE = uuid.UUID("6f1c5b1e-2d0c-4d55-9a43-7a3d1f0b8e21")  # stable ids: the same finding keeps its id
IDENTIFIER_TYPES = (("CVE-", "cve"), ("GHSA-", "ghsa"), ("CWE-", "cwe"), ("USN-", "usn"), ("RHSA-", "rhsa"),
                    ("DSA-", "dsa"), ("DLA-", "dla"), ("ELSA-", "elsa"), ("ALAS", "alas"))


def dependency_report(findings: Iterable[ScanFinding], scanner_version: str, started: datetime,
                      finished: datetime, status: str = "success") -> str:
    vulnerabilities = [_dependency(finding) for finding in findings]
    return _document("dependency-scanning", "dependency_scanning", vulnerabilities, scanner_version,
                     started, finished, status)


def container_report(findings: Iterable[ScanFinding], scanner_version: str, started: datetime,
                     finished: datetime, status: str = "success") -> str:
    vulnerabilities = [_container(finding) for finding in findings]
    return _document("container-scanning", "container_scanning", vulnerabilities, scanner_version,
                     started, finished, status)


def _document(kind: str, scan_type: str, vulnerabilities: list[dict], version: str, started: datetime,
              finished: datetime, status: str) -> str:
    trivy = {"id": "trivy", "name": "Trivy", "version": version or "unknown", "vendor": {"name": "Aqua Security"},
             "url": "https://github.com/aquasecurity/trivy"}
    analyzer = {"id": "bayat-deploy", "name": "bayat-deploy scan", "version": _own_version(),
                "vendor": {"name": "Bayat"}}
    document = {
        "version": VERSION, "schema": SCHEMA_URL.format(kind=kind),
        "scan": {"analyzer": analyzer, "scanner": trivy, "type": scan_type, "status": status,
                 "start_time": _time(started), "end_time": _time(finished)},
        "vulnerabilities": vulnerabilities,
    }
    return json.dumps(document, indent=2) + "\n"


def _common(finding: ScanFinding, scope: str) -> dict:
    item = {
        "id": str(uuid.uuid5(NAMESPACE, "|".join([scope, finding.id, finding.package or "",
                                                     finding.installed_version or "", finding.file or ""]))),
        "name": finding.title[:255],
        "description": (finding.description or finding.title)[:1048576],
        "severity": SEVERITIES[finding.severity],
        "identifiers": [_identifier(finding)],
    }
    if finding.fixed_version:
        item["solution"] = f"Upgrade {finding.package} to {finding.fixed_version}."[:7000]
    links = [{"url": url} for url in dict.fromkeys([finding.url, *finding.references])
             if url and re.match(r"^(https?|ftp)://.+", url)]
    if links:
        item["links"] = links
    return item


def _dependency(finding: ScanFinding) -> dict:
    item = _common(finding, finding.file or "")
    item["location"] = {"file": finding.file or "unknown",
                        "dependency": {"package": {"name": finding.package or finding.id},
                                       "version": finding.installed_version or "unknown"}}
    return item


def _container(finding: ScanFinding) -> dict:
    item = _common(finding, finding.image or "")
    item["location"] = {"image": finding.image or "unknown",
                        "operating_system": finding.operating_system or "Unknown",
                        "dependency": {"package": {"name": finding.package or finding.id},
                                       "version": finding.installed_version or "unknown"}}
    return item


def _identifier(finding: ScanFinding) -> dict:
    kind = next((name for prefix, name in IDENTIFIER_TYPES if finding.id.upper().startswith(prefix)), "trivy")
    identifier = {"type": kind, "name": finding.id, "value": finding.id}
    if finding.url and re.match(r"^(https?|ftp)://.+", finding.url):
        identifier["url"] = finding.url
    return identifier


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")  # the schema's format: UTC, no zone, no fraction


def _own_version() -> str:
    from bayat_deploy import __version__

    return __version__ or "unknown"
