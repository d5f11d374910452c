"""Runner placement: the deploy, verify and rollback jobs of an environment run where its target and its
state are (policy `runner:`); a docker-host target's jobs go to the host's self-hosted runner by default.
The rendered workflows pass actionlint (with the generated .github/actionlint.yaml naming the custom
labels) and zizmor; `policy validate` warns where state would live on a throwaway hosted runner."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from bayat_deploy.generate.render import render_files, write
from bayat_deploy.policy.loader import load_policy
from tests.support.example import EXAMPLE
from tests.support.tools import actionlint, tool

KUBERNETES = """project: payments
artifacts: [{ type: docker-image }]
target: { type: kubernetes, chart: deploy/chart }
defaults:
  runner: { group: deployers, labels: [self-hosted, linux, k8s-deployer], tags: [k8s-deployer] }
environments:
  development:
    runner: { labels: [ubuntu-latest], group: null, tags: [] }
"""


def _render(tmp_path: Path, policy: str | None = None) -> tuple[Path, dict]:
    repo = tmp_path / "repo"
    (repo / ".bayat").mkdir(parents=True)
    text = policy if policy is not None else (EXAMPLE / ".bayat" / "deploy.yml").read_text()
    (repo / ".bayat" / "deploy.yml").write_text(text)
    loaded = load_policy(repo / ".bayat" / "deploy.yml")
    files = {**render_files(loaded, "github"), **render_files(loaded, "gitlab")}
    write(repo, files)
    return repo, files


def _lint(repo: Path) -> None:
    workflows = sorted(str(p) for p in (repo / ".github" / "workflows").glob("*.yml"))
    lint = subprocess.run(actionlint(repo, *workflows), capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    audit = subprocess.run([tool("zizmor"), "--offline", "--format", "json", "--min-severity", "medium",
                            str(repo / ".github" / "workflows")], capture_output=True, text=True, cwd=repo)
    assert json.loads(audit.stdout or "[]") == [], audit.stdout


def test_a_docker_host_environment_deploys_from_the_hosts_own_runner(tmp_path):
    repo, files = _render(tmp_path)
    jobs = yaml.safe_load(files[".github/workflows/deploy.yml"])["jobs"]
    for env in ("development", "staging", "production"):
        for job in (f"deploy-{env}", f"verify-{env}", f"rollback-{env}"):
            assert jobs[job]["runs-on"] == ["self-hosted", env], job
    assert jobs["build"]["runs-on"] == jobs["version"]["runs-on"] == "ubuntu-latest"
    manual = yaml.safe_load(files[".github/workflows/rollback.yml"])["jobs"]
    assert manual["rollback-staging"]["runs-on"] == ["self-hosted", "staging"]
    assert manual["rollback-staging"]["if"] == "${{ inputs.environment == 'staging' }}"
    assert yaml.safe_load(files[".github/actionlint.yaml"]) == {
        "self-hosted-runner": {"labels": ["development", "production", "staging", "testing"]}}
    gitlab = yaml.safe_load(files[".gitlab-ci.yml"])
    assert gitlab["deploy-staging"]["tags"] == gitlab["rollback-staging"]["tags"] == ["staging"]
    assert "tags" not in gitlab["build"]
    _lint(repo)


def test_runner_groups_labels_and_tags_come_from_the_policy(tmp_path):
    repo, files = _render(tmp_path, KUBERNETES)
    jobs = yaml.safe_load(files[".github/workflows/deploy.yml"])["jobs"]
    assert jobs["deploy-production"]["runs-on"] == {"group": "deployers",
                                                    "labels": ["self-hosted", "linux", "k8s-deployer"]}
    assert jobs["deploy-development"]["runs-on"] == "ubuntu-latest"
    manual = yaml.safe_load(files[".github/workflows/rollback.yml"])["jobs"]
    assert set(manual) == {f"rollback-{env}" for env in ("development", "testing", "staging", "production")}
    gitlab = yaml.safe_load(files[".gitlab-ci.yml"])
    assert gitlab["verify-production"]["tags"] == ["k8s-deployer"]
    assert "tags" not in gitlab["deploy-development"]
    _lint(repo)


def test_one_runner_for_every_environment_keeps_one_manual_rollback_job(tmp_path):
    """One runner and one secret name (a GitHub environment secret has a value per environment)."""
    _, files = _render(tmp_path, "project: shop\ntarget: { type: kubernetes, chart: chart }\n"
                                 "defaults:\n  runner: { labels: [self-hosted, deployer] }\n"
                                 "  credentials: { kubeconfig: KUBECONFIG }\n")
    manual = yaml.safe_load(files[".github/workflows/rollback.yml"])["jobs"]
    assert list(manual) == ["rollback"] and manual["rollback"]["runs-on"] == ["self-hosted", "deployer"]
    # per-environment secrets (the default KUBECONFIG_<ENVIRONMENT>) need a job per environment
    _, files = _render(tmp_path / "2", "project: shop\ntarget: { type: kubernetes, chart: chart }\n"
                                       "defaults:\n  runner: { labels: [self-hosted, deployer] }\n")
    assert len(yaml.safe_load(files[".github/workflows/rollback.yml"])["jobs"]) == 4


def test_validate_warns_where_state_would_live_on_a_hosted_runner(bayat, tmp_path):
    (tmp_path / "k8s.yml").write_text(KUBERNETES)
    result = bayat("policy", "validate", "--policy", "k8s.yml")
    assert result.code == 0, result.stderr
    assert ": warning: " not in result.stderr  # the cluster keeps a Kubernetes target's state (`state: cluster`)
    (tmp_path / "k8s-local.yml").write_text(KUBERNETES.replace("type: kubernetes", "type: kubernetes, state: local"))
    result = bayat("policy", "validate", "--policy", "k8s-local.yml")
    assert result.code == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if ": warning: " in line]
    assert len(warnings) == 1 and "environments.development" in warnings[0] and "hosted runners" in warnings[0]
    assert "set `target.state: cluster`" in warnings[0]
    (tmp_path / "host.yml").write_text("project: shop\nenvironments:\n  staging:\n"
                                       "    runner: { labels: [ubuntu-latest] }\n")
    result = bayat("policy", "validate", "--policy", "host.yml")
    warnings = [line for line in result.stderr.splitlines() if ": warning: " in line]
    assert result.code == 0 and len(warnings) == 1, result.stderr
    assert warnings[0].startswith("host.yml:4:") and "docker-host target's jobs must run on the host" in warnings[0]


def test_a_bad_runner_label_is_a_located_error(bayat, tmp_path):
    (tmp_path / "deploy.yml").write_text("project: shop\ndefaults:\n  runner: { labels: ['self-hosted, evil'] }\n")
    result = bayat("policy", "validate", "--policy", "deploy.yml")
    assert result.code == 2
    assert result.stderr.startswith("deploy.yml:3:") and "defaults.runner.labels[0]" in result.stderr


def test_a_remote_docker_engine_is_a_located_error_and_gitlab_saas_tags_are_hosted(bayat, tmp_path):
    (tmp_path / "remote.yml").write_text("project: shop\ntarget:\n  type: docker-host\n"
                                         "  docker_host: ssh://deploy@prod-host\n")
    result = bayat("policy", "validate", "--policy", "remote.yml")
    assert result.code == 2, result.stderr
    assert result.stderr.startswith("remote.yml:4:") and "docker_host 'ssh://deploy@prod-host' is a remote engine" \
        in result.stderr and "Traceback" not in result.stderr
    for local in ("unix:///var/run/docker.sock", "tcp://127.0.0.1:2375"):
        (tmp_path / "local.yml").write_text(f"project: shop\ntarget: {{ type: docker-host, docker_host: '{local}' }}\n")
        assert bayat("policy", "validate", "--policy", "local.yml").code == 0, local
    # GitLab's own hosted runners are picked by `saas-*` tags: still a throwaway machine
    (tmp_path / "saas.yml").write_text("project: shop\ntarget: { type: kubernetes, chart: chart, state: local }\n"
                                       "defaults:\n  runner: { labels: [self-hosted, k8s], tags: [saas-linux-small-amd64] }\n")
    warnings = [line for line in bayat("policy", "validate", "--policy", "saas.yml").stderr.splitlines()
                if ": warning: " in line]
    assert warnings and all("GitLab (runner.tags)" in line and "GitHub" not in line for line in warnings), warnings


def test_a_remote_engine_from_docker_host_stops_the_deploy_before_any_change(bayat, tmp_path):
    (tmp_path / ".bayat").mkdir()
    (tmp_path / ".bayat" / "deploy.yml").write_text(
        f"project: shop\ntarget:\n  type: docker-host\n  state_dir: {tmp_path / 'state'}/{{environment}}\n")
    result = bayat("deploy", "--env", "development", "--version", "1.0.0", "--image", "busybox:latest",
                   env={"DOCKER_HOST": "ssh://deploy@prod-host"})
    assert result.code == 1, result.stdout + result.stderr
    assert "DOCKER_HOST=ssh://deploy@prod-host is a remote engine" in result.stdout
    assert "nothing was changed" in result.stdout and "Traceback" not in result.stdout + result.stderr
    history = bayat("history", "--env", "development", "--format", "json")
    (entry,) = json.loads(history.stdout)  # the attempt is recorded all the same
    assert (entry["outcome"], entry["version"]) == ("failed", "1.0.0")
