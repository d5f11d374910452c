"""The bundled example as a scratch repository whose policy publishes to the test registry."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

from tests.support.example import EXAMPLE
from tests.support.gitrepo import GitRepo
from tests.support.registry import LocalRegistry

BASE_IMAGE_ARG = ["--build-arg", "BASE_IMAGE=bayat/python-base:bookworm"]
EXAMPLE_REGISTRY_BLOCK = "  containers:\n    url: 127.0.0.1:5000/bayat\n    insecure: true\n"


def unique_namespace(prefix: str = "t") -> str:
    """A registry path of its own per test module: the registry is shared by the whole session."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def example_repo(dest: Path, registry: LocalRegistry, namespace: str, *, signing: str = "",
                 extra_policy: str = "") -> GitRepo:
    """Copy examples/hello-api to `dest`, point its registry at `registry`/<namespace>, commit it.

    `signing` is the YAML body of `registries.containers.signing` (indented by six spaces)."""
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns(".bayat/evidence", ".pytest_cache", "__pycache__",
                                                                 "reports", "version.json"))
    policy = dest / ".bayat" / "deploy.yml"
    text = policy.read_text()
    assert EXAMPLE_REGISTRY_BLOCK in text, "the example's registry block changed; update tests/support/imagerepo.py"
    block = f"  containers:\n    url: {registry.host}/{namespace}\n    insecure: true\n"
    if signing:
        block += "    signing:\n" + signing
    policy.write_text(text.replace(EXAMPLE_REGISTRY_BLOCK, block) + extra_policy)
    repo = GitRepo(dest)
    repo.commit("feat: hello api")
    return repo


def credentials_env(registry: LocalRegistry) -> dict[str, str]:
    """The variables the standard's registry entry reads its credentials from."""
    return {"REGISTRY_USERNAME": registry.username, "REGISTRY_PASSWORD": registry.password}


def remove_images(prefix: str) -> None:
    """Remove the local images tagged under `prefix` (what a test built or pulled), nothing else."""
    listing = subprocess.run(["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}"],
                             capture_output=True, text=True).stdout.split()
    mine = [ref for ref in listing if ref.startswith(prefix)]
    if mine:
        subprocess.run(["docker", "image", "rm", "--force", *mine], capture_output=True)


def tools_env() -> dict[str, str]:
    """PATH with the project's tool directory first, as scripts/env.sh sets it (helm lives in .tools/bin)."""
    import os

    tools = Path(__file__).resolve().parents[2] / ".tools" / "bin"
    return {"PATH": f"{tools}{os.pathsep}{os.environ.get('PATH', '')}"}
