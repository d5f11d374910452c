"""Shared fixtures: run the installed console scripts as a user would, in a scratch directory."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The suite behaves the same in a CI job as on a laptop: a test that wants a platform sets its variables
# itself, and no real token of the job running the suite can reach a test server.
for _variable in ("GITHUB_ACTIONS", "GITLAB_CI", "GITHUB_TOKEN", "GH_TOKEN", "GITLAB_TOKEN", "CI_JOB_TOKEN"):
    os.environ.pop(_variable, None)
pytest_plugins = ["tests.support.deploy_fixtures", "tests.support.trivydb", "tests.support.receivers"]
BIN = Path(sys.executable).parent


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", help="rewrite golden files from current output")


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


def run_command(command: str, *args: str, cwd: Path, env: dict | None = None, timeout: float = 120) -> Result:
    executable = BIN / command
    if not executable.exists():
        pytest.fail(f"{executable} is not installed; run scripts/setup")
    proc = subprocess.run([str(executable), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def bayat(tmp_path):
    """`bayat("policy", "validate")` runs bayat-deploy in a temporary directory."""
    def run(*args: str, cwd: Path | None = None, **kwargs) -> Result:
        return run_command("bayat-deploy", *args, cwd=cwd or tmp_path, **kwargs)
    return run


@pytest.fixture
def generate(tmp_path):
    def run(*args: str, cwd: Path | None = None, **kwargs) -> Result:
        return run_command("generate-pipeline", *args, cwd=cwd or tmp_path, **kwargs)
    return run


@pytest.fixture
def update_golden(request) -> bool:
    return request.config.getoption("--update-golden")


@pytest.fixture
def git_repo(tmp_path):
    """An empty git repository on branch main; see tests/support/gitrepo.py."""
    from tests.support.gitrepo import GitRepo

    return GitRepo(tmp_path / "repo")


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    """A real docker-registry on loopback with htpasswd auth, shared by the session."""
    from tests.support.registry import start_registry

    instance = start_registry(tmp_path_factory.mktemp("registry"))
    yield instance
    instance.stop()
