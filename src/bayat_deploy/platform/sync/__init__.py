"""`bayat-deploy environments sync`: make the platform's environments what the policy says.

`desired` computes the target state from the policy alone; `github` and `gitlab` read the platform's
current state, compare, and write only what differs (so a second run changes nothing); `freeze`
turns enforced maintenance windows into GitLab deploy freeze periods. Every applier returns a
`SyncResult`: the change list the command prints as a table and records as evidence.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from bayat_deploy.errors import BayatError


@dataclass
class Change:
    target: str  # the environment (or "freeze periods")
    setting: str  # what changes: reviewers, wait timer, branch pattern, approval rule qa...
    before: str
    after: str
    action: str  # create | update | delete
    done: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class SyncResult:
    platform: str
    target: str  # owner/repo or the GitLab project
    dry_run: bool
    changes: list[Change] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # targets already as the policy says
    notes: list[str] = field(default_factory=list)
    desired: list[dict] = field(default_factory=list)
    error: str = ""  # the API error that stopped the apply phase

    @property
    def applied(self) -> int:
        return sum(change.done for change in self.changes)

    def markdown(self) -> str:
        verb = "would change" if self.dry_run else "changed"
        lines = []
        if self.changes:
            lines += ["| environment | setting | now | policy | action |", "|---|---|---|---|---|"]
            for change in self.changes:
                state = change.action if change.done or self.dry_run else f"{change.action} (not done)"
                lines.append(f"| {change.target} | {change.setting} | {_cell(change.before)} | "
                             f"{_cell(change.after)} | {state} |")
        else:
            lines.append(f"Nothing {verb}: every environment already matches the policy.")
        if self.unchanged:
            lines += ["", "Already as the policy says: " + ", ".join(self.unchanged) + "."]
        if self.notes:
            lines += [""] + [f"- {note}" for note in self.notes]
        return "\n".join(lines)

    def apply(self, steps) -> "SyncResult":
        """Run the write steps in order (none on a dry run); an API error stops them and is kept."""
        if self.dry_run:
            return self
        from bayat_deploy.platform.rest import ApiError

        try:
            for step in steps:
                step()
        except ApiError as exc:
            self.error = str(exc)
        return self


def _cell(text: str) -> str:
    return (text or "-").replace("|", "/").replace("\n", " ")


class Unresolved(BayatError):
    """Raised when teams, groups or users named in the policy do not exist on the platform."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(f"{len(problems)} name(s) in the policy do not resolve: " + "; ".join(problems))


__all__ = ["Change", "SyncResult", "Unresolved"]
