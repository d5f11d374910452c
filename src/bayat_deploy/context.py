"""Where and for whom a command runs: read from the environment once, at start-up, and passed around.

No other module reads `os.environ`: stages ask the `RunContext` (CI platform, commit, ref, who
triggered, pipeline URL) and resolve secret references through it.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Mapping


@dataclass(frozen=True)
class RunContext:
    platform: str  # "github" | "gitlab" | "local"
    env: Mapping[str, str] = field(repr=False)
    sha: str = ""
    ref_name: str = ""  # branch or tag name
    is_tag: bool = False
    actor: str = ""
    pipeline_url: str = ""
    repository_url: str = ""
    run_id: str = ""
    change_request: bool = False  # a pull request's or merge request's pipeline: checks only, never a release

    @property
    def short_sha(self) -> str:
        return self.sha[:7]

    @property
    def branch(self) -> str:
        return "" if self.is_tag else self.ref_name

    @property
    def in_ci(self) -> bool:
        return self.platform != "local"

    def get(self, name: str, default: str = "") -> str:
        return self.env.get(name, default)

    def tool_env(self, **extra: str) -> dict[str, str]:
        """Environment for a child process: ours plus the given additions."""
        return {**self.env, **extra}

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> "RunContext":
        env = MappingProxyType(dict(os.environ if env is None else env))
        if env.get("GITHUB_ACTIONS") == "true":
            server = env.get("GITHUB_SERVER_URL", "https://github.com")
            repo = env.get("GITHUB_REPOSITORY", "")
            return cls(
                platform="github", env=env, sha=env.get("GITHUB_SHA", ""),
                # a pull request's ref is `123/merge`: the branch is the pull request's head
                ref_name=env.get("GITHUB_HEAD_REF") or env.get("GITHUB_REF_NAME", ""),
                is_tag=env.get("GITHUB_REF_TYPE") == "tag",
                change_request=env.get("GITHUB_EVENT_NAME", "") in ("pull_request", "pull_request_target"),
                actor=env.get("GITHUB_TRIGGERING_ACTOR") or env.get("GITHUB_ACTOR", ""),
                pipeline_url=f"{server}/{repo}/actions/runs/{env.get('GITHUB_RUN_ID', '')}" if repo else "",
                repository_url=f"{server}/{repo}" if repo else "", run_id=env.get("GITHUB_RUN_ID", ""),
            )
        if env.get("GITLAB_CI") == "true":
            tag = env.get("CI_COMMIT_TAG", "")
            return cls(
                platform="gitlab", env=env, sha=env.get("CI_COMMIT_SHA", ""),
                ref_name=tag or env.get("CI_COMMIT_BRANCH") or env.get("CI_COMMIT_REF_NAME", ""),
                is_tag=bool(tag), actor=env.get("GITLAB_USER_LOGIN", ""),
                change_request=env.get("CI_PIPELINE_SOURCE") == "merge_request_event",
                pipeline_url=env.get("CI_PIPELINE_URL", ""), repository_url=env.get("CI_PROJECT_URL", ""),
                run_id=env.get("CI_PIPELINE_ID", ""),
            )
        sha, branch = _git_head(cwd or Path.cwd())
        return cls(platform="local", env=env, sha=sha, ref_name=branch,
                   actor=env.get("USER") or env.get("USERNAME") or _login_name())


def _login_name() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return ""


def _git_head(cwd: Path) -> tuple[str, str]:
    def git(*args: str) -> str:
        try:
            proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return ""
        return proc.stdout.strip() if proc.returncode == 0 else ""

    branch = git("rev-parse", "--abbrev-ref", "HEAD")
    return git("rev-parse", "HEAD"), "" if branch == "HEAD" else branch
