"""Deploy fixtures (a pytest plugin, see tests/conftest.py): the example image, and a scratch repository
whose environments run on this host."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, run_command
from tests.support.example import stop_deployments
from tests.support.registry import free_port

EXAMPLE = REPO / "examples" / "hello-api"
IMAGE = "bayat-test/hello-api:e2e"


@pytest.fixture(scope="session")
def hello_image() -> str:
    """The bundled example built once from the local base image (no public image can be pulled here)."""
    base = os.environ.get("BAYAT_BASE_IMAGE", "bayat/python-base:bookworm")
    subprocess.run(["docker", "build", "-q", "--build-arg", f"BASE_IMAGE={base}", "-t", IMAGE, str(EXAMPLE)],
                   check=True, capture_output=True)
    return IMAGE


FAST_VERIFY = {"retries": 2, "retry_delay": "200ms", "deadline": "20s",
               "smoke_tests": [{"name": "health", "path": "/health"},
                               {"name": "home", "path": "/", "expect": {"body": "hello"}}]}


@dataclass
class DeployRepo:
    root: Path
    project: str
    ports: dict[str, int]
    state: Path

    def policy(self, environments: dict | None = None, **top) -> None:
        document = {
            "project": self.project,
            "target": {"type": "docker-host", "state_dir": str(self.state / "{environment}")},
            "registries": {"containers": {"url": "127.0.0.1:5999/bayat", "insecure": True}},
            "defaults": {"verify": FAST_VERIFY, "rollback": {"max_duration": "5s"}},
            "environments": {},
            **top,
        }
        for name, port in self.ports.items():
            document["environments"][name] = {"target": {"port": port}}
        for name, settings in (environments or {}).items():
            environment = document["environments"].setdefault(name, {})
            target = {**environment.get("target", {}), **settings.get("target", {})}  # keeps the test's port
            environment.update(settings)
            if target:
                environment["target"] = target
        (self.root / ".bayat").mkdir(exist_ok=True)
        (self.root / ".bayat" / "deploy.yml").write_text(yaml.safe_dump(document, sort_keys=False))

    def run(self, *args: str, env: dict | None = None, timeout: float = 240):
        return run_command("bayat-deploy", *args, cwd=self.root, env=env, timeout=timeout)

    def deploy(self, environment: str, version: str, *extra: str, image: str = IMAGE):
        return self.run("deploy", "--env", environment, "--version", version, "--image", image, *extra)

    def url(self, environment: str) -> str:
        return f"http://127.0.0.1:{self.ports[environment]}"

    def history(self, environment: str) -> list[dict]:
        return json.loads(self.run("history", "--env", environment, "--format", "json").stdout)

    def state_of(self, environment: str) -> dict:
        return json.loads((self.state / environment / "state.json").read_text())


@pytest.fixture
def deploy_repo(tmp_path, hello_image):
    project = f"t{uuid.uuid4().hex[:8]}"
    repo = DeployRepo(tmp_path / "repo", project, {e: free_port() for e in
                                                   ("development", "testing", "staging", "production")},
                      tmp_path / "state")
    repo.root.mkdir()
    repo.policy()
    yield repo
    stop_deployments(project, repo.state)
