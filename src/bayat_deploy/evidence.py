"""Evidence: every stage leaves one JSON document with the same envelope; gates only read envelopes.

Location: `<evidence_dir>/<stage>.json`, or `<stage>-<environment>.json` for a stage that runs per
environment (verify, deploy...). The envelope is versioned by `schema` so later readers can tell.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bayat_deploy.redact import redact_data

SCHEMA = "bayat-deploy/evidence/v1"
STATUSES = ("pass", "fail")


def _tool_version() -> str:
    from bayat_deploy import __version__

    return __version__


@dataclass
class Finding:
    """One thing a stage found: a vulnerability, a failed test, a misconfiguration..."""

    id: str
    severity: str  # UNKNOWN | LOW | MEDIUM | HIGH | CRITICAL, or INFO for non-security findings
    title: str
    tool: str
    file: str | None = None
    line: int | None = None
    detail: str = ""
    blocking: bool = False  # counts against the stage's gate
    ignored: str | None = None  # why it does not count (an ignore entry's reason), if it does not


@dataclass
class Artifact:
    """Something a stage produced: an image, a package, a report file."""

    type: str
    name: str
    reference: str = ""  # image reference, package file, URL
    digest: str | None = None
    path: str | None = None


@dataclass
class Envelope:
    stage: str
    status: str
    started: str
    finished: str
    duration_seconds: float
    environment: str | None = None
    version: str | None = None
    commit: str = ""
    ref: str = ""
    pipeline_url: str = ""
    triggered_by: str = ""
    policy_fingerprint: str = ""
    summary: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    tool_version: str = field(default_factory=_tool_version)  # the bayat-deploy that wrote it
    schema: str = SCHEMA

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def to_json(self) -> str:
        return json.dumps(redact_data(asdict(self)), indent=2, default=str) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "Envelope":
        data = json.loads(text)
        if data.get("schema") != SCHEMA:
            raise ValueError(f"not a {SCHEMA} document (schema: {data.get('schema')!r})")
        data["findings"] = [Finding(**f) for f in data.get("findings", [])]
        data["artifacts"] = [Artifact(**a) for a in data.get("artifacts", [])]
        return cls(**data)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def evidence_path(directory: Path, stage: str, environment: str | None = None) -> Path:
    return directory / (f"{stage}-{environment}.json" if environment else f"{stage}.json")


def write(directory: Path, envelope: Envelope) -> Path:
    from bayat_deploy.fsutil import write_atomic

    path = evidence_path(directory, envelope.stage, envelope.environment)
    write_atomic(path, envelope.to_json())
    return path


def read(directory: Path, stage: str, environment: str | None = None) -> Envelope | None:
    """The stage's evidence, or None when it was never written. A damaged file raises ValueError."""
    path = evidence_path(directory, stage, environment)
    if not path.exists():
        return None
    try:
        return Envelope.from_json(path.read_text(encoding="utf-8"))
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"{path}: unreadable evidence: {exc}") from None
