"""Reading a git repository through the git CLI: commits, tags, files at a revision."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bayat_deploy.errors import BadInput
from bayat_deploy.tools import run

_SEP, _END = "\x1f", "\x1e"


@dataclass(frozen=True)
class Commit:
    sha: str
    subject: str
    body: str
    author: str
    date: str  # ISO 8601

    @property
    def message(self) -> str:
        return f"{self.subject}\n\n{self.body}".strip()


class Git:
    def __init__(self, root: Path):
        self.root = root

    def run(self, *args: str, check: bool = True) -> str:
        proc = run(["git", *args], cwd=self.root, timeout=60)
        if check and proc.returncode != 0:
            raise BadInput(f"git {' '.join(args)} failed in {self.root}: {proc.stderr.strip()}")
        return proc.stdout.strip() if proc.returncode == 0 else ""

    def is_repository(self) -> bool:
        return self.run("rev-parse", "--is-inside-work-tree", check=False) == "true"

    def head(self) -> str:
        return self.run("rev-parse", "HEAD", check=False)

    def branch(self) -> str:
        name = self.run("rev-parse", "--abbrev-ref", "HEAD", check=False)
        return "" if name == "HEAD" else name

    def tags(self, pattern: str = "*", merged: bool = True) -> list[str]:
        """Tag names matching a glob; with `merged`, only tags reachable from HEAD."""
        args = ["tag", "--list", pattern]
        if merged and self.head():
            args += ["--merged", "HEAD"]
        return [t for t in self.run(*args, check=False).splitlines() if t]

    def tags_at(self, rev: str = "HEAD") -> list[str]:
        return [t for t in self.run("tag", "--points-at", rev, check=False).splitlines() if t]

    def commits(self, since: str | None = None, until: str = "HEAD") -> list[Commit]:
        """Commits in `since..until`, newest first (all of history when `since` is None)."""
        if not self.head():
            return []
        rng = f"{since}..{until}" if since else until
        out = self.run("log", f"--format=%H{_SEP}%s{_SEP}%b{_SEP}%an{_SEP}%aI{_END}", rng)
        commits = []
        for record in out.split(_END):
            record = record.strip("\n")
            if not record:
                continue
            sha, subject, body, author, date = record.split(_SEP)
            commits.append(Commit(sha, subject, body.strip(), author, date))
        return commits

    def changed_files(self, since: str | None, until: str = "HEAD") -> list[str]:
        if since is None:
            return self.run("ls-tree", "-r", "--name-only", until, check=False).splitlines()
        return [f for f in self.run("diff", "--name-only", since, until).splitlines() if f]

    def show(self, rev: str, path: str) -> str | None:
        """A file's content at a revision, or None when it did not exist there."""
        proc = run(["git", "show", f"{rev}:{path}"], cwd=self.root, timeout=60)
        return proc.stdout if proc.returncode == 0 else None

    def diff(self, since: str, until: str, *paths: str) -> str:
        return self.run("diff", since, until, "--", *paths, check=False)
