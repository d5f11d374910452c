"""The result of one infrastructure-validation check (helm lint, terraform validate...)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Problem:
    message: str
    blocking: bool = True  # an error; warnings are reported and do not fail the check
    file: str | None = None
    line: int | None = None


@dataclass
class Check:
    kind: str  # helm-lint | helm-template | terraform-init | terraform-validate | discovery
    target: str  # the chart or module directory, relative to the repository
    tool: str
    context: str = ""  # e.g. the environment whose values were rendered
    summary: str = ""
    problems: list[Problem] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not any(problem.blocking for problem in self.problems)

    def fail(self, message: str, file: str | None = None, line: int | None = None) -> "Check":
        self.problems.append(Problem(message, file=file or self.target, line=line))
        self.summary = message
        return self

    def done(self, summary: str) -> "Check":
        self.summary = summary
        return self

    @property
    def label(self) -> str:
        return f"{self.kind} {self.target}" + (f" ({self.context})" if self.context else "")

    def findings(self) -> list[dict[str, Any]]:
        """Keyword arguments for `StageRun.finding`, one per problem."""
        return [{"id": self.kind, "severity": "HIGH" if problem.blocking else "LOW",
                 "title": problem.message if not self.context or self.context in problem.message
                 else f"{problem.message} ({self.context})",
                 "tool": self.tool, "file": problem.file, "line": problem.line,
                 "detail": f"{self.label}: {'error' if problem.blocking else 'warning'}",
                 "blocking": problem.blocking}
                for problem in self.problems]

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.kind, "target": self.target, "context": self.context or None,
                "passed": self.passed, "summary": self.summary,
                "errors": sum(1 for p in self.problems if p.blocking),
                "warnings": sum(1 for p in self.problems if not p.blocking)}
