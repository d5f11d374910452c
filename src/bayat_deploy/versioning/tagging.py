"""Release tags: an annotated tag at HEAD whose message lists the commits it releases.

The message's first paragraph is the release summary (`--summary`, else `Release <version>`); release
notes read it back with `summary_from_tag_message`, skipping the generated default and commit list.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bayat_deploy.errors import BadInput
from bayat_deploy.git import Git
from bayat_deploy.tools import run
from bayat_deploy.versioning import versions

CHANGES_HEADING = "Changes"
MAX_LISTED = 200


@dataclass(frozen=True)
class CreatedTag:
    name: str
    commit: str
    existed: bool = False  # the same tag was already on HEAD (a re-run of the pipeline): nothing to do


def default_subject(version: str) -> str:
    return f"Release {version}"


def tag_message(plan, summary: str | None) -> str:
    since = f" since {plan.previous.name}" if plan.previous else ""
    lines = [f"- {c.subject} ({c.short_sha})" for c in plan.commits[:MAX_LISTED]]
    if len(plan.commits) > MAX_LISTED:
        lines.append(f"- ... and {len(plan.commits) - MAX_LISTED} more")
    changes = "\n".join(lines) or "- (no new commits)"
    head = (summary or "").strip() or default_subject(plan.version)
    return f"{head}\n\n{CHANGES_HEADING}{since}:\n{changes}\n"


def summary_from_tag_message(message: str | None, version: str) -> str | None:
    """The summary a person wrote into a tag message (None for our generated default)."""
    if not message:
        return None
    kept = []
    for line in message.strip().splitlines():
        if line.startswith(f"{CHANGES_HEADING} since ") or line == f"{CHANGES_HEADING}:":
            break
        kept.append(line)
    text = "\n".join(kept).strip()
    return None if not text or text == default_subject(version) else text


def create_release_tag(session, repo: Path, plan, summary: str | None = None) -> CreatedTag:
    """Tag HEAD as `<prefix><plan.version>`; BadInput (nothing changed) when that cannot be done cleanly."""
    git = Git(repo)
    head = git.head()
    if not head:
        raise BadInput(f"{repo}: the repository has no commits to tag")
    name = versions.tag_name(versions.parse(plan.version), session.policy.versioning.tag_prefix)
    existing = git.run("rev-parse", "-q", "--verify", f"refs/tags/{name}^{{commit}}", check=False)
    if existing == head:
        return CreatedTag(name, head, existed=True)
    if existing:
        raise BadInput(f"tag {name} already exists on commit {existing[:7]}, not on HEAD; the computed version is "
                       f"{plan.version} ({plan.reason}). Nothing was tagged.")
    dirty = git.run("diff", "--name-only", "HEAD", check=False)  # tracked files, staged or not
    if dirty:
        files = ", ".join(dirty.splitlines()[:5])
        raise BadInput(f"the work tree has uncommitted changes ({files}); commit or stash them first, a release "
                       "tag must name exactly what was built. Nothing was tagged.")
    identity = []
    if not git.run("config", "user.email", check=False):
        # CI checkouts often have no identity; the tagger is then the pipeline's actor.
        actor = session.context.actor or "bayat-deploy"
        identity = ["-c", f"user.name={actor}", "-c", f"user.email={actor}@users.noreply.bayat-deploy"]
    _tag(repo, identity, name, tag_message(plan, summary))
    return CreatedTag(name, head)


def _tag(repo: Path, identity: list[str], name: str, message: str) -> None:
    proc = run(["git", *identity, "tag", "--annotate", "--cleanup=verbatim", "--file=-", name], cwd=repo,
               input=message, timeout=60)
    if proc.returncode != 0:
        raise BadInput(f"git tag {name} failed in {repo}: {proc.stderr.strip()}")


def push_tag(repo: Path, name: str, remote: str, credentials: list[str] | None = None) -> str | None:
    """Push one tag; the error text when that failed. `credentials` are `git -c` options from the
    platform adapter (the job token), never written to the repository's configuration."""
    proc = run(["git", *(credentials or []), "push", remote, f"refs/tags/{name}"], cwd=repo, timeout=300)
    return None if proc.returncode == 0 else (proc.stderr or proc.stdout).strip()
