"""Gathering what the release notes say, section by section (the rules are in the package docstring)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from bayat_deploy.policy.model.stages import SECTIONS
from bayat_deploy.release_notes.configdiff import ConfigReport, configuration_changes
from bayat_deploy.release_notes.lockfiles import DependencyReport, dependency_changes
from bayat_deploy.release_notes.revisions import Revisions
from bayat_deploy.versioning import versions
from bayat_deploy.versioning.conventional import ParsedCommit
from bayat_deploy.versioning.history import History, VersionTag
from bayat_deploy.versioning.tagging import summary_from_tag_message

TITLES = {"summary": "Summary", "version": "Version", "date": "Date", "features": "Features",
          "bug_fixes": "Bug fixes", "known_issues": "Known issues", "dependencies": "Dependencies",
          "configuration_changes": "Configuration changes", "migration_steps": "Migration steps",
          "rollback_plan": "Rollback plan"}
ROLLBACK_COMMAND = "bayat-deploy rollback --env {environment} --to {version}"
# Without an earlier release there is nothing to return to: the rollback removes this release's deployment.
REMOVE_COMMAND = "bayat-deploy rollback --env {environment} --remove"
# An explicit "nothing here" (see the package docstring for where it counts).
NONE_STATEMENT = re.compile(r"^(none|n/a|-|no known issues|none known|not required|none required)\.?$", re.IGNORECASE)


@dataclass
class Section:
    name: str
    content: Any  # JSON data: text, a list of entries, or a mapping
    filled: bool
    none: bool = False  # explicitly nothing ("None"), which counts as filled
    note: str = ""  # where it came from, or why it is empty

    @property
    def title(self) -> str:
        return TITLES[self.name]

    def to_json(self) -> dict:
        return {"title": self.title, "filled": self.filled, "none": self.none, "note": self.note,
                "content": self.content}


@dataclass
class ReleaseNotes:
    project: str
    version: str
    date: str
    environment: str
    previous: VersionTag | None
    since: str | None  # revision the changes are counted from (None: the whole history)
    head: str
    sections: dict[str, Section]
    other_changes: list[dict] = field(default_factory=list)
    breaking: int = 0

    def counts(self) -> dict[str, int]:
        """Entries per list section, breaking changes and other changes (the evidence summary)."""
        counts = {}
        for name, section in self.sections.items():
            content = section.content
            if isinstance(content, dict) and "changes" in content:
                counts[name] = len(content["changes"])
            elif isinstance(content, list):
                counts[name] = len(content)
        return {**counts, "breaking_changes": self.breaking, "other_changes": len(self.other_changes)}

    def to_json(self) -> dict:
        return {"schema": "bayat-deploy/release-notes/v1", "project": self.project, "version": self.version,
                "date": self.date, "environment": self.environment,
                "previous_version": str(self.previous.version) if self.previous else None,
                "range": {"from": self.since, "to": self.head},
                "sections": {name: s.to_json() for name, s in self.sections.items()},
                "other_changes": self.other_changes}


def collect(session, version: str, *, since: str | None = None, environment: str = "production",
            summary: str | None = None) -> ReleaseNotes:
    policy = session.policy
    prefix = policy.versioning.tag_prefix
    history = History(session.root, prefix)
    revisions = Revisions(session.root)
    release = versions.parse_input(version)
    previous = history.last_release(below=release)
    if since:
        revisions.commit(since)  # an unknown revision is bad input, not an empty range
    start = since or (previous.name if previous else None)  # as shown in the notes
    start_rev = since or (previous.ref if previous else None)
    newest_first = history.commits_since(start_rev)
    commits = list(reversed(newest_first))  # migration steps are applied in the order they were made
    head = history.head
    features = [_entry(c) for c in newest_first if c.conventional and c.conventional.type in ("feat", "perf")]
    fixes = [_entry(c) for c in newest_first if c.conventional and c.conventional.type == "fix"]
    listed = {e["sha"] for e in features + fixes}
    other = [_entry(c) for c in newest_first if c.sha not in listed]
    breaking = sum(1 for c in commits if c.conventional and c.conventional.breaking)

    text = summary or summary_from_tag_message(history.tag_message(versions.tag_name(release, prefix)), version)
    origin = "given" if summary else "tag message" if text else "generated"
    text = text or _generated_summary(len(features), len(fixes), breaking, len(other), previous)
    today = datetime.now(timezone.utc).date().isoformat()

    dependencies = dependency_changes(revisions, start_rev, "HEAD")
    configuration = configuration_changes(revisions, start_rev, "HEAD", _config_files(session),
                                          frozenset(k for k, v in policy.config.keys.items() if v.secret))
    parts = [
        Section("summary", text, True, note=origin),
        Section("version", {"version": version, "tag": versions.tag_name(release, prefix), "commit": head,
                            "previous_version": str(previous.version) if previous else None,
                            "since": start, "commits": len(commits)}, True),
        Section("date", today, True),
        Section("features", features, bool(features)),
        Section("bug_fixes", fixes, bool(fixes)),
        _known_issues(session),
        _dependencies(dependencies, start),
        _configuration(configuration, start),
        _migration_steps(commits),
        _rollback(previous, environment),
    ]
    wanted = set(policy.release_notes.sections) | set(policy.release_notes.required)
    ordered = {s.name: s for name in SECTIONS for s in parts if s.name == name and name in wanted}
    return ReleaseNotes(policy.project, version, today, environment, previous, start, head, ordered, other, breaking)


def _entry(commit: ParsedCommit) -> dict:
    c = commit.conventional
    return {"sha": commit.sha, "type": c.type if c else None, "scope": c.scope if c else None,
            "description": c.description if c else commit.subject, "breaking": bool(c and c.breaking)}


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else plural or word + 's'}"


def _generated_summary(features: int, fixes: int, breaking: int, other: int, previous: VersionTag | None) -> str:
    parts = [_plural(n, w, p) for n, w, p in ((features, "feature", None), (fixes, "fix", "fixes"),
                                               (breaking, "breaking change", None)) if n]
    if parts:
        return ", ".join(parts)
    if other:
        return f"No features or fixes; {_plural(other, 'other change')}"
    return f"No changes since {previous.name}" if previous else "First release"


def _config_files(session) -> dict[str, tuple[str, ...]]:
    """Each configuration file with the environments it applies to, and the policy file itself."""
    policy = session.policy
    files: dict[str, list[str]] = {}
    for environment in policy.environments:
        for pattern in policy.config.files:
            files.setdefault(policy.substitute(pattern, environment), []).append(environment)
    result = {path: tuple(envs) for path, envs in files.items()}
    policy_file = session.loaded.path.resolve()
    try:
        result[policy_file.relative_to(session.root.resolve()).as_posix()] = ()
    except ValueError:
        pass  # a policy kept outside the repository has no history here
    return result


def _known_issues(session) -> Section:
    name = session.policy.release_notes.known_issues_file
    if not name:
        return Section("known_issues", [], False, note="no known-issues file is configured")
    path = session.root / name
    if not path.is_file():
        return Section("known_issues", [], False, note=f"{name} does not exist")
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.lstrip().startswith("#")]
    body = "\n".join(lines).strip()
    if not body:
        return Section("known_issues", [], False, note=f"{name} is empty")
    if NONE_STATEMENT.match(body):
        return Section("known_issues", [], True, none=True, note=f"{name} says: {body}")
    items = [re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", line).strip() for line in lines
             if re.match(r"^\s*(?:[-*+]|\d+[.)])\s+\S", line)]
    if not items:
        items = [" ".join(p.split()) for p in re.split(r"\n\s*\n", body) if p.strip()]
    return Section("known_issues", items, True, note=f"from {name}")


def _range(start: str | None) -> str:
    return f"between {start} and HEAD" if start else "in the whole history (no previous release)"


def _dependencies(report: DependencyReport, start: str | None) -> Section:
    content = {"changes": [c.to_json() for c in report.changes], "lock_files": report.files,
               "problems": report.problems}
    if report.changes:
        return Section("dependencies", content, True, note=f"lock-file changes {_range(start)}")
    if report.files and not report.problems:
        return Section("dependencies", content, True, none=True,
                       note=f"no changes in {', '.join(report.files)} {_range(start)}")
    why = "; ".join(report.problems) or "no lock file (requirements*.txt, poetry.lock, uv.lock, " \
                                        "package-lock.json, Pipfile.lock) to compare"
    return Section("dependencies", content, False, note=why)


def _configuration(report: ConfigReport, start: str | None) -> Section:
    content = {"changes": [c.to_json() for c in report.changes], "files": report.files, "problems": report.problems}
    if report.changes:
        return Section("configuration_changes", content, True, note=f"changes {_range(start)}")
    if report.files and not report.problems:
        return Section("configuration_changes", content, True, none=True,
                       note=f"no changes in {', '.join(report.files)} {_range(start)}")
    why = "; ".join(report.problems) or "no configuration or policy file to compare"
    return Section("configuration_changes", content, False, note=why)


def _migration_steps(commits: list[ParsedCommit]) -> Section:
    steps, declared_none = [], []
    for commit in commits:
        c = commit.conventional
        if c is None:
            continue
        for value in c.footer_values("migration"):
            if NONE_STATEMENT.match(value.strip()):
                declared_none.append(commit.short_sha)
            else:
                steps.append({"step": value, "source": "Migration", "sha": commit.sha})
        steps += [{"step": note, "source": "BREAKING CHANGE", "sha": commit.sha} for note in c.breaking_notes]
    if steps:
        return Section("migration_steps", steps, True, note="from Migration: footers and breaking changes")
    if declared_none:
        return Section("migration_steps", [], True, none=True,
                       note=f"Migration: none (commit {', '.join(declared_none)})")
    return Section("migration_steps", [], False, note="no Migration: footer or breaking change in the commits")


def _rollback(previous: VersionTag | None, environment: str) -> Section:
    if previous is not None:
        command = ROLLBACK_COMMAND.format(environment=environment, version=previous.version)
        return Section("rollback_plan", {"previous_version": str(previous.version), "command": command,
                                         "plan": f"Roll {environment} back to {previous.version} "
                                                 f"(the previous release, {previous.name})."}, True)
    command = REMOVE_COMMAND.format(environment=environment)
    return Section("rollback_plan", {"previous_version": None, "command": command,
                                     "plan": f"This is the first release: there is no earlier version, so rolling "
                                             f"back means removing the deployment from {environment}."}, True)
