"""`StageRun`: the common life of a stage run — collect findings and artifacts, then report them once.

Reporting means: the evidence envelope (for gates), platform outputs, a Markdown summary and
annotations (through the platform adapter), and a short human summary on stdout. Stage modules
decide *what* happened; this decides how it is told, identically for every stage.
"""

from __future__ import annotations

import time
from typing import Any

from bayat_deploy import evidence
from bayat_deploy.errors import EXIT_FAILED, EXIT_OK
from bayat_deploy.evidence import Artifact, Envelope, Finding
from bayat_deploy.platform import Annotation
from bayat_deploy.session import Session

MAX_ANNOTATIONS = 50  # GitHub shows at most 10 per step per level anyway; keep logs readable


class StageRun:
    def __init__(self, session: Session, stage: str, *, environment: str | None = None,
                 version: str | None = None, inputs: dict[str, Any] | None = None):
        self.session, self.stage, self.environment, self.version = session, stage, environment, version
        self.inputs = inputs or {}
        self.findings: list[Finding] = []
        self.artifacts: list[Artifact] = []
        self.summary: dict[str, Any] = {}
        self.details: dict[str, Any] = {}
        self.outputs: dict[str, str] = {}
        self._started, self._clock = evidence.now(), time.monotonic()

    def finding(self, **fields: Any) -> Finding:
        item = Finding(**fields)
        self.findings.append(item)
        return item

    def artifact(self, **fields: Any) -> Artifact:
        item = Artifact(**fields)
        self.artifacts.append(item)
        return item

    def output(self, name: str, value: str) -> None:
        self.outputs[name] = str(value)

    @property
    def blocking(self) -> list[Finding]:
        return [f for f in self.findings if f.blocking and not f.ignored]

    def finish(self, passed: bool, headline: str, markdown: str = "") -> int:
        """Write the evidence and report; return the exit code (0 pass, 1 fail)."""
        session = self.session
        context = session.context
        envelope = Envelope(
            stage=self.stage, status="pass" if passed else "fail", started=self._started,
            finished=evidence.now(), duration_seconds=round(time.monotonic() - self._clock, 3),
            environment=self.environment, version=self.version, commit=context.sha, ref=context.ref_name,
            pipeline_url=context.pipeline_url, triggered_by=context.actor,
            policy_fingerprint=session.policy_fingerprint, summary=self.summary, inputs=self.inputs,
            findings=self.findings, artifacts=self.artifacts, details=self.details,
        )
        path = evidence.write(session.evidence_dir, envelope)
        platform = session.platform
        for name, value in self.outputs.items():
            platform.set_output(name, value)
        platform.set_output("status", envelope.status)
        platform.set_output("evidence", str(path))
        for finding in [f for f in self.findings if f.file and not f.ignored][:MAX_ANNOTATIONS]:
            platform.annotate(Annotation(
                level="error" if finding.blocking else "warning",
                message=f"{finding.title} [{finding.id}]" + (f"\n{finding.detail}" if finding.detail else ""),
                file=finding.file, line=finding.line, title=f"{self.stage}: {finding.severity} ({finding.tool})"))
        mark = "passed" if passed else "FAILED"
        platform.summary(f"### {self.stage}{f' ({self.environment})' if self.environment else ''}: {mark}\n\n"
                         f"{headline}\n\n{markdown}".rstrip())
        print(f"{self.stage}: {mark}: {headline}")
        print(f"evidence: {path}")
        return EXIT_OK if passed else EXIT_FAILED
