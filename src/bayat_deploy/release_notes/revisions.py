"""Files of the project at a git revision, with paths relative to the project (which may be a
sub-directory of the git repository, as the bundled example is)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from bayat_deploy.errors import BadInput
from bayat_deploy.git import Git


class Revisions:
    def __init__(self, root: Path):
        self.root = root
        self.git = Git(root)

    def commit(self, rev: str) -> str:
        """The commit a revision names; BadInput for one that does not exist."""
        sha = self.git.run("rev-parse", "-q", "--verify", f"{rev}^{{commit}}", check=False)
        if not sha:
            raise BadInput(f"--since {rev}: no such commit, branch or tag in {self.root}")
        return sha

    @lru_cache(maxsize=8)
    def files(self, rev: str) -> tuple[str, ...]:
        # Run in the project directory, ls-tree lists only its files, relative to it.
        return tuple(self.git.run("ls-tree", "-r", "--name-only", rev, check=False).splitlines())

    def read(self, rev: str, path: str) -> str | None:
        return self.git.show(rev, f"./{path}") if path in self.files(rev) else None
