"""What the repository says about releases: version tags, the last release, commits since it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bayat_deploy.errors import BadInput
from bayat_deploy.git import Git
from bayat_deploy.versioning import versions
from bayat_deploy.versioning.conventional import ParsedCommit, parse_commit
from bayat_deploy.versioning.versions import Version


@dataclass(frozen=True)
class VersionTag:
    name: str
    version: Version

    @property
    def ref(self) -> str:
        """The full ref, so that a branch with the same name as a tag cannot be taken for it."""
        return f"refs/tags/{self.name}"


class History:
    """Version tags `<prefix>X.Y.Z[-pre]` of one repository; tags that are not SemVer are ignored.

    A project in a sub-directory of its repository (a monorepo, or the bundled example) counts only the
    commits that touch that directory; give each such project its own `versioning.tag_prefix`.
    """

    def __init__(self, repo: Path, prefix: str):
        self.git = Git(repo)
        self.prefix = prefix
        if not self.git.is_repository():
            raise BadInput(f"{repo} is not a git repository (versions are computed from git tags and commits); "
                           "run in the repository or pass --repo DIR")
        self.subdirectory = self.git.run("rev-parse", "--show-prefix", check=False)

    @property
    def head(self) -> str:
        return self.git.head()

    def branch(self) -> str:
        return self.git.branch()

    def _parse(self, names: list[str]) -> list[VersionTag]:
        tags = []
        for name in names:
            version = versions.from_tag(name, self.prefix)
            if version is not None:
                tags.append(VersionTag(name, version))
        return tags

    def version_tags(self, reachable: bool = True) -> list[VersionTag]:
        """Version tags; with `reachable`, only those whose commit is HEAD or one of its ancestors, or a
        release commit made on top of one (see `_released_from_history`)."""
        names = self.git.tags(f"{self.prefix}*", merged=reachable)
        if reachable and self.head:
            names += [name for name in self.git.tags(f"{self.prefix}*", merged=False)
                      if name not in names and self._released_from_history(name)]
        return self._parse(names)

    def _released_from_history(self, tag: str) -> bool:
        """A release commit: its subject starts with `chore(release)` and its first parent is in HEAD's
        history. It carries only build output (a GitHub action's dist/, say) and is reachable from the
        tag alone, so the commit it was built from stands for it."""
        commit = f"refs/tags/{tag}^{{commit}}"
        if not self.git.run("log", "-1", "--format=%s", commit, check=False).startswith("chore(release)"):
            return False
        parent = self.git.run("rev-parse", "--verify", "--quiet", f"{commit}^1", check=False)
        return bool(parent) and self._is_ancestor(parent)

    def _is_ancestor(self, commit: str) -> bool:
        from bayat_deploy.tools import run

        proc = run(["git", "merge-base", "--is-ancestor", commit, "HEAD"], cwd=self.git.root, timeout=60)
        return proc.returncode == 0

    def tags_at_head(self) -> list[VersionTag]:
        return self._parse(self.git.tags_at("HEAD")) if self.head else []

    def last_release(self, below: Version | None = None) -> VersionTag | None:
        """The highest stable version tag reachable from HEAD (optionally: of a version lower than `below`)."""
        stable = [t for t in self.version_tags() if versions.is_stable(t.version)
                  and (below is None or t.version < below)]
        return max(stable, key=lambda t: t.version, default=None)

    def commits_since(self, since: str | None) -> list[ParsedCommit]:
        """Commits after `since` up to HEAD, newest first, each read as a Conventional Commit."""
        commits = self.git.commits(since=since)
        if self.subdirectory and commits:
            span = f"{since}..HEAD" if since else "HEAD"
            touching = set(self.git.run("log", "--full-history", "--format=%H", span, "--", ".").split())
            commits = [c for c in commits if c.sha in touching]
        return [parse_commit(c.sha, c.message) for c in commits]

    def tag_message(self, tag: str) -> str | None:
        """The message of an annotated tag (None for a lightweight or missing tag)."""
        if self.git.run("cat-file", "-t", f"refs/tags/{tag}", check=False) != "tag":
            return None
        text = self.git.run("tag", "--list", "--format=%(contents:subject)%0a%0a%(contents:body)", tag, check=False)
        return text.strip() or None

    def tag_exists(self, tag: str) -> bool:
        return bool(self.git.run("rev-parse", "-q", "--verify", f"refs/tags/{tag}", check=False))
