"""Sessions over real git repositories for in-process tests of versioning and release notes."""

from __future__ import annotations

from pathlib import Path

from bayat_deploy.context import RunContext
from bayat_deploy.platform import for_context
from bayat_deploy.session import Session
from bayat_deploy.versioning.session import open_repo_session

# The test process may itself run in CI; the commands under test must see a laptop unless a test says otherwise.
LOCAL_ENV = {"GITHUB_ACTIONS": "", "GITLAB_CI": ""}


def write_policy(root: Path, text: str) -> Path:
    path = root / ".bayat" / "deploy.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def session_for(root: Path, context: RunContext | None = None) -> Session:
    """The session the version commands open for `root` (its policy, or the defaults), with a local context
    read from git unless `context` is given."""
    base = open_repo_session(None, root)
    context = context or RunContext.from_environment(env={}, cwd=root)
    return Session(base.loaded, context, for_context(context, base.root))


def ci_context(branch: str = "", tag: str = "", sha: str = "") -> RunContext:
    """A GitLab CI context (detached HEAD: the branch or tag is known only from the CI variables)."""
    env = {"GITLAB_CI": "true", "CI_COMMIT_SHA": sha, "CI_PIPELINE_URL": "https://gitlab.example.com/p/-/pipelines/7",
           "GITLAB_USER_LOGIN": "carol"}
    env.update({"CI_COMMIT_TAG": tag} if tag else {"CI_COMMIT_BRANCH": branch})
    return RunContext.from_environment(env=env)
