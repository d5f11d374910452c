"""The platform's deployment history as the audit trail: GitHub Deployments written by deploy and rollback,
and `history --source platform` read back from a machine that never saw the target.

GitHub's API is not reachable here, so a stateful local server stands in for it. Every request body the
command sends and every answer the server gives is validated against the vendored fragment of GitHub's
published OpenAPI description (schemas/github-deployments.schema.json); a mismatch fails the test. The
deployments themselves are real: the example app on the real Docker host target behind nginx.
GitLab's deployments are read in the shapes of its documented API (doc/api/deployments.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from bayat_deploy.context import RunContext
from bayat_deploy.deploy.record import Entry
from bayat_deploy.platform.github import GitHub
from tests.conftest import run_command
from tests.gates.test_approvals import gitlab_deployment
from tests.support.jsonserver import JsonServer
from tests.support.githubapi import FakeGitHubDeployments
from tests.support.deploy_fixtures import IMAGE

TOKEN = "ghs_deployments"
SHA = "4e4c63a" + "0" * 33
REPOSITORY = "acme/shop"


@pytest.fixture
def github():
    server = FakeGitHubDeployments(repository=REPOSITORY, token=TOKEN)
    yield server
    server.close()
    assert not server.problems, server.problems


def github_job_env(server, tmp_path: Path) -> dict:
    """What a GitHub Actions job's environment holds (the parts bayat-deploy reads)."""
    return {"GITHUB_ACTIONS": "true", "GITHUB_API_URL": server.url, "GITHUB_TOKEN": TOKEN,
            "GITHUB_REPOSITORY": REPOSITORY, "GITHUB_SHA": SHA, "GITHUB_RUN_ID": "4242", "GITHUB_ACTOR": "alice",
            "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REF_NAME": "main",
            "GITHUB_OUTPUT": str(tmp_path / "output"), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary")}


@pytest.mark.docker
@pytest.mark.e2e
def test_deploys_and_rollbacks_become_github_deployments_readable_from_a_laptop(deploy_repo, github, tmp_path):
    deploy_repo.policy({"staging": {"strategy": {"type": "blue-green", "decommission_after": "10m"}}})
    job = github_job_env(github, tmp_path)
    for version in ("1.0.0", "2.0.0"):
        result = deploy_repo.run("deploy", "--env", "staging", "--version", version, "--image", IMAGE,
                                 env=job)
        assert result.code == 0, result.stdout + result.stderr
        assert "GitHub deployment" in result.stdout
    rolled = deploy_repo.run("rollback", "--env", "staging", "--reason", "error rate", env=job)
    assert rolled.code == 0, rolled.stdout + rolled.stderr

    assert [(d["environment"], d["task"], d["sha"]) for d in github.deployments] == [
        ("staging", "deploy:bayat-deploy", SHA)] * 3
    payloads = [d["payload"] for d in github.deployments]
    assert [(p["action"], p["version"], p["previous_version"], p["outcome"]) for p in payloads] == [
        ("deploy", "1.0.0", "", "succeeded"), ("deploy", "2.0.0", "1.0.0", "succeeded"),
        ("rollback", "1.0.0", "2.0.0", "succeeded")]
    record = deploy_repo.history("staging")
    assert [p["id"] for p in payloads] == [e["id"] for e in record]
    assert all(p["digest"] == e["digest"] and p["config_hash"] == e["config_hash"] for p, e in zip(payloads, record))
    statuses = [github.statuses[d["id"]] for d in github.deployments]
    assert [[s["state"] for s in each] for each in statuses] == [["success"]] * 3
    assert statuses[0][0]["log_url"] == "https://github.com/acme/shop/actions/runs/4242"
    assert statuses[0][0]["environment_url"].startswith("http://127.0.0.1:")

    # A laptop: no GitHub job, no state directory, only the repository and a token.
    laptop = {"GITHUB_ACTIONS": "", "GITHUB_API_URL": github.url, "GITHUB_TOKEN": TOKEN,
              "GITHUB_REPOSITORY": REPOSITORY}
    shown = deploy_repo.run("history", "--env", "staging", "--source", "platform", "--format", "json", env=laptop)
    assert shown.code == 0, shown.stdout + shown.stderr
    entries = json.loads(shown.stdout)
    assert [(e["action"], e["version"], e["outcome"], e["previous_version"]) for e in entries] == [
        ("deploy", "1.0.0", "succeeded", ""), ("deploy", "2.0.0", "succeeded", "1.0.0"),
        ("rollback", "1.0.0", "succeeded", "2.0.0")]
    assert entries[-1]["reason"] == "error rate"
    table = deploy_repo.run("history", "--env", "staging", "--source", "platform", "--limit", "1", env=laptop)
    assert table.code == 0 and "rollback" in table.stdout and "2.0.0" in table.stdout, table.stdout


def _entry(**fields) -> Entry:
    return Entry(**{"environment": "production", "action": "deploy", "version": "1.4.0", "outcome": "rolled-back",
                    "commit": SHA, "pipeline_url": "https://github.com/acme/shop/actions/runs/4242",
                    "reason": "canary error rate 7.2% > 1% " * 20, **fields})


def _github_platform(server, tmp_path) -> GitHub:
    return GitHub(RunContext.from_environment(github_job_env(server, tmp_path)))


def test_a_rolled_back_production_deploy_is_a_failed_production_deployment(github, tmp_path, capsys):
    _github_platform(github, tmp_path).record_deployment(_entry(), url="https://shop.example", production=True)
    (deployment,) = github.deployments
    assert deployment["production_environment"] is True
    (status,) = github.statuses[deployment["id"]]
    assert status["state"] == "failure" and status["environment_url"] == "https://shop.example"
    assert len(status["description"]) <= 140 and status["description"].startswith("deploy 1.4.0: rolled-back.")


def test_a_token_without_deployments_write_is_a_warning_not_a_failed_deployment(tmp_path, capsys):
    server = FakeGitHubDeployments(repository=REPOSITORY, token=TOKEN, writable=False)
    try:
        _github_platform(server, tmp_path).record_deployment(_entry(outcome="succeeded"))
    finally:
        server.close()
    out = capsys.readouterr().out
    assert out.startswith("::warning title=deployment audit trail::"), out
    assert "is in the deployment record but not in GitHub Deployments" in out
    assert "deployments: write" in out and TOKEN not in out


def test_entries_without_a_commit_or_of_other_actions_are_not_sent(github, tmp_path):
    platform = _github_platform(github, tmp_path)
    platform.record_deployment(_entry(commit=""))
    platform.record_deployment(_entry(action="flags"))
    assert github.deployments == []


class FakeGitLabDeployments(JsonServer):
    def __init__(self, deployments):
        super().__init__()
        self.listed = deployments

    def answer(self, method, path, query, body, headers):
        if headers.get("PRIVATE-TOKEN") != "glpat-read":
            return 401, {"message": "401 Unauthorized"}
        if method == "GET" and path == "/api/v4/projects/acme/shop/deployments":  # the id arrives URL-encoded
            wanted = parse_qs(query)
            assert wanted["environment"] == ["production"] and wanted["sort"] == ["desc"]
            return 200, self.listed
        return 404, {"message": "404 Not Found"}


def test_history_from_gitlab_lists_the_deployments_gitlab_recorded(tmp_path):
    newest = gitlab_deployment(42, 901, 77)
    newest.update(status="success", ref="v1.4.0")
    newest["deployable"].update(status="success", tag=True)
    older = gitlab_deployment(41, 800, 70)
    older.update(status="failed")
    older["deployable"].update(name="rollback-production", status="failed")
    server = FakeGitLabDeployments([newest, older])
    root = tmp_path / "repo"
    (root / ".bayat").mkdir(parents=True)
    (root / ".bayat" / "deploy.yml").write_text("project: shop\n")
    try:
        result = run_command("bayat-deploy", "history", "--env", "production", "--source", "platform", "--format",
                             "json", cwd=root, env={"CI_API_V4_URL": f"{server.url}/api/v4", "GITHUB_ACTIONS": "",
                                                    "CI_PROJECT_ID": "acme/shop", "GITLAB_TOKEN": "glpat-read",
                                                    "GITLAB_CI": "", "GITHUB_REPOSITORY": ""})
    finally:
        server.close()
    assert result.code == 0, result.stdout + result.stderr
    entries = json.loads(result.stdout)
    assert [(e["action"], e["outcome"], e["version"]) for e in entries] == [
        ("rollback", "failed", ""), ("deploy", "succeeded", "v1.4.0")]
    assert entries[1]["pipeline_url"] == "http://gitlab.example/p/77" and entries[1]["triggered_by"] == "root"


def test_history_from_the_platform_without_one_says_what_to_set(tmp_path):
    root = tmp_path / "repo"
    (root / ".bayat").mkdir(parents=True)
    (root / ".bayat" / "deploy.yml").write_text("project: shop\n")
    result = run_command("bayat-deploy", "history", "--env", "production", "--source", "platform", cwd=root,
                         env={"GITHUB_ACTIONS": "", "GITLAB_CI": "", "GITHUB_REPOSITORY": "", "CI_API_V4_URL": ""})
    assert result.code == 2, result.stdout + result.stderr
    assert "GITHUB_REPOSITORY=owner/name" in result.stderr and "Traceback" not in result.stderr
