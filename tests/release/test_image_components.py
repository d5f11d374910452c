"""A user repository's pipeline of released components runs in the bayat-deploy image and installs nothing.

The image is built the way scripts/release builds it (release/Dockerfile over scripts/build-action-dist's
dist/, the tools of release/tools.json), pushed to the real docker-registry with htpasswd auth, and
removed from the engine; the components are pinned to it by version and digest with scripts/release's own
pin_components. gitlab-ci-local then runs the jobs with its Docker executor (each job in a container of
the image, pulled from the registry with the runner's credentials), as a GitLab runner would. Its helper
image (docker.io/firecow/gitlab-ci-local-util) cannot be pulled here; the local base image stands in, as
the helper only copies the project and artifacts in and out of the job's volumes.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.generate.test_gitlab_local import gitlab_ci_local, job_log, results
from tests.release.test_catalog_release import release_module
from tests.support.act import action_checkout
from tests.support.gitrepo import GitRepo
from tests.support.registry import start_registry

pytestmark = [pytest.mark.docker, pytest.mark.e2e]
BASE_IMAGE = os.environ.get("BAYAT_BASE_IMAGE", "bayat/python-base:bookworm")

USER_PIPELINE = """\
stages: [build]
include:
  - local: templates/version.yml
  - local: templates/release-notes.yml
    inputs:
      stage: build
"""


def user_repo(root: Path) -> GitRepo:
    """An application repository with the minimal policy, whose `origin` gitlab-ci-local accepts."""
    repo = GitRepo(root)
    repo.git("remote", "add", "origin", "https://gitlab.example.com/acme/app.git")
    (repo.root / ".bayat").mkdir()
    (repo.root / ".bayat" / "deploy.yml").write_text("project: app\n")
    (repo.root / ".git" / "info" / "exclude").write_text(".gitlab-ci-local*/\n")
    return repo


def assert_pip_only_in_the_opt_in(text: str) -> None:
    """Every `pip install` is inside the bootstrap's branch for a set BAYAT_DEPLOY_PACKAGE."""
    installs = [m.start() for m in re.finditer("pip install", text)]
    if installs:
        assert 'if [ -z "$BAYAT_DEPLOY_PACKAGE" ]' in text
        opt_in = text.index('if [ -z "$BAYAT_DEPLOY_PACKAGE" ]')
        assert all(opt_in < at for at in installs), text[:installs[0]][-500:]


def generated_pipeline(repo: GitRepo, image: str) -> str:
    """`generate-pipeline --platform gitlab --image IMAGE` in the repository; the .gitlab-ci.yml it wrote."""
    generate = subprocess.run([sys.executable, "-m", "bayat_deploy.generate", "--platform", "gitlab", "--image", image,
                               "--dir", str(repo.root)], capture_output=True, text=True, timeout=120)
    assert generate.returncode == 0, generate.stderr
    return (repo.root / ".gitlab-ci.yml").read_text()


def run_in_docker(repo: GitRepo, base: Path, config: Path, *jobs: str) -> subprocess.CompletedProcess:
    """gitlab-ci-local's Docker executor, pulling with the runner's registry credentials (DOCKER_CONFIG)."""
    return subprocess.run([gitlab_ci_local(), "--no-color", "--home", str(base / "gcl-home"),
                           "--max-job-name-padding", "0", "--variable", "GITLAB_CI=true",
                           # its helper container only copies files into volumes: any local image with a shell
                           "--helper-image", BASE_IMAGE, *jobs],
                          cwd=repo.root, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "DOCKER_CONFIG": str(config)})


def docker(*args: str, env: dict | None = None) -> str:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, (args[:3], proc.stderr[-2000:])
    return proc.stdout.strip()


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """(the image by version and digest, DOCKER_CONFIG with the registry's credentials, the action checkout)."""
    base = tmp_path_factory.mktemp("image")
    registry = start_registry(base / "registry")
    checkout = action_checkout(base / "deploy-action")
    release = release_module(checkout)
    context = base / "context"
    subprocess.run([sys.executable, str(checkout / "scripts" / "build-action-dist"), "--out", str(context / "dist")],
                   check=True, capture_output=True, timeout=600)
    shutil.copy2(checkout / "release" / "Dockerfile", context / "Dockerfile")
    packages = release.stage_image_tools(context / "tools")
    config = base / "docker-config"
    config.mkdir()
    auth = base64.b64encode(f"{registry.username}:{registry.password}".encode()).decode()
    (config / "config.json").write_text(json.dumps({"auths": {registry.host: {"auth": auth}}}))
    env = {**os.environ, "DOCKER_CONFIG": str(config)}
    tag = f"{registry.host}/bayat/deploy-action:1.0.0"
    try:
        docker("build", "--quiet", "--build-arg", f"BASE_IMAGE={BASE_IMAGE}", "--build-arg",
               f"DEBIAN_PACKAGES={packages}", "-t", tag, str(context))
        docker("push", "--quiet", tag, env=env)
        digest = docker("inspect", "--format", "{{index .RepoDigests 0}}", tag).split("@", 1)[1]
        docker("rmi", tag)  # the jobs pull it from the registry, by digest
        yield f"{tag}@{digest}", config, checkout
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)
        images = subprocess.run(["docker", "images", "-q", f"{registry.host}/bayat/deploy-action"],
                                capture_output=True, text=True).stdout.split()
        if images:
            subprocess.run(["docker", "rmi", "-f", *images], capture_output=True)
        registry.stop()


def test_released_components_run_in_the_pinned_image_and_install_nothing(published, tmp_path):
    image, config, checkout = published
    release = release_module(checkout)
    release.pin_components(image)
    repo = user_repo(tmp_path / "app")
    shutil.copytree(checkout / "templates", repo.root / "templates")
    shutil.copytree(checkout / "templates-lib", repo.root / "templates-lib")  # what the components include
    (repo.root / ".gitlab-ci.yml").write_text(USER_PIPELINE)
    repo.commit("feat: the first feature")
    for component in [*(repo.root / "templates").glob("*.yml"), repo.root / "templates-lib" / "bootstrap.yml"]:
        assert_pip_only_in_the_opt_in(component.read_text())

    proc = run_in_docker(repo, tmp_path, config, "version", "release-notes")
    assert results(proc.stdout) == {"version": "PASS", "release-notes": "PASS"}, proc.stdout[-4000:] + proc.stderr
    for job in ("version", "release-notes"):
        log = job_log(proc.stdout, job)
        assert image in log, log[:2000]  # gitlab-ci-local names the image the job ran in
        assert ": from the job image, nothing installed" in log, log[-2000:]
        assert "pip" not in log and "virtualenv" not in log, log[-2000:]
    # the stand-in helper does not carry artifacts out of the job's volume: the results are read from the logs
    assert re.search(r"^version\s+> 0\.1\.0\s*$", job_log(proc.stdout, "version"), re.M), job_log(proc.stdout, "version")
    assert "0.1.0" in job_log(proc.stdout, "release-notes")


def test_a_generated_pipeline_pinned_to_the_image_runs_in_it_and_installs_nothing(published, tmp_path):
    image, config, _ = published
    repo = user_repo(tmp_path / "app")
    pipeline = generated_pipeline(repo, image)
    assert f"image: {image}" in pipeline and "BAYAT_DEPLOY_PACKAGE:\n    value: ''" in pipeline
    assert_pip_only_in_the_opt_in(pipeline)
    repo.commit("feat: the first feature")

    proc = run_in_docker(repo, tmp_path, config, "version")
    assert results(proc.stdout) == {"version": "PASS"}, proc.stdout[-4000:] + proc.stderr
    log = job_log(proc.stdout, "version")
    assert image in log and ": from the job image, nothing installed" in log, log[-2000:]
    assert "pip" not in log and "virtualenv" not in log, log[-2000:]


def after_scripts(pipeline: str) -> dict[str, str]:
    """job -> its after_script as one shell script, for every job of a pipeline that has one."""
    import yaml

    documents = list(yaml.safe_load_all(pipeline))
    jobs = documents[-1]
    return {name: "\n".join(job["after_script"]) for name, job in jobs.items()
            if isinstance(job, dict) and job.get("after_script")}


def test_no_job_needs_an_after_script_to_find_bayat_deploy(published, tmp_path):
    """GitLab runs after_script in a new shell, where the bootstrap's PATH is gone. The announcements and the
    evidence bundle are therefore the commands' own (`deploy --notify --evidence-bundle`, `rollback --notify`),
    in the generated jobs and the components alike, and nothing is left to an after_script."""
    image, config, checkout = published
    repo = user_repo(tmp_path / "app")
    pipeline = generated_pipeline(repo, image)
    assert not after_scripts(pipeline)
    for component in sorted((checkout / "templates").glob("*.yml")):
        assert not after_scripts(component.read_text()), component.name
