"""The platform interface."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

LEVELS = ("notice", "warning", "error")


@dataclass(frozen=True)
class Annotation:
    level: str  # notice | warning | error
    message: str
    file: str | None = None
    line: int | None = None
    title: str | None = None
    column: int | None = None


class Platform:
    name = "local"
    shows_annotations = False  # whether annotate() puts findings on the file in the CI's own view

    def __init__(self, context):
        self.context = context

    def set_output(self, name: str, value: str) -> None:
        """Make a value available to later steps (GitHub output, GitLab dotenv variable)."""

    def summary(self, markdown: str) -> None:
        """Add a human-readable report for this step (GitHub step summary, GitLab report file)."""

    def annotate(self, annotation: Annotation) -> None:
        """Attach a finding to a file and line where the platform can show it."""
        where = f"{annotation.file}:{annotation.line or 1}: " if annotation.file else ""
        print(f"{where}{annotation.level}: {annotation.message}", file=sys.stderr)

    def mask(self, value: str) -> None:
        """Hide a secret value in the CI's logs from now on, including those of later steps (GitHub's
        ::add-mask::). GitLab masks only variables declared masked; on a laptop nothing is needed."""

    def record_deployment(self, entry, *, url: str = "", production: bool = False) -> None:
        """Add a recorded attempt to the platform's own deployment history (GitHub Deployments). GitLab
        records a deployment for every job with `environment:` by itself; a laptop has none."""

    def git_credentials(self) -> list[str]:
        """`git -c` options that authenticate a push with the job's own token (none on a laptop: git's
        own credentials apply)."""
        return []

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        """Fold a section of the log."""
        print(f"--- {title}", file=sys.stderr)
        yield
