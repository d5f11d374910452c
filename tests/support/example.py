"""The bundled example service set up to run its pipeline on this machine, and torn down again.

Shared by the act and gitlab-ci-local end-to-end tests, the demo and the benchmarks: a copy of
examples/hello-api whose policy points at the local registry, a gpg signing key, Prometheus and a
Docker-host state directory under the scratch folder.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "hello-api"
SCRATCH = (".bayat", "reports", "version.json", "__pycache__", ".pytest_cache")


def copy_example(dest: Path) -> Path:
    """The example's files without its policy and without what earlier runs left in the tree."""
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns(*SCRATCH))
    return dest


def local_policy(base: Path, *, project: str, registry, gpg, prometheus_url: str, port: int) -> dict:
    """The example's own policy, pointed at this machine: development on `port` behind nginx, images
    signed with gpg into a local signature store, state and signatures under `base`."""
    policy = yaml.safe_load((EXAMPLE / ".bayat" / "deploy.yml").read_text())
    policy.update(project=project, monitoring={"url": prometheus_url}, artifacts=[{
        "type": "docker-image",
        "build_args": {"BASE_IMAGE": os.environ.get("BAYAT_BASE_IMAGE", "bayat/python-base:bookworm")}}])
    policy["registries"] = {"containers": {"url": f"{registry.host}/bayat", "insecure": True, "signing": {
        "method": "gpg", "key": gpg.fingerprints["release@example.com"], "keyring": str(gpg.path),
        "signature_store": str(base / "signatures")}}}
    policy["target"] = {"type": "docker-host", "state_dir": str(base / "state" / "{environment}")}
    policy["environments"]["development"] = {"url": f"http://127.0.0.1:{port}", "target": {"port": port},
                                             "monitoring": {"duration": "20s"}}
    return policy


def write_policy(repo_dir: Path, policy: dict) -> None:
    (repo_dir / ".bayat").mkdir(exist_ok=True)
    (repo_dir / ".bayat" / "deploy.yml").write_text(yaml.safe_dump(policy, sort_keys=False))


def stop_deployments(project: str, state: Path) -> None:
    """Stop what deployments of `project` left running: every environment's router under `state`, and the
    project's containers (found by the label the Docker-host target puts on them)."""
    for prefix in state.glob("*/nginx"):
        subprocess.run(["nginx", "-p", str(prefix), "-c", "nginx.conf", "-s", "quit"], capture_output=True)
    for pid_file in state.glob("*/haproxy/haproxy.pid"):
        try:
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGTERM)
        except (OSError, ValueError, IndexError):
            pass
    ids = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=io.bayat.project={project}"],
                         capture_output=True, text=True).stdout.split()
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)
