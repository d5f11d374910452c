"""The generated GitHub workflow of the bundled example, run for real under act in host mode, every job on a
"fresh runner": its own HOME, temp dirs and bayat-deploy install (tests/support/act.py's bash shim), the way
GitHub-hosted runners give each job a new machine. The docker-host target's jobs run on the host's own
runner (the policy's default placement), so what persists between jobs and runs is only what the host keeps
in the target's state_dir, and what the pipeline passes on (outputs, artifacts, the registry, tags).

act runs the jobs on this machine; `--local-repository bayat/deploy-action@v1=<this tree>` makes the
workflow's own `uses: bayat/deploy-action/...@v1` lines run the code under test. No public service is
reachable from here, so three stand-ins are used, each said where: GitHub's artifact actions are mapped
to local actions built on GitHub's own artifact client (tests/support/act-actions); the run's approvals
come from a local HTTP server answering GitHub's documented `environment-approvals` shape (an empty
list: development needs no approval), which also keeps the GitHub Deployments the deploy and rollback
jobs write (validated against GitHub's OpenAPI description, tests/support/githubapi.py); and trivy reads
a tiny real vulnerability database.
Everything else is real: the registry with htpasswd, Docker, nginx, Prometheus, trivy, helm, gpg, skopeo.
"""

from __future__ import annotations

import json
import re
import os
import subprocess
import uuid
from pathlib import Path

import pytest
import requests

from bayat_deploy.generate.github import PINS
from tests.conftest import REPO
from tests.support.act import action_checkout, artifact_actions, failures, fresh_runner_shim, job_results
from tests.support.githubapi import FakeGitHubDeployments
from tests.support.gitrepo import GitRepo
from tests.support.example import copy_example, local_policy, stop_deployments, write_policy
from tests.support.gpgkeys import make_gpg_home
from tests.support.prometheus import start_prometheus
from tests.support.registry import free_port
from tests.support.tools import tool
from tests.support.trivydb import DEFAULT_ADVISORIES, build_trivy_db

pytestmark = [pytest.mark.docker, pytest.mark.e2e]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, registry):
    base = tmp_path_factory.mktemp("act")
    project = f"act-{uuid.uuid4().hex[:6]}"
    port = free_port()
    gpg = make_gpg_home("release@example.com")
    cache = base / "trivy"
    build_trivy_db(cache, [a for a in DEFAULT_ADVISORIES if a.package != "bash"])  # a clean base image
    state = base / "state"
    prometheus = start_prometheus(base / "prometheus", state / "development" / "prometheus" / "targets.json")
    repo_dir = copy_example(base / "repo")
    write_policy(repo_dir, local_policy(base, project=project, registry=registry, gpg=gpg,
                                        prometheus_url=prometheus.url, port=port))
    repo = GitRepo(repo_dir)
    origin = base / "origin.git"  # the release tag is pushed here
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    # act names the repository after origin's fetch URL; pushes go to the local bare repository
    repo.git("remote", "add", "origin", f"https://github.com/acme/{project}.git")
    repo.git("remote", "set-url", "--push", "origin", str(origin))
    subprocess.run([str(REPO / ".venv" / "bin" / "generate-pipeline")], cwd=repo_dir, check=True,
                   capture_output=True)
    repo.commit("feat: the hello service")
    approvals = FakeGitHubDeployments(repository=f"acme/{project}", token="act-test-token")
    context = {"base": base, "repo": repo, "origin": origin, "project": project, "port": port, "cache": cache,
               "action": action_checkout(base / "action"), "artifacts": artifact_actions(base / "artifact-actions"),
               "approvals": approvals, "registry": registry, "gpg": gpg,
               "shim": fresh_runner_shim(base / "shim"), "runs": []}
    yield context
    approvals.close()
    prometheus.stop()
    stop_deployments(project, base / "state")
    gpg.remove()


def pip_config() -> list[str]:
    """The runner image's pip settings (this machine's package mirror), which a fresh HOME would lose."""
    config = Path.home() / ".config" / "pip" / "pip.conf"
    return ["--env", f"PIP_CONFIG_FILE={config}"] if config.is_file() else []


def act(pipeline, job: str | None, *, event: str = "push", workflow: str = "deploy.yml",
        event_file: Path | None = None) -> subprocess.CompletedProcess:
    """Run the workflow up to `job` (None: all of it). A push gets the repository's secrets; any other event
    none, as GitHub gives a pull request from a fork none."""
    runners = pipeline["base"] / f"runners-{len(pipeline['runs']) + 1}"
    pipeline["runs"].append(runners)
    artifacts = pipeline["artifacts"]
    registry = pipeline["registry"]
    secrets = ["-s", f"REGISTRY_USERNAME={registry.username}", "-s", f"REGISTRY_PASSWORD={registry.password}",
               "-s", "GITHUB_TOKEN=act-test-token"] if event == "push" else []
    argv = [tool("act"), event, *(["-j", job] if job else []), "-W", f".github/workflows/{workflow}",
            *(["-e", str(event_file)] if event_file else []),
            "-P", "ubuntu-latest=-self-hosted", "-P", "self-hosted=-self-hosted",
            "--local-repository", f"bayat/deploy-action@v1={pipeline['action']}",
            "--local-repository", f"{PINS['upload'].repository}@{PINS['upload'].sha}={artifacts['upload']}",
            "--local-repository", f"{PINS['download'].repository}@{PINS['download'].sha}={artifacts['download']}",
            "--artifact-server-path", str(pipeline["base"] / f"artifacts-{uuid.uuid4().hex[:6]}"),
            "--artifact-server-addr", "127.0.0.1", "--artifact-server-port", str(free_port()),
            "--no-cache-server", *secrets,
            "--env", f"TRIVY_CACHE_DIR={pipeline['cache']}",
            "--env", f"GITHUB_API_URL={pipeline['approvals'].url}",
            "--env", f"FRESH_RUNNERS={runners}", *pip_config()]
    env = {**os.environ, "PATH": f"{pipeline['shim']}:{REPO / '.tools' / 'bin'}:{os.environ['PATH']}",
           **pipeline["gpg"].env}
    env.pop("BAYAT_VENV", None)
    proc = subprocess.run(argv, cwd=pipeline["repo"].root, capture_output=True, text=True, env=env, timeout=1500)
    (pipeline["base"] / f"act-{job}.log").write_text(proc.stdout + proc.stderr)
    return proc


def serving(pipeline) -> str:
    return requests.get(f"http://127.0.0.1:{pipeline['port']}/version", timeout=5).json()["version"]


def test_the_example_pipeline_runs_through_deploy_and_verify_then_a_broken_release_is_rolled_back(pipeline):
    first = act(pipeline, "verify-development")
    results = job_results(first.stdout)
    assert first.returncode == 0, failures(first.stdout) + first.stderr[-2000:]
    assert results == {job: "success" for job in ("version", "build", "test", "scan", "release-notes", "publish",
                                                  "deploy-development", "verify-development")}, results
    assert serving(pipeline) == "0.1.0"
    registry = pipeline["registry"]
    assert "0.1.0" in registry.tags(f"bayat/{pipeline['project']}")
    # every job was a machine of its own: its own HOME, its own install; later steps of a job reuse it
    homes = sorted(p.parent.name for p in pipeline["runs"][0].glob("*/home"))
    assert homes == sorted(results), homes
    installs = re.findall(r"\[deploy/([\w-]+)\s*\].*bayat-deploy \S+: virtualenv \S+ made", first.stdout)
    assert sorted(set(installs)) == sorted(installs) and set(installs) <= set(results), installs
    assert re.search(r"\[deploy/verify-development\s*\].*: virtualenv \S+ reused from an earlier step", first.stdout)
    assert subprocess.run(["git", "tag"], cwd=pipeline["origin"], capture_output=True, text=True).stdout == "v0.1.0\n"

    # A release that passes its own tests but is broken in the environment (a packaging mistake makes the
    # home page fail): its smoke test fails, the rollback job runs, and 0.1.0 serves on.
    # what the next checkout (fetch-depth: 0) sees
    pipeline["repo"].git("fetch", "--quiet", str(pipeline["origin"]), "refs/tags/*:refs/tags/*")
    dockerfile = pipeline["repo"].root / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("PORT=8080", "PORT=8080 FAIL_RATE=1"))
    pipeline["repo"].commit("fix: tune the container environment")
    second = act(pipeline, "rollback-development")
    results = job_results(second.stdout)
    assert results.get("deploy-development") == "failure", failures(second.stdout)
    assert results.get("rollback-development") == "success", failures(second.stdout)
    assert serving(pipeline) == "0.1.0"
    records = [json.loads(line) for line in (pipeline["base"] / "state" / "development" / "records.jsonl")
               .read_text().splitlines()]
    # the deploy written ahead (in-progress), then its result pointing back at it; the rollback changed
    # nothing (0.1.1 never took traffic), so it has no in-progress entry
    assert [(r["action"], r["version"], r["outcome"]) for r in records][-3:] == [
        ("deploy", "0.1.1", "in-progress"), ("deploy", "0.1.1", "failed"), ("rollback", "0.1.0", "succeeded")]
    assert records[-2]["details"]["attempt"] == records[-3]["id"] and "nothing to undo" in records[-1]["reason"]
    # every entry links the run that made it, on the repository act derived from origin
    assert all(r["pipeline_url"].startswith(f"https://github.com/acme/{pipeline['project']}/actions/runs/")
               for r in records), [r["pipeline_url"] for r in records]
    # a third machine (a fresh clone, a fresh HOME) on the host reads all of it: history lives with the target
    laptop = pipeline["base"] / "third-machine"
    subprocess.run(["git", "clone", "-q", str(pipeline["repo"].root), str(laptop / "repo")], check=True)
    (laptop / "home").mkdir()
    env = {"HOME": str(laptop / "home"), "PATH": f"{REPO / '.tools' / 'bin'}:/usr/bin:/bin"}
    history = subprocess.run([str(REPO / ".venv" / "bin" / "bayat-deploy"), "history", "--environment",
                              "development", "--format", "json"], cwd=laptop / "repo", env=env,
                             capture_output=True, text=True)
    assert history.returncode == 0, history.stderr
    assert [(e["action"], e["version"], e["outcome"]) for e in json.loads(history.stdout)] == [
        ("deploy", "0.1.0", "succeeded"), ("deploy", "0.1.1", "failed"), ("rollback", "0.1.0", "succeeded")]
    # and GitHub's own deployment history says the same, readable without any access to the target
    platform = subprocess.run([str(REPO / ".venv" / "bin" / "bayat-deploy"), "history", "--environment",
                               "development", "--source", "platform", "--format", "json"], cwd=laptop / "repo",
                              env={**env, "GITHUB_API_URL": pipeline["approvals"].url, "GITHUB_TOKEN": "act-test-token",
                                   "GITHUB_REPOSITORY": f"acme/{pipeline['project']}"}, capture_output=True, text=True)
    assert platform.returncode == 0, platform.stderr
    assert [(e["action"], e["version"], e["outcome"]) for e in json.loads(platform.stdout)] == [
        ("deploy", "0.1.0", "succeeded"), ("deploy", "0.1.1", "failed"), ("rollback", "0.1.0", "succeeded")]
    assert not pipeline["approvals"].problems, pipeline["approvals"].problems


def test_a_pull_request_is_built_tested_and_scanned_and_nothing_is_published_or_deployed(pipeline):
    registry, repo = pipeline["registry"], pipeline["repo"]
    image = f"bayat/{pipeline['project']}"
    records = pipeline["base"] / "state" / "development" / "records.jsonl"
    before = (sorted(registry.tags(image)), records.read_text() if records.exists() else "",
              subprocess.run(["git", "tag"], cwd=pipeline["origin"], capture_output=True, text=True).stdout)
    repo.git("checkout", "-q", "-b", "feature/greeting")
    (repo.root / "app" / "NOTES.md").write_text("a proposed change\n")
    repo.commit("feat: a proposed greeting")
    event = pipeline["base"] / "pull-request.json"
    event.write_text(json.dumps({"action": "opened", "number": 7, "pull_request": {
        "number": 7, "head": {"ref": "feature/greeting", "sha": repo.head}, "base": {"ref": "main"}}}))
    try:
        run = act(pipeline, None, event="pull_request", workflow="pull-request.yml", event_file=event)
    finally:
        repo.git("checkout", "-q", "main")
    results = job_results(run.stdout)
    assert run.returncode == 0, failures(run.stdout) + run.stderr[-2000:]
    assert results == {job: "success" for job in ("version", "build", "test", "scan")}, results
    # a pre-release version, never the next release: a pull request proposes, it does not release
    assert re.search(r"::set-output:: version=\d+\.\d+\.\d+-rc\.\d+\+[0-9a-f]{7}$", run.stdout, re.M), \
        run.stdout[-3000:]
    after = (sorted(registry.tags(image)), records.read_text() if records.exists() else "",
             subprocess.run(["git", "tag"], cwd=pipeline["origin"], capture_output=True, text=True).stdout)
    assert after == before, "a pull request published, tagged or deployed something"
