"""Reading other stages' evidence for a decision: the envelope, where it came from, and whether it is current.

Every gate and the compliance bundle say *where* a fact came from (the file, its sha256, the commit and
version it was written for), so a reader can check the decision without trusting this code.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from bayat_deploy import evidence
from bayat_deploy.evidence import Envelope


@dataclass
class Source:
    stage: str
    environment: str | None
    path: Path
    root: Path
    envelope: Envelope | None = None
    problem: str = ""  # why the file cannot be used: missing or unreadable
    sha256: str | None = None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def shown(self) -> str:
        """The path as a user reads it: relative to the repository when inside it."""
        try:
            return str(self.path.relative_to(self.root))
        except ValueError:
            return str(self.path)

    @property
    def usable(self) -> bool:
        return self.envelope is not None

    def where(self) -> dict:
        """The provenance block of a check or bundle part."""
        envelope = self.envelope
        return {"file": self.shown, "sha256": self.sha256, "present": self.path.exists(),
                "commit": envelope.commit if envelope else None, "version": envelope.version if envelope else None,
                "status": envelope.status if envelope else None, "finished": envelope.finished if envelope else None}

    def label(self) -> str:
        """`test.json @ 1a2b3c4 (1.4.0)` for a table column."""
        if self.envelope is None:
            return self.shown
        envelope = self.envelope
        extras = [part for part in (envelope.commit[:7], envelope.version or "") if part]
        return f"{self.shown} @ {' '.join(extras)}" if extras else self.shown


def sha256_of(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def load(session, stage: str, environment: str | None = None) -> Source:
    """The stage's evidence with its provenance; never raises for a missing or damaged file."""
    directory = session.evidence_dir
    path = evidence.evidence_path(directory, stage, environment)
    source = Source(stage, environment, path, session.root)
    if not path.exists():
        source.problem = f"missing: {source.shown} was not written"
        return source
    source.sha256 = sha256_of(path)
    try:
        source.envelope = evidence.read(directory, stage, environment)
    except ValueError as exc:
        source.problem = f"unreadable: {exc}"
    return source


def staleness(source: Source, commit: str, version: str | None) -> str:
    """Why the evidence is not for this run (another commit, another version), or ''."""
    envelope = source.envelope
    if envelope is None:
        return ""
    if commit and envelope.commit and envelope.commit != commit:
        return f"stale: {source.name} is for commit {envelope.commit[:12]}, this run is {commit[:12]}"
    if version and envelope.version and envelope.version != version:
        return f"stale: {source.name} is for version {envelope.version}, the gate checks {version}"
    return ""
