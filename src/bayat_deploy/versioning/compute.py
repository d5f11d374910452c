"""The next and the current version of a repository, and why (see the package docstring for the rules)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from bayat_deploy.versioning import versions
from bayat_deploy.versioning.conventional import ParsedCommit
from bayat_deploy.versioning.history import History, VersionTag
from bayat_deploy.versioning.versions import Bump, Version

NO_RELEASE = "0.0.0"


@dataclass(frozen=True)
class VersionPlan:
    """A computed version with everything that decided it (written to the version stage's evidence)."""

    version: str
    reason: str
    bump: Bump = Bump.NONE
    previous: VersionTag | None = None  # the last release
    branch: str = ""
    release_branch: bool = True
    commits: tuple[ParsedCommit, ...] = ()
    notes: tuple[str, ...] = field(default=())  # for stderr: never on stdout

    def to_json(self) -> dict:
        return {"version": self.version, "reason": self.reason, "bump": self.bump.label,
                "previous_version": str(self.previous.version) if self.previous else None,
                "previous_tag": self.previous.name if self.previous else None,
                "branch": self.branch, "release_branch": self.release_branch,
                "commits": [c.to_json() for c in self.commits]}


def is_release_branch(branch: str, patterns: tuple[str, ...]) -> bool:
    return bool(branch) and any(fnmatchcase(branch, pattern) for pattern in patterns)


def tag_ref_version(session) -> Version | None:
    """The version of the tag this pipeline runs for, when it runs for a version tag."""
    context = session.context
    return versions.from_tag(context.ref_name, session.policy.versioning.tag_prefix) if context.is_tag else None


def plan_current(session, repo: Path | None = None) -> VersionPlan:
    """The released version HEAD is on: the pipeline's version tag, else the last stable release, else 0.0.0."""
    history = History(repo or session.root, session.policy.versioning.tag_prefix)
    tagged = tag_ref_version(session)
    if tagged is not None:
        return VersionPlan(str(tagged), f"the pipeline runs for tag {session.context.ref_name}")
    last = history.last_release()
    if last is None:
        prefix = session.policy.versioning.tag_prefix
        return VersionPlan(NO_RELEASE, "no release yet", notes=(
            f"no release tag ({prefix}X.Y.Z) is reachable from HEAD yet; printing {NO_RELEASE}",))
    return VersionPlan(str(last.version), f"last release {last.name}", previous=last)


def plan_next(session, repo: Path | None = None) -> VersionPlan:
    """The version the next release (or, off the release branches, pre-release) of HEAD gets."""
    settings = session.policy.versioning
    history = History(repo or session.root, settings.tag_prefix)
    tagged = tag_ref_version(session)
    if tagged is not None:
        return VersionPlan(str(tagged), f"the pipeline runs for tag {session.context.ref_name}")
    branch = session.context.branch or history.branch()
    # a pull request from a branch named main (a fork's) is still only a proposal: a pre-release version
    release = is_release_branch(branch, settings.release_branches) and not session.context.change_request
    last = history.last_release()
    commits = tuple(history.commits_since(last.ref if last else None))
    level = max((c.bump for c in commits), default=Bump.NONE)
    notes: list[str] = []
    head_is_release = last is not None and not commits
    if last is None:
        base, reason = versions.parse(str(settings.initial)), (
            f"first release: no {settings.tag_prefix}X.Y.Z tag yet, so the policy's initial version")
    elif head_is_release:
        base, reason = last.version, f"HEAD is the release {last.name}"
    elif level is Bump.NONE:
        kinds = _kinds(commits)
        if release:
            base, reason = last.version, f"no release-worthy commits since {last.name}"
            notes.append(f"no release-worthy commits since {last.name} ({kinds}): the version stays "
                         f"{last.version}")
        else:
            # A pre-release must sort above the release it follows, so it is one of the next patch.
            base, reason = versions.bump(last.version, Bump.PATCH), (
                f"no release-worthy commits since {last.name} ({kinds}); pre-release of the next patch")
            notes.append(f"no release-worthy commits since {last.name} ({kinds})")
    else:
        base = versions.bump(last.version, level)
        reason = f"{_effective(level, last.version)} bump from {last.name}: {_kinds(commits)}"
    if release or head_is_release:
        version = base
    else:
        version = _prerelease(history, base, settings, notes)
        reason += (f"; pre-release: a pull or merge request from {branch or '(detached HEAD)'}"
                   if session.context.change_request else
                   f"; pre-release on branch {branch or '(detached HEAD)'}, not a release branch")
    return VersionPlan(str(version), reason, bump=level, previous=last, branch=branch, release_branch=release,
                       commits=commits, notes=tuple(notes))


def _prerelease(history: History, base: Version, settings, notes: list[str]) -> Version:
    """`base-<id>.N`: N is the one HEAD is already tagged with, else one above every existing tag's N."""
    identifier = settings.prerelease_identifier

    def numbers(tags: list[VersionTag]) -> list[int]:
        found = (versions.prerelease_number(t.version, base, identifier) for t in tags)
        return [n for n in found if n is not None]

    at_head = numbers(history.tags_at_head())
    if at_head:
        number = max(at_head)
        notes.append(f"HEAD is already tagged {settings.tag_prefix}{base}-{identifier}.{number}")
    else:
        number = max(numbers(history.version_tags(reachable=False)), default=0) + 1
    sha = history.head[:7]
    return base.replace(prerelease=f"{identifier}.{number}",
                        build=sha if settings.build_metadata and sha else None)


def _effective(level: Bump, previous: Version) -> str:
    if level is Bump.MAJOR and previous.major == 0:
        return "minor (a breaking change while MAJOR is 0)"
    return level.label


def _kinds(commits: tuple[ParsedCommit, ...]) -> str:
    """`1 breaking change, 2 feat, 1 fix, 3 docs, 1 not conventional`."""
    counts: Counter[str] = Counter()
    for commit in commits:
        c = commit.conventional
        if c is None:
            counts["not conventional"] += 1
            continue
        if c.breaking:
            counts["breaking change"] += 1
        counts[c.type] += 1
    order = ["breaking change", "feat", "fix", "perf"]
    keys = [k for k in order if k in counts] + sorted(k for k in counts if k not in order)
    return ", ".join(f"{counts[k]} {k}{'s' if k == 'breaking change' and counts[k] > 1 else ''}" for k in keys)


def resolve_version(session, explicit: str | None = None) -> str:
    """The version a stage works with: `explicit` (must be SemVer), else the version tag on HEAD (the highest
    if several), else the computed next version, exactly as `bayat-deploy version next` prints it."""
    if explicit is not None:
        return str(versions.parse_input(explicit))
    history = History(session.root, session.policy.versioning.tag_prefix)
    at_head = [t.version for t in history.tags_at_head()]
    if at_head:
        return str(max(at_head))
    return plan_next(session).version
