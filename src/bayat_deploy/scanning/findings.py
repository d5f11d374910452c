"""What a scanner found, in one shape for every tool, before it becomes evidence and reports.

Trivy and the SAST analysers know more about a finding than the evidence envelope keeps (the
package and its versions, the image, the resolution); the SARIF and GitLab writers need that, so
the scan works on `ScanFinding` and turns it into an evidence `Finding` only at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bayat_deploy.policy.types import SEVERITIES

CATEGORIES = ("vulnerability", "secret", "misconfiguration", "license", "sast")


def normalize_severity(value: Any) -> str:
    """Trivy's scale; anything unrecognised is UNKNOWN rather than silently LOW."""
    name = str(value or "").strip().upper()
    return name if name in SEVERITIES else "UNKNOWN"


def severity_rank(name: str) -> int:
    return SEVERITIES.index(normalize_severity(name))


@dataclass
class ScanFinding:
    id: str  # CVE / rule id / check id / bandit test id
    severity: str
    title: str
    tool: str
    category: str
    file: str | None = None  # relative to the repository
    line: int | None = None
    end_line: int | None = None
    message: str = ""  # what is wrong at this place (a misconfiguration's message, a secret's redacted match)
    description: str = ""
    resolution: str = ""
    url: str | None = None
    references: tuple[str, ...] = ()
    package: str | None = None
    installed_version: str | None = None
    fixed_version: str | None = None
    purl: str | None = None
    image: str | None = None  # set for findings inside a container image
    operating_system: str | None = None
    package_path: str | None = None  # where the package lives inside the image
    context: str = ""  # e.g. "rendered with production's values"
    extra: dict[str, Any] = field(default_factory=dict)
    # decided by the gate
    blocking: bool = False
    ignored: str | None = None  # the ignore entry's reason, when one applies
    ignore_note: str = ""  # e.g. that a matching ignore expired

    @property
    def where(self) -> str:
        """file:line, or the image and package, for people reading the summary."""
        if self.image:
            inside = f" ({self.package_path})" if self.package_path else ""
            return f"image {self.image}{inside}"
        if not self.file:
            return "-"
        return f"{self.file}:{self.line}" if self.line else self.file

    @property
    def subject(self) -> str:
        """The package and version a vulnerability is in, or the rule title."""
        if self.package:
            return f"{self.package} {self.installed_version or ''}".strip()
        return self.title

    def detail(self) -> str:
        """The one-paragraph explanation evidence readers and annotations get."""
        parts: list[str] = []
        if self.category == "vulnerability" and self.package:
            fixed = f", fixed in {self.fixed_version}" if self.fixed_version else ", no fixed version yet"
            parts.append(f"{self.package} {self.installed_version or '?'} installed{fixed}")
        if self.message and self.message != self.title:
            parts.append(self.message)
        if self.resolution:
            parts.append(f"Resolution: {self.resolution}")
        if self.context:
            parts.append(self.context)
        if self.image:
            parts.append(f"in image {self.image}" + (f" at {self.package_path}" if self.package_path else ""))
        if self.url:
            parts.append(self.url)
        if self.ignore_note:
            parts.append(self.ignore_note)
        return ". ".join(part.rstrip(".") for part in parts if part) + ("." if parts else "")

    def evidence(self) -> dict[str, Any]:
        """Keyword arguments for `StageRun.finding`."""
        title = self.title if not self.package else f"{self.subject}: {self.title}"
        return {"id": self.id, "severity": self.severity, "title": title, "tool": self.tool,
                "file": self.file, "line": self.line, "detail": self.detail(),
                "blocking": self.blocking, "ignored": self.ignored}

    @property
    def counts(self) -> bool:
        """Whether the finding holds the gate closed."""
        return self.blocking and not self.ignored
