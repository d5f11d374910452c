"""The action's shipped dist/ (scripts/build-action-dist): what a released `@v1` runs without installing.

Built for real with pip from this machine's package index; run with the machine's own /usr/bin/python3
(not the project's virtualenv), with `-S` so no site-packages can fill a gap; and the repository's
actions workflow run under act from a release checkout, where no step may make a virtualenv.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.support.act import action_checkout, failures, job_results
from tests.support.gitrepo import GitRepo
from tests.support.tools import tool

SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/bin")


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("action") / "dist"
    subprocess.run([sys.executable, str(REPO / "scripts" / "build-action-dist"), "--out", str(out)], check=True,
                   capture_output=True, timeout=600)
    return out


def test_the_dist_is_pure_python_and_its_manifest_is_true(dist):
    manifest = json.loads((dist / "DIST.json").read_text())
    from bayat_deploy import __version__

    assert manifest["bayat_deploy"] == __version__
    assert {"jinja2", "pyyaml", "requests", "docker", "semver"} <= set(manifest["distributions"])
    files = [p for p in dist.rglob("*") if p.is_file() and p.name != "DIST.json"]
    assert not [p for p in files if p.suffix in (".so", ".pyd", ".dylib", ".pyc")]
    assert not (dist / "site" / "bin").exists()
    assert {str(p.relative_to(dist)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files} == manifest["files"]


@pytest.mark.skipif(SYSTEM_PYTHON is None, reason="no system python3")
def test_the_runners_own_python_runs_it_with_nothing_else_installed(dist, tmp_path):
    example = REPO / "examples" / "hello-api"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    version = subprocess.run([SYSTEM_PYTHON, "-I", "-S", str(dist / "bayat-deploy"), "--version"], env=env,
                             capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("bayat-deploy "), version.stderr
    validate = subprocess.run([SYSTEM_PYTHON, "-I", "-S", str(dist / "bayat-deploy"), "policy", "validate"],
                              cwd=example, env=env, capture_output=True, text=True, timeout=60)
    assert validate.returncode == 0, validate.stderr
    assert "ok: project hello-api" in validate.stdout + validate.stderr
    # templates and schemas are package data read from the vendored tree
    rendered = subprocess.run([SYSTEM_PYTHON, "-I", "-S", str(dist / "bayat-deploy"), "policy", "schema"],
                              env=env, capture_output=True, text=True, timeout=60)
    assert rendered.returncode == 0 and json.loads(rendered.stdout)["title"], rendered.stderr


@pytest.mark.e2e
def test_a_release_checkout_runs_every_action_without_installing(dist, tmp_path):
    checkout = action_checkout(tmp_path / "deploy-action")
    shutil.copytree(dist, checkout / "dist")
    repo = GitRepo(checkout)
    repo.git("add", "-f", "dist")  # a release commit carries dist/ although main ignores it
    repo.commit("feat: the action pack")
    venv = tmp_path / "venv"
    proc = subprocess.run([tool("act"), "push", "-W", ".github/workflows/actions.yml",
                           "-P", "ubuntu-latest=-self-hosted", "--no-cache-server",
                           "--artifact-server-addr", "127.0.0.1", "--env", f"BAYAT_VENV={venv}"],
                          cwd=checkout, capture_output=True, text=True, timeout=1200,
                          env={**os.environ, "PATH": f"{REPO / '.tools' / 'bin'}:{os.environ['PATH']}"})
    assert job_results(proc.stdout) == {"policy, version, config, test, release notes": "success",
                                        "gates fail closed": "success"}, failures(proc.stdout)
    assert proc.returncode == 0
    import re

    from bayat_deploy import __version__

    started = re.findall(rf"bayat-deploy {re.escape(__version__)}: ([^\n]*?) in \d+\.\d+s", proc.stdout)
    assert len(started) >= 8 and set(started) == {"shipped with the action (dist/), nothing installed"}, started
    assert "virtualenv" not in proc.stdout and not venv.exists()


def test_scan_on_a_runner_without_trivy_fetches_the_pinned_scanners_into_the_tool_cache(dist, tmp_path):
    """A release checkout's first `scan` step takes trivy and bandit from the runner's tool cache, by
    release/tools.json's checksums; a later job on the same runner reuses them."""
    checkout = tmp_path / "deploy-action"
    for part in ("scripts/bootstrap-action", "scripts/fetch-tools", "release/tools.json"):
        (checkout / part).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / part, checkout / part)
    shutil.copytree(dist, checkout / "dist")
    python_dir = str(Path(sys.executable).resolve().parent)  # a python3 with pip, and no trivy beside it
    env = {"PATH": f"{python_dir}:/usr/bin:/bin", "HOME": str(tmp_path), "RUNNER_TOOL_CACHE": str(tmp_path / "cache")}
    script = ('source "$1/scripts/bootstrap-action" scan && command -v trivy bandit '
              '&& bandit --version >/dev/null && "${BAYAT_CLI[@]}" --version')
    for _ in range(2):
        proc = subprocess.run(["bash", "-c", script, "-", str(checkout)], env=env, capture_output=True, text=True,
                              timeout=600)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.split()[:2] == [str(tmp_path / "cache" / "bayat-deploy-tools" / "trivy" / "0.76.0" / "bin" / "trivy"),
                                           str(tmp_path / "cache" / "bayat-deploy-tools" / "bandit" / "1.9.4" / "bin" / "bandit")]
        assert "trivy 0.76.0, bandit 1.9.4 from the tool cache" in proc.stderr
