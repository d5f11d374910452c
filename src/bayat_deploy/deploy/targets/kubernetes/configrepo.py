"""The environment config repository of the GitOps mode: a clone in the state directory, written,
committed and pushed with the git CLI through the command runner.

A push that loses a race with another writer is rebased onto the new tip and pushed again (the
deployment lock serialises deployments of one environment, but other environments or people may
share the repository).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from bayat_deploy.deploy.targets.commands import CommandRunner
from bayat_deploy.errors import BayatError
from bayat_deploy.fsutil import write_atomic

PUSH_ATTEMPTS = 3


class ConfigRepo:
    def __init__(self, runner: CommandRunner, url: str, branch: str, clone: Path, *, author: tuple[str, str]):
        self.runner, self.url, self.branch, self.clone = runner, url, branch, clone
        self.author = author

    def git(self, *args: str, check: bool = True, what: str = ""):
        argv = ["git", "-C", str(self.clone), *args]
        return self.runner.check(argv, what=what or f"config repository {self.url}") if check else \
            self.runner.run(argv)

    # ------------------------------------------------------------------ reading
    def sync(self) -> None:
        """A clean checkout of the branch's tip (cloned on first use)."""
        if not (self.clone / ".git").exists():
            if self.clone.exists():
                shutil.rmtree(self.clone)
            self.clone.parent.mkdir(parents=True, exist_ok=True)
            heads = self.runner.check(["git", "ls-remote", "--heads", self.url, self.branch],
                                      what=f"reading the config repository {self.url}")
            if heads.stdout.strip():
                self.runner.check(["git", "clone", "--quiet", "--branch", self.branch, self.url, str(self.clone)],
                                  what=f"cloning the config repository {self.url}")
            else:  # a new repository, or a branch nobody has written yet
                self.runner.check(["git", "clone", "--quiet", self.url, str(self.clone)],
                                  what=f"cloning the config repository {self.url}")
                self.git("checkout", "--quiet", "-B", self.branch)
            return
        if self.git("ls-remote", "--heads", "origin", self.branch).stdout.strip():
            self.git("fetch", "--quiet", "origin", self.branch)
            self.git("checkout", "--quiet", "-B", self.branch, f"origin/{self.branch}")
            self.git("reset", "--quiet", "--hard", f"origin/{self.branch}")
        self.git("clean", "--quiet", "-fdx")

    def head(self) -> str:
        result = self.git("rev-parse", "--verify", "--quiet", "HEAD", check=False)
        return result.stdout.strip() if result.ok else ""

    def read(self, path: str) -> str | None:
        file = self.clone / path
        return file.read_text() if file.is_file() else None

    def show(self, commit: str, path: str) -> str | None:
        result = self.git("show", f"{commit}:{path}", check=False)
        return result.stdout if result.ok else None

    def log(self, path: str) -> list[tuple[str, dict[str, str]]]:
        """The commits that changed `path`, oldest first, with their trailers (`Version: 1.2.0` ...)."""
        result = self.git("log", "--reverse", "--format=%H%x1f%B%x1e", "--", path, check=False)
        commits = []
        for record in result.stdout.split("\x1e") if result.ok else []:
            if "\x1f" not in record:
                continue
            sha, body = record.strip("\n").split("\x1f", 1)
            trailers = dict(line.split(": ", 1) for line in body.splitlines() if ": " in line)
            commits.append((sha, trailers))
        return commits

    # ------------------------------------------------------------------ writing
    def replace_directory(self, path: str, source: Path) -> None:
        target = self.clone / path
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(source, target, ignore=shutil.ignore_patterns(".git", "*.tgz"))

    def write(self, files: dict[str, str]) -> None:
        for path, text in files.items():
            write_atomic(self.clone / path, text)

    def commit(self, message: str, paths: list[str]) -> str | None:
        """Commit the changes under `paths`; None when there were none."""
        self.git("add", "--all", "--", *paths)
        if not self.git("status", "--porcelain", "--", *paths).stdout.strip():
            return None
        self._commit(message)
        return self.head()

    def _commit(self, message: str) -> None:
        name, email = self.author
        self.git("-c", f"user.name={name}", "-c", f"user.email={email}", "commit", "--quiet", "--message", message,
                 what="committing to the config repository")

    def revert(self, commit: str, message: str) -> str:
        """A commit undoing `commit` (the files it changed go back to how they were before it)."""
        result = self.git("revert", "--no-edit", "--no-commit", commit, check=False)
        if not result.ok:
            self.git("revert", "--abort", check=False)
            self.git("reset", "--quiet", "--hard", "HEAD", check=False)
            raise BayatError(f"cannot revert {commit[:12]} in {self.url}: later commits changed the same files "
                             f"({result.message(3)}); deploy the version wanted instead")
        self._commit(message)
        return self.head()

    def push(self) -> str:
        """Push to the watched branch; the sha that is on the branch afterwards."""
        for attempt in range(1, PUSH_ATTEMPTS + 1):
            result = self.git("push", "--quiet", "origin", f"HEAD:refs/heads/{self.branch}", check=False)
            if result.ok:
                return self.head()
            if attempt == PUSH_ATTEMPTS or "rejected" not in result.stderr and "fetch first" not in result.stderr:
                raise BayatError(f"cannot push to {self.url} ({self.branch}): {result.message(5)}")
            self.git("fetch", "--quiet", "origin", self.branch)
            rebased = self.git("rebase", "--quiet", f"origin/{self.branch}", check=False)
            if not rebased.ok:
                self.git("rebase", "--abort", check=False)
                raise BayatError(f"cannot push to {self.url}: someone changed the same files meanwhile "
                                 f"({rebased.message(3)})")
        raise AssertionError("unreachable")
